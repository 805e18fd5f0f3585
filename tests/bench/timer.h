//  timer.h: a microsecond wake-up for a benchmark's zmq_poll loop.
//
//  zmq_poll's timeout is in milliseconds, too coarse for 0.1 ms tasks and
//  for Poisson arrivals thousands a second apart. A bench_timer_t is a
//  Linux timerfd that the loop polls beside its sockets: arm it for the
//  next instant anything is due (an absolute time from bench_timer_now_us,
//  the same monotonic clock as spw_clock_us), poll with no timeout, and
//  clear it when it fires. Both benchmark programs use it, so their clocks
//  agree. The process's timer slack is set to its minimum as well, so that
//  the kernel does not round wake-ups up by its default 50 us.

#ifndef BENCH_TIMER_H_INCLUDED
#define BENCH_TIMER_H_INCLUDED

#include <stdint.h>
#include <zmq.h>

typedef struct {
    int fd;
} bench_timer_t;

//  Opens the timer (disarmed). Returns 0 or -1 (errno set).
int bench_timer_open(bench_timer_t *self);

//  Closes the timer; safe to call twice.
void bench_timer_close(bench_timer_t *self);

//  Arms the timer to fire at the absolute time at_us (in the past: at once).
//  Returns 0 or -1.
int bench_timer_arm(bench_timer_t *self, int64_t at_us);

//  Clears a fired timer (call when its poll item shows ZMQ_POLLIN).
void bench_timer_clear(bench_timer_t *self);

//  Fills a zmq_pollitem_t that polls the timer.
void bench_timer_pollitem(const bench_timer_t *self, zmq_pollitem_t *item);

//  Microseconds from the monotonic clock.
int64_t bench_timer_now_us(void);

#endif
