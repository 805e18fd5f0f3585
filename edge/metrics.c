//  metrics.c: the edge's read-only http endpoint (see metrics.h).
//
//  Labels are bounded: by outcome, socket or service (at most
//  max_services), never by client, worker or peer.

#include "metrics.h"

#include "spw_http.h"

#include <stdlib.h>
#include <string.h>

//  Seconds: the buckets of the task-time and queue-wait histograms.
static const double time_bounds[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30 };

typedef struct spw_edge_metrics_t {
    spw_histogram_t task_seconds, queue_seconds;
    unsigned long long request_bytes, reply_bytes;
} spw_edge_metrics_t;

//  The edge's histograms and byte counts, made at first use; NULL if out
//  of memory (then they are left out of /metrics).
static spw_edge_metrics_t *metrics_of(spw_edge_t *self)
{
    if (!self->metrics && (self->metrics = calloc(1, sizeof *self->metrics))) {
        size_t buckets = sizeof time_bounds / sizeof time_bounds[0];
        self->metrics->task_seconds = (spw_histogram_t) { .bounds = time_bounds,
                                                          .bucket_count = buckets };
        self->metrics->queue_seconds = self->metrics->task_seconds;
    }
    return self->metrics;
}

static size_t frames_bytes(const zmq_msg_t *frames, size_t count)
{
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++)
        bytes += zmq_msg_size((zmq_msg_t *) &frames[i]);
    return bytes;
}

void spw_edge_count_finish(spw_edge_t *self, const spw_task_t *task, const spw_msg_t *body,
                           size_t first, size_t count)
{
    spw_edge_metrics_t *m = self->http ? metrics_of(self) : NULL;
    if (!m)
        return;
    m->request_bytes += frames_bytes(task->body, task->body_count);
    if (body)
        m->reply_bytes += frames_bytes(&body->frame[first], count);
    if (task->client_kind == SPW_CLIENT_PEER)
        return;
    spw_histogram_add(&m->task_seconds, (double) (self->now - task->accepted) / 1000.0);
    if (task->started)
        spw_histogram_add(&m->queue_seconds, (double) (task->started - task->accepted) / 1000.0);
}

void spw_edge_metrics_free(spw_edge_t *self)
{
    free(self->metrics);
    self->metrics = NULL;
}

//  One gauge per service: the header once, then a sample for each.
typedef struct {
    spw_edge_t *edge;
    spw_text_t *text;
    const char *name;
    int figure;
} service_pass_t;

enum { QUEUED, SLOTS, IDLE, WORKERS, RUNNING, LENT, DELEGATED, CREDIT_OFFERED, CREDIT_HELD };

static void service_sample(spw_service_t *service, void *arg)
{
    service_pass_t *pass = arg;
    spw_credit_t *credit = pass->edge->credit;
    size_t value = 0;
    switch (pass->figure) {
    case QUEUED: value = service->queue.size - service->lent_queued; break;
    case SLOTS: value = service->slots; break;
    case IDLE: value = service->idle; break;
    case WORKERS: value = service->workers; break;
    case RUNNING: value = service->running; break;
    case LENT: value = service->lent_running; break;
    case DELEGATED: value = service->delegated; break;
    case CREDIT_OFFERED: value = credit ? spw_credit_lent(credit, service) : 0; break;
    case CREDIT_HELD:
        value = credit ? spw_credit_held(credit, service, pass->edge->now) : 0;
        break;
    }
    spw_text_printf(pass->text, "%s{service=\"%s\"} %zu\n", pass->name, service->name, value);
}

static void per_service(spw_edge_t *self, spw_text_t *text, const char *name, int figure,
                        const char *help)
{
    spw_metric_head(text, name, "gauge", help);
    service_pass_t pass = { self, text, name, figure };
    spw_pool_each_service(self->pool, service_sample, &pass);
}

void spw_edge_publish_http(spw_edge_t *self, int64_t now)
{
    if (!self->http)
        return;
    bool linked = !*self->config.hub || self->hub_state == SPW_HUB_JOINED;
    bool workers = spw_pool_size(self->pool) > 0;
    const char *readiness = linked && workers ? "ready: workers and the hub link are up\n"
                          : !workers          ? "not ready: no worker has connected\n"
                                              : "not ready: not registered with a hub\n";
    spw_http_publish(self->http, "/readyz", linked && workers ? 200 : 503,
                     "text/plain; charset=utf-8", readiness, strlen(readiness));
    spw_text_t text = { 0 };
    spw_metric_counter(&text, "spillway_edge_tasks_accepted_total", "Tasks accepted from clients.",
            self->stats.accepted);
    const spw_metric_sample_t outcomes[] = {
        { "done", self->stats.done },
        { "task_error", self->stats.task_errors },
        { "timeout", self->stats.timeouts },
        { "failed", self->stats.failed },
        { "overloaded", self->stats.overloaded },
        { "no_service", self->stats.no_service },
        { "bad_request", self->stats.bad_requests },
        { "too_large", self->stats.too_large },
        { "forbidden", self->stats.forbidden },
    };
    spw_metric_labelled(&text, "spillway_edge_tasks_total", "counter",
                        "Tasks finished, by outcome (the status its client got).", "outcome",
                        outcomes, sizeof outcomes / sizeof outcomes[0]);
    spw_metric_counter(&text, "spillway_edge_tasks_borrowed_total",
            "Tasks of this edge's clients sent to lenders (other edges' workers).",
            self->stats.delegated_out);
    spw_metric_counter(&text, "spillway_edge_tasks_lent_total",
            "Tasks of other edges run by this edge's workers.", self->stats.delegated_in);
    spw_metric_counter(&text, "spillway_edge_tasks_requeued_total",
            "Tasks put back in their queue (a worker lost, a lender busy or gone).",
            self->stats.requeued);
    spw_metric_counter(&text, "spillway_edge_workers_lost_total",
            "Workers declared dead (silent for liveness x heartbeat) or gone mid-task.",
            self->stats.workers_lost);
    spw_metric_counter(&text, "spillway_edge_lenders_cut_total",
            "Lenders cut off by the circuit breaker.", self->stats.lenders_cut);
    spw_metric_counter(&text, "spillway_edge_late_replies_total",
            "Replies that came after their task had ended.", self->stats.late_replies);
    const spw_drops_t *sockets[] = { &self->frontend_drops, &self->backend_drops,
                                     &self->cloud_drops, &self->hub_drops };
    const spw_metric_sample_t dropped[] = {
        { "frontend", sockets[0]->count },
        { "backend", sockets[1]->count },
        { "cloud", sockets[2]->count },
        { "hub", sockets[3]->count },
    };
    spw_metric_labelled(&text, "spillway_edge_messages_dropped_total", "counter",
                        "Messages dropped as malformed or not allowed, by socket.", "socket",
                        dropped, 4);
    spw_metric_sample_t reasons[SPW_DROP_REASONS];
    for (int r = 0; r < SPW_DROP_REASONS; r++) {
        reasons[r] = (spw_metric_sample_t) { spw_drop_reason_name(r), 0 };
        for (size_t s = 0; s < sizeof sockets / sizeof sockets[0]; s++)
            reasons[r].value += sockets[s]->by_reason[r];
    }
    spw_metric_labelled(&text, "spillway_edge_drops_total", "counter",
                        "Messages dropped, on every socket, by reason: malformed, version (a "
                        "peer of another protocol version), unexpected (a command not allowed "
                        "there), forbidden (CURVE roles), full (a table had no room).",
                        "reason", reasons, SPW_DROP_REASONS);
    const spw_metric_sample_t silent[] = {
        { "worker", self->silent.workers },
        { "lender", self->silent.lenders },
        { "hub", self->silent.hubs },
    };
    spw_metric_labelled(&text, "spillway_edge_heartbeats_missed_total", "counter",
                        "Peers declared gone after liveness x heartbeat of silence, by kind: "
                        "native workers, lenders holding its tasks, its hub.", "peer", silent, 3);
    spw_metric_head(&text, "spillway_edge_tasks", "gauge", "Tasks held now (waiting and running).");
    spw_text_printf(&text, "spillway_edge_tasks %zu\n", spw_tasks_size(self->tasks));
    spw_metric_head(&text, "spillway_edge_workers_connected", "gauge", "Workers connected.");
    spw_text_printf(&text, "spillway_edge_workers_connected %zu\n", spw_pool_size(self->pool));
    spw_metric_head(&text, "spillway_edge_hub_joined", "gauge",
                    "1 while registered with a hub, else 0.");
    spw_text_printf(&text, "spillway_edge_hub_joined %d\n",
                    self->hub_state == SPW_HUB_JOINED ? 1 : 0);
    spw_metric_head(&text, "spillway_edge_draining", "gauge", "1 while draining, else 0.");
    spw_text_printf(&text, "spillway_edge_draining %d\n", self->draining ? 1 : 0);
    per_service(self, &text, "spillway_edge_queue_depth", QUEUED,
                "Tasks of this edge's clients waiting, per service.");
    per_service(self, &text, "spillway_edge_slots", SLOTS, "Worker slots, per service.");
    per_service(self, &text, "spillway_edge_slots_idle", IDLE, "Idle worker slots, per service.");
    per_service(self, &text, "spillway_edge_workers", WORKERS, "Workers offering each service.");
    per_service(self, &text, "spillway_edge_tasks_running", RUNNING,
                "Tasks running on this edge's workers, per service.");
    per_service(self, &text, "spillway_edge_slots_lent", LENT,
                "Other edges' tasks this edge's workers run now, per service.");
    per_service(self, &text, "spillway_edge_tasks_delegated", DELEGATED,
                "This edge's tasks in flight at lenders, per service.");
    per_service(self, &text, "spillway_edge_credit_offered", CREDIT_OFFERED,
                "Credit (slots) this edge offers its borrowers, per service.");
    per_service(self, &text, "spillway_edge_credit_held", CREDIT_HELD,
                "Credit (slots) this edge holds from its lenders, per service.");
    if (metrics_of(self)) {
        spw_metric_histogram(&text, "spillway_edge_task_seconds",
                             "Time from accepting a task of this edge's clients to its reply.",
                             &self->metrics->task_seconds);
        spw_metric_histogram(&text, "spillway_edge_queue_wait_seconds",
                             "Time a task of this edge's clients waited before a worker or a "
                             "lender took it.",
                             &self->metrics->queue_seconds);
        spw_metric_counter(&text, "spillway_edge_request_bytes_total",
                           "Bytes of the bodies of the tasks that ended here.",
                           self->metrics->request_bytes);
        spw_metric_counter(&text, "spillway_edge_reply_bytes_total",
                           "Bytes of the bodies of the replies sent.", self->metrics->reply_bytes);
    }
    spw_metric_head(&text, "spillway_edge_uptime_seconds", "gauge", "Seconds since it started.");
    spw_text_printf(&text, "spillway_edge_uptime_seconds %.3f\n",
                    (double) (now - self->started) / 1000.0);
    if (!text.failed)
        spw_http_publish(self->http, "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8",
                         text.data, text.len);
    spw_text_free(&text);
}
