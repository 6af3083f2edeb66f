/* A linearizability checker for the simulator's key-value histories (Wing and Gong's search
 * with Lowe's memoization of (linearized set, state), as porcupine does it). Keys are
 * independent registers, so each key's history is checked on its own. An operation whose
 * outcome is unknown (the client timed out) may take effect at any time after its call, or
 * never; a read with unknown outcome constrains nothing and is left out. The search is bounded
 * (operations per key, steps, memo entries): past a bound the answer is "undecided", never a
 * run that does not end. Not thread-safe: one checker object per thread. */
#ifndef RINGD_SIM_LINEAR_H
#define RINGD_SIM_LINEAR_H

#include <stdbool.h>
#include <stdint.h>

#include "sim_kv.h"

#define SIM_LINEAR_UNKNOWN UINT64_MAX /* ret of an operation whose outcome is unknown */
#define SIM_LINEAR_OPS_MAX 256        /* operations per key the search takes on */

/* One completed (or timed out) client operation. */
struct sim_linear_op {
    uint8_t kind; /* SIM_OP_PUT, SIM_OP_GET or SIM_OP_READ (both reads), SIM_OP_CAS */
    uint8_t key;
    uint32_t arg;  /* put: the value; cas: the expected value */
    uint32_t arg2; /* cas: the new value */
    uint64_t call; /* when the client sent it */
    uint64_t ret;  /* when the answer came, or SIM_LINEAR_UNKNOWN */
    uint32_t out;  /* reads: the value seen (0: none); cas: 1 when it swapped */
};

enum sim_linear_result {
    SIM_LINEAR_OK,
    SIM_LINEAR_VIOLATION,
    SIM_LINEAR_UNDECIDED,
};

struct sim_linear_report {
    uint32_t key;   /* the key that failed or was undecided */
    uint32_t ops;   /* its operations */
    uint64_t steps; /* search steps over all keys */
};

struct sim_linear;

/* Allocates the checker's working memory once. NULL when memory runs out. */
struct sim_linear *sim_linear_create(void);
void sim_linear_destroy(struct sim_linear *l);

/* Checks ops[0..n) (any order) with at most steps_max search steps per key. */
enum sim_linear_result sim_linear_check(struct sim_linear *l, const struct sim_linear_op *ops,
                                        uint32_t n, uint64_t steps_max,
                                        struct sim_linear_report *report);

#endif
