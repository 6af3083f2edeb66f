/* Membership changes and leadership transfers as the simulator's events, and the operator's and
 * server's part in them (etcd's): a member whose addition applies is started, empty, and joins
 * by taking the leader's snapshot; a learner that caught up is promoted; a member that applies
 * its own removal stops a few election timeouts later (etcd's stopWithDelay, so that a voter
 * that missed the commit can still get its vote); members drop the messages of a member they
 * know removed (etcd answers them 410 Gone), and one that never learns it was removed stops
 * once its peers have refused it for as long. */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>

#include "ringd_assert.h"
#include "ringd_error.h"

#define ELECTION_US       (10 * SIM_TICK_US) /* the members' election timeout */
#define STOP_DELAY_MIN_US (2 * ELECTION_US)
#define STOP_DELAY_MAX_US (3 * ELECTION_US)
#define VOTERS_MIN        3 /* removals keep a majority that survives one fault */

static const char *const change_names[RAFT_CONF_CHANGE_TYPES] = {"add voter", "add learner",
                                                                 "remove", "promote", "update"};

/* The leader of the highest term among the running members, with its status; NULL: none. */
static struct sim_member *leader(struct sim *s, struct raft_status *st)
{
    struct sim_member *best = NULL;
    struct raft_status cur;
    for (uint32_t k = 0; k < s->n_members; k++) {
        struct sim_member *m = &s->members[k];
        if (!sim_member_status(m, &cur) || cur.state != RAFT_LEADER)
            continue;
        if (best == NULL || cur.hard_state.term > st->hard_state.term) {
            best = m;
            *st = cur;
        }
    }
    return best;
}

/* A slot that never ran (its id was never a member), or n_members when none is left. */
static uint32_t spare_slot(const struct sim *s)
{
    for (uint32_t k = s->n_founders; k < s->n_members; k++)
        if (!s->members[k].booted)
            return k;
    return s->n_members;
}

/* A learner the leader has sent everything committed. */
static bool caught_up_learner(const struct raft_status *st, raft_id *id)
{
    for (uint32_t i = 0; i < st->n_members; i++) {
        const struct raft_member_status *p = &st->members[i];
        if (p->learner && p->match >= st->hard_state.commit) {
            *id = p->id;
            return true;
        }
    }
    return false;
}

/* The next change for the configuration the leader sees: promote a learner that caught up, else
 * add a new member (a learner three times in four) or remove one, with even odds. */
static bool choose(struct sim *s, const struct raft_status *st, struct raft_conf_change *cc)
{
    const struct raft_conf_state *c = &st->conf;
    if (caught_up_learner(st, &cc->id)) {
        cc->type = RAFT_CONF_PROMOTE;
        return true;
    }
    uint32_t spare = spare_slot(s);
    if (spare < s->n_members && sim_rng_chance(&s->rng, 500)) {
        cc->type = sim_rng_chance(&s->rng, 250) ? RAFT_CONF_ADD_VOTER : RAFT_CONF_ADD_LEARNER;
        cc->id = spare + 1;
        return true;
    }
    uint32_t pick = (uint32_t)sim_rng_below(&s->rng, c->n_voters + c->n_learners);
    if (pick < c->n_voters && c->n_voters <= VOTERS_MIN)
        return false;
    cc->type = RAFT_CONF_REMOVE;
    cc->id = pick < c->n_voters ? c->voters[pick] : c->learners[pick - c->n_voters];
    return true;
}

void sim_conf_propose(struct sim *s)
{
    struct raft_status st;
    struct raft_conf_change cc = {0};
    struct sim_member *l = leader(s, &st);
    if (l == NULL || !choose(s, &st, &cc))
        return;
    /* Any member may take it: a follower or learner forwards it to the leader. */
    struct sim_member *m = &s->members[sim_member_pick(s)];
    if (!m->up)
        m = l;
    int rc = raft_propose_conf_change(m->r, &cc, NULL, 0, NULL);
    /* m may be a stale leader, whose configuration is older than the one the change is for. */
    ASSERT(rc == 0 || rc == -RINGD_ENO_LEADER || rc == -RINGD_EFULL ||
           rc == -RINGD_ELEADER_CHANGED || rc == -RINGD_ECONF_CHANGE_PENDING ||
           rc == -RINGD_EMEMBER_EXIST || rc == -RINGD_EMEMBER_NOT_FOUND ||
           rc == -RINGD_EMEMBER_NOT_LEARNER);
    sim_trace(s, "member %" PRIu64 " proposes %s %" PRIu64 ": %d", m->id, change_names[cc.type],
              cc.id, rc);
    s->stats.conf_proposed += rc == 0;
    sim_member_drive(s, m);
}

void sim_conf_transfer(struct sim *s)
{
    struct raft_status st;
    struct sim_member *l = leader(s, &st);
    if (l == NULL)
        return;
    raft_id to = st.conf.voters[sim_rng_below(&s->rng, st.conf.n_voters)];
    int rc = raft_transfer_leader(l->r, to);
    ASSERT(rc == 0); /* to is a voter of the configuration the leader leads */
    sim_trace(s, "leader %" PRIu64 " transfers leadership to %" PRIu64, l->id, to);
    s->stats.transfers += to != l->id;
    sim_member_drive(s, l);
}

/* The operator starts a member whose addition applied somewhere, with an empty configuration:
 * it takes no entry before the leader's snapshot names the members. */
static void join(struct sim *s, raft_id id)
{
    ASSERT(id >= 1 && id <= s->n_members);
    struct sim_member *m = &s->members[id - 1];
    if (m->booted)
        return;
    struct raft_conf_state empty = {0};
    sim_member_boot(s, m, (uint32_t)(id - 1), &empty);
    s->stats.joined++;
    sim_trace(s, "member %" PRIu64 " joins, empty", id);
}

void sim_conf_apply(struct sim *s, struct sim_member *m, const struct raft_entry *e)
{
    struct raft_conf_change cc;
    if (raft_conf_change_decode(e, &cc, NULL, NULL) != 0)
        sim_fail(s, "member %" PRIu64 " applies a malformed conf change at %" PRIu64, m->id,
                 e->index);
    int rc = raft_apply_conf_change(m->r, &cc, &m->conf);
    sim_trace(s, "member %" PRIu64 " applies %s %" PRIu64 " at %" PRIu64 ": %d", m->id,
              change_names[cc.type], cc.id, e->index, rc);
    if (rc != 0)
        return; /* the configuration could not take it: so on every member */
    ASSERT(cc.id <= SIM_MEMBERS_MAX);
    if (e->index > s->conf_now_index) {
        s->conf_before = s->conf_now;
        s->conf_now = m->conf;
        s->conf_now_index = e->index;
    }
    if (cc.type == RAFT_CONF_ADD_LEARNER || cc.type == RAFT_CONF_ADD_VOTER)
        join(s, cc.id);
    if (cc.type == RAFT_CONF_REMOVE) {
        m->kv.removed |= 1u << cc.id;
        if (s->removed_at[cc.id - 1] == 0)
            s->removed_at[cc.id - 1] = s->sched.now;
    }
    if (cc.id != m->id)
        return;
    s->stats.promoted += cc.type == RAFT_CONF_PROMOTE;
    s->stats.removed += cc.type == RAFT_CONF_REMOVE;
    if (cc.type == RAFT_CONF_REMOVE)
        sim_sched_after(&s->sched, sim_rng_range(&s->rng, STOP_DELAY_MIN_US, STOP_DELAY_MAX_US),
                        SIM_EV_STOP, m->idx, m->incarnation);
}

void sim_conf_stop(struct sim *s, struct sim_member *m)
{
    ASSERT(m->booted && !m->stopped);
    sim_trace(s, "member %" PRIu64 " stops: removed", m->id);
    if (m->up)
        sim_member_free(m);
    m->up = false;
    m->stopped = true;
    m->incarnation++;
    s->stats.stopped++;
}

bool sim_conf_refused(struct sim *s, const struct sim_member *to, uint32_t from)
{
    ASSERT(from < s->n_members);
    return to->up && (to->kv.removed >> (from + 1) & 1);
}

void sim_conf_tick(struct sim *s, struct sim_member *m)
{
    ASSERT(m->up);
    sim_us at = s->removed_at[m->idx];
    if (at != 0 && s->sched.now >= at + STOP_DELAY_MAX_US)
        sim_conf_stop(s, m);
}
