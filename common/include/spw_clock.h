//  spw_clock.h: time as the programs read it. Pure modules never call these;
//  the loops read the clock once per turn and pass "now" down.

#ifndef SPW_CLOCK_H_INCLUDED
#define SPW_CLOCK_H_INCLUDED

#include <stdint.h>

//  Milliseconds from a monotonic clock (not wall time).
int64_t spw_clock_ms(void);

//  Microseconds from the same clock, for latency figures.
int64_t spw_clock_us(void);

#endif
