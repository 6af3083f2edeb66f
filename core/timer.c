#include "timer.h"

#include <errno.h>
#include <stdlib.h>

#include "ringd_assert.h"
#include "ringd_error.h"
#include "ringd_limits.h"

int timer_heap_init(struct timer_heap *h, uint32_t capacity)
{
    ASSERT(capacity > 0 && capacity <= TIMERS_PER_THREAD_MAX);
    h->items = calloc(capacity, sizeof(h->items[0]));
    if (h->items == NULL)
        return -ENOMEM;
    h->count = 0;
    h->capacity = capacity;
    return 0;
}

void timer_heap_destroy(struct timer_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->count = 0;
}

static void heap_place(struct timer_heap *h, uint32_t i, struct timer *t)
{
    h->items[i] = t;
    t->slot = i + 1;
}

static void heap_sift_up(struct timer_heap *h, uint32_t i)
{
    struct timer *t = h->items[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->items[parent]->deadline_ns <= t->deadline_ns)
            break;
        heap_place(h, i, h->items[parent]);
        i = parent;
    }
    heap_place(h, i, t);
}

static void heap_sift_down(struct timer_heap *h, uint32_t i)
{
    struct timer *t = h->items[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->items[child + 1]->deadline_ns < h->items[child]->deadline_ns)
            child++;
        if (t->deadline_ns <= h->items[child]->deadline_ns)
            break;
        heap_place(h, i, h->items[child]);
        i = child;
    }
    heap_place(h, i, t);
}

static void heap_remove_at(struct timer_heap *h, uint32_t i)
{
    ASSERT(i < h->count);
    struct timer *removed = h->items[i];
    removed->slot = 0;
    h->count--;
    if (i == h->count)
        return;
    heap_place(h, i, h->items[h->count]);
    heap_sift_down(h, i);
    heap_sift_up(h, h->items[i]->slot - 1);
}

int timer_arm(struct timer_heap *h, struct timer *t, uint64_t deadline_ns, timer_fn fn)
{
    ASSERT(fn != NULL);
    if (timer_armed(t)) {
        ASSERT(h->items[t->slot - 1] == t);
        heap_remove_at(h, t->slot - 1);
    } else if (h->count == h->capacity) {
        return -RINGD_EFULL;
    }
    t->deadline_ns = deadline_ns;
    t->fn = fn;
    heap_place(h, h->count, t);
    h->count++;
    heap_sift_up(h, h->count - 1);
    return 0;
}

void timer_cancel(struct timer_heap *h, struct timer *t)
{
    if (!timer_armed(t))
        return;
    ASSERT(h->items[t->slot - 1] == t);
    heap_remove_at(h, t->slot - 1);
}

uint64_t timer_next_deadline_ns(const struct timer_heap *h)
{
    return h->count == 0 ? UINT64_MAX : h->items[0]->deadline_ns;
}

uint32_t timer_expire(struct timer_heap *h, uint64_t now_ns)
{
    uint32_t budget = h->count;
    uint32_t fired = 0;
    while (fired < budget && h->count > 0 && h->items[0]->deadline_ns <= now_ns) {
        struct timer *t = h->items[0];
        heap_remove_at(h, 0);
        fired++;
        t->fn(t, now_ns);
    }
    return fired;
}
