//  match.c: the hub's matchmaking (see match.h).
//
//  A call collects the service's lenders and borrowers from the live edges
//  into scratch arrays, orders them (lenders by policy, borrowers by demand),
//  and runs the two passes. Everything is counted in thousandths of a slot
//  in 64-bit integers: supply and demand are capped at SPW_MATCH_COUNT_MAX
//  (2^20) slots, so a share's product left * demand stays below 2^60, and
//  integer shares make the result exact and the same on every machine.
//  Each lender's turn in a pass is one rule: if what it has left covers
//  the remaining demand of the borrowers it serves in that pass, or supply
//  is not short overall, it fills them in order (largest first); otherwise
//  it splits what it has left in proportion to their remaining demand, by
//  largest remainder. Proportional turns never exceed a borrower's remaining
//  demand (a lender's part is below the total it splits), and repeated
//  proportional turns stay proportional to the initial backlog. A lender
//  that has anything left after its zone turn has filled its zone, so no
//  (lender, borrower) pair is ever written twice. Scratch is allocated per
//  call: the hub matches on state changes, not per task.

#include "match.h"

#include "spw_array.h"
#include "spw_proto.h"
#include "spw_random.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define PERCENT 100   // SPW_MATCH_CHANGE_PERCENT is out of this

typedef spw_match_lender_t lender_t;

typedef struct {
    const spw_edge_state_t *edge;
    size_t service;        // the index of its record of the service
    spw_service_state_t *state;   // that record, to mark with the matching's stamp
    size_t first_pair;     // its first pair in out (SIZE_MAX: none), then next_pair
    uint32_t demand;       // tasks
    uint64_t name_key;     // its name's first bytes, to order ties without strcmp (name_key)
    uint64_t left_milli;   // demand not yet met
    uint64_t target_milli; // short supply, scaled: its share of the supply
    uint64_t held_milli;   // short supply, scaled: what its kept pairs would keep
    bool needy;            // held is materially below target: filled first
} borrower_t;

//  One borrower's part of a proportional split.
typedef struct {
    size_t borrower;       // index in borrowers, which is also the output order
    uint64_t milli;
    uint64_t remainder;    // of the exact share, for largest-remainder rounding
} share_t;

//  A matching's lenders in policy order, taken from a heap as needed; what
//  a matching leaves (spw_match_spare_t) is the same.
typedef struct {
    lender_t *lenders;     // as found; then, but for the random policy, a heap
    size_t lender_count;
    lender_t *ordered;     // the lenders in policy order, taken from the heap as needed
    size_t ordered_count;
    int (*before)(const void *, const void *);   // the heap's order; NULL: lenders is ordered
} lender_order_t;

//  What a matching leaves: every lender once, in lenders[0, count). For a
//  policy that orders by spare (before set) they are a heap in that
//  order, kept as spare is taken, with the spent ones (nothing left)
//  moved past count; for the random order they stay in it, spent ones
//  before first.
struct spw_match_spare_t {
    lender_order_t order;  // as the matching left it, until spw_match_spare_new's next use
    lender_t *lenders;
    size_t count, total, first;
    int (*before)(const void *, const void *);
    bool zoned;
    lender_t **skipped;    // scratch for spw_match_spare_pick
    size_t skipped_size;
};

typedef struct {
    lender_order_t order;  // its lenders as found (the keep pass indexes them), then ordered
    borrower_t *borrowers;
    size_t borrower_count;
    share_t *shares;       // borrower_count of scratch
    bool short_supply;
    size_t open;           // borrowers before it have nothing left to get
    size_t keeping;        // the kept pair being given (SIZE_MAX: a new pair)
    bool kept_any;         // the keep pass gave something: a later pass may repeat a pair
    //  tolerate_kept's finding of each kept pair's sides, for the keep pass
    //  (NULL: keep_pairs finds them): the lender's index, the borrower's
    //  record (its index is on it; NULL: the pair does not stand).
    struct resolved { size_t lender; spw_service_state_t *borrower; } *resolved;
    size_t *next_pair;     // max_out: the next pair of the same borrower (SIZE_MAX: none)
    uint64_t stamp;        // this matching's mark on the service records
    spw_match_pair_t *out;
    size_t max_out, made;
} matching_t;

static uint32_t at_most(uint64_t value, uint64_t cap)
{
    return (uint32_t) (value < cap ? value : cap);
}

uint32_t spw_match_supply(const spw_service_state_t *state)
{
    if (!state || state->role != SPW_ROLE_LENDER || state->workers == 0)
        return 0;
    uint64_t supply = (uint64_t) state->idle + state->lent;
    uint32_t cap = state->workers < SPW_MATCH_COUNT_MAX ? state->workers : SPW_MATCH_COUNT_MAX;
    return at_most(supply, cap);
}

uint32_t spw_match_demand(const spw_service_state_t *state)
{
    if (!state || state->role != SPW_ROLE_BORROWER)
        return 0;
    return at_most((uint64_t) state->queued + state->borrowed, SPW_MATCH_COUNT_MAX);
}

bool spw_match_changed(uint32_t sent_milli, uint32_t now_milli)
{
    uint64_t diff = sent_milli > now_milli ? sent_milli - now_milli : now_milli - sent_milli;
    if (sent_milli == 0 || now_milli == 0)
        return diff > 0;
    return diff * PERCENT > (uint64_t) sent_milli * SPW_MATCH_CHANGE_PERCENT;
}

// -- orders ------------------------------------------------------------------

static int lender_by_name(const void *x, const void *y)
{
    const lender_t *a = x, *b = y;
    return strcmp(a->edge->name, b->edge->name);
}

//  Most spare: what is left to give when the lenders are ordered (the
//  supply less what the keep pass gave), so that a lender whose slots are
//  mostly out with kept pairs comes after one with all of its own.
static int lender_by_most_spare(const void *x, const void *y)
{
    const lender_t *a = x, *b = y;
    if (a->left_milli != b->left_milli)
        return a->left_milli > b->left_milli ? -1 : 1;
    return lender_by_name(a, b);
}

static int lender_by_shortest_wait(const void *x, const void *y)
{
    const lender_t *a = x, *b = y;
    if (a->rate != b->rate)
        return a->rate > b->rate ? -1 : 1;
    return lender_by_most_spare(a, b);
}

//  The first 8 bytes of name (NUL-padded) as a big-endian number: two
//  names with different keys are in the same order as strcmp puts them.
static uint64_t name_key(const char *name)
{
    uint64_t key = 0;
    size_t i = 0;
    for (; i < sizeof key && name[i]; i++)
        key = key << 8 | (uint8_t) name[i];
    return key << (8 * (sizeof key - i) % 64);
}

static int borrower_by_demand(const void *x, const void *y)
{
    const borrower_t *a = x, *b = y;
    if (a->demand != b->demand)
        return a->demand > b->demand ? -1 : 1;
    if (a->name_key != b->name_key)
        return a->name_key < b->name_key ? -1 : 1;
    return strcmp(a->edge->name, b->edge->name);
}

static int share_by_remainder(const void *x, const void *y)
{
    const share_t *a = x, *b = y;
    if (a->remainder != b->remainder)
        return a->remainder > b->remainder ? -1 : 1;
    return a->borrower < b->borrower ? -1 : a->borrower > b->borrower;
}

static int share_by_borrower(const void *x, const void *y)
{
    const share_t *a = x, *b = y;
    return a->borrower < b->borrower ? -1 : a->borrower > b->borrower;
}

static const char *const policy_names[] = {
    [SPW_POLICY_MOST_SPARE] = "most-spare",
    [SPW_POLICY_RANDOM] = "random",
    [SPW_POLICY_SHORTEST_WAIT] = "shortest-wait",
};
#define POLICY_COUNT (sizeof policy_names / sizeof policy_names[0])

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

uint64_t spw_match_random_next(uint64_t *state)
{
    return spw_random_next(state);
}

//  A uniform draw in [0, bound), bound > 0, by rejection so that no value
//  is favoured.
static uint64_t random_below(uint64_t *state, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t draw;
    do
        draw = spw_match_random_next(state);
    while (draw >= limit);
    return draw % bound;
}

//  Sifts lenders[at] down the heap of count (the first in order on top).
static void sift_down(lender_t *heap, size_t count, size_t at,
                      int (*before)(const void *, const void *))
{
    for (;;) {
        size_t first = at, left = 2 * at + 1, right = left + 1;
        if (left < count && before(&heap[left], &heap[first]) < 0)
            first = left;
        if (right < count && before(&heap[right], &heap[first]) < 0)
            first = right;
        if (first == at)
            return;
        lender_t swap = heap[at];
        heap[at] = heap[first];
        heap[first] = swap;
        at = first;
    }
}

//  Sifts heap[at] up the heap; returns where it came to rest.
static size_t sift_up(lender_t *heap, size_t at, int (*before)(const void *, const void *))
{
    while (at > 0 && before(&heap[at], &heap[(at - 1) / 2]) < 0) {
        lender_t swap = heap[at];
        heap[at] = heap[(at - 1) / 2];
        heap[(at - 1) / 2] = swap;
        at = (at - 1) / 2;
    }
    return at;
}

//  Orders the lenders by the policy. The random order is drawn at once;
//  the others are a heap from which lender_at takes the lenders in order
//  as the passes need them, so that a matching that serves every borrower
//  from the first few lenders does not sort the thousands it never uses.
static void order_lenders(lender_order_t *order, spw_policy_t policy, uint64_t *random_state)
{
    lender_t *lenders = order->lenders;
    size_t count = order->lender_count;
    if (policy == SPW_POLICY_RANDOM) {
        //  Name order first, so the draw does not depend on the table's.
        qsort(lenders, count, sizeof *lenders, lender_by_name);
        uint64_t seed = 0;
        uint64_t *state = random_state ? random_state : &seed;
        for (size_t i = count; i > 1; i--) {
            size_t j = (size_t) random_below(state, i);
            lender_t swap = lenders[i - 1];
            lenders[i - 1] = lenders[j];
            lenders[j] = swap;
        }
        memcpy(order->ordered, lenders, count * sizeof *lenders);
        order->ordered_count = count;
        return;
    }
    order->before = policy == SPW_POLICY_SHORTEST_WAIT ? lender_by_shortest_wait
                                                       : lender_by_most_spare;
    for (size_t i = count / 2; i-- > 0;)
        sift_down(lenders, count, i, order->before);
}

//  The i-th lender in policy order, or NULL past the last.
static lender_t *lender_at(lender_order_t *order, size_t i)
{
    while (order->ordered_count <= i && order->before
           && order->ordered_count < order->lender_count) {
        size_t left = order->lender_count - order->ordered_count;   // in the heap
        order->ordered[order->ordered_count++] = order->lenders[0];
        order->lenders[0] = order->lenders[left - 1];
        sift_down(order->lenders, left - 1, 0, order->before);
    }
    return i < order->ordered_count ? &order->ordered[i] : NULL;
}

// -- passes ------------------------------------------------------------------

static bool same_zone(const spw_edge_state_t *a, const spw_edge_state_t *b)
{
    return a->zone[0] != '\0' && strcmp(a->zone, b->zone) == 0;
}

//  Records that lender gives milli to borrower; false once out is full.
static bool give(matching_t *m, lender_t *lender, borrower_t *borrower, uint64_t milli)
{
    if (milli == 0)
        return true;
    //  A kept pair that a later pass tops up stays one pair: a lender and a
    //  borrower appear together once (a borrower has a few pairs to look at).
    for (size_t i = m->kept_any ? borrower->first_pair : SIZE_MAX; i != SIZE_MAX;
         i = m->next_pair[i])
        if (m->out[i].lender == lender->edge) {
            m->out[i].slots_milli += (uint32_t) milli;
            lender->left_milli -= milli;
            borrower->left_milli -= milli;
            return true;
        }
    if (m->made == m->max_out)
        return false;
    m->next_pair[m->made] = borrower->first_pair;
    borrower->first_pair = m->made;
    m->out[m->made++] = (spw_match_pair_t) {
        .lender = lender->edge,
        .borrower = borrower->edge,
        .slots_milli = (uint32_t) milli,
        .kept = m->keeping,
        .lender_service = lender->service,
        .borrower_service = borrower->service,
    };
    lender->left_milli -= milli;
    borrower->left_milli -= milli;
    return true;
}

//  True if borrower may be served by lender in this pass.
static bool may_serve(const lender_t *lender, const borrower_t *borrower, bool zone_pass)
{
    return borrower->left_milli > 0 && (!zone_pass || same_zone(lender->edge, borrower->edge))
        && !spw_capacity_avoids(borrower->edge, lender->edge);
}

//  One lender's turn in a pass: the borrowers it serves (its zone's in the
//  zone pass, everyone's after) get what it has left. False once out is full.
//  Filling (enough supply, or demand already scaled to the supply) gives
//  borrowers their remaining demand in order and stops when the lender is
//  empty; the borrowers before m->open are all served, so a pass costs the
//  lenders plus the pairs made, not lenders x borrowers.
static bool take_turn(matching_t *m, lender_t *lender, bool zone_pass)
{
    if (lender->left_milli == 0)
        return true;
    while (m->open < m->borrower_count && m->borrowers[m->open].left_milli == 0)
        m->open++;
    size_t count = 0;
    uint64_t wanted = 0;
    if (m->short_supply)
        for (size_t b = m->open; b < m->borrower_count; b++)
            if (may_serve(lender, &m->borrowers[b], zone_pass)) {
                m->shares[count++] = (share_t) { .borrower = b };
                wanted += m->borrowers[b].left_milli;
            }
    if (!m->short_supply || lender->left_milli >= wanted) {
        for (size_t b = m->open; b < m->borrower_count && lender->left_milli > 0; b++) {
            borrower_t *borrower = &m->borrowers[b];
            if (!may_serve(lender, borrower, zone_pass))
                continue;
            uint64_t milli = borrower->left_milli < lender->left_milli ? borrower->left_milli
                                                                       : lender->left_milli;
            if (!give(m, lender, borrower, milli))
                return false;
        }
        return true;
    }
    uint64_t have = lender->left_milli, floored = 0;
    for (size_t i = 0; i < count; i++) {
        share_t *share = &m->shares[i];
        uint64_t exact = have * m->borrowers[share->borrower].left_milli;
        share->milli = exact / wanted;
        share->remainder = exact % wanted;
        floored += share->milli;
    }
    qsort(m->shares, count, sizeof *m->shares, share_by_remainder);
    for (uint64_t i = 0; i < have - floored; i++)
        m->shares[i].milli++;
    qsort(m->shares, count, sizeof *m->shares, share_by_borrower);
    for (size_t i = 0; i < count; i++)
        if (!give(m, lender, &m->borrowers[m->shares[i].borrower], m->shares[i].milli))
            return false;
    return true;
}

//  Short supply without zones, or over more lenders x borrowers than out
//  can hold: splitting every lender among every borrower makes lenders x
//  borrowers pairs, every one of which moves with every figure (and past
//  out drops most of them), so each borrower's demand is scaled to its
//  share of the supply instead (largest-remainder, so the shares add up to
//  the supply exactly) and the lenders fill them in order, in at most
//  lenders + borrowers pairs, keeping the last matching's pairs first as
//  with enough supply. Each borrower still gets supply in proportion to its
//  backlog; a lender serves a few borrowers instead of all of them.
static void scale_demand(matching_t *m, uint64_t total_supply, uint64_t total_demand)
{
    uint64_t have = total_supply * SPW_MATCH_MILLI, floored = 0;
    for (size_t b = 0; b < m->borrower_count; b++) {
        share_t *share = &m->shares[b];
        //  A demand (< 2^21) times the whole supply in thousandths (< 2^31
        //  per lender) can pass 2^64 with many lenders: 128 bits (GCC's).
        unsigned __int128 exact = (unsigned __int128) m->borrowers[b].demand * have;
        *share = (share_t) { .borrower = b, .milli = (uint64_t) (exact / total_demand),
                             .remainder = (uint64_t) (exact % total_demand) };
        floored += share->milli;
    }
    qsort(m->shares, m->borrower_count, sizeof *m->shares, share_by_remainder);
    for (uint64_t i = 0; i < have - floored && i < m->borrower_count; i++)
        m->shares[i].milli++;
    for (size_t b = 0; b < m->borrower_count; b++)
        m->borrowers[m->shares[b].borrower].left_milli = m->shares[b].milli;
    m->short_supply = false;
}

//  True if every borrower got all it asks (the last pass can stop early).
static bool all_served(matching_t *m)
{
    while (m->open < m->borrower_count && m->borrowers[m->open].left_milli == 0)
        m->open++;
    return m->open == m->borrower_count;
}

//  True if some lender and some borrower have a zone: else the zone pass
//  would serve nobody, and is skipped.
static bool zones_matter(const matching_t *m)
{
    bool lenders = false, borrowers = false;
    for (size_t l = 0; l < m->order.lender_count && !lenders; l++)
        lenders = m->order.lenders[l].edge->zone[0] != '\0';
    for (size_t b = 0; b < m->borrower_count && !borrowers; b++)
        borrowers = m->borrowers[b].edge->zone[0] != '\0';
    return lenders && borrowers;
}

//  The service record, in this matching, of the edge a kept pair names (by
//  its record, epoch and service index when it has them, else by name), or
//  NULL if that edge takes no part in it.
static spw_service_state_t *record_of(const spw_capacity_t *table, const char *service,
                                      const spw_edge_state_t *edge, uint64_t epoch,
                                      size_t index, const char *name, uint64_t stamp)
{
    spw_service_state_t *state = NULL;
    if (edge) {
        if (edge->alive && edge->epoch == epoch && index < edge->service_count)
            state = &edge->services[index];
    }
    else if (name)
        state = spw_capacity_service(spw_capacity_find((spw_capacity_t *) table, name), service);
    return state && state->match_stamp == stamp ? state : NULL;
}

//  The lender and borrower of a kept pair in this matching, if both its
//  edges still lend and borrow the service (and do not avoid each other).
//  Each edge's place among the lenders or borrowers is on its service
//  record (match_at, valid under this matching's stamp): no search.
static bool kept_sides(matching_t *m, const spw_capacity_t *table, const char *service,
                       const spw_match_kept_t *pair, lender_t **lender, borrower_t **borrower)
{
    const spw_service_state_t *lends =
        record_of(table, service, pair->lender_edge, pair->lender_epoch, pair->lender_service,
                  pair->lender, m->stamp);
    const spw_service_state_t *borrows =
        record_of(table, service, pair->borrower_edge, pair->borrower_epoch,
                  pair->borrower_service, pair->borrower, m->stamp);
    if (!lends || !borrows || !lends->match_lends || borrows->match_lends)
        return false;
    *lender = &m->order.lenders[lends->match_at];
    *borrower = &m->borrowers[borrows->match_at];
    return !spw_capacity_avoids((*borrower)->edge, (*lender)->edge);
}

//  The sides of kept pair k as tolerate_kept resolved them, or found now.
static bool kept_pair_sides(matching_t *m, const spw_capacity_t *table, const char *service,
                            const spw_match_kept_t *kept, size_t k, lender_t **lender,
                            borrower_t **borrower)
{
    if (!m->resolved)
        return kept_sides(m, table, service, &kept[k], lender, borrower);
    if (!m->resolved[k].borrower)
        return false;
    *lender = &m->order.lenders[m->resolved[k].lender];
    *borrower = &m->borrowers[m->resolved[k].borrower->match_at];
    return true;
}

//  The keep pass: each pair of the last matching whose edges still lend
//  and borrow gets what it had, as far as supply and demand still go,
//  before anything new is decided. One edge appearing or going then
//  changes its own pairs, not the order-dependent fill of everyone after
//  it. False once out is full.
static bool keep_pairs(matching_t *m, const spw_capacity_t *table, const char *service,
                       const spw_match_kept_t *kept, size_t kept_count)
{
    bool room = true;
    for (size_t k = 0; k < kept_count && room; k++) {
        lender_t *lender;
        borrower_t *borrower;
        if (!kept_pair_sides(m, table, service, kept, k, &lender, &borrower))
            continue;
        uint64_t milli = kept[k].slots_milli;
        if (milli > lender->left_milli)
            milli = lender->left_milli;
        if (milli > borrower->left_milli)
            milli = borrower->left_milli;
        m->keeping = k;
        m->kept_any |= milli > 0;
        room = give(m, lender, borrower, milli);
    }
    m->keeping = SIZE_MAX;
    return room;
}

//  The largest excess over its share first.
static int share_by_excess(const void *x, const void *y)
{
    const share_t *a = x, *b = y;
    if (a->milli != b->milli)
        return a->milli > b->milli ? -1 : 1;
    return a->borrower < b->borrower ? -1 : a->borrower > b->borrower;
}

//  What the keep pass keeps of each borrower (held_milli), each kept pair
//  cut to what its lender has left and, if capped, to what its borrower
//  may still take (left_milli); returns what the lenders have left after
//  it. The lenders are left as they were.
static uint64_t simulate_keep(matching_t *m, const spw_capacity_t *table, const char *service,
                              const spw_match_kept_t *kept, size_t kept_count, bool capped)
{
    for (size_t b = 0; b < m->borrower_count; b++)
        m->borrowers[b].held_milli = 0;
    for (size_t k = 0; k < kept_count; k++) {
        lender_t *lender;
        borrower_t *borrower;
        if (!kept_pair_sides(m, table, service, kept, k, &lender, &borrower))
            continue;
        uint64_t milli = kept[k].slots_milli < lender->left_milli ? kept[k].slots_milli
                                                                  : lender->left_milli;
        uint64_t room = borrower->left_milli > borrower->held_milli
                      ? borrower->left_milli - borrower->held_milli : 0;
        if (capped && milli > room)
            milli = room;
        lender->left_milli -= milli;
        borrower->held_milli += milli;
    }
    uint64_t spare = 0;
    for (size_t l = 0; l < m->order.lender_count; l++) {
        lender_t *lender = &m->order.lenders[l];
        spare += lender->left_milli;
        lender->left_milli = (uint64_t) lender->supply * SPW_MATCH_MILLI;
    }
    return spare;
}

//  Short supply, scaled, with a last matching to keep: every figure that
//  moves moves every borrower's share a little, and keeping each pair
//  exactly at its new share would move some pair of nearly every borrower
//  at every matching (a lender freed here, a top-up from another there:
//  new pairs, each told to both edges). A share that moves by less than a
//  quarter is not news to the edges (spw_match_changed), so the matching
//  keeps what a borrower holds while its share differs from that by at
//  most a quarter of it (so from 0.8 to 1.33 times its share): a borrower
//  over that is cut back to its share; one under it (a newcomer, one
//  whose lender fell) is needy, and filled first, to its share. What the
//  kept pairs leave spare covers the needy if it can; if not, the
//  borrowers furthest over their share are cut to it, largest excess
//  first, until it does. Every lender still gives all of its supply,
//  since what borrowers may take adds up to at least the supply; each
//  borrower ends with 0.8 to 1.33 times its share, unless those over
//  theirs run out.
static void tolerate_kept(matching_t *m, const spw_capacity_t *table, const char *service,
                          const spw_match_kept_t *kept, size_t kept_count)
{
    //  Each kept pair's sides, found once.
    m->resolved = malloc(kept_count * sizeof *m->resolved);
    for (size_t k = 0; m->resolved && k < kept_count; k++) {
        lender_t *lender;
        borrower_t *borrower;
        bool stands = kept_sides(m, table, service, &kept[k], &lender, &borrower);
        m->resolved[k] = (struct resolved) {
            .lender = stands ? (size_t) (lender - m->order.lenders) : 0,
            .borrower = stands ? borrower->state : NULL };
    }
    //  What each holds, lenders' supplies as they are: who keeps it, who
    //  is cut back, who is needy.
    simulate_keep(m, table, service, kept, kept_count, false);
    size_t over = 0;
    for (size_t b = 0; b < m->borrower_count; b++) {
        borrower_t *borrower = &m->borrowers[b];
        uint64_t target = borrower->left_milli, held = borrower->held_milli;
        uint64_t most = (uint64_t) borrower->demand * SPW_MATCH_MILLI;
        borrower->target_milli = target;
        bool material = held > UINT32_MAX || target > UINT32_MAX
                     || spw_match_changed((uint32_t) held, (uint32_t) target);
        borrower->needy = held < target && material;
        if (held > target && !material) {   // keeps what it holds
            borrower->left_milli = held < most ? held : most;
            m->shares[over++] = (share_t) { .borrower = b, .milli = borrower->left_milli - target };
        }
    }
    //  The keep pass as it will run: if what it leaves does not cover the
    //  needy, the borrowers furthest over their share give back their
    //  excess, and it is run again (what a borrower cut back leaves to the
    //  later pairs of its lenders is only known so).
    qsort(m->shares, over, sizeof *m->shares, share_by_excess);
    size_t cut = 0;
    for (int pass = 0; pass < 4; pass++) {
        uint64_t spare = simulate_keep(m, table, service, kept, kept_count, true), need = 0;
        for (size_t b = 0; b < m->borrower_count; b++)
            if (m->borrowers[b].needy && m->borrowers[b].target_milli > m->borrowers[b].held_milli)
                need += m->borrowers[b].target_milli - m->borrowers[b].held_milli;
        if (need <= spare || cut == over)
            break;
        for (uint64_t freed = 0; cut < over && spare + freed < need; cut++) {
            borrower_t *borrower = &m->borrowers[m->shares[cut].borrower];
            borrower->left_milli = borrower->target_milli;
            freed += m->shares[cut].milli;
        }
    }
    //  The needy first in the fill, each side in its order (largest demand
    //  first); each edge's place is on its record.
    borrower_t *ordered = malloc(m->borrower_count * sizeof *ordered);
    if (!ordered)
        return;   // out of memory: the needy are filled in demand order
    size_t at = 0;
    for (int needy = 1; needy >= 0; needy--)
        for (size_t b = 0; b < m->borrower_count; b++)
            if (m->borrowers[b].needy == needy)
                ordered[at++] = m->borrowers[b];
    memcpy(m->borrowers, ordered, m->borrower_count * sizeof *ordered);
    free(ordered);
    for (size_t b = 0; b < m->borrower_count; b++)
        m->borrowers[b].state->match_at = b;
}

//  After the keep pass of tolerate_kept: what is spare beyond the needy's
//  need first tops up the pairs kept, each borrower (not needy) from the
//  lenders it already has, up to its share: a lender's slot freed or
//  grown then stays with a partner (a share that grows by less than a
//  quarter, told to nobody) instead of making a new pair. The surplus is
//  counted from what the keep pass left, not tolerate_kept's estimate
//  (which cannot know what borrowers cut to their share leave to later
//  pairs of their lenders): topping up past it would starve the needy.
//  False once out is full.
static bool top_up_kept(matching_t *m)
{
    uint64_t spare = 0, need = 0;
    for (size_t l = 0; l < m->order.lender_count; l++)
        spare += m->order.lenders[l].left_milli;
    for (size_t b = 0; b < m->borrower_count && m->borrowers[b].needy; b++)
        need += m->borrowers[b].left_milli;
    uint64_t surplus = spare > need ? spare - need : 0;
    bool room = true;
    for (size_t p = 0, kept = m->made; p < kept && surplus > 0 && room; p++) {
        const spw_match_pair_t *pair = &m->out[p];
        lender_t *lender =
            &m->order.lenders[pair->lender->services[pair->lender_service].match_at];
        borrower_t *borrower =
            &m->borrowers[pair->borrower->services[pair->borrower_service].match_at];
        if (borrower->needy)
            continue;
        uint64_t milli = lender->left_milli < borrower->left_milli ? lender->left_milli
                                                                   : borrower->left_milli;
        if (milli > surplus)
            milli = surplus;
        surplus -= milli;
        room = give(m, lender, borrower, milli);
    }
    return room;
}

size_t spw_match_service(const spw_capacity_t *table, const char *service, spw_policy_t policy,
                         uint64_t *random_state, spw_match_pair_t *out, size_t max_out)
{
    return spw_match_service_kept(table, service, policy, random_state, NULL, 0, out, max_out,
                                  NULL);
}

size_t spw_match_service_kept(const spw_capacity_t *table, const char *service,
                              spw_policy_t policy, uint64_t *random_state,
                              const spw_match_kept_t *kept, size_t kept_count,
                              spw_match_pair_t *out, size_t max_out, spw_match_totals_t *totals)
{
    return spw_match_service_spare(table, service, policy, random_state, kept, kept_count, out,
                                   max_out, totals, NULL);
}

// -- what a matching leaves --------------------------------------------------

spw_match_spare_t *spw_match_spare_new(void)
{
    return calloc(1, sizeof(spw_match_spare_t));
}

static void order_free(lender_order_t *order)
{
    free(order->lenders);
    free(order->ordered);
    *order = (lender_order_t) { 0 };
}

void spw_match_spare_destroy(spw_match_spare_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    order_free(&(*self_p)->order);
    free((*self_p)->skipped);
    free(*self_p);
    *self_p = NULL;
}

//  Takes a matching's lenders (whatever its passes left ordered): all of
//  them into one array, a heap by the policy's order of spare as left, or
//  the random order as drawn.
static void spare_keep(spw_match_spare_t *self, lender_order_t *order, bool zoned)
{
    order_free(&self->order);
    self->order = *order;
    *order = (lender_order_t) { 0 };
    lender_order_t *kept = &self->order;
    self->before = kept->before;
    self->zoned = zoned;
    self->first = 0;
    self->total = kept->lender_count;
    if (!self->before) {   // random: ordered holds them all, in order
        self->lenders = kept->ordered;
        self->count = kept->ordered_count;
        return;
    }
    //  The heap's rest after the ordered (popped) ones, then one heap.
    size_t in_heap = kept->lender_count - kept->ordered_count;
    memmove(kept->ordered + kept->ordered_count, kept->lenders, in_heap * sizeof(lender_t));
    self->lenders = kept->ordered;
    self->count = kept->lender_count;
    for (size_t i = self->count / 2; i-- > 0;)
        sift_down(self->lenders, self->count, i, self->before);
}

//  Moves a spent heap lender past count (its spare is gone until the next
//  matching), keeping the heap.
static void spare_drop(spw_match_spare_t *self, size_t at)
{
    size_t last = --self->count;
    if (at != last) {
        lender_t swap = self->lenders[at];
        self->lenders[at] = self->lenders[last];
        self->lenders[last] = swap;
        //  The one moved in may belong above or below.
        at = sift_up(self->lenders, at, self->before);
        sift_down(self->lenders, self->count, at, self->before);
    }
}

size_t spw_match_spare_count(const spw_match_spare_t *self)
{
    return self ? self->total : 0;
}

spw_match_lender_t *spw_match_spare_lender(spw_match_spare_t *self, size_t i)
{
    return self && i < self->total ? &self->lenders[i] : NULL;
}

bool spw_match_spare_zoned(const spw_match_spare_t *self)
{
    return self && self->zoned;
}

//  Puts back into the heap the lenders set aside past count (at the
//  positions skipped[0, skipped), each below the one before): a spent one
//  between them moves out as each comes back.
static void spare_restore(spw_match_spare_t *self, size_t skipped)
{
    for (size_t i = skipped; i-- > 0;) {
        size_t at = (size_t) (self->skipped[i] - self->lenders);
        if (at != self->count) {
            lender_t swap = self->lenders[at];
            self->lenders[at] = self->lenders[self->count];
            self->lenders[self->count] = swap;
        }
        sift_up(self->lenders, self->count++, self->before);
    }
}

//  The best lender that usable takes, by a walk: in order from the first
//  not spent (random), or the best of a zone by the policy (its lenders
//  are anywhere in the heap).
static lender_t *spare_walk(spw_match_spare_t *self, const char *zone,
                            spw_match_use_t (*usable)(spw_match_lender_t *, void *), void *arg)
{
    lender_t *best = NULL;
    for (size_t i = self->before ? 0 : self->first; i < self->count; i++) {
        lender_t *lender = &self->lenders[i];
        if (lender->left_milli == 0) {
            if (!self->before && i == self->first)
                self->first++;
            continue;
        }
        if ((zone && strcmp(lender->edge->zone, zone) != 0)
            || (best && self->before(lender, best) >= 0))
            continue;   // (best is set only under a policy's order)
        spw_match_use_t use = usable(lender, arg);
        if (use == SPW_MATCH_SPENT)
            lender->left_milli = 0;   // the heap drops it when it comes up
        if (use != SPW_MATCH_USE || lender->left_milli == 0
            || (best && self->before(lender, best) >= 0))
            continue;
        best = lender;
        if (!self->before)
            break;
    }
    return best;
}

uint64_t spw_match_spare_take(spw_match_spare_t *self, const char *zone,
                              spw_match_use_t (*usable)(spw_match_lender_t *, void *), void *arg,
                              uint64_t want, spw_match_lender_t *taken)
{
    if (!self || !self->lenders || want == 0)
        return 0;
    lender_t *found = NULL;
    size_t skipped = 0;
    if (!self->before || zone)
        found = spare_walk(self, zone, usable, arg);
    else
        //  The heap's top, setting aside those this borrower cannot use.
        while (self->count > 0) {
            lender_t *top = &self->lenders[0];
            uint64_t left = top->left_milli;
            spw_match_use_t use = left == 0 ? SPW_MATCH_SPENT : usable(top, arg);
            if (use == SPW_MATCH_USE && top->left_milli == left) {
                found = top;
                break;
            }
            if (use == SPW_MATCH_USE && top->left_milli > 0) {
                sift_down(self->lenders, self->count, 0, self->before);   // it had less
                continue;
            }
            if (use == SPW_MATCH_SPENT || top->left_milli == 0) {
                spare_drop(self, 0);
                continue;
            }
            if (spw_grow(&self->skipped, &self->skipped_size, skipped + 1,
                         sizeof *self->skipped, 8, 0)
                != 0)
                break;   // out of memory: no lender (the matching serves it)
            spare_drop(self, 0);   // set aside past count, put back below
            self->skipped[skipped++] = &self->lenders[self->count];
        }
    uint64_t milli = 0;
    if (found) {
        milli = found->left_milli < want ? found->left_milli : want;
        found->left_milli -= milli;
        *taken = *found;
        if (self->before && !zone) {   // on top of the heap: it sinks, or leaves if spent
            if (found->left_milli == 0)
                spare_drop(self, 0);
            else
                sift_down(self->lenders, self->count, 0, self->before);
        }
        else if (self->before) {   // found by a walk, anywhere in the heap
            size_t at = (size_t) (found - self->lenders);
            if (found->left_milli == 0)
                spare_drop(self, at);
            else
                sift_down(self->lenders, self->count, at, self->before);
        }
    }
    if (skipped)
        spare_restore(self, skipped);
    return milli;
}

size_t spw_match_service_spare(const spw_capacity_t *table, const char *service,
                               spw_policy_t policy, uint64_t *random_state,
                               const spw_match_kept_t *kept, size_t kept_count,
                               spw_match_pair_t *out, size_t max_out, spw_match_totals_t *totals,
                               spw_match_spare_t *spare)
{
    if (totals)
        *totals = (spw_match_totals_t) { 0 };
    assert(table && service && (out || max_out == 0));
    assert(policy == SPW_POLICY_MOST_SPARE || policy == SPW_POLICY_RANDOM
           || policy == SPW_POLICY_SHORTEST_WAIT);
    const spw_capacity_entry_t *entries;
    size_t edges = spw_capacity_taking_part(table, service, &entries);
    if (edges == 0 || max_out == 0)
        return 0;
    static uint64_t stamps;   // one a matching: the hub's loop is one thread
    matching_t m = {
        .order = { .lenders = calloc(edges, sizeof(lender_t)),
                   .ordered = calloc(edges, sizeof(lender_t)) },
        .borrowers = calloc(edges, sizeof *m.borrowers),
        .shares = calloc(edges, sizeof *m.shares),
        .next_pair = malloc(max_out * sizeof *m.next_pair),
        .out = out,
        .max_out = max_out,
        .keeping = SIZE_MAX,
        .stamp = ++stamps,
    };
    if (!m.order.lenders || !m.order.ordered || !m.borrowers || !m.shares || !m.next_pair) {
        order_free(&m.order);
        free(m.borrowers);
        free(m.shares);
        free(m.next_pair);
        return 0;
    }

    uint64_t total_supply = 0, total_demand = 0;
    bool lenders_zoned = false;
    for (size_t i = 0; i < edges; i++) {
        const spw_edge_state_t *edge = entries[i].edge;
        spw_service_state_t *state = &edge->services[entries[i].service];
        uint32_t supply = edge->draining ? 0 : spw_match_supply(state);
        uint32_t demand = spw_match_demand(state);
        if (supply > 0) {
            state->match_stamp = m.stamp;
            state->match_lends = true;
            state->match_at = m.order.lender_count;
            m.order.lenders[m.order.lender_count++] = (lender_t) {
                .edge = edge,
                .epoch = edge->epoch,
                .service = entries[i].service,
                .supply = supply,
                .rate = state->rate >= 0.0 ? state->rate : 0.0,   // NaN reads as 0
                .left_milli = (uint64_t) supply * SPW_MATCH_MILLI,
            };
            total_supply += supply;
            lenders_zoned |= edge->zone[0] != '\0';
        }
        else if (demand > 0) {
            m.borrowers[m.borrower_count++] = (borrower_t) {
                .edge = edge,
                .service = entries[i].service,
                .state = state,
                .demand = demand,
                .name_key = name_key(edge->name),
                .left_milli = (uint64_t) demand * SPW_MATCH_MILLI,
                .first_pair = SIZE_MAX,
            };
            total_demand += demand;
        }
    }
    if (m.order.lender_count > 0 && m.borrower_count > 0) {
        qsort(m.borrowers, m.borrower_count, sizeof *m.borrowers, borrower_by_demand);
        for (size_t b = 0; b < m.borrower_count; b++) {
            m.borrowers[b].state->match_stamp = m.stamp;
            m.borrowers[b].state->match_lends = false;
            m.borrowers[b].state->match_at = b;
        }
        m.short_supply = total_supply < total_demand;
        bool zoned = zones_matter(&m);
        //  Short supply is scaled and filled unless zones matter (then each
        //  lender splits in proportion, its zone first), and always past
        //  what out can hold.
        bool scaled =
            m.short_supply && (!zoned || m.order.lender_count > max_out / m.borrower_count);
        if (scaled)
            scale_demand(&m, total_supply, total_demand);
        //  Kept pairs fragment over many matchings (a newcomer is filled
        //  from what others give back, a little from each); when keeping
        //  them could leave out no room for the fill, a fresh matching
        //  (lenders + borrowers pairs at most) gathers them again.
        if (m.order.lender_count + m.borrower_count > max_out
            || kept_count > max_out - m.order.lender_count - m.borrower_count)
            kept_count = 0;
        if (scaled && kept_count)
            tolerate_kept(&m, table, service, kept, kept_count);
        //  Short supply split in proportion shares every lender anew:
        //  nothing to keep there. The keep pass finds lenders by their
        //  place as found, so it comes before they are ordered.
        bool room = m.short_supply || !kept_count
                 || keep_pairs(&m, table, service, kept, kept_count);
        if (room && scaled && kept_count)
            room = top_up_kept(&m);
        order_lenders(&m.order, policy, random_state);
        lender_t *lender;
        for (size_t l = 0; zoned && room && (lender = lender_at(&m.order, l)); l++)
            room = take_turn(&m, lender, true);
        m.open = 0;
        for (size_t l = 0; room && !all_served(&m) && (lender = lender_at(&m.order, l)); l++)
            room = take_turn(&m, lender, false);
    }
    else if (spare && m.order.lender_count > 0) {
        //  Nobody to serve: the lenders are still ordered for the caller,
        //  on a copy of the random state (which only a matching advances).
        uint64_t copy = random_state ? *random_state : 0;
        order_lenders(&m.order, policy, &copy);
    }
    if (totals) {
        *totals = (spw_match_totals_t) { .supply = total_supply, .demand = total_demand };
        for (size_t p = 0; p < m.made; p++)
            totals->given_milli += out[p].slots_milli;
    }
    if (spare)
        spare_keep(spare, &m.order, lenders_zoned);
    else
        order_free(&m.order);
    free(m.resolved);
    free(m.next_pair);
    free(m.borrowers);
    free(m.shares);
    return m.made;
}
