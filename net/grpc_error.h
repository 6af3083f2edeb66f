/* The one table from ringd's error codes to what an etcd client sees: a gRPC status code and
 * etcd's exact message (etcd 3.4 rpctypes/error.go and v3rpc/util.go toGRPCErrorMap, plus the
 * etcd 3.5 downgrade errors). A handler that fails a call with a ringd code finishes it through
 * grpc_error_finish, so no handler spells an etcd message itself.
 *
 * Thread: the table is read-only; every function may run on any thread (grpc_error_finish on
 * the call's shard thread, as every grpc_call function). */
#ifndef RINGD_GRPC_ERROR_H
#define RINGD_GRPC_ERROR_H

#include <stddef.h>

#include "grpc_call.h"

struct grpc_error_entry {
    int err; /* -RINGD_E* */
    enum grpc_status status;
    const char *message; /* the grpc-message etcd sends, byte for byte */
};

/* The entry for err (a negative ringd code), or NULL when the table has none: a negated errno or
 * a code that is not ringd's. Every RINGD_E* code has an entry (tests/test_grpc_error.c). */
const struct grpc_error_entry *grpc_error_lookup(int err);

/* The status and message a call failing with err (< 0) ends with: the table's entry, or, for
 * anything else, UNKNOWN with the error's text (ringd_strerror), as etcd's togRPCError answers
 * an error it has no mapping for (codes.Unknown, err.Error()). Never NULL message. */
void grpc_error_status(int err, enum grpc_status *status, const char **message);

/* Ends call with grpc_error_status(err). */
void grpc_error_finish(struct grpc_call *call, int err);

/* The whole table, for tests and listings. */
extern const struct grpc_error_entry grpc_error_table[];
extern const size_t grpc_error_table_count;

#endif
