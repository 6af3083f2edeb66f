#include "snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvcc_snapshot.h"
#include "ringd_assert.h"
#include "ringd_bytes.h"
#include "ringd_error.h"
#include "ringd_limits.h"
#include "snapshot_file.h"

_Static_assert(SNAPSHOT_VERSION_FIXED_BYTES <= SNAPSHOT_FILE_FIXED_MAX, "fixed part of a record");
_Static_assert(SNAPSHOT_REC_AUTH <= SNAPSHOT_FILE_TYPE_MAX, "record types the file allows");

/* --- the writer's side ------------------------------------------------------------------------ */

void snapshot_begin(struct mvcc_store *store, uint64_t index, uint64_t term,
                    const struct alarm_set *alarms, const struct members *members,
                    struct snapshot_state *s)
{
    ASSERT(index > 0);
    struct mvcc_snapshot_point p;
    mvcc_snapshot_pin(store, &p);
    s->index = index;
    s->term = term;
    s->revision = p.rev;
    s->compact_rev = p.compact_rev;
    s->alarms = *alarms;
    if (members != NULL)
        s->members = *members;
    else
        s->members.count = 0;
}

void snapshot_end(struct mvcc_store *store)
{
    mvcc_snapshot_unpin(store);
}

/* --- saving ----------------------------------------------------------------------------------- */

struct save {
    struct snapshot_file_writer file;
    struct mvcc_walk walk;
    uint32_t taken; /* keys taken in the current read section */
    bool stopped;   /* the section ended because the buffer was full */
};

static int save_version(struct save *sv, const struct mvcc_version *v)
{
    uint8_t f[SNAPSHOT_VERSION_FIXED_BYTES];
    le_put_u64(f, (uint64_t)v->mod_rev);
    le_put_u32(f + 8, v->mod_sub);
    f[12] = v->tombstone ? SNAPSHOT_VERSION_TOMBSTONE : 0;
    le_put_u64(f + 13, (uint64_t)v->create_rev);
    le_put_u64(f + 21, (uint64_t)v->version);
    le_put_u64(f + 29, (uint64_t)v->lease);
    return snapshot_file_append(&sv->file, SNAPSHOT_REC_VERSION, f, sizeof(f), v->value,
                                v->value_len);
}

/* The walk's callback, inside a read section. A key whose records do not fit in what is left
 * of the buffer waits for the next section, so writes happen between sections, not in them
 * (except for a key larger than the buffer, which must be written where it is read). */
static int save_key(void *arg, const struct mvcc_walk_key *k)
{
    struct save *sv = arg;
    uint64_t need = snapshot_file_record_bytes(SNAPSHOT_KEY_FIXED_BYTES + (uint64_t)k->key_len) +
                    k->versions * snapshot_file_record_bytes(SNAPSHOT_VERSION_FIXED_BYTES) +
                    k->value_bytes;
    if (sv->taken > 0 && need > snapshot_file_room(&sv->file)) {
        sv->stopped = true;
        return MVCC_WALK_STOP;
    }
    uint8_t f[SNAPSHOT_KEY_FIXED_BYTES];
    le_put_u32(f, k->versions);
    int err = snapshot_file_append(&sv->file, SNAPSHOT_REC_KEY, f, sizeof(f), k->key, k->key_len);
    const struct mvcc_version *v = k->newest;
    for (uint32_t i = 0; err == 0 && i < k->versions; i++) {
        ASSERT(v != NULL); /* the run walk_key counted is stable in the section */
        err = save_version(sv, v);
        v = mvcc_snapshot_older(v);
    }
    sv->taken++;
    return err;
}

static int save_head(struct save *sv, const struct snapshot_state *s)
{
    uint8_t f[SNAPSHOT_STORE_BYTES];
    le_put_u64(f, (uint64_t)s->revision);
    le_put_u64(f + 8, (uint64_t)s->compact_rev);
    int err = snapshot_file_append(&sv->file, SNAPSHOT_REC_STORE, f, sizeof(f), NULL, 0);
    for (uint32_t i = 0; err == 0 && i < s->alarms.count; i++) {
        uint8_t a[SNAPSHOT_ALARM_BYTES];
        le_put_u64(a, s->alarms.items[i].member_id);
        le_put_u32(a + 8, (uint32_t)s->alarms.items[i].type);
        err = snapshot_file_append(&sv->file, SNAPSHOT_REC_ALARM, a, sizeof(a), NULL, 0);
    }
    for (uint32_t i = 0; err == 0 && i < s->members.count; i++) {
        static _Thread_local uint8_t m[MEMBERS_PACKED_BYTES_MAX];
        uint32_t n = members_pack_member(&s->members.items[i], m, sizeof m);
        ASSERT(n > 0); /* the bound covers every member the table holds */
        err = snapshot_file_append(&sv->file, SNAPSHOT_REC_MEMBER, NULL, 0, m, n);
    }
    return err;
}

static int save_walk(struct save *sv)
{
    int more = 1;
    while (more == 1) {
        /* Write out before the section rather than in it. */
        if (sv->stopped || snapshot_file_room(&sv->file) < SNAPSHOT_WRITE_BUFFER_BYTES / 2) {
            int err = snapshot_file_flush(&sv->file);
            if (err < 0)
                return err;
        }
        sv->taken = 0;
        sv->stopped = false;
        more = mvcc_walk_step(&sv->walk, MVCC_WALK_KEYS_PER_SECTION, save_key, sv);
    }
    return more;
}

int snapshot_save(const char *dir, struct mvcc_store *store, struct mvcc_reader *reader,
                  const struct snapshot_state *s, uint64_t max_snapshots, char *why,
                  size_t why_bytes)
{
    ASSERT(why_bytes > 0);
    ASSERT(s->index > 0 && s->compact_rev <= s->revision);
    why[0] = '\0';
    struct save *sv = malloc(sizeof(*sv));
    if (sv == NULL) {
        snprintf(why, why_bytes, "snapshot: out of memory");
        return -ENOMEM;
    }
    struct snapshot_file_id id = {.term = s->term, .index = s->index};
    int err = snapshot_file_create(&sv->file, dir, &id);
    if (err < 0) {
        snprintf(why, why_bytes, "%s", sv->file.message);
        free(sv);
        return err;
    }
    struct mvcc_snapshot_point p = {.rev = s->revision, .compact_rev = s->compact_rev};
    mvcc_walk_init(&sv->walk, store, reader, &p);
    sv->stopped = false;
    err = save_head(sv, s);
    if (err == 0)
        err = save_walk(sv);
    mvcc_walk_destroy(&sv->walk);
    if (err == 0) {
        err = snapshot_file_commit(&sv->file);
    } else {
        if (sv->file.err == 0) /* the walk's own error (memory), not the file's */
            snprintf(sv->file.message, sizeof(sv->file.message), "snapshot: walking the store: %s",
                     ringd_strerror(err));
        snapshot_file_abort(&sv->file);
    }
    if (err < 0)
        snprintf(why, why_bytes, "%s", sv->file.message);
    else if (snapshot_file_prune(dir, max_snapshots, sv->file.message, sizeof(sv->file.message)) <
             0)
        snprintf(why, why_bytes, "snapshot: saved at index %" PRIu64 ", but pruning failed: %s",
                 s->index, sv->file.message);
    free(sv);
    return err;
}

/* --- loading ---------------------------------------------------------------------------------- */

struct load {
    struct snapshot_file_reader file;
    struct mvcc_restore restore;
    struct snapshot_state *s;
    bool have_store;
    uint32_t versions_due; /* of the current key */
};

/* What the restore said about a record, in the file's terms. */
static int load_restore_error(struct load *ld, const struct snapshot_file_record *rec, int err)
{
    if (err == -RINGD_ECORRUPT)
        return snapshot_file_corrupt(&ld->file, rec->offset, ld->restore.why);
    if (err < 0)
        snprintf(ld->file.message, sizeof(ld->file.message), "snapshot: loading %s: %s",
                 ld->file.path, ringd_strerror(err));
    return err;
}

static int load_store(struct load *ld, const struct snapshot_file_record *rec)
{
    if (ld->have_store || rec->payload_bytes != SNAPSHOT_STORE_BYTES)
        return snapshot_file_corrupt(&ld->file, rec->offset, "a second or malformed store record");
    ld->have_store = true;
    ld->s->revision = (int64_t)le_get_u64(rec->payload);
    ld->s->compact_rev = (int64_t)le_get_u64(rec->payload + 8);
    struct mvcc_store *store = ld->restore.store;
    int err = mvcc_restore_begin(&ld->restore, store, ld->s->revision, ld->s->compact_rev);
    return err == 0 ? 0 : snapshot_file_corrupt(&ld->file, rec->offset, ld->restore.why);
}

static int load_alarm(struct load *ld, const struct snapshot_file_record *rec)
{
    if (rec->payload_bytes != SNAPSHOT_ALARM_BYTES)
        return snapshot_file_corrupt(&ld->file, rec->offset, "a malformed alarm record");
    uint64_t member = le_get_u64(rec->payload);
    int32_t type = (int32_t)le_get_u32(rec->payload + 8);
    if (alarm_activate(&ld->s->alarms, member, type) == NULL)
        return snapshot_file_corrupt(&ld->file, rec->offset, "more alarms than a server keeps");
    return 0;
}

static int load_member(struct load *ld, const struct snapshot_file_record *rec)
{
    int err = members_load_member(&ld->s->members, rec->payload, rec->payload_bytes);
    if (err == -EEXIST)
        return snapshot_file_corrupt(&ld->file, rec->offset, "a member twice");
    if (err < 0)
        return snapshot_file_corrupt(&ld->file, rec->offset, "a malformed member record");
    return 0;
}

static int load_key(struct load *ld, const struct snapshot_file_record *rec)
{
    if (rec->payload_bytes < SNAPSHOT_KEY_FIXED_BYTES)
        return snapshot_file_corrupt(&ld->file, rec->offset, "a malformed key record");
    if (ld->versions_due > 0)
        return snapshot_file_corrupt(&ld->file, rec->offset, "a key before the versions due");
    ld->versions_due = le_get_u32(rec->payload);
    if (ld->versions_due == 0)
        return snapshot_file_corrupt(&ld->file, rec->offset, "a key without versions");
    int err = mvcc_restore_key(&ld->restore, rec->payload + SNAPSHOT_KEY_FIXED_BYTES,
                               rec->payload_bytes - SNAPSHOT_KEY_FIXED_BYTES);
    return load_restore_error(ld, rec, err);
}

static int load_version(struct load *ld, const struct snapshot_file_record *rec)
{
    const uint8_t *p = rec->payload;
    if (rec->payload_bytes < SNAPSHOT_VERSION_FIXED_BYTES || p[12] > SNAPSHOT_VERSION_TOMBSTONE)
        return snapshot_file_corrupt(&ld->file, rec->offset, "a malformed version record");
    if (ld->versions_due == 0)
        return snapshot_file_corrupt(&ld->file, rec->offset, "a version no key announced");
    ld->versions_due--;
    struct mvcc_restore_version v = {
        .mod_rev = (int64_t)le_get_u64(p),
        .mod_sub = le_get_u32(p + 8),
        .tombstone = p[12] == SNAPSHOT_VERSION_TOMBSTONE,
        .create_rev = (int64_t)le_get_u64(p + 13),
        .version = (int64_t)le_get_u64(p + 21),
        .lease = (int64_t)le_get_u64(p + 29),
        .value = p + SNAPSHOT_VERSION_FIXED_BYTES,
        .value_len = rec->payload_bytes - SNAPSHOT_VERSION_FIXED_BYTES,
    };
    int err = mvcc_restore_version(&ld->restore, &v);
    return load_restore_error(ld, rec, err);
}

static int load_record(struct load *ld, const struct snapshot_file_record *rec)
{
    if (rec->type == SNAPSHOT_REC_STORE)
        return load_store(ld, rec);
    if (!ld->have_store)
        return snapshot_file_corrupt(&ld->file, rec->offset, "the store record is not first");
    switch (rec->type) {
    case SNAPSHOT_REC_ALARM:
        return load_alarm(ld, rec);
    case SNAPSHOT_REC_MEMBER:
        return load_member(ld, rec);
    case SNAPSHOT_REC_KEY:
        return load_key(ld, rec);
    case SNAPSHOT_REC_VERSION:
        return load_version(ld, rec);
    default: {
        char why[64];
        snprintf(why, sizeof(why), "record type %u unknown to this build", rec->type);
        return snapshot_file_corrupt(&ld->file, rec->offset, why);
    }
    }
}

/* Every record into the store and s; the file is open at its first record. */
static int load_records(struct load *ld)
{
    struct snapshot_file_record rec;
    int more;
    while ((more = snapshot_file_next(&ld->file, &rec)) == 1) {
        int err = load_record(ld, &rec);
        if (err < 0)
            return err;
    }
    if (more < 0)
        return more;
    uint64_t end = ld->file.file_bytes;
    if (!ld->have_store)
        return snapshot_file_corrupt(&ld->file, end, "no store record");
    if (ld->versions_due > 0)
        return snapshot_file_corrupt(&ld->file, end, "the last key's versions are missing");
    int err = mvcc_restore_end(&ld->restore);
    return err == -RINGD_ECORRUPT ? snapshot_file_corrupt(&ld->file, end, ld->restore.why) : err;
}

int snapshot_load(const char *dir, struct mvcc_store *store, struct snapshot_state *s, char *why,
                  size_t why_bytes)
{
    ASSERT(why_bytes > 0);
    ASSERT(mvcc_current_rev(store) == 1 && mvcc_compact_rev(store) == -1 && mvcc_bytes(store) == 0);
    why[0] = '\0';
    memset(s, 0, sizeof(*s));
    s->revision = mvcc_current_rev(store);
    s->compact_rev = mvcc_compact_rev(store);
    struct load *ld = malloc(sizeof(*ld));
    if (ld == NULL) {
        snprintf(why, why_bytes, "snapshot: out of memory");
        return -ENOMEM;
    }
    memset(&ld->restore, 0, sizeof(ld->restore));
    ld->restore.store = store;
    ld->s = s;
    ld->have_store = false;
    ld->versions_due = 0;
    int err = snapshot_file_open_newest(&ld->file, dir);
    char *skipped = NULL;
    if (err == 0 && ld->file.fd >= 0) {
        s->index = ld->file.id.index;
        s->term = ld->file.id.term;
        skipped = ld->file.message[0] != '\0' ? strdup(ld->file.message) : NULL;
        err = load_records(ld);
    }
    if (err < 0)
        snprintf(why, why_bytes, "%s", ld->file.message);
    else if (skipped != NULL)
        snprintf(why, why_bytes,
                 "snapshot: loaded index %" PRIu64 " after skipping bad newer "
                 "files: %s",
                 s->index, skipped);
    free(skipped);
    snapshot_file_close(&ld->file);
    free(ld);
    return err;
}

int snapshot_prune(const char *dir, uint64_t max_snapshots, char *why, size_t why_bytes)
{
    return snapshot_file_prune(dir, max_snapshots, why, why_bytes);
}
