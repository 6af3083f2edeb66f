/* ringd-bench's command line (see ringd_bench_flags.h): one table of flags, the modes, and the
 * checks that tie flags together. */
#include "ringd_bench_flags.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "ringd_assert.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull
#define DAY_NS    (86400ull * NS_PER_S)

static const char *const workload_names[RBENCH_WL_COUNT] = {
    [RBENCH_WL_PUT] = "put",
    [RBENCH_WL_RANGE] = "range",
    [RBENCH_WL_TXN_PUT] = "txn-put",
    [RBENCH_WL_TXN_MIXED] = "txn-mixed",
    [RBENCH_WL_DELETE] = "delete",
    [RBENCH_WL_WATCH] = "watch",
    [RBENCH_WL_WATCH_GET] = "watch-get",
    [RBENCH_WL_LEASE_KEEPALIVE] = "lease-keepalive",
    [RBENCH_WL_FDATASYNC] = "fdatasync",
};

const char *rbench_workload_name(enum rbench_workload workload)
{
    ASSERT(workload < RBENCH_WL_COUNT);
    return workload_names[workload];
}

int rbench_workload_parse(const char *word)
{
    for (int w = 0; w < RBENCH_WL_COUNT; w++)
        if (strcmp(word, workload_names[w]) == 0)
            return w;
    return -1;
}

/* ---- The flag table ------------------------------------------------------------------------ */

enum flag_kind {
    FLAG_U32,
    FLAG_U64,
    FLAG_BOOL,
    FLAG_DURATION,
    FLAG_PATH,        /* const char * into argv */
    FLAG_LABEL,       /* copied into a RBENCH_LABEL_BYTES_MAX field */
    FLAG_ENDPOINT,    /* copied into a RBENCH_ENDPOINT_BYTES_MAX field */
    FLAG_ENDPOINTS,   /* comma-separated list into endpoints[] */
    FLAG_CONSISTENCY, /* l or s into serializable */
};

/* Where a flag applies: a mask of workloads (bits 0..RBENCH_WL_COUNT-1) and of modes. */
#define WL(w)  (1u << (w))
#define WL_ALL ((1u << RBENCH_WL_COUNT) - 1u)
/* The workloads that talk to a server: all but fdatasync, which measures the disk alone. */
#define WL_SERVER (WL_ALL & ~WL(RBENCH_WL_FDATASYNC))
#define WL_KEYED                                                                                 \
    (WL(RBENCH_WL_PUT) | WL(RBENCH_WL_RANGE) | WL(RBENCH_WL_TXN_PUT) | WL(RBENCH_WL_TXN_MIXED) | \
     WL(RBENCH_WL_DELETE) | WL(RBENCH_WL_WATCH_GET))
#define WL_VALUED                                                                                \
    (WL(RBENCH_WL_PUT) | WL(RBENCH_WL_TXN_PUT) | WL(RBENCH_WL_TXN_MIXED) | WL(RBENCH_WL_WATCH) | \
     WL(RBENCH_WL_WATCH_GET) | WL(RBENCH_WL_FDATASYNC))
#define WL_WATCHES   (WL(RBENCH_WL_WATCH) | WL(RBENCH_WL_WATCH_GET))
#define MODE_RUN     (1u << 16)
#define MODE_COMPARE (1u << 17)
#define MODE_PLOT    (1u << 18)
#define LOADS        (MODE_RUN | MODE_COMPARE)

struct flag {
    const char *name;
    enum flag_kind kind;
    size_t offset;
    uint64_t min, max; /* numbers and durations (ns) */
    uint32_t scope;
    const char *help;
};

#define OFF(field) offsetof(struct rbench_config, field)

static const struct flag flags[] = {
    {"endpoints", FLAG_ENDPOINTS, OFF(endpoints), 0, 0, WL_SERVER | MODE_RUN,
     "gRPC endpoints, comma-separated (127.0.0.1:2379)"},
    {"target-leader", FLAG_BOOL, OFF(target_leader), 0, 0, WL_SERVER | LOADS,
     "connect only to the leader (Maintenance.Status)"},
    {"conns", FLAG_U32, OFF(conns), 1, RBENCH_CONNS_MAX, WL_SERVER | LOADS, "gRPC connections (1)"},
    {"clients", FLAG_U32, OFF(clients), 1, RBENCH_CLIENTS_MAX, WL_SERVER | LOADS,
     "operations in flight at once (1)"},
    {"total", FLAG_U64, OFF(total), 1, 1ull << 40, WL_ALL | LOADS,
     "operations, watch: puts (10000 without --duration)"},
    {"duration", FLAG_DURATION, OFF(duration_ns), NS_PER_MS, DAY_NS, WL_ALL | LOADS,
     "run this long (e.g. 10s) instead of, or as well as, --total"},
    {"rate", FLAG_U64, OFF(rate), 0, NS_PER_S, (WL_ALL & ~WL(RBENCH_WL_WATCH)) | LOADS,
     "open loop: operations per second, latency from the intended send time (0: closed loop)"},
    {"timeout", FLAG_DURATION, OFF(timeout_ns), 0, DAY_NS, WL_SERVER | LOADS,
     "per request deadline (10s; 0: none)"},
    {"dial-timeout", FLAG_DURATION, OFF(dial_timeout_ns), NS_PER_MS, RBENCH_SETUP_MS_MAX *NS_PER_MS,
     WL_SERVER | LOADS, "connecting and setting up (10s)"},
    {"key-size", FLAG_U32, OFF(key_size), 1, RBENCH_KEY_BYTES_MAX, WL_SERVER | LOADS,
     "key bytes: the key number, zero-padded (8)"},
    {"val-size", FLAG_U32, OFF(val_size), 0, RBENCH_VALUE_BYTES_MAX, WL_VALUED | LOADS,
     "value bytes (8)"},
    {"key-space-size", FLAG_U64, OFF(key_space_size), 1, 1ull << 62, WL_KEYED | LOADS,
     "distinct keys (1)"},
    {"sequential-keys", FLAG_BOOL, OFF(sequential_keys), 0, 0, WL_KEYED | LOADS,
     "operation i uses key i % key-space-size instead of a random key"},
    {"seed", FLAG_U64, OFF(seed), 0, UINT64_MAX, WL_SERVER | LOADS, "random key seed (1)"},
    {"consistency", FLAG_CONSISTENCY, OFF(serializable), 0, 0,
     WL(RBENCH_WL_RANGE) | WL(RBENCH_WL_WATCH_GET) | LOADS,
     "l (linearizable) or s (serializable) reads (range: l; watch-get: s)"},
    {"range-keys", FLAG_U32, OFF(range_keys), 1, RBENCH_RANGE_KEYS_MAX, WL(RBENCH_WL_RANGE) | LOADS,
     "keys one range reads (1)"},
    {"txn-ops", FLAG_U32, OFF(txn_ops), 1, RBENCH_TXN_OPS_MAX, WL(RBENCH_WL_TXN_PUT) | LOADS,
     "puts in one txn (1)"},
    {"watchers", FLAG_U32, OFF(watchers), 1, RBENCH_WATCHERS_MAX, WL_WATCHES | LOADS,
     "watchers (10000)"},
    {"streams", FLAG_U32, OFF(streams), 1, RBENCH_WATCH_STREAMS_MAX, WL_WATCHES | LOADS,
     "watch streams the watchers share (watch: 100, watch-get: 1)"},
    {"watched-key-total", FLAG_U64, OFF(watched_key_total), 1, RBENCH_WATCH_KEYS_MAX,
     WL(RBENCH_WL_WATCH) | LOADS, "keys written and watched (1000)"},
    {"watch-range-keys", FLAG_U32, OFF(watch_range_keys), 1, RBENCH_WATCH_KEYS_MAX,
     WL(RBENCH_WL_WATCH) | LOADS, "consecutive keys each watcher's range covers (1)"},
    {"put-rate", FLAG_U64, OFF(put_rate), 0, NS_PER_S, WL(RBENCH_WL_WATCH) | LOADS,
     "the writer's puts per second (1000; 0: closed loop)"},
    {"drain", FLAG_DURATION, OFF(drain_ns), 0, RBENCH_SETUP_MS_MAX *NS_PER_MS,
     WL(RBENCH_WL_WATCH) | LOADS, "wait this long for events after the last put (5s)"},
    {"events", FLAG_U32, OFF(events), 1, 1000000, WL(RBENCH_WL_WATCH_GET) | LOADS,
     "old events each watcher catches up on (8)"},
    {"lease-ttl", FLAG_U64, OFF(lease_ttl_s), 1, 9000000000ull,
     WL(RBENCH_WL_LEASE_KEEPALIVE) | LOADS, "TTL of the granted leases, seconds (100)"},
    {"dir", FLAG_PATH, OFF(dir), 0, 0, WL(RBENCH_WL_FDATASYNC) | MODE_RUN,
     "where fdatasync's file goes: a directory on the disk to measure (.)"},
    {"json", FLAG_BOOL, OFF(json), 0, 0, WL_ALL | LOADS, "one JSON line per run on stdout"},
    {"no-progress", FLAG_BOOL, OFF(no_progress), 0, 0, WL_ALL | LOADS,
     "no progress bar (there is none anyway when stderr is not a terminal)"},
    {"csv", FLAG_PATH, OFF(csv_path), 0, 0, WL_ALL | LOADS,
     "write the latency histogram as CSV (compare: one file per server, FILE.NAME.csv)"},
    {"plot", FLAG_PATH, OFF(plot_path), 0, 0, WL_ALL | LOADS,
     "write the latency percentile curve as SVG (compare: both servers)"},
    {"label", FLAG_LABEL, OFF(label), 0, 0, WL_ALL | MODE_RUN, "the run's name in reports"},
    {"a", FLAG_ENDPOINT, OFF(a), 0, 0, WL_ALL | MODE_COMPARE,
     "compare: the first server's endpoint (a cluster: its members', comma-separated)"},
    {"b", FLAG_ENDPOINT, OFF(b), 0, 0, WL_ALL | MODE_COMPARE,
     "compare: the second server's endpoint(s)"},
    {"a-name", FLAG_LABEL, OFF(a_name), 0, 0, WL_ALL | MODE_COMPARE, "compare: its name (a)"},
    {"b-name", FLAG_LABEL, OFF(b_name), 0, 0, WL_ALL | MODE_COMPARE, "compare: its name (b)"},
    {"rounds", FLAG_U32, OFF(rounds), 1, RBENCH_COMPARE_ROUNDS_MAX, WL_ALL | MODE_COMPARE,
     "compare: rounds, each runs a and b, alternating who goes first (3)"},
    {"out", FLAG_PATH, OFF(out_path), 0, 0, MODE_PLOT, "plot: the SVG file to write"},
    {"title", FLAG_PATH, OFF(title), 0, 0, MODE_PLOT, "plot: the chart's title"},
};
#define FLAGS_COUNT (sizeof(flags) / sizeof(flags[0]))
static_assert(FLAGS_COUNT <= 64, "set flags are tracked in a 64-bit mask");

/* ---- Values -------------------------------------------------------------------------------- */

static int fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int parse_u64(const char *text, uint64_t *out)
{
    if (*text == '\0')
        return -EINVAL;
    uint64_t v = 0;
    for (const char *p = text; *p != '\0'; p++) { /* bounded by the string */
        if (*p < '0' || *p > '9')
            return -EINVAL;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return -ERANGE;
        v = v * 10u + d;
    }
    *out = v;
    return 0;
}

/* One "<number><unit>" term of a duration: returns the characters used, or 0. */
static size_t duration_term(const char *p, double *ns)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    size_t n = 0;
    double whole = 0, scale = 1;
    bool digits = false, dot = false;
    for (; (p[n] >= '0' && p[n] <= '9') || (p[n] == '.' && !dot); n++) {
        if (p[n] == '.') {
            dot = true;
            continue;
        }
        digits = true;
        if (dot)
            scale /= 10;
        whole = dot ? whole + (p[n] - '0') * scale : whole * 10 + (p[n] - '0');
        if (n > 40)
            return 0;
    }
    if (!digits)
        return 0;
    /* The table lists "ms" before "m" and "s", so the longer unit wins. */
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        size_t len = strlen(units[u].unit);
        if (strncmp(p + n, units[u].unit, len) == 0) {
            *ns = whole * units[u].ns;
            return n + len;
        }
    }
    return 0;
}

int rbench_parse_duration(const char *text, uint64_t *ns)
{
    if (strcmp(text, "0") == 0) {
        *ns = 0;
        return 0;
    }
    double total = 0;
    size_t at = 0, len = strlen(text);
    if (len == 0 || len > 64)
        return -EINVAL;
    while (at < len) { /* each term consumes at least two characters */
        double term = 0;
        size_t used = duration_term(text + at, &term);
        if (used == 0)
            return -EINVAL;
        total += term;
        at += used;
    }
    if (total >= 1.8e19)
        return -ERANGE;
    *ns = (uint64_t)(total + 0.5);
    return 0;
}

static int set_endpoints(struct rbench_config *c, const char *text, char *err, size_t err_size)
{
    c->endpoints_count = 0;
    const char *p = text;
    for (;;) { /* bounded by RBENCH_ENDPOINTS_MAX */
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= RBENCH_ENDPOINT_BYTES_MAX)
            return fail(err, err_size, "invalid --endpoints \"%s\": empty or too long entry", text);
        if (c->endpoints_count == RBENCH_ENDPOINTS_MAX)
            return fail(err, err_size, "--endpoints: more than %d endpoints", RBENCH_ENDPOINTS_MAX);
        memcpy(c->endpoints[c->endpoints_count], p, len);
        c->endpoints[c->endpoints_count][len] = '\0';
        c->endpoints_count++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int set_copy(char *field, size_t size, const struct flag *f, const char *value, char *err,
                    size_t err_size)
{
    size_t len = strlen(value);
    if (len == 0 || len >= size)
        return fail(err, err_size, "invalid value \"%s\" for --%s: empty or longer than %zu bytes",
                    value, f->name, size - 1);
    memcpy(field, value, len + 1);
    return 0;
}

static int set_bool(bool *field, const struct flag *f, const char *value, char *err,
                    size_t err_size)
{
    if (value == NULL || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
        *field = true;
    else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
        *field = false;
    else
        return fail(err, err_size, "invalid value \"%s\" for --%s: true or false", value, f->name);
    return 0;
}

static int set_number(struct rbench_config *c, const struct flag *f, const char *value, char *err,
                      size_t err_size)
{
    uint64_t v = 0;
    int rc = f->kind == FLAG_DURATION ? rbench_parse_duration(value, &v) : parse_u64(value, &v);
    if (rc < 0)
        return fail(err, err_size, "invalid value \"%s\" for --%s: %s", value, f->name,
                    f->kind == FLAG_DURATION ? "not a duration (e.g. 10s, 500ms)"
                                             : "not a non-negative integer");
    if (v < f->min || v > f->max)
        return fail(err, err_size, "invalid value \"%s\" for --%s: must be in [%llu, %llu]%s",
                    value, f->name, (unsigned long long)f->min, (unsigned long long)f->max,
                    f->kind == FLAG_DURATION ? " ns" : "");
    char *field = (char *)c + f->offset;
    if (f->kind == FLAG_U32)
        *(uint32_t *)(void *)field = (uint32_t)v;
    else
        *(uint64_t *)(void *)field = v;
    return 0;
}

static int set_flag(struct rbench_config *c, const struct flag *f, const char *value, char *err,
                    size_t err_size)
{
    char *field = (char *)c + f->offset;
    switch (f->kind) {
    case FLAG_BOOL:
        return set_bool((bool *)(void *)field, f, value, err, err_size);
    case FLAG_U32:
    case FLAG_U64:
    case FLAG_DURATION:
        return set_number(c, f, value, err, err_size);
    case FLAG_PATH:
        if (value[0] == '\0')
            return fail(err, err_size, "invalid value \"\" for --%s", f->name);
        *(const char **)(void *)field = value;
        return 0;
    case FLAG_LABEL:
        return set_copy(field, RBENCH_LABEL_BYTES_MAX, f, value, err, err_size);
    case FLAG_ENDPOINT:
        return set_copy(field, RBENCH_ENDPOINT_BYTES_MAX, f, value, err, err_size);
    case FLAG_ENDPOINTS:
        return set_endpoints(c, value, err, err_size);
    case FLAG_CONSISTENCY:
        if (strcmp(value, "l") != 0 && strcmp(value, "s") != 0)
            return fail(err, err_size, "invalid value \"%s\" for --consistency: l or s", value);
        c->serializable = value[0] == 's';
        return 0;
    }
    ASSERT(false);
    return -EINVAL;
}

/* ---- Parsing ------------------------------------------------------------------------------- */

static void defaults(struct rbench_config *c)
{
    *c = (struct rbench_config){
        .conns = 1,
        .clients = 1,
        .timeout_ns = 10 * NS_PER_S,
        .dial_timeout_ns = 10 * NS_PER_S,
        .key_size = 8,
        .val_size = 8,
        .key_space_size = 1,
        .seed = 1,
        .range_keys = 1,
        .txn_ops = 1,
        .watchers = 10000,
        .watched_key_total = 1000,
        .watch_range_keys = 1,
        .put_rate = 1000,
        .drain_ns = 5 * NS_PER_S,
        .events = 8,
        .lease_ttl_s = 100,
        .rounds = 3,
        .dir = ".",
    };
    snprintf(c->endpoints[0], sizeof(c->endpoints[0]), "127.0.0.1:2379");
    c->endpoints_count = 1;
    snprintf(c->a_name, sizeof(c->a_name), "a");
    snprintf(c->b_name, sizeof(c->b_name), "b");
}

struct parse_state {
    bool mode_set;
    bool workload_set;
    uint64_t set_mask; /* flags given, by table index */
};

static const struct flag *flag_find(const char *name, size_t len)
{
    for (size_t i = 0; i < FLAGS_COUNT; i++)
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

/* A word that is not a flag: the mode, then the workload, then (plot) the inputs. */
static int positional(struct rbench_config *c, struct parse_state *st, const char *word, char *err,
                      size_t err_size)
{
    if (!st->mode_set && !st->workload_set) {
        st->mode_set = true;
        if (strcmp(word, "compare") == 0) {
            c->mode = RBENCH_MODE_COMPARE;
            return 0;
        }
        if (strcmp(word, "plot") == 0) {
            c->mode = RBENCH_MODE_PLOT;
            return 0;
        }
        if (strcmp(word, "help") == 0) {
            c->mode = RBENCH_MODE_HELP;
            return 0;
        }
    }
    if (c->mode == RBENCH_MODE_PLOT) {
        if (c->inputs_count == RBENCH_PLOT_SERIES_MAX)
            return fail(err, err_size, "plot: more than %d inputs", RBENCH_PLOT_SERIES_MAX);
        c->inputs[c->inputs_count++] = word;
        return 0;
    }
    if (st->workload_set)
        return fail(err, err_size, "unexpected argument \"%s\"", word);
    int w = rbench_workload_parse(word);
    if (w < 0)
        return fail(err, err_size,
                    "unknown workload \"%s\": put, range, txn-put, txn-mixed, delete, watch, "
                    "watch-get, lease-keepalive or fdatasync",
                    word);
    c->workload = (enum rbench_workload)w;
    st->workload_set = true;
    return 0;
}

/* "--name[=value]" at argv[*i]; takes the next word as the value when needed. */
static int one_flag(struct rbench_config *c, struct parse_state *st, int argc, char *const argv[],
                    int *i, char *err, size_t err_size)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    const struct flag *f = flag_find(arg, len);
    if (f == NULL)
        return fail(err, err_size, "unknown flag --%.*s (ringd-bench --help lists them)", (int)len,
                    arg);
    const char *value = eq != NULL ? eq + 1 : NULL;
    if (value == NULL && f->kind != FLAG_BOOL) {
        if (*i + 1 >= argc)
            return fail(err, err_size, "flag --%s needs a value", f->name);
        value = argv[++*i];
    }
    st->set_mask |= 1ull << (size_t)(f - flags);
    return set_flag(c, f, value, err, err_size);
}

/* Every flag given must apply to the mode and the workload. */
static int check_scope(const struct rbench_config *c, const struct parse_state *st, char *err,
                       size_t err_size)
{
    uint32_t mode_bit = c->mode == RBENCH_MODE_RUN       ? MODE_RUN
                        : c->mode == RBENCH_MODE_COMPARE ? MODE_COMPARE
                                                         : MODE_PLOT;
    for (size_t i = 0; i < FLAGS_COUNT; i++) {
        if ((st->set_mask & (1ull << i)) == 0)
            continue;
        const struct flag *f = &flags[i];
        if ((f->scope & mode_bit) == 0)
            return fail(err, err_size, "flag --%s does not apply to %s", f->name,
                        c->mode == RBENCH_MODE_RUN       ? "a single run"
                        : c->mode == RBENCH_MODE_COMPARE ? "compare"
                                                         : "plot");
        if (mode_bit != MODE_PLOT && (f->scope & WL(c->workload)) == 0)
            return fail(err, err_size, "flag --%s does not apply to %s", f->name,
                        rbench_workload_name(c->workload));
    }
    return 0;
}

static bool flag_given(const struct parse_state *st, const char *name)
{
    const struct flag *f = flag_find(name, strlen(name));
    ASSERT(f != NULL);
    return (st->set_mask & (1ull << (size_t)(f - flags))) != 0;
}

/* The decimal digits that key number n - 1 needs. */
static uint32_t digits_for(uint64_t n)
{
    uint32_t d = 1;
    for (uint64_t v = n > 0 ? n - 1 : 0; v >= 10; v /= 10) /* at most 20 steps */
        d++;
    return d;
}

static int check_keys(const struct rbench_config *c, char *err, size_t err_size)
{
    uint64_t space = c->workload == RBENCH_WL_WATCH ? c->watched_key_total : c->key_space_size;
    if (digits_for(space) > c->key_size)
        return fail(err, err_size, "%llu keys need keys of %u bytes; --key-size is %u",
                    (unsigned long long)space, digits_for(space), c->key_size);
    if (c->workload == RBENCH_WL_TXN_PUT && c->txn_ops > c->key_space_size)
        return fail(err, err_size, "--txn-ops %u needs --key-space-size of at least as many keys",
                    c->txn_ops);
    if (c->workload == RBENCH_WL_RANGE && c->range_keys > c->key_space_size)
        return fail(err, err_size, "--range-keys %u is more than --key-space-size %llu",
                    c->range_keys, (unsigned long long)c->key_space_size);
    if (c->workload == RBENCH_WL_TXN_MIXED && c->key_space_size > RBENCH_CAS_KEYS_MAX)
        return fail(err, err_size, "txn-mixed remembers at most %u keys' revisions",
                    RBENCH_CAS_KEYS_MAX);
    return 0;
}

static int check_disk(const struct rbench_config *c, char *err, size_t err_size)
{
    if (c->workload == RBENCH_WL_FDATASYNC && c->val_size == 0)
        return fail(err, err_size,
                    "fdatasync needs --val-size of at least 1 (the bytes each write adds)");
    return 0;
}

static int check_watch(const struct rbench_config *c, char *err, size_t err_size)
{
    if (c->workload == RBENCH_WL_WATCH && c->val_size < 8)
        return fail(err, err_size, "watch needs --val-size of at least 8 (the put's send time)");
    if (c->workload == RBENCH_WL_WATCH && c->watch_range_keys > c->watched_key_total)
        return fail(err, err_size, "--watch-range-keys %u is more than --watched-key-total %llu",
                    c->watch_range_keys, (unsigned long long)c->watched_key_total);
    if (c->streams > c->watchers)
        return fail(err, err_size, "--streams %u is more than --watchers %u", c->streams,
                    c->watchers);
    if ((uint64_t)c->streams + c->clients > GRPC_CLIENT_CALLS_MAX / 2)
        return fail(err, err_size, "--streams plus --clients must stay under %u",
                    GRPC_CLIENT_CALLS_MAX / 2);
    return 0;
}

static int check_modes(struct rbench_config *c, const struct parse_state *st, char *err,
                       size_t err_size)
{
    if (c->mode == RBENCH_MODE_PLOT) {
        if (c->out_path == NULL || c->inputs_count == 0)
            return fail(err, err_size, "plot needs --out FILE.svg and at least one CSV file");
        return 0;
    }
    if (!st->workload_set)
        return fail(err, err_size, "no workload given (ringd-bench --help)");
    if (c->mode == RBENCH_MODE_COMPARE && c->workload == RBENCH_WL_FDATASYNC)
        return fail(err, err_size, "fdatasync measures the disk, not a server: run it alone");
    if (c->mode == RBENCH_MODE_COMPARE && (c->a[0] == '\0' || c->b[0] == '\0'))
        return fail(err, err_size, "compare needs --a ENDPOINT and --b ENDPOINT");
    if (c->mode == RBENCH_MODE_COMPARE && strcmp(c->a_name, c->b_name) == 0)
        return fail(err, err_size, "--a-name and --b-name must differ");
    const char *paths[3] = {c->plot_path, c->csv_path, c->dir};
    for (int i = 0; i < 3; i++)
        if (paths[i] != NULL && strlen(paths[i]) + RBENCH_LABEL_BYTES_MAX >= RBENCH_PATH_BYTES_MAX)
            return fail(err, err_size, "path too long: %s", paths[i]);
    if (c->plot_path != NULL &&
        (strlen(c->plot_path) < 4 || strcmp(c->plot_path + strlen(c->plot_path) - 4, ".svg") != 0))
        return fail(err, err_size, "--plot writes SVG: name the file *.svg");
    return 0;
}

int rbench_flags_parse(int argc, char *const argv[], struct rbench_config *c, char *err,
                       size_t err_size)
{
    defaults(c);
    struct parse_state st = {0};
    for (int i = 1; i < argc; i++) { /* bounded by argc */
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            c->mode = RBENCH_MODE_HELP;
            return 0;
        }
        int rc = strncmp(arg, "--", 2) == 0 && arg[2] != '\0'
                     ? one_flag(c, &st, argc, argv, &i, err, err_size)
                     : positional(c, &st, arg, err, err_size);
        if (rc < 0)
            return rc;
    }
    if (c->mode == RBENCH_MODE_HELP)
        return 0;
    int rc = check_modes(c, &st, err, err_size);
    if (rc == 0)
        rc = check_scope(c, &st, err, err_size);
    if (rc < 0 || c->mode == RBENCH_MODE_PLOT)
        return rc;
    if (c->workload == RBENCH_WL_WATCH_GET && !flag_given(&st, "streams"))
        c->streams = 1;
    if (c->workload == RBENCH_WL_WATCH && !flag_given(&st, "streams"))
        c->streams = c->watchers < 100 ? c->watchers : 100;
    if (c->workload == RBENCH_WL_WATCH_GET && !flag_given(&st, "consistency"))
        c->serializable = true;
    if (c->total == 0 && c->duration_ns == 0)
        c->total = 10000;
    rc = check_keys(c, err, err_size);
    if (rc == 0)
        rc = check_disk(c, err, err_size);
    return rc < 0 ? rc : check_watch(c, err, err_size);
}

/* ---- Usage --------------------------------------------------------------------------------- */

void rbench_flags_usage(FILE *out)
{
    fprintf(out, "ringd-bench: latency under load of an etcd v3 server (ringd or etcd)\n\n"
                 "usage:\n"
                 "  ringd-bench WORKLOAD [flags]              one run against --endpoints\n"
                 "  ringd-bench compare --a EP --b EP WORKLOAD [flags]\n"
                 "                                            both, alternating, --rounds rounds\n"
                 "  ringd-bench plot --out FILE.svg [NAME=]FILE.csv ...\n"
                 "                                            percentile curves of saved runs\n\n"
                 "workloads: put, range, txn-put, txn-mixed (compare-and-swap), delete, watch,\n"
                 "           watch-get, lease-keepalive\n"
                 "           fdatasync: no server; writes --val-size bytes at the end of a file\n"
                 "           preallocated in --dir and fdatasyncs it, as a WAL batch does (it\n"
                 "           takes --dir, --val-size, --total, --duration, --rate and the output\n"
                 "           flags)\n\n"
                 "flags:\n");
    for (size_t i = 0; i < FLAGS_COUNT; i++) {
        const struct flag *f = &flags[i];
        const char *arg = f->kind == FLAG_BOOL ? "" : f->kind == FLAG_DURATION ? " D" : " V";
        char left[48];
        snprintf(left, sizeof(left), "--%s%s", f->name, arg);
        fprintf(out, "  %-24s %s", left, f->help);
        /* Flags for every workload that has a server go without a list. */
        uint32_t wl = f->scope & WL_ALL;
        if (wl != WL_ALL && wl != WL_SERVER && (f->scope & MODE_PLOT) == 0) {
            fprintf(out, " [");
            const char *sep = "";
            for (int w = 0; w < RBENCH_WL_COUNT; w++) {
                if (f->scope & WL(w)) {
                    fprintf(out, "%s%s", sep, workload_names[w]);
                    sep = " ";
                }
            }
            fprintf(out, "]");
        }
        fprintf(out, "\n");
    }
}
