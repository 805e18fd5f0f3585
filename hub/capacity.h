//  capacity.h: the hub's capacity table, what it believes about every edge.
//
//  One record per edge name: the incarnation (epoch, random per process
//  start), where peers reach it (cloud endpoint), its zone, when it was last
//  heard, and per service the figures its last state message reported:
//  workers, idle, queued, running, recent rate, and the lending by credit in
//  progress (lent, borrowed). A state message replaces all of them, and the
//  table derives nothing from them. That is enough because the hub decides
//  nothing per task: it matches lenders with borrowers on these figures
//  (hub/match.h), and a lender offers credit only from its own idle slots,
//  so a figure one report old skews a matching until the next report but
//  never over-commits an edge. Invariants: a record's service names are
//  non-empty and distinct, idle is at most workers, and rate is a number
//  >= 0.
//
//  Records live in slots allocated once at the table's limit, so a record
//  pointer stays valid until a register or forget call (which may reuse a
//  dead record's slot). Lookups by edge name and by service are hashed, so
//  no call but expire and the iteration of status grows with the number of
//  edges. Nothing here touches a socket or the clock: callers pass times
//  in (ms, any monotonic origin).

#ifndef SPW_HUB_CAPACITY_H_INCLUDED
#define SPW_HUB_CAPACITY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPW_CAPACITY_NAME_MAX     64    // edge and service names, bytes
#define SPW_CAPACITY_AVOID_MAX    8     // lenders one edge may avoid (SPW_MAX_AVOID)
#define SPW_CAPACITY_ZONE_MAX     64
#define SPW_CAPACITY_ENDPOINT_MAX 255

typedef struct spw_capacity_t spw_capacity_t;

typedef struct {
    char name[SPW_CAPACITY_NAME_MAX + 1];
    uint32_t workers, idle, queued, running;
    double rate;        // tasks/s recently served
    //  Lending by credit (hub/match.h), as the edge reports them: tasks of
    //  other edges its workers run now (its slots on loan), and its own
    //  tasks in flight at other edges now.
    uint32_t lent, borrowed;
    uint8_t role;        // the edge's settled role in lending (spw_role_t)
    //  The table's own bookkeeping (its service index); callers ignore
    //  them, and what they pass in them to an update is overwritten.
    bool indexed, offers;
    size_t index_at;
    //  The matcher's marks (hub/match.c): under the stamp of the matching
    //  in progress, the record's place among its lenders or borrowers.
    uint64_t match_stamp;
    size_t match_at;
    bool match_lends;
} spw_service_state_t;

//  One edge as the hub sees it. Read-only to callers: only register and
//  update change it.
typedef struct {
    char name[SPW_CAPACITY_NAME_MAX + 1];
    uint64_t epoch;
    char endpoint[SPW_CAPACITY_ENDPOINT_MAX + 1];   // cloud address peers use (advertise)
    char zone[SPW_CAPACITY_ZONE_MAX + 1];           // may be empty
    int64_t registered_at;  // ms
    int64_t last_heard;     // ms
    bool alive;
    uint64_t delegated_out, delegated_in;   // as reported by the edge, for status
    size_t service_count;
    spw_service_state_t *services;          // service_count of them (services_allocated held)
    size_t services_allocated;
    bool reported;                          // it sent a state since it registered
    //  Lenders it cut off (its circuit breaker), which it must not be
    //  matched with, as its last state said.
    char avoid[SPW_CAPACITY_AVOID_MAX][SPW_CAPACITY_NAME_MAX + 1];
    size_t avoid_count;
    //  It is draining (its last state said): it lends nothing and leaves
    //  once what it holds is done.
    bool draining;
    //  The caller's own (the hub loop's peer), NULL when the record is made.
    void *loop;
} spw_edge_state_t;

typedef enum {
    SPW_REG_NEW,         // unknown name, or a dead record of that name: a fresh record
    SPW_REG_SAME,        // same name and epoch: record kept, endpoint and zone updated
    SPW_REG_RESTARTED,   // same name, new epoch, old one silent beyond hold_ms: old state forgotten
    SPW_REG_NAME_TAKEN,  // same name, new epoch, old one heard within hold_ms: refused
    SPW_REG_FULL,        // max_edges live records and none dead to evict: refused
    SPW_REG_INVALID,     // name empty or too long, endpoint or zone too long: refused
} spw_reg_result_t;

//  Creates a table of at most max_edges edges with max_services services
//  each. NULL if out of memory or a limit is 0.
spw_capacity_t *spw_capacity_new(size_t max_edges, size_t max_services);

//  Destroys the table and every record; nulls the pointer. Safe on NULL.
void spw_capacity_destroy(spw_capacity_t **self_p);

//  Registers an edge (see spw_reg_result_t). *edge_out (if edge_out is not
//  NULL) gets the edge's record on NEW, SAME and RESTARTED, the live holder's
//  record on NAME_TAKEN (for the log line), NULL otherwise. endpoint and
//  zone may be NULL (empty).
spw_reg_result_t spw_capacity_register(spw_capacity_t *self, const char *name, uint64_t epoch,
                                       const char *endpoint, const char *zone, int64_t now,
                                       int64_t hold_ms, spw_edge_state_t **edge_out);

//  A state message: replaces the edge's service list with a copy of services
//  (idle is capped at workers, a negative or NaN rate reads as 0; lent and
//  borrowed are taken as reported), records the counters and sets
//  last_heard. -1 if name/epoch is not a live registered edge, count >
//  max_services, or a service name is empty, unterminated or repeated;
//  nothing changes then.
int spw_capacity_update(spw_capacity_t *self, const char *name, uint64_t epoch,
                        const spw_service_state_t *services, size_t count,
                        uint64_t delegated_out, uint64_t delegated_in, int64_t now);

//  The lenders the edge's last state says it cut off (count at most
//  SPW_CAPACITY_AVOID_MAX; longer names are cut). -1 if name/epoch is not a
//  live registered edge.
int spw_capacity_avoid(spw_capacity_t *self, const char *name, uint64_t epoch,
                       const char *const *names, const size_t *lens, size_t count);

//  Whether the edge is draining, as its last state said. -1 if name/epoch is
//  not a live registered edge.
int spw_capacity_set_draining(spw_capacity_t *self, const char *name, uint64_t epoch,
                              bool draining);

//  True if borrower asked not to be matched with lender.
bool spw_capacity_avoids(const spw_edge_state_t *borrower, const spw_edge_state_t *lender);

//  A heartbeat: sets last_heard. -1 if name/epoch is not a live registered edge.
int spw_capacity_heard(spw_capacity_t *self, const char *name, uint64_t epoch, int64_t now);

//  Marks live edges silent for more than silence_ms as dead and puts up to
//  max_dead of them in dead[]; the rest stay alive until a later call
//  returns them, so each dead edge is returned once.
//  The pointers stay valid until the next register or forget call.
size_t spw_capacity_expire(spw_capacity_t *self, int64_t now, int64_t silence_ms,
                           spw_edge_state_t **dead, size_t max_dead);

//  Removes an edge's record (an edge that said goodbye).
//  Does nothing for an unknown name.
void spw_capacity_forget(spw_capacity_t *self, const char *name);

//  The record of an edge (alive or dead), or NULL.
spw_edge_state_t *spw_capacity_find(spw_capacity_t *self, const char *name);

//  Records held, alive and dead, and the i-th of them (NULL past the end),
//  for status. Register and forget may change the order.
size_t spw_capacity_count(spw_capacity_t *self);
spw_edge_state_t *spw_capacity_at(spw_capacity_t *self, size_t i);

//  The edge's record of a service, or NULL if it does not offer it.
spw_service_state_t *spw_capacity_service(spw_edge_state_t *edge, const char *service);

//  One service of one live edge in the service index:
//  edge->services[service].
typedef struct {
    spw_edge_state_t *edge;
    size_t service;
} spw_capacity_entry_t;

//  The live edges that take part in a service's matching: those whose last
//  state gives it a role (lender or borrower) or tasks queued; *entries
//  gets them (valid until the next call that changes the table). O(1).
size_t spw_capacity_taking_part(const spw_capacity_t *self, const char *service,
                                const spw_capacity_entry_t **entries);

//  Live edges whose last state lists workers for the service. O(1).
size_t spw_capacity_offering(const spw_capacity_t *self, const char *service);

//  Live edges (alive records). O(1).
size_t spw_capacity_live(const spw_capacity_t *self);

//  Live edges that have sent no state since they registered. O(1).
size_t spw_capacity_unreported(const spw_capacity_t *self);

//  The services some live edge offers or takes part in, one at a time
//  (NULL after the last); any change to the table ends the walk.
const char *spw_capacity_first_service(spw_capacity_t *self);
const char *spw_capacity_next_service(spw_capacity_t *self);

#endif
