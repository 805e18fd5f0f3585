//  capacity.c: the hub's capacity table (see capacity.h).
//
//  Edges sit in max_edges slots allocated once, each with its own array of
//  max_services service records, so no record moves while it is held. An
//  array of the slots in use (in registration order, compacted on removal)
//  serves iteration, and a stack of free slots serves registration. Lookup
//  by name is a linear scan: the table holds tens of edges and is consulted
//  per control message, not per task, so a hash would cost more than it
//  saves. A state message rewrites an edge's service records in place, in
//  the order reported: a pointer to one stays valid but may name another
//  service after the next update.

#include "capacity.h"

#include <stdlib.h>
#include <string.h>

struct spw_capacity_t {
    size_t max_edges, max_services;
    spw_edge_state_t *slots;           // max_edges records
    spw_service_state_t *service_pool; // max_edges * max_services, max_services per slot
    bool *slot_used;                   // per slot
    spw_edge_state_t **order;          // slots in use, count of them
    size_t count;
    spw_edge_state_t **free_slots;     // stack of unused slots
    size_t free_count;
};

//  True if text is a terminated string of at most max bytes (empty allowed).
static bool fits(const char *text, size_t max)
{
    return text && strnlen(text, max + 1) <= max;
}

static bool name_is_valid(const char *name)
{
    return fits(name, SPW_CAPACITY_NAME_MAX) && name[0] != '\0';
}

spw_capacity_t *spw_capacity_new(size_t max_edges, size_t max_services)
{
    if (max_edges == 0 || max_services == 0 || max_services > SIZE_MAX / max_edges)
        return NULL;
    spw_capacity_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->max_edges = max_edges;
    self->max_services = max_services;
    self->slots = calloc(max_edges, sizeof *self->slots);
    self->service_pool = calloc(max_edges * max_services, sizeof *self->service_pool);
    self->slot_used = calloc(max_edges, sizeof *self->slot_used);
    self->order = calloc(max_edges, sizeof *self->order);
    self->free_slots = calloc(max_edges, sizeof *self->free_slots);
    if (!self->slots || !self->service_pool || !self->slot_used || !self->order
        || !self->free_slots) {
        spw_capacity_destroy(&self);
        return NULL;
    }
    //  Pushed in reverse so that slot 0 is taken first.
    for (size_t i = max_edges; i-- > 0;) {
        self->slots[i].services = self->service_pool + i * max_services;
        self->free_slots[self->free_count++] = &self->slots[i];
    }
    return self;
}

void spw_capacity_destroy(spw_capacity_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_capacity_t *self = *self_p;
    free(self->slots);
    free(self->service_pool);
    free(self->slot_used);
    free(self->order);
    free(self->free_slots);
    free(self);
    *self_p = NULL;
}

//  Gives the slot a fresh record: no services, no counters.
static void reset_record(spw_capacity_t *self, spw_edge_state_t *edge, const char *name,
                         uint64_t epoch, int64_t now)
{
    spw_service_state_t *services = edge->services;
    memset(services, 0, self->max_services * sizeof *services);
    memset(edge, 0, sizeof *edge);
    edge->services = services;
    strcpy(edge->name, name);
    edge->epoch = epoch;
    edge->registered_at = now;
    edge->last_heard = now;
    edge->alive = true;
}

static void release_slot(spw_capacity_t *self, size_t order_index)
{
    spw_edge_state_t *edge = self->order[order_index];
    memmove(&self->order[order_index], &self->order[order_index + 1],
            (self->count - order_index - 1) * sizeof *self->order);
    self->count--;
    self->slot_used[edge - self->slots] = false;
    self->free_slots[self->free_count++] = edge;
}

static size_t order_index_of(spw_capacity_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->order[i]->name, name) == 0)
            return i;
    return self->count;
}

//  A slot for a new name: a free one, else the dead record heard least
//  recently (evicted). NULL if every record is alive.
static spw_edge_state_t *claim_slot(spw_capacity_t *self)
{
    if (self->free_count == 0) {
        size_t victim = self->count;
        for (size_t i = 0; i < self->count; i++) {
            const spw_edge_state_t *edge = self->order[i];
            if (!edge->alive
                && (victim == self->count || edge->last_heard < self->order[victim]->last_heard))
                victim = i;
        }
        if (victim == self->count)
            return NULL;
        release_slot(self, victim);
    }
    spw_edge_state_t *edge = self->free_slots[--self->free_count];
    self->slot_used[edge - self->slots] = true;
    self->order[self->count++] = edge;
    return edge;
}

spw_reg_result_t spw_capacity_register(spw_capacity_t *self, const char *name, uint64_t epoch,
                                       const char *endpoint, const char *zone, int64_t now,
                                       int64_t hold_ms, spw_edge_state_t **edge_out)
{
    if (edge_out)
        *edge_out = NULL;
    if (!endpoint)
        endpoint = "";
    if (!zone)
        zone = "";
    if (!name_is_valid(name) || !fits(endpoint, SPW_CAPACITY_ENDPOINT_MAX)
        || !fits(zone, SPW_CAPACITY_ZONE_MAX))
        return SPW_REG_INVALID;

    spw_reg_result_t result;
    spw_edge_state_t *edge = spw_capacity_find(self, name);
    if (!edge) {
        edge = claim_slot(self);
        if (!edge)
            return SPW_REG_FULL;
        reset_record(self, edge, name, epoch, now);
        result = SPW_REG_NEW;
    }
    else if (!edge->alive) {
        //  Its death was announced already: whatever the epoch, it joins anew.
        reset_record(self, edge, name, epoch, now);
        result = SPW_REG_NEW;
    }
    else if (edge->epoch == epoch) {
        edge->last_heard = now;
        result = SPW_REG_SAME;
    }
    else if (now - edge->last_heard > hold_ms) {
        reset_record(self, edge, name, epoch, now);
        result = SPW_REG_RESTARTED;
    }
    else {
        if (edge_out)
            *edge_out = edge;
        return SPW_REG_NAME_TAKEN;
    }
    strcpy(edge->endpoint, endpoint);
    strcpy(edge->zone, zone);
    if (edge_out)
        *edge_out = edge;
    return result;
}

//  The live record of name at epoch, or NULL.
static spw_edge_state_t *live_edge(spw_capacity_t *self, const char *name, uint64_t epoch)
{
    if (!fits(name, SPW_CAPACITY_NAME_MAX))
        return NULL;
    spw_edge_state_t *edge = spw_capacity_find(self, name);
    if (!edge || !edge->alive || edge->epoch != epoch)
        return NULL;
    return edge;
}

//  True if every service name is non-empty, terminated and not repeated.
static bool services_are_valid(const spw_service_state_t *services, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const char *name = services[i].name;
        if (name[0] == '\0' || !memchr(name, '\0', sizeof services[i].name))
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(services[j].name, name) == 0)
                return false;
    }
    return true;
}

int spw_capacity_update(spw_capacity_t *self, const char *name, uint64_t epoch,
                        const spw_service_state_t *services, size_t count,
                        uint64_t delegated_out, uint64_t delegated_in, int64_t now)
{
    spw_edge_state_t *edge = live_edge(self, name, epoch);
    if (!edge || count > self->max_services || (count > 0 && !services)
        || !services_are_valid(services, count))
        return -1;

    for (size_t i = 0; i < count; i++) {
        spw_service_state_t *target = &edge->services[i];
        *target = services[i];
        if (target->idle > target->workers)
            target->idle = target->workers;
        if (!(target->rate >= 0.0))   // negative or NaN
            target->rate = 0.0;
    }
    for (size_t i = count; i < edge->service_count; i++)
        memset(&edge->services[i], 0, sizeof edge->services[i]);
    edge->service_count = count;
    edge->delegated_out = delegated_out;
    edge->delegated_in = delegated_in;
    edge->last_heard = now;
    return 0;
}

int spw_capacity_avoid(spw_capacity_t *self, const char *name, uint64_t epoch,
                       const char *const *names, const size_t *lens, size_t count)
{
    spw_edge_state_t *edge = live_edge(self, name, epoch);
    if (!edge)
        return -1;
    edge->avoid_count = 0;
    for (size_t i = 0; i < count && i < SPW_CAPACITY_AVOID_MAX; i++) {
        size_t n = lens[i] < SPW_CAPACITY_NAME_MAX ? lens[i] : SPW_CAPACITY_NAME_MAX;
        memcpy(edge->avoid[i], names[i], n);
        edge->avoid[i][n] = 0;
        edge->avoid_count++;
    }
    return 0;
}

int spw_capacity_set_draining(spw_capacity_t *self, const char *name, uint64_t epoch,
                              bool draining)
{
    spw_edge_state_t *edge = live_edge(self, name, epoch);
    if (!edge)
        return -1;
    edge->draining = draining;
    return 0;
}

bool spw_capacity_avoids(const spw_edge_state_t *borrower, const spw_edge_state_t *lender)
{
    for (size_t i = 0; i < borrower->avoid_count; i++)
        if (strcmp(borrower->avoid[i], lender->name) == 0)
            return true;
    return false;
}

int spw_capacity_heard(spw_capacity_t *self, const char *name, uint64_t epoch, int64_t now)
{
    spw_edge_state_t *edge = live_edge(self, name, epoch);
    if (!edge)
        return -1;
    edge->last_heard = now;
    return 0;
}

size_t spw_capacity_expire(spw_capacity_t *self, int64_t now, int64_t silence_ms,
                           spw_edge_state_t **dead, size_t max_dead)
{
    size_t found = 0;
    for (size_t i = 0; i < self->count && found < max_dead; i++) {
        spw_edge_state_t *edge = self->order[i];
        if (edge->alive && now - edge->last_heard > silence_ms) {
            edge->alive = false;
            dead[found++] = edge;
        }
    }
    return found;
}

void spw_capacity_forget(spw_capacity_t *self, const char *name)
{
    if (!fits(name, SPW_CAPACITY_NAME_MAX))
        return;
    size_t i = order_index_of(self, name);
    if (i < self->count)
        release_slot(self, i);
}

spw_edge_state_t *spw_capacity_find(spw_capacity_t *self, const char *name)
{
    if (!fits(name, SPW_CAPACITY_NAME_MAX))
        return NULL;
    size_t i = order_index_of(self, name);
    return i < self->count ? self->order[i] : NULL;
}

size_t spw_capacity_count(spw_capacity_t *self)
{
    return self->count;
}

spw_edge_state_t *spw_capacity_at(spw_capacity_t *self, size_t i)
{
    return i < self->count ? self->order[i] : NULL;
}

spw_service_state_t *spw_capacity_service(spw_edge_state_t *edge, const char *service)
{
    if (!edge || !service)
        return NULL;
    for (size_t i = 0; i < edge->service_count; i++)
        if (strcmp(edge->services[i].name, service) == 0)
            return &edge->services[i];
    return NULL;
}
