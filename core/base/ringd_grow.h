/* Growing a heap byte buffer by doubling, within a bound: what the gRPC client's and the peer
 * transport's buffers share. Header only, no dependencies. */
#ifndef RINGD_GROW_H
#define RINGD_GROW_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Makes *cap at least want (doubling from initial_bytes when empty, at most max_bytes),
 * reallocating *data. Returns 0, -EMSGSIZE when want is over max_bytes, or -ENOMEM (then the
 * buffer is as it was). */
static inline int ringd_grow(uint8_t **data, size_t *cap, size_t want, size_t initial_bytes,
                             size_t max_bytes)
{
    if (want <= *cap)
        return 0;
    if (want > max_bytes)
        return -EMSGSIZE;
    size_t next = *cap > 0 ? *cap : initial_bytes;
    while (next < want) /* at most log2(max_bytes) doublings */
        next *= 2;
    if (next > max_bytes)
        next = max_bytes;
    uint8_t *grown = realloc(*data, next);
    if (grown == NULL)
        return -ENOMEM;
    *data = grown;
    *cap = next;
    return 0;
}

#endif
