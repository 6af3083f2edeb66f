#include "skiplist.h"

#include <errno.h>
#include <stdlib.h>

#include "ringd_assert.h"

/* The writer reads its own links with relaxed loads: only it ever stores them. */
static inline struct mvcc_key *link_own(const struct mvcc_key *k, int level)
{
    return atomic_load_explicit(&skiplist_links(k)[level], memory_order_relaxed);
}

static inline const struct mvcc_key *link_acquire(const struct mvcc_key *k, int level)
{
    return atomic_load_explicit(&skiplist_links(k)[level], memory_order_acquire);
}

static struct mvcc_key *node_alloc(const uint8_t *key, uint32_t key_len, uint8_t height)
{
    struct mvcc_key *k = malloc(skiplist_node_bytes(height, key_len));
    if (k == NULL)
        return NULL;
    atomic_init(&k->newest, NULL);
    k->len = key_len;
    k->height = height;
    struct mvcc_key *_Atomic *links = skiplist_links(k);
    for (int i = 0; i < height; i++)
        atomic_init(&links[i], NULL);
    uint8_t *bytes = (uint8_t *)&links[height];
    if (key_len > 0)
        memcpy(bytes, key, key_len);
    k->bytes = bytes;
    return k;
}

int skiplist_init(struct skiplist *l, uint64_t seed)
{
    l->head = node_alloc(NULL, 0, MVCC_SKIPLIST_LEVELS);
    if (l->head == NULL)
        return -ENOMEM;
    atomic_init(&l->levels, 1);
    l->rng = seed | 1; /* xorshift never leaves 0 */
    return 0;
}

void skiplist_destroy(struct skiplist *l)
{
    ASSERT(link_own(l->head, 0) == NULL);
    free(l->head);
    l->head = NULL;
}

const struct mvcc_key *skiplist_first(const struct skiplist *l)
{
    return link_acquire(l->head, 0);
}

/* Keys compared against a node. */
static inline int node_cmp(const struct mvcc_key *k, const uint8_t *key, uint32_t key_len)
{
    return skiplist_key_cmp(k->bytes, k->len, key, key_len);
}

const struct mvcc_key *skiplist_seek(const struct skiplist *l, const uint8_t *key, uint32_t key_len)
{
    const struct mvcc_key *x = l->head;
    const struct mvcc_key *n = NULL;
    const struct mvcc_key *known_ge = NULL; /* a node already found >= key: no second compare */
    int top = atomic_load_explicit(&l->levels, memory_order_relaxed);
    for (int i = top - 1; i >= 0; i--) {
        while ((n = link_acquire(x, i)) != NULL && n != known_ge && node_cmp(n, key, key_len) < 0)
            x = n;
        known_ge = n;
    }
    /* n, not a fresh load of x's level 0: the writer may have linked a key < key after x
     * since, and a seek must never return a node before its key. */
    return n;
}

/* Heights with p = 1/4 per level, as the limit's "4^levels keys" assumes. */
static uint8_t random_height(struct skiplist *l)
{
    uint64_t r = l->rng;
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    l->rng = r;
    uint8_t height = 1;
    while (height < MVCC_SKIPLIST_LEVELS && (r & 3) == 0) {
        height++;
        r >>= 2;
    }
    return height;
}

struct mvcc_key *skiplist_node_new(struct skiplist *l, const uint8_t *key, uint32_t key_len)
{
    return node_alloc(key, key_len, random_height(l));
}

struct mvcc_key *skiplist_find(struct skiplist *l, const uint8_t *key, uint32_t key_len,
                               struct mvcc_key *preds[MVCC_SKIPLIST_LEVELS])
{
    struct mvcc_key *x = l->head;
    struct mvcc_key *n = NULL;
    const struct mvcc_key *known_ge = NULL;
    for (int i = MVCC_SKIPLIST_LEVELS - 1; i >= 0; i--) {
        while ((n = link_own(x, i)) != NULL && n != known_ge && node_cmp(n, key, key_len) < 0)
            x = n;
        known_ge = n;
        preds[i] = x;
    }
    return n != NULL && node_cmp(n, key, key_len) == 0 ? n : NULL;
}

void skiplist_link(struct skiplist *l, struct mvcc_key *node,
                   struct mvcc_key *const preds[MVCC_SKIPLIST_LEVELS])
{
    ASSERT(node->height >= 1 && node->height <= MVCC_SKIPLIST_LEVELS);
    ASSERT(atomic_load_explicit(&node->newest, memory_order_relaxed) != NULL);
    struct mvcc_key *_Atomic *links = skiplist_links(node);
    for (int i = 0; i < node->height; i++) {
        struct mvcc_key *succ = link_own(preds[i], i);
        DASSERT(succ == NULL || node_cmp(succ, node->bytes, node->len) > 0);
        atomic_store_explicit(&links[i], succ, memory_order_relaxed);
        /* Release: the node (key, first version, lower links) is complete before any reader
         * can reach it on this level. */
        atomic_store_explicit(&skiplist_links(preds[i])[i], node, memory_order_release);
    }
    if (node->height > atomic_load_explicit(&l->levels, memory_order_relaxed))
        atomic_store_explicit(&l->levels, node->height, memory_order_relaxed);
}

void skiplist_unlink(struct skiplist *l, struct mvcc_key *node)
{
    struct mvcc_key *preds[MVCC_SKIPLIST_LEVELS];
    struct mvcc_key *found = skiplist_find(l, node->bytes, node->len, preds);
    ASSERT(found == node);
    /* Top-down keeps every level a sub-list of the one below at every moment, as bottom-up
     * linking does for inserts. A reader already standing on the node is not disturbed: its
     * links stay as they were and still lead into the list. */
    for (int i = node->height - 1; i >= 0; i--) {
        ASSERT(link_own(preds[i], i) == node);
        atomic_store_explicit(&skiplist_links(preds[i])[i], link_own(node, i),
                              memory_order_release);
    }
}
