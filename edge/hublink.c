//  hublink.c: the edge's link to the hub — registration, heartbeats, the
//  state it publishes, the matches it hears (whom to lend to, whom to
//  borrow from) and the membership news.
//
//  The edge needs one address, the hub's control endpoint. It registers
//  there (DEALER) with its name, a random epoch for this process, the cloud
//  endpoint peers should use and its zone, and sends its state on the same
//  connection at every heartbeat and, coalesced, when it grows (the state
//  endpoint WELCOME names is for publishers of older versions; this edge
//  does not use it). The edge sends a
//  HEARTBEAT on the control link at every tick; a hub that does not know it
//  (restarted) answers DISCONNECT and the edge registers again. A hub silent
//  for its liveness is dead: the edge keeps its matches for one credit lease
//  more (lending already set up runs out its lease), then forgets them, and
//  keeps trying to register.
//  Without a hub the local flow goes on.
//
//  An edge may be given several hubs (`hub: EP1,EP2`). They share nothing:
//  each knows the edges registered with it, and what it knows is soft (the
//  edges' next states rebuild it). The edge uses one at a time, the first
//  of its list that answers, and sends each of the others a HEARTBEAT
//  every beat, which a hub that does not know the edge answers DISCONNECT:
//  a probe. When its hub has been silent two of the hub's heartbeats, the
//  edge registers with the first other hub that answers its probes (or the
//  next in the list); when a hub earlier in its list has answered for two
//  heartbeats, it goes back to it. So all edges gather on the first hub
//  that is up, and while some edges cannot reach it the two halves each
//  lend within themselves: lending is by credit between edges, so two
//  hubs never make one lender over-commit.
//
//  State is published at every heartbeat and, coalesced to 10 ms, when it
//  grows materially: a service's workers change, or its spare (idle + lent)
//  or backlog (queued + borrowed) rises by a power of two. Falls wait for
//  the heartbeat: the hub matches on these figures, and re-matching on
//  every task would cost a hub message per task, which lending by credit
//  exists to avoid.

#include "hublink.h"
#include "cloud.h"
#include "life.h"

#include "spw_clock.h"
#include "spw_log.h"
#include "spw_socket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  Figures of every service for one STATE message.
typedef struct {
    spw_service_figures_t *figures;
    size_t count;
    size_t limit;
    bool grew;           // something the hub matches on grew since it was told
    int64_t now;
} spw_state_batch_t;

bool spw_hublink_joined(spw_edge_t *self)
{
    return self->hub_state == SPW_HUB_JOINED;
}

//  Replaces a wildcard host ('*' or 0.0.0.0) in endpoint with host.
static void fill_host(char *out, size_t size, const char *endpoint, const char *host)
{
    const char *colon = strrchr(endpoint, ':');
    bool wildcard = strncmp(endpoint, "tcp://*:", 8) == 0
                 || strncmp(endpoint, "tcp://0.0.0.0:", 14) == 0;
    if (!wildcard || !colon || !host || !*host)
        snprintf(out, size, "%s", endpoint);
    else
        snprintf(out, size, "tcp://%s%s", host, colon);
}

//  The active hub's endpoint, for the log.
static const char *hub_name(const spw_edge_t *self)
{
    return self->hub_count ? self->hub_endpoints[self->hub_active] : "-";
}

static void send_register(spw_edge_t *self, int64_t now)
{
    spw_msg_t out;
    spw_msg_init(&out);
    spw_proto_put_register(&out, self->config.name, self->epoch, self->advertise,
                           self->config.zone);
    spw_msg_send(&out, self->control, ZMQ_DONTWAIT);
    self->next_register = now + self->hub_heartbeat_ms;
}

int spw_hublink_start(spw_edge_t *self, char *err, size_t errlen)
{
    if (!*self->config.hub) {
        self->hub_state = SPW_HUB_OFF;
        return 0;
    }
    //  The epoch tells this process from an earlier one of the same name.
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    self->epoch = ((uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec)
                ^ ((uint64_t) getpid() << 40);
    if (*self->config.advertise)
        snprintf(self->advertise, sizeof self->advertise, "%s", self->config.advertise);
    else {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        fill_host(self->advertise, sizeof self->advertise, self->config.cloud, host);
    }
    self->figures = calloc((size_t) self->config.max_services, sizeof *self->figures);
    if (!self->figures)
        return snprintf(err, errlen, "out of memory"), -1;
    //  Immediate: while the hub is away, registrations are not queued up to
    //  arrive all at once when it comes back; the tick sends a fresh one.
    spw_socket_opts_t opts = { .max_message_bytes = SPW_MAX_RECORDS_LEN * 2, .hwm = 1000,
                               .immediate = true };
    //  With CURVE the hub must hold the key of the allow-list's hub.
    spw_curve_keys_t keys;
    if (self->curve) {
        uint8_t key[32];
        if (spw_curve_find(self->curve, SPW_ROLE_HUB, NULL, key, err, errlen) != 0)
            return -1;
        spw_curve_keys(self->curve, key, &keys);
        opts.curve = &keys;
    }
    //  Every hub of the list, one DEALER each; the first is used first.
    const char *at = self->config.hub;
    while (*at && self->hub_count < SPW_ENDPOINT_LIST) {
        const char *comma = strchr(at, ',');
        size_t len = comma ? (size_t) (comma - at) : strlen(at);
        char *endpoint = self->hub_endpoints[self->hub_count];
        snprintf(endpoint, SPW_ENDPOINT_MAX, "%.*s", (int) len, at);
        void *socket = spw_socket_new(self->ctx, ZMQ_DEALER, &opts);
        if (!socket)
            return snprintf(err, errlen, "cannot create a socket: %s", zmq_strerror(errno)), -1;
        self->hubs[self->hub_count++] = socket;
        if (spw_socket_connect(socket, endpoint, err, errlen) != 0)
            return -1;
        at = comma ? comma + 1 : at + len;
    }
    self->hub_active = 0;
    self->control = self->hubs[0];
    self->hub_state = SPW_HUB_REGISTERING;
    self->hub_heard = spw_clock_ms();  // a first silence counts from now
    self->hub_liveness_ms = self->liveness_ms;
    self->hub_heartbeat_ms = self->config.heartbeat_ms;
    send_register(self, spw_clock_ms());
    return 0;
}

void spw_hublink_stop(spw_edge_t *self)
{
    if (self->control && self->hub_state == SPW_HUB_JOINED) {
        spw_msg_t out;
        spw_msg_init(&out);
        spw_proto_put_disconnect(&out);
        spw_msg_send(&out, self->control, ZMQ_DONTWAIT);
        //  Give the goodbye a moment to leave; the hub forgets us at once.
        int linger = 100;
        zmq_setsockopt(self->control, ZMQ_LINGER, &linger, sizeof linger);
    }
    self->hub_state = SPW_HUB_OFF;
    self->control = NULL;
    for (size_t i = 0; i < self->hub_count; i++)
        spw_socket_destroy(&self->hubs[i]);
    self->hub_count = 0;
    free(self->figures);
    self->figures = NULL;
}

//  Joined: the state goes on the control connection from now on.
static void on_welcome(spw_edge_t *self, const spw_proto_t *in, int64_t now)
{
    bool was_joined = self->hub_state == SPW_HUB_JOINED;
    //  A new registration: the hub sends every match afresh.
    if (!was_joined) {
        self->matches_until = 0;
        spw_cloud_unmatch_all(self);
    }
    self->hub_state = SPW_HUB_JOINED;
    self->hub_heard = now;
    self->refused_since = 0;
    self->hub_liveness_ms = (int64_t) in->count * in->liveness;
    self->hub_heartbeat_ms = in->count;  // the hub's clock sets our pace to it
    if (!was_joined)
        spw_log(SPW_LOG_INFO, "hub_joined", "hub=%s advertise=%s zone=%s",
                hub_name(self), self->advertise,
                *self->config.zone ? self->config.zone : "-");
    spw_hublink_publish(self, true, now);
}

static void on_refused(spw_edge_t *self, const spw_proto_t *in, int64_t now)
{
    if (!self->refused_since)
        self->refused_since = now;
    bool final = in->count == 0 || now - self->refused_since > (int64_t) in->count;
    spw_log(final ? SPW_LOG_ERROR : SPW_LOG_WARNING, "hub_refused",
            "hub=%s reason=\"%.*s\" retry=%s", hub_name(self), (int) in->text_len, in->text,
            final ? "no" : "yes");
    if (final) {
        fprintf(stderr, "spillway-edge: the hub refused this edge: %.*s\n", (int) in->text_len,
                in->text);
        self->fatal = true;
    }
}

static void on_match(spw_edge_t *self, const spw_proto_t *in, int64_t now)
{
    bool create = in->records_len > 0;
    spw_service_t *service = spw_pool_service(self->pool, in->service, in->service_len, create);
    if (!service)
        return;
    service->nobody = (in->event & SPW_MATCH_NO_OFFER) != 0;
    //  The hub knows no live edge offering a service no local worker ever
    //  offered: its waiting tasks are answered now, not at their deadline.
    if (service->nobody && !service->offered) {
        spw_task_t *task = service->queue.head;
        while (task) {
            spw_task_t *next = task->next;
            if (task->client_kind != SPW_CLIENT_PEER) {
                char reason[160];
                snprintf(reason, sizeof reason, "no edge offers service '%s'", service->name);
                self->stats.no_service++;
                spw_edge_finish(self, task, SPW_STATUS_NO_SERVICE, NULL, 0, 0, reason);
            }
            task = next;
        }
    }
    spw_cloud_match(self, service, in, now);
    spw_cloud_delegate(self, service, now);
}

//  Moves to hub next: the one it used hears goodbye (if it is there to hear
//  it), matches stand for a credit lease, and the edge registers anew.
static void switch_hub(spw_edge_t *self, size_t next, const char *why, int64_t now)
{
    spw_log(SPW_LOG_WARNING, "hub_failover", "from=%s to=%s reason=\"%s\"", hub_name(self),
            self->hub_endpoints[next], why);
    if (self->hub_state == SPW_HUB_JOINED) {
        spw_msg_t out;
        spw_msg_init(&out);
        spw_proto_put_disconnect(&out);
        spw_msg_send(&out, self->control, ZMQ_DONTWAIT);
        self->matches_until = now + self->config.credit_lease_ms;
    }
    self->hub_up_since[self->hub_active] = 0;
    self->hub_answered[self->hub_active] = 0;
    self->hub_active = next;
    self->control = self->hubs[next];
    self->hub_state = SPW_HUB_REGISTERING;
    self->hub_heard = now;
    send_register(self, now);
}

//  A standby hub's answer to a probe: it is up.
static void on_standby(spw_edge_t *self, size_t hub, int64_t now)
{
    int64_t gap = 2 * self->hub_heartbeat_ms;
    if (!self->hub_up_since[hub] || now - self->hub_answered[hub] > gap)
        self->hub_up_since[hub] = now;
    self->hub_answered[hub] = now;
}

//  True if a standby hub has answered its probes within two heartbeats.
static bool standby_up(const spw_edge_t *self, size_t hub, int64_t now)
{
    return self->hub_answered[hub] && now - self->hub_answered[hub] <= 2 * self->hub_heartbeat_ms;
}

void spw_hublink_watch(spw_edge_t *self, int64_t now)
{
    if (self->hub_count < 2)
        return;
    int64_t beat = self->hub_heartbeat_ms;
    //  A hub earlier in the list, up two heartbeats: back to it.
    for (size_t h = 0; h < self->hub_active; h++)
        if (standby_up(self, h, now) && now - self->hub_up_since[h] >= 2 * beat) {
            switch_hub(self, h, "a hub earlier in the list answers", now);
            return;
        }
    if (now - self->hub_heard <= 2 * beat)
        return;
    //  Silent two heartbeats: the first other hub that answers, or the next.
    size_t next = (self->hub_active + 1) % self->hub_count;
    for (size_t h = 0; h < self->hub_count; h++)
        if (h != self->hub_active && standby_up(self, h, now)) {
            next = h;
            break;
        }
    switch_hub(self, next, "the hub is silent", now);
}

int64_t spw_hublink_next_watch(const spw_edge_t *self)
{
    return self->hub_count < 2 ? INT64_MAX : self->hub_heard + 2 * self->hub_heartbeat_ms + 1;
}

void spw_hublink_on_hub(spw_edge_t *self, size_t hub, spw_msg_t *msg, int64_t now)
{
    if (hub == self->hub_active) {
        spw_hublink_on_control(self, msg, now);
        return;
    }
    spw_proto_t in;
    if (spw_proto_decode(msg, 0, &in, NULL) == 0)
        on_standby(self, hub, now);
}

void spw_hublink_on_control(spw_edge_t *self, spw_msg_t *msg, int64_t now)
{
    spw_proto_t in;
    const char *why = NULL;
    if (spw_proto_decode(msg, 0, &in, &why) != 0) {
        spw_edge_drop(self, &self->hub_drops, msg, why, now);
        return;
    }
    self->hub_heard = now;
    switch (in.cmd) {
    case SPW_CMD_WELCOME:
        on_welcome(self, &in, now);
        break;
    case SPW_CMD_REFUSED:
        on_refused(self, &in, now);
        break;
    case SPW_CMD_HEARTBEAT:
        break;
    case SPW_CMD_DISCONNECT:
        //  The hub does not know us (it restarted): register again, now.
        if (self->hub_state == SPW_HUB_JOINED)
            spw_log(SPW_LOG_INFO, "hub_reregister", "hub=%s", hub_name(self));
        self->hub_state = SPW_HUB_REGISTERING;
        send_register(self, now);
        break;
    case SPW_CMD_MATCH:
        on_match(self, &in, now);
        break;
    case SPW_CMD_MEMBER:
        if (in.event == SPW_MEMBER_JOINED)
            spw_log(SPW_LOG_INFO, "peer_joined", "peer=%.*s epoch=%016llx", (int) in.name_len,
                    in.name, (unsigned long long) in.epoch);
        spw_cloud_member(self, (spw_member_event_t) in.event, in.name, in.name_len, in.epoch,
                         now);
        break;
    default:
        spw_edge_drop_as(self, &self->hub_drops, SPW_DROP_UNEXPECTED, msg, "command not expected from the hub", now);
        break;
    }
}

//  The bit length of n: 0 for 0, then 1, 2, 2, 3, 3, 3, 3, 4 ...
static uint8_t magnitude(uint32_t n)
{
    uint8_t bits = 0;
    while (n) {
        bits++;
        n >>= 1;
    }
    return bits;
}

//  The figures of one service as STATE carries them. Notes its role now,
//  and settles it once it has held SPW_ROLE_STEADY_MS without a break.
static void add_one(spw_service_t *service, spw_service_figures_t *f, int64_t now)
{
    f->service = service->name;
    f->service_len = strlen(service->name);
    //  Capacity counts slots: a worker of 16 slots is 16 of them.
    f->workers = (uint32_t) service->slots;
    f->idle = (uint32_t) service->idle;
    f->queued = (uint32_t) (service->queue.size - service->lent_queued);
    f->running = (uint32_t) (service->running + service->delegated);
    f->rate_milli = service->rate_milli;
    f->lent = (uint32_t) service->lent_running;
    f->borrowed = (uint32_t) service->delegated;
    spw_role_t role = spw_role_of(f->workers, f->idle, f->queued, f->lent, f->borrowed);
    if (role != service->role) {
        service->role = (uint8_t) role;
        service->role_since = now;
    }
    if (now - service->role_since >= SPW_ROLE_STEADY_MS)
        service->settled_role = service->role;
    f->role = service->settled_role;
}

//  What the hub's matching may see a service lend: idle + lent, and
//  nothing while tasks of it are out at lenders (hub/match.h).
static uint32_t spare_of(const spw_service_figures_t *f)
{
    return f->borrowed ? 0 : f->idle + f->lent;
}

//  Adds a service's figures to the batch and notes whether they changed in
//  a way the hub's matching should hear of now: more workers or fewer, a
//  new settled role (spw_hublink_observe wakes the loop when one settles),
//  or, in a role, spare (spare_of) or backlog (queued + borrowed) up a
//  power of two. A figure's fall waits for the heartbeat, so that a
//  backlog that drains for an instant between two tasks does not end a
//  match and start it again.
static void add_figures(spw_service_t *service, void *arg)
{
    spw_state_batch_t *batch = arg;
    if (batch->count >= batch->limit)
        return;
    spw_service_figures_t *f = &batch->figures[batch->count++];
    add_one(service, f, batch->now);
    bool acting = f->role != SPW_ROLE_NONE;  // the hub matches on it
    if (f->workers != service->told_workers || f->role != service->told_role
        || (acting && magnitude(spare_of(f)) > service->told_spare)
        || (acting && magnitude(f->queued + f->borrowed) > service->told_backlog))
        batch->grew = true;
}

//  Remembers what the hub was told of a service, to see growth against it.
static void note_told(spw_service_t *service, void *arg)
{
    spw_state_batch_t *batch = arg;
    spw_service_figures_t *f = batch->figures;
    add_one(service, f, batch->now);
    service->told_role = f->role;
    service->told_workers = f->workers;
    service->told_spare = magnitude(spare_of(f));
    service->told_backlog = magnitude(f->queued + f->borrowed);
}

//  Sends the state if always or if it grew; returns whether it sent it.
static bool send_state(spw_edge_t *self, bool always, int64_t now)
{
    spw_state_batch_t batch = { self->figures, 0, (size_t) self->config.max_services, false, now };
    spw_pool_each_service(self->pool, add_figures, &batch);
    if (!always && !batch.grew && !self->avoid_changed)
        return false;  // nothing the hub must hear now: the heartbeat will say it
    self->avoid_changed = false;
    const char *cut[SPW_MAX_AVOID];
    size_t cuts = spw_cloud_cut_lenders(self, cut, SPW_MAX_AVOID, now);
    spw_msg_t out;
    spw_msg_init(&out);
    if (spw_proto_put_state(&out, self->config.name, self->epoch, self->stats.delegated_out,
                            self->stats.delegated_in, batch.figures, batch.count)
            == 0
        //  The avoid frame, if it has names or flags follow it; then the flags.
        && (!(cuts || self->draining) || spw_proto_put_avoid(&out, cut, cuts) == 0)
        && (!self->draining || spw_proto_put_state_flags(&out, SPW_STATE_DRAINING) == 0))
        spw_msg_send(&out, self->control, ZMQ_DONTWAIT);
    spw_msg_reset(&out);
    return true;
}

void spw_hublink_publish(spw_edge_t *self, bool always, int64_t now)
{
    self->state_dirty = false;
    if (self->hub_state == SPW_HUB_JOINED && send_state(self, always, now)) {
        self->state_sent = now;
        spw_service_figures_t scratch;
        spw_state_batch_t told = { &scratch, 0, 1, false, now };
        spw_pool_each_service(self->pool, note_told, &told);
    }
    spw_hublink_observe(self, now);  // when a role not told yet settles
}

//  What spw_hublink_observe gathers: when the first new role settles.
typedef struct {
    int64_t now;
    int64_t settles_at;  // 0: no new role waits to settle
} spw_observe_t;

static void observe_one(spw_service_t *service, void *arg)
{
    spw_observe_t *observe = arg;
    spw_service_figures_t f;
    add_one(service, &f, observe->now);
    if (service->role == service->settled_role)
        return;
    int64_t at = service->role_since + SPW_ROLE_STEADY_MS;
    if (!observe->settles_at || at < observe->settles_at)
        observe->settles_at = at;
}

void spw_hublink_observe(spw_edge_t *self, int64_t now)
{
    //  Roles are followed with or without a hub, so that an edge that joins
    //  says at once the roles that have held.
    spw_observe_t observe = { now, 0 };
    spw_pool_each_service(self->pool, observe_one, &observe);
    self->settles_at = self->hub_state == SPW_HUB_JOINED ? observe.settles_at : 0;
}

void spw_hublink_tick(spw_edge_t *self, int64_t now)
{
    if (!self->control)
        return;
    self->next_hub_beat = now + self->hub_heartbeat_ms;
    //  Probes: a hub that does not know this edge answers DISCONNECT.
    for (size_t h = 0; h < self->hub_count; h++)
        if (h != self->hub_active) {
            spw_msg_t out;
            spw_msg_init(&out);
            spw_proto_put_heartbeat(&out);
            spw_msg_send(&out, self->hubs[h], ZMQ_DONTWAIT);
        }
    if (self->hub_state == SPW_HUB_JOINED && now - self->hub_heard > self->hub_liveness_ms) {
        self->silent.hubs++;
        spw_log(SPW_LOG_WARNING, "hub_lost", "hub=%s silent_ms=%lld", hub_name(self),
                (long long) (now - self->hub_heard));
        self->hub_state = SPW_HUB_REGISTERING;
        //  Lending already set up runs out its lease, then stops.
        self->matches_until = now + self->config.credit_lease_ms;
    }
    if (self->matches_until && now >= self->matches_until) {
        self->matches_until = 0;
        spw_cloud_unmatch_all(self);
    }
    if (self->hub_state == SPW_HUB_REGISTERING) {
        if (now >= self->next_register)
            send_register(self, now);
        return;
    }
    //  The state is the heartbeat: one message a beat on one connection.
    spw_hublink_publish(self, true, now);
}
