/* A shard: one actor per core that owns its client listeners and the connections accepted on
 * them, each served by a gRPC session (net/conn, net/grpc_server). At shutdown it stops
 * accepting, tells every connection GOAWAY, lets open calls finish for a bounded time, then
 * closes what is left.
 *
 * Thread: a shard's functions run on its actor's thread. */
#ifndef RINGD_SHARD_H
#define RINGD_SHARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "actor.h"
#include "arena.h"
#include "buf_ring.h"
#include "conn.h"
#include "grpc_server.h"
#include "kv.h"
#include "listen.h"
#include "mvcc.h"
#include "outbox.h"
#include "read_wait.h"
#include "ringd_limits.h"

struct cluster_view;

/* What every shard shares, read-only after start but for the ready counter. */
struct shard_common {
    const struct cluster_view *view; /* ids and raft/store progress (core/cluster_view.h) */
    struct mvcc_store *store;        /* read here, written by the apply actor */
    uint16_t raft_id;                /* the raft actor, where writes go */
    uint16_t apply_id;               /* the apply actor, which answers them */
    int64_t quota_bytes;             /* --quota-backend-bytes; <= 0: no quota */
    struct kv_env kv_env;
    const struct listen_spec *client;
    const char *const *client_urls; /* the URLs as given, for log lines */
    uint32_t client_count;
    uint16_t shards;
    struct grpc_server_limits grpc_limits;
    _Atomic uint32_t ready; /* shards listening; the last one logs "ready to serve" */
};

struct shard_listener {
    struct io_completion accept; /* the multishot accept, while accepting */
    struct timer retry;          /* re-posts the accept after a transient failure */
    struct shard *shard;
    int fd;
    bool accepting;
    bool is_unix;
    char path[108];
};

struct shard {
    struct shard_common *common;
    struct actor *actor;
    uint16_t index;
    bool stopping;
    uint32_t listeners_count;
    struct shard_listener listeners[LISTENERS_MAX];
    struct io_completion closed;   /* completion of closes whose result needs no action */
    struct io_completion canceled; /* completion of accept cancellations */
    uint64_t connections_accepted;
    struct io_buf_ring recv_buffers; /* shared by the recvs of every connection */
    struct conn *conns;              /* open connections, newest first */
    uint32_t conns_count;
    struct timer drain;        /* shutdown: closes the connections still open when it fires */
    struct mvcc_reader reader; /* this thread's registration with the store */
    struct arena arena;        /* requests' scratch and responses, reset after each */
    struct outbox to_raft;     /* proposals the raft actor has no room for yet */
    struct outbox to_apply;    /* response releases the apply actor has no room for yet */
    uint32_t proposals_out;    /* proposals out, not answered yet */
    struct read_wait reads;    /* linearizable reads waiting for a read index */
    bool serving;              /* MSG_SERVE came: the listeners accept */
};

/* The actor ops of a shard; its ctx is a struct shard with common and index set. */
extern const struct actor_ops shard_ops;

#endif
