#include "pool.h"

#include <stdlib.h>

#include "ringd_assert.h"

void pool_init(struct pool *p, size_t object_bytes, uint32_t retain_max, void (*release)(void *obj))
{
    ASSERT(p != NULL && object_bytes >= sizeof(void *));
    *p = (struct pool){.object_bytes = object_bytes, .retain_max = retain_max, .release = release};
}

static void pool_free(struct pool *p, void *obj)
{
    if (p->release != NULL)
        p->release(obj);
    free(obj);
}

void *pool_get(struct pool *p)
{
    ASSERT(p->object_bytes > 0);
    void *obj = p->free_list;
    if (obj == NULL)
        return calloc(1, p->object_bytes);
    ASSERT(p->free_count > 0);
    p->free_list = *(void **)obj;
    p->free_count--;
    return obj;
}

void pool_put(struct pool *p, void *obj)
{
    ASSERT(obj != NULL);
    if (p->free_count >= p->retain_max) {
        pool_free(p, obj);
        return;
    }
    *(void **)obj = p->free_list;
    p->free_list = obj;
    p->free_count++;
}

void pool_drain(struct pool *p)
{
    while (p->free_list != NULL) {
        void *obj = p->free_list;
        p->free_list = *(void **)obj;
        pool_free(p, obj);
    }
    p->free_count = 0;
}
