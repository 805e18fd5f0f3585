//  test_queue.c: a service's FIFO of waiting tasks (edge/queue.h), read as
//  its specification.
//
//  Tasks come out in the order they went in; the limit refuses new tasks
//  and leaves the queue as it was; a task put back with push_front is taken
//  next even when the queue is full; removing a task from anywhere keeps the
//  others in order with consistent links both ways. Tasks are made through a
//  real task table, as the edge makes them.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "queue.h"

#include <stdlib.h>

#define MAX_TASKS 16

typedef struct {
    spw_tasks_t *tasks;
    spw_task_t *task[MAX_TASKS];
} fixture_t;

//  A task table with MAX_TASKS tasks; task[i] is due at i.
static int setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof *fixture);
    if (!fixture)
        return -1;
    fixture->tasks = spw_tasks_new(MAX_TASKS);
    if (!fixture->tasks) {
        free(fixture);
        return -1;
    }
    for (int i = 0; i < MAX_TASKS; i++)
        fixture->task[i] = spw_tasks_add(fixture->tasks, i);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fixture = *state;
    spw_tasks_destroy(&fixture->tasks);
    free(fixture);
    return 0;
}

//  The index of task in the fixture, or -1, for readable failures.
static int index_of(const fixture_t *fixture, const spw_task_t *task)
{
    for (int i = 0; i < MAX_TASKS; i++)
        if (fixture->task[i] == task)
            return i;
    return -1;
}

//  Asserts the queue holds exactly the fixture's tasks at indexes
//  expected[0..count), walking forward from head and back from tail.
static void assert_queue(const fixture_t *fixture, const spw_queue_t *queue,
                         const int *expected, size_t count)
{
    if (queue->size != count)
        fail_msg("size: expected %zu, got %zu", count, queue->size);
    const spw_task_t *task = queue->head;
    const spw_task_t *prev = NULL;
    for (size_t i = 0; i < count; i++, prev = task, task = task->next) {
        if (!task)
            fail_msg("forward %zu: expected task %d, got the end", i, expected[i]);
        if (task != fixture->task[expected[i]])
            fail_msg("forward %zu: expected task %d, got task %d", i, expected[i],
                     index_of(fixture, task));
        if (task->prev != prev)
            fail_msg("forward %zu: task %d's prev: expected task %d, got task %d", i,
                     expected[i], index_of(fixture, prev), index_of(fixture, task->prev));
    }
    if (task)
        fail_msg("forward: expected the end after %zu tasks, got task %d", count,
                 index_of(fixture, task));
    if (queue->tail != prev)
        fail_msg("tail: expected task %d, got task %d", index_of(fixture, prev),
                 index_of(fixture, queue->tail));
    task = queue->tail;
    for (size_t i = count; i-- > 0; task = task->prev)
        if (task != fixture->task[expected[i]])
            fail_msg("backward %zu: expected task %d, got task %d", i, expected[i],
                     index_of(fixture, task));
    if (task)
        fail_msg("backward: expected the start, got task %d", index_of(fixture, task));
}

//  Pushes the fixture's tasks 0..count-1 in order.
static void push_first(fixture_t *fixture, spw_queue_t *queue, int count)
{
    for (int i = 0; i < count; i++)
        assert_int_equal(spw_queue_push(queue, fixture->task[i]), 0);
}

// --- order ------------------------------------------------------------------------

static void test_queue_init_is_empty_with_its_limit(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 7);
    assert_int_equal(queue.limit, 7);
    assert_queue(fixture, &queue, NULL, 0);
}

static void test_queue_pops_in_fifo_order(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, MAX_TASKS);
    push_first(fixture, &queue, 5);
    assert_queue(fixture, &queue, (const int[]) {0, 1, 2, 3, 4}, 5);
    for (int i = 0; i < 5; i++) {
        spw_task_t *task = spw_queue_pop(&queue);
        if (task != fixture->task[i])
            fail_msg("pop %d: expected task %d, got task %d", i, i, index_of(fixture, task));
    }
    assert_queue(fixture, &queue, NULL, 0);
}

static void test_queue_pop_on_empty_returns_null(void **state)
{
    (void) state;
    spw_queue_t queue;
    spw_queue_init(&queue, 4);
    assert_null(spw_queue_pop(&queue));
    assert_int_equal(queue.size, 0);
}

static void test_queue_pop_after_draining_returns_null(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 4);
    push_first(fixture, &queue, 2);
    spw_queue_pop(&queue);
    spw_queue_pop(&queue);
    assert_null(spw_queue_pop(&queue));
    assert_queue(fixture, &queue, NULL, 0);
}

static void test_queue_popped_task_has_no_links(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 4);
    push_first(fixture, &queue, 3);
    spw_task_t *task = spw_queue_pop(&queue);
    assert_null(task->prev);
    assert_null(task->next);
}

static void test_queue_takes_pushes_again_after_draining(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 4);
    push_first(fixture, &queue, 2);
    spw_queue_pop(&queue);
    spw_queue_pop(&queue);
    assert_int_equal(spw_queue_push(&queue, fixture->task[5]), 0);
    assert_int_equal(spw_queue_push(&queue, fixture->task[6]), 0);
    assert_queue(fixture, &queue, (const int[]) {5, 6}, 2);
}

// --- limit ------------------------------------------------------------------------

static void test_queue_push_beyond_limit_returns_minus_one(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 3);
    push_first(fixture, &queue, 3);
    assert_int_equal(spw_queue_push(&queue, fixture->task[3]), -1);
}

static void test_queue_push_beyond_limit_leaves_the_queue_unchanged(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 3);
    push_first(fixture, &queue, 3);
    spw_queue_push(&queue, fixture->task[3]);
    assert_queue(fixture, &queue, (const int[]) {0, 1, 2}, 3);
    assert_null(fixture->task[3]->prev);
    assert_null(fixture->task[3]->next);
}

static void test_queue_with_zero_limit_refuses_every_push(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 0);
    assert_int_equal(spw_queue_push(&queue, fixture->task[0]), -1);
    assert_queue(fixture, &queue, NULL, 0);
}

static void test_queue_push_succeeds_again_once_below_limit(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 2);
    push_first(fixture, &queue, 2);
    assert_int_equal(spw_queue_push(&queue, fixture->task[2]), -1);
    spw_queue_pop(&queue);
    assert_int_equal(spw_queue_push(&queue, fixture->task[2]), 0);
    assert_queue(fixture, &queue, (const int[]) {1, 2}, 2);
}

// --- push_front ---------------------------------------------------------------------

static void test_queue_push_front_makes_the_task_the_next_pop(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, MAX_TASKS);
    push_first(fixture, &queue, 3);
    spw_queue_push_front(&queue, fixture->task[9]);
    assert_queue(fixture, &queue, (const int[]) {9, 0, 1, 2}, 4);
    assert_ptr_equal(spw_queue_pop(&queue), fixture->task[9]);
}

static void test_queue_push_front_works_even_when_full(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 2);
    push_first(fixture, &queue, 2);
    spw_queue_push_front(&queue, fixture->task[7]);
    assert_queue(fixture, &queue, (const int[]) {7, 0, 1}, 3);
    assert_ptr_equal(spw_queue_pop(&queue), fixture->task[7]);
    assert_ptr_equal(spw_queue_pop(&queue), fixture->task[0]);
    assert_ptr_equal(spw_queue_pop(&queue), fixture->task[1]);
}

static void test_queue_over_limit_after_push_front_still_refuses_push(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 2);
    push_first(fixture, &queue, 2);
    spw_queue_push_front(&queue, fixture->task[7]);
    spw_queue_pop(&queue);
    assert_int_equal(spw_queue_push(&queue, fixture->task[8]), -1);
    assert_queue(fixture, &queue, (const int[]) {0, 1}, 2);
}

static void test_queue_push_front_on_empty_sets_head_and_tail(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 0);
    spw_queue_push_front(&queue, fixture->task[4]);
    assert_queue(fixture, &queue, (const int[]) {4}, 1);
    assert_int_equal(spw_queue_push(&queue, fixture->task[5]), -1);
}

// --- remove -------------------------------------------------------------------------

static void test_queue_remove_from_head_keeps_order_and_links(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, MAX_TASKS);
    push_first(fixture, &queue, 4);
    spw_queue_remove(&queue, fixture->task[0]);
    assert_queue(fixture, &queue, (const int[]) {1, 2, 3}, 3);
}

static void test_queue_remove_from_middle_keeps_order_and_links(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, MAX_TASKS);
    push_first(fixture, &queue, 4);
    spw_queue_remove(&queue, fixture->task[2]);
    assert_queue(fixture, &queue, (const int[]) {0, 1, 3}, 3);
    spw_queue_remove(&queue, fixture->task[1]);
    assert_queue(fixture, &queue, (const int[]) {0, 3}, 2);
}

static void test_queue_remove_from_tail_keeps_order_and_links(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, MAX_TASKS);
    push_first(fixture, &queue, 4);
    spw_queue_remove(&queue, fixture->task[3]);
    assert_queue(fixture, &queue, (const int[]) {0, 1, 2}, 3);
    assert_int_equal(spw_queue_push(&queue, fixture->task[5]), 0);
    assert_queue(fixture, &queue, (const int[]) {0, 1, 2, 5}, 4);
}

static void test_queue_remove_of_the_only_task_empties_the_queue(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, MAX_TASKS);
    push_first(fixture, &queue, 1);
    spw_queue_remove(&queue, fixture->task[0]);
    assert_queue(fixture, &queue, NULL, 0);
    assert_null(spw_queue_pop(&queue));
}

static void test_queue_removed_task_has_no_links(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, MAX_TASKS);
    push_first(fixture, &queue, 3);
    spw_queue_remove(&queue, fixture->task[1]);
    assert_null(fixture->task[1]->prev);
    assert_null(fixture->task[1]->next);
}

static void test_queue_remove_frees_room_under_the_limit(void **state)
{
    fixture_t *fixture = *state;
    spw_queue_t queue;
    spw_queue_init(&queue, 3);
    push_first(fixture, &queue, 3);
    spw_queue_remove(&queue, fixture->task[1]);
    assert_int_equal(spw_queue_push(&queue, fixture->task[3]), 0);
    assert_queue(fixture, &queue, (const int[]) {0, 2, 3}, 3);
}

static void test_queue_insert_after_puts_a_task_back_in_its_place(void **state)
{
    (void) state;
    spw_tasks_t *tasks = spw_tasks_new(8);
    spw_queue_t queue;
    spw_queue_init(&queue, 2);
    spw_task_t *a = spw_tasks_add(tasks, 1), *b = spw_tasks_add(tasks, 2),
               *c = spw_tasks_add(tasks, 3), *d = spw_tasks_add(tasks, 4);
    assert_int_equal(spw_queue_push(&queue, a), 0);
    assert_int_equal(spw_queue_push(&queue, b), 0);
    spw_queue_insert_after(&queue, a, c);     // middle, past the limit
    spw_queue_insert_after(&queue, b, d);     // tail
    spw_queue_remove(&queue, a);
    spw_queue_insert_after(&queue, NULL, a);  // head
    spw_task_t *expected[] = { a, c, b, d };
    assert_int_equal(queue.size, 4);
    assert_ptr_equal(queue.tail, d);
    for (size_t i = 0; i < 4; i++) {
        spw_task_t *got = spw_queue_pop(&queue);
        if (got != expected[i])
            fail_msg("pop %zu: expected task %zu, got another", i, i);
    }
    assert_null(spw_queue_pop(&queue));
    spw_tasks_destroy(&tasks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_insert_after_puts_a_task_back_in_its_place),
        cmocka_unit_test_setup_teardown(test_queue_init_is_empty_with_its_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_pops_in_fifo_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_pop_on_empty_returns_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_pop_after_draining_returns_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_popped_task_has_no_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_takes_pushes_again_after_draining, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_push_beyond_limit_returns_minus_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_push_beyond_limit_leaves_the_queue_unchanged,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_with_zero_limit_refuses_every_push, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_push_succeeds_again_once_below_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_push_front_makes_the_task_the_next_pop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_push_front_works_even_when_full, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_over_limit_after_push_front_still_refuses_push,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_push_front_on_empty_sets_head_and_tail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_remove_from_head_keeps_order_and_links, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_remove_from_middle_keeps_order_and_links,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_remove_from_tail_keeps_order_and_links, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_remove_of_the_only_task_empties_the_queue,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_removed_task_has_no_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_remove_frees_room_under_the_limit, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
