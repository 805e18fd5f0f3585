//  pool.c: workers by identity and services by name (see pool.h).
//
//  Both lookups are czmq hash tables. The identity table keys on the
//  spw_identity_t inside each worker, so inserting copies nothing and a
//  lookup only builds a key on the stack. Every worker is also on one list
//  of all workers, for the timer's expiry scan and heartbeats.

#include "pool.h"

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

static size_t identity_hash(const void *key)
{
    const spw_identity_t *id = key;
    size_t hash = 14695981039346656037u;  // FNV-1a
    for (size_t i = 0; i < id->len; i++)
        hash = (hash ^ id->data[i]) * 1099511628211u;
    return hash;
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
    zhashx_set_key_hasher(self->workers, identity_hash);
    zhashx_set_key_comparator(self->workers, identity_compare);
    zhashx_set_key_duplicator(self->workers, NULL);
    zhashx_set_key_destructor(self->workers, NULL);
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
    return worker;
}

static void unlink_idle(spw_pool_worker_t *worker)
{
    spw_service_t *service = worker->service;
    if (worker->idle_prev)
        worker->idle_prev->idle_next = worker->idle_next;
    else
        service->idle_head = worker->idle_next;
    if (worker->idle_next)
        worker->idle_next->idle_prev = worker->idle_prev;
    else
        service->idle_tail = worker->idle_prev;
    worker->idle_prev = worker->idle_next = NULL;
    worker->idle = false;
    service->idle--;
}

void spw_pool_set_idle(spw_pool_t *self, spw_pool_worker_t *worker)
{
    (void) self;
    if (worker->idle)
        return;
    spw_service_t *service = worker->service;
    worker->idle_next = NULL;
    worker->idle_prev = service->idle_tail;
    if (service->idle_tail)
        service->idle_tail->idle_next = worker;
    else
        service->idle_head = worker;
    service->idle_tail = worker;
    worker->idle = true;
    service->idle++;
}

spw_pool_worker_t *spw_pool_take_idle(spw_pool_t *self, spw_service_t *service)
{
    (void) self;
    spw_pool_worker_t *worker = service->idle_head;
    if (worker)
        unlink_idle(worker);
    return worker;
}

void spw_pool_remove(spw_pool_t *self, spw_pool_worker_t *worker)
{
    if (worker->idle)
        unlink_idle(worker);
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
