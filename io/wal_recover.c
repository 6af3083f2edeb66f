#include "wal_recover.h"

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
#include "ringd_error.h"
#include "ringd_limits.h"

/* Sector size for the torn-write test: a write interrupted by a crash leaves each sector it
 * covers either written or as it was (zero, in a preallocated segment), as etcd assumes. */
#define TORN_SECTOR_BYTES 512

/* --- reading a segment file through a buffer ------------------------------------------ */

struct reader {
    int fd;
    uint64_t file_bytes;
    uint8_t *buf;
    uint64_t cap;
    uint64_t base; /* buf holds the file's bytes [base, base + len) */
    uint64_t len;
};

/* Makes room for n contiguous bytes (a whole record, or a torn window) plus a read-ahead. */
static int reader_reserve(struct reader *rd, uint64_t n)
{
    ASSERT(n <= (uint64_t)WAL_BATCH_BYTES_MAX + WAL_RECORD_HEADER_SIZE);
    if (rd->cap >= n + WAL_READ_CHUNK_BYTES)
        return 0;
    uint8_t *b = realloc(rd->buf, n + WAL_READ_CHUNK_BYTES);
    if (b == NULL)
        return -ENOMEM;
    rd->buf = b;
    rd->cap = n + WAL_READ_CHUNK_BYTES;
    rd->len = 0;
    return 0;
}

static int read_full(int fd, uint8_t *p, uint64_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO; /* the file shrank under us */
        p += r;
        off += (uint64_t)r;
        len -= (uint64_t)r;
    }
    return 0;
}

/* Points *p at the file's bytes [off, off + n), reading them if needed. Returns 0, 1 when the
 * file ends before off + n, or a negated errno. n must fit the reserved room. */
static int reader_get(struct reader *rd, uint64_t off, uint64_t n, const uint8_t **p)
{
    ASSERT(n <= rd->cap);
    if (off > rd->file_bytes || rd->file_bytes - off < n)
        return 1;
    if (off >= rd->base && off + n <= rd->base + rd->len) {
        *p = rd->buf + (off - rd->base);
        return 0;
    }
    uint64_t want = rd->file_bytes - off < rd->cap ? rd->file_bytes - off : rd->cap;
    rd->len = 0;
    int err = read_full(rd->fd, rd->buf, want, off);
    if (err < 0)
        return err;
    rd->base = off;
    rd->len = want;
    *p = rd->buf;
    return 0;
}

/* The end of the last non-zero byte in buf[0, len), or 0 when all are zero. */
static uint64_t last_nonzero_end(const uint8_t *buf, uint64_t len)
{
    uint64_t i = len;
    while (i >= 8) {
        uint64_t w;
        memcpy(&w, buf + i - 8, 8);
        if (w != 0)
            break;
        i -= 8;
    }
    while (i > 0 && buf[i - 1] == 0)
        i--;
    return i;
}

/* Finds *end, the end of the last non-zero byte in [pos, file end) (pos when there is none).
 * Skips what SEEK_DATA calls holes: a preallocated range never written reads as zeros. */
static int reader_nonzero_end(struct reader *rd, uint64_t pos, uint64_t *end)
{
    *end = pos;
    rd->len = 0; /* the buffer is reused below */
    uint64_t off = pos;
    while (off < rd->file_bytes) {
        off_t d = lseek(rd->fd, (off_t)off, SEEK_DATA);
        if (d < 0 && errno == ENXIO)
            break;
        uint64_t data = d < 0 ? off : (uint64_t)d; /* no SEEK_DATA: read everything */
        off_t h = d < 0 ? (off_t)rd->file_bytes : lseek(rd->fd, d, SEEK_HOLE);
        uint64_t hole = h < 0 ? rd->file_bytes : (uint64_t)h;
        for (off = data; off < hole;) {
            uint64_t n = hole - off < rd->cap ? hole - off : rd->cap;
            int err = read_full(rd->fd, rd->buf, n, off);
            if (err < 0)
                return err;
            uint64_t nz = last_nonzero_end(rd->buf, n);
            if (nz > 0)
                *end = off + nz;
            off += n;
        }
    }
    return 0;
}

/* --- recovery state -------------------------------------------------------------------- */

struct overwrite {
    uint64_t ordinal; /* the entry record that went back */
    uint64_t index;   /* to this index */
};

/* Where and why a segment's records stop. */
enum verdict {
    VERDICT_END,     /* zeros from here to the end of the file: the clean end */
    VERDICT_TORN,    /* what an interrupted write leaves: zero it and go on from here */
    VERDICT_CORRUPT, /* bad data a crash cannot explain */
};

struct stop {
    enum verdict verdict;
    uint64_t pos;      /* where the records stop */
    uint64_t nz_end;   /* the end of the last non-zero byte from pos */
    const char *why;   /* for a corrupt or torn record */
    char why_buf[160]; /* when why needs numbers */
};

struct recover {
    const struct wal_recover_args *a;
    struct wal_recovery *rec;
    struct reader rd;
    struct wal_segment_id *ids;
    uint32_t n;
    /* The chain as read so far (pass 1), or as delivered (pass 2). */
    uint32_t crc;
    bool have_entry;
    uint64_t last_index;
    uint64_t ordinal; /* entry records read so far */
    bool has_hard_state;
    struct wal_hard_state hard_state;
    bool has_snapshot;
    struct wal_snapshot snapshot;
    /* Overwrites, deepest first going up: ordinals and indexes both increase. */
    struct overwrite *stack;
    uint32_t depth;
};

static void note(struct recover *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct recover *r, const char *fmt, ...)
{
    char *m = r->rec->message;
    size_t used = strlen(m);
    if (used > 0 && used + 2 < sizeof(r->rec->message)) {
        memcpy(m + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m + used, sizeof(r->rec->message) - used, fmt, ap);
    va_end(ap);
}

static void segment_path(const struct recover *r, uint32_t k, char *path, size_t len)
{
    char name[WAL_SEGMENT_NAME_BYTES];
    wal_segment_name(name, &r->ids[k]);
    snprintf(path, len, "%s/%s", r->a->dir, name);
}

static int fail_io(struct recover *r, uint32_t k, const char *what, int err)
{
    char path[WAL_DIR_BYTES_MAX + WAL_SEGMENT_NAME_BYTES + 1];
    segment_path(r, k, path, sizeof(path));
    r->rec->message[0] = '\0';
    note(r, "wal: %s %s: %s", what, path, ringd_strerror(err));
    return err;
}

static void stop_set(struct stop *s, enum verdict v, const char *why)
{
    s->verdict = v;
    s->why = why;
}

/* --- telling a torn tail from corruption ---------------------------------------------- */

/* True when some sector-aligned piece of [pos, pos + len) is all zeros: a sector the
 * interrupted write never reached (etcd's isTornEntry). */
static bool has_zero_sector(const uint8_t *p, uint64_t pos, uint64_t len)
{
    uint64_t i = 0;
    while (i < len) {
        uint64_t next = (pos + i) / TORN_SECTOR_BYTES * TORN_SECTOR_BYTES + TORN_SECTOR_BYTES;
        uint64_t n = next - (pos + i) < len - i ? next - (pos + i) : len - i;
        if (last_nonzero_end(p + i, n) == 0)
            return true;
        i += n;
    }
    return false;
}

/* True when the record's CRC field matches its bytes for some length other than the one its
 * length field says: the record was written whole and its length damaged afterwards. */
static bool crc_fits_other_length(const uint8_t *p, uint64_t avail, uint32_t chain,
                                  const struct wal_record *rec)
{
    if (rec->crc == 0 || avail <= WAL_RECORD_HEAD_BYTES)
        return false;
    uint32_t c = chain;
    for (uint64_t len = 1; len <= avail - WAL_RECORD_HEAD_BYTES; len++) {
        c = crc32c_update(c, p + WAL_RECORD_HEAD_BYTES + len - 1, 1);
        if (c == rec->crc && len != rec->body_bytes)
            return true;
    }
    return false;
}

/* Decides what the bad record at s->pos is (st and rec say what was wrong). In the last
 * segment, at most one write can have been interrupted: everything after the records must lie
 * within one batch (window bytes), and the record must show a tear. */
static int classify(struct recover *r, bool last, uint64_t window, uint32_t chain,
                    enum wal_record_status st, const struct wal_record *rec, struct stop *s)
{
    int err = reader_nonzero_end(&r->rd, s->pos, &s->nz_end);
    if (err < 0)
        return err;
    const char *why = rec->why != NULL ? rec->why : wal_record_status_text(st);
    if (s->nz_end == s->pos) {
        stop_set(s, VERDICT_END, NULL);
        return 0;
    }
    if (st == WAL_RECORD_ZERO)
        why = "data after the end of the records";
    if (!last || s->nz_end - s->pos > window) {
        stop_set(s, VERDICT_CORRUPT, why);
        return 0;
    }
    if (st == WAL_RECORD_ZERO) {
        stop_set(s, VERDICT_TORN, "a sector never written, then data");
        return 0;
    }
    const uint8_t *p;
    uint64_t avail = s->nz_end - s->pos;
    err = reader_reserve(&r->rd, avail);
    if (err == 0)
        err = reader_get(&r->rd, s->pos, avail, &p);
    if (err != 0)
        return err < 0 ? err : -EIO;
    if (crc_fits_other_length(p, avail, chain, rec)) {
        stop_set(s, VERDICT_CORRUPT, "damaged length (the crc matches another length)");
        return 0;
    }
    if (st == WAL_RECORD_BAD_LENGTH || st == WAL_RECORD_CUT) {
        stop_set(s, VERDICT_TORN, why);
        return 0;
    }
    bool torn = st == WAL_RECORD_BAD_CRC &&
                (s->nz_end <= s->pos + WAL_RECORD_HEAD_BYTES + rec->body_bytes ||
                 has_zero_sector(p, s->pos, rec->size < avail ? rec->size : avail));
    stop_set(s, torn ? VERDICT_TORN : VERDICT_CORRUPT, why);
    return 0;
}

/* --- pass 1: reading every segment ----------------------------------------------------- */

/* Reads and checks the record at off (its CRC chained on chain). Returns the status, or a
 * negated errno in *err. */
static enum wal_record_status read_record(struct recover *r, uint64_t off, uint32_t chain,
                                          uint32_t body_max, struct wal_record *rec, int *err)
{
    const uint8_t *p;
    *err = reader_get(&r->rd, off, WAL_RECORD_HEAD_BYTES, &p);
    if (*err != 0) {
        *rec = (struct wal_record){.why = "record header cut by the end of the file"};
        *err = *err < 0 ? *err : 0;
        return WAL_RECORD_CUT;
    }
    enum wal_record_status st = wal_record_parse_head(p, body_max, rec);
    if (st != WAL_RECORD_OK)
        return st;
    *err = reader_get(&r->rd, off, rec->size, &p);
    if (*err != 0) {
        rec->why = "length past the end of the file";
        *err = *err < 0 ? *err : 0;
        return WAL_RECORD_CUT;
    }
    return wal_record_check(p, chain, rec);
}

/* Applies one good record of pass 1. Returns NULL, or why the record cannot be where it is. */
static const char *apply_record(struct recover *r, struct wal_segment_state *seg,
                                const struct wal_record *rec, char *buf, size_t len)
{
    switch (rec->type) {
    case WAL_RECORD_HEADER:
        return "segment header inside a segment";
    case WAL_RECORD_HARD_STATE:
        wal_record_get_hard_state(rec, &r->hard_state);
        r->has_hard_state = true;
        return NULL;
    case WAL_RECORD_SNAPSHOT:
        wal_record_get_snapshot(rec, &r->snapshot);
        r->has_snapshot = true;
        return NULL;
    default:
        break;
    }
    struct wal_entry e;
    wal_record_get_entry(rec, &e);
    uint64_t next = (r->last_index > r->snapshot.index ? r->last_index : r->snapshot.index) + 1;
    if (e.index == 0 || (r->have_entry && e.index > next)) {
        snprintf(buf, len, "entry index %" PRIu64 " where at most %" PRIu64 " may follow", e.index,
                 next);
        return buf;
    }
    if (r->have_entry && e.index <= r->last_index) {
        while (r->depth > 0 && r->stack[r->depth - 1].index >= e.index)
            r->depth--;
        if (r->depth == WAL_REPLAY_OVERWRITES_MAX)
            return "more overwritten suffixes than WAL_REPLAY_OVERWRITES_MAX";
        r->stack[r->depth++] = (struct overwrite){.ordinal = r->ordinal, .index = e.index};
    }
    r->have_entry = true;
    r->last_index = e.index;
    r->ordinal++;
    seg->entries++;
    if (e.index > seg->max_index)
        seg->max_index = e.index;
    return NULL;
}

static int open_segment(struct recover *r, uint32_t k, struct wal_segment_state *seg)
{
    char name[WAL_SEGMENT_NAME_BYTES];
    wal_segment_name(name, &r->ids[k]);
    int fd = openat(r->a->dirfd, name, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail_io(r, k, "opening", -errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = -errno;
        close(fd);
        return fail_io(r, k, "reading the size of", err);
    }
    *seg = (struct wal_segment_state){.id = r->ids[k], .file_bytes = (uint64_t)st.st_size};
    r->rd.fd = fd;
    r->rd.file_bytes = seg->file_bytes;
    r->rd.len = 0;
    return 0;
}

/* Checks segment k's header record. Returns 0 with s->verdict END and s->pos the header's
 * size when it is good; otherwise s says what is at offset 0. */
static int scan_header(struct recover *r, uint32_t k, bool last, struct wal_segment_state *seg,
                       struct stop *s)
{
    struct wal_record rec;
    int err;
    *s = (struct stop){.pos = 0};
    const uint8_t *p;
    uint32_t chain = 0;
    if (reader_get(&r->rd, 0, WAL_RECORD_HEADER_SIZE, &p) == 0)
        chain = wal_record_header_prev_crc(p);
    enum wal_record_status st = read_record(r, 0, chain, 1 + WAL_HEADER_PAYLOAD_BYTES, &rec, &err);
    if (err < 0)
        return err;
    if (st == WAL_RECORD_OK && rec.type != WAL_RECORD_HEADER) {
        st = WAL_RECORD_BAD_FORMAT;
        rec.why = "no segment header";
    }
    if (st != WAL_RECORD_OK)
        return classify(r, last, WAL_BATCH_BYTES_MAX, chain, st, &rec, s);
    struct wal_segment_header h;
    wal_record_get_header(&rec, &h);
    const char *why = NULL;
    if (h.seq != r->ids[k].seq || h.first_index != r->ids[k].first_index)
        why = "segment header does not match the file name";
    else if (h.batch_bytes < WAL_BATCH_BYTES_MIN || h.batch_bytes > WAL_BATCH_BYTES_MAX)
        why = "segment header with an impossible batch size";
    else if (k > 0 && h.prev_crc != r->crc)
        why = "crc chain broken: the header does not carry the previous segment's last crc";
    if (why != NULL) {
        stop_set(s, VERDICT_CORRUPT, why);
        return 0;
    }
    seg->batch_bytes = h.batch_bytes;
    r->crc = rec.crc;
    s->pos = rec.size;
    stop_set(s, VERDICT_END, NULL);
    return 0;
}

/* Pass 1 over segment k: every record checked and applied until the records stop (s). */
static int scan_segment(struct recover *r, uint32_t k, struct wal_segment_state *seg,
                        struct stop *s)
{
    bool last = k + 1 == r->n;
    int err = scan_header(r, k, last, seg, s);
    if (err < 0 || s->verdict != VERDICT_END || s->pos == 0)
        return err;
    err = reader_reserve(&r->rd, seg->batch_bytes);
    if (err < 0)
        return err;
    uint64_t off = s->pos;
    while (off < seg->file_bytes) {
        struct wal_record rec;
        enum wal_record_status st = read_record(r, off, r->crc, seg->batch_bytes, &rec, &err);
        if (err < 0)
            return err;
        s->pos = off;
        if (st != WAL_RECORD_OK)
            return classify(r, last, seg->batch_bytes, r->crc, st, &rec, s);
        const char *why = apply_record(r, seg, &rec, s->why_buf, sizeof(s->why_buf));
        if (why != NULL) {
            stop_set(s, VERDICT_CORRUPT, why);
            return err;
        }
        r->crc = rec.crc;
        off += rec.size;
    }
    s->pos = off;
    s->nz_end = off;
    stop_set(s, VERDICT_END, NULL);
    return 0;
}

/* --- repairs ---------------------------------------------------------------------------- */

static int unlink_segment(struct recover *r, uint32_t k)
{
    char name[WAL_SEGMENT_NAME_BYTES];
    wal_segment_name(name, &r->ids[k]);
    if (unlinkat(r->a->dirfd, name, 0) != 0)
        return fail_io(r, k, "removing", -errno);
    return 0;
}

/* Removes segments from..n-1 and syncs the directory. */
static int drop_segments(struct recover *r, uint32_t from)
{
    for (uint32_t k = r->n; k > from; k--) {
        int err = unlink_segment(r, k - 1);
        if (err < 0)
            return err;
    }
    r->n = from;
    int err = wal_dir_sync(r->a->dirfd);
    if (err < 0) {
        snprintf(r->rec->message, sizeof(r->rec->message), "wal: syncing %s: %s", r->a->dir,
                 ringd_strerror(err));
    }
    return err;
}

/* Zeroes [s->pos, s->nz_end) of the open segment k. */
static int zero_tail(struct recover *r, uint32_t k, const struct stop *s)
{
    int err = wal_segment_zero(r->rd.fd, s->pos, s->nz_end - s->pos);
    return err < 0 ? fail_io(r, k, "zeroing the tail of", err) : 0;
}

/* A bad record at s->pos of segment k: refused, or with force the log cut there. */
static int corrupt(struct recover *r, uint32_t k, struct wal_segment_state *segs, struct stop *s)
{
    char path[WAL_DIR_BYTES_MAX + WAL_SEGMENT_NAME_BYTES + 1];
    segment_path(r, k, path, sizeof(path));
    r->rec->message[0] = '\0';
    note(r, "wal: corrupt record in %s at offset %" PRIu64 ": %s", path, s->pos, s->why);
    if (!r->a->force)
        return -RINGD_ECORRUPT;
    uint32_t later = r->n - k - 1;
    int err = reader_nonzero_end(&r->rd, s->pos, &s->nz_end);
    if (err < 0)
        return fail_io(r, k, "reading", err);
    if (s->pos > 0)
        err = zero_tail(r, k, s);
    if (err == 0)
        err = drop_segments(r, s->pos > 0 ? k + 1 : k);
    if (err < 0)
        return err;
    segs[k].end = s->pos;
    r->rec->forced = true;
    note(r,
         "forced: the log is cut there (%" PRIu64 " bytes of that segment%s and %u later "
         "segments dropped)",
         s->nz_end - s->pos, s->pos == 0 ? ", the whole file," : "", later);
    return 0;
}

/* What the scan of segment k found at its end: the records' clean end, a torn tail, a
 * segment a crash left without its header, or corruption. Sets *done when no later segment
 * is to be read. */
static int settle(struct recover *r, uint32_t k, struct wal_segment_state *segs, struct stop *s,
                  bool *done)
{
    bool last = k + 1 == r->n;
    *done = last;
    if (s->pos == 0 && s->verdict != VERDICT_CORRUPT) {
        /* Only a rollover's rename can leave a named segment without its header (the first
         * segment is created whole); the batch that would have written it was never
         * acknowledged. */
        if (!last || k == 0) {
            stop_set(s, VERDICT_CORRUPT, "segment without a header");
        } else {
            char path[WAL_DIR_BYTES_MAX + WAL_SEGMENT_NAME_BYTES + 1];
            segment_path(r, k, path, sizeof(path));
            note(r, "wal: removed %s: a crash left it without its header", path);
            r->rec->torn_bytes += s->nz_end;
            return drop_segments(r, k);
        }
    }
    if (s->verdict == VERDICT_CORRUPT) {
        *done = true;
        return corrupt(r, k, segs, s);
    }
    segs[k].end = s->pos;
    if (s->verdict == VERDICT_TORN) {
        char path[WAL_DIR_BYTES_MAX + WAL_SEGMENT_NAME_BYTES + 1];
        segment_path(r, k, path, sizeof(path));
        note(r, "wal: torn tail in %s at offset %" PRIu64 " (%s): %" PRIu64 " bytes zeroed", path,
             s->pos, s->why, s->nz_end - s->pos);
        r->rec->torn_bytes += s->nz_end - s->pos;
        return zero_tail(r, k, s);
    }
    return 0;
}

static int pass1(struct recover *r, struct wal_segment_state *segs)
{
    bool done = false;
    for (uint32_t k = 0; k < r->n && !done; k++) {
        struct stop s;
        int err = open_segment(r, k, &segs[k]);
        if (err < 0)
            return err;
        err = scan_segment(r, k, &segs[k], &s);
        if (err < 0)
            err = fail_io(r, k, "reading", err);
        if (err == 0)
            err = settle(r, k, segs, &s, &done);
        close(r->rd.fd);
        r->rd.fd = -1;
        if (err < 0)
            return err;
    }
    return 0;
}

/* --- pass 2: delivering the entries ----------------------------------------------------- */

struct replay {
    uint64_t snapshot_index;
    uint32_t sp; /* the first overwrite not yet behind us */
    uint64_t ordinal;
    uint64_t delivered;
    uint64_t next; /* the index the next delivered entry must have (0: any) */
};

/* Delivers e (entry ordinal rp->ordinal) if it is in the final log after the snapshot. */
static int deliver(struct recover *r, struct replay *rp, const struct wal_entry *e)
{
    while (rp->sp < r->depth && r->stack[rp->sp].ordinal <= rp->ordinal)
        rp->sp++;
    rp->ordinal++;
    if (e->index <= rp->snapshot_index || (rp->sp < r->depth && e->index >= r->stack[rp->sp].index))
        return 0;
    if (rp->next != 0 && e->index != rp->next) {
        r->rec->message[0] = '\0';
        note(r, "wal: entries missing in %s: index %" PRIu64 " follows %" PRIu64 "%s", r->a->dir,
             e->index, rp->next - 1, rp->delivered == 0 ? " (the snapshot)" : "");
        return -RINGD_ECORRUPT;
    }
    if (rp->delivered == 0)
        r->rec->first_index = e->index;
    r->rec->last_index = e->index;
    rp->delivered++;
    rp->next = e->index + 1;
    int err = r->a->on_entry != NULL ? r->a->on_entry(r->a->entry_ctx, e) : 0;
    if (err < 0) {
        r->rec->message[0] = '\0';
        note(r, "wal: replay stopped at index %" PRIu64 ": %s", e->index, ringd_strerror(err));
    }
    return err;
}

/* Reads segment k again (its records up to the end pass 1 found) and delivers its entries. */
static int replay_segment(struct recover *r, uint32_t k, struct wal_segment_state *seg,
                          struct replay *rp)
{
    struct wal_segment_state again;
    int err = open_segment(r, k, &again);
    if (err < 0)
        return err;
    const uint8_t *p;
    uint32_t chain = 0;
    if (reader_get(&r->rd, 0, WAL_RECORD_HEADER_SIZE, &p) == 0)
        chain = wal_record_header_prev_crc(p);
    for (uint64_t off = 0; err == 0 && off < seg->end;) {
        struct wal_record rec;
        if (read_record(r, off, chain, seg->batch_bytes, &rec, &err) != WAL_RECORD_OK) {
            err = err < 0 ? err : -EIO; /* it was good a moment ago */
            break;
        }
        if (rec.type == WAL_RECORD_ENTRY) {
            struct wal_entry e;
            wal_record_get_entry(&rec, &e);
            err = deliver(r, rp, &e);
            if (err < 0) {
                close(r->rd.fd);
                return err;
            }
        }
        chain = rec.crc;
        off += rec.size;
    }
    close(r->rd.fd);
    return err < 0 ? fail_io(r, k, "reading again", err) : 0;
}

static int pass2(struct recover *r, struct wal_segment_state *segs)
{
    struct replay rp = {.snapshot_index = r->has_snapshot ? r->snapshot.index : 0};
    if (r->a->replay_after_set && r->a->replay_after < rp.snapshot_index)
        rp.snapshot_index = r->a->replay_after; /* an older snapshot the owner loaded */
    if (rp.snapshot_index > 0)
        rp.next = rp.snapshot_index + 1;
    for (uint32_t k = 0; k < r->n; k++) {
        if (segs[k].max_index <= rp.snapshot_index) {
            rp.ordinal += segs[k].entries;
            continue;
        }
        int err = replay_segment(r, k, &segs[k], &rp);
        if (err < 0)
            return err;
    }
    r->rec->entries = rp.delivered;
    return 0;
}

/* --- the first segment ---------------------------------------------------------------- */

static int create_first(struct recover *r, struct wal_segment_state *segs,
                        const struct wal_segment_id *id)
{
    struct wal_segment_header h = {.seq = id->seq,
                                   .first_index = id->first_index,
                                   .prev_crc = r->crc,
                                   .batch_bytes = r->a->batch_bytes};
    uint8_t head[WAL_RECORD_HEADER_SIZE];
    uint32_t crc = r->crc;
    uint32_t len = wal_record_put_header(head, sizeof(head), &crc, &h);
    int fd = wal_segment_create(r->a->dirfd, id, r->a->segment_bytes, head, len);
    if (fd < 0) {
        snprintf(r->rec->message, sizeof(r->rec->message), "wal: creating a segment in %s: %s",
                 r->a->dir, ringd_strerror(fd));
        return fd;
    }
    close(fd);
    r->ids[0] = *id;
    r->n = 1;
    r->crc = crc;
    r->rec->created = true;
    segs[0] = (struct wal_segment_state){
        .id = *id, .file_bytes = r->a->segment_bytes, .end = len, .batch_bytes = r->a->batch_bytes};
    return 0;
}

static int recover_all(struct recover *r, struct wal_segment_state *segs)
{
    int err = wal_segment_list(r->a->dirfd, r->a->dir, r->ids, WAL_SEGMENTS_MAX, &r->n,
                               r->rec->message, sizeof(r->rec->message));
    if (err < 0) {
        if (r->rec->message[0] == '\0')
            note(r, "wal: listing %s: %s", r->a->dir, ringd_strerror(err));
        return err;
    }
    struct wal_segment_id first = {.seq = 0, .first_index = 1};
    if (r->n > 0)
        first = r->ids[0];
    err = pass1(r, segs);
    if (err == 0 && r->n == 0)
        err = create_first(r, segs, &first);
    if (err == 0)
        err = pass2(r, segs);
    return err;
}

int wal_recover(const struct wal_recover_args *a, uint32_t *n, struct wal_tail *tail,
                struct wal_recovery *rec)
{
    ASSERT(a->batch_bytes >= WAL_BATCH_BYTES_MIN && a->segment_bytes >= a->batch_bytes);
    *rec = (struct wal_recovery){0};
    struct recover r = {.a = a, .rec = rec, .rd.fd = -1};
    r.ids = calloc(WAL_SEGMENTS_MAX, sizeof(r.ids[0]));
    r.stack = calloc(WAL_REPLAY_OVERWRITES_MAX, sizeof(r.stack[0]));
    int err = r.ids == NULL || r.stack == NULL ? -ENOMEM : reader_reserve(&r.rd, 0);
    if (err == 0)
        err = recover_all(&r, a->segs);
    else
        note(&r, "wal: out of memory");
    free(r.ids);
    free(r.stack);
    free(r.rd.buf);
    if (err < 0)
        return err;
    *n = r.n;
    *tail = (struct wal_tail){.crc = r.crc,
                              .last_index = r.have_entry ? r.last_index : 0,
                              .has_hard_state = r.has_hard_state,
                              .hard_state = r.hard_state,
                              .has_snapshot = r.has_snapshot,
                              .snapshot = r.snapshot};
    rec->has_hard_state = r.has_hard_state;
    rec->hard_state = r.hard_state;
    rec->has_snapshot = r.has_snapshot;
    rec->snapshot = r.snapshot;
    rec->segments = r.n;
    return 0;
}
