/* ringd-bench's fdatasync workload: no server, the disk alone, as issue 6 asks ("single-client
 * put latency p50 within 1.3x of this disk's fdatasync latency"). In a file preallocated in
 * --dir as a WAL segment is (WAL_SEGMENT_BYTES, fallocate), each operation writes --val-size
 * bytes where the previous write ended and fdatasyncs the file: a WAL batch of one record. The
 * write and the sync are plain pwrite and fdatasync, not the WAL's linked io_uring write and
 * fsync: the disk is what is measured, and bench_wal found the two within noise of each other.
 *
 * A full file is emptied and preallocated again after the operation that filled it has been
 * timed, as the WAL moves on to a spare segment made ahead of time. The file is removed at the
 * end of the run. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringd_assert.h"
#include "ringd_bench_engine.h"
#include "ringd_limits.h"

static_assert(RBENCH_VALUE_BYTES_MAX <= WAL_SEGMENT_BYTES, "one write fits in the file");

struct disk_state {
    int fd;                           /* -1 until created */
    uint64_t off;                     /* where the next write goes */
    char path[RBENCH_PATH_BYTES_MAX]; /* "" until created */
};

/* Gives the file fresh unwritten extents from offset 0, durable before any timed write. */
static int disk_preallocate(struct disk_state *st)
{
    ASSERT(st->fd >= 0);
    if (ftruncate(st->fd, 0) != 0 || fallocate(st->fd, 0, 0, WAL_SEGMENT_BYTES) != 0 ||
        fsync(st->fd) != 0)
        return -errno;
    st->off = 0;
    return 0;
}

/* So that the file's creation is not part of the first timed fdatasync. */
static int dir_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) != 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int disk_setup(struct rbench_engine *e)
{
    const char *dir = e->config->dir;
    ASSERT(e->slots_count == 1); /* operations run inside issue: one at a time */
    struct disk_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return rbench_engine_fail(e, GRPC_STATUS_OK, "out of memory");
    st->fd = -1;
    e->state = st;
    int n = snprintf(st->path, sizeof(st->path), "%s/ringd-bench-fdatasync-XXXXXX", dir);
    ASSERT(n > 0 && (size_t)n < sizeof(st->path)); /* the flags bound --dir's length */
    st->fd = mkostemp(st->path, O_CLOEXEC);
    if (st->fd < 0) {
        st->path[0] = '\0';
        return rbench_engine_fail(e, GRPC_STATUS_OK, "creating a file in %s: %s", dir,
                                  strerror(errno));
    }
    int rc = disk_preallocate(st);
    if (rc < 0)
        return rbench_engine_fail(e, GRPC_STATUS_OK, "preallocating %u bytes for %s: %s",
                                  WAL_SEGMENT_BYTES, st->path, strerror(-rc));
    if ((rc = dir_sync(dir)) < 0)
        return rbench_engine_fail(e, GRPC_STATUS_OK, "syncing %s: %s", dir, strerror(-rc));
    return 0;
}

/* One write at the end of what was written, then fdatasync. Returns 0 or a negated errno with
 * *what naming the call that failed. */
static int disk_append(struct disk_state *st, const uint8_t *data, uint32_t bytes,
                       const char **what)
{
    ASSERT(st->off + bytes <= WAL_SEGMENT_BYTES);
    *what = "pwrite";
    ssize_t w = pwrite(st->fd, data, bytes, (off_t)st->off);
    if (w < 0)
        return -errno;
    if ((size_t)w != bytes)
        return -EIO; /* a regular file writes short only when the disk is full or failing */
    *what = "fdatasync";
    if (fdatasync(st->fd) != 0)
        return -errno;
    st->off += bytes;
    return 0;
}

static int disk_issue(struct rbench_engine *e, struct rbench_slot *slot, uint64_t op)
{
    (void)op;
    struct disk_state *st = e->state;
    const char *what = "";
    int rc = disk_append(st, e->keys.value, e->keys.value_size, &what);
    char why[128];
    if (rc < 0) {
        snprintf(why, sizeof(why), "%s: %s", what, strerror(-rc));
        rbench_engine_complete(e, slot, GRPC_STATUS_INTERNAL, why);
        e->stopping = true; /* a disk that fails once is not measured further */
        return 0;
    }
    rbench_engine_complete(e, slot, GRPC_STATUS_OK, "");
    if (st->off + e->keys.value_size > WAL_SEGMENT_BYTES && (rc = disk_preallocate(st)) < 0) {
        snprintf(why, sizeof(why), "preallocating the file again: %s", strerror(-rc));
        rbench_engine_error(e, GRPC_STATUS_INTERNAL, why);
        e->stopping = true;
    }
    return 0;
}

static void disk_destroy(struct rbench_engine *e)
{
    struct disk_state *st = e->state;
    if (st == NULL)
        return;
    if (st->fd >= 0)
        close(st->fd);
    if (st->path[0] != '\0')
        unlink(st->path);
    free(st);
    e->state = NULL;
}

const struct rbench_workload_ops rbench_fdatasync_ops = {
    .local = true,
    .setup = disk_setup,
    .issue = disk_issue,
    .destroy = disk_destroy,
};
