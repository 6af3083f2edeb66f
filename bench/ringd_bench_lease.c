/* ringd-bench's lease-keepalive workload: each client grants a lease (--lease-ttl), opens one
 * LeaseKeepAlive stream and then sends keep-alives on it, one at a time; an operation's latency
 * runs from the request (its intended send time under --rate) to the answer. etcd's own
 * benchmark opens a stream per keep-alive (KeepAliveOnce); reusing one stream measures the
 * server's keep-alive path rather than stream set-up. */
#include <errno.h>
#include <string.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "ringd_assert.h"
#include "ringd_bench_engine.h"

struct lease_setup {
    struct rbench_engine *e;
    uint32_t granted;
    uint32_t failed;
    enum grpc_status status;
    char message[RBENCH_ERROR_BYTES_MAX];
};

static void grant_done(void *arg, const struct grpc_client_result *result)
{
    struct rbench_slot *slot = arg;
    struct lease_setup *ls = slot->engine->state;
    const Etcdserverpb__LeaseGrantResponse *resp = (const void *)result->response.decoded;
    if (result->status == GRPC_STATUS_OK && resp != NULL && resp->error[0] == '\0') {
        slot->lease_id = resp->id;
        ls->granted++;
        return;
    }
    if (ls->failed++ == 0) {
        ls->status = result->status == GRPC_STATUS_OK ? GRPC_STATUS_INTERNAL : result->status;
        snprintf(ls->message, sizeof(ls->message), "%s",
                 result->status != GRPC_STATUS_OK ? result->message
                 : resp != NULL                   ? resp->error
                                                  : "undecodable LeaseGrantResponse");
    }
}

static bool grants_over(void *arg)
{
    struct lease_setup *ls = arg;
    return ls->granted + ls->failed == ls->e->slots_count;
}

static void keepalive_message(void *arg, struct grpc_client_call *call,
                              const struct grpc_client_message *message)
{
    (void)call;
    struct rbench_slot *slot = arg;
    struct rbench_engine *e = slot->engine;
    if (!slot->busy) {
        rbench_engine_error(e, GRPC_STATUS_INTERNAL, "a keep-alive answer nobody asked for");
        return;
    }
    const Etcdserverpb__LeaseKeepAliveResponse *resp = (const void *)message->decoded;
    if (resp == NULL || resp->ttl <= 0) {
        /* TTL 0 is etcd's answer for a lease that is gone. */
        rbench_engine_complete(e, slot, GRPC_STATUS_NOT_FOUND,
                               "etcdserver: requested lease not found");
        return;
    }
    rbench_engine_complete(e, slot, GRPC_STATUS_OK, "");
}

static void keepalive_done(void *arg, const struct grpc_client_result *result)
{
    struct rbench_slot *slot = arg;
    struct rbench_engine *e = slot->engine;
    slot->stream = NULL;
    slot->dead = true;
    enum grpc_status status =
        result->status == GRPC_STATUS_OK ? GRPC_STATUS_UNAVAILABLE : result->status;
    if (slot->busy)
        rbench_engine_complete(e, slot, status, result->message);
    else if (!e->stopping)
        rbench_engine_error(e, status, result->message);
}

static int grants_start(struct rbench_engine *e, struct lease_setup *ls)
{
    for (uint32_t i = 0; i < e->slots_count; i++) {
        Etcdserverpb__LeaseGrantRequest req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
        req.ttl = (int64_t)e->config->lease_ttl_s;
        struct grpc_client_request r = {.path = "/etcdserverpb.Lease/LeaseGrant",
                                        .message = &req.base,
                                        .response = &etcdserverpb__lease_grant_response__descriptor,
                                        .timeout_ms = rbench_engine_timeout_ms(e)};
        int rc = grpc_client_unary(e->slots[i].conn, &r, NULL, &e->slots[i], grant_done);
        if (rc < 0)
            return rbench_engine_fail(e, GRPC_STATUS_INTERNAL, "LeaseGrant: %s", strerror(-rc));
    }
    if (rbench_engine_wait(e, ls, grants_over) < 0)
        return rbench_engine_fail(e, GRPC_STATUS_DEADLINE_EXCEEDED, "LeaseGrant: no answer");
    if (ls->failed > 0)
        return rbench_engine_fail(e, ls->status, "LeaseGrant: %s: %s",
                                  rbench_status_name(ls->status), ls->message);
    return 0;
}

static int lease_setup(struct rbench_engine *e)
{
    struct lease_setup ls = {.e = e};
    e->state = &ls;
    int rc = grants_start(e, &ls);
    e->state = NULL;
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < e->slots_count; i++) {
        struct rbench_slot *slot = &e->slots[i];
        struct grpc_client_request r = {.path = "/etcdserverpb.Lease/LeaseKeepAlive",
                                        .response =
                                            &etcdserverpb__lease_keep_alive_response__descriptor};
        rc = grpc_client_stream_open(slot->conn, &r, &slot->stream, slot, keepalive_message,
                                     keepalive_done);
        if (rc < 0)
            return rbench_engine_fail(e, GRPC_STATUS_INTERNAL, "LeaseKeepAlive: %s", strerror(-rc));
    }
    return 0;
}

static int lease_issue(struct rbench_engine *e, struct rbench_slot *slot, uint64_t op)
{
    (void)e;
    (void)op;
    ASSERT(slot->stream != NULL);
    Etcdserverpb__LeaseKeepAliveRequest req = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
    req.id = slot->lease_id;
    return grpc_client_stream_send(slot->stream, &req.base);
}

static void lease_teardown(struct rbench_engine *e)
{
    e->stopping = true; /* the streams' ends below are ours, not failures */
    for (uint32_t i = 0; i < e->slots_count; i++)
        if (e->slots[i].stream != NULL)
            grpc_client_call_cancel(e->slots[i].stream);
}

const struct rbench_workload_ops rbench_lease_keepalive_ops = {
    .setup = lease_setup,
    .issue = lease_issue,
    .teardown = lease_teardown,
};
