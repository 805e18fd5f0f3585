//  notify.c: sd_notify for the daemons (see spw_notify.h).

#include "spw_notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

void spw_notify_ready(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void spw_notify_status(const char *format, ...)
{
    char status[256];
    va_list args;
    va_start(args, format);
    vsnprintf(status, sizeof status, format, args);
    va_end(args);
    sd_notifyf(0, "STATUS=%s", status);
}

void spw_notify_stopping(const char *status)
{
    sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status);
}

int64_t spw_notify_watchdog(int64_t now)
{
    static int known;
    static int64_t interval_ms, next;
    if (!known) {
        uint64_t usec = 0;
        known = 1;
        if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000)
            interval_ms = (int64_t) (usec / 2000);   // ping at half the interval
    }
    if (!interval_ms)
        return INT64_MAX;
    if (now >= next) {
        sd_notify(0, "WATCHDOG=1");
        next = now + interval_ms;
    }
    return next;
}
