/* One ringd-bench run: connects (unless the workload is local: fdatasync), sets the workload
 * up, drives it to --total or --duration, and fills a result. The same call serves a single run and
 * each side of a compare round.
 *
 * Thread: runs everything on the calling thread and returns when the run is over. */
#ifndef RINGD_BENCH_RUN_H
#define RINGD_BENCH_RUN_H

#include <stdint.h>

#include "ringd_bench_flags.h"
#include "ringd_bench_result.h"

/* Runs config's workload against endpoints[0..count) (with --target-leader, only the leader
 * among them), labelled label, into result (initialised by rbench_result_init; its histogram is
 * reset first). Returns 0 when the run was carried out (result may still count errors), or a
 * negative error with result->fatal and setup_error set: nothing to connect to, setup refused
 * (UNIMPLEMENTED), or the ring failed. */
int rbench_run(const struct rbench_config *config,
               const char (*endpoints)[RBENCH_ENDPOINT_BYTES_MAX], uint32_t count,
               const char *label, struct rbench_result *result);

#endif
