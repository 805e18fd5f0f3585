//  drain.c: `spillway drain`, an edge put in lame-duck mode.
//
//  Asks the edge's frontend for its built-in service "spillway.drain" (an
//  operator's request when CURVE is on). The edge answers at once with
//  what it holds, then takes no new task from native clients (they are
//  answered busy and go to another edge), lends nothing more, finishes
//  what it holds, and exits 0 when it holds nothing or after its
//  drain_timeout_ms: the same as SIGTERM.

#include "cli.h"

#include "spillway.h"

#include <errno.h>
#include <string.h>

#define COMMAND "drain"
#define DRAIN_SERVICE "spillway.drain"
#define DRAIN_TIMEOUT_MS 3000
#define DRAIN_TIMEOUT_MAX_MS 600000

void cli_drain_help(FILE *out)
{
    fprintf(out,
            "usage: spillway drain --edge ENDPOINT [--timeout MS]\n"
            "                      [--cert FILE --server-cert FILE]\n"
            "\n"
            "Puts the edge in lame-duck mode, as SIGTERM does: it takes no new task\n"
            "from native clients (they go to another edge; seed clients are still\n"
            "served), lends nothing more, finishes what it holds, and exits 0 once\n"
            "it holds nothing or its drain_timeout_ms has passed. Prints the edge's\n"
            "answer: the tasks it holds.\n"
            "\n"
            "  --edge ENDPOINT  the edge's frontend, e.g. tcp://localhost:5555\n"
            "  --timeout MS     how long to wait for the edge, 1 to %d (default %d)\n"
            CLI_CURVE_HELP
            "\n"
            "exit codes: 0 draining, 1 the edge did not answer or refused, 2 bad arguments\n",
            DRAIN_TIMEOUT_MAX_MS, DRAIN_TIMEOUT_MS);
}

enum { FLAG_EDGE, FLAG_TIMEOUT, FLAG_CERT, FLAG_SERVER_CERT, FLAG_COUNT_ };

int cli_drain(int argc, char **argv)
{
    cli_flag_t flags[FLAG_COUNT_] = {
        [FLAG_EDGE] = { .name = "--edge", .has_value = true },
        [FLAG_TIMEOUT] = { .name = "--timeout", .has_value = true },
        [FLAG_CERT] = { .name = "--cert", .has_value = true },
        [FLAG_SERVER_CERT] = { .name = "--server-cert", .has_value = true },
    };
    size_t positional_count;
    switch (cli_parse(COMMAND, argc, argv, flags, FLAG_COUNT_, NULL, 0, &positional_count)) {
    case CLI_PARSE_HELP:
        cli_drain_help(stdout);
        return CLI_EXIT_OK;
    case CLI_PARSE_ERROR:
        return CLI_EXIT_USAGE;
    case CLI_PARSE_OK:
        break;
    }
    const char *edge = flags[FLAG_EDGE].value;
    int64_t timeout_ms = DRAIN_TIMEOUT_MS;
    if (!edge)
        return cli_usage_error(COMMAND, "missing --edge ENDPOINT");
    if (cli_endpoint(COMMAND, "--edge", edge) != 0
        || (flags[FLAG_TIMEOUT].value
            && cli_int(COMMAND, "--timeout", flags[FLAG_TIMEOUT].value, 1, DRAIN_TIMEOUT_MAX_MS,
                       &timeout_ms) != 0))
        return CLI_EXIT_USAGE;
    spw_curve_keys_t keys;
    const spw_curve_keys_t *curve;
    int code = cli_curve_keys(COMMAND, flags[FLAG_CERT].value, flags[FLAG_SERVER_CERT].value, 1,
                              &keys, &curve);
    if (code != CLI_EXIT_OK)
        return code;
    spw_client_t *client = spw_client_new_secure(edge, curve);
    if (!client) {
        cli_error(COMMAND, "cannot connect to %s: %s", edge, zmq_strerror(errno));
        return CLI_EXIT_ERROR;
    }
    spw_reply_t reply;
    spw_reply_init(&reply);
    spw_status_t status = spw_client_call(client, DRAIN_SERVICE, NULL, NULL, 0,
                                          (uint32_t) timeout_ms, &reply);
    char text[256] = "";
    if (reply.body_count >= 1) {
        zmq_msg_t *body = &reply.msg.frame[reply.body_first];
        size_t size = zmq_msg_size(body) < sizeof text - 1 ? zmq_msg_size(body) : sizeof text - 1;
        memcpy(text, zmq_msg_data(body), size);
        text[size] = '\0';
    }
    if (status == SPW_STATUS_OK) {
        printf("%s: %s\n", edge, text);
        code = CLI_EXIT_OK;
    }
    else {
        cli_error(COMMAND, "the edge at %s answered %s%s%s", edge, spw_status_text(status),
                  *text ? ": " : "", text);
        code = CLI_EXIT_ERROR;
    }
    spw_reply_reset(&reply);
    spw_client_destroy(&client);
    return code;
}
