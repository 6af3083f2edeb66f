/* grpc.health.v1.Health/Check as etcd's client port answers it (grpc-go's health server, which
 * etcd registers with the overall status "" serving): SERVING for the service "", NOT_FOUND
 * "unknown service" for any other name. Health probes (grpc_health_probe, Kubernetes' gRPC
 * probes) call it.
 *
 * Thread: the call's shard thread. */
#ifndef RINGD_HEALTH_CHECK_H
#define RINGD_HEALTH_CHECK_H

#include <protobuf-c/protobuf-c.h>

#include "grpc_call.h"

/* The Check method's handler (grpc_method.on_message). */
void health_check_on_message(struct grpc_call *call, const ProtobufCMessage *request);

#endif
