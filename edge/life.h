//  life.h: the life of a task at this edge (edge.c) — accepted, handed to a
//  worker, re-queued, finished — as the hub and cloud links use it.

#ifndef SPW_EDGE_LIFE_H_INCLUDED
#define SPW_EDGE_LIFE_H_INCLUDED

#include "edge_impl.h"

//  True if the peer that sent msg may act as role (and, with name, under
//  that name): always without CURVE. Otherwise msg is dropped, counted
//  (forbidden) and logged with the peer's key.
bool spw_edge_allowed(spw_edge_t *self, spw_drops_t *drops, spw_msg_t *msg, const char *role,
                      const char *name, size_t name_len, int64_t now);

//  The options of a socket that serves (binds), secured when CURVE is on.
spw_socket_opts_t spw_edge_server_opts(const spw_edge_t *self, int64_t max_message_bytes,
                                       int hwm);

//  Counts and logs (rate-limited) a dropped message from the network.
void spw_edge_drop(spw_edge_t *self, spw_drops_t *drops, const spw_msg_t *msg, const char *why,
                   int64_t now);
//  The same, for a reason other than malformed (spw_drop_reason_t).
void spw_edge_drop_as(spw_edge_t *self, spw_drops_t *drops, spw_drop_reason_t reason,
                      const spw_msg_t *msg, const char *why, int64_t now);
//  Answers a task's client (body frames [first, first + count) are moved)
//  and forgets the task: the one place a task ends.
void spw_edge_finish(spw_edge_t *self, spw_task_t *task, spw_status_t status, spw_msg_t *body,
                     size_t first, size_t count, const char *reason);
//  Puts a task back at the head of its queue (or fails it after
//  max_attempts); count_attempt is false when it never reached a worker.
void spw_edge_requeue(spw_edge_t *self, spw_task_t *task, const char *why, bool count_attempt,
                      int64_t now);
//  Hands a service's queued tasks to its idle workers.
void spw_edge_dispatch(spw_edge_t *self, spw_service_t *service, int64_t now);
//  Makes a task of msg (its identity frame and body frames are moved);
//  NULL if the task table is full.
spw_task_t *spw_edge_new_task(spw_edge_t *self, spw_msg_t *msg, spw_client_kind_t kind,
                              uint64_t request_id, spw_service_t *service,
                              int64_t deadline, size_t body_first, size_t body_count,
                              int64_t now);

#endif
