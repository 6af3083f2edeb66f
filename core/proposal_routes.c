/* The proposal routes; see proposal_routes.h. The id map is open addressing with linear probing
 * and backward-shift deletion (no tombstones, so a long run never degrades it); ids are spread
 * with a multiplicative hash because their low bits are a counter. */
#include "proposal_routes.h"

#include <errno.h>
#include <stdlib.h>

#include "ringd_assert.h"

#define ROUTES_END UINT32_MAX

static uint32_t routes_hash(const struct proposal_routes *t, uint64_t id)
{
    return (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & t->map_mask;
}

int proposal_routes_init(struct proposal_routes *t, uint32_t cap)
{
    ASSERT(cap > 0 && cap <= (1u << 30));
    uint32_t slots = 1;
    while (slots < 2 * cap)
        slots *= 2;
    *t = (struct proposal_routes){.cap = cap, .map_mask = slots - 1};
    t->slots = calloc(cap, sizeof *t->slots);
    t->map = calloc(slots, sizeof *t->map);
    if (t->slots == NULL || t->map == NULL) {
        proposal_routes_destroy(t);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < cap; i++)
        t->slots[i].newer = i + 1 < cap ? i + 1 : ROUTES_END;
    t->free = 0;
    t->oldest = t->newest = ROUTES_END;
    return 0;
}

void proposal_routes_destroy(struct proposal_routes *t)
{
    free(t->slots);
    free(t->map);
    t->slots = NULL;
    t->map = NULL;
}

void proposal_routes_add(struct proposal_routes *t, uint64_t id, const struct apply_route *r,
                         uint64_t deadline_tick)
{
    ASSERT(id != 0 && t->count < t->cap && t->free != ROUTES_END);
    uint32_t s = t->free;
    struct proposal_route *pr = &t->slots[s];
    t->free = pr->newer;
    *pr = (struct proposal_route){.id = id,
                                  .deadline_tick = deadline_tick,
                                  .route = *r,
                                  .older = t->newest,
                                  .newer = ROUTES_END};
    if (t->newest != ROUTES_END)
        t->slots[t->newest].newer = s;
    else
        t->oldest = s;
    t->newest = s;
    t->count++;
    uint32_t h = routes_hash(t, id);
    while (t->map[h] != 0) {
        ASSERT(t->slots[t->map[h] - 1].id != id); /* ids are unique */
        h = (h + 1) & t->map_mask;
    }
    t->map[h] = s + 1;
}

/* Empties map position h, moving later entries of the probe run back so lookups still find
 * them. */
static void routes_map_delete(struct proposal_routes *t, uint32_t h)
{
    uint32_t hole = h;
    for (uint32_t i = (h + 1) & t->map_mask; t->map[i] != 0; i = (i + 1) & t->map_mask) {
        uint32_t home = routes_hash(t, t->slots[t->map[i] - 1].id);
        /* An entry may fill the hole only if its home is not between the hole and itself. */
        if (((i - home) & t->map_mask) >= ((i - hole) & t->map_mask)) {
            t->map[hole] = t->map[i];
            hole = i;
        }
    }
    t->map[hole] = 0;
}

/* Unlinks slot s (found at map position h) and frees it. */
static void routes_remove(struct proposal_routes *t, uint32_t s, uint32_t h,
                          struct apply_route *out)
{
    struct proposal_route *pr = &t->slots[s];
    *out = pr->route;
    routes_map_delete(t, h);
    if (pr->older != ROUTES_END)
        t->slots[pr->older].newer = pr->newer;
    else
        t->oldest = pr->newer;
    if (pr->newer != ROUTES_END)
        t->slots[pr->newer].older = pr->older;
    else
        t->newest = pr->older;
    pr->id = 0;
    pr->newer = t->free;
    t->free = s;
    ASSERT(t->count > 0);
    t->count--;
}

/* The map position of id, or ROUTES_END. */
static uint32_t routes_find(const struct proposal_routes *t, uint64_t id)
{
    if (id == 0)
        return ROUTES_END;
    for (uint32_t h = routes_hash(t, id), n = 0; n <= t->map_mask; h = (h + 1) & t->map_mask, n++) {
        if (t->map[h] == 0)
            return ROUTES_END;
        if (t->slots[t->map[h] - 1].id == id)
            return h;
    }
    return ROUTES_END; /* the map is never full: twice the slots */
}

bool proposal_routes_take(struct proposal_routes *t, uint64_t id, struct apply_route *out)
{
    uint32_t h = routes_find(t, id);
    if (h == ROUTES_END)
        return false;
    routes_remove(t, t->map[h] - 1, h, out);
    return true;
}

bool proposal_routes_expire(struct proposal_routes *t, uint64_t now_tick, uint64_t committed,
                            struct apply_route *out)
{
    if (t->oldest == ROUTES_END)
        return false;
    const struct proposal_route *pr = &t->slots[t->oldest];
    bool replaced = pr->route.index != 0 && pr->route.index <= committed;
    if (!replaced && pr->deadline_tick > now_tick)
        return false;
    uint32_t h = routes_find(t, pr->id);
    ASSERT(h != ROUTES_END);
    routes_remove(t, t->oldest, h, out);
    return true;
}

void proposal_routes_set_waiting(struct proposal_routes *t, uint64_t id, bool waiting)
{
    uint32_t h = routes_find(t, id);
    ASSERT(h != ROUTES_END);
    t->slots[t->map[h] - 1].waiting = waiting;
}

uint64_t proposal_routes_next_waiting(const struct proposal_routes *t, uint64_t after_id,
                                      struct apply_route *out)
{
    uint32_t s = t->oldest;
    if (after_id != 0) {
        uint32_t h = routes_find(t, after_id);
        ASSERT(h != ROUTES_END);
        s = t->slots[t->map[h] - 1].newer;
    }
    for (; s != ROUTES_END; s = t->slots[s].newer) {
        if (t->slots[s].waiting) {
            *out = t->slots[s].route;
            return t->slots[s].id;
        }
    }
    return 0;
}

uint64_t proposal_routes_oldest_deadline(const struct proposal_routes *t)
{
    return t->oldest == ROUTES_END ? UINT64_MAX : t->slots[t->oldest].deadline_tick;
}
