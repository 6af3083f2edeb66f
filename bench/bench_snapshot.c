/* Snapshots of a store of 1,000,000 keys (and of 250,000 keys with 4 versions each): saving
 * (walk, write, fsync, rename), loading (the whole-file check, then the restore) and the restore
 * alone from memory, which is what start-up pays beyond reading the file. Keys are 16 bytes
 * ("/registry/%06x" style, ascending), values 64 bytes. The file is in the page cache when it is
 * loaded (written just before). Run: build/rel/bench/bench_snapshot (each run is a few seconds;
 * see docs/ARCHITECTURE.md). */
#include <dirent.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alarm.h"
#include "bench_harness.h"
#include "mvcc.h"
#include "mvcc_snapshot.h"
#include "ringd_assert.h"
#include "ringd_limits.h"
#include "snapshot.h"
#include "snapshot_file.h"

#define KEY_BYTES   16
#define VALUE_BYTES 64

static const uint8_t value_bytes[VALUE_BYTES] = {7};

static void key_of(uint64_t i, uint8_t key[KEY_BYTES])
{
    char text[KEY_BYTES + 1];
    snprintf(text, sizeof(text), "/registry/%06llx", (unsigned long long)(i & 0xffffff));
    memcpy(key, text, KEY_BYTES);
}

/* A store and a reader for the saving thread, aligned for the reader's epoch record. */
struct world {
    struct mvcc_store s;
    alignas(64) struct mvcc_reader r;
};

static struct world *world_new(void)
{
    struct world *w = aligned_alloc(64, (sizeof(struct world) + 63) & ~(size_t)63);
    ASSERT(w != NULL);
    memset(w, 0, sizeof(*w));
    ASSERT(mvcc_store_init(&w->s) == 0);
    mvcc_reader_register(&w->s, &w->r);
    return w;
}

static void world_free(struct world *w)
{
    mvcc_store_destroy(&w->s);
    free(w);
}

/* keys keys, each put versions times (one transaction per round over every key). */
static void fill(struct mvcc_store *s, uint64_t keys, uint64_t versions)
{
    uint8_t key[KEY_BYTES];
    for (uint64_t v = 0; v < versions; v++) {
        struct mvcc_txn t;
        mvcc_txn_begin(s, &t);
        for (uint64_t i = 0; i < keys; i++) {
            key_of(i, key);
            ASSERT(mvcc_txn_put(&t, key, KEY_BYTES, value_bytes, VALUE_BYTES, 0, NULL) == 0);
        }
        mvcc_txn_end(&t);
    }
}

static char *temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    static char path[256];
    snprintf(path, sizeof(path), "%s/ringd-bench-snapshot-XXXXXX", base ? base : "/tmp");
    ASSERT(mkdtemp(path) != NULL);
    return path;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    ASSERT(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Saves w's state at index (pinned around it, as the apply actor does); returns the file's
 * size. */
static uint64_t save(const char *dir, struct world *w, uint64_t index)
{
    struct alarm_set alarms = {0};
    static struct snapshot_state s; /* large: the members table */
    char why[SNAPSHOT_MESSAGE_BYTES_MAX];
    snapshot_begin(&w->s, index, 2, &alarms, NULL, &s);
    int err = snapshot_save(dir, &w->s, &w->r, &s, 1, why, sizeof(why));
    snapshot_end(&w->s);
    if (err != 0) {
        fprintf(stderr, "%s\n", why);
        ASSERT(err == 0);
    }
    char path[600], name[SNAPSHOT_FILE_NAME_BYTES];
    snapshot_file_name(name, &(struct snapshot_file_id){.term = 2, .index = index});
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    ASSERT(stat(path, &st) == 0);
    return (uint64_t)st.st_size;
}

static void report(struct bench_state *s, uint64_t keys, uint64_t versions, uint64_t file_bytes)
{
    bench_set_items_processed(s, (int64_t)(bench_iterations(s) * keys));
    bench_set_counter(s, "versions", (double)(keys * versions), BENCH_COUNTER_PLAIN);
    bench_set_counter(s, "file_MB", (double)file_bytes / 1e6, BENCH_COUNTER_PLAIN);
    bench_set_bytes_processed(s, (int64_t)(bench_iterations(s) * file_bytes));
}

static void bm_save(struct bench_state *s)
{
    uint64_t keys = (uint64_t)bench_range(s, 0), versions = (uint64_t)bench_range(s, 1);
    char *dir = temp_dir();
    struct world *w = world_new();
    fill(&w->s, keys, versions);
    uint64_t file_bytes = 0, index = 1;
    while (bench_next_batch(s, 1) > 0)
        file_bytes = save(dir, w, index++);
    report(s, keys, versions, file_bytes);
    world_free(w);
    remove_dir(dir);
}

static void bm_load(struct bench_state *s)
{
    uint64_t keys = (uint64_t)bench_range(s, 0), versions = (uint64_t)bench_range(s, 1);
    char *dir = temp_dir();
    struct world *w = world_new();
    fill(&w->s, keys, versions);
    uint64_t file_bytes = save(dir, w, 1);
    int64_t bytes = mvcc_bytes(&w->s);
    world_free(w);
    while (bench_next_batch(s, 1) > 0) {
        bench_pause_timing(s);
        struct world *b = world_new();
        bench_resume_timing(s);
        static struct snapshot_state st; /* large: the members table */
        char why[SNAPSHOT_MESSAGE_BYTES_MAX];
        ASSERT(snapshot_load(dir, &b->s, &st, why, sizeof(why)) == 0);
        bench_pause_timing(s);
        ASSERT(st.index == 1 && mvcc_bytes(&b->s) > bytes / 2);
        world_free(b);
        bench_resume_timing(s);
    }
    report(s, keys, versions, file_bytes);
    remove_dir(dir);
}

/* The walk's output restored from memory: the store's share of a load. */
struct walked {
    uint8_t *keys; /* KEY_BYTES each */
    struct mvcc_restore_version *versions;
    uint64_t n_keys;
    uint64_t n_versions;
    uint32_t per_key;
};

static int walked_emit(void *arg, const struct mvcc_walk_key *k)
{
    struct walked *wd = arg;
    ASSERT(k->key_len == KEY_BYTES && k->versions == wd->per_key);
    memcpy(wd->keys + wd->n_keys++ * KEY_BYTES, k->key, KEY_BYTES);
    const struct mvcc_version *v = k->newest;
    for (uint32_t i = 0; i < k->versions; i++, v = mvcc_snapshot_older(v)) {
        wd->versions[wd->n_versions++] = (struct mvcc_restore_version){
            .mod_rev = v->mod_rev,
            .mod_sub = v->mod_sub,
            .create_rev = v->create_rev,
            .version = v->version,
            .value = value_bytes,
            .value_len = v->value_len,
        };
    }
    return 0;
}

static void bm_restore(struct bench_state *s)
{
    uint64_t keys = (uint64_t)bench_range(s, 0), versions = (uint64_t)bench_range(s, 1);
    struct world *w = world_new();
    fill(&w->s, keys, versions);
    struct walked wd = {.per_key = (uint32_t)versions};
    wd.keys = malloc(keys * KEY_BYTES);
    wd.versions = malloc(keys * versions * sizeof(*wd.versions));
    ASSERT(wd.keys != NULL && wd.versions != NULL);
    struct mvcc_snapshot_point p;
    mvcc_snapshot_pin(&w->s, &p);
    struct mvcc_walk walk;
    mvcc_walk_init(&walk, &w->s, &w->r, &p);
    while (mvcc_walk_step(&walk, MVCC_WALK_KEYS_PER_SECTION, walked_emit, &wd) == 1)
        ;
    mvcc_walk_destroy(&walk);
    mvcc_snapshot_unpin(&w->s);
    world_free(w);
    while (bench_next_batch(s, 1) > 0) {
        bench_pause_timing(s);
        struct world *b = world_new();
        bench_resume_timing(s);
        struct mvcc_restore r;
        ASSERT(mvcc_restore_begin(&r, &b->s, p.rev, p.compact_rev) == 0);
        for (uint64_t i = 0, v = 0; i < wd.n_keys; i++) {
            ASSERT(mvcc_restore_key(&r, wd.keys + i * KEY_BYTES, KEY_BYTES) == 0);
            for (uint32_t j = 0; j < wd.per_key; j++)
                ASSERT(mvcc_restore_version(&r, &wd.versions[v++]) == 0);
        }
        ASSERT(mvcc_restore_end(&r) == 0);
        bench_pause_timing(s);
        world_free(b);
        bench_resume_timing(s);
    }
    bench_set_items_processed(s, (int64_t)(bench_iterations(s) * keys));
    free(wd.keys);
    free(wd.versions);
}

int main(int argc, char **argv)
{
    static const int64_t sizes[] = {1000000, 1, 250000, 4};
    static const char *const names[] = {"keys", "versions"};
    const struct bench_options opt = {.args = sizes,
                                      .args_len = 4,
                                      .arg_width = 2,
                                      .arg_names = names,
                                      .use_real_time = true,
                                      .unit = BENCH_UNIT_MS,
                                      .iterations = 3};
    const struct bench_def defs[] = {
        {"snapshot/save", opt, bm_save},
        {"snapshot/load", opt, bm_load},
        {"snapshot/restore_from_memory", opt, bm_restore},
    };
    bench_register_table(defs, BENCH_LEN(defs));
    return bench_main(argc, argv);
}
