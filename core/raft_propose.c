/* Proposals: the leader appends them to its log; a follower forwards them to its leader in a
 * MsgProp (etcd stepFollower), and the leader appends forwarded entries as its own. A
 * forwarded proposal is fire-and-forget, as in etcd: dropped on the way or by a leader that
 * cannot take it, the caller's request times out. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "raft_internal.h"
#include "ringd_assert.h"
#include "ringd_error.h"

/* Leader: appends a proposal of this member or forwarded by a follower. */
static int leader_append(struct raft *r, uint8_t type, const void *data, uint32_t len,
                         raft_index *index_out)
{
    ASSERT(r->state == RAFT_LEADER);
    ASSERT(len == 0 || data != NULL);
    if (r->lead_transferee != RAFT_NONE)
        return -RINGD_ELEADER_CHANGED;
    if (len > RAFT_ENTRY_BYTES_MAX || len > r->cfg.log_bytes_max / 2)
        return -RINGD_EREQUEST_TOO_LARGE;
    /* One slot stays free for a future leader's empty entry. And at most half the window is
     * uncommitted (etcd bounds it too, MaxUncommittedEntriesSize): a leader elected with a
     * full window of entries it cannot commit alone could never replicate its own entry into
     * followers' windows as full, and nothing would ever commit again. */
    uint64_t slots = (uint64_t)r->log.slots_mask + 1;
    if (r->log.last - r->log.snap_index + 2 > slots || r->log.last - r->log.committed >= slots / 2)
        return -RINGD_EFULL;
    if (type == RAFT_ENTRY_CONF_CHANGE) {
        int rc = raft_conf_admit(r, data, len);
        if (rc != 0)
            return rc;
    }
    int rc = raft_log_append(&r->log, r->term, type, data, len);
    if (rc != 0)
        return rc;
    if (type == RAFT_ENTRY_CONF_CHANGE)
        r->pending_conf_index = r->log.last;
    if (index_out != NULL)
        *index_out = r->log.last;
    r->bcast_pending = true;
    return 0;
}

/* The MsgProp this turn's proposals to the leader go in (one per Ready, as the leader sends
 * one MsgApp per Ready), or NULL when the Ready's messages are used up. */
static struct raft_msg *forward_msg(struct raft *r, const struct raft_entry *next)
{
    struct raft_outbox *o = r->pending;
    struct raft_msg *m = o->prop;
    if (m != NULL && m->to == r->leader && m->entries + m->n_entries == next &&
        m->n_entries < RAFT_MSG_ENTRIES_MAX)
        return m;
    if (!raft_can_send(r, RAFT_MSG_PROP))
        return NULL;
    m = raft_send(r, &(struct raft_msg){.type = RAFT_MSG_PROP, .to = r->leader, .entries = next});
    ASSERT(m != NULL && m->n_entries == 0);
    o->prop = m;
    return m;
}

/* Follower: forwards a proposal to its leader in a MsgProp. */
static int forward(struct raft *r, uint8_t type, const void *data, uint32_t len)
{
    ASSERT(r->state != RAFT_LEADER && r->leader != r->cfg.id);
    ASSERT(len == 0 || data != NULL);
    if (r->leader == RAFT_NONE)
        return -RINGD_ENO_LEADER;
    struct raft_outbox *o = r->pending;
    if (len > RAFT_ENTRY_BYTES_MAX || len > r->cfg.forward_bytes_max)
        return -RINGD_EREQUEST_TOO_LARGE;
    if (o->n_fwd + len > r->cfg.forward_bytes_max || o->n_ents == RAFT_OUTBOX_ENTRIES_MAX)
        return -RINGD_EFULL; /* this turn's share is used up: back-pressure */
    struct raft_entry *e = &o->ents[o->n_ents];
    struct raft_msg *m = forward_msg(r, e);
    if (m == NULL)
        return -RINGD_EFULL;
    *e = (struct raft_entry){.type = type, .len = len};
    if (len > 0) {
        memcpy(o->fwd + o->n_fwd, data, len);
        e->data = o->fwd + o->n_fwd;
        o->n_fwd += len;
    }
    o->n_ents++;
    m->n_entries++;
    ASSERT(m->entries + m->n_entries == &o->ents[o->n_ents]);
    ASSERT(o->n_fwd <= r->cfg.forward_bytes_max);
    return 0;
}

int raft_propose_typed(struct raft *r, uint8_t type, const void *data, uint32_t len,
                       raft_index *index_out)
{
    ASSERT(r->restored);
    ASSERT(len == 0 || data != NULL);
    if (index_out != NULL)
        *index_out = 0;
    int rc = r->state == RAFT_LEADER ? leader_append(r, type, data, len, index_out)
                                     : forward(r, type, data, len);
    raft_check(r);
    return rc;
}

int raft_propose(struct raft *r, const void *data, uint32_t len, raft_index *index_out)
{
    return raft_propose_typed(r, RAFT_ENTRY_NORMAL, data, len, index_out);
}

/* A MsgProp's entries come from a peer: checked before any is taken. */
static int validate_prop(const struct raft_msg *m)
{
    ASSERT(m->type == RAFT_MSG_PROP && (m->n_entries == 0 || m->entries != NULL));
    if (m->n_entries == 0 || m->n_entries > RAFT_MSG_ENTRIES_MAX)
        return -EINVAL;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        if (e->len > RAFT_ENTRY_BYTES_MAX || (e->len > 0 && e->data == NULL) ||
            e->type > RAFT_ENTRY_CONF_CHANGE)
            return -EINVAL;
    }
    return 0;
}

int raft_handle_prop(struct raft *r, const struct raft_msg *m)
{
    int rc = validate_prop(m);
    if (rc != 0)
        return rc;
    if (r->state != RAFT_LEADER) {
        /* No second hop (etcd forwards again): a stale view could bounce it around. */
        raft_event(r, "%" PRIx64 " not leader at term %" PRIu64 "; dropping proposal from %" PRIx64,
                   r->cfg.id, r->term, m->from);
        return 0;
    }
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        rc = leader_append(r, e->type, e->data, e->len, NULL);
        if (rc != 0)
            raft_event(r, "%" PRIx64 " [term %" PRIu64 "] dropping proposal from %" PRIx64 ": %s",
                       r->cfg.id, r->term, m->from, ringd_strerror(rc));
    }
    return 0;
}
