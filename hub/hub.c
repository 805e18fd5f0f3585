//  hub.c: the hub's loop, which moves messages between its two sockets and
//  its pure modules (capacity table, matchmaking, status rendering).
//
//  One thread, one zmq_poll over a control ROUTER (edges' DEALERs register,
//  heartbeat and say goodbye; native clients ask for the status) and a
//  state SUB (edges' PUBs connect and publish their capacity), with the
//  heartbeat tick as the poll's timeout. Each tick the hub declares the
//  silent edges dead and sends every live edge a heartbeat, so that edges
//  notice a dead hub by its silence.
//
//  The hub is a matchmaker, not a dispatcher: after state that changes what
//  matching sees (mark_changes; and at every tick for every service) it
//  decides afresh, per service, which lenders lend to which
//  borrowers (match.c), and tells an edge MATCH only when what concerns it
//  changed materially since it was last told: a partner came or went, a
//  share moved by more than a quarter, or no live edge offers a service it
//  waits on. It sends nothing per task; the edges lend by credit directly.
//  It counts every message it sends and receives (status requests aside)
//  against the tasks the edges delegate, for the status. Status requests
//  are answered at most SPW_HUB_STATUS_PER_S a second (status.c bounds
//  each answer's size), so that operators cannot take the loop from edges.
//
//  Beside the capacity table the loop keeps a side table of peers
//  (peers.c), one per edge name: its routing identity, its rate samples,
//  what it was told and its recent partners, who alone hear of its death.
//  Per service a track holds the peers told of it, so that a matching
//  visits the edges it concerns. Every lookup is hashed: the work of a
//  message does not grow with the number of edges (docs/scaling.md).
//  capacity.c stays free of sockets and of presentation.
//
//  Invariants kept here:
//  - Nothing from the network is trusted: every message is decoded by the
//    codec; one that fails is dropped, counted and logged (at most one line
//    a second per socket).
//  - A message from an identity the hub does not hold as a live edge gets
//    DISCONNECT, which tells the edge to register again: a restarted hub
//    rebuilds its view from the edges' next heartbeats.
//  - Sends never block (ZMQ_DONTWAIT); a send to a vanished edge is counted
//    and forgotten, the edge's silence will end it.

#include "hub.h"
#include "capacity.h"
#include "match.h"
#include "peers.h"
#include "status.h"

#include "spw_array.h"
#include "spw_clock.h"
#include "spw_connections.h"
#include "spw_curve.h"
#include "spw_log.h"
#include "spw_proto.h"
#include "spw_random.h"
#include "spw_socket.h"

#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include "spw_http.h"
#include "spw_daemon.h"
#include "spw_notify.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  Messages read from one socket in one turn, so one socket cannot starve
//  the other or the timers.
#define SPW_HUB_BATCH 64
//  Dead edges handled per call of spw_capacity_expire.
#define SPW_HUB_EXPIRE_BATCH 64
//  The shortest interval over which delegated rates are measured.
#define SPW_HUB_RATE_WINDOW_MS 1000
//  The largest message the hub takes: a STATE's records frame and its fields.
#define SPW_HUB_MAX_MESSAGE_BYTES (SPW_MAX_RECORDS_LEN + 4096)
//  Matches that always fit in one MATCH message (a record is a name and an
//  endpoint, each with a length byte, an epoch, a role and a share); an
//  edge is told at most this many partners per service.
#define SPW_HUB_MAX_MATCHES \
    (SPW_MAX_RECORDS_LEN / (1 + SPW_MAX_NAME_LEN + 1 + SPW_MAX_ENDPOINT_LEN + 8 + 1 + 4))
//  What one service's MATCH can say: its partners and the no-offer mark.
#define SPW_HUB_TOLD_MAX (SPW_HUB_MAX_MATCHES + 1)
//  A match the matching no longer decides stands this many heartbeats
//  more: a borrower whose backlog drains for an instant (an open-loop
//  load, between two bursts) keeps its lenders instead of losing them and
//  asking again a few milliseconds later. The lender's own load still
//  decides what it lends, and credit a borrower cannot use goes back; a
//  lender the matching gives to others is not held (hold_matches).
#define SPW_HUB_MATCH_HOLD_BEATS 2
//  Pairs decided for one service at most (lenders x borrowers when short).
#define SPW_HUB_MAX_PAIRS 16384
//  The services the hub answers on its control socket.
#define SPW_HUB_STATUS_SERVICE      "spillway.status"
#define SPW_HUB_STATUS_TEXT_SERVICE "spillway.status.text"
//  Connections waiting to be accepted on each bound socket (the kernel
//  caps it at net.core.somaxconn, 4096 on Debian 12).
#define SPW_HUB_BACKLOG 4096
//  A service is matched at most once in this long after new state (the
//  heartbeat's matching aside), or, if longer, SPW_HUB_MATCH_SHARE times
//  what its matchings take: the states of a large fleet that arrive
//  meanwhile are coalesced into one matching (docs/scaling.md), and a
//  small fleet's are matched within a millisecond. A service quiet for
//  longer is matched at once.
#define SPW_HUB_MATCH_INTERVAL_MS 1
#define SPW_HUB_MATCH_SHARE 20
//  A turn of the loop starts no new matching once its matchings have taken
//  this long: the rest wait for the next turn, after the input waiting
//  meanwhile (the heartbeat's matchings of many large services would
//  otherwise hold every message for hundreds of milliseconds).
#define SPW_HUB_MATCH_TURN_US 2000
//  Matchings after new state take at most 1/this of the hub's time, all
//  services together (the heartbeat's count against it but always run):
//  past it they wait, so that a fleet whose every figure asks for a
//  matching slows matching down, not the loop that reads states and
//  heartbeats. At most SPW_HUB_MATCH_BURST_US of budget is saved, or owed.
#define SPW_HUB_MATCH_BUDGET_DIVISOR 4
#define SPW_HUB_MATCH_BURST_US 100000
//  The messages of a matching's tells wait in the outbox and go out in
//  turns of at most this long, between the input: a matching that tells a
//  thousand edges does not hold the loop while libzmq takes them.
#define SPW_HUB_OUTBOX_TURN_US 500
//  Messages the outbox holds at most, and the frames of one: a matching's
//  message that does not fit goes out at once, after what waits for its
//  edge. No matching starts while it holds SPW_HUB_OUTBOX_DEEP or more, so
//  that it drains before it fills.
#define SPW_HUB_OUTBOX_MAX    16384
#define SPW_HUB_OUTBOX_DEEP   2048
#define SPW_HUB_OUTBOX_FRAMES 8
//  What a send from the outbox is taken to cost until it is measured (us).
#define SPW_HUB_SEND_US       10
//  An edge the hub sent something within a beat / this is spared a
//  heartbeat (beat_slice).
#define SPW_HUB_SPARE_DIVISOR 4
//  Status requests answered a second at most (and in a burst).
#define SPW_HUB_STATUS_PER_S 50
//  Edges per extra token an answer costs (an answer walks and sorts them all).
#define SPW_HUB_STATUS_EDGES_PER_TOKEN 2000

//  One service as the loop matches it: whether new state asks for a new
//  matching, and the peers that may hold what they were told of it (a peer
//  that no longer does, or was released, is dropped as the list is
//  walked), so that a matching visits the edges it concerns and not every
//  edge.
typedef struct {
    char lender[SPW_CAPACITY_NAME_MAX + 1], borrower[SPW_CAPACITY_NAME_MAX + 1];
    uint32_t slots_milli;
    const spw_edge_state_t *lender_edge, *borrower_edge;   // checked by epoch when read
    uint64_t lender_epoch, borrower_epoch;
    size_t lender_service, borrower_service;
} spw_last_pair_t;

typedef struct {
    char name[SPW_MAX_SERVICE_LEN + 1];
    bool dirty;
    spw_peer_t **told;
    size_t told_count, told_size;
    //  The last matching's pairs, kept where they still hold by the next
    //  one (spw_match_service_kept): an edge coming or going changes its
    //  own pairs, not everyone's.
    spw_last_pair_t *last;
    size_t last_count, last_size;
    //  How the last matching left supply and demand: short (split in
    //  proportion or scaled), some demand unmet, some supply left.
    bool short_supply, unmet, spare;
    //  The next matching is the heartbeat's: it also tidies the told list.
    bool everyone;
    int64_t matched_at;   // ms: the last matching (0: never)
    int64_t decided_at;   // ms: when the last matching decided its pairs
    int64_t interval_ms;  // the least time to the next one after new state
    double cost_us;       // what a matching after new state takes, smoothed
    bool waited;          // its next matching waited for the matching budget
    //  What the last matching left, for a borrower that appears before
    //  the next (serve_newcomer): its lenders in policy order with their
    //  spare (NULL: none kept), and its totals with what was given since.
    spw_match_spare_t *leftover;
    spw_match_totals_t totals;
} spw_track_t;

//  A message to an edge in the outbox: its frames, moved in, and the route
//  it was queued for (its peer's queued counts it while that route stands).
typedef struct {
    spw_peer_t *peer;
    uint64_t route;
    size_t count;
    zmq_msg_t frame[SPW_HUB_OUTBOX_FRAMES];
} spw_queued_t;

//  One side of a decided pair: the peer and the pair's index.
typedef struct {
    spw_peer_t *peer;
    size_t pair;
} spw_side_t;

struct spw_hub_t {
    spw_hub_config_t config;
    spw_policy_t policy;
    const char *state_endpoint;  // told to edges in WELCOME
    int64_t hold_ms;             // heartbeat_ms * liveness
    void *ctx;
    spw_curve_t *curve;  // NULL: plaintext (no curve_dir)
    void *control;
    void *state;
    spw_connections_t *listeners[2];  // control's and state's, under max_connections
    spw_capacity_t *capacity;
    spw_peers_t *peers;
    zhashx_t *tracks;               // service name -> spw_track_t
    spw_track_t **dirty;            // the tracks to match next
    size_t dirty_count, dirty_size;
    uint64_t visit;                 // the mark of the matching in progress
    spw_service_state_t *services;  // scratch for a STATE, max_services
    spw_service_state_t *previous;  // scratch: an edge's figures before its STATE
    spw_match_pair_t *pairs;        // scratch: one service's matching
    spw_match_kept_t *kept;         // scratch: the last one's pairs, SPW_HUB_MAX_PAIRS
    spw_side_t *sides;              // scratch: both sides of every pair
    spw_peer_t **still_told;        // scratch: a track's told list being rebuilt
    size_t still_size;
    spw_peer_t **concerned;         // scratch: the edges a matching concerns
    size_t concerned_count, concerned_size;
    bool *continued;                // scratch: kept pairs the matching continued
    spw_match_entry_t *entries;     // scratch: one MATCH message
    spw_told_t *fresh;              // scratch: what one edge should be told
    spw_queued_t *outbox;           // a ring of messages to edges (send_to)
    size_t outbox_head, outbox_count, outbox_size;
    bool deferring;                 // a matching tells: its messages wait in the outbox
    uint64_t queued_total;          // messages ever put in the outbox
    double send_us;                 // what sending one from the outbox takes, smoothed
    uint64_t random_state;          // a copy is used per matching: stable between changes
    int64_t started;
    int64_t next_tick;
    spw_beat_round_t slices;        // of heartbeats (beat_slice)
    size_t beat_cursor;             // the peer slot the next slice starts at
    int64_t next_match;             // when a deferred matching is due (INT64_MAX: none)
    uint64_t beat;                  // heartbeats begun (tick)
    bool everyone_due;              // some of the last beat's matchings of every service wait
    int64_t match_budget_us;        // matching time that matchings after new state may take
    int64_t budget_at_us;           // when it was last refilled
    spw_drops_t control_drops;
    spw_drops_t state_drops;
    struct {
        uint64_t registered, refused, left, died, matches, states, states_unknown,
            unknown_peers, unroutable, status_requests, status_refused, messages_in,
            messages_out, forbidden, handshakes_refused, members, matchings,
            matchings_everyone, served_at_once, released_at_once, shrunk_at_once,
            grown_at_once, heartbeats_spared, matchings_deferred, outbox_peak,
            holds_ended;
    } stats;
    double status_tokens;      // status requests that may be answered now
    int64_t status_filled_at;  // when status_tokens was last refilled
    //  Messages per delegated task, sampled over SPW_HUB_RATE_WINDOW_MS.
    uint64_t sampled_messages, sampled_delegated;
    int64_t sampled_at;
    double messages_per_s, delegated_per_s;
    spw_http_t *http;   // NULL: no http endpoint
    spw_status_pair_t *shown_pairs;   // scratch: the pairs /api/v1/pairs lists
    size_t shown_size;
    spw_histogram_t loop_turns;   // how long the loop's turns take
    spw_histogram_t matchings;    // how long a matching of one service takes, telling included
};

//  The web page (hub/web/index.html, built in by hub/web/embed.py).
extern const unsigned char spw_web_index[];
extern const size_t spw_web_index_len;

//  The upper bounds (seconds) of the loop-turn histogram's buckets.
static const double loop_bounds[] = { 0.0001, 0.001, 0.01, 0.1, 1.0 };

//  Counts a dropped message and logs it unless one was logged recently.
//  peer_frame is the frame naming the sender, or -1 when there is none.
static void drop(spw_drops_t *drops, const spw_msg_t *msg, int peer_frame, const char *why,
                 int64_t now)
{
    spw_drops_note(drops, msg, peer_frame, why, now);
}

//  Copies a decoded field into a NUL-terminated buffer of size bytes.
static void copy_field(char *dst, size_t size, const char *src, size_t len)
{
    if (len > size - 1)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

//  Copies a name into a buffer of size bytes, cut to fit (snprintf's
//  formatting costs more than the copy on the matching's hot path).
static void copy_name(char *dst, size_t size, const char *src)
{
    copy_field(dst, size, src, strnlen(src, size - 1));
}

// -- Peers ------------------------------------------------------------------

static spw_peer_t *peer_by_identity(spw_hub_t *self, const zmq_msg_t *identity)
{
    return spw_peers_by_identity(self->peers, zmq_msg_data((zmq_msg_t *) identity),
                                 zmq_msg_size((zmq_msg_t *) identity));
}

//  The live capacity record of a peer's current registration, or NULL.
static spw_edge_state_t *peer_edge(spw_hub_t *self, spw_peer_t *peer)
{
    spw_edge_state_t *edge = spw_capacity_find(self->capacity, peer->name);
    return edge && edge->alive && edge->epoch == peer->epoch ? edge : NULL;
}

//  The peer of a record's current registration, or NULL: the one the
//  record points at (set when it registered) if it is still of that
//  process, else looked up by name.
static spw_peer_t *edge_peer(spw_hub_t *self, const spw_edge_state_t *edge)
{
    spw_peer_t *peer = edge->loop;
    if (peer && peer->epoch == edge->epoch && strcmp(peer->name, edge->name) == 0)
        return peer;
    peer = spw_peers_find(self->peers, edge->name);
    return peer && peer->epoch == edge->epoch ? peer : NULL;
}

static void send_peer_queued(spw_hub_t *self, spw_peer_t *peer);

//  Sends what waits in the outbox for peer's route before that route goes
//  (released, or its connection taken by another peer): that connection
//  may register again as another peer, which must hear its WELCOME after
//  the old route's messages, not before.
static void settle_route(spw_hub_t *self, spw_peer_t *peer)
{
    if (peer && peer->queued > 0)
        send_peer_queued(self, peer);
}

//  Frees the peers whose edge the capacity table no longer holds.
static void sweep_peers(spw_hub_t *self)
{
    for (size_t i = 0; i < spw_peers_count(self->peers);) {
        spw_peer_t *peer = spw_peers_at(self->peers, i);
        if (spw_capacity_find(self->capacity, peer->name))
            i++;
        else {
            settle_route(self, peer);
            spw_peers_release(self->peers, peer);   // the last one moved to i
        }
    }
}

//  The peer of name, created if new. The capacity table holds at most
//  max_edges names and the peer table as many, so after a sweep there is
//  room for any name it holds: NULL only if out of memory.
static spw_peer_t *peer_claim(spw_hub_t *self, const char *name)
{
    spw_peer_t *peer = spw_peers_claim(self->peers, name);
    if (!peer) {
        sweep_peers(self);
        peer = spw_peers_claim(self->peers, name);
    }
    if (peer)
        peer->told_limit = (size_t) self->config.max_services * SPW_HUB_TOLD_MAX;
    return peer;
}

// -- Sending ----------------------------------------------------------------

//  Sends msg (identity frame first) on the control socket; counts failures.
//  True if it went.
static bool send_control(spw_hub_t *self, spw_msg_t *msg, const char *what)
{
    if (strcmp(what, "reply") != 0)
        self->stats.messages_out++;
    if (spw_msg_send(msg, self->control, ZMQ_DONTWAIT) != 0) {
        self->stats.unroutable++;
        spw_log(SPW_LOG_DEBUG, "send_failed", "message=%s error=\"%s\"", what,
                zmq_strerror(errno));
        return false;
    }
    return true;
}

// -- The outbox: a matching's messages, sent between the input -------------

//  Sends one message of the outbox and leaves its place empty (no frames,
//  no peer): its peer counts it out if it was queued for its route.
static void send_entry(spw_hub_t *self, spw_queued_t *q)
{
    if (q->peer && q->peer->route == q->route && q->peer->queued > 0)
        q->peer->queued--;
    q->peer = NULL;
    size_t f = 0;
    for (; f < q->count; f++)
        if (zmq_msg_send(&q->frame[f], self->control,
                         (f + 1 < q->count ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT)
            < 0)
            break;
    if (f < q->count) {
        self->stats.unroutable++;
        spw_log(SPW_LOG_DEBUG, "send_failed", "message=queued error=\"%s\"",
                zmq_strerror(errno));
    }
    for (; f < q->count; f++)
        zmq_msg_close(&q->frame[f]);
    q->count = 0;
}

//  Sends the outbox's oldest message (or passes its empty place).
static void send_queued(spw_hub_t *self)
{
    spw_queued_t *q = &self->outbox[self->outbox_head];
    self->outbox_head = (self->outbox_head + 1) % self->outbox_size;
    self->outbox_count--;
    send_entry(self, q);
}

//  Sends at once, in their order, the messages waiting for peer's route,
//  so that a message decided after them may go out now: an edge's order
//  is kept, and what others wait for does not hold it.
static void send_peer_queued(spw_hub_t *self, spw_peer_t *peer)
{
    for (size_t i = 0; i < self->outbox_count && peer->queued > 0; i++) {
        spw_queued_t *q = &self->outbox[(self->outbox_head + i) % self->outbox_size];
        if (q->peer == peer && q->route == peer->route)
            send_entry(self, q);
    }
}

//  Sends what the outbox holds, oldest first, for at most budget_us
//  (everything if negative).
static void flush_outbox(spw_hub_t *self, int64_t budget_us)
{
    int64_t began = spw_clock_us();
    size_t sent = 0;
    for (; self->outbox_count > 0; sent++) {
        //  The clock is read every few messages: one costs microseconds.
        if (budget_us >= 0 && sent % 16 == 15 && spw_clock_us() - began >= budget_us)
            break;
        send_queued(self);
    }
    if (sent >= 16)
        self->send_us = 0.9 * self->send_us + 0.1 * (double) (spw_clock_us() - began) / sent;
}

//  Moves count frames from from[] into to[] (from's left empty).
static void move_frames(zmq_msg_t *to, zmq_msg_t *from, size_t count)
{
    for (size_t f = 0; f < count; f++) {
        zmq_msg_init(&to[f]);
        zmq_msg_move(&to[f], &from[f]);
    }
}

//  Room for one more message in the outbox, its ring grown (its messages
//  moved in order) as needed; false if it is full or out of memory.
static bool outbox_room(spw_hub_t *self)
{
    if (self->outbox_count < self->outbox_size)
        return true;
    if (self->outbox_size >= SPW_HUB_OUTBOX_MAX)
        return false;
    size_t size = self->outbox_size ? 2 * self->outbox_size : 256;
    spw_queued_t *grown = malloc(size * sizeof *grown);
    if (!grown)
        return false;
    for (size_t i = 0; i < self->outbox_count; i++) {
        spw_queued_t *from = &self->outbox[(self->outbox_head + i) % self->outbox_size];
        grown[i].peer = from->peer;
        grown[i].route = from->route;
        grown[i].count = from->count;
        move_frames(grown[i].frame, from->frame, from->count);
    }
    free(self->outbox);
    self->outbox = grown;
    self->outbox_size = size;
    self->outbox_head = 0;
    return true;
}

//  Sends msg (its frame 0 peer's identity) to peer: into the outbox while a
//  matching tells (deferring); else at once, after what waits there for
//  the same route (send_peer_queued), so that an edge hears its messages
//  in the order they were decided. True if it went out or waits to.
static bool send_to(spw_hub_t *self, spw_peer_t *peer, spw_msg_t *msg, const char *what)
{
    if (self->deferring && msg->count <= SPW_HUB_OUTBOX_FRAMES && outbox_room(self)) {
        size_t at = (self->outbox_head + self->outbox_count) % self->outbox_size;
        spw_queued_t *q = &self->outbox[at];
        q->peer = peer;
        q->route = peer->route;
        q->count = msg->count;
        move_frames(q->frame, msg->frame, msg->count);
        msg->count = 0;
        self->outbox_count++;
        self->queued_total++;
        peer->queued++;
        if (self->outbox_count > self->stats.outbox_peak)
            self->stats.outbox_peak = self->outbox_count;
        self->stats.messages_out++;
        return true;
    }
    if (peer->queued > 0)
        send_peer_queued(self, peer);
    return send_control(self, msg, what);
}

//  A subtraction of what was added, clamped at 0: figures read at
//  different times need not add up (the heartbeat's matching resets them).
static uint64_t less(uint64_t total, uint64_t part)
{
    return total > part ? total - part : 0;
}

//  Sends msg (its frame 0 identity) behind what waits in the outbox for
//  the peer routed through identity, if any.
static void send_to_identity(spw_hub_t *self, zmq_msg_t *identity, spw_msg_t *msg,
                             const char *what)
{
    spw_peer_t *peer = spw_peers_by_identity(self->peers, zmq_msg_data(identity),
                                             zmq_msg_size(identity));
    if (peer)
        send_to(self, peer, msg, what);
    else
        send_control(self, msg, what);
}

static void send_disconnect(spw_hub_t *self, zmq_msg_t *identity)
{
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, identity);
    spw_proto_put_dismiss(&out, "unknown edge: register again", 0);
    send_to_identity(self, identity, &out, "disconnect");
}

//  Sends a native REPLY with one body frame of text.
static void send_reply(spw_hub_t *self, zmq_msg_t *identity, uint64_t request_id,
                       spw_status_t status, const char *body, size_t len)
{
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, identity);
    spw_proto_put_reply(&out, request_id, status);
    spw_msg_add_mem(&out, body, len);
    send_control(self, &out, "reply");
}

// -- Which services to match -------------------------------------------------

static void track_destroy(void **item)
{
    spw_track_t *track = *item;
    if (track) {
        free(track->told);
        free(track->last);
        spw_match_spare_destroy(&track->leftover);
        free(track);
        *item = NULL;
    }
}

//  The track of a service, made if new; NULL if out of memory.
static spw_track_t *track_of(spw_hub_t *self, const char *service)
{
    spw_track_t *track = zhashx_lookup(self->tracks, service);
    if (track || strlen(service) > SPW_MAX_SERVICE_LEN)
        return track;
    track = calloc(1, sizeof *track);
    if (!track)
        return NULL;
    snprintf(track->name, sizeof track->name, "%s", service);
    if (zhashx_insert(self->tracks, track->name, track) != 0) {
        free(track);
        return NULL;
    }
    return track;
}

//  Asks for a new matching of service. Out of memory it is left to the
//  next heartbeat's matching of every service.
static void mark_track(spw_hub_t *self, spw_track_t *track)
{
    if (!track || track->dirty)
        return;
    if (spw_grow(&self->dirty, &self->dirty_size, self->dirty_count + 1, sizeof *self->dirty, 64,
                 0)
        != 0)
        return;
    track->dirty = true;
    self->dirty[self->dirty_count++] = track;
    self->next_match = 0;   // rematch looks at once, and defers what is not due
}

static void mark_dirty(spw_hub_t *self, const char *service)
{
    mark_track(self, track_of(self, service));
}

//  Asks for a new matching of every service an edge's last state lists.
static void mark_edge(spw_hub_t *self, const spw_edge_state_t *edge)
{
    for (size_t s = 0; edge && s < edge->service_count; s++)
        mark_dirty(self, edge->services[s].name);
}

//  True if a state's service figures change what matching sees: a role,
//  whether it offers or waits, or supply or demand moved materially.
static bool figures_matter(const spw_service_state_t *old, const spw_service_state_t *now)
{
    if (!old)
        return now->role != SPW_ROLE_NONE || now->queued > 0 || now->workers > 0;
    return old->role != now->role || (old->workers > 0) != (now->workers > 0)
        || (old->queued > 0) != (now->queued > 0)
        || spw_match_changed(spw_match_supply(old) * SPW_MATCH_MILLI,
                             spw_match_supply(now) * SPW_MATCH_MILLI)
        || spw_match_changed(spw_match_demand(old) * SPW_MATCH_MILLI,
                             spw_match_demand(now) * SPW_MATCH_MILLI);
}

//  What peer was told it lends or borrows of service, in thousandths.
static uint64_t told_total(const spw_peer_t *peer, const char *service)
{
    uint64_t total = 0;
    for (size_t t = 0; peer && t < peer->told_count; t++)
        if (peer->told[t].role && strcmp(peer->told[t].service, service) == 0)
            total += peer->told[t].slots_milli;
    return total;
}

//  The least power of two at or above n (0 for 0).
static uint64_t power_above(uint64_t n)
{
    uint64_t power = 1;
    while (power < n)
        power <<= 1;
    return n ? power : 0;
}

//  True if a material change of supply or demand, the role and the rest
//  unchanged, can change the service's matching, as the last one left it:
//  a lender's fall matters only below what it was told to lend, a rise only
//  if some demand went unmet; a borrower's rise matters unless nothing was
//  left to give (then a lender's rise will), a fall only if some demand went
//  unmet (what it was given and no longer needs waits unused). A rise
//  matters once it passes a power of two, as the edges themselves send a
//  rise at once only then (docs/protocol.md): a figure that wanders within
//  its power of two costs no matching until the heartbeat's. Under short
//  supply every share moves with every figure. The next heartbeat's
//  matching of every service catches what this passes over.
static bool change_matters(const spw_track_t *track, const spw_peer_t *peer,
                           const spw_service_state_t *old, const spw_service_state_t *now)
{
    if (!track || track->short_supply || old->role != now->role
        || (old->workers > 0) != (now->workers > 0) || (old->queued > 0) != (now->queued > 0))
        return true;
    if (now->role == SPW_ROLE_LENDER) {
        uint64_t before = spw_match_supply(old), after = spw_match_supply(now);
        return after < before ? told_total(peer, now->name) > after * SPW_MATCH_MILLI
                              : track->unmet && power_above(after) > power_above(before);
    }
    if (now->role == SPW_ROLE_BORROWER) {
        uint32_t before = spw_match_demand(old), after = spw_match_demand(now);
        return after > before ? track->spare && power_above(after) > power_above(before)
                              : track->unmet;
    }
    return false;   // neither: its figures take no part
}

//  The service of name among count records, looked for at index hint first
//  (an edge lists its services in the same order every time).
static const spw_service_state_t *find_service(const spw_service_state_t *records, size_t count,
                                               const char *name, size_t hint)
{
    if (hint < count && strcmp(records[hint].name, name) == 0)
        return &records[hint];
    for (size_t i = 0; i < count; i++)
        if (strcmp(records[i].name, name) == 0)
            return &records[i];
    return NULL;
}

static bool serve_newcomer(spw_hub_t *self, const spw_edge_state_t *edge, size_t s,
                           int64_t now);
static bool release_borrower(spw_hub_t *self, const spw_edge_state_t *edge,
                             const spw_service_state_t *was, int64_t now);
static bool shrink_lender(spw_hub_t *self, const spw_edge_state_t *edge, size_t s,
                          const spw_service_state_t *was, int64_t now);
static bool grow_borrower(spw_hub_t *self, const spw_edge_state_t *edge, size_t s,
                          const spw_service_state_t *was, int64_t now);

//  Marks the services whose matching an edge's new state (edge, now) changes
//  against its previous figures (old[0, old_count)); a borrower that has
//  just appeared is served at once where it can be (serve_newcomer).
static void mark_changes(spw_hub_t *self, const spw_edge_state_t *edge,
                         const spw_service_state_t *old, size_t old_count, int64_t at)
{
    spw_peer_t *peer = edge_peer(self, edge);
    for (size_t s = 0; s < edge->service_count; s++) {
        const spw_service_state_t *now = &edge->services[s];
        const spw_service_state_t *was = find_service(old, old_count, now->name, s);
        bool newcomer = now->role == SPW_ROLE_BORROWER && (!was || was->role != now->role);
        bool leaver = was && was->role == SPW_ROLE_BORROWER && now->role != SPW_ROLE_BORROWER;
        bool falls = was && was->role == SPW_ROLE_LENDER && now->role == SPW_ROLE_LENDER
                  && spw_match_supply(now) < spw_match_supply(was);
        bool grows = was && was->role == SPW_ROLE_BORROWER && now->role == SPW_ROLE_BORROWER
                  && spw_match_demand(now) > spw_match_demand(was);
        if (figures_matter(was, now)
            && (!was || change_matters(zhashx_lookup(self->tracks, now->name), peer, was, now))
            && !(newcomer && serve_newcomer(self, edge, s, at))
            && !(leaver && release_borrower(self, edge, was, at))
            && !(falls && shrink_lender(self, edge, s, was, at))
            && !(grows && grow_borrower(self, edge, s, was, at)))
            mark_dirty(self, now->name);
    }
    for (size_t s = 0; s < old_count; s++)   // services it no longer lists
        if (!find_service(edge->services, edge->service_count, old[s].name, s)
            && figures_matter(NULL, &old[s]))
            mark_dirty(self, old[s].name);
}

//  Asks for a new matching of every service: each heartbeat, so that
//  drift below the material threshold is caught up (holds end in the
//  slices, expire_holds).
//  Tracks of services nobody offers, takes part in or was told of any more
//  are freed here, where no matching is in progress.
static void mark_all(spw_hub_t *self)
{
    for (const char *name = spw_capacity_first_service(self->capacity); name;
         name = spw_capacity_next_service(self->capacity))
        mark_dirty(self, name);
    for (size_t i = 0; i < self->dirty_count; i++)
        self->dirty[i]->everyone = true;
    zlistx_t *idle = zlistx_new();
    for (spw_track_t *track = zhashx_first(self->tracks); track;
         track = zhashx_next(self->tracks)) {
        const spw_capacity_entry_t *entries;
        if (track->told_count > 0) {
            mark_track(self, track);
            track->everyone = true;
        }
        else if (!track->dirty && idle
                 && spw_capacity_taking_part(self->capacity, track->name, &entries) == 0
                 && spw_capacity_offering(self->capacity, track->name) == 0)
            zlistx_add_end(idle, track->name);
    }
    for (const char *name = idle ? zlistx_first(idle) : NULL; name; name = zlistx_next(idle))
        zhashx_delete(self->tracks, name);
    zlistx_destroy(&idle);
}

// -- Telling edges their matches ---------------------------------------------

//  True if peer holds something it was told of service.
static bool told_holds(const spw_peer_t *peer, const char *service)
{
    for (size_t t = 0; t < peer->told_count; t++)
        if (strcmp(peer->told[t].service, service) == 0)
            return true;
    return false;
}

//  True if fresh[0, count) says something other than what peer was told
//  of service: another partner, role or mark, or a share moved materially.
static bool told_differs(const spw_peer_t *peer, const char *service, const spw_told_t *fresh,
                         size_t count)
{
    size_t told = 0;
    for (size_t t = 0; t < peer->told_count; t++) {
        const spw_told_t *old = &peer->told[t];
        if (strcmp(old->service, service) != 0)
            continue;
        told++;
        bool found = false;
        for (size_t f = 0; f < count && !found; f++)
            found = fresh[f].role == old->role && fresh[f].epoch == old->epoch
                 && strcmp(fresh[f].partner, old->partner) == 0
                 && !spw_match_changed(old->slots_milli, fresh[f].slots_milli);
        if (!found)
            return true;
    }
    return told != count;
}

//  Forgets what peer was told of service (of partner only, if not NULL).
static void told_remove(spw_peer_t *peer, const char *service, const char *partner)
{
    for (size_t t = 0; t < peer->told_count;)
        if ((!service || strcmp(peer->told[t].service, service) == 0)
            && (!partner || strcmp(peer->told[t].partner, partner) == 0))
            peer->told[t] = peer->told[--peer->told_count];
        else
            t++;
}

//  Replaces what peer was told of service by fresh[0, count).
static void told_replace(spw_peer_t *peer, const char *service, const spw_told_t *fresh,
                         size_t count)
{
    told_remove(peer, service, NULL);
    //  Room for all it can be told: every service's MATCH, remembered whole,
    //  or a match it was told could never be withdrawn.
    size_t wanted = peer->told_count + count;
    spw_grow(&peer->told, &peer->told_size, wanted < peer->told_limit ? wanted : peer->told_limit,
             sizeof *peer->told, 4, peer->told_limit);   // short of memory: fewer remembered
    size_t kept = 0;
    for (size_t f = 0; f < count && peer->told_count < peer->told_size; f++, kept++)
        peer->told[peer->told_count++] = fresh[f];
    //  What is not remembered will be told again at every matching: say so,
    //  once until it fits again.
    if (kept < count && !peer->told_full)
        spw_log(SPW_LOG_WARNING, "told_full", "edge=%s service=%s partners=%zu remembered=%zu",
                peer->name, service, count, kept);
    peer->told_full = kept < count;
}

//  Tells one edge its matches of a service: fresh[0, count) as MATCH.
static void send_match(spw_hub_t *self, spw_peer_t *peer, const char *service,
                       const spw_told_t *fresh, size_t count)
{
    uint8_t flags = 0;
    size_t entries = 0;
    for (size_t f = 0; f < count; f++) {
        if (!fresh[f].role) {
            flags |= SPW_MATCH_NO_OFFER;
            continue;
        }
        spw_edge_state_t *partner = spw_capacity_find(self->capacity, fresh[f].partner);
        if (!partner || entries == SPW_HUB_MAX_MATCHES)
            continue;
        self->entries[entries++] = (spw_match_entry_t) {
            .name = partner->name,
            .name_len = strlen(partner->name),
            .endpoint = partner->endpoint,
            .endpoint_len = strlen(partner->endpoint),
            .epoch = partner->epoch,
            .role = (spw_match_role_t) fresh[f].role,
            .slots_milli = fresh[f].slots_milli,
        };
    }
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_mem(&out, peer->identity, peer->identity_len);
    if (spw_proto_put_match(&out, service, flags, self->entries, entries) != 0) {
        spw_log(SPW_LOG_ERROR, "match_unencodable", "edge=%s service=%s matches=%zu",
                peer->name, service, entries);
        spw_msg_reset(&out);
        return;
    }
    self->stats.matches++;
    spw_log(SPW_LOG_DEBUG, "match", "edge=%s service=%s matches=%zu no_offer=%s", peer->name,
            service, entries, flags ? "yes" : "no");
    if (send_to(self, peer, &out, "match"))
        peer->spoke_at = spw_clock_ms();
}

//  True if the matching in progress has lender lend to someone other than
//  borrower (match_service marks each lender's borrowers as it goes).
static bool lends_elsewhere(spw_hub_t *self, const char *lender, const char *borrower)
{
    spw_peer_t *peer = spw_peers_find(self->peers, lender);
    return peer && peer->lends_visit == self->visit
        && (peer->lends_many || strcmp(peer->lends_to, borrower) != 0);
}

//  True if a match told and held (no matching decides it) has run out:
//  the matching that last decided it was hold_ms ago or more, or its
//  partner is gone or another process.
static bool hold_ends(spw_hub_t *self, const spw_told_t *told, int64_t hold_ms, int64_t now)
{
    const spw_edge_state_t *partner = spw_capacity_find(self->capacity, told->partner);
    return now - told->seen >= hold_ms || !partner || !partner->alive
        || partner->epoch != told->epoch;
}

//  Keeps in fresh the partners peer was told of service that the matching
//  no longer decides but saw within hold_ms (still there), stamps the
//  told entries the matching decided again as seen now, and marks which
//  of them are held (the heartbeat's slices end those on time,
//  expire_holds). A match is not
//  held when its lender now lends to others: its slots have a use, and
//  holding would leave them with a borrower that no longer asks (the
//  overload moved on) for the whole hold.
static size_t hold_matches(spw_hub_t *self, spw_peer_t *peer, const char *service,
                           spw_told_t *fresh, size_t count, int64_t hold_ms, int64_t now)
{
    for (size_t t = 0; t < peer->told_count; t++) {
        spw_told_t *old = &peer->told[t];
        if (!old->role || strcmp(old->service, service) != 0)
            continue;
        bool decided = false;
        for (size_t f = 0; f < count && !decided; f++)
            decided = fresh[f].role == old->role && strcmp(fresh[f].partner, old->partner) == 0;
        bool lends = old->role == SPW_MATCH_LEND_TO;
        const char *lender = lends ? peer->name : old->partner;
        const char *borrower = lends ? old->partner : peer->name;
        if (decided) {
            old->seen = now;
            old->held = false;
            continue;
        }
        old->held = true;   // as told, if it stays so (told_differs)
        if (!hold_ends(self, old, hold_ms, now) && count < SPW_HUB_MAX_MATCHES
            && !lends_elsewhere(self, lender, borrower))
            fresh[count++] = *old;
    }
    return count;
}

//  Tells one edge what changed in its matches of a service: the pairs of
//  sides[0, count) (all of them its own), those it holds, and the no-offer
//  mark if nobody offers a service it waits on. Returns whether it holds
//  anything of the service afterwards.
static bool tell_edge(spw_hub_t *self, spw_track_t *track, spw_peer_t *peer,
                      const spw_side_t *sides, size_t count, bool nobody, int64_t now)
{
    const char *service = track->name;
    peer->visited = self->visit;
    spw_edge_state_t *edge = peer->identity_len ? peer_edge(self, peer) : NULL;
    if (!edge)
        return told_holds(peer, service);   // no route: it is told when it has one
    size_t fresh = 0;
    for (size_t i = 0; i < count && fresh < SPW_HUB_MAX_MATCHES; i++) {
        const spw_match_pair_t *pair = &self->pairs[sides[i].pair];
        bool lends = pair->lender == edge;
        spw_told_t *f = &self->fresh[fresh++];
        copy_name(f->service, sizeof f->service, service);
        copy_name(f->partner, sizeof f->partner,
                  lends ? pair->borrower->name : pair->lender->name);
        f->role = lends ? SPW_MATCH_LEND_TO : SPW_MATCH_BORROW_FROM;
        f->slots_milli = pair->slots_milli;
        f->epoch = lends ? pair->borrower->epoch : pair->lender->epoch;
        f->seen = now;
        f->held = false;
    }
    fresh = hold_matches(self, peer, service, self->fresh, fresh,
                         SPW_HUB_MATCH_HOLD_BEATS * self->config.heartbeat_ms, now);
    //  An edge waiting on a service nobody offers hears so, once.
    spw_service_state_t *mine = spw_capacity_service(edge, service);
    if (nobody && mine && mine->queued && fresh < SPW_HUB_TOLD_MAX) {
        spw_told_t *f = &self->fresh[fresh++];
        *f = (spw_told_t) { .role = 0, .seen = now };
        snprintf(f->service, sizeof f->service, "%s", service);
    }
    if (told_differs(peer, service, self->fresh, fresh)) {
        send_match(self, peer, service, self->fresh, fresh);
        //  Partners it was told of now: they hear of its death, as do
        //  those it is still told of (tell_partners).
        for (size_t f = 0; f < fresh; f++)
            if (self->fresh[f].role)
                spw_peers_met(peer, self->fresh[f].partner, now);
        told_replace(peer, service, self->fresh, fresh);
    }
    return told_holds(peer, service);
}

//  Keeps a matching's pairs by name for the next one, from the at-th on
//  (out of memory, it keeps none: the next matching decides afresh).
static void remember_pairs(spw_track_t *track, size_t at, const spw_match_pair_t *pairs,
                           size_t count)
{
    if (spw_grow(&track->last, &track->last_size, at + count, sizeof *track->last, 16, 0) != 0) {
        track->last_count = 0;
        return;
    }
    for (size_t p = 0; p < count; p++) {
        spw_last_pair_t *last = &track->last[at + p];
        copy_name(last->lender, sizeof last->lender, pairs[p].lender->name);
        copy_name(last->borrower, sizeof last->borrower, pairs[p].borrower->name);
        last->slots_milli = pairs[p].slots_milli;
        last->lender_edge = pairs[p].lender;
        last->borrower_edge = pairs[p].borrower;
        last->lender_epoch = pairs[p].lender->epoch;
        last->borrower_epoch = pairs[p].borrower->epoch;
        last->lender_service = pairs[p].lender_service;
        last->borrower_service = pairs[p].borrower_service;
    }
    track->last_count = at + count;
}

static int side_order(const void *x, const void *y)
{
    const spw_side_t *a = x, *b = y;
    if (a->peer != b->peer)
        return a->peer < b->peer ? -1 : 1;
    return a->pair < b->pair ? -1 : a->pair > b->pair;
}

//  Matches one service and tells the edges it concerns what changed for
//  them: the edges of its pairs, those told of it before, and, when nobody
//  offers it, those waiting on it. The work is the pairs and those edges,
//  whatever the number of edges.
//  Marks peer as one whose matches of the service in progress are told
//  afresh, once; false if it was marked already (or is NULL).
static bool concern(spw_hub_t *self, spw_peer_t *peer)
{
    if (!peer || peer->concerned == self->visit
        || spw_grow(&self->concerned, &self->concerned_size, self->concerned_count + 1,
                    sizeof *self->concerned, 64, 0)
               != 0)
        return false;   // out of memory: not told now, a later matching tells it
    peer->concerned = self->visit;
    self->concerned[self->concerned_count++] = peer;
    return true;
}

//  Records that peer's match with partner (in role) of service, a pair that
//  ends, was decided at the matching of time at: a pair kept unchanged is
//  not retold, so its told entry says when it was last decided only once
//  the pair ends, and its hold counts from then.
//  Returns that entry (NULL if peer was not told it).
static const spw_told_t *told_decided(spw_peer_t *peer, const char *service,
                                      const char *partner, uint8_t role, int64_t at)
{
    for (size_t t = 0; peer && partner && t < peer->told_count; t++) {
        spw_told_t *told = &peer->told[t];
        if (told->role == role && strcmp(told->partner, partner) == 0
            && strcmp(told->service, service) == 0) {
            if (told->seen < at)
                told->seen = at;
            told->held = true;   // no matching decides it now
            return told;
        }
    }
    return NULL;
}

//  Marks the edges a matching concerns: those whose pairs changed (a pair
//  that is new or whose share moved, a kept pair that was dropped), an
//  edge that registered again (told nothing since), and the borrowers a
//  lender with pairs holds matches with (it lends to others now: those
//  end, hold_matches). So a matching after one edge's change tells a few
//  edges, however many pairs stand; holds that run out end in the
//  heartbeat's slices (expire_holds), not in a matching.
static void find_concerned(spw_hub_t *self, spw_track_t *track, size_t pairs,
                           const spw_match_kept_t *kept, size_t kept_count)
{
    self->concerned_count = 0;
    bool *continued = self->continued;
    memset(continued, 0, kept_count * sizeof *continued);
    for (size_t p = 0; p < pairs; p++) {
        const spw_match_pair_t *pair = &self->pairs[p];
        spw_peer_t *lender = edge_peer(self, pair->lender);
        spw_peer_t *borrower = edge_peer(self, pair->borrower);
        bool same = pair->kept != SIZE_MAX && kept[pair->kept].slots_milli == pair->slots_milli;
        if (pair->kept != SIZE_MAX)
            continued[pair->kept] = true;
        if (!same || (lender && lender->retell && !told_holds(lender, track->name))
            || (borrower && borrower->retell && !told_holds(borrower, track->name))) {
            concern(self, lender);
            concern(self, borrower);
        }
    }
    for (size_t k = 0; k < kept_count; k++)
        if (!continued[k]) {
            spw_peer_t *lender = spw_peers_find(self->peers, kept[k].lender);
            spw_peer_t *borrower = spw_peers_find(self->peers, kept[k].borrower);
            told_decided(lender, track->name, kept[k].borrower, SPW_MATCH_LEND_TO,
                         track->decided_at);
            told_decided(borrower, track->name, kept[k].lender, SPW_MATCH_BORROW_FROM,
                         track->decided_at);
            concern(self, lender);
            concern(self, borrower);
        }
    //  A lender with a pair and a held match has a new pair (a matching
    //  would not have let it hold one beside a pair it kept): concerned.
    for (size_t p = 0; p < pairs; p++) {
        spw_peer_t *lender = edge_peer(self, self->pairs[p].lender);
        for (size_t t = 0; lender && lender->concerned == self->visit && t < lender->told_count;
             t++) {
            const spw_told_t *told = &lender->told[t];
            if (told->held && told->role == SPW_MATCH_LEND_TO
                && strcmp(told->service, track->name) == 0)
                concern(self, spw_peers_find(self->peers, told->partner));
        }
    }
}

//  Drops from a track's told list the edges that hold nothing of it any
//  more, and repeats: the heartbeat's, so that the list stays as long as
//  the edges it names.
static void tidy_told(spw_hub_t *self, spw_track_t *track)
{
    self->visit++;
    size_t kept = 0;
    for (size_t i = 0; i < track->told_count; i++) {
        spw_peer_t *peer = track->told[i];
        if (*peer->name && peer->concerned != self->visit && told_holds(peer, track->name)) {
            peer->concerned = self->visit;
            track->told[kept++] = peer;
        }
    }
    track->told_count = kept;
}

//  Matches one service and tells the edges it concerns what changed for
//  them (find_concerned), and, when nobody offers it, those waiting on it.
static void match_service(spw_hub_t *self, spw_track_t *track, bool warm, int64_t now)
{
    uint64_t random_state = self->random_state;
    size_t kept_count = track->last_count;
    for (size_t i = 0; i < kept_count; i++) {
        const spw_last_pair_t *last = &track->last[i];
        self->kept[i] = (spw_match_kept_t) {
            .lender = last->lender,
            .borrower = last->borrower,
            .slots_milli = last->slots_milli,
            .lender_edge = last->lender_edge,
            .borrower_edge = last->borrower_edge,
            .lender_epoch = last->lender_epoch,
            .borrower_epoch = last->borrower_epoch,
            .lender_service = last->lender_service,
            .borrower_service = last->borrower_service,
        };
    }
    spw_match_totals_t totals;
    if (!track->leftover)
        track->leftover = spw_match_spare_new();   // out of memory: newcomers wait for a matching
    size_t pairs = spw_match_service_spare(self->capacity, track->name, self->policy,
                                           &random_state, self->kept, kept_count, self->pairs,
                                           SPW_HUB_MAX_PAIRS, &totals, track->leftover);
    track->totals = totals;
    self->stats.matchings++;
    if (track->everyone)
        self->stats.matchings_everyone++;
    //  An edge registered but not yet heard from may offer it (restarting).
    bool nobody = warm && spw_capacity_unreported(self->capacity) == 0
               && spw_capacity_offering(self->capacity, track->name) == 0;
    const spw_capacity_entry_t *waiting = NULL;
    size_t waiting_count =
        nobody ? spw_capacity_taking_part(self->capacity, track->name, &waiting) : 0;
    self->visit++;
    find_concerned(self, track, pairs, self->kept, kept_count);   // before kept names go
    for (size_t i = 0; i < waiting_count; i++)   // nobody offers it: those waiting
        concern(self, edge_peer(self, waiting[i].edge));
    //  Those told afresh that hold it then join the told list (still_told).
    if (spw_grow(&self->still_told, &self->still_size, self->concerned_count,
                 sizeof *self->still_told, 64, 0)
        != 0)
        return;   // out of memory, nothing told: the next heartbeat's matching tries again
    remember_pairs(track, 0, self->pairs, pairs);
    track->short_supply = totals.supply < totals.demand;
    track->unmet = totals.given_milli < totals.demand * SPW_MATCH_MILLI;
    track->spare = totals.given_milli < totals.supply * SPW_MATCH_MILLI;
    //  The sides of the pairs of the edges concerned, grouped by edge, and
    //  which lenders lend to others than a given borrower (hold_matches).
    size_t sides = 0;
    for (size_t p = 0; p < pairs; p++) {
        spw_peer_t *lender = edge_peer(self, self->pairs[p].lender);
        spw_peer_t *borrower = edge_peer(self, self->pairs[p].borrower);
        if (lender) {
            const char *to = self->pairs[p].borrower->name;
            if (lender->lends_visit != self->visit) {
                lender->lends_visit = self->visit;
                lender->lends_many = false;
                copy_name(lender->lends_to, sizeof lender->lends_to, to);
            }
            else if (strcmp(lender->lends_to, to) != 0)
                lender->lends_many = true;
            if (lender->concerned == self->visit)
                self->sides[sides++] = (spw_side_t) { lender, p };
        }
        if (borrower && borrower->concerned == self->visit)
            self->sides[sides++] = (spw_side_t) { borrower, p };
    }
    qsort(self->sides, sides, sizeof *self->sides, side_order);
    self->deferring = true;   // its messages go out between the input (send_to)
    size_t still = 0;
    for (size_t first = 0, next; first < sides; first = next) {
        for (next = first + 1; next < sides && self->sides[next].peer == self->sides[first].peer;)
            next++;
        spw_peer_t *peer = self->sides[first].peer;
        bool held = told_holds(peer, track->name);
        if (tell_edge(self, track, peer, &self->sides[first], next - first, nobody, now)
            && !held)
            self->still_told[still++] = peer;
    }
    //  The edges concerned with no pair now: their matches end (or are held).
    for (size_t i = 0; i < self->concerned_count; i++) {
        spw_peer_t *peer = self->concerned[i];
        bool held = told_holds(peer, track->name);
        if (peer->visited != self->visit
            && tell_edge(self, track, peer, NULL, 0, nobody, now) && !held)
            self->still_told[still++] = peer;
    }
    self->deferring = false;
    //  Those newly told join the list of those told of it (those told
    //  before are on it); the heartbeat's matching tidies it.
    track->decided_at = now;
    size_t keep = track->told_count;
    if (spw_grow(&track->told, &track->told_size, keep + still, sizeof *track->told, 16, 0) == 0) {
        if (still)
            memcpy(track->told + keep, self->still_told, still * sizeof *track->told);
        track->told_count = keep + still;
    }
    if (track->everyone)
        tidy_told(self, track);
    track->everyone = false;
}

// -- Deltas: changes served from the last matching's spare --------------------

//  A borrower taking from the spare (take_spare), as spare_may_use sees it.
typedef struct {
    spw_hub_t *hub;
    const spw_edge_state_t *borrower;
    const char *service;
    const spw_peer_t *borrower_peer;   // what it was told: lenders it holds
} taker_t;

//  How many partners in role peer was told of service, and whether
//  partner is one of them (with the share it was told in *slots_milli, if
//  not NULL).
static size_t told_partners(const spw_peer_t *peer, const char *service, uint8_t role,
                            const char *partner, bool *found, uint32_t *slots_milli)
{
    size_t count = 0;
    for (size_t t = 0; peer && t < peer->told_count; t++)
        if (peer->told[t].role == role && strcmp(peer->told[t].service, service) == 0) {
            count++;
            if (partner && strcmp(peer->told[t].partner, partner) == 0) {
                if (found)
                    *found = true;
                if (slots_milli)
                    *slots_milli = peer->told[t].slots_milli;
            }
        }
    return count;
}

//  Whether a lender of the last matching can give a borrower of the spare
//  it has left: spent if it no longer lends (dead, another process,
//  draining, its role or the service gone) or its supply fell by what it
//  had left, else its spare lowered by any fall; skipped if the borrower
//  cut it off, holds a match with it already (a lender and a borrower
//  share one pair at most), or it has no route to be told.
static spw_match_use_t spare_may_use(spw_match_lender_t *lender, void *arg)
{
    const taker_t *taker = arg;
    const spw_edge_state_t *edge = lender->edge;
    if (!edge->alive || edge->epoch != lender->epoch || edge->draining
        || lender->service >= edge->service_count
        || strcmp(edge->services[lender->service].name, taker->service) != 0)
        return SPW_MATCH_SPENT;
    uint32_t supply = spw_match_supply(&edge->services[lender->service]);
    if (supply < lender->supply) {
        uint64_t fell = (uint64_t) (lender->supply - supply) * SPW_MATCH_MILLI;
        lender->left_milli = lender->left_milli > fell ? lender->left_milli - fell : 0;
        lender->supply = supply;
        if (lender->left_milli == 0)
            return SPW_MATCH_SPENT;
    }
    spw_peer_t *peer = edge_peer(taker->hub, edge);
    if (!peer || !peer->identity_len || spw_capacity_avoids(taker->borrower, edge))
        return SPW_MATCH_SKIP;
    bool holds = false;
    told_partners(taker->borrower_peer, taker->service, SPW_MATCH_BORROW_FROM, edge->name,
                  &holds, NULL);
    return holds ? SPW_MATCH_SKIP : SPW_MATCH_USE;
}

//  Takes up to want thousandths for borrower (its record bs of the
//  service) from the spare the last matching left, lender by lender in the
//  policy's order of what they have left (its zone's lenders first, if it
//  has a zone and some lender has one), as that matching's fill pass would;
//  appends a pair for each to self->pairs from *made, at most *room of
//  them (counted down). Returns what it took.
static uint64_t take_spare(spw_hub_t *self, spw_track_t *track, const spw_edge_state_t *borrower,
                           size_t bs, uint64_t want, size_t *made, size_t *room)
{
    taker_t taker = { .hub = self, .borrower = borrower, .service = track->name,
                      .borrower_peer = edge_peer(self, borrower) };
    bool zoned = borrower->zone[0] && spw_match_spare_zoned(track->leftover);
    uint64_t taken = 0;
    for (int pass = zoned ? 0 : 1; pass < 2; pass++) {
        spw_match_lender_t lender;
        uint64_t milli;
        while (want > taken && *room > 0 && *made < SPW_HUB_MAX_PAIRS
               && (milli = spw_match_spare_take(track->leftover, pass == 0 ? borrower->zone : NULL,
                                                spare_may_use, &taker, want - taken, &lender))
                      > 0) {
            taken += milli;
            (*room)--;
            self->pairs[(*made)++] = (spw_match_pair_t) {
                .lender = lender.edge,
                .borrower = borrower,
                .slots_milli = (uint32_t) milli,
                .kept = SIZE_MAX,
                .lender_service = lender.service,
                .borrower_service = bs,
            };
        }
    }
    return taken;
}

//  Tells peer its matches of a service as it was last told them, with the
//  pairs[0, count) added or their shares changed (peer is each one's
//  lender if lends, else its borrower; a pair of 0 slots ends): a MATCH
//  that changes those partners and no other.
static void tell_added(spw_hub_t *self, spw_track_t *track, spw_peer_t *peer, bool lends,
                       const spw_match_pair_t *pairs, size_t count, int64_t now)
{
    bool held = told_holds(peer, track->name);
    uint8_t role = lends ? SPW_MATCH_LEND_TO : SPW_MATCH_BORROW_FROM;
    size_t fresh = 0;
    for (size_t t = 0; t < peer->told_count && fresh < SPW_HUB_MAX_MATCHES; t++)
        if (peer->told[t].role && strcmp(peer->told[t].service, track->name) == 0)
            self->fresh[fresh++] = peer->told[t];   // a no-offer mark goes: it is offered
    for (size_t p = 0; p < count; p++) {
        const spw_edge_state_t *partner = lends ? pairs[p].borrower : pairs[p].lender;
        spw_told_t *f = NULL;
        for (size_t i = 0; i < fresh && !f; i++)
            if (self->fresh[i].role == role && strcmp(self->fresh[i].partner, partner->name) == 0)
                f = &self->fresh[i];
        if (pairs[p].slots_milli == 0) {   // a pair that ends
            if (f)
                *f = self->fresh[--fresh];
            continue;
        }
        if (!f && fresh == SPW_HUB_MAX_MATCHES)
            break;
        if (!f)
            f = &self->fresh[fresh++];
        *f = (spw_told_t) { .role = role, .slots_milli = pairs[p].slots_milli,
                            .epoch = partner->epoch, .seen = now };
        copy_name(f->service, sizeof f->service, track->name);
        copy_name(f->partner, sizeof f->partner, partner->name);
        spw_peers_met(peer, partner->name, now);
    }
    send_match(self, peer, track->name, self->fresh, fresh);
    told_replace(peer, track->name, self->fresh, fresh);
    if (!held
        && spw_grow(&track->told, &track->told_size, track->told_count + 1, sizeof *track->told,
                    16, 0)
               == 0)
        track->told[track->told_count++] = peer;
}

//  The track of service if a delta may serve a change of edge's figures,
//  more being what it adds to demand or takes from supply, without a
//  matching: the service was matched and its spare kept, supply is not
//  short and stays enough, and the edge has a route and is not draining.
//  Else NULL.
static spw_track_t *delta_track(spw_hub_t *self, const spw_edge_state_t *edge,
                                const char *service, uint64_t more)
{
    spw_track_t *track = zhashx_lookup(self->tracks, service);
    spw_peer_t *peer = edge_peer(self, edge);
    return track && track->matched_at && track->leftover && !track->short_supply && peer
                   && peer->identity_len && !edge->draining
                   && track->totals.supply >= track->totals.demand
                   && track->totals.supply - track->totals.demand >= more
             ? track
             : NULL;
}

//  Gives a borrower (edge, its record s of the service) up to want
//  thousandths more from the spare the last matching left (take_spare),
//  through at most room new partners, and adds more, the rise of its
//  demand, to the totals. The new pairs join the last matching's, so the
//  next matching keeps them and tells nobody again; the borrower and its
//  new lenders hear them. Returns what it was given.
static uint64_t serve_from_spare(spw_hub_t *self, spw_track_t *track, const spw_edge_state_t *edge,
                                 size_t s, uint64_t want, uint32_t more, size_t room, int64_t now)
{
    if (room > SPW_HUB_MAX_PAIRS - track->last_count)
        room = SPW_HUB_MAX_PAIRS - track->last_count;
    size_t made = 0;
    uint64_t given = take_spare(self, track, edge, s, want, &made, &room);
    remember_pairs(track, track->last_count, self->pairs, made);
    for (size_t p = 0; p < made; p++)
        tell_added(self, track, edge_peer(self, self->pairs[p].lender), true, &self->pairs[p], 1,
                   now);
    if (made)
        tell_added(self, track, edge_peer(self, edge), false, self->pairs, made, now);
    track->totals.demand += more;
    track->totals.given_milli += given;
    track->unmet = track->totals.given_milli < track->totals.demand * SPW_MATCH_MILLI;
    track->spare = track->totals.given_milli < track->totals.supply * SPW_MATCH_MILLI;
    return given;
}

//  The demand a borrower is in a delta's totals with, while no demand went
//  unmet: what its pairs give (given thousandths), the whole slots it
//  asked for when it was counted. Its figure of the moment may have moved
//  since without a matching hearing of it (change_matters).
static uint32_t counted_demand(uint64_t given)
{
    return (uint32_t) ((given + SPW_MATCH_MILLI - 1) / SPW_MATCH_MILLI);
}

//  Serves a borrower that has just appeared (it was not one) at once from
//  the spare the last matching left,
//  instead of waiting for the next matching: the lenders in policy order,
//  each giving what it has spare, as that matching's fill pass would have
//  served it (its zone's lenders first, as the zone pass). Its pairs join
//  the last matching's, so the next matching keeps them and tells nobody
//  again. Not when supply would then be short (shares in proportion move
//  everyone): the matching serves it, coalesced as ever. A lender it still
//  holds a match with from its last turn as a borrower (a hold, while it
//  runs) is passed over, and the hold runs out as it would have. Returns
//  whether the whole demand was served, so that no matching is needed.
static bool serve_newcomer(spw_hub_t *self, const spw_edge_state_t *edge, size_t s, int64_t now)
{
    const spw_service_state_t *state = &edge->services[s];
    uint32_t demand = spw_match_demand(state);
    spw_track_t *track = delta_track(self, edge, state->name, demand);
    spw_peer_t *borrower = edge_peer(self, edge);
    if (!track || demand == 0 || track->last_count >= SPW_HUB_MAX_PAIRS)
        return false;
    uint64_t want = (uint64_t) demand * SPW_MATCH_MILLI;
    //  Room beside the matches it may still hold from its last turn.
    size_t held = told_partners(borrower, track->name, SPW_MATCH_BORROW_FROM, NULL, NULL, NULL);
    if (held >= SPW_HUB_MAX_MATCHES)
        return false;
    uint64_t given = serve_from_spare(self, track, edge, s, want, demand,
                                      SPW_HUB_MAX_MATCHES - held, now);
    if (given == 0)
        return false;
    self->stats.served_at_once++;
    return given == want;
}

//  Serves a borrower whose demand rose (its record s of the service now,
//  was before) at once, instead of matching the service again: its pairs
//  stay, and what they do not cover of its demand now comes from the spare
//  the others have left, as the next matching's keep and fill passes
//  would give it (a lender it holds already is passed over rather than
//  given a second pair; one it holds beside its pairs stays held). Not
//  under short supply and not if the spare cannot cover it: the matching
//  does it. Returns whether the rise was served.
static bool grow_borrower(spw_hub_t *self, const spw_edge_state_t *edge, size_t s,
                          const spw_service_state_t *was, int64_t now)
{
    const spw_service_state_t *state = &edge->services[s];
    uint32_t before = spw_match_demand(was), after = spw_match_demand(state);
    spw_track_t *track = after > before ? zhashx_lookup(self->tracks, state->name) : NULL;
    spw_peer_t *borrower = edge_peer(self, edge);
    if (!track)
        return false;
    uint64_t given = 0;
    size_t mine = 0;
    for (size_t p = 0; p < track->last_count; p++) {
        const spw_last_pair_t *last = &track->last[p];
        if (last->borrower_edge == edge && last->borrower_epoch == edge->epoch) {
            given += last->slots_milli;
            mine++;
        }
    }
    //  Matches it holds beside its pairs (from its last turn as a borrower)
    //  stay as they are, as a matching would keep or end them; they take
    //  room in its MATCH.
    size_t told = told_partners(borrower, track->name, SPW_MATCH_BORROW_FROM, NULL, NULL, NULL);
    if (mine == 0 || told < mine || told >= SPW_HUB_MAX_MATCHES)
        return false;
    uint64_t want = (uint64_t) after * SPW_MATCH_MILLI;
    want = want > given ? want - given : 0;
    //  It is in the totals with the demand it was counted at, which is what
    //  its pairs give while no demand goes unmet: a fall since, which no
    //  matching heard of, is not counted twice.
    uint32_t counted = track->unmet ? before : counted_demand(given);
    uint32_t rise = after > counted ? after - counted : 0;
    if (delta_track(self, edge, state->name, rise) != track)
        return false;
    uint64_t more = serve_from_spare(self, track, edge, s, want, rise,
                                     SPW_HUB_MAX_MATCHES - told, now);
    if (more == want)
        self->stats.grown_at_once++;
    return more == want;
}

//  Tells peer its matches of a service as it was last told them, less its
//  matches in role with the partners named partners[0, count): a MATCH
//  that ends those and changes no other.
static void tell_without(spw_hub_t *self, spw_track_t *track, spw_peer_t *peer, uint8_t role,
                         const char *const *partners, size_t count)
{
    size_t fresh = 0;
    for (size_t t = 0; t < peer->told_count && fresh < SPW_HUB_TOLD_MAX; t++) {
        const spw_told_t *told = &peer->told[t];
        if (strcmp(told->service, track->name) != 0)
            continue;
        bool ends = false;
        for (size_t i = 0; i < count && !ends && told->role == role; i++)
            ends = strcmp(told->partner, partners[i]) == 0;
        if (!ends)
            self->fresh[fresh++] = *told;
    }
    send_match(self, peer, track->name, self->fresh, fresh);
    told_replace(peer, track->name, self->fresh, fresh);
}

//  Releases a borrower that has just stopped borrowing (was is its record
//  before; a lender now lends from the next matching on) at once, instead of matching the
//  service again: its pairs leave the last matching's, and each ends as a
//  matching would end it (hold_matches): held, told as before, while its
//  hold runs and its lender lends to nobody else, withdrawn from both
//  edges otherwise. The slots it had wait for the next matching; a
//  newcomer is served meanwhile from the spare of others. Not under short
//  supply or with demand unmet, where those slots belong to others at
//  once: the matching does it. Returns whether it released it.
static bool release_borrower(spw_hub_t *self, const spw_edge_state_t *edge,
                             const spw_service_state_t *was, int64_t now)
{
    spw_track_t *track = zhashx_lookup(self->tracks, was->name);
    spw_peer_t *borrower = edge_peer(self, edge);
    if (!track || !track->matched_at || track->short_supply || track->unmet || !borrower
        || !borrower->identity_len)
        return false;
    const spw_edge_state_t *lenders[SPW_HUB_MAX_MATCHES];
    bool elsewhere[SPW_HUB_MAX_MATCHES] = { false };   // the lender lends to others too
    size_t mine = 0;
    uint64_t given = 0;
    for (size_t p = 0; p < track->last_count; p++) {
        const spw_last_pair_t *last = &track->last[p];
        if (last->borrower_edge != edge || last->borrower_epoch != edge->epoch)
            continue;
        if (mine == SPW_HUB_MAX_MATCHES)
            return false;   // more than it was told: the matching sorts it out
        lenders[mine++] = last->lender_edge;
        given += last->slots_milli;
    }
    //  Its pairs leave the last matching's, the others keep their order;
    //  a lender of it in another pair lends elsewhere.
    size_t kept = 0;
    for (size_t p = 0; p < track->last_count; p++) {
        const spw_last_pair_t *last = &track->last[p];
        if (last->borrower_edge == edge && last->borrower_epoch == edge->epoch)
            continue;
        for (size_t i = 0; i < mine; i++)
            elsewhere[i] |= last->lender_edge == lenders[i];
        track->last[kept++] = *last;
    }
    track->last_count = kept;
    track->totals.demand = less(track->totals.demand, counted_demand(given));
    track->totals.given_milli = less(track->totals.given_milli, given);
    track->spare = track->totals.given_milli < track->totals.supply * SPW_MATCH_MILLI;
    //  A match ends unless its lender lends to nobody else and its hold
    //  (from the matching that last decided it) still runs.
    int64_t hold_ms = SPW_HUB_MATCH_HOLD_BEATS * self->config.heartbeat_ms;
    const char *ended[SPW_HUB_MAX_MATCHES];
    size_t ending = 0;
    for (size_t i = 0; i < mine; i++) {
        spw_peer_t *lender = edge_peer(self, lenders[i]);
        const spw_told_t *told = told_decided(borrower, track->name, lenders[i]->name,
                                              SPW_MATCH_BORROW_FROM, track->decided_at);
        told_decided(lender, track->name, edge->name, SPW_MATCH_LEND_TO, track->decided_at);
        if (!elsewhere[i] && told && !hold_ends(self, told, hold_ms, now))
            continue;   // held: the heartbeat's slices end it (expire_holds)
        ended[ending++] = lenders[i]->name;
        if (lender && lender->identity_len)
            tell_without(self, track, lender, SPW_MATCH_LEND_TO, (const char *[]) { edge->name }, 1);
    }
    if (ending)
        tell_without(self, track, borrower, SPW_MATCH_BORROW_FROM, ended, ending);
    self->stats.released_at_once++;
    return true;
}

//  Ends what a lender (peer, edge) was told it lends of a service beside
//  the pairs of the last matching (matches held after their borrowers
//  stopped): each such borrower is told so, and the lender too if
//  tell_lender (else what it was told forgets them, and the caller's MATCH
//  to it says so).
static void end_held_lends(spw_hub_t *self, spw_track_t *track, spw_peer_t *peer,
                           const spw_edge_state_t *edge, bool tell_lender)
{
    const char *held[SPW_HUB_TOLD_MAX];
    char names[SPW_HUB_TOLD_MAX][SPW_CAPACITY_NAME_MAX + 1];
    size_t count = 0;
    for (size_t t = 0; t < peer->told_count && count < SPW_HUB_TOLD_MAX; t++) {
        const spw_told_t *told = &peer->told[t];
        if (told->role != SPW_MATCH_LEND_TO || strcmp(told->service, track->name) != 0)
            continue;
        bool paired = false;
        for (size_t p = 0; p < track->last_count && !paired; p++)
            paired = track->last[p].lender_edge == edge
                  && track->last[p].lender_epoch == edge->epoch
                  && strcmp(track->last[p].borrower, told->partner) == 0;
        if (paired)
            continue;
        copy_name(names[count], sizeof names[count], told->partner);
        held[count] = names[count];
        count++;
    }
    for (size_t i = 0; i < count; i++) {
        spw_peer_t *borrower = spw_peers_find(self->peers, held[i]);
        if (borrower && borrower->identity_len)
            tell_without(self, track, borrower, SPW_MATCH_BORROW_FROM,
                         (const char *[]) { edge->name }, 1);
    }
    if (!count)
        return;
    if (tell_lender)
        tell_without(self, track, peer, SPW_MATCH_LEND_TO, held, count);
    else
        for (size_t i = 0; i < count; i++)
            told_remove(peer, track->name, held[i]);
}

//  Serves a lender whose supply fell below what it lends (its record s of
//  the service now, was before) at once, instead of matching the service
//  again: its pairs of the last matching keep, in their order, what its
//  supply still covers, as the next matching's keep pass would, and what
//  that cuts from each borrower is made up from the spare the others have
//  left, as its fill pass would (the borrower's zone first). Only the edges
//  whose pairs changed are told, and the matches it holds beside its pairs
//  end, as a matching would end them (end_held_lends). Not under short
//  supply (shares in proportion move everyone), not if the cuts leave it
//  no pair while it holds matches (a matching would keep those), and not
//  if the spare cannot make up the cut: the matching does it, coalesced
//  as ever. Returns whether the fall was served.
static bool shrink_lender(spw_hub_t *self, const spw_edge_state_t *edge, size_t s,
                          const spw_service_state_t *was, int64_t now)
{
    const spw_service_state_t *state = &edge->services[s];
    uint32_t before = spw_match_supply(was), after = spw_match_supply(state);
    spw_track_t *track = after > 0 && after < before
                           ? delta_track(self, edge, state->name, before - after)
                           : NULL;
    spw_peer_t *lender = edge_peer(self, edge);
    if (!track)
        return false;
    //  Its pairs, in the last matching's order, keep what after covers;
    //  self->pairs[0, cuts) are those cut or told more than they keep, as
    //  they stay (0 slots: ended), each with its index among the last pairs.
    uint64_t budget = (uint64_t) after * SPW_MATCH_MILLI, short_milli = 0;
    size_t cuts = 0, mine = 0;
    for (size_t p = 0; p < track->last_count; p++) {
        const spw_last_pair_t *last = &track->last[p];
        if (last->lender_edge != edge || last->lender_epoch != edge->epoch)
            continue;
        if (!last->borrower_edge->alive || last->borrower_edge->epoch != last->borrower_epoch)
            return false;   // a borrower gone or another process: the matching ends it
        mine++;
        uint64_t keep = last->slots_milli < budget ? last->slots_milli : budget;
        budget -= keep;
        //  A pair kept whole stays as told, unless it was told more than
        //  it has (a share that shrank without news): then it is told again.
        uint32_t told = 0;
        told_partners(lender, track->name, SPW_MATCH_LEND_TO, last->borrower, NULL, &told);
        if (keep == last->slots_milli && told <= keep)
            continue;
        if (cuts == SPW_HUB_MAX_MATCHES)
            return false;
        short_milli += last->slots_milli - keep;
        self->pairs[cuts++] = (spw_match_pair_t) {
            .lender = edge,
            .borrower = last->borrower_edge,
            .slots_milli = (uint32_t) keep,
            .kept = p,
            .lender_service = s,
            .borrower_service = last->borrower_service,
        };
    }
    //  With no pair of the last matching, what it was told is held (from
    //  borrowers the matching no longer pairs it with), ends with its hold,
    //  and a matching would keep it as told (hold_matches); the lender
    //  lends no more than it has. With pairs, it may hold matches beside
    //  them: a matching ends those, as it lends to others, so they end
    //  here; not if no pair keeps anything (it would lend to nobody and a
    //  matching would keep them): the matching sorts it out.
    size_t told = told_partners(lender, track->name, SPW_MATCH_LEND_TO, NULL, NULL, NULL);
    bool keeps = budget < (uint64_t) after * SPW_MATCH_MILLI;
    if (mine > 0 && (told < mine || (told > mine && !keeps)))
        return false;
    //  Nothing to cut or retell: only the holds beside its pairs end, and
    //  the totals change.
    if (cuts == 0) {
        if (mine > 0)
            end_held_lends(self, track, lender, edge, true);
        track->totals.supply = less(track->totals.supply, before - after);
        track->spare = track->totals.given_milli < track->totals.supply * SPW_MATCH_MILLI;
        self->stats.shrunk_at_once++;
        return true;
    }
    if (told > mine)
        end_held_lends(self, track, lender, edge, false);   // its MATCH below says so
    //  Each cut borrower takes what it lost from the spare, lender by lender:
    //  self->pairs[cuts, made) hold, for each, a copy of its cut pair (kept
    //  set) and then its new pairs (kept SIZE_MAX), for its one MATCH.
    size_t made = cuts, room = SPW_HUB_MAX_PAIRS - track->last_count;
    uint64_t refilled = 0;
    bool whole = true;
    for (size_t c = 0; c < cuts; c++) {
        const spw_edge_state_t *borrower = self->pairs[c].borrower;
        const spw_last_pair_t *last = &track->last[self->pairs[c].kept];
        spw_peer_t *peer = edge_peer(self, borrower);
        if (!borrower->alive || borrower->epoch != last->borrower_epoch || !peer
            || !peer->identity_len || made == SPW_HUB_MAX_PAIRS)
            continue;   // gone, or no route: nothing to tell or make up
        self->pairs[made++] = self->pairs[c];
        uint64_t want = last->slots_milli - self->pairs[c].slots_milli;
        uint64_t taken = take_spare(self, track, borrower, self->pairs[c].borrower_service, want,
                                    &made, &room);
        refilled += taken;
        whole &= taken == want;
    }
    //  The last matching's pairs as they stay, and the new ones after them.
    for (size_t c = 0; c < cuts; c++)
        track->last[self->pairs[c].kept].slots_milli = self->pairs[c].slots_milli;
    size_t kept = 0;
    for (size_t p = 0; p < track->last_count; p++)
        if (track->last[p].slots_milli > 0)
            track->last[kept++] = track->last[p];
    track->last_count = kept;
    for (size_t p = cuts; p < made; p++)
        if (self->pairs[p].kept == SIZE_MAX)
            remember_pairs(track, track->last_count, &self->pairs[p], 1);
    //  Told: the lender its cut pairs, each new lender its pair, each cut
    //  borrower its cut pair and its new ones.
    tell_added(self, track, lender, true, self->pairs, cuts, now);
    for (size_t p = cuts; p < made;) {
        size_t end = p + 1;
        while (end < made && self->pairs[end].kept == SIZE_MAX) {
            tell_added(self, track, edge_peer(self, self->pairs[end].lender), true,
                       &self->pairs[end], 1, now);
            end++;
        }
        tell_added(self, track, edge_peer(self, self->pairs[p].borrower), false, &self->pairs[p],
                   end - p, now);
        p = end;
    }
    track->totals.supply = less(track->totals.supply, before - after);
    track->totals.given_milli = less(track->totals.given_milli + refilled, short_milli);
    track->unmet = track->totals.given_milli < track->totals.demand * SPW_MATCH_MILLI;
    track->spare = track->totals.given_milli < track->totals.supply * SPW_MATCH_MILLI;
    if (whole)
        self->stats.shrunk_at_once++;
    return whole;
}

//  The peers the beat's matchings have all retold forget that they were to
//  be: those welcomed before that beat began (later ones wait for the next).
static void end_retell(spw_hub_t *self)
{
    for (size_t i = 0; i < spw_peers_count(self->peers); i++) {
        spw_peer_t *peer = spw_peers_at(self->peers, i);
        if (peer->retell && peer->retell <= self->beat)
            peer->retell = 0;
    }
}

//  Matches the services new state asked for; edges hear only what changed.
//  A turn starts no new matching past SPW_HUB_MATCH_TURN_US of them, and
//  matchings after new state wait while they have spent their share of the
//  hub's time (SPW_HUB_MATCH_BUDGET_DIVISOR).
static void rematch(spw_hub_t *self, int64_t now)
{
    //  A hub that has just started waits one liveness for the edges' state
    //  before it says no live edge offers a service.
    bool warm = now - self->started >= self->hold_ms;
    size_t deferred = 0;
    int64_t began = spw_clock_us();
    self->match_budget_us += (began - self->budget_at_us) / SPW_HUB_MATCH_BUDGET_DIVISOR;
    if (self->match_budget_us > SPW_HUB_MATCH_BURST_US)
        self->match_budget_us = SPW_HUB_MATCH_BURST_US;
    self->budget_at_us = began;
    bool everyone_left = false;
    self->next_match = INT64_MAX;
    for (size_t i = 0; i < self->dirty_count; i++) {
        spw_track_t *track = self->dirty[i];
        int64_t due = track->matched_at + track->interval_ms;
        bool late = spw_clock_us() - began >= SPW_HUB_MATCH_TURN_US
                 || self->outbox_count >= SPW_HUB_OUTBOX_DEEP;
        bool coalesced = !track->everyone && track->matched_at && now < due;
        bool over = !track->everyone && self->match_budget_us < 0;
        if (late)
            due = now;   // the next turn, after the input
        else if (over) {
            //  Due once the budget is back above zero.
            int64_t refill_ms = -self->match_budget_us * SPW_HUB_MATCH_BUDGET_DIVISOR / 1000 + 1;
            if (now + refill_ms > due)
                due = now + refill_ms;
            if (!coalesced && !track->waited) {
                track->waited = true;   // counted once a matching
                self->stats.matchings_deferred++;
            }
        }
        if (late || coalesced || over) {
            self->dirty[deferred++] = track;   // matched once it is due
            if (due < self->next_match)
                self->next_match = due;
            everyone_left |= track->everyone;
            continue;
        }
        track->dirty = false;
        track->waited = false;
        track->matched_at = now;
        bool everyone = track->everyone;
        int64_t started = spw_clock_us();
        uint64_t queued = self->queued_total;
        match_service(self, track, warm, now);
        //  A matching that costs more is done less often: at most
        //  1/SPW_HUB_MATCH_SHARE of the loop's time per service, by the
        //  cost of matchings after new state (smoothed; the heartbeat's,
        //  which tells everyone, costs more and comes once a beat), and
        //  never less often than four times a heartbeat.
        //  Its messages are sent later (the outbox), at a cost that is
        //  matching's too: counted here, as sending them will take.
        int64_t took = spw_clock_us() - started;
        int64_t cost = took + (int64_t) ((double) (self->queued_total - queued) * self->send_us);
        //  The heartbeat's matchings always run: a debt of more than a
        //  burst is forgiven, so that matchings after new state wait a
        //  burst's refill at most once the load has gone.
        self->match_budget_us -= cost;
        if (self->match_budget_us < -SPW_HUB_MATCH_BURST_US)
            self->match_budget_us = -SPW_HUB_MATCH_BURST_US;
        spw_histogram_add(&self->matchings, (double) took / 1e6);
        if (!everyone)
            track->cost_us = track->cost_us > 0 ? 0.8 * track->cost_us + 0.2 * (double) cost
                                                : (double) cost;
        int64_t interval = (int64_t) (track->cost_us * SPW_HUB_MATCH_SHARE / 1000.0);
        int64_t longest = self->config.heartbeat_ms / 4;
        track->interval_ms = interval < SPW_HUB_MATCH_INTERVAL_MS ? SPW_HUB_MATCH_INTERVAL_MS
                           : interval > longest                 ? longest
                                                                : interval;
    }
    self->dirty_count = deferred;
    //  Every service was told to every edge it concerns: nothing to retell.
    if (self->everyone_due && !everyone_left) {
        self->everyone_due = false;
        end_retell(self);
    }
}

//  Tells the edges matched with gone recently that it died or left (or,
//  event died, that the process they knew restarted), and forgets what
//  they were told of it, so that a match with its next process is told
//  afresh. Only they hear it: an edge's news reaches its partners, not
//  every edge.
static void tell_partners(spw_hub_t *self, spw_peer_t *gone, spw_member_event_t event,
                          const char *endpoint, int64_t now)
{
    if (!gone)
        return;
    spw_peers_forget_partners(gone, now);
    //  Those it is told of now are partners too, however long ago told.
    for (size_t t = 0; t < gone->told_count; t++)
        if (gone->told[t].role)
            spw_peers_met(gone, gone->told[t].partner, now);
    for (size_t i = 0; i < gone->partner_count; i++) {
        spw_peer_t *peer = spw_peers_find(self->peers, gone->partners[i].name);
        if (!peer)
            continue;
        told_remove(peer, NULL, gone->name);
        if (!peer->identity_len || !peer_edge(self, peer))
            continue;
        spw_msg_t out;
        spw_msg_init(&out);
        spw_msg_add_mem(&out, peer->identity, peer->identity_len);
        if (spw_proto_put_member(&out, event, gone->name, endpoint, gone->epoch) != 0) {
            spw_msg_reset(&out);
            continue;
        }
        self->stats.members++;
        if (send_to(self, peer, &out, "member"))
            peer->spoke_at = now;
    }
    gone->partner_count = 0;
}

// -- Control: registration, heartbeats, asks ---------------------------------

static void on_register(spw_hub_t *self, spw_msg_t *msg, const spw_proto_t *in, int64_t now)
{
    zmq_msg_t *identity = &msg->frame[0];
    char name[SPW_CAPACITY_NAME_MAX + 1], endpoint[SPW_MAX_ENDPOINT_LEN + 1],
        zone[SPW_MAX_NAME_LEN + 1], reason[SPW_MAX_TEXT_LEN];
    copy_field(name, sizeof name, in->name, in->name_len);
    copy_field(endpoint, sizeof endpoint, in->endpoint, in->endpoint_len);
    copy_field(zone, sizeof zone, in->text, in->text_len);

    uint32_t retry_ms = 0;
    spw_edge_state_t *edge = NULL;
    spw_reg_result_t result = SPW_REG_INVALID;
    //  If this turns out to be a restart, the old process is dead: its
    //  partners must hear so, at the address they knew it by.
    char old_endpoint[SPW_CAPACITY_ENDPOINT_MAX + 1] = "";
    spw_edge_state_t *old = spw_capacity_find(self->capacity, name);
    if (old && old->alive && old->epoch != in->epoch) {
        snprintf(old_endpoint, sizeof old_endpoint, "%s", old->endpoint);
        mark_edge(self, old);   // its matches end
    }
    if (!spw_endpoint_valid(endpoint))
        snprintf(reason, sizeof reason, "advertised endpoint '%s' is not a ZeroMQ endpoint",
                 endpoint);
    else
        result = spw_capacity_register(self->capacity, name, in->epoch, endpoint, zone, now,
                                       self->hold_ms, &edge);
    switch (result) {
    case SPW_REG_NEW:
    case SPW_REG_RESTARTED:
    case SPW_REG_SAME:
        break;
    case SPW_REG_NAME_TAKEN:
        snprintf(reason, sizeof reason, "name '%s' is held by a live edge", name);
        retry_ms = (uint32_t) self->hold_ms;
        break;
    case SPW_REG_FULL:
        snprintf(reason, sizeof reason, "hub is full (max_edges=%lld)",
                 (long long) self->config.max_edges);
        break;
    case SPW_REG_INVALID:
        if (spw_endpoint_valid(endpoint))
            snprintf(reason, sizeof reason, "invalid registration");
        break;
    }
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, identity);
    if (result != SPW_REG_NEW && result != SPW_REG_RESTARTED && result != SPW_REG_SAME) {
        self->stats.refused++;
        spw_log(SPW_LOG_WARNING, "edge_refused", "name=%s epoch=%016llx endpoint=%s reason=\"%s\"",
                name, (unsigned long long) in->epoch, endpoint, reason);
        spw_proto_put_refused(&out, reason, retry_ms);
        send_to_identity(self, identity, &out, "refused");
        return;
    }
    spw_peer_t *peer = peer_claim(self, name);
    if (!peer) {
        //  Out of memory: as if it never came; it registers again.
        spw_capacity_forget(self->capacity, name);
        spw_msg_reset(&out);
        return;
    }
    if (result == SPW_REG_RESTARTED) {
        self->stats.died++;
        tell_partners(self, peer, SPW_MEMBER_DIED, old_endpoint, now);
    }
    if (peer->epoch != in->epoch || result != SPW_REG_SAME) {
        peer->sampled = false;
        peer->out_per_s = peer->in_per_s = 0;
        peer->partner_count = 0;   // a new process has no partners yet
    }
    peer->epoch = in->epoch;
    edge->loop = peer;
    spw_peer_t *holder = spw_peers_by_identity(self->peers, zmq_msg_data(identity),
                                               zmq_msg_size(identity));
    settle_route(self, holder);   // the connection's messages, before it is anyone's again
    if (holder != peer)
        settle_route(self, peer);   // its old connection goes
    spw_peers_route(self->peers, peer, zmq_msg_data(identity), zmq_msg_size(identity));
    //  Welcomed afresh, the edge forgets its matches: it is told them again.
    peer->told_count = 0;
    peer->retell = self->beat + 1;   // the next beat's matchings retell it
    mark_edge(self, edge);
    spw_proto_put_welcome(&out, self->state_endpoint, (uint32_t) self->config.heartbeat_ms,
                          (uint32_t) self->config.liveness);
    if (send_to(self, peer, &out, "welcome"))
        peer->spoke_at = now;
    if (result == SPW_REG_SAME)
        return;
    self->stats.registered++;
    spw_log(SPW_LOG_INFO, "edge_joined", "name=%s epoch=%016llx endpoint=%s zone=%s%s", name,
            (unsigned long long) in->epoch, endpoint, *zone ? zone : "-",
            result == SPW_REG_RESTARTED ? " restarted=yes" : "");
}

//  The peer that sent msg if it is a live registered edge, else NULL after
//  telling the sender to register again.
static spw_peer_t *known_sender(spw_hub_t *self, spw_msg_t *msg)
{
    spw_peer_t *peer = peer_by_identity(self, &msg->frame[0]);
    if (peer && peer_edge(self, peer))
        return peer;
    self->stats.unknown_peers++;
    send_disconnect(self, &msg->frame[0]);
    return NULL;
}

static void on_goodbye(spw_hub_t *self, spw_msg_t *msg, int64_t now)
{
    spw_peer_t *peer = peer_by_identity(self, &msg->frame[0]);
    spw_edge_state_t *edge = peer ? peer_edge(self, peer) : NULL;
    if (!edge)
        return;  // already forgotten or dead: nothing to tell
    char endpoint[SPW_CAPACITY_ENDPOINT_MAX + 1];
    snprintf(endpoint, sizeof endpoint, "%s", edge->endpoint);
    self->stats.left++;
    spw_log(SPW_LOG_INFO, "edge_left", "name=%s endpoint=%s", peer->name, endpoint);
    mark_edge(self, edge);
    tell_partners(self, peer, SPW_MEMBER_LEFT, endpoint, now);
    spw_capacity_forget(self->capacity, peer->name);
    settle_route(self, peer);
    spw_peers_release(self->peers, peer);
}

// -- Status -----------------------------------------------------------------

//  The delegated rates of an edge: 0 for a dead one, it delegates nothing.
static void edge_rates(void *arg, const spw_edge_state_t *edge, double *out, double *in)
{
    spw_hub_t *self = arg;
    spw_peer_t *peer = edge_peer(self, edge);
    bool current = edge->alive && peer;
    *out = current ? peer->out_per_s : 0;
    *in = current ? peer->in_per_s : 0;
}

//  What one status answer costs out of the bucket: one, and one more per
//  SPW_HUB_STATUS_EDGES_PER_TOKEN edges it walks and sorts.
static double status_cost(spw_hub_t *self)
{
    return 1.0 + (double) (spw_capacity_count(self->capacity) / SPW_HUB_STATUS_EDGES_PER_TOKEN);
}

//  True if a status request may be answered now: SPW_HUB_STATUS_PER_S
//  tokens a second (a bucket of as many), each answer costing status_cost,
//  so that status, whoever asks, cannot take the loop from the edges: 50
//  answers a second of a small fleet, 8 of 10,000 edges.
static bool status_allowed(spw_hub_t *self, int64_t now)
{
    double refill = (double) (now - self->status_filled_at) * SPW_HUB_STATUS_PER_S / 1000.0;
    self->status_filled_at = now;
    self->status_tokens += refill > 0 ? refill : 0;
    if (self->status_tokens > SPW_HUB_STATUS_PER_S)
        self->status_tokens = SPW_HUB_STATUS_PER_S;
    double cost = status_cost(self);
    if (self->status_tokens < cost)
        return false;
    self->status_tokens -= cost;
    return true;
}

//  The status a query asks for, as JSON or as the table (hub/status.h): the
//  one rendering that status requests and the http endpoint serve. NULL if
//  out of memory; the caller frees it.
static char *render_status(spw_hub_t *self, const spw_status_query_t *query, bool json,
                           int64_t now, size_t *len)
{
    const spw_status_counter_t counters[] = {
        { "registered", self->stats.registered },
        { "refused", self->stats.refused },
        { "left", self->stats.left },
        { "died", self->stats.died },
        { "matches", self->stats.matches },
        { "matchings", self->stats.matchings },
        { "matchings_everyone", self->stats.matchings_everyone },
        { "served_at_once", self->stats.served_at_once },
        { "released_at_once", self->stats.released_at_once },
        { "shrunk_at_once", self->stats.shrunk_at_once },
        { "grown_at_once", self->stats.grown_at_once },
        { "heartbeats_spared", self->stats.heartbeats_spared },
        { "matchings_deferred", self->stats.matchings_deferred },
        { "outbox_peak", self->stats.outbox_peak },
        { "holds_ended", self->stats.holds_ended },
        { "members", self->stats.members },
        { "messages_in", self->stats.messages_in },
        { "messages_out", self->stats.messages_out },
        { "states", self->stats.states },
        { "states_unknown", self->stats.states_unknown },
        { "unknown_peers", self->stats.unknown_peers },
        { "unroutable", self->stats.unroutable },
        { "dropped_control", self->control_drops.count },
        { "dropped_state", self->state_drops.count },
        { "forbidden", self->stats.forbidden },
        { "handshakes_refused", self->stats.handshakes_refused },
        { "connections", spw_connections_open(self->listeners[0])
                             + spw_connections_open(self->listeners[1]) },
        { "connections_refused", spw_connections_refused(self->listeners[0])
                                     + spw_connections_refused(self->listeners[1]) },
        { "status_requests", self->stats.status_requests },
        { "status_refused", self->stats.status_refused },
    };
    spw_status_view_t view = {
        .hub = self->config.name,
        .policy = spw_policy_name(self->policy),
        .uptime_ms = now - self->started,
        .capacity = self->capacity,
        .rates = edge_rates,
        .rates_arg = self,
        .counters = counters,
        .counter_count = sizeof counters / sizeof counters[0],
        .messages_per_s = self->messages_per_s,
        .delegated_per_s = self->delegated_per_s,
    };
    return json ? spw_status_json(&view, query, now, len) : spw_status_text(&view, query, now, len);
}

//  Answers a status query (text, len bytes; hub/status.h) as JSON or as
//  the table, out of the status budget: SPW_STATUS_OK with the answer in
//  *answer (the caller frees it) and its length in *len, else the status
//  to answer with the reason in reason.
static spw_status_t answer_status(spw_hub_t *self, const char *text, size_t len, bool json,
                                  int64_t now, char **answer, size_t *answer_len, char *reason,
                                  size_t reason_size)
{
    *answer = NULL;
    if (!status_allowed(self, now)) {
        self->stats.status_refused++;
        snprintf(reason, reason_size,
                 "the hub answers %d status requests a second (%.0f of %zu edges)",
                 SPW_HUB_STATUS_PER_S, SPW_HUB_STATUS_PER_S / status_cost(self),
                 spw_capacity_count(self->capacity));
        return SPW_STATUS_OVERLOADED;
    }
    spw_status_query_t query;
    if (spw_status_query_parse(text, len, &query, reason, reason_size) != 0)
        return SPW_STATUS_BAD_REQUEST;
    self->stats.status_requests++;
    *answer = render_status(self, &query, json, now, answer_len);
    if (!*answer) {
        snprintf(reason, reason_size, "out of memory");
        return SPW_STATUS_FAILED;
    }
    return SPW_STATUS_OK;
}

static void on_request(spw_hub_t *self, spw_msg_t *msg, const spw_proto_t *in, int64_t now)
{
    bool json = in->service_len == strlen(SPW_HUB_STATUS_SERVICE)
             && memcmp(in->service, SPW_HUB_STATUS_SERVICE, in->service_len) == 0;
    bool text = in->service_len == strlen(SPW_HUB_STATUS_TEXT_SERVICE)
             && memcmp(in->service, SPW_HUB_STATUS_TEXT_SERVICE, in->service_len) == 0;
    char reason[200];
    if (!json && !text) {
        int n = snprintf(reason, sizeof reason,
                         "the hub offers only '%s' and '%s', not '%.*s'",
                         SPW_HUB_STATUS_SERVICE, SPW_HUB_STATUS_TEXT_SERVICE,
                         (int) in->service_len, in->service);
        send_reply(self, &msg->frame[0], in->id, SPW_STATUS_NO_SERVICE, reason,
                   (size_t) n < sizeof reason ? (size_t) n : sizeof reason - 1);
        return;
    }
    //  The query is the body's one frame of text, or nothing.
    if (in->body_count > 1) {
        snprintf(reason, sizeof reason, "a status query is one frame of text");
        send_reply(self, &msg->frame[0], in->id, SPW_STATUS_BAD_REQUEST, reason, strlen(reason));
        return;
    }
    zmq_msg_t *body = in->body_count ? &msg->frame[in->body_first] : NULL;
    char *answer = NULL;
    size_t len = 0;
    spw_status_t status = answer_status(self, body ? zmq_msg_data(body) : "",
                                        body ? zmq_msg_size(body) : 0, json, now, &answer, &len,
                                        reason, sizeof reason);
    if (status == SPW_STATUS_OK)
        send_reply(self, &msg->frame[0], in->id, status, answer, len);
    else
        send_reply(self, &msg->frame[0], in->id, status, reason, strlen(reason));
    free(answer);
}

static char *render_pairs(spw_hub_t *self, size_t *len);

//  Answers the http endpoint: a query of /api/v1/status (hub/status.h's
//  words, from the URL's query string) as a status request, out of the
//  same budget; and, without words, the documents it renders when read
//  (the status's first page, as `spillway status --json` prints it, and
//  the pairs), which the endpoint keeps for a heartbeat, so at most one
//  render a beat each, outside the budget.
static void answer_http(void *arg, const char *path, const char *words, spw_http_reply_t *reply)
{
    spw_hub_t *self = arg;
    char reason[200];
    size_t len = 0;
    char *answer = NULL;
    spw_status_t status = SPW_STATUS_FAILED;
    snprintf(reason, sizeof reason, "out of memory");
    if (*words)
        status = answer_status(self, words, strlen(words), true, spw_clock_ms(), &answer, &len,
                               reason, sizeof reason);
    else {
        spw_status_query_t query;
        if (strcmp(path, "/api/v1/pairs") == 0)
            answer = render_pairs(self, &len);
        else if (spw_status_query_parse("", 0, &query, reason, sizeof reason) == 0)
            answer = render_status(self, &query, true, spw_clock_ms(), &len);
        status = answer ? SPW_STATUS_OK : SPW_STATUS_FAILED;
    }
    if (status == SPW_STATUS_OK) {
        *reply = (spw_http_reply_t) { 200, "application/json", answer, len };
        return;
    }
    free(answer);
    size_t n = strlen(reason);
    char *text = malloc(n + 2);
    if (text) {
        memcpy(text, reason, n);
        memcpy(text + n, "\n", 2);
    }
    unsigned code = status == SPW_STATUS_OVERLOADED ? 429 : status == SPW_STATUS_BAD_REQUEST ? 400 : 500;
    *reply = (spw_http_reply_t) { code, "text/plain; charset=utf-8", text, text ? n + 1 : 0 };
}

static void on_control_state(spw_hub_t *self, spw_msg_t *msg, const spw_proto_t *in,
                             int64_t now);

//  With CURVE, a REGISTER must come from a key of the edge role named as the
//  edge (the rest of an edge's messages come on the connection it
//  registered), and a status request from an operator's. A refusal is
//  answered, counted and logged with the key.
static bool allowed(spw_hub_t *self, spw_msg_t *msg, const spw_proto_t *in, int64_t now)
{
    if (!self->curve || (in->cmd != SPW_CMD_REGISTER && in->cmd != SPW_CMD_REQUEST))
        return true;
    zmq_msg_t *identity = &msg->frame[0];
    zmq_msg_t *peer = &msg->frame[1];  // the identity frame is the ROUTER's: it says nothing
    bool registers = in->cmd == SPW_CMD_REGISTER;
    const char *role = registers ? SPW_ROLE_EDGE : SPW_ROLE_OPERATOR;
    const char *name = registers ? in->name : NULL;
    if (spw_curve_peer_acts_as(peer, role, name, in->name_len))
        return true;
    self->stats.forbidden++;
    char reason[200];
    spw_curve_refusal(peer, role, name, in->name_len, reason, sizeof reason);
    drop(&self->control_drops, msg, 0, reason, now);
    spw_msg_t out;
    spw_msg_init(&out);
    spw_msg_add_share(&out, identity);
    if (in->cmd == SPW_CMD_REGISTER) {
        spw_proto_put_refused(&out, reason, 0);  // final: another key will not come of waiting
        send_to_identity(self, identity, &out, "refused");
    }
    else {
        spw_msg_reset(&out);
        send_reply(self, identity, in->id, SPW_STATUS_FORBIDDEN, reason, strlen(reason));
    }
    return false;
}

//  One message on the control socket: [identity][header][command]...
static void on_control(void *arg, spw_msg_t *msg, int64_t now)
{
    spw_hub_t *self = arg;
    spw_drops_t *drops = &self->control_drops;
    if (msg->count < 3) {
        drop(drops, msg, 0, "too few frames", now);
        return;
    }
    spw_proto_t in;
    const char *why = NULL;
    if (spw_proto_decode(msg, 1, &in, &why) != 0) {
        drop(drops, msg, 0, why, now);
        return;
    }
    if (in.cmd != SPW_CMD_REQUEST)
        self->stats.messages_in++;
    if (!allowed(self, msg, &in, now))
        return;
    switch (in.cmd) {
    case SPW_CMD_REGISTER:
        on_register(self, msg, &in, now);
        break;
    case SPW_CMD_HEARTBEAT: {
        spw_peer_t *peer = known_sender(self, msg);
        if (peer)
            spw_capacity_heard(self->capacity, peer->name, peer->epoch, now);
        break;
    }
    case SPW_CMD_DISCONNECT:
        on_goodbye(self, msg, now);
        break;
    case SPW_CMD_STATE:
        on_control_state(self, msg, &in, now);
        break;
    case SPW_CMD_REQUEST:
        on_request(self, msg, &in, now);
        break;
    default:
        drop(drops, msg, 0, "command not allowed on the hub's control socket", now);
        break;
    }
}

// -- State ------------------------------------------------------------------

//  Folds an edge's delegated totals into its per-second rates, measured
//  over at least SPW_HUB_RATE_WINDOW_MS.
static void sample_rates(spw_peer_t *peer, uint64_t out, uint64_t in, int64_t now)
{
    if (!peer->sampled || out < peer->out_total || in < peer->in_total) {
        peer->sampled = true;
        peer->out_total = out;
        peer->in_total = in;
        peer->sampled_at = now;
        return;
    }
    int64_t elapsed = now - peer->sampled_at;
    if (elapsed < SPW_HUB_RATE_WINDOW_MS)
        return;
    peer->out_per_s = (double) (out - peer->out_total) * 1000.0 / (double) elapsed;
    peer->in_per_s = (double) (in - peer->in_total) * 1000.0 / (double) elapsed;
    peer->out_total = out;
    peer->in_total = in;
    peer->sampled_at = now;
}

//  A decoded STATE, from an edge's control connection or the state socket:
//  its figures replace what the table held. peer_frame names the sender in
//  msg for the drop log (-1: none).
static void handle_state(spw_hub_t *self, const spw_msg_t *msg, const spw_proto_t *in,
                         spw_drops_t *drops, int peer_frame, int64_t now)
{
    size_t count = 0, offset = 0;
    spw_service_figures_t figures;
    int rc;
    while ((rc = spw_proto_next_figures(in, &offset, &figures)) == 1) {
        if (count == (size_t) self->config.max_services) {
            drop(drops, msg, peer_frame, "more services than max_services", now);
            return;
        }
        spw_service_state_t *service = &self->services[count++];
        memset(service, 0, sizeof *service);
        copy_field(service->name, sizeof service->name, figures.service, figures.service_len);
        service->workers = figures.workers;
        service->idle = figures.idle;
        service->queued = figures.queued;
        service->running = figures.running;
        service->rate = figures.rate_milli / 1000.0;
        service->lent = figures.lent;
        service->borrowed = figures.borrowed;
        service->role = figures.role;
    }
    if (rc != 0) {
        drop(drops, msg, peer_frame, "bad service figures", now);
        return;
    }
    char name[SPW_CAPACITY_NAME_MAX + 1];
    copy_field(name, sizeof name, in->name, in->name_len);
    //  The figures it replaces, to see what changed for matching.
    spw_edge_state_t *edge = spw_capacity_find(self->capacity, name);
    size_t previous = edge && edge->alive && edge->epoch == in->epoch ? edge->service_count : 0;
    if (previous)
        memcpy(self->previous, edge->services, previous * sizeof *self->previous);
    bool was_draining = edge && edge->draining;
    size_t avoided_before = edge ? edge->avoid_count : 0;
    char avoided_names[SPW_CAPACITY_AVOID_MAX][SPW_CAPACITY_NAME_MAX + 1];
    if (avoided_before)
        memcpy(avoided_names, edge->avoid, sizeof avoided_names);
    if (spw_capacity_update(self->capacity, name, in->epoch, self->services, count, in->out,
                            in->in, now)
        != 0) {
        //  Not a live edge (or a repeated service): the edge re-registers
        //  when its heartbeat gets DISCONNECT.
        self->stats.states_unknown++;
        spw_log(SPW_LOG_DEBUG, "state_ignored", "name=%s epoch=%016llx", name,
                (unsigned long long) in->epoch);
        return;
    }
    //  The lenders it cut off: not to be matched with it until it says so.
    const char *avoid[SPW_MAX_AVOID];
    size_t lens[SPW_MAX_AVOID], avoided = 0, at = 0;
    while (avoided < SPW_MAX_AVOID
           && spw_proto_next_avoid(in, &at, &avoid[avoided], &lens[avoided]) == 1)
        avoided++;
    spw_capacity_avoid(self->capacity, name, in->epoch, avoid, lens, avoided);
    spw_capacity_set_draining(self->capacity, name, in->epoch, in->event & SPW_STATE_DRAINING);
    self->stats.states++;
    //  Only what changes a matching asks for one: most states of a steady
    //  fleet change nothing, and cost no matching.
    if (edge->draining != was_draining || edge->avoid_count != avoided_before
        || (avoided_before && memcmp(edge->avoid, avoided_names, sizeof avoided_names) != 0))
        mark_edge(self, edge);
    else
        mark_changes(self, edge, self->previous, previous, now);
    spw_peer_t *peer = edge_peer(self, edge);
    if (peer)
        sample_rates(peer, in->out, in->in, now);
}

//  A STATE on the control socket: it must come from the edge it names
//  (one connection speaks for one edge), and it is that edge's heartbeat.
static void on_control_state(spw_hub_t *self, spw_msg_t *msg, const spw_proto_t *in,
                             int64_t now)
{
    spw_peer_t *peer = known_sender(self, msg);
    if (!peer)
        return;
    if (in->name_len != strlen(peer->name) || memcmp(in->name, peer->name, in->name_len) != 0
        || in->epoch != peer->epoch) {
        drop(&self->control_drops, msg, 0, "state for another edge than the sender", now);
        return;
    }
    handle_state(self, msg, in, &self->control_drops, 0, now);
}

//  One message on the state socket: ["SPW2"][STATE]... (edges of this
//  version send their state on the control connection; this socket still
//  takes it from edges that publish).
static void on_state(void *arg, spw_msg_t *msg, int64_t now)
{
    spw_hub_t *self = arg;
    spw_drops_t *drops = &self->state_drops;
    self->stats.messages_in++;
    spw_proto_t in;
    const char *why = NULL;
    if (spw_proto_decode(msg, 0, &in, &why) != 0) {
        drop(drops, msg, -1, why, now);
        return;
    }
    if (in.cmd != SPW_CMD_STATE) {
        drop(drops, msg, -1, "command not allowed on the hub's state socket", now);
        return;
    }
    //  With CURVE, only an edge's own key publishes its state.
    if (self->curve && !spw_curve_peer_acts_as(&msg->frame[0], SPW_ROLE_EDGE, in.name,
                                               in.name_len)) {
        self->stats.forbidden++;
        char reason[200];
        drop(drops, msg, -1,
             spw_curve_refusal(&msg->frame[0], SPW_ROLE_EDGE, in.name, in.name_len, reason,
                               sizeof reason),
             now);
        return;
    }
    handle_state(self, msg, &in, drops, -1, now);
}

// -- The loop ---------------------------------------------------------------

//  Folds the messages and the delegated tasks of the last window into
//  per-second rates for the status.
static void publish_http(spw_hub_t *self, int64_t now);

static void sample_messages(spw_hub_t *self, int64_t now)
{
    uint64_t messages = self->stats.messages_in + self->stats.messages_out, delegated = 0;
    for (size_t i = 0; i < spw_capacity_count(self->capacity); i++)
        delegated += spw_capacity_at(self->capacity, i)->delegated_in;
    int64_t elapsed = now - self->sampled_at;
    if (self->sampled_at && elapsed < SPW_HUB_RATE_WINDOW_MS)
        return;
    if (self->sampled_at && elapsed > 0) {
        self->messages_per_s = (double) (messages - self->sampled_messages) * 1000.0 / elapsed;
        self->delegated_per_s = delegated >= self->sampled_delegated
                                  ? (double) (delegated - self->sampled_delegated) * 1000.0
                                        / elapsed
                                  : 0;
    }
    self->sampled_messages = messages;
    self->sampled_delegated = delegated;
    self->sampled_at = now;
}

//  Declares dead the edges silent past the hold, and tells their partners.
static void expire_dead(spw_hub_t *self, int64_t now)
{
    spw_edge_state_t *dead[SPW_HUB_EXPIRE_BATCH];
    size_t count;
    do {
        count = spw_capacity_expire(self->capacity, now, self->hold_ms, dead,
                                    SPW_HUB_EXPIRE_BATCH);
        for (size_t i = 0; i < count; i++) {
            self->stats.died++;
            spw_log(SPW_LOG_WARNING, "edge_died", "name=%s silent_ms=%lld endpoint=%s",
                    dead[i]->name, (long long) (now - dead[i]->last_heard), dead[i]->endpoint);
            mark_edge(self, dead[i]);
            tell_partners(self, edge_peer(self, dead[i]), SPW_MEMBER_DIED, dead[i]->endpoint,
                          now);
        }
    } while (count == SPW_HUB_EXPIRE_BATCH);
}

//  The heartbeat: declares silent edges dead and asks for a matching of
//  every service (over as many turns as SPW_HUB_MATCH_TURN_US needs).
static void tick(spw_hub_t *self, int64_t now)
{
    if (self->curve)
        self->stats.handshakes_refused += spw_curve_tick(self->curve);
    self->beat++;
    sample_messages(self, now);
    expire_dead(self, now);
    if (spw_peers_count(self->peers) > spw_capacity_count(self->capacity))
        sweep_peers(self);   // some record went (evicted): its peer with it
    self->everyone_due = true;
    mark_all(self);   // the loop's rematch, after the slices, matches them
    publish_http(self, now);
    size_t alive = spw_capacity_live(self->capacity);
    spw_notify_status("serving: %zu edges alive, %zu dead; %.0f messages/s", alive,
                      spw_capacity_count(self->capacity) - alive, self->messages_per_s);
}

// -- The http endpoint ---------------------------------------------------------

static int pair_by_borrower(const void *x, const void *y)
{
    const spw_status_pair_t *a = x, *b = y;
    return strcmp(a->borrower, b->borrower);
}

static int pair_by_rate(const void *x, const void *y)
{
    const spw_status_pair_t *a = x, *b = y;
    if (a->rate != b->rate)
        return a->rate > b->rate ? -1 : 1;
    return a->slots_milli != b->slots_milli ? (a->slots_milli > b->slots_milli ? -1 : 1)
                                            : strcmp(a->lender, b->lender);
}

//  Renders /api/v1/pairs: the last matchings' pairs, the busiest first
//  (the lending the web page draws), into *len bytes (NULL if out of
//  memory). A pair's rate is its borrower's rate
//  of tasks delegated out, split over the borrower's pairs (of every
//  service) by their shares: a borrower's tasks go to its lenders as they
//  offer credit, in proportion to the shares they were told. No edge counts
//  tasks per partner, so this is what the hub can know.
static char *render_pairs(spw_hub_t *self, size_t *len)
{
    size_t count = 0;
    for (spw_track_t *track = zhashx_first(self->tracks); track;
         track = zhashx_next(self->tracks))
        for (size_t p = 0; p < track->last_count; p++) {
            if (spw_grow(&self->shown_pairs, &self->shown_size, count + 1,
                         sizeof *self->shown_pairs, 64, 0)
                != 0)
                break;
            const spw_last_pair_t *last = &track->last[p];
            double out = 0, in = 0;
            if (last->borrower_edge->epoch == last->borrower_epoch)
                edge_rates(self, last->borrower_edge, &out, &in);
            self->shown_pairs[count++] = (spw_status_pair_t) {
                .service = track->name, .lender = last->lender, .borrower = last->borrower,
                .slots_milli = last->slots_milli, .rate = out };
        }
    //  Each borrower's rate split over its pairs by share.
    if (count > 1)
        qsort(self->shown_pairs, count, sizeof *self->shown_pairs, pair_by_borrower);
    for (size_t first = 0, end; first < count; first = end) {
        uint64_t shares = 0;
        for (end = first; end < count
                          && strcmp(self->shown_pairs[end].borrower, self->shown_pairs[first].borrower) == 0;
             end++)
            shares += self->shown_pairs[end].slots_milli;
        for (size_t p = first; p < end; p++)
            self->shown_pairs[p].rate *= shares ? (double) self->shown_pairs[p].slots_milli / (double) shares : 0;
    }
    if (count > 1)
        qsort(self->shown_pairs, count, sizeof *self->shown_pairs, pair_by_rate);
    return spw_status_pairs_json(self->shown_pairs, count, count, len);
}

//  Publishes /metrics and /readyz (docs/operations.md lists every metric):
//  once a heartbeat, from the loop, so that a request never waits on it.
//  The status and the pairs cost more at scale (5-7 ms each at 10,000
//  edges): they are rendered when read (answer_http).
static void publish_http(spw_hub_t *self, int64_t now)
{
    if (!self->http)
        return;
    bool ready = now - self->started >= self->hold_ms;
    const char *readiness = ready ? "ready: it has heard its edges for one liveness\n"
                                  : "not ready: waiting one liveness to hear its edges\n";
    spw_http_publish(self->http, "/readyz", ready ? 200 : 503, "text/plain; charset=utf-8",
                     readiness, strlen(readiness));
    size_t live = spw_capacity_live(self->capacity), draining = 0;
    for (size_t i = 0; i < spw_capacity_count(self->capacity); i++) {
        const spw_edge_state_t *edge = spw_capacity_at(self->capacity, i);
        draining += edge->alive && edge->draining;
    }
    spw_text_t text = { 0 };
    const spw_metric_sample_t edges[] = {
        { "alive", live - draining },
        { "draining", draining },
        { "dead", spw_capacity_count(self->capacity) - live },
    };
    spw_metric_labelled(&text, "spillway_hub_edges", "gauge", "Edges the hub tracks, by state.",
                        "state", edges, 3);
    spw_metric_counter(&text, "spillway_hub_registrations_total", "Edges registered.",
            self->stats.registered);
    spw_metric_counter(&text, "spillway_hub_registrations_refused_total", "Registrations refused.",
            self->stats.refused);
    spw_metric_counter(&text, "spillway_hub_edges_left_total", "Edges that said goodbye.",
            self->stats.left);
    spw_metric_counter(&text, "spillway_hub_edges_died_total", "Edges declared dead (silent).",
            self->stats.died);
    spw_metric_counter(&text, "spillway_hub_matchings_total", "Matchings of one service.",
            self->stats.matchings);
    spw_metric_counter(&text, "spillway_hub_borrowers_served_at_once_total",
            "Borrowers served on arrival from what the last matching left.",
            self->stats.served_at_once);
    spw_metric_counter(&text, "spillway_hub_borrowers_released_at_once_total",
            "Borrowers released from their pairs as they stopped.",
            self->stats.released_at_once);
    spw_metric_counter(&text, "spillway_hub_lenders_shrunk_at_once_total",
            "Lenders whose fall below what they lend was served without a matching.",
            self->stats.shrunk_at_once);
    spw_metric_counter(&text, "spillway_hub_borrowers_grown_at_once_total",
            "Borrowers whose rise in demand was served without a matching.",
            self->stats.grown_at_once);
    spw_metric_counter(&text, "spillway_hub_holds_ended_total",
            "Held matches (no matching decides them) ended as their hold ran out, "
            "each edge's side counted.",
            self->stats.holds_ended);
    spw_metric_counter(&text, "spillway_hub_heartbeats_spared_total",
            "Heartbeats not sent: the edge had heard from the hub within a quarter beat.",
            self->stats.heartbeats_spared);
    spw_metric_counter(&text, "spillway_hub_matchings_deferred_total",
            "Matchings after new state that waited: matching had spent its share of the hub's time.",
            self->stats.matchings_deferred);
    const spw_metric_sample_t sent[] = {
        { "match", self->stats.matches },
        { "member", self->stats.members },
        { "any", self->stats.messages_out },
    };
    spw_metric_labelled(&text, "spillway_hub_messages_sent_total", "counter",
                        "Messages sent to edges, by kind.", "kind", sent, 3);
    const spw_metric_sample_t received[] = {
        { "state", self->stats.states },
        { "any", self->stats.messages_in },
    };
    spw_metric_labelled(&text, "spillway_hub_messages_received_total", "counter",
                        "Messages received from edges and tools, by kind.", "kind", received, 2);
    const spw_metric_sample_t dropped[] = {
        { "control", self->control_drops.count },
        { "state", self->state_drops.count },
    };
    spw_metric_labelled(&text, "spillway_hub_messages_dropped_total", "counter",
                        "Messages dropped as malformed or not allowed, by socket.", "socket",
                        dropped, 2);
    spw_metric_counter(&text, "spillway_hub_forbidden_total", "Messages refused by CURVE role.",
            self->stats.forbidden);
    spw_metric_head(&text, "spillway_hub_connections", "gauge",
                    "Connections open on the hub's sockets.");
    spw_text_printf(&text, "spillway_hub_connections %zu\n",
                    spw_connections_open(self->listeners[0])
                        + spw_connections_open(self->listeners[1]));
    spw_metric_head(&text, "spillway_hub_outbox_messages", "gauge",
                    "Messages of matchings waiting in the outbox to go out between the input.");
    spw_text_printf(&text, "spillway_hub_outbox_messages %zu\n", self->outbox_count);
    spw_metric_head(&text, "spillway_hub_outbox_peak_messages", "gauge",
                    "The most messages the outbox has held at once.");
    spw_text_printf(&text, "spillway_hub_outbox_peak_messages %llu\n",
                    (unsigned long long) self->stats.outbox_peak);
    spw_metric_head(&text, "spillway_hub_messages_per_delegated_task", "gauge",
                    "Hub messages per task delegated between edges, over the last second.");
    spw_text_printf(&text, "spillway_hub_messages_per_delegated_task %.3f\n",
                    self->delegated_per_s > 0 ? self->messages_per_s / self->delegated_per_s
                                              : 0.0);
    spw_metric_histogram(&text, "spillway_hub_loop_turn_seconds",
                         "How long each turn of the hub's loop takes (its work after a wakeup).",
                         &self->loop_turns);
    spw_metric_histogram(&text, "spillway_hub_matching_seconds",
                         "How long one service's matching takes, "
                         "its MATCHes put in the outbox included.",
                         &self->matchings);
    if (!text.failed)
        spw_http_publish(self->http, "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8",
                         text.data, text.len);
    spw_text_free(&text);
}

//  Ends peer's held matches of service that ran out (hold_ends), or, with
//  a partner, its held match in role with partner: tells it its matches
//  less those, and lists their partners and roles in ended[0, return)
//  (room for SPW_HUB_TOLD_MAX) if not NULL. Returns how many ended.
static size_t end_held(spw_hub_t *self, spw_peer_t *peer, const char *service,
                       const char *partner, uint8_t role, spw_told_t *ended, int64_t now)
{
    int64_t hold_ms = SPW_HUB_MATCH_HOLD_BEATS * self->config.heartbeat_ms;
    size_t fresh = 0, count = 0;
    for (size_t t = 0; t < peer->told_count; t++) {
        const spw_told_t *told = &peer->told[t];
        if (strcmp(told->service, service) != 0)
            continue;
        bool ends = told->held
                 && (partner ? told->role == role && strcmp(told->partner, partner) == 0
                             : hold_ends(self, told, hold_ms, now));
        if (!ends && fresh < SPW_HUB_TOLD_MAX)
            self->fresh[fresh++] = *told;
        else if (ends && ended)
            ended[count++] = *told;
        else if (ends)
            count++;
    }
    if (count == 0)
        return 0;
    self->stats.holds_ended += count;
    if (peer->identity_len && peer_edge(self, peer))
        send_match(self, peer, service, self->fresh, fresh);
    told_replace(peer, service, self->fresh, fresh);   // no route: told afresh with one
    return count;
}

//  Ends the holds of peer that ran out, each with its partner's side of
//  it (which ends at the same time, whichever of the two looks first):
//  the heartbeat's slices look at every peer once a beat, so a hold ends
//  within a beat of running out, in small bursts, instead of in a
//  matching that tells every holder at once.
static void expire_holds(spw_hub_t *self, spw_peer_t *peer, int64_t now)
{
    int64_t hold_ms = SPW_HUB_MATCH_HOLD_BEATS * self->config.heartbeat_ms;
    spw_told_t ended[SPW_HUB_TOLD_MAX];
    for (size_t t = 0; t < peer->told_count;) {
        const spw_told_t *told = &peer->told[t];
        if (!told->held || !hold_ends(self, told, hold_ms, now)) {
            t++;
            continue;
        }
        char service[SPW_MAX_SERVICE_LEN + 1];
        copy_name(service, sizeof service, told->service);
        size_t count = end_held(self, peer, service, NULL, 0, ended, now);
        for (size_t i = 0; i < count; i++) {
            spw_peer_t *partner = spw_peers_find(self->peers, ended[i].partner);
            uint8_t role = ended[i].role == SPW_MATCH_LEND_TO ? SPW_MATCH_BORROW_FROM
                                                              : SPW_MATCH_LEND_TO;
            if (partner)
                end_held(self, partner, service, peer->name, role, NULL, now);
        }
        t = 0;   // what it was told moved: the services left, from the start
    }
}

//  Sends HEARTBEAT to the next slice of the peers' slots: each live edge
//  hears one every heartbeat_ms, at the same phase, and a fleet of 10,000
//  costs small bursts of at most SPW_BEAT_SLICE_SLOTS slots
//  (spw_beat_slices) rather than one long one that would hold every
//  message behind it. An edge sent a WELCOME, MATCH
//  or MEMBER within the last SPW_HUB_SPARE_DIVISOR-th of a beat has heard
//  the hub live: it is spared this one (any message from the hub is a sign
//  of life), so that it hears something at least every 1.25 beats, well
//  inside both its liveness (two beats at least, else every heartbeat
//  goes) and the two beats after which an edge with standby hubs moves,
//  even when a loaded hub's slices run late.
static void beat_slice(spw_hub_t *self, int64_t now)
{
    bool spare = self->config.liveness >= 2;
    int64_t recent = self->config.heartbeat_ms / SPW_HUB_SPARE_DIVISOR;
    size_t limit = spw_peers_limit(self->peers);
    size_t slice = spw_beat_slice_slots(limit, self->config.heartbeat_ms);
    for (size_t l = 0; l < 2; l++)   // a beat's slices sweep them all
        spw_connections_sweep(self->listeners[l],
                              spw_beat_slices(limit, self->config.heartbeat_ms));
    size_t end = self->beat_cursor + slice < limit ? self->beat_cursor + slice : limit;
    for (size_t i = self->beat_cursor; i < end; i++) {
        spw_peer_t *peer = spw_peers_slot(self->peers, i);
        if (!peer || !peer->identity_len || !peer_edge(self, peer))
            continue;
        expire_holds(self, peer, now);
        if (spare && now - peer->spoke_at < recent) {
            self->stats.heartbeats_spared++;
            continue;
        }
        spw_msg_t out;
        spw_msg_init(&out);
        spw_msg_add_mem(&out, peer->identity, peer->identity_len);
        spw_proto_put_heartbeat(&out);
        send_to(self, peer, &out, "heartbeat");
    }
    self->beat_cursor = end < limit ? end : 0;
}

spw_hub_t *spw_hub_new(const spw_hub_config_t *config, char *err, size_t errlen)
{
    spw_hub_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->config = *config;
    const spw_key_t *policy_key = spw_config_key(spw_hub_keys, "policy");
    if (!policy_key || spw_policy_parse(policy_key->choices[config->policy], &self->policy) != 0) {
        snprintf(err, errlen, "unknown policy");
        free(self);
        return NULL;
    }
    self->state_endpoint = *self->config.state_advertise ? self->config.state_advertise
                                                         : self->config.state;
    self->hold_ms = config->heartbeat_ms * config->liveness;
    self->random_state = spw_random_seed();
    self->control_drops.name = "control";
    self->state_drops.name = "state";
    spw_curve_keys_t keys;
    if (*config->curve_dir) {
        self->curve = spw_curve_new(config->curve_dir, config->name, err, errlen);
        if (!self->curve) {
            spw_hub_destroy(&self);
            return NULL;
        }
        spw_curve_keys(self->curve, NULL, &keys);
    }
    self->ctx = self->curve ? spw_curve_context(self->curve) : zmq_ctx_new();
    self->capacity = spw_capacity_new((size_t) config->max_edges, (size_t) config->max_services);
    self->peers = spw_peers_new((size_t) config->max_edges);
    self->tracks = zhashx_new();
    if (self->tracks)
        zhashx_set_destructor(self->tracks, track_destroy);
    self->previous = calloc((size_t) config->max_services, sizeof *self->previous);
    self->sides = calloc(2 * SPW_HUB_MAX_PAIRS, sizeof *self->sides);
    self->kept = calloc(SPW_HUB_MAX_PAIRS, sizeof *self->kept);
    self->continued = calloc(SPW_HUB_MAX_PAIRS, sizeof *self->continued);
    self->services = calloc((size_t) config->max_services, sizeof *self->services);
    self->pairs = calloc(SPW_HUB_MAX_PAIRS, sizeof *self->pairs);
    self->entries = calloc(SPW_HUB_MAX_MATCHES, sizeof *self->entries);
    self->fresh = calloc(SPW_HUB_TOLD_MAX, sizeof *self->fresh);
    if (!self->ctx || !self->capacity || !self->peers || !self->tracks || !self->services
        || !self->previous || !self->pairs || !self->sides || !self->kept || !self->continued || !self->entries
        || !self->fresh) {
        snprintf(err, errlen, "out of memory");
        spw_hub_destroy(&self);
        return NULL;
    }
    //  A fleet reconnecting at once (a hub restart) must not overflow the
    //  listen queue, or the edges wait for SYN retries (1 s, 3 s, ...).
    spw_socket_opts_t opts = { .max_message_bytes = SPW_HUB_MAX_MESSAGE_BYTES, .hwm = 1000,
                               .backlog = SPW_HUB_BACKLOG,
                               .curve = self->curve ? &keys : NULL, .curve_server = true };
    self->control = spw_socket_new(self->ctx, ZMQ_ROUTER, &opts);
    self->state = spw_socket_new(self->ctx, ZMQ_SUB, &opts);
    if (!self->control || !self->state
        || zmq_setsockopt(self->state, ZMQ_SUBSCRIBE, "", 0) != 0) {
        snprintf(err, errlen, "cannot create sockets: %s", zmq_strerror(errno));
        spw_hub_destroy(&self);
        return NULL;
    }
    if (spw_socket_bind(self->control, config->control, err, errlen) != 0
        || spw_socket_bind(self->state, config->state, err, errlen) != 0) {
        spw_hub_destroy(&self);
        return NULL;
    }
    void *const bound[] = { self->control, self->state };
    static const char *const bound_names[] = { "control", "state" };
    if (spw_connections_watch(self->ctx, bound, bound_names, 2,
                              (size_t) config->max_connections, self->listeners, err, errlen)
        != 0) {
        spw_hub_destroy(&self);
        return NULL;
    }
    self->started = spw_clock_ms();
    self->loop_turns = (spw_histogram_t) { .bounds = loop_bounds,
                                           .bucket_count = sizeof loop_bounds / sizeof loop_bounds[0] };
    self->matchings = self->loop_turns;
    if (*config->http) {
        self->http = spw_http_open(config->http, config->http_token_file, *config->curve_dir,
                                   err, errlen);
        if (!self->http) {
            spw_hub_destroy(&self);
            return NULL;
        }
        spw_http_publish(self->http, "/", 200, "text/html; charset=utf-8",
                         (const char *) spw_web_index, spw_web_index_len);
        //  Rendered when read, and any page with a query (answer_http).
        spw_http_ask(self->http, "/api/v1/status", self->config.heartbeat_ms);
        spw_http_ask(self->http, "/api/v1/pairs", self->config.heartbeat_ms);
        publish_http(self, self->started);
    }
    self->next_tick = self->started + config->heartbeat_ms;
    spw_beat_round_start(&self->slices, spw_peers_limit(self->peers), config->heartbeat_ms,
                         self->started);
    self->send_us = SPW_HUB_SEND_US;
    self->status_tokens = SPW_HUB_STATUS_PER_S;
    self->status_filled_at = self->started;
    return self;
}

//  Reads up to a batch of messages from one socket. Returns -1 on a fatal
//  error (the context was terminated), else 0.
int spw_hub_run(spw_hub_t *self, volatile sig_atomic_t *stop)
{
    spw_log(SPW_LOG_INFO, "started",
            "control=%s state=%s state_advertise=%s http=%s policy=%s heartbeat_ms=%lld "
            "liveness=%lld",
            self->config.control, self->config.state, self->state_endpoint,
            *self->config.http ? self->config.http : "off",
            spw_policy_name(self->policy), (long long) self->config.heartbeat_ms,
            (long long) self->config.liveness);
    zmq_pollitem_t items[] = {
        { self->control, 0, ZMQ_POLLIN, 0 },
        { self->state, 0, ZMQ_POLLIN, 0 },
        { spw_connections_socket(self->listeners[0]), 0, ZMQ_POLLIN, 0 },
        { spw_connections_socket(self->listeners[1]), 0, ZMQ_POLLIN, 0 },
        { NULL, spw_http_wake_fd(self->http), ZMQ_POLLIN, 0 },   // queries of the http endpoint
    };
    int item_count = self->http ? 5 : 4;
    spw_notify_ready("serving");
    int rc = 0;
    while (!*stop) {
        spw_daemon_check_reload();
        int64_t now = spw_clock_ms();
        int64_t next = self->next_tick < self->slices.next ? self->next_tick : self->slices.next;
        int64_t ping = spw_notify_watchdog(now);
        if (ping < next)
            next = ping;
        if (self->dirty_count && self->next_match < next)
            next = self->next_match;
        if (self->outbox_count)
            next = now;   // what waits in the outbox goes on after the input
        long timeout = next > now ? (long) (next - now) : 0;
        if (zmq_poll(items, item_count, timeout) < 0) {
            if (errno == EINTR)
                continue;
            spw_log(SPW_LOG_ERROR, "poll_failed", "error=\"%s\"", zmq_strerror(errno));
            rc = -1;
            break;
        }
        now = spw_clock_ms();
        int64_t turn = spw_clock_us();
        for (size_t l = 0; l < 2; l++)
            if (items[2 + l].revents & ZMQ_POLLIN)
                spw_connections_on_events(self->listeners[l], now);
        //  State first: fresh figures before the control messages.
        if ((items[1].revents & ZMQ_POLLIN)
            && spw_msg_drain(self->state, SPW_HUB_BATCH, on_state, self, &self->state_drops, -1, now) != 0)
            rc = -1;
        if ((items[0].revents & ZMQ_POLLIN)
            && spw_msg_drain(self->control, SPW_HUB_BATCH, on_control, self, &self->control_drops, 0, now) != 0)
            rc = -1;
        if (rc != 0) {
            spw_log(SPW_LOG_ERROR, "receive_failed", "error=\"%s\"", zmq_strerror(errno));
            break;
        }
        if (item_count > 4 && (items[4].revents & ZMQ_POLLIN))
            spw_http_answer_queries(self->http, answer_http, self);
        bool ticked = now >= self->next_tick;
        if (ticked) {
            tick(self, now);
            self->next_tick = now + self->config.heartbeat_ms;
        }
        if (now >= self->slices.next) {
            beat_slice(self, now);
            spw_beat_round_next(&self->slices, spw_peers_limit(self->peers),
                                self->config.heartbeat_ms, self->beat_cursor == 0, now);
        }
        if (self->dirty_count && now >= self->next_match && !ticked)   // not in the tick's turn
            rematch(self, now);
        if (self->outbox_count)
            flush_outbox(self, SPW_HUB_OUTBOX_TURN_US);
        spw_histogram_add(&self->loop_turns, (double) (spw_clock_us() - turn) / 1e6);
    }
    flush_outbox(self, -1);   // what was decided is told
    spw_notify_stopping("stopping: the edges keep their matches for a lease");
    spw_log(SPW_LOG_INFO, "stopped", "edges=%zu registered=%llu matches=%llu",
            spw_capacity_count(self->capacity), (unsigned long long) self->stats.registered,
            (unsigned long long) self->stats.matches);
    return rc;
}

void spw_hub_destroy(spw_hub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_hub_t *self = *self_p;
    for (size_t l = 0; l < 2; l++)
        spw_connections_destroy(&self->listeners[l]);
    for (; self->outbox_count > 0; self->outbox_count--) {
        spw_queued_t *q = &self->outbox[self->outbox_head];
        for (size_t f = 0; f < q->count; f++)
            zmq_msg_close(&q->frame[f]);
        self->outbox_head = (self->outbox_head + 1) % self->outbox_size;
    }
    free(self->outbox);
    spw_socket_destroy(&self->control);
    spw_socket_destroy(&self->state);
    spw_capacity_destroy(&self->capacity);
    spw_peers_destroy(&self->peers);
    zhashx_destroy(&self->tracks);
    free(self->dirty);
    free(self->previous);
    free(self->sides);
    free(self->kept);
    free(self->continued);
    free(self->concerned);
    free(self->still_told);
    free(self->services);
    free(self->pairs);
    free(self->entries);
    free(self->fresh);
    spw_http_stop(&self->http);
    free(self->shown_pairs);
    if (self->curve)
        spw_curve_destroy(&self->curve);  // czmq's context, with the authenticator
    else if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}
