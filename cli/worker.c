//  worker.c: `spillway worker`, a native worker made of a shell command.
//
//  With --echo each task is answered with its own body frames. With --exec
//  each task runs `/bin/sh -c CMD` in a process group of its own, with the
//  task's body frames (concatenated) on its standard input and its standard
//  output as the reply: one frame, at most WORKER_OUTPUT_MAX bytes. Exit
//  status 0 means ok; anything else is a task-error whose text says how the
//  command ended and quotes the first line of its standard error.
//
//  The worker stays responsive while a command runs: one poll() over the
//  command's three pipes, all non-blocking, with the next heartbeat as its
//  timeout, so heartbeats go out on time, stdin is written only as fast as
//  the command reads it (no deadlock with a command that writes before it
//  has read everything), and the exit is reaped with WNOHANG, never waited
//  for. SIGINT and SIGTERM set a flag (their handlers have no SA_RESTART, so
//  any wait returns EINTR at once); a running command's process group is
//  killed, its task is left unanswered for the edge to re-route, and the
//  worker says DISCONNECT and exits 0.

#include "cli.h"

#include "spillway.h"
#include "spw_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define COMMAND "worker"

#define WORKER_HEARTBEAT_MS     1000
#define WORKER_HEARTBEAT_MIN_MS 10
#define WORKER_HEARTBEAT_MAX_MS 60000
//  Largest standard output a command may produce for one reply.
#define WORKER_OUTPUT_MAX       (16 * 1024 * 1024)
//  Bytes of a command's standard error kept for the error text.
#define WORKER_STDERR_KEPT      1024
//  Reaping a command that has closed its pipes: first and longest pause.
#define WORKER_REAP_FIRST_MS    1
#define WORKER_REAP_MAX_MS      50
#define WORKER_READ_CHUNK       65536

extern char **environ;

//  Counts SIGINT/SIGTERM for the loops to see (spw_daemon_signals).
static volatile sig_atomic_t *stop_signal;

//  Prints the usage of worker.
void cli_worker_help(FILE *out)
{
    fprintf(out,
            "usage: spillway worker --edge ENDPOINT [--service NAME]\n"
            "                       (--exec 'CMD' | --echo) [--slots N] [--heartbeat-ms MS]\n"
            "                       [--cert FILE --server-cert FILE]\n"
            "\n"
            "Serves one service at an edge until SIGINT/SIGTERM.\n"
            "\n"
            "  --edge ENDPOINT    the edge's backend, e.g. tcp://localhost:5556\n"
            "  --service NAME     the service offered (default: 'default')\n"
            "  --exec 'CMD'       run /bin/sh -c CMD for each task: the task's body on\n"
            "                     its standard input, its standard output (at most %d\n"
            "                     bytes) is the reply; a non-zero exit is a task-error\n"
            "  --echo             answer each task with its own body\n"
            "  --slots N          tasks the edge may send before the first is answered,\n"
            "                     1 to %d (default 1); with --exec, up to N commands at once\n"
            "  --heartbeat-ms MS  heartbeat interval with the edge, %d to %d (default %d)\n"
            CLI_CURVE_HELP,
            WORKER_OUTPUT_MAX, SPW_MAX_SLOTS, WORKER_HEARTBEAT_MIN_MS, WORKER_HEARTBEAT_MAX_MS,
            WORKER_HEARTBEAT_MS);
}

//  Makes sure fds 0-2 are open, so that pipes never take their numbers.
static void guard_standard_fds(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            int null_fd = open("/dev/null", O_RDWR);
            if (null_fd > 2)
                close(null_fd);
        }
}

//  Installs the stop handlers, without SA_RESTART, and ignores SIGPIPE: a
//  command that exits without reading its input must not kill the worker
//  (commands get the default action back when they start).
static int install_stop_handlers(void)
{
    stop_signal = spw_daemon_signals();
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &action, NULL);
}

//  A running command and what it has said so far.
typedef struct {
    pid_t pid;
    int stdin_fd, stdout_fd, stderr_fd;  // -1 once closed
    size_t frame, offset;                // next input byte: task frame, offset in it
    char *output;
    size_t output_len, output_cap;
    bool output_overflow;
    char error[WORKER_STDERR_KEPT + 1];
    size_t error_len;
    int wait_status;
    bool exited;
} child_t;

//  Closes *fd if open.
static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

//  Starts /bin/sh -c cmd with its three pipes; 0, or an errno value.
static int child_start(child_t *child, const char *cmd)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        int saved = errno;
        close_fd(&in[0]), close_fd(&in[1]), close_fd(&out[0]), close_fd(&out[1]);
        close_fd(&err[0]), close_fd(&err[1]);
        return saved;
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawnattr_init(&attr);
    sigset_t defaults, none;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
                                    | POSIX_SPAWN_SETPGROUP);
    char *argv[] = { "sh", "-c", (char *) cmd, NULL };
    int rc = posix_spawn(&child->pid, "/bin/sh", &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close_fd(&in[0]), close_fd(&out[1]), close_fd(&err[1]);
    if (rc != 0) {
        close_fd(&in[1]), close_fd(&out[0]), close_fd(&err[0]);
        return rc;
    }
    child->stdin_fd = in[1];
    child->stdout_fd = out[0];
    child->stderr_fd = err[0];
    fcntl(child->stdin_fd, F_SETFL, O_NONBLOCK);
    fcntl(child->stdout_fd, F_SETFL, O_NONBLOCK);
    fcntl(child->stderr_fd, F_SETFL, O_NONBLOCK);
    return 0;
}

//  Writes as much of the task's body as the pipe takes now; closes stdin
//  when all is written or the command stopped reading.
static void child_feed(child_t *child, spw_worker_task_t *task)
{
    while (child->frame < task->body_count) {
        zmq_msg_t *frame = &task->msg.frame[task->body_first + child->frame];
        size_t size = zmq_msg_size(frame);
        if (child->offset >= size) {
            child->frame++;
            child->offset = 0;
            continue;
        }
        ssize_t n = write(child->stdin_fd, (char *) zmq_msg_data(frame) + child->offset,
                          size - child->offset);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            break;  // EPIPE: the command will not read the rest
        }
        child->offset += (size_t) n;
    }
    close_fd(&child->stdin_fd);
}

//  Reads what the command wrote to standard output, up to the cap.
static void child_read_output(child_t *child)
{
    while (true) {
        if (child->output_len == child->output_cap) {
            if (child->output_cap > WORKER_OUTPUT_MAX) {
                child->output_overflow = true;
                close_fd(&child->stdout_fd);
                return;
            }
            size_t cap = child->output_cap ? child->output_cap * 2 : WORKER_READ_CHUNK;
            if (cap > (size_t) WORKER_OUTPUT_MAX + 1)
                cap = (size_t) WORKER_OUTPUT_MAX + 1;
            char *grown = realloc(child->output, cap);
            if (!grown) {
                child->output_overflow = true;
                close_fd(&child->stdout_fd);
                return;
            }
            child->output = grown;
            child->output_cap = cap;
        }
        ssize_t n = read(child->stdout_fd, child->output + child->output_len,
                         child->output_cap - child->output_len);
        if (n > 0) {
            child->output_len += (size_t) n;
            if (child->output_len > WORKER_OUTPUT_MAX) {
                child->output_overflow = true;
                close_fd(&child->stdout_fd);
                return;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        close_fd(&child->stdout_fd);
        return;
    }
}

//  Reads standard error, keeping its first bytes for the error text.
static void child_read_error(child_t *child)
{
    char scratch[4096];
    while (true) {
        char *into = scratch;
        size_t room = sizeof scratch;
        if (child->error_len < WORKER_STDERR_KEPT) {
            into = child->error + child->error_len;
            room = WORKER_STDERR_KEPT - child->error_len;
        }
        ssize_t n = read(child->stderr_fd, into, room);
        if (n > 0) {
            if (into != scratch)
                child->error_len += (size_t) n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        close_fd(&child->stderr_fd);
        return;
    }
}

//  Kills the command's process group and reaps it.
static void child_kill(child_t *child)
{
    if (child->exited)
        return;
    kill(-child->pid, SIGKILL);
    while (waitpid(child->pid, &child->wait_status, 0) < 0 && errno == EINTR)
        ;
    child->exited = true;
}

//  Closes the pipes and frees the output.
static void child_release(child_t *child)
{
    close_fd(&child->stdin_fd);
    close_fd(&child->stdout_fd);
    close_fd(&child->stderr_fd);
    free(child->output);
    child->output = NULL;
}

//  Runs the command until it exits, heartbeating meanwhile. Returns 0, or
//  -1 if a stop signal came (the command is then killed).
static int child_run(child_t *child, spw_worker_t *worker, spw_worker_task_t *task,
                     int heartbeat_ms)
{
    int64_t heartbeat_at = spw_clock_ms() + heartbeat_ms;
    int reap_pause_ms = WORKER_REAP_FIRST_MS;
    child_feed(child, task);
    while (!child->exited) {
        if (*stop_signal) {
            child_kill(child);
            return -1;
        }
        if (child->output_overflow) {
            child_kill(child);
            return 0;
        }
        int64_t now = spw_clock_ms();
        if (now >= heartbeat_at) {
            spw_worker_heartbeat(worker);
            heartbeat_at = now + heartbeat_ms;
        }
        int timeout = (int) (heartbeat_at - now);
        if (child->stdout_fd < 0 && child->stderr_fd < 0) {
            pid_t done = waitpid(child->pid, &child->wait_status, WNOHANG);
            if (done == child->pid || (done < 0 && errno == ECHILD)) {
                child->exited = true;
                break;
            }
            if (reap_pause_ms < timeout)
                timeout = reap_pause_ms;
            if (reap_pause_ms < WORKER_REAP_MAX_MS)
                reap_pause_ms *= 2;
        }
        struct pollfd fds[3];
        nfds_t count = 0;
        int in_at = -1, out_at = -1, err_at = -1;
        if (child->stdin_fd >= 0) {
            in_at = (int) count;
            fds[count++] = (struct pollfd) { child->stdin_fd, POLLOUT, 0 };
        }
        if (child->stdout_fd >= 0) {
            out_at = (int) count;
            fds[count++] = (struct pollfd) { child->stdout_fd, POLLIN, 0 };
        }
        if (child->stderr_fd >= 0) {
            err_at = (int) count;
            fds[count++] = (struct pollfd) { child->stderr_fd, POLLIN, 0 };
        }
        int rc = poll(fds, count, timeout > 0 ? timeout : 0);
        if (rc <= 0)
            continue;  // a timeout, or EINTR: the loop checks the stop flag
        if (in_at >= 0 && fds[in_at].revents)
            child_feed(child, task);
        if (out_at >= 0 && fds[out_at].revents)
            child_read_output(child);
        if (err_at >= 0 && fds[err_at].revents)
            child_read_error(child);
    }
    return 0;
}

//  Writes into text how the command ended, with its first stderr line.
static void describe_failure(const child_t *child, char *text, size_t size)
{
    int n;
    if (child->output_overflow)
        n = snprintf(text, size, "command output exceeds %d bytes", WORKER_OUTPUT_MAX);
    else if (WIFEXITED(child->wait_status))
        n = snprintf(text, size, "command exited with status %d",
                     WEXITSTATUS(child->wait_status));
    else if (WIFSIGNALED(child->wait_status))
        n = snprintf(text, size, "command killed by signal %d (%s)",
                     WTERMSIG(child->wait_status), strsignal(WTERMSIG(child->wait_status)));
    else
        n = snprintf(text, size, "command ended abnormally");
    size_t line = 0;
    while (line < child->error_len && child->error[line] != '\n')
        line++;
    if (line > 0 && n > 0 && (size_t) n < size)
        snprintf(text + n, size - (size_t) n, ": %.*s", (int) line, child->error);
}

//  Frees an output buffer once libzmq has sent it.
static void free_output(void *data, void *hint)
{
    (void) hint;
    free(data);
}

//  Replaces characters a log value cannot hold.
static void make_loggable(char *text)
{
    for (; *text; text++)
        if (*text == '"' || (unsigned char) *text < 0x20)
            *text = '\'';
}

//  Answers task with what its command said (its output, or why it failed),
//  and releases the command's pipes and output.
static void answer_child(spw_worker_t *worker, child_t *child, spw_worker_task_t *task,
                         int64_t started)
{
    spw_msg_t body;
    spw_msg_init(&body);
    uint64_t key = task->key;
    bool ok = !child->output_overflow && WIFEXITED(child->wait_status)
           && WEXITSTATUS(child->wait_status) == 0;
    if (ok) {
        zmq_msg_t frame;
        if (child->output_len > 0
            && zmq_msg_init_data(&frame, child->output, child->output_len, free_output,
                                 NULL) == 0) {
            child->output = NULL;  // libzmq owns it now
            spw_msg_add_move(&body, &frame);
        }
        else
            spw_msg_add_mem(&body, "", 0);
        spw_log(SPW_LOG_DEBUG, "task_done", "key=%llu ms=%lld", (unsigned long long) key,
                (long long) (spw_clock_ms() - started));
        spw_worker_reply(worker, task, SPW_STATUS_OK, &body);
    }
    else {
        char text[WORKER_STDERR_KEPT + 128];
        describe_failure(child, text, sizeof text);
        spw_msg_add_mem(&body, text, strlen(text));
        make_loggable(text);
        spw_log(SPW_LOG_INFO, "task_failed", "key=%llu reason=\"%s\"",
                (unsigned long long) key, text);
        spw_worker_reply(worker, task, SPW_STATUS_TASK_ERROR, &body);
    }
    child_release(child);
}

//  Runs cmd for one task and answers it. Returns 0, or -1 if stopped.
//  Answers task task-error: its command could not start (errno value rc).
static void answer_unstarted(spw_worker_t *worker, spw_worker_task_t *task, int rc)
{
    char text[128];
    spw_msg_t body;
    spw_msg_init(&body);
    snprintf(text, sizeof text, "cannot run /bin/sh: %s", strerror(rc));
    spw_msg_add_mem(&body, text, strlen(text));
    spw_log(SPW_LOG_WARNING, "task_failed", "key=%llu reason=\"%s\"",
            (unsigned long long) task->key, text);
    spw_worker_reply(worker, task, SPW_STATUS_TASK_ERROR, &body);
}

static int run_exec(spw_worker_t *worker, spw_worker_task_t *task, const char *cmd,
                    int heartbeat_ms)
{
    child_t child = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
    uint64_t key = task->key;
    int64_t started = spw_clock_ms();
    int rc = child_start(&child, cmd);
    if (rc != 0) {
        answer_unstarted(worker, task, rc);
        return 0;
    }
    if (child_run(&child, worker, task, heartbeat_ms) != 0) {
        spw_log(SPW_LOG_INFO, "task_abandoned", "key=%llu", (unsigned long long) key);
        child_release(&child);
        spw_worker_task_reset(task);
        return -1;
    }
    answer_child(worker, &child, task, started);
    return 0;
}

//  One of the commands serve_exec runs at once, with the task it serves.
typedef struct {
    bool used;
    child_t child;
    spw_worker_task_t task;
    int64_t started;
} job_t;

//  The pipes of the jobs, and the worker's socket when a slot is free, in
//  one poll set; which job and pipe each entry is.
typedef struct {
    zmq_pollitem_t items[3 * SPW_MAX_SLOTS + 1];
    job_t *job[3 * SPW_MAX_SLOTS + 1];
    int *fd[3 * SPW_MAX_SLOTS + 1];
    int count;
} poll_set_t;

static void poll_add(poll_set_t *set, job_t *job, int *fd, short events)
{
    if (*fd < 0)
        return;
    set->items[set->count] = (zmq_pollitem_t) { NULL, *fd, events, 0 };
    set->job[set->count] = job;
    set->fd[set->count++] = fd;
}

//  Takes tasks while a slot is free (waiting for one only when none runs)
//  and starts their commands; returns -1 on a fatal error of the link.
static int take_tasks(spw_worker_t *worker, job_t *jobs, int slots, int *running,
                      const char *cmd, int heartbeat_ms)
{
    for (int i = 0; i < slots && *running < slots && !*stop_signal; i++) {
        if (jobs[i].used)
            continue;
        job_t *job = &jobs[i];
        if (spw_worker_recv(worker, &job->task, *running ? 0 : heartbeat_ms) != 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        job->child = (child_t) { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
        job->started = spw_clock_ms();
        int rc = child_start(&job->child, cmd);
        if (rc != 0) {
            answer_unstarted(worker, &job->task, rc);
            continue;
        }
        job->used = true;
        (*running)++;
        child_feed(&job->child, &job->task);
    }
    return 0;
}

//  Runs up to slots commands at once, one a task, until a stop signal;
//  returns 0, or -1 on a fatal error of the link. Commands still running
//  when it stops are killed and their tasks left unanswered (the edge gives
//  them to another worker).
static int serve_exec(spw_worker_t *worker, const char *cmd, int slots, int heartbeat_ms)
{
    job_t *jobs = calloc((size_t) slots, sizeof *jobs);
    poll_set_t *set = malloc(sizeof *set);
    int running = 0, rc = 0;
    if (!jobs || !set)
        rc = -1;
    int64_t heartbeat_at = spw_clock_ms() + heartbeat_ms;
    while (rc == 0 && !*stop_signal) {
        if (running < slots && take_tasks(worker, jobs, slots, &running, cmd, heartbeat_ms) != 0)
            rc = -1;
        if (rc != 0 || *stop_signal || running == 0)
            continue;
        int64_t now = spw_clock_ms();
        if (now >= heartbeat_at) {
            spw_worker_heartbeat(worker);  // the tasks take long: the edge must hear us
            heartbeat_at = now + heartbeat_ms;
        }
        set->count = 0;
        int timeout = (int) (heartbeat_at - now);
        for (int i = 0; i < slots; i++) {
            job_t *job = &jobs[i];
            if (!job->used)
                continue;
            poll_add(set, job, &job->child.stdin_fd, ZMQ_POLLOUT);
            poll_add(set, job, &job->child.stdout_fd, ZMQ_POLLIN);
            poll_add(set, job, &job->child.stderr_fd, ZMQ_POLLIN);
            if (job->child.stdout_fd < 0 && job->child.stderr_fd < 0
                && timeout > WORKER_REAP_MAX_MS)
                timeout = WORKER_REAP_MAX_MS;  // its output is all read: reap it soon
        }
        void *socket = running < slots ? spw_worker_socket(worker) : NULL;
        if (socket) {
            set->items[set->count] = (zmq_pollitem_t) { socket, 0, ZMQ_POLLIN, 0 };
            set->job[set->count] = NULL;
            set->fd[set->count++] = NULL;
        }
        if (zmq_poll(set->items, set->count, timeout > 0 ? timeout : 0) < 0 && errno != EINTR)
            rc = -1;
        for (int k = 0; rc == 0 && k < set->count; k++) {
            job_t *job = set->job[k];
            if (!job || !set->items[k].revents || *set->fd[k] < 0)
                continue;
            if (set->fd[k] == &job->child.stdin_fd)
                child_feed(&job->child, &job->task);
            else if (set->fd[k] == &job->child.stdout_fd)
                child_read_output(&job->child);
            else
                child_read_error(&job->child);
        }
        for (int i = 0; i < slots; i++) {
            job_t *job = &jobs[i];
            if (!job->used)
                continue;
            if (job->child.output_overflow)
                child_kill(&job->child);
            else if (job->child.stdout_fd < 0 && job->child.stderr_fd < 0) {
                pid_t done = waitpid(job->child.pid, &job->child.wait_status, WNOHANG);
                job->child.exited = done == job->child.pid || (done < 0 && errno == ECHILD);
            }
            if (job->child.exited) {
                answer_child(worker, &job->child, &job->task, job->started);
                job->used = false;
                running--;
            }
        }
    }
    for (int i = 0; jobs && i < slots; i++)
        if (jobs[i].used) {
            spw_log(SPW_LOG_INFO, "task_abandoned", "key=%llu",
                    (unsigned long long) jobs[i].task.key);
            child_kill(&jobs[i].child);
            child_release(&jobs[i].child);
            spw_worker_task_reset(&jobs[i].task);
        }
    free(jobs);
    free(set);
    return rc;
}

//  Answers a task with its own body.
static void run_echo(spw_worker_t *worker, spw_worker_task_t *task)
{
    spw_msg_t body;
    spw_msg_init(&body);
    spw_msg_move_frames(&body, &task->msg, task->body_first, task->body_count);
    spw_worker_reply(worker, task, SPW_STATUS_OK, &body);
}

enum { FLAG_EDGE, FLAG_SERVICE, FLAG_EXEC, FLAG_ECHO, FLAG_HEARTBEAT, FLAG_SLOTS, FLAG_CERT,
       FLAG_SERVER_CERT, FLAG_COUNT_ };

//  Runs `spillway worker` until a stop signal; returns the exit code.
int cli_worker(int argc, char **argv)
{
    cli_flag_t flags[FLAG_COUNT_] = {
        [FLAG_EDGE] = { .name = "--edge", .has_value = true },
        [FLAG_SERVICE] = { .name = "--service", .has_value = true },
        [FLAG_EXEC] = { .name = "--exec", .has_value = true },
        [FLAG_ECHO] = { .name = "--echo", .has_value = false },
        [FLAG_HEARTBEAT] = { .name = "--heartbeat-ms", .has_value = true },
        [FLAG_SLOTS] = { .name = "--slots", .has_value = true },
        [FLAG_CERT] = { .name = "--cert", .has_value = true },
        [FLAG_SERVER_CERT] = { .name = "--server-cert", .has_value = true },
    };
    const char *positional[1];
    size_t positional_count;
    switch (cli_parse(COMMAND, argc, argv, flags, FLAG_COUNT_, positional, 0,
                      &positional_count)) {
    case CLI_PARSE_HELP:
        cli_worker_help(stdout);
        return CLI_EXIT_OK;
    case CLI_PARSE_ERROR:
        return CLI_EXIT_USAGE;
    case CLI_PARSE_OK:
        break;
    }
    const char *edge = flags[FLAG_EDGE].value;
    const char *service = flags[FLAG_SERVICE].value ? flags[FLAG_SERVICE].value : "default";
    const char *cmd = flags[FLAG_EXEC].value;
    int64_t heartbeat_ms = WORKER_HEARTBEAT_MS, slots = 1;
    if (!edge)
        return cli_usage_error(COMMAND, "missing --edge");
    if (cli_endpoint(COMMAND, "--edge", edge) != 0
        || cli_service(COMMAND, "--service", service) != 0
        || (flags[FLAG_HEARTBEAT].value
            && cli_int(COMMAND, "--heartbeat-ms", flags[FLAG_HEARTBEAT].value,
                       WORKER_HEARTBEAT_MIN_MS, WORKER_HEARTBEAT_MAX_MS, &heartbeat_ms) != 0)
        || (flags[FLAG_SLOTS].value
            && cli_int(COMMAND, "--slots", flags[FLAG_SLOTS].value, 1, SPW_MAX_SLOTS, &slots) != 0))
        return CLI_EXIT_USAGE;

    if (cmd && flags[FLAG_ECHO].seen)
        return cli_usage_error(COMMAND, "--exec and --echo exclude each other");
    if (!cmd && !flags[FLAG_ECHO].seen)
        return cli_usage_error(COMMAND, "missing --exec CMD or --echo");
    if (cmd && !*cmd)
        return cli_usage_error(COMMAND, "--exec: the command is empty");
    spw_curve_keys_t keys;
    const spw_curve_keys_t *curve;
    int keys_code = cli_curve_keys(COMMAND, flags[FLAG_CERT].value,
                                   flags[FLAG_SERVER_CERT].value, 1, &keys, &curve);
    if (keys_code != CLI_EXIT_OK)
        return keys_code;

    guard_standard_fds();
    if (install_stop_handlers() != 0) {
        cli_error(COMMAND, "cannot handle signals: %s", strerror(errno));
        return CLI_EXIT_ERROR;
    }
    spw_log_open("worker", service, SPW_LOG_INFO, SPW_LOG_TEXT);
    spw_worker_opts_t opts = { .heartbeat_ms = (int) heartbeat_ms, .slots = (int) slots,
                               .curve = curve };
    spw_worker_t *worker = spw_worker_new(edge, service, &opts);
    if (!worker) {
        cli_error(COMMAND, "cannot connect to %s: %s", edge, zmq_strerror(errno));
        return CLI_EXIT_ERROR;
    }
    spw_log(SPW_LOG_INFO, "started", "edge=%s mode=%s slots=%lld heartbeat_ms=%lld", edge,
            cmd ? "exec" : "echo", (long long) slots, (long long) heartbeat_ms);
    int code = CLI_EXIT_OK;
    if (cmd && slots > 1) {
        if (serve_exec(worker, cmd, (int) slots, (int) heartbeat_ms) != 0) {
            spw_log(SPW_LOG_ERROR, "failed", "reason=\"%s\"", zmq_strerror(errno));
            code = CLI_EXIT_ERROR;
        }
    }
    while (!*stop_signal && code == CLI_EXIT_OK && !(cmd && slots > 1)) {
        spw_worker_task_t task;
        //  A bounded wait, so that a signal landing just before it is seen.
        if (spw_worker_recv(worker, &task, (int) heartbeat_ms) != 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            spw_log(SPW_LOG_ERROR, "failed", "reason=\"%s\"", zmq_strerror(errno));
            code = CLI_EXIT_ERROR;
            break;
        }
        if (!cmd)
            run_echo(worker, &task);
        else if (run_exec(worker, &task, cmd, (int) heartbeat_ms) != 0)
            break;
    }
    spw_log(SPW_LOG_INFO, "stopped", "signal=%d", spw_daemon_last_signal());
    spw_worker_destroy(&worker);
    return code;
}
