/* What net/peer.c (connections, messages) and net/peer_snap.c (snapshot streams) share. Not
 * for other modules. Thread: the raft actor's. */
#ifndef RINGD_PEER_INTERNAL_H
#define RINGD_PEER_INTERNAL_H

#include <linux/time_types.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"
#include "peer.h"
#include "peer_codec.h"
#include "ringd_limits.h"
#include "snapshot_file.h"

#define PEER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* A growing byte buffer: starts at PEER_BUFFER_BYTES_MIN, doubles up to its bound, kept. */
struct peer_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    uint32_t msgs; /* raft messages in it (the send queue's count) */
};

enum peer_role {
    PEER_ROLE_MSGS_OUT, /* our raft messages to a peer */
    PEER_ROLE_SNAP_OUT, /* one snapshot to a peer */
    PEER_ROLE_IN,       /* accepted: a peer's messages, or a snapshot from it */
};

struct peer;
struct peer_snap_in;

/* One socket and the requests in flight on it. */
struct peer_conn {
    struct peer_transport *t;
    struct peer *peer; /* inbound: NULL until its Hello named a known member */
    uint8_t role;      /* enum peer_role */
    uint8_t stream;    /* inbound: enum peer_stream once the Hello came */
    bool used;         /* inbound slots */
    int fd;
    uint32_t ops;    /* our requests on this connection not yet completed */
    bool connecting; /* the connect is in flight */
    bool receiving;  /* a recv is in flight */
    bool sending;    /* a send is in flight */
    bool closing;    /* no new requests; the fd closes once ops is 0 */
    bool hello_in;   /* the other side's Hello arrived and was good */
    bool paused;     /* inbound: a file write runs on the buffer's bytes; parse later */
    bool hold;       /* a file read fills the filling buffer: do not send it yet */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct io_completion connect_io;
    struct io_completion link_timeout_io;
    struct io_completion recv_io;
    struct io_completion send_io;
    struct io_completion cancel_io;
    struct __kernel_timespec dial_timeout;
    struct peer_buf out[2]; /* out[fill] fills; the other is the one being sent */
    uint8_t fill;
    size_t sent; /* bytes of the sending buffer already sent */
    struct peer_buf in;
    size_t in_off;  /* bytes of in already handled */
    size_t in_need; /* bytes the frame being received still needs */
    struct peer_snap_in *snap_in;
};

/* A snapshot stream to one peer (the sender's side). */
struct peer_snap_out {
    bool active;
    bool acked;
    bool reading;
    bool end_queued;   /* SNAP_END is in the send buffers */
    bool fail_pending; /* it failed before any request: snapshot_sent(false) at the kick */
    int file_fd;
    uint64_t size;
    uint64_t offset; /* bytes read so far */
    uint32_t crc;
    struct io_completion read_io;
    struct peer_conn conn;
};

enum peer_link_state {
    PEER_LINK_IDLE,       /* not started, or stopped */
    PEER_LINK_BACKOFF,    /* down: waiting to redial */
    PEER_LINK_CONNECTING, /* dialing; messages queue behind the Hello */
    PEER_LINK_UP,
};

struct peer_addr {
    struct sockaddr_storage addr;
    socklen_t len;
    char text[CONFIG_URL_BYTES_MAX];
};

struct peer {
    raft_id id;
    bool used;
    bool removed;  /* set_peer(NULL): the slot is free once nothing is in flight */
    char name[20]; /* the id as etcd prints it, for log lines */
    uint32_t n_addrs;
    uint32_t addr_next; /* the URL the next dial uses */
    struct peer_addr addrs[CLUSTER_PEER_URLS_MAX];
    uint8_t state; /* enum peer_link_state */
    bool timer_armed;
    bool timer_fired;
    bool unreachable_pending; /* raise unreachable(id) at the next kick */
    bool down_logged;         /* one log line per outage, not one per redial */
    uint32_t backoff_ms;
    struct __kernel_timespec backoff;
    struct io_completion timer_io;
    struct io_completion timer_cancel_io; /* for either timer */
    /* The acceptor's Hello must come within PEER_HELLO_TIMEOUT_MS of the connect: a listener
     * that is not a ringd member (or hangs) would otherwise hold the link dialing for good. */
    bool hello_timer_armed;
    uint64_t dials;     /* connections dialed: which one the hello timer watches */
    uint64_t hello_gen; /* the dial the armed hello timer was armed for */
    struct __kernel_timespec hello_timeout;
    struct io_completion hello_timer_io;
    struct peer_conn link;
    struct peer_snap_out snap;
};

struct peer_listener {
    struct peer_transport *t;
    int fd;
    bool accepting;
    bool retrying; /* the accept failed: it is posted again after PEER_ACCEPT_RETRY_MS */
    bool is_unix;
    char path[108];
    struct __kernel_timespec retry_after;
    struct io_completion accept_io;
    struct io_completion retry_io;
    struct io_completion cancel_io;
};

struct peer_transport {
    raft_id member_id;
    uint64_t cluster_id;
    char name[20];
    char snap_dir[SNAPSHOT_DIR_BYTES_MAX];
    struct peer_limits limits;
    struct io_loop *loop;
    struct raft_transport_events events;
    bool started;
    bool stopping;
    bool kicked;  /* the kick no-op is in flight */
    uint32_t ops; /* every request of ours in flight */
    struct peer_transport_stats stats;
    uint32_t n_listen;
    struct config_urls listen_urls;
    struct peer_listener listeners[CONFIG_URLS_MAX];
    struct io_completion kick_io;
    struct peer peers[RAFT_MEMBERS_MAX];
    struct peer_conn in[PEER_INBOUND_CONNS_MAX];
    struct peer_decoded decoded; /* the incoming message being delivered */
};

/* peer.c, for peer_snap.c. */
struct io_uring_sqe *peer_sqe(struct peer_conn *c, struct io_completion *io);
void peer_op_done(struct peer_conn *c);
/* The last step of a completion that ran frames or callbacks with its request still counted:
 * uncounts it, then releases a closing connection or reads on. */
void peer_conn_unpin(struct peer_conn *c);
int peer_buf_reserve(struct peer_buf *b, size_t more, size_t max);
void peer_conn_flush(struct peer_conn *c);
void peer_conn_close(struct peer_conn *c, const char *why, int err);
int peer_conn_dial(struct peer_conn *c, const struct peer_addr *a, uint8_t stream);
void peer_kick(struct peer_transport *t);
void peer_conn_resume(struct peer_conn *c);
/* Releases a closing connection once nothing is in flight on it (from a completion). */
void peer_conn_maybe_release(struct peer_conn *c);

/* One peer URL ("http://host:port", "unix://path") to a socket address, resolving a host name
 * (blocking); why says what is wrong with it. For peer.c and peer_join.c. */
int peer_addr_resolve(const char *text, struct peer_addr *a, char *why, size_t why_bytes);

/* peer_snap.c, for peer.c. */
int peer_snap_send(struct peer *p, const struct raft_msg *m);
/* The snapshot stream's connection sent a buffer: read the next chunk or end the stream. */
void peer_snap_out_sent(struct peer_snap_out *s);
/* A frame on the snapshot stream's connection (after the Hello): only SNAP_ACK is expected. */
int peer_snap_out_frame(struct peer_snap_out *s, uint8_t type, const uint8_t *payload,
                        uint32_t len);
/* The snapshot stream's connection is gone: report the outcome and release the file. */
void peer_snap_out_released(struct peer_snap_out *s);
/* A frame of an inbound snapshot stream. Returns 0, or a negative error (the why is in *why);
 * c->paused is set while a file request runs on the frame's bytes. */
int peer_snap_in_frame(struct peer_conn *c, uint8_t type, const uint8_t *payload, uint32_t len,
                       const char **why);
void peer_snap_in_released(struct peer_conn *c);
/* The inbound snapshot was installed and acknowledged: the peer's close is expected. */
bool peer_snap_in_done(const struct peer_conn *c);

#endif
