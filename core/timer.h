/* A bounded min-heap of timers for one thread. It is pure: the caller passes the time in and
 * the owning actor turns the earliest deadline into its io_uring wait timeout, so timers cost
 * no submission and no syscall of their own.
 *
 * Thread: one heap and its timers belong to one thread. */
#ifndef RINGD_TIMER_H
#define RINGD_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct timer;
/* Runs on the heap's thread once the deadline has passed; the timer is disarmed first, so the
 * function may arm it again (a periodic tick). */
typedef void (*timer_fn)(struct timer *t, uint64_t now_ns);

/* Embed in its owner; zero-initialised it is disarmed. */
struct timer {
    uint64_t deadline_ns;
    uint32_t slot; /* 1 + position in the heap while armed, 0 while disarmed */
    timer_fn fn;
};

struct timer_heap {
    struct timer **items;
    uint32_t count;
    uint32_t capacity;
};

/* Room for capacity armed timers (at most TIMERS_PER_THREAD_MAX). Returns 0 or -ENOMEM. */
int timer_heap_init(struct timer_heap *h, uint32_t capacity);
void timer_heap_destroy(struct timer_heap *h);

/* Arms t to fire at deadline_ns, moving it if it is armed already. Returns 0, or
 * -RINGD_EFULL when the heap holds capacity timers (t is left as it was). */
int timer_arm(struct timer_heap *h, struct timer *t, uint64_t deadline_ns, timer_fn fn);

/* Disarms t; nothing happens if it is not armed. */
void timer_cancel(struct timer_heap *h, struct timer *t);

static inline bool timer_armed(const struct timer *t)
{
    return t->slot != 0;
}

/* The earliest deadline, or UINT64_MAX with no timer armed. */
uint64_t timer_next_deadline_ns(const struct timer_heap *h);

/* Fires every timer whose deadline is at or before now_ns, earliest first, at most as many as
 * were armed on entry (a timer re-armed into the past waits for the next call). Returns how
 * many fired. */
uint32_t timer_expire(struct timer_heap *h, uint64_t now_ns);

#endif
