/* A binary min-heap on (time, sequence): no allocation, bounded by the caller's storage. */
#include "sim_sched.h"

#include "ringd_assert.h"

void sim_sched_init(struct sim_sched *s, struct sim_event *storage, uint32_t cap)
{
    ASSERT(storage != NULL && cap > 0);
    *s = (struct sim_sched){.heap = storage, .cap = cap};
}

static bool before(const struct sim_event *a, const struct sim_event *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void swap(struct sim_event *a, struct sim_event *b)
{
    struct sim_event t = *a;
    *a = *b;
    *b = t;
}

bool sim_sched_after(struct sim_sched *s, sim_us delay, uint8_t kind, uint32_t a, uint64_t b)
{
    if (s->n == s->cap)
        return false;
    uint32_t i = s->n++;
    s->heap[i] =
        (struct sim_event){.at = s->now + delay, .seq = s->seq++, .kind = kind, .a = a, .b = b};
    while (i > 0 && before(&s->heap[i], &s->heap[(i - 1) / 2])) {
        swap(&s->heap[i], &s->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    return true;
}

bool sim_sched_pop(struct sim_sched *s, struct sim_event *out)
{
    if (s->n == 0)
        return false;
    *out = s->heap[0];
    ASSERT(out->at >= s->now); /* time never goes back */
    s->now = out->at;
    s->heap[0] = s->heap[--s->n];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && before(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->n && before(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            return true;
        swap(&s->heap[i], &s->heap[m]);
        i = m;
    }
}
