/* ringd error -> gRPC status and etcd's message; see grpc_error.h. Sources, read as facts:
 * etcd 3.4 etcdserver/api/v3rpc/rpctypes/error.go (the ErrGRPC* statuses and texts),
 * v3rpc/util.go (toGRPCErrorMap, togRPCError), and etcd 3.5's rpctypes for the downgrade
 * errors. The table is indexed by code, so a lookup is one bounds check and one load. */
#include "grpc_error.h"

#include "ringd_assert.h"
#include "ringd_error.h"

#define ENTRY(code, st, msg) \
    [(code)-RINGD_EBASE - 1] = {.err = -(code), .status = (st), .message = (msg)}

const struct grpc_error_entry grpc_error_table[] = {
    /* ringd's own: never meant to reach a client. */
    ENTRY(RINGD_EINVAL_CONFIG, GRPC_STATUS_INTERNAL, "invalid configuration"),
    ENTRY(RINGD_EUNSUPPORTED, GRPC_STATUS_UNIMPLEMENTED, "not supported yet"),
    /* ringd's back-pressure, answered as etcd answers overload (ErrTooManyRequests). */
    ENTRY(RINGD_EFULL, GRPC_STATUS_UNKNOWN, "etcdserver: too many requests"),
    ENTRY(RINGD_EEMPTY_KEY, GRPC_STATUS_INVALID_ARGUMENT, "etcdserver: key is not provided"),
    ENTRY(RINGD_EKEY_NOT_FOUND, GRPC_STATUS_INVALID_ARGUMENT, "etcdserver: key not found"),
    ENTRY(RINGD_EVALUE_PROVIDED, GRPC_STATUS_INVALID_ARGUMENT, "etcdserver: value is provided"),
    ENTRY(RINGD_ELEASE_PROVIDED, GRPC_STATUS_INVALID_ARGUMENT, "etcdserver: lease is provided"),
    ENTRY(RINGD_ETOO_MANY_OPS, GRPC_STATUS_INVALID_ARGUMENT,
          "etcdserver: too many operations in txn request"),
    ENTRY(RINGD_EDUPLICATE_KEY, GRPC_STATUS_INVALID_ARGUMENT,
          "etcdserver: duplicate key given in txn request"),
    ENTRY(RINGD_ECOMPACTED, GRPC_STATUS_OUT_OF_RANGE,
          "etcdserver: mvcc: required revision has been compacted"),
    ENTRY(RINGD_EFUTURE_REV, GRPC_STATUS_OUT_OF_RANGE,
          "etcdserver: mvcc: required revision is a future revision"),
    ENTRY(RINGD_ENO_SPACE, GRPC_STATUS_RESOURCE_EXHAUSTED,
          "etcdserver: mvcc: database space exceeded"),
    ENTRY(RINGD_ELEASE_NOT_FOUND, GRPC_STATUS_NOT_FOUND, "etcdserver: requested lease not found"),
    ENTRY(RINGD_ELEASE_EXIST, GRPC_STATUS_FAILED_PRECONDITION, "etcdserver: lease already exists"),
    ENTRY(RINGD_ELEASE_TTL_TOO_LARGE, GRPC_STATUS_OUT_OF_RANGE, "etcdserver: too large lease TTL"),
    ENTRY(RINGD_EWATCH_CANCELED, GRPC_STATUS_CANCELLED, "etcdserver: watch canceled"),
    ENTRY(RINGD_EMEMBER_EXIST, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: member ID already exist"),
    ENTRY(RINGD_EPEER_URL_EXIST, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: Peer URLs already exists"),
    /* etcd maps this error to its client-side EtcdError, which has no GRPCStatus method, so grpc-go
       sends it as UNKNOWN with the text. */
    ENTRY(RINGD_EMEMBER_NOT_ENOUGH_STARTED, GRPC_STATUS_UNKNOWN,
          "etcdserver: re-configuration failed due to not enough started members"),
    ENTRY(RINGD_EMEMBER_BAD_URLS, GRPC_STATUS_INVALID_ARGUMENT,
          "etcdserver: given member URLs are invalid"),
    ENTRY(RINGD_EMEMBER_NOT_FOUND, GRPC_STATUS_NOT_FOUND, "etcdserver: member not found"),
    ENTRY(RINGD_EMEMBER_NOT_LEARNER, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: can only promote a learner member"),
    ENTRY(RINGD_ELEARNER_NOT_READY, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: can only promote a learner member which is in sync with leader"),
    ENTRY(RINGD_ETOO_MANY_LEARNERS, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: too many learner members in cluster"),
    ENTRY(RINGD_EREQUEST_TOO_LARGE, GRPC_STATUS_INVALID_ARGUMENT,
          "etcdserver: request is too large"),
    /* UNKNOWN on the wire for the same reason as EMEMBER_NOT_ENOUGH_STARTED. */
    ENTRY(RINGD_ETOO_MANY_REQUESTS, GRPC_STATUS_UNKNOWN, "etcdserver: too many requests"),
    ENTRY(RINGD_EROOT_USER_NOT_EXIST, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: root user does not exist"),
    ENTRY(RINGD_EROOT_ROLE_NOT_EXIST, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: root user does not have root role"),
    ENTRY(RINGD_EUSER_ALREADY_EXIST, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: user name already exists"),
    ENTRY(RINGD_EUSER_EMPTY, GRPC_STATUS_INVALID_ARGUMENT, "etcdserver: user name is empty"),
    ENTRY(RINGD_EUSER_NOT_FOUND, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: user name not found"),
    ENTRY(RINGD_EROLE_ALREADY_EXIST, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: role name already exists"),
    ENTRY(RINGD_EROLE_NOT_FOUND, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: role name not found"),
    ENTRY(RINGD_EROLE_EMPTY, GRPC_STATUS_INVALID_ARGUMENT, "etcdserver: role name is empty"),
    ENTRY(RINGD_EAUTH_FAILED, GRPC_STATUS_INVALID_ARGUMENT,
          "etcdserver: authentication failed, invalid user ID or password"),
    /* not in toGRPCErrorMap: togRPCError's default, UNKNOWN with the error's text. */
    ENTRY(RINGD_ENO_PASSWORD_USER, GRPC_STATUS_UNKNOWN,
          "auth: authentication failed, password was given for no password user"),
    ENTRY(RINGD_EPERMISSION_DENIED, GRPC_STATUS_PERMISSION_DENIED, "etcdserver: permission denied"),
    ENTRY(RINGD_EROLE_NOT_GRANTED, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: role is not granted to the user"),
    ENTRY(RINGD_EPERMISSION_NOT_GRANTED, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: permission is not granted to the role"),
    ENTRY(RINGD_EAUTH_NOT_ENABLED, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: authentication is not enabled"),
    ENTRY(RINGD_EINVALID_AUTH_TOKEN, GRPC_STATUS_UNAUTHENTICATED, "etcdserver: invalid auth token"),
    ENTRY(RINGD_EINVALID_AUTH_MGMT, GRPC_STATUS_INVALID_ARGUMENT,
          "etcdserver: invalid auth management"),
    ENTRY(RINGD_EAUTH_OLD_REVISION, GRPC_STATUS_INVALID_ARGUMENT,
          "etcdserver: revision of auth store is old"),
    ENTRY(RINGD_ENO_LEADER, GRPC_STATUS_UNAVAILABLE, "etcdserver: no leader"),
    ENTRY(RINGD_ENOT_LEADER, GRPC_STATUS_FAILED_PRECONDITION, "etcdserver: not leader"),
    ENTRY(RINGD_ELEADER_CHANGED, GRPC_STATUS_UNAVAILABLE, "etcdserver: leader changed"),
    ENTRY(RINGD_ENOT_CAPABLE, GRPC_STATUS_UNAVAILABLE, "etcdserver: not capable"),
    ENTRY(RINGD_ESTOPPED, GRPC_STATUS_UNAVAILABLE, "etcdserver: server stopped"),
    ENTRY(RINGD_ETIMEOUT, GRPC_STATUS_UNAVAILABLE, "etcdserver: request timed out"),
    ENTRY(RINGD_ETIMEOUT_LEADER_FAIL, GRPC_STATUS_UNAVAILABLE,
          "etcdserver: request timed out, possibly due to previous leader failure"),
    ENTRY(RINGD_ETIMEOUT_CONNECTION_LOST, GRPC_STATUS_UNAVAILABLE,
          "etcdserver: request timed out, possibly due to connection lost"),
    ENTRY(RINGD_ETIMEOUT_WAIT_APPLIED_INDEX, GRPC_STATUS_UNAVAILABLE,
          "etcdserver: request timed out, waiting for the applied index took too long"),
    /* not in toGRPCErrorMap: UNKNOWN. */
    ENTRY(RINGD_ETIMEOUT_LEADER_TRANSFER, GRPC_STATUS_UNKNOWN,
          "etcdserver: request timed out, leader transfer took too long"),
    /* not in toGRPCErrorMap: UNKNOWN. */
    ENTRY(RINGD_EREQUEST_CANCELED, GRPC_STATUS_UNKNOWN, "etcdserver: request cancelled"),
    /* not in toGRPCErrorMap: UNKNOWN. */
    ENTRY(RINGD_EUNKNOWN_METHOD, GRPC_STATUS_UNKNOWN, "etcdserver: unknown method"),
    ENTRY(RINGD_EUNHEALTHY, GRPC_STATUS_UNAVAILABLE, "etcdserver: unhealthy cluster"),
    ENTRY(RINGD_ECORRUPT, GRPC_STATUS_DATA_LOSS, "etcdserver: corrupt cluster"),
    ENTRY(RINGD_ENOT_SUPPORTED_FOR_LEARNER, GRPC_STATUS_UNAVAILABLE,
          "etcdserver: rpc not supported for learner"),
    ENTRY(RINGD_EBAD_LEADER_TRANSFEREE, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: bad leader transferee"),
    /* ringd's own (etcd drops such a proposal and the request times out): retry later. */
    ENTRY(RINGD_ECONF_CHANGE_PENDING, GRPC_STATUS_UNAVAILABLE,
          "etcdserver: a membership change is still being applied"),
    ENTRY(RINGD_ECLUSTER_VERSION_UNAVAILABLE, GRPC_STATUS_UNAVAILABLE,
          "etcdserver: cluster version not found during downgrade"),
    ENTRY(RINGD_EWRONG_DOWNGRADE_VERSION_FORMAT, GRPC_STATUS_INVALID_ARGUMENT,
          "etcdserver: wrong downgrade target version format"),
    ENTRY(RINGD_EINVALID_DOWNGRADE_TARGET_VERSION, GRPC_STATUS_INVALID_ARGUMENT,
          "etcdserver: invalid downgrade target version"),
    ENTRY(RINGD_EDOWNGRADE_IN_PROCESS, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: cluster has a downgrade job in progress"),
    ENTRY(RINGD_ENO_INFLIGHT_DOWNGRADE, GRPC_STATUS_FAILED_PRECONDITION,
          "etcdserver: no inflight downgrade job"),
};

const size_t grpc_error_table_count = sizeof grpc_error_table / sizeof grpc_error_table[0];

const struct grpc_error_entry *grpc_error_lookup(int err)
{
    ASSERT(err < 0);
    long index = (long)-err - RINGD_EBASE - 1;
    if (index < 0 || (size_t)index >= grpc_error_table_count)
        return NULL;
    const struct grpc_error_entry *e = &grpc_error_table[index];
    return e->message != NULL ? e : NULL;
}

void grpc_error_status(int err, enum grpc_status *status, const char **message)
{
    ASSERT(err < 0 && status != NULL && message != NULL);
    const struct grpc_error_entry *e = grpc_error_lookup(err);
    *status = e != NULL ? e->status : GRPC_STATUS_UNKNOWN;
    *message = e != NULL ? e->message : ringd_strerror(err);
    ASSERT(*message != NULL);
}

void grpc_error_finish(struct grpc_call *call, int err)
{
    ASSERT(call != NULL);
    enum grpc_status status;
    const char *message;
    grpc_error_status(err, &status, &message);
    grpc_call_finish(call, status, message);
}
