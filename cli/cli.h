//  cli.h: what the `spillway` subcommands share.
//
//  Each subcommand is one file with one entry point, run with argv[0] set
//  to the subcommand's name, and a help text; main.c holds the table of
//  them and the small flag parser they all use, so that every command
//  spells its errors and exit codes the same way: a one-line
//  "spillway COMMAND: ..." on stderr, exit 2 for a usage error.

#ifndef SPW_CLI_H_INCLUDED
#define SPW_CLI_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spw_socket.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_ERROR 1  // the command ran and failed
#define CLI_EXIT_USAGE 2  // bad arguments: nothing was done

//  One flag a command accepts; filled by cli_parse.
typedef struct {
    const char *name;   // "--edge"
    bool has_value;     // takes a value ("--edge EP" or "--edge=EP")
    const char *value;  // the value given, or NULL
    bool seen;
} cli_flag_t;

//  What cli_parse found.
typedef enum { CLI_PARSE_OK, CLI_PARSE_HELP, CLI_PARSE_ERROR } cli_parse_t;

//  Parses argv[1..argc) against flags; arguments that are not flags ("-"
//  included, and everything after "--") go to positional, at most
//  max_positional of them. -h/--help anywhere gives CLI_PARSE_HELP. On an
//  error prints it ("spillway COMMAND: unknown flag '--x'") and gives
//  CLI_PARSE_ERROR.
cli_parse_t cli_parse(const char *command, int argc, char **argv, cli_flag_t *flags,
                      size_t flag_count, const char **positional, size_t max_positional,
                      size_t *positional_count);

//  Prints "spillway COMMAND: message" on stderr; returns CLI_EXIT_USAGE.
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

//  Prints "spillway COMMAND: message" on stderr.
void cli_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

//  Reads flag's value as an integer in [min, max]; prints the error and
//  returns -1 if it is not one.
int cli_int(const char *command, const char *flag, const char *text, int64_t min,
            int64_t max, int64_t *out);

//  Checks a flag's value as an endpoint or a service name; prints the error
//  and returns -1 if it is not one.
int cli_endpoint(const char *command, const char *flag, const char *text);
//  The same for a comma-separated list of edges (EP1,EP2), counted in *count.
int cli_endpoints(const char *command, const char *flag, const char *text, size_t *count);
int cli_service(const char *command, const char *flag, const char *text);

//  The subcommands: each takes argv[0] = its name.
int cli_submit(int argc, char **argv);
int cli_worker(int argc, char **argv);
int cli_check_config(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_top(int argc, char **argv);
int cli_keygen(int argc, char **argv);
int cli_drain(int argc, char **argv);

//  Their help texts.
void cli_submit_help(FILE *out);
void cli_worker_help(FILE *out);
void cli_check_config_help(FILE *out);
void cli_bench_help(FILE *out);
void cli_status_help(FILE *out);
void cli_top_help(FILE *out);
void cli_keygen_help(FILE *out);
void cli_drain_help(FILE *out);

//  Loads the keys of --cert FILE (this peer's certificate) and --server-cert
//  FILE (the edge's or hub's public one) into keys and points *use at them;
//  with neither flag, *use is NULL (plaintext). Prints the error and returns
//  its exit code, or CLI_EXIT_OK.
//  server_cert is a comma-separated list of servers certificates, one per
//  server the command connects to (servers of them, keys[0..servers)).
int cli_curve_keys(const char *command, const char *cert, const char *server_cert,
                   size_t servers, spw_curve_keys_t *keys, const spw_curve_keys_t **use);

//  The help lines of those two flags.
#define CLI_CURVE_HELP \
    "  --cert FILE        this peer's CURVE certificate (FILE_secret is read too)\n" \
    "  --server-cert FILE the server's public certificate, which it must prove\n" \
    "                     (docs/security.md); both or neither; with several edges,\n" \
    "                     one per edge: FILE1,FILE2\n"


#endif
