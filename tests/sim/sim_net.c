/* Packets live in a fixed pool of slots; the event queue carries slot numbers. */
#include "sim_net.h"

#include <stdlib.h>
#include <string.h>

#include "ringd_assert.h"

void sim_net_init(struct sim_net *net, uint32_t n_members, const struct sim_net_config *cfg)
{
    ASSERT(n_members <= SIM_NODES_MAX);
    memset(net->cut, 0, sizeof(net->cut));
    net->cfg = *cfg;
    net->n_members = n_members;
    net->n_free = SIM_NET_SLOTS;
    for (uint32_t i = 0; i < SIM_NET_SLOTS; i++)
        net->free_slots[i] = SIM_NET_SLOTS - 1 - i;
    net->sent = net->lost = net->duplicated = net->overflowed = 0;
}

/* A deep copy: the sender's entries live only until its raft_advance. */
static void packet_copy(struct sim_packet *dst, const struct sim_packet *src)
{
    *dst = *src;
    dst->ents = NULL;
    dst->raft.entries = NULL;
    if (src->kind == SIM_PKT_RAFT && src->raft.n_entries > 0) {
        uint32_t n = src->raft.n_entries;
        dst->ents = malloc(n * (sizeof(struct raft_entry) + SIM_ENTRY_DATA_MAX));
        ASSERT(dst->ents != NULL);
        uint8_t *data = (uint8_t *)(dst->ents + n);
        for (uint32_t i = 0; i < n; i++) {
            const struct raft_entry *e = &src->raft.entries[i];
            ASSERT(e->len <= SIM_ENTRY_DATA_MAX);
            dst->ents[i] = *e;
            dst->ents[i].data = e->len ? data + i * SIM_ENTRY_DATA_MAX : NULL;
            if (e->len)
                memcpy(data + i * SIM_ENTRY_DATA_MAX, e->data, e->len);
        }
        dst->raft.entries = dst->ents;
    }
    if (src->kind == SIM_PKT_RAFT && src->raft.snapshot != NULL) {
        dst->snap = *src->raft.snapshot;
        dst->raft.snapshot = &dst->snap;
    }
}

static sim_us delay(struct sim_net *net, struct sim_rng *rng)
{
    if (sim_rng_chance(rng, net->cfg.slow_pm))
        return sim_rng_range(rng, net->cfg.delay_max, net->cfg.slow_max);
    return sim_rng_range(rng, net->cfg.delay_min, net->cfg.delay_max);
}

static void enqueue(struct sim_net *net, struct sim_sched *sched, struct sim_rng *rng,
                    const struct sim_packet *p)
{
    sim_us d = delay(net, rng);
    if (p->kind == SIM_PKT_RAFT && p->raft.type == RAFT_MSG_SNAP)
        d += sim_rng_range(rng, 0, net->cfg.slow_max); /* streaming the state takes a while */
    if (net->n_free == 0) {
        net->overflowed++;
        return;
    }
    uint32_t slot = net->free_slots[--net->n_free];
    if (!sim_sched_after(sched, d, SIM_EV_DELIVER, slot, 0)) {
        net->free_slots[net->n_free++] = slot;
        net->overflowed++;
        return;
    }
    packet_copy(&net->slots[slot], p);
    net->sent++;
}

void sim_net_send(struct sim_net *net, struct sim_sched *sched, struct sim_rng *rng,
                  const struct sim_packet *p)
{
    ASSERT(p->from < SIM_NODES_MAX && p->to < SIM_NODES_MAX && p->from != p->to);
    enqueue(net, sched, rng, p);
    /* Client streams are TCP: never doubled. A doubled MsgSnap would be reported twice. */
    bool may_dup = p->kind == SIM_PKT_RAFT && p->raft.type != RAFT_MSG_SNAP;
    if (may_dup && sim_rng_chance(rng, net->cfg.dup_pm)) {
        net->duplicated++;
        enqueue(net, sched, rng, p);
    }
}

enum sim_net_fate sim_net_take(struct sim_net *net, struct sim_rng *rng, uint32_t slot,
                               struct sim_packet *out)
{
    ASSERT(slot < SIM_NET_SLOTS && net->n_free < SIM_NET_SLOTS);
    *out = net->slots[slot];
    net->slots[slot].ents = NULL;
    net->free_slots[net->n_free++] = slot;
    if (out->raft.snapshot != NULL)
        out->raft.snapshot = &out->snap; /* it pointed into the slot */
    bool members = out->from < net->n_members && out->to < net->n_members;
    enum sim_net_fate fate = SIM_NET_ARRIVED;
    if (members && net->cut[out->from][out->to] > 0)
        fate = SIM_NET_CUT;
    else if (out->kind == SIM_PKT_RAFT && sim_rng_chance(rng, net->cfg.drop_pm))
        fate = SIM_NET_DROPPED;
    net->lost += fate != SIM_NET_ARRIVED;
    return fate;
}

void sim_net_packet_free(struct sim_packet *p)
{
    free(p->ents);
    p->ents = NULL;
}

void sim_net_clear(struct sim_net *net)
{
    bool free_slot[SIM_NET_SLOTS] = {0};
    for (uint32_t i = 0; i < net->n_free; i++)
        free_slot[net->free_slots[i]] = true;
    for (uint32_t i = 0; i < SIM_NET_SLOTS; i++)
        if (!free_slot[i])
            sim_net_packet_free(&net->slots[i]);
}
