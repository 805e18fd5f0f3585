//  test_client_worker.c: the client and worker APIs against a fake edge.
//
//  The fake edge is a ROUTER socket bound on ipc:// in a private temporary
//  directory (the APIs own their contexts, so inproc:// cannot reach them),
//  driven by hand from the test: it reads what the client or worker sends
//  and writes exactly the replies, tasks and signals a test needs. Nothing
//  sleeps: every wait is a poll with a deadline, and a test that waits in
//  vain fails with what it expected.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "spillway.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  How long a test waits for something that should come at once.
#define PROMPT_MS 2000

typedef struct {
    char dir[64];
    char path[128];
    char endpoint[160];
    void *ctx;
    void *router;
} fake_edge_t;

//  Binds a fresh fake edge in its own temporary directory.
static int fake_setup(void **state)
{
    fake_edge_t *fake = calloc(1, sizeof *fake);
    assert_non_null(fake);
    snprintf(fake->dir, sizeof fake->dir, "/tmp/spw-test-XXXXXX");
    assert_non_null(mkdtemp(fake->dir));
    snprintf(fake->path, sizeof fake->path, "%s/edge", fake->dir);
    snprintf(fake->endpoint, sizeof fake->endpoint, "ipc://%s", fake->path);
    fake->ctx = zmq_ctx_new();
    assert_non_null(fake->ctx);
    fake->router = spw_socket_new(fake->ctx, ZMQ_ROUTER, NULL);
    assert_non_null(fake->router);
    char err[SPW_ERROR_MAX];
    assert_int_equal(spw_socket_bind(fake->router, fake->endpoint, err, sizeof err), 0);
    *state = fake;
    return 0;
}

//  Closes the fake edge and removes its directory.
static int fake_teardown(void **state)
{
    fake_edge_t *fake = *state;
    spw_socket_destroy(&fake->router);
    zmq_ctx_term(fake->ctx);
    unlink(fake->path);
    rmdir(fake->dir);
    free(fake);
    return 0;
}

//  Receives one message at the fake edge within timeout_ms: 0, or -1.
static int fake_recv(fake_edge_t *fake, spw_msg_t *msg, int timeout_ms)
{
    int64_t deadline = spw_clock_ms() + timeout_ms;
    while (true) {
        if (spw_msg_recv(msg, fake->router, ZMQ_DONTWAIT) == 0)
            return 0;
        int64_t left = deadline - spw_clock_ms();
        if (left <= 0)
            return -1;
        zmq_pollitem_t item = { fake->router, 0, ZMQ_POLLIN, 0 };
        zmq_poll(&item, 1, (long) left);
    }
}

//  Receives the next native message of the given command at the fake edge,
//  skipping others; decodes it into proto. Fails the test if none comes.
static void fake_expect(fake_edge_t *fake, spw_msg_t *msg, spw_cmd_t cmd, spw_proto_t *proto)
{
    int64_t deadline = spw_clock_ms() + PROMPT_MS;
    while (true) {
        int left = (int) (deadline - spw_clock_ms());
        if (left < 0 || fake_recv(fake, msg, left) != 0)
            fail_msg("the fake edge expected command 0x%02x and got nothing", cmd);
        const char *why = "";
        if (spw_proto_decode(msg, 1, proto, &why) != 0)
            fail_msg("the fake edge got a malformed message: %s", why);
        if (proto->cmd == cmd)
            return;
        spw_msg_reset(msg);
    }
}

//  Starts a message to the peer whose identity is frame 0 of from.
static void fake_address(spw_msg_t *out, spw_msg_t *from)
{
    spw_msg_init(out);
    assert_int_equal(spw_msg_add_share(out, &from->frame[0]), 0);
}

//  Sends msg from the fake edge.
static void fake_send(fake_edge_t *fake, spw_msg_t *msg)
{
    assert_int_equal(spw_msg_send(msg, fake->router, 0), 0);
}

//  Sends a REPLY with one text body frame to the peer of from.
static void fake_reply(fake_edge_t *fake, spw_msg_t *from, uint64_t id,
                       spw_status_t status, const char *text)
{
    spw_msg_t out;
    fake_address(&out, from);
    assert_int_equal(spw_proto_put_reply(&out, id, status), 0);
    assert_int_equal(spw_msg_add_mem(&out, text, strlen(text)), 0);
    fake_send(fake, &out);
}

//  True if frame i of msg holds the text.
static bool frame_is_text(const spw_msg_t *msg, size_t i, const char *text)
{
    return spw_msg_frame_is(msg, i, text, strlen(text));
}

//  True if frame 0 (the identity) of both messages is the same.
static bool same_peer(spw_msg_t *a, spw_msg_t *b)
{
    return spw_msg_frame_is(a, 0, zmq_msg_data(&b->frame[0]), zmq_msg_size(&b->frame[0]));
}

//  A worker for "echo" with opts (may be NULL) whose READY the fake edge has
//  heard: ready holds that message, proto its decoding.
static spw_worker_t *fake_ready_worker(fake_edge_t *fake, const spw_worker_opts_t *opts,
                                       spw_msg_t *ready, spw_proto_t *proto)
{
    spw_worker_t *worker = spw_worker_new(fake->endpoint, "echo", opts);
    assert_non_null(worker);
    spw_msg_init(ready);
    fake_expect(fake, ready, SPW_CMD_READY, proto);
    return worker;
}

//  A call returns the reply with its own id, skipping junk and a stale reply.
static void test_client_call_matches_reply_id_and_skips_stale_replies(void **state)
{
    fake_edge_t *fake = *state;
    spw_client_t *client = spw_client_new(fake->endpoint);
    assert_non_null(client);

    //  Request 1 is sent and abandoned; its late reply must not answer call 2.
    spw_msg_t body;
    spw_msg_init(&body);
    assert_int_equal(spw_msg_add_mem(&body, "first", 5), 0);
    uint64_t first_id = 0;
    assert_int_equal(spw_client_send(client, NULL, &body, 1000, &first_id), 0);
    assert_int_equal(first_id, 1);
    assert_int_equal(body.count, 0);

    spw_msg_t request;
    spw_msg_init(&request);
    spw_proto_t proto;
    fake_expect(fake, &request, SPW_CMD_REQUEST, &proto);
    assert_int_equal(proto.id, 1);
    assert_int_equal(proto.service_len, strlen("default"));
    assert_memory_equal(proto.service, "default", proto.service_len);
    assert_int_equal(proto.timeout_ms, 1000);
    assert_int_equal(proto.body_count, 1);
    assert_true(frame_is_text(&request, proto.body_first, "first"));

    //  Queued before the call: junk, a non-reply, the stale reply, and the
    //  answer to request 2, which the client will number next.
    spw_msg_t junk;
    fake_address(&junk, &request);
    assert_int_equal(spw_msg_add_mem(&junk, "junk", 4), 0);
    fake_send(fake, &junk);
    spw_msg_t not_reply;
    fake_address(&not_reply, &request);
    assert_int_equal(spw_proto_put_heartbeat(&not_reply), 0);
    fake_send(fake, &not_reply);
    fake_reply(fake, &request, 1, SPW_STATUS_OK, "stale");
    fake_reply(fake, &request, 2, SPW_STATUS_OK, "fresh");

    const void *data[] = { "second" };
    size_t size[] = { 6 };
    spw_reply_t reply;
    spw_reply_init(&reply);
    spw_status_t status = spw_client_call(client, "echo", data, size, 1, PROMPT_MS, &reply);
    assert_int_equal(status, SPW_STATUS_OK);
    assert_int_equal(reply.request_id, 2);
    assert_int_equal(reply.body_count, 1);
    assert_true(frame_is_text(&reply.msg, reply.body_first, "fresh"));
    spw_reply_reset(&reply);

    spw_msg_reset(&request);
    fake_expect(fake, &request, SPW_CMD_REQUEST, &proto);
    assert_int_equal(proto.id, 2);
    assert_memory_equal(proto.service, "echo", proto.service_len);
    assert_true(frame_is_text(&request, proto.body_first, "second"));
    spw_msg_reset(&request);
    spw_client_destroy(&client);
    assert_null(client);
}

//  A call with no reply returns timeout once its time is up, not before.
static void test_client_call_times_out_when_no_reply_comes(void **state)
{
    fake_edge_t *fake = *state;
    spw_client_t *client = spw_client_new(fake->endpoint);
    assert_non_null(client);
    const void *data[] = { "x" };
    size_t size[] = { 1 };
    spw_reply_t reply;
    spw_reply_init(&reply);
    int64_t start = spw_clock_ms();
    spw_status_t status = spw_client_call(client, "echo", data, size, 1, 50, &reply);
    int64_t elapsed = spw_clock_ms() - start;
    assert_int_equal(status, SPW_STATUS_TIMEOUT);
    assert_true(elapsed >= 50);
    assert_true(elapsed < PROMPT_MS);
    assert_int_equal(reply.body_count, 0);
    spw_reply_reset(&reply);

    //  The request did go out, and a reply arriving now is left for recv.
    spw_msg_t request;
    spw_msg_init(&request);
    spw_proto_t proto;
    fake_expect(fake, &request, SPW_CMD_REQUEST, &proto);
    assert_int_equal(proto.id, 1);
    spw_msg_reset(&request);
    spw_client_destroy(&client);
}

//  Asynchronous requests get their replies, in the order they come.
static void test_client_recv_returns_replies_in_arrival_order(void **state)
{
    fake_edge_t *fake = *state;
    spw_client_t *client = spw_client_new(fake->endpoint);
    assert_non_null(client);
    for (int i = 0; i < 3; i++) {
        spw_msg_t body;
        spw_msg_init(&body);
        assert_int_equal(spw_msg_add_mem(&body, "x", 1), 0);
        uint64_t id;
        assert_int_equal(spw_client_send(client, "echo", &body, 0, &id), 0);
        assert_int_equal(id, (uint64_t) i + 1);
    }
    spw_msg_t request;
    spw_msg_init(&request);
    spw_proto_t proto;
    for (int i = 0; i < 3; i++) {
        spw_msg_reset(&request);
        fake_expect(fake, &request, SPW_CMD_REQUEST, &proto);
    }
    fake_reply(fake, &request, 3, SPW_STATUS_OVERLOADED, "queue full");
    fake_reply(fake, &request, 1, SPW_STATUS_OK, "one");
    spw_msg_reset(&request);

    spw_reply_t reply;
    spw_reply_init(&reply);
    assert_int_equal(spw_client_recv(client, &reply, PROMPT_MS), 0);
    assert_int_equal(reply.request_id, 3);
    assert_int_equal(reply.status, SPW_STATUS_OVERLOADED);
    assert_true(frame_is_text(&reply.msg, reply.body_first, "queue full"));
    assert_int_equal(spw_client_recv(client, &reply, PROMPT_MS), 0);
    assert_int_equal(reply.request_id, 1);
    assert_int_equal(reply.status, SPW_STATUS_OK);
    assert_int_equal(spw_client_recv(client, &reply, 20), -1);
    assert_int_equal(errno, EAGAIN);
    spw_reply_reset(&reply);
    spw_client_destroy(&client);
}

//  READY names the service; RESULT carries the task's key and body.
static void test_worker_says_ready_and_answers_task_with_its_key(void **state)
{
    fake_edge_t *fake = *state;
    spw_worker_t *worker = spw_worker_new(fake->endpoint, "echo", NULL);
    assert_non_null(worker);

    spw_msg_t ready;
    spw_msg_init(&ready);
    spw_proto_t proto;
    fake_expect(fake, &ready, SPW_CMD_READY, &proto);
    assert_memory_equal(proto.service, "echo", proto.service_len);

    spw_msg_t task_msg;
    fake_address(&task_msg, &ready);
    assert_int_equal(spw_proto_put_task(&task_msg, 42), 0);
    assert_int_equal(spw_msg_add_mem(&task_msg, "a", 1), 0);
    assert_int_equal(spw_msg_add_mem(&task_msg, "bc", 2), 0);
    fake_send(fake, &task_msg);

    spw_worker_task_t task;
    assert_int_equal(spw_worker_recv(worker, &task, PROMPT_MS), 0);
    assert_int_equal(task.key, 42);
    assert_int_equal(task.body_count, 2);
    assert_true(frame_is_text(&task.msg, task.body_first, "a"));
    assert_true(frame_is_text(&task.msg, task.body_first + 1, "bc"));

    spw_msg_t body;
    spw_msg_init(&body);
    assert_int_equal(spw_msg_move_frames(&body, &task.msg, task.body_first, task.body_count), 0);
    assert_int_equal(spw_worker_reply(worker, &task, SPW_STATUS_OK, &body), 0);
    assert_int_equal(task.msg.count, 0);

    spw_msg_t result;
    spw_msg_init(&result);
    fake_expect(fake, &result, SPW_CMD_RESULT, &proto);
    assert_true(same_peer(&result, &ready));
    assert_int_equal(proto.id, 42);
    assert_int_equal(proto.status, SPW_STATUS_OK);
    assert_int_equal(proto.body_count, 2);
    assert_true(frame_is_text(&result, proto.body_first, "a"));
    assert_true(frame_is_text(&result, proto.body_first + 1, "bc"));
    spw_msg_reset(&result);
    spw_msg_reset(&ready);
    spw_worker_destroy(&worker);
    assert_null(worker);
}

//  A waiting worker sends a heartbeat every heartbeat_ms.
static void test_worker_heartbeats_while_waiting(void **state)
{
    fake_edge_t *fake = *state;
    spw_worker_opts_t opts = { .heartbeat_ms = 20, .liveness = 1000 };
    spw_msg_t ready;
    spw_proto_t proto;
    spw_worker_t *worker = fake_ready_worker(fake, &opts, &ready, &proto);

    spw_worker_task_t task;
    assert_int_equal(spw_worker_recv(worker, &task, 110), -1);
    assert_int_equal(errno, EAGAIN);

    //  About five are due in 110 ms; ask for three to allow a slow machine.
    for (int i = 0; i < 3; i++) {
        spw_msg_t beat;
        spw_msg_init(&beat);
        if (fake_recv(fake, &beat, PROMPT_MS) != 0)
            fail_msg("expected heartbeat %d, got nothing", i + 1);
        assert_int_equal(spw_proto_decode(&beat, 1, &proto, NULL), 0);
        assert_int_equal(proto.cmd, SPW_CMD_HEARTBEAT);
        assert_true(same_peer(&beat, &ready));
        spw_msg_reset(&beat);
    }
    spw_msg_reset(&ready);
    spw_worker_destroy(&worker);
}

//  DISCONNECT from the edge makes the worker say READY on a new link.
static void test_worker_reconnects_after_edge_says_disconnect(void **state)
{
    fake_edge_t *fake = *state;
    spw_msg_t ready;
    spw_proto_t proto;
    spw_worker_t *worker = fake_ready_worker(fake, NULL, &ready, &proto);

    spw_msg_t bye;
    fake_address(&bye, &ready);
    assert_int_equal(spw_proto_put_disconnect(&bye), 0);
    fake_send(fake, &bye);
    spw_worker_task_t task;
    assert_int_equal(spw_worker_recv(worker, &task, 200), -1);
    assert_int_equal(errno, EAGAIN);

    spw_msg_t again;
    spw_msg_init(&again);
    fake_expect(fake, &again, SPW_CMD_READY, &proto);
    assert_false(same_peer(&again, &ready));

    //  The new link carries tasks.
    spw_msg_t task_msg;
    fake_address(&task_msg, &again);
    assert_int_equal(spw_proto_put_task(&task_msg, 7), 0);
    fake_send(fake, &task_msg);
    assert_int_equal(spw_worker_recv(worker, &task, PROMPT_MS), 0);
    assert_int_equal(task.key, 7);
    assert_int_equal(task.body_count, 0);
    spw_worker_task_reset(&task);
    spw_msg_reset(&again);
    spw_msg_reset(&ready);
    spw_worker_destroy(&worker);
}

//  A refusal's DISCONNECT makes the worker wait the retry it names before
//  it says READY again, and says it on a new link.
static void test_worker_waits_the_retry_a_refusal_names(void **state)
{
    fake_edge_t *fake = *state;
    spw_msg_t ready;
    spw_proto_t proto;
    spw_worker_t *worker = fake_ready_worker(fake, NULL, &ready, &proto);

    spw_msg_t bye;
    fake_address(&bye, &ready);
    assert_int_equal(spw_proto_put_dismiss(&bye, "the edge has max_workers workers", 300), 0);
    fake_send(fake, &bye);
    int64_t refused_at = spw_clock_ms();
    spw_worker_task_t task;
    //  It keeps its wait while the caller waits for tasks in short turns.
    for (int i = 0; i < 8; i++)
        assert_int_equal(spw_worker_recv(worker, &task, 50), -1);
    assert_int_equal(spw_worker_recv(worker, &task, 200), -1);
    spw_msg_t again;
    spw_msg_init(&again);
    fake_expect(fake, &again, SPW_CMD_READY, &proto);
    assert_true(spw_clock_ms() - refused_at >= 300);
    assert_false(same_peer(&again, &ready));
    spw_msg_reset(&again);
    spw_msg_reset(&ready);
    spw_worker_destroy(&worker);
}

//  The edge's ACCEPTED sets the heartbeat the worker keeps: here 30 ms,
//  where its own options say 1 s.
static void test_worker_heartbeats_at_the_interval_accepted_gives(void **state)
{
    fake_edge_t *fake = *state;
    spw_msg_t ready;
    spw_proto_t proto;
    spw_worker_t *worker = fake_ready_worker(fake, NULL, &ready, &proto);
    spw_msg_t accepted;
    fake_address(&accepted, &ready);
    assert_int_equal(spw_proto_put_accepted(&accepted, 30, 3, 1, 65536), 0);
    fake_send(fake, &accepted);
    spw_worker_task_t task;
    //  Let the worker read ACCEPTED, then count its heartbeats over 300 ms.
    assert_int_equal(spw_worker_recv(worker, &task, 20), -1);
    int heartbeats = 0;
    int64_t until = spw_clock_ms() + 300;
    while (spw_clock_ms() < until) {
        assert_int_equal(spw_worker_recv(worker, &task, 10), -1);
        spw_msg_t msg;
        spw_msg_init(&msg);
        while (fake_recv(fake, &msg, 0) == 0) {
            if (spw_proto_decode(&msg, 1, &proto, NULL) == 0 && proto.cmd == SPW_CMD_HEARTBEAT)
                heartbeats++;
            spw_msg_reset(&msg);
        }
        //  The fake edge stays alive to the worker, as a real one would.
        spw_msg_t beat;
        fake_address(&beat, &ready);
        assert_int_equal(spw_proto_put_heartbeat(&beat), 0);
        fake_send(fake, &beat);
    }
    assert_true(heartbeats >= 4);
    spw_msg_reset(&ready);
    spw_worker_destroy(&worker);
}

//  An edge silent for liveness heartbeats is left for a new link.
static void test_worker_reconnects_when_edge_falls_silent(void **state)
{
    fake_edge_t *fake = *state;
    spw_worker_opts_t opts = { .heartbeat_ms = 10, .liveness = 2, .reconnect_min_ms = 10,
                               .reconnect_max_ms = 20 };
    spw_msg_t ready;
    spw_proto_t proto;
    spw_worker_t *worker = fake_ready_worker(fake, &opts, &ready, &proto);

    spw_worker_task_t task;
    assert_int_equal(spw_worker_recv(worker, &task, 150), -1);
    assert_int_equal(errno, EAGAIN);
    spw_msg_t again;
    spw_msg_init(&again);
    fake_expect(fake, &again, SPW_CMD_READY, &proto);
    assert_false(same_peer(&again, &ready));
    spw_msg_reset(&again);
    spw_msg_reset(&ready);
    spw_worker_destroy(&worker);
}

//  Destroying a worker tells the edge it is leaving.
static void test_worker_destroy_says_disconnect(void **state)
{
    fake_edge_t *fake = *state;
    spw_msg_t ready;
    spw_proto_t proto;
    spw_worker_t *worker = fake_ready_worker(fake, NULL, &ready, &proto);
    spw_worker_destroy(&worker);
    assert_null(worker);
    spw_msg_t bye;
    spw_msg_init(&bye);
    fake_expect(fake, &bye, SPW_CMD_DISCONNECT, &proto);
    assert_true(same_peer(&bye, &ready));
    spw_msg_reset(&bye);
    spw_msg_reset(&ready);
}

//  Bad arguments give errors, never a crash.
static void test_apis_refuse_bad_arguments(void **state)
{
    fake_edge_t *fake = *state;
    assert_null(spw_client_new(NULL));
    assert_null(spw_worker_new(fake->endpoint, "bad name", NULL));
    assert_null(spw_worker_new(fake->endpoint, "", NULL));
    assert_null(spw_worker_new(NULL, "echo", NULL));

    spw_client_t *client = spw_client_new(fake->endpoint);
    assert_non_null(client);
    spw_msg_t body;
    spw_msg_init(&body);
    assert_int_equal(spw_msg_add_mem(&body, "x", 1), 0);
    assert_int_equal(spw_client_send(client, "no spaces", &body, 0, NULL), -1);
    assert_int_equal(body.count, 0);
    assert_int_equal(spw_client_call(NULL, "echo", NULL, NULL, 0, 10, NULL),
                     SPW_STATUS_BAD_REQUEST);
    assert_string_equal(spw_status_text(SPW_STATUS_TASK_ERROR), "task-error");
    spw_client_destroy(&client);
    spw_client_destroy(&client);
    spw_worker_destroy(NULL);
}

//  Runs every test against its own fake edge.
int main(void)
{
    spw_log_open("test", "client_worker", SPW_LOG_ERROR, SPW_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_client_call_matches_reply_id_and_skips_stale_replies,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_client_call_times_out_when_no_reply_comes,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_client_recv_returns_replies_in_arrival_order,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_worker_says_ready_and_answers_task_with_its_key,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_worker_heartbeats_while_waiting,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_worker_reconnects_after_edge_says_disconnect,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_worker_waits_the_retry_a_refusal_names,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_worker_heartbeats_at_the_interval_accepted_gives,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_worker_reconnects_when_edge_falls_silent,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_worker_destroy_says_disconnect,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_apis_refuse_bad_arguments,
                                        fake_setup, fake_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
