#include "alarm.h"

#include <inttypes.h>
#include <stdio.h>

#include "ringd_assert.h"

const struct alarm_member *alarm_activate(struct alarm_set *s, uint64_t member_id, int32_t type)
{
    for (uint32_t i = 0; i < s->count; i++) {
        if (s->items[i].member_id == member_id && s->items[i].type == type)
            return &s->items[i];
    }
    if (s->count == ALARMS_MAX)
        return NULL;
    s->items[s->count] = (struct alarm_member){.member_id = member_id, .type = type};
    return &s->items[s->count++];
}

bool alarm_deactivate(struct alarm_set *s, uint64_t member_id, int32_t type,
                      struct alarm_member *out)
{
    for (uint32_t i = 0; i < s->count; i++) {
        if (s->items[i].member_id != member_id || s->items[i].type != type)
            continue;
        *out = s->items[i];
        for (uint32_t j = i + 1; j < s->count; j++)
            s->items[j - 1] = s->items[j];
        s->count--;
        return true;
    }
    return false;
}

uint32_t alarm_count(const struct alarm_set *s, int32_t type)
{
    if (type == ALARM_NONE)
        return s->count;
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->count; i++)
        n += s->items[i].type == type;
    return n;
}

int alarm_format(const struct alarm_member *m, char *out, uint32_t out_bytes)
{
    ASSERT(out_bytes > 0);
    static const char *const names[] = {"NONE", "NOSPACE", "CORRUPT"};
    int n;
    if (m->type >= 0 && m->type <= ALARM_CORRUPT)
        n = snprintf(out, out_bytes, "memberID:%" PRIu64 " alarm:%s ", m->member_id,
                     names[m->type]);
    else
        n = snprintf(out, out_bytes, "memberID:%" PRIu64 " alarm:%" PRId32 " ", m->member_id,
                     m->type);
    return n;
}
