//  edge_impl.h: the edge's state, shared by the loop (edge.c), the hub link
//  (hublink.c) and the cloud links (cloud.c): types only. Not a public
//  header: these three files are one program split by concern, and each
//  declares its functions in a header of its own, which include this one
//  and no other's: life.h (edge.c: the life of a task), cloud.h, hublink.h.
//  The loop includes all three; hublink.c includes cloud.h and life.h;
//  cloud.c includes life.h only.

#ifndef SPW_EDGE_IMPL_H_INCLUDED
#define SPW_EDGE_IMPL_H_INCLUDED

#include "edge.h"
#include "clients.h"
#include "credit.h"
#include "pool.h"
#include "tasks.h"

#include "spw_connections.h"
#include "spw_curve.h"
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
    uint64_t epoch;        // its process, from the hub's MATCH (0: not known)
    //  The circuit breaker: a lender that answers only busy, or holds our
    //  tasks and answers none, is cut off a while (its credit unused).
    int64_t answered;      // last DONE from it, or when it got a task holding none
    uint32_t busy_run;     // busy answers in a row
    int64_t cut_until;     // its credit is not used before this
    int64_t cut_ms;        // the last cut's length (0: it has healed); doubles
    int64_t revoked_at;    // its latest REVOKE: busy answers just after it are expected
} spw_peer_t;

//  Borrowing: "the hub says lender name, at endpoint, will lend us service".
typedef struct {
    spw_service_t *service;
    char name[SPW_MAX_NAME_LEN + 1];
    char endpoint[SPW_MAX_ENDPOINT_LEN + 1];
    uint64_t epoch;
    uint32_t slots_milli;  // the hub's share of its workers for us
} spw_lender_t;

//  Lending: an edge we lend to, known by its name; its ROUTER identity on
//  our cloud socket comes with its HELLO (or its first task).
typedef struct spw_borrower_t {
    bool used;
    char name[SPW_MAX_NAME_LEN + 1];
    spw_identity_t identity;   // len 0: no route to it yet
    uint64_t epoch;            // its process, from the hub's MATCH (0: not known)
    int64_t heard;
    size_t tasks;              // its tasks in our table: the slot is not reused
} spw_borrower_t;

typedef enum { SPW_HUB_OFF, SPW_HUB_REGISTERING, SPW_HUB_JOINED } spw_hub_state_t;

struct spw_edge_t {
    spw_edge_config_t config;
    void *ctx;
    spw_curve_t *curve;            // NULL: plaintext (no curve_dir)
    struct spw_http_t *http;       // NULL: no http endpoint (metrics.c)
    struct spw_edge_metrics_t *metrics;  // its histograms and byte counts (metrics.c)
    spw_curve_keys_t curve_keys;   // this edge's keys, to serve with
    void *frontend;
    void *backend;
    spw_pool_t *pool;
    spw_tasks_t *tasks;
    spw_clients_t *clients;  // tasks per client, for max_client_tasks
    spw_clients_t *key_slots;  // with CURVE: workers' slots per key, for max_key_slots
    //  The bound sockets' connections (frontend, backend, cloud), each
    //  kept under max_connections.
    spw_connections_t *listeners[3];
    size_t listener_count;
    int64_t started;
    int64_t next_heartbeat;
    int64_t liveness_ms;
    spw_drops_t frontend_drops;
    spw_drops_t backend_drops;
    spw_drops_t hub_drops;
    spw_drops_t cloud_drops;
    bool fatal;  // stop the loop and exit non-zero (refused by the hub)
    bool stopping;  // draining or shutting down: nothing more is lent
    bool draining;  // lame duck: no new native tasks; stops when it holds none
    int64_t drain_until;  // ms: when a drain stops waiting for what it holds
    int64_t now;    // ms, the loop's time this turn
    struct {
        uint64_t accepted, done, task_errors, timeouts, failed, overloaded, no_service,
            bad_requests, too_large, forbidden, handshakes_refused, lenders_cut, requeued, late_replies, unroutable, workers_lost, delegated_out,
            delegated_in, busy, served_by_others;
    } stats;
    //  Peers declared silent for liveness x heartbeat (a metric, by peer).
    struct {
        uint64_t workers, lenders, hubs;
    } silent;

    //  Hub link (hublink.c). With several hubs the edge uses one at a time
    //  (control), probes the others, and moves when its hub goes silent.
    void *control;          // DEALER to the active hub; NULL when standalone
    void *hubs[SPW_ENDPOINT_LIST];                     // one DEALER per hub
    char hub_endpoints[SPW_ENDPOINT_LIST][SPW_ENDPOINT_MAX];
    int64_t hub_answered[SPW_ENDPOINT_LIST];  // a standby's last answer to a probe
    int64_t hub_up_since[SPW_ENDPOINT_LIST];  // ... answering without a gap since (0: not)
    size_t hub_count;
    size_t hub_active;      // hubs[hub_active] is control
    spw_hub_state_t hub_state;
    uint64_t epoch;
    char advertise[SPW_ENDPOINT_MAX];
    int64_t hub_heard;
    int64_t hub_liveness_ms;
    int64_t hub_heartbeat_ms;  // the hub's interval, from WELCOME
    int64_t next_hub_beat;
    int64_t next_register;
    int64_t refused_since;
    int64_t matches_until;     // hub lost: matches stand until then (0: no limit)
    bool state_dirty;
    bool avoid_changed;  // a lender was cut off: the hub must hear it now
    int64_t state_sent;
    int64_t settles_at;  // ms: when a service's new role settles, to tell (0: none)
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

#endif
