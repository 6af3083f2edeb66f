#include "peer.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "cluster_id.h"
#include "listen.h"
#include "log.h"
#include "peer_internal.h"
#include "ringd_assert.h"
#include "ringd_grow.h"
#include "ringd_error.h"

#define PEER_RECV_ROOM_MIN (16u << 10) /* free bytes a recv is given at least */
#define PEER_IN_BUFFER_MAX (PEER_FRAME_BYTES_MAX + PEER_FRAME_HEAD_BYTES + PEER_RECV_ROOM_MIN)

static void peer_recv_post(struct peer_conn *c);
static void peer_link_backoff(struct peer *p);

/* ---- Requests and buffers ---------------------------------------------------------------------
 */

/* Every request of a connection is counted on it and on the transport: the connection's fd
 * closes and its slot is reused only at zero, and the transport is idle only at zero. */
struct io_uring_sqe *peer_sqe(struct peer_conn *c, struct io_completion *io)
{
    c->ops++;
    c->t->ops++;
    return io_loop_sqe(c->t->loop, io);
}

void peer_op_done(struct peer_conn *c)
{
    ASSERT(c->ops > 0 && c->t->ops > 0);
    c->ops--;
    c->t->ops--;
}

void peer_conn_unpin(struct peer_conn *c)
{
    peer_op_done(c);
    if (c->closing)
        peer_conn_maybe_release(c);
    else
        peer_recv_post(c);
}

static struct io_uring_sqe *peer_t_sqe(struct peer_transport *t, struct io_completion *io)
{
    t->ops++;
    return io_loop_sqe(t->loop, io);
}

/* Makes room for more bytes after b->len. Only for a buffer no request is using. */
int peer_buf_reserve(struct peer_buf *b, size_t more, size_t max)
{
    int err = ringd_grow(&b->data, &b->cap, b->len + more, PEER_BUFFER_BYTES_MIN, max);
    return err == -EMSGSIZE ? -RINGD_EFULL : err;
}

static void peer_buf_free(struct peer_buf *b)
{
    free(b->data);
    *b = (struct peer_buf){0};
}

/* An empty buffer that grew for a large message gives its memory back. */
static void peer_buf_trim(struct peer_buf *b)
{
    if (b->len == 0 && b->cap > PEER_BUFFER_RETAIN_BYTES)
        peer_buf_free(b);
}

static void peer_conn_free_buffers(struct peer_conn *c)
{
    peer_buf_free(&c->out[0]);
    peer_buf_free(&c->out[1]);
    peer_buf_free(&c->in);
}

static struct peer *peer_find(struct peer_transport *t, raft_id id)
{
    for (uint32_t i = 0; i < RAFT_MEMBERS_MAX; i++) {
        struct peer *p = &t->peers[i];
        if (p->used && !p->removed && p->id == id)
            return p;
    }
    return NULL;
}

/* ---- Log lines --------------------------------------------------------------------------------
 */

static void peer_log_drop(const struct peer_conn *c, const char *why, int err)
{
    char remote[20] = "unknown";
    if (c->peer != NULL)
        snprintf(remote, sizeof(remote), "%s", c->peer->name);
    const char *stream = c->role == PEER_ROLE_IN ? "inbound" : "outbound";
    if (err != 0)
        log_warn("dropped peer connection", LOG_STR("local-member-id", c->t->name),
                 LOG_STR("remote-peer-id", remote), LOG_STR("stream", stream),
                 LOG_STR("reason", why), LOG_ERR(err));
    else
        log_warn("dropped peer connection", LOG_STR("local-member-id", c->t->name),
                 LOG_STR("remote-peer-id", remote), LOG_STR("stream", stream),
                 LOG_STR("reason", why));
}

/* ---- Connections ------------------------------------------------------------------------------
 */

/* Ends a connection: no new requests; the fd closes and the owner hears of it once every
 * request on it completed. why (logged) is NULL for an orderly end. */
void peer_conn_close(struct peer_conn *c, const char *why, int err)
{
    if (c->closing)
        return;
    c->closing = true;
    c->t->stats.conns_dropped += why != NULL;
    bool quiet = c->role == PEER_ROLE_MSGS_OUT && c->peer->down_logged;
    if (why != NULL && !quiet)
        peer_log_drop(c, why, err);
    if (c->role == PEER_ROLE_MSGS_OUT && why != NULL)
        c->peer->down_logged = true; /* redials of a peer that stays down are not logged */
    if (c->fd >= 0 && (c->connecting || c->receiving || c->sending))
        io_uring_prep_cancel_fd(peer_sqe(c, &c->cancel_io), c->fd, IORING_ASYNC_CANCEL_ALL);
    peer_conn_maybe_release(c);
}

static void peer_link_released(struct peer *p);
static void peer_slot_maybe_free(struct peer *p);

static void peer_conn_reset(struct peer_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->connecting = c->receiving = c->sending = c->paused = false;
    c->hello_in = false;
    c->out[0].len = c->out[1].len = 0;
    c->out[0].msgs = c->out[1].msgs = 0;
    c->in.len = c->in_off = c->sent = 0;
}

void peer_conn_maybe_release(struct peer_conn *c)
{
    if (!c->closing || c->ops > 0)
        return;
    uint32_t dropped = c->out[0].msgs + c->out[1].msgs;
    peer_conn_reset(c);
    c->closing = false;
    switch (c->role) {
    case PEER_ROLE_MSGS_OUT:
        c->t->stats.msgs_dropped += dropped;
        if (dropped > 0)
            c->peer->unreachable_pending = true;
        peer_link_released(c->peer);
        break;
    case PEER_ROLE_SNAP_OUT:
        peer_snap_out_released(PEER_OF(c, struct peer_snap_out, conn));
        peer_slot_maybe_free(c->peer);
        break;
    default:
        peer_snap_in_released(c);
        peer_conn_free_buffers(c);
        c->used = false;
        c->peer = NULL;
        break;
    }
}

static void peer_cancel_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res; /* -ENOENT when everything had completed already: nothing to undo either way */
    (void)flags;
    peer_conn_unpin(PEER_OF(io, struct peer_conn, cancel_io));
}

static void peer_send_done(struct io_completion *io, int32_t res, uint32_t flags);

static void peer_send_post(struct peer_conn *c)
{
    struct peer_buf *b = &c->out[c->fill ^ 1];
    if (c->role == PEER_ROLE_MSGS_OUT && c->sent == 0)
        c->t->stats.sends++;
    c->send_io.fn = peer_send_done;
    io_uring_prep_send(peer_sqe(c, &c->send_io), c->fd, b->data + c->sent, b->len - c->sent,
                       MSG_NOSIGNAL);
    c->sending = true;
}

/* Sends what the filling buffer holds, unless a send is in flight (its completion comes back
 * here) or a read still fills the buffer (hold). */
void peer_conn_flush(struct peer_conn *c)
{
    if (c->sending || c->connecting || c->closing || c->fd < 0 || c->hold)
        return;
    if (c->out[c->fill].len == 0)
        return;
    c->fill ^= 1;
    c->sent = 0;
    peer_send_post(c);
}

/* res bytes of the sending buffer went out: the rest, or the next buffer. */
static void peer_sent(struct peer_conn *c, size_t res)
{
    struct peer_buf *b = &c->out[c->fill ^ 1];
    c->sent += res;
    if (c->sent < b->len) {
        peer_send_post(c);
        return;
    }
    b->len = 0;
    b->msgs = 0;
    peer_buf_trim(b);
    peer_conn_flush(c);
    if (c->role == PEER_ROLE_SNAP_OUT)
        peer_snap_out_sent(PEER_OF(c, struct peer_snap_out, conn));
}

static void peer_send_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)flags;
    struct peer_conn *c = PEER_OF(io, struct peer_conn, send_io);
    c->sending = false;
    if (!c->closing && res <= 0)
        peer_conn_close(c, "write failed", res < 0 ? res : -EPIPE);
    else if (!c->closing)
        peer_sent(c, (size_t)res);
    peer_conn_unpin(c);
}

/* Appends a Hello for this connection's peer to the filling buffer. */
static int peer_conn_put_hello(struct peer_conn *c, raft_id to, uint8_t stream)
{
    struct peer_buf *b = &c->out[c->fill];
    int err = peer_buf_reserve(b, PEER_HELLO_FRAME_BYTES_MAX, PEER_QUEUE_BYTES_MAX);
    if (err < 0)
        return err;
    struct peer_hello h = {.cluster_id = c->t->cluster_id,
                           .from = c->t->member_id,
                           .to = to,
                           .version = PEER_PROTOCOL_VERSION,
                           .stream = stream};
    b->len += peer_codec_encode_hello(&h, b->data + b->len);
    return 0;
}

static void peer_hello_timer_done(struct io_completion *io, int32_t res, uint32_t flags);

/* Watches the current dial for the acceptor's Hello; one timer at a time, which re-arms
 * itself for a newer dial when it fires. */
static void peer_hello_timer_arm(struct peer *p)
{
    if (p->hello_timer_armed)
        return;
    p->hello_gen = p->dials;
    uint32_t ms = p->link.t->limits.hello_timeout_ms;
    p->hello_timeout = (struct __kernel_timespec){.tv_sec = ms / 1000,
                                                  .tv_nsec = (long long)(ms % 1000) * 1000000};
    p->hello_timer_io.fn = peer_hello_timer_done;
    io_uring_prep_timeout(peer_t_sqe(p->link.t, &p->hello_timer_io), &p->hello_timeout, 0, 0);
    p->hello_timer_armed = true;
}

static void peer_hello_timer_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res;
    (void)flags;
    struct peer *p = PEER_OF(io, struct peer, hello_timer_io);
    struct peer_conn *c = &p->link;
    c->t->ops--;
    p->hello_timer_armed = false;
    bool waiting = c->fd >= 0 && !c->connecting && !c->closing && !c->hello_in;
    if (c->t->stopping || p->removed || !waiting)
        peer_slot_maybe_free(p);
    else if (p->hello_gen == p->dials)
        peer_conn_close(c, "no hello from the peer in time", -ETIMEDOUT);
    else
        peer_hello_timer_arm(p); /* a newer connection: give it its own full wait */
}

static void peer_connect_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)flags;
    struct peer_conn *c = PEER_OF(io, struct peer_conn, connect_io);
    c->connecting = false;
    /* A connect cut by its linked timeout completes as cancelled. */
    if (!c->closing && res < 0)
        peer_conn_close(c, "cannot connect", res == -ECANCELED ? -ETIMEDOUT : res);
    else if (!c->closing && c->role == PEER_ROLE_MSGS_OUT)
        peer_hello_timer_arm(c->peer);
    if (!c->closing)
        peer_conn_flush(c); /* the Hello and whatever queued behind it */
    peer_conn_unpin(c);     /* reads from now on */
}

static void peer_link_timeout_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res;
    (void)flags;
    peer_conn_unpin(PEER_OF(io, struct peer_conn, link_timeout_io));
}

/* Dials a (connect with a linked timeout) and queues the Hello, which leaves first once the
 * connect completes. Returns 0 or a negated errno (nothing is in flight then). */
int peer_conn_dial(struct peer_conn *c, const struct peer_addr *a, uint8_t stream)
{
    ASSERT(c->fd < 0 && c->ops == 0 && !c->closing);
    int fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (a->addr.ss_family != AF_UNIX) {
        int one = 1; /* raft's messages are latency-bound: no Nagle */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    c->fd = fd;
    c->fill = 0;
    int err = peer_conn_put_hello(c, c->peer->id, stream);
    if (err < 0) {
        peer_conn_reset(c);
        return err;
    }
    memcpy(&c->addr, &a->addr, a->len);
    c->addr_len = a->len;
    c->connect_io.fn = peer_connect_done;
    c->link_timeout_io.fn = peer_link_timeout_done;
    c->cancel_io.fn = peer_cancel_done;
    c->dial_timeout = (struct __kernel_timespec){
        .tv_sec = PEER_DIAL_TIMEOUT_MS / 1000, .tv_nsec = (PEER_DIAL_TIMEOUT_MS % 1000) * 1000000};
    io_loop_reserve(c->t->loop, 2); /* the connect and its timeout in one submission */
    struct io_uring_sqe *sqe = peer_sqe(c, &c->connect_io);
    io_uring_prep_connect(sqe, fd, (struct sockaddr *)&c->addr, c->addr_len);
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_prep_link_timeout(peer_sqe(c, &c->link_timeout_io), &c->dial_timeout, 0);
    c->connecting = true;
    return 0;
}

/* ---- Receiving --------------------------------------------------------------------------------
 */

static void peer_recv_done(struct io_completion *io, int32_t res, uint32_t flags);

static void peer_recv_post(struct peer_conn *c)
{
    if (c->receiving || c->connecting || c->closing || c->paused || c->fd < 0)
        return;
    struct peer_buf *in = &c->in;
    if (c->in_off > 0) {
        memmove(in->data, in->data + c->in_off, in->len - c->in_off);
        in->len -= c->in_off;
        c->in_off = 0;
    }
    peer_buf_trim(in);
    size_t want = c->in_need > PEER_RECV_ROOM_MIN ? c->in_need : PEER_RECV_ROOM_MIN;
    int err = peer_buf_reserve(in, want, PEER_IN_BUFFER_MAX);
    if (err < 0) {
        peer_conn_close(c, "no memory for a frame", err);
        return;
    }
    c->recv_io.fn = peer_recv_done;
    io_uring_prep_recv(peer_sqe(c, &c->recv_io), c->fd, in->data + in->len, in->cap - in->len, 0);
    c->receiving = true;
}

static void peer_hello_ok(struct peer_conn *c)
{
    c->hello_in = true;
    if (c->role != PEER_ROLE_MSGS_OUT)
        return;
    struct peer *p = c->peer;
    p->state = PEER_LINK_UP;
    p->backoff_ms = c->t->limits.backoff_ms_min;
    if (p->down_logged)
        log_info("peer became active", LOG_STR("local-member-id", c->t->name),
                 LOG_STR("remote-peer-id", p->name));
    p->down_logged = false;
}

/* A member joining the cluster asks for it (net/peer_join.h): the cluster id and the members
 * as the raft actor knows them, then the joiner closes. Nobody is known yet, so nothing is
 * checked but the version: etcd's GET /members answers anyone reaching the peer port too. */
static int peer_in_join(struct peer_conn *c, const uint8_t *payload, uint32_t len, const char **why)
{
    struct peer_transport *t = c->t;
    uint32_t version = 0;
    *why = peer_codec_decode_join_request(payload, len, &version) < 0 ? "bad join request"
           : version != PEER_PROTOCOL_VERSION ? "unsupported protocol version"
           : t->events.members == NULL        ? "no member list to give"
                                              : NULL;
    if (*why != NULL)
        return -EPROTO;
    struct peer_buf *b = &c->out[c->fill];
    int err = peer_buf_reserve(b, PEER_JOIN_RESPONSE_BYTES_MAX, PEER_JOIN_RESPONSE_BYTES_MAX);
    int64_t n =
        err < 0 ? err
                : peer_codec_encode_join_response(t->cluster_id, t->events.members(t->events.ctx),
                                                  b->data + b->len, b->cap - b->len);
    if (n < 0) {
        *why = "no room for the join response";
        return (int)n;
    }
    b->len += (size_t)n;
    c->stream = PEER_STREAM_JOIN;
    c->hello_in = true;
    peer_conn_flush(c);
    log_info("answered a join request with the member list", LOG_STR("local-member-id", t->name),
             LOG_U64("bytes", (uint64_t)n));
    return 0;
}

/* A Hello naming another cluster: a member whose data dir belongs to another cluster (or a
 * --initial-cluster-token that differs) must not take part. Both ids are named, as etcd's
 * "request cluster ID mismatch" line names them. */
static void peer_log_cluster_mismatch(const struct peer_transport *t, const struct peer_hello *h)
{
    char local[17], remote[17], from[17];
    cluster_id_format(local, sizeof local, t->cluster_id);
    cluster_id_format(remote, sizeof remote, h->cluster_id);
    cluster_id_format(from, sizeof from, h->from);
    log_warn("request cluster ID mismatch", LOG_STR("local-member-id", t->name),
             LOG_STR("local-member-cluster-id", local), LOG_STR("remote-peer-id", from),
             LOG_STR("remote-peer-cluster-id", remote));
}

/* The first frame each way. An acceptor learns who dialed it and answers with its own. */
static int peer_conn_hello(struct peer_conn *c, uint8_t type, const uint8_t *payload, uint32_t len,
                           const char **why)
{
    struct peer_transport *t = c->t;
    struct peer_hello h;
    if (type == PEER_FRAME_JOIN_REQUEST && c->role == PEER_ROLE_IN)
        return peer_in_join(c, payload, len, why);
    if (type != PEER_FRAME_HELLO) {
        *why = "the first frame is not a hello";
        return -EPROTO;
    }
    if (peer_codec_decode_hello(payload, len, &h) < 0) {
        *why = "bad hello";
        return -EINVAL;
    }
    *why = h.version != PEER_PROTOCOL_VERSION ? "unsupported protocol version"
           : h.cluster_id != t->cluster_id    ? "cluster id mismatch"
           : h.to != t->member_id             ? "hello addressed to another member"
                                              : NULL;
    if (*why == NULL && c->role == PEER_ROLE_IN) {
        c->peer = peer_find(t, h.from);
        *why = c->peer == NULL                                                ? "unknown sender"
               : h.stream != PEER_STREAM_MSGS && h.stream != PEER_STREAM_SNAP ? "unknown stream"
                                                                              : NULL;
    } else if (*why == NULL && h.from != c->peer->id) {
        *why = "hello from another member";
    }
    if (*why != NULL && h.cluster_id != t->cluster_id)
        peer_log_cluster_mismatch(t, &h);
    if (*why != NULL)
        return -EPROTO;
    if (c->role == PEER_ROLE_IN) {
        c->stream = (uint8_t)h.stream;
        int err = peer_conn_put_hello(c, h.from, c->stream);
        if (err < 0) {
            *why = "no room for the hello";
            return err;
        }
        peer_conn_flush(c);
    }
    peer_hello_ok(c);
    return 0;
}

static int peer_in_msg(struct peer_conn *c, uint8_t type, const uint8_t *payload, uint32_t len,
                       const char **why)
{
    struct peer_transport *t = c->t;
    if (type != PEER_FRAME_MSG) {
        *why = "unexpected frame type";
        return -EPROTO;
    }
    int err = peer_codec_decode_msg(payload, len, &t->decoded);
    if (err < 0) {
        *why = "bad message";
        return err;
    }
    const struct raft_msg *m = &t->decoded.msg;
    if (m->from != c->peer->id || m->to != t->member_id || m->type == RAFT_MSG_SNAP) {
        *why = m->type == RAFT_MSG_SNAP ? "MsgSnap outside a snapshot stream"
                                        : "message not from the connection's peer to us";
        return -EPROTO;
    }
    if (!t->stopping)
        t->events.receive(t->events.ctx, m);
    return 0;
}

static int peer_conn_frame(struct peer_conn *c, uint8_t type, const uint8_t *payload, uint32_t len,
                           const char **why)
{
    if (!c->hello_in)
        return peer_conn_hello(c, type, payload, len, why);
    switch (c->role) {
    case PEER_ROLE_SNAP_OUT: {
        int err = peer_snap_out_frame(PEER_OF(c, struct peer_snap_out, conn), type, payload, len);
        *why = "unexpected frame type";
        return err;
    }
    case PEER_ROLE_IN:
        if (c->stream == PEER_STREAM_MSGS)
            return peer_in_msg(c, type, payload, len, why);
        if (c->stream == PEER_STREAM_JOIN) {
            *why = "unexpected frame type"; /* the joiner sends one request */
            return -EPROTO;
        }
        return peer_snap_in_frame(c, type, payload, len, why);
    default:
        *why = "unexpected frame type"; /* the acceptor sends nothing after its Hello */
        return -EPROTO;
    }
}

/* Handles every whole frame received; stops at a partial one (noting how many more bytes it
 * needs), at a file write on the frame's bytes (paused), or when the connection closes. */
static void peer_conn_parse(struct peer_conn *c)
{
    while (!c->closing && !c->paused) {
        uint8_t type;
        uint32_t n;
        size_t avail = c->in.len - c->in_off;
        int r =
            peer_codec_frame_head(c->in.data + c->in_off, avail, PEER_FRAME_BYTES_MAX, &type, &n);
        if (r < 0) {
            peer_conn_close(c, "frame over the size limit", r);
            return;
        }
        c->in_need = r == 0 ? PEER_FRAME_HEAD_BYTES - avail : PEER_FRAME_HEAD_BYTES + n - avail;
        if (r == 0 || avail < PEER_FRAME_HEAD_BYTES + (size_t)n)
            return;
        const uint8_t *payload = c->in.data + c->in_off + PEER_FRAME_HEAD_BYTES;
        c->in_off += PEER_FRAME_HEAD_BYTES + (size_t)n;
        const char *why = "bad frame";
        int err = peer_conn_frame(c, type, payload, n, &why);
        if (err < 0)
            peer_conn_close(c, why, err);
    }
}

/* A paused connection's file request finished: go on with the frames already received (the
 * caller's request is still counted; peer_conn_unpin follows). */
void peer_conn_resume(struct peer_conn *c)
{
    c->paused = false;
    peer_conn_parse(c);
}

static void peer_recv_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)flags;
    struct peer_conn *c = PEER_OF(io, struct peer_conn, recv_io);
    c->receiving = false;
    /* The recv stays counted until the frames are handled: a receive callback that removes
     * this peer closes the connection, which must not be released under the parser. */
    if (!c->closing && res > 0) {
        c->in.len += (size_t)res;
        peer_conn_parse(c);
    } else if (!c->closing) {
        bool done = peer_snap_in_done(c) || c->stream == PEER_STREAM_JOIN;
        peer_conn_close(c, done ? NULL : "closed by the remote peer", res);
    }
    peer_conn_unpin(c);
}

/* ---- Outbound links ---------------------------------------------------------------------------
 */

static void peer_link_dial(struct peer *p)
{
    p->timer_fired = false;
    const struct peer_addr *a = &p->addrs[p->addr_next % p->n_addrs];
    p->addr_next++;
    p->dials++;
    p->state = PEER_LINK_CONNECTING;
    int err = peer_conn_dial(&p->link, a, PEER_STREAM_MSGS);
    if (err < 0) {
        if (!p->down_logged)
            log_warn("cannot dial peer", LOG_STR("local-member-id", p->link.t->name),
                     LOG_STR("remote-peer-id", p->name), LOG_STR("address", a->text), LOG_ERR(err));
        p->down_logged = true;
        peer_link_backoff(p);
    }
}

static void peer_timer_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res;
    (void)flags;
    struct peer *p = PEER_OF(io, struct peer, timer_io);
    struct peer_transport *t = p->link.t;
    t->ops--;
    p->timer_armed = false;
    if (t->stopping || p->removed) {
        peer_slot_maybe_free(p);
        return;
    }
    if (p->state == PEER_LINK_BACKOFF)
        peer_link_dial(p);
}

static void peer_timer_cancel_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res;
    (void)flags;
    struct peer *p = PEER_OF(io, struct peer, timer_cancel_io);
    p->link.t->ops--;
    peer_slot_maybe_free(p);
}

/* The peer is down: messages to it are dropped until a redial after backoff_ms. */
static void peer_link_backoff(struct peer *p)
{
    struct peer_transport *t = p->link.t;
    p->state = PEER_LINK_BACKOFF;
    p->backoff = (struct __kernel_timespec){.tv_sec = p->backoff_ms / 1000,
                                            .tv_nsec = (long long)(p->backoff_ms % 1000) * 1000000};
    p->timer_io.fn = peer_timer_done;
    io_uring_prep_timeout(peer_t_sqe(t, &p->timer_io), &p->backoff, 0, 0);
    p->timer_armed = true;
    p->backoff_ms =
        p->backoff_ms * 2 < t->limits.backoff_ms_max ? p->backoff_ms * 2 : t->limits.backoff_ms_max;
}

static void peer_link_released(struct peer *p)
{
    struct peer_transport *t = p->link.t;
    if (p->unreachable_pending)
        peer_kick(t);
    if (t->stopping || p->removed) {
        p->state = PEER_LINK_IDLE;
        peer_slot_maybe_free(p);
        return;
    }
    peer_link_backoff(p);
}

/* A removed peer's slot is reused only once nothing of it is in flight. */
static void peer_slot_maybe_free(struct peer *p)
{
    if (!p->removed || p->timer_armed || p->hello_timer_armed || p->link.ops > 0 ||
        p->link.fd >= 0 || p->snap.active || p->snap.conn.ops > 0)
        return;
    peer_conn_free_buffers(&p->link);
    peer_conn_free_buffers(&p->snap.conn);
    p->used = false;
}

/* Stops everything of p: its timer, its connections. */
static void peer_shut(struct peer *p)
{
    struct peer_transport *t = p->link.t;
    p->timer_cancel_io.fn = peer_timer_cancel_done;
    if (p->timer_armed)
        io_uring_prep_cancel(peer_t_sqe(t, &p->timer_cancel_io), &p->timer_io, 0);
    if (p->hello_timer_armed) /* the same completion serves both: it only counts */
        io_uring_prep_cancel(peer_t_sqe(t, &p->timer_cancel_io), &p->hello_timer_io, 0);
    if (p->link.fd >= 0)
        peer_conn_close(&p->link, NULL, 0);
    if (p->snap.conn.fd >= 0)
        peer_conn_close(&p->snap.conn, NULL, 0);
    if (p->state == PEER_LINK_BACKOFF)
        p->state = PEER_LINK_IDLE;
    for (uint32_t i = 0; i < PEER_INBOUND_CONNS_MAX; i++) {
        if (t->in[i].used && t->in[i].peer == p)
            peer_conn_close(&t->in[i], NULL, 0); /* the slot may serve another member next */
    }
}

/* ---- The kick: one no-op per loop turn that sent something -------------------------------------
 */

static void peer_kick_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res;
    (void)flags;
    struct peer_transport *t = PEER_OF(io, struct peer_transport, kick_io);
    t->ops--;
    t->kicked = false;
    for (uint32_t i = 0; i < RAFT_MEMBERS_MAX; i++) {
        struct peer *p = &t->peers[i];
        if (!p->used || p->removed)
            continue;
        if (p->snap.fail_pending) {
            p->snap.fail_pending = false;
            if (!t->stopping)
                t->events.snapshot_sent(t->events.ctx, p->id, false);
        }
        if (p->unreachable_pending) {
            p->unreachable_pending = false;
            if (!t->stopping)
                t->events.unreachable(t->events.ctx, p->id);
        }
        peer_conn_flush(&p->link);
    }
}

/* Everything sent in this loop turn leaves when the no-op completes, right after the turn's
 * submission: one send per peer, however many messages raft handed over. */
void peer_kick(struct peer_transport *t)
{
    if (t->kicked || !t->started)
        return;
    t->kicked = true;
    t->kick_io.fn = peer_kick_done;
    io_uring_prep_nop(peer_t_sqe(t, &t->kick_io));
}

/* ---- Accepting --------------------------------------------------------------------------------
 */

static void peer_in_open(struct peer_transport *t, int fd)
{
    struct peer_conn *c = NULL;
    for (uint32_t i = 0; i < PEER_INBOUND_CONNS_MAX && c == NULL; i++) {
        if (!t->in[i].used && t->in[i].ops == 0)
            c = &t->in[i];
    }
    if (c == NULL) {
        log_warn("rejected a peer connection: too many", LOG_STR("local-member-id", t->name),
                 LOG_U64("max", PEER_INBOUND_CONNS_MAX));
        close(fd);
        return;
    }
    *c = (struct peer_conn){.t = t, .role = PEER_ROLE_IN, .used = true, .fd = fd};
    c->cancel_io.fn = peer_cancel_done;
    peer_recv_post(c);
}

static void peer_accept_done(struct io_completion *io, int32_t res, uint32_t flags);

static void peer_accept_post(struct peer_transport *t, struct peer_listener *l)
{
    l->accept_io.fn = peer_accept_done;
    io_uring_prep_multishot_accept(peer_t_sqe(t, &l->accept_io), l->fd, NULL, NULL, SOCK_CLOEXEC);
    l->accepting = true;
}

static void peer_listener_close(struct peer_listener *l)
{
    if (l->fd < 0)
        return;
    if (l->is_unix)
        unlink(l->path);
    close(l->fd);
    l->fd = -1;
}

static void peer_accept_retry_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res;
    (void)flags;
    struct peer_listener *l = PEER_OF(io, struct peer_listener, retry_io);
    l->t->ops--;
    l->retrying = false;
    if (l->t->stopping)
        peer_listener_close(l);
    else
        peer_accept_post(l->t, l);
}

static void peer_accept_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    struct peer_listener *l = PEER_OF(io, struct peer_listener, accept_io);
    struct peer_transport *t = l->t;
    if (res >= 0 && !t->stopping)
        peer_in_open(t, res);
    else if (res >= 0)
        close(res);
    if (flags & IORING_CQE_F_MORE)
        return;
    t->ops--;
    l->accepting = false;
    if (t->stopping) {
        peer_listener_close(l);
    } else if (res < 0 && res != -ECANCELED) {
        /* EMFILE and the like pass; posting again at once would only spin. */
        log_warn("peer accept failed; retrying", LOG_STR("local-member-id", t->name), LOG_ERR(res));
        l->retry_after = (struct __kernel_timespec){.tv_nsec = PEER_ACCEPT_RETRY_MS * 1000000};
        l->retry_io.fn = peer_accept_retry_done;
        io_uring_prep_timeout(peer_t_sqe(t, &l->retry_io), &l->retry_after, 0, 0);
        l->retrying = true;
    } else {
        peer_accept_post(t, l);
    }
}

static void peer_listener_cancel_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)res;
    (void)flags;
    struct peer_listener *l = PEER_OF(io, struct peer_listener, cancel_io);
    l->t->ops--;
}

/* ---- Addresses --------------------------------------------------------------------------------
 */

static int peer_resolve_tcp(const struct config_url *u, struct peer_addr *a)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    char port[8];
    snprintf(port, sizeof(port), "%u", u->port);
    struct addrinfo *list = NULL;
    if (getaddrinfo(u->host, port, &hints, &list) != 0 || list == NULL)
        return -EADDRNOTAVAIL;
    const struct addrinfo *pick = list;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) { /* as listen.c prefers it for "localhost" */
            pick = ai;
            break;
        }
    }
    ASSERT(pick->ai_addrlen <= sizeof(a->addr));
    memcpy(&a->addr, pick->ai_addr, pick->ai_addrlen);
    a->len = pick->ai_addrlen;
    freeaddrinfo(list);
    return 0;
}

/* One peer URL to a socket address; why says what is wrong with it. */
int peer_addr_resolve(const char *text, struct peer_addr *a, char *why, size_t why_bytes)
{
    static _Thread_local struct config_urls urls; /* 12 KiB: not on the stack */
    int err = config_urls_parse(&urls, text, why, why_bytes);
    if (err < 0)
        return err;
    const struct config_url *u = &urls.items[0];
    if (urls.count != 1) {
        snprintf(why, why_bytes, "one peer URL expected: %s", text);
        return -RINGD_EINVAL_CONFIG;
    }
    if (u->scheme == CONFIG_URL_HTTPS || u->scheme == CONFIG_URL_UNIXS) {
        snprintf(why, why_bytes, "peer TLS is not supported yet: %s", text);
        return -RINGD_EUNSUPPORTED;
    }
    snprintf(a->text, sizeof(a->text), "%s", u->text);
    if (u->scheme == CONFIG_URL_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&a->addr;
        if (strlen(u->socket_path) >= sizeof(sun->sun_path)) {
            snprintf(why, why_bytes, "unix socket path too long: %s", text);
            return -RINGD_EINVAL_CONFIG;
        }
        *sun = (struct sockaddr_un){.sun_family = AF_UNIX};
        strcpy(sun->sun_path, u->socket_path);
        a->len = sizeof(*sun);
        return 0;
    }
    err = peer_resolve_tcp(u, a);
    if (err < 0)
        snprintf(why, why_bytes, "cannot resolve peer URL %s", text);
    return err;
}

static int peer_set_addrs(struct peer *p, const char *const *urls, uint32_t n, char *why,
                          size_t why_bytes)
{
    if (n == 0 || n > CLUSTER_PEER_URLS_MAX) {
        snprintf(why, why_bytes, "member %s has %u peer URLs (1..%u allowed)", p->name, n,
                 CLUSTER_PEER_URLS_MAX);
        return -RINGD_EINVAL_CONFIG;
    }
    struct peer_addr addrs[CLUSTER_PEER_URLS_MAX];
    for (uint32_t i = 0; i < n; i++) {
        int err = peer_addr_resolve(urls[i], &addrs[i], why, why_bytes);
        if (err < 0)
            return err;
    }
    memcpy(p->addrs, addrs, n * sizeof(addrs[0]));
    p->n_addrs = n;
    p->addr_next = 0;
    return 0;
}

/* Takes a free slot for member id with these URLs. */
static int peer_add(struct peer_transport *t, raft_id id, const char *const *urls, uint32_t n,
                    char *why, size_t why_bytes)
{
    struct peer *p = NULL;
    for (uint32_t i = 0; i < RAFT_MEMBERS_MAX && p == NULL; i++) {
        if (!t->peers[i].used)
            p = &t->peers[i];
    }
    if (p == NULL) {
        snprintf(why, why_bytes, "more than %u peers", RAFT_MEMBERS_MAX);
        return -RINGD_EFULL;
    }
    *p = (struct peer){.id = id, .backoff_ms = t->limits.backoff_ms_min};
    cluster_id_format(p->name, sizeof(p->name), id);
    int err = peer_set_addrs(p, urls, n, why, why_bytes);
    if (err < 0)
        return err;
    p->link = (struct peer_conn){.t = t, .peer = p, .role = PEER_ROLE_MSGS_OUT, .fd = -1};
    p->snap.conn = (struct peer_conn){.t = t, .peer = p, .role = PEER_ROLE_SNAP_OUT, .fd = -1};
    p->snap.file_fd = -1;
    p->used = true;
    if (t->started && !t->stopping)
        peer_link_dial(p);
    return 0;
}

/* ---- The ops ----------------------------------------------------------------------------------
 */

static int peer_listen(struct peer_transport *t, const struct config_url *u,
                       struct peer_listener *l)
{
    struct listen_spec spec = {.is_unix = u->scheme == CONFIG_URL_UNIX, .port = u->port};
    snprintf(spec.host, sizeof(spec.host), "%s", u->host);
    size_t path_len = strlen(u->socket_path);
    int fd = path_len < sizeof(spec.path) ? 0 : -ENAMETOOLONG;
    memcpy(spec.path, u->socket_path, path_len < sizeof(spec.path) ? path_len + 1 : 0);
    if (fd == 0)
        fd = listen_open(&spec, false);
    if (fd < 0) {
        log_error("cannot listen for peers", LOG_STR("local-member-id", t->name),
                  LOG_STR("address", u->text), LOG_ERR(fd));
        return fd;
    }
    *l = (struct peer_listener){.t = t, .fd = fd, .is_unix = spec.is_unix};
    memcpy(l->path, spec.path, sizeof(l->path));
    l->cancel_io.fn = peer_listener_cancel_done;
    log_info("listening for peers", LOG_STR("local-member-id", t->name),
             LOG_STR("address", u->text));
    return 0;
}

static int peer_start(void *tp, struct io_loop *loop, const struct raft_transport_events *events)
{
    struct peer_transport *t = tp;
    ASSERT(!t->started);
    for (uint32_t i = 0; i < t->listen_urls.count; i++) {
        int err = peer_listen(t, &t->listen_urls.items[i], &t->listeners[i]);
        if (err < 0) {
            for (uint32_t j = 0; j < i; j++)
                peer_listener_close(&t->listeners[j]);
            return err;
        }
    }
    t->n_listen = t->listen_urls.count;
    t->loop = loop;
    t->events = *events;
    t->started = true;
    for (uint32_t i = 0; i < t->n_listen; i++)
        peer_accept_post(t, &t->listeners[i]);
    for (uint32_t i = 0; i < RAFT_MEMBERS_MAX; i++) {
        if (t->peers[i].used)
            peer_link_dial(&t->peers[i]);
    }
    return 0;
}

/* Queues m's frame in p's filling buffer. */
static int peer_queue(struct peer *p, const struct raft_msg *m)
{
    struct peer_transport *t = p->link.t;
    struct peer_buf *b = &p->link.out[p->link.fill];
    size_t bytes = peer_codec_msg_frame_bytes(m);
    if (bytes > PEER_FRAME_HEAD_BYTES + PEER_FRAME_BYTES_MAX)
        return -EMSGSIZE;
    if (b->msgs >= t->limits.queue_msgs_max)
        return -RINGD_EFULL;
    int err = peer_buf_reserve(b, bytes, t->limits.queue_bytes_max);
    if (err < 0)
        return err == -ENOMEM ? err : -RINGD_EFULL;
    int64_t n = peer_codec_encode_msg(m, b->data + b->len, b->cap - b->len);
    ASSERT(n == (int64_t)bytes);
    b->len += bytes;
    b->msgs++;
    t->stats.msgs_queued++;
    return 0;
}

static int peer_send(void *tp, const struct raft_msg *m)
{
    struct peer_transport *t = tp;
    struct peer *p = peer_find(t, m->to);
    if (p == NULL)
        return -ENOENT;
    if (t->stopping)
        return 0;
    if (m->type == RAFT_MSG_SNAP)
        return peer_snap_send(p, m);
    int err = 0;
    if (p->state == PEER_LINK_CONNECTING || p->state == PEER_LINK_UP)
        err = peer_queue(p, m);
    else
        p->unreachable_pending = true; /* down: dropped, as a lossy network would */
    if (err < 0 || p->unreachable_pending)
        t->stats.msgs_dropped++;
    if (err < 0)
        p->unreachable_pending = true;
    peer_kick(t);
    return err;
}

static int peer_set_peer(void *tp, raft_id id, const char *const *urls, uint32_t n_urls)
{
    struct peer_transport *t = tp;
    char why[PEER_URL_ERROR_BYTES_MAX];
    if (id == t->member_id || id == RAFT_NONE)
        return id == RAFT_NONE ? -EINVAL : 0;
    struct peer *p = peer_find(t, id);
    int err = 0;
    if (urls == NULL && p != NULL) {
        p->removed = true;
        peer_shut(p);
        peer_slot_maybe_free(p);
    } else if (urls == NULL) {
        err = -ENOENT;
    } else if (p != NULL) {
        err = peer_set_addrs(p, urls, n_urls, why, sizeof(why)); /* used at the next dial */
    } else {
        err = peer_add(t, id, urls, n_urls, why, sizeof(why));
    }
    if (err < 0 && urls != NULL)
        log_warn("cannot set peer", LOG_STR("local-member-id", t->name), LOG_STR("reason", why));
    return err;
}

static void peer_stop(void *tp)
{
    struct peer_transport *t = tp;
    if (t->stopping)
        return;
    t->stopping = true;
    for (uint32_t i = 0; i < t->n_listen; i++) {
        struct peer_listener *l = &t->listeners[i];
        if (l->accepting || l->retrying)
            io_uring_prep_cancel(peer_t_sqe(t, &l->cancel_io),
                                 l->accepting ? &l->accept_io : &l->retry_io, 0);
        else
            peer_listener_close(l);
    }
    for (uint32_t i = 0; i < RAFT_MEMBERS_MAX; i++) {
        if (t->peers[i].used)
            peer_shut(&t->peers[i]);
    }
    for (uint32_t i = 0; i < PEER_INBOUND_CONNS_MAX; i++) {
        if (t->in[i].used)
            peer_conn_close(&t->in[i], NULL, 0);
    }
}

static bool peer_idle(void *tp)
{
    const struct peer_transport *t = tp;
    return t->ops == 0;
}

const struct raft_transport_ops peer_transport_ops = {
    .start = peer_start,
    .send = peer_send,
    .set_peer = peer_set_peer,
    .stop = peer_stop,
    .idle = peer_idle,
};

/* ---- Creation ---------------------------------------------------------------------------------
 */

static void peer_limits_default(struct peer_limits *l)
{
    if (l->queue_msgs_max == 0 || l->queue_msgs_max > PEER_QUEUE_MSGS_MAX)
        l->queue_msgs_max = PEER_QUEUE_MSGS_MAX;
    if (l->queue_bytes_max == 0 || l->queue_bytes_max > PEER_QUEUE_BYTES_MAX)
        l->queue_bytes_max = PEER_QUEUE_BYTES_MAX;
    if (l->backoff_ms_min == 0)
        l->backoff_ms_min = PEER_BACKOFF_MS_MIN;
    if (l->backoff_ms_max == 0)
        l->backoff_ms_max = PEER_BACKOFF_MS_MAX;
    if (l->backoff_ms_max < l->backoff_ms_min)
        l->backoff_ms_max = l->backoff_ms_min;
    if (l->hello_timeout_ms == 0)
        l->hello_timeout_ms = PEER_HELLO_TIMEOUT_MS;
    if (l->snap_chunk_bytes == 0 || l->snap_chunk_bytes > PEER_SNAP_CHUNK_BYTES)
        l->snap_chunk_bytes = PEER_SNAP_CHUNK_BYTES;
}

static int peer_check_config(const struct peer_transport_config *cfg, char *why, size_t why_bytes)
{
    if (cfg->n_peers > RAFT_MEMBERS_MAX || cfg->member_id == RAFT_NONE) {
        snprintf(why, why_bytes, "bad peer transport configuration: member %llx, %u peers",
                 (unsigned long long)cfg->member_id, cfg->n_peers);
        return -RINGD_EINVAL_CONFIG;
    }
    if (strlen(cfg->snap_dir) >= SNAPSHOT_DIR_BYTES_MAX) {
        snprintf(why, why_bytes, "snapshot directory path too long");
        return -RINGD_EINVAL_CONFIG;
    }
    for (uint32_t i = 0; i < cfg->listen_urls->count; i++) {
        const struct config_url *u = &cfg->listen_urls->items[i];
        if (u->scheme == CONFIG_URL_HTTPS || u->scheme == CONFIG_URL_UNIXS) {
            snprintf(why, why_bytes, "peer TLS is not supported yet: %s", u->text);
            return -RINGD_EUNSUPPORTED;
        }
    }
    return 0;
}

int peer_transport_create(const struct peer_transport_config *cfg, struct peer_transport **out,
                          char *why, size_t why_bytes)
{
    int err = peer_check_config(cfg, why, why_bytes);
    if (err < 0)
        return err;
    struct peer_transport *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->member_id = cfg->member_id;
    t->cluster_id = cfg->cluster_id;
    cluster_id_format(t->name, sizeof(t->name), t->member_id);
    snprintf(t->snap_dir, sizeof(t->snap_dir), "%s", cfg->snap_dir);
    t->limits = cfg->limits;
    peer_limits_default(&t->limits);
    t->listen_urls = *cfg->listen_urls;
    for (uint32_t i = 0; i < PEER_INBOUND_CONNS_MAX; i++)
        t->in[i].fd = -1;
    for (uint32_t i = 0; i < cfg->n_peers && err == 0; i++) {
        const struct peer_member *m = &cfg->peers[i];
        if (m->id != cfg->member_id)
            err = peer_add(t, m->id, m->urls, m->n_urls, why, why_bytes);
    }
    if (err < 0) {
        free(t);
        return err;
    }
    *out = t;
    return 0;
}

void peer_transport_destroy(struct peer_transport *t)
{
    if (t == NULL)
        return;
    ASSERT(t->ops == 0);
    for (uint32_t i = 0; i < t->n_listen; i++)
        peer_listener_close(&t->listeners[i]);
    for (uint32_t i = 0; i < RAFT_MEMBERS_MAX; i++) {
        struct peer *p = &t->peers[i];
        if (!p->used)
            continue; /* a slot never used holds zeros, not fds */
        peer_conn_reset(&p->link);
        peer_conn_free_buffers(&p->link);
        peer_conn_free_buffers(&p->snap.conn);
    }
    for (uint32_t i = 0; i < PEER_INBOUND_CONNS_MAX; i++)
        peer_conn_free_buffers(&t->in[i]);
    free(t);
}

struct raft_transport peer_transport_raft(struct peer_transport *t)
{
    return (struct raft_transport){.ops = &peer_transport_ops, .t = t};
}

bool peer_transport_connected(const struct peer_transport *t, raft_id id)
{
    for (uint32_t i = 0; i < RAFT_MEMBERS_MAX; i++) {
        const struct peer *p = &t->peers[i];
        if (p->used && !p->removed && p->id == id)
            return p->state == PEER_LINK_UP;
    }
    return false;
}

void peer_transport_stats(const struct peer_transport *t, struct peer_transport_stats *out)
{
    *out = t->stats;
}
