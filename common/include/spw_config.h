//  spw_config.h: configuration of the edge and the hub.
//
//  A program's settings are a plain struct plus a table of keys that says,
//  for each setting, its name in YAML and on the command line, its type,
//  range and default. One loader reads a YAML file through that table, and
//  the same validation serves flags, so a value is checked the same way
//  wherever it comes from. The tables (spw_edge_keys, spw_hub_keys) are the
//  one place where defaults live; config/*.yaml document them key by key.
//
//  Errors are one line, "FILE:LINE:COL: message", written into the caller's
//  buffer; nothing is printed here.

#ifndef SPW_CONFIG_H_INCLUDED
#define SPW_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPW_NAME_MAX     64
#define SPW_ENDPOINT_MAX 256
#define SPW_PATH_MAX     1024
#define SPW_ERROR_MAX    512
//  Endpoints a list-valued endpoint key holds at most (an edge's hubs).
#define SPW_ENDPOINT_LIST 4

typedef enum {
    SPW_KEY_STRING,    // char[size], any text up to size - 1 bytes
    SPW_KEY_NAME,      // char[size], 1..64 bytes of [A-Za-z0-9._-]
    SPW_KEY_ENDPOINT,  // char[size], tcp://HOST:PORT, ipc://PATH, inproc://NAME
    SPW_KEY_INT,       // int64_t within [min, max]
    SPW_KEY_ENUM,      // int, index into choices
} spw_key_type_t;

typedef struct {
    const char *name;           // YAML key; the flag is --name with '_' as '-'
    spw_key_type_t type;
    size_t offset;              // offsetof() the field in the settings struct
    size_t size;                // buffer size of string fields
    int64_t min, max;           // SPW_KEY_INT range, inclusive
    const char *const *choices; // SPW_KEY_ENUM: NULL-terminated
    bool required;              // must be set by the file or a flag
    bool optional;              // string/endpoint may be empty (feature off)
    bool list;                  // endpoint: a comma-separated list, at most SPW_ENDPOINT_LIST
    const char *default_value;  // as text, parsed like a file value; NULL: none
    const char *help;           // one line for --help and the docs
} spw_key_t;

typedef enum { SPW_LOG_DEBUG, SPW_LOG_INFO, SPW_LOG_WARNING, SPW_LOG_ERROR } spw_log_level_t;
typedef enum { SPW_LOG_TEXT, SPW_LOG_JSON } spw_log_format_t;

//  Settings of spillway-edge.
typedef struct {
    char name[SPW_NAME_MAX + 1];
    char frontend[SPW_ENDPOINT_MAX];
    char backend[SPW_ENDPOINT_MAX];
    char cloud[SPW_ENDPOINT_MAX];
    char hub[SPW_ENDPOINT_MAX * SPW_ENDPOINT_LIST];  // one or a comma-separated list
    char advertise[SPW_ENDPOINT_MAX];
    char zone[SPW_NAME_MAX + 1];
    char default_service[SPW_NAME_MAX + 1];
    int64_t heartbeat_ms;
    int64_t liveness;
    int64_t max_attempts;
    int64_t task_timeout_ms;
    int64_t max_timeout_ms;
    int64_t seed_worker_timeout_ms;
    int64_t queue_max;
    int64_t max_tasks;
    int64_t max_client_tasks;
    int64_t max_workers;
    int64_t max_connections;  // per bound socket
    int64_t max_key_slots;
    int64_t max_services;
    int64_t max_message_bytes;
    int64_t prefetch;
    int64_t credit_lease_ms;
    int64_t link_idle_ms;
    int64_t lender_stall_ms;  // 0: never
    int64_t drain_timeout_ms;
    char curve_dir[SPW_PATH_MAX];  // empty: plaintext
    char http[SPW_ENDPOINT_MAX];   // HOST:PORT of /metrics, /healthz, /readyz; empty: off
    char http_token_file[SPW_PATH_MAX];  // the bearer token the endpoint wants; empty: none
    int log_level;   // spw_log_level_t
    int log_format;  // spw_log_format_t
} spw_edge_config_t;

extern const spw_key_t spw_edge_keys[];  // terminated by a key with name NULL

//  Settings of spillway-hub.
typedef struct {
    char name[SPW_NAME_MAX + 1];
    char control[SPW_ENDPOINT_MAX];
    char state[SPW_ENDPOINT_MAX];
    char state_advertise[SPW_ENDPOINT_MAX];
    int64_t heartbeat_ms;
    int64_t liveness;
    int policy;  // index into the policy key's choices ("most-spare", ...)
    int64_t max_edges;
    int64_t max_connections;  // per bound socket
    int64_t max_services;
    char curve_dir[SPW_PATH_MAX];  // empty: plaintext
    char http[SPW_ENDPOINT_MAX];   // HOST:PORT of /metrics, /healthz, /readyz; empty: off
    char http_token_file[SPW_PATH_MAX];  // the bearer token the endpoint wants; empty: none
    int log_level;   // spw_log_level_t
    int log_format;  // spw_log_format_t
} spw_hub_config_t;

extern const spw_key_t spw_hub_keys[];  // terminated by a key with name NULL

//  Sets every key that has a default to it. Returns 0, or -1 (a bad table).
int spw_config_defaults(const spw_key_t *keys, void *settings, char *err, size_t errlen);

//  Reads a YAML mapping from path into settings through keys. Keys absent
//  from the file keep their current value. Returns 0, or -1 with a one-line
//  "FILE:LINE:COL: message" in err.
int spw_config_load(const char *path, const spw_key_t *keys, void *settings,
                    char *err, size_t errlen);

//  Sets one key from text (a flag's value). origin prefixes the error, e.g.
//  "--heartbeat-ms". Returns 0, or -1 with the message in err.
int spw_config_set(const spw_key_t *keys, void *settings, const char *key,
                   const char *value, const char *origin, char *err, size_t errlen);

//  Checks that every required key has been set (by load or set). Returns 0,
//  or -1 with "WHERE: missing required key 'K'" in err.
int spw_config_check(const spw_key_t *keys, const void *settings, const char *where,
                     char *err, size_t errlen);

//  Finds a key by its YAML name or its flag spelling ("heartbeat-ms").
const spw_key_t *spw_config_key(const spw_key_t *keys, const char *name);

//  True if text is an endpoint that ZeroMQ can bind or connect.
bool spw_endpoint_valid(const char *text);

#ifdef __cplusplus
}
#endif

#endif
