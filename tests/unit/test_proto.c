//  test_proto.c: the native protocol codec (spw_proto.h), read as its
//  specification.
//
//  Every encoder's output decodes back to the fields it was given; every
//  malformed shape a peer could send is refused with its exact reason, the
//  one the brokers log; the big-endian helpers, the frame-list limits and
//  the status names are pinned down too. Messages are built frame by frame
//  with spw_msg_add_mem, so a test states the wire shape it means, and every
//  message is reset at the end so that AddressSanitizer sees no leak.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "spw_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

//  Bigger than libzmq's in-place size, so that the frame is on the heap and
//  a frame that is never closed shows up as a leak.
#define HEAP_FRAME_SIZE 100

// --- helpers ----------------------------------------------------------------

static void add_mem(spw_msg_t *msg, const void *data, size_t size)
{
    assert_int_equal(spw_msg_add_mem(msg, data, size), 0);
}

static void add_text(spw_msg_t *msg, const char *text)
{
    add_mem(msg, text, strlen(text));
}

static void add_byte(spw_msg_t *msg, uint8_t value)
{
    add_mem(msg, &value, 1);
}

static void add_u64(spw_msg_t *msg, uint64_t value)
{
    uint8_t bytes[8];
    spw_put_u64(bytes, value);
    add_mem(msg, bytes, 8);
}

static void add_u32(spw_msg_t *msg, uint32_t value)
{
    uint8_t bytes[4];
    spw_put_u32(bytes, value);
    add_mem(msg, bytes, 4);
}

//  Appends the protocol header and a one-byte command frame.
static void add_head(spw_msg_t *msg, uint8_t cmd)
{
    add_text(msg, SPW_PROTO_HEADER);
    add_byte(msg, cmd);
}

//  Appends count body frames "b0", "b1", ...
static void add_body(spw_msg_t *msg, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char frame[24];
        snprintf(frame, sizeof frame, "b%zu", i);
        add_text(msg, frame);
    }
}

//  Asserts that frame i of msg holds exactly text.
static void assert_frame_text(const spw_msg_t *msg, size_t i, const char *text)
{
    if (!spw_msg_frame_is(msg, i, text, strlen(text))) {
        zmq_msg_t *frame = (zmq_msg_t *) &msg->frame[i];
        fail_msg("frame %zu: expected '%s', got %zu bytes '%.*s'", i, text,
                 zmq_msg_size(frame), (int) zmq_msg_size(frame),
                 (const char *) zmq_msg_data(frame));
    }
}

//  Asserts the decoded service name equals text.
static void assert_service(const spw_proto_t *proto, const char *text)
{
    assert_non_null(proto->service);
    if (proto->service_len != strlen(text)
        || memcmp(proto->service, text, proto->service_len) != 0)
        fail_msg("service: expected '%s', got '%.*s'", text, (int) proto->service_len,
                 proto->service);
}

//  Decodes msg from frame first and asserts it succeeds.
static void decode_ok(const spw_msg_t *msg, size_t first, spw_proto_t *proto)
{
    const char *why = NULL;
    int rc = spw_proto_decode(msg, first, proto, &why);
    if (rc != 0)
        fail_msg("expected the message to decode, got -1 (%s)", why ? why : "no reason");
}

//  Asserts that decoding msg from frame first fails with exactly why,
//  then resets msg.
static void assert_malformed(spw_msg_t *msg, size_t first, const char *expected_why)
{
    spw_proto_t proto;
    const char *why = NULL;
    assert_int_equal(spw_proto_decode(msg, first, &proto, &why), -1);
    assert_non_null(why);
    assert_string_equal(why, expected_why);
    spw_msg_reset(msg);
}

//  Fills msg to SPW_MAX_FRAMES empty frames.
static void fill_msg(spw_msg_t *msg)
{
    while (msg->count < SPW_MAX_FRAMES)
        add_mem(msg, NULL, 0);
}

// --- round trips --------------------------------------------------------------

static void test_proto_request_round_trips_with_service_timeout_and_body(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_request(&msg, 0x0102030405060708u, "echo.v2_x-y", 2500), 0);
    add_text(&msg, "hello");
    add_text(&msg, "world");
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.cmd, SPW_CMD_REQUEST);
    assert_int_equal(proto.id, 0x0102030405060708u);
    assert_service(&proto, "echo.v2_x-y");
    assert_int_equal(proto.timeout_ms, 2500);
    assert_int_equal(proto.body_first, 5);
    assert_int_equal(proto.body_count, 2);
    assert_frame_text(&msg, proto.body_first, "hello");
    assert_frame_text(&msg, proto.body_first + 1, "world");
    spw_msg_reset(&msg);
}

static void test_proto_request_without_body_has_empty_body(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_request(&msg, 1, "s", 0), 0);
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.timeout_ms, 0);
    assert_int_equal(proto.body_first, 5);
    assert_int_equal(proto.body_count, 0);
    spw_msg_reset(&msg);
}

static void test_proto_request_carries_extreme_id_and_timeout(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_request(&msg, UINT64_MAX, "echo", UINT32_MAX), 0);
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.id, UINT64_MAX);
    assert_int_equal(proto.timeout_ms, UINT32_MAX);
    spw_msg_reset(&msg);
}

static void test_proto_request_writes_its_fields_big_endian(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_request(&msg, 0x0102030405060708u, "echo", 0x0a0b0c0d), 0);
    assert_int_equal(msg.count, 5);
    assert_frame_text(&msg, 0, "SPW2");
    uint8_t cmd = SPW_CMD_REQUEST;
    assert_true(spw_msg_frame_is(&msg, 1, &cmd, 1));
    const uint8_t id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_true(spw_msg_frame_is(&msg, 2, id, 8));
    assert_frame_text(&msg, 3, "echo");
    const uint8_t timeout[4] = {0x0a, 0x0b, 0x0c, 0x0d};
    assert_true(spw_msg_frame_is(&msg, 4, timeout, 4));
    spw_msg_reset(&msg);
}

static void test_proto_request_encoder_refuses_invalid_service(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_request(&msg, 1, "", 0), -1);
    assert_int_equal(spw_proto_put_request(&msg, 1, "has space", 0), -1);
    assert_int_equal(msg.count, 0);
    spw_msg_reset(&msg);
}

static void test_proto_reply_round_trips_with_status_and_body(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_reply(&msg, 42, SPW_STATUS_TIMEOUT), 0);
    add_text(&msg, "why");
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.cmd, SPW_CMD_REPLY);
    assert_int_equal(proto.id, 42);
    assert_int_equal(proto.status, SPW_STATUS_TIMEOUT);
    assert_int_equal(proto.body_first, 4);
    assert_int_equal(proto.body_count, 1);
    assert_frame_text(&msg, 4, "why");
    spw_msg_reset(&msg);
}

static void test_proto_reply_round_trips_every_status(void **state)
{
    (void) state;
    for (int status = 0; status < SPW_STATUS_COUNT; status++) {
        spw_msg_t msg;
        spw_proto_t proto;
        spw_msg_init(&msg);
        assert_int_equal(spw_proto_put_reply(&msg, 7, (spw_status_t) status), 0);
        decode_ok(&msg, 0, &proto);
        assert_int_equal(proto.status, status);
        assert_int_equal(proto.body_count, 0);
        spw_msg_reset(&msg);
    }
}

static void test_proto_ready_round_trips_with_service(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_ready(&msg, "resize"), 0);
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.cmd, SPW_CMD_READY);
    assert_service(&proto, "resize");
    assert_int_equal(proto.body_first, 3);
    assert_int_equal(proto.body_count, 0);
    spw_msg_reset(&msg);
}

static void test_proto_ready_encoder_refuses_invalid_service(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_ready(&msg, "a/b"), -1);
    assert_int_equal(msg.count, 0);
    spw_msg_reset(&msg);
}

static void test_proto_task_round_trips_with_key_and_body(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_task(&msg, 0x0000000500000003u), 0);
    add_text(&msg, "one");
    add_text(&msg, "");
    add_text(&msg, "three");
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.cmd, SPW_CMD_TASK);
    assert_int_equal(proto.id, 0x0000000500000003u);
    assert_int_equal(proto.body_first, 3);
    assert_int_equal(proto.body_count, 3);
    assert_frame_text(&msg, 3, "one");
    assert_frame_text(&msg, 4, "");
    assert_frame_text(&msg, 5, "three");
    spw_msg_reset(&msg);
}

static void test_proto_result_round_trips_with_key_status_and_body(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_result(&msg, 99, SPW_STATUS_TASK_ERROR), 0);
    add_text(&msg, "stack trace");
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.cmd, SPW_CMD_RESULT);
    assert_int_equal(proto.id, 99);
    assert_int_equal(proto.status, SPW_STATUS_TASK_ERROR);
    assert_int_equal(proto.body_first, 4);
    assert_int_equal(proto.body_count, 1);
    assert_frame_text(&msg, 4, "stack trace");
    spw_msg_reset(&msg);
}

static void test_proto_heartbeat_round_trips(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_heartbeat(&msg), 0);
    assert_int_equal(msg.count, 2);
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.cmd, SPW_CMD_HEARTBEAT);
    assert_int_equal(proto.body_first, 2);
    assert_int_equal(proto.body_count, 0);
    spw_msg_reset(&msg);
}

static void test_proto_disconnect_round_trips(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_disconnect(&msg), 0);
    assert_int_equal(msg.count, 2);
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.cmd, SPW_CMD_DISCONNECT);
    assert_int_equal(proto.body_first, 2);
    assert_int_equal(proto.body_count, 0);
    spw_msg_reset(&msg);
}

static void test_proto_decodes_at_an_offset_after_an_identity_frame(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    const uint8_t identity[5] = {0, 'A', 0, 0, 'B'};
    spw_msg_init(&msg);
    add_mem(&msg, identity, sizeof identity);
    assert_int_equal(spw_proto_put_request(&msg, 5, "echo", 100), 0);
    add_text(&msg, "body");
    decode_ok(&msg, 1, &proto);
    assert_int_equal(proto.cmd, SPW_CMD_REQUEST);
    assert_int_equal(proto.id, 5);
    assert_service(&proto, "echo");
    assert_int_equal(proto.timeout_ms, 100);
    assert_int_equal(proto.body_first, 6);
    assert_int_equal(proto.body_count, 1);
    assert_frame_text(&msg, 6, "body");
    spw_msg_reset(&msg);
}

static void test_proto_decode_at_offset_zero_sees_the_identity_as_bad_header(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_text(&msg, "client-1");
    assert_int_equal(spw_proto_put_heartbeat(&msg), 0);
    assert_malformed(&msg, 0, "bad protocol header");
}

static void test_proto_accepts_exactly_max_body_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_request(&msg, 1, "echo", 0), 0);
    add_body(&msg, SPW_MAX_BODY_FRAMES);
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.body_count, SPW_MAX_BODY_FRAMES);
    spw_msg_reset(&msg);
}

static void test_proto_accepts_service_name_of_max_length(void **state)
{
    (void) state;
    char name[SPW_MAX_SERVICE_LEN + 1];
    memset(name, 'x', SPW_MAX_SERVICE_LEN);
    name[SPW_MAX_SERVICE_LEN] = '\0';
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_ready(&msg, name), 0);
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.service_len, SPW_MAX_SERVICE_LEN);
    spw_msg_reset(&msg);
}

// --- malformed: header and command ----------------------------------------------

static void test_proto_rejects_empty_message_as_too_few_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_malformed(&msg, 0, "too few frames");
}

static void test_proto_rejects_header_alone_as_too_few_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_text(&msg, SPW_PROTO_HEADER);
    assert_malformed(&msg, 0, "too few frames");
}

static void test_proto_rejects_too_few_frames_after_the_offset(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_text(&msg, "identity");
    add_text(&msg, SPW_PROTO_HEADER);
    assert_malformed(&msg, 1, "too few frames");
}

static void test_proto_rejects_offset_past_the_end_as_too_few_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_HEARTBEAT);
    assert_malformed(&msg, 5, "too few frames");
}

static void test_proto_rejects_header_with_wrong_text(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_text(&msg, "SPW1");
    add_byte(&msg, SPW_CMD_HEARTBEAT);
    assert_malformed(&msg, 0, "SPW1 peer: Spillway speaks SPW2");
    spw_msg_reset(&msg);
    add_text(&msg, "SPW9");
    add_byte(&msg, SPW_CMD_HEARTBEAT);
    assert_malformed(&msg, 0, "unknown protocol version: Spillway speaks SPW2");
    spw_msg_reset(&msg);
    add_text(&msg, "ABCD");
    add_byte(&msg, SPW_CMD_HEARTBEAT);
    assert_malformed(&msg, 0, "bad protocol header");
}

static void test_proto_rejects_header_that_is_too_long(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_text(&msg, "SPW1x");
    add_byte(&msg, SPW_CMD_HEARTBEAT);
    assert_malformed(&msg, 0, "bad protocol header");
}

static void test_proto_rejects_header_that_is_too_short(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_text(&msg, "SPW");
    add_byte(&msg, SPW_CMD_HEARTBEAT);
    assert_malformed(&msg, 0, "bad protocol header");
}

static void test_proto_rejects_empty_command_frame(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_text(&msg, SPW_PROTO_HEADER);
    add_mem(&msg, NULL, 0);
    assert_malformed(&msg, 0, "bad command frame");
}

static void test_proto_rejects_two_byte_command_frame(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_text(&msg, SPW_PROTO_HEADER);
    const uint8_t cmd[2] = {SPW_CMD_HEARTBEAT, 0};
    add_mem(&msg, cmd, 2);
    assert_malformed(&msg, 0, "bad command frame");
}

static void test_proto_rejects_unknown_command_byte(void **state)
{
    (void) state;
    const uint8_t unknown[] = {0x00, 0x03, 0x0f, 0x16, 0x7f, 0xff};
    for (size_t i = 0; i < sizeof unknown; i++) {
        spw_msg_t msg;
        spw_msg_init(&msg);
        add_head(&msg, unknown[i]);
        assert_malformed(&msg, 0, "unknown command");
    }
}

// --- malformed: REQUEST ------------------------------------------------------

static void test_proto_rejects_request_id_of_seven_bytes(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REQUEST);
    add_mem(&msg, "1234567", 7);
    add_text(&msg, "echo");
    add_u32(&msg, 0);
    assert_malformed(&msg, 0, "bad request id");
}

static void test_proto_rejects_request_id_of_nine_bytes(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REQUEST);
    add_mem(&msg, "123456789", 9);
    add_text(&msg, "echo");
    add_u32(&msg, 0);
    assert_malformed(&msg, 0, "bad request id");
}

static void test_proto_rejects_request_without_id(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REQUEST);
    assert_malformed(&msg, 0, "bad request id");
}

static void test_proto_takes_request_with_empty_service_as_the_default(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REQUEST);
    add_u64(&msg, 1);
    add_mem(&msg, NULL, 0);
    add_u32(&msg, 0);
    assert_int_equal(spw_proto_decode(&msg, 0, &in, NULL), 0);
    assert_int_equal(in.service_len, 0);  // the edge's default service
    spw_msg_reset(&msg);
}

static void test_proto_rejects_request_with_service_of_65_bytes(void **state)
{
    (void) state;
    char name[SPW_MAX_SERVICE_LEN + 1];
    memset(name, 'x', sizeof name);
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REQUEST);
    add_u64(&msg, 1);
    add_mem(&msg, name, sizeof name);
    add_u32(&msg, 0);
    assert_malformed(&msg, 0, "bad service name");
}

static void test_proto_rejects_request_with_bad_character_in_service(void **state)
{
    (void) state;
    const char *bad[] = {"has space", "a/b", "tab\t", "semi;colon", "star*", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        spw_msg_t msg;
        spw_msg_init(&msg);
        add_head(&msg, SPW_CMD_REQUEST);
        add_u64(&msg, 1);
        add_text(&msg, bad[i]);
        add_u32(&msg, 0);
        assert_malformed(&msg, 0, "bad service name");
    }
}

static void test_proto_rejects_request_with_nul_byte_in_service(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REQUEST);
    add_u64(&msg, 1);
    add_mem(&msg, "ec\0ho", 5);
    add_u32(&msg, 0);
    assert_malformed(&msg, 0, "bad service name");
}

static void test_proto_rejects_request_without_service(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REQUEST);
    add_u64(&msg, 1);
    assert_malformed(&msg, 0, "bad service name");
}

static void test_proto_rejects_request_with_three_byte_timeout(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REQUEST);
    add_u64(&msg, 1);
    add_text(&msg, "echo");
    add_mem(&msg, "\0\0\1", 3);
    assert_malformed(&msg, 0, "bad timeout");
}

static void test_proto_rejects_request_with_five_byte_timeout(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REQUEST);
    add_u64(&msg, 1);
    add_text(&msg, "echo");
    add_mem(&msg, "\0\0\0\0\1", 5);
    assert_malformed(&msg, 0, "bad timeout");
}

static void test_proto_rejects_request_without_timeout(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REQUEST);
    add_u64(&msg, 1);
    add_text(&msg, "echo");
    assert_malformed(&msg, 0, "bad timeout");
}

static void test_proto_rejects_request_with_too_many_body_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_request(&msg, 1, "echo", 0), 0);
    add_body(&msg, SPW_MAX_BODY_FRAMES + 1);
    assert_malformed(&msg, 0, "too many body frames");
}

// --- malformed: REPLY and RESULT ------------------------------------------------

static void test_proto_rejects_reply_id_of_seven_bytes(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REPLY);
    add_mem(&msg, "1234567", 7);
    add_byte(&msg, SPW_STATUS_OK);
    assert_malformed(&msg, 0, "bad request id");
}

static void test_proto_rejects_reply_id_of_nine_bytes(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REPLY);
    add_mem(&msg, "123456789", 9);
    add_byte(&msg, SPW_STATUS_OK);
    assert_malformed(&msg, 0, "bad request id");
}

static void test_proto_rejects_reply_with_status_count(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REPLY);
    add_u64(&msg, 1);
    add_byte(&msg, SPW_STATUS_COUNT);
    assert_malformed(&msg, 0, "bad status");
}

static void test_proto_rejects_reply_with_status_255(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REPLY);
    add_u64(&msg, 1);
    add_byte(&msg, 0xff);
    assert_malformed(&msg, 0, "bad status");
}

static void test_proto_rejects_reply_with_empty_status(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REPLY);
    add_u64(&msg, 1);
    add_mem(&msg, NULL, 0);
    assert_malformed(&msg, 0, "bad status");
}

static void test_proto_rejects_reply_with_two_byte_status(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REPLY);
    add_u64(&msg, 1);
    add_mem(&msg, "\0\0", 2);
    assert_malformed(&msg, 0, "bad status");
}

static void test_proto_rejects_reply_without_status(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_REPLY);
    add_u64(&msg, 1);
    assert_malformed(&msg, 0, "bad status");
}

static void test_proto_rejects_reply_with_too_many_body_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_reply(&msg, 1, SPW_STATUS_OK), 0);
    add_body(&msg, SPW_MAX_BODY_FRAMES + 1);
    assert_malformed(&msg, 0, "too many body frames");
}

static void test_proto_rejects_result_key_of_seven_bytes(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_RESULT);
    add_mem(&msg, "1234567", 7);
    add_byte(&msg, SPW_STATUS_OK);
    assert_malformed(&msg, 0, "bad task key");
}

static void test_proto_rejects_result_key_of_nine_bytes(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_RESULT);
    add_mem(&msg, "123456789", 9);
    add_byte(&msg, SPW_STATUS_OK);
    assert_malformed(&msg, 0, "bad task key");
}

static void test_proto_rejects_result_with_status_out_of_range(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_RESULT);
    add_u64(&msg, 1);
    add_byte(&msg, SPW_STATUS_COUNT);
    assert_malformed(&msg, 0, "bad status");
}

static void test_proto_rejects_result_with_two_byte_status(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_RESULT);
    add_u64(&msg, 1);
    add_mem(&msg, "\0\0", 2);
    assert_malformed(&msg, 0, "bad status");
}

static void test_proto_rejects_result_without_status(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_RESULT);
    add_u64(&msg, 1);
    assert_malformed(&msg, 0, "bad status");
}

static void test_proto_rejects_result_with_too_many_body_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_result(&msg, 1, SPW_STATUS_OK), 0);
    add_body(&msg, SPW_MAX_BODY_FRAMES + 1);
    assert_malformed(&msg, 0, "too many body frames");
}

// --- malformed: READY, TASK, HEARTBEAT, DISCONNECT ----------------------------------

static void test_proto_rejects_ready_without_service(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_READY);
    assert_malformed(&msg, 0, "bad service name");
}

static void test_proto_takes_ready_with_empty_service_as_the_default(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_READY);
    add_mem(&msg, NULL, 0);
    assert_int_equal(spw_proto_decode(&msg, 0, &in, NULL), 0);
    assert_int_equal(in.service_len, 0);
    spw_msg_reset(&msg);
}

static void test_proto_rejects_ready_with_service_of_65_bytes(void **state)
{
    (void) state;
    char name[SPW_MAX_SERVICE_LEN + 1];
    memset(name, 'x', sizeof name);
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_READY);
    add_mem(&msg, name, sizeof name);
    assert_malformed(&msg, 0, "bad service name");
}

static void test_proto_rejects_ready_with_bad_character_in_service(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_READY);
    add_text(&msg, "echo!");
    assert_malformed(&msg, 0, "bad service name");
}

static void test_proto_rejects_ready_with_extra_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_ready(&msg, "echo"), 0);
    add_text(&msg, "extra");  // where slots would be: not a u32
    assert_malformed(&msg, 0, "bad slots");
    assert_int_equal(spw_proto_put_ready_slots(&msg, "echo", 4), 0);
    add_text(&msg, "extra");
    assert_malformed(&msg, 0, "unexpected frames after command");
}

static void test_proto_ready_says_its_slots(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_ready(&msg, "echo"), 0);
    assert_int_equal(msg.count, 3);  // one slot: READY as every edge reads it
    assert_int_equal(spw_proto_decode(&msg, 0, &in, NULL), 0);
    assert_int_equal(in.count, 1);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_ready_slots(&msg, "echo", SPW_MAX_SLOTS), 0);
    assert_int_equal(spw_proto_decode(&msg, 0, &in, NULL), 0);
    assert_int_equal(in.count, SPW_MAX_SLOTS);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_ready_slots(&msg, "echo", 0), -1);
    assert_int_equal(spw_proto_put_ready_slots(&msg, "echo", SPW_MAX_SLOTS + 1), -1);
    spw_msg_reset(&msg);
    add_head(&msg, SPW_CMD_READY);
    add_text(&msg, "echo");
    add_u32(&msg, 0);
    assert_malformed(&msg, 0, "bad slots");
    add_head(&msg, SPW_CMD_READY);
    add_text(&msg, "echo");
    add_u32(&msg, SPW_MAX_SLOTS + 1);
    assert_malformed(&msg, 0, "bad slots");
}

static void test_proto_rejects_task_key_of_seven_bytes(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_TASK);
    add_mem(&msg, "1234567", 7);
    assert_malformed(&msg, 0, "bad task key");
}

static void test_proto_rejects_task_key_of_nine_bytes(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_TASK);
    add_mem(&msg, "123456789", 9);
    assert_malformed(&msg, 0, "bad task key");
}

static void test_proto_rejects_task_without_key(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_head(&msg, SPW_CMD_TASK);
    assert_malformed(&msg, 0, "bad task key");
}

static void test_proto_rejects_task_with_too_many_body_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_task(&msg, 1), 0);
    add_body(&msg, SPW_MAX_BODY_FRAMES + 1);
    assert_malformed(&msg, 0, "too many body frames");
}

static void test_proto_rejects_heartbeat_with_extra_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_heartbeat(&msg), 0);
    add_mem(&msg, NULL, 0);
    assert_malformed(&msg, 0, "unexpected frames after command");
}

static void test_proto_rejects_disconnect_with_extra_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    //  A reason needs its retry_ms.
    assert_int_equal(spw_proto_put_disconnect(&msg), 0);
    add_text(&msg, "bye");
    assert_malformed(&msg, 0, "bad disconnect reason");
    assert_int_equal(spw_proto_put_dismiss(&msg, "bye", 5), 0);
    add_text(&msg, "more");
    assert_malformed(&msg, 0, "unexpected frames after command");
}

static void test_proto_dismiss_round_trips_reason_and_retry(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_dismiss(&msg, "the edge has max_workers workers", 3000), 0);
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.cmd, SPW_CMD_DISCONNECT);
    assert_int_equal(proto.text_len, strlen("the edge has max_workers workers"));
    assert_memory_equal(proto.text, "the edge has max_workers workers", proto.text_len);
    assert_int_equal(proto.count, 3000);
    spw_msg_reset(&msg);
    //  A bare DISCONNECT (the side that leaves) has no reason and no wait.
    assert_int_equal(spw_proto_put_disconnect(&msg), 0);
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.text_len, 0);
    assert_int_equal(proto.count, 0);
    spw_msg_reset(&msg);
    char long_reason[SPW_MAX_TEXT_LEN + 2];
    memset(long_reason, 'x', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = 0;
    assert_int_equal(spw_proto_put_dismiss(&msg, long_reason, 0), -1);
    spw_msg_reset(&msg);
}

static void test_proto_accepted_round_trips_and_is_bounded(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_accepted(&msg, 250, 4, 16, 1048576), 0);
    decode_ok(&msg, 0, &proto);
    assert_int_equal(proto.cmd, SPW_CMD_ACCEPTED);
    assert_int_equal(proto.heartbeat_ms, 250);
    assert_int_equal(proto.liveness, 4);
    assert_int_equal(proto.count, 16);
    assert_int_equal(proto.max_bytes, 1048576);
    spw_msg_reset(&msg);
    //  Values that would break a worker's arithmetic of time, or say nothing.
    const uint32_t bad[][4] = {
        {0, 3, 1, 64}, {1000, 0, 1, 64}, {1000, 3, 0, 64}, {1000, 3, 1, 0},
        {1000, 3, SPW_MAX_SLOTS + 1, 64}, {SPW_PROTO_HEARTBEAT_MAX_MS + 1, 3, 1, 64},
        {1000, SPW_PROTO_LIVENESS_MAX + 1, 1, 64},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(spw_proto_put_accepted(&msg, bad[i][0], bad[i][1], bad[i][2], bad[i][3]),
                         0);
        assert_int_equal(spw_proto_decode(&msg, 0, &proto, NULL), -1);
        spw_msg_reset(&msg);
    }
    add_head(&msg, SPW_CMD_ACCEPTED);
    assert_malformed(&msg, 0, "bad accepted");
}

static void test_proto_v1_reply_has_the_old_header(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_v1_reply(&msg, 7, SPW_STATUS_BAD_REQUEST), 0);
    assert_int_equal(msg.count, 4);
    assert_frame_text(&msg, 0, "SPW1");
    uint8_t cmd = SPW_CMD_REPLY, status = SPW_STATUS_BAD_REQUEST;
    assert_true(spw_msg_frame_is(&msg, 1, &cmd, 1));
    assert_true(spw_msg_frame_is(&msg, 3, &status, 1));
    //  Ours would not read it: it is another version's.
    assert_malformed(&msg, 0, "SPW1 peer: Spillway speaks SPW2");
}

static void test_proto_too_many_body_frames_says_emsgsize(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_result(&msg, 1, SPW_STATUS_OK), 0);
    add_body(&msg, SPW_MAX_BODY_FRAMES + 1);
    assert_int_equal(spw_proto_decode(&msg, 0, &proto, NULL), -1);
    assert_int_equal(errno, EMSGSIZE);
    spw_msg_reset(&msg);
    add_head(&msg, SPW_CMD_RESULT);
    assert_int_equal(spw_proto_decode(&msg, 0, &proto, NULL), -1);
    assert_int_equal(errno, EPROTO);
    spw_msg_reset(&msg);
}

static void test_proto_decode_rejects_without_a_why_pointer(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t proto;
    spw_msg_init(&msg);
    add_text(&msg, "SPW1");
    add_byte(&msg, SPW_CMD_HEARTBEAT);
    assert_int_equal(spw_proto_decode(&msg, 0, &proto, NULL), -1);
    spw_msg_reset(&msg);
}

// --- big-endian helpers --------------------------------------------------------

static void test_proto_put_u64_writes_big_endian(void **state)
{
    (void) state;
    uint8_t bytes[8];
    const uint8_t expected[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    spw_put_u64(bytes, 0x0123456789abcdefu);
    assert_memory_equal(bytes, expected, 8);
}

static void test_proto_get_u64_reads_big_endian(void **state)
{
    (void) state;
    const uint8_t bytes[8] = {0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
    assert_int_equal(spw_get_u64(bytes), 0xfedcba9876543210u);
}

static void test_proto_u64_round_trips_extremes(void **state)
{
    (void) state;
    const uint64_t values[] = {0, 1, 0xff, 0x100, UINT32_MAX, (uint64_t) UINT32_MAX + 1,
                               UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint8_t bytes[8];
        spw_put_u64(bytes, values[i]);
        assert_int_equal(spw_get_u64(bytes), values[i]);
    }
}

static void test_proto_put_u32_writes_big_endian(void **state)
{
    (void) state;
    uint8_t bytes[4];
    const uint8_t expected[4] = {0xde, 0xad, 0xbe, 0xef};
    spw_put_u32(bytes, 0xdeadbeefu);
    assert_memory_equal(bytes, expected, 4);
}

static void test_proto_get_u32_reads_big_endian(void **state)
{
    (void) state;
    const uint8_t bytes[4] = {0x01, 0x02, 0x03, 0x04};
    assert_int_equal(spw_get_u32(bytes), 0x01020304u);
}

static void test_proto_u32_round_trips_extremes(void **state)
{
    (void) state;
    const uint32_t values[] = {0, 1, 0x80, 0xff00, 0x7fffffffu, 0x80000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint8_t bytes[4];
        spw_put_u32(bytes, values[i]);
        assert_int_equal(spw_get_u32(bytes), values[i]);
    }
}

// --- frame lists ------------------------------------------------------------------

static void test_msg_add_mem_refuses_past_max_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    fill_msg(&msg);
    assert_int_equal(spw_msg_add_mem(&msg, "x", 1), -1);
    assert_int_equal(msg.count, SPW_MAX_FRAMES);
    spw_msg_reset(&msg);
}

static void test_msg_add_move_refuses_past_max_frames_and_keeps_source(void **state)
{
    (void) state;
    spw_msg_t msg;
    zmq_msg_t src;
    spw_msg_init(&msg);
    fill_msg(&msg);
    assert_int_equal(zmq_msg_init_size(&src, HEAP_FRAME_SIZE), 0);
    assert_int_equal(spw_msg_add_move(&msg, &src), -1);
    assert_int_equal(msg.count, SPW_MAX_FRAMES);
    assert_int_equal(zmq_msg_size(&src), HEAP_FRAME_SIZE);
    zmq_msg_close(&src);
    spw_msg_reset(&msg);
}

static void test_msg_add_share_refuses_past_max_frames(void **state)
{
    (void) state;
    spw_msg_t msg;
    zmq_msg_t src;
    spw_msg_init(&msg);
    fill_msg(&msg);
    assert_int_equal(zmq_msg_init_size(&src, HEAP_FRAME_SIZE), 0);
    assert_int_equal(spw_msg_add_share(&msg, &src), -1);
    assert_int_equal(msg.count, SPW_MAX_FRAMES);
    zmq_msg_close(&src);
    spw_msg_reset(&msg);
}

static void test_msg_encoder_refuses_when_message_is_full(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    fill_msg(&msg);
    assert_int_equal(spw_proto_put_heartbeat(&msg), -1);
    assert_int_equal(spw_proto_put_task(&msg, 1), -1);
    assert_int_equal(msg.count, SPW_MAX_FRAMES);
    spw_msg_reset(&msg);
}

static void test_msg_add_move_takes_the_content_and_empties_the_source(void **state)
{
    (void) state;
    spw_msg_t msg;
    zmq_msg_t src;
    spw_msg_init(&msg);
    assert_int_equal(zmq_msg_init_size(&src, HEAP_FRAME_SIZE), 0);
    memset(zmq_msg_data(&src), 'm', HEAP_FRAME_SIZE);
    assert_int_equal(spw_msg_add_move(&msg, &src), 0);
    assert_int_equal(msg.count, 1);
    assert_int_equal(zmq_msg_size(&msg.frame[0]), HEAP_FRAME_SIZE);
    assert_int_equal(((uint8_t *) zmq_msg_data(&msg.frame[0]))[0], 'm');
    assert_int_equal(zmq_msg_size(&src), 0);
    zmq_msg_close(&src);
    spw_msg_reset(&msg);
}

static void test_msg_add_share_keeps_the_source_valid(void **state)
{
    (void) state;
    spw_msg_t msg;
    zmq_msg_t src;
    spw_msg_init(&msg);
    assert_int_equal(zmq_msg_init_size(&src, HEAP_FRAME_SIZE), 0);
    memset(zmq_msg_data(&src), 's', HEAP_FRAME_SIZE);
    assert_int_equal(spw_msg_add_share(&msg, &src), 0);
    assert_int_equal(zmq_msg_size(&msg.frame[0]), HEAP_FRAME_SIZE);
    assert_int_equal(zmq_msg_size(&src), HEAP_FRAME_SIZE);
    assert_int_equal(((uint8_t *) zmq_msg_data(&src))[HEAP_FRAME_SIZE - 1], 's');
    assert_int_equal(((uint8_t *) zmq_msg_data(&msg.frame[0]))[HEAP_FRAME_SIZE - 1], 's');
    zmq_msg_close(&src);
    spw_msg_reset(&msg);
}

static void test_msg_move_frames_leaves_the_source_frames_empty(void **state)
{
    (void) state;
    spw_msg_t src, dst;
    char big[HEAP_FRAME_SIZE];
    memset(big, 'z', sizeof big);
    spw_msg_init(&src);
    spw_msg_init(&dst);
    add_text(&src, "keep");
    add_mem(&src, big, sizeof big);
    add_text(&src, "two");
    add_text(&dst, "first");
    assert_int_equal(spw_msg_move_frames(&dst, &src, 1, 2), 0);
    assert_int_equal(dst.count, 3);
    assert_frame_text(&dst, 0, "first");
    assert_true(spw_msg_frame_is(&dst, 1, big, sizeof big));
    assert_frame_text(&dst, 2, "two");
    assert_frame_text(&src, 0, "keep");
    assert_int_equal(zmq_msg_size(&src.frame[1]), 0);
    assert_int_equal(zmq_msg_size(&src.frame[2]), 0);
    spw_msg_reset(&src);
    spw_msg_reset(&dst);
}

static void test_msg_move_frames_refuses_a_range_past_the_source(void **state)
{
    (void) state;
    spw_msg_t src, dst;
    spw_msg_init(&src);
    spw_msg_init(&dst);
    add_text(&src, "a");
    add_text(&src, "b");
    assert_int_equal(spw_msg_move_frames(&dst, &src, 1, 2), -1);
    assert_int_equal(dst.count, 0);
    assert_frame_text(&src, 1, "b");
    spw_msg_reset(&src);
    spw_msg_reset(&dst);
}

static void test_msg_move_frames_refuses_to_overflow_the_destination(void **state)
{
    (void) state;
    spw_msg_t src, dst;
    spw_msg_init(&src);
    spw_msg_init(&dst);
    add_text(&src, "a");
    add_text(&src, "b");
    while (dst.count < SPW_MAX_FRAMES - 1)
        add_mem(&dst, NULL, 0);
    assert_int_equal(spw_msg_move_frames(&dst, &src, 0, 2), -1);
    assert_int_equal(dst.count, SPW_MAX_FRAMES - 1);
    assert_frame_text(&src, 0, "a");
    assert_frame_text(&src, 1, "b");
    spw_msg_reset(&src);
    spw_msg_reset(&dst);
}

static void test_msg_bytes_sums_every_frame(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_msg_bytes(&msg), 0);
    add_text(&msg, "abc");
    add_mem(&msg, NULL, 0);
    add_text(&msg, "de");
    assert_int_equal(spw_msg_bytes(&msg), 5);
    spw_msg_reset(&msg);
}

static void test_msg_frame_is_false_past_the_last_frame(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    add_text(&msg, "a");
    assert_true(spw_msg_frame_is(&msg, 0, "a", 1));
    assert_false(spw_msg_frame_is(&msg, 1, "a", 1));
    assert_false(spw_msg_frame_is(&msg, 0, "b", 1));
    assert_false(spw_msg_frame_is(&msg, 0, "ab", 2));
    spw_msg_reset(&msg);
}

static void test_msg_reset_leaves_the_message_empty(void **state)
{
    (void) state;
    spw_msg_t msg;
    char big[HEAP_FRAME_SIZE] = {0};
    spw_msg_init(&msg);
    add_mem(&msg, big, sizeof big);
    add_text(&msg, "x");
    spw_msg_reset(&msg);
    assert_int_equal(msg.count, 0);
    assert_int_equal(spw_msg_add_mem(&msg, "y", 1), 0);
    assert_int_equal(msg.count, 1);
    spw_msg_reset(&msg);
}

// --- names ----------------------------------------------------------------------

static void test_status_name_spells_each_status(void **state)
{
    (void) state;
    assert_string_equal(spw_status_name(SPW_STATUS_OK), "ok");
    assert_string_equal(spw_status_name(SPW_STATUS_NO_SERVICE), "no-service");
    assert_string_equal(spw_status_name(SPW_STATUS_TIMEOUT), "timeout");
    assert_string_equal(spw_status_name(SPW_STATUS_OVERLOADED), "overloaded");
    assert_string_equal(spw_status_name(SPW_STATUS_FAILED), "failed");
    assert_string_equal(spw_status_name(SPW_STATUS_BAD_REQUEST), "bad-request");
    assert_string_equal(spw_status_name(SPW_STATUS_TASK_ERROR), "task-error");
    assert_string_equal(spw_status_name(SPW_STATUS_BUSY), "busy");
    assert_string_equal(spw_status_name(SPW_STATUS_TOO_LARGE), "too-large");
}

static void test_status_name_is_unknown_out_of_range(void **state)
{
    (void) state;
    assert_string_equal(spw_status_name(SPW_STATUS_COUNT), "unknown");
    assert_string_equal(spw_status_name((spw_status_t) 200), "unknown");
}

static void test_service_name_valid_accepts_the_documented_alphabet(void **state)
{
    (void) state;
    const char *name = "AZaz09._-";
    assert_true(spw_service_name_valid(name, strlen(name)));
    assert_false(spw_service_name_valid("a+b", 3));
    assert_false(spw_service_name_valid("", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_request_round_trips_with_service_timeout_and_body),
        cmocka_unit_test(test_proto_request_without_body_has_empty_body),
        cmocka_unit_test(test_proto_request_carries_extreme_id_and_timeout),
        cmocka_unit_test(test_proto_request_writes_its_fields_big_endian),
        cmocka_unit_test(test_proto_request_encoder_refuses_invalid_service),
        cmocka_unit_test(test_proto_reply_round_trips_with_status_and_body),
        cmocka_unit_test(test_proto_reply_round_trips_every_status),
        cmocka_unit_test(test_proto_ready_round_trips_with_service),
        cmocka_unit_test(test_proto_ready_encoder_refuses_invalid_service),
        cmocka_unit_test(test_proto_task_round_trips_with_key_and_body),
        cmocka_unit_test(test_proto_result_round_trips_with_key_status_and_body),
        cmocka_unit_test(test_proto_heartbeat_round_trips),
        cmocka_unit_test(test_proto_disconnect_round_trips),
        cmocka_unit_test(test_proto_decodes_at_an_offset_after_an_identity_frame),
        cmocka_unit_test(test_proto_decode_at_offset_zero_sees_the_identity_as_bad_header),
        cmocka_unit_test(test_proto_accepts_exactly_max_body_frames),
        cmocka_unit_test(test_proto_accepts_service_name_of_max_length),
        cmocka_unit_test(test_proto_rejects_empty_message_as_too_few_frames),
        cmocka_unit_test(test_proto_rejects_header_alone_as_too_few_frames),
        cmocka_unit_test(test_proto_rejects_too_few_frames_after_the_offset),
        cmocka_unit_test(test_proto_rejects_offset_past_the_end_as_too_few_frames),
        cmocka_unit_test(test_proto_rejects_header_with_wrong_text),
        cmocka_unit_test(test_proto_rejects_header_that_is_too_long),
        cmocka_unit_test(test_proto_rejects_header_that_is_too_short),
        cmocka_unit_test(test_proto_rejects_empty_command_frame),
        cmocka_unit_test(test_proto_rejects_two_byte_command_frame),
        cmocka_unit_test(test_proto_rejects_unknown_command_byte),
        cmocka_unit_test(test_proto_rejects_request_id_of_seven_bytes),
        cmocka_unit_test(test_proto_rejects_request_id_of_nine_bytes),
        cmocka_unit_test(test_proto_rejects_request_without_id),
        cmocka_unit_test(test_proto_takes_request_with_empty_service_as_the_default),
        cmocka_unit_test(test_proto_rejects_request_with_service_of_65_bytes),
        cmocka_unit_test(test_proto_rejects_request_with_bad_character_in_service),
        cmocka_unit_test(test_proto_rejects_request_with_nul_byte_in_service),
        cmocka_unit_test(test_proto_rejects_request_without_service),
        cmocka_unit_test(test_proto_rejects_request_with_three_byte_timeout),
        cmocka_unit_test(test_proto_rejects_request_with_five_byte_timeout),
        cmocka_unit_test(test_proto_rejects_request_without_timeout),
        cmocka_unit_test(test_proto_rejects_request_with_too_many_body_frames),
        cmocka_unit_test(test_proto_rejects_reply_id_of_seven_bytes),
        cmocka_unit_test(test_proto_rejects_reply_id_of_nine_bytes),
        cmocka_unit_test(test_proto_rejects_reply_with_status_count),
        cmocka_unit_test(test_proto_rejects_reply_with_status_255),
        cmocka_unit_test(test_proto_rejects_reply_with_empty_status),
        cmocka_unit_test(test_proto_rejects_reply_with_two_byte_status),
        cmocka_unit_test(test_proto_rejects_reply_without_status),
        cmocka_unit_test(test_proto_rejects_reply_with_too_many_body_frames),
        cmocka_unit_test(test_proto_rejects_result_key_of_seven_bytes),
        cmocka_unit_test(test_proto_rejects_result_key_of_nine_bytes),
        cmocka_unit_test(test_proto_rejects_result_with_status_out_of_range),
        cmocka_unit_test(test_proto_rejects_result_with_two_byte_status),
        cmocka_unit_test(test_proto_rejects_result_without_status),
        cmocka_unit_test(test_proto_rejects_result_with_too_many_body_frames),
        cmocka_unit_test(test_proto_rejects_ready_without_service),
        cmocka_unit_test(test_proto_takes_ready_with_empty_service_as_the_default),
        cmocka_unit_test(test_proto_rejects_ready_with_service_of_65_bytes),
        cmocka_unit_test(test_proto_rejects_ready_with_bad_character_in_service),
        cmocka_unit_test(test_proto_rejects_ready_with_extra_frames),
        cmocka_unit_test(test_proto_ready_says_its_slots),
        cmocka_unit_test(test_proto_rejects_task_key_of_seven_bytes),
        cmocka_unit_test(test_proto_rejects_task_key_of_nine_bytes),
        cmocka_unit_test(test_proto_rejects_task_without_key),
        cmocka_unit_test(test_proto_rejects_task_with_too_many_body_frames),
        cmocka_unit_test(test_proto_rejects_heartbeat_with_extra_frames),
        cmocka_unit_test(test_proto_rejects_disconnect_with_extra_frames),
        cmocka_unit_test(test_proto_dismiss_round_trips_reason_and_retry),
        cmocka_unit_test(test_proto_accepted_round_trips_and_is_bounded),
        cmocka_unit_test(test_proto_v1_reply_has_the_old_header),
        cmocka_unit_test(test_proto_too_many_body_frames_says_emsgsize),
        cmocka_unit_test(test_proto_decode_rejects_without_a_why_pointer),
        cmocka_unit_test(test_proto_put_u64_writes_big_endian),
        cmocka_unit_test(test_proto_get_u64_reads_big_endian),
        cmocka_unit_test(test_proto_u64_round_trips_extremes),
        cmocka_unit_test(test_proto_put_u32_writes_big_endian),
        cmocka_unit_test(test_proto_get_u32_reads_big_endian),
        cmocka_unit_test(test_proto_u32_round_trips_extremes),
        cmocka_unit_test(test_msg_add_mem_refuses_past_max_frames),
        cmocka_unit_test(test_msg_add_move_refuses_past_max_frames_and_keeps_source),
        cmocka_unit_test(test_msg_add_share_refuses_past_max_frames),
        cmocka_unit_test(test_msg_encoder_refuses_when_message_is_full),
        cmocka_unit_test(test_msg_add_move_takes_the_content_and_empties_the_source),
        cmocka_unit_test(test_msg_add_share_keeps_the_source_valid),
        cmocka_unit_test(test_msg_move_frames_leaves_the_source_frames_empty),
        cmocka_unit_test(test_msg_move_frames_refuses_a_range_past_the_source),
        cmocka_unit_test(test_msg_move_frames_refuses_to_overflow_the_destination),
        cmocka_unit_test(test_msg_bytes_sums_every_frame),
        cmocka_unit_test(test_msg_frame_is_false_past_the_last_frame),
        cmocka_unit_test(test_msg_reset_leaves_the_message_empty),
        cmocka_unit_test(test_status_name_spells_each_status),
        cmocka_unit_test(test_status_name_is_unknown_out_of_range),
        cmocka_unit_test(test_service_name_valid_accepts_the_documented_alphabet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
