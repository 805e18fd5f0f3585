//  http.c: the read-only HTTP endpoint (see spw_http.h), on libmicrohttpd.
//
//  One epoll thread of libmicrohttpd's serves every connection; what it
//  serves is a table of documents the loop replaces whole under a mutex.
//  A request copies its document under that mutex and sends the copy, so
//  the loop waits at most for one copy, never for a client. A query the
//  loop answers is a query_t: the request suspends its connection and
//  lists it under the mutex, and writes the eventfd the loop polls; the
//  loop takes the list, answers each and resumes its connection, which
//  then sends the answer from this thread. The query is the connection's
//  to free when it completes.

#include "spw_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char path[64];
    unsigned status;
    char type[64];
    char *body;
    size_t len;
    int64_t published_ms;   // on the monotonic clock
} document_t;

//  A path the loop answers queries of, and renders if max_age_ms > 0.
typedef struct {
    char path[64];
    int64_t max_age_ms;
} asked_t;

//  A query waiting for the loop, then its answer.
typedef struct query_t {
    struct query_t *next;
    struct MHD_Connection *connection;
    char path[64];
    char words[SPW_HTTP_QUERY_BYTES + 1];
    size_t words_len;
    bool bad;              // the query string was refused: words holds why
    int64_t max_age_ms;    // > 0: the path's document is wanted (no words)
    char type[64];         // a copy's content type, where reply.type points
    spw_http_reply_t reply;
} query_t;

struct spw_http_t {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    document_t documents[SPW_HTTP_MAX_PATHS];
    size_t count;
    asked_t asked[SPW_HTTP_MAX_ASKED];
    size_t asked_count;
    query_t *waiting;      // under lock, newest first
    size_t outstanding;    // under lock: queries listed and not yet completed
    pthread_cond_t completed;   // signalled as one completes (CLOCK_MONOTONIC)
    bool stopping;         // under lock: no query is listed any more
    int wake;              // eventfd: readable while queries wait
    char *token;   // NULL: none wanted
    unsigned long long answered, refused;
};

int spw_http_parse(const char *listen, char *host, size_t host_size, unsigned *port, char *err,
                   size_t errlen)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || colon == listen || (size_t) (colon - listen) >= host_size) {
        snprintf(err, errlen, "http must be HOST:PORT (an IPv4 address or localhost), got '%s'",
                 listen ? listen : "");
        return -1;
    }
    memcpy(host, listen, (size_t) (colon - listen));
    host[colon - listen] = '\0';
    char *end = NULL;
    unsigned long value = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || value == 0 || value > 65535) {
        snprintf(err, errlen, "http port must be 1 to 65535, got '%s'", colon + 1);
        return -1;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, host_size, "127.0.0.1");
    struct in_addr addr;
    if (inet_pton(AF_INET, host, &addr) != 1) {
        snprintf(err, errlen, "http host must be an IPv4 address or localhost, got '%s'", host);
        return -1;
    }
    *port = (unsigned) value;
    return 0;
}

//  True if the two strings are equal, in time that depends on their
//  lengths only (a token is not guessed byte by byte).
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char) (a[i] ^ b[i]);
    return diff == 0;
}

static enum MHD_Result answer(struct MHD_Connection *connection, unsigned status,
                              const char *type, const char *body, size_t len)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, (void *) body, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result refuse(spw_http_t *self, struct MHD_Connection *connection,
                              unsigned status, const char *why)
{
    pthread_mutex_lock(&self->lock);
    self->refused++;
    pthread_mutex_unlock(&self->lock);
    return answer(connection, status, "text/plain; charset=utf-8", why, strlen(why));
}

//  Adds one URL argument to a query's words as KEY=VALUE; a value with a
//  space, a key with '=' or a query string too long marks it bad.
static enum MHD_Result add_word(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void) kind;
    query_t *query = cls;
    if (query->bad)
        return MHD_NO;
    value = value ? value : "";
    const char *why = NULL;
    if (strpbrk(key, " =") || strchr(value, ' ') || !*key)
        why = "a query's keys and values hold no space (and keys no '=')\n";
    else if (query->words_len + strlen(key) + strlen(value) + 2 > SPW_HTTP_QUERY_BYTES)
        why = "the query string is too long\n";
    if (why) {
        query->bad = true;
        snprintf(query->words, sizeof query->words, "%s", why);
        return MHD_NO;
    }
    query->words_len += (size_t) snprintf(query->words + query->words_len,
                                          sizeof query->words - query->words_len, "%s%s=%s",
                                          query->words_len ? " " : "", key, value);
    return MHD_YES;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  The asked path url, or NULL. Under lock.
static const asked_t *find_asked(spw_http_t *self, const char *url)
{
    for (size_t i = 0; i < self->asked_count; i++)
        if (strcmp(self->asked[i].path, url) == 0)
            return &self->asked[i];
    return NULL;
}

//  The document at path, or NULL; with max_age_ms > 0, NULL too if it is
//  that old. Under lock.
static document_t *find_document(spw_http_t *self, const char *path, int64_t max_age_ms)
{
    for (size_t i = 0; i < self->count; i++) {
        document_t *doc = &self->documents[i];
        if (strcmp(doc->path, path) == 0)
            return max_age_ms <= 0 || monotonic_ms() - doc->published_ms < max_age_ms ? doc
                                                                                       : NULL;
    }
    return NULL;
}

//  Suspends a request of an asked path until the loop answers it: its
//  query string's words, or (max_age_ms > 0) none, for the document.
//  MHD_YES once listed (or answered with an error).
static enum MHD_Result ask_loop(spw_http_t *self, struct MHD_Connection *connection,
                                const char *url, int64_t max_age_ms, void **state)
{
    query_t *query = calloc(1, sizeof *query);
    if (!query)
        return refuse(self, connection, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
    query->connection = connection;
    query->max_age_ms = max_age_ms;
    snprintf(query->path, sizeof query->path, "%s", url);
    if (max_age_ms <= 0)
        MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, add_word, query);
    if (query->bad) {
        enum MHD_Result rc = refuse(self, connection, MHD_HTTP_BAD_REQUEST, query->words);
        free(query);
        return rc;
    }
    pthread_mutex_lock(&self->lock);
    bool stopping = self->stopping;
    if (!stopping) {
        MHD_suspend_connection(connection);
        query->next = self->waiting;
        self->waiting = query;
        self->outstanding++;
        *state = query;   // freed as the connection completes
        //  An eventfd's write fails only when its count is full: it is
        //  readable then, and the loop takes this query with the rest.
        uint64_t one = 1;
        ssize_t wrote = write(self->wake, &one, sizeof one);
        (void) wrote;
    }
    pthread_mutex_unlock(&self->lock);
    if (stopping) {
        free(query);
        return refuse(self, connection, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **state,
                         enum MHD_RequestTerminationCode code)
{
    (void) connection;
    (void) code;
    spw_http_t *self = cls;
    query_t *query = *state;
    if (query) {
        pthread_mutex_lock(&self->lock);
        self->outstanding--;
        pthread_cond_signal(&self->completed);
        pthread_mutex_unlock(&self->lock);
        free(query->reply.body);
        free(query);
        *state = NULL;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **state)
{
    (void) version;
    (void) upload_data;
    spw_http_t *self = cls;
    query_t *query = *state;
    if (query) {   // resumed: the loop answered
        pthread_mutex_lock(&self->lock);
        self->answered++;
        pthread_mutex_unlock(&self->lock);
        return answer(connection, query->reply.status, query->reply.type,
                      query->reply.body ? query->reply.body : "", query->reply.len);
    }
    if (*upload_data_size)
        return refuse(self, connection, MHD_HTTP_CONTENT_TOO_LARGE, "no request body here\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return refuse(self, connection, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or HEAD only\n");
    if (strcmp(url, "/healthz") == 0) {
        pthread_mutex_lock(&self->lock);
        self->answered++;
        pthread_mutex_unlock(&self->lock);
        return answer(connection, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n", 3);
    }
    //  The page itself holds no data (it asks for the token to read any).
    if (self->token && strcmp(url, "/") != 0) {
        const char *given =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!given || strncmp(given, "Bearer ", 7) != 0 || !same_secret(given + 7, self->token))
            return refuse(self, connection, MHD_HTTP_UNAUTHORIZED,
                          "this endpoint wants Authorization: Bearer TOKEN (http_token_file)\n");
    }
    bool queried = MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0;
    enum MHD_Result rc = MHD_NO;
    pthread_mutex_lock(&self->lock);
    const asked_t *ask = find_asked(self, url);
    int64_t max_age_ms = ask && !queried ? ask->max_age_ms : 0;
    document_t *doc = ask && queried ? NULL : find_document(self, url, max_age_ms);
    if (doc) {
        self->answered++;
        rc = answer(connection, doc->status, doc->type, doc->body, doc->len);
    }
    pthread_mutex_unlock(&self->lock);
    if (doc)
        return rc;
    if (ask && (queried || max_age_ms > 0))
        return ask_loop(self, connection, url, max_age_ms, state);
    return refuse(self, connection, MHD_HTTP_NOT_FOUND, "no such path\n");
}

spw_http_t *spw_http_start(const char *listen, const char *token, char *err, size_t errlen)
{
    char host[64];
    unsigned port;
    if (spw_http_parse(listen, host, sizeof host, &port, err, errlen) != 0)
        return NULL;
    spw_http_t *self = calloc(1, sizeof *self);
    pthread_condattr_t monotonic;
    bool made = self && pthread_condattr_init(&monotonic) == 0;
    if (made) {
        made = pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC) == 0
            && pthread_cond_init(&self->completed, &monotonic) == 0;
        pthread_condattr_destroy(&monotonic);
    }
    if (made && pthread_mutex_init(&self->lock, NULL) != 0) {
        pthread_cond_destroy(&self->completed);
        made = false;
    }
    if (!made) {
        free(self);
        snprintf(err, errlen, "out of memory for the http endpoint");
        return NULL;
    }
    self->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->wake < 0) {
        snprintf(err, errlen, "cannot make the http endpoint's eventfd: %s", strerror(errno));
        spw_http_stop(&self);
        return NULL;
    }
    if (token && *token && !(self->token = strdup(token))) {
        spw_http_stop(&self);
        snprintf(err, errlen, "out of memory for the http endpoint");
        return NULL;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    inet_pton(AF_INET, host, &addr.sin_addr);
    self->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, (uint16_t) port, NULL, NULL,
        on_request, self,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) SPW_HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) SPW_HTTP_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) SPW_HTTP_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) SPW_HTTP_REQUEST_BYTES,
        MHD_OPTION_END);
    if (!self->daemon) {
        snprintf(err, errlen, "cannot serve http at %s:%u (in use, or not an address here)", host,
                 port);
        spw_http_stop(&self);
        return NULL;
    }
    return self;
}

spw_http_t *spw_http_open(const char *http, const char *token_file, int keyed, char *err,
                          size_t errlen)
{
    char token[256] = "";
    if (keyed && !*token_file) {
        snprintf(err, errlen, "with curve_dir set, http needs http_token_file");
        return NULL;
    }
    if (*token_file && spw_http_read_token(token_file, token, sizeof token, err, errlen) != 0)
        return NULL;
    return spw_http_start(http, token, err, errlen);
}

void spw_http_stop(spw_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_http_t *self = *self_p;
    //  Queries still waiting are answered "stopping" before the daemon
    //  stops (it may not stop with connections suspended).
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    query_t *waiting = self->waiting;
    self->waiting = NULL;
    pthread_mutex_unlock(&self->lock);
    for (query_t *query = waiting, *next; query; query = next) {
        next = query->next;
        query->reply = (spw_http_reply_t) { .status = MHD_HTTP_SERVICE_UNAVAILABLE,
                                            .type = "text/plain; charset=utf-8",
                                            .body = strdup("stopping\n"), .len = 9 };
        if (!query->reply.body)
            query->reply.len = 0;
        MHD_resume_connection(query->connection);
    }
    //  Resuming only marks them: they are sent from the daemon's thread,
    //  which gets SPW_HTTP_STOP_WAIT_MS to do so before it stops.
    if (self->daemon) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += SPW_HTTP_STOP_WAIT_MS / 1000;
        until.tv_nsec += (long) (SPW_HTTP_STOP_WAIT_MS % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&self->lock);
        while (self->outstanding > 0
               && pthread_cond_timedwait(&self->completed, &self->lock, &until) == 0) {
        }
        pthread_mutex_unlock(&self->lock);
        MHD_stop_daemon(self->daemon);
    }
    if (self->wake >= 0)
        close(self->wake);
    for (size_t i = 0; i < self->count; i++)
        free(self->documents[i].body);
    free(self->token);
    pthread_mutex_destroy(&self->lock);
    pthread_cond_destroy(&self->completed);
    free(self);
    *self_p = NULL;
}

int spw_http_publish(spw_http_t *self, const char *path, unsigned status, const char *type,
                     const char *body, size_t len)
{
    if (!self || len > SPW_HTTP_MAX_DOCUMENT || strlen(path) >= sizeof self->documents[0].path
        || strlen(type) >= sizeof self->documents[0].type)
        return -1;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, body, len);
    int rc = 0;
    pthread_mutex_lock(&self->lock);
    document_t *doc = NULL;
    for (size_t i = 0; i < self->count && !doc; i++)
        if (strcmp(self->documents[i].path, path) == 0)
            doc = &self->documents[i];
    if (!doc && self->count < SPW_HTTP_MAX_PATHS) {
        doc = &self->documents[self->count++];
        snprintf(doc->path, sizeof doc->path, "%s", path);
        doc->body = NULL;
    }
    if (doc) {
        free(doc->body);
        doc->body = copy;
        doc->len = len;
        doc->status = status;
        doc->published_ms = monotonic_ms();
        snprintf(doc->type, sizeof doc->type, "%s", type);
    }
    else
        rc = -1;
    pthread_mutex_unlock(&self->lock);
    if (rc != 0)
        free(copy);
    return rc;
}

int spw_http_read_token(const char *path, char *token, size_t size, char *err, size_t errlen)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        snprintf(err, errlen, "cannot read http_token_file %s", path);
        return -1;
    }
    char line[1024];
    bool read = fgets(line, sizeof line, file) != NULL;
    fclose(file);
    size_t len = read ? strcspn(line, "\r\n") : 0;
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= size) {
        snprintf(err, errlen, "http_token_file %s must hold a token of 1 to %zu bytes on its "
                 "first line", path, size - 1);
        return -1;
    }
    memcpy(token, line, len);
    token[len] = '\0';
    return 0;
}

void spw_text_printf(spw_text_t *text, const char *format, ...)
{
    for (int pass = 0; pass < 2 && !text->failed; pass++) {
        va_list args;
        va_start(args, format);
        size_t room = text->size - text->len;
        int n = vsnprintf(text->data ? text->data + text->len : NULL, room, format, args);
        va_end(args);
        if (n < 0) {
            text->failed = 1;
            return;
        }
        if ((size_t) n < room) {
            text->len += (size_t) n;
            return;
        }
        size_t size = text->size ? text->size : 4096;
        while (size < text->len + (size_t) n + 1)
            size *= 2;
        char *grown = realloc(text->data, size);
        if (!grown) {
            text->failed = 1;
            return;
        }
        text->data = grown;
        text->size = size;
    }
}

void spw_text_free(spw_text_t *text)
{
    free(text->data);
    *text = (spw_text_t) { 0 };
}

void spw_metric_head(spw_text_t *text, const char *name, const char *type, const char *help)
{
    spw_text_printf(text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void spw_histogram_add(spw_histogram_t *histogram, double value)
{
    size_t b = 0;
    while (b < histogram->bucket_count && value > histogram->bounds[b])
        b++;
    if (b < histogram->bucket_count)
        histogram->counts[b]++;
    histogram->count++;
    histogram->sum += value;
}

void spw_metric_histogram(spw_text_t *text, const char *name, const char *help,
                          const spw_histogram_t *histogram)
{
    spw_metric_head(text, name, "histogram", help);
    unsigned long long cumulative = 0;
    for (size_t b = 0; b < histogram->bucket_count; b++) {
        cumulative += histogram->counts[b];
        spw_text_printf(text, "%s_bucket{le=\"%g\"} %llu\n", name, histogram->bounds[b],
                        cumulative);
    }
    spw_text_printf(text, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                    histogram->count, name, histogram->sum, name, histogram->count);
}

void spw_metric_labelled(spw_text_t *text, const char *name, const char *type, const char *help,
                         const char *key, const spw_metric_sample_t *samples, size_t count)
{
    spw_metric_head(text, name, type, help);
    for (size_t i = 0; i < count; i++)
        spw_text_printf(text, "%s{%s=\"%s\"} %llu\n", name, key, samples[i].label,
                        samples[i].value);
}

void spw_metric_counter(spw_text_t *text, const char *name, const char *help,
                        unsigned long long value)
{
    spw_metric_head(text, name, "counter", help);
    spw_text_printf(text, "%s %llu\n", name, value);
}

int spw_http_ask(spw_http_t *self, const char *path, int64_t max_age_ms)
{
    if (!self || self->asked_count == SPW_HTTP_MAX_ASKED
        || strlen(path) >= sizeof self->asked[0].path
        || strlen(path) >= sizeof self->documents[0].path)
        return -1;
    pthread_mutex_lock(&self->lock);
    asked_t *ask = &self->asked[self->asked_count++];
    snprintf(ask->path, sizeof ask->path, "%s", path);
    ask->max_age_ms = max_age_ms;
    pthread_mutex_unlock(&self->lock);
    return 0;
}

int spw_http_wake_fd(spw_http_t *self)
{
    return self ? self->wake : -1;
}

//  A copy of the query's document into reply if one younger than its max
//  age is there (another query of the batch rendered it). False if none,
//  or out of memory.
static bool fresh_copy(spw_http_t *self, query_t *query, spw_http_reply_t *reply)
{
    bool copied = false;
    pthread_mutex_lock(&self->lock);
    const document_t *doc = find_document(self, query->path, query->max_age_ms);
    char *body = doc ? malloc(doc->len ? doc->len : 1) : NULL;
    if (body) {
        memcpy(body, doc->body, doc->len);
        snprintf(query->type, sizeof query->type, "%s", doc->type);
        *reply = (spw_http_reply_t) { doc->status, query->type, body, doc->len };
        copied = true;
    }
    pthread_mutex_unlock(&self->lock);
    return copied;
}

size_t spw_http_answer_queries(spw_http_t *self, spw_http_answer_fn fn, void *arg)
{
    if (!self)
        return 0;
    uint64_t count;
    if (read(self->wake, &count, sizeof count) != (ssize_t) sizeof count)
        return 0;   // none waits (EAGAIN)
    pthread_mutex_lock(&self->lock);
    query_t *waiting = self->waiting;
    self->waiting = NULL;
    pthread_mutex_unlock(&self->lock);
    //  Oldest first: the list is newest first.
    query_t *oldest = NULL;
    while (waiting) {
        query_t *next = waiting->next;
        waiting->next = oldest;
        oldest = waiting;
        waiting = next;
    }
    size_t answered = 0;
    for (query_t *query = oldest, *next; query; query = next) {
        next = query->next;   // the query is not ours once resumed
        spw_http_reply_t reply = { .status = 500, .type = "text/plain; charset=utf-8" };
        if (query->max_age_ms <= 0 || !fresh_copy(self, query, &reply)) {
            fn(arg, query->path, query->words, &reply);
            if (!reply.type)
                reply.type = "text/plain; charset=utf-8";
            if (query->max_age_ms > 0 && reply.status == 200)
                spw_http_publish(self, query->path, reply.status, reply.type, reply.body,
                                 reply.len);
        }
        query->reply = reply;
        MHD_resume_connection(query->connection);
        answered++;
    }
    return answered;
}

void spw_http_counts(spw_http_t *self, unsigned long long *answered,
                     unsigned long long *refused)
{
    pthread_mutex_lock(&self->lock);
    *answered = self->answered;
    *refused = self->refused;
    pthread_mutex_unlock(&self->lock);
}
