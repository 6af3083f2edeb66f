/* The keys and values ringd-bench writes and reads. A key is key_size bytes: its number in
 * decimal, zero-padded on the left, so byte order is number order and a range of numbers is a
 * key range. Operation i uses key i % space with --sequential-keys, else a random key from a
 * seeded generator (the same seed gives the same keys on every server). The value is val_size
 * random bytes made once.
 *
 * Ownership: init allocates the value, free releases it. Thread: one thread. */
#ifndef RINGD_BENCH_KEYS_H
#define RINGD_BENCH_KEYS_H

#include <stdbool.h>
#include <stdint.h>

struct rbench_keys {
    uint32_t key_size;
    uint64_t space;
    bool sequential;
    uint64_t rng;
    uint8_t *value;
    uint32_t value_size;
};

/* Returns 0 or -ENOMEM. space must be > 0 and fit in key_size digits. */
int rbench_keys_init(struct rbench_keys *k, uint32_t key_size, uint64_t space, bool sequential,
                     uint64_t seed, uint32_t value_size);
void rbench_keys_free(struct rbench_keys *k);

/* The key number operation op_index uses. */
uint64_t rbench_keys_pick(struct rbench_keys *k, uint64_t op_index);

/* Writes key number n (< 10^key_size) as key_size bytes to out. */
void rbench_keys_format(const struct rbench_keys *k, uint64_t n, uint8_t *out);

/* The next pseudo-random number of the generator (splitmix64). */
uint64_t rbench_keys_random(struct rbench_keys *k);

#endif
