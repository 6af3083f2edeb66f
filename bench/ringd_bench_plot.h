/* ringd-bench's chart: the latency distribution of one or several runs as percentile curves on
 * one SVG (written here, no plotting tool needed). The x axis is the percentile on the scale
 * HdrHistogram uses, log10(1 / (1 - p)), so 90%, 99%, 99.9% ... are evenly spaced and the tail
 * gets the room it deserves; the y axis is latency on a log scale. Each curve stops where its
 * run has no more samples to say anything (at 1 - 1/count).
 *
 * Thread: any. */
#ifndef RINGD_BENCH_PLOT_H
#define RINGD_BENCH_PLOT_H

#include <stdint.h>
#include <stdio.h>

#include "ringd_bench_hist.h"

struct rbench_plot_series {
    const char *label;
    const struct rbench_hist *hist;
};

/* Writes the chart of series[0..count) (count <= RBENCH_PLOT_SERIES_MAX) to out. */
void rbench_plot_svg(FILE *out, const char *title, const struct rbench_plot_series *series,
                     uint32_t count);

/* The same into the file at path. Returns 0 or a negated errno. */
int rbench_plot_file(const char *path, const char *title, const struct rbench_plot_series *series,
                     uint32_t count);

#endif
