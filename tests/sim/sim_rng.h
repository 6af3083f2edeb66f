/* The simulator's one source of randomness: xoshiro256** seeded from the run's 64-bit seed by
 * splitmix64, so the same seed gives the same run, byte for byte. Nothing in the simulator
 * calls rand() or reads a clock. */
#ifndef RINGD_SIM_RNG_H
#define RINGD_SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct sim_rng {
    uint64_t s[4];
};

/* Any seed, 0 included, gives a good sequence. */
void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *r);
/* Uniform enough in [0, n) for a simulation; n > 0. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n);
/* Uniform in [lo, hi]; lo <= hi. */
uint64_t sim_rng_range(struct sim_rng *r, uint64_t lo, uint64_t hi);
/* True with probability per_mille / 1000. */
bool sim_rng_chance(struct sim_rng *r, uint32_t per_mille);

#endif
