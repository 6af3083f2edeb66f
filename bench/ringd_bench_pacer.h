/* Open-loop scheduling for ringd-bench's --rate: operation k is due at start + k / rate,
 * whatever happened to the operations before it. A sender takes due operations in order with
 * their intended send times and measures latency from those, not from when it got around to
 * sending, so a server that stalls is charged for the queue it causes (no coordinated
 * omission). Times are computed from k each time, so there is no drift and no buffer: a
 * backlog is just the difference between the due count and the operations taken.
 *
 * Pure arithmetic: times come in as arguments. Thread: one pacer, one thread. */
#ifndef RINGD_BENCH_PACER_H
#define RINGD_BENCH_PACER_H

#include <stdint.h>

struct rbench_pacer {
    uint64_t start_ns; /* when operation 0 is due */
    uint64_t rate;     /* operations per second, > 0 */
    uint64_t next;     /* index of the next operation to take */
};

void rbench_pacer_init(struct rbench_pacer *p, uint64_t rate_per_s, uint64_t start_ns);

/* When operation index is due: start + index * 1e9 / rate, rounded down to the nanosecond. */
uint64_t rbench_pacer_intended_ns(const struct rbench_pacer *p, uint64_t index);

/* How many operations not yet taken are due at now_ns (0 before the next one's time). */
uint64_t rbench_pacer_due(const struct rbench_pacer *p, uint64_t now_ns);

/* Takes the next operation (due or not) and returns its intended send time. */
uint64_t rbench_pacer_take(struct rbench_pacer *p);

/* The intended send time of the next operation to take. */
uint64_t rbench_pacer_next_ns(const struct rbench_pacer *p);

#endif
