//  check_config.c: `spillway check-config`, a config file checked the way
//  its daemon would read it.
//
//  The file goes through the same loader and key table as the daemon's
//  (defaults, then the file, then the required-key check), so a file that
//  passes here starts the daemon, and an error is reported in the same
//  one-line "FILE:LINE:COL: message" form. The kind of config is --kind, or
//  guessed from the file's name ("hub" in it means a hub config).

#include "cli.h"

#include "spillway.h"

#include <string.h>

#define COMMAND "check-config"

//  Prints the usage of check-config.
void cli_check_config_help(FILE *out)
{
    fputs("usage: spillway check-config [--kind edge|hub] FILE\n"
          "\n"
          "Reads FILE as spillway-edge (or spillway-hub) would and prints 'FILE: ok',\n"
          "or the first error as FILE:LINE:COL: message.\n"
          "\n"
          "  --kind edge|hub  the kind of config (default: hub if the file's name\n"
          "                   contains 'hub', else edge)\n"
          "\n"
          "exit codes: 0 the file is valid, 1 it is not, 2 bad arguments\n", out);
}

//  True if the last path component of path contains "hub".
static bool named_like_hub(const char *path)
{
    const char *slash = strrchr(path, '/');
    return strstr(slash ? slash + 1 : path, "hub") != NULL;
}

enum { FLAG_KIND, FLAG_COUNT_ };

//  Runs `spillway check-config`; returns the exit code.
int cli_check_config(int argc, char **argv)
{
    cli_flag_t flags[FLAG_COUNT_] = {
        [FLAG_KIND] = { .name = "--kind", .has_value = true },
    };
    const char *positional[1];
    size_t positional_count;
    switch (cli_parse(COMMAND, argc, argv, flags, FLAG_COUNT_, positional, 1,
                      &positional_count)) {
    case CLI_PARSE_HELP:
        cli_check_config_help(stdout);
        return CLI_EXIT_OK;
    case CLI_PARSE_ERROR:
        return CLI_EXIT_USAGE;
    case CLI_PARSE_OK:
        break;
    }
    const char *kind = flags[FLAG_KIND].value;
    if (kind && strcmp(kind, "edge") != 0 && strcmp(kind, "hub") != 0)
        return cli_usage_error(COMMAND, "--kind: expected 'edge' or 'hub', got '%s'", kind);
    if (positional_count == 0)
        return cli_usage_error(COMMAND, "missing FILE");
    const char *path = positional[0];
    if (!kind)
        kind = named_like_hub(path) ? "hub" : "edge";
    //  Either settings struct, read through its own key table.
    union {
        spw_edge_config_t edge;
        spw_hub_config_t hub;
    } config;
    const spw_key_t *keys = strcmp(kind, "hub") == 0 ? spw_hub_keys : spw_edge_keys;
    memset(&config, 0, sizeof config);
    char err[SPW_ERROR_MAX];
    if (spw_config_defaults(keys, &config, err, sizeof err) != 0
        || spw_config_load(path, keys, &config, err, sizeof err) != 0
        || spw_config_check(keys, &config, path, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return CLI_EXIT_ERROR;
    }
    printf("%s: ok\n", path);
    return CLI_EXIT_OK;
}
