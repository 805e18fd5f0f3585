//  grants.c: the grant policy (see grants.h).
//
//  A request collects the candidates (one per eligible edge) into a scratch
//  array, sorts them by (zone group, policy key) and takes from each in turn
//  up to its spare until the request is met. Every order is total, so the
//  result never depends on qsort's instability: most-spare and shortest-wait
//  fall back to the edge name; random first sorts by name (making the draw
//  independent of the table's registration order) and then shuffles each
//  zone group with Fisher-Yates over splitmix64, with rejection sampling so
//  that every order is equally likely. The scratch array is allocated per
//  request: requests come in batches per edge, not per task.

#include "grants.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MIN_RATE_PER_S 0.001   // floor on a service's rate when estimating its wait

typedef struct {
    spw_edge_state_t *edge;
    uint32_t spare;
    double wait;      // expected wait, s: queued / max(rate, MIN_RATE_PER_S)
    int group;        // 0: the origin's zone, 1: the rest
} candidate_t;

static const char *const policy_names[] = {
    [SPW_POLICY_MOST_SPARE] = "most-spare",
    [SPW_POLICY_RANDOM] = "random",
    [SPW_POLICY_SHORTEST_WAIT] = "shortest-wait",
};
#define POLICY_COUNT (sizeof policy_names / sizeof policy_names[0])

uint64_t spw_grants_random_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

//  A uniform draw in [0, bound), bound > 0.
static uint64_t random_below(uint64_t *state, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;   // largest multiple of bound
    uint64_t draw;
    do
        draw = spw_grants_random_next(state);
    while (draw >= limit);
    return draw % bound;
}

static int by_name(const candidate_t *a, const candidate_t *b)
{
    return strcmp(a->edge->name, b->edge->name);
}

static int by_group_then_name(const void *x, const void *y)
{
    const candidate_t *a = x, *b = y;
    if (a->group != b->group)
        return a->group - b->group;
    return by_name(a, b);
}

static int by_group_then_most_spare(const void *x, const void *y)
{
    const candidate_t *a = x, *b = y;
    if (a->group != b->group)
        return a->group - b->group;
    if (a->spare != b->spare)
        return a->spare > b->spare ? -1 : 1;
    return by_name(a, b);
}

static int by_group_then_shortest_wait(const void *x, const void *y)
{
    const candidate_t *a = x, *b = y;
    if (a->group != b->group)
        return a->group - b->group;
    if (a->wait != b->wait)
        return a->wait < b->wait ? -1 : 1;
    if (a->spare != b->spare)
        return a->spare > b->spare ? -1 : 1;
    return by_name(a, b);
}

static void shuffle(candidate_t *items, size_t count, uint64_t *state)
{
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t) random_below(state, i);
        candidate_t swap = items[i - 1];
        items[i - 1] = items[j];
        items[j] = swap;
    }
}

//  Puts the candidates in the policy's order, zone group first.
static void order_candidates(candidate_t *items, size_t count, spw_policy_t policy,
                             uint64_t *random_state)
{
    if (policy == SPW_POLICY_RANDOM) {
        qsort(items, count, sizeof *items, by_group_then_name);
        size_t local = 0;
        while (local < count && items[local].group == 0)
            local++;
        uint64_t seed = 0;
        uint64_t *state = random_state ? random_state : &seed;
        shuffle(items, local, state);
        shuffle(items + local, count - local, state);
    }
    else if (policy == SPW_POLICY_SHORTEST_WAIT)
        qsort(items, count, sizeof *items, by_group_then_shortest_wait);
    else
        qsort(items, count, sizeof *items, by_group_then_most_spare);
}

size_t spw_grants_decide(spw_capacity_t *table, spw_policy_t policy, const char *origin,
                         const char *service, uint32_t wanted, int64_t now, int64_t ttl_ms,
                         uint64_t *random_state, spw_grant_t *out, size_t max_out)
{
    if (!table || !service || wanted == 0 || max_out == 0 || (size_t) policy >= POLICY_COUNT)
        return 0;
    spw_capacity_expire_grants(table, now);

    size_t edges = spw_capacity_count(table);
    if (edges == 0)
        return 0;
    candidate_t *items = malloc(edges * sizeof *items);
    if (!items)
        return 0;

    const spw_edge_state_t *from = origin ? spw_capacity_find(table, origin) : NULL;
    const char *zone = from ? from->zone : "";
    size_t count = 0;
    for (size_t i = 0; i < edges; i++) {
        spw_edge_state_t *edge = spw_capacity_at(table, i);
        if (!edge->alive || (origin && strcmp(edge->name, origin) == 0))
            continue;
        const spw_service_state_t *offered = spw_capacity_service(edge, service);
        if (!offered || spw_capacity_spare(offered) == 0)
            continue;
        double rate = offered->rate > MIN_RATE_PER_S ? offered->rate : MIN_RATE_PER_S;
        items[count++] = (candidate_t) {
            .edge = edge,
            .spare = spw_capacity_spare(offered),
            .wait = offered->queued / rate,
            .group = zone[0] != '\0' && strcmp(edge->zone, zone) == 0 ? 0 : 1,
        };
    }
    order_candidates(items, count, policy, random_state);

    int64_t expires = now + ttl_ms;
    uint32_t remaining = wanted;
    size_t made = 0;
    for (size_t i = 0; i < count && remaining > 0 && made < max_out; i++) {
        uint32_t take = items[i].spare < remaining ? items[i].spare : remaining;
        if (spw_capacity_add_grant(table, items[i].edge, service, take, expires) != 0)
            break;   // the grant list is full: grant no more than it can remember
        spw_grant_t *grant = &out[made++];
        strcpy(grant->edge, items[i].edge->name);
        strcpy(grant->endpoint, items[i].edge->endpoint);
        grant->count = take;
        grant->expires = expires;
        remaining -= take;
    }
    free(items);
    return made;
}

const char *spw_policy_name(spw_policy_t policy)
{
    return (size_t) policy < POLICY_COUNT ? policy_names[policy] : "unknown";
}

int spw_policy_parse(const char *name, spw_policy_t *policy)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < POLICY_COUNT; i++)
        if (strcmp(name, policy_names[i]) == 0) {
            *policy = (spw_policy_t) i;
            return 0;
        }
    return -1;
}
