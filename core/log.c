#include "log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringd_assert.h"
#include "utf8.h"

static_assert(LOG_LINE_BYTES_MAX >= LOG_LINE_BYTES_MIN, "a log line must hold its fixed keys");
static_assert(LOG_DURATION_BYTES_MAX >= sizeof("-2562047h47m16.854775808s"),
              "the longest Go duration must fit");

_Atomic int log_level_min = LOG_LEVEL_INFO;
static _Atomic int log_fd = 2;

static const char *const level_names[] = {
    [LOG_LEVEL_DEBUG] = "debug", [LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_PANIC] = "panic", [LOG_LEVEL_FATAL] = "fatal",
};

void log_set_level(enum log_level level)
{
    ASSERT(level >= LOG_LEVEL_DEBUG && level <= LOG_LEVEL_FATAL);
    atomic_store_explicit(&log_level_min, (int)level, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load_explicit(&log_level_min, memory_order_relaxed);
}

int log_level_parse(const char *text, enum log_level *out)
{
    ASSERT(text != NULL && out != NULL);
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -RINGD_EINVAL_CONFIG;
}

const char *log_level_name(enum log_level level)
{
    ASSERT(level >= LOG_LEVEL_DEBUG && level <= LOG_LEVEL_FATAL);
    return level_names[level];
}

void log_set_fd(int fd)
{
    ASSERT(fd >= 0);
    atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

/* Durations, as Go prints them. */

/* Appends whole[.frac]suffix where frac has `digits` digits with trailing zeros dropped. */
static int format_fraction(char *out, size_t out_bytes, const char *sign, uint64_t whole,
                           uint64_t frac, int digits, const char *suffix)
{
    if (frac == 0)
        return snprintf(out, out_bytes, "%s%" PRIu64 "%s", sign, whole, suffix);
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    return snprintf(out, out_bytes, "%s%" PRIu64 ".%0*" PRIu64 "%s", sign, whole, digits, frac,
                    suffix);
}

size_t log_format_duration(char *out, size_t out_bytes, int64_t ns)
{
    ASSERT(out != NULL && out_bytes >= LOG_DURATION_BYTES_MAX);
    uint64_t u = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
    const char *sign = ns < 0 ? "-" : "";
    const uint64_t second = 1000000000u;
    int n;
    if (u == 0) {
        n = snprintf(out, out_bytes, "0s");
    } else if (u < 1000u) {
        n = snprintf(out, out_bytes, "%s%" PRIu64 "ns", sign, u);
    } else if (u < 1000000u) {
        n = format_fraction(out, out_bytes, sign, u / 1000u, u % 1000u, 3, "\xc2\xb5s");
    } else if (u < second) {
        n = format_fraction(out, out_bytes, sign, u / 1000000u, u % 1000000u, 6, "ms");
    } else {
        /* Go prints hours and minutes once a larger unit is present: 2h is "2h0m0s". */
        uint64_t hours = u / (3600 * second), minutes = u / (60 * second) % 60;
        char prefix[48];
        if (hours > 0)
            snprintf(prefix, sizeof prefix, "%s%" PRIu64 "h%" PRIu64 "m", sign, hours, minutes);
        else if (minutes > 0)
            snprintf(prefix, sizeof prefix, "%s%" PRIu64 "m", sign, minutes);
        else
            snprintf(prefix, sizeof prefix, "%s", sign);
        n = format_fraction(out, out_bytes, prefix, u / second % 60, u % second, 9, "s");
    }
    ASSERT(n > 0 && (size_t)n < out_bytes);
    return (size_t)n;
}

/* Line building: a bounded buffer that stays valid JSON however much does not fit. */

struct line_buf {
    char *p;
    size_t len;
    size_t limit; /* bytes usable before the closing "}\n" and NUL */
    bool full;    /* something was cut or dropped: no more fields */
};

static bool buf_raw(struct line_buf *b, const char *s, size_t n)
{
    if (b->len + n > b->limit)
        return false;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return true;
}

/* The escaped form of the character at s as zap writes it: into esc (>= 8 bytes) and its
 * length, with *consumed set to the input bytes it stands for. */
static size_t escape_char(const unsigned char *s, size_t n, char *esc, const char **out,
                          size_t *consumed)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[0];
    *consumed = 1;
    *out = esc;
    if (c >= 0x80) {
        size_t len = utf8_sequence_len(s, n);
        if (len == 0) {
            *out = "\\ufffd"; /* invalid UTF-8 becomes U+FFFD, as in zap */
            return 6;
        }
        *consumed = len;
        *out = (const char *)s;
        return len;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
        *out = (const char *)s;
        return 1;
    }
    esc[0] = '\\';
    switch (c) {
    case '"':
    case '\\':
        esc[1] = (char)c;
        return 2;
    case '\n':
        esc[1] = 'n';
        return 2;
    case '\r':
        esc[1] = 'r';
        return 2;
    case '\t':
        esc[1] = 't';
        return 2;
    default:
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 0xf];
        return 6;
    }
}

/* Appends s as a JSON string, keeping `after` bytes free for what must follow it. If it does
 * not fit and may_cut, the string is cut between characters and the buffer marked full. Returns
 * false (nothing written) if not even the cut form fits. */
static bool buf_string(struct line_buf *b, const char *s, size_t after, bool may_cut)
{
    size_t start = b->len, n = strlen(s);
    if (!buf_raw(b, "\"", 1))
        return false;
    for (size_t i = 0; i < n;) {
        char esc[8];
        const char *piece;
        size_t consumed;
        size_t len = escape_char((const unsigned char *)s + i, n - i, esc, &piece, &consumed);
        if (b->len + len + 1 + after > b->limit) {
            if (!may_cut) {
                b->len = start;
                return false;
            }
            b->full = true;
            break;
        }
        memcpy(b->p + b->len, piece, len);
        b->len += len;
        i += consumed;
    }
    if (b->len + 1 + after > b->limit) {
        b->len = start;
        return false;
    }
    return buf_raw(b, "\"", 1);
}

static bool buf_strings(struct line_buf *b, const char *const *items, size_t count)
{
    ASSERT(items != NULL || count == 0);
    if (!buf_raw(b, "[", 1))
        return false;
    for (size_t i = 0; i < count && !b->full; i++) {
        ASSERT(items[i] != NULL);
        size_t mark = b->len;
        if (i > 0 && !buf_raw(b, ",", 1))
            break;
        if (!buf_string(b, items[i], 1, true)) {
            b->len = mark;
            b->full = true;
        }
    }
    return buf_raw(b, "]", 1);
}

static bool buf_value(struct line_buf *b, const struct log_field *f)
{
    char text[LOG_DURATION_BYTES_MAX];
    int n = 0;
    switch (f->type) {
    case LOG_FIELD_STR:
        ASSERT(f->value.str != NULL);
        return buf_string(b, f->value.str, 0, true);
    case LOG_FIELD_STRS:
        return buf_strings(b, f->value.strs.items, f->value.strs.count);
    case LOG_FIELD_DURATION:
        log_format_duration(text, sizeof text, f->value.duration_ns);
        return buf_string(b, text, 0, false);
    case LOG_FIELD_I64:
        n = snprintf(text, sizeof text, "%" PRId64, f->value.i64);
        break;
    case LOG_FIELD_U64:
        n = snprintf(text, sizeof text, "%" PRIu64, f->value.u64);
        break;
    case LOG_FIELD_BOOL:
        n = snprintf(text, sizeof text, "%s", f->value.b ? "true" : "false");
        break;
    default:
        UNREACHABLE();
    }
    ASSERT(n > 0 && (size_t)n < sizeof text);
    return buf_raw(b, text, (size_t)n);
}

/* Appends ,"key":value; a field that cannot be written whole or cut is dropped entirely. */
static void buf_field(struct line_buf *b, const struct log_field *f)
{
    ASSERT(f->key != NULL);
    size_t mark = b->len;
    if (b->full)
        return;
    if (!buf_raw(b, ",", 1) || !buf_string(b, f->key, 1, false) || !buf_raw(b, ":", 1) ||
        !buf_value(b, f)) {
        b->len = mark;
        b->full = true;
    }
}

static void buf_header(struct line_buf *b, enum log_level level, const char *file, int line,
                       const char *msg, int64_t unix_ns)
{
    char text[96];
    if (unix_ns < 0)
        unix_ns = 0;
    time_t seconds = (time_t)(unix_ns / 1000000000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    int n = snprintf(text, sizeof text,
                     "{\"level\":\"%s\",\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"caller\":",
                     log_level_name(level), tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(unix_ns / 1000000 % 1000));
    ASSERT(n > 0 && (size_t)n < sizeof text);
    bool ok = buf_raw(b, text, (size_t)n);
    char caller[LOG_CALLER_BYTES_MAX];
    snprintf(caller, sizeof caller, "%s:%d", file, line);
    /* The caller may be cut but must leave room for ,"msg":"" so the line keeps every key. */
    ok = ok && buf_string(b, caller, sizeof(",\"msg\":\"\"") - 1, true);
    ok = ok && buf_raw(b, ",\"msg\":", 7);
    ok = ok && buf_string(b, msg, 0, true);
    ASSERT(ok);
}

size_t log_format(char *out, size_t out_bytes, enum log_level level, const char *file, int line,
                  const char *msg, const struct log_field *fields, int64_t unix_ns)
{
    ASSERT(out != NULL && out_bytes >= LOG_LINE_BYTES_MIN);
    ASSERT(file != NULL && msg != NULL && fields != NULL);
    struct line_buf b = {.p = out, .len = 0, .limit = out_bytes - 3, .full = false};
    buf_header(&b, level, file, line, msg, unix_ns);
    size_t i = 0;
    for (; fields[i].type != LOG_FIELD_END; i++) {
        ASSERT(i < LOG_FIELDS_MAX);
        buf_field(&b, &fields[i]);
    }
    ASSERT(b.len <= b.limit);
    memcpy(out + b.len, "}\n", 3);
    return b.len + 2;
}

/* One write(2) per line keeps lines whole across threads. A short write (a signal, a full pipe
 * on a non-blocking fd) is finished with bounded retries rather than lost. */
static void write_line(const char *line, size_t len)
{
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    size_t done = 0;
    for (int attempt = 0; attempt < LOG_WRITE_ATTEMPTS_MAX && done < len; attempt++) {
        ssize_t n = write(fd, line + done, len - done);
        if (n > 0)
            done += (size_t)n;
        else if (n < 0 && errno != EINTR && errno != EAGAIN)
            return;
    }
}

static void log_emit(enum log_level level, const char *file, int line, const char *msg,
                     const struct log_field *fields)
{
    char text[LOG_LINE_BYTES_MAX];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t unix_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    size_t len = log_format(text, sizeof text, level, file, line, msg, fields, unix_ns);
    write_line(text, len);
}

void log_write(enum log_level level, const char *file, int line, const char *msg,
               const struct log_field *fields)
{
    ASSERT(level >= LOG_LEVEL_DEBUG && level <= LOG_LEVEL_FATAL);
    if (log_enabled(level))
        log_emit(level, file, line, msg, fields);
}

_Noreturn void log_write_fatal(const char *file, int line, const char *msg,
                               const struct log_field *fields)
{
    log_emit(LOG_LEVEL_FATAL, file, line, msg, fields);
    exit(1);
}
