//  keys.c: `spillway keygen`, and the --cert/--server-cert flags of the
//  commands that connect.
//
//  keygen writes a certificate in czmq's format (zcert: NAME.key public,
//  NAME.key_secret secret, metadata in both) with the role, name and
//  services a broker reads off it, and copies the public half into the
//  folder's allow-list: a new folder is a cluster's keys at once
//  (docs/security.md).

#include "cli.h"

#include "spillway.h"
#include "spw_curve.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define COMMAND "keygen"

static const char *const roles[] = { SPW_ROLE_CLIENT, SPW_ROLE_WORKER, SPW_ROLE_EDGE,
                                     SPW_ROLE_OPERATOR, SPW_ROLE_HUB, NULL };

void cli_keygen_help(FILE *out)
{
    fprintf(out,
            "usage: spillway keygen NAME --role ROLE[,ROLE...] [--services S[,S...]] [--dir DIR]\n"
            "\n"
            "Writes a CURVE certificate in czmq's format: DIR/NAME.key (public) and\n"
            "DIR/NAME.key_secret (secret, mode 0600), and copies the public one into\n"
            "DIR/allow, the allow-list every edge and hub with curve_dir: DIR admits.\n"
            "\n"
            "  NAME             the certificate's name; for an edge or a hub, the name\n"
            "                   it runs under (the only name that key may use)\n"
            "  --role ROLE      what the key may do: client, worker, edge, operator, hub\n"
            "                   (a comma list for several)\n"
            "  --services S     a worker's services, a comma list or * (default *)\n"
            "  --dir DIR        the keys folder (default: the current folder)\n"
            "\n"
            "An existing NAME.key is not overwritten.\n");
}

//  True if each item of the comma list is a known role.
static bool roles_valid(const char *list)
{
    char copy[256];
    if (!*list || strlen(list) >= sizeof copy)
        return false;
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *role = strtok_r(copy, ",", &save); role;
         role = strtok_r(NULL, ",", &save)) {
        bool known = false;
        for (size_t i = 0; roles[i]; i++)
            known |= strcmp(role, roles[i]) == 0;
        if (!known)
            return false;
    }
    return true;
}

enum { FLAG_ROLE, FLAG_SERVICES, FLAG_DIR, FLAG_COUNT_ };

int cli_keygen(int argc, char **argv)
{
    cli_flag_t flags[FLAG_COUNT_] = {
        [FLAG_ROLE] = { .name = "--role", .has_value = true },
        [FLAG_SERVICES] = { .name = "--services", .has_value = true },
        [FLAG_DIR] = { .name = "--dir", .has_value = true },
    };
    const char *positional[1];
    size_t positional_count = 0;
    switch (cli_parse(COMMAND, argc, argv, flags, FLAG_COUNT_, positional, 1,
                      &positional_count)) {
    case CLI_PARSE_HELP: cli_keygen_help(stdout); return CLI_EXIT_OK;
    case CLI_PARSE_ERROR: return CLI_EXIT_USAGE;
    case CLI_PARSE_OK: break;
    }
    if (positional_count != 1)
        return cli_usage_error(COMMAND, "give the certificate's NAME");
    const char *name = positional[0];
    if (!spw_service_name_valid(name, strlen(name)))
        return cli_usage_error(COMMAND, "NAME must be 1 to 64 of A-Z a-z 0-9 . _ -");
    const char *role = flags[FLAG_ROLE].value;
    if (!role)
        return cli_usage_error(COMMAND, "missing --role");
    if (!roles_valid(role))
        return cli_usage_error(COMMAND,
                               "--role takes client, worker, edge, operator or hub (a comma list)");
    const char *services = flags[FLAG_SERVICES].value ? flags[FLAG_SERVICES].value : "*";
    if (!*services || strlen(services) > 1024)
        return cli_usage_error(COMMAND, "--services takes a comma list of services, or *");
    const char *dir = flags[FLAG_DIR].value ? flags[FLAG_DIR].value : ".";
    if (strlen(dir) > 3000)
        return cli_usage_error(COMMAND, "--dir is too long");
    char path[4096], allow[4096];
    snprintf(allow, sizeof allow, "%.3000s/allow", dir);
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || (mkdir(allow, 0755) != 0 && errno != EEXIST)) {
        cli_error(COMMAND, "cannot create %s: %s", allow, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    snprintf(path, sizeof path, "%.3000s/%.64s.key", dir, name);
    struct stat st;
    if (stat(path, &st) == 0) {
        cli_error(COMMAND, "%s exists: remove it to make a new key", path);
        return CLI_EXIT_ERROR;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        cli_error(COMMAND, "cannot make a key pair");
        return CLI_EXIT_ERROR;
    }
    zcert_set_meta(cert, "name", "%s", name);
    zcert_set_meta(cert, "role", "%s", role);
    if (strstr(role, SPW_ROLE_WORKER))
        zcert_set_meta(cert, "services", "%s", services);
    int rc = zcert_save(cert, path);
    char public_path[4096];
    snprintf(public_path, sizeof public_path, "%.3010s/%.64s.key", allow, name);
    if (rc == 0)
        rc = zcert_save_public(cert, public_path);
    zcert_destroy(&cert);
    if (rc != 0) {
        cli_error(COMMAND, "cannot write %s: %s", path, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    printf("%s and %s_secret written; %s admitted\n", path, path, public_path);
    return CLI_EXIT_OK;
}

int cli_curve_keys(const char *command, const char *cert, const char *server_cert,
                   size_t servers, spw_curve_keys_t *keys, const spw_curve_keys_t **use)
{
    *use = NULL;
    if (!cert && !server_cert)
        return CLI_EXIT_OK;
    if (!cert != !server_cert)
        return cli_usage_error(command, "--cert and --server-cert go together");
    char err[SPW_ERROR_MAX * 4];
    const char *at = server_cert;
    for (size_t i = 0; i < servers; i++) {
        const char *comma = strchr(at, ',');
        size_t len = comma ? (size_t) (comma - at) : strlen(at);
        char path[SPW_PATH_MAX];
        if (len == 0 || len >= sizeof path)
            return cli_usage_error(command, "--server-cert: a certificate path is empty or "
                                            "too long");
        memcpy(path, at, len);
        path[len] = '\0';
        if ((!comma) != (i + 1 == servers))
            return cli_usage_error(command, "--server-cert: one certificate per edge (%zu)",
                                   servers);
        memset(&keys[i], 0, sizeof keys[i]);
        uint8_t unused[32];
        if (spw_curve_load(cert, true, keys[i].public_key, keys[i].secret_key, err,
                           sizeof err) != 0
            || spw_curve_load(path, false, keys[i].server_key, unused, err, sizeof err) != 0) {
            cli_error(command, "%s", err);
            return CLI_EXIT_ERROR;
        }
        at = comma ? comma + 1 : at + len;
    }
    *use = keys;
    return CLI_EXIT_OK;
}
