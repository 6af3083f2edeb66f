#include "wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ringd_assert.h"
#include "ringd_error.h"
#include "wal_recover.h"
#include "wal_segment.h"

/* liburing 2.3 predates it: an IORING_OP_NOP with this flag completes with sqe->len as its
 * result (Linux 6.10+), which is how faults are injected for tests. */
#define WAL_NOP_INJECT_RESULT (1u << 0)

/* The requests of one batch, linked in this order; a rollover batch has all four, any other
 * the last two. */
enum wal_step {
    STEP_RENAME,    /* the spare file to the new segment's name */
    STEP_DIRSYNC,   /* the directory, so the name is durable */
    STEP_WRITE,     /* the batch */
    STEP_FDATASYNC, /* and its data */
    STEPS,
};

struct wal_op {
    struct io_completion c;
    struct wal *w;
    enum wal_step step;
};

/* Records bound for one segment, written with one write. */
struct wal_batch {
    uint8_t *buf;
    uint32_t len;
    uint32_t cap; /* the buffer, or less: a segment written by an earlier run takes writes no
                     larger than its header says (the most a torn write can leave) */
    uint64_t off; /* where in the segment it goes */
    int fd;       /* the segment */
    struct wal_segment_id seg;
    bool rollover; /* it starts a new segment: rename the spare and sync the directory first */
    char name[WAL_SEGMENT_NAME_BYTES];
    uint32_t records;
    bool has_entries;
    uint64_t last_index; /* the last entry in it */
    bool has_hard_state;
    struct wal_hard_state hard_state; /* the last one appended (not a rollover's copy) */
};

/* The next segment, prepared in the background: create, then preallocate, fsync, fsync the
 * directory (linked). */
enum wal_spare {
    SPARE_NONE,
    SPARE_OPENING,
    SPARE_ALLOCATING,
    SPARE_READY,
    SPARE_FAILED,
};

struct wal {
    struct io_loop *loop;
    struct wal_callbacks cb;
    struct wal_options opt;
    char dir[WAL_DIR_BYTES_MAX];
    int dirfd; /* holds the flock */
    /* Segments oldest first; the last is the tail, where appends go. */
    struct wal_segment_state *segs;
    uint32_t nsegs;
    int tail_fd;
    bool tail_durable;   /* the tail's header is on disk (not yet, from a rollover until its
                            batch completes: the segment before it must stay until then) */
    uint64_t append_off; /* where in the tail the next record goes */
    /* The log as appended, buffered records included. */
    uint32_t crc;
    uint64_t last_index;
    bool has_hard_state;
    struct wal_hard_state hard_state;
    bool has_snapshot;
    struct wal_snapshot snapshot;
    /* Group commit: one batch fills while at most one is in flight. */
    struct wal_batch batches[2];
    struct wal_batch *accum;
    struct wal_batch *flight; /* NULL when none */
    struct wal_op ops[STEPS];
    int32_t res[STEPS];
    uint32_t pending; /* completions of the flight still to come */
    int retired_fd;   /* the tail before a rollover, closed once the flight writing it is back */
    bool blocked;     /* an append got -RINGD_EFULL: call writable when there is room */
    uint64_t durable_index;
    /* The spare segment. */
    enum wal_spare spare;
    int spare_fd;
    uint32_t spare_pending;
    uint32_t spare_done;
    int spare_err;
    const char *spare_what;
    struct io_completion spare_open_c;
    struct io_completion spare_step_c;
    /* Failure: once set, the WAL refuses everything. */
    int err;
    char error[WAL_MESSAGE_BYTES_MAX];
    struct wal_stats stats;
};

static struct wal_segment_state *wal_tail(struct wal *w)
{
    ASSERT(w->nsegs > 0);
    return &w->segs[w->nsegs - 1];
}

static uint64_t wal_next_index(const struct wal *w)
{
    uint64_t s = w->has_snapshot ? w->snapshot.index : 0;
    return (w->last_index > s ? w->last_index : s) + 1;
}

static void wal_segment_path(const struct wal *w, const struct wal_segment_id *id, char *path,
                             size_t len)
{
    char name[WAL_SEGMENT_NAME_BYTES];
    wal_segment_name(name, id);
    snprintf(path, len, "%s/%s", w->dir, name);
}

/* Stops the WAL: nothing buffered or in flight will be reported durable. */
static int wal_fail(struct wal *w, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int wal_fail(struct wal *w, int err, const char *fmt, ...)
{
    ASSERT(err < 0);
    if (w->err != 0)
        return w->err;
    w->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof(w->error), fmt, ap);
    va_end(ap);
    w->accum->len = 0;
    w->accum->records = 0;
    if (w->cb.failed != NULL)
        w->cb.failed(w->cb.ctx, err, w->error);
    return err;
}

static void wal_writable(struct wal *w)
{
    if (!w->blocked || w->err != 0)
        return;
    w->blocked = false;
    if (w->cb.writable != NULL)
        w->cb.writable(w->cb.ctx);
}

static int wal_block(struct wal *w)
{
    w->blocked = true;
    return -RINGD_EFULL;
}

/* The batch that fills next starts where the tail's records end. */
static void batch_reset(struct wal *w, struct wal_batch *b)
{
    uint32_t tail_cap = wal_tail(w)->batch_bytes;
    b->len = 0;
    b->cap = w->opt.batch_bytes < tail_cap ? w->opt.batch_bytes : tail_cap;
    b->off = w->append_off;
    b->fd = w->tail_fd;
    b->seg = wal_tail(w)->id;
    b->rollover = false;
    b->records = 0;
    b->has_entries = false;
    b->last_index = 0;
    b->has_hard_state = false;
}

/* --- the spare segment ------------------------------------------------------------------ */

static void spare_failed(struct wal *w, int err, const char *what)
{
    if (w->spare_fd >= 0)
        close(w->spare_fd);
    w->spare_fd = -1;
    w->spare = SPARE_FAILED;
    w->spare_err = err;
    w->spare_what = what;
    /* Only a rollover needs it: the WAL fails then (wal_rollover), not before. A writer
     * already waiting for it fails now. */
    if (w->blocked)
        wal_fail(w, err, "wal: %s the next segment in %s: %s", what, w->dir, ringd_strerror(err));
}

static void spare_step_done(struct io_completion *c, int32_t res, uint32_t flags)
{
    (void)flags;
    struct wal *w = (struct wal *)((char *)c - offsetof(struct wal, spare_step_c));
    static const char *const what[] = {"preallocating", "syncing", "syncing the directory of"};
    ASSERT(w->spare == SPARE_ALLOCATING && w->spare_pending > 0);
    /* The steps are linked: their completions come in order, and after a failure the rest
     * come back cancelled. */
    if (res < 0 && w->spare_err == 0) {
        w->spare_err = res;
        w->spare_what = what[w->spare_done];
    }
    w->spare_done++;
    if (--w->spare_pending > 0)
        return;
    if (w->spare_err != 0) {
        spare_failed(w, w->spare_err, w->spare_what);
        return;
    }
    w->spare = SPARE_READY;
    wal_writable(w);
}

static void spare_opened(struct io_completion *c, int32_t res, uint32_t flags)
{
    (void)flags;
    struct wal *w = (struct wal *)((char *)c - offsetof(struct wal, spare_open_c));
    ASSERT(w->spare == SPARE_OPENING);
    if (res < 0) {
        spare_failed(w, res, "creating");
        return;
    }
    w->spare_fd = res;
    w->spare = SPARE_ALLOCATING;
    w->spare_pending = 3;
    w->spare_done = 0;
    w->spare_err = 0;
    io_loop_reserve(w->loop, 3);
    struct io_uring_sqe *sqe = io_loop_sqe(w->loop, &w->spare_step_c);
    io_uring_prep_fallocate(sqe, w->spare_fd, 0, 0, (off_t)w->opt.segment_bytes);
    sqe->flags |= IOSQE_IO_LINK;
    sqe = io_loop_sqe(w->loop, &w->spare_step_c);
    io_uring_prep_fsync(sqe, w->spare_fd, 0);
    sqe->flags |= IOSQE_IO_LINK;
    sqe = io_loop_sqe(w->loop, &w->spare_step_c);
    io_uring_prep_fsync(sqe, w->dirfd, 0);
}

static void spare_start(struct wal *w)
{
    ASSERT(w->spare == SPARE_NONE && w->spare_fd < 0);
    w->spare = SPARE_OPENING;
    struct io_uring_sqe *sqe = io_loop_sqe(w->loop, &w->spare_open_c);
    io_uring_prep_openat(sqe, w->dirfd, WAL_SPARE_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
                         0600);
}

/* --- group commit ----------------------------------------------------------------------- */

/* Queues one step of the flight: the operation itself, or the fault the test hook asks for. */
static struct io_uring_sqe *batch_step(struct wal *w, enum wal_step step)
{
    w->res[step] = 0;
    w->pending++;
    return io_loop_sqe(w->loop, &w->ops[step].c);
}

static int batch_fault(struct wal *w, enum wal_fault_op op)
{
    return w->opt.fault != NULL ? w->opt.fault(w->opt.fault_ctx, op) : 0;
}

static void inject(struct io_uring_sqe *sqe, int err)
{
    io_uring_prep_nop(sqe);
    sqe->rw_flags = (int)WAL_NOP_INJECT_RESULT;
    sqe->len = (uint32_t)err;
}

/* Sends the filled batch: [rename, directory fsync,] write, fdatasync, linked. */
static void batch_submit(struct wal *w)
{
    ASSERT(w->flight == NULL && w->pending == 0 && w->accum->len > 0 && w->err == 0);
    struct wal_batch *b = w->accum;
    w->flight = b;
    w->accum = b == &w->batches[0] ? &w->batches[1] : &w->batches[0];
    batch_reset(w, w->accum);
    io_loop_reserve(w->loop, b->rollover ? 4 : 2);
    struct io_uring_sqe *sqe;
    if (b->rollover) {
        sqe = batch_step(w, STEP_RENAME);
        io_uring_prep_renameat(sqe, w->dirfd, WAL_SPARE_NAME, w->dirfd, b->name, 0);
        sqe->flags |= IOSQE_IO_LINK;
        sqe = batch_step(w, STEP_DIRSYNC);
        io_uring_prep_fsync(sqe, w->dirfd, 0);
        sqe->flags |= IOSQE_IO_LINK;
    }
    int fault = batch_fault(w, WAL_FAULT_WRITE);
    sqe = batch_step(w, STEP_WRITE);
    if (fault < 0)
        inject(sqe, fault);
    else
        io_uring_prep_write(sqe, b->fd, b->buf,
                            fault > 0 && (uint32_t)fault < b->len ? (uint32_t)fault : b->len,
                            b->off);
    sqe->flags |= IOSQE_IO_LINK;
    fault = batch_fault(w, WAL_FAULT_FDATASYNC);
    sqe = batch_step(w, STEP_FDATASYNC);
    if (fault < 0)
        inject(sqe, fault);
    else
        io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
    w->stats.fdatasyncs++;
}

/* The first step of the flight that failed, in link order (later ones are then cancelled).
 * Returns 0 or the error, with *what naming the operation. */
static int batch_error(const struct wal *w, const struct wal_batch *b, const char **what)
{
    if (b->rollover && w->res[STEP_RENAME] < 0) {
        *what = "renaming the spare segment to";
        return w->res[STEP_RENAME];
    }
    if (b->rollover && w->res[STEP_DIRSYNC] < 0) {
        *what = "syncing the directory for";
        return w->res[STEP_DIRSYNC];
    }
    if (w->res[STEP_WRITE] < 0) {
        *what = "writing";
        return w->res[STEP_WRITE];
    }
    if ((uint32_t)w->res[STEP_WRITE] != b->len) {
        *what = "short write to";
        return -EIO;
    }
    if (w->res[STEP_FDATASYNC] < 0) {
        *what = "fdatasync of";
        return w->res[STEP_FDATASYNC];
    }
    return 0;
}

static void batch_done(struct wal *w)
{
    struct wal_batch *b = w->flight;
    ASSERT(b != NULL && w->pending == 0);
    w->flight = NULL;
    if (w->retired_fd >= 0) {
        close(w->retired_fd);
        w->retired_fd = -1;
    }
    const char *what = NULL;
    int err = batch_error(w, b, &what);
    if (err < 0) {
        char path[WAL_DIR_BYTES_MAX + WAL_SEGMENT_NAME_BYTES + 1];
        wal_segment_path(w, &b->seg, path, sizeof(path));
        wal_fail(w, err, "wal: %s %s: %s", what, path, ringd_strerror(err));
        return;
    }
    if (w->err != 0)
        return; /* stopped meanwhile: no more reports, even of what did reach the disk */
    if (b->rollover) {
        w->tail_durable = true;
        spare_start(w);
    }
    if (b->has_entries)
        w->durable_index = b->last_index;
    w->stats.batches++;
    w->stats.records += b->records;
    w->stats.bytes += b->len;
    struct wal_durable d = {.last_index = w->durable_index,
                            .has_hard_state = b->has_hard_state,
                            .hard_state = b->hard_state,
                            .records = b->records,
                            .bytes = b->len};
    if (w->cb.durable != NULL)
        w->cb.durable(w->cb.ctx, &d);
    if (w->err == 0 && w->flight == NULL && w->accum->len > 0)
        batch_submit(w);
    wal_writable(w);
}

static void wal_op_done(struct io_completion *c, int32_t res, uint32_t flags)
{
    (void)flags;
    struct wal_op *op = (struct wal_op *)c;
    struct wal *w = op->w;
    ASSERT(w->flight != NULL && w->pending > 0);
    w->res[op->step] = res;
    if (--w->pending == 0)
        batch_done(w);
}

/* --- appending ---------------------------------------------------------------------------- */

/* Starts the next segment in the (empty) batch: its header, then the latest hard state and
 * snapshot marker, so the segments before it can be removed without losing them. */
static int wal_rollover(struct wal *w)
{
    ASSERT(w->accum->len == 0 && w->retired_fd < 0);
    if (w->nsegs == WAL_SEGMENTS_MAX)
        return wal_block(w);
    if (w->spare == SPARE_FAILED)
        return wal_fail(w, w->spare_err, "wal: %s the next segment in %s: %s", w->spare_what,
                        w->dir, ringd_strerror(w->spare_err));
    if (w->spare != SPARE_READY)
        return wal_block(w);
    if (w->flight != NULL)
        w->retired_fd = w->tail_fd; /* the flight still writes it */
    else
        close(w->tail_fd);
    const struct wal_segment_state *old = wal_tail(w);
    struct wal_segment_id id = {.seq = old->id.seq + 1, .first_index = wal_next_index(w)};
    w->segs[w->nsegs++] = (struct wal_segment_state){
        .id = id, .file_bytes = w->opt.segment_bytes, .batch_bytes = w->opt.batch_bytes};
    w->tail_fd = w->spare_fd;
    w->spare_fd = -1;
    w->spare = SPARE_NONE;
    w->tail_durable = false;
    w->append_off = 0;
    struct wal_batch *b = w->accum;
    batch_reset(w, b);
    b->rollover = true;
    wal_segment_name(b->name, &id);
    struct wal_segment_header h = {.seq = id.seq,
                                   .first_index = id.first_index,
                                   .prev_crc = w->crc,
                                   .batch_bytes = w->opt.batch_bytes};
    b->len += wal_record_put_header(b->buf, b->cap, &w->crc, &h);
    b->records++;
    if (w->has_hard_state) {
        b->len +=
            wal_record_put_hard_state(b->buf + b->len, b->cap - b->len, &w->crc, &w->hard_state);
        b->records++;
    }
    if (w->has_snapshot) {
        b->len += wal_record_put_snapshot(b->buf + b->len, b->cap - b->len, &w->crc, &w->snapshot);
        b->records++;
    }
    w->append_off = b->len;
    w->stats.rollovers++;
    return 0;
}

/* Makes room for a record of size bytes in the filling batch. */
static int wal_room(struct wal *w, uint64_t size)
{
    if (w->err != 0)
        return w->err;
    if (size + WAL_ROLLOVER_PREFIX_BYTES > w->opt.batch_bytes)
        return -EMSGSIZE;
    struct wal_batch *b = w->accum;
    if (b->len + size <= b->cap && w->append_off + size <= wal_tail(w)->file_bytes)
        return 0;
    if (b->len > 0)
        return wal_block(w); /* this batch must go before the next one is filled */
    int err = wal_rollover(w);
    if (err < 0)
        return err;
    ASSERT(b->len + size <= b->cap && w->append_off + size <= wal_tail(w)->file_bytes);
    return 0;
}

static void wal_appended(struct wal *w, uint32_t size)
{
    struct wal_batch *b = w->accum;
    ASSERT(size > 0 && b->len + size <= b->cap);
    b->len += size;
    b->records++;
    w->append_off += size;
}

int wal_append_entry(struct wal *w, const struct wal_entry *e)
{
    ASSERT(e->index >= 1 && e->index <= wal_next_index(w));
    ASSERT(!w->has_snapshot || e->index > w->snapshot.index);
    int err = wal_room(w, wal_record_entry_size(e->data_bytes));
    if (err < 0)
        return err;
    struct wal_batch *b = w->accum;
    wal_appended(w, wal_record_put_entry(b->buf + b->len, b->cap - b->len, &w->crc, e));
    b->has_entries = true;
    b->last_index = e->index;
    w->last_index = e->index;
    return 0;
}

int wal_append_hard_state(struct wal *w, const struct wal_hard_state *hs)
{
    int err = wal_room(w, WAL_RECORD_HARD_STATE_SIZE);
    if (err < 0)
        return err;
    struct wal_batch *b = w->accum;
    wal_appended(w, wal_record_put_hard_state(b->buf + b->len, b->cap - b->len, &w->crc, hs));
    b->has_hard_state = true;
    b->hard_state = *hs;
    w->has_hard_state = true;
    w->hard_state = *hs;
    return 0;
}

int wal_append_snapshot(struct wal *w, const struct wal_snapshot *s)
{
    ASSERT(!w->has_snapshot || s->index >= w->snapshot.index);
    int err = wal_room(w, WAL_RECORD_SNAPSHOT_SIZE);
    if (err < 0)
        return err;
    struct wal_batch *b = w->accum;
    wal_appended(w, wal_record_put_snapshot(b->buf + b->len, b->cap - b->len, &w->crc, s));
    w->has_snapshot = true;
    w->snapshot = *s;
    return 0;
}

int wal_flush(struct wal *w)
{
    if (w->err != 0)
        return w->err;
    if (w->flight == NULL && w->accum->len > 0)
        batch_submit(w);
    return 0;
}

/* --- releasing old segments ------------------------------------------------------------- */

int wal_release_before(struct wal *w, uint64_t index, uint32_t keep_max)
{
    if (keep_max == 0)
        return 0;
    /* Never the tail; nor the segment before it while the tail's header is not durable (a
     * crash would leave the tail without it, and recovery removes such a tail). */
    uint32_t keep_back = w->tail_durable ? 1 : 2;
    uint32_t limit = w->nsegs > keep_back ? w->nsegs - keep_back : 0;
    uint32_t removed = 0;
    int err = 0;
    while (w->nsegs - removed > keep_max && removed < limit &&
           w->segs[removed + 1].id.first_index <= index) {
        char name[WAL_SEGMENT_NAME_BYTES];
        wal_segment_name(name, &w->segs[removed].id);
        if (unlinkat(w->dirfd, name, 0) != 0) {
            err = -errno;
            break;
        }
        removed++;
    }
    memmove(w->segs, w->segs + removed, (w->nsegs - removed) * sizeof(w->segs[0]));
    w->nsegs -= removed;
    if (removed > 0)
        wal_writable(w);
    return err < 0 ? err : (int)removed;
}

/* --- open and close ------------------------------------------------------------------------ */

/* Opens dir, creating it (and syncing its parent) when missing. */
static int open_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT)
        return fd >= 0 ? fd : -errno;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    char parent[WAL_DIR_BYTES_MAX];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(parent, sizeof(parent), ".");
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return -errno;
    int err = wal_dir_sync(pfd);
    close(pfd);
    if (err < 0)
        return err;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

static void wal_free(struct wal *w)
{
    if (w->tail_fd >= 0)
        close(w->tail_fd);
    if (w->retired_fd >= 0)
        close(w->retired_fd);
    if (w->spare_fd >= 0)
        close(w->spare_fd);
    if (w->dirfd >= 0)
        close(w->dirfd);
    free(w->batches[0].buf);
    free(w->batches[1].buf);
    free(w->segs);
    free(w);
}

static void wal_set_options(struct wal *w, const struct wal_options *opt)
{
    if (opt != NULL)
        w->opt = *opt;
    if (w->opt.segment_bytes == 0)
        w->opt.segment_bytes = WAL_SEGMENT_BYTES;
    if (w->opt.batch_bytes == 0)
        w->opt.batch_bytes = WAL_BATCH_BYTES_DEFAULT;
    ASSERT(w->opt.batch_bytes >= WAL_BATCH_BYTES_MIN && w->opt.batch_bytes <= WAL_BATCH_BYTES_MAX);
    ASSERT(w->opt.batch_bytes % WAL_RECORD_ALIGN_BYTES == 0);
    ASSERT(w->opt.segment_bytes >= WAL_SEGMENT_BYTES_MIN && w->opt.segment_bytes % 4096 == 0);
    ASSERT(w->opt.segment_bytes >= w->opt.batch_bytes);
}

/* Everything after recovery: the tail opened, buffers, the first spare on its way. */
static int wal_start(struct wal *w, const struct wal_tail *t, struct wal_recovery *rec)
{
    const struct wal_segment_state *tail = wal_tail(w);
    char name[WAL_SEGMENT_NAME_BYTES];
    wal_segment_name(name, &tail->id);
    w->tail_fd = openat(w->dirfd, name, O_RDWR | O_CLOEXEC);
    if (w->tail_fd < 0) {
        int err = -errno;
        snprintf(rec->message, sizeof(rec->message), "wal: opening %s/%s: %s", w->dir, name,
                 ringd_strerror(err));
        return err;
    }
    w->append_off = tail->end;
    w->tail_durable = true;
    w->crc = t->crc;
    w->last_index = t->last_index;
    w->durable_index = t->last_index;
    w->has_hard_state = t->has_hard_state;
    w->hard_state = t->hard_state;
    w->has_snapshot = t->has_snapshot;
    w->snapshot = t->snapshot;
    for (int i = 0; i < 2; i++) {
        w->batches[i].buf = aligned_alloc(4096, (w->opt.batch_bytes + 4095) / 4096 * 4096);
        if (w->batches[i].buf == NULL) {
            snprintf(rec->message, sizeof(rec->message), "wal: out of memory");
            return -ENOMEM;
        }
    }
    for (int i = 0; i < STEPS; i++)
        w->ops[i] = (struct wal_op){.c.fn = wal_op_done, .w = w, .step = (enum wal_step)i};
    w->spare_open_c.fn = spare_opened;
    w->spare_step_c.fn = spare_step_done;
    w->accum = &w->batches[0];
    batch_reset(w, w->accum);
    spare_start(w);
    return 0;
}

static int wal_lock_dir(struct wal *w, const char *dir, struct wal_recovery *rec)
{
    if (strlen(dir) >= sizeof(w->dir)) {
        snprintf(rec->message, sizeof(rec->message), "wal: directory name too long");
        return -ENAMETOOLONG;
    }
    snprintf(w->dir, sizeof(w->dir), "%s", dir);
    w->dirfd = open_dir(dir);
    if (w->dirfd < 0) {
        int err = w->dirfd;
        snprintf(rec->message, sizeof(rec->message), "wal: opening %s: %s", dir,
                 ringd_strerror(err));
        return err;
    }
    if (flock(w->dirfd, LOCK_EX | LOCK_NB) != 0) {
        int err = -errno;
        snprintf(rec->message, sizeof(rec->message), "wal: locking %s: %s%s", dir,
                 ringd_strerror(err), err == -EWOULDBLOCK ? " (another process uses it)" : "");
        return err;
    }
    return 0;
}

int wal_open(struct wal **out, const char *dir, const struct wal_options *opt, struct io_loop *loop,
             const struct wal_callbacks *cb, struct wal_recovery *rec, wal_entry_fn on_entry,
             void *entry_ctx)
{
    *out = NULL;
    *rec = (struct wal_recovery){0};
    struct wal *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->loop = loop;
    w->cb = *cb;
    w->dirfd = w->tail_fd = w->retired_fd = w->spare_fd = -1;
    wal_set_options(w, opt);
    w->segs = calloc(WAL_SEGMENTS_MAX, sizeof(w->segs[0]));
    int err = w->segs == NULL ? -ENOMEM : wal_lock_dir(w, dir, rec);
    if (err == 0) {
        struct wal_recover_args a = {.dirfd = w->dirfd,
                                     .dir = w->dir,
                                     .force = w->opt.force,
                                     .replay_after_set = w->opt.replay_after_set,
                                     .replay_after = w->opt.replay_after,
                                     .segment_bytes = w->opt.segment_bytes,
                                     .batch_bytes = w->opt.batch_bytes,
                                     .segs = w->segs,
                                     .on_entry = on_entry,
                                     .entry_ctx = entry_ctx};
        struct wal_tail t;
        err = wal_recover(&a, &w->nsegs, &t, rec);
        if (err == 0)
            err = wal_start(w, &t, rec);
    }
    if (err < 0) {
        wal_free(w);
        return err;
    }
    w->stats.segments = w->nsegs;
    *out = w;
    return 0;
}

const char *wal_error(const struct wal *w)
{
    return w->error;
}

void wal_get_stats(const struct wal *w, struct wal_stats *st)
{
    *st = w->stats;
    st->segments = w->nsegs;
    st->durable_index = w->durable_index;
}

bool wal_idle(const struct wal *w)
{
    return w->flight == NULL && w->spare != SPARE_OPENING && w->spare != SPARE_ALLOCATING;
}

void wal_close(struct wal *w)
{
    ASSERT(wal_idle(w));
    wal_free(w);
}
