/* etcd's KV service (Range, Put, DeleteRange, Txn, Compact) on the MVCC store, in etcd's own
 * terms: the requests and responses are the protobuf messages, and every check, default and
 * corner case is etcd 3.4's (etcdserver/api/v3rpc/key.go for the checks made before anything
 * runs; etcdserver/apply.go and mvcc/kvstore_txn.go for the execution), read as facts.
 *
 * Responses are built in the caller's arena and point into the store (keys, values): pack them
 * while the memory is still valid, inside the reader's read section or, on the writer, before
 * its next compaction step. Header fields other than the revision are the caller's
 * (cluster_view_header).
 *
 * Threads: the checks and kv_txn_is_readonly are pure (any thread). kv_range and a read-only
 * kv_txn run on a reader thread inside a read section, on a read view; every other function runs
 * on the store's writer thread (the apply actor) with a write view. */
#ifndef RINGD_KV_H
#define RINGD_KV_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "etcdserverpb/rpc.pb-c.h"
#include "mvcc.h"

/* What a request reads from. A read view is the store at one revision (the current one when
 * the view was opened); a write view reads through the writer's transaction, so it sees the
 * transaction's earlier changes, and its revision becomes the transaction's once it changed
 * something (etcd's storeTxnWrite.Range). */
struct kv_view {
    struct mvcc_store *store;
    struct mvcc_txn *txn; /* NULL for a read view */
    int64_t rev;
};

/* A read view at the store's current revision. Reader thread, inside a read section. */
void kv_view_read(struct kv_view *v, struct mvcc_store *s);

/* A write view over t (begun by the caller). Writer thread. */
void kv_view_write(struct kv_view *v, struct mvcc_txn *t);

/* The version of one key visible in the view, or false. */
bool kv_get(const struct kv_view *v, ProtobufCBinaryData key, struct mvcc_kv *out);

/* etcd's key order (Go's bytes.Compare): bytes, then length. */
int kv_bytes_compare(ProtobufCBinaryData a, ProtobufCBinaryData b);

/* What the KV service needs from the rest of the server: whether a lease exists (etcd's
 * lessor.Lookup). */
struct kv_env {
    bool (*lease_exists)(void *arg, int64_t lease);
    void *arg;
    uint32_t max_txn_ops; /* --max-txn-ops */
};

/* The lease check until the lease service lands: no lease exists. */
bool kv_no_leases(void *arg, int64_t lease);

/* etcd's checks before a request runs (v3rpc/key.go): 0 or -RINGD_E* (EEMPTY_KEY,
 * EVALUE_PROVIDED, ELEASE_PROVIDED, ETOO_MANY_OPS, EKEY_NOT_FOUND for an empty RequestOp,
 * EDUPLICATE_KEY for overlapping puts and deletes in a txn). kv_check_txn uses a for
 * scratch memory (reset it afterwards) and may fail with -ENOMEM. */
int kv_check_range(const Etcdserverpb__RangeRequest *r);
int kv_check_put(const Etcdserverpb__PutRequest *r);
int kv_check_delete_range(const Etcdserverpb__DeleteRangeRequest *r);
int kv_check_txn(const Etcdserverpb__TxnRequest *r, uint32_t max_txn_ops, struct arena *a);

/* True for a txn whose branches hold only ranges (etcd's isTxnReadonly): it is served on a
 * read view, without the writer. */
bool kv_txn_is_readonly(const Etcdserverpb__TxnRequest *r);

/* Range (etcd's applierV3backend.Range): fills *out. Returns 0, -RINGD_EFUTURE_REV,
 * -RINGD_ECOMPACTED or -ENOMEM. */
int kv_range(const struct kv_view *v, const Etcdserverpb__RangeRequest *r,
             Etcdserverpb__RangeResponse *out, struct arena *a);

/* Put, as a request of its own (its lease is checked here) or inside a txn (checked before the
 * txn ran). Returns 0, -RINGD_ELEASE_NOT_FOUND, -RINGD_EKEY_NOT_FOUND (ignore_value or
 * ignore_lease on a missing key) or -ENOMEM. */
int kv_put(struct kv_view *v, const struct kv_env *env, const Etcdserverpb__PutRequest *r,
           bool in_txn, Etcdserverpb__PutResponse *out, struct arena *a);

/* DeleteRange. Returns 0 or -ENOMEM. */
int kv_delete_range(struct kv_view *v, const Etcdserverpb__DeleteRangeRequest *r,
                    Etcdserverpb__DeleteRangeResponse *out, struct arena *a);

/* Txn on a write view, or a read-only txn (kv_txn_is_readonly) on a read view. Returns 0,
 * -RINGD_EKEY_NOT_FOUND, -RINGD_ELEASE_NOT_FOUND, -RINGD_EFUTURE_REV, -RINGD_ECOMPACTED (etcd's
 * checks of the chosen branches, made before any change) or -ENOMEM. */
int kv_txn(struct kv_view *v, const struct kv_env *env, const Etcdserverpb__TxnRequest *r,
           Etcdserverpb__TxnResponse *out, struct arena *a);

/* Compact: schedules compaction at r->revision. Returns 0, -RINGD_ECOMPACTED or
 * -RINGD_EFUTURE_REV. Writer. The caller waits for mvcc_compact_step to finish before it answers
 * a physical compaction. */
int kv_compact(struct mvcc_store *s, const Etcdserverpb__CompactionRequest *r,
               Etcdserverpb__CompactionResponse *out, struct arena *a);

/* The quota's cost of a request that writes (etcd's backendQuota.Cost): 256 bytes of overhead
 * plus key and value for a put; for a txn, the larger of its branches' puts (not counting
 * nested txns, as etcd). 0 for requests that add nothing. */
int64_t kv_cost_put(const Etcdserverpb__PutRequest *r);
int64_t kv_cost_txn(const Etcdserverpb__TxnRequest *r);

#endif
