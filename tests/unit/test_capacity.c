//  test_capacity.c: the hub's capacity table (hub/capacity.h), read as its
//  specification.
//
//  Registration tells a new edge, a re-register, a restart and a name clash
//  apart by epoch and the hold rule, within the table's bound; state
//  messages replace the services and counters as reported (idle capped at
//  workers), and are refused from an incarnation the table does not know;
//  silent edges are returned dead exactly once; records are found, walked
//  and forgotten; and destroying a full table leaks nothing
//  (AddressSanitizer).

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "capacity.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_EDGES    3
#define MAX_SERVICES 2
#define HOLD_MS      1000
#define SILENCE_MS   3000

static const char *reg_name(spw_reg_result_t result)
{
    switch (result) {
    case SPW_REG_NEW: return "NEW";
    case SPW_REG_SAME: return "SAME";
    case SPW_REG_RESTARTED: return "RESTARTED";
    case SPW_REG_NAME_TAKEN: return "NAME_TAKEN";
    case SPW_REG_FULL: return "FULL";
    case SPW_REG_INVALID: return "INVALID";
    }
    return "?";
}

static void expect_reg(spw_reg_result_t got, spw_reg_result_t expected, const char *what)
{
    if (got != expected)
        fail_msg("%s: expected %s, got %s", what, reg_name(expected), reg_name(got));
}

static spw_capacity_t *new_table(void)
{
    spw_capacity_t *table = spw_capacity_new(MAX_EDGES, MAX_SERVICES);
    assert_non_null(table);
    return table;
}

static spw_edge_state_t *join(spw_capacity_t *table, const char *name, uint64_t epoch, int64_t now)
{
    spw_edge_state_t *edge = NULL;
    expect_reg(spw_capacity_register(table, name, epoch, "tcp://10.0.0.1:5557", "", now,
                                     HOLD_MS, &edge),
               SPW_REG_NEW, name);
    assert_non_null(edge);
    return edge;
}

static spw_service_state_t service(const char *name, uint32_t workers, uint32_t idle)
{
    spw_service_state_t state = { .workers = workers, .idle = idle, .rate = 10.0 };
    snprintf(state.name, sizeof state.name, "%s", name);
    return state;
}

//  Reports one service for edge name/epoch at now; the update must succeed.
static void report(spw_capacity_t *table, const char *name, uint64_t epoch, const char *svc,
                   uint32_t workers, uint32_t idle, int64_t now)
{
    spw_service_state_t state = service(svc, workers, idle);
    assert_int_equal(spw_capacity_update(table, name, epoch, &state, 1, 0, 0, now), 0);
}

static void kill_by_silence(spw_capacity_t *table, const char *name, int64_t now)
{
    spw_edge_state_t *dead[MAX_EDGES];
    size_t count = spw_capacity_expire(table, now, SILENCE_MS, dead, MAX_EDGES);
    for (size_t i = 0; i < count; i++)
        if (strcmp(dead[i]->name, name) == 0)
            return;
    fail_msg("expected %s to be expired at %lld", name, (long long) now);
}

// -- registration --------------------------------------------------------

typedef struct {
    const char *spec;
    bool existing;              // a record of "a" is there first (epoch 1, heard at 0)
    bool existing_dead;         // ... and has been expired
    uint64_t epoch;             // the registering edge's epoch
    int64_t now;
    spw_reg_result_t expected;
} reg_case_t;

static const reg_case_t reg_cases[] = {
    { "an unknown name is new", false, false, 7, 10, SPW_REG_NEW },
    { "the same epoch is a re-register", true, false, 1, 10, SPW_REG_SAME },
    { "the same epoch is a re-register however late", true, false, 1, 50000, SPW_REG_SAME },
    { "another epoch heard within hold_ms is refused", true, false, 2, 500, SPW_REG_NAME_TAKEN },
    { "another epoch heard exactly hold_ms ago is refused", true, false, 2, HOLD_MS,
      SPW_REG_NAME_TAKEN },
    { "another epoch heard more than hold_ms ago is a restart", true, false, 2, HOLD_MS + 1,
      SPW_REG_RESTARTED },
    { "another epoch over a dead record is new", true, true, 2, SILENCE_MS + 10, SPW_REG_NEW },
    { "the same epoch over a dead record is new", true, true, 1, SILENCE_MS + 10, SPW_REG_NEW },
};

static void test_capacity_register_results_follow_epoch_and_hold_rule(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof reg_cases / sizeof reg_cases[0]; i++) {
        const reg_case_t *c = &reg_cases[i];
        spw_capacity_t *table = new_table();
        if (c->existing) {
            join(table, "a", 1, 0);
            if (c->existing_dead)
                kill_by_silence(table, "a", c->now);
        }
        spw_edge_state_t *edge = NULL;
        spw_reg_result_t got =
            spw_capacity_register(table, "a", c->epoch, "tcp://b:1", "", c->now, HOLD_MS, &edge);
        expect_reg(got, c->expected, c->spec);
        assert_non_null(edge);
        if (got != SPW_REG_NAME_TAKEN) {
            assert_int_equal(edge->epoch, c->epoch);
            assert_true(edge->alive);
            assert_int_equal(edge->last_heard, c->now);
        }
        assert_int_equal(spw_capacity_count(table), 1);
        spw_capacity_destroy(&table);
    }
}

static void test_capacity_new_record_holds_what_was_registered(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    spw_edge_state_t *edge = NULL;
    expect_reg(spw_capacity_register(table, "north", 42, "tcp://n:5557", "eu-west", 100,
                                     HOLD_MS, &edge),
               SPW_REG_NEW, "north");
    assert_string_equal(edge->name, "north");
    assert_int_equal(edge->epoch, 42);
    assert_string_equal(edge->endpoint, "tcp://n:5557");
    assert_string_equal(edge->zone, "eu-west");
    assert_int_equal(edge->registered_at, 100);
    assert_int_equal(edge->last_heard, 100);
    assert_true(edge->alive);
    assert_int_equal(edge->service_count, 0);
    assert_ptr_equal(spw_capacity_find(table, "north"), edge);
    spw_capacity_destroy(&table);
}

static void test_capacity_reregister_keeps_services_and_updates_endpoint(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    spw_edge_state_t *edge = join(table, "a", 1, 0);
    report(table, "a", 1, "echo", 4, 3, 10);

    spw_edge_state_t *again = NULL;
    expect_reg(spw_capacity_register(table, "a", 1, "tcp://moved:9", "us-east", 20, HOLD_MS,
                                      &again),
               SPW_REG_SAME, "re-register");
    assert_ptr_equal(again, edge);
    assert_string_equal(edge->endpoint, "tcp://moved:9");
    assert_string_equal(edge->zone, "us-east");
    assert_int_equal(edge->registered_at, 0);
    assert_int_equal(edge->service_count, 1);
    assert_string_equal(edge->services[0].name, "echo");
    assert_int_equal(edge->services[0].idle, 3);
    assert_int_equal(edge->last_heard, 20);
    spw_capacity_destroy(&table);
}

static void test_capacity_name_taken_changes_nothing_and_names_the_holder(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    spw_edge_state_t *edge = join(table, "a", 1, 0);
    report(table, "a", 1, "echo", 2, 2, 100);

    spw_edge_state_t *holder = NULL;
    expect_reg(spw_capacity_register(table, "a", 2, "tcp://other:1", "z", 200, HOLD_MS, &holder),
               SPW_REG_NAME_TAKEN, "clash");
    assert_ptr_equal(holder, edge);
    assert_int_equal(edge->epoch, 1);
    assert_string_equal(edge->endpoint, "tcp://10.0.0.1:5557");
    assert_string_equal(edge->zone, "");
    assert_int_equal(edge->last_heard, 100);
    assert_int_equal(edge->service_count, 1);
    spw_capacity_destroy(&table);
}

static void test_capacity_restarted_edge_forgets_old_services_and_counters(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    spw_service_state_t state_msg = service("echo", 4, 4);
    assert_int_equal(spw_capacity_update(table, "a", 1, &state_msg, 1, 11, 22, 10), 0);

    spw_edge_state_t *fresh = NULL;
    expect_reg(spw_capacity_register(table, "a", 2, "tcp://a:2", "", 10 + HOLD_MS + 1, HOLD_MS,
                                     &fresh),
               SPW_REG_RESTARTED, "restart");
    assert_int_equal(fresh->epoch, 2);
    assert_int_equal(fresh->registered_at, 10 + HOLD_MS + 1);
    assert_int_equal(fresh->service_count, 0);
    assert_int_equal(fresh->delegated_out, 0);
    assert_int_equal(fresh->delegated_in, 0);
    //  The old incarnation is no longer heard; the new one is.
    assert_int_equal(spw_capacity_heard(table, "a", 1, 2000), -1);
    assert_int_equal(spw_capacity_heard(table, "a", 2, 2000), 0);
    spw_capacity_destroy(&table);
}

static void test_capacity_register_is_full_at_max_live_edges(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    join(table, "b", 1, 0);
    join(table, "c", 1, 0);
    spw_edge_state_t *edge = (spw_edge_state_t *) 1;
    expect_reg(spw_capacity_register(table, "d", 1, "", "", 0, HOLD_MS, &edge), SPW_REG_FULL,
               "fourth edge");
    assert_null(edge);
    assert_null(spw_capacity_find(table, "d"));
    assert_int_equal(spw_capacity_count(table), MAX_EDGES);
    //  Known names still re-register when full.
    expect_reg(spw_capacity_register(table, "b", 1, "", "", 5, HOLD_MS, NULL), SPW_REG_SAME,
               "b again");
    spw_capacity_destroy(&table);
}

static void test_capacity_register_when_full_evicts_the_longest_dead_record(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "b", 1, 100);
    join(table, "a", 1, 0);   // registered after b, silent for longer
    join(table, "c", 1, 5000);
    spw_edge_state_t *dead[MAX_EDGES];
    assert_int_equal(spw_capacity_expire(table, 4000, SILENCE_MS, dead, MAX_EDGES), 2);

    expect_reg(spw_capacity_register(table, "d", 1, "", "", 4000, HOLD_MS, NULL), SPW_REG_NEW,
               "d over dead a");
    assert_null(spw_capacity_find(table, "a"));
    assert_non_null(spw_capacity_find(table, "b"));
    expect_reg(spw_capacity_register(table, "e", 1, "", "", 4000, HOLD_MS, NULL), SPW_REG_NEW,
               "e over dead b");
    assert_null(spw_capacity_find(table, "b"));
    expect_reg(spw_capacity_register(table, "f", 1, "", "", 4000, HOLD_MS, NULL), SPW_REG_FULL,
               "f with all alive");
    spw_capacity_destroy(&table);
}

static void test_capacity_register_refuses_bad_names_endpoints_and_zones(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    char too_long[SPW_CAPACITY_ENDPOINT_MAX + 2];
    memset(too_long, 'x', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    char longest_name[SPW_CAPACITY_NAME_MAX + 1];
    memset(longest_name, 'n', SPW_CAPACITY_NAME_MAX);
    longest_name[SPW_CAPACITY_NAME_MAX] = '\0';
    char name_too_long[SPW_CAPACITY_NAME_MAX + 2];
    memset(name_too_long, 'n', SPW_CAPACITY_NAME_MAX + 1);
    name_too_long[SPW_CAPACITY_NAME_MAX + 1] = '\0';

    expect_reg(spw_capacity_register(table, "", 1, "", "", 0, HOLD_MS, NULL), SPW_REG_INVALID,
               "empty name");
    expect_reg(spw_capacity_register(table, NULL, 1, "", "", 0, HOLD_MS, NULL), SPW_REG_INVALID,
               "NULL name");
    expect_reg(spw_capacity_register(table, name_too_long, 1, "", "", 0, HOLD_MS, NULL),
               SPW_REG_INVALID, "65-byte name");
    expect_reg(spw_capacity_register(table, "a", 1, too_long, "", 0, HOLD_MS, NULL),
               SPW_REG_INVALID, "256-byte endpoint");
    expect_reg(spw_capacity_register(table, "a", 1, "", too_long, 0, HOLD_MS, NULL),
               SPW_REG_INVALID, "too long zone");
    assert_int_equal(spw_capacity_count(table), 0);
    expect_reg(spw_capacity_register(table, longest_name, 1, NULL, NULL, 0, HOLD_MS, NULL),
               SPW_REG_NEW, "64-byte name, NULL endpoint and zone");
    spw_capacity_destroy(&table);
}

// -- state messages and heartbeats ---------------------------------------

static void test_capacity_update_for_an_unregistered_epoch_returns_minus_one(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    spw_service_state_t msg = service("echo", 1, 1);
    assert_int_equal(spw_capacity_update(table, "a", 2, &msg, 1, 0, 0, 10), -1);
    assert_int_equal(spw_capacity_update(table, "nobody", 1, &msg, 1, 0, 0, 10), -1);
    assert_int_equal(spw_capacity_find(table, "a")->service_count, 0);
    assert_int_equal(spw_capacity_find(table, "a")->last_heard, 0);
    spw_capacity_destroy(&table);
}

static void test_capacity_update_from_a_dead_edge_returns_minus_one(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    kill_by_silence(table, "a", SILENCE_MS + 1);
    spw_service_state_t msg = service("echo", 1, 1);
    assert_int_equal(spw_capacity_update(table, "a", 1, &msg, 1, 0, 0, SILENCE_MS + 2), -1);
    assert_int_equal(spw_capacity_heard(table, "a", 1, SILENCE_MS + 2), -1);
    assert_false(spw_capacity_find(table, "a")->alive);
    spw_capacity_destroy(&table);
}

static void test_capacity_update_refuses_more_than_max_services(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    spw_service_state_t msg[MAX_SERVICES + 1] = { service("s1", 1, 1), service("s2", 1, 1),
                                                  service("s3", 1, 1) };
    assert_int_equal(spw_capacity_update(table, "a", 1, msg, MAX_SERVICES + 1, 0, 0, 10), -1);
    assert_int_equal(spw_capacity_update(table, "a", 1, msg, MAX_SERVICES, 0, 0, 10), 0);
    assert_int_equal(spw_capacity_find(table, "a")->service_count, MAX_SERVICES);
    spw_capacity_destroy(&table);
}

static void test_capacity_update_refuses_repeated_empty_or_unterminated_service_names(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    spw_service_state_t repeated[2] = { service("echo", 1, 1), service("echo", 2, 2) };
    assert_int_equal(spw_capacity_update(table, "a", 1, repeated, 2, 0, 0, 10), -1);
    spw_service_state_t empty = service("", 1, 1);
    assert_int_equal(spw_capacity_update(table, "a", 1, &empty, 1, 0, 0, 10), -1);
    spw_service_state_t unterminated = service("x", 1, 1);
    memset(unterminated.name, 'x', sizeof unterminated.name);
    assert_int_equal(spw_capacity_update(table, "a", 1, &unterminated, 1, 0, 0, 10), -1);
    assert_int_equal(spw_capacity_find(table, "a")->service_count, 0);
    spw_capacity_destroy(&table);
}

static void test_capacity_update_replaces_services_counters_lending_and_last_heard(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    spw_service_state_t first[2] = { service("echo", 3, 1), service("resize", 2, 2) };
    first[0].queued = 5;
    first[0].running = 2;
    first[0].rate = 12.5;
    first[0].lent = 3;
    first[0].borrowed = 4;
    assert_int_equal(spw_capacity_update(table, "a", 1, first, 2, 7, 9, 50), 0);
    spw_edge_state_t *edge = spw_capacity_find(table, "a");
    assert_int_equal(edge->service_count, 2);
    assert_string_equal(edge->services[0].name, "echo");
    assert_int_equal(edge->services[0].workers, 3);
    assert_int_equal(edge->services[0].idle, 1);
    assert_int_equal(edge->services[0].queued, 5);
    assert_int_equal(edge->services[0].running, 2);
    assert_true(edge->services[0].rate == 12.5);
    assert_int_equal(edge->services[0].lent, 3);
    assert_int_equal(edge->services[0].borrowed, 4);
    assert_int_equal(edge->delegated_out, 7);
    assert_int_equal(edge->delegated_in, 9);
    assert_int_equal(edge->last_heard, 50);

    spw_service_state_t second = service("predict", 1, 0);
    assert_int_equal(spw_capacity_update(table, "a", 1, &second, 1, 8, 10, 60), 0);
    assert_int_equal(edge->service_count, 1);
    assert_string_equal(edge->services[0].name, "predict");
    assert_null(spw_capacity_service(edge, "echo"));
    assert_int_equal(edge->last_heard, 60);
    spw_capacity_destroy(&table);
}

static void test_capacity_update_never_believes_more_idle_than_workers(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    report(table, "a", 1, "echo", 2, 9, 10);
    assert_int_equal(spw_capacity_service(spw_capacity_find(table, "a"), "echo")->idle, 2);
    spw_capacity_destroy(&table);
}

static void test_capacity_heard_sets_last_heard_only_for_the_registered_epoch(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    assert_int_equal(spw_capacity_heard(table, "a", 1, 700), 0);
    assert_int_equal(spw_capacity_find(table, "a")->last_heard, 700);
    assert_int_equal(spw_capacity_heard(table, "a", 9, 800), -1);
    assert_int_equal(spw_capacity_heard(table, "zed", 1, 800), -1);
    assert_int_equal(spw_capacity_find(table, "a")->last_heard, 700);
    spw_capacity_destroy(&table);
}

// -- expiry ----------------------------------------------------------------

static void test_capacity_expire_returns_the_silent_edges_once(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    join(table, "b", 1, 0);
    join(table, "c", 1, 0);
    assert_int_equal(spw_capacity_heard(table, "b", 1, 2000), 0);
    spw_edge_state_t *dead[MAX_EDGES];

    assert_int_equal(spw_capacity_expire(table, SILENCE_MS, SILENCE_MS, dead, MAX_EDGES), 0);
    size_t count = spw_capacity_expire(table, SILENCE_MS + 1, SILENCE_MS, dead, MAX_EDGES);
    assert_int_equal(count, 2);
    assert_string_equal(dead[0]->name, "a");
    assert_string_equal(dead[1]->name, "c");
    assert_false(dead[0]->alive);
    assert_false(dead[1]->alive);
    assert_true(spw_capacity_find(table, "b")->alive);
    assert_int_equal(spw_capacity_expire(table, SILENCE_MS + 2, SILENCE_MS, dead, MAX_EDGES), 0);
    //  Dead records stay visible for status.
    assert_int_equal(spw_capacity_count(table), 3);
    spw_capacity_destroy(&table);
}

static void test_capacity_expire_returns_at_most_max_dead_and_the_rest_next_time(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    join(table, "b", 1, 0);
    spw_edge_state_t *dead[1];
    assert_int_equal(spw_capacity_expire(table, 5000, SILENCE_MS, dead, 1), 1);
    assert_string_equal(dead[0]->name, "a");
    assert_true(spw_capacity_find(table, "b")->alive);
    assert_int_equal(spw_capacity_expire(table, 5000, SILENCE_MS, dead, 1), 1);
    assert_string_equal(dead[0]->name, "b");
    assert_int_equal(spw_capacity_expire(table, 5000, SILENCE_MS, dead, 1), 0);
    spw_capacity_destroy(&table);
}

// -- lookup, walk, forget, lifecycle -------------------------------------

static void test_capacity_walk_visits_alive_and_dead_records(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    join(table, "b", 1, 5000);
    kill_by_silence(table, "a", 5000);
    assert_int_equal(spw_capacity_count(table), 2);
    bool seen_a = false, seen_b = false;
    for (size_t i = 0; i < spw_capacity_count(table); i++) {
        spw_edge_state_t *edge = spw_capacity_at(table, i);
        seen_a |= strcmp(edge->name, "a") == 0 && !edge->alive;
        seen_b |= strcmp(edge->name, "b") == 0 && edge->alive;
    }
    assert_true(seen_a && seen_b);
    assert_null(spw_capacity_at(table, 2));
    spw_capacity_destroy(&table);
}

static void test_capacity_forget_removes_the_record_and_frees_the_name(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    join(table, "b", 1, 0);
    report(table, "b", 1, "echo", 2, 2, 0);
    spw_capacity_forget(table, "b");
    assert_null(spw_capacity_find(table, "b"));
    assert_int_equal(spw_capacity_count(table), 1);
    assert_string_equal(spw_capacity_at(table, 0)->name, "a");
    spw_capacity_forget(table, "never-there");
    assert_int_equal(spw_capacity_count(table), 1);
    //  The name is free: a new edge of that name is new, whatever its epoch.
    expect_reg(spw_capacity_register(table, "b", 2, "", "", 10, HOLD_MS, NULL), SPW_REG_NEW,
               "b after goodbye");
    spw_capacity_destroy(&table);
}

static void test_capacity_forgotten_slots_are_reused_up_to_max_edges(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    for (int round = 0; round < 5; round++) {
        char name[8];
        for (int i = 0; i < MAX_EDGES; i++) {
            snprintf(name, sizeof name, "e%d", i);
            join(table, name, (uint64_t) round, 0);
        }
        expect_reg(spw_capacity_register(table, "extra", 1, "", "", 0, HOLD_MS, NULL),
                   SPW_REG_FULL, "extra");
        for (int i = 0; i < MAX_EDGES; i++) {
            snprintf(name, sizeof name, "e%d", i);
            spw_capacity_forget(table, name);
        }
        assert_int_equal(spw_capacity_count(table), 0);
    }
    spw_capacity_destroy(&table);
}

static void test_capacity_new_refuses_zero_limits(void **state)
{
    (void) state;
    assert_null(spw_capacity_new(0, 4));
    assert_null(spw_capacity_new(4, 0));
}

static void test_capacity_destroy_with_records_leaks_nothing_and_nulls_pointer(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    join(table, "b", 1, 0);
    report(table, "a", 1, "echo", 2, 2, 0);
    spw_capacity_destroy(&table);
    assert_null(table);
    spw_capacity_destroy(&table);
    spw_capacity_destroy(NULL);
}

// -- the service index ---------------------------------------------------------

//  True if the service index of svc holds edge name.
static bool takes_part(spw_capacity_t *table, const char *svc, const char *name)
{
    const spw_capacity_entry_t *entries;
    size_t count = spw_capacity_taking_part(table, svc, &entries);
    for (size_t i = 0; i < count; i++)
        if (strcmp(entries[i].edge->name, name) == 0) {
            assert_string_equal(entries[i].edge->services[entries[i].service].name, svc);
            return true;
        }
    return false;
}

static void test_capacity_indexes_the_edges_taking_part_in_a_service(void **state)
{
    (void) state;
    spw_capacity_t *table = new_table();
    join(table, "a", 1, 0);
    join(table, "b", 1, 0);
    join(table, "c", 1, 0);
    assert_int_equal(spw_capacity_unreported(table), 3);
    //  a lends echo, b waits on echo and offers resize, c reports nothing.
    spw_service_state_t lends = service("echo", 4, 4);
    lends.role = 1;   // SPW_ROLE_LENDER
    assert_int_equal(spw_capacity_update(table, "a", 1, &lends, 1, 0, 0, 1), 0);
    spw_service_state_t b_services[2] = { service("echo", 0, 0), service("resize", 2, 2) };
    b_services[0].queued = 5;
    assert_int_equal(spw_capacity_update(table, "b", 1, b_services, 2, 0, 0, 1), 0);
    assert_int_equal(spw_capacity_unreported(table), 1);
    assert_true(takes_part(table, "echo", "a") && takes_part(table, "echo", "b"));
    assert_false(takes_part(table, "resize", "b"));   // offers it, no role, no queue
    assert_int_equal(spw_capacity_offering(table, "echo"), 1);
    assert_int_equal(spw_capacity_offering(table, "resize"), 1);
    assert_int_equal(spw_capacity_offering(table, "never"), 0);
    //  A new state replaces the entries: a stops lending, b stops waiting.
    lends.role = 0;
    assert_int_equal(spw_capacity_update(table, "a", 1, &lends, 1, 0, 0, 2), 0);
    b_services[0].queued = 0;
    assert_int_equal(spw_capacity_update(table, "b", 1, b_services, 2, 0, 0, 2), 0);
    assert_false(takes_part(table, "echo", "a") || takes_part(table, "echo", "b"));
    assert_int_equal(spw_capacity_offering(table, "echo"), 1);
    //  A dead edge, a forgotten one and a restarted one leave the index.
    lends.role = 1;
    assert_int_equal(spw_capacity_update(table, "a", 1, &lends, 1, 0, 0, 3), 0);
    b_services[0].queued = 3;
    assert_int_equal(spw_capacity_update(table, "b", 1, b_services, 2, 0, 0, 3), 0);
    assert_true(takes_part(table, "echo", "a") && takes_part(table, "echo", "b"));
    spw_edge_state_t *dead[MAX_EDGES];
    assert_int_equal(spw_capacity_update(table, "b", 1, b_services, 2, 0, 0, 2000), 0);
    assert_int_equal(spw_capacity_expire(table, 3500, SILENCE_MS, dead, MAX_EDGES), 2);
    assert_false(takes_part(table, "echo", "a"));       // a died
    assert_int_equal(spw_capacity_unreported(table), 0);  // so did c, unreported
    assert_true(takes_part(table, "echo", "b"));
    expect_reg(spw_capacity_register(table, "b", 2, "", "", 5500, HOLD_MS, NULL),
               SPW_REG_RESTARTED, "b restarted");
    assert_false(takes_part(table, "echo", "b"));
    assert_int_equal(spw_capacity_offering(table, "resize"), 0);
    assert_int_equal(spw_capacity_unreported(table), 1);
    spw_capacity_forget(table, "b");
    assert_int_equal(spw_capacity_unreported(table), 0);
    const spw_capacity_entry_t *entries;
    assert_int_equal(spw_capacity_taking_part(table, "echo", &entries), 0);
    assert_null(spw_capacity_first_service(table));   // nobody offers or waits any more
    spw_capacity_destroy(&table);
}

static void test_capacity_index_survives_many_edges_coming_and_going(void **state)
{
    (void) state;
    enum { EDGES = 500 };
    spw_capacity_t *table = spw_capacity_new(EDGES, 4);
    assert_non_null(table);
    char name[16];
    for (int i = 0; i < EDGES; i++) {
        snprintf(name, sizeof name, "e%03d", i);
        assert_int_equal(spw_capacity_register(table, name, 1, "", "", 0, HOLD_MS, NULL),
                         SPW_REG_NEW);
        spw_service_state_t svc = service("echo", 2, 2);
        svc.role = (uint8_t) (i % 3 == 0 ? 1 : 0);
        assert_int_equal(spw_capacity_update(table, name, 1, &svc, 1, 0, 0, 0), 0);
    }
    const spw_capacity_entry_t *entries;
    assert_int_equal(spw_capacity_taking_part(table, "echo", &entries), (EDGES + 2) / 3);
    for (int i = 0; i < EDGES; i += 2) {
        snprintf(name, sizeof name, "e%03d", i);
        spw_capacity_forget(table, name);
    }
    //  Every entry left names a live lender of echo, each once.
    size_t count = spw_capacity_taking_part(table, "echo", &entries);
    size_t expected = 0;
    for (int i = 1; i < EDGES; i += 2)
        expected += i % 3 == 0;
    assert_int_equal(count, expected);
    for (size_t i = 0; i < count; i++) {
        assert_true(entries[i].edge->alive);
        assert_int_equal(entries[i].edge->services[entries[i].service].role, 1);
        assert_ptr_equal(spw_capacity_find(table, entries[i].edge->name), entries[i].edge);
        for (size_t j = 0; j < i; j++)
            assert_ptr_not_equal(entries[i].edge, entries[j].edge);
    }
    assert_int_equal(spw_capacity_count(table), EDGES / 2);
    assert_int_equal(spw_capacity_offering(table, "echo"), EDGES / 2);
    spw_capacity_destroy(&table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_register_results_follow_epoch_and_hold_rule),
        cmocka_unit_test(test_capacity_new_record_holds_what_was_registered),
        cmocka_unit_test(test_capacity_reregister_keeps_services_and_updates_endpoint),
        cmocka_unit_test(test_capacity_name_taken_changes_nothing_and_names_the_holder),
        cmocka_unit_test(test_capacity_restarted_edge_forgets_old_services_and_counters),
        cmocka_unit_test(test_capacity_register_is_full_at_max_live_edges),
        cmocka_unit_test(test_capacity_register_when_full_evicts_the_longest_dead_record),
        cmocka_unit_test(test_capacity_register_refuses_bad_names_endpoints_and_zones),
        cmocka_unit_test(test_capacity_update_for_an_unregistered_epoch_returns_minus_one),
        cmocka_unit_test(test_capacity_update_from_a_dead_edge_returns_minus_one),
        cmocka_unit_test(test_capacity_update_refuses_more_than_max_services),
        cmocka_unit_test(test_capacity_update_refuses_repeated_empty_or_unterminated_service_names),
        cmocka_unit_test(test_capacity_update_replaces_services_counters_lending_and_last_heard),
        cmocka_unit_test(test_capacity_update_never_believes_more_idle_than_workers),
        cmocka_unit_test(test_capacity_heard_sets_last_heard_only_for_the_registered_epoch),
        cmocka_unit_test(test_capacity_expire_returns_the_silent_edges_once),
        cmocka_unit_test(test_capacity_expire_returns_at_most_max_dead_and_the_rest_next_time),
        cmocka_unit_test(test_capacity_walk_visits_alive_and_dead_records),
        cmocka_unit_test(test_capacity_forget_removes_the_record_and_frees_the_name),
        cmocka_unit_test(test_capacity_forgotten_slots_are_reused_up_to_max_edges),
        cmocka_unit_test(test_capacity_new_refuses_zero_limits),
        cmocka_unit_test(test_capacity_destroy_with_records_leaks_nothing_and_nulls_pointer),
        cmocka_unit_test(test_capacity_indexes_the_edges_taking_part_in_a_service),
        cmocka_unit_test(test_capacity_index_survives_many_edges_coming_and_going),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
