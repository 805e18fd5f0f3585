//  peers.h: the hub loop's side table of edges, beside the capacity table.
//
//  One peer per edge name: its routing identity on the control socket (one
//  connection speaks for one edge), the samples of its delegated totals
//  from which status computes rates, what the hub last told it of its
//  matches (managed by the loop), and the partners it was matched with
//  recently, which are the only edges that hear of its death (MEMBER). The
//  table finds a peer by name or by identity in O(1) (hashed) and keeps the
//  peers in use in a dense array for iteration, so that no lookup grows
//  with the number of edges. No socket, no clock: callers pass times in.

#ifndef SPW_HUB_PEERS_H_INCLUDED
#define SPW_HUB_PEERS_H_INCLUDED

#include "capacity.h"
#include "spw_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Partners remembered per peer (the most recent), and for how long.
#define SPW_PEERS_PARTNERS_MAX 64
#define SPW_PEERS_PARTNER_MS   60000

typedef struct spw_peers_t spw_peers_t;

//  What the hub last told an edge of one service: a partner and its share,
//  or (partner "", role 0) the mark "no live edge offers it".
typedef struct {
    char service[SPW_MAX_SERVICE_LEN + 1];
    char partner[SPW_CAPACITY_NAME_MAX + 1];
    uint8_t role;          // spw_match_role_t, 0 for the no-offer mark
    uint32_t slots_milli;
    uint64_t epoch;        // the partner's process, as told
    int64_t seen;          // ms: the last matching that decided it
    bool held;             // no matching decides it now: it ends when its hold
                           // runs out (the heartbeat's slices look)
} spw_told_t;

typedef struct {
    char name[SPW_CAPACITY_NAME_MAX + 1];
    uint64_t hash;         // of name, to pass over the others without strcmp
    int64_t last;          // ms: when a matching last paired them
} spw_partner_t;

typedef struct {
    char name[SPW_CAPACITY_NAME_MAX + 1];
    uint64_t epoch;                       // of the last registration
    uint8_t identity[SPW_MAX_IDENTITY_LEN];
    size_t identity_len;                  // 0: no route to it
    bool sampled;                         // out_total/in_total hold a sample
    uint64_t out_total, in_total;
    int64_t sampled_at;
    double out_per_s, in_per_s;
    spw_told_t *told;                     // the loop's, grown as needed (told_size)
    size_t told_count, told_size, told_limit;
    bool told_full;                       // logged that told could not hold all
    spw_partner_t *partners;              // grown as needed, to SPW_PEERS_PARTNERS_MAX
    size_t partner_count, partner_size;
    uint64_t visited;                     // the loop's mark while it matches a service
    uint64_t lends_visit;                 // the matching in which it lends to lends_to
    char lends_to[SPW_CAPACITY_NAME_MAX + 1];
    bool lends_many;                      // ... and to others too
    uint64_t concerned;                   // the matching that tells it afresh
    uint64_t retell;                      // registered again, told nothing since: the hub's
                                          // beat whose matchings retell it (0: none)
    int64_t spoke_at;                     // ms: the last WELCOME, MATCH or MEMBER sent to it
    uint64_t route;                       // this route's serial, unique in the table (0: none)
    size_t queued;                        // messages to this route in the hub's outbox
} spw_peer_t;

//  A table of at most limit peers. NULL if out of memory or limit is 0.
spw_peers_t *spw_peers_new(size_t limit);
void spw_peers_destroy(spw_peers_t **self_p);

//  The peer of name, or NULL.
spw_peer_t *spw_peers_find(spw_peers_t *self, const char *name);

//  The peer routed through identity, or NULL.
spw_peer_t *spw_peers_by_identity(spw_peers_t *self, const void *identity, size_t len);

//  The peer of name, made (zeroed, no route) if new. NULL if the table is
//  full or out of memory.
spw_peer_t *spw_peers_claim(spw_peers_t *self, const char *name);

//  Routes peer through identity, taking it from any other peer that had it.
//  A new route gets a new serial (peer->route) and nothing queued; peer's
//  route already, it stays as it is.
void spw_peers_route(spw_peers_t *self, spw_peer_t *peer, const void *identity, size_t len);

//  Frees a peer (and what it was told and its partners). The pointer is
//  invalid afterwards; its slot may serve another name.
void spw_peers_release(spw_peers_t *self, spw_peer_t *peer);

//  The peers in use and the i-th of them (NULL past the end); release
//  moves the last one into the hole.
size_t spw_peers_count(const spw_peers_t *self);
spw_peer_t *spw_peers_at(spw_peers_t *self, size_t i);

//  Slots, and the peer in slot i if it is in use (else NULL): a peer keeps
//  its slot for as long as it is in use, so a walk over slots in slices
//  meets each peer once per round whatever comes and goes.
size_t spw_peers_limit(const spw_peers_t *self);
spw_peer_t *spw_peers_slot(spw_peers_t *self, size_t i);

//  Remembers that peer was matched with partner at now (the oldest partner
//  is forgotten when SPW_PEERS_PARTNERS_MAX are held). Out of memory: not
//  remembered, which only delays the partner's news to its silence.
void spw_peers_met(spw_peer_t *peer, const char *partner, int64_t now);

//  Forgets peer's partners not paired within SPW_PEERS_PARTNER_MS of now.
void spw_peers_forget_partners(spw_peer_t *peer, int64_t now);

#endif
