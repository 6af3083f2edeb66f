/* The fake disk of one member: what raft's Ready asks to persist (a snapshot with the state
 * machine, entries, the hard state) goes into an unsynced write queue, one record each, in the
 * contract's order; a sync makes the queue up to that point durable when it completes (the
 * caller schedules the completion, sometimes slowly). A crash keeps the durable records and a
 * random prefix of the queue (a WAL's recovery keeps the records before the first torn one);
 * the rest is lost. The member's own snapshots are written durable at once (a snapshot file is
 * fsynced and renamed before the log is cut). */
#ifndef RINGD_SIM_DISK_H
#define RINGD_SIM_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "raft.h"
#include "sim_kv.h"

#define SIM_LOG_MAX   8192 /* log indexes a run may reach */
#define SIM_QUEUE_MAX 4096 /* unsynced records */
#define SIM_OLD_SNAPS 4    /* older snapshots kept (etcd --max-snapshots) */

struct sim_stored_entry {
    raft_term term;
    uint8_t type;
    uint32_t len;
    uint8_t data[SIM_ENTRY_DATA_MAX];
};

/* What a disk holds, seen after some records: the latest snapshot and the entries after it. */
struct sim_disk_view {
    struct raft_snapshot_meta snap;
    struct sim_kv snap_kv;
    struct raft_hard_state hs;
    raft_index last; /* entries (snap.index, last] */
    struct sim_stored_entry log[SIM_LOG_MAX];
};

enum sim_record_kind { SIM_REC_SNAP, SIM_REC_ENTRY, SIM_REC_HARD_STATE };

struct sim_record {
    uint8_t kind; /* enum sim_record_kind */
    raft_index index;
    struct sim_stored_entry entry;
    struct raft_snapshot_meta snap;
    struct sim_kv snap_kv;
    struct raft_hard_state hs;
    bool ready_end; /* the last record one Ready wrote */
};

struct sim_disk {
    struct sim_disk_view durable;
    struct sim_disk_view written; /* durable with the queue applied: what raft was handed */
    struct sim_record queue[SIM_QUEUE_MAX];
    uint32_t n_queue;
    uint32_t sync_mark; /* records the running sync covers; 0: none runs */
    /* The member's own snapshots before the latest: a MsgSnap queued before a newer snapshot
     * still names the one it was queued with. */
    struct raft_snapshot_meta old_snap[SIM_OLD_SNAPS];
    struct sim_kv old_kv[SIM_OLD_SNAPS];
    uint32_t n_old;
};

/* A fresh disk holding a new cluster's start: a snapshot at index 0 naming conf. */
void sim_disk_format(struct sim_disk *d, const struct raft_conf_state *conf);
/* Queues the Ready's snapshot (with its state machine), entries and hard state. False when an
 * entry leaves a gap after the log (raft broke its contract); why says so. */
bool sim_disk_write(struct sim_disk *d, const struct raft_ready *rd, const struct sim_kv *snap_kv,
                    char *why, uint32_t why_len);
/* A sync starts now over everything queued so far; its completion is sim_disk_sync_done. */
void sim_disk_sync_begin(struct sim_disk *d);
void sim_disk_sync_done(struct sim_disk *d);
/* How many queued records the first `readies` whole Readies wrote (readies at most
 * sim_disk_queued_readies). */
uint32_t sim_disk_ready_prefix(const struct sim_disk *d, uint32_t readies);
uint32_t sim_disk_queued_readies(const struct sim_disk *d);
/* The power fails: keep records of the queue survive (0 <= keep <= n_queue), then the written
 * view is what is durable. */
void sim_disk_crash(struct sim_disk *d, uint32_t keep);
/* The member's own snapshot: durable at once; the log before it is released. */
void sim_disk_save_snapshot(struct sim_disk *d, const struct raft_snapshot_meta *snap,
                            const struct sim_kv *kv);
/* The state machine of the durable snapshot at index (the latest or a kept older one); false
 * when the disk holds none at that index. */
bool sim_disk_find_snapshot(const struct sim_disk *d, raft_index index, struct sim_kv *kv);
/* The stored entry at index in view v, or NULL when v does not hold it. */
const struct sim_stored_entry *sim_disk_entry(const struct sim_disk_view *v, raft_index index);

#endif
