//  test_http.c: the http endpoint's queries the loop answers (spw_http.h),
//  over a real loopback socket: a query waits until the loop answers it,
//  its words are the URL's, a bad query string is refused without the
//  loop, and one still waiting when the endpoint stops is answered 503; a
//  path rendered when read is rendered once by the loop, served from that
//  copy while it is young, and rendered again once it is old.

#include "spw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

//  A loopback port nobody holds now.
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *) &addr, sizeof addr), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  One request in a thread of its own: the whole reply, read until the
//  server closes (HTTP/1.0), within 5 s.
typedef struct {
    unsigned port;
    char request[256];
    char reply[4096];
    size_t len;
    bool done;
} client_t;

static void *client_run(void *arg)
{
    client_t *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) c->port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof addr) != 0
        || write(fd, c->request, strlen(c->request)) != (ssize_t) strlen(c->request)) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    int64_t until = now_ms() + 5000;
    while (c->len < sizeof c->reply - 1 && now_ms() < until) {
        struct pollfd item = { .fd = fd, .events = POLLIN };
        if (poll(&item, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, c->reply + c->len, sizeof c->reply - 1 - c->len);
        if (n <= 0)
            break;
        c->len += (size_t) n;
    }
    c->reply[c->len] = '\0';
    c->done = true;
    close(fd);
    return NULL;
}

static void client_start(client_t *c, pthread_t *thread, unsigned port, const char *path)
{
    memset(c, 0, sizeof *c);
    c->port = port;
    snprintf(c->request, sizeof c->request, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    assert_int_equal(pthread_create(thread, NULL, client_run, c), 0);
}

//  One request that needs no loop, whole.
static void client_fetch(client_t *c, unsigned port, const char *path)
{
    pthread_t thread;
    client_start(c, &thread, port, path);
    pthread_join(thread, NULL);
}

//  The loop's answer: the path and the words it was asked.
static void echo_words(void *arg, const char *path, const char *words, spw_http_reply_t *reply)
{
    int *asked = arg;
    (*asked)++;
    char *body = malloc(256);
    int n = body ? snprintf(body, 256, "%s [%s]", path, words) : 0;
    *reply = (spw_http_reply_t) { 200, "text/plain", body, body ? (size_t) n : 0 };
}

//  Answers queries as the loop would, until one was answered or 3 s.
static int answer_one(spw_http_t *http)
{
    int asked = 0;
    for (int64_t until = now_ms() + 3000; !asked && now_ms() < until;) {
        struct pollfd item = { .fd = spw_http_wake_fd(http), .events = POLLIN };
        if (poll(&item, 1, 50) > 0)
            spw_http_answer_queries(http, echo_words, &asked);
    }
    return asked;
}

static spw_http_t *endpoint(unsigned *port)
{
    char listen[64], err[200];
    *port = free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%u", *port);
    spw_http_t *http = spw_http_start(listen, NULL, err, sizeof err);
    if (!http)
        fail_msg("cannot start the endpoint: %s", err);
    assert_int_equal(spw_http_publish(http, "/q", 200, "text/plain", "copy", 4), 0);
    assert_int_equal(spw_http_ask(http, "/q", 0), 0);
    return http;
}

static void test_http_query_waits_for_the_loop_and_gets_its_words(void **state)
{
    (void) state;
    unsigned port;
    spw_http_t *http = endpoint(&port);
    client_t c;
    pthread_t thread;
    //  Without a query string: the published copy, no loop.
    client_fetch(&c, port, "/q");
    assert_non_null(strstr(c.reply, " 200 "));
    assert_non_null(strstr(c.reply, "\r\n\r\ncopy"));
    //  With one: it waits until the loop answers, with the URL's words.
    client_start(&c, &thread, port, "/q?search=ab&limit=5");
    assert_int_equal(answer_one(http), 1);
    pthread_join(thread, NULL);
    assert_non_null(strstr(c.reply, " 200 "));
    assert_non_null(strstr(c.reply, "/q [search=ab limit=5]"));
    //  A value with a space is refused there, without the loop.
    client_fetch(&c, port, "/q?search=a%20b");
    assert_non_null(strstr(c.reply, " 400 "));
    int asked = 0;
    spw_http_answer_queries(http, echo_words, &asked);
    assert_int_equal(asked, 0);
    spw_http_stop(&http);
    assert_null(http);
}

static void test_http_query_waiting_at_stop_is_answered_503(void **state)
{
    (void) state;
    unsigned port;
    spw_http_t *http = endpoint(&port);
    client_t c;
    pthread_t thread;
    client_start(&c, &thread, port, "/q?limit=1");
    //  Listed (the wake descriptor is readable), never answered.
    struct pollfd item = { .fd = spw_http_wake_fd(http), .events = POLLIN };
    assert_int_equal(poll(&item, 1, 3000), 1);
    spw_http_stop(&http);
    pthread_join(thread, NULL);
    assert_true(c.done);
    assert_non_null(strstr(c.reply, " 503 "));
    assert_non_null(strstr(c.reply, "stopping"));
}

//  The loop's answer to a document wanted: 503 while *arg is negative.
static void render(void *arg, const char *path, const char *words, spw_http_reply_t *reply)
{
    int *renders = arg;
    if (*renders < 0) {
        *reply = (spw_http_reply_t) { 503, "text/plain", NULL, 0 };
        return;
    }
    (*renders)++;
    char *body = malloc(64);
    int n = body ? snprintf(body, 64, "%s render %d [%s]", path, *renders, words) : 0;
    *reply = (spw_http_reply_t) { 200, "text/plain", body, body ? (size_t) n : 0 };
}

//  Fetches path while answering as the loop would, until it is answered
//  or 5 s.
static void fetch_rendered(spw_http_t *http, client_t *c, unsigned port, const char *path,
                           int *renders)
{
    pthread_t thread;
    client_start(c, &thread, port, path);
    for (int64_t until = now_ms() + 5000; !c->done && now_ms() < until;) {
        struct pollfd item = { .fd = spw_http_wake_fd(http), .events = POLLIN };
        if (poll(&item, 1, 20) > 0)
            spw_http_answer_queries(http, render, renders);
    }
    pthread_join(thread, NULL);
}

static void test_http_document_is_rendered_when_read_and_kept_for_its_max_age(void **state)
{
    (void) state;
    unsigned port;
    spw_http_t *http = endpoint(&port);
    assert_int_equal(spw_http_ask(http, "/kept", 600000), 0);
    assert_int_equal(spw_http_ask(http, "/x", 1), -1);   // the table holds two
    client_t c;
    //  Nothing published: the loop is asked for the document, with no words.
    int renders = 0;
    fetch_rendered(http, &c, port, "/kept", &renders);
    assert_int_equal(renders, 1);
    assert_non_null(strstr(c.reply, " 200 "));
    assert_non_null(strstr(c.reply, "\r\n\r\n/kept render 1 []"));
    //  Young: the copy, without the loop.
    client_fetch(&c, port, "/kept");
    assert_non_null(strstr(c.reply, "/kept render 1 []"));
    spw_http_stop(&http);

    http = endpoint(&port);
    assert_int_equal(spw_http_ask(http, "/old", 1), 0);
    //  An answer other than 200 is not kept: the next read asks again.
    renders = -1;
    fetch_rendered(http, &c, port, "/old", &renders);
    assert_non_null(strstr(c.reply, " 503 "));
    renders = 0;
    fetch_rendered(http, &c, port, "/old", &renders);
    assert_non_null(strstr(c.reply, "/old render 1 []"));
    //  Once older than its max age (1 ms), it is rendered again.
    for (int64_t past = now_ms() + 2; now_ms() < past;) {
    }
    fetch_rendered(http, &c, port, "/old", &renders);
    assert_int_equal(renders, 2);
    assert_non_null(strstr(c.reply, "/old render 2 []"));
    //  A query of it still goes to the loop with its words.
    fetch_rendered(http, &c, port, "/old?limit=3", &renders);
    assert_non_null(strstr(c.reply, "/old render 3 [limit=3]"));
    spw_http_stop(&http);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_query_waits_for_the_loop_and_gets_its_words),
        cmocka_unit_test(test_http_query_waiting_at_stop_is_answered_503),
        cmocka_unit_test(test_http_document_is_rendered_when_read_and_kept_for_its_max_age),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
