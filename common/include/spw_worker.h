//  spw_worker.h: the native worker API.
//
//  A worker is one DEALER socket connected to an edge's backend, offering
//  one service. spw_worker_recv says READY, waits for a task and sends
//  heartbeats while it waits (at the interval the edge's ACCEPTED gives); if
//  the edge is silent for liveness heartbeats the worker reconnects,
//  backing off from 100 ms to 5 s, and an edge's DISCONNECT makes it wait
//  what the edge says (a refusal's wait grows while it is repeated). The worker takes
//  up to opts.slots tasks at once (1 by default): it may receive that many
//  before it answers the first, and answers each with spw_worker_reply, in
//  any order; a task longer
//  than heartbeat_ms x liveness must call spw_worker_heartbeat now and then
//  or the edge will think the worker dead and give the task to another.
//  Not thread-safe: one worker per thread.

#ifndef SPW_WORKER_H_INCLUDED
#define SPW_WORKER_H_INCLUDED

#include "spw_proto.h"
#include "spw_socket.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spw_worker_t spw_worker_t;

typedef struct {
    int heartbeat_ms;       // 0: 1000; until the edge's ACCEPTED says its own
    int liveness;           // 0: 3; likewise
    int reconnect_min_ms;   // 0: 100
    int reconnect_max_ms;   // 0: 5000
    int slots;              // tasks it takes at once, 1 to SPW_MAX_SLOTS; 0: 1
    const spw_curve_keys_t *curve;  // NULL: plaintext; else the worker's keys and the
                                    // edge's public key (copied)
} spw_worker_opts_t;

//  A task: its key (to pass back in the reply) and its body frames
//  (msg.frame[body_first .. body_first + body_count)). Owned by the caller.
typedef struct {
    uint64_t key;
    size_t body_first;
    size_t body_count;
    spw_msg_t msg;
} spw_worker_task_t;

//  Connects a worker for service to an edge's backend; opts may be NULL.
//  NULL on failure.
spw_worker_t *spw_worker_new(const char *endpoint, const char *service,
                             const spw_worker_opts_t *opts);

//  Tells the edge the worker is leaving, closes it, nulls the pointer.
void spw_worker_destroy(spw_worker_t **self_p);

//  Waits up to timeout_ms (-1: forever) for a task, keeping the link alive.
//  Returns 0 with task filled, or -1 on timeout (errno EAGAIN) or
//  interruption (errno EINTR/ETERM). task is overwritten (it need not be
//  initialised): answer or reset the previous task first.
int spw_worker_recv(spw_worker_t *self, spw_worker_task_t *task, int timeout_ms);

//  Answers task with status and the frames of body (moved; may be NULL for
//  none), then releases the task. Returns 0 or -1.
int spw_worker_reply(spw_worker_t *self, spw_worker_task_t *task, spw_status_t status,
                     spw_msg_t *body);

//  Sends a heartbeat now; call it during long tasks. Returns 0 or -1.
int spw_worker_heartbeat(spw_worker_t *self);

//  Releases a task without answering it.
void spw_worker_task_reset(spw_worker_task_t *task);

//  The worker's socket, for callers that poll several things. It changes
//  when spw_worker_recv reconnects, and is NULL while it waits to.
void *spw_worker_socket(spw_worker_t *self);

#ifdef __cplusplus
}
#endif

#endif
