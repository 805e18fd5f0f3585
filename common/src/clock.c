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

size_t spw_beat_slice_slots(size_t slots, int64_t beat_ms)
{
    size_t slices = spw_beat_slices(slots, beat_ms);
    return (slots + slices - 1) / slices;
}

static int64_t slice_ms(size_t slots, int64_t beat_ms)
{
    int64_t ms = beat_ms / (int64_t) spw_beat_slices(slots, beat_ms);
    return ms > 0 ? ms : 1;
}

void spw_beat_round_start(spw_beat_round_t *round, size_t slots, int64_t beat_ms, int64_t now)
{
    round->began = now;
    round->next = now + slice_ms(slots, beat_ms);
}

void spw_beat_round_next(spw_beat_round_t *round, size_t slots, int64_t beat_ms, bool done,
                         int64_t now)
{
    if (done)
        round->next = round->began += beat_ms;
    else
        round->next += slice_ms(slots, beat_ms);
    if (round->next <= now) {
        round->next = now + slice_ms(slots, beat_ms);
        if (done)
            round->began = now;
    }
}
