/* Operations are encoded little-endian in fixed 16 bytes, so a torn or foreign entry is easy to
 * tell apart: the first byte is the kind plus one, never 0. */
#include "sim_kv.h"

#include <string.h>

#include "ringd_assert.h"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t sim_kv_encode(const struct sim_op *op, uint8_t buf[SIM_ENTRY_DATA_MAX])
{
    ASSERT(op->kind <= SIM_OP_CAS && op->key < SIM_KEYS_MAX);
    buf[0] = (uint8_t)(op->kind + 1);
    buf[1] = op->key;
    buf[2] = (uint8_t)op->client;
    buf[3] = (uint8_t)(op->client >> 8);
    put32(buf + 4, op->seq);
    put32(buf + 8, op->arg);
    put32(buf + 12, op->arg2);
    return SIM_ENTRY_DATA_MAX;
}

bool sim_kv_decode(const uint8_t *data, uint32_t len, struct sim_op *op)
{
    if (len != SIM_ENTRY_DATA_MAX || data[0] == 0 || data[0] > SIM_OP_CAS + 1 ||
        data[1] >= SIM_KEYS_MAX)
        return false;
    *op = (struct sim_op){.kind = (uint8_t)(data[0] - 1),
                          .key = data[1],
                          .client = (uint16_t)(data[2] | data[3] << 8),
                          .seq = get32(data + 4),
                          .arg = get32(data + 8),
                          .arg2 = get32(data + 12)};
    return true;
}

uint32_t sim_kv_peek(const struct sim_kv *kv, const struct sim_op *op)
{
    ASSERT(op->key < SIM_KEYS_MAX);
    switch (op->kind) {
    case SIM_OP_PUT:
        return 0;
    case SIM_OP_CAS:
        return kv->value[op->key] == op->arg;
    default:
        return kv->value[op->key];
    }
}

bool sim_kv_apply(struct sim_kv *kv, const struct sim_op *op, uint32_t *result)
{
    ASSERT(op->client < SIM_KV_CLIENTS_MAX);
    if (op->seq <= kv->last_seq[op->client])
        return false;
    kv->last_seq[op->client] = op->seq;
    *result = sim_kv_peek(kv, op);
    if (op->kind == SIM_OP_PUT || (op->kind == SIM_OP_CAS && *result == 1))
        kv->value[op->key] = op->kind == SIM_OP_PUT ? op->arg : op->arg2;
    return true;
}

bool sim_kv_equal(const struct sim_kv *a, const struct sim_kv *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}
