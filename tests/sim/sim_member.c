/* A simulated member: raft core, fake disk, KV state machine, the client requests it holds.
 * It follows raft.h's Ready contract as the raft actor does: msgs_send_now leave as the Ready is
 * taken, its snapshot, entries and hard state go to the disk's write queue, committed entries
 * are applied at once (they are durable here already), and only when the disk's sync completes
 * do msgs_after_persist leave and raft_advance run. Every message and write is checked on the
 * way out (sim_safety). */
#include "sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"
#include "ringd_error.h"

#define DRIVE_READIES_MAX 4 /* Readies handled in one go before other events get a turn */

static void config(struct sim *s, struct sim_member *m)
{
    raft_config_default(&m->cfg, m->id);
    m->cfg.pre_vote = s->seed & 2;
    m->cfg.check_quorum = s->seed & 4;
    m->cfg.log_entries_max = 256;
    m->cfg.log_bytes_max = 64 << 10;
    m->cfg.msg_bytes_max = (uint32_t)sim_rng_range(&s->rng, 16, 128);
    m->cfg.inflight_msgs_max = (uint32_t)sim_rng_range(&s->rng, 1, 16);
    m->cfg.apply_bytes_max = (uint32_t)sim_rng_range(&s->rng, 16, 256);
}

void sim_member_boot(struct sim *s, struct sim_member *m, uint32_t idx,
                     const struct raft_conf_state *conf)
{
    struct sim_disk *disk = m->disk;
    memset(m, 0, sizeof(*m));
    m->disk = disk;
    if (m->disk == NULL)
        m->disk = malloc(sizeof(*m->disk));
    ASSERT(m->disk != NULL);
    m->idx = idx;
    m->id = idx + 1;
    config(s, m);
    /* Clocks drift: up to 2% apart. */
    m->tick_us = SIM_TICK_US * sim_rng_range(&s->rng, 980, 1020) / 1000;
    m->snapshot_every = (uint32_t)sim_rng_range(&s->rng, 4, 40);
    m->booted = true;
    sim_disk_format(m->disk, conf);
    sim_member_restart(s, m);
}

bool sim_member_status(const struct sim_member *m, struct raft_status *st)
{
    if (!m->up)
        return false;
    raft_status(m->r, st);
    return true;
}

uint32_t sim_member_pick(struct sim *s)
{
    uint32_t live[SIM_MEMBERS_MAX], n = 0;
    for (uint32_t k = 0; k < s->n_members; k++)
        if (s->members[k].booted && !s->members[k].stopped)
            live[n++] = k;
    ASSERT(n > 0 && n <= SIM_MEMBERS_MAX);
    return live[sim_rng_below(&s->rng, n)];
}

void sim_member_free(struct sim_member *m)
{
    raft_destroy(m->r);
    m->r = NULL;
}

/* ---- restart and crash ------------------------------------------------------------------ */

static int restore(struct sim_member *m)
{
    const struct sim_disk_view *d = &m->disk->durable;
    int rc = raft_restore_snapshot(m->r, &d->snap);
    for (raft_index i = d->snap.index + 1; rc == 0 && i <= d->last; i++) {
        const struct sim_stored_entry *se = sim_disk_entry(d, i);
        struct raft_entry e = {.term = se->term,
                               .index = i,
                               .data = se->len ? se->data : NULL,
                               .len = se->len,
                               .type = se->type};
        rc = raft_restore_entries(m->r, &e, 1);
    }
    return rc != 0 ? rc : raft_restore_finish(m->r, &d->hs, d->snap.index);
}

void sim_member_restart(struct sim *s, struct sim_member *m)
{
    ASSERT(!m->up && m->r == NULL);
    m->cfg.seed = s->seed * 0x9e3779b97f4a7c15ull + m->id * 131 + m->incarnation;
    m->r = raft_create(&m->cfg);
    ASSERT(m->r != NULL);
    int rc = restore(m);
    const struct sim_disk_view *d = &m->disk->durable;
    if (rc != 0)
        sim_fail(s,
                 "member %" PRIu64
                 " cannot restart from its durable state (error %d): snapshot %" PRIu64
                 ", entries to %" PRIu64 " (last term %" PRIu64 "), hard state term %" PRIu64
                 " vote %" PRIu64 " commit %" PRIu64,
                 m->id, rc, d->snap.index, d->last,
                 d->last > d->snap.index ? d->log[d->last].term : d->snap.term, d->hs.term,
                 d->hs.vote, d->hs.commit);
    m->kv = d->snap_kv;
    m->applied = d->snap.index;
    m->conf = d->snap.conf;
    m->ready_commit = d->hs.commit > d->snap.index ? d->hs.commit : d->snap.index;
    sim_require(s, sim_safety_applied(&s->safety, m->id, m->applied, &m->kv));
    m->up = true;
    m->ready_out = m->syncing = false;
    memset(m->pending, 0, sizeof(m->pending));
    m->n_stash = 0;
    s->stats.restarts++;
    sim_trace(s, "member %" PRIu64 " starts: applied %" PRIu64 ", log to %" PRIu64, m->id,
              m->applied, d->last);
    sim_sched_after(&s->sched, sim_rng_range(&s->rng, 0, m->tick_us), SIM_EV_TICK, m->idx,
                    m->incarnation);
}

void sim_member_crash(struct sim *s, struct sim_member *m)
{
    ASSERT(m->up);
    /* Unsynced writes: a prefix may have reached the platter, the rest is gone: torn inside a
     * Ready (a WAL batch holds a Ready's entries, then its hard state), or with SIM_TEAR=0
     * between Readies only. */
    uint32_t queued = m->disk->n_queue;
    uint32_t keep = (uint32_t)sim_rng_range(&s->rng, 0, queued);
    if (!s->tear_readies) {
        uint32_t readies = sim_disk_queued_readies(m->disk);
        keep = sim_disk_ready_prefix(m->disk, (uint32_t)sim_rng_range(&s->rng, 0, readies));
    }
    s->stats.lost_unsynced += queued - keep;
    sim_disk_crash(m->disk, keep);
    sim_member_free(m);
    m->up = false;
    m->incarnation++;
    s->stats.crashes++;
    sim_trace(s, "member %" PRIu64 " crashes: %u of %u unsynced records survive", m->id, keep,
              queued);
}

/* ---- client requests -------------------------------------------------------------------- */

static void reply(struct sim *s, struct sim_member *m, uint32_t client, const struct sim_op *op,
                  uint32_t attempt, uint8_t status, uint32_t result)
{
    struct raft_status st;
    raft_status(m->r, &st);
    struct sim_packet p = {.kind = SIM_PKT_REPLY,
                           .from = m->idx,
                           .to = client,
                           .op = *op,
                           .attempt = attempt,
                           .status = status,
                           .result = result,
                           .hint = st.leader};
    sim_net_send(&s->net, &s->sched, &s->rng, &p);
}

/* A free slot; when all are taken, the oldest request is forgotten (its client times out). */
static struct sim_pending *pending_slot(struct sim_member *m)
{
    struct sim_pending *oldest = &m->pending[0];
    for (uint32_t i = 0; i < SIM_PENDING_MAX; i++) {
        if (!m->pending[i].used)
            return &m->pending[i];
        if (m->pending[i].since < oldest->since)
            oldest = &m->pending[i];
    }
    return oldest;
}

static uint8_t refusal(int rc)
{
    return rc == -RINGD_ENO_LEADER ? SIM_REPLY_NOT_LEADER : SIM_REPLY_BUSY;
}

/* A member takes a request whoever leads: a follower or learner forwards proposals and reads to
 * its leader (raft_propose, raft_read_index). It refuses (and says who leads) only when it
 * knows no leader, or when the log or the leader is busy. */
static void request(struct sim *s, struct sim_member *m, const struct sim_packet *p)
{
    struct sim_pending q = {
        .used = true, .client = p->from, .attempt = p->attempt, .op = p->op, .since = s->sched.now};
    int rc;
    if (p->op.kind == SIM_OP_READ) {
        q.is_read = true;
        q.context = ++m->read_context;
        rc = raft_read_index(m->r, q.context);
        ASSERT(rc == 0 || rc == -RINGD_ENO_LEADER || rc == -RINGD_EFULL);
    } else {
        uint8_t buf[SIM_ENTRY_DATA_MAX];
        uint32_t len = sim_kv_encode(&p->op, buf);
        rc = raft_propose(m->r, buf, len, &q.index);
        ASSERT(rc == 0 || rc == -RINGD_ENO_LEADER || rc == -RINGD_EFULL ||
               rc == -RINGD_ELEADER_CHANGED);
    }
    if (rc != 0) {
        reply(s, m, p->from, &p->op, p->attempt, refusal(rc), 0);
        return;
    }
    *pending_slot(m) = q;
}

/* Reads whose point the state machine has reached are served from it. */
static void serve_reads(struct sim *s, struct sim_member *m)
{
    for (uint32_t i = 0; i < SIM_PENDING_MAX; i++) {
        struct sim_pending *q = &m->pending[i];
        if (!q->used || !q->is_read || !q->has_index || m->applied < q->index)
            continue;
        reply(s, m, q->client, &q->op, q->attempt, SIM_REPLY_OK, sim_kv_peek(&m->kv, &q->op));
        q->used = false;
    }
}

/* A leader that stepped down drops its reads (raft.h): tell the clients at once. */
static void drop_reads(struct sim *s, struct sim_member *m)
{
    for (uint32_t i = 0; i < SIM_PENDING_MAX; i++) {
        struct sim_pending *q = &m->pending[i];
        if (q->used && q->is_read) {
            reply(s, m, q->client, &q->op, q->attempt, SIM_REPLY_NOT_LEADER, 0);
            q->used = false;
        }
    }
}

static void read_states(struct sim *s, struct sim_member *m, const struct raft_ready *rd)
{
    for (uint32_t r = 0; r < rd->n_read_states; r++) {
        for (uint32_t i = 0; i < SIM_PENDING_MAX; i++) {
            struct sim_pending *q = &m->pending[i];
            if (q->used && q->is_read && q->context == rd->read_states[r].context) {
                q->index = rd->read_states[r].index;
                q->has_index = true;
                s->stats.reads_index++;
            }
        }
    }
    serve_reads(s, m);
}

/* The proposals this member holds learn their fate from the entry applied at index: op (NULL:
 * not an operation) with result, or a duplicate (applied false). One proposed here at index is
 * done or, if another entry holds the index, failed; one forwarded is done when its operation
 * applies, wherever the leader put it. */
static void answer_proposals(struct sim *s, struct sim_member *m, raft_index index,
                             const struct sim_op *op, bool applied, uint32_t result)
{
    for (uint32_t i = 0; i < SIM_PENDING_MAX; i++) {
        struct sim_pending *q = &m->pending[i];
        if (!q->used || q->is_read)
            continue;
        bool mine = op != NULL && op->client == q->op.client && op->seq == q->op.seq;
        if (q->index != index && !(q->index == 0 && mine))
            continue;
        q->used = false;
        /* A duplicate of an operation applied before has no result to give: the client times
         * out, the outcome unknown. */
        if (!mine || applied)
            reply(s, m, q->client, &q->op, q->attempt, mine ? SIM_REPLY_OK : SIM_REPLY_FAILED,
                  result);
    }
}

void sim_member_receive(struct sim *s, struct sim_member *m, const struct sim_packet *p)
{
    ASSERT(m->up);
    if (p->kind == SIM_PKT_REQUEST) {
        request(s, m, p);
    } else {
        if (p->raft.type == RAFT_MSG_SNAP) {
            /* The transport hands over the state machine that came with the snapshot. */
            struct sim_stash *st = &m->stash[m->n_stash++ % SIM_STASH_MAX];
            *st = (struct sim_stash){.index = p->snap.index, .kv = p->snap_kv};
        }
        int rc = raft_step(m->r, &p->raft);
        if (rc != 0)
            sim_fail(s, "member %" PRIu64 " refuses %s from %" PRIu64 ": error %d", m->id,
                     raft_msg_type_name(p->raft.type), p->raft.from, rc);
    }
    sim_member_drive(s, m);
}

void sim_member_tick(struct sim *s, struct sim_member *m)
{
    sim_conf_tick(s, m);
    if (!m->up)
        return;
    raft_tick(m->r);
    /* A little jitter on top of the drift. */
    sim_us next = m->tick_us + sim_rng_range(&s->rng, 0, SIM_MS(2)) - SIM_MS(1);
    sim_sched_after(&s->sched, next, SIM_EV_TICK, m->idx, m->incarnation);
    sim_member_drive(s, m);
}

/* ---- the Ready cycle -------------------------------------------------------------------- */

static void send_raft(struct sim *s, struct sim_member *m, const struct raft_msg *msg)
{
    if (s->trace)
        sim_trace(s,
                  "member %" PRIu64 " sends %s to %" PRIu64 ": term %" PRIu64 " index %" PRIu64
                  " log term %" PRIu64 " commit %" PRIu64 " entries %u reject %d",
                  m->id, raft_msg_type_name(msg->type), msg->to, msg->term, msg->index,
                  msg->log_term, msg->commit, msg->n_entries, msg->reject);
    sim_require(s, sim_safety_outgoing(&s->safety, msg, &m->disk->durable));
    s->stats.transfers_done += msg->type == RAFT_MSG_TIMEOUT_NOW;
    struct sim_packet p = {.kind = SIM_PKT_RAFT,
                           .from = m->idx,
                           .to = (uint32_t)msg->to - 1,
                           .raft = *msg,
                           .incarnation = m->incarnation};
    if (msg->type == RAFT_MSG_SNAP) {
        /* The snapshot named is one this member holds durable: stream its state. */
        if (!sim_disk_find_snapshot(m->disk, msg->snapshot->index, &p.snap_kv))
            sim_fail(s, "member %" PRIu64 " sends snapshot %" PRIu64 " it does not hold", m->id,
                     msg->snapshot->index);
        s->stats.snapshots_sent++;
    }
    sim_net_send(&s->net, &s->sched, &s->rng, &p);
}

static void install_snapshot(struct sim *s, struct sim_member *m, const struct raft_ready *rd,
                             struct sim_kv *kv)
{
    raft_index index = rd->snapshot->index;
    uint32_t n = m->n_stash < SIM_STASH_MAX ? m->n_stash : SIM_STASH_MAX;
    bool found = false;
    for (uint32_t i = 0; i < n; i++)
        if (m->stash[i].index == index) {
            *kv = m->stash[i].kv;
            found = true;
        }
    if (!found)
        sim_fail(s, "member %" PRIu64 " installs snapshot %" PRIu64 " it never received", m->id,
                 index);
    /* A joining member (it knows no members) takes the cluster's first snapshot, at 0 too. */
    bool joining = m->conf.n_voters == 0 && m->conf.n_learners == 0;
    if (index <= m->applied && !(joining && index == 0))
        sim_fail(s, "member %" PRIu64 " installs snapshot %" PRIu64 " at or below applied %" PRIu64,
                 m->id, index, m->applied);
    m->kv = *kv;
    m->applied = index;
    m->conf = rd->snapshot->conf;
    sim_require(s, sim_safety_applied(&s->safety, m->id, index, kv));
}

static void write_ready(struct sim *s, struct sim_member *m, const struct raft_ready *rd)
{
    struct sim_kv snap_kv = {0};
    if (rd->snapshot != NULL)
        install_snapshot(s, m, rd, &snap_kv);
    /* A stale leader may write where others committed; what this member held committed it
     * may never rewrite. */
    for (uint32_t i = 0; i < rd->n_entries && rd->entries[i].index <= m->checked_to; i++) {
        struct sim_stored_entry se = sim_stored_entry_of(&rd->entries[i]);
        sim_require(s, sim_safety_written(&s->safety, m->id, rd->entries[i].index, &se));
    }
    char why[160];
    if (!sim_disk_write(m->disk, rd, &snap_kv, why, sizeof(why)))
        sim_fail(s, "member %" PRIu64 ": %s", m->id, why);
    const struct sim_disk_view *w = &m->disk->written;
    if (rd->has_hard_state && rd->hard_state.commit > w->last)
        sim_fail(s, "member %" PRIu64 "'s hard state commit %" PRIu64 " passes its log's %" PRIu64,
                 m->id, rd->hard_state.commit, w->last);
}

/* Raft's commit rule (paper 5.4.2): a leader moves its commit index by counting replicas only
 * to an entry of its own term; earlier entries commit with it. */
static void check_leader_commit(struct sim *s, struct sim_member *m, const struct raft_ready *rd)
{
    if (!rd->has_hard_state)
        return;
    raft_index commit = rd->hard_state.commit;
    const struct sim_stored_entry *e = sim_disk_entry(&m->disk->written, commit);
    if (rd->state == RAFT_LEADER && commit > m->ready_commit && e != NULL &&
        e->term != rd->hard_state.term)
        sim_fail(
            s, "leader %" PRIu64 " of term %" PRIu64 " commits up to %" PRIu64 " of term %" PRIu64,
            m->id, rd->hard_state.term, commit, e->term);
    m->ready_commit = commit;
}

static void apply(struct sim *s, struct sim_member *m, const struct raft_ready *rd)
{
    for (uint32_t i = 0; i < rd->n_committed; i++) {
        const struct raft_entry *e = &rd->committed[i];
        if (e->index != m->applied + 1)
            sim_fail(s, "member %" PRIu64 " is handed entry %" PRIu64 " to apply after %" PRIu64,
                     m->id, e->index, m->applied);
        struct sim_stored_entry se = sim_stored_entry_of(e);
        sim_require(s, sim_safety_committed(&s->safety, m->id, e->index, &se));
        if (e->type == RAFT_ENTRY_CONF_CHANGE)
            sim_conf_apply(s, m, e); /* changes the state machine's removed members too */
        struct sim_op op;
        bool is_op = sim_kv_decode(e->data, e->len, &op);
        uint32_t result = 0;
        bool applied = is_op && sim_kv_apply(&m->kv, &op, &result);
        m->applied = e->index;
        sim_require(s, sim_safety_applied(&s->safety, m->id, e->index, &m->kv));
        answer_proposals(s, m, e->index, is_op ? &op : NULL, applied, result);
    }
}

static sim_us sync_delay(struct sim *s, struct sim_member *m)
{
    if (m->slow_disk)
        return sim_rng_range(&s->rng, SIM_MS(50), SIM_MS(600));
    return sim_rng_range(&s->rng, 200, SIM_MS(4));
}

/* Takes a Ready; true when it waits for a sync. */
static bool take_ready(struct sim *s, struct sim_member *m)
{
    struct raft_ready *rd = &m->rd;
    raft_ready(m->r, rd);
    m->ready_out = true;
    sim_trace(s,
              "member %" PRIu64 " ready: %s entries %u from %" PRIu64 " hs %d (term %" PRIu64
              " commit %" PRIu64 ") snapshot %" PRIu64 " committed %u send %u+%u sync %d",
              m->id, raft_state_name(rd->state), rd->n_entries,
              rd->n_entries ? rd->entries[0].index : 0, rd->has_hard_state, rd->hard_state.term,
              rd->hard_state.commit, rd->snapshot ? rd->snapshot->index : 0, rd->n_committed,
              rd->n_msgs_send_now, rd->n_msgs_after_persist, rd->must_sync);
    if (rd->soft_state_changed && rd->state != RAFT_LEADER)
        drop_reads(s, m);
    write_ready(s, m, rd);
    check_leader_commit(s, m, rd);
    for (uint32_t i = 0; i < rd->n_msgs_send_now; i++)
        send_raft(s, m, &rd->msgs_send_now[i]);
    apply(s, m, rd);
    read_states(s, m, rd);
    /* Commit-only hard states are not synced (as etcd and the raft actor), unless the write
     * queue fills up. */
    if (!rd->must_sync && m->disk->n_queue < SIM_QUEUE_MAX / 2)
        return false;
    sim_disk_sync_begin(m->disk);
    m->syncing = true;
    sim_sched_after(&s->sched, sync_delay(s, m), SIM_EV_SYNC, m->idx, m->incarnation);
    return true;
}

static void finish_ready(struct sim *s, struct sim_member *m)
{
    ASSERT(m->ready_out && !m->syncing);
    const struct raft_ready *rd = &m->rd;
    for (uint32_t i = 0; i < rd->n_msgs_after_persist; i++)
        send_raft(s, m, &rd->msgs_after_persist[i]);
    raft_advance(m->r, rd);
    m->ready_out = false;
}

void sim_member_sync_done(struct sim *s, struct sim_member *m)
{
    ASSERT(m->up && m->syncing);
    sim_disk_sync_done(m->disk);
    m->syncing = false;
    finish_ready(s, m);
    sim_member_drive(s, m);
}

/* Now and then the member snapshots its state machine and lets raft forget the log before it,
 * keeping a few entries for followers a little behind. */
static void maybe_snapshot(struct sim *s, struct sim_member *m)
{
    const struct sim_disk_view *d = &m->disk->durable;
    if (m->applied < d->snap.index + m->snapshot_every)
        return;
    const struct sim_stored_entry *e = sim_disk_entry(d, m->applied);
    if (e == NULL)
        sim_fail(s,
                 "member %" PRIu64 " applied %" PRIu64 " which is not durable (log to %" PRIu64 ")",
                 m->id, m->applied, d->last);
    struct raft_snapshot_meta snap = {.index = m->applied, .term = e->term, .conf = m->conf};
    sim_disk_save_snapshot(m->disk, &snap, &m->kv);
    raft_index keep = sim_rng_range(&s->rng, 0, 8);
    ASSERT(raft_compact(m->r, &snap, snap.index > keep ? snap.index - keep : 0) == 0);
    sim_trace(s, "member %" PRIu64 " snapshots at %" PRIu64, m->id, snap.index);
    s->stats.snapshots++;
}

void sim_member_drive(struct sim *s, struct sim_member *m)
{
    ASSERT(m->up);
    for (uint32_t i = 0; i < DRIVE_READIES_MAX; i++) {
        if (m->ready_out)
            return;
        maybe_snapshot(s, m);
        if (!raft_has_ready(m->r))
            return;
        if (take_ready(s, m))
            return;
        finish_ready(s, m);
    }
    sim_sched_after(&s->sched, 0, SIM_EV_DRIVE, m->idx, m->incarnation);
}
