/* ringd-bench compare: the same workload against two endpoints (--a, --b), --rounds rounds,
 * each round running both with a fresh client, alternating which goes first so that drift on
 * the machine (other load, a growing data set) falls on both alike. Prints a side-by-side
 * table of the rounds merged (throughput, percentiles, errors, ratios a / b, each round's
 * ops/s), or with --json one line per run and one per side merged; --plot draws both merged
 * distributions on one chart and --csv writes one histogram file per side.
 *
 * Thread: runs on the calling thread. */
#ifndef RINGD_BENCH_COMPARE_H
#define RINGD_BENCH_COMPARE_H

#include <stdio.h>

#include "ringd_bench_flags.h"

/* Returns 0 when both sides ran, 1 when a side could not be run (its column says why), or a
 * negated errno for a local failure (memory, files). */
int rbench_compare(const struct rbench_config *config, FILE *out);

/* "x.csv" with name "etcd" -> "x.etcd.csv" (no extension: "x.etcd"). Returns 0 or -ENAMETOOLONG. */
int rbench_compare_path(const char *path, const char *name, char *out, size_t size);

#endif
