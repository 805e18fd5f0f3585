//  test_status.c: the hub's status rendering (hub/status.h), read as its
//  specification.
//
//  A query is read from KEY=VALUE words and refused with a reason when it
//  is not one; the summary counts every edge whatever the page; a page is
//  the query's edges in its order from its offset, at most its limit, and
//  says where the next starts; one edge is picked by name; and an answer
//  stays under SPW_STATUS_MAX_BYTES with any number of edges and services.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "capacity.h"
#include "status.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void no_rates(void *arg, const spw_edge_state_t *edge, double *out, double *in)
{
    (void) arg;
    (void) edge;
    *out = *in = 0;
}

//  count live edges "e0000".. with services services each; edge i queues i tasks.
static spw_capacity_t *fleet(size_t count, size_t services)
{
    spw_capacity_t *table = spw_capacity_new(count, services);
    assert_non_null(table);
    spw_service_state_t *figures = calloc(services, sizeof *figures);
    assert_non_null(figures);
    for (size_t i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof name, "e%04zu", i);
        assert_int_equal(spw_capacity_register(table, name, i + 1, "tcp://10.0.0.1:5557", "z1", 0,
                                               1000, NULL),
                         SPW_REG_NEW);
        for (size_t s = 0; s < services; s++) {
            memset(&figures[s], 0, sizeof figures[s]);
            snprintf(figures[s].name, sizeof figures[s].name, "service-with-a-long-name-%02zu", s);
            figures[s].workers = 8;
            figures[s].idle = s == 0 ? (uint32_t) (i % 3) : 0;
            figures[s].queued = s == 0 ? (uint32_t) i : 0;
        }
        assert_int_equal(spw_capacity_update(table, name, i + 1, figures, services, 0, 0, 0), 0);
    }
    free(figures);
    return table;
}

static spw_status_view_t view_of(spw_capacity_t *table)
{
    static const spw_status_counter_t counters[] = { { "registered", 7 } };
    return (spw_status_view_t) { .hub = "hub", .policy = "most-spare", .capacity = table,
                                 .rates = no_rates, .counters = counters, .counter_count = 1 };
}

static spw_status_query_t query_of(const char *text)
{
    spw_status_query_t query;
    char err[200];
    if (spw_status_query_parse(text, strlen(text), &query, err, sizeof err) != 0)
        fail_msg("query '%s' refused: %s", text, err);
    return query;
}

static void test_status_query_reads_words_and_refuses_others(void **state)
{
    (void) state;
    spw_status_query_t query = query_of("");
    assert_int_equal(query.limit, SPW_STATUS_LIMIT_DEFAULT);
    assert_int_equal(query.offset, 0);
    assert_int_equal(query.sort, SPW_STATUS_SORT_NAME);
    assert_string_equal(query.edge, "");
    query = query_of("  sort=queued limit=7 offset=20  edge=site-a ");
    assert_int_equal(query.sort, SPW_STATUS_SORT_QUEUED);
    assert_int_equal(query.limit, 7);
    assert_int_equal(query.offset, 20);
    assert_string_equal(query.edge, "site-a");
    query = query_of("search=Site");
    assert_string_equal(query.search, "Site");
    const char *bad[] = { "sort=loud", "limit=0", "limit=1001", "offset=-1", "offset=x",
                          "edge=", "edge=a\nb", "colour=red", "limit", "limit=99999999999",
                          "search=", "search=a b", "search=%41" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[200] = "";
        if (spw_status_query_parse(bad[i], strlen(bad[i]), &query, err, sizeof err) == 0)
            fail_msg("query '%s' was taken", bad[i]);
        assert_true(strlen(err) > 0);
    }
}

static void test_status_pages_edges_in_the_querys_order(void **state)
{
    (void) state;
    spw_capacity_t *table = fleet(250, 1);
    spw_status_view_t view = view_of(table);
    spw_status_query_t query = query_of("");
    size_t len;
    char *json = spw_status_json(&view, &query, 0, &len);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"summary\":{\"edges\":250,\"alive\":250,\"dead\":0"));
    assert_non_null(strstr(json, "\"matched\":250"));
    assert_non_null(strstr(json, "\"next_offset\":100"));
    assert_non_null(strstr(json, "\"name\":\"e0099\""));
    assert_null(strstr(json, "\"name\":\"e0100\""));
    //  The busiest summary names the most queued, whatever the page.
    assert_non_null(strstr(json, "\"busiest\":[{\"name\":\"e0249\",\"queued\":249}"));
    const char *busiest = strstr(json, "\"busiest\":"), *idlest = strstr(json, "\"idlest\":");
    assert_non_null(busiest);
    assert_non_null(idlest);
    //  All five in order; the idlest ties (idle 2) broken by name.
    const char *order[] = { "e0249", "e0248", "e0247", "e0246", "e0245", NULL,
                            "e0002", "e0005", "e0008", "e0011", "e0014", NULL };
    for (const char *const *name = order, *at = busiest; name < order + 12; name++) {
        if (!*name) {
            at = idlest;
            continue;
        }
        const char *found = strstr(at, *name);
        if (!found)
            fail_msg("%s not after %.40s", *name, at);
        at = found;
    }
    const char *end = strchr(idlest, ']');
    assert_non_null(end);
    const char *sixth = strstr(idlest, "e0017");
    assert_true(!sixth || sixth > end);   // only five
    free(json);
    query = query_of("sort=queued offset=200 limit=100");
    json = spw_status_json(&view, &query, 0, &len);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"edges\":[{\"name\":\"e0049\""));
    assert_non_null(strstr(json, "\"next_offset\":null"));
    assert_null(strstr(json, "\"name\":\"e0050\",\"state\""));
    free(json);
    query = query_of("edge=e0123");
    json = spw_status_json(&view, &query, 0, &len);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"matched\":1,\"edges\":[{\"name\":\"e0123\""));
    free(json);
    char *text = spw_status_text(&view, &query, 0, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "\ne0123 "));
    assert_null(strstr(text, "\ne0124 "));
    free(text);
    query = query_of("edge=nobody");
    text = spw_status_text(&view, &query, 0, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "(no edge named nobody)"));
    free(text);
    //  A search picks the names that hold it, in any case, over every edge.
    query = query_of("search=E012 limit=5");
    json = spw_status_json(&view, &query, 0, &len);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"search\":\"E012\""));
    assert_non_null(strstr(json, "\"matched\":10,\"edges\":[{\"name\":\"e0120\""));
    assert_non_null(strstr(json, "\"next_offset\":5"));
    assert_null(strstr(json, "\"name\":\"e0125\",\"state\""));
    free(json);
    query = query_of("search=zz");
    text = spw_status_text(&view, &query, 0, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "(no edge whose name holds zz)"));
    free(text);
    spw_capacity_destroy(&table);
}

static void test_status_answer_stays_bounded_with_many_edges_and_services(void **state)
{
    (void) state;
    spw_capacity_t *table = fleet(2000, 64);
    spw_status_view_t view = view_of(table);
    spw_status_query_t query = query_of("limit=1000");
    size_t len;
    char *json = spw_status_json(&view, &query, 0, &len);
    assert_non_null(json);
    assert_true(len <= SPW_STATUS_MAX_BYTES);
    assert_non_null(strstr(json, "\"next_offset\":"));
    assert_null(strstr(json, "\"next_offset\":null"));
    assert_int_equal(json[len - 1], '}');
    free(json);
    char *text = spw_status_text(&view, &query, 0, &len);
    assert_non_null(text);
    assert_true(len <= SPW_STATUS_MAX_BYTES);
    assert_non_null(strstr(text, "--offset"));
    free(text);
    spw_capacity_destroy(&table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_query_reads_words_and_refuses_others),
        cmocka_unit_test(test_status_pages_edges_in_the_querys_order),
        cmocka_unit_test(test_status_answer_stays_bounded_with_many_edges_and_services),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
