//  main.c: the `spillway` command line: the subcommand table and the flag
//  parser every subcommand uses.
//
//  `spillway COMMAND [FLAGS] [ARGS]` runs one subcommand; `--help` and
//  `--version` work on their own, `COMMAND --help` (or `help COMMAND`)
//  prints that command's help. Flags are long only, "--flag VALUE" or
//  "--flag=VALUE", given at most once each; anything else is a usage error
//  reported in one line with exit code 2, before anything is done.

#include "cli.h"

#include "spillway.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out);
} cli_command_t;

static const cli_command_t commands[] = {
    { "submit", "send a task to an edge and print its reply", cli_submit, cli_submit_help },
    { "worker", "serve a service at an edge with a shell command", cli_worker,
      cli_worker_help },
    { "bench", "load an edge with tasks and print rates and latencies", cli_bench,
      cli_bench_help },
    { "status", "print the edges as the hub sees them", cli_status, cli_status_help },
    { "top", "show the hub's status, refreshed every second", cli_top, cli_top_help },
    { "drain", "put an edge in lame-duck mode: it finishes what it holds and exits", cli_drain,
      cli_drain_help },
    { "keygen", "write a CURVE certificate for a cluster's keys folder", cli_keygen,
      cli_keygen_help },
    { "check-config", "check an edge or hub config file", cli_check_config,
      cli_check_config_help },
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

//  Writes "spillway COMMAND: message\n" to stderr.
static void verror(const char *command, const char *fmt, va_list args)
{
    if (command)
        fprintf(stderr, "spillway %s: ", command);
    else
        fputs("spillway: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
}

//  Reports a usage error in one line; returns its exit code.
int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    verror(command, fmt, args);
    va_end(args);
    return CLI_EXIT_USAGE;
}

//  Reports a failure in one line.
void cli_error(const char *command, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    verror(command, fmt, args);
    va_end(args);
}

//  Finds the flag named by arg (up to '=' if any).
static cli_flag_t *find_flag(cli_flag_t *flags, size_t flag_count, const char *arg,
                             size_t len)
{
    for (size_t i = 0; i < flag_count; i++)
        if (strlen(flags[i].name) == len && memcmp(flags[i].name, arg, len) == 0)
            return &flags[i];
    return NULL;
}

//  Sorts argv into flags and positional arguments (see cli.h).
cli_parse_t cli_parse(const char *command, int argc, char **argv, cli_flag_t *flags,
                      size_t flag_count, const char **positional, size_t max_positional,
                      size_t *positional_count)
{
    *positional_count = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0)
            break;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return CLI_PARSE_HELP;

    bool flags_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!flags_done && strcmp(arg, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (flags_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (*positional_count >= max_positional) {
                cli_usage_error(command, "unexpected argument '%s'", arg);
                return CLI_PARSE_ERROR;
            }
            positional[(*positional_count)++] = arg;
            continue;
        }
        const char *equals = strchr(arg, '=');
        size_t len = equals ? (size_t) (equals - arg) : strlen(arg);
        cli_flag_t *flag = find_flag(flags, flag_count, arg, len);
        if (!flag) {
            cli_usage_error(command, "unknown flag '%.*s'", (int) len, arg);
            return CLI_PARSE_ERROR;
        }
        if (flag->seen) {
            cli_usage_error(command, "%s given twice", flag->name);
            return CLI_PARSE_ERROR;
        }
        flag->seen = true;
        if (!flag->has_value) {
            if (equals) {
                cli_usage_error(command, "%s takes no value", flag->name);
                return CLI_PARSE_ERROR;
            }
            continue;
        }
        if (equals)
            flag->value = equals + 1;
        else if (i + 1 < argc)
            flag->value = argv[++i];
        else {
            cli_usage_error(command, "%s needs a value", flag->name);
            return CLI_PARSE_ERROR;
        }
    }
    return CLI_PARSE_OK;
}

//  Parses a whole decimal integer and checks its range.
int cli_int(const char *command, const char *flag, const char *text, int64_t min,
            int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
        cli_usage_error(command, "%s: expected an integer from %lld to %lld, got '%s'", flag,
                        (long long) min, (long long) max, text);
        return -1;
    }
    *out = value;
    return 0;
}

//  Checks an endpoint flag with the config loader's rule.
int cli_endpoint(const char *command, const char *flag, const char *text)
{
    if (spw_endpoint_valid(text))
        return 0;
    cli_usage_error(command, "%s: '%s' is not an endpoint (tcp://HOST:PORT, ipc://PATH, "
                    "inproc://NAME)", flag, text);
    return -1;
}

//  Checks a comma-separated list of endpoints (at most SPW_CLIENT_MAX_EDGES)
//  and counts them.
int cli_endpoints(const char *command, const char *flag, const char *text, size_t *count)
{
    *count = 0;
    const char *at = text;
    while (true) {
        const char *comma = strchr(at, ',');
        size_t len = comma ? (size_t) (comma - at) : strlen(at);
        char one[SPW_ENDPOINT_MAX];
        if (len >= sizeof one) {
            cli_usage_error(command, "%s: an endpoint of %zu bytes is too long", flag, len);
            return -1;
        }
        memcpy(one, at, len);
        one[len] = '\0';
        if (cli_endpoint(command, flag, one) != 0)
            return -1;
        if (++*count > SPW_CLIENT_MAX_EDGES) {
            cli_usage_error(command, "%s: at most %d edges", flag, SPW_CLIENT_MAX_EDGES);
            return -1;
        }
        if (!comma)
            return 0;
        at = comma + 1;
    }
}

//  Checks a service flag with the codec's rule.
int cli_service(const char *command, const char *flag, const char *text)
{
    if (spw_service_name_valid(text, strlen(text)))
        return 0;
    cli_usage_error(command, "%s: '%s' is not a service name (1 to %d of A-Z a-z 0-9 . _ -)",
                    flag, text, SPW_MAX_SERVICE_LEN);
    return -1;
}

//  The overall help.
static void print_help(FILE *out)
{
    fputs("usage: spillway COMMAND [FLAGS] [ARGS]\n"
          "       spillway --help | --version\n"
          "       spillway COMMAND --help\n"
          "\n"
          "The command line of Spillway, request-reply tasks spread over clusters.\n"
          "\n"
          "commands:\n", out);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "exit codes: 0 success, 1 failure, 2 bad arguments; `submit` has more.\n", out);
}

//  The command named name, or NULL.
static const cli_command_t *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

//  Dispatches to the subcommand named by argv[1].
int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(NULL, "missing command (try 'spillway --help')");
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        print_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("spillway %s\n", SPW_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc == 2) {
            print_help(stdout);
            return CLI_EXIT_OK;
        }
        const cli_command_t *command = find_command(argv[2]);
        if (!command)
            return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        command->help(stdout);
        return CLI_EXIT_OK;
    }
    if (name[0] == '-')
        return cli_usage_error(NULL, "unknown flag '%s' (try 'spillway --help')", name);
    const cli_command_t *command = find_command(name);
    if (!command)
        return cli_usage_error(NULL, "unknown command '%s' (try 'spillway --help')", name);
    return command->run(argc - 1, argv + 1);
}
