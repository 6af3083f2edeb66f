/* Both views are replayed from the same records, so the durable view after a crash is exactly
 * what a WAL replay of the surviving prefix would give. */
#include "sim_disk.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ringd_assert.h"

void sim_disk_format(struct sim_disk *d, const struct raft_conf_state *conf)
{
    memset(&d->durable, 0, offsetof(struct sim_disk_view, log));
    d->durable.snap.conf = *conf;
    memcpy(&d->written, &d->durable, offsetof(struct sim_disk_view, log));
    d->n_queue = 0;
    d->sync_mark = 0;
    d->n_old = 0;
}

static bool view_apply(struct sim_disk_view *v, const struct sim_record *rec)
{
    switch (rec->kind) {
    case SIM_REC_SNAP:
        v->snap = rec->snap;
        v->snap_kv = rec->snap_kv;
        v->last = rec->snap.index;
        return true;
    case SIM_REC_HARD_STATE:
        v->hs = rec->hs;
        return true;
    default:
        if (rec->index <= v->snap.index)
            return true; /* the snapshot covers it */
        if (rec->index > v->last + 1)
            return false;
        ASSERT(rec->index < SIM_LOG_MAX);
        v->log[rec->index] = rec->entry;
        v->last = rec->index; /* a record at or below the last replaces the log from there */
        return true;
    }
}

static bool push(struct sim_disk *d, const struct sim_record *rec)
{
    ASSERT(d->n_queue < SIM_QUEUE_MAX);
    d->queue[d->n_queue++] = *rec;
    return view_apply(&d->written, rec);
}

bool sim_disk_write(struct sim_disk *d, const struct raft_ready *rd, const struct sim_kv *snap_kv,
                    char *why, uint32_t why_len)
{
    if (rd->snapshot != NULL)
        push(d, &(struct sim_record){
                    .kind = SIM_REC_SNAP, .snap = *rd->snapshot, .snap_kv = *snap_kv});
    for (uint32_t i = 0; i < rd->n_entries; i++) {
        const struct raft_entry *e = &rd->entries[i];
        ASSERT(e->len <= SIM_ENTRY_DATA_MAX);
        struct sim_record rec = {.kind = SIM_REC_ENTRY,
                                 .index = e->index,
                                 .entry = {.term = e->term, .type = e->type, .len = e->len}};
        if (e->len > 0)
            memcpy(rec.entry.data, e->data, e->len);
        if (!push(d, &rec)) {
            snprintf(why, why_len, "Ready entry %lu leaves a gap after the log's last %lu",
                     (unsigned long)e->index, (unsigned long)d->written.last);
            return false;
        }
    }
    if (rd->has_hard_state)
        push(d, &(struct sim_record){.kind = SIM_REC_HARD_STATE, .hs = rd->hard_state});
    if (d->n_queue > 0)
        d->queue[d->n_queue - 1].ready_end = true;
    return true;
}

uint32_t sim_disk_queued_readies(const struct sim_disk *d)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->n_queue; i++)
        n += d->queue[i].ready_end;
    return n;
}

uint32_t sim_disk_ready_prefix(const struct sim_disk *d, uint32_t readies)
{
    uint32_t i = 0;
    for (; readies > 0 && i < d->n_queue; i++)
        readies -= d->queue[i].ready_end;
    ASSERT(readies == 0);
    return i;
}

void sim_disk_sync_begin(struct sim_disk *d)
{
    ASSERT(d->sync_mark == 0);
    d->sync_mark = d->n_queue;
}

/* Makes the first n queued records durable. */
static void settle(struct sim_disk *d, uint32_t n)
{
    ASSERT(n <= d->n_queue);
    for (uint32_t i = 0; i < n; i++) {
        bool ok = view_apply(&d->durable, &d->queue[i]);
        ASSERT(ok); /* the written view took it */
    }
    memmove(d->queue, d->queue + n, (d->n_queue - n) * sizeof(d->queue[0]));
    d->n_queue -= n;
}

void sim_disk_sync_done(struct sim_disk *d)
{
    settle(d, d->sync_mark);
    d->sync_mark = 0;
}

void sim_disk_crash(struct sim_disk *d, uint32_t keep)
{
    settle(d, keep);
    d->n_queue = 0;
    d->sync_mark = 0;
    memcpy(&d->written, &d->durable, offsetof(struct sim_disk_view, log));
    for (raft_index i = d->durable.snap.index + 1; i <= d->durable.last; i++)
        d->written.log[i] = d->durable.log[i];
}

static void view_snapshot(struct sim_disk_view *v, const struct raft_snapshot_meta *snap,
                          const struct sim_kv *kv)
{
    if (snap->index <= v->snap.index)
        return;
    v->snap = *snap;
    v->snap_kv = *kv;
    if (v->last < snap->index)
        v->last = snap->index;
}

void sim_disk_save_snapshot(struct sim_disk *d, const struct raft_snapshot_meta *snap,
                            const struct sim_kv *kv)
{
    ASSERT(snap->index <= d->durable.last); /* only what is applied, so durable, is snapshotted */
    uint32_t slot = d->n_old++ % SIM_OLD_SNAPS;
    d->old_snap[slot] = d->durable.snap;
    d->old_kv[slot] = d->durable.snap_kv;
    view_snapshot(&d->durable, snap, kv);
    view_snapshot(&d->written, snap, kv);
}

const struct sim_stored_entry *sim_disk_entry(const struct sim_disk_view *v, raft_index index)
{
    if (index <= v->snap.index || index > v->last)
        return NULL;
    return &v->log[index];
}

bool sim_disk_find_snapshot(const struct sim_disk *d, raft_index index, struct sim_kv *kv)
{
    if (d->durable.snap.index == index) {
        *kv = d->durable.snap_kv;
        return true;
    }
    uint32_t n = d->n_old < SIM_OLD_SNAPS ? d->n_old : SIM_OLD_SNAPS;
    for (uint32_t i = 0; i < n; i++)
        if (d->old_snap[i].index == index) {
            *kv = d->old_kv[i];
            return true;
        }
    return false;
}
