/* Log replication: MsgApp out and in, acknowledgements and rejections, heartbeats, snapshots,
 * and the leader's commit rule (etcd raft.go: sendAppend, handleAppendEntries, stepLeader's
 * MsgAppResp, raftLog.maybeAppend and findConflictByTerm). */
#include <inttypes.h>

#include "raft_internal.h"
#include "ringd_assert.h"
#include "ringd_error.h"

/* The last index at or below index whose term is at most term, and that term (0: unknown,
 * compacted or past the log). Bounded by the window: terms are known in [snap_index, last]. */
static raft_index find_conflict_by_term(const struct raft_log *l, raft_index index, raft_term term,
                                        raft_term *found)
{
    ASSERT(found != NULL);
    for (; index > 0; index--) {
        raft_term t;
        if (!raft_log_term(l, index, &t)) {
            *found = 0;
            return index;
        }
        if (t <= term) {
            *found = t;
            ASSERT(index >= l->snap_index);
            return index;
        }
    }
    *found = 0;
    return 0;
}

static void commit_to(struct raft *r, raft_index index)
{
    ASSERT(index <= r->log.last);
    if (index > r->log.committed)
        r->log.committed = index;
    ASSERT(r->log.committed >= index);
}

static void reply(struct raft *r, raft_id to, uint8_t type, raft_index index)
{
    ASSERT(type == RAFT_MSG_APP_RESP && index <= r->log.last);
    raft_send(r, &(struct raft_msg){.type = type, .to = to, .index = index});
}

/* ---- leader: sending -------------------------------------------------------------------- */

/* Copies the entries from next on into the outbox, for one MsgApp: msg_bytes_max of them (at
 * least one), at most RAFT_MSG_ENTRIES_MAX and what the outbox has room for. Pins their data. */
static uint32_t collect_entries(struct raft *r, raft_index next, uint64_t *bytes)
{
    struct raft_outbox *o = r->pending;
    ASSERT(next >= raft_log_first(&r->log) && next <= r->log.last + 1);
    uint32_t room = RAFT_OUTBOX_ENTRIES_MAX - o->n_ents;
    if (room > RAFT_MSG_ENTRIES_MAX)
        room = RAFT_MSG_ENTRIES_MAX;
    uint32_t n = 0;
    *bytes = 0;
    for (raft_index i = next; i <= r->log.last && n < room; i++) {
        struct raft_entry *e = &o->ents[o->n_ents + n];
        uint64_t pos;
        raft_log_entry(&r->log, i, e, &pos);
        if (n > 0 && *bytes + e->len > r->cfg.msg_bytes_max)
            break;
        if (pos < o->pin_pos)
            o->pin_pos = pos;
        if (pos < r->log.pin_pos)
            r->log.pin_pos = pos;
        *bytes += e->len;
        n++;
    }
    ASSERT(o->n_ents + n <= RAFT_OUTBOX_ENTRIES_MAX);
    return n;
}

/* MsgSnap with the snapshot the caller holds: for a follower behind the log's first entry,
 * or one joining the cluster (it knows no members yet: the snapshot names them). */
static bool send_snapshot(struct raft *r, struct raft_progress *p)
{
    ASSERT(p->state != RAFT_PROGRESS_SNAPSHOT);
    if (!p->recent_active)
        return false; /* do not stream a snapshot to a member that may be down */
    struct raft_outbox *o = r->pending;
    if (o->has_snap && o->snap.index != r->snapshot.index)
        return false; /* one snapshot per Ready; the next one takes this */
    ASSERT(r->snapshot.index >= r->log.snap_index && r->snapshot.index >= p->match);
    o->snap = r->snapshot;
    o->has_snap = true;
    raft_send(r, &(struct raft_msg){.type = RAFT_MSG_SNAP, .to = p->id, .snapshot = &o->snap});
    raft_progress_become_snapshot(p, r->snapshot.index);
    raft_event(r,
               "%" PRIx64 " [firstindex: %" PRIu64 ", commit: %" PRIu64
               "] sent snapshot[index: %" PRIu64 ", term: %" PRIu64 "] to %" PRIx64,
               r->cfg.id, raft_log_first(&r->log), r->log.committed, r->snapshot.index,
               r->snapshot.term, p->id);
    return true;
}

bool raft_send_append(struct raft *r, struct raft_progress *p, bool send_if_empty)
{
    ASSERT(r->state == RAFT_LEADER && p->id != r->cfg.id);
    ASSERT(p->next >= 1 && p->next <= r->log.last + 1);
    if (raft_progress_is_paused(p))
        return false;
    struct raft_outbox *o = r->pending;
    if (!raft_can_send(r, RAFT_MSG_APP)) {
        r->msgs_dropped++;
        return false;
    }
    raft_term prev_term;
    if (!raft_log_term(&r->log, p->next - 1, &prev_term)) {
        ASSERT(p->next <= r->log.snap_index);
        return send_snapshot(r, p);
    }
    uint64_t bytes;
    uint32_t n = collect_entries(r, p->next, &bytes);
    if (n == 0 && !send_if_empty)
        return false;
    struct raft_msg *m = raft_send(r, &(struct raft_msg){.type = RAFT_MSG_APP,
                                                         .to = p->id,
                                                         .index = p->next - 1,
                                                         .log_term = prev_term,
                                                         .commit = r->log.committed,
                                                         .entries = n ? &o->ents[o->n_ents] : NULL,
                                                         .n_entries = n});
    ASSERT(m != NULL);
    o->n_ents += n;
    raft_index told = m->commit < m->index + n ? m->commit : m->index + n;
    if (told > p->sent_commit)
        p->sent_commit = told;
    raft_progress_sent_entries(p, m->index + n, bytes, n);
    return true;
}

void raft_bcast_append(struct raft *r)
{
    ASSERT(r->state == RAFT_LEADER && !r->ready_out);
    for (uint32_t i = 0; i < r->tracker.n; i++) {
        struct raft_progress *p = &r->tracker.progress[i];
        if (p->id == r->cfg.id)
            continue;
        /* A streaming follower with every entry sent needs an empty MsgApp only for news of
         * the commit index. */
        if (p->state == RAFT_PROGRESS_REPLICATE && p->next > r->log.last &&
            p->sent_commit >= r->log.committed)
            continue;
        /* Then fill the follower's inflight window (bounded by it): pipelining. */
        for (uint32_t k = 0; k <= r->cfg.inflight_msgs_max && raft_send_append(r, p, k == 0); k++)
            continue;
    }
}

void raft_bcast_heartbeat(struct raft *r, uint64_t context)
{
    ASSERT(r->state == RAFT_LEADER);
    for (uint32_t i = 0; i < r->tracker.n; i++) {
        struct raft_progress *p = &r->tracker.progress[i];
        if (p->id == r->cfg.id)
            continue;
        /* The follower may not hold entries up to our commit: never tell it more than match. */
        raft_index commit = p->match < r->log.committed ? p->match : r->log.committed;
        ASSERT(commit <= p->match);
        if (commit > p->sent_commit)
            p->sent_commit = commit;
        raft_send(
            r, &(struct raft_msg){
                   .type = RAFT_MSG_HEARTBEAT, .to = p->id, .commit = commit, .context = context});
    }
}

bool raft_maybe_commit(struct raft *r)
{
    ASSERT(r->state == RAFT_LEADER);
    raft_index mci = raft_tracker_committed(&r->tracker);
    if (mci <= r->log.committed)
        return false;
    raft_term t = 0;
    bool ok = raft_log_term(&r->log, mci, &t);
    ASSERT(ok && mci <= r->log.last);
    /* Only an entry of the leader's own term commits by counting replicas (raft paper 5.4.2). */
    if (t != r->term)
        return false;
    /* A leader that is its own quorum counts only what it persisted. */
    ASSERT(mci <= r->log.stable || r->tracker.conf.n_voters > 1);
    r->log.committed = mci;
    r->bcast_pending = true; /* followers learn the new commit index */
    raft_read_committed(r);
    return true;
}

/* ---- leader: answers -------------------------------------------------------------------- */

static void handle_reject(struct raft *r, struct raft_progress *p, const struct raft_msg *m)
{
    ASSERT(m->reject && p->id == m->from);
    if (m->index == 0) {
        /* Every log matches at index 0: this is a member that knows no configuration yet
         * (joining) and takes nothing before a snapshot. Once it acknowledged entries, such
         * an answer is an old one, duplicated or late. */
        if (p->match == 0 && p->state != RAFT_PROGRESS_SNAPSHOT && raft_can_send(r, RAFT_MSG_SNAP))
            send_snapshot(r, p);
        return;
    }
    raft_event(r,
               "%" PRIx64 " received MsgAppResp(rejected, hint: (index %" PRIu64 ", term %" PRIu64
               ")) from %" PRIx64 " for index %" PRIu64,
               r->cfg.id, m->reject_hint, m->log_term, m->from, m->index);
    /* Skip every entry of a term the follower's log cannot share (etcd's fast back-off). */
    raft_index next_probe = m->reject_hint;
    if (m->log_term > 0) {
        raft_term t;
        next_probe = find_conflict_by_term(&r->log, m->reject_hint, m->log_term, &t);
    }
    if (!raft_progress_maybe_decr_to(p, m->index, next_probe))
        return;
    raft_event(r,
               "%" PRIx64 " decreased progress of %" PRIx64 " to [%s match=%" PRIu64
               " next=%" PRIu64 "]",
               r->cfg.id, p->id, raft_progress_state_name(p->state), p->match, p->next);
    if (p->state == RAFT_PROGRESS_REPLICATE)
        raft_progress_become_probe(p);
    raft_send_append(r, p, true);
}

static void progress_acked(struct raft *r, struct raft_progress *p, raft_index index)
{
    ASSERT(p->match == index && index <= r->log.last);
    if (p->state == RAFT_PROGRESS_PROBE) {
        raft_progress_become_replicate(p);
    } else if (p->state == RAFT_PROGRESS_SNAPSHOT && p->match >= p->pending_snapshot) {
        raft_event(r,
                   "%" PRIx64 " recovered from needing snapshot, resumed sending replication "
                   "messages to %" PRIx64,
                   r->cfg.id, p->id);
        raft_progress_become_probe(p);
        raft_progress_become_replicate(p);
    } else if (p->state == RAFT_PROGRESS_REPLICATE) {
        raft_inflights_free_le(&p->inflights, index);
    }
}

int raft_handle_append_resp(struct raft *r, const struct raft_msg *m)
{
    ASSERT(r->state == RAFT_LEADER && m->term == r->term);
    struct raft_progress *p = raft_tracker_get(&r->tracker, m->from);
    if (p == NULL)
        return 0;
    if (m->index > r->log.last)
        return -RINGD_ECORRUPT; /* nobody can hold more of this leader's log than it has */
    p->recent_active = true;
    if (m->reject) {
        handle_reject(r, p, m);
        return 0;
    }
    bool was_paused = raft_progress_is_paused(p);
    if (!raft_progress_maybe_update(p, m->index))
        return 0;
    progress_acked(r, p, m->index);
    if (!raft_maybe_commit(r) && was_paused)
        raft_send_append(r, p, true);
    /* The window may have room for several MsgApps now: fill it (bounded by the window). */
    for (uint32_t k = 0; k <= r->cfg.inflight_msgs_max && raft_send_append(r, p, false); k++)
        continue;
    raft_transfer_acked(r, p);
    ASSERT(p->match < p->next);
    return 0;
}

void raft_handle_heartbeat_resp(struct raft *r, const struct raft_msg *m)
{
    ASSERT(r->state == RAFT_LEADER && m->term == r->term);
    struct raft_progress *p = raft_tracker_get(&r->tracker, m->from);
    if (p == NULL)
        return;
    p->recent_active = true;
    p->probe_sent = false;
    /* A full window that hears nothing back may have lost a MsgApp: let one more go. */
    if (p->state == RAFT_PROGRESS_REPLICATE && raft_inflights_full(&p->inflights))
        raft_inflights_free_first(&p->inflights);
    if (p->match < r->log.last)
        raft_send_append(r, p, true);
    raft_read_ack(r, p, m->context);
}

/* ---- follower --------------------------------------------------------------------------- */

/* Entries must follow index one by one, with terms that never go down and never pass the
 * leader's; anything else is a broken or hostile sender. */
static int validate_append(const struct raft_msg *m)
{
    ASSERT(m->type == RAFT_MSG_APP && (m->n_entries == 0 || m->entries != NULL));
    if (m->n_entries > RAFT_MSG_ENTRIES_MAX || m->log_term > m->term)
        return -RINGD_ECORRUPT;
    raft_term prev = m->log_term;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        if (e->index != m->index + 1 + i || e->term < prev || e->term > m->term ||
            e->len > RAFT_ENTRY_BYTES_MAX || (e->len > 0 && e->data == NULL) ||
            e->type > RAFT_ENTRY_CONF_CHANGE)
            return -RINGD_ECORRUPT;
        prev = e->term;
    }
    return 0;
}

/* Appends what m holds beyond the log, cutting a conflicting suffix first (etcd maybeAppend).
 * *last_new: the last index now known to match the leader's log. */
static void append_from(struct raft *r, const struct raft_msg *m, raft_index *last_new)
{
    struct raft_log *l = &r->log;
    uint32_t i = 0;
    while (i < m->n_entries && raft_log_match_term(l, m->entries[i].index, m->entries[i].term))
        i++;
    *last_new = m->index + i;
    if (i == m->n_entries)
        return;
    const struct raft_entry *first = &m->entries[i];
    /* Committed entries never conflict: m->index >= committed was checked. */
    ASSERT(first->index > l->committed);
    if (first->index <= l->last) {
        raft_event(
            r, "%" PRIx64 " found conflict at index %" PRIu64 " [conflicting term: %" PRIu64 "]",
            r->cfg.id, first->index, first->term);
        raft_truncate(r, first->index - 1);
    }
    for (; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        /* Keep one slot for our own empty entry should we lead; a full window takes the rest
         * later (the leader probes from what we acknowledge). */
        if (l->last - l->snap_index + 2 > (uint64_t)l->slots_mask + 1 ||
            raft_log_append(l, e->term, e->type, e->data, e->len) != 0)
            break;
        *last_new = e->index;
    }
    ASSERT(*last_new <= l->last);
}

static void reject_append(struct raft *r, const struct raft_msg *m)
{
    ASSERT(!raft_log_match_term(&r->log, m->index, m->log_term));
    raft_index hint = m->index < r->log.last ? m->index : r->log.last;
    raft_term hint_term;
    hint = find_conflict_by_term(&r->log, hint, m->log_term, &hint_term);
    raft_term ours = 0;
    raft_log_term(&r->log, m->index, &ours);
    raft_event(r,
               "%" PRIx64 " [logterm: %" PRIu64 ", index: %" PRIu64
               "] rejected MsgApp [logterm: %" PRIu64 ", index: %" PRIu64 "] from %" PRIx64,
               r->cfg.id, ours, m->index, m->log_term, m->index, m->from);
    raft_send(r, &(struct raft_msg){.type = RAFT_MSG_APP_RESP,
                                    .to = m->from,
                                    .index = m->index,
                                    .reject = true,
                                    .reject_hint = hint,
                                    .log_term = hint_term});
}

int raft_handle_append(struct raft *r, const struct raft_msg *m)
{
    ASSERT(r->state == RAFT_FOLLOWER && r->term == m->term);
    int rc = validate_append(m);
    if (rc != 0)
        return rc;
    if (r->tracker.n == 0) {
        /* Joining: entries applied without the configuration they follow would build a wrong
         * one. A rejection at index 0 (where every log matches) asks for the snapshot. */
        raft_send(r, &(struct raft_msg){.type = RAFT_MSG_APP_RESP, .to = m->from, .reject = true});
        return 0;
    }
    if (m->index < r->log.committed) {
        reply(r, m->from, RAFT_MSG_APP_RESP, r->log.committed);
        return 0;
    }
    if (!raft_log_match_term(&r->log, m->index, m->log_term)) {
        reject_append(r, m);
        return 0;
    }
    raft_index last_new;
    append_from(r, m, &last_new);
    commit_to(r, m->commit < last_new ? m->commit : last_new);
    /* Acknowledges entries not yet durable: it leaves after this Ready is persisted. */
    reply(r, m->from, RAFT_MSG_APP_RESP, last_new);
    return 0;
}

void raft_handle_heartbeat(struct raft *r, const struct raft_msg *m)
{
    ASSERT(r->state == RAFT_FOLLOWER && m->term == r->term);
    raft_index commit = m->commit;
    if (commit > r->log.last) {
        raft_event(r, "%" PRIx64 " heartbeat commit %" PRIu64 " past its last index %" PRIu64,
                   r->cfg.id, commit, r->log.last);
        commit = r->log.last;
    }
    commit_to(r, commit);
    raft_send(r, &(struct raft_msg){
                     .type = RAFT_MSG_HEARTBEAT_RESP, .to = m->from, .context = m->context});
}

static bool conf_has(const struct raft_conf_state *c, raft_id id)
{
    ASSERT(c->n_voters <= RAFT_MEMBERS_MAX && c->n_learners <= RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < c->n_voters; i++)
        if (c->voters[i] == id)
            return true;
    for (uint32_t i = 0; i < c->n_learners; i++)
        if (c->learners[i] == id)
            return true;
    return false;
}

/* Resets the log to s when it is news to us; false when it is not (etcd raft.restore). A
 * joining member (it knows no configuration) takes any snapshot, the cluster's first one at
 * index 0 too; the change that adds it may come after it. So may the next one: a member that
 * joined with a snapshot from before its addition, whose leader compacted past it before it
 * got the entries up to its addition, is sent a snapshot from before its addition again. A
 * member that is missing from its own configuration takes it (else it would wait for the
 * leader's next snapshot, which nothing may trigger; a removed member is sent none, its
 * leader has no progress for it); a member of it never takes one that leaves it out. */
static bool restore(struct raft *r, const struct raft_snapshot_meta *s)
{
    bool joining = r->tracker.n == 0;
    bool outside = raft_tracker_get(&r->tracker, r->cfg.id) == NULL;
    ASSERT(!joining || r->log.committed == 0);
    if (joining) {
        raft_event(r, "%" PRIx64 " joining: takes the snapshot naming the members", r->cfg.id);
    } else if (s->index <= r->log.committed) {
        return false;
    } else if (!outside && !conf_has(&s->conf, r->cfg.id)) {
        raft_event(r, "%" PRIx64 " attempted to restore snapshot but it is not in the ConfState",
                   r->cfg.id);
        return false;
    } else if (raft_log_match_term(&r->log, s->index, s->term)) {
        /* Our log has it: only the commit index moves. */
        commit_to(r, s->index);
        return false;
    }
    raft_reset_to_snapshot(r, s);
    r->install = *s;
    r->install_pending = true;
    raft_tracker_set_conf(&r->tracker, &s->conf, r->cfg.id, r->log.last, r->log.stable);
    /* Conf changes handed out before it and not applied yet are in it (raft_apply_conf_change
     * ignores them). */
    ASSERT(r->conf_handed_index <= s->index);
    r->conf_index = s->index;
    return true;
}

int raft_handle_snapshot(struct raft *r, const struct raft_msg *m)
{
    ASSERT(r->state == RAFT_FOLLOWER);
    const struct raft_snapshot_meta *s = m->snapshot;
    /* Index 0 is the cluster's first snapshot (term 0), sent to joining members. */
    if (raft_conf_validate(&s->conf) != 0 || (s->term == 0) != (s->index == 0) ||
        s->term > m->term || (s->conf.n_voters == 0 && s->conf.n_learners == 0))
        return -RINGD_ECORRUPT;
    raft_index commit = r->log.committed;
    if (restore(r, s)) {
        raft_event(r,
                   "%" PRIx64 " [commit: %" PRIu64 "] restored snapshot [index: %" PRIu64
                   ", term: %" PRIu64 "]",
                   r->cfg.id, commit, s->index, s->term);
        reply(r, m->from, RAFT_MSG_APP_RESP, r->log.last);
    } else {
        raft_event(r,
                   "%" PRIx64 " [commit: %" PRIu64 "] ignored snapshot [index: %" PRIu64
                   ", term: %" PRIu64 "]",
                   r->cfg.id, commit, s->index, s->term);
        reply(r, m->from, RAFT_MSG_APP_RESP, r->log.committed);
    }
    return 0;
}
