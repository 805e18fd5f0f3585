//  daemon.c: the command line and signals of spillway-edge and
//  spillway-hub (see spw_daemon.h). Settings are read in a fixed order —
//  defaults, the file, flags — so that a flag always wins, and the first
//  bad value stops the program before it binds anything.

#include "spw_daemon.h"

#include "spillway.h"

#include "spw_log.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static volatile sig_atomic_t stop_signals;
static volatile sig_atomic_t last_signal;
static volatile sig_atomic_t reload_signals;

static void on_signal(int signum)
{
    if (signum == SIGHUP) {
        reload_signals++;
        return;
    }
    last_signal = signum;
    stop_signals++;
}

//  Below this many files a few hundred peers reach the limit.
#define SPW_FD_LIMIT_LOW 4096

long spw_daemon_raise_fd_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return -1;
    if (limit.rlim_cur < limit.rlim_max) {
        struct rlimit raised = { limit.rlim_max, limit.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit = raised;
    }
    long files = limit.rlim_cur == RLIM_INFINITY ? -1 : (long) limit.rlim_cur;
    if (files >= 0 && files < SPW_FD_LIMIT_LOW)
        spw_log(SPW_LOG_WARNING, "fd_limit_low",
                "files=%ld hint=\"each connection holds one; raise the hard limit (ulimit -Hn)\"",
                files);
    else
        spw_log(SPW_LOG_DEBUG, "fd_limit", "files=%ld", files);
    return files;
}

volatile sig_atomic_t *spw_daemon_signals(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    return &stop_signals;
}

void spw_daemon_check_reload(void)
{
    static sig_atomic_t seen;
    if (reload_signals == seen)
        return;
    seen = reload_signals;
    spw_log(SPW_LOG_WARNING, "reload_refused",
            "signal=SIGHUP reason=\"no setting can change while it runs; restart it to apply a "
            "new config (an edge drains on SIGTERM)\"");
}

int spw_daemon_last_signal(void)
{
    return last_signal;
}

static void print_help(const spw_daemon_spec_t *spec)
{
    printf("usage: %s %s\n\n%s\nFlags override the file; every key of the config is also a flag:\n\n",
           spec->program, spec->usage, spec->summary);
    for (const spw_key_t *key = spec->keys; key->name; key++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", key->name);
        for (char *c = flag + 2; *c; c++)
            if (*c == '_')
                *c = '-';
        bool has_default = key->default_value && *key->default_value;
        printf("  %-26s %s%s%s%s\n", flag, key->help, has_default ? " (default " : "",
               has_default ? key->default_value : "", has_default ? ")" : "");
    }
    printf("\n  %-26s read settings from a YAML file (see %s)\n", "--config FILE", spec->example);
    printf("  %-26s print this help\n  %-26s print the version\n", "-h, --help", "--version");
}

int spw_daemon_settings(const spw_daemon_spec_t *spec, void *settings, int argc, char **argv)
{
    char err[SPW_ERROR_MAX];
    if (spw_config_defaults(spec->keys, settings, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", spec->program, err);
        return 1;
    }
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            print_help(spec);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", spec->program, SPW_VERSION);
            return 0;
        }
        if (strncmp(argv[i], "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", spec->program, argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--config") != 0 && !spw_config_key(spec->keys, argv[i] + 2)) {
            fprintf(stderr, "%s: unknown flag '%s' (see --help)\n", spec->program, argv[i]);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", spec->program, argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--config") == 0)
            config_path = argv[i + 1];
        i++;  // a flag's value; checked below
    }
    if (config_path && spw_config_load(config_path, spec->keys, settings, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (int i = 1; i < argc; i += 2) {
        const char *flag = argv[i];
        if (strcmp(flag, "--config") == 0)
            continue;
        if (spw_config_set(spec->keys, settings, flag + 2, argv[i + 1], flag, err, sizeof err)
            != 0) {
            fprintf(stderr, "%s: %s\n", spec->program, err);
            return 2;
        }
    }
    if (spw_config_check(spec->keys, settings, config_path ? config_path : spec->program, err,
                         sizeof err)
        != 0) {
        fprintf(stderr, "%s%s\n", err, config_path ? "" : spec->missing_hint);
        return config_path ? 1 : 2;
    }
    return -1;
}
