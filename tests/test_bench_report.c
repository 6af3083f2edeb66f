/* ringd-bench's outputs: the JSON line's shape (one line, one object, every key, escaped
 * strings), the histogram CSV read back into the same percentiles, the SVG chart, and the
 * per-side file names of compare. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringd_bench_compare.h"
#include "ringd_bench_plot.h"
#include "ringd_bench_report.h"
#include "test_support.h"

static char *capture_json(const struct rbench_config *c, const struct rbench_result *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    rbench_report_json(f, c, r, 2, 1);
    fclose(f);
    return text;
}

/* Every brace and bracket outside strings closes, and nothing follows the outer object. */
static void expect_one_object(const char *text)
{
    size_t len = strlen(text);
    assert_true(len > 2);
    assert_int_equal(text[0], '{');
    assert_int_equal(text[len - 1], '\n');
    assert_int_equal(text[len - 2], '}');
    assert_null(memchr(text, '\n', len - 1));
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len - 1; i++) {
        char ch = text[i];
        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = false;
            continue;
        }
        if (ch == '"')
            in_string = true;
        else if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']')
            depth--;
        assert_true(depth >= 0);
        if (depth == 0)
            assert_int_equal(i, len - 2); /* the outer object ends only at the end */
    }
    assert_false(in_string);
}

static void fill_result(struct rbench_result *r)
{
    assert_int_equal(rbench_result_init(r), 0);
    r->workload = RBENCH_WL_PUT;
    snprintf(r->label, sizeof(r->label), "ringd \"fast\"\\\n");
    snprintf(r->endpoint, sizeof(r->endpoint), "127.0.0.1:2379");
    for (uint64_t v = 1; v <= 1000; v++)
        rbench_hist_record(r->hist, v);
    r->ops = 1000;
    r->elapsed_ns = 500000000;
    r->ops_per_s = 2000;
    r->errors = 3;
    r->errors_by_status[GRPC_STATUS_UNAVAILABLE] = 2;
    r->errors_by_status[GRPC_STATUS_DEADLINE_EXCEEDED] = 1;
    snprintf(r->first_error, sizeof(r->first_error), "UNAVAILABLE: connection refused");
}

static void test_json_shape(void **state)
{
    (void)state;
    struct rbench_config c;
    char err[256];
    char *argv[] = {"ringd-bench", "put", "--clients", "100", "--conns", "10", NULL};
    assert_int_equal(rbench_flags_parse(6, argv, &c, err, sizeof(err)), 0);
    struct rbench_result r;
    fill_result(&r);
    char *text = capture_json(&c, &r);
    expect_one_object(text);
    const char *keys[] = {
        "{\"workload\":\"put\",",
        "\"label\":\"ringd \\\"fast\\\"\\\\\\u000a\",",
        "\"endpoint\":\"127.0.0.1:2379\",",
        "\"round\":2,\"rounds\":1,",
        "\"conns\":10,\"clients\":100,\"rate\":0,\"total\":10000,",
        "\"duration_s\":0.000,",
        "\"key_size\":8,\"val_size\":8,\"key_space_size\":1,\"sequential_keys\":false,",
        "\"consistency\":\"l\",",
        "\"ops\":1000,\"elapsed_s\":0.500000,\"ops_per_s\":2000.0,",
        "\"latency_us\":{\"min\":1,\"mean\":500.5,\"p50\":500,\"p90\":900,\"p99\":990,"
        "\"p99_9\":999,\"max\":1000},",
        "\"errors\":3,\"errors_by_status\":{\"DEADLINE_EXCEEDED\":1,\"UNAVAILABLE\":2},",
        "\"first_error\":\"UNAVAILABLE: connection refused\",",
        "\"writes\":0,\"cas_conflicts\":0,\"events_expected\":0,\"events_delivered\":0,",
        "\"fatal\":false,\"setup_status\":\"OK\",\"setup_error\":\"\"}",
    };
    const char *at = text;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *found = strstr(at, keys[i]);
        if (found == NULL)
            fail_msg("JSON lacks %s (in order) in %s", keys[i], text);
        at = found + strlen(keys[i]);
    }
    free(text);

    /* A run that could not be carried out says so, with the status. */
    r.fatal = -EPROTO;
    r.setup_status = GRPC_STATUS_UNIMPLEMENTED;
    snprintf(r.setup_error, sizeof(r.setup_error), "Watch: UNIMPLEMENTED: not yet");
    text = capture_json(&c, &r);
    expect_one_object(text);
    assert_non_null(strstr(text, "\"fatal\":true,\"setup_status\":\"UNIMPLEMENTED\","
                                 "\"setup_error\":\"Watch: UNIMPLEMENTED: not yet\"}"));
    free(text);
    rbench_result_free(&r);
}

static void test_csv_round_trip(void **state)
{
    (void)state;
    char dir[300], path[512];
    snprintf(dir, sizeof(dir), "%s", test_temp_dir("bench-csv"));
    snprintf(path, sizeof(path), "%s/h.csv", dir);
    struct rbench_hist *h = malloc(sizeof(*h)), *back = malloc(sizeof(*back));
    assert_non_null(h);
    assert_non_null(back);
    rbench_hist_reset(h);
    rbench_hist_reset(back);
    for (uint64_t v = 1; v <= 1500; v++)
        rbench_hist_record_n(h, v, v % 3 + 1);
    rbench_hist_record(h, 1000000);
    assert_int_equal(rbench_csv_write(path, "etcd", h), 0);
    char label[64], err[256];
    assert_int_equal(rbench_csv_read(path, back, label, sizeof(label), err, sizeof(err)), 0);
    assert_string_equal(label, "etcd");
    assert_int_equal(back->count, h->count);
    assert_int_equal(back->min_us, h->min_us);
    assert_int_equal(back->max_us, h->max_us);
    const double ps[] = {0, 10, 50, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        assert_int_equal(rbench_hist_percentile(back, ps[i]), rbench_hist_percentile(h, ps[i]));

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "latency_us,count,cumulative_fraction\n12,x,0.5\n");
    fclose(f);
    assert_int_equal(rbench_csv_read(path, back, label, sizeof(label), err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, ":2: not a ringd-bench histogram row"));
    remove(path);
    rmdir(dir);
    free(h);
    free(back);
}

static void test_svg(void **state)
{
    (void)state;
    struct rbench_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);
    rbench_hist_reset(a);
    rbench_hist_reset(b);
    for (uint64_t v = 1; v <= 10000; v++) {
        rbench_hist_record(a, 50 + v % 100);
        rbench_hist_record(b, 500 + v % 1000);
    }
    const struct rbench_plot_series series[] = {{"ringd", a}, {"etcd <3.4>", b}};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    rbench_plot_svg(f, "put & co", series, 2);
    fclose(f);
    assert_true(strncmp(text, "<svg ", 5) == 0);
    assert_non_null(strstr(text, "</svg>\n"));
    assert_non_null(strstr(text, "put &amp; co"));
    assert_non_null(strstr(text, "etcd &lt;3.4&gt;"));
    uint32_t curves = 0;
    for (const char *p = text; (p = strstr(p, "<polyline")) != NULL; p++)
        curves++;
    assert_int_equal(curves, 2);
    assert_non_null(strstr(text, ">99.99%<")); /* 10,000 samples reach four nines */
    free(text);
    free(a);
    free(b);
}

static void test_compare_paths(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(rbench_compare_path("docs/put.csv", "etcd", out, sizeof(out)), 0);
    assert_string_equal(out, "docs/put.etcd.csv");
    assert_int_equal(rbench_compare_path("a.b/hist", "ringd", out, sizeof(out)), 0);
    assert_string_equal(out, "a.b/hist.ringd");
    assert_int_equal(
        rbench_compare_path("x.csv", "a-very-long-name-indeed-it-is-long-enough", out, 16),
        -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_csv_round_trip),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_compare_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
