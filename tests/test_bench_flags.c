/* ringd-bench's command line: defaults, every kind of value, modes, and the errors for values
 * that are malformed, out of range or given to a workload they do not apply to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "ringd_bench_flags.h"

#define ARGS_MAX 32

static struct rbench_config config;
static char err[RBENCH_ERROR_BYTES_MAX];

/* Parses the words of line (split at spaces; the program name is added). */
static int parse(const char *line)
{
    static char words[1024];
    static char *argv[ARGS_MAX];
    snprintf(words, sizeof(words), "%s", line);
    int argc = 0;
    argv[argc++] = "ringd-bench";
    for (char *save, *w = strtok_r(words, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    err[0] = '\0';
    return rbench_flags_parse(argc, argv, &config, err, sizeof(err));
}

static void expect_ok(const char *line)
{
    if (parse(line) != 0)
        fail_msg("\"%s\": %s", line, err);
}

static void expect_error(const char *line, const char *text)
{
    int rc = parse(line);
    if (rc != -EINVAL)
        fail_msg("\"%s\" parsed (%d), expected an error with \"%s\"", line, rc, text);
    if (strstr(err, text) == NULL)
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", line, err, text);
}

static void test_defaults(void **state)
{
    (void)state;
    expect_ok("put");
    assert_int_equal(config.mode, RBENCH_MODE_RUN);
    assert_int_equal(config.workload, RBENCH_WL_PUT);
    assert_int_equal(config.endpoints_count, 1);
    assert_string_equal(config.endpoints[0], "127.0.0.1:2379");
    assert_int_equal(config.conns, 1);
    assert_int_equal(config.clients, 1);
    assert_int_equal(config.total, 10000); /* etcd's default when neither is given */
    assert_int_equal(config.duration_ns, 0);
    assert_int_equal(config.rate, 0);
    assert_int_equal(config.key_size, 8);
    assert_int_equal(config.val_size, 8);
    assert_int_equal(config.key_space_size, 1);
    assert_false(config.sequential_keys);
    assert_false(config.serializable);
    assert_false(config.json);
    assert_null(config.csv_path);
}

static void test_values(void **state)
{
    (void)state;
    expect_ok("--endpoints 10.0.0.1:2379,http://10.0.0.2:2379 put --conns 10 --clients=100 "
              "--total 5000 --rate 1000 --key-size 16 --val-size 256 --key-space-size 100000 "
              "--sequential-keys --target-leader --json --csv h.csv --plot p.svg --label x");
    assert_int_equal(config.endpoints_count, 2);
    assert_string_equal(config.endpoints[1], "http://10.0.0.2:2379");
    assert_int_equal(config.conns, 10);
    assert_int_equal(config.clients, 100);
    assert_int_equal(config.total, 5000);
    assert_int_equal(config.rate, 1000);
    assert_int_equal(config.key_size, 16);
    assert_int_equal(config.val_size, 256);
    assert_int_equal(config.key_space_size, 100000);
    assert_true(config.sequential_keys);
    assert_true(config.target_leader);
    assert_true(config.json);
    assert_string_equal(config.csv_path, "h.csv");
    assert_string_equal(config.plot_path, "p.svg");
    assert_string_equal(config.label, "x");

    expect_ok("range --consistency s --duration=1m30s --sequential-keys=false --range-keys 1");
    assert_true(config.serializable);
    assert_int_equal(config.duration_ns, 90000000000ull);
    assert_int_equal(config.total, 0); /* a duration alone sets no count */
    assert_false(config.sequential_keys);

    expect_ok("txn-put --txn-ops 4 --key-space-size 4");
    assert_int_equal(config.txn_ops, 4);
}

static void test_watch_defaults(void **state)
{
    (void)state;
    expect_ok("watch --val-size 256");
    assert_int_equal(config.watchers, 10000);
    assert_int_equal(config.streams, 100);
    assert_int_equal(config.put_rate, 1000);
    assert_int_equal(config.watched_key_total, 1000);
    expect_ok("watch-get");
    assert_int_equal(config.streams, 1);
    assert_true(config.serializable); /* etcd's watch-get reads serializably */
    assert_int_equal(config.events, 8);
    expect_ok("watch --watchers 10 --put-rate 0 --watch-range-keys 5 --watched-key-total 50");
    assert_int_equal(config.streams, 10); /* no more streams than watchers */
    assert_int_equal(config.watch_range_keys, 5);
}

static void test_modes(void **state)
{
    (void)state;
    expect_ok("compare --a 127.0.0.1:1 --b 127.0.0.1:2 --a-name ringd --b-name etcd --rounds 5 "
              "put --duration 2s");
    assert_int_equal(config.mode, RBENCH_MODE_COMPARE);
    assert_int_equal(config.workload, RBENCH_WL_PUT);
    assert_string_equal(config.a, "127.0.0.1:1");
    assert_string_equal(config.b_name, "etcd");
    assert_int_equal(config.rounds, 5);
    expect_ok("plot --out x.svg --title t a.csv etcd=b.csv");
    assert_int_equal(config.mode, RBENCH_MODE_PLOT);
    assert_int_equal(config.inputs_count, 2);
    assert_string_equal(config.inputs[1], "etcd=b.csv");
    expect_ok("put --help");
    assert_int_equal(config.mode, RBENCH_MODE_HELP);
    expect_ok("help");
    assert_int_equal(config.mode, RBENCH_MODE_HELP);
}

/* fdatasync measures the disk: it takes a directory and a write size, and no server's flags. */
static void test_fdatasync(void **state)
{
    (void)state;
    expect_ok("fdatasync");
    assert_int_equal(config.workload, RBENCH_WL_FDATASYNC);
    assert_string_equal(config.dir, ".");
    assert_int_equal(config.total, 10000);
    assert_int_equal(config.clients, 1);
    expect_ok(
        "fdatasync --dir /var/tmp --total 500 --val-size 300 --json --csv f.csv --plot f.svg");
    assert_string_equal(config.dir, "/var/tmp");
    assert_int_equal(config.total, 500);
    assert_int_equal(config.val_size, 300);
    expect_ok("fdatasync --duration 2s --rate 100 --label disk --no-progress");
    assert_int_equal(config.rate, 100);
    assert_string_equal(config.label, "disk");

    expect_error("fdatasync --val-size 0", "fdatasync needs --val-size of at least 1");
    expect_error("fdatasync --clients 2", "--clients does not apply to fdatasync");
    expect_error("fdatasync --endpoints 127.0.0.1:2379", "--endpoints does not apply to fdatasync");
    expect_error("fdatasync --key-size 16", "--key-size does not apply to fdatasync");
    expect_error("put --dir /tmp", "--dir does not apply to put");
    expect_error("compare --a x:1 --b y:2 fdatasync", "run it alone");
}

static void test_durations(void **state)
{
    (void)state;
    const struct {
        const char *text;
        uint64_t ns;
    } good[] = {{"0", 0},
                {"1s", 1000000000ull},
                {"1.5ms", 1500000},
                {"250us", 250000},
                {"250\xc2\xb5s", 250000},
                {"10ns", 10},
                {"2m", 120000000000ull},
                {"1h1m1s", 3661000000000ull},
                {".5s", 500000000}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint64_t ns = 1;
        assert_int_equal(rbench_parse_duration(good[i].text, &ns), 0);
        assert_int_equal(ns, good[i].ns);
    }
    const char *bad[] = {"", "s", "1", "-1s", "1x", "1.2.3s", "1s2", "ms", "1 s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t ns = 0;
        if (rbench_parse_duration(bad[i], &ns) == 0)
            fail_msg("\"%s\" parsed as %llu ns", bad[i], (unsigned long long)ns);
    }
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_error("put --clients 0", "--clients: must be in [1, 16384]");
    expect_error("put --clients abc", "not a non-negative integer");
    expect_error("put --clients -1", "not a non-negative integer");
    expect_error("put --total 99999999999999999999999", "--total");
    expect_error("put --conns", "flag --conns needs a value");
    expect_error("put --duration 5", "not a duration");
    expect_error("put --duration 0", "must be in");
    expect_error("range --consistency x", "l or s");
    expect_error("put --json=maybe", "true or false");
    expect_error("put --endpoints a,,b", "--endpoints");
    expect_error("put --key-size 8 --key-space-size 1000000001", "need keys of 10 bytes");
    expect_error("txn-put --txn-ops 4", "--txn-ops 4 needs --key-space-size");
    expect_error("range --range-keys 10 --key-space-size 5", "--range-keys");
    expect_error("watch --val-size 4", "at least 8");
    expect_error("watch --watchers 5 --streams 6", "--streams 6 is more than --watchers 5");
    expect_error("watch --watched-key-total 3 --watch-range-keys 4", "--watch-range-keys");
    expect_error("put --plot x.png", "SVG");
}

static void test_misuse(void **state)
{
    (void)state;
    expect_error("put --bogus 1", "unknown flag --bogus");
    expect_error("bogus", "unknown workload \"bogus\"");
    expect_error("--clients 4", "no workload given");
    expect_error("put range", "unexpected argument \"range\"");
    expect_error("put --txn-ops 2", "--txn-ops does not apply to put");
    expect_error("watch --rate 10", "--rate does not apply to watch");
    expect_error("put --watchers 10", "--watchers does not apply to put");
    expect_error("compare --a x:1 --b y:2 --endpoints z:3 put", "--endpoints does not apply");
    expect_error("compare --a x:1 put", "compare needs --a ENDPOINT and --b ENDPOINT");
    expect_error("compare --a x:1 --b y:2 --a-name s --b-name s put", "must differ");
    expect_error("put --a x:1", "--a does not apply to a single run");
    expect_error("plot a.csv", "plot needs --out");
    expect_error("plot --out x.svg --clients 3 a.csv", "--clients does not apply to plot");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),       cmocka_unit_test(test_values),
        cmocka_unit_test(test_watch_defaults), cmocka_unit_test(test_modes),
        cmocka_unit_test(test_fdatasync),      cmocka_unit_test(test_durations),
        cmocka_unit_test(test_bad_values),     cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
