/* The Cluster service; see cluster_service.h. */
#include "cluster_service.h"

#include "kv_service.h"

void cluster_service_member_list(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    kv_service_query(call, KV_OP_MEMBER_LIST);
}

void cluster_service_member_add(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    kv_service_propose(call, KV_OP_MEMBER_ADD);
}

void cluster_service_member_remove(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    kv_service_propose(call, KV_OP_MEMBER_REMOVE);
}

void cluster_service_member_update(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    kv_service_propose(call, KV_OP_MEMBER_UPDATE);
}

void cluster_service_member_promote(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    kv_service_propose(call, KV_OP_MEMBER_PROMOTE);
}

void cluster_service_move_leader(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    kv_service_propose(call, KV_OP_MOVE_LEADER);
}
