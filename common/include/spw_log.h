//  spw_log.h: operator logs, one line an event.
//
//  Every line carries a timestamp, the level, the process's role and name
//  (edge=A, hub=H, worker=..., as given to spw_log_open) and the event, then
//  the caller's key=value pairs. In JSON format the same pairs become one
//  object a line. Lines go to stderr, below the configured level nothing is
//  formatted.

#ifndef SPW_LOG_H_INCLUDED
#define SPW_LOG_H_INCLUDED

#include "spw_config.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Sets the role ("edge"), the name ("A"), the level and the format of lines.
void spw_log_open(const char *role, const char *name, spw_log_level_t level,
                  spw_log_format_t format);

//  True if a line at level would be written.
bool spw_log_enabled(spw_log_level_t level);

//  Writes one line: event, then fmt's "key=value key=value" pairs. A value
//  that may hold spaces should be written with spw_log's quoting, as
//  key="%s"; quotes inside it are not escaped, so keep them out.
void spw_log(spw_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

//  Formats identity bytes as printable text (hex unless all printable) into
//  buf, for logs. Returns buf.
const char *spw_log_bytes(const void *data, size_t size, char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif

#endif
