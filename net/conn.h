/* A client connection on a shard: moves bytes between its socket and its gRPC session through
 * the shard's io_uring. Reads are one multishot recv into the shard's provided buffers, so an
 * idle connection holds no receive memory; writes send the session's output in place, one
 * send in flight; a session whose unsent output is over its bound stops the reads
 * (back-pressure on a slow reader).
 *
 * Thread: the shard thread that accepted it, only. */
#ifndef RINGD_CONN_H
#define RINGD_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "timer.h"

struct shard;
struct grpc_server;

struct conn {
    struct conn *prev; /* in the shard's list of connections */
    struct conn *next;
    struct shard *shard;
    struct grpc_server *session;
    int fd;
    struct io_completion recv;   /* the multishot recv, while receiving */
    struct io_completion send;   /* the send in flight, while sending */
    struct io_completion cancel; /* cancellation of the recv */
    struct io_completion closed; /* the final close */
    struct timer tick;           /* the session's next deadline or keepalive */
    bool receiving;
    bool sending;
    bool canceling; /* the recv's cancellation is in flight */
    bool closing;   /* no more reads; the fd closes once the send and recv are done */
    bool flush_on_close;
};

/* Takes over an accepted socket: creates its session, starts reading, queues the server
 * preface. Returns 0, or a negated errno (-ENOMEM, -RINGD_EFULL past the shard's connection
 * bound); on error the caller still owns fd. */
int conn_open(struct shard *s, int fd);

/* Ends the connection: stops reading and, when flush is set, writes what the session still has
 * (a GOAWAY) before closing. The conn is freed when its last request completes. */
void conn_shutdown(struct conn *c, bool flush);

/* Server shutdown: GOAWAY to the client; the connection closes by itself once its open calls
 * are over and the output is written. */
void conn_drain(struct conn *c);

#endif
