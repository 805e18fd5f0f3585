//  edge_impl.h: the edge's state, shared by the loop (edge.c), the hub link
//  (hublink.c) and the cloud links (cloud.c). Not a public header: these
//  three files are one program split by concern.

#ifndef SPW_EDGE_IMPL_H_INCLUDED
#define SPW_EDGE_IMPL_H_INCLUDED

#include "edge.h"
#include "credit.h"
#include "pool.h"
#include "tasks.h"

#include "spw_proto.h"
#include "spw_socket.h"

//  Most lenders this edge holds links to at once, borrowers it lends to,
//  and lenders the hub has matched it with (per service).
#define SPW_EDGE_MAX_PEERS     64
#define SPW_EDGE_MAX_BORROWERS 64
#define SPW_EDGE_MAX_LENDERS   256

//  Borrowing: a link to a lender, a DEALER to its cloud ROUTER, opened when
//  the hub first matches us with it. Tasks we send it wait for DONE here.
typedef struct spw_peer_t {
    char name[SPW_MAX_NAME_LEN + 1];
    char endpoint[SPW_MAX_ENDPOINT_LEN + 1];
    void *socket;          // DEALER to the peer's cloud ROUTER
    spw_queue_t inflight;  // tasks delegated to it, awaiting DONE
    int64_t heard;         // last message from it
    int64_t used;          // last task sent to it
    uint32_t lease_ms;     // of its latest CREDIT, for the credit DONE renews
} spw_peer_t;

//  Borrowing: "the hub says lender name, at endpoint, will lend us service".
typedef struct {
    spw_service_t *service;
    char name[SPW_MAX_NAME_LEN + 1];
    char endpoint[SPW_MAX_ENDPOINT_LEN + 1];
} spw_lender_t;

//  Lending: an edge we lend to, known by its name; its ROUTER identity on
//  our cloud socket comes with its HELLO (or its first task).
typedef struct spw_borrower_t {
    bool used;
    char name[SPW_MAX_NAME_LEN + 1];
    spw_identity_t identity;   // len 0: no route to it yet
    int64_t heard;
    size_t tasks;              // its tasks in our table: the slot is not reused
} spw_borrower_t;

typedef enum { SPW_HUB_OFF, SPW_HUB_REGISTERING, SPW_HUB_JOINED } spw_hub_state_t;

struct spw_edge_t {
    spw_edge_config_t config;
    void *ctx;
    void *frontend;
    void *backend;
    spw_pool_t *pool;
    spw_tasks_t *tasks;
    int64_t started;
    int64_t next_heartbeat;
    int64_t liveness_ms;
    spw_drops_t frontend_drops;
    spw_drops_t backend_drops;
    spw_drops_t hub_drops;
    spw_drops_t cloud_drops;
    bool fatal;  // stop the loop and exit non-zero (refused by the hub)
    bool stopping;  // shutting down: nothing more is lent
    int64_t now;    // ms, the loop's time this turn
    struct {
        uint64_t accepted, done, task_errors, timeouts, failed, overloaded, no_service,
            bad_requests, requeued, late_replies, unroutable, workers_lost, delegated_out,
            delegated_in, busy, served_remote;
    } stats;

    //  Hub link (hublink.c).
    void *control;          // DEALER to the hub; NULL when standalone
    spw_hub_state_t hub_state;
    uint64_t epoch;
    char advertise[SPW_ENDPOINT_MAX];
    int64_t hub_heard;
    int64_t hub_liveness_ms;
    int64_t hub_heartbeat_ms;  // the hub's interval, from WELCOME
    int64_t next_hub_beat;
    int64_t next_register;
    int64_t refused_since;
    bool state_dirty;
    int64_t state_sent;
    spw_service_figures_t *figures;  // max_services, for STATE messages

    //  Cloud links (cloud.c).
    void *cloud;            // ROUTER where borrowers send us tasks
    spw_credit_t *credit;   // what we lend and what we may borrow
    uint32_t depth;         // credits and tasks out per lent worker: 1 + prefetch
    spw_peer_t *peers[SPW_EDGE_MAX_PEERS];
    size_t peer_count;
    spw_lender_t lenders[SPW_EDGE_MAX_LENDERS];
    size_t lender_count;
    spw_borrower_t borrowers[SPW_EDGE_MAX_BORROWERS];
};

//  edge.c: the task life cycle, used by the links too.
void spw_edge_drop(spw_edge_t *self, spw_drops_t *drops, const spw_msg_t *msg, const char *why,
                   int64_t now);
void spw_edge_finish(spw_edge_t *self, spw_task_t *task, spw_status_t status, spw_msg_t *body,
                     size_t first, size_t count, const char *reason);
void spw_edge_requeue(spw_edge_t *self, spw_task_t *task, const char *why, bool count_attempt,
                      int64_t now);
void spw_edge_dispatch(spw_edge_t *self, spw_service_t *service, int64_t now);
spw_task_t *spw_edge_new_task(spw_edge_t *self, spw_msg_t *msg, spw_client_kind_t kind,
                              uint64_t request_id, spw_service_t *service,
                              int64_t deadline, size_t body_first, size_t body_count,
                              int64_t now);

//  hublink.c
int spw_hublink_start(spw_edge_t *self, char *err, size_t errlen);
void spw_hublink_on_control(spw_edge_t *self, spw_msg_t *msg, int64_t now);
void spw_hublink_tick(spw_edge_t *self, int64_t now);
//  Publishes the state: always, or only if it changed materially.
void spw_hublink_publish(spw_edge_t *self, bool always, int64_t now);
bool spw_hublink_joined(spw_edge_t *self);
void spw_hublink_stop(spw_edge_t *self);

//  cloud.c
int spw_cloud_start(spw_edge_t *self, char *err, size_t errlen);
void spw_cloud_stop(spw_edge_t *self);
//  A message on our cloud ROUTER (from a borrower), or on a lender link.
void spw_cloud_on_request(spw_edge_t *self, spw_msg_t *msg, int64_t now);
void spw_cloud_on_peer(spw_edge_t *self, spw_peer_t *peer, spw_msg_t *msg, int64_t now);
//  The hub's MATCH for a service: whom we lend to, whom we borrow from.
void spw_cloud_match(spw_edge_t *self, spw_service_t *service, const spw_proto_t *match,
                     int64_t now);
//  Forgets every match (the hub is gone or forgot us); credit already
//  offered or held runs out its lease.
void spw_cloud_unmatch_all(spw_edge_t *self);
//  Sends waiting tasks of a service to lenders we hold credit from.
void spw_cloud_delegate(spw_edge_t *self, spw_service_t *service, int64_t now);
void spw_cloud_delegate_all(spw_edge_t *self, int64_t now);
//  Offers or revokes credit of a service after its local load changed.
void spw_cloud_lend(spw_edge_t *self, spw_service_t *service, int64_t now);
//  A borrower's task we held is finished: releases its credit and returns
//  the credit renewed for that borrower, to ride on the DONE.
uint32_t spw_cloud_release(spw_edge_t *self, spw_task_t *task, int64_t now);
void spw_cloud_peer_gone(spw_edge_t *self, const char *name, size_t name_len, const char *why,
                         int64_t now);
void spw_cloud_forget_service(spw_edge_t *self, spw_service_t *service);
void spw_cloud_tick(spw_edge_t *self, int64_t now);
void spw_cloud_detach(spw_edge_t *self, spw_task_t *task);

#endif
