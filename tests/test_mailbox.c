/* Mailbox: FIFO order, the bound, the back-pressure handshake, and a two-thread stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>

#include "mailbox.h"

static struct msg ping(uint64_t seq)
{
    return (struct msg){.type = MSG_PING, .a = seq};
}

static void test_order_and_bound(void **state)
{
    (void)state;
    struct mailbox mb;
    assert_int_equal(mailbox_init(&mb, 15, 0, 1), 0);
    assert_int_equal(mb.capacity, 15);
    for (uint64_t i = 0; i < 15; i++) {
        struct msg m = ping(i);
        assert_true(mailbox_push(&mb, &m));
    }
    struct msg extra = ping(99);
    assert_false(mailbox_push(&mb, &extra)); /* full: refused, nothing written */
    assert_int_equal(mailbox_count(&mb), 15);
    struct msg out;
    for (uint64_t i = 0; i < 15; i++) {
        assert_true(mailbox_pop(&mb, &out));
        assert_int_equal(out.a, i);
    }
    assert_false(mailbox_pop(&mb, &out));
    assert_true(mailbox_is_empty(&mb));
    mailbox_destroy(&mb);
}

static void test_wraps_around(void **state)
{
    (void)state;
    struct mailbox mb;
    assert_int_equal(mailbox_init(&mb, 3, 0, 1), 0);
    struct msg out;
    for (uint64_t i = 0; i < 1000; i++) {
        struct msg m = ping(i);
        assert_true(mailbox_push(&mb, &m));
        if (i % 2 == 1) {
            assert_true(mailbox_pop(&mb, &out));
            assert_true(mailbox_pop(&mb, &out));
            assert_int_equal(out.a, i);
        }
    }
    mailbox_destroy(&mb);
}

static void test_sender_wait_handshake(void **state)
{
    (void)state;
    struct mailbox mb;
    assert_int_equal(mailbox_init(&mb, 1, 0, 1), 0);
    struct msg m = ping(1), out;
    assert_true(mailbox_push(&mb, &m));
    assert_false(mailbox_push(&mb, &m));
    assert_false(mailbox_take_sender_waiting(&mb)); /* nobody asked yet */
    assert_false(mailbox_sender_wait(&mb));         /* still full: receiver will notify */
    assert_true(mailbox_pop(&mb, &out));
    assert_true(mailbox_take_sender_waiting(&mb));
    assert_false(mailbox_take_sender_waiting(&mb)); /* only once */
    /* Room already there when the sender asks: it is told to push again now. */
    assert_true(mailbox_sender_wait(&mb));
    mailbox_destroy(&mb);
}

#define STREAM_COUNT 2000000u

static void *stream_consumer(void *arg)
{
    struct mailbox *mb = arg;
    uint64_t expect = 0;
    struct msg out;
    while (expect < STREAM_COUNT) {
        if (mailbox_pop(mb, &out)) {
            if (out.a != expect || out.b != ~expect)
                return (void *)1;
            expect++;
        }
    }
    return NULL;
}

static void test_two_threads_keep_order(void **state)
{
    (void)state;
    struct mailbox mb;
    assert_int_equal(mailbox_init(&mb, 63, 0, 1), 0);
    pthread_t consumer;
    assert_int_equal(pthread_create(&consumer, NULL, stream_consumer, &mb), 0);
    for (uint64_t i = 0; i < STREAM_COUNT; i++) {
        struct msg m = {.type = MSG_PING, .a = i, .b = ~i};
        while (!mailbox_push(&mb, &m)) {
        }
    }
    void *result;
    pthread_join(consumer, &result);
    assert_null(result);
    assert_true(mailbox_is_empty(&mb));
    mailbox_destroy(&mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_bound),
        cmocka_unit_test(test_wraps_around),
        cmocka_unit_test(test_sender_wait_handshake),
        cmocka_unit_test(test_two_threads_keep_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
