//  log.c: one line an event, key=value text or JSON, to stderr.
//
//  A process has one log identity (role and name), set once at start; that
//  is the only state here, and it is written before any other thread could
//  exist. The JSON form is derived from the same key=value text, so the two
//  formats always carry the same fields: values are split at spaces unless
//  they are double-quoted.

#include "spw_log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

static struct {
    char role[16];
    char name[SPW_NAME_MAX + 1];
    spw_log_level_t level;
    spw_log_format_t format;
} log_self = { "spillway", "-", SPW_LOG_INFO, SPW_LOG_TEXT };

static const char *level_names[] = { "debug", "info", "warning", "error" };

void spw_log_open(const char *role, const char *name, spw_log_level_t level,
                  spw_log_format_t format)
{
    snprintf(log_self.role, sizeof log_self.role, "%s", role);
    snprintf(log_self.name, sizeof log_self.name, "%s", name && *name ? name : "-");
    log_self.level = level;
    log_self.format = format;
}

//  True if stderr is the journal's stream (systemd says so in
//  JOURNAL_STREAM, "DEVICE:INODE" of it): journald stamps every line, so a
//  text line carries no second timestamp there.
static bool to_journal(void)
{
    static int known = -1;
    if (known < 0) {
        const char *stream = getenv("JOURNAL_STREAM");
        unsigned long long dev = 0, ino = 0;
        struct stat st;
        known = stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0
             && (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
    }
    return known == 1;
}

bool spw_log_enabled(spw_log_level_t level)
{
    return level >= log_self.level;
}

static void format_time(char *buf, size_t size)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ", (int) (tv.tv_usec / 1000));
}

//  Writes s as a JSON string body, escaping what JSON requires.
static void put_json_text(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
}

//  Turns "k=v k2=\"v 2\"" into ,"k":"v","k2":"v 2".
static void put_json_pairs(FILE *out, const char *pairs)
{
    const char *p = pairs;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *key = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        size_t key_len = (size_t) (p - key);
        const char *value = "";
        size_t value_len = 0;
        if (*p == '=') {
            p++;
            if (*p == '"') {
                value = ++p;
                while (*p && *p != '"')
                    p++;
                value_len = (size_t) (p - value);
                if (*p == '"')
                    p++;
            }
            else {
                value = p;
                while (*p && *p != ' ')
                    p++;
                value_len = (size_t) (p - value);
            }
        }
        fputs(",\"", out);
        put_json_text(out, key, key_len);
        fputs("\":\"", out);
        put_json_text(out, value, value_len);
        fputc('"', out);
    }
}

//  Copies text into out (of size bytes, size > 0) with every control
//  character written as \xNN: a value from outside (a peer's name, zone or
//  reason) cannot end the line and forge another one.
static void escape_controls(const char *text, char *out, size_t size)
{
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *) text; *c && n + 1 < size; c++) {
        if (*c >= 0x20 && *c != 0x7f)
            out[n++] = (char) *c;
        else if (n + 5 < size)
            n += (size_t) snprintf(out + n, size - n, "\\x%02x", *c);
        else
            break;
    }
    out[n] = 0;
}

void spw_log(spw_log_level_t level, const char *event, const char *fmt, ...)
{
    if (!spw_log_enabled(level))
        return;
    char raw[1024], pairs[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(raw, sizeof raw, fmt, args);
    va_end(args);
    escape_controls(raw, pairs, sizeof pairs);
    char stamp[40];
    format_time(stamp, sizeof stamp);
    const char *level_name = level_names[level <= SPW_LOG_ERROR ? level : SPW_LOG_ERROR];

    char line[1400];
    FILE *out = fmemopen(line, sizeof line, "w");
    if (!out)
        return;
    if (log_self.format == SPW_LOG_JSON) {
        fprintf(out, "{\"ts\":\"%s\",\"level\":\"%s\",\"%s\":\"", stamp, level_name,
                log_self.role);
        put_json_text(out, log_self.name, strlen(log_self.name));
        fprintf(out, "\",\"event\":\"%s\"", event);
        put_json_pairs(out, pairs);
        fputs("}\n", out);
    }
    else if (to_journal())
        fprintf(out, "level=%s %s=%s event=%s%s%s\n", level_name, log_self.role,
                log_self.name, event, *pairs ? " " : "", pairs);
    else
        fprintf(out, "%s level=%s %s=%s event=%s%s%s\n", stamp, level_name, log_self.role,
                log_self.name, event, *pairs ? " " : "", pairs);
    fclose(out);
    line[sizeof line - 2] = '\n';
    line[sizeof line - 1] = 0;
    fputs(line, stderr);
}

const char *spw_log_bytes(const void *data, size_t size, char *buf, size_t bufsize)
{
    const unsigned char *bytes = data;
    bool printable = size > 0;
    for (size_t i = 0; i < size && printable; i++)
        printable = isgraph(bytes[i]) && bytes[i] != '"';
    if (printable)
        snprintf(buf, bufsize, "%.*s", (int) size, (const char *) bytes);
    else {
        size_t n = 0;
        buf[0] = 0;
        for (size_t i = 0; i < size && n + 3 < bufsize; i++)
            n += (size_t) snprintf(buf + n, bufsize - n, "%02x", bytes[i]);
    }
    return buf;
}
