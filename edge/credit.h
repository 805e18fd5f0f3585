//  credit.h: the edge's credit ledger, both sides of lending by credit.
//
//  A lender lends idle worker slots of a service to the borrowers the hub
//  matched it with. For each (borrower link, service) it keeps a *loan*:
//  the hub's share for that borrower (slots_milli, thousandths of a slot),
//  the credits offered and not yet used (outstanding, valid until their
//  lease ends) and the borrower's tasks it holds now (held: prefetched in
//  its queue or on a worker). The lender's loop says how much it may lend
//  (limit = lendable workers x depth, where depth is 1 + the tasks
//  prefetched per lent worker); the ledger decides who gets the next
//  credits. Sharing is stride scheduling: each credit advances its loan's
//  pass by 1/slots, and the loan with the smallest pass gets the next one,
//  so over time each borrower gets credits in proportion to its share.
//  A loan never has more than ceil(depth x slots) credits and tasks out at
//  once, so a borrower is never offered what the hub did not mean for it.
//
//  A borrower keeps, for each (lender link, service), a *holding*: the
//  credits it may spend, until when, and whether it spent any lately, so
//  that unused credit can be given back.
//
//  Invariants: outstanding and held are never negative; the credits a
//  lender offers for a service never take outstanding + held over the
//  limit the loop gives; an expired credit is worth nothing on either side
//  (the lender may still take a task sent on it if it has room: the
//  serving edge decides for itself). Links and services are opaque keys
//  owned by the loop. Pure: no socket, no clock; times are arguments.

#ifndef SPW_EDGE_CREDIT_H_INCLUDED
#define SPW_EDGE_CREDIT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct spw_credit_t spw_credit_t;

//  Credits to send (or revoke, or return) on one link for one service.
typedef struct {
    void *link;
    void *service;
    uint32_t count;
} spw_credit_move_t;

//  Creates a ledger with room for max_loans loans and max_holdings
//  holdings; depth is the credits and tasks one lent slot may have out
//  (1 + prefetch). NULL if out of memory or a limit is 0.
spw_credit_t *spw_credit_new(size_t max_loans, size_t max_holdings, uint32_t depth);

//  Destroys the ledger; nulls the pointer. Safe on NULL.
void spw_credit_destroy(spw_credit_t **self_p);

// -- Lending ------------------------------------------------------------

//  Sets the hub's shares for a service's borrowers: links[i] gets
//  slots_milli[i] (> 0); open[i] says whether the link can be told
//  anything yet (credit is offered only on open links). Every other
//  borrower's match of the service ends. Fills out with the unused credits
//  to revoke (of ended or shrunk matches; forgotten here), at most max;
//  returns how many moves were written. A new loan that finds the table
//  full is left out.
size_t spw_credit_rematch(spw_credit_t *self, void *service, void *const *links,
                          const uint32_t *slots_milli, const bool *open, size_t count,
                          spw_credit_move_t *out, size_t max);

//  A link can now be told things (its HELLO came, or it came by a new
//  route): its loans may be offered, and credit offered before, on a route
//  that may be gone, is forgotten.
void spw_credit_open_link(spw_credit_t *self, void *link);

//  Credit offered to a link could not be sent: it was never out.
void spw_credit_unoffer(spw_credit_t *self, void *link, void *service, uint32_t count);

//  Ends every match (the hub is gone): no credit is offered or renewed
//  until the next match; what is out runs out its lease.
void spw_credit_unmatch_all(spw_credit_t *self);

//  Decides new credits for service while its loans' outstanding + held
//  stay within limit; each offered loan's lease ends at expires. Writes one
//  move per loan that gets credits, at most max; returns how many.
size_t spw_credit_offer(spw_credit_t *self, void *service, uint32_t limit, int64_t expires,
                        spw_credit_move_t *out, size_t max);

//  Takes back unused credits of service until outstanding + held is
//  within limit, from the loans furthest ahead first. Writes the moves.
size_t spw_credit_excess(spw_credit_t *self, void *service, uint32_t limit,
                         spw_credit_move_t *out, size_t max);

//  A task of a borrower arrived for service: true (and the task is held)
//  if it came on an outstanding credit. If not, and room is set (the loop
//  has an idle worker for it), the task is held anyway and true returned;
//  else false: answer it busy.
bool spw_credit_arrive(spw_credit_t *self, void *link, void *service, bool room);

//  A borrower's task this edge held is finished or given back.
void spw_credit_release(spw_credit_t *self, void *link, void *service);

//  The borrower gave back count unused credits; it is offered none until
//  the next spw_credit_lapse.
void spw_credit_returned(spw_credit_t *self, void *link, void *service, uint32_t count);

//  Forgets the outstanding credits whose lease ended by now (call it once a
//  tick: it also ends the rest of borrowers that gave credit back).
void spw_credit_lapse(spw_credit_t *self, int64_t now);

//  Extends to expires the lease of every loan with credits out whose match
//  stands and that was offered credit or sent a task since the last call;
//  fills out with the loans to tell (count 0: a refresh), at most max.
//  Credit a borrower leaves untouched for a whole lease lapses.
size_t spw_credit_refresh(spw_credit_t *self, int64_t expires, spw_credit_move_t *out,
                          size_t max);

//  What a service's loans have out: outstanding credits plus held tasks.
uint32_t spw_credit_lent(const spw_credit_t *self, void *service);

//  True if the service has a loan with a standing match.
bool spw_credit_lending(const spw_credit_t *self, void *service);

//  True if any loan or holding refers to the service (it must not be freed).
bool spw_credit_uses(const spw_credit_t *self, void *service);

// -- Borrowing ----------------------------------------------------------

//  A lender offered count credits of service (count may be 0: a refresh),
//  valid lease_ms from now. -1 if a new holding finds the table full.
int spw_credit_grant(spw_credit_t *self, void *link, void *service, uint32_t count,
                     uint32_t lease_ms, int64_t now);

//  Sets the hub's share of a lender's slots for us (0: no match), which
//  tells credit for a slot that should be idle from credit for a task to
//  wait there (prefetched). Makes the holding if need be; -1 if full.
int spw_credit_share(spw_credit_t *self, void *link, void *service, uint32_t slots_milli);

//  Spends one credit of service on the holding whose lender has the
//  fewest of our tasks for its share, and counts the task in flight there.
//  Credit beyond the share (the task would wait there behind another) is
//  spent only if prefetch is set. NULL if there is no credit to spend.
void *spw_credit_take(spw_credit_t *self, void *service, bool prefetch, int64_t now);

//  A spent credit came back unused (the task could not be sent).
void spw_credit_untake(spw_credit_t *self, void *link, void *service);

//  A task sent on credit is no longer in flight there (answered or lost).
void spw_credit_settle(spw_credit_t *self, void *link, void *service);

//  The lender revoked up to count (0: all) unused credits of service.
void spw_credit_revoked(spw_credit_t *self, void *link, void *service, uint32_t count);

//  Gives up every unused credit held from a link (its lender is cut off):
//  fills out with what to RETURN, one move per service, and zeroes them;
//  shares and tasks in flight stay. Returns the moves written, at most max.
size_t spw_credit_give_up(spw_credit_t *self, void *link, spw_credit_move_t *out, size_t max);

//  True if a link has valid credits for any service.
bool spw_credit_link_holds(const spw_credit_t *self, void *link, int64_t now);

//  Valid credits held for service.
uint32_t spw_credit_held(const spw_credit_t *self, void *service, int64_t now);

//  Fills out with the holdings whose credits went unused since the last
//  call and whose service waits for nothing (idle(service, arg) is true),
//  and zeroes them: they go back to their lenders. Expired holdings are
//  dropped. Returns how many moves were written, at most max.
size_t spw_credit_unused(spw_credit_t *self, bool (*idle)(void *service, void *arg), void *arg,
                         int64_t now, spw_credit_move_t *out, size_t max);

// -- Both ---------------------------------------------------------------

//  Forgets every loan and holding of a link (it closed or its edge died).
void spw_credit_forget_link(spw_credit_t *self, void *link);

//  Forgets every loan and holding of a service (it is being freed).
void spw_credit_forget_service(spw_credit_t *self, void *service);

#endif
