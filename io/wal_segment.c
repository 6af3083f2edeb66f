#include "wal_segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringd_assert.h"
#include "ringd_bytes.h"
#include "ringd_error.h"

void wal_segment_name(char *name, const struct wal_segment_id *id)
{
    int n = snprintf(name, WAL_SEGMENT_NAME_BYTES, "%016" PRIx64 "-%016" PRIx64 ".wal", id->seq,
                     id->first_index);
    ASSERT(n == WAL_SEGMENT_NAME_BYTES - 1);
}

int wal_segment_parse_name(const char *name, struct wal_segment_id *id)
{
    if (strlen(name) != WAL_SEGMENT_NAME_BYTES - 1 || name[16] != '-' ||
        strcmp(name + 33, ".wal") != 0)
        return -1;
    if (hex16_parse(name, &id->seq) != 0 || hex16_parse(name + 17, &id->first_index) != 0)
        return -1;
    return 0;
}

static int segment_id_cmp(const void *a, const void *b)
{
    const struct wal_segment_id *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Reads the directory's segment names into ids; removes the spare. */
static int segment_read_dir(int dirfd, const char *dir, struct wal_segment_id *ids, uint32_t max,
                            uint32_t *n, char *msg, size_t msg_bytes)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int err = -errno;
        close(fd);
        return err;
    }
    rewinddir(d);
    int err = 0;
    struct dirent *de;
    *n = 0;
    while (err == 0 && (de = readdir(d)) != NULL) {
        struct wal_segment_id id;
        if (strcmp(de->d_name, WAL_SPARE_NAME) == 0) {
            if (unlinkat(dirfd, de->d_name, 0) != 0)
                err = -errno;
        } else if (wal_segment_parse_name(de->d_name, &id) == 0) {
            if (*n == max) {
                snprintf(msg, msg_bytes, "wal: more than %u segment files in %s", max, dir);
                err = -RINGD_EFULL;
            } else {
                ids[(*n)++] = id;
            }
        }
    }
    closedir(d);
    return err;
}

int wal_segment_list(int dirfd, const char *dir, struct wal_segment_id *ids, uint32_t max,
                     uint32_t *n, char *msg, size_t msg_bytes)
{
    int err = segment_read_dir(dirfd, dir, ids, max, n, msg, msg_bytes);
    if (err < 0)
        return err;
    qsort(ids, *n, sizeof(ids[0]), segment_id_cmp);
    for (uint32_t i = 1; i < *n; i++) {
        if (ids[i].seq == ids[i - 1].seq + 1 && ids[i].first_index >= ids[i - 1].first_index)
            continue;
        char a[WAL_SEGMENT_NAME_BYTES], b[WAL_SEGMENT_NAME_BYTES];
        wal_segment_name(a, &ids[i - 1]);
        wal_segment_name(b, &ids[i]);
        snprintf(msg, msg_bytes, "wal: segments out of order in %s: %s is followed by %s%s", dir, a,
                 b, ids[i].seq > ids[i - 1].seq + 1 ? " (a segment is missing)" : "");
        return -RINGD_ECORRUPT;
    }
    return 0;
}

static int write_full(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        off += (uint64_t)w;
        len -= (uint64_t)w;
    }
    return 0;
}

int wal_segment_create(int dirfd, const struct wal_segment_id *id, uint64_t bytes,
                       const uint8_t *head, uint32_t head_bytes)
{
    ASSERT(head_bytes <= bytes);
    int fd = openat(dirfd, WAL_SPARE_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    char name[WAL_SEGMENT_NAME_BYTES];
    wal_segment_name(name, id);
    int err = 0;
    if (fallocate(fd, 0, 0, (off_t)bytes) != 0)
        err = -errno;
    if (err == 0)
        err = write_full(fd, head, head_bytes, 0);
    if (err == 0 && fsync(fd) != 0)
        err = -errno;
    if (err == 0 && renameat(dirfd, WAL_SPARE_NAME, dirfd, name) != 0)
        err = -errno;
    if (err == 0)
        err = wal_dir_sync(dirfd);
    if (err < 0) {
        close(fd);
        unlinkat(dirfd, WAL_SPARE_NAME, 0);
        unlinkat(dirfd, name, 0);
        return err;
    }
    return fd;
}

int wal_segment_zero(int fd, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) != 0) {
        if (errno != EOPNOTSUPP)
            return -errno;
        static const uint8_t zeros[64 << 10];
        for (uint64_t done = 0; done < len;) {
            uint64_t n = len - done < sizeof(zeros) ? len - done : sizeof(zeros);
            int err = write_full(fd, zeros, n, off + done);
            if (err < 0)
                return err;
            done += n;
        }
    }
    return fdatasync(fd) != 0 ? -errno : 0;
}

int wal_dir_sync(int dirfd)
{
    return fsync(dirfd) != 0 ? -errno : 0;
}
