/* The declarative table of every gRPC method an etcd 3.5 server registers (etcd's rpc.proto,
 * v3lock.proto, v3election.proto, grpc's health.proto): path, message types, streaming kind,
 * handler and what the method requires. A method whose handler is NULL answers UNIMPLEMENTED naming
 * itself (grpc_call.c); issues that implement a service fill its handlers in here.
 *
 * needs_auth and needs_leader are what the auth and clustering issues will enforce: auth is
 * checked for the key space, lease, maintenance and auth-management methods (etcd's
 * authorisation points); the leader is needed by every proposal and by the lease methods that
 * read the leader's lessor. proposal marks requests etcd turns into raft proposals, whose size
 * --max-request-bytes bounds (grpc_method.h). Txn is left out: etcd proposes only a txn that
 * writes, which its handler will check. */
#include <string.h>

#include "etcdserverpb/rpc.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc_method.h"
#include "health_check.h"
#include "cluster_service.h"
#include "kv_service.h"
#include "maintenance_status.h"
#include "v3electionpb/v3election.pb-c.h"
#include "v3lockpb/v3lock.pb-c.h"

enum {
    AUTH = 1 << 0,     /* needs_auth */
    LEADER = 1 << 1,   /* needs_leader */
    PROPOSAL = 1 << 2, /* proposal (implies the leader) */
};

#define METHOD_WITH_CANCEL(pkg, svc, meth, req, resp, kind_, handler, cancel, flags)             \
    {                                                                                            \
        .path = "/" #pkg "." #svc "/" #meth, .service = #pkg "." #svc, .name = #meth,            \
        .request = &pkg##__##req##__descriptor, .response = &pkg##__##resp##__descriptor,        \
        .kind = (kind_), .on_message = (handler), .on_cancel = (cancel),                         \
        .needs_auth = ((flags)&AUTH) != 0, .needs_leader = ((flags) & (LEADER | PROPOSAL)) != 0, \
        .proposal = ((flags)&PROPOSAL) != 0,                                                     \
    }

/* A method whose handler always answers before it returns: no on_cancel. */
#define METHOD(pkg, svc, meth, req, resp, kind, handler, flags) \
    METHOD_WITH_CANCEL(pkg, svc, meth, req, resp, kind, handler, NULL, flags)

#define ETCD(svc, meth, req, resp, kind, handler, flags) \
    METHOD(etcdserverpb, svc, meth, req, resp, kind, handler, flags)

/* A unary etcd method whose handler may answer later (after the apply actor, or a read index). */
#define DEFERRED(svc, meth, req, resp, handler, cancel, flags) \
    METHOD_WITH_CANCEL(etcdserverpb, svc, meth, req, resp, GRPC_UNARY, handler, cancel, flags)

static const struct grpc_method grpc_methods[] = {
    DEFERRED(KV, Range, range_request, range_response, kv_service_range, kv_service_cancel, AUTH),
    DEFERRED(KV, Put, put_request, put_response, kv_service_put, kv_service_cancel,
             AUTH | PROPOSAL),
    DEFERRED(KV, DeleteRange, delete_range_request, delete_range_response, kv_service_delete_range,
             kv_service_cancel, AUTH | PROPOSAL),
    DEFERRED(KV, Txn, txn_request, txn_response, kv_service_txn, kv_service_cancel, AUTH),
    DEFERRED(KV, Compact, compaction_request, compaction_response, kv_service_compact,
             kv_service_cancel, AUTH | PROPOSAL),

    ETCD(Watch, Watch, watch_request, watch_response, GRPC_BIDI_STREAM, NULL, AUTH),

    ETCD(Lease, LeaseGrant, lease_grant_request, lease_grant_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Lease, LeaseRevoke, lease_revoke_request, lease_revoke_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Lease, LeaseKeepAlive, lease_keep_alive_request, lease_keep_alive_response,
         GRPC_BIDI_STREAM, NULL, LEADER),
    ETCD(Lease, LeaseTimeToLive, lease_time_to_live_request, lease_time_to_live_response,
         GRPC_UNARY, NULL, AUTH | LEADER),
    ETCD(Lease, LeaseLeases, lease_leases_request, lease_leases_response, GRPC_UNARY, NULL, 0),

    DEFERRED(Cluster, MemberAdd, member_add_request, member_add_response,
             cluster_service_member_add, kv_service_cancel, LEADER),
    DEFERRED(Cluster, MemberRemove, member_remove_request, member_remove_response,
             cluster_service_member_remove, kv_service_cancel, LEADER),
    DEFERRED(Cluster, MemberUpdate, member_update_request, member_update_response,
             cluster_service_member_update, kv_service_cancel, LEADER),
    DEFERRED(Cluster, MemberList, member_list_request, member_list_response,
             cluster_service_member_list, kv_service_cancel, 0),
    DEFERRED(Cluster, MemberPromote, member_promote_request, member_promote_response,
             cluster_service_member_promote, kv_service_cancel, LEADER),

    DEFERRED(Maintenance, Alarm, alarm_request, alarm_response, kv_service_alarm, kv_service_cancel,
             PROPOSAL),
    ETCD(Maintenance, Status, status_request, status_response, GRPC_UNARY,
         maintenance_status_on_message, 0),
    ETCD(Maintenance, Defragment, defragment_request, defragment_response, GRPC_UNARY,
         kv_service_defragment, AUTH),
    ETCD(Maintenance, Hash, hash_request, hash_response, GRPC_UNARY, NULL, AUTH),
    ETCD(Maintenance, HashKV, hash_kvrequest, hash_kvresponse, GRPC_UNARY, NULL, AUTH),
    ETCD(Maintenance, Snapshot, snapshot_request, snapshot_response, GRPC_SERVER_STREAM, NULL,
         AUTH),
    DEFERRED(Maintenance, MoveLeader, move_leader_request, move_leader_response,
             cluster_service_move_leader, kv_service_cancel, AUTH | LEADER),
    ETCD(Maintenance, Downgrade, downgrade_request, downgrade_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),

    ETCD(Auth, AuthEnable, auth_enable_request, auth_enable_response, GRPC_UNARY, NULL, PROPOSAL),
    ETCD(Auth, AuthDisable, auth_disable_request, auth_disable_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Auth, AuthStatus, auth_status_request, auth_status_response, GRPC_UNARY, NULL, 0),
    ETCD(Auth, Authenticate, authenticate_request, authenticate_response, GRPC_UNARY, NULL,
         PROPOSAL),
    ETCD(Auth, UserAdd, auth_user_add_request, auth_user_add_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Auth, UserGet, auth_user_get_request, auth_user_get_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Auth, UserList, auth_user_list_request, auth_user_list_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Auth, UserDelete, auth_user_delete_request, auth_user_delete_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Auth, UserChangePassword, auth_user_change_password_request,
         auth_user_change_password_response, GRPC_UNARY, NULL, AUTH | PROPOSAL),
    ETCD(Auth, UserGrantRole, auth_user_grant_role_request, auth_user_grant_role_response,
         GRPC_UNARY, NULL, AUTH | PROPOSAL),
    ETCD(Auth, UserRevokeRole, auth_user_revoke_role_request, auth_user_revoke_role_response,
         GRPC_UNARY, NULL, AUTH | PROPOSAL),
    ETCD(Auth, RoleAdd, auth_role_add_request, auth_role_add_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Auth, RoleGet, auth_role_get_request, auth_role_get_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Auth, RoleList, auth_role_list_request, auth_role_list_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Auth, RoleDelete, auth_role_delete_request, auth_role_delete_response, GRPC_UNARY, NULL,
         AUTH | PROPOSAL),
    ETCD(Auth, RoleGrantPermission, auth_role_grant_permission_request,
         auth_role_grant_permission_response, GRPC_UNARY, NULL, AUTH | PROPOSAL),
    ETCD(Auth, RoleRevokePermission, auth_role_revoke_permission_request,
         auth_role_revoke_permission_response, GRPC_UNARY, NULL, AUTH | PROPOSAL),

    METHOD(v3lockpb, Lock, Lock, lock_request, lock_response, GRPC_UNARY, NULL, AUTH),
    METHOD(v3lockpb, Lock, Unlock, unlock_request, unlock_response, GRPC_UNARY, NULL, AUTH),

    METHOD(v3electionpb, Election, Campaign, campaign_request, campaign_response, GRPC_UNARY, NULL,
           AUTH),
    METHOD(v3electionpb, Election, Proclaim, proclaim_request, proclaim_response, GRPC_UNARY, NULL,
           AUTH),
    METHOD(v3electionpb, Election, Leader, leader_request, leader_response, GRPC_UNARY, NULL, AUTH),
    METHOD(v3electionpb, Election, Observe, leader_request, leader_response, GRPC_SERVER_STREAM,
           NULL, AUTH),
    METHOD(v3electionpb, Election, Resign, resign_request, resign_response, GRPC_UNARY, NULL, AUTH),

    /* gRPC's health service, which etcd registers too. */
    {
        .path = "/grpc.health.v1.Health/Check",
        .service = "grpc.health.v1.Health",
        .name = "Check",
        .request = &grpc__health__v1__health_check_request__descriptor,
        .response = &grpc__health__v1__health_check_response__descriptor,
        .kind = GRPC_UNARY,
        .on_message = health_check_on_message,
    },
    {
        .path = "/grpc.health.v1.Health/Watch",
        .service = "grpc.health.v1.Health",
        .name = "Watch",
        .request = &grpc__health__v1__health_check_request__descriptor,
        .response = &grpc__health__v1__health_check_response__descriptor,
        .kind = GRPC_SERVER_STREAM,
    },
};

const struct grpc_method_set grpc_etcd_methods = {
    .methods = grpc_methods,
    .count = sizeof grpc_methods / sizeof grpc_methods[0],
};

/* Exact match of a counted text against a NUL-terminated one. */
static bool text_is(const char *have, size_t have_len, const char *want)
{
    return strncmp(want, have, have_len) == 0 && want[have_len] == '\0';
}

const struct grpc_method *grpc_method_find(const struct grpc_method_set *set, const char *path,
                                           size_t path_len)
{
    for (size_t i = 0; i < set->count; i++) {
        if (text_is(path, path_len, set->methods[i].path))
            return &set->methods[i];
    }
    return NULL;
}

bool grpc_method_service_known(const struct grpc_method_set *set, const char *service,
                               size_t service_len)
{
    for (size_t i = 0; i < set->count; i++) {
        if (text_is(service, service_len, set->methods[i].service))
            return true;
    }
    return false;
}
