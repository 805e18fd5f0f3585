//  spw_http.h: the read-only HTTP endpoint of a hub or an edge (/metrics,
//  /healthz, /readyz; docs/operations.md).
//
//  The loop never serves a request. It publishes documents (the metrics
//  text, whether it is ready) whenever it likes, as copies; libmicrohttpd
//  serves the last published copy from its own thread. So a slow, hostile
//  or numerous HTTP client costs that thread, never the loop: the loop's
//  only work is rendering and a copy under a mutex that no request holds
//  for longer than a copy.
//
//  A path the loop asks for (spw_http_ask) is served from its copy too,
//  unless the request has a query string (?KEY=VALUE&...): then its words
//  wait, the connection suspended, until the loop answers them
//  (spw_http_answer_queries, woken through spw_http_wake_fd). The loop
//  answers when it turns, as it does a message, and what that costs it is
//  for it to bound (the hub spends its status budget on them).
//
//  A path asked with a max age is rendered when read instead of published:
//  a request without a query gets the loop's last answer to no words while
//  it is younger than the max age, else it waits for the loop as a query
//  with no words does. The loop answers such a query from a copy another
//  made fresh meanwhile, so requests that come together cost one render,
//  and a path costs the loop at most one render a max age, and none while
//  nobody reads it.
//
//  Bounds: SPW_HTTP_MAX_CONNECTIONS connections at once (SPW_HTTP_PER_IP
//  from one address), so as many queries waiting at most; SPW_HTTP_TIMEOUT_S
//  of silence closes one, request headers beyond SPW_HTTP_REQUEST_BYTES
//  and a query string beyond SPW_HTTP_QUERY_BYTES are refused, a document
//  is at most SPW_HTTP_MAX_DOCUMENT bytes. GET and HEAD only, no request
//  body.

#ifndef SPW_HTTP_H_INCLUDED
#define SPW_HTTP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define SPW_HTTP_MAX_CONNECTIONS 32
#define SPW_HTTP_PER_IP          8
#define SPW_HTTP_TIMEOUT_S       10
#define SPW_HTTP_REQUEST_BYTES   16384
#define SPW_HTTP_MAX_DOCUMENT    (8u << 20)
#define SPW_HTTP_MAX_PATHS       8
#define SPW_HTTP_MAX_ASKED       2
#define SPW_HTTP_QUERY_BYTES     512
//  Stopping, queries still waiting are answered 503 and get this long to go.
#define SPW_HTTP_STOP_WAIT_MS    1000

typedef struct spw_http_t spw_http_t;

//  Reads "HOST:PORT" (HOST an IPv4 address, or localhost; PORT 1 to
//  65535). 0, or -1 with a one-line reason in err.
int spw_http_parse(const char *listen, char *host, size_t host_size, unsigned *port, char *err,
                   size_t errlen);

//  Starts serving at listen ("HOST:PORT"). With a token (not NULL or
//  empty), every path but /healthz and / (a page, which holds no data)
//  wants "Authorization: Bearer TOKEN".
//  NULL with a reason in err if listen is malformed or cannot be bound.
spw_http_t *spw_http_start(const char *listen, const char *token, char *err, size_t errlen);

//  A daemon's endpoint from its settings: http (HOST:PORT) and
//  token_file (may be empty); keyed (curve_dir set) wants a token file,
//  as the endpoint would show the cluster to anyone. NULL with a reason.
spw_http_t *spw_http_open(const char *http, const char *token_file, int keyed, char *err,
                          size_t errlen);

//  Stops serving (waits for its thread) and frees; nulls the pointer. Safe
//  on NULL.
void spw_http_stop(spw_http_t **self_p);

//  Serves body[0, len) (copied) at path with the status and content type,
//  replacing what was there. -1 if out of memory, the document is too
//  large or the table of paths is full (what was there stays).
int spw_http_publish(spw_http_t *self, const char *path, unsigned status, const char *type,
                     const char *body, size_t len);

//  Makes path one the loop answers queries of (at most SPW_HTTP_MAX_ASKED).
//  With max_age_ms > 0 the loop also renders its document, on demand (an
//  empty query's answer, kept as the copy if 200, for max_age_ms); with 0
//  the document is what spw_http_publish last gave. -1 if the table is
//  full or path too long.
int spw_http_ask(spw_http_t *self, const char *path, int64_t max_age_ms);

//  A descriptor that polls readable while queries wait (for zmq_poll), -1
//  on NULL.
int spw_http_wake_fd(spw_http_t *self);

//  What the loop answers a query: a status, a content type (a literal, not
//  copied) and a body the endpoint takes (malloc'd; NULL for none).
typedef struct {
    unsigned status;
    const char *type;
    char *body;
    size_t len;
} spw_http_reply_t;

//  Answers a query of path: its words "KEY=VALUE KEY=VALUE" in the order
//  the URL gives them (values decoded; none holds a space), into reply.
//  Words are empty only when the path's document is wanted (a path asked
//  with a max age, read without a query).
typedef void (*spw_http_answer_fn)(void *arg, const char *path, const char *words,
                                   spw_http_reply_t *reply);

//  Answers every query waiting with fn, from the loop; returns how many.
//  Costs one read of the eventfd when none waits. Safe on NULL.
size_t spw_http_answer_queries(spw_http_t *self, spw_http_answer_fn fn, void *arg);

//  Reads the first line of path (trailing spaces and the newline cut) as
//  a token into token. 0, or -1 with a one-line reason (no file, empty,
//  longer than size - 1).
int spw_http_read_token(const char *path, char *token, size_t size, char *err, size_t errlen);

//  A text document grown as it is written (the metrics page). failed is
//  set once out of memory; the text written before stays.
typedef struct {
    char *data;
    size_t len, size;
    int failed;
} spw_text_t;

void spw_text_printf(spw_text_t *text, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void spw_text_free(spw_text_t *text);

//  A Prometheus metric's "# HELP" and "# TYPE" lines.
void spw_metric_head(spw_text_t *text, const char *name, const char *type, const char *help);

//  A histogram with fixed buckets (bounds ascending, at most
//  SPW_HISTOGRAM_MAX_BUCKETS, the +Inf bucket implied).
#define SPW_HISTOGRAM_MAX_BUCKETS 12
typedef struct {
    const double *bounds;
    size_t bucket_count;
    unsigned long long counts[SPW_HISTOGRAM_MAX_BUCKETS];   // per bucket, not cumulative
    unsigned long long count;
    double sum;
} spw_histogram_t;

void spw_histogram_add(spw_histogram_t *histogram, double value);

//  A histogram as Prometheus text: head, cumulative _bucket samples, _sum
//  and _count.
void spw_metric_histogram(spw_text_t *text, const char *name, const char *help,
                          const spw_histogram_t *histogram);

//  One sample of a metric with one label: its label's value and its value.
typedef struct {
    const char *label;
    unsigned long long value;
} spw_metric_sample_t;

//  A metric of type ("counter", "gauge") whose samples differ by one label
//  (key): its head, then name{key="label"} value for each.
void spw_metric_labelled(spw_text_t *text, const char *name, const char *type, const char *help,
                         const char *key, const spw_metric_sample_t *samples, size_t count);

//  A counter without labels: its head and its one sample.
void spw_metric_counter(spw_text_t *text, const char *name, const char *help,
                        unsigned long long value);

//  Requests answered, and refused (unknown path, method, token), since start.
void spw_http_counts(spw_http_t *self, unsigned long long *answered,
                     unsigned long long *refused);

#endif
