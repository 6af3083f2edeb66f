/* The fake network: packets between nodes (members first, then clients) arrive after a random
 * delay, so they reorder; raft packets may be dropped or duplicated; links between members can
 * be cut one way (asymmetric partitions) or both, by any number of faults at once. A cut or a
 * drop is decided when the packet arrives, as a stream that breaks would be. Bounded: a full
 * network loses the packet. */
#ifndef RINGD_SIM_NET_H
#define RINGD_SIM_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "raft.h"
#include "sim_kv.h"
#include "sim_rng.h"
#include "sim_sched.h"

#define SIM_NODES_MAX 16
#define SIM_NET_SLOTS 4096 /* packets in flight */

enum sim_packet_kind {
    SIM_PKT_RAFT,    /* member to member */
    SIM_PKT_REQUEST, /* client to member */
    SIM_PKT_REPLY,   /* member to client */
};

enum sim_reply_status {
    SIM_REPLY_OK,         /* done; result says what it returned */
    SIM_REPLY_NOT_LEADER, /* not done; hint names the leader the member knows */
    SIM_REPLY_BUSY,       /* not done: the log is full or leadership is moving */
    SIM_REPLY_FAILED,     /* not done: another entry took the proposal's index */
};

struct sim_packet {
    uint8_t kind; /* enum sim_packet_kind */
    uint32_t from;
    uint32_t to;
    /* SIM_PKT_RAFT. raft.entries points into ents (the packet's own copy, data included). */
    struct raft_msg raft;
    struct raft_entry *ents;
    struct raft_snapshot_meta snap;
    struct sim_kv snap_kv; /* MsgSnap: the state machine the transport streams with it */
    uint32_t incarnation;  /* the sender's, for raft_report_snapshot */
    /* SIM_PKT_REQUEST, SIM_PKT_REPLY. */
    struct sim_op op;
    uint32_t attempt;
    uint8_t status; /* enum sim_reply_status */
    uint32_t result;
    raft_id hint;
};

struct sim_net_config {
    uint32_t drop_pm; /* raft packets lost, per mille */
    uint32_t dup_pm;  /* raft packets delivered twice, per mille */
    uint32_t slow_pm; /* packets that take the slow path, per mille */
    sim_us delay_min;
    sim_us delay_max;
    sim_us slow_max;
};

struct sim_net {
    struct sim_net_config cfg;
    uint32_t n_members;
    uint8_t cut[SIM_NODES_MAX][SIM_NODES_MAX]; /* faults cutting from -> to (members only) */
    struct sim_packet slots[SIM_NET_SLOTS];
    uint32_t free_slots[SIM_NET_SLOTS];
    uint32_t n_free;
    uint64_t sent, lost, duplicated, overflowed;
};

void sim_net_init(struct sim_net *net, uint32_t n_members, const struct sim_net_config *cfg);
/* Copies p (entries and all) into the network, to arrive after a random delay (an
 * SIM_EV_DELIVER event); may add a duplicate. */
void sim_net_send(struct sim_net *net, struct sim_sched *sched, struct sim_rng *rng,
                  const struct sim_packet *p);
enum sim_net_fate {
    SIM_NET_ARRIVED,
    SIM_NET_DROPPED, /* lost on the way, as a lossy link loses packets */
    SIM_NET_CUT,     /* the link is cut: the sender's transport would see its stream fail */
};

/* Moves the packet of slot out of the network into *out (the caller frees it with
 * sim_net_packet_free) and says whether it arrived. */
enum sim_net_fate sim_net_take(struct sim_net *net, struct sim_rng *rng, uint32_t slot,
                               struct sim_packet *out);
void sim_net_packet_free(struct sim_packet *p);
/* Frees every packet still in flight. */
void sim_net_clear(struct sim_net *net);

#endif
