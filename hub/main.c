//  main.c: spillway-hub's command line: settings, logs, signals, the loop.

#include "hub.h"

#include "spillway.h"
#include "spw_daemon.h"

#include <stdio.h>
#include <string.h>

static const spw_daemon_spec_t hub_program = {
    .program = "spillway-hub",
    .usage = "[--config FILE] [--control EP] [--state EP] [--KEY VALUE ...]",
    .summary = "The control plane: watches every edge's capacity and matches the edges\n"
               "with idle workers, which lend them by credit, with the edges that have a backlog.",
    .example = "config/hub.yaml",
    .missing_hint = "",
    .keys = spw_hub_keys,
};

int main(int argc, char **argv)
{
    spw_hub_config_t config;
    memset(&config, 0, sizeof config);
    int code = spw_daemon_settings(&hub_program, &config, argc, argv);
    if (code >= 0)
        return code;
    spw_log_open("hub", config.name, (spw_log_level_t) config.log_level,
                 (spw_log_format_t) config.log_format);
    volatile sig_atomic_t *stop = spw_daemon_signals();
    spw_daemon_raise_fd_limit();

    char err[SPW_ERROR_MAX];
    spw_hub_t *hub = spw_hub_new(&config, err, sizeof err);
    if (!hub) {
        spw_log(SPW_LOG_ERROR, "start_failed", "reason=\"%s\"", err);
        fprintf(stderr, "spillway-hub: %s\n", err);
        return 1;
    }
    int rc = spw_hub_run(hub, stop);
    spw_hub_destroy(&hub);
    return rc == 0 ? 0 : 1;
}
