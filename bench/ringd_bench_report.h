/* How ringd-bench reports a run: a few lines of text for people, one JSON line for scripts
 * (--json), and the latency histogram as CSV (--csv), which `ringd-bench plot` reads back.
 *
 * JSON line (one object, no newline inside, keys always present):
 *   {"workload","label","endpoint","round","rounds","conns","clients","rate","total","duration_s",
 *    "key_size","val_size","key_space_size","sequential_keys","consistency",
 *    "ops","elapsed_s","ops_per_s",
 *    "latency_us":{"min","mean","p50","p90","p99","p99_9","max"},
 *    "errors","errors_by_status":{"STATUS":n,...},"first_error",
 *    "writes","cas_conflicts","events_expected","events_delivered",
 *    "fatal","setup_status","setup_error"}
 * "round" is the compare round (1-based), 0 for a single run and for a compare side's rounds
 * merged; "rounds" is how many runs the line covers (1, or the rounds merged). For fdatasync,
 * which has no server, "endpoint" is the directory measured and "val_size" the bytes of each
 * write.
 *
 * CSV: comment lines start with '#' ("# label=NAME" names the run), then the header
 * "latency_us,count,cumulative_fraction" and one row per non-empty bucket, in order.
 *
 * Thread: any; each call writes to the stream it is given. */
#ifndef RINGD_BENCH_REPORT_H
#define RINGD_BENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ringd_bench_flags.h"
#include "ringd_bench_hist.h"
#include "ringd_bench_result.h"

/* Human-readable summary of one run. */
void rbench_report_text(FILE *out, const struct rbench_config *config,
                        const struct rbench_result *result);

/* The JSON line (with its newline). round and rounds: see above. */
void rbench_report_json(FILE *out, const struct rbench_config *config,
                        const struct rbench_result *result, uint32_t round, uint32_t rounds);

/* Writes hist as CSV to path. Returns 0 or a negated errno. */
int rbench_csv_write(const char *path, const char *label, const struct rbench_hist *hist);

/* Reads a CSV written by rbench_csv_write into hist (added to what it holds) and its label
 * (label_size bytes, "" when none). Returns 0, a negated errno, or -EINVAL for a malformed
 * file (err says where). */
int rbench_csv_read(const char *path, struct rbench_hist *hist, char *label, size_t label_size,
                    char *err, size_t err_size);

/* "1.23 ms", "850 µs", "2.1 s": a latency in microseconds, three significant digits. */
void rbench_format_us(double us, char *out, size_t size);

#endif
