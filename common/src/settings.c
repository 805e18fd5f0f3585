//  settings.c: the keys of every program's configuration and their defaults.
//
//  This table is the single place where a default lives. The loader
//  (config.c) reads files and flags through it; config/edge.yaml documents
//  each key, and docs/operations.md repeats the table for operators. Units
//  are in the names: a key ending in _ms is milliseconds, _bytes is bytes.

#include "spw_config.h"

#include <stddef.h>

static const char *const log_levels[] = { "debug", "info", "warning", "error", NULL };
static const char *const log_formats[] = { "text", "json", NULL };

#define STR(field, kind, ...) \
    .type = kind, .offset = offsetof(spw_edge_config_t, field), \
    .size = sizeof(((spw_edge_config_t *) 0)->field), __VA_ARGS__
#define INT(field, lo, hi, ...) \
    .type = SPW_KEY_INT, .offset = offsetof(spw_edge_config_t, field), \
    .min = lo, .max = hi, __VA_ARGS__

const spw_key_t spw_edge_keys[] = {
    { .name = "name", STR(name, SPW_KEY_NAME, .required = true),
      .help = "this edge's name, unique among the edges of one hub" },
    { .name = "frontend", STR(frontend, SPW_KEY_ENDPOINT, .default_value = "tcp://*:5555"),
      .help = "where clients connect (ROUTER, bound)" },
    { .name = "backend", STR(backend, SPW_KEY_ENDPOINT, .default_value = "tcp://*:5556"),
      .help = "where workers connect (ROUTER, bound)" },
    { .name = "cloud", STR(cloud, SPW_KEY_ENDPOINT, .default_value = "tcp://*:5557"),
      .help = "where other edges send delegated tasks (ROUTER, bound)" },
    { .name = "hub", STR(hub, SPW_KEY_ENDPOINT, .optional = true, .list = true,
                         .default_value = ""),
      .help = "the hub's control endpoint, or up to 4 of them (EP1,EP2: the first that "
              "answers is used); empty runs this edge standalone" },
    { .name = "advertise", STR(advertise, SPW_KEY_ENDPOINT, .optional = true, .default_value = ""),
      .help = "the cloud endpoint other edges should connect to; empty derives it from cloud" },
    { .name = "zone", STR(zone, SPW_KEY_NAME, .optional = true, .default_value = ""),
      .help = "a zone label (A-Z a-z 0-9 . _ -); the hub prefers edges of the same zone" },
    { .name = "default_service", STR(default_service, SPW_KEY_NAME, .default_value = "default"),
      .help = "the service of seed (REQ) clients and workers" },
    { .name = "heartbeat_ms", INT(heartbeat_ms, 10, 60000, .default_value = "1000"),
      .help = "interval of heartbeats with workers and the hub" },
    { .name = "liveness", INT(liveness, 1, 100, .default_value = "3"),
      .help = "heartbeats a peer may miss before it is dead" },
    { .name = "max_attempts", INT(max_attempts, 1, 100, .default_value = "3"),
      .help = "times a task is handed out before the client gets 'failed'" },
    { .name = "task_timeout_ms", INT(task_timeout_ms, 1, 86400000, .default_value = "30000"),
      .help = "deadline of a task whose request names none (seed clients)" },
    { .name = "max_timeout_ms", INT(max_timeout_ms, 1, 86400000, .default_value = "300000"),
      .help = "the longest deadline a client may ask for; longer ones are cut to it" },
    { .name = "seed_worker_timeout_ms",
      INT(seed_worker_timeout_ms, 10, 86400000, .default_value = "30000"),
      .help = "time a seed (REQ) worker may take on one task before it is re-queued" },
    { .name = "queue_max", INT(queue_max, 1, 1000000, .default_value = "1000"),
      .help = "waiting tasks per service; more get 'overloaded'" },
    { .name = "max_tasks", INT(max_tasks, 1, 1000000, .default_value = "10000"),
      .help = "tasks this edge holds at once (waiting and running)" },
    { .name = "max_client_tasks", INT(max_client_tasks, 1, 1000000, .default_value = "1000"),
      .help = "tasks one client connection may hold at once; more get 'overloaded'" },
    { .name = "max_workers", INT(max_workers, 1, 100000, .default_value = "1024"),
      .help = "workers this edge accepts" },
    { .name = "max_connections", INT(max_connections, 1, 1000000, .default_value = "10000"),
      .help = "connections each bound socket accepts (cut to fit the open-file limit)" },
    { .name = "max_key_slots", INT(max_key_slots, 1, 1000000, .default_value = "4096"),
      .help = "with CURVE, the slots the workers of one key may offer here in all" },
    { .name = "max_services", INT(max_services, 1, 512, .default_value = "64"),
      .help = "distinct services this edge tracks" },
    { .name = "max_message_bytes",
      INT(max_message_bytes, 64, 268435456, .default_value = "1048576"),
      .help = "largest message accepted on any socket" },
    { .name = "prefetch", INT(prefetch, 0, 16, .default_value = "1"),
      .help = "tasks a borrower may have waiting at this edge per worker lent to it" },
    { .name = "credit_lease_ms", INT(credit_lease_ms, 10, 600000, .default_value = "3000"),
      .help = "how long a credit offered to another edge holds unless renewed" },
    { .name = "link_idle_ms", INT(link_idle_ms, 100, 86400000, .default_value = "10000"),
      .help = "a link to another edge with nothing in flight and no credit is closed after this" },
    { .name = "lender_stall_ms", INT(lender_stall_ms, 0, 86400000, .default_value = "10000"),
      .help = "a lender holding our tasks that answers none for this long is cut off; 0: never" },
    { .name = "drain_timeout_ms", INT(drain_timeout_ms, 0, 86400000, .default_value = "30000"),
      .help = "how long a draining edge (SIGTERM, spillway drain) waits for its tasks before it stops" },
    { .name = "curve_dir", STR(curve_dir, SPW_KEY_STRING, .optional = true, .default_value = ""),
      .help = "the cluster's keys (spillway keygen): CURVE on every link; empty: plaintext" },
    { .name = "http", STR(http, SPW_KEY_STRING, .optional = true, .default_value = ""),
      .help = "serve /metrics, /healthz and /readyz (read-only) at HOST:PORT, e.g. "
              "127.0.0.1:9555; empty: off" },
    { .name = "http_token_file",
      STR(http_token_file, SPW_KEY_STRING, .optional = true, .default_value = ""),
      .help = "a file whose first line is the bearer token http wants (but for /healthz); "
              "required with curve_dir" },
    { .name = "log_level", .type = SPW_KEY_ENUM, .offset = offsetof(spw_edge_config_t, log_level),
      .choices = log_levels, .default_value = "info",
      .help = "debug, info, warning or error" },
    { .name = "log_format", .type = SPW_KEY_ENUM, .offset = offsetof(spw_edge_config_t, log_format),
      .choices = log_formats, .default_value = "text",
      .help = "text (key=value) or json (one object a line)" },
    { .name = NULL },
};

static const char *const hub_policies[] = { "most-spare", "random", "shortest-wait", NULL };

#define HUB_STR(field, kind, ...) \
    .type = kind, .offset = offsetof(spw_hub_config_t, field), \
    .size = sizeof(((spw_hub_config_t *) 0)->field), __VA_ARGS__
#define HUB_INT(field, lo, hi, ...) \
    .type = SPW_KEY_INT, .offset = offsetof(spw_hub_config_t, field), \
    .min = lo, .max = hi, __VA_ARGS__

const spw_key_t spw_hub_keys[] = {
    { .name = "name", HUB_STR(name, SPW_KEY_NAME, .default_value = "hub"),
      .help = "this hub's name, in its logs and its status" },
    { .name = "control", HUB_STR(control, SPW_KEY_ENDPOINT, .default_value = "tcp://*:5560"),
      .help = "where edges and status clients connect (ROUTER, bound)" },
    { .name = "state", HUB_STR(state, SPW_KEY_ENDPOINT, .default_value = "tcp://*:5561"),
      .help = "where tools may publish edge state (SUB, bound); edges send theirs on control" },
    { .name = "state_advertise",
      HUB_STR(state_advertise, SPW_KEY_ENDPOINT, .optional = true, .default_value = ""),
      .help = "the state endpoint named in WELCOME; empty names the state endpoint itself" },
    { .name = "heartbeat_ms", HUB_INT(heartbeat_ms, 10, 60000, .default_value = "1000"),
      .help = "interval of heartbeats with the edges" },
    { .name = "liveness", HUB_INT(liveness, 1, 100, .default_value = "3"),
      .help = "heartbeats an edge may miss before it is dead" },
    { .name = "policy", .type = SPW_KEY_ENUM, .offset = offsetof(spw_hub_config_t, policy),
      .choices = hub_policies, .default_value = "most-spare",
      .help = "order of lenders in a match: most-spare, random or shortest-wait" },
    { .name = "max_edges", HUB_INT(max_edges, 1, 100000, .default_value = "256"),
      .help = "edges this hub tracks; more are refused" },
    { .name = "max_connections", HUB_INT(max_connections, 1, 1000000, .default_value = "10000"),
      .help = "connections each bound socket accepts (cut to fit the open-file limit)" },
    { .name = "max_services", HUB_INT(max_services, 1, 1024, .default_value = "64"),
      .help = "services tracked per edge" },
    { .name = "curve_dir", HUB_STR(curve_dir, SPW_KEY_STRING, .optional = true, .default_value = ""),
      .help = "the cluster's keys (spillway keygen): CURVE on every link; empty: plaintext" },
    { .name = "http", HUB_STR(http, SPW_KEY_STRING, .optional = true, .default_value = ""),
      .help = "serve /metrics, /healthz and /readyz (read-only) at HOST:PORT, e.g. "
              "127.0.0.1:9560; empty: off" },
    { .name = "http_token_file",
      HUB_STR(http_token_file, SPW_KEY_STRING, .optional = true, .default_value = ""),
      .help = "a file whose first line is the bearer token http wants (but for /healthz); "
              "required with curve_dir" },
    { .name = "log_level", .type = SPW_KEY_ENUM, .offset = offsetof(spw_hub_config_t, log_level),
      .choices = log_levels, .default_value = "info",
      .help = "debug, info, warning or error" },
    { .name = "log_format", .type = SPW_KEY_ENUM, .offset = offsetof(spw_hub_config_t, log_format),
      .choices = log_formats, .default_value = "text",
      .help = "text (key=value) or json (one object a line)" },
    { .name = NULL },
};
