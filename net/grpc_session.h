/* The insides of a gRPC server session and its calls, shared by grpc_server.c (the HTTP/2
 * session, its output and keepalive) and grpc_call.c (one stream: request headers, message
 * assembly, dispatch, the response). Nothing else includes this header: handlers see a call
 * only through grpc_call.h.
 *
 * Thread: the shard thread that owns the connection. */
#ifndef RINGD_GRPC_SESSION_H
#define RINGD_GRPC_SESSION_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>

#include "grpc_call.h"
#include "grpc_frame.h"
#include "grpc_server.h"
#include "ringd_limits.h"
#include "timer.h"

/* One block of pending output; blocks form a list, so appending never moves unsent bytes. */
struct grpc_out_chunk {
    struct grpc_out_chunk *next;
    uint32_t start; /* first unsent byte */
    uint32_t end;   /* one past the last byte written */
    uint8_t data[GRPC_OUT_CHUNK_BYTES - 2 * sizeof(uint32_t) - sizeof(void *)];
};

struct grpc_server {
    nghttp2_session *h2;
    struct grpc_server_limits limits;
    const struct grpc_method_set *methods;
    struct shard *shard;
    uint32_t streams_max; /* SETTINGS_MAX_CONCURRENT_STREAMS we sent: calls open at most */
    void (*output_hook)(void *arg);
    void *output_hook_arg;

    /* Pending output, oldest first. */
    struct grpc_out_chunk *out_head;
    struct grpc_out_chunk *out_tail;
    size_t out_bytes;
    bool out_blocked; /* nghttp2 was refused (output at its bound): produce more after sent */

    /* Open calls (streams with a call), for deadlines, cancellation and free. */
    struct grpc_call *calls;
    uint32_t calls_count;
    struct timer_heap deadlines;  /* of calls with a grpc-timeout; allocated on first use and
                                     doubled when full, up to streams_max */
    uint64_t input_partial_bytes; /* bytes of messages not yet complete, over all calls */

    uint64_t now_ns; /* the time of the feed or tick being processed */
    /* Nesting of feed, tick, sent: while inside, output is produced on the way out and the
     * driver writes it, so the output hook is not called. */
    uint32_t depth;

    /* Keepalive (grpc-go's server keepalive, which etcd configures from its flags). */
    uint64_t last_read_ns;
    uint64_t ping_sent_ns; /* 0: no keepalive ping outstanding */
    uint64_t last_client_ping_ns;
    bool client_pinged;
    uint32_t ping_strikes;
    bool ping_strikes_reset; /* we sent HEADERS or DATA since the last client ping */

    bool draining;   /* GOAWAY sent for shutdown: done once the last call is over */
    bool fatal;      /* the connection must close once the pending output is written */
    size_t h2_bytes; /* memory nghttp2 holds for this session */
};

enum grpc_call_state {
    GRPC_CALL_HEADERS,  /* request headers arriving */
    GRPC_CALL_OPEN,     /* dispatched: messages flow, the handler may answer */
    GRPC_CALL_FINISHED, /* status decided; trailers queued or sent */
    GRPC_CALL_RESET,    /* we reset the stream: ignore everything until it closes */
};

struct grpc_call_md {
    uint16_t name_off; /* NUL-terminated strings inside md_bytes */
    uint16_t value_off;
};

struct grpc_call {
    void *pool_link; /* first word: the pool's free-list link while the call is free */
    struct grpc_server *s;
    struct grpc_call *prev;
    struct grpc_call *next;
    int32_t stream_id;
    enum grpc_call_state state;
    const struct grpc_method *method;
    void *user;
    struct timer deadline; /* armed in s->deadlines while the call has a grpc-timeout */
    uint64_t deadline_ns;  /* 0: none */

    bool handler_owns;  /* the handler got a message and has not finished the call */
    bool headers_bad;   /* a request header grpc-go rejects: reset with PROTOCOL_ERROR */
    bool metadata_full; /* metadata over its bound: fail the call */
    bool content_type_ok;
    bool half_closed;      /* the client sent END_STREAM */
    bool response_started; /* response HEADERS submitted with the data provider */
    bool data_deferred;    /* the data provider returned DEFERRED: resume on new output */
    bool got_message;      /* unary and server streaming take the first message only */

    /* Request headers. */
    uint16_t path_len;
    char path[GRPC_CALL_PATH_BYTES_MAX];
    char content_type[GRPC_CALL_CONTENT_TYPE_BYTES];
    char encoding[GRPC_CALL_ENCODING_BYTES]; /* grpc-encoding; "" for none */
    uint8_t md_count;
    uint16_t md_used;
    struct grpc_call_md md[GRPC_CALL_METADATA_MAX];
    char md_bytes[GRPC_CALL_METADATA_BYTES_MAX];

    /* Message assembly: prefix first, then the body into in. */
    uint8_t prefix[GRPC_PREFIX_BYTES];
    uint8_t prefix_len;
    uint32_t body_len; /* of the message being assembled, once the prefix is complete */
    uint8_t *in;
    uint32_t in_len;
    uint32_t in_cap;
    uint32_t unconsumed;          /* stream bytes not yet given back to the client's window */
    const uint8_t *request_bytes; /* the message on_message is handling, while it runs */
    size_t request_len;

    /* Response: framed messages not yet handed to nghttp2, then the status. */
    uint8_t *out;
    size_t out_off;
    size_t out_len;
    size_t out_cap;
    enum grpc_status status;
    char *status_message; /* percent-encoded; malloc'd; NULL for "" */
};

/* grpc_server.c, for grpc_call.c. */

/* Produces output from what was submitted and calls the output hook when not inside feed,
 * tick or sent. */
void grpc_server_output(struct grpc_server *s);

/* Arms or moves the call's deadline. Returns 0 or -ENOMEM. */
int grpc_server_deadline_arm(struct grpc_server *s, struct grpc_call *c);

/* grpc_call.c, for grpc_server.c. */

/* A call for a new request stream, or NULL when memory ran out. */
struct grpc_call *grpc_call_new(struct grpc_server *s, int32_t stream_id);

/* Frees the call (the stream has closed or the session ends). */
void grpc_call_free(struct grpc_call *c);

/* Frees the calls the calling thread keeps (shard shutdown). */
void grpc_call_pool_drain(void);

/* Memory the call holds: itself and its buffers. */
size_t grpc_call_memory_bytes(const struct grpc_call *c);

/* One request header of the call's HEADERS. */
void grpc_call_on_header(struct grpc_call *c, const uint8_t *name, size_t name_len,
                         const uint8_t *value, size_t value_len);

/* The request headers are complete: validate, find the method, answer what can be answered
 * without a message. end_stream: the HEADERS frame ended the stream. */
void grpc_call_on_headers_done(struct grpc_call *c, bool end_stream);

/* Bytes of the request body. */
void grpc_call_on_data(struct grpc_call *c, const uint8_t *data, size_t len);

/* The client half-closed the stream (END_STREAM). */
void grpc_call_on_half_close(struct grpc_call *c);

/* The deadline passed: the handler is cancelled, the call ends DEADLINE_EXCEEDED. */
void grpc_call_on_deadline(struct grpc_call *c);

/* The stream closed (done, or reset by the client) or the session is going away: a handler
 * still owning the call gets on_cancel. The caller frees the call next. */
void grpc_call_on_close(struct grpc_call *c);

/* The trailers (END_STREAM) of the call went out. */
void grpc_call_on_trailers_sent(struct grpc_call *c);

#endif
