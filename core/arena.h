/* A bump allocator for memory that lives exactly as long as one request: decoded requests and
 * the response built from them. Allocation is a pointer bump in the current block; arena_reset
 * frees everything at once and keeps the first block for the next request, so a thread serving
 * requests of ordinary size allocates nothing after warm-up.
 *
 * Bound: an arena grows with what one request needs (a Range over the whole key space needs a
 * KeyValue per key); it keeps at most ARENA_RETAIN_BYTES between requests.
 *
 * Thread: an arena belongs to one thread. */
#ifndef RINGD_ARENA_H
#define RINGD_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

struct arena_block;

struct arena {
    struct arena_block *head; /* current block, newest first */
    size_t used;              /* bytes used in head */
    ProtobufCAllocator pb;    /* protobuf-c's view of this arena (free is a no-op) */
};

/* An empty arena; its first allocation creates its first block. */
void arena_init(struct arena *a);

/* Frees every block. */
void arena_destroy(struct arena *a);

/* size bytes aligned for any type, or NULL when memory ran out. */
void *arena_alloc(struct arena *a, size_t size);

/* Frees everything allocated since the last reset; keeps one block of at most
 * ARENA_RETAIN_BYTES. */
void arena_reset(struct arena *a);

#endif
