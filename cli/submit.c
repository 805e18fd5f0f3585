//  submit.c: `spillway submit`, one task (or N copies of it) to an edge.
//
//  The request carries the user's timeout to the edge, and the command
//  waits that long plus a grace period, so that the edge's own "timeout"
//  reply, which says why, normally arrives before the command gives up on
//  its own. Each reply status has its own exit code, so that scripts can
//  tell "try later" (overloaded, busy) from "fix something" (no-service,
//  bad-request). With --count the copies are all sent before any reply is
//  awaited (the socket's queue permitting) and a one-line summary with
//  latency percentiles replaces the bodies; the payload is sent from one
//  buffer by reference, never copied per request.

#include "cli.h"

#include "spillway.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define COMMAND "submit"

#define SUBMIT_TIMEOUT_MS     10000
#define SUBMIT_TIMEOUT_MAX_MS 86400000
//  The local wait beyond the request's timeout, for the edge's answer.
#define SUBMIT_GRACE_MS       1000
#define SUBMIT_COUNT_MAX      1000000
//  Standard input larger than the largest message any edge accepts is refused.
#define SUBMIT_INPUT_MAX      268435456
//  Bytes of a reason text shown in an error line.
#define SUBMIT_REASON_MAX     512
//  Exit code of a reply that never came.
#define SUBMIT_LOST_STATUS    SPW_STATUS_TIMEOUT

//  Exit code per reply status; documented in the help.
static const int status_exit_code[SPW_STATUS_COUNT] = {
    [SPW_STATUS_OK] = 0,
    [SPW_STATUS_NO_SERVICE] = 3,
    [SPW_STATUS_TIMEOUT] = 4,
    [SPW_STATUS_OVERLOADED] = 5,
    [SPW_STATUS_FAILED] = 6,
    [SPW_STATUS_BAD_REQUEST] = 7,
    [SPW_STATUS_TASK_ERROR] = 8,
    [SPW_STATUS_BUSY] = 9,
    [SPW_STATUS_TOO_LARGE] = 10,
    [SPW_STATUS_FORBIDDEN] = 11,
};

//  Prints the usage of submit, with its exit codes.
void cli_submit_help(FILE *out)
{
    fprintf(out,
            "usage: spillway submit --edge EP[,EP...] [--service NAME] [--timeout MS]\n"
            "                       [--count N] [--cert FILE --server-cert FILE] DATA\n"
            "\n"
            "Sends DATA (or standard input, if DATA is '-') as one task to the edge's\n"
            "frontend and prints the reply to standard output.\n"
            "\n"
            "  --edge EP,...    the edge's frontend, e.g. tcp://localhost:5555; with\n"
            "                   several (up to 16), a task whose edge dies or stops\n"
            "                   answering is sent to the next one\n"
            "  --service NAME   the service to ask for (default: 'default')\n"
            "  --timeout MS     the task's deadline, 1 to %d (default %d);\n"
            "                   the command waits %d ms longer for the edge's answer\n"
            "  --count N        send N copies at once, 1 to %d, and print one line\n"
            "                   'K ok, M failed, p50=..ms p99=..ms' instead of replies\n"
            CLI_CURVE_HELP
            "\n"
            "exit codes (with --count: 0 if all succeeded, else the first failure's):\n"
            "  0 ok           3 no-service   4 timeout      5 overloaded\n"
            "  6 failed       7 bad-request  8 task-error   9 busy\n"
            "  10 too-large   11 forbidden\n"
            "  1 could not talk to the edge  2 bad arguments\n",
            SUBMIT_TIMEOUT_MAX_MS, SUBMIT_TIMEOUT_MS, SUBMIT_GRACE_MS, SUBMIT_COUNT_MAX);
}

//  The exit code of a status.
static int exit_code(spw_status_t status)
{
    return (unsigned) status < SPW_STATUS_COUNT ? status_exit_code[status] : CLI_EXIT_ERROR;
}

//  Reads all of standard input into a new buffer. Returns 0, or -1 after
//  printing why.
static int read_stdin(char **data, size_t *size)
{
    size_t capacity = 65536, used = 0;
    char *buffer = malloc(capacity);
    if (!buffer) {
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    while (true) {
        if (used == capacity) {
            if (capacity >= SUBMIT_INPUT_MAX) {
                cli_error(COMMAND, "standard input is larger than %d bytes", SUBMIT_INPUT_MAX);
                free(buffer);
                return -1;
            }
            capacity *= 2;
            char *grown = realloc(buffer, capacity);
            if (!grown) {
                cli_error(COMMAND, "out of memory");
                free(buffer);
                return -1;
            }
            buffer = grown;
        }
        size_t n = fread(buffer + used, 1, capacity - used, stdin);
        used += n;
        if (n == 0) {
            if (ferror(stdin)) {
                cli_error(COMMAND, "cannot read standard input: %s", strerror(errno));
                free(buffer);
                return -1;
            }
            break;
        }
    }
    *data = buffer;
    *size = used;
    return 0;
}

//  Builds a one-frame body that refers to data without copying it; data
//  must outlive the client that sends it.
static int body_of(spw_msg_t *body, const char *data, size_t size)
{
    spw_msg_init(body);
    zmq_msg_t frame;
    if (zmq_msg_init_data(&frame, (void *) data, size, NULL, NULL) != 0)
        return -1;
    if (spw_msg_add_move(body, &frame) != 0) {
        zmq_msg_close(&frame);
        return -1;
    }
    return 0;
}

//  Prints an error reply as "spillway submit: STATUS: REASON", the reason
//  made one printable line.
static void print_failure(const spw_reply_t *reply)
{
    char reason[SUBMIT_REASON_MAX + 1] = "no reason given";
    if (reply->body_count > 0) {
        zmq_msg_t *frame = (zmq_msg_t *) &reply->msg.frame[reply->body_first];
        const unsigned char *text = zmq_msg_data(frame);
        size_t len = zmq_msg_size(frame);
        if (len > SUBMIT_REASON_MAX)
            len = SUBMIT_REASON_MAX;
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            len--;
        if (len > 0) {
            for (size_t i = 0; i < len; i++)
                reason[i] = text[i] < 0x20 || text[i] == 0x7f ? ' ' : (char) text[i];
            reason[len] = '\0';
        }
    }
    cli_error(COMMAND, "%s: %s", spw_status_text(reply->status), reason);
}

//  Writes the reply's body frames to stdout, ending with a newline.
static int print_body(const spw_reply_t *reply)
{
    bool ends_with_newline = false;
    for (size_t i = 0; i < reply->body_count; i++) {
        zmq_msg_t *frame = (zmq_msg_t *) &reply->msg.frame[reply->body_first + i];
        size_t size = zmq_msg_size(frame);
        if (size == 0)
            continue;
        const char *data = zmq_msg_data(frame);
        if (fwrite(data, 1, size, stdout) != size)
            break;
        ends_with_newline = data[size - 1] == '\n';
    }
    if (!ends_with_newline)
        fputc('\n', stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(COMMAND, "cannot write standard output: %s", strerror(errno));
        return -1;
    }
    return 0;
}

//  Sends one task and prints its reply; returns the exit code.
static int submit_one(spw_client_t *client, const char *service, const char *data,
                      size_t size, int64_t timeout_ms)
{
    spw_msg_t body;
    uint64_t id;
    if (body_of(&body, data, size) != 0
        || spw_client_send(client, service, &body, (uint32_t) timeout_ms, &id) != 0) {
        cli_error(COMMAND, "cannot send the request: %s", strerror(errno));
        return CLI_EXIT_ERROR;
    }
    int64_t wait_ms = timeout_ms + SUBMIT_GRACE_MS;
    int64_t deadline = spw_clock_ms() + wait_ms;
    spw_reply_t reply;
    spw_reply_init(&reply);
    int code;
    while (true) {
        int64_t left = deadline - spw_clock_ms();
        if (left < 0)
            left = 0;
        if (spw_client_recv(client, &reply, (int) left) != 0) {
            if (errno == EAGAIN)
                cli_error(COMMAND, "timeout: no reply within %lld ms", (long long) wait_ms);
            else
                cli_error(COMMAND, "interrupted: %s", strerror(errno));
            code = exit_code(SUBMIT_LOST_STATUS);
            break;
        }
        if (reply.request_id != id)
            continue;
        if (reply.status == SPW_STATUS_OK)
            code = print_body(&reply) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
        else {
            print_failure(&reply);
            code = exit_code(reply.status);
        }
        break;
    }
    spw_reply_reset(&reply);
    return code;
}

//  Orders latencies for the percentiles.
static int compare_latency(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

//  The nearest-rank percentile of sorted values, in milliseconds.
static double percentile_ms(const int64_t *sorted_us, size_t n, int percent)
{
    size_t rank = (n * (size_t) percent + 99) / 100;
    return (double) sorted_us[rank ? rank - 1 : 0] / 1000.0;
}

//  What a --count run has seen so far.
typedef struct {
    size_t count;
    int64_t *sent_us;       // by request id - 1; -1: not sent
    bool *answered;         // by request id - 1
    int64_t *latency_us;    // of the ok replies, in arrival order
    size_t ok;
    size_t failed;
    size_t by_status[SPW_STATUS_COUNT];
    int first_failure;      // exit code of the first failure, 0 if none
} batch_t;

//  Records one reply of a --count run; ignores unknown or repeated ids.
static void batch_record(batch_t *batch, const spw_reply_t *reply)
{
    uint64_t id = reply->request_id;
    if (id == 0 || id > batch->count || batch->answered[id - 1] || batch->sent_us[id - 1] < 0)
        return;
    batch->answered[id - 1] = true;
    if (reply->status == SPW_STATUS_OK) {
        batch->latency_us[batch->ok++] = spw_clock_us() - batch->sent_us[id - 1];
        return;
    }
    batch->failed++;
    if ((unsigned) reply->status < SPW_STATUS_COUNT)
        batch->by_status[reply->status]++;
    if (!batch->first_failure)
        batch->first_failure = exit_code(reply->status);
}

//  Prints the one-line summary of a --count run.
static void batch_print(batch_t *batch)
{
    qsort(batch->latency_us, batch->ok, sizeof *batch->latency_us, compare_latency);
    printf("%zu ok, %zu failed", batch->ok, batch->failed);
    if (batch->ok)
        printf(", p50=%.2fms p99=%.2fms", percentile_ms(batch->latency_us, batch->ok, 50),
               percentile_ms(batch->latency_us, batch->ok, 99));
    else
        printf(", p50=-ms p99=-ms");
    if (batch->failed) {
        const char *sep = " (";
        for (int s = 0; s < SPW_STATUS_COUNT; s++)
            if (batch->by_status[s]) {
                printf("%s%s=%zu", sep, spw_status_text((spw_status_t) s), batch->by_status[s]);
                sep = " ";
            }
        fputs(")", stdout);
    }
    putchar('\n');
    fflush(stdout);
}

//  Sends count copies of one task, all outstanding, and prints the summary.
static int submit_many(spw_client_t *client, const char *service, const char *data,
                       size_t size, int64_t timeout_ms, size_t count)
{
    batch_t batch = { .count = count };
    batch.sent_us = malloc(count * sizeof *batch.sent_us);
    batch.answered = calloc(count, sizeof *batch.answered);
    batch.latency_us = malloc(count * sizeof *batch.latency_us);
    int code = CLI_EXIT_ERROR;
    if (!batch.sent_us || !batch.answered || !batch.latency_us) {
        cli_error(COMMAND, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++)
        batch.sent_us[i] = -1;

    int64_t wait_ms = timeout_ms + SUBMIT_GRACE_MS;
    int64_t deadline = spw_clock_ms() + wait_ms;  // moves on while sending succeeds
    size_t sent = 0;
    spw_reply_t reply;
    spw_reply_init(&reply);
    while (batch.ok + batch.failed < sent || sent < count) {
        if (sent < count) {
            spw_msg_t body;
            uint64_t id;
            if (body_of(&body, data, size) != 0) {
                cli_error(COMMAND, "out of memory");
                break;
            }
            int64_t now_us = spw_clock_us();
            if (spw_client_send(client, service, &body, (uint32_t) timeout_ms, &id) == 0) {
                if (id >= 1 && id <= count)
                    batch.sent_us[id - 1] = now_us;
                sent++;
                deadline = spw_clock_ms() + wait_ms;
                //  Take what has already come, without waiting.
                while (spw_client_recv(client, &reply, 0) == 0)
                    batch_record(&batch, &reply);
                continue;
            }
            if (errno != EAGAIN) {
                cli_error(COMMAND, "cannot send the request: %s", strerror(errno));
                break;
            }
        }
        //  All sent, or the queue is full: wait for replies.
        int64_t left = deadline - spw_clock_ms();
        if (spw_client_recv(client, &reply, left > 0 ? (int) left : 0) != 0) {
            if (errno != EAGAIN)
                cli_error(COMMAND, "interrupted: %s", strerror(errno));
            break;
        }
        batch_record(&batch, &reply);
    }
    spw_reply_reset(&reply);
    size_t lost = count - batch.ok - batch.failed;
    if (lost) {
        batch.failed += lost;
        batch.by_status[SUBMIT_LOST_STATUS] += lost;
        if (!batch.first_failure)
            batch.first_failure = exit_code(SUBMIT_LOST_STATUS);
    }
    batch_print(&batch);
    code = batch.first_failure;
done:
    free(batch.sent_us);
    free(batch.answered);
    free(batch.latency_us);
    return code;
}

enum { FLAG_EDGE, FLAG_SERVICE, FLAG_TIMEOUT, FLAG_COUNT, FLAG_CERT, FLAG_SERVER_CERT,
       FLAG_COUNT_ };

//  Runs `spillway submit`; returns the exit code.
int cli_submit(int argc, char **argv)
{
    cli_flag_t flags[FLAG_COUNT_] = {
        [FLAG_EDGE] = { .name = "--edge", .has_value = true },
        [FLAG_SERVICE] = { .name = "--service", .has_value = true },
        [FLAG_TIMEOUT] = { .name = "--timeout", .has_value = true },
        [FLAG_COUNT] = { .name = "--count", .has_value = true },
        [FLAG_CERT] = { .name = "--cert", .has_value = true },
        [FLAG_SERVER_CERT] = { .name = "--server-cert", .has_value = true },
    };
    const char *positional[1];
    size_t positional_count;
    switch (cli_parse(COMMAND, argc, argv, flags, FLAG_COUNT_, positional, 1,
                      &positional_count)) {
    case CLI_PARSE_HELP:
        cli_submit_help(stdout);
        return CLI_EXIT_OK;
    case CLI_PARSE_ERROR:
        return CLI_EXIT_USAGE;
    case CLI_PARSE_OK:
        break;
    }
    const char *edge = flags[FLAG_EDGE].value;
    const char *service = flags[FLAG_SERVICE].value ? flags[FLAG_SERVICE].value : "default";
    int64_t timeout_ms = SUBMIT_TIMEOUT_MS, count = 1;
    if (!edge)
        return cli_usage_error(COMMAND, "missing --edge");
    size_t edges = 0;
    if (cli_endpoints(COMMAND, "--edge", edge, &edges) != 0
        || cli_service(COMMAND, "--service", service) != 0
        || (flags[FLAG_TIMEOUT].value
            && cli_int(COMMAND, "--timeout", flags[FLAG_TIMEOUT].value, 1,
                       SUBMIT_TIMEOUT_MAX_MS, &timeout_ms) != 0)
        || (flags[FLAG_COUNT].value
            && cli_int(COMMAND, "--count", flags[FLAG_COUNT].value, 1, SUBMIT_COUNT_MAX,
                       &count) != 0))
        return CLI_EXIT_USAGE;
    if (positional_count == 0)
        return cli_usage_error(COMMAND, "missing DATA (or '-' for standard input)");
    spw_curve_keys_t keys[SPW_CLIENT_MAX_EDGES];
    const spw_curve_keys_t *curve;
    int keys_code = cli_curve_keys(COMMAND, flags[FLAG_CERT].value,
                                   flags[FLAG_SERVER_CERT].value, edges, keys, &curve);
    if (keys_code != CLI_EXIT_OK)
        return keys_code;

    char *input = NULL;
    const char *data = positional[0];
    size_t size = strlen(data);
    if (strcmp(data, "-") == 0) {
        if (read_stdin(&input, &size) != 0)
            return CLI_EXIT_ERROR;
        data = input;
    }
    spw_client_t *client = spw_client_new_secure(edge, curve);
    int code;
    if (!client) {
        cli_error(COMMAND, "cannot connect to %s: %s", edge, zmq_strerror(errno));
        code = CLI_EXIT_ERROR;
    }
    else if (flags[FLAG_COUNT].value)
        code = submit_many(client, service, data, size, timeout_ms, (size_t) count);
    else
        code = submit_one(client, service, data, size, timeout_ms);
    //  The client may still hold frames that point into input: close it first.
    spw_client_destroy(&client);
    free(input);
    return code;
}
