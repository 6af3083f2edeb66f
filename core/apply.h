/* The apply actor: the MVCC store's one writer. It takes committed log entries from the raft
 * actor in batches (core/apply_batch.h), applies each as one write transaction with etcd's
 * semantics (core/kv), answers the originating shard of each entry proposed on this member with
 * the packed response, gives the batch back, and between batches drives the store's incremental
 * compaction and memory reclamation. It also owns the alarms and publishes progress (revision,
 * applied index, sizes, alarms) in the cluster view, and the members table (MemberList is a
 * query a shard sends it, MSG_KV_QUERY, answered from its state without the log).
 *
 * Thread: its own actor thread. */
#ifndef RINGD_APPLY_H
#define RINGD_APPLY_H

#include <stdint.h>

#include "actor.h"
#include "alarm.h"
#include "apply_batch.h"
#include "arena.h"
#include "cluster_view.h"
#include "kv.h"
#include "kv_proposal.h"
#include "members.h"
#include "mvcc.h"
#include "outbox.h"
#include "snapshot.h"
#include "ringd_limits.h"

struct apply {
    /* Set before runtime_start. */
    struct mvcc_store *store;
    struct cluster_view *view;
    uint32_t max_txn_ops;
    uint16_t shard_ids[SHARDS_MAX]; /* the actors that propose, for the replies' outboxes */
    uint16_t shards;
    uint16_t raft_id;        /* told when a snapshot is durable */
    const char *snap_dir;    /* <data-dir>/member/snap */
    uint64_t snapshot_count; /* --snapshot-count: applied entries between snapshots */
    uint64_t max_snapshots;  /* --max-snapshots (0: keep all) */
    uint64_t applied_term;   /* the loaded snapshot's term (0: none), then the last
                                applied entry's */
    struct alarm_set alarms; /* the loaded snapshot's alarms, then the live ones */
    struct members members;  /* the initial cluster's, then as entries change them */
    /* The actor's own state. */
    struct actor *actor;
    struct kv_env env;
    struct arena arena;
    uint64_t applied_index;            /* the last log entry applied (and its applied_term) */
    struct outbox replies[ACTORS_MAX]; /* by shard id */
    struct kv_proposal *physical_head; /* physical compactions waiting for their end */
    struct kv_proposal *physical_tail;
    struct timer tick;       /* compaction steps, reclamation, a snapshot's end */
    uint32_t reclaim_rounds; /* reclamation ticks still to run after compaction work */
    /* The snapshot being written by a background thread (one at a time). */
    struct snapshot_state snap;
    uint64_t snap_index;     /* the last snapshot's index (durable or being written) */
    uint64_t snap_log_bytes; /* entry bytes applied since */
    bool snap_running;       /* the thread runs, or ended and is not joined yet */
    bool snap_asked;         /* the raft actor's log window is full: snapshot now */
    _Atomic bool snap_done;  /* set by the thread when snapshot_save returned */
    int snap_err;
    char snap_why[SNAPSHOT_MESSAGE_BYTES_MAX];
    pthread_t snap_thread;
    struct mvcc_reader snap_reader; /* registered by the first snapshot, kept */
    bool snap_reader_registered;
};

/* The actor ops; ctx is a struct apply with the "before runtime_start" fields set. */
extern const struct actor_ops apply_ops;

#endif
