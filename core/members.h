/* The cluster's members as the apply actor knows them (etcd's membership.RaftCluster): id,
 * name, peer and client URLs, learner or voter. It starts from the initial cluster (names and
 * peer URLs from --initial-cluster), learns each member's name and client URLs from the
 * attributes entry the member publishes when it starts, and changes with membership entries.
 * MemberList is answered from it.
 *
 * Bounds: RAFT_MEMBERS_MAX members, CLUSTER_PEER_URLS_MAX URLs of each kind per member, each
 * at most CONFIG_URL_BYTES_MAX - 1 bytes; what does not fit is refused.
 *
 * Thread: a table belongs to one thread (the apply actor has one, the raft actor its own copy;
 * snapshot writing reads a copy); the functions keep their scratch per thread. */
#ifndef RINGD_MEMBERS_H
#define RINGD_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "cluster_id.h"
#include "etcdserverpb/rpc.pb-c.h"
#include "ringd_limits.h"

/* Learners in a cluster at once (etcd 3.4's maxLearners). */
#define MEMBERS_LEARNERS_MAX 1

struct member_info {
    uint64_t id;
    bool is_learner;
    uint32_t n_peer_urls;
    uint32_t n_client_urls;
    char name[CONFIG_NAME_BYTES_MAX];
    char peer_urls[CLUSTER_PEER_URLS_MAX][CONFIG_URL_BYTES_MAX];
    char client_urls[CLUSTER_PEER_URLS_MAX][CONFIG_URL_BYTES_MAX];
};

struct members {
    uint32_t count;
    struct member_info items[RAFT_MEMBERS_MAX]; /* sorted by id, as etcd lists them */
};

/* The initial cluster: its members with their peer URLs, not yet named (etcd lists a member
 * that has not published with an empty name and no client URLs). */
void members_init(struct members *m, const struct cluster_ids *ids);

/* The member of id, or NULL. */
struct member_info *members_find(struct members *m, uint64_t id);

/* A published attributes entry: a packed etcdserverpb.Member with ID, name and clientURLs.
 * Returns 0, -EINVAL for bytes that do not decode or a value over the bounds, -ENOENT for a
 * member not in the cluster (it was removed: ignored, as etcd ignores it). */
int members_apply_attributes(struct members *m, const uint8_t *data, uint32_t len);

/* Packs what members_apply_attributes reads, for the member's own entry. Returns the length,
 * or 0 when it does not fit in out_bytes. */
uint32_t members_pack_attributes(uint64_t id, const char *name, const char *const *client_urls,
                                 uint32_t n_client_urls, uint8_t *out, uint32_t out_bytes);

/* One member as a snapshot keeps it: a packed etcdserverpb.Member with every field. Returns
 * the length, or 0 when it does not fit in out_bytes. */
uint32_t members_pack_member(const struct member_info *mi, uint8_t *out, uint32_t out_bytes);

/* A member from a snapshot (what members_pack_member wrote), added in id order. Returns 0,
 * -EINVAL for bytes that do not decode or pass the bounds, -EEXIST for an id already there,
 * -ENOSPC past RAFT_MEMBERS_MAX. */
int members_load_member(struct members *m, const uint8_t *data, uint32_t len);

/* The largest packed member: members_pack_member never needs more. */
#define MEMBERS_PACKED_BYTES_MAX \
    (32 + CONFIG_NAME_BYTES_MAX + 2 * CLUSTER_PEER_URLS_MAX * (CONFIG_URL_BYTES_MAX + 4))

/* A membership change as the log carries it (etcd's ConfChange types). */
enum members_change_type {
    MEMBERS_ADD,     /* a new voter, or a learner (learner set) */
    MEMBERS_REMOVE,  /* a voter or learner leaves */
    MEMBERS_UPDATE,  /* new peer URLs */
    MEMBERS_PROMOTE, /* a learner becomes a voter */
};

/* Applies a committed change to the table, with etcd's checks (membership.RaftCluster's
 * ValidateConfigurationChange), which every member makes alike on the same table: on error
 * nothing changes. member holds the id, and for ADD and UPDATE the peer URLs (and learner for
 * ADD). Errors: -RINGD_EMEMBER_EXIST, -RINGD_EPEER_URL_EXIST, -RINGD_EMEMBER_NOT_FOUND,
 * -RINGD_EMEMBER_NOT_LEARNER, -RINGD_ETOO_MANY_LEARNERS, -RINGD_EMEMBER_BAD_URLS (over the
 * bounds), -ENOSPC (full). */
int members_apply_change(struct members *m, enum members_change_type type,
                         const Etcdserverpb__Member *member);

/* etcd's strict reconfiguration checks (IsReadyToAddVotingMember and friends): would a quorum
 * of voters that have published their attributes ("started") remain after adding a voter,
 * removing id, or promoting id? */
bool members_ready_to_add_voter(const struct members *m);
bool members_ready_to_remove(const struct members *m, uint64_t id);
bool members_ready_to_promote(const struct members *m, uint64_t id);

/* Fills a MemberListResponse's members (allocated in a; strings point into m). Returns 0 or
 * -ENOMEM. */
int members_list(const struct members *m, Etcdserverpb__MemberListResponse *resp, struct arena *a);

#endif
