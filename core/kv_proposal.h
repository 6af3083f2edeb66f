/* A write on its way from a shard through the raft log to the apply actor and back: DESIGN.md's
 * propose -> raft -> apply -> reply to the originating shard. It carries the log entry (the op
 * and the packed request) and comes back with the packed response or an error.
 *
 * Ownership: the shard allocates and frees the proposal; the raft actor only reads the entry
 * (or writes err when it refuses the proposal), the apply actor writes only from, err and
 * response. The response buffer belongs to the apply actor: the shard hands it back with
 * MSG_KV_RELEASE once it has copied it out, so each side frees only what it allocated. */
#ifndef RINGD_KV_PROPOSAL_H
#define RINGD_KV_PROPOSAL_H

#include <stddef.h>
#include <stdint.h>

#include "ringd_bytes.h"

/* An entry's first byte. The raft actor's own entries (core/raft_actor.h) use values from
 * KV_OP_INTERNAL on. */
enum kv_op {
    KV_OP_PUT,
    KV_OP_DELETE_RANGE,
    KV_OP_TXN,
    KV_OP_COMPACT,
    KV_OP_ALARM,
    KV_OP_MEMBER_LIST, /* a query the apply actor answers, not an entry (MSG_KV_QUERY) */
    /* Requests the raft actor turns into a membership change entry, or a leadership transfer
     * (core/raft_actor_conf.h); the packed request follows the header as for entries. */
    KV_OP_MEMBER_ADD,
    KV_OP_MEMBER_REMOVE,
    KV_OP_MEMBER_UPDATE,
    KV_OP_MEMBER_PROMOTE,
    KV_OP_MOVE_LEADER,
    KV_OP_INTERNAL = 0x80,
};

/* Every entry the server writes starts with this header: the op byte, then the request id
 * (u64, little-endian) the raft actor gives the proposal, by which the member that proposed it
 * recognises the committed entry (a follower's proposal reaches the log through the leader, so
 * its index is not known when it is proposed). The packed request follows. */
#define KV_ENTRY_HEADER_BYTES 9

/* The request id of an entry's data, or 0 for an entry without the header (a new leader's empty
 * entry). */
static inline uint64_t kv_entry_id(const uint8_t *data, uint32_t len)
{
    return len >= KV_ENTRY_HEADER_BYTES ? le_get_u64(data + 1) : 0;
}

struct kv_proposal {
    struct kv_proposal *next; /* for whichever side holds it to queue it */
    void *origin;  /* the shard's handle for the reply (its call); apply never reads it */
    uint16_t from; /* set by the apply actor: the shard to answer */
    int reply_err; /* the shard's own answer once applied, if not 0 (NOSPACE after the alarm) */
    /* Written by the apply actor before its reply. */
    int err;           /* 0 or -RINGD_E* */
    uint8_t *response; /* packed response when err is 0; apply's memory */
    size_t response_len;
    uint32_t entry_len;
    /* The log entry: the header (the op; the id, which the raft actor writes), the packed
     * request. */
    uint8_t entry[];
};

#endif
