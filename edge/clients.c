//  clients.c: the tasks each client holds (see clients.h).

#include "clients.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    spw_identity_t identity;  // the key
    uint32_t tasks;
} spw_client_entry_t;

struct spw_clients_t {
    zhashx_t *table;  // spw_identity_t -> spw_client_entry_t
};

static void free_entry(void **item)
{
    free(*item);
    *item = NULL;
}

spw_clients_t *spw_clients_new(void)
{
    spw_clients_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->table = zhashx_new();
    if (!self->table) {
        free(self);
        return NULL;
    }
    spw_identity_index(self->table);
    zhashx_set_destructor(self->table, free_entry);
    return self;
}

void spw_clients_destroy(spw_clients_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->table);
    free(*self_p);
    *self_p = NULL;
}

//  The key of an identity, for lookups.
static spw_identity_t key_of(const void *identity, size_t len)
{
    spw_identity_t key;
    key.len = len < SPW_MAX_IDENTITY_LEN ? len : SPW_MAX_IDENTITY_LEN;
    memcpy(key.data, identity, key.len);
    return key;
}

bool spw_clients_add(spw_clients_t *self, const void *identity, size_t len, uint32_t limit)
{
    return spw_clients_add_n(self, identity, len, 1, limit);
}

bool spw_clients_add_n(spw_clients_t *self, const void *identity, size_t len, uint32_t n,
                       uint32_t limit)
{
    spw_identity_t key = key_of(identity, len);
    spw_client_entry_t *entry = zhashx_lookup(self->table, &key);
    if (entry) {
        if (n > limit - entry->tasks)  // tasks <= limit always
            return false;
        entry->tasks += n;
        return true;
    }
    if (n == 0 || n > limit || !(entry = malloc(sizeof *entry)))
        return false;
    entry->identity = key;
    entry->tasks = n;
    if (zhashx_insert(self->table, &entry->identity, entry) != 0) {
        free(entry);
        return false;
    }
    return true;
}

void spw_clients_remove(spw_clients_t *self, const void *identity, size_t len)
{
    spw_clients_remove_n(self, identity, len, 1);
}

void spw_clients_remove_n(spw_clients_t *self, const void *identity, size_t len, uint32_t n)
{
    spw_identity_t key = key_of(identity, len);
    spw_client_entry_t *entry = zhashx_lookup(self->table, &key);
    if (!entry)
        return;
    entry->tasks = n < entry->tasks ? entry->tasks - n : 0;
    if (entry->tasks == 0)
        zhashx_delete(self->table, &key);
}

uint32_t spw_clients_tasks(const spw_clients_t *self, const void *identity, size_t len)
{
    spw_identity_t key = key_of(identity, len);
    spw_client_entry_t *entry = zhashx_lookup(self->table, &key);
    return entry ? entry->tasks : 0;
}

size_t spw_clients_size(const spw_clients_t *self)
{
    return zhashx_size(self->table);
}
