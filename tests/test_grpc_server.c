/* The gRPC server session (net/grpc_server.c, grpc_call.c) driven purely by bytes: an nghttp2
 * client lives in memory next to the session, a pump moves bytes both ways, time is a variable,
 * and handlers are the test's own. Answers are checked as grpc-go 1.33 (etcd 3.4.23) gives
 * them: statuses, texts and the frames on the wire, which a small parser records as the
 * server writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "etcdserverpb/rpc.pb-c.h"
#include "grpc_call.h"
#include "grpc_frame.h"
#include "grpc_method.h"
#include "grpc_server.h"
#include "ringd_error.h"
#include "ringd_limits.h"

#define NS_PER_MS     1000000ull
#define NS_PER_S      1000000000ull
#define T_START_NS    (1000 * NS_PER_S) /* the test clock's start: far from 0 */
#define T_STREAMS_MAX 32
#define T_FRAMES_MAX  1024 /* frames the wire log keeps (it counts them all) */
#define T_HELD_MAX    16
#define T_PUMP_ROUNDS 100000
#define T_READ_BYTES  16384 /* what the driver reads per feed, like a shard's receive buffer */
#define T_FRAME_BYTES (9 + 16384)
#define T_MESSAGE_MAX 1024
#define T_IDLE_MAX    (16u << 10) /* the project's goal for an idle connection */
/* nghttp2 (1.52) gives every session a 16 KiB outbound frame buffer when it is created and
 * keeps it for the session's life (NGHTTP2_FRAMEBUF_CHUNKLEN: a frame header, a pad byte and
 * the largest payload). No option shrinks it, so until nghttp2 can free it between writes the
 * goal above is out of reach: the idle bound checked is the goal plus that buffer. */
#define T_NGHTTP2_FRAMEBUF_BYTES (9 + 1 + 16384)
#define ETCD_REQ_BYTES           1572864 /* etcd's default --max-request-bytes */

/* A growable byte buffer (test-side only). */
struct t_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

static void t_buf_append(struct t_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

static void t_buf_consume(struct t_buf *b, size_t n)
{
    assert_true(n <= b->len);
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

/* One client stream: what the client sends, and what it got back. */
struct t_stream {
    int32_t id;
    struct t_buf send;
    size_t send_off;
    bool send_eof;
    bool deferred;
    size_t chunk_max; /* bytes per DATA frame at most; 0: as many as nghttp2 allows */
    uint32_t data_frames_sent;

    int headers_frames;
    int http_status;
    char content_type[96];
    int grpc_status; /* -1: none */
    bool has_grpc_message;
    char grpc_message[T_MESSAGE_MAX]; /* percent-decoded */
    bool trailers_only;
    struct t_buf data;
    bool closed;
    uint32_t close_code;
};

/* One frame the server wrote, as the wire parser saw it. */
struct t_frame {
    uint8_t type;
    uint8_t flags;
    int32_t stream_id;
    uint32_t length;
    uint32_t code; /* RST_STREAM and GOAWAY: the error code */
};

struct h {
    nghttp2_session *client;
    struct grpc_server *server;
    uint64_t now_ns;

    struct t_buf c2s; /* client output the server has not read yet: the socket */
    bool bytewise;    /* feed one byte at a time */
    bool server_gone; /* a feed failed: the driver reads no more */
    int feed_rc;      /* the first failing feed's result */
    bool client_reading;

    /* Server output on the wire. */
    uint8_t wire[T_FRAME_BYTES];
    size_t wire_have;
    struct t_frame frames[T_FRAMES_MAX];
    uint32_t frames_count;
    uint32_t settings_frames;
    uint32_t wire_max_streams;
    uint32_t wire_window;
    uint32_t goaways;
    uint32_t goaway_code;
    int32_t goaway_last_stream;
    char goaway_debug[64];
    uint32_t pings; /* PINGs (not acks) from the server */

    bool client_sent_goaway; /* the client found the server breaking HTTP/2 */
    uint32_t hook_calls;
    size_t hook_pending; /* pending output when the hook last ran */

    struct t_stream streams[T_STREAMS_MAX];
    uint32_t streams_count;
};

/* What the test handlers saw. */
static struct {
    uint32_t unary;
    struct grpc_call *held[T_HELD_MAX];
    uint32_t held_count;
    uint32_t cancels;
    struct grpc_call *cancelled;
    uint32_t echoed;
    uint32_t half_closes;
    bool token_seen;
    char token[128];
    uint32_t flood_sent;
    int flood_rc;
    uint64_t deadline_ns;
} hs;

/* Test handlers. */

static void t_hold(struct grpc_call *call)
{
    assert_true(hs.held_count < T_HELD_MAX);
    hs.held[hs.held_count++] = call;
    hs.deadline_ns = grpc_call_deadline_ns(call);
}

/* Takes the held call i away from the handler state (it is answered next). */
static struct grpc_call *t_take_held(uint32_t i)
{
    assert_true(i < hs.held_count);
    struct grpc_call *c = hs.held[i];
    assert_non_null(c);
    hs.held[i] = NULL;
    return c;
}

static void t_on_cancel(struct grpc_call *call)
{
    hs.cancels++;
    hs.cancelled = call;
    for (uint32_t i = 0; i < hs.held_count; i++) {
        if (hs.held[i] == call)
            hs.held[i] = NULL;
    }
}

/* Range -> Range: count is the key's length, the header's revision the request's limit. */
static void t_range_reply(struct grpc_call *call, const Etcdserverpb__RangeRequest *req)
{
    Etcdserverpb__ResponseHeader header = ETCDSERVERPB__RESPONSE_HEADER__INIT;
    header.revision = req->limit;
    Etcdserverpb__RangeResponse resp = ETCDSERVERPB__RANGE_RESPONSE__INIT;
    resp.header = &header;
    resp.count = (int64_t)req->key.len;
    resp.more = true;
    grpc_call_reply(call, &resp.base);
}

static void t_unary(struct grpc_call *call, const ProtobufCMessage *request)
{
    hs.unary++;
    t_range_reply(call, (const Etcdserverpb__RangeRequest *)request);
}

static void t_later(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    t_hold(call);
}

static void t_echo(struct grpc_call *call, const ProtobufCMessage *request)
{
    hs.echoed++;
    assert_int_equal(grpc_call_send(call, request), 0);
}

static void t_echo_half_close(struct grpc_call *call)
{
    hs.half_closes++;
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

/* Sends 16 KiB messages until the stream's bound says no; keeps the call. */
static void t_flood(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    static uint8_t value[16384];
    Etcdserverpb__PutRequest m = ETCDSERVERPB__PUT_REQUEST__INIT;
    m.value.data = value;
    m.value.len = sizeof value;
    t_hold(call);
    for (uint32_t i = 0; i < 100000; i++) {
        int rc = grpc_call_send(call, &m.base);
        if (rc != 0) {
            hs.flood_rc = rc;
            return;
        }
        hs.flood_sent++;
    }
}

static void t_meta(struct grpc_call *call, const ProtobufCMessage *request)
{
    const char *token = grpc_call_metadata(call, "token");
    hs.token_seen = token != NULL;
    if (token != NULL)
        snprintf(hs.token, sizeof hs.token, "%s", token);
    t_range_reply(call, (const Etcdserverpb__RangeRequest *)request);
}

/* Server streaming: three responses, then OK. */
static void t_list(struct grpc_call *call, const ProtobufCMessage *request)
{
    const Etcdserverpb__RangeRequest *req = (const Etcdserverpb__RangeRequest *)request;
    for (int i = 0; i < 3; i++) {
        Etcdserverpb__RangeResponse resp = ETCDSERVERPB__RANGE_RESPONSE__INIT;
        resp.count = req->limit + i;
        assert_int_equal(grpc_call_send(call, &resp.base), 0);
    }
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

#define T_SERVICE "ringdtest.Test"
#define T_METHOD(name_, req, resp, kind_, ...)                                        \
    {                                                                                 \
        .path = "/" T_SERVICE "/" #name_, .service = T_SERVICE, .name = #name_,       \
        .request = &etcdserverpb__##req##__descriptor,                                \
        .response = &etcdserverpb__##resp##__descriptor, .kind = (kind_), __VA_ARGS__ \
    }

static const struct grpc_method t_method_table[] = {
    T_METHOD(Unary, range_request, range_response, GRPC_UNARY, .on_message = t_unary),
    T_METHOD(Later, range_request, range_response, GRPC_UNARY, .on_message = t_later,
             .on_cancel = t_on_cancel),
    T_METHOD(Echo, put_request, put_request, GRPC_BIDI_STREAM, .on_message = t_echo,
             .on_half_close = t_echo_half_close, .on_cancel = t_on_cancel),
    T_METHOD(Flood, put_request, put_request, GRPC_BIDI_STREAM, .on_message = t_flood,
             .on_cancel = t_on_cancel),
    T_METHOD(Meta, range_request, range_response, GRPC_UNARY, .on_message = t_meta),
    T_METHOD(List, range_request, range_response, GRPC_SERVER_STREAM, .on_message = t_list),
};

static const struct grpc_method_set t_methods = {
    .methods = t_method_table,
    .count = sizeof t_method_table / sizeof t_method_table[0],
};

/* The wire: frames the server wrote. */

static uint32_t be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void t_wire_settings(struct h *h, const uint8_t *p, uint32_t len)
{
    h->settings_frames++;
    for (uint32_t i = 0; i + 6 <= len; i += 6) {
        uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
        if (id == NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
            h->wire_max_streams = be32(p + i + 2);
        if (id == NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE)
            h->wire_window = be32(p + i + 2);
    }
}

static void t_wire_frame(struct h *h, const uint8_t *f)
{
    struct t_frame fr = {.type = f[3],
                         .flags = f[4],
                         .stream_id = (int32_t)(be32(f + 5) & 0x7fffffffu),
                         .length = be24(f)};
    const uint8_t *p = f + 9;
    if (fr.type == NGHTTP2_RST_STREAM && fr.length == 4)
        fr.code = be32(p);
    if (fr.type == NGHTTP2_SETTINGS && (fr.flags & NGHTTP2_FLAG_ACK) == 0)
        t_wire_settings(h, p, fr.length);
    if (fr.type == NGHTTP2_PING && (fr.flags & NGHTTP2_FLAG_ACK) == 0)
        h->pings++;
    if (fr.type == NGHTTP2_GOAWAY && fr.length >= 8) {
        fr.code = be32(p + 4);
        h->goaways++;
        h->goaway_code = fr.code;
        h->goaway_last_stream = (int32_t)(be32(p) & 0x7fffffffu);
        size_t n =
            fr.length - 8 < sizeof h->goaway_debug - 1 ? fr.length - 8 : sizeof h->goaway_debug - 1;
        memcpy(h->goaway_debug, p + 8, n);
        h->goaway_debug[n] = '\0';
    }
    if (h->frames_count < T_FRAMES_MAX)
        h->frames[h->frames_count] = fr;
    h->frames_count++;
}

static void t_wire_parse(struct h *h, const uint8_t *d, size_t n)
{
    while (n > 0) {
        size_t need = 9;
        if (h->wire_have >= 9)
            need = 9 + be24(h->wire);
        assert_true(need <= sizeof h->wire); /* the server keeps to the client's frame size */
        size_t take = need - h->wire_have < n ? need - h->wire_have : n;
        memcpy(h->wire + h->wire_have, d, take);
        h->wire_have += take;
        d += take;
        n -= take;
        if (h->wire_have >= 9 && h->wire_have == 9 + be24(h->wire)) {
            t_wire_frame(h, h->wire);
            h->wire_have = 0;
        }
    }
}

/* The frames of one stream as text: H (HEADERS), D (DATA), D0 (empty DATA), $ for END_STREAM,
 * R<code> (RST_STREAM); comma-separated. WINDOW_UPDATEs are left out. */
static const char *t_frames_of(const struct h *h, int32_t stream_id, char *out, size_t cap)
{
    assert_true(h->frames_count <= T_FRAMES_MAX);
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < h->frames_count; i++) {
        const struct t_frame *f = &h->frames[i];
        if (f->stream_id != stream_id || f->type == NGHTTP2_WINDOW_UPDATE)
            continue;
        char tok[24];
        bool es = (f->flags & NGHTTP2_FLAG_END_STREAM) != 0;
        if (f->type == NGHTTP2_HEADERS)
            snprintf(tok, sizeof tok, "H%s", es ? "$" : "");
        else if (f->type == NGHTTP2_DATA)
            snprintf(tok, sizeof tok, "D%s%s", f->length == 0 ? "0" : "", es ? "$" : "");
        else if (f->type == NGHTTP2_RST_STREAM)
            snprintf(tok, sizeof tok, "R%u", f->code);
        else
            snprintf(tok, sizeof tok, "?%u", f->type);
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n > 0 ? "," : "", tok);
        assert_true(n < cap);
    }
    return out;
}

static void t_assert_frames(const struct h *h, const struct t_stream *st, const char *want)
{
    char have[512];
    assert_string_equal(t_frames_of(h, st->id, have, sizeof have), want);
}

/* The nghttp2 client. */

static struct t_stream *t_stream_of(nghttp2_session *client, int32_t stream_id)
{
    return nghttp2_session_get_stream_user_data(client, stream_id);
}

static int c_header(nghttp2_session *client, const nghttp2_frame *frame, const uint8_t *name,
                    size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                    void *user_data)
{
    (void)flags;
    (void)user_data;
    struct t_stream *st = t_stream_of(client, frame->hd.stream_id);
    if (st == NULL || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    char v[T_MESSAGE_MAX];
    size_t n = value_len < sizeof v - 1 ? value_len : sizeof v - 1;
    memcpy(v, value, n);
    v[n] = '\0';
    if (name_len == 7 && memcmp(name, ":status", 7) == 0)
        st->http_status = atoi(v);
    else if (name_len == 12 && memcmp(name, "content-type", 12) == 0)
        snprintf(st->content_type, sizeof st->content_type, "%.95s", v);
    else if (name_len == 11 && memcmp(name, "grpc-status", 11) == 0)
        st->grpc_status = atoi(v);
    else if (name_len == 12 && memcmp(name, "grpc-message", 12) == 0) {
        st->has_grpc_message = true;
        grpc_message_decode(st->grpc_message, sizeof st->grpc_message, v, n);
    }
    return 0;
}

static int c_frame_recv(nghttp2_session *client, const nghttp2_frame *frame, void *user_data)
{
    (void)user_data;
    struct t_stream *st =
        frame->hd.stream_id != 0 ? t_stream_of(client, frame->hd.stream_id) : NULL;
    if (st != NULL && frame->hd.type == NGHTTP2_HEADERS) {
        st->headers_frames++;
        if (st->headers_frames == 1 && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
            st->trailers_only = true;
    }
    return 0;
}

static int c_data_chunk(nghttp2_session *client, uint8_t flags, int32_t stream_id,
                        const uint8_t *data, size_t len, void *user_data)
{
    (void)flags;
    (void)user_data;
    struct t_stream *st = t_stream_of(client, stream_id);
    if (st != NULL)
        t_buf_append(&st->data, data, len);
    return 0;
}

static int c_stream_close(nghttp2_session *client, int32_t stream_id, uint32_t error_code,
                          void *user_data)
{
    (void)user_data;
    struct t_stream *st = t_stream_of(client, stream_id);
    if (st != NULL) {
        st->closed = true;
        st->close_code = error_code;
    }
    return 0;
}

static int c_frame_send(nghttp2_session *client, const nghttp2_frame *frame, void *user_data)
{
    struct h *h = user_data;
    if (frame->hd.type == NGHTTP2_GOAWAY)
        h->client_sent_goaway = true;
    struct t_stream *st =
        frame->hd.type == NGHTTP2_DATA ? t_stream_of(client, frame->hd.stream_id) : NULL;
    if (st != NULL)
        st->data_frames_sent++;
    return 0;
}

static ssize_t c_data_read(nghttp2_session *client, int32_t stream_id, uint8_t *buf, size_t length,
                           uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)client;
    (void)stream_id;
    (void)user_data;
    struct t_stream *st = source->ptr;
    size_t avail = st->send.len - st->send_off;
    size_t n = avail < length ? avail : length;
    if (st->chunk_max > 0 && n > st->chunk_max)
        n = st->chunk_max;
    if (n > 0)
        memcpy(buf, st->send.p + st->send_off, n);
    st->send_off += n;
    if (st->send_off == st->send.len && st->send_eof)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    else if (n == 0) {
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void t_client_new(struct h *h, uint32_t window)
{
    nghttp2_session_callbacks *cb;
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, c_frame_send);
    assert_int_equal(nghttp2_session_client_new(&h->client, cb, h), 0);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    assert_int_equal(nghttp2_submit_settings(h->client, NGHTTP2_FLAG_NONE, iv, 1), 0);
    if (window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE)
        assert_int_equal(
            nghttp2_session_set_local_window_size(h->client, NGHTTP2_FLAG_NONE, 0, (int32_t)window),
            0);
}

/* The pump. */

static void t_client_out(struct h *h)
{
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(h->client, &d)) > 0)
        t_buf_append(&h->c2s, d, (size_t)n);
    assert_int_equal(n, 0);
}

/* Feeds what the client wrote, as a driver reads: while the session wants to read, at most
 * T_READ_BYTES (or one byte) at a time. Returns true if anything was fed. */
static bool t_to_server(struct h *h)
{
    bool moved = false;
    while (h->c2s.len > 0 && !h->server_gone && grpc_server_wants_read(h->server)) {
        size_t n = h->bytewise ? 1 : (h->c2s.len < T_READ_BYTES ? h->c2s.len : T_READ_BYTES);
        int rc = grpc_server_feed(h->server, h->c2s.p, n, h->now_ns);
        t_buf_consume(&h->c2s, n);
        moved = true;
        if (rc < 0) {
            h->server_gone = true;
            h->feed_rc = rc;
        }
    }
    return moved;
}

/* Hands n bytes of the session's output to the client (n = 0: all of the first block). */
static size_t t_read_some(struct h *h, size_t n_max)
{
    const uint8_t *d;
    size_t n = grpc_server_pending(h->server, &d);
    if (n == 0)
        return 0;
    if (n_max > 0 && n > n_max)
        n = n_max;
    t_wire_parse(h, d, n);
    ssize_t r = nghttp2_session_mem_recv(h->client, d, n);
    assert_int_equal(r, (ssize_t)n);
    grpc_server_sent(h->server, n);
    return n;
}

static bool t_to_client(struct h *h)
{
    bool moved = false;
    while (h->client_reading && t_read_some(h, 0) > 0)
        moved = true;
    return moved;
}

/* Moves bytes both ways until neither side has anything more to say. */
static void t_pump(struct h *h)
{
    for (int i = 0; i < T_PUMP_ROUNDS; i++) {
        t_client_out(h);
        bool fed = t_to_server(h);
        bool read = t_to_client(h);
        if (!fed && !read)
            return;
    }
    fail_msg("the pump did not settle");
}

static void t_hook(void *arg)
{
    struct h *h = arg;
    const uint8_t *d;
    h->hook_calls++;
    h->hook_pending = grpc_server_pending(h->server, &d);
}

static struct grpc_server_limits t_limits(void)
{
    return (struct grpc_server_limits){
        .max_request_bytes = ETCD_REQ_BYTES,
        .max_concurrent_streams = UINT32_MAX,
        .output_bytes_max = GRPC_OUTPUT_BYTES_MAX,
        .keepalive_interval_ns = 0,
        .keepalive_timeout_ns = 20 * NS_PER_S,
        .keepalive_min_time_ns = 5 * NS_PER_S,
    };
}

/* A session and a client; nothing exchanged yet. */
static struct h *t_new(const struct grpc_server_limits *limits, const struct grpc_method_set *set,
                       uint32_t client_window)
{
    memset(&hs, 0, sizeof hs);
    struct h *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->now_ns = T_START_NS;
    h->client_reading = true;
    h->server = grpc_server_new(limits, set, NULL, h->now_ns);
    assert_non_null(h->server);
    grpc_server_set_output_hook(h->server, t_hook, h);
    t_client_new(h, client_window);
    return h;
}

/* A session after the handshake: both prefaces and SETTINGS acknowledged both ways. */
static struct h *t_open(const struct grpc_server_limits *limits, const struct grpc_method_set *set)
{
    struct h *h = t_new(limits, set, NGHTTP2_INITIAL_WINDOW_SIZE);
    t_pump(h);
    assert_int_equal(h->settings_frames, 1);
    return h;
}

static void t_close(struct h *h)
{
    assert_false(h->client_sent_goaway);
    grpc_server_free(h->server);
    nghttp2_session_del(h->client);
    for (uint32_t i = 0; i < h->streams_count; i++) {
        free(h->streams[i].send.p);
        free(h->streams[i].data.p);
    }
    free(h->c2s.p);
    free(h);
}

/* Requests. */

struct t_req {
    const char *path;
    const char *content_type; /* NULL: application/grpc; "": none */
    const char *authority;    /* NULL: localhost:2379 */
    const char *timeout;      /* grpc-timeout; NULL: none */
    const char *encoding;     /* grpc-encoding; NULL: none */
    const nghttp2_nv *extra;
    size_t extra_count;
    bool headers_only; /* END_STREAM on HEADERS, no DATA */
};

static nghttp2_nv t_nv(const char *name, const char *value)
{
    return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                        NGHTTP2_NV_FLAG_NONE};
}

/* Opens a stream (HEADERS submitted, not pumped). */
static struct t_stream *t_start(struct h *h, const struct t_req *r)
{
    assert_true(h->streams_count < T_STREAMS_MAX);
    struct t_stream *st = &h->streams[h->streams_count++];
    st->grpc_status = -1;
    nghttp2_nv nv[32];
    size_t n = 0;
    nv[n++] = t_nv(":method", "POST");
    nv[n++] = t_nv(":scheme", "http");
    nv[n++] = t_nv(":path", r->path);
    nv[n++] = t_nv(":authority", r->authority != NULL ? r->authority : "localhost:2379");
    if (r->content_type == NULL || r->content_type[0] != '\0')
        nv[n++] =
            t_nv("content-type", r->content_type != NULL ? r->content_type : "application/grpc");
    nv[n++] = t_nv("te", "trailers");
    nv[n++] = t_nv("user-agent", "grpc-go/1.33.1");
    if (r->timeout != NULL)
        nv[n++] = t_nv("grpc-timeout", r->timeout);
    if (r->encoding != NULL)
        nv[n++] = t_nv("grpc-encoding", r->encoding);
    assert_true(n + r->extra_count <= sizeof nv / sizeof nv[0]);
    for (size_t i = 0; i < r->extra_count; i++)
        nv[n++] = r->extra[i];
    nghttp2_data_provider provider = {.source.ptr = st, .read_callback = c_data_read};
    st->id = nghttp2_submit_request(h->client, NULL, nv, n, r->headers_only ? NULL : &provider, st);
    assert_true(st->id > 0);
    return st;
}

/* Queues bytes on the stream (eof: END_STREAM after them). */
static void t_write(struct h *h, struct t_stream *st, const void *data, size_t len, bool eof)
{
    t_buf_append(&st->send, data, len);
    st->send_eof = eof;
    if (st->deferred) {
        st->deferred = false;
        assert_int_equal(nghttp2_session_resume_data(h->client, st->id), 0);
    }
}

/* Queues one message with the given prefix flags. */
static void t_write_msg_flags(struct h *h, struct t_stream *st, uint8_t flags,
                              const ProtobufCMessage *m, bool eof)
{
    size_t size = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(GRPC_PREFIX_BYTES + size);
    assert_non_null(buf);
    grpc_prefix_write(buf, flags, (uint32_t)size);
    protobuf_c_message_pack(m, buf + GRPC_PREFIX_BYTES);
    t_write(h, st, buf, GRPC_PREFIX_BYTES + size, eof);
    free(buf);
}

static void t_write_msg(struct h *h, struct t_stream *st, const ProtobufCMessage *m, bool eof)
{
    t_write_msg_flags(h, st, GRPC_PREFIX_PLAIN, m, eof);
}

static Etcdserverpb__RangeRequest t_range(const char *key, int64_t limit)
{
    Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
    r.key.data = (uint8_t *)key;
    r.key.len = strlen(key);
    r.limit = limit;
    return r;
}

static Etcdserverpb__PutRequest t_put(const char *key, const char *value)
{
    Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
    r.key.data = (uint8_t *)key;
    r.key.len = strlen(key);
    r.value.data = (uint8_t *)value;
    r.value.len = strlen(value);
    return r;
}

/* A unary call with one Range message and END_STREAM, pumped to the end. */
static struct t_stream *t_unary_call(struct h *h, const char *path, const char *key, int64_t limit)
{
    struct t_stream *st = t_start(h, &(struct t_req){.path = path});
    Etcdserverpb__RangeRequest req = t_range(key, limit);
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    return st;
}

/* Responses. */

/* The number of whole messages in the stream's response body (which must hold nothing else). */
static size_t t_messages(const struct t_stream *st)
{
    size_t count = 0;
    for (size_t off = 0; off < st->data.len; count++) {
        assert_true(off + GRPC_PREFIX_BYTES <= st->data.len);
        assert_int_equal(st->data.p[off], GRPC_PREFIX_PLAIN);
        off += GRPC_PREFIX_BYTES + grpc_prefix_length(st->data.p + off);
        assert_true(off <= st->data.len);
    }
    return count;
}

/* The i-th response message, decoded; free with protobuf_c_message_free_unpacked. */
static void *t_message(const struct t_stream *st, size_t i, const ProtobufCMessageDescriptor *d)
{
    size_t off = 0;
    for (size_t k = 0; k < i; k++)
        off += GRPC_PREFIX_BYTES + grpc_prefix_length(st->data.p + off);
    assert_true(off + GRPC_PREFIX_BYTES <= st->data.len);
    uint32_t len = grpc_prefix_length(st->data.p + off);
    assert_true(off + GRPC_PREFIX_BYTES + len <= st->data.len);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, NULL, len, st->data.p + off + GRPC_PREFIX_BYTES);
    assert_non_null(m);
    return m;
}

static void t_assert_status(const struct t_stream *st, enum grpc_status code, const char *text)
{
    assert_int_equal(st->grpc_status, code);
    assert_true(st->has_grpc_message); /* grpc-go sends it even when empty */
    assert_string_equal(st->grpc_message, text);
}

/* A transport answer without any message: HEADERS with :status 200 and the status, END_STREAM;
 * then RST_STREAM NO_ERROR if the client had not half-closed. */
static void t_assert_trailers_only(const struct h *h, const struct t_stream *st,
                                   enum grpc_status code, const char *text, bool half_closed)
{
    t_assert_frames(h, st, half_closed ? "H$" : "H$,R0");
    assert_true(st->trailers_only);
    assert_int_equal(st->http_status, 200);
    assert_int_equal(st->data.len, 0);
    t_assert_status(st, code, text);
}

static void t_assert_range_reply(const struct t_stream *st, const char *key, int64_t limit)
{
    assert_int_equal(t_messages(st), 1);
    Etcdserverpb__RangeResponse *r = t_message(st, 0, &etcdserverpb__range_response__descriptor);
    assert_int_equal(r->count, (int64_t)strlen(key));
    assert_true(r->more);
    assert_non_null(r->header);
    assert_int_equal(r->header->revision, limit);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* 1. The server preface. */

static void test_preface_settings(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    limits.max_concurrent_streams = 10;
    struct h *h = t_new(&limits, &t_methods, NGHTTP2_INITIAL_WINDOW_SIZE);
    /* Queued at creation, before the client says anything. */
    const uint8_t *d;
    assert_true(grpc_server_pending(h->server, &d) > 0);
    t_pump(h);
    assert_int_equal(h->frames[0].type, NGHTTP2_SETTINGS);
    assert_int_equal(h->frames[0].stream_id, 0);
    assert_int_equal(h->wire_max_streams, 10);
    assert_int_equal(h->wire_window, ETCD_REQ_BYTES + GRPC_RECV_OVERHEAD_BYTES + GRPC_PREFIX_BYTES);
    assert_int_equal(
        nghttp2_session_get_remote_settings(h->client, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
        10);
    assert_int_equal(
        nghttp2_session_get_remote_settings(h->client, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE),
        ETCD_REQ_BYTES + GRPC_RECV_OVERHEAD_BYTES + GRPC_PREFIX_BYTES);
    /* The connection window is opened to its bound at once. */
    assert_int_equal(nghttp2_session_get_remote_window_size(h->client),
                     GRPC_SERVER_CONN_WINDOW_BYTES);
    assert_false(grpc_server_done(h->server));
    assert_true(grpc_server_wants_read(h->server));
    t_close(h);

    /* etcd's default --max-concurrent-streams is unbounded: ours stops at our bound. A huge
     * --max-request-bytes stops at HTTP/2's largest window. */
    limits = t_limits();
    limits.max_request_bytes = UINT32_MAX;
    h = t_open(&limits, &t_methods);
    assert_int_equal(h->wire_max_streams, GRPC_SERVER_STREAMS_MAX);
    assert_int_equal(h->wire_window, NGHTTP2_MAX_WINDOW_SIZE);
    t_close(h);

    /* 0 is no limit to grpc-go (it then sends no such setting): ours is the bound. */
    limits = t_limits();
    limits.max_concurrent_streams = 0;
    h = t_open(&limits, &t_methods);
    assert_int_equal(h->wire_max_streams, GRPC_SERVER_STREAMS_MAX);
    struct t_stream *st = t_unary_call(h, "/ringdtest.Test/Unary", "k", 1);
    t_assert_status(st, GRPC_STATUS_OK, "");
    t_close(h);
}

/* 2. A unary call answered at once. */

static void test_unary_ok(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    const char *types[] = {"application/grpc+proto", "application/grpc"};
    for (int i = 0; i < 2; i++) {
        struct t_stream *st =
            t_start(h, &(struct t_req){.path = "/ringdtest.Test/Unary", .content_type = types[i]});
        Etcdserverpb__RangeRequest req = t_range("foo", 7);
        t_write_msg(h, st, &req.base, true);
        t_pump(h);
        t_assert_frames(h, st, "H,D,H$");
        assert_int_equal(st->http_status, 200);
        assert_string_equal(st->content_type, types[i]);
        assert_int_equal(st->headers_frames, 2);
        assert_false(st->trailers_only);
        t_assert_range_reply(st, "foo", 7);
        t_assert_status(st, GRPC_STATUS_OK, "");
        assert_true(st->closed);
        assert_int_equal(st->close_code, NGHTTP2_NO_ERROR);
    }
    assert_int_equal(hs.unary, 2);
    assert_int_equal(h->hook_calls, 0); /* answered inside feed: the driver writes it */
    assert_int_equal(h->goaways, 0);
    t_close(h);
}

/* Server streaming: messages, then the status. */
static void test_server_stream(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    struct t_stream *st = t_unary_call(h, "/ringdtest.Test/List", "k", 40);
    assert_int_equal(t_messages(st), 3);
    for (size_t i = 0; i < 3; i++) {
        Etcdserverpb__RangeResponse *r =
            t_message(st, i, &etcdserverpb__range_response__descriptor);
        assert_int_equal(r->count, 40 + (int64_t)i);
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    assert_int_equal(st->headers_frames, 2);
    t_assert_status(st, GRPC_STATUS_OK, "");
    t_close(h);
}

/* 3. Bad requests: the rows of grpc_call.c's table. */

/* A request with the given headers and body; eof: the client half-closes after the body. */
static struct t_stream *t_request(struct h *h, const struct t_req *r, const void *body,
                                  size_t body_len, bool eof)
{
    struct t_stream *st = t_start(h, r);
    if (!r->headers_only)
        t_write(h, st, body, body_len, eof);
    t_pump(h);
    return st;
}

static void test_bad_content_type_and_timeout(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    const char *types[] = {"", "text/plain", "application/grpcx", "application/json"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct t_stream *st =
            t_request(h, &(struct t_req){.path = "/ringdtest.Test/Unary", .content_type = types[i]},
                      NULL, 0, false);
        t_assert_frames(h, st, "R1"); /* RST_STREAM PROTOCOL_ERROR, no HEADERS */
        assert_int_equal(st->headers_frames, 0);
        assert_true(st->closed);
        assert_int_equal(st->close_code, NGHTTP2_PROTOCOL_ERROR);
    }
    const char *timeouts[] = {"1x", "abc", "m", "123456789m", "1.5S"};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        struct t_stream *st =
            t_request(h, &(struct t_req){.path = "/ringdtest.Test/Unary", .timeout = timeouts[i]},
                      NULL, 0, false);
        t_assert_frames(h, st, "R1");
    }
    assert_int_equal(hs.unary, 0);
    assert_int_equal(h->goaways, 0);
    /* The connection goes on. */
    struct t_stream *st = t_unary_call(h, "/ringdtest.Test/Unary", "a", 1);
    t_assert_status(st, GRPC_STATUS_OK, "");
    t_close(h);
}

static void test_bad_paths(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    static const struct {
        const char *path;
        enum grpc_status code;
        const char *text;
    } rows[] = {
        {"/x", GRPC_STATUS_RESOURCE_EXHAUSTED, "malformed method name: \"/x\""},
        {"noslash", GRPC_STATUS_RESOURCE_EXHAUSTED, "malformed method name: \"noslash\""},
        {"/foo.Bar/Baz", GRPC_STATUS_UNIMPLEMENTED, "unknown service foo.Bar"},
        {"/ringdtest.Test/Nope", GRPC_STATUS_UNIMPLEMENTED,
         "unknown method Nope for service ringdtest.Test"},
        {"/etcdserverpb.KV/Range", GRPC_STATUS_UNIMPLEMENTED, "unknown service etcdserverpb.KV"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        /* Answered at the headers: with the client still sending, the stream is then reset. */
        struct t_stream *st = t_request(h, &(struct t_req){.path = rows[i].path}, NULL, 0, false);
        t_assert_trailers_only(h, st, rows[i].code, rows[i].text, false);
        assert_int_equal(st->close_code, NGHTTP2_NO_ERROR);
        /* The client half-closed with its HEADERS: nothing to reset. */
        st = t_request(h, &(struct t_req){.path = rows[i].path, .headers_only = true}, NULL, 0,
                       true);
        t_assert_trailers_only(h, st, rows[i].code, rows[i].text, true);
        /* A message and END_STREAM, as a real unary call sends them. */
        Etcdserverpb__RangeRequest req = t_range("k", 1);
        st = t_start(h, &(struct t_req){.path = rows[i].path});
        t_write_msg(h, st, &req.base, true);
        t_pump(h);
        t_assert_status(st, rows[i].code, rows[i].text);
        assert_true(st->trailers_only);
    }
    assert_int_equal(hs.unary, 0);
    assert_int_equal(h->goaways, 0);
    t_close(h);
}

static void test_bad_encoding_and_flags(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    Etcdserverpb__RangeRequest req = t_range("k", 1);

    /* A unary call cannot take a compressed request: answered at the headers. */
    struct t_stream *st =
        t_start(h, &(struct t_req){.path = "/ringdtest.Test/Unary", .encoding = "gzip"});
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_UNIMPLEMENTED,
                           "grpc: Decompressor is not installed for grpc-encoding \"gzip\"", true);
    /* identity is no compression at all. */
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Unary", .encoding = "identity"});
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    t_assert_status(st, GRPC_STATUS_OK, "");

    /* The compressed flag with no encoding. */
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Unary"});
    t_write_msg_flags(h, st, GRPC_PREFIX_COMPRESSED, &req.base, true);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_INTERNAL,
                           "grpc: compressed flag set with identity or empty encoding", true);
    /* A flags byte that is neither 0 nor 1. */
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Unary"});
    t_write_msg_flags(h, st, 2, &req.base, true);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_INTERNAL,
                           "grpc: received unexpected payload format 2", true);
    /* A stream too (grpc-go's processStreamingRPC looks the decompressor up as the unary path
     * does), before any message, plain or not. */
    Etcdserverpb__PutRequest put = t_put("k", "v");
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Echo", .encoding = "snappy"});
    t_write_msg(h, st, &put.base, false);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_UNIMPLEMENTED,
                           "grpc: Decompressor is not installed for grpc-encoding \"snappy\"",
                           false);
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Echo", .encoding = "gzip"});
    t_write_msg_flags(h, st, GRPC_PREFIX_COMPRESSED, &put.base, true);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_UNIMPLEMENTED,
                           "grpc: Decompressor is not installed for grpc-encoding \"gzip\"", true);
    assert_int_equal(hs.unary, 1);
    assert_int_equal(hs.echoed, 0);
    t_close(h);
}

static void test_bad_messages(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    limits.max_request_bytes = 1000;
    struct h *h = t_open(&limits, &t_methods);
    const char *unary = "/ringdtest.Test/Unary";

    /* Over --max-request-bytes + 512 KiB: refused from the prefix alone; the client is still
     * sending, so the stream is reset after the status. */
    uint8_t prefix[GRPC_PREFIX_BYTES];
    grpc_prefix_write(prefix, GRPC_PREFIX_PLAIN, 1000 + GRPC_RECV_OVERHEAD_BYTES + 1);
    struct t_stream *st =
        t_request(h, &(struct t_req){.path = unary}, prefix, sizeof prefix, false);
    t_assert_trailers_only(h, st, GRPC_STATUS_RESOURCE_EXHAUSTED,
                           "grpc: received message larger than max (525289 vs. 525288)", false);
    /* A message of the bound exactly is served: a key of 525284 bytes packs to 1 + 3 + 525284. */
    size_t key_len = 1000 + GRPC_RECV_OVERHEAD_BYTES - 4;
    char *key = malloc(key_len + 1);
    assert_non_null(key);
    memset(key, 'm', key_len);
    key[key_len] = '\0';
    Etcdserverpb__RangeRequest at_max = t_range(key, 0);
    assert_int_equal(protobuf_c_message_get_packed_size(&at_max.base),
                     1000 + GRPC_RECV_OVERHEAD_BYTES);
    st = t_start(h, &(struct t_req){.path = unary});
    t_write_msg(h, st, &at_max.base, true);
    t_pump(h);
    t_assert_frames(h, st, "H,D,H$");
    t_assert_range_reply(st, key, 0);
    t_assert_status(st, GRPC_STATUS_OK, "");
    free(key);

    /* A protobuf that does not decode: field 1 claims 5 bytes, 1 follows. */
    const uint8_t bad[] = {0, 0, 0, 0, 3, 0x0a, 0x05, 'a'};
    st = t_request(h, &(struct t_req){.path = unary}, bad, sizeof bad, true);
    t_assert_trailers_only(h, st, GRPC_STATUS_INTERNAL,
                           "grpc: error unmarshalling request: unexpected EOF", true);

    /* The stream ends inside a message: in the body, and in the prefix. */
    const uint8_t cut_body[] = {0, 0, 0, 0, 10, 0x0a, 0x01, 'a'};
    st = t_request(h, &(struct t_req){.path = unary}, cut_body, sizeof cut_body, true);
    t_assert_trailers_only(h, st, GRPC_STATUS_UNKNOWN, "unexpected EOF", true);
    st = t_request(h, &(struct t_req){.path = unary}, cut_body, 3, true);
    t_assert_trailers_only(h, st, GRPC_STATUS_UNKNOWN, "unexpected EOF", true);

    /* A unary stream that ends without a message: at the HEADERS and after an empty DATA. */
    st = t_request(h, &(struct t_req){.path = unary, .headers_only = true}, NULL, 0, true);
    t_assert_trailers_only(h, st, GRPC_STATUS_UNKNOWN, "EOF", true);
    st = t_request(h, &(struct t_req){.path = unary}, NULL, 0, true);
    t_assert_status(st, GRPC_STATUS_UNKNOWN, "EOF");

    /* An empty message is a message (all fields default). */
    const uint8_t empty[] = {0, 0, 0, 0, 0};
    st = t_request(h, &(struct t_req){.path = unary}, empty, sizeof empty, true);
    t_assert_status(st, GRPC_STATUS_OK, "");
    t_assert_range_reply(st, "", 0);
    assert_int_equal(hs.unary, 2);
    assert_int_equal(h->goaways, 0);
    t_close(h);
}

/* A second message on a unary call is never read, as grpc-go reads one: not even a bad one. */
static void test_unary_second_message_ignored(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    limits.max_request_bytes = 1000;
    struct h *h = t_open(&limits, &t_methods);
    Etcdserverpb__RangeRequest first = t_range("one", 1), second = t_range("second", 2);

    /* Both in one DATA frame: one answer, to the first. */
    struct t_stream *st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Unary"});
    t_write_msg(h, st, &first.base, false);
    t_write_msg(h, st, &second.base, true);
    t_pump(h);
    assert_int_equal(hs.unary, 1);
    t_assert_frames(h, st, "H,D,H$");
    t_assert_range_reply(st, "one", 1);
    t_assert_status(st, GRPC_STATUS_OK, "");

    /* The handler keeps the call; a bad flags byte, a prefix over the bound and a cut message
     * after the first are none of the call's business. */
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Later"});
    t_write_msg(h, st, &first.base, false);
    t_pump(h);
    assert_int_equal(hs.held_count, 1);
    t_write_msg_flags(h, st, 2, &second.base, false);
    uint8_t huge[GRPC_PREFIX_BYTES];
    grpc_prefix_write(huge, GRPC_PREFIX_PLAIN, UINT32_MAX);
    t_write(h, st, huge, sizeof huge, false);
    t_write(h, st, huge, 2, true);
    t_pump(h);
    t_assert_frames(h, st, "");
    assert_int_equal(hs.cancels, 0);
    Etcdserverpb__RangeRequest echo = t_range("one", 1);
    t_range_reply(t_take_held(0), &echo);
    t_pump(h);
    t_assert_frames(h, st, "H,D,H$");
    t_assert_range_reply(st, "one", 1);
    t_assert_status(st, GRPC_STATUS_OK, "");
    t_close(h);
}

static void test_etcd_methods(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    limits.max_request_bytes = 1000;
    struct h *h = t_open(&limits, &grpc_etcd_methods);

    /* A method without a handler yet. */
    Etcdserverpb__LeaseTimeToLiveRequest ttl = ETCDSERVERPB__LEASE_TIME_TO_LIVE_REQUEST__INIT;
    struct t_stream *st =
        t_start(h, &(struct t_req){.path = "/etcdserverpb.Lease/LeaseTimeToLive"});
    t_write_msg(h, st, &ttl.base, true);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_UNIMPLEMENTED,
                           "ringd: /etcdserverpb.Lease/LeaseTimeToLive is not implemented yet",
                           true);
    /* The KV service needs the shard's store; this session has no shard. */
    st = t_unary_call(h, "/etcdserverpb.KV/Range", "k", 0);
    t_assert_trailers_only(h, st, GRPC_STATUS_INTERNAL, "ringd: no store on this shard", true);

    /* A Put over --max-request-bytes: etcd's proposal bound, before its handler. */
    char key[1001];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    Etcdserverpb__PutRequest put = t_put(key, "");
    assert_true(protobuf_c_message_get_packed_size(&put.base) > 1000);
    st = t_start(h, &(struct t_req){.path = "/etcdserverpb.KV/Put"});
    t_write_msg(h, st, &put.base, true);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_INVALID_ARGUMENT, "etcdserver: request is too large",
                           true);
    /* One under it reaches the handler (which finds no store here). */
    key[990] = '\0';
    put = t_put(key, "");
    st = t_start(h, &(struct t_req){.path = "/etcdserverpb.KV/Put"});
    t_write_msg(h, st, &put.base, true);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_INTERNAL, "ringd: no store on this shard", true);

    /* Maintenance.Status needs the shard's cluster view; this session has no shard. */
    Etcdserverpb__StatusRequest sreq = ETCDSERVERPB__STATUS_REQUEST__INIT;
    st = t_start(h, &(struct t_req){.path = "/etcdserverpb.Maintenance/Status"});
    t_write_msg(h, st, &sreq.base, true);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_INTERNAL, "ringd: no cluster view on this shard",
                           true);

    st = t_request(h, &(struct t_req){.path = "/etcdserverpb.KV/Nope", .headers_only = true}, NULL,
                   0, true);
    t_assert_trailers_only(h, st, GRPC_STATUS_UNIMPLEMENTED,
                           "unknown method Nope for service etcdserverpb.KV", true);
    t_close(h);
}

/* 4. Fragmentation. */

/* Everything the client sends, the handshake included, fed one byte at a time. */
static void test_one_byte_at_a_time(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *whole = t_open(&limits, &t_methods);
    struct t_stream *want = t_unary_call(whole, "/ringdtest.Test/Unary", "bytewise", 3);

    struct h *h = t_new(&limits, &t_methods, NGHTTP2_INITIAL_WINDOW_SIZE);
    h->bytewise = true;
    t_pump(h);
    struct t_stream *st = t_unary_call(h, "/ringdtest.Test/Unary", "bytewise", 3);
    t_assert_frames(h, st, "H,D,H$");
    assert_int_equal(st->data.len, want->data.len);
    assert_memory_equal(st->data.p, want->data.p, want->data.len);
    t_assert_status(st, GRPC_STATUS_OK, "");
    /* A bad answer too. It leaves with the byte that completes the HEADERS, before the client
     * half-closed, so the stream is reset after it (all at once, it would not be). */
    st = t_unary_call(h, "/foo.Bar/Baz", "k", 1);
    t_assert_trailers_only(h, st, GRPC_STATUS_UNIMPLEMENTED, "unknown service foo.Bar", false);
    t_close(h);
    t_close(whole);
}

/* One message in many DATA frames: a few bytes each, and 16 KiB frames of a large one. */
static void test_message_split(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    char key[100];
    memset(key, 'a', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    Etcdserverpb__RangeRequest req = t_range(key, 9);
    struct t_stream *st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Unary"});
    st->chunk_max = 3;
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    assert_true(st->data_frames_sent >= (GRPC_PREFIX_BYTES + 3 + 99) / 3);
    t_assert_range_reply(st, key, 9);
    t_assert_status(st, GRPC_STATUS_OK, "");

    size_t big_len = 40000;
    char *big = malloc(big_len + 1);
    assert_non_null(big);
    memset(big, 'b', big_len);
    big[big_len] = '\0';
    req = t_range(big, 10);
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Unary"});
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    assert_int_equal(st->data_frames_sent, 3); /* 16 KiB frames */
    t_assert_range_reply(st, big, 10);
    t_assert_status(st, GRPC_STATUS_OK, "");
    free(big);
    assert_int_equal(hs.unary, 2);
    t_close(h);
}

/* Several messages in one DATA frame on a bidi stream: each reaches the handler, in order. */
static void test_bidi_messages_in_one_frame(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    struct t_stream *st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Echo"});
    const char *keys[] = {"k1", "k22", "k333"};
    for (int i = 0; i < 3; i++) {
        Etcdserverpb__PutRequest put = t_put(keys[i], "v");
        t_write_msg(h, st, &put.base, false);
    }
    t_pump(h);
    assert_int_equal(st->data_frames_sent, 1);
    assert_int_equal(hs.echoed, 3);
    assert_int_equal(t_messages(st), 3);
    assert_int_equal(hs.half_closes, 0);
    /* More later, then the half-close ends it. */
    Etcdserverpb__PutRequest put = t_put("k4444", "v");
    t_write_msg(h, st, &put.base, true);
    t_pump(h);
    assert_int_equal(hs.echoed, 4);
    assert_int_equal(hs.half_closes, 1);
    assert_int_equal(t_messages(st), 4);
    for (size_t i = 0; i < 4; i++) {
        Etcdserverpb__PutRequest *m = t_message(st, i, &etcdserverpb__put_request__descriptor);
        assert_int_equal(m->key.len, i + 2);
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    t_assert_status(st, GRPC_STATUS_OK, "");
    assert_int_equal(st->headers_frames, 2);
    assert_int_equal(hs.cancels, 0);
    t_close(h);
}

/* A bidi stream that ends inside a message while the handler holds the call: the handler
 * loses the call (on_cancel) and the status says why. */
static void test_bidi_cut_message_cancels_handler(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    struct t_stream *st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Echo"});
    Etcdserverpb__PutRequest put = t_put("k", "v");
    t_write_msg(h, st, &put.base, false);
    t_pump(h);
    assert_int_equal(hs.echoed, 1);
    const uint8_t cut[] = {0, 0, 0, 0, 9, 0x0a};
    t_write(h, st, cut, sizeof cut, true);
    t_pump(h);
    assert_int_equal(hs.cancels, 1);
    assert_int_equal(hs.half_closes, 0);
    t_assert_status(st, GRPC_STATUS_UNKNOWN, "unexpected EOF");
    assert_int_equal(t_messages(st), 1);

    /* The same for a message that does not decode. */
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Echo"});
    t_write_msg(h, st, &put.base, false);
    t_pump(h);
    const uint8_t bad[] = {0, 0, 0, 0, 3, 0x0a, 0x05, 'a'};
    t_write(h, st, bad, sizeof bad, false);
    t_pump(h);
    assert_int_equal(hs.cancels, 2);
    t_assert_status(st, GRPC_STATUS_INTERNAL, "grpc: error unmarshalling request: unexpected EOF");
    t_assert_frames(h, st, "H,D,H$,R0");
    t_close(h);
}

/* 5. An answer after feed: the output hook tells the driver. */

static void test_async_reply_fires_hook(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    struct t_stream *st = t_unary_call(h, "/ringdtest.Test/Later", "later", 5);
    assert_int_equal(hs.held_count, 1);
    t_assert_frames(h, st, "");
    assert_int_equal(h->hook_calls, 0);
    assert_int_equal(grpc_server_tick(h->server, h->now_ns), UINT64_MAX);
    assert_int_equal(h->hook_calls, 0);

    Etcdserverpb__RangeRequest req = t_range("later", 5);
    t_range_reply(t_take_held(0), &req);
    assert_int_equal(h->hook_calls, 1);
    assert_true(h->hook_pending > 0);
    t_pump(h);
    assert_int_equal(h->hook_calls, 1); /* feed and sent write their own output */
    t_assert_frames(h, st, "H,D,H$");
    t_assert_range_reply(st, "later", 5);
    t_assert_status(st, GRPC_STATUS_OK, "");

    /* A finish later with an error text, which goes out percent-encoded. */
    st = t_unary_call(h, "/ringdtest.Test/Later", "x", 1);
    grpc_call_finish(t_take_held(1), GRPC_STATUS_FAILED_PRECONDITION, "100% \"done\"\n");
    assert_int_equal(h->hook_calls, 2);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_FAILED_PRECONDITION, "100% \"done\"\n", true);
    t_close(h);
}

/* 6. The client resets a stream the handler holds. */

static void test_client_reset_cancels(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    /* A first call, answered, so the header tables hold this request's headers already. */
    t_unary_call(h, "/ringdtest.Test/Later", "k", 1);
    Etcdserverpb__RangeRequest req = t_range("k", 1);
    t_range_reply(t_take_held(0), &req);
    t_pump(h);
    size_t before = grpc_server_memory_bytes(h->server);

    struct t_stream *st = t_unary_call(h, "/ringdtest.Test/Later", "k", 1);
    assert_int_equal(hs.held_count, 2);
    struct grpc_call *held = hs.held[1];
    assert_true(grpc_server_memory_bytes(h->server) > before);
    assert_int_equal(
        nghttp2_submit_rst_stream(h->client, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL), 0);
    t_pump(h);
    assert_int_equal(hs.cancels, 1);
    assert_ptr_equal(hs.cancelled, held);
    assert_null(hs.held[1]);
    t_assert_frames(h, st, "");
    assert_int_equal(grpc_server_memory_bytes(h->server), before);
    t_close(h);
    assert_int_equal(hs.cancels, 1);
}

/* Freeing a session cancels the calls its handlers hold. */
static void test_free_cancels_held_calls(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    t_unary_call(h, "/ringdtest.Test/Later", "a", 1);
    struct t_stream *st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Echo"});
    Etcdserverpb__PutRequest put = t_put("k", "v");
    t_write_msg(h, st, &put.base, false);
    t_pump(h);
    assert_int_equal(hs.held_count, 1);
    assert_int_equal(hs.echoed, 1);
    t_close(h);
    assert_int_equal(hs.cancels, 2);
}

/* 7. Deadlines. */

static void test_deadline(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    uint64_t t0 = h->now_ns;
    struct t_stream *st =
        t_start(h, &(struct t_req){.path = "/ringdtest.Test/Later", .timeout = "100m"});
    Etcdserverpb__RangeRequest req = t_range("k", 1);
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    assert_int_equal(hs.held_count, 1);
    assert_int_equal(hs.deadline_ns, t0 + 100 * NS_PER_MS);

    assert_int_equal(grpc_server_tick(h->server, t0 + 99 * NS_PER_MS), t0 + 100 * NS_PER_MS);
    const uint8_t *d;
    assert_int_equal(grpc_server_pending(h->server, &d), 0);
    assert_int_equal(hs.cancels, 0);

    assert_int_equal(grpc_server_tick(h->server, t0 + 100 * NS_PER_MS), UINT64_MAX);
    assert_int_equal(hs.cancels, 1);
    assert_null(hs.held[0]);
    assert_int_equal(h->hook_calls, 0); /* tick's output is the driver's to write */
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_DEADLINE_EXCEEDED, "context deadline exceeded", true);

    /* A call answered in time: its deadline goes with it. */
    uint64_t t1 = h->now_ns = t0 + NS_PER_S;
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Later", .timeout = "1S"});
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    assert_int_equal(grpc_server_tick(h->server, t1), t1 + NS_PER_S);
    t_range_reply(t_take_held(1), &req);
    t_pump(h);
    t_assert_status(st, GRPC_STATUS_OK, "");
    assert_int_equal(grpc_server_tick(h->server, t1 + 2 * NS_PER_S), UINT64_MAX);
    assert_int_equal(hs.cancels, 1);

    /* A deadline of a stream the client still sends on: reset after the status. */
    uint64_t t2 = h->now_ns = t1 + 3 * NS_PER_S;
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Echo", .timeout = "5m"});
    Etcdserverpb__PutRequest put = t_put("k", "v");
    t_write_msg(h, st, &put.base, false);
    t_pump(h);
    assert_int_equal(grpc_server_tick(h->server, t2 + 5 * NS_PER_MS), UINT64_MAX);
    assert_int_equal(hs.cancels, 2);
    t_pump(h);
    t_assert_frames(h, st, "H,D,H$,R0");
    t_assert_status(st, GRPC_STATUS_DEADLINE_EXCEEDED, "context deadline exceeded");
    t_close(h);
}

/* Many calls with deadlines at once, armed out of order (timeouts 10..22 ms): each ends at its
 * own, in order. */
static void t_deadline_round(struct h *h, uint32_t calls)
{
    uint64_t t0 = h->now_ns;
    struct t_stream *st[T_HELD_MAX];
    uint32_t held0 = hs.held_count, cancels0 = hs.cancels;
    assert_true(held0 + calls <= T_HELD_MAX);
    Etcdserverpb__RangeRequest req = t_range("k", 1);
    for (uint32_t i = 0; i < calls; i++) {
        char timeout[16];
        snprintf(timeout, sizeof timeout, "%um", 10 + (i * 7) % calls);
        st[i] = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Later", .timeout = timeout});
        t_write_msg(h, st[i], &req.base, true);
    }
    t_pump(h);
    assert_int_equal(hs.held_count, held0 + calls);
    for (uint32_t ms = 10; ms < 10 + calls; ms++) {
        uint64_t at = t0 + ms * NS_PER_MS;
        assert_int_equal(grpc_server_tick(h->server, at - 1), at);
        assert_int_equal(hs.cancels, cancels0 + ms - 10);
        grpc_server_tick(h->server, at);
        assert_int_equal(hs.cancels, cancels0 + ms - 10 + 1);
        t_pump(h);
        uint32_t i = 0;
        while (10 + (i * 7) % calls != ms)
            i++;
        t_assert_trailers_only(h, st[i], GRPC_STATUS_DEADLINE_EXCEEDED, "context deadline exceeded",
                               true);
    }
    assert_int_equal(grpc_server_tick(h->server, t0 + NS_PER_S), UINT64_MAX);
    h->now_ns = t0 + NS_PER_S;
}

static void test_deadlines_many(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    /* 7 is prime to 6 and 13: the timeouts come out of order. */
    t_deadline_round(h, 13);
    size_t after = grpc_server_memory_bytes(h->server);
    t_deadline_round(h, 3);
    /* The same headers again (the header tables hold them) and a heap that has room. */
    assert_int_equal(grpc_server_memory_bytes(h->server), after);
    t_close(h);
}

/* 8. Keepalive and the ping policy. */

static void test_keepalive_ping_unanswered(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    limits.keepalive_interval_ns = 10 * NS_PER_S;
    limits.keepalive_timeout_ns = NS_PER_S;
    struct h *h = t_open(&limits, &t_methods);
    uint64_t t0 = h->now_ns;
    assert_int_equal(grpc_server_tick(h->server, t0 + 5 * NS_PER_S), t0 + 10 * NS_PER_S);
    assert_int_equal(h->pings, 0);
    assert_int_equal(grpc_server_tick(h->server, t0 + 10 * NS_PER_S), t0 + 11 * NS_PER_S);
    t_to_client(h); /* the client reads the PING and acks it, but the ack never arrives */
    assert_int_equal(h->pings, 1);
    assert_int_equal(grpc_server_tick(h->server, t0 + 11 * NS_PER_S - 1), t0 + 11 * NS_PER_S);
    assert_false(grpc_server_done(h->server));
    grpc_server_tick(h->server, t0 + 11 * NS_PER_S);
    assert_true(grpc_server_done(h->server));
    assert_false(grpc_server_wants_read(h->server));
    assert_int_equal(h->goaways, 0); /* grpc-go closes without one */
    t_close(h);
}

static void test_keepalive_ping_answered(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    limits.keepalive_interval_ns = 10 * NS_PER_S;
    limits.keepalive_timeout_ns = NS_PER_S;
    struct h *h = t_open(&limits, &t_methods);
    uint64_t t0 = h->now_ns;
    grpc_server_tick(h->server, t0 + 10 * NS_PER_S);
    h->now_ns = t0 + 10 * NS_PER_S + 500 * NS_PER_MS;
    t_pump(h); /* PING out, its ack in */
    assert_int_equal(h->pings, 1);
    assert_int_equal(grpc_server_tick(h->server, t0 + 11 * NS_PER_S), h->now_ns + 10 * NS_PER_S);
    assert_false(grpc_server_done(h->server));
    /* Traffic of any kind counts as an answer, and delays the next ping. */
    h->now_ns += 9 * NS_PER_S;
    t_unary_call(h, "/ringdtest.Test/Unary", "k", 1);
    assert_int_equal(grpc_server_tick(h->server, h->now_ns), h->now_ns + 10 * NS_PER_S);
    assert_int_equal(h->pings, 1);
    assert_false(grpc_server_done(h->server));
    t_close(h);
}

/* Pings from the client; returns the number sent before the server had enough (0: never). */
static int t_ping_storm(struct h *h, uint64_t gap_ns, int pings)
{
    for (int i = 1; i <= pings; i++) {
        assert_int_equal(nghttp2_submit_ping(h->client, NGHTTP2_FLAG_NONE, NULL), 0);
        t_pump(h);
        if (h->goaways > 0)
            return i;
        h->now_ns += gap_ns;
    }
    return 0;
}

static void test_ping_policy(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    /* No call open: etcd does not permit pings without streams, so any two pings within 2 h
     * are a strike. The first ping has nothing before it; pings 2, 3, 4 are strikes 1, 2, 3,
     * and grpc-go's limit is 2 (maxPingStrikes): the 4th ping gets GOAWAY. */
    struct h *h = t_open(&limits, &t_methods);
    assert_int_equal(t_ping_storm(h, NS_PER_S, 10), 4);
    assert_int_equal(h->goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    assert_string_equal(h->goaway_debug, "too_many_pings");
    assert_int_equal(h->goaway_last_stream, 0);
    assert_true(h->feed_rc < 0);
    assert_true(grpc_server_done(h->server));
    t_close(h);

    /* Two hours apart is fine without a call. */
    h = t_open(&limits, &t_methods);
    assert_int_equal(t_ping_storm(h, 2 * 3600 * NS_PER_S, 10), 0);
    assert_false(grpc_server_done(h->server));
    t_close(h);

    /* With a call open, --grpc-keepalive-min-time is the bound: at it is fine, under it not. */
    h = t_open(&limits, &t_methods);
    t_unary_call(h, "/ringdtest.Test/Later", "k", 1);
    assert_int_equal(t_ping_storm(h, limits.keepalive_min_time_ns, 10), 0);
    /* The first of these is still min_time after the last one above. */
    assert_int_equal(t_ping_storm(h, limits.keepalive_min_time_ns - 1, 10), 4);
    assert_int_equal(h->goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    assert_int_equal(h->goaway_last_stream, 1);
    assert_true(grpc_server_done(h->server));
    t_close(h);
    assert_int_equal(hs.cancels, 1);

    /* HEADERS or DATA from the server between pings clear the strikes. */
    h = t_open(&limits, &t_methods);
    assert_int_equal(t_ping_storm(h, NS_PER_S, 3), 0); /* two strikes */
    t_unary_call(h, "/ringdtest.Test/Unary", "k", 1);
    assert_int_equal(t_ping_storm(h, NS_PER_S, 3), 0); /* cleared, then two again */
    assert_int_equal(t_ping_storm(h, NS_PER_S, 1), 1);
    t_close(h);
}

/* 9. Back-pressure: output over its bound stops reads until the client reads. */

static void test_back_pressure(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    limits.output_bytes_max = 256u << 10;
    struct h *h = t_new(&limits, &t_methods, 1u << 30); /* flow control is not the bound */
    t_pump(h);
    size_t idle = grpc_server_memory_bytes(h->server);
    struct t_stream *st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Flood"});
    Etcdserverpb__PutRequest put = t_put("k", "v");
    t_write_msg(h, st, &put.base, false);
    h->client_reading = false;
    t_pump(h);
    assert_int_equal(hs.flood_rc, -RINGD_EFULL);
    assert_true(hs.flood_sent >= GRPC_STREAM_SEND_BYTES_MAX / 16400 - 1);
    assert_false(grpc_server_wants_read(h->server));
    size_t held_bytes = grpc_server_memory_bytes(h->server) - idle;
    assert_true(held_bytes > limits.output_bytes_max);
    /* The session stops at its bound: the stream's queue holds the rest. */
    assert_true(held_bytes < limits.output_bytes_max + GRPC_STREAM_SEND_BYTES_MAX + (64u << 10));

    /* The client reads a block at a time: the session refills its output up to the bound as
     * long as the stream has more, so reading resumes once the stream's queue runs dry. */
    h->client_reading = true;
    size_t n, read_bytes = 0;
    uint32_t reads = 0;
    while (!grpc_server_wants_read(h->server) && (n = t_read_some(h, 0)) > 0) {
        read_bytes += n;
        reads++;
    }
    assert_true(grpc_server_wants_read(h->server));
    assert_true(read_bytes >= (size_t)hs.flood_sent * 16393 - limits.output_bytes_max);
    assert_true(reads > 1);
    t_pump(h);
    assert_int_equal(t_messages(st), hs.flood_sent);

    /* The handler may send again, and end the call. */
    struct grpc_call *call = t_take_held(0);
    assert_int_equal(grpc_call_send(call, &put.base), 0);
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
    t_pump(h);
    assert_int_equal(t_messages(st), hs.flood_sent + 1);
    t_assert_status(st, GRPC_STATUS_OK, "");
    assert_int_equal(hs.cancels, 0);
    assert_true(grpc_server_memory_bytes(h->server) < idle + 4096);
    t_close(h);
}

/* 10. Streams over SETTINGS_MAX_CONCURRENT_STREAMS are refused, the connection goes on. */

static void test_max_concurrent_streams(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    limits.max_concurrent_streams = 2;
    struct h *h = t_new(&limits, &t_methods, NGHTTP2_INITIAL_WINDOW_SIZE);
    /* The client opens three streams before it has read the server's SETTINGS (so nghttp2
     * does not hold the third back), but they reach the server after its SETTINGS ACK. */
    t_client_out(h);
    t_to_server(h);
    struct t_stream *st[3];
    Etcdserverpb__RangeRequest req = t_range("k", 1);
    for (int i = 0; i < 3; i++) {
        st[i] = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Later"});
        t_write_msg(h, st[i], &req.base, true);
    }
    t_client_out(h);
    struct t_buf streams = h->c2s;
    h->c2s = (struct t_buf){0};
    t_to_client(h);
    t_client_out(h); /* the SETTINGS ACK */
    t_buf_append(&h->c2s, streams.p, streams.len);
    free(streams.p);
    t_pump(h);

    assert_int_equal(h->goaways, 0);
    assert_int_equal(hs.held_count, 2);
    t_assert_frames(h, st[2], "R7"); /* REFUSED_STREAM: the client may retry it */
    assert_true(st[2]->closed);
    assert_int_equal(st[2]->close_code, NGHTTP2_REFUSED_STREAM);
    for (uint32_t i = 0; i < 2; i++)
        t_range_reply(t_take_held(i), &req);
    t_pump(h);
    t_assert_status(st[0], GRPC_STATUS_OK, "");
    t_assert_status(st[1], GRPC_STATUS_OK, "");
    /* With the first two done, a new stream is served. */
    struct t_stream *again = t_unary_call(h, "/ringdtest.Test/Unary", "k", 1);
    t_assert_status(again, GRPC_STATUS_OK, "");
    t_close(h);
}

/* 11. Metadata. */

static void test_metadata(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    Etcdserverpb__RangeRequest req = t_range("k", 1);

    nghttp2_nv md[GRPC_CALL_METADATA_MAX + 1];
    char names[GRPC_CALL_METADATA_MAX + 1][16];
    md[0] = t_nv("token", "secret-token");
    for (int i = 1; i <= GRPC_CALL_METADATA_MAX; i++) {
        snprintf(names[i], sizeof names[i], "x-md-%d", i);
        md[i] = t_nv(names[i], "v");
    }
    /* Eight entries: the bound, served. te, user-agent, grpc-* are not metadata. */
    struct t_stream *st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Meta",
                                                     .timeout = "10S",
                                                     .extra = md,
                                                     .extra_count = GRPC_CALL_METADATA_MAX});
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    t_assert_status(st, GRPC_STATUS_OK, "");
    assert_true(hs.token_seen);
    assert_string_equal(hs.token, "secret-token");

    /* No token. */
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Meta"});
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    t_assert_status(st, GRPC_STATUS_OK, "");
    assert_false(hs.token_seen);

    /* Nine entries, and one entry over the byte bound. */
    const char *over = "ringd: request metadata over 8 entries or 1024 bytes";
    st = t_start(h, &(struct t_req){.path = "/ringdtest.Test/Meta",
                                    .extra = md,
                                    .extra_count = GRPC_CALL_METADATA_MAX + 1});
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_RESOURCE_EXHAUSTED, over, true);
    char big[GRPC_CALL_METADATA_BYTES_MAX + 1];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    nghttp2_nv one = t_nv("token", big);
    st = t_start(h,
                 &(struct t_req){.path = "/ringdtest.Test/Meta", .extra = &one, .extra_count = 1});
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    t_assert_trailers_only(h, st, GRPC_STATUS_RESOURCE_EXHAUSTED, over, true);
    t_close(h);
}

/* 12. Bad HTTP/2. */

static void test_bad_client_preface(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct grpc_server *s = grpc_server_new(&limits, &t_methods, NULL, T_START_NS);
    assert_non_null(s);
    const char http1[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_true(grpc_server_feed(s, (const uint8_t *)http1, sizeof http1 - 1, T_START_NS) < 0);
    assert_true(grpc_server_done(s));
    assert_false(grpc_server_wants_read(s));
    grpc_server_free(s);
}

/* A frame nghttp2 rejects after a good preface: GOAWAY with the error, then done. */
static void t_bad_frame(const uint8_t *frame, size_t len, uint32_t want_code)
{
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    t_buf_append(&h->c2s, frame, len);
    t_pump(h);
    assert_int_equal(h->goaways, 1);
    assert_int_equal(h->goaway_code, want_code);
    assert_true(grpc_server_done(h->server));
    assert_false(grpc_server_wants_read(h->server));
    t_close(h);
}

static void test_bad_frames(void **state)
{
    (void)state;
    const uint8_t data_on_stream_0[] = {0, 0, 1, NGHTTP2_DATA, 0, 0, 0, 0, 0, 'x'};
    t_bad_frame(data_on_stream_0, sizeof data_on_stream_0, NGHTTP2_PROTOCOL_ERROR);
    const uint8_t short_ping[] = {0, 0, 7, NGHTTP2_PING, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7};
    t_bad_frame(short_ping, sizeof short_ping, NGHTTP2_FRAME_SIZE_ERROR);
    const uint8_t window_zero[] = {0, 0, 4, NGHTTP2_WINDOW_UPDATE, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    t_bad_frame(window_zero, sizeof window_zero, NGHTTP2_PROTOCOL_ERROR);
    const uint8_t even_stream[] = {0, 0, 0, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 0, 0, 0, 2};
    t_bad_frame(even_stream, sizeof even_stream, NGHTTP2_PROTOCOL_ERROR);
}

/* 13. Drain. */

static void test_drain(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    t_unary_call(h, "/ringdtest.Test/Unary", "k", 1);
    struct t_stream *st = t_unary_call(h, "/ringdtest.Test/Later", "k", 1);
    grpc_server_drain(h->server);
    assert_int_equal(h->hook_calls, 1); /* the GOAWAY appeared outside feed */
    grpc_server_drain(h->server);       /* idempotent */
    t_pump(h);
    assert_int_equal(h->goaways, 1);
    assert_int_equal(h->goaway_code, NGHTTP2_NO_ERROR);
    assert_int_equal(h->goaway_last_stream, st->id);
    assert_false(grpc_server_done(h->server));
    /* The open call completes. */
    Etcdserverpb__RangeRequest req = t_range("k", 1);
    t_range_reply(t_take_held(0), &req);
    t_pump(h);
    t_assert_frames(h, st, "H,D,H$");
    t_assert_status(st, GRPC_STATUS_OK, "");
    assert_true(grpc_server_done(h->server));
    assert_int_equal(h->goaways, 1);
    t_close(h);

    /* An idle session is done at once. */
    h = t_open(&limits, &t_methods);
    grpc_server_drain(h->server);
    t_pump(h);
    assert_true(grpc_server_done(h->server));
    t_close(h);
}

/* 14. Memory. */

static void test_memory(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    size_t idle = grpc_server_memory_bytes(h->server);
    print_message("idle session after the handshake: %zu bytes (%zu without nghttp2's frame "
                  "buffer)\n",
                  idle, idle - T_NGHTTP2_FRAMEBUF_BYTES);
    assert_true(idle < T_IDLE_MAX + T_NGHTTP2_FRAMEBUF_BYTES);

    /* The header tables (HPACK, 4 KiB each way) fill with the first calls' headers; then a
     * call costs nothing once it is over, with a deadline or without. */
    t_unary_call(h, "/ringdtest.Test/Unary", "k", 1);
    size_t warm = grpc_server_memory_bytes(h->server);
    print_message("after one call: %zu bytes\n", warm);
    assert_true(warm < idle + 2048);
    for (int i = 0; i < 3; i++) {
        t_unary_call(h, "/ringdtest.Test/Unary", "k", 1);
        assert_int_equal(grpc_server_memory_bytes(h->server), warm);
    }
    struct t_stream *st =
        t_start(h, &(struct t_req){.path = "/ringdtest.Test/Unary", .timeout = "5S"});
    Etcdserverpb__RangeRequest req = t_range("k", 1);
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    t_assert_status(st, GRPC_STATUS_OK, "");
    size_t after_deadline = grpc_server_memory_bytes(h->server);
    print_message("after a call with a deadline: %zu bytes\n", after_deadline);
    assert_true(after_deadline < warm + 512);
    t_close(h);
}

/* 15. :authority as etcd's clients send it on unix sockets. */

static void test_unix_authority(void **state)
{
    (void)state;
    struct grpc_server_limits limits = t_limits();
    struct h *h = t_open(&limits, &t_methods);
    struct t_stream *st = t_start(
        h, &(struct t_req){.path = "/ringdtest.Test/Unary", .authority = "unix://localhost:2379"});
    Etcdserverpb__RangeRequest req = t_range("unix", 2);
    t_write_msg(h, st, &req.base, true);
    t_pump(h);
    t_assert_frames(h, st, "H,D,H$");
    t_assert_range_reply(st, "unix", 2);
    t_assert_status(st, GRPC_STATUS_OK, "");
    t_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preface_settings),
        cmocka_unit_test(test_unary_ok),
        cmocka_unit_test(test_server_stream),
        cmocka_unit_test(test_bad_content_type_and_timeout),
        cmocka_unit_test(test_bad_paths),
        cmocka_unit_test(test_bad_encoding_and_flags),
        cmocka_unit_test(test_bad_messages),
        cmocka_unit_test(test_unary_second_message_ignored),
        cmocka_unit_test(test_etcd_methods),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_message_split),
        cmocka_unit_test(test_bidi_messages_in_one_frame),
        cmocka_unit_test(test_bidi_cut_message_cancels_handler),
        cmocka_unit_test(test_async_reply_fires_hook),
        cmocka_unit_test(test_client_reset_cancels),
        cmocka_unit_test(test_free_cancels_held_calls),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_deadlines_many),
        cmocka_unit_test(test_keepalive_ping_unanswered),
        cmocka_unit_test(test_keepalive_ping_answered),
        cmocka_unit_test(test_ping_policy),
        cmocka_unit_test(test_back_pressure),
        cmocka_unit_test(test_max_concurrent_streams),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_bad_client_preface),
        cmocka_unit_test(test_bad_frames),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_unix_authority),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    grpc_server_thread_release();
    return failed;
}
