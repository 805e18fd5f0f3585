//  status.h: the hub's status for operators, as JSON and as a table.
//
//  What an operator asks (spw_status_query_t, parsed from the text of a
//  status request's body) picks the edges shown: one edge by name, or a
//  page of them in an order (by name, or busiest first), at most
//  SPW_STATUS_LIMIT_MAX at once. Whatever the page, the answer starts
//  with a summary of the whole cluster — edges by state, totals, totals
//  per service, the busiest and the idlest edges — so that it stays
//  readable, and its size bounded, with any number of edges. The page
//  stops early, saying so, before the answer passes SPW_STATUS_MAX_BYTES.
//
//  Rendering reads the capacity table and what the loop passes in
//  (spw_status_view_t); it touches no socket and no clock.

#ifndef SPW_HUB_STATUS_H_INCLUDED
#define SPW_HUB_STATUS_H_INCLUDED

#include "capacity.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Edges on a page unless the query says, and at most.
#define SPW_STATUS_LIMIT_DEFAULT 100
#define SPW_STATUS_LIMIT_MAX     1000
//  The page ends before an answer grows past this.
#define SPW_STATUS_MAX_BYTES (1024 * 1024)
//  Edges named as the busiest and the idlest.
#define SPW_STATUS_TOP 5
//  Services totalled in the summary, the most queued first.
#define SPW_STATUS_MAX_SERVICES 64

typedef enum {
    SPW_STATUS_SORT_NAME,     // by name, A to Z
    SPW_STATUS_SORT_QUEUED,   // most queued first
    SPW_STATUS_SORT_IDLE,     // most idle first
    SPW_STATUS_SORT_WORKERS,  // most workers first
    SPW_STATUS_SORT_OUT,      // most delegated out a second first
    SPW_STATUS_SORT_IN,       // most delegated in a second first
} spw_status_sort_t;

typedef struct {
    char edge[SPW_CAPACITY_NAME_MAX + 1];    // only this edge; "" for all
    char search[SPW_CAPACITY_NAME_MAX + 1];  // only edges whose name holds it, any case; "" for all
    spw_status_sort_t sort;
    size_t offset;  // edges skipped, in that order
    size_t limit;   // edges shown at most
} spw_status_query_t;

//  Reads a query from text (len bytes, not NUL-terminated): words
//  KEY=VALUE separated by spaces, of edge=NAME, search=TEXT (part of a
//  name, in any case), sort=name|queued|idle|workers|out|in, offset=N,
//  limit=1..SPW_STATUS_LIMIT_MAX; empty text is every default. Returns 0, or -1 with the reason in err.
int spw_status_query_parse(const char *text, size_t len, spw_status_query_t *query, char *err,
                           size_t errlen);

//  The sort's name in a query ("queued").
const char *spw_status_sort_name(spw_status_sort_t sort);

typedef struct {
    const char *name;
    uint64_t value;
} spw_status_counter_t;

//  What the loop knows beyond the capacity table.
typedef struct {
    const char *hub;     // its name
    const char *policy;  // its policy's name
    int64_t uptime_ms;
    spw_capacity_t *capacity;
    //  An edge's delegated rates (0 for a dead one).
    void (*rates)(void *arg, const spw_edge_state_t *edge, double *out, double *in);
    void *rates_arg;
    const spw_status_counter_t *counters;
    size_t counter_count;
    double messages_per_s, delegated_per_s;  // the hub's, over its last second
} spw_status_view_t;

//  The status as JSON (docs/protocol.md) or as the table `spillway status`
//  prints, in a buffer the caller frees; *len its length. NULL if out of
//  memory.
char *spw_status_json(const spw_status_view_t *view, const spw_status_query_t *query,
                      int64_t now, size_t *len);
char *spw_status_text(const spw_status_view_t *view, const spw_status_query_t *query,
                      int64_t now, size_t *len);

//  One pair of the hub's last matchings: lender lends slots_milli
//  thousandths of a slot of service to borrower, at about rate tasks a
//  second (the borrower's delegated rate, split over its pairs by share).
typedef struct {
    const char *service, *lender, *borrower;
    uint32_t slots_milli;
    double rate;
} spw_status_pair_t;

//  Pairs listed at most in spw_status_pairs_json.
#define SPW_STATUS_PAIRS_MAX 2000

//  The lending pairs as JSON, {"schema":1,"total":N,"pairs":[{"service",
//  "lender","borrower","slots","rate"}...]}: the first count of total (at
//  most SPW_STATUS_PAIRS_MAX), largest first as the caller gives them.
//  NULL if out of memory.
char *spw_status_pairs_json(const spw_status_pair_t *pairs, size_t count, size_t total,
                            size_t *len);

#endif
