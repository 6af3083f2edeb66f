/* Maintenance.Status (`etcdctl endpoint status`): the answering member's ids, version, raft
 * progress, backend size and health problems, read from the shard's cluster view.
 *
 * Field by field as etcd 3.4's maintenanceServer.Status fills it:
 *   header             cluster_view_header (cluster id, member id, raft term, revision)
 *   version            MAINTENANCE_STATUS_VERSION: the etcd API ringd implements, as a full
 *                      version ("3.5.0"); clientv3's checkVersion parses its major and minor
 *   dbSize, dbSizeInUse  the store's memory for data (etcd: bbolt file size and bytes in use)
 *   leader             the leader's member id; 0 when there is none
 *   raftIndex, raftTerm, raftAppliedIndex  the raft progress
 *   errors             "etcdserver: no leader" when there is no leader, then each alarm as
 *                      etcd prints it ("memberID:10276657743932975437 alarm:NOSPACE ")
 *   isLearner          whether this member is a learner
 *
 * Thread: the call's shard thread. */
#ifndef RINGD_MAINTENANCE_STATUS_H
#define RINGD_MAINTENANCE_STATUS_H

#include <protobuf-c/protobuf-c.h>

#include "cluster_view.h"
#include "etcdserverpb/rpc.pb-c.h"
#include "grpc_call.h"
#include "ringd_limits.h"

/* One alarm's text, "memberID:18446744073709551615 alarm:CORRUPT " at the longest. */
#define MAINTENANCE_ALARM_TEXT_BYTES 64

/* What StatusResponse.version says: the etcd server version whose API ringd implements. */
#define MAINTENANCE_STATUS_VERSION RINGD_ETCD_API_VERSION ".0"

/* A StatusResponse and the storage it points into. Not movable once built: response points at
 * header and errors. */
struct maintenance_status {
    Etcdserverpb__StatusResponse response;
    Etcdserverpb__ResponseHeader header;
    char *errors[STATUS_ERRORS_MAX];
    char alarm_texts[ALARMS_MAX][MAINTENANCE_ALARM_TEXT_BYTES];
};

/* Builds the response from v (relaxed reads of each field: no cross-field consistency, as
 * cluster_view.h says). Pure but for those loads; any thread. */
void maintenance_status_build(const struct cluster_view *v, struct maintenance_status *out);

/* The Status method's handler (grpc_method.on_message): replies with the shard's view, or
 * finishes the call with INTERNAL when the shard has none (a wiring bug the client should see
 * rather than a crash). */
void maintenance_status_on_message(struct grpc_call *call, const ProtobufCMessage *request);

#endif
