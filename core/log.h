/* Structured logging in etcd's zap JSON format: one line per call on the log fd (stderr by
 * default), {"level":..,"ts":..,"caller":..,"msg":..,<fields in call order>}, so that tools that
 * read etcd's logs read ringd's.
 *
 * Thread safety: every function may be called from any thread without locks. A line is built in
 * a bounded stack buffer (LOG_LINE_BYTES_MAX) and leaves in one write(2), so lines from different
 * threads never interleave. The level check is one relaxed atomic load: a call below the level
 * evaluates none of its field arguments. */
#ifndef RINGD_LOG_H
#define RINGD_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringd_error.h"
#include "ringd_limits.h"

/* zap's levels, lowest first; a line is written when its level >= the configured level. */
enum log_level {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
    LOG_LEVEL_PANIC,
    LOG_LEVEL_FATAL,
};

enum log_field_type {
    LOG_FIELD_END, /* terminates a field list */
    LOG_FIELD_STR,
    LOG_FIELD_I64,
    LOG_FIELD_U64,
    LOG_FIELD_BOOL,
    LOG_FIELD_STRS,
    LOG_FIELD_DURATION,
};

/* One typed key/value pair; built with the LOG_* macros below, never by hand. The strings are
 * borrowed for the duration of the call only. */
struct log_field {
    enum log_field_type type;
    const char *key;
    union {
        const char *str;
        int64_t i64;
        uint64_t u64;
        bool b;
        int64_t duration_ns;
        struct {
            const char *const *items;
            size_t count;
        } strs;
    } value;
};

#define LOG_STR(k, v)  ((struct log_field){.type = LOG_FIELD_STR, .key = (k), .value.str = (v)})
#define LOG_I64(k, v)  ((struct log_field){.type = LOG_FIELD_I64, .key = (k), .value.i64 = (v)})
#define LOG_U64(k, v)  ((struct log_field){.type = LOG_FIELD_U64, .key = (k), .value.u64 = (v)})
#define LOG_BOOL(k, v) ((struct log_field){.type = LOG_FIELD_BOOL, .key = (k), .value.b = (v)})
/* An array of n strings, written as a JSON array (zap.Strings). */
#define LOG_STRS(k, arr, n) \
    ((struct log_field){    \
        .type = LOG_FIELD_STRS, .key = (k), .value.strs = {.items = (arr), .count = (n)}})
/* A duration, written as a string the way Go's time.Duration prints ("100ms", "1.5s", "2h0m0s"). */
#define LOG_DURATION_NS(k, ns) \
    ((struct log_field){.type = LOG_FIELD_DURATION, .key = (k), .value.duration_ns = (ns)})
#define LOG_DURATION_MS(k, ms) LOG_DURATION_NS(k, log_ms_to_ns(ms))
/* A ringd error code (0 or negative) as zap.Error writes it: "error":"<text>". */
#define LOG_ERR(err) LOG_STR("error", ringd_strerror(err))
#define LOG_END      ((struct log_field){.type = LOG_FIELD_END, .key = NULL})

/* The level macros take a message and zero or more fields:
 *     log_info("ready to serve client requests", LOG_STR("address", a), LOG_U64("x", n));
 * The call site's __FILE__ and __LINE__ become the "caller" field. The appended LOG_END keeps
 * the variadic part non-empty, so a message without fields is portable C17. */
#define log_debug(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__, LOG_END)
#define log_info(...)  LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__, LOG_END)
#define log_warn(...)  LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__, LOG_END)
#define log_error(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__, LOG_END)
/* Logs at level fatal whatever the configured level, then exits the process with status 1, as
 * etcd does on fatal start-up errors (zap's Fatal). */
#define log_fatal(...) LOG_FATAL_AT(__VA_ARGS__, LOG_END)

#define LOG_AT(level, msg, ...)                                                                 \
    do {                                                                                        \
        if (log_enabled(level))                                                                 \
            log_write(level, __FILE__, __LINE__, msg, (const struct log_field[]){__VA_ARGS__}); \
    } while (0)
#define LOG_FATAL_AT(msg, ...) \
    log_write_fatal(__FILE__, __LINE__, msg, (const struct log_field[]){__VA_ARGS__})

/* The lowest level written; use log_enabled(), log_set_level() rather than this directly. */
extern _Atomic int log_level_min;

/* True if a line at level would be written. One relaxed load: the level is a hint read on every
 * call, so no ordering with other memory is needed. */
static inline bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level_min, memory_order_relaxed);
}

/* Sets the lowest level written (default info). Takes effect for calls that start afterwards. */
void log_set_level(enum log_level level);

enum log_level log_get_level(void);

/* Parses etcd's --log-level words: debug, info, warn, error, panic, fatal (exact, lower case).
 * Returns 0 and sets *out, or -RINGD_EINVAL_CONFIG for anything else (*out untouched). */
int log_level_parse(const char *text, enum log_level *out);

/* The level's name as zap writes it ("info"); never NULL. */
const char *log_level_name(enum log_level level);

/* Sends lines to fd (default 2). The caller keeps ownership of fd and keeps it open while any
 * thread may log; tests point it at a pipe or a temporary file. */
void log_set_fd(int fd);

/* Writes one line if level is enabled. msg and every key must not be NULL; fields ends with
 * LOG_END and holds at most LOG_FIELDS_MAX fields. Write errors are ignored: logging never fails
 * the caller. Prefer the log_* macros. */
void log_write(enum log_level level, const char *file, int line, const char *msg,
               const struct log_field *fields);

/* Writes one fatal line (whatever the level) and calls exit(1). */
_Noreturn void log_write_fatal(const char *file, int line, const char *msg,
                               const struct log_field *fields);

/* The smallest buffer log_format accepts: room for every fixed key and the closing brace. */
#define LOG_LINE_BYTES_MIN 128

/* Formats one line, newline included, into out (out_bytes >= LOG_LINE_BYTES_MIN, NUL-terminated
 * after the newline), for the wall-clock time
 * unix_ns. A value that does not fit is cut (at a UTF-8 boundary) and later fields dropped; the
 * line is always complete JSON. Returns the line's length. Pure: used by log_write and tests. */
size_t log_format(char *out, size_t out_bytes, enum log_level level, const char *file, int line,
                  const char *msg, const struct log_field *fields, int64_t unix_ns);

/* Writes ns as Go's time.Duration.String() does ("0s", "1.5ms", "100ms", "1m0s", "2h0m0s",
 * "-1s"), NUL-terminated. out_bytes >= LOG_DURATION_BYTES_MAX always suffices. Returns the
 * length. */
size_t log_format_duration(char *out, size_t out_bytes, int64_t ns);

/* ms as nanoseconds, saturating at the int64 range instead of overflowing. */
static inline int64_t log_ms_to_ns(int64_t ms)
{
    if (ms > INT64_MAX / 1000000)
        return INT64_MAX;
    if (ms < INT64_MIN / 1000000)
        return INT64_MIN;
    return ms * 1000000;
}

#endif
