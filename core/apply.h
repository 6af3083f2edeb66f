/* The apply actor: the MVCC store's one writer. It takes committed log entries from the raft
 * actor in batches (core/apply_batch.h), applies each as one write transaction with etcd's
 * semantics (core/kv), answers the originating shard of each entry proposed on this member with
 * the packed response, gives the batch back, and between batches drives the store's incremental
 * compaction and memory reclamation. It also owns the alarms and publishes progress (revision,
 * applied index, sizes, alarms) in the cluster view.
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
#include "mvcc.h"
#include "outbox.h"
#include "ringd_limits.h"

struct apply {
    /* Set before runtime_start. */
    struct mvcc_store *store;
    struct cluster_view *view;
    uint32_t max_txn_ops;
    uint16_t shard_ids[SHARDS_MAX]; /* the actors that propose, for the replies' outboxes */
    uint16_t shards;
    /* The actor's own state. */
    struct actor *actor;
    struct kv_env env;
    struct arena arena;
    struct alarm_set alarms;
    uint64_t applied_index;            /* the last log entry applied */
    uint64_t applied_term;             /* its term */
    struct outbox replies[ACTORS_MAX]; /* by shard id */
    struct kv_proposal *physical_head; /* physical compactions waiting for their end */
    struct kv_proposal *physical_tail;
    struct timer tick;       /* compaction steps, reclamation */
    uint32_t reclaim_rounds; /* reclamation ticks still to run after compaction work */
};

/* The actor ops; ctx is a struct apply with the "before runtime_start" fields set. */
extern const struct actor_ops apply_ops;

#endif
