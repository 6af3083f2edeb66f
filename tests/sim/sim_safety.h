/* Raft's safety properties, checked as the simulation runs: at most one leader per term; the
 * committed log is one log (what any member applies or holds committed at an index never
 * differs, and is never rewritten on any disk); every committed entry is durable on enough
 * voters that no majority of the last two configurations lacks it; state machines are equal at
 * equal applied indexes; a member's messages promise only what its disk holds. Each check returns
 * false with the reason in why. */
#ifndef RINGD_SIM_SAFETY_H
#define RINGD_SIM_SAFETY_H

#include <stdbool.h>
#include <stdint.h>

#include "raft.h"
#include "sim_disk.h"
#include "sim_kv.h"

#define SIM_TERMS_MAX 65536

struct sim_safety {
    raft_id leader_of_term[SIM_TERMS_MAX];
    struct sim_stored_entry truth[SIM_LOG_MAX]; /* the committed log, as far as known */
    bool known[SIM_LOG_MAX];
    struct sim_kv kv_at[SIM_LOG_MAX]; /* the state machine after applying an index */
    bool kv_known[SIM_LOG_MAX];
    raft_index known_max;
    raft_index quorum_floor; /* every known entry up to here was seen durable on a quorum */
    uint64_t quorum_shape;   /* the configurations and voters quorum_floor holds for */
    raft_term term_max;
    char why[256];
};

void sim_safety_reset(struct sim_safety *s);
/* Member id leads term. */
bool sim_safety_leader(struct sim_safety *s, raft_term term, raft_id id);
/* Entry e is committed (a member applies it, or holds it at or below its commit index). */
bool sim_safety_committed(struct sim_safety *s, raft_id id, raft_index index,
                          const struct sim_stored_entry *e);
/* Entry e is written to a member's disk at an index the member held committed: it may not
 * rewrite it. */
bool sim_safety_written(struct sim_safety *s, raft_id id, raft_index index,
                        const struct sim_stored_entry *e);
/* A member's state machine after applying index (or loading a snapshot at index). */
bool sim_safety_applied(struct sim_safety *s, raft_id id, raft_index index,
                        const struct sim_kv *kv);
/* Every committed entry survives any election: in each configuration a member may campaign in
 * (confs), fewer voters than a majority lack it on disk, so every majority a candidate can win
 * holds it (for a fixed configuration: it is durable on a majority). views[id - 1] is member
 * id's durable view, NULL for one that can vote no more (stopped for good, or never started). */
bool sim_safety_quorum_durable(struct sim_safety *s, const struct raft_conf_state *confs,
                               uint32_t n_confs, const struct sim_disk_view *const *views,
                               uint32_t n_views);
/* Message m may leave member m->from whose disk holds durable: votes and acknowledgements only
 * once what they promise is durable; a leader's traffic only once its term is. */
bool sim_safety_outgoing(struct sim_safety *s, const struct raft_msg *m,
                         const struct sim_disk_view *durable);

/* Copies a raft entry into the stored form. */
struct sim_stored_entry sim_stored_entry_of(const struct raft_entry *e);

#endif
