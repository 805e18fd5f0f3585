//  timer.c: a timerfd armed at absolute CLOCK_MONOTONIC instants, for the
//  benchmark programs' poll loops (see timer.h).

#include "timer.h"

#include <errno.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define US_PER_S   1000000
#define NS_PER_US  1000
//  The smallest timer slack the kernel takes, in nanoseconds.
#define TIMER_SLACK_MIN_NS 1

int bench_timer_open(bench_timer_t *self)
{
    prctl(PR_SET_TIMERSLACK, TIMER_SLACK_MIN_NS, 0, 0, 0);
    self->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    return self->fd < 0 ? -1 : 0;
}

void bench_timer_close(bench_timer_t *self)
{
    if (self->fd >= 0)
        close(self->fd);
    self->fd = -1;
}

int bench_timer_arm(bench_timer_t *self, int64_t at_us)
{
    //  An it_value of zero would disarm the timer: one microsecond past the
    //  clock's origin is in the past, so it fires at once instead.
    if (at_us < 1)
        at_us = 1;
    struct itimerspec spec = { 0 };
    spec.it_value.tv_sec = at_us / US_PER_S;
    spec.it_value.tv_nsec = (at_us % US_PER_S) * NS_PER_US;
    return timerfd_settime(self->fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

void bench_timer_clear(bench_timer_t *self)
{
    uint64_t expirations;
    while (read(self->fd, &expirations, sizeof expirations) < 0 && errno == EINTR)
        ;
}

void bench_timer_pollitem(const bench_timer_t *self, zmq_pollitem_t *item)
{
    item->socket = NULL;
    item->fd = self->fd;
    item->events = ZMQ_POLLIN;
    item->revents = 0;
}

int64_t bench_timer_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * US_PER_S + ts.tv_nsec / NS_PER_US;
}
