/* What every shard may read about the cluster: the ids fixed at start, and the raft and store
 * progress the raft and apply actors publish as they go (leader, term, indexes, revision, backend
 * size), for response headers and Maintenance.Status.
 *
 * Threads: cluster_view_init runs once on the main thread before the actors start; afterwards
 * the fixed part is read-only. Each progress field is one atomic with exactly one writer (the
 * raft actor for leader, term, commit index and learner state; the apply actor for applied index,
 * revision and sizes), stored and loaded relaxed. Each field on its own is never torn and, as its
 * writer only moves it forward, a reader never sees it go backwards; across fields NO consistency
 * is promised: a reader may see a new term with an old leader, or a revision applied at an index
 * it reads as not yet applied. A reply that needs a revision consistent with data it read takes it
 * from the store, not from here. */
#ifndef RINGD_CLUSTER_VIEW_H
#define RINGD_CLUSTER_VIEW_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alarm.h"
#include "cluster_id.h"
#include "config.h"
#include "etcdserverpb/rpc.pb-c.h"

/* The revision of an empty store (etcd's first revision). */
#define CLUSTER_VIEW_REVISION_EMPTY 1

/* Cache-line size, so that the two writers never share a line. */
#define CLUSTER_VIEW_LINE_BYTES 64

struct cluster_view {
    /* Fixed at start. */
    uint64_t cluster_id;
    uint64_t member_id;
    char name[CONFIG_NAME_BYTES_MAX];
    struct cluster_ids ids; /* every bootstrap member, sorted by id */

    /* Written by the raft actor. */
    alignas(CLUSTER_VIEW_LINE_BYTES) _Atomic uint64_t leader_id; /* 0: no leader */
    _Atomic uint64_t raft_term;
    _Atomic uint64_t raft_index; /* committed */
    _Atomic bool is_learner;
    /* Voters in the configuration as of the last entry committed: a single voter serves
     * linearizable reads without a read index. Sequentially consistent, unlike the others. */
    _Atomic uint32_t voters;

    /* Written by the apply actor. */
    alignas(CLUSTER_VIEW_LINE_BYTES) _Atomic uint64_t raft_applied_index;
    _Atomic int64_t revision;
    _Atomic int64_t db_size_bytes;        /* memory the store holds for data, etcd's dbSize */
    _Atomic int64_t db_size_in_use_bytes; /* of which in use, etcd's dbSizeInUse */
    /* The raised alarms, under a sequence count (odd while the apply actor rewrites them;
     * readers retry): rare writes, lock-free reads. */
    _Atomic uint32_t alarms_seq;
    _Atomic uint32_t alarms_count;
    _Atomic uint64_t alarm_member_ids[ALARMS_MAX];
    _Atomic int32_t alarm_types[ALARMS_MAX];
};

/* Computes the ids from cfg (cluster_ids_compute: etcd's checks and error texts) and sets the
 * progress to nothing yet: no leader, term and indexes 0, the empty store's revision, sizes 0,
 * not a learner. A loaded snapshot then sets the applied index and revision it holds. Returns 0, or
 * cluster_ids_compute's error with etcd's text in why. v is about 280 KiB: static or heap storage.
 * Main thread, before the actors start. */
int cluster_view_init(struct cluster_view *v, const struct config *cfg, char *why,
                      size_t why_bytes);

/* The same from ids already computed (recorded in the data dir, or fetched when joining) and
 * the member's --name. */
void cluster_view_init_ids(struct cluster_view *v, const struct cluster_ids *ids, const char *name);

/* Back to no progress (cluster_view_init's), for a server that starts again in the same process
 * (on a snapshot from the leader): the new actors publish from their own start. Main thread,
 * while no actor runs. */
void cluster_view_reset_progress(struct cluster_view *v);

/* Fills h as etcd's v3rpc header.fill does: cluster and member id, raft term, and the current
 * revision unless h->revision is already set (a reply that read at a revision keeps it). Any
 * thread. */
void cluster_view_header(const struct cluster_view *v, Etcdserverpb__ResponseHeader *h);

/* Relaxed loads of one progress field each: see the header comment for what they promise. */
static inline uint64_t cluster_view_leader_id(const struct cluster_view *v)
{
    return atomic_load_explicit(&v->leader_id, memory_order_relaxed);
}

static inline uint64_t cluster_view_raft_term(const struct cluster_view *v)
{
    return atomic_load_explicit(&v->raft_term, memory_order_relaxed);
}

static inline uint64_t cluster_view_raft_index(const struct cluster_view *v)
{
    return atomic_load_explicit(&v->raft_index, memory_order_relaxed);
}

static inline uint64_t cluster_view_raft_applied_index(const struct cluster_view *v)
{
    return atomic_load_explicit(&v->raft_applied_index, memory_order_relaxed);
}

static inline int64_t cluster_view_revision(const struct cluster_view *v)
{
    return atomic_load_explicit(&v->revision, memory_order_relaxed);
}

static inline int64_t cluster_view_db_size_bytes(const struct cluster_view *v)
{
    return atomic_load_explicit(&v->db_size_bytes, memory_order_relaxed);
}

static inline int64_t cluster_view_db_size_in_use_bytes(const struct cluster_view *v)
{
    return atomic_load_explicit(&v->db_size_in_use_bytes, memory_order_relaxed);
}

static inline uint32_t cluster_view_voters(const struct cluster_view *v)
{
    return atomic_load(&v->voters);
}

static inline bool cluster_view_is_learner(const struct cluster_view *v)
{
    return atomic_load_explicit(&v->is_learner, memory_order_relaxed);
}

/* Publishing, by the one writer of each field (see above). Term, indexes and revision only move
 * forward; the setters assert it. */
void cluster_view_set_leader(struct cluster_view *v, uint64_t leader_id, uint64_t raft_term);
void cluster_view_set_raft_index(struct cluster_view *v, uint64_t raft_index);
void cluster_view_set_is_learner(struct cluster_view *v, bool is_learner);
void cluster_view_set_voters(struct cluster_view *v, uint32_t voters);
void cluster_view_set_applied(struct cluster_view *v, uint64_t raft_applied_index,
                              int64_t revision);
void cluster_view_set_db_size(struct cluster_view *v, int64_t db_size_bytes,
                              int64_t db_size_in_use_bytes);

/* The apply actor publishes the alarm set after every change of it. */
void cluster_view_set_alarms(struct cluster_view *v, const struct alarm_set *alarms);

/* A consistent copy of the raised alarms. Any thread. */
void cluster_view_alarms(const struct cluster_view *v, struct alarm_set *out);

#endif
