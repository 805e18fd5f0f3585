//  hubload.c: bench-hub, the load generator of the hub benchmark
//  (tests/bench/hub), and the "null hub" it is measured against.
//
//  It simulates a fleet of N edges, each with its own DEALER
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
//
//  Each socket costs two files (its TCP connection and its mailbox), and a
//  process may have only so many (the hard limit; past it needs
//  CAP_SYS_RESOURCE), so --procs P splits the fleet over P processes. The
//  first parses the arguments, raises its open-file limit to 2 ceil(N / P)
//  + 100, and forks P children before any ZeroMQ context exists (a context
//  does not survive a fork). Child k simulates edges [k N / P, (k + 1) N /
//  P) as they would be in one process: named by their number in the fleet
//  (sim-00001 ...), their random numbers drawn from the run's seed mixed
//  with that number, their heartbeats' phases spread over the whole fleet
//  on a grid of the parent's clock (CLOCK_MONOTONIC is the machine's, so
//  times compare across processes), and a Pth of the REGISTER window each:
//  the fleet is the same whatever P. The parent opens no socket to the hub;
//  it runs the phases over one socketpair a child. A child sends its
//  counters every second (the progress line is the whole fleet's) and once
//  when its edges are registered or its registration timed out; when all
//  have, the parent waits the settle, says "window start" to every child at
//  once and reads the hub's /proc, and --duration seconds later "window
//  end"; 2 s after that each child sends its counters and raw latencies,
//  which the parent merges (sums, quantiles over the union, registration
//  from the first connect of any child to the last WELCOME of any) and
//  prints. A child that dies ends the run: the parent says which and how,
//  stops the others and waits for every one. A child ends when its
//  socketpair reaches EOF, so none outlives the parent.
//
//  `bench-hub --serve EP` is the ceiling: a bare ROUTER that answers
//  REGISTER with WELCOME (heartbeat 1000 ms, liveness 3), sends each
//  registered edge HEARTBEAT every second (in ten slices, as the hub),
//  decodes every STATE and answers
//  each service it borrows with an empty MATCH at once: the least a hub
//  must do for the same fleet, and the least latency an ask can see on
//  this machine under it.
//
//  Exit 0 if the run completed (whatever the figures), 1 on a failure (no
//  edge registered, a socket error, a child lost, interrupted), 2 on bad
//  arguments or too few open files.

#include "bench.h"
#include "spillway.h"
#include "spw_array.h"
#include "spw_daemon.h"
#include "spw_random.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
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
#define PROCS_MAX          64
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
//  Children note their counters on the run's grid of seconds; the parent
//  prints the fleet's line this long after, when the notes are in.
#define PROGRESS_US        1000000
#define PROGRESS_LAG_US    250000
//  A child's report is due at the window's end and the 2 s after it; one
//  not in this much later has hung.
#define REPORT_TIMEOUT_US  30000000
//  The key of the socketpair to the parent in a child's epoll set.
#define CONTROL_KEY        UINT64_MAX
//  What the parent says to a child, a byte each.
#define SAY_WINDOW_START   'S'
#define SAY_WINDOW_END     'E'
#define RECEIVE_CHUNK      65536
//  Mixes an edge's number into the run's seed (odd, from splitmix's family).
#define EDGE_SEED_MIX      0xd1b54a32d192ed03ULL
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
    uint64_t rng;            // its own random numbers, from the seed and its number
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

//  The run, from the command line; the parent's and every child's.
typedef struct {
    const char *hub;
    size_t edge_count;          // the whole fleet's
    size_t service_count;
    double lenders, borrowers;  // fractions
    double flip_s, duration_s, settle_s, hold_s;
    size_t register_window;     // the whole fleet's; 0: all at once
    size_t procs;
    size_t first_edge;          // the fleet's edges are sim-(first_edge + 1) on
    long pid;                   // measured over the window; 0: none
    const char *ready_file;
    uint64_t seed;
    int64_t grid;               // the heartbeats' phases count from here
} settings_t;

//  One process's part of the fleet: edges [first, first + edge_count).
typedef struct {
    const char *hub;
    size_t first, edge_count, fleet_edges;
    size_t service_count;
    double lenders, borrowers, flip_s;
    size_t register_window;     // this process's part of the fleet's
    uint64_t seed;
    int64_t grid;
    int control;                // the socketpair to the parent
    void *ctx;
    int epoll;
    char service_names[SERVICES_MAX][NAME_MAX_LEN];
    edge_t *edges;
    service_t *service_slab;
    size_t *heap;
    size_t heap_count;
    size_t started, pending, registered, gone;
    double on_mean_s, off_mean_s;  // mean borrowing and not borrowing; 0: no flips
    int64_t begin, registered_at, window_at, window_end, tail_end;
    bool timed_out, told_registered, reported;
    counts_t counts, at_window, at_end;
    uint64_t unanswered, withdrawn, already_matched, refusals_printed;
    samples_t register_us, match_us;
    usage_t self_start, self_end;
} fleet_t;

typedef enum { NOTE_PROGRESS = 1, NOTE_REGISTERED, NOTE_REPORT } note_kind_t;

//  What a child tells the parent (the same program: raw bytes); a report
//  is followed by its samples, register_samples then match_samples.
typedef struct {
    uint32_t kind;              // note_kind_t
    bool timed_out;             // registration ran out of time
    size_t registered, gone;
    int64_t begin, registered_at;
    counts_t counts, at_window, at_end;
    uint64_t unanswered, withdrawn, already_matched;
    usage_t self_start, self_end;
    uint64_t register_samples, match_samples;
} note_t;

//  One child, as the parent sees it.
typedef struct {
    pid_t pid;                  // 0: reaped (or never forked)
    int fd;                     // the parent's end of its socketpair; -1: closed
    size_t first, count;        // its edges
    bool registered, reported;
    note_t last;                // its latest note
    note_t registration;        // its NOTE_REGISTERED
    note_t report;              // its NOTE_REPORT ...
    samples_t register_us, match_us;   // ... and its samples
    uint8_t *in;                // bytes heard, not yet a whole note
    size_t in_used, in_size;
} child_t;

//  The parent: the phases, the hub's /proc, the children's notes.
typedef struct {
    const settings_t *set;
    child_t *children;
    size_t procs;
    int64_t begin, registered_at, window_at, window_end;
    usage_t pid_start, pid_end;
    counts_t last;              // the fleet's counters at the last progress line
} coordinator_t;

//  Who speaks on stderr: bench-hub, or bench-hub[k] in child k of several.
static const char *me = PROGRAM;
static char me_text[NAME_MAX_LEN];

//  Prints the usage.
static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROGRAM " --hub EP --edges N [--duration S] [--services K]\n"
            "                 [--lenders PCT] [--borrowers PCT] [--flip-s S] [--settle S]\n"
            "                 [--register-window W] [--pid PID] [--ready-file PATH]\n"
            "                 [--hold-s S] [--procs P] [--first N]\n"
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
            "  --procs P             split the fleet over P processes, 1 to %d (default 1):\n"
            "                        each needs 2 open files an edge, and 100 more\n"
            "  --first N             number the edges from N + 1 (default 0): a second\n"
            "                        fleet beside a running one, such as a small probe\n"
            "                        run at a higher priority to measure latency\n"
            "\n"
            "exit codes: 0 ran, 1 a failure, 2 bad arguments or too few open files\n",
            EDGES_MAX, DURATION_S, SERVICES_MAX, SERVICES_DEFAULT, LENDERS_PCT, BORROWERS_PCT,
            FLIP_S, SETTLE_S, REGISTER_WINDOW, PROCS_MAX);
}

// -- Small tools ---------------------------------------------------------------

//  Prints one line on stderr, after the speaker's name.
static void say(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *format, ...)
{
    char line[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    fprintf(stderr, "%s: %s\n", me, line);   // one write: children share stderr
}

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
    if (spw_grow(&samples->us, &samples->size, samples->used + 1, sizeof *samples->us, 1024, 0)
        != 0)
        return;
    samples->us[samples->used++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t) us;
}

//  Adds count latencies to a growable array. Returns 0, or -1 if out of memory.
static int samples_append(samples_t *samples, const uint32_t *us, size_t count)
{
    if (spw_grow(&samples->us, &samples->size, samples->used + count, sizeof *samples->us, 1024,
                 0)
        != 0)
        return -1;
    if (count)
        memcpy(samples->us + samples->used, us, count * sizeof *us);
    samples->used += count;
    return 0;
}

//  Prints "name: " and the p-quantile (nearest rank) of sorted samples in
//  ms, or "none" when there are none.
static void print_quantile(const char *name, const samples_t *samples, double p)
{
    if (!samples->used) {
        printf("%s: none\n", name);
        return;
    }
    printf("%s: %.3f\n", name, samples->us[bench_rank(p, samples->used)] / US_PER_MS);
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

//  Raises the open-file limit to need (the hard one too, which root may);
//  children inherit it.
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
            say("%s needs %llu open files, and this process may have %llu (hard limit "
                "%llu): split the fleet over more processes (--procs), run it as root (with "
                "CAP_SYS_RESOURCE), or raise the hard limit first (ulimit -Hn %llu)",
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
    snprintf(name, sizeof name, "sim-%05zu", self->first + e + 1);
    snprintf(advertise, sizeof advertise, "tcp://127.0.0.1:%zu",
             ADVERTISE_PORT_BASE + (self->first + e) % ADVERTISE_PORTS);
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
    snprintf(name, sizeof name, "sim-%05zu", self->first + e + 1);
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

//  Starts or stops a service of edge's borrowing (a role change).
static void flip(fleet_t *self, edge_t *edge, service_t *service, int64_t now)
{
    bool starts = service->role == SPW_ROLE_NONE;
    if (starts) {
        service->role = SPW_ROLE_BORROWER;
        service->queued = between(&edge->rng, 1, QUEUED_MAX);
        service->flip_at = now + exponential_us(&edge->rng, self->on_mean_s);
        //  Asks are measured in the window, while some lender exists, and
        //  only when the hub has not matched it already (a match held).
        if (service->borrow_matched)
            self->already_matched += measuring(self, now);
        else if (self->lenders > 0 && measuring(self, now))
            service->asked_at = now;
    } else {
        service->role = SPW_ROLE_NONE;
        service->queued = 0;
        service->flip_at = now + exponential_us(&edge->rng, self->off_mean_s);
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
            flip(self, edge, service, now);
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
                service->idle = walk(&edge->rng, service->idle, 1, WORKERS);
            else if (service->role == SPW_ROLE_BORROWER)
                service->queued = walk(&edge->rng, service->queued, 1, QUEUED_MAX);
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
    //  Its heartbeat at a phase of its own, spread evenly over the beat by
    //  its number in the whole fleet.
    int64_t phase = edge->heartbeat_us * (int64_t) ((self->first + e) % self->fleet_edges)
                  / (int64_t) self->fleet_edges;
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
        say("the hub refused sim-%05zu: %.*s (retry_ms=%u)", self->first + e + 1,
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
            say("receive failed: %s", zmq_strerror(errno));
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
        say("cannot make the socket of sim-%05zu: %s", self->first + e + 1,
            zmq_strerror(errno));
        return -1;
    }
    int fd = -1;
    size_t size = sizeof fd;
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = e };
    if (zmq_getsockopt(edge->socket, ZMQ_FD, &fd, &size) != 0
        || epoll_ctl(self->epoll, EPOLL_CTL_ADD, fd, &event) != 0) {
        say("cannot watch the socket of sim-%05zu: %s", self->first + e + 1, strerror(errno));
        return -1;
    }
    if (spw_socket_connect(edge->socket, self->hub, err, sizeof err) != 0) {
        say("%s", err);
        return -1;
    }
    edge->stage = EDGE_REGISTERING;
    edge->register_first = now;
    self->started++;
    self->pending++;
    return send_register(self, e, now);
}

//  The mean lengths of a borrowing and of the pause between two, in s (0, 0:
//  roles never change). Each edge changes one role every flip_s on average,
//  in the ratio that keeps the borrowers' share (2 changes a borrowing).
static void flip_means(size_t service_count, double lenders, double borrowers, double flip_s,
                       double *on_mean_s, double *off_mean_s)
{
    double none = 1.0 - lenders - borrowers;
    *on_mean_s = *off_mean_s = 0;
    if (flip_s > 0 && borrowers > 0 && none > 0) {
        *on_mean_s = 2.0 * (double) service_count * borrowers * flip_s;
        *off_mean_s = *on_mean_s * none / borrowers;
    }
}

//  Sets every edge's services: lenders fixed, borrowing on or off. Each
//  edge's random numbers come from the run's seed and its number in the
//  fleet, so the fleet is the same however it is split.
static int make_fleet(fleet_t *self)
{
    self->edges = calloc(self->edge_count, sizeof *self->edges);
    self->service_slab = calloc(self->edge_count * self->service_count, sizeof *self->service_slab);
    self->heap = calloc(self->edge_count, sizeof *self->heap);
    if (!self->edges || !self->service_slab || !self->heap)
        return -1;
    flip_means(self->service_count, self->lenders, self->borrowers, self->flip_s,
               &self->on_mean_s, &self->off_mean_s);
    int64_t now = spw_clock_us();
    for (size_t e = 0; e < self->edge_count; e++) {
        edge_t *edge = &self->edges[e];
        uint64_t mixed = self->seed ^ ((uint64_t) (self->first + e + 1) * EDGE_SEED_MIX);
        edge->rng = spw_random_next(&mixed);
        edge->heap_at = SIZE_MAX;
        edge->epoch = spw_random_next(&edge->rng);
        edge->heartbeat_us = HEARTBEAT_US;
        edge->services = &self->service_slab[e * self->service_count];
        for (size_t s = 0; s < self->service_count; s++) {
            service_t *service = &edge->services[s];
            double u = uniform(&edge->rng);
            service->idle = between(&edge->rng, 1, WORKERS);
            if (u < self->lenders) {
                service->role = SPW_ROLE_LENDER;
                continue;
            }
            bool borrows = u < self->lenders + self->borrowers;
            service->role = borrows ? SPW_ROLE_BORROWER : SPW_ROLE_NONE;
            service->queued = borrows ? between(&edge->rng, 1, QUEUED_MAX) : 0;
            if (self->on_mean_s > 0)
                service->flip_at = now + exponential_us(&edge->rng, borrows ? self->on_mean_s
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

// -- A child: its part of the fleet --------------------------------------------

//  Sends len bytes whole on a blocking socket. Returns 0, or -1 if the
//  other end has gone.
static int send_all(int fd, const void *data, size_t len)
{
    const char *at = data;
    while (len > 0) {
        ssize_t sent = send(fd, at, len, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            return -1;
        at += sent;
        len -= (size_t) sent;
    }
    return 0;
}

//  Tells the parent a note of this kind (a report with its samples).
//  Returns 0, or -1 if the parent has gone.
static int tell_parent(fleet_t *self, note_kind_t kind)
{
    note_t note = {
        .kind = kind, .timed_out = self->timed_out, .registered = self->registered,
        .gone = self->gone, .begin = self->begin, .registered_at = self->registered_at,
        .counts = self->counts, .at_window = self->at_window, .at_end = self->at_end,
        .unanswered = self->unanswered, .withdrawn = self->withdrawn,
        .already_matched = self->already_matched, .self_start = self->self_start,
        .self_end = self->self_end,
    };
    if (kind == NOTE_REPORT) {
        note.register_samples = self->register_us.used;
        note.match_samples = self->match_us.used;
    }
    if (send_all(self->control, &note, sizeof note) != 0)
        return -1;
    if (kind == NOTE_REPORT
        && (send_all(self->control, self->register_us.us,
                     self->register_us.used * sizeof(uint32_t)) != 0
            || send_all(self->control, self->match_us.us,
                        self->match_us.used * sizeof(uint32_t)) != 0))
        return -1;
    return 0;
}

//  The window starts (the parent said so): its counters and samples from now.
static void start_window(fleet_t *self, int64_t now)
{
    self->window_at = now;
    self->at_window = self->counts;
    self->match_us.used = 0;
    self->unanswered = self->withdrawn = self->already_matched = 0;
    self->self_start = read_usage("self");
}

//  The window ends (the parent said so); the report goes after the tail.
static void end_window(fleet_t *self, int64_t now)
{
    self->window_end = now;
    self->tail_end = now + UNANSWERED_US;
    self->at_end = self->counts;
    self->self_end = read_usage("self");
}

//  Reads what the parent said. Returns 0, or 1 if it closed its end (the
//  run is over, or it has gone).
static int hear_parent(fleet_t *self, int64_t now)
{
    char said[64];
    ssize_t got = recv(self->control, said, sizeof said, MSG_DONTWAIT);
    if (got < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : 1;
    if (got == 0)
        return 1;
    for (ssize_t i = 0; i < got; i++) {
        if (said[i] == SAY_WINDOW_START && !self->window_at)
            start_window(self, now);
        else if (said[i] == SAY_WINDOW_END && self->window_at && !self->window_end)
            end_window(self, now);
    }
    return 0;
}

//  The milliseconds the loop may wait (rounded up): until the next timer,
//  the report, or the next progress note.
static int wait_ms(const fleet_t *self, int64_t now, int64_t next_progress)
{
    int64_t wake = next_progress;
    if (self->heap_count && self->edges[self->heap[0]].due < wake)
        wake = self->edges[self->heap[0]].due;
    if (self->window_end && !self->reported && self->tail_end < wake)
        wake = self->tail_end;
    if (wake <= now)
        return 0;
    return (int) ((wake - now + (int64_t) US_PER_MS - 1) / (int64_t) US_PER_MS);
}

//  A child's run, until the parent closes its end. Returns 0 if the report
//  went before that, else 1.
static int run_child(fleet_t *self)
{
    struct epoll_event events[EPOLL_BATCH];
    self->begin = spw_clock_us();
    int64_t next_progress = self->grid + PROGRESS_US;
    while (next_progress <= self->begin)
        next_progress += PROGRESS_US;
    while (true) {
        int64_t now = spw_clock_us();
        //  Past the timeout the run measures the edges that did register.
        if (!self->registered_at && now - self->begin > (int64_t) (REGISTER_TIMEOUT_S * US_PER_S)) {
            self->registered_at = now;
            self->timed_out = true;
        }
        if (self->registered_at && !self->told_registered) {
            if (tell_parent(self, NOTE_REGISTERED) != 0)
                break;
            self->told_registered = true;
        }
        if (self->window_end && !self->reported && now >= self->tail_end) {
            //  Asks still open that waited past the limit are unanswered.
            for (size_t e = 0; e < self->edge_count; e++)
                for (size_t s = 0; s < self->service_count; s++)
                    check_ask(self, &self->edges[e].services[s], now);
            if (tell_parent(self, NOTE_REPORT) != 0)
                break;
            self->reported = true;
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
        if (now >= next_progress) {
            if (tell_parent(self, NOTE_PROGRESS) != 0)
                break;
            while (next_progress <= now)
                next_progress += PROGRESS_US;   // on the grid, late or not
        }
        int ready = epoll_wait(self->epoll, events, EPOLL_BATCH, wait_ms(self, now, next_progress));
        if (ready < 0 && errno != EINTR) {
            say("epoll failed: %s", strerror(errno));
            return 1;
        }
        for (int i = 0; i < ready; i++) {
            if (events[i].data.u64 == CONTROL_KEY) {
                if (hear_parent(self, spw_clock_us()) != 0)
                    return self->reported ? 0 : 1;   // the parent says why
                continue;
            }
            if (drain(self, (size_t) events[i].data.u64) != 0)
                return 1;
        }
    }
    return self->reported ? 0 : 1;
}

//  Child k of the run: simulates its edges, talking to the parent over
//  control. Returns its exit code.
static int child_main(const settings_t *set, size_t k, size_t first, size_t count, int control)
{
    if (set->procs > 1) {
        snprintf(me_text, sizeof me_text, PROGRAM "[%zu]", k);
        me = me_text;
    }
    signal(SIGINT, SIG_IGN);   // ^C reaches the parent too, which ends the run
    static fleet_t self;       // large: keep it off the stack
    self = (fleet_t) {
        .hub = set->hub, .first = first, .edge_count = count, .fleet_edges = set->edge_count,
        .service_count = set->service_count, .lenders = set->lenders,
        .borrowers = set->borrowers, .flip_s = set->flip_s, .seed = set->seed,
        .grid = set->grid, .control = control, .epoll = -1,
        .register_window = (set->register_window + set->procs - 1) / set->procs,
    };
    for (size_t s = 0; s < self.service_count; s++)
        snprintf(self.service_names[s], NAME_MAX_LEN, "svc-%zu", s);
    int rc = 1;
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = CONTROL_KEY };
    self.ctx = zmq_ctx_new();
    self.epoll = epoll_create1(EPOLL_CLOEXEC);
    if (!self.ctx || self.epoll < 0
        || zmq_ctx_set(self.ctx, ZMQ_MAX_SOCKETS, (int) (self.edge_count + SOCKETS_SPARE)) != 0
        || zmq_ctx_set(self.ctx, ZMQ_IO_THREADS, IO_THREADS) != 0 || make_fleet(&self) != 0
        || epoll_ctl(self.epoll, EPOLL_CTL_ADD, control, &event) != 0)
        say("cannot set up the fleet: %s", strerror(errno));
    else
        rc = run_child(&self);
    close_fleet(&self);
    if (self.epoll >= 0)
        close(self.epoll);
    if (self.ctx)
        zmq_ctx_term(self.ctx);
    return rc;
}

// -- The parent: the phases, over the children ---------------------------------

//  Forks the children, each with its part of the fleet. Returns 0, or -1
//  (said; those forked are the caller's to stop). A child never returns.
static int fork_children(coordinator_t *self)
{
    const settings_t *set = self->set;
    fflush(stdout);
    fflush(stderr);
    for (size_t k = 0; k < self->procs; k++) {
        child_t *child = &self->children[k];
        child->first = set->first_edge + set->edge_count * k / self->procs;
        child->count = set->edge_count * (k + 1) / self->procs
                     - (child->first - set->first_edge);
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
            say("cannot make a socketpair: %s", strerror(errno));
            return -1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            say("cannot fork child %zu: %s", k, strerror(errno));
            close(pair[0]);
            close(pair[1]);
            return -1;
        }
        if (pid == 0) {
            //  Only its own link: the parent's end of any is the parent's alone,
            //  so that each child sees EOF when the parent goes.
            close(pair[0]);
            for (size_t j = 0; j < k; j++)
                close(self->children[j].fd);
            exit(child_main(set, k, child->first, child->count, pair[1]));
        }
        close(pair[1]);
        child->pid = pid;
        child->fd = pair[0];
    }
    return 0;
}

//  Reaps child k (which has ended or is ending). Returns its wait status.
static int reap(child_t *child)
{
    int status = 0;
    while (child->pid > 0 && waitpid(child->pid, &status, 0) < 0 && errno == EINTR)
        ;
    child->pid = 0;
    return status;
}

//  Says how child k ended, if it failed. Returns 0 if it exited 0, else -1.
static int judge(const child_t *child, size_t k, int status)
{
    char edges[64];
    snprintf(edges, sizeof edges, "sim-%05zu to sim-%05zu", child->first + 1,
             child->first + child->count);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        say("child %zu (edges %s) exited with code %d%s", k, edges, WEXITSTATUS(status),
            child->reported ? " after its report" : "; the run is void");
    else if (WIFSIGNALED(status))
        say("child %zu (edges %s) was killed by signal %d (%s); the run is void", k, edges,
            WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        say("child %zu (edges %s) ended with status %d; the run is void", k, edges, status);
    return -1;
}

//  Stops every child still running (SIGTERM) and waits for each.
static void stop_children(coordinator_t *self)
{
    for (size_t k = 0; k < self->procs; k++)
        if (self->children[k].pid > 0)
            kill(self->children[k].pid, SIGTERM);
    for (size_t k = 0; k < self->procs; k++) {
        reap(&self->children[k]);
        if (self->children[k].fd >= 0)
            close(self->children[k].fd);
        self->children[k].fd = -1;
    }
}

//  Ends the run: closes every link (each child ends on its EOF) and waits
//  for every child. Returns 0 if all exited 0, else -1 (said).
static int end_children(coordinator_t *self)
{
    for (size_t k = 0; k < self->procs; k++) {
        if (self->children[k].fd >= 0)
            close(self->children[k].fd);
        self->children[k].fd = -1;
    }
    int rc = 0;
    for (size_t k = 0; k < self->procs; k++)
        if (self->children[k].pid > 0 && judge(&self->children[k], k, reap(&self->children[k])) != 0)
            rc = -1;
    return rc;
}

//  Says a byte to every child still linked (one that has gone shows as EOF).
static void tell_children(coordinator_t *self, char what)
{
    for (size_t k = 0; k < self->procs; k++)
        if (self->children[k].fd >= 0)
            (void) send(self->children[k].fd, &what, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

//  Takes one whole note of child's (a report's samples follow it in body).
//  Returns 0, or -1 if out of memory.
static int take_note(child_t *child, const note_t *note, const uint8_t *body)
{
    child->last = *note;
    if (note->kind == NOTE_REGISTERED) {
        child->registration = *note;
        child->registered = true;
    } else if (note->kind == NOTE_REPORT) {
        const uint32_t *samples = (const uint32_t *) (const void *) body;
        child->report = *note;
        child->register_us.used = child->match_us.used = 0;
        if (samples_append(&child->register_us, samples, note->register_samples) != 0
            || samples_append(&child->match_us, samples + note->register_samples,
                              note->match_samples) != 0)
            return -1;
        child->reported = true;
    }
    return 0;
}

//  Reads what child k sent and takes each whole note. Returns 0, or -1 when
//  the child has gone or cannot be heard (said; it is reaped).
static int hear_child(coordinator_t *self, size_t k)
{
    child_t *child = &self->children[k];
    if (child->in_size - child->in_used < RECEIVE_CHUNK) {
        size_t size = child->in_size * 2 > child->in_used + RECEIVE_CHUNK
                    ? child->in_size * 2 : child->in_used + RECEIVE_CHUNK;
        uint8_t *grown = realloc(child->in, size);
        if (!grown) {
            say("out of memory for child %zu's notes", k);
            return -1;
        }
        child->in = grown;
        child->in_size = size;
    }
    ssize_t got = recv(child->fd, child->in + child->in_used, child->in_size - child->in_used,
                       MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (got <= 0) {
        //  Its link closed: it has ended, before the run did.
        if (judge(child, k, reap(child)) == 0)
            say("child %zu (edges sim-%05zu to sim-%05zu) ended before the run did; the run "
                "is void", k, child->first + 1, child->first + child->count);
        return -1;
    }
    child->in_used += (size_t) got;
    while (child->in_used >= sizeof(note_t)) {
        note_t note;
        memcpy(&note, child->in, sizeof note);
        size_t whole = sizeof note;
        if (note.kind == NOTE_REPORT)
            whole += (note.register_samples + note.match_samples) * sizeof(uint32_t);
        if (child->in_used < whole)
            break;
        if (take_note(child, &note, child->in + sizeof note) != 0) {
            say("out of memory for child %zu's samples", k);
            return -1;
        }
        memmove(child->in, child->in + whole, child->in_used - whole);
        child->in_used -= whole;
    }
    return 0;
}

//  The usage of the process measured (--pid), if any.
static usage_t read_pid_usage(const settings_t *set)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", set->pid);
    return set->pid ? read_usage(pid) : (usage_t) { .ok = false };
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

//  True once every child has said its edges are registered.
static bool all_registered(const coordinator_t *self)
{
    for (size_t k = 0; k < self->procs; k++)
        if (!self->children[k].registered)
            return false;
    return true;
}

//  True once every child has sent its report.
static bool all_reported(const coordinator_t *self)
{
    for (size_t k = 0; k < self->procs; k++)
        if (!self->children[k].reported)
            return false;
    return true;
}

//  Whether the fleet registered (some edge did); false, said, if not.
static bool fleet_registered(const coordinator_t *self)
{
    size_t registered = 0, gone = 0;
    bool timed_out = false;
    for (size_t k = 0; k < self->procs; k++) {
        registered += self->children[k].registration.registered;
        gone += self->children[k].registration.gone;
        timed_out = timed_out || self->children[k].registration.timed_out;
    }
    if (!registered && gone == self->set->edge_count) {
        say("the hub refused every edge");
        return false;
    }
    if (!registered) {
        say("no edge registered with %s in %.0f s", self->set->hub, REGISTER_TIMEOUT_S);
        return false;
    }
    if (timed_out)
        say("%zu of %zu edges registered in %.0f s; measuring those", registered,
            self->set->edge_count, REGISTER_TIMEOUT_S);
    return true;
}

//  Adds every counter of b to a.
static void add_counts(counts_t *a, const counts_t *b)
{
    a->sent += b->sent;
    a->states += b->states;
    a->received += b->received;
    a->match += b->match;
    a->member += b->member;
    a->heartbeat += b->heartbeat;
    a->welcome += b->welcome;
    a->refused += b->refused;
    a->disconnect += b->disconnect;
    a->other += b->other;
    a->role_changes += b->role_changes;
}

//  One progress line for the whole fleet at second at of the run: the
//  phase, registrations, rates over the last second (from each child's
//  latest note).
static void progress(coordinator_t *self, int64_t at)
{
    counts_t fleet = { 0 };
    size_t registered = 0;
    for (size_t k = 0; k < self->procs; k++) {
        add_counts(&fleet, &self->children[k].last.counts);
        registered += self->children[k].last.registered;
    }
    const char *phase = !self->registered_at ? "registering"
                      : !self->window_at ? "settling"
                      : !self->window_end ? "measuring" : "after";
    fprintf(stderr,
            "hub bench: t=%.0fs %s registered=%zu/%zu states/s=%llu in/s=%llu out/s=%llu "
            "match/s=%llu\n",
            (double) (at - self->begin) / US_PER_S, phase, registered, self->set->edge_count,
            (unsigned long long) (fleet.states - self->last.states),
            (unsigned long long) (fleet.received - self->last.received),
            (unsigned long long) (fleet.sent - self->last.sent),
            (unsigned long long) (fleet.match - self->last.match));
    self->last = fleet;
}

//  The milliseconds the parent may wait (rounded up): until the settle's
//  end, the window's end, or the next progress line.
static int coordinator_wait_ms(const coordinator_t *self, int64_t now, int64_t next_progress)
{
    const settings_t *set = self->set;
    int64_t wake = next_progress;
    if (self->registered_at && !self->window_at) {
        int64_t at = self->registered_at + (int64_t) (set->settle_s * US_PER_S);
        wake = at < wake ? at : wake;
    }
    if (self->window_at && !self->window_end) {
        int64_t at = self->window_at + (int64_t) (set->duration_s * US_PER_S);
        wake = at < wake ? at : wake;
    }
    if (wake <= now)
        return 0;
    return (int) ((wake - now + (int64_t) US_PER_MS - 1) / (int64_t) US_PER_MS);
}

//  The window opens: every child at once, the hub's /proc read.
static void open_window(coordinator_t *self, int64_t now)
{
    tell_children(self, SAY_WINDOW_START);
    self->window_at = now;
    self->pid_start = read_pid_usage(self->set);
}

//  The window closes: every child at once, the hub's /proc read, the ready
//  file made.
static void close_window(coordinator_t *self, int64_t now)
{
    tell_children(self, SAY_WINDOW_END);
    self->window_end = now;
    self->pid_end = read_pid_usage(self->set);
    if (self->set->ready_file) {
        FILE *file = fopen(self->set->ready_file, "w");
        if (file)
            fclose(file);
    }
}

//  The run's phases, until every report is in and (holding) a stop signal
//  came or the hold ran out. Returns 0, or 1 on a failure (said).
static int coordinate(coordinator_t *self, volatile sig_atomic_t *stop)
{
    const settings_t *set = self->set;
    struct pollfd fds[PROCS_MAX];
    int64_t next_progress = self->begin + PROGRESS_US + PROGRESS_LAG_US;
    while (true) {
        int64_t now = spw_clock_us();
        if (*stop && (!self->window_end || *stop > 1)) {
            say("interrupted");
            return 1;
        }
        if (self->window_end && all_reported(self)
            && (set->hold_s <= 0 || *stop
                || now >= self->window_end + (int64_t) (set->hold_s * US_PER_S)))
            return 0;
        if (!self->registered_at && all_registered(self)) {
            if (!fleet_registered(self))
                return 1;
            self->registered_at = now;
        }
        if (self->registered_at && !self->window_at
            && now >= self->registered_at + (int64_t) (set->settle_s * US_PER_S))
            open_window(self, now);
        if (self->window_at && !self->window_end
            && now >= self->window_at + (int64_t) (set->duration_s * US_PER_S))
            close_window(self, now);
        if (self->window_end && now > self->window_end + UNANSWERED_US + REPORT_TIMEOUT_US)
            for (size_t k = 0; k < self->procs; k++)
                if (!self->children[k].reported) {
                    say("child %zu (edges sim-%05zu to sim-%05zu) sent no report in %.0f s",
                        k, self->children[k].first + 1,
                        self->children[k].first + self->children[k].count,
                        (UNANSWERED_US + REPORT_TIMEOUT_US) / US_PER_S);
                    return 1;
                }
        if (now >= next_progress) {
            while (next_progress + PROGRESS_US <= now)
                next_progress += PROGRESS_US;   // late: the seconds missed are skipped
            progress(self, next_progress - PROGRESS_LAG_US);
            next_progress += PROGRESS_US;
        }
        for (size_t k = 0; k < self->procs; k++)
            fds[k] = (struct pollfd) { .fd = self->children[k].fd, .events = POLLIN };
        int ready = poll(fds, self->procs, coordinator_wait_ms(self, now, next_progress));
        if (ready < 0 && errno != EINTR) {
            say("poll failed: %s", strerror(errno));
            return 1;
        }
        for (size_t k = 0; ready > 0 && k < self->procs; k++)
            if (fds[k].revents && hear_child(self, k) != 0)
                return 1;
    }
}

//  Prints the whole fleet's figures, one "name: value" a line: counters
//  and rates summed over the children, quantiles over all their samples.
static int report(coordinator_t *self)
{
    const settings_t *set = self->set;
    samples_t register_us = { 0 }, match_us = { 0 };
    counts_t a = { 0 }, b = { 0 }, total = { 0 };
    uint64_t unanswered = 0, already_matched = 0, withdrawn = 0;
    size_t registered = 0;
    int64_t begin = INT64_MAX, registered_at = 0;
    double bench_cpu = 0;
    bool bench_cpu_known = true;
    for (size_t k = 0; k < self->procs; k++) {
        const child_t *child = &self->children[k];
        const note_t *r = &child->report;
        registered += r->registered;
        if (child->registration.begin < begin)
            begin = child->registration.begin;
        if (child->registration.registered_at > registered_at)
            registered_at = child->registration.registered_at;
        add_counts(&a, &r->at_window);
        add_counts(&b, &r->at_end);
        add_counts(&total, &r->counts);
        unanswered += r->unanswered;
        already_matched += r->already_matched;
        withdrawn += r->withdrawn;
        double core = cpu_core(&r->self_start, &r->self_end);
        bench_cpu_known = bench_cpu_known && core >= 0;
        bench_cpu += core;
        if (samples_append(&register_us, child->register_us.us, child->register_us.used) != 0
            || samples_append(&match_us, child->match_us.us, child->match_us.used) != 0) {
            say("out of memory for the samples");
            free(register_us.us);
            free(match_us.us);
            return 1;
        }
    }
    qsort(register_us.us, register_us.used, sizeof(uint32_t), bench_compare_u32);
    qsort(match_us.us, match_us.used, sizeof(uint32_t), bench_compare_u32);
    double on_mean_s, off_mean_s;
    flip_means(set->service_count, set->lenders, set->borrowers, set->flip_s, &on_mean_s,
               &off_mean_s);
    double window_s = (double) (self->window_end - self->window_at) / US_PER_S;
#define PER_S(field) ((double) (b.field - a.field) / window_s)
    printf("edges: %zu\n", set->edge_count);
    printf("procs: %zu\n", self->procs);
    printf("registered: %zu\n", registered);
    printf("registration_s: %.3f\n", (double) (registered_at - begin) / US_PER_S);
    print_quantile("register_p50_ms", &register_us, P50);
    print_quantile("register_p99_ms", &register_us, P99);
    print_quantile("register_max_ms", &register_us, 1.0);
    printf("window_s: %.3f\n", window_s);
    printf("match_samples: %zu\n", match_us.used);
    print_quantile("match_p50_ms", &match_us, P50);
    print_quantile("match_p99_ms", &match_us, P99);
    print_quantile("match_max_ms", &match_us, 1.0);
    printf("unanswered: %llu\n", (unsigned long long) unanswered);
    printf("already_matched: %llu\n", (unsigned long long) already_matched);
    printf("withdrawn: %llu\n", (unsigned long long) withdrawn);
    printf("refused: %llu\n", (unsigned long long) total.refused);
    printf("reregistered: %llu\n", (unsigned long long) total.disconnect);
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
           on_mean_s > 0 ? (double) registered / set->flip_s : 0.0);
#undef PER_S
    if (set->pid) {
        print_cpu("pid_cpu_core", &self->pid_start, &self->pid_end);
        printf("pid_rss_start_kb: %ld\n", self->pid_start.rss_kb);
        printf("pid_rss_end_kb: %ld\n", self->pid_end.rss_kb);
    }
    if (bench_cpu_known)
        printf("bench_cpu_core: %.3f\n", bench_cpu);
    else
        printf("bench_cpu_core: unknown\n");
    free(register_us.us);
    free(match_us.us);
    return 0;
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
        //  Decoded, and each service it borrows answered with an empty
        //  MATCH: the least latency a hub can give an ask.
        self->states++;
        size_t offset = 0;
        spw_service_figures_t figures;
        while (spw_proto_next_figures(&in, &offset, &figures) == 1) {
            if (figures.role != SPW_ROLE_BORROWER)
                continue;
            char service[SPW_MAX_SERVICE_LEN + 1];
            size_t len = figures.service_len < SPW_MAX_SERVICE_LEN ? figures.service_len
                                                                   : SPW_MAX_SERVICE_LEN;
            memcpy(service, figures.service, len);
            service[len] = '\0';
            spw_msg_t out;
            spw_msg_init(&out);
            spw_msg_add_share(&out, &msg->frame[0]);
            if (spw_proto_put_match(&out, service, 0, NULL, 0) == 0)
                spw_msg_send(&out, self->router, ZMQ_DONTWAIT);
            else
                spw_msg_reset(&out);
        }
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

//  HEARTBEAT to the registered edges of the next slice of the set: as the
//  hub, in small bursts (spw_beat_slices) rather than one.
static void null_beat(null_hub_t *self, size_t *cursor)
{
    size_t slice = spw_beat_slice_slots(self->size, NULL_HEARTBEAT_MS);
    size_t end = *cursor + slice < self->size ? *cursor + slice : self->size;
    size_t i = *cursor;
    *cursor = end < self->size ? end : 0;
    for (; i < end; i++) {
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
    spw_beat_round_t round;
    spw_beat_round_start(&round, self.size, NULL_HEARTBEAT_MS, spw_clock_ms());
    size_t beat_cursor = 0;
    int rc = 0;
    while (!*stop) {
        int64_t now = spw_clock_ms();
        zmq_pollitem_t item = { self.router, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&item, 1, round.next > now ? (long) (round.next - now) : 0) < 0) {
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
        if (now >= round.next) {
            null_beat(&self, &beat_cursor);
            spw_beat_round_next(&round, self.size, NULL_HEARTBEAT_MS, beat_cursor == 0, now);
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
static int parse_args(settings_t *self, const char **serve_at, int argc, char **argv)
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
            ok = bench_parse_number(PROGRAM, flag, value, 1, EDGES_MAX, &number);
            self->edge_count = (size_t) number;
        } else if (strcmp(flag, "--services") == 0) {
            ok = bench_parse_number(PROGRAM, flag, value, 1, SERVICES_MAX, &number);
            self->service_count = (size_t) number;
        } else if (strcmp(flag, "--register-window") == 0) {
            ok = bench_parse_number(PROGRAM, flag, value, 0, EDGES_MAX, &number);
            self->register_window = (size_t) number;
        } else if (strcmp(flag, "--procs") == 0) {
            ok = bench_parse_number(PROGRAM, flag, value, 1, PROCS_MAX, &number);
            self->procs = (size_t) number;
        } else if (strcmp(flag, "--first") == 0) {
            ok = bench_parse_number(PROGRAM, flag, value, 0, EDGES_MAX, &number);
            self->first_edge = (size_t) number;
        } else if (strcmp(flag, "--pid") == 0) {
            ok = bench_parse_number(PROGRAM, flag, value, 1, 1e9, &number);
            self->pid = (long) number;
        } else if (strcmp(flag, "--lenders") == 0)
            ok = bench_parse_number(PROGRAM, flag, value, 0, 100, &lenders);
        else if (strcmp(flag, "--borrowers") == 0)
            ok = bench_parse_number(PROGRAM, flag, value, 0, 100, &borrowers);
        else if (strcmp(flag, "--flip-s") == 0)
            ok = bench_parse_number(PROGRAM, flag, value, 0, DURATION_MAX_S, &self->flip_s);
        else if (strcmp(flag, "--duration") == 0)
            ok = bench_parse_number(PROGRAM, flag, value, 0.1, DURATION_MAX_S, &self->duration_s);
        else if (strcmp(flag, "--settle") == 0)
            ok = bench_parse_number(PROGRAM, flag, value, 0, DURATION_MAX_S, &self->settle_s);
        else if (strcmp(flag, "--hold-s") == 0)
            ok = bench_parse_number(PROGRAM, flag, value, 0, HOLD_MAX_S, &self->hold_s);
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
    if (self->procs > self->edge_count) {
        fprintf(stderr, PROGRAM ": --procs %zu is more than --edges %zu\n", self->procs,
                self->edge_count);
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
    settings_t set = {
        .service_count = SERVICES_DEFAULT, .flip_s = FLIP_S, .duration_s = DURATION_S,
        .settle_s = SETTLE_S, .register_window = REGISTER_WINDOW, .procs = 1,
    };
    const char *serve_at = NULL;
    int rc = parse_args(&set, &serve_at, argc, argv);
    if (rc >= 0)
        return rc;
    if (serve_at)
        return serve(serve_at, spw_daemon_signals());

    //  Every child inherits the limit; the largest part needs the most.
    size_t most = (set.edge_count + set.procs - 1) / set.procs;
    char why[96];
    if (set.procs == 1)
        snprintf(why, sizeof why, "a fleet of %zu edges", set.edge_count);
    else
        snprintf(why, sizeof why, "a fleet of %zu edges over %zu processes (%zu each)",
                 set.edge_count, set.procs, most);
    if (raise_fd_limit((rlim_t) (FDS_PER_EDGE * most + FDS_SPARE), why) != 0)
        return 2;
    set.seed = spw_random_seed();
    coordinator_t self = { .set = &set, .procs = set.procs };
    self.children = calloc(set.procs, sizeof *self.children);
    if (!self.children) {
        say("out of memory");
        return 1;
    }
    for (size_t k = 0; k < set.procs; k++)
        self.children[k].fd = -1;
    self.begin = set.grid = spw_clock_us();
    //  No ZeroMQ context before this: the children make their own.
    rc = fork_children(&self) == 0 ? coordinate(&self, spw_daemon_signals()) : 1;
    if (rc != 0)
        stop_children(&self);
    else if (end_children(&self) != 0)
        rc = 1;
    else
        rc = report(&self);
    for (size_t k = 0; k < set.procs; k++) {
        free(self.children[k].in);
        free(self.children[k].register_us.us);
        free(self.children[k].match_us.us);
    }
    free(self.children);
    return rc;
}
