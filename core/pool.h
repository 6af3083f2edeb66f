/* A free list of equal-sized objects for one thread: freed objects go back to the thread's pool
 * rather than to the allocator, up to a bound, so the hot path reuses memory that is already
 * warm and never waits on the allocator. Beyond the bound they are freed.
 *
 * Thread: a pool and its objects belong to one thread. */
#ifndef RINGD_POOL_H
#define RINGD_POOL_H

#include <stddef.h>
#include <stdint.h>

struct pool {
    size_t object_bytes; /* >= sizeof(void *) */
    uint32_t retain_max; /* objects kept on the free list at most */
    uint32_t free_count;
    void *free_list;            /* each free object's first word links to the next */
    void (*release)(void *obj); /* frees what an object points to before it is freed; may be NULL */
};

/* A pool of object_bytes objects that keeps at most retain_max free ones. release (may be
 * NULL) runs on an object just before the pool frees it, so an object kept with buffers of its
 * own can free them. */
void pool_init(struct pool *p, size_t object_bytes, uint32_t retain_max,
               void (*release)(void *obj));

/* An object, or NULL when memory ran out. A kept object holds whatever its last user left in
 * it (but for its first word); a fresh one is zeroed, so an owner can tell buffers it kept
 * from none. */
void *pool_get(struct pool *p);

/* Gives obj back; it is kept for the next pool_get or freed when retain_max are kept. */
void pool_put(struct pool *p, void *obj);

/* Frees every kept object (release first). The pool stays usable. */
void pool_drain(struct pool *p);

#endif
