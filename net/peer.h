/* The peer transport: raft messages between ringd members over TCP or unix sockets, framed by
 * net/peer_codec, driven by the raft actor's io_uring loop. Implements struct
 * raft_transport_ops (core/raft_transport.h).
 *
 * Connections. This member sends its messages to peer P over the one connection it dialed to P,
 * and receives P's messages on the connection P dialed and this member accepted; each opens
 * with a Hello both ways (cluster id, sender, receiver, protocol version, stream kind). A Hello
 * with another cluster id, an unknown sender, a receiver that is not us, an oversized frame, a
 * bad payload or an unexpected frame type drops that connection with a log line naming the
 * peer and the reason. A peer that cannot be reached is redialed after a back-off doubling
 * from backoff_ms_min to backoff_ms_max (its URLs in turn); while it is down, messages to it
 * are dropped and unreachable(id) raised (raft probes again).
 *
 * Sending. send encodes the message at once into the peer's send queue (bounded by
 * queue_msgs_max and queue_bytes_max: full, it returns -RINGD_EFULL and unreachable(id) is
 * raised); everything queued in one loop turn leaves in one send, after a no-op request that
 * completes once the turn's submissions are in. A MsgSnap opens a second connection that
 * streams the snapshot file it names (<snap_dir>/%016x-%016x.snap after its term and index) in
 * chunks of snap_chunk_bytes, two at most in memory (one read, one sent), so heartbeats do not
 * wait behind it; the receiver writes <snap_dir>/<name>.tmp, fsyncs it, renames it, fsyncs the
 * directory, and only then hands the MsgSnap to receive and acknowledges; the sender then
 * raises snapshot_sent(id, ok).
 *
 * Events (receive, unreachable, snapshot_sent) are raised only from the loop's completions,
 * never from inside an op call, so a caller iterating a Ready's messages is not re-entered.
 *
 * Thread: create and destroy on any one thread (the main thread) while the transport is not
 * started or is idle; every op on the raft actor's thread, whose loop start was given. */
#ifndef RINGD_PEER_H
#define RINGD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "raft_transport.h"

/* A member we talk to: its id and advertised peer URLs ("http://host:port", "unix://path";
 * https and unixs are refused until peer TLS exists). */
struct peer_member {
    raft_id id;
    uint32_t n_urls; /* 1..CLUSTER_PEER_URLS_MAX */
    const char *const *urls;
};

/* Bounds; 0 takes the default (the *_MAX or *_MS_* constant in ringd_limits.h). */
struct peer_limits {
    uint32_t queue_msgs_max;  /* <= PEER_QUEUE_MSGS_MAX */
    uint64_t queue_bytes_max; /* <= PEER_QUEUE_BYTES_MAX; at least one largest frame fits */
    uint32_t backoff_ms_min;
    uint32_t backoff_ms_max;
    uint32_t snap_chunk_bytes; /* <= PEER_SNAP_CHUNK_BYTES */
    uint32_t hello_timeout_ms; /* the acceptor's Hello comes by then: PEER_HELLO_TIMEOUT_MS */
};

struct peer_transport_config {
    raft_id member_id;
    uint64_t cluster_id;
    const struct config_urls *listen_urls; /* --listen-peer-urls; bound at start */
    const struct peer_member *peers;       /* the other members (our own id is skipped) */
    uint32_t n_peers;                      /* at most RAFT_MEMBERS_MAX */
    const char *snap_dir;                  /* <data-dir>/member/snap; must exist */
    struct peer_limits limits;
};

struct peer_transport;

extern const struct raft_transport_ops peer_transport_ops;

/* Checks the URLs (resolving host names: blocking, for start-up) and allocates everything but
 * the send and receive buffers, which grow on use up to their bounds. Binds nothing yet.
 * Returns 0, or a negative error with why (NUL-terminated) saying which URL and what is wrong:
 * -RINGD_EUNSUPPORTED for https/unixs, -RINGD_EINVAL_CONFIG for a bad URL or too many peers,
 * -ENOMEM. */
int peer_transport_create(const struct peer_transport_config *cfg, struct peer_transport **out,
                          char *why, size_t why_bytes);

/* Frees the transport: never started, or stopped and idle. */
void peer_transport_destroy(struct peer_transport *t);

/* The transport as the raft actor takes it. */
struct raft_transport peer_transport_raft(struct peer_transport *t);

/* Counters since create, for tests and metrics. */
struct peer_transport_stats {
    uint64_t sends;         /* send requests on the message links (a batch each) */
    uint64_t msgs_queued;   /* raft messages taken by send */
    uint64_t msgs_dropped;  /* refused (queue full, peer down) or lost with a connection */
    uint64_t conns_dropped; /* connections dropped for a reason (each logged) */
};

void peer_transport_stats(const struct peer_transport *t, struct peer_transport_stats *out);

/* True when the connection to id is up and its Hello answered (tests, status). */
bool peer_transport_connected(const struct peer_transport *t, raft_id id);

#endif
