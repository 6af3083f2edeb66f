/* The segment files of a WAL directory: their names, listing them in order, creating the first
 * one, and zeroing a range of one. Synchronous calls, for opening and recovery; the appending
 * path's file operations go through io_uring in wal.c.
 *
 * A segment is named "%016llx-%016llx.wal" after its sequence number and the raft index its
 * first entry was to have, so that `ls` shows the order and where each starts. A segment is
 * prepared under WAL_SPARE_NAME (created, preallocated, synced with its directory) and renamed
 * to its name when it goes into use, as etcd does; a spare left by a crash is removed at open.
 *
 * Thread: any; no state. */
#ifndef RINGD_WAL_SEGMENT_H
#define RINGD_WAL_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#define WAL_SEGMENT_NAME_BYTES 38 /* 16 + 1 + 16 + ".wal" + NUL */
#define WAL_SPARE_NAME         "spare.wal.tmp"

struct wal_segment_id {
    uint64_t seq;
    uint64_t first_index;
};

/* Writes the segment's file name into name (WAL_SEGMENT_NAME_BYTES). */
void wal_segment_name(char *name, const struct wal_segment_id *id);

/* Parses a file name; 0, or -1 when it is not a segment's name. */
int wal_segment_parse_name(const char *name, struct wal_segment_id *id);

/* Lists the segments in dirfd by sequence into ids (up to max) and removes a leftover spare.
 * Returns 0, -RINGD_EFULL (more than max: msg says so), -RINGD_ECORRUPT when the sequence has a
 * gap or first indexes go back (msg names the files), or a negated errno. Other files are left
 * alone. dir is the directory's path, for messages only. */
int wal_segment_list(int dirfd, const char *dir, struct wal_segment_id *ids, uint32_t max,
                     uint32_t *n, char *msg, size_t msg_bytes);

/* Creates a segment the synchronous way: the spare file is created, preallocated to bytes,
 * given its first bytes (head, the header record), synced, renamed to the segment's name, and
 * the directory synced. Returns its file descriptor (O_RDWR) or a negated errno; on failure no
 * file of that name exists. */
int wal_segment_create(int dirfd, const struct wal_segment_id *id, uint64_t bytes,
                       const uint8_t *head, uint32_t head_bytes);

/* Zeroes [off, off + len) of fd (deallocating to preallocated-zero where the filesystem can,
 * writing zeros where it cannot) and syncs the file's data. 0 or a negated errno. */
int wal_segment_zero(int fd, uint64_t off, uint64_t len);

/* fsync of a directory: entries created, renamed or removed in it become durable. */
int wal_dir_sync(int dirfd);

#endif
