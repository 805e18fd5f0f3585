//  driver.c: the C driver of the conformance suite (tests/conformance/README.md).
//
//  Reads JSON commands from standard input, does them with libspillway's
//  client (spw_client_send / spw_client_recv) and workers (spw_worker_*),
//  and writes one JSON answer a line. One thread: a poll over standard
//  input, the client's sockets and the workers', waking for held tasks due.

#include "spw_client.h"
#include "spw_clock.h"
#include "spw_config.h"
#include "spw_curve.h"
#include "spw_worker.h"

#include <czmq.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DRIVER_MAX_WORKERS 16
#define DRIVER_MAX_HELD    256
#define DRIVER_MAX_CALLS   4096

typedef enum { MODE_ECHO, MODE_FAIL, MODE_HOLD, MODE_SLEEP } worker_mode_t;

typedef struct {
    spw_worker_task_t task;
    int64_t due;  // -1: held for ever
} held_t;

typedef struct {
    spw_worker_t *worker;
    worker_mode_t mode;
    int sleep_ms;
    held_t held[DRIVER_MAX_HELD];
    size_t held_count;
    int64_t beat_at;  // last heartbeat sent while it held tasks
} driver_worker_t;

typedef struct {
    uint64_t request_id;
    json_t *seq;
} call_t;

typedef struct {
    spw_client_t *client;
    driver_worker_t workers[DRIVER_MAX_WORKERS];
    size_t worker_count;
    call_t calls[DRIVER_MAX_CALLS];
    size_t call_count;
    zarmour_t *armour;
} driver_t;

static void answer(json_t *obj)
{
    char *line = json_dumps(obj, JSON_COMPACT);
    if (line) {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        free(line);
    }
    json_decref(obj);
}

static void answer_error(json_t *seq, const char *error, const char *message)
{
    answer(json_pack("{sOssss}", "seq", seq ? seq : json_null(), "error", error, "message",
                     message));
}

static json_t *encode_frames(driver_t *self, const spw_msg_t *msg, size_t first, size_t count)
{
    json_t *list = json_array();
    for (size_t i = first; i < first + count; i++) {
        zmq_msg_t *frame = (zmq_msg_t *) &msg->frame[i];
        char *text = zarmour_encode(self->armour, zmq_msg_data(frame), zmq_msg_size(frame));
        json_array_append_new(list, json_string(text ? text : ""));
        free(text);
    }
    return list;
}

//  The body of a submit command: its base64 frames, or fill's bytes.
static int body_of(driver_t *self, json_t *command, spw_msg_t *body)
{
    json_t *fill = json_object_get(command, "fill");
    if (fill) {
        json_int_t size = json_integer_value(json_object_get(fill, "size"));
        char *bytes = malloc(size > 0 ? (size_t) size : 1);
        if (!bytes)
            return -1;
        memset(bytes, 'x', (size_t) size);
        int rc = spw_msg_add_mem(body, bytes, (size_t) size);
        free(bytes);
        return rc;
    }
    json_t *frames = json_object_get(command, "body");
    size_t i;
    json_t *frame;
    json_array_foreach(frames, i, frame) {
        zchunk_t *chunk = zarmour_decode(self->armour, json_string_value(frame));
        if (!chunk)
            return -1;
        //  The chunk ends with a null zarmour adds, which is not the frame's.
        size_t size = zchunk_size(chunk);
        int rc = spw_msg_add_mem(body, zchunk_data(chunk), size ? size - 1 : 0);
        zchunk_destroy(&chunk);
        if (rc != 0)
            return -2;  // more frames than a message holds: the library's refusal
    }
    return 0;
}

static void do_submit(driver_t *self, json_t *seq, json_t *command)
{
    if (!self->client) {
        answer_error(seq, "command", "no client: say client first");
        return;
    }
    if (self->call_count == DRIVER_MAX_CALLS) {
        answer_error(seq, "command", "too many calls outstanding");
        return;
    }
    spw_msg_t body;
    spw_msg_init(&body);
    int rc = body_of(self, command, &body);
    if (rc == -2) {
        spw_msg_reset(&body);
        answer_error(seq, "argument", "a body has at most 16 frames");
        return;
    }
    json_int_t timeout = json_integer_value(json_object_get(command, "timeout_ms"));
    const char *service = json_string_value(json_object_get(command, "service"));
    if (rc != 0 || !service) {
        spw_msg_reset(&body);
        answer_error(seq, "command", "bad body or service");
        return;
    }
    if (timeout < 0 || timeout > UINT32_MAX) {
        spw_msg_reset(&body);
        answer_error(seq, "argument", "timeout_ms must be 0 to 4294967295");
        return;
    }
    uint64_t id;
    if (spw_client_send(self->client, service, &body, (uint32_t) timeout, &id) != 0) {
        answer_error(seq, "argument", errno == EINVAL ? "bad service or body" : strerror(errno));
        return;
    }
    self->calls[self->call_count++] = (call_t) { id, json_incref(seq) };
}

static void take_replies(driver_t *self)
{
    spw_reply_t reply;
    spw_reply_init(&reply);
    while (self->client && spw_client_recv(self->client, &reply, 0) == 0) {
        for (size_t i = 0; i < self->call_count; i++) {
            if (self->calls[i].request_id != reply.request_id)
                continue;
            json_t *body = encode_frames(self, &reply.msg, reply.body_first, reply.body_count);
            answer(json_pack("{sOsssO}", "seq", self->calls[i].seq, "status",
                             spw_status_name(reply.status), "body", body));
            json_decref(body);
            json_decref(self->calls[i].seq);
            self->calls[i] = self->calls[--self->call_count];
            break;
        }
        spw_reply_reset(&reply);
    }
    spw_reply_reset(&reply);
}

//  The CURVE keys of a command's cert and server_cert (certificate files),
//  for count servers; false with none (plaintext), or on an error (said).
static bool curve_of(json_t *seq, json_t *command, spw_curve_keys_t *keys, size_t count,
                     bool *failed)
{
    const char *cert = json_string_value(json_object_get(command, "cert"));
    const char *server = json_string_value(json_object_get(command, "server_cert"));
    *failed = false;
    if (!cert && !server)
        return false;
    char err[SPW_ERROR_MAX] = "CURVE needs both cert and server_cert";
    uint8_t public_key[32], secret_key[32], server_key[32], unused[32];
    if (!cert || !server || spw_curve_load(cert, true, public_key, secret_key, err, sizeof err) != 0
        || spw_curve_load(server, false, server_key, unused, err, sizeof err) != 0) {
        answer_error(seq, "argument", err);
        *failed = true;
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        memcpy(keys[i].public_key, public_key, 32);
        memcpy(keys[i].secret_key, secret_key, 32);
        memcpy(keys[i].server_key, server_key, 32);
    }
    return true;
}

static void do_worker(driver_t *self, json_t *seq, json_t *command)
{
    const char *edge = json_string_value(json_object_get(command, "edge"));
    const char *service = json_string_value(json_object_get(command, "service"));
    const char *mode = json_string_value(json_object_get(command, "mode"));
    json_int_t slots = json_integer_value(json_object_get(command, "slots"));
    if (!edge || !service || !mode || self->worker_count == DRIVER_MAX_WORKERS) {
        answer_error(seq, "command", "worker needs edge, service and mode");
        return;
    }
    driver_worker_t *w = &self->workers[self->worker_count];
    memset(w, 0, sizeof *w);
    w->mode = streq(mode, "fail") ? MODE_FAIL
            : streq(mode, "hold") ? MODE_HOLD
            : streq(mode, "sleep") ? MODE_SLEEP
                                   : MODE_ECHO;
    w->sleep_ms = (int) json_integer_value(json_object_get(command, "sleep_ms"));
    spw_worker_opts_t opts = { .slots = slots > 0 ? (int) slots : 1 };
    spw_curve_keys_t keys;
    bool failed;
    if (curve_of(seq, command, &keys, 1, &failed))
        opts.curve = &keys;
    else if (failed)
        return;
    w->worker = spw_worker_new(edge, service, &opts);
    if (!w->worker) {
        answer_error(seq, "argument", "spw_worker_new refused it");
        return;
    }
    self->worker_count++;
    answer(json_pack("{sOsb}", "seq", seq, "ok", 1));
}

//  Answers a held task as its worker's mode says.
static void finish(driver_worker_t *w, held_t *held)
{
    spw_msg_t body;
    spw_msg_init(&body);
    spw_msg_move_frames(&body, &held->task.msg, held->task.body_first, held->task.body_count);
    spw_worker_reply(w->worker, &held->task,
                     w->mode == MODE_FAIL ? SPW_STATUS_TASK_ERROR : SPW_STATUS_OK, &body);
    spw_msg_reset(&body);
}

static void serve_workers(driver_t *self)
{
    int64_t now = spw_clock_ms();
    for (size_t i = 0; i < self->worker_count; i++) {
        driver_worker_t *w = &self->workers[i];
        for (size_t h = 0; h < w->held_count;) {
            if (w->held[h].due >= 0 && now >= w->held[h].due) {
                finish(w, &w->held[h]);
                w->held[h] = w->held[--w->held_count];
            } else
                h++;
        }
        //  Keeps the link alive and takes what came (the edge sends no more
        //  than the slots, so held never fills).
        while (w->held_count < DRIVER_MAX_HELD) {
            held_t *held = &w->held[w->held_count];
            if (spw_worker_recv(w->worker, &held->task, 0) != 0)
                break;
            held->due = w->mode == MODE_HOLD ? -1 : w->mode == MODE_SLEEP ? now + w->sleep_ms : now;
            if (held->due == now) {
                finish(w, held);
                continue;
            }
            w->held_count++;
        }
        //  A held task keeps the worker busy past the edge's liveness: beat.
        if (w->held_count && now - w->beat_at >= 250) {
            spw_worker_heartbeat(w->worker);
            w->beat_at = now;
        }
    }
}

static void stop(driver_t *self)
{
    for (size_t i = 0; i < self->worker_count; i++) {
        driver_worker_t *w = &self->workers[i];
        for (size_t h = 0; h < w->held_count; h++)
            spw_worker_task_reset(&w->held[h].task);
        spw_worker_destroy(&w->worker);
    }
    for (size_t i = 0; i < self->call_count; i++)
        json_decref(self->calls[i].seq);
    spw_client_destroy(&self->client);
}

//  Does one command line; returns false for stop.
static bool handle(driver_t *self, const char *line)
{
    json_error_t error;
    json_t *command = json_loads(line, 0, &error);
    if (!json_is_object(command)) {
        answer_error(NULL, "command", command ? "a command is a JSON object" : error.text);
        json_decref(command);
        return true;
    }
    json_t *seq = json_object_get(command, "seq");
    const char *op = json_string_value(json_object_get(command, "op"));
    bool go_on = true;
    if (op && streq(op, "client")) {
        char endpoints[4096] = "";
        size_t i;
        json_t *edge;
        json_array_foreach(json_object_get(command, "edges"), i, edge) {
            if (i)
                strncat(endpoints, ",", sizeof endpoints - strlen(endpoints) - 1);
            strncat(endpoints, json_string_value(edge) ? json_string_value(edge) : "",
                    sizeof endpoints - strlen(endpoints) - 1);
        }
        spw_client_destroy(&self->client);
        spw_curve_keys_t keys[SPW_CLIENT_MAX_EDGES];
        bool failed;
        bool secure = curve_of(seq, command, keys, SPW_CLIENT_MAX_EDGES, &failed);
        if (failed) {
            json_decref(command);
            return true;
        }
        self->client = spw_client_new_secure(endpoints, secure ? keys : NULL);
        if (self->client)
            answer(json_pack("{sOsb}", "seq", seq, "ok", 1));
        else
            answer_error(seq, "argument", "spw_client_new refused the edges");
    } else if (op && streq(op, "submit"))
        do_submit(self, seq, command);
    else if (op && streq(op, "worker"))
        do_worker(self, seq, command);
    else if (op && streq(op, "stop")) {
        stop(self);
        answer(json_pack("{sOsb}", "seq", seq, "ok", 1));
        go_on = false;
    } else
        answer_error(seq, "command", "unknown op");
    json_decref(command);
    return go_on;
}

int main(void)
{
    driver_t *self = calloc(1, sizeof *self);
    if (!self)
        return 1;
    self->armour = zarmour_new();
    char *buffer = NULL;
    size_t used = 0, size = 0;
    bool running = true, input_open = true;
    while (running) {
        zmq_pollitem_t items[2 + 2 * SPW_CLIENT_MAX_EDGES + DRIVER_MAX_WORKERS];
        size_t n = 0;
        if (input_open)
            items[n++] = (zmq_pollitem_t) { NULL, STDIN_FILENO, ZMQ_POLLIN, 0 };
        if (self->client)
            n += spw_client_pollitems(self->client, items + n, 2 * SPW_CLIENT_MAX_EDGES,
                                      ZMQ_POLLIN);
        for (size_t i = 0; i < self->worker_count; i++)
            if (spw_worker_socket(self->workers[i].worker))
                items[n++] = (zmq_pollitem_t) { spw_worker_socket(self->workers[i].worker), 0,
                                                ZMQ_POLLIN, 0 };
        //  Short waits: held tasks fall due, deadlines are swept, beats go out.
        zmq_poll(items, (int) n, 10);
        if (input_open && (items[0].revents & ZMQ_POLLIN)) {
            if (used + 65536 > size) {
                size = (size + 65536) * 2;
                buffer = realloc(buffer, size);
                if (!buffer)
                    return 1;
            }
            ssize_t got = read(STDIN_FILENO, buffer + used, size - used - 1);
            if (got <= 0)
                input_open = false;
            else
                used += (size_t) got;
            char *start = buffer, *newline;
            while (running && (newline = memchr(start, '\n', used - (size_t) (start - buffer)))) {
                *newline = '\0';
                running = handle(self, start);
                start = newline + 1;
            }
            used -= (size_t) (start - buffer);
            memmove(buffer, start, used);
            if (!input_open && running) {
                stop(self);
                running = false;
            }
        }
        if (!running)
            break;
        take_replies(self);
        serve_workers(self);
    }
    free(buffer);
    zarmour_destroy(&self->armour);
    free(self);
    return 0;
}
