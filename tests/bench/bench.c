//  bench.c: what the benchmark programs share (see bench.h).

#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

bool bench_parse_number(const char *program, const char *flag, const char *text, double min,
                        double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (!*text || *end || errno || !(value >= min && value <= max)) {
        fprintf(stderr, "%s: %s must be a number from %g to %g, got '%s'\n", program, flag, min,
                max, text);
        return false;
    }
    *out = value;
    return true;
}

int bench_compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return (x > y) - (x < y);
}

size_t bench_rank(double p, size_t count)
{
    size_t rank = (size_t) ceil(p * (double) count);
    return rank ? (rank < count ? rank - 1 : count - 1) : 0;
}
