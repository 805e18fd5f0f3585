//  spw_clock.h: time as the programs read it. Pure modules never call these;
//  the loops read the clock once per turn and pass "now" down.

#ifndef SPW_CLOCK_H_INCLUDED
#define SPW_CLOCK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Milliseconds from a monotonic clock (not wall time).
int64_t spw_clock_ms(void);

//  Microseconds from the same clock, for latency figures.
int64_t spw_clock_us(void);

//  What goes out to every one of a table's slots once a beat (heartbeats)
//  goes in slices: this many a beat of beat_ms over slots, so that each
//  slice's burst holds at most SPW_BEAT_SLICE_SLOTS slots (the input waits
//  behind a burst: at some 10 us a message, a slice of 1,000 edges would
//  hold it 10 ms), at least SPW_BEAT_SLICES_MIN and at most one a
//  millisecond. A slice covers ceil(slots / slices) slots, every
//  beat_ms / slices milliseconds.
#define SPW_BEAT_SLICE_SLOTS 128
#define SPW_BEAT_SLICES_MIN  10
size_t spw_beat_slices(size_t slots, int64_t beat_ms);

//  The slots one slice covers, ceil(slots / spw_beat_slices).
size_t spw_beat_slice_slots(size_t slots, int64_t beat_ms);

//  A loop's rounds of slices, one a beat: when the round in progress began
//  and when its next slice is due (ms).
typedef struct {
    int64_t began;
    int64_t next;
} spw_beat_round_t;

//  Starts the first round at now.
void spw_beat_round_start(spw_beat_round_t *round, size_t slots, int64_t beat_ms, int64_t now);

//  After a slice: the next is due a slice's interval (beat_ms / slices, at
//  least 1 ms) on, or, once the round is done, at the beat's end (a round
//  takes a beat whatever the division leaves); never in the past, so that
//  a loop that fell behind does not burst to catch up.
void spw_beat_round_next(spw_beat_round_t *round, size_t slots, int64_t beat_ms, bool done,
                         int64_t now);

#endif
