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
};

/* A short English text for a code (negated errno or -RINGD_E*); never NULL. */
static inline const char *ringd_strerror(int err)
{
    switch (-err) {
    case RINGD_EINVAL_CONFIG:
        return "invalid configuration";
    case RINGD_EUNSUPPORTED:
        return "not supported yet";
    case RINGD_EFULL:
        return "queue full";
    default:
        return strerror(-err);
    }
}

#endif
