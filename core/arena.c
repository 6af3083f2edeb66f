#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "ringd_assert.h"
#include "ringd_limits.h"

struct arena_block {
    struct arena_block *next;
    size_t size; /* bytes of data */
    alignas(max_align_t) unsigned char data[];
};

static void *arena_pb_alloc(void *data, size_t size)
{
    return arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr; /* freed with the arena */
}

void arena_init(struct arena *a)
{
    *a =
        (struct arena){.pb = {.alloc = arena_pb_alloc, .free = arena_pb_free, .allocator_data = a}};
}

static void arena_free_blocks(struct arena_block *b)
{
    while (b != NULL) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
}

void arena_destroy(struct arena *a)
{
    arena_free_blocks(a->head);
    a->head = NULL;
    a->used = 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
    const size_t align = alignof(max_align_t);
    size = (size + align - 1) & ~(align - 1);
    if (a->head == NULL || a->head->size - a->used < size) {
        size_t block = ARENA_BLOCK_BYTES;
        while (block < size)
            block *= 2; /* one request's object larger than a block gets a block of its own */
        struct arena_block *b = malloc(sizeof *b + block);
        if (b == NULL)
            return NULL;
        b->size = block;
        b->next = a->head;
        a->head = b;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += size;
    return p;
}

void arena_reset(struct arena *a)
{
    struct arena_block *keep = a->head;
    /* Keep the oldest block (the first one made) when it is small enough, else none. */
    while (keep != NULL && keep->next != NULL)
        keep = keep->next;
    struct arena_block *b = a->head;
    while (b != NULL && b != keep) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    if (keep != NULL && keep->size > ARENA_RETAIN_BYTES) {
        free(keep);
        keep = NULL;
    }
    if (keep != NULL)
        keep->next = NULL;
    a->head = keep;
    a->used = 0;
    ASSERT(a->head == NULL || a->head->next == NULL);
}
