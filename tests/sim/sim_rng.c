/* xoshiro256** (Blackman and Vigna), seeded by splitmix64 as its authors advise. */
#include "sim_rng.h"

#include "ringd_assert.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
    ASSERT((r->s[0] | r->s[1] | r->s[2] | r->s[3]) != 0); /* the one state xoshiro cannot leave */
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
    ASSERT(n > 0);
    return sim_rng_next(r) % n;
}

uint64_t sim_rng_range(struct sim_rng *r, uint64_t lo, uint64_t hi)
{
    ASSERT(lo <= hi);
    return lo + sim_rng_below(r, hi - lo + 1);
}

bool sim_rng_chance(struct sim_rng *r, uint32_t per_mille)
{
    return sim_rng_below(r, 1000) < per_mille;
}
