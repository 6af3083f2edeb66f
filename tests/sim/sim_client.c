/* Simulated clients: each runs one operation at a time against a member it picks, retries
 * elsewhere when told "not leader" (or "busy", or "failed": the operation did not happen), and
 * gives up after a time-out, when the outcome is unknown: the history then says the operation
 * may take effect any time after its call, or never. Written values are unique per run, so a
 * read names the write it saw. */
#include "sim.h"

#include <inttypes.h>

#include "ringd_assert.h"

#define CLIENT_TIMEOUT_US SIM_MS(1200)

void sim_client_init(struct sim *s, struct sim_client *c, uint32_t idx)
{
    *c = (struct sim_client){.idx = idx, .target = sim_member_pick(s)};
    sim_sched_after(&s->sched, sim_rng_range(&s->rng, SIM_MS(50), SIM_MS(1500)), SIM_EV_CLIENT_NEXT,
                    idx - s->n_members, 0);
}

bool sim_client_idle(const struct sim_client *c)
{
    return !c->busy && (!c->final || c->final_key == SIM_KEYS_MAX);
}

static void send_attempt(struct sim *s, struct sim_client *c)
{
    c->attempt++;
    c->attempt_open = true;
    struct sim_packet p = {.kind = SIM_PKT_REQUEST,
                           .from = c->idx,
                           .to = c->target,
                           .op = c->op,
                           .attempt = c->attempt};
    sim_net_send(&s->net, &s->sched, &s->rng, &p);
}

static struct sim_op choose(struct sim *s, struct sim_client *c)
{
    uint32_t client = c->idx - s->n_members;
    struct sim_op op = {.key = (uint8_t)sim_rng_below(&s->rng, s->n_keys),
                        .client = (uint16_t)client,
                        .seq = ++c->op.seq};
    uint64_t dice = sim_rng_below(&s->rng, 100);
    op.kind = dice < 40   ? SIM_OP_PUT
              : dice < 70 ? SIM_OP_READ
              : dice < 85 ? SIM_OP_GET
                          : SIM_OP_CAS;
    uint32_t unique = (client + 1) << 24 | op.seq; /* never 0, never repeated in a run */
    if (op.kind == SIM_OP_PUT)
        op.arg = unique;
    if (op.kind == SIM_OP_CAS) {
        op.arg = c->last_seen[op.key];
        op.arg2 = unique;
    }
    return op;
}

static void start(struct sim *s, struct sim_client *c, struct sim_op op)
{
    ASSERT(s->n_history < SIM_HISTORY_MAX);
    c->op = op;
    c->busy = true;
    c->attempt = 0;
    c->hist = s->n_history++;
    s->history[c->hist] = (struct sim_hist){
        .op = {.kind = op.kind,
               .key = op.key,
               .arg = op.arg,
               .arg2 = op.arg2,
               .call = s->sched.now,
               .ret = SIM_LINEAR_UNKNOWN},
        .client = c->idx,
    };
    s->stats.ops++;
    send_attempt(s, c);
    sim_sched_after(&s->sched, CLIENT_TIMEOUT_US, SIM_EV_CLIENT_TIMEOUT, c->idx - s->n_members,
                    op.seq);
}

void sim_client_next(struct sim *s, struct sim_client *c)
{
    if (c->busy)
        return;
    if (c->final) {
        if (c->final_key < s->n_keys) {
            struct sim_op op = {.kind = SIM_OP_READ,
                                .key = (uint8_t)c->final_key++,
                                .client = (uint16_t)(c->idx - s->n_members),
                                .seq = ++c->op.seq};
            start(s, c, op);
        } else {
            c->final_key = SIM_KEYS_MAX;
        }
        return;
    }
    if (!s->faults_on || s->ops_budget == 0)
        return; /* the quiet phase: only the final reads */
    s->ops_budget--;
    start(s, c, choose(s, c));
}

void sim_client_final_reads(struct sim *s, struct sim_client *c)
{
    c->final = true;
    c->final_key = 0;
    sim_client_next(s, c);
}

static void done(struct sim *s, struct sim_client *c, sim_us think)
{
    c->busy = false;
    uint32_t client = c->idx - s->n_members;
    sim_sched_after(&s->sched, think, SIM_EV_CLIENT_NEXT, client, 0);
}

void sim_client_retry(struct sim *s, struct sim_client *c, uint64_t seq)
{
    if (c->busy && c->op.seq == seq && !c->attempt_open)
        send_attempt(s, c);
}

void sim_client_timeout(struct sim *s, struct sim_client *c, uint64_t seq)
{
    if (!c->busy || c->op.seq != seq)
        return;
    /* Every attempt refused: it never happened. Otherwise nobody knows. */
    s->history[c->hist].never = !c->attempt_open;
    s->stats.ops_never += !c->attempt_open;
    s->stats.ops_unknown += c->attempt_open;
    c->target = sim_member_pick(s);
    sim_trace(s, "client %u gives up op %u", c->idx, c->op.seq);
    done(s, c, sim_rng_range(&s->rng, 0, SIM_MS(100)));
}

static void succeeded(struct sim *s, struct sim_client *c, uint32_t result)
{
    struct sim_linear_op *h = &s->history[c->hist].op;
    h->ret = s->sched.now;
    h->out = result;
    if (c->op.kind == SIM_OP_PUT)
        c->last_seen[c->op.key] = c->op.arg;
    else if (c->op.kind == SIM_OP_CAS && result)
        c->last_seen[c->op.key] = c->op.arg2;
    else if (c->op.kind == SIM_OP_GET || c->op.kind == SIM_OP_READ)
        c->last_seen[c->op.key] = result;
    done(s, c, sim_rng_range(&s->rng, SIM_MS(5), SIM_MS(200)));
}

void sim_client_reply(struct sim *s, struct sim_client *c, const struct sim_packet *p)
{
    if (!c->busy || p->op.seq != c->op.seq || p->attempt != c->attempt)
        return; /* an answer to an attempt given up on */
    if (p->status == SIM_REPLY_OK) {
        succeeded(s, c, p->result);
        return;
    }
    c->attempt_open = false; /* refused: not done */
    if (p->hint != RAFT_NONE && p->hint - 1 != c->target)
        c->target = (uint32_t)(p->hint - 1);
    else
        c->target = sim_member_pick(s);
    uint32_t client = c->idx - s->n_members;
    sim_sched_after(&s->sched, sim_rng_range(&s->rng, SIM_MS(5), SIM_MS(60)), SIM_EV_CLIENT_RETRY,
                    client, c->op.seq);
}
