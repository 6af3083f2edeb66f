/* Joining a running cluster (--initial-cluster-state existing), the asking side: before the
 * actors start, the main thread asks the other members named in --initial-cluster, one peer URL
 * after another, for the cluster id and member list (a JOIN_REQUEST on a connection of its own,
 * answered by the member's peer transport with a JOIN_RESPONSE: net/peer_codec.h), as etcd's
 * GetClusterFromRemotePeers asks GET /members. The first answer wins.
 *
 * Thread: the main thread at start-up (blocking sockets, each URL bounded by timeout_ms). */
#ifndef RINGD_PEER_JOIN_H
#define RINGD_PEER_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "cluster_id.h"
#include "members.h"

/* etcd's GetClusterFromRemotePeers gives each URL 10 s. */
#define PEER_JOIN_TIMEOUT_MS 10000u

/* Asks every member of local but our own (local->local) until one answers. Each failure is
 * logged (etcd's "failed to get cluster response"). Returns 0 with *cluster_id and out filled,
 * or -ETIMEDOUT with etcd's text in why: "cannot fetch cluster info from peer urls: could not
 * retrieve cluster information from the given URLs". */
int peer_join_fetch(const struct cluster_ids *local, uint32_t timeout_ms, uint64_t *cluster_id,
                    struct members *out, char *why, size_t why_bytes);

#endif
