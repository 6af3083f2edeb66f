/* Maintenance.Status; see maintenance_status.h. */
#include "maintenance_status.h"

#include "grpc_error.h"
#include "ringd_assert.h"
#include "ringd_error.h"
#include "shard.h"

void maintenance_status_build(const struct cluster_view *v, struct maintenance_status *out)
{
    ASSERT(v != NULL && out != NULL);
    out->header = (Etcdserverpb__ResponseHeader)ETCDSERVERPB__RESPONSE_HEADER__INIT;
    cluster_view_header(v, &out->header);
    Etcdserverpb__StatusResponse *r = &out->response;
    *r = (Etcdserverpb__StatusResponse)ETCDSERVERPB__STATUS_RESPONSE__INIT;
    r->header = &out->header;
    r->version = MAINTENANCE_STATUS_VERSION;
    r->dbsize = cluster_view_db_size_bytes(v);
    r->dbsizeinuse = cluster_view_db_size_in_use_bytes(v);
    r->leader = cluster_view_leader_id(v);
    r->raftindex = cluster_view_raft_index(v);
    r->raftterm = cluster_view_raft_term(v);
    r->raftappliedindex = cluster_view_raft_applied_index(v);
    r->islearner = cluster_view_is_learner(v);
    r->errors = out->errors;
    r->n_errors = 0;
    /* etcd's texts: ErrNoLeader's, then one per alarm. */
    if (r->leader == 0)
        out->errors[r->n_errors++] = (char *)ringd_strerror(-RINGD_ENO_LEADER);
    struct alarm_set alarms;
    cluster_view_alarms(v, &alarms);
    for (uint32_t i = 0; i < alarms.count; i++) {
        alarm_format(&alarms.items[i], out->alarm_texts[i], MAINTENANCE_ALARM_TEXT_BYTES);
        out->errors[r->n_errors++] = out->alarm_texts[i];
    }
    ASSERT(r->n_errors <= STATUS_ERRORS_MAX);
}

void maintenance_status_on_message(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    const struct shard *s = grpc_call_shard(call);
    if (s == NULL || s->common->view == NULL) {
        grpc_call_finish(call, GRPC_STATUS_INTERNAL, "ringd: no cluster view on this shard");
        return;
    }
    struct maintenance_status status;
    maintenance_status_build(s->common->view, &status);
    grpc_call_reply(call, &status.response.base);
}
