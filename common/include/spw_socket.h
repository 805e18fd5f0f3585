//  spw_socket.h: the one way Spillway makes a socket and moves a message.
//
//  Every socket in every program comes from spw_socket_new, so that limits
//  (message size, high-water marks, linger) and, later, security are set in
//  one place. spw_msg_recv/spw_msg_send move whole multi-frame messages
//  between a socket and an spw_msg_t; a message with more frames than an
//  spw_msg_t holds is drained and reported as oversized, never half-read.

#ifndef SPW_SOCKET_H_INCLUDED
#define SPW_SOCKET_H_INCLUDED

#include "spw_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  CURVE keys of one socket (spw_curve.h says where they come from).
typedef struct {
    uint8_t public_key[32];  // this peer's
    uint8_t secret_key[32];
    uint8_t server_key[32];  // a connecting socket: the server's, verified
} spw_curve_keys_t;

//  The ZAP domain of every Spillway server socket.
#define SPW_CURVE_DOMAIN "spillway"

typedef struct {
    int64_t max_message_bytes;  // 0: no limit
    int hwm;                    // send and receive high-water mark; 0: libzmq's
    bool immediate;             // queue messages only to completed connections
    const spw_curve_keys_t *curve;  // NULL: plaintext
    bool curve_server;          // with curve: serve (bind) rather than connect
    int heartbeat_ms;           // ZMTP heartbeats: a PING this often (0: none)
    int heartbeat_timeout_ms;   // ... and the link is dropped after this silence
    int backlog;                // a bound socket's pending connections (0: libzmq's 100)
} spw_socket_opts_t;

//  Creates a socket of the given ZeroMQ type with the options set. NULL on
//  failure (errno set).
void *spw_socket_new(void *ctx, int type, const spw_socket_opts_t *opts);

//  Closes the socket and nulls the caller's pointer; safe on NULL.
void spw_socket_destroy(void **socket);

//  Binds or connects, writing "cannot bind ENDPOINT: reason" into err on
//  failure. Returns 0 or -1.
int spw_socket_bind(void *socket, const char *endpoint, char *err, size_t errlen);
int spw_socket_connect(void *socket, const char *endpoint, char *err, size_t errlen);

//  Receives one whole message into msg (which must be empty). Returns 0; -1
//  on EAGAIN/EINTR/ETERM (errno set), or with errno EMSGSIZE if it had more
//  than SPW_MAX_FRAMES frames (the message is then dropped whole).
int spw_msg_recv(spw_msg_t *msg, void *socket, int flags);

//  Sends every frame of msg and leaves it empty, whatever happens. Returns 0
//  or -1 (errno set; EHOSTUNREACH for an unknown ROUTER peer).
int spw_msg_send(spw_msg_t *msg, void *socket, int flags);

//  Messages a socket dropped as malformed: counted always, logged at most
//  once a second with the count since the last line, so that a flood of
//  garbage cannot flood the log.
typedef struct {
    const char *name;     // the socket's name in the log ("frontend")
    uint64_t count;       // dropped in all
    uint64_t since_log;
    int64_t logged_at;
    uint64_t by_reason[5];  // per spw_drop_reason_t
} spw_drops_t;

//  Why a message was dropped, in a few kinds (a metric's bounded label; the
//  log line says the detail).
typedef enum {
    SPW_DROP_MALFORMED,   // breaks the protocol's rules
    SPW_DROP_VERSION,     // a peer of another protocol version
    SPW_DROP_UNEXPECTED,  // a well-formed command this peer may not send here
    SPW_DROP_FORBIDDEN,   // CURVE on: its key's role or name may not
    SPW_DROP_FULL,        // a table (workers, services, borrowers) had no room
    SPW_DROP_REASONS
} spw_drop_reason_t;

//  The reason's name in metrics ("malformed" ...).
const char *spw_drop_reason_name(spw_drop_reason_t reason);

//  Counts one dropped message and logs it unless a line went out recently.
//  peer_frame is the frame that names the sender (a ROUTER's identity), or
//  -1 if none does. The reason is malformed, or version when why is the
//  decoder's word for a peer of another version.
void spw_drops_note(spw_drops_t *drops, const spw_msg_t *msg, int peer_frame, const char *why,
                    int64_t now);
//  The same with its reason.
void spw_drops_note_as(spw_drops_t *drops, spw_drop_reason_t reason, const spw_msg_t *msg,
                       int peer_frame, const char *why, int64_t now);

//  Handles up to batch messages waiting on socket, without blocking, so one
//  busy socket cannot starve the others or the timers. A message with too
//  many frames is noted in drops. Returns 0, or -1 on a fatal socket error.
int spw_msg_drain(void *socket, int batch, void (*handle)(void *arg, spw_msg_t *msg, int64_t now),
                  void *arg, spw_drops_t *drops, int peer_frame, int64_t now);

//  As spw_msg_drain, but a message with more than SPW_MAX_FRAMES frames
//  reaches handle too, with its first SPW_MAX_FRAMES frames and truncated
//  set, so that whoever sent it can be answered.
int spw_msg_drain_all(void *socket, int batch,
                      void (*handle)(void *arg, spw_msg_t *msg, int64_t now), void *arg,
                      spw_drops_t *drops, int peer_frame, int64_t now);

#ifdef __cplusplus
}
#endif

#endif
