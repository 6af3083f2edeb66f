/* A disk that fails under a running ringd (issue 6): the WAL's fdatasync starts failing with EIO
 * (ringd's test hook RINGD_TEST_WAL_FAIL_FDATASYNC, see net/ringd_main.c). ringd must never
 * acknowledge a write whose entry did not reach the disk: it stops as etcd does, with etcd's
 * fatal line naming the WAL file and the error, exit status 1. Restarted on the same data dir
 * with a healthy disk, every write it acknowledged is there with its revision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static char data_dir[300];

static void start(struct test_proc *p, uint16_t port)
{
    char urls[64];
    snprintf(urls, sizeof urls, "http://127.0.0.1:%u", port);
    char *argv[] = {(char *)test_ringd_bin(), "--data-dir", data_dir, "--listen-client-urls",
                    urls, "--advertise-client-urls", urls, NULL};
    assert_int_equal(test_proc_start(p, argv), 0);
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

static void test_failed_fdatasync_stops_acknowledging(void **state)
{
    (void)state;
    snprintf(data_dir, sizeof data_dir, "%s/data", test_temp_dir("disk-fault"));
    struct grpc_client *client;
    struct grpc_client_config config = {.calls_max = 4, .conns_max = 2};
    assert_int_equal(grpc_client_create(&config, &client), 0);

    /* A disk that fails from the FAIL_AT-th fdatasync on. */
    uint16_t port = test_free_port();
    struct test_proc p;
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
    assert_true(test_proc_wait_output(&p, "\"msg\":\"failed to save Raft hard state and entries\"",
                                      0));
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
        if (resp->n_kvs != 1 || resp->kvs[0]->mod_revision != acked.revision[i])
            fail_msg("acknowledged %s at revision %lld: %s", key, (long long)acked.revision[i],
                     resp->n_kvs == 0 ? "missing" : "at another revision");
        grpc_client_reply_free(&reply);
    }
    assert_int_equal(kill(p.pid, SIGTERM), 0);
    assert_int_equal(test_proc_wait_exit(&p, DEADLINE_MS), 0);
    test_proc_cleanup(&p);
    grpc_client_destroy(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_fdatasync_stops_acknowledging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
