//  bench.c: `spillway bench`, a load generator that prints one line a second.
//
//  N native clients (one spw_client_t, so one DEALER, each) are driven from
//  this one thread by one zmq_poll over their sockets. Each keeps up to W
//  tasks outstanding; with --rate the sends of all clients together are
//  paced by a credit that grows at R a second (capped, so that a stall is
//  not followed by a burst larger than the windows). Every task carries a
//  body unique to it (client and sequence number, then a letter pattern),
//  kept in the client's slot until its reply comes, so that every reply is
//  checked against what was sent: the same bytes, or with --expect-upper
//  the same bytes upper-cased (ASCII), or nothing with --no-check.
//
//  Once a second a separate client asks the edge's built-in spillway.stats
//  service, with spw_client_call and a short timeout (the only blocking
//  call here: the edge answers it itself, at once), for the service's
//  queue length, and one line is printed: replies done so far, the rate of
//  the last second, tasks in flight, the queue, the latency percentiles of
//  the last second's replies, the errors so far. Latencies go into two
//  bounded arrays allocated at the start, one for the second and one for the
//  whole run; past their capacity they become uniform samples (reservoir
//  sampling), so nothing is allocated per message and percentiles stay fair.
//
//  At the duration, sending stops and the replies still due are awaited up
//  to the task timeout plus a grace period (the edge answers "timeout" by
//  then); a task whose reply never comes counts as lost. SIGINT/SIGTERM
//  stop sending at once and wait at most BENCH_SIGNAL_DRAIN_MS (a second
//  signal: not at all). The summary line follows in every case; the exit
//  code is 0 only if every task sent was answered ok and matched.

#include "cli.h"

#include "spillway.h"
#include "spw_daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define COMMAND "bench"

#define BENCH_CLIENTS          4
#define BENCH_CLIENTS_MAX      256
#define BENCH_WINDOW           8
#define BENCH_WINDOW_MAX       1024
#define BENCH_RATE_MAX         10000000
#define BENCH_DURATION_S       10
#define BENCH_DURATION_MAX_S   86400
#define BENCH_SIZE             16
#define BENCH_SIZE_MAX         16777216
//  clients x window x size: the bodies kept for checking.
#define BENCH_BODIES_MAX_BYTES 268435456LL
#define BENCH_TIMEOUT_MS       10000
#define BENCH_TIMEOUT_MAX_MS   86400000
//  The wait beyond a task's timeout for the edge's own "timeout" reply.
#define BENCH_GRACE_MS         1000
//  Longest wait for tasks in flight after SIGINT/SIGTERM.
#define BENCH_SIGNAL_DRAIN_MS  1000
//  How long the stats question of each second may take.
#define BENCH_STATS_TIMEOUT_MS 250
//  Latencies kept per second and for the whole run (beyond: sampled).
#define BENCH_SECOND_SAMPLES   65536
#define BENCH_TOTAL_SAMPLES    1048576
#define BENCH_STATS_SERVICE    "spillway.stats"
#define BENCH_STATS_TEXT_MAX   8192
#define BENCH_TICK_US          1000000

//  Counts SIGINT/SIGTERM for the loop to see (spw_daemon_signals).
static volatile sig_atomic_t *stop_signals;

//  Prints the usage of bench.
void cli_bench_help(FILE *out)
{
    fprintf(out,
            "usage: spillway bench --edge EP[,EP...] [--service NAME] [--clients N]\n"
            "                      [--window W] [--rate R] [--duration S] [--size BYTES]\n"
            "                      [--timeout MS] [--expect-upper | --no-check] [--quiet]\n"
            "                      [--cert FILE --server-cert FILE]\n"
            "\n"
            "Sends tasks to an edge from N clients for S seconds, checks every reply,\n"
            "and prints one line a second:\n"
            "  t=3s done=2412 rate=804/s in-flight=32 queued=17 p50=4.1ms p99=12.9ms errors=0\n"
            "(done: replies ok and as expected; rate: those of the last second; queued:\n"
            "the service's queue at the edge, '?' if its stats did not answer; p50/p99:\n"
            "latency of the last second's replies), then a summary line 'total: ...'.\n"
            "\n"
            "  --edge EP,...    the edge's frontend, e.g. tcp://localhost:5555; with\n"
            "                   several (up to 16), a task whose edge dies or stops\n"
            "                   answering is sent to the next one\n"
            "  --service NAME   the service to load (default: 'default')\n"
            "  --clients N      clients, each its own connection, 1 to %d (default %d)\n"
            "  --window W       tasks outstanding per client, 1 to %d (default %d)\n"
            "  --rate R         tasks a second, all clients together, 0 to %d;\n"
            "                   0: as fast as the windows allow (default 0)\n"
            "  --duration S     seconds of sending, 1 to %d (default %d)\n"
            "  --size BYTES     body size, 0 to %d (default %d)\n"
            "  --timeout MS     each task's deadline, 1 to %d (default %d); after the\n"
            "                   duration the replies due are awaited that long + %d ms\n"
            "  --expect-upper   a reply must be the body upper-cased (a 'tr a-z A-Z' worker)\n"
            "  --no-check       do not compare reply bodies (a status other than ok is\n"
            "                   still an error)\n"
            "  --quiet          print the summary only\n"
            CLI_CURVE_HELP
            "\n"
            "SIGINT/SIGTERM stop sending; the tasks in flight get %d ms more, then the\n"
            "summary is printed.\n"
            "exit codes: 0 every task sent was answered ok (and matched), 1 otherwise,\n"
            "            2 bad arguments\n",
            BENCH_CLIENTS_MAX, BENCH_CLIENTS, BENCH_WINDOW_MAX, BENCH_WINDOW, BENCH_RATE_MAX,
            BENCH_DURATION_MAX_S, BENCH_DURATION_S, BENCH_SIZE_MAX, BENCH_SIZE,
            BENCH_TIMEOUT_MAX_MS, BENCH_TIMEOUT_MS, BENCH_GRACE_MS, BENCH_SIGNAL_DRAIN_MS);
}

typedef enum { CHECK_EXACT, CHECK_UPPER, CHECK_NONE } check_t;

//  What the user asked for.
typedef struct {
    const char *edge;
    const char *service;
    size_t clients;
    size_t window;
    int64_t rate;
    int64_t duration_s;
    size_t size;
    int64_t timeout_ms;
    check_t check;
    bool quiet;
    size_t edges;  // in the --edge list
    spw_curve_keys_t keys[SPW_CLIENT_MAX_EDGES];
    const spw_curve_keys_t *curve;  // NULL: plaintext, else keys
} bench_options_t;

//  One task outstanding: its request id, when it was sent, and its body.
typedef struct {
    uint64_t request_id;
    int64_t sent_us;
    bool busy;
    char *body;  // options.size bytes, inside bench_t.bodies
} slot_t;

//  One client and its window of slots.
typedef struct {
    spw_client_t *client;
    slot_t *slots;
    size_t outstanding;
    bool blocked;  // its last send found the queue full: wait for POLLOUT
    size_t first_item, item_count;  // its sockets in bench_t.items
} bench_client_t;

//  A bounded set of latencies: exact up to its capacity, a uniform sample
//  of everything added beyond it.
typedef struct {
    uint32_t *us;
    size_t capacity;
    size_t used;
    uint64_t seen;
} samples_t;

//  Why a task failed, beyond the reply statuses.
enum { FAIL_MISMATCH = SPW_STATUS_COUNT, FAIL_LOST, FAIL_KINDS };

static const char *fail_kind_name(int kind)
{
    if (kind == FAIL_MISMATCH)
        return "mismatch";
    if (kind == FAIL_LOST)
        return "lost";
    return spw_status_text((spw_status_t) kind);
}

//  The whole run.
typedef struct {
    bench_options_t options;
    bench_client_t *clients;
    zmq_pollitem_t *items;
    slot_t *slot_store;
    char *bodies;
    spw_client_t *stats_client;
    samples_t second;
    samples_t total;
    uint64_t rng;
    uint64_t sequence;
    uint64_t sent;
    uint64_t done;
    uint64_t errors;
    uint64_t failures[FAIL_KINDS];
    uint64_t done_at_last_tick;
    size_t in_flight;
} bench_t;

//  xorshift64: the reservoir's dice, no state beyond one word.
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

//  Adds one latency (reservoir sampling past the capacity).
static void samples_add(samples_t *samples, uint32_t us, uint64_t *rng)
{
    samples->seen++;
    if (samples->used < samples->capacity) {
        samples->us[samples->used++] = us;
        return;
    }
    uint64_t j = next_random(rng) % samples->seen;
    if (j < samples->capacity)
        samples->us[j] = us;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return (x > y) - (x < y);
}

//  Sorts the samples and writes "p50=..ms p99=..ms" (nearest rank) to out.
static void samples_format(samples_t *samples, char *out, size_t outlen)
{
    if (samples->used == 0) {
        snprintf(out, outlen, "p50=- p99=-");
        return;
    }
    qsort(samples->us, samples->used, sizeof *samples->us, compare_u32);
    double ms[2];
    const int percents[2] = { 50, 99 };
    for (int i = 0; i < 2; i++) {
        size_t rank = (samples->used * (size_t) percents[i] + 99) / 100;
        ms[i] = (double) samples->us[rank ? rank - 1 : 0] / 1000.0;
    }
    snprintf(out, outlen, "p50=%.*fms p99=%.*fms", ms[0] < 1 ? 2 : 1, ms[0],
             ms[1] < 1 ? 2 : 1, ms[1]);
}

//  Fills a slot's body with a tag unique to the task, then letters.
static void fill_body(bench_t *self, size_t client_index, slot_t *slot)
{
    size_t size = self->options.size;
    if (size == 0)
        return;
    char tag[48];
    int len = snprintf(tag, sizeof tag, "%zu.%llu.", client_index,
                       (unsigned long long) ++self->sequence);
    size_t n = (size_t) len < size ? (size_t) len : size;
    memcpy(slot->body, tag, n);
    for (size_t i = n; i < size; i++)
        slot->body[i] = (char) ('a' + i % 26);
}

//  True if the reply's body frames, end to end, are what the slot's body
//  should have become.
static bool body_matches(const bench_t *self, const slot_t *slot, const spw_reply_t *reply)
{
    size_t offset = 0, size = self->options.size;
    for (size_t i = 0; i < reply->body_count; i++) {
        zmq_msg_t *frame = (zmq_msg_t *) &reply->msg.frame[reply->body_first + i];
        const unsigned char *data = zmq_msg_data(frame);
        size_t len = zmq_msg_size(frame);
        if (len > size - offset)
            return false;
        if (self->options.check == CHECK_EXACT) {
            if (len && memcmp(data, slot->body + offset, len) != 0)
                return false;
        }
        else
            for (size_t k = 0; k < len; k++) {
                unsigned char c = (unsigned char) slot->body[offset + k];
                if (c >= 'a' && c <= 'z')
                    c = (unsigned char) (c - 'a' + 'A');
                if (data[k] != c)
                    return false;
            }
        offset += len;
    }
    return offset == size;
}

//  Counts one failed task.
static void count_failure(bench_t *self, int kind)
{
    self->errors++;
    self->failures[kind]++;
}

//  Frees a slot whose task has ended.
static void release_slot(bench_t *self, bench_client_t *client, slot_t *slot)
{
    slot->busy = false;
    client->outstanding--;
    self->in_flight--;
}

//  Records one reply: latency, status, body. Replies to unknown ids (tasks
//  already counted as lost) are ignored.
static void take_reply(bench_t *self, bench_client_t *client, const spw_reply_t *reply,
                       int64_t now_us)
{
    slot_t *slot = NULL;
    for (size_t i = 0; i < self->options.window; i++)
        if (client->slots[i].busy && client->slots[i].request_id == reply->request_id) {
            slot = &client->slots[i];
            break;
        }
    if (!slot)
        return;
    int64_t latency = now_us - slot->sent_us;
    uint32_t us = latency < 0 ? 0 : latency > UINT32_MAX ? UINT32_MAX : (uint32_t) latency;
    samples_add(&self->second, us, &self->rng);
    samples_add(&self->total, us, &self->rng);
    if ((unsigned) reply->status >= SPW_STATUS_COUNT)
        count_failure(self, SPW_STATUS_BAD_REQUEST);
    else if (reply->status != SPW_STATUS_OK)
        count_failure(self, (int) reply->status);
    else if (self->options.check != CHECK_NONE && !body_matches(self, slot, reply))
        count_failure(self, FAIL_MISMATCH);
    else
        self->done++;
    release_slot(self, client, slot);
}

//  Takes every reply waiting on a client's socket. Returns -1 if the
//  socket failed for another reason than "nothing more".
static int drain_client(bench_t *self, bench_client_t *client, spw_reply_t *reply)
{
    while (spw_client_recv(client->client, reply, 0) == 0) {
        take_reply(self, client, reply, spw_clock_us());
        spw_reply_reset(reply);
    }
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

//  Sends one task from client; returns 0, or -1 (errno EAGAIN: queue full).
static int send_task(bench_t *self, size_t client_index)
{
    bench_client_t *client = &self->clients[client_index];
    slot_t *slot = NULL;
    for (size_t i = 0; i < self->options.window; i++)
        if (!client->slots[i].busy) {
            slot = &client->slots[i];
            break;
        }
    if (!slot) {
        errno = EAGAIN;
        return -1;
    }
    fill_body(self, client_index, slot);
    spw_msg_t body;
    spw_msg_init(&body);
    if (spw_msg_add_mem(&body, slot->body, self->options.size) != 0) {
        spw_msg_reset(&body);
        errno = ENOMEM;
        return -1;
    }
    int64_t now_us = spw_clock_us();
    if (spw_client_send(client->client, self->options.service, &body,
                        (uint32_t) self->options.timeout_ms, &slot->request_id) != 0)
        return -1;
    slot->sent_us = now_us;
    slot->busy = true;
    client->outstanding++;
    self->in_flight++;
    self->sent++;
    return 0;
}

//  Counts as lost the tasks that are overdue by more than their timeout
//  and the grace period (the edge should have answered "timeout" by then).
static void expire_overdue(bench_t *self, int64_t now_us)
{
    int64_t limit_us = (self->options.timeout_ms + BENCH_GRACE_MS) * 1000;
    for (size_t c = 0; c < self->options.clients; c++) {
        bench_client_t *client = &self->clients[c];
        for (size_t i = 0; i < self->options.window; i++) {
            slot_t *slot = &client->slots[i];
            if (slot->busy && now_us - slot->sent_us > limit_us) {
                count_failure(self, FAIL_LOST);
                release_slot(self, client, slot);
            }
        }
    }
}

//  Finds "KEY=" among the space-separated tokens of line [start, end) and
//  returns its value's start, or NULL.
static const char *find_key(const char *start, const char *end, const char *key)
{
    size_t key_len = strlen(key);
    const char *p = start;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *token_end = p;
        while (token_end < end && *token_end != ' ')
            token_end++;
        if ((size_t) (token_end - p) > key_len && memcmp(p, key, key_len) == 0
            && p[key_len] == '=')
            return p + key_len + 1;
        p = token_end;
    }
    return NULL;
}

//  Asks the edge for its stats; returns the sum of the `queued` of the
//  lines of our service (0 if it has none), or -1 if it did not answer.
static long long ask_queued(bench_t *self)
{
    static const char empty[1] = "";
    const void *body[1] = { empty };
    size_t size[1] = { 0 };
    spw_reply_t reply;
    spw_reply_init(&reply);
    long long queued = -1;
    spw_status_t status = spw_client_call(self->stats_client, BENCH_STATS_SERVICE, body, size, 1,
                                          BENCH_STATS_TIMEOUT_MS, &reply);
    if (status == SPW_STATUS_OK && reply.body_count >= 1) {
        char text[BENCH_STATS_TEXT_MAX + 1];
        zmq_msg_t *frame = &reply.msg.frame[reply.body_first];
        size_t len = zmq_msg_size(frame);
        if (len > BENCH_STATS_TEXT_MAX)
            len = BENCH_STATS_TEXT_MAX;
        memcpy(text, zmq_msg_data(frame), len);
        text[len] = '\0';
        queued = 0;
        size_t service_len = strlen(self->options.service);
        for (char *line = text; *line;) {
            char *end = strchr(line, '\n');
            if (!end)
                end = line + strlen(line);
            const char *name = find_key(line, end, "service");
            if (name && (size_t) (end - name) >= service_len
                && memcmp(name, self->options.service, service_len) == 0
                && (name + service_len == end || name[service_len] == ' ')) {
                const char *value = find_key(line, end, "queued");
                if (value)
                    queued += strtoll(value, NULL, 10);
            }
            line = *end ? end + 1 : end;
        }
    }
    spw_reply_reset(&reply);
    return queued;
}

//  Prints the line of second t and starts the next second's samples.
static void print_tick(bench_t *self, int64_t t)
{
    long long queued = ask_queued(self);
    char percentiles[64];
    samples_format(&self->second, percentiles, sizeof percentiles);
    char queued_text[24] = "?";
    if (queued >= 0)
        snprintf(queued_text, sizeof queued_text, "%lld", queued);
    if (!self->options.quiet) {
        printf("t=%llds done=%llu rate=%llu/s in-flight=%zu queued=%s %s errors=%llu\n",
               (long long) t, (unsigned long long) self->done,
               (unsigned long long) (self->done - self->done_at_last_tick), self->in_flight,
               queued_text, percentiles, (unsigned long long) self->errors);
        fflush(stdout);
    }
    self->done_at_last_tick = self->done;
    self->second.used = 0;
    self->second.seen = 0;
}

//  Prints the summary line.
static void print_summary(bench_t *self, int64_t elapsed_us)
{
    char percentiles[64];
    samples_format(&self->total, percentiles, sizeof percentiles);
    printf("total: sent=%llu done=%llu errors=%llu", (unsigned long long) self->sent,
           (unsigned long long) self->done, (unsigned long long) self->errors);
    const char *sep = " (";
    for (int kind = 0; kind < FAIL_KINDS; kind++)
        if (self->failures[kind]) {
            printf("%s%s=%llu", sep, fail_kind_name(kind),
                   (unsigned long long) self->failures[kind]);
            sep = " ";
        }
    if (self->errors)
        putchar(')');
    double seconds = elapsed_us > 0 ? (double) elapsed_us / 1e6 : 1.0;
    printf(" rate=%.0f/s %s\n", (double) self->done / seconds, percentiles);
    fflush(stdout);
}

//  Allocates and connects everything; returns 0 or -1 after printing why.
static int bench_open(bench_t *self)
{
    const bench_options_t *o = &self->options;
    self->rng = 0x9E3779B97F4A7C15ULL;
    self->clients = calloc(o->clients, sizeof *self->clients);
    self->items = calloc(o->clients * 2 * SPW_CLIENT_MAX_EDGES, sizeof *self->items);
    self->slot_store = calloc(o->clients * o->window, sizeof *self->slot_store);
    self->bodies = malloc(o->clients * o->window * o->size + 1);
    self->second.capacity = BENCH_SECOND_SAMPLES;
    self->second.us = malloc(BENCH_SECOND_SAMPLES * sizeof *self->second.us);
    self->total.capacity = BENCH_TOTAL_SAMPLES;
    self->total.us = malloc(BENCH_TOTAL_SAMPLES * sizeof *self->total.us);
    if (!self->clients || !self->items || !self->slot_store || !self->bodies
        || !self->second.us || !self->total.us) {
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    for (size_t c = 0; c < o->clients; c++) {
        bench_client_t *client = &self->clients[c];
        client->slots = &self->slot_store[c * o->window];
        for (size_t i = 0; i < o->window; i++)
            client->slots[i].body = self->bodies + (c * o->window + i) * o->size;
        client->client = spw_client_new_secure(o->edge, o->curve);
        if (!client->client) {
            cli_error(COMMAND, "cannot connect client %zu to %s: %s", c + 1, o->edge,
                      zmq_strerror(errno));
            return -1;
        }
        client->first_item = c ? self->clients[c - 1].first_item + self->clients[c - 1].item_count
                               : 0;
        client->item_count = spw_client_pollitems(client->client, &self->items[client->first_item],
                                                  2 * SPW_CLIENT_MAX_EDGES, ZMQ_POLLIN);
    }
    self->stats_client = spw_client_new_secure(o->edge, o->curve);
    if (!self->stats_client) {
        cli_error(COMMAND, "cannot connect to %s: %s", o->edge, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

//  Closes the clients, then frees what they used.
static void bench_close(bench_t *self)
{
    if (self->clients)
        for (size_t c = 0; c < self->options.clients; c++)
            spw_client_destroy(&self->clients[c].client);
    spw_client_destroy(&self->stats_client);
    free(self->clients);
    free(self->items);
    free(self->slot_store);
    free(self->bodies);
    free(self->second.us);
    free(self->total.us);
}

//  Sends what the windows and the rate credit allow, starting with a
//  different client each time so that all get their share.
static int send_allowed(bench_t *self, double *credit, size_t *next_client)
{
    const bench_options_t *o = &self->options;
    bool progress = true;
    while (progress && (o->rate == 0 || *credit >= 1.0)) {
        progress = false;
        for (size_t k = 0; k < o->clients && (o->rate == 0 || *credit >= 1.0); k++) {
            size_t c = (*next_client + k) % o->clients;
            bench_client_t *client = &self->clients[c];
            if (client->blocked || client->outstanding >= o->window)
                continue;
            if (send_task(self, c) != 0) {
                if (errno != EAGAIN) {
                    cli_error(COMMAND, "cannot send a task: %s", zmq_strerror(errno));
                    return -1;
                }
                client->blocked = true;
                continue;
            }
            progress = true;
            if (o->rate)
                *credit -= 1.0;
        }
        *next_client = (*next_client + 1) % o->clients;
    }
    return 0;
}

//  The loop: send, receive, tick, until the run is over.
static int bench_run(bench_t *self)
{
    const bench_options_t *o = &self->options;
    int64_t start_us = spw_clock_us();
    int64_t stop_send_us = start_us + o->duration_s * 1000000;
    int64_t next_tick_us = start_us + BENCH_TICK_US;
    int64_t tick = 0;
    int64_t drain_deadline_us = -1;  // set when sending stops
    int64_t credit_at_us = start_us;
    double credit = o->rate ? 1.0 : 0.0;
    double credit_max = (double) (o->clients * o->window);
    size_t next_client = 0;
    int handled_signals = 0;
    spw_reply_t reply;
    spw_reply_init(&reply);
    int code = CLI_EXIT_OK;

    while (true) {
        int64_t now_us = spw_clock_us();
        if (*stop_signals > handled_signals) {
            handled_signals = *stop_signals;
            if (handled_signals > 1)
                break;
            int64_t limit = now_us + BENCH_SIGNAL_DRAIN_MS * 1000;
            if (drain_deadline_us < 0 || limit < drain_deadline_us)
                drain_deadline_us = limit;
        }
        if (drain_deadline_us < 0 && now_us >= stop_send_us)
            drain_deadline_us = now_us + (o->timeout_ms + BENCH_GRACE_MS) * 1000;
        //  The second's line comes first, so that the last one is printed too.
        if (now_us >= next_tick_us) {
            expire_overdue(self, now_us);
            print_tick(self, ++tick);
            next_tick_us += BENCH_TICK_US;
            if (next_tick_us <= spw_clock_us())  // a stall: skip, do not print a burst
                next_tick_us = spw_clock_us() + BENCH_TICK_US;
            continue;
        }
        bool sending = drain_deadline_us < 0;
        if (!sending && (self->in_flight == 0 || now_us >= drain_deadline_us))
            break;
        if (sending) {
            if (o->rate) {
                credit += (double) o->rate * (double) (now_us - credit_at_us) / 1e6;
                credit_at_us = now_us;
                if (credit > credit_max)
                    credit = credit_max;
            }
            if (send_allowed(self, &credit, &next_client) != 0) {
                code = CLI_EXIT_ERROR;
                break;
            }
        }

        //  Wait for replies, room, the next second, the next credit or the end.
        int64_t wake_us = next_tick_us;
        if (sending && stop_send_us < wake_us)
            wake_us = stop_send_us;
        if (!sending && drain_deadline_us < wake_us)
            wake_us = drain_deadline_us;
        if (sending && o->rate && credit < 1.0) {
            int64_t credit_us = now_us + (int64_t) ((1.0 - credit) * 1e6 / (double) o->rate);
            if (credit_us < wake_us)
                wake_us = credit_us;
        }
        long timeout_ms = (long) ((wake_us - spw_clock_us() + 999) / 1000);
        if (timeout_ms < 0)
            timeout_ms = 0;
        size_t items = 0;
        for (size_t c = 0; c < o->clients; c++) {
            bench_client_t *client = &self->clients[c];
            short events = (short) (ZMQ_POLLIN | (client->blocked && sending ? ZMQ_POLLOUT : 0));
            items += spw_client_pollitems(client->client, &self->items[client->first_item],
                                          client->item_count, events);
        }
        int ready = zmq_poll(self->items, (int) items, timeout_ms);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            cli_error(COMMAND, "poll failed: %s", zmq_strerror(errno));
            code = CLI_EXIT_ERROR;
            break;
        }
        for (size_t c = 0; ready > 0 && c < o->clients; c++) {
            bench_client_t *client = &self->clients[c];
            short revents = 0;
            for (size_t i = 0; i < client->item_count; i++)
                revents |= self->items[client->first_item + i].revents;
            if (revents & ZMQ_POLLOUT)
                client->blocked = false;
            if ((revents & ZMQ_POLLIN) && drain_client(self, client, &reply) != 0) {
                cli_error(COMMAND, "cannot receive: %s", zmq_strerror(errno));
                code = CLI_EXIT_ERROR;
                break;
            }
        }
        if (code != CLI_EXIT_OK)
            break;
    }
    spw_reply_reset(&reply);
    //  What is still out will never be counted: it is lost.
    for (size_t lost = self->in_flight; lost > 0; lost--)
        count_failure(self, FAIL_LOST);
    print_summary(self, spw_clock_us() - start_us);
    if (code == CLI_EXIT_OK && (self->errors > 0 || self->done != self->sent))
        code = CLI_EXIT_ERROR;
    return code;
}

enum {
    FLAG_EDGE,
    FLAG_SERVICE,
    FLAG_CLIENTS,
    FLAG_WINDOW,
    FLAG_RATE,
    FLAG_DURATION,
    FLAG_SIZE,
    FLAG_TIMEOUT,
    FLAG_EXPECT_UPPER,
    FLAG_NO_CHECK,
    FLAG_QUIET,
    FLAG_CERT,
    FLAG_SERVER_CERT,
    FLAG_COUNT_
};

//  Reads an optional integer flag into *out; returns -1 after printing why.
static int int_flag(const cli_flag_t *flag, int64_t min, int64_t max, int64_t *out)
{
    return flag->value ? cli_int(COMMAND, flag->name, flag->value, min, max, out) : 0;
}

//  Runs `spillway bench`; returns the exit code.
int cli_bench(int argc, char **argv)
{
    cli_flag_t flags[FLAG_COUNT_] = {
        [FLAG_EDGE] = { .name = "--edge", .has_value = true },
        [FLAG_SERVICE] = { .name = "--service", .has_value = true },
        [FLAG_CLIENTS] = { .name = "--clients", .has_value = true },
        [FLAG_WINDOW] = { .name = "--window", .has_value = true },
        [FLAG_RATE] = { .name = "--rate", .has_value = true },
        [FLAG_DURATION] = { .name = "--duration", .has_value = true },
        [FLAG_SIZE] = { .name = "--size", .has_value = true },
        [FLAG_TIMEOUT] = { .name = "--timeout", .has_value = true },
        [FLAG_EXPECT_UPPER] = { .name = "--expect-upper" },
        [FLAG_NO_CHECK] = { .name = "--no-check" },
        [FLAG_QUIET] = { .name = "--quiet" },
        [FLAG_CERT] = { .name = "--cert", .has_value = true },
        [FLAG_SERVER_CERT] = { .name = "--server-cert", .has_value = true },
    };
    const char *positional[1];
    size_t positional_count;
    switch (cli_parse(COMMAND, argc, argv, flags, FLAG_COUNT_, positional, 0,
                      &positional_count)) {
    case CLI_PARSE_HELP:
        cli_bench_help(stdout);
        return CLI_EXIT_OK;
    case CLI_PARSE_ERROR:
        return CLI_EXIT_USAGE;
    case CLI_PARSE_OK:
        break;
    }
    bench_t bench;
    memset(&bench, 0, sizeof bench);
    bench_options_t *o = &bench.options;
    o->edge = flags[FLAG_EDGE].value;
    o->service = flags[FLAG_SERVICE].value ? flags[FLAG_SERVICE].value : "default";
    int64_t clients = BENCH_CLIENTS, window = BENCH_WINDOW, size = BENCH_SIZE;
    o->rate = 0;
    o->duration_s = BENCH_DURATION_S;
    o->timeout_ms = BENCH_TIMEOUT_MS;
    if (!o->edge)
        return cli_usage_error(COMMAND, "missing --edge");
    if (cli_endpoints(COMMAND, "--edge", o->edge, &o->edges) != 0
        || cli_service(COMMAND, "--service", o->service) != 0
        || int_flag(&flags[FLAG_CLIENTS], 1, BENCH_CLIENTS_MAX, &clients) != 0
        || int_flag(&flags[FLAG_WINDOW], 1, BENCH_WINDOW_MAX, &window) != 0
        || int_flag(&flags[FLAG_RATE], 0, BENCH_RATE_MAX, &o->rate) != 0
        || int_flag(&flags[FLAG_DURATION], 1, BENCH_DURATION_MAX_S, &o->duration_s) != 0
        || int_flag(&flags[FLAG_SIZE], 0, BENCH_SIZE_MAX, &size) != 0
        || int_flag(&flags[FLAG_TIMEOUT], 1, BENCH_TIMEOUT_MAX_MS, &o->timeout_ms) != 0)
        return CLI_EXIT_USAGE;
    if (flags[FLAG_EXPECT_UPPER].seen && flags[FLAG_NO_CHECK].seen)
        return cli_usage_error(COMMAND, "--expect-upper and --no-check exclude each other");
    if (clients * window * size > BENCH_BODIES_MAX_BYTES)
        return cli_usage_error(COMMAND, "--clients x --window x --size must be at most %lld "
                               "bytes, got %lld", BENCH_BODIES_MAX_BYTES,
                               (long long) (clients * window * size));
    o->clients = (size_t) clients;
    o->window = (size_t) window;
    o->size = (size_t) size;
    o->check = flags[FLAG_EXPECT_UPPER].seen ? CHECK_UPPER
               : flags[FLAG_NO_CHECK].seen   ? CHECK_NONE
                                             : CHECK_EXACT;
    o->quiet = flags[FLAG_QUIET].seen;
    int keys_code = cli_curve_keys(COMMAND, flags[FLAG_CERT].value,
                                   flags[FLAG_SERVER_CERT].value, o->edges, o->keys, &o->curve);
    if (keys_code != CLI_EXIT_OK)
        return keys_code;

    stop_signals = spw_daemon_signals();
    int code = CLI_EXIT_ERROR;
    if (bench_open(&bench) == 0) {
        if (!o->quiet) {
            char rate[24] = "max";
            if (o->rate)
                snprintf(rate, sizeof rate, "%lld/s", (long long) o->rate);
            printf("bench: edge=%s service=%s clients=%zu window=%zu rate=%s "
                   "duration=%llds size=%zu timeout=%lldms check=%s\n",
                   o->edge, o->service, o->clients, o->window, rate,
                   (long long) o->duration_s, o->size,
                   (long long) o->timeout_ms,
                   o->check == CHECK_EXACT ? "exact" : o->check == CHECK_UPPER ? "upper" : "none");
            fflush(stdout);
        }
        code = bench_run(&bench);
    }
    bench_close(&bench);
    return code;
}
