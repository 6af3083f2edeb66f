/* A write on its way from a shard to the apply actor and back: DESIGN.md's propose -> apply ->
 * reply to the originating shard. It carries the packed request (what the raft log will store
 * as the entry) and comes back with the packed response or an error.
 *
 * Ownership: the shard allocates and frees the proposal; the apply actor writes only err and
 * response. The response buffer belongs to the apply actor: the shard hands it back with
 * MSG_KV_RELEASE once it has copied it out, so each side frees only what it allocated. */
#ifndef RINGD_KV_PROPOSAL_H
#define RINGD_KV_PROPOSAL_H

#include <stddef.h>
#include <stdint.h>

enum kv_op {
    KV_OP_PUT,
    KV_OP_DELETE_RANGE,
    KV_OP_TXN,
    KV_OP_COMPACT,
    KV_OP_ALARM,
};

struct kv_proposal {
    struct kv_proposal *next; /* for whichever side holds it to queue it */
    enum kv_op op;
    void *origin;  /* the shard's handle for the reply (its call); apply never reads it */
    uint16_t from; /* set by the apply actor: the shard to answer */
    int reply_err; /* the shard's own answer once applied, if not 0 (NOSPACE after the alarm) */
    /* Written by the apply actor before its reply. */
    int err;           /* 0 or -RINGD_E* */
    uint8_t *response; /* packed response when err is 0; apply's memory */
    size_t response_len;
    size_t request_len;
    uint8_t request[]; /* packed request */
};

#endif
