//  test_grants.c: the hub's grant policy (hub/grants.h), read as its
//  specification.
//
//  Most of it is one table of cases: the edges as the hub believes them
//  (idle, outstanding grants, queue, rate, zone, alive), a request, and the
//  grants expected in order. Around it, the behaviours a single call cannot
//  show: grants are recorded so the next call sees less spare until they
//  expire; the output bound is respected; the random order is reproducible
//  per seed, uniform enough, and reaches every eligible edge.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "capacity.h"
#include "grants.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_EDGES    8
#define MAX_SERVICES 2
#define NOW          10000     // ms, when requests are decided
#define TTL_MS       2000
#define SILENCE_MS   5000
#define HOLD_MS      1000
#define FAR_FUTURE   1000000
#define SERVICE      "echo"

typedef struct {
    const char *name;       // NULL ends the list
    const char *zone;
    uint32_t idle, granted, queued;
    double rate;
    bool dead;              // silent past SILENCE_MS by NOW
    bool other_service;     // offers "resize" instead of SERVICE
} edge_spec_t;

typedef struct {
    const char *edge;       // NULL ends the list
    uint32_t count;
} expected_grant_t;

typedef struct {
    const char *spec;
    edge_spec_t edges[MAX_EDGES];
    const char *origin;
    spw_policy_t policy;
    uint32_t wanted;
    expected_grant_t expected[MAX_EDGES];
} grant_case_t;

//  Builds a table holding the edges as specified, as of NOW.
static spw_capacity_t *build_table(const edge_spec_t *edges)
{
    spw_capacity_t *table = spw_capacity_new(MAX_EDGES, MAX_SERVICES);
    assert_non_null(table);
    for (const edge_spec_t *spec = edges; spec->name; spec++) {
        char endpoint[64];
        snprintf(endpoint, sizeof endpoint, "tcp://%s:5557", spec->name);
        int64_t heard = spec->dead ? 0 : NOW;
        spw_edge_state_t *edge = NULL;
        assert_int_equal(spw_capacity_register(table, spec->name, 1, endpoint,
                                               spec->zone ? spec->zone : "", heard, HOLD_MS,
                                               &edge),
                         SPW_REG_NEW);
        spw_service_state_t service = {
            .workers = spec->idle + spec->granted + 2,
            .idle = spec->idle,
            .queued = spec->queued,
            .rate = spec->rate,
        };
        snprintf(service.name, sizeof service.name, "%s",
                 spec->other_service ? "resize" : SERVICE);
        assert_int_equal(spw_capacity_update(table, spec->name, 1, &service, 1, 0, 0, heard), 0);
        if (spec->granted)
            assert_int_equal(spw_capacity_add_grant(table, edge, service.name, spec->granted,
                                                    FAR_FUTURE),
                             0);
    }
    spw_edge_state_t *dead[MAX_EDGES];
    spw_capacity_expire(table, NOW, SILENCE_MS, dead, MAX_EDGES);
    return table;
}

static uint32_t spare_of(spw_capacity_t *table, const char *edge)
{
    spw_service_state_t *service = spw_capacity_service(spw_capacity_find(table, edge), SERVICE);
    return service ? spw_capacity_spare(service) : 0;
}

//  "b:2 c:1", for failure messages.
static void describe(const spw_grant_t *grants, size_t count, char *text, size_t size)
{
    size_t used = 0;
    text[0] = '\0';
    for (size_t i = 0; i < count && used < size; i++)
        used += (size_t) snprintf(text + used, size - used, "%s%s:%u", i ? " " : "",
                                  grants[i].edge, grants[i].count);
    if (count == 0)
        snprintf(text, size, "(none)");
}

static void describe_expected(const expected_grant_t *expected, char *text, size_t size)
{
    size_t used = 0;
    text[0] = '\0';
    for (size_t i = 0; expected[i].edge && used < size; i++)
        used += (size_t) snprintf(text + used, size - used, "%s%s:%u", i ? " " : "",
                                  expected[i].edge, expected[i].count);
    if (!expected[0].edge)
        snprintf(text, size, "(none)");
}

//  Each case: its specification, the edges (one a line), the request
//  (origin, policy, wanted) and the grants expected, in order.
static const grant_case_t cases[] = {
    { "never grants the origin to itself",
      { { .name = "a", .idle = 9 },
        { .name = "b", .idle = 2 } },
      "a", SPW_POLICY_MOST_SPARE, 5, { { "b", 2 } } },
    { "never grants beyond spare when more is wanted than there is",
      { { .name = "a" },
        { .name = "b", .idle = 3 },
        { .name = "c", .idle = 2 } },
      "a", SPW_POLICY_MOST_SPARE, 10, { { "b", 3 }, { "c", 2 } } },
    { "outstanding grants reduce spare",
      { { .name = "a" },
        { .name = "b", .idle = 5, .granted = 4 },
        { .name = "c", .idle = 2 } },
      "a", SPW_POLICY_MOST_SPARE, 10, { { "c", 2 }, { "b", 1 } } },
    { "an edge whose grants cover its idle workers gets nothing",
      { { .name = "a" },
        { .name = "b", .idle = 3, .granted = 3 },
        { .name = "c", .idle = 1 } },
      "a", SPW_POLICY_MOST_SPARE, 10, { { "c", 1 } } },
    { "dead edges get nothing",
      { { .name = "a" },
        { .name = "b", .idle = 9, .dead = true },
        { .name = "c", .idle = 1 } },
      "a", SPW_POLICY_MOST_SPARE, 10, { { "c", 1 } } },
    { "no edge offering the service means no grant",
      { { .name = "a" },
        { .name = "b", .idle = 5, .other_service = true } },
      "a", SPW_POLICY_MOST_SPARE, 3, { { .edge = NULL } } },
    { "no spare anywhere means no grant",
      { { .name = "a" },
        { .name = "b", .idle = 0, .queued = 4, .rate = 1.0 } },
      "a", SPW_POLICY_MOST_SPARE, 3, { { .edge = NULL } } },
    { "wanted below the first edge's spare takes from that edge alone",
      { { .name = "a" },
        { .name = "b", .idle = 5 },
        { .name = "c", .idle = 4 } },
      "a", SPW_POLICY_MOST_SPARE, 2, { { "b", 2 } } },
    { "an origin unknown to the table is still served",
      { { .name = "b", .idle = 2 } },
      "ghost", SPW_POLICY_MOST_SPARE, 1, { { "b", 1 } } },
    { "most-spare takes the largest spare first",
      { { .name = "a" },
        { .name = "b", .idle = 2 },
        { .name = "c", .idle = 5 },
        { .name = "d", .idle = 3 } },
      "a", SPW_POLICY_MOST_SPARE, 6, { { "c", 5 }, { "d", 1 } } },
    { "most-spare breaks ties in name order",
      { { .name = "a" },
        { .name = "d", .idle = 2 },
        { .name = "b", .idle = 2 },
        { .name = "c", .idle = 2 } },
      "a", SPW_POLICY_MOST_SPARE, 5, { { "b", 2 }, { "c", 2 }, { "d", 1 } } },
    { "most-spare ranks by spare, not by idle",
      { { .name = "a" },
        { .name = "b", .idle = 9, .granted = 8 },
        { .name = "c", .idle = 3 } },
      "a", SPW_POLICY_MOST_SPARE, 4, { { "c", 3 }, { "b", 1 } } },
    { "edges in the origin's zone come first, then most-spare",
      { { .name = "a", .zone = "eu" },
        { .name = "b", .zone = "us", .idle = 9 },
        { .name = "c", .zone = "eu", .idle = 1 },
        { .name = "d", .zone = "eu", .idle = 2 } },
      "a", SPW_POLICY_MOST_SPARE, 5, { { "d", 2 }, { "c", 1 }, { "b", 2 } } },
    { "an origin without a zone prefers no zone",
      { { .name = "a", .zone = "" },
        { .name = "b", .zone = "", .idle = 1 },
        { .name = "c", .zone = "eu", .idle = 3 } },
      "a", SPW_POLICY_MOST_SPARE, 4, { { "c", 3 }, { "b", 1 } } },
    { "a dead edge in the origin's zone does not block the others",
      { { .name = "a", .zone = "eu" },
        { .name = "b", .zone = "eu", .idle = 4, .dead = true },
        { .name = "c", .zone = "us", .idle = 2 } },
      "a", SPW_POLICY_MOST_SPARE, 4, { { "c", 2 } } },
    { "shortest-wait takes the smallest queued over rate first",
      { { .name = "a" },
        { .name = "b", .idle = 1, .queued = 10, .rate = 10.0 },   // 1 s
        { .name = "c", .idle = 5, .queued = 2, .rate = 1.0 },     // 2 s
        { .name = "d", .idle = 1, .queued = 0 } },                // 0 s
      "a", SPW_POLICY_SHORTEST_WAIT, 7, { { "d", 1 }, { "b", 1 }, { "c", 5 } } },
    { "shortest-wait breaks ties by larger spare",
      { { .name = "a" },
        { .name = "b", .idle = 1, .rate = 5.0 },
        { .name = "c", .idle = 4, .rate = 1.0 } },
      "a", SPW_POLICY_SHORTEST_WAIT, 5, { { "c", 4 }, { "b", 1 } } },
    { "shortest-wait treats a zero rate as nearly stalled",
      { { .name = "a" },
        { .name = "b", .idle = 5, .queued = 1, .rate = 0.0 },     // 1000 s
        { .name = "c", .idle = 1, .queued = 50, .rate = 1.0 } },  // 50 s
      "a", SPW_POLICY_SHORTEST_WAIT, 6, { { "c", 1 }, { "b", 5 } } },
    { "shortest-wait keeps the origin's zone first",
      { { .name = "a", .zone = "eu" },
        { .name = "b", .zone = "us", .idle = 3, .queued = 0 },
        { .name = "c", .zone = "eu", .idle = 3, .queued = 9, .rate = 1.0 } },
      "a", SPW_POLICY_SHORTEST_WAIT, 4, { { "c", 3 }, { "b", 1 } } },
    { "random obeys the same rules: not itself, not dead, not beyond spare",
      { { .name = "a", .idle = 9 },
        { .name = "b", .idle = 2 },
        { .name = "c", .idle = 7, .dead = true } },
      "a", SPW_POLICY_RANDOM, 5, { { "b", 2 } } },
};

static void test_grants_follow_the_table_of_cases(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const grant_case_t *c = &cases[i];
        spw_capacity_t *table = build_table(c->edges);
        uint32_t before[MAX_EDGES];
        for (size_t e = 0; c->edges[e].name; e++)
            before[e] = spare_of(table, c->edges[e].name);

        uint64_t seed = 42;
        spw_grant_t out[MAX_EDGES];
        size_t count = spw_grants_decide(table, c->policy, c->origin, SERVICE, c->wanted, NOW,
                                         TTL_MS, &seed, out, MAX_EDGES);

        char got_text[256], expected_text[256];
        describe(out, count, got_text, sizeof got_text);
        describe_expected(c->expected, expected_text, sizeof expected_text);
        size_t expected_count = 0;
        while (c->expected[expected_count].edge)
            expected_count++;
        bool same = count == expected_count;
        for (size_t g = 0; same && g < count; g++)
            same = strcmp(out[g].edge, c->expected[g].edge) == 0
                   && out[g].count == c->expected[g].count;
        if (!same)
            fail_msg("%s: expected %s, got %s", c->spec, expected_text, got_text);

        for (size_t g = 0; g < count; g++) {
            char endpoint[SPW_CAPACITY_ENDPOINT_MAX + 1];
            snprintf(endpoint, sizeof endpoint, "tcp://%.64s:5557", out[g].edge);
            assert_string_equal(out[g].endpoint, endpoint);
            assert_int_equal(out[g].expires, NOW + TTL_MS);
        }
        //  Every grant is recorded: each edge's spare dropped by what it got.
        for (size_t e = 0; c->edges[e].name; e++) {
            uint32_t given = 0;
            for (size_t g = 0; g < count; g++)
                if (strcmp(out[g].edge, c->edges[e].name) == 0)
                    given += out[g].count;
            uint32_t after = spare_of(table, c->edges[e].name);
            if (after != before[e] - given)
                fail_msg("%s: edge %s had spare %u and got %u, expected spare %u after, got %u",
                         c->spec, c->edges[e].name, before[e], given, before[e] - given, after);
        }
        spw_capacity_destroy(&table);
    }
}

static void test_grants_second_request_right_after_sees_less_spare(void **state)
{
    (void) state;
    const edge_spec_t edges[] = { { .name = "a" }, { .name = "b", .idle = 3 }, { .name = NULL } };
    spw_capacity_t *table = build_table(edges);
    spw_grant_t out[2];
    assert_int_equal(spw_grants_decide(table, SPW_POLICY_MOST_SPARE, "a", SERVICE, 2, NOW,
                                       TTL_MS, NULL, out, 2), 1);
    assert_int_equal(out[0].count, 2);
    assert_int_equal(spw_grants_decide(table, SPW_POLICY_MOST_SPARE, "a", SERVICE, 2, NOW + 1,
                                       TTL_MS, NULL, out, 2), 1);
    assert_int_equal(out[0].count, 1);
    assert_int_equal(spw_grants_decide(table, SPW_POLICY_MOST_SPARE, "a", SERVICE, 2, NOW + 2,
                                       TTL_MS, NULL, out, 2), 0);
    spw_capacity_destroy(&table);
}

static void test_grants_spare_returns_when_the_grants_expire(void **state)
{
    (void) state;
    const edge_spec_t edges[] = { { .name = "a" }, { .name = "b", .idle = 3 }, { .name = NULL } };
    spw_capacity_t *table = build_table(edges);
    spw_grant_t out[2];
    assert_int_equal(spw_grants_decide(table, SPW_POLICY_MOST_SPARE, "a", SERVICE, 3, NOW,
                                       TTL_MS, NULL, out, 2), 1);
    assert_int_equal(spw_grants_decide(table, SPW_POLICY_MOST_SPARE, "a", SERVICE, 3,
                                       NOW + TTL_MS - 1, TTL_MS, NULL, out, 2), 0);
    //  The edge stays alive meanwhile; its grants lapse at their expiry.
    assert_int_equal(spw_capacity_heard(table, "b", 1, NOW + TTL_MS), 0);
    assert_int_equal(spw_grants_decide(table, SPW_POLICY_MOST_SPARE, "a", SERVICE, 3,
                                       NOW + TTL_MS, TTL_MS, NULL, out, 2), 1);
    assert_int_equal(out[0].count, 3);
    spw_capacity_destroy(&table);
}

static void test_grants_never_write_more_than_max_out_nor_record_what_was_not_written(void **state)
{
    (void) state;
    const edge_spec_t edges[] = {
        { .name = "a" }, { .name = "b", .idle = 2 }, { .name = "c", .idle = 1 }, { .name = NULL },
    };
    spw_capacity_t *table = build_table(edges);
    spw_grant_t out[1];
    assert_int_equal(spw_grants_decide(table, SPW_POLICY_MOST_SPARE, "a", SERVICE, 3, NOW,
                                       TTL_MS, NULL, out, 1), 1);
    assert_string_equal(out[0].edge, "b");
    assert_int_equal(spare_of(table, "b"), 0);
    assert_int_equal(spare_of(table, "c"), 1);
    spw_capacity_destroy(&table);
}

static void test_grants_for_nothing_wanted_are_none(void **state)
{
    (void) state;
    const edge_spec_t edges[] = { { .name = "a" }, { .name = "b", .idle = 2 }, { .name = NULL } };
    spw_capacity_t *table = build_table(edges);
    spw_grant_t out[2];
    assert_int_equal(spw_grants_decide(table, SPW_POLICY_MOST_SPARE, "a", SERVICE, 0, NOW,
                                       TTL_MS, NULL, out, 2), 0);
    assert_int_equal(spare_of(table, "b"), 2);
    spw_capacity_destroy(&table);
}

// -- random ----------------------------------------------------------------

#define DRAWS 2000

static const edge_spec_t five_equal[] = {
    { .name = "a", .idle = 9 },
    { .name = "b", .idle = 1 },
    { .name = "c", .idle = 1 },
    { .name = "d", .idle = 1 },
    { .name = "e", .idle = 1 },
    { .name = "f", .idle = 1 },
    { .name = "g", .idle = 5, .dead = true },
    { .name = NULL },
};

//  The same edges registered in the reverse order.
static const edge_spec_t five_equal_reversed[] = {
    { .name = "g", .idle = 5, .dead = true },
    { .name = "f", .idle = 1 },
    { .name = "e", .idle = 1 },
    { .name = "d", .idle = 1 },
    { .name = "c", .idle = 1 },
    { .name = "b", .idle = 1 },
    { .name = "a", .idle = 9 },
    { .name = NULL },
};

//  Draws one single-task grant per round (each expiring before the next
//  round) and writes the chosen edges' first letters into picks.
static void draw_picks(const edge_spec_t *edges, uint64_t seed, char *picks, size_t rounds)
{
    spw_capacity_t *table = build_table(edges);
    for (size_t r = 0; r < rounds; r++) {
        int64_t now = NOW + (int64_t) r;
        for (const edge_spec_t *spec = edges; spec->name; spec++)
            if (!spec->dead)
                assert_int_equal(spw_capacity_heard(table, spec->name, 1, now), 0);
        spw_grant_t out[1];
        size_t count = spw_grants_decide(table, SPW_POLICY_RANDOM, "a", SERVICE, 1, now, 1,
                                         &seed, out, 1);
        assert_int_equal(count, 1);
        picks[r] = out[0].edge[0];
    }
    picks[rounds] = '\0';
    spw_capacity_destroy(&table);
}

static void test_grants_random_is_deterministic_per_seed(void **state)
{
    (void) state;
    char first[41], again[41], reversed[41], other[41];
    draw_picks(five_equal, 7, first, 40);
    draw_picks(five_equal, 7, again, 40);
    draw_picks(five_equal_reversed, 7, reversed, 40);
    draw_picks(five_equal, 8, other, 40);
    assert_string_equal(first, again);
    //  Independent of the order in which edges registered.
    assert_string_equal(first, reversed);
    if (strcmp(first, other) == 0)
        fail_msg("seeds 7 and 8 drew the same 40 picks: %s", first);
}

static void test_grants_random_advances_the_state_in_place(void **state)
{
    (void) state;
    const edge_spec_t edges[] = {
        { .name = "a" }, { .name = "b", .idle = 1 }, { .name = "c", .idle = 1 }, { .name = NULL },
    };
    spw_capacity_t *table = build_table(edges);
    uint64_t seed = 99;
    spw_grant_t out[2];
    spw_grants_decide(table, SPW_POLICY_RANDOM, "a", SERVICE, 1, NOW, TTL_MS, &seed, out, 2);
    assert_int_not_equal(seed, 99);
    //  Other policies leave it alone.
    uint64_t untouched = 99;
    spw_grants_decide(table, SPW_POLICY_MOST_SPARE, "a", SERVICE, 1, NOW, TTL_MS, &untouched,
                      out, 2);
    assert_int_equal(untouched, 99);
    spw_capacity_destroy(&table);
}

static void test_grants_random_uses_every_eligible_edge_about_equally(void **state)
{
    (void) state;
    static char picks[DRAWS + 1];
    draw_picks(five_equal, 12345, picks, DRAWS);
    size_t seen[26] = { 0 };
    for (size_t r = 0; r < DRAWS; r++)
        seen[picks[r] - 'a']++;
    assert_int_equal(seen['a' - 'a'], 0);   // the origin
    assert_int_equal(seen['g' - 'a'], 0);   // dead
    for (char edge = 'b'; edge <= 'f'; edge++) {
        size_t got = seen[edge - 'a'];
        //  Expected DRAWS / 5 = 400 each; 5 sigma is about 90.
        if (got < 310 || got > 490)
            fail_msg("edge %c: expected about 400 of %d picks, got %zu", edge, DRAWS, got);
    }
}

static void test_grants_random_draws_from_the_origin_zone_first(void **state)
{
    (void) state;
    const edge_spec_t edges[] = {
        { .name = "a", .zone = "eu" },
        { .name = "b", .zone = "eu", .idle = 1 },
        { .name = "c", .zone = "eu", .idle = 1 },
        { .name = "d", .zone = "us", .idle = 5 },
        { .name = "e", .zone = "us", .idle = 5 },
        { .name = NULL },
    };
    spw_capacity_t *table = build_table(edges);
    uint64_t seed = 5;
    bool first_b = false, first_c = false, third_d = false, third_e = false;
    for (int r = 0; r < 64; r++) {
        spw_grant_t out[4];
        int64_t now = NOW + r;
        size_t count = spw_grants_decide(table, SPW_POLICY_RANDOM, "a", SERVICE, 3, now, 1,
                                         &seed, out, 4);
        assert_int_equal(count, 3);
        assert_true(strcmp(out[0].edge, "b") == 0 || strcmp(out[0].edge, "c") == 0);
        assert_true(strcmp(out[1].edge, "b") == 0 || strcmp(out[1].edge, "c") == 0);
        assert_true(strcmp(out[2].edge, "d") == 0 || strcmp(out[2].edge, "e") == 0);
        assert_int_equal(out[2].count, 1);
        first_b |= out[0].edge[0] == 'b';
        first_c |= out[0].edge[0] == 'c';
        third_d |= out[2].edge[0] == 'd';
        third_e |= out[2].edge[0] == 'e';
        for (const char *edge = "bcde"; *edge; edge++) {
            char name[2] = { *edge, '\0' };
            assert_int_equal(spw_capacity_heard(table, name, 1, now + 1), 0);
        }
    }
    assert_true(first_b && first_c && third_d && third_e);
    spw_capacity_destroy(&table);
}

static void test_grants_random_without_a_state_uses_seed_zero(void **state)
{
    (void) state;
    const edge_spec_t edges[] = {
        { .name = "a" },
        { .name = "b", .idle = 1 },
        { .name = "c", .idle = 1 },
        { .name = "d", .idle = 1 },
        { .name = NULL },
    };
    spw_capacity_t *first = build_table(edges);
    spw_capacity_t *second = build_table(edges);
    uint64_t zero = 0;
    spw_grant_t with_null[1], with_zero[1];
    assert_int_equal(spw_grants_decide(first, SPW_POLICY_RANDOM, "a", SERVICE, 1, NOW, TTL_MS,
                                       NULL, with_null, 1), 1);
    assert_int_equal(spw_grants_decide(second, SPW_POLICY_RANDOM, "a", SERVICE, 1, NOW, TTL_MS,
                                       &zero, with_zero, 1), 1);
    assert_string_equal(with_null[0].edge, with_zero[0].edge);
    spw_capacity_destroy(&first);
    spw_capacity_destroy(&second);
}

static void test_grants_random_next_is_splitmix64(void **state)
{
    (void) state;
    uint64_t seed = 0;
    assert_true(spw_grants_random_next(&seed) == 0xE220A8397B1DCDAFu);
    assert_true(seed == 0x9E3779B97F4A7C15u);
}

// -- policy names ----------------------------------------------------------

static void test_grants_policy_names_parse_back_to_their_policy(void **state)
{
    (void) state;
    const spw_policy_t policies[] = { SPW_POLICY_MOST_SPARE, SPW_POLICY_RANDOM,
                                      SPW_POLICY_SHORTEST_WAIT };
    const char *names[] = { "most-spare", "random", "shortest-wait" };
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(spw_policy_name(policies[i]), names[i]);
        spw_policy_t parsed = (spw_policy_t) -1;
        assert_int_equal(spw_policy_parse(names[i], &parsed), 0);
        assert_int_equal(parsed, policies[i]);
    }
}

static void test_grants_policy_parse_refuses_unknown_names(void **state)
{
    (void) state;
    spw_policy_t parsed = SPW_POLICY_RANDOM;
    assert_int_equal(spw_policy_parse("fastest", &parsed), -1);
    assert_int_equal(spw_policy_parse("Most-Spare", &parsed), -1);
    assert_int_equal(spw_policy_parse("", &parsed), -1);
    assert_int_equal(spw_policy_parse(NULL, &parsed), -1);
    assert_int_equal(parsed, SPW_POLICY_RANDOM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grants_follow_the_table_of_cases),
        cmocka_unit_test(test_grants_second_request_right_after_sees_less_spare),
        cmocka_unit_test(test_grants_spare_returns_when_the_grants_expire),
        cmocka_unit_test(test_grants_never_write_more_than_max_out_nor_record_what_was_not_written),
        cmocka_unit_test(test_grants_for_nothing_wanted_are_none),
        cmocka_unit_test(test_grants_random_is_deterministic_per_seed),
        cmocka_unit_test(test_grants_random_advances_the_state_in_place),
        cmocka_unit_test(test_grants_random_uses_every_eligible_edge_about_equally),
        cmocka_unit_test(test_grants_random_draws_from_the_origin_zone_first),
        cmocka_unit_test(test_grants_random_without_a_state_uses_seed_zero),
        cmocka_unit_test(test_grants_random_next_is_splitmix64),
        cmocka_unit_test(test_grants_policy_names_parse_back_to_their_policy),
        cmocka_unit_test(test_grants_policy_parse_refuses_unknown_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
