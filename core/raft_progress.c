/* Progress, inflight windows, configuration and vote tally (etcd's tracker package). */
#include "raft_progress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"
#include "ringd_error.h"

int raft_tracker_init(struct raft_tracker *t, uint32_t inflight_msgs_max,
                      uint64_t inflight_bytes_max)
{
    ASSERT(inflight_msgs_max > 0 && inflight_msgs_max <= RAFT_INFLIGHT_MSGS_MAX);
    ASSERT(inflight_bytes_max > 0);
    memset(t, 0, sizeof(*t));
    t->inflight_storage =
        calloc((size_t)RAFT_MEMBERS_MAX * inflight_msgs_max, sizeof(t->inflight_storage[0]));
    if (t->inflight_storage == NULL)
        return -ENOMEM;
    t->inflight_msgs_max = inflight_msgs_max;
    t->inflight_bytes_max = inflight_bytes_max;
    return 0;
}

void raft_tracker_destroy(struct raft_tracker *t)
{
    free(t->inflight_storage);
    memset(t, 0, sizeof(*t));
}

static bool ids_valid(const raft_id *ids, uint32_t n, const raft_id *others, uint32_t n_others)
{
    ASSERT(n <= RAFT_MEMBERS_MAX && n_others <= RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] == RAFT_NONE)
            return false;
        for (uint32_t j = i + 1; j < n; j++)
            if (ids[j] == ids[i])
                return false;
        for (uint32_t j = 0; j < n_others; j++)
            if (others[j] == ids[i])
                return false;
    }
    return true;
}

int raft_conf_validate(const struct raft_conf_state *c)
{
    if (c->n_voters > RAFT_MEMBERS_MAX || c->n_learners > RAFT_MEMBERS_MAX ||
        c->n_voters + c->n_learners > RAFT_MEMBERS_MAX)
        return -RINGD_ECORRUPT;
    if (!ids_valid(c->voters, c->n_voters, c->learners, c->n_learners))
        return -RINGD_ECORRUPT;
    if (!ids_valid(c->learners, c->n_learners, NULL, 0))
        return -RINGD_ECORRUPT;
    return 0;
}

static void progress_reset(struct raft_progress *p, raft_id self, raft_index last,
                           raft_index persisted)
{
    ASSERT(p->id != RAFT_NONE && persisted <= last);
    ASSERT(p->inflights.ring != NULL);
    p->match = p->id == self ? persisted : 0;
    p->next = last + 1;
    p->pending_snapshot = 0;
    p->sent_commit = 0;
    p->read_ack = 0;
    p->state = RAFT_PROGRESS_PROBE;
    p->probe_sent = false;
    p->recent_active = p->id == self;
    p->inflights.start = 0;
    p->inflights.count = 0;
    p->inflights.bytes = 0;
}

/* The id of position i of c: its voters, then its learners. */
static raft_id conf_id(const struct raft_conf_state *c, uint32_t i, bool *learner)
{
    ASSERT(i < c->n_voters + c->n_learners);
    *learner = i >= c->n_voters;
    return *learner ? c->learners[i - c->n_voters] : c->voters[i];
}

/* Gives p the inflight window in storage slot, empty. */
static void progress_bind(struct raft_tracker *t, struct raft_progress *p, uint32_t slot)
{
    ASSERT(slot < RAFT_MEMBERS_MAX);
    p->inflights.ring = &t->inflight_storage[(size_t)slot * t->inflight_msgs_max];
    p->inflights.capacity = t->inflight_msgs_max;
    p->inflights.bytes_max = t->inflight_bytes_max;
}

void raft_tracker_set_conf(struct raft_tracker *t, const struct raft_conf_state *c, raft_id self,
                           raft_index last, raft_index persisted)
{
    ASSERT(raft_conf_validate(c) == 0);
    ASSERT(t->inflight_storage != NULL);
    t->conf = *c;
    t->n = c->n_voters + c->n_learners;
    for (uint32_t i = 0; i < t->n; i++) {
        struct raft_progress *p = &t->progress[i];
        p->id = conf_id(c, i, &p->learner);
        progress_bind(t, p, i);
        progress_reset(p, self, last, persisted);
    }
    raft_tracker_reset_votes(t);
}

/* The inflight storage slot p's window uses. */
static uint32_t progress_slot(const struct raft_tracker *t, const struct raft_progress *p)
{
    size_t slot = (size_t)(p->inflights.ring - t->inflight_storage) / t->inflight_msgs_max;
    ASSERT(slot < RAFT_MEMBERS_MAX);
    return (uint32_t)slot;
}

void raft_tracker_change_conf(struct raft_tracker *t, const struct raft_conf_state *c, raft_id self,
                              raft_index last, raft_index persisted)
{
    ASSERT(raft_conf_validate(c) == 0);
    _Static_assert(RAFT_MEMBERS_MAX <= 64, "the slots in use fit one word");
    struct raft_progress old[RAFT_MEMBERS_MAX];
    int8_t old_votes[RAFT_MEMBERS_MAX];
    uint32_t old_n = t->n;
    memcpy(old, t->progress, sizeof(old[0]) * old_n);
    memcpy(old_votes, t->votes, sizeof(old_votes));
    uint64_t used = 0; /* storage slots of the members that stay */
    t->conf = *c;
    t->n = c->n_voters + c->n_learners;
    raft_tracker_reset_votes(t);
    for (uint32_t i = 0; i < t->n; i++) {
        struct raft_progress *p = &t->progress[i];
        bool learner;
        raft_id id = conf_id(c, i, &learner);
        p->id = RAFT_NONE;
        for (uint32_t j = 0; j < old_n && p->id == RAFT_NONE; j++) {
            if (old[j].id != id)
                continue;
            *p = old[j]; /* a member that stays keeps its progress (a promoted learner too) */
            t->votes[i] = old_votes[j];
            used |= 1ull << progress_slot(t, p);
        }
        p->learner = learner;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        struct raft_progress *p = &t->progress[i];
        if (p->id != RAFT_NONE)
            continue;
        bool learner;
        p->id = conf_id(c, i, &learner);
        ASSERT(~used != 0); /* at most RAFT_MEMBERS_MAX members */
        uint32_t slot = (uint32_t)__builtin_ctzll(~used);
        used |= 1ull << slot;
        progress_bind(t, p, slot);
        progress_reset(p, self, last, persisted);
        /* Not yet heard from, but check-quorum must not count it as lost (etcd). */
        p->recent_active = true;
    }
}

void raft_tracker_reset(struct raft_tracker *t, raft_id self, raft_index last, raft_index persisted)
{
    ASSERT(persisted <= last);
    for (uint32_t i = 0; i < t->n; i++)
        progress_reset(&t->progress[i], self, last, persisted);
    raft_tracker_reset_votes(t);
}

static int find(const struct raft_tracker *t, raft_id id)
{
    ASSERT(t->n <= RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < t->n; i++)
        if (t->progress[i].id == id)
            return (int)i;
    return -1;
}

struct raft_progress *raft_tracker_get(struct raft_tracker *t, raft_id id)
{
    ASSERT(id != RAFT_NONE);
    int i = find(t, id);
    return i < 0 ? NULL : &t->progress[i];
}

bool raft_tracker_is_voter(const struct raft_tracker *t, raft_id id)
{
    int i = find(t, id);
    return i >= 0 && !t->progress[i].learner;
}

static uint32_t quorum(const struct raft_tracker *t)
{
    ASSERT(t->conf.n_voters <= t->n);
    return t->conf.n_voters / 2 + 1;
}

/* The value a quorum of voters has reached: the quorum-th largest of values[0, n_voters). */
static uint64_t quorum_value(const struct raft_tracker *t, const uint64_t *values)
{
    uint32_t n = t->conf.n_voters;
    ASSERT(n > 0 && n <= RAFT_MEMBERS_MAX && n <= t->n);
    uint64_t sorted[RAFT_MEMBERS_MAX];
    /* Insertion sort, descending: at most RAFT_MEMBERS_MAX voters. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = i;
        for (; j > 0 && sorted[j - 1] < values[i]; j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = values[i];
    }
    for (uint32_t i = 1; i < n; i++)
        DASSERT(sorted[i - 1] >= sorted[i]);
    return sorted[quorum(t) - 1];
}

raft_index raft_tracker_committed(const struct raft_tracker *t)
{
    if (t->conf.n_voters == 0)
        return 0;
    uint64_t match[RAFT_MEMBERS_MAX];
    for (uint32_t i = 0; i < t->conf.n_voters; i++)
        match[i] = t->progress[i].match;
    return quorum_value(t, match);
}

uint64_t raft_tracker_read_acked(const struct raft_tracker *t, raft_id self, uint64_t self_round)
{
    if (t->conf.n_voters == 0)
        return 0;
    uint64_t acks[RAFT_MEMBERS_MAX];
    for (uint32_t i = 0; i < t->conf.n_voters; i++) {
        const struct raft_progress *p = &t->progress[i];
        ASSERT(p->id == self || p->read_ack <= self_round);
        acks[i] = p->id == self ? self_round : p->read_ack;
    }
    return quorum_value(t, acks);
}

bool raft_tracker_quorum_active(const struct raft_tracker *t, raft_id self)
{
    uint32_t active = 0;
    for (uint32_t i = 0; i < t->conf.n_voters; i++) {
        const struct raft_progress *p = &t->progress[i];
        ASSERT(!p->learner);
        if (p->id == self || p->recent_active)
            active++;
    }
    return active >= quorum(t);
}

void raft_tracker_reset_votes(struct raft_tracker *t)
{
    ASSERT(t->n <= RAFT_MEMBERS_MAX);
    memset(t->votes, 0, sizeof(t->votes));
}

void raft_tracker_record_vote(struct raft_tracker *t, raft_id id, bool granted)
{
    int i = find(t, id);
    if (i < 0 || t->progress[i].learner || t->votes[i] != 0)
        return;
    ASSERT((uint32_t)i < t->conf.n_voters);
    t->votes[i] = granted ? 1 : -1;
}

enum raft_vote_result raft_tracker_tally(const struct raft_tracker *t, uint32_t *granted,
                                         uint32_t *rejected)
{
    uint32_t yes = 0, no = 0;
    for (uint32_t i = 0; i < t->conf.n_voters; i++) {
        yes += t->votes[i] > 0;
        no += t->votes[i] < 0;
    }
    ASSERT(yes + no <= t->conf.n_voters);
    *granted = yes;
    *rejected = no;
    if (t->conf.n_voters == 0)
        return RAFT_VOTE_LOST;
    if (yes >= quorum(t))
        return RAFT_VOTE_WON;
    if (t->conf.n_voters - no < quorum(t))
        return RAFT_VOTE_LOST;
    return RAFT_VOTE_PENDING;
}

static void reset_state(struct raft_progress *p, enum raft_progress_state s)
{
    ASSERT(s <= RAFT_PROGRESS_SNAPSHOT);
    p->probe_sent = false;
    p->pending_snapshot = 0;
    p->state = s;
    p->inflights.start = 0;
    p->inflights.count = 0;
    p->inflights.bytes = 0;
}

void raft_progress_become_probe(struct raft_progress *p)
{
    /* After a snapshot, probe from after it: the follower has it, or reports failure. */
    raft_index next = p->match + 1;
    if (p->state == RAFT_PROGRESS_SNAPSHOT && p->pending_snapshot + 1 > next)
        next = p->pending_snapshot + 1;
    reset_state(p, RAFT_PROGRESS_PROBE);
    p->next = next;
    ASSERT(p->match < p->next);
}

void raft_progress_become_replicate(struct raft_progress *p)
{
    reset_state(p, RAFT_PROGRESS_REPLICATE);
    p->next = p->match + 1;
    ASSERT(p->inflights.count == 0);
}

void raft_progress_become_snapshot(struct raft_progress *p, raft_index snapshot_index)
{
    ASSERT(snapshot_index >= p->match);
    reset_state(p, RAFT_PROGRESS_SNAPSHOT);
    p->pending_snapshot = snapshot_index;
    ASSERT(p->inflights.count == 0);
}

bool raft_progress_maybe_update(struct raft_progress *p, raft_index n)
{
    bool updated = false;
    if (p->match < n) {
        p->match = n;
        p->probe_sent = false;
        updated = true;
    }
    if (p->next < n + 1)
        p->next = n + 1;
    ASSERT(p->match < p->next);
    return updated;
}

bool raft_progress_maybe_decr_to(struct raft_progress *p, raft_index rejected,
                                 raft_index match_hint)
{
    if (p->state == RAFT_PROGRESS_REPLICATE) {
        /* Stale when the follower matched past it already; else go back to just after match. */
        if (rejected <= p->match)
            return false;
        p->next = p->match + 1;
        return true;
    }
    /* Probes go one at a time: an answer about anything but next - 1 is stale. */
    if (p->next - 1 != rejected)
        return false;
    raft_index next = rejected < match_hint + 1 ? rejected : match_hint + 1;
    p->next = next > p->match + 1 ? next : p->match + 1;
    p->probe_sent = false;
    ASSERT(p->match < p->next);
    return true;
}

void raft_progress_sent_entries(struct raft_progress *p, raft_index last, uint64_t bytes,
                                uint32_t n_entries)
{
    ASSERT(p->state != RAFT_PROGRESS_SNAPSHOT);
    if (n_entries == 0)
        return;
    ASSERT(p->state == RAFT_PROGRESS_PROBE || last == p->next - 1 + n_entries);
    if (p->state == RAFT_PROGRESS_REPLICATE) {
        p->next = last + 1;
        raft_inflights_add(&p->inflights, last, bytes);
    } else {
        p->probe_sent = true;
    }
}

bool raft_progress_is_paused(const struct raft_progress *p)
{
    switch (p->state) {
    case RAFT_PROGRESS_PROBE:
        return p->probe_sent;
    case RAFT_PROGRESS_REPLICATE:
        return raft_inflights_full(&p->inflights);
    case RAFT_PROGRESS_SNAPSHOT:
        return true;
    }
    UNREACHABLE();
}

bool raft_inflights_full(const struct raft_inflights *in)
{
    ASSERT(in->count <= in->capacity);
    return in->count == in->capacity || in->bytes >= in->bytes_max;
}

void raft_inflights_add(struct raft_inflights *in, raft_index last, uint64_t bytes)
{
    ASSERT(in->count < in->capacity);
    ASSERT(in->count == 0 || in->ring[(in->start + in->count - 1) % in->capacity].last < last);
    in->ring[(in->start + in->count) % in->capacity] =
        (struct raft_inflight){.last = last, .bytes = bytes};
    in->count++;
    in->bytes += bytes;
}

void raft_inflights_free_le(struct raft_inflights *in, raft_index to)
{
    while (in->count > 0 && in->ring[in->start].last <= to) {
        ASSERT(in->bytes >= in->ring[in->start].bytes);
        in->bytes -= in->ring[in->start].bytes;
        in->start = (in->start + 1) % in->capacity;
        in->count--;
    }
    if (in->count == 0)
        in->start = 0;
    ASSERT(in->count > 0 || in->bytes == 0);
}

void raft_inflights_free_first(struct raft_inflights *in)
{
    uint32_t before = in->count;
    if (in->count > 0)
        raft_inflights_free_le(in, in->ring[in->start].last);
    ASSERT(before == 0 || in->count == before - 1);
}
