/* The raft core's own state and the functions its files share (raft.c: lifecycle, Ready,
 * state changes; raft_election.c: votes; raft_replication.c: appends, heartbeats,
 * snapshots; raft_propose.c: proposals and their forwarding; raft_read.c: ReadIndex;
 * raft_transfer.c: leadership transfer; raft_conf.c: membership changes). Nothing outside
 * core/raft*.c includes this. */
#ifndef RINGD_RAFT_INTERNAL_H
#define RINGD_RAFT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "raft.h"
#include "raft_log.h"
#include "raft_progress.h"

/* Messages and read answers waiting for a Ready (pending), or handed out in one (handed).
 * MsgApp entries are copies of the log's entry headers in ents; their data stays in the log's
 * byte ring, pinned from pin_pos on. MsgSnap messages point at the one snapshot meta snap.
 * MsgProp entries (a follower's forwarded proposals) are in ents too, their data copied into
 * fwd (forward_bytes_max), which is not the log's. */
struct raft_outbox {
    struct raft_msg now[RAFT_MSGS_MAX];   /* may leave before the Ready is persisted */
    struct raft_msg after[RAFT_MSGS_MAX]; /* only after */
    struct raft_entry ents[RAFT_OUTBOX_ENTRIES_MAX];
    struct raft_read_state reads[RAFT_READ_INDEX_MAX];
    struct raft_snapshot_meta snap;
    uint8_t *fwd;
    uint64_t n_fwd;
    struct raft_msg *prop; /* the MsgProp this turn's next forwarded proposal may join */
    uint32_t n_now;
    uint32_t n_after;
    uint32_t n_ents;
    uint32_t n_reads;
    bool has_snap;
    uint64_t pin_pos; /* lowest byte position the ents' data use; UINT64_MAX: none */
};

/* A linearizable read on the leader, in arrival order (etcd read_only.go). */
struct raft_read_req {
    raft_id from; /* the follower that forwarded it (answered with MsgReadIndexResp), or 0 */
    uint64_t context;
    raft_index index; /* the commit index at arrival; 0: waits for the term's first commit */
    uint64_t round;   /* the heartbeat round confirming it; 0: none started yet */
};

struct raft {
    struct raft_config cfg;
    enum raft_state state;
    raft_term term;
    raft_id vote;
    raft_id leader;
    uint32_t election_elapsed;            /* ticks since the last election timeout reset */
    uint32_t heartbeat_elapsed;           /* leader: ticks since the last heartbeat */
    uint32_t randomized_election_timeout; /* in [election_ticks, 2 * election_ticks) */
    uint64_t rand_state;
    raft_term durable_term;  /* the term of the last hard state persisted (restored or advanced) */
    raft_id lead_transferee; /* leader: leadership transfer in progress to this voter */
    /* Membership changes (raft_conf.c). The configuration in force is tracker.conf. */
    raft_index pending_conf_index; /* leader: the last conf change it appended (etcd) */
    raft_index conf_index;         /* the log index tracker.conf is as of */
    raft_index conf_handed_index;  /* the last conf-change entry handed out to be applied */
    uint8_t *conf_buf;             /* a conf-change entry being encoded */
    bool snapshot_restored;        /* raft_restore_snapshot was called */
    bool restored;                 /* raft_restore_finish was called: the member runs */
    bool bcast_pending;            /* leader: new entries or commit to send at the next Ready */
    struct raft_log log;
    struct raft_tracker tracker;
    struct raft_snapshot_meta snapshot; /* the latest snapshot the caller holds */
    /* A snapshot a leader sent, reset into the log, waiting to be handed out (follower). */
    bool install_pending;
    struct raft_snapshot_meta install;

    /* The Ready. pending collects what steps produce; raft_ready swaps it with handed. */
    struct raft_outbox *pending;
    struct raft_outbox *handed;
    bool ready_out;              /* a Ready is handed out and not advanced yet */
    raft_index ready_stable_to;  /* its last entry (cut back if the log was cut meanwhile) */
    raft_index ready_applied_to; /* its last committed entry */
    uint64_t ready_pin;          /* lowest byte position its entries use; UINT64_MAX: none */
    struct raft_snapshot_meta install_handed;
    struct raft_hard_state prev_hs; /* as last handed out (or restored) */
    enum raft_state prev_state;
    raft_id prev_leader;
    struct raft_entry *ready_entries;   /* log window's size */
    struct raft_entry *ready_committed; /* RAFT_APPLY_ENTRIES_MAX */

    struct raft_read_req *reads; /* a ring of RAFT_READ_INDEX_MAX from reads_head */
    uint32_t reads_head;
    uint32_t n_reads;
    uint64_t read_round; /* the last heartbeat round started for reads (never reused) */
    uint64_t msgs_dropped;
    char event[RAFT_EVENT_BYTES_MAX];
};

/* raft.c */
void raft_event(struct raft *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queues m (from, and term for all but votes, filled in) for the next Ready; NULL-safe on a
 * full list (the message is dropped and counted, as a lossy network would). Returns the queued
 * copy or NULL. */
struct raft_msg *raft_send(struct raft *r, const struct raft_msg *m);
/* True when raft_send has room for a message of this type now. */
bool raft_can_send(const struct raft *r, uint8_t type);
void raft_become_follower(struct raft *r, raft_term term, raft_id leader);
void raft_become_candidate(struct raft *r);
void raft_become_pre_candidate(struct raft *r);
void raft_become_leader(struct raft *r);
bool raft_promotable(struct raft *r);
/* Cuts the log after index (a follower's conflict), keeping the Ready's bookkeeping right. */
void raft_truncate(struct raft *r, raft_index index);
/* Replaces a follower's log by the snapshot s (newer than its commit index), keeping the
 * Ready's bookkeeping and the queued acknowledgements right. */
void raft_reset_to_snapshot(struct raft *r, const struct raft_snapshot_meta *s);
/* Asserts the member's invariants. */
void raft_check(const struct raft *r);

/* raft_election.c */
/* Starts an election (pre-vote first when configured and not a transfer). */
void raft_hup(struct raft *r, bool transfer);
/* MsgVote / MsgPreVote after the term checks. */
void raft_handle_vote(struct raft *r, const struct raft_msg *m);
/* MsgVoteResp / MsgPreVoteResp on a (pre-)candidate. */
void raft_handle_vote_resp(struct raft *r, const struct raft_msg *m);
/* Term checks of raft_step: false when m is done with (stale or ignored). */
bool raft_step_term(struct raft *r, const struct raft_msg *m);

/* raft_propose.c */
/* raft_propose for an entry of type: the leader appends it, a follower forwards it. */
int raft_propose_typed(struct raft *r, uint8_t type, const void *data, uint32_t len,
                       raft_index *index_out);
/* MsgProp: the leader appends its entries; others drop it. */
int raft_handle_prop(struct raft *r, const struct raft_msg *m);

/* raft_transfer.c */
/* Leader: p acknowledged entries; the transferee that caught up is told to campaign. */
void raft_transfer_acked(struct raft *r, const struct raft_progress *p);
/* Leader: a tick; the transfer is given up after an election timeout. */
void raft_transfer_timeout(struct raft *r);
void raft_transfer_abort(struct raft *r, const char *why);

/* raft_conf.c */
/* Leader: why a conf-change entry of len bytes cannot be appended now (0: it can). */
int raft_conf_admit(struct raft *r, const uint8_t *data, uint32_t len);
/* True while committed conf changes wait to be applied: no campaign then (etcd). */
bool raft_conf_unapplied(const struct raft *r);
/* Restart: re-applies the conf changes in (snapshot, applied] to the configuration. */
int raft_conf_replay(struct raft *r, raft_index applied);

/* raft_replication.c */
int raft_handle_append(struct raft *r, const struct raft_msg *m);
void raft_handle_heartbeat(struct raft *r, const struct raft_msg *m);
int raft_handle_snapshot(struct raft *r, const struct raft_msg *m);
int raft_handle_append_resp(struct raft *r, const struct raft_msg *m);
void raft_handle_heartbeat_resp(struct raft *r, const struct raft_msg *m);
/* Leader: a MsgApp (or MsgSnap) to p if it is not paused; true when one was queued. */
bool raft_send_append(struct raft *r, struct raft_progress *p, bool send_if_empty);
void raft_bcast_append(struct raft *r);
void raft_bcast_heartbeat(struct raft *r, uint64_t context);
/* Leader: moves commit to the quorum's durable match when that is of its term. */
bool raft_maybe_commit(struct raft *r);
/* raft_read.c */
/* Leader: the commit index moved into its term; reads waiting for that get their index. */
void raft_read_committed(struct raft *r);
/* MsgReadIndex on the leader (queued as its own reads are), dropped elsewhere. */
void raft_handle_read_index(struct raft *r, const struct raft_msg *m);
/* MsgReadIndexResp on a follower: the answer goes into its read_states. */
void raft_handle_read_index_resp(struct raft *r, const struct raft_msg *m);
/* Leader, at each Ready: starts one heartbeat round for the reads that have none. */
void raft_read_flush(struct raft *r);
/* Leader: p answered a heartbeat of round (0: not a read round); answers what a quorum
 * confirmed. */
void raft_read_ack(struct raft *r, struct raft_progress *p, uint64_t round);

#endif
