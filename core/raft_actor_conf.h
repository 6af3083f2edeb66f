/* The raft actor's membership changes and leadership transfers: the Cluster service's
 * MemberAdd, MemberRemove, MemberUpdate and MemberPromote, and Maintenance.MoveLeader, as a
 * shard sends them (a kv_proposal whose op is KV_OP_MEMBER_* or KV_OP_MOVE_LEADER).
 *
 * A membership change is checked as etcd checks it before proposing (valid URLs, the strict
 * reconfiguration checks, a learner in sync with the leader), then proposed as a conf-change
 * entry whose context is the request id and the member (a packed etcdserverpb.Member). When it
 * commits, the raft actor applies it to its own members table (core/members.h: the same checks
 * every member makes alike; a refused change changes nothing), then to the raft core and the
 * transport; the apply actor applies it to its table and answers the proposal with the member
 * list. A member that removed itself stops a few election timeouts later, as etcd's does.
 *
 * MoveLeader runs on the leader only ("etcdserver: not leader" elsewhere): the transfer starts
 * and the call is answered once the target leads, or "leader transfer took too long" after the
 * request timeout. At most RAFT_ACTOR_TRANSFERS_MAX calls wait at once.
 *
 * Thread: the raft actor's. Part of core/raft_actor.c, split out for size. */
#ifndef RINGD_RAFT_ACTOR_CONF_H
#define RINGD_RAFT_ACTOR_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "raft_actor.h"

/* The context of a conf-change entry: the request id (u64 little-endian), then the member. */
#define RAFT_ACTOR_CONF_ID_BYTES 8

/* True when p is a request of this module (its op), which then answers it (now or later). */
bool raft_actor_conf_request(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p);

/* A committed conf-change entry, in log order, before the Ready's advance: the members table,
 * the raft core and the transport change. Returns the entry's request id (0: none). */
uint64_t raft_actor_conf_committed(struct raft_actor *ra, const struct raft_entry *e);

/* Publishes whether this member is a learner (cluster view: the shards refuse what a learner
 * does not serve), from the members table. */
void raft_actor_conf_publish(struct raft_actor *ra);

/* The leader changed: transfers to it are answered. */
void raft_actor_conf_leader(struct raft_actor *ra);

/* The members table's change for a raft conf-change type (enum raft_conf_change_type). */
enum members_change_type raft_actor_conf_members_type(uint8_t type);

/* Each tick: transfers past their deadline fail. */
void raft_actor_conf_tick(struct raft_actor *ra);

/* --force-new-cluster, at start after the WAL's replay (etcd's forceNewCluster): every entry
 * in the log is committed, and one removal entry per other member is appended (to the core and
 * the WAL) and committed, so this member is the only voter once they are applied. hs is the
 * hard state to restore with, updated. Returns 0 or the core's or WAL's error. */
int raft_actor_force_new_cluster(struct raft_actor *ra, struct raft_hard_state *hs);

/* Shutdown: waiting transfers fail with err. */
void raft_actor_conf_fail_all(struct raft_actor *ra, int err);

#endif
