//  main.c: spillway-hub's command line. Settings come from the defaults
//  table, then the --config file, then flags (any key, spelt --heartbeat-ms
//  or --heartbeat_ms); the first bad one is reported on one line and the
//  program exits non-zero before it binds anything.

#include "hub.h"

#include "spillway.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int signum)
{
    (void) signum;
    stop_requested = 1;
}

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: spillway-hub [--config FILE] [--control EP] [--state EP] [--KEY VALUE ...]\n"
            "\n"
            "The control plane: watches every edge's capacity and grants their overflow\n"
            "to the edges with idle workers.\n"
            "Flags override the file; every key of the config is also a flag:\n\n");
    for (const spw_key_t *key = spw_hub_keys; key->name; key++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", key->name);
        for (char *c = flag + 2; *c; c++)
            if (*c == '_')
                *c = '-';
        fprintf(out, "  %-26s %s%s%s%s\n", flag, key->help,
                key->default_value && *key->default_value ? " (default " : "",
                key->default_value && *key->default_value ? key->default_value : "",
                key->default_value && *key->default_value ? ")" : "");
    }
    fprintf(out, "\n  %-26s %s\n  %-26s %s\n  %-26s %s\n", "--config FILE",
            "read settings from a YAML file (see config/hub.yaml)", "-h, --help",
            "print this help", "--version", "print the version");
}

int main(int argc, char **argv)
{
    spw_hub_config_t config;
    char err[SPW_ERROR_MAX];
    memset(&config, 0, sizeof config);
    if (spw_config_defaults(spw_hub_keys, &config, err, sizeof err) != 0) {
        fprintf(stderr, "spillway-hub: %s\n", err);
        return 1;
    }
    //  The file first, wherever --config stands, so that flags override it.
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            print_help(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("spillway-hub %s\n", SPW_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "spillway-hub: --config needs a file\n");
                return 2;
            }
            config_path = argv[++i];
        }
        else if (strncmp(argv[i], "--", 2) == 0)
            i++;  // a flag's value; checked below
        else {
            fprintf(stderr, "spillway-hub: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (config_path && spw_config_load(config_path, spw_hub_keys, &config, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        const char *flag = argv[i];
        if (!spw_config_key(spw_hub_keys, flag + 2)) {
            fprintf(stderr, "spillway-hub: unknown flag '%s' (see --help)\n", flag);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "spillway-hub: %s needs a value\n", flag);
            return 2;
        }
        if (spw_config_set(spw_hub_keys, &config, flag + 2, argv[++i], flag, err, sizeof err)
            != 0) {
            fprintf(stderr, "spillway-hub: %s\n", err);
            return 2;
        }
    }
    if (spw_config_check(spw_hub_keys, &config, config_path ? config_path : "spillway-hub",
                         err, sizeof err)
        != 0) {
        fprintf(stderr, "%s\n", err);
        return config_path ? 1 : 2;
    }
    spw_log_open("hub", config.name, (spw_log_level_t) config.log_level,
                 (spw_log_format_t) config.log_format);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;  // no SA_RESTART: zmq_poll must return EINTR
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    spw_hub_t *hub = spw_hub_new(&config, err, sizeof err);
    if (!hub) {
        spw_log(SPW_LOG_ERROR, "start_failed", "reason=\"%s\"", err);
        fprintf(stderr, "spillway-hub: %s\n", err);
        return 1;
    }
    int rc = spw_hub_run(hub, &stop_requested);
    spw_hub_destroy(&hub);
    return rc == 0 ? 0 : 1;
}
