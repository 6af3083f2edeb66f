/* The server side of one client connection: nghttp2 in, gRPC calls out; see grpc_server.h.
 * This file holds the HTTP/2 session, the pending output, deadlines and keepalive; one stream's
 * gRPC work is in grpc_call.c.
 *
 * What grpc-go (and so etcd 3.4, built with grpc-go 1.33) does and ringd does too:
 *   - SETTINGS on connect; a PING from the client answered at once (nghttp2 does it).
 *   - Keepalive: after --grpc-keepalive-interval without reading anything the server pings;
 *     if nothing is read within --grpc-keepalive-timeout after it, the connection closes.
 *   - Ping policy: a client ping sooner than --grpc-keepalive-min-time after the previous one
 *     (2 h when no call is open, as etcd does not permit pings without streams) is a strike,
 *     unless HEADERS or DATA went out since; the third strike is GOAWAY ENHANCE_YOUR_CALM
 *     "too_many_pings" and the connection closes.
 * Flow control: the connection window is given back as soon as bytes arrive; a stream's only
 * when its message is complete, so one stream holds at most one message, and unfinished
 * messages over all streams are bounded by GRPC_SERVER_INPUT_PARTIAL_MAX (grpc_call.c). */
#include "grpc_server.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_session.h"
#include "pool.h"
#include "ringd_assert.h"
#include "ringd_error.h"

/* What etcd allows pings at when no call is open: grpc-go's defaultPingTimeout. */
#define GRPC_PING_IDLE_MIN_NS (2ull * 3600 * 1000000000)
/* Strikes a client may collect before it is told to calm down (grpc-go's maxPingStrikes). */
#define GRPC_PING_STRIKES_MAX 2
/* Room for deadlines when the first call with one arrives; the heap doubles from there. Sized
 * for every call the session allows at once it would be 32 KiB, more than an idle connection's
 * whole budget, and etcd's clients give every call a deadline. */
#define GRPC_DEADLINES_FIRST 4
/* An HTTP/2 frame header: length (3 bytes), type, flags, stream id (4). */
#define GRPC_H2_FRAME_HEADER_BYTES 9
#define GRPC_H2_SETTING_BYTES      6

static _Thread_local struct pool grpc_chunk_pool;

static struct grpc_server *server_of(void *user_data)
{
    return user_data;
}

/* nghttp2's memory, counted so a connection's footprint is known (grpc_server_memory_bytes). */

static void *h2_malloc(size_t size, void *user_data)
{
    void *p = malloc(size);
    if (p != NULL)
        server_of(user_data)->h2_bytes += malloc_usable_size(p);
    return p;
}

static void h2_free(void *ptr, void *user_data)
{
    if (ptr == NULL)
        return;
    server_of(user_data)->h2_bytes -= malloc_usable_size(ptr);
    free(ptr);
}

static void *h2_calloc(size_t nmemb, size_t size, void *user_data)
{
    void *p = calloc(nmemb, size);
    if (p != NULL)
        server_of(user_data)->h2_bytes += malloc_usable_size(p);
    return p;
}

static void *h2_realloc(void *ptr, size_t size, void *user_data)
{
    struct grpc_server *s = server_of(user_data);
    size_t old = ptr != NULL ? malloc_usable_size(ptr) : 0;
    void *p = realloc(ptr, size);
    if (p != NULL || size == 0)
        s->h2_bytes = s->h2_bytes - old + (p != NULL ? malloc_usable_size(p) : 0);
    return p;
}

/* Pending output. */

static struct pool *chunk_pool(void)
{
    if (grpc_chunk_pool.object_bytes == 0)
        pool_init(&grpc_chunk_pool, sizeof(struct grpc_out_chunk), GRPC_OUT_CHUNKS_RETAINED_MAX,
                  NULL);
    return &grpc_chunk_pool;
}

static struct grpc_out_chunk *out_chunk_for_append(struct grpc_server *s)
{
    struct grpc_out_chunk *tail = s->out_tail;
    if (tail != NULL && tail->end < sizeof tail->data)
        return tail;
    struct grpc_out_chunk *c = pool_get(chunk_pool());
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->start = c->end = 0;
    if (tail != NULL)
        tail->next = c;
    else
        s->out_head = c;
    s->out_tail = c;
    return c;
}

static bool out_append(struct grpc_server *s, const uint8_t *data, size_t len)
{
    while (len > 0) {
        struct grpc_out_chunk *c = out_chunk_for_append(s);
        if (c == NULL)
            return false;
        size_t n = sizeof c->data - c->end;
        n = n < len ? n : len;
        memcpy(c->data + c->end, data, n);
        c->end += (uint32_t)n;
        s->out_bytes += n;
        data += n;
        len -= n;
    }
    return true;
}

static void out_release_all(struct grpc_server *s)
{
    while (s->out_head != NULL) {
        struct grpc_out_chunk *c = s->out_head;
        s->out_head = c->next;
        pool_put(chunk_pool(), c);
    }
    s->out_tail = NULL;
    s->out_bytes = 0;
}

/* nghttp2 callbacks. */

static ssize_t h2_send(nghttp2_session *h2, const uint8_t *data, size_t length, int flags,
                       void *user_data)
{
    (void)h2;
    (void)flags;
    struct grpc_server *s = server_of(user_data);
    if (s->out_bytes >= s->limits.output_bytes_max) {
        s->out_blocked = true;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    if (!out_append(s, data, length))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)length;
}

static struct grpc_call *call_of_stream(nghttp2_session *h2, int32_t stream_id)
{
    return nghttp2_session_get_stream_user_data(h2, stream_id);
}

static int h2_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *user_data)
{
    struct grpc_server *s = server_of(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (s->calls_count >= s->streams_max) {
        /* grpc-go refuses the stream, and the client may retry it (see server_preface). The
         * stream gets no call: its headers and data are ignored until the reset goes out. */
        if (nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                      NGHTTP2_REFUSED_STREAM) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        return 0;
    }
    struct grpc_call *c = grpc_call_new(s, frame->hd.stream_id);
    if (c == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR */
    c->next = s->calls;
    if (s->calls != NULL)
        s->calls->prev = c;
    s->calls = c;
    s->calls_count++;
    int rc = nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, c);
    ASSERT(rc == 0); /* the stream exists: nghttp2 is telling us about it */
    return 0;
}

static int h2_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                     void *user_data)
{
    (void)flags;
    (void)user_data;
    struct grpc_call *c = call_of_stream(h2, frame->hd.stream_id);
    if (c != NULL && frame->hd.type == NGHTTP2_HEADERS &&
        frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        grpc_call_on_header(c, name, name_len, value, value_len);
    return 0;
}

/* A client PING (not an ack): grpc-go's ping policy, see the top of the file. */
static void ping_police(struct grpc_server *s)
{
    uint64_t now = s->now_ns;
    bool had_previous = s->client_pinged;
    uint64_t previous = s->last_client_ping_ns;
    s->client_pinged = true;
    s->last_client_ping_ns = now;
    if (s->ping_strikes_reset) {
        s->ping_strikes_reset = false;
        s->ping_strikes = 0;
        return;
    }
    uint64_t min_ns = s->calls_count == 0 ? GRPC_PING_IDLE_MIN_NS : s->limits.keepalive_min_time_ns;
    if (had_previous && now - previous < min_ns)
        s->ping_strikes++;
    if (s->ping_strikes <= GRPC_PING_STRIKES_MAX)
        return;
    static const char debug[] = "too_many_pings";
    nghttp2_submit_goaway(s->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s->h2),
                          NGHTTP2_ENHANCE_YOUR_CALM, (const uint8_t *)debug, sizeof debug - 1);
    s->fatal = true;
}

static int h2_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user_data)
{
    struct grpc_server *s = server_of(user_data);
    bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    struct grpc_call *c = frame->hd.stream_id != 0 ? call_of_stream(h2, frame->hd.stream_id) : NULL;
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (c != NULL && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            grpc_call_on_headers_done(c, end_stream);
        else if (c != NULL && end_stream)
            grpc_call_on_half_close(c); /* trailers from the client */
        break;
    case NGHTTP2_DATA:
        if (c != NULL && end_stream)
            grpc_call_on_half_close(c);
        break;
    case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0)
            ping_police(s);
        break;
    default:
        break;
    }
    return 0;
}

static int h2_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *user_data)
{
    (void)flags;
    (void)user_data;
    /* The connection window comes back at once; the stream's when its message is done. */
    nghttp2_session_consume_connection(h2, len);
    struct grpc_call *c = call_of_stream(h2, stream_id);
    if (c != NULL)
        grpc_call_on_data(c, data, len);
    return 0;
}

static void server_unlink_call(struct grpc_server *s, struct grpc_call *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->calls = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    ASSERT(s->calls_count > 0);
    s->calls_count--;
    if (timer_armed(&c->deadline))
        timer_cancel(&s->deadlines, &c->deadline);
}

static int h2_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    (void)error_code;
    struct grpc_server *s = server_of(user_data);
    struct grpc_call *c = call_of_stream(h2, stream_id);
    if (c == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(h2, stream_id, NULL);
    grpc_call_on_close(c);
    server_unlink_call(s, c);
    grpc_call_free(c);
    return 0;
}

static int h2_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *user_data)
{
    struct grpc_server *s = server_of(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    s->ping_strikes_reset = true;
    if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        struct grpc_call *c = call_of_stream(h2, frame->hd.stream_id);
        if (c != NULL)
            grpc_call_on_trailers_sent(c);
    }
    return 0;
}

static int server_session_create(struct grpc_server *s, nghttp2_mem *mem)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -ENOMEM;
    nghttp2_session_callbacks_set_send_callback(cb, h2_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, h2_frame_send);
    nghttp2_option *opt;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return -ENOMEM;
    }
    nghttp2_option_set_no_auto_window_update(opt, 1);
    /* grpc-go checks requests far less than nghttp2's HTTP rules do: etcd's clients send
     * ":authority: unix://localhost:2379" on unix sockets, which nghttp2 would reset. The
     * checks gRPC needs are grpc_call.c's. */
    nghttp2_option_set_no_http_messaging(opt, 1);
    nghttp2_option_set_no_closed_streams(opt, 1); /* no priority tree memory for old streams */
    int rc = nghttp2_session_server_new3(&s->h2, cb, s, opt, mem);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    return rc == 0 ? 0 : -ENOMEM;
}

/* The stream window holds one whole message, so a message never waits for its own window. */
static uint32_t server_stream_window(const struct grpc_server_limits *limits)
{
    uint64_t bytes =
        (uint64_t)limits->max_request_bytes + GRPC_RECV_OVERHEAD_BYTES + GRPC_PREFIX_BYTES;
    if (bytes < GRPC_SERVER_STREAM_WINDOW_MIN)
        bytes = GRPC_SERVER_STREAM_WINDOW_MIN;
    if (bytes > NGHTTP2_MAX_WINDOW_SIZE)
        bytes = NGHTTP2_MAX_WINDOW_SIZE;
    return (uint32_t)bytes;
}

/* SETTINGS_MAX_CONCURRENT_STREAMS: --max-concurrent-streams within our bound; 0 is no limit,
 * as grpc-go takes it. */
static uint32_t server_streams_max(const struct grpc_server_limits *limits)
{
    uint32_t streams = limits->max_concurrent_streams;
    return streams == 0 || streams > GRPC_SERVER_STREAMS_MAX ? GRPC_SERVER_STREAMS_MAX : streams;
}

/* Writes streams_max into the serialised SETTINGS frame at the head of the output, over the
 * value nghttp2 was given. */
static void preface_advertise_streams(struct grpc_server *s)
{
    struct grpc_out_chunk *c = s->out_head;
    ASSERT(c != NULL && c->start == 0 && c->end >= GRPC_H2_FRAME_HEADER_BYTES);
    uint8_t *frame = c->data;
    uint32_t len = (uint32_t)frame[0] << 16 | (uint32_t)frame[1] << 8 | frame[2];
    ASSERT(frame[3] == NGHTTP2_SETTINGS && len % GRPC_H2_SETTING_BYTES == 0 &&
           GRPC_H2_FRAME_HEADER_BYTES + len <= c->end);
    for (uint32_t i = 0; i < len; i += GRPC_H2_SETTING_BYTES) {
        uint8_t *entry = frame + GRPC_H2_FRAME_HEADER_BYTES + i;
        if ((entry[0] << 8 | entry[1]) != NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
            continue;
        entry[2] = (uint8_t)(s->streams_max >> 24);
        entry[3] = (uint8_t)(s->streams_max >> 16);
        entry[4] = (uint8_t)(s->streams_max >> 8);
        entry[5] = (uint8_t)s->streams_max;
        return;
    }
    ASSERT(false); /* server_preface put the entry there */
}

/* nghttp2 enforces the SETTINGS_MAX_CONCURRENT_STREAMS it sends, once the client acknowledged
 * it, as a connection error: one stream too many and GOAWAY PROTOCOL_ERROR ends every call.
 * grpc-go refuses that one stream (RST_STREAM REFUSED_STREAM) and the client retries it. So
 * nghttp2 is given no limit, the client is sent ours (preface_advertise_streams), and
 * h2_begin_headers refuses the streams over it. */
static int server_preface(struct grpc_server *s)
{
    ASSERT(s->out_bytes == 0);
    s->streams_max = server_streams_max(&s->limits);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, UINT32_MAX}, /* nghttp2's default: none */
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, server_stream_window(&s->limits)},
    };
    int rc = nghttp2_submit_settings(s->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    if (rc == 0)
        rc = nghttp2_session_set_local_window_size(s->h2, NGHTTP2_FLAG_NONE, 0,
                                                   GRPC_SERVER_CONN_WINDOW_BYTES);
    if (rc == 0)
        rc = nghttp2_session_send(s->h2);
    if (rc != 0 || s->out_bytes == 0)
        return -ENOMEM;
    preface_advertise_streams(s);
    return 0;
}

struct grpc_server *grpc_server_new(const struct grpc_server_limits *limits,
                                    const struct grpc_method_set *methods, struct shard *shard,
                                    uint64_t now_ns)
{
    ASSERT(limits != NULL && limits->output_bytes_max > 0 && methods != NULL);
    struct grpc_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->limits = *limits;
    s->methods = methods;
    s->shard = shard;
    s->now_ns = now_ns;
    s->last_read_ns = now_ns;
    nghttp2_mem mem = {.mem_user_data = s,
                       .malloc = h2_malloc,
                       .free = h2_free,
                       .calloc = h2_calloc,
                       .realloc = h2_realloc};
    s->depth++;
    int rc = server_session_create(s, &mem);
    if (rc == 0)
        rc = server_preface(s);
    s->depth--;
    if (rc != 0) {
        grpc_server_free(s);
        return NULL;
    }
    return s;
}

void grpc_server_free(struct grpc_server *s)
{
    if (s == NULL)
        return;
    s->depth++; /* handlers cancelled below must not flush into a session being freed */
    while (s->calls != NULL) {
        struct grpc_call *c = s->calls;
        if (s->h2 != NULL)
            nghttp2_session_set_stream_user_data(s->h2, c->stream_id, NULL);
        grpc_call_on_close(c);
        server_unlink_call(s, c);
        grpc_call_free(c);
    }
    if (s->h2 != NULL)
        nghttp2_session_del(s->h2);
    ASSERT(s->h2_bytes == 0);
    out_release_all(s);
    if (s->deadlines.items != NULL)
        timer_heap_destroy(&s->deadlines);
    free(s);
}

/* Lets nghttp2 serialise what is queued; a failure here is ours (out of memory). */
static void server_produce(struct grpc_server *s)
{
    if (s->fatal && s->out_bytes == 0 && !nghttp2_session_want_write(s->h2))
        return;
    s->out_blocked = false;
    if (nghttp2_session_send(s->h2) != 0)
        s->fatal = true;
}

void grpc_server_output(struct grpc_server *s)
{
    if (s->depth > 0)
        return;
    s->depth++;
    server_produce(s);
    s->depth--;
    if (s->out_bytes > 0 && s->output_hook != NULL)
        s->output_hook(s->output_hook_arg);
}

int grpc_server_feed(struct grpc_server *s, const uint8_t *data, size_t len, uint64_t now_ns)
{
    ASSERT(s != NULL && (data != NULL || len == 0));
    s->depth++;
    s->now_ns = now_ns;
    s->last_read_ns = now_ns;
    s->ping_sent_ns = 0; /* anything read answers a keepalive ping */
    ssize_t rc = nghttp2_session_mem_recv(s->h2, data, len);
    if (rc < 0)
        s->fatal = true; /* bad client magic, flooding, out of memory: nghttp2 gave up */
    server_produce(s);
    s->depth--;
    return s->fatal ? -EPROTO : 0;
}

size_t grpc_server_pending(struct grpc_server *s, const uint8_t **data)
{
    ASSERT(s != NULL && data != NULL);
    struct grpc_out_chunk *c = s->out_head;
    if (c == NULL)
        return 0;
    ASSERT(c->start < c->end);
    *data = c->data + c->start;
    return c->end - c->start;
}

void grpc_server_sent(struct grpc_server *s, size_t n)
{
    ASSERT(n <= s->out_bytes);
    while (n > 0) {
        struct grpc_out_chunk *c = s->out_head;
        size_t take = c->end - c->start;
        take = take < n ? take : n;
        c->start += (uint32_t)take;
        s->out_bytes -= take;
        n -= take;
        if (c->start < c->end)
            break;
        s->out_head = c->next;
        if (s->out_head == NULL)
            s->out_tail = NULL;
        pool_put(chunk_pool(), c);
    }
    if (s->out_blocked) {
        s->depth++;
        server_produce(s);
        s->depth--;
    }
}

bool grpc_server_wants_read(const struct grpc_server *s)
{
    return !s->fatal && s->out_bytes < s->limits.output_bytes_max &&
           nghttp2_session_want_read(s->h2);
}

bool grpc_server_done(const struct grpc_server *s)
{
    return s->fatal || (!nghttp2_session_want_read(s->h2) && !nghttp2_session_want_write(s->h2));
}

void grpc_server_drain(struct grpc_server *s)
{
    if (s->draining || s->fatal)
        return;
    s->draining = true;
    nghttp2_submit_goaway(s->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s->h2),
                          NGHTTP2_NO_ERROR, NULL, 0);
    grpc_server_output(s);
}

static void deadline_fire(struct timer *t, uint64_t now_ns)
{
    (void)now_ns;
    struct grpc_call *c = (struct grpc_call *)((char *)t - offsetof(struct grpc_call, deadline));
    grpc_call_on_deadline(c);
}

/* Moves the deadlines into a heap of twice the room (the first holds GRPC_DEADLINES_FIRST),
 * never more than the calls the session allows. Returns 0 or -ENOMEM. */
static int deadlines_grow(struct grpc_server *s)
{
    struct timer_heap *old = &s->deadlines;
    uint32_t capacity = old->items == NULL ? GRPC_DEADLINES_FIRST : 2 * old->capacity;
    capacity = capacity < s->streams_max ? capacity : s->streams_max;
    ASSERT(old->items == NULL || capacity > old->capacity);
    struct timer_heap bigger;
    if (timer_heap_init(&bigger, capacity) != 0)
        return -ENOMEM;
    while (old->count > 0) {
        struct timer *t = old->items[0];
        uint64_t deadline_ns = t->deadline_ns;
        timer_fn fn = t->fn;
        timer_cancel(old, t);
        int rc = timer_arm(&bigger, t, deadline_ns, fn);
        ASSERT(rc == 0);
    }
    if (old->items != NULL)
        timer_heap_destroy(old);
    *old = bigger;
    return 0;
}

int grpc_server_deadline_arm(struct grpc_server *s, struct grpc_call *c)
{
    /* The call is open and not armed yet, so fewer than streams_max deadlines are: a full heap
     * can always grow. */
    bool full = s->deadlines.count == s->deadlines.capacity;
    ASSERT(timer_armed(&c->deadline) || s->deadlines.count < s->streams_max);
    if (full && !timer_armed(&c->deadline) && deadlines_grow(s) != 0)
        return -ENOMEM;
    return timer_arm(&s->deadlines, &c->deadline, c->deadline_ns, deadline_fire);
}

/* Keepalive: ping after an idle interval; close when the ping goes unanswered. Returns when it
 * wants to run next. */
static uint64_t keepalive_check(struct grpc_server *s, uint64_t now_ns)
{
    if (s->limits.keepalive_interval_ns == 0 || s->fatal)
        return UINT64_MAX;
    if (s->ping_sent_ns != 0) {
        uint64_t give_up_ns = s->ping_sent_ns + s->limits.keepalive_timeout_ns;
        if (now_ns < give_up_ns)
            return give_up_ns;
        s->fatal = true; /* grpc-go closes without a GOAWAY */
        return UINT64_MAX;
    }
    uint64_t ping_ns = s->last_read_ns + s->limits.keepalive_interval_ns;
    if (now_ns < ping_ns)
        return ping_ns;
    nghttp2_submit_ping(s->h2, NGHTTP2_FLAG_NONE, NULL);
    s->ping_sent_ns = now_ns;
    return now_ns + s->limits.keepalive_timeout_ns;
}

uint64_t grpc_server_tick(struct grpc_server *s, uint64_t now_ns)
{
    ASSERT(s != NULL);
    s->depth++;
    s->now_ns = now_ns;
    if (s->deadlines.items != NULL)
        timer_expire(&s->deadlines, now_ns);
    uint64_t next_ns = keepalive_check(s, now_ns);
    server_produce(s);
    s->depth--;
    if (s->deadlines.items != NULL) {
        uint64_t deadline_ns = timer_next_deadline_ns(&s->deadlines);
        next_ns = deadline_ns < next_ns ? deadline_ns : next_ns;
    }
    return next_ns;
}

void grpc_server_set_output_hook(struct grpc_server *s, void (*hook)(void *arg), void *arg)
{
    s->output_hook = hook;
    s->output_hook_arg = arg;
}

size_t grpc_server_memory_bytes(const struct grpc_server *s)
{
    size_t bytes = malloc_usable_size((void *)s) + s->h2_bytes;
    for (const struct grpc_out_chunk *c = s->out_head; c != NULL; c = c->next)
        bytes += malloc_usable_size((void *)c);
    for (const struct grpc_call *c = s->calls; c != NULL; c = c->next)
        bytes += grpc_call_memory_bytes(c);
    if (s->deadlines.items != NULL)
        bytes += malloc_usable_size(s->deadlines.items);
    return bytes;
}

void grpc_server_thread_release(void)
{
    pool_drain(chunk_pool());
    grpc_call_pool_drain();
}
