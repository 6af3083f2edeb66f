/* What a leader knows of each member (etcd's tracker/progress.go, inflights.go, tracker.go):
 * per-member replication progress as a tiny state machine, the window of appends in flight,
 * the configuration (voters, learners), and the vote tally of an election.
 * Thread: the owning raft's. */
#ifndef RINGD_RAFT_PROGRESS_H
#define RINGD_RAFT_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "raft.h"

/* How the leader sends to a follower.
 * PROBE: the leader does not know where the follower's log matches; one MsgApp at a time
 *   (probe_sent) until an answer or a heartbeat response says where to go on.
 * REPLICATE: the follower is known to match up to match; MsgApps stream optimistically
 *   (next moves on at send time) while the inflight window has room.
 * SNAPSHOT: the follower needs the snapshot at pending_snapshot; nothing else is sent until
 *   it reports back. */
enum raft_progress_state {
    RAFT_PROGRESS_PROBE,
    RAFT_PROGRESS_REPLICATE,
    RAFT_PROGRESS_SNAPSHOT,
};

/* One MsgApp in flight: the last index it carried and its entry bytes. */
struct raft_inflight {
    raft_index last;
    uint64_t bytes;
};

/* A ring of the MsgApps sent and not acknowledged, oldest first, bounded by count (the ring's
 * capacity) and by bytes. Full stops sending; acknowledgements free from the front. */
struct raft_inflights {
    struct raft_inflight *ring; /* capacity slots, owned by the tracker */
    uint32_t capacity;
    uint32_t start;
    uint32_t count;
    uint64_t bytes;
    uint64_t bytes_max;
};

struct raft_progress {
    raft_id id;
    raft_index match;            /* entries up to here are durable on the member; match < next */
    raft_index next;             /* the next entry to send */
    raft_index pending_snapshot; /* SNAPSHOT: the index of the snapshot sent */
    raft_index sent_commit;      /* the highest commit index sent (what the member can know) */
    uint64_t read_ack;           /* the latest read-index heartbeat round it answered */
    uint8_t state;               /* enum raft_progress_state */
    bool learner;
    bool probe_sent;    /* PROBE: a MsgApp is out; wait (etcd MsgAppFlowPaused) */
    bool recent_active; /* heard from since the last check-quorum round */
    struct raft_inflights inflights;
};

enum raft_vote_result {
    RAFT_VOTE_PENDING,
    RAFT_VOTE_WON,
    RAFT_VOTE_LOST,
};

/* The configuration and everyone's progress: progress[0, n) are the voters then the learners,
 * in the configuration's order; votes[i] is progress[i]'s answer (1 yes, -1 no, 0 none). */
struct raft_tracker {
    struct raft_conf_state conf;
    uint32_t n;
    struct raft_progress progress[RAFT_MEMBERS_MAX];
    int8_t votes[RAFT_MEMBERS_MAX];
    struct raft_inflight *inflight_storage; /* RAFT_MEMBERS_MAX windows */
    uint32_t inflight_msgs_max;
    uint64_t inflight_bytes_max;
};

/* Allocates the inflight windows. Returns 0 or -ENOMEM. */
int raft_tracker_init(struct raft_tracker *t, uint32_t inflight_msgs_max,
                      uint64_t inflight_bytes_max);
void raft_tracker_destroy(struct raft_tracker *t);

/* Checks a configuration from outside (disk, a peer): ids non-zero and distinct, within
 * bounds. Returns 0 or -RINGD_ECORRUPT. */
int raft_conf_validate(const struct raft_conf_state *c);

/* Takes a configuration (validated) and resets every progress: next = last + 1, match 0
 * (self: match = persisted), PROBE. */
void raft_tracker_set_conf(struct raft_tracker *t, const struct raft_conf_state *c, raft_id self,
                           raft_index last, raft_index persisted);

/* Takes the configuration after a membership change: members that stay keep their progress
 * (a promoted learner too), new ones start in PROBE at last + 1, recently active (etcd
 * confchange initProgress); the votes of members that stay are kept. */
void raft_tracker_change_conf(struct raft_tracker *t, const struct raft_conf_state *c, raft_id self,
                              raft_index last, raft_index persisted);

/* Resets every progress as a new term starts (etcd raft.reset). */
void raft_tracker_reset(struct raft_tracker *t, raft_id self, raft_index last,
                        raft_index persisted);

/* The progress of id, or NULL when id is not a member. */
struct raft_progress *raft_tracker_get(struct raft_tracker *t, raft_id id);
bool raft_tracker_is_voter(const struct raft_tracker *t, raft_id id);

/* The highest index durable on a quorum of voters (etcd MajorityConfig.CommittedIndex). */
raft_index raft_tracker_committed(const struct raft_tracker *t);

/* The latest read-index round a quorum of voters answered; self answers every round up to
 * self_round. */
uint64_t raft_tracker_read_acked(const struct raft_tracker *t, raft_id self, uint64_t self_round);

/* True when a quorum of voters was recently active; self always counts (etcd QuorumActive). */
bool raft_tracker_quorum_active(const struct raft_tracker *t, raft_id self);

/* Votes: forget them, record id's (the first answer of each voter counts), count them. */
void raft_tracker_reset_votes(struct raft_tracker *t);
void raft_tracker_record_vote(struct raft_tracker *t, raft_id id, bool granted);
enum raft_vote_result raft_tracker_tally(const struct raft_tracker *t, uint32_t *granted,
                                         uint32_t *rejected);

/* Progress transitions (etcd progress.go). */
void raft_progress_become_probe(struct raft_progress *p);
void raft_progress_become_replicate(struct raft_progress *p);
void raft_progress_become_snapshot(struct raft_progress *p, raft_index snapshot_index);
/* An acknowledgement of n: true when match moved. */
bool raft_progress_maybe_update(struct raft_progress *p, raft_index n);
/* A rejection of the MsgApp after rejected, the follower hinting match_hint: true when it was
 * not stale and next moved back. */
bool raft_progress_maybe_decr_to(struct raft_progress *p, raft_index rejected,
                                 raft_index match_hint);
/* The leader sent entries up to last (bytes of them). */
void raft_progress_sent_entries(struct raft_progress *p, raft_index last, uint64_t bytes,
                                uint32_t n_entries);
/* True when the leader should not send this member another MsgApp now. */
bool raft_progress_is_paused(const struct raft_progress *p);

/* Inflight window. */
bool raft_inflights_full(const struct raft_inflights *in);
void raft_inflights_add(struct raft_inflights *in, raft_index last, uint64_t bytes);
void raft_inflights_free_le(struct raft_inflights *in, raft_index to);
void raft_inflights_free_first(struct raft_inflights *in);

#endif
