/* The messages actors exchange: one plain tagged struct, copied by value into a mailbox slot.
 * A payload too large for the inline words travels as a pointer; the memory belongs to the
 * sender and goes back to it in the reply, so it is always freed by the thread that made it. */
#ifndef RINGD_MSG_H
#define RINGD_MSG_H

#include <assert.h>
#include <stdint.h>

enum msg_type {
    MSG_NONE = 0,
    MSG_PING, /* benchmarks and tests: a = sequence, b = send time */
    MSG_PONG, /* the answer to MSG_PING, same payload */
    /* shard -> raft: ptr = struct kv_proposal (core/kv_proposal.h) */
    MSG_KV_PROPOSE,
    /* apply -> shard, or raft -> shard for a refused proposal: ptr = the same proposal, with
     * err and response set */
    MSG_KV_APPLIED,
    /* shard -> apply: ptr = struct kv_proposal of a query the apply actor answers from its own
     * state (MemberList), not through the log; the answer is MSG_KV_APPLIED */
    MSG_KV_QUERY,
    /* shard -> apply: ptr = a proposal's response buffer, no longer needed */
    MSG_KV_RELEASE,
    /* raft -> apply: ptr = struct apply_batch (core/apply_batch.h) of committed entries */
    MSG_APPLY_ENTRIES,
    /* apply -> raft: ptr = the batch, applied; a = the last index applied, b = its term,
     * c = the store's revision there */
    MSG_APPLY_DONE,
    /* raft -> shard: the log is replayed and this start's member entry applied: serve clients */
    MSG_SERVE,
    /* raft -> apply: the raft log window is full: snapshot what is applied */
    MSG_SNAPSHOT_ASK,
    /* apply -> raft: a snapshot is durable: a = its index, b = its term */
    MSG_SNAPSHOT_DONE,
    /* shard -> raft: the shard holds linearizable reads: ask for a read index (one out per
     * shard) */
    MSG_READ_INDEX,
    /* raft -> shard: this member applied the read index asked for (a = 0), or it could not be
     * had (a = a negated RINGD error as uint64_t) */
    MSG_READ_READY,
    MSG_TYPE_COUNT,
};

struct msg {
    uint16_t type; /* enum msg_type */
    uint16_t from; /* sender's actor id, filled in by actor_send */
    uint32_t u32;
    uint64_t a;
    uint64_t b;
    uint64_t c;
    void *ptr;
    uint64_t d;
    uint64_t e;
    uint64_t f;
};

/* One cache line per message: a ring slot is never shared by two messages. */
static_assert(sizeof(struct msg) == 64, "struct msg layout");

#endif
