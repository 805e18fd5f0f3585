//  metrics.h: the edge's read-only http endpoint (docs/operations.md):
//  what the loop publishes there once a heartbeat.

#ifndef SPW_EDGE_METRICS_H_INCLUDED
#define SPW_EDGE_METRICS_H_INCLUDED

#include "edge_impl.h"

//  Publishes /metrics (Prometheus text) and /readyz (ready once it has
//  workers and, with a hub, its hub link) to self->http; nothing if the
//  endpoint is off.
void spw_edge_publish_http(spw_edge_t *self, int64_t now);

#endif
