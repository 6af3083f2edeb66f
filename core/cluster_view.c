/* The cluster view shared by every shard; see cluster_view.h. */
#include "cluster_view.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ringd_assert.h"

_Static_assert(offsetof(struct cluster_view, raft_applied_index) -
                       offsetof(struct cluster_view, leader_id) >=
                   CLUSTER_VIEW_LINE_BYTES,
               "the raft actor's and the apply actor's fields must not share a cache line");

int cluster_view_init(struct cluster_view *v, const struct config *cfg, char *why, size_t why_bytes)
{
    ASSERT(v != NULL && cfg != NULL && why != NULL);
    static struct cluster_ids ids; /* large; main thread, start-up */
    int rc = cluster_ids_compute(cfg, &ids, why, why_bytes);
    if (rc == 0)
        cluster_view_init_ids(v, &ids, cfg->name);
    return rc;
}

void cluster_view_init_ids(struct cluster_view *v, const struct cluster_ids *ids, const char *name)
{
    ASSERT(v != NULL && ids != NULL && name != NULL);
    memset(v, 0, sizeof *v);
    v->ids = *ids;
    v->cluster_id = v->ids.cluster_id;
    v->member_id = v->ids.member_id;
    snprintf(v->name, sizeof v->name, "%s", name);
    ASSERT(v->member_id != 0 && v->cluster_id != 0);
    cluster_view_reset_progress(v);
}

void cluster_view_reset_progress(struct cluster_view *v)
{
    /* No leader, nothing in the log yet: the raft and apply actors publish as they go. */
    atomic_init(&v->leader_id, 0);
    atomic_init(&v->raft_term, 0);
    atomic_init(&v->raft_index, 0);
    atomic_init(&v->is_learner, false);
    atomic_init(&v->voters, 0);
    atomic_init(&v->raft_applied_index, 0);
    atomic_init(&v->revision, CLUSTER_VIEW_REVISION_EMPTY);
    atomic_init(&v->db_size_bytes, 0);
    atomic_init(&v->db_size_in_use_bytes, 0);
    atomic_init(&v->alarms_count, 0);
}

void cluster_view_header(const struct cluster_view *v, Etcdserverpb__ResponseHeader *h)
{
    ASSERT(v != NULL && h != NULL);
    ASSERT(h->base.descriptor == &etcdserverpb__response_header__descriptor);
    h->cluster_id = v->cluster_id;
    h->member_id = v->member_id;
    h->raft_term = cluster_view_raft_term(v);
    if (h->revision == 0)
        h->revision = cluster_view_revision(v);
}

void cluster_view_set_leader(struct cluster_view *v, uint64_t leader_id, uint64_t raft_term)
{
    ASSERT(v != NULL);
    ASSERT(raft_term >= atomic_load_explicit(&v->raft_term, memory_order_relaxed));
    atomic_store_explicit(&v->raft_term, raft_term, memory_order_relaxed);
    atomic_store_explicit(&v->leader_id, leader_id, memory_order_relaxed);
}

void cluster_view_set_raft_index(struct cluster_view *v, uint64_t raft_index)
{
    ASSERT(v != NULL);
    ASSERT(raft_index >= atomic_load_explicit(&v->raft_index, memory_order_relaxed));
    atomic_store_explicit(&v->raft_index, raft_index, memory_order_relaxed);
}

void cluster_view_set_voters(struct cluster_view *v, uint32_t voters)
{
    ASSERT(v != NULL);
    atomic_store(&v->voters, voters);
}

void cluster_view_set_is_learner(struct cluster_view *v, bool is_learner)
{
    ASSERT(v != NULL);
    atomic_store_explicit(&v->is_learner, is_learner, memory_order_relaxed);
}

void cluster_view_set_applied(struct cluster_view *v, uint64_t raft_applied_index, int64_t revision)
{
    ASSERT(v != NULL);
    ASSERT(raft_applied_index >=
           atomic_load_explicit(&v->raft_applied_index, memory_order_relaxed));
    ASSERT(revision >= atomic_load_explicit(&v->revision, memory_order_relaxed));
    atomic_store_explicit(&v->raft_applied_index, raft_applied_index, memory_order_relaxed);
    atomic_store_explicit(&v->revision, revision, memory_order_relaxed);
}

void cluster_view_set_db_size(struct cluster_view *v, int64_t db_size_bytes,
                              int64_t db_size_in_use_bytes)
{
    ASSERT(v != NULL);
    ASSERT(db_size_bytes >= 0 && db_size_in_use_bytes >= 0);
    atomic_store_explicit(&v->db_size_bytes, db_size_bytes, memory_order_relaxed);
    atomic_store_explicit(&v->db_size_in_use_bytes, db_size_in_use_bytes, memory_order_relaxed);
}

void cluster_view_set_alarms(struct cluster_view *v, const struct alarm_set *alarms)
{
    ASSERT(alarms->count <= ALARMS_MAX);
    uint32_t seq = atomic_load_explicit(&v->alarms_seq, memory_order_relaxed);
    atomic_store_explicit(&v->alarms_seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* the odd count is seen before the new data */
    for (uint32_t i = 0; i < alarms->count; i++) {
        atomic_store_explicit(&v->alarm_member_ids[i], alarms->items[i].member_id,
                              memory_order_relaxed);
        atomic_store_explicit(&v->alarm_types[i], alarms->items[i].type, memory_order_relaxed);
    }
    atomic_store_explicit(&v->alarms_count, alarms->count, memory_order_relaxed);
    atomic_store_explicit(&v->alarms_seq, seq + 2, memory_order_release);
}

void cluster_view_alarms(const struct cluster_view *v, struct alarm_set *out)
{
    for (;;) { /* retries only while the apply actor rewrites the set: rare and short */
        uint32_t seq = atomic_load_explicit(&v->alarms_seq, memory_order_acquire);
        if (seq & 1)
            continue;
        uint32_t n = atomic_load_explicit(&v->alarms_count, memory_order_relaxed);
        n = n <= ALARMS_MAX ? n : ALARMS_MAX;
        for (uint32_t i = 0; i < n; i++) {
            out->items[i].member_id =
                atomic_load_explicit(&v->alarm_member_ids[i], memory_order_relaxed);
            out->items[i].type = atomic_load_explicit(&v->alarm_types[i], memory_order_relaxed);
        }
        out->count = n;
        atomic_thread_fence(memory_order_acquire); /* the copy is read before the re-check */
        if (atomic_load_explicit(&v->alarms_seq, memory_order_relaxed) == seq)
            return;
    }
}
