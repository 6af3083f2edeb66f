/* etcd's Range, Put, DeleteRange and Compact on the MVCC store; see kv.h. Txn is kv_txn.c. */
#include "kv.h"

#include <errno.h>
#include <string.h>

#include "ringd_assert.h"
#include "ringd_error.h"

/* etcd's kvOverhead: what the quota charges a put beyond its key and value. */
#define KV_PUT_OVERHEAD_BYTES 256

void kv_view_read(struct kv_view *v, struct mvcc_store *s)
{
    *v = (struct kv_view){.store = s, .txn = NULL, .rev = mvcc_current_rev(s)};
}

void kv_view_write(struct kv_view *v, struct mvcc_txn *t)
{
    /* Before the transaction changes anything it reads at the current revision. */
    *v = (struct kv_view){.store = t->store, .txn = t, .rev = t->rev - 1};
}

/* The view's revision follows its transaction once it changed something. */
static void kv_view_track(struct kv_view *v)
{
    ASSERT(v->txn != NULL);
    if (v->txn->changes > 0)
        v->rev = v->txn->rev;
}

bool kv_no_leases(void *arg, int64_t lease)
{
    (void)arg;
    (void)lease;
    return false;
}

int kv_check_range(const Etcdserverpb__RangeRequest *r)
{
    return r->key.len == 0 ? -RINGD_EEMPTY_KEY : 0;
}

int kv_check_put(const Etcdserverpb__PutRequest *r)
{
    if (r->key.len == 0)
        return -RINGD_EEMPTY_KEY;
    if (r->ignore_value && r->value.len != 0)
        return -RINGD_EVALUE_PROVIDED;
    if (r->ignore_lease && r->lease != 0)
        return -RINGD_ELEASE_PROVIDED;
    return 0;
}

int kv_check_delete_range(const Etcdserverpb__DeleteRangeRequest *r)
{
    return r->key.len == 0 ? -RINGD_EEMPTY_KEY : 0;
}

/* A cursor over [key, range_end) at rev, which the caller checked against its view. etcd's
 * range_end conventions ("" one key, "\0" every key from key on) are the store's too. */
static void kv_cursor(const struct kv_view *v, struct mvcc_cursor *c, ProtobufCBinaryData key,
                      ProtobufCBinaryData end, int64_t rev)
{
    mvcc_cursor_at(c, v->store, key.data, (uint32_t)key.len, end.data, (uint32_t)end.len, rev);
}

bool kv_get(const struct kv_view *v, ProtobufCBinaryData key, struct mvcc_kv *out)
{
    struct mvcc_cursor c;
    kv_cursor(v, &c, key, (ProtobufCBinaryData){0, NULL}, v->rev);
    return mvcc_cursor_next(&c, out);
}

static Mvccpb__KeyValue *kv_to_pb(const struct mvcc_kv *kv, struct arena *a)
{
    Mvccpb__KeyValue *p = arena_alloc(a, sizeof *p);
    if (p == NULL)
        return NULL;
    *p = (Mvccpb__KeyValue)MVCCPB__KEY_VALUE__INIT;
    const struct mvcc_version *ver = kv->v;
    p->key = (ProtobufCBinaryData){.len = kv->key_len, .data = (uint8_t *)kv->key};
    p->create_revision = ver->create_rev;
    p->mod_revision = ver->mod_rev;
    p->version = ver->version;
    p->lease = ver->lease;
    p->value = (ProtobufCBinaryData){.len = ver->value_len, .data = (uint8_t *)ver->value};
    return p;
}

static Etcdserverpb__ResponseHeader *kv_header(struct arena *a, int64_t revision)
{
    Etcdserverpb__ResponseHeader *h = arena_alloc(a, sizeof *h);
    if (h != NULL) {
        *h = (Etcdserverpb__ResponseHeader)ETCDSERVERPB__RESPONSE_HEADER__INIT;
        h->revision = revision;
    }
    return h;
}

/* A growing array of KeyValue pointers in the arena. */
struct kv_list {
    Mvccpb__KeyValue **items;
    size_t count;
    size_t cap;
};

static int kv_list_add(struct kv_list *l, Mvccpb__KeyValue *kv, struct arena *a)
{
    if (kv == NULL)
        return -ENOMEM;
    if (l->count == l->cap) {
        size_t cap = l->cap > 0 ? 2 * l->cap : 16;
        Mvccpb__KeyValue **items = arena_alloc(a, cap * sizeof *items);
        if (items == NULL)
            return -ENOMEM;
        if (l->count > 0)
            memcpy(items, l->items, l->count * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = kv;
    return 0;
}

/* The request's revision against the view: etcd's rangeKeys checks, in its order. */
static int kv_range_rev(const struct kv_view *v, int64_t requested, int64_t *rev)
{
    if (requested > v->rev)
        return -RINGD_EFUTURE_REV;
    *rev = requested <= 0 ? v->rev : requested;
    if (*rev < mvcc_compact_rev(v->store))
        return -RINGD_ECOMPACTED;
    return 0;
}

static bool kv_range_fetches_all(const Etcdserverpb__RangeRequest *r)
{
    return r->sort_order != ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__NONE ||
           r->min_mod_revision != 0 || r->max_mod_revision != 0 || r->min_create_revision != 0 ||
           r->max_create_revision != 0;
}

/* Collects the range's key-values (all, or the first `fetch`) and counts every visible key. */
static int kv_range_collect(const struct kv_view *v, const Etcdserverpb__RangeRequest *r,
                            int64_t rev, int64_t fetch, struct kv_list *l, int64_t *count,
                            struct arena *a)
{
    struct mvcc_cursor c;
    kv_cursor(v, &c, r->key, r->range_end, rev);
    struct mvcc_kv kv;
    *count = 0;
    while (mvcc_cursor_next(&c, &kv)) {
        (*count)++;
        if (r->count_only || (fetch > 0 && (int64_t)l->count >= fetch))
            continue;
        int err = kv_list_add(l, kv_to_pb(&kv, a), a); /* values sort before keys_only */
        if (err < 0)
            return err;
    }
    return 0;
}

/* etcd's pruneKVs for the four revision filters, in place. */
static void kv_range_filter(const Etcdserverpb__RangeRequest *r, struct kv_list *l)
{
    size_t j = 0;
    for (size_t i = 0; i < l->count; i++) {
        const Mvccpb__KeyValue *kv = l->items[i];
        bool drop = (r->max_mod_revision != 0 && kv->mod_revision > r->max_mod_revision) ||
                    (r->min_mod_revision != 0 && kv->mod_revision < r->min_mod_revision) ||
                    (r->max_create_revision != 0 && kv->create_revision > r->max_create_revision) ||
                    (r->min_create_revision != 0 && kv->create_revision < r->min_create_revision);
        if (!drop)
            l->items[j++] = l->items[i];
    }
    l->count = j;
}

int kv_bytes_compare(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.data, b.data, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

static int kv_i64_cmp(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

/* Order by a sort target; 0 for targets etcd does not know (nothing is sorted then). */
static int kv_target_cmp(Etcdserverpb__RangeRequest__SortTarget target, const Mvccpb__KeyValue *a,
                         const Mvccpb__KeyValue *b)
{
    switch (target) {
    case ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__KEY:
        return kv_bytes_compare(a->key, b->key);
    case ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__VERSION:
        return kv_i64_cmp(a->version, b->version);
    case ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__CREATE:
        return kv_i64_cmp(a->create_revision, b->create_revision);
    case ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__MOD:
        return kv_i64_cmp(a->mod_revision, b->mod_revision);
    case ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__VALUE:
        return kv_bytes_compare(a->value, b->value);
    default:
        return 0;
    }
}

struct kv_sort {
    Etcdserverpb__RangeRequest__SortTarget target;
    bool descend;
};

static bool kv_sort_before(const struct kv_sort *s, const Mvccpb__KeyValue *a,
                           const Mvccpb__KeyValue *b)
{
    int c = kv_target_cmp(s->target, a, b);
    return s->descend ? c > 0 : c < 0;
}

/* Merges two sorted runs of src into dst; equal items keep their order. */
static void kv_merge(const struct kv_sort *s, Mvccpb__KeyValue **src, Mvccpb__KeyValue **dst,
                     size_t lo, size_t mid, size_t hi)
{
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi)
        dst[k++] = kv_sort_before(s, src[j], src[i]) ? src[j++] : src[i++];
    while (i < mid)
        dst[k++] = src[i++];
    while (j < hi)
        dst[k++] = src[j++];
}

/* A stable sort (bottom-up merge sort, no recursion): keys that tie on the target stay in key
 * order, which is what etcd's sort gives for the result sizes clients see (Go sorts up to 12
 * items by insertion, a stable method; above that its order of ties is its own). */
static int kv_range_sort(const struct kv_sort *s, struct kv_list *l, struct arena *a)
{
    if (l->count < 2)
        return 0;
    Mvccpb__KeyValue **tmp = arena_alloc(a, l->count * sizeof *tmp);
    if (tmp == NULL)
        return -ENOMEM;
    Mvccpb__KeyValue **src = l->items, **dst = tmp;
    for (size_t width = 1; width < l->count; width *= 2) {
        for (size_t lo = 0; lo < l->count; lo += 2 * width) {
            size_t mid = lo + width < l->count ? lo + width : l->count;
            size_t hi = lo + 2 * width < l->count ? lo + 2 * width : l->count;
            kv_merge(s, src, dst, lo, mid, hi);
        }
        Mvccpb__KeyValue **t = src;
        src = dst;
        dst = t;
    }
    l->items = src;
    return 0;
}

/* etcd's sort rules: a target other than KEY sorts ascending when no order is given; KEY
 * ascending is the cursor's own order. */
static int kv_range_order(const Etcdserverpb__RangeRequest *r, struct kv_list *l, struct arena *a)
{
    Etcdserverpb__RangeRequest__SortOrder order = r->sort_order;
    if (r->sort_target != ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__KEY &&
        order == ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__NONE)
        order = ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__ASCEND;
    if (order != ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__ASCEND &&
        order != ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__DESCEND)
        return 0;
    struct kv_sort s = {.target = r->sort_target,
                        .descend = order == ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__DESCEND};
    return kv_range_sort(&s, l, a);
}

int kv_range(const struct kv_view *v, const Etcdserverpb__RangeRequest *r,
             Etcdserverpb__RangeResponse *out, struct arena *a)
{
    int64_t rev;
    int err = kv_range_rev(v, r->revision, &rev);
    if (err < 0)
        return err;
    /* Everything when filters or a sort come after; one more than the limit, for `more`. */
    int64_t fetch = kv_range_fetches_all(r) ? 0 : r->limit;
    if (fetch > 0)
        fetch++;
    struct kv_list l = {0};
    int64_t count;
    err = kv_range_collect(v, r, rev, fetch, &l, &count, a);
    if (err == 0) {
        kv_range_filter(r, &l);
        err = kv_range_order(r, &l, a);
    }
    *out = (Etcdserverpb__RangeResponse)ETCDSERVERPB__RANGE_RESPONSE__INIT;
    out->header = kv_header(a, v->rev);
    if (err < 0 || out->header == NULL)
        return err < 0 ? err : -ENOMEM;
    if (r->limit > 0 && (int64_t)l.count > r->limit) {
        l.count = (size_t)r->limit;
        out->more = true;
    }
    for (size_t i = 0; r->keys_only && i < l.count; i++)
        l.items[i]->value = (ProtobufCBinaryData){0, NULL}; /* after the sort, as etcd */
    out->count = count;
    out->kvs = l.items;
    out->n_kvs = l.count;
    return 0;
}

int kv_put(struct kv_view *v, const struct kv_env *env, const Etcdserverpb__PutRequest *r,
           bool in_txn, Etcdserverpb__PutResponse *out, struct arena *a)
{
    ASSERT(v->txn != NULL);
    if (!in_txn && r->lease != 0 && !env->lease_exists(env->arg, r->lease))
        return -RINGD_ELEASE_NOT_FOUND;
    struct mvcc_kv prev;
    bool has_prev = (r->ignore_value || r->ignore_lease || r->prev_kv) && kv_get(v, r->key, &prev);
    if ((r->ignore_value || r->ignore_lease) && !has_prev)
        return -RINGD_EKEY_NOT_FOUND;
    *out = (Etcdserverpb__PutResponse)ETCDSERVERPB__PUT_RESPONSE__INIT;
    if (r->prev_kv && has_prev && (out->prev_kv = kv_to_pb(&prev, a)) == NULL)
        return -ENOMEM;
    const uint8_t *value = r->ignore_value ? prev.v->value : r->value.data;
    uint32_t value_len = r->ignore_value ? prev.v->value_len : (uint32_t)r->value.len;
    int64_t lease = r->ignore_lease ? prev.v->lease : r->lease;
    int err =
        mvcc_txn_put(v->txn, r->key.data, (uint32_t)r->key.len, value, value_len, lease, NULL);
    if (err < 0)
        return err;
    kv_view_track(v);
    out->header = kv_header(a, v->txn->rev);
    return out->header != NULL ? 0 : -ENOMEM;
}

struct kv_deleted {
    struct kv_list prev;
    struct arena *arena;
    int err;
};

static void kv_on_deleted(void *arg, const struct mvcc_kv *kv)
{
    struct kv_deleted *d = arg;
    if (d->err == 0)
        d->err = kv_list_add(&d->prev, kv_to_pb(kv, d->arena), d->arena);
}

int kv_delete_range(struct kv_view *v, const Etcdserverpb__DeleteRangeRequest *r,
                    Etcdserverpb__DeleteRangeResponse *out, struct arena *a)
{
    ASSERT(v->txn != NULL);
    struct kv_deleted d = {.arena = a};
    int64_t n =
        mvcc_txn_delete_range(v->txn, r->key.data, (uint32_t)r->key.len, r->range_end.data,
                              (uint32_t)r->range_end.len, r->prev_kv ? kv_on_deleted : NULL, &d);
    if (n < 0 || d.err < 0)
        return n < 0 ? (int)n : d.err;
    kv_view_track(v);
    *out = (Etcdserverpb__DeleteRangeResponse)ETCDSERVERPB__DELETE_RANGE_RESPONSE__INIT;
    out->deleted = n;
    out->prev_kvs = d.prev.items;
    out->n_prev_kvs = d.prev.count;
    /* etcd's storeTxnWrite.DeleteRange: the transaction's revision once it changed anything. */
    out->header = kv_header(a, v->rev);
    return out->header != NULL ? 0 : -ENOMEM;
}

int kv_compact(struct mvcc_store *s, const Etcdserverpb__CompactionRequest *r,
               Etcdserverpb__CompactionResponse *out, struct arena *a)
{
    int err = mvcc_compact(s, r->revision);
    if (err < 0)
        return err;
    *out = (Etcdserverpb__CompactionResponse)ETCDSERVERPB__COMPACTION_RESPONSE__INIT;
    out->header = kv_header(a, mvcc_current_rev(s));
    return out->header != NULL ? 0 : -ENOMEM;
}

int64_t kv_cost_put(const Etcdserverpb__PutRequest *r)
{
    return KV_PUT_OVERHEAD_BYTES + (int64_t)r->key.len + (int64_t)r->value.len;
}

static int64_t kv_cost_ops(Etcdserverpb__RequestOp *const *ops, size_t n)
{
    int64_t cost = 0;
    for (size_t i = 0; i < n; i++) {
        if (ops[i]->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT)
            cost += kv_cost_put(ops[i]->request_put);
    }
    return cost;
}

int64_t kv_cost_txn(const Etcdserverpb__TxnRequest *r)
{
    int64_t success = kv_cost_ops(r->success, r->n_success);
    int64_t failure = kv_cost_ops(r->failure, r->n_failure);
    return success > failure ? success : failure;
}
