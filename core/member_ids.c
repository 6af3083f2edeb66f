/* The member's ids on disk; see member_ids.h. */
#include "member_ids.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "ringd_assert.h"
#include "ringd_bytes.h"
#include "ringd_error.h"

#define MEMBER_IDS_MAGIC   "RINGDIDS"
#define MEMBER_IDS_VERSION 1u
#define MEMBER_IDS_JOINED  1u
/* The largest file: the header, every member at its largest, the CRC. */
#define MEMBER_IDS_BYTES_MAX                                                                 \
    (36 +                                                                                    \
     CONFIG_CLUSTER_MEMBERS_MAX *                                                            \
         (20 + CONFIG_NAME_BYTES_MAX + CLUSTER_PEER_URLS_MAX * (4 + CONFIG_URL_BYTES_MAX)) + \
     4)

struct member_ids_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool bad; /* a read ran past the end, or a value out of bounds */
};

static void member_ids_put32(struct member_ids_buf *b, uint32_t v)
{
    ASSERT(b->len + 4 <= b->cap);
    le_put_u32(b->data + b->len, v);
    b->len += 4;
}

static void member_ids_put64(struct member_ids_buf *b, uint64_t v)
{
    ASSERT(b->len + 8 <= b->cap);
    le_put_u64(b->data + b->len, v);
    b->len += 8;
}

static void member_ids_put_str(struct member_ids_buf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    member_ids_put32(b, n);
    ASSERT(b->len + n <= b->cap);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void member_ids_encode(const struct cluster_ids *ids, struct member_ids_buf *b)
{
    memcpy(b->data, MEMBER_IDS_MAGIC, 8);
    b->len = 8;
    member_ids_put32(b, MEMBER_IDS_VERSION);
    member_ids_put32(b, ids->join ? MEMBER_IDS_JOINED : 0);
    member_ids_put64(b, ids->cluster_id);
    member_ids_put64(b, ids->member_id);
    member_ids_put32(b, ids->members_count);
    for (uint32_t i = 0; i < ids->members_count; i++) {
        const struct cluster_member *m = &ids->members[i];
        member_ids_put64(b, m->id);
        member_ids_put32(b, m->is_learner);
        member_ids_put_str(b, m->name);
        member_ids_put32(b, m->peer_urls_count);
        for (uint32_t u = 0; u < m->peer_urls_count; u++)
            member_ids_put_str(b, m->peer_urls[u]);
    }
    member_ids_put32(b, crc32c_update(0, b->data, b->len));
}

static int member_ids_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes tmp, fsyncs it, renames it to path and fsyncs the directory. */
static int member_ids_write_file(const char *dir, const char *tmp, const char *path,
                                 const struct member_ids_buf *b, const char **step)
{
    *step = "open";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int err = member_ids_write_all(fd, b->data, b->len);
    *step = err < 0 ? "write" : "fsync";
    if (err == 0 && fsync(fd) != 0)
        err = -errno;
    close(fd);
    if (err < 0)
        return err;
    *step = "rename";
    if (rename(tmp, path) != 0)
        return -errno;
    *step = "fsync";
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    err = fsync(dfd) == 0 ? 0 : -errno;
    close(dfd);
    return err;
}

int member_ids_save(const char *member_dir, const struct cluster_ids *ids, char *why,
                    size_t why_bytes)
{
    ASSERT(ids->member_id != 0 && ids->cluster_id != 0 && ids->local < ids->members_count);
    char path[CONFIG_PATH_BYTES_MAX + 32], tmp[CONFIG_PATH_BYTES_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", member_dir, MEMBER_IDS_FILE);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", member_dir, MEMBER_IDS_FILE);
    struct member_ids_buf b = {.data = malloc(MEMBER_IDS_BYTES_MAX), .cap = MEMBER_IDS_BYTES_MAX};
    if (b.data == NULL)
        return -ENOMEM;
    member_ids_encode(ids, &b);
    const char *step = "write";
    int err = member_ids_write_file(member_dir, tmp, path, &b, &step);
    free(b.data);
    if (err < 0)
        snprintf(why, why_bytes, "%s %s: %s", step, path, strerror(-err));
    return err;
}

/* Decoding: every read is bounded; a short or out-of-range field marks the buffer bad. */

static uint32_t member_ids_get32(struct member_ids_buf *b)
{
    if (b->bad || b->len + 4 > b->cap) {
        b->bad = true;
        return 0;
    }
    b->len += 4;
    return le_get_u32(b->data + b->len - 4);
}

static uint64_t member_ids_get64(struct member_ids_buf *b)
{
    uint64_t lo = member_ids_get32(b);
    return lo | (uint64_t)member_ids_get32(b) << 32;
}

static void member_ids_get_str(struct member_ids_buf *b, char *out, size_t out_bytes)
{
    uint32_t n = member_ids_get32(b);
    if (b->bad || n >= out_bytes || b->len + n > b->cap) {
        b->bad = true;
        out[0] = '\0';
        return;
    }
    memcpy(out, b->data + b->len, n);
    out[n] = '\0';
    b->len += n;
}

static void member_ids_decode_member(struct member_ids_buf *b, struct cluster_member *m)
{
    memset(m, 0, sizeof *m);
    m->id = member_ids_get64(b);
    m->is_learner = member_ids_get32(b) != 0;
    member_ids_get_str(b, m->name, sizeof m->name);
    m->peer_urls_count = member_ids_get32(b);
    if (m->peer_urls_count == 0 || m->peer_urls_count > CLUSTER_PEER_URLS_MAX) {
        b->bad = true;
        return;
    }
    for (uint32_t u = 0; u < m->peer_urls_count && !b->bad; u++)
        member_ids_get_str(b, m->peer_urls[u], sizeof m->peer_urls[u]);
}

/* The bytes after the CRC check; returns 0 or -RINGD_ECORRUPT. */
static int member_ids_decode(struct member_ids_buf *b, struct cluster_ids *out)
{
    memset(out, 0, sizeof *out);
    b->len = 8;
    if (member_ids_get32(b) != MEMBER_IDS_VERSION)
        return -RINGD_ECORRUPT;
    out->join = (member_ids_get32(b) & MEMBER_IDS_JOINED) != 0;
    out->cluster_id = member_ids_get64(b);
    out->member_id = member_ids_get64(b);
    out->members_count = member_ids_get32(b);
    if (out->members_count == 0 || out->members_count > CONFIG_CLUSTER_MEMBERS_MAX)
        return -RINGD_ECORRUPT;
    bool found = false;
    for (uint32_t i = 0; i < out->members_count && !b->bad; i++) {
        member_ids_decode_member(b, &out->members[i]);
        if (out->members[i].id == out->member_id) {
            out->local = i;
            found = true;
        }
    }
    return b->bad || !found || out->cluster_id == 0 ? -RINGD_ECORRUPT : 0;
}

static int member_ids_read(const char *path, struct member_ids_buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    int err = 1;
    while (b->len < b->cap) {
        ssize_t r = read(fd, b->data + b->len, b->cap - b->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            err = r < 0 ? -errno : 1;
            break;
        }
        b->len += (size_t)r;
    }
    close(fd);
    return err;
}

int member_ids_load(const char *member_dir, struct cluster_ids *out, char *why, size_t why_bytes)
{
    char path[CONFIG_PATH_BYTES_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", member_dir, MEMBER_IDS_FILE);
    struct member_ids_buf b = {.data = malloc(MEMBER_IDS_BYTES_MAX), .cap = MEMBER_IDS_BYTES_MAX};
    if (b.data == NULL)
        return -ENOMEM;
    int rc = member_ids_read(path, &b);
    if (rc < 0)
        snprintf(why, why_bytes, "open %s: %s", path, strerror(-rc));
    if (rc == 1) {
        bool ok = b.len >= 12 && memcmp(b.data, MEMBER_IDS_MAGIC, 8) == 0 &&
                  crc32c_update(0, b.data, b.len - 4) == le_get_u32(b.data + b.len - 4);
        b.cap = ok ? b.len - 4 : 0;
        if (!ok || member_ids_decode(&b, out) < 0) {
            snprintf(why, why_bytes, "%s: not a ringd ids file, or damaged", path);
            rc = -RINGD_ECORRUPT;
        }
    }
    free(b.data);
    return rc;
}
