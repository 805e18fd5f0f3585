//  workers.c: bench-workers, many native workers in one process, for the
//  overflow benchmark (tests/bench/overflow).
//
//  `bench-workers [--service NAME] [--heartbeat-ms MS] BACKEND=COUNT ...`
//  connects COUNT workers to each edge backend. Each worker is its own
//  DEALER socket speaking the native worker protocol of docs/protocol.md
//  (READY, TASK, RESULT, HEARTBEAT, DISCONNECT) and runs one task at a time:
//  it holds a task for the service time the task's body asks for (task.h),
//  then answers ok with the body unchanged. The hold is a deadline per
//  worker, not a sleep or a thread: one zmq_poll loop watches every socket
//  and one microsecond timer (timer.h) armed for the earliest deadline or
//  heartbeat. A benchmark on two cores cannot afford a process or a thread
//  per worker, and a sleep per worker would serialise them.
//
//  Every heartbeat_ms each worker sends HEARTBEAT, busy or not, as the
//  protocol asks. An edge's DISCONNECT (it does not know the worker) makes
//  the worker reconnect with a new socket and say READY again, dropping the
//  task it held (the edge has given it to another). A task whose body is not
//  a benchmark task is answered task-error at once. SIGINT/SIGTERM: every
//  worker says DISCONNECT and the program exits 0.

#include "spillway.h"
#include "spw_daemon.h"
#include "task.h"
#include "timer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM              "bench-workers"
#define WORKERS_MAX          1024
#define HEARTBEAT_MS         1000
#define HEARTBEAT_MAX_MS     60000
#define US_PER_MS            1000
//  Messages taken from one socket per poll turn, so none starves the rest.
#define DRAIN_BATCH          16
//  How long a stopping worker's DISCONNECT may wait to leave.
#define GOODBYE_LINGER_MS    100

//  One worker: its socket, and the task it holds while busy.
typedef struct {
    const char *backend;
    void *socket;
    bool busy;
    uint64_t task_key;
    int64_t done_at_us;
    spw_msg_t body;     // the task's body frames, echoed in the RESULT
} worker_t;

//  The whole process.
typedef struct {
    void *ctx;
    const char *service;
    int heartbeat_ms;
    worker_t *workers;
    size_t count;
    bench_timer_t timer;
    uint64_t tasks_done;
    uint64_t tasks_refused;
    uint64_t reconnects;
} workers_t;

//  Prints the usage.
static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROGRAM " [--service NAME] [--heartbeat-ms MS] BACKEND=COUNT ...\n"
            "\n"
            "Connects COUNT native workers to each edge backend, all in this process.\n"
            "Each runs one task at a time, holds it for the service time its body asks\n"
            "for (tests/bench/task.h), then answers ok with the same body.\n"
            "\n"
            "  --service NAME     the service the workers offer (default 'default')\n"
            "  --heartbeat-ms MS  heartbeat interval, 1 to %d (default %d)\n"
            "\n"
            "At most %d workers in all. Runs until SIGINT/SIGTERM.\n",
            HEARTBEAT_MAX_MS, HEARTBEAT_MS, WORKERS_MAX);
}

//  Sends one message built by the caller on a worker's socket.
static void send_on(worker_t *worker, spw_msg_t *msg)
{
    if (spw_msg_send(msg, worker->socket, ZMQ_DONTWAIT) != 0 && errno != EAGAIN)
        fprintf(stderr, PROGRAM ": send to %s failed: %s\n", worker->backend,
                zmq_strerror(errno));
}

//  Opens a worker's socket, connects it and says READY. Returns 0 or -1.
static int worker_connect(workers_t *self, worker_t *worker)
{
    char err[SPW_ERROR_MAX];
    worker->socket = spw_socket_new(self->ctx, ZMQ_DEALER, NULL);
    if (!worker->socket || spw_socket_connect(worker->socket, worker->backend, err,
                                              sizeof err) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", worker->socket ? err : "cannot make a socket");
        spw_socket_destroy(&worker->socket);
        return -1;
    }
    spw_msg_t ready;
    spw_msg_init(&ready);
    spw_proto_put_ready(&ready, self->service);
    send_on(worker, &ready);
    return 0;
}

//  Answers the task a worker holds: ok, with its body.
static void worker_finish(workers_t *self, worker_t *worker)
{
    spw_msg_t result;
    spw_msg_init(&result);
    spw_proto_put_result(&result, worker->task_key, SPW_STATUS_OK);
    spw_msg_move_frames(&result, &worker->body, 0, worker->body.count);
    spw_msg_reset(&worker->body);  // its frames moved out: empty it for the next task
    send_on(worker, &result);
    worker->busy = false;
    self->tasks_done++;
}

//  Handles one message from a worker's edge.
static int worker_handle(workers_t *self, worker_t *worker, spw_msg_t *msg, int64_t now_us)
{
    spw_proto_t decoded;
    if (spw_proto_decode(msg, 0, &decoded, NULL) != 0)
        return 0;
    if (decoded.cmd == SPW_CMD_DISCONNECT) {
        spw_msg_reset(&worker->body);
        worker->busy = false;
        spw_socket_destroy(&worker->socket);
        self->reconnects++;
        return worker_connect(self, worker);
    }
    if (decoded.cmd != SPW_CMD_TASK)
        return 0;  // a heartbeat or ACCEPTED: a sign of life, nothing to do
    uint32_t service_us = 0;
    uint64_t request_id = 0;
    bool valid = decoded.body_count == 1
              && bench_task_decode(zmq_msg_data(&msg->frame[decoded.body_first]),
                                   zmq_msg_size(&msg->frame[decoded.body_first]),
                                   &service_us, &request_id);
    if (!valid || worker->busy) {
        //  Not a benchmark task, or a second task while busy (the edge
        //  sends one at a time): answered at once so nothing waits on it.
        spw_msg_t result;
        spw_msg_init(&result);
        spw_proto_put_result(&result, decoded.id, SPW_STATUS_TASK_ERROR);
        send_on(worker, &result);
        self->tasks_refused++;
        return 0;
    }
    worker->busy = true;
    worker->task_key = decoded.id;
    worker->done_at_us = now_us + service_us;
    spw_msg_move_frames(&worker->body, msg, decoded.body_first, decoded.body_count);
    return 0;
}

//  Takes up to DRAIN_BATCH waiting messages from a worker's socket.
static int worker_drain(workers_t *self, worker_t *worker, int64_t now_us)
{
    for (int i = 0; i < DRAIN_BATCH && worker->socket; i++) {
        spw_msg_t msg;
        spw_msg_init(&msg);
        if (spw_msg_recv(&msg, worker->socket, ZMQ_DONTWAIT) != 0) {
            if (errno == EAGAIN || errno == EINTR || errno == EMSGSIZE)
                return 0;
            fprintf(stderr, PROGRAM ": receive failed: %s\n", zmq_strerror(errno));
            return -1;
        }
        int rc = worker_handle(self, worker, &msg, now_us);
        spw_msg_reset(&msg);
        if (rc != 0)
            return -1;
    }
    return 0;
}

//  Parses BACKEND=COUNT into the worker table. Returns 0 or -1 (printed).
static int add_workers(workers_t *self, char *spec)
{
    char *eq = strrchr(spec, '=');
    char *end = NULL;
    long count = eq ? strtol(eq + 1, &end, 10) : 0;
    if (!eq || eq == spec || !end || *end || count < 1) {
        fprintf(stderr, PROGRAM ": expected BACKEND=COUNT, got '%s'\n", spec);
        return -1;
    }
    if ((size_t) count > WORKERS_MAX - self->count) {
        fprintf(stderr, PROGRAM ": more than %d workers\n", WORKERS_MAX);
        return -1;
    }
    *eq = '\0';
    for (long i = 0; i < count; i++) {
        worker_t *worker = &self->workers[self->count++];
        worker->backend = spec;
        spw_msg_init(&worker->body);
    }
    return 0;
}

//  Parses the command line. Returns -1 to go on, else the exit code.
static int parse_args(workers_t *self, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(arg, "--service") == 0 || strcmp(arg, "--heartbeat-ms") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, PROGRAM ": %s needs a value\n", arg);
                return 2;
            }
            const char *value = argv[++i];
            if (strcmp(arg, "--service") == 0) {
                if (!spw_service_name_valid(value, strlen(value))) {
                    fprintf(stderr, PROGRAM ": bad service name '%s'\n", value);
                    return 2;
                }
                self->service = value;
            } else {
                char *end = NULL;
                long ms = strtol(value, &end, 10);
                if (!*value || *end || ms < 1 || ms > HEARTBEAT_MAX_MS) {
                    fprintf(stderr, PROGRAM ": --heartbeat-ms must be 1 to %d, got '%s'\n",
                            HEARTBEAT_MAX_MS, value);
                    return 2;
                }
                self->heartbeat_ms = (int) ms;
            }
            continue;
        }
        if (arg[0] == '-') {
            fprintf(stderr, PROGRAM ": unknown argument '%s'\n", arg);
            return 2;
        }
        if (add_workers(self, argv[i]) != 0)
            return 2;
    }
    if (self->count == 0) {
        fprintf(stderr, PROGRAM ": no BACKEND=COUNT given (see --help)\n");
        return 2;
    }
    return -1;
}

//  The loop: tasks in, results out at their deadlines, heartbeats.
static int run(workers_t *self, volatile sig_atomic_t *stop)
{
    zmq_pollitem_t *items = calloc(self->count + 1, sizeof *items);
    if (!items)
        return 1;
    int64_t heartbeat_at = bench_timer_now_us() + (int64_t) self->heartbeat_ms * US_PER_MS;
    int rc = 0;
    while (!*stop && rc == 0) {
        int64_t wake_at = heartbeat_at;
        for (size_t i = 0; i < self->count; i++) {
            worker_t *worker = &self->workers[i];
            items[i].socket = worker->socket;
            items[i].fd = 0;
            items[i].events = ZMQ_POLLIN;
            items[i].revents = 0;
            if (worker->busy && worker->done_at_us < wake_at)
                wake_at = worker->done_at_us;
        }
        bench_timer_arm(&self->timer, wake_at);
        bench_timer_pollitem(&self->timer, &items[self->count]);
        if (zmq_poll(items, (int) self->count + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, PROGRAM ": poll failed: %s\n", zmq_strerror(errno));
            rc = 1;
            break;
        }
        if (items[self->count].revents & ZMQ_POLLIN)
            bench_timer_clear(&self->timer);
        int64_t now = bench_timer_now_us();
        for (size_t i = 0; i < self->count && rc == 0; i++)
            if (items[i].revents & ZMQ_POLLIN)
                rc = worker_drain(self, &self->workers[i], now) == 0 ? 0 : 1;
        now = bench_timer_now_us();
        for (size_t i = 0; i < self->count; i++)
            if (self->workers[i].busy && self->workers[i].done_at_us <= now)
                worker_finish(self, &self->workers[i]);
        if (now >= heartbeat_at) {
            for (size_t i = 0; i < self->count; i++) {
                spw_msg_t beat;
                spw_msg_init(&beat);
                spw_proto_put_heartbeat(&beat);
                send_on(&self->workers[i], &beat);
            }
            heartbeat_at = now + (int64_t) self->heartbeat_ms * US_PER_MS;
        }
    }
    free(items);
    return rc;
}

int main(int argc, char **argv)
{
    workers_t self = { .service = "default", .heartbeat_ms = HEARTBEAT_MS };
    self.workers = calloc(WORKERS_MAX, sizeof *self.workers);
    if (!self.workers)
        return 1;
    int rc = parse_args(&self, argc, argv);
    if (rc >= 0) {
        free(self.workers);
        return rc;
    }
    volatile sig_atomic_t *stop = spw_daemon_signals();
    self.ctx = zmq_ctx_new();
    rc = 0;
    if (bench_timer_open(&self.timer) != 0) {
        fprintf(stderr, PROGRAM ": cannot make a timer: %s\n", strerror(errno));
        rc = 1;
    }
    for (size_t i = 0; i < self.count && rc == 0; i++)
        if (worker_connect(&self, &self.workers[i]) != 0)
            rc = 1;
    if (rc == 0)
        rc = run(&self, stop);
    for (size_t i = 0; i < self.count; i++) {
        worker_t *worker = &self.workers[i];
        if (worker->socket) {
            spw_msg_t bye;
            spw_msg_init(&bye);
            spw_proto_put_disconnect(&bye);
            send_on(worker, &bye);
            int linger = GOODBYE_LINGER_MS;
            zmq_setsockopt(worker->socket, ZMQ_LINGER, &linger, sizeof linger);
        }
        spw_socket_destroy(&worker->socket);
        spw_msg_reset(&worker->body);
    }
    bench_timer_close(&self.timer);
    zmq_ctx_term(self.ctx);
    free(self.workers);
    return rc;
}
