//  peers.c: the hub loop's side table of edges (see peers.h).
//
//  Peers live in limit slots allocated once; a dense array of the slots in
//  use (with each slot's place in it) serves iteration and O(1) removal, a
//  stack serves claims, and two czmq hashes map names and identities to
//  slots. An identity is binary (a ROUTER's routing id), so its key is its
//  hex spelling.

#include "peers.h"

#include "spw_array.h"
#include "spw_random.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

struct spw_peers_t {
    size_t limit;
    spw_peer_t *slots;
    size_t *used_at;           // per slot: its place in used
    spw_peer_t **used;
    size_t count;
    spw_peer_t **free_slots;
    size_t free_count;
    zhashx_t *by_name;
    zhashx_t *by_identity;
    uint64_t routes;   // routes given, for each its serial
};

#define IDENTITY_KEY_MAX (2 * SPW_MAX_IDENTITY_LEN + 1)

static void identity_key(char *key, const void *identity, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *bytes = identity;
    for (size_t i = 0; i < len; i++) {
        key[2 * i] = hex[bytes[i] >> 4];
        key[2 * i + 1] = hex[bytes[i] & 15];
    }
    key[2 * len] = '\0';
}

spw_peers_t *spw_peers_new(size_t limit)
{
    if (limit == 0)
        return NULL;
    spw_peers_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->limit = limit;
    self->slots = calloc(limit, sizeof *self->slots);
    self->used_at = calloc(limit, sizeof *self->used_at);
    self->used = calloc(limit, sizeof *self->used);
    self->free_slots = calloc(limit, sizeof *self->free_slots);
    self->by_name = zhashx_new();
    self->by_identity = zhashx_new();
    if (!self->slots || !self->used_at || !self->used || !self->free_slots || !self->by_name
        || !self->by_identity) {
        spw_peers_destroy(&self);
        return NULL;
    }
    for (size_t i = limit; i-- > 0;)
        self->free_slots[self->free_count++] = &self->slots[i];
    return self;
}

void spw_peers_destroy(spw_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_peers_t *self = *self_p;
    for (size_t i = 0; self->used && i < self->count; i++) {
        free(self->used[i]->told);
        free(self->used[i]->partners);
    }
    free(self->slots);
    free(self->used_at);
    free(self->used);
    free(self->free_slots);
    zhashx_destroy(&self->by_name);
    zhashx_destroy(&self->by_identity);
    free(self);
    *self_p = NULL;
}

spw_peer_t *spw_peers_find(spw_peers_t *self, const char *name)
{
    return zhashx_lookup(self->by_name, name);
}

spw_peer_t *spw_peers_by_identity(spw_peers_t *self, const void *identity, size_t len)
{
    if (len == 0 || len > SPW_MAX_IDENTITY_LEN)
        return NULL;
    char key[IDENTITY_KEY_MAX];
    identity_key(key, identity, len);
    return zhashx_lookup(self->by_identity, key);
}

spw_peer_t *spw_peers_claim(spw_peers_t *self, const char *name)
{
    spw_peer_t *peer = spw_peers_find(self, name);
    if (peer || self->free_count == 0 || strlen(name) > SPW_CAPACITY_NAME_MAX)
        return peer;
    peer = self->free_slots[self->free_count - 1];
    memset(peer, 0, sizeof *peer);
    snprintf(peer->name, sizeof peer->name, "%s", name);
    if (zhashx_insert(self->by_name, peer->name, peer) != 0)
        return NULL;
    self->free_count--;
    self->used_at[peer - self->slots] = self->count;
    self->used[self->count++] = peer;
    return peer;
}

//  Takes peer's route out of the identity index.
static void unroute(spw_peers_t *self, spw_peer_t *peer)
{
    if (!peer->identity_len)
        return;
    char key[IDENTITY_KEY_MAX];
    identity_key(key, peer->identity, peer->identity_len);
    if (zhashx_lookup(self->by_identity, key) == peer)
        zhashx_delete(self->by_identity, key);
    peer->identity_len = 0;
}

void spw_peers_route(spw_peers_t *self, spw_peer_t *peer, const void *identity, size_t len)
{
    if (len == 0 || len > SPW_MAX_IDENTITY_LEN)
        return;
    spw_peer_t *other = spw_peers_by_identity(self, identity, len);
    if (other == peer)
        return;   // the same connection: its route, and what waits for it, stay
    if (other)
        unroute(self, other);
    unroute(self, peer);
    char key[IDENTITY_KEY_MAX];
    identity_key(key, identity, len);
    if (zhashx_insert(self->by_identity, key, peer) != 0)
        return;   // out of memory: no route, the edge's silence will end it
    memcpy(peer->identity, identity, len);
    peer->identity_len = len;
    peer->route = ++self->routes;
    peer->queued = 0;   // what waits for the old route goes there, in its order
}

void spw_peers_release(spw_peers_t *self, spw_peer_t *peer)
{
    unroute(self, peer);
    zhashx_delete(self->by_name, peer->name);
    free(peer->told);
    free(peer->partners);
    size_t at = self->used_at[peer - self->slots];
    spw_peer_t *last = self->used[--self->count];
    self->used[at] = last;
    self->used_at[last - self->slots] = at;
    memset(peer, 0, sizeof *peer);
    self->free_slots[self->free_count++] = peer;
}

size_t spw_peers_count(const spw_peers_t *self)
{
    return self->count;
}

spw_peer_t *spw_peers_at(spw_peers_t *self, size_t i)
{
    return i < self->count ? self->used[i] : NULL;
}

size_t spw_peers_limit(const spw_peers_t *self)
{
    return self->limit;
}

spw_peer_t *spw_peers_slot(spw_peers_t *self, size_t i)
{
    spw_peer_t *peer = i < self->limit ? &self->slots[i] : NULL;
    return peer && peer->name[0] ? peer : NULL;
}

void spw_peers_met(spw_peer_t *peer, const char *partner, int64_t now)
{
    size_t oldest = 0;
    uint64_t hash = spw_hash_bytes(partner, strlen(partner));
    for (size_t i = 0; i < peer->partner_count; i++) {
        if (peer->partners[i].hash == hash && strcmp(peer->partners[i].name, partner) == 0) {
            peer->partners[i].last = now;
            return;
        }
        if (peer->partners[i].last < peer->partners[oldest].last)
            oldest = i;
    }
    if (peer->partner_count < SPW_PEERS_PARTNERS_MAX
        && spw_grow(&peer->partners, &peer->partner_size, peer->partner_count + 1,
                    sizeof *peer->partners, 4, SPW_PEERS_PARTNERS_MAX)
               != 0)
        return;
    size_t at = peer->partner_count < peer->partner_size ? peer->partner_count++ : oldest;
    snprintf(peer->partners[at].name, sizeof peer->partners[at].name, "%s", partner);
    peer->partners[at].hash = hash;
    peer->partners[at].last = now;
}

void spw_peers_forget_partners(spw_peer_t *peer, int64_t now)
{
    for (size_t i = 0; i < peer->partner_count;)
        if (now - peer->partners[i].last > SPW_PEERS_PARTNER_MS)
            peer->partners[i] = peer->partners[--peer->partner_count];
        else
            i++;
}
