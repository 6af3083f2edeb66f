/* Open-loop send times (see ringd_bench_pacer.h). */
#include "ringd_bench_pacer.h"

#include "ringd_assert.h"

#define NS_PER_S 1000000000u

void rbench_pacer_init(struct rbench_pacer *p, uint64_t rate_per_s, uint64_t start_ns)
{
    ASSERT(rate_per_s > 0 && rate_per_s <= NS_PER_S);
    *p = (struct rbench_pacer){.start_ns = start_ns, .rate = rate_per_s, .next = 0};
}

uint64_t rbench_pacer_intended_ns(const struct rbench_pacer *p, uint64_t index)
{
    /* 128-bit so that a billion operations at any rate neither overflow nor drift. */
    unsigned __int128 offset = (unsigned __int128)index * NS_PER_S / p->rate;
    ASSERT(offset <= UINT64_MAX - p->start_ns);
    return p->start_ns + (uint64_t)offset;
}

uint64_t rbench_pacer_due(const struct rbench_pacer *p, uint64_t now_ns)
{
    if (now_ns < p->start_ns)
        return 0;
    /* The operations with index * 1e9 / rate <= now - start: indexes 0 .. floor(...). */
    unsigned __int128 elapsed = now_ns - p->start_ns;
    unsigned __int128 last = elapsed * p->rate / NS_PER_S;
    /* Rounding down in intended_ns can make operation last + 1 due as well (never last + 2:
     * the rate is at most one per nanosecond, so two steps are at least 1 ns apart). */
    if (rbench_pacer_intended_ns(p, (uint64_t)last + 1u) <= now_ns)
        last++;
    DASSERT(rbench_pacer_intended_ns(p, (uint64_t)last + 1u) > now_ns);
    uint64_t due_total = (uint64_t)last + 1u;
    return due_total > p->next ? due_total - p->next : 0;
}

uint64_t rbench_pacer_take(struct rbench_pacer *p)
{
    uint64_t t = rbench_pacer_intended_ns(p, p->next);
    p->next++;
    return t;
}

uint64_t rbench_pacer_next_ns(const struct rbench_pacer *p)
{
    return rbench_pacer_intended_ns(p, p->next);
}
