/* The raft core's log window: slots by index, data in a byte ring, positions that only grow. */
#include "raft_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"
#include "ringd_error.h"

int raft_log_init(struct raft_log *l, uint32_t entries_max, uint64_t bytes_max)
{
    ASSERT(entries_max > 0 && (entries_max & (entries_max - 1)) == 0);
    ASSERT(bytes_max > 0);
    memset(l, 0, sizeof(*l));
    l->slots = calloc(entries_max, sizeof(l->slots[0]));
    l->bytes = malloc(bytes_max);
    if (l->slots == NULL || l->bytes == NULL) {
        raft_log_destroy(l);
        return -ENOMEM;
    }
    l->slots_mask = entries_max - 1;
    l->bytes_size = bytes_max;
    l->pin_pos = UINT64_MAX;
    return 0;
}

void raft_log_destroy(struct raft_log *l)
{
    free(l->slots);
    free(l->bytes);
    memset(l, 0, sizeof(*l));
}

void raft_log_reset(struct raft_log *l, raft_index index, raft_term term)
{
    ASSERT(index >= l->committed);
    ASSERT(l->slots != NULL && l->bytes != NULL);
    l->snap_index = index;
    l->snap_term = term;
    l->last = index;
    l->stable = index;
    l->committed = index;
    l->applied = index;
    raft_log_check(l);
}

static const struct raft_log_slot *slot_of(const struct raft_log *l, raft_index i)
{
    ASSERT(i > l->snap_index && i <= l->last);
    return &l->slots[i & l->slots_mask];
}

bool raft_log_term(const struct raft_log *l, raft_index i, raft_term *term)
{
    if (i == l->snap_index) {
        *term = l->snap_term;
        return true;
    }
    if (i < l->snap_index || i > l->last)
        return false;
    *term = slot_of(l, i)->term;
    ASSERT(*term >= l->snap_term);
    return true;
}

raft_term raft_log_last_term(const struct raft_log *l)
{
    raft_term t = 0;
    bool ok = raft_log_term(l, l->last, &t);
    ASSERT(ok);
    return t;
}

bool raft_log_match_term(const struct raft_log *l, raft_index i, raft_term term)
{
    raft_term t;
    return raft_log_term(l, i, &t) && t == term;
}

void raft_log_entry(const struct raft_log *l, raft_index i, struct raft_entry *e, uint64_t *pos)
{
    const struct raft_log_slot *s = slot_of(l, i);
    ASSERT(s->len <= l->bytes_size && s->pos + s->len <= l->bytes_tail);
    e->term = s->term;
    e->index = i;
    e->len = s->len;
    e->type = s->type;
    e->data = s->len == 0 ? NULL : l->bytes + (s->pos % l->bytes_size);
    if (pos != NULL)
        *pos = s->pos;
}

/* The lowest position in use: the first entry's data, or an older pinned one. */
static uint64_t head_pos(const struct raft_log *l)
{
    uint64_t head = l->bytes_tail;
    if (l->last > l->snap_index)
        head = slot_of(l, l->snap_index + 1)->pos;
    ASSERT(head <= l->bytes_tail);
    return head < l->pin_pos ? head : l->pin_pos;
}

uint64_t raft_log_bytes_used(const struct raft_log *l)
{
    uint64_t head = head_pos(l);
    ASSERT(head <= l->bytes_tail);
    return l->bytes_tail - head;
}

/* Finds len contiguous bytes at the tail (skipping the ring's end when they would straddle it)
 * that overwrite nothing at or after the head. */
static bool reserve_bytes(struct raft_log *l, uint32_t len, uint64_t *pos)
{
    uint64_t p = l->bytes_tail;
    uint64_t off = p % l->bytes_size;
    if (len > 0 && off + len > l->bytes_size)
        p += l->bytes_size - off;
    if (p + len - head_pos(l) > l->bytes_size)
        return false;
    ASSERT(p >= l->bytes_tail && (len == 0 || p % l->bytes_size + len <= l->bytes_size));
    *pos = p;
    l->bytes_tail = p + len;
    return true;
}

int raft_log_append(struct raft_log *l, raft_term term, uint8_t type, const uint8_t *data,
                    uint32_t len)
{
    ASSERT(term >= raft_log_last_term(l));
    ASSERT(len == 0 || data != NULL);
    if (l->last - l->snap_index > l->slots_mask)
        return -RINGD_EFULL;
    uint64_t pos;
    if (!reserve_bytes(l, len, &pos))
        return -RINGD_EFULL;
    if (len > 0)
        memcpy(l->bytes + (pos % l->bytes_size), data, len);
    l->last++;
    struct raft_log_slot *s = &l->slots[l->last & l->slots_mask];
    *s = (struct raft_log_slot){.term = term, .pos = pos, .len = len, .type = type};
    ASSERT(l->last - l->snap_index <= (uint64_t)l->slots_mask + 1);
    return 0;
}

void raft_log_truncate(struct raft_log *l, raft_index index)
{
    ASSERT(index >= l->committed && index <= l->last);
    ASSERT(index >= l->snap_index);
    l->last = index;
    if (l->stable > index)
        l->stable = index;
    raft_log_check(l);
}

void raft_log_compact(struct raft_log *l, raft_index index)
{
    ASSERT(index >= l->snap_index && index <= l->applied);
    raft_term t = 0;
    bool ok = raft_log_term(l, index, &t);
    ASSERT(ok);
    l->snap_index = index;
    l->snap_term = t;
    raft_log_check(l);
}

void raft_log_check(const struct raft_log *l)
{
    ASSERT(l->snap_index <= l->applied);
    ASSERT(l->applied <= l->committed && l->committed <= l->last);
    ASSERT(l->applied <= l->stable && l->stable <= l->last);
    ASSERT(l->last - l->snap_index <= (uint64_t)l->slots_mask + 1);
}
