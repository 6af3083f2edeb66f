/* The WAL's on-disk record format: encoding and checking one record, nothing about files.
 *
 * A record is [u32 length][u32 crc32c][u8 type][payload], little-endian, padded with zeros to a
 * multiple of 8 bytes. length counts type and payload (never 0: four zero bytes mean "no record
 * here", the preallocated rest of a segment). The CRC is chained: a record's CRC is the CRC-32C
 * of its type and payload continued from the previous record's CRC (crc32c_update), so a
 * record is only valid where it stands; a segment's header record carries the CRC the previous
 * segment ended with and continues the chain from it. Padding is not covered by the CRC and
 * must be zero.
 *
 * Payloads (all integers little-endian):
 *   HEADER      u64 magic "RINGDWAL", u32 format version, u32 batch_bytes (the largest single
 *               write this segment receives: the most a torn write can leave), u64 sequence,
 *               u64 first index (the raft index the segment's first entry was to have),
 *               u32 previous CRC, u32 zero
 *   ENTRY       u64 term, u64 index, u8 entry type, then the entry's data
 *   HARD_STATE  u64 term, u64 vote, u64 commit
 *   SNAPSHOT    u64 index, u64 term of a snapshot taken: replay starts after it
 *
 * Thread: any; no state. */
#ifndef RINGD_WAL_RECORD_H
#define RINGD_WAL_RECORD_H

#include <stdint.h>

enum wal_record_type {
    WAL_RECORD_HEADER = 1,
    WAL_RECORD_ENTRY = 2,
    WAL_RECORD_HARD_STATE = 3,
    WAL_RECORD_SNAPSHOT = 4,
};

#define WAL_RECORD_HEAD_BYTES    8 /* length and CRC */
#define WAL_RECORD_ALIGN_BYTES   8
#define WAL_FORMAT_VERSION       1
#define WAL_HEADER_MAGIC         0x4c415744474e4952ull /* "RINGDWAL" read little-endian */
#define WAL_HEADER_PAYLOAD_BYTES 40
#define WAL_ENTRY_FIXED_BYTES    17 /* term, index, entry type; the data follows */
#define WAL_HARD_STATE_BYTES     24
#define WAL_SNAPSHOT_BYTES       16

/* A raft log entry as the WAL stores it; data is borrowed, never copied by this module. */
struct wal_entry {
    uint64_t term;
    uint64_t index;
    uint8_t type; /* the raft entry type, opaque here */
    const uint8_t *data;
    uint32_t data_bytes;
};

struct wal_hard_state {
    uint64_t term;
    uint64_t vote;
    uint64_t commit;
};

/* A snapshot the owner has taken (or installed): entries up to index are in it. */
struct wal_snapshot {
    uint64_t index;
    uint64_t term;
};

struct wal_segment_header {
    uint64_t seq;
    uint64_t first_index;
    uint32_t prev_crc;
    uint32_t batch_bytes;
};

/* Bytes a record of body_bytes (type and payload) takes on disk, padding included. */
static inline uint64_t wal_record_size(uint64_t body_bytes)
{
    return (WAL_RECORD_HEAD_BYTES + body_bytes + WAL_RECORD_ALIGN_BYTES - 1) &
           ~(uint64_t)(WAL_RECORD_ALIGN_BYTES - 1);
}

static inline uint64_t wal_record_entry_size(uint32_t data_bytes)
{
    return wal_record_size(1 + WAL_ENTRY_FIXED_BYTES + (uint64_t)data_bytes);
}

#define WAL_RECORD_HEADER_SIZE     ((WAL_RECORD_HEAD_BYTES + 1 + WAL_HEADER_PAYLOAD_BYTES + 7) / 8 * 8)
#define WAL_RECORD_HARD_STATE_SIZE ((WAL_RECORD_HEAD_BYTES + 1 + WAL_HARD_STATE_BYTES + 7) / 8 * 8)
#define WAL_RECORD_SNAPSHOT_SIZE   ((WAL_RECORD_HEAD_BYTES + 1 + WAL_SNAPSHOT_BYTES + 7) / 8 * 8)

/* Encoders: each writes one whole record at dst, which must have room for it (the size above;
 * asserted against cap), chains *crc through it, and returns the bytes written. */
uint32_t wal_record_put_header(uint8_t *dst, uint64_t cap, uint32_t *crc,
                               const struct wal_segment_header *h);
uint32_t wal_record_put_entry(uint8_t *dst, uint64_t cap, uint32_t *crc, const struct wal_entry *e);
uint32_t wal_record_put_hard_state(uint8_t *dst, uint64_t cap, uint32_t *crc,
                                   const struct wal_hard_state *hs);
uint32_t wal_record_put_snapshot(uint8_t *dst, uint64_t cap, uint32_t *crc,
                                 const struct wal_snapshot *s);

/* What the bytes where a record should be were found to hold. Everything but OK is bad data,
 * never a bug: recovery decides what it means by where it is (wal_recover.c). */
enum wal_record_status {
    WAL_RECORD_OK = 0,
    WAL_RECORD_ZERO,       /* length 0 and CRC 0: no record here */
    WAL_RECORD_BAD_LENGTH, /* length 0 with a CRC, or more than the segment allows */
    WAL_RECORD_CUT,        /* the length runs past the end of the file */
    WAL_RECORD_BAD_CRC,    /* the chained CRC does not match */
    WAL_RECORD_BAD_PADDING,
    WAL_RECORD_BAD_FORMAT, /* CRC good but an unknown type, a wrong payload size, bad magic */
};

/* One record found in a buffer; payload points into it. */
struct wal_record {
    uint32_t body_bytes; /* the length field: type and payload */
    uint32_t crc;        /* the CRC field */
    uint64_t size;       /* bytes on disk, padding included */
    uint8_t type;
    const uint8_t *payload;
    uint32_t payload_bytes;
    const char *why; /* what was wrong, for messages, when a check failed */
};

/* Reads the 8-byte head at p: OK with body_bytes, crc and size set; ZERO; or BAD_LENGTH when
 * the length is 0 with a non-zero CRC or above body_max. */
enum wal_record_status wal_record_parse_head(const uint8_t *p, uint32_t body_max,
                                             struct wal_record *r);

/* With the whole record (r->size bytes) at p, after wal_record_parse_head returned OK: checks
 * the chained CRC against chain, the padding, the type and its payload size (and a header's
 * magic and version), and sets type and payload. */
enum wal_record_status wal_record_check(const uint8_t *p, uint32_t chain, struct wal_record *r);

/* The CRC the record's type and payload give when chained on chain (what its CRC field should
 * hold). */
uint32_t wal_record_chain(const uint8_t *p, uint32_t body_bytes, uint32_t chain);

/* The previous-CRC field of the header record at p, whose head said it has a header's length:
 * read before the record is checked, because the header's own CRC is chained from it. */
uint32_t wal_record_header_prev_crc(const uint8_t *p);

/* Payload views of a record wal_record_check accepted; each asserts the record's type. */
void wal_record_get_header(const struct wal_record *r, struct wal_segment_header *h);
void wal_record_get_entry(const struct wal_record *r, struct wal_entry *e);
void wal_record_get_hard_state(const struct wal_record *r, struct wal_hard_state *hs);
void wal_record_get_snapshot(const struct wal_record *r, struct wal_snapshot *s);

/* A few words for a status ("crc mismatch"), never NULL. */
const char *wal_record_status_text(enum wal_record_status s);

#endif
