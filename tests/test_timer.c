/* Timer heap: ordering, cancel, re-arm, the bound, and re-arming from a callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ringd_error.h"
#include "timer.h"

static uint64_t fired_order[16];
static uint32_t fired_count;

struct tagged_timer {
    struct timer t;
    uint64_t tag;
};

static void record(struct timer *t, uint64_t now_ns)
{
    (void)now_ns;
    struct tagged_timer *tt = (struct tagged_timer *)t;
    fired_order[fired_count++] = tt->tag;
}

static void test_fires_in_deadline_order(void **state)
{
    (void)state;
    struct timer_heap h;
    assert_int_equal(timer_heap_init(&h, 8), 0);
    struct tagged_timer ts[5] = {{.tag = 50}, {.tag = 10}, {.tag = 40}, {.tag = 20}, {.tag = 30}};
    for (int i = 0; i < 5; i++)
        assert_int_equal(timer_arm(&h, &ts[i].t, ts[i].tag, record), 0);
    assert_int_equal(timer_next_deadline_ns(&h), 10);
    fired_count = 0;
    assert_int_equal(timer_expire(&h, 9), 0);
    assert_int_equal(timer_expire(&h, 30), 3);
    assert_int_equal(timer_expire(&h, 1000), 2);
    uint64_t want[] = {10, 20, 30, 40, 50};
    assert_memory_equal(fired_order, want, sizeof(want));
    assert_int_equal(timer_next_deadline_ns(&h), UINT64_MAX);
    for (int i = 0; i < 5; i++)
        assert_false(timer_armed(&ts[i].t));
    timer_heap_destroy(&h);
}

static void test_cancel_and_rearm(void **state)
{
    (void)state;
    struct timer_heap h;
    assert_int_equal(timer_heap_init(&h, 8), 0);
    struct tagged_timer a = {.tag = 1}, b = {.tag = 2}, c = {.tag = 3};
    timer_arm(&h, &a.t, 100, record);
    timer_arm(&h, &b.t, 200, record);
    timer_arm(&h, &c.t, 300, record);
    timer_cancel(&h, &b.t);
    timer_cancel(&h, &b.t); /* disarmed already: nothing happens */
    assert_false(timer_armed(&b.t));
    assert_int_equal(timer_arm(&h, &c.t, 50, record), 0); /* moves, does not duplicate */
    assert_int_equal(h.count, 2);
    fired_count = 0;
    assert_int_equal(timer_expire(&h, 1000), 2);
    assert_int_equal(fired_order[0], 3);
    assert_int_equal(fired_order[1], 1);
    timer_heap_destroy(&h);
}

static void test_bound(void **state)
{
    (void)state;
    struct timer_heap h;
    assert_int_equal(timer_heap_init(&h, 2), 0);
    struct timer t1 = {0}, t2 = {0}, t3 = {0};
    assert_int_equal(timer_arm(&h, &t1, 1, record), 0);
    assert_int_equal(timer_arm(&h, &t2, 2, record), 0);
    assert_int_equal(timer_arm(&h, &t3, 3, record), -RINGD_EFULL);
    assert_false(timer_armed(&t3));
    assert_int_equal(timer_arm(&h, &t2, 5, record), 0); /* re-arming needs no room */
    timer_heap_destroy(&h);
}

static struct timer_heap *periodic_heap;
static uint32_t periodic_runs;

static void periodic(struct timer *t, uint64_t now_ns)
{
    periodic_runs++;
    /* Re-armed into the past: must wait for the next expire call, not loop forever. */
    timer_arm(periodic_heap, t, now_ns, periodic);
}

static void test_rearm_from_callback_is_bounded(void **state)
{
    (void)state;
    struct timer_heap h;
    assert_int_equal(timer_heap_init(&h, 4), 0);
    periodic_heap = &h;
    periodic_runs = 0;
    struct timer t = {0};
    timer_arm(&h, &t, 10, periodic);
    assert_int_equal(timer_expire(&h, 10), 1);
    assert_int_equal(timer_expire(&h, 11), 1);
    assert_int_equal(periodic_runs, 2);
    assert_true(timer_armed(&t));
    timer_heap_destroy(&h);
}

static void test_many_random(void **state)
{
    (void)state;
    enum { N = 1000 };
    static struct timer ts[N];
    struct timer_heap h;
    assert_int_equal(timer_heap_init(&h, N), 0);
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ts[i] = (struct timer){0};
        assert_int_equal(timer_arm(&h, &ts[i], x % 100000, record), 0);
    }
    for (int i = 0; i < N; i += 3)
        timer_cancel(&h, &ts[i]);
    uint64_t last = 0;
    while (h.count > 0) {
        uint64_t next = timer_next_deadline_ns(&h);
        assert_true(next >= last);
        last = next;
        struct timer *top = h.items[0];
        timer_cancel(&h, top);
    }
    timer_heap_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_in_deadline_order),
        cmocka_unit_test(test_cancel_and_rearm),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_rearm_from_callback_is_bounded),
        cmocka_unit_test(test_many_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
