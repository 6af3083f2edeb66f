/* Leadership transfer (etcd raft.go: stepLeader's MsgTransferLeader, sendTimeoutNow,
 * abortLeaderTransfer): the leader brings the transferee's log up to its own, then tells it to
 * campaign at once (MsgTimeoutNow). Proposals wait meanwhile, so that the transferee's log
 * stays as long as the leader's and it can win; the transfer is given up after an election
 * timeout. */
#include <inttypes.h>

#include "raft_internal.h"
#include "ringd_assert.h"
#include "ringd_error.h"

static void send_timeout_now(struct raft *r, raft_id to)
{
    ASSERT(r->state == RAFT_LEADER && to == r->lead_transferee);
    raft_event(r, "%" PRIx64 " sends MsgTimeoutNow to %" PRIx64 " as its log is up to date",
               r->cfg.id, to);
    raft_send(r, &(struct raft_msg){.type = RAFT_MSG_TIMEOUT_NOW, .to = to});
}

void raft_transfer_abort(struct raft *r, const char *why)
{
    ASSERT(r->lead_transferee != RAFT_NONE);
    raft_event(r, "%" PRIx64 " [term %" PRIu64 "] abort transferring leadership to %" PRIx64 ": %s",
               r->cfg.id, r->term, r->lead_transferee, why);
    r->lead_transferee = RAFT_NONE;
}

int raft_transfer_leader(struct raft *r, raft_id to)
{
    ASSERT(r->restored);
    if (r->state != RAFT_LEADER)
        return -RINGD_ENOT_LEADER;
    if (to == RAFT_NONE || !raft_tracker_is_voter(&r->tracker, to))
        return -RINGD_EBAD_LEADER_TRANSFEREE;
    if (to == r->cfg.id || to == r->lead_transferee)
        return 0; /* already the leader, or already on its way */
    if (r->lead_transferee != RAFT_NONE)
        raft_transfer_abort(r, "replaced by a new transfer");
    raft_event(r, "%" PRIx64 " [term %" PRIu64 "] starts to transfer leadership to %" PRIx64,
               r->cfg.id, r->term, to);
    /* The transfer has one election timeout to finish (etcd). */
    r->election_elapsed = 0;
    r->lead_transferee = to;
    struct raft_progress *p = raft_tracker_get(&r->tracker, to);
    ASSERT(p != NULL && !p->learner);
    if (p->match == r->log.last)
        send_timeout_now(r, to);
    else
        raft_send_append(r, p, true);
    raft_check(r);
    return 0;
}

void raft_transfer_acked(struct raft *r, const struct raft_progress *p)
{
    ASSERT(r->state == RAFT_LEADER && p->match <= r->log.last);
    if (p->id == r->lead_transferee && p->match == r->log.last)
        send_timeout_now(r, p->id);
}

void raft_transfer_timeout(struct raft *r)
{
    ASSERT(r->state == RAFT_LEADER && r->election_elapsed == 0);
    if (r->lead_transferee != RAFT_NONE)
        raft_transfer_abort(r, "it took longer than an election timeout");
}
