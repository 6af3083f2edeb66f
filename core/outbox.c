#include "outbox.h"

#include <errno.h>
#include <stdlib.h>

#include "ringd_assert.h"
#include "ringd_error.h"

int outbox_init(struct outbox *o, uint16_t to, uint32_t cap)
{
    ASSERT(cap > 0);
    *o = (struct outbox){.to = to, .cap = cap, .items = calloc(cap, sizeof(struct msg))};
    return o->items != NULL ? 0 : -ENOMEM;
}

void outbox_destroy(struct outbox *o)
{
    free(o->items);
    o->items = NULL;
    o->count = 0;
}

int outbox_send(struct outbox *o, struct actor *a, struct msg *m)
{
    if (o->count == 0) {
        int err = actor_send(a, o->to, m);
        if (err != -RINGD_EFULL)
            return err;
    }
    if (o->count == o->cap)
        return -RINGD_EFULL;
    o->items[(o->head + o->count) % o->cap] = *m;
    o->count++;
    return 0;
}

void outbox_flush(struct outbox *o, struct actor *a)
{
    while (o->count > 0) {
        int err = actor_send(a, o->to, &o->items[o->head]);
        if (err == -RINGD_EFULL)
            return; /* writable() comes again when it has room */
        ASSERT(err == 0 || err == -EPIPE);
        o->head = (o->head + 1) % o->cap;
        o->count--;
    }
}
