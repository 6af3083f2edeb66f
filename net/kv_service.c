/* The KV service on a shard; see kv_service.h. */
#include "kv_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_view.h"
#include "etcdserverpb/rpc.pb-c.h"
#include "grpc_error.h"
#include "kv.h"
#include "kv_proposal.h"
#include "log.h"
#include "ringd_assert.h"
#include "ringd_error.h"
#include "shard.h"

/* The shard of a call, or NULL after failing the call: sessions made without a shard (tests)
 * have no store. */
static struct shard *kv_shard(struct grpc_call *call)
{
    struct shard *s = grpc_call_shard(call);
    if (s == NULL || s->common->store == NULL) {
        grpc_call_finish(call, GRPC_STATUS_INTERNAL, "ringd: no store on this shard");
        return NULL;
    }
    return s;
}

/* Reads. */

typedef int (*kv_read_fn)(const struct kv_view *v, const ProtobufCMessage *request,
                          const struct kv_env *env, ProtobufCMessage **response,
                          Etcdserverpb__ResponseHeader **header, struct arena *a);

/* Runs a read in a read section and answers with its response, packed before the section
 * ends: the response points into the store. */
static void kv_read(struct shard *s, struct grpc_call *call, const ProtobufCMessage *request,
                    kv_read_fn read)
{
    mvcc_read_begin(&s->reader);
    struct kv_view v;
    kv_view_read(&v, s->common->store);
    ProtobufCMessage *response = NULL;
    Etcdserverpb__ResponseHeader *header = NULL;
    int err = read(&v, request, &s->common->kv_env, &response, &header, &s->arena);
    if (err == 0) {
        cluster_view_header(s->common->view, header);
        grpc_call_reply(call, response);
    }
    mvcc_read_end(&s->reader);
    arena_reset(&s->arena);
    if (err < 0)
        grpc_error_finish(call, err);
}

static int kv_read_range(const struct kv_view *v, const ProtobufCMessage *request,
                         const struct kv_env *env, ProtobufCMessage **response,
                         Etcdserverpb__ResponseHeader **header, struct arena *a)
{
    (void)env;
    Etcdserverpb__RangeResponse *resp = arena_alloc(a, sizeof *resp);
    if (resp == NULL)
        return -ENOMEM;
    int err = kv_range(v, (const void *)request, resp, a);
    *response = &resp->base;
    *header = resp->header;
    return err;
}

/* The reads a shard may hold for a read index: what read_waiter.kind names. */
enum kv_read_kind {
    KV_READ_RANGE,
    KV_READ_TXN,
};

/* A linearizable read in a cluster waits for a read index; a serializable one, or any read on
 * the only voter (whose store holds every acknowledged write), is served now. */
static bool kv_read_now(const struct shard *s, bool serializable)
{
    const struct cluster_view *v = s->common->view;
    return serializable || (cluster_view_voters(v) == 1 && !cluster_view_is_learner(v));
}

static void kv_ask_read_index(struct shard *s)
{
    struct msg m = {.type = MSG_READ_INDEX};
    int err = outbox_send(&s->to_raft, s->actor, &m);
    ASSERT(err == 0); /* the outbox holds every proposal and the one read-index request */
}

/* Holds the call's read until the raft actor answers a read index for it. */
static void kv_read_later(struct shard *s, struct grpc_call *call, enum kv_read_kind kind)
{
    size_t len;
    const uint8_t *request = grpc_call_request_bytes(call, &len);
    bool ask = false;
    int err = read_wait_add(&s->reads, call, kind, request, len, &ask);
    if (err < 0) {
        grpc_error_finish(call, err);
        return;
    }
    if (ask)
        kv_ask_read_index(s);
}

static int kv_read_txn(const struct kv_view *v, const ProtobufCMessage *request,
                       const struct kv_env *env, ProtobufCMessage **response,
                       Etcdserverpb__ResponseHeader **header, struct arena *a)
{
    Etcdserverpb__TxnResponse *resp = arena_alloc(a, sizeof *resp);
    if (resp == NULL)
        return -ENOMEM;
    struct kv_view view = *v; /* a read view: kv_txn takes it as its own */
    int err = kv_txn(&view, env, (const void *)request, resp, a);
    *response = &resp->base;
    *header = resp->header;
    return err;
}

void kv_service_range(struct grpc_call *call, const ProtobufCMessage *request)
{
    const Etcdserverpb__RangeRequest *r = (const void *)request;
    int err = kv_check_range(r);
    if (err < 0) {
        grpc_error_finish(call, err);
        return;
    }
    struct shard *s = kv_shard(call);
    if (s == NULL)
        return;
    if (kv_read_now(s, r->serializable))
        kv_read(s, call, request, kv_read_range);
    else
        kv_read_later(s, call, KV_READ_RANGE);
}

/* etcd's isTxnSerializable: every op of both branches a serializable range. */
static bool kv_txn_serializable(const Etcdserverpb__TxnRequest *r)
{
    Etcdserverpb__RequestOp *const *branches[2] = {r->success, r->failure};
    size_t counts[2] = {r->n_success, r->n_failure};
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < counts[b]; i++)
            if (branches[b][i]->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE ||
                !branches[b][i]->request_range->serializable)
                return false;
    return true;
}

/* Serves a held read: its request decoded again (it passed the checks when it came). */
static void kv_serve_packed(struct shard *s, struct read_waiter *r)
{
    bool range = r->kind == KV_READ_RANGE;
    const ProtobufCMessageDescriptor *d =
        range ? &etcdserverpb__range_request__descriptor : &etcdserverpb__txn_request__descriptor;
    ProtobufCMessage *request = protobuf_c_message_unpack(d, &s->arena.pb, r->len, r->request);
    if (request == NULL) {
        arena_reset(&s->arena);
        grpc_error_finish(r->call, -ENOMEM); /* it decoded once: only memory can fail */
        return;
    }
    kv_read(s, r->call, request, range ? kv_read_range : kv_read_txn);
}

/* Serves the reads a read index released, or fails them with err. */
static void kv_serve_released(struct shard *s, struct read_waiter *list, int err)
{
    while (list != NULL) {
        struct read_waiter *r = list;
        list = r->next;
        if (r->call != NULL && err < 0)
            grpc_error_finish(r->call, err);
        else if (r->call != NULL)
            kv_serve_packed(s, r);
        free(r);
    }
}

void kv_service_read_ready(struct shard *s, const struct msg *m)
{
    bool ask = false;
    struct read_waiter *done = read_wait_release(&s->reads, &ask);
    kv_serve_released(s, done, (int)(int64_t)m->a);
    if (ask)
        kv_ask_read_index(s);
}

/* Writes. */

/* Hands the call's request to the raft actor (or, a query, to the apply actor); the answer
 * comes in kv_service_applied: the apply actor's once the entry is committed and applied (or
 * the raft actor's refusal), or reply_err once applied if that is not 0. */
static void kv_send(struct shard *s, struct grpc_call *call, enum kv_op op, const uint8_t *request,
                    size_t len, int reply_err, bool query)
{
    if (s->proposals_out >= SHARD_PROPOSALS_MAX) {
        if (call != NULL)
            grpc_error_finish(call, -RINGD_ETOO_MANY_REQUESTS);
        return;
    }
    ASSERT(len < UINT32_MAX); /* below --max-request-bytes */
    struct kv_proposal *p = malloc(sizeof *p + KV_ENTRY_HEADER_BYTES + len);
    if (p == NULL) {
        if (call != NULL)
            grpc_error_finish(call, -ENOMEM);
        return;
    }
    *p = (struct kv_proposal){
        .origin = call, .reply_err = reply_err, .entry_len = KV_ENTRY_HEADER_BYTES + len};
    p->entry[0] = (uint8_t)op;
    if (len > 0)
        memcpy(p->entry + KV_ENTRY_HEADER_BYTES, request, len);
    if (call != NULL)
        grpc_call_set_user(call, p);
    struct msg m = {.type = query ? MSG_KV_QUERY : MSG_KV_PROPOSE, .ptr = p};
    int err = outbox_send(query ? &s->to_apply : &s->to_raft, s->actor, &m);
    ASSERT(err == 0); /* the outboxes hold every proposal the shard can have */
    s->proposals_out++;
}

static void kv_propose(struct shard *s, struct grpc_call *call, enum kv_op op,
                       const uint8_t *request, size_t len, int reply_err)
{
    kv_send(s, call, op, request, len, reply_err, false);
}

void kv_service_query(struct grpc_call *call, enum kv_op op)
{
    struct shard *s = kv_shard(call);
    if (s != NULL)
        kv_send(s, call, op, NULL, 0, 0, true);
}

static void kv_propose_call(struct shard *s, struct grpc_call *call, enum kv_op op)
{
    size_t len;
    const uint8_t *request = grpc_call_request_bytes(call, &len);
    kv_propose(s, call, op, request, len, 0);
}

void kv_service_propose(struct grpc_call *call, enum kv_op op)
{
    struct shard *s = kv_shard(call);
    if (s != NULL)
        kv_propose_call(s, call, op);
}

/* etcd's quota check before a write that adds data: past --quota-backend-bytes the NOSPACE
 * alarm is raised (through the log, as etcd proposes it) and, once it stands, the
 * call is refused with NOSPACE. False when the call is answered that way. */
static bool kv_quota_ok(struct shard *s, struct grpc_call *call, int64_t cost)
{
    int64_t quota = s->common->quota_bytes;
    if (cost == 0 || quota <= 0 || mvcc_bytes(s->common->store) + cost < quota)
        return true;
    Etcdserverpb__AlarmRequest alarm = ETCDSERVERPB__ALARM_REQUEST__INIT;
    alarm.action = ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE;
    alarm.memberid = s->common->view->member_id;
    alarm.alarm = ETCDSERVERPB__ALARM_TYPE__NOSPACE;
    uint8_t packed[64];
    ASSERT(protobuf_c_message_get_packed_size(&alarm.base) <= sizeof packed);
    size_t len = protobuf_c_message_pack(&alarm.base, packed);
    kv_propose(s, call, KV_OP_ALARM, packed, len, -RINGD_ENO_SPACE);
    return false;
}

void kv_service_put(struct grpc_call *call, const ProtobufCMessage *request)
{
    const Etcdserverpb__PutRequest *r = (const void *)request;
    int err = kv_check_put(r);
    if (err < 0) {
        grpc_error_finish(call, err);
        return;
    }
    struct shard *s = kv_shard(call);
    if (s == NULL)
        return;
    if (kv_quota_ok(s, call, kv_cost_put(r)))
        kv_propose_call(s, call, KV_OP_PUT);
}

void kv_service_delete_range(struct grpc_call *call, const ProtobufCMessage *request)
{
    int err = kv_check_delete_range((const void *)request);
    if (err < 0) {
        grpc_error_finish(call, err);
        return;
    }
    struct shard *s = kv_shard(call);
    if (s != NULL)
        kv_propose_call(s, call, KV_OP_DELETE_RANGE);
}

void kv_service_txn(struct grpc_call *call, const ProtobufCMessage *request)
{
    const Etcdserverpb__TxnRequest *r = (const void *)request;
    struct shard *s = kv_shard(call);
    if (s == NULL)
        return;
    int err = kv_check_txn(r, s->common->kv_env.max_txn_ops, &s->arena);
    arena_reset(&s->arena);
    if (err < 0) {
        grpc_error_finish(call, err);
        return;
    }
    if (kv_txn_is_readonly(r)) {
        if (kv_read_now(s, kv_txn_serializable(r)))
            kv_read(s, call, request, kv_read_txn);
        else
            kv_read_later(s, call, KV_READ_TXN);
        return;
    }
    if (kv_quota_ok(s, call, kv_cost_txn(r)))
        kv_propose_call(s, call, KV_OP_TXN);
}

void kv_service_compact(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    struct shard *s = kv_shard(call);
    if (s != NULL)
        kv_propose_call(s, call, KV_OP_COMPACT);
}

void kv_service_alarm(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    struct shard *s = kv_shard(call);
    if (s != NULL)
        kv_propose_call(s, call, KV_OP_ALARM);
}

/* The store is in memory and compaction frees what it drops: there is nothing to defragment.
 * etcd answers with an empty response, without a header. */
void kv_service_defragment(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    log_info("starting defragment");
    Etcdserverpb__DefragmentResponse resp = ETCDSERVERPB__DEFRAGMENT_RESPONSE__INIT;
    log_info("finished defragment");
    grpc_call_reply(call, &resp.base);
}

void kv_service_cancel(struct grpc_call *call)
{
    struct kv_proposal *p = grpc_call_user(call);
    if (p != NULL) {
        p->origin = NULL; /* the proposal goes on; its answer has nobody to go to */
        return;
    }
    struct shard *s = grpc_call_shard(call);
    if (s != NULL)
        read_wait_cancel(&s->reads, call); /* a held read (reads keep no user pointer) */
}

void kv_service_applied(struct shard *s, const struct msg *m)
{
    struct kv_proposal *p = m->ptr;
    struct grpc_call *call = p->origin;
    if (call != NULL) {
        grpc_call_set_user(call, NULL);
        if (p->reply_err < 0)
            grpc_error_finish(call, p->reply_err);
        else if (p->err < 0)
            grpc_error_finish(call, p->err);
        else
            grpc_call_reply_bytes(call, p->response, p->response_len);
    }
    if (p->response != NULL) {
        struct msg release = {.type = MSG_KV_RELEASE, .ptr = p->response};
        int err = outbox_send(&s->to_apply, s->actor, &release);
        ASSERT(err == 0);
    }
    ASSERT(s->proposals_out > 0);
    s->proposals_out--;
    free(p);
}
