//  spw_random.h: random numbers and hashes for keys and orders (not for
//  secrets).

#ifndef SPW_RANDOM_H_INCLUDED
#define SPW_RANDOM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  The next number of a splitmix64 sequence, advancing *state: fast, well
//  spread, and reproducible from a seed (tests predict draws with it).
uint64_t spw_random_next(uint64_t *state);

//  A seed that differs from process to process and run to run: from the
//  kernel's random source, or, if that fails, from the clock and the pid.
uint64_t spw_random_seed(void);

//  FNV-1a of len bytes: a quick hash for tables and prefilters.
uint64_t spw_hash_bytes(const void *data, size_t len);

#endif
