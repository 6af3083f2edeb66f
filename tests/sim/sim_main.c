/* ringd_sim: the deterministic cluster simulator's driver. Each run takes one 64-bit seed and
 * from it alone the cluster's size (3 or 5 founding voters, up to 3 more members that join), the
 * clients, the network's loss, duplication and delays, the disks' speed, the clocks' drift and
 * the faults, leadership transfers and membership changes; one event per step, in one thread,
 * with raft's safety checked after every step. A run has two phases: faults for a few
 * simulated seconds, then everything healed and quiet until the cluster converges (one leader,
 * every member in one configuration and applied everything) and a client has read every key
 * once more; then the clients' history must be linearizable.
 *
 *   SIM_SEED=n     run seed n alone (its summary line has the run's fingerprint)
 *   SIM_SEEDS=n    run n seeds from SIM_FIRST_SEED (default 1); default 100 seeds
 *   SIM_MEMBERS=k  3 or 5 founding voters in every run (default: odd seeds 3, even seeds 5)
 *   SIM_TRACE=1    print every step's story on stdout
 *   SIM_TEAR=0     a crash keeps whole Readies only (default: it may keep part of one Ready's
 *                  writes, entries without the hard state written after them, as a torn WAL
 *                  tail does)
 *
 * A failure prints "sim: seed N failed at step S: <why>" and the command that replays it. */
#include "sim.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringd_assert.h"

#define FAULT_PHASE_MIN_US SIM_MS(4000)
#define FAULT_PHASE_MAX_US SIM_MS(12000)
#define QUIET_PHASE_MAX_US SIM_MS(40000) /* to converge after the faults end */
#define OPS_PER_RUN        400
#define STEPS_PER_RUN_MAX  1000000 /* runs take a few thousand; more is a message storm */

static struct sim world; /* large: static, reused run after run */
static const char *program = "ringd_sim";

/* ---- reporting ---------------------------------------------------------------------------- */

/* The settings that change a seed's run come with it. */
static void replay_hint(const struct sim *s)
{
    char members[32] = "";
    if (getenv("SIM_MEMBERS") != NULL)
        snprintf(members, sizeof(members), "SIM_MEMBERS=%s ", getenv("SIM_MEMBERS"));
    fprintf(stderr,
            "sim: replay with %s%sSIM_SEED=%" PRIu64 " %s (SIM_TRACE=1 prints every step)\n",
            s->tear_readies ? "" : "SIM_TEAR=0 ", members, s->seed, program);
}

_Noreturn void sim_fail(struct sim *s, const char *fmt, ...)
{
    fflush(stdout);
    fprintf(stderr, "sim: seed %" PRIu64 " failed at step %" PRIu64 " (%" PRIu64 " ms): ", s->seed,
            s->step, s->sched.now / 1000);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    replay_hint(s);
    exit(1);
}

void sim_trace(struct sim *s, const char *fmt, ...)
{
    if (!s->trace)
        return;
    printf("%6" PRIu64 ".%03" PRIu64 " ms step %" PRIu64 ": ", s->sched.now / 1000,
           s->sched.now % 1000, s->step);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* A core assertion aborts: say which run it was first. */
static void on_abort(int sig)
{
    (void)sig;
    char buf[256];
    int n = snprintf(buf, sizeof(buf),
                     "sim: seed %" PRIu64 " failed at step %" PRIu64
                     ": an assertion (above)\nsim: replay with SIM_SEED=%" PRIu64 " %s\n",
                     world.seed, world.step, world.seed, program);
    if (n > 0)
        (void)!write(2, buf, (size_t)n);
}

/* ---- one step ----------------------------------------------------------------------------- */

/* The sender's transport tells raft what became of a snapshot it streamed, or of a stream that
 * broke on a cut link (etcd ReportSnapshot, ReportUnreachable). */
static void report(struct sim *s, const struct sim_packet *p, enum sim_net_fate fate)
{
    struct sim_member *from = &s->members[p->from];
    bool snap = p->raft.type == RAFT_MSG_SNAP;
    if (!from->up || from->incarnation != p->incarnation || (!snap && fate != SIM_NET_CUT))
        return;
    if (snap)
        raft_report_snapshot(from->r, p->raft.to, fate == SIM_NET_ARRIVED);
    else
        raft_report_unreachable(from->r, p->raft.to);
    sim_member_drive(s, from);
}

static void deliver(struct sim *s, uint32_t slot)
{
    struct sim_packet p;
    enum sim_net_fate fate = sim_net_take(&s->net, &s->rng, slot, &p);
    if (p.to >= s->n_members) {
        if (fate == SIM_NET_ARRIVED)
            sim_client_reply(s, &s->clients[p.to - s->n_members], &p);
    } else {
        struct sim_member *m = &s->members[p.to];
        if (fate == SIM_NET_ARRIVED && !m->up)
            fate = SIM_NET_CUT; /* nobody listens: the connection is refused */
        if (fate == SIM_NET_ARRIVED && p.kind == SIM_PKT_RAFT && sim_conf_refused(s, m, p.from))
            fate = SIM_NET_CUT; /* refused: the sender was removed from the cluster */
        if (fate == SIM_NET_ARRIVED)
            sim_member_receive(s, m, &p);
        if (p.kind == SIM_PKT_RAFT)
            report(s, &p, fate);
    }
    sim_net_packet_free(&p);
}

/* The member of an event that still lives the life the event was scheduled in, or NULL. */
static struct sim_member *live(struct sim *s, const struct sim_event *e)
{
    ASSERT(e->a < s->n_members);
    struct sim_member *m = &s->members[e->a];
    return m->up && m->incarnation == e->b ? m : NULL;
}

static void dispatch(struct sim *s, const struct sim_event *e)
{
    struct sim_member *m;
    switch (e->kind) {
    case SIM_EV_DELIVER:
        deliver(s, e->a);
        break;
    case SIM_EV_TICK:
        if ((m = live(s, e)) != NULL)
            sim_member_tick(s, m);
        break;
    case SIM_EV_SYNC:
        if ((m = live(s, e)) != NULL)
            sim_member_sync_done(s, m);
        break;
    case SIM_EV_DRIVE:
        if ((m = live(s, e)) != NULL)
            sim_member_drive(s, m);
        break;
    case SIM_EV_RESTART:
        if (!s->members[e->a].up && !s->members[e->a].stopped)
            sim_member_restart(s, &s->members[e->a]);
        break;
    case SIM_EV_STOP:
        if ((m = live(s, e)) != NULL)
            sim_conf_stop(s, m);
        break;
    case SIM_EV_CLIENT_NEXT:
        sim_client_next(s, &s->clients[e->a]);
        break;
    case SIM_EV_CLIENT_RETRY:
        sim_client_retry(s, &s->clients[e->a], e->b);
        break;
    case SIM_EV_CLIENT_TIMEOUT:
        sim_client_timeout(s, &s->clients[e->a], e->b);
        break;
    case SIM_EV_FAULT:
        sim_fault_inject(s);
        break;
    default:
        ASSERT(e->kind == SIM_EV_HEAL);
        sim_fault_heal(s, e->a);
    }
}

static bool step(struct sim *s)
{
    struct sim_event e;
    if (!sim_sched_pop(&s->sched, &e))
        return false;
    if (++s->step > STEPS_PER_RUN_MAX)
        sim_fail(s, "more than %u steps: a message storm?", STEPS_PER_RUN_MAX);
    uint64_t h = e.at ^ (uint64_t)e.kind << 56 ^ (uint64_t)e.a << 40 ^ e.b;
    s->fingerprint = (s->fingerprint ^ h) * 0x100000001b3ull;
    dispatch(s, &e);
    sim_check_step(s);
    return true;
}

/* ---- one run ------------------------------------------------------------------------------ */

static struct raft_conf_state conf_of(uint32_t voters)
{
    struct raft_conf_state c = {.n_voters = voters};
    for (uint32_t i = 0; i < voters; i++)
        c.voters[i] = i + 1;
    return c;
}

/* Founders start the cluster; up to 3 more slots (ids never used before, as etcd never reuses a
 * member id) for members that membership changes add. */
static void setup_members(struct sim *s, uint32_t founders)
{
    s->n_founders = founders;
    s->n_members = founders + 3 < SIM_MEMBERS_MAX ? founders + 3 : SIM_MEMBERS_MAX;
    memset(s->removed_at, 0, sizeof(s->removed_at));
    for (uint32_t k = 0; k < s->n_members; k++) {
        struct sim_member *m = &s->members[k];
        struct sim_disk *disk = m->disk;
        ASSERT(m->r == NULL);
        *m = (struct sim_member){.idx = k, .id = k + 1, .disk = disk};
    }
}

static uint32_t members_for(uint64_t seed)
{
    uint64_t forced = 0;
    const char *env = getenv("SIM_MEMBERS");
    if (env != NULL)
        forced = strtoull(env, NULL, 10);
    if (forced != 0) {
        ASSERT(forced == 3 || forced == 5 || forced == 1);
        return (uint32_t)forced;
    }
    return seed % 2 ? 3 : 5;
}

static void setup_network(struct sim *s)
{
    struct sim_net_config nc = {
        .drop_pm = (uint32_t)sim_rng_range(&s->rng, 0, 60),
        .dup_pm = (uint32_t)sim_rng_range(&s->rng, 0, 30),
        .slow_pm = (uint32_t)sim_rng_range(&s->rng, 0, 60),
        .delay_min = 100,
        .delay_max = sim_rng_range(&s->rng, SIM_MS(1), SIM_MS(8)),
        .slow_max = SIM_MS(250),
    };
    sim_net_init(&s->net, s->n_members, &nc);
}

static void setup(struct sim *s, uint64_t seed, bool trace)
{
    s->seed = seed;
    s->step = 0;
    s->trace = trace;
    s->tear_readies = getenv("SIM_TEAR") == NULL || strcmp(getenv("SIM_TEAR"), "0") != 0;
    s->fingerprint = seed;
    sim_rng_seed(&s->rng, seed);
    sim_sched_init(&s->sched, s->events, SIM_EVENTS_MAX);
    setup_members(s, members_for(seed));
    s->n_keys = (uint32_t)sim_rng_range(&s->rng, 3, SIM_KEYS_MAX);
    s->n_clients = (uint32_t)sim_rng_range(&s->rng, 2, 5);
    setup_network(s);
    sim_safety_reset(&s->safety);
    s->n_history = 0;
    s->ops_budget = OPS_PER_RUN;
    s->faults_on = true;
    s->final_reads_started = false;
    memset(s->faults, 0, sizeof(s->faults));
    memset(&s->stats, 0, sizeof(s->stats));
    struct raft_conf_state conf = conf_of(s->n_founders);
    s->conf_now = s->conf_before = conf;
    s->conf_now_index = 0;
    for (uint32_t k = 0; k < s->n_founders; k++)
        sim_member_boot(s, &s->members[k], k, &conf);
    for (uint32_t c = 0; c < s->n_clients; c++)
        sim_client_init(s, &s->clients[c], s->n_members + c);
    sim_sched_after(&s->sched, sim_rng_range(&s->rng, SIM_MS(100), SIM_MS(1000)), SIM_EV_FAULT, 0,
                    0);
}

static bool clients_idle(const struct sim *s)
{
    for (uint32_t c = 0; c < s->n_clients; c++)
        if (!sim_client_idle(&s->clients[c]))
            return false;
    return true;
}

/* After the faults: the cluster must converge, then answer a read of every key. */
static void quiet_phase(struct sim *s)
{
    sim_fault_heal_all(s);
    sim_trace(s, "faults end");
    sim_us deadline = s->sched.now + QUIET_PHASE_MAX_US;
    for (;;) {
        if (!step(s))
            sim_fail(s, "nothing left to happen");
        if (s->sched.now > deadline) {
            sim_check_dump(s);
            sim_fail(s, "the cluster did not converge within %u s of quiet",
                     (unsigned)(QUIET_PHASE_MAX_US / 1000000));
        }
        if (!sim_check_converged(s))
            continue;
        if (!s->final_reads_started) {
            s->final_reads_started = true;
            sim_client_final_reads(s, &s->clients[0]);
        } else if (clients_idle(s)) {
            return;
        }
    }
}

static void teardown(struct sim *s)
{
    for (uint32_t k = 0; k < s->n_members; k++)
        sim_member_free(&s->members[k]);
    sim_net_clear(&s->net);
}

struct totals {
    uint64_t runs, steps, committed, sim_ms;
    struct sim_stats stats;
};

static void add_totals(struct totals *t, const struct sim *s)
{
    t->runs++;
    t->steps += s->step;
    t->committed += s->safety.known_max;
    t->sim_ms += s->sched.now / 1000;
    const uint64_t *from = (const uint64_t *)&s->stats;
    uint64_t *to = (uint64_t *)&t->stats;
    for (size_t i = 0; i < sizeof(s->stats) / sizeof(uint64_t); i++)
        to[i] += from[i];
}

/* Runs seed; returns its fingerprint. */
static uint64_t run(uint64_t seed, bool trace, struct totals *t)
{
    struct sim *s = &world;
    setup(s, seed, trace);
    sim_us faults_end = sim_rng_range(&s->rng, FAULT_PHASE_MIN_US, FAULT_PHASE_MAX_US);
    while (s->sched.now < faults_end)
        if (!step(s))
            sim_fail(s, "nothing left to happen");
    quiet_phase(s);
    sim_check_history(s);
    if (s->safety.known_max == 0)
        sim_fail(s, "nothing committed");
    add_totals(t, s);
    uint64_t fp = s->fingerprint;
    teardown(s);
    return fp;
}

static void print_totals(const char *what, const struct totals *t, double seconds)
{
    const struct sim_stats *st = &t->stats;
    printf("sim: %s ok: %" PRIu64 " runs, %" PRIu64 " steps, %" PRIu64 " s simulated, %" PRIu64
           " entries committed, %" PRIu64 " client ops (%" PRIu64 " unknown outcome, %" PRIu64
           " refused), %" PRIu64 " read-index reads, %" PRIu64 " crashes (%" PRIu64
           " unsynced records lost), %" PRIu64 " partitions, %" PRIu64 " slow disks, %" PRIu64
           " snapshots (%" PRIu64 " sent), %" PRIu64 " leadership transfers (%" PRIu64
           " MsgTimeoutNow), %" PRIu64 " conf changes proposed (%" PRIu64
           " members joined, %" PRIu64 " promoted, %" PRIu64 " removed, %" PRIu64
           " stopped), %" PRIu64 " histories undecided; %.1f s\n",
           what, t->runs, t->steps, t->sim_ms / 1000, t->committed, st->ops, st->ops_unknown,
           st->ops_never, st->reads_index, st->crashes, st->lost_unsynced, st->partitions,
           st->slow_disks, st->snapshots, st->snapshots_sent, st->transfers, st->transfers_done,
           st->conf_proposed, st->joined, st->promoted, st->removed, st->stopped, st->undecided,
           seconds);
}

static uint64_t env_number(const char *name, uint64_t fallback)
{
    const char *v = getenv(name);
    if (v == NULL || *v == 0)
        return fallback;
    char *end;
    uint64_t n = strtoull(v, &end, 10);
    if (*end != 0) {
        fprintf(stderr, "sim: %s=%s is not a number\n", name, v);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    (void)argc;
    program = argv[0];
    signal(SIGABRT, on_abort);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct totals t = {0};
    char what[96];
    if (getenv("SIM_SEED") != NULL) {
        uint64_t seed = env_number("SIM_SEED", 1);
        uint64_t fp = run(seed, env_number("SIM_TRACE", 0) != 0, &t);
        snprintf(what, sizeof(what), "seed %" PRIu64 " (fingerprint %016" PRIx64 ")", seed, fp);
    } else {
        uint64_t first = env_number("SIM_FIRST_SEED", 1), n = env_number("SIM_SEEDS", 100);
        ASSERT(n > 0);
        /* The same seed twice gives the same run: nothing leaks from one run into the next. */
        struct totals again = {0};
        if (run(first, false, &again) != run(first, false, &again)) {
            fprintf(stderr, "sim: seed %" PRIu64 " ran twice differently\n", first);
            return 1;
        }
        for (uint64_t seed = first; seed < first + n; seed++)
            run(seed, false, &t);
        snprintf(what, sizeof(what), "seeds %" PRIu64 "-%" PRIu64, first, first + n - 1);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_totals(what, &t, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
