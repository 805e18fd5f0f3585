//  pool.c: workers by identity and services by name (see pool.h).
//
//  Both lookups are czmq hash tables. The identity table keys on the
//  spw_identity_t inside each worker, so inserting copies nothing and a
//  lookup only builds a key on the stack. Every worker is also on one list
//  of all workers, for the timer's expiry scan and heartbeats.

#include "pool.h"

#include "spw_random.h"

#include <czmq.h>
#include <string.h>

struct spw_pool_t {
    zhashx_t *workers;    // spw_identity_t * -> spw_pool_worker_t *
    zhashx_t *services;   // name -> spw_service_t *
    spw_pool_worker_t *all_head;
    size_t worker_count;
    size_t max_workers;
    size_t max_services;
    size_t queue_max;
};

static size_t identity_hash(const void *key);
static int identity_compare(const void *a, const void *b);

void spw_identity_index(zhashx_t *table)
{
    zhashx_set_key_hasher(table, identity_hash);
    zhashx_set_key_comparator(table, identity_compare);
    zhashx_set_key_duplicator(table, NULL);
    zhashx_set_key_destructor(table, NULL);
}

static size_t identity_hash(const void *key)
{
    const spw_identity_t *id = key;
    return (size_t) spw_hash_bytes(id->data, id->len);
}

static int identity_compare(const void *a, const void *b)
{
    const spw_identity_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->data, y->data, x->len);
}

static void free_service(void **item)
{
    free(*item);
    *item = NULL;
}

spw_pool_t *spw_pool_new(size_t max_workers, size_t max_services, size_t queue_max)
{
    spw_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->workers = zhashx_new();
    self->services = zhashx_new();
    if (!self->workers || !self->services) {
        spw_pool_destroy(&self);
        return NULL;
    }
    spw_identity_index(self->workers);
    zhashx_set_destructor(self->services, free_service);
    self->max_workers = max_workers;
    self->max_services = max_services;
    self->queue_max = queue_max;
    return self;
}

void spw_pool_destroy(spw_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_pool_t *self = *self_p;
    while (self->all_head)
        spw_pool_remove(self, self->all_head);
    zhashx_destroy(&self->workers);
    zhashx_destroy(&self->services);
    free(self);
    *self_p = NULL;
}

spw_service_t *spw_pool_service(spw_pool_t *self, const char *name, size_t len, bool create)
{
    char key[SPW_MAX_SERVICE_LEN + 1];
    if (len == 0 || len > SPW_MAX_SERVICE_LEN)
        return NULL;
    memcpy(key, name, len);
    key[len] = 0;
    spw_service_t *service = zhashx_lookup(self->services, key);
    if (service || !create || zhashx_size(self->services) >= self->max_services)
        return service;
    service = calloc(1, sizeof *service);
    if (!service)
        return NULL;
    memcpy(service->name, key, len + 1);
    spw_queue_init(&service->queue, self->queue_max);
    zhashx_insert(self->services, key, service);
    return service;
}

int spw_pool_forget_service(spw_pool_t *self, spw_service_t *service)
{
    if (service->workers || service->queue.size || service->running || service->delegated)
        return -1;
    char name[SPW_MAX_SERVICE_LEN + 1];
    memcpy(name, service->name, sizeof name);
    zhashx_delete(self->services, name);  // its destructor frees it
    return 0;
}

void spw_pool_each_service(spw_pool_t *self, void (*fn)(spw_service_t *, void *), void *arg)
{
    for (spw_service_t *service = zhashx_first(self->services); service;
         service = zhashx_next(self->services))
        fn(service, arg);
}

spw_pool_worker_t *spw_pool_find(spw_pool_t *self, const void *identity, size_t len)
{
    spw_identity_t key;
    if (len > SPW_MAX_IDENTITY_LEN)
        return NULL;
    key.len = len;
    memcpy(key.data, identity, len);
    return zhashx_lookup(self->workers, &key);
}

spw_pool_worker_t *spw_pool_add(spw_pool_t *self, const void *identity, size_t len,
                                spw_worker_kind_t kind, spw_service_t *service)
{
    if (self->worker_count >= self->max_workers || len > SPW_MAX_IDENTITY_LEN
        || spw_pool_find(self, identity, len))
        return NULL;
    spw_pool_worker_t *worker = calloc(1, sizeof *worker);
    if (!worker)
        return NULL;
    worker->identity.len = len;
    memcpy(worker->identity.data, identity, len);
    worker->kind = kind;
    worker->service = service;
    worker->slots = worker->busy = 1;  // one slot, busy until it is ready
    worker->expires = INT64_MAX;
    if (zhashx_insert(self->workers, &worker->identity, worker) != 0) {
        free(worker);
        return NULL;
    }
    worker->all_next = self->all_head;
    if (self->all_head)
        self->all_head->all_prev = worker;
    self->all_head = worker;
    self->worker_count++;
    service->workers++;
    service->slots++;
    return worker;
}

//  Takes a worker out of its bucket (it has a free slot no more, or its
//  busy slots change).
static void unlink_idle(spw_pool_worker_t *worker)
{
    spw_service_t *service = worker->service;
    uint32_t b = worker->busy;
    if (worker->idle_prev)
        worker->idle_prev->idle_next = worker->idle_next;
    else
        service->free_head[b] = worker->idle_next;
    if (worker->idle_next)
        worker->idle_next->idle_prev = worker->idle_prev;
    else
        service->free_tail[b] = worker->idle_prev;
    worker->idle_prev = worker->idle_next = NULL;
    worker->idle = false;
}

//  Puts a worker with a free slot at the tail of the bucket of its busy slots.
static void link_idle(spw_pool_worker_t *worker)
{
    if (worker->busy >= worker->slots)
        return;
    spw_service_t *service = worker->service;
    uint32_t b = worker->busy;
    worker->idle_next = NULL;
    worker->idle_prev = service->free_tail[b];
    if (service->free_tail[b])
        service->free_tail[b]->idle_next = worker;
    else
        service->free_head[b] = worker;
    service->free_tail[b] = worker;
    worker->idle = true;
    if (b < service->least_busy)
        service->least_busy = b;
}

void spw_pool_set_ready(spw_pool_t *self, spw_pool_worker_t *worker, uint32_t slots)
{
    (void) self;
    spw_service_t *service = worker->service;
    if (slots < 1)
        slots = 1;
    if (slots > SPW_MAX_SLOTS)
        slots = SPW_MAX_SLOTS;
    if (worker->idle && !worker->busy && worker->slots == slots)
        return;  // ready already: it keeps its place
    if (worker->idle)
        unlink_idle(worker);
    service->idle -= worker->slots - worker->busy;
    service->slots = service->slots - worker->slots + slots;
    worker->slots = slots;
    worker->busy = 0;
    service->idle += slots;
    link_idle(worker);
}

spw_pool_worker_t *spw_pool_take_idle(spw_pool_t *self, spw_service_t *service)
{
    (void) self;
    uint32_t b = service->least_busy;
    while (b < SPW_MAX_SLOTS && !service->free_head[b])
        b++;
    service->least_busy = b;
    if (b == SPW_MAX_SLOTS)
        return NULL;
    spw_pool_worker_t *worker = service->free_head[b];
    unlink_idle(worker);
    worker->busy++;
    service->idle--;
    link_idle(worker);
    return worker;
}

void spw_pool_free_slot(spw_pool_t *self, spw_pool_worker_t *worker)
{
    (void) self;
    if (!worker->busy)
        return;
    if (worker->idle)
        unlink_idle(worker);
    worker->busy--;
    worker->service->idle++;
    link_idle(worker);
}

void spw_pool_remove(spw_pool_t *self, spw_pool_worker_t *worker)
{
    if (worker->idle)
        unlink_idle(worker);
    worker->service->idle -= worker->slots - worker->busy;
    worker->service->slots -= worker->slots;
    worker->service->workers--;
    zhashx_delete(self->workers, &worker->identity);
    if (worker->all_prev)
        worker->all_prev->all_next = worker->all_next;
    else
        self->all_head = worker->all_next;
    if (worker->all_next)
        worker->all_next->all_prev = worker->all_prev;
    self->worker_count--;
    free(worker);
}

spw_pool_worker_t *spw_pool_expired(spw_pool_t *self, int64_t now)
{
    for (spw_pool_worker_t *worker = self->all_head; worker; worker = worker->all_next)
        if (worker->expires <= now)
            return worker;
    return NULL;
}

spw_pool_worker_t *spw_pool_first(spw_pool_t *self)
{
    return self->all_head;
}

spw_pool_worker_t *spw_pool_next(spw_pool_worker_t *worker)
{
    return worker->all_next;
}

size_t spw_pool_size(spw_pool_t *self)
{
    return self->worker_count;
}
