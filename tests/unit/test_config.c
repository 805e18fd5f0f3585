//  test_config.c: the configuration loader, read as its specification.
//
//  Each test writes a small YAML file under /tmp, loads it through the edge's
//  key table and checks either the settings or the exact one-line error,
//  position included. Flags (spw_config_set), the required-key check and the
//  endpoint syntax are tested the same way, without files. The example
//  config/edge.yaml is loaded from SPW_SOURCE_ROOT when meson provides it.

#include "spw_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define PATH_SIZE 64

//  Writes text into a new temporary file; its name goes into path.
static void write_temp(const char *text, char *path)
{
    snprintf(path, PATH_SIZE, "/tmp/spw_test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t) len);
    close(fd);
}

//  Settings as a program starts: zeroed, then the table's defaults.
static void start_settings(spw_edge_config_t *config)
{
    char err[SPW_ERROR_MAX] = "";
    memset(config, 0, sizeof *config);
    assert_int_equal(spw_config_defaults(spw_edge_keys, config, err, sizeof err), 0);
}

//  Loads text as a file over the defaults; path receives the file's name.
static int load_text(const char *text, spw_edge_config_t *config, char *path,
                     char *err, size_t errlen)
{
    start_settings(config);
    write_temp(text, path);
    err[0] = '\0';
    int rc = spw_config_load(path, spw_edge_keys, config, err, errlen);
    unlink(path);
    return rc;
}

//  Asserts that loading text fails with exactly "PATH" followed by suffix.
static void assert_load_error(const char *text, const char *suffix)
{
    spw_edge_config_t config;
    char path[PATH_SIZE];
    char err[SPW_ERROR_MAX];
    char expected[SPW_ERROR_MAX];
    assert_int_equal(load_text(text, &config, path, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "%s%s", path, suffix);
    assert_string_equal(err, expected);
}

//  Asserts that loading text succeeds; returns the settings in config.
static void assert_loads(const char *text, spw_edge_config_t *config)
{
    char path[PATH_SIZE];
    char err[SPW_ERROR_MAX];
    int rc = load_text(text, config, path, err, sizeof err);
    assert_string_equal(err, "");
    assert_int_equal(rc, 0);
}

// --- defaults ---------------------------------------------------------------

static void test_defaults_set_every_key_with_a_default(void **state)
{
    (void) state;
    spw_edge_config_t config;
    start_settings(&config);
    assert_string_equal(config.frontend, "tcp://*:5555");
    assert_string_equal(config.backend, "tcp://*:5556");
    assert_string_equal(config.cloud, "tcp://*:5557");
    assert_string_equal(config.default_service, "default");
    assert_int_equal(config.heartbeat_ms, 1000);
    assert_int_equal(config.liveness, 3);
    assert_int_equal(config.max_attempts, 3);
    assert_int_equal(config.task_timeout_ms, 30000);
    assert_int_equal(config.seed_worker_timeout_ms, 30000);
    assert_int_equal(config.queue_max, 1000);
    assert_int_equal(config.max_tasks, 10000);
    assert_int_equal(config.max_workers, 1024);
    assert_int_equal(config.max_services, 64);
    assert_int_equal(config.max_message_bytes, 1048576);
    assert_int_equal(config.log_level, SPW_LOG_INFO);
    assert_int_equal(config.log_format, SPW_LOG_TEXT);
}

static void test_defaults_make_optional_strings_empty(void **state)
{
    (void) state;
    spw_edge_config_t config;
    memset(&config, 'x', sizeof config);
    char err[SPW_ERROR_MAX] = "";
    assert_int_equal(spw_config_defaults(spw_edge_keys, &config, err, sizeof err), 0);
    assert_string_equal(config.hub, "");
    assert_string_equal(config.advertise, "");
    assert_string_equal(config.zone, "");
}

static void test_defaults_report_a_default_out_of_its_range(void **state)
{
    (void) state;
    struct { int64_t ms; } settings;
    const spw_key_t keys[] = {
        { .name = "wait_ms", .type = SPW_KEY_INT, .offset = 0, .min = 10, .max = 20,
          .default_value = "5" },
        { .name = NULL },
    };
    char err[SPW_ERROR_MAX] = "";
    assert_int_equal(spw_config_defaults(keys, &settings, err, sizeof err), -1);
    assert_string_equal(err, "defaults: 'wait_ms' must be between 10 and 20, got 5");
}

// --- files that load --------------------------------------------------------

static void test_empty_file_is_an_empty_config(void **state)
{
    (void) state;
    spw_edge_config_t config;
    assert_loads("", &config);
    assert_int_equal(config.heartbeat_ms, 1000);
    assert_string_equal(config.name, "");
}

static void test_file_of_only_comments_is_an_empty_config(void **state)
{
    (void) state;
    spw_edge_config_t config;
    assert_loads("# nothing here\n\n   # still nothing\n", &config);
    assert_int_equal(config.liveness, 3);
}

static void test_document_marker_alone_is_an_empty_config(void **state)
{
    (void) state;
    spw_edge_config_t config;
    assert_loads("---\n# empty\n", &config);
    assert_string_equal(config.frontend, "tcp://*:5555");
}

static void test_full_file_loads_every_key(void **state)
{
    (void) state;
    spw_edge_config_t config;
    assert_loads("name: edge-b\n"
                 "frontend: tcp://127.0.0.1:6555\n"
                 "backend: ipc:///tmp/spw-backend.ipc\n"
                 "cloud: tcp://[::1]:6557\n"
                 "hub: tcp://hub.example.net:7000\n"
                 "advertise: tcp://edge-b.example.net:6557\n"
                 "zone: rack-7.row-B\n"
                 "default_service: echo.v2\n"
                 "heartbeat_ms: 250\n"
                 "liveness: 5\n"
                 "max_attempts: 7\n"
                 "task_timeout_ms: 1500\n"
                 "seed_worker_timeout_ms: 2500\n"
                 "queue_max: 12\n"
                 "max_tasks: 34\n"
                 "max_workers: 56\n"
                 "max_services: 78\n"
                 "max_message_bytes: 4096\n"
                 "log_level: debug\n"
                 "log_format: json\n", &config);
    assert_string_equal(config.name, "edge-b");
    assert_string_equal(config.frontend, "tcp://127.0.0.1:6555");
    assert_string_equal(config.backend, "ipc:///tmp/spw-backend.ipc");
    assert_string_equal(config.cloud, "tcp://[::1]:6557");
    assert_string_equal(config.hub, "tcp://hub.example.net:7000");
    assert_string_equal(config.advertise, "tcp://edge-b.example.net:6557");
    assert_string_equal(config.zone, "rack-7.row-B");
    assert_string_equal(config.default_service, "echo.v2");
    assert_int_equal(config.heartbeat_ms, 250);
    assert_int_equal(config.liveness, 5);
    assert_int_equal(config.max_attempts, 7);
    assert_int_equal(config.task_timeout_ms, 1500);
    assert_int_equal(config.seed_worker_timeout_ms, 2500);
    assert_int_equal(config.queue_max, 12);
    assert_int_equal(config.max_tasks, 34);
    assert_int_equal(config.max_workers, 56);
    assert_int_equal(config.max_services, 78);
    assert_int_equal(config.max_message_bytes, 4096);
    assert_int_equal(config.log_level, SPW_LOG_DEBUG);
    assert_int_equal(config.log_format, SPW_LOG_JSON);
}

static void test_keys_absent_from_the_file_keep_their_value(void **state)
{
    (void) state;
    spw_edge_config_t config;
    assert_loads("name: edge-c\nliveness: 9\n", &config);
    assert_int_equal(config.liveness, 9);
    assert_int_equal(config.heartbeat_ms, 1000);
    assert_string_equal(config.backend, "tcp://*:5556");
}

static void test_flow_mapping_and_quoted_values_load(void **state)
{
    (void) state;
    spw_edge_config_t config;
    assert_loads("{name: 'edge-d', \"heartbeat_ms\": \"20\"}\n", &config);
    assert_string_equal(config.name, "edge-d");
    assert_int_equal(config.heartbeat_ms, 20);
}

static void test_integer_range_bounds_are_inclusive(void **state)
{
    (void) state;
    spw_edge_config_t config;
    assert_loads("heartbeat_ms: 10\nliveness: 100\n", &config);
    assert_int_equal(config.heartbeat_ms, 10);
    assert_int_equal(config.liveness, 100);
}

static void test_optional_hub_accepts_nothing_after_the_colon(void **state)
{
    (void) state;
    spw_edge_config_t config;
    assert_loads("hub:\n", &config);
    assert_string_equal(config.hub, "");
}

static void test_optional_hub_accepts_yaml_null(void **state)
{
    (void) state;
    spw_edge_config_t config;
    assert_loads("hub: ~\nadvertise: null\n", &config);
    assert_string_equal(config.hub, "");
    assert_string_equal(config.advertise, "");
}

static void test_optional_hub_accepts_empty_string(void **state)
{
    (void) state;
    spw_edge_config_t config;
    assert_loads("hub: ''\nzone: \"\"\n", &config);
    assert_string_equal(config.hub, "");
    assert_string_equal(config.zone, "");
}

static void test_string_of_exactly_its_maximum_length_loads(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char text[128];
    snprintf(text, sizeof text, "zone: %.*s\n", SPW_NAME_MAX,
             "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    assert_loads(text, &config);
    assert_int_equal(strlen(config.zone), SPW_NAME_MAX);
}

// --- file errors ------------------------------------------------------------

static void test_missing_file_cannot_be_opened(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char path[PATH_SIZE];
    char err[SPW_ERROR_MAX];
    char expected[SPW_ERROR_MAX];
    start_settings(&config);
    write_temp("", path);
    unlink(path);
    assert_int_equal(spw_config_load(path, spw_edge_keys, &config, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "%s: cannot open: %s", path, strerror(ENOENT));
    assert_string_equal(err, expected);
}

static void test_directory_cannot_be_opened(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX];
    char expected[SPW_ERROR_MAX];
    start_settings(&config);
    assert_int_equal(spw_config_load("/tmp", spw_edge_keys, &config, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "/tmp: cannot open: %s", strerror(EISDIR));
    assert_string_equal(err, expected);
}

static void test_yaml_syntax_error_reports_problem_and_position(void **state)
{
    (void) state;
    assert_load_error("name: edge-a\nliveness: 3: 4\n",
                      ":2:12: YAML error: mapping values are not allowed in this context");
}

static void test_unclosed_quote_is_a_yaml_error(void **state)
{
    (void) state;
    assert_load_error("name: 'edge-a\n",
                      ":2:1: YAML error: found unexpected end of stream");
}

static void test_bad_utf8_is_a_yaml_error_at_the_bad_byte(void **state)
{
    (void) state;
    assert_load_error("name: edge-a\nzone: caf\xc3\xa9 \xff\n",
                      ":2:12: YAML error: invalid leading UTF-8 octet");
}

static void test_top_level_sequence_is_not_a_mapping(void **state)
{
    (void) state;
    assert_load_error("# a list\n- name\n- edge-a\n",
                      ":2:1: expected a mapping of keys to values");
}

static void test_top_level_scalar_is_not_a_mapping(void **state)
{
    (void) state;
    assert_load_error("\n  edge-a\n", ":2:3: expected a mapping of keys to values");
}

static void test_second_document_is_refused(void **state)
{
    (void) state;
    assert_load_error("name: a\n---\nname: b\n",
                      ":2:1: expected one YAML document, found another");
}

static void test_unknown_key_without_a_close_name(void **state)
{
    (void) state;
    assert_load_error("name: edge-a\npassword: secret\n", ":2:1: unknown key 'password'");
}

static void test_unknown_key_suggests_closest(void **state)
{
    (void) state;
    //  'max_servers' is within 3 edits of max_services and 2 of max_workers.
    assert_load_error("max_servers: 4\n",
                      ":1:1: unknown key 'max_servers' (did you mean 'max_workers'?)");
}

static void test_unknown_key_suggests_within_two_edits(void **state)
{
    (void) state;
    assert_load_error("name: edge-a\n  # comment\nlog_levle: debug\n",
                      ":3:1: unknown key 'log_levle' (did you mean 'log_level'?)");
}

static void test_unknown_key_suggests_within_a_third_of_its_length(void **state)
{
    (void) state;
    //  Three edits away, more than two, but no more than 19 / 3.
    assert_load_error("seed_worker_timeout: 100\n",
                      ":1:1: unknown key 'seed_worker_timeout' "
                      "(did you mean 'seed_worker_timeout_ms'?)");
}

static void test_unknown_key_in_flag_spelling_suggests_the_yaml_name(void **state)
{
    (void) state;
    assert_load_error("heartbeat-ms: 100\n",
                      ":1:1: unknown key 'heartbeat-ms' (did you mean 'heartbeat_ms'?)");
}

static void test_unknown_key_position_is_the_keys_own(void **state)
{
    (void) state;
    assert_load_error("{name: a,   workres: 4}\n", ":1:13: unknown key 'workres'");
}

static void test_duplicate_key_reports_the_second_occurrence(void **state)
{
    (void) state;
    assert_load_error("name: edge-a\nliveness: 3\nname: edge-b\n",
                      ":3:1: duplicate key 'name'");
}

static void test_mapping_value_must_be_a_single_value(void **state)
{
    (void) state;
    assert_load_error("frontend:\n  host: '*'\n  port: 5555\n",
                      ":2:3: 'frontend' must be a single value");
}

static void test_sequence_value_must_be_a_single_value(void **state)
{
    (void) state;
    assert_load_error("name: edge-a\nfrontend: [tcp://*:5555, tcp://*:5565]\n",
                      ":2:11: 'frontend' must be a single value");
}

static void test_alias_value_is_refused(void **state)
{
    (void) state;
    assert_load_error("zone: &z west\nname: *z\n",
                      ":2:7: 'name' must be a single value, not an alias");
}

static void test_sequence_key_is_refused(void **state)
{
    (void) state;
    assert_load_error("? [a, b]\n: 1\n", ":1:3: a key must be a plain name");
}

static void test_integer_refuses_a_word(void **state)
{
    (void) state;
    assert_load_error("heartbeat_ms: fast\n",
                      ":1:15: 'heartbeat_ms' must be an integer, got 'fast'");
}

static void test_integer_refuses_trailing_junk(void **state)
{
    (void) state;
    assert_load_error("heartbeat_ms: 100ms\n",
                      ":1:15: 'heartbeat_ms' must be an integer, got '100ms'");
}

static void test_integer_refuses_a_plus_sign_and_decimals(void **state)
{
    (void) state;
    assert_load_error("liveness: +3\n", ":1:11: 'liveness' must be an integer, got '+3'");
    assert_load_error("liveness: 3.0\n", ":1:11: 'liveness' must be an integer, got '3.0'");
}

static void test_integer_refuses_more_than_int64(void **state)
{
    (void) state;
    assert_load_error("max_tasks: 9223372036854775808\n",
                      ":1:12: 'max_tasks' must be an integer, got '9223372036854775808'");
}

static void test_integer_out_of_range(void **state)
{
    (void) state;
    assert_load_error("name: edge-a\nheartbeat_ms: 5\n",
                      ":2:15: 'heartbeat_ms' must be between 10 and 60000, got 5");
}

static void test_negative_integer_out_of_range(void **state)
{
    (void) state;
    assert_load_error("liveness: -9223372036854775808\n",
                      ":1:11: 'liveness' must be between 1 and 100, got -9223372036854775808");
}

static void test_enum_refuses_an_unknown_choice(void **state)
{
    (void) state;
    assert_load_error("log_level: loud\n",
                      ":1:12: 'log_level' must be one of debug, info, warning, error, got 'loud'");
}

static void test_enum_is_case_sensitive(void **state)
{
    (void) state;
    assert_load_error("log_format: JSON\n",
                      ":1:13: 'log_format' must be one of text, json, got 'JSON'");
}

static void test_name_refuses_a_space(void **state)
{
    (void) state;
    assert_load_error("name: a b\n",
                      ":1:7: 'name' must be 1 to 64 characters of letters, digits, "
                      "'.', '_' or '-', got 'a b'");
}

static void test_name_refuses_empty_string(void **state)
{
    (void) state;
    assert_load_error("default_service: ''\n",
                      ":1:18: 'default_service' must be 1 to 64 characters of letters, "
                      "digits, '.', '_' or '-', got ''");
}

static void test_name_refuses_65_characters(void **state)
{
    (void) state;
    const char *long_name = "n2345678901234567890123456789012345678901234567890123456789012345";
    char text[128];
    char suffix[256];
    assert_int_equal(strlen(long_name), 65);
    snprintf(text, sizeof text, "name: %s\n", long_name);
    snprintf(suffix, sizeof suffix, ":1:7: 'name' must be 1 to 64 characters of letters, "
             "digits, '.', '_' or '-', got '%s'", long_name);
    assert_load_error(text, suffix);
}

static void test_endpoint_refuses_a_malformed_address(void **state)
{
    (void) state;
    assert_load_error("frontend: tcp//*:5555\n",
                      ":1:11: 'frontend' is not a ZeroMQ endpoint: 'tcp//*:5555' "
                      "(expected tcp://HOST:PORT, ipc://PATH or inproc://NAME)");
}

static void test_endpoint_refuses_empty_string_when_not_optional(void **state)
{
    (void) state;
    assert_load_error("backend: \"\"\n",
                      ":1:10: 'backend' is not a ZeroMQ endpoint: '' "
                      "(expected tcp://HOST:PORT, ipc://PATH or inproc://NAME)");
}

static void test_optional_endpoint_still_refuses_a_malformed_address(void **state)
{
    (void) state;
    assert_load_error("hub: udp://hub:1\n",
                      ":1:6: 'hub' is not a ZeroMQ endpoint or a list of them: 'udp://hub:1' "
                      "(expected tcp://HOST:PORT, ipc://PATH or inproc://NAME, or up to 4 of "
                      "them separated by commas)");
    //  A list: every endpoint is checked, and there are at most four.
    assert_load_error("hub: tcp://a:1,udp://b:2\n",
                      ":1:6: 'hub' is not a ZeroMQ endpoint or a list of them: "
                      "'tcp://a:1,udp://b:2' (expected tcp://HOST:PORT, ipc://PATH or "
                      "inproc://NAME, or up to 4 of them separated by commas)");
    assert_load_error("hub: tcp://a:1,\n",
                      ":1:6: 'hub' is not a ZeroMQ endpoint or a list of them: 'tcp://a:1,' "
                      "(expected tcp://HOST:PORT, ipc://PATH or inproc://NAME, or up to 4 of "
                      "them separated by commas)");
    assert_load_error("hub: tcp://a:1,tcp://a:2,tcp://a:3,tcp://a:4,tcp://a:5\n",
                      ":1:6: 'hub' is not a ZeroMQ endpoint or a list of them: "
                      "'tcp://a:1,tcp://a:2,tcp://a:3,tcp://a:4,tcp://a:5' (expected "
                      "tcp://HOST:PORT, ipc://PATH or inproc://NAME, or up to 4 of them "
                      "separated by commas)");
}

static void test_string_too_long_for_its_buffer(void **state)
{
    (void) state;
    char text[SPW_PATH_MAX + 32];
    int n = snprintf(text, sizeof text, "curve_dir: ");
    memset(text + n, 'd', SPW_PATH_MAX);
    snprintf(text + n + SPW_PATH_MAX, sizeof text - (size_t) n - SPW_PATH_MAX, "\n");
    assert_load_error(text, ":1:12: 'curve_dir' is too long (at most 1023 characters)");
}

static void test_endpoint_too_long_for_its_buffer(void **state)
{
    (void) state;
    char text[SPW_ENDPOINT_MAX + 64];
    char path[SPW_ENDPOINT_MAX + 1];
    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    snprintf(text, sizeof text, "cloud: ipc://%s\n", path);
    assert_load_error(text, ":1:8: 'cloud' is too long (at most 255 characters)");
}

static void test_null_value_of_a_key_that_is_not_optional_needs_a_value(void **state)
{
    (void) state;
    //  An empty value sits just after the colon.
    assert_load_error("frontend:\nbackend: tcp://*:1\n", ":1:10: 'frontend' needs a value");
}

static void test_tilde_value_of_an_integer_needs_a_value(void **state)
{
    (void) state;
    assert_load_error("liveness: ~\n", ":1:11: 'liveness' needs a value");
}

static void test_first_error_wins(void **state)
{
    (void) state;
    assert_load_error("liveness: 0\nworkres: 4\nlog_level: loud\n",
                      ":1:11: 'liveness' must be between 1 and 100, got 0");
}

static void test_error_shows_a_multiline_value_on_one_line(void **state)
{
    (void) state;
    assert_load_error("name: \"a\\nb\\tc\"\n",
                      ":1:7: 'name' must be 1 to 64 characters of letters, digits, "
                      "'.', '_' or '-', got 'a\\nb\\tc'");
}

static void test_error_cuts_a_long_value_after_96_bytes(void **state)
{
    (void) state;
    char value[201];
    char text[256];
    char suffix[SPW_ERROR_MAX];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    snprintf(text, sizeof text, "log_level: %s\n", value);
    snprintf(suffix, sizeof suffix, ":1:12: 'log_level' must be one of debug, info, warning, "
             "error, got '%.96s...'", value);
    assert_load_error(text, suffix);
}

// --- flags ------------------------------------------------------------------

static void test_set_by_flag_spelling_overrides_the_file(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX] = "";
    assert_loads("heartbeat_ms: 500\n", &config);
    assert_int_equal(spw_config_set(spw_edge_keys, &config, "heartbeat-ms", "750",
                                    "--heartbeat-ms", err, sizeof err), 0);
    assert_int_equal(config.heartbeat_ms, 750);
}

static void test_set_by_yaml_name(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX] = "";
    start_settings(&config);
    assert_int_equal(spw_config_set(spw_edge_keys, &config, "name", "edge-z", "--name",
                                    err, sizeof err), 0);
    assert_string_equal(config.name, "edge-z");
    assert_int_equal(spw_config_set(spw_edge_keys, &config, "log_format", "json",
                                    "--log-format", err, sizeof err), 0);
    assert_int_equal(config.log_format, SPW_LOG_JSON);
}

static void test_set_reports_range_error_with_its_origin(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX] = "";
    start_settings(&config);
    assert_int_equal(spw_config_set(spw_edge_keys, &config, "heartbeat-ms", "5",
                                    "--heartbeat-ms", err, sizeof err), -1);
    assert_string_equal(err, "--heartbeat-ms: 'heartbeat_ms' must be between 10 and 60000, got 5");
}

static void test_set_reports_a_bad_endpoint_with_its_origin(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX] = "";
    start_settings(&config);
    assert_int_equal(spw_config_set(spw_edge_keys, &config, "hub", "tcp://h:0", "--hub",
                                    err, sizeof err), -1);
    assert_string_equal(err, "--hub: 'hub' is not a ZeroMQ endpoint or a list of them: "
                        "'tcp://h:0' (expected tcp://HOST:PORT, ipc://PATH or inproc://NAME, "
                        "or up to 4 of them separated by commas)");
}

static void test_set_leaves_the_setting_unchanged_on_error(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX] = "";
    start_settings(&config);
    assert_int_equal(spw_config_set(spw_edge_keys, &config, "frontend", "tcp://*:99999",
                                    "--frontend", err, sizeof err), -1);
    assert_string_equal(config.frontend, "tcp://*:5555");
}

static void test_set_empty_hub_turns_the_hub_off(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX] = "";
    start_settings(&config);
    assert_int_equal(spw_config_set(spw_edge_keys, &config, "hub", "tcp://hub:7000", "--hub",
                                    err, sizeof err), 0);
    assert_int_equal(spw_config_set(spw_edge_keys, &config, "hub", "", "--hub",
                                    err, sizeof err), 0);
    assert_string_equal(config.hub, "");
}

static void test_set_unknown_key_suggests_in_flag_spelling(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX] = "";
    start_settings(&config);
    assert_int_equal(spw_config_set(spw_edge_keys, &config, "heartbeat-mss", "5",
                                    "--heartbeat-mss", err, sizeof err), -1);
    assert_string_equal(err, "--heartbeat-mss: unknown key 'heartbeat-mss' "
                        "(did you mean 'heartbeat-ms'?)");
}

static void test_set_unknown_key_without_a_close_name(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX] = "";
    start_settings(&config);
    assert_int_equal(spw_config_set(spw_edge_keys, &config, "x", "1", "--x",
                                    err, sizeof err), -1);
    assert_string_equal(err, "--x: unknown key 'x'");
}

// --- required keys and lookup -----------------------------------------------

static void test_check_reports_a_missing_required_key(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX] = "";
    start_settings(&config);
    assert_int_equal(spw_config_check(spw_edge_keys, &config, "edge.yaml", err, sizeof err), -1);
    assert_string_equal(err, "edge.yaml: missing required key 'name'");
}

static void test_check_passes_once_the_name_is_set(void **state)
{
    (void) state;
    spw_edge_config_t config;
    char err[SPW_ERROR_MAX] = "";
    assert_loads("name: edge-a\n", &config);
    assert_int_equal(spw_config_check(spw_edge_keys, &config, "edge.yaml", err, sizeof err), 0);
}

static void test_key_is_found_by_yaml_name_and_flag_spelling(void **state)
{
    (void) state;
    const spw_key_t *by_name = spw_config_key(spw_edge_keys, "seed_worker_timeout_ms");
    assert_non_null(by_name);
    assert_string_equal(by_name->name, "seed_worker_timeout_ms");
    assert_ptr_equal(spw_config_key(spw_edge_keys, "seed-worker-timeout-ms"), by_name);
}

static void test_key_lookup_returns_null_for_unknown_or_partial_names(void **state)
{
    (void) state;
    assert_null(spw_config_key(spw_edge_keys, "workers"));
    assert_null(spw_config_key(spw_edge_keys, "heartbeat"));
    assert_null(spw_config_key(spw_edge_keys, "heartbeat_ms_"));
    assert_null(spw_config_key(spw_edge_keys, ""));
}

// --- endpoints --------------------------------------------------------------

static void test_endpoint_valid_accepts_every_transport_form(void **state)
{
    (void) state;
    const char *valid[] = {
        "tcp://*:5555", "tcp://127.0.0.1:1", "tcp://[::1]:80", "tcp://host:*",
        "tcp://edge-a.example.net:65535", "ipc:///tmp/x.ipc", "inproc://a",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        if (!spw_endpoint_valid(valid[i]))
            fail_msg("expected '%s' to be valid", valid[i]);
    }
}

static void test_endpoint_valid_refuses_malformed_endpoints(void **state)
{
    (void) state;
    const char *invalid[] = {
        "tcp//x", "tcp://:5", "tcp://h:", "tcp://h:0", "tcp://h:65536", "tcp://h:12x",
        "udp://h:1", "ipc://", "", "inproc://", "tcp://h", "tcp://::1:80", "tcp://[]:80",
        "tcp://a b:1", "tcp://h:-1", "TCP://h:1",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        if (spw_endpoint_valid(invalid[i]))
            fail_msg("expected '%s' to be invalid", invalid[i]);
    }
    assert_false(spw_endpoint_valid(NULL));
}

// --- the example config -----------------------------------------------------

//  Builds the path of config/edge.yaml, or skips the test outside meson.
static void example_path(char *path, size_t size)
{
    const char *root = getenv("SPW_SOURCE_ROOT");
    if (!root || !*root)
        skip();
    snprintf(path, size, "%s/config/edge.yaml", root);
}

static void test_example_edge_yaml_loads_cleanly(void **state)
{
    (void) state;
    char path[4096];
    char err[SPW_ERROR_MAX] = "";
    example_path(path, sizeof path);
    spw_edge_config_t config;
    start_settings(&config);
    int rc = spw_config_load(path, spw_edge_keys, &config, err, sizeof err);
    assert_string_equal(err, "");
    assert_int_equal(rc, 0);
    assert_int_equal(spw_config_check(spw_edge_keys, &config, path, err, sizeof err), 0);
    assert_string_equal(config.name, "edge-a");
}

static void test_example_edge_yaml_sets_every_key_to_its_default(void **state)
{
    (void) state;
    char path[4096];
    char err[SPW_ERROR_MAX] = "";
    example_path(path, sizeof path);
    //  The file over zeroed settings must equal the defaults plus its name.
    spw_edge_config_t from_file;
    spw_edge_config_t expected;
    memset(&from_file, 0, sizeof from_file);
    assert_int_equal(spw_config_load(path, spw_edge_keys, &from_file, err, sizeof err), 0);
    start_settings(&expected);
    snprintf(expected.name, sizeof expected.name, "edge-a");
    for (const spw_key_t *key = spw_edge_keys; key->name; key++) {
        const char *got = (const char *) &from_file + key->offset;
        const char *want = (const char *) &expected + key->offset;
        if (key->type == SPW_KEY_INT) {
            int64_t a, b;
            memcpy(&a, got, sizeof a);
            memcpy(&b, want, sizeof b);
            if (a != b)
                fail_msg("'%s': expected %lld, got %lld", key->name, (long long) b,
                         (long long) a);
        }
        else if (key->type == SPW_KEY_ENUM) {
            int a, b;
            memcpy(&a, got, sizeof a);
            memcpy(&b, want, sizeof b);
            if (a != b)
                fail_msg("'%s': expected %d, got %d", key->name, b, a);
        }
        else if (strcmp(got, want) != 0)
            fail_msg("'%s': expected '%s', got '%s'", key->name, want, got);
    }
    //  And every key must be written out (and so documented), not just
    //  inherited from the defaults: look for "\nKEY:" in the text.
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    char text[32768];
    size_t len = fread(text + 1, 1, sizeof text - 2, file);
    fclose(file);
    text[0] = '\n';
    text[len + 1] = '\0';
    for (const spw_key_t *key = spw_edge_keys; key->name; key++) {
        char needle[128];
        snprintf(needle, sizeof needle, "\n%s:", key->name);
        if (!strstr(text, needle))
            fail_msg("config/edge.yaml does not set '%s'", key->name);
        snprintf(needle, sizeof needle, "\n# %s:", key->name);
        if (!strstr(text, needle))
            fail_msg("config/edge.yaml has no comment block for '%s'", key->name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_set_every_key_with_a_default),
        cmocka_unit_test(test_defaults_make_optional_strings_empty),
        cmocka_unit_test(test_defaults_report_a_default_out_of_its_range),
        cmocka_unit_test(test_empty_file_is_an_empty_config),
        cmocka_unit_test(test_file_of_only_comments_is_an_empty_config),
        cmocka_unit_test(test_document_marker_alone_is_an_empty_config),
        cmocka_unit_test(test_full_file_loads_every_key),
        cmocka_unit_test(test_keys_absent_from_the_file_keep_their_value),
        cmocka_unit_test(test_flow_mapping_and_quoted_values_load),
        cmocka_unit_test(test_integer_range_bounds_are_inclusive),
        cmocka_unit_test(test_optional_hub_accepts_nothing_after_the_colon),
        cmocka_unit_test(test_optional_hub_accepts_yaml_null),
        cmocka_unit_test(test_optional_hub_accepts_empty_string),
        cmocka_unit_test(test_string_of_exactly_its_maximum_length_loads),
        cmocka_unit_test(test_missing_file_cannot_be_opened),
        cmocka_unit_test(test_directory_cannot_be_opened),
        cmocka_unit_test(test_yaml_syntax_error_reports_problem_and_position),
        cmocka_unit_test(test_unclosed_quote_is_a_yaml_error),
        cmocka_unit_test(test_bad_utf8_is_a_yaml_error_at_the_bad_byte),
        cmocka_unit_test(test_top_level_sequence_is_not_a_mapping),
        cmocka_unit_test(test_top_level_scalar_is_not_a_mapping),
        cmocka_unit_test(test_second_document_is_refused),
        cmocka_unit_test(test_unknown_key_without_a_close_name),
        cmocka_unit_test(test_unknown_key_suggests_closest),
        cmocka_unit_test(test_unknown_key_suggests_within_two_edits),
        cmocka_unit_test(test_unknown_key_suggests_within_a_third_of_its_length),
        cmocka_unit_test(test_unknown_key_in_flag_spelling_suggests_the_yaml_name),
        cmocka_unit_test(test_unknown_key_position_is_the_keys_own),
        cmocka_unit_test(test_duplicate_key_reports_the_second_occurrence),
        cmocka_unit_test(test_mapping_value_must_be_a_single_value),
        cmocka_unit_test(test_sequence_value_must_be_a_single_value),
        cmocka_unit_test(test_alias_value_is_refused),
        cmocka_unit_test(test_sequence_key_is_refused),
        cmocka_unit_test(test_integer_refuses_a_word),
        cmocka_unit_test(test_integer_refuses_trailing_junk),
        cmocka_unit_test(test_integer_refuses_a_plus_sign_and_decimals),
        cmocka_unit_test(test_integer_refuses_more_than_int64),
        cmocka_unit_test(test_integer_out_of_range),
        cmocka_unit_test(test_negative_integer_out_of_range),
        cmocka_unit_test(test_enum_refuses_an_unknown_choice),
        cmocka_unit_test(test_enum_is_case_sensitive),
        cmocka_unit_test(test_name_refuses_a_space),
        cmocka_unit_test(test_name_refuses_empty_string),
        cmocka_unit_test(test_name_refuses_65_characters),
        cmocka_unit_test(test_endpoint_refuses_a_malformed_address),
        cmocka_unit_test(test_endpoint_refuses_empty_string_when_not_optional),
        cmocka_unit_test(test_optional_endpoint_still_refuses_a_malformed_address),
        cmocka_unit_test(test_string_too_long_for_its_buffer),
        cmocka_unit_test(test_endpoint_too_long_for_its_buffer),
        cmocka_unit_test(test_null_value_of_a_key_that_is_not_optional_needs_a_value),
        cmocka_unit_test(test_tilde_value_of_an_integer_needs_a_value),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_error_shows_a_multiline_value_on_one_line),
        cmocka_unit_test(test_error_cuts_a_long_value_after_96_bytes),
        cmocka_unit_test(test_set_by_flag_spelling_overrides_the_file),
        cmocka_unit_test(test_set_by_yaml_name),
        cmocka_unit_test(test_set_reports_range_error_with_its_origin),
        cmocka_unit_test(test_set_reports_a_bad_endpoint_with_its_origin),
        cmocka_unit_test(test_set_leaves_the_setting_unchanged_on_error),
        cmocka_unit_test(test_set_empty_hub_turns_the_hub_off),
        cmocka_unit_test(test_set_unknown_key_suggests_in_flag_spelling),
        cmocka_unit_test(test_set_unknown_key_without_a_close_name),
        cmocka_unit_test(test_check_reports_a_missing_required_key),
        cmocka_unit_test(test_check_passes_once_the_name_is_set),
        cmocka_unit_test(test_key_is_found_by_yaml_name_and_flag_spelling),
        cmocka_unit_test(test_key_lookup_returns_null_for_unknown_or_partial_names),
        cmocka_unit_test(test_endpoint_valid_accepts_every_transport_form),
        cmocka_unit_test(test_endpoint_valid_refuses_malformed_endpoints),
        cmocka_unit_test(test_example_edge_yaml_loads_cleanly),
        cmocka_unit_test(test_example_edge_yaml_sets_every_key_to_its_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
