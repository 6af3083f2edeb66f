#include "loop.h"

#include <errno.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ringd_assert.h"
#include "ringd_limits.h"

static void loop_wake_read_post(struct io_loop *loop);

static void loop_wake_read_done(struct io_completion *c, int32_t res, uint32_t flags)
{
    (void)flags;
    struct io_loop *loop =
        (struct io_loop *)((char *)c - offsetof(struct io_loop, wake_completion));
    /* -ECANCELED only comes while the ring is torn down; anything else keeps the read posted,
     * because a loop that cannot be woken would sleep forever. */
    if (res != -ECANCELED)
        loop_wake_read_post(loop);
}

static void loop_wake_read_post(struct io_loop *loop)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
    if (sqe == NULL) {
        io_uring_submit(&loop->ring);
        sqe = io_uring_get_sqe(&loop->ring);
    }
    ASSERT(sqe != NULL);
    io_uring_prep_read(sqe, loop->wake_fd, &loop->wake_value, sizeof(loop->wake_value), 0);
    io_uring_sqe_set_data(sqe, &loop->wake_completion);
}

int io_loop_init(struct io_loop *loop, uint32_t sq_entries)
{
    ASSERT(sq_entries > 0 && (sq_entries & (sq_entries - 1)) == 0);
    *loop = (struct io_loop){0};
    struct io_uring_params params = {0};
    /* The ring is only ever used by its own thread; let the kernel skip cross-thread work.
     * It starts disabled so that the thread that enables it becomes that single issuer. */
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_R_DISABLED;
    /* Lets a polling owner see pending task work (io_loop_has_completions). */
    params.flags |= IORING_SETUP_TASKRUN_FLAG;
    params.cq_entries = sq_entries * 4;
    params.flags |= IORING_SETUP_CQSIZE;
    int err = io_uring_queue_init_params(sq_entries, &loop->ring, &params);
    if (err < 0)
        return err;
    loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->wake_fd < 0) {
        err = -errno;
        io_uring_queue_exit(&loop->ring);
        return err;
    }
    loop->wake_completion.fn = loop_wake_read_done;
    atomic_init(&loop->sleeping, 0);
    loop_wake_read_post(loop);
    return 0;
}

int io_loop_attach(struct io_loop *loop)
{
    /* Debian's liburing 2.3 declares io_uring_enable_rings but does not export it, so the
     * register call is made directly. */
    long r =
        syscall(__NR_io_uring_register, loop->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    return r < 0 ? -errno : 0;
}

void io_loop_destroy(struct io_loop *loop)
{
    ASSERT(loop->in_flight == 0);
    io_uring_queue_exit(&loop->ring);
    close(loop->wake_fd);
    loop->wake_fd = -1;
}

struct io_uring_sqe *io_loop_sqe(struct io_loop *loop, struct io_completion *c)
{
    ASSERT(c != NULL && c->fn != NULL);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
    if (sqe == NULL) {
        /* The queue filled within one turn: submit early rather than fail the caller. */
        io_uring_submit(&loop->ring);
        sqe = io_uring_get_sqe(&loop->ring);
    }
    ASSERT(sqe != NULL);
    io_uring_sqe_set_data(sqe, c);
    loop->in_flight++;
    return sqe;
}

void io_loop_reserve(struct io_loop *loop, uint32_t n)
{
    ASSERT(n > 0 && n <= loop->ring.sq.ring_entries);
    if (io_uring_sq_space_left(&loop->ring) < n)
        io_uring_submit(&loop->ring);
    ASSERT(io_uring_sq_space_left(&loop->ring) >= n);
}

struct loop_event {
    struct io_completion *c;
    int32_t res;
    uint32_t flags;
};

/* Copies a batch out of the completion queue and releases it before running any callback,
 * so callbacks are free to queue new requests. */
static uint32_t loop_take_batch(struct io_loop *loop, struct loop_event *events)
{
    struct io_uring_cqe *cqes[LOOP_CQE_BATCH_MAX];
    uint32_t n = io_uring_peek_batch_cqe(&loop->ring, cqes, LOOP_CQE_BATCH_MAX);
    for (uint32_t i = 0; i < n; i++) {
        events[i].c = io_uring_cqe_get_data(cqes[i]);
        events[i].res = cqes[i]->res;
        events[i].flags = cqes[i]->flags;
        ASSERT(events[i].c != NULL);
    }
    io_uring_cq_advance(&loop->ring, n);
    return n;
}

int io_loop_turn(struct io_loop *loop, bool may_sleep, uint64_t timeout_ns)
{
    int err;
    if (!may_sleep) {
        err = io_uring_submit(&loop->ring);
    } else if (timeout_ns == UINT64_MAX) {
        err = io_uring_submit_and_wait(&loop->ring, 1);
    } else {
        struct io_uring_cqe *cqe = NULL;
        struct __kernel_timespec ts = {.tv_sec = (int64_t)(timeout_ns / 1000000000u),
                                       .tv_nsec = (long long)(timeout_ns % 1000000000u)};
        err = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &ts, NULL);
    }
    if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY)
        return err;

    struct loop_event events[LOOP_CQE_BATCH_MAX];
    uint32_t n = loop_take_batch(loop, events);
    for (uint32_t i = 0; i < n; i++) {
        struct loop_event *e = &events[i];
        if (e->c != &loop->wake_completion && !(e->flags & IORING_CQE_F_MORE)) {
            ASSERT(loop->in_flight > 0);
            loop->in_flight--;
        }
        e->c->fn(e->c, e->res, e->flags);
    }
    return (int)n;
}

void io_loop_prepare_sleep(struct io_loop *loop)
{
    /* Sequentially consistent: this store must be ordered before the caller's re-check of its
     * mailboxes, pairing with the fence in io_loop_wake (a Dekker-style handshake). */
    atomic_store_explicit(&loop->sleeping, 1, memory_order_seq_cst);
}

void io_loop_end_sleep(struct io_loop *loop)
{
    atomic_store_explicit(&loop->sleeping, 0, memory_order_relaxed);
}

void io_loop_wake(struct io_loop *loop)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&loop->sleeping, memory_order_relaxed) == 0)
        return;
    if (atomic_exchange_explicit(&loop->sleeping, 0, memory_order_acq_rel) == 0)
        return; /* another waker got there first */
    uint64_t one = 1;
    /* The eventfd never overflows (the loop reads it back to zero) and is non-blocking;
     * a failed write would leave the loop asleep, which is a bug, not bad input. */
    ssize_t w = write(loop->wake_fd, &one, sizeof(one));
    ASSERT(w == (ssize_t)sizeof(one));
}
