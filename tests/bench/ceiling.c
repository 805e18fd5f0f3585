//  ceiling.c: the ceiling every Spillway benchmark is measured against.
//
//  `ceiling proxy FRONTEND BACKEND` runs zmq_proxy between a ROUTER that
//  clients connect to and a DEALER that workers connect to: the fastest a
//  broker between the same clients and workers can be, since it does
//  nothing but move frames. `ceiling worker BACKEND` is the matching worker:
//  it answers each SPW2 REQUEST with an ok REPLY carrying the same body, so
//  that `spillway bench` drives the proxy exactly as it drives an edge.
//  Both run until SIGINT/SIGTERM. Not a test; tests/bench/run uses it.

#include "spillway.h"
#include "spw_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int run_proxy(void *ctx, const char *frontend_ep, const char *backend_ep)
{
    char err[SPW_ERROR_MAX];
    void *frontend = spw_socket_new(ctx, ZMQ_ROUTER, NULL);
    void *backend = spw_socket_new(ctx, ZMQ_DEALER, NULL);
    if (spw_socket_bind(frontend, frontend_ep, err, sizeof err) != 0
        || spw_socket_bind(backend, backend_ep, err, sizeof err) != 0) {
        fprintf(stderr, "ceiling: %s\n", err);
        spw_socket_destroy(&frontend);
        spw_socket_destroy(&backend);
        return 1;
    }
    zmq_proxy(frontend, backend, NULL);  // never returns: a signal ends the process
    spw_socket_destroy(&frontend);
    spw_socket_destroy(&backend);
    return 0;
}

static int run_worker(void *ctx, const char *backend_ep, volatile sig_atomic_t *stop)
{
    char err[SPW_ERROR_MAX];
    void *socket = spw_socket_new(ctx, ZMQ_DEALER, NULL);
    if (spw_socket_connect(socket, backend_ep, err, sizeof err) != 0) {
        fprintf(stderr, "ceiling: %s\n", err);
        spw_socket_destroy(&socket);
        return 1;
    }
    while (!*stop) {
        spw_msg_t in, out;
        spw_msg_init(&in);
        if (spw_msg_recv(&in, socket, 0) != 0) {
            if (errno == EINTR || errno == EMSGSIZE)
                continue;
            break;
        }
        //  [client identity] then the client's REQUEST.
        spw_proto_t request;
        if (in.count < 2 || spw_proto_decode(&in, 1, &request, NULL) != 0
            || request.cmd != SPW_CMD_REQUEST) {
            spw_msg_reset(&in);
            continue;
        }
        spw_msg_init(&out);
        spw_msg_add_move(&out, &in.frame[0]);
        spw_proto_put_reply(&out, request.id, SPW_STATUS_OK);
        spw_msg_move_frames(&out, &in, request.body_first, request.body_count);
        spw_msg_send(&out, socket, 0);
        spw_msg_reset(&in);
    }
    spw_socket_destroy(&socket);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "proxy") == 0) {
        //  No handler: SIGTERM ends the proxy as it comes. A caught one that
        //  lands while zmq_proxy is not in a system call is never seen, and
        //  the proxy then waits for good.
        void *ctx = zmq_ctx_new();
        int rc = run_proxy(ctx, argv[2], argv[3]);
        zmq_ctx_term(ctx);
        return rc;
    }
    if (argc == 3 && strcmp(argv[1], "worker") == 0) {
        volatile sig_atomic_t *stop = spw_daemon_signals();
        void *ctx = zmq_ctx_new();
        int rc = run_worker(ctx, argv[2], stop);
        zmq_ctx_term(ctx);
        return rc;
    }
    fprintf(stderr, "usage: ceiling proxy FRONTEND BACKEND | ceiling worker BACKEND\n");
    return 2;
}
