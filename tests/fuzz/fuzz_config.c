//  fuzz_config.c: libFuzzer target for the config loader.
//
//  The input is a YAML file, read through the edge's keys and then the
//  hub's, as `spillway-edge --config` and `spillway-hub --config` read
//  theirs. The file lives in a memfd, rewritten for each input, so no
//  input touches the disk. tests/fuzz/run.

#include "spw_config.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("spw-fuzz-config", 0);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t) size)
        return 0;
    char err[512];
    spw_edge_config_t edge;
    spw_config_defaults(spw_edge_keys, &edge, err, sizeof err);
    spw_config_load(path, spw_edge_keys, &edge, err, sizeof err);
    spw_hub_config_t hub;
    spw_config_defaults(spw_hub_keys, &hub, err, sizeof err);
    spw_config_load(path, spw_hub_keys, &hub, err, sizeof err);
    return 0;
}
