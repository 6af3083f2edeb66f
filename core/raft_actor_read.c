/* The raft actor's read-index rounds; see raft_actor_read.h. */
#include "raft_actor_read.h"

#include <errno.h>

#include "ringd_assert.h"
#include "ringd_error.h"

/* MSG_READ_READY to every shard in mask: a is 0 (serve) or a negated error. */
static void read_answer(struct raft_actor *ra, uint64_t mask, int err)
{
    for (uint16_t id = 0; mask != 0; id++, mask >>= 1) {
        if ((mask & 1) == 0)
            continue;
        struct msg m = {.type = MSG_READ_READY, .a = (uint64_t)(int64_t)err};
        int rc = outbox_send(&ra->replies[id], ra->actor, &m);
        ASSERT(rc == 0 || rc == -EPIPE); /* one request per shard out; a shard that left */
    }
}

static void read_remove(struct raft_actor *ra, uint32_t i)
{
    ASSERT(i < ra->read_rounds_count);
    ra->read_rounds[i] = ra->read_rounds[--ra->read_rounds_count];
}

void raft_actor_read_ask(struct raft_actor *ra, uint16_t shard)
{
    ASSERT(shard < ACTORS_MAX);
    if (ra->read_shards == 0)
        ra->read_since_tick = ra->ticks;
    ra->read_shards |= 1ull << shard;
}

/* Asks the core for a read index under a new context; false when it cannot take one now. */
static bool read_request(struct raft_actor *ra, uint64_t *context)
{
    uint64_t c = ra->read_context + 1;
    if (raft_read_index(ra->raft, c) < 0)
        return false;
    ra->read_context = c;
    *context = c;
    return true;
}

void raft_actor_read_start(struct raft_actor *ra)
{
    if (ra->read_shards == 0 || ra->read_rounds_count == RAFT_ACTOR_READ_ROUNDS)
        return;
    uint64_t context;
    if (!read_request(ra, &context))
        return; /* no leader yet: the tick retries, the deadline fails them */
    ra->read_rounds[ra->read_rounds_count++] = (struct raft_actor_read_round){
        .context = context,
        .shards = ra->read_shards,
        .asked_tick = ra->ticks,
        .deadline_tick = ra->read_since_tick + ra->request_timeout_ticks,
    };
    ra->read_shards = 0;
}

void raft_actor_read_answered(struct raft_actor *ra, const struct raft_read_state *rs, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        for (uint32_t i = 0; i < ra->read_rounds_count; i++)
            if (ra->read_rounds[i].context == rs[k].context && ra->read_rounds[i].index == 0)
                ra->read_rounds[i].index = rs[k].index > 0 ? rs[k].index : 1;
    raft_actor_read_release(ra);
}

void raft_actor_read_release(struct raft_actor *ra)
{
    for (uint32_t i = 0; i < ra->read_rounds_count;) {
        const struct raft_actor_read_round *r = &ra->read_rounds[i];
        if (r->index != 0 && r->index <= ra->applied) {
            read_answer(ra, r->shards, 0);
            read_remove(ra, i);
        } else {
            i++;
        }
    }
}

void raft_actor_read_tick(struct raft_actor *ra)
{
    uint64_t retry_ticks = RAFT_ACTOR_READ_RETRY_NS / ra->tick_ns + 1;
    for (uint32_t i = 0; i < ra->read_rounds_count;) {
        struct raft_actor_read_round *r = &ra->read_rounds[i];
        if (r->index == 0 && ra->ticks >= r->deadline_tick) {
            read_answer(ra, r->shards, -RINGD_ETIMEOUT);
            read_remove(ra, i);
            continue;
        }
        if (r->index == 0 && ra->ticks - r->asked_tick >= retry_ticks &&
            read_request(ra, &r->context))
            r->asked_tick = ra->ticks;
        i++;
    }
    if (ra->read_shards != 0 && ra->ticks >= ra->read_since_tick + ra->request_timeout_ticks) {
        read_answer(ra, ra->read_shards, -RINGD_ETIMEOUT);
        ra->read_shards = 0;
    }
}

void raft_actor_read_fail_all(struct raft_actor *ra, int err)
{
    for (uint32_t i = 0; i < ra->read_rounds_count; i++)
        read_answer(ra, ra->read_rounds[i].shards, err);
    ra->read_rounds_count = 0;
    read_answer(ra, ra->read_shards, err);
    ra->read_shards = 0;
}
