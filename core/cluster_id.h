/* Member and cluster ids exactly as etcd derives them, and the bootstrap checks etcd makes on
 * --initial-cluster, --initial-advertise-peer-urls and --name, with etcd's error texts.
 *
 * A member id is the first 8 bytes, big-endian, of SHA-1 over the member's peer URLs sorted as
 * strings and concatenated, then the cluster token, then (only for members added at runtime)
 * the decimal unix time of the add. The cluster id is the first 8 bytes, big-endian, of SHA-1
 * over the ids of the bootstrap members, sorted, each as 8 big-endian bytes. (etcd 3.4:
 * membership/member.go newMember, membership/cluster.go genID.)
 *
 * No allocation; every function is pure but for cluster_ids_compute's name resolution (below)
 * and may run on any thread. */
#ifndef RINGD_CLUSTER_ID_H
#define RINGD_CLUSTER_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ringd_limits.h"

/* One member of the initial cluster. */
struct cluster_member {
    uint64_t id;
    bool is_learner; /* only for a member that joined: the cluster's list had it so */
    char name[CONFIG_NAME_BYTES_MAX];
    uint32_t peer_urls_count; /* >= 1 */
    /* As config_urls_parse keeps them (scheme in lower case), sorted as strings. That is Go's
     * url.URL.String(), which etcd hashes, but for URLs no peer uses in practice: Go rewrites
     * percent-escapes and '@' in userinfo ("u%41:p@h:1" hashes as "uA:p@h:1"), escapes non-ASCII
     * host bytes and some fragment bytes, and drops an empty fragment. */
    char peer_urls[CLUSTER_PEER_URLS_MAX][CONFIG_URL_BYTES_MAX];
};

/* The ids of a bootstrapped cluster. About 280 KiB: keep it in static or heap storage. */
struct cluster_ids {
    uint64_t cluster_id;
    uint64_t member_id; /* ours: members[local].id */
    uint32_t local;     /* index of our member in members */
    /* --initial-cluster-state existing: the member joins a running cluster and never
     * bootstraps one. Until core/cluster_join gives them the cluster's, the ids are those the
     * token would give (etcd's NewClusterFromURLsMap), good for nothing but the checks. */
    bool join;
    uint32_t members_count;
    struct cluster_member members[CONFIG_CLUSTER_MEMBERS_MAX]; /* sorted by id, as etcd lists */
};

/* Parses cfg->initial_cluster ("name=url,name=url2,other=url3"; a name may repeat to give more
 * URLs; empty entries are skipped; a name without '=' has the empty URL) and derives every id,
 * checking what etcd checks when it bootstraps a new member, in etcd's order:
 *   - each URL as etcd's types.NewURLs ("error setting up initial cluster: URL must not contain
 *     a path: ..."),
 *   - our name is in the cluster ("couldn't find local name \"x\" in the initial cluster
 *     configuration"),
 *   - for state new, --initial-advertise-peer-urls equals our URLs in the cluster
 *     ("--initial-cluster has default=... but missing from --initial-advertise-peer-urls=...
 *     (...)" and its two siblings),
 *   - no URL appears twice ("initial cluster a=...,b=... has duplicate url").
 * URLs compare as strings; when they differ and a host is a DNS name (not "localhost", not an IP
 * address), both sides are resolved as etcd does (netutil.URLStringsEqual) with one blocking
 * getaddrinfo each, where etcd retries for up to 30 s. Start-up only.
 *
 * For --initial-cluster-state existing the member fetches the ids from the running members over
 * the peer port (net/peer_join, core/cluster_join): after the same checks out->join is set.
 *
 * Returns 0 and fills out, or -RINGD_EINVAL_CONFIG with
 * the text etcd prints in why (NUL-terminated, cut to why_bytes). etcd 3.4 with --logger=zap
 * prints that text as the "error" field of two lines and exits with status 1:
 *   {"level":"warn",...,"msg":"failed to start etcd","error":"<why>"}
 *   {"level":"fatal",...,"msg":"discovery failed","error":"<why>","stacktrace":...}
 * so a caller reports a failure with log_warn and then log_fatal, each with LOG_STR("error", why).
 * Texts that carry a resolver error differ from etcd's, whose Go resolver words its own
 * ("lookup x on 10.0.0.53:53: no such host" where ringd gives gai_strerror's text). */
int cluster_ids_compute(const struct config *cfg, struct cluster_ids *out, char *why,
                        size_t why_bytes);

/* The id of a member with these peer URLs (any order; at most CLUSTER_PEER_URLS_MAX, each a
 * NUL-terminated url.URL.String() text) in the cluster named by token. unix_time_s is NULL for a
 * bootstrap member and points at the time of the add for a member added at runtime. A bootstrap
 * member hashes --initial-cluster-token; a member added at runtime hashes the empty token, as
 * etcd's v3 MemberAdd passes "" for the cluster name (verified on etcd 3.4.23). */
uint64_t cluster_member_id(const char *const *peer_urls, size_t count, const char *token,
                           const int64_t *unix_time_s);

/* The cluster id of a cluster bootstrapped with these members (any order, at most
 * CONFIG_CLUSTER_MEMBERS_MAX). */
uint64_t cluster_id_from_members(const uint64_t *member_ids, size_t count);

/* etcd's netutil.URLStringsEqual on two sorted lists: true when equal as strings, or after
 * resolving DNS names (blocking: start-up only); else false with etcd's reason in err. */
bool cluster_urls_equal(const char *const *a, const char *const *b, size_t count_a, size_t count_b,
                        char *err, size_t err_bytes);

/* The member with this name, or NULL. */
const struct cluster_member *cluster_ids_find_name(const struct cluster_ids *ids, const char *name);

/* Writes id as etcd prints a types.ID: lower-case hex without leading zeros ("8e9e05c52164694d").
 * out_bytes >= 17 always suffices. Returns the length. */
size_t cluster_id_format(char *out, size_t out_bytes, uint64_t id);

#endif
