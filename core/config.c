#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "go_quote.h"
#include "ringd_assert.h"
#include "ringd_error.h"

/* ETCD_ and the longest flag name, upper case. */
#define CONFIG_ENV_NAME_BYTES 96

/* The flag table. Help texts are ringd's own words; names, types and defaults are etcd's (3.5
 * where 3.4 and 3.5 differ), except --snapshot-count, whose default is etcd 3.6's 10000. */

#define FIELD(member) \
    .offset = offsetof(struct config, member), .size = sizeof(((struct config *)0)->member)
#define NO_FIELD .offset = CONFIG_NO_FIELD, .size = 0

#define S_MEMBER       "Member"
#define S_CLUSTER      "Clustering"
#define S_SECURITY     "Security"
#define S_AUTH         "Auth"
#define S_MONITOR      "Profiling and Monitoring"
#define S_LOGGING      "Logging"
#define S_PROXY        "v2 Proxy (not supported by ringd)"
#define S_EXPERIMENTAL "Experimental feature"
#define S_UNSAFE       "Unsafe feature"
#define S_RINGD        "ringd"

#define SUPPORTED(sec, nm, ty, member, def, text)                                           \
    {                                                                                       \
        .section = sec, .name = nm, .type = ty, .support = CONFIG_SUPPORTED, FIELD(member), \
        .default_text = def, .help = text                                                   \
    }
#define UNSUPPORTED(sec, nm, ty, def, text)                                              \
    {                                                                                    \
        .section = sec, .name = nm, .type = ty, .support = CONFIG_UNSUPPORTED, NO_FIELD, \
        .default_text = def, .help = text                                                \
    }
#define NO_EFFECT(sec, nm, ty, def, text)                                              \
    {                                                                                  \
        .section = sec, .name = nm, .type = ty, .support = CONFIG_NO_EFFECT, NO_FIELD, \
        .default_text = def, .help = text                                              \
    }
#define IGNORED(nm)                                                                            \
    {                                                                                          \
        .section = NULL, .name = nm, .type = CONFIG_TYPE_IGNORED, .support = CONFIG_NO_EFFECT, \
        NO_FIELD, .default_text = "", .help = ""                                               \
    }

#define T_STRING   CONFIG_TYPE_STRING
#define T_BOOL     CONFIG_TYPE_BOOL
#define T_UINT     CONFIG_TYPE_UINT
#define T_INT      CONFIG_TYPE_INT
#define T_DURATION CONFIG_TYPE_DURATION
#define T_STRINGS  CONFIG_TYPE_STRINGS

const struct config_flag config_flags[] = {
    SUPPORTED(S_MEMBER, "name", T_STRING, name, "default", "Human-readable name for this member."),
    {.section = S_MEMBER,
     .name = "data-dir",
     .type = T_STRING,
     .support = CONFIG_SUPPORTED,
     FIELD(data_dir),
     .default_text = "",
     .help_default = "${name}.ringd",
     .help = "Path to the data directory."},
    SUPPORTED(S_MEMBER, "wal-dir", T_STRING, wal_dir, "", "Path to a dedicated WAL directory."),
    SUPPORTED(S_MEMBER, "snapshot-count", T_UINT, snapshot_count, "10000",
              "Committed transactions that trigger a snapshot to disk."),
    SUPPORTED(S_MEMBER, "heartbeat-interval", T_UINT, heartbeat_interval_ms, "100",
              "Time (in milliseconds) of a heartbeat interval."),
    SUPPORTED(S_MEMBER, "election-timeout", T_UINT, election_timeout_ms, "1000",
              "Time (in milliseconds) for an election to time out."),
    SUPPORTED(S_MEMBER, "initial-election-tick-advance", T_BOOL, initial_election_tick_advance,
              "true", "Fast-forward the initial election ticks on boot for a faster election."),
    {.section = S_MEMBER,
     .name = "listen-peer-urls",
     .type = CONFIG_TYPE_URLS,
     .support = CONFIG_SUPPORTED,
     FIELD(listen_peer_urls),
     .url_keep = "",
     .default_text = "http://localhost:2380",
     .help = "URLs to listen on for peer traffic."},
    {.section = S_MEMBER,
     .name = "listen-client-urls",
     .type = CONFIG_TYPE_URLS,
     .support = CONFIG_SUPPORTED,
     FIELD(listen_client_urls),
     .url_keep = "",
     .default_text = "http://localhost:2379",
     .help = "URLs to listen on for client traffic."},
    {.section = S_MEMBER,
     .name = "listen-client-http-urls",
     .type = CONFIG_TYPE_URLS,
     .support = CONFIG_UNSUPPORTED,
     NO_FIELD,
     .url_keep = "",
     .default_text = "",
     .help = "URLs to listen on for HTTP-only client traffic."},
    SUPPORTED(S_MEMBER, "max-snapshots", T_UINT, max_snapshots, "5",
              "Snapshot files to retain (0 is unlimited)."),
    SUPPORTED(S_MEMBER, "max-wals", T_UINT, max_wals, "5", "WAL files to retain (0 is unlimited)."),
    SUPPORTED(S_MEMBER, "quota-backend-bytes", T_INT, quota_backend_bytes, "0",
              "Raise an alarm when the store exceeds this size (0 means 2 GiB)."),
    NO_EFFECT(S_MEMBER, "backend-bbolt-freelist-type", T_STRING, "map",
              "Freelist type of etcd's bbolt backend; ringd has no bbolt."),
    {.section = S_MEMBER,
     .name = "backend-batch-interval",
     .type = T_DURATION,
     .support = CONFIG_NO_EFFECT,
     NO_FIELD,
     .default_text = "0s",
     .help_default = "",
     .help = "Longest time before etcd commits a bbolt transaction; ringd has no bbolt."},
    NO_EFFECT(S_MEMBER, "backend-batch-limit", T_INT, "0",
              "Most operations before etcd commits a bbolt transaction; ringd has no bbolt."),
    SUPPORTED(S_MEMBER, "max-txn-ops", T_UINT, max_txn_ops, "128",
              "Maximum number of operations in one transaction."),
    SUPPORTED(S_MEMBER, "max-request-bytes", T_UINT, max_request_bytes, "1572864",
              "Maximum size of a client request in bytes."),
    {.section = S_MEMBER,
     .name = "max-concurrent-streams",
     .type = CONFIG_TYPE_UINT32,
     .support = CONFIG_SUPPORTED,
     FIELD(max_concurrent_streams),
     .default_text = "4294967295",
     .help = "Maximum concurrent streams each client may open."},
    SUPPORTED(S_MEMBER, "grpc-keepalive-min-time", T_DURATION, grpc_keepalive_min_time_ms, "5s",
              "Shortest interval a client should wait between pings."),
    SUPPORTED(S_MEMBER, "grpc-keepalive-interval", T_DURATION, grpc_keepalive_interval_ms, "2h",
              "Interval of server pings that check a connection is alive (0 disables)."),
    SUPPORTED(S_MEMBER, "grpc-keepalive-timeout", T_DURATION, grpc_keepalive_timeout_ms, "20s",
              "Wait for a ping answer before closing the connection (0 disables)."),
    UNSUPPORTED(S_MEMBER, "socket-reuse-port", T_BOOL, "false", "Set SO_REUSEPORT on listeners."),
    UNSUPPORTED(S_MEMBER, "socket-reuse-address", T_BOOL, "false",
                "Set SO_REUSEADDR on listeners."),
    UNSUPPORTED(S_MEMBER, "raft-read-timeout", T_DURATION, "5s",
                "Read timeout of each peer connection."),
    UNSUPPORTED(S_MEMBER, "raft-write-timeout", T_DURATION, "5s",
                "Write timeout of each peer connection."),

    {.section = S_CLUSTER,
     .name = "initial-advertise-peer-urls",
     .type = CONFIG_TYPE_URLS,
     .support = CONFIG_SUPPORTED,
     FIELD(initial_advertise_peer_urls),
     .url_keep = "",
     .default_text = "http://localhost:2380",
     .help = "This member's peer URLs, advertised to the rest of the cluster."},
    SUPPORTED(S_CLUSTER, "initial-cluster", T_STRING, initial_cluster,
              "default=http://localhost:2380", "Initial cluster configuration for bootstrapping."),
    {.section = S_CLUSTER,
     .name = "initial-cluster-state",
     .type = CONFIG_TYPE_ENUM,
     .support = CONFIG_SUPPORTED,
     FIELD(initial_cluster_state),
     .default_text = "new",
     .choices = "new|existing",
     .help = "Initial cluster state ('new' or 'existing')."},
    SUPPORTED(S_CLUSTER, "initial-cluster-token", T_STRING, initial_cluster_token, "etcd-cluster",
              "Initial cluster token, unique per cluster, used at bootstrap."),
    {.section = S_CLUSTER,
     .name = "advertise-client-urls",
     .type = CONFIG_TYPE_URLS,
     .support = CONFIG_SUPPORTED,
     FIELD(advertise_client_urls),
     .url_keep = "",
     .default_text = "http://localhost:2379",
     .help = "This member's client URLs, advertised to clients."},
    UNSUPPORTED(S_CLUSTER, "discovery", T_STRING, "", "Discovery URL to bootstrap the cluster."),
    {.section = S_CLUSTER,
     .name = "discovery-fallback",
     .type = CONFIG_TYPE_ENUM,
     .support = CONFIG_UNSUPPORTED,
     NO_FIELD,
     .default_text = "proxy",
     .choices = "proxy|exit",
     .help = "Behaviour when the discovery service fails ('exit' or 'proxy')."},
    UNSUPPORTED(S_CLUSTER, "discovery-proxy", T_STRING, "",
                "HTTP proxy for traffic to the discovery service."),
    UNSUPPORTED(S_CLUSTER, "discovery-srv", T_STRING, "",
                "DNS SRV domain to bootstrap the cluster."),
    UNSUPPORTED(S_CLUSTER, "discovery-srv-name", T_STRING, "",
                "Suffix of the DNS SRV name queried at bootstrap."),
    SUPPORTED(S_CLUSTER, "strict-reconfig-check", T_BOOL, strict_reconfig_check, "true",
              "Reject reconfiguration requests that would cause quorum loss."),
    SUPPORTED(S_CLUSTER, "pre-vote", T_BOOL, pre_vote, "true",
              "Run a pre-vote phase before each election."),
    SUPPORTED(S_CLUSTER, "auto-compaction-retention", T_STRING, auto_compaction_retention, "0",
              "Auto compaction retention (0 disables): hours or a duration such as '5m' in "
              "periodic mode, revisions in revision mode."),
    SUPPORTED(S_CLUSTER, "auto-compaction-mode", T_STRING, auto_compaction_mode_text, "periodic",
              "How to read --auto-compaction-retention: 'periodic' or 'revision'."),
    UNSUPPORTED(S_CLUSTER, "enable-v2", T_BOOL, "false", "Accept etcd v2 client requests."),
    UNSUPPORTED(S_CLUSTER, "experimental-enable-v2v3", T_STRING, "",
                "Serve v2 requests through the v3 store under this prefix."),
    UNSUPPORTED(S_CLUSTER, "v2-deprecation", T_STRING, "not-yet", "v2 store deprecation stage."),
    SUPPORTED(S_CLUSTER, "enable-grpc-gateway", T_BOOL, enable_grpc_gateway, "true",
              "Serve the JSON gateway to the gRPC API."),

    UNSUPPORTED(S_SECURITY, "cert-file", T_STRING, "", "Client server TLS cert file."),
    UNSUPPORTED(S_SECURITY, "key-file", T_STRING, "", "Client server TLS key file."),
    UNSUPPORTED(S_SECURITY, "client-cert-file", T_STRING, "", "Client TLS cert file."),
    UNSUPPORTED(S_SECURITY, "client-key-file", T_STRING, "", "Client TLS key file."),
    UNSUPPORTED(S_SECURITY, "client-cert-auth", T_BOOL, "false",
                "Enable client cert authentication."),
    UNSUPPORTED(S_SECURITY, "client-crl-file", T_STRING, "",
                "Client certificate revocation list file."),
    UNSUPPORTED(S_SECURITY, "client-cert-allowed-hostname", T_STRINGS, "",
                "Allowed TLS hostnames for client cert authentication."),
    UNSUPPORTED(S_SECURITY, "trusted-ca-file", T_STRING, "",
                "Client server TLS trusted CA cert file."),
    UNSUPPORTED(S_SECURITY, "auto-tls", T_BOOL, "false", "Client TLS with generated certificates."),
    UNSUPPORTED(S_SECURITY, "peer-cert-file", T_STRING, "", "Peer server TLS cert file."),
    UNSUPPORTED(S_SECURITY, "peer-key-file", T_STRING, "", "Peer server TLS key file."),
    UNSUPPORTED(S_SECURITY, "peer-client-cert-file", T_STRING, "", "Peer client TLS cert file."),
    UNSUPPORTED(S_SECURITY, "peer-client-key-file", T_STRING, "", "Peer client TLS key file."),
    UNSUPPORTED(S_SECURITY, "peer-client-cert-auth", T_BOOL, "false",
                "Enable peer client cert authentication."),
    UNSUPPORTED(S_SECURITY, "peer-trusted-ca-file", T_STRING, "",
                "Peer server TLS trusted CA file."),
    UNSUPPORTED(S_SECURITY, "peer-auto-tls", T_BOOL, "false",
                "Peer TLS with generated certificates."),
    UNSUPPORTED(S_SECURITY, "self-signed-cert-validity", T_UINT, "1",
                "Validity in years of generated certificates."),
    UNSUPPORTED(S_SECURITY, "peer-crl-file", T_STRING, "",
                "Peer certificate revocation list file."),
    UNSUPPORTED(S_SECURITY, "peer-cert-allowed-cn", T_STRINGS, "",
                "Allowed CNs for inter-peer TLS authentication."),
    UNSUPPORTED(S_SECURITY, "peer-cert-allowed-hostname", T_STRINGS, "",
                "Allowed TLS hostnames for inter-peer authentication."),
    UNSUPPORTED(S_SECURITY, "cipher-suites", T_STRINGS, "",
                "Comma-separated TLS cipher suites for clients and peers."),
    UNSUPPORTED(S_SECURITY, "tls-min-version", T_STRING, "TLS1.2", "Minimum TLS version."),
    UNSUPPORTED(S_SECURITY, "tls-max-version", T_STRING, "", "Maximum TLS version."),
    {.section = S_SECURITY,
     .name = "cors",
     .type = CONFIG_TYPE_URLS,
     .support = CONFIG_UNSUPPORTED,
     NO_FIELD,
     .url_keep = "*",
     .default_text = "*",
     .help = "Comma-separated origins allowed for CORS (* allows all)."},
    UNSUPPORTED(S_SECURITY, "host-whitelist", T_STRINGS, "*",
                "Comma-separated hostnames accepted from HTTP clients (* allows all)."),

    UNSUPPORTED(S_AUTH, "auth-token", T_STRING, "simple",
                "Auth token type and options ('simple' or 'jwt,...')."),
    SUPPORTED(S_AUTH, "bcrypt-cost", T_UINT, bcrypt_cost, "10",
              "bcrypt cost of password hashes (4 to 31)."),
    SUPPORTED(S_AUTH, "auth-token-ttl", T_UINT, auth_token_ttl_s, "300",
              "Lifetime of an auth token in seconds."),

    UNSUPPORTED(S_MONITOR, "enable-pprof", T_BOOL, "false", "Serve runtime profiling data."),
    UNSUPPORTED(S_MONITOR, "metrics", T_STRING, "basic",
                "Detail of exported metrics ('basic' or 'extensive')."),
    {.section = S_MONITOR,
     .name = "listen-metrics-urls",
     .type = CONFIG_TYPE_URLS,
     .support = CONFIG_UNSUPPORTED,
     NO_FIELD,
     .url_keep = "",
     .default_text = "",
     .help = "URLs to listen on for the metrics and health endpoints."},
    UNSUPPORTED(S_MONITOR, "experimental-enable-distributed-tracing", T_BOOL, "false",
                "Enable OpenTelemetry tracing."),
    UNSUPPORTED(S_MONITOR, "experimental-distributed-tracing-address", T_STRING, "0.0.0.0:4317",
                "OpenTelemetry collector address."),
    UNSUPPORTED(S_MONITOR, "experimental-distributed-tracing-service-name", T_STRING, "etcd",
                "OpenTelemetry service name."),
    UNSUPPORTED(S_MONITOR, "experimental-distributed-tracing-instance-id", T_STRING, "",
                "OpenTelemetry service instance ID."),
    UNSUPPORTED(S_MONITOR, "experimental-distributed-tracing-sampling-rate", T_INT, "0",
                "Spans sampled per million."),

    SUPPORTED(S_LOGGING, "logger", T_STRING, logger, "zap",
              "Logger: only 'zap' (structured JSON lines)."),
    SUPPORTED(S_LOGGING, "log-outputs", T_STRINGS, log_outputs, "default",
              "Log output: 'default' or 'stderr' (both are stderr)."),
    SUPPORTED(S_LOGGING, "log-level", T_STRING, log_level_text, "info",
              "Log level: debug, info, warn, error, panic or fatal."),
    UNSUPPORTED(S_LOGGING, "enable-log-rotation", T_BOOL, "false",
                "Rotate a single log output file."),
    UNSUPPORTED(S_LOGGING, "log-rotation-config-json", T_STRING,
                "{\"maxsize\": 100, \"maxage\": 0, \"maxbackups\": 0, \"localtime\": false, "
                "\"compress\": false}",
                "Log rotation settings as JSON."),
    UNSUPPORTED(S_LOGGING, "log-output", T_STRINGS, "default",
                "Deprecated in etcd 3.4: use --log-outputs."),
    SUPPORTED(S_LOGGING, "debug", T_BOOL, debug, "false",
              "Deprecated in etcd 3.4: same as --log-level=debug."),
    UNSUPPORTED(S_LOGGING, "log-package-levels", T_STRING, "",
                "Deprecated in etcd 3.4: per-package log levels."),

    {.section = S_PROXY,
     .name = "proxy",
     .type = CONFIG_TYPE_ENUM,
     .support = CONFIG_UNSUPPORTED,
     NO_FIELD,
     .default_text = "off",
     .choices = "off|readonly|on",
     .help = "Proxy mode ('off', 'readonly' or 'on')."},
    UNSUPPORTED(S_PROXY, "proxy-failure-wait", T_UINT, "5000",
                "Time (in milliseconds) an endpoint stays failed."),
    UNSUPPORTED(S_PROXY, "proxy-refresh-interval", T_UINT, "30000",
                "Time (in milliseconds) between endpoint refreshes."),
    UNSUPPORTED(S_PROXY, "proxy-dial-timeout", T_UINT, "1000",
                "Time (in milliseconds) for a dial to time out."),
    UNSUPPORTED(S_PROXY, "proxy-write-timeout", T_UINT, "5000",
                "Time (in milliseconds) for a write to time out."),
    UNSUPPORTED(S_PROXY, "proxy-read-timeout", T_UINT, "0",
                "Time (in milliseconds) for a read to time out."),

    UNSUPPORTED(S_EXPERIMENTAL, "experimental-initial-corrupt-check", T_BOOL, "false",
                "Check data corruption before serving traffic."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-corrupt-check-time", T_DURATION, "0s",
                "Time between cluster corruption checks."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-compact-hash-check-enabled", T_BOOL, "false",
                "Leader checks followers' compaction hashes."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-compact-hash-check-time", T_DURATION, "1m",
                "Time between compaction hash checks."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-enable-lease-checkpoint", T_BOOL, "false",
                "Leader checkpoints lease TTLs to the other members."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-enable-lease-checkpoint-persist", T_BOOL, "false",
                "Persist lease checkpoints."),
    NO_EFFECT(S_EXPERIMENTAL, "experimental-compaction-batch-limit", T_INT, "1000",
              "Revisions etcd deletes per bbolt compaction batch; ringd has no bbolt."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-watch-progress-notify-interval", T_DURATION, "10m",
                "Interval of watch progress notifications."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-downgrade-check-time", T_DURATION, "5s",
                "Time between downgrade status checks."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-warning-apply-duration", T_DURATION, "100ms",
                "Warn when applying a request takes longer than this."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-memory-mlock", T_BOOL, "false",
                "Lock the server's memory in RAM."),
    NO_EFFECT(S_EXPERIMENTAL, "experimental-txn-mode-write-with-shared-buffer", T_BOOL, "true",
              "etcd's bbolt read buffer sharing; ringd has no bbolt."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-stop-grpc-service-on-defrag", T_BOOL, "false",
                "Stop serving clients during defragmentation."),
    NO_EFFECT(S_EXPERIMENTAL, "experimental-bootstrap-defrag-threshold-megabytes", T_UINT, "0",
              "etcd's bbolt defragmentation at boot; ringd has no bbolt."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-max-learners", T_INT, "1",
                "Maximum number of learners in the cluster."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-snapshot-catchup-entries", T_UINT, "5000",
                "Entries kept for slow followers after a snapshot."),
    UNSUPPORTED(S_EXPERIMENTAL, "experimental-peer-skip-client-san-verification", T_BOOL, "false",
                "Skip SAN verification of peer client certificates."),
    NO_EFFECT(S_EXPERIMENTAL, "experimental-backend-bbolt-freelist-type", T_STRING, "array",
              "etcd 3.4's name of --backend-bbolt-freelist-type; ringd has no bbolt."),

    UNSUPPORTED(S_UNSAFE, "unsafe-no-fsync", T_BOOL, "false", "Disable fsync (loses data)."),
    SUPPORTED(S_UNSAFE, "force-new-cluster", T_BOOL, force_new_cluster, "false",
              "Force to create a new one-member cluster."),
    UNSUPPORTED(S_UNSAFE, "config-file", T_STRING, "",
                "Server configuration file (replaces flags and environment variables)."),

    {.section = S_RINGD,
     .name = "ringd-shards",
     .type = T_UINT,
     .support = CONFIG_SUPPORTED,
     FIELD(shards),
     .default_text = NULL,
     .help_default = "online CPUs",
     .min = 1,
     .max = SHARDS_MAX,
     .help = "Shard threads serving clients (environment: RINGD_SHARDS)."},
    SUPPORTED(S_RINGD, "ringd-wal-force", T_BOOL, wal_force, "false",
              "Open a WAL holding a corrupt record by cutting the log there, dropping it and "
              "every later record (environment: RINGD_WAL_FORCE). Only to recover a damaged "
              "disk: acknowledged writes after the cut are lost."),

    {.section = NULL,
     .name = "version",
     .type = T_BOOL,
     .support = CONFIG_SUPPORTED,
     FIELD(print_version),
     .default_text = "false",
     .help = "Print the version and exit."},

    /* Flags of etcd 0.4 that etcd still accepts and ignores. */
    IGNORED("cluster-active-size"),
    IGNORED("cluster-remove-delay"),
    IGNORED("cluster-sync-interval"),
    IGNORED("config"),
    IGNORED("force"),
    IGNORED("max-result-buffer"),
    IGNORED("max-retry-attempts"),
    IGNORED("peer-heartbeat-interval"),
    IGNORED("peer-election-timeout"),
    IGNORED("retry-interval"),
    IGNORED("snapshot"),
    IGNORED("v"),
    IGNORED("vv"),
    IGNORED("test.coverprofile"),
    IGNORED("test.outputdir"),
};

const size_t config_flags_count = sizeof(config_flags) / sizeof(config_flags[0]);

static_assert(sizeof(config_flags) / sizeof(config_flags[0]) <= CONFIG_FLAGS_MAX,
              "CONFIG_FLAGS_MAX bounds the flag table");
static_assert(sizeof(enum config_cluster_state) == sizeof(uint32_t), "enum fields hold a uint32");

/* Go's quoting (strconv.Quote, go_quote.h), for error texts that must read exactly like etcd's. */

static void quote_to(char *out, size_t out_bytes, const char *s)
{
    go_quote(out, out_bytes, s, strlen(s));
}

static void quote_put(FILE *f, const char *s)
{
    size_t n = strlen(s);
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        char esc[GO_QUOTE_CHAR_BYTES_MAX];
        size_t consumed, k = go_quote_char((const unsigned char *)s + i, n - i, esc, &consumed);
        fwrite(esc, 1, k, f);
        i += consumed;
    }
    fputc('"', f);
}

/* Numbers as Go's strconv reads them with base 0 (what the flag package uses): decimal, 0x
 * hex, 0o or a leading 0 for octal, 0b binary, and _ between digits. */

enum num_status {
    NUM_OK,
    NUM_SYNTAX, /* flag package: "parse error" */
    NUM_RANGE,  /* flag package: "value out of range" */
};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Go's rule for digit separators: each _ sits between two digits (a base prefix counts as a
 * digit), so "1_000" and "0x_1f" pass while "_1", "1_" and "1__0" do not. */
static bool underscores_ok(const char *s)
{
    char saw = '^'; /* ^ start, 0 digit or prefix, _ underscore, ! anything else */
    size_t i = 0, n = strlen(s);
    bool hex = false;
    if (n >= 1 && (s[0] == '-' || s[0] == '+'))
        i = 1;
    if (n - i >= 2 && s[i] == '0' && strchr("box", lower(s[i + 1])) != NULL) {
        hex = lower(s[i + 1]) == 'x';
        saw = '0';
        i += 2;
    }
    for (; i < n; i++) {
        int c = lower(s[i]);
        if ((c >= '0' && c <= '9') || (hex && c >= 'a' && c <= 'f')) {
            saw = '0';
        } else if (c == '_') {
            if (saw != '0')
                return false;
            saw = '_';
        } else {
            if (saw == '_')
                return false;
            saw = '!';
        }
    }
    return saw != '_';
}

static enum num_status parse_go_uint(const char *s, unsigned bits, uint64_t *out)
{
    const uint64_t max = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    const char *p = s;
    unsigned base = 10;
    if (s[0] == '\0')
        return NUM_SYNTAX;
    if (s[0] == '0') {
        int c = strlen(s) >= 3 ? lower(s[1]) : 0;
        base = c == 'x' ? 16 : c == 'b' ? 2 : 8;
        p += c == 'x' || c == 'b' || c == 'o' ? 2 : 1;
    }
    uint64_t n = 0, cutoff = UINT64_MAX / base + 1;
    bool underscores = false;
    for (; *p != '\0'; p++) {
        int c = lower(*p);
        unsigned d;
        if (c == '_') {
            underscores = true;
            continue;
        } else if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'z') {
            d = (unsigned)(c - 'a' + 10);
        } else {
            return NUM_SYNTAX;
        }
        if (d >= base)
            return NUM_SYNTAX;
        if (n >= cutoff)
            return NUM_RANGE;
        uint64_t next = n * base + d;
        if (next < n * base || next > max)
            return NUM_RANGE;
        n = next;
    }
    if (underscores && !underscores_ok(s))
        return NUM_SYNTAX;
    *out = n;
    return NUM_OK;
}

static enum num_status parse_go_int(const char *s, int64_t *out)
{
    bool negative = s[0] == '-';
    const char *digits = s[0] == '-' || s[0] == '+' ? s + 1 : s;
    uint64_t u;
    if (s[0] == '\0')
        return NUM_SYNTAX;
    enum num_status st = parse_go_uint(digits, 64, &u);
    if (st != NUM_OK)
        return st;
    if (u > (UINT64_C(1) << 63) || (!negative && u == (UINT64_C(1) << 63)))
        return NUM_RANGE;
    *out = negative ? (int64_t)(0 - u) : (int64_t)u;
    return NUM_OK;
}

/* Go's strconv.ParseBool words. */
static int parse_go_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
            *out = strcmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return -RINGD_EINVAL_CONFIG;
}

/* Durations as Go's time.ParseDuration reads them. */

#define NS_LIMIT (UINT64_C(1) << 63)

static const struct {
    const char *name;
    uint64_t ns;
} duration_units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
    {"ms", 1000000},
    {"s", UINT64_C(1000000000)},
    {"m", UINT64_C(60000000000)},
    {"h", UINT64_C(3600000000000)},
};

static int duration_error(char *why, size_t why_bytes, const char *what, const char *unit,
                          const char *text)
{
    char quoted[CONFIG_ERROR_BYTES_MAX / 2], unit_quoted[64];
    quote_to(quoted, sizeof quoted, text);
    if (unit != NULL) {
        quote_to(unit_quoted, sizeof unit_quoted, unit);
        snprintf(why, why_bytes, "time: unknown unit %s in duration %s", unit_quoted, quoted);
    } else {
        snprintf(why, why_bytes, "time: %s %s", what, quoted);
    }
    return -RINGD_EINVAL_CONFIG;
}

/* Reads [0-9]*(.[0-9]*)? at *p. Digits of the fraction past 63 bits are read and dropped, as
 * Go does. Returns false on an integer overflow or when there are no digits at all. */
static bool duration_number(const char **p, uint64_t *whole, uint64_t *frac, double *scale)
{
    const char *s = *p, *start = s;
    *whole = 0;
    *frac = 0;
    *scale = 1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (*whole > NS_LIMIT / 10)
            return false;
        *whole = *whole * 10 + (uint64_t)(*s - '0');
        if (*whole > NS_LIMIT)
            return false;
    }
    bool digits = s != start;
    if (*s == '.') {
        const char *frac_start = ++s;
        bool overflow = false;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (overflow || *frac > (NS_LIMIT - 1) / 10) {
                overflow = true;
                continue;
            }
            *frac = *frac * 10 + (uint64_t)(*s - '0');
            *scale *= 10;
        }
        digits = digits || s != frac_start;
    }
    *p = s;
    return digits;
}

/* Reads one unit name at *p; returns its length in nanoseconds or 0 with *len set. */
static uint64_t duration_unit(const char *p, size_t *len)
{
    size_t n = 0;
    while (p[n] != '\0' && p[n] != '.' && !(p[n] >= '0' && p[n] <= '9'))
        n++;
    *len = n;
    for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
        if (strlen(duration_units[i].name) == n && memcmp(p, duration_units[i].name, n) == 0)
            return duration_units[i].ns;
    }
    return 0;
}

int config_duration_parse(const char *text, int64_t *ns, char *why, size_t why_bytes)
{
    ASSERT(text != NULL && ns != NULL && why != NULL);
    const char *p = text;
    bool negative = false;
    if (*p == '-' || *p == '+')
        negative = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (*p == '\0')
        return duration_error(why, why_bytes, "invalid duration", NULL, text);
    uint64_t total = 0;
    while (*p != '\0') {
        uint64_t whole, frac;
        double scale;
        size_t unit_len;
        if (!(*p == '.' || (*p >= '0' && *p <= '9')) || !duration_number(&p, &whole, &frac, &scale))
            return duration_error(why, why_bytes, "invalid duration", NULL, text);
        uint64_t unit = duration_unit(p, &unit_len);
        if (unit_len == 0)
            return duration_error(why, why_bytes, "missing unit in duration", NULL, text);
        if (unit == 0) {
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)(unit_len < 31 ? unit_len : 31), p);
            return duration_error(why, why_bytes, NULL, name, text);
        }
        p += unit_len;
        if (whole > NS_LIMIT / unit)
            return duration_error(why, why_bytes, "invalid duration", NULL, text);
        whole *= unit;
        if (frac > 0)
            whole += (uint64_t)((double)frac * ((double)unit / scale));
        total += whole;
        if (whole > NS_LIMIT || total > NS_LIMIT)
            return duration_error(why, why_bytes, "invalid duration", NULL, text);
    }
    if (!negative && total > NS_LIMIT - 1)
        return duration_error(why, why_bytes, "invalid duration", NULL, text);
    *ns = negative ? (int64_t)(0 - total) : (int64_t)total;
    return 0;
}

/* Milliseconds of a duration; a non-zero duration shorter than 1ms stays non-zero, because 0
 * means "disabled" for several flags. */
static int64_t ns_to_ms(int64_t ns)
{
    int64_t ms = ns / 1000000;
    if (ms == 0 && ns != 0)
        ms = ns > 0 ? 1 : -1;
    return ms;
}

/* URLs, checked as etcd checks them: Go's url.Parse, then a scheme of http, https, unix or
 * unixs, a "host:port" address (net.SplitHostPort) and no path. */

__attribute__((format(printf, 3, 4))) static int url_error(char *why, size_t why_bytes,
                                                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_bytes, fmt, ap);
    va_end(ap);
    return -RINGD_EINVAL_CONFIG;
}

/* An error of Go's url.Parse: parse "<url>": <reason>. */
static int url_parse_error(char *why, size_t why_bytes, const char *url, const char *reason)
{
    char quoted[CONFIG_URL_BYTES_MAX * 4 + 3];
    quote_to(quoted, sizeof quoted, url);
    return url_error(why, why_bytes, "parse %s: %s", quoted, reason);
}

static bool port_ok(const char *colon_port)
{
    if (colon_port[0] == '\0')
        return true;
    if (colon_port[0] != ':')
        return false;
    for (const char *p = colon_port + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
    }
    return true;
}

/* Checks the host[:port] part of an authority as url.Parse does; the reason in why. */
static int url_check_host(const char *url, const char *host, char *why, size_t why_bytes)
{
    static const char allowed[] = "-_.~!$&'()*+,;=:[]<>\"";
    char reason[CONFIG_URL_BYTES_MAX * 4 + 64], quoted[CONFIG_URL_BYTES_MAX * 4 + 3];
    const char *colon_port;
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (end == NULL)
            return url_parse_error(why, why_bytes, url, "missing ']' in host");
        colon_port = end + 1;
    } else {
        colon_port = strrchr(host, ':');
        colon_port = colon_port != NULL ? colon_port : "";
    }
    if (!port_ok(colon_port)) {
        quote_to(quoted, sizeof quoted, colon_port);
        snprintf(reason, sizeof reason, "invalid port %s after host", quoted);
        return url_parse_error(why, why_bytes, url, reason);
    }
    for (const char *p = host; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x80 || (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'z') ||
            strchr(allowed, c) != NULL)
            continue;
        /* Go quotes the escape with the two characters after '%', ringd refuses every escape
         * in a host (Go decodes the non-ASCII ones). */
        char bad[4];
        snprintf(bad, sizeof bad, "%.*s", c == '%' ? 3 : 1, p);
        quote_to(quoted, sizeof quoted, bad);
        snprintf(reason, sizeof reason,
                 c == '%' ? "invalid URL escape %s" : "invalid character %s in host name", quoted);
        return url_parse_error(why, why_bytes, url, reason);
    }
    return 0;
}

/* net.SplitHostPort: host (brackets removed) and port of "host:port" or "[v6]:port". */
static bool split_host_port(const char *hostport, char *host, size_t host_bytes, char *port,
                            size_t port_bytes)
{
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL)
        return false; /* missing port in address */
    const char *h = hostport, *h_end = colon;
    if (hostport[0] == '[') {
        const char *end = strchr(hostport, ']');
        if (end == NULL || end + 1 != colon)
            return false; /* missing ']', or something between ']' and the port */
        h = hostport + 1;
        h_end = end;
    } else if (memchr(hostport, ':', (size_t)(colon - hostport)) != NULL) {
        return false; /* too many colons */
    }
    if (memchr(h, '[', (size_t)(h_end - h)) != NULL ||
        memchr(h, ']', (size_t)(h_end - h)) != NULL || strpbrk(colon + 1, "[]") != NULL)
        return false;
    if ((size_t)(h_end - h) >= host_bytes || strlen(colon + 1) >= port_bytes)
        return false;
    snprintf(host, host_bytes, "%.*s", (int)(h_end - h), h);
    snprintf(port, port_bytes, "%s", colon + 1);
    return true;
}

static int url_scheme(const char *scheme, enum config_url_scheme *out)
{
    static const char *const names[] = {"http", "https", "unix", "unixs"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(scheme, names[i]) == 0) {
            *out = (enum config_url_scheme)i;
            return 0;
        }
    }
    return -RINGD_EINVAL_CONFIG;
}

/* Splits url (at most CONFIG_URL_BYTES_MAX bytes) into a lower-cased scheme (empty if none),
 * the authority after "//" and the path; query and fragment are dropped as etcd ignores them.
 * Returns 0 or url.Parse's error. */
static int url_split(const char *url, char *scheme, char *authority, char *path, char *why,
                     size_t why_bytes)
{
    size_t n = strcspn(url, "#"), i = 0;
    for (size_t k = 0; url[k] != '\0'; k++) {
        if ((unsigned char)url[k] < 0x20 || url[k] == 0x7f)
            return url_parse_error(why, why_bytes, url,
                                   "net/url: invalid control character in URL");
    }
    for (; i < n; i++) {
        int c = lower(url[i]);
        if ((c >= 'a' && c <= 'z') || (i > 0 && ((c >= '0' && c <= '9') || strchr("+-.", c))))
            continue;
        break;
    }
    if (i == 0 && n > 0 && url[0] == ':')
        return url_parse_error(why, why_bytes, url, "missing protocol scheme");
    bool has_scheme = i > 0 && i < n && url[i] == ':';
    size_t rest = has_scheme ? i + 1 : 0;
    size_t rest_len = strcspn(url + rest, "?#");
    scheme[0] = authority[0] = path[0] = '\0';
    if (!has_scheme) {
        size_t segment = strcspn(url, "/?#");
        if (memchr(url, ':', segment) != NULL)
            return url_parse_error(why, why_bytes, url,
                                   "first path segment in URL cannot contain colon");
        return 0;
    }
    for (size_t k = 0; k < i; k++)
        scheme[k] = (char)lower(url[k]);
    scheme[i] = '\0';
    const char *r = url + rest;
    if (rest_len >= 2 && r[0] == '/' && r[1] == '/') {
        size_t auth_len = strcspn(r + 2, "/?#");
        snprintf(authority, CONFIG_URL_BYTES_MAX, "%.*s", (int)auth_len, r + 2);
        snprintf(path, CONFIG_URL_BYTES_MAX, "%.*s", (int)(rest_len - 2 - auth_len),
                 r + 2 + auth_len);
    } else if (rest_len > 0 && r[0] == '/') {
        snprintf(path, CONFIG_URL_BYTES_MAX, "%.*s", (int)rest_len, r);
    }
    return 0;
}

/* Parses one trimmed URL into u; etcd's error text in why. */
static int url_parse(struct config_url *u, const char *url, char *why, size_t why_bytes)
{
    char scheme[CONFIG_URL_BYTES_MAX], authority[CONFIG_URL_BYTES_MAX], path[CONFIG_URL_BYTES_MAX];
    char port[CONFIG_URL_BYTES_MAX];
    if (strlen(url) >= CONFIG_URL_BYTES_MAX) {
        snprintf(why, why_bytes, "URL longer than %d bytes: %.*s...", CONFIG_URL_BYTES_MAX - 1,
                 CONFIG_URL_BYTES_MAX, url);
        return -RINGD_EINVAL_CONFIG;
    }
    if (url_split(url, scheme, authority, path, why, why_bytes) != 0)
        return -RINGD_EINVAL_CONFIG;
    const char *at = strrchr(authority, '@');
    const char *hostport = at != NULL ? at + 1 : authority;
    if (url_check_host(url, hostport, why, why_bytes) != 0)
        return -RINGD_EINVAL_CONFIG;
    if (url_scheme(scheme, &u->scheme) != 0)
        return url_error(why, why_bytes, "URL scheme must be http, https, unix, or unixs: %s", url);
    if (!split_host_port(hostport, u->host, sizeof u->host, port, sizeof port))
        return url_error(why, why_bytes, "URL address does not have the form \"host:port\": %s",
                         url);
    if (path[0] != '\0')
        return url_error(why, why_bytes, "URL must not contain a path: %s", url);
    /* url.Parse let only digits through; Go accepts any number here and fails later, at
     * listen, while ringd stores a uint16 and says so now. An empty port is port 0. */
    uint32_t number = 0;
    for (const char *d = port; *d != '\0'; d++) {
        number = number * 10 + (uint32_t)(*d - '0');
        if (number > UINT16_MAX)
            return url_error(why, why_bytes, "URL port is larger than 65535: %s", url);
    }
    u->port = (uint16_t)number;
    bool is_unix = u->scheme == CONFIG_URL_UNIX || u->scheme == CONFIG_URL_UNIXS;
    snprintf(u->socket_path, sizeof u->socket_path, "%s", is_unix ? hostport : "");
    snprintf(u->text, sizeof u->text, "%s%s", scheme, url + strlen(scheme));
    return 0;
}

static bool is_go_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int config_urls_parse(struct config_urls *out, const char *text, char *why, size_t why_bytes)
{
    ASSERT(out != NULL && text != NULL && why != NULL);
    out->count = 0;
    for (const char *p = text;; p++) {
        size_t len = strcspn(p, ",");
        while (len > 0 && is_go_space(*p)) {
            p++;
            len--;
        }
        while (len > 0 && is_go_space(p[len - 1]))
            len--;
        if (out->count == CONFIG_URLS_MAX) {
            snprintf(why, why_bytes, "more than %d URLs", CONFIG_URLS_MAX);
            return -RINGD_EINVAL_CONFIG;
        }
        char url[CONFIG_URL_BYTES_MAX + 1];
        snprintf(url, sizeof url, "%.*s", (int)len, p);
        if (url_parse(&out->items[out->count], url, why, why_bytes) != 0)
            return -RINGD_EINVAL_CONFIG;
        out->count++;
        p += strcspn(p, ",");
        if (*p == '\0')
            break;
    }
    /* etcd sorts every URL list by its text; a few entries, so insertion sort. */
    for (uint32_t i = 1; i < out->count; i++) {
        for (uint32_t j = i; j > 0 && strcmp(out->items[j - 1].text, out->items[j].text) > 0; j--) {
            struct config_url tmp = out->items[j];
            out->items[j] = out->items[j - 1];
            out->items[j - 1] = tmp;
        }
    }
    return 0;
}

/* Setting one flag from text, the way each Go flag.Value's Set does. */

/* A parsed non-list value. */
struct scalar {
    bool b;
    uint64_t u;
    int64_t i; /* CONFIG_TYPE_INT, and nanoseconds for CONFIG_TYPE_DURATION */
    uint32_t index;
};

struct parse_state {
    struct config *cfg;
    FILE *out;
    FILE *err;
    bool set[CONFIG_FLAGS_MAX];        /* given on the command line or in the environment */
    bool on_cmdline[CONFIG_FLAGS_MAX]; /* given on the command line */
    bool from_env[CONFIG_FLAGS_MAX];   /* taken from its environment variable */
    bool non_default[CONFIG_FLAGS_MAX];
    const char *env_bad_flag; /* of the variable with a bad value etcd would report */
    const char *env_bad_value;
    char env_bad_key[CONFIG_ENV_NAME_BYTES];
    char env_bad_why[CONFIG_ERROR_BYTES_MAX];
};

static size_t flag_index(const struct config_flag *f)
{
    ASSERT(f >= config_flags && f < config_flags + config_flags_count);
    return (size_t)(f - config_flags);
}

static bool flag_is_bool(const struct config_flag *f)
{
    return f->type == CONFIG_TYPE_BOOL || f->type == CONFIG_TYPE_IGNORED;
}

static const struct config_flag *flag_find(const char *name, size_t len)
{
    for (size_t i = 0; i < config_flags_count; i++) {
        if (strlen(config_flags[i].name) == len && memcmp(config_flags[i].name, name, len) == 0)
            return &config_flags[i];
    }
    return NULL;
}

/* ETCD_LISTEN_CLIENT_URLS for listen-client-urls; RINGD_SHARDS for ringd-shards. */
static void flag_env_name(const struct config_flag *f, char *out, size_t out_bytes)
{
    const char *prefix = strncmp(f->name, "ringd-", 6) == 0 ? "" : "ETCD_";
    int n = snprintf(out, out_bytes, "%s%s", prefix, f->name);
    ASSERT(n > 0 && (size_t)n < out_bytes);
    for (char *p = out; *p != '\0'; p++)
        *p = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
}

static int enum_index(const char *choices, const char *text, uint32_t *index)
{
    size_t len = strlen(text);
    uint32_t i = 0;
    for (const char *p = choices; *p != '\0'; i++) {
        size_t word = strcspn(p, "|");
        if (word == len && memcmp(p, text, len) == 0) {
            *index = i;
            return 0;
        }
        p += word + (p[word] == '|');
    }
    return -RINGD_EINVAL_CONFIG;
}

static int number_reason(enum num_status st, char *why, size_t why_bytes)
{
    snprintf(why, why_bytes, "%s", st == NUM_RANGE ? "value out of range" : "parse error");
    return st == NUM_OK ? 0 : -RINGD_EINVAL_CONFIG;
}

static int scalar_parse_uint(const struct config_flag *f, const char *text, struct scalar *v,
                             char *why, size_t why_bytes)
{
    enum num_status st = parse_go_uint(text, f->size == sizeof(uint32_t) ? 32 : 64, &v->u);
    if (st == NUM_OK && f->max > 0 && (v->u < f->min || v->u > f->max))
        st = NUM_RANGE;
    if (f->type == CONFIG_TYPE_UINT || st == NUM_OK)
        return number_reason(st, why, why_bytes);
    /* etcd's own uint32 flag returns strconv's error unchanged. */
    char quoted[CONFIG_ERROR_BYTES_MAX / 2];
    quote_to(quoted, sizeof quoted, text);
    snprintf(why, why_bytes, "strconv.ParseUint: parsing %s: %s", quoted,
             st == NUM_RANGE ? "value out of range" : "invalid syntax");
    return -RINGD_EINVAL_CONFIG;
}

/* Parses text for f into v (or urls), or returns the reason Go's Set would give in why. */
static int value_parse(const struct config_flag *f, const char *text, struct scalar *v,
                       struct config_urls *urls, char *why, size_t why_bytes)
{
    size_t limit = f->offset != CONFIG_NO_FIELD ? f->size : CONFIG_STRING_BYTES_MAX;
    switch (f->type) {
    case CONFIG_TYPE_STRING:
    case CONFIG_TYPE_STRINGS:
        if (strlen(text) < limit)
            return 0;
        snprintf(why, why_bytes, "value longer than %zu bytes", limit - 1);
        return -RINGD_EINVAL_CONFIG;
    case CONFIG_TYPE_BOOL:
        snprintf(why, why_bytes, "parse error");
        return parse_go_bool(text, &v->b);
    case CONFIG_TYPE_UINT:
    case CONFIG_TYPE_UINT32:
        return scalar_parse_uint(f, text, v, why, why_bytes);
    case CONFIG_TYPE_INT:
        return number_reason(parse_go_int(text, &v->i), why, why_bytes);
    case CONFIG_TYPE_DURATION: {
        char reason[CONFIG_ERROR_BYTES_MAX];
        snprintf(why, why_bytes, "parse error"); /* the flag package hides time's reason */
        return config_duration_parse(text, &v->i, reason, sizeof reason);
    }
    case CONFIG_TYPE_ENUM:
        snprintf(why, why_bytes, "invalid value");
        return enum_index(f->choices, text, &v->index);
    case CONFIG_TYPE_URLS:
        if (f->url_keep != NULL && strcmp(text, f->url_keep) == 0)
            return 0; /* leaves the list as it was, as etcd's UniqueURLs does */
        return config_urls_parse(urls, text, why, why_bytes);
    case CONFIG_TYPE_IGNORED:
        return 0;
    }
    UNREACHABLE();
}

static void value_store(struct config *cfg, const struct config_flag *f, const char *text,
                        const struct scalar *v, const struct config_urls *urls, bool keep)
{
    char *field = (char *)cfg + f->offset;
    uint32_t u32 = (uint32_t)v->u;
    int64_t ms = ns_to_ms(v->i);
    switch (f->type) {
    case CONFIG_TYPE_STRING:
    case CONFIG_TYPE_STRINGS:
        ASSERT(strlen(text) < f->size);
        memcpy(field, text, strlen(text) + 1);
        return;
    case CONFIG_TYPE_BOOL:
        ASSERT(f->size == sizeof(bool));
        memcpy(field, &v->b, sizeof(bool));
        return;
    case CONFIG_TYPE_UINT:
    case CONFIG_TYPE_UINT32:
        ASSERT(f->size == sizeof(uint64_t) || f->size == sizeof(uint32_t));
        ASSERT(f->size == sizeof(uint64_t) || v->u <= UINT32_MAX);
        memcpy(field, f->size == sizeof(uint64_t) ? (const void *)&v->u : &u32, f->size);
        return;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_DURATION:
        ASSERT(f->size == sizeof(int64_t));
        memcpy(field, f->type == CONFIG_TYPE_INT ? &v->i : &ms, sizeof(int64_t));
        return;
    case CONFIG_TYPE_ENUM:
        ASSERT(f->size == sizeof(uint32_t));
        memcpy(field, &v->index, sizeof(uint32_t));
        return;
    case CONFIG_TYPE_URLS:
        ASSERT(f->size == sizeof(struct config_urls));
        if (!keep)
            memcpy(field, urls, sizeof(struct config_urls));
        return;
    case CONFIG_TYPE_IGNORED:
        return;
    }
    UNREACHABLE();
}

/* Whether text, parsed as v, differs from f's default. Lists compare as given. */
static bool value_is_default(const struct config_flag *f, const char *text, const struct scalar *v)
{
    struct scalar d = {0};
    struct config_urls unused;
    char why[CONFIG_ERROR_BYTES_MAX];
    ASSERT(f->default_text != NULL);
    switch (f->type) {
    case CONFIG_TYPE_STRING:
    case CONFIG_TYPE_STRINGS:
    case CONFIG_TYPE_URLS:
        return strcmp(text, f->default_text) == 0 ||
               (f->url_keep != NULL && strcmp(text, f->url_keep) == 0);
    case CONFIG_TYPE_IGNORED:
        return true;
    default:
        break;
    }
    int rc = value_parse(f, f->default_text, &d, &unused, why, sizeof why);
    ASSERT(rc == 0);
    return d.b == v->b && d.u == v->u && d.i == v->i && d.index == v->index;
}

/* A flag etcd still accepts but whose value means nothing to ringd. */
static void warn_no_effect(const struct config_flag *f, const char *text)
{
    if (f->type == CONFIG_TYPE_IGNORED) {
        char msg[128];
        snprintf(msg, sizeof msg, "flag \"-%s\" is no longer supported - ignoring.", f->name);
        log_warn(msg);
        return;
    }
    log_warn("flag has no effect in ringd; ignoring", LOG_STR("flag", f->name),
             LOG_STR("value", text));
}

/* Sets f from text (command line or environment). Returns 0, or -RINGD_EINVAL_CONFIG with the
 * reason in why. */
static int flag_set(struct parse_state *st, const struct config_flag *f, const char *text,
                    char *why, size_t why_bytes)
{
    struct config_urls urls;
    struct scalar v = {0};
    size_t i = flag_index(f);
    if (value_parse(f, text, &v, &urls, why, why_bytes) != 0)
        return -RINGD_EINVAL_CONFIG;
    bool keep =
        f->type == CONFIG_TYPE_URLS && f->url_keep != NULL && strcmp(text, f->url_keep) == 0;
    st->set[i] = true;
    if (f->offset != CONFIG_NO_FIELD) {
        value_store(st->cfg, f, text, &v, &urls, keep);
        return 0;
    }
    st->non_default[i] = !value_is_default(f, text, &v);
    if (f->support == CONFIG_NO_EFFECT && (st->non_default[i] || f->type == CONFIG_TYPE_IGNORED))
        warn_no_effect(f, text);
    return 0;
}

/* Messages and usage. */

static void print_usage(FILE *f)
{
    fputs("Usage:\n\n"
          "  ringd [flags]\n"
          "    Start a ringd server.\n\n"
          "  ringd --version\n"
          "    Show the version of ringd.\n\n"
          "  ringd -h | --help\n"
          "    Show the help information about ringd.\n\n",
          f);
}

/* Every flag with its default and help, grouped as etcd's --help groups them. */
static void print_flags(FILE *f)
{
    const char *section = NULL;
    for (size_t i = 0; i < config_flags_count; i++) {
        const struct config_flag *flag = &config_flags[i];
        if (flag->section == NULL)
            continue;
        if (section == NULL || strcmp(section, flag->section) != 0) {
            section = flag->section;
            fprintf(f, "\n%s:\n", section);
        }
        const char *def = flag->help_default != NULL ? flag->help_default : flag->default_text;
        const char *note = flag->support == CONFIG_UNSUPPORTED ? "[not supported yet by ringd] "
                           : flag->support == CONFIG_NO_EFFECT ? "[no effect in ringd] "
                                                               : "";
        fprintf(f, "  --%s '%s'\n    %s%s\n", flag->name, def, note, flag->help);
    }
}

/* Ends a command-line error the way Go's flag package does: usage, exit status 2. */
static int usage_error(struct parse_state *st)
{
    fputc('\n', st->err);
    print_usage(st->err);
    st->cfg->exit_status = 2;
    return -RINGD_EINVAL_CONFIG;
}

/* An error etcd finds after parsing; it exits with 1. */
static int verify_error(struct parse_state *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ringd: error verifying flags, ", st->err);
    vfprintf(st->err, fmt, ap);
    fputs(". See 'ringd --help'.\n", st->err);
    va_end(ap);
    st->cfg->exit_status = 1;
    return -RINGD_EINVAL_CONFIG;
}

/* A value ringd cannot serve yet (no etcd equivalent): exit status 2, like a bad flag. */
static int unsupported_error(struct parse_state *st, const char *name, const char *what)
{
    fprintf(st->err, "ringd: flag --%s: %snot supported yet\n", name, what);
    st->cfg->exit_status = 2;
    return -RINGD_EINVAL_CONFIG;
}

/* The command line, as Go's flag.FlagSet.Parse reads it. */

/* Sets the flag named in arg ("name" or "name=value", dashes removed), taking its value from
 * argv[*next] when needed. Returns 0, CONFIG_EXIT_OK for -h/-help, or an error. */
static int arg_parse(struct parse_state *st, const char *arg, int argc, char *const *argv,
                     int *next)
{
    const char *eq = strchr(arg + 1, '=');
    size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    const char *value = eq != NULL ? eq + 1 : NULL;
    const struct config_flag *f = flag_find(arg, name_len);
    char why[CONFIG_ERROR_BYTES_MAX];
    if (f == NULL) {
        if ((name_len == 4 && memcmp(arg, "help", 4) == 0) || (name_len == 1 && arg[0] == 'h')) {
            print_usage(st->err);
            print_flags(st->out);
            return CONFIG_EXIT_OK;
        }
        fprintf(st->err, "flag provided but not defined: -%.*s", (int)name_len, arg);
        return usage_error(st);
    }
    if (flag_is_bool(f)) {
        if (flag_set(st, f, value != NULL ? value : "true", why, sizeof why) != 0) {
            ASSERT(value != NULL); /* "true" always parses */
            fputs("invalid boolean value ", st->err);
            quote_put(st->err, value);
            fprintf(st->err, " for -%s: %s", f->name, why);
            return usage_error(st);
        }
    } else {
        if (value == NULL && *next < argc)
            value = argv[(*next)++];
        if (value == NULL) {
            fprintf(st->err, "flag needs an argument: -%s", f->name);
            return usage_error(st);
        }
        if (flag_set(st, f, value, why, sizeof why) != 0) {
            fputs("invalid value ", st->err);
            quote_put(st->err, value);
            fprintf(st->err, " for flag -%s: %s", f->name, why);
            return usage_error(st);
        }
    }
    st->on_cmdline[flag_index(f)] = true;
    return 0;
}

/* Parses flags until the first argument that is not one ("-" alone, or no leading dash) or
 * after "--". Returns 0 with *rest at that argument (argc if none), CONFIG_EXIT_OK, or an error. */
static int args_parse(struct parse_state *st, int argc, char *const *argv, int *rest)
{
    int i = 1;
    while (i < argc) {
        const char *s = argv[i];
        ASSERT(s != NULL);
        if (s[0] != '-' || s[1] == '\0')
            break;
        bool two = s[1] == '-';
        if (two && s[2] == '\0') {
            i++;
            break;
        }
        const char *arg = s + (two ? 2 : 1);
        if (arg[0] == '-' || arg[0] == '=') {
            fprintf(st->err, "bad flag syntax: %s", s);
            return usage_error(st);
        }
        i++;
        int rc = arg_parse(st, arg, argc, argv, &i);
        if (rc != 0)
            return rc;
    }
    *rest = i;
    return 0;
}

/* The environment, as etcd's flags.SetFlagsFromEnv reads it. */

/* The value of key in envp (the first entry wins, as in Go), or NULL. */
static const char *env_lookup(char *const *envp, const char *key)
{
    size_t len = strlen(key);
    for (size_t k = 0; envp != NULL && envp[k] != NULL && k < CONFIG_ENV_VARS_MAX; k++) {
        if (strncmp(envp[k], key, len) == 0 && envp[k][len] == '=')
            return envp[k] + len + 1;
    }
    return NULL;
}

static const struct config_flag *flag_find_env(const char *entry, size_t key_len)
{
    char name[CONFIG_ENV_NAME_BYTES];
    for (size_t i = 0; i < config_flags_count; i++) {
        flag_env_name(&config_flags[i], name, sizeof name);
        if (strlen(name) == key_len && memcmp(name, entry, key_len) == 0)
            return &config_flags[i];
    }
    return NULL;
}

/* Sets every flag not given on the command line from its non-empty variable. A bad value does
 * not stop the others, as in etcd; the one etcd reports is kept for env_report. */
static void env_apply(struct parse_state *st, char *const *envp)
{
    char key[CONFIG_ENV_NAME_BYTES], why[CONFIG_ERROR_BYTES_MAX];
    for (size_t i = 0; i < config_flags_count; i++) {
        const struct config_flag *f = &config_flags[i];
        flag_env_name(f, key, sizeof key);
        const char *value = env_lookup(envp, key);
        if (st->on_cmdline[i] || value == NULL || value[0] == '\0')
            continue;
        if (strcmp(f->name, "version") == 0) {
            /* etcd 3.5 refuses ETCD_VERSION rather than print the version and exit. */
            log_warn("cannot set special environment variable", LOG_STR("key", key),
                     LOG_STR("value", value));
            continue;
        }
        st->from_env[i] = true;
        if (flag_set(st, f, value, why, sizeof why) == 0) {
            log_info("recognized and used environment variable", LOG_STR("variable-name", key),
                     LOG_STR("variable-value", value));
        } else if (st->env_bad_flag == NULL || strcmp(f->name, st->env_bad_flag) > 0) {
            /* Go visits flags in name order and keeps the last error. */
            st->env_bad_flag = f->name;
            st->env_bad_value = value;
            memcpy(st->env_bad_key, key, sizeof key);
            memcpy(st->env_bad_why, why, sizeof why);
        }
    }
}

static int env_report(struct parse_state *st)
{
    if (st->env_bad_value == NULL)
        return 0;
    fputs("ringd: error verifying flags, invalid value ", st->err);
    quote_put(st->err, st->env_bad_value);
    fprintf(st->err, " for %s: %s. See 'ringd --help'.\n", st->env_bad_key, st->env_bad_why);
    st->cfg->exit_status = 1;
    return -RINGD_EINVAL_CONFIG;
}

/* Warns about ETCD_* variables no flag uses and refuses a variable whose flag is also on the
 * command line: etcd 3.4 and 3.5 exit then rather than guess which one was meant. */
static int env_verify(struct parse_state *st, char *const *envp)
{
    for (size_t k = 0; envp != NULL && envp[k] != NULL; k++) {
        if (k == CONFIG_ENV_VARS_MAX) {
            log_warn("environment too large; later variables not checked",
                     LOG_U64("checked", CONFIG_ENV_VARS_MAX));
            break;
        }
        const char *entry = envp[k];
        size_t key_len = strcspn(entry, "=");
        const struct config_flag *f = flag_find_env(entry, key_len);
        if (f != NULL && (st->from_env[flag_index(f)] || strcmp(f->name, "version") == 0))
            continue;
        if (f != NULL && st->on_cmdline[flag_index(f)]) {
            fprintf(st->err,
                    "ringd: conflicting environment variable \"%.*s\" is shadowed by corresponding "
                    "command-line flag (either unset environment variable or disable flag)\n",
                    (int)key_len, entry);
            st->cfg->exit_status = 1;
            return -RINGD_EINVAL_CONFIG;
        }
        if (strncmp(entry, "ETCD_", 5) == 0)
            log_warn("unrecognized environment variable", LOG_STR("environment-variable", entry));
    }
    return 0;
}

/* After parsing: what etcd derives and verifies, in etcd's order. */

static int check_unsupported(struct parse_state *st)
{
    for (size_t i = 0; i < config_flags_count; i++) {
        if (config_flags[i].support == CONFIG_UNSUPPORTED && st->non_default[i])
            return unsupported_error(st, config_flags[i].name, "");
    }
    return 0;
}

static int check_logging(struct parse_state *st)
{
    struct config *cfg = st->cfg;
    if (strcmp(cfg->logger, "capnslog") == 0)
        return unsupported_error(st, "logger", "capnslog is ");
    if (strcmp(cfg->logger, "zap") != 0)
        return verify_error(st, "unknown logger option \"%s\"", cfg->logger);
    for (const char *p = cfg->log_outputs;; p++) {
        size_t len = strcspn(p, ",");
        if (!((len == 7 && memcmp(p, "default", 7) == 0) ||
              (len == 6 && memcmp(p, "stderr", 6) == 0)))
            return unsupported_error(st, "log-outputs",
                                     "outputs other than default and stderr are ");
        p += len;
        if (*p == '\0')
            break;
    }
    if (log_level_parse(cfg->log_level_text, &cfg->log_level) != 0) {
        /* etcd panics here, which exits with status 2. */
        fprintf(st->err, "ringd: unknown level \"%s\"\n", cfg->log_level_text);
        cfg->exit_status = 2;
        return -RINGD_EINVAL_CONFIG;
    }
    if (cfg->debug)
        cfg->log_level = LOG_LEVEL_DEBUG;
    return 0;
}

/* etcd's checkBindURLs: a listener needs an IP address or "localhost"; unix sockets pass. */
static int check_bind_urls(struct parse_state *st, const struct config_urls *urls)
{
    for (uint32_t i = 0; i < urls->count; i++) {
        const struct config_url *u = &urls->items[i];
        unsigned char addr[16];
        if (u->scheme == CONFIG_URL_UNIX || u->scheme == CONFIG_URL_UNIXS ||
            strcmp(u->host, "localhost") == 0 || inet_pton(AF_INET, u->host, addr) == 1 ||
            inet_pton(AF_INET6, u->host, addr) == 1)
            continue;
        return verify_error(st, "expected IP in URL for binding (%s)", u->text);
    }
    return 0;
}

/* etcd's checkHostURLs: an advertised URL needs a host. */
static int check_host_urls(struct parse_state *st, const char *flag, const struct config_urls *urls)
{
    char joined[CONFIG_URLS_MAX * CONFIG_URL_BYTES_MAX], quoted[sizeof joined * 4 / 3];
    size_t len = 0;
    for (uint32_t i = 0; i < urls->count; i++)
        len += (size_t)snprintf(joined + len, sizeof joined - len, "%s%s", i > 0 ? "," : "",
                                urls->items[i].text);
    for (uint32_t i = 0; i < urls->count; i++) {
        if (urls->items[i].host[0] != '\0')
            continue;
        quote_to(quoted, sizeof quoted, joined);
        return verify_error(st, "--%s %s must be \"host:port\" (unexpected empty host (%s))", flag,
                            quoted, urls->items[i].text);
    }
    return 0;
}

/* Listening with TLS needs the certificate flags, which ringd does not take yet. */
static int check_tls_urls(struct parse_state *st, const char *flag, const struct config_urls *urls)
{
    for (uint32_t i = 0; i < urls->count; i++) {
        enum config_url_scheme s = urls->items[i].scheme;
        if (s == CONFIG_URL_HTTPS || s == CONFIG_URL_UNIXS)
            return unsupported_error(st, flag, "TLS (https and unixs URLs) is ");
    }
    return 0;
}

static int check_urls(struct parse_state *st, bool advertise_missing)
{
    struct config *cfg = st->cfg;
    int rc = check_bind_urls(st, &cfg->listen_peer_urls);
    rc = rc != 0 ? rc : check_bind_urls(st, &cfg->listen_client_urls);
    rc = rc != 0 ? rc
                 : check_host_urls(st, "initial-advertise-peer-urls",
                                   &cfg->initial_advertise_peer_urls);
    if (rc == 0 && !advertise_missing)
        rc = check_host_urls(st, "advertise-client-urls", &cfg->advertise_client_urls);
    rc = rc != 0 ? rc : check_tls_urls(st, "listen-peer-urls", &cfg->listen_peer_urls);
    rc = rc != 0 ? rc : check_tls_urls(st, "listen-client-urls", &cfg->listen_client_urls);
    return rc;
}

static int check_raft(struct parse_state *st)
{
    const struct config *cfg = st->cfg;
    const uint64_t election_ms_max = 50000; /* etcd's maxElectionMs */
    if (cfg->heartbeat_interval_ms == 0)
        return verify_error(st, "--heartbeat-interval must be >0 (set to 0ms)");
    if (cfg->election_timeout_ms == 0)
        return verify_error(st, "--election-timeout must be >0 (set to 0ms)");
    if (cfg->heartbeat_interval_ms > UINT64_MAX / 5 ||
        5 * cfg->heartbeat_interval_ms > cfg->election_timeout_ms)
        return verify_error(st,
                            "--election-timeout[%" PRIu64 "ms] should be at least as 5 times as "
                            "--heartbeat-interval[%" PRIu64 "ms]",
                            cfg->election_timeout_ms, cfg->heartbeat_interval_ms);
    if (cfg->election_timeout_ms > election_ms_max)
        return verify_error(st,
                            "--election-timeout[%" PRIu64 "ms] is too long, and should be set "
                            "less than %" PRIu64 "ms",
                            cfg->election_timeout_ms, election_ms_max);
    return 0;
}

/* Go's strconv.Atoi: an optional sign and decimal digits only. */
static bool parse_atoi(const char *s, int64_t *out)
{
    const char *digits = s[0] == '-' || s[0] == '+' ? s + 1 : s;
    if (digits[0] == '\0' || strspn(digits, "0123456789") != strlen(digits))
        return false;
    return parse_go_int(s, out) == NUM_OK;
}

/* etcd reads the retention only when the server starts, but fails the same way (status 1). */
static int check_compaction(struct parse_state *st)
{
    struct config *cfg = st->cfg;
    const char *mode = cfg->auto_compaction_mode_text, *text = cfg->auto_compaction_retention;
    char why[CONFIG_ERROR_BYTES_MAX];
    int64_t n;
    if (strcmp(mode, "revision") == 0) {
        cfg->auto_compaction_mode = CONFIG_COMPACTION_REVISION;
    } else if (strcmp(mode, "periodic") == 0 || mode[0] == '\0') {
        cfg->auto_compaction_mode = CONFIG_COMPACTION_PERIODIC;
    } else {
        quote_to(why, sizeof why, mode);
        return verify_error(st, "unknown auto-compaction-mode %s", why);
    }
    cfg->auto_compaction_retention_ms = 0;
    cfg->auto_compaction_retention_revisions = 0;
    if (parse_atoi(text, &n) && n >= 0) {
        /* A bare number is hours in periodic mode; with no mode etcd compacts nothing. */
        bool hours = strcmp(mode, "periodic") == 0;
        const int64_t hour_ms = 3600 * 1000;
        if (cfg->auto_compaction_mode == CONFIG_COMPACTION_REVISION)
            cfg->auto_compaction_retention_revisions = (uint64_t)n;
        else if (hours)
            cfg->auto_compaction_retention_ms = n > INT64_MAX / hour_ms ? INT64_MAX : n * hour_ms;
        return 0;
    }
    if (config_duration_parse(text, &n, why, sizeof why) != 0)
        return verify_error(st, "error parsing CompactionRetention: %s", why);
    /* In revision mode etcd counts the duration's nanoseconds as revisions. */
    if (cfg->auto_compaction_mode == CONFIG_COMPACTION_REVISION)
        cfg->auto_compaction_retention_revisions = n > 0 ? (uint64_t)n : 0;
    else
        cfg->auto_compaction_retention_ms = ns_to_ms(n);
    return 0;
}

/* etcd replaces the default --initial-cluster with "<name>=<peer URL>,..." when only --name
 * changed: it compares with the default text, not with whether the flag was given. */
static int derive_initial_cluster(struct parse_state *st)
{
    struct config *cfg = st->cfg;
    const struct config_flag *f = flag_find("initial-cluster", strlen("initial-cluster"));
    if (strcmp(cfg->name, "default") == 0 || strcmp(cfg->initial_cluster, f->default_text) != 0)
        return 0;
    const char *name = cfg->name[0] != '\0' ? cfg->name : "default";
    const struct config_urls *peers = &cfg->initial_advertise_peer_urls;
    size_t len = 0;
    cfg->initial_cluster[0] = '\0';
    for (uint32_t i = 0; i < peers->count; i++) {
        size_t room = sizeof cfg->initial_cluster - len;
        int n = snprintf(cfg->initial_cluster + len, room, "%s%s=%s", i > 0 ? "," : "", name,
                         peers->items[i].text);
        if (n < 0 || (size_t)n >= room)
            return verify_error(st,
                                "--initial-cluster built from --name and "
                                "--initial-advertise-peer-urls is longer than %d bytes",
                                CONFIG_STRING_BYTES_MAX - 1);
        len += (size_t)n;
    }
    return 0;
}

/* Defaults that depend on other flags. Sets *advertise_missing when --listen-client-urls was
 * given without --advertise-client-urls: etcd then drops the default advertised URL. */
static int derive(struct parse_state *st, bool *advertise_missing)
{
    struct config *cfg = st->cfg;
    const struct config_flag *listen = flag_find("listen-client-urls", 18);
    const struct config_flag *advertise = flag_find("advertise-client-urls", 21);
    ASSERT(listen != NULL && advertise != NULL);
    *advertise_missing = st->set[flag_index(listen)] && !st->set[flag_index(advertise)];
    if (*advertise_missing)
        cfg->advertise_client_urls.count = 0;
    if (cfg->data_dir[0] == '\0') {
        snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s.ringd", cfg->name);
        cfg->data_dir_defaulted = true;
    }
    return derive_initial_cluster(st);
}

/* etcd's auth store falls back to bcrypt's default cost rather than failing. */
static void check_bcrypt_cost(struct config *cfg)
{
    const uint64_t cost_min = 4, cost_max = 31, cost_default = 10;
    if (cfg->bcrypt_cost >= cost_min && cfg->bcrypt_cost <= cost_max)
        return;
    log_warn("use default bcrypt cost instead of the invalid given cost",
             LOG_U64("min-cost", cost_min), LOG_U64("max-cost", cost_max),
             LOG_U64("default-cost", cost_default), LOG_U64("given-cost", cfg->bcrypt_cost));
    cfg->bcrypt_cost = cost_default;
}

/* Everything after the flags are read, in the order etcd checks it. */
static int finish(struct parse_state *st)
{
    bool advertise_missing = false;
    int rc = check_unsupported(st);
    rc = rc != 0 ? rc : check_logging(st);
    rc = rc != 0 ? rc : derive(st, &advertise_missing);
    rc = rc != 0 ? rc : check_urls(st, advertise_missing);
    rc = rc != 0 ? rc : check_raft(st);
    if (rc == 0 && advertise_missing)
        rc = verify_error(st, "--advertise-client-urls is required when --listen-client-urls is "
                              "set explicitly");
    rc = rc != 0 ? rc : check_compaction(st);
    if (rc == 0)
        check_bcrypt_cost(st->cfg);
    return rc;
}

/* Entry points. */

static uint32_t online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > SHARDS_MAX ? SHARDS_MAX : (uint32_t)n;
}

void config_init(struct config *cfg)
{
    ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < config_flags_count; i++) {
        const struct config_flag *f = &config_flags[i];
        struct scalar v = {0};
        struct config_urls urls;
        char why[CONFIG_ERROR_BYTES_MAX];
        /* The table is code: a flag with a field is supported and the reverse. */
        ASSERT((f->offset != CONFIG_NO_FIELD) == (f->support == CONFIG_SUPPORTED));
        if (f->offset == CONFIG_NO_FIELD || f->default_text == NULL)
            continue;
        int rc = value_parse(f, f->default_text, &v, &urls, why, sizeof why);
        ASSERT(rc == 0);
        value_store(cfg, f, f->default_text, &v, &urls, false);
    }
    cfg->shards = online_cpus();
    cfg->log_level = LOG_LEVEL_INFO;
}

int config_parse(struct config *cfg, int argc, char *const *argv, char *const *envp, FILE *out,
                 FILE *err)
{
    ASSERT(cfg != NULL && argc >= 1 && argv != NULL && out != NULL && err != NULL);
    struct parse_state st = {.cfg = cfg, .out = out, .err = err};
    config_init(cfg);
    int rest = argc, rc = args_parse(&st, argc, argv, &rest);
    if (rc != 0)
        return rc;
    if (rest < argc)
        return verify_error(&st, "'%s' is not a valid flag", argv[rest]);
    if (cfg->print_version) {
        fprintf(out, "ringd Version: %s\netcd API Version: %s\n", RINGD_VERSION,
                RINGD_ETCD_API_VERSION);
        return CONFIG_EXIT_OK;
    }
    env_apply(&st, envp);
    rc = env_verify(&st, envp);
    rc = rc != 0 ? rc : env_report(&st);
    return rc != 0 ? rc : finish(&st);
}

static void url_texts(const struct config_urls *urls, const char **texts)
{
    for (uint32_t i = 0; i < urls->count; i++)
        texts[i] = urls->items[i].text;
}

/* The Go duration etcd logs for the retention: in revision mode it is the revision count read
 * as nanoseconds (1000 revisions print as "1µs"), which this mirrors. */
static int64_t retention_log_ns(const struct config *cfg)
{
    if (cfg->auto_compaction_mode == CONFIG_COMPACTION_REVISION)
        return cfg->auto_compaction_retention_revisions > INT64_MAX
                   ? INT64_MAX
                   : (int64_t)cfg->auto_compaction_retention_revisions;
    return log_ms_to_ns(cfg->auto_compaction_retention_ms);
}

void config_log(const struct config *cfg)
{
    ASSERT(cfg != NULL && cfg->heartbeat_interval_ms > 0);
    const char *lpu[CONFIG_URLS_MAX], *lcu[CONFIG_URLS_MAX], *apu[CONFIG_URLS_MAX];
    const char *acu[CONFIG_URLS_MAX], *all[] = {"*"};
    char member_dir[CONFIG_PATH_BYTES_MAX + 8];
    url_texts(&cfg->listen_peer_urls, lpu);
    url_texts(&cfg->listen_client_urls, lcu);
    url_texts(&cfg->initial_advertise_peer_urls, apu);
    url_texts(&cfg->advertise_client_urls, acu);
    snprintf(member_dir, sizeof member_dir, "%s/member", cfg->data_dir);
    if (cfg->data_dir_defaulted)
        log_warn("'data-dir' was empty; using default", LOG_STR("data-dir", cfg->data_dir));
    /* etcd logs the election timeout as whole heartbeats, and the quota in effect. */
    uint64_t election_ms =
        cfg->election_timeout_ms / cfg->heartbeat_interval_ms * cfg->heartbeat_interval_ms;
    int64_t quota = cfg->quota_backend_bytes == 0 ? CONFIG_QUOTA_BACKEND_BYTES_DEFAULT
                                                  : cfg->quota_backend_bytes;
    log_info(
        "starting ringd server", LOG_STR("ringd-version", RINGD_VERSION),
        LOG_STR("etcd-api-version", RINGD_ETCD_API_VERSION), LOG_U64("shards", cfg->shards),
        LOG_U64("max-cpu-available", (uint64_t)sysconf(_SC_NPROCESSORS_ONLN)),
        LOG_STR("name", cfg->name), LOG_STR("data-dir", cfg->data_dir),
        LOG_STR("wal-dir", cfg->wal_dir), LOG_STR("wal-dir-dedicated", cfg->wal_dir),
        LOG_STR("member-dir", member_dir), LOG_BOOL("force-new-cluster", cfg->force_new_cluster),
        LOG_DURATION_MS("heartbeat-interval", (int64_t)cfg->heartbeat_interval_ms),
        LOG_DURATION_MS("election-timeout", (int64_t)election_ms),
        LOG_BOOL("initial-election-tick-advance", cfg->initial_election_tick_advance),
        LOG_U64("snapshot-count", cfg->snapshot_count), LOG_U64("max-wals", cfg->max_wals),
        LOG_U64("max-snapshots", cfg->max_snapshots),
        LOG_STRS("initial-advertise-peer-urls", apu, cfg->initial_advertise_peer_urls.count),
        LOG_STRS("listen-peer-urls", lpu, cfg->listen_peer_urls.count),
        LOG_STRS("advertise-client-urls", acu, cfg->advertise_client_urls.count),
        LOG_STRS("listen-client-urls", lcu, cfg->listen_client_urls.count),
        LOG_STRS("listen-metrics-urls", all, 0), LOG_STRS("cors", all, 1),
        LOG_STRS("host-whitelist", all, 1), LOG_STR("initial-cluster", cfg->initial_cluster),
        LOG_STR("initial-cluster-state",
                cfg->initial_cluster_state == CONFIG_CLUSTER_STATE_NEW ? "new" : "existing"),
        LOG_STR("initial-cluster-token", cfg->initial_cluster_token),
        LOG_I64("quota-backend-bytes", quota), LOG_U64("max-request-bytes", cfg->max_request_bytes),
        LOG_U64("max-concurrent-streams", cfg->max_concurrent_streams),
        LOG_BOOL("pre-vote", cfg->pre_vote), LOG_BOOL("initial-corrupt-check", false),
        LOG_STR("corrupt-check-time-interval", "0s"),
        LOG_STR("auto-compaction-mode", cfg->auto_compaction_mode_text),
        LOG_DURATION_NS("auto-compaction-retention", retention_log_ns(cfg)),
        LOG_DURATION_NS("auto-compaction-interval", retention_log_ns(cfg)),
        LOG_STR("discovery-url", ""), LOG_STR("discovery-proxy", ""));
}
