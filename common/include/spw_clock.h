//  spw_clock.h: time as the programs read it. Pure modules never call these;
//  the loops read the clock once per turn and pass "now" down.

#ifndef SPW_CLOCK_H_INCLUDED
#define SPW_CLOCK_H_INCLUDED

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

#endif
