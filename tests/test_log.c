/* Tests of core/log: every line is one valid JSON object with zap's keys in zap's order, values
 * escaped and cut so the line stays valid, Go's duration format, level filtering, whole lines
 * from concurrent writers, and log_fatal's exit status. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "utf8.h"
#include "test_support.h"

/* A strict parser for the flat objects log lines are: string keys; values that are strings,
 * numbers, true, false or arrays of strings. No recursion: arrays hold strings only. */

#define JSON_ENTRIES_MAX 80
#define JSON_POOL_BYTES  (LOG_LINE_BYTES_MAX * 2)

enum json_kind { JSON_STRING, JSON_NUMBER, JSON_BOOL, JSON_ARRAY };

struct json_entry {
    const char *key;
    enum json_kind kind;
    const char *text; /* string (decoded), number or bool as written */
    size_t count;     /* array: number of strings */
    const char *items[64];
};

struct json_obj {
    size_t count;
    struct json_entry entries[JSON_ENTRIES_MAX];
    char pool[JSON_POOL_BYTES];
    size_t pool_len;
};

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void pool_put_utf8(struct json_obj *o, uint32_t cp)
{
    char *p = o->pool + o->pool_len;
    if (cp < 0x80) {
        p[0] = (char)cp;
        o->pool_len += 1;
    } else if (cp < 0x800) {
        p[0] = (char)(0xc0 | cp >> 6);
        p[1] = (char)(0x80 | (cp & 0x3f));
        o->pool_len += 2;
    } else if (cp < 0x10000) {
        p[0] = (char)(0xe0 | cp >> 12);
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[2] = (char)(0x80 | (cp & 0x3f));
        o->pool_len += 3;
    } else {
        p[0] = (char)(0xf0 | cp >> 18);
        p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[3] = (char)(0x80 | (cp & 0x3f));
        o->pool_len += 4;
    }
}

static int json_hex4(const char **p, uint32_t *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value((*p)[i]);
        if (h < 0)
            return -1;
        *out = *out << 4 | (uint32_t)h;
    }
    *p += 4;
    return 0;
}

/* Parses a string at *p (at the opening quote) into the pool; returns its start or NULL. */
static const char *json_string(struct json_obj *o, const char **p)
{
    const char *s = *p;
    if (*s++ != '"')
        return NULL;
    const char *start = o->pool + o->pool_len;
    while (*s != '"') {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || o->pool_len + 8 >= sizeof o->pool)
            return NULL;
        if (c >= 0x80) {
            size_t len = utf8_sequence_len((const unsigned char *)s, strlen(s));
            if (len == 0)
                return NULL;
            memcpy(o->pool + o->pool_len, s, len);
            o->pool_len += len;
            s += len;
            continue;
        }
        if (c != '\\') {
            o->pool[o->pool_len++] = (char)c;
            s++;
            continue;
        }
        s++;
        const char *simple = strchr("\"\\/bfnrt", *s);
        if (*s != '\0' && simple != NULL) {
            o->pool[o->pool_len++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            s++;
            continue;
        }
        uint32_t cp, lo;
        if (*s++ != 'u' || json_hex4(&s, &cp) != 0)
            return NULL;
        if (cp >= 0xd800 && cp < 0xdc00) {
            if (s[0] != '\\' || s[1] != 'u')
                return NULL;
            s += 2;
            if (json_hex4(&s, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                return NULL;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return NULL;
        }
        pool_put_utf8(o, cp);
    }
    o->pool[o->pool_len++] = '\0';
    *p = s + 1;
    return start;
}

static const char *json_number(struct json_obj *o, const char **p)
{
    const char *s = *p, *start = s;
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        s += strspn(s, "0123456789");
    else
        return NULL;
    if (*s == '.') {
        s++;
        if (strspn(s, "0123456789") == 0)
            return NULL;
        s += strspn(s, "0123456789");
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        s += *s == '+' || *s == '-';
        if (strspn(s, "0123456789") == 0)
            return NULL;
        s += strspn(s, "0123456789");
    }
    char *out = o->pool + o->pool_len;
    memcpy(out, start, (size_t)(s - start));
    out[s - start] = '\0';
    o->pool_len += (size_t)(s - start) + 1;
    *p = s;
    return out;
}

static int json_value(struct json_obj *o, struct json_entry *e, const char **p)
{
    if (**p == '"') {
        e->kind = JSON_STRING;
        e->text = json_string(o, p);
        return e->text != NULL ? 0 : -1;
    }
    if (strncmp(*p, "true", 4) == 0 || strncmp(*p, "false", 5) == 0) {
        e->kind = JSON_BOOL;
        e->text = **p == 't' ? "true" : "false";
        *p += **p == 't' ? 4 : 5;
        return 0;
    }
    if (**p == '[') {
        e->kind = JSON_ARRAY;
        (*p)++;
        for (e->count = 0; **p != ']'; e->count++) {
            if ((e->count > 0 && *(*p)++ != ',') || e->count == 64)
                return -1;
            if ((e->items[e->count] = json_string(o, p)) == NULL)
                return -1;
        }
        (*p)++;
        return 0;
    }
    e->kind = JSON_NUMBER;
    e->text = json_number(o, p);
    return e->text != NULL ? 0 : -1;
}

/* Parses exactly one object followed by a newline, the whole of line. */
static int json_parse_line(const char *line, struct json_obj *o)
{
    const char *p = line;
    memset(o, 0, offsetof(struct json_obj, pool));
    o->pool_len = 0;
    if (*p++ != '{')
        return -1;
    while (*p != '}') {
        if (o->count == JSON_ENTRIES_MAX || (o->count > 0 && *p++ != ','))
            return -1;
        struct json_entry *e = &o->entries[o->count++];
        if ((e->key = json_string(o, &p)) == NULL || *p++ != ':')
            return -1;
        if (json_value(o, e, &p) != 0)
            return -1;
    }
    return strcmp(p, "}\n") == 0 ? 0 : -1;
}

static const struct json_entry *json_get(const struct json_obj *o, const char *key)
{
    for (size_t i = 0; i < o->count; i++) {
        if (strcmp(o->entries[i].key, key) == 0)
            return &o->entries[i];
    }
    return NULL;
}

static struct json_obj obj; /* 8 KiB: static rather than on every test's stack */

/* A fixed wall-clock time: 2026-11-21T14:16:09.783Z. */
static int64_t fixed_ns(void)
{
    struct tm tm = {.tm_year = 2026 - 1900,
                    .tm_mon = 10,
                    .tm_mday = 21,
                    .tm_hour = 14,
                    .tm_min = 16,
                    .tm_sec = 9};
    return (int64_t)timegm(&tm) * 1000000000 + 783456789;
}

static size_t format(char *out, size_t out_bytes, const char *msg, const struct log_field *f)
{
    return log_format(out, out_bytes, LOG_LEVEL_INFO, "core/x.c", 42, msg, f, fixed_ns());
}

/* Log capture through a memfd standing in for stderr. */

static int capture_fd = -1;

static void capture_start(void)
{
    capture_fd = memfd_create("log", 0);
    assert_true(capture_fd >= 0);
    log_set_fd(capture_fd);
}

/* Returns what was logged since capture_start (static buffer) and stops capturing. */
static const char *capture_stop(void)
{
    static char text[1 << 20];
    off_t size = lseek(capture_fd, 0, SEEK_END);
    assert_true(size >= 0 && (size_t)size < sizeof text);
    assert_int_equal(pread(capture_fd, text, (size_t)size, 0), size);
    text[size] = '\0';
    close(capture_fd);
    log_set_fd(2);
    return text;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    return n;
}

static void test_level_parse(void **state)
{
    (void)state;
    static const char *const names[] = {"debug", "info", "warn", "error", "panic", "fatal"};
    for (int i = 0; i < 6; i++) {
        enum log_level level = LOG_LEVEL_FATAL;
        assert_int_equal(log_level_parse(names[i], &level), 0);
        assert_int_equal(level, (enum log_level)i);
        assert_string_equal(log_level_name(level), names[i]);
    }
    static const char *const bad[] = {"", "WARN", "Info", "warning", "dpanic", "info ", "trace"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum log_level level = LOG_LEVEL_WARN;
        assert_int_equal(log_level_parse(bad[i], &level), -RINGD_EINVAL_CONFIG);
        assert_int_equal(level, LOG_LEVEL_WARN);
    }
}

static void test_duration_format(void **state)
{
    (void)state;
    static const struct {
        int64_t ns;
        const char *text;
    } cases[] = {
        {0, "0s"},
        {1, "1ns"},
        {999, "999ns"},
        {1000, "1\xc2\xb5s"},
        {1500, "1.5\xc2\xb5s"},
        {1000000, "1ms"},
        {1500000, "1.5ms"},
        {100000000, "100ms"},
        {100000001, "100.000001ms"},
        {999999999, "999.999999ms"},
        {1000000000, "1s"},
        {1500000000, "1.5s"},
        {5000000000, "5s"},
        {20000000000, "20s"},
        {60000000000, "1m0s"},
        {61000000000, "1m1s"},
        {600000000000, "10m0s"},
        {3600000000000, "1h0m0s"},
        {3600500000000, "1h0m0.5s"},
        {5400000000000, "1h30m0s"},
        {7200000000000, "2h0m0s"},
        {-1000000000, "-1s"},
        {-1500000, "-1.5ms"},
        {INT64_MAX, "2562047h47m16.854775807s"},
        {INT64_MIN, "-2562047h47m16.854775808s"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[LOG_DURATION_BYTES_MAX];
        size_t n = log_format_duration(text, sizeof text, cases[i].ns);
        assert_string_equal(text, cases[i].text);
        assert_int_equal(n, strlen(cases[i].text));
    }
    assert_int_equal(log_ms_to_ns(100), 100000000);
    assert_int_equal(log_ms_to_ns(INT64_MAX), INT64_MAX);
    assert_int_equal(log_ms_to_ns(INT64_MIN), INT64_MIN);
}

/* The exact bytes of a line like etcd's "configuring peer listeners". */
static void test_format_exact(void **state)
{
    (void)state;
    char line[LOG_LINE_BYTES_MAX];
    const char *urls[] = {"http://localhost:2380"};
    size_t n = format(line, sizeof line, "configuring peer listeners",
                      (const struct log_field[]){LOG_STRS("listen-peer-urls", urls, 1), LOG_END});
    const char *want = "{\"level\":\"info\",\"ts\":\"2026-11-21T14:16:09.783Z\",\"caller\":"
                       "\"core/x.c:42\",\"msg\":\"configuring peer listeners\","
                       "\"listen-peer-urls\":[\"http://localhost:2380\"]}\n";
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));
}

static void test_field_types(void **state)
{
    (void)state;
    char line[LOG_LINE_BYTES_MAX];
    const char *two[] = {"a", "b"};
    format(line, sizeof line, "m",
           (const struct log_field[]){LOG_STR("s", "v"), LOG_I64("i", INT64_MIN),
                                      LOG_U64("u", UINT64_MAX), LOG_BOOL("t", true),
                                      LOG_BOOL("f", false), LOG_STRS("none", two, 0),
                                      LOG_STRS("two", two, 2), LOG_DURATION_MS("d", 1500),
                                      LOG_DURATION_NS("n", 1), LOG_ERR(-RINGD_EFULL), LOG_END});
    assert_int_equal(json_parse_line(line, &obj), 0);
    static const char *const keys[] = {"level", "ts", "caller", "msg", "s", "i", "u",
                                       "t",     "f",  "none",   "two", "d", "n", "error"};
    assert_int_equal(obj.count, sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < obj.count; i++)
        assert_string_equal(obj.entries[i].key, keys[i]);
    assert_string_equal(json_get(&obj, "i")->text, "-9223372036854775808");
    assert_int_equal(json_get(&obj, "i")->kind, JSON_NUMBER);
    assert_string_equal(json_get(&obj, "u")->text, "18446744073709551615");
    assert_int_equal(json_get(&obj, "t")->kind, JSON_BOOL);
    assert_string_equal(json_get(&obj, "t")->text, "true");
    assert_string_equal(json_get(&obj, "f")->text, "false");
    assert_int_equal(json_get(&obj, "none")->count, 0);
    assert_int_equal(json_get(&obj, "two")->count, 2);
    assert_string_equal(json_get(&obj, "two")->items[1], "b");
    assert_string_equal(json_get(&obj, "d")->text, "1.5s");
    assert_string_equal(json_get(&obj, "n")->text, "1ns");
    assert_string_equal(json_get(&obj, "error")->text, "queue full");
    assert_non_null(strstr(line, "\"none\":[],"));
}

static void test_escaping(void **state)
{
    (void)state;
    char line[LOG_LINE_BYTES_MAX];
    const char *value = "q\"b\\n\nr\rt\t\x01\x1f\x7f/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                        "|\xff|\xe2\x82|\xed\xa0\x80|\xc0\xaf|";
    format(line, sizeof line, "say \"hi\"\n",
           (const struct log_field[]){LOG_STR("k\"ey", value), LOG_END});
    /* zap's escapes: \" \\ \n \r \t, \u00XX for other control bytes, DEL and '/' as they are,
     * valid UTF-8 as it is, each invalid byte as \ufffd. */
    const char *want_value = "\"k\\\"ey\":\"q\\\"b\\\\n\\nr\\rt\\t\\u0001\\u001f\x7f/\xc3\xa9"
                             "\xe2\x82\xac\xf0\x9f\x98\x80|\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd"
                             "\\ufffd|\\ufffd\\ufffd|\"}\n";
    assert_non_null(strstr(line, "\"msg\":\"say \\\"hi\\\"\\n\","));
    assert_non_null(strstr(line, want_value));
    assert_int_equal(json_parse_line(line, &obj), 0);
    assert_string_equal(json_get(&obj, "msg")->text, "say \"hi\"\n");
    assert_string_equal(json_get(&obj, "k\"ey")->text,
                        "q\"b\\n\nr\rt\t\x01\x1f\x7f/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|"
                        "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf"
                        "\xbd|\xef\xbf\xbd\xef\xbf\xbd|");
}

/* A line that cannot hold everything keeps its fixed keys, cuts the value that overflows at a
 * character boundary, drops the fields after it and stays valid JSON. */
static void test_long_values_cut(void **state)
{
    (void)state;
    static char big[3 * LOG_LINE_BYTES_MAX];
    static const char *const pieces[] = {"a", "\xc3\xa9", "\"", "\x01", "\xe2\x82\xac"};
    char line[LOG_LINE_BYTES_MAX];
    for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
        size_t len = 0;
        while (len + strlen(pieces[k]) < sizeof big) {
            memcpy(big + len, pieces[k], strlen(pieces[k]));
            len += strlen(pieces[k]);
        }
        big[len] = '\0';
        size_t n = format(line, sizeof line, "m",
                          (const struct log_field[]){LOG_STR("first", "ok"), LOG_STR("big", big),
                                                     LOG_STR("after", "dropped"), LOG_END});
        assert_true(n < sizeof line);
        assert_true(n > sizeof line - 16);
        assert_int_equal(json_parse_line(line, &obj), 0);
        assert_int_equal(obj.count, 6);
        assert_string_equal(json_get(&obj, "first")->text, "ok");
        assert_null(json_get(&obj, "after"));
        const char *cut = json_get(&obj, "big")->text;
        assert_int_equal(strncmp(cut, big, strlen(cut)), 0);
    }
    /* A long message and a long array are cut the same way. */
    size_t n =
        format(line, sizeof line, big, (const struct log_field[]){LOG_STR("k", "v"), LOG_END});
    assert_int_equal(json_parse_line(line, &obj), 0);
    assert_int_equal(obj.count, 4);
    assert_true(n < sizeof line);
    const char *items[64];
    for (int i = 0; i < 64; i++)
        items[i] = "0123456789012345678901234567890123456789012345678901234567890123456789";
    format(line, sizeof line, "m",
           (const struct log_field[]){LOG_STRS("many", items, 64), LOG_U64("x", 1), LOG_END});
    assert_int_equal(json_parse_line(line, &obj), 0);
    assert_true(json_get(&obj, "many")->count > 10 && json_get(&obj, "many")->count < 64);
    assert_null(json_get(&obj, "x"));
}

/* Numbers and durations are never cut: a field that does not fit whole is dropped. */
static void test_small_buffer(void **state)
{
    (void)state;
    for (size_t size = LOG_LINE_BYTES_MIN; size < 400; size++) {
        char line[400];
        const char *arr[] = {"x", "yy"};
        log_format(line, size, LOG_LEVEL_ERROR, "core/a_long_file_name.c", 123456,
                   "a message of some length",
                   (const struct log_field[]){
                       LOG_U64("n", UINT64_MAX), LOG_DURATION_NS("d", INT64_MIN),
                       LOG_STRS("a", arr, 2), LOG_BOOL("b", false), LOG_STR("s", "tail"), LOG_END},
                   fixed_ns());
        assert_true(strlen(line) < size);
        assert_int_equal(json_parse_line(line, &obj), 0);
        assert_true(obj.count >= 4);
        const struct json_entry *d = json_get(&obj, "d");
        assert_true(d == NULL || strcmp(d->text, "-2562047h47m16.854775808s") == 0);
        const struct json_entry *u = json_get(&obj, "n");
        assert_true(u == NULL || strcmp(u->text, "18446744073709551615") == 0);
    }
}

/* Random bytes in keys, values and arrays never make an invalid line. Seeded: a failing seed
 * is printed and replays. */
static void test_random_bytes_stay_valid(void **state)
{
    (void)state;
    unsigned seed = (unsigned)test_now_ns();
    srand(seed);
    for (int round = 0; round < 3000; round++) {
        static char values[3][6000];
        for (int v = 0; v < 3; v++) {
            size_t len = (size_t)rand() % (round % 2 ? 40 : sizeof values[v]);
            for (size_t i = 0; i < len; i++)
                values[v][i] = (char)(1 + rand() % 255);
            values[v][len] = '\0';
        }
        const char *arr[] = {values[1], values[2]};
        char line[LOG_LINE_BYTES_MAX];
        format(line, sizeof line, values[0],
               (const struct log_field[]){LOG_STR(values[1], values[2]), LOG_STRS("a", arr, 2),
                                          LOG_I64("i", -1), LOG_END});
        if (json_parse_line(line, &obj) != 0)
            fail_msg("invalid line with seed %u round %d: %s", seed, round, line);
    }
}

static int side_effects;

static const char *counted(const char *s)
{
    side_effects++;
    return s;
}

static void test_level_filtering(void **state)
{
    (void)state;
    capture_start();
    log_set_level(LOG_LEVEL_WARN);
    assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
    side_effects = 0;
    log_debug("no", LOG_STR("k", counted("v")));
    log_info("no", LOG_STR("k", counted("v")));
    assert_int_equal(side_effects, 0); /* a disabled call evaluates nothing */
    log_warn("yes warn", LOG_STR("k", counted("v")));
    log_error("yes error");
    log_set_level(LOG_LEVEL_DEBUG);
    log_debug("yes debug");
    log_set_level(LOG_LEVEL_FATAL);
    log_error("no");
    log_set_level(LOG_LEVEL_INFO);
    log_info("yes info");
    const char *text = capture_stop();
    assert_int_equal(side_effects, 1);
    assert_int_equal(count_lines(text), 4);
    const char *want[] = {"warn", "error", "debug", "info"};
    const char *line = text;
    for (int i = 0; i < 4; i++) {
        char one[LOG_LINE_BYTES_MAX];
        size_t len = (size_t)(strchr(line, '\n') - line) + 1;
        memcpy(one, line, len);
        one[len] = '\0';
        assert_int_equal(json_parse_line(one, &obj), 0);
        assert_string_equal(json_get(&obj, "level")->text, want[i]);
        assert_int_equal(strncmp(json_get(&obj, "msg")->text, "yes ", 4), 0);
        line += len;
    }
}

/* A call without fields, its caller taken from the call site, and a current UTC timestamp. */
static void test_zero_fields_and_caller(void **state)
{
    (void)state;
    capture_start();
    struct timespec before;
    clock_gettime(CLOCK_REALTIME, &before);
    int line_no = __LINE__ + 1;
    log_info("ready to serve client requests");
    const char *text = capture_stop();
    assert_int_equal(json_parse_line(text, &obj), 0);
    assert_int_equal(obj.count, 4);
    char caller[64];
    snprintf(caller, sizeof caller, "tests/test_log.c:%d", line_no);
    assert_string_equal(json_get(&obj, "caller")->text, caller);
    assert_string_equal(json_get(&obj, "msg")->text, "ready to serve client requests");
    const char *ts = json_get(&obj, "ts")->text;
    struct tm tm = {0};
    const char *rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(rest);
    assert_int_equal(strlen(rest), 5); /* ".mmmZ" */
    assert_true(rest[0] == '.' && rest[4] == 'Z');
    time_t logged = timegm(&tm);
    assert_true(logged >= before.tv_sec && logged <= before.tv_sec + 5);
}

struct writer {
    int id;
    int lines;
};

#define WRITERS      4
#define WRITER_LINES 3000

static void *writer_main(void *arg)
{
    const struct writer *w = arg;
    char fill[3000];
    memset(fill, 'x', sizeof fill - 1);
    fill[sizeof fill - 1] = '\0';
    for (int i = 0; i < w->lines; i++) {
        /* Lengths up to near the line limit, so a torn write would show. */
        size_t len = (size_t)(i * 7919 + w->id * 104729) % sizeof fill;
        log_info("concurrent", LOG_I64("writer", w->id), LOG_I64("seq", i),
                 LOG_STR("pad", fill + (sizeof fill - 1 - len)));
    }
    return NULL;
}

struct drain {
    int fd;
    char *buf;
    size_t len, cap;
};

static void *drain_main(void *arg)
{
    struct drain *d = arg;
    for (;;) {
        ssize_t n = read(d->fd, d->buf + d->len, d->cap - d->len);
        if (n <= 0)
            return NULL;
        d->len += (size_t)n;
    }
}

/* Four threads logging to one pipe: every line arrives whole, once, in per-thread order. */
static void test_concurrent_writers(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct drain d = {.fd = fds[0], .cap = (size_t)WRITERS * WRITER_LINES * 4200};
    d.buf = malloc(d.cap);
    assert_non_null(d.buf);
    pthread_t reader, threads[WRITERS];
    struct writer w[WRITERS];
    log_set_fd(fds[1]);
    assert_int_equal(pthread_create(&reader, NULL, drain_main, &d), 0);
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.id = i, .lines = WRITER_LINES};
        assert_int_equal(pthread_create(&threads[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(threads[i], NULL);
    log_set_fd(2);
    close(fds[1]);
    pthread_join(reader, NULL);
    close(fds[0]);
    int next[WRITERS] = {0};
    size_t lines = 0;
    for (char *p = d.buf; p < d.buf + d.len; lines++) {
        char *nl = memchr(p, '\n', (size_t)(d.buf + d.len - p));
        assert_non_null(nl);
        char saved = nl[1];
        nl[1] = '\0';
        if (json_parse_line(p, &obj) != 0)
            fail_msg("torn line: %.200s", p);
        nl[1] = saved;
        int id = atoi(json_get(&obj, "writer")->text);
        assert_true(id >= 0 && id < WRITERS);
        assert_int_equal(atoi(json_get(&obj, "seq")->text), next[id]);
        next[id]++;
        p = nl + 1;
    }
    assert_int_equal(lines, (size_t)WRITERS * WRITER_LINES);
    free(d.buf);
}

/* log_fatal writes a fatal line even above the configured level, then exits with status 1. */
static void test_fatal_exits_1(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        log_set_fd(fds[1]);
        log_set_level(LOG_LEVEL_FATAL);
        log_fatal("discovery failed", LOG_STR("error", "boom"));
    }
    close(fds[1]);
    char text[LOG_LINE_BYTES_MAX + 1];
    ssize_t n = 0, r;
    while ((r = read(fds[0], text + n, sizeof text - 1 - (size_t)n)) > 0)
        n += r;
    close(fds[0]);
    text[n] = '\0';
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_int_equal(json_parse_line(text, &obj), 0);
    assert_string_equal(json_get(&obj, "level")->text, "fatal");
    assert_string_equal(json_get(&obj, "error")->text, "boom");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_parse),        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_format_exact),       cmocka_unit_test(test_field_types),
        cmocka_unit_test(test_escaping),           cmocka_unit_test(test_long_values_cut),
        cmocka_unit_test(test_small_buffer),       cmocka_unit_test(test_random_bytes_stay_valid),
        cmocka_unit_test(test_level_filtering),    cmocka_unit_test(test_zero_fields_and_caller),
        cmocka_unit_test(test_concurrent_writers), cmocka_unit_test(test_fatal_exits_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
