/* Linearizable reads (etcd's ReadIndex, read_only.go with ReadOnlySafe): a read's point is the
 * leader's commit index when the request arrived, handed out once a quorum of voters has
 * confirmed, by answering a heartbeat sent after that moment, that the leader was still the
 * leader then; so the point covers every write acknowledged before the read started. A new
 * leader first waits for an entry of its term to commit (before that its commit index may be
 * behind). Every read that arrives between two Readies shares one heartbeat round. A follower
 * forwards its reads to the leader (MsgReadIndex), which runs them through the same rounds and
 * answers each with MsgReadIndexResp (etcd stepFollower, sendMsgReadIndexResponse). */
#include "raft.h"

#include <inttypes.h>

#include "raft_internal.h"
#include "ringd_assert.h"
#include "ringd_error.h"

static struct raft_read_req *read_at(struct raft *r, uint32_t i)
{
    ASSERT(i < r->n_reads && r->n_reads <= RAFT_READ_INDEX_MAX);
    return &r->reads[(r->reads_head + i) % RAFT_READ_INDEX_MAX];
}

static bool committed_in_term(const struct raft *r)
{
    raft_term t = 0;
    bool ok = raft_log_term(&r->log, r->log.committed, &t);
    ASSERT(ok && t <= r->term);
    return t == r->term;
}

/* Leader: queues a read of its own (from 0) or forwarded by from. */
static int read_queue(struct raft *r, raft_id from, uint64_t context)
{
    ASSERT(r->state == RAFT_LEADER && from != r->cfg.id);
    if (r->n_reads == RAFT_READ_INDEX_MAX)
        return -RINGD_EFULL;
    r->n_reads++;
    *read_at(r, r->n_reads - 1) = (struct raft_read_req){
        .from = from,
        .context = context,
        .index = committed_in_term(r) ? r->log.committed : 0,
    };
    ASSERT(r->n_reads <= RAFT_READ_INDEX_MAX);
    return 0;
}

int raft_read_index(struct raft *r, uint64_t context)
{
    ASSERT(r->restored);
    int rc = 0;
    if (r->state == RAFT_LEADER)
        rc = read_queue(r, RAFT_NONE, context);
    else if (r->leader == RAFT_NONE)
        rc = -RINGD_ENO_LEADER;
    else if (!raft_can_send(r, RAFT_MSG_READ_INDEX))
        rc = -RINGD_EFULL;
    else
        raft_send(r, &(struct raft_msg){
                         .type = RAFT_MSG_READ_INDEX, .to = r->leader, .context = context});
    raft_check(r);
    return rc;
}

void raft_handle_read_index(struct raft *r, const struct raft_msg *m)
{
    ASSERT(m->type == RAFT_MSG_READ_INDEX && m->from != r->cfg.id);
    /* No second hop (etcd forwards again): the follower retries against its new leader. */
    if (r->state != RAFT_LEADER || read_queue(r, m->from, m->context) != 0)
        raft_event(r, "%" PRIx64 " dropping MsgReadIndex from %" PRIx64 " at term %" PRIu64,
                   r->cfg.id, m->from, r->term);
}

void raft_handle_read_index_resp(struct raft *r, const struct raft_msg *m)
{
    ASSERT(r->state == RAFT_FOLLOWER && m->term == r->term);
    struct raft_outbox *o = r->pending;
    if (o->n_reads == RAFT_READ_INDEX_MAX) {
        r->msgs_dropped++; /* as lost on the way: the reader retries */
        return;
    }
    o->reads[o->n_reads++] = (struct raft_read_state){.context = m->context, .index = m->index};
    ASSERT(o->n_reads <= RAFT_READ_INDEX_MAX);
}

void raft_read_committed(struct raft *r)
{
    ASSERT(r->state == RAFT_LEADER && committed_in_term(r));
    /* Those waiting are at the front: every later arrival found the term committed. */
    for (uint32_t i = 0; i < r->n_reads && read_at(r, i)->index == 0; i++)
        read_at(r, i)->index = r->log.committed;
    ASSERT(r->n_reads == 0 || read_at(r, r->n_reads - 1)->index != 0);
}

/* Hands out, in arrival order, the reads whose round a quorum confirmed, as the Ready's room
 * allows (the rest go at the next answer); forwarded ones go back to their follower (lost
 * when the Ready's messages are used up, as on the network). */
static void release(struct raft *r)
{
    uint64_t acked = raft_tracker_read_acked(&r->tracker, r->cfg.id, r->read_round);
    ASSERT(acked <= r->read_round);
    struct raft_outbox *o = r->pending;
    while (r->n_reads > 0 && o->n_reads < RAFT_READ_INDEX_MAX) {
        const struct raft_read_req *q = read_at(r, 0);
        if (q->round == 0 || q->round > acked)
            return;
        ASSERT(q->index != 0 && q->index <= r->log.committed);
        if (q->from == RAFT_NONE)
            o->reads[o->n_reads++] =
                (struct raft_read_state){.context = q->context, .index = q->index};
        else
            raft_send(r, &(struct raft_msg){.type = RAFT_MSG_READ_INDEX_RESP,
                                            .to = q->from,
                                            .index = q->index,
                                            .context = q->context});
        r->reads_head = (r->reads_head + 1) % RAFT_READ_INDEX_MAX;
        r->n_reads--;
    }
}

void raft_read_flush(struct raft *r)
{
    ASSERT(r->state == RAFT_LEADER);
    bool started = false;
    for (uint32_t i = 0; i < r->n_reads; i++) {
        struct raft_read_req *q = read_at(r, i);
        if (q->index == 0 || q->round != 0)
            continue;
        if (!started) {
            r->read_round++;
            started = true;
        }
        q->round = r->read_round;
    }
    if (started && r->tracker.conf.n_voters > 1)
        raft_bcast_heartbeat(r, r->read_round);
    release(r); /* a leader that is its own quorum confirms at once */
}

void raft_read_ack(struct raft *r, struct raft_progress *p, uint64_t round)
{
    ASSERT(r->state == RAFT_LEADER && p->id != r->cfg.id);
    /* Rounds are never reused: a round past ours is not one of our heartbeats. */
    if (round > r->read_round)
        return;
    if (round > p->read_ack)
        p->read_ack = round;
    release(r);
}
