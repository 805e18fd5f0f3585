//  pool.h: the edge's workers and the services they offer.
//
//  A service holds its idle workers in least-recently-used order (the head
//  has waited longest and gets the next task, as in the Guide's load
//  balancing broker) and its queue of waiting tasks. Workers are found by
//  their routing identity in O(1); making a worker idle or taking the LRU
//  one is O(1). Services are created when a worker first offers one and are
//  kept (with their queue) after their last worker leaves, so that tasks
//  wait for workers to come back. Both tables are bounded. Nothing here
//  touches a socket or the clock: callers pass times in.

#ifndef SPW_EDGE_POOL_H_INCLUDED
#define SPW_EDGE_POOL_H_INCLUDED

#include "queue.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct spw_pool_t spw_pool_t;

typedef enum {
    SPW_WORKER_NATIVE,  // DEALER speaking SPW1, with heartbeats
    SPW_WORKER_SEED,    // plain REQ: READY, then echoes envelopes; no heartbeat
} spw_worker_kind_t;

typedef struct {
    size_t len;
    uint8_t data[SPW_MAX_IDENTITY_LEN];
} spw_identity_t;

struct spw_service_t {
    char name[SPW_MAX_SERVICE_LEN + 1];
    spw_queue_t queue;
    spw_pool_worker_t *idle_head, *idle_tail;
    size_t workers;   // connected workers offering it
    size_t idle;
    size_t running;   // tasks handed to its workers
    uint64_t done;    // replies delivered for it
    bool offered;     // a local worker has offered it at some time
    size_t delegated; // tasks of it delegated to other edges, in flight
    size_t lent_running;  // other edges' tasks its workers run now
    size_t lent_queued;   // other edges' tasks waiting in its queue (prefetched)
    bool nobody;          // the hub says no live edge offers it
    int64_t local_at;     // ms: its own clients' latest task (0: none yet)
    uint32_t told_workers;  // what the hub was last told (hublink.c): workers,
    uint8_t told_spare, told_backlog;  // the magnitudes of spare and backlog,
    uint8_t told_role;      // and its settled role
    uint8_t role;           // its role in lending now (spw_role_t, hublink.c),
    int64_t role_since;     // ms: since when, without a break
    uint8_t settled_role;   // the last role that held SPW_ROLE_STEADY_MS
    uint64_t done_at_last_tick;  // for the recent service rate
    uint32_t rate_milli;         // tasks served per 1000 s, last tick
    int64_t last_busy;           // the last tick it had workers or tasks
};

struct spw_pool_worker_t {
    spw_identity_t identity;
    spw_worker_kind_t kind;
    spw_service_t *service;
    spw_task_t *task;      // the task it runs, or NULL
    bool idle;             // in its service's idle list
    int64_t expires;       // ms: dead if silent (native) or not done (seed) by then
    spw_pool_worker_t *idle_prev, *idle_next;
    spw_pool_worker_t *all_prev, *all_next;
};

//  Creates a pool of at most max_workers workers and max_services services,
//  each service queue holding at most queue_max tasks. NULL if out of memory.
spw_pool_t *spw_pool_new(size_t max_workers, size_t max_services, size_t queue_max);

//  Destroys the pool; nulls the pointer. Tasks are the task table's.
void spw_pool_destroy(spw_pool_t **self_p);

//  Finds a service by name; creates it if create is set. NULL if absent
//  (or the service table is full).
spw_service_t *spw_pool_service(spw_pool_t *self, const char *name, size_t len, bool create);

//  Removes a service that has no workers and no tasks (queued, running or
//  delegated) and frees it; -1 (and nothing done) otherwise.
int spw_pool_forget_service(spw_pool_t *self, spw_service_t *service);

//  Calls fn for each service, in no particular order.
void spw_pool_each_service(spw_pool_t *self, void (*fn)(spw_service_t *, void *), void *arg);

//  Finds a worker by routing identity; NULL if unknown.
spw_pool_worker_t *spw_pool_find(spw_pool_t *self, const void *identity, size_t len);

//  Adds a busy (not idle) worker for service. NULL if the pool is full or
//  the identity is already there.
spw_pool_worker_t *spw_pool_add(spw_pool_t *self, const void *identity, size_t len,
                                spw_worker_kind_t kind, spw_service_t *service);

//  Makes a worker idle: it goes to the tail (most recently used) of its
//  service's idle list.
void spw_pool_set_idle(spw_pool_t *self, spw_pool_worker_t *worker);

//  Takes the least recently used idle worker of service, or NULL.
spw_pool_worker_t *spw_pool_take_idle(spw_pool_t *self, spw_service_t *service);

//  Removes a worker and frees it. Its task, if any, is the caller's to
//  re-route before this call.
void spw_pool_remove(spw_pool_t *self, spw_pool_worker_t *worker);

//  A worker whose expiry is <= now, or NULL. O(workers): call it on a timer,
//  not per message.
spw_pool_worker_t *spw_pool_expired(spw_pool_t *self, int64_t now);

//  The first worker and the next one, to walk all workers (e.g. heartbeats).
spw_pool_worker_t *spw_pool_first(spw_pool_t *self);
spw_pool_worker_t *spw_pool_next(spw_pool_worker_t *worker);

//  Workers in the pool.
size_t spw_pool_size(spw_pool_t *self);

#endif
