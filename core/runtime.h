/* The actor runtime: a fixed set of actors, the mailboxes between the pairs that talk, their
 * threads, and the two-phase shutdown (stop taking work, then drain and leave).
 *
 * Thread: runtime_add/link/start/join/destroy on the controlling (main) thread; runtime_stop
 * from any thread, including a signal-handling thread. */
#ifndef RINGD_RUNTIME_H
#define RINGD_RUNTIME_H

#include <stdatomic.h>
#include <stdint.h>

#include "actor.h"
#include "ringd_limits.h"

struct runtime {
    struct actor *actors[ACTORS_MAX];
    uint16_t count;
    uint16_t started; /* threads created by runtime_start, to be joined */
    _Atomic uint32_t stopping;
    _Atomic int32_t first_error; /* the first negative start() return, or 0 */
    _Atomic uint32_t exited;     /* actors that have left */
    int exit_fd;                 /* eventfd, readable once every actor has left */
};

/* Returns 0 or a negated errno (eventfd). */
int runtime_init(struct runtime *rt);

/* Adds an actor named name (cut to ACTOR_NAME_BYTES_MAX - 1) running ops with ctx; its
 * io_uring and timers are set up here, on the calling thread. Returns its id (>= 0), or a
 * negated errno (-ENOSPC past ACTORS_MAX actors; io_uring set-up errors). */
int runtime_add(struct runtime *rt, const char *name, const struct actor_ops *ops, void *ctx,
                bool source);

/* Creates the mailbox for messages from `from` to `to`, holding capacity messages (capacity+1
 * a power of two). Returns 0, -EEXIST or -ENOMEM. */
int runtime_link(struct runtime *rt, uint16_t from, uint16_t to, uint32_t capacity);

/* As runtime_link, for a sender that only answers requests of `to`: at shutdown `to` does not
 * wait for it to leave (which breaks a cycle of two non-source actors that ask each other). */
int runtime_link_replies(struct runtime *rt, uint16_t from, uint16_t to, uint32_t capacity);

/* Starts every actor's thread (blocking SIGINT and SIGTERM in them: signals belong to the
 * controlling thread). Returns 0 or a negated errno; on error the started ones are stopped and
 * runtime_join still has to be called. */
int runtime_start(struct runtime *rt);

/* Begins shutdown: every actor stops taking work, drains and leaves. Idempotent. */
void runtime_stop(struct runtime *rt);

/* Any thread: true once runtime_stop was called. */
bool runtime_stopping(const struct runtime *rt);

/* Waits for every thread; returns the first start() error, or 0. */
int runtime_join(struct runtime *rt);

/* Frees the actors' loops, timers and mailboxes; the threads must have been joined. */
void runtime_destroy(struct runtime *rt);

/* Called by an actor thread (actor.c) when it leaves: wakes the actors it sent to and, when it
 * is the last, makes exit_fd readable. */
void runtime_actor_exited(struct runtime *rt, struct actor *a);

/* Called by an actor thread whose start() failed: records err and stops the runtime. */
void runtime_fail(struct runtime *rt, int err);

#endif
