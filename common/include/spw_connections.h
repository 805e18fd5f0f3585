//  spw_connections.h: a bound on the connections of one listening socket.
//
//  libzmq accepts every connection a listening socket is offered and has
//  no limit of its own; past the process's open-file limit it spins on
//  tcp:// and aborts on ipc://. A spw_connections_t watches one bound socket
//  through libzmq's monitor, counts the connections it accepted, and shuts
//  down at once any accepted past its limit, so that the process stays
//  well under its file limit whatever peers do. The newest connection is
//  the one refused: peers already served keep their links. Refusals are
//  counted and logged at most once a second.
//
//  The loop that owns the socket polls spw_connections_socket() and calls
//  spw_connections_on_events() when it is readable, and
//  spw_connections_sweep() now and then.

#ifndef SPW_CONNECTIONS_H_INCLUDED
#define SPW_CONNECTIONS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spw_connections_t spw_connections_t;

//  Open files a process keeps for itself beyond its connections (its
//  sockets' signals, logs, the authenticator, the poller): this many, or a
//  quarter of a smaller file limit.
#define SPW_CONNECTIONS_RESERVE 256

//  The connections listeners sockets may hold together in a process whose
//  file limit is fd_limit (-1: none): wanted each, or fewer in all so that
//  they fit in three quarters of the file limit beyond the reserve (the
//  last quarter is room for connections accepted before they are shut
//  down). At least 1.
size_t spw_connections_cap(size_t wanted, size_t listeners, long fd_limit);

//  This process's open-file limit now; -1 if it has none.
long spw_connections_fd_limit(void);

//  Watches socket (a bound socket of ctx, monitored from now on) and keeps
//  its connections to max. name is the socket's name in the log and must
//  outlive the watcher. NULL on failure, with the reason in err.
spw_connections_t *spw_connections_new(void *ctx, void *socket, const char *name, size_t max,
                                       char *err, size_t errlen);

//  Watches count bound sockets of ctx (names[i] naming sockets[i]), each
//  with a limit of wanted and all of them together with the limit of
//  spw_connections_cap (a warning logged if it cuts), into
//  watchers[0..count): a connection past either is shut down. Returns 0, or
//  -1 with the reason in err (watchers made so far are the caller's).
int spw_connections_watch(void *ctx, void *const *sockets, const char *const *names,
                          size_t count, size_t wanted, spw_connections_t **watchers,
                          char *err, size_t errlen);

//  The socket to poll for ZMQ_POLLIN: it carries the watched socket's events.
void *spw_connections_socket(spw_connections_t *self);

//  Reads the events waiting, counts connections made and lost, and shuts
//  down those past the limit.
void spw_connections_on_events(spw_connections_t *self, int64_t now);

//  Forgets connections whose file is closed without an event said so: of
//  the next 1/parts of the files, so that parts calls sweep them all (a
//  system call a file: a loop of 10,000 connections sweeps in parts).
void spw_connections_sweep(spw_connections_t *self, size_t parts);

//  Connections open now, and refused in all.
size_t spw_connections_open(const spw_connections_t *self);
uint64_t spw_connections_refused(const spw_connections_t *self);

//  Stops watching (before the socket and the context close); safe on NULL.
void spw_connections_destroy(spw_connections_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
