//  metrics.h: the edge's read-only http endpoint (docs/operations.md):
//  what the loop publishes there once a heartbeat.

#ifndef SPW_EDGE_METRICS_H_INCLUDED
#define SPW_EDGE_METRICS_H_INCLUDED

#include "edge_impl.h"

//  Publishes /metrics (Prometheus text) and /readyz (ready once it has
//  workers and, with a hub, its hub link) to self->http; nothing if the
//  endpoint is off.
void spw_edge_publish_http(spw_edge_t *self, int64_t now);

//  Counts a task that ends (from spw_edge_finish, before its reply's frames
//  move): its time at this edge and in its queue, its request's bytes and
//  the reply's (body frames [first, first + count)). Tasks of other edges
//  (lent here) count in bytes only. Nothing if the endpoint is off.
void spw_edge_count_finish(spw_edge_t *self, const spw_task_t *task, const spw_msg_t *body,
                           size_t first, size_t count);

//  Frees what spw_edge_count_finish kept; nulls the pointer.
void spw_edge_metrics_free(spw_edge_t *self);

#endif
