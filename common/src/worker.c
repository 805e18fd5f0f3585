//  worker.c: the native worker (see spw_worker.h).
//
//  A worker owns a ZeroMQ context and, while linked, one DEALER connected to
//  an edge's backend; a new link always starts with READY. All the work is
//  in spw_worker_recv, a small loop over one socket and three times: the
//  next heartbeat due (any message the worker sends counts as one), the
//  moment the edge counts as dead (heartbeat_ms x liveness after the last
//  message heard from it) and the caller's deadline. When the edge falls
//  silent the link is closed and reopened after a backoff that doubles from
//  reconnect_min_ms to reconnect_max_ms and returns to the minimum once the
//  edge speaks again. The edge's ACCEPTED sets the heartbeat and liveness
//  the worker keeps to (the options' are used until it comes); its
//  DISCONNECT reopens the link after the wait it names (a refusal asked
//  again waits at least the backoff, which doubles).
//  A fresh DEALER is used for every link so that the edge sees a new peer
//  and never mixes the old link's queued messages with the new one's.
//
//  Liveness is counted only while the worker listens: answering a task
//  restarts the count, so that a long task (during which the caller may
//  not read) never makes the edge look dead. Sends never block; a message
//  that cannot be queued is dropped, which the heartbeat cycle tolerates.
//  No threads: the caller's thread does everything, and a signal that
//  interrupts the wait returns -1/EINTR to it.

#include "spw_worker.h"
#include "spw_clock.h"
#include "spw_config.h"
#include "spw_log.h"
#include "spw_socket.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define WORKER_HEARTBEAT_MS     1000
#define WORKER_LIVENESS         3
#define WORKER_RECONNECT_MIN_MS 100
#define WORKER_RECONNECT_MAX_MS 5000
//  How long destroy lets the goodbye (DISCONNECT) reach the edge.
#define WORKER_GOODBYE_LINGER_MS 100

struct spw_worker_t {
    void *ctx;
    void *socket;            // NULL while waiting to reconnect
    char *endpoint;
    char service[SPW_MAX_SERVICE_LEN + 1];
    spw_worker_opts_t opts;  // defaults applied; opts.curve points at keys
    spw_curve_keys_t keys;
    int64_t heard_at;        // last message from the edge (or link start)
    int64_t heartbeat_at;    // next heartbeat due
    int64_t reconnect_at;    // when the next link opens, while socket is NULL
    int64_t backoff_ms;      // wait before the next link after a silent edge
    int64_t heartbeat_ms;    // the edge's, from ACCEPTED (the options' until then)
    int64_t liveness;
    int64_t relink_ms;       // wait before the next link, as the edge's DISCONNECT said
};

//  How long the edge may be silent before the worker counts it gone.
static int64_t silence_ms(const spw_worker_t *self)
{
    return self->heartbeat_ms * self->liveness;
}

//  Sends msg on the link without blocking; the message is consumed.
static int link_send(spw_worker_t *self, spw_msg_t *msg)
{
    if (!self->socket) {
        spw_msg_reset(msg);
        errno = ENOTCONN;
        return -1;
    }
    //  Even a failed send waits a full interval before the next heartbeat.
    self->heartbeat_at = spw_clock_ms() + self->heartbeat_ms;
    return spw_msg_send(msg, self->socket, ZMQ_DONTWAIT);
}

//  Sends one command that has no fields beyond its header.
static int send_signal(spw_worker_t *self, int (*put)(spw_msg_t *))
{
    spw_msg_t msg;
    spw_msg_init(&msg);
    if (put(&msg) != 0) {
        spw_msg_reset(&msg);
        return -1;
    }
    return link_send(self, &msg);
}

//  Opens a new link to the edge and says READY on it.
static int link_open(spw_worker_t *self)
{
    char err[SPW_ERROR_MAX];
    spw_socket_opts_t socket_opts = { .curve = self->opts.curve };
    self->socket = spw_socket_new(self->ctx, ZMQ_DEALER, &socket_opts);
    if (!self->socket)
        return -1;
    if (spw_socket_connect(self->socket, self->endpoint, err, sizeof err) != 0) {
        spw_socket_destroy(&self->socket);
        return -1;
    }
    spw_msg_t msg;
    spw_msg_init(&msg);
    if (spw_proto_put_ready_slots(&msg, self->service, (uint32_t) self->opts.slots) != 0
        || link_send(self, &msg) != 0) {
        spw_msg_reset(&msg);
        spw_socket_destroy(&self->socket);
        return -1;
    }
    self->heard_at = spw_clock_ms();
    return 0;
}

//  Closes the link and schedules the next one after wait_ms.
static void link_close(spw_worker_t *self, int64_t wait_ms)
{
    spw_socket_destroy(&self->socket);
    self->reconnect_at = spw_clock_ms() + wait_ms;
}

//  Closes a link whose edge fell silent and doubles the backoff.
static void link_lost(spw_worker_t *self)
{
    spw_log(SPW_LOG_WARNING, "edge_silent", "endpoint=%s service=%s reconnect_ms=%lld",
            self->endpoint, self->service, (long long) self->backoff_ms);
    link_close(self, self->backoff_ms);
    self->backoff_ms *= 2;
    if (self->backoff_ms > self->opts.reconnect_max_ms)
        self->backoff_ms = self->opts.reconnect_max_ms;
}

//  Applies the default options, opens the first link and says READY.
spw_worker_t *spw_worker_new(const char *endpoint, const char *service,
                             const spw_worker_opts_t *opts)
{
    if (!endpoint || !service || !spw_service_name_valid(service, strlen(service))) {
        errno = EINVAL;
        return NULL;
    }
    spw_worker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (opts)
        self->opts = *opts;
    if (self->opts.curve) {
        self->keys = *self->opts.curve;
        self->opts.curve = &self->keys;
    }
    if (self->opts.heartbeat_ms <= 0)
        self->opts.heartbeat_ms = WORKER_HEARTBEAT_MS;
    if (self->opts.liveness <= 0)
        self->opts.liveness = WORKER_LIVENESS;
    if (self->opts.reconnect_min_ms <= 0)
        self->opts.reconnect_min_ms = WORKER_RECONNECT_MIN_MS;
    if (self->opts.reconnect_max_ms <= 0)
        self->opts.reconnect_max_ms = WORKER_RECONNECT_MAX_MS;
    if (self->opts.reconnect_max_ms < self->opts.reconnect_min_ms)
        self->opts.reconnect_max_ms = self->opts.reconnect_min_ms;
    if (self->opts.slots <= 0)
        self->opts.slots = 1;
    if (self->opts.slots > SPW_MAX_SLOTS)
        self->opts.slots = SPW_MAX_SLOTS;
    self->backoff_ms = self->opts.reconnect_min_ms;
    self->heartbeat_ms = self->opts.heartbeat_ms;
    self->liveness = self->opts.liveness;
    memcpy(self->service, service, strlen(service) + 1);
    self->endpoint = strdup(endpoint);
    self->ctx = zmq_ctx_new();
    if (!self->endpoint || !self->ctx || link_open(self) != 0) {
        int saved = errno;
        spw_worker_destroy(&self);
        errno = saved;
        return NULL;
    }
    return self;
}

//  Says DISCONNECT on a live link, then closes the link and the context.
void spw_worker_destroy(spw_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_worker_t *self = *self_p;
    if (self->socket) {
        send_signal(self, spw_proto_put_disconnect);
        //  Sockets linger 0 (spw_socket.h); give the goodbye a moment to
        //  leave so that the edge forgets this worker at once.
        int linger = WORKER_GOODBYE_LINGER_MS;
        zmq_setsockopt(self->socket, ZMQ_LINGER, &linger, sizeof linger);
    }
    spw_socket_destroy(&self->socket);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

//  What one message from the edge asks of the receive loop.
typedef enum { EDGE_NOTHING, EDGE_TASK, EDGE_RELINK } edge_action_t;

//  Interprets a message from the edge; fills task for a TASK.
static edge_action_t handle_edge_message(spw_worker_t *self, spw_msg_t *msg,
                                         spw_worker_task_t *task)
{
    spw_proto_t proto;
    const char *why = NULL;
    if (spw_proto_decode(msg, 0, &proto, &why) != 0) {
        spw_log(SPW_LOG_DEBUG, "malformed", "endpoint=%s why=\"%s\"", self->endpoint, why);
        spw_msg_reset(msg);
        return EDGE_NOTHING;
    }
    if (proto.cmd != SPW_CMD_DISCONNECT)
        self->backoff_ms = self->opts.reconnect_min_ms;
    switch (proto.cmd) {
    case SPW_CMD_ACCEPTED:
        spw_msg_reset(msg);
        self->heartbeat_ms = proto.heartbeat_ms;
        self->liveness = proto.liveness;
        if (self->heartbeat_at > spw_clock_ms() + self->heartbeat_ms)
            self->heartbeat_at = spw_clock_ms() + self->heartbeat_ms;
        if ((int) proto.count != self->opts.slots)
            spw_log(SPW_LOG_WARNING, "slots_changed", "endpoint=%s asked=%d given=%u",
                    self->endpoint, self->opts.slots, proto.count);
        return EDGE_NOTHING;
    case SPW_CMD_TASK:
        task->key = proto.id;
        task->body_first = proto.body_first;
        task->body_count = proto.body_count;
        task->msg = *msg;
        spw_msg_init(msg);
        return EDGE_TASK;
    case SPW_CMD_DISCONNECT: {
        //  A refusal asked again waits longer each time; the edge saying
        //  it does not know the worker (retry 0) is answered at once.
        self->relink_ms = 0;
        if (proto.count > 0) {
            self->relink_ms = proto.count > self->backoff_ms ? proto.count : self->backoff_ms;
            self->backoff_ms *= 2;
            if (self->backoff_ms > self->opts.reconnect_max_ms)
                self->backoff_ms = self->opts.reconnect_max_ms;
        }
        spw_log(proto.count > 0 ? SPW_LOG_WARNING : SPW_LOG_INFO, "edge_disconnect",
                "endpoint=%s service=%s reason=\"%.*s\" retry_ms=%lld", self->endpoint,
                self->service, (int) proto.text_len, proto.text ? proto.text : "",
                (long long) self->relink_ms);
        spw_msg_reset(msg);
        return EDGE_RELINK;
    }
    case SPW_CMD_HEARTBEAT:
        spw_msg_reset(msg);
        return EDGE_NOTHING;
    default:
        spw_log(SPW_LOG_DEBUG, "unexpected", "endpoint=%s command=%d", self->endpoint,
                (int) proto.cmd);
        spw_msg_reset(msg);
        return EDGE_NOTHING;
    }
}

//  Reads every message waiting on the link. Returns the strongest action
//  met (a TASK stops the reading), or -1 on ETERM/EINTR.
static int drain_link(spw_worker_t *self, spw_worker_task_t *task)
{
    spw_msg_t msg;
    spw_msg_init(&msg);
    while (true) {
        if (spw_msg_recv(&msg, self->socket, ZMQ_DONTWAIT) != 0) {
            if (errno == EMSGSIZE) {
                self->heard_at = spw_clock_ms();
                continue;
            }
            return errno == EAGAIN ? EDGE_NOTHING : -1;
        }
        self->heard_at = spw_clock_ms();
        edge_action_t action = handle_edge_message(self, &msg, task);
        if (action != EDGE_NOTHING)
            return action;
    }
}

//  The earliest of two times, where -1 means never.
static int64_t earliest(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

//  Waits for a task, heartbeating, and reconnecting when the edge is lost.
int spw_worker_recv(spw_worker_t *self, spw_worker_task_t *task, int timeout_ms)
{
    if (!self || !task) {
        errno = EINVAL;
        return -1;
    }
    memset(task, 0, sizeof *task);
    spw_msg_init(&task->msg);
    int64_t deadline = timeout_ms < 0 ? -1 : spw_clock_ms() + timeout_ms;
    while (true) {
        int64_t now = spw_clock_ms();
        if (!self->socket) {
            if (now >= self->reconnect_at) {
                if (link_open(self) != 0) {
                    if (errno == ETERM)
                        return -1;
                    link_lost(self);
                }
                continue;
            }
            if (deadline >= 0 && now >= deadline)
                break;
            int64_t wake = earliest(self->reconnect_at, deadline);
            if (poll(NULL, 0, (int) (wake - now)) < 0 && errno == EINTR)
                return -1;
            continue;
        }
        if (now >= self->heartbeat_at && send_signal(self, spw_proto_put_heartbeat) != 0
            && errno == ETERM)
            return -1;
        //  What is queued is read before any wait: a busy worker's next task
        //  is usually there already, and a poll costs a system call.
        int action = drain_link(self, task);
        if (action < 0)
            return -1;
        if (action == EDGE_TASK)
            return 0;
        if (action == EDGE_RELINK) {
            link_close(self, self->relink_ms);
            continue;
        }
        now = spw_clock_ms();
        int64_t dead_at = self->heard_at + silence_ms(self);
        if (now >= dead_at) {
            link_lost(self);
            continue;
        }
        if (deadline >= 0 && now >= deadline)
            break;
        int64_t wake = earliest(earliest(self->heartbeat_at, dead_at), deadline);
        zmq_pollitem_t item = { self->socket, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&item, 1, (long) (wake > now ? wake - now : 0)) < 0)
            return -1;
    }
    errno = EAGAIN;
    return -1;
}

//  Sends RESULT with the task's key; releases the task and body whatever happens.
int spw_worker_reply(spw_worker_t *self, spw_worker_task_t *task, spw_status_t status,
                     spw_msg_t *body)
{
    spw_msg_t msg;
    spw_msg_init(&msg);
    int rc = -1;
    errno = EINVAL;
    if (self && task && (unsigned) status < SPW_STATUS_COUNT
        && (!body || body->count <= SPW_MAX_BODY_FRAMES)
        && spw_proto_put_result(&msg, task->key, status) == 0
        && (!body || spw_msg_move_frames(&msg, body, 0, body->count) == 0)) {
        rc = link_send(self, &msg);
        //  The edge was not listened to while the task ran: count afresh.
        self->heard_at = spw_clock_ms();
    }
    spw_msg_reset(&msg);
    if (body)
        spw_msg_reset(body);
    spw_worker_task_reset(task);
    return rc;
}

//  Sends a HEARTBEAT now, for callers busy with a long task.
int spw_worker_heartbeat(spw_worker_t *self)
{
    if (!self) {
        errno = EINVAL;
        return -1;
    }
    return send_signal(self, spw_proto_put_heartbeat);
}

//  Releases the task's frames and empties it.
void spw_worker_task_reset(spw_worker_task_t *task)
{
    if (!task)
        return;
    spw_msg_reset(&task->msg);
    task->key = 0;
    task->body_first = 0;
    task->body_count = 0;
}

//  The current link's DEALER, or NULL while waiting to reconnect.
void *spw_worker_socket(spw_worker_t *self)
{
    return self ? self->socket : NULL;
}
