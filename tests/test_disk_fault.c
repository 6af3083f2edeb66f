/* A disk that fails under a running ringd (issue 6): the WAL's fdatasync starts failing with EIO
 * (ringd's test hook RINGD_TEST_WAL_FAIL_FDATASYNC, see net/ringd_main.c). ringd must never
 * acknowledge a write whose entry did not reach the disk: it stops as etcd does, with etcd's
 * fatal line naming the WAL file and the error, exit status 1. Restarted on the same data dir
 * with a healthy disk, every write it acknowledged is there with its revision.
 *
 * And a disk that damaged the log at rest: a flipped byte in the middle of the WAL makes ringd
 * refuse to start, naming the file and offset; --ringd-wal-force cuts the log there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "grpc_client.h"
#include "test_support.h"

#define DEADLINE_MS 20000
#define PUTS_MAX    2000 /* far more than the fdatasyncs before the fault */
#define FAIL_AT     "40" /* the fdatasync that fails first */

struct acked {
    uint32_t n;
    int64_t revision[PUTS_MAX];
};

static struct acked acked;
static char base_dir[280];
static char data_dir[300];

static void start_with(struct test_proc *p, uint16_t port, char *extra)
{
    char urls[64];
    snprintf(urls, sizeof urls, "http://127.0.0.1:%u", port);
    char peer[64];
    char *argv[] = {(char *)test_ringd_bin(),
                    "--data-dir",
                    data_dir,
                    "--listen-client-urls",
                    urls,
                    "--advertise-client-urls",
                    urls,
                    "--listen-peer-urls",
                    test_peer_url(peer, sizeof peer),
                    extra,
                    NULL};
    assert_int_equal(test_proc_start(p, argv), 0);
}

static void start(struct test_proc *p, uint16_t port)
{
    start_with(p, port, NULL);
}

static void key_of(char *key, size_t len, uint32_t i)
{
    snprintf(key, len, "fault-%05u", i);
}

/* Puts one key after another until one fails; returns how many were acknowledged. */
static uint32_t put_until_failure(struct grpc_client_conn *conn)
{
    for (uint32_t i = 0; i < PUTS_MAX; i++) {
        char key[32];
        key_of(key, sizeof key, i);
        Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
        r.key = (ProtobufCBinaryData){strlen(key), (uint8_t *)key};
        r.value = r.key;
        struct grpc_client_request req = {.path = "/etcdserverpb.KV/Put",
                                          .message = &r.base,
                                          .response = &etcdserverpb__put_response__descriptor};
        struct grpc_client_reply reply;
        if (grpc_client_unary_sync(conn, &req, DEADLINE_MS, &reply) != 0)
            return i;
        bool ok = reply.status == GRPC_STATUS_OK;
        if (ok)
            acked.revision[acked.n++] =
                ((Etcdserverpb__PutResponse *)reply.response)->header->revision;
        grpc_client_reply_free(&reply);
        if (!ok)
            return i;
    }
    return PUTS_MAX;
}

/* A fresh data dir and a client for one test. */
static struct grpc_client *setup(const char *tag)
{
    snprintf(base_dir, sizeof base_dir, "%s", test_temp_dir(tag));
    snprintf(data_dir, sizeof data_dir, "%s/data", base_dir);
    struct grpc_client *client;
    struct grpc_client_config config = {.calls_max = 4, .conns_max = 2};
    assert_int_equal(grpc_client_create(&config, &client), 0);
    return client;
}

/* The mod revision of key i, or -1 when it is missing. */
static int64_t mod_revision_of(struct grpc_client_conn *conn, uint32_t i)
{
    char key[32];
    key_of(key, sizeof key, i);
    Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
    r.key = (ProtobufCBinaryData){strlen(key), (uint8_t *)key};
    struct grpc_client_request req = {.path = "/etcdserverpb.KV/Range",
                                      .message = &r.base,
                                      .response = &etcdserverpb__range_response__descriptor};
    struct grpc_client_reply reply;
    assert_int_equal(grpc_client_unary_sync(conn, &req, DEADLINE_MS, &reply), 0);
    assert_int_equal(reply.status, GRPC_STATUS_OK);
    const Etcdserverpb__RangeResponse *resp = (const void *)reply.response;
    int64_t rev = resp->n_kvs == 1 ? resp->kvs[0]->mod_revision : -1;
    grpc_client_reply_free(&reply);
    return rev;
}

static void test_failed_fdatasync_stops_acknowledging(void **state)
{
    struct grpc_client *client = setup("disk-fault");

    /* A disk that fails from the FAIL_AT-th fdatasync on. */
    uint16_t port = test_free_port();
    static struct test_proc p; /* static: the teardown reads it after a failed assertion */
    p = (struct test_proc){0};
    *state = &p;
    setenv("RINGD_TEST_WAL_FAIL_FDATASYNC", FAIL_AT, 1);
    start(&p, port);
    unsetenv("RINGD_TEST_WAL_FAIL_FDATASYNC");
    assert_true(test_proc_wait_output(&p, "ready to serve client requests", DEADLINE_MS));
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%u", port);
    struct grpc_client_conn *conn;
    assert_int_equal(grpc_client_connect(client, endpoint, &conn), 0);
    uint32_t tried = put_until_failure(conn);
    /* Some puts went through before the fault (the bootstrap took a few fdatasyncs), and the
     * first failing fdatasync ended the acknowledgements. */
    assert_true(acked.n > 10);
    assert_true(tried < PUTS_MAX);
    assert_int_equal(test_proc_wait_exit(&p, DEADLINE_MS), 1);
    assert_true(
        test_proc_wait_output(&p, "\"msg\":\"failed to save Raft hard state and entries\"", 0));
    assert_true(test_proc_wait_output(&p, "fdatasync of ", 0));
    assert_true(test_proc_wait_output(&p, ".wal: Input/output error", 0));
    test_proc_cleanup(&p);

    /* The same data dir on a healthy disk: every acknowledged put is there, unchanged. */
    port = test_free_port();
    start(&p, port);
    assert_true(test_proc_wait_output(&p, "ready to serve client requests", DEADLINE_MS));
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%u", port);
    assert_int_equal(grpc_client_connect(client, endpoint, &conn), 0);
    for (uint32_t i = 0; i < acked.n; i++) {
        int64_t rev = mod_revision_of(conn, i);
        if (rev != acked.revision[i])
            fail_msg("acknowledged key %u at revision %lld: %s", i, (long long)acked.revision[i],
                     rev < 0 ? "missing" : "at another revision");
    }
    assert_int_equal(test_proc_signal_exit(&p, SIGTERM, DEADLINE_MS), 0);
    grpc_client_destroy(client);
    test_remove_dir(base_dir);
}

/* The first WAL segment's path. */
static void first_segment(char *path, size_t len)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/member/wal", data_dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    path[0] = '\0';
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "0000000000000000-", 17) == 0)
            snprintf(path, len, "%s/%s", dir, e->d_name);
    closedir(d);
    assert_true(path[0] != '\0');
}

static void test_corrupt_wal_is_refused_unless_forced(void **state)
{
    struct grpc_client *client = setup("wal-corrupt");
    uint16_t port = test_free_port();
    static struct test_proc p; /* static: the teardown reads it after a failed assertion */
    p = (struct test_proc){0};
    *state = &p;
    start(&p, port);
    assert_true(test_proc_wait_output(&p, "ready to serve client requests", DEADLINE_MS));
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%u", port);
    struct grpc_client_conn *conn;
    assert_int_equal(grpc_client_connect(client, endpoint, &conn), 0);
    /* 200 puts one by one: 200 batches, so a byte in the middle has batches after it. */
    acked.n = 0;
    for (uint32_t i = 0; i < 200; i++) {
        char key[32];
        key_of(key, sizeof key, i);
        Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
        r.key = (ProtobufCBinaryData){strlen(key), (uint8_t *)key};
        r.value = r.key;
        struct grpc_client_request req = {.path = "/etcdserverpb.KV/Put", .message = &r.base};
        struct grpc_client_reply reply;
        assert_int_equal(grpc_client_unary_sync(conn, &req, DEADLINE_MS, &reply), 0);
        assert_int_equal(reply.status, GRPC_STATUS_OK);
        grpc_client_reply_free(&reply);
    }
    assert_int_equal(test_proc_signal_exit(&p, SIGTERM, DEADLINE_MS), 0);

    /* Flip a byte halfway through what was written. */
    char segment[700];
    first_segment(segment, sizeof segment);
    int fd = open(segment, O_RDWR);
    assert_true(fd >= 0);
    static uint8_t buf[1 << 20];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    assert_true(n > 0);
    size_t used = (size_t)n;
    while (used > 0 && buf[used - 1] == 0)
        used--;
    assert_true(used > 8192);
    size_t at = used / 2;
    buf[at] ^= 0x5a;
    assert_int_equal(pwrite(fd, &buf[at], 1, (off_t)at), 1);
    close(fd);

    /* Refused, naming the file and the offset. */
    start(&p, test_free_port());
    assert_int_equal(test_proc_wait_exit(&p, DEADLINE_MS), 1);
    assert_true(test_proc_wait_output(&p, "wal: corrupt record in ", 0));
    assert_true(test_proc_wait_output(&p, " at offset ", 0));
    assert_true(test_proc_wait_output(&p, strrchr(segment, '/') + 1, 0));
    test_proc_cleanup(&p);

    /* Forced: the log is cut there and the member starts with what came before. */
    port = test_free_port();
    start_with(&p, port, "--ringd-wal-force");
    assert_true(test_proc_wait_output(&p, "ready to serve client requests", DEADLINE_MS));
    assert_true(test_proc_wait_output(&p, "repaired the WAL", 0));
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%u", port);
    assert_int_equal(grpc_client_connect(client, endpoint, &conn), 0);
    assert_true(mod_revision_of(conn, 0) > 0);
    assert_int_equal(test_proc_signal_exit(&p, SIGTERM, DEADLINE_MS), 0);
    grpc_client_destroy(client);
    test_remove_dir(base_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_failed_fdatasync_stops_acknowledging,
                                  test_proc_kill_leftover),
        cmocka_unit_test_teardown(test_corrupt_wal_is_refused_unless_forced,
                                  test_proc_kill_leftover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
