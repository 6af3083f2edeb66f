/* The engine under every ringd-bench workload: one gRPC client (net/grpc_client, one io_uring
 * loop on this thread), --conns connections over the endpoints, and --clients slots, each of
 * which has at most one operation in flight. The engine decides when an operation starts
 * (closed loop: as soon as a slot is free; open loop: at the pacer's intended times, taking the
 * next free slot, late if none is free) and when the run ends; a workload only says how to
 * start one operation and what its answer means.
 *
 * A workload starts an operation in `issue` and reports its end with rbench_engine_complete
 * (from a done or message callback, or from `issue` itself for a local workload, fdatasync,
 * which needs no server: the engine then opens no connection and its slots have none, but still
 * paces, times, counts and draws the progress bar). Streams a workload opens itself (watchers)
 * report events with rbench_engine_record and failures with rbench_engine_error.
 *
 * Thread: the engine and everything it calls run on the thread that called rbench_run. */
#ifndef RINGD_BENCH_ENGINE_H
#define RINGD_BENCH_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "grpc_client.h"
#include "ringd_bench_flags.h"
#include "ringd_bench_keys.h"
#include "ringd_bench_pacer.h"
#include "ringd_bench_result.h"

struct rbench_engine;

/* One client: at most one operation in flight. */
struct rbench_slot {
    struct rbench_engine *engine;
    struct grpc_client_conn *conn;   /* NULL for a local workload */
    struct grpc_client_call *stream; /* lease-keepalive: the slot's keep-alive stream */
    uint64_t intended_ns;            /* of the operation in flight */
    uint64_t key;                    /* key number of the operation in flight (txn-mixed) */
    int64_t lease_id;                /* lease-keepalive */
    uint32_t index;
    bool busy;
    bool dead; /* its stream ended: it takes no more operations */
};

struct rbench_workload_ops {
    /* True for a workload that talks to no server (fdatasync): no endpoint, no connection. */
    bool local;
    /* After the connections are up, before the clock starts; may run the loop (through
     * rbench_engine_wait). Returns 0, or a negative error after rbench_engine_fail. */
    int (*setup)(struct rbench_engine *e);
    /* Starts operation op_index on slot (slot->intended_ns is set). Returns 0, after which the
     * operation ends through rbench_engine_complete exactly once, or a negative error from the
     * client (the engine then stops the run). */
    int (*issue)(struct rbench_engine *e, struct rbench_slot *slot, uint64_t op_index);
    /* NULL, or true once no further operation should start (watch-get: all events arrived). */
    bool (*stop)(struct rbench_engine *e);
    /* NULL, or false while the run must go on after its last operation ended (watch: events
     * still on their way). */
    bool (*drained)(struct rbench_engine *e, uint64_t now_ns);
    /* NULL, or ends the workload's streams; the engine then runs the loop until every call
     * has ended, and frees the workload's state with `destroy`. */
    void (*teardown)(struct rbench_engine *e);
    void (*destroy)(struct rbench_engine *e);
};

struct rbench_engine {
    const struct rbench_config *config;
    const struct rbench_workload_ops *ops;
    struct rbench_result *result;
    struct grpc_client *client;
    struct grpc_client_conn *conns[RBENCH_CONNS_MAX];
    uint32_t conns_count;
    struct rbench_slot *slots;
    uint32_t slots_count;
    uint32_t *free_slots; /* stack of free slot indexes */
    uint32_t free_count;
    struct rbench_keys keys;
    bool open_loop;
    struct rbench_pacer pacer;
    uint64_t start_ns;     /* the clock starts after setup */
    uint64_t issue_end_ns; /* no operation is intended at or after this (--duration) */
    uint64_t limit;        /* operations to start (--total); UINT64_MAX: none */
    uint64_t issued;
    uint64_t in_flight;
    uint64_t last_end_ns; /* the last completion or event */
    bool stopping;        /* no more operations start: a failure, or the workload said so */
    void *state;          /* the workload's */
    /* Progress bar (stderr, when it is a terminal). */
    bool progress;
    uint64_t progress_next_ns;
};

/* Monotonic time in nanoseconds. */
uint64_t rbench_now_ns(void);

/* Ends slot's operation: OK records its latency (now minus the intended send time), anything
 * else counts as an error by status. The slot takes the next operation unless it is dead. */
void rbench_engine_complete(struct rbench_engine *e, struct rbench_slot *slot,
                            enum grpc_status status, const char *message);

/* Frees slot for the next operation without recording anything (a watch writer's put, whose
 * latency is the events'). rbench_engine_complete does this itself. */
void rbench_engine_release(struct rbench_engine *e, struct rbench_slot *slot);

/* Records one latency sample measured by the workload (a watch event). */
void rbench_engine_record(struct rbench_engine *e, uint64_t latency_ns, uint64_t now_ns);

/* Counts one failure that is no slot's operation (a watch stream that broke). */
void rbench_engine_error(struct rbench_engine *e, enum grpc_status status, const char *message);

/* Marks the run as not carried out: setup_status and setup_error say why (printf format).
 * Returns -EPROTO for the caller to pass up. */
int rbench_engine_fail(struct rbench_engine *e, enum grpc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs the loop until until(arg) or the config's dial timeout. Returns 0, -ETIMEDOUT or a
 * ring error. For setup and teardown only (not inside callbacks). */
int rbench_engine_wait(struct rbench_engine *e, void *arg, bool (*until)(void *arg));

/* The request deadline for grpc_client_request.timeout_ms. */
uint32_t rbench_engine_timeout_ms(const struct rbench_engine *e);

/* The workloads, by config->workload (ringd_bench_kv.c, _watch.c, _lease.c, _fdatasync.c). */
extern const struct rbench_workload_ops rbench_put_ops, rbench_range_ops, rbench_txn_put_ops,
    rbench_txn_mixed_ops, rbench_delete_ops, rbench_watch_ops, rbench_watch_get_ops,
    rbench_lease_keepalive_ops, rbench_fdatasync_ops;

#endif
