/* ringd-bench's open-loop schedule: intended send times at exact multiples of 1 / rate from the
 * start, due counts, a backlog that keeps its intended times (so queueing shows in latency),
 * rounding without drift, and large indexes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ringd_bench_pacer.h"

#define START_NS 5000000000ull
#define MS       1000000ull

static void test_intended_times(void **state)
{
    (void)state;
    struct rbench_pacer p;
    rbench_pacer_init(&p, 1000, START_NS);
    assert_int_equal(rbench_pacer_intended_ns(&p, 0), START_NS);
    assert_int_equal(rbench_pacer_intended_ns(&p, 1), START_NS + 1 * MS);
    assert_int_equal(rbench_pacer_intended_ns(&p, 1000), START_NS + 1000 * MS);
    /* A rate that does not divide a second: rounded down, never drifting. */
    rbench_pacer_init(&p, 3, START_NS);
    assert_int_equal(rbench_pacer_intended_ns(&p, 1), START_NS + 333333333);
    assert_int_equal(rbench_pacer_intended_ns(&p, 2), START_NS + 666666666);
    assert_int_equal(rbench_pacer_intended_ns(&p, 3), START_NS + 1000000000);
    assert_int_equal(rbench_pacer_intended_ns(&p, 3000000), START_NS + 1000000000000000ull);
    /* A billion per second for a day does not overflow. */
    rbench_pacer_init(&p, 1000000000, START_NS);
    assert_int_equal(rbench_pacer_intended_ns(&p, 86400000000000ull), START_NS + 86400000000000ull);
}

static void test_due(void **state)
{
    (void)state;
    struct rbench_pacer p;
    rbench_pacer_init(&p, 1000, START_NS);
    assert_int_equal(rbench_pacer_due(&p, START_NS - 1), 0);
    assert_int_equal(rbench_pacer_due(&p, START_NS), 1);
    assert_int_equal(rbench_pacer_due(&p, START_NS + MS - 1), 1);
    assert_int_equal(rbench_pacer_due(&p, START_NS + MS), 2);
    assert_int_equal(rbench_pacer_due(&p, START_NS + 2 * MS + MS / 2), 3);
    assert_int_equal(rbench_pacer_take(&p), START_NS);
    assert_int_equal(rbench_pacer_take(&p), START_NS + MS);
    assert_int_equal(rbench_pacer_due(&p, START_NS + 2 * MS + MS / 2), 1);
    assert_int_equal(rbench_pacer_next_ns(&p), START_NS + 2 * MS);
    /* Taken ahead of time: nothing is due until the clock catches up. */
    for (int i = 0; i < 5; i++)
        (void)rbench_pacer_take(&p);
    assert_int_equal(rbench_pacer_due(&p, START_NS + 3 * MS), 0);
    assert_int_equal(rbench_pacer_due(&p, START_NS + 7 * MS), 1);
    /* The boundary case of rounding: operation 1 at rate 3 is due at +333333333 exactly. */
    rbench_pacer_init(&p, 3, START_NS);
    assert_int_equal(rbench_pacer_due(&p, START_NS + 333333332), 1);
    assert_int_equal(rbench_pacer_due(&p, START_NS + 333333333), 2);
}

/* A sender that fell 10 ms behind at 1000/s finds 11 operations due and takes them with their
 * own intended times, so each one's latency counts the time it waited to be sent. */
static void test_backlog_keeps_intended_times(void **state)
{
    (void)state;
    struct rbench_pacer p;
    rbench_pacer_init(&p, 1000, START_NS);
    uint64_t now_ns = START_NS + 10 * MS;
    assert_int_equal(rbench_pacer_due(&p, now_ns), 11);
    uint64_t waited_ns = 0;
    for (uint64_t k = 0; k < 11; k++) {
        uint64_t intended = rbench_pacer_take(&p);
        assert_int_equal(intended, START_NS + k * MS);
        waited_ns += now_ns - intended;
    }
    assert_int_equal(rbench_pacer_due(&p, now_ns), 0);
    assert_int_equal(waited_ns, 55 * MS); /* 10 + 9 + ... + 0 ms of queueing */
    assert_int_equal(rbench_pacer_next_ns(&p), START_NS + 11 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intended_times),
        cmocka_unit_test(test_due),
        cmocka_unit_test(test_backlog_keeps_intended_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
