//  status.c: `spillway status` and `spillway top`, the cluster as the hub
//  sees it.
//
//  Both ask the hub's control endpoint with a native request, as any client
//  may: service "spillway.status" answers one frame of JSON (printed raw
//  with --json, for scripts), "spillway.status.text" the same view as a
//  ready-made table. The hub renders the table so that this command needs
//  no JSON parser and the two views cannot drift apart. `top` repeats the
//  table every second on a cleared screen until SIGINT or SIGTERM; a hub
//  that does not answer is shown as such and asked again, not fatal.

#include "cli.h"

#include "spillway.h"
#include "spw_daemon.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#define STATUS_SERVICE      "spillway.status"
#define STATUS_TEXT_SERVICE "spillway.status.text"
#define STATUS_TIMEOUT_MS     3000
#define STATUS_TIMEOUT_MAX_MS 600000
#define TOP_INTERVAL_MS       1000
//  Edges top shows, busiest first, unless told.
#define TOP_LIMIT 20
//  The edges a status answer holds at most (SPW_STATUS_LIMIT_MAX, hub/status.h).
#define STATUS_LIMIT_MAX 1000
//  ANSI: cursor home, clear the screen.
#define TOP_CLEAR "\033[H\033[2J"

//  Counts SIGINT/SIGTERM (spw_daemon_signals); stops top and status.
static volatile sig_atomic_t *stop_requested;

void cli_status_help(FILE *out)
{
    fprintf(out,
            "usage: spillway status --hub ENDPOINT [--json] [--edge NAME] [--search TEXT]\n"
            "                       [--sort KEY] [--limit N] [--offset N] [--timeout MS]\n"
            "                       [--cert FILE --server-cert FILE]\n"
            "\n"
            "Prints the hub's policy and the messages it sends and receives a second,\n"
            "also per task the edges delegate; a summary of the cluster (edges by\n"
            "state, totals, the busiest and idlest edges, totals per service); then\n"
            "a page of the edges as the hub sees them, one row each:\n"
            "NAME STATE AGE ZONE SERVICES WORKERS IDLE QUEUED OUT/s IN/s (tasks\n"
            "delegated to and from other edges per second).\n"
            "\n"
            "  --hub ENDPOINT  the hub's control endpoint, e.g. tcp://hub:5560\n"
            "  --json          print the hub's JSON status instead of the table\n"
            "  --edge NAME     show that edge only\n"
            "  --search TEXT   show the edges whose name holds TEXT (any case)\n"
            "  --sort KEY      name (default), or the most first: queued, idle,\n"
            "                  workers, out, in\n"
            "  --limit N       edges shown, 1 to %d (default 100)\n"
            "  --offset N      edges skipped first, in that order (default 0)\n"
            "  --timeout MS    how long to wait for the hub, 1 to %d (default %d)\n"
            CLI_CURVE_HELP
            "\n"
            "exit codes: 0 printed, 1 the hub did not answer, 2 bad arguments\n",
            STATUS_LIMIT_MAX, STATUS_TIMEOUT_MAX_MS, STATUS_TIMEOUT_MS);
}

void cli_top_help(FILE *out)
{
    fprintf(out,
            "usage: spillway top --hub ENDPOINT [--edge NAME] [--search TEXT] [--sort KEY]\n"
            "                    [--limit N] [--offset N] [--timeout MS]\n"
            "                    [--cert FILE --server-cert FILE]\n"
            "\n"
            "Shows `spillway status` on a cleared screen, refreshed every second,\n"
            "until interrupted (Ctrl-C): the summary, then the %d edges with the\n"
            "most queued unless --sort and --limit say otherwise.\n"
            "\n"
            "  --hub ENDPOINT  the hub's control endpoint, e.g. tcp://hub:5560\n"
            "  --edge, --search, --sort, --limit, --offset  as for `spillway status`\n"
            "  --timeout MS    how long to wait for each answer, 1 to %d (default %d)\n"
            CLI_CURVE_HELP
            "\n"
            "exit codes: 0 interrupted, 1 could not start, 2 bad arguments\n",
            TOP_LIMIT, STATUS_TIMEOUT_MAX_MS, STATUS_TIMEOUT_MS);
}

//  Asks the hub for service and prints the answer's body to stdout.
//  Returns 0, or -1 after printing why on stderr (silently if a stop signal
//  cut the wait short).
static int ask_and_print(const char *command, spw_client_t *client, const char *hub,
                         const char *service, const char *query, int64_t timeout_ms,
                         bool newline)
{
    spw_reply_t reply;
    spw_reply_init(&reply);
    const void *body[] = { query };
    size_t size[] = { strlen(query) };
    spw_status_t status = spw_client_call(client, service, body, size, 1, (uint32_t) timeout_ms,
                                          &reply);
    int rc = 0;
    if (status == SPW_STATUS_OK && reply.body_count == 1) {
        zmq_msg_t *body = &reply.msg.frame[reply.body_first];
        size_t size = zmq_msg_size(body);
        fwrite(zmq_msg_data(body), 1, size, stdout);
        if (newline && (size == 0 || ((char *) zmq_msg_data(body))[size - 1] != '\n'))
            fputc('\n', stdout);
        fflush(stdout);
    }
    else if (stop_requested && *stop_requested)
        rc = -1;
    else if (status == SPW_STATUS_TIMEOUT) {
        cli_error(command, "the hub at %s did not answer within %lld ms", hub,
                  (long long) timeout_ms);
        rc = -1;
    }
    else {
        char reason[256] = "";
        if (reply.body_count >= 1) {
            zmq_msg_t *body = &reply.msg.frame[reply.body_first];
            size_t size = zmq_msg_size(body) < sizeof reason - 1 ? zmq_msg_size(body)
                                                                 : sizeof reason - 1;
            memcpy(reason, zmq_msg_data(body), size);
            reason[size] = '\0';
        }
        cli_error(command, "the hub at %s answered %s%s%s", hub, spw_status_text(status),
                  *reason ? ": " : "", reason);
        rc = -1;
    }
    spw_reply_reset(&reply);
    return rc;
}

//  --json comes last: top parses the flags before it only.
enum {
    FLAG_HUB,
    FLAG_TIMEOUT,
    FLAG_CERT,
    FLAG_SERVER_CERT,
    FLAG_EDGE,
    FLAG_SEARCH,
    FLAG_SORT,
    FLAG_LIMIT,
    FLAG_OFFSET,
    FLAG_JSON,
    FLAG_COUNT_
};

#define QUERY_MAX 256

//  Writes the status query of --edge, --search, --sort, --limit and --offset
//  (docs/protocol.md) into query, sort and limit defaulting to the given;
//  -1 after printing the error.
static int make_query(const char *command, const cli_flag_t *flags, const char *sort,
                      int64_t limit, char *query)
{
    static const char *const sorts[] = { "name", "queued", "idle", "workers", "out", "in" };
    int64_t offset = 0;
    if (flags[FLAG_SORT].value) {
        sort = NULL;
        for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++)
            if (strcmp(flags[FLAG_SORT].value, sorts[i]) == 0)
                sort = sorts[i];
        if (!sort) {
            cli_usage_error(command, "--sort: '%s' is not one of name, queued, idle, workers, "
                                     "out, in", flags[FLAG_SORT].value);
            return -1;
        }
    }
    if ((flags[FLAG_LIMIT].value
         && cli_int(command, "--limit", flags[FLAG_LIMIT].value, 1, STATUS_LIMIT_MAX, &limit) != 0)
        || (flags[FLAG_OFFSET].value
            && cli_int(command, "--offset", flags[FLAG_OFFSET].value, 0, 100000000, &offset)
                   != 0)
        || (flags[FLAG_EDGE].value && cli_service(command, "--edge", flags[FLAG_EDGE].value) != 0)
        || (flags[FLAG_SEARCH].value
            && cli_service(command, "--search", flags[FLAG_SEARCH].value) != 0))
        return -1;
    int n = snprintf(query, QUERY_MAX, "sort=%s limit=%lld offset=%lld", sort, (long long) limit,
                     (long long) offset);
    if (flags[FLAG_EDGE].value)
        n += snprintf(query + n, QUERY_MAX - (size_t) n, " edge=%s", flags[FLAG_EDGE].value);
    if (flags[FLAG_SEARCH].value)
        snprintf(query + n, QUERY_MAX - (size_t) n, " search=%s", flags[FLAG_SEARCH].value);
    return 0;
}

//  Parses the flags both commands share; returns -1 with *exit_code set
//  when the command must end (help or an error).
static int parse(const char *command, int argc, char **argv, bool allow_json, cli_flag_t *flags,
                 int64_t *timeout_ms, int *exit_code, void (*help)(FILE *))
{
    const char *positional[1];
    size_t positional_count;
    switch (cli_parse(command, argc, argv, flags, allow_json ? FLAG_COUNT_ : FLAG_JSON,
                      positional, 0, &positional_count)) {
    case CLI_PARSE_HELP:
        help(stdout);
        *exit_code = CLI_EXIT_OK;
        return -1;
    case CLI_PARSE_ERROR:
        *exit_code = CLI_EXIT_USAGE;
        return -1;
    case CLI_PARSE_OK:
        break;
    }
    *exit_code = CLI_EXIT_USAGE;
    if (!flags[FLAG_HUB].value) {
        cli_usage_error(command, "missing --hub ENDPOINT");
        return -1;
    }
    if (cli_endpoint(command, "--hub", flags[FLAG_HUB].value) != 0)
        return -1;
    *timeout_ms = STATUS_TIMEOUT_MS;
    if (flags[FLAG_TIMEOUT].value
        && cli_int(command, "--timeout", flags[FLAG_TIMEOUT].value, 1, STATUS_TIMEOUT_MAX_MS,
                   timeout_ms)
               != 0)
        return -1;
    return 0;
}

//  Connects to the hub, over CURVE with --cert; NULL with *exit_code set.
static spw_client_t *open_client(const char *command, const cli_flag_t *flags, int *exit_code)
{
    const char *hub = flags[FLAG_HUB].value;
    spw_curve_keys_t keys;
    const spw_curve_keys_t *curve;
    *exit_code = cli_curve_keys(command, flags[FLAG_CERT].value, flags[FLAG_SERVER_CERT].value,
                                1, &keys, &curve);
    if (*exit_code != CLI_EXIT_OK)
        return NULL;
    spw_client_t *client = spw_client_new_secure(hub, curve);
    if (!client) {
        cli_error(command, "cannot connect to %s: %s", hub, zmq_strerror(errno));
        *exit_code = CLI_EXIT_ERROR;
    }
    return client;
}

//  Makes SIGINT/SIGTERM stop the command, not kill it.
static void catch_stop_signals(void)
{
    stop_requested = spw_daemon_signals();
}

//  Runs `spillway status`; returns the exit code.
int cli_status(int argc, char **argv)
{
    const char *command = "status";
    cli_flag_t flags[FLAG_COUNT_] = {
        [FLAG_HUB] = { .name = "--hub", .has_value = true },
        [FLAG_TIMEOUT] = { .name = "--timeout", .has_value = true },
        [FLAG_CERT] = { .name = "--cert", .has_value = true },
        [FLAG_SERVER_CERT] = { .name = "--server-cert", .has_value = true },
        [FLAG_EDGE] = { .name = "--edge", .has_value = true },
        [FLAG_SEARCH] = { .name = "--search", .has_value = true },
        [FLAG_SORT] = { .name = "--sort", .has_value = true },
        [FLAG_LIMIT] = { .name = "--limit", .has_value = true },
        [FLAG_OFFSET] = { .name = "--offset", .has_value = true },
        [FLAG_JSON] = { .name = "--json" },
    };
    int64_t timeout_ms;
    int exit_code;
    if (parse(command, argc, argv, true, flags, &timeout_ms, &exit_code, cli_status_help) != 0)
        return exit_code;
    char query[QUERY_MAX];
    if (make_query(command, flags, "name", 100, query) != 0)
        return CLI_EXIT_USAGE;
    const char *hub = flags[FLAG_HUB].value;
    spw_client_t *client = open_client(command, flags, &exit_code);
    if (!client)
        return exit_code;
    catch_stop_signals();
    bool json = flags[FLAG_JSON].seen;
    int rc = ask_and_print(command, client, hub, json ? STATUS_SERVICE : STATUS_TEXT_SERVICE,
                           query, timeout_ms, json);
    spw_client_destroy(&client);
    if (rc != 0 && *stop_requested)
        return CLI_EXIT_OK;
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

//  Sleeps ms unless a stop signal comes first.
static void pause_ms(int64_t ms)
{
    struct timespec left = { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000L };
    while (!*stop_requested && nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

//  Runs `spillway top`; returns the exit code.
int cli_top(int argc, char **argv)
{
    const char *command = "top";
    cli_flag_t flags[FLAG_COUNT_] = {
        [FLAG_HUB] = { .name = "--hub", .has_value = true },
        [FLAG_TIMEOUT] = { .name = "--timeout", .has_value = true },
        [FLAG_CERT] = { .name = "--cert", .has_value = true },
        [FLAG_SERVER_CERT] = { .name = "--server-cert", .has_value = true },
        [FLAG_EDGE] = { .name = "--edge", .has_value = true },
        [FLAG_SEARCH] = { .name = "--search", .has_value = true },
        [FLAG_SORT] = { .name = "--sort", .has_value = true },
        [FLAG_LIMIT] = { .name = "--limit", .has_value = true },
        [FLAG_OFFSET] = { .name = "--offset", .has_value = true },
    };
    int64_t timeout_ms;
    int exit_code;
    if (parse(command, argc, argv, false, flags, &timeout_ms, &exit_code, cli_top_help) != 0)
        return exit_code;
    char query[QUERY_MAX];
    if (make_query(command, flags, "queued", TOP_LIMIT, query) != 0)
        return CLI_EXIT_USAGE;
    const char *hub = flags[FLAG_HUB].value;
    spw_client_t *client = open_client(command, flags, &exit_code);
    if (!client)
        return exit_code;
    catch_stop_signals();
    while (!*stop_requested) {
        int64_t started = spw_clock_ms();
        fputs(TOP_CLEAR, stdout);
        //  A silent hub is reported on stderr and asked again next time.
        ask_and_print(command, client, hub, STATUS_TEXT_SERVICE, query, timeout_ms, true);
        int64_t spent = spw_clock_ms() - started;
        if (spent < TOP_INTERVAL_MS)
            pause_ms(TOP_INTERVAL_MS - spent);
    }
    spw_client_destroy(&client);
    return CLI_EXIT_OK;
}
