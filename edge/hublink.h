//  hublink.h: the edge's link to the hub (hublink.c).

#ifndef SPW_EDGE_HUBLINK_H_INCLUDED
#define SPW_EDGE_HUBLINK_H_INCLUDED

#include "edge_impl.h"

//  Connects to the hub (if one is configured) and sends REGISTER.
int spw_hublink_start(spw_edge_t *self, char *err, size_t errlen);
//  A message from the hub on the control connection.
void spw_hublink_on_control(spw_edge_t *self, spw_msg_t *msg, int64_t now);
//  The hub link's heartbeat: liveness of the hub, registration, state.
void spw_hublink_tick(spw_edge_t *self, int64_t now);
//  Publishes the state: always, or only if it grew materially.
void spw_hublink_publish(spw_edge_t *self, bool always, int64_t now);
//  Notes each service's role in lending as of now (call it when the state
//  changed), and sets self->settles_at to when a new one settles (0: none).
void spw_hublink_observe(spw_edge_t *self, int64_t now);
//  True while the hub has welcomed this edge and is heard.
bool spw_hublink_joined(spw_edge_t *self);
//  A message from hub (an index into self->hubs): the active hub's goes to
//  spw_hublink_on_control, a standby's is the answer to a probe.
void spw_hublink_on_hub(spw_edge_t *self, size_t hub, spw_msg_t *msg, int64_t now);
//  With several hubs: moves to another when the active one has been silent
//  two heartbeats, or back to one earlier in the list that is up again.
void spw_hublink_watch(spw_edge_t *self, int64_t now);
//  When spw_hublink_watch has something to decide next (INT64_MAX: never).
int64_t spw_hublink_next_watch(const spw_edge_t *self);
//  Says goodbye (if joined) and closes the link.
void spw_hublink_stop(spw_edge_t *self);

#endif
