/* The simulated world: raft members with fake disks, clients, the fake network and clock, the
 * faults, and the checks, all driven by one seed in one thread (see sim_main.c). The parts live
 * in their own files; this header is what they share. */
#ifndef RINGD_SIM_H
#define RINGD_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "raft.h"
#include "sim_disk.h"
#include "sim_kv.h"
#include "sim_linear.h"
#include "sim_net.h"
#include "sim_rng.h"
#include "sim_safety.h"
#include "sim_sched.h"

#define SIM_MEMBERS_MAX 8 /* the first 3 or 5 start the cluster; the others may join it */
#define SIM_CLIENTS_MAX 6
#define SIM_EVENTS_MAX  (SIM_NET_SLOTS + 256)
#define SIM_HISTORY_MAX 1024        /* client operations per run */
#define SIM_PENDING_MAX 32          /* client requests one member holds */
#define SIM_STASH_MAX   4           /* snapshots received and not yet installed */
#define SIM_FAULTS_MAX  16          /* faults active at once */
#define SIM_TICK_US     SIM_MS(100) /* etcd's default heartbeat interval: one raft tick */

_Static_assert(SIM_CLIENTS_MAX <= SIM_KV_CLIENTS_MAX, "the state machine knows every client");

/* A client request a member works on: a proposal at index (0: forwarded to the leader, known
 * by its operation when it applies), or a read under context. */
struct sim_pending {
    bool used;
    bool is_read;
    bool has_index; /* a read: its read state came */
    uint32_t client;
    uint32_t attempt;
    struct sim_op op;
    raft_index index;
    uint64_t context;
    sim_us since;
};

struct sim_stash {
    raft_index index;
    struct sim_kv kv;
};

struct sim_member {
    uint32_t idx; /* network node; its raft id is idx + 1 */
    raft_id id;
    bool booted;  /* started once: a founder, or a member a conf change added */
    bool stopped; /* removed from the cluster and shut down for good */
    bool up;
    uint32_t incarnation; /* bumped at each crash: stale events of a past life are ignored */
    struct raft *r;
    struct raft_config cfg;
    struct sim_disk *disk;
    struct sim_kv kv; /* the state machine */
    raft_index applied;
    struct raft_conf_state conf; /* the members as of applied (raft_apply_conf_change) */
    bool ready_out;
    bool syncing;
    struct raft_ready rd;
    struct sim_pending pending[SIM_PENDING_MAX];
    struct sim_stash stash[SIM_STASH_MAX];
    uint32_t n_stash;
    uint64_t read_context;
    raft_index checked_to;   /* its committed prefix, compared with the global log so far */
    raft_index ready_commit; /* the commit index its last Ready (or restart) had */
    sim_us tick_us;          /* this member's clock drifts a little */
    bool slow_disk;
    uint32_t snapshot_every; /* applied entries between its own snapshots */
};

struct sim_client {
    uint32_t idx; /* network node */
    bool busy;
    bool attempt_open; /* the last attempt's outcome is not known */
    bool final;        /* after the faults: reading every key once more */
    uint32_t final_key;
    struct sim_op op;
    uint32_t attempt;
    uint32_t hist; /* its history slot */
    uint32_t target;
    uint32_t last_seen[SIM_KEYS_MAX];
};

/* A client operation as the history keeps it; never: it did not happen (every attempt was
 * refused). */
struct sim_hist {
    struct sim_linear_op op;
    bool never;
    uint32_t client;
};

struct sim_fault {
    bool active;
    uint8_t kind;
    uint32_t member;
    uint32_t cut[SIM_MEMBERS_MAX]; /* links this fault cut: bit j of cut[i] is i -> j */
};

struct sim_stats {
    uint64_t crashes, restarts, partitions, slow_disks, snapshots, snapshots_sent;
    uint64_t ops, ops_unknown, ops_never, reads_index, undecided, lost_unsynced;
    uint64_t transfers, transfers_done, conf_proposed, joined, promoted, removed, stopped;
};

struct sim {
    uint64_t seed;
    uint64_t step;
    bool trace;
    bool tear_readies;    /* a crash may keep part of one Ready's records (SIM_TEAR=0: not) */
    uint64_t fingerprint; /* a hash of every event: equal runs have equal fingerprints */
    struct sim_rng rng;
    struct sim_sched sched;
    struct sim_event events[SIM_EVENTS_MAX];
    struct sim_net net;
    struct sim_safety safety;
    uint32_t n_members;  /* member slots: founders, then the ones that may join */
    uint32_t n_founders; /* the voters the cluster starts with */
    uint32_t n_keys;
    struct sim_member members[SIM_MEMBERS_MAX];
    uint32_t n_clients;
    struct sim_client clients[SIM_CLIENTS_MAX];
    struct sim_hist history[SIM_HISTORY_MAX];
    uint32_t n_history;
    uint32_t ops_budget; /* operations clients may still start */
    bool faults_on;
    bool final_reads_started;
    struct sim_fault faults[SIM_FAULTS_MAX];
    sim_us removed_at[SIM_MEMBERS_MAX]; /* when a member first applied its removal; 0: never */
    /* The configuration of the last conf change any member applied, and the one before it:
     * members that have not applied the last one yet are in the one before. */
    struct raft_conf_state conf_now, conf_before;
    raft_index conf_now_index;
    struct sim_stats stats;
};

/* Ends the program: prints "sim: seed N failed at step S: <why>" and how to replay it. */
_Noreturn void sim_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* With SIM_TRACE set, one line of the run's story on stdout. */
void sim_trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* sim_member.c */
/* Starts member idx on a fresh disk holding conf (empty: it joins a running cluster). */
void sim_member_boot(struct sim *s, struct sim_member *m, uint32_t idx,
                     const struct raft_conf_state *conf);
void sim_member_crash(struct sim *s, struct sim_member *m);
void sim_member_restart(struct sim *s, struct sim_member *m);
void sim_member_tick(struct sim *s, struct sim_member *m);
void sim_member_receive(struct sim *s, struct sim_member *m, const struct sim_packet *p);
void sim_member_sync_done(struct sim *s, struct sim_member *m);
void sim_member_drive(struct sim *s, struct sim_member *m);
void sim_member_free(struct sim_member *m);

/* The member's raft status; false when it is not running. */
bool sim_member_status(const struct sim_member *m, struct raft_status *st);
/* A running member picked at random (booted, not stopped; up or crashed). */
uint32_t sim_member_pick(struct sim *s);

/* sim_conf.c: membership changes and leadership transfers as events. */
/* Proposes a membership change on a random member (followers forward it): promote a learner
 * that caught up, add a new member (joining empty, as a learner mostly), or remove one. */
void sim_conf_propose(struct sim *s);
/* Asks the leader to hand leadership to a random voter. */
void sim_conf_transfer(struct sim *s);
/* Member m applies the committed conf-change entry e (before its Ready's raft_advance). */
void sim_conf_apply(struct sim *s, struct sim_member *m, const struct raft_entry *e);
/* A removed member shuts down for good (etcd's stopWithDelay, or its peers refused it). */
void sim_conf_stop(struct sim *s, struct sim_member *m);
/* True when member `to` drops a raft message from member slot `from`: it applied its removal. */
bool sim_conf_refused(struct sim *s, const struct sim_member *to, uint32_t from);
/* Each tick of m: a removed member its peers have refused for a while stops. */
void sim_conf_tick(struct sim *s, struct sim_member *m);

/* sim_client.c */
void sim_client_init(struct sim *s, struct sim_client *c, uint32_t idx);
void sim_client_next(struct sim *s, struct sim_client *c);
void sim_client_retry(struct sim *s, struct sim_client *c, uint64_t seq);
void sim_client_timeout(struct sim *s, struct sim_client *c, uint64_t seq);
void sim_client_reply(struct sim *s, struct sim_client *c, const struct sim_packet *p);
/* After the faults, one client reads every key once more: lost writes show. */
void sim_client_final_reads(struct sim *s, struct sim_client *c);
/* True when the client has nothing running and no final read left. */
bool sim_client_idle(const struct sim_client *c);

/* sim_fault.c */
void sim_fault_inject(struct sim *s);
void sim_fault_heal(struct sim *s, uint32_t slot);
/* Ends every fault: links restored, crashed members restarted, disks fast, no loss. */
void sim_fault_heal_all(struct sim *s);

/* sim_check.c */
/* Fails the run with the safety checker's reason unless ok. */
void sim_require(struct sim *s, bool ok);
/* The safety checks after a step (see sim_safety.h). */
void sim_check_step(struct sim *s);
/* True once the cluster has one leader every member follows with everything applied. */
bool sim_check_converged(struct sim *s);
/* One line per member on stderr, for a run that did not converge. */
void sim_check_dump(struct sim *s);
/* The client history is linearizable (or the search undecided, counted). */
void sim_check_history(struct sim *s);

#endif
