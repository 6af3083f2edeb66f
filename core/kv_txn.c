/* etcd's Txn: the checks made before it runs (v3rpc/key.go checkTxnRequest, checkIntervals),
 * and its execution (etcdserver/apply.go: compareToPath, checkRequests, applyTxn). etcd walks
 * nested txns recursively; here every walk uses an explicit stack bounded by KV_TXN_DEPTH_MAX,
 * which decoding enforces, in the same order etcd visits them.
 *
 * The order of the walks matters and is etcd's: first every compare of every txn that will run
 * is evaluated on the state before the txn (the "path": one decision per txn, in pre-order);
 * then the chosen branches' puts are checked (ignore_value/ignore_lease need a key, leases must
 * exist), then their ranges' revisions; only then does anything change. */
#include <errno.h>
#include <string.h>

#include "kv.h"
#include "ringd_assert.h"
#include "ringd_error.h"

/* Frames of a walk: the top txn plus at most KV_TXN_DEPTH_MAX nested ones. */
#define KV_TXN_FRAMES (KV_TXN_DEPTH_MAX + 1)

bool kv_txn_is_readonly(const Etcdserverpb__TxnRequest *r)
{
    for (size_t i = 0; i < r->n_success; i++) {
        if (r->success[i]->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE)
            return false;
    }
    for (size_t i = 0; i < r->n_failure; i++) {
        if (r->failure[i]->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE)
            return false;
    }
    return true;
}

/* checkTxnRequest. */

static int kv_check_op(const Etcdserverpb__RequestOp *op)
{
    switch (op->request_case) {
    case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE:
        return kv_check_range(op->request_range);
    case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT:
        return kv_check_put(op->request_put);
    case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
        return kv_check_delete_range(op->request_delete_range);
    case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN:
        return 0; /* checked when the walk enters it */
    default:
        return -RINGD_EKEY_NOT_FOUND; /* an empty RequestOp, as etcd answers it */
    }
}

/* The checks of one txn's own level: its op count against its budget, its compares' keys. */
static int kv_check_txn_level(const Etcdserverpb__TxnRequest *r, int64_t budget, int64_t *opc)
{
    size_t n = r->n_compare;
    n = n < r->n_success ? r->n_success : n;
    n = n < r->n_failure ? r->n_failure : n;
    *opc = (int64_t)n;
    if (*opc > budget)
        return -RINGD_ETOO_MANY_OPS;
    for (size_t i = 0; i < r->n_compare; i++) {
        if (r->compare[i]->key.len == 0)
            return -RINGD_EEMPTY_KEY;
    }
    return 0;
}

struct kv_check_frame {
    const Etcdserverpb__TxnRequest *txn;
    int64_t budget; /* what nested txns may use: etcd passes maxTxnOps - opc down */
    size_t next;    /* index over success then failure */
};

/* The op at position i of the txn's success-then-failure sequence. */
static const Etcdserverpb__RequestOp *kv_txn_op_at(const Etcdserverpb__TxnRequest *r, size_t i)
{
    return i < r->n_success ? r->success[i] : r->failure[i - r->n_success];
}

/* checkTxnRequest: every txn's level, then its ops in order, nested txns when reached. */
static int kv_check_txn_ops(const Etcdserverpb__TxnRequest *top, uint32_t max_txn_ops)
{
    struct kv_check_frame stack[KV_TXN_FRAMES];
    int64_t opc;
    int err = kv_check_txn_level(top, max_txn_ops, &opc);
    size_t depth = 0;
    stack[depth++] = (struct kv_check_frame){.txn = top, .budget = max_txn_ops - opc};
    while (err == 0 && depth > 0) {
        struct kv_check_frame *f = &stack[depth - 1];
        if (f->next == f->txn->n_success + f->txn->n_failure) {
            depth--;
            continue;
        }
        const Etcdserverpb__RequestOp *op = kv_txn_op_at(f->txn, f->next++);
        err = kv_check_op(op);
        if (err != 0 || op->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN)
            continue;
        ASSERT(depth < KV_TXN_FRAMES); /* decoding refused deeper nesting */
        const Etcdserverpb__TxnRequest *nested = op->request_txn;
        err = kv_check_txn_level(nested, f->budget, &opc);
        stack[depth++] = (struct kv_check_frame){.txn = nested, .budget = f->budget - opc};
    }
    return err;
}

/* checkIntervals: puts and deletes that overlap in one request. */

struct kv_keys {
    const ProtobufCBinaryData **items;
    size_t count;
    size_t cap;
};

/* A delete's interval, as etcd's adt builds it: [key, range_end) when range_end is set (an end
 * of "\0" makes it empty: etcd does not treat from-key deletes specially here), else the point
 * key. */
struct kv_interval {
    ProtobufCBinaryData begin;
    ProtobufCBinaryData end; /* len 0: the point `begin` */
};

struct kv_intervals {
    struct kv_interval *items;
    size_t count;
    size_t cap;
};

static bool kv_keys_has(const struct kv_keys *s, ProtobufCBinaryData k)
{
    for (size_t i = 0; i < s->count; i++) {
        if (kv_bytes_compare(*s->items[i], k) == 0)
            return true;
    }
    return false;
}

static bool kv_intervals_cover(const struct kv_intervals *s, ProtobufCBinaryData k)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct kv_interval *iv = &s->items[i];
        if (kv_bytes_compare(iv->begin, k) > 0)
            continue;
        if (iv->end.len == 0 ? kv_bytes_compare(iv->begin, k) == 0
                             : kv_bytes_compare(k, iv->end) < 0)
            return true;
    }
    return false;
}

/* Doubles an arena array when full. */
static int kv_grow(void **items, size_t count, size_t *cap, size_t item_bytes, struct arena *a)
{
    if (count < *cap)
        return 0;
    size_t n = *cap > 0 ? 2 * *cap : 8;
    void *p = arena_alloc(a, n * item_bytes);
    if (p == NULL)
        return -ENOMEM;
    if (count > 0)
        memcpy(p, *items, count * item_bytes);
    *items = p;
    *cap = n;
    return 0;
}

static int kv_keys_add(struct kv_keys *s, const ProtobufCBinaryData *k, struct arena *a)
{
    int err = kv_grow((void **)&s->items, s->count, &s->cap, sizeof *s->items, a);
    if (err == 0)
        s->items[s->count++] = k;
    return err;
}

static int kv_intervals_add(struct kv_intervals *s, struct kv_interval iv, struct arena *a)
{
    int err = kv_grow((void **)&s->items, s->count, &s->cap, sizeof *s->items, a);
    if (err == 0)
        s->items[s->count++] = iv;
    return err;
}

struct kv_iv_frame {
    Etcdserverpb__RequestOp *const *ops;
    size_t n;
    size_t next; /* next op to look at for nested txns */
    int stage;   /* 0: looking for a nested txn; 1: its success branch runs; 2: its failure */
    struct kv_keys puts;
    struct kv_intervals dels;
    struct kv_keys then_puts;      /* the success branch's result while the failure one runs */
    struct kv_intervals then_dels; /* joined with the failure branch's once both are checked */
};

/* A frame for a list of ops, with its own level's deletes collected first, as etcd does. */
static int kv_iv_enter(struct kv_iv_frame *f, Etcdserverpb__RequestOp *const *ops, size_t n,
                       struct arena *a)
{
    *f = (struct kv_iv_frame){.ops = ops, .n = n};
    for (size_t i = 0; i < n; i++) {
        if (ops[i]->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE)
            continue;
        const Etcdserverpb__DeleteRangeRequest *d = ops[i]->request_delete_range;
        int err = kv_intervals_add(&f->dels, (struct kv_interval){d->key, d->range_end}, a);
        if (err < 0)
            return err;
    }
    return 0;
}

/* The level's own puts, checked last (etcd: after the nested txns). */
static int kv_iv_level_puts(struct kv_iv_frame *f, struct arena *a)
{
    for (size_t i = 0; i < f->n; i++) {
        if (f->ops[i]->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT)
            continue;
        const ProtobufCBinaryData *k = &f->ops[i]->request_put->key;
        if (kv_keys_has(&f->puts, *k) || kv_intervals_cover(&f->dels, *k))
            return -RINGD_EDUPLICATE_KEY;
        int err = kv_keys_add(&f->puts, k, a);
        if (err < 0)
            return err;
    }
    return 0;
}

/* Folds a nested txn's branch puts into its parent: puts of the success branch may repeat in
 * the failure branch (only one runs), nothing else may repeat or fall in the parent's deletes
 * (its own level's and those of nested txns checked before). */
static int kv_iv_merge_puts(struct kv_iv_frame *f, const struct kv_keys *puts, bool failure_branch,
                            struct arena *a)
{
    for (size_t i = 0; i < puts->count; i++) {
        ProtobufCBinaryData k = *puts->items[i];
        bool present = kv_keys_has(&f->puts, k);
        bool safe = failure_branch && kv_keys_has(&f->then_puts, k);
        if ((present && !safe) || kv_intervals_cover(&f->dels, k))
            return -RINGD_EDUPLICATE_KEY;
        /* A set, as etcd's map: a key both branches put is kept once. */
        int err = present ? 0 : kv_keys_add(&f->puts, puts->items[i], a);
        if (err < 0)
            return err;
    }
    return 0;
}

static int kv_iv_add_dels(struct kv_iv_frame *f, const struct kv_intervals *dels, struct arena *a)
{
    int err = 0;
    for (size_t i = 0; i < dels->count && err == 0; i++)
        err = kv_intervals_add(&f->dels, dels->items[i], a);
    return err;
}

/* The next nested txn of the frame, or NULL. */
static const Etcdserverpb__TxnRequest *kv_iv_next_txn(struct kv_iv_frame *f)
{
    while (f->next < f->n) {
        const Etcdserverpb__RequestOp *op = f->ops[f->next++];
        if (op->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN)
            return op->request_txn;
    }
    return NULL;
}

/* Hands a finished frame's result to its parent and starts the parent's next branch. */
static int kv_iv_return(struct kv_iv_frame *stack, size_t *depth, struct arena *a)
{
    struct kv_iv_frame *child = &stack[*depth - 1], *parent = &stack[*depth - 2];
    const Etcdserverpb__TxnRequest *t = parent->ops[parent->next - 1]->request_txn;
    if (parent->stage == 1) {
        /* Success branch done: its puts join now, its deletes once the failure branch (checked
         * on its own, as etcd does) is done too. */
        parent->then_puts = child->puts;
        parent->then_dels = child->dels;
        parent->stage = 2;
        int err = kv_iv_merge_puts(parent, &parent->then_puts, false, a);
        return err == 0 ? kv_iv_enter(child, t->failure, t->n_failure, a) : err;
    }
    ASSERT(parent->stage == 2);
    int err = kv_iv_merge_puts(parent, &child->puts, true, a);
    if (err == 0)
        err = kv_iv_add_dels(parent, &parent->then_dels, a);
    if (err == 0)
        err = kv_iv_add_dels(parent, &child->dels, a);
    parent->stage = 0;
    (*depth)--;
    return err;
}

static int kv_check_intervals(Etcdserverpb__RequestOp *const *ops, size_t n, struct arena *a)
{
    struct kv_iv_frame stack[KV_TXN_FRAMES + 1];
    size_t depth = 1;
    int err = kv_iv_enter(&stack[0], ops, n, a);
    while (err == 0 && depth > 0) {
        struct kv_iv_frame *f = &stack[depth - 1];
        const Etcdserverpb__TxnRequest *t = f->stage == 0 ? kv_iv_next_txn(f) : NULL;
        if (t != NULL) {
            ASSERT(depth < KV_TXN_FRAMES + 1);
            f->stage = 1;
            err = kv_iv_enter(&stack[depth++], t->success, t->n_success, a);
            continue;
        }
        ASSERT(f->stage == 0);
        err = kv_iv_level_puts(f, a);
        if (err == 0 && depth == 1)
            break;
        if (err == 0)
            err = kv_iv_return(stack, &depth, a);
    }
    return err;
}

int kv_check_txn(const Etcdserverpb__TxnRequest *r, uint32_t max_txn_ops, struct arena *a)
{
    int err = kv_check_txn_ops(r, max_txn_ops);
    if (err == 0)
        err = kv_check_intervals(r->success, r->n_success, a);
    if (err == 0)
        err = kv_check_intervals(r->failure, r->n_failure, a);
    return err;
}

/* Compares (applyCompare, compareKV). */

static int64_t kv_compare_operand(const Etcdserverpb__Compare *c)
{
    switch (c->target) {
    case ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE:
        return c->target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION
                   ? c->create_revision
                   : 0;
    case ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD:
        return c->target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION
                   ? c->mod_revision
                   : 0;
    case ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION:
        return c->target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION ? c->version : 0;
    case ETCDSERVERPB__COMPARE__COMPARE_TARGET__LEASE:
        return c->target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE ? c->lease : 0;
    default:
        return 0;
    }
}

/* The sign of (kv's field - compared value); ver NULL is etcd's zero KeyValue. */
static int kv_compare_sign(const Etcdserverpb__Compare *c, const struct mvcc_version *ver)
{
    int64_t have = 0;
    switch (c->target) {
    case ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE: {
        ProtobufCBinaryData want = {0, NULL};
        if (c->target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE)
            want = c->value;
        ProtobufCBinaryData got = {0, NULL};
        if (ver != NULL)
            got = (ProtobufCBinaryData){.len = ver->value_len, .data = (uint8_t *)ver->value};
        return kv_bytes_compare(got, want);
    }
    case ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE:
        have = ver != NULL ? ver->create_rev : 0;
        break;
    case ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD:
        have = ver != NULL ? ver->mod_rev : 0;
        break;
    case ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION:
        have = ver != NULL ? ver->version : 0;
        break;
    case ETCDSERVERPB__COMPARE__COMPARE_TARGET__LEASE:
        have = ver != NULL ? ver->lease : 0;
        break;
    default:
        return 0;
    }
    int64_t want = kv_compare_operand(c);
    return (have > want) - (have < want);
}

static bool kv_compare_result(const Etcdserverpb__Compare *c, const struct mvcc_version *ver)
{
    int sign = kv_compare_sign(c, ver);
    switch (c->result) {
    case ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL:
        return sign == 0;
    case ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL:
        return sign != 0;
    case ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER:
        return sign > 0;
    case ETCDSERVERPB__COMPARE__COMPARE_RESULT__LESS:
        return sign < 0;
    default:
        return true;
    }
}

/* Every key of the compare's range must pass; no key at all passes only for non-VALUE targets,
 * compared with a zero key-value. */
static bool kv_compare(const struct kv_view *v, const Etcdserverpb__Compare *c)
{
    struct mvcc_cursor cur;
    mvcc_cursor_at(&cur, v->store, c->key.data, (uint32_t)c->key.len, c->range_end.data,
                   (uint32_t)c->range_end.len, v->rev);
    struct mvcc_kv kv;
    bool any = false;
    while (mvcc_cursor_next(&cur, &kv)) {
        any = true;
        if (!kv_compare_result(c, kv.v))
            return false;
    }
    if (any)
        return true;
    return c->target != ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE && kv_compare_result(c, NULL);
}

static bool kv_compares(const struct kv_view *v, const Etcdserverpb__TxnRequest *r)
{
    for (size_t i = 0; i < r->n_compare; i++) {
        if (!kv_compare(v, r->compare[i]))
            return false;
    }
    return true;
}

/* Walks over the ops that run. */

struct kv_walk_frame {
    Etcdserverpb__RequestOp *const *ops; /* the chosen branch */
    size_t n;
    size_t next;
    Etcdserverpb__TxnResponse *resp; /* apply only: the response being filled */
};

/* A pre-order walk over the chosen branches: a nested txn is entered when its op is reached,
 * taking the next decision of the path. */
struct kv_walk {
    struct kv_walk_frame stack[KV_TXN_FRAMES];
    size_t depth;
    const bool *path;
    size_t path_count;
    size_t path_next;
};

static void kv_walk_push(struct kv_walk *w, const Etcdserverpb__TxnRequest *t, bool succeeded)
{
    ASSERT(w->depth < KV_TXN_FRAMES);
    struct kv_walk_frame *f = &w->stack[w->depth++];
    *f = (struct kv_walk_frame){.ops = succeeded ? t->success : t->failure,
                                .n = succeeded ? t->n_success : t->n_failure};
}

static void kv_walk_begin(struct kv_walk *w, const Etcdserverpb__TxnRequest *top, const bool *path,
                          size_t path_count)
{
    ASSERT(path_count >= 1);
    *w = (struct kv_walk){.path = path, .path_count = path_count, .path_next = 1};
    kv_walk_push(w, top, path[0]);
}

/* The next op and its frame (*index: its position there), or NULL at the end. A nested txn's
 * op is returned after its frame was pushed: the caller finds it on top of the stack. */
static const Etcdserverpb__RequestOp *kv_walk_next(struct kv_walk *w, struct kv_walk_frame **frame,
                                                   size_t *index)
{
    while (w->depth > 0) {
        struct kv_walk_frame *f = &w->stack[w->depth - 1];
        if (f->next == f->n) {
            w->depth--;
            continue;
        }
        *frame = f;
        *index = f->next;
        const Etcdserverpb__RequestOp *op = f->ops[f->next++];
        if (op->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN) {
            ASSERT(w->path_next < w->path_count);
            kv_walk_push(w, op->request_txn, w->path[w->path_next++]);
        }
        return op;
    }
    return NULL;
}

/* The path being recorded: one decision per txn that runs. */
struct kv_path {
    bool *items;
    size_t count;
    size_t cap;
};

static int kv_path_add(struct kv_path *p, bool decision, struct arena *a)
{
    int err = kv_grow((void **)&p->items, p->count, &p->cap, sizeof *p->items, a);
    if (err == 0)
        p->items[p->count++] = decision;
    return err;
}

/* compareToPath: every decision, in the order the walks meet the txns, before anything
 * changes. A nested txn's compares are evaluated only if its branch was chosen. */
static int kv_txn_path(const struct kv_view *v, const Etcdserverpb__TxnRequest *top,
                       struct kv_path *p, struct arena *a)
{
    struct kv_walk w = {0};
    int err = kv_path_add(p, kv_compares(v, top), a);
    if (err == 0)
        kv_walk_push(&w, top, p->items[0]);
    while (err == 0 && w.depth > 0) {
        struct kv_walk_frame *f = &w.stack[w.depth - 1];
        if (f->next == f->n) {
            w.depth--;
            continue;
        }
        const Etcdserverpb__RequestOp *op = f->ops[f->next++];
        if (op->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN)
            continue;
        bool ok = kv_compares(v, op->request_txn);
        err = kv_path_add(p, ok, a);
        if (err == 0)
            kv_walk_push(&w, op->request_txn, ok);
    }
    return err;
}

/* checkRequests with checkRequestPut or checkRequestRange over the ops that will run. */

static int kv_txn_check_put(const struct kv_view *v, const struct kv_env *env,
                            const Etcdserverpb__PutRequest *r)
{
    struct mvcc_kv kv;
    if ((r->ignore_value || r->ignore_lease) && !kv_get(v, r->key, &kv))
        return -RINGD_EKEY_NOT_FOUND;
    if (r->lease != 0 && !env->lease_exists(env->arg, r->lease))
        return -RINGD_ELEASE_NOT_FOUND;
    return 0;
}

static int kv_txn_check_range(const struct kv_view *v, const Etcdserverpb__RangeRequest *r)
{
    if (r->revision == 0)
        return 0;
    if (r->revision > v->rev)
        return -RINGD_EFUTURE_REV;
    return r->revision < mvcc_compact_rev(v->store) ? -RINGD_ECOMPACTED : 0;
}

static int kv_txn_check(const struct kv_view *v, const struct kv_env *env,
                        const Etcdserverpb__TxnRequest *top, const struct kv_path *p, bool puts)
{
    struct kv_walk w;
    kv_walk_begin(&w, top, p->items, p->count);
    struct kv_walk_frame *f;
    size_t i;
    for (const Etcdserverpb__RequestOp *op; (op = kv_walk_next(&w, &f, &i)) != NULL;) {
        int err = 0;
        if (puts && op->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT)
            err = kv_txn_check_put(v, env, op->request_put);
        else if (!puts && op->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE)
            err = kv_txn_check_range(v, op->request_range);
        if (err < 0)
            return err;
    }
    return 0;
}

/* applyTxn. */

/* A txn response with room for n responses; a nested one carries an empty header, as etcd's
 * newTxnResp makes it (only the top one gets its revision). */
static Etcdserverpb__TxnResponse *kv_txn_response(bool succeeded, size_t n, struct arena *a)
{
    Etcdserverpb__TxnResponse *t = arena_alloc(a, sizeof *t);
    Etcdserverpb__ResponseHeader *h = arena_alloc(a, sizeof *h);
    Etcdserverpb__ResponseOp **ops = arena_alloc(a, (n > 0 ? n : 1) * sizeof *ops);
    if (t == NULL || h == NULL || ops == NULL)
        return NULL;
    *t = (Etcdserverpb__TxnResponse)ETCDSERVERPB__TXN_RESPONSE__INIT;
    *h = (Etcdserverpb__ResponseHeader)ETCDSERVERPB__RESPONSE_HEADER__INIT;
    t->header = h;
    t->succeeded = succeeded;
    t->responses = ops;
    t->n_responses = n;
    return t;
}

/* Runs one op of the walk into its response slot. */
static int kv_txn_apply_op(struct kv_view *v, const struct kv_env *env, struct kv_walk *w,
                           const Etcdserverpb__RequestOp *op, Etcdserverpb__ResponseOp *ro,
                           struct arena *a)
{
    void *r = NULL;
    int err = 0;
    switch (op->request_case) {
    case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE:
        ro->response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE;
        err = (r = arena_alloc(a, sizeof(Etcdserverpb__RangeResponse))) == NULL
                  ? -ENOMEM
                  : kv_range(v, op->request_range, r, a);
        ro->response_range = r;
        break;
    case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT:
        ro->response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT;
        err = (r = arena_alloc(a, sizeof(Etcdserverpb__PutResponse))) == NULL
                  ? -ENOMEM
                  : kv_put(v, env, op->request_put, true, r, a);
        ro->response_put = r;
        break;
    case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
        ro->response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE;
        err = (r = arena_alloc(a, sizeof(Etcdserverpb__DeleteRangeResponse))) == NULL
                  ? -ENOMEM
                  : kv_delete_range(v, op->request_delete_range, r, a);
        ro->response_delete_range = r;
        break;
    case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN: {
        /* The walk entered it: its frame is on top, its decision the last one taken. */
        struct kv_walk_frame *f = &w->stack[w->depth - 1];
        ro->response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_TXN;
        ro->response_txn = f->resp = kv_txn_response(w->path[w->path_next - 1], f->n, a);
        err = f->resp == NULL ? -ENOMEM : 0;
        break;
    }
    default:
        break; /* an empty op cannot get here: the checks refused it */
    }
    return err;
}

static int kv_txn_apply(struct kv_view *v, const struct kv_env *env,
                        const Etcdserverpb__TxnRequest *top, const struct kv_path *p,
                        Etcdserverpb__TxnResponse *out, struct arena *a)
{
    struct kv_walk w;
    kv_walk_begin(&w, top, p->items, p->count);
    Etcdserverpb__TxnResponse *resp = kv_txn_response(p->items[0], w.stack[0].n, a);
    if (resp == NULL)
        return -ENOMEM;
    w.stack[0].resp = resp;
    struct kv_walk_frame *f;
    size_t i;
    for (const Etcdserverpb__RequestOp *op; (op = kv_walk_next(&w, &f, &i)) != NULL;) {
        Etcdserverpb__ResponseOp *ro = arena_alloc(a, sizeof *ro);
        if (ro == NULL)
            return -ENOMEM;
        *ro = (Etcdserverpb__ResponseOp)ETCDSERVERPB__RESPONSE_OP__INIT;
        f->resp->responses[i] = ro;
        int err = kv_txn_apply_op(v, env, &w, op, ro, a);
        if (err < 0)
            return err;
    }
    resp->header->revision = v->rev; /* the txn's revision once it changed something */
    *out = *resp;
    return 0;
}

int kv_txn(struct kv_view *v, const struct kv_env *env, const Etcdserverpb__TxnRequest *r,
           Etcdserverpb__TxnResponse *out, struct arena *a)
{
    bool write = !kv_txn_is_readonly(r);
    ASSERT(!write || v->txn != NULL); /* the caller routes writes to the writer */
    struct kv_path p = {0};
    int err = kv_txn_path(v, r, &p, a);
    if (err == 0 && write)
        err = kv_txn_check(v, env, r, &p, true);
    if (err == 0)
        err = kv_txn_check(v, env, r, &p, false);
    if (err == 0)
        err = kv_txn_apply(v, env, r, &p, out, a);
    return err;
}
