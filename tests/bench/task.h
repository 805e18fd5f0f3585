//  task.h: the body of a benchmark task, shared by bench-load and
//  bench-workers.
//
//  One frame of BENCH_TASK_BODY_LEN bytes: the service time the worker must
//  spend on the task (u32, microseconds, big-endian as the protocol writes
//  integers), then the request id the load generator gave it (u64), which
//  the worker echoes with the rest of the body so the generator can check
//  that every reply belongs to its request. Carrying the service time in
//  the task lets one set of worker processes serve 0.1, 1 and 10 ms tasks
//  in one run without restarting.

#ifndef BENCH_TASK_H_INCLUDED
#define BENCH_TASK_H_INCLUDED

#include "spw_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_TASK_SERVICE_OFFSET 0
#define BENCH_TASK_ID_OFFSET      4
#define BENCH_TASK_BODY_LEN       12
//  The longest service time a task may ask for: one minute.
#define BENCH_TASK_SERVICE_US_MAX 60000000u

//  Writes a task body into buf (BENCH_TASK_BODY_LEN bytes).
static inline void bench_task_encode(uint8_t *buf, uint32_t service_us, uint64_t request_id)
{
    spw_put_u32(buf + BENCH_TASK_SERVICE_OFFSET, service_us);
    spw_put_u64(buf + BENCH_TASK_ID_OFFSET, request_id);
}

//  Reads a task body; false if it is not one.
static inline bool bench_task_decode(const uint8_t *buf, size_t len, uint32_t *service_us,
                                     uint64_t *request_id)
{
    if (len != BENCH_TASK_BODY_LEN)
        return false;
    *service_us = spw_get_u32(buf + BENCH_TASK_SERVICE_OFFSET);
    *request_id = spw_get_u64(buf + BENCH_TASK_ID_OFFSET);
    return *service_us <= BENCH_TASK_SERVICE_US_MAX;
}

#endif
