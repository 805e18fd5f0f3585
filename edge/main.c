//  main.c: spillway-edge's command line: settings, logs, signals, the loop.

#include "edge.h"

#include "spillway.h"
#include "spw_daemon.h"

#include <stdio.h>
#include <string.h>

static const spw_daemon_spec_t edge_program = {
    .program = "spillway-edge",
    .usage = "[--config FILE] [--name N] [--hub EP] [--KEY VALUE ...]",
    .summary = "The broker of one cluster: load-balances its clients' tasks over its workers,\n"
               "and with a hub sends its overflow to edges with idle workers.",
    .example = "config/edge.yaml",
    .missing_hint = " (give --name or --config)",
    .keys = spw_edge_keys,
};

int main(int argc, char **argv)
{
    spw_edge_config_t config;
    memset(&config, 0, sizeof config);
    int code = spw_daemon_settings(&edge_program, &config, argc, argv);
    if (code >= 0)
        return code;
    spw_log_open("edge", config.name, (spw_log_level_t) config.log_level,
                 (spw_log_format_t) config.log_format);
    volatile sig_atomic_t *stop = spw_daemon_signals();
    spw_daemon_raise_fd_limit();

    char err[SPW_ERROR_MAX];
    spw_edge_t *edge = spw_edge_new(&config, err, sizeof err);
    if (!edge) {
        spw_log(SPW_LOG_ERROR, "start_failed", "reason=\"%s\"", err);
        fprintf(stderr, "spillway-edge: %s\n", err);
        return 1;
    }
    int rc = spw_edge_run(edge, stop);
    spw_edge_destroy(&edge);
    return rc == 0 ? 0 : 1;
}
