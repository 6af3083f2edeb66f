/* Restart recovery with real processes (issue 6): a ringd taking snapshots every few entries
 * (--snapshot-count 40, --max-snapshots 2) gets puts over a small key space, deletes, a txn and
 * a physical compaction, is killed with SIGKILL, and must come back with exactly the state it
 * acknowledged: every key with its revisions, reads at a past revision above the compacted one,
 * the compacted revision itself, the revision. Twice: the second start recovers from a snapshot
 * taken by the first restart plus its WAL. Snapshot files beyond --max-snapshots are removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "grpc_client.h"
#include "test_support.h"

#define DEADLINE_MS 20000
#define KEYS        60

static char base_dir[280];
static char data_dir[300];
static struct grpc_client *client;
static struct grpc_client_conn *conn;

static uint16_t start_only(struct test_proc *p)
{
    uint16_t port = test_free_port();
    char urls[64], peer[64];
    snprintf(urls, sizeof urls, "http://127.0.0.1:%u", port);
    char *argv[] = {(char *)test_ringd_bin(),
                    "--data-dir",
                    data_dir,
                    "--snapshot-count",
                    "40",
                    "--max-snapshots",
                    "2",
                    "--listen-client-urls",
                    urls,
                    "--advertise-client-urls",
                    urls,
                    "--listen-peer-urls",
                    test_peer_url(peer, sizeof peer),
                    NULL};
    assert_int_equal(test_proc_start(p, argv), 0);
    return port;
}

static void start(struct test_proc *p)
{
    uint16_t port = start_only(p);
    assert_true(test_proc_wait_output(p, "ready to serve client requests", DEADLINE_MS));
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%u", port);
    assert_int_equal(grpc_client_connect(client, endpoint, &conn), 0);
}

static void kill_hard(struct test_proc *p)
{
    assert_int_equal(test_proc_signal_exit(p, SIGKILL, DEADLINE_MS), 128 + SIGKILL);
}

static void call_ok(const char *path, const ProtobufCMessage *m,
                    const ProtobufCMessageDescriptor *response, struct grpc_client_reply *reply)
{
    struct grpc_client_request req = {.path = path, .message = m, .response = response};
    assert_int_equal(grpc_client_unary_sync(conn, &req, DEADLINE_MS, reply), 0);
    if (reply->status != GRPC_STATUS_OK)
        fail_msg("%s: status %d %s", path, reply->status, reply->message);
}

static void put(uint32_t key, uint32_t value)
{
    /* Values of 1 KiB: ringd snapshots once the log since the last one holds half the
     * store's bytes as well (apply.c), which small values reach only after many entries. */
    char k[16], v[1024];
    snprintf(k, sizeof k, "k%03u", key);
    memset(v, 'v', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    snprintf(v, 32, "value-%u-", value);
    v[strlen(v)] = 'v';
    Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
    r.key = (ProtobufCBinaryData){strlen(k), (uint8_t *)k};
    r.value = (ProtobufCBinaryData){strlen(v), (uint8_t *)v};
    struct grpc_client_reply reply;
    call_ok("/etcdserverpb.KV/Put", &r.base, NULL, &reply);
    grpc_client_reply_free(&reply);
}

static void delete_key(uint32_t key)
{
    char k[16];
    snprintf(k, sizeof k, "k%03u", key);
    Etcdserverpb__DeleteRangeRequest r = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    r.key = (ProtobufCBinaryData){strlen(k), (uint8_t *)k};
    struct grpc_client_reply reply;
    call_ok("/etcdserverpb.KV/DeleteRange", &r.base, NULL, &reply);
    grpc_client_reply_free(&reply);
}

static void compact(int64_t rev)
{
    Etcdserverpb__CompactionRequest r = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
    r.revision = rev;
    r.physical = true;
    struct grpc_client_reply reply;
    call_ok("/etcdserverpb.KV/Compact", &r.base, NULL, &reply);
    grpc_client_reply_free(&reply);
}

/* Every key at revision rev (0: current), packed: two states compare as bytes. The header's
 * revision is in it too. */
static size_t range_all(int64_t rev, uint8_t *out, size_t cap, int64_t *header_rev)
{
    Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
    r.key = (ProtobufCBinaryData){1, (uint8_t *)"\0"};
    r.range_end = (ProtobufCBinaryData){1, (uint8_t *)"\0"};
    r.revision = rev;
    struct grpc_client_reply reply;
    call_ok("/etcdserverpb.KV/Range", &r.base, &etcdserverpb__range_response__descriptor, &reply);
    Etcdserverpb__RangeResponse *resp = (void *)reply.response;
    *header_rev = resp->header->revision;
    resp->header->raft_term = 0; /* a restart raises the term */
    size_t len = protobuf_c_message_get_packed_size(&resp->base);
    assert_true(len <= cap);
    protobuf_c_message_pack(&resp->base, out);
    grpc_client_reply_free(&reply);
    return len;
}

static int64_t range_error(int64_t rev, char *message, size_t len)
{
    Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
    r.key = (ProtobufCBinaryData){1, (uint8_t *)"k"};
    r.revision = rev;
    struct grpc_client_request req = {.path = "/etcdserverpb.KV/Range", .message = &r.base};
    struct grpc_client_reply reply;
    assert_int_equal(grpc_client_unary_sync(conn, &req, DEADLINE_MS, &reply), 0);
    snprintf(message, len, "%s", reply.message);
    grpc_client_reply_free(&reply);
    return reply.status;
}

static uint32_t count_snapshots(void)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/member/snap", data_dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    uint32_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > 5 && strcmp(e->d_name + len - 5, ".snap") == 0;
    }
    closedir(d);
    return n;
}

struct state {
    uint8_t now[1 << 18];
    size_t now_len;
    int64_t rev;
    uint8_t past[1 << 18];
    size_t past_len;
    int64_t past_rev;
};

static void capture(struct state *s, int64_t past_rev)
{
    s->now_len = range_all(0, s->now, sizeof s->now, &s->rev);
    int64_t rev;
    s->past_rev = past_rev;
    s->past_len = range_all(past_rev, s->past, sizeof s->past, &rev);
}

static void expect_same(const struct state *want)
{
    static struct state got;
    capture(&got, want->past_rev);
    assert_int_equal(got.rev, want->rev);
    assert_int_equal(got.now_len, want->now_len);
    assert_memory_equal(got.now, want->now, want->now_len);
    assert_int_equal(got.past_len, want->past_len);
    assert_memory_equal(got.past, want->past, want->past_len);
}

/* Writes of one round: puts over the key space (overwrites), deletes, and one txn. */
static void write_round(uint32_t round)
{
    for (uint32_t i = 0; i < 150; i++)
        put((i * 7 + round) % KEYS, round * 1000 + i);
    for (uint32_t i = 0; i < KEYS; i += 9)
        delete_key(i);
    Etcdserverpb__RequestOp op_put = ETCDSERVERPB__REQUEST_OP__INIT;
    Etcdserverpb__PutRequest p = ETCDSERVERPB__PUT_REQUEST__INIT;
    p.key = (ProtobufCBinaryData){4, (uint8_t *)"txn1"};
    p.value = (ProtobufCBinaryData){1, (uint8_t *)"x"};
    op_put.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    op_put.request_put = &p;
    Etcdserverpb__RequestOp *ops[] = {&op_put};
    Etcdserverpb__TxnRequest t = ETCDSERVERPB__TXN_REQUEST__INIT;
    t.n_success = 1;
    t.success = ops;
    struct grpc_client_reply reply;
    call_ok("/etcdserverpb.KV/Txn", &t.base, NULL, &reply);
    grpc_client_reply_free(&reply);
}

/* A fresh data dir and the client for one test. */
static void setup(const char *tag)
{
    snprintf(base_dir, sizeof base_dir, "%s", test_temp_dir(tag));
    snprintf(data_dir, sizeof data_dir, "%s/data", base_dir);
    struct grpc_client_config config = {.calls_max = 4, .conns_max = 4};
    assert_int_equal(grpc_client_create(&config, &client), 0);
}

static void test_recovers_what_it_acknowledged(void **state)
{
    setup("recovery");
    static struct state want;
    static struct test_proc p; /* static: the teardown reads it after a failed assertion */
    p = (struct test_proc){0};
    *state = &p;

    start(&p);
    write_round(1);
    int64_t rev1;
    want.now_len = range_all(0, want.now, sizeof want.now, &rev1);
    write_round(2);
    compact(rev1);
    capture(&want, rev1 + 50);
    kill_hard(&p);

    /* Back from snapshots and the WAL after them: the same state, the compaction too. */
    start(&p);
    expect_same(&want);
    char message[GRPC_CLIENT_STATUS_MESSAGE_BYTES_MAX];
    assert_int_equal(range_error(rev1 - 1, message, sizeof message), GRPC_STATUS_OUT_OF_RANGE);
    assert_string_equal(message, "etcdserver: mvcc: required revision has been compacted");
    uint32_t snaps = count_snapshots();
    assert_true(snaps >= 1 && snaps <= 2);

    /* Writes on the recovered member, then a second hard kill. */
    write_round(3);
    capture(&want, rev1 + 60);
    kill_hard(&p);
    start(&p);
    expect_same(&want);
    assert_int_equal(test_proc_signal_exit(&p, SIGTERM, DEADLINE_MS), 0);
    grpc_client_destroy(client);
    test_remove_dir(base_dir);
}

enum snap_edit {
    SNAP_ADD_TMP,        /* a leftover temporary file */
    SNAP_CORRUPT_NEWEST, /* a flipped byte in the newest snapshot */
    SNAP_REMOVE_ALL,
};

static void snap_dir_edit(enum snap_edit edit)
{
    char dir[400], path[800];
    snprintf(dir, sizeof dir, "%s/member/snap", data_dir);
    if (edit == SNAP_ADD_TMP) {
        snprintf(path, sizeof path, "%s/0000000000000009-00000000000fffff.snap.tmp", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("half a snapshot", f);
        fclose(f);
        return;
    }
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char newest[300] = "";
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (edit == SNAP_REMOVE_ALL)
            assert_int_equal(unlink(path), 0);
        else if (strcmp(e->d_name, newest) > 0) /* term-index in hex: the name orders them */
            snprintf(newest, sizeof newest, "%s", e->d_name);
    }
    closedir(d);
    if (edit != SNAP_CORRUPT_NEWEST)
        return;
    snprintf(path, sizeof path, "%s/%s", dir, newest);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 100, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, 100, SEEK_SET), 0);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

/* The data dir after a crash inside the snapshot sequence, or a damaged one: a temporary file
 * left behind is ignored and removed; a corrupt newest snapshot is skipped for the one before
 * it, and the WAL replayed from there; with no snapshot at all the whole WAL is replayed (it
 * still holds every entry here). The state is the same each time. */
static void test_snapshot_leftovers_and_losses(void **state)
{
    setup("recovery-snap");
    static struct state want;
    static struct test_proc p; /* static: the teardown reads it after a failed assertion */
    p = (struct test_proc){0};
    *state = &p;
    start(&p);
    write_round(1);
    capture(&want, 10);
    kill_hard(&p);

    snap_dir_edit(SNAP_ADD_TMP);
    start(&p);
    expect_same(&want);
    assert_int_equal(count_snapshots(), 2);
    char tmp[800];
    snprintf(tmp, sizeof tmp, "%s/member/snap/0000000000000009-00000000000fffff.snap.tmp",
             data_dir);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_equal(test_proc_signal_exit(&p, SIGTERM, DEADLINE_MS), 0);

    snap_dir_edit(SNAP_CORRUPT_NEWEST);
    start(&p);
    assert_true(test_proc_wait_output(&p, "skipped bad snapshots", 0));
    expect_same(&want);
    assert_int_equal(test_proc_signal_exit(&p, SIGTERM, DEADLINE_MS), 0);

    snap_dir_edit(SNAP_REMOVE_ALL);
    start(&p);
    assert_true(test_proc_wait_output(&p, "\"snapshot-index\":0", 0));
    expect_same(&want);
    assert_int_equal(test_proc_signal_exit(&p, SIGTERM, DEADLINE_MS), 0);
    grpc_client_destroy(client);
    test_remove_dir(base_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_recovers_what_it_acknowledged, test_proc_kill_leftover),
        cmocka_unit_test_teardown(test_snapshot_leftovers_and_losses, test_proc_kill_leftover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
