/* Messages an actor could not send yet because the receiver's mailbox was full, kept in order
 * per receiver and sent once it has room: actor_send's back-pressure without loss and without
 * reordering. The backlog is bounded; its owner sizes it to what it can have in flight.
 *
 * Thread: the owning actor's. */
#ifndef RINGD_OUTBOX_H
#define RINGD_OUTBOX_H

#include <stdint.h>

#include "actor.h"
#include "msg.h"

struct outbox {
    uint16_t to;
    uint32_t cap;
    uint32_t head;
    uint32_t count;
    struct msg *items;
};

/* An outbox towards actor `to` keeping up to cap messages. Returns 0 or -ENOMEM. */
int outbox_init(struct outbox *o, uint16_t to, uint32_t cap);
void outbox_destroy(struct outbox *o);

/* Sends m now when nothing waits before it and the mailbox has room, else keeps it. Returns 0,
 * or -RINGD_EFULL when the backlog is full too (the caller sized it too small), or -EPIPE when
 * the receiver has left (shutdown only). */
int outbox_send(struct outbox *o, struct actor *a, struct msg *m);

/* Sends what it keeps, in order, until the mailbox is full again. From ops->writable. */
void outbox_flush(struct outbox *o, struct actor *a);

/* Messages kept. */
static inline uint32_t outbox_pending(const struct outbox *o)
{
    return o->count;
}

#endif
