//  spw_notify.h: telling systemd how a daemon is (sd_notify, libsystemd):
//  READY once it serves, STATUS now and then, STOPPING as it stops, and
//  the watchdog's pings. Without NOTIFY_SOCKET (not under systemd) every
//  call does nothing.

#ifndef SPW_NOTIFY_H_INCLUDED
#define SPW_NOTIFY_H_INCLUDED

#include <stdint.h>

//  READY=1 with a status line.
void spw_notify_ready(const char *status);

//  STATUS=... (printf-like), shown by systemctl status.
void spw_notify_status(const char *format, ...) __attribute__((format(printf, 1, 2)));

//  STOPPING=1 with a status line.
void spw_notify_stopping(const char *status);

//  Pings the watchdog (WATCHDOG=1) if systemd asked for one and half its
//  interval has passed since the last ping; now in ms. Returns when the
//  next ping is due (INT64_MAX without a watchdog), so that the loop does
//  not sleep past it.
int64_t spw_notify_watchdog(int64_t now);

#endif
