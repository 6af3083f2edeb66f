/* grpc.health.v1.Health/Check; see health_check.h. */
#include "health_check.h"

#include <grpc/health/v1/health.pb-c.h>

void health_check_on_message(struct grpc_call *call, const ProtobufCMessage *request)
{
    const Grpc__Health__V1__HealthCheckRequest *r = (const void *)request;
    if (r->service[0] != '\0') {
        grpc_call_finish(call, GRPC_STATUS_NOT_FOUND, "unknown service");
        return;
    }
    Grpc__Health__V1__HealthCheckResponse response = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    response.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    grpc_call_reply(call, &response.base);
}
