/* The Cluster service; see cluster_service.h. */
#include "cluster_service.h"

#include "kv_service.h"

void cluster_service_member_list(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    kv_service_query(call, KV_OP_MEMBER_LIST);
}
