//  capacity.c: the hub's capacity table (see capacity.h).
//
//  Edges sit in max_edges slots allocated once, so no record moves while it
//  is held; each record's service array is its own, grown to what its
//  state messages list (never past max_services), so a table sized for
//  100,000 edges costs memory for the services they report, not for the
//  limit. An array of the slots in use serves iteration (a removal moves
//  the last one into the hole), and a stack of free slots serves
//  registration.
//
//  Two hash indexes keep the work per message independent of the number of
//  edges: names to records, and service names to the live edges that take
//  part in that service's matching (a role, or a queue) with the count of
//  live edges that offer it (workers). A record is taken out of the
//  service index before any change to its services or its life and put
//  back after, so the index never holds a dead edge or stale figures; each
//  indexed service remembers its place in its index, so both are O(1). A
//  state message rewrites an edge's service records in place, in the
//  order reported: a pointer to one stays valid until the next update of
//  that edge, which may move or rename it.

#include "capacity.h"

#include "spw_array.h"
#include "spw_proto.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  The live edges of one service that matching looks at, and how many
//  offer it.
typedef struct {
    spw_capacity_entry_t *entries;
    size_t count, size;
    size_t offering;
} service_index_t;

struct spw_capacity_t {
    size_t max_edges, max_services;
    spw_edge_state_t *slots;           // max_edges records
    size_t *order_at;                  // per slot: its place in order
    spw_edge_state_t **order;          // slots in use, count of them
    size_t count;
    spw_edge_state_t **free_slots;     // stack of unused slots
    size_t free_count;
    zhashx_t *by_name;                 // name -> record in use
    zhashx_t *by_service;              // service name -> service_index_t
    size_t unreported;                 // live edges that sent no state yet
    size_t live;                       // records alive
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

static void index_destroy(void **item)
{
    service_index_t *index = *item;
    if (index) {
        free(index->entries);
        free(index);
        *item = NULL;
    }
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
    self->order_at = calloc(max_edges, sizeof *self->order_at);
    self->order = calloc(max_edges, sizeof *self->order);
    self->free_slots = calloc(max_edges, sizeof *self->free_slots);
    self->by_name = zhashx_new();
    self->by_service = zhashx_new();
    if (!self->slots || !self->order_at || !self->order || !self->free_slots || !self->by_name
        || !self->by_service) {
        spw_capacity_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->by_service, index_destroy);
    for (size_t i = max_edges; i-- > 0;)
        self->free_slots[self->free_count++] = &self->slots[i];
    return self;
}

void spw_capacity_destroy(spw_capacity_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_capacity_t *self = *self_p;
    for (size_t i = 0; self->slots && i < self->max_edges; i++)
        free(self->slots[i].services);
    free(self->slots);
    free(self->order_at);
    free(self->order);
    free(self->free_slots);
    zhashx_destroy(&self->by_name);
    zhashx_destroy(&self->by_service);
    free(self);
    *self_p = NULL;
}

// -- The service index --------------------------------------------------------

//  True if matching looks at this service of a live edge: it has a role, or
//  tasks waiting (which may be for a service nobody offers).
static bool takes_part(const spw_service_state_t *state)
{
    return state->role == SPW_ROLE_LENDER || state->role == SPW_ROLE_BORROWER
        || state->queued > 0;
}

//  Puts a live edge's services in the index. On out of memory a service is
//  left out: matching then under-lends it, which is safe.
static void index_edge(spw_capacity_t *self, spw_edge_state_t *edge)
{
    for (size_t s = 0; s < edge->service_count; s++) {
        spw_service_state_t *state = &edge->services[s];
        state->indexed = state->offers = false;
        bool part = takes_part(state);
        if (!part && state->workers == 0)
            continue;
        service_index_t *index = zhashx_lookup(self->by_service, state->name);
        if (!index) {
            index = calloc(1, sizeof *index);
            if (!index)
                continue;
            zhashx_insert(self->by_service, state->name, index);
            if (zhashx_lookup(self->by_service, state->name) != index) {
                free(index);   // the hash could not take it
                continue;
            }
        }
        if (state->workers > 0)
            index->offering++;
        state->offers = state->workers > 0;
        if (!part)
            continue;
        if (spw_grow(&index->entries, &index->size, index->count + 1, sizeof *index->entries, 16,
                     0)
            != 0)
            continue;
        state->index_at = index->count;
        state->indexed = true;
        index->entries[index->count++] = (spw_capacity_entry_t) { edge, s };
    }
}

//  Takes a live edge's services out of the index (the undoing of index_edge).
static void unindex_edge(spw_capacity_t *self, spw_edge_state_t *edge)
{
    for (size_t s = 0; s < edge->service_count; s++) {
        spw_service_state_t *state = &edge->services[s];
        if (!state->indexed && !state->offers)
            continue;
        service_index_t *index = zhashx_lookup(self->by_service, state->name);
        if (!index)
            continue;
        if (state->offers)
            index->offering--;
        if (state->indexed) {
            spw_capacity_entry_t *moved = &index->entries[--index->count];
            index->entries[state->index_at] = *moved;
            moved->edge->services[moved->service].index_at = state->index_at;
        }
        state->indexed = state->offers = false;
        if (index->count == 0 && index->offering == 0)
            zhashx_delete(self->by_service, state->name);
    }
}

// -- Records ------------------------------------------------------------------

//  Ends a live record's life in the indexes (it died or is replaced).
static void retire(spw_capacity_t *self, spw_edge_state_t *edge)
{
    if (!edge->alive)
        return;
    unindex_edge(self, edge);
    if (!edge->reported)
        self->unreported--;
    edge->alive = false;
    self->live--;
}

static void reset_record(spw_capacity_t *self, spw_edge_state_t *edge, const char *name,
                         uint64_t epoch, int64_t now)
{
    retire(self, edge);
    spw_service_state_t *services = edge->services;
    size_t allocated = edge->services_allocated;
    memset(edge, 0, sizeof *edge);
    edge->services = services;
    edge->services_allocated = allocated;
    strcpy(edge->name, name);
    edge->epoch = epoch;
    edge->registered_at = now;
    edge->last_heard = now;
    edge->alive = true;
    self->unreported++;
    self->live++;
}

static void release_slot(spw_capacity_t *self, spw_edge_state_t *edge)
{
    retire(self, edge);
    zhashx_delete(self->by_name, edge->name);
    size_t at = self->order_at[edge - self->slots];
    spw_edge_state_t *last = self->order[--self->count];
    self->order[at] = last;
    self->order_at[last - self->slots] = at;
    self->free_slots[self->free_count++] = edge;
}

//  A free slot, evicting the dead record heard longest ago if none is free;
//  NULL if every record is alive.
static spw_edge_state_t *claim_slot(spw_capacity_t *self)
{
    if (self->free_count == 0 && self->live == self->count)
        return NULL;   // every record alive: no scan for a dead one
    if (self->free_count == 0) {
        spw_edge_state_t *victim = NULL;
        for (size_t i = 0; i < self->count; i++) {
            spw_edge_state_t *edge = self->order[i];
            if (!edge->alive && (!victim || edge->last_heard < victim->last_heard))
                victim = edge;
        }
        if (!victim)
            return NULL;
        release_slot(self, victim);
    }
    spw_edge_state_t *edge = self->free_slots[--self->free_count];
    self->order_at[edge - self->slots] = self->count;
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
        if (zhashx_insert(self->by_name, edge->name, edge) != 0) {
            release_slot(self, edge);   // out of memory: as if full
            return SPW_REG_FULL;
        }
        result = SPW_REG_NEW;
    }
    else if (!edge->alive) {
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

//  The live record of name and epoch, or NULL.
static spw_edge_state_t *live_edge(spw_capacity_t *self, const char *name, uint64_t epoch)
{
    spw_edge_state_t *edge = spw_capacity_find(self, name);
    if (!edge || !edge->alive || edge->epoch != epoch)
        return NULL;
    return edge;
}

//  True if every name is non-empty, terminated and distinct. Lists are at
//  most max_services long (64 by default), so pairs are compared: a hash
//  would cost more for the few services an edge reports.
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
    if (spw_grow(&edge->services, &edge->services_allocated, count, sizeof *edge->services, 4,
                 self->max_services)
        != 0)
        return -1;
    unindex_edge(self, edge);
    for (size_t i = 0; i < count; i++) {
        spw_service_state_t *target = &edge->services[i];
        *target = services[i];
        if (target->idle > target->workers)
            target->idle = target->workers;
        if (!(target->rate >= 0.0))   // negative or NaN
            target->rate = 0.0;
    }
    edge->service_count = count;
    index_edge(self, edge);
    if (!edge->reported)
        self->unreported--;
    edge->reported = true;
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
            retire(self, edge);
            dead[found++] = edge;
        }
    }
    return found;
}

void spw_capacity_forget(spw_capacity_t *self, const char *name)
{
    spw_edge_state_t *edge = spw_capacity_find(self, name);
    if (edge)
        release_slot(self, edge);
}

spw_edge_state_t *spw_capacity_find(spw_capacity_t *self, const char *name)
{
    if (!fits(name, SPW_CAPACITY_NAME_MAX))
        return NULL;
    return zhashx_lookup(self->by_name, name);
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

size_t spw_capacity_taking_part(const spw_capacity_t *self, const char *service,
                                const spw_capacity_entry_t **entries)
{
    service_index_t *index =
        fits(service, SPW_CAPACITY_NAME_MAX) ? zhashx_lookup(self->by_service, service) : NULL;
    *entries = index ? index->entries : NULL;
    return index ? index->count : 0;
}

size_t spw_capacity_offering(const spw_capacity_t *self, const char *service)
{
    service_index_t *index =
        fits(service, SPW_CAPACITY_NAME_MAX) ? zhashx_lookup(self->by_service, service) : NULL;
    return index ? index->offering : 0;
}

size_t spw_capacity_live(const spw_capacity_t *self)
{
    return self->live;
}

size_t spw_capacity_unreported(const spw_capacity_t *self)
{
    return self->unreported;
}

const char *spw_capacity_first_service(spw_capacity_t *self)
{
    return zhashx_first(self->by_service) ? zhashx_cursor(self->by_service) : NULL;
}

const char *spw_capacity_next_service(spw_capacity_t *self)
{
    return zhashx_next(self->by_service) ? zhashx_cursor(self->by_service) : NULL;
}
