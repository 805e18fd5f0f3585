//  grants.h: the hub's grant policy, deciding where an edge's overflow goes.
//
//  Given the capacity table, a request (origin edge, service, how many) and
//  the time, it returns grants: edge, cloud endpoint, count, expiry. The
//  rules that keep it safe hold under every policy: only live edges other
//  than the origin that offer the service with spare capacity (idle minus
//  outstanding grants) are candidates; no edge gets more than its spare;
//  the grants total at most what was wanted; and each grant is recorded in
//  the table at once, so the next request sees less spare. Edges in the
//  origin's zone (when it has one) come first, then the rest, each group in
//  the policy's order, filled greedily. Pure: the time and the random state
//  are arguments, and the same arguments give the same grants.

#ifndef SPW_HUB_GRANTS_H_INCLUDED
#define SPW_HUB_GRANTS_H_INCLUDED

#include "capacity.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SPW_POLICY_MOST_SPARE,     // largest spare first; ties in name order (the default)
    SPW_POLICY_RANDOM,         // a uniformly random order, as the seed's peering3
    SPW_POLICY_SHORTEST_WAIT,  // smallest queued / rate first; ties by larger spare, then name
} spw_policy_t;

typedef struct {
    char edge[SPW_CAPACITY_NAME_MAX + 1];
    char endpoint[SPW_CAPACITY_ENDPOINT_MAX + 1];
    uint32_t count;
    int64_t expires;   // ms, now + ttl_ms
} spw_grant_t;

//  Decides and records up to max_out grants for origin's overflow of
//  wanted tasks of service, expiring at now + ttl_ms; returns how many were
//  written to out. Grants due at now are expired from the table first.
//  random_state is read and advanced by the random policy only (NULL there
//  means a seed of 0); any 64-bit value is a valid seed.
size_t spw_grants_decide(spw_capacity_t *table, spw_policy_t policy, const char *origin,
                         const char *service, uint32_t wanted, int64_t now, int64_t ttl_ms,
                         uint64_t *random_state, spw_grant_t *out, size_t max_out);

//  The policy's config name ("most-spare", "random", "shortest-wait").
const char *spw_policy_name(spw_policy_t policy);

//  Reads a policy's config name into *policy; -1 if it names none.
int spw_policy_parse(const char *name, spw_policy_t *policy);

//  The next number of a splitmix64 sequence, advancing *state; exposed so
//  that the hub can derive seeds and tests can predict draws.
uint64_t spw_grants_random_next(uint64_t *state);

#endif
