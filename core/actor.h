/* An actor: a thread-owned state machine that only receives messages. Each actor runs on its
 * own thread with its own io_uring loop and timer heap, drains its inbound mailboxes in
 * batches, and sleeps in io_uring_enter when there is nothing to do.
 *
 * Thread: every function here runs on the actor's own thread unless it says otherwise. */
#ifndef RINGD_ACTOR_H
#define RINGD_ACTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "mailbox.h"
#include "msg.h"
#include "ringd_limits.h"
#include "timer.h"

struct actor;
struct runtime;

/* What an actor does; every member but receive may be NULL. */
struct actor_ops {
    /* First call on the actor's thread. A negative return stops the whole runtime. */
    int (*start)(struct actor *a);
    /* One message from actor m->from. */
    void (*receive)(struct actor *a, const struct msg *m);
    /* The mailbox to actor `to` has room again after actor_send returned -RINGD_EFULL. */
    void (*writable)(struct actor *a, uint16_t to);
    /* Shutdown has begun: take no new work (close listeners, cancel their requests). */
    void (*stop)(struct actor *a);
    /* During shutdown: true once nothing the actor started is still in flight (no request
     * awaiting a reply). NULL means always true. */
    bool (*quiescent)(struct actor *a);
    /* Last call on the actor's thread, after its mailboxes are drained: sync and release. */
    void (*finish)(struct actor *a);
};

enum actor_state {
    ACTOR_CREATED = 0,
    ACTOR_RUNNING,
    ACTOR_STOPPING,
    ACTOR_EXITED,
};

struct actor {
    uint16_t id;
    char name[ACTOR_NAME_BYTES_MAX];
    const struct actor_ops *ops;
    void *ctx; /* the owner's state, for the ops */
    /* A source actor (one that takes work from outside, like a shard) leaves at shutdown as
     * soon as it is quiescent; any other actor also waits until every actor sending to it
     * has left, so it never leaves work behind in a mailbox. Sources break the cycle
     * shard -> raft -> apply -> shard. */
    bool source;
    /* Before sleeping, poll the mailboxes and the ring this long (0: sleep at once). A short
     * poll saves the eventfd round trip when the next message is microseconds away; an idle
     * actor still ends up asleep in the kernel. Set before runtime_start. */
    uint64_t spin_ns;
    struct runtime *rt;
    pthread_t thread;
    struct io_loop loop;
    struct timer_heap timers;
    struct mailbox *inbox[ACTORS_MAX];  /* by sender id; NULL where there is no link */
    struct mailbox *outbox[ACTORS_MAX]; /* by receiver id */
    uint16_t senders[ACTORS_MAX];       /* ids with an inbox, in link order */
    uint16_t senders_count;
    /* Bit i: actor i sends only answers to this actor's own requests (runtime_link_replies), so
     * leaving need not wait for it: the quiescent check already waits for the answers. */
    uint64_t replies_mask;
    uint64_t wake_mask; /* bit i: sent to actor i this turn; its wake-up is still owed */
    /* Bit i set by actor i when the mailbox from us to it has room again. Written by other
     * threads, so it starts its own cache line (which also makes sizeof a multiple of 64, as
     * aligned_alloc requires). */
    _Alignas(64) _Atomic uint64_t writable_mask;
    _Atomic uint32_t state; /* enum actor_state; read by other actors */
};

/* Sends a copy of m (m->from is filled in) to actor `to`; a link from this actor to `to` must
 * exist. Returns 0; -RINGD_EFULL when the mailbox is full (the caller keeps m and gets
 * ops->writable(to) when there is room); -EPIPE when `to` has left (shutdown only). */
int actor_send(struct actor *a, uint16_t to, struct msg *m);

/* Arms t to fire after delay_ns on this actor's thread. Returns 0 or -RINGD_EFULL. */
int actor_timer_start(struct actor *a, struct timer *t, uint64_t delay_ns, timer_fn fn);
void actor_timer_stop(struct actor *a, struct timer *t);

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC). Any thread. */
uint64_t actor_now_ns(void);

/* The thread body the runtime starts for each actor. */
void *actor_main(void *arg);

#endif
