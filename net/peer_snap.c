/* Snapshot streams of the peer transport (see peer.h): the sender reads the snapshot file
 * through the loop a chunk at a time into its connection's filling buffer, so at most two
 * chunks are in memory (one read, one sent); the receiver writes each chunk through the loop
 * while its connection stops reading, then makes the file durable (fsync, rename, fsync of the
 * directory, linked) before the MsgSnap goes to raft. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "peer_internal.h"
#include "ringd_assert.h"
#include "ringd_error.h"

/* The receiver's side of one snapshot stream. */
struct peer_snap_in {
    struct peer_conn *conn;
    uint32_t write_len; /* the write in flight */
    int dir_fd;
    int file_fd;
    bool begun;
    bool durable; /* renamed and synced: the tmp file is gone */
    bool done;    /* delivered and acknowledged */
    uint64_t size;
    uint64_t received;
    uint32_t crc;
    uint32_t chain_left; /* requests of the fsync-rename-fsync chain not completed */
    int chain_err;
    char name[SNAPSHOT_FILE_NAME_BYTES];
    char tmp[SNAPSHOT_FILE_NAME_BYTES + sizeof(SNAPSHOT_FILE_TMP_SUFFIX)];
    struct raft_msg msg;
    struct raft_snapshot_meta meta;
    struct io_completion write_io;
    struct io_completion sync_io;
    struct io_completion rename_io;
    struct io_completion dir_sync_io;
};

static struct peer *peer_of_snap(struct peer_snap_out *s)
{
    return s->conn.peer;
}

/* ---- Sending ----------------------------------------------------------------------------------
 */

static void peer_snap_read_done(struct io_completion *io, int32_t res, uint32_t flags);

/* Reads the next chunk into the filling buffer, after room for its frame head; once the file
 * is read whole, queues SNAP_END instead. */
static void peer_snap_read(struct peer_snap_out *s)
{
    struct peer_conn *c = &s->conn;
    struct peer_buf *b = &c->out[c->fill];
    if (s->reading || s->end_queued || c->closing || b->len > 0)
        return;
    uint64_t left = s->size - s->offset;
    uint32_t chunk = c->t->limits.snap_chunk_bytes;
    uint32_t n = left < chunk ? (uint32_t)left : chunk;
    size_t room = n > 0 ? PEER_FRAME_HEAD_BYTES + n : PEER_SMALL_FRAME_BYTES_MAX;
    int err = peer_buf_reserve(b, room, PEER_QUEUE_BYTES_MAX);
    if (err < 0) {
        peer_conn_close(c, "no memory for a snapshot chunk", err);
        return;
    }
    if (n == 0) {
        b->len += peer_codec_encode_snap_end(s->size, s->crc, b->data + b->len);
        s->end_queued = true;
        peer_conn_flush(c);
        return;
    }
    s->read_io.fn = peer_snap_read_done;
    io_uring_prep_read(peer_sqe(c, &s->read_io), s->file_fd, b->data + PEER_FRAME_HEAD_BYTES, n,
                       s->offset);
    s->reading = true;
    c->hold = true;
}

/* Frames the chunk read into the filling buffer and sends it; the next read goes into the
 * other buffer meanwhile. */
static void peer_snap_chunk_read(struct peer_snap_out *s, uint32_t n)
{
    struct peer_conn *c = &s->conn;
    struct peer_buf *b = &c->out[c->fill];
    peer_codec_put_head(b->data, PEER_FRAME_SNAP_CHUNK, n);
    b->len = PEER_FRAME_HEAD_BYTES + n;
    s->crc = crc32c_update(s->crc, b->data + PEER_FRAME_HEAD_BYTES, n);
    s->offset += n;
    peer_conn_flush(c);
    peer_snap_read(s);
}

static void peer_snap_read_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)flags;
    struct peer_snap_out *s = PEER_OF(io, struct peer_snap_out, read_io);
    struct peer_conn *c = &s->conn;
    s->reading = false;
    c->hold = false;
    if (!c->closing && res <= 0)
        peer_conn_close(c, "snapshot file read failed", res < 0 ? res : -EIO);
    else if (!c->closing)
        peer_snap_chunk_read(s, (uint32_t)res);
    peer_conn_unpin(c);
}

void peer_snap_out_sent(struct peer_snap_out *s)
{
    peer_snap_read(s);
}

int peer_snap_out_frame(struct peer_snap_out *s, uint8_t type, const uint8_t *payload, uint32_t len)
{
    bool ok = false;
    if (type != PEER_FRAME_SNAP_ACK || peer_codec_decode_snap_ack(payload, len, &ok) < 0)
        return -EPROTO;
    s->acked = ok;
    peer_conn_close(&s->conn, ok ? NULL : "the peer refused the snapshot", 0);
    return 0;
}

void peer_snap_out_released(struct peer_snap_out *s)
{
    struct peer *p = peer_of_snap(s);
    struct peer_transport *t = s->conn.t;
    if (s->file_fd >= 0)
        close(s->file_fd);
    s->file_fd = -1;
    if (!s->active)
        return;
    s->active = false;
    if (!s->acked)
        log_warn("snapshot not sent", LOG_STR("local-member-id", t->name),
                 LOG_STR("remote-peer-id", p->name));
    if (!t->stopping && !p->removed)
        t->events.snapshot_sent(t->events.ctx, p->id, s->acked);
}

/* Opens the snapshot file m names and queues the Hello and SNAP_BEGIN; the first chunk's read
 * starts at once and everything leaves when the connect completes. */
static int peer_snap_open(struct peer *p, const struct raft_msg *m)
{
    struct peer_snap_out *s = &p->snap;
    struct peer_transport *t = s->conn.t;
    char path[SNAPSHOT_FILE_PATH_BYTES];
    char name[SNAPSHOT_FILE_NAME_BYTES];
    snapshot_file_name(
        name, &(struct snapshot_file_id){.term = m->snapshot->term, .index = m->snapshot->index});
    snprintf(path, sizeof(path), "%s/%s", t->snap_dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int err = -errno;
        log_warn("cannot open snapshot to send", LOG_STR("local-member-id", t->name),
                 LOG_STR("remote-peer-id", p->name), LOG_STR("path", path), LOG_ERR(err));
        if (fd >= 0)
            close(fd);
        return err;
    }
    *s = (struct peer_snap_out){.conn = s->conn, .file_fd = fd, .size = (uint64_t)st.st_size};
    struct peer_addr *a = &p->addrs[(p->addr_next + p->n_addrs - 1) % p->n_addrs];
    int err = peer_conn_dial(&s->conn, a, PEER_STREAM_SNAP);
    struct peer_buf *b = &s->conn.out[s->conn.fill];
    if (err == 0)
        err = peer_buf_reserve(b, peer_codec_snap_begin_frame_bytes(m), PEER_QUEUE_BYTES_MAX);
    if (err == 0) {
        int64_t n = peer_codec_encode_snap_begin(m, s->size, b->data + b->len, b->cap - b->len);
        err = n < 0 ? (int)n : 0;
        b->len += n > 0 ? (size_t)n : 0;
    }
    return err;
}

/* struct peer holds one stream: raising the bound needs a list of them. */
_Static_assert(PEER_SNAP_STREAMS_MAX == 1, "one snapshot stream per peer");

int peer_snap_send(struct peer *p, const struct raft_msg *m)
{
    struct peer_snap_out *s = &p->snap;
    if (m->snapshot == NULL)
        return -EINVAL;
    if (s->active || s->conn.ops > 0 || s->conn.fd >= 0 || s->fail_pending)
        return -RINGD_EFULL; /* one stream per peer: raft waits for snapshot_sent */
    int err = peer_snap_open(p, m);
    if (err < 0 && s->conn.fd >= 0 && s->conn.ops > 0) {
        s->active = true; /* in flight: the close reports the failure */
        peer_conn_close(&s->conn, "cannot start the snapshot stream", err);
        return 0;
    }
    if (err < 0) {
        if (s->file_fd >= 0)
            close(s->file_fd);
        s->file_fd = -1;
        s->fail_pending = true; /* reported from the loop, not from inside send */
        peer_kick(s->conn.t);
        return 0;
    }
    s->active = true;
    peer_snap_read(s);
    return 0;
}

/* ---- Receiving --------------------------------------------------------------------------------
 */

static int peer_snap_begin(struct peer_conn *c, const uint8_t *payload, uint32_t len,
                           const char **why)
{
    struct peer_transport *t = c->t;
    struct peer_snap_in *in = calloc(1, sizeof(*in));
    if (in == NULL)
        return -ENOMEM;
    in->dir_fd = in->file_fd = -1;
    in->conn = c;
    c->snap_in = in;
    int err = peer_codec_decode_snap_begin(payload, len, &t->decoded, &in->size);
    const struct raft_msg *m = &t->decoded.msg;
    if (err == 0 && (m->from != c->peer->id || m->to != t->member_id))
        err = -EPROTO;
    if (err < 0) {
        *why = "bad snapshot header";
        return err;
    }
    in->meta = *m->snapshot;
    in->msg = *m;
    in->msg.snapshot = &in->meta;
    in->msg.entries = NULL;
    in->msg.n_entries = 0;
    snapshot_file_name(in->name,
                       &(struct snapshot_file_id){.term = in->meta.term, .index = in->meta.index});
    snprintf(in->tmp, sizeof(in->tmp), "%s%s", in->name, SNAPSHOT_FILE_TMP_SUFFIX);
    in->dir_fd = open(t->snap_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (in->dir_fd >= 0)
        in->file_fd = openat(in->dir_fd, in->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in->file_fd < 0) {
        *why = "cannot create the snapshot file";
        return -errno;
    }
    in->begun = true;
    return 0;
}

static void peer_snap_write_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    (void)flags;
    struct peer_snap_in *in = PEER_OF(io, struct peer_snap_in, write_io);
    struct peer_conn *c = in->conn;
    if (!c->closing && res != (int32_t)in->write_len)
        peer_conn_close(c, "snapshot file write failed", res < 0 ? res : -EIO);
    else if (!c->closing)
        peer_conn_resume(c);
    peer_conn_unpin(c);
}

static int peer_snap_chunk(struct peer_conn *c, const uint8_t *data, uint32_t len, const char **why)
{
    struct peer_snap_in *in = c->snap_in;
    if (len > in->size - in->received) {
        *why = "snapshot longer than announced";
        return -EPROTO;
    }
    if (len == 0)
        return 0;
    in->crc = crc32c_update(in->crc, data, len);
    in->write_io.fn = peer_snap_write_done;
    in->write_len = len;
    io_uring_prep_write(peer_sqe(c, &in->write_io), in->file_fd, data, len, in->received);
    in->received += len;
    c->paused = true; /* the write reads the receive buffer: no parsing, no recv until done */
    return 0;
}

/* The file is durable under its name: raft may install it. Then the acknowledgement. */
static void peer_snap_installed(struct peer_conn *c)
{
    struct peer_transport *t = c->t;
    struct peer_snap_in *in = c->snap_in;
    struct peer_buf *b = &c->out[c->fill];
    in->durable = true;
    log_info("received snapshot", LOG_STR("local-member-id", t->name),
             LOG_STR("remote-peer-id", c->peer->name), LOG_STR("name", in->name),
             LOG_U64("bytes", in->size));
    if (!t->stopping)
        t->events.receive(t->events.ctx, &in->msg);
    int err = peer_buf_reserve(b, PEER_SMALL_FRAME_BYTES_MAX, PEER_QUEUE_BYTES_MAX);
    if (err < 0) {
        peer_conn_close(c, "no memory for the acknowledgement", err);
        return;
    }
    b->len += peer_codec_encode_snap_ack(true, b->data + b->len);
    in->done = true;
    peer_conn_flush(c);
    peer_conn_resume(c);
}

static void peer_snap_chain_done(struct io_completion *io, int32_t res, uint32_t flags,
                                 struct peer_snap_in *in)
{
    (void)io;
    (void)flags;
    struct peer_conn *c = in->conn;
    if (res < 0 && in->chain_err == 0)
        in->chain_err = res;
    ASSERT(in->chain_left > 0);
    if (--in->chain_left > 0) {
        peer_op_done(c); /* the last of the chain's completions goes on */
        return;
    }
    if (!c->closing && in->chain_err < 0)
        peer_conn_close(c, "cannot make the snapshot file durable", in->chain_err);
    else if (!c->closing)
        peer_snap_installed(c);
    peer_conn_unpin(c);
}

static void peer_snap_sync_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    peer_snap_chain_done(io, res, flags, PEER_OF(io, struct peer_snap_in, sync_io));
}

static void peer_snap_rename_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    peer_snap_chain_done(io, res, flags, PEER_OF(io, struct peer_snap_in, rename_io));
}

static void peer_snap_dir_sync_done(struct io_completion *io, int32_t res, uint32_t flags)
{
    peer_snap_chain_done(io, res, flags, PEER_OF(io, struct peer_snap_in, dir_sync_io));
}

/* SNAP_END: the bytes are all there and match; fsync, rename, fsync the directory, linked so
 * that the name appears only over synced data and is itself synced before raft hears of it. */
static int peer_snap_end(struct peer_conn *c, const uint8_t *payload, uint32_t len,
                         const char **why)
{
    struct peer_snap_in *in = c->snap_in;
    uint64_t size;
    uint32_t crc;
    if (peer_codec_decode_snap_end(payload, len, &size, &crc) < 0 || size != in->size ||
        in->received != size || crc != in->crc) {
        *why = "snapshot stream does not match its end (size or CRC)";
        return -EPROTO;
    }
    in->sync_io.fn = peer_snap_sync_done;
    in->rename_io.fn = peer_snap_rename_done;
    in->dir_sync_io.fn = peer_snap_dir_sync_done;
    io_loop_reserve(c->t->loop, 3);
    struct io_uring_sqe *sqe = peer_sqe(c, &in->sync_io);
    io_uring_prep_fsync(sqe, in->file_fd, 0);
    sqe->flags |= IOSQE_IO_LINK;
    sqe = peer_sqe(c, &in->rename_io);
    io_uring_prep_renameat(sqe, in->dir_fd, in->tmp, in->dir_fd, in->name, 0);
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_prep_fsync(peer_sqe(c, &in->dir_sync_io), in->dir_fd, 0);
    in->chain_left = 3;
    c->paused = true;
    return 0;
}

int peer_snap_in_frame(struct peer_conn *c, uint8_t type, const uint8_t *payload, uint32_t len,
                       const char **why)
{
    struct peer_snap_in *in = c->snap_in;
    bool begun = in != NULL && in->begun;
    *why = "unexpected frame type";
    if (type == PEER_FRAME_SNAP_BEGIN && in == NULL)
        return peer_snap_begin(c, payload, len, why);
    if (type == PEER_FRAME_SNAP_CHUNK && begun && in->chain_left == 0 && !in->done)
        return peer_snap_chunk(c, payload, len, why);
    if (type == PEER_FRAME_SNAP_END && begun && in->chain_left == 0 && !in->done)
        return peer_snap_end(c, payload, len, why);
    return -EPROTO;
}

bool peer_snap_in_done(const struct peer_conn *c)
{
    return c->snap_in != NULL && c->snap_in->done;
}

void peer_snap_in_released(struct peer_conn *c)
{
    struct peer_snap_in *in = c->snap_in;
    if (in == NULL)
        return;
    if (in->file_fd >= 0)
        close(in->file_fd);
    if (in->begun && !in->durable)
        unlinkat(in->dir_fd, in->tmp, 0); /* a stream cut short leaves nothing behind */
    if (in->dir_fd >= 0)
        close(in->dir_fd);
    free(in);
    c->snap_in = NULL;
}
