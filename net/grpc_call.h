/* One incoming gRPC call (an HTTP/2 stream) as its handler sees it: request metadata and the
 * deadline in, response messages and the final status out. The transport (grpc_server.c)
 * owns the call; handlers hold it from on_message until they finish it or get on_cancel.
 *
 * Thread: the shard thread that accepted the connection, only. */
#ifndef RINGD_GRPC_CALL_H
#define RINGD_GRPC_CALL_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "grpc_method.h"

/* gRPC status codes, numbered as in grpc's status.h. */
enum grpc_status {
    GRPC_STATUS_OK = 0,
    GRPC_STATUS_CANCELLED = 1,
    GRPC_STATUS_UNKNOWN = 2,
    GRPC_STATUS_INVALID_ARGUMENT = 3,
    GRPC_STATUS_DEADLINE_EXCEEDED = 4,
    GRPC_STATUS_NOT_FOUND = 5,
    GRPC_STATUS_ALREADY_EXISTS = 6,
    GRPC_STATUS_PERMISSION_DENIED = 7,
    GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
    GRPC_STATUS_FAILED_PRECONDITION = 9,
    GRPC_STATUS_ABORTED = 10,
    GRPC_STATUS_OUT_OF_RANGE = 11,
    GRPC_STATUS_UNIMPLEMENTED = 12,
    GRPC_STATUS_INTERNAL = 13,
    GRPC_STATUS_UNAVAILABLE = 14,
    GRPC_STATUS_DATA_LOSS = 15,
    GRPC_STATUS_UNAUTHENTICATED = 16,
};

struct grpc_call;
struct shard;

const struct grpc_method *grpc_call_method(const struct grpc_call *call);

/* The shard serving the call: the handler's way to the cluster view and the actors. */
struct shard *grpc_call_shard(const struct grpc_call *call);

/* The value of request metadata `name` (lower case, e.g. "token"), NUL-terminated, or NULL.
 * Valid until the call ends. */
const char *grpc_call_metadata(const struct grpc_call *call, const char *name);

/* The call's deadline from grpc-timeout, in CLOCK_MONOTONIC nanoseconds; 0 when none. */
uint64_t grpc_call_deadline_ns(const struct grpc_call *call);

/* A slot for the handler's own state (streams); NULL until set. */
void *grpc_call_user(const struct grpc_call *call);
void grpc_call_set_user(struct grpc_call *call, void *user);

/* The packed bytes of the request message being handed to on_message; valid only during that
 * call (a handler that passes the request on copies them). */
const uint8_t *grpc_call_request_bytes(const struct grpc_call *call, size_t *len);

/* Unary and client-streaming: sends response (packed at once; the caller keeps ownership)
 * and ends the call with status OK. */
void grpc_call_reply(struct grpc_call *call, const ProtobufCMessage *response);

/* The same with a response already packed (copied at once). */
void grpc_call_reply_bytes(struct grpc_call *call, const uint8_t *bytes, size_t len);

/* Server and bidi streams: queues one response message without ending the call. Returns 0,
 * or -RINGD_EFULL when the stream's unsent bytes exceed their bound (the message is not
 * queued; the handler retries when the client has read). */
int grpc_call_send(struct grpc_call *call, const ProtobufCMessage *response);

/* Ends the call with status and message (etcd's exact text; NULL or "" for none), after any
 * messages already queued. Every call is finished exactly once, unless it was cancelled. */
void grpc_call_finish(struct grpc_call *call, enum grpc_status status, const char *message);

#endif
