#include "wal_record.h"

#include <stdbool.h>
#include <string.h>

#include "crc32c.h"
#include "ringd_assert.h"
#include "ringd_bytes.h"

_Static_assert(WAL_RECORD_HEADER_SIZE == 56, "header record layout");
_Static_assert(WAL_RECORD_HARD_STATE_SIZE == 40, "hard state record layout");
_Static_assert(WAL_RECORD_SNAPSHOT_SIZE == 32, "snapshot record layout");

/* Writes the record whose type and fixed payload are in fixed (fixed_bytes) followed by tail
 * (the entry's data), pads it, chains *crc and returns its size. */
static uint32_t record_put(uint8_t *dst, uint64_t cap, uint32_t *crc, uint8_t type,
                           const uint8_t *fixed, uint32_t fixed_bytes, const uint8_t *tail,
                           uint32_t tail_bytes)
{
    uint64_t body = 1 + (uint64_t)fixed_bytes + tail_bytes;
    uint64_t size = wal_record_size(body);
    ASSERT(size <= cap && body <= UINT32_MAX);
    uint8_t *p = dst + WAL_RECORD_HEAD_BYTES;
    p[0] = type;
    memcpy(p + 1, fixed, fixed_bytes);
    if (tail_bytes > 0)
        memcpy(p + 1 + fixed_bytes, tail, tail_bytes);
    memset(p + body, 0, size - WAL_RECORD_HEAD_BYTES - body);
    uint32_t c = crc32c_update(*crc, p, body);
    le_put_u32(dst, (uint32_t)body);
    le_put_u32(dst + 4, c);
    *crc = c;
    return (uint32_t)size;
}

uint32_t wal_record_put_header(uint8_t *dst, uint64_t cap, uint32_t *crc,
                               const struct wal_segment_header *h)
{
    ASSERT(h->prev_crc == *crc);
    uint8_t f[WAL_HEADER_PAYLOAD_BYTES];
    le_put_u64(f, WAL_HEADER_MAGIC);
    le_put_u32(f + 8, WAL_FORMAT_VERSION);
    le_put_u32(f + 12, h->batch_bytes);
    le_put_u64(f + 16, h->seq);
    le_put_u64(f + 24, h->first_index);
    le_put_u32(f + 32, h->prev_crc);
    le_put_u32(f + 36, 0);
    return record_put(dst, cap, crc, WAL_RECORD_HEADER, f, sizeof(f), NULL, 0);
}

uint32_t wal_record_put_entry(uint8_t *dst, uint64_t cap, uint32_t *crc, const struct wal_entry *e)
{
    ASSERT(e->data != NULL || e->data_bytes == 0);
    uint8_t f[WAL_ENTRY_FIXED_BYTES];
    le_put_u64(f, e->term);
    le_put_u64(f + 8, e->index);
    f[16] = e->type;
    return record_put(dst, cap, crc, WAL_RECORD_ENTRY, f, sizeof(f), e->data, e->data_bytes);
}

uint32_t wal_record_put_hard_state(uint8_t *dst, uint64_t cap, uint32_t *crc,
                                   const struct wal_hard_state *hs)
{
    uint8_t f[WAL_HARD_STATE_BYTES];
    le_put_u64(f, hs->term);
    le_put_u64(f + 8, hs->vote);
    le_put_u64(f + 16, hs->commit);
    return record_put(dst, cap, crc, WAL_RECORD_HARD_STATE, f, sizeof(f), NULL, 0);
}

uint32_t wal_record_put_snapshot(uint8_t *dst, uint64_t cap, uint32_t *crc,
                                 const struct wal_snapshot *s)
{
    uint8_t f[WAL_SNAPSHOT_BYTES];
    le_put_u64(f, s->index);
    le_put_u64(f + 8, s->term);
    return record_put(dst, cap, crc, WAL_RECORD_SNAPSHOT, f, sizeof(f), NULL, 0);
}

enum wal_record_status wal_record_parse_head(const uint8_t *p, uint32_t body_max,
                                             struct wal_record *r)
{
    *r = (struct wal_record){.body_bytes = le_get_u32(p), .crc = le_get_u32(p + 4)};
    if (r->body_bytes == 0 && r->crc == 0)
        return WAL_RECORD_ZERO;
    if (r->body_bytes == 0 || r->body_bytes > body_max) {
        r->why = r->body_bytes == 0 ? "zero length with a crc" : "length too large";
        return WAL_RECORD_BAD_LENGTH;
    }
    r->size = wal_record_size(r->body_bytes);
    return WAL_RECORD_OK;
}

uint32_t wal_record_chain(const uint8_t *p, uint32_t body_bytes, uint32_t chain)
{
    return crc32c_update(chain, p + WAL_RECORD_HEAD_BYTES, body_bytes);
}

static bool record_payload_size_ok(uint8_t type, uint32_t payload_bytes)
{
    switch (type) {
    case WAL_RECORD_HEADER:
        return payload_bytes == WAL_HEADER_PAYLOAD_BYTES;
    case WAL_RECORD_ENTRY:
        return payload_bytes >= WAL_ENTRY_FIXED_BYTES;
    case WAL_RECORD_HARD_STATE:
        return payload_bytes == WAL_HARD_STATE_BYTES;
    case WAL_RECORD_SNAPSHOT:
        return payload_bytes == WAL_SNAPSHOT_BYTES;
    default:
        return false;
    }
}

static enum wal_record_status record_fail(struct wal_record *r, enum wal_record_status s,
                                          const char *why)
{
    r->why = why;
    return s;
}

enum wal_record_status wal_record_check(const uint8_t *p, uint32_t chain, struct wal_record *r)
{
    ASSERT(r->body_bytes > 0 && r->size == wal_record_size(r->body_bytes));
    if (wal_record_chain(p, r->body_bytes, chain) != r->crc)
        return record_fail(r, WAL_RECORD_BAD_CRC, "crc mismatch");
    for (uint64_t i = WAL_RECORD_HEAD_BYTES + r->body_bytes; i < r->size; i++) {
        if (p[i] != 0)
            return record_fail(r, WAL_RECORD_BAD_PADDING, "non-zero padding");
    }
    r->type = p[WAL_RECORD_HEAD_BYTES];
    r->payload = p + WAL_RECORD_HEAD_BYTES + 1;
    r->payload_bytes = r->body_bytes - 1;
    if (!record_payload_size_ok(r->type, r->payload_bytes))
        return record_fail(r, WAL_RECORD_BAD_FORMAT, "unknown record type or payload size");
    if (r->type == WAL_RECORD_HEADER) {
        if (le_get_u64(r->payload) != WAL_HEADER_MAGIC)
            return record_fail(r, WAL_RECORD_BAD_FORMAT, "not a ringd WAL segment (bad magic)");
        if (le_get_u32(r->payload + 8) != WAL_FORMAT_VERSION)
            return record_fail(r, WAL_RECORD_BAD_FORMAT, "unsupported WAL format version");
    }
    return WAL_RECORD_OK;
}

uint32_t wal_record_header_prev_crc(const uint8_t *p)
{
    return le_get_u32(p + WAL_RECORD_HEAD_BYTES + 1 + 32);
}

void wal_record_get_header(const struct wal_record *r, struct wal_segment_header *h)
{
    ASSERT(r->type == WAL_RECORD_HEADER && r->payload_bytes == WAL_HEADER_PAYLOAD_BYTES);
    h->batch_bytes = le_get_u32(r->payload + 12);
    h->seq = le_get_u64(r->payload + 16);
    h->first_index = le_get_u64(r->payload + 24);
    h->prev_crc = le_get_u32(r->payload + 32);
}

void wal_record_get_entry(const struct wal_record *r, struct wal_entry *e)
{
    ASSERT(r->type == WAL_RECORD_ENTRY && r->payload_bytes >= WAL_ENTRY_FIXED_BYTES);
    e->term = le_get_u64(r->payload);
    e->index = le_get_u64(r->payload + 8);
    e->type = r->payload[16];
    e->data = r->payload + WAL_ENTRY_FIXED_BYTES;
    e->data_bytes = r->payload_bytes - WAL_ENTRY_FIXED_BYTES;
}

void wal_record_get_hard_state(const struct wal_record *r, struct wal_hard_state *hs)
{
    ASSERT(r->type == WAL_RECORD_HARD_STATE && r->payload_bytes == WAL_HARD_STATE_BYTES);
    hs->term = le_get_u64(r->payload);
    hs->vote = le_get_u64(r->payload + 8);
    hs->commit = le_get_u64(r->payload + 16);
}

void wal_record_get_snapshot(const struct wal_record *r, struct wal_snapshot *s)
{
    ASSERT(r->type == WAL_RECORD_SNAPSHOT && r->payload_bytes == WAL_SNAPSHOT_BYTES);
    s->index = le_get_u64(r->payload);
    s->term = le_get_u64(r->payload + 8);
}

const char *wal_record_status_text(enum wal_record_status s)
{
    switch (s) {
    case WAL_RECORD_OK:
        return "ok";
    case WAL_RECORD_ZERO:
        return "no record (zeros)";
    case WAL_RECORD_BAD_LENGTH:
        return "bad length";
    case WAL_RECORD_CUT:
        return "record cut short by the end of the file";
    case WAL_RECORD_BAD_CRC:
        return "crc mismatch";
    case WAL_RECORD_BAD_PADDING:
        return "non-zero padding";
    case WAL_RECORD_BAD_FORMAT:
        return "bad record format";
    }
    return "unknown";
}
