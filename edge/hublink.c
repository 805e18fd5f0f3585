//  hublink.c: the edge's link to the hub — registration, heartbeats, the
//  state it publishes, the grants it asks for, and the membership news it
//  hears.
//
//  The edge needs one address, the hub's control endpoint. It registers
//  there (DEALER) with its name, a random epoch for this process, the cloud
//  endpoint peers should use and its zone; the hub's WELCOME names the state
//  endpoint, where the edge's PUB connects and publishes its capacity at
//  every heartbeat and, coalesced, when it changes. The edge sends a
//  HEARTBEAT on the control link at every tick; a hub that does not know it
//  (restarted) answers DISCONNECT and the edge registers again. A hub silent
//  for its liveness is dead: the edge forgets its grants, stops delegating
//  and keeps trying to register. Without a hub the local flow goes on.

#include "edge_impl.h"

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

//  The host part of a tcp:// endpoint ("" if none), into out.
static void host_of(char *out, size_t size, const char *endpoint)
{
    out[0] = 0;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return;
    const char *host = endpoint + 6;
    const char *colon = strrchr(host, ':');
    if (!colon)
        return;
    snprintf(out, size, "%.*s", (int) (colon - host), host);
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
    self->control = spw_socket_new(self->ctx, ZMQ_DEALER, &opts);
    if (!self->control || spw_socket_connect(self->control, self->config.hub, err, errlen) != 0)
        return -1;
    self->hub_state = SPW_HUB_REGISTERING;
    self->hub_liveness_ms = self->liveness_ms;
    self->hub_heartbeat_ms = self->config.heartbeat_ms;
    self->next_ask_retry = INT64_MAX;
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
    spw_socket_destroy(&self->control);
    spw_socket_destroy(&self->state);
    free(self->figures);
    self->figures = NULL;
}

//  Connects the state publisher to the endpoint the hub named.
static void on_welcome(spw_edge_t *self, const spw_proto_t *in, int64_t now)
{
    char named[SPW_ENDPOINT_MAX], host[SPW_ENDPOINT_MAX], endpoint[SPW_ENDPOINT_MAX];
    char err[SPW_ERROR_MAX];
    snprintf(named, sizeof named, "%.*s", (int) in->endpoint_len, in->endpoint);
    host_of(host, sizeof host, self->config.hub);
    fill_host(endpoint, sizeof endpoint, named, host);
    //  Same place as before: keep the publisher (and what it has queued).
    if (self->state && strcmp(endpoint, self->state_endpoint) != 0)
        spw_socket_destroy(&self->state);
    if (!self->state) {
        spw_socket_opts_t opts = { .hwm = 100 };
        self->state = spw_socket_new(self->ctx, ZMQ_PUB, &opts);
        if (!self->state || spw_socket_connect(self->state, endpoint, err, sizeof err) != 0) {
            spw_log(SPW_LOG_ERROR, "hub_state_failed", "reason=\"%s\"", err);
            spw_socket_destroy(&self->state);
            return;
        }
        snprintf(self->state_endpoint, sizeof self->state_endpoint, "%s", endpoint);
    }
    bool was_joined = self->hub_state == SPW_HUB_JOINED;
    self->hub_state = SPW_HUB_JOINED;
    self->hub_heard = now;
    self->refused_since = 0;
    self->hub_liveness_ms = (int64_t) in->count * in->liveness;
    self->hub_heartbeat_ms = in->count;  // the hub's clock sets our pace to it
    if (!was_joined)
        spw_log(SPW_LOG_INFO, "hub_joined", "hub=%s state=%s advertise=%s zone=%s",
                self->config.hub, endpoint, self->advertise,
                *self->config.zone ? self->config.zone : "-");
    self->state_dirty = true;
    spw_hublink_publish(self, now);
}

static void on_refused(spw_edge_t *self, const spw_proto_t *in, int64_t now)
{
    if (!self->refused_since)
        self->refused_since = now;
    bool final = in->count == 0 || now - self->refused_since > (int64_t) in->count;
    spw_log(final ? SPW_LOG_ERROR : SPW_LOG_WARNING, "hub_refused",
            "hub=%s reason=\"%.*s\" retry=%s", self->config.hub, (int) in->text_len, in->text,
            final ? "no" : "yes");
    if (final) {
        fprintf(stderr, "spillway-edge: the hub refused this edge: %.*s\n", (int) in->text_len,
                in->text);
        self->fatal = true;
    }
}

static void on_grant(spw_edge_t *self, spw_msg_t *msg, const spw_proto_t *in, int64_t now)
{
    spw_service_t *service = spw_pool_service(self->pool, in->service, in->service_len, false);
    if (!service)
        return;
    size_t offset = 0;
    spw_grant_entry_t grant;
    size_t granted = 0;
    while (spw_proto_next_grant(in, &offset, &grant) == 1) {
        if (grant.name_len == strlen(self->config.name)
            && memcmp(grant.name, self->config.name, grant.name_len) == 0)
            continue;  // never to ourselves, whatever the hub says
        granted += spw_cloud_grant(self, service, grant.name, grant.name_len, grant.endpoint,
                                   grant.endpoint_len, grant.count, now + in->count, now);
    }
    (void) msg;
    spw_log(SPW_LOG_DEBUG, "hub_granted", "service=%s tasks=%zu", service->name, granted);
    //  Nothing spare now: ask again after a short pause, not at once (spare
    //  appears as the serving edges' workers finish, a state message later).
    if (granted)
        service->asked_until = 0;
    else {
        int64_t pause = self->hub_heartbeat_ms / 10;
        service->asked_until = now + (pause < 5 ? 5 : pause > 100 ? 100 : pause);
        if (service->asked_until < self->next_ask_retry)
            self->next_ask_retry = service->asked_until;
    }
    //  A hub that knows no live edge offering it says so with a TTL of 0.
    if (in->count == 0 && !service->offered) {
        spw_task_t *task;
        while ((task = service->queue.head) && task->client_kind != SPW_CLIENT_PEER) {
            char reason[160];
            snprintf(reason, sizeof reason, "no edge offers service '%s'", service->name);
            self->stats.no_service++;
            spw_edge_finish(self, task, SPW_STATUS_NO_SERVICE, NULL, 0, 0, reason);
        }
        return;
    }
    spw_cloud_delegate(self, service, now);
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
            spw_log(SPW_LOG_INFO, "hub_reregister", "hub=%s", self->config.hub);
        self->hub_state = SPW_HUB_REGISTERING;
        send_register(self, now);
        break;
    case SPW_CMD_GRANT:
        on_grant(self, msg, &in, now);
        break;
    case SPW_CMD_MEMBER:
        if (in.event == SPW_MEMBER_JOINED) {
            //  A join under a name we hold a link to is a new process: the
            //  old one, and every task it held for us, is gone.
            spw_log(SPW_LOG_INFO, "peer_joined", "peer=%.*s", (int) in.name_len, in.name);
            spw_cloud_peer_gone(self, in.name, in.name_len, "it restarted", now);
        }
        else
            spw_cloud_peer_gone(self, in.name, in.name_len,
                                in.event == SPW_MEMBER_DIED ? "the hub saw it die" : "it left",
                                now);
        break;
    default:
        spw_edge_drop(self, &self->hub_drops, msg, "command not expected from the hub", now);
        break;
    }
}

void spw_hublink_ask(spw_edge_t *self, spw_service_t *service, int64_t now)
{
    if (self->hub_state != SPW_HUB_JOINED || service->asked_until > now)
        return;
    size_t want = service->queue.size;
    if (want == 0)
        return;
    if (want > (size_t) self->config.ask_max)
        want = (size_t) self->config.ask_max;
    spw_msg_t out;
    spw_msg_init(&out);
    spw_proto_put_ask(&out, service->name, (uint32_t) want);
    //  The hub holds an ask it cannot grant yet for up to a heartbeat; ours
    //  lapses after two, in case the answer was lost.
    if (spw_msg_send(&out, self->control, ZMQ_DONTWAIT) == 0)
        service->asked_until = now + 2 * self->hub_heartbeat_ms;
}

static void add_figures(spw_service_t *service, void *arg)
{
    spw_state_batch_t *batch = arg;
    if (batch->count >= batch->limit)
        return;
    spw_service_figures_t *f = &batch->figures[batch->count++];
    f->service = service->name;
    f->service_len = strlen(service->name);
    f->workers = (uint32_t) service->workers;
    f->idle = (uint32_t) service->idle;
    f->queued = (uint32_t) service->queue.size;
    f->running = (uint32_t) (service->running + service->delegated);
    f->rate_milli = service->rate_milli;
}

void spw_hublink_publish(spw_edge_t *self, int64_t now)
{
    self->state_dirty = false;
    if (!self->state || self->hub_state != SPW_HUB_JOINED)
        return;
    spw_state_batch_t batch = { self->figures, 0, (size_t) self->config.max_services };
    spw_pool_each_service(self->pool, add_figures, &batch);
    spw_msg_t out;
    spw_msg_init(&out);
    if (spw_proto_put_state(&out, self->config.name, self->epoch, self->stats.delegated_out,
                            self->stats.delegated_in, batch.figures, batch.count)
        == 0)
        spw_msg_send(&out, self->state, ZMQ_DONTWAIT);
    spw_msg_reset(&out);
    self->state_sent = now;
}

void spw_hublink_tick(spw_edge_t *self, int64_t now)
{
    if (!self->control)
        return;
    self->next_hub_beat = now + self->hub_heartbeat_ms;
    if (self->hub_state == SPW_HUB_JOINED && now - self->hub_heard > self->hub_liveness_ms) {
        spw_log(SPW_LOG_WARNING, "hub_lost", "hub=%s silent_ms=%lld", self->config.hub,
                (long long) (now - self->hub_heard));
        self->hub_state = SPW_HUB_REGISTERING;
        spw_cloud_forget_grants(self);
    }
    if (self->hub_state == SPW_HUB_REGISTERING) {
        if (now >= self->next_register)
            send_register(self, now);
        return;
    }
    spw_msg_t out;
    spw_msg_init(&out);
    spw_proto_put_heartbeat(&out);
    spw_msg_send(&out, self->control, ZMQ_DONTWAIT);
    spw_hublink_publish(self, now);
}
