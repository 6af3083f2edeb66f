/* The search walks a doubly linked list of call and return events in time order. Taking an
 * operation (its call is reachable before any return) lifts its two events out and pushes it on
 * an explicit stack; reaching a return event means the operation it belongs to cannot come
 * later, so the search backtracks. A (linearized set, state) pair seen before is a dead end:
 * the memo. */
#include "sim_linear.h"

#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"

#define WORDS       (SIM_LINEAR_OPS_MAX / 64)
#define EVENTS_MAX  (2 * SIM_LINEAR_OPS_MAX)
#define NIL         UINT32_MAX
#define CACHE_SLOTS (1u << 16) /* a power of two */
#define CACHE_FILL  (CACHE_SLOTS / 4 * 3)

struct event {
    uint64_t time;
    uint32_t op;
    bool call;
};

struct memo {
    uint64_t bits[WORDS];
    uint32_t state;
    uint32_t gen; /* the slot is used when gen is the checker's current one */
};

struct frame {
    uint32_t node;
    uint32_t state;
};

struct sim_linear {
    struct sim_linear_op ops[SIM_LINEAR_OPS_MAX];
    uint32_t n_ops;
    struct event ev[EVENTS_MAX];
    /* List nodes are 1 + event index; node 0 is the head. */
    uint32_t next[EVENTS_MAX + 1];
    uint32_t prev[EVENTS_MAX + 1];
    uint32_t match[EVENTS_MAX + 1]; /* a call's return node */
    struct frame stack[SIM_LINEAR_OPS_MAX];
    uint64_t bits[WORDS];
    struct memo *memo;
    uint32_t memo_used;
    uint32_t gen;
};

struct sim_linear *sim_linear_create(void)
{
    struct sim_linear *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->memo = calloc(CACHE_SLOTS, sizeof(l->memo[0]));
    if (l->memo == NULL) {
        free(l);
        return NULL;
    }
    return l;
}

void sim_linear_destroy(struct sim_linear *l)
{
    if (l == NULL)
        return;
    free(l->memo);
    free(l);
}

/* The register's step: false when the operation cannot take effect in state. */
static bool model_step(const struct sim_linear_op *op, uint32_t state, uint32_t *next)
{
    *next = state;
    switch (op->kind) {
    case SIM_OP_PUT:
        *next = op->arg;
        return true;
    case SIM_OP_CAS:
        if (state == op->arg)
            *next = op->arg2;
        return op->ret == SIM_LINEAR_UNKNOWN || op->out == (state == op->arg);
    default:
        return op->out == state;
    }
}

static uint64_t memo_hash(const uint64_t *bits, uint32_t state)
{
    uint64_t h = state * 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 0; i < WORDS; i++)
        h = (h ^ bits[i]) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

/* 1: added; 0: seen before; -1: the memo is full. */
static int memo_add(struct sim_linear *l, uint32_t state)
{
    if (l->memo_used >= CACHE_FILL)
        return -1;
    for (uint64_t i = memo_hash(l->bits, state);; i++) {
        struct memo *m = &l->memo[i & (CACHE_SLOTS - 1)];
        if (m->gen != l->gen) {
            memcpy(m->bits, l->bits, sizeof(m->bits));
            m->state = state;
            m->gen = l->gen;
            l->memo_used++;
            return 1;
        }
        if (m->state == state && memcmp(m->bits, l->bits, sizeof(m->bits)) == 0)
            return 0;
    }
}

static int event_cmp(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->call != y->call)
        return x->call ? -1 : 1; /* at one instant: concurrent, so calls first */
    return x->op < y->op ? -1 : x->op > y->op;
}

/* Builds the event list of l->ops. */
static void build_list(struct sim_linear *l)
{
    uint32_t n = 2 * l->n_ops;
    for (uint32_t i = 0; i < l->n_ops; i++) {
        l->ev[2 * i] = (struct event){.time = l->ops[i].call, .op = i, .call = true};
        l->ev[2 * i + 1] = (struct event){.time = l->ops[i].ret, .op = i, .call = false};
    }
    qsort(l->ev, n, sizeof(l->ev[0]), event_cmp);
    uint32_t ret_node[SIM_LINEAR_OPS_MAX];
    for (uint32_t e = 0; e < n; e++)
        if (!l->ev[e].call)
            ret_node[l->ev[e].op] = e + 1;
    for (uint32_t node = 0; node <= n; node++) {
        l->next[node] = node == n ? NIL : node + 1;
        l->prev[node] = node == 0 ? NIL : node - 1;
        l->match[node] = node > 0 && l->ev[node - 1].call ? ret_node[l->ev[node - 1].op] : NIL;
    }
}

static void unlink_node(struct sim_linear *l, uint32_t node)
{
    l->next[l->prev[node]] = l->next[node];
    if (l->next[node] != NIL)
        l->prev[l->next[node]] = l->prev[node];
}

static void relink_node(struct sim_linear *l, uint32_t node)
{
    l->next[l->prev[node]] = node;
    if (l->next[node] != NIL)
        l->prev[l->next[node]] = node;
}

static void lift(struct sim_linear *l, uint32_t call)
{
    unlink_node(l, call);
    unlink_node(l, l->match[call]);
}

static void unlift(struct sim_linear *l, uint32_t call)
{
    relink_node(l, l->match[call]);
    relink_node(l, call);
}

static void bit_flip(struct sim_linear *l, uint32_t op)
{
    l->bits[op / 64] ^= 1ull << (op % 64);
}

/* Tries to take the operation whose call is node in state; true when it went on the stack. */
static bool try_take(struct sim_linear *l, uint32_t node, uint32_t *state, uint32_t *depth,
                     int *memo_rc)
{
    const struct sim_linear_op *op = &l->ops[l->ev[node - 1].op];
    uint32_t next;
    if (!model_step(op, *state, &next))
        return false;
    bit_flip(l, l->ev[node - 1].op);
    *memo_rc = memo_add(l, next);
    if (*memo_rc != 1) {
        bit_flip(l, l->ev[node - 1].op);
        return false;
    }
    ASSERT(*depth < SIM_LINEAR_OPS_MAX);
    l->stack[(*depth)++] = (struct frame){.node = node, .state = *state};
    *state = next;
    lift(l, node);
    return true;
}

static enum sim_linear_result search(struct sim_linear *l, uint64_t steps_max, uint64_t *steps)
{
    uint32_t state = 0, depth = 0, node = l->next[0];
    while (l->next[0] != NIL) {
        if (++*steps > steps_max)
            return SIM_LINEAR_UNDECIDED;
        ASSERT(node != NIL); /* every call left in the list has its return after it */
        int memo_rc = 1;
        if (l->ev[node - 1].call) {
            if (try_take(l, node, &state, &depth, &memo_rc))
                node = l->next[0];
            else if (memo_rc < 0)
                return SIM_LINEAR_UNDECIDED;
            else
                node = l->next[node];
            continue;
        }
        if (depth == 0)
            return SIM_LINEAR_VIOLATION; /* this operation can go nowhere */
        struct frame f = l->stack[--depth];
        state = f.state;
        bit_flip(l, l->ev[f.node - 1].op);
        unlift(l, f.node);
        node = l->next[f.node];
    }
    return SIM_LINEAR_OK;
}

static bool is_read(const struct sim_linear_op *op)
{
    return op->kind == SIM_OP_GET || op->kind == SIM_OP_READ;
}

/* True when op's outcome is unknown and no completed read or cas could have seen what it
 * wrote: it may then take effect last, after everything, where it changes nothing anyone saw;
 * so leaving it out gives the same answer and spares the search a branch at every step. A
 * failed cas could tell its value from the one before it, so with one on the key it stays. */
static bool unseen_write(const struct sim_linear_op *op, const struct sim_linear_op *ops,
                         uint32_t n)
{
    if (op->ret != SIM_LINEAR_UNKNOWN || is_read(op))
        return false;
    uint32_t v = op->kind == SIM_OP_PUT ? op->arg : op->arg2;
    for (uint32_t i = 0; i < n; i++) {
        const struct sim_linear_op *o = &ops[i];
        if (o->key != op->key || o->ret == SIM_LINEAR_UNKNOWN)
            continue;
        if ((is_read(o) && o->out == v) || (o->kind == SIM_OP_CAS && (o->arg == v || !o->out)))
            return false;
    }
    return true;
}

/* Gathers key's operations into l->ops; false when there are too many. */
static bool gather(struct sim_linear *l, const struct sim_linear_op *ops, uint32_t n, uint32_t key)
{
    l->n_ops = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct sim_linear_op *op = &ops[i];
        if (op->key != key || (is_read(op) && op->ret == SIM_LINEAR_UNKNOWN) ||
            unseen_write(op, ops, n))
            continue;
        if (l->n_ops == SIM_LINEAR_OPS_MAX)
            return false;
        ASSERT(op->ret == SIM_LINEAR_UNKNOWN || op->ret >= op->call);
        l->ops[l->n_ops++] = *op;
    }
    return true;
}

enum sim_linear_result sim_linear_check(struct sim_linear *l, const struct sim_linear_op *ops,
                                        uint32_t n, uint64_t steps_max,
                                        struct sim_linear_report *report)
{
    *report = (struct sim_linear_report){0};
    for (uint32_t key = 0; key < SIM_KEYS_MAX; key++) {
        report->key = key;
        if (!gather(l, ops, n, key)) {
            report->ops = SIM_LINEAR_OPS_MAX + 1;
            return SIM_LINEAR_UNDECIDED;
        }
        report->ops = l->n_ops;
        if (l->n_ops == 0)
            continue;
        build_list(l);
        memset(l->bits, 0, sizeof(l->bits));
        l->gen++;
        ASSERT(l->gen != 0); /* a slot of gen 0 would look used */
        l->memo_used = 0;
        uint64_t steps = 0;
        enum sim_linear_result r = search(l, steps_max, &steps);
        report->steps += steps;
        if (r != SIM_LINEAR_OK)
            return r;
    }
    return SIM_LINEAR_OK;
}
