/* A gRPC client over HTTP/2 (h2c, prior knowledge) driven by its own io_uring loop: unary
 * calls and client/server/bidi streams on many connections, for tests and the ringd-bench load
 * generator (the server never uses it).
 *
 * Model. A client owns one io_loop on the thread that created it and up to conns_max
 * connections (TCP host:port or a unix socket). Connect, send and recv go through the ring;
 * every connection's output of a turn leaves in the one io_uring_enter that also waits. Calls
 * come from a pool of calls_max objects whose buffers are kept between calls, so after warm-up
 * a call allocates nothing on our side (nghttp2 still allocates its own stream state).
 *
 * Calls. A start function returns 0, after which the call's done callback runs exactly once,
 * or a negative error and the callback never runs. Streams open once the server's first
 * SETTINGS have arrived; calls beyond its SETTINGS_MAX_CONCURRENT_STREAMS (and
 * GRPC_CLIENT_CONN_STREAMS_MAX) wait in a bounded per-connection queue. Failures come back as
 * gRPC statuses: the server's own (grpc-status, grpc-message), UNAVAILABLE when the connection
 * cannot be made or breaks (refused, reset, GOAWAY), DEADLINE_EXCEEDED when the call's timeout
 * passes on the client (also when the server, told the deadline, fails the call after it
 * passed), CANCELLED after grpc_client_call_cancel, INTERNAL when the server breaks the gRPC
 * protocol, RESOURCE_EXHAUSTED for a response message over GRPC_CLIENT_RECV_MESSAGE_BYTES_MAX.
 * Nothing the server sends is asserted on.
 *
 * Callbacks run only inside grpc_client_run_once (and the functions built on it): stream
 * messages while the connection's input is processed, done callbacks after the turn's I/O. A
 * callback may start, send on, half-close and cancel calls, pause connections and close them;
 * it must not run the loop or destroy the client.
 *
 * Thread: everything belongs to the thread that created the client. */
#ifndef RINGD_GRPC_CLIENT_H
#define RINGD_GRPC_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grpc_call.h"
#include "ringd_limits.h"

struct grpc_client;
struct grpc_client_conn;
struct grpc_client_call;

struct grpc_client_config {
    uint32_t calls_max; /* pooled calls (each one open call or stream); 0: default,
                           at most GRPC_CLIENT_CALLS_MAX */
    uint32_t conns_max; /* connections; 0: 64, at most GRPC_CLIENT_CONNS_MAX */
};

/* One request metadata entry; name lower case (e.g. "token"). Copied at start. */
struct grpc_client_metadata {
    const char *name;
    const char *value;
};

/* What a call sends. Everything is copied before the start function returns. */
struct grpc_client_request {
    const char *path; /* "/etcdserverpb.KV/Put" */
    /* The first request message: packed from message if set, else bytes[0..bytes_len) taken as
     * an already packed message (bytes may be NULL when bytes_len is 0). A stream may start
     * with none (message NULL and bytes NULL); a unary call always sends one. */
    const ProtobufCMessage *message;
    const uint8_t *bytes;
    size_t bytes_len;
    /* Response messages are decoded with this; NULL: callbacks get the raw bytes only. */
    const ProtobufCMessageDescriptor *response;
    /* 0: none. Otherwise the call ends DEADLINE_EXCEEDED this long after it started, and the
     * server is told the remaining time in grpc-timeout when the stream opens. */
    uint32_t timeout_ms;
    const struct grpc_client_metadata *metadata;
    uint32_t metadata_count; /* at most GRPC_CLIENT_METADATA_MAX */
};

/* One received message. Valid only during the callback. */
struct grpc_client_message {
    const ProtobufCMessage *decoded; /* NULL without a response descriptor */
    const uint8_t *bytes;            /* the message as received (packed) */
    size_t len;
};

/* How a call ended. Valid only during the callback. */
struct grpc_client_result {
    enum grpc_status status;
    const char *message; /* grpc-message, percent-decoded, or our own text; "" when none */
    /* Unary calls ending OK: the response (decoded is NULL without a descriptor). Streams and
     * failed calls: all zero. */
    struct grpc_client_message response;
};

typedef void (*grpc_client_done_fn)(void *arg, const struct grpc_client_result *result);
/* A stream's response message; the stream stays open. */
typedef void (*grpc_client_message_fn)(void *arg, struct grpc_client_call *call,
                                       const struct grpc_client_message *message);

/* Creates a client whose loop belongs to the calling thread. Returns 0, -EINVAL for a config
 * over the bounds, -ENOMEM, or the io_uring error. */
int grpc_client_create(const struct grpc_client_config *config, struct grpc_client **out);

/* Closes every connection: calls still open end CANCELLED ("grpc: the client connection is
 * closing") and their callbacks run now. Then waits for the ring to drain and frees all. */
void grpc_client_destroy(struct grpc_client *client);

/* Starts connecting to endpoint: "host:port", "http://host:port", "[v6]:port",
 * "unix:path" or "unix://path" (as etcd reads unix URLs: "unix://localhost:2379" is the
 * socket file "localhost:2379"; "unix:///run/x.sock" is absolute). Host names are resolved
 * here, blocking; a name that does not resolve gives a connection that is FAILED at once.
 * Calls may start at once; they are sent when the connection is up and fail UNAVAILABLE if it
 * cannot be made. Returns 0, -EINVAL for a bad endpoint (https, no port, ...), -RINGD_EFULL
 * when conns_max connections are held (a closed connection's slot comes back once its socket
 * is closed, a turn or two later), -ENOMEM, or a negated errno from socket(2). */
int grpc_client_connect(struct grpc_client *client, const char *endpoint,
                        struct grpc_client_conn **out);

/* Closes the connection: its open calls end CANCELLED (callbacks in the next turn) and the
 * handle is invalid once this returns. Safe inside callbacks. */
void grpc_client_conn_close(struct grpc_client_conn *conn);

/* Stops (paused true) or resumes reading the connection's socket, for tests of server
 * back-pressure: nothing more is read until resumed, so the server's writes fill the socket
 * buffers. Output still goes out. */
void grpc_client_conn_pause(struct grpc_client_conn *conn, bool paused);

enum grpc_client_conn_state {
    GRPC_CLIENT_CONN_CONNECTING,
    GRPC_CLIENT_CONN_READY,
    GRPC_CLIENT_CONN_FAILED, /* refused, broken, or ended by GOAWAY: calls fail UNAVAILABLE */
};

struct grpc_client_conn_info {
    enum grpc_client_conn_state state;
    const char *error;          /* why it failed; "" otherwise */
    uint32_t streams_open;      /* calls handed to HTTP/2 whose stream has not closed */
    uint32_t streams_open_peak; /* the most ever open at once */
    uint32_t calls_queued;      /* calls waiting for a stream slot */
    uint32_t peer_streams_max;  /* the server's SETTINGS_MAX_CONCURRENT_STREAMS */
    bool goaway;                /* the server sent GOAWAY */
};

void grpc_client_conn_info(const struct grpc_client_conn *conn, struct grpc_client_conn_info *out);

/* Starts a unary call on conn. call_out (may be NULL) receives a handle for
 * grpc_client_call_cancel, valid until done runs. Returns 0 (done will run exactly once), or:
 * -EINVAL (no path, path or metadata too long, no request message), -EMSGSIZE (the request is
 * over GRPC_CLIENT_SEND_MESSAGE_BYTES_MAX), -RINGD_EFULL (no free call in the pool, or the
 * connection's queue is full). A call on a failed connection is not an error: it ends
 * UNAVAILABLE through done. */
int grpc_client_unary(struct grpc_client_conn *conn, const struct grpc_client_request *request,
                      struct grpc_client_call **call_out, void *arg, grpc_client_done_fn done);

/* Opens a stream (client, server or bidi streaming) on conn, sending request's message first
 * when there is one. on_message runs for each response message; done runs once when the call
 * ends. *call_out is the handle for the stream functions below, valid until done runs.
 * Returns as grpc_client_unary. */
int grpc_client_stream_open(struct grpc_client_conn *conn,
                            const struct grpc_client_request *request,
                            struct grpc_client_call **call_out, void *arg,
                            grpc_client_message_fn on_message, grpc_client_done_fn done);

/* Queues one request message on a stream (packed now). Returns 0, -EPIPE once the stream was
 * half-closed or has ended, -EMSGSIZE for a message over the bound, -RINGD_EFULL when the
 * stream's unsent bytes would pass GRPC_CLIENT_STREAM_SEND_BYTES_MAX (retry after a turn; a
 * stream with nothing unsent always takes one message), -ENOMEM. */
int grpc_client_stream_send(struct grpc_client_call *call, const ProtobufCMessage *message);

/* The same with an already packed message. */
int grpc_client_stream_send_bytes(struct grpc_client_call *call, const uint8_t *bytes, size_t len);

/* Half-closes the stream (END_STREAM after the queued messages). Idempotent. */
void grpc_client_stream_close_send(struct grpc_client_call *call);

/* Cancels a call that has not ended: RST_STREAM(CANCEL) goes to the server if the stream is
 * open, and done runs in the next turn with CANCELLED ("context canceled"). A no-op for a call
 * whose end is already decided. */
void grpc_client_call_cancel(struct grpc_client_call *call);

/* One turn: sends what connections have, waits up to timeout_ms (0: not at all) for I/O or the
 * next call deadline, handles completions and expired deadlines, runs done callbacks. Returns
 * the number of events handled, or a negated errno if io_uring failed. */
int grpc_client_run_once(struct grpc_client *client, uint32_t timeout_ms);

/* The same with the wait in nanoseconds, for callers that pace sends finer than a millisecond
 * (ringd-bench's open loop). */
int grpc_client_run_once_ns(struct grpc_client *client, uint64_t timeout_ns);

/* Runs turns until until(arg) is true (checked before each turn) or timeout_ms passes.
 * Returns 0, -ETIMEDOUT, or a negated errno from the ring. */
int grpc_client_run_until(struct grpc_client *client, uint32_t timeout_ms, void *arg,
                          bool (*until)(void *arg));

/* The blocking form for tests: how a unary call ended, with the response owned by the caller. */
struct grpc_client_reply {
    enum grpc_status status;
    char message[GRPC_CLIENT_STATUS_MESSAGE_BYTES_MAX];
    /* Status OK with a response descriptor: the decoded response (malloc'd by protobuf-c);
     * free with grpc_client_reply_free. NULL otherwise. */
    ProtobufCMessage *response;
};

/* Starts a unary call and runs the loop until it ends. If it has not ended after wait_ms, it
 * is cancelled and ends DEADLINE_EXCEEDED ("context deadline exceeded") without grpc-timeout
 * having been sent for it (use request->timeout_ms for that). Returns 0 with reply filled,
 * or an error of grpc_client_unary or the ring (reply untouched). Not inside callbacks. */
int grpc_client_unary_sync(struct grpc_client_conn *conn, const struct grpc_client_request *request,
                           uint32_t wait_ms, struct grpc_client_reply *reply);

void grpc_client_reply_free(struct grpc_client_reply *reply);

/* The client a connection belongs to. */
struct grpc_client *grpc_client_conn_client(const struct grpc_client_conn *conn);

/* Calls taken from the pool and not yet returned (open calls, and ended calls whose stream the
 * server has not closed yet); 0 once everything is over. */
uint32_t grpc_client_calls_in_use(const struct grpc_client *client);

#endif
