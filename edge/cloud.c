//  cloud.c: the edge's links to other edges — tasks it delegates and tasks
//  it serves for others.
//
//  Serving: the edge binds a ROUTER on its cloud endpoint. A DELEGATE from
//  another edge is taken only if a local worker of its service is idle right
//  now; otherwise it is answered BUSY at once and the origin re-routes it.
//  A taken task is a task like any other (same table, same worker hand-out,
//  same retries when a worker dies) except that its reply goes back as DONE
//  over the same link, and it is never delegated again (one hop).
//
//  Delegating: when a service has waiting tasks and no idle local worker,
//  the edge uses its grants — "edge B may take N tasks of S until T" — and
//  sends the oldest waiting tasks to B, opening a DEALER to B's cloud
//  endpoint on first use. A delegated task stays in this edge's table, in
//  B's in-flight list, until B's DONE arrives; if B dies (the hub says so,
//  or B is silent for liveness heartbeats while it holds tasks) every task
//  in flight there goes back to the head of its queue. With no grant left
//  the edge asks the hub for more, one ask per service at a time.

#include "edge_impl.h"

#include "spw_log.h"
#include "spw_socket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int spw_cloud_start(spw_edge_t *self, char *err, size_t errlen)
{
    //  A standalone edge serves no one else: it binds no cloud socket.
    if (!*self->config.hub)
        return 0;
    spw_socket_opts_t opts = { .max_message_bytes = self->config.max_message_bytes,
                               .hwm = (int) self->config.max_tasks + 1000 };
    self->cloud = spw_socket_new(self->ctx, ZMQ_ROUTER, &opts);
    if (!self->cloud)
        return snprintf(err, errlen, "cannot create the cloud socket"), -1;
    return spw_socket_bind(self->cloud, self->config.cloud, err, errlen);
}

//  Drops the grants naming peer, or service (NULL matches any).
static void drop_grants(spw_edge_t *self, const spw_peer_t *peer, const spw_service_t *service)
{
    for (size_t i = 0; i < self->grant_count;) {
        const spw_grant_t *grant = &self->grants[i];
        if ((!peer || grant->peer == peer) && (!service || grant->service == service))
            self->grants[i] = self->grants[--self->grant_count];
        else
            i++;
    }
}

static void close_peer(spw_edge_t *self, size_t index)
{
    spw_peer_t *peer = self->peers[index];
    drop_grants(self, peer, NULL);  // grants naming it are void
    self->peers[index] = self->peers[--self->peer_count];
    spw_socket_destroy(&peer->socket);
    free(peer);
}

void spw_cloud_stop(spw_edge_t *self)
{
    while (self->peer_count)
        close_peer(self, self->peer_count - 1);
    self->grant_count = 0;
    spw_socket_destroy(&self->cloud);
}

static spw_peer_t *find_peer(spw_edge_t *self, const char *name, size_t len, size_t *index)
{
    for (size_t i = 0; i < self->peer_count; i++)
        if (strlen(self->peers[i]->name) == len && memcmp(self->peers[i]->name, name, len) == 0) {
            if (index)
                *index = i;
            return self->peers[i];
        }
    return NULL;
}

//  The link to a peer, opened if need be. NULL if it cannot be.
static spw_peer_t *open_peer(spw_edge_t *self, const char *name, size_t name_len,
                             const char *endpoint, size_t endpoint_len, int64_t now)
{
    spw_peer_t *peer = find_peer(self, name, name_len, NULL);
    if (peer && strlen(peer->endpoint) == endpoint_len
        && memcmp(peer->endpoint, endpoint, endpoint_len) == 0)
        return peer;
    if (peer) {
        //  Same name, new address: the peer restarted elsewhere.
        spw_cloud_peer_gone(self, name, name_len, "it moved", now);
    }
    if (self->peer_count >= SPW_EDGE_MAX_PEERS || name_len > SPW_MAX_NAME_LEN
        || endpoint_len > SPW_MAX_ENDPOINT_LEN)
        return NULL;
    peer = calloc(1, sizeof *peer);
    if (!peer)
        return NULL;
    memcpy(peer->name, name, name_len);
    memcpy(peer->endpoint, endpoint, endpoint_len);
    spw_queue_init(&peer->inflight, SIZE_MAX);
    spw_socket_opts_t opts = { .max_message_bytes = self->config.max_message_bytes,
                               .hwm = (int) self->config.max_tasks + 1000 };
    char err[SPW_ERROR_MAX];
    peer->socket = spw_socket_new(self->ctx, ZMQ_DEALER, &opts);
    if (!peer->socket || spw_socket_connect(peer->socket, peer->endpoint, err, sizeof err) != 0) {
        spw_log(SPW_LOG_WARNING, "peer_unreachable", "peer=%s reason=\"%s\"", peer->name,
                peer->socket ? err : "cannot create socket");
        spw_socket_destroy(&peer->socket);
        free(peer);
        return NULL;
    }
    peer->heard = peer->used = now;
    self->peers[self->peer_count++] = peer;
    spw_log(SPW_LOG_INFO, "peer_linked", "peer=%s endpoint=%s", peer->name, peer->endpoint);
    return peer;
}

//  Drops grants that are used up or expired.
static void prune_grants(spw_edge_t *self, int64_t now)
{
    for (size_t i = 0; i < self->grant_count;)
        if (self->grants[i].expires <= now || self->grants[i].count == 0)
            self->grants[i] = self->grants[--self->grant_count];
        else
            i++;
}

uint32_t spw_cloud_grant(spw_edge_t *self, spw_service_t *service, const char *name,
                         size_t name_len, const char *endpoint, size_t endpoint_len,
                         uint32_t count, int64_t expires, int64_t now)
{
    if (count == 0)
        return 0;
    spw_peer_t *peer = open_peer(self, name, name_len, endpoint, endpoint_len, now);
    if (!peer)
        return 0;
    //  One entry per service and peer: a new grant adds to it.
    for (size_t i = 0; i < self->grant_count; i++) {
        spw_grant_t *grant = &self->grants[i];
        if (grant->service == service && grant->peer == peer) {
            grant->count = grant->expires > now ? grant->count + count : count;
            grant->expires = expires > grant->expires ? expires : grant->expires;
            return count;
        }
    }
    if (self->grant_count >= SPW_EDGE_MAX_GRANTS)
        prune_grants(self, now);
    if (self->grant_count >= SPW_EDGE_MAX_GRANTS)
        return 0;
    self->grants[self->grant_count++] = (spw_grant_t) { service, peer, count, expires };
    return count;
}

void spw_cloud_forget_grants(spw_edge_t *self)
{
    self->grant_count = 0;
}

//  Drops the grants of a service about to be freed.
void spw_cloud_forget_service(spw_edge_t *self, spw_service_t *service)
{
    drop_grants(self, NULL, service);
}

void spw_cloud_detach(spw_task_t *task)
{
    spw_queue_remove(&task->peer->inflight, task);
    task->peer = NULL;
    task->service->delegated--;
}

//  Sends one task to a peer. Returns 0, or -1 if the link cannot take it.
static int send_delegate(spw_edge_t *self, spw_peer_t *peer, spw_task_t *task, int64_t now)
{
    int64_t left = task->deadline - now;
    spw_msg_t out;
    spw_msg_init(&out);
    spw_proto_put_delegate(&out, self->config.name, task->key, task->service->name,
                           (uint32_t) (left < 1 ? 1 : left > UINT32_MAX ? UINT32_MAX : left));
    for (size_t i = 0; i < task->body_count; i++)
        spw_msg_add_share(&out, &task->body[i]);
    if (spw_msg_send(&out, peer->socket, ZMQ_DONTWAIT) != 0)
        return -1;
    task->state = SPW_TASK_DELEGATED;
    task->peer = peer;
    task->attempts++;
    task->service->delegated++;
    spw_queue_push(&peer->inflight, task);
    if (!peer->inflight.head->next)
        peer->heard = now;  // its silence counts from now
    peer->used = now;
    self->stats.delegated_out++;
    return 0;
}

void spw_cloud_delegate(spw_edge_t *self, spw_service_t *service, int64_t now)
{
    if (!self->control)
        return;
    //  Local first: only tasks that found no idle worker are waiting.
    while (service->queue.head && !service->idle_head) {
        //  One hop: another edge's task is never sent on; skip past those.
        spw_task_t *task = service->queue.head;
        while (task && task->client_kind == SPW_CLIENT_PEER)
            task = task->next;
        if (!task)
            return;
        spw_grant_t *grant = NULL;
        for (size_t i = 0; i < self->grant_count && !grant; i++)
            if (self->grants[i].service == service && self->grants[i].count
                && self->grants[i].expires > now)
                grant = &self->grants[i];
        if (!grant) {
            spw_hublink_ask(self, service, now);
            return;
        }
        spw_task_t *before = task->prev;
        spw_queue_remove(&service->queue, task);
        task->state = SPW_TASK_LOOSE;
        if (send_delegate(self, grant->peer, task, now) != 0) {
            //  Back where it was, and this grant is of no more use.
            spw_queue_insert_after(&service->queue, before, task);
            task->state = SPW_TASK_QUEUED;
            grant->count = 0;
            continue;
        }
        grant->count--;
    }
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
    drop_grants(self, peer, NULL);
    spw_task_t *task;
    while ((task = peer->inflight.head)) {
        char reason[120];
        snprintf(reason, sizeof reason, "edge %s lost: %s", peer->name, why);
        spw_edge_requeue(self, task, reason, true, now);
    }
    spw_socket_destroy(&peer->socket);
    free(peer);
}

//  A DONE (or HEARTBEAT) from a peer we delegate to.
void spw_cloud_on_peer(spw_edge_t *self, spw_peer_t *peer, spw_msg_t *msg, int64_t now)
{
    spw_proto_t in;
    const char *why = NULL;
    if (spw_proto_decode(msg, 0, &in, &why) != 0) {
        spw_edge_drop(self, &self->cloud_drops, msg, why, now);
        return;
    }
    peer->heard = now;
    if (in.cmd == SPW_CMD_HEARTBEAT)
        return;
    if (in.cmd != SPW_CMD_DONE) {
        spw_edge_drop(self, &self->cloud_drops, msg, "command not expected from a peer", now);
        return;
    }
    spw_task_t *task = spw_tasks_find(self->tasks, in.id);
    if (!task || task->state != SPW_TASK_DELEGATED || task->peer != peer) {
        self->stats.late_replies++;
        return;
    }
    spw_service_t *service = task->service;
    if (in.status == SPW_STATUS_BUSY || in.status == SPW_STATUS_NO_SERVICE) {
        //  Not a failure of the task: the grant was stale. Try elsewhere.
        self->stats.busy++;
        drop_grants(self, peer, service);
        spw_edge_requeue(self, task, in.status == SPW_STATUS_BUSY ? "peer busy" : "peer lacks service",
                         false, now);
        return;
    }
    spw_edge_finish(self, task, in.status, msg, in.body_first, in.body_count,
                    in.body_count ? NULL : "the serving edge gave no reason");
    spw_cloud_delegate(self, service, now);
}

//  Answers a peer's DELEGATE that we will not take.
static void refuse(spw_edge_t *self, spw_msg_t *msg, uint64_t key, spw_status_t status,
                   const char *reason)
{
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, &msg->frame[0]);
    spw_proto_put_done(&out, key, status);
    spw_msg_add_mem(&out, reason, strlen(reason));
    spw_msg_send(&out, self->cloud, ZMQ_DONTWAIT);
}

//  A message on our cloud ROUTER: a task another edge delegates to us.
void spw_cloud_on_request(spw_edge_t *self, spw_msg_t *msg, int64_t now)
{
    spw_proto_t in;
    const char *why = NULL;
    if (msg->count < 2 || spw_proto_decode(msg, 1, &in, &why) != 0) {
        spw_edge_drop(self, &self->cloud_drops, msg, why ? why : "too few frames", now);
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
    if (in.cmd != SPW_CMD_DELEGATE) {
        spw_edge_drop(self, &self->cloud_drops, msg, "command not expected from a peer", now);
        return;
    }
    spw_service_t *service = spw_pool_service(self->pool, in.service, in.service_len, false);
    if (!service || !service->offered) {
        refuse(self, msg, in.id, SPW_STATUS_NO_SERVICE, "no worker here offers it");
        return;
    }
    //  The serving edge decides for itself: only an idle worker now is room.
    spw_task_t *task = service->idle_head
                         ? spw_edge_new_task(self, msg, SPW_CLIENT_PEER, in.id, service,
                                             now + in.timeout_ms, in.body_first, in.body_count,
                                             now)
                         : NULL;
    if (!task) {
        self->stats.busy++;
        refuse(self, msg, in.id, SPW_STATUS_BUSY, "no idle worker");
        return;
    }
    self->stats.delegated_in++;
    spw_queue_push_front(&service->queue, task);
    task->state = SPW_TASK_QUEUED;
    spw_edge_dispatch(self, service, now);
}

typedef struct {
    spw_edge_t *edge;
    int64_t now;
} spw_delegate_pass_t;

static void delegate_waiting(spw_service_t *service, void *arg)
{
    spw_delegate_pass_t *pass = arg;
    if (service->queue.head)
        spw_cloud_delegate(pass->edge, service, pass->now);
}

void spw_cloud_delegate_all(spw_edge_t *self, int64_t now)
{
    spw_delegate_pass_t pass = { self, now };
    spw_pool_each_service(self->pool, delegate_waiting, &pass);
}

void spw_cloud_tick(spw_edge_t *self, int64_t now)
{
    prune_grants(self, now);
    for (size_t i = 0; i < self->peer_count;) {
        spw_peer_t *peer = self->peers[i];
        if (peer->inflight.size && now - peer->heard > self->liveness_ms) {
            spw_cloud_peer_gone(self, peer->name, strlen(peer->name), "silent", now);
            continue;
        }
        if (!peer->inflight.size && now - peer->used > self->config.link_idle_ms) {
            spw_log(SPW_LOG_DEBUG, "peer_unlinked", "peer=%s reason=idle", peer->name);
            close_peer(self, i);
            continue;
        }
        if (peer->inflight.size) {
            spw_msg_t out;
            spw_msg_init(&out);
            spw_proto_put_heartbeat(&out);
            spw_msg_send(&out, peer->socket, ZMQ_DONTWAIT);
        }
        i++;
    }
    //  Tasks still waiting get another try at grants (an empty GRANT or a
    //  lapsed ask leaves them with nothing else to wake them).
    spw_cloud_delegate_all(self, now);
}
