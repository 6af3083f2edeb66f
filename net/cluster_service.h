/* The Cluster service on a shard (etcd's etcdserverpb.Cluster) and Maintenance.MoveLeader:
 * MemberList is answered by the apply actor, which owns the members table (core/members.h);
 * the changes and MoveLeader go to the raft actor (core/raft_actor_conf.h).
 *
 * Thread: the call's shard thread. */
#ifndef RINGD_CLUSTER_SERVICE_H
#define RINGD_CLUSTER_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "grpc_call.h"

void cluster_service_member_list(struct grpc_call *call, const ProtobufCMessage *request);
void cluster_service_member_add(struct grpc_call *call, const ProtobufCMessage *request);
void cluster_service_member_remove(struct grpc_call *call, const ProtobufCMessage *request);
void cluster_service_member_update(struct grpc_call *call, const ProtobufCMessage *request);
void cluster_service_member_promote(struct grpc_call *call, const ProtobufCMessage *request);
void cluster_service_move_leader(struct grpc_call *call, const ProtobufCMessage *request);

#endif
