/* The global committed log ("truth") is learnt from every member and checked against every
 * other; no member's own view is trusted over another's. */
#include "sim_safety.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ringd_assert.h"

#define FAIL(s, ...) (snprintf((s)->why, sizeof((s)->why), __VA_ARGS__), false)

void sim_safety_reset(struct sim_safety *s)
{
    /* Only what a run touched is cleared: the tables are large and runs are many. */
    memset(s->leader_of_term, 0, (s->term_max + 1) * sizeof(s->leader_of_term[0]));
    memset(s->known, 0, (s->known_max + 1) * sizeof(s->known[0]));
    memset(s->kv_known, 0, sizeof(s->kv_known));
    s->known_max = 0;
    s->quorum_floor = 0;
    s->quorum_shape = 0;
    s->term_max = 0;
    s->why[0] = 0;
}

bool sim_safety_leader(struct sim_safety *s, raft_term term, raft_id id)
{
    if (term >= SIM_TERMS_MAX)
        return FAIL(s, "term %" PRIu64 " past the simulator's table", term);
    if (term > s->term_max)
        s->term_max = term;
    raft_id *l = &s->leader_of_term[term];
    if (*l != RAFT_NONE && *l != id)
        return FAIL(s, "two leaders in term %" PRIu64 ": %" PRIu64 " and %" PRIu64, term, *l, id);
    *l = id;
    return true;
}

static bool same_entry(const struct sim_stored_entry *a, const struct sim_stored_entry *b)
{
    return a->term == b->term && a->type == b->type && a->len == b->len &&
           memcmp(a->data, b->data, a->len) == 0;
}

bool sim_safety_committed(struct sim_safety *s, raft_id id, raft_index index,
                          const struct sim_stored_entry *e)
{
    ASSERT(index > 0);
    if (index >= SIM_LOG_MAX)
        return FAIL(s, "index %" PRIu64 " past the simulator's table", index);
    if (!s->known[index]) {
        s->known[index] = true;
        s->truth[index] = *e;
        if (index > s->known_max)
            s->known_max = index;
        return true;
    }
    if (!same_entry(&s->truth[index], e))
        return FAIL(s,
                    "committed entry %" PRIu64 " differs on member %" PRIu64 ": term %" PRIu64
                    " there, term %" PRIu64 " known",
                    index, id, e->term, s->truth[index].term);
    return true;
}

bool sim_safety_written(struct sim_safety *s, raft_id id, raft_index index,
                        const struct sim_stored_entry *e)
{
    if (index >= SIM_LOG_MAX || !s->known[index] || same_entry(&s->truth[index], e))
        return true;
    return FAIL(s,
                "member %" PRIu64 " overwrites committed entry %" PRIu64 " (term %" PRIu64
                ") with term %" PRIu64,
                id, index, s->truth[index].term, e->term);
}

bool sim_safety_applied(struct sim_safety *s, raft_id id, raft_index index, const struct sim_kv *kv)
{
    if (index >= SIM_LOG_MAX)
        return FAIL(s, "index %" PRIu64 " past the simulator's table", index);
    if (!s->kv_known[index]) {
        s->kv_known[index] = true;
        s->kv_at[index] = *kv;
        return true;
    }
    if (!sim_kv_equal(&s->kv_at[index], kv))
        return FAIL(s,
                    "member %" PRIu64 "'s state machine at applied index %" PRIu64
                    " differs from another member's at that index",
                    id, index);
    return true;
}

static bool durable_has(const struct sim_disk_view *v, raft_index index,
                        const struct sim_stored_entry *e)
{
    if (index <= v->snap.index)
        return true;
    const struct sim_stored_entry *mine = sim_disk_entry(v, index);
    return mine != NULL && same_entry(mine, e);
}

/* A hash of what the quorum check depends on besides the disks, which only gain committed
 * entries: the configurations, and which members can still vote. */
static uint64_t quorum_shape(const struct raft_conf_state *confs, uint32_t n_confs,
                             const struct sim_disk_view *const *views, uint32_t n_views)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t c = 0; c < n_confs; c++)
        for (uint32_t i = 0; i < confs[c].n_voters; i++)
            h = (h ^ confs[c].voters[i] ^ (uint64_t)c << 32) * 0x100000001b3ull;
    for (uint32_t k = 0; k < n_views; k++)
        h = (h ^ (views[k] != NULL) << k) * 0x100000001b3ull;
    return h;
}

/* Voters of c that can vote and lack entry i (of truth e). */
static uint32_t lacking(const struct raft_conf_state *c, const struct sim_disk_view *const *views,
                        uint32_t n_views, raft_index i, const struct sim_stored_entry *e)
{
    uint32_t n = 0;
    for (uint32_t v = 0; v < c->n_voters; v++) {
        raft_id id = c->voters[v];
        ASSERT(id >= 1 && id <= n_views);
        const struct sim_disk_view *d = views[id - 1];
        n += d != NULL && !durable_has(d, i, e);
    }
    return n;
}

bool sim_safety_quorum_durable(struct sim_safety *s, const struct raft_conf_state *confs,
                               uint32_t n_confs, const struct sim_disk_view *const *views,
                               uint32_t n_views)
{
    uint64_t shape = quorum_shape(confs, n_confs, views, n_views);
    if (shape != s->quorum_shape) {
        s->quorum_shape = shape;
        s->quorum_floor = 0; /* check everything again against the new shape */
    }
    for (raft_index i = s->quorum_floor + 1; i <= s->known_max && s->known[i]; i++) {
        for (uint32_t c = 0; c < n_confs; c++) {
            uint32_t n = confs[c].n_voters,
                     lack = lacking(&confs[c], views, n_views, i, &s->truth[i]);
            if (lack >= n / 2 + 1)
                return FAIL(s,
                            "committed entry %" PRIu64 " is missing on %u of the %u voters of a "
                            "configuration a member may campaign in",
                            i, lack, n);
        }
        s->quorum_floor = i;
    }
    return true;
}

bool sim_safety_outgoing(struct sim_safety *s, const struct raft_msg *m,
                         const struct sim_disk_view *d)
{
    bool granted = !m->reject;
    switch (m->type) {
    case RAFT_MSG_APP_RESP:
        if (granted && m->index > d->last && m->index > d->snap.index)
            return FAIL(s, "%" PRIu64 " acknowledges index %" PRIu64 " with %" PRIu64 " durable",
                        m->from, m->index, d->last);
        return true;
    case RAFT_MSG_VOTE_RESP:
        /* A later term durable instead also keeps the member from voting twice. */
        if (granted && (d->hs.term < m->term || (d->hs.term == m->term && d->hs.vote != m->to)))
            return FAIL(s, "%" PRIu64 " grants its vote in term %" PRIu64 " before it is durable",
                        m->from, m->term);
        return true;
    case RAFT_MSG_VOTE:
        if (d->hs.term < m->term || (d->hs.term == m->term && d->hs.vote != m->from))
            return FAIL(s,
                        "%" PRIu64 " asks for votes in term %" PRIu64 " before its own is durable",
                        m->from, m->term);
        return true;
    case RAFT_MSG_APP:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAP:
        if (d->hs.term < m->term)
            return FAIL(s, "leader %" PRIu64 " sends in term %" PRIu64 " before it is durable",
                        m->from, m->term);
        return true;
    default:
        return true;
    }
}

struct sim_stored_entry sim_stored_entry_of(const struct raft_entry *e)
{
    ASSERT(e->len <= SIM_ENTRY_DATA_MAX);
    struct sim_stored_entry se = {.term = e->term, .type = e->type, .len = e->len};
    if (e->len > 0)
        memcpy(se.data, e->data, e->len);
    return se;
}
