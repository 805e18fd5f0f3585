//  client.c: the native client (see spw_client.h).
//
//  A client owns a ZeroMQ context and one DEALER connected to an edge's
//  frontend; everything here is a thin layer over the codec. Request ids
//  increase from 1 and are never reused, so a reply can be matched to its
//  request by id alone. spw_client_call is spw_client_send followed by
//  spw_client_recv until the reply with the matching id arrives or the
//  deadline passes; any other reply it meets belongs to a request somebody
//  gave up on and is dropped, so callers that keep several requests
//  outstanding use send/recv, not call.
//
//  Sends never block: a request that cannot be queued at once (the socket's
//  high-water mark is reached because the edge is gone or slow) fails with
//  EAGAIN from spw_client_send, and spw_client_call waits for room only
//  until its own deadline (none when the request's timeout is 0, the edge's
//  default: the edge then answers "timeout" itself). A NULL service is sent as "default", the
//  built-in name of an edge's default service (the codec has no way to say
//  "whatever the edge's default is").

#include "spw_client.h"
#include "spw_clock.h"
#include "spw_config.h"
#include "spw_socket.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_DEFAULT_SERVICE "default"

struct spw_client_t {
    void *ctx;
    void *socket;
    uint64_t next_id;
};

spw_client_t *spw_client_new(const char *endpoint)
{
    return spw_client_new_secure(endpoint, NULL);
}

//  Opens the client's context and DEALER and connects it (asynchronously).
spw_client_t *spw_client_new_secure(const char *endpoint, const spw_curve_keys_t *keys)
{
    if (!endpoint) {
        errno = EINVAL;
        return NULL;
    }
    spw_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->next_id = 1;
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        goto failed;
    spw_socket_opts_t opts = { .curve = keys };
    self->socket = spw_socket_new(self->ctx, ZMQ_DEALER, &opts);
    if (!self->socket)
        goto failed;
    char err[SPW_ERROR_MAX];
    if (spw_socket_connect(self->socket, endpoint, err, sizeof err) != 0)
        goto failed;
    return self;
failed:;
    int saved = errno;
    spw_client_destroy(&self);
    errno = saved;
    return NULL;
}

//  Closes the socket, then the context (linger 0: nothing waits).
void spw_client_destroy(spw_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_client_t *self = *self_p;
    spw_socket_destroy(&self->socket);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}

//  Builds the request for body (whose frames are moved) and sends it without
//  blocking. Returns 0, or -1 with errno (EAGAIN: no room in the queue now).
static int send_request(spw_client_t *self, const char *service, spw_msg_t *body,
                        uint32_t timeout_ms, uint64_t *request_id)
{
    spw_msg_t msg;
    spw_msg_init(&msg);
    uint64_t id = self->next_id;
    if (!service)
        service = CLIENT_DEFAULT_SERVICE;
    if (body->count > SPW_MAX_BODY_FRAMES
        || spw_proto_put_request(&msg, id, service, timeout_ms) != 0
        || spw_msg_move_frames(&msg, body, 0, body->count) != 0) {
        spw_msg_reset(&msg);
        spw_msg_reset(body);
        errno = EINVAL;
        return -1;
    }
    spw_msg_reset(body);
    if (spw_msg_send(&msg, self->socket, ZMQ_DONTWAIT) != 0)
        return -1;
    self->next_id++;
    if (request_id)
        *request_id = id;
    return 0;
}

//  Sends one request without waiting; body's frames are moved.
int spw_client_send(spw_client_t *self, const char *service, spw_msg_t *body,
                    uint32_t timeout_ms, uint64_t *request_id)
{
    if (!self || !body) {
        if (body)
            spw_msg_reset(body);
        errno = EINVAL;
        return -1;
    }
    return send_request(self, service, body, timeout_ms, request_id);
}

//  Milliseconds left until deadline (-1: none), never negative.
static long remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - spw_clock_ms();
    return left > 0 ? (long) left : 0;
}

//  Waits until the socket has events or the deadline passes. Returns 1 when
//  ready, 0 at the deadline, -1 on interruption (errno EINTR/ETERM).
static int wait_for(void *socket, short events, int64_t deadline)
{
    zmq_pollitem_t item = { socket, 0, events, 0 };
    while (true) {
        long left = remaining_ms(deadline);
        int rc = zmq_poll(&item, 1, left);
        if (rc < 0)
            return -1;
        if (rc > 0)
            return 1;
        if (left == 0 || (deadline >= 0 && spw_clock_ms() >= deadline))
            return 0;
    }
}

//  Receives the next well-formed reply before deadline into reply.
static int recv_until(spw_client_t *self, spw_reply_t *reply, int64_t deadline)
{
    spw_msg_t msg;
    spw_msg_init(&msg);
    while (true) {
        if (spw_msg_recv(&msg, self->socket, ZMQ_DONTWAIT) != 0) {
            if (errno == EMSGSIZE)
                continue;
            if (errno != EAGAIN)
                return -1;
            int ready = wait_for(self->socket, ZMQ_POLLIN, deadline);
            if (ready < 0)
                return -1;
            if (ready == 0) {
                errno = EAGAIN;
                return -1;
            }
            continue;
        }
        spw_proto_t proto;
        if (spw_proto_decode(&msg, 0, &proto, NULL) != 0 || proto.cmd != SPW_CMD_REPLY) {
            spw_msg_reset(&msg);
            continue;
        }
        spw_reply_reset(reply);
        reply->request_id = proto.id;
        reply->status = proto.status;
        reply->body_first = proto.body_first;
        reply->body_count = proto.body_count;
        reply->msg = msg;
        return 0;
    }
}

//  Receives the next well-formed reply within timeout_ms.
int spw_client_recv(spw_client_t *self, spw_reply_t *reply, int timeout_ms)
{
    if (!self || !reply) {
        errno = EINVAL;
        return -1;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : spw_clock_ms() + timeout_ms;
    return recv_until(self, reply, deadline);
}

//  Sends one request and waits for the reply with its id, dropping others.
spw_status_t spw_client_call(spw_client_t *self, const char *service,
                             const void *const *body, const size_t *size,
                             size_t body_count, uint32_t timeout_ms, spw_reply_t *reply)
{
    spw_reply_t own;
    spw_reply_init(&own);
    spw_reply_t *into = reply ? reply : &own;
    spw_reply_reset(into);
    into->status = SPW_STATUS_TIMEOUT;
    if (!self || body_count > SPW_MAX_BODY_FRAMES || (body_count && (!body || !size)))
        return SPW_STATUS_BAD_REQUEST;

    spw_msg_t msg;
    spw_msg_init(&msg);
    for (size_t i = 0; i < body_count; i++) {
        if (spw_msg_add_mem(&msg, body[i], size[i]) != 0) {
            spw_msg_reset(&msg);
            return SPW_STATUS_BAD_REQUEST;
        }
    }
    //  0 leaves the deadline to the edge, which always answers by it.
    int64_t deadline = timeout_ms ? spw_clock_ms() + (int64_t) timeout_ms : -1;
    uint64_t id = 0;
    while (send_request(self, service, &msg, timeout_ms, &id) != 0) {
        //  send_request emptied msg; only a full queue is worth a retry.
        if (errno != EAGAIN)
            return errno == EINVAL ? SPW_STATUS_BAD_REQUEST : SPW_STATUS_TIMEOUT;
        if (wait_for(self->socket, ZMQ_POLLOUT, deadline) != 1)
            return SPW_STATUS_TIMEOUT;
        for (size_t i = 0; i < body_count; i++)
            if (spw_msg_add_mem(&msg, body[i], size[i]) != 0) {
                spw_msg_reset(&msg);
                return SPW_STATUS_BAD_REQUEST;
            }
    }
    into->request_id = id;
    while (recv_until(self, into, deadline) == 0) {
        if (into->request_id == id) {
            spw_status_t status = into->status;
            spw_reply_reset(&own);
            return status;
        }
        spw_reply_reset(into);
        into->request_id = id;
    }
    into->status = SPW_STATUS_TIMEOUT;
    return SPW_STATUS_TIMEOUT;
}

//  The DEALER, for callers that poll it with other sockets.
void *spw_client_socket(spw_client_t *self)
{
    return self ? self->socket : NULL;
}

//  Makes an empty reply.
void spw_reply_init(spw_reply_t *reply)
{
    memset(reply, 0, sizeof *reply);
    spw_msg_init(&reply->msg);
}

//  Releases the reply's frames and empties it.
void spw_reply_reset(spw_reply_t *reply)
{
    if (!reply)
        return;
    spw_msg_reset(&reply->msg);
    reply->request_id = 0;
    reply->status = SPW_STATUS_OK;
    reply->body_first = 0;
    reply->body_count = 0;
}

//  The status's name, as the codec spells it.
const char *spw_status_text(spw_status_t status)
{
    return spw_status_name(status);
}
