/* The raft consensus core: a pure, deterministic state machine in the shape of etcd's raft
 * library (rawnode.go). No I/O, no clock, no threads, no rand: time comes in as raft_tick,
 * randomness from a seed in the config, messages as raft_step, proposals as raft_propose; out
 * comes a Ready batch the caller persists and sends, then hands back with raft_advance.
 *
 * The log. The core keeps the log itself, in memory, in a bounded window: entries from the last
 * compaction point (raft_compact) to the last index, their data copied into one byte ring the
 * core owns. The caller's WAL is the durable copy; on restart the caller hands the WAL back
 * (raft_restore_*). A full window is back-pressure: raft_propose returns -RINGD_EFULL, and a
 * follower takes what fits of an append and acknowledges that much (the leader sends the rest
 * once the caller compacted). Size the window above the snapshot interval.
 *
 * The Ready/advance contract (the durability rule). raft_ready hands out one batch:
 *   1. snapshot, entries, hard_state: make them durable, in that order. snapshot (not NULL
 *      only on a follower a leader sent one) replaces the state machine and the whole log.
 *      entries are appended to the log; entries[0].index may be at or below the last index
 *      already stored (a follower whose log conflicted with its leader's): the stored entries
 *      from that index on are replaced (the WAL's replay keeps the latest record of an
 *      index). hard_state (term, vote, commit), when has_hard_state, is recorded
 *      with them; its commit never passes the last entry persisted with it. When must_sync,
 *      all of it must be on disk (fdatasync) before any msgs_after_persist leaves.
 *   2. msgs_send_now: may be sent at once, before or while step 1 is persisted. They are the
 *      leader's own traffic (MsgApp, MsgHeartbeat, MsgSnap, MsgTimeoutNow, MsgReadIndexResp)
 *      once its term is durable: a leader may write its log in parallel with replicating it,
 *      because its own entries count towards a quorum only once raft_advance said they are
 *      durable; and forwarded requests (MsgProp, MsgReadIndex), which promise nothing.
 *   3. msgs_after_persist: send only after step 1 is durable. They are the promises: votes
 *      (MsgVoteResp: the vote must survive a crash), vote requests (the candidate's own vote
 *      and term first), append acknowledgements (MsgAppResp: the entries they acknowledge).
 *   4. committed: apply in order. Only entries committed and durable on this member are handed
 *      out, each once (a restart re-delivers those after the applied index it is given).
 *      Their data stays valid until raft_compact drops them, so the applier may read it in
 *      place (copy the raft_entry array itself before raft_advance).
 *   5. read_states: read-index answers (a read may be served once applied >= its index).
 * Then raft_advance(r, &rd) says: all of it is done (persisted, sent, handed to apply). Only
 * then do the batch's entries count as persisted: the commit index never passes entries this
 * member has persisted when its quorum is itself, and a leader counts itself in a quorum
 * for an index only once its own copy is persisted.
 *
 * Between raft_ready and raft_advance the caller may call raft_step, raft_tick, raft_propose,
 * raft_propose_conf_change, raft_apply_conf_change, raft_transfer_leader, raft_campaign,
 * raft_read_index and raft_status (a leader steps acknowledgements while its fsync runs);
 * what they produce goes into the next Ready. Pointers in a Ready stay valid
 * until raft_advance (committed entries' data longer, as step 4 says).
 * raft_ready may not be called again, nor raft_compact, before raft_advance.
 *
 * Thread: one object is used by one thread at a time (the raft actor's). Nothing is shared. */
#ifndef RINGD_RAFT_H
#define RINGD_RAFT_H

#include <stdbool.h>
#include <stdint.h>

#include "ringd_limits.h"

typedef uint64_t raft_term;  /* election term; 0 before the first election */
typedef uint64_t raft_index; /* position in the log; 1 is the first entry, 0 is "none" */
typedef uint64_t raft_id;    /* member id (etcd's member id); 0 is "none" */

#define RAFT_NONE ((raft_id)0)

/* MsgVote's context when the campaign is a leadership transfer (etcd campaignTransfer): voters
 * grant it even while they still hear from a leader. */
#define RAFT_CONTEXT_TRANSFER ((uint64_t)1)

/* A member's role. Pre-candidates ask for pre-votes without raising their term (pre-vote). */
enum raft_state {
    RAFT_FOLLOWER,
    RAFT_CANDIDATE,
    RAFT_LEADER,
    RAFT_PRE_CANDIDATE,
};

enum raft_entry_type {
    RAFT_ENTRY_NORMAL,      /* the caller's proposal, or empty (a new leader's first entry) */
    RAFT_ENTRY_CONF_CHANGE, /* a membership change: see raft_conf_change_decode */
};

/* One log entry. data points into memory the owner keeps valid (see each use). */
struct raft_entry {
    raft_term term;
    raft_index index;
    const uint8_t *data; /* len bytes; NULL when len is 0 */
    uint32_t len;
    uint8_t type; /* enum raft_entry_type */
};

/* The members: voters decide elections and commits, learners only receive the log. No joint
 * configurations: membership changes one member at a time (raft_propose_conf_change). A
 * member that knows no members at all (both lists empty) is joining an existing cluster: it
 * waits for the leader's snapshot (which names the members) before it takes any entry. */
struct raft_conf_state {
    uint32_t n_voters;
    uint32_t n_learners;
    raft_id voters[RAFT_MEMBERS_MAX];
    raft_id learners[RAFT_MEMBERS_MAX];
};

/* What a snapshot of the state machine covers: every entry up to index (of term), and the
 * members in force at that index. A new cluster starts from index 0 naming its members. */
struct raft_snapshot_meta {
    raft_index index;
    raft_term term;
    struct raft_conf_state conf;
};

/* The messages members exchange, with etcd's names (raftpb.MessageType). Local events are
 * functions here (raft_tick, raft_propose, raft_campaign), not messages. MsgProp and
 * MsgReadIndex carry no term (0), as etcd's: a forwarded request is valid whatever term its
 * sender is in, and never changes the receiver's term. */
enum raft_msg_type {
    RAFT_MSG_APP,             /* MsgApp: entries after index (of log_term), commit */
    RAFT_MSG_APP_RESP,        /* MsgAppResp: index matched, or reject with a hint */
    RAFT_MSG_VOTE,            /* MsgVote: candidate's last index and log_term */
    RAFT_MSG_VOTE_RESP,       /* MsgVoteResp */
    RAFT_MSG_PRE_VOTE,        /* MsgPreVote: as MsgVote, for term + 1, changes nothing */
    RAFT_MSG_PRE_VOTE_RESP,   /* MsgPreVoteResp */
    RAFT_MSG_SNAP,            /* MsgSnap: install the snapshot named by snapshot */
    RAFT_MSG_HEARTBEAT,       /* MsgHeartbeat: commit (at most the follower's match) */
    RAFT_MSG_HEARTBEAT_RESP,  /* MsgHeartbeatResp */
    RAFT_MSG_TIMEOUT_NOW,     /* MsgTimeoutNow: campaign now (leadership transfer) */
    RAFT_MSG_READ_INDEX,      /* MsgReadIndex: a follower asks the leader (no term) */
    RAFT_MSG_READ_INDEX_RESP, /* MsgReadIndexResp: index answers the read named by context */
    RAFT_MSG_PROP,            /* MsgProp: a follower forwards proposals to the leader (no term) */
    RAFT_MSG_TYPES,
};

/* One message. Incoming: every pointer is the caller's and needs to live only during
 * raft_step (the core copies what it keeps). Outgoing (in a Ready): pointers into the core,
 * valid until raft_advance. Bad values are the sender's fault: raft_step returns an error. */
struct raft_msg {
    uint8_t type; /* enum raft_msg_type */
    bool reject;
    raft_id from;
    raft_id to;
    raft_term term;
    raft_term log_term;     /* MsgApp: term at index; votes: term of the last entry */
    raft_index index;       /* MsgApp: entry before entries; MsgAppResp: matched or rejected */
    raft_index commit;      /* MsgApp, MsgHeartbeat: the leader's commit index */
    raft_index reject_hint; /* MsgAppResp reject: the follower's guess of the match */
    uint64_t context;       /* heartbeat and read-index request id; campaign transfer flag */
    const struct raft_entry *entries;
    uint32_t n_entries;
    const struct raft_snapshot_meta *snapshot; /* MsgSnap only */
};

/* The state that must survive a restart. */
struct raft_hard_state {
    raft_term term;
    raft_id vote;
    raft_index commit;
};

/* A read-index answer: a read started before this point may be served once the state machine
 * applied index. */
struct raft_read_state {
    uint64_t context;
    raft_index index;
};

/* One batch of work for the caller; see the contract at the top of this file. */
struct raft_ready {
    bool soft_state_changed; /* leader or state differ from the last Ready's */
    enum raft_state state;
    raft_id leader;
    bool has_hard_state;
    struct raft_hard_state hard_state;
    bool must_sync; /* entries, or a new term or vote: fdatasync before msgs_after_persist */
    const struct raft_entry *entries;
    uint32_t n_entries;
    const struct raft_entry *committed;
    uint32_t n_committed;
    const struct raft_msg *msgs_send_now;
    uint32_t n_msgs_send_now;
    const struct raft_msg *msgs_after_persist;
    uint32_t n_msgs_after_persist;
    const struct raft_snapshot_meta *snapshot;
    const struct raft_read_state *read_states;
    uint32_t n_read_states;
};

struct raft_config {
    raft_id id;
    uint32_t election_ticks;     /* followers campaign after [election, 2 * election) ticks */
    uint32_t heartbeat_ticks;    /* leaders send heartbeats this often; < election_ticks */
    bool pre_vote;               /* ask for pre-votes before raising the term (etcd --pre-vote) */
    bool check_quorum;           /* a leader that hears from no quorum for an election steps down */
    uint64_t seed;               /* the election-timeout jitter's generator: same seed, same run */
    uint32_t log_entries_max;    /* the log window, power of two <= RAFT_LOG_ENTRIES_MAX */
    uint64_t log_bytes_max;      /* entry data in the window, <= RAFT_LOG_BYTES_MAX */
    uint32_t msg_bytes_max;      /* entry bytes per MsgApp (at least one entry goes) */
    uint32_t inflight_msgs_max;  /* MsgApps in flight per follower, <= RAFT_INFLIGHT_MSGS_MAX */
    uint64_t inflight_bytes_max; /* entry bytes in flight per follower */
    uint64_t apply_bytes_max;    /* committed entry bytes per Ready (at least one entry goes) */
    uint64_t forward_bytes_max;  /* proposal bytes a follower forwards per Ready */
    /* Optional: events worth a log line ("1 became leader at term 2"), one line each without
     * a newline, for the caller to log; the text lives only during the call. */
    void (*on_event)(void *ctx, const char *line);
    void *event_ctx;
};

/* One member's replication progress as the leader sees it (see raft_progress.h). */
struct raft_member_status {
    raft_id id;
    bool learner;
    bool recent_active;
    bool paused;
    uint8_t state; /* enum raft_progress_state */
    raft_index match;
    raft_index next;
    uint32_t inflight_msgs;
};

struct raft_status {
    raft_id id;
    raft_id leader;
    raft_id lead_transferee; /* leader: the member leadership is being transferred to, or 0 */
    enum raft_state state;
    struct raft_hard_state hard_state; /* the current values, persisted or not */
    raft_index applied;
    raft_index first;            /* first index in the window; entries before it are compacted */
    raft_index last;             /* last index in the log, persisted or not */
    raft_index persisted;        /* last index the caller said is durable */
    uint64_t msgs_dropped;       /* messages not sent because a Ready's list was full */
    struct raft_conf_state conf; /* the members as of the last conf change applied */
    uint32_t n_members;          /* progress: only meaningful on a leader */
    struct raft_member_status members[RAFT_MEMBERS_MAX];
};

struct raft;

/* Fills c with etcd's defaults (election 10 ticks, heartbeat 1, pre-vote and check-quorum
 * off, etcd's message and inflight sizes) and the window defaults, for member id. */
void raft_config_default(struct raft_config *c, raft_id id);

/* Allocates a member that knows nothing yet, with every buffer it will use (the log window, the
 * Ready's lists): restore it before anything else. A bad config is a bug and asserted (configs
 * are the program's, checked where flags are parsed). Returns NULL when memory runs out. */
struct raft *raft_create(const struct raft_config *c);
void raft_destroy(struct raft *r);

/* Restart (or start) from stable storage, in this order, once, before anything else:
 * raft_restore_snapshot with the latest snapshot's meta (a new cluster: index 0, term 0, its
 * members), raft_restore_entries with the WAL's entries after it (any number of calls, in WAL
 * order; a record at or below the last index replaces the entries from there, as in the WAL),
 * then raft_restore_finish with the last hard state and the index the state machine has
 * applied (at least the snapshot's). Entries (applied, commit] come out again as committed.
 * A log whose last term passes the hard state's term (a torn write kept a Ready's entries but
 * not the hard state written after them) restarts at that term with no vote, which the first
 * Ready writes: the lost vote was never sent, and no other candidate of that term can get one.
 * Errors: -RINGD_ECORRUPT when the data contradict themselves (a gap, a commit past the last
 * entry, an applied index outside [snapshot, commit]); -RINGD_EFULL when the WAL holds more
 * than the window (compact more often). */
int raft_restore_snapshot(struct raft *r, const struct raft_snapshot_meta *snap);
int raft_restore_entries(struct raft *r, const struct raft_entry *entries, uint32_t n);
int raft_restore_finish(struct raft *r, const struct raft_hard_state *hs, raft_index applied);

/* One unit of logical time (etcd: one tick per heartbeat interval). */
void raft_tick(struct raft *r);

/* Starts an election now (etcd MsgHup), with a pre-vote first if configured. A member whose
 * quorum is itself becomes leader at once. Returns 0, or -RINGD_ENOT_CAPABLE for a member
 * that may not campaign (a learner, or a member not in the configuration). A leader: 0. A
 * member with committed conf changes not applied yet does not campaign (etcd), and says so
 * in an event: 0. */
int raft_campaign(struct raft *r);

/* On the leader: appends data (copied) as a new entry of the leader's term; *index_out (if not
 * NULL) is its index, so the caller can match the committed entry to the request. Many
 * proposals in one turn come out in one Ready and are sent to followers in as few MsgApps as
 * fit. Errors: -RINGD_EFULL (the log window is full: apply and compact first; or half of it
 * is not committed yet: a new leader must find room for its own entry),
 * -RINGD_EREQUEST_TOO_LARGE (len over RAFT_ENTRY_BYTES_MAX or half the window),
 * -RINGD_ELEADER_CHANGED (leadership is being transferred).
 * On a follower (or learner) that knows its leader: forwards the proposal to the leader in a
 * MsgProp (etcd; a turn's proposals share one) and returns 0 with *index_out 0: the caller cannot
 * know the entry's index and matches the committed entry by an id inside data. Nothing tells the
 * follower whether the leader took it (a leader that is transferring leadership, full, or no longer
 * leading drops it, as etcd's does): the caller times out. Errors: -RINGD_ENO_LEADER (no leader
 * known, or a candidate), -RINGD_EFULL (forward_bytes_max or the Ready's messages are used up this
 * turn), -RINGD_EREQUEST_TOO_LARGE (len over RAFT_ENTRY_BYTES_MAX or forward_bytes_max). */
int raft_propose(struct raft *r, const void *data, uint32_t len, raft_index *index_out);

/* Feeds one message from a peer. Returns 0 (also for stale or ignored messages), -EINVAL for a
 * malformed message (not to this member, no term or, for MsgProp and MsgReadIndex, one; an
 * unknown type; a MsgProp without entries or with bad ones), or -RINGD_ECORRUPT when
 * it contradicts raft's guarantees (entries that do not follow index one by one, or whose
 * terms go back or pass the message's; an acknowledgement past the leader's log; a snapshot
 * with a bad configuration); such a message is dropped, though a higher term in it was
 * already taken (as any message's is, first). */
int raft_step(struct raft *r, const struct raft_msg *m);

/* Asks for a linearizable read point (etcd ReadIndex) under the caller's context id. The
 * leader answers through a later Ready's read_states with its commit index at the time of the
 * request, once an entry of its term has committed and a quorum answered a heartbeat round
 * started after the request (all reads between two Readies share one round; a leader that is
 * its own quorum answers at the next Ready). A follower (or learner) that knows its leader
 * forwards the read in a MsgReadIndex; the leader runs it through the same round and answers
 * MsgReadIndexResp, which puts it into the follower's read_states (its log may not hold that
 * index yet: serve once applied reaches it). Reads not answered when the leader stops leading,
 * and forwarded reads or answers lost on the way, are dropped: the caller retries or times
 * out. Errors: -RINGD_ENO_LEADER (no leader known, or a candidate), -RINGD_EFULL
 * (RAFT_READ_INDEX_MAX reads waiting on the leader, or the Ready's messages used up). */
int raft_read_index(struct raft *r, uint64_t context);

/* Leadership transfer (etcd MsgTransferLeader), on the leader: to must be a voter. If its log
 * matches the leader's last index, MsgTimeoutNow goes at once (it campaigns without waiting
 * for its election timeout, and voters grant it even while they still hear from this leader);
 * else it is sent the log first, and MsgTimeoutNow once it acknowledges the last index. While
 * the transfer runs, proposals are refused (-RINGD_ELEADER_CHANGED; forwarded ones dropped);
 * it is given up after an election timeout, replaced by a transfer to another member, and
 * ends when this member stops leading. A transfer to self, or to the member already being
 * transferred to, changes nothing (etcd ignores it). raft_status names lead_transferee.
 * Errors: -RINGD_ENOT_LEADER, -RINGD_EBAD_LEADER_TRANSFEREE (not a member, or a learner). */
int raft_transfer_leader(struct raft *r, raft_id to);

/* ---- membership changes -------------------------------------------------------------------
 * One member at a time, no joint consensus, with etcd's single-step ConfChange semantics: a
 * change is proposed as a RAFT_ENTRY_CONF_CHANGE entry, and takes effect on each member when
 * the caller applies that entry (raft_apply_conf_change), not when it is appended. The leader
 * accepts a new change only once the previous one is applied (etcd's pendingConfIndex; a new
 * leader also waits for every entry it inherited to be applied), so consecutive
 * configurations always share a quorum. */
enum raft_conf_change_type {
    RAFT_CONF_ADD_VOTER,   /* a new voter; for a learner, promotes it (etcd ConfChangeAddNode) */
    RAFT_CONF_ADD_LEARNER, /* a new learner (etcd ConfChangeAddLearnerNode) */
    RAFT_CONF_REMOVE,      /* a voter or learner leaves (etcd ConfChangeRemoveNode) */
    RAFT_CONF_PROMOTE,     /* a learner becomes a voter (etcd's MemberPromote) */
    RAFT_CONF_UPDATE,      /* no raft effect: the caller's context changes (ConfChangeUpdateNode) */
    RAFT_CONF_CHANGE_TYPES,
};

struct raft_conf_change {
    uint8_t type; /* enum raft_conf_change_type */
    raft_id id;
    raft_index index; /* raft_conf_change_decode: the entry's index; ignored when proposing */
};

/* The entry's data: a header of RAFT_CONF_CHANGE_HEADER_BYTES (byte 0 the format version 1,
 * byte 1 the type, bytes 2-7 zero, bytes 8-15 the id little-endian), then the caller's context
 * bytes (etcd's ConfChange.Context: the member's attributes, e.g. its peer URLs). */
#define RAFT_CONF_CHANGE_HEADER_BYTES 16u

/* Proposes cc with context (copied; at most RAFT_CONF_CONTEXT_BYTES_MAX bytes), like
 * raft_propose (a follower forwards it, *index_out 0). The leader checks it against the
 * current configuration first. Errors: those of raft_propose, and -EINVAL (an unknown type, id
 * 0, or a change that would leave no voter), -RINGD_ECONF_CHANGE_PENDING (an earlier change is
 * not applied yet: retry later), -RINGD_EMEMBER_EXIST (adding a member that is one; a voter
 * cannot be made a learner), -RINGD_EMEMBER_NOT_FOUND (removing, promoting or updating a
 * non-member), -RINGD_EMEMBER_NOT_LEARNER (promoting a voter), -RINGD_EFULL (RAFT_MEMBERS_MAX
 * members already). */
int raft_propose_conf_change(struct raft *r, const struct raft_conf_change *cc, const void *context,
                             uint32_t context_len, raft_index *index_out);

/* Writes the data of a RAFT_ENTRY_CONF_CHANGE entry for cc and context into out (at least
 * RAFT_CONF_CHANGE_HEADER_BYTES + context_len bytes), as raft_propose_conf_change does: for a
 * caller that writes such entries itself (--force-new-cluster's removals, at restore). Returns
 * the length, or -EINVAL / -RINGD_EREQUEST_TOO_LARGE as raft_propose_conf_change. */
int raft_conf_change_encode(const struct raft_conf_change *cc, const void *context,
                            uint32_t context_len, uint8_t *out);

/* Reads a RAFT_ENTRY_CONF_CHANGE entry: *cc (cc->index = e->index) and its context, which
 * points into e->data. Returns 0 or -RINGD_ECORRUPT (not a conf change, or malformed). */
int raft_conf_change_decode(const struct raft_entry *e, struct raft_conf_change *cc,
                            const void **context, uint32_t *context_len);

/* The caller applies a committed conf-change entry (decoded): every one, once, in log order,
 * when it applies that entry and before the raft_advance of the Ready that handed it out. The
 * core changes its members: new ones start in probe at the last index + 1, removed ones'
 * progress goes, a promoted learner counts in the quorum, the commit index follows the new
 * quorum; a leader that removed itself sends the commit index out and steps down (the
 * remaining voters elect a new leader after an election timeout), and a transfer to a removed
 * member ends. Keep a removed member running a few election timeouts before stopping it
 * (etcd's stopWithDelay): a voter that missed the commit may need its vote once more.
 * *out gets the members now in force (for the caller's snapshots: raft_snapshot_meta.conf).
 * A change the configuration cannot take (the same checks as raft_propose_conf_change: it
 * fails on every member alike) changes nothing and returns its error; a change at or below a
 * snapshot this member installed meanwhile is already in it and changes nothing (0). A member
 * does not campaign while committed conf changes wait to be applied (etcd). On restart, the
 * core itself re-applies the conf changes between the snapshot and the applied index it is
 * given (raft_restore_finish); later ones come out again as committed entries. A change the
 * application refuses (its own checks, alike on every member) is applied with cc->id RAFT_NONE
 * (etcd's NodeID = None): it changes nothing, but the next change may be proposed and members
 * may campaign again. */
int raft_apply_conf_change(struct raft *r, const struct raft_conf_change *cc,
                           struct raft_conf_state *out);

/* The transport could not reach member id (etcd ReportUnreachable): a follower the leader was
 * streaming to goes back to probing. Ignored on a non-leader or for an unknown id. */
void raft_report_unreachable(struct raft *r, raft_id id);

/* The snapshot the leader sent to id was installed (ok) or could not be (etcd ReportSnapshot):
 * the follower goes back to probing, from after the snapshot when ok. */
void raft_report_snapshot(struct raft *r, raft_id id, bool ok);

/* True when raft_ready has something to hand out; false while a Ready is outstanding. A
 * leader's broadcast of new entries is queued here if it was pending. */
bool raft_has_ready(struct raft *r);

/* Fills rd with the next batch (possibly empty); see the contract above. */
void raft_ready(struct raft *r, struct raft_ready *rd);

/* The caller persisted, sent and applied what rd (the last raft_ready's batch) holds. */
void raft_advance(struct raft *r, const struct raft_ready *rd);

/* The caller made a durable snapshot of its state machine at snap->index (at most the applied
 * index; snap->conf the members at that index): the core forgets entries up to compact_to
 * (at most snap->index; the entries between stay for followers a little behind) and will send
 * this snapshot to followers behind it. Not with a Ready outstanding. Returns 0. */
int raft_compact(struct raft *r, const struct raft_snapshot_meta *snap, raft_index compact_to);

/* Copies the member's current state into st. */
void raft_status(const struct raft *r, struct raft_status *st);

/* Names for logs and tests: "StateLeader", "MsgApp", "StateReplicate", "EntryNormal". */
const char *raft_state_name(enum raft_state s);
const char *raft_msg_type_name(enum raft_msg_type t);
const char *raft_progress_state_name(uint8_t s);
const char *raft_entry_type_name(uint8_t t);

#endif
