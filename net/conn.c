#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "actor.h"
#include "buf_ring.h"
#include "grpc_method.h"
#include "grpc_server.h"
#include "log.h"
#include "ringd_assert.h"
#include "ringd_error.h"
#include "shard.h"

#define CONN_OF(ptr, member) ((struct conn *)((char *)(ptr)-offsetof(struct conn, member)))

static struct io_loop *conn_loop(struct conn *c)
{
    return &c->shard->actor->loop;
}

static void conn_recv_done(struct io_completion *cp, int32_t res, uint32_t flags);
static void conn_send_done(struct io_completion *cp, int32_t res, uint32_t flags);
static void conn_maybe_close(struct conn *c);

static void conn_recv_post(struct conn *c)
{
    ASSERT(!c->receiving && !c->closing);
    c->recv.fn = conn_recv_done;
    io_buf_ring_prep_recv(&c->shard->recv_buffers, io_loop_sqe(conn_loop(c), &c->recv), c->fd);
    c->receiving = true;
}

static void conn_recv_cancel(struct conn *c)
{
    ASSERT(c->receiving);
    if (c->canceling)
        return;
    io_uring_prep_cancel(io_loop_sqe(conn_loop(c), &c->cancel), &c->recv, 0);
    c->canceling = true;
}

/* Sends the next output in place; closes once a closing connection has nothing left. */
static void conn_flush(struct conn *c)
{
    if (c->sending || c->fd < 0)
        return;
    const uint8_t *data;
    size_t len = grpc_server_pending(c->session, &data);
    if (len > 0 && (!c->closing || c->flush_on_close)) {
        c->send.fn = conn_send_done;
        io_uring_prep_send(io_loop_sqe(conn_loop(c), &c->send), c->fd, data, len, MSG_NOSIGNAL);
        c->sending = true;
        return;
    }
    if (!c->closing && grpc_server_done(c->session))
        conn_shutdown(c, true);
    else if (c->closing)
        conn_maybe_close(c);
}

static void conn_output_hook(void *arg)
{
    conn_flush(arg);
}

static void conn_tick_fire(struct timer *t, uint64_t now_ns);

/* Re-arms the connection's one timer at the session's next deadline. */
static void conn_tick_arm(struct conn *c, uint64_t now_ns)
{
    struct actor *a = c->shard->actor;
    uint64_t next_ns = grpc_server_tick(c->session, now_ns);
    if (next_ns == UINT64_MAX) {
        actor_timer_stop(a, &c->tick);
        return;
    }
    int err = timer_arm(&a->timers, &c->tick, next_ns, conn_tick_fire);
    ASSERT(err == 0); /* one timer per connection; connections are bounded below timers */
}

static void conn_tick_fire(struct timer *t, uint64_t now_ns)
{
    struct conn *c = CONN_OF(t, tick);
    if (c->closing)
        return;
    conn_tick_arm(c, now_ns);
    conn_flush(c);
}

/* Feeds one received buffer to the session; false when the connection must end. */
static bool conn_feed(struct conn *c, int32_t len, uint32_t flags)
{
    uint16_t id;
    uint8_t *buf = io_buf_ring_buffer(&c->shard->recv_buffers, flags, &id);
    uint64_t now_ns = actor_now_ns();
    int err = c->closing ? 0 : grpc_server_feed(c->session, buf, (size_t)len, now_ns);
    io_buf_ring_recycle(&c->shard->recv_buffers, id);
    if (err < 0)
        return false;
    conn_tick_arm(c, now_ns);
    return true;
}

static void conn_recv_done(struct io_completion *cp, int32_t res, uint32_t flags)
{
    struct conn *c = CONN_OF(cp, recv);
    bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more)
        c->receiving = false;
    if (res > 0) {
        if (!conn_feed(c, res, flags))
            conn_shutdown(c, true);
    } else if (res == 0 || (res < 0 && res != -ENOBUFS && res != -ECANCELED)) {
        /* The peer closed or the socket failed: nothing more can be said to it. */
        conn_shutdown(c, false);
    }
    if (!c->closing) {
        /* Re-read after ENOBUFS or a lifted back-pressure; never while a cancel (which names
         * the recv by its completion) could still hit the new recv. */
        if (!c->receiving && !c->canceling && grpc_server_wants_read(c->session))
            conn_recv_post(c);
        else if (c->receiving && !grpc_server_wants_read(c->session))
            conn_recv_cancel(c); /* back-pressure: the client is not reading our output */
    }
    conn_flush(c);
}

static void conn_send_done(struct io_completion *cp, int32_t res, uint32_t flags)
{
    (void)flags;
    struct conn *c = CONN_OF(cp, send);
    c->sending = false;
    if (res < 0) {
        conn_shutdown(c, false);
        conn_maybe_close(c);
        return;
    }
    grpc_server_sent(c->session, (size_t)res);
    if (!c->closing && !c->receiving && !c->canceling && grpc_server_wants_read(c->session))
        conn_recv_post(c); /* output drained below its bound: read again */
    conn_flush(c);
}

static void conn_closed(struct io_completion *cp, int32_t res, uint32_t flags)
{
    (void)res;
    (void)flags;
    struct conn *c = CONN_OF(cp, closed);
    struct shard *s = c->shard;
    actor_timer_stop(s->actor, &c->tick);
    grpc_server_free(c->session);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    ASSERT(s->conns_count > 0);
    s->conns_count--;
    free(c);
}

/* Closes the fd once nothing of ours still uses it; the conn is freed when the close
 * completes, so every other request of the conn must have completed first. */
static void conn_maybe_close(struct conn *c)
{
    if (c->fd < 0 || c->sending || c->receiving || c->canceling)
        return;
    c->closed.fn = conn_closed;
    io_uring_prep_close(io_loop_sqe(conn_loop(c), &c->closed), c->fd);
    c->fd = -1;
}

static void conn_cancel_done(struct io_completion *cp, int32_t res, uint32_t flags)
{
    (void)res; /* -ENOENT when the recv had ended already: nothing to undo either way */
    (void)flags;
    struct conn *c = CONN_OF(cp, cancel);
    c->canceling = false;
    if (c->closing)
        conn_maybe_close(c);
    else if (!c->receiving && grpc_server_wants_read(c->session))
        conn_recv_post(c);
}

void conn_shutdown(struct conn *c, bool flush)
{
    if (c->closing)
        return;
    c->closing = true;
    c->flush_on_close = flush;
    if (c->receiving)
        conn_recv_cancel(c);
    conn_flush(c);
    conn_maybe_close(c);
}

void conn_drain(struct conn *c)
{
    if (c->closing)
        return;
    grpc_server_drain(c->session);
    conn_flush(c);
}

int conn_open(struct shard *s, int fd)
{
    if (s->conns_count >= CONNS_PER_SHARD_MAX)
        return -RINGD_EFULL;
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    uint64_t now_ns = actor_now_ns();
    c->session = grpc_server_new(&s->common->grpc_limits, &grpc_etcd_methods, s, now_ns);
    if (c->session == NULL) {
        free(c);
        return -ENOMEM;
    }
    c->shard = s;
    c->fd = fd;
    c->cancel.fn = conn_cancel_done;
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->conns_count++;
    grpc_server_set_output_hook(c->session, conn_output_hook, c);
    conn_recv_post(c);
    conn_tick_arm(c, now_ns);
    conn_flush(c);
    return 0;
}
