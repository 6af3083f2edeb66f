/* Snapshot files: a state machine's state at a raft index, written as a stream of typed records
 * to a directory of files named after the index, and read back at start-up. What the records
 * mean is the caller's (core/snapshot); this module only frames, checks and stores them.
 *
 * Format (integers little-endian):
 *   header   u64 magic "RINGDSNP", u32 format version, u32 zero, u64 raft index, u64 term,
 *            u32 CRC-32C of the 32 bytes before it, u32 zero                           (40 bytes)
 *   record   u32 length, u32 crc, u8 type, payload; length counts type and payload (at least 1,
 *            at most SNAPSHOT_RECORD_BYTES_MAX); crc is the CRC-32C of type and payload
 *            continued from the previous record's crc (the header's CRC for the first), so a
 *            record is valid only where it stands. Types 1..SNAPSHOT_FILE_TYPE_MAX are the
 *            caller's.
 *   trailer  a record of type SNAPSHOT_FILE_TRAILER: u64 magic "RINGDEND", u64 records before
 *            it, u64 offset of the trailer. Its crc chains over everything, so it is the file's
 *            total CRC; the file ends right after it.
 * No padding: records are read through a buffer, never mapped.
 *
 * Files: "<dir>/%016x-%016x.snap" after term and index, as etcd names its member/snap files.
 * Writing goes to the name plus ".tmp" through a buffer of SNAPSHOT_WRITE_BUFFER_BYTES (a
 * record larger than that is written straight from the caller's memory); commit appends the
 * trailer, fsyncs the file, renames it to its name and fsyncs the directory. A crash at any
 * point leaves the files as they were plus perhaps a ".snap.tmp", which opening the newest
 * removes, or the new file complete and synced.
 *
 * Reading: the newest file (by index, then term) is first checked whole (every CRC, the
 * trailer, nothing after it) before any record is handed out, so a caller never loads half of a
 * bad file. One that fails is skipped for the next older, as etcd's snapshotter does, and named
 * in the message; when none is left -RINGD_ECORRUPT says "snapshot: corrupt file <path> at
 * offset <n>: <why>" for each. The records are then read a second time for the caller (cheap
 * next to loading them; the file is in the page cache), each CRC checked again.
 *
 * Blocking calls (write, fsync, rename): for a background thread or start-up, never an
 * actor's loop. Thread: a writer or reader belongs to one thread at a time. */
#ifndef RINGD_SNAPSHOT_FILE_H
#define RINGD_SNAPSHOT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringd_limits.h"

#define SNAPSHOT_FILE_VERSION      1
#define SNAPSHOT_FILE_MAGIC        0x504e5344474e4952ull /* "RINGDSNP" read little-endian */
#define SNAPSHOT_FILE_END_MAGIC    0x444e4544474e4952ull /* "RINGDEND" */
#define SNAPSHOT_FILE_HEADER_BYTES 40
#define SNAPSHOT_FILE_RECORD_HEAD  8   /* length and crc; the type follows */
#define SNAPSHOT_FILE_TRAILER      255 /* the trailer's type, reserved */
#define SNAPSHOT_FILE_TYPE_MAX     254 /* the callers' types are 1..this */
#define SNAPSHOT_FILE_FIXED_MAX    64  /* fixed part of one append (snapshot_file_append) */
#define SNAPSHOT_FILE_NAME_BYTES   39  /* 16 + 1 + 16 + ".snap" + NUL */
#define SNAPSHOT_FILE_TMP_SUFFIX   ".tmp"
#define SNAPSHOT_FILE_PATH_BYTES   (SNAPSHOT_DIR_BYTES_MAX + SNAPSHOT_FILE_NAME_BYTES + 8)

/* A snapshot's place in the raft log; also its file name. */
struct snapshot_file_id {
    uint64_t term;
    uint64_t index;
};

/* Bytes one record with payload_bytes of payload takes in the file. */
static inline uint64_t snapshot_file_record_bytes(uint64_t payload_bytes)
{
    return SNAPSHOT_FILE_RECORD_HEAD + 1 + payload_bytes;
}

/* Writes the file's name into name (SNAPSHOT_FILE_NAME_BYTES). */
void snapshot_file_name(char *name, const struct snapshot_file_id *id);

/* Parses a file name ("%016x-%016x.snap"): 0, or -1 when it is not a snapshot's name. */
int snapshot_file_parse_name(const char *name, struct snapshot_file_id *id);

/* --- writing ---------------------------------------------------------------------------------- */

struct snapshot_file_writer {
    int dirfd;
    int fd;
    int err; /* the first error: every later call returns it */
    struct snapshot_file_id id;
    char name[SNAPSHOT_FILE_NAME_BYTES];
    char path[SNAPSHOT_FILE_PATH_BYTES]; /* the temporary file's, for messages */
    uint8_t *buf;                        /* SNAPSHOT_WRITE_BUFFER_BYTES */
    uint32_t used;
    uint64_t offset; /* bytes in the file, the buffer's included */
    uint64_t synced; /* bytes from the start known written back (writer_pace) */
    uint32_t crc;    /* the chain so far */
    uint64_t records;
    char message[SNAPSHOT_MESSAGE_BYTES_MAX]; /* what went wrong, naming the file */
};

/* Creates "<dir>/<name>.snap.tmp" (replacing a leftover of that name) and buffers the header.
 * dir must exist. Returns 0 or a negated errno with w->message set; on an error nothing is
 * left to abort. */
int snapshot_file_create(struct snapshot_file_writer *w, const char *dir,
                         const struct snapshot_file_id *id);

/* Appends one record of type (1..SNAPSHOT_FILE_TYPE_MAX) whose payload is fixed (at most
 * SNAPSHOT_FILE_FIXED_MAX bytes) followed by tail (either may be empty). Writes the buffer out
 * when the record does not fit in what is left of it. Returns 0, -EMSGSIZE for a payload over
 * SNAPSHOT_RECORD_BYTES_MAX - 1, or a negated errno from a write; w->message says which. */
int snapshot_file_append(struct snapshot_file_writer *w, uint8_t type, const void *fixed,
                         uint32_t fixed_bytes, const void *tail, uint32_t tail_bytes);

/* Bytes that can be appended before the next append writes the buffer out. */
uint32_t snapshot_file_room(const struct snapshot_file_writer *w);

/* Writes the buffer out now (so that a caller can keep writes out of places that must stay
 * short). Returns 0 or a negated errno. */
int snapshot_file_flush(struct snapshot_file_writer *w);

/* Appends the trailer, writes and fsyncs the file, renames it to its name and fsyncs the
 * directory; closes everything. Returns 0 once the snapshot is durable, or a negated errno
 * with w->message set (the temporary file is removed, unless only the directory sync failed:
 * then the complete file stays under its name and the message says its name may not be
 * durable). */
int snapshot_file_commit(struct snapshot_file_writer *w);

/* Gives up a file not committed: closes it and removes the temporary file. */
void snapshot_file_abort(struct snapshot_file_writer *w);

/* --- reading ---------------------------------------------------------------------------------- */

struct snapshot_file_record {
    uint8_t type;
    const uint8_t *payload; /* valid until the next call */
    uint32_t payload_bytes;
    uint64_t offset; /* where the record starts in the file, for messages */
};

struct snapshot_file_reader {
    int fd; /* -1: no snapshot open */
    struct snapshot_file_id id;
    char path[SNAPSHOT_FILE_PATH_BYTES];
    uint64_t file_bytes;
    uint8_t *buf;
    uint64_t cap;
    uint64_t base; /* buf holds the file's bytes [base, base + len) */
    uint64_t len;
    uint64_t pos; /* the next record */
    uint32_t crc;
    uint32_t header_crc;
    uint64_t records;
    bool ended;  /* the trailer was read */
    bool chosen; /* the open succeeded: from now on a failure is all the message says */
    /* Why the open failed, or (after a successful open, until a later failure) the newer files
     * it skipped as bad; "" when there was nothing to say. */
    char message[SNAPSHOT_MESSAGE_BYTES_MAX];
};

/* Removes leftover ".snap.tmp" files in dir and opens its newest snapshot that checks whole.
 * Returns 0 with r->fd >= 0 and r->id set; 0 with r->fd == -1 when dir holds no snapshot (or
 * does not exist); -RINGD_ECORRUPT when every snapshot in it is bad (r->message names each
 * with the offset); -RINGD_EFULL beyond SNAPSHOT_FILES_MAX files; or a negated errno (a file
 * or the directory could not be read; r->message names it). Close the reader in every case. */
int snapshot_file_open_newest(struct snapshot_file_reader *r, const char *dir);

/* The next record: 1 with *rec, 0 after the last (the trailer checked), or -RINGD_ECORRUPT
 * (the file changed since it was checked) or a negated errno, with r->message set. */
int snapshot_file_next(struct snapshot_file_reader *r, struct snapshot_file_record *rec);

/* Formats "snapshot: corrupt file <path> at offset <offset>: <why>" into r->message, for a
 * caller that finds a record's payload wrong. Returns -RINGD_ECORRUPT. */
int snapshot_file_corrupt(struct snapshot_file_reader *r, uint64_t offset, const char *why);

void snapshot_file_close(struct snapshot_file_reader *r);

/* --- pruning ---------------------------------------------------------------------------------- */

/* Removes leftover ".snap.tmp" files and the oldest snapshots (by index, then term) while more
 * than keep_max remain; keep_max 0 keeps all (etcd's --max-snapshots 0). Plain unlinks: a file
 * that comes back after a crash is still a whole snapshot. Returns 0 or a negated errno (or
 * -RINGD_EFULL beyond SNAPSHOT_FILES_MAX files) with msg naming the file. */
int snapshot_file_prune(const char *dir, uint64_t keep_max, char *msg, size_t msg_bytes);

#endif
