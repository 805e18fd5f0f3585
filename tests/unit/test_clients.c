//  test_clients.c: the tasks each client holds (edge/clients.c).

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "clients.h"

#include <string.h>

//  A client is counted up to its limit, refused past it, and forgotten
//  once it holds nothing; clients are told apart by their whole identity.
static void test_clients_count_each_client_up_to_its_limit(void **state)
{
    (void) state;
    spw_clients_t *clients = spw_clients_new();
    assert_non_null(clients);
    const uint8_t a[] = { 0, 1, 2, 3, 4 }, b[] = { 0, 1, 2, 3, 5 }, prefix[] = { 0, 1, 2, 3 };
    assert_true(spw_clients_add(clients, a, sizeof a, 2));
    assert_true(spw_clients_add(clients, a, sizeof a, 2));
    assert_false(spw_clients_add(clients, a, sizeof a, 2));
    assert_int_equal(spw_clients_tasks(clients, a, sizeof a), 2);
    assert_true(spw_clients_add(clients, b, sizeof b, 2));
    assert_int_equal(spw_clients_tasks(clients, prefix, sizeof prefix), 0);
    assert_int_equal(spw_clients_size(clients), 2);
    spw_clients_remove(clients, a, sizeof a);
    assert_true(spw_clients_add(clients, a, sizeof a, 2));
    spw_clients_remove(clients, a, sizeof a);
    spw_clients_remove(clients, a, sizeof a);
    assert_int_equal(spw_clients_tasks(clients, a, sizeof a), 0);
    assert_int_equal(spw_clients_size(clients), 1);
    //  Removing what is not there changes nothing.
    spw_clients_remove(clients, a, sizeof a);
    spw_clients_remove(clients, prefix, sizeof prefix);
    assert_int_equal(spw_clients_tasks(clients, b, sizeof b), 1);
    assert_false(spw_clients_add(clients, prefix, sizeof prefix, 0));
    spw_clients_destroy(&clients);
    assert_null(clients);
    spw_clients_destroy(&clients);
}

//  Many clients at once: each counted on its own.
static void test_clients_hold_many_clients(void **state)
{
    (void) state;
    spw_clients_t *clients = spw_clients_new();
    assert_non_null(clients);
    for (uint32_t i = 0; i < 5000; i++)
        assert_true(spw_clients_add(clients, &i, sizeof i, 1));
    assert_int_equal(spw_clients_size(clients), 5000);
    for (uint32_t i = 0; i < 5000; i += 2)
        spw_clients_remove(clients, &i, sizeof i);
    assert_int_equal(spw_clients_size(clients), 2500);
    uint32_t odd = 4999, even = 4998;
    assert_int_equal(spw_clients_tasks(clients, &odd, sizeof odd), 1);
    assert_int_equal(spw_clients_tasks(clients, &even, sizeof even), 0);
    spw_clients_destroy(&clients);
}

//  Counts of several at once (an edge's worker slots per key) stop at the
//  limit without passing it, and come off as they went on.
static void test_clients_count_several_at_once(void **state)
{
    (void) state;
    spw_clients_t *keys = spw_clients_new();
    assert_non_null(keys);
    const char key[] = "ua%Lj<fI4?WmZ{(u]wMXbWlhNxAxe-yJPEaqx5H&";
    assert_true(spw_clients_add_n(keys, key, strlen(key), 2, 3));
    assert_false(spw_clients_add_n(keys, key, strlen(key), 2, 3));
    assert_true(spw_clients_add_n(keys, key, strlen(key), 1, 3));
    assert_int_equal(spw_clients_tasks(keys, key, strlen(key)), 3);
    assert_false(spw_clients_add_n(keys, "other", 5, 4, 3));
    spw_clients_remove_n(keys, key, strlen(key), 2);
    assert_int_equal(spw_clients_tasks(keys, key, strlen(key)), 1);
    spw_clients_remove_n(keys, key, strlen(key), 5);  // never below nothing
    assert_int_equal(spw_clients_size(keys), 0);
    spw_clients_destroy(&keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clients_count_each_client_up_to_its_limit),
        cmocka_unit_test(test_clients_hold_many_clients),
        cmocka_unit_test(test_clients_count_several_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
