/* Listening sockets for client and peer URLs: TCP (one per shard with SO_REUSEPORT, so the
 * kernel spreads connections over the shards) and unix sockets.
 *
 * Thread: any; these are set-up calls, not data-plane I/O. */
#ifndef RINGD_LISTEN_H
#define RINGD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where to listen: a TCP host and port, or a unix socket path. */
struct listen_spec {
    bool is_unix;
    char host[256]; /* TCP: name or address ("localhost", "0.0.0.0", "::1") */
    uint16_t port;
    char path[108]; /* unix: socket path (sun_path size) */
};

/* Opens a non-blocking, close-on-exec listening socket. For TCP, host is resolved (an IPv4
 * address is preferred, as etcd's listener does for "localhost") and reuse_port lets several
 * shards bind the same address. For unix, a stale socket file at path is replaced.
 * Returns the fd, or a negated errno (-EADDRINUSE, -EADDRNOTAVAIL when host does not
 * resolve, ...). */
int listen_open(const struct listen_spec *spec, bool reuse_port);

/* Writes "host:port" (or the unix path) of a listening fd into buf for log lines. */
void listen_describe(int fd, char *buf, size_t len);

#endif
