//  curve.c: CURVE keys, the allow-list and the authenticator (spw_curve.h).
//
//  czmq does the work: zcert reads certificates, zauth answers each
//  handshake from the allow-list folder and passes the certificate's
//  metadata on to the messages. What is ours is the index of that folder
//  (role and name to key), which a connecting socket needs to verify the
//  hub or another edge, and the reading of roles off a message.

#include "spw_curve.h"
#include "spw_log.h"

#include <czmq.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  One admitted certificate, as the index keeps it.
typedef struct {
    uint8_t key[32];
    char *role;   // comma list, never NULL
    char *name;   // may be NULL
} spw_peer_cert_t;

//  Where czmq's log goes (zauth says there whom it refused), and how many
//  refused keys are remembered so that each is logged once.
#define SPW_CURVE_LOG_ENDPOINT "inproc://spillway-zsys-log"
#define SPW_CURVE_REMEMBERED   64
#define SPW_CURVE_KEY_TEXT     40

struct spw_curve_t {
    uint8_t public_key[32];
    uint8_t secret_key[32];
    zactor_t *auth;
    void *ctx;
    void *log;  // SUB to czmq's log
    char refused[SPW_CURVE_REMEMBERED][SPW_CURVE_KEY_TEXT + 1];
    size_t refused_next;
    spw_peer_cert_t *peers;
    size_t count;
};

int spw_curve_load(const char *file, bool secret, uint8_t public_key[32],
                   uint8_t secret_key[32], char *err, size_t errlen)
{
    //  zcert_load reads FILE_secret when it exists, FILE otherwise.
    char base[4096];
    size_t len = strlen(file);
    const char *suffix = "_secret";
    snprintf(base, sizeof base, "%s", file);
    if (len > strlen(suffix) && strcmp(file + len - strlen(suffix), suffix) == 0)
        base[len - strlen(suffix)] = 0;
    struct stat st;
    if (stat(file, &st) != 0) {
        snprintf(err, errlen, "cannot read certificate %s: no such file", file);
        return -1;
    }
    zcert_t *cert = zcert_load(base);
    if (!cert) {
        snprintf(err, errlen, "cannot read certificate %s: not in czmq's format", file);
        return -1;
    }
    memcpy(public_key, zcert_public_key(cert), 32);
    static const uint8_t zero[32];
    bool has_secret = memcmp(zcert_secret_key(cert), zero, 32) != 0;
    if (secret && !has_secret) {
        zcert_destroy(&cert);
        snprintf(err, errlen, "certificate %s has no secret key (%s_secret)", file, base);
        return -1;
    }
    if (secret)
        memcpy(secret_key, zcert_secret_key(cert), 32);
    zcert_destroy(&cert);
    return 0;
}

static char *copy_meta(zcert_t *cert, const char *field)
{
    const char *value = zcert_meta(cert, field);
    return strdup(value ? value : "");
}

//  Reads every public certificate (*.key) of the allow-list folder.
static int load_allow(spw_curve_t *self, const char *allow, char *err, size_t errlen)
{
    DIR *dir = opendir(allow);
    if (!dir) {
        snprintf(err, errlen, "cannot read the allow-list folder %s", allow);
        return -1;
    }
    struct dirent *entry;
    size_t capacity = 0;
    int rc = 0;
    while (rc == 0 && (entry = readdir(dir))) {
        size_t len = strlen(entry->d_name);
        if (len < 5 || strcmp(entry->d_name + len - 4, ".key") != 0)
            continue;
        if (self->count == SPW_CURVE_MAX_PEERS) {
            snprintf(err, errlen, "the allow-list %s has more than %d certificates", allow,
                     SPW_CURVE_MAX_PEERS);
            rc = -1;
            break;
        }
        char path[4096];
        if ((size_t) snprintf(path, sizeof path, "%.3800s/%.255s", allow, entry->d_name)
            >= sizeof path)
            continue;
        zcert_t *cert = zcert_load(path);
        if (!cert) {
            snprintf(err, errlen, "cannot read certificate %s", path);
            rc = -1;
            break;
        }
        if (self->count == capacity) {
            capacity = capacity ? capacity * 2 : 16;
            spw_peer_cert_t *grown = realloc(self->peers, capacity * sizeof *grown);
            if (!grown) {
                zcert_destroy(&cert);
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            self->peers = grown;
        }
        spw_peer_cert_t *peer = &self->peers[self->count++];
        memcpy(peer->key, zcert_public_key(cert), 32);
        peer->role = copy_meta(cert, "role");
        peer->name = copy_meta(cert, "name");
        zcert_destroy(&cert);
    }
    closedir(dir);
    return rc;
}

spw_curve_t *spw_curve_new(const char *dir, const char *name, char *err, size_t errlen)
{
    spw_curve_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.key_secret", dir, name);
    if (spw_curve_load(path, true, self->public_key, self->secret_key, err, errlen) != 0) {
        spw_curve_destroy(&self);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/allow", dir);
    if (load_allow(self, path, err, errlen) != 0) {
        spw_curve_destroy(&self);
        return NULL;
    }
    //  Our own signal handling stays: czmq must not install its own.
    zsys_handler_set(NULL);
    self->ctx = zsys_init();
    self->auth = self->ctx ? zactor_new(zauth, NULL) : NULL;
    if (!self->auth) {
        snprintf(err, errlen, "cannot start the authenticator");
        spw_curve_destroy(&self);
        return NULL;
    }
    zstr_sendx(self->auth, "CURVE", path, NULL);
    zsock_wait(self->auth);
    //  zauth names a refused key only in its verbose log: read that log
    //  (a PUB czmq binds) instead of letting it print.
    zsys_set_logstream(NULL);
    zsys_set_logsender(SPW_CURVE_LOG_ENDPOINT);
    self->log = zmq_socket(self->ctx, ZMQ_SUB);
    if (!self->log || zmq_setsockopt(self->log, ZMQ_SUBSCRIBE, "", 0) != 0
        || zmq_connect(self->log, SPW_CURVE_LOG_ENDPOINT) != 0) {
        snprintf(err, errlen, "cannot read the authenticator's log");
        spw_curve_destroy(&self);
        return NULL;
    }
    zstr_send(self->auth, "VERBOSE");
    zsock_wait(self->auth);
    return self;
}

void spw_curve_destroy(spw_curve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_curve_t *self = *self_p;
    zactor_destroy(&self->auth);
    if (self->log)
        zmq_close(self->log);
    if (self->ctx)
        zsys_shutdown();
    for (size_t i = 0; i < self->count; i++) {
        free(self->peers[i].role);
        free(self->peers[i].name);
    }
    free(self->peers);
    free(self);
    *self_p = NULL;
}

void *spw_curve_context(spw_curve_t *self)
{
    return self->ctx;
}

void spw_curve_keys(const spw_curve_t *self, const uint8_t *server_key, spw_curve_keys_t *keys)
{
    memset(keys, 0, sizeof *keys);
    memcpy(keys->public_key, self->public_key, 32);
    memcpy(keys->secret_key, self->secret_key, 32);
    if (server_key)
        memcpy(keys->server_key, server_key, 32);
}

int spw_curve_find(const spw_curve_t *self, const char *role, const char *name,
                   uint8_t key[32], char *err, size_t errlen)
{
    size_t found = 0;
    for (size_t i = 0; i < self->count; i++) {
        const spw_peer_cert_t *peer = &self->peers[i];
        if (!spw_curve_list_has(peer->role, role, strlen(role), false))
            continue;
        if (name && strcmp(peer->name, name) != 0)
            continue;
        if (found++ == 0)
            memcpy(key, peer->key, 32);
    }
    if (found == 1 || (found > 1 && name))
        return 0;
    if (found == 0)
        snprintf(err, errlen, "no certificate of role %s%s%s in the allow-list", role,
                 name ? " named " : "", name ? name : "");
    else
        snprintf(err, errlen, "%zu certificates of role %s in the allow-list: name the one",
                 found, role);
    return -1;
}

const char *spw_curve_peer_key(zmq_msg_t *frame)
{
    return zmq_msg_gets(frame, "User-Id");
}

const char *spw_curve_peer_property(zmq_msg_t *frame, const char *property)
{
    return zmq_msg_gets(frame, property);
}

bool spw_curve_list_has(const char *list, const char *item, size_t len, bool star)
{
    if (!list)
        return false;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && last[-1] == ' ')
            last--;
        size_t n = (size_t) (last - p);
        if ((star && n == 1 && *p == '*') || (n > 0 && n == len && memcmp(p, item, len) == 0))
            return true;
        p = end;
    }
    return false;
}

uint64_t spw_curve_tick(spw_curve_t *self)
{
    static const char denied[] = "denied (CURVE) client_key=";
    uint64_t refused = 0;
    char line[512];
    int size;
    while (self->log && (size = zmq_recv(self->log, line, sizeof line - 1, ZMQ_DONTWAIT)) >= 0) {
        line[size < (int) sizeof line - 1 ? size : (int) sizeof line - 1] = 0;
        const char *at = strstr(line, denied);
        if (!at)
            continue;
        refused++;
        char key[SPW_CURVE_KEY_TEXT + 1];
        snprintf(key, sizeof key, "%s", at + strlen(denied));
        bool seen = false;
        for (size_t i = 0; i < SPW_CURVE_REMEMBERED && !seen; i++)
            seen = strcmp(self->refused[i], key) == 0;
        if (seen)
            continue;
        snprintf(self->refused[self->refused_next], sizeof self->refused[0], "%s", key);
        self->refused_next = (self->refused_next + 1) % SPW_CURVE_REMEMBERED;
        spw_log(SPW_LOG_WARNING, "handshake_refused", "key=%s reason=\"not in the allow-list\"",
                key);
    }
    return refused;
}

bool spw_curve_peer_is(zmq_msg_t *frame, const char *role)
{
    return spw_curve_list_has(spw_curve_peer_property(frame, "role"), role, strlen(role), false);
}

bool spw_curve_peer_acts_as(zmq_msg_t *frame, const char *role, const char *name,
                            size_t name_len)
{
    const char *has = spw_curve_peer_property(frame, "name");
    bool named = !name || (has && strlen(has) == name_len && memcmp(has, name, name_len) == 0);
    return named && spw_curve_peer_is(frame, role);
}

const char *spw_curve_refusal(zmq_msg_t *frame, const char *role, const char *name,
                              size_t name_len, char *buf, size_t size)
{
    const char *key = spw_curve_peer_key(frame);
    snprintf(buf, size, "forbidden: key %s is no %s%s%.*s", key ? key : "?", role,
             name ? " named " : "", name ? (int) name_len : 0, name ? name : "");
    return buf;
}
