//  test_pool.c: the edge's workers and services (edge/pool.h), read as its
//  specification.
//
//  Services are made on demand within their table's bound; workers are found
//  by their exact identity bytes (zero bytes included), unique and bounded;
//  idle workers are handed out least recently used first, only for their own
//  service, with the per-service counts right at every step; removal unlinks
//  a worker from wherever it is; expiry compares plain numbers; the walk
//  visits every worker once; and destroying a pool that still holds workers
//  leaks nothing (AddressSanitizer's leak check).

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pool.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_WORKERS  4
#define MAX_SERVICES 2
#define QUEUE_MAX    8

static spw_pool_t *new_pool(void)
{
    spw_pool_t *pool = spw_pool_new(MAX_WORKERS, MAX_SERVICES, QUEUE_MAX);
    assert_non_null(pool);
    return pool;
}

static spw_service_t *service_of(spw_pool_t *pool, const char *name)
{
    spw_service_t *service = spw_pool_service(pool, name, strlen(name), true);
    assert_non_null(service);
    return service;
}

//  Adds a native worker whose identity is the text name.
static spw_pool_worker_t *add_worker(spw_pool_t *pool, const char *name,
                                     spw_service_t *service)
{
    spw_pool_worker_t *worker =
        spw_pool_add(pool, name, strlen(name), SPW_WORKER_NATIVE, service);
    if (!worker)
        fail_msg("adding worker '%s': expected a worker, got NULL", name);
    return worker;
}

//  The worker's identity as text, for failure messages.
static const char *name_of(const spw_pool_worker_t *worker)
{
    static char name[SPW_MAX_IDENTITY_LEN + 1];
    if (!worker)
        return "(none)";
    memcpy(name, worker->identity.data, worker->identity.len);
    name[worker->identity.len] = '\0';
    return name;
}

//  Asserts that take_idle hands out the expected worker.
static void assert_takes(spw_pool_t *pool, spw_service_t *service,
                         const spw_pool_worker_t *expected)
{
    spw_pool_worker_t *got = spw_pool_take_idle(pool, service);
    if (got != expected) {
        char want[SPW_MAX_IDENTITY_LEN + 1];
        snprintf(want, sizeof want, "%s", name_of(expected));
        fail_msg("take_idle: expected worker %s, got %s", want, name_of(got));
    }
}

//  Asserts a service's worker and idle counts.
static void assert_counts(const spw_service_t *service, size_t workers, size_t idle)
{
    if (service->workers != workers || service->idle != idle)
        fail_msg("service '%s': expected workers=%zu idle=%zu, got workers=%zu idle=%zu",
                 service->name, workers, idle, service->workers, service->idle);
}

// --- services ---------------------------------------------------------------------

static void test_pool_creates_a_service_on_demand(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *service = spw_pool_service(pool, "echo", 4, true);
    assert_non_null(service);
    assert_string_equal(service->name, "echo");
    assert_counts(service, 0, 0);
    assert_int_equal(service->running, 0);
    assert_int_equal(service->done, 0);
    assert_null(service->free_head[0]);
    assert_null(service->free_tail[0]);
    assert_int_equal(service->queue.size, 0);
    assert_int_equal(service->queue.limit, QUEUE_MAX);
    spw_pool_destroy(&pool);
}

static void test_pool_finds_an_existing_service_again(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *service = service_of(pool, "echo");
    assert_ptr_equal(spw_pool_service(pool, "echo", 4, false), service);
    assert_ptr_equal(spw_pool_service(pool, "echo", 4, true), service);
    spw_pool_destroy(&pool);
}

static void test_pool_service_is_null_when_absent_and_not_created(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    assert_null(spw_pool_service(pool, "echo", 4, false));
    //  ... and asking did not create it.
    assert_null(spw_pool_service(pool, "echo", 4, false));
    spw_pool_destroy(&pool);
}

static void test_pool_service_is_null_when_the_table_is_full(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    service_of(pool, "one");
    service_of(pool, "two");
    assert_null(spw_pool_service(pool, "three", 5, true));
    assert_null(spw_pool_service(pool, "three", 5, false));
    spw_pool_destroy(&pool);
}

static void test_pool_full_service_table_still_finds_existing_services(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *one = service_of(pool, "one");
    service_of(pool, "two");
    assert_ptr_equal(spw_pool_service(pool, "one", 3, true), one);
    spw_pool_destroy(&pool);
}

static void test_pool_service_name_is_the_given_length_only(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *service = spw_pool_service(pool, "echo-and-more", 4, true);
    assert_non_null(service);
    assert_string_equal(service->name, "echo");
    assert_ptr_equal(spw_pool_service(pool, "echo", 4, false), service);
    assert_null(spw_pool_service(pool, "echo-and-more", 13, false));
    spw_pool_destroy(&pool);
}

static void test_pool_service_refuses_empty_and_too_long_names(void **state)
{
    (void) state;
    char name[SPW_MAX_SERVICE_LEN + 1];
    memset(name, 's', sizeof name);
    spw_pool_t *pool = new_pool();
    assert_null(spw_pool_service(pool, "", 0, true));
    assert_null(spw_pool_service(pool, name, SPW_MAX_SERVICE_LEN + 1, true));
    assert_non_null(spw_pool_service(pool, name, SPW_MAX_SERVICE_LEN, true));
    spw_pool_destroy(&pool);
}

static void count_service(spw_service_t *service, void *arg)
{
    (void) service;
    (*(size_t *) arg)++;
}

static void test_pool_each_service_visits_every_service_once(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    size_t visits = 0;
    spw_pool_each_service(pool, count_service, &visits);
    assert_int_equal(visits, 0);
    service_of(pool, "one");
    service_of(pool, "two");
    spw_pool_each_service(pool, count_service, &visits);
    assert_int_equal(visits, 2);
    spw_pool_destroy(&pool);
}

// --- workers by identity --------------------------------------------------------------

static void test_pool_finds_a_worker_by_identity(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    assert_ptr_equal(spw_pool_find(pool, "A", 1), a);
    assert_ptr_equal(spw_pool_find(pool, "B", 1), b);
    assert_null(spw_pool_find(pool, "C", 1));
    spw_pool_destroy(&pool);
}

static void test_pool_finds_a_worker_by_identity_with_zero_bytes(void **state)
{
    (void) state;
    const uint8_t identity[5] = {0, 0x80, 0, 0, 0x2a};
    const uint8_t prefix[4] = {0, 0x80, 0, 0};
    const uint8_t other[5] = {0, 0x80, 0, 1, 0x2a};
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *worker =
        spw_pool_add(pool, identity, sizeof identity, SPW_WORKER_NATIVE, echo);
    assert_non_null(worker);
    assert_ptr_equal(spw_pool_find(pool, identity, sizeof identity), worker);
    assert_null(spw_pool_find(pool, prefix, sizeof prefix));
    assert_null(spw_pool_find(pool, other, sizeof other));
    assert_null(spw_pool_find(pool, identity, 0));
    spw_pool_destroy(&pool);
}

static void test_pool_add_gives_a_busy_worker_with_its_fields(void **state)
{
    (void) state;
    const uint8_t identity[3] = {0, 1, 2};
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *worker =
        spw_pool_add(pool, identity, sizeof identity, SPW_WORKER_SEED, echo);
    assert_non_null(worker);
    assert_int_equal(worker->identity.len, sizeof identity);
    assert_memory_equal(worker->identity.data, identity, sizeof identity);
    assert_int_equal(worker->kind, SPW_WORKER_SEED);
    assert_ptr_equal(worker->service, echo);
    assert_null(worker->tasks);
    assert_false(worker->idle);
    assert_int_equal(worker->expires, INT64_MAX);
    assert_counts(echo, 1, 0);
    assert_int_equal(spw_pool_size(pool), 1);
    spw_pool_destroy(&pool);
}

static void test_pool_add_of_a_duplicate_identity_returns_null(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *first = add_worker(pool, "A", echo);
    assert_null(spw_pool_add(pool, "A", 1, SPW_WORKER_NATIVE, echo));
    assert_ptr_equal(spw_pool_find(pool, "A", 1), first);
    assert_int_equal(spw_pool_size(pool), 1);
    assert_counts(echo, 1, 0);
    spw_pool_destroy(&pool);
}

static void test_pool_accepts_identities_up_to_the_max_length(void **state)
{
    (void) state;
    uint8_t identity[SPW_MAX_IDENTITY_LEN + 1];
    memset(identity, 0xab, sizeof identity);
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    assert_non_null(spw_pool_add(pool, identity, SPW_MAX_IDENTITY_LEN, SPW_WORKER_NATIVE, echo));
    assert_null(spw_pool_add(pool, identity, SPW_MAX_IDENTITY_LEN + 1, SPW_WORKER_NATIVE, echo));
    assert_null(spw_pool_find(pool, identity, SPW_MAX_IDENTITY_LEN + 1));
    spw_pool_destroy(&pool);
}

static void test_pool_refuses_more_than_max_workers(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    const char *names[MAX_WORKERS] = {"A", "B", "C", "D"};
    for (int i = 0; i < MAX_WORKERS; i++)
        add_worker(pool, names[i], echo);
    assert_null(spw_pool_add(pool, "E", 1, SPW_WORKER_NATIVE, echo));
    assert_null(spw_pool_find(pool, "E", 1));
    assert_int_equal(spw_pool_size(pool), MAX_WORKERS);
    assert_counts(echo, MAX_WORKERS, 0);
    spw_pool_destroy(&pool);
}

static void test_pool_takes_a_worker_again_after_a_remove_when_full(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    const char *names[MAX_WORKERS] = {"A", "B", "C", "D"};
    for (int i = 0; i < MAX_WORKERS; i++)
        add_worker(pool, names[i], echo);
    spw_pool_remove(pool, spw_pool_find(pool, "B", 1));
    assert_null(spw_pool_find(pool, "B", 1));
    assert_non_null(spw_pool_add(pool, "E", 1, SPW_WORKER_NATIVE, echo));
    assert_int_equal(spw_pool_size(pool), MAX_WORKERS);
    spw_pool_destroy(&pool);
}

static void test_pool_identity_is_free_again_after_remove(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_remove(pool, add_worker(pool, "A", echo));
    assert_null(spw_pool_find(pool, "A", 1));
    spw_pool_worker_t *again = add_worker(pool, "A", echo);
    assert_ptr_equal(spw_pool_find(pool, "A", 1), again);
    spw_pool_destroy(&pool);
}

// --- idle workers ------------------------------------------------------------------

static void test_pool_hands_out_least_recently_used(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    spw_pool_worker_t *c = add_worker(pool, "C", echo);
    spw_pool_set_ready(pool, a, 1);
    spw_pool_set_ready(pool, b, 1);
    spw_pool_set_ready(pool, c, 1);
    assert_takes(pool, echo, a);
    spw_pool_set_ready(pool, a, 1);
    assert_takes(pool, echo, b);
    assert_takes(pool, echo, c);
    assert_takes(pool, echo, a);
    assert_takes(pool, echo, NULL);
    spw_pool_destroy(&pool);
}

// --- slots ------------------------------------------------------------------------

static void test_pool_slots_go_to_the_least_loaded_worker_lru_among_equals(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo), *b = add_worker(pool, "B", echo);
    spw_pool_set_ready(pool, a, 3);
    spw_pool_set_ready(pool, b, 3);
    assert_int_equal(echo->slots, 6);
    assert_counts(echo, 2, 6);
    //  A has waited longest: A, then B, then A again (both with one busy).
    assert_takes(pool, echo, a);
    assert_takes(pool, echo, b);
    assert_takes(pool, echo, a);
    assert_takes(pool, echo, b);
    assert_int_equal(a->busy, 2);
    assert_int_equal(b->busy, 2);
    //  A answers one: it is the less loaded now, and gets the next.
    spw_pool_free_slot(pool, a);
    assert_takes(pool, echo, a);
    assert_takes(pool, echo, b);
    assert_takes(pool, echo, a);  // A's last slot
    assert_takes(pool, echo, NULL);
    assert_counts(echo, 2, 0);
    spw_pool_free_slot(pool, b);
    assert_counts(echo, 2, 1);
    assert_takes(pool, echo, b);
    spw_pool_destroy(&pool);
}

static void test_pool_a_worker_of_many_slots_and_one_of_one_share_by_load(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *big = add_worker(pool, "big", echo), *one = add_worker(pool, "one", echo);
    spw_pool_set_ready(pool, big, 16);
    spw_pool_set_ready(pool, one, 1);
    assert_takes(pool, echo, big);
    assert_takes(pool, echo, one);
    for (int i = 0; i < 15; i++)
        assert_takes(pool, echo, big);
    assert_takes(pool, echo, NULL);
    spw_pool_destroy(&pool);
}

static void test_pool_ready_again_frees_every_slot_and_may_change_them(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_set_ready(pool, a, 4);
    assert_takes(pool, echo, a);
    assert_takes(pool, echo, a);
    spw_pool_set_ready(pool, a, 2);
    assert_int_equal(a->busy, 0);
    assert_int_equal(echo->slots, 2);
    assert_counts(echo, 1, 2);
    //  Out-of-range slots are held to 1 .. SPW_MAX_SLOTS.
    spw_pool_set_ready(pool, a, 0);
    assert_int_equal(a->slots, 1);
    spw_pool_set_ready(pool, a, SPW_MAX_SLOTS + 5);
    assert_int_equal(a->slots, SPW_MAX_SLOTS);
    spw_pool_destroy(&pool);
}

static void test_pool_removing_a_busy_worker_of_slots_keeps_the_counts(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo), *b = add_worker(pool, "B", echo);
    spw_pool_set_ready(pool, a, 4);
    spw_pool_set_ready(pool, b, 2);
    assert_takes(pool, echo, a);
    assert_takes(pool, echo, b);
    spw_pool_remove(pool, a);
    assert_int_equal(echo->slots, 2);
    assert_counts(echo, 1, 1);
    spw_pool_free_slot(pool, b);
    spw_pool_free_slot(pool, b);  // nothing busy: nothing happens
    assert_counts(echo, 1, 2);
    spw_pool_destroy(&pool);
}

static void test_pool_take_idle_is_null_with_no_idle_worker(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    assert_takes(pool, echo, NULL);
    add_worker(pool, "A", echo);  // busy, not idle
    assert_takes(pool, echo, NULL);
    spw_pool_destroy(&pool);
}

static void test_pool_taken_worker_is_no_longer_idle(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_set_ready(pool, a, 1);
    assert_true(a->idle);
    assert_takes(pool, echo, a);
    assert_false(a->idle);
    assert_null(a->idle_prev);
    assert_null(a->idle_next);
    assert_null(echo->free_head[0]);
    assert_null(echo->free_tail[0]);
    spw_pool_destroy(&pool);
}

static void test_pool_set_idle_twice_keeps_one_place_in_the_list(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    spw_pool_set_ready(pool, a, 1);
    spw_pool_set_ready(pool, b, 1);
    spw_pool_set_ready(pool, a, 1);
    assert_counts(echo, 2, 2);
    assert_takes(pool, echo, a);
    assert_takes(pool, echo, b);
    assert_takes(pool, echo, NULL);
    spw_pool_destroy(&pool);
}

static void test_pool_counts_workers_and_idle_per_service(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_service_t *sum = service_of(pool, "sum");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    spw_pool_worker_t *s = add_worker(pool, "S", sum);
    assert_counts(echo, 2, 0);
    assert_counts(sum, 1, 0);
    spw_pool_set_ready(pool, a, 1);
    spw_pool_set_ready(pool, b, 1);
    spw_pool_set_ready(pool, s, 1);
    assert_counts(echo, 2, 2);
    assert_counts(sum, 1, 1);
    assert_takes(pool, echo, a);
    assert_counts(echo, 2, 1);
    spw_pool_remove(pool, a);  // busy
    assert_counts(echo, 1, 1);
    spw_pool_remove(pool, b);  // idle
    assert_counts(echo, 0, 0);
    assert_counts(sum, 1, 1);
    spw_pool_remove(pool, s);
    assert_counts(sum, 0, 0);
    assert_int_equal(spw_pool_size(pool), 0);
    spw_pool_destroy(&pool);
}

static void test_pool_service_outlives_its_last_worker(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_remove(pool, add_worker(pool, "A", echo));
    assert_ptr_equal(spw_pool_service(pool, "echo", 4, false), echo);
    spw_pool_destroy(&pool);
}

static void test_pool_removing_an_idle_worker_from_the_middle_unlinks_it(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    spw_pool_worker_t *c = add_worker(pool, "C", echo);
    spw_pool_set_ready(pool, a, 1);
    spw_pool_set_ready(pool, b, 1);
    spw_pool_set_ready(pool, c, 1);
    spw_pool_remove(pool, b);
    assert_counts(echo, 2, 2);
    assert_ptr_equal(a->idle_next, c);
    assert_ptr_equal(c->idle_prev, a);
    assert_takes(pool, echo, a);
    assert_takes(pool, echo, c);
    assert_takes(pool, echo, NULL);
    spw_pool_destroy(&pool);
}

static void test_pool_removing_the_idle_head_unlinks_it(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    spw_pool_set_ready(pool, a, 1);
    spw_pool_set_ready(pool, b, 1);
    spw_pool_remove(pool, a);
    assert_ptr_equal(echo->free_head[0], b);
    assert_null(b->idle_prev);
    assert_takes(pool, echo, b);
    assert_takes(pool, echo, NULL);
    spw_pool_destroy(&pool);
}

static void test_pool_removing_the_idle_tail_unlinks_it(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    spw_pool_worker_t *c = add_worker(pool, "C", echo);
    spw_pool_set_ready(pool, a, 1);
    spw_pool_set_ready(pool, b, 1);
    spw_pool_remove(pool, b);
    assert_ptr_equal(echo->free_tail[0], a);
    assert_null(a->idle_next);
    spw_pool_set_ready(pool, c, 1);  // joins after a, not after the removed b
    assert_takes(pool, echo, a);
    assert_takes(pool, echo, c);
    assert_takes(pool, echo, NULL);
    spw_pool_destroy(&pool);
}

static void test_pool_removing_the_only_idle_worker_empties_the_list(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_set_ready(pool, a, 1);
    spw_pool_remove(pool, a);
    assert_null(echo->free_head[0]);
    assert_null(echo->free_tail[0]);
    assert_counts(echo, 0, 0);
    assert_takes(pool, echo, NULL);
    spw_pool_destroy(&pool);
}

static void test_pool_never_hands_out_a_worker_for_another_service(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_service_t *sum = service_of(pool, "sum");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *s = add_worker(pool, "S", sum);
    spw_pool_set_ready(pool, a, 1);
    assert_takes(pool, sum, NULL);
    assert_counts(sum, 1, 0);
    spw_pool_set_ready(pool, s, 1);
    assert_takes(pool, sum, s);
    assert_takes(pool, sum, NULL);
    assert_takes(pool, echo, a);
    assert_takes(pool, echo, NULL);
    spw_pool_destroy(&pool);
}

// --- expiry and walking --------------------------------------------------------------

static void test_pool_expired_is_null_before_any_expiry(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    assert_null(spw_pool_expired(pool, 1000));
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    a->expires = 100;
    b->expires = 200;
    assert_null(spw_pool_expired(pool, 99));
    spw_pool_destroy(&pool);
}

static void test_pool_expired_returns_a_worker_whose_expiry_is_now(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    a->expires = 100;
    b->expires = 200;
    assert_ptr_equal(spw_pool_expired(pool, 100), a);
    spw_pool_destroy(&pool);
}

static void test_pool_expired_returns_only_workers_past_their_expiry(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    spw_pool_worker_t *c = add_worker(pool, "C", echo);
    a->expires = 300;
    b->expires = 150;
    c->expires = 200;
    int64_t now = 199;
    spw_pool_worker_t *worker;
    size_t found = 0;
    while ((worker = spw_pool_expired(pool, now)) != NULL) {
        if (worker->expires > now)
            fail_msg("expired(%lld): expected a worker due by then, got %s due at %lld",
                     (long long) now, name_of(worker), (long long) worker->expires);
        if (worker != b)
            fail_msg("expired(%lld): expected worker B, got %s", (long long) now,
                     name_of(worker));
        spw_pool_remove(pool, worker);
        found++;
    }
    assert_int_equal(found, 1);
    assert_ptr_equal(spw_pool_expired(pool, 200), c);
    spw_pool_destroy(&pool);
}

static void test_pool_new_worker_never_expires(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    add_worker(pool, "A", echo);
    assert_null(spw_pool_expired(pool, INT64_MAX - 1));
    spw_pool_destroy(&pool);
}

static void test_pool_walk_visits_every_worker_once(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_service_t *sum = service_of(pool, "sum");
    spw_pool_worker_t *added[MAX_WORKERS] = {
        add_worker(pool, "A", echo), add_worker(pool, "B", sum),
        add_worker(pool, "C", echo), add_worker(pool, "D", sum),
    };
    spw_pool_set_ready(pool, added[2], 1);
    int visits[MAX_WORKERS] = {0};
    size_t total = 0;
    for (spw_pool_worker_t *w = spw_pool_first(pool); w; w = spw_pool_next(w)) {
        total++;
        if (total > MAX_WORKERS)
            fail_msg("walk: expected %d workers, got more (a cycle?)", MAX_WORKERS);
        for (int i = 0; i < MAX_WORKERS; i++)
            if (added[i] == w)
                visits[i]++;
    }
    for (int i = 0; i < MAX_WORKERS; i++)
        if (visits[i] != 1)
            fail_msg("walk: expected worker %s once, got %d visits", name_of(added[i]),
                     visits[i]);
    assert_int_equal(total, MAX_WORKERS);
    spw_pool_destroy(&pool);
}

static void test_pool_walk_skips_removed_workers(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    spw_pool_worker_t *b = add_worker(pool, "B", echo);
    spw_pool_worker_t *c = add_worker(pool, "C", echo);
    spw_pool_worker_t *d = add_worker(pool, "D", echo);
    spw_pool_remove(pool, b);  // a middle of the list, whatever its order
    spw_pool_remove(pool, d);
    size_t total = 0;
    bool saw_a = false, saw_c = false;
    for (spw_pool_worker_t *w = spw_pool_first(pool); w; w = spw_pool_next(w)) {
        total++;
        if (total > 2)
            fail_msg("walk: expected 2 workers, got more");
        saw_a |= w == a;
        saw_c |= w == c;
    }
    assert_int_equal(total, 2);
    assert_true(saw_a);
    assert_true(saw_c);
    spw_pool_destroy(&pool);
}

static void test_pool_walk_of_an_empty_pool_has_no_first(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    assert_null(spw_pool_first(pool));
    spw_pool_destroy(&pool);
}

// --- lifetime ------------------------------------------------------------------------

static void test_pool_destroy_with_workers_inside_leaks_nothing(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = service_of(pool, "echo");
    spw_service_t *sum = service_of(pool, "sum");
    spw_pool_worker_t *a = add_worker(pool, "A", echo);
    add_worker(pool, "B", echo);
    spw_pool_worker_t *c = add_worker(pool, "C", sum);
    spw_pool_set_ready(pool, a, 1);
    spw_pool_set_ready(pool, c, 1);
    spw_pool_destroy(&pool);
    assert_null(pool);
}

static void test_pool_destroy_is_safe_on_null(void **state)
{
    (void) state;
    spw_pool_t *pool = NULL;
    spw_pool_destroy(&pool);
    spw_pool_destroy(NULL);
    assert_null(pool);
}

static void test_pool_forgets_only_a_service_nothing_uses(void **state)
{
    (void) state;
    spw_pool_t *pool = new_pool();
    spw_service_t *echo = spw_pool_service(pool, "echo", 4, true);
    spw_pool_worker_t *worker = spw_pool_add(pool, "w1", 2, SPW_WORKER_NATIVE, echo);
    assert_int_equal(spw_pool_forget_service(pool, echo), -1);  // it has a worker
    spw_pool_remove(pool, worker);
    echo->delegated = 1;
    assert_int_equal(spw_pool_forget_service(pool, echo), -1);  // a task is out
    echo->delegated = 0;
    assert_int_equal(spw_pool_forget_service(pool, echo), 0);
    assert_null(spw_pool_service(pool, "echo", 4, false));
    //  Its slot is free again for another name.
    assert_non_null(spw_pool_service(pool, "resize", 6, true));
    spw_pool_destroy(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_forgets_only_a_service_nothing_uses),
        cmocka_unit_test(test_pool_creates_a_service_on_demand),
        cmocka_unit_test(test_pool_finds_an_existing_service_again),
        cmocka_unit_test(test_pool_service_is_null_when_absent_and_not_created),
        cmocka_unit_test(test_pool_service_is_null_when_the_table_is_full),
        cmocka_unit_test(test_pool_full_service_table_still_finds_existing_services),
        cmocka_unit_test(test_pool_service_name_is_the_given_length_only),
        cmocka_unit_test(test_pool_service_refuses_empty_and_too_long_names),
        cmocka_unit_test(test_pool_each_service_visits_every_service_once),
        cmocka_unit_test(test_pool_finds_a_worker_by_identity),
        cmocka_unit_test(test_pool_finds_a_worker_by_identity_with_zero_bytes),
        cmocka_unit_test(test_pool_add_gives_a_busy_worker_with_its_fields),
        cmocka_unit_test(test_pool_add_of_a_duplicate_identity_returns_null),
        cmocka_unit_test(test_pool_accepts_identities_up_to_the_max_length),
        cmocka_unit_test(test_pool_refuses_more_than_max_workers),
        cmocka_unit_test(test_pool_takes_a_worker_again_after_a_remove_when_full),
        cmocka_unit_test(test_pool_identity_is_free_again_after_remove),
        cmocka_unit_test(test_pool_hands_out_least_recently_used),
        cmocka_unit_test(test_pool_slots_go_to_the_least_loaded_worker_lru_among_equals),
        cmocka_unit_test(test_pool_a_worker_of_many_slots_and_one_of_one_share_by_load),
        cmocka_unit_test(test_pool_ready_again_frees_every_slot_and_may_change_them),
        cmocka_unit_test(test_pool_removing_a_busy_worker_of_slots_keeps_the_counts),
        cmocka_unit_test(test_pool_take_idle_is_null_with_no_idle_worker),
        cmocka_unit_test(test_pool_taken_worker_is_no_longer_idle),
        cmocka_unit_test(test_pool_set_idle_twice_keeps_one_place_in_the_list),
        cmocka_unit_test(test_pool_counts_workers_and_idle_per_service),
        cmocka_unit_test(test_pool_service_outlives_its_last_worker),
        cmocka_unit_test(test_pool_removing_an_idle_worker_from_the_middle_unlinks_it),
        cmocka_unit_test(test_pool_removing_the_idle_head_unlinks_it),
        cmocka_unit_test(test_pool_removing_the_idle_tail_unlinks_it),
        cmocka_unit_test(test_pool_removing_the_only_idle_worker_empties_the_list),
        cmocka_unit_test(test_pool_never_hands_out_a_worker_for_another_service),
        cmocka_unit_test(test_pool_expired_is_null_before_any_expiry),
        cmocka_unit_test(test_pool_expired_returns_a_worker_whose_expiry_is_now),
        cmocka_unit_test(test_pool_expired_returns_only_workers_past_their_expiry),
        cmocka_unit_test(test_pool_new_worker_never_expires),
        cmocka_unit_test(test_pool_walk_visits_every_worker_once),
        cmocka_unit_test(test_pool_walk_skips_removed_workers),
        cmocka_unit_test(test_pool_walk_of_an_empty_pool_has_no_first),
        cmocka_unit_test(test_pool_destroy_with_workers_inside_leaks_nothing),
        cmocka_unit_test(test_pool_destroy_is_safe_on_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
