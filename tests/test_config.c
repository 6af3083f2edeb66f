/* Tests of core/config: every flag's default, every way of giving it (--f=v, --f v, -f v, the
 * environment), etcd's exact error texts and exit statuses, flags ringd does not support yet,
 * and the derived values (data dir, initial cluster, advertise URLs). The expected texts were
 * taken from etcd 3.4.23 run with the same arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "test_support.h"

#define OUTPUT_BYTES_MAX (1 << 16)

static struct config cfg;

/* What one config_parse call did. */
static struct {
    int rc;
    char out[OUTPUT_BYTES_MAX];
    char err[OUTPUT_BYTES_MAX];
    char log[OUTPUT_BYTES_MAX];
} res;

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE      ((const char *const[]){NULL})

static const char usage[] = "Usage:\n\n"
                            "  ringd [flags]\n"
                            "    Start a ringd server.\n\n"
                            "  ringd --version\n"
                            "    Show the version of ringd.\n\n"
                            "  ringd -h | --help\n"
                            "    Show the help information about ringd.\n\n";

static void slurp(FILE *f, char *out)
{
    rewind(f);
    size_t n = fread(out, 1, OUTPUT_BYTES_MAX - 1, f);
    out[n] = '\0';
    fclose(f);
}

/* Runs config_parse on "ringd args..." with exactly the environment env. */
static int run(const char *const *args, const char *const *env)
{
    char *argv[64], *envp[64];
    int argc = 0, envc = 0;
    argv[argc++] = "ringd";
    for (; args[argc - 1] != NULL; argc++) {
        assert_true(argc < 63);
        argv[argc] = (char *)args[argc - 1];
    }
    argv[argc] = NULL;
    for (; env[envc] != NULL; envc++) {
        assert_true(envc < 63);
        envp[envc] = (char *)env[envc];
    }
    envp[envc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    int log_fd = memfd_create("log", 0);
    assert_true(out != NULL && err != NULL && log_fd >= 0);
    log_set_fd(log_fd);
    memset(&cfg, 0xa5, sizeof cfg); /* config_parse must set everything itself */
    res.rc = config_parse(&cfg, argc, argv, envp, out, err);
    log_set_fd(2);
    slurp(out, res.out);
    slurp(err, res.err);
    ssize_t n = pread(log_fd, res.log, sizeof res.log - 1, 0);
    res.log[n > 0 ? n : 0] = '\0';
    close(log_fd);
    return res.rc;
}

static void expect_ok(const char *const *args, const char *const *env)
{
    if (run(args, env) != 0)
        fail_msg("rc %d, expected 0; stderr: %s", res.rc, res.err);
    assert_string_equal(res.err, "");
}

/* A command-line error of Go's flag package: the message, the usage, exit status 2. */
static void expect_usage_error(const char *const *args, const char *message)
{
    assert_int_equal(run(args, NONE), -RINGD_EINVAL_CONFIG);
    assert_int_equal(cfg.exit_status, 2);
    char want[4096];
    snprintf(want, sizeof want, "%s\n%s", message, usage);
    assert_string_equal(res.err, want);
    assert_string_equal(res.out, "");
}

/* An error etcd reports after parsing ("error verifying flags"), exit status 1. */
static void expect_verify_error(const char *const *args, const char *const *env,
                                const char *message)
{
    assert_int_equal(run(args, env), -RINGD_EINVAL_CONFIG);
    assert_int_equal(cfg.exit_status, 1);
    char want[4096];
    snprintf(want, sizeof want, "ringd: error verifying flags, %s. See 'ringd --help'.\n", message);
    assert_string_equal(res.err, want);
}

static void expect_plain_error(const char *const *args, const char *const *env, int status,
                               const char *message)
{
    assert_int_equal(run(args, env), -RINGD_EINVAL_CONFIG);
    assert_int_equal(cfg.exit_status, status);
    assert_string_equal(res.err, message);
}

static const struct config_flag *flag(const char *name)
{
    for (size_t i = 0; i < config_flags_count; i++) {
        if (strcmp(config_flags[i].name, name) == 0)
            return &config_flags[i];
    }
    fail_msg("no flag %s", name);
    return NULL;
}

static void env_name(const struct config_flag *f, char *out, size_t out_bytes)
{
    bool ringd = strncmp(f->name, "ringd-", 6) == 0;
    snprintf(out, out_bytes, "%s%s", ringd ? "" : "ETCD_", f->name);
    for (char *p = out; *p != '\0'; p++)
        *p = *p == '-' ? '_' : (*p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p);
}

/* The stored value of a supported flag as text, whatever its type. */
static const char *render(const struct config_flag *f)
{
    static char text[CONFIG_STRING_BYTES_MAX + 64];
    const char *field = (const char *)&cfg + f->offset;
    uint64_t u = 0;
    int64_t i = 0;
    uint32_t u32 = 0;
    switch (f->type) {
    case CONFIG_TYPE_STRING:
    case CONFIG_TYPE_STRINGS:
        snprintf(text, sizeof text, "%s", field);
        break;
    case CONFIG_TYPE_BOOL:
        snprintf(text, sizeof text, "%s", *(const bool *)field ? "true" : "false");
        break;
    case CONFIG_TYPE_UINT:
    case CONFIG_TYPE_UINT32:
    case CONFIG_TYPE_ENUM:
        if (f->size == sizeof u)
            memcpy(&u, field, sizeof u);
        else
            memcpy(&u32, field, sizeof u32), u = u32;
        snprintf(text, sizeof text, "%" PRIu64, u);
        break;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_DURATION:
        memcpy(&i, field, sizeof i);
        snprintf(text, sizeof text, "%" PRId64, i);
        break;
    case CONFIG_TYPE_URLS: {
        const struct config_urls *urls = (const struct config_urls *)field;
        size_t len = 0;
        text[0] = '\0';
        for (uint32_t k = 0; k < urls->count; k++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", k ? "," : "",
                                    urls->items[k].text);
        break;
    }
    case CONFIG_TYPE_IGNORED:
        fail();
    }
    return text;
}

static void test_defaults(void **state)
{
    (void)state;
    expect_ok(NONE, NONE);
    assert_string_equal(cfg.name, "default");
    assert_string_equal(cfg.data_dir, "default.ringd");
    assert_true(cfg.data_dir_defaulted);
    assert_string_equal(cfg.wal_dir, "");
    assert_int_equal(cfg.listen_peer_urls.count, 1);
    const struct config_url *u = &cfg.listen_peer_urls.items[0];
    assert_int_equal(u->scheme, CONFIG_URL_HTTP);
    assert_string_equal(u->host, "localhost");
    assert_int_equal(u->port, 2380);
    assert_string_equal(u->text, "http://localhost:2380");
    assert_string_equal(u->socket_path, "");
    assert_string_equal(render(flag("listen-client-urls")), "http://localhost:2379");
    assert_string_equal(render(flag("initial-advertise-peer-urls")), "http://localhost:2380");
    assert_string_equal(render(flag("advertise-client-urls")), "http://localhost:2379");
    assert_string_equal(cfg.initial_cluster, "default=http://localhost:2380");
    assert_int_equal(cfg.initial_cluster_state, CONFIG_CLUSTER_STATE_NEW);
    assert_string_equal(cfg.initial_cluster_token, "etcd-cluster");
    assert_int_equal(cfg.snapshot_count, 10000);
    assert_int_equal(cfg.heartbeat_interval_ms, 100);
    assert_int_equal(cfg.election_timeout_ms, 1000);
    assert_true(cfg.initial_election_tick_advance);
    assert_true(cfg.strict_reconfig_check);
    assert_true(cfg.pre_vote);
    assert_int_equal(cfg.quota_backend_bytes, 0);
    assert_int_equal(cfg.max_request_bytes, 1572864);
    assert_int_equal(cfg.max_txn_ops, 128);
    assert_int_equal(cfg.max_concurrent_streams, UINT32_MAX);
    assert_int_equal(cfg.grpc_keepalive_min_time_ms, 5000);
    assert_int_equal(cfg.grpc_keepalive_interval_ms, 2 * 3600 * 1000);
    assert_int_equal(cfg.grpc_keepalive_timeout_ms, 20000);
    assert_int_equal(cfg.max_snapshots, 5);
    assert_int_equal(cfg.max_wals, 5);
    assert_string_equal(cfg.auto_compaction_mode_text, "periodic");
    assert_int_equal(cfg.auto_compaction_mode, CONFIG_COMPACTION_PERIODIC);
    assert_string_equal(cfg.auto_compaction_retention, "0");
    assert_int_equal(cfg.auto_compaction_retention_ms, 0);
    assert_int_equal(cfg.auto_compaction_retention_revisions, 0);
    assert_string_equal(cfg.logger, "zap");
    assert_string_equal(cfg.log_outputs, "default");
    assert_string_equal(cfg.log_level_text, "info");
    assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
    assert_false(cfg.debug);
    assert_int_equal(cfg.bcrypt_cost, 10);
    assert_int_equal(cfg.auth_token_ttl_s, 300);
    assert_true(cfg.enable_grpc_gateway);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(cfg.shards, cpus > SHARDS_MAX ? SHARDS_MAX : cpus);
    assert_false(cfg.print_version);
    assert_string_equal(res.out, "");
    assert_string_equal(res.log, "");
}

/* A valid non-default value for every supported flag, and what is stored. */
static const struct good {
    const char *name;
    const char *value;
    const char *stored;    /* render() of the field afterwards */
    const char *companion; /* another flag the value needs, or NULL */
} goods[] = {
    {"name", "infra1", "infra1", NULL},
    {"data-dir", "/var/lib/ringd", "/var/lib/ringd", NULL},
    {"wal-dir", "/wal", "/wal", NULL},
    {"snapshot-count", "0x10", "16", NULL},
    {"heartbeat-interval", "50", "50", NULL},
    {"election-timeout", "2000", "2000", NULL},
    {"initial-election-tick-advance", "false", "false", NULL},
    {"listen-peer-urls", "http://127.0.0.1:12380, http://10.0.0.1:2380",
     "http://10.0.0.1:2380,http://127.0.0.1:12380", NULL},
    {"listen-client-urls", "http://127.0.0.1:12379", "http://127.0.0.1:12379",
     "--advertise-client-urls=http://10.0.0.1:2379"},
    {"max-snapshots", "0", "0", NULL},
    {"max-wals", "0o12", "10", NULL},
    {"quota-backend-bytes", "-1", "-1", NULL},
    {"max-txn-ops", "1_000", "1000", NULL},
    {"max-request-bytes", "10485760", "10485760", NULL},
    {"max-concurrent-streams", "100", "100", NULL},
    {"grpc-keepalive-min-time", "1.5s", "1500", NULL},
    {"grpc-keepalive-interval", "0", "0", NULL},
    {"grpc-keepalive-timeout", "1m", "60000", NULL},
    {"initial-advertise-peer-urls", "http://10.0.0.1:2380", "http://10.0.0.1:2380", NULL},
    {"initial-cluster", "a=http://10.0.0.1:2380,b=http://10.0.0.2:2380",
     "a=http://10.0.0.1:2380,b=http://10.0.0.2:2380", NULL},
    {"initial-cluster-state", "existing", "1", NULL},
    {"initial-cluster-token", "tok-1", "tok-1", NULL},
    {"advertise-client-urls", "https://db.example:2379", "https://db.example:2379", NULL},
    {"strict-reconfig-check", "false", "false", NULL},
    {"pre-vote", "false", "false", NULL},
    {"force-new-cluster", "true", "true", NULL},
    {"auto-compaction-retention", "1h", "1h", NULL},
    {"auto-compaction-mode", "revision", "revision", NULL},
    {"enable-grpc-gateway", "false", "false", NULL},
    {"bcrypt-cost", "12", "12", NULL},
    {"auth-token-ttl", "600", "600", NULL},
    {"logger", "zap", "zap", NULL},
    {"log-outputs", "stderr", "stderr", NULL},
    {"log-level", "debug", "debug", NULL},
    {"debug", "true", "true", NULL},
    {"ringd-shards", "3", "3", NULL},
    {"ringd-wal-force", "true", "true", NULL},
};

static const struct good *good_for(const char *name)
{
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
        if (strcmp(goods[i].name, name) == 0)
            return &goods[i];
    }
    return NULL;
}

static void expect_stored(const struct good *g, const char *const *args, const char *const *env)
{
    if (run(args, env) != 0)
        fail_msg("--%s %s: rc %d: %s", g->name, g->value, res.rc, res.err);
    if (strcmp(render(flag(g->name)), g->stored) != 0)
        fail_msg("--%s %s: stored %s, expected %s", g->name, g->value, render(flag(g->name)),
                 g->stored);
}

/* Every supported flag by --f=v, --f v, -f v (-f=v for bools) and ETCD_F=v. */
static void test_every_supported_flag(void **state)
{
    (void)state;
    for (size_t i = 0; i < config_flags_count; i++) {
        const struct config_flag *f = &config_flags[i];
        if (f->support != CONFIG_SUPPORTED || strcmp(f->name, "version") == 0)
            continue;
        const struct good *g = good_for(f->name);
        if (g == NULL)
            fail_msg("no test value for --%s", f->name);
        /* "--" ends the flags: a harmless filler when no other flag is needed. */
        const char *c = g->companion != NULL ? g->companion : "--";
        char eq[8192], dashed[256], one[256], env[8192], key[128];
        snprintf(eq, sizeof eq, "--%s=%s", f->name, g->value);
        snprintf(dashed, sizeof dashed, "--%s", f->name);
        snprintf(one, sizeof one, "-%s", f->name);
        env_name(f, key, sizeof key);
        snprintf(env, sizeof env, "%s=%s", key, g->value);
        expect_stored(g, ARGS(eq, c), NONE);
        snprintf(eq, sizeof eq, "-%s=%s", f->name, g->value);
        expect_stored(g, ARGS(eq, c), NONE);
        if (f->type != CONFIG_TYPE_BOOL) {
            expect_stored(g, ARGS(dashed, g->value, c), NONE);
            expect_stored(g, ARGS(one, g->value, c), NONE);
        }
        expect_stored(g, ARGS(c), ARGS(env));
        char logged[8192];
        snprintf(logged, sizeof logged,
                 "\"msg\":\"recognized and used environment variable\",\"variable-name\":\"%s\"",
                 key);
        assert_non_null(strstr(res.log, logged));
    }
}

/* etcd 3.4 and 3.5 refuse a variable whose flag is also on the command line. */
static void test_flag_and_env_conflict(void **state)
{
    (void)state;
    for (size_t i = 0; i < config_flags_count; i++) {
        const struct config_flag *f = &config_flags[i];
        if (f->type == CONFIG_TYPE_IGNORED || strcmp(f->name, "version") == 0)
            continue;
        char arg[128], key[128], env[256], want[512];
        const char *value = f->type == CONFIG_TYPE_BOOL ? "false" : f->default_text;
        snprintf(arg, sizeof arg, "--%s=%s", f->name, value != NULL ? value : "1");
        env_name(f, key, sizeof key);
        snprintf(env, sizeof env, "%s=%s", key, value != NULL && value[0] ? value : "1");
        snprintf(want, sizeof want,
                 "ringd: conflicting environment variable \"%s\" is shadowed by corresponding "
                 "command-line flag (either unset environment variable or disable flag)\n",
                 key);
        expect_plain_error(ARGS(arg), ARGS(env), 1, want);
    }
    /* Even an empty variable conflicts, as in etcd. */
    expect_plain_error(ARGS("--name=a"), ARGS("ETCD_NAME="), 1,
                       "ringd: conflicting environment variable \"ETCD_NAME\" is shadowed by "
                       "corresponding command-line flag (either unset environment variable or "
                       "disable flag)\n");
}

/* A non-default value for a flag of any type. */
static const char *other_value(const struct config_flag *f)
{
    static char text[64];
    switch (f->type) {
    case CONFIG_TYPE_BOOL:
        return strcmp(f->default_text, "true") == 0 ? "false" : "true";
    case CONFIG_TYPE_UINT:
    case CONFIG_TYPE_UINT32:
        return "12345";
    case CONFIG_TYPE_INT:
        return "-7";
    case CONFIG_TYPE_DURATION:
        return "7s";
    case CONFIG_TYPE_ENUM:
        snprintf(text, sizeof text, "%s", strchr(f->choices, '|') + 1);
        text[strcspn(text, "|")] = '\0';
        return text;
    case CONFIG_TYPE_URLS:
        return "http://127.0.0.1:1";
    default:
        return "x";
    }
}

/* Flags for features ringd lacks: their default passes, anything else is refused, exit 2. */
static void test_unsupported_flags(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < config_flags_count; i++) {
        const struct config_flag *f = &config_flags[i];
        if (f->support != CONFIG_UNSUPPORTED)
            continue;
        char arg[512], key[128], env[512], want[256];
        snprintf(arg, sizeof arg, "--%s=%s", f->name, f->default_text);
        expect_ok(ARGS(arg), NONE);
        env_name(f, key, sizeof key);
        snprintf(env, sizeof env, "%s=%s", key, f->default_text);
        expect_ok(NONE, ARGS(env));
        snprintf(want, sizeof want, "ringd: flag --%s: not supported yet\n", f->name);
        snprintf(arg, sizeof arg, "--%s=%s", f->name, other_value(f));
        expect_plain_error(ARGS(arg), NONE, 2, want);
        snprintf(env, sizeof env, "%s=%s", key, other_value(f));
        expect_plain_error(NONE, ARGS(env), 2, want);
        /* Set away from the default and back again: the last value counts. */
        char back[512];
        snprintf(back, sizeof back, "--%s=%s", f->name, f->default_text);
        snprintf(arg, sizeof arg, "--%s=%s", f->name, other_value(f));
        expect_ok(ARGS(arg, back), NONE);
        checked++;
    }
    assert_true(checked > 60);
    expect_plain_error(ARGS("--cert-file", "/etc/ssl/server.pem"), NONE, 2,
                       "ringd: flag --cert-file: not supported yet\n");
    expect_plain_error(ARGS("--client-cert-auth"), NONE, 2,
                       "ringd: flag --client-cert-auth: not supported yet\n");
    expect_plain_error(ARGS("--auth-token", "jwt,pub-key=a.pub,sign-method=RS256"), NONE, 2,
                       "ringd: flag --auth-token: not supported yet\n");
    expect_plain_error(NONE, ARGS("ETCD_CONFIG_FILE=/etc/etcd.yaml"), 2,
                       "ringd: flag --config-file: not supported yet\n");
    expect_ok(ARGS("--cors=*", "--host-whitelist=*", "--enable-v2=false", "--proxy=off"), NONE);
    /* Type errors come first, with Go's text. */
    expect_usage_error(ARGS("--enable-v2=yes"),
                       "invalid boolean value \"yes\" for -enable-v2: parse error");
    expect_usage_error(ARGS("--proxy=foo"), "invalid value \"foo\" for flag -proxy: invalid value");
    expect_usage_error(ARGS("--cors=foo"), "invalid value \"foo\" for flag -cors: URL scheme must "
                                           "be http, https, unix, or unixs: foo");
}

/* bbolt tuning flags and etcd 0.4's flags are accepted with a warning. */
static void test_no_effect_and_ignored_flags(void **state)
{
    (void)state;
    for (size_t i = 0; i < config_flags_count; i++) {
        const struct config_flag *f = &config_flags[i];
        char arg[512], want[512];
        if (f->support != CONFIG_NO_EFFECT)
            continue;
        if (f->type == CONFIG_TYPE_IGNORED) {
            snprintf(arg, sizeof arg, "-%s", f->name);
            snprintf(want, sizeof want,
                     "\"msg\":\"flag \\\"-%s\\\" is no longer supported - ignoring.\"", f->name);
        } else {
            snprintf(arg, sizeof arg, "--%s=%s", f->name, other_value(f));
            snprintf(want, sizeof want,
                     "\"msg\":\"flag has no effect in ringd; ignoring\",\"flag\":\"%s\"", f->name);
        }
        expect_ok(ARGS(arg), NONE);
        if (strstr(res.log, want) == NULL)
            fail_msg("%s: no warning %s in %s", arg, want, res.log);
    }
    expect_ok(ARGS("--backend-batch-limit=0"), NONE);
    assert_string_equal(res.log, "");
    /* They take no value after a space, like bools: the value ends the flags. */
    expect_verify_error(ARGS("--config", "etcd.conf"), NONE, "'etcd.conf' is not a valid flag");
    expect_ok(ARGS("--config=etcd.conf", "-vv"), NONE);
}

static void test_unsigned_values(void **state)
{
    (void)state;
    static const struct {
        const char *value, *stored, *error;
    } cases[] = {
        {"0x10", "16", NULL},
        {"0X10", "16", NULL},
        {"010", "8", NULL},
        {"0b101", "5", NULL},
        {"0B11", "3", NULL},
        {"0o17", "15", NULL},
        {"0_10", "8", NULL},
        {"0x_1f", "31", NULL},
        {"1_000", "1000", NULL},
        {"18446744073709551615", "18446744073709551615", NULL},
        {"18446744073709551616", NULL, "value out of range"},
        {"99999999999999999999999x", NULL, "value out of range"},
        {"abc", NULL, "parse error"},
        {"-1", NULL, "parse error"},
        {"+5", NULL, "parse error"},
        {"", NULL, "parse error"},
        {"0x", NULL, "parse error"},
        {"08", NULL, "parse error"},
        {"1__0", NULL, "parse error"},
        {"_1", NULL, "parse error"},
        {"1_", NULL, "parse error"},
        {"1.5", NULL, "parse error"},
        {" 1", NULL, "parse error"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char arg[128], want[256];
        snprintf(arg, sizeof arg, "--max-txn-ops=%s", cases[i].value);
        if (cases[i].error == NULL) {
            expect_ok(ARGS(arg), NONE);
            assert_string_equal(render(flag("max-txn-ops")), cases[i].stored);
            continue;
        }
        snprintf(want, sizeof want, "invalid value \"%s\" for flag -max-txn-ops: %s",
                 cases[i].value, cases[i].error);
        expect_usage_error(ARGS(arg), want);
    }
    expect_usage_error(ARGS("--heartbeat-interval=abc"),
                       "invalid value \"abc\" for flag -heartbeat-interval: parse error");
    expect_usage_error(ARGS("--snapshot-count=99999999999999999999999"),
                       "invalid value \"99999999999999999999999\" for flag -snapshot-count: value "
                       "out of range");
    /* The environment reports the variable and exits with 1, as etcd does. */
    expect_verify_error(NONE, ARGS("ETCD_HEARTBEAT_INTERVAL=abc"),
                        "invalid value \"abc\" for ETCD_HEARTBEAT_INTERVAL: parse error");
    expect_verify_error(NONE, ARGS("ETCD_MAX_WALS=-1", "ETCD_HEARTBEAT_INTERVAL=abc"),
                        "invalid value \"-1\" for ETCD_MAX_WALS: parse error");
}

/* --max-concurrent-streams is etcd's own uint32 flag, which passes strconv's error through. */
static void test_uint32_values(void **state)
{
    (void)state;
    expect_ok(ARGS("--max-concurrent-streams=0x10"), NONE);
    assert_int_equal(cfg.max_concurrent_streams, 16);
    expect_ok(ARGS("--max-concurrent-streams=4294967295"), NONE);
    assert_int_equal(cfg.max_concurrent_streams, UINT32_MAX);
    expect_usage_error(ARGS("--max-concurrent-streams=abc"),
                       "invalid value \"abc\" for flag -max-concurrent-streams: strconv.ParseUint: "
                       "parsing \"abc\": invalid syntax");
    expect_usage_error(ARGS("--max-concurrent-streams=-1"),
                       "invalid value \"-1\" for flag -max-concurrent-streams: strconv.ParseUint: "
                       "parsing \"-1\": invalid syntax");
    expect_usage_error(ARGS("--max-concurrent-streams=4294967296"),
                       "invalid value \"4294967296\" for flag -max-concurrent-streams: "
                       "strconv.ParseUint: parsing \"4294967296\": value out of range");
    expect_verify_error(NONE, ARGS("ETCD_MAX_CONCURRENT_STREAMS=abc"),
                        "invalid value \"abc\" for ETCD_MAX_CONCURRENT_STREAMS: "
                        "strconv.ParseUint: parsing \"abc\": invalid syntax");
}

static void test_signed_values(void **state)
{
    (void)state;
    expect_ok(ARGS("--quota-backend-bytes=-9223372036854775808"), NONE);
    assert_int_equal(cfg.quota_backend_bytes, INT64_MIN);
    expect_ok(ARGS("--quota-backend-bytes=+0x10"), NONE);
    assert_int_equal(cfg.quota_backend_bytes, 16);
    expect_ok(ARGS("--quota-backend-bytes", "8589934592"), NONE);
    assert_int_equal(cfg.quota_backend_bytes, 8589934592LL);
    expect_usage_error(ARGS("--quota-backend-bytes=9223372036854775808"),
                       "invalid value \"9223372036854775808\" for flag -quota-backend-bytes: "
                       "value out of range");
    expect_usage_error(ARGS("--quota-backend-bytes=-9223372036854775809"),
                       "invalid value \"-9223372036854775809\" for flag -quota-backend-bytes: "
                       "value out of range");
    expect_usage_error(ARGS("--quota-backend-bytes=1e9"),
                       "invalid value \"1e9\" for flag -quota-backend-bytes: parse error");
    expect_usage_error(ARGS("--quota-backend-bytes=-"),
                       "invalid value \"-\" for flag -quota-backend-bytes: parse error");
}

static void test_duration_values(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int64_t ms;
    } good[] = {
        {"0", 0},
        {"-0", 0},
        {"+0", 0},
        {"5s", 5000},
        {"-5s", -5000},
        {"1.5h30m", 7200000},
        {"1.s", 1000},
        {".5s", 500},
        {"100us", 1},
        {"1\xc2\xb5s", 1},
        {"1\xce\xbcs", 1},
        {"1500ns", 1},
        {"2h45m10.5s", 9910500},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char arg[128];
        snprintf(arg, sizeof arg, "--grpc-keepalive-timeout=%s", good[i].value);
        expect_ok(ARGS(arg), NONE);
        assert_int_equal(cfg.grpc_keepalive_timeout_ms, good[i].ms);
    }
    static const char *const bad[] = {
        "5",        "abc", "",       ".s",  "0s0", "1x", "9223372036854775808ns",
        "2562048h", "s",   "1.5.5s", "--1s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char arg[128], want[256];
        snprintf(arg, sizeof arg, "--grpc-keepalive-min-time=%s", bad[i]);
        snprintf(want, sizeof want,
                 "invalid value \"%s\" for flag -grpc-keepalive-min-time: parse error", bad[i]);
        expect_usage_error(ARGS(arg), want);
    }
    expect_verify_error(NONE, ARGS("ETCD_GRPC_KEEPALIVE_INTERVAL=2"),
                        "invalid value \"2\" for ETCD_GRPC_KEEPALIVE_INTERVAL: parse error");
}

/* Go's time.ParseDuration, values and error texts. */
static void test_duration_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ns;
    } good[] = {
        {"0", 0},
        {"1ns", 1},
        {"1.5h", 5400000000000},
        {"1h1m1s1ms1us1ns", 3661001001001},
        {"-1.5s", -1500000000},
        {"+2s", 2000000000},
        {"9223372036854775807ns", INT64_MAX},
        {"-9223372036854775808ns", INT64_MIN},
        {"1.0000000000000000000001s", 1000000000},
        {"0.000000001s", 1},
        {"10m", 600000000000},
    };
    char why[256];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t ns = 0;
        assert_int_equal(config_duration_parse(good[i].text, &ns, why, sizeof why), 0);
        assert_int_equal(ns, good[i].ns);
    }
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"abc", "time: invalid duration \"abc\""},
        {"", "time: invalid duration \"\""},
        {"-", "time: invalid duration \"-\""},
        {"1", "time: missing unit in duration \"1\""},
        {"-1", "time: missing unit in duration \"-1\""},
        {"1x", "time: unknown unit \"x\" in duration \"1x\""},
        {"1hh", "time: unknown unit \"hh\" in duration \"1hh\""},
        {".h", "time: invalid duration \".h\""},
        {"2562048h", "time: invalid duration \"2562048h\""},
        {"9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ns = 42;
        assert_int_equal(config_duration_parse(bad[i].text, &ns, why, sizeof why),
                         -RINGD_EINVAL_CONFIG);
        assert_string_equal(why, bad[i].why);
        assert_int_equal(ns, 42);
    }
}

static void test_bool_values(void **state)
{
    (void)state;
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (int i = 0; i < 6; i++) {
        char arg[64];
        snprintf(arg, sizeof arg, "--pre-vote=%s", no[i]);
        expect_ok(ARGS(arg), NONE);
        assert_false(cfg.pre_vote);
        snprintf(arg, sizeof arg, "--strict-reconfig-check=%s", yes[i]);
        expect_ok(ARGS("--strict-reconfig-check=false", arg), NONE);
        assert_true(cfg.strict_reconfig_check);
    }
    expect_ok(ARGS("--pre-vote=false", "--pre-vote"), NONE);
    assert_true(cfg.pre_vote);
    expect_usage_error(ARGS("--pre-vote=yes"),
                       "invalid boolean value \"yes\" for -pre-vote: parse error");
    expect_usage_error(ARGS("--pre-vote=tRUE"),
                       "invalid boolean value \"tRUE\" for -pre-vote: parse error");
    expect_usage_error(ARGS("--pre-vote="),
                       "invalid boolean value \"\" for -pre-vote: parse error");
    expect_verify_error(NONE, ARGS("ETCD_PRE_VOTE=yes"),
                        "invalid value \"yes\" for ETCD_PRE_VOTE: parse error");
    /* A bool flag takes no value after a space: Go stops at "false", etcd refuses it. */
    expect_verify_error(ARGS("--pre-vote", "false"), NONE, "'false' is not a valid flag");
    expect_verify_error(ARGS("--pre-vote", "false", "--name=x"), NONE,
                        "'false' is not a valid flag");
}

static void test_enum_and_string_values(void **state)
{
    (void)state;
    expect_usage_error(ARGS("--initial-cluster-state=foo"),
                       "invalid value \"foo\" for flag -initial-cluster-state: invalid value");
    expect_usage_error(ARGS("--initial-cluster-state=New"),
                       "invalid value \"New\" for flag -initial-cluster-state: invalid value");
    expect_verify_error(NONE, ARGS("ETCD_INITIAL_CLUSTER_STATE=foo"),
                        "invalid value \"foo\" for ETCD_INITIAL_CLUSTER_STATE: invalid value");
    static char long_name[CONFIG_NAME_BYTES_MAX + 1], arg[CONFIG_NAME_BYTES_MAX + 16];
    static char want[2 * CONFIG_NAME_BYTES_MAX];
    memset(long_name, 'n', CONFIG_NAME_BYTES_MAX);
    snprintf(arg, sizeof arg, "--name=%s", long_name);
    snprintf(want, sizeof want, "invalid value \"%s\" for flag -name: value longer than %d bytes",
             long_name, CONFIG_NAME_BYTES_MAX - 1);
    expect_usage_error(ARGS(arg), want);
    long_name[CONFIG_NAME_BYTES_MAX - 1] = '\0';
    expect_ok(ARGS("--name", long_name), NONE);
    assert_string_equal(cfg.name, long_name);
    /* Quoting in error texts follows Go's %q. */
    expect_usage_error(ARGS("--initial-cluster-state=a\"b\\c\n\x01\xff\xc3\xa9"),
                       "invalid value \"a\\\"b\\\\c\\n\\x01\\xff\xc3\xa9\" for flag "
                       "-initial-cluster-state: invalid value");
    /* Any text is a string, including one starting with dashes. */
    expect_ok(ARGS("--name", "--foo"), NONE);
    assert_string_equal(cfg.name, "--foo");
    expect_ok(ARGS("--name="), NONE);
    assert_string_equal(cfg.name, "");
    assert_string_equal(cfg.data_dir, ".ringd");
    expect_ok(ARGS("--name=a", "--name=b"), NONE);
    assert_string_equal(cfg.name, "b");
}

static void test_url_values(void **state)
{
    (void)state;
    static const struct {
        const char *value, *why;
    } bad[] = {
        {"ftp://localhost:2379",
         "URL scheme must be http, https, unix, or unixs: ftp://localhost:2379"},
        {"http://localhost", "URL address does not have the form \"host:port\": http://localhost"},
        {"http://localhost:2379/x", "URL must not contain a path: http://localhost:2379/x"},
        {"http://localhost:2379/", "URL must not contain a path: http://localhost:2379/"},
        {"http://127.0.0.1:2379,", "URL scheme must be http, https, unix, or unixs: "},
        {"unix:///tmp/x.sock",
         "URL address does not have the form \"host:port\": unix:///tmp/x.sock"},
        {"http://127.0.0.1:abc",
         "parse \"http://127.0.0.1:abc\": invalid port \":abc\" after host"},
        {"127.0.0.1:2379",
         "parse \"127.0.0.1:2379\": first path segment in URL cannot contain colon"},
        {"localhost:2379", "URL scheme must be http, https, unix, or unixs: localhost:2379"},
        {"://x:1", "parse \"://x:1\": missing protocol scheme"},
        {"http://a b:1", "parse \"http://a b:1\": invalid character \" \" in host name"},
        {"http://[::1:2379", "parse \"http://[::1:2379\": missing ']' in host"},
        {"http://[::1]", "URL address does not have the form \"host:port\": http://[::1]"},
        {"http://::1:2379", "URL address does not have the form \"host:port\": http://::1:2379"},
        {"http:foo", "URL address does not have the form \"host:port\": http:foo"},
        {"http://h:99999", "URL port is larger than 65535: http://h:99999"},
        {"http://h:1\x01", "parse \"http://h:1\\x01\": net/url: invalid control character in URL"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char arg[256], want[512];
        snprintf(arg, sizeof arg, "--initial-advertise-peer-urls=%s", bad[i].value);
        snprintf(want, sizeof want,
                 "invalid value \"%s\" for flag -initial-advertise-peer-urls: %s", bad[i].value,
                 bad[i].why);
        if (strchr(bad[i].value, '\x01') != NULL)
            snprintf(want, sizeof want,
                     "invalid value \"http://h:1\\x01\" for flag -initial-advertise-peer-urls: %s",
                     bad[i].why);
        expect_usage_error(ARGS(arg), want);
    }
    expect_verify_error(NONE, ARGS("ETCD_LISTEN_PEER_URLS=ftp://a:1"),
                        "invalid value \"ftp://a:1\" for ETCD_LISTEN_PEER_URLS: URL scheme must be "
                        "http, https, unix, or unixs: ftp://a:1");
}

static void test_url_parse_details(void **state)
{
    (void)state;
    static struct config_urls urls;
    char why[512];
    assert_int_equal(
        config_urls_parse(&urls,
                          " HTTP://127.0.0.1:2379 ,unix://localhost:23790,"
                          "http://[::1]:2379?x=1#f,https://u:p@db.example:,unixs://a:1",
                          why, sizeof why),
        0);
    assert_int_equal(urls.count, 5);
    /* Sorted by text as etcd sorts them. */
    assert_string_equal(urls.items[0].text, "http://127.0.0.1:2379");
    assert_int_equal(urls.items[0].scheme, CONFIG_URL_HTTP);
    assert_string_equal(urls.items[0].host, "127.0.0.1");
    assert_int_equal(urls.items[0].port, 2379);
    assert_string_equal(urls.items[1].text, "http://[::1]:2379?x=1#f");
    assert_string_equal(urls.items[1].host, "::1");
    assert_int_equal(urls.items[1].port, 2379);
    assert_string_equal(urls.items[2].text, "https://u:p@db.example:");
    assert_int_equal(urls.items[2].scheme, CONFIG_URL_HTTPS);
    assert_string_equal(urls.items[2].host, "db.example");
    assert_int_equal(urls.items[2].port, 0);
    assert_int_equal(urls.items[3].scheme, CONFIG_URL_UNIX);
    assert_string_equal(urls.items[3].host, "localhost");
    assert_int_equal(urls.items[3].port, 23790);
    assert_string_equal(urls.items[3].socket_path, "localhost:23790");
    assert_int_equal(urls.items[4].scheme, CONFIG_URL_UNIXS);
    assert_string_equal(urls.items[4].socket_path, "a:1");
    assert_string_equal(urls.items[0].socket_path, "");

    /* CONFIG_URLS_MAX URLs fit; one more does not. */
    static char list[CONFIG_URLS_MAX * 32 + 64], arg[sizeof list + 64], want[2 * sizeof list];
    size_t len = 0;
    for (int i = 0; i < CONFIG_URLS_MAX; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%shttp://10.0.0.%d:2380",
                                i ? "," : "", i + 1);
    assert_int_equal(config_urls_parse(&urls, list, why, sizeof why), 0);
    assert_int_equal(urls.count, CONFIG_URLS_MAX);
    snprintf(list + len, sizeof list - len, ",http://10.0.1.1:2380");
    snprintf(arg, sizeof arg, "--initial-advertise-peer-urls=%s", list);
    snprintf(want, sizeof want,
             "invalid value \"%s\" for flag -initial-advertise-peer-urls: more than %d URLs", list,
             CONFIG_URLS_MAX);
    expect_usage_error(ARGS(arg), want);

    /* A URL longer than CONFIG_URL_BYTES_MAX - 1 bytes. */
    static char host[CONFIG_URL_BYTES_MAX];
    memset(host, 'h', sizeof host - 1);
    snprintf(list, sizeof list, "http://%s:1", host);
    assert_int_equal(config_urls_parse(&urls, list, why, sizeof why), -RINGD_EINVAL_CONFIG);
    assert_int_equal(strncmp(why, "URL longer than 255 bytes: http://hhh", 37), 0);
}

/* What etcd checks once all flags are read. */
static void test_verification(void **state)
{
    (void)state;
    expect_verify_error(ARGS("--heartbeat-interval=0"), NONE,
                        "--heartbeat-interval must be >0 (set to 0ms)");
    expect_verify_error(ARGS("--election-timeout=0"), NONE,
                        "--election-timeout must be >0 (set to 0ms)");
    expect_verify_error(ARGS("--heartbeat-interval=300"), NONE,
                        "--election-timeout[1000ms] should be at least as 5 times as "
                        "--heartbeat-interval[300ms]");
    expect_verify_error(ARGS("--election-timeout=60000", "--heartbeat-interval=1000"), NONE,
                        "--election-timeout[60000ms] is too long, and should be set less than "
                        "50000ms");
    expect_ok(ARGS("--election-timeout=50000", "--heartbeat-interval=10000"), NONE);
    expect_verify_error(ARGS("--listen-client-urls=http://127.0.0.1:2379"), NONE,
                        "--advertise-client-urls is required when --listen-client-urls is set "
                        "explicitly");
    expect_verify_error(NONE, ARGS("ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:2379"),
                        "--advertise-client-urls is required when --listen-client-urls is set "
                        "explicitly");
    /* An empty URL list leaves the list as it was, but still counts as given. */
    expect_verify_error(ARGS("--listen-client-urls="), NONE,
                        "--advertise-client-urls is required when --listen-client-urls is set "
                        "explicitly");
    expect_ok(ARGS("--listen-client-urls=", "--advertise-client-urls="), NONE);
    assert_string_equal(render(flag("listen-client-urls")), "http://localhost:2379");
    assert_string_equal(render(flag("advertise-client-urls")), "http://localhost:2379");
    expect_verify_error(
        ARGS("--listen-client-urls=http://foo:2379", "--advertise-client-urls=http://foo:2379"),
        NONE, "expected IP in URL for binding (http://foo:2379)");
    expect_verify_error(ARGS("--listen-peer-urls=http://:2380"), NONE,
                        "expected IP in URL for binding (http://:2380)");
    expect_ok(ARGS("--listen-client-urls=http://0.0.0.0:2379,http://[::]:2379,unix://x:1",
                   "--advertise-client-urls=http://foo:2379"),
              NONE);
    expect_verify_error(ARGS("--advertise-client-urls=http://a:1,http://:2379"), NONE,
                        "--advertise-client-urls \"http://:2379,http://a:1\" must be \"host:port\" "
                        "(unexpected empty host (http://:2379))");
    expect_verify_error(ARGS("--initial-advertise-peer-urls=http://:2380"), NONE,
                        "--initial-advertise-peer-urls \"http://:2380\" must be \"host:port\" "
                        "(unexpected empty host (http://:2380))");
    expect_plain_error(ARGS("--listen-client-urls=https://127.0.0.1:2379",
                            "--advertise-client-urls=https://127.0.0.1:2379"),
                       NONE, 2,
                       "ringd: flag --listen-client-urls: TLS (https and unixs URLs) is not "
                       "supported yet\n");
    expect_plain_error(ARGS("--listen-peer-urls=unixs://a:1"), NONE, 2,
                       "ringd: flag --listen-peer-urls: TLS (https and unixs URLs) is not "
                       "supported yet\n");
}

static void test_logging_flags(void **state)
{
    (void)state;
    expect_plain_error(ARGS("--logger=capnslog"), NONE, 2,
                       "ringd: flag --logger: capnslog is not supported yet\n");
    expect_verify_error(ARGS("--logger=foo"), NONE, "unknown logger option \"foo\"");
    expect_plain_error(ARGS("--log-outputs=stdout"), NONE, 2,
                       "ringd: flag --log-outputs: outputs other than default and stderr are not "
                       "supported yet\n");
    expect_plain_error(ARGS("--log-outputs=stderr,/var/log/etcd.log"), NONE, 2,
                       "ringd: flag --log-outputs: outputs other than default and stderr are not "
                       "supported yet\n");
    expect_ok(ARGS("--log-outputs=stderr,default"), NONE);
    expect_plain_error(ARGS("--log-level=foo"), NONE, 2, "ringd: unknown level \"foo\"\n");
    expect_plain_error(ARGS("--log-level=WARN"), NONE, 2, "ringd: unknown level \"WARN\"\n");
    static const char *const levels[] = {"debug", "info", "warn", "error", "panic", "fatal"};
    for (int i = 0; i < 6; i++) {
        char arg[64];
        snprintf(arg, sizeof arg, "--log-level=%s", levels[i]);
        expect_ok(ARGS(arg), NONE);
        assert_int_equal(cfg.log_level, (enum log_level)i);
    }
    expect_ok(ARGS("--log-level=error", "--debug"), NONE);
    assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
}

static void test_compaction(void **state)
{
    (void)state;
    expect_ok(ARGS("--auto-compaction-retention=1"), NONE);
    assert_int_equal(cfg.auto_compaction_retention_ms, 3600000);
    expect_ok(ARGS("--auto-compaction-retention=30m"), NONE);
    assert_int_equal(cfg.auto_compaction_retention_ms, 1800000);
    expect_ok(ARGS("--auto-compaction-mode=revision", "--auto-compaction-retention=1000"), NONE);
    assert_int_equal(cfg.auto_compaction_mode, CONFIG_COMPACTION_REVISION);
    assert_int_equal(cfg.auto_compaction_retention_revisions, 1000);
    assert_int_equal(cfg.auto_compaction_retention_ms, 0);
    expect_ok(ARGS("--auto-compaction-mode=revision", "--auto-compaction-retention=1us"), NONE);
    assert_int_equal(cfg.auto_compaction_retention_revisions, 1000);
    expect_ok(ARGS("--auto-compaction-mode=", "--auto-compaction-retention=5"), NONE);
    assert_int_equal(cfg.auto_compaction_retention_ms, 0);
    expect_verify_error(ARGS("--auto-compaction-mode=foo"), NONE,
                        "unknown auto-compaction-mode \"foo\"");
    expect_verify_error(ARGS("--auto-compaction-retention=abc"), NONE,
                        "error parsing CompactionRetention: time: invalid duration \"abc\"");
    expect_verify_error(ARGS("--auto-compaction-retention=-1"), NONE,
                        "error parsing CompactionRetention: time: missing unit in duration \"-1\"");
}

static void test_bcrypt_cost(void **state)
{
    (void)state;
    expect_ok(ARGS("--bcrypt-cost=3"), NONE);
    assert_int_equal(cfg.bcrypt_cost, 10);
    assert_non_null(strstr(res.log, "\"msg\":\"use default bcrypt cost instead of the invalid "
                                    "given cost\",\"min-cost\":4,\"max-cost\":31,"
                                    "\"default-cost\":10,\"given-cost\":3}"));
    expect_ok(ARGS("--bcrypt-cost=31"), NONE);
    assert_int_equal(cfg.bcrypt_cost, 31);
}

static void test_command_line_syntax(void **state)
{
    (void)state;
    expect_usage_error(ARGS("--foo"), "flag provided but not defined: -foo");
    expect_usage_error(ARGS("-foo=1"), "flag provided but not defined: -foo");
    expect_usage_error(ARGS("--name=x", "--foo", "--bar"), "flag provided but not defined: -foo");
    expect_usage_error(ARGS("---foo"), "bad flag syntax: ---foo");
    expect_usage_error(ARGS("-=x"), "bad flag syntax: -=x");
    expect_usage_error(ARGS("--=x"), "bad flag syntax: --=x");
    expect_usage_error(ARGS("--name"), "flag needs an argument: -name");
    expect_usage_error(ARGS("--heartbeat-interval", "--data-dir=/x"),
                       "invalid value \"--data-dir=/x\" for flag -heartbeat-interval: parse error");
    expect_verify_error(ARGS("-"), NONE, "'-' is not a valid flag");
    expect_verify_error(ARGS("foo"), NONE, "'foo' is not a valid flag");
    expect_verify_error(ARGS("--", "--name=x"), NONE, "'--name=x' is not a valid flag");
    expect_verify_error(ARGS("--name", "a", "b"), NONE, "'b' is not a valid flag");
    expect_ok(ARGS("--name=a", "--"), NONE);
    assert_string_equal(cfg.name, "a");
    expect_ok(ARGS("-name", "a", "-data-dir=/d"), NONE);
    assert_string_equal(cfg.data_dir, "/d");
    assert_false(cfg.data_dir_defaulted);
    /* The first error stops parsing, and nothing is read from the environment. */
    expect_usage_error(ARGS("--foo", "--help"), "flag provided but not defined: -foo");
}

static void test_version(void **state)
{
    (void)state;
    char want[256];
    snprintf(want, sizeof want, "ringd Version: %s\netcd API Version: %s\n", RINGD_VERSION,
             RINGD_ETCD_API_VERSION);
    assert_int_equal(run(ARGS("--version"), NONE), CONFIG_EXIT_OK);
    assert_string_equal(res.out, want);
    assert_string_equal(res.err, "");
    assert_int_equal(run(ARGS("-version=true", "--name=x"), ARGS("ETCD_NAME=y")), CONFIG_EXIT_OK);
    assert_string_equal(res.out, want);
    expect_ok(ARGS("--version=false"), NONE);
    expect_verify_error(ARGS("--version", "extra"), NONE, "'extra' is not a valid flag");
    /* etcd 3.5 refuses to take --version from the environment. */
    expect_ok(NONE, ARGS("ETCD_VERSION=true"));
    assert_string_equal(res.out, "");
    assert_non_null(strstr(res.log, "\"msg\":\"cannot set special environment variable\","
                                    "\"key\":\"ETCD_VERSION\",\"value\":\"true\"}"));
    assert_null(strstr(res.log, "unrecognized"));
}

static void test_help(void **state)
{
    (void)state;
    static const char *const forms[] = {"--help", "-h", "-help", "--h", "--help=false"};
    for (size_t k = 0; k < sizeof(forms) / sizeof(forms[0]); k++) {
        assert_int_equal(run(ARGS("--name=x", forms[k], "--foo"), NONE), CONFIG_EXIT_OK);
        assert_string_equal(res.err, usage);
        for (size_t i = 0; i < config_flags_count; i++) {
            const struct config_flag *f = &config_flags[i];
            char line[8192];
            const char *def = f->help_default != NULL ? f->help_default : f->default_text;
            snprintf(line, sizeof line, "\n  --%s '%s'\n    ", f->name, def);
            assert_true((f->section != NULL) == (strstr(res.out, line) != NULL));
        }
    }
    assert_non_null(strstr(res.out, "\nMember:\n  --name 'default'\n    Human-readable name"));
    assert_non_null(strstr(res.out, "  --data-dir '${name}.ringd'\n"));
    assert_non_null(strstr(res.out, "  --cert-file ''\n    [not supported yet by ringd] "));
    assert_non_null(strstr(res.out, "  --ringd-shards 'online CPUs'\n"));
}

static void test_shards(void **state)
{
    (void)state;
    expect_ok(ARGS("--ringd-shards=1"), NONE);
    assert_int_equal(cfg.shards, 1);
    char arg[64], want[128];
    snprintf(arg, sizeof arg, "--ringd-shards=%d", SHARDS_MAX);
    expect_ok(ARGS(arg), NONE);
    assert_int_equal(cfg.shards, SHARDS_MAX);
    expect_usage_error(ARGS("--ringd-shards=0"),
                       "invalid value \"0\" for flag -ringd-shards: value out of range");
    snprintf(arg, sizeof arg, "--ringd-shards=%d", SHARDS_MAX + 1);
    snprintf(want, sizeof want, "invalid value \"%d\" for flag -ringd-shards: value out of range",
             SHARDS_MAX + 1);
    expect_usage_error(ARGS(arg), want);
    expect_usage_error(ARGS("--ringd-shards=99999999999"),
                       "invalid value \"99999999999\" for flag -ringd-shards: value out of range");
    expect_usage_error(ARGS("--ringd-shards=x"),
                       "invalid value \"x\" for flag -ringd-shards: parse error");
    expect_ok(NONE, ARGS("RINGD_SHARDS=2"));
    assert_int_equal(cfg.shards, 2);
    expect_verify_error(NONE, ARGS("RINGD_SHARDS=0"),
                        "invalid value \"0\" for RINGD_SHARDS: value out of range");
    /* ETCD_RINGD_SHARDS is not its variable. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    expect_ok(NONE, ARGS("ETCD_RINGD_SHARDS=77"));
    assert_int_equal(cfg.shards, cpus > SHARDS_MAX ? SHARDS_MAX : cpus);
    assert_non_null(strstr(res.log, "\"environment-variable\":\"ETCD_RINGD_SHARDS=77\""));
}

static void test_environment(void **state)
{
    (void)state;
    expect_ok(NONE, ARGS("PATH=/bin", "ETCD_FOO=1", "ETCD_NAME=env-name", "ETCDCTL_API=3",
                         "ETCD_DATA_DIR="));
    assert_string_equal(cfg.name, "env-name");
    assert_string_equal(cfg.data_dir, "env-name.ringd");
    assert_non_null(strstr(res.log, "\"level\":\"warn\""));
    assert_non_null(strstr(res.log, "\"msg\":\"unrecognized environment variable\","
                                    "\"environment-variable\":\"ETCD_FOO=1\"}"));
    /* An empty variable is not used, so etcd calls it unrecognized. */
    assert_non_null(strstr(res.log, "\"environment-variable\":\"ETCD_DATA_DIR=\"}"));
    assert_null(strstr(res.log, "ETCDCTL_API"));
    assert_null(strstr(res.log, "PATH"));
    assert_non_null(strstr(res.log, "\"msg\":\"recognized and used environment variable\","
                                    "\"variable-name\":\"ETCD_NAME\",\"variable-value\":"
                                    "\"env-name\"}"));
    /* The first of two entries wins, as in Go. */
    expect_ok(NONE, ARGS("ETCD_NAME=first", "ETCD_NAME=second"));
    assert_string_equal(cfg.name, "first");
    /* A conflict is refused before a bad value of another variable is reported. */
    expect_plain_error(ARGS("--name=a"), ARGS("ETCD_HEARTBEAT_INTERVAL=x", "ETCD_NAME=b"), 1,
                       "ringd: conflicting environment variable \"ETCD_NAME\" is shadowed by "
                       "corresponding command-line flag (either unset environment variable or "
                       "disable flag)\n");
    /* NULL envp is an empty environment. */
    char *argv[] = {"ringd", NULL};
    FILE *out = tmpfile(), *err = tmpfile();
    assert_int_equal(config_parse(&cfg, 1, argv, NULL, out, err), 0);
    fclose(out);
    fclose(err);
}

/* Values derived from others, as etcd derives them. */
static void test_derived(void **state)
{
    (void)state;
    expect_ok(ARGS("--name=infra1"), NONE);
    assert_string_equal(cfg.initial_cluster, "infra1=http://localhost:2380");
    assert_string_equal(cfg.data_dir, "infra1.ringd");
    expect_ok(ARGS("--name=infra1",
                   "--initial-advertise-peer-urls=http://10.0.0.2:2380,http://10.0.0.1:2380"),
              NONE);
    assert_string_equal(cfg.initial_cluster,
                        "infra1=http://10.0.0.1:2380,infra1=http://10.0.0.2:2380");
    expect_ok(ARGS("--name=infra1", "--initial-cluster=infra1=http://10.0.0.1:2380,"
                                    "infra2=http://10.0.0.2:2380"),
              NONE);
    assert_string_equal(cfg.initial_cluster,
                        "infra1=http://10.0.0.1:2380,infra2=http://10.0.0.2:2380");
    /* etcd compares the text with its default: a default name keeps the default cluster even
     * when the peer URLs change. */
    expect_ok(ARGS("--initial-advertise-peer-urls=http://10.0.0.1:2380"), NONE);
    assert_string_equal(cfg.initial_cluster, "default=http://localhost:2380");
    expect_ok(ARGS("--data-dir=/var/lib/ringd", "--name=n"), NONE);
    assert_string_equal(cfg.data_dir, "/var/lib/ringd");
    assert_false(cfg.data_dir_defaulted);
    /* Too long to derive. */
    static char name[CONFIG_NAME_BYTES_MAX], arg[CONFIG_NAME_BYTES_MAX + 16];
    static char urls[CONFIG_URLS_MAX * 32], urls_arg[sizeof urls + 64];
    memset(name, 'n', sizeof name - 1);
    snprintf(arg, sizeof arg, "--name=%s", name);
    size_t len = 0;
    for (int i = 0; i < CONFIG_URLS_MAX; i++)
        len += (size_t)snprintf(urls + len, sizeof urls - len, "%shttp://10.0.0.%d:2380",
                                i ? "," : "", i + 1);
    snprintf(urls_arg, sizeof urls_arg, "--initial-advertise-peer-urls=%s", urls);
    expect_verify_error(ARGS(arg, urls_arg), NONE,
                        "--initial-cluster built from --name and --initial-advertise-peer-urls is "
                        "longer than 4095 bytes");
}

static void test_config_log(void **state)
{
    (void)state;
    expect_ok(ARGS("--name=infra1", "--heartbeat-interval=300", "--election-timeout=1600",
                   "--auto-compaction-retention=1"),
              NONE);
    int fd = memfd_create("log", 0);
    log_set_fd(fd);
    config_log(&cfg);
    log_set_fd(2);
    ssize_t n = pread(fd, res.log, sizeof res.log - 1, 0);
    close(fd);
    assert_true(n > 0);
    res.log[n] = '\0';
    const char *warn = strstr(res.log, "\"msg\":\"'data-dir' was empty; using default\","
                                       "\"data-dir\":\"infra1.ringd\"}\n");
    const char *start = strstr(res.log, "\"msg\":\"starting ringd server\",\"ringd-version\":");
    assert_non_null(warn);
    assert_non_null(start);
    assert_true(warn < start);
    static const char *const parts[] = {
        "\"name\":\"infra1\",\"data-dir\":\"infra1.ringd\",\"wal-dir\":\"\","
        "\"wal-dir-dedicated\":\"\",\"member-dir\":\"infra1.ringd/member\","
        "\"force-new-cluster\":false,\"heartbeat-interval\":\"300ms\","
        "\"election-timeout\":\"1.5s\",\"initial-election-tick-advance\":true,"
        "\"snapshot-count\":10000,\"max-wals\":5,\"max-snapshots\":5,"
        "\"initial-advertise-peer-urls\":[\"http://localhost:2380\"],"
        "\"listen-peer-urls\":[\"http://localhost:2380\"],"
        "\"advertise-client-urls\":[\"http://localhost:2379\"],"
        "\"listen-client-urls\":[\"http://localhost:2379\"],\"listen-metrics-urls\":[],"
        "\"cors\":[\"*\"],\"host-whitelist\":[\"*\"],"
        "\"initial-cluster\":\"infra1=http://localhost:2380\",\"initial-cluster-state\":\"new\","
        "\"initial-cluster-token\":\"etcd-cluster\",\"quota-backend-bytes\":2147483648,"
        "\"max-request-bytes\":1572864,\"max-concurrent-streams\":4294967295,"
        "\"pre-vote\":true,\"initial-corrupt-check\":false,"
        "\"corrupt-check-time-interval\":\"0s\",\"auto-compaction-mode\":\"periodic\","
        "\"auto-compaction-retention\":\"1h0m0s\",\"auto-compaction-interval\":\"1h0m0s\","
        "\"discovery-url\":\"\",\"discovery-proxy\":\"\"}\n",
    };
    assert_non_null(strstr(start, parts[0]));
}

/* Every flag of etcd 3.4 (its flag set, a superset of `etcd --help`) and the etcd 3.5 flags
 * the table adds. */
static const char *const etcd_flags[] = {
    "name",
    "data-dir",
    "wal-dir",
    "snapshot-count",
    "heartbeat-interval",
    "election-timeout",
    "initial-election-tick-advance",
    "listen-peer-urls",
    "listen-client-urls",
    "max-snapshots",
    "max-wals",
    "quota-backend-bytes",
    "backend-batch-interval",
    "backend-batch-limit",
    "max-txn-ops",
    "max-request-bytes",
    "max-concurrent-streams",
    "grpc-keepalive-min-time",
    "grpc-keepalive-interval",
    "grpc-keepalive-timeout",
    "initial-advertise-peer-urls",
    "initial-cluster",
    "initial-cluster-state",
    "initial-cluster-token",
    "advertise-client-urls",
    "discovery",
    "discovery-fallback",
    "discovery-proxy",
    "discovery-srv",
    "discovery-srv-name",
    "strict-reconfig-check",
    "pre-vote",
    "auto-compaction-retention",
    "auto-compaction-mode",
    "enable-v2",
    "cert-file",
    "key-file",
    "client-cert-auth",
    "client-crl-file",
    "client-cert-allowed-hostname",
    "trusted-ca-file",
    "auto-tls",
    "peer-cert-file",
    "peer-key-file",
    "peer-client-cert-auth",
    "peer-trusted-ca-file",
    "peer-cert-allowed-cn",
    "peer-cert-allowed-hostname",
    "peer-auto-tls",
    "peer-crl-file",
    "cipher-suites",
    "cors",
    "host-whitelist",
    "auth-token",
    "bcrypt-cost",
    "auth-token-ttl",
    "enable-pprof",
    "metrics",
    "listen-metrics-urls",
    "logger",
    "log-outputs",
    "log-level",
    "proxy",
    "proxy-failure-wait",
    "proxy-refresh-interval",
    "proxy-dial-timeout",
    "proxy-write-timeout",
    "proxy-read-timeout",
    "experimental-initial-corrupt-check",
    "experimental-corrupt-check-time",
    "experimental-enable-v2v3",
    "experimental-backend-bbolt-freelist-type",
    "experimental-enable-lease-checkpoint",
    "experimental-compaction-batch-limit",
    "experimental-peer-skip-client-san-verification",
    "experimental-watch-progress-notify-interval",
    "experimental-warning-apply-duration",
    "force-new-cluster",
    "debug",
    "log-package-levels",
    "log-output",
    "config-file",
    "enable-grpc-gateway",
    "unsafe-no-fsync",
    "experimental-enable-lease-checkpoint-persist",
    "version",
    "listen-client-http-urls",
    "socket-reuse-port",
    "socket-reuse-address",
    "client-cert-file",
    "client-key-file",
    "peer-client-cert-file",
    "peer-client-key-file",
    "self-signed-cert-validity",
    "tls-min-version",
    "tls-max-version",
    "v2-deprecation",
    "enable-log-rotation",
    "log-rotation-config-json",
    "backend-bbolt-freelist-type",
    "experimental-memory-mlock",
    "experimental-max-learners",
    "experimental-snapshot-catchup-entries",
    "experimental-downgrade-check-time",
};

/* The table itself: unique names, every default parses, help for every visible flag. */
static void test_flag_table(void **state)
{
    (void)state;
    assert_true(config_flags_count <= CONFIG_FLAGS_MAX);
    for (size_t i = 0; i < config_flags_count; i++) {
        const struct config_flag *f = &config_flags[i];
        for (size_t j = i + 1; j < config_flags_count; j++)
            assert_string_not_equal(f->name, config_flags[j].name);
        assert_true(f->section == NULL || strlen(f->help) > 10);
        assert_true(f->default_text != NULL || strcmp(f->name, "ringd-shards") == 0);
        assert_true((f->offset != CONFIG_NO_FIELD) == (f->support == CONFIG_SUPPORTED));
    }
    for (size_t i = 0; i < sizeof(etcd_flags) / sizeof(etcd_flags[0]); i++)
        flag(etcd_flags[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flag_table),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_supported_flag),
        cmocka_unit_test(test_flag_and_env_conflict),
        cmocka_unit_test(test_unsupported_flags),
        cmocka_unit_test(test_no_effect_and_ignored_flags),
        cmocka_unit_test(test_unsigned_values),
        cmocka_unit_test(test_uint32_values),
        cmocka_unit_test(test_signed_values),
        cmocka_unit_test(test_duration_values),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_bool_values),
        cmocka_unit_test(test_enum_and_string_values),
        cmocka_unit_test(test_url_values),
        cmocka_unit_test(test_url_parse_details),
        cmocka_unit_test(test_verification),
        cmocka_unit_test(test_logging_flags),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_bcrypt_cost),
        cmocka_unit_test(test_command_line_syntax),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_derived),
        cmocka_unit_test(test_config_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
