//  spw_daemon.h: what the edge and the hub share as programs — settings
//  from defaults, a --config file and flags, help and version, and the
//  signals that stop them.

#ifndef SPW_DAEMON_H_INCLUDED
#define SPW_DAEMON_H_INCLUDED

#include "spw_config.h"

#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *program;        // "spillway-edge", the prefix of its errors
    const char *usage;          // the flags to show after the program's name
    const char *summary;        // what the program is, a line or two
    const char *example;        // the example config, "config/edge.yaml"
    const char *missing_hint;   // added to a missing-key error when no file was given
    const spw_key_t *keys;
} spw_daemon_spec_t;

//  Fills settings (zeroed by the caller) from the keys' defaults, then the
//  --config file wherever it stands, then every other flag in order, then
//  checks required keys. Returns -1 if the program should go on, or the
//  code it should exit with: 0 after --help or --version, 1 for a bad file,
//  2 for bad flags. Errors are printed, one line.
int spw_daemon_settings(const spw_daemon_spec_t *spec, void *settings, int argc, char **argv);

//  Makes SIGINT and SIGTERM count in the returned counter instead of killing
//  the process (a second signal can mean "now"), without SA_RESTART so that
//  a blocking zmq_poll or read returns EINTR. Every program of Spillway
//  stops this way. SIGHUP (a reload) is caught too: see below.
volatile sig_atomic_t *spw_daemon_signals(void);

//  Logs, once for each SIGHUP received since the last call, that no
//  setting can change at run time (restart to apply a new config). The
//  loops call it every turn.
void spw_daemon_check_reload(void);

//  Raises this process's limit of open files to the most it may have (every
//  connection is one), and logs it, with a warning when it is low. Returns
//  the limit now in force.
long spw_daemon_raise_fd_limit(void);

//  The last stop signal received (SIGINT or SIGTERM), or 0.
int spw_daemon_last_signal(void);

#ifdef __cplusplus
}
#endif

#endif
