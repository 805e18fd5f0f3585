//  client.c: the native client (see spw_client.h).
//
//  A client owns a ZeroMQ context and, per edge it was given, one DEALER
//  connected to that edge's frontend and a PAIR on the DEALER's monitor.
//  It sends every request to the first edge in its list that is not known
//  to be down, and keeps each request (its frames shared, not copied) until
//  its reply comes. An edge is down when its connection drops: libzmq's
//  monitor says so at once for an edge that dies, and ZMTP heartbeats
//  (SPW_CLIENT_HEARTBEAT_MS) drop the connection of one that stops
//  answering. The requests outstanding there are then sent again, with
//  the same request id and what is left of their deadline, to the next
//  edge, or to the first that comes back if none is up. A request may so
//  run twice (at-least-once execution); the client delivers one reply per
//  request id, the first, and drops any later one. A request with a
//  deadline whose reply has not come SPW_CLIENT_GRACE_MS after it is
//  answered here, `timeout`, so that every request gets exactly one reply
//  and nothing is kept for ever.
//
//  Request ids increase from 1 and are never reused. Sends never block: a
//  request that cannot be queued at once fails with EAGAIN from
//  spw_client_send, and spw_client_call waits for room only until its own
//  deadline. A NULL service is sent as "default", the built-in name of an
//  edge's default service.

#include "spw_client.h"
#include "spw_clock.h"
#include "spw_config.h"
#include "spw_socket.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_DEFAULT_SERVICE "default"
//  ZMTP heartbeats on every link to an edge: a silent edge is down after
//  SPW_CLIENT_HEARTBEAT_MS * SPW_CLIENT_LIVENESS.
#define SPW_CLIENT_HEARTBEAT_MS 1000
#define SPW_CLIENT_LIVENESS     3
//  A request with a deadline is answered `timeout` here this long after it
//  if no edge answered it.
#define SPW_CLIENT_GRACE_MS 1000
//  How often requests are checked against their deadlines.
#define SPW_CLIENT_SWEEP_MS 100

//  DRAINING: it answered busy (it is draining or stopping); like DOWN, it
//  gets nothing until its connection drops and comes back (a new process).
typedef enum { EDGE_UNKNOWN, EDGE_UP, EDGE_DRAINING, EDGE_DOWN } edge_state_t;

typedef struct {
    void *socket;   // DEALER to the edge's frontend
    void *monitor;  // PAIR: the DEALER's connection events
    edge_state_t state;
    char endpoint[SPW_ENDPOINT_MAX];
} client_edge_t;

//  A request sent and not yet answered.
typedef struct {
    uint64_t id;
    char service[SPW_MAX_SERVICE_LEN + 1];
    uint32_t timeout_ms;  // as asked; 0: the edge's default
    int64_t deadline;     // ms; -1: none (the edge's default)
    spw_msg_t body;       // its frames, shared with what was sent
    int edge;             // the edge it was sent to; -1: none is up
} pending_t;

struct spw_client_t {
    void *ctx;
    client_edge_t edges[SPW_CLIENT_MAX_EDGES];
    size_t edge_count;
    zhashx_t *pending;  // request id -> pending_t
    zlistx_t *expired;  // pending_t past their deadline, to answer `timeout`
    size_t unsent;      // pending with no edge
    uint64_t next_id;
    int64_t swept_at;
};

// -- Pending requests ---------------------------------------------------------

static void pending_free(void **item)
{
    pending_t *pending = *item;
    if (!pending)
        return;
    spw_msg_reset(&pending->body);
    free(pending);
    *item = NULL;
}

static size_t id_hash(const void *key)
{
    uint64_t id = (uint64_t) (uintptr_t) key;
    return (size_t) (id * 0x9E3779B97F4A7C15ULL);
}

static int id_compare(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) a, y = (uintptr_t) b;
    return x < y ? -1 : x > y;
}

static void *id_key(uint64_t id)
{
    return (void *) (uintptr_t) id;
}

// -- Making one ---------------------------------------------------------------

spw_client_t *spw_client_new(const char *endpoints)
{
    return spw_client_new_secure(endpoints, NULL);
}

//  Splits endpoints at commas into the client's edges.
static int parse_endpoints(spw_client_t *self, const char *endpoints)
{
    const char *at = endpoints;
    while (true) {
        const char *comma = strchr(at, ',');
        size_t len = comma ? (size_t) (comma - at) : strlen(at);
        if (len == 0 || len >= SPW_ENDPOINT_MAX || self->edge_count == SPW_CLIENT_MAX_EDGES)
            return -1;
        memcpy(self->edges[self->edge_count].endpoint, at, len);
        self->edges[self->edge_count].endpoint[len] = '\0';
        self->edge_count++;
        if (!comma)
            return 0;
        at = comma + 1;
    }
}

//  Opens the DEALER to one edge, with its monitor, and connects it.
static int open_edge(spw_client_t *self, size_t i, const spw_curve_keys_t *keys)
{
    client_edge_t *edge = &self->edges[i];
    spw_socket_opts_t opts = { .curve = keys,
                               .heartbeat_ms = SPW_CLIENT_HEARTBEAT_MS,
                               .heartbeat_timeout_ms =
                                   SPW_CLIENT_HEARTBEAT_MS * SPW_CLIENT_LIVENESS };
    edge->socket = spw_socket_new(self->ctx, ZMQ_DEALER, &opts);
    if (!edge->socket)
        return -1;
    char monitor[64];
    snprintf(monitor, sizeof monitor, "inproc://spw-client-%p-%zu", (void *) self, i);
    if (zmq_socket_monitor(edge->socket, monitor,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
                               | ZMQ_EVENT_CONNECT_RETRIED)
        != 0)
        return -1;
    edge->monitor = zmq_socket(self->ctx, ZMQ_PAIR);
    int zero = 0;
    if (!edge->monitor || zmq_setsockopt(edge->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_setsockopt(edge->monitor, ZMQ_RCVHWM, &zero, sizeof zero) != 0
        || zmq_connect(edge->monitor, monitor) != 0)
        return -1;
    char err[SPW_ERROR_MAX];
    return spw_socket_connect(edge->socket, edge->endpoint, err, sizeof err);
}

//  Opens the client's context and one DEALER per edge, connected
//  asynchronously.
spw_client_t *spw_client_new_secure(const char *endpoints, const spw_curve_keys_t *keys)
{
    if (!endpoints) {
        errno = EINVAL;
        return NULL;
    }
    spw_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->next_id = 1;
    if (parse_endpoints(self, endpoints) != 0) {
        free(self);
        errno = EINVAL;
        return NULL;
    }
    self->ctx = zmq_ctx_new();
    self->pending = zhashx_new();
    self->expired = zlistx_new();
    if (!self->ctx || !self->pending || !self->expired)
        goto failed;
    zhashx_set_key_hasher(self->pending, id_hash);
    zhashx_set_key_comparator(self->pending, id_compare);
    zhashx_set_key_duplicator(self->pending, NULL);
    zhashx_set_key_destructor(self->pending, NULL);
    for (size_t i = 0; i < self->edge_count; i++)
        if (open_edge(self, i, keys ? &keys[i] : NULL) != 0)
            goto failed;
    return self;
failed:;
    int saved = errno;
    spw_client_destroy(&self);
    errno = saved ? saved : ENOMEM;
    return NULL;
}

//  Closes the sockets, then the context (linger 0: nothing waits).
void spw_client_destroy(spw_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_client_t *self = *self_p;
    //  The tables own their requests (and the frames they share).
    for (void *pending = self->pending ? zhashx_first(self->pending) : NULL; pending;
         pending = zhashx_next(self->pending))
        pending_free(&pending);
    for (void *pending = self->expired ? zlistx_first(self->expired) : NULL; pending;
         pending = zlistx_next(self->expired))
        pending_free(&pending);
    zhashx_destroy(&self->pending);
    zlistx_destroy(&self->expired);
    for (size_t i = 0; i < self->edge_count; i++) {
        if (self->edges[i].socket)
            zmq_socket_monitor(self->edges[i].socket, NULL, 0);
        spw_socket_destroy(&self->edges[i].monitor);
        spw_socket_destroy(&self->edges[i].socket);
    }
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}

// -- Sending ------------------------------------------------------------------

//  Sends pending to edge i: its frames are shared, and it keeps them.
//  Returns 0, or -1 with errno (EAGAIN: no room there now).
static int send_to(spw_client_t *self, pending_t *pending, size_t i, int64_t now)
{
    uint32_t timeout_ms = pending->timeout_ms;
    if (pending->deadline >= 0) {
        //  What is left of the deadline, at least 1 ms (0 means "the default").
        int64_t left = pending->deadline - now;
        timeout_ms = left > 1 ? (uint32_t) left : 1;
    }
    spw_msg_t msg;
    spw_msg_init(&msg);
    if (spw_proto_put_request(&msg, pending->id, pending->service, timeout_ms) != 0) {
        spw_msg_reset(&msg);
        errno = EINVAL;
        return -1;
    }
    for (size_t f = 0; f < pending->body.count; f++)
        if (spw_msg_add_share(&msg, &pending->body.frame[f]) != 0) {
            spw_msg_reset(&msg);
            errno = EINVAL;
            return -1;
        }
    if (spw_msg_send(&msg, self->edges[i].socket, ZMQ_DONTWAIT) != 0)
        return -1;
    pending->edge = (int) i;
    return 0;
}

//  Sends pending to the first edge not down that takes it, from first.
//  Returns 0; -1 if none did (it is then unsent, errno from the last).
static int dispatch(spw_client_t *self, pending_t *pending, size_t first, int64_t now)
{
    for (size_t k = 0; k < self->edge_count; k++) {
        size_t i = (first + k) % self->edge_count;
        if (self->edges[i].state != EDGE_DOWN && self->edges[i].state != EDGE_DRAINING
            && send_to(self, pending, i, now) == 0)
            return 0;
    }
    pending->edge = -1;
    if (errno == 0)
        errno = EAGAIN;
    return -1;
}

//  Sends again what edge i held (or, i -1, what no edge holds), to others.
static void resend(spw_client_t *self, int from, int64_t now)
{
    for (pending_t *pending = zhashx_first(self->pending); pending;
         pending = zhashx_next(self->pending)) {
        if (pending->edge != from)
            continue;
        bool was_unsent = pending->edge < 0;
        if (pending->deadline >= 0 && now >= pending->deadline)
            pending->edge = -1;  // too late: the sweep answers it
        else
            dispatch(self, pending, 0, now);
        if (was_unsent && pending->edge >= 0)
            self->unsent--;
        else if (!was_unsent && pending->edge < 0)
            self->unsent++;
    }
}

//  Takes a request out of the table; the caller frees it.
static pending_t *take_pending(spw_client_t *self, uint64_t id)
{
    pending_t *pending = zhashx_lookup(self->pending, id_key(id));
    if (!pending)
        return NULL;
    if (pending->edge < 0)
        self->unsent--;
    zhashx_delete(self->pending, id_key(id));
    return pending;
}

//  Reads the edges' connection events: one that is lost hands its requests
//  to the others, one that comes up takes those no edge holds.
static void watch_edges(spw_client_t *self, int64_t now)
{
    for (size_t i = 0; i < self->edge_count; i++) {
        client_edge_t *edge = &self->edges[i];
        while (true) {
            zmq_msg_t event;
            zmq_msg_init(&event);
            if (zmq_msg_recv(&event, edge->monitor, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&event);
                break;
            }
            uint16_t id = 0;
            if (zmq_msg_size(&event) >= sizeof id)
                memcpy(&id, zmq_msg_data(&event), sizeof id);
            bool more = zmq_msg_more(&event);
            while (more) {
                zmq_msg_t rest;
                zmq_msg_init(&rest);
                more = zmq_msg_recv(&rest, edge->monitor, 0) >= 0 && zmq_msg_more(&rest);
                zmq_msg_close(&rest);
            }
            zmq_msg_close(&event);
            if (id == ZMQ_EVENT_CONNECTED)
                edge->state = EDGE_UP;  // after a drop: a new process, or the same back
            else if (edge->state != EDGE_DOWN) {
                edge->state = EDGE_DOWN;
                resend(self, (int) i, now);
            }
        }
        if (edge->state == EDGE_UP && self->unsent)
            resend(self, -1, now);
    }
}

//  Moves the requests past their deadline and grace to the expired list.
static void sweep(spw_client_t *self, int64_t now)
{
    if (now - self->swept_at < SPW_CLIENT_SWEEP_MS)
        return;
    self->swept_at = now;
    size_t before = zlistx_size(self->expired);
    for (pending_t *pending = zhashx_first(self->pending); pending;
         pending = zhashx_next(self->pending))
        if (pending->deadline >= 0 && now >= pending->deadline + SPW_CLIENT_GRACE_MS)
            zlistx_add_end(self->expired, pending);
    //  Out of the table once the walk is over (it cannot change under it).
    pending_t *pending = zlistx_first(self->expired);
    for (size_t i = 0; pending; i++, pending = zlistx_next(self->expired))
        if (i >= before)
            take_pending(self, pending->id);
}

//  Builds the request for body (whose frames are moved into the pending
//  record) and sends it without blocking. Returns 0, or -1 with errno
//  (EAGAIN: no room in any queue now).
static int send_request(spw_client_t *self, const char *service, spw_msg_t *body,
                        uint32_t timeout_ms, uint64_t *request_id)
{
    if (!service)
        service = CLIENT_DEFAULT_SERVICE;
    pending_t *pending = calloc(1, sizeof *pending);
    if (!pending || body->count > SPW_MAX_BODY_FRAMES
        || !spw_service_name_valid(service, strlen(service))) {
        free(pending);
        spw_msg_reset(body);
        errno = pending ? EINVAL : ENOMEM;
        return -1;
    }
    int64_t now = spw_clock_ms();
    watch_edges(self, now);
    pending->id = self->next_id;
    snprintf(pending->service, sizeof pending->service, "%s", service);
    pending->timeout_ms = timeout_ms;
    pending->deadline = timeout_ms ? now + (int64_t) timeout_ms : -1;
    spw_msg_init(&pending->body);
    spw_msg_move_frames(&pending->body, body, 0, body->count);
    spw_msg_reset(body);
    errno = 0;
    if (dispatch(self, pending, 0, now) != 0) {
        //  Every edge down: it waits for the first that comes back. An edge
        //  that would not take it now (a full queue) is the caller's to wait on.
        bool all_down = true;
        for (size_t i = 0; i < self->edge_count; i++)
            all_down &= self->edges[i].state == EDGE_DOWN
                     || self->edges[i].state == EDGE_DRAINING;
        if (!all_down) {
            int saved = errno;
            pending_free((void **) &pending);
            errno = saved;
            return -1;
        }
        self->unsent++;
    }
    zhashx_insert(self->pending, id_key(pending->id), pending);
    if (request_id)
        *request_id = pending->id;
    self->next_id++;
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

// -- Receiving ----------------------------------------------------------------

//  Milliseconds left until deadline (-1: none), never negative.
static long remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - spw_clock_ms();
    return left > 0 ? (long) left : 0;
}

size_t spw_client_pollitems(spw_client_t *self, zmq_pollitem_t *items, size_t max,
                            short events)
{
    size_t n = 0;
    for (size_t i = 0; self && i < self->edge_count && n + 2 <= max; i++) {
        items[n++] = (zmq_pollitem_t) { self->edges[i].socket, 0, events, 0 };
        items[n++] = (zmq_pollitem_t) { self->edges[i].monitor, 0, ZMQ_POLLIN, 0 };
    }
    return n;
}

//  Waits until an edge's socket or monitor has events or the deadline (and,
//  with requests that have deadlines, the next sweep) passes. Returns 1 when
//  ready, 0 at the deadline, -1 on interruption (errno EINTR/ETERM).
static int wait_for(spw_client_t *self, short events, int64_t deadline)
{
    zmq_pollitem_t items[2 * SPW_CLIENT_MAX_EDGES];
    size_t n = spw_client_pollitems(self, items, sizeof items / sizeof items[0], events);
    long left = remaining_ms(deadline);
    if (zhashx_size(self->pending) && (left < 0 || left > SPW_CLIENT_SWEEP_MS))
        left = SPW_CLIENT_SWEEP_MS;
    int rc = zmq_poll(items, (int) n, left);
    if (rc < 0)
        return -1;
    if (rc > 0)
        return 1;
    return deadline >= 0 && spw_clock_ms() >= deadline ? 0 : 1;
}

//  Fills reply with `timeout` for a request no edge answered in time.
static void answer_expired(spw_client_t *self, spw_reply_t *reply)
{
    pending_t *pending = zlistx_first(self->expired);
    spw_reply_reset(reply);
    reply->request_id = pending->id;
    reply->status = SPW_STATUS_TIMEOUT;
    const char *why = "no edge answered by the deadline";
    spw_msg_add_mem(&reply->msg, why, strlen(why));
    reply->body_first = 0;
    reply->body_count = reply->msg.count;
    zlistx_delete(self->expired, zlistx_cursor(self->expired));
    pending_free((void **) &pending);
}

//  Takes one well-formed reply to a pending request from edge i into reply.
//  Returns 1 if it did, 0 if the socket had none, -1 on a socket error.
static int take_reply(spw_client_t *self, size_t i, spw_reply_t *reply)
{
    spw_msg_t msg;
    spw_msg_init(&msg);
    while (true) {
        if (spw_msg_recv(&msg, self->edges[i].socket, ZMQ_DONTWAIT) != 0) {
            if (errno == EMSGSIZE)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        spw_proto_t proto;
        if (spw_proto_decode(&msg, 0, &proto, NULL) != 0 || proto.cmd != SPW_CMD_REPLY
            || !zhashx_lookup(self->pending, id_key(proto.id))) {
            spw_msg_reset(&msg);  // malformed, or a second answer: dropped
            continue;
        }
        //  busy: the edge is draining or stopping; the request goes elsewhere.
        if (proto.status == SPW_STATUS_BUSY) {
            pending_t *pending = zhashx_lookup(self->pending, id_key(proto.id));
            spw_msg_reset(&msg);
            if (pending->edge == (int) i) {
                self->edges[i].state = EDGE_DRAINING;
                resend(self, (int) i, spw_clock_ms());
            }
            continue;
        }
        pending_t *pending = take_pending(self, proto.id);
        pending_free((void **) &pending);
        spw_reply_reset(reply);
        reply->request_id = proto.id;
        reply->status = proto.status;
        reply->body_first = proto.body_first;
        reply->body_count = proto.body_count;
        reply->msg = msg;
        return 1;
    }
}

//  Receives the next reply before deadline into reply.
static int recv_until(spw_client_t *self, spw_reply_t *reply, int64_t deadline)
{
    while (true) {
        int64_t now = spw_clock_ms();
        watch_edges(self, now);
        sweep(self, now);
        if (zlistx_size(self->expired)) {
            answer_expired(self, reply);
            return 0;
        }
        for (size_t i = 0; i < self->edge_count; i++) {
            int rc = take_reply(self, i, reply);
            if (rc != 0)
                return rc > 0 ? 0 : -1;
        }
        int ready = wait_for(self, ZMQ_POLLIN, deadline);
        if (ready < 0)
            return -1;
        if (ready == 0) {
            errno = EAGAIN;
            return -1;
        }
    }
}

//  Receives the next reply within timeout_ms.
int spw_client_recv(spw_client_t *self, spw_reply_t *reply, int timeout_ms)
{
    if (!self || !reply) {
        errno = EINVAL;
        return -1;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : spw_clock_ms() + timeout_ms;
    return recv_until(self, reply, deadline);
}

//  Forgets a request: a reply that comes for it is dropped.
static void forget(spw_client_t *self, uint64_t id)
{
    pending_t *pending = take_pending(self, id);
    pending_free((void **) &pending);
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
        if (wait_for(self, ZMQ_POLLOUT, deadline) != 1 || (deadline >= 0 && remaining_ms(deadline) == 0))
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
    forget(self, id);
    into->status = SPW_STATUS_TIMEOUT;
    return SPW_STATUS_TIMEOUT;
}

//  The first edge's DEALER, for callers that poll it with other sockets.
void *spw_client_socket(spw_client_t *self)
{
    return self && self->edge_count ? self->edges[0].socket : NULL;
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
