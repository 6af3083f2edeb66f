#include "shard.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kv_service.h"
#include "log.h"
#include "ringd_assert.h"

#define SHARD_ACCEPT_RETRY_NS (100u * 1000000u)
/* How long connections may finish their calls after shutdown began (etcd gives its gRPC servers
 * about as long to stop gracefully); then they are closed. */
#define SHARD_DRAIN_TIMEOUT_NS (5000ull * 1000000u)
/* The provided-buffer group of the shard's receive buffers (one group per ring). */
#define SHARD_RECV_BUFFER_GROUP 0

static struct shard *shard_of(struct actor *a)
{
    return a->ctx;
}

static void shard_accept_done(struct io_completion *c, int32_t res, uint32_t flags);

static void shard_accept_post(struct shard_listener *l)
{
    ASSERT(!l->accepting && l->fd >= 0);
    l->accept.fn = shard_accept_done;
    struct io_uring_sqe *sqe = io_loop_sqe(&l->shard->actor->loop, &l->accept);
    io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    l->accepting = true;
}

static void shard_close_fd(struct shard *s, int fd)
{
    io_uring_prep_close(io_loop_sqe(&s->actor->loop, &s->closed), fd);
}

static void shard_accept_retry(struct timer *t, uint64_t now_ns)
{
    (void)now_ns;
    struct shard_listener *l =
        (struct shard_listener *)((char *)t - offsetof(struct shard_listener, retry));
    if (!l->shard->stopping)
        shard_accept_post(l);
}

static void shard_listener_close(struct shard_listener *l)
{
    if (l->is_unix)
        unlink(l->path);
    shard_close_fd(l->shard, l->fd);
    l->fd = -1;
}

static void shard_accept_done(struct io_completion *c, int32_t res, uint32_t flags)
{
    struct shard_listener *l = (struct shard_listener *)c;
    struct shard *s = l->shard;
    if (res >= 0) {
        s->connections_accepted++;
        int err = s->stopping ? -ESHUTDOWN : conn_open(s, res);
        if (err < 0) {
            log_warn("rejected a client connection", LOG_ERR(err));
            shard_close_fd(s, res);
        }
    }
    if (flags & IORING_CQE_F_MORE)
        return;
    l->accepting = false;
    if (s->stopping) {
        shard_listener_close(l);
        return;
    }
    if (res < 0 && res != -ECANCELED) {
        /* EMFILE, ENOBUFS and the like pass; retrying at once would only spin. */
        log_warn("failed to accept a connection; retrying", LOG_STR("error", strerror(-res)));
        int err = actor_timer_start(s->actor, &l->retry, SHARD_ACCEPT_RETRY_NS, shard_accept_retry);
        ASSERT(err == 0); /* one timer per listener, far below the heap's bound */
        return;
    }
    shard_accept_post(l);
}

static void shard_ignore_completion(struct io_completion *c, int32_t res, uint32_t flags)
{
    (void)c;
    (void)res;
    (void)flags;
}

static int shard_open_listener(struct shard *s, const struct listen_spec *spec, const char *url)
{
    int fd = listen_open(spec, true);
    if (fd < 0) {
        log_error("failed to listen on a client URL", LOG_STR("url", url),
                  LOG_STR("error", strerror(-fd)));
        return fd;
    }
    struct shard_listener *l = &s->listeners[s->listeners_count++];
    *l = (struct shard_listener){.shard = s, .fd = fd, .is_unix = spec->is_unix};
    if (spec->is_unix)
        snprintf(l->path, sizeof(l->path), "%s", spec->path);
    return 0;
}

static void shard_log_ready(struct shard_common *common)
{
    log_info("ready to serve client requests");
    for (uint32_t i = 0; i < common->client_count; i++)
        log_info("serving client traffic insecurely; this is strongly discouraged!",
                 LOG_STR("address", common->client_urls[i]));
}

static int shard_start(struct actor *a)
{
    struct shard *s = shard_of(a);
    s->actor = a;
    s->closed.fn = shard_ignore_completion;
    s->canceled.fn = shard_ignore_completion;
    int rc = io_buf_ring_init(&s->recv_buffers, &a->loop, SHARD_RECV_BUFFER_GROUP,
                              SHARD_RECV_BUFFERS, SHARD_RECV_BUFFER_BYTES);
    if (rc < 0) {
        log_error("cannot set up receive buffers", LOG_ERR(rc));
        return rc;
    }
    /* Every proposal may be waiting for the raft actor. Releases: as many as before the raft
     * log (proposals and releases shared one outbox then). */
    rc = outbox_init(&s->to_raft, s->common->raft_id, SHARD_PROPOSALS_MAX + 1);
    if (rc == 0)
        rc = outbox_init(&s->to_apply, s->common->apply_id,
                         2 * SHARD_PROPOSALS_MAX + MAILBOX_CAPACITY_DEFAULT);
    if (rc < 0)
        return rc;
    arena_init(&s->arena);
    read_wait_init(&s->reads);
    mvcc_reader_register(s->common->store, &s->reader);
    /* Bound now, so a taken address fails the start; accepting waits for MSG_SERVE (the
     * kernel queues connections meanwhile, as etcd's listeners do until it is ready). */
    for (uint32_t i = 0; i < s->common->client_count; i++) {
        const struct listen_spec *spec = &s->common->client[i];
        /* A unix socket path can be bound only once: shard 0 serves it. */
        if (spec->is_unix && s->index != 0)
            continue;
        int err = shard_open_listener(s, spec, s->common->client_urls[i]);
        if (err < 0)
            return err;
    }
    return 0;
}

/* The log is replayed: start accepting. */
static void shard_serve(struct shard *s)
{
    if (s->serving || s->stopping)
        return;
    s->serving = true;
    for (uint32_t i = 0; i < s->listeners_count; i++)
        shard_accept_post(&s->listeners[i]);
    if (atomic_fetch_add(&s->common->ready, 1) + 1 == s->common->shards)
        shard_log_ready(s->common);
}

static void shard_receive(struct actor *a, const struct msg *m)
{
    switch (m->type) {
    case MSG_KV_APPLIED:
        kv_service_applied(shard_of(a), m);
        break;
    case MSG_SERVE:
        shard_serve(shard_of(a));
        break;
    case MSG_READ_READY:
        kv_service_read_ready(shard_of(a), m);
        break;
    default:
        UNREACHABLE(); /* a wiring bug */
    }
}

static void shard_writable(struct actor *a, uint16_t to)
{
    struct shard *s = shard_of(a);
    ASSERT(to == s->common->raft_id || to == s->common->apply_id);
    outbox_flush(to == s->common->raft_id ? &s->to_raft : &s->to_apply, a);
}

/* The drain took too long: close what is left. */
static void shard_drain_expired(struct timer *t, uint64_t now_ns)
{
    (void)now_ns;
    struct shard *s = (struct shard *)((char *)t - offsetof(struct shard, drain));
    for (struct conn *c = s->conns; c != NULL; c = c->next)
        conn_shutdown(c, false);
}

static void shard_stop(struct actor *a)
{
    struct shard *s = shard_of(a);
    s->stopping = true;
    for (struct conn *c = s->conns; c != NULL; c = c->next)
        conn_drain(c);
    if (s->conns != NULL) {
        int err = actor_timer_start(a, &s->drain, SHARD_DRAIN_TIMEOUT_NS, shard_drain_expired);
        ASSERT(err == 0); /* one timer per shard */
    }
    for (uint32_t i = 0; i < s->listeners_count; i++) {
        struct shard_listener *l = &s->listeners[i];
        if (l->accepting) {
            io_uring_prep_cancel(io_loop_sqe(&a->loop, &s->canceled), &l->accept, 0);
        } else if (l->fd >= 0) {
            actor_timer_stop(a, &l->retry);
            shard_listener_close(l);
        }
    }
}

/* A shard leaves once its connections are gone and every proposal is answered and its
 * response given back. */
static bool shard_quiescent(struct actor *a)
{
    struct shard *s = shard_of(a);
    return s->conns_count == 0 && s->proposals_out == 0 && !s->reads.request_out &&
           outbox_pending(&s->to_apply) == 0;
}

static void shard_finish(struct actor *a)
{
    struct shard *s = shard_of(a);
    actor_timer_stop(a, &s->drain);
    if (s->recv_buffers.ring != NULL)
        io_buf_ring_destroy(&s->recv_buffers, &a->loop);
    outbox_destroy(&s->to_raft);
    outbox_destroy(&s->to_apply);
    arena_destroy(&s->arena);
    grpc_server_thread_release();
}

const struct actor_ops shard_ops = {
    .start = shard_start,
    .receive = shard_receive,
    .writable = shard_writable,
    .stop = shard_stop,
    .quiescent = shard_quiescent,
    .finish = shard_finish,
};
