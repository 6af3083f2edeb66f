/* ringd-bench compare (see ringd_bench_compare.h). */
#include "ringd_bench_compare.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"
#include "ringd_bench_plot.h"
#include "ringd_bench_report.h"
#include "ringd_bench_run.h"

struct side {
    const char *name;
    char endpoint[RBENCH_ENDPOINTS_MAX][RBENCH_ENDPOINT_BYTES_MAX];
    uint32_t endpoints;         /* a cluster's members: the clients spread over them */
    struct rbench_result run;   /* the round being run */
    struct rbench_result total; /* every round merged */
    double round_ops_per_s[RBENCH_COMPARE_ROUNDS_MAX];
    uint32_t rounds_run;
};

static int side_init(struct side *s, const char *name, const char *endpoint)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    /* "a,b,c": the flag's bound keeps every part within an endpoint's bytes. */
    for (const char *p = endpoint; *p != '\0' && s->endpoints < RBENCH_ENDPOINTS_MAX;) {
        size_t len = strcspn(p, ",");
        snprintf(s->endpoint[s->endpoints++], RBENCH_ENDPOINT_BYTES_MAX, "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    int rc = rbench_result_init(&s->run);
    if (rc == 0)
        rc = rbench_result_init(&s->total);
    if (rc == 0) {
        snprintf(s->total.label, sizeof(s->total.label), "%s", name);
        snprintf(s->total.endpoint, sizeof(s->total.endpoint), "%s", endpoint);
    }
    return rc;
}

static void side_free(struct side *s)
{
    rbench_result_free(&s->run);
    rbench_result_free(&s->total);
}

/* Adds the round just run to the side's total. */
static void side_merge(struct side *s)
{
    struct rbench_result *t = &s->total, *r = &s->run;
    t->workload = r->workload;
    if (r->fatal != 0) {
        t->fatal = r->fatal;
        t->setup_status = r->setup_status;
        snprintf(t->setup_error, sizeof(t->setup_error), "%s", r->setup_error);
        return;
    }
    rbench_hist_merge(t->hist, r->hist);
    t->ops += r->ops;
    t->elapsed_ns += r->elapsed_ns;
    t->ops_per_s = t->elapsed_ns > 0 ? (double)t->ops * 1e9 / (double)t->elapsed_ns : 0;
    t->errors += r->errors;
    for (int i = 0; i < RBENCH_STATUS_COUNT; i++)
        t->errors_by_status[i] += r->errors_by_status[i];
    if (t->first_error[0] == '\0')
        snprintf(t->first_error, sizeof(t->first_error), "%s", r->first_error);
    t->writes += r->writes;
    t->cas_conflicts += r->cas_conflicts;
    t->events_expected += r->events_expected;
    t->events_delivered += r->events_delivered;
    s->round_ops_per_s[s->rounds_run++] = r->ops_per_s;
}

static void side_run(const struct rbench_config *c, struct side *s, uint32_t round, FILE *out)
{
    if (s->total.fatal != 0)
        return; /* it could not run before; it will not now */
    (void)rbench_run(c, (const char(*)[RBENCH_ENDPOINT_BYTES_MAX])s->endpoint, s->endpoints,
                     s->name, &s->run);
    if (c->json)
        rbench_report_json(out, c, &s->run, round, 1);
    else if (!c->no_progress)
        fprintf(stderr, "round %u %s: %.0f ops/s, p99 %llu µs%s%s\n", round, s->name,
                s->run.ops_per_s, (unsigned long long)rbench_hist_percentile(s->run.hist, 99),
                s->run.fatal != 0 ? ", not run: " : "",
                s->run.fatal != 0 ? s->run.setup_error : "");
    side_merge(s);
}

/* ---- The table ----------------------------------------------------------------------------- */

static void cell_us(FILE *out, const struct side *s, uint64_t us)
{
    char v[32];
    rbench_format_us((double)us, v, sizeof(v));
    fprintf(out, " %s |", s->total.fatal != 0 ? "—" : v);
}

static void cell_ratio(FILE *out, const struct side *a, const struct side *b, double va, double vb)
{
    if (a->total.fatal != 0 || b->total.fatal != 0 || vb <= 0)
        fprintf(out, " |\n");
    else
        fprintf(out, " %.2f |\n", va / vb);
}

static void row_latency(FILE *out, const char *name, const struct side *a, const struct side *b,
                        double percent)
{
    uint64_t va =
        percent < 0 ? a->total.hist->max_us : rbench_hist_percentile(a->total.hist, percent);
    uint64_t vb =
        percent < 0 ? b->total.hist->max_us : rbench_hist_percentile(b->total.hist, percent);
    fprintf(out, "| %s |", name);
    cell_us(out, a, va);
    cell_us(out, b, vb);
    cell_ratio(out, a, b, (double)va, (double)vb);
}

static void cell_ops(FILE *out, const struct side *s)
{
    if (s->total.fatal != 0)
        fprintf(out, " not run: %s |", s->total.setup_error);
    else
        fprintf(out, " %.0f |", s->total.ops_per_s);
}

static void cell_rounds(FILE *out, const struct side *s)
{
    for (uint32_t i = 0; i < s->rounds_run; i++)
        fprintf(out, "%s%.0f", i == 0 ? " " : " / ", s->round_ops_per_s[i]);
    fprintf(out, " |");
}

static void print_table(FILE *out, const struct rbench_config *c, const struct side *a,
                        const struct side *b)
{
    fprintf(out, "\n%s, %u rounds alternating; %u conns, %u clients\n\n",
            rbench_workload_name(c->workload), c->rounds, c->conns, c->clients);
    fprintf(out, "| | %s | %s | %s / %s |\n|---|---:|---:|---:|\n", a->name, b->name, a->name,
            b->name);
    fprintf(out, "| ops/s |");
    cell_ops(out, a);
    cell_ops(out, b);
    cell_ratio(out, a, b, a->total.ops_per_s, b->total.ops_per_s);
    static const struct {
        const char *name;
        double percent;
    } rows[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}, {"max", -1}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        row_latency(out, rows[i].name, a, b, rows[i].percent);
    fprintf(out, "| errors | %llu | %llu | |\n", (unsigned long long)a->total.errors,
            (unsigned long long)b->total.errors);
    if (c->workload == RBENCH_WL_WATCH || c->workload == RBENCH_WL_WATCH_GET)
        fprintf(out, "| events delivered / expected | %llu / %llu | %llu / %llu | |\n",
                (unsigned long long)a->total.events_delivered,
                (unsigned long long)a->total.events_expected,
                (unsigned long long)b->total.events_delivered,
                (unsigned long long)b->total.events_expected);
    fprintf(out, "| ops/s by round |");
    cell_rounds(out, a);
    cell_rounds(out, b);
    fprintf(out, " |\n");
}

/* ---- Files --------------------------------------------------------------------------------- */

int rbench_compare_path(const char *path, const char *name, char *out, size_t size)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot == NULL || (slash != NULL && dot < slash))
        dot = path + strlen(path);
    int n = snprintf(out, size, "%.*s.%s%s", (int)(dot - path), path, name, dot);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int write_files(const struct rbench_config *c, const struct side *sides)
{
    for (int i = 0; c->csv_path != NULL && i < 2; i++) {
        char path[RBENCH_PATH_BYTES_MAX];
        int rc = rbench_compare_path(c->csv_path, sides[i].name, path, sizeof(path));
        if (rc == 0 && sides[i].total.fatal == 0)
            rc = rbench_csv_write(path, sides[i].name, sides[i].total.hist);
        if (rc < 0)
            return rc;
    }
    if (c->plot_path == NULL)
        return 0;
    struct rbench_plot_series series[2];
    uint32_t n = 0;
    for (int i = 0; i < 2; i++)
        if (sides[i].total.fatal == 0)
            series[n++] = (struct rbench_plot_series){sides[i].name, sides[i].total.hist};
    char title[2 * RBENCH_LABEL_BYTES_MAX + 128];
    snprintf(title, sizeof(title), "%s: %s vs %s, %u clients, %u conns",
             rbench_workload_name(c->workload), sides[0].name, sides[1].name, c->clients, c->conns);
    return rbench_plot_file(c->plot_path, title, series, n);
}

int rbench_compare(const struct rbench_config *c, FILE *out)
{
    ASSERT(c->mode == RBENCH_MODE_COMPARE && c->rounds >= 1);
    struct side *sides = calloc(2, sizeof(*sides));
    if (sides == NULL)
        return -ENOMEM;
    int rc = side_init(&sides[0], c->a_name, c->a);
    if (rc == 0)
        rc = side_init(&sides[1], c->b_name, c->b);
    for (uint32_t round = 1; rc == 0 && round <= c->rounds; round++) {
        uint32_t first = (round - 1) % 2; /* a first in odd rounds, b first in even ones */
        side_run(c, &sides[first], round, out);
        side_run(c, &sides[1 - first], round, out);
    }
    if (rc == 0 && c->json) {
        rbench_report_json(out, c, &sides[0].total, 0, sides[0].rounds_run);
        rbench_report_json(out, c, &sides[1].total, 0, sides[1].rounds_run);
    } else if (rc == 0) {
        print_table(out, c, &sides[0], &sides[1]);
    }
    if (rc == 0)
        rc = write_files(c, sides);
    if (rc == 0 && (sides[0].total.fatal != 0 || sides[1].total.fatal != 0))
        rc = 1;
    side_free(&sides[0]);
    side_free(&sides[1]);
    free(sides);
    return rc;
}
