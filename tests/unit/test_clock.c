//  test_clock.c: the slices a beat goes out in (spw_beat_slices) — no burst
//  longer than SPW_BEAT_SLICE_SLOTS slots, at least SPW_BEAT_SLICES_MIN a
//  beat, at most one a millisecond, and every slot in some slice.

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "spw_clock.h"

//  Slots one slice covers, as the hub's and the null hub's loops cut them.
static size_t slice_of(size_t slots, int64_t beat_ms)
{
    size_t slices = spw_beat_slices(slots, beat_ms);
    return (slots + slices - 1) / slices;
}

static void test_a_small_table_goes_in_the_least_slices(void **state)
{
    (void) state;
    assert_int_equal(spw_beat_slices(0, 1000), SPW_BEAT_SLICES_MIN);
    assert_int_equal(spw_beat_slices(256, 1000), SPW_BEAT_SLICES_MIN);
    assert_int_equal(slice_of(256, 1000), 26);
}

static void test_a_large_table_goes_in_slices_of_at_most_the_bound(void **state)
{
    (void) state;
    //  The 10 slices of old put 2,000 slots of a 20,000-edge hub in a burst.
    assert_int_equal(spw_beat_slices(20000, 1000), 157);
    assert_true(slice_of(20000, 1000) <= SPW_BEAT_SLICE_SLOTS);
    assert_true(slice_of(16384, 1000) <= SPW_BEAT_SLICE_SLOTS);
    assert_true(spw_beat_slices(20000, 1000) * slice_of(20000, 1000) >= 20000);
}

static void test_slices_come_at_most_once_a_millisecond(void **state)
{
    (void) state;
    //  100,000 edges on a 1 s beat: 782 slices of 128 slots; a table too
    //  large for that goes a slice a millisecond.
    assert_int_equal(spw_beat_slices(100000, 1000), 782);
    assert_int_equal(spw_beat_slices(1000000, 1000), 1000);
    assert_int_equal(slice_of(1000000, 1000), 1000);
    assert_int_equal(spw_beat_slices(100000, 50), 50);
    //  A beat of 0 (not allowed by the config) still gives slices.
    assert_true(spw_beat_slices(100000, 0) >= SPW_BEAT_SLICES_MIN);
}

static void test_a_round_of_slices_takes_a_beat(void **state)
{
    (void) state;
    //  20,000 slots, 157 slices of 6 ms: 942 ms, and the last waits to 1,000.
    spw_beat_round_t round;
    spw_beat_round_start(&round, 20000, 1000, 0);
    assert_int_equal(round.next, 6);
    size_t slices = spw_beat_slices(20000, 1000);
    for (size_t i = 1; i < slices; i++)
        spw_beat_round_next(&round, 20000, 1000, false, round.next);
    assert_int_equal(round.next, 6 * (int64_t) slices);
    spw_beat_round_next(&round, 20000, 1000, true, round.next);
    assert_int_equal(round.next, 1000);
    assert_int_equal(round.began, 1000);
    //  A loop that fell behind goes on from now, without a burst.
    spw_beat_round_next(&round, 20000, 1000, false, 5000);
    assert_int_equal(round.next, 5006);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_small_table_goes_in_the_least_slices),
        cmocka_unit_test(test_a_large_table_goes_in_slices_of_at_most_the_bound),
        cmocka_unit_test(test_slices_come_at_most_once_a_millisecond),
        cmocka_unit_test(test_a_round_of_slices_takes_a_beat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
