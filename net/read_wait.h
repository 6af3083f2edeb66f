/* The linearizable reads a shard holds until the raft actor says they may be served (etcd's
 * ReadIndex): a read that arrives is queued; one read-index request covers every read queued
 * before it was sent, and the answer (this member applied the leader's commit index as of
 * the request) releases exactly those. Reads arriving meanwhile wait for the next request.
 *
 * Each read keeps its packed request (the decoded one lives only during on_message) and its
 * call; a cancelled call stays queued with call NULL and is dropped when released.
 *
 * Bounds: SHARD_READS_MAX reads queued; more are refused by the caller ("too many
 * requests"). One request out at a time per shard.
 *
 * Thread: the shard's. */
#ifndef RINGD_READ_WAIT_H
#define RINGD_READ_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct grpc_call;

struct read_waiter {
    struct read_waiter *next;
    struct grpc_call *call; /* NULL once cancelled */
    uint32_t kind;          /* the caller's: which read to run */
    size_t len;
    uint8_t request[]; /* the packed request */
};

struct read_wait {
    struct read_waiter *asked; /* covered by the request out, oldest first */
    struct read_waiter **asked_tail;
    struct read_waiter *queued; /* arrived after it */
    struct read_waiter **queued_tail;
    uint32_t count;
    bool request_out;
};

void read_wait_init(struct read_wait *w);

/* Queues a copy of request for call. Returns 0, -RINGD_ETOO_MANY_REQUESTS past
 * SHARD_READS_MAX, or -ENOMEM. *ask is set when the caller must send a read-index request now
 * (none is out): the queued reads are then covered by it. */
int read_wait_add(struct read_wait *w, struct grpc_call *call, uint32_t kind,
                  const uint8_t *request, size_t len, bool *ask);

/* The request's answer came: returns the reads it covers (a list through next, to serve or fail
 * and free with free()), and sets *ask when reads queued meanwhile need a request of their own
 * (they are covered by it from now). */
struct read_waiter *read_wait_release(struct read_wait *w, bool *ask);

/* The call was cancelled: its read, if queued, will not be answered. */
void read_wait_cancel(struct read_wait *w, const struct grpc_call *call);

#endif
