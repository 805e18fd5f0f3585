//  status.c: the hub's status for operators (see status.h).
//
//  Every answer walks the whole capacity table once for the summary —
//  edges by state, totals, totals per service (a hash of service names),
//  the busiest and idlest edges (kept in the same walk) — then sorts the
//  edges the query picks and writes one page of them: O(n log n) for n
//  edges, about 3 ms at 10,000 (docs/scaling.md). The loop bounds how often it is asked (its
//  status rate); here each answer is bounded in size: SPW_STATUS_LIMIT_MAX
//  edges, and the page ends before the text passes SPW_STATUS_MAX_BYTES,
//  with next_offset saying where the next page starts. Text from edges
//  (names, zones, endpoints) is checked when it comes in and escaped again
//  here for JSON.

#include "status.h"

#include "spw_proto.h"

#include <czmq.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The version of the status JSON (docs/protocol.md): it changes when a
//  field changes meaning or goes; new fields may come without it.
#define SPW_STATUS_SCHEMA 2
//  Services the table lists, the most queued first.
#define SPW_STATUS_TEXT_SERVICES 10
//  The widest the SERVICES column of the text table grows before it overflows.
#define SPW_STATUS_SERVICES_COLUMN_MAX 40
//  Room kept for what follows the page (counters, the footer).
#define SPW_STATUS_TAIL_BYTES 4096

static const char *const sort_names[] = { "name", "queued", "idle", "workers", "out", "in" };

// -- Queries ------------------------------------------------------------------

const char *spw_status_sort_name(spw_status_sort_t sort)
{
    return sort_names[sort];
}

//  Reads a decimal size of at most max; -1 if it is not one.
static int parse_size(const char *text, size_t len, size_t max, size_t *out)
{
    if (len == 0 || len > 9)
        return -1;
    size_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (size_t) (text[i] - '0');
    }
    if (value > max)
        return -1;
    *out = value;
    return 0;
}

static bool word_is(const char *word, size_t len, const char *what)
{
    return len == strlen(what) && memcmp(word, what, len) == 0;
}

int spw_status_query_parse(const char *text, size_t len, spw_status_query_t *query, char *err,
                           size_t errlen)
{
    memset(query, 0, sizeof *query);
    query->sort = SPW_STATUS_SORT_NAME;
    query->limit = SPW_STATUS_LIMIT_DEFAULT;
    size_t at = 0;
    while (at < len) {
        if (text[at] == ' ') {
            at++;
            continue;
        }
        size_t end = at;
        while (end < len && text[end] != ' ')
            end++;
        const char *word = text + at, *eq = memchr(word, '=', end - at);
        size_t key_len = eq ? (size_t) (eq - word) : end - at;
        const char *value = eq ? eq + 1 : NULL;
        size_t value_len = eq ? (size_t) (text + end - value) : 0;
        at = end;
        if (!value) {
            snprintf(err, errlen, "a status query is KEY=VALUE words, not '%.*s'",
                     (int) (key_len > 40 ? 40 : key_len), word);
            return -1;
        }
        bool search = word_is(word, key_len, "search");
        if (search || word_is(word, key_len, "edge")) {
            bool valid = value_len >= 1 && value_len <= SPW_CAPACITY_NAME_MAX;
            for (size_t i = 0; valid && i < value_len; i++) {
                char c = value[i];
                valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                     || c == '.' || c == '_' || c == '-';
            }
            if (!valid) {
                snprintf(err, errlen, "%s wants %s (1 to %d of A-Z a-z 0-9 . _ -)",
                         search ? "search=" : "edge=", search ? "part of a name" : "an edge's name",
                         SPW_CAPACITY_NAME_MAX);
                return -1;
            }
            char *into = search ? query->search : query->edge;
            memcpy(into, value, value_len);
            into[value_len] = '\0';
        }
        else if (word_is(word, key_len, "sort")) {
            size_t i = 0;
            while (i < sizeof sort_names / sizeof sort_names[0]
                   && !word_is(value, value_len, sort_names[i]))
                i++;
            if (i == sizeof sort_names / sizeof sort_names[0]) {
                snprintf(err, errlen, "sort= is name, queued, idle, workers, out or in");
                return -1;
            }
            query->sort = (spw_status_sort_t) i;
        }
        else if (word_is(word, key_len, "offset")) {
            if (parse_size(value, value_len, 100000000, &query->offset) != 0) {
                snprintf(err, errlen, "offset= wants a number of edges, 0 to 100000000");
                return -1;
            }
        }
        else if (word_is(word, key_len, "limit")) {
            if (parse_size(value, value_len, SPW_STATUS_LIMIT_MAX, &query->limit) != 0
                || query->limit == 0) {
                snprintf(err, errlen, "limit= wants a number of edges, 1 to %d",
                         SPW_STATUS_LIMIT_MAX);
                return -1;
            }
        }
        else {
            snprintf(err, errlen,
                     "unknown status query key '%.*s' (edge, search, sort, offset, limit)",
                     (int) (key_len > 40 ? 40 : key_len), word);
            return -1;
        }
    }
    return 0;
}

//  True if text holds part (ASCII letters in any case).
static bool holds_any_case(const char *text, const char *part)
{
    size_t n = strlen(part);
    for (; *text; text++) {
        size_t i = 0;
        while (i < n && text[i] && tolower((unsigned char) text[i]) == tolower((unsigned char) part[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

// -- A growing buffer ---------------------------------------------------------

typedef struct {
    char *data;
    size_t len, size;
    bool failed;
} spw_buf_t;

static void buf_add(spw_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_add(spw_buf_t *buf, const char *fmt, ...)
{
    if (buf->failed)
        return;
    while (true) {
        va_list args;
        va_start(args, fmt);
        int n = vsnprintf(buf->data + buf->len, buf->size - buf->len, fmt, args);
        va_end(args);
        if (n < 0) {
            buf->failed = true;
            return;
        }
        if (buf->len + (size_t) n < buf->size) {
            buf->len += (size_t) n;
            return;
        }
        size_t size = (buf->size ? buf->size * 2 : 4096) + (size_t) n;
        char *data = realloc(buf->data, size);
        if (!data) {
            buf->failed = true;
            return;
        }
        buf->data = data;
        buf->size = size;
    }
}

//  Appends text as a JSON string, quotes included.
static void buf_add_json_string(spw_buf_t *buf, const char *text)
{
    buf_add(buf, "\"");
    for (const unsigned char *c = (const unsigned char *) text; *c; c++) {
        if (*c == '"' || *c == '\\')
            buf_add(buf, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            buf_add(buf, "\\u%04x", *c);
        else
            buf_add(buf, "%c", *c);
    }
    buf_add(buf, "\"");
}

//  The buffer's text for the caller to free, or NULL if it ran out of memory.
static char *buf_finish(spw_buf_t *buf, size_t *len)
{
    if (buf->failed) {
        free(buf->data);
        return NULL;
    }
    *len = buf->len;
    return buf->data;
}

// -- The summary --------------------------------------------------------------

//  One edge as shown: its record, its totals over services and its rates.
typedef struct {
    spw_edge_state_t *edge;
    uint64_t workers, idle, queued, running;
    double out, in;
} spw_row_t;

//  One service's totals over the live edges.
typedef struct {
    const char *name;
    size_t edges;
    uint64_t workers, idle, queued, running, lent, borrowed;
    double rate;
} spw_service_total_t;

typedef struct {
    size_t edges, alive, draining;
    uint64_t workers, idle, queued, running;
    spw_row_t *rows;       // every edge
    spw_row_t **page;      // the edges the query picks, sorted
    size_t matched;        // how many it picks
    spw_row_t *busiest[SPW_STATUS_TOP], *idlest[SPW_STATUS_TOP];
    size_t busiest_count, idlest_count;
    spw_service_total_t *services;  // the most queued first
    size_t service_count;
} spw_summary_t;

static spw_status_sort_t sorting;  // the key of the qsort running now

static int compare_rows(const void *a, const void *b)
{
    const spw_row_t *x = *(spw_row_t *const *) a, *y = *(spw_row_t *const *) b;
    double dx = 0, dy = 0;
    switch (sorting) {
    case SPW_STATUS_SORT_NAME:
        break;
    case SPW_STATUS_SORT_QUEUED:
        dx = (double) x->queued, dy = (double) y->queued;
        break;
    case SPW_STATUS_SORT_IDLE:
        dx = (double) x->idle, dy = (double) y->idle;
        break;
    case SPW_STATUS_SORT_WORKERS:
        dx = (double) x->workers, dy = (double) y->workers;
        break;
    case SPW_STATUS_SORT_OUT:
        dx = x->out, dy = y->out;
        break;
    case SPW_STATUS_SORT_IN:
        dx = x->in, dy = y->in;
        break;
    }
    if (dx != dy)
        return dx < dy ? 1 : -1;  // the most first
    if (x->edge->alive != y->edge->alive)
        return x->edge->alive ? -1 : 1;
    return strcmp(x->edge->name, y->edge->name);
}

static void sort_rows(spw_row_t **rows, size_t count, spw_status_sort_t sort)
{
    sorting = sort;
    qsort(rows, count, sizeof *rows, compare_rows);
}

static int compare_services(const void *a, const void *b)
{
    const spw_service_total_t *x = a, *y = b;
    if (x->queued != y->queued)
        return x->queued < y->queued ? 1 : -1;
    return strcmp(x->name, y->name);
}

//  Adds the live edge's services to the totals per service.
static int total_services(spw_summary_t *summary, zhashx_t *index, const spw_edge_state_t *edge,
                          size_t *capacity)
{
    for (size_t s = 0; s < edge->service_count; s++) {
        const spw_service_state_t *service = &edge->services[s];
        void *found = zhashx_lookup(index, service->name);
        size_t at = found ? (size_t) (uintptr_t) found - 1 : summary->service_count;
        if (!found) {
            if (at == *capacity) {
                size_t grown = *capacity ? *capacity * 2 : 16;
                spw_service_total_t *more = realloc(summary->services, grown * sizeof *more);
                if (!more)
                    return -1;
                summary->services = more;
                *capacity = grown;
            }
            memset(&summary->services[at], 0, sizeof summary->services[at]);
            summary->services[at].name = service->name;
            if (zhashx_insert(index, service->name, (void *) (uintptr_t) (at + 1)) != 0)
                return -1;
            summary->service_count++;
        }
        spw_service_total_t *total = &summary->services[at];
        total->edges++;
        total->workers += service->workers;
        total->idle += service->idle;
        total->queued += service->queued;
        total->running += service->running;
        total->lent += service->lent;
        total->borrowed += service->borrowed;
        total->rate += service->rate;
    }
    return 0;
}

//  Puts the live rows with the most of a figure (queued or idle, > 0) first
//  in top, at most SPW_STATUS_TOP of them, in the order of that sort: one
//  pass keeping the few best, not a sort of every edge.
static size_t pick_top(spw_row_t *rows, size_t count, spw_row_t **top, bool by_queued)
{
    sorting = by_queued ? SPW_STATUS_SORT_QUEUED : SPW_STATUS_SORT_IDLE;
    size_t picked = 0;
    for (size_t i = 0; i < count; i++) {
        spw_row_t *row = &rows[i];
        if (!row->edge->alive || (by_queued ? row->queued : row->idle) == 0)
            continue;
        size_t at = picked;
        while (at > 0 && compare_rows(&row, &top[at - 1]) < 0)
            at--;
        if (at == SPW_STATUS_TOP)
            continue;
        size_t last = picked < SPW_STATUS_TOP ? picked++ : SPW_STATUS_TOP - 1;
        memmove(&top[at + 1], &top[at], (last - at) * sizeof *top);
        top[at] = row;
    }
    return picked;
}

static void summary_free(spw_summary_t *summary)
{
    free(summary->rows);
    free(summary->page);
    free(summary->services);
}

static int summarize(const spw_status_view_t *view, const spw_status_query_t *query,
                     spw_summary_t *summary)
{
    memset(summary, 0, sizeof *summary);
    size_t count = spw_capacity_count(view->capacity);
    summary->edges = count;
    summary->rows = calloc(count ? count : 1, sizeof *summary->rows);
    summary->page = calloc(count ? count : 1, sizeof *summary->page);
    zhashx_t *index = zhashx_new();
    if (!summary->rows || !summary->page || !index) {
        zhashx_destroy(&index);
        return -1;
    }
    size_t service_capacity = 0;
    for (size_t i = 0; i < count; i++) {
        spw_row_t *row = &summary->rows[i];
        row->edge = spw_capacity_at(view->capacity, i);
        for (size_t s = 0; s < row->edge->service_count; s++) {
            row->workers += row->edge->services[s].workers;
            row->idle += row->edge->services[s].idle;
            row->queued += row->edge->services[s].queued;
            row->running += row->edge->services[s].running;
        }
        view->rates(view->rates_arg, row->edge, &row->out, &row->in);
        summary->page[i] = row;
        if (!row->edge->alive)
            continue;
        summary->alive++;
        summary->draining += row->edge->draining;
        summary->workers += row->workers;
        summary->idle += row->idle;
        summary->queued += row->queued;
        summary->running += row->running;
        if (total_services(summary, index, row->edge, &service_capacity) != 0) {
            zhashx_destroy(&index);
            return -1;
        }
    }
    zhashx_destroy(&index);
    if (summary->service_count)
        qsort(summary->services, summary->service_count, sizeof *summary->services,
              compare_services);
    //  The busiest and the idlest, then the page in the query's order.
    summary->busiest_count = pick_top(summary->rows, count, summary->busiest, true);
    summary->idlest_count = pick_top(summary->rows, count, summary->idlest, false);
    size_t matched = 0;
    for (size_t i = 0; i < count; i++) {
        const char *name = summary->page[i]->edge->name;
        if ((!*query->edge || strcmp(name, query->edge) == 0)
            && (!*query->search || holds_any_case(name, query->search)))
            summary->page[matched++] = summary->page[i];
    }
    summary->matched = matched;
    sort_rows(summary->page, matched, query->sort);
    return 0;
}

// -- JSON ---------------------------------------------------------------------

//  An edge's state as the status names it.
static const char *state_name(const spw_edge_state_t *edge)
{
    return !edge->alive ? "dead" : edge->draining ? "draining" : "alive";
}

static void messages_per_task(const spw_status_view_t *view, char *out, size_t size,
                              const char *none)
{
    if (view->delegated_per_s > 0)
        snprintf(out, size, "%.4f", view->messages_per_s / view->delegated_per_s);
    else
        snprintf(out, size, "%s", none);
}

//  A settled role as the status names it.
static const char *role_name(uint8_t role)
{
    return role == SPW_ROLE_LENDER ? "lender" : role == SPW_ROLE_BORROWER ? "borrower" : "none";
}

static void json_edge(spw_buf_t *buf, const spw_row_t *row, int64_t now)
{
    const spw_edge_state_t *edge = row->edge;
    buf_add(buf, "{\"name\":");
    buf_add_json_string(buf, edge->name);
    buf_add(buf, ",\"state\":\"%s\",\"age_ms\":%lld,\"zone\":", state_name(edge),
            (long long) (now - edge->last_heard));
    buf_add_json_string(buf, edge->zone);
    buf_add(buf, ",\"endpoint\":");
    buf_add_json_string(buf, edge->endpoint);
    buf_add(buf,
            ",\"epoch\":\"%016llx\",\"workers\":%llu,\"idle\":%llu,\"queued\":%llu,"
            "\"running\":%llu,\"delegated_out\":%llu,\"delegated_in\":%llu,"
            "\"delegated_out_per_s\":%.2f,\"delegated_in_per_s\":%.2f,\"services\":[",
            (unsigned long long) edge->epoch, (unsigned long long) row->workers,
            (unsigned long long) row->idle, (unsigned long long) row->queued,
            (unsigned long long) row->running, (unsigned long long) edge->delegated_out,
            (unsigned long long) edge->delegated_in, row->out, row->in);
    for (size_t s = 0; s < edge->service_count; s++) {
        const spw_service_state_t *service = &edge->services[s];
        buf_add(buf, "%s{\"name\":", s ? "," : "");
        buf_add_json_string(buf, service->name);
        buf_add(buf,
                ",\"workers\":%u,\"idle\":%u,\"queued\":%u,\"running\":%u,\"rate\":%.3f,"
                "\"lent\":%u,\"borrowed\":%u,\"role\":\"%s\"}",
                service->workers, service->idle, service->queued, service->running,
                service->rate, service->lent, service->borrowed, role_name(service->role));
    }
    buf_add(buf, "]}");
}

static void json_top(spw_buf_t *buf, const char *key, spw_row_t *const *rows, size_t count,
                     bool queued)
{
    buf_add(buf, ",\"%s\":[", key);
    for (size_t i = 0; i < count; i++) {
        buf_add(buf, "%s{\"name\":", i ? "," : "");
        buf_add_json_string(buf, rows[i]->edge->name);
        buf_add(buf, ",\"%s\":%llu}", queued ? "queued" : "idle",
                (unsigned long long) (queued ? rows[i]->queued : rows[i]->idle));
    }
    buf_add(buf, "]");
}

static void render_json(const spw_status_view_t *view, const spw_status_query_t *query,
                        spw_summary_t summary, int64_t now, spw_buf_t *buf_p)
{
    spw_buf_t buf = *buf_p;
    buf_add(&buf, "{\"schema\":%d,\"hub\":", SPW_STATUS_SCHEMA);
    buf_add_json_string(&buf, view->hub);
    buf_add(&buf, ",\"policy\":\"%s\",\"uptime_ms\":%lld", view->policy,
            (long long) view->uptime_ms);
    buf_add(&buf,
            ",\"summary\":{\"edges\":%zu,\"alive\":%zu,\"dead\":%zu,\"draining\":%zu,\"workers\":%llu,"
            "\"idle\":%llu,\"queued\":%llu,\"running\":%llu,\"services\":%zu}",
            summary.edges, summary.alive, summary.edges - summary.alive, summary.draining,
            (unsigned long long) summary.workers, (unsigned long long) summary.idle,
            (unsigned long long) summary.queued, (unsigned long long) summary.running,
            summary.service_count);
    buf_add(&buf, ",\"services\":[");
    size_t services = summary.service_count < SPW_STATUS_MAX_SERVICES ? summary.service_count
                                                                      : SPW_STATUS_MAX_SERVICES;
    for (size_t s = 0; s < services; s++) {
        const spw_service_total_t *total = &summary.services[s];
        buf_add(&buf, "%s{\"name\":", s ? "," : "");
        buf_add_json_string(&buf, total->name);
        buf_add(&buf,
                ",\"edges\":%zu,\"workers\":%llu,\"idle\":%llu,\"queued\":%llu,\"running\":%llu,"
                "\"rate\":%.3f,\"lent\":%llu,\"borrowed\":%llu}",
                total->edges, (unsigned long long) total->workers,
                (unsigned long long) total->idle, (unsigned long long) total->queued,
                (unsigned long long) total->running, total->rate,
                (unsigned long long) total->lent, (unsigned long long) total->borrowed);
    }
    buf_add(&buf, "]");
    json_top(&buf, "busiest", summary.busiest, summary.busiest_count, true);
    json_top(&buf, "idlest", summary.idlest, summary.idlest_count, false);
    buf_add(&buf, ",\"query\":{\"edge\":");
    if (*query->edge)
        buf_add_json_string(&buf, query->edge);
    else
        buf_add(&buf, "null");
    buf_add(&buf, ",\"search\":");
    if (*query->search)
        buf_add_json_string(&buf, query->search);
    else
        buf_add(&buf, "null");
    buf_add(&buf, ",\"sort\":\"%s\",\"offset\":%zu,\"limit\":%zu},\"matched\":%zu,\"edges\":[",
            spw_status_sort_name(query->sort), query->offset, query->limit, summary.matched);
    size_t shown = 0, at = query->offset;
    for (; at < summary.matched && shown < query->limit; at++, shown++) {
        if (buf.len > SPW_STATUS_MAX_BYTES - SPW_STATUS_TAIL_BYTES)
            break;
        if (shown)
            buf_add(&buf, ",");
        json_edge(&buf, summary.page[at], now);
    }
    buf_add(&buf, "],\"next_offset\":");
    if (at < summary.matched)
        buf_add(&buf, "%zu", at);
    else
        buf_add(&buf, "null");
    buf_add(&buf, ",\"counters\":{");
    for (size_t i = 0; i < view->counter_count; i++)
        buf_add(&buf, "%s\"%s\":%llu", i ? "," : "", view->counters[i].name,
                (unsigned long long) view->counters[i].value);
    char ratio[32];
    messages_per_task(view, ratio, sizeof ratio, "null");
    buf_add(&buf, "},\"messages_per_s\":%.2f,\"delegated_per_s\":%.2f,\"messages_per_delegated\":%s}",
            view->messages_per_s, view->delegated_per_s, ratio);
    *buf_p = buf;
}

// -- The table ----------------------------------------------------------------

//  "0.3s", "42s", "17m", "5h": an age that fits a narrow column.
static void format_age(char *dst, size_t size, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms < 10000)
        snprintf(dst, size, "%.1fs", (double) ms / 1000.0);
    else if (ms < 120000)
        snprintf(dst, size, "%llds", (long long) (ms / 1000));
    else if (ms < 7200000)
        snprintf(dst, size, "%lldm", (long long) (ms / 60000));
    else
        snprintf(dst, size, "%lldh", (long long) (ms / 3600000));
}

static size_t services_width(const spw_edge_state_t *edge)
{
    size_t width = 0;
    for (size_t s = 0; s < edge->service_count; s++)
        width += strlen(edge->services[s].name) + (s ? 1 : 0);
    return width ? width : 1;
}

static void text_top(spw_buf_t *buf, const char *label, spw_row_t *const *rows, size_t count,
                     bool queued)
{
    if (!count)
        return;
    buf_add(buf, "%s", label);
    for (size_t i = 0; i < count; i++)
        buf_add(buf, "%s%s (%llu %s)", i ? ", " : " ", rows[i]->edge->name,
                (unsigned long long) (queued ? rows[i]->queued : rows[i]->idle),
                queued ? "queued" : "idle");
    buf_add(buf, "\n");
}

static void text_services(spw_buf_t *buf, const spw_summary_t *summary)
{
    if (!summary->service_count)
        return;
    int name_w = 7;
    size_t shown = summary->service_count < SPW_STATUS_TEXT_SERVICES ? summary->service_count
                                                                     : SPW_STATUS_TEXT_SERVICES;
    for (size_t s = 0; s < shown; s++) {
        int n = (int) strlen(summary->services[s].name);
        name_w = n > name_w ? n : name_w;
    }
    buf_add(buf, "%-*s  %5s  %7s  %6s  %6s  %7s  %8s\n", name_w, "SERVICE", "EDGES", "WORKERS",
            "IDLE", "QUEUED", "RUNNING", "RATE/s");
    for (size_t s = 0; s < shown; s++) {
        const spw_service_total_t *total = &summary->services[s];
        buf_add(buf, "%-*s  %5zu  %7llu  %6llu  %6llu  %7llu  %8.1f\n", name_w, total->name,
                total->edges, (unsigned long long) total->workers,
                (unsigned long long) total->idle, (unsigned long long) total->queued,
                (unsigned long long) total->running, total->rate);
    }
    if (shown < summary->service_count)
        buf_add(buf, "(%zu more services)\n", summary->service_count - shown);
}

static void text_edge(spw_buf_t *buf, const spw_row_t *row, int name_w, int zone_w,
                      int services_w, int64_t now)
{
    const spw_edge_state_t *edge = row->edge;
    char age[16];
    format_age(age, sizeof age, now - edge->last_heard);
    buf_add(buf, "%-*s  %-8s  %5s  %-*s  ", name_w, edge->name, state_name(edge),
            age, zone_w, *edge->zone ? edge->zone : "-");
    size_t written = 0;
    for (size_t s = 0; s < edge->service_count; s++) {
        buf_add(buf, "%s%s", s ? "," : "", edge->services[s].name);
        written += strlen(edge->services[s].name) + (s ? 1 : 0);
    }
    if (!edge->service_count) {
        buf_add(buf, "-");
        written = 1;
    }
    int pad = written < (size_t) services_w ? (int) ((size_t) services_w - written) : 0;
    if (!edge->alive) {
        //  A dead edge's last figures are history, not capacity.
        buf_add(buf, "%*s  %7s  %6s  %6s  %8s  %8s\n", pad, "", "-", "-", "-", "-", "-");
        return;
    }
    buf_add(buf, "%*s  %7llu  %6llu  %6llu  %8.1f  %8.1f\n", pad, "",
            (unsigned long long) row->workers, (unsigned long long) row->idle,
            (unsigned long long) row->queued, row->out, row->in);
}

static void render_text(const spw_status_view_t *view, const spw_status_query_t *query,
                        spw_summary_t summary, int64_t now, spw_buf_t *buf_p)
{
    spw_buf_t buf = *buf_p;
    char ratio[32];
    messages_per_task(view, ratio, sizeof ratio, "-");
    buf_add(&buf, "hub %s  policy %s  edges %zu  alive %zu  hub msgs/s %.1f  per delegated task %s\n",
            view->hub, view->policy, summary.edges, summary.alive, view->messages_per_s, ratio);
    buf_add(&buf, "dead %zu  draining %zu  workers %llu  idle %llu  queued %llu  running %llu\n",
            summary.edges - summary.alive, summary.draining, (unsigned long long) summary.workers,
            (unsigned long long) summary.idle, (unsigned long long) summary.queued,
            (unsigned long long) summary.running);
    text_top(&buf, "busiest:", summary.busiest, summary.busiest_count, true);
    text_top(&buf, "idlest:", summary.idlest, summary.idlest_count, false);
    text_services(&buf, &summary);
    size_t first = query->offset, last = first;
    while (last < summary.matched && last - first < query->limit)
        last++;
    int name_w = 4, zone_w = 4, services_w = 8;
    for (size_t i = first; i < last; i++) {
        const spw_edge_state_t *edge = summary.page[i]->edge;
        int n = (int) strlen(edge->name), z = (int) strlen(edge->zone);
        int s = (int) services_width(edge);
        name_w = n > name_w ? n : name_w;
        zone_w = z > zone_w ? z : zone_w;
        services_w = s > services_w ? s : services_w;
    }
    if (services_w > SPW_STATUS_SERVICES_COLUMN_MAX)
        services_w = SPW_STATUS_SERVICES_COLUMN_MAX;
    buf_add(&buf, "\n%-*s  %-8s  %5s  %-*s  %-*s  %7s  %6s  %6s  %8s  %8s\n", name_w, "NAME",
            "STATE", "AGE", zone_w, "ZONE", services_w, "SERVICES", "WORKERS", "IDLE", "QUEUED",
            "OUT/s", "IN/s");
    size_t at = first;
    for (; at < last && buf.len <= SPW_STATUS_MAX_BYTES - SPW_STATUS_TAIL_BYTES; at++)
        text_edge(&buf, summary.page[at], name_w, zone_w, services_w, now);
    if (!summary.edges)
        buf_add(&buf, "(no edges)\n");
    else if (*query->edge && !summary.matched)
        buf_add(&buf, "(no edge named %s)\n", query->edge);
    else if (*query->search && !summary.matched)
        buf_add(&buf, "(no edge whose name holds %s)\n", query->search);
    else if (at < summary.matched)
        buf_add(&buf, "edges %zu to %zu of %zu, by %s; --offset %zu for more\n",
                at > first ? first + 1 : first, at, summary.matched,
                spw_status_sort_name(query->sort), at);
    else if (first > 0)
        buf_add(&buf, "edges %zu to %zu of %zu, by %s\n", at > first ? first + 1 : first, at,
                summary.matched, spw_status_sort_name(query->sort));
    *buf_p = buf;
}

//  Summarizes, then renders in the one format or the other.
static char *render(const spw_status_view_t *view, const spw_status_query_t *query, int64_t now,
                    size_t *len,
                    void (*format)(const spw_status_view_t *, const spw_status_query_t *,
                                   spw_summary_t, int64_t, spw_buf_t *))
{
    spw_summary_t summary;
    spw_buf_t buf = { NULL, 0, 0, false };
    if (summarize(view, query, &summary) != 0)
        buf.failed = true;
    else
        format(view, query, summary, now, &buf);
    summary_free(&summary);
    return buf_finish(&buf, len);
}

char *spw_status_json(const spw_status_view_t *view, const spw_status_query_t *query,
                      int64_t now, size_t *len)
{
    return render(view, query, now, len, render_json);
}

char *spw_status_text(const spw_status_view_t *view, const spw_status_query_t *query,
                      int64_t now, size_t *len)
{
    return render(view, query, now, len, render_text);
}

char *spw_status_pairs_json(const spw_status_pair_t *pairs, size_t count, size_t total,
                            size_t *len)
{
    spw_buf_t buf = { 0 };
    buf_add(&buf, "{\"schema\":1,\"total\":%zu,\"pairs\":[", total);
    for (size_t p = 0; p < count && p < SPW_STATUS_PAIRS_MAX; p++) {
        buf_add(&buf, "%s{\"service\":", p ? "," : "");
        buf_add_json_string(&buf, pairs[p].service);
        buf_add(&buf, ",\"lender\":");
        buf_add_json_string(&buf, pairs[p].lender);
        buf_add(&buf, ",\"borrower\":");
        buf_add_json_string(&buf, pairs[p].borrower);
        buf_add(&buf, ",\"slots\":%.3f,\"rate\":%.1f}", pairs[p].slots_milli / 1000.0,
                pairs[p].rate);
    }
    buf_add(&buf, "]}\n");
    return buf_finish(&buf, len);
}
