/* core/kv: etcd's KV rules on the store, one thread acting as writer and reader. What etcd
 * 3.4.23 does is the expectation everywhere (checked against it by tests/test_kv_diff.c too);
 * here each rule is pinned on its own: the checks before a request runs (duplicate keys in
 * nested txns, op budgets), Range's count/more/limit/sort/filters, Put's flags, DeleteRange's
 * revision, Txn's compares, revisions and nested responses, Compact's errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "kv.h"
#include "ringd_error.h"

struct fixture {
    struct mvcc_store store;
    struct mvcc_reader reader;
    struct arena arena;
    struct kv_env env;
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    assert_int_equal(mvcc_store_init(&f.store), 0);
    mvcc_reader_register(&f.store, &f.reader);
    arena_init(&f.arena);
    f.env = (struct kv_env){.lease_exists = kv_no_leases, .max_txn_ops = 128};
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    arena_destroy(&f->arena);
    mvcc_store_destroy(&f->store);
    return 0;
}

static ProtobufCBinaryData bin(const char *s)
{
    return (ProtobufCBinaryData){.len = strlen(s), .data = (uint8_t *)s};
}

/* Runs a write request in its own transaction, as the apply actor does. */
static int put(struct fixture *f, const char *key, const char *value, Etcdserverpb__PutResponse *out)
{
    Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
    r.key = bin(key);
    r.value = bin(value);
    r.prev_kv = true;
    struct mvcc_txn t;
    struct kv_view v;
    mvcc_txn_begin(&f->store, &t);
    kv_view_write(&v, &t);
    Etcdserverpb__PutResponse resp;
    int err = kv_put(&v, &f->env, &r, false, out != NULL ? out : &resp, &f->arena);
    mvcc_txn_end(&t);
    return err;
}

static int txn(struct fixture *f, const Etcdserverpb__TxnRequest *r, Etcdserverpb__TxnResponse *out)
{
    struct mvcc_txn t;
    struct kv_view v;
    mvcc_txn_begin(&f->store, &t);
    kv_view_write(&v, &t);
    int err = kv_txn(&v, &f->env, r, out, &f->arena);
    mvcc_txn_end(&t);
    return err;
}

static int range(struct fixture *f, const Etcdserverpb__RangeRequest *r,
                 Etcdserverpb__RangeResponse *out)
{
    mvcc_read_begin(&f->reader);
    struct kv_view v;
    kv_view_read(&v, &f->store);
    int err = kv_range(&v, r, out, &f->arena);
    mvcc_read_end(&f->reader); /* the store is not compacted here: pointers stay good */
    return err;
}

static void assert_key(const Mvccpb__KeyValue *kv, const char *key)
{
    assert_int_equal(kv->key.len, strlen(key));
    assert_memory_equal(kv->key.data, key, kv->key.len);
}

static void test_put_revisions_and_prev_kv(void **state)
{
    struct fixture *f = *state;
    Etcdserverpb__PutResponse r;
    assert_int_equal(put(f, "a", "1", &r), 0);
    assert_int_equal(r.header->revision, 2); /* an empty store is at 1 */
    assert_null(r.prev_kv);
    assert_int_equal(put(f, "a", "2", &r), 0);
    assert_int_equal(r.header->revision, 3);
    assert_non_null(r.prev_kv);
    assert_int_equal(r.prev_kv->version, 1);
    assert_int_equal(r.prev_kv->create_revision, 2);
    assert_int_equal(r.prev_kv->mod_revision, 2);
}

static void test_put_flags(void **state)
{
    struct fixture *f = *state;
    Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
    assert_int_equal(kv_check_put(&r), -RINGD_EEMPTY_KEY);
    r.key = bin("k");
    r.ignore_value = true;
    r.value = bin("v");
    assert_int_equal(kv_check_put(&r), -RINGD_EVALUE_PROVIDED);
    r.ignore_value = false;
    r.ignore_lease = true;
    r.lease = 5;
    assert_int_equal(kv_check_put(&r), -RINGD_ELEASE_PROVIDED);
    /* ignore_value on a key that does not exist: etcd's "key not found". */
    r.ignore_lease = false;
    r.lease = 0;
    r.ignore_value = true;
    r.value = (ProtobufCBinaryData){0, NULL};
    struct mvcc_txn t;
    struct kv_view v;
    Etcdserverpb__PutResponse resp;
    mvcc_txn_begin(&f->store, &t);
    kv_view_write(&v, &t);
    assert_int_equal(kv_put(&v, &f->env, &r, false, &resp, &f->arena), -RINGD_EKEY_NOT_FOUND);
    /* A lease that does not exist. */
    r.ignore_value = false;
    r.lease = 7;
    assert_int_equal(kv_put(&v, &f->env, &r, false, &resp, &f->arena), -RINGD_ELEASE_NOT_FOUND);
    assert_int_equal(mvcc_txn_end(&t), 1); /* nothing changed: no revision used */
    /* ignore_value keeps the old value. */
    assert_int_equal(put(f, "k", "old", NULL), 0);
    r.lease = 0;
    r.ignore_value = true;
    mvcc_txn_begin(&f->store, &t);
    kv_view_write(&v, &t);
    assert_int_equal(kv_put(&v, &f->env, &r, false, &resp, &f->arena), 0);
    mvcc_txn_end(&t);
    Etcdserverpb__RangeRequest get = ETCDSERVERPB__RANGE_REQUEST__INIT;
    get.key = bin("k");
    Etcdserverpb__RangeResponse got;
    assert_int_equal(range(f, &get, &got), 0);
    assert_int_equal(got.n_kvs, 1);
    assert_int_equal(got.kvs[0]->version, 2);
    assert_memory_equal(got.kvs[0]->value.data, "old", 3);
}

/* Keys a..e with values e..a (so VALUE order is the reverse of KEY order). */
static void five_keys(struct fixture *f)
{
    const char *keys[] = {"a", "b", "c", "d", "e"}, *values[] = {"e", "d", "c", "b", "a"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(put(f, keys[i], values[i], NULL), 0);
}

static void test_range_count_more_limit(void **state)
{
    struct fixture *f = *state;
    five_keys(f);
    Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
    r.key = bin("a");
    r.range_end = bin("d"); /* a, b, c */
    r.limit = 2;
    Etcdserverpb__RangeResponse out;
    assert_int_equal(range(f, &r, &out), 0);
    assert_int_equal(out.n_kvs, 2);
    assert_true(out.more);
    assert_int_equal(out.count, 3);
    assert_int_equal(out.header->revision, 6);
    /* "\0": every key from "b" on. */
    r.key = bin("b");
    r.range_end = (ProtobufCBinaryData){.len = 1, .data = (uint8_t *)"\0"};
    r.limit = 0;
    assert_int_equal(range(f, &r, &out), 0);
    assert_int_equal(out.count, 4);
    assert_false(out.more);
    /* count_only: the count, no key-values. keys_only: no values. */
    r.count_only = true;
    assert_int_equal(range(f, &r, &out), 0);
    assert_int_equal(out.n_kvs, 0);
    assert_int_equal(out.count, 4);
    r.count_only = false;
    r.keys_only = true;
    assert_int_equal(range(f, &r, &out), 0);
    assert_int_equal(out.kvs[0]->value.len, 0);
    /* An end below the key: nothing. */
    r.key = bin("d");
    r.range_end = bin("b");
    assert_int_equal(range(f, &r, &out), 0);
    assert_int_equal(out.count, 0);
}

static void test_range_sort_and_filters(void **state)
{
    struct fixture *f = *state;
    five_keys(f);
    assert_int_equal(put(f, "c", "z", NULL), 0); /* c: version 2, mod 7 */
    Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
    r.key = bin("a");
    r.range_end = bin("z");
    /* A target other than KEY with no order sorts ascending. */
    r.sort_target = ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__VALUE;
    Etcdserverpb__RangeResponse out;
    assert_int_equal(range(f, &r, &out), 0);
    const char *by_value[] = {"e", "d", "b", "a", "c"};
    for (int i = 0; i < 5; i++)
        assert_key(out.kvs[i], by_value[i]);
    /* Ties on VERSION keep key order, descending too. */
    r.sort_target = ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__VERSION;
    r.sort_order = ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__DESCEND;
    assert_int_equal(range(f, &r, &out), 0);
    const char *by_version[] = {"c", "a", "b", "d", "e"};
    for (int i = 0; i < 5; i++)
        assert_key(out.kvs[i], by_version[i]);
    /* Filters apply before the limit; count stays the range's. */
    r.sort_order = ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__NONE;
    r.sort_target = ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__KEY;
    r.min_mod_revision = 4;
    r.limit = 1;
    assert_int_equal(range(f, &r, &out), 0);
    assert_int_equal(out.count, 5);
    assert_int_equal(out.n_kvs, 1);
    assert_true(out.more);
    assert_key(out.kvs[0], "c");
}

static void test_range_revisions(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(put(f, "a", "1", NULL), 0); /* rev 2 */
    assert_int_equal(put(f, "a", "2", NULL), 0); /* rev 3 */
    Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
    r.key = bin("a");
    r.revision = 2;
    Etcdserverpb__RangeResponse out;
    assert_int_equal(range(f, &r, &out), 0);
    assert_memory_equal(out.kvs[0]->value.data, "1", 1);
    assert_int_equal(out.header->revision, 3); /* the current revision, as etcd answers */
    r.revision = 4;
    assert_int_equal(range(f, &r, &out), -RINGD_EFUTURE_REV);
    r.revision = -5; /* etcd reads a negative revision as the current one */
    assert_int_equal(range(f, &r, &out), 0);
    Etcdserverpb__CompactionRequest c = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
    Etcdserverpb__CompactionResponse cr;
    c.revision = 3;
    assert_int_equal(kv_compact(&f->store, &c, &cr, &f->arena), 0);
    assert_int_equal(kv_compact(&f->store, &c, &cr, &f->arena), -RINGD_ECOMPACTED);
    c.revision = 9;
    assert_int_equal(kv_compact(&f->store, &c, &cr, &f->arena), -RINGD_EFUTURE_REV);
    r.revision = 2;
    assert_int_equal(range(f, &r, &out), -RINGD_ECOMPACTED);
    r.revision = 3;
    assert_int_equal(range(f, &r, &out), 0);
}

/* Helpers that build txn requests in the arena. */

static Etcdserverpb__RequestOp *op_put(struct arena *a, const char *key)
{
    Etcdserverpb__PutRequest *p = arena_alloc(a, sizeof *p);
    *p = (Etcdserverpb__PutRequest)ETCDSERVERPB__PUT_REQUEST__INIT;
    p->key = bin(key);
    p->value = bin("v");
    Etcdserverpb__RequestOp *op = arena_alloc(a, sizeof *op);
    *op = (Etcdserverpb__RequestOp)ETCDSERVERPB__REQUEST_OP__INIT;
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    op->request_put = p;
    return op;
}

static Etcdserverpb__RequestOp *op_del(struct arena *a, const char *key, const char *end)
{
    Etcdserverpb__DeleteRangeRequest *d = arena_alloc(a, sizeof *d);
    *d = (Etcdserverpb__DeleteRangeRequest)ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    d->key = bin(key);
    if (end != NULL)
        d->range_end = bin(end);
    Etcdserverpb__RequestOp *op = arena_alloc(a, sizeof *op);
    *op = (Etcdserverpb__RequestOp)ETCDSERVERPB__REQUEST_OP__INIT;
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
    op->request_delete_range = d;
    return op;
}

static Etcdserverpb__RequestOp *op_range(struct arena *a, const char *key)
{
    Etcdserverpb__RangeRequest *r = arena_alloc(a, sizeof *r);
    *r = (Etcdserverpb__RangeRequest)ETCDSERVERPB__RANGE_REQUEST__INIT;
    r->key = bin(key);
    Etcdserverpb__RequestOp *op = arena_alloc(a, sizeof *op);
    *op = (Etcdserverpb__RequestOp)ETCDSERVERPB__REQUEST_OP__INIT;
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    op->request_range = r;
    return op;
}

static Etcdserverpb__RequestOp *op_txn(struct arena *a, Etcdserverpb__TxnRequest *t)
{
    Etcdserverpb__RequestOp *op = arena_alloc(a, sizeof *op);
    *op = (Etcdserverpb__RequestOp)ETCDSERVERPB__REQUEST_OP__INIT;
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN;
    op->request_txn = t;
    return op;
}

#define OPS(...) ((Etcdserverpb__RequestOp *[]){__VA_ARGS__})
#define NOPS(...) (sizeof OPS(__VA_ARGS__) / sizeof(Etcdserverpb__RequestOp *))

static Etcdserverpb__TxnRequest *txn_of(struct arena *a, Etcdserverpb__RequestOp **success,
                                        size_t n_success, Etcdserverpb__RequestOp **failure,
                                        size_t n_failure)
{
    Etcdserverpb__TxnRequest *t = arena_alloc(a, sizeof *t);
    *t = (Etcdserverpb__TxnRequest)ETCDSERVERPB__TXN_REQUEST__INIT;
    t->success = success;
    t->n_success = n_success;
    t->failure = failure;
    t->n_failure = n_failure;
    return t;
}

static void test_txn_duplicate_keys(void **state)
{
    struct fixture *f = *state;
    struct arena *a = &f->arena;
    /* Two puts of one key at one level. */
    Etcdserverpb__TxnRequest *t = txn_of(a, OPS(op_put(a, "k"), op_put(a, "k")), 2, NULL, 0);
    assert_int_equal(kv_check_txn(t, 128, a), -RINGD_EDUPLICATE_KEY);
    /* A put inside a delete's range. */
    t = txn_of(a, OPS(op_del(a, "a", "c"), op_put(a, "b")), 2, NULL, 0);
    assert_int_equal(kv_check_txn(t, 128, a), -RINGD_EDUPLICATE_KEY);
    /* A from-key delete ("\0") is not an interval to etcd here: no conflict. */
    Etcdserverpb__RequestOp *from_a = op_del(a, "a", NULL);
    from_a->request_delete_range->range_end = (ProtobufCBinaryData){1, (uint8_t *)"\0"};
    t = txn_of(a, OPS(from_a, op_put(a, "b")), 2, NULL, 0);
    assert_int_equal(kv_check_txn(t, 128, a), 0);
    /* The same key in both branches of a nested txn is fine (only one runs)... */
    Etcdserverpb__TxnRequest *inner = txn_of(a, OPS(op_put(a, "x")), 1, OPS(op_put(a, "x")), 1);
    t = txn_of(a, OPS(op_txn(a, inner)), 1, NULL, 0);
    assert_int_equal(kv_check_txn(t, 128, a), 0);
    /* ...but not the same key in the nested txn and its parent. */
    t = txn_of(a, OPS(op_txn(a, inner), op_put(a, "x")), 2, NULL, 0);
    assert_int_equal(kv_check_txn(t, 128, a), -RINGD_EDUPLICATE_KEY);
    /* A nested put under a delete of the parent's level. */
    t = txn_of(a, OPS(op_del(a, "x", NULL), op_txn(a, inner)), 2, NULL, 0);
    assert_int_equal(kv_check_txn(t, 128, a), -RINGD_EDUPLICATE_KEY);
    /* Success and failure of the top txn are checked apart. */
    t = txn_of(a, OPS(op_put(a, "k")), 1, OPS(op_put(a, "k")), 1);
    assert_int_equal(kv_check_txn(t, 128, a), 0);
}

static void test_txn_op_budget(void **state)
{
    struct fixture *f = *state;
    struct arena *a = &f->arena;
    Etcdserverpb__TxnRequest *t = txn_of(a, OPS(op_range(a, "a"), op_range(a, "b")), 2, NULL, 0);
    assert_int_equal(kv_check_txn(t, 2, a), 0);
    assert_int_equal(kv_check_txn(t, 1, a), -RINGD_ETOO_MANY_OPS);
    /* A nested txn gets what its parent leaves: 3 - 2 = 1 < 2. */
    Etcdserverpb__TxnRequest *outer = txn_of(a, OPS(op_txn(a, t), op_range(a, "c")), 2, NULL, 0);
    assert_int_equal(kv_check_txn(outer, 3, a), -RINGD_ETOO_MANY_OPS);
    assert_int_equal(kv_check_txn(outer, 4, a), 0);
    /* An empty op is etcd's "key not found". */
    Etcdserverpb__RequestOp empty = ETCDSERVERPB__REQUEST_OP__INIT;
    t = txn_of(a, OPS(&empty), 1, NULL, 0);
    assert_int_equal(kv_check_txn(t, 128, a), -RINGD_EKEY_NOT_FOUND);
}

static Etcdserverpb__Compare *cmp(struct arena *a, const char *key,
                                  Etcdserverpb__Compare__CompareTarget target,
                                  Etcdserverpb__Compare__CompareResult result, int64_t n)
{
    Etcdserverpb__Compare *c = arena_alloc(a, sizeof *c);
    *c = (Etcdserverpb__Compare)ETCDSERVERPB__COMPARE__INIT;
    c->key = bin(key);
    c->target = target;
    c->result = result;
    c->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
    c->version = n;
    return c;
}

static void test_txn_compares_and_revisions(void **state)
{
    struct fixture *f = *state;
    struct arena *a = &f->arena;
    /* version("k") == 0 holds for a key that does not exist; VALUE never does. */
    Etcdserverpb__TxnRequest *t = txn_of(a, OPS(op_put(a, "k")), 1, OPS(op_range(a, "k")), 1);
    Etcdserverpb__Compare *c[] = {cmp(a, "k", ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION,
                                      ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL, 0)};
    t->compare = c;
    t->n_compare = 1;
    Etcdserverpb__TxnResponse out;
    assert_int_equal(txn(f, t, &out), 0);
    assert_true(out.succeeded);
    assert_int_equal(out.header->revision, 2);
    assert_int_equal(out.responses[0]->response_put->header->revision, 2);
    /* Now version is 1: the failure branch, a range, changes nothing: the revision stays. */
    assert_int_equal(txn(f, t, &out), 0);
    assert_false(out.succeeded);
    assert_int_equal(out.header->revision, 2);
    assert_int_equal(out.responses[0]->response_range->count, 1);
    /* VALUE compared on a missing key fails whatever the result asked. */
    c[0] = cmp(a, "missing", ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE,
               ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL, 0);
    assert_int_equal(txn(f, t, &out), 0);
    assert_false(out.succeeded);
}

static void test_txn_nested_responses(void **state)
{
    struct fixture *f = *state;
    struct arena *a = &f->arena;
    /* A range after a put in the same txn sees it, at the txn's revision. */
    Etcdserverpb__TxnRequest *inner = txn_of(a, OPS(op_range(a, "n")), 1, NULL, 0);
    Etcdserverpb__TxnRequest *t =
        txn_of(a, OPS(op_put(a, "n"), op_range(a, "n"), op_txn(a, inner)), 3, NULL, 0);
    Etcdserverpb__TxnResponse out;
    assert_int_equal(txn(f, t, &out), 0);
    assert_int_equal(out.header->revision, 2);
    Etcdserverpb__RangeResponse *seen = out.responses[1]->response_range;
    assert_int_equal(seen->n_kvs, 1);
    assert_int_equal(seen->header->revision, 2);
    /* The nested txn's response carries an empty header, as etcd's does. */
    Etcdserverpb__TxnResponse *nested = out.responses[2]->response_txn;
    assert_non_null(nested->header);
    assert_int_equal(nested->header->revision, 0);
    assert_true(nested->succeeded);
    assert_int_equal(nested->responses[0]->response_range->n_kvs, 1);
}

static void test_delete_range_revision(void **state)
{
    struct fixture *f = *state;
    five_keys(f); /* rev 6 */
    Etcdserverpb__DeleteRangeRequest d = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    d.key = bin("x"); /* nothing there: the current revision comes back */
    struct mvcc_txn t;
    struct kv_view v;
    Etcdserverpb__DeleteRangeResponse out;
    mvcc_txn_begin(&f->store, &t);
    kv_view_write(&v, &t);
    assert_int_equal(kv_delete_range(&v, &d, &out, &f->arena), 0);
    mvcc_txn_end(&t);
    assert_int_equal(out.deleted, 0);
    assert_int_equal(out.header->revision, 6);
    d.key = bin("b");
    d.range_end = bin("d");
    d.prev_kv = true;
    mvcc_txn_begin(&f->store, &t);
    kv_view_write(&v, &t);
    assert_int_equal(kv_delete_range(&v, &d, &out, &f->arena), 0);
    mvcc_txn_end(&t);
    assert_int_equal(out.deleted, 2);
    assert_int_equal(out.header->revision, 7);
    assert_int_equal(out.n_prev_kvs, 2);
    assert_key(out.prev_kvs[1], "c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_revisions_and_prev_kv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_count_more_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_sort_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_revisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_op_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_compares_and_revisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_nested_responses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_range_revision, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
