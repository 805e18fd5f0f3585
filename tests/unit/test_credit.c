//  test_credit.c: the edge's credit ledger (edge/credit.h), read as its
//  specification.
//
//  Lending: credit is offered only on open, matched links, never over the
//  loop's limit nor a loan's cap of ceil(depth x share), one move a link,
//  no more than can be written; over many rounds each borrower gets credits
//  in proportion to its share, and a late joiner gets no burst; excess and
//  rematch take back unused credit only, never held tasks; returned credit
//  rests until the next lapse, which forgets expired credit. Borrowing:
//  credits are spent from the fullest valid holding, expire with their
//  lease, and unused ones go back when their service is idle. Links and
//  services are addresses of static ints; times are plain numbers.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "credit.h"

#include <stdbool.h>

static int link_a, link_b, link_c, service_x, service_y;
#define A ((void *) &link_a)
#define B ((void *) &link_b)
#define C ((void *) &link_c)
#define X ((void *) &service_x)
#define Y ((void *) &service_y)

#define MAX_LOANS    8
#define MAX_HOLDINGS 8
#define MAX_MOVES    8
#define FAR          1000000  // a lease end no test reaches

static spw_credit_move_t out[MAX_MOVES];  // what a call under test wrote

static spw_credit_t *new_ledger(uint32_t depth)
{
    spw_credit_t *ledger = spw_credit_new(MAX_LOANS, MAX_HOLDINGS, depth);
    assert_non_null(ledger);
    return ledger;
}

static const char *name_of(const void *key)
{
    return key == A ? "A" : key == B ? "B" : key == C ? "C" : key == X ? "X"
         : key == Y ? "Y" : key ? "(other)" : "(none)";
}

//  Matches links to service with the given shares, all open; a new match
//  revokes nothing.
static void match(spw_credit_t *ledger, void *service, size_t count, void *const *links,
                  const uint32_t *slots_milli)
{
    bool open[4] = { true, true, true, true };
    spw_credit_move_t revokes[MAX_MOVES];
    assert_true(count <= 4);
    size_t moves = spw_credit_rematch(ledger, service, links, slots_milli, open, count, revokes,
                                      MAX_MOVES);
    if (moves)
        fail_msg("rematch of new links: expected no revokes, got %zu moves", moves);
}

static void match1(spw_credit_t *ledger, void *service, void *link, uint32_t slots_milli)
{
    match(ledger, service, 1, (void *[]) { link }, (uint32_t[]) { slots_milli });
}

static size_t offer(spw_credit_t *ledger, void *service, uint32_t limit)
{
    return spw_credit_offer(ledger, service, limit, FAR, out, MAX_MOVES);
}

//  Asserts that out[0, n) holds, for service, one move a link with the
//  counts a, b, c for A, B, C (0: no move for it).
static void assert_moves(size_t n, void *service, uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t got[3] = { 0, 0, 0 };
    bool seen[3] = { false, false, false };
    for (size_t i = 0; i < n; i++) {
        size_t k = out[i].link == A ? 0 : out[i].link == B ? 1 : out[i].link == C ? 2 : 3;
        if (k == 3 || out[i].service != service)
            fail_msg("move %zu: expected a link A/B/C for service %s, got link %s service %s",
                     i, name_of(service), name_of(out[i].link), name_of(out[i].service));
        if (seen[k])
            fail_msg("move %zu: expected one move for link %s, got a second", i,
                     name_of(out[i].link));
        seen[k] = true;
        got[k] = out[i].count;
    }
    if (got[0] != a || got[1] != b || got[2] != c)
        fail_msg("moves: expected A=%u B=%u C=%u, got A=%u B=%u C=%u", a, b, c, got[0],
                 got[1], got[2]);
}

static void assert_lent(const spw_credit_t *ledger, void *service, uint32_t expected)
{
    uint32_t got = spw_credit_lent(ledger, service);
    if (got != expected)
        fail_msg("lent(%s): expected %u out, got %u", name_of(service), expected, got);
}

static void assert_takes_if(spw_credit_t *ledger, void *service, bool prefetch, int64_t now,
                            void *expected)
{
    void *got = spw_credit_take(ledger, service, prefetch, now);
    if (got != expected)
        fail_msg("take(%s, prefetch=%d, now=%lld): expected link %s, got %s", name_of(service),
                 prefetch, (long long) now, name_of(expected), name_of(got));
}

//  Takes with prefetch allowed: without shares, the fullest holding first.
static void assert_takes(spw_credit_t *ledger, void *service, int64_t now, void *expected)
{
    assert_takes_if(ledger, service, true, now, expected);
}

static bool idle_unless_y(void *service, void *arg)
{
    (void) arg;
    return service != Y;
}

// --- lifecycle ------------------------------------------------------------------

static void test_credit_new_refuses_zero_limits(void **state)
{
    (void) state;
    assert_null(spw_credit_new(0, MAX_HOLDINGS, 2));
    assert_null(spw_credit_new(MAX_LOANS, 0, 2));
    assert_null(spw_credit_new(MAX_LOANS, MAX_HOLDINGS, 0));
}

static void test_credit_destroy_nulls_the_pointer_and_is_safe_on_null(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    spw_credit_destroy(&ledger);
    assert_null(ledger);
    spw_credit_destroy(&ledger);
    spw_credit_destroy(NULL);
}

// --- offer ----------------------------------------------------------------------

static void test_credit_offer_never_takes_outstanding_and_held_over_the_limit(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(10);
    match(ledger, X, 2, (void *[]) { A, B }, (uint32_t[]) { 1000, 1000 });
    assert_true(spw_credit_arrive(ledger, A, X, true));  // one held task, no credit
    size_t n = offer(ledger, X, 5);
    assert_moves(n, X, 2, 2, 0);
    assert_lent(ledger, X, 5);
    assert_int_equal(offer(ledger, X, 5), 0);
    spw_credit_destroy(&ledger);
}

static void test_credit_offer_gives_nothing_on_a_link_not_yet_open(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    assert_int_equal(spw_credit_rematch(ledger, X, (void *[]) { A }, (uint32_t[]) { 1000 },
                                        (bool[]) { false }, 1, out, MAX_MOVES), 0);
    assert_int_equal(offer(ledger, X, 4), 0);
    assert_true(spw_credit_lending(ledger, X));
    spw_credit_open_link(ledger, A);
    size_t n = offer(ledger, X, 4);
    assert_moves(n, X, 2, 0, 0);
    spw_credit_destroy(&ledger);
}

static void test_credit_offer_gives_on_a_link_opened_by_a_task_arrival(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    spw_credit_rematch(ledger, X, (void *[]) { A }, (uint32_t[]) { 1000 }, (bool[]) { false }, 1,
                       out, MAX_MOVES);
    assert_true(spw_credit_arrive(ledger, A, X, true));
    size_t n = offer(ledger, X, 4);
    assert_moves(n, X, 1, 0, 0);  // cap 2, one held
    spw_credit_destroy(&ledger);
}

static void test_credit_open_link_forgets_credit_offered_before(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    match1(ledger, X, A, 1000);
    offer(ledger, X, 4);
    spw_credit_open_link(ledger, A);  // a new route: what went the old one may be lost
    assert_lent(ledger, X, 0);
    size_t n = offer(ledger, X, 4);
    assert_moves(n, X, 2, 0, 0);
    spw_credit_destroy(&ledger);
}

static void test_credit_unoffer_takes_back_credit_never_sent_and_its_turn(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(10);
    match(ledger, X, 2, (void *[]) { B, A }, (uint32_t[]) { 1000, 1000 });  // B wins ties
    size_t n = offer(ledger, X, 2);
    assert_moves(n, X, 1, 1, 0);
    spw_credit_unoffer(ledger, A, X, 1);
    assert_lent(ledger, X, 1);
    n = offer(ledger, X, 2);
    assert_moves(n, X, 1, 0, 0);  // A's turn came back to it
    spw_credit_destroy(&ledger);
}

static void test_credit_offer_gives_nothing_without_a_match(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    assert_int_equal(offer(ledger, X, 4), 0);
    assert_true(spw_credit_arrive(ledger, A, X, true));  // a loan, open, but no share
    assert_int_equal(offer(ledger, X, 4), 0);
    match1(ledger, Y, B, 1000);
    assert_int_equal(offer(ledger, X, 4), 0);  // a match of another service
    assert_lent(ledger, X, 1);
    spw_credit_destroy(&ledger);
}

static void test_credit_offer_caps_a_loan_at_depth_times_its_share_rounded_up(void **state)
{
    (void) state;
    static const struct { uint32_t depth, milli, cap; } cases[] = {
        { 2, 1000, 2 }, { 3, 1500, 5 }, { 2, 2353, 5 }, { 2, 471, 1 },
        { 1, 1, 1 },    { 4, 250, 1 },  { 4, 251, 2 },  { 3, 2000, 6 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spw_credit_t *ledger = new_ledger(cases[i].depth);
        match1(ledger, X, A, cases[i].milli);
            size_t n = offer(ledger, X, 100);
        uint32_t got = n ? out[0].count : 0;
        if (n != 1 || got != cases[i].cap)
            fail_msg("depth %u share %u milli: expected one move of %u, got %zu moves, first %u",
                     cases[i].depth, cases[i].milli, cases[i].cap, n, got);
        spw_credit_destroy(&ledger);
    }
}

static void test_credit_offer_merges_moves_for_the_same_link(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(4);
    match(ledger, X, 3, (void *[]) { A, B, C }, (uint32_t[]) { 1000, 1000, 1000 });
    size_t n = offer(ledger, X, 12);
    assert_int_equal(n, 3);
    assert_moves(n, X, 4, 4, 4);
    spw_credit_destroy(&ledger);
}

static void test_credit_offer_writes_at_most_max_moves_and_offers_no_more(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(4);
    match(ledger, X, 3, (void *[]) { A, B, C }, (uint32_t[]) { 1000, 1000, 1000 });
    assert_int_equal(spw_credit_offer(ledger, X, 12, FAR, out, 0), 0);
    assert_lent(ledger, X, 0);
    size_t n = spw_credit_offer(ledger, X, 12, FAR, out, 1);
    assert_int_equal(n, 1);
    assert_lent(ledger, X, out[0].count);  // only what was written went out
    spw_credit_destroy(&ledger);
}

// --- sharing --------------------------------------------------------------------

static void test_credit_offer_shares_in_proportion_to_the_hub_shares(void **state)
{
    (void) state;
    enum { ROUNDS = 3400, LIMIT = 8 };  // a 4-slot lender at depth 2
    static const double expected[3] = { 10.0 / 17, 5.0 / 17, 2.0 / 17 };
    void *links[3] = { A, B, C };
    spw_credit_t *ledger = new_ledger(2);
    match(ledger, X, 3, links, (uint32_t[]) { 2353, 1176, 471 });
    void *ring[LIMIT];  // credits out, oldest first: the order their tasks complete
    size_t head = 0, size = 0;
    uint32_t issued[3] = { 0, 0, 0 };
    for (int round = 0; round <= ROUNDS; round++) {
        if (round > 0) {
            void *link = ring[head];
            head = (head + 1) % LIMIT, size--;
            assert_true(spw_credit_arrive(ledger, link, X, false));
            spw_credit_release(ledger, link, X);
        }
        size_t n = offer(ledger, X, LIMIT);
        for (size_t i = 0; i < n; i++)
            for (uint32_t k = 0; k < out[i].count; k++) {
                assert_true(size < LIMIT);
                ring[(head + size++) % LIMIT] = out[i].link;
                issued[out[i].link == A ? 0 : out[i].link == B ? 1 : 2]++;
            }
    }
    double total = issued[0] + issued[1] + issued[2];
    for (size_t i = 0; i < 3; i++) {
        double error = issued[i] / total - expected[i];
        if (error > 0.15 * expected[i] || -error > 0.15 * expected[i])
            fail_msg("borrower %s: expected %.3f of the credits (within 15%%), got %.3f "
                     "(A=%u B=%u C=%u)", name_of(links[i]), expected[i], issued[i] / total,
                     issued[0], issued[1], issued[2]);
    }
    spw_credit_destroy(&ledger);
}

static void test_credit_a_new_loan_starts_at_the_smallest_pass(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(100);
    match(ledger, X, 2, (void *[]) { A, B }, (uint32_t[]) { 1000, 1000 });
    size_t n = offer(ledger, X, 20);
    assert_moves(n, X, 10, 10, 0);
    match(ledger, X, 3, (void *[]) { A, B, C }, (uint32_t[]) { 1000, 1000, 1000 });
    n = offer(ledger, X, 26);  // at pass 0, C would take all 6
    assert_moves(n, X, 2, 2, 2);
    spw_credit_destroy(&ledger);
}

// --- excess ---------------------------------------------------------------------

static void test_credit_excess_revokes_down_to_the_limit_furthest_ahead_first(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(10);
    match(ledger, X, 2, (void *[]) { A, B }, (uint32_t[]) { 1000, 1000 });
    size_t n = offer(ledger, X, 5);
    assert_moves(n, X, 3, 2, 0);  // A is a credit ahead
    n = spw_credit_excess(ledger, X, 4, out, MAX_MOVES);
    assert_moves(n, X, 1, 0, 0);
    assert_lent(ledger, X, 4);
    spw_credit_destroy(&ledger);
}

static void test_credit_excess_never_revokes_held_tasks(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(10);
    match1(ledger, X, A, 1000);
    offer(ledger, X, 3);
    assert_true(spw_credit_arrive(ledger, A, X, false));
    assert_true(spw_credit_arrive(ledger, A, X, false));
    size_t n = spw_credit_excess(ledger, X, 1, out, MAX_MOVES);
    assert_moves(n, X, 1, 0, 0);
    assert_lent(ledger, X, 2);
    spw_credit_destroy(&ledger);
}

static void test_credit_excess_with_limit_zero_revokes_all_outstanding(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(10);
    match(ledger, X, 2, (void *[]) { A, B }, (uint32_t[]) { 1000, 3000 });
    size_t n = offer(ledger, X, 8);
    assert_moves(n, X, 2, 6, 0);
    n = spw_credit_excess(ledger, X, 0, out, MAX_MOVES);
    assert_moves(n, X, 2, 6, 0);
    assert_lent(ledger, X, 0);
    spw_credit_destroy(&ledger);
}

//  After the hub is gone (unmatch_all), revoking a loan's credit must not
//  move its stride pass by 1000 a credit: once matched again it would take
//  every credit it can for ~1000 credits and starve an equal borrower.
static void test_credit_excess_after_the_match_ended_keeps_the_loan_s_place(void **state)
{
    (void) state;
    enum { ROUNDS = 100 };
    spw_credit_t *ledger = new_ledger(2);
    match(ledger, X, 2, (void *[]) { A, B }, (uint32_t[]) { 1000, 1000 });
    offer(ledger, X, 4);
    assert_true(spw_credit_arrive(ledger, A, X, false));  // A's loan stays: a task held
    spw_credit_unmatch_all(ledger);
    spw_credit_excess(ledger, X, 1, out, MAX_MOVES);
    match(ledger, X, 2, (void *[]) { B, A }, (uint32_t[]) { 1000, 1000 });
    spw_credit_release(ledger, A, X);
    uint32_t got[2] = { 0, 0 };
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = offer(ledger, X, 2);
        for (size_t i = 0; i < n; i++)
            for (uint32_t k = 0; k < out[i].count; k++) {
                got[out[i].link == B]++;
                assert_true(spw_credit_arrive(ledger, out[i].link, X, false));
                spw_credit_release(ledger, out[i].link, X);
            }
    }
    if (got[0] > got[1] + 2 || got[1] > got[0] + 2)
        fail_msg("equal shares after a rematch: expected A and B within 2 credits, got A=%u B=%u",
                 got[0], got[1]);
    spw_credit_destroy(&ledger);
}

// --- arrive, release, return ----------------------------------------------------

static void test_credit_arrive_consumes_an_outstanding_credit(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    match1(ledger, X, A, 1000);
    offer(ledger, X, 1);
    assert_true(spw_credit_arrive(ledger, A, X, false));
    assert_lent(ledger, X, 1);  // now a held task
    assert_false(spw_credit_arrive(ledger, A, X, false));  // the credit is spent
    spw_credit_destroy(&ledger);
}

static void test_credit_arrive_without_credit_holds_the_task_only_if_there_is_room(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    assert_false(spw_credit_arrive(ledger, A, X, false));
    assert_lent(ledger, X, 0);
    assert_true(spw_credit_arrive(ledger, A, X, true));
    assert_lent(ledger, X, 1);
    spw_credit_destroy(&ledger);
}

static void test_credit_release_lowers_held(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    assert_true(spw_credit_arrive(ledger, A, X, true));
    assert_true(spw_credit_arrive(ledger, A, X, true));
    spw_credit_release(ledger, A, X);
    assert_lent(ledger, X, 1);
    spw_credit_release(ledger, A, X);
    spw_credit_release(ledger, A, X);  // nothing held: no effect
    spw_credit_release(ledger, B, X);  // no loan: no effect
    assert_lent(ledger, X, 0);
    spw_credit_destroy(&ledger);
}

static void test_credit_returned_credit_rests_the_loan_until_the_next_lapse(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    match1(ledger, X, A, 1000);
    offer(ledger, X, 2);
    spw_credit_returned(ledger, A, X, 2);
    assert_lent(ledger, X, 0);
    assert_int_equal(offer(ledger, X, 2), 0);
    spw_credit_lapse(ledger, 0);
    size_t n = offer(ledger, X, 2);
    assert_moves(n, X, 2, 0, 0);
    spw_credit_destroy(&ledger);
}

// --- lapse and refresh ----------------------------------------------------------

static void test_credit_lapse_forgets_outstanding_credit_past_its_expiry(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(4);
    match1(ledger, X, A, 1000);
    spw_credit_offer(ledger, X, 4, 100, out, MAX_MOVES);
    assert_true(spw_credit_arrive(ledger, A, X, false));
    spw_credit_lapse(ledger, 99);
    assert_lent(ledger, X, 4);
    spw_credit_lapse(ledger, 100);
    assert_lent(ledger, X, 1);  // the held task stays
    spw_credit_destroy(&ledger);
}

static void test_credit_refresh_extends_leases_of_matched_loans_with_credit_out(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    match(ledger, X, 2, (void *[]) { A, B }, (uint32_t[]) { 1000, 1000 });
    spw_credit_offer(ledger, X, 1, 100, out, MAX_MOVES);  // A only
    size_t n = spw_credit_refresh(ledger, 200, out, MAX_MOVES);
    assert_moves(n, X, 0, 0, 0);  // one move for A with count 0, none for B
    assert_int_equal(n, 1);
    assert_ptr_equal(out[0].link, A);
    spw_credit_lapse(ledger, 150);
    assert_lent(ledger, X, 1);
    spw_credit_lapse(ledger, 200);
    assert_lent(ledger, X, 0);
    spw_credit_destroy(&ledger);
}

static void test_credit_refresh_lets_credit_untouched_for_a_whole_lease_lapse(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    match1(ledger, X, A, 1000);
    spw_credit_offer(ledger, X, 1, 100, out, MAX_MOVES);
    assert_int_equal(spw_credit_refresh(ledger, 200, out, MAX_MOVES), 1);  // offered: renewed
    //  Nothing offered and no task since: the next refresh leaves it to lapse,
    //  so a borrower that forgot its credit cannot pin it for good.
    assert_int_equal(spw_credit_refresh(ledger, 300, out, MAX_MOVES), 0);
    spw_credit_lapse(ledger, 200);
    assert_lent(ledger, X, 0);
    spw_credit_destroy(&ledger);
}

static void test_credit_uses_says_whether_a_loan_or_holding_names_the_service(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    assert_false(spw_credit_uses(ledger, X));
    match1(ledger, X, A, 1000);
    assert_true(spw_credit_uses(ledger, X));
    assert_false(spw_credit_uses(ledger, Y));
    assert_int_equal(spw_credit_share(ledger, B, Y, 1000), 0);
    assert_true(spw_credit_uses(ledger, Y));
    spw_credit_forget_link(ledger, A);
    spw_credit_forget_link(ledger, B);
    assert_false(spw_credit_uses(ledger, X) || spw_credit_uses(ledger, Y));
    spw_credit_destroy(&ledger);
}

// --- rematch ----------------------------------------------------------------------

static void test_credit_rematch_ends_unlisted_matches_and_revokes_their_unused_credit(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    match(ledger, X, 2, (void *[]) { A, B }, (uint32_t[]) { 1000, 1000 });
    match1(ledger, Y, A, 1000);
    offer(ledger, X, 4);
    offer(ledger, Y, 2);
    assert_true(spw_credit_arrive(ledger, A, X, false));
    size_t n = spw_credit_rematch(ledger, X, (void *[]) { B }, (uint32_t[]) { 1000 },
                                  (bool[]) { true }, 1, out, MAX_MOVES);
    assert_moves(n, X, 1, 0, 0);
    assert_lent(ledger, X, 3);  // B's 2 and A's held task
    assert_lent(ledger, Y, 2);  // another service's match stands
    assert_true(spw_credit_arrive(ledger, B, X, false));
    spw_credit_release(ledger, B, X);
    spw_credit_release(ledger, A, X);
    n = offer(ledger, X, 4);
    assert_moves(n, X, 0, 1, 0);  // B's freed credit goes out again, none to A
    spw_credit_destroy(&ledger);
}

static void test_credit_rematch_revokes_what_a_shrunk_share_has_over_its_new_cap(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    match1(ledger, X, A, 3000);
    offer(ledger, X, 6);
    size_t n = spw_credit_rematch(ledger, X, (void *[]) { A }, (uint32_t[]) { 1000 },
                                  (bool[]) { true }, 1, out, MAX_MOVES);
    assert_moves(n, X, 4, 0, 0);
    assert_lent(ledger, X, 2);
    spw_credit_destroy(&ledger);
}

static void test_credit_unmatch_all_stops_offers_but_keeps_credit_until_it_lapses(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    match1(ledger, X, A, 1000);
    spw_credit_offer(ledger, X, 1, 100, out, MAX_MOVES);
    spw_credit_unmatch_all(ledger);
    assert_false(spw_credit_lending(ledger, X));
    assert_lent(ledger, X, 1);
    assert_int_equal(offer(ledger, X, 2), 0);
    assert_int_equal(spw_credit_refresh(ledger, 200, out, MAX_MOVES), 0);
    spw_credit_lapse(ledger, 100);
    assert_lent(ledger, X, 0);
    spw_credit_destroy(&ledger);
}

static void test_credit_lent_and_lending_report_what_is_out_and_whether_a_match_stands(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    assert_false(spw_credit_lending(ledger, X));
    assert_lent(ledger, X, 0);
    match1(ledger, X, A, 1000);
    assert_true(spw_credit_lending(ledger, X));
    assert_false(spw_credit_lending(ledger, Y));
    offer(ledger, X, 2);
    assert_lent(ledger, X, 2);
    assert_lent(ledger, Y, 0);
    spw_credit_rematch(ledger, X, NULL, NULL, NULL, 0, out, MAX_MOVES);
    assert_false(spw_credit_lending(ledger, X));
    spw_credit_destroy(&ledger);
}

// --- borrowing --------------------------------------------------------------------

static void assert_held(const spw_credit_t *ledger, void *service, int64_t now, uint32_t expected)
{
    uint32_t got = spw_credit_held(ledger, service, now);
    if (got != expected)
        fail_msg("held(%s, now=%lld): expected %u, got %u", name_of(service), (long long) now,
                 expected, got);
}

static void test_credit_grant_adds_credits_valid_for_a_lease_from_now(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    assert_int_equal(spw_credit_grant(ledger, A, X, 3, 100, 0), 0);
    assert_int_equal(spw_credit_grant(ledger, A, X, 2, 100, 50), 0);
    assert_int_equal(spw_credit_grant(ledger, A, X, 0, 100, 60), 0);  // a refresh
    assert_held(ledger, X, 159, 5);
    assert_held(ledger, X, 160, 0);
    assert_held(ledger, Y, 0, 0);
    spw_credit_destroy(&ledger);
}

static void test_credit_take_without_shares_spends_from_the_holding_with_most_valid_credits(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    spw_credit_grant(ledger, A, X, 2, 100, 0);
    spw_credit_grant(ledger, B, X, 3, 100, 0);
    spw_credit_grant(ledger, C, X, 9, 10, 0);  // the most, but expired by now=20
    assert_takes(ledger, X, 20, B);
    assert_held(ledger, X, 20, 4);
    spw_credit_destroy(&ledger);
}

static void test_credit_take_is_null_when_no_credit_or_all_expired(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    assert_takes(ledger, X, 0, NULL);
    spw_credit_grant(ledger, A, X, 1, 100, 0);
    spw_credit_grant(ledger, B, X, 5, 100, 0);
    assert_takes(ledger, Y, 0, NULL);
    assert_takes(ledger, X, 100, NULL);
    spw_credit_grant(ledger, C, X, 1, 100, 0);
    assert_takes(ledger, X, 0, B);
    spw_credit_revoked(ledger, B, X, 0);
    spw_credit_revoked(ledger, A, X, 0);
    assert_takes(ledger, X, 0, C);
    assert_takes(ledger, X, 0, NULL);
    spw_credit_destroy(&ledger);
}

static void test_credit_untake_gives_the_credit_and_the_slot_back(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    assert_int_equal(spw_credit_share(ledger, A, X, 1000), 0);
    spw_credit_grant(ledger, A, X, 1, 100, 0);
    assert_takes_if(ledger, X, false, 0, A);
    spw_credit_untake(ledger, A, X);
    assert_held(ledger, X, 0, 1);
    assert_takes_if(ledger, X, false, 0, A);  // the task is no longer counted in flight
    spw_credit_destroy(&ledger);
}

static void test_credit_take_prefers_the_lender_with_fewest_of_our_tasks_for_its_share(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    spw_credit_share(ledger, A, X, 1000);
    spw_credit_share(ledger, B, X, 2000);
    spw_credit_grant(ledger, A, X, 5, 100, 0);
    spw_credit_grant(ledger, B, X, 4, 100, 0);
    assert_takes(ledger, X, 0, A);  // both idle: the one with more credit
    assert_takes(ledger, X, 0, B);  // A has 1 a slot, B 0
    assert_takes(ledger, X, 0, B);  // A 1, B 0.5
    assert_takes(ledger, X, 0, A);  // both 1: the one with more credit
    spw_credit_destroy(&ledger);
}

static void test_credit_take_without_prefetch_spends_only_credit_for_an_idle_slot(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    spw_credit_share(ledger, A, X, 1000);
    spw_credit_grant(ledger, A, X, 5, 100, 0);
    spw_credit_grant(ledger, B, X, 5, 100, 0);  // no share: every task would wait
    assert_takes_if(ledger, X, false, 0, A);
    assert_takes_if(ledger, X, false, 0, NULL);
    spw_credit_settle(ledger, A, X);  // its answer came: the slot is idle again
    assert_takes_if(ledger, X, false, 0, A);
    assert_takes_if(ledger, X, true, 0, A);  // prefetch: A 1 a slot still beats no share
    spw_credit_destroy(&ledger);
}

static void test_credit_revoked_clears_up_to_count_or_all_with_zero(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    spw_credit_grant(ledger, A, X, 5, 100, 0);
    spw_credit_grant(ledger, B, X, 4, 100, 0);
    spw_credit_revoked(ledger, A, X, 2);
    assert_held(ledger, X, 0, 7);
    spw_credit_revoked(ledger, A, X, 10);
    assert_held(ledger, X, 0, 4);
    spw_credit_revoked(ledger, B, X, 0);
    assert_held(ledger, X, 0, 0);
    spw_credit_destroy(&ledger);
}

static void test_credit_link_holds_only_with_valid_credits(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    spw_credit_grant(ledger, A, X, 1, 100, 0);
    spw_credit_grant(ledger, B, Y, 1, 10, 0);
    assert_true(spw_credit_link_holds(ledger, A, 0));
    assert_true(spw_credit_link_holds(ledger, B, 0));
    assert_false(spw_credit_link_holds(ledger, C, 0));
    assert_false(spw_credit_link_holds(ledger, B, 10));  // expired
    assert_takes(ledger, X, 0, A);
    assert_false(spw_credit_link_holds(ledger, A, 0));  // spent
    spw_credit_destroy(&ledger);
}

static void test_credit_unused_returns_unused_credit_of_idle_services_and_zeroes_it(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    spw_credit_grant(ledger, A, X, 3, 100, 0);
    spw_credit_grant(ledger, B, X, 2, 100, 0);
    spw_credit_grant(ledger, C, Y, 4, 100, 0);
    assert_takes(ledger, X, 0, A);  // A was used since the last call
    size_t n = spw_credit_unused(ledger, idle_unless_y, NULL, 0, out, MAX_MOVES);
    assert_moves(n, X, 0, 2, 0);  // C's service is busy
    assert_held(ledger, X, 0, 2);
    assert_held(ledger, Y, 0, 4);
    n = spw_credit_unused(ledger, idle_unless_y, NULL, 0, out, MAX_MOVES);
    assert_moves(n, X, 2, 0, 0);  // A is unused since
    assert_held(ledger, X, 0, 0);
    spw_credit_destroy(&ledger);
}

static void test_credit_unused_drops_expired_holdings(void **state)
{
    (void) state;
    spw_credit_t *ledger = spw_credit_new(MAX_LOANS, 1, 2);
    assert_non_null(ledger);
    spw_credit_grant(ledger, A, X, 3, 10, 0);
    assert_int_equal(spw_credit_unused(ledger, idle_unless_y, NULL, 10, out, MAX_MOVES), 0);
    if (spw_credit_grant(ledger, B, X, 1, 10, 10) != 0)
        fail_msg("grant after the only holding expired: expected 0 (its slot freed), got -1");
    spw_credit_destroy(&ledger);
}

static void test_credit_refresh_grant_of_an_unknown_holding_does_nothing(void **state)
{
    (void) state;
    spw_credit_t *ledger = spw_credit_new(MAX_LOANS, 1, 2);
    assert_non_null(ledger);
    assert_int_equal(spw_credit_grant(ledger, A, X, 0, 100, 0), 0);
    assert_false(spw_credit_link_holds(ledger, A, 0));
    assert_int_equal(spw_credit_grant(ledger, B, X, 1, 100, 0), 0);  // the slot is free
    spw_credit_destroy(&ledger);
}

static void test_credit_grant_after_expiry_does_not_revive_lapsed_credits(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    spw_credit_grant(ledger, A, X, 3, 10, 0);
    spw_credit_grant(ledger, A, X, 0, 10, 10);
    assert_held(ledger, X, 10, 0);
    spw_credit_grant(ledger, A, X, 1, 10, 20);
    assert_held(ledger, X, 20, 1);
    spw_credit_destroy(&ledger);
}

// --- forget -----------------------------------------------------------------------

static void test_credit_forget_link_removes_only_that_links_loans_and_holdings(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    match(ledger, X, 2, (void *[]) { A, B }, (uint32_t[]) { 1000, 1000 });
    offer(ledger, X, 4);
    spw_credit_grant(ledger, A, Y, 5, 100, 0);
    spw_credit_grant(ledger, B, Y, 1, 100, 0);
    spw_credit_forget_link(ledger, A);
    assert_lent(ledger, X, 2);
    assert_held(ledger, Y, 0, 1);
    assert_takes(ledger, Y, 0, B);
    size_t n = spw_credit_refresh(ledger, 200, out, MAX_MOVES);
    assert_moves(n, X, 0, 0, 0);
    assert_int_equal(n, 1);
    assert_ptr_equal(out[0].link, B);
    spw_credit_destroy(&ledger);
}

static void test_credit_forget_service_removes_only_that_services_loans_and_holdings(void **state)
{
    (void) state;
    spw_credit_t *ledger = new_ledger(2);
    match1(ledger, X, A, 1000);
    match1(ledger, Y, A, 1000);
    offer(ledger, X, 2);
    offer(ledger, Y, 1);
    spw_credit_grant(ledger, B, X, 2, 100, 0);
    spw_credit_grant(ledger, B, Y, 3, 100, 0);
    spw_credit_forget_service(ledger, X);
    assert_lent(ledger, X, 0);
    assert_false(spw_credit_lending(ledger, X));
    assert_lent(ledger, Y, 1);
    assert_true(spw_credit_lending(ledger, Y));
    assert_held(ledger, X, 0, 0);
    assert_held(ledger, Y, 0, 3);
    spw_credit_destroy(&ledger);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credit_new_refuses_zero_limits),
        cmocka_unit_test(test_credit_destroy_nulls_the_pointer_and_is_safe_on_null),
        cmocka_unit_test(test_credit_offer_never_takes_outstanding_and_held_over_the_limit),
        cmocka_unit_test(test_credit_offer_gives_nothing_on_a_link_not_yet_open),
        cmocka_unit_test(test_credit_offer_gives_on_a_link_opened_by_a_task_arrival),
        cmocka_unit_test(test_credit_open_link_forgets_credit_offered_before),
        cmocka_unit_test(test_credit_unoffer_takes_back_credit_never_sent_and_its_turn),
        cmocka_unit_test(test_credit_offer_gives_nothing_without_a_match),
        cmocka_unit_test(test_credit_offer_caps_a_loan_at_depth_times_its_share_rounded_up),
        cmocka_unit_test(test_credit_offer_merges_moves_for_the_same_link),
        cmocka_unit_test(test_credit_offer_writes_at_most_max_moves_and_offers_no_more),
        cmocka_unit_test(test_credit_offer_shares_in_proportion_to_the_hub_shares),
        cmocka_unit_test(test_credit_a_new_loan_starts_at_the_smallest_pass),
        cmocka_unit_test(test_credit_excess_revokes_down_to_the_limit_furthest_ahead_first),
        cmocka_unit_test(test_credit_excess_never_revokes_held_tasks),
        cmocka_unit_test(test_credit_excess_with_limit_zero_revokes_all_outstanding),
        cmocka_unit_test(test_credit_excess_after_the_match_ended_keeps_the_loan_s_place),
        cmocka_unit_test(test_credit_arrive_consumes_an_outstanding_credit),
        cmocka_unit_test(test_credit_arrive_without_credit_holds_the_task_only_if_there_is_room),
        cmocka_unit_test(test_credit_release_lowers_held),
        cmocka_unit_test(test_credit_returned_credit_rests_the_loan_until_the_next_lapse),
        cmocka_unit_test(test_credit_lapse_forgets_outstanding_credit_past_its_expiry),
        cmocka_unit_test(test_credit_refresh_extends_leases_of_matched_loans_with_credit_out),
        cmocka_unit_test(test_credit_refresh_lets_credit_untouched_for_a_whole_lease_lapse),
        cmocka_unit_test(test_credit_uses_says_whether_a_loan_or_holding_names_the_service),
        cmocka_unit_test(test_credit_rematch_ends_unlisted_matches_and_revokes_their_unused_credit),
        cmocka_unit_test(test_credit_rematch_revokes_what_a_shrunk_share_has_over_its_new_cap),
        cmocka_unit_test(test_credit_unmatch_all_stops_offers_but_keeps_credit_until_it_lapses),
        cmocka_unit_test(test_credit_lent_and_lending_report_what_is_out_and_whether_a_match_stands),
        cmocka_unit_test(test_credit_grant_adds_credits_valid_for_a_lease_from_now),
        cmocka_unit_test(test_credit_take_without_shares_spends_from_the_holding_with_most_valid_credits),
        cmocka_unit_test(test_credit_take_is_null_when_no_credit_or_all_expired),
        cmocka_unit_test(test_credit_untake_gives_the_credit_and_the_slot_back),
        cmocka_unit_test(test_credit_take_prefers_the_lender_with_fewest_of_our_tasks_for_its_share),
        cmocka_unit_test(test_credit_take_without_prefetch_spends_only_credit_for_an_idle_slot),
        cmocka_unit_test(test_credit_revoked_clears_up_to_count_or_all_with_zero),
        cmocka_unit_test(test_credit_link_holds_only_with_valid_credits),
        cmocka_unit_test(test_credit_unused_returns_unused_credit_of_idle_services_and_zeroes_it),
        cmocka_unit_test(test_credit_unused_drops_expired_holdings),
        cmocka_unit_test(test_credit_refresh_grant_of_an_unknown_holding_does_nothing),
        cmocka_unit_test(test_credit_grant_after_expiry_does_not_revive_lapsed_credits),
        cmocka_unit_test(test_credit_forget_link_removes_only_that_links_loans_and_holdings),
        cmocka_unit_test(test_credit_forget_service_removes_only_that_services_loans_and_holdings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
