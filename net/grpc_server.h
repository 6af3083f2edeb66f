/* The server side of one client connection: an HTTP/2 session (nghttp2) speaking gRPC, as a
 * pure object. Bytes read from the socket go in with grpc_server_feed; bytes to write come out
 * of grpc_server_pending and are acknowledged with grpc_server_sent. It does no I/O and reads
 * no clock (time comes in through grpc_server_tick), so it is tested and fuzzed by feeding it
 * bytes. net/conn.c moves the bytes through the shard's io_uring.
 *
 * Decoded requests are dispatched through the method table (grpc_method.h) to handlers, which
 * answer through the call API (grpc_call.h) now or later; a later answer makes output appear
 * outside feed, and the session calls its output hook so the driver writes it.
 *
 * Thread: the shard thread that owns the connection, only. */
#ifndef RINGD_GRPC_SERVER_H
#define RINGD_GRPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;
struct grpc_server;
struct grpc_method_set;

struct grpc_server_limits {
    uint32_t max_request_bytes;      /* --max-request-bytes (etcd's request size limit) */
    uint32_t max_concurrent_streams; /* --max-concurrent-streams, advertised in SETTINGS */
    uint32_t output_bytes_max;       /* unsent output before the session stops producing and
                                        the driver stops reading: back-pressure */
    uint64_t keepalive_interval_ns;  /* --grpc-keepalive-interval; 0: no server pings */
    uint64_t keepalive_timeout_ns;   /* --grpc-keepalive-timeout */
    uint64_t keepalive_min_time_ns;  /* --grpc-keepalive-min-time: clients pinging more often
                                        get GOAWAY ENHANCE_YOUR_CALM */
};

/* A session for a new connection that serves methods (grpc_etcd_methods in the server; must
 * outlive the session) for shard (may be NULL in tests: handlers that need the shard then fail
 * the call with INTERNAL). Queues the server preface (SETTINGS) as pending output. Returns NULL
 * when memory ran out. */
struct grpc_server *grpc_server_new(const struct grpc_server_limits *limits,
                                    const struct grpc_method_set *methods, struct shard *shard,
                                    uint64_t now_ns);

/* Cancels every call still open (each handler's on_cancel) and frees the session. */
void grpc_server_free(struct grpc_server *s);

/* Processes bytes from the client. Returns 0, or a negative error when the connection must be
 * closed once the pending output (a GOAWAY) is written. Never fails on bad input in any other
 * way: a bad frame, prefix, message or path gets the RST_STREAM, GOAWAY or gRPC status that
 * grpc-go (and so etcd) gives. */
int grpc_server_feed(struct grpc_server *s, const uint8_t *data, size_t len, uint64_t now_ns);

/* The next contiguous bytes to write (length returned, 0 when none). They stay valid and
 * unchanged until grpc_server_sent acknowledges them, across any other call into the session
 * (new output is appended after them, never moved over them), so the driver hands them to an
 * asynchronous send without copying. */
size_t grpc_server_pending(struct grpc_server *s, const uint8_t **data);

/* The driver wrote n bytes of what grpc_server_pending returned. */
void grpc_server_sent(struct grpc_server *s, size_t n);

/* True while the driver should read from the socket (unsent output is under its bound). */
bool grpc_server_wants_read(const struct grpc_server *s);

/* True once the session is over (GOAWAY sent, no stream left): close after the output. */
bool grpc_server_done(const struct grpc_server *s);

/* Deadlines (grpc-timeout) and keepalive pings. Returns the time (now_ns scale) at which it
 * wants to be called next, or UINT64_MAX when nothing is scheduled; the driver arms one timer
 * per connection for it and calls it again after every feed. */
uint64_t grpc_server_tick(struct grpc_server *s, uint64_t now_ns);

/* Called (on the shard thread) when output appears outside feed/tick, e.g. a handler replied
 * after a round trip through other actors. */
void grpc_server_set_output_hook(struct grpc_server *s, void (*hook)(void *arg), void *arg);

/* Shutdown: sends GOAWAY (NO_ERROR) so the client opens no new stream; calls already open go
 * on, and the session is done once the last one ends. Idempotent. */
void grpc_server_drain(struct grpc_server *s);

/* Bytes the session holds now: itself, nghttp2's state, pending output, open calls. An idle
 * connection's cost (docs/ARCHITECTURE.md). */
size_t grpc_server_memory_bytes(const struct grpc_server *s);

/* Frees the output blocks and call objects the calling thread keeps for reuse; for a shard's
 * last moments, once its sessions are freed. */
void grpc_server_thread_release(void);

#endif
