/* ringd-bench's command line: the mode (one run, compare, plot), the workload and every flag,
 * parsed from one declarative table in the spirit of etcd's benchmark tool (--endpoints,
 * --conns, --clients, --total, --rate, --key-size, ...). Flags take "--name value" or
 * "--name=value" and may come before or after the workload word; a flag that does not apply to
 * the chosen mode or workload is an error, as are unknown flags and values out of range.
 *
 * Ownership: the string fields point into argv, which must outlive the config; endpoints and
 * labels are copied. Thread: any; no global state. */
#ifndef RINGD_BENCH_FLAGS_H
#define RINGD_BENCH_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ringd_limits.h"

enum rbench_mode {
    RBENCH_MODE_RUN,     /* ringd-bench WORKLOAD ...: one run against --endpoints */
    RBENCH_MODE_COMPARE, /* ringd-bench compare --a EP --b EP WORKLOAD ... */
    RBENCH_MODE_PLOT,    /* ringd-bench plot --out FILE.svg [NAME=]FILE.csv ... */
    RBENCH_MODE_HELP,    /* help, --help, -h */
};

enum rbench_workload {
    RBENCH_WL_PUT,
    RBENCH_WL_RANGE,
    RBENCH_WL_TXN_PUT,
    RBENCH_WL_TXN_MIXED,
    RBENCH_WL_DELETE,
    RBENCH_WL_WATCH,
    RBENCH_WL_WATCH_GET,
    RBENCH_WL_LEASE_KEEPALIVE,
    RBENCH_WL_FDATASYNC, /* no server: the disk's write + fdatasync, the floor under a put */
    RBENCH_WL_COUNT,
};

struct rbench_config {
    enum rbench_mode mode;
    enum rbench_workload workload;

    /* Where: RUN mode uses the endpoints, COMPARE mode a and b. */
    char endpoints[RBENCH_ENDPOINTS_MAX][RBENCH_ENDPOINT_BYTES_MAX];
    uint32_t endpoints_count;
    bool target_leader; /* use only the endpoint whose member is the leader */
    uint32_t conns;     /* gRPC connections, spread over the endpoints */
    uint32_t clients;   /* operations in flight at once (each client one at a time) */

    /* How much: the run ends after total operations or duration, whichever comes first. */
    uint64_t total;       /* operations (watch: puts); 0 with a duration: no count limit */
    uint64_t duration_ns; /* 0: none */
    uint64_t rate;        /* open loop: operations per second; 0: closed loop */
    uint64_t timeout_ns;  /* per request (grpc-timeout); 0: none */
    uint64_t dial_timeout_ns;

    /* What: keys are key_size bytes, the decimal key number zero-padded on the left. */
    uint32_t key_size;
    uint32_t val_size;
    uint64_t key_space_size;
    bool sequential_keys; /* operation i uses key i % key_space_size; else a random one */
    uint64_t seed;
    bool serializable;   /* --consistency s */
    uint32_t range_keys; /* keys one range reads */
    uint32_t txn_ops;    /* puts in one txn-put txn */

    /* watch: watchers over streams, each watching watch_range_keys keys of watched_key_total,
     * while a writer puts at put_rate. watch-get: watchers catching up on `events` old events. */
    uint32_t watchers;
    uint32_t streams;
    uint64_t watched_key_total;
    uint32_t watch_range_keys;
    uint64_t put_rate; /* 0: closed loop */
    uint64_t drain_ns; /* how long to wait for the last events after the last put */
    uint32_t events;
    uint64_t lease_ttl_s;

    /* fdatasync: the directory its file goes in, on the disk to measure ("." by default). */
    const char *dir;

    /* Output. */
    bool json;             /* one JSON line per run on stdout instead of the text report */
    bool no_progress;      /* no progress bar even on a terminal */
    const char *csv_path;  /* histogram as CSV; NULL: none */
    const char *plot_path; /* percentile curve as SVG; NULL: none */
    char label[RBENCH_LABEL_BYTES_MAX];

    /* compare */
    char a[RBENCH_ENDPOINT_BYTES_MAX];
    char b[RBENCH_ENDPOINT_BYTES_MAX];
    char a_name[RBENCH_LABEL_BYTES_MAX];
    char b_name[RBENCH_LABEL_BYTES_MAX];
    uint32_t rounds;

    /* plot */
    const char *out_path;
    const char *title;
    const char *inputs[RBENCH_PLOT_SERIES_MAX]; /* "[NAME=]FILE.csv" */
    uint32_t inputs_count;
};

/* Fills config from argv[1..argc). Returns 0, or -EINVAL with a one-line reason in err (which
 * names the flag and the value). */
int rbench_flags_parse(int argc, char *const argv[], struct rbench_config *config, char *err,
                       size_t err_size);

/* Parses a Go-style duration ("1s", "1.5ms", "1m30s", "250us", "0"). Returns 0 or -EINVAL. */
int rbench_parse_duration(const char *text, uint64_t *ns);

/* A workload's command word ("txn-put"), and back (-1 when unknown). */
const char *rbench_workload_name(enum rbench_workload workload);
int rbench_workload_parse(const char *word);

/* Writes the usage text, every flag with its default and what it applies to. */
void rbench_flags_usage(FILE *out);

#endif
