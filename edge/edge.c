//  edge.c: the edge's loop and the life of a task, which the hub link
//  (hublink.c) and the cloud links (cloud.c) share; the loop moves messages
//  between the sockets and the pure modules (pool, tasks, queue).
//
//  One thread, one zmq_poll over a frontend ROUTER (clients), a backend
//  ROUTER (workers) and, with a hub, the control DEALER, the cloud ROUTER
//  (other edges' tasks) and one DEALER per peer we delegate to. The poll's
//  timeout is the nearest of the heartbeat tick, the hub's heartbeat, the
//  earliest task deadline and the 10 ms state coalescing.
//  Workers are read first and clients last each turn, so that freed workers
//  are counted before new tasks are placed.
//
//  Invariants kept here:
//  - Every accepted task is in the task table until exactly one reply has
//    been sent to its client (spw_edge_finish is the only way out): ok, an
//    error from its worker, or the edge's own timeout/failed. A task is
//    QUEUED (in its service queue), RUNNING (its worker's task) or
//    DELEGATED (in a peer's in-flight list), never two of them; LOOSE only
//    in passing.
//  - Body frames are moved from the client's message into the task and
//    shared (reference-counted, no byte copy) with each worker or peer it is
//    handed to, so that it can be handed again if that one dies.
//  - Nothing from the network is trusted: every message is decoded and
//    checked; one that fails is dropped, counted and logged (at most one
//    line a second per socket, so a flood cannot flood the log).
//  - Sends never block (ZMQ_DONTWAIT): a worker that cannot take its task
//    is treated as gone and the task goes to another.

#include "cloud.h"
#include "hublink.h"
#include "metrics.h"
#include "life.h"

#include "spw_clock.h"
#include "spw_daemon.h"
#include "spw_http.h"
#include "spw_notify.h"
#include "spw_log.h"
#include "spw_proto.h"
#include "spw_socket.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Messages read from one socket in one turn, so one socket cannot starve
//  the other or the timers.
#define SPW_EDGE_BATCH 256
//  State changes are published at most this often (coalesced).
#define SPW_EDGE_STATE_COALESCE_MS 10
//  The version of the stats service's text (docs/protocol.md): it changes
//  when a key changes meaning or goes; new keys may come without it.
#define SPW_EDGE_STATS_SCHEMA 1
//  Clients' and workers' frames up to this many times max_message_bytes are
//  read (and the message refused with an answer); larger ones make libzmq
//  drop the connection.
#define SPW_EDGE_FRAME_LIMIT_FACTOR 2
//  How long a stopping edge lets its last replies and goodbyes go out.
#define SPW_EDGE_GOODBYE_LINGER_MS 100
//  Replies a client's connection may queue beyond its task limit: the
//  edge's own answers to requests it did not take (overloaded, bad-request).
#define SPW_EDGE_REPLY_SLACK 1000
//  Services whose names start with this are the edge's own, not workers'.
#define SPW_INTERNAL_PREFIX "spillway."
#define SPW_STATS_SERVICE   SPW_INTERNAL_PREFIX "stats"
#define SPW_DRAIN_SERVICE   SPW_INTERNAL_PREFIX "drain"


//  Counts a dropped message; the sender is the ROUTER identity in frame 0.
void spw_edge_drop(spw_edge_t *self, spw_drops_t *drops, const spw_msg_t *msg, const char *why,
                   int64_t now)
{
    spw_drops_note(drops, msg, drops == &self->hub_drops ? -1 : 0, why, now);
}

void spw_edge_drop_as(spw_edge_t *self, spw_drops_t *drops, spw_drop_reason_t reason,
                      const spw_msg_t *msg, const char *why, int64_t now)
{
    spw_drops_note_as(drops, reason, msg, drops == &self->hub_drops ? -1 : 0, why, now);
}

spw_socket_opts_t spw_edge_server_opts(const spw_edge_t *self, int64_t max_message_bytes,
                                       int hwm)
{
    return (spw_socket_opts_t) { .max_message_bytes = max_message_bytes, .hwm = hwm,
                                 .curve = self->curve ? &self->curve_keys : NULL,
                                 .curve_server = true };
}

//  Counts and logs, with its key, a message refused for what its key is not.
static void forbid(spw_edge_t *self, spw_drops_t *drops, spw_msg_t *msg, const char *role,
                   const char *name, size_t name_len, int64_t now)
{
    self->stats.forbidden++;
    char why[200];
    spw_edge_drop_as(self, drops, SPW_DROP_FORBIDDEN, msg,
                  spw_curve_refusal(&msg->frame[1], role, name, name_len, why, sizeof why), now);
}

bool spw_edge_allowed(spw_edge_t *self, spw_drops_t *drops, spw_msg_t *msg, const char *role,
                      const char *name, size_t name_len, int64_t now)
{
    //  Frame 1: the identity frame is the ROUTER's, and says nothing.
    if (!self->curve || spw_curve_peer_acts_as(&msg->frame[1], role, name, name_len))
        return true;
    forbid(self, drops, msg, role, name, name_len, now);
    return false;
}

//  Sends a reply to a client: for native clients the REPLY command with
//  status and body; for another edge DONE, with the credit renewed for it;
//  for seed clients the body alone, or one text frame
//  "error: STATUS: REASON" when there is no body to give. body may be NULL;
//  its frames [first, first + count) are moved.
static int send_reply(spw_edge_t *self, zmq_msg_t *client, spw_client_kind_t kind,
                      uint64_t request_id, spw_status_t status, uint32_t credit,
                      spw_msg_t *body, size_t first, size_t count, const char *reason)
{
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, client);
    if (kind == SPW_CLIENT_NATIVE)
        spw_proto_put_reply(&out, request_id, status);
    else if (kind == SPW_CLIENT_PEER)
        spw_proto_put_done(&out, request_id, status, credit);
    else
        spw_msg_add_mem(&out, "", 0);
    if (body && count)
        spw_msg_move_frames(&out, body, first, count);
    else if (status == SPW_STATUS_OK && kind == SPW_CLIENT_SEED)
        spw_msg_add_mem(&out, "", 0);  // a REQ reply needs a frame
    else if (status != SPW_STATUS_OK) {
        char text[256];
        int n = kind == SPW_CLIENT_SEED
                  ? snprintf(text, sizeof text, "error: %s: %s", spw_status_name(status),
                             reason ? reason : "")
                  : snprintf(text, sizeof text, "%s", reason ? reason : "");
        spw_msg_add_mem(&out, text, (size_t) n < sizeof text ? (size_t) n : sizeof text - 1);
    }
    void *socket = kind == SPW_CLIENT_PEER ? self->cloud : self->frontend;
    if (spw_msg_send(&out, socket, ZMQ_DONTWAIT) != 0) {
        self->stats.unroutable++;
        spw_log(SPW_LOG_DEBUG, "reply_unroutable", "status=%s error=\"%s\"",
                spw_status_name(status), zmq_strerror(errno));
        return -1;
    }
    return 0;
}

//  Takes a running task off its worker's list; the task is loose. Its slot
//  stays busy until the worker answers (spw_pool_free_slot).
static void unassign(spw_task_t *task)
{
    spw_pool_worker_t *worker = task->worker;
    if (task->prev)
        task->prev->next = task->next;
    else
        worker->tasks = task->next;
    if (task->next)
        task->next->prev = task->prev;
    task->prev = task->next = NULL;
    worker->running--;
    task->worker = NULL;
    task->service->running--;
    task->service->lent_running -= task->client_kind == SPW_CLIENT_PEER;
    task->state = SPW_TASK_LOOSE;
}

//  Takes a task out of its queue or off its worker, whichever holds it.
static void detach(spw_edge_t *self, spw_task_t *task)
{
    bool lent = task->client_kind == SPW_CLIENT_PEER;
    if (task->state == SPW_TASK_QUEUED) {
        spw_queue_remove(&task->service->queue, task);
        task->service->lent_queued -= lent;
    }
    else if (task->state == SPW_TASK_RUNNING)
        unassign(task);
    else if (task->state == SPW_TASK_DELEGATED)
        spw_cloud_detach(self, task);
    task->state = SPW_TASK_LOOSE;
}

//  Puts a loose task in its service's queue: a new one at the tail, but
//  ahead of the tasks prefetched for other edges (local first); one going
//  back at the head. Returns -1 if a new task finds the queue full.
static int enqueue(spw_task_t *task, bool back)
{
    spw_service_t *service = task->service;
    if (back && task->client_kind == SPW_CLIENT_PEER) {
        //  A borrower's task going back still goes behind local ones.
        spw_queue_insert_after(&service->queue, service->queue.tail, task);
        service->lent_queued++;
    }
    else if (back)
        spw_queue_push_front(&service->queue, task);
    else {
        if (service->queue.size - service->lent_queued >= service->queue.limit)
            return -1;
        spw_task_t *before = service->queue.tail;
        while (before && before->client_kind == SPW_CLIENT_PEER)
            before = before->prev;  // at most the prefetched tasks: a few a worker
        spw_queue_insert_after(&service->queue, before, task);
    }
    task->state = SPW_TASK_QUEUED;
    return 0;
}

//  What a task the edge will not finish is answered when it stops: busy,
//  "send it elsewhere", to another edge (which re-routes it) and to a
//  native client (which fails over, or sends it again when this edge is
//  back); failed to a seed client, which has nowhere else to go.
static spw_status_t shutdown_status(const spw_task_t *task)
{
    return task->client_kind == SPW_CLIENT_SEED ? SPW_STATUS_FAILED : SPW_STATUS_BUSY;
}

//  Answers a task's client and forgets the task: the one place a task ends.
void spw_edge_finish(spw_edge_t *self, spw_task_t *task, spw_status_t status, spw_msg_t *body,
                   size_t first, size_t count, const char *reason)
{
    if (task->state == SPW_TASK_DELEGATED && status == SPW_STATUS_OK)
        self->stats.served_by_others++;
    if (task->client_kind != SPW_CLIENT_PEER)
        spw_clients_remove(self->clients, zmq_msg_data(&task->client),
                           zmq_msg_size(&task->client));
    detach(self, task);
    self->state_dirty = true;
    //  A borrower's task frees its credit, renewed on the DONE of a task its
    //  borrower still waits for (it timed out there as here); a local one may
    //  free a worker to lend.
    uint32_t credit = 0;
    spw_borrower_t *borrower = task->borrower;
    if (task->client_kind == SPW_CLIENT_PEER)
        credit = spw_cloud_release(self, task, status != SPW_STATUS_TIMEOUT, self->now);
    else
        spw_cloud_lend(self, task->service, self->now);
    spw_edge_count_finish(self, task, body, first, count);   // before its frames move
    if (send_reply(self, &task->client, task->client_kind, task->request_id, status, credit,
                   body, first, count, reason)
        != 0)
        spw_cloud_unoffer(self, borrower, task->service, credit);
    switch (status) {
    case SPW_STATUS_OK: self->stats.done++; task->service->done++; break;
    case SPW_STATUS_TASK_ERROR: self->stats.task_errors++; task->service->done++; break;
    case SPW_STATUS_TOO_LARGE: self->stats.too_large++; task->service->done++; break;
    case SPW_STATUS_TIMEOUT: self->stats.timeouts++; break;
    case SPW_STATUS_FAILED: self->stats.failed++; break;
    default: break;
    }
    spw_tasks_remove(self->tasks, task);
}

//  Hands a task to a worker. Returns -1 if the worker cannot take it (gone
//  or not reading); the task is then untouched.
static int run_task(spw_edge_t *self, spw_pool_worker_t *worker, spw_task_t *task, int64_t now)
{
    spw_msg_t out;
    uint8_t key[8];
    spw_msg_init(&out);
    spw_msg_add_mem(&out, worker->identity.data, worker->identity.len);
    if (worker->kind == SPW_WORKER_NATIVE)
        spw_proto_put_task(&out, task->key);
    else {
        //  A REQ worker gets the envelope it must return: task key, delimiter.
        spw_put_u64(key, task->key);
        spw_msg_add_mem(&out, "", 0);
        spw_msg_add_mem(&out, key, 8);
        spw_msg_add_mem(&out, "", 0);
    }
    for (size_t i = 0; i < task->body_count; i++)
        spw_msg_add_share(&out, &task->body[i]);
    if (spw_msg_send(&out, self->backend, ZMQ_DONTWAIT) != 0)
        return -1;
    task->state = SPW_TASK_RUNNING;
    if (!task->started)
        task->started = self->now;
    task->worker = worker;
    task->attempts++;
    task->service->running++;
    task->service->lent_running += task->client_kind == SPW_CLIENT_PEER;
    task->prev = NULL;
    task->next = worker->tasks;
    if (worker->tasks)
        worker->tasks->prev = task;
    worker->tasks = task;
    worker->running++;
    if (worker->kind == SPW_WORKER_SEED)
        worker->expires = now + self->config.seed_worker_timeout_ms;
    return 0;
}

//  Puts a task whose worker is gone back at the head of its queue, or
//  fails it when it has had its attempts.
void spw_edge_requeue(spw_edge_t *self, spw_task_t *task, const char *why, bool count_attempt,
                      int64_t now)
{
    detach(self, task);
    if (!count_attempt && task->attempts > 0)
        task->attempts--;
    if (task->attempts >= self->config.max_attempts) {
        char reason[160];
        snprintf(reason, sizeof reason, "gave up after %d attempts: %s", task->attempts, why);
        spw_log(SPW_LOG_WARNING, "task_failed", "service=%s attempts=%d reason=\"%s\"",
                task->service->name, task->attempts, why);
        spw_edge_finish(self, task, SPW_STATUS_FAILED, NULL, 0, 0, reason);
        return;
    }
    self->stats.requeued++;
    spw_log(SPW_LOG_INFO, "task_requeued", "service=%s attempts=%d reason=\"%s\"",
            task->service->name, task->attempts, why);
    enqueue(task, true);
    spw_edge_dispatch(self, task->service, now);
    spw_cloud_delegate(self, task->service, now);
}

//  Takes every task off a worker, into a list linked by next, for
//  requeue_list once the worker is gone or ready again: a task re-queued
//  while the worker still has free slots would go straight back to it.
static spw_task_t *take_all(spw_pool_worker_t *worker)
{
    spw_task_t *list = NULL;
    while (worker->tasks) {
        spw_task_t *task = worker->tasks;
        unassign(task);
        task->next = list;
        list = task;
    }
    return list;
}

//  Puts the tasks of a take_all list back in the queue, one attempt counted.
static void requeue_list(spw_edge_t *self, spw_task_t *list, const char *why, int64_t now)
{
    while (list) {
        spw_task_t *task = list;
        list = task->next;
        task->next = NULL;
        spw_edge_requeue(self, task, why, true, now);
    }
}

//  Forgets a worker; its tasks, if any, go back to the queue.
//  With CURVE the slots of one key's workers are counted, to bound them.
static void uncount_key(spw_edge_t *self, spw_pool_worker_t *worker)
{
    if (worker->key_slots)
        spw_clients_remove_n(self->key_slots, worker->key, strlen(worker->key),
                             worker->key_slots);
    worker->key_slots = 0;
}

//  Forgets a worker, and its slots under its key.
static void remove_worker(spw_edge_t *self, spw_pool_worker_t *worker)
{
    uncount_key(self, worker);
    spw_pool_remove(self->pool, worker);
}

static void lose_worker(spw_edge_t *self, spw_pool_worker_t *worker, const char *why,
                        int64_t now)
{
    char name[80];
    spw_service_t *service = worker->service;
    spw_log(SPW_LOG_WARNING, "worker_lost", "service=%s worker=%s tasks=%u reason=\"%s\"",
            service->name,
            spw_log_bytes(worker->identity.data, worker->identity.len, name, sizeof name),
            worker->running, why);
    self->stats.workers_lost++;
    self->state_dirty = true;
    spw_task_t *held = take_all(worker);
    remove_worker(self, worker);
    requeue_list(self, held, why, now);
    spw_cloud_lend(self, service, now);  // fewer workers: maybe less to lend
}

//  Hands queued tasks of a service to its idle workers, oldest task to the
//  least recently used worker, until one of the two runs out.
void spw_edge_dispatch(spw_edge_t *self, spw_service_t *service, int64_t now)
{
    self->state_dirty = true;
    while (service->queue.head && service->idle) {
        spw_pool_worker_t *worker = spw_pool_take_idle(self->pool, service);
        spw_task_t *task = spw_queue_pop(&service->queue);
        service->lent_queued -= task->client_kind == SPW_CLIENT_PEER;
        task->state = SPW_TASK_LOOSE;
        if (run_task(self, worker, task, now) != 0) {
            enqueue(task, true);
            lose_worker(self, worker, "cannot send to worker", now);
        }
    }
}

//  A worker answered: one slot is free again, and it is alive.
static void free_slot(spw_edge_t *self, spw_pool_worker_t *worker, int64_t now)
{
    if (worker->kind == SPW_WORKER_NATIVE)
        worker->expires = now + self->liveness_ms;
    else
        worker->expires = INT64_MAX;
    spw_pool_free_slot(self->pool, worker);
}

//  A worker that has free slots gets work if any waits; what it frees may
//  be lent.
static void worker_free(spw_edge_t *self, spw_pool_worker_t *worker, int64_t now)
{
    spw_edge_dispatch(self, worker->service, now);
    spw_cloud_lend(self, worker->service, now);
}

//  A worker is ready with slots free slots, and gets work if any waits.
static void worker_ready(spw_edge_t *self, spw_pool_worker_t *worker, uint32_t slots,
                         int64_t now)
{
    worker->expires = worker->kind == SPW_WORKER_NATIVE ? now + self->liveness_ms : INT64_MAX;
    worker->service->offered = true;
    spw_pool_set_ready(self->pool, worker, slots);
    worker_free(self, worker, now);
}


//  Answers the stats service: one text frame of key=value lines.
static void answer_stats(spw_edge_t *self, zmq_msg_t *client, spw_client_kind_t kind,
                         uint64_t request_id, int64_t now);

//  Lame duck: native clients are sent elsewhere (seed ones are still
//  served), nothing more is lent and what was offered is revoked,
//  borrowers' tasks still waiting go back busy, the hub hears it at once;
//  its own queue is served by its workers and by lenders, and the loop
//  stops when the edge holds no task or drain_timeout_ms has passed.
static void drain(spw_edge_t *self, const char *why, int64_t now)
{
    if (self->draining)
        return;
    self->draining = true;
    self->stopping = true;
    self->drain_until = now + self->config.drain_timeout_ms;
    spw_log(SPW_LOG_INFO, "draining", "tasks=%zu drain_timeout_ms=%lld reason=\"%s\"",
            spw_tasks_size(self->tasks), (long long) self->config.drain_timeout_ms, why);
    char status[160];
    snprintf(status, sizeof status, "draining (%s): %zu tasks to finish", why,
             spw_tasks_size(self->tasks));
    spw_notify_stopping(status);
    spw_cloud_drain(self, now);
    self->state_dirty = true;
    self->avoid_changed = true;  // the hub hears it with the next state, now
}

//  Accepts a client's request as a task, or answers it at once with why not.
static void accept_request(spw_edge_t *self, spw_msg_t *msg, spw_client_kind_t kind,
                           uint64_t request_id, const char *service_name, size_t service_len,
                           uint32_t timeout_ms, size_t body_first, size_t body_count,
                           int64_t now)
{
    zmq_msg_t *client = &msg->frame[0];
    if (service_len == 0) {
        service_name = self->config.default_service;  // an empty service means it
        service_len = strlen(service_name);
    }
    if (service_len == strlen(SPW_STATS_SERVICE)
        && memcmp(service_name, SPW_STATS_SERVICE, service_len) == 0) {
        answer_stats(self, client, kind, request_id, now);
        return;
    }
    char reason[160];
    if (service_len == strlen(SPW_DRAIN_SERVICE)
        && memcmp(service_name, SPW_DRAIN_SERVICE, service_len) == 0) {
        if (!spw_edge_allowed(self, &self->frontend_drops, msg, SPW_ROLE_OPERATOR, NULL, 0,
                              now)) {
            send_reply(self, client, kind, request_id, SPW_STATUS_FORBIDDEN, 0, NULL, 0, 0,
                       "this key may not drain the edge");
            return;
        }
        int n = snprintf(reason, sizeof reason, "draining: %zu tasks held, at most %lld ms",
                         spw_tasks_size(self->tasks), (long long) self->config.drain_timeout_ms);
        spw_msg_t answer;
        spw_msg_init(&answer);
        spw_msg_add_mem(&answer, reason, (size_t) n < sizeof reason ? (size_t) n : sizeof reason - 1);
        send_reply(self, client, kind, request_id, SPW_STATUS_OK, 0, &answer, 0, answer.count,
                   NULL);
        spw_msg_reset(&answer);
        drain(self, "asked to (spillway drain)", now);
        return;
    }
    //  A draining edge sends native clients elsewhere; seed clients cannot go.
    if (self->draining && kind == SPW_CLIENT_NATIVE) {
        self->stats.busy++;
        send_reply(self, client, kind, request_id, SPW_STATUS_BUSY, 0, NULL, 0, 0,
                   "edge draining: send it to another edge");
        return;
    }
    //  With a hub, another edge may offer a service no local worker has:
    //  the task waits for credit (or the hub's word that no edge has it).
    bool has_hub = self->control != NULL;
    spw_service_t *service = spw_pool_service(self->pool, service_name, service_len, has_hub);
    if (!service || (!service->offered && (!has_hub || service->nobody))) {
        self->stats.no_service++;
        snprintf(reason, sizeof reason, "no worker offers service '%.*s'", (int) service_len,
                 service_name);
        send_reply(self, client, kind, request_id, SPW_STATUS_NO_SERVICE, 0, NULL, 0, 0, reason);
        return;
    }
    service->local_at = now;
    bool queue_full = !service->idle
                   && service->queue.size - service->lent_queued >= service->queue.limit;
    //  A client may ask for less time than the edge allows, never more: a
    //  deadline of 49 days would pin the task table.
    int64_t wanted = timeout_ms ? timeout_ms : self->config.task_timeout_ms;
    int64_t deadline = now + (wanted < self->config.max_timeout_ms ? wanted
                                                                    : self->config.max_timeout_ms);
    //  One client holds at most max_client_tasks: its replies, and what it
    //  costs the edge, stay bounded whatever it does.
    bool client_full = !queue_full
                    && !spw_clients_add(self->clients, zmq_msg_data(client), zmq_msg_size(client),
                                        (uint32_t) self->config.max_client_tasks);
    spw_task_t *task = queue_full || client_full
                         ? NULL
                         : spw_edge_new_task(self, msg, kind, request_id, service, deadline,
                                             body_first, body_count, now);
    if (!task) {
        self->stats.overloaded++;
        if (!queue_full && !client_full)
            spw_clients_remove(self->clients, zmq_msg_data(client), zmq_msg_size(client));
        if (queue_full)
            snprintf(reason, sizeof reason, "queue of service '%s' is full (%zu tasks)",
                     service->name, service->queue.limit);
        else if (client_full)
            snprintf(reason, sizeof reason,
                     "this client holds its limit of %lld tasks (max_client_tasks)",
                     (long long) self->config.max_client_tasks);
        else
            snprintf(reason, sizeof reason, "edge holds its limit of %zu tasks",
                     spw_tasks_limit(self->tasks));
        send_reply(self, client, kind, request_id, SPW_STATUS_OVERLOADED, 0, NULL, 0, 0, reason);
        return;
    }
    if (enqueue(task, false) != 0) {
        //  Not reached while "an idle worker means an empty queue" holds.
        self->stats.overloaded++;
        snprintf(reason, sizeof reason, "queue of service '%s' is full", service->name);
        spw_edge_finish(self, task, SPW_STATUS_OVERLOADED, NULL, 0, 0, reason);
        return;
    }
    spw_edge_dispatch(self, service, now);
    spw_cloud_delegate(self, service, now);
    spw_cloud_lend(self, service, now);  // its own clients first: maybe less to lend
}

spw_task_t *spw_edge_new_task(spw_edge_t *self, spw_msg_t *msg, spw_client_kind_t kind,
                              uint64_t request_id, spw_service_t *service, int64_t deadline,
                              size_t body_first, size_t body_count, int64_t now)
{
    spw_task_t *task = spw_tasks_add(self->tasks, deadline);
    if (!task)
        return NULL;
    self->stats.accepted++;
    zmq_msg_move(&task->client, &msg->frame[0]);
    task->client_kind = kind;
    task->request_id = request_id;
    task->service = service;
    task->accepted = now;
    for (size_t i = 0; i < body_count; i++) {
        zmq_msg_init(&task->body[i]);
        zmq_msg_move(&task->body[i], &msg->frame[body_first + i]);
    }
    task->body_count = body_count;
    return task;
}

//  Why a message is too big to take (more frames or bytes than the edge's
//  limits), written into text; NULL if it is not. The routing identity
//  (frame 0) is the edge's socket's, not the peer's: it does not count.
static const char *too_big(const spw_edge_t *self, const spw_msg_t *msg, char *text,
                           size_t size)
{
    size_t bytes = spw_msg_bytes(msg) - zmq_msg_size((zmq_msg_t *) &msg->frame[0]);
    if (msg->truncated)
        snprintf(text, size, "more than %d frames", SPW_MAX_FRAMES);
    else if ((int64_t) bytes > self->config.max_message_bytes)
        snprintf(text, size, "message of %zu bytes, over max_message_bytes %lld", bytes,
                 (long long) self->config.max_message_bytes);
    else
        return NULL;
    return text;
}

//  True if msg, from frame 1, is shaped as a REQUEST of the given header
//  up to a readable request id.
static bool request_shaped(const spw_msg_t *msg, const char *header)
{
    return msg->count > 3 && spw_msg_frame_is(msg, 1, header, SPW_PROTO_HEADER_LEN)
        && spw_msg_frame_is(msg, 2, (uint8_t[]) { SPW_CMD_REQUEST }, 1)
        && zmq_msg_size(&msg->frame[3]) == 8;
}

//  An SPW1 client's request: answered in SPW1's layout, the only one it
//  reads, so that it fails at once and says why.
static void refuse_old_client(spw_edge_t *self, spw_msg_t *msg)
{
    static const char why[] = "this edge speaks SPW2; the client speaks SPW1";
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, &msg->frame[0]);
    spw_proto_put_v1_reply(&out, spw_get_u64(zmq_msg_data(&msg->frame[3])),
                           SPW_STATUS_BAD_REQUEST);
    spw_msg_add_mem(&out, why, sizeof why - 1);
    self->stats.bad_requests++;
    if (spw_msg_send(&out, self->frontend, ZMQ_DONTWAIT) != 0)
        self->stats.unroutable++;
}

//  Answers a client's message the edge will not take with status
//  (bad-request or too-large), if it can be answered: a seed REQ client
//  always (it waits for a reply), a native client when its request id can
//  be read. Then drops it.
static void refuse_request(spw_edge_t *self, spw_msg_t *msg, spw_status_t status,
                           const char *why, int64_t now)
{
    bool seed = zmq_msg_size(&msg->frame[1]) == 0;
    bool has_id = request_shaped(msg, SPW_PROTO_HEADER);
    if (seed || has_id) {
        if (status == SPW_STATUS_TOO_LARGE)
            self->stats.too_large++;
        else if (status == SPW_STATUS_BAD_REQUEST)
            self->stats.bad_requests++;
        //  A seed client's reply says "error: STATUS: " already.
        char reason[160];
        snprintf(reason, sizeof reason, "%s%s",
                 seed                                ? ""
                 : status == SPW_STATUS_TOO_LARGE   ? "too large: "
                 : status == SPW_STATUS_BAD_REQUEST ? "bad request: "
                                                    : "",
                 why);
        send_reply(self, &msg->frame[0], seed ? SPW_CLIENT_SEED : SPW_CLIENT_NATIVE,
                   has_id ? spw_get_u64(zmq_msg_data(&msg->frame[3])) : 0, status, 0, NULL, 0,
                   0, reason);
    }
    else if (request_shaped(msg, SPW_PROTO_HEADER_V1))
        refuse_old_client(self, msg);
    //  A forbidden message was counted and logged, with its key, already.
    if (status != SPW_STATUS_FORBIDDEN)
        spw_edge_drop(self, &self->frontend_drops, msg, why, now);
}

//  With CURVE, a client's key must have the client role; the operator role
//  may ask for the edge's stats only.
static bool client_allowed(spw_edge_t *self, spw_msg_t *msg, int64_t now)
{
    //  Clients pass at once (a drain they ask for is refused where it is
    //  answered); an operator may ask for the stats or a drain only.
    zmq_msg_t *peer = &msg->frame[1];
    if (spw_curve_peer_is(peer, SPW_ROLE_CLIENT))
        return true;
    spw_proto_t request;
    bool native = spw_curve_peer_is(peer, SPW_ROLE_OPERATOR)
               && spw_proto_decode(msg, 1, &request, NULL) == 0
               && request.cmd == SPW_CMD_REQUEST;
    bool internal = native
                 && ((request.service_len == strlen(SPW_STATS_SERVICE)
                      && memcmp(request.service, SPW_STATS_SERVICE, request.service_len) == 0)
                     || (request.service_len == strlen(SPW_DRAIN_SERVICE)
                         && memcmp(request.service, SPW_DRAIN_SERVICE, request.service_len)
                                == 0));
    return internal || spw_edge_allowed(self, &self->frontend_drops, msg, SPW_ROLE_CLIENT, NULL,
                                        0, now);
}

//  One message from the frontend: a seed REQ client's [id]["" ][body...] or
//  a native client's [id]["SPW2"][REQUEST]...
static void on_client(void *arg, spw_msg_t *msg, int64_t now)
{
    spw_edge_t *self = arg;
    if (msg->count < 3) {
        spw_edge_drop(self, &self->frontend_drops, msg, "too few frames", now);
        return;
    }
    if (self->curve && !client_allowed(self, msg, now)) {
        refuse_request(self, msg, SPW_STATUS_FORBIDDEN, "this key may not submit tasks here", now);
        return;
    }
    char text[120];
    const char *big = too_big(self, msg, text, sizeof text);
    if (big) {
        refuse_request(self, msg, SPW_STATUS_TOO_LARGE, big, now);
        return;
    }
    if (zmq_msg_size(&msg->frame[1]) == 0) {
        size_t body_count = msg->count - 2;
        if (body_count > SPW_MAX_BODY_FRAMES) {
            refuse_request(self, msg, SPW_STATUS_TOO_LARGE, "too many body frames", now);
            return;
        }
        const char *service = self->config.default_service;
        accept_request(self, msg, SPW_CLIENT_SEED, 0, service, strlen(service), 0, 2,
                       body_count, now);
        return;
    }
    spw_proto_t request;
    const char *why = NULL;
    if (spw_proto_decode(msg, 1, &request, &why) != 0) {
        refuse_request(self, msg,
                       errno == EMSGSIZE ? SPW_STATUS_TOO_LARGE : SPW_STATUS_BAD_REQUEST, why,
                       now);
        return;
    }
    if (request.cmd != SPW_CMD_REQUEST) {
        spw_edge_drop_as(self, &self->frontend_drops, SPW_DROP_UNEXPECTED, msg, "command not allowed from a client", now);
        return;
    }
    accept_request(self, msg, SPW_CLIENT_NATIVE, request.id, request.service,
                   request.service_len, request.timeout_ms, request.body_first,
                   request.body_count, now);
}

//  The task of key if worker runs it, else NULL.
static spw_task_t *task_of(spw_edge_t *self, const spw_pool_worker_t *worker, uint64_t key)
{
    spw_task_t *task = worker ? spw_tasks_find(self->tasks, key) : NULL;
    return task && task->state == SPW_TASK_RUNNING && task->worker == worker ? task : NULL;
}

//  A worker's answer to task key: delivered to the client if the task runs
//  on that worker; any other answer (late, duplicate, from a peer that is
//  not a worker, or for another worker's task) is dropped and counted. A
//  worker answering the task it runs is idle from then on, and counted so
//  before the task ends: a borrower's task then renews its credit on the
//  DONE, instead of the credit being revoked for a worker that seems busy
//  and offered again a moment later.
static void deliver(spw_edge_t *self, spw_pool_worker_t *worker, uint64_t key,
                    spw_status_t status, spw_msg_t *msg, size_t first, size_t count, int64_t now)
{
    spw_task_t *task = task_of(self, worker, key);
    if (!task) {
        self->stats.late_replies++;
        spw_log(SPW_LOG_DEBUG, "reply_dropped", "task=%llx reason=\"%s\"",
                (unsigned long long) key,
                worker ? "not a task this worker runs" : "not from a worker");
        //  The answer to a task that ended here meanwhile (it timed out)
        //  frees the slot it held.
        if (worker && worker->busy > worker->running)
            free_slot(self, worker, now);
        return;
    }
    unassign(task);
    free_slot(self, worker, now);
    if (status != SPW_STATUS_OK)
        status = SPW_STATUS_TASK_ERROR;
    spw_edge_finish(self, task, status, msg, first, count, "the worker reported an error");
}

//  A worker's answer to the task it runs that the edge cannot take: the
//  client hears so at once, with status (too-large, or task-error for a
//  status the edge does not know), and the worker is idle, as after any
//  answer.
static void refuse_answer(spw_edge_t *self, spw_pool_worker_t *worker, spw_task_t *task,
                          spw_msg_t *msg, spw_status_t status, const char *why, int64_t now)
{
    spw_edge_drop(self, &self->backend_drops, msg, why, now);
    unassign(task);
    free_slot(self, worker, now);
    char reason[200];
    snprintf(reason, sizeof reason, "the worker's reply could not be taken: %s", why);
    spw_edge_finish(self, task, status, NULL, 0, 0, reason);
}

//  Sends a native worker away (DISCONNECT), saying why and how long to
//  wait before it says READY again.
static void dismiss(spw_edge_t *self, const void *identity, size_t len, const char *reason,
                    uint32_t retry_ms)
{
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_mem(&out, identity, len);
    spw_proto_put_dismiss(&out, reason, retry_ms);
    spw_msg_send(&out, self->backend, ZMQ_DONTWAIT);
}

//  Sends away a peer whose message the edge cannot take, saying why: it
//  may try again after a heartbeat.
static void dismiss_malformed(spw_edge_t *self, const void *identity, size_t len,
                              const char *why)
{
    char reason[160];
    snprintf(reason, sizeof reason, "malformed: %s", why);
    dismiss(self, identity, len, reason, (uint32_t) self->config.heartbeat_ms);
}

//  Tells a worker whose READY the edge took what it must keep to: the
//  heartbeat and liveness, the slots it will fill, the largest message.
static void accept_worker(spw_edge_t *self, const spw_pool_worker_t *worker, uint32_t slots)
{
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_mem(&out, worker->identity.data, worker->identity.len);
    spw_proto_put_accepted(&out, (uint32_t) self->config.heartbeat_ms,
                           (uint32_t) self->config.liveness, slots,
                           (uint32_t) self->config.max_message_bytes);
    spw_msg_send(&out, self->backend, ZMQ_DONTWAIT);
}

//  A READY the edge will not take, from the peer of msg: it hears why, and
//  to come back after a liveness, when there may be room.
static void refuse_ready(spw_edge_t *self, spw_msg_t *msg, const char *why, int64_t now)
{
    dismiss(self, zmq_msg_data(&msg->frame[0]), zmq_msg_size(&msg->frame[0]), why,
            (uint32_t) self->liveness_ms);
    spw_edge_drop(self, &self->backend_drops, msg, why, now);
}

//  A message from a known worker that is no answer the edge can take and
//  no command it allows: the worker is told to go (DISCONNECT, to come back
//  after a heartbeat) and forgotten, and its task goes back to the queue at
//  once.
static void refuse_worker(spw_edge_t *self, spw_pool_worker_t *worker, spw_msg_t *msg,
                          const char *why, int64_t now)
{
    spw_edge_drop(self, &self->backend_drops, msg, why, now);
    if (worker->kind == SPW_WORKER_NATIVE)
        dismiss_malformed(self, worker->identity.data, worker->identity.len, why);
    lose_worker(self, worker, why, now);
}

//  The task key of a message shaped as an answer, even if the rest is not:
//  a seed REQ worker's [id][""][key][""]..., a native [id]["SPW2"][RESULT]
//  [key].... False if there is none to read.
static bool answer_key(const spw_msg_t *msg, spw_worker_kind_t kind, uint64_t *key)
{
    bool shaped = kind == SPW_WORKER_SEED
                    ? msg->count >= 4 && zmq_msg_size(&msg->frame[2]) == 8
                          && zmq_msg_size(&msg->frame[3]) == 0
                    : msg->count >= 4
                          && spw_msg_frame_is(msg, 1, SPW_PROTO_HEADER, SPW_PROTO_HEADER_LEN)
                          && spw_msg_frame_is(msg, 2, (uint8_t[]) { SPW_CMD_RESULT }, 1)
                          && zmq_msg_size(&msg->frame[3]) == 8;
    if (shaped)
        *key = spw_get_u64(zmq_msg_data((zmq_msg_t *) &msg->frame[kind == SPW_WORKER_SEED ? 2 : 3]));
    return shaped;
}

//  The task msg answers, by its key, if worker runs it; else NULL.
static spw_task_t *answered_task(spw_edge_t *self, const spw_msg_t *msg,
                                 const spw_pool_worker_t *worker)
{
    uint64_t key;
    return worker && answer_key(msg, worker->kind, &key) ? task_of(self, worker, key) : NULL;
}

//  With CURVE, a worker's key must have the worker role and list the
//  service (or *) among its services.
static bool may_offer(spw_edge_t *self, spw_msg_t *msg, const char *service, size_t len,
                      int64_t now)
{
    if (!self->curve)
        return true;
    const char *services = spw_curve_peer_property(&msg->frame[1], "services");
    if (spw_curve_list_has(services, service, len, true))
        return spw_edge_allowed(self, &self->backend_drops, msg, SPW_ROLE_WORKER, NULL, 0, now);
    forbid(self, &self->backend_drops, msg, "worker of this service", NULL, 0, now);
    return false;
}

//  A seed REQ worker: [id][""]["READY"] or [id][""][task key][""][body...].
//  big says why the message is too big to take (NULL if it is not).
static void on_seed_worker(spw_edge_t *self, spw_msg_t *msg, spw_pool_worker_t *worker,
                           const char *big, int64_t now)
{
    spw_drops_t *drops = &self->backend_drops;
    if (worker && worker->kind != SPW_WORKER_SEED) {
        refuse_worker(self, worker, msg, "native worker sent a REQ envelope", now);
        return;
    }
    const char *why = big;
    if (!why && msg->count > 4 + SPW_MAX_BODY_FRAMES)
        why = "too many body frames";
    uint64_t key = 0;
    bool ready = !why && msg->count == 3 && spw_msg_frame_is(msg, 2, "READY", 5);
    bool result = !why && msg->count >= 5 && answer_key(msg, SPW_WORKER_SEED, &key);
    if (!worker && !ready && !result) {
        spw_edge_drop(self, drops, msg, why ? why : "neither READY nor a returned task", now);
        return;
    }
    if (!worker) {
        //  New, or one we gave up on: it is alive (an answer of its is late).
        const char *name = self->config.default_service;
        if (!may_offer(self, msg, name, strlen(name), now))
            return;
        spw_service_t *service = spw_pool_service(self->pool, name, strlen(name), true);
        worker = service ? spw_pool_add(self->pool, zmq_msg_data(&msg->frame[0]),
                                        zmq_msg_size(&msg->frame[0]), SPW_WORKER_SEED, service)
                         : NULL;
        if (!worker) {
            spw_edge_drop_as(self, drops, SPW_DROP_FULL, msg, "worker pool or service table full", now);
            return;
        }
    }
    spw_task_t *refused = why ? answered_task(self, msg, worker) : NULL;
    if (refused)
        refuse_answer(self, worker, refused, msg, SPW_STATUS_TOO_LARGE, why, now);
    else if (result)
        deliver(self, worker, key, SPW_STATUS_OK, msg, 4, msg->count - 4, now);
    else if (!ready)
        spw_edge_drop(self, drops, msg, why ? why : "neither READY nor a returned task", now);
    //  Whatever a REQ worker sent, it now waits for a request: it is idle,
    //  and a task it held and did not answer goes back to the queue.
    spw_task_t *held = take_all(worker);
    worker_ready(self, worker, 1, now);
    requeue_list(self, held, "worker answered something else", now);
}

//  A native worker: [id]["SPW2"][command]...
//  big says why the message is too big to take (NULL if it is not).
static void on_native_worker(spw_edge_t *self, spw_msg_t *msg, spw_pool_worker_t *worker,
                             const char *big, int64_t now)
{
    spw_drops_t *drops = &self->backend_drops;
    spw_proto_t in;
    const char *why = big;
    if (why || spw_proto_decode(msg, 1, &in, &why) != 0) {
        //  Every message of a worker ends its way: an answer to its task
        //  that cannot be taken ends the task, anything else the worker.
        spw_status_t status = big || errno == EMSGSIZE ? SPW_STATUS_TOO_LARGE
                                                       : SPW_STATUS_TASK_ERROR;
        spw_task_t *refused = answered_task(self, msg, worker);
        if (refused) {
            refuse_answer(self, worker, refused, msg, status, why, now);
            worker_free(self, worker, now);
        }
        else if (worker)
            refuse_worker(self, worker, msg, why, now);
        else if (spw_msg_frame_is(msg, 1, SPW_PROTO_HEADER, SPW_PROTO_HEADER_LEN)) {
            //  A peer of our version (a READY it got wrong, most likely)
            //  hears why too.
            dismiss_malformed(self, zmq_msg_data(&msg->frame[0]), zmq_msg_size(&msg->frame[0]),
                              why);
            spw_edge_drop(self, drops, msg, why, now);
        }
        else
            spw_edge_drop(self, drops, msg, why, now);
        return;
    }
    if (worker && worker->kind != SPW_WORKER_NATIVE) {
        refuse_worker(self, worker, msg, "REQ worker sent a native command", now);
        return;
    }
    switch (in.cmd) {
    case SPW_CMD_READY: {
        const char *offered = in.service_len ? in.service : self->config.default_service;
        size_t len = in.service_len ? in.service_len : strlen(offered);
        if (len >= strlen(SPW_INTERNAL_PREFIX)
            && memcmp(offered, SPW_INTERNAL_PREFIX, strlen(SPW_INTERNAL_PREFIX)) == 0) {
            const char *why = "service names starting with " SPW_INTERNAL_PREFIX " are the edge's";
            if (worker)
                lose_worker(self, worker, why, now);
            refuse_ready(self, msg, why, now);
            return;
        }
        if (!may_offer(self, msg, offered, len, now)) {
            if (worker)
                lose_worker(self, worker, "its key may not offer the service", now);
            refuse_ready(self, msg, "forbidden: this key may not offer the service", now);
            return;
        }
        spw_service_t *service = spw_pool_service(self->pool, offered, len, true);
        if (!service) {
            if (worker)
                lose_worker(self, worker, "its new service did not fit", now);
            refuse_ready(self, msg, "the edge has max_services services", now);
            return;
        }
        //  With CURVE one key's workers offer at most max_key_slots slots; a
        //  READY again counts the worker afresh.
        const char *key = self->curve ? spw_curve_peer_key(&msg->frame[1]) : NULL;
        if (worker)
            uncount_key(self, worker);
        if (key && !spw_clients_add_n(self->key_slots, key, strlen(key), in.count,
                                      (uint32_t) self->config.max_key_slots)) {
            if (worker)
                lose_worker(self, worker, "its key offers max_key_slots slots", now);
            refuse_ready(self, msg, "the workers of this key offer max_key_slots slots here", now);
            return;
        }
        //  Tasks it held and did not answer go back to the queue once it is
        //  ready (they may come back to it).
        spw_task_t *held = worker ? take_all(worker) : NULL;
        if (worker) {
            if (worker->service != service) {
                spw_pool_remove(self->pool, worker);
                worker = NULL;
            }
        }
        if (!worker)
            worker = spw_pool_add(self->pool, zmq_msg_data(&msg->frame[0]),
                                  zmq_msg_size(&msg->frame[0]), SPW_WORKER_NATIVE, service);
        if (!worker) {
            if (key)
                spw_clients_remove_n(self->key_slots, key, strlen(key), in.count);
            requeue_list(self, held, "worker said READY again", now);
            refuse_ready(self, msg, "the edge has max_workers workers", now);
            return;
        }
        if (key) {
            snprintf(worker->key, sizeof worker->key, "%s", key);
            worker->key_slots = in.count;
        }
        char name[80];
        spw_log(SPW_LOG_INFO, "worker_ready", "service=%s worker=%s workers=%zu",
                service->name,
                spw_log_bytes(worker->identity.data, worker->identity.len, name, sizeof name),
                service->workers);
        accept_worker(self, worker, in.count);
        worker_ready(self, worker, in.count, now);
        requeue_list(self, held, "worker said READY again", now);
        return;
    }
    case SPW_CMD_RESULT:
        deliver(self, worker, in.id, in.status, msg, in.body_first, in.body_count, now);
        if (worker) {
            worker_free(self, worker, now);
            return;
        }
        break;
    case SPW_CMD_HEARTBEAT:
        if (worker) {
            worker->expires = now + self->liveness_ms;
            return;
        }
        break;
    case SPW_CMD_DISCONNECT:
        if (worker)
            lose_worker(self, worker, "worker disconnected", now);
        return;
    default:
        if (worker)
            refuse_worker(self, worker, msg, "command not allowed from a worker", now);
        else
            spw_edge_drop_as(self, drops, SPW_DROP_UNEXPECTED, msg, "command not allowed from a worker", now);
        return;
    }
    //  A worker we do not know (we restarted, or declared it dead): tell it
    //  to reconnect and say READY.
    dismiss(self, zmq_msg_data(&msg->frame[0]), zmq_msg_size(&msg->frame[0]),
            "unknown worker: say READY", 0);
}

static void on_worker(void *arg, spw_msg_t *msg, int64_t now)
{
    spw_edge_t *self = arg;
    if (msg->count < 2) {
        spw_edge_drop(self, &self->backend_drops, msg, "too few frames", now);
        return;
    }
    char text[120];
    const char *big = too_big(self, msg, text, sizeof text);
    zmq_msg_t *id = &msg->frame[0];
    spw_pool_worker_t *worker = spw_pool_find(self->pool, zmq_msg_data(id), zmq_msg_size(id));
    if (zmq_msg_size(&msg->frame[1]) == 0)
        on_seed_worker(self, msg, worker, big, now);
    else
        on_native_worker(self, msg, worker, big, now);
}

//  Heartbeats to native workers, and the end of the silent and the stuck.
static void measure_rate(spw_service_t *service, void *arg)
{
    int64_t interval_ms = *(int64_t *) arg;
    uint64_t served = service->done - service->done_at_last_tick;
    service->done_at_last_tick = service->done;
    if (interval_ms > 0)
        service->rate_milli = (uint32_t) (served * 1000000u / (uint64_t) interval_ms);
}

//  Services to forget this tick: nothing uses them, and either no local
//  worker ever offered them (a client named them) or none has for a whole
//  task timeout. So a client cannot fill the table with names for good.
typedef struct {
    spw_edge_t *edge;
    int64_t now;
    spw_service_t *unused[64];
    size_t count;
} spw_unused_t;

static void find_unused(spw_service_t *service, void *arg)
{
    spw_unused_t *found = arg;
    bool busy = service->workers || service->queue.size || service->running
             || service->delegated || spw_cloud_uses_service(found->edge, service);
    if (busy || !service->last_busy) {
        service->last_busy = found->now;
        return;
    }
    bool stale = !service->offered
              || found->now - service->last_busy >= found->edge->config.task_timeout_ms;
    if (stale && found->count < sizeof found->unused / sizeof found->unused[0])
        found->unused[found->count++] = service;
}

static void forget_unused_services(spw_edge_t *self, int64_t now)
{
    spw_unused_t found = { .edge = self, .now = now };
    spw_pool_each_service(self->pool, find_unused, &found);
    for (size_t i = 0; i < found.count; i++) {
        spw_log(SPW_LOG_DEBUG, "service_forgotten", "service=%s", found.unused[i]->name);
        spw_cloud_forget_service(self, found.unused[i]);
        spw_pool_forget_service(self->pool, found.unused[i]);
    }
}

static void tick(spw_edge_t *self, int64_t now)
{
    if (self->curve)
        self->stats.handshakes_refused += spw_curve_tick(self->curve);
    for (size_t l = 0; l < self->listener_count; l++)
        spw_connections_sweep(self->listeners[l], 1);
    int64_t interval_ms = self->config.heartbeat_ms;
    spw_pool_each_service(self->pool, measure_rate, &interval_ms);
    forget_unused_services(self, now);
    spw_pool_worker_t *worker;
    while ((worker = spw_pool_expired(self->pool, now))) {
        if (worker->kind == SPW_WORKER_NATIVE)
            self->silent.workers++;
        lose_worker(self, worker,
                    worker->kind == SPW_WORKER_NATIVE ? "silent for liveness x heartbeat"
                                                      : "seed worker took too long",
                    now);
    }
    for (worker = spw_pool_first(self->pool); worker; worker = spw_pool_next(worker)) {
        if (worker->kind != SPW_WORKER_NATIVE)
            continue;
        spw_msg_t out;
        spw_msg_init(&out);
        spw_msg_add_mem(&out, worker->identity.data, worker->identity.len);
        spw_proto_put_heartbeat(&out);
        spw_msg_send(&out, self->backend, ZMQ_DONTWAIT);
    }
    spw_edge_publish_http(self, now);
    spw_notify_status("%s: %zu workers, %zu tasks, hub %s", self->draining ? "draining" : "serving",
                      spw_pool_size(self->pool), spw_tasks_size(self->tasks),
                      self->hub_state == SPW_HUB_JOINED        ? "joined"
                      : self->hub_state == SPW_HUB_REGISTERING ? "registering"
                                                               : "off");
}

static void expire_tasks(spw_edge_t *self, int64_t now)
{
    spw_task_t *task;
    while ((task = spw_tasks_expired(self->tasks, now))) {
        char reason[120];
        snprintf(reason, sizeof reason, "no reply within %lld ms",
                 (long long) (task->deadline - task->accepted));
        spw_log(SPW_LOG_INFO, "task_timeout", "service=%s attempts=%d state=%s",
                task->service->name, task->attempts,
                task->state == SPW_TASK_QUEUED    ? "queued"
                : task->state == SPW_TASK_DELEGATED ? "delegated"
                                                    : "running");
        spw_edge_finish(self, task, SPW_STATUS_TIMEOUT, NULL, 0, 0, reason);
    }
}

typedef struct {
    spw_text_t *text;
    spw_edge_t *edge;
} spw_stats_pass_t;

static void add_service_stats(spw_service_t *service, void *arg)
{
    spw_stats_pass_t *pass = arg;
    spw_credit_t *credit = pass->edge->credit;
    spw_text_printf(pass->text,
             "service=%s workers=%zu slots=%zu idle=%zu queued=%zu running=%zu delegated=%zu "
             "done=%llu lent=%zu prefetched=%zu credit_out=%u credit_held=%u\n",
             service->name, service->workers, service->slots, service->idle,
             service->queue.size - service->lent_queued, service->running, service->delegated,
             (unsigned long long) service->done, service->lent_running, service->lent_queued,
             credit ? spw_credit_lent(credit, service) : 0,
             credit ? spw_credit_held(credit, service, pass->edge->now) : 0);
}

static size_t open_connections(const spw_edge_t *self)
{
    size_t open = 0;
    for (size_t l = 0; l < self->listener_count; l++)
        open += spw_connections_open(self->listeners[l]);
    return open;
}

static uint64_t refused_connections(const spw_edge_t *self)
{
    uint64_t refused = 0;
    for (size_t l = 0; l < self->listener_count; l++)
        refused += spw_connections_refused(self->listeners[l]);
    return refused;
}

static void answer_stats(spw_edge_t *self, zmq_msg_t *client, spw_client_kind_t kind,
                         uint64_t request_id, int64_t now)
{
    spw_text_t text = { 0 };
    spw_text_printf(&text,
             "schema=%d edge=%s uptime_ms=%lld workers=%zu tasks=%zu accepted=%llu done=%llu "
             "task_errors=%llu timeouts=%llu failed=%llu overloaded=%llu no_service=%llu "
             "bad_requests=%llu too_large=%llu forbidden=%llu handshakes_refused=%llu "
             "connections=%zu connections_refused=%llu "
             "lenders_cut=%llu requeued=%llu late_replies=%llu unroutable=%llu "
             "workers_lost=%llu dropped_frontend=%llu dropped_backend=%llu "
             "delegated_out=%llu delegated_in=%llu busy=%llu served_by_others=%llu hub=%s "
             "draining=%d\n",
             SPW_EDGE_STATS_SCHEMA, self->config.name, (long long) (now - self->started), spw_pool_size(self->pool),
             spw_tasks_size(self->tasks), (unsigned long long) self->stats.accepted,
             (unsigned long long) self->stats.done, (unsigned long long) self->stats.task_errors,
             (unsigned long long) self->stats.timeouts, (unsigned long long) self->stats.failed,
             (unsigned long long) self->stats.overloaded,
             (unsigned long long) self->stats.no_service,
             (unsigned long long) self->stats.bad_requests,
             (unsigned long long) self->stats.too_large,
             (unsigned long long) self->stats.forbidden,
             (unsigned long long) self->stats.handshakes_refused, open_connections(self),
             (unsigned long long) refused_connections(self),
             (unsigned long long) self->stats.lenders_cut,
             (unsigned long long) self->stats.requeued,
             (unsigned long long) self->stats.late_replies,
             (unsigned long long) self->stats.unroutable,
             (unsigned long long) self->stats.workers_lost,
             (unsigned long long) self->frontend_drops.count,
             (unsigned long long) self->backend_drops.count,
             (unsigned long long) self->stats.delegated_out,
             (unsigned long long) self->stats.delegated_in, (unsigned long long) self->stats.busy,
             (unsigned long long) self->stats.served_by_others,
             self->hub_state == SPW_HUB_JOINED        ? "joined"
             : self->hub_state == SPW_HUB_REGISTERING ? "registering"
                                                      : "off",
             self->draining ? 1 : 0);
    spw_stats_pass_t pass = { &text, self };
    spw_pool_each_service(self->pool, add_service_stats, &pass);
    spw_msg_t body;
    spw_msg_init(&body);
    if (text.failed)
        spw_msg_add_mem(&body, "out of memory\n", 14);
    else
        spw_msg_add_mem(&body, text.data, text.len);
    send_reply(self, client, kind, request_id, text.failed ? SPW_STATUS_FAILED : SPW_STATUS_OK, 0,
               &body, 0, 1, NULL);
    spw_msg_reset(&body);
    spw_text_free(&text);
}

spw_edge_t *spw_edge_new(const spw_edge_config_t *config, char *err, size_t errlen)
{
    spw_edge_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (*config->hub && config->credit_lease_ms < 2 * config->heartbeat_ms) {
        snprintf(err, errlen,
                 "credit_lease_ms (%lld) must be at least twice heartbeat_ms (%lld): "
                 "a lender renews credit once a heartbeat",
                 (long long) config->credit_lease_ms, (long long) config->heartbeat_ms);
        free(self);
        return NULL;
    }
    self->config = *config;
    self->liveness_ms = config->heartbeat_ms * config->liveness;
    self->frontend_drops.name = "frontend";
    self->backend_drops.name = "backend";
    self->hub_drops.name = "hub";
    self->cloud_drops.name = "cloud";
    if (*config->curve_dir) {
        self->curve = spw_curve_new(config->curve_dir, config->name, err, errlen);
        if (!self->curve) {
            spw_edge_destroy(&self);
            return NULL;
        }
        spw_curve_keys(self->curve, NULL, &self->curve_keys);
    }
    self->ctx = self->curve ? spw_curve_context(self->curve) : zmq_ctx_new();
    self->pool = spw_pool_new((size_t) config->max_workers, (size_t) config->max_services,
                              (size_t) config->queue_max);
    self->tasks = spw_tasks_new((size_t) config->max_tasks);
    self->clients = spw_clients_new();
    self->key_slots = spw_clients_new();
    if (!self->ctx || !self->pool || !self->tasks || !self->clients || !self->key_slots) {
        snprintf(err, errlen, "out of memory");
        spw_edge_destroy(&self);
        return NULL;
    }
    //  Replies to one client may pile up to the whole task table.
    //  libzmq drops the connection of a peer whose frame is over the
    //  socket's limit, with nothing said to it; frames up to twice
    //  max_message_bytes are read, so that a message over the limit is
    //  answered (bad-request, or task-error for a worker's reply).
    int64_t frame_limit = config->max_message_bytes * SPW_EDGE_FRAME_LIMIT_FACTOR;
    //  A client's replies queue up to its task limit (and a little more, for
    //  answers the edge gives at once), not to the task table: one that
    //  does not read costs at most that many messages.
    spw_socket_opts_t front = spw_edge_server_opts(
        self, frame_limit, (int) config->max_client_tasks + SPW_EDGE_REPLY_SLACK);
    spw_socket_opts_t back = spw_edge_server_opts(self, frame_limit, 1000);
    self->frontend = spw_socket_new(self->ctx, ZMQ_ROUTER, &front);
    self->backend = spw_socket_new(self->ctx, ZMQ_ROUTER, &back);
    if (!self->frontend || !self->backend) {
        snprintf(err, errlen, "cannot create sockets: %s", zmq_strerror(errno));
        spw_edge_destroy(&self);
        return NULL;
    }
    if (spw_socket_bind(self->frontend, config->frontend, err, errlen) != 0
        || spw_socket_bind(self->backend, config->backend, err, errlen) != 0) {
        spw_edge_destroy(&self);
        return NULL;
    }
    if (spw_cloud_start(self, err, errlen) != 0 || spw_hublink_start(self, err, errlen) != 0) {
        spw_edge_destroy(&self);
        return NULL;
    }
    void *const bound[] = { self->frontend, self->backend, self->cloud };
    static const char *const bound_names[] = { "frontend", "backend", "cloud" };
    self->listener_count = self->cloud ? 3 : 2;
    if (spw_connections_watch(self->ctx, bound, bound_names, self->listener_count,
                              (size_t) config->max_connections, self->listeners, err, errlen)
        != 0) {
        spw_edge_destroy(&self);
        return NULL;
    }
    self->started = spw_clock_ms();
    if (*config->http) {
        self->http = spw_http_open(config->http, config->http_token_file, *config->curve_dir,
                                   err, errlen);
        if (!self->http) {
            spw_edge_destroy(&self);
            return NULL;
        }
        spw_edge_publish_http(self, self->started);
    }
    self->next_heartbeat = self->started + config->heartbeat_ms;
    return self;
}

typedef struct {
    spw_edge_t *edge;
    size_t hub;
} spw_hub_link_t;

static void on_hub(void *arg, spw_msg_t *msg, int64_t now)
{
    spw_hub_link_t *link = arg;
    spw_hublink_on_hub(link->edge, link->hub, msg, now);
}

static void on_cloud(void *self, spw_msg_t *msg, int64_t now)
{
    spw_cloud_on_request(self, msg, now);
}

typedef struct {
    spw_edge_t *edge;
    spw_peer_t *peer;
} spw_peer_link_t;

static void on_peer(void *arg, spw_msg_t *msg, int64_t now)
{
    spw_peer_link_t *link = arg;
    spw_cloud_on_peer(link->edge, link->peer, msg, now);
}

int spw_edge_run(spw_edge_t *self, volatile sig_atomic_t *stop)
{
    spw_log(SPW_LOG_INFO, "started",
            "frontend=%s backend=%s cloud=%s hub=%s http=%s default_service=%s",
            self->config.frontend, self->config.backend, self->cloud ? self->config.cloud : "-",
            self->control ? self->config.hub : "-", *self->config.http ? self->config.http : "off",
            self->config.default_service);
    spw_notify_ready("serving");
    int rc = 0;
    sig_atomic_t signals = 0;
    while (!self->fatal) {
        spw_daemon_check_reload();
        //  SIGTERM drains; SIGINT, or a second signal, stops at once.
        if (*stop != signals) {
            signals = *stop;
            if (signals > 1 || spw_daemon_last_signal() != SIGTERM || self->draining)
                break;
            drain(self, "SIGTERM", spw_clock_ms());
        }
        if (self->draining
            && (spw_tasks_size(self->tasks) == 0 || spw_clock_ms() >= self->drain_until))
            break;
        //  The poll set changes as links to peers come and go.
        zmq_pollitem_t items[3 + SPW_ENDPOINT_LIST + 3 + SPW_EDGE_MAX_PEERS];
        spw_peer_t *polled[SPW_EDGE_MAX_PEERS];
        size_t n = 0;
        items[n++] = (zmq_pollitem_t) { self->backend, 0, ZMQ_POLLIN, 0 };
        items[n++] = (zmq_pollitem_t) { self->frontend, 0, ZMQ_POLLIN, 0 };
        size_t hubs_at = n;
        for (size_t h = 0; h < self->hub_count; h++)
            items[n++] = (zmq_pollitem_t) { self->hubs[h], 0, ZMQ_POLLIN, 0 };
        size_t hubs_polled = self->hub_count;
        size_t cloud_at = self->cloud ? n++ : SIZE_MAX;
        if (self->cloud)
            items[cloud_at] = (zmq_pollitem_t) { self->cloud, 0, ZMQ_POLLIN, 0 };
        size_t listeners_at = n;
        for (size_t l = 0; l < self->listener_count; l++)
            items[n++] = (zmq_pollitem_t) { spw_connections_socket(self->listeners[l]), 0,
                                            ZMQ_POLLIN, 0 };
        size_t peers_at = n;
        for (size_t p = 0; p < self->peer_count; p++) {
            polled[p] = self->peers[p];
            items[n++] = (zmq_pollitem_t) { self->peers[p]->socket, 0, ZMQ_POLLIN, 0 };
        }
        size_t peers_polled = self->peer_count;

        int64_t now = spw_clock_ms();
        int64_t wake = spw_tasks_next_deadline(self->tasks);
        if (wake > self->next_heartbeat)
            wake = self->next_heartbeat;
        if (self->control && wake > self->next_hub_beat)
            wake = self->next_hub_beat;
        if (self->state_dirty && spw_hublink_joined(self)
            && wake > self->state_sent + SPW_EDGE_STATE_COALESCE_MS)
            wake = self->state_sent + SPW_EDGE_STATE_COALESCE_MS;
        if (self->settles_at && wake > self->settles_at)
            wake = self->settles_at;
        if (self->draining && wake > self->drain_until)
            wake = self->drain_until;
        if (wake > spw_hublink_next_watch(self))
            wake = spw_hublink_next_watch(self);
        int64_t ping = spw_notify_watchdog(now);
        if (wake > ping)
            wake = ping;
        long timeout = wake > now ? (long) (wake - now) : 0;
        if (zmq_poll(items, (int) n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            spw_log(SPW_LOG_ERROR, "poll_failed", "error=\"%s\"", zmq_strerror(errno));
            rc = -1;
            break;
        }
        now = spw_clock_ms();
        self->now = now;
        for (size_t l = 0; l < self->listener_count; l++)
            if (items[listeners_at + l].revents & ZMQ_POLLIN)
                spw_connections_on_events(self->listeners[l], now);
        if ((items[0].revents & ZMQ_POLLIN)
            && spw_msg_drain_all(self->backend, SPW_EDGE_BATCH, on_worker, self, &self->backend_drops, 0, now) != 0)
            rc = -1;
        for (size_t h = 0; h < hubs_polled && h < self->hub_count; h++) {
            spw_hub_link_t link = { self, h };
            if ((items[hubs_at + h].revents & ZMQ_POLLIN)
                && spw_msg_drain(self->hubs[h], SPW_EDGE_BATCH, on_hub, &link, &self->hub_drops,
                                 -1, now)
                       != 0)
                rc = -1;
        }
        for (size_t p = 0; p < peers_polled; p++) {
            if (!(items[peers_at + p].revents & ZMQ_POLLIN))
                continue;
            bool still_linked = false;
            for (size_t q = 0; q < self->peer_count; q++)
                still_linked |= self->peers[q] == polled[p];
            spw_peer_link_t link = { self, polled[p] };
            if (still_linked
                && spw_msg_drain(polled[p]->socket, SPW_EDGE_BATCH, on_peer, &link,
                                 &self->cloud_drops, -1, now)
                       != 0)
                rc = -1;
        }
        if (cloud_at != SIZE_MAX && (items[cloud_at].revents & ZMQ_POLLIN)
            && spw_msg_drain(self->cloud, SPW_EDGE_BATCH, on_cloud, self, &self->cloud_drops, 0, now) != 0)
            rc = -1;
        if ((items[1].revents & ZMQ_POLLIN)
            && spw_msg_drain_all(self->frontend, SPW_EDGE_BATCH, on_client, self, &self->frontend_drops, 0, now) != 0)
            rc = -1;
        if (rc != 0) {
            spw_log(SPW_LOG_ERROR, "receive_failed", "error=\"%s\"", zmq_strerror(errno));
            break;
        }
        expire_tasks(self, now);
        if (now >= self->next_heartbeat) {
            tick(self, now);
            spw_cloud_tick(self, now);
            self->next_heartbeat = now + self->config.heartbeat_ms;
        }
        if (self->control && now >= self->next_hub_beat)
            spw_hublink_tick(self, now);
        spw_hublink_watch(self, now);
        //  A role in lending counts once it has held a while: the hub hears
        //  of it when it has, not at each turn of a queue near capacity.
        bool settled = self->settles_at && now >= self->settles_at;
        if (self->state_dirty)
            spw_hublink_observe(self, now);
        if ((self->state_dirty && now >= self->state_sent + SPW_EDGE_STATE_COALESCE_MS)
            || settled)
            spw_hublink_publish(self, false, now);
    }
    //  Every task still held gets an answer: the edge will not serve it.
    //  Other edges' tasks go back to them as busy, to be re-routed.
    spw_task_t *task;
    size_t unfinished = spw_tasks_size(self->tasks);
    self->stopping = true;  // lend nothing more; what was lent is revoked
    self->now = spw_clock_ms();
    while ((task = spw_tasks_expired(self->tasks, INT64_MAX)))
        spw_edge_finish(self, task, shutdown_status(task), NULL, 0, 0, "edge shutting down");
    //  Native workers hear that this edge is going, so that they reconnect
    //  to its successor at once instead of waiting out their liveness.
    for (spw_pool_worker_t *w = spw_pool_first(self->pool); w; w = spw_pool_next(w))
        if (w->kind == SPW_WORKER_NATIVE)
            dismiss(self, w->identity.data, w->identity.len, "edge stopping",
                    (uint32_t) self->config.heartbeat_ms);
    //  Sockets linger 0 (spw_socket.h): give these last words a moment.
    int linger = SPW_EDGE_GOODBYE_LINGER_MS;
    void *sockets[] = { self->frontend, self->backend, self->cloud };
    for (size_t i = 0; i < sizeof sockets / sizeof sockets[0]; i++)
        if (sockets[i])
            zmq_setsockopt(sockets[i], ZMQ_LINGER, &linger, sizeof linger);
    spw_hublink_stop(self);
    spw_log(SPW_LOG_INFO, "stopped", "accepted=%llu done=%llu unfinished=%zu",
            (unsigned long long) self->stats.accepted, (unsigned long long) self->stats.done,
            unfinished);
    return rc != 0 || self->fatal ? -1 : 0;
}

void spw_edge_destroy(spw_edge_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_edge_t *self = *self_p;
    for (size_t l = 0; l < self->listener_count; l++)
        spw_connections_destroy(&self->listeners[l]);
    spw_cloud_stop(self);
    spw_hublink_stop(self);
    spw_socket_destroy(&self->frontend);
    spw_socket_destroy(&self->backend);
    spw_tasks_destroy(&self->tasks);
    spw_clients_destroy(&self->clients);
    spw_clients_destroy(&self->key_slots);
    spw_pool_destroy(&self->pool);
    spw_http_stop(&self->http);
    spw_edge_metrics_free(self);
    if (self->curve)
        spw_curve_destroy(&self->curve);  // czmq's context, with the authenticator
    else if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}
