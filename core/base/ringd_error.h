/* Error codes shared by every layer. Functions return 0 or a negative code: either a negated
 * errno value for system errors, or one of RINGD_E* below for ringd's own errors, which start
 * far above any errno. One table in net/ maps these to gRPC status codes and etcd's messages. */
#ifndef RINGD_ERROR_H
#define RINGD_ERROR_H

#include <string.h>

enum ringd_error {
    RINGD_EBASE = 10000,
    RINGD_EINVAL_CONFIG, /* a flag or environment variable has a bad value */
    RINGD_EUNSUPPORTED,  /* a feature this build does not support yet */
    RINGD_EFULL,         /* a bounded queue or map is full: back-pressure */
    /* etcd's client-visible errors (net/grpc_error.c maps each to its gRPC status and etcd's
     * exact message). KV and MVCC. */
    RINGD_EEMPTY_KEY,      /* a request without a key */
    RINGD_EKEY_NOT_FOUND,  /* the key a request needs does not exist */
    RINGD_EVALUE_PROVIDED, /* Put with ignore_value and a value */
    RINGD_ELEASE_PROVIDED, /* Put with ignore_lease and a lease */
    RINGD_ETOO_MANY_OPS,   /* a txn with more than --max-txn-ops operations */
    RINGD_EDUPLICATE_KEY,  /* a txn that writes one key twice */
    RINGD_ECOMPACTED,      /* a revision below the compacted one */
    RINGD_EFUTURE_REV,     /* a revision above the current one */
    RINGD_ENO_SPACE,       /* the NOSPACE alarm is raised: --quota-backend-bytes reached */
    /* Leases. */
    RINGD_ELEASE_NOT_FOUND,
    RINGD_ELEASE_EXIST,
    RINGD_ELEASE_TTL_TOO_LARGE,
    /* Watch. */
    RINGD_EWATCH_CANCELED,
    /* Membership. */
    RINGD_EMEMBER_EXIST,
    RINGD_EPEER_URL_EXIST,
    RINGD_EMEMBER_NOT_ENOUGH_STARTED,
    RINGD_EMEMBER_BAD_URLS,
    RINGD_EMEMBER_NOT_FOUND,
    RINGD_EMEMBER_NOT_LEARNER,
    RINGD_ELEARNER_NOT_READY,
    RINGD_ETOO_MANY_LEARNERS,
    /* Request admission. */
    RINGD_EREQUEST_TOO_LARGE, /* a request above --max-request-bytes */
    RINGD_ETOO_MANY_REQUESTS, /* committed entries too far ahead of applied ones */
    /* Auth. */
    RINGD_EROOT_USER_NOT_EXIST,
    RINGD_EROOT_ROLE_NOT_EXIST,
    RINGD_EUSER_ALREADY_EXIST,
    RINGD_EUSER_EMPTY,
    RINGD_EUSER_NOT_FOUND,
    RINGD_EROLE_ALREADY_EXIST,
    RINGD_EROLE_NOT_FOUND,
    RINGD_EROLE_EMPTY,
    RINGD_EAUTH_FAILED,
    RINGD_ENO_PASSWORD_USER, /* a password given for a user created with no_password */
    RINGD_EPERMISSION_DENIED,
    RINGD_EROLE_NOT_GRANTED,
    RINGD_EPERMISSION_NOT_GRANTED,
    RINGD_EAUTH_NOT_ENABLED,
    RINGD_EINVALID_AUTH_TOKEN,
    RINGD_EINVALID_AUTH_MGMT,
    RINGD_EAUTH_OLD_REVISION,
    /* Server and raft state. */
    RINGD_ENO_LEADER,
    RINGD_ENOT_LEADER,
    RINGD_ELEADER_CHANGED,
    RINGD_ENOT_CAPABLE,
    RINGD_ESTOPPED,
    RINGD_ETIMEOUT,
    RINGD_ETIMEOUT_LEADER_FAIL,
    RINGD_ETIMEOUT_CONNECTION_LOST,
    RINGD_ETIMEOUT_WAIT_APPLIED_INDEX,
    RINGD_ETIMEOUT_LEADER_TRANSFER,
    RINGD_EREQUEST_CANCELED, /* the client went away while its proposal waited */
    RINGD_EUNKNOWN_METHOD,
    RINGD_EUNHEALTHY,
    RINGD_ECORRUPT,
    RINGD_ENOT_SUPPORTED_FOR_LEARNER,
    RINGD_EBAD_LEADER_TRANSFEREE,
    RINGD_ECONF_CHANGE_PENDING, /* a membership change is proposed while one is not applied */
    /* Downgrade (etcd 3.5 API). */
    RINGD_ECLUSTER_VERSION_UNAVAILABLE,
    RINGD_EWRONG_DOWNGRADE_VERSION_FORMAT,
    RINGD_EINVALID_DOWNGRADE_TARGET_VERSION,
    RINGD_EDOWNGRADE_IN_PROCESS,
    RINGD_ENO_INFLIGHT_DOWNGRADE,
};

/* A short English text for a code (negated errno or -RINGD_E*); never NULL. For etcd's errors
 * it is the text etcd's own server-side error carries ("mvcc: required revision has been
 * compacted"), which is what etcd logs; clients get net/grpc_error.c's message instead. */
static inline const char *ringd_strerror(int err)
{
    switch (-err) {
    case RINGD_EINVAL_CONFIG:
        return "invalid configuration";
    case RINGD_EUNSUPPORTED:
        return "not supported yet";
    case RINGD_EFULL:
        return "queue full";
    case RINGD_EEMPTY_KEY:
        return "etcdserver: key is not provided";
    case RINGD_EKEY_NOT_FOUND:
        return "etcdserver: key not found";
    case RINGD_EVALUE_PROVIDED:
        return "etcdserver: value is provided";
    case RINGD_ELEASE_PROVIDED:
        return "etcdserver: lease is provided";
    case RINGD_ETOO_MANY_OPS:
        return "etcdserver: too many operations in txn request";
    case RINGD_EDUPLICATE_KEY:
        return "etcdserver: duplicate key given in txn request";
    case RINGD_ECOMPACTED:
        return "mvcc: required revision has been compacted";
    case RINGD_EFUTURE_REV:
        return "mvcc: required revision is a future revision";
    case RINGD_ENO_SPACE:
        return "etcdserver: no space";
    case RINGD_ELEASE_NOT_FOUND:
        return "lease not found";
    case RINGD_ELEASE_EXIST:
        return "lease already exists";
    case RINGD_ELEASE_TTL_TOO_LARGE:
        return "too large lease TTL";
    case RINGD_EWATCH_CANCELED:
        return "etcdserver: watch canceled";
    case RINGD_EMEMBER_EXIST:
        return "membership: ID exists";
    case RINGD_EPEER_URL_EXIST:
        return "membership: peerURL exists";
    case RINGD_EMEMBER_NOT_ENOUGH_STARTED:
        return "etcdserver: re-configuration failed due to not enough started members";
    case RINGD_EMEMBER_BAD_URLS:
        return "etcdserver: given member URLs are invalid";
    case RINGD_EMEMBER_NOT_FOUND:
        return "membership: ID not found";
    case RINGD_EMEMBER_NOT_LEARNER:
        return "membership: can only promote a learner member";
    case RINGD_ELEARNER_NOT_READY:
        return "etcdserver: can only promote a learner member which is in sync with leader";
    case RINGD_ETOO_MANY_LEARNERS:
        return "membership: too many learner members in cluster";
    case RINGD_EREQUEST_TOO_LARGE:
        return "etcdserver: request is too large";
    case RINGD_ETOO_MANY_REQUESTS:
        return "etcdserver: too many requests";
    case RINGD_EROOT_USER_NOT_EXIST:
        return "auth: root user does not exist";
    case RINGD_EROOT_ROLE_NOT_EXIST:
        return "auth: root user does not have root role";
    case RINGD_EUSER_ALREADY_EXIST:
        return "auth: user already exists";
    case RINGD_EUSER_EMPTY:
        return "auth: user name is empty";
    case RINGD_EUSER_NOT_FOUND:
        return "auth: user not found";
    case RINGD_EROLE_ALREADY_EXIST:
        return "auth: role already exists";
    case RINGD_EROLE_NOT_FOUND:
        return "auth: role not found";
    case RINGD_EROLE_EMPTY:
        return "auth: role name is empty";
    case RINGD_EAUTH_FAILED:
        return "auth: authentication failed, invalid user ID or password";
    case RINGD_ENO_PASSWORD_USER:
        return "auth: authentication failed, password was given for no password user";
    case RINGD_EPERMISSION_DENIED:
        return "auth: permission denied";
    case RINGD_EROLE_NOT_GRANTED:
        return "auth: role is not granted to the user";
    case RINGD_EPERMISSION_NOT_GRANTED:
        return "auth: permission is not granted to the role";
    case RINGD_EAUTH_NOT_ENABLED:
        return "auth: authentication is not enabled";
    case RINGD_EINVALID_AUTH_TOKEN:
        return "auth: invalid auth token";
    case RINGD_EINVALID_AUTH_MGMT:
        return "auth: invalid auth management";
    case RINGD_EAUTH_OLD_REVISION:
        return "auth: revision in header is old";
    case RINGD_ENO_LEADER:
        return "etcdserver: no leader";
    case RINGD_ENOT_LEADER:
        return "etcdserver: not leader";
    case RINGD_ELEADER_CHANGED:
        return "etcdserver: leader changed";
    case RINGD_ENOT_CAPABLE:
        return "etcdserver: not capable";
    case RINGD_ESTOPPED:
        return "etcdserver: server stopped";
    case RINGD_ETIMEOUT:
        return "etcdserver: request timed out";
    case RINGD_ETIMEOUT_LEADER_FAIL:
        return "etcdserver: request timed out, possibly due to previous leader failure";
    case RINGD_ETIMEOUT_CONNECTION_LOST:
        return "etcdserver: request timed out, possibly due to connection lost";
    case RINGD_ETIMEOUT_WAIT_APPLIED_INDEX:
        return "etcdserver: request timed out, waiting for the applied index took too long";
    case RINGD_ETIMEOUT_LEADER_TRANSFER:
        return "etcdserver: request timed out, leader transfer took too long";
    case RINGD_EREQUEST_CANCELED:
        return "etcdserver: request cancelled";
    case RINGD_EUNKNOWN_METHOD:
        return "etcdserver: unknown method";
    case RINGD_EUNHEALTHY:
        return "etcdserver: unhealthy cluster";
    case RINGD_ECORRUPT:
        return "etcdserver: corrupt cluster";
    case RINGD_ENOT_SUPPORTED_FOR_LEARNER:
        return "etcdserver: rpc not supported for learner";
    case RINGD_EBAD_LEADER_TRANSFEREE:
        return "etcdserver: bad leader transferee";
    case RINGD_ECONF_CHANGE_PENDING:
        return "etcdserver: a membership change is still being applied";
    case RINGD_ECLUSTER_VERSION_UNAVAILABLE:
        return "etcdserver: cluster version not found during downgrade";
    case RINGD_EWRONG_DOWNGRADE_VERSION_FORMAT:
        return "etcdserver: wrong downgrade target version format";
    case RINGD_EINVALID_DOWNGRADE_TARGET_VERSION:
        return "etcdserver: invalid downgrade target version";
    case RINGD_EDOWNGRADE_IN_PROCESS:
        return "etcdserver: cluster has a downgrade job in progress";
    case RINGD_ENO_INFLIGHT_DOWNGRADE:
        return "etcdserver: no inflight downgrade job";
    default:
        return strerror(-err);
    }
}

#endif
