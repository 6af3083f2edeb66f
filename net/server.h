/* The ringd server process: assembles the actors (one shard per core, the raft actor that owns
 * the log, and the apply actor that owns the store's writes), runs them, and shuts them down on
 * SIGINT or SIGTERM.
 *
 * Thread: the main thread, which keeps the signals for itself. */
#ifndef RINGD_SERVER_H
#define RINGD_SERVER_H

#include <stdint.h>

#include "grpc_server.h"
#include "listen.h"
#include "wal.h"
#include "ringd_limits.h"

struct cluster_view;
struct config;

struct server_options {
    struct cluster_view *view;      /* the ids and progress: shards read it, raft and apply write */
    const struct config *config;    /* every flag, for what the server wires (peer URLs, ...) */
    const char *wal_dir;            /* exists or can be created (its parent exists) */
    const char *snap_dir;           /* exists */
    uint64_t snapshot_count;        /* --snapshot-count */
    uint64_t max_snapshots;         /* --max-snapshots (0: keep all) */
    uint32_t max_wals;              /* --max-wals (0: keep all) */
    struct wal_options wal_options; /* defaults but for the tests' fault hook */
    uint64_t heartbeat_ms;          /* --heartbeat-interval */
    uint64_t election_ms;           /* --election-timeout */
    bool election_tick_advance;     /* --initial-election-tick-advance */
    uint16_t shards;
    int64_t quota_backend_bytes; /* --quota-backend-bytes as etcd reads it: 0 default, < 0 none */
    uint32_t max_txn_ops;        /* --max-txn-ops */
    struct grpc_server_limits grpc_limits;
    uint32_t client_count;
    struct listen_spec client[LISTENERS_MAX];
    const char *client_urls[LISTENERS_MAX]; /* as the user wrote them, for logs */
};

/* Runs until a signal or a fatal start-up error. Returns the process exit code: 0 after a
 * clean shutdown, 1 when the server could not start, SERVER_RESTART (below). A second signal during
 * shutdown exits the process at once with 128 + the signal number. */
int server_run(const struct server_options *opt);

/* server_run's exit code when the member installed a snapshot from its leader: run it again
 * (it starts from that snapshot). */
#define SERVER_RESTART 75

#endif
