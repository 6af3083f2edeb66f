/* Elections: campaigns, pre-votes, votes, their tally, and the term checks every message goes
 * through first (etcd raft.go: campaign, poll, Step's preamble and vote handling). */
#include <inttypes.h>

#include "raft_internal.h"
#include "ringd_assert.h"

static const char *name(uint8_t type)
{
    return raft_msg_type_name((enum raft_msg_type)type);
}

static enum raft_vote_result poll(struct raft *r, raft_id id, uint8_t type, bool granted)
{
    ASSERT(id != RAFT_NONE);
    ASSERT(type == RAFT_MSG_VOTE_RESP || type == RAFT_MSG_PRE_VOTE_RESP);
    if (granted)
        raft_event(r, "%" PRIx64 " received %s from %" PRIx64 " at term %" PRIu64, r->cfg.id,
                   name(type), id, r->term);
    else
        raft_event(r, "%" PRIx64 " received %s rejection from %" PRIx64 " at term %" PRIu64,
                   r->cfg.id, name(type), id, r->term);
    raft_tracker_record_vote(&r->tracker, id, granted);
    uint32_t yes, no;
    return raft_tracker_tally(&r->tracker, &yes, &no);
}

/* Becomes (pre-)candidate and asks every other voter; true when the member's own vote already
 * wins (its quorum is itself). */
static bool campaign_round(struct raft *r, bool pre, bool transfer)
{
    raft_term term;
    uint8_t type;
    if (pre) {
        raft_become_pre_candidate(r);
        type = RAFT_MSG_PRE_VOTE;
        term = r->term + 1; /* the term it would campaign in; its own stays */
    } else {
        raft_become_candidate(r);
        type = RAFT_MSG_VOTE;
        term = r->term;
    }
    ASSERT(pre ? r->state == RAFT_PRE_CANDIDATE : r->vote == r->cfg.id);
    uint8_t resp = pre ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP;
    if (poll(r, r->cfg.id, resp, true) == RAFT_VOTE_WON)
        return true;
    raft_index last = r->log.last;
    raft_term last_term = raft_log_last_term(&r->log);
    const struct raft_conf_state *c = &r->tracker.conf;
    ASSERT(c->n_voters <= RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < c->n_voters; i++) {
        if (c->voters[i] == r->cfg.id)
            continue;
        raft_event(r,
                   "%" PRIx64 " [logterm: %" PRIu64 ", index: %" PRIu64
                   "] sent %s request to %" PRIx64 " at term %" PRIu64,
                   r->cfg.id, last_term, last, name(type), c->voters[i], r->term);
        raft_send(r, &(struct raft_msg){.type = type,
                                        .to = c->voters[i],
                                        .term = term,
                                        .index = last,
                                        .log_term = last_term,
                                        .context = transfer ? RAFT_CONTEXT_TRANSFER : 0});
    }
    return false;
}

void raft_hup(struct raft *r, bool transfer)
{
    if (r->state == RAFT_LEADER) {
        raft_event(r, "%" PRIx64 " ignoring MsgHup because already leader", r->cfg.id);
        return;
    }
    if (!raft_promotable(r)) {
        raft_event(r, "%" PRIx64 " is unpromotable and can not campaign", r->cfg.id);
        return;
    }
    if (raft_conf_unapplied(r)) {
        /* Its configuration may be about to change: it might lead with the wrong one. */
        raft_event(r,
                   "%" PRIx64 " cannot campaign at term %" PRIu64
                   " since there are still pending configuration changes to apply",
                   r->cfg.id, r->term);
        return;
    }
    raft_event(r, "%" PRIx64 " is starting a new election at term %" PRIu64, r->cfg.id, r->term);
    bool pre = r->cfg.pre_vote && !transfer;
    if (!campaign_round(r, pre, transfer))
        return;
    if (pre && !campaign_round(r, false, transfer))
        return;
    raft_become_leader(r);
    ASSERT(r->state == RAFT_LEADER || r->state == RAFT_FOLLOWER);
}

void raft_handle_vote_resp(struct raft *r, const struct raft_msg *m)
{
    ASSERT(r->state == RAFT_CANDIDATE || r->state == RAFT_PRE_CANDIDATE);
    enum raft_vote_result res = poll(r, m->from, m->type, !m->reject);
    uint32_t yes, no;
    raft_tracker_tally(&r->tracker, &yes, &no);
    ASSERT(yes >= 1); /* our own */
    raft_event(r, "%" PRIx64 " has received %u %s votes and %u vote rejections", r->cfg.id, yes,
               name(m->type), no);
    if (res == RAFT_VOTE_WON) {
        if (r->state == RAFT_PRE_CANDIDATE && !campaign_round(r, false, false))
            return;
        raft_become_leader(r);
    } else if (res == RAFT_VOTE_LOST) {
        /* A pre-vote response carries the future term: keep ours. */
        raft_become_follower(r, r->term, RAFT_NONE);
    }
}

static bool log_up_to_date(const struct raft *r, raft_index index, raft_term log_term)
{
    raft_term last_term = raft_log_last_term(&r->log);
    ASSERT(last_term <= r->term);
    return log_term > last_term || (log_term == last_term && index >= r->log.last);
}

void raft_handle_vote(struct raft *r, const struct raft_msg *m)
{
    ASSERT(m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE);
    ASSERT(m->term >= r->term);
    bool can_vote = r->vote == m->from || (r->vote == RAFT_NONE && r->leader == RAFT_NONE) ||
                    (m->type == RAFT_MSG_PRE_VOTE && m->term > r->term);
    uint8_t resp = m->type == RAFT_MSG_VOTE ? RAFT_MSG_VOTE_RESP : RAFT_MSG_PRE_VOTE_RESP;
    bool grant = can_vote && log_up_to_date(r, m->index, m->log_term);
    raft_event(r,
               "%" PRIx64 " [logterm: %" PRIu64 ", index: %" PRIu64 ", vote: %" PRIx64
               "] %s %s %s %" PRIx64 " [logterm: %" PRIu64 ", index: %" PRIu64 "] at term %" PRIu64,
               r->cfg.id, raft_log_last_term(&r->log), r->log.last, r->vote,
               grant ? "cast" : "rejected", name(m->type), grant ? "for" : "from", m->from,
               m->log_term, m->index, r->term);
    if (!grant) {
        raft_term term = r->term != 0 ? r->term : m->term;
        raft_send(r, &(struct raft_msg){.type = resp, .to = m->from, .term = term, .reject = true});
        return;
    }
    /* The vote is recorded now and handed out in the next Ready's hard state; the response
     * leaves only after that is durable (msgs_after_persist). */
    raft_send(r, &(struct raft_msg){.type = resp, .to = m->from, .term = m->term});
    if (m->type == RAFT_MSG_VOTE) {
        /* A pre-candidate may grant again the vote it gave in this term. */
        ASSERT(r->term == m->term && (r->state == RAFT_FOLLOWER || r->state == RAFT_PRE_CANDIDATE));
        r->election_elapsed = 0;
        r->vote = m->from;
    }
}

/* A message of a higher term: true to go on with it, false when ignored. */
static bool step_higher_term(struct raft *r, const struct raft_msg *m)
{
    ASSERT(m->term > r->term);
    bool vote = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE;
    if (vote && m->context != RAFT_CONTEXT_TRANSFER && r->cfg.check_quorum &&
        r->leader != RAFT_NONE && r->election_elapsed < r->cfg.election_ticks) {
        /* A leader was heard from within an election timeout: this candidate is disruptive. */
        raft_event(r,
                   "%" PRIx64 " [logterm: %" PRIu64 ", index: %" PRIu64 ", vote: %" PRIx64
                   "] ignored %s from %" PRIx64 " [logterm: %" PRIu64 ", index: %" PRIu64
                   "] at term %" PRIu64 ": lease is not expired (remaining ticks: %u)",
                   r->cfg.id, raft_log_last_term(&r->log), r->log.last, r->vote, name(m->type),
                   m->from, m->log_term, m->index, r->term,
                   r->cfg.election_ticks - r->election_elapsed);
        return false;
    }
    if (m->type == RAFT_MSG_PRE_VOTE || (m->type == RAFT_MSG_PRE_VOTE_RESP && !m->reject))
        return true; /* pre-votes never change a term */
    raft_event(r,
               "%" PRIx64 " [term: %" PRIu64
               "] received a %s message with higher term from %" PRIx64 " [term: %" PRIu64 "]",
               r->cfg.id, r->term, name(m->type), m->from, m->term);
    bool from_leader =
        m->type == RAFT_MSG_APP || m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_SNAP;
    raft_become_follower(r, m->term, from_leader ? m->from : RAFT_NONE);
    ASSERT(r->term == m->term);
    return true;
}

bool raft_step_term(struct raft *r, const struct raft_msg *m)
{
    ASSERT(m->term != 0 && m->from != r->cfg.id);
    if (m->term > r->term)
        return step_higher_term(r, m);
    if (m->term == r->term)
        return true;
    if ((r->cfg.check_quorum || r->cfg.pre_vote) &&
        (m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_APP)) {
        /* A leader cut off from us may not know it: our term in the answer tells it, so it
         * steps down instead of disrupting us when it comes back (etcd). */
        raft_send(r, &(struct raft_msg){.type = RAFT_MSG_APP_RESP, .to = m->from});
    } else if (m->type == RAFT_MSG_PRE_VOTE) {
        raft_event(r,
                   "%" PRIx64 " [logterm: %" PRIu64 ", index: %" PRIu64 ", vote: %" PRIx64
                   "] rejected %s from %" PRIx64 " [logterm: %" PRIu64 ", index: %" PRIu64
                   "] at term %" PRIu64,
                   r->cfg.id, raft_log_last_term(&r->log), r->log.last, r->vote, name(m->type),
                   m->from, m->log_term, m->index, r->term);
        raft_send(
            r, &(struct raft_msg){
                   .type = RAFT_MSG_PRE_VOTE_RESP, .to = m->from, .term = r->term, .reject = true});
    } else {
        raft_event(r,
                   "%" PRIx64 " [term: %" PRIu64
                   "] ignored a %s message with lower term from %" PRIx64 " [term: %" PRIu64 "]",
                   r->cfg.id, r->term, name(m->type), m->from, m->term);
    }
    return false;
}
