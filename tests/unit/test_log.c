//  test_log.c: operator logs — one line an event, the role and name on
//  every line, key=value text or the same pairs as one JSON object, nothing
//  below the configured level.

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "spw_log.h"

//  Runs one spw_log call with stderr sent to a temporary file; returns what
//  was written (static buffer).
static const char *capture(spw_log_level_t level, const char *event, const char *pairs)
{
    static char out[2048];
    char path[] = "/tmp/spw-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    spw_log(level, event, "%s", pairs);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, out, sizeof out - 1);
    out[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
    return out;
}

static void test_text_line_has_level_role_name_event_and_pairs(void **state)
{
    (void) state;
    spw_log_open("edge", "A", SPW_LOG_INFO, SPW_LOG_TEXT);
    const char *line = capture(SPW_LOG_WARNING, "worker_lost", "service=echo busy=yes");
    const char *rest = strstr(line, " level=");
    if (!rest || strcmp(rest, " level=warning edge=A event=worker_lost service=echo busy=yes\n"))
        fail_msg("expected '... level=warning edge=A event=worker_lost service=echo busy=yes', "
                 "got '%s'", line);
    assert_true(line[4] == '-' && line[10] == 'T');  // an ISO 8601 time first
}

static void test_json_line_carries_the_same_pairs(void **state)
{
    (void) state;
    spw_log_open("hub", "H", SPW_LOG_DEBUG, SPW_LOG_JSON);
    const char *line = capture(SPW_LOG_INFO, "edge_joined", "name=B reason=\"two words\" n=3");
    const char *rest = strstr(line, ",\"level\"");
    if (!rest
        || strcmp(rest, ",\"level\":\"info\",\"hub\":\"H\",\"event\":\"edge_joined\",\"name\":\"B\","
                        "\"reason\":\"two words\",\"n\":\"3\"}\n"))
        fail_msg("unexpected JSON line: %s", line);
    assert_true(strncmp(line, "{\"ts\":\"", 7) == 0);
}

static void test_json_escapes_backslashes_and_control_characters(void **state)
{
    (void) state;
    spw_log_open("edge", "A", SPW_LOG_DEBUG, SPW_LOG_JSON);
    const char *line = capture(SPW_LOG_INFO, "x", "path=a\\b tab=\t");
    if (!strstr(line, "\"path\":\"a\\\\b\""))
        fail_msg("backslash not escaped: %s", line);
    if (!strstr(line, "\"tab\":\"\\\\x09\""))
        fail_msg("tab not escaped: %s", line);
}

static void test_a_newline_from_outside_cannot_forge_a_line(void **state)
{
    (void) state;
    spw_log_open("hub", "H", SPW_LOG_DEBUG, SPW_LOG_TEXT);
    const char *line = capture(SPW_LOG_INFO, "edge_joined",
                               "zone=x\n2026-01-01T00:00:00.000Z level=error hub=H event=forged");
    const char *newline = strchr(line, '\n');
    if (!newline || newline[1] != 0)
        fail_msg("expected one line, got: %s", line);
    if (!strstr(line, "zone=x\\x0a2026"))
        fail_msg("newline not escaped: %s", line);
}

static void test_nothing_below_the_level_is_written(void **state)
{
    (void) state;
    spw_log_open("edge", "A", SPW_LOG_WARNING, SPW_LOG_TEXT);
    assert_string_equal(capture(SPW_LOG_INFO, "task_requeued", "service=echo"), "");
    assert_false(spw_log_enabled(SPW_LOG_DEBUG));
    assert_true(spw_log_enabled(SPW_LOG_ERROR));
}

static void test_log_bytes_prints_text_as_is_and_binary_as_hex(void **state)
{
    (void) state;
    char buf[64];
    assert_string_equal(spw_log_bytes("Worker-1", 8, buf, sizeof buf), "Worker-1");
    assert_string_equal(spw_log_bytes("\x00\xe4\x3c", 3, buf, sizeof buf), "00e43c");
    assert_string_equal(spw_log_bytes("a b", 3, buf, sizeof buf), "612062");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_line_has_level_role_name_event_and_pairs),
        cmocka_unit_test(test_json_line_carries_the_same_pairs),
        cmocka_unit_test(test_json_escapes_backslashes_and_control_characters),
        cmocka_unit_test(test_a_newline_from_outside_cannot_forge_a_line),
        cmocka_unit_test(test_nothing_below_the_level_is_written),
        cmocka_unit_test(test_log_bytes_prints_text_as_is_and_binary_as_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
