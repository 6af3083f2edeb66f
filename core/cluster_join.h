/* Joining a running cluster (--initial-cluster-state existing): the ids the cluster gave its
 * members replace those --initial-cluster-token would give, as etcd's
 * membership.ValidateClusterAndAssignIDs does once GetClusterFromRemotePeers fetched the list.
 *
 * Thread: the main thread at start-up (a DNS name in a URL is resolved, blocking). */
#ifndef RINGD_CLUSTER_JOIN_H
#define RINGD_CLUSTER_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "cluster_id.h"
#include "members.h"

/* local is what cluster_ids_compute made of --initial-cluster (local->join set); existing is
 * the running cluster's member list and cluster_id its id. Every existing member must match
 * one local member by peer URLs (etcd's netutil.URLStringsEqual), which takes its id and
 * learner flag; the counts must be equal. Then local holds the cluster's ids, sorted by id,
 * with our member (by name) as local->member_id. Returns 0, or -RINGD_EINVAL_CONFIG with
 * etcd's text in why ("error validating peerURLs {ClusterID:... Members:[...]
 * RemovedMemberIDs:[]}: member count is unequal", or "...: PeerURLs: no match found for
 * existing member (id, [urls]), last resolver error (reason)"); etcd prints the members in Go
 * map order, ringd by id. */
int cluster_join_assign(struct cluster_ids *local, uint64_t cluster_id,
                        const struct members *existing, char *why, size_t why_bytes);

#endif
