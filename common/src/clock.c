//  clock.c: the monotonic clock, read only by the loops.

#include "spw_clock.h"

#include <time.h>

int64_t spw_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t spw_clock_ms(void)
{
    return spw_clock_us() / 1000;
}
