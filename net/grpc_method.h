/* One entry of the declarative table of etcd's gRPC methods: path, message types, streaming
 * kind, handler, and what the method requires (auth, a leader). The table lives in
 * grpc_methods.c; a method whose handler is NULL answers UNIMPLEMENTED naming itself. Tests
 * give a session a set of their own.
 *
 * Thread: the table is read-only and shared by every shard. */
#ifndef RINGD_GRPC_METHOD_H
#define RINGD_GRPC_METHOD_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

struct grpc_call;

enum grpc_kind {
    GRPC_UNARY,
    GRPC_CLIENT_STREAM, /* many requests, one response (e.g. Maintenance.Snapshot is the
                           reverse: see GRPC_SERVER_STREAM) */
    GRPC_SERVER_STREAM, /* one request, many responses */
    GRPC_BIDI_STREAM,   /* many each way (Watch, LeaseKeepAlive) */
};

struct grpc_method {
    const char *path;    /* "/etcdserverpb.KV/Range" */
    const char *service; /* "etcdserverpb.KV" */
    const char *name;    /* "Range" */
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *response;
    enum grpc_kind kind;
    /* One decoded request message. For unary and server-streaming methods it is called once,
     * as soon as the first message is complete (grpc-go does not wait for the half-close
     * either, and ignores further messages). The request is freed when it returns: copy what
     * is kept. The handler answers now or later with grpc_call_reply / grpc_call_finish,
     * exactly once; the call may be freed as soon as that returns. NULL: the method is not
     * implemented yet. */
    void (*on_message)(struct grpc_call *call, const ProtobufCMessage *request);
    /* Streams only: the client half-closed (sent END_STREAM). May be NULL. */
    void (*on_half_close)(struct grpc_call *call);
    /* The stream was reset, its connection closed, its deadline passed, or a later request
     * message of a stream was bad or cut short, before the handler finished the call. The
     * handler must drop every reference to it and not finish it: the transport frees it (after
     * sending the status: DEADLINE_EXCEEDED "context deadline exceeded" when the deadline
     * passed, the bad message's otherwise). May be NULL for handlers that always finish
     * synchronously. */
    void (*on_cancel)(struct grpc_call *call);
    bool needs_auth;   /* checked against the "token" metadata once auth lands */
    bool needs_leader; /* forwarded to the leader once clustering lands */
    /* The request becomes a raft proposal: one over --max-request-bytes fails before its
     * handler with etcd's InvalidArgument "etcdserver: request is too large". (etcd measures the
     * proposal, which is a few bytes longer than the request message: the boundary moves by
     * those bytes once proposals are encoded.) */
    bool proposal;
};

/* The methods a server session serves. */
struct grpc_method_set {
    const struct grpc_method *methods;
    size_t count;
};

/* Every method of etcd 3.5's services: what ringd serves. */
extern const struct grpc_method_set grpc_etcd_methods;

/* The method of set for a :path, or NULL. */
const struct grpc_method *grpc_method_find(const struct grpc_method_set *set, const char *path,
                                           size_t path_len);

/* True if some method of set belongs to the service ("etcdserverpb.KV", without slashes). */
bool grpc_method_service_known(const struct grpc_method_set *set, const char *service,
                               size_t service_len);

#endif
