/* The shard's linearizable reads; see read_wait.h. */
#include "read_wait.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"
#include "ringd_error.h"
#include "ringd_limits.h"

void read_wait_init(struct read_wait *w)
{
    *w = (struct read_wait){0};
    w->asked_tail = &w->asked;
    w->queued_tail = &w->queued;
}

/* Moves the queued reads behind the request about to be sent. */
static void read_wait_ask(struct read_wait *w)
{
    ASSERT(!w->request_out && w->asked == NULL);
    w->asked = w->queued;
    w->asked_tail = w->queued != NULL ? w->queued_tail : &w->asked;
    w->queued = NULL;
    w->queued_tail = &w->queued;
    w->request_out = true;
}

int read_wait_add(struct read_wait *w, struct grpc_call *call, uint32_t kind,
                  const uint8_t *request, size_t len, bool *ask)
{
    *ask = false;
    if (w->count >= SHARD_READS_MAX)
        return -RINGD_ETOO_MANY_REQUESTS;
    struct read_waiter *r = malloc(sizeof *r + len);
    if (r == NULL)
        return -ENOMEM;
    *r = (struct read_waiter){.call = call, .kind = kind, .len = len};
    if (len > 0)
        memcpy(r->request, request, len);
    *w->queued_tail = r;
    w->queued_tail = &r->next;
    w->count++;
    if (!w->request_out) {
        read_wait_ask(w);
        *ask = true;
    }
    return 0;
}

struct read_waiter *read_wait_release(struct read_wait *w, bool *ask)
{
    ASSERT(w->request_out);
    struct read_waiter *done = w->asked;
    for (struct read_waiter *r = done; r != NULL; r = r->next) {
        ASSERT(w->count > 0);
        w->count--;
    }
    w->asked = NULL;
    w->asked_tail = &w->asked;
    w->request_out = false;
    *ask = w->queued != NULL;
    if (*ask)
        read_wait_ask(w);
    return done;
}

void read_wait_cancel(struct read_wait *w, const struct grpc_call *call)
{
    struct read_waiter *lists[2] = {w->asked, w->queued};
    for (int i = 0; i < 2; i++)
        for (struct read_waiter *r = lists[i]; r != NULL; r = r->next)
            if (r->call == call)
                r->call = NULL;
}
