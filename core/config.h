/* etcd's command-line flags and ETCD_* environment variables, parsed the way etcd parses them
 * (Go's flag package) into one plain struct: the server starts from struct config only.
 *
 * Every etcd 3.4/3.5 server flag is in one declarative table (config_flags). Flags for features
 * ringd has are parsed and stored; flags for features it does not have yet are parsed and
 * rejected only when set to a value other than their default; flags that tune etcd's bbolt
 * backend are accepted with a warning, as they mean nothing here. No allocation: every value
 * lives in a fixed buffer sized by ringd_limits.h, and parsing keeps no state between calls.
 * Messages go to the FILEs given; warnings and the variables used go to the log (log.h). */
#ifndef RINGD_CONFIG_H
#define RINGD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "ringd_limits.h"

/* config_parse's return when it printed --help or --version: the process exits with 0. */
#define CONFIG_EXIT_OK 1

/* What etcd's --quota-backend-bytes 0 stands for: 2 GiB. */
#define CONFIG_QUOTA_BACKEND_BYTES_DEFAULT (2LL * 1024 * 1024 * 1024)

enum config_url_scheme {
    CONFIG_URL_HTTP,
    CONFIG_URL_HTTPS,
    CONFIG_URL_UNIX,
    CONFIG_URL_UNIXS,
};

/* One URL of a URL-list flag, validated as etcd does: scheme http, https, unix or unixs, a
 * "host:port" address, no path. For unix and unixs, etcd listens on a socket file named by the
 * whole "host:port" text (unix://localhost:2379 is the file "localhost:2379"): socket_path. */
struct config_url {
    enum config_url_scheme scheme;
    uint16_t port;                          /* 0 when the URL gives an empty port */
    char host[CONFIG_URL_BYTES_MAX];        /* IPv6 without brackets; may be empty */
    char socket_path[CONFIG_URL_BYTES_MAX]; /* unix and unixs only, else empty */
    char text[CONFIG_URL_BYTES_MAX];        /* the URL as given, scheme in lower case */
};

/* A URL list, sorted by text as etcd sorts it. */
struct config_urls {
    uint32_t count;
    struct config_url items[CONFIG_URLS_MAX];
};

enum config_cluster_state {
    CONFIG_CLUSTER_STATE_NEW,
    CONFIG_CLUSTER_STATE_EXISTING,
};

enum config_compaction_mode {
    CONFIG_COMPACTION_PERIODIC, /* retention is a duration */
    CONFIG_COMPACTION_REVISION, /* retention is a number of revisions */
};

/* Everything the server reads from its flags. Filled by config_parse; read-only afterwards. */
struct config {
    char name[CONFIG_NAME_BYTES_MAX];
    char data_dir[CONFIG_PATH_BYTES_MAX]; /* "<name>.ringd" when not given */
    char wal_dir[CONFIG_PATH_BYTES_MAX];  /* empty: the WAL lives under data_dir */
    struct config_urls listen_peer_urls;
    struct config_urls listen_client_urls;
    struct config_urls initial_advertise_peer_urls;
    struct config_urls advertise_client_urls;
    char initial_cluster[CONFIG_STRING_BYTES_MAX]; /* "name=url,..." as given or derived */
    enum config_cluster_state initial_cluster_state;
    char initial_cluster_token[CONFIG_NAME_BYTES_MAX];
    uint64_t snapshot_count;
    uint64_t heartbeat_interval_ms;
    uint64_t election_timeout_ms;
    bool initial_election_tick_advance;
    bool strict_reconfig_check;
    bool pre_vote;
    bool force_new_cluster;      /* --force-new-cluster: a one-member cluster from this data */
    int64_t quota_backend_bytes; /* 0: CONFIG_QUOTA_BACKEND_BYTES_DEFAULT; < 0: no quota */
    uint64_t max_request_bytes;
    uint64_t max_txn_ops;
    uint32_t max_concurrent_streams;
    int64_t grpc_keepalive_min_time_ms;
    int64_t grpc_keepalive_interval_ms; /* 0 disables server pings */
    int64_t grpc_keepalive_timeout_ms;
    uint64_t max_snapshots; /* 0 is unlimited */
    uint64_t max_wals;      /* 0 is unlimited */
    char auto_compaction_mode_text[CONFIG_WORD_BYTES_MAX];
    char auto_compaction_retention[CONFIG_WORD_BYTES_MAX]; /* as given: "0", "1h", "1000" */
    enum config_compaction_mode auto_compaction_mode;
    /* From auto_compaction_retention as etcd reads it: an integer is hours (periodic) or
     * revisions (revision); otherwise a Go duration. 0 disables auto compaction. */
    int64_t auto_compaction_retention_ms;         /* periodic mode */
    uint64_t auto_compaction_retention_revisions; /* revision mode */
    char logger[CONFIG_WORD_BYTES_MAX];
    char log_outputs[CONFIG_NAME_BYTES_MAX];
    char log_level_text[CONFIG_WORD_BYTES_MAX];
    enum log_level log_level; /* debug when --debug is set (etcd 3.4) */
    bool debug;
    uint64_t bcrypt_cost; /* etcd's default (10) when outside bcrypt's 4..31 */
    uint64_t auth_token_ttl_s;
    bool enable_grpc_gateway;
    uint32_t shards; /* --ringd-shards: shard threads, 1..SHARDS_MAX */
    bool wal_force;  /* --ringd-wal-force: cut the WAL at a corrupt record */

    /* Parse bookkeeping, read by config_log and main. */
    bool print_version;
    bool data_dir_defaulted;
    int exit_status; /* after a negative config_parse: 2 for flag errors, 1 for bad values */
};

enum config_type {
    CONFIG_TYPE_STRING,   /* char[], any text that fits */
    CONFIG_TYPE_BOOL,     /* bool; given as --f or --f=true|false (Go's ParseBool words) */
    CONFIG_TYPE_UINT,     /* uint64_t or uint32_t; Go's uint: decimal, 0x, 0o, 0b, 0 and _ */
    CONFIG_TYPE_UINT32,   /* uint32_t with etcd's own parser and strconv error texts */
    CONFIG_TYPE_INT,      /* int64_t; Go's int */
    CONFIG_TYPE_DURATION, /* int64_t milliseconds from a Go duration ("5s", "1.5h", "100ms") */
    CONFIG_TYPE_ENUM,     /* an enum field; one of the words in choices */
    CONFIG_TYPE_URLS,     /* struct config_urls; comma-separated URLs */
    CONFIG_TYPE_STRINGS,  /* char[], a comma-separated list kept as given */
    CONFIG_TYPE_IGNORED,  /* a long-gone etcd flag: accepted, warned about, ignored */
};

enum config_support {
    CONFIG_SUPPORTED,   /* parsed and stored */
    CONFIG_UNSUPPORTED, /* parsed; a non-default value is rejected ("not supported yet") */
    CONFIG_NO_EFFECT,   /* a bbolt tuning knob: parsed; a non-default value is only warned about */
};

#define CONFIG_NO_FIELD SIZE_MAX

/* One flag. The environment variable is ETCD_<NAME> with dashes as underscores, except ringd's
 * own flags (ringd-*), whose variable is RINGD_<NAME>. */
struct config_flag {
    const char *name; /* without dashes: "listen-client-urls" */
    enum config_type type;
    enum config_support support;
    size_t offset; /* of the value in struct config, or CONFIG_NO_FIELD */
    size_t size;   /* of that value */
    /* Parsed like a command-line value when the flag is not given; NULL when computed. */
    const char *default_text;
    const char *help_default; /* what --help shows when not default_text, else NULL */
    const char *choices;      /* CONFIG_TYPE_ENUM: "new|existing" */
    /* CONFIG_TYPE_URLS: a value that leaves the list as it was ("" or "*" for --cors). */
    const char *url_keep;
    uint64_t min, max;   /* CONFIG_TYPE_UINT bounds, used when max > 0 */
    const char *section; /* --help heading; NULL hides the flag */
    const char *help;
};

extern const struct config_flag config_flags[];
extern const size_t config_flags_count;

/* Sets every default (online CPUs for shards); data_dir stays empty until config_parse. */
void config_init(struct config *cfg);

/* Parses argv[1..argc-1] then the environment envp (NULL-terminated "KEY=value" entries) into
 * cfg, which it initialises first. Returns 0 when the server should run, CONFIG_EXIT_OK after
 * printing --help (usage to err, flags to out) or --version (to out), or -RINGD_EINVAL_CONFIG
 * after printing the reason to err; cfg->exit_status then holds the exit status etcd uses for
 * that case (2 for command-line syntax and unsupported values, 1 for values that fail
 * verification). Warnings and the environment variables used are logged through log.h. */
int config_parse(struct config *cfg, int argc, char *const *argv, char *const *envp, FILE *out,
                 FILE *err);

/* Logs the start-up line ("starting ringd server") with etcd's field names and values. */
void config_log(const struct config *cfg);

/* Parses a comma-separated URL list as etcd does (spaces around each URL are trimmed; the list
 * is sorted). Returns 0, or -RINGD_EINVAL_CONFIG with etcd's error text in why. */
int config_urls_parse(struct config_urls *out, const char *text, char *why, size_t why_bytes);

/* Parses a Go duration ("1h30m", "-1.5s", "0"; units ns us µs ms s m h) into nanoseconds.
 * Returns 0, or -RINGD_EINVAL_CONFIG with Go's error text in why ("time: invalid duration
 * \"x\""). */
int config_duration_parse(const char *text, int64_t *ns, char *why, size_t why_bytes);

#endif
