/* Messages between two threads through ringd's mailboxes: throughput one way and round-trip
 * latency, for the bare mailbox between two spinning threads (the ceiling) and for real actors
 * (wake-up handshake, batching, back-pressure included), sleeping or busy-polling when idle.
 * Run: build/release/bench/bench_ring (see docs/PERFORMANCE.md). */
#include <pthread.h>
#include <stdio.h>

#include "bench_harness.h"
#include "mailbox.h"
#include "ringd_assert.h"
#include "ringd_error.h"
#include "runtime.h"

#define RING_CAPACITY 4095
#define SPIN_NS       (50u * 1000u)

/* --- bare mailbox between two pthreads ------------------------------------------------- */

struct raw_pair {
    struct mailbox to_peer;
    struct mailbox to_bench; /* round trips only */
    uint64_t total;
    bool echo;
};

static void *raw_peer(void *arg)
{
    struct raw_pair *p = arg;
    struct msg m;
    for (uint64_t got = 0; got < p->total;) {
        if (!mailbox_pop(&p->to_peer, &m)) {
            __builtin_ia32_pause();
            continue;
        }
        got++;
        if (p->echo) {
            m.type = MSG_PONG;
            while (!mailbox_push(&p->to_bench, &m))
                __builtin_ia32_pause();
        }
    }
    return NULL;
}

static void raw_run(struct bench_state *s, bool echo)
{
    struct raw_pair p = {.echo = echo};
    ASSERT(mailbox_init(&p.to_peer, RING_CAPACITY, 0, 1) == 0);
    ASSERT(mailbox_init(&p.to_bench, RING_CAPACITY, 1, 0) == 0);
    uint64_t n = bench_next_batch(s, 0);
    p.total = n;
    pthread_t peer;
    ASSERT(pthread_create(&peer, NULL, raw_peer, &p) == 0);
    struct msg m = {.type = MSG_PING};
    for (uint64_t i = 0; i < n; i++) {
        m.a = i;
        while (!mailbox_push(&p.to_peer, &m))
            __builtin_ia32_pause();
        if (echo) {
            while (!mailbox_pop(&p.to_bench, &m))
                __builtin_ia32_pause();
        }
    }
    pthread_join(peer, NULL);
    ASSERT(bench_next_batch(s, 0) == 0);
    bench_set_items_processed(s, (int64_t)n);
    mailbox_destroy(&p.to_peer);
    mailbox_destroy(&p.to_bench);
}

static void bm_mailbox_one_way(struct bench_state *s)
{
    raw_run(s, false);
}

static void bm_mailbox_round_trip(struct bench_state *s)
{
    raw_run(s, true);
}

/* --- actors ---------------------------------------------------------------------------- */

struct actor_pair {
    uint64_t total;
    uint64_t sent;
    uint64_t received;
};

/* One way: the producer sends until the mailbox is full and resumes on writable(). */
static void producer_pump(struct actor *a)
{
    struct actor_pair *p = a->ctx;
    struct msg m = {.type = MSG_PING};
    while (p->sent < p->total) {
        m.a = p->sent;
        if (actor_send(a, 1, &m) == -RINGD_EFULL)
            return;
        p->sent++;
    }
}

static int producer_start(struct actor *a)
{
    producer_pump(a);
    return 0;
}

static void producer_writable(struct actor *a, uint16_t to)
{
    (void)to;
    producer_pump(a);
}

static bool producer_quiescent(struct actor *a)
{
    struct actor_pair *p = a->ctx;
    return p->sent == p->total;
}

static void consumer_receive(struct actor *a, const struct msg *m)
{
    struct actor_pair *p = a->ctx;
    ASSERT(m->a == p->received);
    if (++p->received == p->total)
        runtime_stop(a->rt);
}

static void nothing_receive(struct actor *a, const struct msg *m)
{
    (void)a;
    (void)m;
}

/* Round trip: the pinger sends one ping, the ponger answers, the pinger sends the next. */
static int pinger_start(struct actor *a)
{
    struct msg m = {.type = MSG_PING, .a = 0};
    return actor_send(a, 1, &m);
}

static void pinger_receive(struct actor *a, const struct msg *m)
{
    struct actor_pair *p = a->ctx;
    if (++p->received == p->total) {
        runtime_stop(a->rt);
        return;
    }
    struct msg next = {.type = MSG_PING, .a = m->a + 1};
    int err = actor_send(a, 1, &next);
    ASSERT(err == 0); /* one message in flight: never full */
}

static void ponger_receive(struct actor *a, const struct msg *m)
{
    struct msg pong = *m;
    pong.type = MSG_PONG;
    int err = actor_send(a, 0, &pong);
    ASSERT(err == 0);
}

static const struct actor_ops producer_ops = {.start = producer_start,
                                              .receive = nothing_receive,
                                              .writable = producer_writable,
                                              .quiescent = producer_quiescent};
static const struct actor_ops consumer_ops = {.receive = consumer_receive};
static const struct actor_ops pinger_ops = {.start = pinger_start, .receive = pinger_receive};
static const struct actor_ops ponger_ops = {.receive = ponger_receive};

/* Runs two actors until the side that counts has seen every message and stops the runtime;
 * the benchmark thread meanwhile blocks in join, leaving both cores to the actors. The
 * iteration count is the number of messages (one way) or round trips; the time includes the
 * threads' start and shutdown, which is small against millions of messages. */
static void actors_run(struct bench_state *s, const struct actor_ops *first,
                       const struct actor_ops *second, bool round_trip, uint64_t spin_ns)
{
    struct runtime rt;
    struct actor_pair first_pair = {0}, second_pair = {0};
    if (runtime_init(&rt) != 0) {
        bench_skip_with_error(s, "runtime_init failed");
        return;
    }
    uint64_t n = bench_next_batch(s, 0);
    first_pair.total = n;
    second_pair.total = n;
    ASSERT(runtime_add(&rt, "bench-a", first, &first_pair, true) == 0);
    ASSERT(runtime_add(&rt, "bench-b", second, &second_pair, !round_trip) == 1);
    ASSERT(runtime_link(&rt, 0, 1, RING_CAPACITY) == 0);
    ASSERT(runtime_link(&rt, 1, 0, RING_CAPACITY) == 0);
    rt.actors[0]->spin_ns = spin_ns;
    rt.actors[1]->spin_ns = spin_ns;
    ASSERT(runtime_start(&rt) == 0);
    ASSERT(runtime_join(&rt) == 0);
    ASSERT(bench_next_batch(s, 0) == 0);
    runtime_destroy(&rt);
    bench_set_items_processed(s, (int64_t)n);
}

static void bm_actor_one_way(struct bench_state *s)
{
    actors_run(s, &producer_ops, &consumer_ops, false, 0);
}

static void bm_actor_one_way_spin(struct bench_state *s)
{
    actors_run(s, &producer_ops, &consumer_ops, false, SPIN_NS);
}

static void bm_actor_round_trip_sleeping(struct bench_state *s)
{
    actors_run(s, &pinger_ops, &ponger_ops, true, 0);
}

static void bm_actor_round_trip_spin(struct bench_state *s)
{
    actors_run(s, &pinger_ops, &ponger_ops, true, SPIN_NS);
}

int main(int argc, char **argv)
{
    /* Real time: the work happens on other threads while the benchmark thread waits. */
    const struct bench_def defs[] = {
        {"mailbox/one_way", {.use_real_time = true}, bm_mailbox_one_way},
        {"mailbox/round_trip", {.use_real_time = true}, bm_mailbox_round_trip},
        {"actor/one_way", {.use_real_time = true}, bm_actor_one_way},
        {"actor/one_way_spin", {.use_real_time = true}, bm_actor_one_way_spin},
        {"actor/round_trip_sleeping",
         {.use_real_time = true, .unit = BENCH_UNIT_US},
         bm_actor_round_trip_sleeping},
        {"actor/round_trip_spin", {.use_real_time = true}, bm_actor_round_trip_spin},
    };
    bench_register_table(defs, BENCH_LEN(defs));
    return bench_main(argc, argv);
}
