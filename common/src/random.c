//  random.c: splitmix64 and a seed from the kernel (see spw_random.h).

#include "spw_random.h"

#include "spw_clock.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint64_t spw_random_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

uint64_t spw_hash_bytes(const void *data, size_t len)
{
    const uint8_t *bytes = data;
    uint64_t hash = 14695981039346656037u;
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ bytes[i]) * 1099511628211u;
    return hash;
}

uint64_t spw_random_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t) sizeof seed)
        return seed;
    uint64_t state = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32)
                   ^ (uint64_t) spw_clock_us();
    return spw_random_next(&state);
}
