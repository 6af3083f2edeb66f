/* The raft core's lifecycle (create, restore), inputs (tick, step, campaign), the
 * Ready/advance cycle and the role changes. Votes are in raft_election.c, appends in
 * raft_replication.c, proposals in raft_propose.c, membership in raft_conf.c. */
#include "raft.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_internal.h"
#include "ringd_assert.h"
#include "ringd_error.h"

void raft_config_default(struct raft_config *c, raft_id id)
{
    ASSERT(id != RAFT_NONE);
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->election_ticks = 10;
    c->heartbeat_ticks = 1;
    c->seed = id;
    c->log_entries_max = RAFT_LOG_ENTRIES_DEFAULT;
    c->log_bytes_max = RAFT_LOG_BYTES_DEFAULT;
    c->msg_bytes_max = RAFT_MSG_BYTES_DEFAULT;
    c->inflight_msgs_max = RAFT_INFLIGHT_MSGS_DEFAULT;
    c->inflight_bytes_max = RAFT_INFLIGHT_BYTES_DEFAULT;
    c->apply_bytes_max = RAFT_APPLY_BYTES_DEFAULT;
    c->forward_bytes_max = RAFT_FORWARD_BYTES_DEFAULT;
}

static void config_check(const struct raft_config *c)
{
    ASSERT(c->id != RAFT_NONE);
    ASSERT(c->heartbeat_ticks > 0 && c->heartbeat_ticks < c->election_ticks);
    ASSERT(c->log_entries_max >= 4 && c->log_entries_max <= RAFT_LOG_ENTRIES_MAX);
    ASSERT((c->log_entries_max & (c->log_entries_max - 1)) == 0);
    ASSERT(c->log_bytes_max > 0 && c->log_bytes_max <= RAFT_LOG_BYTES_MAX);
    ASSERT(c->msg_bytes_max > 0 && c->apply_bytes_max > 0);
    ASSERT(c->inflight_msgs_max > 0 && c->inflight_msgs_max <= RAFT_INFLIGHT_MSGS_MAX);
    ASSERT(c->inflight_bytes_max > 0);
    ASSERT(c->forward_bytes_max > 0 && c->forward_bytes_max <= RAFT_LOG_BYTES_MAX);
}

struct raft *raft_create(const struct raft_config *c)
{
    config_check(c);
    struct raft *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->cfg = *c;
    r->rand_state = c->seed;
    r->pending = calloc(1, sizeof(*r->pending));
    r->handed = calloc(1, sizeof(*r->handed));
    r->ready_entries = calloc(c->log_entries_max, sizeof(r->ready_entries[0]));
    r->ready_committed = calloc(RAFT_APPLY_ENTRIES_MAX, sizeof(r->ready_committed[0]));
    r->reads = calloc(RAFT_READ_INDEX_MAX, sizeof(r->reads[0]));
    r->conf_buf = malloc(RAFT_CONF_CHANGE_HEADER_BYTES + RAFT_CONF_CONTEXT_BYTES_MAX);
    if (r->pending != NULL && r->handed != NULL) {
        r->pending->fwd = malloc(c->forward_bytes_max);
        r->handed->fwd = malloc(c->forward_bytes_max);
    }
    if (r->pending == NULL || r->handed == NULL || r->ready_entries == NULL ||
        r->ready_committed == NULL || r->reads == NULL || r->conf_buf == NULL ||
        r->pending->fwd == NULL || r->handed->fwd == NULL ||
        raft_log_init(&r->log, c->log_entries_max, c->log_bytes_max) != 0 ||
        raft_tracker_init(&r->tracker, c->inflight_msgs_max, c->inflight_bytes_max) != 0) {
        raft_destroy(r);
        return NULL;
    }
    r->pending->pin_pos = UINT64_MAX;
    r->handed->pin_pos = UINT64_MAX;
    r->ready_pin = UINT64_MAX;
    return r;
}

void raft_destroy(struct raft *r)
{
    if (r == NULL)
        return;
    raft_log_destroy(&r->log);
    raft_tracker_destroy(&r->tracker);
    if (r->pending != NULL)
        free(r->pending->fwd);
    if (r->handed != NULL)
        free(r->handed->fwd);
    free(r->pending);
    free(r->handed);
    free(r->conf_buf);
    free(r->ready_entries);
    free(r->ready_committed);
    free(r->reads);
    free(r);
}

void raft_event(struct raft *r, const char *fmt, ...)
{
    if (r->cfg.on_event == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->event, sizeof(r->event), fmt, ap);
    va_end(ap);
    r->cfg.on_event(r->cfg.event_ctx, r->event);
}

/* splitmix64: the election jitter's generator, seeded by the caller. */
static uint64_t next_random(struct raft *r)
{
    uint64_t z = (r->rand_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void reset_election_timeout(struct raft *r)
{
    uint32_t e = r->cfg.election_ticks;
    r->randomized_election_timeout = e + (uint32_t)(next_random(r) % e);
    ASSERT(r->randomized_election_timeout >= e && r->randomized_election_timeout < 2 * e);
}

/* The log's pin: the lowest byte position anything outside the log points at. */
static void update_pin(struct raft *r)
{
    uint64_t pin = r->ready_pin;
    if (r->pending->pin_pos < pin)
        pin = r->pending->pin_pos;
    if (r->handed->pin_pos < pin)
        pin = r->handed->pin_pos;
    ASSERT(r->ready_out || (r->ready_pin == UINT64_MAX && r->handed->pin_pos == UINT64_MAX));
    ASSERT(pin == UINT64_MAX || pin <= r->log.bytes_tail);
    r->log.pin_pos = pin;
}

/* ---- restore ---------------------------------------------------------------------------- */

int raft_restore_snapshot(struct raft *r, const struct raft_snapshot_meta *snap)
{
    ASSERT(!r->snapshot_restored && !r->restored);
    ASSERT(r->log.last == 0);
    if (raft_conf_validate(&snap->conf) != 0 || (snap->index > 0 && snap->term == 0))
        return -RINGD_ECORRUPT;
    raft_log_reset(&r->log, snap->index, snap->term);
    r->snapshot = *snap;
    r->conf_index = snap->index;
    r->snapshot_restored = true;
    return 0;
}

static int restore_entry(struct raft *r, const struct raft_entry *e)
{
    struct raft_log *l = &r->log;
    if (e->index <= l->snap_index)
        return 0; /* the snapshot covers it */
    if (e->index > l->last + 1 || e->len > RAFT_ENTRY_BYTES_MAX || (e->len > 0 && !e->data) ||
        e->type > RAFT_ENTRY_CONF_CHANGE)
        return -RINGD_ECORRUPT;
    if (e->index <= l->last)
        raft_log_truncate(l, e->index - 1);
    raft_term prev = 0;
    bool ok = raft_log_term(l, e->index - 1, &prev);
    ASSERT(ok);
    if (e->term < prev)
        return -RINGD_ECORRUPT;
    int rc = raft_log_append(l, e->term, e->type, e->data, e->len);
    if (rc != 0)
        return rc;
    l->stable = l->last;
    return 0;
}

int raft_restore_entries(struct raft *r, const struct raft_entry *entries, uint32_t n)
{
    ASSERT(r->snapshot_restored && !r->restored);
    ASSERT(n == 0 || entries != NULL);
    for (uint32_t i = 0; i < n; i++) {
        int rc = restore_entry(r, &entries[i]);
        if (rc != 0)
            return rc;
    }
    raft_log_check(&r->log);
    return 0;
}

/* The term and vote to restart with. A log whose last entry's term T passes the hard state's
 * is a torn write: a Ready's entries reached the disk and its hard state, written after them,
 * did not. That hard state's vote was never sent (a vote leaves only once durable), so any
 * vote of term T is unknown to the cluster; entries of term T came from T's leader (or are
 * this member's own as T's leader, which sent nothing of T before its term was durable); a
 * lost hard state of a later term sent nothing of that term either (what tells a term waits
 * for it to be durable). The member restarts as one that took T's entries without voting:
 * term T, no vote. It gives no vote in T anyway: entries of T exist only once T has a leader,
 * which asks for none, and every other candidate of T has a log that ends in an earlier term,
 * so ours is more up to date; one leader per term holds. */
static void restore_term(struct raft *r, const struct raft_hard_state *hs)
{
    raft_term last_term = raft_log_last_term(&r->log);
    r->term = hs->term;
    r->vote = hs->vote;
    r->durable_term = hs->term;
    if (last_term > hs->term) {
        raft_event(r,
                   "%" PRIx64 " restored a log of term %" PRIu64
                   " with the hard state of term %" PRIu64 " (a torn write): term %" PRIu64
                   ", no vote",
                   r->cfg.id, last_term, hs->term, last_term);
        r->term = last_term;
        r->vote = RAFT_NONE;
    }
    ASSERT(r->term >= last_term && r->durable_term <= r->term);
}

int raft_restore_finish(struct raft *r, const struct raft_hard_state *hs, raft_index applied)
{
    ASSERT(r->snapshot_restored && !r->restored);
    struct raft_log *l = &r->log;
    raft_index commit = hs->commit > l->snap_index ? hs->commit : l->snap_index;
    if (commit > l->last || applied < l->snap_index || applied > commit)
        return -RINGD_ECORRUPT;
    if (hs->vote != RAFT_NONE && hs->term == 0)
        return -RINGD_ECORRUPT;
    restore_term(r, hs);
    l->committed = commit;
    l->applied = applied;
    raft_tracker_set_conf(&r->tracker, &r->snapshot.conf, r->cfg.id, l->last, l->stable);
    if (raft_conf_replay(r, applied) != 0)
        return -RINGD_ECORRUPT;
    /* As durable: a raised term differs, so the first Ready writes it. */
    r->prev_hs = (struct raft_hard_state){.term = hs->term, .vote = hs->vote, .commit = commit};
    raft_become_follower(r, r->term, RAFT_NONE);
    r->prev_state = r->state;
    r->prev_leader = r->leader;
    r->restored = true;
    raft_event(r,
               "%" PRIx64 " restored: term %" PRIu64 ", commit %" PRIu64 ", applied %" PRIu64
               ", last %" PRIu64 "/%" PRIu64,
               r->cfg.id, r->term, commit, applied, raft_log_last_term(l), l->last);
    raft_check(r);
    return 0;
}

/* ---- roles ------------------------------------------------------------------------------ */

/* What every role change starts with (etcd raft.reset). */
static void reset(struct raft *r, raft_term term)
{
    if (r->term != term) {
        ASSERT(term > r->term);
        r->term = term;
        r->vote = RAFT_NONE;
    }
    r->leader = RAFT_NONE;
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    reset_election_timeout(r);
    r->lead_transferee = RAFT_NONE;
    r->reads_head = 0;
    r->n_reads = 0; /* a new role answers no read of the old one: the readers retry */
    raft_tracker_reset(&r->tracker, r->cfg.id, r->log.last, r->log.stable);
}

void raft_become_follower(struct raft *r, raft_term term, raft_id leader)
{
    reset(r, term);
    r->state = RAFT_FOLLOWER;
    r->leader = leader;
    raft_event(r, "%" PRIx64 " became follower at term %" PRIu64, r->cfg.id, r->term);
}

void raft_become_candidate(struct raft *r)
{
    ASSERT(r->state != RAFT_LEADER);
    reset(r, r->term + 1);
    r->vote = r->cfg.id;
    r->state = RAFT_CANDIDATE;
    raft_event(r, "%" PRIx64 " became candidate at term %" PRIu64, r->cfg.id, r->term);
}

void raft_become_pre_candidate(struct raft *r)
{
    ASSERT(r->state != RAFT_LEADER);
    /* No reset: the term and vote stay until the pre-vote is won. */
    raft_tracker_reset_votes(&r->tracker);
    r->leader = RAFT_NONE;
    r->state = RAFT_PRE_CANDIDATE;
    raft_event(r, "%" PRIx64 " became pre-candidate at term %" PRIu64, r->cfg.id, r->term);
}

void raft_become_leader(struct raft *r)
{
    ASSERT(r->state == RAFT_CANDIDATE);
    ASSERT(r->vote == r->cfg.id);
    reset(r, r->term);
    r->state = RAFT_LEADER;
    r->leader = r->cfg.id;
    struct raft_progress *self = raft_tracker_get(&r->tracker, r->cfg.id);
    ASSERT(self != NULL);
    raft_progress_become_replicate(self);
    /* A conf change may hide in the inherited tail: no new one until all of it is applied. */
    r->pending_conf_index = r->log.last;
    /* The empty entry of the new term: committing it commits everything before. The window
     * keeps a slot for it (proposals and appends leave one free); a log full of uncommitted
     * entries of earlier elections is the one case without room: step down, retry later. */
    if (raft_log_append(&r->log, r->term, RAFT_ENTRY_NORMAL, NULL, 0) != 0) {
        raft_event(r, "%" PRIx64 " cannot lead at term %" PRIu64 ": log window full", r->cfg.id,
                   r->term);
        raft_become_follower(r, r->term, RAFT_NONE);
        return;
    }
    r->bcast_pending = true;
    raft_event(r, "%" PRIx64 " became leader at term %" PRIu64, r->cfg.id, r->term);
}

bool raft_promotable(struct raft *r)
{
    return raft_tracker_is_voter(&r->tracker, r->cfg.id);
}

/* The acknowledgements' invariant: a MsgAppResp queued for the next Ready that acknowledges
 * index i is true of the log as it is now: the entries up to i are the ones it acknowledged,
 * so they are durable when it leaves (after that Ready). When the log above keep changes (a
 * newer leader's entries cut it, a snapshot replaced it), queued acknowledgements above keep
 * would leave once the new log is durable and promise entries this member no longer holds, to
 * a leader of an older term that may still be counting: they are dropped, as a lossy network
 * drops messages (the leader probes again). The Ready already handed out keeps its own: they
 * leave once its entries are durable, before any later write can replace them. etcd keeps
 * them (its msgs list survives the cut), which is safe only as a late message is. */
static void drop_acks_above(struct raft *r, raft_index keep)
{
    struct raft_outbox *o = r->pending;
    uint32_t n = 0;
    for (uint32_t i = 0; i < o->n_after; i++) {
        const struct raft_msg *m = &o->after[i];
        if (m->type == RAFT_MSG_APP_RESP && !m->reject && m->index > keep)
            continue;
        o->after[n++] = *m;
    }
    ASSERT(n <= o->n_after);
    o->n_after = n;
}

void raft_truncate(struct raft *r, raft_index index)
{
    ASSERT(r->state != RAFT_LEADER);
    raft_log_truncate(&r->log, index);
    if (r->ready_stable_to > index)
        r->ready_stable_to = index;
    drop_acks_above(r, index);
    ASSERT(r->log.stable <= index);
}

void raft_reset_to_snapshot(struct raft *r, const struct raft_snapshot_meta *s)
{
    ASSERT(r->state == RAFT_FOLLOWER && s->index >= r->log.committed);
    /* Committed entries are the same in every log: those stay true in the snapshot. */
    drop_acks_above(r, r->log.committed);
    raft_log_reset(&r->log, s->index, s->term);
    if (r->ready_stable_to > s->index)
        r->ready_stable_to = s->index;
    ASSERT(r->log.last == s->index && r->log.committed == s->index);
}

/* ---- messages out ----------------------------------------------------------------------- */

static bool is_vote_type(uint8_t t)
{
    return t == RAFT_MSG_VOTE || t == RAFT_MSG_VOTE_RESP || t == RAFT_MSG_PRE_VOTE ||
           t == RAFT_MSG_PRE_VOTE_RESP;
}

/* Forwarded requests carry no term: the receiver takes them whatever its term. */
static bool is_termless(uint8_t t)
{
    return t == RAFT_MSG_PROP || t == RAFT_MSG_READ_INDEX;
}

/* The leader's own traffic promises nothing about this member's disk: it may leave before the
 * Ready is persisted, once the leader's term is durable (a leader whose quorum is itself leads
 * before its new term is on disk; its learners must not see that term until it is). Forwarded
 * requests promise nothing either, and tell no term. Everything else waits. */
static bool may_send_now(const struct raft *r, uint8_t type)
{
    ASSERT(r->durable_term <= r->term);
    if (is_termless(type))
        return true;
    return r->state == RAFT_LEADER && r->durable_term == r->term &&
           (type == RAFT_MSG_APP || type == RAFT_MSG_HEARTBEAT || type == RAFT_MSG_SNAP ||
            type == RAFT_MSG_TIMEOUT_NOW || type == RAFT_MSG_READ_INDEX_RESP);
}

bool raft_can_send(const struct raft *r, uint8_t type)
{
    const struct raft_outbox *o = r->pending;
    ASSERT(o->n_now <= RAFT_MSGS_MAX && o->n_after <= RAFT_MSGS_MAX);
    return (may_send_now(r, type) ? o->n_now : o->n_after) < RAFT_MSGS_MAX;
}

struct raft_msg *raft_send(struct raft *r, const struct raft_msg *m)
{
    ASSERT(m->to != RAFT_NONE && m->to != r->cfg.id);
    ASSERT(is_vote_type(m->type) ? m->term != 0 : m->term == 0);
    struct raft_outbox *o = r->pending;
    bool now = may_send_now(r, m->type);
    uint32_t *n = now ? &o->n_now : &o->n_after;
    if (*n == RAFT_MSGS_MAX) {
        r->msgs_dropped++;
        return NULL;
    }
    struct raft_msg *out = now ? &o->now[*n] : &o->after[*n];
    (*n)++;
    *out = *m;
    out->from = r->cfg.id;
    if (!is_vote_type(m->type) && !is_termless(m->type))
        out->term = r->term;
    return out;
}

/* ---- inputs ----------------------------------------------------------------------------- */

static void tick_election(struct raft *r)
{
    ASSERT(r->state != RAFT_LEADER);
    r->election_elapsed++;
    if (raft_promotable(r) && r->election_elapsed >= r->randomized_election_timeout) {
        r->election_elapsed = 0;
        raft_hup(r, false);
    }
}

static void check_quorum(struct raft *r)
{
    ASSERT(r->state == RAFT_LEADER && r->cfg.check_quorum);
    if (!raft_tracker_quorum_active(&r->tracker, r->cfg.id)) {
        raft_event(r, "%" PRIx64 " stepped down to follower since quorum is not active", r->cfg.id);
        raft_become_follower(r, r->term, RAFT_NONE);
    }
    for (uint32_t i = 0; i < r->tracker.n; i++)
        if (r->tracker.progress[i].id != r->cfg.id)
            r->tracker.progress[i].recent_active = false;
}

static void tick_heartbeat(struct raft *r)
{
    ASSERT(r->state == RAFT_LEADER);
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->election_elapsed >= r->cfg.election_ticks) {
        r->election_elapsed = 0;
        if (r->cfg.check_quorum)
            check_quorum(r);
        if (r->state == RAFT_LEADER)
            raft_transfer_timeout(r);
    }
    if (r->state != RAFT_LEADER)
        return;
    if (r->heartbeat_elapsed >= r->cfg.heartbeat_ticks) {
        r->heartbeat_elapsed = 0;
        raft_bcast_heartbeat(r, 0);
    }
}

void raft_tick(struct raft *r)
{
    ASSERT(r->restored);
    if (r->state == RAFT_LEADER)
        tick_heartbeat(r);
    else
        tick_election(r);
    raft_check(r);
}

int raft_campaign(struct raft *r)
{
    ASSERT(r->restored);
    if (r->state == RAFT_LEADER)
        return 0;
    if (!raft_promotable(r))
        return -RINGD_ENOT_CAPABLE;
    raft_hup(r, false);
    raft_check(r);
    return 0;
}

static int step_leader(struct raft *r, const struct raft_msg *m)
{
    /* A pre-vote granted for the term we would have campaigned in can come late. */
    ASSERT(r->state == RAFT_LEADER && m->term >= r->term);
    switch (m->type) {
    case RAFT_MSG_APP_RESP:
        return raft_handle_append_resp(r, m);
    case RAFT_MSG_HEARTBEAT_RESP:
        raft_handle_heartbeat_resp(r, m);
        return 0;
    default:
        return 0;
    }
}

static int step_candidate(struct raft *r, const struct raft_msg *m)
{
    ASSERT(r->state == RAFT_CANDIDATE || r->state == RAFT_PRE_CANDIDATE);
    ASSERT(m->term >= r->term);
    uint8_t my_resp = r->state == RAFT_PRE_CANDIDATE ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP;
    switch (m->type) {
    case RAFT_MSG_APP:
        raft_become_follower(r, m->term, m->from);
        return raft_handle_append(r, m);
    case RAFT_MSG_HEARTBEAT:
        raft_become_follower(r, m->term, m->from);
        raft_handle_heartbeat(r, m);
        return 0;
    case RAFT_MSG_SNAP:
        raft_become_follower(r, m->term, m->from);
        return raft_handle_snapshot(r, m);
    default:
        if (m->type == my_resp)
            raft_handle_vote_resp(r, m);
        return 0;
    }
}

static int step_follower(struct raft *r, const struct raft_msg *m)
{
    ASSERT(r->state == RAFT_FOLLOWER && m->term >= r->term);
    switch (m->type) {
    case RAFT_MSG_APP:
        r->election_elapsed = 0;
        r->leader = m->from;
        return raft_handle_append(r, m);
    case RAFT_MSG_HEARTBEAT:
        r->election_elapsed = 0;
        r->leader = m->from;
        raft_handle_heartbeat(r, m);
        return 0;
    case RAFT_MSG_SNAP:
        r->election_elapsed = 0;
        r->leader = m->from;
        return raft_handle_snapshot(r, m);
    case RAFT_MSG_TIMEOUT_NOW:
        raft_event(r,
                   "%" PRIx64 " [term %" PRIu64 "] received MsgTimeoutNow from %" PRIx64
                   " and starts an election to get leadership",
                   r->cfg.id, r->term, m->from);
        if (raft_promotable(r))
            raft_hup(r, true);
        return 0;
    case RAFT_MSG_READ_INDEX_RESP:
        raft_handle_read_index_resp(r, m);
        return 0;
    default:
        return 0;
    }
}

/* Forwarded requests skip the term checks: they carry no term. */
static int step_termless(struct raft *r, const struct raft_msg *m)
{
    ASSERT(m->term == 0 && is_termless(m->type));
    if (m->type == RAFT_MSG_PROP)
        return raft_handle_prop(r, m);
    raft_handle_read_index(r, m);
    return 0;
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
    ASSERT(r->restored);
    if (m->type >= RAFT_MSG_TYPES || m->from == RAFT_NONE || m->from == r->cfg.id ||
        m->to != r->cfg.id || (m->n_entries > 0 && m->entries == NULL) ||
        (m->type == RAFT_MSG_SNAP && m->snapshot == NULL))
        return -EINVAL;
    if ((m->term == 0) != is_termless(m->type))
        return -EINVAL; /* every other message of ours carries a term */
    int rc = 0;
    if (is_termless(m->type))
        rc = step_termless(r, m);
    else if (!raft_step_term(r, m))
        return 0;
    else if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE)
        raft_handle_vote(r, m);
    else if (r->state == RAFT_LEADER)
        rc = step_leader(r, m);
    else if (r->state == RAFT_FOLLOWER)
        rc = step_follower(r, m);
    else
        rc = step_candidate(r, m);
    /* Every message's term is ours now, but a pre-vote's (the term it would campaign in). */
    ASSERT(r->term >= m->term || m->type == RAFT_MSG_PRE_VOTE || m->type == RAFT_MSG_PRE_VOTE_RESP);
    raft_check(r);
    return rc;
}

/* ---- reports from the transport --------------------------------------------------------- */

void raft_report_unreachable(struct raft *r, raft_id id)
{
    ASSERT(r->restored);
    struct raft_progress *p = raft_tracker_get(&r->tracker, id);
    if (r->state != RAFT_LEADER || p == NULL || id == r->cfg.id)
        return;
    if (p->state == RAFT_PROGRESS_REPLICATE)
        raft_progress_become_probe(p);
    ASSERT(p->match < p->next);
}

void raft_report_snapshot(struct raft *r, raft_id id, bool ok)
{
    ASSERT(r->restored);
    struct raft_progress *p = raft_tracker_get(&r->tracker, id);
    if (r->state != RAFT_LEADER || p == NULL || p->state != RAFT_PROGRESS_SNAPSHOT)
        return;
    if (!ok)
        p->pending_snapshot = 0;
    raft_progress_become_probe(p);
    /* Wait for a heartbeat response before probing (etcd: MsgAppFlowPaused). */
    p->probe_sent = true;
    raft_event(r, "%" PRIx64 " snapshot %s, resumed sending replication messages to %" PRIx64,
               r->cfg.id, ok ? "succeeded" : "failed", id);
}

/* ---- Ready ------------------------------------------------------------------------------ */

static struct raft_hard_state hard_state(const struct raft *r)
{
    return (struct raft_hard_state){.term = r->term, .vote = r->vote, .commit = r->log.committed};
}

static bool hard_state_equal(const struct raft_hard_state *a, const struct raft_hard_state *b)
{
    return a->term == b->term && a->vote == b->vote && a->commit == b->commit;
}

/* The last entry that may be applied: committed and durable here. */
static raft_index apply_limit(const struct raft *r)
{
    raft_index limit = r->log.committed < r->log.stable ? r->log.committed : r->log.stable;
    ASSERT(limit >= r->log.applied);
    return limit;
}

/* A leader sends new entries and commit to followers once per Ready, so that every proposal
 * of a turn goes out in as few MsgApps as fit. */
static void flush_bcast(struct raft *r)
{
    ASSERT(!r->ready_out);
    if (r->bcast_pending && r->state == RAFT_LEADER)
        raft_bcast_append(r);
    r->bcast_pending = false;
    if (r->state == RAFT_LEADER)
        raft_read_flush(r); /* one heartbeat round for every read since the last Ready */
}

bool raft_has_ready(struct raft *r)
{
    ASSERT(r->restored);
    if (r->ready_out)
        return false;
    flush_bcast(r);
    struct raft_hard_state hs = hard_state(r);
    const struct raft_outbox *o = r->pending;
    return r->state != r->prev_state || r->leader != r->prev_leader ||
           !hard_state_equal(&hs, &r->prev_hs) || r->log.last > r->log.stable ||
           r->log.applied < apply_limit(r) || o->n_now > 0 || o->n_after > 0 || o->n_reads > 0 ||
           r->install_pending;
}

static void ready_state(struct raft *r, struct raft_ready *rd)
{
    rd->state = r->state;
    rd->leader = r->leader;
    rd->soft_state_changed = r->state != r->prev_state || r->leader != r->prev_leader;
    r->prev_state = r->state;
    r->prev_leader = r->leader;
    struct raft_hard_state hs = hard_state(r);
    ASSERT(hs.commit <= r->log.last); /* what is persisted with it reaches last */
    if (!hard_state_equal(&hs, &r->prev_hs)) {
        rd->has_hard_state = true;
        rd->hard_state = hs;
        rd->must_sync = hs.term != r->prev_hs.term || hs.vote != r->prev_hs.vote;
        ASSERT(hs.term >= r->prev_hs.term && hs.commit >= r->prev_hs.commit);
        r->prev_hs = hs;
    }
    if (r->install_pending) {
        r->install_handed = r->install;
        rd->snapshot = &r->install_handed;
        rd->must_sync = true;
        r->install_pending = false;
    }
}

static void ready_entries(struct raft *r, struct raft_ready *rd)
{
    const struct raft_log *l = &r->log;
    uint64_t n = l->last - l->stable;
    ASSERT(n <= r->cfg.log_entries_max);
    for (uint64_t i = 0; i < n; i++)
        raft_log_entry(l, l->stable + 1 + i, &r->ready_entries[i], NULL);
    ASSERT(n == 0 || r->ready_entries[n - 1].index == l->last);
    rd->entries = r->ready_entries;
    rd->n_entries = (uint32_t)n;
    rd->must_sync = rd->must_sync || n > 0;
    r->ready_stable_to = l->last;
}

static void ready_committed(struct raft *r, struct raft_ready *rd)
{
    const struct raft_log *l = &r->log;
    raft_index limit = apply_limit(r);
    uint64_t bytes = 0;
    uint32_t n = 0;
    for (raft_index i = l->applied + 1; i <= limit && n < RAFT_APPLY_ENTRIES_MAX; i++) {
        struct raft_entry *e = &r->ready_committed[n];
        raft_log_entry(l, i, e, NULL);
        if (n > 0 && bytes + e->len > r->cfg.apply_bytes_max)
            break;
        bytes += e->len;
        n++;
        if (e->type == RAFT_ENTRY_CONF_CHANGE)
            r->conf_handed_index = e->index; /* the caller applies it: raft_conf_unapplied */
    }
    ASSERT(n == 0 || r->ready_committed[n - 1].index == l->applied + n);
    rd->committed = r->ready_committed;
    rd->n_committed = n;
    r->ready_applied_to = l->applied + n;
    ASSERT(r->ready_applied_to <= l->stable);
    r->ready_pin = UINT64_MAX;
    if (l->applied < l->last)
        raft_log_entry(l, l->applied + 1, &(struct raft_entry){0}, &r->ready_pin);
}

static void outbox_clear(struct raft_outbox *o)
{
    ASSERT(o->n_now <= RAFT_MSGS_MAX && o->n_after <= RAFT_MSGS_MAX);
    ASSERT(o->n_ents <= RAFT_OUTBOX_ENTRIES_MAX);
    o->n_now = 0;
    o->n_after = 0;
    o->n_ents = 0;
    o->n_reads = 0;
    o->n_fwd = 0;
    o->prop = NULL;
    o->has_snap = false;
    o->pin_pos = UINT64_MAX;
}

static void ready_outbox(struct raft *r, struct raft_ready *rd)
{
    struct raft_outbox *o = r->pending;
    ASSERT(o != r->handed);
    ASSERT(r->handed->n_now == 0 && r->handed->n_after == 0 && r->handed->n_reads == 0);
    r->pending = r->handed;
    r->handed = o;
    outbox_clear(r->pending);
    rd->msgs_send_now = o->now;
    rd->n_msgs_send_now = o->n_now;
    rd->msgs_after_persist = o->after;
    rd->n_msgs_after_persist = o->n_after;
    rd->read_states = o->reads;
    rd->n_read_states = o->n_reads;
}

void raft_ready(struct raft *r, struct raft_ready *rd)
{
    ASSERT(r->restored && !r->ready_out);
    flush_bcast(r);
    memset(rd, 0, sizeof(*rd));
    ready_state(r, rd);
    ready_entries(r, rd);
    ready_committed(r, rd);
    ready_outbox(r, rd);
    r->ready_out = true;
    update_pin(r);
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
    ASSERT(r->ready_out);
    ASSERT(rd->msgs_send_now == r->handed->now && rd->n_msgs_send_now == r->handed->n_now);
    struct raft_log *l = &r->log;
    if (r->ready_stable_to > l->stable)
        l->stable = r->ready_stable_to;
    if (r->ready_applied_to > l->applied)
        l->applied = r->ready_applied_to;
    if (rd->has_hard_state)
        r->durable_term = rd->hard_state.term;
    ASSERT(r->durable_term <= r->term);
    /* >=: a joining member installs the cluster's first snapshot, at index 0 too. */
    if (rd->snapshot != NULL && rd->snapshot->index >= r->snapshot.index)
        r->snapshot = *rd->snapshot;
    outbox_clear(r->handed);
    r->ready_pin = UINT64_MAX;
    r->ready_out = false;
    update_pin(r);
    if (r->state == RAFT_LEADER) {
        /* The leader's own acknowledgement: its copy is durable now. */
        struct raft_progress *self = raft_tracker_get(&r->tracker, r->cfg.id);
        ASSERT(self != NULL);
        raft_progress_maybe_update(self, l->stable);
        raft_maybe_commit(r);
    }
    raft_check(r);
}

int raft_compact(struct raft *r, const struct raft_snapshot_meta *snap, raft_index compact_to)
{
    ASSERT(r->restored && !r->ready_out);
    ASSERT(snap->index <= r->log.applied && compact_to <= snap->index);
    ASSERT(raft_conf_validate(&snap->conf) == 0);
    raft_term t = 0;
    ASSERT(!raft_log_term(&r->log, snap->index, &t) || t == snap->term);
    if (snap->index > r->snapshot.index)
        r->snapshot = *snap;
    if (compact_to > r->log.snap_index)
        raft_log_compact(&r->log, compact_to);
    raft_check(r);
    return 0;
}

/* ---- status and names ------------------------------------------------------------------- */

void raft_status(const struct raft *r, struct raft_status *st)
{
    memset(st, 0, sizeof(*st));
    st->id = r->cfg.id;
    st->leader = r->leader;
    st->lead_transferee = r->lead_transferee;
    st->state = r->state;
    st->hard_state = hard_state(r);
    st->applied = r->log.applied;
    st->first = raft_log_first(&r->log);
    st->last = r->log.last;
    st->persisted = r->log.stable;
    st->msgs_dropped = r->msgs_dropped;
    st->conf = r->tracker.conf;
    st->n_members = r->tracker.n;
    ASSERT(st->n_members <= RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < r->tracker.n; i++) {
        const struct raft_progress *p = &r->tracker.progress[i];
        st->members[i] = (struct raft_member_status){
            .id = p->id,
            .learner = p->learner,
            .recent_active = p->recent_active,
            .paused = raft_progress_is_paused(p),
            .state = p->state,
            .match = p->match,
            .next = p->next,
            .inflight_msgs = p->inflights.count,
        };
    }
}

const char *raft_state_name(enum raft_state s)
{
    static const char *const names[] = {"StateFollower", "StateCandidate", "StateLeader",
                                        "StatePreCandidate"};
    ASSERT((unsigned)s < sizeof(names) / sizeof(names[0]));
    return names[s];
}

const char *raft_msg_type_name(enum raft_msg_type t)
{
    static const char *const names[RAFT_MSG_TYPES] = {
        "MsgApp",         "MsgAppResp",       "MsgVote",      "MsgVoteResp",      "MsgPreVote",
        "MsgPreVoteResp", "MsgSnap",          "MsgHeartbeat", "MsgHeartbeatResp", "MsgTimeoutNow",
        "MsgReadIndex",   "MsgReadIndexResp", "MsgProp",
    };
    ASSERT((unsigned)t < RAFT_MSG_TYPES);
    return names[t];
}

const char *raft_progress_state_name(uint8_t s)
{
    static const char *const names[] = {"StateProbe", "StateReplicate", "StateSnapshot"};
    ASSERT(s < sizeof(names) / sizeof(names[0]));
    return names[s];
}

const char *raft_entry_type_name(uint8_t t)
{
    ASSERT(t <= RAFT_ENTRY_CONF_CHANGE);
    return t == RAFT_ENTRY_NORMAL ? "EntryNormal" : "EntryConfChange";
}

void raft_check(const struct raft *r)
{
    const struct raft_log *l = &r->log;
    raft_log_check(l);
    ASSERT(r->term >= raft_log_last_term(l));
    ASSERT(r->state != RAFT_LEADER || (r->leader == r->cfg.id && r->vote == r->cfg.id));
    ASSERT(r->state != RAFT_CANDIDATE || r->vote == r->cfg.id);
    /* The durability rule: a member that is its own quorum commits only what it persisted. */
    if (r->state == RAFT_LEADER && r->tracker.conf.n_voters == 1)
        ASSERT(l->committed <= l->stable);
    ASSERT(!r->ready_out || r->ready_applied_to <= l->committed);
    /* A leader is a voter of the configuration it leads: one that removed itself stepped down. */
    ASSERT(r->state != RAFT_LEADER || raft_tracker_is_voter(&r->tracker, r->cfg.id));
    ASSERT(r->lead_transferee == RAFT_NONE ||
           (r->state == RAFT_LEADER && raft_tracker_is_voter(&r->tracker, r->lead_transferee)));
    ASSERT(r->conf_handed_index <= l->committed && r->conf_index <= l->committed);
    /* The acknowledgements' invariant (drop_acks_above), as far as it is cheap to see. */
    for (uint32_t i = 0; i < r->pending->n_after; i++) {
        const struct raft_msg *m = &r->pending->after[i];
        ASSERT(m->type != RAFT_MSG_APP_RESP || m->reject || m->index <= l->last);
    }
}
