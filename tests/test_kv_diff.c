/* The KV service against the reference, byte for byte: a seeded random sequence of Range, Put,
 * DeleteRange, Txn and Compact calls, valid and invalid, goes through our gRPC client to
 * Debian's etcd 3.4.23 and to a candidate (ringd; a second etcd with
 * RINGD_KV_DIFF_CANDIDATE=etcd), both fresh. Every answer must be the same: gRPC status and
 * message, and for OK the response, compared canonically (decoded, the top-level header's
 * cluster_id, member_id and raft_term zeroed, packed again). The first difference stops the
 * seed and prints the seed, the op index, the request and both answers as text, the first
 * differing line, and how to replay it:
 *
 *   RINGD_KV_DIFF_SEED=<n>          run seed n only (default: seeds 1 to 6)
 *   RINGD_KV_DIFF_OPS=<n>           calls per seed (default 1000)
 *   RINGD_KV_DIFF_VERBOSE=1         print every request and the reference's answer
 *   RINGD_KV_DIFF_CANDIDATE=etcd    the candidate is a second etcd (default ringd)
 *   RINGD_KV_DIFF_CANDIDATE_ARGS=.. extra flags for the candidate, e.g. "--max-txn-ops 64"
 *
 * What makes the reference deterministic, and what the generator must not ask:
 * - The key space is ten keys, so keys collide and no Range returns more than twelve pairs:
 *   etcd sorts with Go's sort.Sort, unstable in general but insertion sort up to twelve
 *   elements, so ties keep key order (ascending, also for DESCEND) and the order is defined.
 * - etcd panics when a Txn puts with ignore_value or ignore_lease after a from-key delete took
 *   the key (its duplicate check sees no overlap with range_end "\0"), and on a sort_target
 *   outside the enum. Txns with ignore_* puts therefore hold no deletes, and sort targets stay
 *   in the enum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "grpc_client.h"
#include "test_support.h"

#define CALL_WAIT_MS    20000
#define SEEDS_DEFAULT   6
#define OPS_DEFAULT     1000
#define ARENA_BYTES     (1u << 20)
#define TEXT_BYTES      (1u << 18)
#define PRINT_DEPTH_MAX 24
#define TXN_DEPTH_MAX   3 /* levels of Txn, the outermost included */
#define TXN_WORK_MAX    64
#define OUTCOMES_MAX    96
#define TXN_OPS_LIMIT   128 /* etcd's default --max-txn-ops, which the candidate must share */
#define LOG_TAIL_LINES  30
#define TEXT_LINES_MAX  150 /* of a request or an answer in a mismatch report */

/* ---- Randomness and memory -------------------------------------------------------------- */

static bool rng_chance(struct test_rng *r, uint32_t percent)
{
    return test_rng_below(r, 100) < percent;
}

/* One call's request lives here; reset before each call. */
static _Alignas(max_align_t) uint8_t arena[ARENA_BYTES];
static size_t arena_used;

static void *arena_alloc(size_t bytes)
{
    size_t aligned = (bytes + 15) & ~(size_t)15;
    assert_true(arena_used + aligned <= ARENA_BYTES);
    void *p = arena + arena_used;
    arena_used += aligned;
    memset(p, 0, bytes);
    return p;
}

static void *arena_copy(const void *init, size_t bytes)
{
    void *p = arena_alloc(bytes);
    memcpy(p, init, bytes);
    return p;
}

/* A message of the type, initialised with its INIT macro, in the arena. */
#define ARENA_NEW(type, init) ((type *)arena_copy(&(type)init, sizeof(type)))

static ProtobufCBinaryData bytes_copy(const void *data, size_t len)
{
    uint8_t *copy = arena_alloc(len + 1);
    memcpy(copy, data, len);
    return (ProtobufCBinaryData){.len = len, .data = copy};
}

/* ---- The generator ------------------------------------------------------------------------- */

struct bytes {
    const char *data;
    size_t len;
};

/* clang-format off */
#define B(s) {s, sizeof(s) - 1}
/* clang-format on */

/* Every key a Put may write: ten, see the top of the file. */
static const struct bytes keys[] = {B("a"),     B("b"), B("c"),     B("foo"),   B("foo/1"),
                                    B("foo/2"), B("z"), B("k\x00"), B("k\xff"), B("\xff")};
/* Range bounds that are never keys. */
static const struct bytes bounds[] = {B("\x00"),  B("0"),    B("b\x00"), B("d"),
                                      B("fo"),    B("foo/"), B("foo0"),  B("k"),
                                      B("k\xfe"), B("zz"),   B("\xfe"),  B("\xff\xff")};
static const char value_bytes[] = {'a', 'b', 'x', '1', '\0', '\xff'};

#define N_KEYS   (sizeof(keys) / sizeof(keys[0]))
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct gen {
    struct test_rng rng;
    int64_t rev;         /* the reference's revision after the last call */
    int64_t compact_rev; /* the last revision compacted; -1 before any (as etcd keeps it) */
    bool in_txn;         /* a Txn is being built */
    bool txn_ignore;     /* the Txn being built may put with ignore_*, so it holds no delete */
};

static ProtobufCBinaryData gen_key(struct gen *g)
{
    const struct bytes *k = &keys[test_rng_below(&g->rng, N_KEYS)];
    return bytes_copy(k->data, k->len);
}

/* A key or, sometimes, a bound that is no key. */
static ProtobufCBinaryData gen_key_or_bound(struct gen *g)
{
    if (!rng_chance(&g->rng, 15))
        return gen_key(g);
    const struct bytes *b = &bounds[test_rng_below(&g->rng, N_BOUNDS)];
    return bytes_copy(b->data, b->len);
}

static ProtobufCBinaryData empty_bytes(void)
{
    return (ProtobufCBinaryData){0};
}

/* A key or bound, or now and then none ("key is not provided"), less often inside a Txn whose
 * many ops would otherwise make that its usual answer. */
static ProtobufCBinaryData gen_maybe_empty_key(struct gen *g)
{
    if (test_rng_below(&g->rng, 1000) < (g->in_txn ? 4u : 20u))
        return empty_bytes();
    return gen_key_or_bound(g);
}

/* The end of key's prefix range as clientv3 computes it: trailing 0xff bytes dropped, the last
 * byte left incremented; "\0" (everything from key on) when none is left. */
static ProtobufCBinaryData prefix_end(ProtobufCBinaryData key)
{
    size_t len = key.len;
    while (len > 0 && key.data[len - 1] == 0xff)
        len--;
    if (len == 0)
        return bytes_copy("", 1);
    ProtobufCBinaryData end = bytes_copy(key.data, len);
    end.data[len - 1]++;
    return end;
}

/* No end (one key), a prefix, from the key on ("\0"), or any bound, maybe below the key. */
static ProtobufCBinaryData gen_range_end(struct gen *g, ProtobufCBinaryData key)
{
    uint32_t r = test_rng_below(&g->rng, 100);
    if (r < 40)
        return empty_bytes();
    if (r < 62)
        return prefix_end(key);
    if (r < 74)
        return bytes_copy("", 1);
    return gen_key_or_bound(g);
}

static ProtobufCBinaryData gen_value(struct gen *g)
{
    if (rng_chance(&g->rng, 15))
        return empty_bytes();
    uint8_t v[4];
    size_t len = 1 + test_rng_below(&g->rng, sizeof(v));
    for (size_t i = 0; i < len; i++)
        v[i] = (uint8_t)value_bytes[test_rng_below(&g->rng, sizeof(value_bytes))];
    return bytes_copy(v, len);
}

/* A revision in [lo, hi] (lo <= hi). */
static int64_t gen_rev_in(struct gen *g, int64_t lo, int64_t hi)
{
    return lo + (int64_t)test_rng_below(&g->rng, (uint32_t)(hi - lo + 1));
}

/* A revision to read at: 0 (now), the current one, a past one still there, a future one, a
 * compacted one, the compaction's own, or a negative one (etcd reads those as now). */
static int64_t gen_read_rev(struct gen *g)
{
    int64_t first = g->compact_rev > 1 ? g->compact_rev : 1;
    uint32_t r = test_rng_below(&g->rng, 100);
    if (r < 52)
        return 0;
    if (r < 62)
        return g->rev;
    if (r < 78)
        return gen_rev_in(g, first, g->rev);
    if (r < 86)
        return rng_chance(&g->rng, 70) ? g->rev + 1 : g->rev + 1000;
    if (r < 93 && g->compact_rev > 1)
        return gen_rev_in(g, 1, g->compact_rev - 1);
    if (r < 97 && g->compact_rev > 0)
        return g->compact_rev;
    return -1 - (int64_t)test_rng_below(&g->rng, 3);
}

/* A revision for the min/max filters and compares: anything from 0 to just past now. */
static int64_t gen_any_rev(struct gen *g)
{
    return gen_rev_in(g, 0, g->rev + 1);
}

static int64_t gen_limit(struct gen *g)
{
    uint32_t r = test_rng_below(&g->rng, 100);
    if (r < 55)
        return 0;
    if (r < 94)
        return 1 + test_rng_below(&g->rng, 4);
    return r < 97 ? -1 : 100;
}

static void gen_range_sort(struct gen *g, Etcdserverpb__RangeRequest *req)
{
    if (rng_chance(&g->rng, 45))
        return;
    req->sort_order = (Etcdserverpb__RangeRequest__SortOrder)test_rng_below(&g->rng, 3);
    req->sort_target = (Etcdserverpb__RangeRequest__SortTarget)test_rng_below(&g->rng, 5);
    if (rng_chance(&g->rng, 2)) /* outside the enum: etcd then leaves the order alone */
        req->sort_order = (Etcdserverpb__RangeRequest__SortOrder)3;
}

static Etcdserverpb__RangeRequest *gen_range(struct gen *g)
{
    Etcdserverpb__RangeRequest *req =
        ARENA_NEW(Etcdserverpb__RangeRequest, ETCDSERVERPB__RANGE_REQUEST__INIT);
    req->key = gen_maybe_empty_key(g);
    req->range_end = gen_range_end(g, req->key);
    req->limit = gen_limit(g);
    req->revision = gen_read_rev(g);
    gen_range_sort(g, req);
    req->serializable = rng_chance(&g->rng, 25);
    req->keys_only = rng_chance(&g->rng, 15);
    req->count_only = rng_chance(&g->rng, 10);
    if (rng_chance(&g->rng, 8))
        req->min_mod_revision = gen_any_rev(g);
    if (rng_chance(&g->rng, 8))
        req->max_mod_revision = gen_any_rev(g);
    if (rng_chance(&g->rng, 8))
        req->min_create_revision = gen_any_rev(g);
    if (rng_chance(&g->rng, 8))
        req->max_create_revision = gen_any_rev(g);
    return req;
}

/* ignore_value and ignore_lease, each with and without what they forbid. */
static void gen_put_ignores(struct gen *g, Etcdserverpb__PutRequest *req, uint32_t percent)
{
    if (rng_chance(&g->rng, percent)) {
        req->ignore_value = true;
        if (rng_chance(&g->rng, 60))
            req->value = empty_bytes();
    }
    if (rng_chance(&g->rng, percent)) {
        req->ignore_lease = true;
        if (rng_chance(&g->rng, 30))
            req->lease = 1 + test_rng_below(&g->rng, 100);
    }
}

static Etcdserverpb__PutRequest *gen_put(struct gen *g, bool in_txn)
{
    Etcdserverpb__PutRequest *req =
        ARENA_NEW(Etcdserverpb__PutRequest, ETCDSERVERPB__PUT_REQUEST__INIT);
    req->key = test_rng_below(&g->rng, 1000) < (in_txn ? 4u : 30u) ? empty_bytes() : gen_key(g);
    req->value = gen_value(g);
    req->prev_kv = rng_chance(&g->rng, 30);
    if (!in_txn || g->txn_ignore)
        gen_put_ignores(g, req, in_txn ? 12 : 8);
    if (req->lease == 0 && rng_chance(&g->rng, in_txn ? 2 : 4)) /* no lease exists */
        req->lease = rng_chance(&g->rng, 50) ? 1 + (int64_t)test_rng_below(&g->rng, 1000) : -1;
    return req;
}

static Etcdserverpb__DeleteRangeRequest *gen_delete(struct gen *g)
{
    Etcdserverpb__DeleteRangeRequest *req =
        ARENA_NEW(Etcdserverpb__DeleteRangeRequest, ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT);
    req->key = gen_maybe_empty_key(g);
    req->range_end = gen_range_end(g, req->key);
    req->prev_kv = rng_chance(&g->rng, 40);
    return req;
}

static void gen_compare_value(struct gen *g, Etcdserverpb__Compare *c, uint32_t target)
{
    static const Etcdserverpb__Compare__TargetUnionCase cases[] = {
        ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION,
        ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION,
        ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION, ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE,
        ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE};
    if (rng_chance(&g->rng, 6)) /* no value: etcd compares with zero or "" */
        return;
    if (rng_chance(&g->rng, 6)) /* the value of another target */
        target = test_rng_below(&g->rng, 5);
    c->target_union_case = cases[target];
    switch (c->target_union_case) {
    case ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION:
        c->version = test_rng_below(&g->rng, 4);
        break;
    case ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION:
        c->create_revision = gen_any_rev(g);
        break;
    case ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION:
        c->mod_revision = gen_any_rev(g);
        break;
    case ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE:
        c->value = gen_value(g);
        break;
    default:
        c->lease = rng_chance(&g->rng, 85) ? 0 : 1 + test_rng_below(&g->rng, 3);
        break;
    }
}

static Etcdserverpb__Compare *gen_compare(struct gen *g)
{
    Etcdserverpb__Compare *c = ARENA_NEW(Etcdserverpb__Compare, ETCDSERVERPB__COMPARE__INIT);
    c->key = gen_maybe_empty_key(g);
    uint32_t r = test_rng_below(&g->rng, 100);
    if (r >= 70)
        c->range_end = r < 82 ? prefix_end(c->key) : r < 92 ? bytes_copy("", 1) : gen_key(g);
    uint32_t target = test_rng_below(&g->rng, 5);
    c->target = (Etcdserverpb__Compare__CompareTarget)target;
    c->result = (Etcdserverpb__Compare__CompareResult)test_rng_below(&g->rng, 4);
    /* Outside the enums: etcd compares as if equal, and an unknown result holds. */
    if (rng_chance(&g->rng, 1))
        c->target = (Etcdserverpb__Compare__CompareTarget)7;
    if (rng_chance(&g->rng, 1))
        c->result = (Etcdserverpb__Compare__CompareResult)6;
    gen_compare_value(g, c, target);
    return c;
}

/* ---- Txn ---------------------------------------------------------------------------------- */

/* Nested Txns wait here to be filled, so that building them needs no recursion. */
struct txn_work {
    Etcdserverpb__TxnRequest *txn;
    uint32_t depth;
};

struct txn_queue {
    struct txn_work items[TXN_WORK_MAX];
    uint32_t count;
};

static Etcdserverpb__TxnRequest *txn_new(void)
{
    return ARENA_NEW(Etcdserverpb__TxnRequest, ETCDSERVERPB__TXN_REQUEST__INIT);
}

static Etcdserverpb__RequestOp *op_new(void)
{
    return ARENA_NEW(Etcdserverpb__RequestOp, ETCDSERVERPB__REQUEST_OP__INIT);
}

static Etcdserverpb__RequestOp *op_range(Etcdserverpb__RangeRequest *req)
{
    Etcdserverpb__RequestOp *op = op_new();
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    op->request_range = req;
    return op;
}

static Etcdserverpb__RequestOp *op_put(Etcdserverpb__PutRequest *req)
{
    Etcdserverpb__RequestOp *op = op_new();
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    op->request_put = req;
    return op;
}

static Etcdserverpb__RequestOp *op_delete(Etcdserverpb__DeleteRangeRequest *req)
{
    Etcdserverpb__RequestOp *op = op_new();
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
    op->request_delete_range = req;
    return op;
}

static Etcdserverpb__RequestOp *op_txn(Etcdserverpb__TxnRequest *req)
{
    Etcdserverpb__RequestOp *op = op_new();
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN;
    op->request_txn = req;
    return op;
}

/* One op of a Txn at depth; a nested Txn is queued to be filled later. */
static Etcdserverpb__RequestOp *gen_txn_op(struct gen *g, uint32_t depth, struct txn_queue *q)
{
    uint32_t r = test_rng_below(&g->rng, 100);
    if (r < 34)
        return op_range(gen_range(g));
    if (r < 68 || (r < 84 && g->txn_ignore))
        return op_put(gen_put(g, true));
    if (r < 84)
        return op_delete(gen_delete(g));
    if (r < 98 && depth < TXN_DEPTH_MAX && q->count < TXN_WORK_MAX) {
        Etcdserverpb__TxnRequest *nested = txn_new();
        q->items[q->count++] = (struct txn_work){.txn = nested, .depth = depth + 1};
        return op_txn(nested);
    }
    return rng_chance(&g->rng, 50) ? op_new() /* empty: "key not found" */ : op_range(gen_range(g));
}

/* A second put on a key the list already puts, or a delete over it: etcd's duplicate rules. */
static Etcdserverpb__RequestOp *gen_txn_duplicate(struct gen *g, Etcdserverpb__RequestOp **ops,
                                                  size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ops[i]->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT)
            continue;
        ProtobufCBinaryData key = ops[i]->request_put->key;
        if (g->txn_ignore || rng_chance(&g->rng, 50)) {
            Etcdserverpb__PutRequest *put = gen_put(g, true);
            put->key = key;
            return op_put(put);
        }
        Etcdserverpb__DeleteRangeRequest *del = gen_delete(g);
        del->key = key.len > 1 ? bytes_copy(key.data, key.len - 1) : key;
        del->range_end = prefix_end(del->key);
        return op_delete(del);
    }
    return op_range(gen_range(g));
}

static Etcdserverpb__RequestOp **gen_txn_ops(struct gen *g, size_t n, uint32_t depth,
                                             struct txn_queue *q)
{
    Etcdserverpb__RequestOp **ops = arena_alloc(sizeof(*ops) * (n + 1));
    for (size_t i = 0; i < n; i++)
        ops[i] = gen_txn_op(g, depth, q);
    if (n >= 2 && rng_chance(&g->rng, 6))
        ops[n - 1] = gen_txn_duplicate(g, ops, n - 1);
    return ops;
}

static void gen_txn_fill(struct gen *g, Etcdserverpb__TxnRequest *t, uint32_t depth,
                         struct txn_queue *q)
{
    t->n_compare = test_rng_below(&g->rng, 4);
    t->compare = arena_alloc(sizeof(*t->compare) * (t->n_compare + 1));
    for (size_t i = 0; i < t->n_compare; i++)
        t->compare[i] = gen_compare(g);
    t->n_success = test_rng_below(&g->rng, depth == 1 ? 5 : 3);
    t->success = gen_txn_ops(g, t->n_success, depth, q);
    t->n_failure = test_rng_below(&g->rng, depth == 1 ? 4 : 3);
    t->failure = gen_txn_ops(g, t->n_failure, depth, q);
}

/* n Range ops on "a": cheap filler for the --max-txn-ops checks. */
static Etcdserverpb__RequestOp **range_ops(size_t n)
{
    Etcdserverpb__RequestOp **ops = arena_alloc(sizeof(*ops) * (n + 1));
    Etcdserverpb__RangeRequest *req =
        ARENA_NEW(Etcdserverpb__RangeRequest, ETCDSERVERPB__RANGE_REQUEST__INIT);
    req->key = bytes_copy("a", 1);
    for (size_t i = 0; i < n; i++)
        ops[i] = op_range(req);
    return ops;
}

/* Around --max-txn-ops: compares, success or failure ops, or a nested Txn whose budget is
 * what the outer one leaves (etcd checks it against the limit minus the outer op count). */
static void gen_txn_many(struct gen *g, Etcdserverpb__TxnRequest *t)
{
    size_t n = TXN_OPS_LIMIT - 2 + test_rng_below(&g->rng, 5);
    switch (test_rng_below(&g->rng, 4)) {
    case 0:
        t->n_compare = n;
        t->compare = arena_alloc(sizeof(*t->compare) * n);
        for (size_t i = 0; i < n; i++)
            t->compare[i] = gen_compare(g);
        break;
    case 1:
        t->n_success = n, t->success = range_ops(n);
        break;
    case 2:
        t->n_failure = n, t->failure = range_ops(n);
        break;
    default: {
        size_t outer = 60 + test_rng_below(&g->rng, 60);
        Etcdserverpb__TxnRequest *nested = txn_new();
        nested->n_success = TXN_OPS_LIMIT - outer - 1 + test_rng_below(&g->rng, 3);
        nested->success = range_ops(nested->n_success);
        t->n_success = outer, t->success = range_ops(outer);
        t->success[test_rng_below(&g->rng, (uint32_t)outer)] = op_txn(nested);
        break;
    }
    }
}

static Etcdserverpb__RequestOp *put_on(struct gen *g, ProtobufCBinaryData key)
{
    Etcdserverpb__PutRequest *put = gen_put(g, true);
    put->key = key;
    return op_put(put);
}

/* A nested Txn putting key (or another) in its then and in its else branch. */
static Etcdserverpb__RequestOp *nested_puts(struct gen *g, ProtobufCBinaryData key)
{
    Etcdserverpb__TxnRequest *t = txn_new();
    t->n_compare = test_rng_below(&g->rng, 2);
    t->compare = arena_alloc(sizeof(*t->compare) * 2);
    if (t->n_compare == 1)
        t->compare[0] = gen_compare(g);
    t->n_success = 1, t->success = arena_alloc(sizeof(*t->success));
    t->success[0] = put_on(g, rng_chance(&g->rng, 70) ? key : gen_key(g));
    t->n_failure = 1, t->failure = arena_alloc(sizeof(*t->failure));
    t->failure[0] = put_on(g, rng_chance(&g->rng, 70) ? key : gen_key(g));
    return op_txn(t);
}

/* etcd's duplicate rules across levels, aimed at: one key put in a nested Txn's then and else
 * branches (allowed), against a put or a delete over it in the outer list or a sibling Txn. */
static void gen_txn_nested_duplicates(struct gen *g, Etcdserverpb__TxnRequest *t)
{
    ProtobufCBinaryData key = gen_key(g);
    t->n_success = 2 + test_rng_below(&g->rng, 2);
    t->success = arena_alloc(sizeof(*t->success) * t->n_success);
    for (size_t i = 0; i < t->n_success; i++) {
        uint32_t r = test_rng_below(&g->rng, 100);
        if (r < 25) {
            t->success[i] = put_on(g, key);
        } else if (r < 45) {
            Etcdserverpb__DeleteRangeRequest *del = gen_delete(g);
            del->key = key;
            del->range_end = rng_chance(&g->rng, 50) ? empty_bytes() : prefix_end(key);
            t->success[i] = op_delete(del);
        } else {
            t->success[i] = nested_puts(g, key);
        }
    }
    t->n_compare = test_rng_below(&g->rng, 2);
    t->compare = arena_alloc(sizeof(*t->compare) * 2);
    if (t->n_compare == 1)
        t->compare[0] = gen_compare(g);
}

static Etcdserverpb__TxnRequest *gen_txn(struct gen *g)
{
    Etcdserverpb__TxnRequest *top = txn_new();
    uint32_t r = test_rng_below(&g->rng, 100);
    g->in_txn = true;
    if (r < 4)
        gen_txn_many(g, top);
    else if (r < 12)
        gen_txn_nested_duplicates(g, top);
    if (r < 12) {
        g->in_txn = false;
        return top;
    }
    g->txn_ignore = rng_chance(&g->rng, 25);
    struct txn_queue q = {.count = 1};
    q.items[0] = (struct txn_work){.txn = top, .depth = 1};
    while (q.count > 0) {
        struct txn_work w = q.items[--q.count];
        gen_txn_fill(g, w.txn, w.depth, &q);
    }
    g->txn_ignore = false, g->in_txn = false;
    return top;
}

/* A revision to compact: now, a past one, one already compacted, a future one, 0 or below. */
static Etcdserverpb__CompactionRequest *gen_compact(struct gen *g)
{
    Etcdserverpb__CompactionRequest *req =
        ARENA_NEW(Etcdserverpb__CompactionRequest, ETCDSERVERPB__COMPACTION_REQUEST__INIT);
    int64_t first = g->compact_rev > 1 ? g->compact_rev : 1;
    uint32_t r = test_rng_below(&g->rng, 100);
    if (r < 25)
        req->revision = g->rev;
    else if (r < 55)
        req->revision = gen_rev_in(g, first, g->rev);
    else if (r < 70)
        req->revision = gen_rev_in(g, 0, first);
    else if (r < 82)
        req->revision = g->rev + 1 + test_rng_below(&g->rng, 10);
    else if (r < 92)
        req->revision = 0;
    else
        req->revision = -1 - (int64_t)test_rng_below(&g->rng, 3);
    req->physical = rng_chance(&g->rng, 50);
    return req;
}

/* ---- Calls -------------------------------------------------------------------------------- */

struct call {
    const char *method; /* "Put" */
    const char *path;   /* "/etcdserverpb.KV/Put" */
    const ProtobufCMessage *request;
    const ProtobufCMessageDescriptor *response;
};

static struct call gen_call(struct gen *g)
{
    arena_used = 0;
    uint32_t r = test_rng_below(&g->rng, 100);
    if (r < 28)
        return (struct call){"Put", "/etcdserverpb.KV/Put", &gen_put(g, false)->base,
                             &etcdserverpb__put_response__descriptor};
    if (r < 58)
        return (struct call){"Range", "/etcdserverpb.KV/Range", &gen_range(g)->base,
                             &etcdserverpb__range_response__descriptor};
    if (r < 70)
        return (struct call){"DeleteRange", "/etcdserverpb.KV/DeleteRange", &gen_delete(g)->base,
                             &etcdserverpb__delete_range_response__descriptor};
    if (r < 96)
        return (struct call){"Txn", "/etcdserverpb.KV/Txn", &gen_txn(g)->base,
                             &etcdserverpb__txn_response__descriptor};
    return (struct call){"Compact", "/etcdserverpb.KV/Compact", &gen_compact(g)->base,
                         &etcdserverpb__compaction_response__descriptor};
}

/* The response's top-level header (every KV response has one as field "header"), or NULL. */
static Etcdserverpb__ResponseHeader *response_header(ProtobufCMessage *response)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(response->descriptor, "header");
    if (f == NULL || f->descriptor != &etcdserverpb__response_header__descriptor)
        return NULL;
    return *(Etcdserverpb__ResponseHeader **)((uint8_t *)response + f->offset);
}

/* A response in canonical form: what differs between any two members by nature zeroed (the
 * top-level header's cluster_id, member_id and raft_term; a Txn's inner headers carry only a
 * revision in etcd and are compared as they are), then packed again. */
struct canon {
    uint8_t *bytes; /* malloc'd; NULL without a response */
    size_t len;
};

static struct canon canon_make(ProtobufCMessage *response)
{
    struct canon c = {0};
    if (response == NULL)
        return c;
    Etcdserverpb__ResponseHeader *h = response_header(response);
    if (h != NULL)
        h->cluster_id = 0, h->member_id = 0, h->raft_term = 0;
    c.len = protobuf_c_message_get_packed_size(response);
    c.bytes = malloc(c.len + 1);
    assert_non_null(c.bytes);
    assert_int_equal(protobuf_c_message_pack(response, c.bytes), c.len);
    return c;
}

/* The same status and message and, for OK, the same canonical bytes. */
static bool answers_equal(const struct grpc_client_reply *ref, const struct grpc_client_reply *cand,
                          const struct canon *ref_canon, const struct canon *cand_canon)
{
    if (ref->status != cand->status || strcmp(ref->message, cand->message) != 0)
        return false;
    if (ref->status != GRPC_STATUS_OK)
        return true;
    return ref_canon->bytes != NULL && cand_canon->bytes != NULL &&
           ref_canon->len == cand_canon->len &&
           memcmp(ref_canon->bytes, cand_canon->bytes, ref_canon->len) == 0;
}

/* ---- Text: a generic printer over protobuf-c descriptors ------------------------------------ */

struct text {
    char *buf;
    size_t len;
    size_t cap;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
    if (t->len + 1 >= t->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += n < 0 ? 0 : (size_t)n;
    if (t->len >= t->cap) {
        t->len = t->cap - 1;
        snprintf(t->buf + t->cap - 16, 16, "\n[truncated]\n");
    }
}

static void text_indent(struct text *t, uint32_t depth)
{
    text_add(t, "%*s", (int)(depth * 2), "");
}

static void text_quoted(struct text *t, const uint8_t *data, size_t len)
{
    text_add(t, "\"");
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (c == '"' || c == '\\')
            text_add(t, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            text_add(t, "%c", c);
        else
            text_add(t, "\\x%02x", c);
    }
    text_add(t, "\"");
}

static size_t type_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return 4;
    }
}

/* Whether a singular field without a presence flag holds its default (proto3: not sent). */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *v)
{
    static const uint8_t zero[8];
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return *(char *const *)v == NULL || **(char *const *)v == '\0';
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)v)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)v == NULL;
    default:
        return memcmp(v, zero, type_size(f->type)) == 0;
    }
}

/* How many values the field holds: its element count, or 0 or 1. */
static size_t field_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const uint8_t *base = (const uint8_t *)m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(const size_t *)(base + f->quantifier_offset);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0)
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
    return !is_default(f, base + f->offset);
}

static const void *field_value(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                               size_t i)
{
    const uint8_t *base = (const uint8_t *)m + f->offset;
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        return base;
    return *(const uint8_t *const *)base + i * type_size(f->type);
}

static void print_enum(struct text *t, const ProtobufCFieldDescriptor *f, int32_t v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
    if (ev != NULL)
        text_add(t, "%s", ev->name);
    else
        text_add(t, "%" PRId32 " (not in %s)", v,
                 ((const ProtobufCEnumDescriptor *)f->descriptor)->name);
}

static void print_scalar(struct text *t, const ProtobufCFieldDescriptor *f, const void *v)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        text_add(t, "%" PRId32, *(const int32_t *)v);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        text_add(t, "%" PRIu32, *(const uint32_t *)v);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        text_add(t, "%" PRId64, *(const int64_t *)v);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        text_add(t, "%" PRIu64, *(const uint64_t *)v);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        text_add(t, "%g", (double)*(const float *)v);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        text_add(t, "%g", *(const double *)v);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        text_add(t, "%s", *(const protobuf_c_boolean *)v ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM:
        print_enum(t, f, *(const int32_t *)v);
        break;
    case PROTOBUF_C_TYPE_STRING:
        text_quoted(t, *(const uint8_t *const *)v, strlen(*(const char *const *)v));
        break;
    case PROTOBUF_C_TYPE_BYTES:
        text_quoted(t, ((const ProtobufCBinaryData *)v)->data,
                    ((const ProtobufCBinaryData *)v)->len);
        break;
    default:
        text_add(t, "?");
        break;
    }
}

static void print_unknown_fields(struct text *t, const ProtobufCMessage *m, uint32_t depth)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
        text_indent(t, depth);
        text_add(t, "unknown field %" PRIu32 " (wire type %d): ", u->tag, (int)u->wire_type);
        text_quoted(t, u->data, u->len);
        text_add(t, "\n");
    }
}

struct print_frame {
    const ProtobufCMessage *msg;
    unsigned field; /* index in descriptor->fields of the field being printed */
    size_t elem;    /* its next element */
};

/* One field per line, messages in braces, defaults left out (as proto3 sends them), bytes as
 * quoted C strings, enums by name. An explicit stack instead of recursion. */
static void text_message(struct text *t, const ProtobufCMessage *root)
{
    struct print_frame stack[PRINT_DEPTH_MAX];
    uint32_t depth = 0;
    stack[depth++] = (struct print_frame){.msg = root};
    while (depth > 0) {
        struct print_frame *fr = &stack[depth - 1];
        const ProtobufCMessageDescriptor *d = fr->msg->descriptor;
        if (fr->field == d->n_fields) {
            print_unknown_fields(t, fr->msg, depth - 1);
            if (--depth > 0) {
                text_indent(t, depth - 1);
                text_add(t, "}\n");
            }
            continue;
        }
        const ProtobufCFieldDescriptor *f = &d->fields[fr->field];
        if (fr->elem >= field_count(fr->msg, f)) {
            fr->field++, fr->elem = 0;
            continue;
        }
        const void *v = field_value(fr->msg, f, fr->elem++);
        text_indent(t, depth - 1);
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
            text_add(t, "%s: ", f->name);
            print_scalar(t, f, v);
            text_add(t, "\n");
        } else if (depth == PRINT_DEPTH_MAX) {
            text_add(t, "%s { ... }\n", f->name);
        } else {
            text_add(t, "%s {\n", f->name);
            stack[depth++] = (struct print_frame){.msg = *(const ProtobufCMessage *const *)v};
        }
    }
}

static char text_a[TEXT_BYTES], text_b[TEXT_BYTES], text_req[TEXT_BYTES];

static const char *message_text(char *buf, const ProtobufCMessage *m)
{
    struct text t = {.buf = buf, .cap = TEXT_BYTES};
    buf[0] = '\0';
    if (m == NULL)
        text_add(&t, "(no response)\n");
    else
        text_message(&t, m);
    if (t.len == 0)
        text_add(&t, "(empty)\n");
    return buf;
}

static void print_hex(const char *who, const uint8_t *bytes, size_t len)
{
    fprintf(stderr, "%s canonical bytes (%zu):", who, len);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n  " : " ", bytes[i]);
    fprintf(stderr, "\n");
}

/* Prints the first line where a and b differ. */
static void print_first_difference(const char *a, const char *b)
{
    uint32_t line = 1;
    const char *la = a, *lb = b;
    while (*a != '\0' && *a == *b) {
        if (*a == '\n')
            line++, la = a + 1, lb = b + 1;
        a++, b++;
    }
    fprintf(stderr, "first difference at line %" PRIu32 ":\n  reference: %.*s\n  candidate: %.*s\n",
            line, (int)strcspn(la, "\n"), *la != '\0' ? la : "(end)", (int)strcspn(lb, "\n"),
            *lb != '\0' ? lb : "(end)");
}

/* The environment that chose the candidate, for the replay line. */
static void print_replay(uint64_t seed, uint32_t ops)
{
    fprintf(stderr, "replay:");
    static const char *const vars[] = {"RINGD_KV_DIFF_CANDIDATE", "RINGD_KV_DIFF_CANDIDATE_ARGS"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (getenv(vars[i]) != NULL)
            fprintf(stderr, " %s='%s'", vars[i], getenv(vars[i]));
    fprintf(stderr,
            " RINGD_KV_DIFF_SEED=%" PRIu64 " RINGD_KV_DIFF_OPS=%" PRIu32
            " ctest --test-dir build/release -R kv_diff --output-on-failure\n",
            seed, ops);
}

/* ---- A seed's run ------------------------------------------------------------------------- */

struct outcome_count {
    char name[128]; /* "Put OK", "Txn etcdserver: duplicate key given in txn request" */
    uint32_t count;
};

struct run {
    uint64_t seed;
    uint32_t ops;
    char name[32];
    struct test_server reference;
    struct test_server candidate;
    struct grpc_client *client;
    struct grpc_client_conn *ref_conn;
    struct grpc_client_conn *cand_conn;
    struct outcome_count outcomes[OUTCOMES_MAX];
    uint32_t outcomes_count;
};

static struct run runs[SEEDS_DEFAULT];

static void count_outcome(struct run *run, const char *method, const struct grpc_client_reply *r)
{
    char name[128];
    snprintf(name, sizeof(name), "%s %.100s", method,
             r->status == GRPC_STATUS_OK ? "OK" : r->message);
    for (uint32_t i = 0; i < run->outcomes_count; i++) {
        if (strcmp(run->outcomes[i].name, name) == 0) {
            run->outcomes[i].count++;
            return;
        }
    }
    if (run->outcomes_count == OUTCOMES_MAX)
        return;
    struct outcome_count *o = &run->outcomes[run->outcomes_count++];
    snprintf(o->name, sizeof(o->name), "%s", name);
    o->count = 1;
}

static int outcome_order(const void *a, const void *b)
{
    return strcmp(((const struct outcome_count *)a)->name, ((const struct outcome_count *)b)->name);
}

static void print_outcomes(struct run *run, double seconds)
{
    qsort(run->outcomes, run->outcomes_count, sizeof(run->outcomes[0]), outcome_order);
    fprintf(stderr, "kv_diff: seed %" PRIu64 ": %" PRIu32 " calls equal in %.1f s:\n", run->seed,
            run->ops, seconds);
    for (uint32_t i = 0; i < run->outcomes_count; i++)
        fprintf(stderr, "  %4" PRIu32 "  %s\n", run->outcomes[i].count, run->outcomes[i].name);
}

/* grpc-go's name of a status code, as etcd's clients print it. */
static const char *status_name(enum grpc_status status)
{
    static const char *const names[] = {
        "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
        "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
        "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
        "DataLoss", "Unauthenticated"};
    return (unsigned)status < sizeof(names) / sizeof(names[0]) ? names[status] : "?";
}

/* Prints text, cut after lines_max lines (a Txn near --max-txn-ops prints thousands). */
static void print_text(const char *text, uint32_t lines_max)
{
    const char *end = text;
    for (uint32_t n = 0; *end != '\0' && n < lines_max; n++)
        end += strcspn(end, "\n") + (end[strcspn(end, "\n")] == '\n');
    fprintf(stderr, "%.*s", (int)(end - text), text);
    uint32_t more = 0;
    for (const char *c = end; *c != '\0'; c++)
        more += *c == '\n';
    if (more > 0)
        fprintf(stderr, "[%" PRIu32 " more lines]\n", more);
}

/* Where two answers differ, in one or a few lines; the texts are the canonical responses'. */
static void print_difference(const struct grpc_client_reply *ref,
                             const struct grpc_client_reply *cand, const struct canon *ref_canon,
                             const struct canon *cand_canon)
{
    if (ref->status != cand->status || strcmp(ref->message, cand->message) != 0) {
        fprintf(stderr, "the statuses differ:\n  reference: %s \"%s\"\n  candidate: %s \"%s\"\n",
                status_name(ref->status), ref->message, status_name(cand->status), cand->message);
    } else if (strcmp(text_a, text_b) != 0) {
        print_first_difference(text_a, text_b);
    } else {
        fprintf(stderr, "the texts are the same, the canonical bytes are not:\n");
        print_hex("reference", ref_canon->bytes, ref_canon->len);
        print_hex("candidate", cand_canon->bytes, cand_canon->len);
    }
}

/* Compares one call's answers; reports and returns false when they differ. */
static bool same_answers(struct run *run, uint32_t index, const struct call *call,
                         const struct grpc_client_reply *ref, const struct grpc_client_reply *cand)
{
    struct canon ref_canon = canon_make(ref->response);
    struct canon cand_canon = canon_make(cand->response);
    bool same = answers_equal(ref, cand, &ref_canon, &cand_canon);
    if (!same) {
        message_text(text_a, ref->response);
        message_text(text_b, cand->response);
        fprintf(stderr,
                "\nkv_diff: MISMATCH at seed %" PRIu64 ", call %" PRIu32
                " (%s); reference etcd, candidate %s\n",
                run->seed, index, call->method, test_server_name(&run->candidate));
        print_replay(run->seed, index + 1);
        print_difference(ref, cand, &ref_canon, &cand_canon);
        fprintf(stderr, "---- request %s:\n", call->path);
        print_text(message_text(text_req, call->request), TEXT_LINES_MAX);
        fprintf(stderr, "---- the reference's answer: %s \"%s\"\n", status_name(ref->status),
                ref->message);
        print_text(text_a, TEXT_LINES_MAX);
        fprintf(stderr, "---- the candidate's answer: %s \"%s\"\n", status_name(cand->status),
                cand->message);
        print_text(text_b, TEXT_LINES_MAX);
        test_server_print_log_tail(&run->candidate, LOG_TAIL_LINES);
    }
    free(ref_canon.bytes);
    free(cand_canon.bytes);
    return same;
}

/* Learns the revisions the generator aims at from the reference's answer. */
static void track_revisions(struct gen *g, const struct call *call,
                            const struct grpc_client_reply *ref)
{
    if (ref->status != GRPC_STATUS_OK)
        return;
    Etcdserverpb__ResponseHeader *h = response_header(ref->response);
    if (h != NULL && h->revision > g->rev)
        g->rev = h->revision;
    if (strcmp(call->method, "Compact") == 0)
        g->compact_rev = ((const Etcdserverpb__CompactionRequest *)call->request)->revision;
}

static void call_server(struct grpc_client_conn *conn, const struct call *call,
                        struct grpc_client_reply *reply)
{
    struct grpc_client_request r = {
        .path = call->path, .message = call->request, .response = call->response};
    assert_int_equal(grpc_client_unary_sync(conn, &r, CALL_WAIT_MS, reply), 0);
}

static bool verbose(void)
{
    const char *v = getenv("RINGD_KV_DIFF_VERBOSE");
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

static void print_call(uint32_t index, const struct call *call, const struct grpc_client_reply *r)
{
    fprintf(stderr, "---- call %" PRIu32 " %s\n%s-> status %s \"%s\"\n%s", index, call->method,
            message_text(text_req, call->request), status_name(r->status), r->message,
            message_text(text_a, r->response));
}

/* ---- The comparison itself, without servers ------------------------------------------------ */

static bool replies_equal(const struct grpc_client_reply *a, const struct grpc_client_reply *b)
{
    struct canon ca = canon_make(a->response), cb = canon_make(b->response);
    bool equal = answers_equal(a, b, &ca, &cb);
    free(ca.bytes);
    free(cb.bytes);
    return equal;
}

/* What the comparison must ignore (the top-level header's ids and term) and what it must catch:
 * any other field, an inner header's ids, the status, the message. */
static void test_comparison(void **state)
{
    (void)state;
    Etcdserverpb__ResponseHeader ha = ETCDSERVERPB__RESPONSE_HEADER__INIT, hb = ha;
    ha.cluster_id = 1, ha.member_id = 2, ha.revision = 5, ha.raft_term = 3;
    hb.cluster_id = 9, hb.member_id = 8, hb.revision = 5, hb.raft_term = 7;
    Mvccpb__KeyValue kva = MVCCPB__KEY_VALUE__INIT;
    kva.key = (ProtobufCBinaryData){1, (uint8_t *)"a"};
    kva.value = (ProtobufCBinaryData){1, (uint8_t *)"1"};
    kva.create_revision = 2, kva.mod_revision = 4, kva.version = 2;
    Mvccpb__KeyValue kvb = kva;
    Etcdserverpb__PutResponse a = ETCDSERVERPB__PUT_RESPONSE__INIT, b = a;
    a.header = &ha, a.prev_kv = &kva;
    b.header = &hb, b.prev_kv = &kvb;
    struct grpc_client_reply ra = {.status = GRPC_STATUS_OK, .response = &a.base};
    struct grpc_client_reply rb = {.status = GRPC_STATUS_OK, .response = &b.base};
    assert_true(replies_equal(&ra, &rb));
    kvb.value = (ProtobufCBinaryData){1, (uint8_t *)"2"};
    assert_false(replies_equal(&ra, &rb));
    message_text(text_b, &b.base);
    assert_non_null(strstr(text_b, "prev_kv {\n  key: \"a\"\n  create_revision: 2\n"));
    assert_non_null(strstr(text_b, "  value: \"2\"\n}\n"));
    kvb.value = kva.value;
    hb.revision = 6;
    assert_false(replies_equal(&ra, &rb));
    hb.revision = 5;
    rb.status = GRPC_STATUS_NOT_FOUND;
    assert_false(replies_equal(&ra, &rb));
    ra.status = GRPC_STATUS_NOT_FOUND, ra.response = rb.response = NULL;
    snprintf(ra.message, sizeof(ra.message), "etcdserver: requested lease not found");
    snprintf(rb.message, sizeof(rb.message), "etcdserver: lease not found");
    assert_false(replies_equal(&ra, &rb));
    snprintf(rb.message, sizeof(rb.message), "%s", ra.message);
    assert_true(replies_equal(&ra, &rb));
}

/* A Txn's inner headers are compared whole: etcd leaves their ids and term zero. */
static void test_comparison_inner_header(void **state)
{
    (void)state;
    Etcdserverpb__ResponseHeader top = ETCDSERVERPB__RESPONSE_HEADER__INIT, inner = top;
    inner.revision = 5;
    Etcdserverpb__RangeResponse range = ETCDSERVERPB__RANGE_RESPONSE__INIT;
    range.header = &inner;
    Etcdserverpb__ResponseOp op = ETCDSERVERPB__RESPONSE_OP__INIT;
    op.response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE;
    op.response_range = &range;
    Etcdserverpb__ResponseOp *ops[] = {&op};
    Etcdserverpb__TxnResponse txn = ETCDSERVERPB__TXN_RESPONSE__INIT;
    txn.header = &top, txn.succeeded = true, txn.n_responses = 1, txn.responses = ops;
    struct canon before = canon_make(&txn.base);
    inner.member_id = 42;
    struct canon after = canon_make(&txn.base);
    assert_true(before.len != after.len || memcmp(before.bytes, after.bytes, before.len) != 0);
    message_text(text_a, &txn.base);
    assert_non_null(strstr(text_a, "responses {\n  response_range {\n    header {\n"
                                   "      member_id: 42\n      revision: 5\n"));
    free(before.bytes);
    free(after.bytes);
}

/* ---- The test ------------------------------------------------------------------------------ */

static int run_teardown(void **state)
{
    struct run *run = *state;
    if (run->client != NULL)
        grpc_client_destroy(run->client);
    run->client = NULL;
    test_server_stop(&run->candidate);
    test_server_stop(&run->reference);
    return 0;
}

static int run_setup(void **state)
{
    struct run *run = *state;
    /* Both start side by side; cmocka runs no teardown after a failed setup. */
    struct grpc_client_config config = {.calls_max = 8, .conns_max = 4};
    if (test_server_spawn(&run->reference, TEST_SERVER_ETCD, NULL) != 0 ||
        test_candidate_spawn(&run->candidate) != 0 ||
        test_server_wait_ready(&run->reference) != 0 ||
        test_server_wait_ready(&run->candidate) != 0 ||
        grpc_client_create(&config, &run->client) != 0 ||
        grpc_client_connect(run->client, run->reference.endpoint, &run->ref_conn) != 0 ||
        grpc_client_connect(run->client, run->candidate.endpoint, &run->cand_conn) != 0) {
        run_teardown(state);
        return -1;
    }
    return 0;
}

static void test_seed(void **state)
{
    struct run *run = *state;
    struct gen g = {.rng = {.state = run->seed}, .rev = 1, .compact_rev = -1};
    bool loud = verbose();
    uint64_t start_ns = test_now_ns();
    for (uint32_t i = 0; i < run->ops; i++) {
        struct call call = gen_call(&g);
        struct grpc_client_reply ref, cand;
        call_server(run->ref_conn, &call, &ref);
        call_server(run->cand_conn, &call, &cand);
        if (loud)
            print_call(i, &call, &ref);
        bool broken =
            ref.status == GRPC_STATUS_UNAVAILABLE || ref.status == GRPC_STATUS_DEADLINE_EXCEEDED;
        bool same = broken || same_answers(run, i, &call, &ref, &cand);
        count_outcome(run, call.method, &ref);
        track_revisions(&g, &call, &ref);
        grpc_client_reply_free(&ref);
        grpc_client_reply_free(&cand);
        if (broken) {
            test_server_print_log_tail(&run->reference, LOG_TAIL_LINES);
            fail_msg("seed %" PRIu64 " call %" PRIu32 ": the reference etcd failed", run->seed, i);
        }
        if (!same)
            fail_msg("seed %" PRIu64 ": call %" PRIu32 " differs (see above)", run->seed, i);
    }
    print_outcomes(run, (double)(test_now_ns() - start_ns) / 1e9);
}

int main(void)
{
    static struct CMUnitTest tests[SEEDS_DEFAULT + 2];
    uint32_t ops = (uint32_t)test_env_number("RINGD_KV_DIFF_OPS", OPS_DEFAULT);
    bool one = getenv("RINGD_KV_DIFF_SEED") != NULL;
    uint32_t seeds = one ? 1 : SEEDS_DEFAULT;
    uint32_t count = 0;
    tests[count++] = (struct CMUnitTest)cmocka_unit_test(test_comparison);
    tests[count++] = (struct CMUnitTest)cmocka_unit_test(test_comparison_inner_header);
    for (uint32_t i = 0; i < seeds; i++) {
        struct run *run = &runs[i];
        run->seed = one ? test_env_number("RINGD_KV_DIFF_SEED", 1) : i + 1;
        run->ops = ops;
        snprintf(run->name, sizeof(run->name), "seed_%" PRIu64, run->seed);
        tests[count++] = (struct CMUnitTest){.name = run->name,
                                             .test_func = test_seed,
                                             .setup_func = run_setup,
                                             .teardown_func = run_teardown,
                                             .initial_state = run};
    }
    return _cmocka_run_group_tests("kv_diff", tests, count, NULL, NULL);
}
