/* Membership changes, one member at a time (etcd's confchange.Simple with a single change, and
 * raft.go's pendingConfIndex, applyConfChange, switchToConfig): the entry format, the rule
 * that the configuration takes one change at a time, and what the core does when the caller
 * applies a change. A change takes effect when applied, on every member alike, so the checks
 * here must give the same answer everywhere: they look only at the configuration in force. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "raft_internal.h"
#include "ringd_assert.h"
#include "ringd_bytes.h"
#include "ringd_error.h"

#define CONF_CHANGE_VERSION 1

static const char *const type_names[RAFT_CONF_CHANGE_TYPES] = {"v", "l", "r", "p", "u"};

static int find(const raft_id *ids, uint32_t n, raft_id id)
{
    ASSERT(n <= RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return (int)i;
    return -1;
}

static void remove_at(raft_id *ids, uint32_t *n, int i)
{
    ASSERT(i >= 0 && (uint32_t)i < *n);
    memmove(&ids[i], &ids[i + 1], (*n - (uint32_t)i - 1) * sizeof(ids[0]));
    (*n)--;
}

/* The configuration c after cc into *out, or the reason c cannot take it. */
static int conf_next(const struct raft_conf_state *c, const struct raft_conf_change *cc,
                     struct raft_conf_state *out)
{
    if (cc->type >= RAFT_CONF_CHANGE_TYPES || cc->id == RAFT_NONE)
        return -EINVAL;
    *out = *c;
    int v = find(c->voters, c->n_voters, cc->id);
    int l = find(c->learners, c->n_learners, cc->id);
    bool full = c->n_voters + c->n_learners >= RAFT_MEMBERS_MAX;
    switch ((enum raft_conf_change_type)cc->type) {
    case RAFT_CONF_ADD_VOTER:
        if (v >= 0)
            return -RINGD_EMEMBER_EXIST;
        if (l < 0 && full)
            return -RINGD_EFULL;
        break; /* a learner is promoted */
    case RAFT_CONF_PROMOTE:
        if (v >= 0)
            return -RINGD_EMEMBER_NOT_LEARNER;
        if (l < 0)
            return -RINGD_EMEMBER_NOT_FOUND;
        break;
    case RAFT_CONF_ADD_LEARNER:
        if (v >= 0 || l >= 0)
            return -RINGD_EMEMBER_EXIST; /* no demotion: etcd's server has none */
        if (full)
            return -RINGD_EFULL;
        out->learners[out->n_learners++] = cc->id;
        return 0;
    case RAFT_CONF_REMOVE:
        if (v < 0 && l < 0)
            return -RINGD_EMEMBER_NOT_FOUND;
        if (v >= 0 && c->n_voters == 1)
            return -EINVAL; /* nobody would be left to decide anything */
        if (v >= 0)
            remove_at(out->voters, &out->n_voters, v);
        else
            remove_at(out->learners, &out->n_learners, l);
        return 0;
    default:
        ASSERT(cc->type == RAFT_CONF_UPDATE);
        return v >= 0 || l >= 0 ? 0 : -RINGD_EMEMBER_NOT_FOUND;
    }
    if (l >= 0)
        remove_at(out->learners, &out->n_learners, l);
    out->voters[out->n_voters++] = cc->id;
    ASSERT(raft_conf_validate(out) == 0);
    return 0;
}

/* "voters=(1 2 3) learners=(4)" as etcd logs a configuration (cut short past size). */
static const char *conf_describe(const struct raft_conf_state *c, char *buf, size_t size)
{
    ASSERT(size > 0);
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < c->n_voters + c->n_learners && n < size; i++) {
        bool learner = i >= c->n_voters;
        raft_id id = learner ? c->learners[i - c->n_voters] : c->voters[i];
        bool first = i == 0 || i == c->n_voters;
        n += (size_t)snprintf(buf + n, size - n, "%s%s%" PRIx64, first && i > 0 ? ") " : "",
                              first ? (learner ? "learners=(" : "voters=(") : " ", id);
    }
    if (n + 1 < size && c->n_voters + c->n_learners > 0)
        snprintf(buf + n, size - n, ")");
    return buf;
}

int raft_conf_change_decode(const struct raft_entry *e, struct raft_conf_change *cc,
                            const void **context, uint32_t *context_len)
{
    if (e->type != RAFT_ENTRY_CONF_CHANGE || e->len < RAFT_CONF_CHANGE_HEADER_BYTES ||
        e->data == NULL)
        return -RINGD_ECORRUPT;
    const uint8_t *d = e->data;
    if (d[0] != CONF_CHANGE_VERSION || d[1] >= RAFT_CONF_CHANGE_TYPES)
        return -RINGD_ECORRUPT;
    for (uint32_t i = 2; i < 8; i++)
        if (d[i] != 0)
            return -RINGD_ECORRUPT;
    raft_id id = le_get_u64(d + 8);
    if (id == RAFT_NONE)
        return -RINGD_ECORRUPT;
    *cc = (struct raft_conf_change){.type = d[1], .id = id, .index = e->index};
    uint32_t len = e->len - RAFT_CONF_CHANGE_HEADER_BYTES;
    if (context != NULL)
        *context = len > 0 ? d + RAFT_CONF_CHANGE_HEADER_BYTES : NULL;
    if (context_len != NULL)
        *context_len = len;
    return 0;
}

int raft_conf_change_encode(const struct raft_conf_change *cc, const void *context,
                            uint32_t context_len, uint8_t *out)
{
    ASSERT(context_len == 0 || context != NULL);
    if (cc->type >= RAFT_CONF_CHANGE_TYPES || cc->id == RAFT_NONE)
        return -EINVAL;
    if (context_len > RAFT_CONF_CONTEXT_BYTES_MAX)
        return -RINGD_EREQUEST_TOO_LARGE;
    memset(out, 0, RAFT_CONF_CHANGE_HEADER_BYTES);
    out[0] = CONF_CHANGE_VERSION;
    out[1] = cc->type;
    le_put_u64(out + 8, cc->id);
    if (context_len > 0)
        memcpy(out + RAFT_CONF_CHANGE_HEADER_BYTES, context, context_len);
    return (int)(RAFT_CONF_CHANGE_HEADER_BYTES + context_len);
}

int raft_propose_conf_change(struct raft *r, const struct raft_conf_change *cc, const void *context,
                             uint32_t context_len, raft_index *index_out)
{
    if (index_out != NULL)
        *index_out = 0;
    int len = raft_conf_change_encode(cc, context, context_len, r->conf_buf);
    if (len < 0)
        return len;
    return raft_propose_typed(r, RAFT_ENTRY_CONF_CHANGE, r->conf_buf, (uint32_t)len, index_out);
}

int raft_conf_admit(struct raft *r, const uint8_t *data, uint32_t len)
{
    ASSERT(r->state == RAFT_LEADER);
    struct raft_entry e = {.type = RAFT_ENTRY_CONF_CHANGE, .data = data, .len = len};
    struct raft_conf_change cc;
    if (raft_conf_change_decode(&e, &cc, NULL, NULL) != 0)
        return -EINVAL;
    /* One at a time: consecutive configurations then always share a quorum. */
    if (r->pending_conf_index > r->log.applied || r->conf_handed_index > r->conf_index) {
        raft_event(r,
                   "%" PRIx64 " ignoring conf change %s%" PRIx64
                   ": possible unapplied conf change at index %" PRIu64 " (applied to %" PRIu64 ")",
                   r->cfg.id, type_names[cc.type], cc.id, r->pending_conf_index, r->log.applied);
        return -RINGD_ECONF_CHANGE_PENDING;
    }
    struct raft_conf_state next;
    return conf_next(&r->tracker.conf, &cc, &next);
}

/* The configuration changed: a leader that left steps down; one that stays commits by the new
 * quorum and probes the new members. */
static void switch_conf(struct raft *r, const struct raft_conf_state *c)
{
    raft_tracker_change_conf(&r->tracker, c, r->cfg.id, r->log.last, r->log.stable);
    char buf[RAFT_EVENT_BYTES_MAX / 2];
    raft_event(r, "%" PRIx64 " switched to configuration %s", r->cfg.id,
               conf_describe(c, buf, sizeof(buf)));
    if (r->state != RAFT_LEADER)
        return;
    if (!raft_tracker_is_voter(&r->tracker, r->cfg.id)) {
        /* The change is committed: the others elect a leader among themselves. They must
         * learn that first, or they would wait for this member's vote (a member left alone
         * with an old configuration of two): the commit index goes to them on the way out.
         * The caller keeps a removed member running a while (etcd's stopWithDelay). */
        raft_event(r, "%" PRIx64 " left the configuration and steps down", r->cfg.id);
        raft_bcast_heartbeat(r, 0);
        raft_become_follower(r, r->term, RAFT_NONE);
        return;
    }
    if (r->lead_transferee != RAFT_NONE && !raft_tracker_is_voter(&r->tracker, r->lead_transferee))
        raft_transfer_abort(r, "the transferee left the configuration");
    raft_maybe_commit(r);
    r->bcast_pending = true; /* new members are probed, the others learn the commit index */
}

int raft_apply_conf_change(struct raft *r, const struct raft_conf_change *cc,
                           struct raft_conf_state *out)
{
    ASSERT(r->restored && cc->index != 0);
    /* cc comes from raft_conf_change_decode of an entry this member handed out. */
    ASSERT(cc->type < RAFT_CONF_CHANGE_TYPES);
    if (cc->index > r->conf_index) {
        /* Only what this member handed out, once, in order. */
        ASSERT(cc->index <= r->conf_handed_index);
        r->conf_index = cc->index;
        if (cc->id == RAFT_NONE) {
            *out = r->tracker.conf; /* refused by the application: applied as a no-op */
            return 0;
        }
        struct raft_conf_state next;
        int rc = conf_next(&r->tracker.conf, cc, &next);
        if (rc == 0 && cc->type != RAFT_CONF_UPDATE)
            switch_conf(r, &next);
        if (rc != 0)
            raft_event(r, "%" PRIx64 " ignoring conf change %s%" PRIx64 " at index %" PRIu64 ": %s",
                       r->cfg.id, type_names[cc->type], cc->id, cc->index, ringd_strerror(rc));
        *out = r->tracker.conf;
        raft_check(r);
        return rc;
    }
    *out = r->tracker.conf; /* a snapshot installed since holds it */
    return 0;
}

bool raft_conf_unapplied(const struct raft *r)
{
    if (r->conf_handed_index > r->conf_index)
        return true;
    raft_index handed = r->ready_out ? r->ready_applied_to : r->log.applied;
    ASSERT(handed >= r->log.applied && handed <= r->log.committed);
    /* Bounded by the window. */
    for (raft_index i = handed + 1; i <= r->log.committed; i++) {
        struct raft_entry e;
        raft_log_entry(&r->log, i, &e, NULL);
        if (e.type == RAFT_ENTRY_CONF_CHANGE)
            return true;
    }
    return false;
}

int raft_conf_replay(struct raft *r, raft_index applied)
{
    ASSERT(r->conf_index == r->log.snap_index && applied <= r->log.committed);
    for (raft_index i = r->log.snap_index + 1; i <= applied; i++) {
        struct raft_entry e;
        raft_log_entry(&r->log, i, &e, NULL);
        if (e.type != RAFT_ENTRY_CONF_CHANGE)
            continue;
        struct raft_conf_change cc;
        if (raft_conf_change_decode(&e, &cc, NULL, NULL) != 0)
            return -RINGD_ECORRUPT;
        /* As when it was first applied: a change the configuration refused changes nothing. */
        struct raft_conf_state next;
        if (conf_next(&r->tracker.conf, &cc, &next) == 0 && cc.type != RAFT_CONF_UPDATE)
            raft_tracker_set_conf(&r->tracker, &next, r->cfg.id, r->log.last, r->log.stable);
        r->conf_index = i;
    }
    r->conf_handed_index = r->conf_index;
    return 0;
}
