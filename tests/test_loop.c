/* io_loop: completions dispatched to their owners, a sleeping loop woken from another thread,
 * a timed wait that ends on its own, and in-flight accounting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>

#include "loop.h"
#include "test_support.h"

struct counted {
    struct io_completion c;
    int calls;
    int32_t res;
};

static void counted_done(struct io_completion *c, int32_t res, uint32_t flags)
{
    (void)flags;
    struct counted *k = (struct counted *)c;
    k->calls++;
    k->res = res;
}

static void test_nop_completes_once(void **state)
{
    (void)state;
    struct io_loop loop;
    assert_int_equal(io_loop_init(&loop, 8), 0);
    assert_int_equal(io_loop_attach(&loop), 0);
    struct counted k = {.c.fn = counted_done};
    io_uring_prep_nop(io_loop_sqe(&loop, &k.c));
    assert_int_equal(loop.in_flight, 1);
    while (k.calls == 0)
        assert_true(io_loop_turn(&loop, true, UINT64_MAX) >= 0);
    assert_int_equal(k.calls, 1);
    assert_int_equal(k.res, 0);
    assert_int_equal(loop.in_flight, 0);
    io_loop_destroy(&loop);
}

static void test_more_requests_than_queue_entries(void **state)
{
    (void)state;
    struct io_loop loop;
    assert_int_equal(io_loop_init(&loop, 4), 0);
    assert_int_equal(io_loop_attach(&loop), 0);
    struct counted ks[64];
    for (int i = 0; i < 64; i++) {
        ks[i] = (struct counted){.c.fn = counted_done};
        io_uring_prep_nop(io_loop_sqe(&loop, &ks[i].c));
    }
    while (loop.in_flight > 0)
        assert_true(io_loop_turn(&loop, true, UINT64_MAX) >= 0);
    for (int i = 0; i < 64; i++)
        assert_int_equal(ks[i].calls, 1);
    io_loop_destroy(&loop);
}

static void test_timed_wait_returns(void **state)
{
    (void)state;
    struct io_loop loop;
    assert_int_equal(io_loop_init(&loop, 8), 0);
    assert_int_equal(io_loop_attach(&loop), 0);
    /* Nothing will complete: the wait must end by its timeout, not hang. */
    assert_true(io_loop_turn(&loop, true, 2000000) >= 0);
    io_loop_destroy(&loop);
}

struct sleeper {
    struct io_loop loop;
    _Atomic int woken;
};

static void *sleeper_main(void *arg)
{
    struct sleeper *s = arg;
    if (io_loop_attach(&s->loop) != 0)
        return (void *)1;
    io_loop_prepare_sleep(&s->loop);
    io_loop_turn(&s->loop, true, UINT64_MAX); /* returns only when woken */
    io_loop_end_sleep(&s->loop);
    atomic_store(&s->woken, 1);
    return NULL;
}

static bool loop_is_sleeping(void *arg)
{
    struct sleeper *s = arg;
    return atomic_load(&s->loop.sleeping) == 1;
}

static bool sleeper_woken(void *arg)
{
    struct sleeper *s = arg;
    return atomic_load(&s->woken) == 1;
}

static void test_wake_from_other_thread(void **state)
{
    (void)state;
    struct sleeper s = {0};
    assert_int_equal(io_loop_init(&s.loop, 8), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sleeper_main, &s), 0);
    assert_true(test_wait_until(loop_is_sleeping, &s, 10000));
    io_loop_wake(&s.loop);
    assert_true(test_wait_until(sleeper_woken, &s, 10000));
    void *r;
    pthread_join(t, &r);
    assert_null(r);
    io_loop_destroy(&s.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nop_completes_once),
        cmocka_unit_test(test_more_requests_than_queue_entries),
        cmocka_unit_test(test_timed_wait_returns),
        cmocka_unit_test(test_wake_from_other_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
