/* Actors on real threads: ordered ping-pong, back-pressure on a full mailbox, a sleeping actor
 * woken by a message, timers, draining at shutdown, and a failed start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>

#include "ringd_error.h"
#include "runtime.h"
#include "test_support.h"

#define DEADLINE_MS 30000

struct probe {
    uint64_t total;     /* messages to send */
    uint64_t next;      /* next sequence to send */
    uint64_t expect;    /* next sequence the receiver expects */
    uint16_t peer;      /* the actor to talk to */
    uint32_t spin;      /* busy work per received message, to make a slow receiver */
    struct timer timer; /* for the timer and wake-up tests */
    uint64_t fired[4];
    uint32_t fired_count;
    _Atomic uint64_t received;
    _Atomic uint64_t writable_calls;
    _Atomic int bad_order;
    _Atomic int done;
    _Atomic int finished;
    struct actor *self;
};

static struct probe *probe_of(struct actor *a)
{
    return a->ctx;
}

static bool probe_done(void *arg)
{
    return atomic_load(&((struct probe *)arg)->done) != 0;
}

/* Sends the next messages until the total is reached or the mailbox is full. */
static void probe_pump(struct actor *a)
{
    struct probe *p = probe_of(a);
    while (p->next < p->total) {
        struct msg m = {.type = MSG_PING, .a = p->next};
        int err = actor_send(a, p->peer, &m);
        if (err == -RINGD_EFULL)
            return; /* writable() resumes */
        assert_int_equal(err, 0);
        p->next++;
    }
}

static int pump_start(struct actor *a)
{
    probe_of(a)->self = a;
    probe_pump(a);
    return 0;
}

static void pump_writable(struct actor *a, uint16_t to)
{
    assert_int_equal(to, probe_of(a)->peer);
    atomic_fetch_add(&probe_of(a)->writable_calls, 1);
    probe_pump(a);
}

static bool pump_quiescent(struct actor *a)
{
    return probe_of(a)->next == probe_of(a)->total;
}

static void count_receive(struct actor *a, const struct msg *m)
{
    struct probe *p = probe_of(a);
    if (m->a != p->expect)
        atomic_store(&p->bad_order, 1);
    p->expect++;
    for (volatile uint32_t i = 0; i < p->spin; i++) {
    }
    if (atomic_fetch_add(&p->received, 1) + 1 == p->total)
        atomic_store(&p->done, 1);
}

static void probe_finish(struct actor *a)
{
    atomic_store(&probe_of(a)->finished, 1);
}

static void ignore_receive(struct actor *a, const struct msg *m)
{
    (void)a;
    (void)m;
}

static const struct actor_ops pump_ops = {
    .start = pump_start,
    .receive = ignore_receive,
    .writable = pump_writable,
    .quiescent = pump_quiescent,
    .finish = probe_finish,
};
static const struct actor_ops count_ops = {.receive = count_receive, .finish = probe_finish};

static void run_and_stop(struct runtime *rt, struct probe *wait_for)
{
    assert_int_equal(runtime_start(rt), 0);
    assert_true(test_wait_until(probe_done, wait_for, DEADLINE_MS));
    runtime_stop(rt);
    assert_int_equal(runtime_join(rt), 0);
}

static void test_back_pressure_keeps_everything_in_order(void **state)
{
    (void)state;
    struct runtime rt;
    assert_int_equal(runtime_init(&rt), 0);
    struct probe sender = {.total = 200000, .peer = 1};
    struct probe receiver = {.total = 200000, .spin = 50};
    assert_int_equal(runtime_add(&rt, "pump", &pump_ops, &sender, true), 0);
    assert_int_equal(runtime_add(&rt, "count", &count_ops, &receiver, false), 1);
    assert_int_equal(runtime_link(&rt, 0, 1, 15), 0);
    run_and_stop(&rt, &receiver);
    assert_int_equal(atomic_load(&receiver.received), 200000);
    assert_int_equal(atomic_load(&receiver.bad_order), 0);
    /* 200000 messages through a 15-slot ring to a slower reader: the ring filled and the
     * sender was told when it drained. */
    assert_true(atomic_load(&sender.writable_calls) > 0);
    assert_int_equal(atomic_load(&sender.finished), 1);
    assert_int_equal(atomic_load(&receiver.finished), 1);
    runtime_destroy(&rt);
}

static void pingpong_receive(struct actor *a, const struct msg *m)
{
    struct probe *p = probe_of(a);
    if (m->a != p->expect)
        atomic_store(&p->bad_order, 1);
    p->expect++;
    atomic_fetch_add(&p->received, 1);
    if (m->a + 1 >= p->total) {
        atomic_store(&p->done, 1);
        if (m->type == MSG_PONG)
            return;
    }
    struct msg reply = {.type = m->type == MSG_PING ? MSG_PONG : MSG_PING, .a = m->a + 1};
    if (m->type == MSG_PING)
        reply.a = m->a; /* a pong answers the ping it got */
    assert_int_equal(actor_send(a, p->peer, &reply), 0);
}

static int pingpong_start(struct actor *a)
{
    struct msg m = {.type = MSG_PING, .a = 0};
    return actor_send(a, probe_of(a)->peer, &m);
}

static void test_ping_pong_round_trips(void **state)
{
    (void)state;
    static const struct actor_ops ping_ops = {.start = pingpong_start, .receive = pingpong_receive};
    static const struct actor_ops pong_ops = {.receive = pingpong_receive};
    struct runtime rt;
    assert_int_equal(runtime_init(&rt), 0);
    struct probe ping = {.total = 20000, .peer = 1, .expect = 0};
    struct probe pong = {.total = 20000, .peer = 0, .expect = 0};
    assert_int_equal(runtime_add(&rt, "ping", &ping_ops, &ping, true), 0);
    assert_int_equal(runtime_add(&rt, "pong", &pong_ops, &pong, true), 1);
    assert_int_equal(runtime_link(&rt, 0, 1, 7), 0);
    assert_int_equal(runtime_link(&rt, 1, 0, 7), 0);
    run_and_stop(&rt, &ping);
    assert_int_equal(atomic_load(&ping.received), 20000);
    assert_int_equal(atomic_load(&pong.received), 20000);
    assert_int_equal(atomic_load(&ping.bad_order), 0);
    assert_int_equal(atomic_load(&pong.bad_order), 0);
    runtime_destroy(&rt);
}

/* The waker polls with a 1 ms timer until the sleeper's loop says it sleeps in the kernel,
 * then sends it one message. */
static struct runtime *wake_rt;

static void waker_tick(struct timer *t, uint64_t now_ns)
{
    (void)now_ns;
    struct probe *p = (struct probe *)((char *)t - offsetof(struct probe, timer));
    struct actor *sleeper = wake_rt->actors[p->peer];
    if (atomic_load(&sleeper->loop.sleeping) == 0) {
        assert_int_equal(actor_timer_start(p->self, t, 1000000, waker_tick), 0);
        return;
    }
    struct msg m = {.type = MSG_PING, .a = 0};
    assert_int_equal(actor_send(p->self, p->peer, &m), 0);
    p->next = 1;
}

static int waker_start(struct actor *a)
{
    probe_of(a)->self = a;
    return actor_timer_start(a, &probe_of(a)->timer, 1000000, waker_tick);
}

static void test_sleeping_actor_is_woken(void **state)
{
    (void)state;
    static const struct actor_ops waker_ops = {.start = waker_start, .receive = ignore_receive};
    struct runtime rt;
    wake_rt = &rt;
    assert_int_equal(runtime_init(&rt), 0);
    struct probe waker = {.peer = 1};
    struct probe sleeper = {.total = 1};
    assert_int_equal(runtime_add(&rt, "waker", &waker_ops, &waker, true), 0);
    assert_int_equal(runtime_add(&rt, "sleeper", &count_ops, &sleeper, false), 1);
    assert_int_equal(runtime_link(&rt, 0, 1, 15), 0);
    run_and_stop(&rt, &sleeper);
    assert_int_equal(atomic_load(&sleeper.received), 1);
    assert_int_equal(waker.next, 1);
    runtime_destroy(&rt);
}

struct timed {
    struct timer t;
    uint64_t tag;
    struct probe *p;
};
static struct timed timed_set[3];

static void timed_fire(struct timer *t, uint64_t now_ns)
{
    (void)now_ns;
    struct timed *x = (struct timed *)t;
    x->p->fired[x->p->fired_count++] = x->tag;
    if (x->p->fired_count == 3)
        atomic_store(&x->p->done, 1);
}

static int timers_start(struct actor *a)
{
    struct probe *p = probe_of(a);
    /* Armed out of order; they must fire by deadline. */
    const uint64_t delays_ms[3] = {30, 10, 20};
    for (int i = 0; i < 3; i++) {
        timed_set[i] = (struct timed){.tag = delays_ms[i], .p = p};
        int err = actor_timer_start(a, &timed_set[i].t, delays_ms[i] * 1000000, timed_fire);
        if (err < 0)
            return err;
    }
    return 0;
}

static void test_timers_fire_in_order(void **state)
{
    (void)state;
    static const struct actor_ops timer_ops = {.start = timers_start, .receive = ignore_receive};
    struct runtime rt;
    assert_int_equal(runtime_init(&rt), 0);
    struct probe p = {0};
    assert_int_equal(runtime_add(&rt, "timers", &timer_ops, &p, true), 0);
    uint64_t t0 = test_now_ns();
    run_and_stop(&rt, &p);
    assert_true(test_now_ns() - t0 >= 30000000); /* none fired early */
    const uint64_t want[3] = {10, 20, 30};
    assert_memory_equal(p.fired, want, sizeof(want));
    runtime_destroy(&rt);
}

static void test_shutdown_drains_mailboxes(void **state)
{
    (void)state;
    struct runtime rt;
    assert_int_equal(runtime_init(&rt), 0);
    struct probe sender = {.total = 50000, .peer = 1};
    struct probe receiver = {.total = 50000, .spin = 20};
    assert_int_equal(runtime_add(&rt, "pump", &pump_ops, &sender, true), 0);
    assert_int_equal(runtime_add(&rt, "count", &count_ops, &receiver, false), 1);
    assert_int_equal(runtime_link(&rt, 0, 1, 255), 0);
    assert_int_equal(runtime_start(&rt), 0);
    runtime_stop(&rt); /* at once: the sender is mid-stream */
    assert_int_equal(runtime_join(&rt), 0);
    /* The sender left only when all was sent, the receiver only when all was read. */
    assert_int_equal(atomic_load(&receiver.received), 50000);
    assert_int_equal(atomic_load(&receiver.bad_order), 0);
    assert_int_equal(atomic_load(&receiver.finished), 1);
    runtime_destroy(&rt);
}

/* Many short lives of a source and a non-source: the non-source must notice its sender
 * leaving whenever that happens, including while it spins or is about to sleep. A lost
 * wake-up here hangs the test. */
static void test_shutdown_never_loses_a_leaving_sender(void **state)
{
    (void)state;
    for (int round = 0; round < 300; round++) {
        struct runtime rt;
        assert_int_equal(runtime_init(&rt), 0);
        struct probe sender = {.total = (uint64_t)(round % 7), .peer = 1};
        struct probe receiver = {.total = (uint64_t)(round % 7)};
        assert_int_equal(runtime_add(&rt, "pump", &pump_ops, &sender, true), 0);
        assert_int_equal(runtime_add(&rt, "count", &count_ops, &receiver, false), 1);
        assert_int_equal(runtime_link(&rt, 0, 1, 3), 0);
        rt.actors[1]->spin_ns = (round % 2) ? 20000 : 0;
        assert_int_equal(runtime_start(&rt), 0);
        runtime_stop(&rt);
        assert_int_equal(runtime_join(&rt), 0);
        assert_int_equal(atomic_load(&receiver.received), receiver.total);
        runtime_destroy(&rt);
    }
}

static int failing_start(struct actor *a)
{
    (void)a;
    return -EADDRINUSE;
}

static void test_failed_start_stops_everything(void **state)
{
    (void)state;
    static const struct actor_ops failing_ops = {.start = failing_start, .receive = ignore_receive};
    struct runtime rt;
    assert_int_equal(runtime_init(&rt), 0);
    struct probe idle = {0};
    assert_int_equal(runtime_add(&rt, "idle", &count_ops, &idle, true), 0);
    assert_int_equal(runtime_add(&rt, "failing", &failing_ops, NULL, true), 1);
    assert_int_equal(runtime_start(&rt), 0);
    assert_int_equal(runtime_join(&rt), -EADDRINUSE);
    assert_int_equal(atomic_load(&idle.finished), 1);
    runtime_destroy(&rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_back_pressure_keeps_everything_in_order),
        cmocka_unit_test(test_ping_pong_round_trips),
        cmocka_unit_test(test_sleeping_actor_is_woken),
        cmocka_unit_test(test_timers_fire_in_order),
        cmocka_unit_test(test_shutdown_drains_mailboxes),
        cmocka_unit_test(test_shutdown_never_loses_a_leaving_sender),
        cmocka_unit_test(test_failed_start_stops_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
