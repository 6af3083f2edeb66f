/* The apply actor; see apply.h. An entry is applied whole, in one turn: its request is
 * decoded into the actor's arena, run as one write transaction, and, when a shard waits for it,
 * its response packed into a buffer the shard hands back (MSG_KV_RELEASE) once it has copied it
 * out. The store cannot roll
 * a transaction back, so running out of memory in the middle of one is fatal: an apply that
 * stopped halfway would leave this member different from what it acknowledged. */
#include "apply.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "apply_conf.h"
#include "raft_actor.h"
#include "ringd_assert.h"
#include "ringd_error.h"

/* How often the store's reclamation runs after compaction work (APPLY_COMPACT_KEYS_PER_STEP keys
 * a step bounds how long requests wait behind compaction). */
#define APPLY_TICK_NS        (10u * 1000000u)
#define APPLY_RECLAIM_ROUNDS 16 /* reclamation ticks after the compaction work is done */
#define APPLY_SNAPSHOT_NICE  10 /* the snapshot thread's nice value */

static struct apply *apply_of(struct actor *a)
{
    return a->ctx;
}

static void apply_tick_arm(struct apply *ap, uint64_t delay_ns);

/* One committed entry to apply: its op and packed request, and the proposal to answer when it
 * was proposed on this member and is still wanted (NULL otherwise: the work is the same, only
 * no answer is packed). */
struct apply_input {
    uint8_t op; /* enum kv_op */
    const uint8_t *request;
    size_t len;
    struct kv_proposal *p;
};

/* Packs response into a buffer of the actor's own, for the proposal. */
static void apply_pack(struct kv_proposal *p, const ProtobufCMessage *response)
{
    if (p == NULL)
        return;
    size_t len = protobuf_c_message_get_packed_size(response);
    uint8_t *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        log_fatal("out of memory packing a response", LOG_U64("bytes", len));
    size_t packed = protobuf_c_message_pack(response, buf);
    ASSERT(packed == len);
    p->response = buf;
    p->response_len = len;
}

/* The response header as etcd's hdr.fill leaves it: ids, raft term, the revision set by the
 * operation (or the current one). */
static void apply_header(struct apply *ap, Etcdserverpb__ResponseHeader *h)
{
    cluster_view_header(ap->view, h);
}

static void apply_fail_memory(int err)
{
    if (err == -ENOMEM)
        log_fatal("out of memory in the middle of a write; stopping to stay consistent");
}

static ProtobufCMessage *apply_decode(struct apply *ap, const ProtobufCMessageDescriptor *d,
                                      const struct apply_input *in)
{
    return protobuf_c_message_unpack(d, &ap->arena.pb, in->len, in->request);
}

static bool apply_nospace(const struct apply *ap)
{
    return alarm_count(&ap->alarms, ALARM_NOSPACE) > 0;
}

/* One write request's work inside its transaction: fills *response (whose header is *header).
 * NOSPACE is checked here too, before any change. */
typedef int (*apply_write_fn)(struct apply *ap, struct kv_view *v, const ProtobufCMessage *request,
                              ProtobufCMessage **response, Etcdserverpb__ResponseHeader **header);

static int apply_put(struct apply *ap, struct kv_view *v, const ProtobufCMessage *request,
                     ProtobufCMessage **response, Etcdserverpb__ResponseHeader **header)
{
    if (apply_nospace(ap))
        return -RINGD_ENO_SPACE; /* etcd's applierV3Capped */
    Etcdserverpb__PutResponse *resp = arena_alloc(&ap->arena, sizeof *resp);
    int err = resp == NULL ? -ENOMEM
                           : kv_put(v, &ap->env, (const void *)request, false, resp, &ap->arena);
    *response = &resp->base;
    *header = err == 0 ? resp->header : NULL;
    return err;
}

static int apply_delete_range(struct apply *ap, struct kv_view *v, const ProtobufCMessage *request,
                              ProtobufCMessage **response, Etcdserverpb__ResponseHeader **header)
{
    Etcdserverpb__DeleteRangeResponse *resp = arena_alloc(&ap->arena, sizeof *resp);
    int err = resp == NULL ? -ENOMEM : kv_delete_range(v, (const void *)request, resp, &ap->arena);
    *response = &resp->base;
    *header = err == 0 ? resp->header : NULL;
    return err;
}

static int apply_txn(struct apply *ap, struct kv_view *v, const ProtobufCMessage *request,
                     ProtobufCMessage **response, Etcdserverpb__ResponseHeader **header)
{
    const Etcdserverpb__TxnRequest *r = (const void *)request;
    if (apply_nospace(ap) && kv_cost_txn(r) > 0)
        return -RINGD_ENO_SPACE;
    Etcdserverpb__TxnResponse *resp = arena_alloc(&ap->arena, sizeof *resp);
    int err = resp == NULL ? -ENOMEM : kv_txn(v, &ap->env, r, resp, &ap->arena);
    *response = &resp->base;
    *header = err == 0 ? resp->header : NULL;
    return err;
}

/* A write request as one transaction: decode, run, publish, pack the answer. */
static int apply_write(struct apply *ap, const struct apply_input *in,
                       const ProtobufCMessageDescriptor *d, apply_write_fn run)
{
    const ProtobufCMessage *request = apply_decode(ap, d, in);
    if (request == NULL)
        return -EINVAL;
    struct mvcc_txn t;
    struct kv_view v;
    mvcc_txn_begin(ap->store, &t);
    kv_view_write(&v, &t);
    ProtobufCMessage *response = NULL;
    Etcdserverpb__ResponseHeader *header = NULL;
    int err = run(ap, &v, request, &response, &header);
    mvcc_txn_end(&t);
    apply_fail_memory(err);
    if (err == 0) {
        apply_header(ap, header);
        apply_pack(in->p, response);
    }
    return err;
}

/* Compaction is answered at once, or, when physical, once its work is done (etcd waits for
 * the compaction to finish and answers with the revision current then). */
static void apply_compact_answer(struct apply *ap, struct kv_proposal *p)
{
    Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
    h.revision = mvcc_current_rev(ap->store);
    apply_header(ap, &h);
    Etcdserverpb__CompactionResponse resp = ETCDSERVERPB__COMPACTION_RESPONSE__INIT;
    resp.header = &h;
    apply_pack(p, &resp.base);
}

static int apply_compact(struct apply *ap, const struct apply_input *in, bool *wait)
{
    const Etcdserverpb__CompactionRequest *r =
        (const void *)apply_decode(ap, &etcdserverpb__compaction_request__descriptor, in);
    if (r == NULL)
        return -EINVAL;
    Etcdserverpb__CompactionResponse resp;
    int err = kv_compact(ap->store, r, &resp, &ap->arena);
    if (err < 0)
        return err;
    log_info("scheduled compaction", LOG_I64("compact-revision", r->revision));
    ap->reclaim_rounds = APPLY_RECLAIM_ROUNDS;
    apply_tick_arm(ap, 0);
    *wait = r->physical && in->p != NULL;
    if (!*wait && in->p != NULL)
        apply_compact_answer(ap, in->p);
    return 0;
}

/* Alarms (etcd's applierV3backend.Alarm). */

static Etcdserverpb__AlarmMember *apply_alarm_pb(const struct alarm_member *m, struct arena *a)
{
    Etcdserverpb__AlarmMember *pb = arena_alloc(a, sizeof *pb);
    if (pb == NULL)
        log_fatal("out of memory answering an alarm request");
    *pb = (Etcdserverpb__AlarmMember)ETCDSERVERPB__ALARM_MEMBER__INIT;
    pb->memberid = m->member_id;
    pb->alarm = (Etcdserverpb__AlarmType)m->type;
    return pb;
}

static void apply_alarm_changed(struct apply *ap, const char *what, const struct alarm_member *m)
{
    char from[17];
    cluster_id_format(from, sizeof from, m->member_id);
    const char *name = m->type == ALARM_NOSPACE   ? "NOSPACE"
                       : m->type == ALARM_CORRUPT ? "CORRUPT"
                                                  : "NONE";
    log_warn(what, LOG_STR("alarm", name), LOG_STR("from", from));
    cluster_view_set_alarms(ap->view, &ap->alarms);
}

/* The alarms the request's action returns: all of a type for GET, the one changed otherwise. */
static size_t apply_alarm_act(struct apply *ap, const Etcdserverpb__AlarmRequest *r,
                              Etcdserverpb__AlarmMember **out)
{
    int32_t type = (int32_t)r->alarm;
    uint32_t before = alarm_count(&ap->alarms, type);
    size_t n = 0;
    if (r->action == ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__GET) {
        for (uint32_t i = 0; i < ap->alarms.count; i++) {
            if (type == ALARM_NONE || ap->alarms.items[i].type == type)
                out[n++] = apply_alarm_pb(&ap->alarms.items[i], &ap->arena);
        }
    } else if (r->action == ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE) {
        const struct alarm_member *m = alarm_activate(&ap->alarms, r->memberid, type);
        if (m != NULL) {
            out[n++] = apply_alarm_pb(m, &ap->arena);
            if (before == 0 && alarm_count(&ap->alarms, type) == 1)
                apply_alarm_changed(ap, "alarm raised", m);
        }
    } else if (r->action == ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE) {
        struct alarm_member m;
        if (alarm_deactivate(&ap->alarms, r->memberid, type, &m)) {
            out[n++] = apply_alarm_pb(&m, &ap->arena);
            if (alarm_count(&ap->alarms, type) == 0)
                apply_alarm_changed(ap, "alarm disarmed", &m);
        }
    }
    return n;
}

static int apply_alarm(struct apply *ap, const struct apply_input *in)
{
    const Etcdserverpb__AlarmRequest *r =
        (const void *)apply_decode(ap, &etcdserverpb__alarm_request__descriptor, in);
    if (r == NULL)
        return -EINVAL;
    Etcdserverpb__AlarmMember **alarms = arena_alloc(&ap->arena, (ALARMS_MAX + 1) * sizeof *alarms);
    if (alarms == NULL)
        log_fatal("out of memory answering an alarm request");
    Etcdserverpb__AlarmResponse resp = ETCDSERVERPB__ALARM_RESPONSE__INIT;
    Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
    resp.header = &h;
    resp.n_alarms = apply_alarm_act(ap, r, alarms);
    resp.alarms = alarms;
    apply_header(ap, &h);
    apply_pack(in->p, &resp.base);
    return 0;
}

/* A member's attributes entry: its name and client URLs. */
static void apply_attributes(struct apply *ap, const struct raft_entry *e)
{
    int err = members_apply_attributes(&ap->members, e->data + KV_ENTRY_HEADER_BYTES,
                                       e->len - KV_ENTRY_HEADER_BYTES);
    if (err == -EINVAL)
        log_warn("ignored a member attributes entry that does not decode",
                 LOG_U64("index", e->index));
}

/* MemberList (etcd's cluster.Members, sorted by id). */
static int apply_member_list(struct apply *ap, struct kv_proposal *p)
{
    Etcdserverpb__MemberListResponse resp = ETCDSERVERPB__MEMBER_LIST_RESPONSE__INIT;
    Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
    resp.header = &h;
    int err = members_list(&ap->members, &resp, &ap->arena);
    if (err == 0) {
        apply_header(ap, &h);
        h.revision = 0; /* etcd's cluster server fills no revision */
        apply_pack(p, &resp.base);
    }
    return err;
}

/* Replies and progress. */

static void apply_reply(struct apply *ap, struct kv_proposal *p)
{
    struct msg m = {.type = MSG_KV_APPLIED, .ptr = p};
    int err = outbox_send(&ap->replies[p->from], ap->actor, &m);
    /* Each shard bounds the proposals it has out; the outbox holds that many. */
    ASSERT(err == 0);
}

static void apply_publish(struct apply *ap)
{
    int64_t rev = mvcc_current_rev(ap->store);
    int64_t bytes = mvcc_bytes(ap->store);
    cluster_view_set_applied(ap->view, ap->applied_index, rev);
    cluster_view_set_db_size(ap->view, bytes, bytes);
}

static int apply_run(struct apply *ap, const struct apply_input *in, bool *wait)
{
    switch (in->op) {
    case KV_OP_PUT:
        return apply_write(ap, in, &etcdserverpb__put_request__descriptor, apply_put);
    case KV_OP_DELETE_RANGE:
        return apply_write(ap, in, &etcdserverpb__delete_range_request__descriptor,
                           apply_delete_range);
    case KV_OP_TXN:
        return apply_write(ap, in, &etcdserverpb__txn_request__descriptor, apply_txn);
    case KV_OP_COMPACT:
        return apply_compact(ap, in, wait);
    case KV_OP_ALARM:
        return apply_alarm(ap, in);
    default:
        return -EINVAL; /* not an entry this version writes */
    }
}

/* A membership change: the members table changes and its proposal, if made here, is answered
 * (core/apply_conf.h). */
static void apply_conf_entry(struct apply *ap, const struct raft_entry *e, struct kv_proposal *p,
                             uint16_t shard)
{
    Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
    apply_header(ap, &h);
    h.revision = 0; /* etcd's cluster server fills no revision */
    const ProtobufCMessage *response = NULL;
    int err = apply_conf_change(&ap->members, e, &h, &ap->arena, &response);
    if (p != NULL) {
        p->from = shard;
        p->err = err;
        p->response = NULL;
        p->response_len = 0;
        if (err == 0)
            apply_pack(p, response);
        apply_reply(ap, p);
    }
    arena_reset(&ap->arena);
    apply_publish(ap);
}

/* Applies one committed entry and answers its proposal, if any. The raft actor's own entries
 * (empty, or from KV_OP_INTERNAL on) change nothing here. */
static void apply_entry(struct apply *ap, const struct raft_entry *e, struct kv_proposal *p,
                        uint16_t shard)
{
    ASSERT(e->index == ap->applied_index + 1);
    ap->applied_index = e->index;
    ap->snap_log_bytes += e->len;
    ap->applied_term = e->term;
    if (e->type == RAFT_ENTRY_CONF_CHANGE) {
        apply_conf_entry(ap, e, p, shard);
        return;
    }
    if (e->len < KV_ENTRY_HEADER_BYTES || e->data[0] >= KV_OP_INTERNAL) {
        ASSERT(p == NULL); /* shards propose only kv ops */
        if (e->len > KV_ENTRY_HEADER_BYTES && e->data[0] == RAFT_ACTOR_ENTRY_ATTRIBUTES)
            apply_attributes(ap, e);
        apply_publish(ap);
        return;
    }
    struct apply_input in = {.op = e->data[0],
                             .request = e->data + KV_ENTRY_HEADER_BYTES,
                             .len = e->len - KV_ENTRY_HEADER_BYTES,
                             .p = p};
    bool wait = false;
    if (p != NULL) {
        p->from = shard;
        p->err = 0;
        p->response = NULL;
        p->response_len = 0;
    }
    int err = apply_run(ap, &in, &wait);
    arena_reset(&ap->arena);
    apply_publish(ap);
    if (p == NULL)
        return;
    p->err = err;
    if (!wait) {
        apply_reply(ap, p);
        return;
    }
    p->next = NULL;
    if (ap->physical_tail != NULL)
        ap->physical_tail->next = p;
    else
        ap->physical_head = p;
    ap->physical_tail = p;
}

/* Snapshots: every --snapshot-count applied entries (or when the raft actor's log window is
 * full) the state at the last applied entry is written by a background thread while entries go
 * on being applied (core/snapshot.h); the tick notices its end. */

static void *apply_snapshot_thread(void *arg)
{
    struct apply *ap = arg;
    /* Background work: the serving threads go first when the cores are busy (a whole-store
     * snapshot otherwise took a core from them for up to a second: tens of ms of tail). */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), APPLY_SNAPSHOT_NICE);
    if (!ap->snap_reader_registered) {
        mvcc_reader_register(ap->store, &ap->snap_reader);
        ap->snap_reader_registered = true;
    }
    ap->snap_err = snapshot_save(ap->snap_dir, ap->store, &ap->snap_reader, &ap->snap,
                                 ap->max_snapshots, ap->snap_why, sizeof ap->snap_why);
    atomic_store_explicit(&ap->snap_done, true, memory_order_release);
    return NULL;
}

static void apply_snapshot_maybe(struct apply *ap)
{
    if (ap->snap_running || ap->applied_index == ap->snap_index)
        return;
    /* Every --snapshot-count entries, as etcd; but a snapshot here writes the whole store
     * (etcd's is its small v2 store, its backend being on disk already), so not before the
     * log since the last one holds half the store's bytes: the cost per write stays constant
     * however large the store grows, and the log to replay stays below half the store. */
    if (!ap->snap_asked && (ap->applied_index - ap->snap_index < ap->snapshot_count ||
                            2 * ap->snap_log_bytes < (uint64_t)mvcc_bytes(ap->store)))
        return;
    log_info("triggering snapshot", LOG_U64("local-member-applied-index", ap->applied_index),
             LOG_U64("local-member-snapshot-index", ap->snap_index),
             LOG_U64("local-member-snapshot-count", ap->snapshot_count));
    snapshot_begin(ap->store, ap->applied_index, ap->applied_term, &ap->alarms, &ap->members,
                   &ap->snap);
    ap->snap_index = ap->applied_index;
    ap->snap_log_bytes = 0;
    ap->snap_asked = false;
    ap->snap_running = true;
    atomic_store_explicit(&ap->snap_done, false, memory_order_relaxed);
    int err = pthread_create(&ap->snap_thread, NULL, apply_snapshot_thread, ap);
    if (err != 0)
        log_fatal("failed to create snapshot", LOG_STR("error", strerror(err)));
    if (!timer_armed(&ap->tick))
        apply_tick_arm(ap, APPLY_TICK_NS);
}

/* The tick saw the thread end: the snapshot is durable (or the process stops, as etcd does
 * when it cannot save one), and the raft actor may compact its log up to it. */
static void apply_snapshot_finish(struct apply *ap)
{
    pthread_join(ap->snap_thread, NULL);
    ap->snap_running = false;
    snapshot_end(ap->store);
    if (ap->snap_err < 0)
        log_fatal("failed to save snapshot", LOG_STR("error", ap->snap_why));
    if (ap->snap_why[0] != '\0')
        log_warn("saved snapshot with a warning", LOG_STR("warning", ap->snap_why));
    log_info("saved snapshot", LOG_U64("snapshot-index", ap->snap.index),
             LOG_I64("snapshot-revision", ap->snap.revision));
    struct msg done = {.type = MSG_SNAPSHOT_DONE, .a = ap->snap.index, .b = ap->snap.term};
    int err = actor_send(ap->actor, ap->raft_id, &done);
    ASSERT(err == 0 || err == -EPIPE); /* raft left at shutdown: nothing to compact */
}

/* A batch of committed entries, in order; the raft actor gets it back when all are applied. */
static void apply_batch(struct apply *ap, uint16_t from, struct apply_batch *b)
{
    uint32_t r = 0;
    for (uint32_t i = 0; i < b->n_entries; i++) {
        const struct raft_entry *e = &b->entries[i];
        struct kv_proposal *p = NULL;
        uint16_t shard = 0;
        if (r < b->n_routes && b->routes[r].index == e->index) {
            p = b->routes[r].proposal;
            shard = b->routes[r].shard;
            r++;
        }
        apply_entry(ap, e, p, shard);
    }
    ASSERT(r == b->n_routes);
    struct msg done = {.type = MSG_APPLY_DONE,
                       .ptr = b,
                       .a = ap->applied_index,
                       .b = ap->applied_term,
                       .c = (uint64_t)mvcc_current_rev(ap->store)};
    int err = actor_send(ap->actor, from, &done);
    ASSERT(err == 0); /* the mailbox holds every batch the raft actor has */
    apply_snapshot_maybe(ap);
}

/* Compaction work and reclamation, a step at a time between batches of proposals. */

static void apply_tick(struct timer *t, uint64_t now_ns);

static void apply_tick_arm(struct apply *ap, uint64_t delay_ns)
{
    int err = actor_timer_start(ap->actor, &ap->tick, delay_ns, apply_tick);
    ASSERT(err == 0); /* the actor's only timer */
}

static void apply_physical_done(struct apply *ap)
{
    while (ap->physical_head != NULL) {
        struct kv_proposal *p = ap->physical_head;
        ap->physical_head = p->next;
        apply_compact_answer(ap, p);
        apply_reply(ap, p);
    }
    ap->physical_tail = NULL;
}

static void apply_tick(struct timer *t, uint64_t now_ns)
{
    (void)now_ns;
    struct apply *ap = (struct apply *)((char *)t - offsetof(struct apply, tick));
    if (ap->snap_running && atomic_load_explicit(&ap->snap_done, memory_order_acquire))
        apply_snapshot_finish(ap);
    bool done = mvcc_compact_step(ap->store, APPLY_COMPACT_KEYS_PER_STEP);
    mvcc_reclaim(ap->store);
    if (!done) {
        /* More work: the next turn, after what arrived meanwhile; or, while a snapshot holds
         * it, once the snapshot may have ended. */
        apply_tick_arm(ap, mvcc_compact_held(ap->store) ? APPLY_TICK_NS : 0);
        return;
    }
    apply_physical_done(ap);
    apply_publish(ap);
    if (ap->reclaim_rounds > 0 || ap->snap_running) {
        if (ap->reclaim_rounds > 0)
            ap->reclaim_rounds--;
        apply_tick_arm(ap, APPLY_TICK_NS);
    }
}

/* A shard's query, answered from the apply actor's state at once. */
static void apply_query(struct apply *ap, uint16_t shard, struct kv_proposal *p)
{
    p->from = shard;
    p->response = NULL;
    p->response_len = 0;
    p->err = p->entry[0] == KV_OP_MEMBER_LIST ? apply_member_list(ap, p) : -EINVAL;
    arena_reset(&ap->arena);
    apply_reply(ap, p);
}

/* Actor ops. */

static int apply_start(struct actor *a)
{
    struct apply *ap = apply_of(a);
    ap->actor = a;
    ap->env = (struct kv_env){.lease_exists = kv_no_leases, .max_txn_ops = ap->max_txn_ops};
    /* Entries continue from the snapshot the server loaded (cluster_view.h). */
    ap->applied_index = cluster_view_raft_applied_index(ap->view);
    ap->snap_index = ap->applied_index;
    if (ap->members.count == 0) /* none from a snapshot: the initial cluster */
        members_init(&ap->members, &ap->view->ids);
    arena_init(&ap->arena);
    for (uint16_t i = 0; i < ap->shards; i++) {
        uint16_t id = ap->shard_ids[i];
        int err = outbox_init(&ap->replies[id], id, 2 * SHARD_PROPOSALS_MAX);
        if (err < 0)
            return err;
    }
    return 0;
}

static void apply_receive(struct actor *a, const struct msg *m)
{
    struct apply *ap = apply_of(a);
    switch (m->type) {
    case MSG_APPLY_ENTRIES:
        apply_batch(ap, m->from, m->ptr);
        break;
    case MSG_KV_RELEASE:
        free(m->ptr);
        break;
    case MSG_KV_QUERY:
        apply_query(ap, m->from, m->ptr);
        break;
    case MSG_SNAPSHOT_ASK:
        ap->snap_asked = true;
        apply_snapshot_maybe(ap);
        break;
    default:
        UNREACHABLE(); /* a wiring bug */
    }
}

static void apply_writable(struct actor *a, uint16_t to)
{
    outbox_flush(&apply_of(a)->replies[to], a);
}

static bool apply_quiescent(struct actor *a)
{
    struct apply *ap = apply_of(a);
    return ap->physical_head == NULL && !ap->snap_running;
}

static void apply_finish(struct actor *a)
{
    struct apply *ap = apply_of(a);
    actor_timer_stop(a, &ap->tick);
    for (uint16_t i = 0; i < ap->shards; i++)
        outbox_destroy(&ap->replies[ap->shard_ids[i]]);
    arena_destroy(&ap->arena);
}

const struct actor_ops apply_ops = {
    .start = apply_start,
    .receive = apply_receive,
    .writable = apply_writable,
    .quiescent = apply_quiescent,
    .finish = apply_finish,
};
