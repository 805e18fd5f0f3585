//  spw_client.h: the native client API.
//
//  A client knows one or more edges and sends each request to the first of
//  them that is up. It can call synchronously (send one request, wait for
//  its reply with a timeout) or asynchronously (send many requests, then
//  receive replies as they come, matched by request id). Request ids are
//  chosen by the client, increasing from 1. A request whose edge dies or
//  stops answering is sent again, with the same id and what is left of its
//  deadline, to another edge (or to the same one when it comes back): a
//  task may so run twice, and the client delivers exactly one reply per
//  request id (docs/protocol.md, failover). A request with a deadline that
//  no edge answers gets `timeout` from the client itself shortly after it.
//  Not thread-safe: one client per thread.

#ifndef SPW_CLIENT_H_INCLUDED
#define SPW_CLIENT_H_INCLUDED

#include "spw_proto.h"
#include "spw_socket.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spw_client_t spw_client_t;

//  A reply: its request id, status and body frames (msg.frame[body_first ..
//  body_first + body_count)). For a status other than ok the body is one
//  frame of text saying why. Owned by the caller; release with
//  spw_reply_reset.
typedef struct {
    uint64_t request_id;
    spw_status_t status;
    size_t body_first;
    size_t body_count;
    spw_msg_t msg;
} spw_reply_t;

//  Edges a client may know.
#define SPW_CLIENT_MAX_EDGES 16

//  Connects a client to edges' frontends: endpoints is one endpoint or a
//  comma-separated list, in order of preference. NULL on failure (errno
//  EINVAL for an empty or too long list).
spw_client_t *spw_client_new(const char *endpoints);
//  The same over CURVE: keys[i] are the client's keys and the i-th edge's
//  (or the hub's) public key, which the connection verifies; one per
//  endpoint. NULL is spw_client_new.
spw_client_t *spw_client_new_secure(const char *endpoints, const spw_curve_keys_t *keys);

//  Closes the client and nulls the caller's pointer; safe on NULL.
void spw_client_destroy(spw_client_t **self_p);

//  Sends one request of body_count frames (body[i], size[i]) to a service
//  (NULL: "default", the built-in name of an edge's default service; an edge
//  whose default_service is renamed must be called by that name) with a
//  deadline (0: the edge's default, and then the call waits for the edge's
//  answer without a local limit) and waits up to timeout_ms for its reply.
//  Other replies that arrive meanwhile are dropped. Returns the reply's
//  status, or SPW_STATUS_TIMEOUT if none came in time; reply (initialised
//  with spw_reply_init; reset before it is filled) is filled when non-NULL.
spw_status_t spw_client_call(spw_client_t *self, const char *service,
                             const void *const *body, const size_t *size,
                             size_t body_count, uint32_t timeout_ms, spw_reply_t *reply);

//  Sends one request without waiting, moving the frames of body (which is
//  left empty, whatever happens). service and timeout_ms as for
//  spw_client_call. Sets *request_id. Returns 0 or -1 (errno EAGAIN when the
//  socket's queue is full: receive replies, then send again).
int spw_client_send(spw_client_t *self, const char *service, spw_msg_t *body,
                    uint32_t timeout_ms, uint64_t *request_id);

//  Waits up to timeout_ms (-1: forever) for the next reply; reply must have
//  been initialised and is reset before it is filled. Returns 0, or -1 on
//  timeout (errno EAGAIN) or interruption (EINTR, ETERM). Malformed replies,
//  and second replies to one request, are skipped.
int spw_client_recv(spw_client_t *self, spw_reply_t *reply, int timeout_ms);

//  The first edge's socket.
void *spw_client_socket(spw_client_t *self);

//  Fills items (at most max) with what a caller that polls several things
//  must poll for this client: every edge's socket for events, and each
//  one's connection events for ZMQ_POLLIN. Returns how many. When any is
//  ready, spw_client_recv (timeout 0) takes replies and fails requests
//  over.
size_t spw_client_pollitems(spw_client_t *self, zmq_pollitem_t *items, size_t max,
                            short events);

//  Initialises and releases a reply.
void spw_reply_init(spw_reply_t *reply);
void spw_reply_reset(spw_reply_t *reply);

//  The status's name ("ok", "overloaded" ...).
const char *spw_status_text(spw_status_t status);

#ifdef __cplusplus
}
#endif

#endif
