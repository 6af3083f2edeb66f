/* What the raft actor needs of a peer transport: send the core's messages to other members and
 * hand theirs to the core, stream snapshots to followers that are too far behind. The raft
 * actor (core) calls it through these ops; net/peer implements them and the server wires the
 * two together (core may not include net).
 *
 * Every call, and every event the transport raises, runs on the raft actor's thread: the
 * transport drives its sockets through the raft actor's io_uring loop, given at start, so a
 * message from a peer reaches raft_step without a thread hop. Events are raised from the
 * loop's completions only, never from inside one of the ops below: a caller walking a Ready's
 * messages is not re-entered (but may be between raft_ready and raft_advance when an event
 * comes, as a WAL completion may). */
#ifndef RINGD_RAFT_TRANSPORT_H
#define RINGD_RAFT_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "members.h"
#include "raft.h"

/* What the transport tells the raft actor. ctx is the raft actor's. */
struct raft_transport_events {
    void *ctx;
    /* A message from a peer, for raft_step. m and everything it points at live only during
     * the call. A MsgSnap is delivered only once the snapshot file it names is durable in the
     * member's snap dir (the transport received it whole, fsynced and renamed it). */
    void (*receive)(void *ctx, const struct raft_msg *m);
    /* A message to id could not be sent (no connection, or its queue is full): raft probes
     * again (raft_report_unreachable). */
    void (*unreachable)(void *ctx, raft_id id);
    /* The snapshot streamed to id was received and installed (ok) or not. */
    void (*snapshot_sent)(void *ctx, raft_id id, bool ok);
    /* The members as of the last committed entry (ids, names, peer and client URLs, learner
     * flags), for a member joining the cluster (net/peer_join.h). Valid until the raft actor's
     * next turn; NULL: the transport answers no join request. */
    const struct members *(*members)(void *ctx);
};

struct raft_transport_ops {
    /* On the raft actor's thread, once, in its start: binds the peer listeners (they were
     * checked at start-up) and begins connecting. Returns 0 or a negated errno. */
    int (*start)(void *t, struct io_loop *loop, const struct raft_transport_events *events);
    /* Queues m for m->to (copied: m's pointers need to live only during the call). A MsgSnap
     * streams the snapshot file it names from the member's snap dir. Returns 0, -RINGD_EFULL
     * when that peer's queue is full (the message is dropped; raft sends again), or -ENOENT
     * for a member the transport does not know. A message to a peer that is down is dropped
     * too, with 0 (as a lossy network would); both raise unreachable(id) from the loop. A
     * MsgSnap while one is still streaming to that peer: -RINGD_EFULL; a snapshot that
     * cannot be sent is reported through snapshot_sent(id, false). Never blocks. */
    int (*send)(void *t, const struct raft_msg *m);
    /* A member joined, changed its peer URLs, or left (membership changes). Returns 0 or a
     * negated errno. urls NULL removes the member. */
    int (*set_peer)(void *t, raft_id id, const char *const *urls, uint32_t n_urls);
    /* Shutdown: stop accepting and connecting, close connections; idle once nothing is in
     * flight in the loop. */
    void (*stop)(void *t);
    bool (*idle)(void *t);
};

/* A transport the raft actor uses: its ops and the object they act on. A single member with
 * no peers may run without one (ops NULL). */
struct raft_transport {
    const struct raft_transport_ops *ops;
    void *t;
};

#endif
