/* Keys and values of ringd-bench (see ringd_bench_keys.h). */
#include "ringd_bench_keys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"

uint64_t rbench_keys_random(struct rbench_keys *k)
{
    uint64_t z = (k->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int rbench_keys_init(struct rbench_keys *k, uint32_t key_size, uint64_t space, bool sequential,
                     uint64_t seed, uint32_t value_size)
{
    ASSERT(key_size > 0 && space > 0);
    *k = (struct rbench_keys){
        .key_size = key_size, .space = space, .sequential = sequential, .rng = seed};
    k->value = malloc(value_size > 0 ? value_size : 1);
    if (k->value == NULL)
        return -ENOMEM;
    k->value_size = value_size;
    for (uint32_t i = 0; i < value_size; i++)
        k->value[i] = (uint8_t)rbench_keys_random(k);
    return 0;
}

void rbench_keys_free(struct rbench_keys *k)
{
    free(k->value);
    k->value = NULL;
}

uint64_t rbench_keys_pick(struct rbench_keys *k, uint64_t op_index)
{
    if (k->sequential)
        return op_index % k->space;
    return rbench_keys_random(k) % k->space;
}

void rbench_keys_format(const struct rbench_keys *k, uint64_t n, uint8_t *out)
{
    uint64_t v = n;
    for (uint32_t i = k->key_size; i > 0; i--) { /* bounded by key_size */
        out[i - 1] = (uint8_t)('0' + v % 10u);
        v /= 10u;
    }
    ASSERT(v == 0); /* the flags checked that every key number fits */
}
