/* One thread's io_uring event loop: submissions batched per turn, completions drained in a
 * batch and dispatched through a completion struct embedded in its owner, and a wake-up that
 * another thread uses to end this loop's sleep in the kernel.
 *
 * Thread: every function but io_loop_wake belongs to the loop's own thread. */
#ifndef RINGD_IO_LOOP_H
#define RINGD_IO_LOOP_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct io_completion;

/* Called once per completion on the loop's thread. res is the CQE result (a negated errno on
 * failure); flags are the CQE flags (IORING_CQE_F_MORE for multishot requests). */
typedef void (*io_complete_fn)(struct io_completion *c, int32_t res, uint32_t flags);

/* Embed one of these in whatever owns an in-flight request; its address is the user_data. */
struct io_completion {
    io_complete_fn fn;
};

struct io_loop {
    struct io_uring ring;
    /* Written by other threads (io_loop_wake) and read here; set while this thread may be
     * blocked in io_uring_enter, cleared by whoever wakes it. */
    _Atomic uint32_t sleeping;
    int wake_fd;
    uint64_t wake_value;
    struct io_completion wake_completion;
    /* Requests taken with io_loop_sqe whose final completion (one without IORING_CQE_F_MORE)
     * has not come back; the loop's own wake-up read is not counted. */
    uint32_t in_flight;
};

/* Sets up the ring (sq_entries, a power of two) and the wake-up eventfd, on any thread; the
 * ring starts disabled and io_loop_wake works at once. Returns 0 or a negated errno
 * (io_uring not permitted, out of memory). */
int io_loop_init(struct io_loop *loop, uint32_t sq_entries);

/* On the thread that will own the loop, before any other call: enables the ring with this
 * thread as its only submitter. Returns 0 or a negated errno. */
int io_loop_attach(struct io_loop *loop);

/* Closes the ring and the eventfd. No request may be in flight. */
void io_loop_destroy(struct io_loop *loop);

/* A submission slot for a request whose completion calls c->fn. Never NULL: when the
 * submission queue is full it is submitted first. The caller fills the SQE with an
 * io_uring_prep_* call; the request is submitted at the end of the loop turn. */
struct io_uring_sqe *io_loop_sqe(struct io_loop *loop, struct io_completion *c);

/* Makes sure the next n io_loop_sqe calls are not split by an early submission (submitting
 * what is queued now if fewer than n slots are free), so a chain linked with IOSQE_IO_LINK
 * reaches the kernel whole: a chain cut at a submission boundary would run as two chains, and
 * an fdatasync could then run before the write it was linked after. n is at most the queue's
 * size. */
void io_loop_reserve(struct io_loop *loop, uint32_t n);

/* One turn: submit everything queued, wait for at least one completion if may_sleep (for at
 * most timeout_ns, or without bound when timeout_ns is UINT64_MAX), then drain up to
 * LOOP_CQE_BATCH_MAX completions and call their functions. Returns the number handled, or a
 * negated errno if io_uring_enter failed for a reason other than a signal or timeout. */
int io_loop_turn(struct io_loop *loop, bool may_sleep, uint64_t timeout_ns);

/* True when a turn would find completions: posted ones, or kernel task work that entering
 * the ring would turn into completions. Cheap: two loads, no syscall. */
static inline bool io_loop_has_completions(struct io_loop *loop)
{
    return io_uring_cq_ready(&loop->ring) > 0 ||
           (IO_URING_READ_ONCE(*loop->ring.sq.kflags) & IORING_SQ_TASKRUN) != 0;
}

/* Marks the loop as about to sleep. The caller then re-checks every source of work it has
 * that does not arrive through the ring (its mailboxes) and only then turns with may_sleep.
 * Any thread that made such work visible before this call's store, or that calls
 * io_loop_wake after it, is guaranteed to wake the loop. */
void io_loop_prepare_sleep(struct io_loop *loop);

/* Marks the loop awake again after a turn (or when the re-check found work). */
void io_loop_end_sleep(struct io_loop *loop);

/* Any thread: after publishing work for this loop, wakes it if it sleeps. Costs one atomic
 * load when the loop is awake; a write(2) to the eventfd only when it sleeps. */
void io_loop_wake(struct io_loop *loop);

#endif
