//  hub.c: the hub's loop, which moves messages between its two sockets and
//  its pure modules (capacity table, grant policy).
//
//  One thread, one zmq_poll over a control ROUTER (edges' DEALERs register,
//  heartbeat, ask for grants and say goodbye; native clients ask for the
//  status) and a state SUB (edges' PUBs connect and publish their
//  capacity), with the heartbeat tick as the poll's timeout. Each tick the
//  hub declares the silent edges dead, drops expired grants and sends every
//  live edge a heartbeat, so that edges notice a dead hub by its silence.
//
//  Beside the capacity table the loop keeps a small side table of peers,
//  one per edge name: the edge's routing identity on the control socket
//  (replaced when it registers again), and the samples of its delegated
//  totals from which the per-second rates of the status are computed.
//  capacity.c stays free of sockets and of presentation.
//
//  Invariants kept here:
//  - Nothing from the network is trusted: every message is decoded by the
//    codec; one that fails is dropped, counted and logged (at most one line
//    a second per socket).
//  - A message from an identity the hub does not hold as a live edge gets
//    DISCONNECT, which tells the edge to register again: a restarted hub
//    rebuilds its view from the edges' next heartbeats.
//  - Sends never block (ZMQ_DONTWAIT); a send to a vanished edge is counted
//    and forgotten, the edge's silence will end it.

#include "hub.h"
#include "capacity.h"
#include "grants.h"

#include "spw_clock.h"
#include "spw_log.h"
#include "spw_proto.h"
#include "spw_socket.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  Messages read from one socket in one turn, so one socket cannot starve
//  the other or the timers.
#define SPW_HUB_BATCH 256
//  Dead edges handled per call of spw_capacity_expire.
#define SPW_HUB_EXPIRE_BATCH 64
//  The shortest interval over which delegated rates are measured.
#define SPW_HUB_RATE_WINDOW_MS 1000
//  The largest message the hub takes: a STATE's records frame and its fields.
#define SPW_HUB_MAX_MESSAGE_BYTES (SPW_MAX_RECORDS_LEN + 4096)
//  Grants that always fit in one GRANT message (a record is a name, an
//  endpoint, each with a length byte, and a count).
#define SPW_HUB_MAX_GRANTS \
    (SPW_MAX_RECORDS_LEN / (1 + SPW_MAX_NAME_LEN + 1 + SPW_MAX_ENDPOINT_LEN + 4))
//  The services the hub answers on its control socket.
#define SPW_HUB_STATUS_SERVICE      "spillway.status"
#define SPW_HUB_STATUS_TEXT_SERVICE "spillway.status.text"
//  The widest the SERVICES column of the text table grows before it overflows.
#define SPW_HUB_SERVICES_COLUMN_MAX 40

//  What the loop knows of an edge beyond the capacity table.
typedef struct {
    bool used;
    char name[SPW_CAPACITY_NAME_MAX + 1];
    uint64_t epoch;                       // of the last registration
    uint8_t identity[SPW_MAX_IDENTITY_LEN];
    size_t identity_len;                  // 0: no route to it
    bool sampled;                         // out_total/in_total hold a sample
    uint64_t out_total, in_total;
    int64_t sampled_at;
    double out_per_s, in_per_s;
} spw_peer_t;

//  An ask the hub could not grant at once. It waits here until another
//  edge reports spare capacity for its service (then it is granted at
//  once) or for one heartbeat (then it is answered with nothing), so that
//  an origin hears of freed workers as soon as the hub does, without
//  polling.
typedef struct {
    spw_peer_t *peer;   // NULL: a free slot
    uint64_t epoch;
    char service[SPW_MAX_SERVICE_LEN + 1];
    uint32_t wanted;
    int64_t expires;
} spw_parked_ask_t;

//  A growing text buffer for status answers; failed once out of memory.
typedef struct {
    char *data;
    size_t len, size;
    bool failed;
} spw_buf_t;

struct spw_hub_t {
    spw_hub_config_t config;
    spw_policy_t policy;
    const char *state_endpoint;  // told to edges in WELCOME
    int64_t hold_ms;             // heartbeat_ms * liveness
    void *ctx;
    void *control;
    void *state;
    spw_capacity_t *capacity;
    spw_peer_t *peers;           // max_edges slots
    size_t peer_limit;
    spw_service_state_t *services;  // scratch for a STATE, max_services
    spw_grant_t *grants;            // scratch for an ASK
    spw_grant_entry_t *entries;     // scratch for a GRANT
    size_t grant_limit;
    spw_parked_ask_t *parked;       // asks waiting for spare, peer_limit * 4
    size_t parked_limit;
    size_t parked_count;            // slots in use: no scan while it is 0
    uint64_t random_state;
    int64_t started;
    int64_t next_tick;
    spw_drops_t control_drops;
    spw_drops_t state_drops;
    struct {
        uint64_t registered, refused, left, died, asks, granted_tasks, states,
            states_unknown, unknown_peers, unroutable, status_requests;
    } stats;
};

//  Counts a dropped message and logs it unless one was logged recently.
//  peer_frame is the frame naming the sender, or -1 when there is none.
static void drop(spw_drops_t *drops, const spw_msg_t *msg, int peer_frame, const char *why,
                 int64_t now)
{
    spw_drops_note(drops, msg, peer_frame, why, now);
}

//  Copies a decoded field into a NUL-terminated buffer of size bytes.
static void copy_field(char *dst, size_t size, const char *src, size_t len)
{
    if (len > size - 1)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

// -- Peers ------------------------------------------------------------------

static spw_peer_t *peer_by_name(spw_hub_t *self, const char *name)
{
    for (size_t i = 0; i < self->peer_limit; i++)
        if (self->peers[i].used && strcmp(self->peers[i].name, name) == 0)
            return &self->peers[i];
    return NULL;
}

static spw_peer_t *peer_by_identity(spw_hub_t *self, const zmq_msg_t *identity)
{
    const void *data = zmq_msg_data((zmq_msg_t *) identity);
    size_t len = zmq_msg_size((zmq_msg_t *) identity);
    for (size_t i = 0; i < self->peer_limit; i++) {
        spw_peer_t *peer = &self->peers[i];
        if (peer->used && peer->identity_len == len && memcmp(peer->identity, data, len) == 0)
            return peer;
    }
    return NULL;
}

//  The live capacity record of a peer's current registration, or NULL.
static spw_edge_state_t *peer_edge(spw_hub_t *self, spw_peer_t *peer)
{
    spw_edge_state_t *edge = spw_capacity_find(self->capacity, peer->name);
    return edge && edge->alive && edge->epoch == peer->epoch ? edge : NULL;
}

//  Frees the peers whose edge the capacity table no longer holds.
static void sweep_peers(spw_hub_t *self)
{
    for (size_t i = 0; i < self->peer_limit; i++)
        if (self->peers[i].used && !spw_capacity_find(self->capacity, self->peers[i].name))
            self->peers[i].used = false;
}

//  The peer of name, created if new (slots are freed by sweep_peers; the
//  capacity table holds at most peer_limit names, so after a sweep there is
//  room for any name it holds). NULL only if the tables disagree.
static spw_peer_t *peer_claim(spw_hub_t *self, const char *name)
{
    spw_peer_t *peer = peer_by_name(self, name);
    if (peer)
        return peer;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < self->peer_limit; i++)
            if (!self->peers[i].used) {
                peer = &self->peers[i];
                memset(peer, 0, sizeof *peer);
                peer->used = true;
                snprintf(peer->name, sizeof peer->name, "%s", name);
                return peer;
            }
        sweep_peers(self);
    }
    return NULL;
}

//  Routes a peer through identity, taking the identity from any other peer
//  that had it (one connection speaks for one edge).
static void peer_route(spw_hub_t *self, spw_peer_t *peer, const zmq_msg_t *identity)
{
    spw_peer_t *other = peer_by_identity(self, identity);
    if (other && other != peer)
        other->identity_len = 0;
    peer->identity_len = zmq_msg_size((zmq_msg_t *) identity);
    memcpy(peer->identity, zmq_msg_data((zmq_msg_t *) identity), peer->identity_len);
}

// -- Sending ----------------------------------------------------------------

//  Sends msg (identity frame first) on the control socket; counts failures.
static void send_control(spw_hub_t *self, spw_msg_t *msg, const char *what)
{
    if (spw_msg_send(msg, self->control, ZMQ_DONTWAIT) != 0) {
        self->stats.unroutable++;
        spw_log(SPW_LOG_DEBUG, "send_failed", "message=%s error=\"%s\"", what,
                zmq_strerror(errno));
    }
}

static void send_disconnect(spw_hub_t *self, zmq_msg_t *identity)
{
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, identity);
    spw_proto_put_disconnect(&out);
    send_control(self, &out, "disconnect");
}

//  Tells every live edge but except (may be NULL) that name joined, died or left.
static void broadcast_member(spw_hub_t *self, spw_member_event_t event, const char *name,
                             const char *endpoint, const char *except)
{
    for (size_t i = 0; i < self->peer_limit; i++) {
        spw_peer_t *peer = &self->peers[i];
        if (!peer->used || !peer->identity_len || !peer_edge(self, peer)
            || (except && strcmp(peer->name, except) == 0))
            continue;
        spw_msg_t out;
        spw_msg_init(&out);
        spw_msg_add_mem(&out, peer->identity, peer->identity_len);
        if (spw_proto_put_member(&out, event, name, endpoint) != 0) {
            spw_msg_reset(&out);
            return;
        }
        send_control(self, &out, "member");
    }
}

//  Sends a native REPLY with one body frame of text.
static void send_reply(spw_hub_t *self, zmq_msg_t *identity, uint64_t request_id,
                       spw_status_t status, const char *body, size_t len)
{
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, identity);
    spw_proto_put_reply(&out, request_id, status);
    spw_msg_add_mem(&out, body, len);
    send_control(self, &out, "reply");
}

// -- Control: registration, heartbeats, asks ---------------------------------

static void on_register(spw_hub_t *self, spw_msg_t *msg, const spw_proto_t *in, int64_t now)
{
    zmq_msg_t *identity = &msg->frame[0];
    char name[SPW_CAPACITY_NAME_MAX + 1], endpoint[SPW_MAX_ENDPOINT_LEN + 1],
        zone[SPW_MAX_NAME_LEN + 1], reason[SPW_MAX_TEXT_LEN];
    copy_field(name, sizeof name, in->name, in->name_len);
    copy_field(endpoint, sizeof endpoint, in->endpoint, in->endpoint_len);
    copy_field(zone, sizeof zone, in->text, in->text_len);

    uint32_t retry_ms = 0;
    spw_edge_state_t *edge = NULL;
    spw_reg_result_t result = SPW_REG_INVALID;
    //  If this turns out to be a restart, the old process is dead: its
    //  peers must hear so, at the address they knew it by.
    char old_endpoint[SPW_CAPACITY_ENDPOINT_MAX + 1] = "";
    spw_edge_state_t *old = spw_capacity_find(self->capacity, name);
    if (old && old->alive && old->epoch != in->epoch)
        snprintf(old_endpoint, sizeof old_endpoint, "%s", old->endpoint);
    if (!spw_endpoint_valid(endpoint))
        snprintf(reason, sizeof reason, "advertised endpoint '%s' is not a ZeroMQ endpoint",
                 endpoint);
    else
        result = spw_capacity_register(self->capacity, name, in->epoch, endpoint, zone, now,
                                       self->hold_ms, &edge);
    switch (result) {
    case SPW_REG_NEW:
    case SPW_REG_RESTARTED:
    case SPW_REG_SAME:
        break;
    case SPW_REG_NAME_TAKEN:
        snprintf(reason, sizeof reason, "name '%s' is held by a live edge", name);
        retry_ms = (uint32_t) self->hold_ms;
        break;
    case SPW_REG_FULL:
        snprintf(reason, sizeof reason, "hub is full (max_edges=%lld)",
                 (long long) self->config.max_edges);
        break;
    case SPW_REG_INVALID:
        if (spw_endpoint_valid(endpoint))
            snprintf(reason, sizeof reason, "invalid registration");
        break;
    }
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, identity);
    if (result != SPW_REG_NEW && result != SPW_REG_RESTARTED && result != SPW_REG_SAME) {
        self->stats.refused++;
        spw_log(SPW_LOG_WARNING, "edge_refused", "name=%s epoch=%016llx endpoint=%s reason=\"%s\"",
                name, (unsigned long long) in->epoch, endpoint, reason);
        spw_proto_put_refused(&out, reason, retry_ms);
        send_control(self, &out, "refused");
        return;
    }
    spw_peer_t *peer = peer_claim(self, name);
    if (!peer) {
        //  Cannot happen while the peer table is as large as the capacity table.
        spw_capacity_forget(self->capacity, name);
        spw_msg_reset(&out);
        return;
    }
    if (peer->epoch != in->epoch || result != SPW_REG_SAME) {
        peer->sampled = false;
        peer->out_per_s = peer->in_per_s = 0;
    }
    peer->epoch = in->epoch;
    peer_route(self, peer, identity);
    spw_proto_put_welcome(&out, self->state_endpoint, (uint32_t) self->config.heartbeat_ms,
                          (uint32_t) self->config.liveness);
    send_control(self, &out, "welcome");
    if (result == SPW_REG_SAME)
        return;
    self->stats.registered++;
    spw_log(SPW_LOG_INFO, "edge_joined", "name=%s epoch=%016llx endpoint=%s zone=%s%s", name,
            (unsigned long long) in->epoch, endpoint, *zone ? zone : "-",
            result == SPW_REG_RESTARTED ? " restarted=yes" : "");
    if (result == SPW_REG_RESTARTED) {
        self->stats.died++;
        broadcast_member(self, SPW_MEMBER_DIED, name, old_endpoint, name);
    }
    broadcast_member(self, SPW_MEMBER_JOINED, name, endpoint, name);
}

//  The peer that sent msg if it is a live registered edge, else NULL after
//  telling the sender to register again.
static spw_peer_t *known_sender(spw_hub_t *self, spw_msg_t *msg)
{
    spw_peer_t *peer = peer_by_identity(self, &msg->frame[0]);
    if (peer && peer_edge(self, peer))
        return peer;
    self->stats.unknown_peers++;
    send_disconnect(self, &msg->frame[0]);
    return NULL;
}

//  True if a live edge other than origin has workers for service, or may
//  have: one that registered but has not yet sent its state (restarting).
static bool offered_elsewhere(spw_hub_t *self, const char *origin, const char *service)
{
    for (size_t i = 0; i < spw_capacity_count(self->capacity); i++) {
        spw_edge_state_t *edge = spw_capacity_at(self->capacity, i);
        if (!edge->alive || strcmp(edge->name, origin) == 0)
            continue;
        spw_peer_t *peer = peer_by_name(self, edge->name);
        if (!peer || !peer->sampled)
            return true;
        spw_service_state_t *offered = spw_capacity_service(edge, service);
        if (offered && offered->workers > 0)
            return true;
    }
    return false;
}

//  Decides grants for an ask and sends them. An ask that gets nothing is
//  parked (unless final, or no slot is free) and 1 is returned; else 0.
static int answer_ask(spw_hub_t *self, spw_peer_t *peer, const char *service, uint32_t wanted,
                      bool final, int64_t park_until, int64_t now)
{
    size_t count = spw_grants_decide(self->capacity, self->policy, peer->name, service, wanted,
                                     now, self->config.grant_ttl_ms, &self->random_state,
                                     self->grants, self->grant_limit);
    //  A hub that has just started waits one liveness for the edges' state
    //  before it says no live edge offers a service.
    bool warm = now - self->started >= self->config.heartbeat_ms * self->config.liveness;
    bool nobody = warm && !offered_elsewhere(self, peer->name, service);
    if (count == 0 && !final && !nobody) {
        spw_parked_ask_t *slot = NULL;
        for (size_t i = 0; i < self->parked_limit; i++) {
            spw_parked_ask_t *ask = &self->parked[i];
            if (ask->peer == peer && strcmp(ask->service, service) == 0) {
                slot = ask;  // a repeated ask replaces the waiting one
                break;
            }
            if (!ask->peer && !slot)
                slot = ask;
        }
        if (slot) {
            if (!slot->peer)
                self->parked_count++;
            *slot = (spw_parked_ask_t) { peer, peer->epoch, "", wanted, park_until };
            snprintf(slot->service, sizeof slot->service, "%s", service);
            return 1;
        }
    }
    uint32_t total = 0;
    for (size_t i = 0; i < count; i++) {
        self->entries[i] = (spw_grant_entry_t) {
            .name = self->grants[i].edge,
            .name_len = strlen(self->grants[i].edge),
            .endpoint = self->grants[i].endpoint,
            .endpoint_len = strlen(self->grants[i].endpoint),
            .count = self->grants[i].count,
        };
        total += self->grants[i].count;
    }
    self->stats.granted_tasks += total;
    spw_log(SPW_LOG_DEBUG, "grant", "origin=%s service=%s asked=%u granted=%u edges=%zu",
            peer->name, service, wanted, total, count);
    //  A ttl of 0 tells the origin no other live edge offers the service
    //  at all, so it can answer no-service instead of waiting.
    uint32_t ttl = count == 0 && nobody ? 0 : (uint32_t) self->config.grant_ttl_ms;
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_mem(&out, peer->identity, peer->identity_len);
    if (spw_proto_put_grant(&out, service, ttl, self->entries, count) != 0) {
        //  The grants stay recorded and expire with their ttl: under-commit is safe.
        spw_log(SPW_LOG_ERROR, "grant_unencodable", "origin=%s service=%s edges=%zu",
                peer->name, service, count);
        spw_msg_reset(&out);
        return 0;
    }
    send_control(self, &out, "grant");
    return 0;
}

static void on_ask(spw_hub_t *self, spw_msg_t *msg, const spw_proto_t *in, int64_t now)
{
    spw_peer_t *peer = known_sender(self, msg);
    if (!peer)
        return;
    spw_capacity_heard(self->capacity, peer->name, peer->epoch, now);
    char service[SPW_MAX_SERVICE_LEN + 1];
    copy_field(service, sizeof service, in->service, in->service_len);
    uint32_t wanted = in->count < (uint64_t) self->config.max_grant
                        ? in->count
                        : (uint32_t) self->config.max_grant;
    self->stats.asks++;
    answer_ask(self, peer, service, wanted, false, now + self->config.heartbeat_ms, now);
}

//  Answers the parked asks that the latest news may satisfy: all of them
//  whose service the edge named by reporter (NULL: any) has spare for, and
//  with nothing those that waited their heartbeat or whose asker is gone.
static void wake_parked(spw_hub_t *self, const char *reporter, int64_t now)
{
    if (self->parked_count == 0)
        return;  // the common case: every STATE passes through here
    spw_edge_state_t *edge = reporter ? spw_capacity_find(self->capacity, reporter) : NULL;
    for (size_t i = 0; i < self->parked_limit; i++) {
        spw_parked_ask_t *ask = &self->parked[i];
        if (!ask->peer)
            continue;
        if (!ask->peer->used || ask->peer->epoch != ask->epoch || !ask->peer->identity_len) {
            ask->peer = NULL;
            self->parked_count--;
            continue;
        }
        bool expired = ask->expires <= now;
        spw_service_state_t *offered = edge && strcmp(edge->name, ask->peer->name) != 0
                                         ? spw_capacity_service(edge, ask->service)
                                         : NULL;
        if (!expired && !(offered && spw_capacity_spare(offered) > 0))
            continue;
        spw_parked_ask_t waiting = *ask;
        ask->peer = NULL;  // answered, or parked again (here) if still nothing
        self->parked_count--;
        answer_ask(self, waiting.peer, waiting.service, waiting.wanted, expired,
                   waiting.expires, now);
    }
}

static void on_goodbye(spw_hub_t *self, spw_msg_t *msg, int64_t now)
{
    (void) now;
    spw_peer_t *peer = peer_by_identity(self, &msg->frame[0]);
    if (!peer || !peer_edge(self, peer))
        return;  // already forgotten or dead: nothing to tell
    char name[SPW_CAPACITY_NAME_MAX + 1], endpoint[SPW_CAPACITY_ENDPOINT_MAX + 1];
    snprintf(name, sizeof name, "%s", peer->name);
    snprintf(endpoint, sizeof endpoint, "%s", peer_edge(self, peer)->endpoint);
    spw_capacity_forget(self->capacity, name);
    peer->used = false;
    self->stats.left++;
    spw_log(SPW_LOG_INFO, "edge_left", "name=%s endpoint=%s", name, endpoint);
    broadcast_member(self, SPW_MEMBER_LEFT, name, endpoint, NULL);
}

// -- Status -----------------------------------------------------------------

static void buf_add(spw_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_add(spw_buf_t *buf, const char *fmt, ...)
{
    if (buf->failed)
        return;
    while (true) {
        va_list args;
        va_start(args, fmt);
        int n = vsnprintf(buf->data + buf->len, buf->size - buf->len, fmt, args);
        va_end(args);
        if (n < 0) {
            buf->failed = true;
            return;
        }
        if (buf->len + (size_t) n < buf->size) {
            buf->len += (size_t) n;
            return;
        }
        size_t size = (buf->size ? buf->size * 2 : 4096) + (size_t) n;
        char *data = realloc(buf->data, size);
        if (!data) {
            buf->failed = true;
            return;
        }
        buf->data = data;
        buf->size = size;
    }
}

//  Appends text as a JSON string, quotes included.
static void buf_add_json_string(spw_buf_t *buf, const char *text)
{
    buf_add(buf, "\"");
    for (const unsigned char *c = (const unsigned char *) text; *c; c++) {
        if (*c == '"' || *c == '\\')
            buf_add(buf, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            buf_add(buf, "\\u%04x", *c);
        else
            buf_add(buf, "%c", *c);
    }
    buf_add(buf, "\"");
}

typedef struct {
    uint64_t workers, idle, queued, running;
} spw_totals_t;

static spw_totals_t edge_totals(const spw_edge_state_t *edge)
{
    spw_totals_t totals = { 0, 0, 0, 0 };
    for (size_t i = 0; i < edge->service_count; i++) {
        totals.workers += edge->services[i].workers;
        totals.idle += edge->services[i].idle;
        totals.queued += edge->services[i].queued;
        totals.running += edge->services[i].running;
    }
    return totals;
}

//  The delegated rates of an edge: 0 for a dead one, it delegates nothing.
static void edge_rates(spw_hub_t *self, const spw_edge_state_t *edge, double *out, double *in)
{
    spw_peer_t *peer = peer_by_name(self, edge->name);
    bool current = edge->alive && peer && peer->epoch == edge->epoch;
    *out = current ? peer->out_per_s : 0;
    *in = current ? peer->in_per_s : 0;
}

static void render_json(spw_hub_t *self, spw_buf_t *buf, int64_t now)
{
    buf_add(buf, "{\"hub\":");
    buf_add_json_string(buf, self->config.name);
    buf_add(buf, ",\"policy\":\"%s\",\"uptime_ms\":%lld,\"edges\":[", spw_policy_name(self->policy),
            (long long) (now - self->started));
    size_t count = spw_capacity_count(self->capacity);
    for (size_t i = 0; i < count; i++) {
        spw_edge_state_t *edge = spw_capacity_at(self->capacity, i);
        spw_totals_t totals = edge_totals(edge);
        double out, in;
        edge_rates(self, edge, &out, &in);
        buf_add(buf, "%s{\"name\":", i ? "," : "");
        buf_add_json_string(buf, edge->name);
        buf_add(buf, ",\"state\":\"%s\",\"age_ms\":%lld,\"zone\":", edge->alive ? "alive" : "dead",
                (long long) (now - edge->last_heard));
        buf_add_json_string(buf, edge->zone);
        buf_add(buf, ",\"endpoint\":");
        buf_add_json_string(buf, edge->endpoint);
        buf_add(buf,
                ",\"epoch\":\"%016llx\",\"workers\":%llu,\"idle\":%llu,\"queued\":%llu,"
                "\"running\":%llu,\"delegated_out\":%llu,\"delegated_in\":%llu,"
                "\"delegated_out_per_s\":%.2f,\"delegated_in_per_s\":%.2f,\"services\":[",
                (unsigned long long) edge->epoch, (unsigned long long) totals.workers,
                (unsigned long long) totals.idle, (unsigned long long) totals.queued,
                (unsigned long long) totals.running, (unsigned long long) edge->delegated_out,
                (unsigned long long) edge->delegated_in, out, in);
        for (size_t s = 0; s < edge->service_count; s++) {
            const spw_service_state_t *service = &edge->services[s];
            buf_add(buf, "%s{\"name\":", s ? "," : "");
            buf_add_json_string(buf, service->name);
            buf_add(buf,
                    ",\"workers\":%u,\"idle\":%u,\"queued\":%u,\"running\":%u,\"rate\":%.3f,"
                    "\"granted\":%u}",
                    service->workers, service->idle, service->queued, service->running,
                    service->rate, service->granted);
        }
        buf_add(buf, "]}");
    }
    buf_add(buf,
            "],\"counters\":{\"registered\":%llu,\"refused\":%llu,\"left\":%llu,\"died\":%llu,"
            "\"asks\":%llu,\"granted_tasks\":%llu,\"grants_outstanding\":%zu,\"states\":%llu,"
            "\"states_unknown\":%llu,\"unknown_peers\":%llu,\"unroutable\":%llu,"
            "\"dropped_control\":%llu,\"dropped_state\":%llu}}",
            (unsigned long long) self->stats.registered, (unsigned long long) self->stats.refused,
            (unsigned long long) self->stats.left, (unsigned long long) self->stats.died,
            (unsigned long long) self->stats.asks,
            (unsigned long long) self->stats.granted_tasks,
            spw_capacity_grant_count(self->capacity), (unsigned long long) self->stats.states,
            (unsigned long long) self->stats.states_unknown,
            (unsigned long long) self->stats.unknown_peers,
            (unsigned long long) self->stats.unroutable,
            (unsigned long long) self->control_drops.count,
            (unsigned long long) self->state_drops.count);
}

//  "0.3s", "42s", "17m", "5h": an age that fits a narrow column.
static void format_age(char *dst, size_t size, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms < 10000)
        snprintf(dst, size, "%.1fs", (double) ms / 1000.0);
    else if (ms < 120000)
        snprintf(dst, size, "%llds", (long long) (ms / 1000));
    else if (ms < 7200000)
        snprintf(dst, size, "%lldm", (long long) (ms / 60000));
    else
        snprintf(dst, size, "%lldh", (long long) (ms / 3600000));
}

static size_t services_width(const spw_edge_state_t *edge)
{
    size_t width = 0;
    for (size_t s = 0; s < edge->service_count; s++)
        width += strlen(edge->services[s].name) + (s ? 1 : 0);
    return width ? width : 1;
}

static void render_text(spw_hub_t *self, spw_buf_t *buf, int64_t now)
{
    size_t count = spw_capacity_count(self->capacity), alive = 0;
    int name_w = 4, zone_w = 4, services_w = 8;
    for (size_t i = 0; i < count; i++) {
        spw_edge_state_t *edge = spw_capacity_at(self->capacity, i);
        alive += edge->alive;
        int n = (int) strlen(edge->name), z = (int) strlen(edge->zone);
        int s = (int) services_width(edge);
        name_w = n > name_w ? n : name_w;
        zone_w = z > zone_w ? z : zone_w;
        services_w = s > services_w ? s : services_w;
    }
    if (services_w > SPW_HUB_SERVICES_COLUMN_MAX)
        services_w = SPW_HUB_SERVICES_COLUMN_MAX;
    buf_add(buf, "hub %s  policy %s  edges %zu  alive %zu\n", self->config.name,
            spw_policy_name(self->policy), count, alive);
    buf_add(buf, "%-*s  %-5s  %5s  %-*s  %-*s  %7s  %6s  %6s  %8s  %8s\n", name_w, "NAME",
            "STATE", "AGE", zone_w, "ZONE", services_w, "SERVICES", "WORKERS", "IDLE", "QUEUED",
            "OUT/s", "IN/s");
    for (size_t i = 0; i < count; i++) {
        spw_edge_state_t *edge = spw_capacity_at(self->capacity, i);
        spw_totals_t totals = edge_totals(edge);
        double out, in;
        edge_rates(self, edge, &out, &in);
        char age[16];
        format_age(age, sizeof age, now - edge->last_heard);
        buf_add(buf, "%-*s  %-5s  %5s  %-*s  ", name_w, edge->name,
                edge->alive ? "alive" : "dead", age, zone_w, *edge->zone ? edge->zone : "-");
        size_t written = 0;
        for (size_t s = 0; s < edge->service_count; s++) {
            buf_add(buf, "%s%s", s ? "," : "", edge->services[s].name);
            written += strlen(edge->services[s].name) + (s ? 1 : 0);
        }
        if (!edge->service_count) {
            buf_add(buf, "-");
            written = 1;
        }
        int pad = written < (size_t) services_w ? (int) ((size_t) services_w - written) : 0;
        if (!edge->alive) {
            //  A dead edge's last figures are history, not capacity.
            buf_add(buf, "%*s  %7s  %6s  %6s  %8s  %8s\n", pad, "", "-", "-", "-", "-", "-");
            continue;
        }
        buf_add(buf, "%*s  %7llu  %6llu  %6llu  %8.1f  %8.1f\n", pad, "",
                (unsigned long long) totals.workers, (unsigned long long) totals.idle,
                (unsigned long long) totals.queued, out, in);
    }
    if (!count)
        buf_add(buf, "(no edges)\n");
}

static void on_request(spw_hub_t *self, spw_msg_t *msg, const spw_proto_t *in, int64_t now)
{
    bool json = in->service_len == strlen(SPW_HUB_STATUS_SERVICE)
             && memcmp(in->service, SPW_HUB_STATUS_SERVICE, in->service_len) == 0;
    bool text = in->service_len == strlen(SPW_HUB_STATUS_TEXT_SERVICE)
             && memcmp(in->service, SPW_HUB_STATUS_TEXT_SERVICE, in->service_len) == 0;
    if (!json && !text) {
        char reason[160];
        int n = snprintf(reason, sizeof reason,
                         "the hub offers only '%s' and '%s', not '%.*s'",
                         SPW_HUB_STATUS_SERVICE, SPW_HUB_STATUS_TEXT_SERVICE,
                         (int) in->service_len, in->service);
        send_reply(self, &msg->frame[0], in->id, SPW_STATUS_NO_SERVICE, reason,
                   (size_t) n < sizeof reason ? (size_t) n : sizeof reason - 1);
        return;
    }
    self->stats.status_requests++;
    spw_buf_t buf = { NULL, 0, 0, false };
    if (json)
        render_json(self, &buf, now);
    else
        render_text(self, &buf, now);
    if (buf.failed)
        send_reply(self, &msg->frame[0], in->id, SPW_STATUS_FAILED, "out of memory", 13);
    else
        send_reply(self, &msg->frame[0], in->id, SPW_STATUS_OK, buf.data, buf.len);
    free(buf.data);
}

//  One message on the control socket: [identity]["SPW1"][command]...
static void on_control(void *arg, spw_msg_t *msg, int64_t now)
{
    spw_hub_t *self = arg;
    spw_drops_t *drops = &self->control_drops;
    if (msg->count < 3) {
        drop(drops, msg, 0, "too few frames", now);
        return;
    }
    spw_proto_t in;
    const char *why = NULL;
    if (spw_proto_decode(msg, 1, &in, &why) != 0) {
        drop(drops, msg, 0, why, now);
        return;
    }
    switch (in.cmd) {
    case SPW_CMD_REGISTER:
        on_register(self, msg, &in, now);
        break;
    case SPW_CMD_HEARTBEAT: {
        spw_peer_t *peer = known_sender(self, msg);
        if (peer)
            spw_capacity_heard(self->capacity, peer->name, peer->epoch, now);
        break;
    }
    case SPW_CMD_ASK:
        on_ask(self, msg, &in, now);
        break;
    case SPW_CMD_DISCONNECT:
        on_goodbye(self, msg, now);
        break;
    case SPW_CMD_REQUEST:
        on_request(self, msg, &in, now);
        break;
    default:
        drop(drops, msg, 0, "command not allowed on the hub's control socket", now);
        break;
    }
}

// -- State ------------------------------------------------------------------

//  Folds an edge's delegated totals into its per-second rates, measured
//  over at least SPW_HUB_RATE_WINDOW_MS.
static void sample_rates(spw_peer_t *peer, uint64_t out, uint64_t in, int64_t now)
{
    if (!peer->sampled || out < peer->out_total || in < peer->in_total) {
        peer->sampled = true;
        peer->out_total = out;
        peer->in_total = in;
        peer->sampled_at = now;
        return;
    }
    int64_t elapsed = now - peer->sampled_at;
    if (elapsed < SPW_HUB_RATE_WINDOW_MS)
        return;
    peer->out_per_s = (double) (out - peer->out_total) * 1000.0 / (double) elapsed;
    peer->in_per_s = (double) (in - peer->in_total) * 1000.0 / (double) elapsed;
    peer->out_total = out;
    peer->in_total = in;
    peer->sampled_at = now;
}

//  One message on the state socket: ["SPW1"][STATE]...
static void on_state(void *arg, spw_msg_t *msg, int64_t now)
{
    spw_hub_t *self = arg;
    spw_drops_t *drops = &self->state_drops;
    spw_proto_t in;
    const char *why = NULL;
    if (spw_proto_decode(msg, 0, &in, &why) != 0) {
        drop(drops, msg, -1, why, now);
        return;
    }
    if (in.cmd != SPW_CMD_STATE) {
        drop(drops, msg, -1, "command not allowed on the hub's state socket", now);
        return;
    }
    size_t count = 0, offset = 0;
    spw_service_figures_t figures;
    int rc;
    while ((rc = spw_proto_next_figures(&in, &offset, &figures)) == 1) {
        if (count == (size_t) self->config.max_services) {
            drop(drops, msg, -1, "more services than max_services", now);
            return;
        }
        spw_service_state_t *service = &self->services[count++];
        memset(service, 0, sizeof *service);
        copy_field(service->name, sizeof service->name, figures.service, figures.service_len);
        service->workers = figures.workers;
        service->idle = figures.idle;
        service->queued = figures.queued;
        service->running = figures.running;
        service->rate = figures.rate_milli / 1000.0;
    }
    if (rc != 0) {
        drop(drops, msg, -1, "bad service figures", now);
        return;
    }
    char name[SPW_CAPACITY_NAME_MAX + 1];
    copy_field(name, sizeof name, in.name, in.name_len);
    if (spw_capacity_update(self->capacity, name, in.epoch, self->services, count, in.out, in.in,
                            now)
        != 0) {
        //  Not a live edge (or a repeated service): the edge re-registers
        //  when its heartbeat gets DISCONNECT.
        self->stats.states_unknown++;
        spw_log(SPW_LOG_DEBUG, "state_ignored", "name=%s epoch=%016llx", name,
                (unsigned long long) in.epoch);
        return;
    }
    self->stats.states++;
    wake_parked(self, name, now);
    spw_peer_t *peer = peer_by_name(self, name);
    if (peer && peer->epoch == in.epoch)
        sample_rates(peer, in.out, in.in, now);
}

// -- The loop ---------------------------------------------------------------

//  Declares silent edges dead, drops expired grants, heartbeats the rest.
static void tick(spw_hub_t *self, int64_t now)
{
    spw_edge_state_t *dead[SPW_HUB_EXPIRE_BATCH];
    size_t count;
    do {
        count = spw_capacity_expire(self->capacity, now, self->hold_ms, dead,
                                    SPW_HUB_EXPIRE_BATCH);
        for (size_t i = 0; i < count; i++) {
            self->stats.died++;
            spw_log(SPW_LOG_WARNING, "edge_died", "name=%s silent_ms=%lld endpoint=%s",
                    dead[i]->name, (long long) (now - dead[i]->last_heard), dead[i]->endpoint);
            broadcast_member(self, SPW_MEMBER_DIED, dead[i]->name, dead[i]->endpoint, NULL);
        }
    } while (count == SPW_HUB_EXPIRE_BATCH);
    spw_capacity_expire_grants(self->capacity, now);
    sweep_peers(self);
    wake_parked(self, NULL, now);
    for (size_t i = 0; i < self->peer_limit; i++) {
        spw_peer_t *peer = &self->peers[i];
        if (!peer->used || !peer->identity_len || !peer_edge(self, peer))
            continue;
        spw_msg_t out;
        spw_msg_init(&out);
        spw_msg_add_mem(&out, peer->identity, peer->identity_len);
        spw_proto_put_heartbeat(&out);
        send_control(self, &out, "heartbeat");
    }
}

//  A seed for the random policy that differs from run to run.
static uint64_t random_seed(void)
{
    uint64_t state = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32)
                   ^ (uint64_t) spw_clock_us();
    return spw_grants_random_next(&state);
}

spw_hub_t *spw_hub_new(const spw_hub_config_t *config, char *err, size_t errlen)
{
    spw_hub_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->config = *config;
    const spw_key_t *policy_key = spw_config_key(spw_hub_keys, "policy");
    if (!policy_key || spw_policy_parse(policy_key->choices[config->policy], &self->policy) != 0) {
        snprintf(err, errlen, "unknown policy");
        free(self);
        return NULL;
    }
    self->state_endpoint = *self->config.state_advertise ? self->config.state_advertise
                                                         : self->config.state;
    self->hold_ms = config->heartbeat_ms * config->liveness;
    self->random_state = random_seed();
    self->control_drops.name = "control";
    self->state_drops.name = "state";
    self->peer_limit = (size_t) config->max_edges;
    self->grant_limit = self->peer_limit < SPW_HUB_MAX_GRANTS ? self->peer_limit
                                                              : SPW_HUB_MAX_GRANTS;
    self->ctx = zmq_ctx_new();
    self->capacity = spw_capacity_new((size_t) config->max_edges, (size_t) config->max_services);
    self->peers = calloc(self->peer_limit, sizeof *self->peers);
    self->services = calloc((size_t) config->max_services, sizeof *self->services);
    self->grants = calloc(self->grant_limit, sizeof *self->grants);
    self->parked_limit = self->peer_limit * 4;
    self->parked = calloc(self->parked_limit, sizeof *self->parked);
    self->entries = calloc(self->grant_limit, sizeof *self->entries);
    if (!self->ctx || !self->capacity || !self->peers || !self->services || !self->grants
        || !self->entries || !self->parked) {
        snprintf(err, errlen, "out of memory");
        spw_hub_destroy(&self);
        return NULL;
    }
    spw_socket_opts_t opts = { .max_message_bytes = SPW_HUB_MAX_MESSAGE_BYTES, .hwm = 1000 };
    self->control = spw_socket_new(self->ctx, ZMQ_ROUTER, &opts);
    self->state = spw_socket_new(self->ctx, ZMQ_SUB, &opts);
    if (!self->control || !self->state
        || zmq_setsockopt(self->state, ZMQ_SUBSCRIBE, "", 0) != 0) {
        snprintf(err, errlen, "cannot create sockets: %s", zmq_strerror(errno));
        spw_hub_destroy(&self);
        return NULL;
    }
    if (spw_socket_bind(self->control, config->control, err, errlen) != 0
        || spw_socket_bind(self->state, config->state, err, errlen) != 0) {
        spw_hub_destroy(&self);
        return NULL;
    }
    self->started = spw_clock_ms();
    self->next_tick = self->started + config->heartbeat_ms;
    return self;
}

//  Reads up to a batch of messages from one socket. Returns -1 on a fatal
//  error (the context was terminated), else 0.
int spw_hub_run(spw_hub_t *self, volatile sig_atomic_t *stop)
{
    spw_log(SPW_LOG_INFO, "started",
            "control=%s state=%s state_advertise=%s policy=%s heartbeat_ms=%lld liveness=%lld",
            self->config.control, self->config.state, self->state_endpoint,
            spw_policy_name(self->policy), (long long) self->config.heartbeat_ms,
            (long long) self->config.liveness);
    zmq_pollitem_t items[] = {
        { self->control, 0, ZMQ_POLLIN, 0 },
        { self->state, 0, ZMQ_POLLIN, 0 },
    };
    int rc = 0;
    while (!*stop) {
        int64_t now = spw_clock_ms();
        long timeout = self->next_tick > now ? (long) (self->next_tick - now) : 0;
        if (zmq_poll(items, 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            spw_log(SPW_LOG_ERROR, "poll_failed", "error=\"%s\"", zmq_strerror(errno));
            rc = -1;
            break;
        }
        now = spw_clock_ms();
        //  State first: fresh figures before the grants that use them.
        if ((items[1].revents & ZMQ_POLLIN)
            && spw_msg_drain(self->state, SPW_HUB_BATCH, on_state, self, &self->state_drops, -1, now) != 0)
            rc = -1;
        if ((items[0].revents & ZMQ_POLLIN)
            && spw_msg_drain(self->control, SPW_HUB_BATCH, on_control, self, &self->control_drops, 0, now) != 0)
            rc = -1;
        if (rc != 0) {
            spw_log(SPW_LOG_ERROR, "receive_failed", "error=\"%s\"", zmq_strerror(errno));
            break;
        }
        if (now >= self->next_tick) {
            tick(self, now);
            self->next_tick = now + self->config.heartbeat_ms;
        }
    }
    spw_log(SPW_LOG_INFO, "stopped", "edges=%zu registered=%llu asks=%llu granted_tasks=%llu",
            spw_capacity_count(self->capacity), (unsigned long long) self->stats.registered,
            (unsigned long long) self->stats.asks,
            (unsigned long long) self->stats.granted_tasks);
    return rc;
}

void spw_hub_destroy(spw_hub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_hub_t *self = *self_p;
    spw_socket_destroy(&self->control);
    spw_socket_destroy(&self->state);
    spw_capacity_destroy(&self->capacity);
    free(self->peers);
    free(self->services);
    free(self->grants);
    free(self->entries);
    free(self->parked);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}
