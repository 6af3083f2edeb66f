/* What one ringd-bench run measured: the latency histogram, counts, errors by gRPC status, and
 * the figures of the workloads that have more than latency (watch events, compare-and-swap
 * outcomes). Filled by rbench_run, read by the report, JSON, CSV, plot and compare code.
 *
 * Ownership: rbench_result_init allocates the histogram, rbench_result_free frees it.
 * Thread: one thread. */
#ifndef RINGD_BENCH_RESULT_H
#define RINGD_BENCH_RESULT_H

#include <stdint.h>

#include "grpc_call.h"
#include "ringd_bench_flags.h"
#include "ringd_bench_hist.h"
#include "ringd_limits.h"

#define RBENCH_STATUS_COUNT (GRPC_STATUS_UNAUTHENTICATED + 1)

struct rbench_result {
    enum rbench_workload workload;
    char label[RBENCH_LABEL_BYTES_MAX];
    char endpoint[RBENCH_ENDPOINT_BYTES_MAX]; /* the first endpoint used */

    /* Latency of every successful request (watch: every delivered event, put to event), from
     * the intended send time under --rate, from the send otherwise. ops is hist->count. */
    struct rbench_hist *hist;
    uint64_t ops;
    uint64_t elapsed_ns; /* from the first intended send to the last completion */
    double ops_per_s;

    /* Failed requests, by the gRPC status they ended with (never OK). */
    uint64_t errors;
    uint64_t errors_by_status[RBENCH_STATUS_COUNT];
    char first_error[RBENCH_ERROR_BYTES_MAX]; /* "UNAVAILABLE: ..." of the first one */

    /* watch: puts acknowledged; txn-mixed: swaps that won. */
    uint64_t writes;
    uint64_t cas_conflicts; /* txn-mixed: swaps that lost to another client */
    /* watch and watch-get: events the watchers should get and did get. */
    uint64_t events_expected;
    uint64_t events_delivered;

    /* The run could not be carried out (nothing to connect to, setup refused): a negative
     * error, with why in setup_error; setup_status is the gRPC status when one said it
     * (UNIMPLEMENTED from a server without the service), OK otherwise. */
    int fatal;
    enum grpc_status setup_status;
    char setup_error[RBENCH_ERROR_BYTES_MAX];
};

/* Returns 0 or -ENOMEM. */
int rbench_result_init(struct rbench_result *r);
void rbench_result_free(struct rbench_result *r);

/* gRPC status names as grpc-go prints them ("UNIMPLEMENTED"). */
const char *rbench_status_name(enum grpc_status status);

#endif
