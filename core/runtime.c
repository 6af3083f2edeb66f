#include "runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ringd_assert.h"

int runtime_init(struct runtime *rt)
{
    memset(rt, 0, sizeof(*rt));
    rt->exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rt->exit_fd < 0)
        return -errno;
    return 0;
}

int runtime_add(struct runtime *rt, const char *name, const struct actor_ops *ops, void *ctx,
                bool source)
{
    ASSERT(ops != NULL && ops->receive != NULL);
    if (rt->count == ACTORS_MAX)
        return -ENOSPC;
    struct actor *a = aligned_alloc(64, sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    memset(a, 0, sizeof(*a));
    int err = io_loop_init(&a->loop, LOOP_SQ_ENTRIES);
    if (err < 0) {
        free(a);
        return err;
    }
    err = timer_heap_init(&a->timers, TIMERS_PER_THREAD_MAX);
    if (err < 0) {
        io_loop_destroy(&a->loop);
        free(a);
        return err;
    }
    a->id = rt->count;
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->ops = ops;
    a->ctx = ctx;
    a->source = source;
    a->rt = rt;
    atomic_init(&a->writable_mask, 0);
    atomic_init(&a->state, ACTOR_CREATED);
    rt->actors[rt->count++] = a;
    return a->id;
}

int runtime_link(struct runtime *rt, uint16_t from, uint16_t to, uint32_t capacity)
{
    ASSERT(from < rt->count && to < rt->count && from != to);
    struct actor *sender = rt->actors[from];
    struct actor *receiver = rt->actors[to];
    if (sender->outbox[to] != NULL)
        return -EEXIST;
    struct mailbox *mb = aligned_alloc(64, sizeof(*mb));
    if (mb == NULL)
        return -ENOMEM;
    int err = mailbox_init(mb, capacity, from, to);
    if (err < 0) {
        free(mb);
        return err;
    }
    sender->outbox[to] = mb;
    receiver->inbox[from] = mb;
    receiver->senders[receiver->senders_count++] = from;
    return 0;
}

int runtime_link_replies(struct runtime *rt, uint16_t from, uint16_t to, uint32_t capacity)
{
    int err = runtime_link(rt, from, to, capacity);
    if (err == 0)
        rt->actors[to]->replies_mask |= 1ull << from;
    return err;
}

int runtime_start(struct runtime *rt)
{
    sigset_t blocked, previous;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    int err = 0;
    uint16_t started = 0;
    for (; started < rt->count; started++) {
        struct actor *a = rt->actors[started];
        err = -pthread_create(&a->thread, NULL, actor_main, a);
        if (err < 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    rt->started = started;
    if (err < 0) {
        /* Actors that never started count as gone, so the started ones do not wait for them. */
        for (uint16_t i = started; i < rt->count; i++) {
            atomic_store(&rt->actors[i]->state, ACTOR_EXITED);
            atomic_fetch_add(&rt->exited, 1);
        }
        runtime_stop(rt);
    }
    return err;
}

void runtime_stop(struct runtime *rt)
{
    if (atomic_exchange(&rt->stopping, 1) != 0)
        return;
    for (uint16_t i = 0; i < rt->count; i++)
        io_loop_wake(&rt->actors[i]->loop);
}

bool runtime_stopping(const struct runtime *rt)
{
    return atomic_load_explicit(&rt->stopping, memory_order_acquire) != 0;
}

void runtime_fail(struct runtime *rt, int err)
{
    ASSERT(err < 0);
    int32_t none = 0;
    atomic_compare_exchange_strong(&rt->first_error, &none, err);
    runtime_stop(rt);
}

void runtime_actor_exited(struct runtime *rt, struct actor *a)
{
    /* Receivers waiting for every sender to leave re-check now. */
    for (uint16_t to = 0; to < rt->count; to++)
        if (a->outbox[to] != NULL)
            io_loop_wake(&rt->actors[to]->loop);
    if (atomic_fetch_add(&rt->exited, 1) + 1 == rt->count) {
        uint64_t one = 1;
        ssize_t w = write(rt->exit_fd, &one, sizeof(one));
        ASSERT(w == (ssize_t)sizeof(one));
    }
}

int runtime_join(struct runtime *rt)
{
    for (uint16_t i = 0; i < rt->started; i++)
        pthread_join(rt->actors[i]->thread, NULL);
    rt->started = 0;
    return atomic_load(&rt->first_error);
}

void runtime_destroy(struct runtime *rt)
{
    for (uint16_t i = 0; i < rt->count; i++) {
        struct actor *a = rt->actors[i];
        for (uint16_t to = 0; to < rt->count; to++) {
            if (a->outbox[to] != NULL) {
                mailbox_destroy(a->outbox[to]);
                free(a->outbox[to]);
            }
        }
    }
    for (uint16_t i = 0; i < rt->count; i++) {
        struct actor *a = rt->actors[i];
        timer_heap_destroy(&a->timers);
        io_loop_destroy(&a->loop);
        free(a);
        rt->actors[i] = NULL;
    }
    rt->count = 0;
    close(rt->exit_fd);
    rt->exit_fd = -1;
}
