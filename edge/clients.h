//  clients.h: the tasks each client holds at this edge, to bound them.
//
//  One client (a connection to the frontend, known by its routing
//  identity) may hold at most max_client_tasks tasks at once; past that its
//  requests are answered overloaded. A client is in the table while it
//  holds a task, so the table is no larger than the task table. Lookups
//  are by hash (czmq's zhashx), O(1).

#ifndef SPW_EDGE_CLIENTS_H_INCLUDED
#define SPW_EDGE_CLIENTS_H_INCLUDED

#include "pool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct spw_clients_t spw_clients_t;

//  NULL if out of memory.
spw_clients_t *spw_clients_new(void);
void spw_clients_destroy(spw_clients_t **self_p);

//  Counts one more task of the client with this identity (len at most
//  SPW_MAX_IDENTITY_LEN). False, and nothing counted, if it holds limit
//  already or memory is out.
bool spw_clients_add(spw_clients_t *self, const void *identity, size_t len, uint32_t limit);

//  One of its tasks ended.
void spw_clients_remove(spw_clients_t *self, const void *identity, size_t len);

//  The same for n at once (an edge counts its workers' slots per key this
//  way): add_n counts n more unless the count would pass limit.
bool spw_clients_add_n(spw_clients_t *self, const void *identity, size_t len, uint32_t n,
                       uint32_t limit);
void spw_clients_remove_n(spw_clients_t *self, const void *identity, size_t len, uint32_t n);

//  Tasks the client holds now.
uint32_t spw_clients_tasks(const spw_clients_t *self, const void *identity, size_t len);

//  Clients that hold a task.
size_t spw_clients_size(const spw_clients_t *self);

#endif
