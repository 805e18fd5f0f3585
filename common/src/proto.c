//  proto.c: the native protocol codec (see spw_proto.h, docs/protocol.md).
//
//  Decoding validates every frame's size and value before it produces a
//  view, so that a broker can act on a decoded message without further
//  checks; anything else is malformed and reported with a static reason.
//  Integers are big-endian. No function here allocates except through
//  zmq_msg_init_size for frames it appends.

#include "spw_proto.h"

#include <errno.h>
#include <string.h>

static const char *status_names[SPW_STATUS_COUNT] = {
    [SPW_STATUS_OK] = "ok",
    [SPW_STATUS_NO_SERVICE] = "no-service",
    [SPW_STATUS_TIMEOUT] = "timeout",
    [SPW_STATUS_OVERLOADED] = "overloaded",
    [SPW_STATUS_FAILED] = "failed",
    [SPW_STATUS_BAD_REQUEST] = "bad-request",
    [SPW_STATUS_TASK_ERROR] = "task-error",
    [SPW_STATUS_BUSY] = "busy",
    [SPW_STATUS_TOO_LARGE] = "too-large",
    [SPW_STATUS_FORBIDDEN] = "forbidden",
};

const char *spw_status_name(spw_status_t status)
{
    if ((unsigned) status < SPW_STATUS_COUNT)
        return status_names[status];
    return "unknown";
}

void spw_put_u64(uint8_t *dst, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        dst[i] = (uint8_t) (value & 0xff);
        value >>= 8;
    }
}

uint64_t spw_get_u64(const uint8_t *src)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = (value << 8) | src[i];
    return value;
}

void spw_put_u32(uint8_t *dst, uint32_t value)
{
    dst[0] = (uint8_t) (value >> 24);
    dst[1] = (uint8_t) (value >> 16);
    dst[2] = (uint8_t) (value >> 8);
    dst[3] = (uint8_t) value;
}

uint32_t spw_get_u32(const uint8_t *src)
{
    return ((uint32_t) src[0] << 24) | ((uint32_t) src[1] << 16)
         | ((uint32_t) src[2] << 8) | (uint32_t) src[3];
}

bool spw_service_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > SPW_MAX_SERVICE_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
               || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

void spw_msg_init(spw_msg_t *msg)
{
    msg->count = 0;
    msg->truncated = false;
}

void spw_msg_reset(spw_msg_t *msg)
{
    for (size_t i = 0; i < msg->count; i++)
        zmq_msg_close(&msg->frame[i]);
    msg->count = 0;
    msg->truncated = false;
}

int spw_msg_add_mem(spw_msg_t *msg, const void *data, size_t size)
{
    if (msg->count >= SPW_MAX_FRAMES)
        return -1;
    zmq_msg_t *frame = &msg->frame[msg->count];
    if (zmq_msg_init_size(frame, size) != 0)
        return -1;
    if (size)
        memcpy(zmq_msg_data(frame), data, size);
    msg->count++;
    return 0;
}

int spw_msg_add_move(spw_msg_t *msg, zmq_msg_t *src)
{
    if (msg->count >= SPW_MAX_FRAMES)
        return -1;
    zmq_msg_t *frame = &msg->frame[msg->count];
    zmq_msg_init(frame);
    zmq_msg_move(frame, src);
    msg->count++;
    return 0;
}

int spw_msg_add_share(spw_msg_t *msg, zmq_msg_t *src)
{
    if (msg->count >= SPW_MAX_FRAMES)
        return -1;
    zmq_msg_t *frame = &msg->frame[msg->count];
    zmq_msg_init(frame);
    if (zmq_msg_copy(frame, src) != 0) {
        zmq_msg_close(frame);
        return -1;
    }
    msg->count++;
    return 0;
}

int spw_msg_move_frames(spw_msg_t *dst, spw_msg_t *src, size_t first, size_t count)
{
    if (first + count > src->count || dst->count + count > SPW_MAX_FRAMES)
        return -1;
    for (size_t i = 0; i < count; i++)
        spw_msg_add_move(dst, &src->frame[first + i]);
    return 0;
}

size_t spw_msg_bytes(const spw_msg_t *msg)
{
    size_t total = 0;
    for (size_t i = 0; i < msg->count; i++)
        total += zmq_msg_size((zmq_msg_t *) &msg->frame[i]);
    return total;
}

bool spw_msg_frame_is(const spw_msg_t *msg, size_t i, const void *data, size_t size)
{
    if (i >= msg->count)
        return false;
    zmq_msg_t *frame = (zmq_msg_t *) &msg->frame[i];
    return zmq_msg_size(frame) == size
        && (size == 0 || memcmp(zmq_msg_data(frame), data, size) == 0);
}

static size_t frame_size(const spw_msg_t *msg, size_t i)
{
    return zmq_msg_size((zmq_msg_t *) &msg->frame[i]);
}

static const uint8_t *frame_data(const spw_msg_t *msg, size_t i)
{
    return zmq_msg_data((zmq_msg_t *) &msg->frame[i]);
}

//  Reads a fixed-size integer field at frame i; -1 if absent or mis-sized.
static int read_u64(const spw_msg_t *msg, size_t i, uint64_t *value)
{
    if (i >= msg->count || frame_size(msg, i) != 8)
        return -1;
    *value = spw_get_u64(frame_data(msg, i));
    return 0;
}

static int read_status(const spw_msg_t *msg, size_t i, spw_status_t *status)
{
    if (i >= msg->count || frame_size(msg, i) != 1)
        return -1;
    uint8_t value = frame_data(msg, i)[0];
    if (value >= SPW_STATUS_COUNT)
        return -1;
    *status = (spw_status_t) value;
    return 0;
}

static int read_service(const spw_msg_t *msg, size_t i, spw_proto_t *out)
{
    if (i >= msg->count)
        return -1;
    out->service = (const char *) frame_data(msg, i);
    out->service_len = frame_size(msg, i);
    return spw_service_name_valid(out->service, out->service_len) ? 0 : -1;
}

//  A service of a client's REQUEST or a worker's READY, where an empty one
//  stands for the edge's default service (service_len 0).
static int read_service_or_default(const spw_msg_t *msg, size_t i, spw_proto_t *out)
{
    if (i < msg->count && frame_size(msg, i) == 0) {
        out->service = "";
        out->service_len = 0;
        return 0;
    }
    return read_service(msg, i, out);
}

//  Sets the body to frames [from, count) and checks its bound.
static int set_body(const spw_msg_t *msg, size_t from, spw_proto_t *out,
                    const char **why)
{
    out->body_first = from;
    out->body_count = msg->count > from ? msg->count - from : 0;
    if (out->body_count > SPW_MAX_BODY_FRAMES) {
        *why = "too many body frames";
        errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

//  Checks that a command has no frames after its fields.
static int no_body(const spw_msg_t *msg, size_t from, spw_proto_t *out, const char **why)
{
    out->body_first = from;
    out->body_count = 0;
    if (msg->count != from) {
        *why = "unexpected frames after command";
        return -1;
    }
    return 0;
}

//  Reads a text field of 0..max bytes (min 1 if required) at frame i.
static int read_text(const spw_msg_t *msg, size_t i, size_t min, size_t max,
                     const char **text, size_t *len)
{
    if (i >= msg->count)
        return -1;
    *text = (const char *) frame_data(msg, i);
    *len = frame_size(msg, i);
    if (*len < min || *len > max || memchr(*text, 0, *len))
        return -1;
    return 0;
}

static int read_name(const spw_msg_t *msg, size_t i, const char **name, size_t *len)
{
    if (i >= msg->count)
        return -1;
    *name = (const char *) frame_data(msg, i);
    *len = frame_size(msg, i);
    return spw_service_name_valid(*name, *len) ? 0 : -1;
}

static int read_u32(const spw_msg_t *msg, size_t i, uint32_t *value)
{
    if (i >= msg->count || frame_size(msg, i) != 4)
        return -1;
    *value = spw_get_u32(frame_data(msg, i));
    return 0;
}

//  Takes len bytes at *offset of a record frame; NULL if they are not there.
static const uint8_t *take(const spw_proto_t *p, size_t *offset, size_t len)
{
    if (*offset + len > p->records_len)
        return NULL;
    const uint8_t *at = p->records + *offset;
    *offset += len;
    return at;
}

//  Takes a length-prefixed text of a record.
static int take_text(const spw_proto_t *p, size_t *offset, const char **text, size_t *len)
{
    const uint8_t *n = take(p, offset, 1);
    if (!n)
        return -1;
    *len = *n;
    *text = (const char *) take(p, offset, *len);
    return *text ? 0 : -1;
}

int spw_proto_next_match(const spw_proto_t *p, size_t *offset, spw_match_entry_t *out)
{
    if (*offset >= p->records_len)
        return 0;
    if (take_text(p, offset, &out->name, &out->name_len) != 0
        || !spw_service_name_valid(out->name, out->name_len)
        || take_text(p, offset, &out->endpoint, &out->endpoint_len) != 0
        || out->endpoint_len == 0 || memchr(out->endpoint, 0, out->endpoint_len))
        return -1;
    const uint8_t *epoch = take(p, offset, 8);
    const uint8_t *role = take(p, offset, 1);
    const uint8_t *slots = take(p, offset, 4);
    if (!epoch || !role || !slots
        || (*role != SPW_MATCH_LEND_TO && *role != SPW_MATCH_BORROW_FROM))
        return -1;
    out->epoch = spw_get_u64(epoch);
    out->role = (spw_match_role_t) *role;
    out->slots_milli = spw_get_u32(slots);
    return out->slots_milli > 0 ? 1 : -1;
}

int spw_proto_next_figures(const spw_proto_t *p, size_t *offset, spw_service_figures_t *out)
{
    if (*offset >= p->records_len)
        return 0;
    if (take_text(p, offset, &out->service, &out->service_len) != 0
        || !spw_service_name_valid(out->service, out->service_len))
        return -1;
    const uint8_t *f = take(p, offset, 29);
    if (!f)
        return -1;
    out->workers = spw_get_u32(f);
    out->idle = spw_get_u32(f + 4);
    out->queued = spw_get_u32(f + 8);
    out->running = spw_get_u32(f + 12);
    out->rate_milli = spw_get_u32(f + 16);
    out->lent = spw_get_u32(f + 20);
    out->borrowed = spw_get_u32(f + 24);
    out->role = f[28];
    return out->role <= SPW_ROLE_BORROWER ? 1 : -1;
}

spw_role_t spw_role_of(uint32_t workers, uint32_t idle, uint32_t queued, uint32_t lent,
                       uint32_t borrowed)
{
    if (idle == 0 && (uint64_t) queued + borrowed > 0)
        return SPW_ROLE_BORROWER;
    if (workers > 0 && queued == 0 && borrowed == 0 && (uint64_t) idle + lent > 0)
        return SPW_ROLE_LENDER;
    return SPW_ROLE_NONE;
}

//  Takes the records frame at i and checks every record in it.
static int read_records(const spw_msg_t *msg, size_t i, spw_proto_t *out)
{
    if (i >= msg->count || frame_size(msg, i) > SPW_MAX_RECORDS_LEN)
        return -1;
    out->records = frame_data(msg, i);
    out->records_len = frame_size(msg, i);
    size_t offset = 0;
    int rc;
    if (out->cmd == SPW_CMD_MATCH) {
        spw_match_entry_t match;
        while ((rc = spw_proto_next_match(out, &offset, &match)) == 1)
            ;
    }
    else {
        spw_service_figures_t figures;
        while ((rc = spw_proto_next_figures(out, &offset, &figures)) == 1)
            ;
    }
    return rc;
}

int spw_proto_next_avoid(const spw_proto_t *decoded, size_t *offset, const char **name,
                         size_t *len)
{
    if (*offset >= decoded->avoid_len)
        return 0;
    size_t n = decoded->avoid[*offset];
    if (n == 0 || *offset + 1 + n > decoded->avoid_len
        || !spw_service_name_valid((const char *) decoded->avoid + *offset + 1, n))
        return -1;
    *name = (const char *) decoded->avoid + *offset + 1;
    *len = n;
    *offset += 1 + n;
    return 1;
}

//  Takes STATE's avoid frame at i: at most SPW_MAX_AVOID valid names.
static int read_avoid(const spw_msg_t *msg, size_t i, spw_proto_t *out)
{
    out->avoid = frame_data(msg, i);
    out->avoid_len = frame_size(msg, i);
    size_t offset = 0, count = 0, len;
    const char *name;
    int rc;
    while ((rc = spw_proto_next_avoid(out, &offset, &name, &len)) == 1)
        if (++count > SPW_MAX_AVOID)
            return -1;
    return rc;
}

static bool known_command(spw_cmd_t cmd)
{
    switch (cmd) {
    case SPW_CMD_REQUEST: case SPW_CMD_REPLY: case SPW_CMD_READY: case SPW_CMD_TASK:
    case SPW_CMD_RESULT: case SPW_CMD_HEARTBEAT: case SPW_CMD_DISCONNECT: case SPW_CMD_ACCEPTED:
    case SPW_CMD_REGISTER: case SPW_CMD_WELCOME: case SPW_CMD_REFUSED: case SPW_CMD_MEMBER:
    case SPW_CMD_STATE: case SPW_CMD_MATCH: case SPW_CMD_DELEGATE: case SPW_CMD_DONE:
    case SPW_CMD_CREDIT: case SPW_CMD_REVOKE: case SPW_CMD_RETURN: case SPW_CMD_HELLO:
        return true;
    }
    return false;
}

int spw_proto_decode(const spw_msg_t *msg, size_t first, spw_proto_t *out,
                     const char **why)
{
    static const char *unused;
    if (!why)
        why = &unused;
    memset(out, 0, sizeof *out);
    errno = EPROTO;  // unless it is over the limits (set_body)
    if (first + 2 > msg->count) {
        *why = "too few frames";
        return -1;
    }
    if (!spw_msg_frame_is(msg, first, SPW_PROTO_HEADER, SPW_PROTO_HEADER_LEN)) {
        //  Told apart from noise, so that the log says what to upgrade.
        bool spw = frame_size(msg, first) == SPW_PROTO_HEADER_LEN
                && memcmp(frame_data(msg, first), "SPW", 3) == 0;
        *why = spw_msg_frame_is(msg, first, SPW_PROTO_HEADER_V1, SPW_PROTO_HEADER_LEN)
                 ? SPW_PROTO_WHY_V1
             : spw ? SPW_PROTO_WHY_VERSION
                   : "bad protocol header";
        return -1;
    }
    if (frame_size(msg, first + 1) != 1) {
        *why = "bad command frame";
        return -1;
    }
    out->cmd = (spw_cmd_t) frame_data(msg, first + 1)[0];
    if (!known_command(out->cmd)) {
        *why = "unknown command";
        return -1;
    }
    size_t f = first + 2;
    switch (out->cmd) {
    case SPW_CMD_REQUEST:
        if (read_u64(msg, f, &out->id) != 0) {
            *why = "bad request id";
            return -1;
        }
        if (read_service_or_default(msg, f + 1, out) != 0) {
            *why = "bad service name";
            return -1;
        }
        if (f + 2 >= msg->count || frame_size(msg, f + 2) != 4) {
            *why = "bad timeout";
            return -1;
        }
        out->timeout_ms = spw_get_u32(frame_data(msg, f + 2));
        return set_body(msg, f + 3, out, why);
    case SPW_CMD_REPLY:
    case SPW_CMD_RESULT:
        if (read_u64(msg, f, &out->id) != 0) {
            *why = out->cmd == SPW_CMD_REPLY ? "bad request id" : "bad task key";
            return -1;
        }
        if (read_status(msg, f + 1, &out->status) != 0) {
            *why = "bad status";
            return -1;
        }
        return set_body(msg, f + 2, out, why);
    case SPW_CMD_READY:
        if (read_service_or_default(msg, f, out) != 0) {
            *why = "bad service name";
            return -1;
        }
        //  Slots: how many tasks the worker takes at once; 1 if not said.
        out->count = 1;
        if (f + 1 < msg->count) {
            if (read_u32(msg, f + 1, &out->count) != 0 || out->count < 1
                || out->count > SPW_MAX_SLOTS) {
                *why = "bad slots";
                return -1;
            }
            return no_body(msg, f + 2, out, why);
        }
        return no_body(msg, f + 1, out, why);
    case SPW_CMD_TASK:
        if (read_u64(msg, f, &out->id) != 0) {
            *why = "bad task key";
            return -1;
        }
        return set_body(msg, f + 1, out, why);
    case SPW_CMD_HEARTBEAT:
        return no_body(msg, f, out, why);
    case SPW_CMD_DISCONNECT:
        //  Bare from the side that leaves; with a reason and retry_ms
        //  from the side that sends the other away.
        if (f == msg->count)
            return no_body(msg, f, out, why);
        if (read_text(msg, f, 0, SPW_MAX_TEXT_LEN, &out->text, &out->text_len) != 0
            || read_u32(msg, f + 1, &out->count) != 0) {
            *why = "bad disconnect reason";
            return -1;
        }
        return no_body(msg, f + 2, out, why);
    case SPW_CMD_ACCEPTED:
        if (read_u32(msg, f, &out->heartbeat_ms) != 0 || read_u32(msg, f + 1, &out->liveness) != 0
            || read_u32(msg, f + 2, &out->count) != 0 || read_u32(msg, f + 3, &out->max_bytes) != 0
            || out->heartbeat_ms == 0 || out->liveness == 0 || out->count < 1
            || out->count > SPW_MAX_SLOTS || out->max_bytes == 0) {
            *why = "bad accepted";
            return -1;
        }
        if (out->heartbeat_ms > SPW_PROTO_HEARTBEAT_MAX_MS
            || out->liveness > SPW_PROTO_LIVENESS_MAX) {
            *why = "accepted's heartbeat or liveness out of range";
            return -1;
        }
        return no_body(msg, f + 4, out, why);
    case SPW_CMD_REGISTER:
        if (read_name(msg, f, &out->name, &out->name_len) != 0) {
            *why = "bad edge name";
            return -1;
        }
        if (read_u64(msg, f + 1, &out->epoch) != 0) {
            *why = "bad epoch";
            return -1;
        }
        if (read_text(msg, f + 2, 1, SPW_MAX_ENDPOINT_LEN, &out->endpoint, &out->endpoint_len)
            != 0) {
            *why = "bad endpoint";
            return -1;
        }
        //  A zone is empty or spelled as a name: it reaches logs, the
        //  status table and JSON, and a terminal's escapes have no place there.
        if (read_text(msg, f + 3, 0, SPW_MAX_NAME_LEN, &out->text, &out->text_len) != 0
            || (out->text_len && !spw_service_name_valid(out->text, out->text_len))) {
            *why = "bad zone";
            return -1;
        }
        return no_body(msg, f + 4, out, why);
    case SPW_CMD_WELCOME:
        if (read_text(msg, f, 1, SPW_MAX_ENDPOINT_LEN, &out->endpoint, &out->endpoint_len) != 0
            || read_u32(msg, f + 1, &out->count) != 0 || read_u32(msg, f + 2, &out->liveness) != 0
            || out->count == 0 || out->liveness == 0) {
            *why = "bad welcome";
            return -1;
        }
        if (out->count > SPW_PROTO_HEARTBEAT_MAX_MS || out->liveness > SPW_PROTO_LIVENESS_MAX) {
            *why = "welcome's heartbeat or liveness out of range";
            return -1;
        }
        return no_body(msg, f + 3, out, why);
    case SPW_CMD_REFUSED:
        if (read_text(msg, f, 0, SPW_MAX_TEXT_LEN, &out->text, &out->text_len) != 0
            || read_u32(msg, f + 1, &out->count) != 0) {
            *why = "bad refusal";
            return -1;
        }
        return no_body(msg, f + 2, out, why);
    case SPW_CMD_MATCH:
        if (read_service(msg, f, out) != 0) {
            *why = "bad service name";
            return -1;
        }
        if (f + 1 >= msg->count || frame_size(msg, f + 1) != 1
            || (frame_data(msg, f + 1)[0] & ~SPW_MATCH_NO_OFFER)) {
            *why = "bad match flags";
            return -1;
        }
        out->event = frame_data(msg, f + 1)[0];
        if (read_records(msg, f + 2, out) != 0) {
            *why = "bad match records";
            return -1;
        }
        return no_body(msg, f + 3, out, why);
    case SPW_CMD_CREDIT:
    case SPW_CMD_REVOKE:
    case SPW_CMD_RETURN:
        if (read_service(msg, f, out) != 0) {
            *why = "bad service name";
            return -1;
        }
        if (read_u32(msg, f + 1, &out->count) != 0
            || (out->cmd == SPW_CMD_RETURN && out->count == 0)) {
            *why = "bad credit count";
            return -1;
        }
        if (out->cmd != SPW_CMD_CREDIT)
            return no_body(msg, f + 2, out, why);
        if (read_u32(msg, f + 2, &out->lease_ms) != 0 || out->lease_ms == 0) {
            *why = "bad lease";
            return -1;
        }
        return no_body(msg, f + 3, out, why);
    case SPW_CMD_HELLO:
        if (read_name(msg, f, &out->name, &out->name_len) != 0) {
            *why = "bad origin name";
            return -1;
        }
        return no_body(msg, f + 1, out, why);
    case SPW_CMD_MEMBER:
        if (f >= msg->count || frame_size(msg, f) != 1 || frame_data(msg, f)[0] < SPW_MEMBER_JOINED
            || frame_data(msg, f)[0] > SPW_MEMBER_LEFT) {
            *why = "bad member event";
            return -1;
        }
        out->event = frame_data(msg, f)[0];
        if (read_name(msg, f + 1, &out->name, &out->name_len) != 0
            || read_text(msg, f + 2, 0, SPW_MAX_ENDPOINT_LEN, &out->endpoint, &out->endpoint_len)
                   != 0
            || read_u64(msg, f + 3, &out->epoch) != 0) {
            *why = "bad member";
            return -1;
        }
        return no_body(msg, f + 4, out, why);
    case SPW_CMD_STATE:
        if (read_name(msg, f, &out->name, &out->name_len) != 0) {
            *why = "bad edge name";
            return -1;
        }
        if (read_u64(msg, f + 1, &out->epoch) != 0 || read_u64(msg, f + 2, &out->out) != 0
            || read_u64(msg, f + 3, &out->in) != 0) {
            *why = "bad state counters";
            return -1;
        }
        if (read_records(msg, f + 4, out) != 0) {
            *why = "bad service figures";
            return -1;
        }
        if (f + 5 == msg->count)
            return no_body(msg, f + 5, out, why);
        //  The lenders it cut off, if any.
        if (read_avoid(msg, f + 5, out) != 0) {
            *why = "bad avoid list";
            return -1;
        }
        if (f + 6 == msg->count)
            return no_body(msg, f + 6, out, why);
        //  Its flags (draining), if any: one byte, unknown bits ignored.
        if (frame_size(msg, f + 6) != 1) {
            *why = "bad state flags";
            return -1;
        }
        out->event = frame_data(msg, f + 6)[0] & SPW_STATE_KNOWN_FLAGS;
        return no_body(msg, f + 7, out, why);
    case SPW_CMD_DELEGATE:
        if (read_name(msg, f, &out->name, &out->name_len) != 0) {
            *why = "bad origin name";
            return -1;
        }
        if (read_u64(msg, f + 1, &out->id) != 0) {
            *why = "bad task key";
            return -1;
        }
        if (read_service(msg, f + 2, out) != 0) {
            *why = "bad service name";
            return -1;
        }
        if (read_u32(msg, f + 3, &out->timeout_ms) != 0 || out->timeout_ms == 0) {
            *why = "bad timeout";
            return -1;
        }
        return set_body(msg, f + 4, out, why);
    case SPW_CMD_DONE:
        if (read_u64(msg, f, &out->id) != 0) {
            *why = "bad task key";
            return -1;
        }
        if (read_status(msg, f + 1, &out->status) != 0) {
            *why = "bad status";
            return -1;
        }
        if (read_u32(msg, f + 2, &out->count) != 0) {
            *why = "bad credit count";
            return -1;
        }
        return set_body(msg, f + 3, out, why);
    }
    *why = "unknown command";
    return -1;
}

static int put_head(spw_msg_t *msg, spw_cmd_t cmd)
{
    uint8_t code = (uint8_t) cmd;
    if (spw_msg_add_mem(msg, SPW_PROTO_HEADER, SPW_PROTO_HEADER_LEN) != 0)
        return -1;
    return spw_msg_add_mem(msg, &code, 1);
}

static int put_u64(spw_msg_t *msg, uint64_t value)
{
    uint8_t bytes[8];
    spw_put_u64(bytes, value);
    return spw_msg_add_mem(msg, bytes, 8);
}

static int put_status(spw_msg_t *msg, spw_status_t status)
{
    uint8_t code = (uint8_t) status;
    return spw_msg_add_mem(msg, &code, 1);
}

static int put_text(spw_msg_t *msg, const char *text)
{
    return spw_msg_add_mem(msg, text, strlen(text));
}

static int put_u32(spw_msg_t *msg, uint32_t value)
{
    uint8_t bytes[4];
    spw_put_u32(bytes, value);
    return spw_msg_add_mem(msg, bytes, 4);
}

int spw_proto_put_request(spw_msg_t *msg, uint64_t request_id, const char *service,
                          uint32_t timeout_ms)
{
    uint8_t timeout[4];
    spw_put_u32(timeout, timeout_ms);
    if (!spw_service_name_valid(service, strlen(service)))
        return -1;
    if (put_head(msg, SPW_CMD_REQUEST) || put_u64(msg, request_id)
        || spw_msg_add_mem(msg, service, strlen(service))
        || spw_msg_add_mem(msg, timeout, 4))
        return -1;
    return 0;
}

int spw_proto_put_reply(spw_msg_t *msg, uint64_t request_id, spw_status_t status)
{
    if (put_head(msg, SPW_CMD_REPLY) || put_u64(msg, request_id) || put_status(msg, status))
        return -1;
    return 0;
}

int spw_proto_put_ready(spw_msg_t *msg, const char *service)
{
    return spw_proto_put_ready_slots(msg, service, 1);
}

int spw_proto_put_ready_slots(spw_msg_t *msg, const char *service, uint32_t slots)
{
    if (!spw_service_name_valid(service, strlen(service)) || slots < 1 || slots > SPW_MAX_SLOTS)
        return -1;
    if (put_head(msg, SPW_CMD_READY) || spw_msg_add_mem(msg, service, strlen(service)))
        return -1;
    //  One slot is said by saying nothing: READY as every edge reads it.
    return slots > 1 ? put_u32(msg, slots) : 0;
}

int spw_proto_put_task(spw_msg_t *msg, uint64_t task_key)
{
    if (put_head(msg, SPW_CMD_TASK) || put_u64(msg, task_key))
        return -1;
    return 0;
}

int spw_proto_put_result(spw_msg_t *msg, uint64_t task_key, spw_status_t status)
{
    if (put_head(msg, SPW_CMD_RESULT) || put_u64(msg, task_key) || put_status(msg, status))
        return -1;
    return 0;
}

int spw_proto_put_heartbeat(spw_msg_t *msg)
{
    return put_head(msg, SPW_CMD_HEARTBEAT);
}

int spw_proto_put_disconnect(spw_msg_t *msg)
{
    return put_head(msg, SPW_CMD_DISCONNECT);
}

int spw_proto_put_dismiss(spw_msg_t *msg, const char *reason, uint32_t retry_ms)
{
    if (strlen(reason) > SPW_MAX_TEXT_LEN)
        return -1;
    if (put_head(msg, SPW_CMD_DISCONNECT) || put_text(msg, reason) || put_u32(msg, retry_ms))
        return -1;
    return 0;
}

int spw_proto_put_accepted(spw_msg_t *msg, uint32_t heartbeat_ms, uint32_t liveness,
                           uint32_t slots, uint32_t max_bytes)
{
    if (put_head(msg, SPW_CMD_ACCEPTED) || put_u32(msg, heartbeat_ms) || put_u32(msg, liveness)
        || put_u32(msg, slots) || put_u32(msg, max_bytes))
        return -1;
    return 0;
}

int spw_proto_put_v1_reply(spw_msg_t *msg, uint64_t request_id, spw_status_t status)
{
    uint8_t code = (uint8_t) SPW_CMD_REPLY;
    if (spw_msg_add_mem(msg, SPW_PROTO_HEADER_V1, SPW_PROTO_HEADER_LEN)
        || spw_msg_add_mem(msg, &code, 1) || put_u64(msg, request_id) || put_status(msg, status))
        return -1;
    return 0;
}

static bool name_ok(const char *name)
{
    return name && spw_service_name_valid(name, strlen(name));
}

int spw_proto_put_register(spw_msg_t *msg, const char *name, uint64_t epoch,
                           const char *advertise, const char *zone)
{
    if (!name_ok(name) || !*advertise || strlen(advertise) > SPW_MAX_ENDPOINT_LEN
        || strlen(zone) > SPW_MAX_NAME_LEN)
        return -1;
    if (put_head(msg, SPW_CMD_REGISTER) || put_text(msg, name) || put_u64(msg, epoch)
        || put_text(msg, advertise) || put_text(msg, zone))
        return -1;
    return 0;
}

int spw_proto_put_welcome(spw_msg_t *msg, const char *state_endpoint, uint32_t heartbeat_ms,
                          uint32_t liveness)
{
    if (!*state_endpoint || strlen(state_endpoint) > SPW_MAX_ENDPOINT_LEN)
        return -1;
    if (put_head(msg, SPW_CMD_WELCOME) || put_text(msg, state_endpoint)
        || put_u32(msg, heartbeat_ms) || put_u32(msg, liveness))
        return -1;
    return 0;
}

int spw_proto_put_refused(spw_msg_t *msg, const char *reason, uint32_t retry_ms)
{
    size_t len = strlen(reason);
    if (put_head(msg, SPW_CMD_REFUSED)
        || spw_msg_add_mem(msg, reason, len < SPW_MAX_TEXT_LEN ? len : SPW_MAX_TEXT_LEN)
        || put_u32(msg, retry_ms))
        return -1;
    return 0;
}

//  Writes records into a frame in two passes over the same code: the first
//  (data NULL) measures and checks them, the second fills a frame of exactly
//  that size. No buffer outlives a call, so encoders are reentrant.
typedef struct {
    uint8_t *data;  // NULL while measuring
    size_t len;
} spw_records_t;

static int record_text(spw_records_t *r, const char *text, size_t text_len)
{
    if (text_len > 255 || r->len + 1 + text_len > SPW_MAX_RECORDS_LEN)
        return -1;
    if (r->data) {
        r->data[r->len] = (uint8_t) text_len;
        memcpy(r->data + r->len + 1, text, text_len);
    }
    r->len += 1 + text_len;
    return 0;
}

//  Appends an unsigned integer of size bytes (1, 4 or 8), big-endian.
static int record_uint(spw_records_t *r, uint64_t value, size_t size)
{
    if (r->len + size > SPW_MAX_RECORDS_LEN)
        return -1;
    for (size_t i = 0; r->data && i < size; i++)
        r->data[r->len + i] = (uint8_t) (value >> (8 * (size - 1 - i)));
    r->len += size;
    return 0;
}

static int record_u32(spw_records_t *r, uint32_t value)
{
    return record_uint(r, value, 4);
}

static int write_matches(spw_records_t *r, const void *items, size_t count)
{
    const spw_match_entry_t *matches = items;
    for (size_t i = 0; i < count; i++) {
        const spw_match_entry_t *m = &matches[i];
        if (!spw_service_name_valid(m->name, m->name_len) || m->endpoint_len == 0
            || m->slots_milli == 0
            || (m->role != SPW_MATCH_LEND_TO && m->role != SPW_MATCH_BORROW_FROM)
            || record_text(r, m->name, m->name_len)
            || record_text(r, m->endpoint, m->endpoint_len) || record_uint(r, m->epoch, 8)
            || record_uint(r, (uint8_t) m->role, 1)
            || record_u32(r, m->slots_milli))
            return -1;
    }
    return 0;
}

static int write_figures(spw_records_t *r, const void *items, size_t count)
{
    const spw_service_figures_t *figures = items;
    for (size_t i = 0; i < count; i++) {
        const spw_service_figures_t *f = &figures[i];
        if (!spw_service_name_valid(f->service, f->service_len)
            || record_text(r, f->service, f->service_len) || record_u32(r, f->workers)
            || record_u32(r, f->idle) || record_u32(r, f->queued) || record_u32(r, f->running)
            || record_u32(r, f->rate_milli) || record_u32(r, f->lent)
            || record_u32(r, f->borrowed) || f->role > SPW_ROLE_BORROWER
            || record_uint(r, f->role, 1))
            return -1;
    }
    return 0;
}

//  Appends one frame holding the records that write() produces.
static int put_records(spw_msg_t *msg, int (*write)(spw_records_t *, const void *, size_t),
                       const void *items, size_t count)
{
    spw_records_t r = { NULL, 0 };
    if (write(&r, items, count) != 0 || msg->count >= SPW_MAX_FRAMES)
        return -1;
    zmq_msg_t *frame = &msg->frame[msg->count];
    if (zmq_msg_init_size(frame, r.len) != 0)
        return -1;
    spw_records_t fill = { zmq_msg_data(frame), 0 };
    write(&fill, items, count);
    msg->count++;
    return 0;
}

int spw_proto_put_match(spw_msg_t *msg, const char *service, uint8_t flags,
                        const spw_match_entry_t *matches, size_t count)
{
    if (!name_ok(service) || (flags & ~SPW_MATCH_NO_OFFER))
        return -1;
    if (put_head(msg, SPW_CMD_MATCH) || put_text(msg, service) || spw_msg_add_mem(msg, &flags, 1)
        || put_records(msg, write_matches, matches, count))
        return -1;
    return 0;
}

int spw_proto_put_member(spw_msg_t *msg, spw_member_event_t event, const char *name,
                         const char *endpoint, uint64_t epoch)
{
    uint8_t code = (uint8_t) event;
    if (!name_ok(name) || strlen(endpoint) > SPW_MAX_ENDPOINT_LEN)
        return -1;
    if (put_head(msg, SPW_CMD_MEMBER) || spw_msg_add_mem(msg, &code, 1) || put_text(msg, name)
        || put_text(msg, endpoint) || put_u64(msg, epoch))
        return -1;
    return 0;
}

int spw_proto_put_state(spw_msg_t *msg, const char *name, uint64_t epoch, uint64_t out,
                        uint64_t in, const spw_service_figures_t *figures, size_t count)
{
    if (!name_ok(name))
        return -1;
    if (put_head(msg, SPW_CMD_STATE) || put_text(msg, name) || put_u64(msg, epoch)
        || put_u64(msg, out) || put_u64(msg, in)
        || put_records(msg, write_figures, figures, count))
        return -1;
    return 0;
}

int spw_proto_put_avoid(spw_msg_t *msg, const char *const *names, size_t count)
{
    uint8_t list[SPW_MAX_AVOID * (SPW_MAX_NAME_LEN + 1)];
    size_t len = 0;
    if (count > SPW_MAX_AVOID)
        return -1;
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(names[i]);
        if (!spw_service_name_valid(names[i], n))
            return -1;
        list[len++] = (uint8_t) n;
        memcpy(list + len, names[i], n);
        len += n;
    }
    return spw_msg_add_mem(msg, list, len);
}

int spw_proto_put_state_flags(spw_msg_t *msg, uint8_t flags)
{
    return spw_msg_add_mem(msg, &flags, 1);
}

int spw_proto_put_delegate(spw_msg_t *msg, const char *origin, uint64_t task_key,
                           const char *service, uint32_t timeout_ms)
{
    if (!name_ok(origin) || !name_ok(service) || timeout_ms == 0)
        return -1;
    if (put_head(msg, SPW_CMD_DELEGATE) || put_text(msg, origin) || put_u64(msg, task_key)
        || put_text(msg, service) || put_u32(msg, timeout_ms))
        return -1;
    return 0;
}

int spw_proto_put_done(spw_msg_t *msg, uint64_t task_key, spw_status_t status,
                       uint32_t credit)
{
    if (put_head(msg, SPW_CMD_DONE) || put_u64(msg, task_key) || put_status(msg, status)
        || put_u32(msg, credit))
        return -1;
    return 0;
}

//  CREDIT, REVOKE and RETURN: a service and a count, CREDIT also a lease.
static int put_credit_like(spw_msg_t *msg, spw_cmd_t cmd, const char *service, uint32_t count)
{
    if (!name_ok(service))
        return -1;
    if (put_head(msg, cmd) || put_text(msg, service) || put_u32(msg, count))
        return -1;
    return 0;
}

int spw_proto_put_credit(spw_msg_t *msg, const char *service, uint32_t count, uint32_t lease_ms)
{
    if (lease_ms == 0 || put_credit_like(msg, SPW_CMD_CREDIT, service, count))
        return -1;
    return put_u32(msg, lease_ms);
}

int spw_proto_put_revoke(spw_msg_t *msg, const char *service, uint32_t count)
{
    return put_credit_like(msg, SPW_CMD_REVOKE, service, count);
}

int spw_proto_put_return(spw_msg_t *msg, const char *service, uint32_t count)
{
    if (count == 0)
        return -1;
    return put_credit_like(msg, SPW_CMD_RETURN, service, count);
}

int spw_proto_put_hello(spw_msg_t *msg, const char *origin)
{
    if (!name_ok(origin))
        return -1;
    if (put_head(msg, SPW_CMD_HELLO) || put_text(msg, origin))
        return -1;
    return 0;
}
