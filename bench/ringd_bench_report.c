/* ringd-bench's reports: text, JSON line, histogram CSV (see ringd_bench_report.h). */
#include "ringd_bench_report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"

#define CSV_HEADER "latency_us,count,cumulative_fraction"

void rbench_format_us(double us, char *out, size_t size)
{
    if (us < 1000)
        snprintf(out, size, "%.0f µs", us);
    else if (us < 1e6)
        snprintf(out, size, us < 1e4 ? "%.2f ms" : us < 1e5 ? "%.1f ms" : "%.0f ms", us / 1e3);
    else
        snprintf(out, size, "%.2f s", us / 1e6);
}

static const char *loop_kind(const struct rbench_config *c, char *buf, size_t size)
{
    uint64_t rate = c->workload == RBENCH_WL_WATCH ? c->put_rate : c->rate;
    if (rate == 0)
        return "closed loop";
    snprintf(buf, size, "open loop at %llu/s", (unsigned long long)rate);
    return buf;
}

static void text_latency(FILE *out, const struct rbench_result *r)
{
    struct rbench_hist_summary s;
    rbench_hist_summarize(r->hist, &s);
    const double values[] = {(double)s.min_us, s.mean_us,        (double)s.p50_us,
                             (double)s.p90_us, (double)s.p99_us, (double)s.p999_us,
                             (double)s.max_us};
    const char *names[] = {"min", "mean", "p50", "p90", "p99", "p99.9", "max"};
    fprintf(out, "  latency   ");
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char v[32];
        rbench_format_us(values[i], v, sizeof(v));
        fprintf(out, " %s %s", names[i], v);
    }
    fprintf(out, "\n");
}

static void text_errors(FILE *out, const struct rbench_result *r)
{
    fprintf(out, "  errors     %llu", (unsigned long long)r->errors);
    for (int s = 1; s < RBENCH_STATUS_COUNT; s++)
        if (r->errors_by_status[s] > 0)
            fprintf(out, "  %s %llu", rbench_status_name((enum grpc_status)s),
                    (unsigned long long)r->errors_by_status[s]);
    fprintf(out, "\n");
    if (r->first_error[0] != '\0')
        fprintf(out, "  first      %s\n", r->first_error);
}

void rbench_report_text(FILE *out, const struct rbench_config *c, const struct rbench_result *r)
{
    char loop[64];
    if (r->workload == RBENCH_WL_FDATASYNC)
        fprintf(out, "fdatasync in %s (%s): %u-byte writes at the end of a preallocated file, %s\n",
                r->endpoint, r->label, c->val_size, loop_kind(c, loop, sizeof(loop)));
    else
        fprintf(out, "%s against %s (%s): %u conns, %u clients, %s\n",
                rbench_workload_name(r->workload), r->endpoint, r->label, c->conns, c->clients,
                loop_kind(c, loop, sizeof(loop)));
    if (r->fatal != 0) {
        fprintf(out, "  not run    %s\n", r->setup_error);
        return;
    }
    fprintf(out, "  ops        %llu in %.3f s: %.1f ops/s%s\n", (unsigned long long)r->ops,
            (double)r->elapsed_ns / 1e9, r->ops_per_s,
            r->workload == RBENCH_WL_WATCH ? " (events)" : "");
    text_latency(out, r);
    text_errors(out, r);
    if (r->workload == RBENCH_WL_WATCH)
        fprintf(out, "  puts       %llu acknowledged\n", (unsigned long long)r->writes);
    if (r->workload == RBENCH_WL_WATCH || r->workload == RBENCH_WL_WATCH_GET)
        fprintf(out, "  events     %llu delivered of %llu expected\n",
                (unsigned long long)r->events_delivered, (unsigned long long)r->events_expected);
    if (r->workload == RBENCH_WL_TXN_MIXED)
        fprintf(out, "  swaps      %llu won, %llu lost to another client\n",
                (unsigned long long)r->writes, (unsigned long long)r->cas_conflicts);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void json_config(FILE *out, const struct rbench_config *c)
{
    fprintf(out,
            "\"conns\":%u,\"clients\":%u,\"rate\":%llu,\"total\":%llu,\"duration_s\":%.3f,"
            "\"key_size\":%u,\"val_size\":%u,\"key_space_size\":%llu,\"sequential_keys\":%s,"
            "\"consistency\":\"%s\",",
            c->conns, c->clients,
            (unsigned long long)(c->workload == RBENCH_WL_WATCH ? c->put_rate : c->rate),
            (unsigned long long)c->total, (double)c->duration_ns / 1e9, c->key_size, c->val_size,
            (unsigned long long)c->key_space_size, c->sequential_keys ? "true" : "false",
            c->serializable ? "s" : "l");
}

static void json_latency(FILE *out, const struct rbench_hist *h)
{
    struct rbench_hist_summary s;
    rbench_hist_summarize(h, &s);
    fprintf(out,
            "\"latency_us\":{\"min\":%llu,\"mean\":%.1f,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,"
            "\"p99_9\":%llu,\"max\":%llu},",
            (unsigned long long)s.min_us, s.mean_us, (unsigned long long)s.p50_us,
            (unsigned long long)s.p90_us, (unsigned long long)s.p99_us,
            (unsigned long long)s.p999_us, (unsigned long long)s.max_us);
}

static void json_errors(FILE *out, const struct rbench_result *r)
{
    fprintf(out, "\"errors\":%llu,\"errors_by_status\":{", (unsigned long long)r->errors);
    const char *sep = "";
    for (int s = 1; s < RBENCH_STATUS_COUNT; s++) {
        if (r->errors_by_status[s] == 0)
            continue;
        fprintf(out, "%s\"%s\":%llu", sep, rbench_status_name((enum grpc_status)s),
                (unsigned long long)r->errors_by_status[s]);
        sep = ",";
    }
    fprintf(out, "},\"first_error\":");
    json_string(out, r->first_error);
    fprintf(out, ",");
}

void rbench_report_json(FILE *out, const struct rbench_config *c, const struct rbench_result *r,
                        uint32_t round, uint32_t rounds)
{
    fprintf(out, "{\"workload\":\"%s\",\"label\":", rbench_workload_name(r->workload));
    json_string(out, r->label);
    fprintf(out, ",\"endpoint\":");
    json_string(out, r->endpoint);
    fprintf(out, ",\"round\":%u,\"rounds\":%u,", round, rounds);
    json_config(out, c);
    fprintf(out, "\"ops\":%llu,\"elapsed_s\":%.6f,\"ops_per_s\":%.1f,", (unsigned long long)r->ops,
            (double)r->elapsed_ns / 1e9, r->ops_per_s);
    json_latency(out, r->hist);
    json_errors(out, r);
    fprintf(out,
            "\"writes\":%llu,\"cas_conflicts\":%llu,\"events_expected\":%llu,"
            "\"events_delivered\":%llu,\"fatal\":%s,\"setup_status\":\"%s\",\"setup_error\":",
            (unsigned long long)r->writes, (unsigned long long)r->cas_conflicts,
            (unsigned long long)r->events_expected, (unsigned long long)r->events_delivered,
            r->fatal != 0 ? "true" : "false", rbench_status_name(r->setup_status));
    json_string(out, r->setup_error);
    fprintf(out, "}\n");
    fflush(out);
}

/* ---- CSV ----------------------------------------------------------------------------------- */

int rbench_csv_write(const char *path, const char *label, const struct rbench_hist *h)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    fprintf(f, "# ringd-bench latency histogram\n# label=%s\n%s\n", label, CSV_HEADER);
    uint64_t seen = 0;
    for (uint32_t b = 0; b < RBENCH_HIST_BUCKETS && seen < h->count; b++) {
        if (h->counts[b] == 0)
            continue;
        seen += h->counts[b];
        uint64_t v = rbench_hist_bucket_high(b);
        v = v > h->max_us ? h->max_us : v < h->min_us ? h->min_us : v;
        fprintf(f, "%llu,%llu,%.9f\n", (unsigned long long)v, (unsigned long long)h->counts[b],
                (double)seen / (double)h->count);
    }
    int err = ferror(f) ? -EIO : 0;
    if (fclose(f) != 0 && err == 0)
        err = -errno;
    return err;
}

static int csv_line(const char *line, struct rbench_hist *h, char *label, size_t label_size,
                    bool *header_seen)
{
    if (line[0] == '#') {
        const char *l = strstr(line, "label=");
        if (l != NULL) {
            snprintf(label, label_size, "%s", l + 6);
            label[strcspn(label, "\r\n")] = '\0';
        }
        return 0;
    }
    if (strncmp(line, CSV_HEADER, strlen(CSV_HEADER)) == 0) {
        *header_seen = true;
        return 0;
    }
    if (line[0] == '\n' || line[0] == '\0')
        return 0;
    unsigned long long value = 0, count = 0;
    char *end = NULL;
    value = strtoull(line, &end, 10);
    if (!*header_seen || end == line || *end != ',')
        return -EINVAL;
    const char *p = end + 1;
    count = strtoull(p, &end, 10);
    if (end == p || (*end != ',' && *end != '\n' && *end != '\0'))
        return -EINVAL;
    rbench_hist_record_n(h, value, count);
    return 0;
}

int rbench_csv_read(const char *path, struct rbench_hist *h, char *label, size_t label_size,
                    char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int rc = -errno;
        snprintf(err, err_size, "%s: %s", path, strerror(-rc));
        return rc;
    }
    label[0] = '\0';
    char line[RBENCH_LINE_BYTES_MAX];
    bool header_seen = false;
    int rc = 0;
    for (uint32_t n = 1; rc == 0 && fgets(line, sizeof(line), f) != NULL; n++) {
        rc = csv_line(line, h, label, label_size, &header_seen);
        if (rc < 0)
            snprintf(err, err_size, "%s:%u: not a ringd-bench histogram row", path, n);
    }
    if (rc == 0 && !header_seen) {
        snprintf(err, err_size, "%s: no \"%s\" header", path, CSV_HEADER);
        rc = -EINVAL;
    }
    fclose(f);
    return rc;
}
