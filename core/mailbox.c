#include "mailbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"
#include "ringd_limits.h"

CK_RING_PROTOTYPE(msg, msg)

/* ck_pr is inline assembly that ThreadSanitizer cannot see, so the hand-over of everything a
 * sender wrote before a push is declared to it explicitly: a release on the mailbox before
 * the push, an acquire after the pop. */
#if defined(__SANITIZE_THREAD__)
#define MAILBOX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MAILBOX_TSAN 1
#endif
#endif
#ifdef MAILBOX_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define MAILBOX_RELEASE(mb) __tsan_release(mb)
#define MAILBOX_ACQUIRE(mb) __tsan_acquire(mb)
#else
#define MAILBOX_RELEASE(mb) ((void)(mb))
#define MAILBOX_ACQUIRE(mb) ((void)(mb))
#endif

int mailbox_init(struct mailbox *mb, uint32_t capacity, uint16_t from, uint16_t to)
{
    uint32_t size = capacity + 1;
    ASSERT(capacity > 0 && capacity <= MAILBOX_CAPACITY_MAX);
    ASSERT((size & (size - 1)) == 0);
    memset(mb, 0, sizeof(*mb));
    mb->slots = aligned_alloc(64, (size_t)size * sizeof(struct msg));
    if (mb->slots == NULL)
        return -ENOMEM;
    ck_ring_init(&mb->ring, size);
    mb->capacity = capacity;
    mb->from = from;
    mb->to = to;
    atomic_init(&mb->sender_waiting, 0);
    return 0;
}

void mailbox_destroy(struct mailbox *mb)
{
    free(mb->slots);
    mb->slots = NULL;
}

bool mailbox_push(struct mailbox *mb, const struct msg *m)
{
    ASSERT(m->type != MSG_NONE && m->type < MSG_TYPE_COUNT);
    MAILBOX_RELEASE(mb);
    return ck_ring_enqueue_spsc_msg(&mb->ring, mb->slots, (struct msg *)m);
}

bool mailbox_pop(struct mailbox *mb, struct msg *out)
{
    if (!ck_ring_dequeue_spsc_msg(&mb->ring, mb->slots, out))
        return false;
    MAILBOX_ACQUIRE(mb);
    ASSERT(out->type != MSG_NONE && out->type < MSG_TYPE_COUNT);
    return true;
}

bool mailbox_is_empty(const struct mailbox *mb)
{
    return ck_ring_size(&mb->ring) == 0;
}

uint32_t mailbox_count(const struct mailbox *mb)
{
    return ck_ring_size(&mb->ring);
}

bool mailbox_sender_wait(struct mailbox *mb)
{
    /* Dekker handshake with mailbox_take_sender_waiting: the flag is visible before we look at
     * the ring again, and the receiver frees space before it looks at the flag, so either we
     * see the space or it sees the flag. */
    atomic_store_explicit(&mb->sender_waiting, 1, memory_order_seq_cst);
    return ck_ring_size(&mb->ring) < mb->capacity;
}

bool mailbox_take_sender_waiting(struct mailbox *mb)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&mb->sender_waiting, memory_order_relaxed) == 0)
        return false;
    return atomic_exchange_explicit(&mb->sender_waiting, 0, memory_order_acq_rel) != 0;
}
