//  bench.h: what the benchmark programs share beside their timer: reading
//  a number argument, and the nearest-rank quantile of sorted latencies.

#ifndef BENCH_BENCH_H_INCLUDED
#define BENCH_BENCH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Reads text as a number in [min, max] into *out; false, after one line
//  on stderr naming program and flag, if it is not one.
bool bench_parse_number(const char *program, const char *flag, const char *text, double min,
                        double max, double *out);

//  qsort's order of uint32_t latencies, smallest first.
int bench_compare_u32(const void *a, const void *b);

//  The index of the p-quantile (nearest rank) among count sorted samples
//  (count > 0).
size_t bench_rank(double p, size_t count);

#endif
