#include "actor.h"

#include <errno.h>
#include <time.h>

#include "ringd_assert.h"
#include "ringd_error.h"
#include "runtime.h"

uint64_t actor_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static enum actor_state actor_state_of(const struct actor *a)
{
    return (enum actor_state)atomic_load_explicit(&a->state, memory_order_acquire);
}

int actor_send(struct actor *a, uint16_t to, struct msg *m)
{
    ASSERT(to < a->rt->count);
    struct mailbox *mb = a->outbox[to];
    ASSERT(mb != NULL); /* sending without a link is a wiring bug */
    struct actor *target = a->rt->actors[to];
    if (actor_state_of(target) == ACTOR_EXITED)
        return -EPIPE;
    m->from = a->id;
    if (!mailbox_push(mb, m)) {
        if (!mailbox_sender_wait(mb))
            return -RINGD_EFULL;
        /* Only this thread pushes, so room seen by sender_wait is still there. */
        bool pushed = mailbox_push(mb, m);
        ASSERT(pushed);
    }
    a->wake_mask |= UINT64_C(1) << to;
    return 0;
}

/* Wakes every actor sent to since the last flush: one check per receiver per turn instead of
 * one per message. Called before the loop submits or sleeps, so no wake-up is held back. */
static void actor_flush_wakes(struct actor *a)
{
    uint64_t mask = a->wake_mask;
    a->wake_mask = 0;
    while (mask != 0) {
        uint16_t to = (uint16_t)__builtin_ctzll(mask);
        mask &= mask - 1;
        io_loop_wake(&a->rt->actors[to]->loop);
    }
}

int actor_timer_start(struct actor *a, struct timer *t, uint64_t delay_ns, timer_fn fn)
{
    return timer_arm(&a->timers, t, actor_now_ns() + delay_ns, fn);
}

void actor_timer_stop(struct actor *a, struct timer *t)
{
    timer_cancel(&a->timers, t);
}

/* Tells actor `sender` that the mailbox from it to `receiver` has room again. */
static void actor_notify_writable(struct actor *sender, uint16_t receiver)
{
    atomic_fetch_or_explicit(&sender->writable_mask, UINT64_C(1) << receiver, memory_order_release);
    io_loop_wake(&sender->loop);
}

/* Handles up to MAILBOX_DRAIN_BATCH_MAX messages from each sender in turn, so one busy sender
 * cannot starve the others. */
static uint32_t actor_drain(struct actor *a)
{
    uint32_t handled = 0;
    for (uint16_t i = 0; i < a->senders_count; i++) {
        uint16_t from = a->senders[i];
        struct mailbox *mb = a->inbox[from];
        uint32_t n = 0;
        struct msg m;
        while (n < MAILBOX_DRAIN_BATCH_MAX && mailbox_pop(mb, &m)) {
            a->ops->receive(a, &m);
            n++;
        }
        if (n > 0 && mailbox_take_sender_waiting(mb))
            actor_notify_writable(a->rt->actors[from], a->id);
        handled += n;
    }
    return handled;
}

static uint32_t actor_take_writable(struct actor *a)
{
    uint64_t mask = atomic_exchange_explicit(&a->writable_mask, 0, memory_order_acquire);
    uint32_t n = 0;
    while (mask != 0) {
        uint16_t to = (uint16_t)__builtin_ctzll(mask);
        mask &= mask - 1;
        if (a->ops->writable != NULL)
            a->ops->writable(a, to);
        n++;
    }
    return n;
}

static bool actor_inboxes_empty(const struct actor *a)
{
    for (uint16_t i = 0; i < a->senders_count; i++)
        if (!mailbox_is_empty(a->inbox[a->senders[i]]))
            return false;
    return true;
}

static bool actor_may_leave(struct actor *a)
{
    if (actor_state_of(a) != ACTOR_STOPPING || !actor_inboxes_empty(a))
        return false;
    if (a->loop.in_flight != 0)
        return false;
    if (a->ops->quiescent != NULL && !a->ops->quiescent(a))
        return false;
    if (a->source)
        return true;
    for (uint16_t i = 0; i < a->senders_count; i++) {
        uint16_t from = a->senders[i];
        if (!(a->replies_mask & (1ull << from)) &&
            actor_state_of(a->rt->actors[from]) != ACTOR_EXITED)
            return false;
    }
    /* A sender may have pushed just before it left; look once more. */
    return actor_inboxes_empty(a);
}

/* Work that does not arrive through the ring, re-checked after io_loop_prepare_sleep: every
 * event here is published before its io_loop_wake, so either the re-check sees it or the wake
 * finds the sleeping flag. That includes a sender leaving, which may let this actor leave. */
static bool actor_has_pending(struct actor *a)
{
    if (atomic_load_explicit(&a->writable_mask, memory_order_relaxed) != 0)
        return true;
    if (!actor_inboxes_empty(a))
        return true;
    switch (actor_state_of(a)) {
    case ACTOR_RUNNING:
        return runtime_stopping(a->rt);
    case ACTOR_STOPPING:
        return actor_may_leave(a);
    default:
        return false;
    }
}

/* Polls for up to spin_ns (never past the next timer); true if work turned up, so the caller
 * need not sleep. */
static bool actor_spin(struct actor *a)
{
    uint64_t end_ns = actor_now_ns() + a->spin_ns;
    uint64_t timer_ns = timer_next_deadline_ns(&a->timers);
    if (timer_ns < end_ns)
        end_ns = timer_ns;
    for (uint32_t i = 0;; i++) {
        if (actor_has_pending(a) || io_loop_has_completions(&a->loop))
            return true;
        /* Reading the clock costs more than a pause: look at it every 64 polls. */
        if ((i & 63) == 63 && actor_now_ns() >= end_ns)
            return false;
        __builtin_ia32_pause();
    }
}

static void actor_sleep(struct actor *a)
{
    if (a->spin_ns > 0 && actor_spin(a)) {
        io_loop_turn(&a->loop, false, 0);
        return;
    }
    io_loop_prepare_sleep(&a->loop);
    if (actor_has_pending(a)) {
        io_loop_end_sleep(&a->loop);
        io_loop_turn(&a->loop, false, 0);
        return;
    }
    uint64_t deadline_ns = timer_next_deadline_ns(&a->timers);
    uint64_t timeout_ns = UINT64_MAX;
    if (deadline_ns != UINT64_MAX) {
        uint64_t now_ns = actor_now_ns();
        timeout_ns = deadline_ns > now_ns ? deadline_ns - now_ns : 0;
    }
    int err = io_loop_turn(&a->loop, true, timeout_ns);
    ASSERT(err >= 0); /* io_uring_enter fails only on misuse (EFAULT, EBADF, EINVAL) */
    io_loop_end_sleep(&a->loop);
}

/* One pass of the loop; returns true when the actor leaves. */
static bool actor_turn(struct actor *a)
{
    uint32_t work = actor_drain(a);
    work += actor_take_writable(a);
    work += timer_expire(&a->timers, actor_now_ns());
    if (runtime_stopping(a->rt) && actor_state_of(a) == ACTOR_RUNNING) {
        atomic_store_explicit(&a->state, ACTOR_STOPPING, memory_order_release);
        if (a->ops->stop != NULL)
            a->ops->stop(a);
        work++;
    }
    actor_flush_wakes(a);
    if (actor_may_leave(a))
        return true;
    if (work > 0) {
        int err = io_loop_turn(&a->loop, false, 0);
        ASSERT(err >= 0);
    } else {
        actor_sleep(a);
    }
    return false;
}

void *actor_main(void *arg)
{
    struct actor *a = arg;
    pthread_setname_np(pthread_self(), a->name);
    int err = io_loop_attach(&a->loop);
    if (err < 0) {
        /* Without its ring the actor can neither wait nor be woken: leave at once. */
        runtime_fail(a->rt, err);
        atomic_store_explicit(&a->state, ACTOR_EXITED, memory_order_release);
        runtime_actor_exited(a->rt, a);
        return NULL;
    }
    atomic_store_explicit(&a->state, ACTOR_RUNNING, memory_order_release);
    if (a->ops->start != NULL && (err = a->ops->start(a)) < 0)
        runtime_fail(a->rt, err);
    while (!actor_turn(a)) {
    }
    if (a->ops->finish != NULL)
        a->ops->finish(a);
    actor_flush_wakes(a);
    atomic_store_explicit(&a->state, ACTOR_EXITED, memory_order_release);
    runtime_actor_exited(a->rt, a);
    return NULL;
}
