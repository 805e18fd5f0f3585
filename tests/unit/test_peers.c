//  test_peers.c: the hub loop's side table of edges (hub/peers.h): lookups
//  by name and by identity, routes that move between peers, slots that
//  stay put while peers come and go, and the partners a peer remembers.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "peers.h"

#include <stdio.h>
#include <string.h>

static void test_peers_find_claim_and_release(void **state)
{
    (void) state;
    spw_peers_t *peers = spw_peers_new(2);
    assert_non_null(peers);
    assert_null(spw_peers_find(peers, "a"));
    spw_peer_t *a = spw_peers_claim(peers, "a");
    assert_non_null(a);
    assert_ptr_equal(spw_peers_claim(peers, "a"), a);   // claimed again: the same
    assert_ptr_equal(spw_peers_find(peers, "a"), a);
    spw_peer_t *b = spw_peers_claim(peers, "b");
    assert_non_null(b);
    assert_null(spw_peers_claim(peers, "c"));           // full
    assert_int_equal(spw_peers_count(peers), 2);
    spw_peers_release(peers, a);
    assert_null(spw_peers_find(peers, "a"));
    assert_int_equal(spw_peers_count(peers), 1);
    assert_ptr_equal(spw_peers_at(peers, 0), b);
    assert_null(spw_peers_at(peers, 1));
    spw_peer_t *c = spw_peers_claim(peers, "c");        // room again
    assert_non_null(c);
    assert_string_equal(c->name, "c");
    assert_int_equal(c->told_count, 0);
    char long_name[SPW_CAPACITY_NAME_MAX + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    spw_peers_release(peers, c);
    assert_null(spw_peers_claim(peers, long_name));     // too long for a name
    spw_peers_destroy(&peers);
    assert_null(peers);
    spw_peers_destroy(&peers);                          // safe on NULL
}

static void test_peers_route_moves_an_identity_to_its_last_peer(void **state)
{
    (void) state;
    spw_peers_t *peers = spw_peers_new(4);
    spw_peer_t *a = spw_peers_claim(peers, "a"), *b = spw_peers_claim(peers, "b");
    const uint8_t one[] = { 0, 1, 2, 3, 4 }, two[] = { 0, 9, 9, 9, 9 };
    spw_peers_route(peers, a, one, sizeof one);
    assert_ptr_equal(spw_peers_by_identity(peers, one, sizeof one), a);
    assert_null(spw_peers_by_identity(peers, two, sizeof two));
    //  The same connection now speaks for b: a loses its route.
    spw_peers_route(peers, b, one, sizeof one);
    assert_ptr_equal(spw_peers_by_identity(peers, one, sizeof one), b);
    assert_int_equal(a->identity_len, 0);
    //  b moves to another connection: the old one routes to nobody.
    spw_peers_route(peers, b, two, sizeof two);
    assert_null(spw_peers_by_identity(peers, one, sizeof one));
    assert_ptr_equal(spw_peers_by_identity(peers, two, sizeof two), b);
    assert_int_equal(b->identity_len, sizeof two);
    assert_memory_equal(b->identity, two, sizeof two);
    spw_peers_release(peers, b);
    assert_null(spw_peers_by_identity(peers, two, sizeof two));
    assert_null(spw_peers_by_identity(peers, two, 0));
    spw_peers_destroy(&peers);
}

static void test_peers_keep_their_slots_while_others_come_and_go(void **state)
{
    (void) state;
    enum { LIMIT = 64 };
    spw_peers_t *peers = spw_peers_new(LIMIT);
    assert_int_equal(spw_peers_limit(peers), LIMIT);
    spw_peer_t *all[LIMIT];
    char name[16];
    for (int i = 0; i < LIMIT; i++) {
        snprintf(name, sizeof name, "e%02d", i);
        all[i] = spw_peers_claim(peers, name);
        assert_non_null(all[i]);
    }
    for (int i = 0; i < LIMIT; i += 3)
        spw_peers_release(peers, all[i]);
    //  Every peer left is in exactly one slot, and the walk over slots
    //  meets each once.
    size_t met = 0;
    for (size_t s = 0; s < spw_peers_limit(peers); s++) {
        spw_peer_t *peer = spw_peers_slot(peers, s);
        if (!peer)
            continue;
        met++;
        assert_ptr_equal(spw_peers_find(peers, peer->name), peer);
    }
    assert_int_equal(met, spw_peers_count(peers));
    assert_int_equal(met, LIMIT - (LIMIT + 2) / 3);
    for (int i = 1; i < LIMIT; i++)
        if (i % 3)
            assert_ptr_equal(spw_peers_find(peers, all[i]->name), all[i]);
    spw_peers_destroy(&peers);
}

static void test_peers_remember_recent_partners_at_most_a_bound(void **state)
{
    (void) state;
    spw_peers_t *peers = spw_peers_new(1);
    spw_peer_t *a = spw_peers_claim(peers, "a");
    spw_peers_met(a, "b", 0);
    spw_peers_met(a, "b", 10);   // again: one entry, refreshed
    assert_int_equal(a->partner_count, 1);
    assert_int_equal(a->partners[0].last, 10);
    char name[16];
    for (int i = 0; i < SPW_PEERS_PARTNERS_MAX; i++) {
        snprintf(name, sizeof name, "p%02d", i);
        spw_peers_met(a, name, 100 + i);
    }
    //  Full: the oldest (b) gave way.
    assert_int_equal(a->partner_count, SPW_PEERS_PARTNERS_MAX);
    for (size_t i = 0; i < a->partner_count; i++)
        assert_string_not_equal(a->partners[i].name, "b");
    //  Past SPW_PEERS_PARTNER_MS since last paired, a partner is forgotten.
    spw_peers_forget_partners(a, 100 + SPW_PEERS_PARTNER_MS + 5);
    assert_int_equal(a->partner_count, SPW_PEERS_PARTNERS_MAX - 5);
    spw_peers_destroy(&peers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peers_find_claim_and_release),
        cmocka_unit_test(test_peers_route_moves_an_identity_to_its_last_peer),
        cmocka_unit_test(test_peers_keep_their_slots_while_others_come_and_go),
        cmocka_unit_test(test_peers_remember_recent_partners_at_most_a_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
