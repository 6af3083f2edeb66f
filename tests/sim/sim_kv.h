/* The simulated members' state machine: a few keys holding 32-bit values (0: never written),
 * changed by the client operations the log carries. The key space is small on purpose, so that
 * clients' histories conflict. */
#ifndef RINGD_SIM_KV_H
#define RINGD_SIM_KV_H

#include <stdbool.h>
#include <stdint.h>

#define SIM_KEYS_MAX       8
#define SIM_ENTRY_DATA_MAX 16 /* an encoded operation; entries are no longer */

enum sim_op_kind {
    SIM_OP_PUT,  /* key = arg */
    SIM_OP_GET,  /* the value, through a log entry */
    SIM_OP_CAS,  /* if key == arg then key = arg2; the result says whether it did */
    SIM_OP_READ, /* the value, through ReadIndex (never in the log) */
};

/* One client operation; (client, seq) names it everywhere. */
struct sim_op {
    uint8_t kind; /* enum sim_op_kind */
    uint8_t key;
    uint16_t client;
    uint32_t seq;
    uint32_t arg;
    uint32_t arg2;
};

#define SIM_KV_CLIENTS_MAX 8

/* The values, and each client's last operation applied: a proposal a duplicated MsgProp put
 * into the log twice, or a timed-out one that commits after its client's next, is applied once
 * and no later than the client's next (as a session's request ids make it in a real server). */
struct sim_kv {
    uint32_t value[SIM_KEYS_MAX];
    uint32_t last_seq[SIM_KV_CLIENTS_MAX];
    uint32_t removed; /* bit id: members removed from the cluster (etcd's removed-members list) */
};

/* Writes op into buf; returns its length (SIM_ENTRY_DATA_MAX). */
uint32_t sim_kv_encode(const struct sim_op *op, uint8_t buf[SIM_ENTRY_DATA_MAX]);
/* Reads an entry's data; false for an entry that is not an operation (a leader's empty one). */
bool sim_kv_decode(const uint8_t *data, uint32_t len, struct sim_op *op);
/* Applies op; returns its result: the value (get, read), 1 or 0 (cas), 0 (put). False (and
 * nothing changes) for an operation at or before its client's last one applied. */
bool sim_kv_apply(struct sim_kv *kv, const struct sim_op *op, uint32_t *result);
/* The result op would have on kv, without changing it. */
uint32_t sim_kv_peek(const struct sim_kv *kv, const struct sim_op *op);
bool sim_kv_equal(const struct sim_kv *a, const struct sim_kv *b);

#endif
