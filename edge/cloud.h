//  cloud.h: the edge's links to other edges, lending and borrowing by
//  credit (cloud.c).

#ifndef SPW_EDGE_CLOUD_H_INCLUDED
#define SPW_EDGE_CLOUD_H_INCLUDED

#include "edge_impl.h"

//  Binds the cloud ROUTER and makes the credit ledger (with a hub only).
int spw_cloud_start(spw_edge_t *self, char *err, size_t errlen);
//  Closes every link and the ledger.
void spw_cloud_stop(spw_edge_t *self);
//  A message on our cloud ROUTER (from a borrower), or on a lender link.
void spw_cloud_on_request(spw_edge_t *self, spw_msg_t *msg, int64_t now);
void spw_cloud_on_peer(spw_edge_t *self, spw_peer_t *peer, spw_msg_t *msg, int64_t now);
//  The hub's MATCH for a service: whom we lend to, whom we borrow from.
void spw_cloud_match(spw_edge_t *self, spw_service_t *service, const spw_proto_t *match,
                     int64_t now);
//  Forgets every match (the hub forgot us, or has been gone a lease);
//  credit already offered or held runs out its lease.
void spw_cloud_unmatch_all(spw_edge_t *self);
//  Sends waiting tasks of a service to lenders we hold credit from.
void spw_cloud_delegate(spw_edge_t *self, spw_service_t *service, int64_t now);
void spw_cloud_delegate_all(spw_edge_t *self, int64_t now);
//  Offers or revokes credit of a service after its local load changed.
void spw_cloud_lend(spw_edge_t *self, spw_service_t *service, int64_t now);
//  A borrower's task we held is finished: releases its credit and, if ride
//  is set, returns the credit renewed for that borrower, to ride on the
//  DONE (else any credit for it goes as CREDIT, which names the service:
//  a DONE the borrower no longer expects would lose what it carries).
uint32_t spw_cloud_release(spw_edge_t *self, spw_task_t *task, bool ride, int64_t now);
//  The DONE that carried credit for a borrower could not be sent: that
//  credit was never out.
void spw_cloud_unoffer(spw_edge_t *self, spw_borrower_t *borrower, spw_service_t *service,
                       uint32_t credit);
//  The hub's news of another edge (process epoch): a lender gone takes our
//  tasks in flight there back to our queue; a borrower gone has its tasks
//  waiting here answered busy and is lent nothing more. A join by the
//  process we know is no news.
void spw_cloud_member(spw_edge_t *self, spw_member_event_t event, const char *name,
                      size_t name_len, uint64_t epoch, int64_t now);
//  A lender is gone (dead, left, restarted): its tasks in flight go back.
void spw_cloud_peer_gone(spw_edge_t *self, const char *name, size_t name_len, const char *why,
                         int64_t now);
//  True while a match, a loan or held credit refers to the service: it
//  must not be forgotten, or its matches and credit would be lost.
bool spw_cloud_uses_service(spw_edge_t *self, spw_service_t *service);

//  The names of the lenders cut off now (at most max), for the hub to match
//  us with others meanwhile. Returns how many.
size_t spw_cloud_cut_lenders(const spw_edge_t *self, const char **names, size_t max,
                             int64_t now);
//  Forgets what the links hold of a service about to be freed.
void spw_cloud_forget_service(spw_edge_t *self, spw_service_t *service);
//  The links' heartbeat: leases, returns, liveness, idle links.
void spw_cloud_tick(spw_edge_t *self, int64_t now);

//  The edge starts draining (self->stopping is set): its borrowers' tasks
//  still waiting go back busy, and every credit offered is revoked.
void spw_cloud_drain(spw_edge_t *self, int64_t now);
//  Takes a delegated task off its lender's in-flight list.
void spw_cloud_detach(spw_edge_t *self, spw_task_t *task);


#endif
