//  socket.c: the one socket helper, and whole-message send and receive.
//
//  Options every socket gets: linger 0 (a stopping program never hangs on
//  unsent messages; the origin edge owns every task, so nothing accepted is
//  lost by dropping a socket's queue), a maximum message size (libzmq then
//  drops the peer rather than hand us an oversized frame), and the given
//  high-water marks. ROUTER sockets report unroutable sends
//  (ZMQ_ROUTER_MANDATORY) so a reply to a vanished peer is seen, not lost
//  silently. Security options will be added here and nowhere else.

#include "spw_socket.h"

#include "spw_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

//  A server admits what the authenticator (zauth, in the same context)
//  admits; a client verifies the server's key and shows its own.
static int set_curve(void *socket, const spw_socket_opts_t *opts)
{
    const spw_curve_keys_t *keys = opts->curve;
    if (opts->curve_server) {
        int one = 1;
        if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0
            || zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, keys->secret_key, 32) != 0
            || zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, SPW_CURVE_DOMAIN,
                              strlen(SPW_CURVE_DOMAIN)) != 0)
            return -1;
        return 0;
    }
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, keys->server_key, 32) != 0
        || zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, keys->public_key, 32) != 0
        || zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, keys->secret_key, 32) != 0)
        return -1;
    return 0;
}

void *spw_socket_new(void *ctx, int type, const spw_socket_opts_t *opts)
{
    void *socket = zmq_socket(ctx, type);
    if (!socket)
        return NULL;
    int zero = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &zero, sizeof zero);
    if (opts && opts->max_message_bytes > 0) {
        int64_t max = opts->max_message_bytes;
        zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max, sizeof max);
    }
    if (opts && opts->hwm > 0) {
        zmq_setsockopt(socket, ZMQ_SNDHWM, &opts->hwm, sizeof opts->hwm);
        zmq_setsockopt(socket, ZMQ_RCVHWM, &opts->hwm, sizeof opts->hwm);
    }
    if (opts && opts->immediate) {
        int one = 1;
        zmq_setsockopt(socket, ZMQ_IMMEDIATE, &one, sizeof one);
    }
    if (opts && opts->heartbeat_ms > 0) {
        zmq_setsockopt(socket, ZMQ_HEARTBEAT_IVL, &opts->heartbeat_ms, sizeof opts->heartbeat_ms);
        zmq_setsockopt(socket, ZMQ_HEARTBEAT_TIMEOUT, &opts->heartbeat_timeout_ms,
                       sizeof opts->heartbeat_timeout_ms);
    }
    if (opts && opts->backlog > 0)
        zmq_setsockopt(socket, ZMQ_BACKLOG, &opts->backlog, sizeof opts->backlog);
    if (type == ZMQ_ROUTER) {
        int one = 1;
        zmq_setsockopt(socket, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    }
    if (opts && opts->curve && set_curve(socket, opts) != 0) {
        int saved = errno;
        zmq_close(socket);
        errno = saved;
        return NULL;
    }
    return socket;
}

void spw_socket_destroy(void **socket)
{
    if (socket && *socket) {
        zmq_close(*socket);
        *socket = NULL;
    }
}

int spw_socket_bind(void *socket, const char *endpoint, char *err, size_t errlen)
{
    if (zmq_bind(socket, endpoint) == 0)
        return 0;
    snprintf(err, errlen, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return -1;
}

int spw_socket_connect(void *socket, const char *endpoint, char *err, size_t errlen)
{
    if (zmq_connect(socket, endpoint) == 0)
        return 0;
    snprintf(err, errlen, "cannot connect to %s: %s", endpoint,
             zmq_strerror(zmq_errno()));
    return -1;
}

//  Receives one message; one with more than SPW_MAX_FRAMES frames keeps its
//  first ones, truncated set, if keep_head, and is dropped whole otherwise.
static int recv_message(spw_msg_t *msg, void *socket, int flags, bool keep_head)
{
    bool oversized = false;
    while (true) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, socket, msg->count || oversized ? 0 : flags) < 0) {
            int saved = errno;
            zmq_msg_close(&frame);
            spw_msg_reset(msg);
            errno = saved;
            return -1;
        }
        bool more = zmq_msg_more(&frame);
        if (!oversized && spw_msg_add_move(msg, &frame) != 0) {
            oversized = true;
            if (!keep_head)
                spw_msg_reset(msg);
        }
        zmq_msg_close(&frame);
        if (!more)
            break;
    }
    if (oversized && keep_head) {
        msg->truncated = true;
        return 0;
    }
    if (oversized) {
        errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

int spw_msg_recv(spw_msg_t *msg, void *socket, int flags)
{
    return recv_message(msg, socket, flags, false);
}

int spw_msg_send(spw_msg_t *msg, void *socket, int flags)
{
    int rc = 0;
    size_t i = 0;
    for (; i < msg->count; i++) {
        int more = i + 1 < msg->count ? ZMQ_SNDMORE : 0;
        if (zmq_msg_send(&msg->frame[i], socket, more | flags) < 0) {
            rc = -1;
            break;
        }
    }
    int saved = errno;
    //  Frames sent are already empty; close the rest.
    for (; i < msg->count; i++)
        zmq_msg_close(&msg->frame[i]);
    msg->count = 0;
    errno = saved;
    return rc;
}

//  At most one "dropped" log line a socket per this period.
#define SPW_DROPS_LOG_PERIOD_MS 1000

const char *spw_drop_reason_name(spw_drop_reason_t reason)
{
    static const char *const names[SPW_DROP_REASONS] = { "malformed", "version", "unexpected",
                                                         "forbidden", "full" };
    return reason < SPW_DROP_REASONS ? names[reason] : "malformed";
}

void spw_drops_note(spw_drops_t *drops, const spw_msg_t *msg, int peer_frame, const char *why,
                    int64_t now)
{
    bool version = why && (strcmp(why, SPW_PROTO_WHY_V1) == 0
                           || strcmp(why, SPW_PROTO_WHY_VERSION) == 0);
    spw_drops_note_as(drops, version ? SPW_DROP_VERSION : SPW_DROP_MALFORMED, msg, peer_frame,
                      why, now);
}

void spw_drops_note_as(spw_drops_t *drops, spw_drop_reason_t reason, const spw_msg_t *msg,
                       int peer_frame, const char *why, int64_t now)
{
    _Static_assert(SPW_DROP_REASONS == sizeof drops->by_reason / sizeof drops->by_reason[0],
                   "a count per reason");
    drops->by_reason[reason < SPW_DROP_REASONS ? reason : SPW_DROP_MALFORMED]++;
    drops->count++;
    drops->since_log++;
    if (drops->logged_at && now - drops->logged_at < SPW_DROPS_LOG_PERIOD_MS)
        return;
    char peer[80] = "-";
    if (peer_frame >= 0 && msg->count > (size_t) peer_frame) {
        zmq_msg_t *id = (zmq_msg_t *) &msg->frame[peer_frame];
        spw_log_bytes(zmq_msg_data(id), zmq_msg_size(id), peer, sizeof peer);
    }
    spw_log(SPW_LOG_WARNING, "message_dropped",
            "socket=%s peer=%s reason=\"%s\" dropped=%llu total=%llu", drops->name, peer,
            why ? why : "malformed", (unsigned long long) drops->since_log,
            (unsigned long long) drops->count);
    drops->logged_at = now;
    drops->since_log = 0;
}

static int drain(void *socket, int batch, void (*handle)(void *arg, spw_msg_t *msg, int64_t now),
                 void *arg, spw_drops_t *drops, int peer_frame, bool keep_head, int64_t now)
{
    for (int i = 0; i < batch; i++) {
        spw_msg_t msg;
        spw_msg_init(&msg);
        if (recv_message(&msg, socket, ZMQ_DONTWAIT, keep_head) != 0) {
            if (errno == EMSGSIZE) {
                spw_drops_note(drops, &msg, peer_frame, "too many frames", now);
                continue;
            }
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        }
        handle(arg, &msg, now);
        spw_msg_reset(&msg);
    }
    return 0;
}

int spw_msg_drain(void *socket, int batch, void (*handle)(void *arg, spw_msg_t *msg, int64_t now),
                  void *arg, spw_drops_t *drops, int peer_frame, int64_t now)
{
    return drain(socket, batch, handle, arg, drops, peer_frame, false, now);
}

int spw_msg_drain_all(void *socket, int batch,
                      void (*handle)(void *arg, spw_msg_t *msg, int64_t now), void *arg,
                      spw_drops_t *drops, int peer_frame, int64_t now)
{
    return drain(socket, batch, handle, arg, drops, peer_frame, true, now);
}
