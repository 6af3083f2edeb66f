/* The raft actor's membership changes and leadership transfers; see raft_actor_conf.h. */
#include "raft_actor_conf.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "cluster_id.h"
#include "config.h"
#include "etcdserverpb/rpc.pb-c.h"
#include "log.h"
#include "raft_actor_internal.h"
#include "ringd_assert.h"
#include "ringd_error.h"
#include "runtime.h"

/* etcd's readyPercent: a learner may be promoted once its log matches 90% of the leader's. */
#define CONF_LEARNER_READY_PERCENT 90

static ProtobufCMessage *conf_unpack(const struct kv_proposal *p,
                                     const ProtobufCMessageDescriptor *d)
{
    return protobuf_c_message_unpack(d, NULL, p->entry_len - KV_ENTRY_HEADER_BYTES,
                                     p->entry + KV_ENTRY_HEADER_BYTES);
}

/* etcd's types.NewURLs: every URL valid, then sorted. Returns 0 or -RINGD_EMEMBER_BAD_URLS. */
static int conf_parse_urls(char *const *urls, size_t n, struct config_urls *out)
{
    static char joined[CONFIG_URLS_MAX * CONFIG_URL_BYTES_MAX];
    size_t used = 0;
    if (n == 0 || n > CLUSTER_PEER_URLS_MAX)
        return -RINGD_EMEMBER_BAD_URLS;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(urls[i]);
        if (len == 0 || memchr(urls[i], ',', len) != NULL || used + len + 2 > sizeof joined)
            return -RINGD_EMEMBER_BAD_URLS;
        if (i > 0)
            joined[used++] = ',';
        memcpy(joined + used, urls[i], len);
        used += len;
    }
    joined[used] = '\0';
    char why[256];
    return config_urls_parse(out, joined, why, sizeof why) == 0 ? 0 : -RINGD_EMEMBER_BAD_URLS;
}

/* Proposes the change with its context: the request id, then member packed. */
static int conf_propose(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p, uint8_t type,
                        const Etcdserverpb__Member *member)
{
    static uint8_t context[RAFT_ACTOR_CONF_ID_BYTES + MEMBERS_PACKED_BYTES_MAX];
    if (protobuf_c_message_get_packed_size(&member->base) > MEMBERS_PACKED_BYTES_MAX)
        return -RINGD_EMEMBER_BAD_URLS;
    uint64_t id = raft_actor_next_id(ra);
    le_put_u64(context, id);
    size_t len = protobuf_c_message_pack(&member->base, context + RAFT_ACTOR_CONF_ID_BYTES);
    struct raft_conf_change cc = {.type = type, .id = member->id};
    raft_index index = 0;
    int err = raft_propose_conf_change(ra->raft, &cc, context,
                                       RAFT_ACTOR_CONF_ID_BYTES + (uint32_t)len, &index);
    if (err < 0)
        return err;
    raft_actor_route(ra, id, index, shard, p);
    return 0;
}

static int conf_member_add(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p,
                           const Etcdserverpb__MemberAddRequest *r)
{
    static struct config_urls urls;
    int err = conf_parse_urls(r->peerurls, r->n_peerurls, &urls);
    if (err < 0)
        return err;
    if (!r->islearner && !members_ready_to_add_voter(&ra->members))
        return -RINGD_EMEMBER_NOT_ENOUGH_STARTED;
    const char *texts[CONFIG_URLS_MAX];
    for (uint32_t i = 0; i < urls.count; i++)
        texts[i] = urls.items[i].text;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_s = ts.tv_sec;
    Etcdserverpb__Member m = ETCDSERVERPB__MEMBER__INIT;
    m.id = cluster_member_id(texts, urls.count, "", &now_s);
    m.n_peerurls = urls.count;
    m.peerurls = (char **)texts;
    m.islearner = r->islearner;
    return conf_propose(ra, shard, p, r->islearner ? RAFT_CONF_ADD_LEARNER : RAFT_CONF_ADD_VOTER,
                        &m);
}

static int conf_member_remove(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p,
                              const Etcdserverpb__MemberRemoveRequest *r)
{
    const struct member_info *mi = members_find(&ra->members, r->id);
    if (mi == NULL)
        return -RINGD_EMEMBER_NOT_FOUND;
    if (!mi->is_learner && !members_ready_to_remove(&ra->members, r->id))
        return -RINGD_EMEMBER_NOT_ENOUGH_STARTED;
    Etcdserverpb__Member m = ETCDSERVERPB__MEMBER__INIT;
    m.id = r->id;
    return conf_propose(ra, shard, p, RAFT_CONF_REMOVE, &m);
}

static int conf_member_update(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p,
                              const Etcdserverpb__MemberUpdateRequest *r)
{
    static struct config_urls urls;
    int err = conf_parse_urls(r->peerurls, r->n_peerurls, &urls);
    if (err < 0)
        return err;
    if (members_find(&ra->members, r->id) == NULL)
        return -RINGD_EMEMBER_NOT_FOUND;
    const char *texts[CONFIG_URLS_MAX];
    for (uint32_t i = 0; i < urls.count; i++)
        texts[i] = urls.items[i].text;
    Etcdserverpb__Member m = ETCDSERVERPB__MEMBER__INIT;
    m.id = r->id;
    m.n_peerurls = urls.count;
    m.peerurls = (char **)texts;
    return conf_propose(ra, shard, p, RAFT_CONF_UPDATE, &m);
}

/* etcd's isLearnerReady, on the leader: the learner's match is within 90% of the leader's.
 * Elsewhere there is no progress to judge by: etcd forwards the call to the leader, ringd
 * answers "not leader" (the client retries on the leader's endpoint). */
static int conf_learner_ready(struct raft_actor *ra, uint64_t id)
{
    static struct raft_status st; /* large */
    raft_status(ra->raft, &st);
    if (st.state != RAFT_LEADER)
        return -RINGD_ENOT_LEADER;
    raft_index leader_match = 0, learner_match = 0;
    bool found = false;
    for (uint32_t i = 0; i < st.n_members; i++) {
        if (st.members[i].id == st.id)
            leader_match = st.members[i].match;
        if (st.members[i].id == id) {
            learner_match = st.members[i].match;
            found = true;
        }
    }
    if (found && learner_match * 100 < leader_match * CONF_LEARNER_READY_PERCENT)
        return -RINGD_ELEARNER_NOT_READY;
    return 0;
}

static int conf_member_promote(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p,
                               const Etcdserverpb__MemberPromoteRequest *r)
{
    const struct member_info *mi = members_find(&ra->members, r->id);
    if (mi == NULL)
        return -RINGD_EMEMBER_NOT_FOUND;
    if (!mi->is_learner)
        return -RINGD_EMEMBER_NOT_LEARNER;
    int err = conf_learner_ready(ra, r->id);
    if (err < 0)
        return err;
    if (!members_ready_to_promote(&ra->members, r->id))
        return -RINGD_EMEMBER_NOT_ENOUGH_STARTED;
    Etcdserverpb__Member m = ETCDSERVERPB__MEMBER__INIT;
    m.id = r->id;
    return conf_propose(ra, shard, p, RAFT_CONF_PROMOTE, &m);
}

/* MoveLeader: on the leader, to a voter; answered when the target leads. */
static int conf_move_leader(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p,
                            const Etcdserverpb__MoveLeaderRequest *r)
{
    if (ra->leader != ra->view->member_id)
        return -RINGD_ENOT_LEADER;
    const struct member_info *mi = members_find(&ra->members, r->targetid);
    if (mi == NULL || mi->is_learner)
        return -RINGD_EBAD_LEADER_TRANSFEREE;
    if (ra->transfers_count == RAFT_ACTOR_TRANSFERS_MAX)
        return -RINGD_ETOO_MANY_REQUESTS;
    int err = raft_transfer_leader(ra->raft, r->targetid);
    if (err < 0)
        return err;
    log_info("leadership transfer starting", LOG_U64("current-leader-member-id", ra->leader),
             LOG_U64("transferee-member-id", r->targetid));
    ra->transfers[ra->transfers_count++] =
        (struct raft_actor_transfer){.proposal = p,
                                     .shard = shard,
                                     .target = r->targetid,
                                     .deadline_tick = ra->ticks + ra->request_timeout_ticks};
    raft_actor_arm_turn(ra);
    return 0;
}

/* Decodes p's request for its op and runs it; a request that does not decode is refused as
 * etcd's gRPC layer would have refused it (the shard decoded it once already). */
static int conf_dispatch(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p)
{
    static const ProtobufCMessageDescriptor *const descriptors[] = {
        [KV_OP_MEMBER_ADD] = &etcdserverpb__member_add_request__descriptor,
        [KV_OP_MEMBER_REMOVE] = &etcdserverpb__member_remove_request__descriptor,
        [KV_OP_MEMBER_UPDATE] = &etcdserverpb__member_update_request__descriptor,
        [KV_OP_MEMBER_PROMOTE] = &etcdserverpb__member_promote_request__descriptor,
        [KV_OP_MOVE_LEADER] = &etcdserverpb__move_leader_request__descriptor,
    };
    uint8_t op = p->entry[0];
    ProtobufCMessage *r = conf_unpack(p, descriptors[op]);
    if (r == NULL)
        return -EINVAL;
    int err;
    switch (op) {
    case KV_OP_MEMBER_ADD:
        err = conf_member_add(ra, shard, p, (const void *)r);
        break;
    case KV_OP_MEMBER_REMOVE:
        err = conf_member_remove(ra, shard, p, (const void *)r);
        break;
    case KV_OP_MEMBER_UPDATE:
        err = conf_member_update(ra, shard, p, (const void *)r);
        break;
    case KV_OP_MEMBER_PROMOTE:
        err = conf_member_promote(ra, shard, p, (const void *)r);
        break;
    default:
        err = conf_move_leader(ra, shard, p, (const void *)r);
        break;
    }
    protobuf_c_message_free_unpacked(r, NULL);
    return err;
}

bool raft_actor_conf_request(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p)
{
    ASSERT(p->entry_len >= KV_ENTRY_HEADER_BYTES);
    uint8_t op = p->entry[0];
    if (op < KV_OP_MEMBER_ADD || op > KV_OP_MOVE_LEADER)
        return false;
    int err = conf_dispatch(ra, shard, p);
    if (err < 0)
        raft_actor_refuse(ra, shard, p, raft_actor_propose_err(err));
    return true;
}

enum members_change_type raft_actor_conf_members_type(uint8_t type)
{
    switch (type) {
    case RAFT_CONF_REMOVE:
        return MEMBERS_REMOVE;
    case RAFT_CONF_UPDATE:
        return MEMBERS_UPDATE;
    case RAFT_CONF_PROMOTE:
        return MEMBERS_PROMOTE;
    default:
        return MEMBERS_ADD;
    }
}

/* The transport learns a member's new peer URLs, or forgets a removed one. */
static void conf_transport(struct raft_actor *ra, uint8_t type, const struct member_info *mi,
                           raft_id id)
{
    const struct raft_transport *t = &ra->transport;
    if (t->ops == NULL || id == ra->view->member_id)
        return;
    const char *urls[CLUSTER_PEER_URLS_MAX];
    uint32_t n = mi != NULL ? mi->n_peer_urls : 0;
    for (uint32_t i = 0; i < n; i++)
        urls[i] = mi->peer_urls[i];
    int err = t->ops->set_peer(t->t, id, type == RAFT_CONF_REMOVE ? NULL : urls, n);
    if (err < 0)
        log_warn("the peer transport refused a membership change", LOG_U64("member-id", id),
                 LOG_STR("error", ringd_strerror(err)));
}

/* This member was removed: it stops, as etcd's does. */
/* This member was removed: it stops after a few election timeouts (etcd's stopWithDelay),
 * meanwhile still voting for the others, which may need its vote until they apply the change
 * too. */
static void conf_removed_self(struct raft_actor *ra)
{
    log_warn("the member has been permanently removed from the cluster",
             LOG_U64("local-member-id", ra->view->member_id));
    ra->removed_stop_tick = ra->ticks + RAFT_ACTOR_REMOVED_STOP_ELECTIONS * ra->election_ticks;
}

uint64_t raft_actor_conf_committed(struct raft_actor *ra, const struct raft_entry *e)
{
    struct raft_conf_change cc;
    const void *context;
    uint32_t len;
    if (raft_conf_change_decode(e, &cc, &context, &len) < 0 || len < RAFT_ACTOR_CONF_ID_BYTES)
        return 0; /* not ours: it changes nothing anywhere */
    uint64_t id = le_get_u64(context);
    Etcdserverpb__Member *m = (Etcdserverpb__Member *)protobuf_c_message_unpack(
        &etcdserverpb__member__descriptor, NULL, len - RAFT_ACTOR_CONF_ID_BYTES,
        (const uint8_t *)context + RAFT_ACTOR_CONF_ID_BYTES);
    /* Bytes that do not decode: the apply actor refuses them alike. */
    int err = m == NULL
                  ? -EINVAL
                  : members_apply_change(&ra->members, raft_actor_conf_members_type(cc.type), m);
    if (err == 0) {
        struct raft_conf_state conf;
        err = raft_apply_conf_change(ra->raft, &cc, &conf);
        ASSERT(err == 0); /* the members table checked it first */
        conf_transport(ra, cc.type, members_find(&ra->members, cc.id), cc.id);
        if (cc.type == RAFT_CONF_REMOVE && cc.id == ra->view->member_id)
            conf_removed_self(ra);
        raft_actor_conf_publish(ra);
        log_info("applied a membership change", LOG_U64("index", e->index),
                 LOG_U64("member-id", cc.id), LOG_U64("type", cc.type));
    } else {
        /* Refused (etcd sets NodeID None): the core still hears it is applied, or it would
         * wait for it for good, taking no other change and never campaigning. */
        struct raft_conf_change none = cc;
        none.id = RAFT_NONE;
        struct raft_conf_state conf;
        err = raft_apply_conf_change(ra->raft, &none, &conf);
        ASSERT(err == 0);
    }
    if (m != NULL)
        protobuf_c_message_free_unpacked(&m->base, NULL);
    return id;
}

void raft_actor_conf_publish(struct raft_actor *ra)
{
    const struct member_info *self = members_find(&ra->members, ra->view->member_id);
    cluster_view_set_is_learner(ra->view, self != NULL && self->is_learner);
    uint32_t voters = 0;
    for (uint32_t i = 0; i < ra->members.count; i++)
        voters += !ra->members.items[i].is_learner;
    cluster_view_set_voters(ra->view, voters);
}

static void conf_transfer_remove(struct raft_actor *ra, uint32_t i, int err)
{
    struct raft_actor_transfer t = ra->transfers[i];
    ra->transfers[i] = ra->transfers[--ra->transfers_count];
    raft_actor_refuse(ra, t.shard, t.proposal, err);
}

void raft_actor_conf_leader(struct raft_actor *ra)
{
    for (uint32_t i = 0; i < ra->transfers_count;) {
        if (ra->transfers[i].target == ra->leader) {
            log_info("leadership transfer finished", LOG_U64("new-leader-member-id", ra->leader));
            conf_transfer_remove(ra, i, 0);
        } else {
            i++;
        }
    }
}

void raft_actor_conf_tick(struct raft_actor *ra)
{
    if (ra->removed_stop_tick != 0 && ra->ticks >= ra->removed_stop_tick) {
        ra->removed_stop_tick = 0;
        log_info("stopping the removed member", LOG_U64("local-member-id", ra->view->member_id));
        runtime_stop(ra->actor->rt);
    }
    for (uint32_t i = 0; i < ra->transfers_count;) {
        if (ra->ticks >= ra->transfers[i].deadline_tick)
            conf_transfer_remove(ra, i, -RINGD_ETIMEOUT_LEADER_TRANSFER);
        else
            i++;
    }
}

void raft_actor_conf_fail_all(struct raft_actor *ra, int err)
{
    while (ra->transfers_count > 0)
        conf_transfer_remove(ra, 0, err);
}

/* One removal entry of --force-new-cluster at index, recorded in the core and the WAL. */
static int conf_force_remove(struct raft_actor *ra, raft_id id, raft_term term, raft_index index)
{
    Etcdserverpb__Member m = ETCDSERVERPB__MEMBER__INIT;
    m.id = id;
    uint8_t context[RAFT_ACTOR_CONF_ID_BYTES + 16] = {0}; /* request id 0: nobody waits */
    size_t len = RAFT_ACTOR_CONF_ID_BYTES + protobuf_c_message_pack(&m.base, context + 8);
    static uint8_t data[RAFT_CONF_CHANGE_HEADER_BYTES + sizeof context];
    struct raft_conf_change cc = {.type = RAFT_CONF_REMOVE, .id = id};
    int n = raft_conf_change_encode(&cc, context, (uint32_t)len, data);
    ASSERT(n > 0);
    struct raft_entry e = {.term = term,
                           .index = index,
                           .type = RAFT_ENTRY_CONF_CHANGE,
                           .data = data,
                           .len = (uint32_t)n};
    struct wal_entry we = {.term = term,
                           .index = index,
                           .type = RAFT_ENTRY_CONF_CHANGE,
                           .data = data,
                           .data_bytes = (uint32_t)n};
    int err = raft_restore_entries(ra->raft, &e, 1);
    return err < 0 ? err : wal_append_entry(ra->wal, &we);
}

int raft_actor_force_new_cluster(struct raft_actor *ra, struct raft_hard_state *hs)
{
    raft_index index = ra->log_last;
    for (uint32_t i = 0; i < ra->members.count; i++) {
        raft_id id = ra->members.items[i].id;
        if (id == ra->view->member_id)
            continue;
        int err = conf_force_remove(ra, id, hs->term, ++index);
        if (err < 0)
            return err;
    }
    hs->commit = index; /* everything in the log is this member's to commit now */
    hs->vote = RAFT_NONE;
    struct wal_hard_state whs = {.term = hs->term, .vote = hs->vote, .commit = hs->commit};
    int err = wal_append_hard_state(ra->wal, &whs);
    if (err < 0)
        return err;
    log_warn("forcing a new one-member cluster: every other member is removed",
             LOG_U64("local-member-id", ra->view->member_id), LOG_U64("commit-index", index),
             LOG_U64("removed", index - ra->log_last));
    ra->log_last = index;
    return 0;
}
