/* The checks the driver runs: after every step, raft's safety (sim_safety.h) over all members;
 * at the end, convergence and the linearizability of the clients' history. */
#include "sim.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ringd_assert.h"

#define LINEAR_STEPS_MAX 2000000 /* per key; past it the history is "undecided" */

void sim_require(struct sim *s, bool ok)
{
    if (!ok)
        sim_fail(s, "%s", s->safety.why);
}

static raft_index min_index(raft_index a, raft_index b)
{
    return a < b ? a : b;
}

/* The member's log up to what it knows committed and has persisted is the committed log. (A
 * snapshot a follower installs counts as persisted in raft_status at once, before its Ready is
 * even taken: what the disk does not hold yet is left for later.) */
static void check_committed_prefix(struct sim *s, struct sim_member *m,
                                   const struct raft_status *st)
{
    const struct sim_disk_view *w = &m->disk->written;
    raft_index to = min_index(min_index(st->hard_state.commit, st->persisted), w->last);
    for (raft_index i = m->checked_to + 1; i <= to; i++) {
        const struct sim_stored_entry *e = sim_disk_entry(w, i);
        if (e != NULL)
            sim_require(s, sim_safety_committed(&s->safety, m->id, i, e));
    }
    if (to > m->checked_to)
        m->checked_to = to;
}

static bool conf_equal(const struct raft_conf_state *a, const struct raft_conf_state *b)
{
    return a->n_voters == b->n_voters && a->n_learners == b->n_learners &&
           memcmp(a->voters, b->voters, a->n_voters * sizeof(a->voters[0])) == 0 &&
           memcmp(a->learners, b->learners, a->n_learners * sizeof(a->learners[0])) == 0;
}

void sim_check_step(struct sim *s)
{
    const struct sim_disk_view *durable[SIM_MEMBERS_MAX] = {0};
    for (uint32_t k = 0; k < s->n_members; k++) {
        struct sim_member *m = &s->members[k];
        if (m->booted && !m->stopped)
            durable[k] = &m->disk->durable;
        struct raft_status st;
        if (!sim_member_status(m, &st))
            continue;
        if (st.state == RAFT_LEADER)
            sim_require(s, sim_safety_leader(&s->safety, st.hard_state.term, m->id));
        check_committed_prefix(s, m, &st);
    }
    /* The last two configurations: one change apart, any majority of either intersects the
     * majority that committed an entry. (A member further behind, or removed, is kept from
     * winning by the vote's log check, which the end-to-end checks cover.) */
    const struct raft_conf_state confs[2] = {s->conf_now, s->conf_before};
    sim_require(s, sim_safety_quorum_durable(&s->safety, confs, 2, durable, s->n_members));
}

/* Members that must have converged: every one started and not stopped for good. */
static bool must_converge(const struct sim_member *m)
{
    return m->booted && !m->stopped;
}

bool sim_check_converged(struct sim *s)
{
    struct raft_status st[SIM_MEMBERS_MAX];
    uint32_t leader = SIM_MEMBERS_MAX;
    for (uint32_t k = 0; k < s->n_members; k++) {
        struct sim_member *m = &s->members[k];
        if (!must_converge(m))
            continue;
        if (!m->up || m->ready_out)
            return false;
        raft_status(m->r, &st[k]);
        if (st[k].state == RAFT_LEADER)
            leader = k;
    }
    if (leader == SIM_MEMBERS_MAX)
        return false;
    const struct raft_status *l = &st[leader];
    for (uint32_t k = 0; k < s->n_members; k++)
        if (must_converge(&s->members[k]) &&
            (st[k].hard_state.term != l->hard_state.term || st[k].leader != l->id ||
             st[k].hard_state.commit != l->hard_state.commit ||
             s->members[k].applied != l->hard_state.commit || !conf_equal(&st[k].conf, &l->conf)))
            return false;
    return true;
}

void sim_check_dump(struct sim *s)
{
    for (uint32_t k = 0; k < s->n_members; k++) {
        struct sim_member *m = &s->members[k];
        struct raft_status st;
        if (!sim_member_status(m, &st)) {
            fprintf(stderr, "  member %" PRIu64 ": %s\n", m->id,
                    !m->booted   ? "never started"
                    : m->stopped ? "stopped (removed)"
                                 : "down");
            continue;
        }
        fprintf(stderr,
                "  member %" PRIu64 ": %s term %" PRIu64 " leader %" PRIu64 " commit %" PRIu64
                " applied %" PRIu64 " persisted %" PRIu64 " last %" PRIu64
                " ready_out %d voters %u learners %u\n",
                m->id, raft_state_name(st.state), st.hard_state.term, st.leader,
                st.hard_state.commit, m->applied, st.persisted, st.last, m->ready_out,
                st.conf.n_voters, st.conf.n_learners);
    }
}

static void dump_key(const struct sim *s, uint32_t key)
{
    for (uint32_t i = 0; i < s->n_history; i++) {
        const struct sim_hist *h = &s->history[i];
        if (h->op.key != key || h->never)
            continue;
        static const char *const kinds[] = {"put", "get", "cas", "read"};
        fprintf(stderr, "  client %u %s arg %u arg2 %u call %" PRIu64 " ret ", h->client,
                kinds[h->op.kind], h->op.arg, h->op.arg2, h->op.call);
        if (h->op.ret == SIM_LINEAR_UNKNOWN)
            fprintf(stderr, "unknown\n");
        else
            fprintf(stderr, "%" PRIu64 " out %u\n", h->op.ret, h->op.out);
    }
}

void sim_check_history(struct sim *s)
{
    static struct sim_linear *checker;
    static struct sim_linear_op ops[SIM_HISTORY_MAX];
    if (checker == NULL)
        checker = sim_linear_create();
    ASSERT(checker != NULL);
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_history; i++)
        if (!s->history[i].never)
            ops[n++] = s->history[i].op;
    struct sim_linear_report rep;
    enum sim_linear_result r = sim_linear_check(checker, ops, n, LINEAR_STEPS_MAX, &rep);
    if (r == SIM_LINEAR_UNDECIDED) {
        s->stats.undecided++;
        sim_trace(s, "history undecided at key %u (%u operations)", rep.key, rep.ops);
    }
    if (r == SIM_LINEAR_VIOLATION) {
        fprintf(stderr, "history of key %u:\n", rep.key);
        dump_key(s, rep.key);
        sim_fail(s, "the history of key %u is not linearizable (%u operations)", rep.key, rep.ops);
    }
}
