//  test_tasks.c: the edge's task table (edge/tasks.h), read as its
//  specification.
//
//  Keys are unique, non-zero and stop matching once their task is removed,
//  even when the slot is reused (the generation); the table holds at most
//  its limit; the deadline heap hands out expired tasks earliest first,
//  also after removals from its middle (checked as a property over a
//  fixed-seed pseudo-random run); and the table closes every frame a task
//  still holds when it is removed or destroyed, which AddressSanitizer's
//  leak check verifies. Times are plain numbers.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tasks.h"

#include <stdbool.h>

//  Bigger than libzmq's in-place size, so that the frame is on the heap and
//  a frame the table forgets to close shows up as a leak.
#define HEAP_FRAME_SIZE 100

#define PROPERTY_TASKS 200

//  A fixed-seed linear congruential generator, so runs are repeatable.
static uint32_t lcg_next(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

//  Gives a task a heap-allocated body frame and a client identity frame.
static void give_frames(spw_task_t *task, size_t client_size)
{
    assert_int_equal(zmq_msg_init_size(&task->body[0], HEAP_FRAME_SIZE), 0);
    task->body_count = 1;
    assert_int_equal(zmq_msg_init_size(&task->client, client_size), 0);
}

// --- keys -----------------------------------------------------------------------

static void test_tasks_keys_are_unique_and_nonzero(void **state)
{
    (void) state;
    enum { N = 8 };
    spw_tasks_t *tasks = spw_tasks_new(N);
    assert_non_null(tasks);
    uint64_t keys[N];
    for (size_t i = 0; i < N; i++) {
        spw_task_t *task = spw_tasks_add(tasks, 100);
        assert_non_null(task);
        keys[i] = task->key;
        if (keys[i] == 0)
            fail_msg("task %zu: expected a non-zero key, got 0", i);
        for (size_t j = 0; j < i; j++)
            if (keys[j] == keys[i])
                fail_msg("tasks %zu and %zu: expected distinct keys, both got 0x%llx", j, i,
                         (unsigned long long) keys[i]);
    }
    spw_tasks_destroy(&tasks);
}

static void test_tasks_keys_of_one_slot_do_not_follow_each_other(void **state)
{
    (void) state;
    enum { USES = 1000 };
    spw_tasks_t *tasks = spw_tasks_new(1);
    uint32_t last = 0;
    size_t steps_of_one = 0;
    for (size_t i = 0; i < USES; i++) {
        spw_task_t *task = spw_tasks_add(tasks, 10);
        assert_non_null(task);
        uint32_t tag = (uint32_t) (task->key >> 32);
        assert_int_equal(task->key & 0xffffffffu, 1);  // the slot, found in O(1)
        if (tag == 0 || tag == last)
            fail_msg("use %zu: tag 0x%x after 0x%x", i, tag, last);
        steps_of_one += tag == last + 1;
        last = tag;
        spw_tasks_remove(tasks, task);
    }
    //  Random 32-bit tags: a step of exactly one is a 1-in-4-billion event.
    assert_true(steps_of_one <= 1);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_reused_slot_gets_a_new_key(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(1);
    spw_task_t *first = spw_tasks_add(tasks, 10);
    uint64_t first_key = first->key;
    spw_tasks_remove(tasks, first);
    spw_task_t *second = spw_tasks_add(tasks, 20);
    assert_non_null(second);
    assert_ptr_equal(second, first);  // the one slot, reused
    assert_int_not_equal(second->key, first_key);
    assert_int_not_equal(second->key, 0);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_find_returns_the_live_task(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    spw_task_t *a = spw_tasks_add(tasks, 10);
    spw_task_t *b = spw_tasks_add(tasks, 20);
    assert_ptr_equal(spw_tasks_find(tasks, a->key), a);
    assert_ptr_equal(spw_tasks_find(tasks, b->key), b);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_find_returns_null_after_remove(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    spw_task_t *task = spw_tasks_add(tasks, 10);
    uint64_t key = task->key;
    spw_tasks_remove(tasks, task);
    assert_null(spw_tasks_find(tasks, key));
    spw_tasks_destroy(&tasks);
}

static void test_tasks_stale_key_does_not_match_the_reused_slot(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(1);
    spw_task_t *old = spw_tasks_add(tasks, 10);
    uint64_t stale = old->key;
    spw_tasks_remove(tasks, old);
    spw_task_t *fresh = spw_tasks_add(tasks, 20);
    assert_null(spw_tasks_find(tasks, stale));
    assert_ptr_equal(spw_tasks_find(tasks, fresh->key), fresh);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_find_returns_null_for_unknown_keys(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    spw_task_t *task = spw_tasks_add(tasks, 10);
    uint64_t slot_bits = task->key & 0xffffffffu;
    uint64_t generation_bits = task->key & ~(uint64_t) 0xffffffffu;
    assert_null(spw_tasks_find(tasks, 0));
    assert_null(spw_tasks_find(tasks, generation_bits));              // slot 0 of the key
    assert_null(spw_tasks_find(tasks, generation_bits | 5));          // past the limit
    assert_null(spw_tasks_find(tasks, generation_bits | 0xffffffffu));
    assert_null(spw_tasks_find(tasks, generation_bits + ((uint64_t) 1 << 32) + slot_bits));
    assert_null(spw_tasks_find(tasks, UINT64_MAX));
    spw_tasks_destroy(&tasks);
}

static void test_tasks_find_returns_null_for_a_slot_never_used(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    spw_task_t *task = spw_tasks_add(tasks, 10);
    uint64_t other_slot = (task->key & ~(uint64_t) 0xffffffffu) | ((task->key & 0xffffffffu) % 4 + 1);
    assert_int_not_equal(other_slot, task->key);
    assert_null(spw_tasks_find(tasks, other_slot));
    spw_tasks_destroy(&tasks);
}

// --- limit -----------------------------------------------------------------------

static void test_tasks_new_refuses_a_zero_limit(void **state)
{
    (void) state;
    assert_null(spw_tasks_new(0));
}

static void test_tasks_add_returns_null_when_full(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(3);
    for (int i = 0; i < 3; i++)
        assert_non_null(spw_tasks_add(tasks, i));
    assert_null(spw_tasks_add(tasks, 99));
    assert_int_equal(spw_tasks_size(tasks), 3);
    assert_int_equal(spw_tasks_limit(tasks), 3);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_add_works_again_after_a_remove(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(2);
    spw_task_t *a = spw_tasks_add(tasks, 1);
    assert_non_null(spw_tasks_add(tasks, 2));
    assert_null(spw_tasks_add(tasks, 3));
    spw_tasks_remove(tasks, a);
    assert_int_equal(spw_tasks_size(tasks), 1);
    spw_task_t *c = spw_tasks_add(tasks, 3);
    assert_non_null(c);
    assert_int_equal(c->deadline, 3);
    assert_int_equal(spw_tasks_size(tasks), 2);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_size_counts_live_tasks(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(5);
    assert_int_equal(spw_tasks_size(tasks), 0);
    spw_task_t *a = spw_tasks_add(tasks, 1);
    spw_task_t *b = spw_tasks_add(tasks, 2);
    assert_int_equal(spw_tasks_size(tasks), 2);
    spw_tasks_remove(tasks, a);
    assert_int_equal(spw_tasks_size(tasks), 1);
    spw_tasks_remove(tasks, b);
    assert_int_equal(spw_tasks_size(tasks), 0);
    assert_int_equal(spw_tasks_limit(tasks), 5);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_add_gives_a_clean_task_in_a_reused_slot(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(1);
    spw_task_t *task = spw_tasks_add(tasks, 10);
    //  Leave the slot dirty, as a finished task would.
    task->state = SPW_TASK_RUNNING;
    task->client_kind = SPW_CLIENT_SEED;
    task->request_id = 77;
    task->accepted = 5;
    task->attempts = 3;
    task->service = (spw_service_t *) task;
    task->worker = (spw_pool_worker_t *) task;
    task->prev = task->next = task;
    give_frames(task, 5);
    spw_tasks_remove(tasks, task);

    task = spw_tasks_add(tasks, 42);
    assert_non_null(task);
    assert_int_equal(task->deadline, 42);
    assert_int_equal(task->state, SPW_TASK_LOOSE);
    assert_int_equal(task->client_kind, SPW_CLIENT_NATIVE);
    assert_int_equal(task->request_id, 0);
    assert_int_equal(task->accepted, 0);
    assert_int_equal(task->attempts, 0);
    assert_null(task->service);
    assert_null(task->worker);
    assert_null(task->prev);
    assert_null(task->next);
    assert_int_equal(task->body_count, 0);
    assert_int_equal(zmq_msg_size(&task->client), 0);
    spw_tasks_destroy(&tasks);
}

// --- deadlines -------------------------------------------------------------------

static void test_tasks_expired_returns_tasks_in_deadline_order(void **state)
{
    (void) state;
    const int64_t deadlines[] = {50, 10, 30, 20, 40};
    const int64_t expected[] = {10, 20, 30, 40, 50};
    spw_tasks_t *tasks = spw_tasks_new(8);
    for (size_t i = 0; i < 5; i++)
        assert_non_null(spw_tasks_add(tasks, deadlines[i]));
    for (size_t i = 0; i < 5; i++) {
        spw_task_t *task = spw_tasks_expired(tasks, 100);
        if (!task)
            fail_msg("take %zu: expected the task due at %lld, got none", i,
                     (long long) expected[i]);
        if (task->deadline != expected[i])
            fail_msg("take %zu: expected deadline %lld, got %lld", i,
                     (long long) expected[i], (long long) task->deadline);
        spw_tasks_remove(tasks, task);
    }
    assert_null(spw_tasks_expired(tasks, 100));
    spw_tasks_destroy(&tasks);
}

static void test_tasks_expired_is_null_before_the_earliest_deadline(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    spw_tasks_add(tasks, 50);
    spw_tasks_add(tasks, 30);
    assert_null(spw_tasks_expired(tasks, 29));
    spw_tasks_destroy(&tasks);
}

static void test_tasks_expired_includes_a_deadline_equal_to_now(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    spw_tasks_add(tasks, 50);
    spw_task_t *due = spw_tasks_add(tasks, 30);
    assert_ptr_equal(spw_tasks_expired(tasks, 30), due);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_expired_is_null_when_empty(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    assert_null(spw_tasks_expired(tasks, INT64_MAX));
    spw_tasks_destroy(&tasks);
}

static void test_tasks_next_deadline_is_int64_max_when_empty(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    assert_int_equal(spw_tasks_next_deadline(tasks), INT64_MAX);
    spw_task_t *task = spw_tasks_add(tasks, 10);
    spw_tasks_remove(tasks, task);
    assert_int_equal(spw_tasks_next_deadline(tasks), INT64_MAX);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_next_deadline_is_the_earliest(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    spw_tasks_add(tasks, 40);
    spw_task_t *earliest = spw_tasks_add(tasks, 15);
    spw_tasks_add(tasks, 25);
    assert_int_equal(spw_tasks_next_deadline(tasks), 15);
    spw_tasks_remove(tasks, earliest);
    assert_int_equal(spw_tasks_next_deadline(tasks), 25);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_removing_from_the_middle_keeps_deadline_order(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(PROPERTY_TASKS);
    spw_task_t *added[PROPERTY_TASKS];
    uint32_t seed = 20240601u;
    for (size_t i = 0; i < PROPERTY_TASKS; i++) {
        added[i] = spw_tasks_add(tasks, (int64_t) (lcg_next(&seed) % 1000));
        assert_non_null(added[i]);
    }
    //  Remove a pseudo-random third, wherever each sits in the heap.
    size_t removed = 0;
    while (removed < PROPERTY_TASKS / 3) {
        size_t i = lcg_next(&seed) % PROPERTY_TASKS;
        if (!added[i])
            continue;
        spw_tasks_remove(tasks, added[i]);
        added[i] = NULL;
        removed++;
    }
    size_t expected_count = PROPERTY_TASKS - removed;
    assert_int_equal(spw_tasks_size(tasks), expected_count);

    size_t drained = 0;
    int64_t previous = INT64_MIN;
    spw_task_t *task;
    while ((task = spw_tasks_expired(tasks, INT64_MAX)) != NULL) {
        if (task->deadline < previous)
            fail_msg("take %zu: expected a deadline >= %lld, got %lld", drained,
                     (long long) previous, (long long) task->deadline);
        if (spw_tasks_next_deadline(tasks) != task->deadline)
            fail_msg("take %zu: expected next_deadline %lld, got %lld", drained,
                     (long long) task->deadline, (long long) spw_tasks_next_deadline(tasks));
        previous = task->deadline;
        spw_tasks_remove(tasks, task);
        drained++;
    }
    assert_int_equal(drained, expected_count);
    assert_int_equal(spw_tasks_size(tasks), 0);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_equal_deadlines_all_expire(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    for (int i = 0; i < 4; i++)
        spw_tasks_add(tasks, 7);
    size_t count = 0;
    spw_task_t *task;
    while ((task = spw_tasks_expired(tasks, 7)) != NULL) {
        spw_tasks_remove(tasks, task);
        count++;
    }
    assert_int_equal(count, 4);
    spw_tasks_destroy(&tasks);
}

// --- frames and lifetime -----------------------------------------------------------

static void test_tasks_remove_closes_the_task_frames(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(2);
    spw_task_t *task = spw_tasks_add(tasks, 10);
    give_frames(task, HEAP_FRAME_SIZE);
    spw_tasks_remove(tasks, task);
    assert_int_equal(task->body_count, 0);
    spw_tasks_destroy(&tasks);
}

static void test_tasks_destroy_frees_tasks_that_still_hold_frames(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(4);
    //  A 5-byte identity as a client's, and one big enough to be on the heap.
    give_frames(spw_tasks_add(tasks, 10), 5);
    give_frames(spw_tasks_add(tasks, 20), HEAP_FRAME_SIZE);
    spw_tasks_add(tasks, 30);  // and one with no frames at all
    spw_tasks_destroy(&tasks);
    assert_null(tasks);
}

static void test_tasks_destroy_is_safe_on_null(void **state)
{
    (void) state;
    spw_tasks_t *tasks = NULL;
    spw_tasks_destroy(&tasks);
    spw_tasks_destroy(NULL);
    assert_null(tasks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tasks_keys_are_unique_and_nonzero),
        cmocka_unit_test(test_tasks_reused_slot_gets_a_new_key),
        cmocka_unit_test(test_tasks_keys_of_one_slot_do_not_follow_each_other),
        cmocka_unit_test(test_tasks_find_returns_the_live_task),
        cmocka_unit_test(test_tasks_find_returns_null_after_remove),
        cmocka_unit_test(test_tasks_stale_key_does_not_match_the_reused_slot),
        cmocka_unit_test(test_tasks_find_returns_null_for_unknown_keys),
        cmocka_unit_test(test_tasks_find_returns_null_for_a_slot_never_used),
        cmocka_unit_test(test_tasks_new_refuses_a_zero_limit),
        cmocka_unit_test(test_tasks_add_returns_null_when_full),
        cmocka_unit_test(test_tasks_add_works_again_after_a_remove),
        cmocka_unit_test(test_tasks_size_counts_live_tasks),
        cmocka_unit_test(test_tasks_add_gives_a_clean_task_in_a_reused_slot),
        cmocka_unit_test(test_tasks_expired_returns_tasks_in_deadline_order),
        cmocka_unit_test(test_tasks_expired_is_null_before_the_earliest_deadline),
        cmocka_unit_test(test_tasks_expired_includes_a_deadline_equal_to_now),
        cmocka_unit_test(test_tasks_expired_is_null_when_empty),
        cmocka_unit_test(test_tasks_next_deadline_is_int64_max_when_empty),
        cmocka_unit_test(test_tasks_next_deadline_is_the_earliest),
        cmocka_unit_test(test_tasks_removing_from_the_middle_keeps_deadline_order),
        cmocka_unit_test(test_tasks_equal_deadlines_all_expire),
        cmocka_unit_test(test_tasks_remove_closes_the_task_frames),
        cmocka_unit_test(test_tasks_destroy_frees_tasks_that_still_hold_frames),
        cmocka_unit_test(test_tasks_destroy_is_safe_on_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
