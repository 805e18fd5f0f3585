//  match.h: the hub's matchmaking, deciding which edges lend to which.
//
//  Overflow moves by credit: a lender edge offers its idle slots of a
//  service directly to borrower edges, and the hub only decides who lends to
//  whom and in what proportion. This module is that decision, for one
//  service at a time, from the capacity table alone (no socket, no clock, no
//  global; the random state is an argument).
//
//  Roles, per service, as the edge's last state says (hub/capacity.h): the
//  edge reports its settled role, the last one spw_role_of gave for
//  SPW_ROLE_STEADY_MS without a break, so that an edge whose queue and idle
//  workers take turns keeps its role rather than being matched and
//  unmatched at each turn. The figures give the amounts:
//  - a BORROWER has no idle worker and tasks its workers cannot take:
//    demand = queued + borrowed (borrowed counts, so that demand does not
//    fall as its queue drains into credit it already holds);
//  - a LENDER is not a borrower, has nothing queued and nothing borrowed,
//    has workers, and supply = idle + lent > 0, at most workers (lent
//    counts, so that supply does not fall as its idle slots go out on
//    loan). An edge whose own tasks are out at lenders is not lending: its
//    idle worker is an instant between its own tasks, and lending it would
//    send work round in a circle while every edge is overloaded;
//  - anyone else is neither; in particular an edge with idle workers and
//    queued tasks at once is turning over, and takes no part.
//  So an edge is never both, never matched with itself, and the matching is
//  stable while lending proceeds: moving a task from a queue to a lent slot
//  changes neither supply nor demand. Dead edges take no part.
//
//  The policy orders the lenders; each lender first serves the borrowers of
//  its own zone (non-empty, equal zone strings), in a pass over every
//  lender, and only then, in a second pass, anyone left. Borrowers are taken
//  largest demand first, ties by name. Two regimes:
//  - enough supply (total supply >= total demand): each lender in turn gives
//    borrowers their whole remaining demand, so each borrower is served
//    exactly, by as few lenders as the order allows, and lenders not needed
//    get no pairs;
//  - short supply: each borrower's demand is scaled to its share of the
//    whole supply (in proportion to its backlog, largest-remainder rounding
//    to thousandths of a slot, so the shares add up to the supply exactly)
//    and the lenders fill those shares as with enough supply, in at most
//    lenders + borrowers pairs. With a last matching to keep, a borrower
//    keeps what it holds while its share is within a quarter of that (not
//    news to the edges, spw_match_changed); one further over is cut to
//    it, one further under (a newcomer) is filled to it first, from spare
//    and else from the borrowers furthest over theirs, and spare beyond
//    that tops up kept pairs before it makes new ones. Where zones matter (some lender and some
//    borrower have one), each lender's whole supply is instead split among
//    the borrowers it serves in proportion to their remaining demand, its
//    zone's first, which shares every lender among all borrowers; a lender
//    whose zone's remaining demand is below its supply gives that zone all
//    of it and splits the rest in the second pass.
//  Trade-offs: short supply with zones makes lenders x borrowers pairs
//  (past the caller's max_out, demand is scaled to the supply and filled
//  instead); near total supply = total demand
//  the regime flips and many pairs change, which spw_match_changed lets the
//  hub damp; the policy order is taken once, on the initial supply.
//
//  Pairs point at the table's records and stay valid until the next
//  register or forget call on the table (see capacity.h).

#ifndef SPW_HUB_MATCH_H_INCLUDED
#define SPW_HUB_MATCH_H_INCLUDED

#include "capacity.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPW_MATCH_MILLI          1000        // thousandths of a slot in a slot
#define SPW_MATCH_COUNT_MAX      (1u << 20)  // supply and demand read as at most this many slots
                                             // or tasks, so shares fit in 64-bit arithmetic
#define SPW_MATCH_CHANGE_PERCENT 25          // a weight change above this is material

typedef enum {
    SPW_POLICY_MOST_SPARE,     // most spare first; ties in name order (the default)
    SPW_POLICY_RANDOM,         // a uniformly random order, as the seed's peering3
    SPW_POLICY_SHORTEST_WAIT,  // highest rate first; ties by larger supply, then name
} spw_policy_t;

//  The policy's config name ("most-spare", "random", "shortest-wait").
const char *spw_policy_name(spw_policy_t policy);

//  Reads a policy's config name into *policy; -1 if it names none.
int spw_policy_parse(const char *name, spw_policy_t *policy);

//  The next number of a splitmix64 sequence, advancing *state; exposed so
//  that the hub can derive seeds and tests can predict draws.
uint64_t spw_match_random_next(uint64_t *state);

//  One decision: lender lends slots_milli thousandths of a slot of the
//  service to borrower (>= 1). The lender uses it both as the borrower's
//  weight among its borrowers and as a cap on what it keeps outstanding
//  with that borrower.
typedef struct {
    const spw_edge_state_t *lender, *borrower;
    uint32_t slots_milli;
    //  spw_match_service_kept: the index of the kept pair it continues
    //  (its share may differ), SIZE_MAX for a new pair.
    size_t kept;
    //  The index of each edge's record of the service (in its services),
    //  for a kept pair of the next matching.
    size_t lender_service, borrower_service;
} spw_match_pair_t;

//  The policies order the lenders (spw_policy_t above):
//  - SPW_POLICY_MOST_SPARE: most spare first (supply less what the keep
//    pass gave it), ties by name;
//  - SPW_POLICY_RANDOM: a uniformly random order drawn from *random_state
//    (splitmix64; NULL reads as a seed of 0), independent of the table's
//    registration order; it advances the state whenever there are lenders
//    and borrowers. To keep a random matching stable between state changes,
//    pass a copy of the same state each time;
//  - SPW_POLICY_SHORTEST_WAIT: highest rate (tasks/s) first, ties by more
//    spare, then name. Under lending every lender has an empty queue, so
//    queued / rate would be 0 for all of them; what a borrowed task waits
//    for is the lender's turnover, and the edge's recent rate is the hub's
//    only measure of it (a higher rate also means the DONEs that renew
//    credit come back sooner). Lenders that served nothing recently (rate
//    0, typically fully idle ones) fall back to most-spare among
//    themselves.
//  Other policies leave *random_state alone.

//  Decides the matching of service over the table's live edges and writes
//  at most max_out pairs to out (owned by the caller), in the order decided:
//  the zone pass first, each pass lender by lender in policy order; returns
//  how many it wrote. Pairs past max_out are dropped, which under-lends but
//  never over-lends. 0 also when out of memory (no new lending is safe).
size_t spw_match_service(const spw_capacity_t *table, const char *service, spw_policy_t policy,
                         uint64_t *random_state, spw_match_pair_t *out, size_t max_out);

//  A pair of the last matching, for spw_match_service_kept: by name, or,
//  faster, by the records, epochs and service indexes of its pair (the
//  names then unused): a record whose epoch changed is another process.
typedef struct {
    const char *lender, *borrower;
    uint32_t slots_milli;
    const spw_edge_state_t *lender_edge, *borrower_edge;   // NULL: by name
    uint64_t lender_epoch, borrower_epoch;
    size_t lender_service, borrower_service;
} spw_match_kept_t;

//  spw_match_service, keeping the last matching where it still holds:
//  unless supply is short and split in proportion (which shares every
//  lender anew), each kept pair whose edges still lend and borrow (and do
//  not avoid each other) is given first what it had, up to what supply and
//  demand still allow, and the passes above then place what is left. So
//  one borrower coming, going or changing its backlog changes its own
//  pairs, not the fill of every borrower after it in the order; a lender
//  and a borrower appear in one pair at most. The kept pairs come first in
//  out, in their order.
//  If totals is not NULL it gets the matching's total supply and demand
//  (slots and tasks, as read) and what the pairs give (thousandths).
typedef struct {
    uint64_t supply, demand, given_milli;
} spw_match_totals_t;

size_t spw_match_service_kept(const spw_capacity_t *table, const char *service,
                              spw_policy_t policy, uint64_t *random_state,
                              const spw_match_kept_t *kept, size_t kept_count,
                              spw_match_pair_t *out, size_t max_out, spw_match_totals_t *totals);

//  What a matching leaves: its lenders, each with what it has not given,
//  in the policy's order of what they have left. The hub serves a borrower
//  that appears between two matchings from it at once, as the next
//  matching's fill would (docs/scheduling.md).
typedef struct spw_match_spare_t spw_match_spare_t;

typedef struct {
    const spw_edge_state_t *edge;
    uint64_t epoch;        // the edge's, when matched: another epoch is another process
    size_t service;        // the index of its record of the service
    uint32_t supply;       // slots, as read and ordered by the policy
    double rate;           // tasks/s, >= 0
    uint64_t left_milli;   // supply the matching did not give (the caller may take it)
} spw_match_lender_t;

spw_match_spare_t *spw_match_spare_new(void);
void spw_match_spare_destroy(spw_match_spare_t **self_p);

//  The lenders of the last matching, all of them, in no particular order
//  (to inspect); the records they point at are the table's (capacity.h).
size_t spw_match_spare_count(const spw_match_spare_t *self);
spw_match_lender_t *spw_match_spare_lender(spw_match_spare_t *self, size_t i);

//  True if some lender of the last matching has a zone: a borrower with a
//  zone is served by its zone's lenders first (the zone pass).
bool spw_match_spare_zoned(const spw_match_spare_t *self);

//  What a caller says of a lender offered to one borrower: take from it,
//  skip it (this borrower may not use it), or spent (nobody may: it no
//  longer lends). usable may lower the lender's left_milli to what it
//  really has now (its supply fell since the matching).
typedef enum { SPW_MATCH_USE, SPW_MATCH_SKIP, SPW_MATCH_SPENT } spw_match_use_t;

//  Takes up to want thousandths from the first lender, in the policy's
//  order of the spare left now, that usable takes (with zone, of that zone
//  only), as the next matching's fill would; *taken gets a copy of that
//  lender as it was taken from. Returns what it took, 0 if no lender has
//  any. O(log lenders) a take, plus the lenders skipped; a zone's or the
//  random order's takes walk the lenders.
uint64_t spw_match_spare_take(spw_match_spare_t *self, const char *zone,
                              spw_match_use_t (*usable)(spw_match_lender_t *, void *), void *arg,
                              uint64_t want, spw_match_lender_t *taken);

//  spw_match_service_kept that also leaves its lenders in spare (if not
//  NULL), replacing what spare held. Nothing to match (no lender or no
//  borrower) still orders the lenders, without advancing *random_state.
size_t spw_match_service_spare(const spw_capacity_t *table, const char *service,
                               spw_policy_t policy, uint64_t *random_state,
                               const spw_match_kept_t *kept, size_t kept_count,
                               spw_match_pair_t *out, size_t max_out, spw_match_totals_t *totals,
                               spw_match_spare_t *spare);

//  The slots a service's state can lend: idle + lent capped at workers and
//  at SPW_MATCH_COUNT_MAX if the edge is a lender, else 0. Ignores alive.
uint32_t spw_match_supply(const spw_service_state_t *state);

//  The tasks a service's state wants lent: queued + borrowed capped at
//  SPW_MATCH_COUNT_MAX if the edge is a borrower, else 0. Ignores alive.
uint32_t spw_match_demand(const spw_service_state_t *state);

//  True if a pair's weight moved enough to be worth telling the edges: by
//  more than SPW_MATCH_CHANGE_PERCENT of sent_milli, or from 0 to non-0 or
//  back. The hub sends a new match only on a material change.
bool spw_match_changed(uint32_t sent_milli, uint32_t now_milli);

#endif
