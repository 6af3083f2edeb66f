/* ringd-bench's KV workloads, one unary call per operation: put, range (linearizable or
 * serializable, one key or --range-keys consecutive keys), txn-put (--txn-ops puts in one txn),
 * txn-mixed (compare-and-swap: "if the key's mod revision is the one I last saw, put, else read
 * it", which wins or learns the new revision) and delete. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "ringd_assert.h"
#include "ringd_bench_engine.h"

struct kv_state {
    uint8_t *keys;       /* scratch: keys_count keys of key_size + 1 bytes */
    uint32_t key_stride; /* key_size + 1: room for a range end's trailing zero byte */
    int64_t *revisions;  /* txn-mixed: the mod revision last seen of each key number */
};

static uint8_t *kv_key(struct rbench_engine *e, uint32_t i)
{
    struct kv_state *st = e->state;
    return st->keys + (size_t)i * st->key_stride;
}

static ProtobufCBinaryData kv_bytes(const uint8_t *data, size_t len)
{
    return (ProtobufCBinaryData){.len = len, .data = (uint8_t *)data};
}

static int kv_setup(struct rbench_engine *e)
{
    const struct rbench_config *c = e->config;
    struct kv_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return rbench_engine_fail(e, GRPC_STATUS_OK, "out of memory");
    e->state = st;
    uint32_t count = c->txn_ops > 2 ? c->txn_ops : 2;
    st->key_stride = c->key_size + 1u;
    st->keys = calloc(count, st->key_stride);
    if (c->workload == RBENCH_WL_TXN_MIXED)
        st->revisions = calloc(c->key_space_size, sizeof(*st->revisions));
    if (st->keys == NULL || (c->workload == RBENCH_WL_TXN_MIXED && st->revisions == NULL))
        return rbench_engine_fail(e, GRPC_STATUS_OK, "out of memory");
    return 0;
}

static void kv_destroy(struct rbench_engine *e)
{
    struct kv_state *st = e->state;
    if (st == NULL)
        return;
    free(st->keys);
    free(st->revisions);
    free(st);
    e->state = NULL;
}

static void kv_done(void *arg, const struct grpc_client_result *result)
{
    struct rbench_slot *slot = arg;
    rbench_engine_complete(slot->engine, slot, result->status, result->message);
}

static int kv_call(struct rbench_engine *e, struct rbench_slot *slot, const char *path,
                   const ProtobufCMessage *message, const ProtobufCMessageDescriptor *response,
                   grpc_client_done_fn done)
{
    struct grpc_client_request r = {.path = path,
                                    .message = message,
                                    .response = response,
                                    .timeout_ms = rbench_engine_timeout_ms(e)};
    return grpc_client_unary(slot->conn, &r, NULL, slot, done);
}

/* ---- put, delete ----------------------------------------------------------------------------- */

static int put_issue(struct rbench_engine *e, struct rbench_slot *slot, uint64_t op)
{
    uint8_t *key = kv_key(e, 0);
    rbench_keys_format(&e->keys, rbench_keys_pick(&e->keys, op), key);
    Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
    req.key = kv_bytes(key, e->config->key_size);
    req.value = kv_bytes(e->keys.value, e->keys.value_size);
    return kv_call(e, slot, "/etcdserverpb.KV/Put", &req.base, NULL, kv_done);
}

static int delete_issue(struct rbench_engine *e, struct rbench_slot *slot, uint64_t op)
{
    uint8_t *key = kv_key(e, 0);
    rbench_keys_format(&e->keys, rbench_keys_pick(&e->keys, op), key);
    Etcdserverpb__DeleteRangeRequest req = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    req.key = kv_bytes(key, e->config->key_size);
    return kv_call(e, slot, "/etcdserverpb.KV/DeleteRange", &req.base, NULL, kv_done);
}

/* ---- range --------------------------------------------------------------------------------- */

static int range_issue(struct rbench_engine *e, struct rbench_slot *slot, uint64_t op)
{
    const struct rbench_config *c = e->config;
    uint64_t first = rbench_keys_pick(&e->keys, op);
    if (first + c->range_keys > c->key_space_size)
        first = c->key_space_size - c->range_keys;
    uint8_t *key = kv_key(e, 0);
    rbench_keys_format(&e->keys, first, key);
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = kv_bytes(key, c->key_size);
    if (c->range_keys > 1) {
        /* [first, last + "\0"): the last key is in, nothing after it is. */
        uint8_t *end = kv_key(e, 1);
        rbench_keys_format(&e->keys, first + c->range_keys - 1u, end);
        end[c->key_size] = 0;
        req.range_end = kv_bytes(end, c->key_size + 1u);
    }
    req.serializable = c->serializable;
    return kv_call(e, slot, "/etcdserverpb.KV/Range", &req.base, NULL, kv_done);
}

/* ---- txn-put ------------------------------------------------------------------------------- */

static int txn_put_issue(struct rbench_engine *e, struct rbench_slot *slot, uint64_t op)
{
    const struct rbench_config *c = e->config;
    Etcdserverpb__PutRequest puts[RBENCH_TXN_OPS_MAX];
    Etcdserverpb__RequestOp ops[RBENCH_TXN_OPS_MAX];
    Etcdserverpb__RequestOp *list[RBENCH_TXN_OPS_MAX];
    ASSERT(c->txn_ops <= RBENCH_TXN_OPS_MAX && c->txn_ops <= c->key_space_size);
    uint64_t base = rbench_keys_pick(&e->keys, op);
    for (uint32_t j = 0; j < c->txn_ops; j++) {
        uint8_t *key = kv_key(e, j);
        rbench_keys_format(&e->keys, (base + j) % c->key_space_size, key);
        puts[j] = (Etcdserverpb__PutRequest)ETCDSERVERPB__PUT_REQUEST__INIT;
        puts[j].key = kv_bytes(key, c->key_size);
        puts[j].value = kv_bytes(e->keys.value, e->keys.value_size);
        ops[j] = (Etcdserverpb__RequestOp)ETCDSERVERPB__REQUEST_OP__INIT;
        ops[j].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
        ops[j].request_put = &puts[j];
        list[j] = &ops[j];
    }
    Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
    req.n_success = c->txn_ops;
    req.success = list;
    return kv_call(e, slot, "/etcdserverpb.KV/Txn", &req.base, NULL, kv_done);
}

/* ---- txn-mixed: compare-and-swap ----------------------------------------------------------- */

/* The key's mod revision from a failed swap's range answer; 0 when the key does not exist
 * (which a MOD compare with 0 matches). */
static int64_t cas_seen_revision(const Etcdserverpb__TxnResponse *t)
{
    if (t->n_responses < 1 || t->responses[0] == NULL ||
        t->responses[0]->response_case != ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE)
        return -1;
    const Etcdserverpb__RangeResponse *range = t->responses[0]->response_range;
    if (range == NULL || range->n_kvs == 0)
        return 0;
    return range->kvs[0]->mod_revision;
}

static void cas_done(void *arg, const struct grpc_client_result *result)
{
    struct rbench_slot *slot = arg;
    struct rbench_engine *e = slot->engine;
    struct kv_state *st = e->state;
    if (result->status != GRPC_STATUS_OK) {
        rbench_engine_complete(e, slot, result->status, result->message);
        return;
    }
    const Etcdserverpb__TxnResponse *t = (const void *)result->response.decoded;
    int64_t seen = t == NULL      ? -1
                   : t->succeeded ? (t->header ? t->header->revision : -1)
                                  : cas_seen_revision(t);
    if (seen < 0) {
        rbench_engine_complete(e, slot, GRPC_STATUS_INTERNAL, "unexpected Txn response");
        return;
    }
    ASSERT(slot->key < e->config->key_space_size);
    st->revisions[slot->key] = seen;
    if (t->succeeded)
        e->result->writes++;
    else
        e->result->cas_conflicts++;
    rbench_engine_complete(e, slot, GRPC_STATUS_OK, "");
}

static int txn_mixed_issue(struct rbench_engine *e, struct rbench_slot *slot, uint64_t op)
{
    struct kv_state *st = e->state;
    const struct rbench_config *c = e->config;
    slot->key = rbench_keys_pick(&e->keys, op);
    uint8_t *key = kv_key(e, 0);
    rbench_keys_format(&e->keys, slot->key, key);

    Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
    cmp.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
    cmp.key = kv_bytes(key, c->key_size);
    cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
    cmp.mod_revision = st->revisions[slot->key];
    Etcdserverpb__Compare *cmps[1] = {&cmp};

    Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
    put.key = cmp.key;
    put.value = kv_bytes(e->keys.value, e->keys.value_size);
    Etcdserverpb__RequestOp then = ETCDSERVERPB__REQUEST_OP__INIT;
    then.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    then.request_put = &put;
    Etcdserverpb__RequestOp *thens[1] = {&then};

    Etcdserverpb__RangeRequest get = ETCDSERVERPB__RANGE_REQUEST__INIT;
    get.key = cmp.key;
    Etcdserverpb__RequestOp otherwise = ETCDSERVERPB__REQUEST_OP__INIT;
    otherwise.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    otherwise.request_range = &get;
    Etcdserverpb__RequestOp *elses[1] = {&otherwise};

    Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
    req.n_compare = 1;
    req.compare = cmps;
    req.n_success = 1;
    req.success = thens;
    req.n_failure = 1;
    req.failure = elses;
    return kv_call(e, slot, "/etcdserverpb.KV/Txn", &req.base,
                   &etcdserverpb__txn_response__descriptor, cas_done);
}

#define KV_OPS(issue_fn)                                            \
    {                                                               \
        .setup = kv_setup, .issue = issue_fn, .destroy = kv_destroy \
    }

const struct rbench_workload_ops rbench_put_ops = KV_OPS(put_issue);
const struct rbench_workload_ops rbench_range_ops = KV_OPS(range_issue);
const struct rbench_workload_ops rbench_txn_put_ops = KV_OPS(txn_put_issue);
const struct rbench_workload_ops rbench_txn_mixed_ops = KV_OPS(txn_mixed_issue);
const struct rbench_workload_ops rbench_delete_ops = KV_OPS(delete_issue);
