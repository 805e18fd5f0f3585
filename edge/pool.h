//  pool.h: the edge's workers and the services they offer.
//
//  A worker takes up to its slots tasks at once (1 for seed REQ workers; a
//  native worker says how many in READY). A service holds the workers that
//  have a free slot in buckets by how many slots they have busy, each
//  bucket in least-recently-used order: the next task goes to the least
//  loaded worker, among equals the one that has waited longest (as in the
//  Guide's load balancing broker when every worker has one slot). Workers
//  are found by their routing identity in O(1); freeing a slot or taking
//  one is O(1) but for a scan over at most SPW_MAX_SLOTS empty buckets. Services are created when a worker first offers one and are
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
    SPW_WORKER_NATIVE,  // DEALER speaking SPW2, with heartbeats
    SPW_WORKER_SEED,    // plain REQ: READY, then echoes envelopes; no heartbeat
} spw_worker_kind_t;

typedef struct {
    size_t len;
    uint8_t data[SPW_MAX_IDENTITY_LEN];
} spw_identity_t;

//  Makes a czmq hash table index its items by spw_identity_t keys that
//  live in the items (compared by content, neither copied nor freed).
typedef struct _zhashx_t zhashx_t;
void spw_identity_index(zhashx_t *table);

struct spw_service_t {
    char name[SPW_MAX_SERVICE_LEN + 1];
    spw_queue_t queue;
    //  Workers with a free slot, by busy slots, each list LRU first.
    spw_pool_worker_t *free_head[SPW_MAX_SLOTS], *free_tail[SPW_MAX_SLOTS];
    uint32_t least_busy;  // no bucket below it holds a worker
    size_t workers;   // connected workers offering it
    size_t slots;     // their slots in all
    size_t idle;      // free slots
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
    uint32_t slots;        // tasks it takes at once
    uint32_t busy;         // slots taken: its tasks, and tasks that ended here
                           // (timed out) that it has not answered yet
    spw_task_t *tasks;     // the tasks it runs (linked by their prev/next)
    uint32_t running;      // how many
    bool idle;             // it has a free slot: in one of its service's buckets
    int64_t expires;       // ms: dead if silent (native) or not done (seed) by then
    char key[48];          // with CURVE: its key (Z85), whose slots count it
    uint32_t key_slots;    // the slots counted under key (0: none)
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

//  Adds a worker of one slot, busy, for service. NULL if the pool is full or
//  the identity is already there.
spw_pool_worker_t *spw_pool_add(spw_pool_t *self, const void *identity, size_t len,
                                spw_worker_kind_t kind, spw_service_t *service);

//  A worker is ready with slots free slots (1 to SPW_MAX_SLOTS; what it had
//  busy is forgotten): it goes to the tail of the bucket of no busy slot.
void spw_pool_set_ready(spw_pool_t *self, spw_pool_worker_t *worker, uint32_t slots);

//  Takes a slot of the least loaded worker of service with a free slot
//  (the least recently used among equals), or NULL if none has one.
spw_pool_worker_t *spw_pool_take_idle(spw_pool_t *self, spw_service_t *service);

//  One of a worker's busy slots is free again (it answered); nothing if it
//  had none busy.
void spw_pool_free_slot(spw_pool_t *self, spw_pool_worker_t *worker);

//  Removes a worker and frees it. Its tasks, if any, are the caller's to
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
