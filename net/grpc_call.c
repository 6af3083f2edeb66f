/* One gRPC call on a server session: request headers, message assembly and dispatch to the
 * method table's handler, and the response (headers, messages, trailers). See grpc_call.h for
 * the handler's side and grpc_session.h for the session's.
 *
 * Answers to bad requests are grpc-go 1.33's (etcd 3.4.23), checked against a running etcd:
 *   content-type missing or not application/grpc[+;...]   RST_STREAM PROTOCOL_ERROR
 *   grpc-timeout malformed                                 RST_STREAM PROTOCOL_ERROR
 *   :path without a '/' after the first character          RESOURCE_EXHAUSTED
 *                                                         "malformed method name: \"/x\""
 *   unknown service / method                               UNIMPLEMENTED "unknown service S",
 *                                                         "unknown method M for service S"
 *   any call with a grpc-encoding other than identity      UNIMPLEMENTED "grpc: Decompressor is
 *   (etcd installs no decompressor)                       not installed for grpc-encoding \"x\""
 *   message above --max-request-bytes + 512 KiB            RESOURCE_EXHAUSTED "grpc: received
 *                                                         message larger than max (N vs. M)"
 *   compressed flag with no grpc-encoding                  INTERNAL "grpc: compressed flag set
 *                                                         with identity or empty encoding"
 *   flags byte other than 0 or 1                           INTERNAL "grpc: received unexpected
 *                                                         payload format N"
 *   a protobuf that does not decode                        INTERNAL "grpc: error unmarshalling
 *                                                         request: unexpected EOF"
 *   stream ends inside a message                           UNKNOWN "unexpected EOF"
 *   unary stream ends without a message                    UNKNOWN "EOF"
 *   anything after the first message of a unary or         never read (not even its prefix)
 *   server-streaming call
 * A status sent while the client has not half-closed is followed by RST_STREAM NO_ERROR. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_view.h"
#include "etcdserverpb/rpc.pb-c.h"
#include "go_quote.h"
#include "grpc_error.h"
#include "grpc_session.h"
#include "pb_nesting.h"
#include "pool.h"
#include "ringd_assert.h"
#include "ringd_error.h"
#include "shard.h"

#define GRPC_DEADLINE_EXCEEDED_MESSAGE "context deadline exceeded"
/* Bytes of one status message we build (a quoted :path is the longest part). */
#define GRPC_STATUS_TEXT_BYTES (4 * GRPC_CALL_PATH_BYTES_MAX + 128)

static _Thread_local struct pool grpc_call_pool;

static void call_release(void *obj)
{
    struct grpc_call *c = obj;
    free(c->in);
    free(c->out);
}

static struct pool *call_pool(void)
{
    if (grpc_call_pool.object_bytes == 0)
        pool_init(&grpc_call_pool, sizeof(struct grpc_call), GRPC_CALLS_RETAINED_MAX, call_release);
    return &grpc_call_pool;
}

struct grpc_call *grpc_call_new(struct grpc_server *s, int32_t stream_id)
{
    struct grpc_call *c = pool_get(call_pool());
    if (c == NULL)
        return NULL;
    /* A kept call comes with the buffers it kept; a fresh one is zeroed. */
    uint8_t *in = c->in, *out = c->out;
    uint32_t in_cap = c->in_cap;
    size_t out_cap = c->out_cap;
    memset(c, 0, sizeof *c);
    c->in = in;
    c->in_cap = in_cap;
    c->out = out;
    c->out_cap = out_cap;
    c->s = s;
    c->stream_id = stream_id;
    c->state = GRPC_CALL_HEADERS;
    return c;
}

void grpc_call_free(struct grpc_call *c)
{
    ASSERT(!timer_armed(&c->deadline));
    free(c->status_message);
    if (c->in_cap > GRPC_CALL_RETAIN_BYTES) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    if (c->out_cap > GRPC_CALL_RETAIN_BYTES) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    pool_put(call_pool(), c);
}

void grpc_call_pool_drain(void)
{
    pool_drain(call_pool());
}

size_t grpc_call_memory_bytes(const struct grpc_call *c)
{
    return malloc_usable_size((void *)c) + c->in_cap + c->out_cap;
}

/* The response. */

static void nv_set(nghttp2_nv *nv, const char *name, const char *value, bool copy_value)
{
    *nv =
        (nghttp2_nv){.name = (uint8_t *)name,
                     .value = (uint8_t *)value,
                     .namelen = strlen(name),
                     .valuelen = strlen(value),
                     .flags = NGHTTP2_NV_FLAG_NO_COPY_NAME |
                              (copy_value ? NGHTTP2_NV_FLAG_NONE : NGHTTP2_NV_FLAG_NO_COPY_VALUE)};
}

static const char *status_text(enum grpc_status status)
{
    static const char *const texts[] = {"0", "1",  "2",  "3",  "4",  "5",  "6",  "7", "8",
                                        "9", "10", "11", "12", "13", "14", "15", "16"};
    ASSERT((unsigned)status < sizeof texts / sizeof texts[0]);
    return texts[status];
}

/* grpc-status and grpc-message (grpc-go sends the message header even when it is empty). */
static size_t call_status_nv(const struct grpc_call *c, nghttp2_nv *nv)
{
    nv_set(&nv[0], "grpc-status", status_text(c->status), false);
    nv_set(&nv[1], "grpc-message", c->status_message != NULL ? c->status_message : "", true);
    return 2;
}

static size_t call_headers_nv(const struct grpc_call *c, nghttp2_nv *nv)
{
    nv_set(&nv[0], ":status", "200", false);
    nv_set(&nv[1], "content-type", c->content_type, true);
    return 2;
}

static ssize_t call_data_read(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
                              uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)user_data;
    struct grpc_call *c = source->ptr;
    ASSERT(c->stream_id == stream_id);
    size_t avail = c->out_len - c->out_off;
    size_t n = avail < length ? avail : length;
    memcpy(buf, c->out + c->out_off, n);
    c->out_off += n;
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (n < avail)
        return (ssize_t)n;
    if (c->state == GRPC_CALL_FINISHED) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv nv[2];
        if (nghttp2_submit_trailer(h2, stream_id, nv, call_status_nv(c, nv)) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        return (ssize_t)n;
    }
    if (n > 0)
        return (ssize_t)n;
    c->data_deferred = true;
    return NGHTTP2_ERR_DEFERRED;
}

/* Submits the response headers with the data provider that streams c->out. */
static void call_response_start(struct grpc_call *c)
{
    ASSERT(!c->response_started);
    c->response_started = true;
    nghttp2_nv nv[2];
    nghttp2_data_provider provider = {.source.ptr = c, .read_callback = call_data_read};
    if (nghttp2_submit_response(c->s->h2, c->stream_id, nv, call_headers_nv(c, nv), &provider) != 0)
        c->s->fatal = true; /* out of memory inside nghttp2 */
}

/* HEADERS with the status and END_STREAM: the answer of a call that sent no message. */
static void call_trailers_only(struct grpc_call *c)
{
    nghttp2_nv nv[4];
    size_t n = call_headers_nv(c, nv);
    n += call_status_nv(c, nv + n);
    if (nghttp2_submit_response(c->s->h2, c->stream_id, nv, n, NULL) != 0)
        c->s->fatal = true;
}

/* Ends the call with status and message (not percent-encoded yet; NULL for none). The call may
 * be freed by the time this returns (when called outside a session callback). */
static void call_end(struct grpc_call *c, enum grpc_status status, const char *message)
{
    ASSERT(c->state == GRPC_CALL_OPEN || c->state == GRPC_CALL_HEADERS);
    struct grpc_server *s = c->s;
    c->state = GRPC_CALL_FINISHED;
    c->handler_owns = false;
    c->status = status;
    if (message != NULL && message[0] != '\0') {
        size_t cap = 3 * strlen(message) + 1;
        c->status_message = malloc(cap);
        if (c->status_message != NULL)
            grpc_message_encode(c->status_message, cap, message);
    }
    if (timer_armed(&c->deadline))
        timer_cancel(&s->deadlines, &c->deadline);
    if (c->response_started) {
        if (c->data_deferred && nghttp2_session_resume_data(s->h2, c->stream_id) == 0)
            c->data_deferred = false;
    } else if (c->out_len > c->out_off) {
        call_response_start(c);
    } else {
        call_trailers_only(c);
    }
    grpc_server_output(s); /* last: c may be freed inside */
}

/* Room for one framed message of size bytes at the end of the output; returns where its body
 * goes, or NULL when memory ran out. */
static uint8_t *call_frame_room(struct grpc_call *c, size_t size)
{
    ASSERT(size <= UINT32_MAX - GRPC_PREFIX_BYTES); /* our own responses */
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    size_t need = c->out_len + GRPC_PREFIX_BYTES + size;
    if (need > c->out_cap) {
        size_t cap = c->out_cap > 0 ? c->out_cap : 256;
        while (cap < need)
            cap *= 2;
        uint8_t *out = realloc(c->out, cap);
        if (out == NULL)
            return NULL;
        c->out = out;
        c->out_cap = cap;
    }
    uint8_t *frame = c->out + c->out_len;
    grpc_prefix_write(frame, GRPC_PREFIX_PLAIN, (uint32_t)size);
    c->out_len = need;
    return frame + GRPC_PREFIX_BYTES;
}

/* Appends one framed message. Returns 0, or -ENOMEM. */
static int call_queue_message(struct grpc_call *c, const ProtobufCMessage *msg)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *body = call_frame_room(c, size);
    if (body == NULL)
        return -ENOMEM;
    size_t packed = protobuf_c_message_pack(msg, body);
    ASSERT(packed == size);
    return 0;
}

/* The handler's side (grpc_call.h). */

const struct grpc_method *grpc_call_method(const struct grpc_call *call)
{
    return call->method;
}

struct shard *grpc_call_shard(const struct grpc_call *call)
{
    return call->s->shard;
}

const char *grpc_call_metadata(const struct grpc_call *call, const char *name)
{
    for (uint32_t i = 0; i < call->md_count; i++) {
        if (strcmp(call->md_bytes + call->md[i].name_off, name) == 0)
            return call->md_bytes + call->md[i].value_off;
    }
    return NULL;
}

uint64_t grpc_call_deadline_ns(const struct grpc_call *call)
{
    return call->deadline_ns;
}

void *grpc_call_user(const struct grpc_call *call)
{
    return call->user;
}

void grpc_call_set_user(struct grpc_call *call, void *user)
{
    call->user = user;
}

const uint8_t *grpc_call_request_bytes(const struct grpc_call *call, size_t *len)
{
    ASSERT(call->request_bytes != NULL); /* only inside on_message */
    *len = call->request_len;
    return call->request_bytes;
}

void grpc_call_reply_bytes(struct grpc_call *call, const uint8_t *bytes, size_t len)
{
    ASSERT(call->state == GRPC_CALL_OPEN && call->handler_owns);
    uint8_t *body = call_frame_room(call, len);
    if (body == NULL) {
        call_end(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "ringd: out of memory for the response");
        return;
    }
    if (len > 0)
        memcpy(body, bytes, len);
    call_end(call, GRPC_STATUS_OK, NULL);
}

void grpc_call_reply(struct grpc_call *call, const ProtobufCMessage *response)
{
    ASSERT(call->state == GRPC_CALL_OPEN && call->handler_owns);
    if (call_queue_message(call, response) != 0) {
        call_end(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "ringd: out of memory for the response");
        return;
    }
    call_end(call, GRPC_STATUS_OK, NULL);
}

int grpc_call_send(struct grpc_call *call, const ProtobufCMessage *response)
{
    ASSERT(call->state == GRPC_CALL_OPEN && call->handler_owns);
    ASSERT(call->method->kind == GRPC_SERVER_STREAM || call->method->kind == GRPC_BIDI_STREAM);
    size_t queued = call->out_len - call->out_off;
    if (queued > 0 && queued + protobuf_c_message_get_packed_size(response) + GRPC_PREFIX_BYTES >
                          GRPC_STREAM_SEND_BYTES_MAX)
        return -RINGD_EFULL;
    if (call_queue_message(call, response) != 0)
        return -ENOMEM;
    if (!call->response_started)
        call_response_start(call);
    else if (call->data_deferred && nghttp2_session_resume_data(call->s->h2, call->stream_id) == 0)
        call->data_deferred = false;
    grpc_server_output(call->s);
    return 0;
}

void grpc_call_finish(struct grpc_call *call, enum grpc_status status, const char *message)
{
    ASSERT(call->state == GRPC_CALL_OPEN && call->handler_owns);
    call_end(call, status, message);
}

/* Request headers. */

static void call_copy_text(char *dst, size_t dst_bytes, const uint8_t *src, size_t len)
{
    size_t n = len < dst_bytes - 1 ? len : dst_bytes - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Keeps one metadata entry; too many or too large marks the call to fail. */
static void call_metadata_add(struct grpc_call *c, const uint8_t *name, size_t name_len,
                              const uint8_t *value, size_t value_len)
{
    size_t need = name_len + 1 + value_len + 1;
    if (c->md_count == GRPC_CALL_METADATA_MAX || need > sizeof c->md_bytes - c->md_used) {
        c->metadata_full = true;
        return;
    }
    struct grpc_call_md *md = &c->md[c->md_count++];
    md->name_off = c->md_used;
    memcpy(c->md_bytes + c->md_used, name, name_len);
    c->md_bytes[c->md_used + name_len] = '\0';
    md->value_off = (uint16_t)(c->md_used + name_len + 1);
    memcpy(c->md_bytes + md->value_off, value, value_len);
    c->md_bytes[md->value_off + value_len] = '\0';
    c->md_used = (uint16_t)(c->md_used + need);
}

static bool name_is(const uint8_t *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

static void call_on_timeout(struct grpc_call *c, const uint8_t *value, size_t len)
{
    uint64_t timeout_ns;
    if (grpc_timeout_parse((const char *)value, len, &timeout_ns) != 0) {
        c->headers_bad = true;
        return;
    }
    uint64_t now_ns = c->s->now_ns;
    c->deadline_ns = timeout_ns > UINT64_MAX - now_ns ? UINT64_MAX : now_ns + timeout_ns;
}

void grpc_call_on_header(struct grpc_call *c, const uint8_t *name, size_t name_len,
                         const uint8_t *value, size_t value_len)
{
    if (c->state != GRPC_CALL_HEADERS)
        return;
    if (name_is(name, name_len, ":path")) {
        call_copy_text(c->path, sizeof c->path, value, value_len);
        c->path_len = (uint16_t)strlen(c->path);
    } else if (name_is(name, name_len, "content-type")) {
        c->content_type_ok = grpc_content_type_valid((const char *)value, value_len);
        if (value_len < sizeof c->content_type)
            call_copy_text(c->content_type, sizeof c->content_type, value, value_len);
        else
            snprintf(c->content_type, sizeof c->content_type, "application/grpc");
    } else if (name_is(name, name_len, "grpc-timeout")) {
        call_on_timeout(c, value, value_len);
    } else if (name_is(name, name_len, "grpc-encoding")) {
        call_copy_text(c->encoding, sizeof c->encoding, value, value_len);
    } else if (name_len > 0 && name[0] != ':' && !name_is(name, name_len, "te") &&
               !name_is(name, name_len, "user-agent") &&
               !name_is(name, name_len, "grpc-accept-encoding")) {
        call_metadata_add(c, name, name_len, value, value_len);
    }
}

/* The handler loses the call: it must drop every reference to it. */
static void call_cancel_handler(struct grpc_call *c)
{
    if (!c->handler_owns)
        return;
    c->handler_owns = false;
    if (c->method->on_cancel != NULL)
        c->method->on_cancel(c);
}

/* Ends a call the transport answers itself. A handler holding the call (a stream whose next
 * message is bad or cut short) loses it first: it would otherwise answer a finished call. */
static void call_fail(struct grpc_call *c, enum grpc_status status, const char *message)
{
    call_cancel_handler(c);
    call_end(c, status, message);
}

static void call_reset(struct grpc_call *c, uint32_t error_code)
{
    c->state = GRPC_CALL_RESET;
    if (nghttp2_submit_rst_stream(c->s->h2, NGHTTP2_FLAG_NONE, c->stream_id, error_code) != 0)
        c->s->fatal = true;
}

static bool encoding_is_identity(const struct grpc_call *c)
{
    return c->encoding[0] == '\0' || strcmp(c->encoding, "identity") == 0;
}

/* Finds the method for :path, or fails the call as grpc-go does. */
static const struct grpc_method *call_resolve(struct grpc_call *c)
{
    const struct grpc_method *m = grpc_method_find(c->s->methods, c->path, c->path_len);
    if (m != NULL)
        return m;
    char text[GRPC_STATUS_TEXT_BYTES];
    const char *sm = c->path[0] == '/' ? c->path + 1 : c->path;
    const char *slash = strrchr(sm, '/');
    if (slash == NULL) {
        char quoted[4 * GRPC_CALL_PATH_BYTES_MAX];
        go_quote(quoted, sizeof quoted, c->path, c->path_len);
        snprintf(text, sizeof text, "malformed method name: %s", quoted);
        call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, text);
        return NULL;
    }
    int service_len = (int)(slash - sm);
    if (grpc_method_service_known(c->s->methods, sm, (size_t)service_len))
        snprintf(text, sizeof text, "unknown method %s for service %.*s", slash + 1, service_len,
                 sm);
    else
        snprintf(text, sizeof text, "unknown service %.*s", service_len, sm);
    call_fail(c, GRPC_STATUS_UNIMPLEMENTED, text);
    return NULL;
}

/* What is answered before any message: ringd's bounds, an encoding a unary call cannot take.
 * Returns false when the call was ended. */
static bool call_admit(struct grpc_call *c)
{
    char text[GRPC_STATUS_TEXT_BYTES];
    if (c->metadata_full) {
        snprintf(text, sizeof text, "ringd: request metadata over %d entries or %d bytes",
                 GRPC_CALL_METADATA_MAX, GRPC_CALL_METADATA_BYTES_MAX);
        call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, text);
        return false;
    }
    /* grpc-go's processUnaryRPC and processStreamingRPC both look the decompressor up before
     * the handler runs. */
    if (!encoding_is_identity(c)) {
        char quoted[4 * GRPC_CALL_ENCODING_BYTES];
        go_quote(quoted, sizeof quoted, c->encoding, strlen(c->encoding));
        snprintf(text, sizeof text, "grpc: Decompressor is not installed for grpc-encoding %s",
                 quoted);
        call_fail(c, GRPC_STATUS_UNIMPLEMENTED, text);
        return false;
    }
    if (c->deadline_ns != 0 && grpc_server_deadline_arm(c->s, c) != 0) {
        call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "ringd: out of memory for deadlines");
        return false;
    }
    return true;
}

void grpc_call_on_headers_done(struct grpc_call *c, bool end_stream)
{
    if (c->state != GRPC_CALL_HEADERS)
        return;
    /* Known before any answer below: the stream of a call answered at its headers must not be
     * reset (grpc_call_on_trailers_sent) when the client closed its side with them. */
    c->half_closed = end_stream;
    if (c->headers_bad || !c->content_type_ok) {
        call_reset(c, NGHTTP2_PROTOCOL_ERROR);
        return;
    }
    c->state = GRPC_CALL_OPEN;
    c->method = call_resolve(c);
    if (c->method == NULL || !call_admit(c))
        return;
    if (end_stream)
        grpc_call_on_half_close(c);
}

/* Request messages. */

/* Gives the stream's window back for bytes no longer held. */
static void call_consume(struct grpc_call *c, size_t len)
{
    if (len > 0)
        nghttp2_session_consume_stream(c->s->h2, c->stream_id, len);
}

/* The flags byte of a complete message, as grpc-go's checkRecvPayload judges it. Returns false
 * when the call was ended. */
static bool call_payload_ok(struct grpc_call *c)
{
    char text[GRPC_STATUS_TEXT_BYTES];
    uint8_t flags = c->prefix[0];
    if (flags == GRPC_PREFIX_PLAIN)
        return true;
    /* A call naming an encoding was refused at its headers (call_admit). */
    ASSERT(encoding_is_identity(c));
    if (flags == GRPC_PREFIX_COMPRESSED) {
        call_fail(c, GRPC_STATUS_INTERNAL,
                  "grpc: compressed flag set with identity or empty encoding");
        return false;
    }
    snprintf(text, sizeof text, "grpc: received unexpected payload format %u", flags);
    call_fail(c, GRPC_STATUS_INTERNAL, text);
    return false;
}

/* Unary and server-streaming calls take one message: grpc-go never reads past it, so nothing
 * after it is looked at (its prefix, size, flags, a cut end) and none of it can fail a call the
 * handler may hold. */
static bool call_reads_more(const struct grpc_call *c)
{
    bool single = c->method->kind == GRPC_UNARY || c->method->kind == GRPC_SERVER_STREAM;
    return !single || !c->got_message;
}

/* etcd's interceptors, in their order: a learner serves Status and serializable ranges only
 * (isRPCSupportedForLearner); a call with metadata "hasleader: true" (clientv3's
 * WithRequireLeader) fails while this member knows no leader. Returns 0 or the error. */
static int call_interceptor_refuses(const struct grpc_call *c, const ProtobufCMessage *msg)
{
    const struct shard *s = c->s->shard;
    if (s == NULL || s->common->view == NULL)
        return 0;
    const struct cluster_view *v = s->common->view;
    bool learner_ok = msg->descriptor == &etcdserverpb__status_request__descriptor ||
                      (msg->descriptor == &etcdserverpb__range_request__descriptor &&
                       ((const Etcdserverpb__RangeRequest *)msg)->serializable);
    if (cluster_view_is_learner(v) && !learner_ok)
        return -RINGD_ENOT_SUPPORTED_FOR_LEARNER;
    if (cluster_view_leader_id(v) != 0)
        return 0; /* the metadata is looked up only when it could matter */
    const char *has_leader = grpc_call_metadata(c, "hasleader");
    return has_leader != NULL && strcmp(has_leader, "true") == 0 ? -RINGD_ENO_LEADER : 0;
}

/* One complete request message: decode it and hand it to the handler. */
static void call_deliver(struct grpc_call *c, const uint8_t *bytes, size_t len)
{
    ASSERT(call_reads_more(c));
    c->got_message = true;
    if (!call_payload_ok(c))
        return;
    const struct grpc_method *m = c->method;
    if (m->proposal && len > c->s->limits.max_request_bytes) {
        enum grpc_status status;
        const char *text;
        grpc_error_status(-RINGD_EREQUEST_TOO_LARGE, &status, &text);
        call_fail(c, status, text);
        return;
    }
    if (!pb_nesting_within(m->request, bytes, len, GRPC_DECODE_DEPTH_MAX)) {
        call_fail(c, GRPC_STATUS_INTERNAL,
                  "grpc: error unmarshalling request: proto: exceeded maximum recursion depth");
        return;
    }
    ProtobufCMessage *msg = protobuf_c_message_unpack(m->request, NULL, len, bytes);
    if (msg == NULL) {
        call_fail(c, GRPC_STATUS_INTERNAL, "grpc: error unmarshalling request: unexpected EOF");
        return;
    }
    if (m->on_message == NULL) {
        /* Checked here, not at the headers, so a request ringd cannot serve yet still meets
         * every check a served one does (size, decoding) and fails the same way. */
        protobuf_c_message_free_unpacked(msg, NULL);
        char text[GRPC_STATUS_TEXT_BYTES];
        snprintf(text, sizeof text, "ringd: %s is not implemented yet", m->path);
        call_fail(c, GRPC_STATUS_UNIMPLEMENTED, text);
        return;
    }
    int refused = call_interceptor_refuses(c, msg);
    if (refused < 0) {
        protobuf_c_message_free_unpacked(msg, NULL);
        enum grpc_status status;
        const char *text;
        grpc_error_status(refused, &status, &text);
        call_fail(c, status, text);
        return;
    }
    c->handler_owns = true;
    c->request_bytes = bytes;
    c->request_len = len;
    m->on_message(c, msg);
    c->request_bytes = NULL; /* the call may be over, but it is not freed inside a feed */
    protobuf_c_message_free_unpacked(msg, NULL);
}

/* The prefix is complete: check the length before any of the body is taken. Returns false when
 * the call was ended. */
static bool call_prefix_done(struct grpc_call *c)
{
    uint64_t max = (uint64_t)c->s->limits.max_request_bytes + GRPC_RECV_OVERHEAD_BYTES;
    if (max > INT32_MAX)
        max = INT32_MAX; /* grpc-go's bound is a Go int: etcd caps it the same way */
    c->body_len = grpc_prefix_length(c->prefix);
    if (c->body_len <= max)
        return true;
    char text[GRPC_STATUS_TEXT_BYTES];
    snprintf(text, sizeof text, "grpc: received message larger than max (%u vs. %llu)", c->body_len,
             (unsigned long long)max);
    call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, text);
    return false;
}

/* Copies body bytes into the call's buffer. Returns false when the call was ended. */
static bool call_buffer(struct grpc_call *c, const uint8_t *data, size_t n)
{
    struct grpc_server *s = c->s;
    if (s->input_partial_bytes + n > GRPC_SERVER_INPUT_PARTIAL_MAX) {
        call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
                  "ringd: too many bytes of unfinished messages on this connection");
        return false;
    }
    if (c->in_cap < c->body_len) {
        uint8_t *in = realloc(c->in, c->body_len);
        if (in == NULL) {
            call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "ringd: out of memory for the request");
            return false;
        }
        c->in = in;
        c->in_cap = c->body_len;
    }
    memcpy(c->in + c->in_len, data, n);
    c->in_len += (uint32_t)n;
    s->input_partial_bytes += n;
    return true;
}

/* Takes bytes of the body; returns how many. Delivers the message once complete. */
static size_t call_take_body(struct grpc_call *c, const uint8_t *data, size_t len)
{
    size_t need = c->body_len - c->in_len;
    size_t n = need < len ? need : len;
    c->unconsumed += (uint32_t)n;
    if (c->in_len == 0 && n == need) {
        call_deliver(c, data, n); /* the whole body is here: no copy */
    } else {
        if (!call_buffer(c, data, n))
            return n;
        if (c->in_len < c->body_len)
            return n;
        c->s->input_partial_bytes -= c->in_len;
        c->in_len = 0;
        call_deliver(c, c->in, c->body_len);
    }
    c->prefix_len = 0;
    call_consume(c, c->unconsumed);
    c->unconsumed = 0;
    return n;
}

static void call_drop_partial(struct grpc_call *c)
{
    c->s->input_partial_bytes -= c->in_len;
    c->in_len = 0;
    call_consume(c, c->unconsumed);
    c->unconsumed = 0;
}

void grpc_call_on_data(struct grpc_call *c, const uint8_t *data, size_t len)
{
    while (len > 0 && c->state == GRPC_CALL_OPEN && call_reads_more(c)) {
        size_t n;
        if (c->prefix_len < GRPC_PREFIX_BYTES) {
            n = GRPC_PREFIX_BYTES - c->prefix_len;
            n = n < len ? n : len;
            memcpy(c->prefix + c->prefix_len, data, n);
            c->prefix_len = (uint8_t)(c->prefix_len + n);
            c->unconsumed += (uint32_t)n;
            if (c->prefix_len == GRPC_PREFIX_BYTES && call_prefix_done(c) && c->body_len == 0)
                call_take_body(c, data + n, 0);
        } else {
            n = call_take_body(c, data, len);
        }
        data += n;
        len -= n;
    }
    if (c->state != GRPC_CALL_OPEN)
        call_drop_partial(c);
    call_consume(c, len); /* the call is over, or took its one message: the rest is dropped */
}

void grpc_call_on_half_close(struct grpc_call *c)
{
    c->half_closed = true;
    if (c->state != GRPC_CALL_OPEN)
        return;
    const struct grpc_method *m = c->method;
    if (c->prefix_len > 0) {
        call_fail(c, GRPC_STATUS_UNKNOWN, "unexpected EOF");
        return;
    }
    if (m->kind == GRPC_UNARY || m->kind == GRPC_SERVER_STREAM) {
        if (!c->got_message)
            call_fail(c, GRPC_STATUS_UNKNOWN, "EOF");
        return;
    }
    if (m->on_half_close != NULL) {
        c->handler_owns = true;
        m->on_half_close(c);
    }
}

void grpc_call_on_deadline(struct grpc_call *c)
{
    if (c->state != GRPC_CALL_OPEN)
        return;
    call_fail(c, GRPC_STATUS_DEADLINE_EXCEEDED, GRPC_DEADLINE_EXCEEDED_MESSAGE);
}

void grpc_call_on_close(struct grpc_call *c)
{
    call_cancel_handler(c);
    c->s->input_partial_bytes -= c->in_len; /* the stream is gone: no window to give back */
    c->in_len = 0;
    c->state = GRPC_CALL_RESET;
}

void grpc_call_on_trailers_sent(struct grpc_call *c)
{
    /* grpc-go resets a stream it answered before the client finished sending. */
    if (!c->half_closed && c->state == GRPC_CALL_FINISHED)
        call_reset(c, NGHTTP2_NO_ERROR);
}
