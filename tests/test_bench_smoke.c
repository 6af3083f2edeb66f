/* The ringd-bench program against a ringd started here: a one-second put run whose JSON line
 * says it did work without errors, an open-loop run that sends exactly rate x duration
 * requests, the watch workload (ringd answers UNIMPLEMENTED until it has a Watch service; then
 * every expected event must arrive), compare with its table, CSV files and chart, the plot
 * mode, the fdatasync workload (no server), and a bad flag. No timing is asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_support.h"

#define BENCH_WAIT_MS 60000

static struct test_server ringd;
static char output[1 << 16];

static const char *bench_bin(void)
{
    const char *bin = getenv("RINGD_BENCH_BIN");
    if (bin == NULL || bin[0] != '/')
        fail_msg("RINGD_BENCH_BIN must name the ringd-bench binary (ctest sets it)");
    return bin;
}

/* Runs ringd-bench with args (NULL-terminated) in a fresh directory; returns its exit status
 * with its stdout in output. The caller cleans p up. */
static int bench(struct test_proc *p, const char *const *args)
{
    char *argv[48] = {(char *)bench_bin()};
    int n = 1;
    for (; args[n - 1] != NULL && n < 47; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    const struct test_proc_io io = {.stderr_apart = true};
    assert_int_equal(test_proc_start_io(p, argv, &io), 0);
    int status = test_proc_wait_exit(p, BENCH_WAIT_MS);
    test_proc_output(p, output, sizeof(output));
    if (status != 0) {
        char err[4096];
        test_proc_stderr(p, err, sizeof(err));
        fprintf(stderr, "ringd-bench exited %d; stdout:\n%s\nstderr:\n%s\n", status, output, err);
    }
    return status;
}

/* The number after "key": in the JSON line. */
static unsigned long long json_u64(const char *text, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":", key);
    const char *at = strstr(text, pattern);
    if (at == NULL)
        fail_msg("no %s in %s", pattern, text);
    return strtoull(at + strlen(pattern), NULL, 10);
}

static bool file_in(const struct test_proc *p, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", p->dir, name);
    return stat(path, &st) == 0 && st.st_size > 0;
}

static void test_put_one_second(void **state)
{
    (void)state;
    struct test_proc p;
    const char *args[] = {"put",        "--endpoints", ringd.endpoint,
                          "--duration", "1s",          "--clients",
                          "4",          "--conns",     "2",
                          "--val-size", "256",         "--key-space-size",
                          "1000",       "--json",      NULL};
    assert_int_equal(bench(&p, args), 0);
    assert_non_null(strstr(output, "{\"workload\":\"put\","));
    assert_true(json_u64(output, "ops") > 0);
    assert_int_equal(json_u64(output, "errors"), 0);
    assert_non_null(strstr(output, "\"fatal\":false"));
    const char *newline = strchr(output, '\n');
    assert_non_null(newline);
    assert_int_equal(newline[1], '\0'); /* one line */
    test_proc_cleanup(&p);
}

/* At 200/s for one second, operations 0..199 are intended inside the run: all are sent, late
 * or not, and each ends once. */
static void test_open_loop_sends_rate_times_duration(void **state)
{
    (void)state;
    struct test_proc p;
    const char *args[] = {
        "range",     "--endpoints", ringd.endpoint, "--rate",        "200", "--duration", "1s",
        "--clients", "8",           "--json",       "--consistency", "s",   NULL};
    assert_int_equal(bench(&p, args), 0);
    assert_int_equal(json_u64(output, "ops") + json_u64(output, "errors"), 200);
    assert_int_equal(json_u64(output, "rate"), 200);
    test_proc_cleanup(&p);
}

static void test_watch(void **state)
{
    (void)state;
    struct test_proc p;
    const char *args[] = {"watch",      "--endpoints", ringd.endpoint,
                          "--watchers", "20",          "--streams",
                          "4",          "--put-rate",  "200",
                          "--total",    "50",          "--watched-key-total",
                          "10",         "--json",      NULL};
    int status = bench(&p, args);
    if (strstr(output, "\"fatal\":true") != NULL) {
        /* ringd without a Watch service yet: a clear refusal, not a hang or a crash. */
        assert_int_equal(status, 1);
        assert_non_null(strstr(output, "\"setup_status\":\"UNIMPLEMENTED\""));
    } else {
        assert_int_equal(status, 0);
        assert_int_equal(json_u64(output, "events_expected"), 100); /* 50 puts x 2 watchers */
        assert_int_equal(json_u64(output, "events_delivered"), 100);
        assert_int_equal(json_u64(output, "errors"), 0);
    }
    test_proc_cleanup(&p);
}

static void test_compare_and_plot(void **state)
{
    (void)state;
    struct test_proc p;
    const char *args[] = {
        "compare",   "--a", ringd.endpoint, "--b",   ringd.endpoint, "--a-name", "one",
        "--b-name",  "two", "--rounds",     "2",     "put",          "--total",  "300",
        "--clients", "3",   "--plot",       "c.svg", "--csv",        "c.csv",    NULL};
    assert_int_equal(bench(&p, args), 0);
    assert_non_null(strstr(output, "| | one | two | one / two |"));
    assert_non_null(strstr(output, "| ops/s |"));
    assert_non_null(strstr(output, "| p99.9 |"));
    assert_non_null(strstr(output, "| errors | 0 | 0 | |"));
    assert_true(file_in(&p, "c.svg"));
    assert_true(file_in(&p, "c.one.csv"));
    assert_true(file_in(&p, "c.two.csv"));

    /* The plot mode reads those files back: run it in the same directory. */
    char one[512], two[512], out[512];
    snprintf(one, sizeof(one), "first=%s/c.one.csv", p.dir);
    snprintf(two, sizeof(two), "%s/c.two.csv", p.dir);
    snprintf(out, sizeof(out), "%s/p.svg", p.dir);
    struct test_proc q;
    const char *plot[] = {"plot", "--out", out, "--title", "smoke", one, two, NULL};
    assert_int_equal(bench(&q, plot), 0);
    assert_true(file_in(&p, "p.svg"));
    test_proc_cleanup(&q);
    test_proc_cleanup(&p);
}

/* The disk alone, in the run's own directory (the default --dir): a JSON line with every write
 * synced, the histogram as CSV and a chart, and no file left behind. */
static void test_fdatasync(void **state)
{
    (void)state;
    struct test_proc p;
    const char *args[] = {"fdatasync", "--total", "50",     "--val-size", "300", "--json",
                          "--csv",     "f.csv",   "--plot", "f.svg",      NULL};
    assert_int_equal(bench(&p, args), 0);
    assert_non_null(
        strstr(output, "{\"workload\":\"fdatasync\",\"label\":\".\",\"endpoint\":\".\","));
    assert_int_equal(json_u64(output, "ops"), 50);
    assert_int_equal(json_u64(output, "val_size"), 300);
    assert_int_equal(json_u64(output, "errors"), 0);
    assert_non_null(strstr(output, "\"fatal\":false"));
    assert_true(file_in(&p, "f.csv"));
    assert_true(file_in(&p, "f.svg"));
    DIR *d = opendir(p.dir);
    assert_non_null(d);
    for (struct dirent *de = readdir(d); de != NULL; de = readdir(d))
        if (strncmp(de->d_name, "ringd-bench-fdatasync-", 22) == 0)
            fail_msg("%s/%s was left behind", p.dir, de->d_name);
    closedir(d);
    test_proc_cleanup(&p);

    /* A directory that is not there: not run, and said why. */
    const char *missing[] = {"fdatasync", "--total", "5", "--dir", "no/such/dir", NULL};
    assert_int_equal(bench(&p, missing), 1);
    assert_non_null(strstr(output, "not run    creating a file in no/such/dir"));
    test_proc_cleanup(&p);
}

static void test_bad_flag(void **state)
{
    (void)state;
    struct test_proc p;
    const char *args[] = {"put", "--clients", "0", NULL};
    assert_int_equal(bench(&p, args), 2);
    char err[1024];
    test_proc_stderr(&p, err, sizeof(err));
    assert_non_null(strstr(err, "ringd-bench: invalid value \"0\" for --clients"));
    test_proc_cleanup(&p);
}

static int group_setup(void **state)
{
    (void)state;
    return test_server_start(&ringd, TEST_SERVER_RINGD, NULL);
}

static int group_teardown(void **state)
{
    (void)state;
    return test_server_stop(&ringd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_one_second),
        cmocka_unit_test(test_open_loop_sends_rate_times_duration),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_compare_and_plot),
        cmocka_unit_test(test_fdatasync),
        cmocka_unit_test(test_bad_flag),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
