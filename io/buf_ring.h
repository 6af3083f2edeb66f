/* A ring of provided buffers for one io_uring: the kernel picks a buffer only when data
 * arrives, so an idle connection with a multishot recv posted holds no receive memory. Each
 * buffer is returned with io_buf_ring_recycle once its bytes are consumed.
 *
 * Thread: the loop's owner thread only (registration needs the single issuer). */
#ifndef RINGD_IO_BUF_RING_H
#define RINGD_IO_BUF_RING_H

#include <stdint.h>

#include "loop.h"

struct io_buf_ring {
    struct io_uring_buf_ring *ring;
    uint8_t *buffers;
    uint32_t count; /* a power of two */
    uint32_t buffer_bytes;
    uint16_t group_id;
    uint32_t mask;
    uint32_t in_use; /* handed to the kernel's recvs and not yet recycled */
};

/* Allocates count (a power of two, at most 32768) buffers of buffer_bytes and registers them
 * with loop as buffer group group_id. Returns 0 or a negated errno. */
int io_buf_ring_init(struct io_buf_ring *br, struct io_loop *loop, uint16_t group_id,
                     uint32_t count, uint32_t buffer_bytes);

/* Unregisters and frees; every buffer must have been recycled. */
void io_buf_ring_destroy(struct io_buf_ring *br, struct io_loop *loop);

/* Prepares a multishot recv on fd that picks buffers from this ring. */
void io_buf_ring_prep_recv(struct io_buf_ring *br, struct io_uring_sqe *sqe, int fd);

/* The buffer a recv completion used (from its CQE flags, which must carry
 * IORING_CQE_F_BUFFER). */
uint8_t *io_buf_ring_buffer(struct io_buf_ring *br, uint32_t cqe_flags, uint16_t *id);

/* Gives buffer id back to the kernel. */
void io_buf_ring_recycle(struct io_buf_ring *br, uint16_t id);

#endif
