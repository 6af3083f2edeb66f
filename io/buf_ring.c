#include "buf_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ringd_assert.h"

int io_buf_ring_init(struct io_buf_ring *br, struct io_loop *loop, uint16_t group_id,
                     uint32_t count, uint32_t buffer_bytes)
{
    ASSERT(count > 0 && count <= 32768 && (count & (count - 1)) == 0);
    ASSERT(buffer_bytes > 0);
    memset(br, 0, sizeof(*br));
    size_t ring_bytes = (size_t)count * sizeof(struct io_uring_buf);
    /* The kernel reads the ring directly: it must be page-aligned. */
    void *ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring == MAP_FAILED)
        return -ENOMEM;
    br->buffers = aligned_alloc(64, (size_t)count * buffer_bytes);
    if (br->buffers == NULL) {
        munmap(ring, ring_bytes);
        return -ENOMEM;
    }
    br->ring = ring;
    br->count = count;
    br->buffer_bytes = buffer_bytes;
    br->group_id = group_id;
    br->mask = (uint32_t)io_uring_buf_ring_mask(count);
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)ring, .ring_entries = count, .bgid = group_id};
    int err = io_uring_register_buf_ring(&loop->ring, &reg, 0);
    if (err < 0) {
        free(br->buffers);
        munmap(ring, ring_bytes);
        return err;
    }
    io_uring_buf_ring_init(br->ring);
    for (uint32_t i = 0; i < count; i++)
        io_uring_buf_ring_add(br->ring, br->buffers + (size_t)i * buffer_bytes, buffer_bytes,
                              (uint16_t)i, (int)br->mask, (int)i);
    io_uring_buf_ring_advance(br->ring, (int)count);
    return 0;
}

void io_buf_ring_destroy(struct io_buf_ring *br, struct io_loop *loop)
{
    ASSERT(br->in_use == 0);
    io_uring_unregister_buf_ring(&loop->ring, br->group_id);
    munmap(br->ring, (size_t)br->count * sizeof(struct io_uring_buf));
    free(br->buffers);
    br->ring = NULL;
    br->buffers = NULL;
}

void io_buf_ring_prep_recv(struct io_buf_ring *br, struct io_uring_sqe *sqe, int fd)
{
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = br->group_id;
}

uint8_t *io_buf_ring_buffer(struct io_buf_ring *br, uint32_t cqe_flags, uint16_t *id)
{
    ASSERT(cqe_flags & IORING_CQE_F_BUFFER); /* the kernel's word, not the peer's */
    *id = (uint16_t)(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
    ASSERT(*id < br->count);
    br->in_use++;
    return br->buffers + (size_t)*id * br->buffer_bytes;
}

void io_buf_ring_recycle(struct io_buf_ring *br, uint16_t id)
{
    ASSERT(id < br->count && br->in_use > 0);
    br->in_use--;
    io_uring_buf_ring_add(br->ring, br->buffers + (size_t)id * br->buffer_bytes, br->buffer_bytes,
                          id, (int)br->mask, 0);
    io_uring_buf_ring_advance(br->ring, 1);
}
