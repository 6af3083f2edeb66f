/* Guard on the wire format of ringd's .proto files (proto/): through the descriptors protoc-c
 * generates, the messages clients use most must have etcd 3.5's full names, field names, numbers,
 * labels and types (int64 vs uint64, string vs bytes, repeated, oneof members, packed repeated
 * scalars), and no field more or less; the enums their values; and every method of every service
 * must be in the gRPC method table (net/grpc_methods.c) with the same message types and etcd's
 * streaming kind. The expectations are etcd 3.5's rpc.proto, kv.proto, auth.proto, v3lock.proto,
 * v3election.proto and grpc's health/v1/health.proto as etcd 3.5 serves it (Check and Watch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "authpb/auth.pb-c.h"
#include "etcdserverpb/rpc.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc_method.h"
#include "mvccpb/kv.pb-c.h"
#include "v3electionpb/v3election.pb-c.h"
#include "v3lockpb/v3lock.pb-c.h"

struct field_want {
    const char *name;
    unsigned id;
    ProtobufCLabel label;
    ProtobufCType type;
    const void *sub;   /* message or enum descriptor for MESSAGE / ENUM fields */
    const char *oneof; /* the oneof the field belongs to, or NULL */
};

struct enum_want {
    const char *name;
    int value;
};

struct method_want {
    const char *name;
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *response;
    enum grpc_kind kind;
};

#define COUNT_OF(type, ...) (sizeof((const type[]){__VA_ARGS__}) / sizeof(type))

/* Field constructors: singular, repeated, and oneof member. */
#define S(name, id, type)                                                   \
    {                                                                       \
        name, id, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_##type, NULL, NULL \
    }
#define R(name, id, type)                                                       \
    {                                                                           \
        name, id, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_##type, NULL, NULL \
    }
#define SM(name, id, desc)                                                    \
    {                                                                         \
        name, id, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, &desc, NULL \
    }
#define RM(name, id, desc)                                                        \
    {                                                                             \
        name, id, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_MESSAGE, &desc, NULL \
    }
#define SE(name, id, desc)                                                 \
    {                                                                      \
        name, id, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_ENUM, &desc, NULL \
    }
#define RE(name, id, desc)                                                     \
    {                                                                          \
        name, id, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_ENUM, &desc, NULL \
    }
#define O(oneof, name, id, type)                                             \
    {                                                                        \
        name, id, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_##type, NULL, oneof \
    }
#define OM(oneof, name, id, desc)                                              \
    {                                                                          \
        name, id, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, &desc, oneof \
    }

#define MESSAGE(desc, full_name, ...)                                         \
    check_message(&desc, full_name, (const struct field_want[]){__VA_ARGS__}, \
                  COUNT_OF(struct field_want, __VA_ARGS__))
#define ENUM(desc, full_name, ...)                                        \
    check_enum(&desc, full_name, (const struct enum_want[]){__VA_ARGS__}, \
               COUNT_OF(struct enum_want, __VA_ARGS__))
#define SERVICE(desc, full_name, ...)                                          \
    check_service(&desc, full_name, (const struct method_want[]){__VA_ARGS__}, \
                  COUNT_OF(struct method_want, __VA_ARGS__))

static void check_message(const ProtobufCMessageDescriptor *d, const char *full_name,
                          const struct field_want *want, size_t n_want)
{
    assert_string_equal(d->name, full_name);
    if (d->n_fields != n_want)
        fail_msg("%s has %u fields, etcd 3.5 has %zu", full_name, d->n_fields, n_want);
    for (size_t i = 0; i < n_want; i++) {
        const struct field_want *w = &want[i];
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(d, w->name);
        if (f == NULL)
            fail_msg("%s has no field %s", full_name, w->name);
        if (f->id != w->id || f->label != w->label || f->type != w->type)
            fail_msg("%s.%s: number %u label %d type %d, etcd 3.5: %u %d %d", full_name, w->name,
                     f->id, (int)f->label, (int)f->type, w->id, (int)w->label, (int)w->type);
        if (w->sub != NULL && f->descriptor != w->sub)
            fail_msg("%s.%s: wrong message or enum type", full_name, w->name);
        /* proto3 packs repeated scalars and enums, and etcd's Go code sends them packed. */
        bool packable = f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES &&
                        f->type != PROTOBUF_C_TYPE_MESSAGE;
        bool packed = (f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) != 0;
        if (packed != (f->label == PROTOBUF_C_LABEL_REPEATED && packable))
            fail_msg("%s.%s: packed is %d", full_name, w->name, packed);
        bool in_oneof = (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
        if (in_oneof != (w->oneof != NULL))
            fail_msg("%s.%s: oneof membership differs", full_name, w->name);
        /* Members of one oneof share its case member; members of different ones do not. */
        for (size_t j = 0; w->oneof != NULL && j < i; j++) {
            if (want[j].oneof == NULL)
                continue;
            const ProtobufCFieldDescriptor *g =
                protobuf_c_message_descriptor_get_field_by_name(d, want[j].name);
            bool same = strcmp(want[j].oneof, w->oneof) == 0;
            if ((g->quantifier_offset == f->quantifier_offset) != same)
                fail_msg("%s.%s and .%s: oneof grouping differs", full_name, w->name, want[j].name);
        }
    }
}

static void check_enum(const ProtobufCEnumDescriptor *d, const char *full_name,
                       const struct enum_want *want, size_t n_want)
{
    assert_string_equal(d->name, full_name);
    if (d->n_values != n_want)
        fail_msg("%s has %u values, etcd 3.5 has %zu", full_name, d->n_values, n_want);
    for (size_t i = 0; i < n_want; i++) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(d, want[i].name);
        if (v == NULL || v->value != want[i].value)
            fail_msg("%s.%s is not %d", full_name, want[i].name, want[i].value);
    }
}

static size_t methods_checked;

/* The service's methods as protoc-c sees them, and each one's entry in the method table. */
static void check_service(const ProtobufCServiceDescriptor *d, const char *full_name,
                          const struct method_want *want, size_t n_want)
{
    assert_string_equal(d->name, full_name);
    if (d->n_methods != n_want)
        fail_msg("%s has %u methods, etcd 3.5 has %zu", full_name, d->n_methods, n_want);
    for (size_t i = 0; i < n_want; i++) {
        const struct method_want *w = &want[i];
        const ProtobufCMethodDescriptor *m =
            protobuf_c_service_descriptor_get_method_by_name(d, w->name);
        if (m == NULL)
            fail_msg("%s has no method %s", full_name, w->name);
        if (m->input != w->request || m->output != w->response)
            fail_msg("%s.%s: wrong request or response type", full_name, w->name);
        char path[128];
        int len = snprintf(path, sizeof(path), "/%s/%s", full_name, w->name);
        const struct grpc_method *t = grpc_method_find(&grpc_etcd_methods, path, (size_t)len);
        if (t == NULL)
            fail_msg("%s is not in the gRPC method table", path);
        assert_string_equal(t->service, full_name);
        assert_string_equal(t->name, w->name);
        if (t->request != w->request || t->response != w->response || t->kind != w->kind)
            fail_msg("%s: the method table's types or streaming kind differ", path);
        methods_checked++;
    }
}

static void test_storage_messages(void **state)
{
    (void)state;
    MESSAGE(mvccpb__key_value__descriptor, "mvccpb.KeyValue", S("key", 1, BYTES),
            S("create_revision", 2, INT64), S("mod_revision", 3, INT64), S("version", 4, INT64),
            S("value", 5, BYTES), S("lease", 6, INT64));
    MESSAGE(mvccpb__event__descriptor, "mvccpb.Event",
            SE("type", 1, mvccpb__event__event_type__descriptor),
            SM("kv", 2, mvccpb__key_value__descriptor),
            SM("prev_kv", 3, mvccpb__key_value__descriptor));
    ENUM(mvccpb__event__event_type__descriptor, "mvccpb.Event.EventType", {"PUT", 0},
         {"DELETE", 1});

    MESSAGE(authpb__user_add_options__descriptor, "authpb.UserAddOptions",
            S("no_password", 1, BOOL));
    MESSAGE(authpb__user__descriptor, "authpb.User", S("name", 1, BYTES), S("password", 2, BYTES),
            R("roles", 3, STRING), SM("options", 4, authpb__user_add_options__descriptor));
    MESSAGE(authpb__permission__descriptor, "authpb.Permission",
            SE("permType", 1, authpb__permission__type__descriptor), S("key", 2, BYTES),
            S("range_end", 3, BYTES));
    ENUM(authpb__permission__type__descriptor, "authpb.Permission.Type", {"READ", 0}, {"WRITE", 1},
         {"READWRITE", 2});
    MESSAGE(authpb__role__descriptor, "authpb.Role", S("name", 1, BYTES),
            RM("keyPermission", 2, authpb__permission__descriptor));
}

static void test_kv_messages(void **state)
{
    (void)state;
    MESSAGE(etcdserverpb__response_header__descriptor, "etcdserverpb.ResponseHeader",
            S("cluster_id", 1, UINT64), S("member_id", 2, UINT64), S("revision", 3, INT64),
            S("raft_term", 4, UINT64));
    MESSAGE(etcdserverpb__range_request__descriptor, "etcdserverpb.RangeRequest",
            S("key", 1, BYTES), S("range_end", 2, BYTES), S("limit", 3, INT64),
            S("revision", 4, INT64),
            SE("sort_order", 5, etcdserverpb__range_request__sort_order__descriptor),
            SE("sort_target", 6, etcdserverpb__range_request__sort_target__descriptor),
            S("serializable", 7, BOOL), S("keys_only", 8, BOOL), S("count_only", 9, BOOL),
            S("min_mod_revision", 10, INT64), S("max_mod_revision", 11, INT64),
            S("min_create_revision", 12, INT64), S("max_create_revision", 13, INT64));
    ENUM(etcdserverpb__range_request__sort_order__descriptor, "etcdserverpb.RangeRequest.SortOrder",
         {"NONE", 0}, {"ASCEND", 1}, {"DESCEND", 2});
    ENUM(etcdserverpb__range_request__sort_target__descriptor,
         "etcdserverpb.RangeRequest.SortTarget", {"KEY", 0}, {"VERSION", 1}, {"CREATE", 2},
         {"MOD", 3}, {"VALUE", 4});
    MESSAGE(etcdserverpb__range_response__descriptor, "etcdserverpb.RangeResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor),
            RM("kvs", 2, mvccpb__key_value__descriptor), S("more", 3, BOOL), S("count", 4, INT64));
    MESSAGE(etcdserverpb__put_request__descriptor, "etcdserverpb.PutRequest", S("key", 1, BYTES),
            S("value", 2, BYTES), S("lease", 3, INT64), S("prev_kv", 4, BOOL),
            S("ignore_value", 5, BOOL), S("ignore_lease", 6, BOOL));
    MESSAGE(etcdserverpb__put_response__descriptor, "etcdserverpb.PutResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor),
            SM("prev_kv", 2, mvccpb__key_value__descriptor));
    MESSAGE(etcdserverpb__delete_range_request__descriptor, "etcdserverpb.DeleteRangeRequest",
            S("key", 1, BYTES), S("range_end", 2, BYTES), S("prev_kv", 3, BOOL));
    MESSAGE(etcdserverpb__delete_range_response__descriptor, "etcdserverpb.DeleteRangeResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("deleted", 2, INT64),
            RM("prev_kvs", 3, mvccpb__key_value__descriptor));
    MESSAGE(
        etcdserverpb__request_op__descriptor, "etcdserverpb.RequestOp",
        OM("request", "request_range", 1, etcdserverpb__range_request__descriptor),
        OM("request", "request_put", 2, etcdserverpb__put_request__descriptor),
        OM("request", "request_delete_range", 3, etcdserverpb__delete_range_request__descriptor),
        OM("request", "request_txn", 4, etcdserverpb__txn_request__descriptor));
    MESSAGE(
        etcdserverpb__response_op__descriptor, "etcdserverpb.ResponseOp",
        OM("response", "response_range", 1, etcdserverpb__range_response__descriptor),
        OM("response", "response_put", 2, etcdserverpb__put_response__descriptor),
        OM("response", "response_delete_range", 3, etcdserverpb__delete_range_response__descriptor),
        OM("response", "response_txn", 4, etcdserverpb__txn_response__descriptor));
    MESSAGE(etcdserverpb__compare__descriptor, "etcdserverpb.Compare",
            SE("result", 1, etcdserverpb__compare__compare_result__descriptor),
            SE("target", 2, etcdserverpb__compare__compare_target__descriptor), S("key", 3, BYTES),
            O("target_union", "version", 4, INT64), O("target_union", "create_revision", 5, INT64),
            O("target_union", "mod_revision", 6, INT64), O("target_union", "value", 7, BYTES),
            O("target_union", "lease", 8, INT64), S("range_end", 64, BYTES));
    ENUM(etcdserverpb__compare__compare_result__descriptor, "etcdserverpb.Compare.CompareResult",
         {"EQUAL", 0}, {"GREATER", 1}, {"LESS", 2}, {"NOT_EQUAL", 3});
    ENUM(etcdserverpb__compare__compare_target__descriptor, "etcdserverpb.Compare.CompareTarget",
         {"VERSION", 0}, {"CREATE", 1}, {"MOD", 2}, {"VALUE", 3}, {"LEASE", 4});
    MESSAGE(etcdserverpb__txn_request__descriptor, "etcdserverpb.TxnRequest",
            RM("compare", 1, etcdserverpb__compare__descriptor),
            RM("success", 2, etcdserverpb__request_op__descriptor),
            RM("failure", 3, etcdserverpb__request_op__descriptor));
    MESSAGE(etcdserverpb__txn_response__descriptor, "etcdserverpb.TxnResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("succeeded", 2, BOOL),
            RM("responses", 3, etcdserverpb__response_op__descriptor));
    MESSAGE(etcdserverpb__compaction_request__descriptor, "etcdserverpb.CompactionRequest",
            S("revision", 1, INT64), S("physical", 2, BOOL));
}

static void test_watch_messages(void **state)
{
    (void)state;
    MESSAGE(
        etcdserverpb__watch_request__descriptor, "etcdserverpb.WatchRequest",
        OM("request_union", "create_request", 1, etcdserverpb__watch_create_request__descriptor),
        OM("request_union", "cancel_request", 2, etcdserverpb__watch_cancel_request__descriptor),
        OM("request_union", "progress_request", 3,
           etcdserverpb__watch_progress_request__descriptor));
    MESSAGE(etcdserverpb__watch_create_request__descriptor, "etcdserverpb.WatchCreateRequest",
            S("key", 1, BYTES), S("range_end", 2, BYTES), S("start_revision", 3, INT64),
            S("progress_notify", 4, BOOL),
            RE("filters", 5, etcdserverpb__watch_create_request__filter_type__descriptor),
            S("prev_kv", 6, BOOL), S("watch_id", 7, INT64), S("fragment", 8, BOOL));
    ENUM(etcdserverpb__watch_create_request__filter_type__descriptor,
         "etcdserverpb.WatchCreateRequest.FilterType", {"NOPUT", 0}, {"NODELETE", 1});
    MESSAGE(etcdserverpb__watch_cancel_request__descriptor, "etcdserverpb.WatchCancelRequest",
            S("watch_id", 1, INT64));
    assert_int_equal(etcdserverpb__watch_progress_request__descriptor.n_fields, 0);
    MESSAGE(etcdserverpb__watch_response__descriptor, "etcdserverpb.WatchResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("watch_id", 2, INT64),
            S("created", 3, BOOL), S("canceled", 4, BOOL), S("compact_revision", 5, INT64),
            S("cancel_reason", 6, STRING), S("fragment", 7, BOOL),
            RM("events", 11, mvccpb__event__descriptor));
}

static void test_lease_messages(void **state)
{
    (void)state;
    MESSAGE(etcdserverpb__lease_grant_request__descriptor, "etcdserverpb.LeaseGrantRequest",
            S("TTL", 1, INT64), S("ID", 2, INT64));
    MESSAGE(etcdserverpb__lease_grant_response__descriptor, "etcdserverpb.LeaseGrantResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("ID", 2, INT64),
            S("TTL", 3, INT64), S("error", 4, STRING));
    MESSAGE(etcdserverpb__lease_revoke_request__descriptor, "etcdserverpb.LeaseRevokeRequest",
            S("ID", 1, INT64));
    MESSAGE(etcdserverpb__lease_keep_alive_request__descriptor,
            "etcdserverpb.LeaseKeepAliveRequest", S("ID", 1, INT64));
    MESSAGE(etcdserverpb__lease_keep_alive_response__descriptor,
            "etcdserverpb.LeaseKeepAliveResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("ID", 2, INT64),
            S("TTL", 3, INT64));
    MESSAGE(etcdserverpb__lease_time_to_live_request__descriptor,
            "etcdserverpb.LeaseTimeToLiveRequest", S("ID", 1, INT64), S("keys", 2, BOOL));
    MESSAGE(etcdserverpb__lease_time_to_live_response__descriptor,
            "etcdserverpb.LeaseTimeToLiveResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("ID", 2, INT64),
            S("TTL", 3, INT64), S("grantedTTL", 4, INT64), R("keys", 5, BYTES));
    MESSAGE(etcdserverpb__lease_status__descriptor, "etcdserverpb.LeaseStatus", S("ID", 1, INT64));
    MESSAGE(etcdserverpb__lease_leases_response__descriptor, "etcdserverpb.LeaseLeasesResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor),
            RM("leases", 2, etcdserverpb__lease_status__descriptor));
}

static void test_cluster_and_maintenance_messages(void **state)
{
    (void)state;
    MESSAGE(etcdserverpb__member__descriptor, "etcdserverpb.Member", S("ID", 1, UINT64),
            S("name", 2, STRING), R("peerURLs", 3, STRING), R("clientURLs", 4, STRING),
            S("isLearner", 5, BOOL));
    MESSAGE(etcdserverpb__member_list_request__descriptor, "etcdserverpb.MemberListRequest",
            S("linearizable", 1, BOOL));
    MESSAGE(etcdserverpb__member_list_response__descriptor, "etcdserverpb.MemberListResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor),
            RM("members", 2, etcdserverpb__member__descriptor));
    MESSAGE(etcdserverpb__member_add_request__descriptor, "etcdserverpb.MemberAddRequest",
            R("peerURLs", 1, STRING), S("isLearner", 2, BOOL));
    MESSAGE(etcdserverpb__status_response__descriptor, "etcdserverpb.StatusResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("version", 2, STRING),
            S("dbSize", 3, INT64), S("leader", 4, UINT64), S("raftIndex", 5, UINT64),
            S("raftTerm", 6, UINT64), S("raftAppliedIndex", 7, UINT64), R("errors", 8, STRING),
            S("dbSizeInUse", 9, INT64), S("isLearner", 10, BOOL));
    MESSAGE(etcdserverpb__alarm_request__descriptor, "etcdserverpb.AlarmRequest",
            SE("action", 1, etcdserverpb__alarm_request__alarm_action__descriptor),
            S("memberID", 2, UINT64), SE("alarm", 3, etcdserverpb__alarm_type__descriptor));
    ENUM(etcdserverpb__alarm_request__alarm_action__descriptor,
         "etcdserverpb.AlarmRequest.AlarmAction", {"GET", 0}, {"ACTIVATE", 1}, {"DEACTIVATE", 2});
    ENUM(etcdserverpb__alarm_type__descriptor, "etcdserverpb.AlarmType", {"NONE", 0},
         {"NOSPACE", 1}, {"CORRUPT", 2});
    MESSAGE(etcdserverpb__alarm_member__descriptor, "etcdserverpb.AlarmMember",
            S("memberID", 1, UINT64), SE("alarm", 2, etcdserverpb__alarm_type__descriptor));
    MESSAGE(etcdserverpb__hash_kvresponse__descriptor, "etcdserverpb.HashKVResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("hash", 2, UINT32),
            S("compact_revision", 3, INT64));
    MESSAGE(etcdserverpb__snapshot_response__descriptor, "etcdserverpb.SnapshotResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor),
            S("remaining_bytes", 2, UINT64), S("blob", 3, BYTES));
    MESSAGE(etcdserverpb__downgrade_request__descriptor, "etcdserverpb.DowngradeRequest",
            SE("action", 1, etcdserverpb__downgrade_request__downgrade_action__descriptor),
            S("version", 2, STRING));
    ENUM(etcdserverpb__downgrade_request__downgrade_action__descriptor,
         "etcdserverpb.DowngradeRequest.DowngradeAction", {"VALIDATE", 0}, {"ENABLE", 1},
         {"CANCEL", 2});
}

static void test_auth_messages(void **state)
{
    (void)state;
    MESSAGE(etcdserverpb__authenticate_request__descriptor, "etcdserverpb.AuthenticateRequest",
            S("name", 1, STRING), S("password", 2, STRING));
    MESSAGE(etcdserverpb__authenticate_response__descriptor, "etcdserverpb.AuthenticateResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("token", 2, STRING));
    MESSAGE(etcdserverpb__auth_status_response__descriptor, "etcdserverpb.AuthStatusResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("enabled", 2, BOOL),
            S("authRevision", 3, UINT64));
    MESSAGE(etcdserverpb__auth_user_add_request__descriptor, "etcdserverpb.AuthUserAddRequest",
            S("name", 1, STRING), S("password", 2, STRING),
            SM("options", 3, authpb__user_add_options__descriptor), S("hashedPassword", 4, STRING));
    MESSAGE(etcdserverpb__auth_user_change_password_request__descriptor,
            "etcdserverpb.AuthUserChangePasswordRequest", S("name", 1, STRING),
            S("password", 2, STRING), S("hashedPassword", 3, STRING));
    MESSAGE(etcdserverpb__auth_role_grant_permission_request__descriptor,
            "etcdserverpb.AuthRoleGrantPermissionRequest", S("name", 1, STRING),
            SM("perm", 2, authpb__permission__descriptor));
    MESSAGE(etcdserverpb__auth_role_revoke_permission_request__descriptor,
            "etcdserverpb.AuthRoleRevokePermissionRequest", S("role", 1, STRING),
            S("key", 2, BYTES), S("range_end", 3, BYTES));
}

static void test_lock_election_health_messages(void **state)
{
    (void)state;
    MESSAGE(v3lockpb__lock_request__descriptor, "v3lockpb.LockRequest", S("name", 1, BYTES),
            S("lease", 2, INT64));
    MESSAGE(v3lockpb__lock_response__descriptor, "v3lockpb.LockResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor), S("key", 2, BYTES));
    MESSAGE(v3lockpb__unlock_request__descriptor, "v3lockpb.UnlockRequest", S("key", 1, BYTES));
    MESSAGE(v3electionpb__campaign_request__descriptor, "v3electionpb.CampaignRequest",
            S("name", 1, BYTES), S("lease", 2, INT64), S("value", 3, BYTES));
    MESSAGE(v3electionpb__campaign_response__descriptor, "v3electionpb.CampaignResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor),
            SM("leader", 2, v3electionpb__leader_key__descriptor));
    MESSAGE(v3electionpb__leader_key__descriptor, "v3electionpb.LeaderKey", S("name", 1, BYTES),
            S("key", 2, BYTES), S("rev", 3, INT64), S("lease", 4, INT64));
    MESSAGE(v3electionpb__leader_request__descriptor, "v3electionpb.LeaderRequest",
            S("name", 1, BYTES));
    MESSAGE(v3electionpb__leader_response__descriptor, "v3electionpb.LeaderResponse",
            SM("header", 1, etcdserverpb__response_header__descriptor),
            SM("kv", 2, mvccpb__key_value__descriptor));
    MESSAGE(v3electionpb__proclaim_request__descriptor, "v3electionpb.ProclaimRequest",
            SM("leader", 1, v3electionpb__leader_key__descriptor), S("value", 2, BYTES));
    MESSAGE(v3electionpb__resign_request__descriptor, "v3electionpb.ResignRequest",
            SM("leader", 1, v3electionpb__leader_key__descriptor));

    MESSAGE(grpc__health__v1__health_check_request__descriptor, "grpc.health.v1.HealthCheckRequest",
            S("service", 1, STRING));
    MESSAGE(grpc__health__v1__health_check_response__descriptor,
            "grpc.health.v1.HealthCheckResponse",
            SE("status", 1, grpc__health__v1__health_check_response__serving_status__descriptor));
    ENUM(grpc__health__v1__health_check_response__serving_status__descriptor,
         "grpc.health.v1.HealthCheckResponse.ServingStatus", {"UNKNOWN", 0}, {"SERVING", 1},
         {"NOT_SERVING", 2}, {"SERVICE_UNKNOWN", 3});
}

/* Request and response descriptors of an etcdserverpb method, by their C stems. */
#define E(name, req, resp, kind)                                                            \
    {                                                                                       \
        name, &etcdserverpb__##req##__descriptor, &etcdserverpb__##resp##__descriptor, kind \
    }
#define U GRPC_UNARY

static void test_services_and_method_table(void **state)
{
    (void)state;
    methods_checked = 0;
    SERVICE(etcdserverpb__kv__descriptor, "etcdserverpb.KV",
            E("Range", range_request, range_response, U), E("Put", put_request, put_response, U),
            E("DeleteRange", delete_range_request, delete_range_response, U),
            E("Txn", txn_request, txn_response, U),
            E("Compact", compaction_request, compaction_response, U));
    SERVICE(etcdserverpb__watch__descriptor, "etcdserverpb.Watch",
            E("Watch", watch_request, watch_response, GRPC_BIDI_STREAM));
    SERVICE(
        etcdserverpb__lease__descriptor, "etcdserverpb.Lease",
        E("LeaseGrant", lease_grant_request, lease_grant_response, U),
        E("LeaseRevoke", lease_revoke_request, lease_revoke_response, U),
        E("LeaseKeepAlive", lease_keep_alive_request, lease_keep_alive_response, GRPC_BIDI_STREAM),
        E("LeaseTimeToLive", lease_time_to_live_request, lease_time_to_live_response, U),
        E("LeaseLeases", lease_leases_request, lease_leases_response, U));
    SERVICE(etcdserverpb__cluster__descriptor, "etcdserverpb.Cluster",
            E("MemberAdd", member_add_request, member_add_response, U),
            E("MemberRemove", member_remove_request, member_remove_response, U),
            E("MemberUpdate", member_update_request, member_update_response, U),
            E("MemberList", member_list_request, member_list_response, U),
            E("MemberPromote", member_promote_request, member_promote_response, U));
    SERVICE(etcdserverpb__maintenance__descriptor, "etcdserverpb.Maintenance",
            E("Alarm", alarm_request, alarm_response, U),
            E("Status", status_request, status_response, U),
            E("Defragment", defragment_request, defragment_response, U),
            E("Hash", hash_request, hash_response, U),
            E("HashKV", hash_kvrequest, hash_kvresponse, U),
            E("Snapshot", snapshot_request, snapshot_response, GRPC_SERVER_STREAM),
            E("MoveLeader", move_leader_request, move_leader_response, U),
            E("Downgrade", downgrade_request, downgrade_response, U));
    SERVICE(etcdserverpb__auth__descriptor, "etcdserverpb.Auth",
            E("AuthEnable", auth_enable_request, auth_enable_response, U),
            E("AuthDisable", auth_disable_request, auth_disable_response, U),
            E("AuthStatus", auth_status_request, auth_status_response, U),
            E("Authenticate", authenticate_request, authenticate_response, U),
            E("UserAdd", auth_user_add_request, auth_user_add_response, U),
            E("UserGet", auth_user_get_request, auth_user_get_response, U),
            E("UserList", auth_user_list_request, auth_user_list_response, U),
            E("UserDelete", auth_user_delete_request, auth_user_delete_response, U),
            E("UserChangePassword", auth_user_change_password_request,
              auth_user_change_password_response, U),
            E("UserGrantRole", auth_user_grant_role_request, auth_user_grant_role_response, U),
            E("UserRevokeRole", auth_user_revoke_role_request, auth_user_revoke_role_response, U),
            E("RoleAdd", auth_role_add_request, auth_role_add_response, U),
            E("RoleGet", auth_role_get_request, auth_role_get_response, U),
            E("RoleList", auth_role_list_request, auth_role_list_response, U),
            E("RoleDelete", auth_role_delete_request, auth_role_delete_response, U),
            E("RoleGrantPermission", auth_role_grant_permission_request,
              auth_role_grant_permission_response, U),
            E("RoleRevokePermission", auth_role_revoke_permission_request,
              auth_role_revoke_permission_response, U));
    SERVICE(v3lockpb__lock__descriptor, "v3lockpb.Lock",
            {"Lock", &v3lockpb__lock_request__descriptor, &v3lockpb__lock_response__descriptor, U},
            {"Unlock", &v3lockpb__unlock_request__descriptor,
             &v3lockpb__unlock_response__descriptor, U});
    SERVICE(v3electionpb__election__descriptor, "v3electionpb.Election",
            {"Campaign", &v3electionpb__campaign_request__descriptor,
             &v3electionpb__campaign_response__descriptor, U},
            {"Proclaim", &v3electionpb__proclaim_request__descriptor,
             &v3electionpb__proclaim_response__descriptor, U},
            {"Leader", &v3electionpb__leader_request__descriptor,
             &v3electionpb__leader_response__descriptor, U},
            {"Observe", &v3electionpb__leader_request__descriptor,
             &v3electionpb__leader_response__descriptor, GRPC_SERVER_STREAM},
            {"Resign", &v3electionpb__resign_request__descriptor,
             &v3electionpb__resign_response__descriptor, U});
    SERVICE(grpc__health__v1__health__descriptor, "grpc.health.v1.Health",
            {"Check", &grpc__health__v1__health_check_request__descriptor,
             &grpc__health__v1__health_check_response__descriptor, U},
            {"Watch", &grpc__health__v1__health_check_request__descriptor,
             &grpc__health__v1__health_check_response__descriptor, GRPC_SERVER_STREAM});
    /* The table serves exactly these methods: none more. */
    assert_int_equal(methods_checked, grpc_etcd_methods.count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storage_messages),
        cmocka_unit_test(test_kv_messages),
        cmocka_unit_test(test_watch_messages),
        cmocka_unit_test(test_lease_messages),
        cmocka_unit_test(test_cluster_and_maintenance_messages),
        cmocka_unit_test(test_auth_messages),
        cmocka_unit_test(test_lock_election_health_messages),
        cmocka_unit_test(test_services_and_method_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
