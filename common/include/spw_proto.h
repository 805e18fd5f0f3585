//  spw_proto.h: the Spillway native wire protocol.
//
//  Every native message is a list of ZeroMQ frames that starts with the
//  protocol header frame and a one-byte command frame. The header carries
//  the version, "SPW2" on every link (SPW1 is what came before: its peers
//  are told apart and refused); the fields of the command follow, one frame each, then the body frames, which the
//  brokers carry without looking inside. docs/protocol.md is the
//  specification; this header is its C form.
//
//  The codec is pure: it reads and writes spw_msg_t, a bounded array of
//  zmq_msg_t frames, and never touches a socket. Decoding does not copy: the
//  decoded view points into the message's frames. Encoding appends frames;
//  body frames are moved from one message to another, never copied.

#ifndef SPW_PROTO_H_INCLUDED
#define SPW_PROTO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPW_PROTO_HEADER     "SPW2"
#define SPW_PROTO_HEADER_LEN 4
//  The version before: recognised, to tell its peers why they are refused.
#define SPW_PROTO_HEADER_V1  "SPW1"
//  spw_proto_decode's reasons for a header of another version.
#define SPW_PROTO_WHY_V1      "SPW1 peer: Spillway speaks SPW2"
#define SPW_PROTO_WHY_VERSION "unknown protocol version: Spillway speaks SPW2"

//  Limits that are part of the protocol: a message with more is malformed.
#define SPW_MAX_BODY_FRAMES  16
#define SPW_MAX_SERVICE_LEN  64
#define SPW_MAX_IDENTITY_LEN 255
//  The most tasks a worker may take at once (READY's slots).
#define SPW_MAX_SLOTS        256
//  Envelope (identity, REQ delimiter, task key, delimiter) + header + fields.
#define SPW_MAX_FRAMES       (SPW_MAX_BODY_FRAMES + 12)

typedef enum {
    //  client <-> edge
    SPW_CMD_REQUEST    = 0x01,
    SPW_CMD_REPLY      = 0x02,
    //  worker <-> edge
    SPW_CMD_READY      = 0x10,
    SPW_CMD_TASK       = 0x11,
    SPW_CMD_RESULT     = 0x12,
    SPW_CMD_HEARTBEAT  = 0x13,
    SPW_CMD_DISCONNECT = 0x14,
    SPW_CMD_ACCEPTED   = 0x15,
    //  edge <-> hub (control: DEALER -> ROUTER; state: PUB -> SUB)
    SPW_CMD_REGISTER   = 0x20,
    SPW_CMD_WELCOME    = 0x21,
    SPW_CMD_REFUSED    = 0x22,
    //  0x23 and 0x24 were SPW1's ASK and GRANT; never reuse them.
    SPW_CMD_MEMBER     = 0x25,
    SPW_CMD_STATE      = 0x26,
    SPW_CMD_MATCH      = 0x27,
    //  edge <-> edge (cloud: the borrower's DEALER -> the lender's ROUTER)
    SPW_CMD_DELEGATE   = 0x30,
    SPW_CMD_DONE       = 0x31,
    SPW_CMD_CREDIT     = 0x32,
    SPW_CMD_REVOKE     = 0x33,
    SPW_CMD_RETURN     = 0x34,
    SPW_CMD_HELLO      = 0x35,
} spw_cmd_t;

//  MATCH roles: what the named edge is to the one that hears the match.
typedef enum {
    SPW_MATCH_LEND_TO     = 1,  // lend your idle workers to this borrower
    SPW_MATCH_BORROW_FROM = 2,  // this lender will offer you credit
} spw_match_role_t;

//  MATCH flags.
#define SPW_MATCH_NO_OFFER 0x01  // no live edge offers the service at all

//  MEMBER events.
typedef enum {
    SPW_MEMBER_JOINED = 1,
    SPW_MEMBER_DIED   = 2,
    SPW_MEMBER_LEFT   = 3,
} spw_member_event_t;

//  The most a hub's WELCOME may set, as a hub's own config may: a larger
//  heartbeat or liveness would overflow the edge's arithmetic of time.
#define SPW_PROTO_HEARTBEAT_MAX_MS 60000
#define SPW_PROTO_LIVENESS_MAX     100

#define SPW_MAX_NAME_LEN     64
//  The most lenders one STATE may ask the hub not to match it with.
#define SPW_MAX_AVOID        8
//  STATE's flags: the edge is draining (it takes no new tasks, lends
//  nothing, and will leave once what it holds is done).
#define SPW_STATE_DRAINING    0x01
#define SPW_STATE_KNOWN_FLAGS 0x01
#define SPW_MAX_ENDPOINT_LEN 255
#define SPW_MAX_TEXT_LEN     1024
//  A STATE or MATCH message packs its records into one frame of at most
//  this many bytes (see docs/protocol.md).
#define SPW_MAX_RECORDS_LEN  65536

//  Reply status codes. Values are on the wire: never renumber.
typedef enum {
    SPW_STATUS_OK          = 0,  // body is the worker's reply
    SPW_STATUS_NO_SERVICE  = 1,  // no worker has ever offered this service
    SPW_STATUS_TIMEOUT     = 2,  // the request's deadline passed
    SPW_STATUS_OVERLOADED  = 3,  // the service queue or task table is full
    SPW_STATUS_FAILED      = 4,  // max_attempts workers died on it
    SPW_STATUS_BAD_REQUEST = 5,  // the request did not parse
    SPW_STATUS_TASK_ERROR  = 6,  // the worker ran it and reported failure
    SPW_STATUS_BUSY        = 7,  // serving edge has no room (edge <-> edge)
    SPW_STATUS_TOO_LARGE   = 8,  // the request or the worker's reply is over the limits
    SPW_STATUS_FORBIDDEN   = 9,  // the peer's key may not do this (CURVE)
    SPW_STATUS_COUNT
} spw_status_t;

//  A message: up to SPW_MAX_FRAMES frames, owned by the struct.
typedef struct {
    zmq_msg_t frame[SPW_MAX_FRAMES];
    size_t count;
    bool truncated;  // it had more frames; those past the limit were dropped
} spw_msg_t;

//  A decoded native message: pointers into the frames of the message it
//  was decoded from, valid while that message is.
typedef struct {
    spw_cmd_t cmd;
    uint64_t id;              // REQUEST/REPLY: request id; TASK/RESULT: task key
    const char *service;      // REQUEST, READY: not NUL-terminated
    size_t service_len;
    uint32_t timeout_ms;      // REQUEST: 0 means the edge's default
    spw_status_t status;      // REPLY, RESULT, DONE
    const char *name;         // REGISTER, MEMBER, STATE: edge; DELEGATE, HELLO: origin
    size_t name_len;
    const char *endpoint;     // REGISTER: advertise; WELCOME: state; MEMBER
    size_t endpoint_len;
    const char *text;         // REGISTER: zone (may be empty); REFUSED, DISCONNECT: reason
    size_t text_len;
    uint64_t epoch;           // REGISTER, STATE, MEMBER
    uint64_t out, in;         // STATE: tasks delegated out and in, in all
    uint32_t count;           // READY, ACCEPTED: slots; WELCOME: heartbeat_ms;
                              // REFUSED: retry_ms (0: final); DISCONNECT: retry_ms;
                              // CREDIT, REVOKE (0: all), RETURN, DONE: credits
    uint32_t heartbeat_ms;    // ACCEPTED
    uint32_t liveness;        // WELCOME, ACCEPTED
    uint32_t max_bytes;       // ACCEPTED: the largest message the edge takes
    uint32_t lease_ms;        // CREDIT: how long the credits it names hold
    uint8_t event;            // MEMBER: spw_member_event_t; MATCH, STATE: flags
    const uint8_t *records;   // MATCH: matches; STATE: service figures
    size_t records_len;
    const uint8_t *avoid;     // STATE: lenders it cut off (names, length-prefixed)
    size_t avoid_len;
    size_t body_first;        // index of the first body frame in the message
    size_t body_count;
} spw_proto_t;

//  One service's figures in a STATE message.
typedef struct {
    const char *service;
    size_t service_len;
    uint32_t workers, idle, queued, running;
    uint32_t rate_milli;  // tasks served per 1000 s, recently
    uint32_t lent;        // other edges' tasks its workers run now
    uint32_t borrowed;    // its own tasks in flight at other edges now
    uint8_t role;         // its role in lending, settled (spw_role_t, below)
} spw_service_figures_t;

//  An edge's part in lending a service, from its figures (docs/scheduling.md):
//  a borrower has no idle worker and tasks its workers cannot take; a
//  lender is not one, has workers, nothing queued, none of its own tasks
//  out at lenders, and idle or lent workers; anyone else is turning over.
typedef enum {
    SPW_ROLE_NONE     = 0,
    SPW_ROLE_LENDER   = 1,
    SPW_ROLE_BORROWER = 2,
} spw_role_t;

spw_role_t spw_role_of(uint32_t workers, uint32_t idle, uint32_t queued, uint32_t lent,
                       uint32_t borrowed);

//  An edge tells the hub its settled role: the last that spw_role_of gave
//  for this long without a break. A queue near capacity empties and fills
//  between two tasks, and an edge that serves its backlog on credit has a
//  worker idle for an instant at each of its own tasks; matched on every
//  such turn, it would be matched and unmatched many times a second.
#define SPW_ROLE_STEADY_MS 20

//  One match in a MATCH message.
typedef struct {
    const char *name;
    size_t name_len;
    const char *endpoint;
    size_t endpoint_len;
    uint64_t epoch;        // the partner's process (as it registered with the hub)
    spw_match_role_t role;
    uint32_t slots_milli;  // the lender's slots meant for the borrower, in 1/1000
} spw_match_entry_t;

//  Initialises an empty message.
void spw_msg_init(spw_msg_t *msg);

//  Closes every frame and leaves the message empty.
void spw_msg_reset(spw_msg_t *msg);

//  Appends a frame holding a copy of size bytes; -1 if the message is full.
int spw_msg_add_mem(spw_msg_t *msg, const void *data, size_t size);

//  Appends a frame by moving src into the message (src is left empty).
int spw_msg_add_move(spw_msg_t *msg, zmq_msg_t *src);

//  Appends a frame that shares src's content (reference-counted by libzmq
//  for all but tiny frames, so no bytes are copied).
int spw_msg_add_share(spw_msg_t *msg, zmq_msg_t *src);

//  Moves count frames starting at first from src to the end of dst.
int spw_msg_move_frames(spw_msg_t *dst, spw_msg_t *src, size_t first, size_t count);

//  Total bytes in the message's frames.
size_t spw_msg_bytes(const spw_msg_t *msg);

//  True if frame i holds exactly the given bytes.
bool spw_msg_frame_is(const spw_msg_t *msg, size_t i, const void *data, size_t size);

//  Decodes the native message that starts at frame first (the header frame).
//  Returns 0, or -1 with *why set to a static reason for the log and errno
//  EMSGSIZE if the message has more body frames than allowed (EPROTO for
//  anything else).
int spw_proto_decode(const spw_msg_t *msg, size_t first, spw_proto_t *out,
                     const char **why);

//  The encoders append the header, command and fields of one command to msg;
//  the caller then appends the body frames. Each returns 0 or -1 if full.
int spw_proto_put_request(spw_msg_t *msg, uint64_t request_id, const char *service,
                          uint32_t timeout_ms);
int spw_proto_put_reply(spw_msg_t *msg, uint64_t request_id, spw_status_t status);
int spw_proto_put_ready(spw_msg_t *msg, const char *service);
//  READY for a worker that takes up to slots (1 to SPW_MAX_SLOTS) tasks at once.
int spw_proto_put_ready_slots(spw_msg_t *msg, const char *service, uint32_t slots);
int spw_proto_put_task(spw_msg_t *msg, uint64_t task_key);
int spw_proto_put_result(spw_msg_t *msg, uint64_t task_key, spw_status_t status);
int spw_proto_put_heartbeat(spw_msg_t *msg);
//  DISCONNECT from the side that leaves.
int spw_proto_put_disconnect(spw_msg_t *msg);
//  DISCONNECT from the side that sends the other away: why, and how long
//  it should wait before it comes back (0: at once).
int spw_proto_put_dismiss(spw_msg_t *msg, const char *reason, uint32_t retry_ms);
int spw_proto_put_accepted(spw_msg_t *msg, uint32_t heartbeat_ms, uint32_t liveness,
                           uint32_t slots, uint32_t max_bytes);
//  An SPW1 REPLY: how the edge answers an SPW1 client, which could read no
//  other, that it speaks another version.
int spw_proto_put_v1_reply(spw_msg_t *msg, uint64_t request_id, spw_status_t status);
int spw_proto_put_register(spw_msg_t *msg, const char *name, uint64_t epoch,
                           const char *advertise, const char *zone);
int spw_proto_put_welcome(spw_msg_t *msg, const char *state_endpoint, uint32_t heartbeat_ms,
                          uint32_t liveness);
int spw_proto_put_refused(spw_msg_t *msg, const char *reason, uint32_t retry_ms);
int spw_proto_put_match(spw_msg_t *msg, const char *service, uint8_t flags,
                        const spw_match_entry_t *matches, size_t count);
int spw_proto_put_member(spw_msg_t *msg, spw_member_event_t event, const char *name,
                         const char *endpoint, uint64_t epoch);
int spw_proto_put_state(spw_msg_t *msg, const char *name, uint64_t epoch, uint64_t out,
                        uint64_t in, const spw_service_figures_t *figures, size_t count);
//  Appends STATE's avoid frame: the lenders the edge cut off (count at most
//  SPW_MAX_AVOID), which the hub must not match it with.
int spw_proto_put_avoid(spw_msg_t *msg, const char *const *names, size_t count);
//  Appends STATE's flags frame, after the avoid frame (which may be empty).
int spw_proto_put_state_flags(spw_msg_t *msg, uint8_t flags);
int spw_proto_put_delegate(spw_msg_t *msg, const char *origin, uint64_t task_key,
                           const char *service, uint32_t timeout_ms);
int spw_proto_put_done(spw_msg_t *msg, uint64_t task_key, spw_status_t status,
                       uint32_t credit);
int spw_proto_put_credit(spw_msg_t *msg, const char *service, uint32_t count,
                         uint32_t lease_ms);
int spw_proto_put_revoke(spw_msg_t *msg, const char *service, uint32_t count);
int spw_proto_put_return(spw_msg_t *msg, const char *service, uint32_t count);
int spw_proto_put_hello(spw_msg_t *msg, const char *origin);

//  Walk the records of a decoded MATCH or STATE: *offset starts at 0.
//  Returns 1 with the next record, 0 at the end, -1 if malformed (decode
//  has already checked every record, so -1 means a caller's mistake).
int spw_proto_next_match(const spw_proto_t *decoded, size_t *offset, spw_match_entry_t *out);
int spw_proto_next_figures(const spw_proto_t *decoded, size_t *offset,
                           spw_service_figures_t *out);
//  Walks a decoded STATE's avoid list the same way: 1 with the next name.
int spw_proto_next_avoid(const spw_proto_t *decoded, size_t *offset, const char **name,
                         size_t *len);

//  Big-endian integers as the protocol writes them.
void spw_put_u64(uint8_t *dst, uint64_t value);
uint64_t spw_get_u64(const uint8_t *src);
void spw_put_u32(uint8_t *dst, uint32_t value);
uint32_t spw_get_u32(const uint8_t *src);

//  The status's name as the docs and logs spell it ("ok", "no-service" ...).
const char *spw_status_name(spw_status_t status);

//  True if name is a valid service or edge name (1..64 bytes of
//  [A-Za-z0-9._-]).
bool spw_service_name_valid(const char *name, size_t len);

#ifdef __cplusplus
}
#endif

#endif
