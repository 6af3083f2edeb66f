/* The fake clock: simulated time in microseconds and the queue of events due at a time. The
 * driver pops one event per step; time jumps to it. Events at the same time run in the order
 * they were added, so a run depends only on its seed. */
#ifndef RINGD_SIM_SCHED_H
#define RINGD_SIM_SCHED_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t sim_us; /* simulated microseconds since the run began */

#define SIM_MS(n) ((sim_us)(n)*1000u)

enum sim_event_kind {
    SIM_EV_DELIVER,        /* a: the network slot whose packet arrives */
    SIM_EV_TICK,           /* a: member, b: its incarnation */
    SIM_EV_SYNC,           /* a: member, b: its incarnation: the fdatasync completed */
    SIM_EV_DRIVE,          /* a: member, b: its incarnation: handle Readies again */
    SIM_EV_RESTART,        /* a: member: a crashed member comes back */
    SIM_EV_CLIENT_NEXT,    /* a: client: start the next operation */
    SIM_EV_CLIENT_RETRY,   /* a: client, b: operation: try another member */
    SIM_EV_CLIENT_TIMEOUT, /* a: client, b: operation: give up, outcome unknown */
    SIM_EV_FAULT,          /* inject the next fault */
    SIM_EV_HEAL,           /* a: the fault slot that ends */
    SIM_EV_STOP,           /* a: member, b: its incarnation: a removed member shuts down */
};

struct sim_event {
    sim_us at;
    uint64_t seq; /* order of addition: ties at one time run first come, first served */
    uint8_t kind; /* enum sim_event_kind */
    uint32_t a;
    uint64_t b;
};

/* A binary heap of at most cap events; the storage is the caller's. */
struct sim_sched {
    sim_us now;
    uint64_t seq;
    struct sim_event *heap;
    uint32_t n;
    uint32_t cap;
};

void sim_sched_init(struct sim_sched *s, struct sim_event *storage, uint32_t cap);
/* Adds an event at now + delay. False when the queue is full (the caller treats it as lost). */
bool sim_sched_after(struct sim_sched *s, sim_us delay, uint8_t kind, uint32_t a, uint64_t b);
/* Takes the earliest event and moves the clock to it. False when none is left. */
bool sim_sched_pop(struct sim_sched *s, struct sim_event *out);

#endif
