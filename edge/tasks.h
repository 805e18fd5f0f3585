//  tasks.h: the edge's task table, where the origin keeps every task it has
//  accepted until exactly one reply has gone to the client.
//
//  A task is found by its key, which the edge puts on the wire to workers
//  (and later to other edges): the low 32 bits are the slot, the high 32 a
//  random tag drawn anew each time the slot is used, so that a late or
//  duplicate reply for a finished task finds nothing and a key cannot be
//  guessed from another one seen. Slots are allocated once, at
//  the table's limit; adding, finding and removing are O(1), and deadlines
//  sit in a binary heap so the next one to expire is O(1) to see and
//  O(log n) to remove. The table owns the frames a task holds.

#ifndef SPW_EDGE_TASKS_H_INCLUDED
#define SPW_EDGE_TASKS_H_INCLUDED

#include "spw_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct spw_tasks_t spw_tasks_t;
typedef struct spw_service_t spw_service_t;
typedef struct spw_pool_worker_t spw_pool_worker_t;

typedef enum {
    SPW_TASK_LOOSE,    // held by neither a queue nor a worker (in passing)
    SPW_TASK_QUEUED,   // waiting in its service's queue
    SPW_TASK_RUNNING,  // handed to a worker, which points back at it
    SPW_TASK_DELEGATED,  // sent to another edge, in that peer's in-flight list
} spw_task_state_t;

typedef enum {
    SPW_CLIENT_NATIVE,  // DEALER speaking SPW2: replies carry id and status
    SPW_CLIENT_SEED,    // plain REQ: replies are the body alone
    SPW_CLIENT_PEER,    // another edge delegated it: replies are DONE
} spw_client_kind_t;

typedef struct spw_task_t spw_task_t;
struct spw_task_t {
    uint64_t key;
    spw_task_state_t state;
    spw_client_kind_t client_kind;
    zmq_msg_t client;            // the client's routing identity
    uint64_t request_id;         // native clients' id, echoed in the reply
    spw_service_t *service;
    int64_t accepted;            // ms, when the edge took it
    int64_t deadline;            // ms; the client gets 'timeout' after it
    int64_t started;             // ms, when first handed to a worker or a lender (0: not yet)
    int attempts;                // times handed to a worker
    spw_pool_worker_t *worker;   // RUNNING: who has it
    struct spw_peer_t *peer;     // DELEGATED: which edge has it
    struct spw_borrower_t *borrower;  // client_kind PEER: the edge it is lent to
    size_t body_count;
    zmq_msg_t body[SPW_MAX_BODY_FRAMES];
    //  Links of the service queue (queue.c) and the deadline heap.
    spw_task_t *prev, *next;
    size_t heap_index;
};

//  Creates a table of at most max_tasks tasks. NULL if out of memory.
spw_tasks_t *spw_tasks_new(size_t max_tasks);

//  Destroys the table and every task's frames; nulls the pointer.
void spw_tasks_destroy(spw_tasks_t **self_p);

//  Takes a free slot for a new task due at deadline, or NULL when full.
//  The task is zeroed except for its key and deadline; its frames are empty.
spw_task_t *spw_tasks_add(spw_tasks_t *self, int64_t deadline);

//  Finds a live task by key; NULL for a finished or unknown key.
spw_task_t *spw_tasks_find(spw_tasks_t *self, uint64_t key);

//  Frees the task's slot and closes its frames; its key stops matching.
void spw_tasks_remove(spw_tasks_t *self, spw_task_t *task);

//  The task with the earliest deadline if that deadline is <= now, else NULL.
spw_task_t *spw_tasks_expired(spw_tasks_t *self, int64_t now);

//  The earliest deadline of any task, or INT64_MAX when there is none.
int64_t spw_tasks_next_deadline(spw_tasks_t *self);

//  Tasks in the table, and its limit.
size_t spw_tasks_size(spw_tasks_t *self);
size_t spw_tasks_limit(spw_tasks_t *self);

#endif
