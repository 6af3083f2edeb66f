/* ringd-bench: measures latency under load of an etcd v3 server, ringd or etcd alike, through
 * our own gRPC client. `ringd-bench --help` lists the modes, workloads and flags;
 * bench/side-by-side runs the standard suite against a fresh etcd and a fresh ringd. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_bench_compare.h"
#include "ringd_bench_flags.h"
#include "ringd_bench_plot.h"
#include "ringd_bench_report.h"
#include "ringd_bench_run.h"

static int run_single(const struct rbench_config *c)
{
    struct rbench_result r;
    if (rbench_result_init(&r) < 0) {
        fprintf(stderr, "ringd-bench: out of memory\n");
        return 1;
    }
    const char *target = c->workload == RBENCH_WL_FDATASYNC ? c->dir : c->endpoints[0];
    const char *label = c->label[0] != '\0' ? c->label : target;
    (void)rbench_run(c, (const char(*)[RBENCH_ENDPOINT_BYTES_MAX])c->endpoints, c->endpoints_count,
                     label, &r);
    if (c->json)
        rbench_report_json(stdout, c, &r, 0, 1);
    else
        rbench_report_text(stdout, c, &r);
    int status = r.fatal != 0 ? 1 : 0;
    int rc = 0;
    if (status == 0 && c->csv_path != NULL &&
        (rc = rbench_csv_write(c->csv_path, label, r.hist)) < 0)
        fprintf(stderr, "ringd-bench: %s: %s\n", c->csv_path, strerror(-rc));
    if (status == 0 && c->plot_path != NULL) {
        struct rbench_plot_series s = {label, r.hist};
        char title[RBENCH_ENDPOINT_BYTES_MAX + 128];
        if (c->workload == RBENCH_WL_FDATASYNC)
            snprintf(title, sizeof(title), "fdatasync in %s, %u-byte writes", label, c->val_size);
        else
            snprintf(title, sizeof(title), "%s against %s, %u clients, %u conns",
                     rbench_workload_name(c->workload), label, c->clients, c->conns);
        if ((rc = rbench_plot_file(c->plot_path, title, &s, 1)) < 0)
            fprintf(stderr, "ringd-bench: %s: %s\n", c->plot_path, strerror(-rc));
    }
    rbench_result_free(&r);
    return status != 0 ? status : rc < 0 ? 1 : 0;
}

/* "NAME=FILE.csv" or "FILE.csv" (named by its "# label=" line, else by the file name). */
static int plot_input(const char *input, struct rbench_hist *h, char *label, size_t label_size)
{
    const char *eq = strchr(input, '=');
    const char *path = eq != NULL ? eq + 1 : input;
    char err[RBENCH_ERROR_BYTES_MAX];
    int rc = rbench_csv_read(path, h, label, label_size, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "ringd-bench: %s\n", err);
        return rc;
    }
    if (eq != NULL)
        snprintf(label, label_size, "%.*s", (int)(eq - input), input);
    else if (label[0] == '\0')
        snprintf(label, label_size, "%s", path);
    return 0;
}

static int run_plot(const struct rbench_config *c)
{
    struct rbench_hist *hists = calloc(c->inputs_count, sizeof(*hists));
    char(*labels)[RBENCH_LABEL_BYTES_MAX] = calloc(c->inputs_count, sizeof(*labels));
    struct rbench_plot_series series[RBENCH_PLOT_SERIES_MAX];
    int rc = hists == NULL || labels == NULL ? -ENOMEM : 0;
    for (uint32_t i = 0; rc == 0 && i < c->inputs_count; i++) {
        rbench_hist_reset(&hists[i]);
        rc = plot_input(c->inputs[i], &hists[i], labels[i], sizeof(labels[i]));
        series[i] = (struct rbench_plot_series){labels[i], &hists[i]};
    }
    if (rc == 0 && (rc = rbench_plot_file(c->out_path, c->title, series, c->inputs_count)) < 0)
        fprintf(stderr, "ringd-bench: %s: %s\n", c->out_path, strerror(-rc));
    free(hists);
    free(labels);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    static struct rbench_config config;
    char err[RBENCH_ERROR_BYTES_MAX];
    if (rbench_flags_parse(argc, argv, &config, err, sizeof(err)) < 0) {
        fprintf(stderr, "ringd-bench: %s\n", err);
        return 2;
    }
    switch (config.mode) {
    case RBENCH_MODE_HELP:
        rbench_flags_usage(stdout);
        return 0;
    case RBENCH_MODE_RUN:
        return run_single(&config);
    case RBENCH_MODE_PLOT:
        return run_plot(&config);
    case RBENCH_MODE_COMPARE: {
        int rc = rbench_compare(&config, stdout);
        if (rc < 0)
            fprintf(stderr, "ringd-bench: %s\n", strerror(-rc));
        return rc == 0 ? 0 : 1;
    }
    }
    return 2;
}
