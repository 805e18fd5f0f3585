//  test_proto_hub.c: the edge <-> hub and edge <-> edge commands of SPW2
//  (docs/protocol.md): each round-trips through its encoder and the
//  decoder, and each malformed shape is refused with its reason.

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spw_proto.h"

static void decode_ok(spw_msg_t *msg, spw_proto_t *out)
{
    const char *why = NULL;
    int rc = spw_proto_decode(msg, 0, out, &why);
    if (rc != 0)
        fail_msg("expected the message to decode, got: %s", why);
}

static const char *decode_error(spw_msg_t *msg)
{
    spw_proto_t out;
    const char *why = NULL;
    if (spw_proto_decode(msg, 0, &out, &why) == 0)
        fail_msg("expected a malformed message, it decoded");
    return why;
}

static void assert_text(const char *text, size_t len, const char *expected)
{
    assert_int_equal(len, strlen(expected));
    assert_memory_equal(text, expected, len);
}

static void test_register_round_trips_name_epoch_advertise_and_zone(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_register(&msg, "edge-a", 0x0102030405060708u,
                                            "tcp://10.0.0.1:5557", "eu-west"), 0);
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_REGISTER);
    assert_text(in.name, in.name_len, "edge-a");
    assert_true(in.epoch == 0x0102030405060708u);
    assert_text(in.endpoint, in.endpoint_len, "tcp://10.0.0.1:5557");
    assert_text(in.text, in.text_len, "eu-west");
    spw_msg_reset(&msg);
}

static void test_register_accepts_an_empty_zone_but_not_an_empty_advertise(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_register(&msg, "a", 1, "ipc:///x", ""), 0);
    decode_ok(&msg, &in);
    assert_int_equal(in.text_len, 0);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_register(&msg, "a", 1, "", ""), -1);
    spw_msg_reset(&msg);
    //  A zone reaches logs and the status table: spelled as a name, or none.
    assert_int_equal(spw_proto_put_register(&msg, "a", 1, "ipc:///x", "eu-west.2"), 0);
    decode_ok(&msg, &in);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_register(&msg, "a", 1, "ipc:///x", "rack\n7"), 0);
    assert_string_equal(decode_error(&msg), "bad zone");
    spw_msg_reset(&msg);
}

static void test_register_with_a_bad_name_is_malformed(void **state)
{
    (void) state;
    spw_msg_t msg;
    uint8_t epoch[8] = { 0 };
    spw_msg_init(&msg);
    spw_msg_add_mem(&msg, "SPW2", 4);
    spw_msg_add_mem(&msg, (uint8_t[]) { SPW_CMD_REGISTER }, 1);
    spw_msg_add_mem(&msg, "bad name", 8);
    spw_msg_add_mem(&msg, epoch, 8);
    spw_msg_add_mem(&msg, "ipc://x", 7);
    spw_msg_add_mem(&msg, "", 0);
    assert_string_equal(decode_error(&msg), "bad edge name");
    spw_msg_reset(&msg);
}

static void test_welcome_round_trips_and_refuses_zero_heartbeat(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_welcome(&msg, "tcp://*:5561", 250, 4), 0);
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_WELCOME);
    assert_text(in.endpoint, in.endpoint_len, "tcp://*:5561");
    assert_int_equal(in.count, 250);
    assert_int_equal(in.liveness, 4);
    spw_msg_reset(&msg);
    spw_proto_put_welcome(&msg, "tcp://*:5561", 0, 4);
    assert_string_equal(decode_error(&msg), "bad welcome");
    spw_msg_reset(&msg);
    //  A rogue hub's 2^32 - 1 would overflow the edge's liveness arithmetic.
    spw_proto_put_welcome(&msg, "tcp://*:5561", UINT32_MAX, UINT32_MAX);
    assert_string_equal(decode_error(&msg), "welcome's heartbeat or liveness out of range");
    spw_msg_reset(&msg);
    spw_proto_put_welcome(&msg, "tcp://*:5561", SPW_PROTO_HEARTBEAT_MAX_MS, SPW_PROTO_LIVENESS_MAX);
    decode_ok(&msg, &in);
    spw_msg_reset(&msg);
}

static void test_refused_carries_reason_and_retry(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_refused(&msg, "name 'A' is held by a live edge", 3000), 0);
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_REFUSED);
    assert_text(in.text, in.text_len, "name 'A' is held by a live edge");
    assert_int_equal(in.count, 3000);
    spw_msg_reset(&msg);
}

static void test_match_round_trips_flags_and_every_record_in_order(void **state)
{
    (void) state;
    spw_match_entry_t matches[] = {
        { "B", 1, "tcp://b:5557", 12, 0x1122334455667788u, SPW_MATCH_LEND_TO, 2353 },
        { "edge-c", 6, "ipc:///tmp/c.ipc", 16, 7, SPW_MATCH_BORROW_FROM, 1000 },
    };
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_match(&msg, "echo", 0, matches, 2), 0);
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_MATCH);
    assert_text(in.service, in.service_len, "echo");
    assert_int_equal(in.event, 0);
    size_t offset = 0;
    spw_match_entry_t got;
    assert_int_equal(spw_proto_next_match(&in, &offset, &got), 1);
    assert_text(got.name, got.name_len, "B");
    assert_text(got.endpoint, got.endpoint_len, "tcp://b:5557");
    assert_true(got.epoch == 0x1122334455667788u);
    assert_int_equal(got.role, SPW_MATCH_LEND_TO);
    assert_int_equal(got.slots_milli, 2353);
    assert_int_equal(spw_proto_next_match(&in, &offset, &got), 1);
    assert_text(got.name, got.name_len, "edge-c");
    assert_int_equal(got.role, SPW_MATCH_BORROW_FROM);
    assert_int_equal(got.slots_milli, 1000);
    assert_int_equal(spw_proto_next_match(&in, &offset, &got), 0);
    spw_msg_reset(&msg);
}

static void test_match_with_no_records_and_the_no_offer_flag_is_valid(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_match(&msg, "echo", SPW_MATCH_NO_OFFER, NULL, 0), 0);
    decode_ok(&msg, &in);
    assert_int_equal(in.records_len, 0);
    assert_int_equal(in.event, SPW_MATCH_NO_OFFER);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_match(&msg, "echo", 0x80, NULL, 0), -1);
    spw_msg_reset(&msg);
}

static void test_match_with_a_truncated_or_zero_record_is_malformed(void **state)
{
    (void) state;
    //  name, endpoint, epoch (8 bytes), role, share (4 bytes)
    uint8_t cut[] = { 1, 'B', 3, 'x', ':', '/', 0, 0, 0, 0, 0, 0, 0, 9, 1, 0, 0 };  // share cut
    uint8_t zero[] = { 1, 'B', 3, 'x', ':', '/', 0, 0, 0, 0, 0, 0, 0, 9, 1, 0, 0, 0, 0 };
    uint8_t role[] = { 1, 'B', 3, 'x', ':', '/', 0, 0, 0, 0, 0, 0, 0, 9, 7, 0, 0, 0, 1 };
    uint8_t *cases[] = { cut, zero, role };
    size_t sizes[] = { sizeof cut, sizeof zero, sizeof role };
    for (size_t i = 0; i < 3; i++) {
        spw_msg_t msg;
        spw_msg_init(&msg);
        spw_msg_add_mem(&msg, "SPW2", 4);
        spw_msg_add_mem(&msg, (uint8_t[]) { SPW_CMD_MATCH }, 1);
        spw_msg_add_mem(&msg, "echo", 4);
        spw_msg_add_mem(&msg, (uint8_t[]) { 0 }, 1);
        spw_msg_add_mem(&msg, cases[i], sizes[i]);
        assert_string_equal(decode_error(&msg), "bad match records");
        spw_msg_reset(&msg);
    }
}

//  STATE may end with the lenders the edge cut off; a bad list is malformed.
static void test_state_may_say_the_edge_is_draining(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    //  An empty avoid list, then the flags: draining, and a bit not known yet.
    assert_int_equal(spw_proto_put_state(&msg, "A", 9, 0, 0, NULL, 0), 0);
    assert_int_equal(spw_proto_put_avoid(&msg, NULL, 0), 0);
    assert_int_equal(spw_proto_put_state_flags(&msg, SPW_STATE_DRAINING | 0x80), 0);
    assert_int_equal(spw_proto_decode(&msg, 0, &in, NULL), 0);
    assert_int_equal(in.event, SPW_STATE_DRAINING);
    size_t offset = 0, len;
    const char *name;
    assert_int_equal(spw_proto_next_avoid(&in, &offset, &name, &len), 0);
    spw_msg_reset(&msg);
    //  Without flags it is not draining.
    assert_int_equal(spw_proto_put_state(&msg, "A", 9, 0, 0, NULL, 0), 0);
    assert_int_equal(spw_proto_decode(&msg, 0, &in, NULL), 0);
    assert_int_equal(in.event, 0);
    spw_msg_reset(&msg);
    //  Flags are one byte.
    assert_int_equal(spw_proto_put_state(&msg, "A", 9, 0, 0, NULL, 0), 0);
    assert_int_equal(spw_proto_put_avoid(&msg, NULL, 0), 0);
    assert_int_equal(spw_msg_add_mem(&msg, "\1\1", 2), 0);
    assert_string_equal(decode_error(&msg), "bad state flags");
    spw_msg_reset(&msg);
}

static void test_state_carries_an_avoid_list(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    const char *names[] = { "F", "lender-2" };
    assert_int_equal(spw_proto_put_state(&msg, "A", 9, 0, 0, NULL, 0), 0);
    assert_int_equal(spw_proto_put_avoid(&msg, names, 2), 0);
    assert_int_equal(spw_proto_decode(&msg, 0, &in, NULL), 0);
    size_t offset = 0, len;
    const char *name;
    assert_int_equal(spw_proto_next_avoid(&in, &offset, &name, &len), 1);
    assert_int_equal(len, 1);
    assert_memory_equal(name, "F", 1);
    assert_int_equal(spw_proto_next_avoid(&in, &offset, &name, &len), 1);
    assert_memory_equal(name, "lender-2", 8);
    assert_int_equal(spw_proto_next_avoid(&in, &offset, &name, &len), 0);
    spw_msg_reset(&msg);
    //  Without the frame there is nothing to avoid.
    assert_int_equal(spw_proto_put_state(&msg, "A", 9, 0, 0, NULL, 0), 0);
    assert_int_equal(spw_proto_decode(&msg, 0, &in, NULL), 0);
    offset = 0;
    assert_int_equal(spw_proto_next_avoid(&in, &offset, &name, &len), 0);
    spw_msg_reset(&msg);
    //  A name running past the frame, or a bad name, or too many.
    const uint8_t bad[][4] = { { 5, 'F', 'G' }, { 1, ' ' }, { 0 } };
    const size_t bad_len[] = { 3, 2, 1 };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(spw_proto_put_state(&msg, "A", 9, 0, 0, NULL, 0), 0);
        assert_int_equal(spw_msg_add_mem(&msg, bad[i], bad_len[i]), 0);
        assert_string_equal(decode_error(&msg), "bad avoid list");
        spw_msg_reset(&msg);
    }
    const char *many[SPW_MAX_AVOID + 1];
    for (size_t i = 0; i <= SPW_MAX_AVOID; i++)
        many[i] = "X";
    assert_int_equal(spw_proto_put_avoid(&msg, many, SPW_MAX_AVOID + 1), -1);
    spw_msg_reset(&msg);
}

static void test_hub_and_cloud_commands_need_the_spw2_header(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_hello(&msg, "A"), 0);
    assert_true(spw_msg_frame_is(&msg, 0, "SPW2", 4));
    //  The same command under an SPW1 header is an old peer's, not ours.
    zmq_msg_close(&msg.frame[0]);
    zmq_msg_init_size(&msg.frame[0], 4);
    memcpy(zmq_msg_data(&msg.frame[0]), "SPW1", 4);
    assert_string_equal(decode_error(&msg), "SPW1 peer: Spillway speaks SPW2");
    spw_msg_reset(&msg);
    //  Every link speaks SPW2, the commands all peers share too.
    assert_int_equal(spw_proto_put_heartbeat(&msg), 0);
    assert_true(spw_msg_frame_is(&msg, 0, "SPW2", 4));
    spw_msg_reset(&msg);
}

static void test_credit_revoke_return_and_hello_round_trip(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_credit(&msg, "echo", 3, 2500), 0);
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_CREDIT);
    assert_text(in.service, in.service_len, "echo");
    assert_int_equal(in.count, 3);
    assert_int_equal(in.lease_ms, 2500);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_credit(&msg, "echo", 0, 2500), 0);  // a refresh
    decode_ok(&msg, &in);
    assert_int_equal(in.count, 0);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_credit(&msg, "echo", 1, 0), -1);  // no lease
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_revoke(&msg, "echo", 0), 0);  // all of them
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_REVOKE);
    assert_int_equal(in.count, 0);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_return(&msg, "echo", 2), 0);
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_RETURN);
    assert_int_equal(in.count, 2);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_return(&msg, "echo", 0), -1);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_hello(&msg, "edge-a"), 0);
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_HELLO);
    assert_text(in.name, in.name_len, "edge-a");
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_hello(&msg, "bad name"), -1);
    spw_msg_reset(&msg);
}

static void test_member_round_trips_each_event_and_refuses_others(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    for (int event = SPW_MEMBER_JOINED; event <= SPW_MEMBER_LEFT; event++) {
        assert_int_equal(spw_proto_put_member(&msg, (spw_member_event_t) event, "B", "tcp://b:1",
                                              42 + (uint64_t) event),
                         0);
        decode_ok(&msg, &in);
        assert_int_equal(in.event, event);
        assert_text(in.name, in.name_len, "B");
        assert_true(in.epoch == 42 + (uint64_t) event);
        spw_msg_reset(&msg);
    }
    spw_proto_put_member(&msg, (spw_member_event_t) 9, "B", "tcp://b:1", 1);
    assert_string_equal(decode_error(&msg), "bad member event");
    spw_msg_reset(&msg);
}

static void test_state_round_trips_counters_and_every_service(void **state)
{
    (void) state;
    spw_service_figures_t figures[] = {
        { "echo", 4, 8, 2, 1, 3, 12345, 2, 5, SPW_ROLE_BORROWER },
        { "resize", 6, 0, 0, 0, 0, 0, 0, 0, 0 },
    };
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_state(&msg, "A", 99, 1000, 20, figures, 2), 0);
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_STATE);
    assert_text(in.name, in.name_len, "A");
    assert_true(in.epoch == 99 && in.out == 1000 && in.in == 20);
    size_t offset = 0;
    spw_service_figures_t got;
    assert_int_equal(spw_proto_next_figures(&in, &offset, &got), 1);
    assert_text(got.service, got.service_len, "echo");
    assert_int_equal(got.workers, 8);
    assert_int_equal(got.idle, 2);
    assert_int_equal(got.queued, 1);
    assert_int_equal(got.running, 3);
    assert_int_equal(got.rate_milli, 12345);
    assert_int_equal(got.lent, 2);
    assert_int_equal(got.borrowed, 5);
    assert_int_equal(got.role, SPW_ROLE_BORROWER);
    assert_int_equal(spw_proto_next_figures(&in, &offset, &got), 1);
    assert_text(got.service, got.service_len, "resize");
    assert_int_equal(spw_proto_next_figures(&in, &offset, &got), 0);
    spw_msg_reset(&msg);
}

static void test_state_with_an_unknown_role_is_refused(void **state)
{
    (void) state;
    spw_service_figures_t figures[] = { { "echo", 4, 8, 2, 1, 3, 12345, 2, 5, 3 } };
    spw_msg_t msg;
    spw_msg_init(&msg);
    //  The encoder refuses to write it; a hand-made one is refused on decode.
    assert_int_equal(spw_proto_put_state(&msg, "A", 99, 1000, 20, figures, 1), -1);
    spw_msg_reset(&msg);
    figures[0].role = SPW_ROLE_LENDER;
    assert_int_equal(spw_proto_put_state(&msg, "A", 99, 1000, 20, figures, 1), 0);
    zmq_msg_t *records = &msg.frame[msg.count - 1];
    uint8_t *data = zmq_msg_data(records);
    data[zmq_msg_size(records) - 1] = 7;
    assert_string_equal(decode_error(&msg), "bad service figures");
    spw_msg_reset(&msg);
}

static void test_role_of_figures(void **state)
{
    (void) state;
    //  workers, idle, queued, lent, borrowed
    assert_int_equal(spw_role_of(4, 0, 3, 0, 0), SPW_ROLE_BORROWER);
    assert_int_equal(spw_role_of(4, 0, 0, 0, 2), SPW_ROLE_BORROWER);   // drained into credit
    assert_int_equal(spw_role_of(0, 0, 1, 0, 0), SPW_ROLE_BORROWER);   // no workers at all
    assert_int_equal(spw_role_of(4, 2, 0, 0, 0), SPW_ROLE_LENDER);
    assert_int_equal(spw_role_of(4, 0, 0, 4, 0), SPW_ROLE_LENDER);     // every worker lent
    assert_int_equal(spw_role_of(4, 1, 0, 0, 3), SPW_ROLE_NONE);       // its own tasks out
    assert_int_equal(spw_role_of(4, 1, 2, 0, 0), SPW_ROLE_NONE);       // turning over
    assert_int_equal(spw_role_of(4, 0, 0, 0, 0), SPW_ROLE_NONE);       // busy, nothing waits
    assert_int_equal(spw_role_of(0, 0, 0, 3, 0), SPW_ROLE_NONE);       // no workers to lend
    assert_int_equal(spw_role_of(UINT32_MAX, 0, UINT32_MAX, 0, UINT32_MAX), SPW_ROLE_BORROWER);
}

static void test_delegate_round_trips_and_keeps_the_body(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_delegate(&msg, "A", 0xabcdef, "echo", 1500), 0);
    spw_msg_add_mem(&msg, "one", 3);
    spw_msg_add_mem(&msg, "two", 3);
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_DELEGATE);
    assert_text(in.name, in.name_len, "A");
    assert_true(in.id == 0xabcdef);
    assert_text(in.service, in.service_len, "echo");
    assert_int_equal(in.timeout_ms, 1500);
    assert_int_equal(in.body_count, 2);
    spw_msg_reset(&msg);
    assert_int_equal(spw_proto_put_delegate(&msg, "A", 1, "echo", 0), -1);
    spw_msg_reset(&msg);
}

static void test_done_round_trips_status_credit_and_body(void **state)
{
    (void) state;
    spw_msg_t msg;
    spw_proto_t in;
    spw_msg_init(&msg);
    assert_int_equal(spw_proto_put_done(&msg, 42, SPW_STATUS_BUSY, 3), 0);
    spw_msg_add_mem(&msg, "no idle worker", 14);
    decode_ok(&msg, &in);
    assert_int_equal(in.cmd, SPW_CMD_DONE);
    assert_true(in.id == 42);
    assert_int_equal(in.status, SPW_STATUS_BUSY);
    assert_int_equal(in.count, 3);
    assert_int_equal(in.body_count, 1);
    spw_msg_reset(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_round_trips_name_epoch_advertise_and_zone),
        cmocka_unit_test(test_register_accepts_an_empty_zone_but_not_an_empty_advertise),
        cmocka_unit_test(test_register_with_a_bad_name_is_malformed),
        cmocka_unit_test(test_welcome_round_trips_and_refuses_zero_heartbeat),
        cmocka_unit_test(test_refused_carries_reason_and_retry),
        cmocka_unit_test(test_match_round_trips_flags_and_every_record_in_order),
        cmocka_unit_test(test_match_with_no_records_and_the_no_offer_flag_is_valid),
        cmocka_unit_test(test_match_with_a_truncated_or_zero_record_is_malformed),
        cmocka_unit_test(test_hub_and_cloud_commands_need_the_spw2_header),
        cmocka_unit_test(test_state_carries_an_avoid_list),
        cmocka_unit_test(test_state_may_say_the_edge_is_draining),
        cmocka_unit_test(test_credit_revoke_return_and_hello_round_trip),
        cmocka_unit_test(test_member_round_trips_each_event_and_refuses_others),
        cmocka_unit_test(test_state_round_trips_counters_and_every_service),
        cmocka_unit_test(test_role_of_figures),
        cmocka_unit_test(test_state_with_an_unknown_role_is_refused),
        cmocka_unit_test(test_delegate_round_trips_and_keeps_the_body),
        cmocka_unit_test(test_done_round_trips_status_credit_and_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
