//  cloud.c: the edge's links to other edges — lending idle workers by
//  credit, and borrowing them.
//
//  The hub matches lenders (edges with idle workers of a service) with
//  borrowers (edges with a backlog of it) and tells both (MATCH); from
//  then on the two talk directly and the hub hears of no task.
//
//  Borrowing: the edge opens a DEALER to each lender it is matched with
//  and says HELLO. The lender answers with CREDIT: "send me n tasks of S
//  now, a slot is kept for each, until the lease ends". A task that no
//  local worker can take goes at once to a lender whose credit we hold,
//  with no ask (first where its idle slots are, then to wait behind a lent
//  worker); the lender's DONE brings the reply and, usually, the
//  renewed credit, so a lent worker's gap between tasks is one trip. A
//  delegated task stays in our table, in the lender link's in-flight list,
//  until its DONE; if the lender dies (the hub says so, or it is silent for
//  liveness heartbeats while it holds tasks) every task in flight there
//  goes back to the head of its queue. Credit we cannot use goes back
//  (RETURN) at the next tick; credit the lender takes back (REVOKE) is
//  forgotten; a lapsed lease is worth nothing.
//
//  Lending: the edge binds a ROUTER on its cloud endpoint. For each service
//  it lends, it may have out (credits not yet used plus borrowers' tasks it
//  holds) at most depth x the workers its own clients do not use, and
//  nothing while its own clients' tasks wait: local first. The credit
//  ledger (credit.c) decides who gets each credit, in proportion to the
//  hub's shares. A task is taken if it comes on credit, or if a worker is
//  idle right now; otherwise it is answered DONE busy and its origin
//  re-queues it without counting an attempt. A taken task is served like a
//  local one (same table, same workers, same retries) but behind the local
//  ones, and it is never delegated again (one hop).

#include "cloud.h"
#include "life.h"

#include "spw_log.h"
#include "spw_socket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Credit moves handled at once: one per link, links are bounded.
#define SPW_CLOUD_MOVES_MAX \
    (SPW_EDGE_MAX_BORROWERS > SPW_EDGE_MAX_PEERS ? SPW_EDGE_MAX_BORROWERS : SPW_EDGE_MAX_PEERS)
//  Its own clients count as active this long after their latest task: long
//  enough to span the gaps of a steady load, short enough that an overload
//  that moved on (a hot spot) leaves the edge prefetching for borrowers
//  within a few tasks' time rather than a liveness later.
#define SPW_CLOUD_LOCAL_ACTIVE_MS 50
//  The circuit breaker (docs/scheduling.md): so many busy answers in a row
//  cut a lender off (one, on the probe after a cut), for a time that
//  doubles from the least to the most while it keeps failing.
#define SPW_CLOUD_BUSY_RUN_MAX 8
#define SPW_CLOUD_CUT_MIN_MS   1000
#define SPW_CLOUD_CUT_MAX_MS   30000

int spw_cloud_start(spw_edge_t *self, char *err, size_t errlen)
{
    //  A standalone edge serves no one else: it binds no cloud socket.
    if (!*self->config.hub)
        return 0;
    self->depth = (uint32_t) (1 + self->config.prefetch);
    size_t services = (size_t) self->config.max_services;
    self->credit = spw_credit_new(SPW_EDGE_MAX_BORROWERS * services,
                                  SPW_EDGE_MAX_PEERS * services, self->depth);
    if (!self->credit)
        return snprintf(err, errlen, "out of memory"), -1;
    spw_socket_opts_t opts = spw_edge_server_opts(self, self->config.max_message_bytes,
                                                  (int) self->config.max_tasks + 1000);
    self->cloud = spw_socket_new(self->ctx, ZMQ_ROUTER, &opts);
    if (!self->cloud)
        return snprintf(err, errlen, "cannot create the cloud socket"), -1;
    return spw_socket_bind(self->cloud, self->config.cloud, err, errlen);
}

static bool name_is(const char *name, const char *other, size_t other_len)
{
    return strlen(name) == other_len && memcmp(name, other, other_len) == 0;
}

// -- Links to lenders (borrowing) -------------------------------------------

static void close_peer(spw_edge_t *self, size_t index)
{
    spw_peer_t *peer = self->peers[index];
    spw_credit_forget_link(self->credit, peer);
    self->peers[index] = self->peers[--self->peer_count];
    spw_socket_destroy(&peer->socket);
    free(peer);
}

static spw_peer_t *find_peer(spw_edge_t *self, const char *name, size_t len, size_t *index)
{
    for (size_t i = 0; i < self->peer_count; i++)
        if (name_is(self->peers[i]->name, name, len)) {
            if (index)
                *index = i;
            return self->peers[i];
        }
    return NULL;
}

//  Sends a message to a lender; -1 if the link cannot take it now.
static int send_peer(spw_peer_t *peer, spw_msg_t *out)
{
    return spw_msg_send(out, peer->socket, ZMQ_DONTWAIT);
}

static void send_hello(spw_edge_t *self, spw_peer_t *peer)
{
    spw_msg_t out;
    spw_msg_init(&out);
    spw_proto_put_hello(&out, self->config.name);
    send_peer(peer, &out);
}

//  True if two process epochs may be the same process (0: not known).
static bool same_process(uint64_t a, uint64_t b)
{
    return !a || !b || a == b;
}

//  The link to a lender (process epoch, 0 if not known), opened (and HELLO
//  said) if need be. NULL if it cannot be.
static spw_peer_t *open_peer(spw_edge_t *self, const char *name, const char *endpoint,
                             uint64_t epoch, int64_t now)
{
    spw_peer_t *peer = find_peer(self, name, strlen(name), NULL);
    if (peer && strcmp(peer->endpoint, endpoint) == 0 && same_process(peer->epoch, epoch)) {
        if (epoch)
            peer->epoch = epoch;
        return peer;
    }
    if (peer) {
        //  Same name, another address or process: the old one is gone, and
        //  every task it held for us with it.
        spw_cloud_peer_gone(self, name, strlen(name),
                            strcmp(peer->endpoint, endpoint) ? "it moved" : "it restarted", now);
    }
    if (self->peer_count >= SPW_EDGE_MAX_PEERS)
        return NULL;
    peer = calloc(1, sizeof *peer);
    if (!peer)
        return NULL;
    snprintf(peer->name, sizeof peer->name, "%s", name);
    snprintf(peer->endpoint, sizeof peer->endpoint, "%s", endpoint);
    peer->epoch = epoch;
    spw_queue_init(&peer->inflight, SIZE_MAX);
    spw_socket_opts_t opts = { .max_message_bytes = self->config.max_message_bytes,
                               .hwm = (int) self->config.max_tasks + 1000 };
    char err[SPW_ERROR_MAX] = "cannot create socket";
    //  With CURVE the lender must hold the key the allow-list gives its name.
    spw_curve_keys_t keys;
    uint8_t key[32];
    bool trusted = true;
    if (self->curve) {
        trusted = spw_curve_find(self->curve, SPW_ROLE_EDGE, name, key, err, sizeof err) == 0;
        spw_curve_keys(self->curve, key, &keys);
        opts.curve = &keys;
    }
    peer->socket = trusted ? spw_socket_new(self->ctx, ZMQ_DEALER, &opts) : NULL;
    if (!peer->socket || spw_socket_connect(peer->socket, peer->endpoint, err, sizeof err) != 0) {
        spw_log(SPW_LOG_WARNING, "peer_unreachable", "peer=%s reason=\"%s\"", peer->name, err);
        spw_socket_destroy(&peer->socket);
        free(peer);
        return NULL;
    }
    peer->heard = peer->used = now;
    self->peers[self->peer_count++] = peer;
    spw_log(SPW_LOG_INFO, "peer_linked", "peer=%s endpoint=%s", peer->name, peer->endpoint);
    send_hello(self, peer);
    return peer;
}

void spw_cloud_stop(spw_edge_t *self)
{
    while (self->peer_count)
        close_peer(self, self->peer_count - 1);
    self->lender_count = 0;
    spw_credit_destroy(&self->credit);
    spw_socket_destroy(&self->cloud);
}

void spw_cloud_detach(spw_edge_t *self, spw_task_t *task)
{
    spw_credit_settle(self->credit, task->peer, task->service);
    spw_queue_remove(&task->peer->inflight, task);
    task->peer = NULL;
    task->service->delegated--;
}

//  Sends one task to a lender. Returns 0, or -1 if the link cannot take it.
static int send_delegate(spw_edge_t *self, spw_peer_t *peer, spw_task_t *task, int64_t now)
{
    int64_t left = task->deadline - now;
    spw_msg_t out;
    spw_msg_init(&out);
    spw_proto_put_delegate(&out, self->config.name, task->key, task->service->name,
                           (uint32_t) (left < 1 ? 1 : left > UINT32_MAX ? UINT32_MAX : left));
    for (size_t i = 0; i < task->body_count; i++)
        spw_msg_add_share(&out, &task->body[i]);
    if (send_peer(peer, &out) != 0)
        return -1;
    task->state = SPW_TASK_DELEGATED;
    if (!task->started)
        task->started = self->now;
    task->peer = peer;
    task->attempts++;
    task->service->delegated++;
    spw_queue_push(&peer->inflight, task);
    if (!peer->inflight.head->next)
        peer->heard = peer->answered = now;  // its silence counts from now
    peer->used = now;
    self->stats.delegated_out++;
    return 0;
}

void spw_cloud_delegate(spw_edge_t *self, spw_service_t *service, int64_t now)
{
    if (!self->credit)
        return;
    //  Local first: only tasks that found no idle worker are waiting. Each
    //  goes where our tasks are fewest for the lender's share, so credit for
    //  idle slots is spent before credit to wait behind a lent worker.
    spw_task_t *task = service->queue.head;
    while (task && !service->idle) {
        //  One hop: another edge's task is never sent on; skip past those.
        if (task->client_kind == SPW_CLIENT_PEER) {
            task = task->next;
            continue;
        }
        spw_peer_t *peer = spw_credit_take(self->credit, service, true, now);
        if (!peer)
            return;
        spw_task_t *next = task->next, *before = task->prev;
        spw_queue_remove(&service->queue, task);
        task->state = SPW_TASK_LOOSE;
        if (send_delegate(self, peer, task, now) != 0) {
            //  Back where it was; the credit is of no use on a link that
            //  cannot send.
            spw_queue_insert_after(&service->queue, before, task);
            task->state = SPW_TASK_QUEUED;
            spw_credit_untake(self->credit, peer, service);
            spw_credit_revoked(self->credit, peer, service, 0);
        }
        task = next;
    }
}

typedef struct {
    spw_edge_t *edge;
    int64_t now;
} spw_cloud_pass_t;

static void delegate_waiting(spw_service_t *service, void *arg)
{
    spw_cloud_pass_t *pass = arg;
    if (service->queue.head)
        spw_cloud_delegate(pass->edge, service, pass->now);
}

void spw_cloud_delegate_all(spw_edge_t *self, int64_t now)
{
    spw_cloud_pass_t pass = { self, now };
    spw_pool_each_service(self->pool, delegate_waiting, &pass);
}

void spw_cloud_peer_gone(spw_edge_t *self, const char *name, size_t name_len, const char *why,
                         int64_t now)
{
    size_t index;
    spw_peer_t *peer = find_peer(self, name, name_len, &index);
    if (!peer)
        return;
    spw_log(SPW_LOG_WARNING, "peer_lost", "peer=%s in_flight=%zu reason=\"%s\"", peer->name,
            peer->inflight.size, why);
    //  Unlink first, so that re-routing cannot pick this peer again.
    self->peers[index] = self->peers[--self->peer_count];
    spw_credit_forget_link(self->credit, peer);
    spw_task_t *task;
    while ((task = peer->inflight.head)) {
        char reason[120];
        snprintf(reason, sizeof reason, "edge %s lost: %s", peer->name, why);
        spw_edge_requeue(self, task, reason, true, now);
    }
    spw_socket_destroy(&peer->socket);
    free(peer);
}

//  Cuts a lender off: its credit goes back unused and none is taken from it
//  until the cut ends; then its next task is a probe. Tasks it holds stay
//  (stalled ones the caller re-routes).
static void cut_off(spw_edge_t *self, spw_peer_t *peer, const char *why, int64_t now)
{
    peer->cut_ms = peer->cut_ms ? peer->cut_ms * 2 : SPW_CLOUD_CUT_MIN_MS;
    if (peer->cut_ms > SPW_CLOUD_CUT_MAX_MS)
        peer->cut_ms = SPW_CLOUD_CUT_MAX_MS;
    peer->cut_until = now + peer->cut_ms;
    peer->busy_run = 0;
    self->stats.lenders_cut++;
    self->avoid_changed = self->state_dirty = true;  // the hub matches us with others
    spw_log(SPW_LOG_WARNING, "lender_cut_off", "peer=%s reason=\"%s\" for_ms=%lld", peer->name,
            why, (long long) peer->cut_ms);
    spw_credit_move_t moves[64];
    size_t n;
    do {  // given-up holdings are zeroed, so each round takes the next ones
        n = spw_credit_give_up(self->credit, peer, moves, sizeof moves / sizeof moves[0]);
        for (size_t i = 0; i < n; i++) {
            spw_service_t *service = moves[i].service;
            spw_msg_t out;
            spw_msg_init(&out);
            spw_proto_put_return(&out, service->name, moves[i].count);
            send_peer(peer, &out);
        }
    } while (n == sizeof moves / sizeof moves[0]);
}

//  True while a lender is cut off.
static bool is_cut(const spw_peer_t *peer, int64_t now)
{
    return now < peer->cut_until;
}

size_t spw_cloud_cut_lenders(const spw_edge_t *self, const char **names, size_t max,
                             int64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < self->peer_count && n < max; i++)
        if (is_cut(self->peers[i], now))
            names[n++] = self->peers[i]->name;
    return n;
}

//  A message from a lender: CREDIT, REVOKE, DONE or HEARTBEAT.
void spw_cloud_on_peer(spw_edge_t *self, spw_peer_t *peer, spw_msg_t *msg, int64_t now)
{
    spw_proto_t in;
    const char *why = NULL;
    if (spw_proto_decode(msg, 0, &in, &why) != 0) {
        spw_edge_drop(self, &self->cloud_drops, msg, why, now);
        return;
    }
    peer->heard = now;
    spw_service_t *service = NULL;
    switch (in.cmd) {
    case SPW_CMD_HEARTBEAT:
        return;
    case SPW_CMD_CREDIT:
    case SPW_CMD_REVOKE:
        service = spw_pool_service(self->pool, in.service, in.service_len, false);
        if (!service)
            return;  // forgotten meanwhile: the credit lapses at the lender
        if (in.cmd == SPW_CMD_REVOKE) {
            spw_credit_revoked(self->credit, peer, service, in.count);
            peer->revoked_at = now;  // tasks crossing it are answered busy: no fault
            peer->busy_run = 0;
            return;
        }
        peer->lease_ms = in.lease_ms;
        if (is_cut(peer, now))
            return;  // unused: it lapses at the lender
        spw_credit_grant(self->credit, peer, service, in.count, in.lease_ms, now);
        spw_cloud_delegate(self, service, now);
        return;
    case SPW_CMD_DONE:
        break;
    default:
        spw_edge_drop_as(self, &self->cloud_drops, SPW_DROP_UNEXPECTED, msg, "command not expected from a lender", now);
        return;
    }
    spw_task_t *task = spw_tasks_find(self->tasks, in.id);
    if (!task || task->state != SPW_TASK_DELEGATED || task->peer != peer) {
        self->stats.late_replies++;
        return;
    }
    service = task->service;
    peer->answered = now;
    if (in.count && peer->lease_ms && !is_cut(peer, now))
        spw_credit_grant(self->credit, peer, service, in.count, peer->lease_ms, now);
    if (in.status == SPW_STATUS_BUSY || in.status == SPW_STATUS_NO_SERVICE) {
        //  Not a failure of the task: the credit was stale. Try elsewhere;
        //  a lender that is busy for every task is cut off a while, so that
        //  two edges do not pass a task to and fro.
        self->stats.busy++;
        bool expected = now - peer->revoked_at <= self->config.heartbeat_ms;
        if (!expected && ++peer->busy_run >= (peer->cut_ms ? 1 : SPW_CLOUD_BUSY_RUN_MAX)
            && !is_cut(peer, now))
            cut_off(self, peer, "it answers only busy", now);  // before the task goes elsewhere
        spw_edge_requeue(self, task,
                         in.status == SPW_STATUS_BUSY ? "lender busy" : "lender lacks service",
                         false, now);
        return;
    }
    //  An answer: the lender works; once it has after a cut, it has healed.
    peer->busy_run = 0;
    if (!is_cut(peer, now))
        peer->cut_ms = 0;
    spw_edge_finish(self, task, in.status, msg, in.body_first, in.body_count,
                    in.body_count ? NULL : "the serving edge gave no reason");
    spw_cloud_delegate(self, service, now);
}

// -- Borrowers (lending) ----------------------------------------------------

static spw_borrower_t *find_borrower(spw_edge_t *self, const char *name, size_t len)
{
    for (size_t i = 0; i < SPW_EDGE_MAX_BORROWERS; i++)
        if (self->borrowers[i].used && name_is(self->borrowers[i].name, name, len))
            return &self->borrowers[i];
    return NULL;
}

//  The borrower whose route is identity, or NULL.
static spw_borrower_t *borrower_at(spw_edge_t *self, zmq_msg_t *identity)
{
    size_t len = zmq_msg_size(identity);
    for (size_t i = 0; i < SPW_EDGE_MAX_BORROWERS; i++) {
        spw_borrower_t *b = &self->borrowers[i];
        if (b->used && b->identity.len == len
            && memcmp(b->identity.data, zmq_msg_data(identity), len) == 0)
            return b;
    }
    return NULL;
}

//  The record of a borrower, made if new. A free slot, or one whose
//  borrower holds no task here and was not heard for link_idle_ms, is
//  taken. NULL if every slot is in use.
static spw_borrower_t *claim_borrower(spw_edge_t *self, const char *name, size_t len,
                                      int64_t now)
{
    spw_borrower_t *borrower = find_borrower(self, name, len);
    if (borrower || len > SPW_MAX_NAME_LEN)
        return borrower;
    for (size_t i = 0; i < SPW_EDGE_MAX_BORROWERS && !borrower; i++) {
        spw_borrower_t *b = &self->borrowers[i];
        if (!b->used || (!b->tasks && now - b->heard > self->config.link_idle_ms))
            borrower = b;
    }
    if (!borrower)
        return NULL;
    if (borrower->used)
        spw_credit_forget_link(self->credit, borrower);
    memset(borrower, 0, sizeof *borrower);
    borrower->used = true;
    memcpy(borrower->name, name, len);
    borrower->heard = now;
    return borrower;
}

//  Records the route to a borrower (its DEALER's identity on our ROUTER).
static void route_borrower(spw_edge_t *self, spw_borrower_t *borrower, zmq_msg_t *identity,
                           int64_t now)
{
    size_t len = zmq_msg_size(identity);
    borrower->heard = now;
    if (len > sizeof borrower->identity.data)
        return;
    bool known = borrower->identity.len == len
              && memcmp(borrower->identity.data, zmq_msg_data(identity), len) == 0;
    if (known)
        return;
    memcpy(borrower->identity.data, zmq_msg_data(identity), len);
    borrower->identity.len = len;
    spw_credit_open_link(self->credit, borrower);
}

//  The tasks of a borrower waiting in a service's queue, answered busy (to a
//  borrower that is gone, or that will re-route them).
typedef struct {
    spw_edge_t *edge;
    spw_borrower_t *borrower;
    const char *why;
} spw_gone_pass_t;

static void drop_waiting(spw_service_t *service, void *arg)
{
    spw_gone_pass_t *pass = arg;
    spw_task_t *task = service->queue.head;
    while (task) {
        spw_task_t *next = task->next;
        if (task->client_kind == SPW_CLIENT_PEER && task->borrower == pass->borrower)
            spw_edge_finish(pass->edge, task, SPW_STATUS_BUSY, NULL, 0, 0, pass->why);
        task = next;
    }
}

//  A borrower died, left or restarted: its tasks still waiting here go back
//  busy, nothing more is lent to it, and its route is forgotten. Its tasks
//  already on workers finish; their replies find no one, or a new process
//  that drops them as late.
static void borrower_gone(spw_edge_t *self, spw_borrower_t *borrower, const char *why,
                          int64_t now)
{
    spw_log(SPW_LOG_INFO, "borrower_lost", "borrower=%s tasks=%zu reason=\"%s\"",
            borrower->name, borrower->tasks, why);
    spw_credit_forget_link(self->credit, borrower);
    spw_gone_pass_t pass = { self, borrower, why };
    spw_pool_each_service(self->pool, drop_waiting, &pass);
    borrower->identity.len = 0;
    borrower->epoch = 0;
    borrower->heard = now;
}

static void balance_each(spw_service_t *service, void *arg);

void spw_cloud_drain(spw_edge_t *self, int64_t now)
{
    if (!self->credit)
        return;
    for (size_t i = 0; i < SPW_EDGE_MAX_BORROWERS; i++) {
        spw_borrower_t *borrower = &self->borrowers[i];
        if (!borrower->used)
            continue;
        spw_gone_pass_t pass = { self, borrower, "lender draining" };
        spw_pool_each_service(self->pool, drop_waiting, &pass);
    }
    spw_cloud_pass_t pass = { self, now };
    spw_pool_each_service(self->pool, balance_each, &pass);  // stopping: revokes all
}

void spw_cloud_member(spw_edge_t *self, spw_member_event_t event, const char *name,
                      size_t name_len, uint64_t epoch, int64_t now)
{
    if (!self->credit)
        return;
    const char *why = event == SPW_MEMBER_JOINED ? "it restarted"
                    : event == SPW_MEMBER_DIED   ? "the hub saw it die"
                                                 : "it left";
    //  A join under a name we know, by another process, means the old one
    //  is gone with what it held; by the same process (a hub that restarted
    //  and heard it register again), nothing happened to it.
    spw_peer_t *peer = find_peer(self, name, name_len, NULL);
    if (peer && !(event == SPW_MEMBER_JOINED && peer->epoch && peer->epoch == epoch))
        spw_cloud_peer_gone(self, name, name_len, why, now);
    spw_borrower_t *borrower = find_borrower(self, name, name_len);
    if (borrower && !(event == SPW_MEMBER_JOINED && borrower->epoch && borrower->epoch == epoch))
        borrower_gone(self, borrower, why, now);
}

//  Sends CREDIT (lease_ms > 0) or REVOKE (lease_ms 0) to a borrower.
static void tell_borrower(spw_edge_t *self, spw_borrower_t *borrower, spw_service_t *service,
                          uint32_t count, uint32_t lease_ms)
{
    if (!borrower->identity.len)
        return;
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_mem(&out, borrower->identity.data, borrower->identity.len);
    if (lease_ms)
        spw_proto_put_credit(&out, service->name, count, lease_ms);
    else
        spw_proto_put_revoke(&out, service->name, count);
    if (spw_msg_send(&out, self->cloud, ZMQ_DONTWAIT) != 0) {
        spw_log(SPW_LOG_DEBUG, "borrower_unroutable", "borrower=%s error=\"%s\"", borrower->name,
                zmq_strerror(errno));
        if (lease_ms)
            spw_credit_unoffer(self->credit, borrower, service, count);
    }
}

//  What a service may have out to borrowers: depth x the workers its own
//  clients do not use, and nothing while its own clients' tasks wait or
//  are out at lenders (lending then would send work round in a circle).
//  While its own clients are active (a task of theirs within the last
//  SPW_CLOUD_LOCAL_ACTIVE_MS) it prefetches nothing, so that its workers are idle more often when its
//  own clients' next task comes (those go ahead of borrowers' tasks in its
//  queue in any case). Keeping a worker idle for them as well cost
//  borrowers a tenth of their rate in our runs and did not lower the
//  lender's own p99.
static uint32_t lend_limit(spw_edge_t *self, const spw_service_t *service, int64_t now)
{
    if (self->stopping || self->fatal || service->queue.size > service->lent_queued
        || service->delegated)
        return 0;
    bool local_active = service->local_at && now - service->local_at < SPW_CLOUD_LOCAL_ACTIVE_MS;
    //  Workers busy with anything but a borrower's task are not lendable: a
    //  worker still on a task that timed out is neither idle nor lent.
    size_t lendable = service->idle + service->lent_running;
    uint64_t limit = (uint64_t) lendable * (local_active ? 1 : self->depth);
    return limit > UINT32_MAX ? UINT32_MAX : (uint32_t) limit;
}

//  Revokes what is over the limit and offers what is under it; returns the
//  credit offered to except (not sent: it rides on except's DONE).
static uint32_t balance(spw_edge_t *self, spw_service_t *service, spw_borrower_t *except,
                        int64_t now)
{
    spw_credit_move_t moves[SPW_CLOUD_MOVES_MAX];
    uint32_t limit = lend_limit(self, service, now);
    size_t n = spw_credit_excess(self->credit, service, limit, moves, SPW_CLOUD_MOVES_MAX);
    for (size_t i = 0; i < n; i++)
        tell_borrower(self, moves[i].link, service, moves[i].count, 0);
    uint32_t lease = (uint32_t) self->config.credit_lease_ms, kept = 0;
    n = spw_credit_offer(self->credit, service, limit, now + lease, moves, SPW_CLOUD_MOVES_MAX);
    for (size_t i = 0; i < n; i++) {
        if (moves[i].link == except)
            kept = moves[i].count;
        else
            tell_borrower(self, moves[i].link, service, moves[i].count, lease);
    }
    return kept;
}

void spw_cloud_lend(spw_edge_t *self, spw_service_t *service, int64_t now)
{
    if (self->credit)
        balance(self, service, NULL, now);
}

uint32_t spw_cloud_release(spw_edge_t *self, spw_task_t *task, bool ride, int64_t now)
{
    spw_borrower_t *borrower = task->borrower;
    if (!borrower)
        return 0;
    task->borrower = NULL;
    borrower->tasks--;
    spw_credit_release(self->credit, borrower, task->service);
    return balance(self, task->service, ride ? borrower : NULL, now);
}

void spw_cloud_unoffer(spw_edge_t *self, spw_borrower_t *borrower, spw_service_t *service,
                       uint32_t credit)
{
    if (self->credit && borrower && credit)
        spw_credit_unoffer(self->credit, borrower, service, credit);
}

void spw_cloud_match(spw_edge_t *self, spw_service_t *service, const spw_proto_t *match,
                     int64_t now)
{
    if (!self->credit)
        return;
    void *links[SPW_EDGE_MAX_BORROWERS];
    uint32_t slots[SPW_EDGE_MAX_BORROWERS];
    bool open[SPW_EDGE_MAX_BORROWERS];
    size_t count = 0;
    //  The lenders of this service are replaced by the ones named now.
    for (size_t i = 0; i < self->lender_count;)
        if (self->lenders[i].service == service)
            self->lenders[i] = self->lenders[--self->lender_count];
        else
            i++;
    for (size_t i = 0; i < self->peer_count; i++)
        spw_credit_share(self->credit, self->peers[i], service, 0);
    size_t offset = 0;
    spw_match_entry_t entry;
    size_t first_lender = self->lender_count;
    while (spw_proto_next_match(match, &offset, &entry) == 1) {
        if (name_is(self->config.name, entry.name, entry.name_len))
            continue;  // never with ourselves, whatever the hub says
        if (entry.role == SPW_MATCH_LEND_TO) {
            if (count == SPW_EDGE_MAX_BORROWERS)
                continue;
            spw_borrower_t *borrower = claim_borrower(self, entry.name, entry.name_len, now);
            bool seen = false;  // a name twice in one MATCH counts once
            for (size_t i = 0; i < count && !seen; i++)
                seen = links[i] == borrower;
            if (!borrower || seen)
                continue;
            if (borrower->epoch && entry.epoch && borrower->epoch != entry.epoch)
                borrower_gone(self, borrower, "it restarted", now);
            borrower->epoch = entry.epoch;
            links[count] = borrower;
            slots[count] = entry.slots_milli;
            open[count++] = borrower->identity.len > 0;
            continue;
        }
        bool seen = false;
        for (size_t i = first_lender; i < self->lender_count && !seen; i++)
            seen = name_is(self->lenders[i].name, entry.name, entry.name_len);
        if (seen || self->lender_count >= SPW_EDGE_MAX_LENDERS
            || entry.endpoint_len > SPW_MAX_ENDPOINT_LEN)
            continue;
        spw_lender_t *lender = &self->lenders[self->lender_count++];
        lender->service = service;
        snprintf(lender->name, sizeof lender->name, "%.*s", (int) entry.name_len, entry.name);
        snprintf(lender->endpoint, sizeof lender->endpoint, "%.*s", (int) entry.endpoint_len,
                 entry.endpoint);
        lender->epoch = entry.epoch;
        lender->slots_milli = entry.slots_milli;
        spw_peer_t *peer = find_peer(self, lender->name, strlen(lender->name), NULL);
        bool linked = peer && strcmp(peer->endpoint, lender->endpoint) == 0
                   && same_process(peer->epoch, lender->epoch);
        if (linked)
            send_hello(self, peer);  // it may have lost our route
        peer = open_peer(self, lender->name, lender->endpoint, lender->epoch, now);
        if (peer)
            spw_credit_share(self->credit, peer, service, entry.slots_milli);
    }
    spw_credit_move_t moves[SPW_CLOUD_MOVES_MAX];
    size_t n = spw_credit_rematch(self->credit, service, links, slots, open, count, moves,
                                  SPW_CLOUD_MOVES_MAX);
    for (size_t i = 0; i < n; i++)
        tell_borrower(self, moves[i].link, service, moves[i].count, 0);
    spw_log(SPW_LOG_DEBUG, "matched", "service=%s borrowers=%zu lenders=%zu", service->name,
            count, self->lender_count);
    balance(self, service, NULL, now);
}

void spw_cloud_unmatch_all(spw_edge_t *self)
{
    if (!self->credit)
        return;
    self->lender_count = 0;
    //  Credit already offered is not revoked: it runs out its lease.
    spw_credit_unmatch_all(self->credit);
}

//  Answers a borrower's DELEGATE that we will not take.
static void refuse(spw_edge_t *self, spw_msg_t *msg, uint64_t key, spw_status_t status,
                   const char *reason)
{
    spw_log(SPW_LOG_DEBUG, "delegate_refused", "status=%s reason=\"%s\"",
            spw_status_name(status), reason);
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, &msg->frame[0]);
    spw_proto_put_done(&out, key, status, 0);
    spw_msg_add_mem(&out, reason, strlen(reason));
    spw_msg_send(&out, self->cloud, ZMQ_DONTWAIT);
}

//  Balances one service's lending (a pass over every service).
static void balance_each(spw_service_t *service, void *arg)
{
    spw_cloud_pass_t *pass = arg;
    balance(pass->edge, service, NULL, pass->now);
}

//  A message on our cloud ROUTER, from a borrower: HELLO, DELEGATE, RETURN
//  or HEARTBEAT.
void spw_cloud_on_request(spw_edge_t *self, spw_msg_t *msg, int64_t now)
{
    spw_proto_t in;
    const char *why = NULL;
    if (msg->count < 2 || spw_proto_decode(msg, 1, &in, &why) != 0) {
        spw_edge_drop(self, &self->cloud_drops, msg, why ? why : "too few frames", now);
        return;
    }
    //  With CURVE only edges may borrow, each under its own name.
    bool named = in.cmd == SPW_CMD_HELLO || in.cmd == SPW_CMD_DELEGATE;
    if (!spw_edge_allowed(self, &self->cloud_drops, msg, SPW_ROLE_EDGE, named ? in.name : NULL,
                          in.name_len, now)) {
        if (in.cmd == SPW_CMD_DELEGATE)
            refuse(self, msg, in.id, SPW_STATUS_FORBIDDEN, "this key may not borrow as that edge");
        return;
    }
    if (in.cmd == SPW_CMD_HEARTBEAT) {
        spw_msg_t out;
        spw_msg_init(&out);
        spw_msg_add_share(&out, &msg->frame[0]);
        spw_proto_put_heartbeat(&out);
        spw_msg_send(&out, self->cloud, ZMQ_DONTWAIT);
        return;
    }
    if (in.cmd == SPW_CMD_HELLO) {
        spw_borrower_t *borrower = claim_borrower(self, in.name, in.name_len, now);
        if (!borrower) {
            spw_edge_drop_as(self, &self->cloud_drops, SPW_DROP_FULL, msg, "borrower table full", now);
            return;
        }
        route_borrower(self, borrower, &msg->frame[0], now);
        spw_cloud_pass_t pass = { self, now };
        spw_pool_each_service(self->pool, balance_each, &pass);
        return;
    }
    if (in.cmd == SPW_CMD_RETURN) {
        spw_borrower_t *borrower = borrower_at(self, &msg->frame[0]);
        spw_service_t *service = spw_pool_service(self->pool, in.service, in.service_len, false);
        if (borrower && service) {
            borrower->heard = now;
            spw_credit_returned(self->credit, borrower, service, in.count);
            balance(self, service, NULL, now);
        }
        return;
    }
    if (in.cmd != SPW_CMD_DELEGATE) {
        spw_edge_drop_as(self, &self->cloud_drops, SPW_DROP_UNEXPECTED, msg, "command not expected from a borrower", now);
        return;
    }
    if (self->stopping) {
        self->stats.busy++;
        refuse(self, msg, in.id, SPW_STATUS_BUSY, "lender draining");
        return;
    }
    spw_service_t *service = spw_pool_service(self->pool, in.service, in.service_len, false);
    if (!service || !service->offered) {
        refuse(self, msg, in.id, SPW_STATUS_NO_SERVICE, "no worker here offers it");
        return;
    }
    spw_borrower_t *borrower = claim_borrower(self, in.name, in.name_len, now);
    if (!borrower) {
        self->stats.busy++;
        refuse(self, msg, in.id, SPW_STATUS_BUSY, "borrower table full");
        return;
    }
    route_borrower(self, borrower, &msg->frame[0], now);
    //  The serving edge decides for itself: credit it gave, or an idle
    //  worker now that its own clients do not need.
    bool room = service->idle && service->queue.size == service->lent_queued;
    if (!spw_credit_arrive(self->credit, borrower, service, room)) {
        self->stats.busy++;
        refuse(self, msg, in.id, SPW_STATUS_BUSY, "no credit and no idle worker");
        return;
    }
    //  Another edge's task keeps what is left of its deadline, within ours.
    int64_t left = in.timeout_ms < self->config.max_timeout_ms ? in.timeout_ms
                                                                : self->config.max_timeout_ms;
    spw_task_t *task = spw_edge_new_task(self, msg, SPW_CLIENT_PEER, in.id, service, now + left,
                                         in.body_first, in.body_count, now);
    if (!task) {
        spw_credit_release(self->credit, borrower, service);
        self->stats.busy++;
        refuse(self, msg, in.id, SPW_STATUS_BUSY, "task table full");
        return;
    }
    self->stats.delegated_in++;
    task->borrower = borrower;
    borrower->tasks++;
    //  Behind every local task: it is prefetched, not first in line.
    spw_queue_insert_after(&service->queue, service->queue.tail, task);
    service->lent_queued++;
    task->state = SPW_TASK_QUEUED;
    spw_edge_dispatch(self, service, now);
}

bool spw_cloud_uses_service(spw_edge_t *self, spw_service_t *service)
{
    if (!self->credit)
        return false;
    for (size_t i = 0; i < self->lender_count; i++)
        if (self->lenders[i].service == service)
            return true;
    return spw_credit_uses(self->credit, service);
}

void spw_cloud_forget_service(spw_edge_t *self, spw_service_t *service)
{
    if (!self->credit)
        return;
    spw_credit_forget_service(self->credit, service);
    for (size_t i = 0; i < self->lender_count;)
        if (self->lenders[i].service == service)
            self->lenders[i] = self->lenders[--self->lender_count];
        else
            i++;
}

//  True if a service has no task of its own waiting: credit for it is idle.
static bool nothing_waiting(void *service, void *arg)
{
    (void) arg;
    const spw_service_t *s = service;
    return s->queue.size == s->lent_queued;
}

//  True if a lender is one the hub matched us with, for any service.
static bool matched_lender(spw_edge_t *self, const spw_peer_t *peer)
{
    for (size_t i = 0; i < self->lender_count; i++)
        if (strcmp(self->lenders[i].name, peer->name) == 0)
            return true;
    return false;
}

//  Lending at a tick: lapsed credit is forgotten, standing credit renewed.
static void tick_lending(spw_edge_t *self, int64_t now)
{
    spw_credit_lapse(self->credit, now);
    spw_credit_move_t moves[SPW_CLOUD_MOVES_MAX];
    uint32_t lease = (uint32_t) self->config.credit_lease_ms;
    size_t n = spw_credit_refresh(self->credit, now + lease, moves, SPW_CLOUD_MOVES_MAX);
    for (size_t i = 0; i < n; i++)
        tell_borrower(self, moves[i].link, moves[i].service, 0, lease);
    spw_cloud_pass_t pass = { self, now };
    spw_pool_each_service(self->pool, balance_each, &pass);
}

//  Borrowing at a tick: unused credit goes back, lenders holding our tasks
//  are watched, idle links close, matched lenders hear HELLO again (and a
//  link lost to a lender's restart is opened again).
static void tick_borrowing(spw_edge_t *self, int64_t now)
{
    for (size_t i = 0; i < self->lender_count; i++) {
        spw_lender_t *lender = &self->lenders[i];
        spw_peer_t *peer = find_peer(self, lender->name, strlen(lender->name), NULL);
        if (!peer && (peer = open_peer(self, lender->name, lender->endpoint, lender->epoch, now)))
            spw_credit_share(self->credit, peer, lender->service, lender->slots_milli);
    }
    spw_credit_move_t moves[SPW_CLOUD_MOVES_MAX];
    size_t n = spw_credit_unused(self->credit, nothing_waiting, NULL, now, moves,
                                 SPW_CLOUD_MOVES_MAX);
    for (size_t i = 0; i < n; i++) {
        spw_peer_t *peer = moves[i].link;
        spw_service_t *service = moves[i].service;
        spw_msg_t out;
        spw_msg_init(&out);
        spw_proto_put_return(&out, service->name, moves[i].count);
        send_peer(peer, &out);
    }
    for (size_t i = 0; i < self->peer_count;) {
        spw_peer_t *peer = self->peers[i];
        if (peer->inflight.size && now - peer->heard > self->liveness_ms) {
            self->silent.lenders++;
            spw_cloud_peer_gone(self, peer->name, strlen(peer->name), "silent", now);
            continue;
        }
        //  Alive but answering none of our tasks: they go elsewhere, long
        //  before their deadlines, and it is cut off.
        int64_t stall_ms = self->config.lender_stall_ms;
        if (peer->inflight.size && stall_ms && now - peer->answered > stall_ms) {
            cut_off(self, peer, "it holds our tasks and answers none", now);
            spw_task_t *task;
            while ((task = peer->inflight.head))
                spw_edge_requeue(self, task, "its lender answers nothing", true, now);
        }
        bool matched = matched_lender(self, peer);
        bool credited = spw_credit_link_holds(self->credit, peer, now);
        //  A lender cut off keeps its link until it heals: the breaker
        //  remembers it, and the hub hears we avoid it.
        if (!peer->inflight.size && !credited && !matched && !peer->cut_ms
            && now - peer->used > self->config.link_idle_ms) {
            spw_log(SPW_LOG_DEBUG, "peer_unlinked", "peer=%s reason=idle", peer->name);
            close_peer(self, i);
            continue;
        }
        spw_msg_t out;
        spw_msg_init(&out);
        if (peer->inflight.size || credited)
            spw_proto_put_heartbeat(&out);
        else if (matched)
            spw_proto_put_hello(&out, self->config.name);  // a restarted lender learns our route
        if (out.count)
            send_peer(peer, &out);
        i++;
    }
}

void spw_cloud_tick(spw_edge_t *self, int64_t now)
{
    if (!self->credit)
        return;
    tick_lending(self, now);
    tick_borrowing(self, now);
    //  Tasks still waiting get another try at credit.
    spw_cloud_delegate_all(self, now);
}
