/* One partition of the MVCC key index: a skip list of key nodes (struct mvcc_key) in etcd's key
 * order (memcmp, then the shorter key first), changed by one writer thread and walked by any
 * number of reader threads without locks.
 *
 * A node is one allocation: the struct mvcc_key, then its height next pointers (level 0
 * first), then the key bytes. The writer builds a node completely, then publishes it level by
 * level from the bottom with release stores, so a reader that reaches it through any level
 * (acquire loads) sees it whole, and a reader on a higher level that misses it still finds it
 * below. Unlinking goes top-down and leaves the node's own pointers intact, so a reader standing
 * on an unlinked node walks on into the list; the node's memory must outlive every reader that
 * could stand on it (the caller's ck_epoch deferral). */
#ifndef RINGD_SKIPLIST_H
#define RINGD_SKIPLIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mvcc.h"
#include "ringd_limits.h"

_Static_assert(MVCC_SKIPLIST_LEVELS >= 1 && MVCC_SKIPLIST_LEVELS <= 32,
               "a node height fits in uint8_t and the height generator's 64 random bits");

struct skiplist {
    struct mvcc_key *head;  /* sentinel of full height, no key, no versions */
    _Atomic uint8_t levels; /* highest node height ever linked: where searches start */
    uint64_t rng;           /* writer: xorshift state for node heights */
};

/* etcd's key order (Go's bytes.Compare): <0, 0 or >0. Inline and eight bytes at a time (as
 * big-endian words): a search compares keys at every node it visits, and a call to memcmp for
 * short keys cost more than the comparison itself. */
static inline int skiplist_key_cmp(const uint8_t *a, uint32_t a_len, const uint8_t *b,
                                   uint32_t b_len)
{
    uint32_t n = a_len < b_len ? a_len : b_len;
    uint32_t i = 0;
    for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
        uint64_t x, y;
        memcpy(&x, a + i, sizeof(x));
        memcpy(&y, b + i, sizeof(y));
        if (x != y) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            x = __builtin_bswap64(x);
            y = __builtin_bswap64(y);
#endif
            return x < y ? -1 : 1;
        }
    }
    for (; i < n; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return (a_len > b_len) - (a_len < b_len);
}

/* The node's next pointers, level 0 first (implementation layout, after the struct). */
static inline struct mvcc_key *_Atomic *skiplist_links(const struct mvcc_key *k)
{
    return (struct mvcc_key * _Atomic *)((uintptr_t)k + sizeof(struct mvcc_key));
}

/* The next node on level 0 (acquire: the node it returns is seen whole). Any thread. */
static inline const struct mvcc_key *skiplist_next(const struct mvcc_key *k)
{
    return atomic_load_explicit(&skiplist_links(k)[0], memory_order_acquire);
}

/* Bytes of one node of that height and key length: what skiplist_node_new allocates. */
static inline size_t skiplist_node_bytes(uint8_t height, uint32_t key_len)
{
    return sizeof(struct mvcc_key) + (size_t)height * sizeof(struct mvcc_key *) + key_len;
}

/* Sets up an empty list; seed picks the node heights (deterministic: store/ never calls rand).
 * Returns 0 or -ENOMEM. */
int skiplist_init(struct skiplist *l, uint64_t seed);

/* Frees the sentinel. Every other node was freed by the caller. */
void skiplist_destroy(struct skiplist *l);

/* The first node, or NULL. Any thread. */
const struct mvcc_key *skiplist_first(const struct skiplist *l);

/* Reader (or writer): the first node whose key is >= key, or NULL. */
const struct mvcc_key *skiplist_seek(const struct skiplist *l, const uint8_t *key,
                                     uint32_t key_len);

/* Writer: a new unlinked node for key with a random height, its next pointers NULL and newest
 * NULL; the caller links it with skiplist_link or frees it. NULL when out of memory. */
struct mvcc_key *skiplist_node_new(struct skiplist *l, const uint8_t *key, uint32_t key_len);

/* Writer: the node whose key equals key, or NULL; either way preds[i] gets the last node before
 * key on level i, for every level (what skiplist_link needs). */
struct mvcc_key *skiplist_find(struct skiplist *l, const uint8_t *key, uint32_t key_len,
                               struct mvcc_key *preds[MVCC_SKIPLIST_LEVELS]);

/* Writer: publishes node (built completely, key not in the list) after preds, bottom-up. */
void skiplist_link(struct skiplist *l, struct mvcc_key *node,
                   struct mvcc_key *const preds[MVCC_SKIPLIST_LEVELS]);

/* Writer: takes node out of every level, top-down. Readers may still stand on it: free it only
 * after they are gone. */
void skiplist_unlink(struct skiplist *l, struct mvcc_key *node);

#endif
