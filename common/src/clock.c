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

size_t spw_beat_slices(size_t slots, int64_t beat_ms)
{
    size_t slices = (slots + SPW_BEAT_SLICE_SLOTS - 1) / SPW_BEAT_SLICE_SLOTS;
    if (slices < SPW_BEAT_SLICES_MIN)
        slices = SPW_BEAT_SLICES_MIN;
    if (beat_ms > 0 && slices > (uint64_t) beat_ms)
        slices = (size_t) beat_ms;
    return slices;
}
