/* The gRPC client (grpc_client.h): one nghttp2 client session per connection, bytes moved
 * through the client's own io_loop, calls from a fixed pool.
 *
 * Life of a call: QUEUED in its connection's queue until the connection is up and has a free
 * stream slot, OPEN once its stream is handed to the session, ENDED when how it ended is
 * decided (its done callback waits in the client's done list for the end of the turn), DONE
 * after the callback while the session still holds its stream, FREE again once both are over.
 *
 * Life of a connection: a slot is taken by grpc_client_connect and given back only when the
 * user closed it and every request on its fd has completed, so completions never see freed
 * memory. A connection that breaks keeps its slot (and its error) until the user closes it.
 *
 * Reentrancy: nghttp2 callbacks never run user code except on_message, and nothing frees a
 * session while one of its calls is on the stack (in_session); such work is deferred to
 * gc_conn_after_session. */
#include "grpc_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "grpc_frame.h"
#include "loop.h"
#include "timer.h"
#include "ringd_assert.h"
#include "ringd_grow.h"
#include "ringd_error.h"

/* Fixed request headers (:method :scheme :path :authority content-type te user-agent
 * grpc-timeout) plus the caller's metadata. */
#define GC_NV_MAX (8 + GRPC_CLIENT_METADATA_MAX)
/* A stream's unsent bytes stay under their bound, except that one message may always be queued
 * on an empty buffer. */
#define GC_SEND_BUFFER_MAX                                                            \
    ((size_t)GRPC_CLIENT_STREAM_SEND_BYTES_MAX + GRPC_CLIENT_SEND_MESSAGE_BYTES_MAX + \
     GRPC_PREFIX_BYTES)
#define GC_BUFFER_INITIAL_BYTES 4096

#define GC_MSG_CLOSING  "grpc: the client connection is closing"
#define GC_MSG_CANCELED "context canceled"
#define GC_MSG_DEADLINE "context deadline exceeded"

#define GC_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static_assert(GRPC_CLIENT_STREAM_WINDOW_BYTES <= NGHTTP2_MAX_WINDOW_SIZE, "HTTP/2 window bound");
static_assert(GRPC_CLIENT_CONN_WINDOW_BYTES <= NGHTTP2_MAX_WINDOW_SIZE, "HTTP/2 window bound");
static_assert(GRPC_CLIENT_CALL_HEADER_BYTES_MAX <= UINT16_MAX, "header offsets are 16-bit");
static_assert(GRPC_CLIENT_CALLS_DEFAULT <= GRPC_CLIENT_CALLS_MAX, "default within bound");
static_assert(GRPC_CLIENT_RECV_MESSAGE_BYTES_MAX <= UINT32_MAX, "message length is 32-bit");

struct gc_buf {
    uint8_t *data;
    size_t cap;
    size_t off; /* first byte not consumed yet */
    size_t len; /* end of the bytes held */
};

struct gc_link {
    struct grpc_client_call *prev;
    struct grpc_client_call *next;
};

struct gc_list {
    struct grpc_client_call *head;
    struct grpc_client_call *tail;
    uint32_t count;
};

struct gc_span {
    uint16_t off;
    uint16_t len;
};

enum gc_call_state {
    GC_CALL_FREE,
    GC_CALL_QUEUED, /* in conn->queue, waiting for the connection or a stream slot */
    GC_CALL_OPEN,   /* its stream is in the session */
    GC_CALL_ENDED,  /* status decided; done waits in the client's done list */
    GC_CALL_DONE,   /* done ran; the session has not closed its stream yet */
};

struct grpc_client_call {
    struct grpc_client *client;
    struct grpc_client_conn *conn; /* NULL once the connection let go of the call */
    enum gc_call_state state;
    bool unary;
    bool has_stream;   /* the session holds its stream; the call may not be reused */
    bool send_closed;  /* END_STREAM goes after the queued bytes */
    bool has_response; /* unary: the one response message is in recv */
    bool have_status;  /* grpc-status was received */
    int32_t stream_id;
    struct timer deadline;         /* armed in the client's deadlines while it has one */
    uint64_t deadline_ns;          /* 0: none */
    struct gc_link conn_link;      /* in conn->calls while bound to a connection */
    struct gc_link queue_link;     /* in conn->queue while QUEUED */
    struct grpc_client_call *next; /* in the free list or the done list */
    void *arg;
    grpc_client_done_fn done;
    grpc_client_message_fn on_message;
    const ProtobufCMessageDescriptor *response;
    struct gc_buf send; /* framed request messages the session has not taken yet */
    struct gc_buf recv; /* the response message being assembled */
    uint8_t prefix[GRPC_PREFIX_BYTES];
    uint32_t prefix_len;
    uint32_t message_len;
    uint32_t header_list_bytes;
    uint32_t http_status;
    enum grpc_status status; /* grpc-status while open; the outcome once ended */
    struct gc_span path;
    struct gc_span metadata[GRPC_CLIENT_METADATA_MAX][2]; /* name, value */
    uint32_t metadata_count;
    char headers[GRPC_CLIENT_CALL_HEADER_BYTES_MAX]; /* path and metadata, copied at start */
    char message[GRPC_CLIENT_STATUS_MESSAGE_BYTES_MAX];
};

struct grpc_client_conn {
    struct grpc_client *client;
    nghttp2_session *session;
    enum grpc_client_conn_state state;
    int fd;
    bool taken;       /* the slot is in use */
    bool user_closed; /* grpc_client_conn_close ran: free the slot once the fd is closed */
    bool stopping;    /* no new I/O: cancel what is in flight, then close the fd */
    bool broken;      /* the session is gone; calls fail at once */
    bool goaway;
    bool paused;
    bool settings_received;
    bool session_doomed; /* delete the session once the call into it returns */
    bool pump_wanted;    /* open queued calls once the call into the session returns */
    bool sent_goaway;    /* we ended the session over a protocol error */
    bool dirty;          /* in the client's dirty list: has output to flush */
    bool connecting, receiving, sending, cancel_recv_pending, cancel_all_pending, closing_fd;
    uint32_t in_session; /* nghttp2 calls on the stack */
    struct io_completion connect_io, recv_io, send_io, cancel_recv_io, cancel_all_io, close_io;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    uint8_t *recv_buf;
    uint8_t *send_buf;
    size_t send_off, send_len;
    struct gc_list calls; /* every call bound to this connection */
    struct gc_list queue; /* calls waiting for a stream */
    uint32_t streams_open, streams_open_peak, peer_streams_max;
    struct grpc_client_conn *dirty_next;
    struct grpc_client_conn *free_next;
    char authority[GRPC_CLIENT_AUTHORITY_BYTES_MAX];
    char error[GRPC_CLIENT_CONN_ERROR_BYTES_MAX];
    char http2_error[GRPC_CLIENT_CONN_ERROR_BYTES_MAX]; /* nghttp2's last complaint */
};

/* Scratch memory for decoding one response message: bump allocation from a block kept
 * between messages, with larger needs taken from malloc and given back at reset. */
struct gc_arena_block {
    struct gc_arena_block *next;
    max_align_t payload[];
};

struct gc_arena {
    uint8_t *base;
    size_t used;
    struct gc_arena_block *big;
};

struct grpc_client {
    struct io_loop loop;
    struct grpc_client_conn *conns;
    uint32_t conns_max;
    uint32_t conns_taken;
    struct grpc_client_conn *conn_free;
    struct grpc_client_call *calls;
    uint32_t calls_max;
    uint32_t calls_in_use;
    struct grpc_client_call *call_free;
    struct timer_heap deadlines; /* of calls with a timeout; room for every call */
    struct grpc_client_call *done_head, *done_tail;
    struct grpc_client_conn *dirty_head;
    nghttp2_session_callbacks *callbacks;
    struct gc_arena arena;
    ProtobufCAllocator allocator;
    bool running; /* inside grpc_client_run_once: callbacks may not run the loop */
};

static uint64_t gc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t gc_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- Buffers ---------------------------------------------------------------------------- */

/* Makes room for need more bytes at the end, compacting first. Returns 0, -EMSGSIZE past max
 * or -ENOMEM. */
static int gc_buf_reserve(struct gc_buf *b, size_t need, size_t max)
{
    if (b->cap - b->len >= need)
        return 0;
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= need)
            return 0;
    }
    return ringd_grow(&b->data, &b->cap, b->len + need, GC_BUFFER_INITIAL_BYTES, max);
}

/* Empties a pooled call's buffer, keeping up to the retained capacity for the next call. */
static void gc_buf_retain(struct gc_buf *b)
{
    b->off = b->len = 0;
    if (b->cap <= GRPC_CLIENT_CALL_RETAIN_BYTES)
        return;
    uint8_t *data = realloc(b->data, GRPC_CLIENT_CALL_RETAIN_BYTES);
    if (data == NULL)
        return; /* keeping the larger block is harmless */
    b->data = data;
    b->cap = GRPC_CLIENT_CALL_RETAIN_BYTES;
}

/* ---- Decode arena ------------------------------------------------------------------------ */

static void *gc_arena_alloc(void *data, size_t size)
{
    struct gc_arena *a = data;
    size_t aligned = (size + (sizeof(max_align_t) - 1)) & ~(sizeof(max_align_t) - 1);
    if (aligned < size)
        return NULL;
    if (GRPC_CLIENT_DECODE_RETAIN_BYTES - a->used >= aligned) {
        void *p = a->base + a->used;
        a->used += aligned;
        return p;
    }
    struct gc_arena_block *b = malloc(sizeof(*b) + aligned);
    if (b == NULL)
        return NULL;
    b->next = a->big;
    a->big = b;
    return b->payload;
}

static void gc_arena_free(void *data, void *p)
{
    (void)data; /* everything goes at once in gc_arena_reset */
    (void)p;
}

static void gc_arena_reset(struct gc_arena *a)
{
    a->used = 0;
    while (a->big != NULL) { /* one block per allocation that missed the base block */
        struct gc_arena_block *next = a->big->next;
        free(a->big);
        a->big = next;
    }
}

/* ---- Intrusive lists of calls ----------------------------------------------------------- */

#define GC_CONN_LINK  offsetof(struct grpc_client_call, conn_link)
#define GC_QUEUE_LINK offsetof(struct grpc_client_call, queue_link)

static struct gc_link *gc_link_of(struct grpc_client_call *c, size_t link)
{
    return (struct gc_link *)(void *)((char *)c + link);
}

static void gc_list_push(struct gc_list *l, struct grpc_client_call *c, size_t link)
{
    struct gc_link *k = gc_link_of(c, link);
    k->prev = l->tail;
    k->next = NULL;
    if (l->tail != NULL)
        gc_link_of(l->tail, link)->next = c;
    else
        l->head = c;
    l->tail = c;
    l->count++;
}

static void gc_list_remove(struct gc_list *l, struct grpc_client_call *c, size_t link)
{
    struct gc_link *k = gc_link_of(c, link);
    ASSERT(l->count > 0);
    if (k->prev != NULL)
        gc_link_of(k->prev, link)->next = k->next;
    else
        l->head = k->next;
    if (k->next != NULL)
        gc_link_of(k->next, link)->prev = k->prev;
    else
        l->tail = k->prev;
    k->prev = k->next = NULL;
    l->count--;
}

/* ---- Call ends ----------------------------------------------------------------------------- */

static void gc_conn_mark_dirty(struct grpc_client_conn *conn)
{
    if (conn->dirty || conn->sending || conn->session == NULL)
        return; /* a send in flight flushes again when it completes */
    conn->dirty = true;
    conn->dirty_next = conn->client->dirty_head;
    conn->client->dirty_head = conn;
}

/* Decides how the call ended and queues its done callback for the end of the turn. Its
 * stream, if any, is the caller's business. message may be the call's own buffer. */
static void gc_call_end(struct grpc_client_call *c, enum grpc_status status, const char *message)
{
    struct grpc_client *client = c->client;
    ASSERT(c->state == GC_CALL_QUEUED || c->state == GC_CALL_OPEN);
    if (c->state == GC_CALL_QUEUED)
        gc_list_remove(&c->conn->queue, c, GC_QUEUE_LINK);
    if (timer_armed(&c->deadline))
        timer_cancel(&client->deadlines, &c->deadline);
    c->state = GC_CALL_ENDED;
    c->status = status;
    if (message != c->message)
        snprintf(c->message, sizeof(c->message), "%s", message);
    c->next = NULL;
    if (client->done_tail != NULL)
        client->done_tail->next = c;
    else
        client->done_head = c;
    client->done_tail = c;
}

/* Ends a call on the client's initiative: the server is told with RST_STREAM(CANCEL). A no-op
 * once the end is decided. */
static void gc_call_abort(struct grpc_client_call *c, enum grpc_status status, const char *message)
{
    if (c->state != GC_CALL_QUEUED && c->state != GC_CALL_OPEN)
        return;
    struct grpc_client_conn *conn = c->conn;
    if (c->state == GC_CALL_OPEN && c->has_stream && conn->session != NULL &&
        !conn->session_doomed) {
        /* Fails only when the stream is already closing, which ends it just the same. */
        (void)nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, c->stream_id,
                                        NGHTTP2_CANCEL);
        gc_conn_mark_dirty(conn);
    }
    gc_call_end(c, status, message);
}

static void gc_call_release(struct grpc_client_call *c)
{
    struct grpc_client *client = c->client;
    ASSERT(c->state == GC_CALL_DONE && !c->has_stream && !timer_armed(&c->deadline));
    if (c->conn != NULL)
        gc_list_remove(&c->conn->calls, c, GC_CONN_LINK);
    c->conn = NULL;
    gc_buf_retain(&c->send);
    gc_buf_retain(&c->recv);
    c->state = GC_CALL_FREE;
    c->next = client->call_free;
    client->call_free = c;
    ASSERT(client->calls_in_use > 0);
    client->calls_in_use--;
}

/* A unary call ending OK: its response, decoded into the arena when a descriptor was given. */
static void gc_call_unary_result(struct grpc_client_call *c, struct grpc_client_result *result)
{
    static const uint8_t empty[1];
    ASSERT(c->has_response && c->recv.len == c->message_len);
    result->response.bytes = c->message_len > 0 ? c->recv.data : empty;
    result->response.len = c->message_len;
    if (c->response == NULL)
        return;
    result->response.decoded = protobuf_c_message_unpack(
        c->response, &c->client->allocator, result->response.len, result->response.bytes);
    if (result->response.decoded == NULL) {
        result->status = GRPC_STATUS_INTERNAL;
        result->message = "grpc: failed to unmarshal the received message";
        result->response = (struct grpc_client_message){0};
    }
}

static void gc_call_finish(struct grpc_client_call *c)
{
    struct grpc_client *client = c->client;
    ASSERT(c->state == GC_CALL_ENDED);
    struct grpc_client_result result = {.status = c->status, .message = c->message};
    if (c->unary && c->status == GRPC_STATUS_OK)
        gc_call_unary_result(c, &result);
    c->state = GC_CALL_DONE;
    c->done(c->arg, &result);
    gc_arena_reset(&client->arena);
    /* The callback may have closed the connection, which releases a DONE call; the object
     * may even be in use again by a call started in the callback, but such a call cannot be
     * DONE yet, so the state tells whether this call is still here to release. */
    if (c->state == GC_CALL_DONE && !c->has_stream)
        gc_call_release(c);
}

/* Runs the done callbacks queued before this point; ones queued by them wait a turn. */
static uint32_t gc_run_done(struct grpc_client *client)
{
    struct grpc_client_call *c = client->done_head;
    client->done_head = client->done_tail = NULL;
    uint32_t n = 0;
    while (c != NULL) { /* each call is in the list once: at most calls_max */
        struct grpc_client_call *next = c->next;
        gc_call_finish(c);
        c = next;
        n++;
    }
    return n;
}

/* ---- Status mapping ------------------------------------------------------------------------ */

/* gRPC's mapping for a response that is not gRPC (doc/http-grpc-status-mapping.md). */
static enum grpc_status gc_status_from_http(uint32_t http_status)
{
    switch (http_status) {
    case 400:
        return GRPC_STATUS_INTERNAL;
    case 401:
        return GRPC_STATUS_UNAUTHENTICATED;
    case 403:
        return GRPC_STATUS_PERMISSION_DENIED;
    case 404:
        return GRPC_STATUS_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return GRPC_STATUS_UNAVAILABLE;
    default:
        return GRPC_STATUS_UNKNOWN;
    }
}

/* The status of a stream reset before the server sent its status, as grpc clients map it. */
static enum grpc_status gc_status_from_reset(uint32_t error_code)
{
    switch (error_code) {
    case NGHTTP2_REFUSED_STREAM:
        return GRPC_STATUS_UNAVAILABLE;
    case NGHTTP2_CANCEL:
        return GRPC_STATUS_CANCELLED;
    case NGHTTP2_ENHANCE_YOUR_CALM:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case NGHTTP2_INADEQUATE_SECURITY:
        return GRPC_STATUS_PERMISSION_DENIED;
    default:
        return GRPC_STATUS_INTERNAL;
    }
}

/* The server learns the deadline from grpc-timeout and gives up at it too, with a status of
 * its own (etcd's Watch says UNKNOWN); once the deadline passed, a failure is the deadline's,
 * whichever side noticed first. */
static bool gc_call_past_deadline(const struct grpc_client_call *c)
{
    return c->deadline_ns != 0 && gc_now_ns() >= c->deadline_ns;
}

/* The server ended its side of the stream (END_STREAM): the outcome is in what it sent. */
static void gc_call_end_from_server(struct grpc_client_call *c)
{
    if (!c->have_status) {
        if (c->http_status != 200 && c->http_status != 0) {
            snprintf(c->message, sizeof(c->message),
                     "unexpected HTTP status code received from server: %u", c->http_status);
            gc_call_end(c, gc_status_from_http(c->http_status), c->message);
        } else {
            gc_call_end(c, GRPC_STATUS_INTERNAL,
                        "grpc: the server ended the stream without a grpc-status");
        }
        return;
    }
    if (c->status != GRPC_STATUS_OK && gc_call_past_deadline(c))
        gc_call_end(c, GRPC_STATUS_DEADLINE_EXCEEDED, GC_MSG_DEADLINE);
    else if (c->status == GRPC_STATUS_OK && c->prefix_len > 0)
        gc_call_end(c, GRPC_STATUS_INTERNAL, "grpc: the stream ended inside a message");
    else if (c->status == GRPC_STATUS_OK && c->unary && !c->has_response)
        gc_call_end(c, GRPC_STATUS_INTERNAL, "grpc: the server sent no response message");
    else
        gc_call_end(c, c->status, c->message);
}

/* The stream closed before the server's END_STREAM: reset by either side. */
static void gc_call_end_from_reset(struct grpc_client_call *c, uint32_t error_code)
{
    if (gc_call_past_deadline(c)) {
        gc_call_end(c, GRPC_STATUS_DEADLINE_EXCEEDED, GC_MSG_DEADLINE);
        return;
    }
    enum grpc_status status = gc_status_from_reset(error_code);
    snprintf(c->message, sizeof(c->message), "stream terminated by RST_STREAM with error code: %s",
             nghttp2_http2_strerror(error_code));
    gc_call_end(c, status, c->message);
}

/* ---- Response messages ---------------------------------------------------------------------- */

/* A whole response message is in recv: kept for a unary call's end, handed over for a stream. */
static void gc_call_message_end(struct grpc_client_call *c)
{
    static const uint8_t empty[1];
    c->prefix_len = 0;
    if (c->unary) {
        c->has_response = true;
        return;
    }
    struct grpc_client_message m = {.bytes = c->message_len > 0 ? c->recv.data : empty,
                                    .len = c->message_len};
    if (c->response != NULL) {
        m.decoded = protobuf_c_message_unpack(c->response, &c->client->allocator, m.len, m.bytes);
        if (m.decoded == NULL) {
            gc_arena_reset(&c->client->arena);
            gc_call_abort(c, GRPC_STATUS_INTERNAL,
                          "grpc: failed to unmarshal the received message");
            return;
        }
    }
    c->on_message(c->arg, c, &m);
    gc_arena_reset(&c->client->arena);
    c->recv.len = 0;
}

/* The prefix is complete: checks it and makes room for the message. */
static void gc_call_message_begin(struct grpc_client_call *c)
{
    uint32_t len = grpc_prefix_length(c->prefix);
    if (c->prefix[0] != GRPC_PREFIX_PLAIN) {
        /* We never offer an encoding, so a compressed message breaks the protocol. */
        gc_call_abort(c, GRPC_STATUS_INTERNAL,
                      "grpc: compressed flag set without a negotiated grpc-encoding");
        return;
    }
    if (c->unary && c->has_response) {
        gc_call_abort(c, GRPC_STATUS_INTERNAL,
                      "grpc: more than one response message for a unary call");
        return;
    }
    if (len > GRPC_CLIENT_RECV_MESSAGE_BYTES_MAX) {
        snprintf(c->message, sizeof(c->message),
                 "grpc: received message larger than max (%u vs. %u)", len,
                 (unsigned)GRPC_CLIENT_RECV_MESSAGE_BYTES_MAX);
        gc_call_abort(c, GRPC_STATUS_RESOURCE_EXHAUSTED, c->message);
        return;
    }
    c->message_len = len;
    c->recv.off = c->recv.len = 0;
    if (gc_buf_reserve(&c->recv, len, GRPC_CLIENT_RECV_MESSAGE_BYTES_MAX) < 0) {
        gc_call_abort(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "grpc: out of memory for a message");
        return;
    }
    if (len == 0)
        gc_call_message_end(c);
}

/* Feeds DATA bytes of the call's stream to its message parser. */
static void gc_call_feed(struct grpc_client_call *c, const uint8_t *data, size_t len)
{
    while (len > 0 && c->state == GC_CALL_OPEN) { /* each pass takes at least one byte */
        size_t n;
        if (c->prefix_len < GRPC_PREFIX_BYTES) {
            n = gc_min(GRPC_PREFIX_BYTES - c->prefix_len, len);
            memcpy(c->prefix + c->prefix_len, data, n);
            c->prefix_len += (uint32_t)n;
            if (c->prefix_len == GRPC_PREFIX_BYTES)
                gc_call_message_begin(c);
        } else {
            n = gc_min(c->message_len - c->recv.len, len);
            memcpy(c->recv.data + c->recv.len, data, n);
            c->recv.len += n;
            if (c->recv.len == c->message_len)
                gc_call_message_end(c);
        }
        data += n;
        len -= n;
    }
}

/* ---- nghttp2 callbacks ------------------------------------------------------------------- */

static struct grpc_client_call *gc_stream_call(struct grpc_client_conn *conn, int32_t stream_id)
{
    if (conn->session_doomed)
        return NULL;
    struct grpc_client_call *c = nghttp2_session_get_stream_user_data(conn->session, stream_id);
    if (c == NULL || c->conn != conn || !c->has_stream || c->stream_id != stream_id)
        return NULL;
    return c;
}

static ssize_t gc_on_send(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
                          void *user)
{
    (void)session;
    (void)flags;
    struct grpc_client_conn *conn = user;
    size_t n = gc_min(GRPC_CLIENT_CONN_SEND_BYTES - conn->send_len, length);
    if (n == 0)
        return NGHTTP2_ERR_WOULDBLOCK; /* the rest goes after this send completes */
    memcpy(conn->send_buf + conn->send_len, data, n);
    conn->send_len += n;
    return (ssize_t)n;
}

static ssize_t gc_on_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                               size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                               void *user)
{
    (void)session;
    (void)stream_id;
    (void)user;
    struct grpc_client_call *c = source->ptr;
    /* An ended call's stream is being reset: nothing more goes out on it. */
    if (c->state != GC_CALL_OPEN)
        return NGHTTP2_ERR_DEFERRED;
    size_t avail = c->send.len - c->send.off;
    size_t n = gc_min(avail, length);
    if (n > 0)
        memcpy(buf, c->send.data + c->send.off, n);
    c->send.off += n;
    if (n == avail && c->send_closed)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    else if (n == 0)
        return NGHTTP2_ERR_DEFERRED; /* resumed by grpc_client_stream_send or close_send */
    return (ssize_t)n;
}

static int gc_status_parse(const uint8_t *value, size_t len)
{
    if (len == 0 || len > 2)
        return GRPC_STATUS_UNKNOWN;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return GRPC_STATUS_UNKNOWN;
        v = v * 10 + (value[i] - '0');
    }
    return v <= GRPC_STATUS_UNAUTHENTICATED ? v : GRPC_STATUS_UNKNOWN;
}

static bool gc_name_is(const uint8_t *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

static int gc_on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user)
{
    (void)session;
    (void)flags;
    struct grpc_client_call *c = gc_stream_call(user, frame->hd.stream_id);
    if (frame->hd.type != NGHTTP2_HEADERS || c == NULL || c->state != GC_CALL_OPEN)
        return 0;
    c->header_list_bytes += (uint32_t)gc_min(namelen + valuelen + 32, UINT32_MAX / 2);
    if (c->header_list_bytes > GRPC_CLIENT_HEADER_LIST_BYTES_MAX) {
        gc_call_end(c, GRPC_STATUS_INTERNAL, "grpc: response header list too large");
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* nghttp2 resets the stream */
    }
    if (gc_name_is(name, namelen, ":status") && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        c->http_status = 0;
        for (size_t i = 0; i < valuelen && i < 3 && value[i] >= '0' && value[i] <= '9'; i++)
            c->http_status = c->http_status * 10 + (uint32_t)(value[i] - '0');
    } else if (gc_name_is(name, namelen, "grpc-status")) {
        c->status = (enum grpc_status)gc_status_parse(value, valuelen);
        c->have_status = true;
    } else if (gc_name_is(name, namelen, "grpc-message")) {
        grpc_message_decode(c->message, sizeof(c->message), (const char *)value, valuelen);
    }
    return 0;
}

static void gc_conn_goaway(struct grpc_client_conn *conn, const nghttp2_goaway *goaway);

static int gc_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    struct grpc_client_conn *conn = user;
    if (conn->session_doomed)
        return 0;
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        conn->settings_received = true;
        conn->peer_streams_max =
            nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
        conn->pump_wanted = true;
    } else if (frame->hd.type == NGHTTP2_GOAWAY) {
        gc_conn_goaway(conn, &frame->goaway);
    } else if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
               (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        struct grpc_client_call *c = gc_stream_call(conn, frame->hd.stream_id);
        if (c == NULL || c->state != GC_CALL_OPEN)
            return 0;
        gc_call_end_from_server(c);
        /* The server is done before we finished sending: release the stream now. */
        if (!nghttp2_session_get_stream_local_close(session, c->stream_id))
            (void)nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, c->stream_id,
                                            NGHTTP2_NO_ERROR);
    }
    return 0;
}

static int gc_on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                            const uint8_t *data, size_t len, void *user)
{
    (void)session;
    (void)flags;
    struct grpc_client_call *c = gc_stream_call(user, stream_id);
    if (c != NULL && c->state == GC_CALL_OPEN)
        gc_call_feed(c, data, len);
    return 0;
}

static int gc_on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                              void *user)
{
    (void)session;
    struct grpc_client_conn *conn = user;
    struct grpc_client_call *c = gc_stream_call(conn, stream_id);
    if (c == NULL)
        return 0;
    ASSERT(conn->streams_open > 0);
    conn->streams_open--;
    c->has_stream = false;
    if (c->state == GC_CALL_OPEN)
        gc_call_end_from_reset(c, error_code);
    else if (c->state == GC_CALL_DONE)
        gc_call_release(c);
    conn->pump_wanted = true; /* a stream slot is free */
    return 0;
}

static int gc_on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    (void)session;
    struct grpc_client_conn *conn = user;
    if (frame->hd.type == NGHTTP2_GOAWAY)
        conn->sent_goaway = true; /* only a protocol error makes our session send one */
    return 0;
}

static int gc_on_error(nghttp2_session *session, int lib_error_code, const char *msg, size_t len,
                       void *user)
{
    (void)session;
    (void)lib_error_code;
    struct grpc_client_conn *conn = user;
    /* Kept aside: it becomes the connection's error only if the session ends over it. */
    snprintf(conn->http2_error, sizeof(conn->http2_error), "transport: http2: %.*s", (int)len, msg);
    return 0;
}

static int gc_callbacks_new(nghttp2_session_callbacks **out)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -ENOMEM;
    nghttp2_session_callbacks_set_send_callback(cb, gc_on_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, gc_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, gc_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, gc_on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, gc_on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, gc_on_frame_send);
    nghttp2_session_callbacks_set_error_callback2(cb, gc_on_error);
    *out = cb;
    return 0;
}

/* ---- Opening streams --------------------------------------------------------------------- */

static nghttp2_nv gc_nv(const char *name, size_t namelen, const char *value, size_t valuelen)
{
    return (nghttp2_nv){.name = (uint8_t *)(uintptr_t)name,
                        .value = (uint8_t *)(uintptr_t)value,
                        .namelen = namelen,
                        .valuelen = valuelen,
                        .flags = NGHTTP2_NV_FLAG_NONE};
}

#define GC_NV_LIT(name, value) gc_nv(name, sizeof(name) - 1, value, sizeof(value) - 1)

static size_t gc_call_nv(struct grpc_client_call *c, nghttp2_nv *nv, char *timeout, size_t size)
{
    size_t n = 0;
    nv[n++] = GC_NV_LIT(":method", "POST");
    nv[n++] = GC_NV_LIT(":scheme", "http");
    nv[n++] = gc_nv(":path", 5, c->headers + c->path.off, c->path.len);
    nv[n++] = gc_nv(":authority", 10, c->conn->authority, strlen(c->conn->authority));
    nv[n++] = GC_NV_LIT("content-type", "application/grpc");
    nv[n++] = GC_NV_LIT("te", "trailers");
    nv[n++] = GC_NV_LIT("user-agent", "ringd-grpc-client/" RINGD_VERSION);
    if (c->deadline_ns != 0) {
        uint64_t now_ns = gc_now_ns();
        uint64_t remaining_ns = c->deadline_ns > now_ns ? c->deadline_ns - now_ns : 0;
        uint64_t remaining_ms = (remaining_ns + 999999u) / 1000000u;
        grpc_timeout_format(timeout, size, remaining_ms > 0 ? remaining_ms : 1);
        nv[n++] = gc_nv("grpc-timeout", 12, timeout, strlen(timeout));
    }
    for (uint32_t i = 0; i < c->metadata_count; i++) {
        const struct gc_span *name = &c->metadata[i][0], *value = &c->metadata[i][1];
        nv[n++] = gc_nv(c->headers + name->off, name->len, c->headers + value->off, value->len);
    }
    ASSERT(n <= GC_NV_MAX);
    return n;
}

/* Hands a queued call to the session as a new stream. */
static void gc_call_open(struct grpc_client_conn *conn, struct grpc_client_call *c)
{
    ASSERT(c->state == GC_CALL_QUEUED && conn->in_session == 0);
    nghttp2_nv nv[GC_NV_MAX];
    char timeout[24];
    size_t nv_len = gc_call_nv(c, nv, timeout, sizeof(timeout));
    nghttp2_data_provider data = {.source.ptr = c, .read_callback = gc_on_data_read};
    int32_t id = nghttp2_submit_request(conn->session, NULL, nv, nv_len, &data, c);
    if (id < 0) {
        snprintf(c->message, sizeof(c->message), "transport: cannot open a stream: %s",
                 nghttp2_strerror(id));
        gc_call_end(c, GRPC_STATUS_UNAVAILABLE, c->message);
        return;
    }
    gc_list_remove(&conn->queue, c, GC_QUEUE_LINK);
    c->state = GC_CALL_OPEN;
    c->has_stream = true;
    c->stream_id = id;
    conn->streams_open++;
    if (conn->streams_open > conn->streams_open_peak)
        conn->streams_open_peak = conn->streams_open;
    gc_conn_mark_dirty(conn);
}

/* Opens queued calls while the server allows more streams. */
static void gc_conn_pump(struct grpc_client_conn *conn)
{
    if (conn->in_session > 0) {
        conn->pump_wanted = true;
        return;
    }
    conn->pump_wanted = false;
    if (conn->session == NULL || conn->broken || conn->goaway || !conn->settings_received)
        return;
    uint32_t limit = conn->peer_streams_max < GRPC_CLIENT_CONN_STREAMS_MAX
                         ? conn->peer_streams_max
                         : GRPC_CLIENT_CONN_STREAMS_MAX;
    /* Each pass takes one call off the queue (opened or ended): bounded by its length. */
    while (conn->queue.head != NULL && conn->streams_open < limit)
        gc_call_open(conn, conn->queue.head);
}

/* ---- Connection failure and teardown -------------------------------------------------------- */

static void gc_conn_set_error(struct grpc_client_conn *conn, const char *error)
{
    conn->state = GRPC_CLIENT_CONN_FAILED;
    if (conn->error[0] == '\0')
        snprintf(conn->error, sizeof(conn->error), "%s", error);
}

/* Ends every call still bound to the connection and lets go of all of them: the session that
 * holds their streams is about to go. */
static void gc_conn_detach_calls(struct grpc_client_conn *conn, enum grpc_status status,
                                 const char *message)
{
    while (conn->calls.head != NULL) { /* each pass unbinds one call */
        struct grpc_client_call *c = conn->calls.head;
        if (c->state == GC_CALL_QUEUED || c->state == GC_CALL_OPEN)
            gc_call_end(c, status, message);
        c->has_stream = false;
        gc_list_remove(&conn->calls, c, GC_CONN_LINK);
        c->conn = NULL;
        if (c->state == GC_CALL_DONE)
            gc_call_release(c);
    }
    conn->streams_open = 0;
}

static void gc_conn_session_release(struct grpc_client_conn *conn)
{
    if (conn->session == NULL)
        return;
    conn->session_doomed = true; /* callbacks from here on see nothing */
    if (conn->in_session > 0)
        return; /* deleted when the call into the session returns */
    nghttp2_session_del(conn->session);
    conn->session = NULL;
    conn->session_doomed = false;
}

static void gc_conn_slot_free(struct grpc_client_conn *conn)
{
    struct grpc_client *client = conn->client;
    ASSERT(conn->taken && conn->calls.count == 0 && conn->session == NULL && conn->fd < 0);
    free(conn->recv_buf);
    free(conn->send_buf);
    conn->recv_buf = conn->send_buf = NULL;
    conn->taken = false;
    conn->free_next = client->conn_free;
    client->conn_free = conn;
    ASSERT(client->conns_taken > 0);
    client->conns_taken--;
}

static void gc_conn_maybe_free(struct grpc_client_conn *conn)
{
    if (conn->user_closed && conn->fd < 0 && !conn->closing_fd && conn->session == NULL)
        gc_conn_slot_free(conn);
}

static void gc_conn_closed(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res; /* the fd is gone whatever close says */
    (void)flags;
    struct grpc_client_conn *conn = GC_CONTAINER(io, struct grpc_client_conn, close_io);
    conn->closing_fd = false;
    conn->fd = -1;
    gc_conn_maybe_free(conn);
}

static void gc_conn_cancel_all_done(struct io_completion *io, int32_t res, uint32_t flags);

/* Stops all I/O: cancels what is in flight and closes the fd once nothing uses it. Called
 * again by every completion of a stopping connection. */
static void gc_conn_io_stop(struct grpc_client_conn *conn)
{
    conn->stopping = true;
    if (conn->fd < 0 || conn->closing_fd)
        return;
    bool busy = conn->connecting || conn->receiving || conn->sending;
    if (busy && !conn->cancel_all_pending) {
        conn->cancel_all_io.fn = gc_conn_cancel_all_done;
        io_uring_prep_cancel_fd(io_loop_sqe(&conn->client->loop, &conn->cancel_all_io), conn->fd,
                                IORING_ASYNC_CANCEL_ALL);
        conn->cancel_all_pending = true;
    }
    if (busy || conn->cancel_all_pending || conn->cancel_recv_pending)
        return;
    conn->close_io.fn = gc_conn_closed;
    io_uring_prep_close(io_loop_sqe(&conn->client->loop, &conn->close_io), conn->fd);
    conn->closing_fd = true;
}

static void gc_conn_cancel_all_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res; /* how many it found does not matter: each request still completes */
    (void)flags;
    struct grpc_client_conn *conn = GC_CONTAINER(io, struct grpc_client_conn, cancel_all_io);
    conn->cancel_all_pending = false;
    gc_conn_io_stop(conn);
}

/* The connection is over: calls end with status, the session goes, the fd closes. */
static void gc_conn_fail(struct grpc_client_conn *conn, enum grpc_status status, const char *error)
{
    gc_conn_set_error(conn, error);
    conn->broken = true;
    gc_conn_detach_calls(conn, status, conn->error);
    gc_conn_session_release(conn);
    gc_conn_io_stop(conn);
}

/* GOAWAY: no new streams; queued calls fail now, open ones the server kept may still finish
 * (nghttp2 closes the others with REFUSED_STREAM). */
static void gc_conn_goaway(struct grpc_client_conn *conn, const nghttp2_goaway *goaway)
{
    char error[128];
    snprintf(error, sizeof(error), "transport: the server sent GOAWAY (%s)",
             nghttp2_http2_strerror(goaway->error_code));
    conn->goaway = true;
    gc_conn_set_error(conn, error);
    while (conn->queue.head != NULL) /* each pass ends one queued call */
        gc_call_end(conn->queue.head, GRPC_STATUS_UNAVAILABLE, conn->error);
}

/* After every call into the session: work its callbacks could not do. */
static void gc_conn_after_session(struct grpc_client_conn *conn)
{
    ASSERT(conn->in_session == 0);
    if (conn->session_doomed) {
        gc_conn_session_release(conn);
        gc_conn_maybe_free(conn);
        return;
    }
    if (conn->session == NULL)
        return;
    if (conn->pump_wanted)
        gc_conn_pump(conn);
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session)) {
        /* The session has ended: after GOAWAY once its streams are done, or ours after a
         * protocol error. */
        if (conn->sent_goaway)
            gc_conn_fail(conn, GRPC_STATUS_INTERNAL,
                         conn->http2_error[0] != '\0' ? conn->http2_error
                                                      : "transport: http2 protocol error");
        else
            gc_conn_fail(conn, GRPC_STATUS_UNAVAILABLE, "transport: the connection has ended");
    }
}

/* ---- Socket I/O ------------------------------------------------------------------------------ */

static void gc_conn_send_done(struct io_completion *io, int32_t res, uint32_t flags);
static void gc_conn_recv_done(struct io_completion *io, int32_t res, uint32_t flags);

static void gc_conn_send_post(struct grpc_client_conn *conn)
{
    ASSERT(!conn->sending && conn->send_off < conn->send_len && conn->fd >= 0);
    conn->send_io.fn = gc_conn_send_done;
    io_uring_prep_send(io_loop_sqe(&conn->client->loop, &conn->send_io), conn->fd,
                       conn->send_buf + conn->send_off, conn->send_len - conn->send_off,
                       MSG_NOSIGNAL);
    conn->sending = true;
}

/* Moves the session's output into the send buffer and sends it: one send in flight. */
static void gc_conn_flush(struct grpc_client_conn *conn)
{
    if (conn->session == NULL || conn->session_doomed || conn->sending || conn->stopping ||
        conn->in_session > 0)
        return;
    conn->send_off = conn->send_len = 0;
    conn->in_session++;
    int rv = nghttp2_session_send(conn->session);
    conn->in_session--;
    if (rv != 0) {
        char error[128];
        snprintf(error, sizeof(error), "transport: http2: %s", nghttp2_strerror(rv));
        gc_conn_fail(conn, GRPC_STATUS_INTERNAL, error);
        return;
    }
    if (conn->send_len > 0)
        gc_conn_send_post(conn);
    gc_conn_after_session(conn);
}

static void gc_conn_send_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)flags;
    struct grpc_client_conn *conn = GC_CONTAINER(io, struct grpc_client_conn, send_io);
    conn->sending = false;
    if (conn->stopping) {
        gc_conn_io_stop(conn);
        return;
    }
    if (res < 0) {
        char error[128];
        snprintf(error, sizeof(error), "transport: send: %s", strerror(-res));
        gc_conn_fail(conn, GRPC_STATUS_UNAVAILABLE, error);
        return;
    }
    conn->send_off += (size_t)res;
    if (conn->send_off < conn->send_len)
        gc_conn_send_post(conn); /* a short send: the rest first */
    else
        gc_conn_flush(conn);
}

static void gc_conn_recv_maybe(struct grpc_client_conn *conn)
{
    if (conn->stopping || conn->session == NULL || conn->paused || conn->receiving ||
        conn->cancel_recv_pending)
        return;
    conn->recv_io.fn = gc_conn_recv_done;
    io_uring_prep_recv(io_loop_sqe(&conn->client->loop, &conn->recv_io), conn->fd, conn->recv_buf,
                       GRPC_CLIENT_CONN_RECV_BYTES, 0);
    conn->receiving = true;
}

static void gc_conn_feed(struct grpc_client_conn *conn, const uint8_t *data, size_t len)
{
    conn->in_session++;
    ssize_t rv = nghttp2_session_mem_recv(conn->session, data, len);
    conn->in_session--;
    if (rv < 0) {
        char error[128];
        snprintf(error, sizeof(error), "transport: http2: %s", nghttp2_strerror((int)rv));
        gc_conn_fail(conn, GRPC_STATUS_INTERNAL, error);
        return;
    }
    gc_conn_mark_dirty(conn); /* acknowledgements and window updates */
    gc_conn_after_session(conn);
}

static void gc_conn_recv_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)flags;
    struct grpc_client_conn *conn = GC_CONTAINER(io, struct grpc_client_conn, recv_io);
    conn->receiving = false;
    if (conn->stopping) {
        gc_conn_io_stop(conn);
        return;
    }
    if (res > 0) {
        gc_conn_feed(conn, conn->recv_buf, (size_t)res);
    } else if (res == 0) {
        gc_conn_fail(conn, GRPC_STATUS_UNAVAILABLE, "transport: the server closed the connection");
    } else if (res != -ECANCELED) {
        char error[128];
        snprintf(error, sizeof(error), "transport: recv: %s", strerror(-res));
        gc_conn_fail(conn, GRPC_STATUS_UNAVAILABLE, error);
    }
    gc_conn_recv_maybe(conn);
}

static void gc_conn_cancel_recv_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res; /* -ENOENT when the recv had completed already */
    (void)flags;
    struct grpc_client_conn *conn = GC_CONTAINER(io, struct grpc_client_conn, cancel_recv_io);
    conn->cancel_recv_pending = false;
    if (conn->stopping)
        gc_conn_io_stop(conn);
    else
        gc_conn_recv_maybe(conn);
}

/* The session's first output: our SETTINGS and the connection window. */
static int gc_conn_session_start(struct grpc_client_conn *conn)
{
    if (nghttp2_session_client_new(&conn->session, conn->client->callbacks, conn) != 0)
        return -ENOMEM;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GRPC_CLIENT_STREAM_WINDOW_BYTES},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GRPC_CLIENT_HEADER_LIST_BYTES_MAX},
    };
    int rv = nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings,
                                     sizeof(settings) / sizeof(settings[0]));
    if (rv == 0)
        rv = nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0,
                                                   (int32_t)GRPC_CLIENT_CONN_WINDOW_BYTES);
    if (rv != 0) {
        nghttp2_session_del(conn->session);
        conn->session = NULL;
        return -ENOMEM;
    }
    return 0;
}

static void gc_conn_connect_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)flags;
    struct grpc_client_conn *conn = GC_CONTAINER(io, struct grpc_client_conn, connect_io);
    conn->connecting = false;
    if (conn->stopping) {
        gc_conn_io_stop(conn);
        return;
    }
    char error[GRPC_CLIENT_CONN_ERROR_BYTES_MAX];
    if (res < 0) {
        snprintf(error, sizeof(error), "transport: error while dialing %.*s: %s", 160,
                 conn->authority, strerror(-res));
        gc_conn_fail(conn, GRPC_STATUS_UNAVAILABLE, error);
        return;
    }
    if (gc_conn_session_start(conn) < 0) {
        gc_conn_fail(conn, GRPC_STATUS_UNAVAILABLE, "transport: out of memory for a session");
        return;
    }
    conn->state = GRPC_CLIENT_CONN_READY;
    gc_conn_recv_maybe(conn);
    gc_conn_mark_dirty(conn);
}

/* ---- Endpoints --------------------------------------------------------------------------- */

static int gc_endpoint_unix(struct grpc_client_conn *conn, const char *rest)
{
    /* etcd reads "unix://localhost:2379" as the relative path "localhost:2379". */
    const char *path = strncmp(rest, "//", 2) == 0 ? rest + 2 : rest;
    struct sockaddr_un *sun = (struct sockaddr_un *)&conn->addr;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(sun->sun_path))
        return -EINVAL;
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len + 1);
    conn->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    snprintf(conn->authority, sizeof(conn->authority), "localhost");
    return 0;
}

/* Splits "host:port" or "[v6]:port" into host and port text; 0 or -EINVAL. */
static int gc_host_port_split(const char *hp, char *host, size_t host_size, const char **port)
{
    const char *colon;
    const char *host_start = hp;
    size_t host_len;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (close == NULL || close[1] != ':')
            return -EINVAL;
        host_start = hp + 1;
        host_len = (size_t)(close - host_start);
        colon = close + 1;
    } else {
        colon = strchr(hp, ':');
        if (colon == NULL || strchr(colon + 1, ':') != NULL)
            return -EINVAL;
        host_len = (size_t)(colon - hp);
    }
    *port = colon + 1;
    size_t port_len = strlen(*port);
    if (host_len == 0 || host_len >= host_size || port_len == 0 || port_len > 5 ||
        strspn(*port, "0123456789") != port_len || atoi(*port) < 1 || atoi(*port) > 65535)
        return -EINVAL;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    return 0;
}

/* Resolves host:port (blocking). Returns 0, -EINVAL, or 1 when the name does not resolve. */
static int gc_endpoint_tcp(struct grpc_client_conn *conn, const char *hp)
{
    char host[GRPC_CLIENT_AUTHORITY_BYTES_MAX];
    const char *port;
    if (strlen(hp) >= sizeof(conn->authority) ||
        gc_host_port_split(hp, host, sizeof(host), &port) < 0)
        return -EINVAL;
    snprintf(conn->authority, sizeof(conn->authority), "%s", hp);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int err = getaddrinfo(host, port, &hints, &res);
    if (err != 0) {
        snprintf(conn->error, sizeof(conn->error), "transport: cannot resolve %.160s: %s", host,
                 gai_strerror(err));
        return 1;
    }
    ASSERT(res->ai_addrlen <= sizeof(conn->addr));
    memcpy(&conn->addr, res->ai_addr, res->ai_addrlen);
    conn->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int gc_endpoint_parse(struct grpc_client_conn *conn, const char *endpoint)
{
    if (strncmp(endpoint, "unix:", 5) == 0)
        return gc_endpoint_unix(conn, endpoint + 5);
    if (strncmp(endpoint, "http://", 7) == 0)
        endpoint += 7;
    else if (strstr(endpoint, "://") != NULL)
        return -EINVAL; /* https and anything else: no TLS here */
    return gc_endpoint_tcp(conn, endpoint);
}

/* ---- Client ---------------------------------------------------------------------------------- */

static int gc_client_alloc(struct grpc_client *client)
{
    client->calls = calloc(client->calls_max, sizeof(*client->calls));
    client->conns = calloc(client->conns_max, sizeof(*client->conns));
    client->arena.base = malloc(GRPC_CLIENT_DECODE_RETAIN_BYTES);
    if (client->calls == NULL || client->conns == NULL || client->arena.base == NULL ||
        timer_heap_init(&client->deadlines, client->calls_max) != 0)
        return -ENOMEM;
    for (uint32_t i = client->calls_max; i-- > 0;) {
        struct grpc_client_call *c = &client->calls[i];
        c->client = client;
        c->next = client->call_free;
        client->call_free = c;
    }
    for (uint32_t i = client->conns_max; i-- > 0;) {
        struct grpc_client_conn *conn = &client->conns[i];
        conn->client = client;
        conn->fd = -1;
        conn->free_next = client->conn_free;
        client->conn_free = conn;
    }
    client->allocator = (ProtobufCAllocator){
        .alloc = gc_arena_alloc, .free = gc_arena_free, .allocator_data = &client->arena};
    return gc_callbacks_new(&client->callbacks);
}

static void gc_client_free(struct grpc_client *client)
{
    if (client->calls != NULL) {
        for (uint32_t i = 0; i < client->calls_max; i++) {
            free(client->calls[i].send.data);
            free(client->calls[i].recv.data);
        }
    }
    if (client->callbacks != NULL)
        nghttp2_session_callbacks_del(client->callbacks);
    gc_arena_reset(&client->arena);
    free(client->arena.base);
    free(client->calls);
    timer_heap_destroy(&client->deadlines);
    free(client->conns);
    free(client);
}

int grpc_client_create(const struct grpc_client_config *config, struct grpc_client **out)
{
    uint32_t calls_max = config->calls_max != 0 ? config->calls_max : GRPC_CLIENT_CALLS_DEFAULT;
    uint32_t conns_max = config->conns_max != 0 ? config->conns_max : 64;
    if (calls_max > GRPC_CLIENT_CALLS_MAX || conns_max > GRPC_CLIENT_CONNS_MAX)
        return -EINVAL;
    struct grpc_client *client = calloc(1, sizeof(*client));
    if (client == NULL)
        return -ENOMEM;
    client->calls_max = calls_max;
    client->conns_max = conns_max;
    int err = gc_client_alloc(client);
    if (err < 0) {
        gc_client_free(client);
        return err;
    }
    err = io_loop_init(&client->loop, LOOP_SQ_ENTRIES);
    if (err < 0) {
        gc_client_free(client);
        return err;
    }
    err = io_loop_attach(&client->loop);
    if (err < 0) {
        io_loop_destroy(&client->loop);
        gc_client_free(client);
        return err;
    }
    *out = client;
    return 0;
}

/* Ends the connection's calls with status, drops its session and stops its I/O. */
static void gc_conn_shut(struct grpc_client_conn *conn, enum grpc_status status,
                         const char *message)
{
    conn->broken = true;
    gc_conn_detach_calls(conn, status, message);
    ASSERT(conn->queue.count == 0 && conn->calls.count == 0);
    gc_conn_session_release(conn);
    gc_conn_io_stop(conn);
}

void grpc_client_destroy(struct grpc_client *client)
{
    ASSERT(!client->running);
    for (uint32_t i = 0; i < client->conns_max; i++) {
        struct grpc_client_conn *conn = &client->conns[i];
        if (conn->taken && !conn->user_closed)
            grpc_client_conn_close(conn);
    }
    gc_run_done(client);
    uint64_t end_ns = gc_now_ns() + (uint64_t)GRPC_CLIENT_DESTROY_WAIT_MS * 1000000u;
    /* Every request was cancelled, so each completes soon; the bound catches a bug. */
    while (client->conns_taken > 0) {
        ASSERT(gc_now_ns() < end_ns);
        int n = io_loop_turn(&client->loop, true, 100 * 1000000u);
        ASSERT(n >= 0);
    }
    ASSERT(client->calls_in_use == 0 && client->done_head == NULL);
    io_loop_destroy(&client->loop);
    gc_client_free(client);
}

/* ---- Connections ---------------------------------------------------------------------------- */

static int gc_conn_socket_start(struct grpc_client_conn *conn)
{
    int fd = socket(conn->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (conn->addr.ss_family != AF_UNIX) {
        int one = 1; /* requests are small and latency matters more than packet count */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    conn->fd = fd;
    conn->connect_io.fn = gc_conn_connect_done;
    io_uring_prep_connect(io_loop_sqe(&conn->client->loop, &conn->connect_io), fd,
                          (struct sockaddr *)&conn->addr, conn->addr_len);
    conn->connecting = true;
    return 0;
}

static void gc_conn_reset(struct grpc_client_conn *conn)
{
    struct grpc_client *client = conn->client;
    struct grpc_client_conn *dirty_next = conn->dirty_next;
    bool dirty = conn->dirty;
    *conn = (struct grpc_client_conn){.client = client, .fd = -1};
    /* A slot may still sit in the dirty list from its previous life. */
    conn->dirty = dirty;
    conn->dirty_next = dirty_next;
    conn->state = GRPC_CLIENT_CONN_CONNECTING;
    conn->taken = true;
}

int grpc_client_connect(struct grpc_client *client, const char *endpoint,
                        struct grpc_client_conn **out)
{
    struct grpc_client_conn *conn = client->conn_free;
    if (conn == NULL)
        return -RINGD_EFULL;
    client->conn_free = conn->free_next;
    client->conns_taken++;
    gc_conn_reset(conn);
    conn->recv_buf = malloc(GRPC_CLIENT_CONN_RECV_BYTES);
    conn->send_buf = malloc(GRPC_CLIENT_CONN_SEND_BYTES);
    int err = conn->recv_buf == NULL || conn->send_buf == NULL ? -ENOMEM
                                                               : gc_endpoint_parse(conn, endpoint);
    if (err == 1) {
        /* A name that does not resolve is a connection that cannot be made. */
        conn->state = GRPC_CLIENT_CONN_FAILED;
        conn->broken = true;
        err = 0;
    } else if (err == 0) {
        err = gc_conn_socket_start(conn);
    }
    if (err < 0) {
        conn->user_closed = true;
        gc_conn_slot_free(conn);
        return err;
    }
    *out = conn;
    return 0;
}

void grpc_client_conn_close(struct grpc_client_conn *conn)
{
    ASSERT(conn->taken && !conn->user_closed);
    conn->user_closed = true;
    gc_conn_shut(conn, GRPC_STATUS_CANCELLED, GC_MSG_CLOSING);
    gc_conn_maybe_free(conn);
}

void grpc_client_conn_pause(struct grpc_client_conn *conn, bool paused)
{
    ASSERT(conn->taken && !conn->user_closed);
    conn->paused = paused;
    if (!paused) {
        gc_conn_recv_maybe(conn);
        return;
    }
    if (conn->receiving && !conn->cancel_recv_pending && !conn->stopping) {
        conn->cancel_recv_io.fn = gc_conn_cancel_recv_done;
        io_uring_prep_cancel(io_loop_sqe(&conn->client->loop, &conn->cancel_recv_io),
                             &conn->recv_io, 0);
        conn->cancel_recv_pending = true;
    }
}

void grpc_client_conn_info(const struct grpc_client_conn *conn, struct grpc_client_conn_info *out)
{
    ASSERT(conn->taken);
    *out = (struct grpc_client_conn_info){
        .state = conn->state,
        .error = conn->error,
        .streams_open = conn->streams_open,
        .streams_open_peak = conn->streams_open_peak,
        .calls_queued = conn->queue.count,
        .peer_streams_max = conn->peer_streams_max,
        .goaway = conn->goaway,
    };
}

struct grpc_client *grpc_client_conn_client(const struct grpc_client_conn *conn)
{
    return conn->client;
}

uint32_t grpc_client_calls_in_use(const struct grpc_client *client)
{
    return client->calls_in_use;
}

/* ---- Starting calls ---------------------------------------------------------------------- */

static bool gc_metadata_valid(const struct grpc_client_metadata *m)
{
    size_t name_len = strlen(m->name);
    if (name_len == 0 || strspn(m->name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != name_len)
        return false;
    /* The transport's own headers are not the caller's to set. */
    if (strncmp(m->name, "grpc-", 5) == 0 || strcmp(m->name, "te") == 0 ||
        strcmp(m->name, "content-type") == 0 || strcmp(m->name, "user-agent") == 0)
        return false;
    for (const char *v = m->value; *v != '\0'; v++) {
        if ((unsigned char)*v < 0x20 || (unsigned char)*v == 0x7f)
            return false;
    }
    return true;
}

/* Copies text into the call's header store. */
static bool gc_call_store(struct grpc_client_call *c, size_t *used, const char *text,
                          struct gc_span *span)
{
    size_t len = strlen(text);
    if (len > sizeof(c->headers) - *used)
        return false;
    memcpy(c->headers + *used, text, len);
    *span = (struct gc_span){.off = (uint16_t)*used, .len = (uint16_t)len};
    *used += len;
    return true;
}

static int gc_call_copy_headers(struct grpc_client_call *c, const struct grpc_client_request *r)
{
    size_t used = 0;
    for (const char *p = r->path; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            return -EINVAL;
    }
    if (!gc_call_store(c, &used, r->path, &c->path))
        return -EINVAL;
    for (uint32_t i = 0; i < r->metadata_count; i++) {
        const struct grpc_client_metadata *m = &r->metadata[i];
        if (m->name == NULL || m->value == NULL || !gc_metadata_valid(m) ||
            !gc_call_store(c, &used, m->name, &c->metadata[i][0]) ||
            !gc_call_store(c, &used, m->value, &c->metadata[i][1]))
            return -EINVAL;
    }
    c->metadata_count = r->metadata_count;
    return 0;
}

/* Appends one framed message (prefix and packed bytes) to the call's send buffer. */
static int gc_call_frame(struct grpc_client_call *c, const ProtobufCMessage *message,
                         const uint8_t *bytes, size_t len)
{
    int err = gc_buf_reserve(&c->send, GRPC_PREFIX_BYTES + len, GC_SEND_BUFFER_MAX);
    if (err < 0)
        return err == -EMSGSIZE ? -RINGD_EFULL : err;
    uint8_t *p = c->send.data + c->send.len;
    grpc_prefix_write(p, GRPC_PREFIX_PLAIN, (uint32_t)len);
    if (message != NULL) {
        size_t packed = protobuf_c_message_pack(message, p + GRPC_PREFIX_BYTES);
        ASSERT(packed == len);
    } else if (len > 0) {
        memcpy(p + GRPC_PREFIX_BYTES, bytes, len);
    }
    c->send.len += GRPC_PREFIX_BYTES + len;
    return 0;
}

static int gc_request_check(const struct grpc_client_request *r, bool unary, size_t *len)
{
    if (r->path == NULL || r->path[0] != '/' || r->metadata_count > GRPC_CLIENT_METADATA_MAX ||
        (r->metadata_count > 0 && r->metadata == NULL) || (r->bytes == NULL && r->bytes_len > 0))
        return -EINVAL;
    if (unary && r->message == NULL && r->bytes == NULL)
        return -EINVAL;
    *len = r->message != NULL ? protobuf_c_message_get_packed_size(r->message) : r->bytes_len;
    if (*len > GRPC_CLIENT_SEND_MESSAGE_BYTES_MAX)
        return -EMSGSIZE;
    return 0;
}

static struct grpc_client_call *gc_call_take(struct grpc_client *client)
{
    struct grpc_client_call *c = client->call_free;
    if (c == NULL)
        return NULL;
    ASSERT(c->state == GC_CALL_FREE && c->send.len == 0 && c->recv.len == 0);
    client->call_free = c->next;
    client->calls_in_use++;
    c->next = NULL;
    c->unary = c->has_stream = c->send_closed = c->has_response = c->have_status = false;
    c->stream_id = 0;
    c->deadline_ns = 0;
    c->prefix_len = c->message_len = c->header_list_bytes = c->http_status = 0;
    c->status = GRPC_STATUS_OK;
    c->message[0] = '\0';
    return c;
}

static void gc_call_put_back(struct grpc_client_call *c)
{
    c->state = GC_CALL_DONE;
    gc_call_release(c);
}

static void gc_call_deadline_fire(struct timer *t, uint64_t now_ns)
{
    (void)now_ns;
    struct grpc_client_call *c =
        (struct grpc_client_call *)((char *)t - offsetof(struct grpc_client_call, deadline));
    gc_call_abort(c, GRPC_STATUS_DEADLINE_EXCEEDED, GC_MSG_DEADLINE);
}

/* Binds a prepared call to its connection: queued, opened at once when a slot is free, or
 * failed at once on a connection that cannot take it. */
static void gc_call_bind(struct grpc_client_conn *conn, struct grpc_client_call *c,
                         uint32_t timeout_ms)
{
    c->conn = conn;
    gc_list_push(&conn->calls, c, GC_CONN_LINK);
    c->state = GC_CALL_QUEUED;
    gc_list_push(&conn->queue, c, GC_QUEUE_LINK);
    if (timeout_ms != 0) {
        c->deadline_ns = gc_now_ns() + (uint64_t)timeout_ms * 1000000u;
        int err = timer_arm(&conn->client->deadlines, &c->deadline, c->deadline_ns,
                            gc_call_deadline_fire);
        ASSERT(err == 0); /* the heap has room for every call of the pool */
    }
    if (conn->state == GRPC_CLIENT_CONN_FAILED)
        gc_call_end(c, GRPC_STATUS_UNAVAILABLE, conn->error);
    else
        gc_conn_pump(conn);
}

static int gc_call_start(struct grpc_client_conn *conn, const struct grpc_client_request *r,
                         bool unary, struct grpc_client_call **out)
{
    ASSERT(conn->taken && !conn->user_closed);
    size_t len;
    int err = gc_request_check(r, unary, &len);
    if (err < 0)
        return err;
    if (conn->queue.count >= GRPC_CLIENT_CONN_QUEUED_MAX)
        return -RINGD_EFULL;
    struct grpc_client_call *c = gc_call_take(conn->client);
    if (c == NULL)
        return -RINGD_EFULL;
    err = gc_call_copy_headers(c, r);
    if (err == 0 && (r->message != NULL || r->bytes != NULL))
        err = gc_call_frame(c, r->message, r->bytes, len);
    if (err < 0) {
        gc_call_put_back(c);
        return err;
    }
    c->unary = unary;
    c->send_closed = unary;
    c->response = r->response;
    *out = c;
    return 0;
}

int grpc_client_unary(struct grpc_client_conn *conn, const struct grpc_client_request *request,
                      struct grpc_client_call **call_out, void *arg, grpc_client_done_fn done)
{
    ASSERT(done != NULL);
    struct grpc_client_call *c;
    int err = gc_call_start(conn, request, true, &c);
    if (err < 0)
        return err;
    c->arg = arg;
    c->done = done;
    c->on_message = NULL;
    gc_call_bind(conn, c, request->timeout_ms);
    if (call_out != NULL)
        *call_out = c;
    return 0;
}

int grpc_client_stream_open(struct grpc_client_conn *conn,
                            const struct grpc_client_request *request,
                            struct grpc_client_call **call_out, void *arg,
                            grpc_client_message_fn on_message, grpc_client_done_fn done)
{
    ASSERT(done != NULL && on_message != NULL && call_out != NULL);
    struct grpc_client_call *c;
    int err = gc_call_start(conn, request, false, &c);
    if (err < 0)
        return err;
    c->arg = arg;
    c->done = done;
    c->on_message = on_message;
    *call_out = c;
    gc_call_bind(conn, c, request->timeout_ms);
    return 0;
}

/* ---- Streams ------------------------------------------------------------------------------- */

/* New request bytes or a half-close: tell the session the stream has something to send. */
static void gc_call_send_wake(struct grpc_client_call *c)
{
    struct grpc_client_conn *conn = c->conn;
    if (c->state != GC_CALL_OPEN || conn->session == NULL || conn->session_doomed)
        return;
    /* Fails when the stream's data is not deferred (already scheduled): nothing to do then. */
    (void)nghttp2_session_resume_data(conn->session, c->stream_id);
    gc_conn_mark_dirty(conn);
}

static int gc_stream_queue(struct grpc_client_call *c, const ProtobufCMessage *message,
                           const uint8_t *bytes, size_t len)
{
    ASSERT(c->state != GC_CALL_FREE);
    if (c->send_closed || (c->state != GC_CALL_QUEUED && c->state != GC_CALL_OPEN))
        return -EPIPE;
    if (len > GRPC_CLIENT_SEND_MESSAGE_BYTES_MAX)
        return -EMSGSIZE;
    size_t unsent = c->send.len - c->send.off;
    if (unsent > 0 && unsent + GRPC_PREFIX_BYTES + len > GRPC_CLIENT_STREAM_SEND_BYTES_MAX)
        return -RINGD_EFULL;
    int err = gc_call_frame(c, message, bytes, len);
    if (err < 0)
        return err;
    gc_call_send_wake(c);
    return 0;
}

int grpc_client_stream_send(struct grpc_client_call *call, const ProtobufCMessage *message)
{
    ASSERT(message != NULL);
    return gc_stream_queue(call, message, NULL, protobuf_c_message_get_packed_size(message));
}

int grpc_client_stream_send_bytes(struct grpc_client_call *call, const uint8_t *bytes, size_t len)
{
    if (bytes == NULL && len > 0)
        return -EINVAL;
    return gc_stream_queue(call, NULL, bytes, len);
}

void grpc_client_stream_close_send(struct grpc_client_call *call)
{
    ASSERT(call->state != GC_CALL_FREE);
    if (call->send_closed)
        return;
    call->send_closed = true;
    gc_call_send_wake(call);
}

void grpc_client_call_cancel(struct grpc_client_call *call)
{
    ASSERT(call->state != GC_CALL_FREE);
    gc_call_abort(call, GRPC_STATUS_CANCELLED, GC_MSG_CANCELED);
}

/* ---- The loop ------------------------------------------------------------------------------ */

static void gc_flush_dirty(struct grpc_client *client)
{
    struct grpc_client_conn *conn = client->dirty_head;
    client->dirty_head = NULL;
    while (conn != NULL) { /* each connection is in the list once: at most conns_max */
        struct grpc_client_conn *next = conn->dirty_next;
        conn->dirty = false;
        conn->dirty_next = NULL;
        if (conn->taken)
            gc_conn_flush(conn);
        conn = next;
    }
}

/* How long the turn may sleep: not at all with work waiting, never past the next deadline. */
static uint64_t gc_wait_ns(struct grpc_client *client, uint64_t timeout_ns)
{
    if (client->done_head != NULL || client->dirty_head != NULL)
        return 0;
    uint64_t wait_ns = timeout_ns;
    uint64_t deadline_ns = timer_next_deadline_ns(&client->deadlines);
    if (deadline_ns != UINT64_MAX) {
        uint64_t now_ns = gc_now_ns();
        uint64_t until_ns = deadline_ns > now_ns ? deadline_ns - now_ns : 0;
        wait_ns = until_ns < wait_ns ? until_ns : wait_ns;
    }
    return wait_ns;
}

int grpc_client_run_once(struct grpc_client *client, uint32_t timeout_ms)
{
    return grpc_client_run_once_ns(client, (uint64_t)timeout_ms * 1000000u);
}

int grpc_client_run_once_ns(struct grpc_client *client, uint64_t timeout_ns)
{
    ASSERT(!client->running); /* not from a callback */
    client->running = true;
    gc_flush_dirty(client);
    uint64_t wait_ns = gc_wait_ns(client, timeout_ns);
    int n = io_loop_turn(&client->loop, wait_ns > 0, wait_ns);
    if (n >= 0) {
        n += (int)timer_expire(&client->deadlines, gc_now_ns());
        n += (int)gc_run_done(client);
    }
    client->running = false;
    return n;
}

int grpc_client_run_until(struct grpc_client *client, uint32_t timeout_ms, void *arg,
                          bool (*until)(void *arg))
{
    uint64_t end_ns = gc_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) { /* bounded by the time-out */
        if (until(arg))
            return 0;
        uint64_t now_ns = gc_now_ns();
        if (now_ns >= end_ns)
            return -ETIMEDOUT;
        uint64_t left_ms = (end_ns - now_ns + 999999u) / 1000000u;
        int n = grpc_client_run_once(client, (uint32_t)left_ms);
        if (n < 0)
            return n;
    }
}

/* ---- Blocking unary calls ------------------------------------------------------------------ */

struct gc_sync {
    bool done;
    const ProtobufCMessageDescriptor *descriptor;
    struct grpc_client_reply reply;
};

static void gc_sync_done(void *arg, const struct grpc_client_result *result)
{
    struct gc_sync *s = arg;
    s->done = true;
    s->reply.status = result->status;
    snprintf(s->reply.message, sizeof(s->reply.message), "%s", result->message);
    if (result->status != GRPC_STATUS_OK || s->descriptor == NULL)
        return;
    /* Decoded again with protobuf-c's own allocator: the caller keeps it. */
    s->reply.response = protobuf_c_message_unpack(s->descriptor, NULL, result->response.len,
                                                  result->response.bytes);
    if (s->reply.response == NULL) {
        s->reply.status = GRPC_STATUS_INTERNAL;
        snprintf(s->reply.message, sizeof(s->reply.message),
                 "grpc: failed to unmarshal the received message");
    }
}

static bool gc_sync_is_done(void *arg)
{
    return ((struct gc_sync *)arg)->done;
}

int grpc_client_unary_sync(struct grpc_client_conn *conn, const struct grpc_client_request *request,
                           uint32_t wait_ms, struct grpc_client_reply *reply)
{
    struct grpc_client *client = conn->client;
    ASSERT(!client->running);
    struct grpc_client_request raw = *request;
    raw.response = NULL; /* decoded in gc_sync_done, where the caller's copy is made */
    struct gc_sync s = {.descriptor = request->response};
    struct grpc_client_call *call;
    int err = grpc_client_unary(conn, &raw, &call, &s, gc_sync_done);
    if (err < 0)
        return err;
    err = grpc_client_run_until(client, wait_ms, &s, gc_sync_is_done);
    if (!s.done) {
        /* Timed out or the ring failed: end the call here so no callback outlives s. */
        gc_call_abort(call, GRPC_STATUS_DEADLINE_EXCEEDED, GC_MSG_DEADLINE);
        client->running = true; /* the callbacks that run here may not run the loop either */
        gc_run_done(client);
        client->running = false;
        ASSERT(s.done);
    }
    if (err < 0 && err != -ETIMEDOUT) {
        grpc_client_reply_free(&s.reply);
        return err;
    }
    *reply = s.reply;
    return 0;
}

void grpc_client_reply_free(struct grpc_client_reply *reply)
{
    if (reply->response != NULL)
        protobuf_c_message_free_unpacked(reply->response, NULL);
    reply->response = NULL;
}
