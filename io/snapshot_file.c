#include "snapshot_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "ringd_assert.h"
#include "ringd_bytes.h"
#include "ringd_error.h"

#define TRAILER_PAYLOAD_BYTES 24
#define BODY_MAX              SNAPSHOT_RECORD_BYTES_MAX /* type and payload of one record */

_Static_assert(SNAPSHOT_WRITE_BUFFER_BYTES >= SNAPSHOT_FILE_HEADER_BYTES +
                                                  SNAPSHOT_FILE_RECORD_HEAD + 1 +
                                                  TRAILER_PAYLOAD_BYTES,
               "the header and the trailer fit in the write buffer");
_Static_assert(BODY_MAX < UINT32_MAX - SNAPSHOT_FILE_RECORD_HEAD, "a record's size fits 32 bits");

/* --- encoding --------------------------------------------------------------------------------- */

static void header_encode(uint8_t h[SNAPSHOT_FILE_HEADER_BYTES], const struct snapshot_file_id *id)
{
    le_put_u64(h, SNAPSHOT_FILE_MAGIC);
    le_put_u32(h + 8, SNAPSHOT_FILE_VERSION);
    le_put_u32(h + 12, 0);
    le_put_u64(h + 16, id->index);
    le_put_u64(h + 24, id->term);
    le_put_u32(h + 32, crc32c_update(0, h, 32));
    le_put_u32(h + 36, 0);
}

void snapshot_file_name(char *name, const struct snapshot_file_id *id)
{
    int n = snprintf(name, SNAPSHOT_FILE_NAME_BYTES, "%016" PRIx64 "-%016" PRIx64 ".snap", id->term,
                     id->index);
    ASSERT(n == SNAPSHOT_FILE_NAME_BYTES - 1);
}

int snapshot_file_parse_name(const char *name, struct snapshot_file_id *id)
{
    if (strlen(name) != SNAPSHOT_FILE_NAME_BYTES - 1 || name[16] != '-' ||
        strcmp(name + 33, ".snap") != 0)
        return -1;
    if (hex16_parse(name, &id->term) != 0 || hex16_parse(name + 17, &id->index) != 0)
        return -1;
    return 0;
}

/* A leftover of a writer that did not commit: "<name>.snap.tmp". */
static bool is_tmp_name(const char *name)
{
    size_t n = strlen(name);
    size_t t = strlen(SNAPSHOT_FILE_TMP_SUFFIX);
    if (n != SNAPSHOT_FILE_NAME_BYTES - 1 + t || strcmp(name + n - t, SNAPSHOT_FILE_TMP_SUFFIX))
        return false;
    char base[SNAPSHOT_FILE_NAME_BYTES];
    memcpy(base, name, SNAPSHOT_FILE_NAME_BYTES - 1);
    base[SNAPSHOT_FILE_NAME_BYTES - 1] = '\0';
    struct snapshot_file_id id;
    return snapshot_file_parse_name(base, &id) == 0;
}

static int id_cmp(const struct snapshot_file_id *a, const struct snapshot_file_id *b)
{
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return (a->term > b->term) - (a->term < b->term);
}

static int id_cmp_qsort(const void *a, const void *b)
{
    return id_cmp(a, b);
}

/* --- writing ---------------------------------------------------------------------------------- */

static int write_full(int fd, const uint8_t *p, uint64_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        len -= (uint64_t)w;
    }
    return 0;
}

static int writer_fail(struct snapshot_file_writer *w, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int writer_fail(struct snapshot_file_writer *w, int err, const char *fmt, ...)
{
    ASSERT(err < 0);
    if (w->err == 0) {
        w->err = err;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->message, sizeof(w->message), fmt, ap);
        va_end(ap);
    }
    return w->err;
}

static void tmp_name(const struct snapshot_file_writer *w, char tmp[SNAPSHOT_FILE_NAME_BYTES + 8])
{
    snprintf(tmp, SNAPSHOT_FILE_NAME_BYTES + 8, "%s%s", w->name, SNAPSHOT_FILE_TMP_SUFFIX);
}

int snapshot_file_create(struct snapshot_file_writer *w, const char *dir,
                         const struct snapshot_file_id *id)
{
    memset(w, 0, sizeof(*w));
    w->dirfd = -1;
    w->fd = -1;
    w->id = *id;
    snapshot_file_name(w->name, id);
    snprintf(w->path, sizeof(w->path), "%s/%s%s", dir, w->name, SNAPSHOT_FILE_TMP_SUFFIX);
    w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd < 0) {
        int err = -errno;
        return writer_fail(w, err, "snapshot: open directory %s: %s", dir, strerror(-err));
    }
    char tmp[SNAPSHOT_FILE_NAME_BYTES + 8];
    tmp_name(w, tmp);
    w->fd = openat(w->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    w->buf = w->fd >= 0 ? malloc(SNAPSHOT_WRITE_BUFFER_BYTES) : NULL;
    if (w->buf == NULL) {
        int err = w->fd < 0 ? -errno : -ENOMEM;
        writer_fail(w, err, "snapshot: create %s: %s", w->path, strerror(-err));
        snapshot_file_abort(w);
        return err;
    }
    header_encode(w->buf, id);
    w->used = SNAPSHOT_FILE_HEADER_BYTES;
    w->offset = SNAPSHOT_FILE_HEADER_BYTES;
    w->crc = le_get_u32(w->buf + 32);
    return 0;
}

uint32_t snapshot_file_room(const struct snapshot_file_writer *w)
{
    return SNAPSHOT_WRITE_BUFFER_BYTES - w->used;
}

/* Keeps what the writer has written but the disk not yet taken under SNAPSHOT_DIRTY_BYTES_MAX:
 * past it, waits for that range's writeback. A snapshot is hundreds of megabytes; left to the
 * page cache, its data would be written back in bulk, some of it inside the WAL's fdatasyncs
 * (ext4 flushes ordered data in the journal commit a WAL fdatasync waits for), which showed as
 * tens of milliseconds of write latency while a snapshot ran. written: bytes in the file. */
static int writer_pace(struct snapshot_file_writer *w, uint64_t written)
{
    if (written - w->synced < SNAPSHOT_DIRTY_BYTES_MAX)
        return 0;
    if (sync_file_range(w->fd, (off_t)w->synced, (off_t)(written - w->synced),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
        int err = -errno;
        return writer_fail(w, err, "snapshot: writing back %s: %s", w->path, strerror(-err));
    }
    w->synced = written;
    return 0;
}

int snapshot_file_flush(struct snapshot_file_writer *w)
{
    if (w->err != 0)
        return w->err;
    int err = write_full(w->fd, w->buf, w->used);
    if (err < 0)
        return writer_fail(w, err, "snapshot: write %s: %s", w->path, strerror(-err));
    w->used = 0;
    return writer_pace(w, w->offset);
}

static int append_record(struct snapshot_file_writer *w, uint8_t type, const void *fixed,
                         uint32_t fixed_bytes, const void *tail, uint32_t tail_bytes)
{
    ASSERT(fixed_bytes <= SNAPSHOT_FILE_FIXED_MAX);
    ASSERT(tail != NULL || tail_bytes == 0);
    if (w->err != 0)
        return w->err;
    uint64_t body = 1 + (uint64_t)fixed_bytes + tail_bytes;
    if (body > BODY_MAX)
        return writer_fail(w, -EMSGSIZE, "snapshot: %s: a record of %" PRIu64 " bytes", w->path,
                           body);
    uint8_t head[SNAPSHOT_FILE_RECORD_HEAD + 1 + SNAPSHOT_FILE_FIXED_MAX];
    uint32_t head_bytes = SNAPSHOT_FILE_RECORD_HEAD + 1 + fixed_bytes;
    head[SNAPSHOT_FILE_RECORD_HEAD] = type;
    if (fixed_bytes > 0)
        memcpy(head + SNAPSHOT_FILE_RECORD_HEAD + 1, fixed, fixed_bytes);
    uint32_t crc = crc32c_update(w->crc, head + SNAPSHOT_FILE_RECORD_HEAD, 1 + fixed_bytes);
    if (tail_bytes > 0)
        crc = crc32c_update(crc, tail, tail_bytes);
    le_put_u32(head, (uint32_t)body);
    le_put_u32(head + 4, crc);
    uint64_t size = SNAPSHOT_FILE_RECORD_HEAD + body;
    int err = size > snapshot_file_room(w) ? snapshot_file_flush(w) : 0;
    if (err < 0)
        return err;
    if (size <= SNAPSHOT_WRITE_BUFFER_BYTES) {
        memcpy(w->buf + w->used, head, head_bytes);
        if (tail_bytes > 0)
            memcpy(w->buf + w->used + head_bytes, tail, tail_bytes);
        w->used += (uint32_t)size;
    } else {
        /* Larger than the whole buffer (which was just written out): straight from the
         * caller's memory. */
        err = write_full(w->fd, head, head_bytes);
        if (err == 0)
            err = write_full(w->fd, tail, tail_bytes);
        if (err < 0)
            return writer_fail(w, err, "snapshot: write %s: %s", w->path, strerror(-err));
        if ((err = writer_pace(w, w->offset + size)) < 0)
            return err;
    }
    w->crc = crc;
    w->offset += size;
    w->records += type != SNAPSHOT_FILE_TRAILER;
    ASSERT(w->used <= SNAPSHOT_WRITE_BUFFER_BYTES && w->offset >= w->used);
    return 0;
}

int snapshot_file_append(struct snapshot_file_writer *w, uint8_t type, const void *fixed,
                         uint32_t fixed_bytes, const void *tail, uint32_t tail_bytes)
{
    ASSERT(type >= 1 && type <= SNAPSHOT_FILE_TYPE_MAX);
    ASSERT(w->fd >= 0 || w->err != 0);
    return append_record(w, type, fixed, fixed_bytes, tail, tail_bytes);
}

void snapshot_file_abort(struct snapshot_file_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
        char tmp[SNAPSHOT_FILE_NAME_BYTES + 8];
        tmp_name(w, tmp);
        unlinkat(w->dirfd, tmp, 0);
    }
    if (w->dirfd >= 0) {
        close(w->dirfd);
        w->dirfd = -1;
    }
    free(w->buf);
    w->buf = NULL;
}

int snapshot_file_commit(struct snapshot_file_writer *w)
{
    uint8_t t[TRAILER_PAYLOAD_BYTES];
    le_put_u64(t, SNAPSHOT_FILE_END_MAGIC);
    le_put_u64(t + 8, w->records);
    le_put_u64(t + 16, w->offset);
    int err = append_record(w, SNAPSHOT_FILE_TRAILER, t, sizeof(t), NULL, 0);
    if (err == 0)
        err = snapshot_file_flush(w);
    if (err == 0 && fsync(w->fd) != 0) {
        err = -errno;
        writer_fail(w, err, "snapshot: fsync %s: %s", w->path, strerror(-err));
    }
    if (err != 0) {
        snapshot_file_abort(w);
        return err;
    }
    ASSERT(w->used == 0); /* the trailer included, everything is in the file */
    /* The file is whole and synced under its temporary name: give it its name, durably. */
    close(w->fd);
    w->fd = -1; /* abort below only closes the directory */
    char tmp[SNAPSHOT_FILE_NAME_BYTES + 8];
    tmp_name(w, tmp);
    if (renameat(w->dirfd, tmp, w->dirfd, w->name) != 0) {
        err = -errno;
        writer_fail(w, err, "snapshot: rename %s: %s", w->path, strerror(-err));
        unlinkat(w->dirfd, tmp, 0);
    } else if (fsync(w->dirfd) != 0) {
        err = -errno;
        writer_fail(w, err,
                    "snapshot: fsync of the directory of %s failed (%s): the complete file's "
                    "new name may not be durable",
                    w->path, strerror(-err));
    }
    snapshot_file_abort(w);
    return err;
}

/* --- listing ---------------------------------------------------------------------------------- */

/* Reads dir's snapshot names into ids (SNAPSHOT_FILES_MAX of room), sorted by index then term,
 * and removes leftover temporary files. Other files are left alone. */
static int list_snapshots(int dirfd, const char *dir, struct snapshot_file_id *ids, uint32_t *n,
                          char *msg, size_t msg_bytes)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        int err = -errno;
        if (fd >= 0)
            close(fd);
        snprintf(msg, msg_bytes, "snapshot: read directory %s: %s", dir, strerror(-err));
        return err;
    }
    rewinddir(d);
    int err = 0;
    struct dirent *de;
    *n = 0;
    while (err == 0 && (de = readdir(d)) != NULL) {
        struct snapshot_file_id id;
        if (is_tmp_name(de->d_name)) {
            if (unlinkat(dirfd, de->d_name, 0) != 0 && errno != ENOENT) {
                err = -errno;
                snprintf(msg, msg_bytes, "snapshot: remove %s/%s: %s", dir, de->d_name,
                         strerror(-err));
            }
        } else if (snapshot_file_parse_name(de->d_name, &id) == 0) {
            if (*n == SNAPSHOT_FILES_MAX) {
                err = -RINGD_EFULL;
                snprintf(msg, msg_bytes, "snapshot: more than %u snapshot files in %s",
                         SNAPSHOT_FILES_MAX, dir);
            } else {
                ids[(*n)++] = id;
            }
        }
    }
    closedir(d);
    if (err == 0)
        qsort(ids, *n, sizeof(ids[0]), id_cmp_qsort);
    return err;
}

/* Opens dir and lists it; ids is allocated here. */
static int open_and_list(const char *dir, int *dirfd, struct snapshot_file_id **ids, uint32_t *n,
                         char *msg, size_t msg_bytes)
{
    *ids = NULL;
    *n = 0;
    *dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0) {
        int err = -errno;
        snprintf(msg, msg_bytes, "snapshot: open directory %s: %s", dir, strerror(-err));
        return err;
    }
    *ids = malloc(sizeof(**ids) * SNAPSHOT_FILES_MAX);
    if (*ids == NULL) {
        snprintf(msg, msg_bytes, "snapshot: listing %s: out of memory", dir);
        return -ENOMEM;
    }
    return list_snapshots(*dirfd, dir, *ids, n, msg, msg_bytes);
}

int snapshot_file_prune(const char *dir, uint64_t keep_max, char *msg, size_t msg_bytes)
{
    ASSERT(msg_bytes > 0);
    msg[0] = '\0';
    int dirfd;
    struct snapshot_file_id *ids;
    uint32_t n;
    int err = open_and_list(dir, &dirfd, &ids, &n, msg, msg_bytes);
    uint64_t remove = keep_max > 0 && n > keep_max ? n - keep_max : 0;
    for (uint64_t i = 0; err == 0 && i < remove; i++) {
        char name[SNAPSHOT_FILE_NAME_BYTES];
        snapshot_file_name(name, &ids[i]);
        if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
            err = -errno;
            snprintf(msg, msg_bytes, "snapshot: remove %s/%s: %s", dir, name, strerror(-err));
        }
    }
    free(ids);
    if (dirfd >= 0)
        close(dirfd);
    return err;
}

/* --- reading ---------------------------------------------------------------------------------- */

static void reader_note(struct snapshot_file_reader *r, const char *fmt, va_list ap)
{
    char *m = r->message;
    size_t used = strlen(m);
    if (used > 0 && used + 2 < sizeof(r->message)) {
        memcpy(m + used, "; ", 3);
        used += 2;
    }
    vsnprintf(m + used, sizeof(r->message) - used, fmt, ap);
}

/* A bad file: the message names it and the offset. While a file is being chosen the notes
 * add up (every file skipped); afterwards a failure is the only thing said. */
static int reader_corrupt(struct snapshot_file_reader *r, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reader_corrupt(struct snapshot_file_reader *r, uint64_t offset, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return snapshot_file_corrupt(r, offset, why);
}

static void reader_say(struct snapshot_file_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reader_say(struct snapshot_file_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reader_note(r, fmt, ap);
    va_end(ap);
}

int snapshot_file_corrupt(struct snapshot_file_reader *r, uint64_t offset, const char *why)
{
    if (r->chosen)
        r->message[0] = '\0';
    reader_say(r, "snapshot: corrupt file %s at offset %" PRIu64 ": %s", r->path, offset, why);
    return -RINGD_ECORRUPT;
}

static int reader_io_fail(struct snapshot_file_reader *r, int err)
{
    if (r->chosen)
        r->message[0] = '\0';
    reader_say(r, "snapshot: read %s: %s", r->path, strerror(-err));
    return err;
}

static int read_full_at(int fd, uint8_t *p, uint64_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO; /* the file shrank under us */
        p += n;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return 0;
}

/* Makes room for n contiguous bytes (one whole record) plus a read-ahead. */
static int reader_reserve(struct snapshot_file_reader *r, uint64_t n)
{
    ASSERT(n <= SNAPSHOT_FILE_RECORD_HEAD + (uint64_t)BODY_MAX);
    if (r->cap >= n + SNAPSHOT_READ_CHUNK_BYTES)
        return 0;
    uint8_t *b = realloc(r->buf, n + SNAPSHOT_READ_CHUNK_BYTES);
    if (b == NULL)
        return -ENOMEM;
    r->buf = b;
    r->cap = n + SNAPSHOT_READ_CHUNK_BYTES;
    r->len = 0;
    return 0;
}

/* Points *p at the file's bytes [off, off + n) (reserved room). Returns 0, 1 when the file
 * ends before off + n, or a negated errno. */
static int reader_get(struct snapshot_file_reader *r, uint64_t off, uint64_t n, const uint8_t **p)
{
    ASSERT(n <= r->cap);
    if (off > r->file_bytes || r->file_bytes - off < n)
        return 1;
    if (off >= r->base && off + n <= r->base + r->len) {
        *p = r->buf + (off - r->base);
        return 0;
    }
    uint64_t want = r->file_bytes - off < r->cap ? r->file_bytes - off : r->cap;
    r->len = 0;
    int err = read_full_at(r->fd, r->buf, want, off);
    if (err < 0)
        return err;
    r->base = off;
    r->len = want;
    *p = r->buf;
    return 0;
}

static int reader_header(struct snapshot_file_reader *r)
{
    const uint8_t *h;
    int got = reader_get(r, 0, SNAPSHOT_FILE_HEADER_BYTES, &h);
    if (got < 0)
        return reader_io_fail(r, got);
    if (got == 1)
        return reader_corrupt(r, r->file_bytes, "truncated: no whole header");
    if (le_get_u64(h) != SNAPSHOT_FILE_MAGIC)
        return reader_corrupt(r, 0, "not a snapshot file (bad magic)");
    if (le_get_u32(h + 32) != crc32c_update(0, h, 32) || le_get_u32(h + 36) != 0)
        return reader_corrupt(r, 0, "header crc mismatch");
    if (le_get_u32(h + 8) != SNAPSHOT_FILE_VERSION || le_get_u32(h + 12) != 0)
        return reader_corrupt(r, 8, "format version %" PRIu32 " (this build reads %d)",
                              le_get_u32(h + 8), SNAPSHOT_FILE_VERSION);
    if (le_get_u64(h + 16) != r->id.index || le_get_u64(h + 24) != r->id.term)
        return reader_corrupt(r, 16, "the header's index and term are not the file name's");
    r->header_crc = le_get_u32(h + 32);
    r->crc = r->header_crc;
    r->pos = SNAPSHOT_FILE_HEADER_BYTES;
    r->records = 0;
    r->ended = false;
    return 0;
}

static int reader_trailer(struct snapshot_file_reader *r, uint64_t at, const uint8_t *payload,
                          uint32_t payload_bytes)
{
    if (payload_bytes != TRAILER_PAYLOAD_BYTES || le_get_u64(payload) != SNAPSHOT_FILE_END_MAGIC)
        return reader_corrupt(r, at, "bad trailer");
    if (le_get_u64(payload + 8) != r->records || le_get_u64(payload + 16) != at)
        return reader_corrupt(r, at,
                              "the trailer counts %" PRIu64 " records ending at %" PRIu64
                              ", the file has %" PRIu64 " ending at %" PRIu64,
                              le_get_u64(payload + 8), le_get_u64(payload + 16), r->records, at);
    if (r->pos != r->file_bytes)
        return reader_corrupt(r, r->pos, "%" PRIu64 " bytes after the trailer",
                              r->file_bytes - r->pos);
    r->ended = true;
    return 0;
}

/* Reads and checks the record at r->pos: 1 with *rec, 0 for the (checked) trailer, or an
 * error with the message set. */
static int reader_record(struct snapshot_file_reader *r, struct snapshot_file_record *rec)
{
    uint64_t at = r->pos;
    const uint8_t *p;
    int got = reader_get(r, at, SNAPSHOT_FILE_RECORD_HEAD, &p);
    if (got < 0)
        return reader_io_fail(r, got);
    if (got == 1)
        return reader_corrupt(r, at,
                              at == r->file_bytes ? "truncated: no trailer"
                                                  : "truncated inside a record's head");
    uint32_t body = le_get_u32(p), crc = le_get_u32(p + 4);
    if (body == 0 || body > BODY_MAX)
        return reader_corrupt(r, at, "bad record length %" PRIu32, body);
    int err = reader_reserve(r, SNAPSHOT_FILE_RECORD_HEAD + (uint64_t)body);
    if (err < 0)
        return reader_io_fail(r, err);
    got = reader_get(r, at, SNAPSHOT_FILE_RECORD_HEAD + (uint64_t)body, &p);
    if (got < 0)
        return reader_io_fail(r, got);
    if (got == 1)
        return reader_corrupt(r, at,
                              "truncated: a record of %" PRIu32 " bytes runs past the "
                              "end of the file",
                              body);
    uint32_t c = crc32c_update(r->crc, p + SNAPSHOT_FILE_RECORD_HEAD, body);
    if (c != crc)
        return reader_corrupt(r, at, "crc mismatch");
    uint8_t type = p[SNAPSHOT_FILE_RECORD_HEAD];
    r->pos = at + SNAPSHOT_FILE_RECORD_HEAD + body;
    r->crc = c;
    if (type == 0)
        return reader_corrupt(r, at, "record type 0");
    if (type == SNAPSHOT_FILE_TRAILER)
        return reader_trailer(r, at, p + SNAPSHOT_FILE_RECORD_HEAD + 1, body - 1);
    r->records++;
    *rec = (struct snapshot_file_record){.type = type,
                                         .payload = p + SNAPSHOT_FILE_RECORD_HEAD + 1,
                                         .payload_bytes = body - 1,
                                         .offset = at};
    return 1;
}

/* Opens one file and checks it whole; on success it is left at its first record. */
static int reader_open_one(struct snapshot_file_reader *r, int dirfd, const char *dir,
                           const struct snapshot_file_id *id)
{
    char name[SNAPSHOT_FILE_NAME_BYTES];
    snapshot_file_name(name, id);
    snprintf(r->path, sizeof(r->path), "%s/%s", dir, name);
    r->id = *id;
    r->len = 0; /* the buffer held another file */
    r->ended = false;
    r->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) != 0)
        return reader_io_fail(r, -errno);
    r->file_bytes = (uint64_t)st.st_size;
    int err = reader_reserve(r, SNAPSHOT_FILE_HEADER_BYTES);
    if (err < 0)
        return reader_io_fail(r, err);
    err = reader_header(r);
    if (err == 0) {
        struct snapshot_file_record rec;
        while ((err = reader_record(r, &rec)) == 1)
            ;
    }
    if (err == 0) {
        ASSERT(r->ended && r->pos == r->file_bytes);
        r->pos = SNAPSHOT_FILE_HEADER_BYTES;
        r->crc = r->header_crc;
        r->records = 0;
        r->ended = false;
    }
    return err;
}

int snapshot_file_open_newest(struct snapshot_file_reader *r, const char *dir)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    int dirfd;
    struct snapshot_file_id *ids;
    uint32_t n;
    int err = open_and_list(dir, &dirfd, &ids, &n, r->message, sizeof(r->message));
    if (err == -ENOENT && dirfd < 0) {
        r->message[0] = '\0';
        err = 0;
    }
    for (uint32_t i = n; err == 0 && i-- > 0;) {
        err = reader_open_one(r, dirfd, dir, &ids[i]);
        if (err == 0) {
            r->chosen = true;
            break;
        }
        if (r->fd >= 0) {
            close(r->fd);
            r->fd = -1;
        }
        if (err == -RINGD_ECORRUPT && i > 0)
            err = 0; /* skipped, named in the message: the next older one */
    }
    free(ids);
    if (dirfd >= 0)
        close(dirfd);
    return err;
}

int snapshot_file_next(struct snapshot_file_reader *r, struct snapshot_file_record *rec)
{
    ASSERT(r->fd >= 0 && r->chosen);
    if (r->ended)
        return 0;
    return reader_record(r, rec);
}

void snapshot_file_close(struct snapshot_file_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
    r->len = 0;
}
