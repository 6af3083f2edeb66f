/* The member's ids in its data dir: <data-dir>/member/ids records the cluster id, the member's
 * own id and the member list its first start used (the bootstrap members, or the list it got
 * when it joined), written once at that start before the WAL holds anything, and read at every
 * later start instead of deriving the ids from --initial-cluster again. etcd keeps the same in
 * the WAL's metadata record and the v2 store; a file of its own keeps the WAL's format as it is,
 * and the main thread needs the ids (for the peer transport and the cluster view) before the
 * raft actor opens the WAL.
 *
 * The file: magic "RINGDIDS", u32 version 1, u32 flags (bit 0: the member joined), u64 cluster
 * id, u64 member id, u32 member count, per member u64 id, u32 learner (0 or 1), u32 name bytes,
 * the name, u32 URL count, per URL u32 bytes and the URL; then a CRC-32C of all of it.
 * Little-endian. It is written to ids.tmp, fsynced, renamed and the directory fsynced: a crash
 * leaves either no file or the whole one.
 *
 * Thread: the main thread at start-up (blocking file I/O). */
#ifndef RINGD_MEMBER_IDS_H
#define RINGD_MEMBER_IDS_H

#include <stddef.h>

#include "cluster_id.h"

#define MEMBER_IDS_FILE "ids"

/* Reads <member_dir>/ids into out (out->join: the member joined). Returns 1 when read, 0 when
 * there is no file (a fresh data dir), or -RINGD_ECORRUPT / a negated errno with why saying
 * what is wrong. */
int member_ids_load(const char *member_dir, struct cluster_ids *out, char *why, size_t why_bytes);

/* Records ids durably in <member_dir>/ids (the directory exists). Returns 0, or a negated errno
 * with why naming the step that failed. */
int member_ids_save(const char *member_dir, const struct cluster_ids *ids, char *why,
                    size_t why_bytes);

#endif
