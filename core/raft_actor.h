/* The raft actor: the one owner of the raft core (core/raft) and the write-ahead log (io/wal).
 * Shards send it proposals; every proposal that arrived in one loop turn becomes an entry of one
 * Ready, appended with the hard state to the WAL as one write and one fdatasync through this
 * actor's io_uring while the next batch gathers; once the WAL says they are durable the core
 * hears so (raft_advance), and the committed entries go to the apply actor in batches
 * (core/apply_batch.h) with the route back to the shard of each entry proposed here. Nothing is
 * acknowledged before its entry is durable: the apply actor sees only committed entries, and
 * the core commits only what the WAL reported on disk. A WAL that fails (a write or fdatasync
 * error) stops the process, as etcd does: no later write can be acknowledged.
 *
 * Entries. An entry's data is one byte of enum kv_op and the packed request (what a shard
 * proposed), or one of the entries below, which a member writes as etcd does (so a fresh
 * single member reports etcd's term 2 and index 4) and which apply as no-ops: the members
 * (index 1, term 1, at bootstrap), the member's attributes after each election it wins at
 * start, and the cluster version once, at bootstrap.
 *
 * Start-up. On its thread the actor opens the WAL and restores the core from it after the
 * snapshot the server loaded (even an older one than the WAL's marker names, while the WAL
 * still holds the entries since); a data dir with no log bootstraps the cluster. A single member
 * campaigns at once. Committed entries after the snapshot go to the apply actor again; once the
 * member's attributes entry of this start is applied the log is replayed, and the shards get
 * MSG_SERVE: no client is served from a state that misses an acknowledged write.
 *
 * A leader's snapshot (a follower too far behind): the transport stored its file durably in
 * the snap dir before the core saw it; the raft actor records the snapshot marker and the hard
 * state in the WAL and, once they are durable, stops the runtime and asks the server to start
 * again, which loads the newest snapshot (this one) like any start. The state machine is
 * replaced as a whole that way, with no reader ever seeing a half-installed store; clients of
 * this member reconnect, as after a restart.
 *
 * Snapshots. The apply actor writes them (core/snapshot.h) and says when one is durable; the
 * raft actor then compacts the core's log window to RAFT_ACTOR_CATCH_UP_ENTRIES below it,
 * appends a snapshot marker to the WAL and, once that is durable, removes the segments below
 * it beyond --max-wals. A window full before --snapshot-count entries asks for one at once.
 *
 * Proposals are matched to their committed entries by a request id in the entry (a follower's
 * go through the leader, which gives them their index); one that does not commit within etcd's
 * request timeout is answered "request timed out".
 *
 * Bounds: routes (proposals in the log, not yet committed) are at most every shard's
 * SHARD_PROPOSALS_MAX; RAFT_ACTOR_BATCHES batches at the apply actor at once (a Ready waits for
 * a free one); the core's log window (raft_propose's -RINGD_EFULL answers "etcdserver: too many
 * requests").
 *
 * Thread: its own actor thread. */
#ifndef RINGD_RAFT_ACTOR_H
#define RINGD_RAFT_ACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "actor.h"
#include "apply_batch.h"
#include "cluster_view.h"
#include "kv_proposal.h"
#include "members.h"
#include "outbox.h"
#include "proposal_routes.h"
#include "raft.h"
#include "raft_transport.h"
#include "ringd_limits.h"
#include "wal.h"

/* The raft actor's own entries (data's first byte). */
enum raft_actor_entry {
    RAFT_ACTOR_ENTRY_MEMBERS = KV_OP_INTERNAL, /* the initial members (etcd: ConfChangeAddNode) */
    RAFT_ACTOR_ENTRY_ATTRIBUTES, /* the member's name and client URLs (etcd: publish) */
    RAFT_ACTOR_ENTRY_VERSION,    /* the cluster version (etcd: ClusterVersionSet) */
};

#define RAFT_ACTOR_BATCHES 4 /* apply batches out at once */
/* The attributes entry: a name and the client URLs (the flags bound both). */
#define RAFT_ACTOR_ATTRIBUTES_BYTES_MAX \
    (16 + CONFIG_NAME_BYTES_MAX + CONFIG_URLS_MAX * (CONFIG_URL_BYTES_MAX + 4))
/* Read-index rounds out at once: each covers the shards that asked in one loop turn. */
#define RAFT_ACTOR_READ_ROUNDS 16
/* A round the leader has not answered is asked again after this long (etcd's
 * readIndexRetryTime), under a new context. */
#define RAFT_ACTOR_READ_RETRY_NS 500000000ull

/* A member that removed itself stops this many election timeouts later (etcd's
 * stopWithDelay). */
#define RAFT_ACTOR_REMOVED_STOP_ELECTIONS 3

/* MoveLeader calls waiting for their transfer (core/raft_actor_conf.h). */
#define RAFT_ACTOR_TRANSFERS_MAX 8

struct raft_actor_transfer {
    struct kv_proposal *proposal;
    uint16_t shard;
    raft_id target;
    uint64_t deadline_tick;
};

/* One read-index request: the shards it answers (a bit per actor id), and the index they may
 * read at once this member applied it (0: not answered yet). */
struct raft_actor_read_round {
    uint64_t context;
    uint64_t shards;
    raft_index index;
    uint64_t asked_tick;
    uint64_t deadline_tick;
};
/* Entries kept in the log window below a snapshot, for followers a little behind (etcd's
 * SnapshotCatchUpEntries). */
#define RAFT_ACTOR_CATCH_UP_ENTRIES 5000
/* Entries of the log window kept for the actor's own (a new leader's empty entry, its
 * attributes, the version): clients get "too many requests" before they could take them. */
#define RAFT_ACTOR_RESERVED_ENTRIES 8
/* The smallest log window (entries): half of it is asked for a snapshot, and under sustained
 * writes snapshots of a large store run back to back, so the window must hold what two of
 * them take at full speed: 2^18 fell behind at about 1M versions in the store (a 4 s snapshot
 * each 126,000 entries, three members on this project's 2-core VM); 2^19 holds twice that. */
#define RAFT_ACTOR_WINDOW_MIN (1u << 19)
/* The bytes the window's entries may hold: its ring is touched whole as it wraps, so this is
 * resident memory. A full ring asks for a snapshot and refuses writes meanwhile ("too many
 * requests"). Snapshots run back to back under sustained writes, each as long as the store is
 * large, and the ring holds what two of them take: at a 300-byte put, 128 MiB keeps up with a
 * store of about 500 MB of history on this project's 2-core VM with three members sharing one
 * disk (64 MiB fell behind at 340 MB: docs/PERFORMANCE.md). */
#define RAFT_ACTOR_WINDOW_BYTES (128ull << 20)

struct raft_actor {
    /* Set before runtime_start. */
    struct cluster_view *view;
    const char *wal_dir;
    /* --advertise-client-urls: the attributes the member publishes with its name */
    const char *const *client_urls;
    uint32_t client_urls_count;
    struct wal_options wal_options;
    struct raft_transport transport; /* ops NULL: a single member, no peers */
    struct raft_transport_events transport_events;
    uint64_t tick_ns; /* --heartbeat-interval: one raft tick */
    uint32_t election_ticks;
    bool election_tick_advance;             /* --initial-election-tick-advance */
    bool pre_vote;                          /* --pre-vote */
    bool force_new_cluster;                 /* --force-new-cluster */
    raft_index snapshot_index;              /* the snapshot the server loaded (0: none) */
    const struct members *snapshot_members; /* its members (NULL or none: the initial cluster) */
    raft_term snapshot_term;
    uint64_t snapshot_count; /* --snapshot-count: sizes the log window */
    uint32_t max_wals;       /* --max-wals (0: keep all) */
    uint16_t apply_id;
    uint16_t shard_ids[SHARDS_MAX];
    uint16_t shards;
    /* The actor's own state. */
    struct actor *actor;
    struct raft *raft;
    struct wal *wal;
    struct raft_ready ready;
    bool ready_out;         /* a Ready is being persisted */
    uint32_t ready_entries; /* of its entries, appended to the WAL so far */
    bool ready_hs_appended;
    bool wait_entries;                 /* the Ready's entries are not reported durable yet */
    bool wait_hs;                      /* nor its hard state (a new term or vote) */
    struct timer turn;                 /* end of a loop turn: what gathered becomes a Ready */
    struct timer tick;                 /* raft's clock */
    uint64_t ticks;                    /* since start: request deadlines */
    uint64_t request_timeout_ticks;    /* etcd's ReqTimeout: 5 s + 2 election timeouts */
    raft_term term;                    /* the current term, as the last Ready said */
    raft_id leader;                    /* as the last Ready said */
    uint64_t leader_tick;              /* when that leader became known */
    struct outbox replies[ACTORS_MAX]; /* by shard id: refusals and MSG_SERVE */
    struct proposal_routes routes;     /* proposals in the log, not yet committed */
    uint64_t next_id;                  /* the next request id (etcd's idutil layout) */
    struct apply_batch *batches_free;
    uint32_t batches_out;
    uint64_t read_shards;     /* shards whose read-index request waits for the next round */
    uint64_t read_since_tick; /* since when the oldest of them waits */
    uint64_t read_context;    /* the last round's context */
    uint32_t read_rounds_count;
    struct raft_actor_read_round read_rounds[RAFT_ACTOR_READ_ROUNDS];
    raft_index committed; /* the last entry handed to the apply actor */
    raft_index applied;   /* the last entry the apply actor reported applied */
    bool snap_asked;      /* the window was full: the apply actor was asked for a snapshot */
    bool snap_pending;    /* a durable snapshot to compact the log to, once no Ready is out */
    struct raft_snapshot_meta snap;
    raft_index release_index; /* WAL segments below it go once the marker is durable */
    uint32_t release_wait;    /* durable reports still to come before that */
    bool fresh;               /* this start bootstrapped the cluster */
    bool version_proposed;
    uint64_t attr_id;            /* this start's attributes entry: 0 until proposed */
    uint64_t attr_deadline_tick; /* proposed again then if not committed */
    raft_index serve_index;      /* its index once committed: serve once applied */
    uint32_t window;             /* the core's log window, in entries */
    raft_index log_first;        /* entries up to it are compacted out of the window */
    raft_index log_last;         /* the last entry in the log */
    bool serving;
    bool stopping; /* shutdown began: read-index requests are refused */
    /* A leader's snapshot was installed (durable in the snap dir, its WAL marker durable): the
     * server restarts on it (server_run returns SERVER_RESTART). */
    _Atomic bool restart_on_snapshot;
    bool installing;        /* the Ready being persisted carries a snapshot */
    struct members members; /* as of the last entry committed (core/raft_actor_conf.h) */
    uint32_t transfers_count;
    struct raft_actor_transfer transfers[RAFT_ACTOR_TRANSFERS_MAX];
    uint64_t removed_stop_tick; /* this member was removed: stop then (0: not removed) */
};

/* The actor ops; ctx is a struct raft_actor with the "before runtime_start" fields set. */
extern const struct actor_ops raft_actor_ops;

#endif
