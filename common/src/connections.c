//  connections.c: a bound on the connections of one listening socket (see
//  spw_connections.h).
//
//  libzmq's monitor says, for each connection the socket accepts, the file
//  it holds (ZMQ_EVENT_ACCEPTED), and when it loses it
//  (ZMQ_EVENT_DISCONNECTED). A table indexed by file number marks those
//  open. One accepted when the limit is reached is shut down
//  (shutdown(2), not close: the file stays libzmq's, which sees the link
//  end as if the peer had hung up and closes it itself). Events come in the
//  order libzmq saw them, and a file number is reused only after its
//  DISCONNECTED, so a mark is never stale for long; the sweep clears
//  marks whose file is closed in case an event was missed.

#include "spw_connections.h"

#include "spw_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <zmq.h>

//  At most one "refused" log line a socket per this period.
#define SPW_CONNECTIONS_LOG_PERIOD_MS 1000
//  Below this many connections a socket's cut limit is worth a warning.
#define SPW_CONNECTIONS_FEW 1024
//  File numbers tracked when the file limit is unlimited.
#define SPW_CONNECTIONS_MAX_FILES (1 << 20)

//  What the watchers of one process's bound sockets share: their
//  connections together, and how many they may have.
typedef struct {
    size_t open, max;
    size_t users;   // watchers sharing it; the last one frees it
} spw_budget_t;

struct spw_connections_t {
    spw_budget_t *budget;
    const char *name;
    void *watched;  // the socket watched, to stop its monitor
    void *monitor;  // PAIR connected to the watched socket's monitor
    size_t max;
    size_t open;
    uint8_t *marked;  // marked[fd]: an open connection of ours
    size_t files;     // size of marked
    size_t highest;   // every marked fd is below this
    size_t swept;     // the fd the next part of a sweep starts at
    uint64_t refused;
    uint64_t refused_since_log;
    int64_t logged_at;
};

size_t spw_connections_cap(size_t wanted, size_t listeners, long fd_limit)
{
    if (wanted == 0)
        wanted = 1;
    size_t all = wanted * listeners;
    if (fd_limit < 0 || listeners == 0)
        return all ? all : 1;
    long reserve = fd_limit / 4 < SPW_CONNECTIONS_RESERVE ? fd_limit / 4 : SPW_CONNECTIONS_RESERVE;
    long room = fd_limit - reserve;
    size_t fits = room > 0 ? (size_t) room / 4 * 3 : 0;
    if (fits < 1)
        fits = 1;
    return all < fits ? all : fits;
}

long spw_connections_fd_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return -1;
    return (long) limit.rlim_cur;
}

static size_t file_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY
        || limit.rlim_cur > SPW_CONNECTIONS_MAX_FILES)
        return SPW_CONNECTIONS_MAX_FILES;
    return (size_t) limit.rlim_cur;
}

spw_connections_t *spw_connections_new(void *ctx, void *socket, const char *name, size_t max,
                                       char *err, size_t errlen)
{
    spw_connections_t *self = calloc(1, sizeof *self);
    if (self)
        self->files = file_limit();
    if (self)
        self->marked = calloc(self->files, 1);
    if (!self || !self->marked) {
        snprintf(err, errlen, "out of memory");
        spw_connections_destroy(&self);
        return NULL;
    }
    self->name = name;
    self->max = max ? max : 1;
    self->budget = calloc(1, sizeof *self->budget);
    if (!self->budget) {
        snprintf(err, errlen, "out of memory");
        spw_connections_destroy(&self);
        return NULL;
    }
    *self->budget = (spw_budget_t) { .max = self->max, .users = 1 };
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://spw-connections-%p", (void *) self);
    if (zmq_socket_monitor(socket, endpoint, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
        snprintf(err, errlen, "cannot watch the %s socket: %s", name, zmq_strerror(errno));
        spw_connections_destroy(&self);
        return NULL;
    }
    self->watched = socket;
    self->monitor = zmq_socket(ctx, ZMQ_PAIR);
    //  No high-water mark: an event dropped is a connection miscounted.
    int zero = 0;
    if (!self->monitor || zmq_setsockopt(self->monitor, ZMQ_RCVHWM, &zero, sizeof zero) != 0
        || zmq_setsockopt(self->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_connect(self->monitor, endpoint) != 0) {
        snprintf(err, errlen, "cannot watch the %s socket: %s", name, zmq_strerror(errno));
        spw_connections_destroy(&self);
        return NULL;
    }
    return self;
}

int spw_connections_watch(void *ctx, void *const *sockets, const char *const *names,
                          size_t count, size_t wanted, spw_connections_t **watchers,
                          char *err, size_t errlen)
{
    long files = spw_connections_fd_limit();
    size_t all = spw_connections_cap(wanted, count, files);
    size_t each = wanted < all ? wanted : all;
    //  A warning when the cut leaves few; the default is cut on most machines.
    if (all < wanted * count)
        spw_log(each < wanted || all < SPW_CONNECTIONS_FEW ? SPW_LOG_WARNING : SPW_LOG_INFO,
                "max_connections_cut",
                "max_connections=%zu in_all=%zu wanted=%zu sockets=%zu files=%ld hint=\"three "
                "quarters of the open-file limit hold the connections of every socket; raise "
                "the hard limit (ulimit -Hn, LimitNOFILE)\"",
                each, all, wanted, count, files);
    spw_budget_t *budget = NULL;
    for (size_t i = 0; i < count; i++) {
        watchers[i] = spw_connections_new(ctx, sockets[i], names[i], each, err, errlen);
        if (!watchers[i])
            return -1;
        if (!budget) {
            budget = watchers[i]->budget;
            budget->max = all;
            continue;
        }
        free(watchers[i]->budget);   // one budget for all of them
        watchers[i]->budget = budget;
        budget->users++;
    }
    return 0;
}

void *spw_connections_socket(spw_connections_t *self)
{
    return self->monitor;
}

static void unmark(spw_connections_t *self, size_t fd)
{
    if (fd < self->files && self->marked[fd]) {
        self->marked[fd] = 0;
        self->open--;
        self->budget->open--;
    }
}

static void accepted(spw_connections_t *self, size_t fd, int64_t now)
{
    if (fd < self->files && self->marked[fd])
        return;  // the file's last connection ended unseen; this one takes its mark
    if (self->open < self->max && self->budget->open < self->budget->max && fd < self->files) {
        self->marked[fd] = 1;
        self->open++;
        self->budget->open++;
        if (fd >= self->highest)
            self->highest = fd + 1;
        return;
    }
    shutdown((int) fd, SHUT_RDWR);
    self->refused++;
    self->refused_since_log++;
    if (self->logged_at && now - self->logged_at < SPW_CONNECTIONS_LOG_PERIOD_MS)
        return;
    spw_log(SPW_LOG_WARNING, "connection_refused",
            "socket=%s connections=%zu max_connections=%zu in_all=%zu of=%zu refused=%llu "
            "total=%llu",
            self->name, self->open, self->max, self->budget->open, self->budget->max,
            (unsigned long long) self->refused_since_log,
            (unsigned long long) self->refused);
    self->logged_at = now;
    self->refused_since_log = 0;
}

void spw_connections_on_events(spw_connections_t *self, int64_t now)
{
    while (true) {
        zmq_msg_t event, address;
        zmq_msg_init(&event);
        zmq_msg_init(&address);
        if (zmq_msg_recv(&event, self->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&event);
            zmq_msg_close(&address);
            return;
        }
        //  An event is two frames: id (16 bits) and value (32), then the endpoint.
        bool whole = zmq_msg_more(&event) && zmq_msg_recv(&address, self->monitor, 0) >= 0;
        while (zmq_msg_more(&address) && zmq_msg_recv(&address, self->monitor, 0) >= 0)
            ;
        if (whole && zmq_msg_size(&event) == 6) {
            uint16_t id;
            uint32_t value;
            memcpy(&id, zmq_msg_data(&event), sizeof id);
            memcpy(&value, (uint8_t *) zmq_msg_data(&event) + 2, sizeof value);
            if (id == ZMQ_EVENT_ACCEPTED)
                accepted(self, value, now);
            else if (id == ZMQ_EVENT_DISCONNECTED)
                unmark(self, value);
        }
        zmq_msg_close(&event);
        zmq_msg_close(&address);
    }
}

void spw_connections_sweep(spw_connections_t *self, size_t parts)
{
    size_t part = parts > 1 ? (self->highest + parts - 1) / parts : self->highest;
    size_t fd = self->swept < self->highest ? self->swept : 0;
    size_t end = fd + part < self->highest ? fd + part : self->highest;
    for (; fd < end; fd++)
        if (self->marked[fd] && fcntl((int) fd, F_GETFD) < 0 && errno == EBADF)
            unmark(self, fd);
    self->swept = end < self->highest ? end : 0;
}

size_t spw_connections_open(const spw_connections_t *self)
{
    return self->open;
}

uint64_t spw_connections_refused(const spw_connections_t *self)
{
    return self->refused;
}

void spw_connections_destroy(spw_connections_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_connections_t *self = *self_p;
    if (self->watched)
        zmq_socket_monitor(self->watched, NULL, 0);
    if (self->monitor)
        zmq_close(self->monitor);
    free(self->marked);
    if (self->budget && --self->budget->users == 0)
        free(self->budget);
    free(self);
    *self_p = NULL;
}
