//  config.c: the one configuration loader, for files and for flags.
//
//  A config file is one YAML mapping of scalar keys to scalar values; the
//  loader walks libyaml's event stream once, looks every key up in the
//  program's key table (settings.c) and stores the value straight into the
//  settings struct at the key's offset. There is no document tree and no
//  global state: what the loader remembers between events is the phase of
//  the walk, the key whose value comes next and which keys it has seen.
//
//  Every value, whatever its source (the file, a flag, the table's own
//  default), goes through apply_value(), so a value is accepted or refused
//  for the same reason everywhere. That function only builds the message;
//  its callers prefix where the value came from ("FILE:LINE:COL: ",
//  "--flag: ", "defaults: "). The first error stops the walk: the settings
//  may then be partly written, and callers are expected to exit. A value is
//  stored only once it is known to be valid, so a refused flag leaves the
//  setting as it was. Messages are one line: bad values are quoted with
//  control characters escaped and cut after VALUE_SHOWN_MAX bytes.

#include "spw_config.h"
#include "spw_proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define VALUE_SHOWN_MAX  96   // bytes of a bad value quoted in a message
#define SHOWN_SIZE       (VALUE_SHOWN_MAX * 4 + 4)   // every byte escaped, "..." and NUL
#define SUGGEST_NAME_MAX 64   // longest key name the did-you-mean compares
#define YAML_NULL_TAG    "tag:yaml.org,2002:null"

//  Where the walk over the event stream is.
typedef enum {
    AT_STREAM_START,   // nothing read yet
    AT_DOCUMENT,       // between documents: a document or the end of the stream
    AT_TOP,            // the top node of the document
    AT_KEY,            // in the mapping: a key or the mapping's end
    AT_VALUE,          // in the mapping: the value of key
    AT_DOCUMENT_END,   // after the top node
    AT_DONE,           // stream end reached
} phase_t;

//  The state of one spw_config_load() call.
typedef struct {
    const char *path;
    const spw_key_t *keys;
    void *settings;
    bool *seen;              // one flag per key of the table, for duplicates
    const spw_key_t *key;    // the key whose value comes next (AT_VALUE)
    bool had_document;
    phase_t phase;
    char *err;
    size_t errlen;
} loader_t;

//  Writes a formatted message into err, if the caller gave room for one.
__attribute__((format(printf, 3, 4)))
static void put_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
}

//  Copies text into out as it is quoted in a message: one line, bounded.
static const char *show(char *out, const char *text, size_t len)
{
    size_t cut = len;
    if (cut > VALUE_SHOWN_MAX) {
        cut = VALUE_SHOWN_MAX;
        //  Do not cut a UTF-8 sequence in half.
        while (cut > 0 && ((unsigned char) text[cut] & 0xC0) == 0x80)
            cut--;
    }
    size_t used = 0;
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c == '\n')
            used += (size_t) sprintf(out + used, "\\n");
        else if (c == '\t')
            used += (size_t) sprintf(out + used, "\\t");
        else if (c < 0x20 || c == 0x7F)
            used += (size_t) sprintf(out + used, "\\x%02X", c);
        else
            out[used++] = (char) c;
    }
    if (cut < len)
        used += (size_t) sprintf(out + used, "...");
    out[used] = '\0';
    return out;
}

//  True if text (len bytes, NUL-terminated) is one endpoint, or for a list
//  key up to SPW_ENDPOINT_LIST of them separated by commas.
static bool endpoints_valid(const spw_key_t *key, const char *text, size_t len)
{
    if (!key->list)
        return spw_endpoint_valid(text);
    size_t count = 0;
    for (size_t at = 0; at <= len;) {
        const char *comma = memchr(text + at, ',', len - at);
        size_t end = comma ? (size_t) (comma - text) : len;
        char one[SPW_ENDPOINT_MAX];
        if (end - at >= sizeof one || ++count > SPW_ENDPOINT_LIST)
            return false;
        memcpy(one, text + at, end - at);
        one[end - at] = '\0';
        if (!spw_endpoint_valid(one))
            return false;
        at = end + 1;
    }
    return true;
}

//  True for the kinds of key stored as a char array.
static bool is_text_key(const spw_key_t *key)
{
    return key->type == SPW_KEY_STRING || key->type == SPW_KEY_NAME
        || key->type == SPW_KEY_ENDPOINT;
}

//  True if the table entry can be used at all (a programmer's error if not).
static bool key_entry_sane(const spw_key_t *key)
{
    switch (key->type) {
    case SPW_KEY_STRING:
    case SPW_KEY_NAME:
    case SPW_KEY_ENDPOINT:
        return key->size >= 2;
    case SPW_KEY_INT:
        return key->min <= key->max;
    case SPW_KEY_ENUM:
        return key->choices && key->choices[0];
    }
    return false;
}

//  Parses decimal digits with an optional leading '-' into an int64_t.
static bool parse_int64(const char *text, size_t len, int64_t *out)
{
    size_t i = 0;
    bool negative = len > 0 && text[0] == '-';
    if (negative)
        i = 1;
    if (i == len)
        return false;
    uint64_t limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    uint64_t value = 0;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        uint64_t digit = (uint64_t) (text[i] - '0');
        if (value > (limit - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    if (!negative)
        *out = (int64_t) value;
    else if (value == (uint64_t) INT64_MAX + 1)
        *out = INT64_MIN;
    else
        *out = -(int64_t) value;
    return true;
}

//  Validates and stores an integer value.
static int apply_int(const spw_key_t *key, char *field, const char *text, size_t len,
                     char *msg, size_t msglen)
{
    char shown[SHOWN_SIZE];
    int64_t value;
    if (!parse_int64(text, len, &value)) {
        put_error(msg, msglen, "'%s' must be an integer, got '%s'", key->name,
                  show(shown, text, len));
        return -1;
    }
    if (value < key->min || value > key->max) {
        put_error(msg, msglen, "'%s' must be between %" PRId64 " and %" PRId64 ", got %" PRId64,
                  key->name, key->min, key->max, value);
        return -1;
    }
    memcpy(field, &value, sizeof value);
    return 0;
}

//  Validates and stores an enum value as the index of its choice.
static int apply_enum(const spw_key_t *key, char *field, const char *text, size_t len,
                      char *msg, size_t msglen)
{
    for (int i = 0; key->choices[i]; i++) {
        if (strlen(key->choices[i]) == len && memcmp(key->choices[i], text, len) == 0) {
            memcpy(field, &i, sizeof i);
            return 0;
        }
    }
    char list[SPW_ERROR_MAX] = "";
    size_t used = 0;
    for (int i = 0; key->choices[i] && used < sizeof list; i++)
        used += (size_t) snprintf(list + used, sizeof list - used, "%s%s",
                                  i > 0 ? ", " : "", key->choices[i]);
    char shown[SHOWN_SIZE];
    put_error(msg, msglen, "'%s' must be one of %s, got '%s'", key->name, list,
              show(shown, text, len));
    return -1;
}

//  Validates and stores a string, name or endpoint value.
static int apply_text(const spw_key_t *key, char *field, const char *text, size_t len,
                      char *msg, size_t msglen)
{
    char shown[SHOWN_SIZE];
    size_t max = key->size - 1;
    if (len == 0 && key->optional) {
        field[0] = '\0';
        return 0;
    }
    switch (key->type) {
    case SPW_KEY_NAME:
        if (max > SPW_NAME_MAX)
            max = SPW_NAME_MAX;
        if (len > max || !spw_service_name_valid(text, len)) {
            put_error(msg, msglen, "'%s' must be 1 to %zu characters of letters, digits, "
                      "'.', '_' or '-', got '%s'", key->name, max, show(shown, text, len));
            return -1;
        }
        break;
    case SPW_KEY_ENDPOINT:
        if (len > max) {
            put_error(msg, msglen, "'%s' is too long (at most %zu characters)", key->name, max);
            return -1;
        }
        if (memchr(text, '\0', len) || !endpoints_valid(key, text, len)) {
            put_error(msg, msglen, "'%s' is not a ZeroMQ endpoint%s: '%s' (expected "
                      "tcp://HOST:PORT, ipc://PATH or inproc://NAME%s)", key->name,
                      key->list ? " or a list of them" : "", show(shown, text, len),
                      key->list ? ", or up to 4 of them separated by commas" : "");
            return -1;
        }
        break;
    default:
        if (len == 0) {
            put_error(msg, msglen, "'%s' needs a value", key->name);
            return -1;
        }
        if (len > max) {
            put_error(msg, msglen, "'%s' is too long (at most %zu characters)", key->name, max);
            return -1;
        }
        if (memchr(text, '\0', len)) {
            put_error(msg, msglen, "'%s' must not contain a NUL character", key->name);
            return -1;
        }
        break;
    }
    memcpy(field, text, len);
    field[len] = '\0';
    return 0;
}

//  Validates one value for key and stores it in settings, or writes why not
//  into msg (without a prefix). is_null is YAML's null: no value at all.
static int apply_value(const spw_key_t *key, void *settings, const char *text, size_t len,
                       bool is_null, char *msg, size_t msglen)
{
    char *field = (char *) settings + key->offset;
    if (!key_entry_sane(key)) {
        put_error(msg, msglen, "'%s' is declared wrongly in the key table", key->name);
        return -1;
    }
    if (is_null) {
        if (is_text_key(key) && key->optional) {
            field[0] = '\0';
            return 0;
        }
        put_error(msg, msglen, "'%s' needs a value", key->name);
        return -1;
    }
    if (key->type == SPW_KEY_INT)
        return apply_int(key, field, text, len, msg, msglen);
    if (key->type == SPW_KEY_ENUM)
        return apply_enum(key, field, text, len, msg, msglen);
    return apply_text(key, field, text, len, msg, msglen);
}

//  Edit distance from what was typed (a '-' read as '_') to a key's name;
//  SIZE_MAX if the name is too long to compare.
static size_t edit_distance(const char *typed, size_t typed_len, const char *name)
{
    size_t name_len = strlen(name);
    if (name_len > SUGGEST_NAME_MAX)
        return SIZE_MAX;
    size_t row[SUGGEST_NAME_MAX + 1];
    for (size_t j = 0; j <= name_len; j++)
        row[j] = j;
    for (size_t i = 1; i <= typed_len; i++) {
        char c = typed[i - 1] == '-' ? '_' : typed[i - 1];
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= name_len; j++) {
            size_t above = row[j];
            size_t best = diagonal + (c == name[j - 1] ? 0 : 1);
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diagonal = above;
            row[j] = best;
        }
    }
    return row[name_len];
}

//  Writes "unknown key 'K'" into msg, with the closest known key if one is
//  near enough: within 2 edits, or a third of the typed key's length. A
//  flag that was typed with dashes gets its suggestion with dashes.
static void unknown_key_message(const spw_key_t *keys, const char *typed, size_t len,
                                bool is_flag, char *msg, size_t msglen)
{
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    const spw_key_t *closest = NULL;
    size_t closest_distance = SIZE_MAX;
    for (const spw_key_t *key = keys; key->name; key++) {
        size_t name_len = strlen(key->name);
        //  The length difference bounds the distance; it also keeps a huge
        //  typed key from costing more than a few comparisons.
        size_t gap = name_len > len ? name_len - len : len - name_len;
        if (gap > limit)
            continue;
        size_t distance = edit_distance(typed, len, key->name);
        if (distance <= limit && distance < closest_distance) {
            closest = key;
            closest_distance = distance;
        }
    }
    char shown[SHOWN_SIZE];
    show(shown, typed, len);
    if (!closest) {
        put_error(msg, msglen, "unknown key '%s'", shown);
        return;
    }
    char suggestion[SUGGEST_NAME_MAX + 1];
    snprintf(suggestion, sizeof suggestion, "%s", closest->name);
    if (is_flag && memchr(typed, '-', len))
        for (char *c = suggestion; *c; c++)
            if (*c == '_')
                *c = '-';
    put_error(msg, msglen, "unknown key '%s' (did you mean '%s'?)", shown, suggestion);
}

//  Finds a key by exactly its YAML name, as a file must spell it.
static const spw_key_t *find_yaml_key(const spw_key_t *keys, const char *text, size_t len)
{
    for (const spw_key_t *key = keys; key->name; key++)
        if (strlen(key->name) == len && memcmp(key->name, text, len) == 0)
            return key;
    return NULL;
}

//  True if a scalar event is YAML's null: empty, '~' or 'null' unquoted.
static bool scalar_is_null(const yaml_event_t *event)
{
    const char *tag = (const char *) event->data.scalar.tag;
    if (tag)
        return strcmp(tag, YAML_NULL_TAG) == 0 || strcmp(tag, "!!null") == 0;
    if (event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *value = (const char *) event->data.scalar.value;
    return strcmp(value, "") == 0 || strcmp(value, "~") == 0 || strcmp(value, "null") == 0
        || strcmp(value, "Null") == 0 || strcmp(value, "NULL") == 0;
}

//  Writes "FILE:LINE:COL: message" for a node at mark; returns -1.
static int fail_at(loader_t *self, yaml_mark_t mark, const char *message)
{
    put_error(self->err, self->errlen, "%s:%zu:%zu: %s", self->path, mark.line + 1,
              mark.column + 1, message);
    return -1;
}

//  Handles a key of the top mapping: it must be known, and new.
static int take_key(loader_t *self, const yaml_event_t *event)
{
    char msg[SPW_ERROR_MAX];
    const char *text = (const char *) event->data.scalar.value;
    size_t len = event->data.scalar.length;
    const spw_key_t *key = find_yaml_key(self->keys, text, len);
    if (!key) {
        unknown_key_message(self->keys, text, len, false, msg, sizeof msg);
        return fail_at(self, event->start_mark, msg);
    }
    size_t index = (size_t) (key - self->keys);
    if (self->seen[index]) {
        snprintf(msg, sizeof msg, "duplicate key '%s'", key->name);
        return fail_at(self, event->start_mark, msg);
    }
    self->seen[index] = true;
    self->key = key;
    self->phase = AT_VALUE;
    return 0;
}

//  Handles the node after a key: a scalar is applied, anything else refused.
static int take_value(loader_t *self, const yaml_event_t *event)
{
    char msg[SPW_ERROR_MAX];
    if (event->type == YAML_SCALAR_EVENT) {
        if (apply_value(self->key, self->settings, (const char *) event->data.scalar.value,
                        event->data.scalar.length, scalar_is_null(event), msg, sizeof msg))
            return fail_at(self, event->start_mark, msg);
        self->phase = AT_KEY;
        return 0;
    }
    if (event->type == YAML_ALIAS_EVENT)
        snprintf(msg, sizeof msg, "'%s' must be a single value, not an alias", self->key->name);
    else
        snprintf(msg, sizeof msg, "'%s' must be a single value", self->key->name);
    return fail_at(self, event->start_mark, msg);
}

//  Advances the walk by one event. Returns 0 to go on, -1 on error.
static int take_event(loader_t *self, const yaml_event_t *event)
{
    switch (self->phase) {
    case AT_STREAM_START:
        if (event->type == YAML_STREAM_START_EVENT) {
            self->phase = AT_DOCUMENT;
            return 0;
        }
        break;
    case AT_DOCUMENT:
        if (event->type == YAML_STREAM_END_EVENT) {
            self->phase = AT_DONE;
            return 0;
        }
        if (event->type == YAML_DOCUMENT_START_EVENT) {
            if (self->had_document)
                return fail_at(self, event->start_mark, "expected one YAML document, found another");
            self->had_document = true;
            self->phase = AT_TOP;
            return 0;
        }
        break;
    case AT_TOP:
        if (event->type == YAML_MAPPING_START_EVENT) {
            self->phase = AT_KEY;
            return 0;
        }
        if (event->type == YAML_SCALAR_EVENT && scalar_is_null(event)) {
            self->phase = AT_DOCUMENT_END;   // "---" alone: an empty config
            return 0;
        }
        break;
    case AT_KEY:
        if (event->type == YAML_MAPPING_END_EVENT) {
            self->phase = AT_DOCUMENT_END;
            return 0;
        }
        if (event->type == YAML_SCALAR_EVENT)
            return take_key(self, event);
        return fail_at(self, event->start_mark, "a key must be a plain name");
    case AT_VALUE:
        return take_value(self, event);
    case AT_DOCUMENT_END:
        if (event->type == YAML_DOCUMENT_END_EVENT) {
            self->phase = AT_DOCUMENT;
            return 0;
        }
        break;
    case AT_DONE:
        break;
    }
    return fail_at(self, event->start_mark, "expected a mapping of keys to values");
}

//  Finds the line and column of a byte offset in file (reader errors give
//  only the offset); columns count characters, as libyaml's marks do.
static yaml_mark_t mark_of_offset(FILE *file, size_t offset)
{
    yaml_mark_t mark = { .index = offset, .line = 0, .column = 0 };
    if (fseek(file, 0, SEEK_SET) != 0)
        return mark;
    for (size_t i = 0; i < offset; i++) {
        int c = fgetc(file);
        if (c == EOF)
            break;
        if (c == '\n') {
            mark.line++;
            mark.column = 0;
        }
        else if ((c & 0xC0) != 0x80)
            mark.column++;
    }
    return mark;
}

//  Writes libyaml's own error, at the position where it found it.
static int fail_parser(loader_t *self, const yaml_parser_t *parser, FILE *file)
{
    if (parser->error == YAML_MEMORY_ERROR || !parser->problem) {
        put_error(self->err, self->errlen, "%s: YAML error: out of memory", self->path);
        return -1;
    }
    yaml_mark_t mark = parser->error == YAML_READER_ERROR
                     ? mark_of_offset(file, parser->problem_offset) : parser->problem_mark;
    put_error(self->err, self->errlen, "%s:%zu:%zu: YAML error: %s", self->path,
              mark.line + 1, mark.column + 1, parser->problem);
    return -1;
}

//  Runs the walk over an open file; the caller owns file.
static int load_file(loader_t *self, FILE *file)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        put_error(self->err, self->errlen, "%s: YAML error: out of memory", self->path);
        return -1;
    }
    yaml_parser_set_input_file(&parser, file);
    int rc = 0;
    while (rc == 0 && self->phase != AT_DONE) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            rc = fail_parser(self, &parser, file);
            break;
        }
        rc = take_event(self, &event);
        yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);
    return rc;
}

//  Applies each key's default text as if a file had given it.
int spw_config_defaults(const spw_key_t *keys, void *settings, char *err, size_t errlen)
{
    if (!keys || !settings) {
        put_error(err, errlen, "defaults: no key table or no settings");
        return -1;
    }
    char msg[SPW_ERROR_MAX];
    for (const spw_key_t *key = keys; key->name; key++) {
        if (!key_entry_sane(key)) {
            put_error(err, errlen, "defaults: '%s' is declared wrongly in the key table",
                      key->name);
            return -1;
        }
        if (!key->default_value)
            continue;
        if (apply_value(key, settings, key->default_value, strlen(key->default_value), false,
                        msg, sizeof msg)) {
            put_error(err, errlen, "defaults: %s", msg);
            return -1;
        }
    }
    return 0;
}

//  Reads one YAML mapping from path into settings; the first error wins.
int spw_config_load(const char *path, const spw_key_t *keys, void *settings,
                    char *err, size_t errlen)
{
    if (!path || !keys || !settings) {
        put_error(err, errlen, "%s: cannot open: %s", path ? path : "(no path)",
                  strerror(EINVAL));
        return -1;
    }
    FILE *file = fopen(path, "rb");
    if (!file) {
        put_error(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat info;
    if (fstat(fileno(file), &info) == 0 && S_ISDIR(info.st_mode)) {
        put_error(err, errlen, "%s: cannot open: %s", path, strerror(EISDIR));
        fclose(file);
        return -1;
    }
    size_t count = 0;
    while (keys[count].name)
        count++;
    loader_t loader = {
        .path = path, .keys = keys, .settings = settings,
        .seen = calloc(count + 1, sizeof(bool)),
        .phase = AT_STREAM_START, .err = err, .errlen = errlen,
    };
    int rc = -1;
    if (loader.seen)
        rc = load_file(&loader, file);
    else
        put_error(err, errlen, "%s: out of memory", path);
    free(loader.seen);
    fclose(file);
    return rc;
}

//  Sets one key from a flag's text, validated exactly like a file value.
int spw_config_set(const spw_key_t *keys, void *settings, const char *key,
                   const char *value, const char *origin, char *err, size_t errlen)
{
    char msg[SPW_ERROR_MAX];
    if (!origin)
        origin = key ? key : "(no key)";
    if (!keys || !settings || !key) {
        put_error(err, errlen, "%s: no key table, settings or key", origin);
        return -1;
    }
    const spw_key_t *found = spw_config_key(keys, key);
    if (!found) {
        unknown_key_message(keys, key, strlen(key), true, msg, sizeof msg);
        put_error(err, errlen, "%s: %s", origin, msg);
        return -1;
    }
    if (apply_value(found, settings, value ? value : "", value ? strlen(value) : 0, !value,
                    msg, sizeof msg)) {
        put_error(err, errlen, "%s: %s", origin, msg);
        return -1;
    }
    return 0;
}

//  Reports the first required text key that is still empty.
int spw_config_check(const spw_key_t *keys, const void *settings, const char *where,
                     char *err, size_t errlen)
{
    if (!keys || !settings) {
        put_error(err, errlen, "%s: no key table or no settings", where ? where : "config");
        return -1;
    }
    //  Only text keys can tell "never set" (empty) from a value.
    for (const spw_key_t *key = keys; key->name; key++) {
        const char *field = (const char *) settings + key->offset;
        if (key->required && is_text_key(key) && field[0] == '\0') {
            put_error(err, errlen, "%s: missing required key '%s'", where ? where : "config",
                      key->name);
            return -1;
        }
    }
    return 0;
}

//  Finds a key by its YAML name, or by its flag spelling with '-' for '_'.
const spw_key_t *spw_config_key(const spw_key_t *keys, const char *name)
{
    if (!keys || !name)
        return NULL;
    for (const spw_key_t *key = keys; key->name; key++) {
        size_t i = 0;
        while (key->name[i] && (name[i] == key->name[i]
                                || (name[i] == '-' && key->name[i] == '_')))
            i++;
        if (key->name[i] == '\0' && name[i] == '\0')
            return key;
    }
    return NULL;
}

//  True if text is "*" or a decimal port 1..65535.
static bool tcp_port_valid(const char *text)
{
    if (strcmp(text, "*") == 0)
        return true;
    size_t len = strlen(text);
    if (len == 0 || len > 5)
        return false;
    long port = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        port = port * 10 + (text[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

//  True if host is "*", a name or IPv4 address, or a bracketed IPv6 address.
static bool tcp_host_valid(const char *host, size_t len)
{
    if (len == 1 && host[0] == '*')
        return true;
    if (len > 0 && host[0] == '[') {
        if (len < 3 || host[len - 1] != ']')
            return false;
        for (size_t i = 1; i < len - 1; i++) {
            char c = host[i];
            bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                   || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
            if (!ok)
                return false;
        }
        return true;
    }
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = host[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || c == '.' || c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

//  True for tcp://HOST:PORT, ipc://PATH or inproc://NAME, as spw_config.h says.
bool spw_endpoint_valid(const char *text)
{
    if (!text)
        return false;
    if (strncmp(text, "ipc://", 6) == 0)
        return text[6] != '\0';
    if (strncmp(text, "inproc://", 9) == 0)
        return text[9] != '\0';
    if (strncmp(text, "tcp://", 6) != 0)
        return false;
    const char *address = text + 6;
    const char *colon = strrchr(address, ':');
    if (!colon)
        return false;
    return tcp_host_valid(address, (size_t) (colon - address)) && tcp_port_valid(colon + 1);
}
