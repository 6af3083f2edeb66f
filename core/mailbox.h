/* A bounded single-producer single-consumer mailbox of struct msg between one ordered pair of
 * actors, on a Concurrency Kit ck_ring. Full is back-pressure: the push fails, the sender keeps
 * its message, and the receiver tells it when it has drained. Nothing is dropped or locked.
 *
 * Thread: mailbox_push and mailbox_sender_wait on the sender's thread only; mailbox_pop and
 * mailbox_take_sender_waiting on the receiver's thread only; init/destroy before the threads
 * start and after they end. */
#ifndef RINGD_MAILBOX_H
#define RINGD_MAILBOX_H

#include <ck_ring.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "msg.h"

struct mailbox {
    struct ck_ring ring; /* producer and consumer indexes on separate cache lines */
    struct msg *slots;
    uint32_t capacity; /* messages it holds when full: ring size - 1 */
    uint16_t from;
    uint16_t to;
    /* Set by the sender when a push found the ring full; the receiver clears it after a drain
     * and notifies the sender. Own cache line: it is touched only around back-pressure. */
    _Alignas(64) _Atomic uint32_t sender_waiting;
};

/* Allocates a ring holding capacity messages (capacity + 1 a power of two, at most
 * MAILBOX_CAPACITY_MAX). Returns 0 or -ENOMEM. */
int mailbox_init(struct mailbox *mb, uint32_t capacity, uint16_t from, uint16_t to);
void mailbox_destroy(struct mailbox *mb);

/* Copies m into the ring. False when full: nothing was written, the caller still owns m. */
bool mailbox_push(struct mailbox *mb, const struct msg *m);

/* Takes the oldest message into *out. False when empty. */
bool mailbox_pop(struct mailbox *mb, struct msg *out);

/* Any thread; exact on the receiver's thread, a snapshot elsewhere. */
bool mailbox_is_empty(const struct mailbox *mb);
uint32_t mailbox_count(const struct mailbox *mb);

/* Sender, after a failed push: asks to be notified when space appears. Returns true if space
 * appeared meanwhile (push again now), false if the receiver will notify. */
bool mailbox_sender_wait(struct mailbox *mb);

/* Receiver, after popping: true (once) if the sender is waiting for space. */
bool mailbox_take_sender_waiting(struct mailbox *mb);

#endif
