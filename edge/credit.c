//  credit.c: the credit ledger (see credit.h).
//
//  Loans and holdings sit in two arrays allocated once at their limits and
//  are found by a linear scan: an edge has at most a few dozen links and a
//  handful of services lent or borrowed at once, and a scan of that many
//  entries costs less than keeping a hash in step. Removing swaps the last
//  entry in, so the arrays stay dense.

#include "credit.h"

#include <stdlib.h>

//  Shares are in thousandths of a slot (as the hub's MATCH gives them).
#define SPW_CREDIT_MILLI 1000u
//  The pass a credit advances a loan of one whole slot by (stride scheduling).
#define SPW_CREDIT_STRIDE_SLOT 1000.0

typedef struct {
    void *link;
    void *service;
    uint32_t slots_milli;  // the hub's share; 0: the match ended
    uint32_t outstanding;  // credits offered, not yet used, within lease
    uint32_t held;         // its tasks held here now
    int64_t expires;       // when outstanding credits lapse
    double pass;           // stride position
    bool open;             // the link can be told: credit may be offered
    bool resting;          // it gave credit back: none offered until the next lapse call
    bool touched;          // offered credit or sent a task since the last refresh
} spw_loan_t;

typedef struct {
    void *link;
    void *service;
    uint32_t credits;
    int64_t expires;
    bool used;             // a credit was spent since the last spw_credit_unused
    uint32_t slots_milli;  // the hub's share of the lender's slots for us
    uint32_t inflight;     // our tasks sent there on credit, not yet answered
} spw_holding_t;

struct spw_credit_t {
    spw_loan_t *loans;
    size_t loan_count, loan_limit;
    spw_holding_t *holdings;
    size_t holding_count, holding_limit;
    uint32_t depth;
};

spw_credit_t *spw_credit_new(size_t max_loans, size_t max_holdings, uint32_t depth)
{
    if (!max_loans || !max_holdings || !depth)
        return NULL;
    spw_credit_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loans = calloc(max_loans, sizeof *self->loans);
    self->holdings = calloc(max_holdings, sizeof *self->holdings);
    if (!self->loans || !self->holdings) {
        spw_credit_destroy(&self);
        return NULL;
    }
    self->loan_limit = max_loans;
    self->holding_limit = max_holdings;
    self->depth = depth;
    return self;
}

void spw_credit_destroy(spw_credit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->loans);
    free((*self_p)->holdings);
    free(*self_p);
    *self_p = NULL;
}

// -- Lending ------------------------------------------------------------

static spw_loan_t *find_loan(const spw_credit_t *self, void *link, void *service)
{
    for (size_t i = 0; i < self->loan_count; i++)
        if (self->loans[i].link == link && self->loans[i].service == service)
            return &self->loans[i];
    return NULL;
}

//  Drops a loan with nothing out and no match: it is of no more use.
//  True if it went (the last loan now sits in its place).
static bool drop_if_done(spw_credit_t *self, spw_loan_t *loan)
{
    if (loan->slots_milli || loan->outstanding || loan->held)
        return false;
    *loan = self->loans[--self->loan_count];
    return true;
}

static double min_pass(const spw_credit_t *self, void *service);

//  A new loan of link for service, starting at the smallest pass so that
//  it gets no burst for having started late; NULL if the table is full.
static spw_loan_t *new_loan(spw_credit_t *self, void *link, void *service)
{
    if (self->loan_count >= self->loan_limit)
        return NULL;
    double start = min_pass(self, service);
    spw_loan_t *loan = &self->loans[self->loan_count++];
    *loan = (spw_loan_t) { .link = link, .service = service, .pass = start };
    return loan;
}

//  Takes up to count of a loan's outstanding credits back; returns how many.
static uint32_t take_back(spw_loan_t *loan, uint32_t count)
{
    uint32_t back = count < loan->outstanding ? count : loan->outstanding;
    loan->outstanding -= back;
    return back;
}

//  The most credits and tasks a loan may have out at once.
static uint32_t loan_cap(const spw_credit_t *self, const spw_loan_t *loan)
{
    uint64_t cap = ((uint64_t) self->depth * loan->slots_milli + SPW_CREDIT_MILLI - 1)
                 / SPW_CREDIT_MILLI;
    return cap ? (uint32_t) cap : 1;
}

//  The smallest pass among a service's matched loans (0 if none).
static double min_pass(const spw_credit_t *self, void *service)
{
    double least = 0;
    bool any = false;
    for (size_t i = 0; i < self->loan_count; i++) {
        const spw_loan_t *loan = &self->loans[i];
        if (loan->service == service && loan->slots_milli && (!any || loan->pass < least)) {
            least = loan->pass;
            any = true;
        }
    }
    return least;
}

//  Sets one loan's share (0: the match ends); returns the unused credits
//  to revoke because it ended or shrank, or -1 if a new loan has no room.
static int64_t match_one(spw_credit_t *self, void *link, void *service, uint32_t slots_milli,
                         bool open)
{
    spw_loan_t *loan = find_loan(self, link, service);
    if (!loan && !slots_milli)
        return 0;
    if (!loan && !(loan = new_loan(self, link, service)))
        return -1;
    loan->slots_milli = slots_milli;
    loan->open |= open;
    uint32_t revoke = 0;
    if (!slots_milli)
        revoke = loan->outstanding;
    else {
        uint32_t cap = loan_cap(self, loan);
        uint32_t out = loan->outstanding + loan->held;
        if (out > cap)
            revoke = out - cap;
    }
    revoke = take_back(loan, revoke);
    drop_if_done(self, loan);
    return revoke;
}

size_t spw_credit_rematch(spw_credit_t *self, void *service, void *const *links,
                          const uint32_t *slots_milli, const bool *open, size_t count,
                          spw_credit_move_t *out, size_t max)
{
    size_t moves = 0;
    //  Matches that end: every loan of the service whose link is not listed.
    for (size_t i = 0; i < self->loan_count;) {
        spw_loan_t *loan = &self->loans[i];
        bool listed = false;
        for (size_t j = 0; j < count && !listed; j++)
            listed = links[j] == loan->link;
        if (loan->service != service || listed || !loan->slots_milli) {
            i++;
            continue;
        }
        void *link = loan->link;
        size_t before = self->loan_count;
        int64_t revoke = match_one(self, link, service, 0, false);
        if (revoke > 0 && moves < max)
            out[moves++] = (spw_credit_move_t) { link, service, (uint32_t) revoke };
        i += self->loan_count == before;  // a dropped loan's place holds another
    }
    for (size_t j = 0; j < count; j++) {
        int64_t revoke = match_one(self, links[j], service, slots_milli[j], open[j]);
        if (revoke > 0 && moves < max)
            out[moves++] = (spw_credit_move_t) { links[j], service, (uint32_t) revoke };
    }
    return moves;
}

void spw_credit_open_link(spw_credit_t *self, void *link)
{
    for (size_t i = 0; i < self->loan_count; i++)
        if (self->loans[i].link == link) {
            self->loans[i].open = true;
            self->loans[i].outstanding = 0;
        }
}

void spw_credit_unoffer(spw_credit_t *self, void *link, void *service, uint32_t count)
{
    spw_loan_t *loan = find_loan(self, link, service);
    if (!loan)
        return;
    uint32_t back = take_back(loan, count);
    if (loan->slots_milli)
        loan->pass -= back * (SPW_CREDIT_STRIDE_SLOT / loan->slots_milli);
}

void spw_credit_unmatch_all(spw_credit_t *self)
{
    for (size_t i = 0; i < self->holding_count; i++)
        self->holdings[i].slots_milli = 0;
    for (size_t i = 0; i < self->loan_count;) {
        self->loans[i].slots_milli = 0;
        i += !drop_if_done(self, &self->loans[i]);
    }
}

//  outstanding + held over all of a service's loans.
static uint32_t service_out(const spw_credit_t *self, void *service)
{
    uint32_t total = 0;
    for (size_t i = 0; i < self->loan_count; i++)
        if (self->loans[i].service == service)
            total += self->loans[i].outstanding + self->loans[i].held;
    return total;
}

//  Adds count to the move for link in out[0, *moves), or appends a move;
//  false if there is no room for a new one.
static bool add_move(spw_credit_move_t *out, size_t *moves, size_t max, void *link,
                     void *service, uint32_t count)
{
    for (size_t i = 0; i < *moves; i++)
        if (out[i].link == link) {
            out[i].count += count;
            return true;
        }
    if (*moves >= max)
        return false;
    out[(*moves)++] = (spw_credit_move_t) { link, service, count };
    return true;
}

size_t spw_credit_offer(spw_credit_t *self, void *service, uint32_t limit, int64_t expires,
                        spw_credit_move_t *out, size_t max)
{
    size_t moves = 0;
    uint32_t total = service_out(self, service);
    while (total < limit) {
        spw_loan_t *next = NULL;
        for (size_t i = 0; i < self->loan_count; i++) {
            spw_loan_t *loan = &self->loans[i];
            if (loan->service != service || !loan->slots_milli || !loan->open || loan->resting
                || loan->outstanding + loan->held >= loan_cap(self, loan))
                continue;
            if (!next || loan->pass < next->pass)
                next = loan;
        }
        if (!next)
            break;
        if (!add_move(out, &moves, max, next->link, service, 1))
            break;  // no room to say so: do not offer what cannot be sent
        next->outstanding++;
        next->pass += SPW_CREDIT_STRIDE_SLOT / next->slots_milli;
        next->expires = expires;
        next->touched = true;
        total++;
    }
    return moves;
}

size_t spw_credit_excess(spw_credit_t *self, void *service, uint32_t limit,
                         spw_credit_move_t *out, size_t max)
{
    size_t moves = 0;
    uint32_t total = service_out(self, service);
    while (total > limit) {
        spw_loan_t *ahead = NULL;
        for (size_t i = 0; i < self->loan_count; i++) {
            spw_loan_t *loan = &self->loans[i];
            if (loan->service == service && loan->outstanding
                && (!ahead || loan->pass > ahead->pass))
                ahead = loan;
        }
        if (!ahead)
            break;  // what is out is held tasks: they are served, not revoked
        if (!add_move(out, &moves, max, ahead->link, service, 1))
            break;
        ahead->outstanding--;
        if (ahead->slots_milli)
            ahead->pass -= SPW_CREDIT_STRIDE_SLOT / ahead->slots_milli;
        total--;
    }
    //  Loans left with nothing out and no match go.
    for (size_t i = 0; i < self->loan_count;)
        i += self->loans[i].service != service || !drop_if_done(self, &self->loans[i]);
    return moves;
}

bool spw_credit_arrive(spw_credit_t *self, void *link, void *service, bool room)
{
    spw_loan_t *loan = find_loan(self, link, service);
    if (loan && loan->outstanding) {
        loan->outstanding--;
        loan->held++;
        loan->touched = true;
        return true;
    }
    if (!room || (!loan && !(loan = new_loan(self, link, service))))
        return false;
    loan->open = true;  // it sent a task: it can be told
    loan->held++;
    return true;
}

void spw_credit_release(spw_credit_t *self, void *link, void *service)
{
    spw_loan_t *loan = find_loan(self, link, service);
    if (!loan || !loan->held)
        return;
    loan->held--;
    drop_if_done(self, loan);
}

void spw_credit_returned(spw_credit_t *self, void *link, void *service, uint32_t count)
{
    spw_loan_t *loan = find_loan(self, link, service);
    if (!loan)
        return;
    take_back(loan, count);
    //  It had no use for them: others go first, and it is offered no more
    //  until the next tick, so that credit does not bounce to and fro.
    loan->resting = true;
    drop_if_done(self, loan);
}

void spw_credit_lapse(spw_credit_t *self, int64_t now)
{
    for (size_t i = 0; i < self->loan_count;) {
        spw_loan_t *loan = &self->loans[i];
        loan->resting = false;
        if (loan->outstanding && loan->expires <= now)
            loan->outstanding = 0;
        i += !drop_if_done(self, loan);
    }
}

size_t spw_credit_refresh(spw_credit_t *self, int64_t expires, spw_credit_move_t *out,
                          size_t max)
{
    size_t moves = 0;
    for (size_t i = 0; i < self->loan_count && moves < max; i++) {
        spw_loan_t *loan = &self->loans[i];
        bool touched = loan->touched;
        loan->touched = false;
        if (!loan->outstanding || !loan->slots_milli || !touched)
            continue;
        loan->expires = expires;
        out[moves++] = (spw_credit_move_t) { loan->link, loan->service, 0 };
    }
    return moves;
}

uint32_t spw_credit_lent(const spw_credit_t *self, void *service)
{
    return service_out(self, service);
}

bool spw_credit_lending(const spw_credit_t *self, void *service)
{
    for (size_t i = 0; i < self->loan_count; i++)
        if (self->loans[i].service == service && self->loans[i].slots_milli)
            return true;
    return false;
}

bool spw_credit_uses(const spw_credit_t *self, void *service)
{
    for (size_t i = 0; i < self->loan_count; i++)
        if (self->loans[i].service == service)
            return true;
    for (size_t i = 0; i < self->holding_count; i++)
        if (self->holdings[i].service == service)
            return true;
    return false;
}

// -- Borrowing ----------------------------------------------------------

static spw_holding_t *find_holding(const spw_credit_t *self, void *link, void *service)
{
    for (size_t i = 0; i < self->holding_count; i++)
        if (self->holdings[i].link == link && self->holdings[i].service == service)
            return &self->holdings[i];
    return NULL;
}

//  The holding of link and service, made if need be; NULL if full.
static spw_holding_t *claim_holding(spw_credit_t *self, void *link, void *service)
{
    spw_holding_t *holding = find_holding(self, link, service);
    if (holding || self->holding_count >= self->holding_limit)
        return holding;
    holding = &self->holdings[self->holding_count++];
    *holding = (spw_holding_t) { .link = link, .service = service };
    return holding;
}

int spw_credit_grant(spw_credit_t *self, void *link, void *service, uint32_t count,
                     uint32_t lease_ms, int64_t now)
{
    spw_holding_t *holding = find_holding(self, link, service);
    if (!holding && !count)
        return 0;  // a refresh of credits we no longer hold
    if (!holding && !(holding = claim_holding(self, link, service)))
        return -1;
    if (holding->expires <= now)
        holding->credits = 0;  // what had lapsed stays lapsed
    holding->credits += count;
    holding->expires = now + lease_ms;
    return 0;
}

int spw_credit_share(spw_credit_t *self, void *link, void *service, uint32_t slots_milli)
{
    spw_holding_t *holding = slots_milli ? claim_holding(self, link, service)
                                         : find_holding(self, link, service);
    if (!holding)
        return slots_milli ? -1 : 0;
    holding->slots_milli = slots_milli;
    return 0;
}

//  Our tasks in flight at a holding's lender per slot of its share, in
//  thousandths: below 1000 a new task should find a slot idle there.
static uint64_t load_of(const spw_holding_t *holding)
{
    if (!holding->slots_milli)
        return UINT64_MAX / 2;
    return (uint64_t) holding->inflight * SPW_CREDIT_MILLI * SPW_CREDIT_MILLI
         / holding->slots_milli;
}

void *spw_credit_take(spw_credit_t *self, void *service, bool prefetch, int64_t now)
{
    spw_holding_t *best = NULL;
    for (size_t i = 0; i < self->holding_count; i++) {
        spw_holding_t *holding = &self->holdings[i];
        if (holding->service != service || !holding->credits || holding->expires <= now)
            continue;
        if (!prefetch && (uint64_t) holding->inflight * SPW_CREDIT_MILLI >= holding->slots_milli)
            continue;  // it would wait there behind another of ours
        if (!best || load_of(holding) < load_of(best)
            || (load_of(holding) == load_of(best) && holding->credits > best->credits))
            best = holding;
    }
    if (!best)
        return NULL;
    best->credits--;
    best->inflight++;
    best->used = true;
    return best->link;
}

void spw_credit_untake(spw_credit_t *self, void *link, void *service)
{
    spw_holding_t *holding = find_holding(self, link, service);
    if (holding) {
        holding->credits++;
        if (holding->inflight)
            holding->inflight--;
    }
}

void spw_credit_settle(spw_credit_t *self, void *link, void *service)
{
    spw_holding_t *holding = find_holding(self, link, service);
    if (holding && holding->inflight)
        holding->inflight--;
}

void spw_credit_revoked(spw_credit_t *self, void *link, void *service, uint32_t count)
{
    spw_holding_t *holding = find_holding(self, link, service);
    if (!holding)
        return;
    holding->credits = count == 0 || count >= holding->credits ? 0 : holding->credits - count;
}

size_t spw_credit_give_up(spw_credit_t *self, void *link, spw_credit_move_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->holding_count && n < max; i++) {
        spw_holding_t *holding = &self->holdings[i];
        if (holding->link != link || !holding->credits)
            continue;
        out[n++] = (spw_credit_move_t) { link, holding->service, holding->credits };
        holding->credits = 0;
    }
    return n;
}

bool spw_credit_link_holds(const spw_credit_t *self, void *link, int64_t now)
{
    for (size_t i = 0; i < self->holding_count; i++)
        if (self->holdings[i].link == link && self->holdings[i].credits
            && self->holdings[i].expires > now)
            return true;
    return false;
}

uint32_t spw_credit_held(const spw_credit_t *self, void *service, int64_t now)
{
    uint32_t total = 0;
    for (size_t i = 0; i < self->holding_count; i++)
        if (self->holdings[i].service == service && self->holdings[i].expires > now)
            total += self->holdings[i].credits;
    return total;
}

size_t spw_credit_unused(spw_credit_t *self, bool (*idle)(void *service, void *arg), void *arg,
                         int64_t now, spw_credit_move_t *out, size_t max)
{
    size_t moves = 0;
    for (size_t i = 0; i < self->holding_count;) {
        spw_holding_t *holding = &self->holdings[i];
        if (holding->expires <= now) {
            holding->credits = 0;
            if (!holding->inflight && !holding->slots_milli) {
                *holding = self->holdings[--self->holding_count];
                continue;
            }
        }
        if (holding->credits && !holding->used && idle(holding->service, arg) && moves < max) {
            out[moves++] = (spw_credit_move_t) { holding->link, holding->service,
                                                 holding->credits };
            holding->credits = 0;
        }
        holding->used = false;
        i++;
    }
    return moves;
}

// -- Both ---------------------------------------------------------------

//  Forgets every loan and holding of link and service (NULL: any).
static void forget(spw_credit_t *self, void *link, void *service)
{
    for (size_t i = 0; i < self->loan_count;) {
        const spw_loan_t *loan = &self->loans[i];
        bool match = (!link || loan->link == link) && (!service || loan->service == service);
        if (match)
            self->loans[i] = self->loans[--self->loan_count];
        i += !match;
    }
    for (size_t i = 0; i < self->holding_count;) {
        const spw_holding_t *holding = &self->holdings[i];
        bool match = (!link || holding->link == link) && (!service || holding->service == service);
        if (match)
            self->holdings[i] = self->holdings[--self->holding_count];
        i += !match;
    }
}

void spw_credit_forget_link(spw_credit_t *self, void *link)
{
    if (link)
        forget(self, link, NULL);
}

void spw_credit_forget_service(spw_credit_t *self, void *service)
{
    if (service)
        forget(self, NULL, service);
}
