/* A run's result: its histogram's lifetime and the status names (see ringd_bench_result.h). */
#include "ringd_bench_result.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"

int rbench_result_init(struct rbench_result *r)
{
    memset(r, 0, sizeof(*r));
    r->hist = malloc(sizeof(*r->hist));
    if (r->hist == NULL)
        return -ENOMEM;
    rbench_hist_reset(r->hist);
    return 0;
}

void rbench_result_free(struct rbench_result *r)
{
    free(r->hist);
    r->hist = NULL;
}

const char *rbench_status_name(enum grpc_status status)
{
    static const char *const names[RBENCH_STATUS_COUNT] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    static_assert(GRPC_STATUS_UNAUTHENTICATED == 16, "the table above follows grpc's codes");
    if ((unsigned)status >= RBENCH_STATUS_COUNT)
        return "UNKNOWN";
    return names[status];
}
