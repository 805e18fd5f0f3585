//  load.c: bench-load, the one load generator of the overflow benchmark
//  (tests/bench/overflow).
//
//  One process drives every client of a run, from one thread and one
//  zmq_poll, so that the pooled and the split measurements of a scenario
//  get exactly the same load and a two-core machine is not crowded with
//  generator processes. Clients come in groups (--group), one group per
//  place load comes from; each client is a native DEALER client of
//  docs/protocol.md with one connection to each of its group's edges.
//
//  A group is either closed loop (--window W: each client keeps W tasks
//  outstanding, REQ-style when W is 1) or open loop (--rate R: Poisson
//  arrivals at R tasks a second for the whole group, handed to its clients
//  in turn, whatever is outstanding). An open-loop task's latency counts
//  from the instant it was due to arrive, not from when it was sent, so a
//  generator that falls behind shows as latency rather than hiding it. The
//  arrivals come from a fixed seed, so pooled and split see the same
//  schedule. With --move-s S a group's clients send their new tasks to the
//  next of their edges every S seconds of the measurement (a moving hot
//  spot); replies still due come back on the old connection.
//
//  The run is a warm-up (nothing counted), the measurement, then a drain:
//  no more sends, and the replies still due are awaited up to the task
//  deadline plus a grace period (the edge answers "timeout" by then). A
//  task counts if it was sent during the measurement; the rate is the ok
//  replies received during it, per second. Each group prints one line:
//
//    group=a clients=20 sent=.. ok=.. rate=6454.2 p50_us=.. p99_us=..
//    overloaded=.. timeout=.. other=.. unsent=.. lost=.. bad=..
//
//  (p50/p99 of the ok replies; unsent: open-loop arrivals no client had room
//  for; lost: no reply even after the drain; bad: a reply that does not
//  match its request). Latencies go into a bounded array per group,
//  sampled uniformly beyond its capacity, so nothing is allocated per task.
//  Exit 0 if the run completed with no bad reply, 1 otherwise, 2 on bad
//  arguments.

#include "bench.h"
#include "spillway.h"
#include "spw_daemon.h"
#include "task.h"
#include "timer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM            "bench-load"
#define GROUPS_MAX         8
#define CLIENTS_MAX        256    // per group
#define EDGES_MAX          4      // per group
//  Outstanding tasks a client can track (a power of two: ids map to slots).
#define SLOTS_PER_CLIENT   1024
#define RATE_MAX           1000000.0
#define DURATION_MAX_S     86400.0
#define WARMUP_S           1.0
#define DURATION_S         5.0
#define TIMEOUT_MS         2000
#define TIMEOUT_MAX_MS     600000
//  The wait beyond a task's deadline for the edge's own "timeout" reply.
#define GRACE_MS           1000
//  Latencies kept per group (beyond: a uniform sample).
#define SAMPLES_MAX        262144
//  Messages taken from one socket per poll turn.
#define DRAIN_BATCH        64
#define US_PER_S           1000000.0
#define US_PER_MS          1000
#define SERVICE            "default"
#define ARRIVAL_SEED       0x5350574c4f4144ULL   // "SPWLOAD": same schedule every run
#define SAMPLE_SEED        0x53414d504c4553ULL   // "SAMPLES"
#define P50                0.50
#define P99                0.99
//  Room for one figure printed as text.
#define FIGURE_TEXT_MAX    32
//  splitmix64's constants (Steele, Lea and Flood, 2014).
#define SPLITMIX_GAMMA     0x9e3779b97f4a7c15ULL
#define SPLITMIX_MUL1      0xbf58476d1ce4e5b9ULL
#define SPLITMIX_MUL2      0x94d049bb133111ebULL
//  53 random bits make a double in [0, 1).
#define UNIFORM_SHIFT      11
#define UNIFORM_SCALE      0x1.0p-53

//  One task outstanding.
typedef struct {
    uint64_t request_id;
    int64_t sent_us;     // open loop: when it was due, not when it went
    bool busy;
    bool measured;       // sent during the measurement
} slot_t;

typedef struct group_t group_t;

//  One client: a connection to each of its group's edges, one id sequence.
typedef struct {
    group_t *group;
    size_t index;
    void *sockets[EDGES_MAX];
    uint64_t next_id;
    size_t outstanding;
    slot_t *slots;       // SLOTS_PER_CLIENT, slot of id: id % SLOTS_PER_CLIENT
} client_t;

//  A bounded set of latencies, exact up to its capacity, then sampled.
typedef struct {
    uint32_t *us;
    size_t used;
    uint64_t seen;
} samples_t;

//  One group of clients and what it measured.
struct group_t {
    const char *name;
    size_t clients;
    size_t window;        // closed loop; 0 in open loop
    double rate;          // open loop: tasks a second; 0 in closed loop
    uint32_t service_us;
    const char *edges[EDGES_MAX];
    size_t edge_count;
    double move_s;
    client_t *client;
    int64_t next_arrival_us;
    size_t next_client;
    uint64_t arrival_rng;
    uint64_t sample_rng;
    uint64_t sent, ok, ok_in_window, overloaded, timeout, other, unsent, bad;
    samples_t samples;
};

//  The run.
typedef struct {
    group_t groups[GROUPS_MAX];
    size_t group_count;
    double warmup_s;
    double duration_s;
    uint32_t timeout_ms;
    void *ctx;
    bench_timer_t timer;
    int64_t measure_at, end_at, drain_until;
    size_t outstanding;
} load_t;

//  Prints the usage.
static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROGRAM " [--warmup S] [--duration S] [--timeout-ms MS]\n"
            "                  --group NAME [--clients N] [--window W | --rate R]\n"
            "                  [--service-us US] --edge EP [--edge EP ...] [--move-s S] ...\n"
            "\n"
            "Drives every group of clients from this one process: a warm-up, the\n"
            "measurement, then a drain of the replies due. Prints one line a group:\n"
            "  group=NAME clients=N sent=N ok=N rate=R p50_us=N p99_us=N overloaded=N\n"
            "  timeout=N other=N unsent=N lost=N bad=N\n"
            "\n"
            "  --warmup S       seconds of load before measuring (default %.0f)\n"
            "  --duration S     seconds measured, more than 0 (default %.0f)\n"
            "  --timeout-ms MS  every task's deadline, 1 to %d (default %d)\n"
            "  --group NAME     starts a group; the flags below apply to it\n"
            "  --clients N      its clients, 1 to %d (default 1)\n"
            "  --window W       closed loop: tasks outstanding per client, 1 to %d\n"
            "                   (the default, with W 1)\n"
            "  --rate R         open loop: Poisson arrivals, R tasks a second in all\n"
            "  --service-us US  the service time each task asks of its worker\n"
            "                   (default 1000, at most %u)\n"
            "  --edge EP        an edge frontend its clients connect to; at most %d\n"
            "  --move-s S       send to the next edge every S seconds of the\n"
            "                   measurement (0: client i stays at edge i mod edges)\n"
            "\n"
            "At most %d groups. exit codes: 0 ran, 1 a failure or a reply that does not\n"
            "match its request, 2 bad arguments\n",
            WARMUP_S, DURATION_S, TIMEOUT_MAX_MS, TIMEOUT_MS, CLIENTS_MAX, SLOTS_PER_CLIENT,
            BENCH_TASK_SERVICE_US_MAX, EDGES_MAX, GROUPS_MAX);
}

//  splitmix64: a small, fast, seedable generator.
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += SPLITMIX_GAMMA);
    z = (z ^ (z >> 30)) * SPLITMIX_MUL1;
    z = (z ^ (z >> 27)) * SPLITMIX_MUL2;
    return z ^ (z >> 31);
}

//  A uniform double in [0, 1).
static double next_uniform(uint64_t *state)
{
    return (double) (next_random(state) >> UNIFORM_SHIFT) * UNIFORM_SCALE;
}

//  Adds one latency to a bounded sample (reservoir sampling beyond it).
static void samples_add(samples_t *samples, uint64_t *rng, int64_t us)
{
    uint32_t value = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t) us;
    samples->seen++;
    if (samples->used < SAMPLES_MAX) {
        samples->us[samples->used++] = value;
        return;
    }
    uint64_t pick = next_random(rng) % samples->seen;
    if (pick < SAMPLES_MAX)
        samples->us[pick] = value;
}

//  The p-quantile (nearest rank) of sorted latencies; -1 if none.
static int64_t quantile(const samples_t *samples, double p)
{
    if (samples->used == 0)
        return -1;
    return samples->us[bench_rank(p, samples->used)];
}

//  Parses the command line. Returns -1 to go on, else the exit code.
static int parse_args(load_t *self, int argc, char **argv)
{
    group_t *group = NULL;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, PROGRAM ": %s%s\n", flag,
                    flag[0] == '-' ? " needs a value" : ": unexpected argument");
            return 2;
        }
        const char *value = argv[++i];
        double number = 0;
        if (strcmp(flag, "--group") == 0) {
            if (self->group_count == GROUPS_MAX) {
                fprintf(stderr, PROGRAM ": more than %d groups\n", GROUPS_MAX);
                return 2;
            }
            group = &self->groups[self->group_count++];
            group->name = value;
            group->clients = 1;
            group->service_us = US_PER_MS;
            continue;
        }
        if (strcmp(flag, "--warmup") == 0) {
            if (!bench_parse_number(PROGRAM, flag, value, 0, DURATION_MAX_S, &self->warmup_s))
                return 2;
            continue;
        }
        if (strcmp(flag, "--duration") == 0) {
            if (!bench_parse_number(PROGRAM, flag, value, 1e-3, DURATION_MAX_S, &self->duration_s))
                return 2;
            continue;
        }
        if (strcmp(flag, "--timeout-ms") == 0) {
            if (!bench_parse_number(PROGRAM, flag, value, 1, TIMEOUT_MAX_MS, &number))
                return 2;
            self->timeout_ms = (uint32_t) number;
            continue;
        }
        bool group_flag = strcmp(flag, "--clients") == 0 || strcmp(flag, "--window") == 0
                       || strcmp(flag, "--rate") == 0 || strcmp(flag, "--service-us") == 0
                       || strcmp(flag, "--edge") == 0 || strcmp(flag, "--move-s") == 0;
        if (!group_flag) {
            fprintf(stderr, PROGRAM ": unknown argument '%s'\n", flag);
            return 2;
        }
        if (!group) {
            fprintf(stderr, PROGRAM ": %s must follow a --group\n", flag);
            return 2;
        }
        if (strcmp(flag, "--edge") == 0) {
            if (group->edge_count == EDGES_MAX) {
                fprintf(stderr, PROGRAM ": group '%s' has more than %d edges\n", group->name,
                        EDGES_MAX);
                return 2;
            }
            group->edges[group->edge_count++] = value;
        } else if (strcmp(flag, "--clients") == 0) {
            if (!bench_parse_number(PROGRAM, flag, value, 1, CLIENTS_MAX, &number))
                return 2;
            group->clients = (size_t) number;
        } else if (strcmp(flag, "--window") == 0) {
            if (!bench_parse_number(PROGRAM, flag, value, 1, SLOTS_PER_CLIENT, &number))
                return 2;
            group->window = (size_t) number;
        } else if (strcmp(flag, "--rate") == 0) {
            if (!bench_parse_number(PROGRAM, flag, value, 1e-3, RATE_MAX, &group->rate))
                return 2;
        } else if (strcmp(flag, "--service-us") == 0) {
            if (!bench_parse_number(PROGRAM, flag, value, 0, BENCH_TASK_SERVICE_US_MAX, &number))
                return 2;
            group->service_us = (uint32_t) number;
        } else if (!bench_parse_number(PROGRAM, flag, value, 0, DURATION_MAX_S, &group->move_s)) {
            return 2;
        }
    }
    if (self->group_count == 0) {
        fprintf(stderr, PROGRAM ": no --group given (see --help)\n");
        return 2;
    }
    for (size_t g = 0; g < self->group_count; g++) {
        group_t *each = &self->groups[g];
        if (each->edge_count == 0) {
            fprintf(stderr, PROGRAM ": group '%s' has no --edge\n", each->name);
            return 2;
        }
        if (each->window && each->rate > 0) {
            fprintf(stderr, PROGRAM ": group '%s': --window and --rate exclude each other\n",
                    each->name);
            return 2;
        }
        if (each->rate == 0 && each->window == 0)
            each->window = 1;
    }
    return -1;
}

//  Allocates the clients and their sockets. Returns 0 or -1 (printed).
static int open_clients(load_t *self)
{
    char err[SPW_ERROR_MAX];
    for (size_t g = 0; g < self->group_count; g++) {
        group_t *group = &self->groups[g];
        group->client = calloc(group->clients, sizeof *group->client);
        group->samples.us = calloc(SAMPLES_MAX, sizeof *group->samples.us);
        group->arrival_rng = ARRIVAL_SEED + g;
        group->sample_rng = SAMPLE_SEED + g;
        if (!group->client || !group->samples.us)
            return -1;
        for (size_t c = 0; c < group->clients; c++) {
            client_t *client = &group->client[c];
            client->group = group;
            client->index = c;
            client->next_id = 1;
            client->slots = calloc(SLOTS_PER_CLIENT, sizeof *client->slots);
            if (!client->slots)
                return -1;
            for (size_t e = 0; e < group->edge_count; e++) {
                client->sockets[e] = spw_socket_new(self->ctx, ZMQ_DEALER, NULL);
                if (!client->sockets[e]) {
                    fprintf(stderr, PROGRAM ": cannot make a socket: %s\n", zmq_strerror(errno));
                    return -1;
                }
                if (spw_socket_connect(client->sockets[e], group->edges[e], err, sizeof err)
                    != 0) {
                    fprintf(stderr, PROGRAM ": %s\n", err);
                    return -1;
                }
            }
        }
    }
    return 0;
}

//  Frees what open_clients allocated; safe on a partial open.
static void close_clients(load_t *self)
{
    for (size_t g = 0; g < self->group_count; g++) {
        group_t *group = &self->groups[g];
        for (size_t c = 0; group->client && c < group->clients; c++) {
            for (size_t e = 0; e < group->edge_count; e++)
                spw_socket_destroy(&group->client[c].sockets[e]);
            free(group->client[c].slots);
        }
        free(group->client);
        free(group->samples.us);
        group->client = NULL;
        group->samples.us = NULL;
    }
}

//  The edge a client sends its next task to at time now.
static size_t current_edge(const load_t *self, const client_t *client, int64_t now)
{
    const group_t *group = client->group;
    if (group->move_s <= 0 || now < self->measure_at)
        return client->index % group->edge_count;
    int64_t period_us = (int64_t) (group->move_s * US_PER_S);
    if (period_us < 1)
        period_us = 1;
    return (size_t) ((now - self->measure_at) / period_us) % group->edge_count;
}

//  True if the client's next request id has a free slot.
static bool client_has_room(const client_t *client)
{
    return !client->slots[client->next_id % SLOTS_PER_CLIENT].busy;
}

//  Sends one task from client, due at due_us. Returns 0 or -1 (not sent).
static int client_send(load_t *self, client_t *client, int64_t due_us, int64_t now)
{
    group_t *group = client->group;
    uint64_t id = client->next_id;
    uint8_t body[BENCH_TASK_BODY_LEN];
    bench_task_encode(body, group->service_us, id);
    spw_msg_t msg;
    spw_msg_init(&msg);
    if (spw_proto_put_request(&msg, id, SERVICE, self->timeout_ms) != 0
        || spw_msg_add_mem(&msg, body, sizeof body) != 0) {
        spw_msg_reset(&msg);
        return -1;
    }
    void *socket = client->sockets[current_edge(self, client, now)];
    if (spw_msg_send(&msg, socket, ZMQ_DONTWAIT) != 0)
        return -1;
    slot_t *slot = &client->slots[id % SLOTS_PER_CLIENT];
    slot->request_id = id;
    slot->sent_us = due_us;
    slot->busy = true;
    slot->measured = now >= self->measure_at && now < self->end_at;
    client->next_id++;
    client->outstanding++;
    self->outstanding++;
    if (slot->measured)
        group->sent++;
    return 0;
}

//  Closed loop: fills every client's window.
static void top_up_closed(load_t *self, int64_t now)
{
    for (size_t g = 0; g < self->group_count; g++) {
        group_t *group = &self->groups[g];
        if (group->window == 0)
            continue;
        for (size_t c = 0; c < group->clients; c++) {
            client_t *client = &group->client[c];
            while (client->outstanding < group->window && client_has_room(client))
                if (client_send(self, client, now, now) != 0)
                    break;
        }
    }
}

//  Open loop: sends every arrival that is due, each from the next client
//  with room; one no client has room for counts as unsent.
static void send_arrivals(load_t *self, int64_t now)
{
    for (size_t g = 0; g < self->group_count; g++) {
        group_t *group = &self->groups[g];
        if (group->rate <= 0)
            continue;
        while (group->next_arrival_us <= now) {
            bool sent = false;
            for (size_t tried = 0; tried < group->clients && !sent; tried++) {
                client_t *client = &group->client[group->next_client];
                group->next_client = (group->next_client + 1) % group->clients;
                sent = client_has_room(client)
                    && client_send(self, client, group->next_arrival_us, now) == 0;
            }
            if (!sent && now >= self->measure_at && now < self->end_at)
                group->unsent++;
            //  Exponential gaps make Poisson arrivals; at least 1 us apart, so
            //  the schedule always moves on.
            double gap_s = -log1p(-next_uniform(&group->arrival_rng)) / group->rate;
            group->next_arrival_us += (int64_t) (gap_s * US_PER_S) + 1;
        }
    }
}

//  Counts one reply of a client.
static void handle_reply(load_t *self, client_t *client, spw_msg_t *msg, int64_t now)
{
    group_t *group = client->group;
    spw_proto_t reply;
    if (spw_proto_decode(msg, 0, &reply, NULL) != 0 || reply.cmd != SPW_CMD_REPLY) {
        group->bad++;
        return;
    }
    slot_t *slot = &client->slots[reply.id % SLOTS_PER_CLIENT];
    if (!slot->busy || slot->request_id != reply.id) {
        group->bad++;  // a reply to no request outstanding, or a second one
        return;
    }
    slot->busy = false;
    client->outstanding--;
    self->outstanding--;
    bool in_window = now >= self->measure_at && now < self->end_at;
    if (reply.status == SPW_STATUS_OK) {
        uint32_t service_us = 0;
        uint64_t echoed = 0;
        if (reply.body_count != 1
            || !bench_task_decode(zmq_msg_data(&msg->frame[reply.body_first]),
                                  zmq_msg_size(&msg->frame[reply.body_first]), &service_us,
                                  &echoed)
            || echoed != reply.id || service_us != group->service_us) {
            group->bad++;
            return;
        }
        if (in_window)
            group->ok_in_window++;
        if (slot->measured) {
            group->ok++;
            samples_add(&group->samples, &group->sample_rng, now - slot->sent_us);
        }
        return;
    }
    if (!slot->measured)
        return;
    if (reply.status == SPW_STATUS_OVERLOADED)
        group->overloaded++;
    else if (reply.status == SPW_STATUS_TIMEOUT)
        group->timeout++;
    else
        group->other++;
}

//  Takes up to DRAIN_BATCH replies from one socket. Returns 0 or -1.
static int drain_socket(load_t *self, client_t *client, void *socket, int64_t now)
{
    for (int i = 0; i < DRAIN_BATCH; i++) {
        spw_msg_t msg;
        spw_msg_init(&msg);
        if (spw_msg_recv(&msg, socket, ZMQ_DONTWAIT) != 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            if (errno == EMSGSIZE) {
                client->group->bad++;
                continue;
            }
            fprintf(stderr, PROGRAM ": receive failed: %s\n", zmq_strerror(errno));
            return -1;
        }
        handle_reply(self, client, &msg, now);
        spw_msg_reset(&msg);
    }
    return 0;
}

//  The earliest instant the loop must wake at.
static int64_t next_wake(const load_t *self, int64_t now)
{
    int64_t wake = now < self->measure_at ? self->measure_at
                 : now < self->end_at ? self->end_at : self->drain_until;
    if (now < self->end_at)
        for (size_t g = 0; g < self->group_count; g++)
            if (self->groups[g].rate > 0 && self->groups[g].next_arrival_us < wake)
                wake = self->groups[g].next_arrival_us;
    return wake;
}

//  The run: warm-up, measurement, drain. Returns 0, or 1 on a failure.
static int run(load_t *self, volatile sig_atomic_t *stop)
{
    size_t sockets = 0;
    for (size_t g = 0; g < self->group_count; g++)
        sockets += self->groups[g].clients * self->groups[g].edge_count;
    zmq_pollitem_t *items = calloc(sockets + 1, sizeof *items);
    client_t **owner = calloc(sockets, sizeof *owner);
    if (!items || !owner) {
        free(items);
        free(owner);
        return 1;
    }
    size_t n = 0;
    for (size_t g = 0; g < self->group_count; g++)
        for (size_t c = 0; c < self->groups[g].clients; c++)
            for (size_t e = 0; e < self->groups[g].edge_count; e++) {
                owner[n] = &self->groups[g].client[c];
                items[n].socket = owner[n]->sockets[e];
                items[n].events = ZMQ_POLLIN;
                n++;
            }
    bench_timer_pollitem(&self->timer, &items[sockets]);

    int64_t start = bench_timer_now_us();
    self->measure_at = start + (int64_t) (self->warmup_s * US_PER_S);
    self->end_at = self->measure_at + (int64_t) (self->duration_s * US_PER_S);
    self->drain_until = self->end_at + (int64_t) (self->timeout_ms + GRACE_MS) * US_PER_MS;
    for (size_t g = 0; g < self->group_count; g++)
        self->groups[g].next_arrival_us = start;

    int rc = 0;
    while (!*stop && rc == 0) {
        int64_t now = bench_timer_now_us();
        if (now < self->end_at) {
            send_arrivals(self, now);
            top_up_closed(self, now);
        } else if (self->outstanding == 0 || now >= self->drain_until) {
            break;
        }
        bench_timer_arm(&self->timer, next_wake(self, now));
        if (zmq_poll(items, (int) sockets + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, PROGRAM ": poll failed: %s\n", zmq_strerror(errno));
            rc = 1;
            break;
        }
        if (items[sockets].revents & ZMQ_POLLIN)
            bench_timer_clear(&self->timer);
        now = bench_timer_now_us();
        for (size_t i = 0; i < sockets && rc == 0; i++)
            if (items[i].revents & ZMQ_POLLIN)
                rc = drain_socket(self, owner[i], items[i].socket, now) == 0 ? 0 : 1;
    }
    if (*stop) {
        fprintf(stderr, PROGRAM ": interrupted\n");
        rc = 1;
    }
    free(items);
    free(owner);
    return rc;
}

//  Prints one group's line.
static void print_group(load_t *self, group_t *group)
{
    uint64_t lost = 0;
    for (size_t c = 0; c < group->clients; c++)
        for (size_t s = 0; s < SLOTS_PER_CLIENT; s++)
            lost += group->client[c].slots[s].busy && group->client[c].slots[s].measured;
    qsort(group->samples.us, group->samples.used, sizeof *group->samples.us, bench_compare_u32);
    char p50[FIGURE_TEXT_MAX] = "-", p99[FIGURE_TEXT_MAX] = "-";
    if (group->samples.used) {
        snprintf(p50, sizeof p50, "%lld", (long long) quantile(&group->samples, P50));
        snprintf(p99, sizeof p99, "%lld", (long long) quantile(&group->samples, P99));
    }
    printf("group=%s clients=%zu sent=%llu ok=%llu rate=%.1f p50_us=%s p99_us=%s "
           "overloaded=%llu timeout=%llu other=%llu unsent=%llu lost=%llu bad=%llu\n",
           group->name, group->clients, (unsigned long long) group->sent,
           (unsigned long long) group->ok, (double) group->ok_in_window / self->duration_s,
           p50, p99, (unsigned long long) group->overloaded,
           (unsigned long long) group->timeout, (unsigned long long) group->other,
           (unsigned long long) group->unsent, (unsigned long long) lost,
           (unsigned long long) group->bad);
}

int main(int argc, char **argv)
{
    static load_t self;  // large: keep it off the stack
    self.warmup_s = WARMUP_S;
    self.duration_s = DURATION_S;
    self.timeout_ms = TIMEOUT_MS;
    int rc = parse_args(&self, argc, argv);
    if (rc >= 0)
        return rc;
    volatile sig_atomic_t *stop = spw_daemon_signals();
    self.ctx = zmq_ctx_new();
    int max_sockets = 0;
    for (size_t g = 0; g < self.group_count; g++)
        max_sockets += (int) (self.groups[g].clients * self.groups[g].edge_count);
    if (max_sockets >= zmq_ctx_get(self.ctx, ZMQ_MAX_SOCKETS))
        zmq_ctx_set(self.ctx, ZMQ_MAX_SOCKETS, max_sockets + 1);
    self.timer.fd = -1;
    if (bench_timer_open(&self.timer) != 0) {
        fprintf(stderr, PROGRAM ": cannot make a timer: %s\n", strerror(errno));
        rc = 1;
    } else if (open_clients(&self) != 0) {
        rc = 1;
    } else {
        rc = run(&self, stop);
        for (size_t g = 0; g < self.group_count; g++) {
            print_group(&self, &self.groups[g]);
            if (self.groups[g].bad)
                rc = 1;
        }
    }
    close_clients(&self);
    bench_timer_close(&self.timer);
    zmq_ctx_term(self.ctx);
    return rc;
}
