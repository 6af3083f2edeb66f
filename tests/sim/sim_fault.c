/* Fault injection during the run's first phase: partitions (one member cut off both ways, a
 * minority split from the majority, a member that hears nobody while everyone hears it, one
 * link cut one way), crashes (unsynced writes lost or torn, a restart from the durable state
 * a while later), slow disks; and, as events among them, leadership transfers and membership
 * changes (sim_conf.c). Each fault heals after a while; sim_fault_heal_all ends them all for
 * the quiet phase. */
#include "sim.h"

#include <inttypes.h>

#include "ringd_assert.h"

enum fault_kind {
    FAULT_ISOLATE,   /* one member: no link in or out */
    FAULT_SPLIT,     /* a minority apart from the majority */
    FAULT_DEAF,      /* one member hears nobody; everyone hears it (asymmetric) */
    FAULT_ONE_WAY,   /* one link cut in one direction (asymmetric) */
    FAULT_CRASH,     /* one member down, restarted later */
    FAULT_SLOW_DISK, /* one member's syncs take 50-600 ms */
    FAULT_TRANSFER,  /* the leader hands leadership to a voter (sim_conf.c) */
    FAULT_CONF,      /* a membership change (sim_conf.c) */
    FAULT_KINDS,
};

static const char *const fault_names[FAULT_KINDS] = {
    "isolate", "split", "deaf", "one-way", "crash", "slow-disk", "transfer", "conf-change"};

static void cut(struct sim *s, struct sim_fault *f, uint32_t from, uint32_t to)
{
    if (from == to || (f->cut[from] >> to & 1))
        return;
    f->cut[from] |= 1u << to;
    s->net.cut[from][to]++;
}

static void cut_both(struct sim *s, struct sim_fault *f, uint32_t a, uint32_t b)
{
    cut(s, f, a, b);
    cut(s, f, b, a);
}

static void partition(struct sim *s, struct sim_fault *f)
{
    uint32_t n = s->n_members, m = f->member;
    if (f->kind == FAULT_ONE_WAY) {
        cut(s, f, (m + 1 + (uint32_t)sim_rng_below(&s->rng, n - 1)) % n, m);
        return;
    }
    if (f->kind == FAULT_SPLIT) {
        /* A random minority: each member joins it with even odds, at most n / 2 of them. */
        uint32_t minority = 1u << m, size = 1;
        for (uint32_t i = 0; i < n && size < n / 2; i++)
            if (!(minority >> i & 1) && sim_rng_chance(&s->rng, 500)) {
                minority |= 1u << i;
                size++;
            }
        for (uint32_t a = 0; a < n; a++)
            for (uint32_t b = 0; b < n; b++)
                if ((minority >> a & 1) && !(minority >> b & 1))
                    cut_both(s, f, a, b);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        cut(s, f, i, m); /* isolate and deaf: nothing comes in */
        if (f->kind == FAULT_ISOLATE)
            cut(s, f, m, i);
    }
}

static struct sim_fault *free_slot(struct sim *s, uint32_t *slot)
{
    for (uint32_t i = 0; i < SIM_FAULTS_MAX; i++)
        if (!s->faults[i].active) {
            *slot = i;
            return &s->faults[i];
        }
    return NULL;
}

/* Starts fault f on its member; false when it makes no sense now (the member is down). */
static bool start(struct sim *s, struct sim_fault *f)
{
    struct sim_member *m = &s->members[f->member];
    switch (f->kind) {
    case FAULT_CRASH:
        if (!m->up)
            return false;
        sim_member_crash(s, m);
        sim_sched_after(&s->sched, sim_rng_range(&s->rng, SIM_MS(20), SIM_MS(2500)), SIM_EV_RESTART,
                        f->member, 0);
        return false; /* nothing to heal: the restart ends it */
    case FAULT_SLOW_DISK:
        m->slow_disk = true;
        s->stats.slow_disks++;
        return true;
    case FAULT_TRANSFER:
        sim_conf_transfer(s);
        return false; /* an event: nothing to heal */
    case FAULT_CONF:
        sim_conf_propose(s);
        return false;
    default:
        partition(s, f);
        s->stats.partitions++;
        return true;
    }
}

/* Faults hit the leader (of the highest term) half the time: that is where raft is subtle. */
static uint32_t victim(struct sim *s)
{
    uint32_t pick = sim_member_pick(s);
    if (sim_rng_chance(&s->rng, 500))
        return pick;
    raft_term best = 0;
    for (uint32_t k = 0; k < s->n_members; k++) {
        struct raft_status st;
        if (!s->members[k].up)
            continue;
        raft_status(s->members[k].r, &st);
        if (st.state == RAFT_LEADER && st.hard_state.term >= best) {
            best = st.hard_state.term;
            pick = k;
        }
    }
    return pick;
}

void sim_fault_inject(struct sim *s)
{
    if (!s->faults_on)
        return;
    uint32_t slot;
    struct sim_fault *f = free_slot(s, &slot);
    if (f != NULL) {
        /* Membership changes take a few tries (one at a time, a learner must catch up before
         * its promotion): three chances in ten; the other kinds one each. */
        uint32_t dice = (uint32_t)sim_rng_below(&s->rng, FAULT_KINDS + 2);
        *f = (struct sim_fault){.kind = (uint8_t)(dice < FAULT_KINDS ? dice : FAULT_CONF),
                                .member = victim(s)};
        sim_trace(s, "fault %s on member %u", fault_names[f->kind], f->member + 1);
        f->active = start(s, f);
        if (f->active)
            sim_sched_after(&s->sched, sim_rng_range(&s->rng, SIM_MS(100), SIM_MS(3000)),
                            SIM_EV_HEAL, slot, 0);
    }
    sim_sched_after(&s->sched, sim_rng_range(&s->rng, SIM_MS(100), SIM_MS(1200)), SIM_EV_FAULT, 0,
                    0);
}

void sim_fault_heal(struct sim *s, uint32_t slot)
{
    ASSERT(slot < SIM_FAULTS_MAX);
    struct sim_fault *f = &s->faults[slot];
    if (!f->active)
        return; /* healed already, with all the others */
    sim_trace(s, "heal %s on member %u", fault_names[f->kind], f->member + 1);
    if (f->kind == FAULT_SLOW_DISK)
        s->members[f->member].slow_disk = false;
    for (uint32_t a = 0; a < s->n_members; a++)
        for (uint32_t b = 0; b < s->n_members; b++)
            if (f->cut[a] >> b & 1) {
                ASSERT(s->net.cut[a][b] > 0);
                s->net.cut[a][b]--;
            }
    f->active = false;
}

void sim_fault_heal_all(struct sim *s)
{
    s->faults_on = false;
    for (uint32_t i = 0; i < SIM_FAULTS_MAX; i++)
        sim_fault_heal(s, i);
    for (uint32_t a = 0; a < s->n_members; a++)
        for (uint32_t b = 0; b < s->n_members; b++)
            ASSERT(s->net.cut[a][b] == 0);
    for (uint32_t i = 0; i < s->n_members; i++) {
        s->members[i].slow_disk = false;
        if (s->members[i].booted && !s->members[i].stopped && !s->members[i].up)
            sim_member_restart(s, &s->members[i]);
    }
    s->net.cfg.drop_pm = 0;
    s->net.cfg.dup_pm = 0;
    s->net.cfg.slow_pm = 0;
}
