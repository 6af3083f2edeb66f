/* The raft actor; see raft_actor.h. One Ready is out at a time: its entries and hard state are
 * appended to the WAL and flushed, its committed entries go to the apply actor at once (they are
 * durable already), and raft_advance follows the WAL's durable report. Proposals arriving
 * meanwhile go into the core and come out in the next Ready, which is how many client writes
 * share one fdatasync. A Ready whose hard state only moved the commit index is not synced (etcd
 * does the same): a restart recommits those entries. */
#include "raft_actor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "members.h"
#include "raft_actor_conf.h"
#include "raft_actor_internal.h"
#include "raft_actor_read.h"
#include "runtime.h"
#include "ringd_assert.h"
#include "ringd_error.h"

static struct raft_actor *raft_actor_of(struct actor *a)
{
    return a->ctx;
}

static void raft_actor_process(struct raft_actor *ra);

/* The turn: what gathered in this loop turn (proposals, a free batch, an advance) becomes the
 * next Ready. Timers run after the mailboxes are drained, so one Ready takes the whole turn. */
static void raft_actor_turn_fired(struct timer *t, uint64_t now_ns)
{
    (void)now_ns;
    raft_actor_process((struct raft_actor *)((char *)t - offsetof(struct raft_actor, turn)));
}

void raft_actor_arm_turn(struct raft_actor *ra)
{
    if (timer_armed(&ra->turn))
        return;
    int err = actor_timer_start(ra->actor, &ra->turn, 0, raft_actor_turn_fired);
    ASSERT(err == 0); /* two timers */
}

/* Answers a proposal the log did not take (or that another leader's entry replaced). */
void raft_actor_refuse(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p, int err)
{
    p->err = err;
    p->response = NULL;
    struct msg m = {.type = MSG_KV_APPLIED, .ptr = p};
    int rc = outbox_send(&ra->replies[shard], ra->actor, &m);
    ASSERT(rc == 0); /* a shard has at most SHARD_PROPOSALS_MAX proposals out */
}

int raft_actor_propose_err(int err)
{
    switch (-err) {
    case RINGD_EFULL:
    case RINGD_EREQUEST_TOO_LARGE:
        return -RINGD_ETOO_MANY_REQUESTS; /* etcd: applied too far behind committed */
    default:
        return err;
    }
}

/* The next request id, etcd's idutil layout: the member id's low 16 bits, then a counter that
 * starts at the start's unix time in milliseconds shifted left by 8 (48 bits, wrapping), so ids
 * differ between members and between starts of one member. Never 0. */
uint64_t raft_actor_next_id(struct raft_actor *ra)
{
    if (ra->next_id == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        ra->next_id = (ra->view->member_id << 48) | ((ms << 8) & ((1ull << 48) - 1));
    }
    uint64_t prefix = ra->next_id & ~((1ull << 48) - 1);
    do
        ra->next_id = prefix | ((ra->next_id + 1) & ((1ull << 48) - 1));
    while (ra->next_id == 0);
    return ra->next_id;
}

static void raft_actor_ask_snapshot(struct raft_actor *ra)
{
    if (ra->snap_asked)
        return;
    ra->snap_asked = true;
    struct msg ask = {.type = MSG_SNAPSHOT_ASK};
    int rc = actor_send(ra->actor, ra->apply_id, &ask);
    ASSERT(rc == 0); /* one ask out at a time */
}

/* The window keeps RAFT_ACTOR_RESERVED_ENTRIES free for the actor's own entries (a restart
 * with a full log must still elect itself and publish), and asks for a snapshot once half of
 * it is used: well before it fills, whatever delays the apply actor's own schedule. */
static bool raft_actor_window_room(struct raft_actor *ra)
{
    uint64_t used = ra->log_last - ra->log_first;
    if (2 * used >= ra->window)
        raft_actor_ask_snapshot(ra);
    return used + RAFT_ACTOR_RESERVED_ENTRIES < ra->window;
}

/* A shard's proposal: the entry gets its request id and goes into the log (a follower forwards
 * it to the leader, and its index is known only once committed). */
static void raft_actor_propose(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p)
{
    ASSERT(p->entry_len >= KV_ENTRY_HEADER_BYTES);
    if (ra->stopping && (ra->members.count > 1 || ra->installing)) {
        raft_actor_refuse(ra, shard, p, -RINGD_ESTOPPED); /* raft_actor_stop says why */
        return;
    }
    if (raft_actor_conf_request(ra, shard, p))
        return; /* membership and leadership transfer (raft_actor_conf.h) */
    raft_index index = 0;
    int err = -RINGD_EFULL;
    uint64_t id = raft_actor_next_id(ra);
    le_put_u64(p->entry + 1, id);
    if (!proposal_routes_full(&ra->routes) && raft_actor_window_room(ra) &&
        (err = raft_propose(ra->raft, p->entry, p->entry_len, &index)) == -RINGD_EFULL)
        raft_actor_ask_snapshot(ra); /* the window's bytes: a snapshot lets it compact */
    if (err == -RINGD_ENO_LEADER && !ra->stopping) {
        /* As etcd's node holds proposals while it knows no leader: it waits for one (or its
         * request timeout), proposed when raft_actor_propose_waiting finds a leader. */
        raft_actor_route(ra, id, 0, shard, p);
        proposal_routes_set_waiting(&ra->routes, id, true);
        return;
    }
    if (err < 0) {
        raft_actor_refuse(ra, shard, p, raft_actor_propose_err(err));
        return;
    }
    raft_actor_route(ra, id, index, shard, p);
}

/* A leader is known: the proposals that waited for one go into the log, oldest first; one the
 * log cannot take now is answered as a new proposal would be. */
static void raft_actor_propose_waiting(struct raft_actor *ra)
{
    struct apply_route r;
    uint64_t id = proposal_routes_next_waiting(&ra->routes, 0, &r);
    while (id != 0) {
        raft_index index = 0;
        int err = raft_propose(ra->raft, r.proposal->entry, r.proposal->entry_len, &index);
        if (err == -RINGD_ENO_LEADER)
            return; /* lost it again: they wait on */
        uint64_t next = proposal_routes_next_waiting(&ra->routes, id, &r);
        struct apply_route taken;
        if (err < 0 && proposal_routes_take(&ra->routes, id, &taken)) {
            raft_actor_refuse(ra, taken.shard, taken.proposal, raft_actor_propose_err(err));
        } else if (err == 0) {
            proposal_routes_set_waiting(&ra->routes, id, false);
            if (index > ra->log_last)
                ra->log_last = index;
        }
        id = next;
    }
    raft_actor_arm_turn(ra);
}

void raft_actor_route(struct raft_actor *ra, uint64_t id, raft_index index, uint16_t shard,
                      struct kv_proposal *p)
{
    if (index > ra->log_last)
        ra->log_last = index;
    struct apply_route r = {.index = index, .shard = shard, .proposal = p};
    proposal_routes_add(&ra->routes, id, &r, ra->ticks + ra->request_timeout_ticks);
    raft_actor_arm_turn(ra);
}

/* One of the actor's own entries (the window keeps room for them); *id_out is its request id.
 * The attributes entry carries the member's name and client URLs (core/members.h). */
static int raft_actor_propose_own(struct raft_actor *ra, enum raft_actor_entry kind,
                                  uint64_t *id_out)
{
    static uint8_t data[KV_ENTRY_HEADER_BYTES + RAFT_ACTOR_ATTRIBUTES_BYTES_MAX];
    data[0] = (uint8_t)kind;
    uint64_t id = raft_actor_next_id(ra);
    le_put_u64(data + 1, id);
    uint32_t len = KV_ENTRY_HEADER_BYTES;
    if (kind == RAFT_ACTOR_ENTRY_ATTRIBUTES)
        len += members_pack_attributes(ra->view->member_id, ra->view->name, ra->client_urls,
                                       ra->client_urls_count, data + len,
                                       RAFT_ACTOR_ATTRIBUTES_BYTES_MAX);
    raft_index index = 0;
    int err = raft_propose(ra->raft, data, len, &index);
    if (err < 0) {
        log_warn("could not propose the member's start-up entry", LOG_U64("window", ra->window),
                 LOG_U64("first-index", ra->log_first), LOG_U64("last-index", ra->log_last),
                 LOG_STR("error", ringd_strerror(err)));
        return err;
    }
    if (index > ra->log_last)
        ra->log_last = index;
    if (id_out != NULL)
        *id_out = id;
    return 0;
}

/* The member publishes its attributes once it knows a leader (etcd's publish), again each
 * request timeout until the entry commits; the leader of a new cluster also sets the version. */
static void raft_actor_publish_own(struct raft_actor *ra)
{
    if (ra->leader == RAFT_NONE || ra->serve_index != 0)
        return;
    if (ra->attr_id == 0 || ra->ticks >= ra->attr_deadline_tick) {
        if (raft_actor_propose_own(ra, RAFT_ACTOR_ENTRY_ATTRIBUTES, &ra->attr_id) == 0)
            ra->attr_deadline_tick = ra->ticks + ra->request_timeout_ticks;
    }
    if (ra->fresh && !ra->version_proposed && ra->leader == ra->view->member_id &&
        raft_actor_propose_own(ra, RAFT_ACTOR_ENTRY_VERSION, NULL) == 0)
        ra->version_proposed = true;
    raft_actor_arm_turn(ra);
}

/* Proposals that will not commit: their deadline passed, or another entry took their index. */
static void raft_actor_expire(struct raft_actor *ra)
{
    struct apply_route r;
    for (;;) {
        uint64_t deadline = proposal_routes_oldest_deadline(&ra->routes);
        if (!proposal_routes_expire(&ra->routes, ra->ticks, ra->committed, &r))
            return;
        /* etcd's parseProposeCtxErr: a request that started within two election timeouts
         * before the current leader was elected timed out because the last one failed. */
        uint64_t start = deadline - ra->request_timeout_ticks;
        bool leader_fail =
            start < ra->leader_tick && start + 2 * ra->election_ticks > ra->leader_tick;
        int err = r.index != 0 && r.index <= ra->committed ? -RINGD_ELEADER_CHANGED
                  : leader_fail                            ? -RINGD_ETIMEOUT_LEADER_FAIL
                                                           : -RINGD_ETIMEOUT;
        raft_actor_refuse(ra, r.shard, r.proposal, err);
    }
}

/* A member's attributes entry: the raft actor's members table learns its name too (the strict
 * reconfiguration checks count the members that published one). */
static void raft_actor_committed_attributes(struct raft_actor *ra, const struct raft_entry *e)
{
    if (e->type != RAFT_ENTRY_NORMAL || e->len <= KV_ENTRY_HEADER_BYTES ||
        e->data[0] != RAFT_ACTOR_ENTRY_ATTRIBUTES)
        return;
    (void)members_apply_attributes(&ra->members, e->data + KV_ENTRY_HEADER_BYTES,
                                   e->len - KV_ENTRY_HEADER_BYTES); /* the apply actor logs */
}

/* Hands the Ready's committed entries to the apply actor with the routes of those proposed
 * here, found by the request id in each entry. A proposal of this member whose index another
 * entry took lost it to another leader: it is refused. */
static void raft_actor_hand_committed(struct raft_actor *ra, const struct raft_ready *rd)
{
    if (rd->n_committed == 0)
        return;
    struct apply_batch *b = ra->batches_free;
    ASSERT(b != NULL && rd->n_committed <= RAFT_APPLY_ENTRIES_MAX);
    ra->batches_free = b->next;
    ra->batches_out++;
    b->n_entries = rd->n_committed;
    b->n_routes = 0;
    memcpy(b->entries, rd->committed, rd->n_committed * sizeof *rd->committed);
    for (uint32_t i = 0; i < rd->n_committed; i++) {
        const struct raft_entry *e = &rd->committed[i];
        uint64_t id = e->type == RAFT_ENTRY_CONF_CHANGE ? raft_actor_conf_committed(ra, e)
                                                        : kv_entry_id(e->data, e->len);
        struct apply_route r;
        raft_actor_committed_attributes(ra, e);
        if (id != 0 && id == ra->attr_id)
            ra->serve_index = e->index;
        else if (proposal_routes_take(&ra->routes, id, &r))
            b->routes[b->n_routes++] =
                (struct apply_route){.index = e->index, .shard = r.shard, .proposal = r.proposal};
    }
    ra->committed = rd->committed[rd->n_committed - 1].index;
    raft_actor_expire(ra);
    struct msg m = {.type = MSG_APPLY_ENTRIES, .ptr = b};
    int err = actor_send(ra->actor, ra->apply_id, &m);
    ASSERT(err == 0); /* the mailbox holds every batch */
}

/* Hands messages to the transport; one it cannot queue is lost as a network would lose it, and
 * raft probes that member again. */
static void raft_actor_send(struct raft_actor *ra, const struct raft_msg *msgs, uint32_t n)
{
    const struct raft_transport *t = &ra->transport;
    for (uint32_t i = 0; i < n; i++) {
        ASSERT(t->ops != NULL); /* a member with no transport has no peers to address */
        int err = t->ops->send(t->t, &msgs[i]);
        if (err < 0)
            raft_report_unreachable(ra->raft, msgs[i].to);
    }
}

static void raft_actor_publish(struct raft_actor *ra, const struct raft_ready *rd)
{
    if (rd->has_hard_state) {
        ra->term = rd->hard_state.term;
        cluster_view_set_raft_index(ra->view, rd->hard_state.commit);
    }
    if (rd->soft_state_changed || rd->has_hard_state)
        cluster_view_set_leader(ra->view, rd->leader, ra->term);
    if (rd->soft_state_changed) {
        if (rd->leader != RAFT_NONE && rd->leader != ra->leader)
            ra->leader_tick = ra->ticks;
        ra->leader = rd->leader;
        raft_actor_conf_leader(ra);
        if (ra->leader != RAFT_NONE)
            raft_actor_propose_waiting(ra);
    }
}

/* The next Ready comes at the end of the turn, not from inside a WAL callback: the WAL sends
 * the batch that gathered meanwhile when the callback returns, and the next Ready's records then
 * start a fresh one. */
static void raft_actor_advance(struct raft_actor *ra)
{
    if (ra->installing) {
        /* The snapshot and its marker are durable: start again on it (raft_actor.h). */
        log_info("installed a snapshot from the leader; restarting on it",
                 LOG_U64("snapshot-index", ra->ready.snapshot->index),
                 LOG_U64("snapshot-term", ra->ready.snapshot->term));
        atomic_store(&ra->restart_on_snapshot, true);
        ra->ready_out = false; /* never advanced: the core is left as it is */
        runtime_stop(ra->actor->rt);
        return;
    }
    /* The Ready is durable: its promises (votes, acknowledgements) may leave now. */
    raft_actor_send(ra, ra->ready.msgs_after_persist, ra->ready.n_msgs_after_persist);
    raft_advance(ra->raft, &ra->ready);
    ra->ready_out = false;
    raft_actor_publish_own(ra);
    raft_actor_arm_turn(ra);
}

/* The WAL refused an append: it stopped (its failed callback may not have come yet) or the
 * record can never fit. Nothing more may be acknowledged; etcd stops too. */
static _Noreturn void raft_actor_wal_fatal(struct raft_actor *ra, int err)
{
    const char *why = wal_error(ra->wal);
    log_fatal("failed to save Raft hard state and entries",
              LOG_STR("error", why[0] != '\0' ? why : ringd_strerror(err)));
}

/* Appends what is left of the Ready to the WAL; once all of it is appended, flushes it, or
 * advances at once when nothing in it needs a sync. A full WAL buffer waits for writable. */
/* A leader's snapshot: its marker goes first, so the WAL replays after it. The hard state
 * recorded with it commits at least the snapshot (the core's may still name the old commit). */
static void raft_actor_persist_snapshot(struct raft_actor *ra)
{
    const struct raft_snapshot_meta *snap = ra->ready.snapshot;
    struct wal_snapshot marker = {.index = snap->index, .term = snap->term};
    struct raft_hard_state hs =
        ra->ready.has_hard_state ? ra->ready.hard_state : (struct raft_hard_state){0};
    if (!ra->ready.has_hard_state) {
        struct raft_status st;
        raft_status(ra->raft, &st);
        hs = st.hard_state;
    }
    if (hs.commit < snap->index)
        hs.commit = snap->index;
    struct wal_hard_state whs = {.term = hs.term, .vote = hs.vote, .commit = hs.commit};
    int err = wal_append_snapshot(ra->wal, &marker);
    if (err == 0)
        err = wal_append_hard_state(ra->wal, &whs);
    if (err < 0)
        raft_actor_wal_fatal(ra, err); /* an empty batch has room for both */
    ra->installing = true;
    ra->wait_hs = true;
    ra->ready_hs_appended = true;
    ra->ready.hard_state = hs;
    ra->ready.has_hard_state = false; /* appended here */
}

static void raft_actor_persist(struct raft_actor *ra)
{
    const struct raft_ready *rd = &ra->ready;
    while (ra->ready_entries < rd->n_entries) {
        const struct raft_entry *e = &rd->entries[ra->ready_entries];
        struct wal_entry we = {.term = e->term,
                               .index = e->index,
                               .type = e->type,
                               .data = e->data,
                               .data_bytes = e->len};
        int err = wal_append_entry(ra->wal, &we);
        if (err == -RINGD_EFULL) {
            (void)wal_flush(ra->wal); /* a failure comes through the failed callback */
            return;
        }
        if (err < 0)
            raft_actor_wal_fatal(ra, err);
        ra->ready_entries++;
    }
    if (rd->has_hard_state && !ra->ready_hs_appended) {
        struct wal_hard_state hs = {.term = rd->hard_state.term,
                                    .vote = rd->hard_state.vote,
                                    .commit = rd->hard_state.commit};
        int err = wal_append_hard_state(ra->wal, &hs);
        if (err == -RINGD_EFULL) {
            (void)wal_flush(ra->wal);
            return;
        }
        if (err < 0)
            raft_actor_wal_fatal(ra, err);
        ra->ready_hs_appended = true;
    }
    if (!ra->wait_entries && !ra->wait_hs) {
        raft_actor_advance(ra); /* a commit-only hard state goes with the next batch */
        return;
    }
    (void)wal_flush(ra->wal);
}

/* A durable snapshot: the window forgets what is below it (but the catch-up entries), the
 * WAL gets its marker, and the segments below it go once the marker is durable. The WAL has at
 * most one batch in flight: the marker is durable at the second report from now. */
static void raft_actor_compact(struct raft_actor *ra)
{
    ra->snap_pending = false;
    ra->snap_asked = false;
    raft_index to = ra->snap.index > RAFT_ACTOR_CATCH_UP_ENTRIES
                        ? ra->snap.index - RAFT_ACTOR_CATCH_UP_ENTRIES
                        : 0;
    int err = raft_compact(ra->raft, &ra->snap, to);
    ASSERT(err == 0);
    if (to > ra->log_first)
        ra->log_first = to;
    struct wal_snapshot marker = {.index = ra->snap.index, .term = ra->snap.term};
    err = wal_append_snapshot(ra->wal, &marker);
    if (err == -RINGD_EFULL)
        return; /* the next snapshot's marker covers this one */
    if (err < 0)
        raft_actor_wal_fatal(ra, err);
    (void)wal_flush(ra->wal);
    ra->release_index = ra->snap.index;
    ra->release_wait = 2;
    log_info("compacted Raft logs", LOG_U64("compact-index", to),
             LOG_U64("snapshot-index", ra->snap.index));
}

static void raft_actor_release(struct raft_actor *ra)
{
    int n = wal_release_before(ra->wal, ra->release_index, ra->max_wals);
    if (n < 0)
        log_warn("failed to remove old WAL segments", LOG_STR("wal-dir", ra->wal_dir), LOG_ERR(n));
    else if (n > 0)
        log_info("removed old WAL segments", LOG_STR("wal-dir", ra->wal_dir),
                 LOG_U64("removed", (uint64_t)n), LOG_U64("below-index", ra->release_index));
}

static void raft_actor_process(struct raft_actor *ra)
{
    if (ra->snap_pending && !ra->ready_out)
        raft_actor_compact(ra);
    raft_actor_read_start(ra);
    if (ra->ready_out || ra->batches_free == NULL || ra->installing || !raft_has_ready(ra->raft))
        return;
    struct raft_ready *rd = &ra->ready;
    raft_ready(ra->raft, rd);
    ra->ready_out = true;
    ra->ready_entries = 0;
    ra->ready_hs_appended = false;
    ra->wait_entries = rd->n_entries > 0;
    ra->wait_hs = rd->has_hard_state && rd->must_sync;
    raft_actor_publish(ra, rd);
    if (rd->n_entries > 0 && rd->entries[rd->n_entries - 1].index > ra->log_last)
        ra->log_last = rd->entries[rd->n_entries - 1].index;
    /* The leader's own traffic leaves while its log is written (pipelining). */
    raft_actor_send(ra, rd->msgs_send_now, rd->n_msgs_send_now);
    if (rd->snapshot != NULL) {
        /* The state machine is replaced at the restart; what commits after the snapshot is
         * applied then, from the WAL. */
        raft_actor_persist_snapshot(ra);
    } else {
        raft_actor_hand_committed(ra, rd);
        raft_actor_read_answered(ra, rd->read_states, rd->n_read_states);
    }
    raft_actor_persist(ra);
}

/* WAL callbacks. */

static void raft_actor_wal_durable(void *ctx, const struct wal_durable *d)
{
    struct raft_actor *ra = ctx;
    if (ra->release_wait > 0 && --ra->release_wait == 0)
        raft_actor_release(ra);
    if (!ra->ready_out)
        return;
    const struct raft_ready *rd = &ra->ready;
    if (ra->wait_entries && ra->ready_entries == rd->n_entries &&
        d->last_index >= rd->entries[rd->n_entries - 1].index)
        ra->wait_entries = false;
    if (ra->wait_hs && ra->ready_hs_appended && d->has_hard_state &&
        d->hard_state.term == rd->hard_state.term && d->hard_state.vote == rd->hard_state.vote &&
        d->hard_state.commit == rd->hard_state.commit)
        ra->wait_hs = false;
    if (!ra->wait_entries && !ra->wait_hs)
        raft_actor_advance(ra);
}

static void raft_actor_wal_failed(void *ctx, int err, const char *message)
{
    (void)ctx;
    (void)err; /* message names it */
    /* etcd stops here too: nothing appended since the last durable report may be acknowledged,
     * and a member that cannot write its log cannot take part. */
    log_fatal("failed to save Raft hard state and entries", LOG_STR("error", message));
}

static void raft_actor_wal_writable(void *ctx)
{
    struct raft_actor *ra = ctx;
    if (ra->ready_out)
        raft_actor_persist(ra);
}

/* Start-up. */

static int raft_actor_replay_entry(void *ctx, const struct wal_entry *e)
{
    struct raft_actor *ra = ctx;
    struct raft_entry re = {
        .term = e->term, .index = e->index, .type = e->type, .data = e->data, .len = e->data_bytes};
    return raft_restore_entries(ra->raft, &re, 1);
}

static void raft_actor_on_event(void *ctx, const char *line)
{
    (void)ctx;
    log_info(line);
}

/* A new cluster: one members entry per initial member at indexes 1..n of term 1, committed, as
 * etcd's StartNode writes its ConfChangeAddNode entries, recorded in the WAL before anything
 * else. */
static int raft_actor_bootstrap(struct raft_actor *ra, struct raft_hard_state *hs)
{
    uint32_t n = ra->view->ids.members_count;
    for (uint32_t i = 1; i <= n; i++) {
        uint8_t data[KV_ENTRY_HEADER_BYTES] = {RAFT_ACTOR_ENTRY_MEMBERS};
        struct raft_entry e = {.term = 1, .index = i, .data = data, .len = sizeof data};
        int err = raft_restore_entries(ra->raft, &e, 1);
        struct wal_entry we = {.term = 1, .index = i, .data = data, .data_bytes = sizeof data};
        if (err < 0 || (err = wal_append_entry(ra->wal, &we)) < 0)
            return err;
    }
    *hs = (struct raft_hard_state){.term = 1, .commit = n};
    struct wal_hard_state whs = {.term = 1, .commit = n};
    return wal_append_hard_state(ra->wal, &whs);
}

/* The members in force as of the last committed entry. */
static void raft_actor_conf(const struct raft_actor *ra, struct raft_conf_state *conf)
{
    *conf = (struct raft_conf_state){0};
    for (uint32_t i = 0; i < ra->members.count; i++) {
        const struct member_info *m = &ra->members.items[i];
        if (m->is_learner)
            conf->learners[conf->n_learners++] = m->id;
        else
            conf->voters[conf->n_voters++] = m->id;
    }
}

/* The log window: the entries between two snapshots, the catch-up entries kept below one, and
 * every proposal the shards may have out, rounded up to a power of two; a --snapshot-count too
 * large for RAFT_LOG_ENTRIES_MAX gets the largest window, which asks for snapshots when full. */
static uint32_t raft_actor_window(uint64_t snapshot_count, uint16_t shards)
{
    uint64_t need =
        snapshot_count + RAFT_ACTOR_CATCH_UP_ENTRIES + (uint64_t)shards * SHARD_PROPOSALS_MAX;
    uint32_t w = RAFT_ACTOR_WINDOW_MIN;
    while (w < need && w < RAFT_LOG_ENTRIES_MAX)
        w *= 2;
    return w;
}

/* A member that joined a running cluster and has no snapshot yet: it knows no configuration
 * (the raft core's joining mode) and waits for the leader's snapshot, which names the members;
 * it installs it by restarting on it. */
static bool raft_actor_joining(const struct raft_actor *ra)
{
    return ra->view->ids.join && ra->snapshot_index == 0;
}

/* One voter elects itself now and publishes its attributes (and, new, the version) at once.
 * Members of a larger cluster wait for an election timeout, fast-forwarded as etcd's
 * --initial-election-tick-advance does so the first election does not wait a whole timeout.
 * A joining member does neither: it is no voter yet. */
static bool raft_actor_leads(const struct raft_actor *ra)
{
    static struct raft_status st; /* large; the raft actor's thread only */
    raft_status(ra->raft, &st);
    return st.state == RAFT_LEADER;
}

static void raft_actor_elect(struct raft_actor *ra)
{
    if (raft_actor_joining(ra))
        return;
    uint32_t voters = 0;
    for (uint32_t i = 0; i < ra->members.count; i++)
        voters += !ra->members.items[i].is_learner;
    const struct member_info *self = members_find(&ra->members, ra->view->member_id);
    /* The only voter (as of the snapshot: the core refuses while later membership entries wait
     * to be applied, and the clock elects then) leads at once. */
    if (voters == 1 && self != NULL && !self->is_learner && raft_campaign(ra->raft) == 0 &&
        raft_actor_leads(ra)) {
        ra->leader = ra->view->member_id;
        raft_actor_publish_own(ra);
        return;
    }
    if (ra->election_tick_advance)
        for (uint32_t i = 1; i < ra->election_ticks; i++)
            raft_tick(ra->raft);
}

/* The core, with the window sized for --snapshot-count, restored to the loaded snapshot. */
static int raft_actor_create_core(struct raft_actor *ra)
{
    struct raft_config c;
    raft_config_default(&c, ra->view->member_id);
    c.election_ticks = ra->election_ticks;
    c.pre_vote = ra->pre_vote;
    c.check_quorum = true; /* etcd's server always runs raft with CheckQuorum */
    c.log_entries_max = raft_actor_window(ra->snapshot_count, ra->shards);
    ra->window = c.log_entries_max;
    c.log_bytes_max = RAFT_ACTOR_WINDOW_BYTES;
    c.seed = ra->view->member_id ^ actor_now_ns();
    c.on_event = raft_actor_on_event;
    ra->raft = raft_create(&c);
    if (ra->raft == NULL)
        return -ENOMEM;
    if (ra->snapshot_members != NULL && ra->snapshot_members->count > 0)
        ra->members = *ra->snapshot_members;
    else
        members_init(&ra->members, &ra->view->ids);
    raft_actor_conf_publish(ra);
    struct raft_snapshot_meta snap = {.index = ra->snapshot_index, .term = ra->snapshot_term};
    if (!raft_actor_joining(ra))
        raft_actor_conf(ra, &snap.conf); /* joining: none (raft_actor_joining) */
    return raft_restore_snapshot(ra->raft, &snap);
}

/* Opens the WAL, replaying its entries after the loaded snapshot into the core. */
static int raft_actor_open_wal(struct raft_actor *ra, struct wal_recovery *rec)
{
    struct wal_callbacks cb = {.ctx = ra,
                               .durable = raft_actor_wal_durable,
                               .failed = raft_actor_wal_failed,
                               .writable = raft_actor_wal_writable};
    /* Replay after the snapshot loaded, even when the WAL's marker names a newer one (the newer
     * file was bad or lost): the WAL refuses if the entries since are gone. */
    ra->wal_options.replay_after_set = true;
    ra->wal_options.replay_after = ra->snapshot_index;
    int err = wal_open(&ra->wal, ra->wal_dir, &ra->wal_options, &ra->actor->loop, &cb, rec,
                       raft_actor_replay_entry, ra);
    if (err < 0) {
        log_error("failed to open the WAL", LOG_STR("wal-dir", ra->wal_dir),
                  LOG_STR("error", rec->message[0] ? rec->message : ringd_strerror(err)));
        return err;
    }
    if (rec->message[0] != '\0')
        log_warn("repaired the WAL", LOG_STR("wal-dir", ra->wal_dir),
                 LOG_STR("detail", rec->message));
    return 0;
}

static int raft_actor_open(struct raft_actor *ra)
{
    static struct wal_recovery rec; /* one raft actor; large (messages) */
    int err = raft_actor_create_core(ra);
    if (err < 0 || (err = raft_actor_open_wal(ra, &rec)) < 0)
        return err;
    struct raft_hard_state hs = {0};
    if (rec.has_hard_state)
        hs = (struct raft_hard_state){.term = rec.hard_state.term,
                                      .vote = rec.hard_state.vote,
                                      .commit = rec.hard_state.commit};
    /* A member that joined never bootstraps: the cluster exists, and its log comes with the
     * leader's snapshot. */
    bool fresh = !rec.has_hard_state && rec.last_index == 0 && ra->snapshot_index == 0 &&
                 !ra->view->ids.join;
    ra->fresh = fresh;
    ra->log_first = ra->snapshot_index;
    ra->log_last = rec.last_index > ra->snapshot_index ? rec.last_index : ra->snapshot_index;
    if (fresh)
        ra->log_last = ra->view->ids.members_count;
    if (fresh && (err = raft_actor_bootstrap(ra, &hs)) < 0)
        return err;
    if (!fresh && ra->force_new_cluster && (err = raft_actor_force_new_cluster(ra, &hs)) < 0)
        return err;
    err = raft_restore_finish(ra->raft, &hs, ra->snapshot_index);
    if (err < 0) {
        log_error("the WAL contradicts itself", LOG_STR("wal-dir", ra->wal_dir),
                  LOG_U64("term", hs.term), LOG_U64("commit", hs.commit),
                  LOG_U64("last-index", rec.last_index),
                  LOG_U64("snapshot-index", ra->snapshot_index));
        return err;
    }
    ra->term = hs.term; /* the view's term never goes back, even across a restart in-process */
    log_info("opened the WAL", LOG_STR("wal-dir", ra->wal_dir), LOG_U64("entries", rec.entries),
             LOG_U64("last-index", rec.last_index), LOG_U64("term", hs.term),
             LOG_U64("commit", hs.commit), LOG_U64("snapshot-index", ra->snapshot_index));
    raft_actor_elect(ra);
    return 0;
}

static void raft_actor_tick(struct timer *t, uint64_t now_ns)
{
    (void)now_ns;
    struct raft_actor *ra = (struct raft_actor *)((char *)t - offsetof(struct raft_actor, tick));
    ra->ticks++;
    raft_tick(ra->raft);
    raft_actor_expire(ra);
    raft_actor_read_tick(ra);
    raft_actor_conf_tick(ra);
    raft_actor_publish_own(ra);
    if (raft_has_ready(ra->raft))
        raft_actor_arm_turn(ra);
    int err = actor_timer_start(ra->actor, &ra->tick, ra->tick_ns, raft_actor_tick);
    ASSERT(err == 0);
}

/* Transport events. */

static void raft_actor_receive_peer(void *ctx, const struct raft_msg *m)
{
    struct raft_actor *ra = ctx;
    int err = raft_step(ra->raft, m);
    if (err < 0)
        log_warn("dropped a message from a peer", LOG_U64("from", m->from),
                 LOG_STR("type", raft_msg_type_name((enum raft_msg_type)m->type)),
                 LOG_STR("error", ringd_strerror(err)));
    if (raft_has_ready(ra->raft))
        raft_actor_arm_turn(ra);
}

static void raft_actor_unreachable(void *ctx, raft_id id)
{
    struct raft_actor *ra = ctx;
    raft_report_unreachable(ra->raft, id);
}

static void raft_actor_snapshot_sent(void *ctx, raft_id id, bool ok)
{
    struct raft_actor *ra = ctx;
    raft_report_snapshot(ra->raft, id, ok);
    /* No file for the snapshot the core named (none made yet: a new cluster's index 0, or
     * pruned): make one; the core sends the follower the newer one once it is compacted to. */
    if (!ok)
        raft_actor_ask_snapshot(ra);
    raft_actor_arm_turn(ra);
}

static const struct members *raft_actor_members(void *ctx)
{
    const struct raft_actor *ra = ctx;
    return &ra->members;
}

/* Actor ops. */

static int raft_actor_start(struct actor *a)
{
    struct raft_actor *ra = raft_actor_of(a);
    ra->actor = a;
    int err = proposal_routes_init(&ra->routes, (uint32_t)ra->shards * SHARD_PROPOSALS_MAX);
    if (err < 0)
        return err;
    /* etcd's ReqTimeout: 5 s plus twice the election timeout. */
    ra->request_timeout_ticks =
        (5000000000ull + 2ull * ra->election_ticks * ra->tick_ns + ra->tick_ns - 1) / ra->tick_ns;
    for (uint32_t i = 0; i < RAFT_ACTOR_BATCHES; i++) {
        struct apply_batch *b = malloc(sizeof *b);
        if (b == NULL)
            return -ENOMEM;
        b->next = ra->batches_free;
        ra->batches_free = b;
    }
    for (uint16_t i = 0; i < ra->shards; i++) {
        uint16_t id = ra->shard_ids[i];
        /* Refusals, MSG_SERVE and one MSG_READ_READY. */
        err = outbox_init(&ra->replies[id], id, SHARD_PROPOSALS_MAX + 2);
        if (err < 0)
            return err;
    }
    err = raft_actor_open(ra);
    if (err < 0)
        return err;
    if (ra->transport.ops != NULL) {
        static const struct raft_transport_events events = {
            .receive = raft_actor_receive_peer,
            .unreachable = raft_actor_unreachable,
            .snapshot_sent = raft_actor_snapshot_sent,
            .members = raft_actor_members,
        };
        struct raft_transport_events ev = events;
        ev.ctx = ra;
        ra->transport_events = ev;
        err = ra->transport.ops->start(ra->transport.t, &a->loop, &ra->transport_events);
        if (err < 0)
            return err;
    }
    err = actor_timer_start(a, &ra->tick, ra->tick_ns, raft_actor_tick);
    ASSERT(err == 0);
    raft_actor_arm_turn(ra);
    return 0;
}

/* The apply actor applied a batch: it is free again; once this start's attributes entry is
 * applied the log is replayed and the shards serve. */
static void raft_actor_applied(struct raft_actor *ra, const struct msg *m)
{
    struct apply_batch *b = m->ptr;
    b->next = ra->batches_free;
    ra->batches_free = b;
    ASSERT(ra->batches_out > 0);
    ra->batches_out--;
    ra->applied = m->a;
    raft_actor_read_release(ra);
    if (!ra->serving && ra->serve_index != 0 && ra->applied >= ra->serve_index) {
        ra->serving = true;
        for (uint16_t i = 0; i < ra->shards; i++) {
            uint16_t id = ra->shard_ids[i];
            struct msg serve = {.type = MSG_SERVE};
            int err = outbox_send(&ra->replies[id], ra->actor, &serve);
            ASSERT(err == 0 || err == -EPIPE); /* a shard that left at shutdown */
        }
    }
    raft_actor_arm_turn(ra);
}

static void raft_actor_receive(struct actor *a, const struct msg *m)
{
    struct raft_actor *ra = raft_actor_of(a);
    switch (m->type) {
    case MSG_KV_PROPOSE:
        raft_actor_propose(ra, m->from, m->ptr);
        break;
    case MSG_APPLY_DONE:
        raft_actor_applied(ra, m);
        break;
    case MSG_READ_INDEX:
        raft_actor_read_ask(ra, m->from);
        if (ra->stopping)
            raft_actor_read_fail_all(ra, -RINGD_ESTOPPED);
        raft_actor_arm_turn(ra);
        break;
    case MSG_SNAPSHOT_DONE:
        ra->snap = (struct raft_snapshot_meta){.index = m->a, .term = m->b};
        raft_actor_conf(ra, &ra->snap.conf);
        ra->snap_pending = true;
        raft_actor_arm_turn(ra);
        break;
    default:
        UNREACHABLE(); /* a wiring bug */
    }
}

static void raft_actor_writable(struct actor *a, uint16_t to)
{
    outbox_flush(&raft_actor_of(a)->replies[to], a);
}

/* Shutdown: the clock stops (its timeout would keep the loop busy); the log goes on until the
 * shards' proposals are answered. */
static void raft_actor_stop(struct actor *a)
{
    struct raft_actor *ra = raft_actor_of(a);
    actor_timer_stop(a, &ra->tick);
    ra->stopping = true;
    raft_actor_read_fail_all(ra, -RINGD_ESTOPPED);
    raft_actor_conf_fail_all(ra, -RINGD_ESTOPPED);
    if (ra->transport.ops != NULL)
        ra->transport.ops->stop(ra->transport.t);
    /* With the peers and the clock gone, a cluster's proposals can no longer commit (a single
     * member's still do, from its own WAL): they end "server stopped", outcome unknown. */
    if (ra->members.count > 1 || ra->installing) {
        struct apply_route r;
        while (proposal_routes_expire(&ra->routes, UINT64_MAX, ra->committed, &r))
            raft_actor_refuse(ra, r.shard, r.proposal, -RINGD_ESTOPPED);
    }
}

/* Leaves once every proposal is answered (the shards left only then), nothing is at the apply
 * actor, and the WAL is idle with what it holds flushed. */
static bool raft_actor_quiescent(struct actor *a)
{
    struct raft_actor *ra = raft_actor_of(a);
    if (ra->wal == NULL)
        return true; /* the start failed */
    if (ra->ready_out || ra->batches_out > 0 || ra->routes.count > 0 || ra->transfers_count > 0 ||
        timer_armed(&ra->turn))
        return false;
    if (ra->transport.ops != NULL && !ra->transport.ops->idle(ra->transport.t))
        return false;
    (void)wal_flush(ra->wal);
    return wal_idle(ra->wal);
}

static void raft_actor_finish(struct actor *a)
{
    struct raft_actor *ra = raft_actor_of(a);
    actor_timer_stop(a, &ra->tick);
    actor_timer_stop(a, &ra->turn);
    if (ra->wal != NULL) {
        struct wal_stats st;
        wal_get_stats(ra->wal, &st);
        log_info("closed the WAL", LOG_U64("batches", st.batches), LOG_U64("records", st.records),
                 LOG_U64("bytes", st.bytes), LOG_U64("fdatasyncs", st.fdatasyncs),
                 LOG_U64("durable-index", st.durable_index));
        wal_close(ra->wal);
    }
    if (ra->raft != NULL)
        raft_destroy(ra->raft);
    for (uint16_t i = 0; i < ra->shards; i++)
        outbox_destroy(&ra->replies[ra->shard_ids[i]]);
    while (ra->batches_free != NULL) {
        struct apply_batch *b = ra->batches_free;
        ra->batches_free = b->next;
        free(b);
    }
    proposal_routes_destroy(&ra->routes);
}

const struct actor_ops raft_actor_ops = {
    .start = raft_actor_start,
    .receive = raft_actor_receive,
    .writable = raft_actor_writable,
    .stop = raft_actor_stop,
    .quiescent = raft_actor_quiescent,
    .finish = raft_actor_finish,
};
