/* core/raft unit tests: the single-member path (election, commit after persistence, batching,
 * restart), the durability rule with calls between raft_ready and raft_advance, the log
 * window's bounds and byte ring, restore errors, read index, conf-change entries and their
 * replay on restart, forwarded messages' errors, and seeded clusters (3 voters, 5 voters, 3
 * voters and a learner, each with spare members that may join) with message loss,
 * reordering, duplication, partitions, crashes, compaction, reads and proposals on any
 * member (followers forward them), leadership transfers and membership changes, checked for
 * raft's safety, the reads' linearizability and the members' agreement on every
 * configuration after every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"
#include "ringd_error.h"

/* ---- a member with in-memory durable storage -------------------------------------------- */

struct member {
    raft_id id;
    struct raft *r;
    struct raft_config cfg;
    struct raft_snapshot_meta snap; /* durable */
    struct raft_hard_state hs;      /* durable */
    struct raft_entry *ents;        /* durable, data malloc'd */
    uint32_t n_ents;
    uint32_t cap_ents;
    raft_index applied;     /* the state machine */
    raft_id removed;        /* the last member a conf change applied here removed */
    uint8_t **applied_data; /* applied entries' data by index, to compare members */
    uint32_t *applied_len;
    uint32_t applied_cap;
};

static struct raft_conf_state conf_of(uint32_t voters)
{
    struct raft_conf_state c = {0};
    c.n_voters = voters;
    for (uint32_t i = 0; i < voters; i++)
        c.voters[i] = i + 1;
    return c;
}

static void member_config(struct member *m, raft_id id)
{
    memset(m, 0, sizeof(*m));
    m->id = id;
    raft_config_default(&m->cfg, id);
    m->cfg.log_entries_max = 256;
    m->cfg.log_bytes_max = 64 << 10;
}

static void member_start(struct member *m, raft_index applied)
{
    m->r = raft_create(&m->cfg);
    assert_non_null(m->r);
    assert_int_equal(raft_restore_snapshot(m->r, &m->snap), 0);
    assert_int_equal(raft_restore_entries(m->r, m->ents, m->n_ents), 0);
    assert_int_equal(raft_restore_finish(m->r, &m->hs, applied), 0);
    m->applied = applied;
}

static void member_init(struct member *m, raft_id id, uint32_t voters)
{
    member_config(m, id);
    m->snap = (struct raft_snapshot_meta){.conf = conf_of(voters)};
    member_start(m, 0);
}

static void member_free(struct member *m)
{
    raft_destroy(m->r);
    for (uint32_t i = 0; i < m->n_ents; i++)
        free((void *)m->ents[i].data);
    free(m->ents);
    for (uint32_t i = 0; i < m->applied_cap; i++)
        free(m->applied_data[i]);
    free(m->applied_data);
    free(m->applied_len);
}

static raft_index stored_last(const struct member *m)
{
    return m->n_ents ? m->ents[m->n_ents - 1].index : m->snap.index;
}

static void store_entries(struct member *m, const struct raft_entry *ents, uint32_t n)
{
    if (n == 0)
        return;
    while (m->n_ents > 0 && m->ents[m->n_ents - 1].index >= ents[0].index)
        free((void *)m->ents[--m->n_ents].data);
    assert_int_equal(stored_last(m) + 1, ents[0].index);
    if (m->n_ents + n > m->cap_ents) {
        m->cap_ents = 2 * (m->n_ents + n);
        m->ents = realloc(m->ents, m->cap_ents * sizeof(m->ents[0]));
        assert_non_null(m->ents);
    }
    for (uint32_t i = 0; i < n; i++) {
        struct raft_entry *e = &m->ents[m->n_ents++];
        *e = ents[i];
        e->data = NULL;
        if (ents[i].len > 0) {
            uint8_t *d = malloc(ents[i].len);
            memcpy(d, ents[i].data, ents[i].len);
            e->data = d;
        }
    }
}

/* A committed conf change is applied as the entry is (before raft_advance). */
static void apply_conf_change(struct member *m, const struct raft_entry *e)
{
    struct raft_conf_change cc;
    const void *ctx;
    uint32_t len;
    assert_int_equal(raft_conf_change_decode(e, &cc, &ctx, &len), 0);
    assert_int_equal(cc.index, e->index);
    struct raft_conf_state conf;
    int rc = raft_apply_conf_change(m->r, &cc, &conf);
    if (rc == 0 && cc.type == RAFT_CONF_REMOVE)
        m->removed = cc.id;
}

static void record_applied(struct member *m, const struct raft_entry *e)
{
    assert_int_equal(e->index, m->applied + 1); /* once, in order */
    assert_true(e->index <= stored_last(m));    /* durable here first */
    if (e->type == RAFT_ENTRY_CONF_CHANGE)
        apply_conf_change(m, e);
    if (e->index >= m->applied_cap) {
        uint32_t cap = (uint32_t)e->index * 2 + 16;
        m->applied_data = realloc(m->applied_data, cap * sizeof(m->applied_data[0]));
        m->applied_len = realloc(m->applied_len, cap * sizeof(m->applied_len[0]));
        memset(m->applied_data + m->applied_cap, 0, (cap - m->applied_cap) * sizeof(uint8_t *));
        m->applied_cap = cap;
    }
    free(m->applied_data[e->index]);
    m->applied_data[e->index] = malloc(e->len + 1);
    memcpy(m->applied_data[e->index], e->data ? e->data : (const uint8_t *)"", e->len);
    m->applied_len[e->index] = e->len;
    m->applied = e->index;
}

/* Persists rd (the durability rule is checked: the stored commit never passes the stored
 * log), applies its committed entries. Messages are the caller's to send. */
static void persist(struct member *m, const struct raft_ready *rd)
{
    if (rd->snapshot != NULL) {
        while (m->n_ents > 0)
            free((void *)m->ents[--m->n_ents].data);
        m->snap = *rd->snapshot;
        m->applied = rd->snapshot->index;
    }
    store_entries(m, rd->entries, rd->n_entries);
    if (rd->has_hard_state)
        m->hs = rd->hard_state;
    assert_true(m->hs.commit <= stored_last(m));
    for (uint32_t i = 0; i < rd->n_committed; i++)
        record_applied(m, &rd->committed[i]);
}

/* One full Ready cycle; its messages are lost (none expected unless lossy). Returns the
 * number of committed entries applied. */
static uint32_t cycle_lossy(struct member *m, bool lossy)
{
    struct raft_ready rd;
    raft_ready(m->r, &rd);
    assert_true(lossy || rd.n_msgs_send_now + rd.n_msgs_after_persist == 0);
    persist(m, &rd);
    raft_advance(m->r, &rd);
    return rd.n_committed;
}

static uint32_t cycle(struct member *m)
{
    return cycle_lossy(m, false);
}

static struct raft_status st;

static void status(struct member *m)
{
    raft_status(m->r, &st);
}

/* ---- single member ---------------------------------------------------------------------- */

static void test_single_member_elects_itself_on_timeout(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 1);
    status(&m);
    assert_int_equal(st.state, RAFT_FOLLOWER);
    uint32_t ticks = 0;
    while (st.state != RAFT_LEADER) {
        assert_true(ticks < 2 * m.cfg.election_ticks);
        raft_tick(m.r);
        ticks++;
        status(&m);
    }
    /* A randomized timeout in [election, 2 * election). */
    assert_true(ticks >= m.cfg.election_ticks);
    assert_int_equal(st.hard_state.term, 1);
    assert_int_equal(st.hard_state.vote, 1);
    assert_int_equal(st.leader, 1);
    assert_int_equal(st.last, 1); /* the empty entry of its term */
    assert_int_equal(st.hard_state.commit, 0);
    member_free(&m);
}

static void test_single_member_campaign_commits_after_persist(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 1);
    assert_int_equal(raft_campaign(m.r), 0);
    status(&m);
    assert_int_equal(st.state, RAFT_LEADER);
    assert_true(raft_has_ready(m.r));
    struct raft_ready rd;
    raft_ready(m.r, &rd);
    assert_true(rd.soft_state_changed && rd.state == RAFT_LEADER && rd.leader == 1);
    assert_true(rd.has_hard_state && rd.must_sync);
    assert_int_equal(rd.hard_state.term, 1);
    assert_int_equal(rd.hard_state.vote, 1);
    assert_int_equal(rd.hard_state.commit, 0);
    assert_int_equal(rd.n_entries, 1);
    assert_int_equal(rd.entries[0].index, 1);
    assert_int_equal(rd.entries[0].len, 0);
    assert_int_equal(rd.n_committed, 0);
    /* Not persisted yet: nothing commits. */
    status(&m);
    assert_int_equal(st.hard_state.commit, 0);
    persist(&m, &rd);
    raft_advance(m.r, &rd);
    status(&m);
    assert_int_equal(st.persisted, 1);
    assert_int_equal(st.hard_state.commit, 1);
    raft_ready(m.r, &rd);
    assert_true(rd.has_hard_state && !rd.must_sync);
    assert_int_equal(rd.hard_state.commit, 1);
    assert_int_equal(rd.n_committed, 1);
    assert_int_equal(rd.committed[0].index, 1);
    persist(&m, &rd);
    raft_advance(m.r, &rd);
    assert_false(raft_has_ready(m.r));
    assert_int_equal(raft_campaign(m.r), 0); /* a leader: nothing to do */
    member_free(&m);
}

static void become_leader(struct member *m)
{
    assert_int_equal(raft_campaign(m->r), 0);
    while (raft_has_ready(m->r))
        cycle(m);
    status(m);
    assert_int_equal(st.state, RAFT_LEADER);
}

static void test_batching(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 1);
    become_leader(&m);
    raft_index first = 0;
    for (uint32_t i = 0; i < 100; i++) {
        char buf[16];
        int len = snprintf(buf, sizeof(buf), "put %u", i);
        raft_index index;
        assert_int_equal(raft_propose(m.r, buf, (uint32_t)len, &index), 0);
        if (i == 0)
            first = index;
        assert_int_equal(index, first + i);
    }
    struct raft_ready rd;
    raft_ready(m.r, &rd);
    assert_int_equal(rd.n_entries, 100); /* one Ready, one fsync */
    assert_int_equal(rd.n_committed, 0);
    assert_memory_equal(rd.entries[99].data, "put 99", 6);
    persist(&m, &rd);
    raft_advance(m.r, &rd);
    raft_ready(m.r, &rd);
    assert_int_equal(rd.n_committed, 100);
    assert_int_equal(rd.committed[0].index, first);
    assert_memory_equal(rd.committed[42].data, "put 42", 6);
    persist(&m, &rd);
    raft_advance(m.r, &rd);
    assert_false(raft_has_ready(m.r));
    member_free(&m);
}

/* Proposals and ticks between raft_ready and raft_advance: the commit index follows what was
 * persisted, never what was proposed, and later proposals wait for their own Ready. */
static void test_durability_rule_between_ready_and_advance(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 1);
    become_leader(&m);
    status(&m);
    raft_index base = st.last;
    assert_int_equal(raft_propose(m.r, "a", 1, NULL), 0);
    struct raft_ready rd1;
    raft_ready(m.r, &rd1);
    assert_int_equal(rd1.n_entries, 1);
    /* While rd1 is being persisted: more proposals, ticks, status. */
    assert_int_equal(raft_propose(m.r, "b", 1, NULL), 0);
    assert_int_equal(raft_propose(m.r, "c", 1, NULL), 0);
    raft_tick(m.r);
    assert_false(raft_has_ready(m.r)); /* advance first */
    status(&m);
    assert_int_equal(st.hard_state.commit, base);
    assert_int_equal(st.persisted, base);
    assert_int_equal(st.last, base + 3);
    persist(&m, &rd1);
    raft_advance(m.r, &rd1);
    status(&m);
    assert_int_equal(st.persisted, base + 1);
    assert_int_equal(st.hard_state.commit, base + 1); /* "a" only */
    struct raft_ready rd2;
    raft_ready(m.r, &rd2);
    assert_int_equal(rd2.n_entries, 2); /* "b", "c" */
    assert_int_equal(rd2.n_committed, 1);
    assert_memory_equal(rd2.committed[0].data, "a", 1);
    assert_int_equal(rd2.hard_state.commit, base + 1);
    persist(&m, &rd2);
    raft_advance(m.r, &rd2);
    status(&m);
    assert_int_equal(st.hard_state.commit, base + 3);
    assert_int_equal(cycle(&m), 2);
    member_free(&m);
}

static void test_restart_keeps_state_and_redelivers(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 1);
    become_leader(&m);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(raft_propose(m.r, "x", 1, NULL), 0);
    cycle(&m); /* persisted */
    struct raft_ready rd;
    raft_ready(m.r, &rd); /* committed, and the commit index in the hard state */
    persist(&m, &rd);
    raft_advance(m.r, &rd);
    assert_int_equal(m.hs.commit, 6);
    /* A crash: the state machine had applied 3 of them (say, from its snapshot). */
    raft_destroy(m.r);
    member_start(&m, 3);
    status(&m);
    assert_int_equal(st.state, RAFT_FOLLOWER);
    assert_int_equal(st.hard_state.term, 1);
    assert_int_equal(st.hard_state.vote, 1);
    assert_int_equal(st.hard_state.commit, 6);
    assert_int_equal(st.applied, 3);
    assert_int_equal(st.last, 6);
    assert_int_equal(st.persisted, 6);
    raft_ready(m.r, &rd);
    assert_false(rd.has_hard_state); /* nothing new to persist */
    assert_int_equal(rd.n_entries, 0);
    assert_int_equal(rd.n_committed, 3);
    assert_int_equal(rd.committed[0].index, 4);
    persist(&m, &rd);
    raft_advance(m.r, &rd);
    assert_false(raft_has_ready(m.r));
    /* It leads again in the next term and commits its empty entry. */
    become_leader(&m);
    status(&m);
    assert_int_equal(st.hard_state.term, 2);
    assert_int_equal(st.hard_state.commit, 7);
    assert_int_equal(st.applied, 7);
    member_free(&m);
}

/* A crash after a Ready's entries were written but before its commit was: the entries come
 * back unstable-free (durable) and commit once the member leads again. */
static void test_restart_with_uncommitted_tail(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 1);
    become_leader(&m);
    assert_int_equal(raft_propose(m.r, "y", 1, NULL), 0);
    cycle(&m); /* "y" persisted; commit 2 not yet persisted */
    raft_destroy(m.r);
    member_start(&m, 1);
    status(&m);
    assert_int_equal(st.hard_state.commit, 1);
    assert_int_equal(st.last, 2);
    assert_false(raft_has_ready(m.r));
    become_leader(&m);
    assert_int_equal(m.applied, 3);
    assert_memory_equal(m.applied_data[2], "y", 1);
    member_free(&m);
}

/* ---- acknowledgements outlived by their entries ----------------------------------------- */

/* Acknowledgements to leader `to` in rd's msgs_after_persist above index. */
static uint32_t acks_above(const struct raft_ready *rd, raft_id to, raft_index index)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < rd->n_msgs_after_persist; i++) {
        const struct raft_msg *m = &rd->msgs_after_persist[i];
        n += m->type == RAFT_MSG_APP_RESP && !m->reject && m->to == to && m->index > index;
    }
    return n;
}

/* Follower 2 takes entries 1-2 of term 1 from leader 1 and hands them out in a Ready; while
 * that Ready is being persisted, leader 1's retry queues another acknowledgement of 2. */
static void ack_while_persisting(struct member *m, struct raft_ready *rd)
{
    member_init(m, 2, 3);
    struct raft_entry ents[2] = {{.term = 1, .index = 1}, {.term = 1, .index = 2}};
    struct raft_msg app = {
        .type = RAFT_MSG_APP, .from = 1, .to = 2, .term = 1, .entries = ents, .n_entries = 2};
    assert_int_equal(raft_step(m->r, &app), 0);
    raft_ready(m->r, rd);
    assert_int_equal(rd->n_entries, 2);
    assert_int_equal(acks_above(rd, 1, 1), 1); /* true: it leaves once 1-2 are durable */
    assert_int_equal(raft_step(m->r, &app), 0);
}

/* Finishes rd1 (its acknowledgements may leave: they were true of what it persisted) and takes
 * the next Ready into rd2. */
static void finish_then_ready(struct member *m, struct raft_ready *rd1, struct raft_ready *rd2)
{
    persist(m, rd1);
    raft_advance(m->r, rd1);
    raft_ready(m->r, rd2);
}

/* SIM_SEED=8306 of the simulator (before the fix): a newer leader's append cuts the log below
 * a queued acknowledgement, which then left after the next Ready with the old term, telling
 * leader 1 that 2 holds entries it no longer has. */
static void test_cut_log_drops_queued_acks(void **state)
{
    (void)state;
    struct member m;
    struct raft_ready rd1, rd2;
    ack_while_persisting(&m, &rd1);
    struct raft_entry other = {.term = 2, .index = 1};
    struct raft_msg app = {
        .type = RAFT_MSG_APP, .from = 3, .to = 2, .term = 2, .entries = &other, .n_entries = 1};
    assert_int_equal(raft_step(m.r, &app), 0); /* conflict at 1: the log is cut to 0 */
    finish_then_ready(&m, &rd1, &rd2);
    assert_int_equal(rd2.n_entries, 1);
    assert_int_equal(rd2.entries[0].term, 2);
    assert_int_equal(acks_above(&rd2, 1, 0), 0);
    assert_int_equal(acks_above(&rd2, 3, 0), 1);
    member_free(&m);

    /* The same with a snapshot of a newer leader replacing the log: only what was committed
     * (nothing here) stays acknowledged. */
    ack_while_persisting(&m, &rd1);
    struct raft_snapshot_meta snap = {.index = 3, .term = 2, .conf = conf_of(3)};
    struct raft_msg msnap = {
        .type = RAFT_MSG_SNAP, .from = 3, .to = 2, .term = 2, .snapshot = &snap};
    assert_int_equal(raft_step(m.r, &msnap), 0);
    finish_then_ready(&m, &rd1, &rd2);
    assert_non_null(rd2.snapshot);
    assert_int_equal(acks_above(&rd2, 1, 0), 0);
    assert_int_equal(acks_above(&rd2, 3, 2), 1);
    member_free(&m);
}

/* A member joining takes a snapshot from before the change that adds it; when its leader's log
 * is compacted past it before it gets that change, the next snapshot is from before it again
 * (sim seed 725 of the extended simulator, before the fix: it refused it, "not in the
 * ConfState", and waited for a snapshot nothing would trigger). */
static void test_joining_member_takes_snapshots_until_added(void **state)
{
    (void)state;
    struct member m;
    member_config(&m, 4);
    member_start(&m, 0); /* an empty configuration: joining */
    for (raft_index index = 5; index <= 8; index += 3) {
        struct raft_snapshot_meta snap = {.index = index, .term = 1, .conf = conf_of(3)};
        struct raft_msg msnap = {
            .type = RAFT_MSG_SNAP, .from = 1, .to = 4, .term = 1, .snapshot = &snap};
        assert_int_equal(raft_step(m.r, &msnap), 0);
        struct raft_ready rd;
        raft_ready(m.r, &rd);
        assert_non_null(rd.snapshot);
        assert_int_equal(rd.snapshot->index, index);
        assert_int_equal(rd.n_msgs_after_persist, 1);
        assert_int_equal(rd.msgs_after_persist[0].index, index); /* installed */
        persist(&m, &rd);
        raft_advance(m.r, &rd);
    }
    /* Its addition applied: now a member, it never takes a snapshot that leaves it out. */
    struct raft_conf_change cc = {.type = RAFT_CONF_ADD_LEARNER, .id = 4, .index = 9};
    struct raft_entry add = {.term = 1, .index = 9, .type = RAFT_ENTRY_CONF_CHANGE};
    uint8_t buf[RAFT_CONF_CHANGE_HEADER_BYTES];
    add.len = (uint32_t)raft_conf_change_encode(&cc, NULL, 0, buf);
    add.data = buf;
    struct raft_msg app = {.type = RAFT_MSG_APP,
                           .from = 1,
                           .to = 4,
                           .term = 1,
                           .index = 8,
                           .log_term = 1,
                           .commit = 9,
                           .entries = &add,
                           .n_entries = 1};
    assert_int_equal(raft_step(m.r, &app), 0);
    cycle_lossy(&m, true);                      /* persists it */
    assert_int_equal(cycle_lossy(&m, true), 1); /* applies the addition */
    status(&m);
    assert_int_equal(st.conf.n_learners, 1);
    struct raft_snapshot_meta old = {.index = 12, .term = 1, .conf = conf_of(3)};
    struct raft_msg msnap = {
        .type = RAFT_MSG_SNAP, .from = 1, .to = 4, .term = 1, .snapshot = &old};
    assert_int_equal(raft_step(m.r, &msnap), 0);
    status(&m);
    assert_int_equal(st.last, 9);
    member_free(&m);
}

/* ---- errors and bounds ------------------------------------------------------------------ */

static void test_propose_errors(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 3);
    /* A follower that knows no leader has nowhere to forward to. */
    raft_index index = 7;
    assert_int_equal(raft_propose(m.r, "a", 1, &index), -RINGD_ENO_LEADER);
    assert_int_equal(index, 0);
    assert_int_equal(raft_read_index(m.r, 1), -RINGD_ENO_LEADER);
    assert_int_equal(raft_transfer_leader(m.r, 2), -RINGD_ENOT_LEADER);
    member_free(&m);

    member_init(&m, 1, 1);
    become_leader(&m);
    static uint8_t big[64 << 10];
    assert_int_equal(raft_propose(m.r, big, sizeof(big) / 2 + 1, NULL), -RINGD_EREQUEST_TOO_LARGE);
    assert_int_equal(raft_propose(m.r, big, sizeof(big) / 2, NULL), 0);
    member_free(&m);

    /* A learner, or a member not in the configuration, may not campaign. */
    member_config(&m, 4);
    m.snap.conf = conf_of(3);
    m.snap.conf.learners[m.snap.conf.n_learners++] = 4;
    member_start(&m, 0);
    assert_int_equal(raft_campaign(m.r), -RINGD_ENOT_CAPABLE);
    for (uint32_t i = 0; i < 100; i++)
        raft_tick(m.r);
    status(&m);
    assert_int_equal(st.state, RAFT_FOLLOWER);
    assert_int_equal(st.hard_state.term, 0);
    member_free(&m);
}

/* Proposals the window will not hold are -RINGD_EFULL: at most half of it uncommitted, and
 * its slots until the caller applies and compacts. */
static uint32_t propose_until_full(struct member *m)
{
    uint32_t accepted = 0;
    int rc;
    while ((rc = raft_propose(m->r, "z", 1, NULL)) == 0)
        accepted++;
    assert_int_equal(rc, -RINGD_EFULL);
    return accepted;
}

static void test_window_full_until_compacted(void **state)
{
    (void)state;
    struct member m;
    member_config(&m, 1);
    m.cfg.log_entries_max = 16;
    m.snap.conf = conf_of(1);
    member_start(&m, 0);
    become_leader(&m);
    assert_int_equal(propose_until_full(&m), 8); /* 8 uncommitted: half the window */
    cycle(&m);
    cycle(&m);
    /* 16 slots: the empty entry, and one kept free. */
    assert_int_equal(propose_until_full(&m), 6);
    cycle(&m);
    cycle(&m);
    status(&m);
    assert_int_equal(st.applied, 15);
    assert_int_equal(raft_propose(m.r, "z", 1, NULL), -RINGD_EFULL);
    struct raft_snapshot_meta snap = {.index = 15, .term = 1, .conf = conf_of(1)};
    assert_int_equal(raft_compact(m.r, &snap, 10), 0);
    status(&m);
    assert_int_equal(st.first, 11);
    assert_int_equal(propose_until_full(&m), 8); /* half the window uncommitted again */
    member_free(&m);
}

/* Entry data goes round the byte ring many times (wrapping, compaction behind it) and every
 * applied entry still holds the bytes proposed. */
static void test_byte_ring_wraps(void **state)
{
    (void)state;
    struct member m;
    member_config(&m, 1);
    m.cfg.log_bytes_max = 4096;
    m.snap.conf = conf_of(1);
    member_start(&m, 0);
    become_leader(&m);
    uint32_t seq = 0, full = 0;
    for (uint32_t round = 0; round < 200; round++) {
        for (;;) {
            uint8_t buf[700];
            uint32_t len = 1 + (seq * 37) % sizeof(buf);
            memset(buf, (int)(seq & 0xff), len);
            raft_index index;
            int rc = raft_propose(m.r, buf, len, &index);
            if (rc == -RINGD_EFULL) {
                full++;
                break;
            }
            assert_int_equal(rc, 0);
            seq++;
        }
        while (raft_has_ready(m.r))
            cycle(&m);
        status(&m);
        struct raft_snapshot_meta snap = {.index = st.applied, .term = 1, .conf = conf_of(1)};
        assert_int_equal(raft_compact(m.r, &snap, st.applied), 0);
    }
    assert_int_equal(full, 200);
    /* Entry i (from 2 on) carried (i - 2) * 37 % 700 + 1 bytes of the value (i - 2) & 0xff. */
    for (raft_index i = 2; i <= m.applied; i++) {
        uint32_t s = (uint32_t)(i - 2);
        assert_int_equal(m.applied_len[i], 1 + (s * 37) % 700);
        for (uint32_t k = 0; k < m.applied_len[i]; k++)
            assert_int_equal(m.applied_data[i][k], s & 0xff);
    }
    assert_true(seq > 1000);
    member_free(&m);
}

static void test_restore_errors(void **state)
{
    (void)state;
    struct member m;
    member_config(&m, 1);
    struct raft *r = raft_create(&m.cfg);
    struct raft_snapshot_meta snap = {.index = 5, .term = 2, .conf = conf_of(3)};
    assert_int_equal(raft_restore_snapshot(r, &snap), 0);
    struct raft_entry gap = {.term = 2, .index = 7};
    assert_int_equal(raft_restore_entries(r, &gap, 1), -RINGD_ECORRUPT);
    struct raft_entry ents[3] = {
        {.term = 2, .index = 4}, {.term = 2, .index = 6}, {.term = 3, .index = 7}};
    assert_int_equal(raft_restore_entries(r, ents, 3), 0); /* 4: before the snapshot */
    struct raft_entry older = {.term = 1, .index = 8};
    assert_int_equal(raft_restore_entries(r, &older, 1), -RINGD_ECORRUPT);
    struct raft_hard_state hs = {.term = 3, .vote = 2, .commit = 8};
    assert_int_equal(raft_restore_finish(r, &hs, 5), -RINGD_ECORRUPT); /* commit past 7 */
    hs.commit = 7;
    assert_int_equal(raft_restore_finish(r, &hs, 4), -RINGD_ECORRUPT); /* applied < snapshot */
    assert_int_equal(raft_restore_finish(r, &hs, 8), -RINGD_ECORRUPT); /* applied > commit */
    hs.term = 3;
    assert_int_equal(raft_restore_finish(r, &hs, 6), 0);
    raft_status(r, &st);
    assert_int_equal(st.hard_state.commit, 7);
    assert_int_equal(st.applied, 6);
    assert_int_equal(st.hard_state.vote, 2);
    raft_destroy(r);

    r = raft_create(&m.cfg);
    struct raft_snapshot_meta dup = {.conf = conf_of(2)};
    dup.conf.voters[1] = 1;
    assert_int_equal(raft_restore_snapshot(r, &dup), -RINGD_ECORRUPT);
    raft_destroy(r);
}

/* The vote member 2's Ready answers a MsgVote of term with (last index, last term) with. */
static bool vote_granted(struct member *m, raft_term term, raft_index index, raft_term log_term)
{
    struct raft_msg v = {.type = RAFT_MSG_VOTE,
                         .from = 3,
                         .to = 2,
                         .term = term,
                         .index = index,
                         .log_term = log_term};
    assert_int_equal(raft_step(m->r, &v), 0);
    struct raft_ready rd;
    raft_ready(m->r, &rd);
    assert_int_equal(rd.n_msgs_after_persist, 1);
    assert_int_equal(rd.msgs_after_persist[0].type, RAFT_MSG_VOTE_RESP);
    bool granted = !rd.msgs_after_persist[0].reject;
    persist(m, &rd);
    raft_advance(m->r, &rd);
    return granted;
}

/* SIM_TEAR=1 SIM_SEED=43100 of the simulator (before the fix): a crash kept a Ready's entries
 * of term 1 and lost the hard state written after them, and the member could not restart. It
 * restarts at the entries' term with no vote (the lost vote was never sent), writes that term
 * first, and grants no vote in that term to a candidate whose log ends in an earlier term. */
static void test_restore_after_torn_hard_state(void **state)
{
    (void)state;
    struct member m;
    member_config(&m, 2);
    m.snap = (struct raft_snapshot_meta){.conf = conf_of(3)};
    struct raft_entry ents[2] = {{.term = 1, .index = 1}, {.term = 1, .index = 2}};
    store_entries(&m, ents, 2);
    m.hs = (struct raft_hard_state){0};
    member_start(&m, 0);
    status(&m);
    assert_int_equal(st.hard_state.term, 1);
    assert_int_equal(st.hard_state.vote, RAFT_NONE);
    assert_int_equal(st.last, 2);
    assert_int_equal(st.persisted, 2);
    struct raft_ready rd;
    raft_ready(m.r, &rd);
    assert_true(rd.has_hard_state && rd.must_sync);
    assert_int_equal(rd.hard_state.term, 1);
    assert_int_equal(rd.hard_state.vote, RAFT_NONE);
    persist(&m, &rd);
    raft_advance(m.r, &rd);
    assert_false(vote_granted(&m, 1, 5, 0)); /* term 1's other candidates: older logs */
    assert_true(vote_granted(&m, 2, 2, 1));
    assert_int_equal(m.hs.term, 2);
    assert_int_equal(m.hs.vote, 3);
    member_free(&m);
}

/* Bad messages are the sender's fault: errors, never assertions. */
static void test_bad_messages(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 2, 3);
    struct raft_msg msg = {.type = RAFT_MSG_APP, .from = 1, .to = 3, .term = 1};
    assert_int_equal(raft_step(m.r, &msg), -EINVAL); /* not to us */
    msg.to = 2;
    msg.type = RAFT_MSG_TYPES;
    assert_int_equal(raft_step(m.r, &msg), -EINVAL);
    msg.type = RAFT_MSG_APP;
    struct raft_entry ents[2] = {{.term = 1, .index = 1}, {.term = 1, .index = 3}};
    msg.entries = ents;
    msg.n_entries = 2;
    assert_int_equal(raft_step(m.r, &msg), -RINGD_ECORRUPT); /* not contiguous */
    ents[1].index = 2;
    ents[1].term = 2;
    assert_int_equal(raft_step(m.r, &msg), -RINGD_ECORRUPT); /* a term past the leader's */
    ents[1].term = 1;
    msg.commit = 2;
    assert_int_equal(raft_step(m.r, &msg), 0);
    status(&m);
    assert_int_equal(st.last, 2);
    assert_int_equal(st.hard_state.commit, 2);
    assert_int_equal(st.leader, 1);
    /* An append before the commit index cannot rewrite committed entries: it is answered
     * with the commit index and changes nothing. */
    struct raft_entry rewrite = {.term = 2, .index = 2};
    struct raft_msg m2 = {.type = RAFT_MSG_APP,
                          .from = 3,
                          .to = 2,
                          .term = 2,
                          .index = 1,
                          .log_term = 1,
                          .entries = &rewrite,
                          .n_entries = 1};
    assert_int_equal(raft_step(m.r, &m2), 0);
    status(&m);
    assert_int_equal(st.last, 2);
    assert_int_equal(st.leader, 3);
    /* An acknowledgement past the leader's log. */
    struct raft_msg m3 = {.type = RAFT_MSG_APP_RESP, .from = 1, .to = 2, .term = 2, .index = 9};
    assert_int_equal(raft_step(m.r, &m3), 0); /* not the leader: ignored */
    member_free(&m);
}

static void test_read_index_single_member(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 1);
    assert_int_equal(raft_campaign(m.r), 0);
    /* Leader, but nothing of its term committed yet: the read waits. */
    assert_int_equal(raft_read_index(m.r, 7), 0);
    struct raft_ready rd;
    raft_ready(m.r, &rd);
    assert_int_equal(rd.n_read_states, 0);
    persist(&m, &rd);
    raft_advance(m.r, &rd);
    raft_ready(m.r, &rd);
    assert_int_equal(rd.n_read_states, 1);
    assert_int_equal(rd.read_states[0].context, 7);
    assert_int_equal(rd.read_states[0].index, 1);
    persist(&m, &rd);
    raft_advance(m.r, &rd);
    assert_int_equal(raft_read_index(m.r, 8), 0);
    raft_ready(m.r, &rd);
    assert_int_equal(rd.n_read_states, 1);
    assert_int_equal(rd.read_states[0].index, 1);
    raft_advance(m.r, &rd);
    member_free(&m);
}

/* A conf change's entry: decoded as proposed; anything else in it is corrupt. */
static void test_conf_change_encoding(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 1);
    become_leader(&m);
    struct raft_conf_change cc = {.type = RAFT_CONF_ADD_LEARNER, .id = 0x1234567890};
    raft_index index = 0;
    assert_int_equal(raft_propose_conf_change(m.r, &cc, "http://a:2380", 13, &index), 0);
    assert_int_equal(index, 2);
    struct raft_ready rd;
    raft_ready(m.r, &rd);
    assert_int_equal(rd.n_entries, 1);
    const struct raft_entry *e = &rd.entries[0];
    assert_int_equal(e->type, RAFT_ENTRY_CONF_CHANGE);
    assert_int_equal(e->len, RAFT_CONF_CHANGE_HEADER_BYTES + 13);
    struct raft_conf_change out;
    const void *ctx;
    uint32_t len;
    assert_int_equal(raft_conf_change_decode(e, &out, &ctx, &len), 0);
    assert_int_equal(out.type, cc.type);
    assert_int_equal(out.id, cc.id);
    assert_int_equal(out.index, 2);
    assert_int_equal(len, 13);
    assert_memory_equal(ctx, "http://a:2380", 13);
    uint8_t bad[RAFT_CONF_CHANGE_HEADER_BYTES];
    memcpy(bad, e->data, sizeof(bad));
    struct raft_entry be = {.type = RAFT_ENTRY_CONF_CHANGE, .data = bad, .len = sizeof(bad)};
    assert_int_equal(raft_conf_change_decode(&be, &out, NULL, NULL), 0);
    const uint32_t offsets[] = {0, 1, 2, 7}; /* version, type, reserved bytes */
    for (uint32_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        bad[offsets[i]] ^= 0x40;
        assert_int_equal(raft_conf_change_decode(&be, &out, NULL, NULL), -RINGD_ECORRUPT);
        bad[offsets[i]] ^= 0x40;
    }
    memset(bad + 8, 0, 8); /* id 0 */
    assert_int_equal(raft_conf_change_decode(&be, &out, NULL, NULL), -RINGD_ECORRUPT);
    be.len = RAFT_CONF_CHANGE_HEADER_BYTES - 1;
    assert_int_equal(raft_conf_change_decode(&be, &out, NULL, NULL), -RINGD_ECORRUPT);
    be.type = RAFT_ENTRY_NORMAL;
    assert_int_equal(raft_conf_change_decode(&be, &out, NULL, NULL), -RINGD_ECORRUPT);
    persist(&m, &rd);
    raft_advance(m.r, &rd);
    /* Bad changes are the caller's mistakes: refused before anything is appended. */
    cc = (struct raft_conf_change){.type = RAFT_CONF_CHANGE_TYPES, .id = 2};
    assert_int_equal(raft_propose_conf_change(m.r, &cc, NULL, 0, NULL), -EINVAL);
    cc = (struct raft_conf_change){.type = RAFT_CONF_ADD_VOTER, .id = RAFT_NONE};
    assert_int_equal(raft_propose_conf_change(m.r, &cc, NULL, 0, NULL), -EINVAL);
    static uint8_t big[RAFT_CONF_CONTEXT_BYTES_MAX + 1];
    cc.id = 2;
    assert_int_equal(raft_propose_conf_change(m.r, &cc, big, sizeof(big), NULL),
                     -RINGD_EREQUEST_TOO_LARGE);
    member_free(&m);
}

/* A restart re-applies the conf changes the state machine applied (they are not handed out
 * again); those after the applied index come out again, and the caller applies them. */
static void test_restart_replays_conf_changes(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 1);
    become_leader(&m);
    struct raft_conf_change cc = {.type = RAFT_CONF_ADD_LEARNER, .id = 2};
    assert_int_equal(raft_propose_conf_change(m.r, &cc, NULL, 0, NULL), 0);
    cc.type = RAFT_CONF_PROMOTE;
    assert_int_equal(raft_propose_conf_change(m.r, &cc, NULL, 0, NULL),
                     -RINGD_ECONF_CHANGE_PENDING);
    while (raft_has_ready(m.r))
        cycle_lossy(&m, true);
    status(&m);
    assert_int_equal(st.conf.n_learners, 1);
    assert_int_equal(raft_propose_conf_change(m.r, &cc, NULL, 0, NULL), 0);
    while (raft_has_ready(m.r))
        cycle_lossy(&m, true);
    status(&m);
    assert_int_equal(st.conf.n_voters, 2);
    assert_int_equal(st.applied, 3);
    /* Two voters now: this one alone commits nothing more. */
    assert_int_equal(raft_propose(m.r, "x", 1, NULL), 0);
    while (raft_has_ready(m.r))
        cycle_lossy(&m, true);
    status(&m);
    assert_int_equal(st.hard_state.commit, 3);

    raft_destroy(m.r);
    member_start(&m, 3); /* the state machine applied both changes */
    status(&m);
    assert_int_equal(st.conf.n_voters, 2);
    assert_int_equal(st.conf.voters[1], 2);
    raft_destroy(m.r);
    member_start(&m, 1); /* it applied neither: they come out again */
    status(&m);
    assert_int_equal(st.conf.n_voters, 1);
    /* Alone in the configuration it knows, but that is about to change: no campaign. */
    assert_int_equal(raft_campaign(m.r), 0);
    status(&m);
    assert_int_equal(st.state, RAFT_FOLLOWER);
    assert_int_equal(cycle_lossy(&m, true), 2);
    status(&m);
    assert_int_equal(st.conf.n_voters, 2);
    assert_int_equal(raft_campaign(m.r), 0);
    status(&m);
    assert_int_equal(st.state, RAFT_CANDIDATE); /* 2 must vote now */
    member_free(&m);
}

/* A follower forwards proposals to its leader, forward_bytes_max of them per Ready, in one
 * MsgProp: the buffer is the Ready's, free again after raft_advance. */
static void test_forward_bytes_per_ready(void **state)
{
    (void)state;
    struct member m;
    member_config(&m, 2);
    m.cfg.forward_bytes_max = 8;
    m.snap.conf = conf_of(3);
    member_start(&m, 0);
    struct raft_msg hb = {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 1};
    assert_int_equal(raft_step(m.r, &hb), 0); /* now it knows its leader */
    for (uint32_t round = 0; round < 3; round++) {
        raft_index index = 9;
        assert_int_equal(raft_propose(m.r, "abcde", 5, &index), 0);
        assert_int_equal(index, 0);
        assert_int_equal(raft_propose(m.r, "fgh", 3, NULL), 0);
        assert_int_equal(raft_propose(m.r, "i", 1, NULL), -RINGD_EFULL);
        assert_int_equal(raft_propose(m.r, "123456789", 9, NULL), -RINGD_EREQUEST_TOO_LARGE);
        /* The turn's proposals go in one MsgProp. */
        struct raft_ready rd;
        raft_ready(m.r, &rd);
        uint32_t props = 0;
        for (uint32_t i = 0; i < rd.n_msgs_send_now; i++) {
            const struct raft_msg *msg = &rd.msgs_send_now[i];
            if (msg->type != RAFT_MSG_PROP)
                continue;
            assert_int_equal(msg->to, 1);
            assert_int_equal(msg->term, 0);
            assert_int_equal(msg->n_entries, 2);
            assert_memory_equal(msg->entries[0].data, "abcde", msg->entries[0].len);
            assert_memory_equal(msg->entries[1].data, "fgh", msg->entries[1].len);
            props++;
        }
        assert_int_equal(props, 1);
        persist(&m, &rd);
        raft_advance(m.r, &rd);
    }
    member_free(&m);
}

/* Forwarded requests carry no term; everything else must. */
static void test_forwarded_message_errors(void **state)
{
    (void)state;
    struct member m;
    member_init(&m, 1, 3);
    struct raft_entry ent = {.data = (const uint8_t *)"a", .len = 1};
    struct raft_msg prop = {.type = RAFT_MSG_PROP, .from = 2, .to = 1, .term = 1};
    prop.entries = &ent;
    prop.n_entries = 1;
    assert_int_equal(raft_step(m.r, &prop), -EINVAL); /* a term */
    prop.term = 0;
    assert_int_equal(raft_step(m.r, &prop), 0); /* not the leader: dropped */
    prop.n_entries = 0;
    assert_int_equal(raft_step(m.r, &prop), -EINVAL); /* nothing to propose */
    prop.n_entries = 1;
    ent.type = RAFT_ENTRY_CONF_CHANGE + 1;
    assert_int_equal(raft_step(m.r, &prop), -EINVAL);
    struct raft_msg read = {.type = RAFT_MSG_READ_INDEX, .from = 2, .to = 1, .term = 1};
    assert_int_equal(raft_step(m.r, &read), -EINVAL);
    struct raft_msg resp = {.type = RAFT_MSG_READ_INDEX_RESP, .from = 2, .to = 1};
    assert_int_equal(raft_step(m.r, &resp), -EINVAL); /* an answer has the leader's term */
    status(&m);
    assert_int_equal(st.last, 0);
    member_free(&m);
}

/* ---- a seeded cluster with faults ------------------------------------------------------- */

#define SIM_MEMBERS_MAX 6
#define SIM_NET_MAX     512
#define SIM_TERMS_MAX   4096
#define SIM_TRUTH_MAX   8192
#define SIM_READS_MAX   4096

struct sim_msg {
    struct raft_msg m;
    struct raft_entry *ents;
    struct raft_snapshot_meta *snap;
};

struct sim {
    uint64_t rng;
    uint32_t n;
    uint32_t learners; /* the last ones */
    struct member ms[SIM_MEMBERS_MAX];
    bool ready_out[SIM_MEMBERS_MAX];
    struct raft_ready rd[SIM_MEMBERS_MAX];
    struct sim_msg net[SIM_NET_MAX];
    uint32_t n_net;
    raft_id leader_of_term[SIM_TERMS_MAX];
    uint8_t *truth[SIM_TRUTH_MAX]; /* what each index applied as, wherever first */
    uint32_t truth_len[SIM_TRUTH_MAX];
    raft_index truth_max;
    uint32_t proposals;
    /* Reads: the commit index any member knew when read i was asked; its answer may not be
     * below (a read sees every write committed before it started). */
    raft_index read_floor[SIM_READS_MAX];
    bool read_answered[SIM_READS_MAX];
    uint32_t reads;
    uint32_t reads_answered;
    raft_id isolated;        /* a member cut off from everyone, or 0 */
    uint32_t isolated_steps; /* steps the partition still lasts */
    raft_index commit_hwm;   /* the highest commit index any member ever knew */
    /* Members a conf change removed are shut down a while later, as etcd's server does
     * (stopWithDelay): the ticks they still run, then no more steps. */
    uint32_t stop_ticks[SIM_MEMBERS_MAX];
    bool stopped[SIM_MEMBERS_MAX];
    uint64_t conf_of_index[SIM_TRUTH_MAX]; /* the configuration after each conf change */
    uint32_t transfers;
    uint32_t conf_changes;                         /* accepted by a leader */
    uint32_t conf_applied[RAFT_CONF_CHANGE_TYPES]; /* applied with effect, by type */
    uint32_t joins;                                /* members that took the first snapshot */
    uint32_t forwarded;                            /* forwarded proposals committed */
};

static uint64_t sim_rand(struct sim *s, uint64_t n)
{
    s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (s->rng >> 33) % n;
}

static void sim_msg_free(struct sim_msg *sm)
{
    for (uint32_t i = 0; i < sm->m.n_entries; i++)
        free((void *)sm->ents[i].data);
    free(sm->ents);
    free(sm->snap);
}

static void sim_send(struct sim *s, const struct raft_msg *m)
{
    if (s->n_net == SIM_NET_MAX)
        return; /* the network is full: lost */
    struct sim_msg *sm = &s->net[s->n_net++];
    sm->m = *m;
    sm->ents = calloc(m->n_entries + 1, sizeof(sm->ents[0]));
    for (uint32_t i = 0; i < m->n_entries; i++) {
        sm->ents[i] = m->entries[i];
        sm->ents[i].data = NULL;
        if (m->entries[i].len > 0) {
            uint8_t *d = malloc(m->entries[i].len);
            memcpy(d, m->entries[i].data, m->entries[i].len);
            sm->ents[i].data = d;
        }
    }
    sm->m.entries = sm->ents;
    sm->snap = NULL;
    if (m->snapshot != NULL) {
        sm->snap = malloc(sizeof(*sm->snap));
        *sm->snap = *m->snapshot;
    }
    sm->m.snapshot = sm->snap;
}

/* Applied data must agree across members and lives: state machine safety. */
static void sim_check_applied(struct sim *s, struct member *m, raft_index from)
{
    for (raft_index i = from + 1; i <= m->applied; i++) {
        assert_true(i < SIM_TRUTH_MAX);
        if (s->truth[i] == NULL) {
            s->truth[i] = malloc(m->applied_len[i] + 1);
            memcpy(s->truth[i], m->applied_data[i], m->applied_len[i]);
            s->truth_len[i] = m->applied_len[i];
            if (i > s->truth_max)
                s->truth_max = i;
            s->forwarded += m->applied_len[i] > 0 && m->applied_data[i][0] == 'f';
        }
        assert_int_equal(s->truth_len[i], m->applied_len[i]);
        assert_memory_equal(s->truth[i], m->applied_data[i], m->applied_len[i]);
    }
}

static raft_index sim_max_commit(struct sim *s)
{
    raft_index c = 0;
    for (uint32_t k = 0; k < s->n; k++) {
        raft_status(s->ms[k].r, &st);
        c = st.hard_state.commit > c ? st.hard_state.commit : c;
    }
    return c;
}

/* A read on any member: a follower forwards it to its leader. */
static void sim_read(struct sim *s, uint32_t k)
{
    if (s->reads == SIM_READS_MAX)
        return;
    int rc = raft_read_index(s->ms[k].r, s->reads + 1);
    assert_true(rc == 0 || rc == -RINGD_ENO_LEADER || rc == -RINGD_EFULL);
    if (rc == 0)
        s->read_floor[s->reads++] = sim_max_commit(s);
}

/* Linearizability of reads: at or above what was committed when asked, and at most what was
 * ever committed (a follower's answer can be ahead of its own log). A duplicated MsgReadIndex
 * or answer is answered twice: the reader takes the first. */
static void sim_check_reads(struct sim *s, uint32_t k, const struct raft_ready *rd)
{
    raft_status(s->ms[k].r, &st);
    for (uint32_t i = 0; i < rd->n_read_states; i++) {
        uint64_t ctx = rd->read_states[i].context;
        assert_true(ctx >= 1 && ctx <= s->reads);
        s->reads_answered += !s->read_answered[ctx - 1];
        s->read_answered[ctx - 1] = true;
        assert_true(rd->read_states[i].index >= s->read_floor[ctx - 1]);
        assert_true(rd->read_states[i].index <= s->commit_hwm);
        assert_true(st.state != RAFT_LEADER || rd->read_states[i].index <= st.hard_state.commit);
    }
}

static uint64_t conf_hash(const struct raft_conf_state *c)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < c->n_voters; i++)
        h = (h ^ c->voters[i]) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (uint32_t i = 0; i < c->n_learners; i++)
        h = (h ^ c->learners[i]) * 1099511628211ull;
    return h;
}

/* Every member that applies a conf change ends in the same configuration. */
static void sim_check_conf(struct sim *s, struct member *m, const struct raft_ready *rd)
{
    uint32_t *stop = m->removed != RAFT_NONE ? &s->stop_ticks[m->removed - 1] : NULL;
    if (stop != NULL && *stop == 0)
        *stop = 3 * m->cfg.election_ticks;
    m->removed = RAFT_NONE;
    raft_status(m->r, &st);
    const struct raft_entry *last = NULL;
    for (uint32_t i = 0; i < rd->n_committed; i++)
        if (rd->committed[i].type == RAFT_ENTRY_CONF_CHANGE)
            last = &rd->committed[i];
    /* A snapshot installed since the Ready holds a later configuration. */
    if (last == NULL || st.first > last->index)
        return;
    assert_true(last->index < SIM_TRUTH_MAX);
    uint64_t h = conf_hash(&st.conf);
    uint64_t *want = &s->conf_of_index[last->index];
    assert_true(*want == 0 || *want == h);
    if (*want == 0) {
        struct raft_conf_change cc;
        assert_int_equal(raft_conf_change_decode(last, &cc, NULL, NULL), 0);
        s->conf_applied[cc.type]++;
    }
    *want = h;
}

/* The first half of a Ready: take it, send what may leave before persistence. */
static void sim_ready(struct sim *s, uint32_t k)
{
    struct member *m = &s->ms[k];
    if (s->ready_out[k] || !raft_has_ready(m->r))
        return;
    raft_ready(m->r, &s->rd[k]);
    s->ready_out[k] = true;
    sim_check_reads(s, k, &s->rd[k]);
    for (uint32_t i = 0; i < s->rd[k].n_msgs_send_now; i++)
        sim_send(s, &s->rd[k].msgs_send_now[i]);
}

/* The second half: persist, then send the rest, apply, advance. */
static void sim_finish(struct sim *s, uint32_t k)
{
    struct member *m = &s->ms[k];
    if (!s->ready_out[k])
        return;
    const struct raft_ready *rd = &s->rd[k];
    raft_index before = m->applied;
    if (rd->snapshot != NULL) {
        assert_true(rd->snapshot->index <= s->truth_max);
        before = rd->snapshot->index; /* the state machine is the snapshot's */
        s->joins += m->snap.conf.n_voters + m->snap.conf.n_learners == 0;
    }
    persist(m, rd);
    for (uint32_t i = 0; i < rd->n_msgs_after_persist; i++)
        sim_send(s, &rd->msgs_after_persist[i]);
    sim_check_applied(s, m, before);
    sim_check_conf(s, m, rd);
    raft_advance(m->r, rd);
    s->ready_out[k] = false;
}

static void sim_deliver(struct sim *s)
{
    if (s->n_net == 0)
        return;
    uint32_t i = (uint32_t)sim_rand(s, s->n_net); /* any order: reordering */
    struct sim_msg sm = s->net[i];
    uint64_t fate = sim_rand(s, 100);
    if (s->isolated == sm.m.from || s->isolated == sm.m.to || s->stopped[sm.m.to - 1])
        fate = 0;     /* a partition, or a member shut down: lost */
    if (fate >= 10) { /* 10%: lost */
        int rc = raft_step(s->ms[sm.m.to - 1].r, &sm.m);
        assert_int_equal(rc, 0);
    }
    /* The transport streams snapshots and says how it went (etcd ReportSnapshot). */
    if (sm.m.type == RAFT_MSG_SNAP)
        raft_report_snapshot(s->ms[sm.m.from - 1].r, sm.m.to, fate >= 10);
    if (fate >= 95 && s->n_net < SIM_NET_MAX)
        return; /* 5%: duplicated (delivered and kept) */
    s->net[i] = s->net[--s->n_net];
    sim_msg_free(&sm);
}

/* A proposal on any member: a follower forwards it to its leader. */
static void sim_propose(struct sim *s, uint32_t k)
{
    char buf[32];
    raft_status(s->ms[k].r, &st);
    /* "f": forwarded by a follower, to count those that commit. */
    int len = snprintf(buf, sizeof(buf), "%c%u", st.state == RAFT_LEADER ? 'v' : 'f', s->proposals);
    int rc = raft_propose(s->ms[k].r, buf, (uint32_t)len, NULL);
    assert_true(rc == 0 || rc == -RINGD_ENO_LEADER || rc == -RINGD_EFULL ||
                rc == -RINGD_ELEADER_CHANGED);
    s->proposals += rc == 0;
}

static void sim_tick(struct sim *s, uint32_t k)
{
    raft_tick(s->ms[k].r);
    if (s->stop_ticks[k] > 0 && --s->stop_ticks[k] == 0)
        s->stopped[k] = true;
}

/* Leadership to any member: refused unless asked of the leader for a voter. */
static void sim_transfer(struct sim *s, uint32_t k)
{
    raft_id to = 1 + sim_rand(s, s->n);
    int rc = raft_transfer_leader(s->ms[k].r, to);
    assert_true(rc == 0 || rc == -RINGD_ENOT_LEADER || rc == -RINGD_EBAD_LEADER_TRANSFEREE);
    s->transfers += rc == 0;
}

/* A membership change of any kind for any member not shut down, proposed on any member: the
 * leader takes those its configuration can, one at a time. */
static void sim_conf_change(struct sim *s, uint32_t k)
{
    raft_id id = 1 + sim_rand(s, s->n);
    if (s->stop_ticks[id - 1] > 0 || s->stopped[id - 1])
        return; /* etcd never reuses a removed member's id */
    struct raft_conf_change cc = {.type = (uint8_t)sim_rand(s, RAFT_CONF_CHANGE_TYPES), .id = id};
    raft_status(s->ms[k].r, &st);
    bool leader = st.state == RAFT_LEADER;
    int rc = raft_propose_conf_change(s->ms[k].r, &cc, "peer", 4, NULL);
    assert_true(rc == 0 || rc == -RINGD_ENO_LEADER || rc == -RINGD_EFULL ||
                rc == -RINGD_ELEADER_CHANGED || rc == -RINGD_ECONF_CHANGE_PENDING ||
                rc == -RINGD_EMEMBER_EXIST || rc == -RINGD_EMEMBER_NOT_FOUND ||
                rc == -RINGD_EMEMBER_NOT_LEARNER || rc == -EINVAL);
    s->conf_changes += rc == 0 && leader;
}

/* A crash: what the outstanding Ready had not persisted is lost; the member comes back from
 * its storage with the state machine of its snapshot. */
static void sim_restart(struct sim *s, uint32_t k)
{
    struct member *m = &s->ms[k];
    raft_destroy(m->r);
    s->ready_out[k] = false;
    member_start(m, m->snap.index);
}

/* A snapshot at the applied index, keeping some entries (none when all) for followers a
 * little behind. */
static void sim_compact(struct sim *s, uint32_t k, bool all)
{
    struct member *m = &s->ms[k];
    if (s->ready_out[k] || m->n_ents == 0 || m->ents[0].index > m->applied)
        return; /* nothing applied left to forget */
    raft_index at = m->applied;
    raft_index to = all ? at : at - sim_rand(s, at - m->ents[0].index + 1);
    uint32_t i = 0;
    while (i < m->n_ents && m->ents[i].index < at)
        i++;
    assert_true(i < m->n_ents && m->ents[i].index == at);
    status(m); /* the members as of the applied index: conf changes are applied with it */
    struct raft_snapshot_meta snap = {.index = at, .term = m->ents[i].term, .conf = st.conf};
    assert_int_equal(raft_compact(m->r, &snap, to), 0);
    uint32_t drop = 0;
    while (drop < m->n_ents && m->ents[drop].index <= to)
        free((void *)m->ents[drop++].data);
    memmove(m->ents, m->ents + drop, (m->n_ents - drop) * sizeof(m->ents[0]));
    m->n_ents -= drop;
    m->snap = snap;
}

static bool conf_has_voter(const struct raft_conf_state *c, raft_id id)
{
    for (uint32_t i = 0; i < c->n_voters; i++)
        if (c->voters[i] == id)
            return true;
    return false;
}

/* Election safety: one leader per term. */
static void sim_check(struct sim *s)
{
    for (uint32_t k = 0; k < s->n; k++) {
        raft_status(s->ms[k].r, &st);
        if (st.hard_state.commit > s->commit_hwm)
            s->commit_hwm = st.hard_state.commit;
        if (st.state != RAFT_LEADER)
            continue;
        assert_true(st.hard_state.term < SIM_TERMS_MAX);
        assert_true(conf_has_voter(&st.conf, st.id)); /* learners never lead */
        raft_id *l = &s->leader_of_term[st.hard_state.term];
        assert_true(*l == RAFT_NONE || *l == st.id);
        *l = st.id;
    }
}

/* Cuts member k off from everyone for a while: stale leaders, elections behind its back. */
static void sim_isolate(struct sim *s, uint32_t k)
{
    s->isolated = s->ms[k].id;
    s->isolated_steps = 100 + (uint32_t)sim_rand(s, 900);
}

static void sim_step(struct sim *s, bool faults)
{
    uint32_t k = (uint32_t)sim_rand(s, s->n);
    uint64_t a = sim_rand(s, 1000);
    if (s->stopped[k] && a >= 350)
        a = 0; /* a member shut down does nothing */
    if (a < 350)
        sim_deliver(s);
    else if (a < 550)
        sim_ready(s, k);
    else if (a < 750)
        sim_finish(s, k);
    else if (a < 900)
        sim_tick(s, k);
    else if (a < 950)
        sim_propose(s, k);
    else if (a < 980)
        sim_read(s, k);
    else if (a < 990)
        sim_compact(s, k, false);
    else if (a < 992)
        sim_transfer(s, k);
    else if (a < 996)
        sim_conf_change(s, k);
    else if (faults && a < 998)
        sim_restart(s, k);
    else if (faults && s->isolated == RAFT_NONE)
        sim_isolate(s, k);
    if (s->isolated_steps > 0 && --s->isolated_steps == 0)
        s->isolated = RAFT_NONE; /* the partition heals */
    sim_check(s);
}

/* No more faults: every message is delivered and every Ready handled until the cluster is
 * quiet, ticking now and then, until a leader has everything applied everywhere. */
static bool sim_settled(struct sim *s)
{
    static struct raft_conf_state conf; /* the leader's */
    raft_index applied = 0;
    bool leader = false;
    for (uint32_t k = 0; k < s->n; k++) {
        raft_status(s->ms[k].r, &st);
        if (st.state == RAFT_LEADER && !s->stopped[k]) {
            leader = true;
            conf = st.conf;
            applied = s->ms[k].applied;
        }
    }
    for (uint32_t k = 0; k < s->n && leader; k++) {
        if (s->stopped[k])
            continue;
        raft_status(s->ms[k].r, &st);
        bool member = conf_has_voter(&conf, k + 1);
        for (uint32_t i = 0; i < conf.n_learners; i++)
            member = member || conf.learners[i] == k + 1;
        if (s->ready_out[k] || raft_has_ready(s->ms[k].r) ||
            (member && (s->ms[k].applied != applied || st.hard_state.commit != applied ||
                        conf_hash(&st.conf) != conf_hash(&conf))))
            return false;
    }
    return leader && s->n_net == 0;
}

static void sim_dump(struct sim *s)
{
    for (uint32_t k = 0; k < s->n; k++) {
        raft_status(s->ms[k].r, &st);
        fprintf(stderr,
                "\n%" PRIx64 ": %s term=%" PRIu64 " leader=%" PRIx64 " commit=%" PRIu64
                " applied=%" PRIu64 " persisted=%" PRIu64 " last=%" PRIu64 " first=%" PRIu64
                " ready_out=%d has_ready=%d stopped=%d voters=%u learners=%u",
                st.id, raft_state_name(st.state), st.hard_state.term, st.leader,
                st.hard_state.commit, st.applied, st.persisted, st.last, st.first, s->ready_out[k],
                raft_has_ready(s->ms[k].r), s->stopped[k], st.conf.n_voters, st.conf.n_learners);
        for (uint32_t i = 0; st.state == RAFT_LEADER && i < st.n_members; i++)
            fprintf(stderr, "\n  %" PRIx64 ": %s match=%" PRIu64 " next=%" PRIu64 " paused=%d",
                    st.members[i].id, raft_progress_state_name(st.members[i].state),
                    st.members[i].match, st.members[i].next, st.members[i].paused);
    }
    fprintf(stderr, "\nnet: %u\n", s->n_net);
}

static void sim_settle(struct sim *s)
{
    for (uint32_t round = 0; round < 2000 && !sim_settled(s); round++) {
        while (s->n_net > 0) {
            struct sim_msg sm = s->net[0];
            memmove(s->net, s->net + 1, --s->n_net * sizeof(s->net[0]));
            bool up = !s->stopped[sm.m.to - 1];
            if (up)
                assert_int_equal(raft_step(s->ms[sm.m.to - 1].r, &sm.m), 0);
            if (sm.m.type == RAFT_MSG_SNAP)
                raft_report_snapshot(s->ms[sm.m.from - 1].r, sm.m.to, up);
            sim_msg_free(&sm);
        }
        for (uint32_t k = 0; k < s->n; k++) {
            if (s->stopped[k])
                continue;
            sim_finish(s, k);
            sim_ready(s, k);
            sim_finish(s, k);
            if (round % 4 == 3)
                sim_tick(s, k);
            if (round % 8 == 7)
                sim_compact(s, k, true); /* a member that never compacts fills its window */
        }
        sim_check(s);
    }
    if (!sim_settled(s))
        sim_dump(s);
    assert_true(sim_settled(s));
}

static uint64_t sim_seed_running; /* the seed of a run that has not finished, or 0 */
static uint64_t sim_committed_total;
static uint64_t sim_reads_total;
static uint64_t sim_reads_answered;
static uint64_t sim_transfers;
static uint64_t sim_conf_changes;
static uint64_t sim_conf_applied[RAFT_CONF_CHANGE_TYPES];
static uint64_t sim_joins;
static uint64_t sim_forwarded;

/* voters, then learners, then spares: members not in the configuration at first, joining
 * with an empty log when a conf change adds them. */
static void sim_run(uint64_t seed, uint32_t voters, uint32_t learners, uint32_t spares,
                    uint32_t steps)
{
    static struct sim s;
    memset(&s, 0, sizeof(s));
    uint32_t members = voters + learners + spares;
    assert_true(members <= SIM_MEMBERS_MAX);
    s.rng = seed;
    s.n = members;
    s.learners = learners;
    bool pre_vote = seed & 1, check_quorum = seed & 2;
    struct raft_conf_state conf = conf_of(voters);
    for (uint32_t k = voters; k < voters + learners; k++)
        conf.learners[conf.n_learners++] = k + 1;
    for (uint32_t k = 0; k < members; k++) {
        struct member *m = &s.ms[k];
        member_config(m, k + 1);
        m->cfg.seed = seed * 31 + k;
        m->cfg.pre_vote = pre_vote;
        m->cfg.check_quorum = check_quorum;
        m->cfg.log_entries_max = 64;
        m->cfg.log_bytes_max = 4096;
        m->cfg.msg_bytes_max = 16;
        m->cfg.inflight_msgs_max = 4;
        m->cfg.forward_bytes_max = 64;
        if (k < voters + learners)
            m->snap.conf = conf;
        member_start(m, 0);
    }
    for (uint32_t i = 0; i < steps; i++)
        sim_step(&s, true);
    s.isolated = RAFT_NONE;
    sim_settle(&s);
    /* Everything a leader accepted before the faults stopped may or may not have committed;
     * what did is the same everywhere (sim_check_applied) and the cluster made progress. */
    assert_true(s.truth_max > 0);
    sim_committed_total += s.truth_max;
    sim_reads_total += s.reads;
    sim_reads_answered += s.reads_answered;
    sim_transfers += s.transfers;
    sim_conf_changes += s.conf_changes;
    sim_joins += s.joins;
    sim_forwarded += s.forwarded;
    for (uint32_t i = 0; i < RAFT_CONF_CHANGE_TYPES; i++)
        sim_conf_applied[i] += s.conf_applied[i];
    for (uint32_t k = 0; k < members; k++) {
        member_free(&s.ms[k]);
        s.ready_out[k] = false;
    }
    for (uint32_t i = 0; i < s.n_net; i++)
        sim_msg_free(&s.net[i]);
    for (uint32_t i = 0; i < SIM_TRUTH_MAX; i++)
        free(s.truth[i]);
}

static void test_seeded_cluster(void **state)
{
    (void)state;
    const char *one = getenv("RAFT_SEED");
    const char *env = getenv("RAFT_SEEDS");
    uint64_t first = one ? strtoull(one, NULL, 10) : 1;
    uint64_t last = one ? first : (env ? strtoull(env, NULL, 10) : 200);
    for (uint64_t seed = first; seed <= last; seed++) {
        sim_seed_running = seed;
        /* 3 voters and 2 spares; 5 voters and a spare; 3 voters, a learner and a spare. */
        uint32_t kind = seed % 3;
        sim_run(seed, kind == 1 ? 5 : 3, kind == 2 ? 1 : 0, kind == 0 ? 2 : 1, 3000);
    }
    sim_seed_running = 0;
    fprintf(stderr,
            "seeds %" PRIu64 "-%" PRIu64 ": %" PRIu64 " entries committed (%" PRIu64
            " forwarded), %" PRIu64 " of %" PRIu64 " reads answered, %" PRIu64
            " leadership transfers started, %" PRIu64
            " membership changes accepted (applied: %" PRIu64 " voters and %" PRIu64
            " learners added, %" PRIu64 " promoted, %" PRIu64 " removed; %" PRIu64
            " members joined)\n",
            first, last, sim_committed_total, sim_forwarded, sim_reads_answered, sim_reads_total,
            sim_transfers, sim_conf_changes, sim_conf_applied[RAFT_CONF_ADD_VOTER],
            sim_conf_applied[RAFT_CONF_ADD_LEARNER], sim_conf_applied[RAFT_CONF_PROMOTE],
            sim_conf_applied[RAFT_CONF_REMOVE], sim_joins);
}

/* An assertion in the core aborts: name the seed first. */
static void on_abort(int sig)
{
    (void)sig;
    char buf[96];
    int n = snprintf(buf, sizeof(buf),
                     "\naborted at seed %" PRIu64 ": RAFT_SEED=%" PRIu64 " replays it\n",
                     sim_seed_running, sim_seed_running);
    if (sim_seed_running != 0 && n > 0)
        (void)!write(2, buf, (size_t)n);
}

/* A failed run names its seed: RAFT_SEED=<seed> replays exactly that run. */
static int report_seed(void **state)
{
    (void)state;
    if (sim_seed_running != 0)
        fprintf(stderr, "failed at seed %" PRIu64 ": RAFT_SEED=%" PRIu64 " replays it\n",
                sim_seed_running, sim_seed_running);
    return 0;
}

int main(void)
{
    signal(SIGABRT, on_abort);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_member_elects_itself_on_timeout),
        cmocka_unit_test(test_single_member_campaign_commits_after_persist),
        cmocka_unit_test(test_batching),
        cmocka_unit_test(test_durability_rule_between_ready_and_advance),
        cmocka_unit_test(test_restart_keeps_state_and_redelivers),
        cmocka_unit_test(test_restart_with_uncommitted_tail),
        cmocka_unit_test(test_cut_log_drops_queued_acks),
        cmocka_unit_test(test_joining_member_takes_snapshots_until_added),
        cmocka_unit_test(test_propose_errors),
        cmocka_unit_test(test_window_full_until_compacted),
        cmocka_unit_test(test_byte_ring_wraps),
        cmocka_unit_test(test_restore_errors),
        cmocka_unit_test(test_restore_after_torn_hard_state),
        cmocka_unit_test(test_bad_messages),
        cmocka_unit_test(test_read_index_single_member),
        cmocka_unit_test(test_conf_change_encoding),
        cmocka_unit_test(test_restart_replays_conf_changes),
        cmocka_unit_test(test_forwarded_message_errors),
        cmocka_unit_test(test_forward_bytes_per_ready),
        cmocka_unit_test_teardown(test_seeded_cluster, report_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
