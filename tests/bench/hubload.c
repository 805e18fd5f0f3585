//  hubload.c: bench-hub, the load generator of the hub benchmark
//  (tests/bench/hub), and the "null hub" it is measured against.
//
//  One process simulates a fleet of N edges, each with its own DEALER
//  connection to the hub's control endpoint, as a real edge has: it
//  registers (REGISTER, WELCOME), sends STATE every heartbeat at a phase
//  spread evenly over the beat, and at once when a service's settled role
//  changes, and takes part in lending at the level of figures: the shares a
//  MATCH gives it come back in its next STATE as lent (a lender) or
//  borrowed (a borrower). Per service, --lenders % of the edges lend (idle
//  random-walking between 1 and their workers), and the borrowing of the
//  others is an on/off process that keeps --borrowers % of them borrowing
//  (queued random-walking above 0), each edge changing one role every
//  --flip-s seconds on average. It answers nothing else, and counts every
//  message the hub sends by kind. It measures REGISTER -> WELCOME per edge,
//  and STATE -> MATCH: from the STATE that made an edge a borrower of a
//  service to the first MATCH of that service after it (unanswered when
//  none came within 2 s); with --pid, the CPU and memory of that process
//  (the hub) over the measured window, read from /proc.
//
//  The run: registration (at most --register-window REGISTERs outstanding),
//  a settle of --settle seconds, the measured window of --duration seconds,
//  then 2 s more for the last asks' answers; with --hold-s the fleet stays
//  connected after the window until a stop signal (the wrapper asks the
//  hub's status meanwhile). A progress line a second on stderr; at the end
//  one "name: value" line a figure on stdout.
//
//  Why it scales to 10,000 edges and more on one core: no work per turn
//  grows with the fleet. Each socket's ZMQ_FD is in one level-triggered
//  epoll set, and only the sockets that woke are read, each until EAGAIN;
//  every send is followed by the same drain, since a send processes the
//  socket's commands and can consume the wake-up of a message that came
//  meanwhile. Sends are scheduled by a binary heap of the edges keyed by
//  their next due time, so a turn touches the edges due, not all of them.
//  Each socket costs two files (its TCP connection and its mailbox), so the
//  process raises its open-file limit to 2 N + 100 before it starts.
//
//  `bench-hub --serve EP` is the ceiling: a bare ROUTER that answers
//  REGISTER with WELCOME (heartbeat 1000 ms, liveness 3), sends each
//  registered edge HEARTBEAT every second, and decodes every STATE and
//  discards it: the least a hub must do for the same fleet.
//
//  Exit 0 if the run completed (whatever the figures), 1 on a failure (no
//  edge registered, a socket error, interrupted), 2 on bad arguments or too
//  few open files.

#include "spillway.h"
#include "spw_daemon.h"
#include "spw_random.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM            "bench-hub"
#define EDGES_MAX          100000
#define SERVICES_MAX       16
#define SERVICES_DEFAULT   3
#define LENDERS_PCT        30.0
#define BORROWERS_PCT      5.0
#define FLIP_S             10.0
#define DURATION_S         10.0
#define DURATION_MAX_S     86400.0
#define SETTLE_S           2.0
#define HOLD_MAX_S         3600.0
//  REGISTERs outstanding at once. Measured with 4,900 edges (the most this
//  machine's open-file limit lets the hub take) against a hub whose listen
//  backlog is 4096 (SPW_HUB_BACKLOG, capped by somaxconn): registration
//  took 1.6 s with 100 outstanding, 1.0 s with 500, 0.78 s with 1,000 and
//  0.75 s all at once, but all at once each REGISTER waited 0.67 s (p50)
//  behind the others, 0.12 s with 1,000. So 1,000: as fast as all at once,
//  and fewer connects at a time in the kernel's queues, whose overflow
//  (past the hub's backlog, or tcp_max_syn_backlog, 2048 here) costs an
//  edge a 1 s SYN retry. Against a hub that kept libzmq's backlog of 100,
//  pass a window of 100.
#define REGISTER_WINDOW    1000
//  A real edge re-sends REGISTER every heartbeat until it is answered.
#define REGISTER_RETRY_US  1000000
//  Past this the run measures the edges that did register.
#define REGISTER_TIMEOUT_S 60.0
//  What an edge assumes of the hub's heartbeat before WELCOME says it.
#define HEARTBEAT_US       1000000
//  An ask (STATE as a new borrower) with no MATCH within this is unanswered.
#define UNANSWERED_US      2000000
//  Every edge's slots per service, and the most a borrower's queue walks to.
#define WORKERS            8
#define QUEUED_MAX         16
//  Tasks served a second per busy slot (STATE's rate figure).
#define RATE_MILLI_PER_SLOT 10000
//  Each socket's queues: a control link carries a few messages a second.
#define SOCKET_HWM         100
#define IO_THREADS         1
#define SOCKETS_SPARE      100
//  Open files: a socket's TCP connection and its mailbox, and some more.
#define FDS_PER_EDGE       2
#define FDS_SPARE          100
#define EPOLL_BATCH        1024
//  Timers fired per turn before the sockets are read again.
#define TIMERS_PER_TURN    256
//  Refusals printed in full; the rest are counted.
#define REFUSALS_PRINTED   5
#define PROGRESS_US        1000000
#define US_PER_S           1000000.0
#define US_PER_MS          1000.0
#define MILLI              1000
#define NAME_MAX_LEN       32
//  The ports the advertised endpoints name: nobody listens there, the hub
//  only passes them on.
#define ADVERTISE_PORT_BASE 40000
#define ADVERTISE_PORTS     20000
#define P50                0.50
#define P99                0.99
//  53 random bits make a double in [0, 1).
#define UNIFORM_SHIFT      11
#define UNIFORM_SCALE      0x1.0p-53
//  The null hub.
#define NULL_HEARTBEAT_MS  1000
#define NULL_LIVENESS      3
#define NULL_HWM           1000
#define NULL_BACKLOG       4096
#define NULL_BATCH         256
#define NULL_STATE_ENDPOINT "tcp://127.0.0.1:1"
#define NULL_MAX_MESSAGE_BYTES (SPW_MAX_RECORDS_LEN + 4096)

typedef enum { EDGE_IDLE, EDGE_REGISTERING, EDGE_JOINED, EDGE_GONE } edge_stage_t;

//  One service of one edge: its part in lending and its last MATCH.
typedef struct {
    uint8_t role;           // spw_role_t it reports (a lender stays one)
    uint32_t idle, queued;  // the random walks (lender, borrower)
    uint32_t lend_milli;    // its last MATCH's shares, lend to
    uint32_t borrow_milli;  // ... and borrow from
    bool borrow_matched;    // its last MATCH named a lender
    int64_t flip_at;        // next change of borrowing; 0: never
    int64_t asked_at;       // the STATE that made it a borrower, awaiting MATCH; 0: none
} service_t;

//  One simulated edge.
typedef struct {
    void *socket;
    edge_stage_t stage;
    bool rejoining;          // registering again after DISCONNECT (not sampled)
    uint64_t epoch;
    int64_t register_first;  // its first REGISTER
    int64_t register_next;   // when it re-sends REGISTER
    int64_t state_at;        // next STATE of its heartbeat
    int64_t heartbeat_us;
    bool tell;               // its state must go now (it was just welcomed)
    int64_t due;             // the earliest of its timers: its key in the heap
    size_t heap_at;          // SIZE_MAX: not in the heap
    service_t *services;
} edge_t;

//  What the fleet sent and received, by kind.
typedef struct {
    uint64_t sent, states, received, match, member, heartbeat, welcome, refused, disconnect,
        other, role_changes;
} counts_t;

//  A growable array of latencies in microseconds.
typedef struct {
    uint32_t *us;
    size_t used, size;
} samples_t;

//  The CPU and memory of a process, read from /proc.
typedef struct {
    bool ok;
    uint64_t ticks;  // utime + stime
    int64_t at_us;
    long rss_kb;
} usage_t;

//  The run.
typedef struct {
    const char *hub;
    size_t edge_count;
    size_t service_count;
    double lenders, borrowers;  // fractions
    double flip_s, duration_s, settle_s, hold_s;
    size_t register_window;
    long pid;                   // measured over the window; 0: none
    const char *ready_file;
    void *ctx;
    int epoll;
    uint64_t rng;
    char service_names[SERVICES_MAX][NAME_MAX_LEN];
    edge_t *edges;
    service_t *service_slab;
    size_t *heap;
    size_t heap_count;
    size_t started, pending, registered, gone;
    double on_mean_s, off_mean_s;  // mean borrowing and not borrowing; 0: no flips
    int64_t begin, registered_at, window_at, window_end, tail_end, grid;
    bool window_started;
    counts_t counts, at_window, at_end;
    uint64_t unanswered, withdrawn, already_matched, refusals_printed;
    samples_t register_us, match_us;
    usage_t pid_start, pid_end, self_start, self_end;
} fleet_t;

//  Prints the usage.
static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROGRAM " --hub EP --edges N [--duration S] [--services K]\n"
            "                 [--lenders PCT] [--borrowers PCT] [--flip-s S] [--settle S]\n"
            "                 [--register-window W] [--pid PID] [--ready-file PATH]\n"
            "                 [--hold-s S]\n"
            "       " PROGRAM " --serve EP\n"
            "\n"
            "Simulates N edges, each with its own connection to the hub's control\n"
            "endpoint: registration, STATE every heartbeat and at once on a new role,\n"
            "lending figures from MATCH. Prints a progress line a second on stderr and\n"
            "the figures, one \"name: value\" a line, on stdout. --serve is the null\n"
            "hub: WELCOME, HEARTBEAT every second, STATE decoded and discarded.\n"
            "\n"
            "  --hub EP              the hub's control endpoint\n"
            "  --edges N             edges simulated, 1 to %d\n"
            "  --duration S          seconds measured after registration (default %.0f)\n"
            "  --services K          services of every edge, 1 to %d (default %d)\n"
            "  --lenders PCT         edges lending each service (default %.0f)\n"
            "  --borrowers PCT       edges borrowing each service at any time (default %.0f)\n"
            "  --flip-s S            each edge starts or stops borrowing a service every\n"
            "                        S seconds on average; 0: never (default %.0f)\n"
            "  --settle S            seconds between registration and measurement\n"
            "                        (default %.0f)\n"
            "  --register-window W   REGISTERs outstanding at once; 0: all (default %d)\n"
            "  --pid PID             measure this process's CPU and memory over the window\n"
            "  --ready-file PATH     created when the window ends\n"
            "  --hold-s S            stay connected after the window until a stop signal,\n"
            "                        at most S seconds (default 0)\n"
            "\n"
            "exit codes: 0 ran, 1 a failure, 2 bad arguments or too few open files\n",
            EDGES_MAX, DURATION_S, SERVICES_MAX, SERVICES_DEFAULT, LENDERS_PCT, BORROWERS_PCT,
            FLIP_S, SETTLE_S, REGISTER_WINDOW);
}

// -- Small tools ---------------------------------------------------------------

//  A uniform double in [0, 1).
static double uniform(uint64_t *rng)
{
    return (double) (spw_random_next(rng) >> UNIFORM_SHIFT) * UNIFORM_SCALE;
}

//  An exponential delay of the given mean, in microseconds (at least 1).
static int64_t exponential_us(uint64_t *rng, double mean_s)
{
    return (int64_t) (-log1p(-uniform(rng)) * mean_s * US_PER_S) + 1;
}

//  A uniform integer in [low, high].
static uint32_t between(uint64_t *rng, uint32_t low, uint32_t high)
{
    return low + (uint32_t) (spw_random_next(rng) % (high - low + 1));
}

//  One random-walk step of value within [low, high]: down, stay or up.
static uint32_t walk(uint64_t *rng, uint32_t value, uint32_t low, uint32_t high)
{
    uint32_t step = (uint32_t) (spw_random_next(rng) % 3);
    if (step == 0 && value > low)
        return value - 1;
    if (step == 2 && value < high)
        return value + 1;
    return value;
}

//  Adds one latency to a growable array; a sample is lost if out of memory.
static void samples_add(samples_t *samples, int64_t us)
{
    if (samples->used == samples->size) {
        size_t size = samples->size ? samples->size * 2 : 1024;
        uint32_t *grown = realloc(samples->us, size * sizeof *grown);
        if (!grown)
            return;
        samples->us = grown;
        samples->size = size;
    }
    samples->us[samples->used++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t) us;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return (x > y) - (x < y);
}

//  Prints "name: " and the p-quantile (nearest rank) of sorted samples in
//  ms, or "none" when there are none.
static void print_quantile(const char *name, const samples_t *samples, double p)
{
    if (!samples->used) {
        printf("%s: none\n", name);
        return;
    }
    size_t rank = (size_t) ceil(p * (double) samples->used);
    printf("%s: %.3f\n", name, samples->us[rank ? rank - 1 : 0] / US_PER_MS);
}

//  Parses a number in [min, max]; false with a one-line error if it is not.
static bool parse_number(const char *flag, const char *text, double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (!*text || *end || errno || !(value >= min && value <= max)) {
        fprintf(stderr, PROGRAM ": %s must be a number from %g to %g, got '%s'\n", flag, min,
                max, text);
        return false;
    }
    *out = value;
    return true;
}

//  Reads a process's CPU ticks (utime + stime, every thread) and VmRSS.
static usage_t read_usage(const char *pid)
{
    usage_t usage = { .at_us = spw_clock_us() };
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return usage;
    size_t len = fread(line, 1, sizeof line - 1, file);
    fclose(file);
    line[len] = '\0';
    //  The name, in parentheses, may hold spaces: the fields follow its end;
    //  utime and stime are the 12th and 13th after it (proc(5)).
    const char *at = strrchr(line, ')');
    unsigned long long utime = 0, stime = 0;
    if (!at || sscanf(at + 2, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &utime,
                      &stime) != 2)
        return usage;
    usage.ticks = utime + stime;
    usage.ok = true;
    snprintf(path, sizeof path, "/proc/%s/status", pid);
    file = fopen(path, "r");
    while (file && fgets(line, sizeof line, file))
        if (sscanf(line, "VmRSS: %ld", &usage.rss_kb) == 1)
            break;
    if (file)
        fclose(file);
    return usage;
}

//  The CPU used between two readings, as a fraction of one core; -1 if unknown.
static double cpu_core(const usage_t *start, const usage_t *end)
{
    long hz = sysconf(_SC_CLK_TCK);
    if (!start->ok || !end->ok || end->at_us <= start->at_us || hz <= 0)
        return -1;
    return (double) (end->ticks - start->ticks) / (double) hz
         / ((double) (end->at_us - start->at_us) / US_PER_S);
}

//  Raises the open-file limit to need (the hard one too, which root may).
//  Returns 0, or -1 with a line that says what to do.
static int raise_fd_limit(rlim_t need, const char *why)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 0;   // unknown: let the sockets say
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < need) {
        struct rlimit wanted = limit;
        wanted.rlim_cur = need;
        if (wanted.rlim_max != RLIM_INFINITY && wanted.rlim_max < need)
            wanted.rlim_max = need;   // needs CAP_SYS_RESOURCE
        if (setrlimit(RLIMIT_NOFILE, &wanted) != 0) {
            fprintf(stderr,
                    PROGRAM ": %s needs %llu open files, and this process may have %llu "
                    "(hard limit %llu): run it as root (with CAP_SYS_RESOURCE), or raise "
                    "the limit first (ulimit -n %llu)\n",
                    why, (unsigned long long) need, (unsigned long long) limit.rlim_cur,
                    (unsigned long long) limit.rlim_max, (unsigned long long) need);
            return -1;
        }
    }
    return 0;
}

// -- The heap of edges by due time ---------------------------------------------

static bool heap_before(const fleet_t *self, size_t a, size_t b)
{
    return self->edges[self->heap[a]].due < self->edges[self->heap[b]].due;
}

static void heap_swap(fleet_t *self, size_t a, size_t b)
{
    size_t edge = self->heap[a];
    self->heap[a] = self->heap[b];
    self->heap[b] = edge;
    self->edges[self->heap[a]].heap_at = a;
    self->edges[self->heap[b]].heap_at = b;
}

static void heap_up(fleet_t *self, size_t at)
{
    while (at > 0 && heap_before(self, at, (at - 1) / 2)) {
        heap_swap(self, at, (at - 1) / 2);
        at = (at - 1) / 2;
    }
}

static void heap_down(fleet_t *self, size_t at)
{
    while (true) {
        size_t least = at, left = 2 * at + 1, right = left + 1;
        if (left < self->heap_count && heap_before(self, left, least))
            least = left;
        if (right < self->heap_count && heap_before(self, right, least))
            least = right;
        if (least == at)
            return;
        heap_swap(self, at, least);
        at = least;
    }
}

//  Files edge e under its due time (in the heap or not yet).
static void heap_set(fleet_t *self, size_t e, int64_t due)
{
    edge_t *edge = &self->edges[e];
    edge->due = due;
    if (edge->heap_at == SIZE_MAX) {
        edge->heap_at = self->heap_count;
        self->heap[self->heap_count++] = e;
    }
    heap_up(self, edge->heap_at);
    heap_down(self, edge->heap_at);
}

//  Takes edge e out of the heap.
static void heap_remove(fleet_t *self, size_t e)
{
    size_t at = self->edges[e].heap_at;
    if (at == SIZE_MAX)
        return;
    self->edges[e].heap_at = SIZE_MAX;
    self->heap_count--;
    if (at == self->heap_count)
        return;
    size_t moved = self->heap[self->heap_count];
    self->heap[at] = moved;
    self->edges[moved].heap_at = at;
    heap_up(self, at);
    heap_down(self, self->edges[moved].heap_at);
}

// -- An edge's figures ---------------------------------------------------------

//  Slots of a share in thousandths, rounded up: a share of 0.3 is one slot.
static uint32_t slots_of(uint32_t milli)
{
    return (milli + MILLI - 1) / MILLI;
}

//  Fills one service's figures as its STATE reports them.
static void figures_of(const fleet_t *self, const service_t *service, size_t s,
                       spw_service_figures_t *f)
{
    memset(f, 0, sizeof *f);
    f->service = self->service_names[s];
    f->service_len = strlen(self->service_names[s]);
    f->workers = WORKERS;
    f->role = service->role;
    if (service->role == SPW_ROLE_LENDER) {
        uint32_t share = slots_of(service->lend_milli);
        f->idle = service->idle;
        f->lent = share < service->idle ? share : service->idle;
        f->running = WORKERS - service->idle + f->lent;
    } else if (service->role == SPW_ROLE_BORROWER) {
        uint32_t share = slots_of(service->borrow_milli);
        f->queued = service->queued;
        f->borrowed = share < service->queued ? share : service->queued;
        f->running = WORKERS + f->borrowed;
    } else {
        f->running = WORKERS;
    }
    f->rate_milli = f->running * RATE_MILLI_PER_SLOT;
}

//  Takes every message waiting on edge e's socket, until EAGAIN.
static int drain(fleet_t *self, size_t e);

//  Sends msg on edge e's socket, counted, then reads what came meanwhile.
static int edge_send(fleet_t *self, size_t e, spw_msg_t *msg)
{
    if (spw_msg_send(msg, self->edges[e].socket, ZMQ_DONTWAIT) == 0)
        self->counts.sent++;
    return drain(self, e);
}

static int send_register(fleet_t *self, size_t e, int64_t now)
{
    edge_t *edge = &self->edges[e];
    char name[NAME_MAX_LEN], advertise[NAME_MAX_LEN];
    snprintf(name, sizeof name, "sim-%05zu", e + 1);
    snprintf(advertise, sizeof advertise, "tcp://127.0.0.1:%zu",
             ADVERTISE_PORT_BASE + e % ADVERTISE_PORTS);
    spw_msg_t out;
    spw_msg_init(&out);
    spw_proto_put_register(&out, name, edge->epoch, advertise, "");
    edge->register_next = now + REGISTER_RETRY_US;
    heap_set(self, e, edge->register_next);
    return edge_send(self, e, &out);
}

static int send_state(fleet_t *self, size_t e)
{
    edge_t *edge = &self->edges[e];
    spw_service_figures_t figures[SERVICES_MAX];
    for (size_t s = 0; s < self->service_count; s++)
        figures_of(self, &edge->services[s], s, &figures[s]);
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "sim-%05zu", e + 1);
    spw_msg_t out;
    spw_msg_init(&out);
    if (spw_proto_put_state(&out, name, edge->epoch, 0, 0, figures, self->service_count) != 0) {
        spw_msg_reset(&out);
        return 0;
    }
    self->counts.states++;
    return edge_send(self, e, &out);
}

//  The earliest of a joined edge's timers: its heartbeat, its flips.
static int64_t next_due(const fleet_t *self, const edge_t *edge)
{
    int64_t due = edge->state_at;
    for (size_t s = 0; s < self->service_count; s++)
        if (edge->services[s].flip_at && edge->services[s].flip_at < due)
            due = edge->services[s].flip_at;
    return due;
}

//  True if now lies in the measured window.
static bool measuring(const fleet_t *self, int64_t now)
{
    return self->window_at && now >= self->window_at
        && (!self->window_end || now < self->window_end);
}

//  Settles an ask that had no MATCH within UNANSWERED_US.
static void check_ask(fleet_t *self, service_t *service, int64_t now)
{
    if (service->asked_at && now - service->asked_at > UNANSWERED_US) {
        self->unanswered++;
        service->asked_at = 0;
    }
}

//  Starts or stops a service's borrowing (a role change).
static void flip(fleet_t *self, service_t *service, int64_t now)
{
    bool starts = service->role == SPW_ROLE_NONE;
    if (starts) {
        service->role = SPW_ROLE_BORROWER;
        service->queued = between(&self->rng, 1, QUEUED_MAX);
        service->flip_at = now + exponential_us(&self->rng, self->on_mean_s);
        //  Asks are measured in the window, while some lender exists, and
        //  only when the hub has not matched it already (a match held).
        if (service->borrow_matched)
            self->already_matched += measuring(self, now);
        else if (self->lenders > 0 && measuring(self, now))
            service->asked_at = now;
    } else {
        service->role = SPW_ROLE_NONE;
        service->queued = 0;
        service->flip_at = now + exponential_us(&self->rng, self->off_mean_s);
        check_ask(self, service, now);
        if (service->asked_at) {
            self->withdrawn++;   // it stopped borrowing before an answer was due
            service->asked_at = 0;
        }
    }
    self->counts.role_changes++;
}

//  Runs a due edge's timers: REGISTER again, its flips, its heartbeat.
static int edge_timer(fleet_t *self, size_t e, int64_t now)
{
    edge_t *edge = &self->edges[e];
    if (edge->stage == EDGE_REGISTERING)
        return send_register(self, e, now);
    if (edge->stage != EDGE_JOINED) {
        heap_remove(self, e);
        return 0;
    }
    bool changed = false;
    for (size_t s = 0; s < self->service_count; s++) {
        service_t *service = &edge->services[s];
        if (service->flip_at && service->flip_at <= now) {
            flip(self, service, now);
            changed = true;
        }
    }
    bool beat = edge->state_at <= now, tell = edge->tell;
    edge->tell = false;
    if (beat) {
        while (edge->state_at <= now)
            edge->state_at += edge->heartbeat_us;
        for (size_t s = 0; s < self->service_count; s++) {
            service_t *service = &edge->services[s];
            check_ask(self, service, now);
            if (service->role == SPW_ROLE_LENDER)
                service->idle = walk(&self->rng, service->idle, 1, WORKERS);
            else if (service->role == SPW_ROLE_BORROWER)
                service->queued = walk(&self->rng, service->queued, 1, QUEUED_MAX);
        }
    }
    heap_set(self, e, next_due(self, edge));
    //  A new settled role is told at once, as a real edge tells it.
    return beat || changed || tell ? send_state(self, e) : 0;
}

// -- What the hub sends --------------------------------------------------------

//  The index of a service "svc-I", or -1.
static int service_index(const fleet_t *self, const char *name, size_t len)
{
    if (len < 5 || memcmp(name, "svc-", 4) != 0)
        return -1;
    size_t index = 0;
    for (size_t i = 4; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        index = index * 10 + (size_t) (name[i] - '0');
    }
    return index < self->service_count ? (int) index : -1;
}

static void on_welcome(fleet_t *self, size_t e, const spw_proto_t *in, int64_t now)
{
    edge_t *edge = &self->edges[e];
    if (edge->stage != EDGE_REGISTERING)
        return;   // the answer to a REGISTER sent again
    if (!edge->rejoining) {
        samples_add(&self->register_us, now - edge->register_first);
        self->registered++;
        self->pending--;
        if (!self->registered_at && self->registered + self->gone == self->edge_count)
            self->registered_at = now;
    }
    edge->stage = EDGE_JOINED;
    edge->rejoining = false;
    edge->heartbeat_us = (int64_t) in->count * (int64_t) US_PER_MS;
    if (edge->heartbeat_us <= 0)
        edge->heartbeat_us = HEARTBEAT_US;
    //  Welcomed afresh, an edge forgets its matches: the hub tells them again.
    for (size_t s = 0; s < self->service_count; s++) {
        edge->services[s].lend_milli = edge->services[s].borrow_milli = 0;
        edge->services[s].borrow_matched = false;
    }
    //  Its heartbeat at a phase of its own, spread evenly over the beat.
    int64_t phase = edge->heartbeat_us * (int64_t) e / (int64_t) self->edge_count;
    int64_t beats = (now - self->grid - phase) / edge->heartbeat_us + 1;
    edge->state_at = self->grid + phase + beats * edge->heartbeat_us;
    //  Its state goes at once, as a real edge's does (from the timers: a
    //  send here, inside the socket's drain, would drain it again within).
    edge->tell = true;
    heap_set(self, e, now);
}

static void on_refused(fleet_t *self, size_t e, const spw_proto_t *in, int64_t now)
{
    edge_t *edge = &self->edges[e];
    if (self->refusals_printed++ < REFUSALS_PRINTED)
        fprintf(stderr, PROGRAM ": the hub refused sim-%05zu: %.*s (retry_ms=%u)\n", e + 1,
                (int) in->text_len, in->text, in->count);
    if (edge->stage != EDGE_REGISTERING || in->count > 0)
        return;   // retried at the next heartbeat, as a real edge does
    edge->stage = EDGE_GONE;
    heap_remove(self, e);
    if (!edge->rejoining) {
        self->gone++;
        self->pending--;
        if (!self->registered_at && self->registered + self->gone == self->edge_count)
            self->registered_at = now;
    }
}

static void on_match(fleet_t *self, size_t e, const spw_proto_t *in, int64_t now)
{
    int s = service_index(self, in->service, in->service_len);
    if (s < 0)
        return;
    service_t *service = &self->edges[e].services[s];
    //  A MATCH replaces all the edge was told of the service.
    uint32_t lend = 0, borrow = 0, lenders = 0;
    size_t offset = 0;
    spw_match_entry_t entry;
    while (spw_proto_next_match(in, &offset, &entry) == 1) {
        if (entry.role == SPW_MATCH_LEND_TO)
            lend += entry.slots_milli;
        else {
            borrow += entry.slots_milli;
            lenders++;
        }
    }
    service->lend_milli = lend;
    service->borrow_milli = borrow;
    service->borrow_matched = lenders > 0;
    if (service->asked_at) {
        int64_t waited = now - service->asked_at;
        if (waited > UNANSWERED_US)
            self->unanswered++;
        else
            samples_add(&self->match_us, waited);
        service->asked_at = 0;
    }
}

static void on_message(fleet_t *self, size_t e, spw_msg_t *msg, int64_t now)
{
    self->counts.received++;
    spw_proto_t in;
    if (spw_proto_decode(msg, 0, &in, NULL) != 0) {
        self->counts.other++;
        return;
    }
    edge_t *edge = &self->edges[e];
    switch (in.cmd) {
    case SPW_CMD_WELCOME:
        self->counts.welcome++;
        on_welcome(self, e, &in, now);
        break;
    case SPW_CMD_REFUSED:
        self->counts.refused++;
        on_refused(self, e, &in, now);
        break;
    case SPW_CMD_MATCH:
        self->counts.match++;
        on_match(self, e, &in, now);
        break;
    case SPW_CMD_MEMBER:
        self->counts.member++;
        break;
    case SPW_CMD_HEARTBEAT:
        self->counts.heartbeat++;
        break;
    case SPW_CMD_DISCONNECT:
        //  The hub does not know it: register again, at once.
        self->counts.disconnect++;
        if (edge->stage == EDGE_JOINED) {
            edge->stage = EDGE_REGISTERING;
            edge->rejoining = true;
            edge->register_next = now;
            heap_set(self, e, now);
        }
        break;
    default:
        self->counts.other++;
        break;
    }
}

static int drain(fleet_t *self, size_t e)
{
    while (true) {
        spw_msg_t msg;
        spw_msg_init(&msg);
        if (spw_msg_recv(&msg, self->edges[e].socket, ZMQ_DONTWAIT) != 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            if (errno == EMSGSIZE) {
                self->counts.received++;
                self->counts.other++;
                continue;
            }
            fprintf(stderr, PROGRAM ": receive failed: %s\n", zmq_strerror(errno));
            return -1;
        }
        on_message(self, e, &msg, spw_clock_us());
        spw_msg_reset(&msg);
    }
}

// -- The fleet -----------------------------------------------------------------

//  Opens edge e's socket, watches it, and registers. Returns 0 or -1.
static int start_edge(fleet_t *self, size_t e, int64_t now)
{
    edge_t *edge = &self->edges[e];
    spw_socket_opts_t opts = { .max_message_bytes = SPW_MAX_RECORDS_LEN * 2, .hwm = SOCKET_HWM };
    char err[SPW_ERROR_MAX];
    edge->socket = spw_socket_new(self->ctx, ZMQ_DEALER, &opts);
    if (!edge->socket) {
        fprintf(stderr, PROGRAM ": cannot make socket %zu: %s\n", e + 1, zmq_strerror(errno));
        return -1;
    }
    int fd = -1;
    size_t size = sizeof fd;
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = e };
    if (zmq_getsockopt(edge->socket, ZMQ_FD, &fd, &size) != 0
        || epoll_ctl(self->epoll, EPOLL_CTL_ADD, fd, &event) != 0) {
        fprintf(stderr, PROGRAM ": cannot watch socket %zu: %s\n", e + 1, strerror(errno));
        return -1;
    }
    if (spw_socket_connect(edge->socket, self->hub, err, sizeof err) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return -1;
    }
    edge->stage = EDGE_REGISTERING;
    edge->register_first = now;
    self->started++;
    self->pending++;
    return send_register(self, e, now);
}

//  Sets every edge's services: lenders fixed, borrowing on or off.
static int make_fleet(fleet_t *self)
{
    self->edges = calloc(self->edge_count, sizeof *self->edges);
    self->service_slab = calloc(self->edge_count * self->service_count, sizeof *self->service_slab);
    self->heap = calloc(self->edge_count, sizeof *self->heap);
    if (!self->edges || !self->service_slab || !self->heap)
        return -1;
    //  Each edge changes one role every flip_s on average: borrowing of
    //  mean length on_mean_s, the pause between of off_mean_s, in the ratio
    //  that keeps the borrowers' share (2 changes a borrowing).
    double none = 1.0 - self->lenders - self->borrowers;
    if (self->flip_s > 0 && self->borrowers > 0 && none > 0) {
        self->on_mean_s = 2.0 * (double) self->service_count * self->borrowers * self->flip_s;
        self->off_mean_s = self->on_mean_s * none / self->borrowers;
    }
    int64_t now = spw_clock_us();
    for (size_t e = 0; e < self->edge_count; e++) {
        edge_t *edge = &self->edges[e];
        edge->heap_at = SIZE_MAX;
        edge->epoch = spw_random_next(&self->rng);
        edge->heartbeat_us = HEARTBEAT_US;
        edge->services = &self->service_slab[e * self->service_count];
        for (size_t s = 0; s < self->service_count; s++) {
            service_t *service = &edge->services[s];
            double u = uniform(&self->rng);
            service->idle = between(&self->rng, 1, WORKERS);
            if (u < self->lenders) {
                service->role = SPW_ROLE_LENDER;
                continue;
            }
            bool borrows = u < self->lenders + self->borrowers;
            service->role = borrows ? SPW_ROLE_BORROWER : SPW_ROLE_NONE;
            service->queued = borrows ? between(&self->rng, 1, QUEUED_MAX) : 0;
            if (self->on_mean_s > 0)
                service->flip_at = now + exponential_us(&self->rng, borrows ? self->on_mean_s
                                                                             : self->off_mean_s);
        }
    }
    return 0;
}

static void close_fleet(fleet_t *self)
{
    for (size_t e = 0; self->edges && e < self->edge_count; e++)
        spw_socket_destroy(&self->edges[e].socket);
    free(self->edges);
    free(self->service_slab);
    free(self->heap);
    free(self->register_us.us);
    free(self->match_us.us);
}

//  One progress line: the phase, registrations, rates over the last second.
static void progress(fleet_t *self, counts_t *last, int64_t now)
{
    const char *phase = !self->registered_at ? "registering"
                      : now < self->window_at ? "settling"
                      : !self->window_end ? "measuring" : "after";
    fprintf(stderr,
            "hub bench: t=%.0fs %s registered=%zu/%zu states/s=%llu in/s=%llu out/s=%llu "
            "match/s=%llu\n",
            (double) (now - self->begin) / US_PER_S, phase, self->registered, self->edge_count,
            (unsigned long long) (self->counts.states - last->states),
            (unsigned long long) (self->counts.received - last->received),
            (unsigned long long) (self->counts.sent - last->sent),
            (unsigned long long) (self->counts.match - last->match));
    *last = self->counts;
}

//  The usage of the process measured (--pid), if any.
static usage_t read_pid_usage(const fleet_t *self)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", self->pid);
    return self->pid ? read_usage(pid) : (usage_t) { .ok = false };
}

//  Prints "name: " and a CPU figure, or "unknown".
static void print_cpu(const char *name, const usage_t *start, const usage_t *end)
{
    double core = cpu_core(start, end);
    if (core < 0)
        printf("%s: unknown\n", name);
    else
        printf("%s: %.3f\n", name, core);
}

//  Moves the run on: registration done, settle over, window over.
static void advance(fleet_t *self, int64_t now)
{
    if (!self->registered_at && now - self->begin > (int64_t) (REGISTER_TIMEOUT_S * US_PER_S)
        && self->registered > 0) {
        fprintf(stderr, PROGRAM ": %zu of %zu edges registered in %.0f s; measuring those\n",
                self->registered, self->edge_count, REGISTER_TIMEOUT_S);
        self->registered_at = now;
    }
    if (self->registered_at && !self->window_at)
        self->window_at = self->registered_at + (int64_t) (self->settle_s * US_PER_S);
    if (self->window_at && now >= self->window_at && !self->window_started) {
        self->window_started = true;
        self->at_window = self->counts;
        self->pid_start = read_pid_usage(self);
        self->self_start = read_usage("self");
    }
    if (self->window_at && !self->window_end
        && now >= self->window_at + (int64_t) (self->duration_s * US_PER_S)) {
        self->window_end = now;
        self->tail_end = now + UNANSWERED_US;
        self->at_end = self->counts;
        self->pid_end = read_pid_usage(self);
        self->self_end = read_usage("self");
        if (self->ready_file) {
            FILE *file = fopen(self->ready_file, "w");
            if (file)
                fclose(file);
        }
    }
}

//  The milliseconds the loop may wait (rounded up): until the next timer,
//  the window's start or end, or the next progress line.
static int wait_ms(const fleet_t *self, int64_t now, int64_t next_progress)
{
    int64_t wake = next_progress;
    if (self->heap_count && self->edges[self->heap[0]].due < wake)
        wake = self->edges[self->heap[0]].due;
    if (self->window_at && !self->window_end) {
        int64_t end = self->window_at + (int64_t) (self->duration_s * US_PER_S);
        int64_t at = now < self->window_at ? self->window_at : end;
        if (at < wake)
            wake = at;
    }
    if (wake <= now)
        return 0;
    return (int) ((wake - now + (int64_t) US_PER_MS - 1) / (int64_t) US_PER_MS);
}

//  True once the run is over: the tail passed and, holding, the wrapper
//  said stop (or the hold ran out).
static bool finished(const fleet_t *self, int stops, int64_t now)
{
    if (!self->window_end || now < self->tail_end)
        return false;
    return self->hold_s <= 0 || stops > 0
        || now >= self->window_end + (int64_t) (self->hold_s * US_PER_S);
}

//  The run. Returns 0, or 1 on a failure.
static int run(fleet_t *self, volatile sig_atomic_t *stop)
{
    struct epoll_event events[EPOLL_BATCH];
    self->begin = self->grid = spw_clock_us();
    int64_t next_progress = self->begin + PROGRESS_US;
    counts_t last = self->counts;
    while (true) {
        int64_t now = spw_clock_us();
        if (*stop && (!self->window_end || *stop > 1)) {
            fprintf(stderr, PROGRAM ": interrupted\n");
            return 1;
        }
        if (finished(self, *stop, now))
            return 0;
        if (!self->registered && self->gone == self->edge_count) {
            fprintf(stderr, PROGRAM ": the hub refused every edge\n");
            return 1;
        }
        if (!self->registered && now - self->begin > (int64_t) (REGISTER_TIMEOUT_S * US_PER_S)) {
            fprintf(stderr, PROGRAM ": no edge registered with %s in %.0f s\n", self->hub,
                    REGISTER_TIMEOUT_S);
            return 1;
        }
        while (self->started < self->edge_count
               && (self->register_window == 0 || self->pending < self->register_window))
            if (start_edge(self, self->started, now) != 0)
                return 1;
        for (int fired = 0; fired < TIMERS_PER_TURN && self->heap_count
                            && self->edges[self->heap[0]].due <= now;
             fired++)
            if (edge_timer(self, self->heap[0], now) != 0)
                return 1;
        advance(self, now);
        if (now >= next_progress) {
            progress(self, &last, now);
            next_progress += PROGRESS_US;
            if (next_progress <= now)
                next_progress = now + PROGRESS_US;
        }
        int ready = epoll_wait(self->epoll, events, EPOLL_BATCH, wait_ms(self, now, next_progress));
        if (ready < 0 && errno != EINTR) {
            fprintf(stderr, PROGRAM ": epoll failed: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; i < ready; i++)
            if (drain(self, (size_t) events[i].data.u64) != 0)
                return 1;
    }
}

//  Prints one figure a line, "name: value".
static void report(fleet_t *self)
{
    //  Asks still open at the end that waited past the limit are unanswered.
    int64_t now = spw_clock_us();
    for (size_t e = 0; e < self->edge_count; e++)
        for (size_t s = 0; s < self->service_count; s++)
            check_ask(self, &self->edges[e].services[s], now);
    qsort(self->register_us.us, self->register_us.used, sizeof(uint32_t), compare_u32);
    qsort(self->match_us.us, self->match_us.used, sizeof(uint32_t), compare_u32);
    double window_s = (double) (self->window_end - self->window_at) / US_PER_S;
    const counts_t *a = &self->at_window, *b = &self->at_end;
#define PER_S(field) ((double) (b->field - a->field) / window_s)
    printf("edges: %zu\n", self->edge_count);
    printf("registered: %zu\n", self->registered);
    printf("registration_s: %.3f\n", (double) (self->registered_at - self->begin) / US_PER_S);
    print_quantile("register_p50_ms", &self->register_us, P50);
    print_quantile("register_p99_ms", &self->register_us, P99);
    print_quantile("register_max_ms", &self->register_us, 1.0);
    printf("window_s: %.3f\n", window_s);
    printf("match_samples: %zu\n", self->match_us.used);
    print_quantile("match_p50_ms", &self->match_us, P50);
    print_quantile("match_p99_ms", &self->match_us, P99);
    print_quantile("match_max_ms", &self->match_us, 1.0);
    printf("unanswered: %llu\n", (unsigned long long) self->unanswered);
    printf("already_matched: %llu\n", (unsigned long long) self->already_matched);
    printf("withdrawn: %llu\n", (unsigned long long) self->withdrawn);
    printf("refused: %llu\n", (unsigned long long) self->counts.refused);
    printf("reregistered: %llu\n", (unsigned long long) self->counts.disconnect);
    printf("to_hub_per_s: %.1f\n", PER_S(sent));
    printf("state_per_s: %.1f\n", PER_S(states));
    printf("from_hub_per_s: %.1f\n", PER_S(received));
    printf("match_per_s: %.1f\n", PER_S(match));
    printf("member_per_s: %.1f\n", PER_S(member));
    printf("heartbeat_per_s: %.1f\n", PER_S(heartbeat));
    printf("other_per_s: %.1f\n", PER_S(other) + PER_S(welcome) + PER_S(refused)
                                      + PER_S(disconnect));
    printf("role_changes_per_s: %.1f\n", PER_S(role_changes));
    printf("role_changes_expected_per_s: %.1f\n",
           self->on_mean_s > 0 ? (double) self->registered / self->flip_s : 0.0);
#undef PER_S
    if (self->pid) {
        print_cpu("pid_cpu_core", &self->pid_start, &self->pid_end);
        printf("pid_rss_start_kb: %ld\n", self->pid_start.rss_kb);
        printf("pid_rss_end_kb: %ld\n", self->pid_end.rss_kb);
    }
    print_cpu("bench_cpu_core", &self->self_start, &self->self_end);
}

// -- The null hub --------------------------------------------------------------

//  An identity of a registered edge, in an open-addressing set.
typedef struct {
    uint8_t len;  // 0: free
    uint8_t id[SPW_MAX_IDENTITY_LEN];
} identity_t;

typedef struct {
    void *ctx, *router;
    identity_t *set;
    size_t size, count;  // size: a power of two
    uint64_t states, registered, dropped;
} null_hub_t;

//  FNV-1a, to place identities in the set.
static size_t identity_hash(const uint8_t *id, size_t len)
{
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ id[i]) * 0x100000001b3ULL;
    return (size_t) hash;
}

//  Adds an identity to the set (growing it at half full). Returns 0 or -1.
static int null_add(null_hub_t *self, const uint8_t *id, size_t len)
{
    if (len == 0 || len > SPW_MAX_IDENTITY_LEN)
        return -1;
    if (2 * (self->count + 1) > self->size) {
        size_t size = self->size ? self->size * 2 : 1024;
        identity_t *grown = calloc(size, sizeof *grown);
        if (!grown)
            return -1;
        for (size_t i = 0; i < self->size; i++)
            if (self->set[i].len) {
                size_t at = identity_hash(self->set[i].id, self->set[i].len) & (size - 1);
                while (grown[at].len)
                    at = (at + 1) & (size - 1);
                grown[at] = self->set[i];
            }
        free(self->set);
        self->set = grown;
        self->size = size;
    }
    size_t at = identity_hash(id, len) & (self->size - 1);
    while (self->set[at].len) {
        if (self->set[at].len == len && memcmp(self->set[at].id, id, len) == 0)
            return 0;   // a REGISTER sent again
        at = (at + 1) & (self->size - 1);
    }
    self->set[at].len = (uint8_t) len;
    memcpy(self->set[at].id, id, len);
    self->count++;
    return 0;
}

static void null_on_message(void *arg, spw_msg_t *msg, int64_t now)
{
    (void) now;
    null_hub_t *self = arg;
    spw_proto_t in;
    if (msg->count < 3 || spw_proto_decode(msg, 1, &in, NULL) != 0) {
        self->dropped++;
        return;
    }
    if (in.cmd == SPW_CMD_STATE) {
        self->states++;   // decoded, and that is all
        return;
    }
    if (in.cmd != SPW_CMD_REGISTER)
        return;
    zmq_msg_t *identity = &msg->frame[0];
    null_add(self, zmq_msg_data(identity), zmq_msg_size(identity));
    self->registered++;
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, identity);
    spw_proto_put_welcome(&out, NULL_STATE_ENDPOINT, NULL_HEARTBEAT_MS, NULL_LIVENESS);
    spw_msg_send(&out, self->router, ZMQ_DONTWAIT);
}

//  HEARTBEAT to every registered edge.
static void null_beat(null_hub_t *self)
{
    for (size_t i = 0; i < self->size; i++) {
        if (!self->set[i].len)
            continue;
        spw_msg_t out;
        spw_msg_init(&out);
        spw_msg_add_mem(&out, self->set[i].id, self->set[i].len);
        spw_proto_put_heartbeat(&out);
        spw_msg_send(&out, self->router, ZMQ_DONTWAIT);
    }
}

//  bench-hub --serve EP: the null hub, until SIGINT or SIGTERM.
static int serve(const char *endpoint, volatile sig_atomic_t *stop)
{
    spw_daemon_raise_fd_limit();
    null_hub_t self = { 0 };
    char err[SPW_ERROR_MAX];
    spw_socket_opts_t opts = { .max_message_bytes = NULL_MAX_MESSAGE_BYTES, .hwm = NULL_HWM,
                               .backlog = NULL_BACKLOG };
    self.ctx = zmq_ctx_new();
    zmq_ctx_set(self.ctx, ZMQ_IO_THREADS, IO_THREADS);
    self.router = self.ctx ? spw_socket_new(self.ctx, ZMQ_ROUTER, &opts) : NULL;
    if (!self.router || spw_socket_bind(self.router, endpoint, err, sizeof err) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", self.router ? err : "cannot make the socket");
        spw_socket_destroy(&self.router);
        if (self.ctx)
            zmq_ctx_term(self.ctx);
        return 1;
    }
    spw_drops_t drops = { .name = "control" };
    int64_t next_beat = spw_clock_ms() + NULL_HEARTBEAT_MS;
    int rc = 0;
    while (!*stop) {
        int64_t now = spw_clock_ms();
        zmq_pollitem_t item = { self.router, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&item, 1, next_beat > now ? (long) (next_beat - now) : 0) < 0) {
            if (errno == EINTR)
                continue;
            rc = 1;
            break;
        }
        now = spw_clock_ms();
        if ((item.revents & ZMQ_POLLIN)
            && spw_msg_drain(self.router, NULL_BATCH, null_on_message, &self, &drops, 0, now)
                   != 0) {
            rc = 1;
            break;
        }
        if (now >= next_beat) {
            null_beat(&self);
            next_beat += NULL_HEARTBEAT_MS;
            if (next_beat <= now)
                next_beat = now + NULL_HEARTBEAT_MS;
        }
    }
    fprintf(stderr, PROGRAM ": null hub: edges=%zu registered=%llu states=%llu dropped=%llu\n",
            self.count, (unsigned long long) self.registered, (unsigned long long) self.states,
            (unsigned long long) self.dropped);
    spw_socket_destroy(&self.router);
    zmq_ctx_term(self.ctx);
    free(self.set);
    return rc;
}

// -- The command line ----------------------------------------------------------

//  Parses the command line into self (or *serve_at). Returns -1 to go on,
//  else the exit code.
static int parse_args(fleet_t *self, const char **serve_at, int argc, char **argv)
{
    double lenders = LENDERS_PCT, borrowers = BORROWERS_PCT, number = 0;
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
        bool ok = true;
        if (strcmp(flag, "--serve") == 0)
            *serve_at = value;
        else if (strcmp(flag, "--hub") == 0)
            self->hub = value;
        else if (strcmp(flag, "--ready-file") == 0)
            self->ready_file = value;
        else if (strcmp(flag, "--edges") == 0) {
            ok = parse_number(flag, value, 1, EDGES_MAX, &number);
            self->edge_count = (size_t) number;
        } else if (strcmp(flag, "--services") == 0) {
            ok = parse_number(flag, value, 1, SERVICES_MAX, &number);
            self->service_count = (size_t) number;
        } else if (strcmp(flag, "--register-window") == 0) {
            ok = parse_number(flag, value, 0, EDGES_MAX, &number);
            self->register_window = (size_t) number;
        } else if (strcmp(flag, "--pid") == 0) {
            ok = parse_number(flag, value, 1, 1e9, &number);
            self->pid = (long) number;
        } else if (strcmp(flag, "--lenders") == 0)
            ok = parse_number(flag, value, 0, 100, &lenders);
        else if (strcmp(flag, "--borrowers") == 0)
            ok = parse_number(flag, value, 0, 100, &borrowers);
        else if (strcmp(flag, "--flip-s") == 0)
            ok = parse_number(flag, value, 0, DURATION_MAX_S, &self->flip_s);
        else if (strcmp(flag, "--duration") == 0)
            ok = parse_number(flag, value, 0.1, DURATION_MAX_S, &self->duration_s);
        else if (strcmp(flag, "--settle") == 0)
            ok = parse_number(flag, value, 0, DURATION_MAX_S, &self->settle_s);
        else if (strcmp(flag, "--hold-s") == 0)
            ok = parse_number(flag, value, 0, HOLD_MAX_S, &self->hold_s);
        else {
            fprintf(stderr, PROGRAM ": unknown argument '%s' (see --help)\n", flag);
            return 2;
        }
        if (!ok)
            return 2;
    }
    if (*serve_at)
        return -1;
    if (!self->hub || !self->edge_count) {
        fprintf(stderr, PROGRAM ": --hub and --edges are needed (see --help)\n");
        return 2;
    }
    if (lenders + borrowers > 100) {
        fprintf(stderr, PROGRAM ": --lenders and --borrowers add up to more than 100 %%\n");
        return 2;
    }
    self->lenders = lenders / 100;
    self->borrowers = borrowers / 100;
    return -1;
}

int main(int argc, char **argv)
{
    static fleet_t self;   // large: keep it off the stack
    const char *serve_at = NULL;
    self.service_count = SERVICES_DEFAULT;
    self.flip_s = FLIP_S;
    self.duration_s = DURATION_S;
    self.settle_s = SETTLE_S;
    self.register_window = REGISTER_WINDOW;
    int rc = parse_args(&self, &serve_at, argc, argv);
    if (rc >= 0)
        return rc;
    volatile sig_atomic_t *stop = spw_daemon_signals();
    if (serve_at)
        return serve(serve_at, stop);

    char why[64];
    snprintf(why, sizeof why, "a fleet of %zu edges", self.edge_count);
    if (raise_fd_limit((rlim_t) (FDS_PER_EDGE * self.edge_count + FDS_SPARE), why) != 0)
        return 2;
    self.rng = spw_random_seed();
    for (size_t s = 0; s < self.service_count; s++)
        snprintf(self.service_names[s], NAME_MAX_LEN, "svc-%zu", s);
    self.ctx = zmq_ctx_new();
    self.epoll = epoll_create1(EPOLL_CLOEXEC);
    if (!self.ctx || self.epoll < 0
        || zmq_ctx_set(self.ctx, ZMQ_MAX_SOCKETS, (int) (self.edge_count + SOCKETS_SPARE)) != 0
        || zmq_ctx_set(self.ctx, ZMQ_IO_THREADS, IO_THREADS) != 0 || make_fleet(&self) != 0) {
        fprintf(stderr, PROGRAM ": cannot set up the fleet: %s\n", strerror(errno));
        rc = 1;
    } else {
        rc = run(&self, stop);
        if (rc == 0)
            report(&self);
    }
    close_fleet(&self);
    if (self.epoll >= 0)
        close(self.epoll);
    if (self.ctx)
        zmq_ctx_term(self.ctx);
    return rc;
}
