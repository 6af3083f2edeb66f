/* The raft actor: the one owner of the raft core (core/raft) and the write-ahead log (io/wal).
 * Shards send it proposals; it turns every proposal that arrived in one loop turn into log
 * entries of one Ready, appends them with the hard state to the WAL (one write and one
 * fdatasync through its io_uring, while the next batch gathers), tells the core once they are
 * durable, and hands the committed entries to the apply actor, with the route back to the
 * shard of each entry it proposed. Nothing is acknowledged before its entry is durable: the
 * apply actor only ever sees committed entries, and the core commits only what the WAL said is
 * on disk.
 *
 * Entries. An entry's data is one byte of enum kv_op and the packed request (what a shard
 * proposed), or one of the internal entries a new member writes as etcd does at bootstrap (so
 * a fresh ringd reports etcd's term 2 and index 4): the members (index 1) and, once leader,
 * the member's attributes and the cluster version (indexes 3 and 4), which apply as no-ops.
 *
 * Start-up. The raft actor opens the WAL on its thread and restores the core from it (after the
 * snapshot the server loaded): committed entries after the snapshot are handed to the apply
 * actor again, which re-applies them; the cluster view shows progress as raft makes it.
 *
 * Thread: its own actor thread. */
#ifndef RINGD_RAFT_ACTOR_H
#define RINGD_RAFT_ACTOR_H

#include <stdint.h>

#include "actor.h"
#include "cluster_view.h"
#include "kv_proposal.h"
#include "outbox.h"
#include "raft.h"
#include "ringd_limits.h"
#include "wal.h"

/* Internal entries (data's first byte), after the kv_op values. */
enum raft_actor_entry {
    RAFT_ACTOR_ENTRY_BOOTSTRAP = 0x80, /* the initial members (etcd: ConfChangeAddNode) */
    RAFT_ACTOR_ENTRY_PUBLISH = 0x81,   /* the member's name and client URLs (etcd: publish) */
    RAFT_ACTOR_ENTRY_VERSION = 0x82,   /* the cluster version (etcd: ClusterVersionSet) */
};

/* Where the answer to a committed entry goes: the shard that proposed it and its proposal.
 * term guards against an entry replaced by another leader's (issue 7): only an entry of the
 * same index and term is the one proposed. */
struct raft_route {
    raft_index index;
    raft_term term;
    uint16_t shard;
    struct kv_proposal *proposal;
};

/* A batch of committed entries for the apply actor (MSG_APPLY_ENTRIES). The raft actor owns it
 * and the entries' data (the core's log window, kept until raft_compact, which follows only a
 * snapshot of applied state); the apply actor gives it back with MSG_APPLY_DONE. */
struct raft_apply_batch {
    struct raft_apply_batch *next; /* the raft actor's list of batches out */
    uint32_t n_entries;
    uint32_t n_routes;
    struct raft_entry entries[RAFT_APPLY_ENTRIES_MAX];
    struct raft_route routes[RAFT_APPLY_ENTRIES_MAX]; /* for the entries proposed here */
};

struct raft_actor {
    /* Set before runtime_start. */
    struct cluster_view *view;
    const char *wal_dir;
    uint64_t heartbeat_ms; /* --heartbeat-interval: one raft tick */
    uint32_t election_ticks;
    uint64_t snapshot_index; /* the snapshot the server loaded (0: none) */
    raft_term snapshot_term;
    uint16_t apply_id;
    uint16_t shard_ids[SHARDS_MAX];
    uint16_t shards;
    bool wal_force; /* --ringd-wal-force-truncate: cut the log at a corrupt record */
    /* The actor's own state. */
    struct actor *actor;
    struct raft *raft;
    struct wal *wal;
    struct raft_ready ready;
    bool ready_out;       /* ready handed out, waiting for the WAL */
    bool wal_failed;      /* the disk failed: nothing more is acknowledged */
    struct timer turn;    /* end of a loop turn: the batch of proposals becomes a Ready */
    struct timer tick;    /* raft's clock */
    struct outbox to_apply;
    struct outbox replies[ACTORS_MAX];    /* refusals straight back to shards, by shard id */
    struct raft_route *routes;            /* proposals in the log, not yet committed: a ring */
    uint32_t routes_head;
    uint32_t routes_count;
    struct raft_apply_batch *batches_out; /* at the apply actor */
    struct raft_apply_batch *batches_free;
};

extern const struct actor_ops raft_actor_ops;

#endif
