/* The Cluster service on a shard (etcd's etcdserverpb.Cluster): MemberList is answered by the
 * apply actor, which owns the members table (core/members.h).
 *
 * Thread: the call's shard thread. */
#ifndef RINGD_CLUSTER_SERVICE_H
#define RINGD_CLUSTER_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "grpc_call.h"

void cluster_service_member_list(struct grpc_call *call, const ProtobufCMessage *request);

#endif
