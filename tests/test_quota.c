/* --quota-backend-bytes on a running ringd, as etcd behaves (checked by hand against etcd
 * 3.4.23 with --quota-backend-bytes 100000): puts past the quota fail ResourceExhausted
 * "etcdserver: mvcc: database space exceeded" and raise the NOSPACE alarm; Status lists it as
 * "memberID:<id> alarm:NOSPACE "; reads and deletes still work; every write that adds data
 * fails while the alarm stands; compaction frees memory and disarming lets writes in again.
 * Where etcd's quota trips depends on its bbolt file, ringd's on its memory: the tests check the
 * behaviour, not the exact byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "grpc_client.h"
#include "test_support.h"

#define DEADLINE_MS 20000
#define QUOTA_BYTES "200000"
#define MEMBER_ID   10276657743932975437ull /* the default member, as etcd derives it */

static struct test_server server;
static struct grpc_client *client;
static struct grpc_client_conn *conn;

static int group_setup(void **state)
{
    (void)state;
    char *args[] = {"--quota-backend-bytes", QUOTA_BYTES, NULL};
    struct test_server_options options = {.args = args};
    if (test_server_start(&server, TEST_SERVER_RINGD, &options) != 0)
        return -1;
    struct grpc_client_config config = {.calls_max = 16, .conns_max = 1};
    if (grpc_client_create(&config, &client) != 0 ||
        grpc_client_connect(client, server.endpoint, &conn) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    grpc_client_destroy(client);
    return test_server_stop(&server) == 0 ? 0 : -1;
}

static void call(const char *path, const ProtobufCMessage *request,
                 const ProtobufCMessageDescriptor *response, struct grpc_client_reply *reply)
{
    struct grpc_client_request req = {.path = path, .message = request, .response = response};
    assert_int_equal(grpc_client_unary_sync(conn, &req, DEADLINE_MS, reply), 0);
}

static enum grpc_status put(const char *key, size_t value_bytes, char *message, size_t len)
{
    static uint8_t value[4096];
    memset(value, 'v', sizeof value);
    Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
    r.key = (ProtobufCBinaryData){strlen(key), (uint8_t *)key};
    r.value = (ProtobufCBinaryData){value_bytes, value};
    struct grpc_client_reply reply;
    call("/etcdserverpb.KV/Put", &r.base, &etcdserverpb__put_response__descriptor, &reply);
    if (message != NULL)
        snprintf(message, len, "%s", reply.message);
    grpc_client_reply_free(&reply);
    return reply.status;
}

static Etcdserverpb__StatusResponse *status(struct grpc_client_reply *reply)
{
    Etcdserverpb__StatusRequest r = ETCDSERVERPB__STATUS_REQUEST__INIT;
    call("/etcdserverpb.Maintenance/Status", &r.base, &etcdserverpb__status_response__descriptor,
         reply);
    assert_int_equal(reply->status, GRPC_STATUS_OK);
    return (Etcdserverpb__StatusResponse *)reply->response;
}

static size_t alarms(Etcdserverpb__AlarmRequest__AlarmAction action)
{
    Etcdserverpb__AlarmRequest r = ETCDSERVERPB__ALARM_REQUEST__INIT;
    r.action = action;
    r.memberid = MEMBER_ID;
    r.alarm = ETCDSERVERPB__ALARM_TYPE__NOSPACE;
    struct grpc_client_reply reply;
    call("/etcdserverpb.Maintenance/Alarm", &r.base, &etcdserverpb__alarm_response__descriptor,
         &reply);
    assert_int_equal(reply.status, GRPC_STATUS_OK);
    const Etcdserverpb__AlarmResponse *resp = (const void *)reply.response;
    size_t n = resp->n_alarms;
    if (n > 0) {
        assert_int_equal(resp->alarms[0]->memberid, MEMBER_ID);
        assert_int_equal(resp->alarms[0]->alarm, ETCDSERVERPB__ALARM_TYPE__NOSPACE);
    }
    grpc_client_reply_free(&reply);
    return n;
}

static void test_quota_raises_nospace(void **state)
{
    (void)state;
    char message[GRPC_CLIENT_STATUS_MESSAGE_BYTES_MAX] = "";
    int stored = 0;
    /* 1 KiB values against a 200 kB quota: it trips within a few hundred puts. */
    for (int i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%04d", i);
        enum grpc_status st = put(key, 1024, message, sizeof message);
        if (st != GRPC_STATUS_OK) {
            assert_int_equal(st, GRPC_STATUS_RESOURCE_EXHAUSTED);
            break;
        }
        stored++;
    }
    assert_string_equal(message, "etcdserver: mvcc: database space exceeded");
    assert_true(stored > 50 && stored < 1000);
    /* The alarm stands: Status lists it as etcd prints it, Alarm GET returns it. */
    struct grpc_client_reply reply;
    Etcdserverpb__StatusResponse *s = status(&reply);
    assert_int_equal(s->n_errors, 1);
    assert_string_equal(s->errors[0], "memberID:10276657743932975437 alarm:NOSPACE ");
    grpc_client_reply_free(&reply);
    assert_int_equal(alarms(ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__GET), 1);
    /* Even a tiny put fails now; reads and deletes work. */
    assert_int_equal(put("tiny", 1, message, sizeof message), GRPC_STATUS_RESOURCE_EXHAUSTED);
    Etcdserverpb__RangeRequest get = ETCDSERVERPB__RANGE_REQUEST__INIT;
    get.key = (ProtobufCBinaryData){1, (uint8_t *)"k"};
    get.range_end = (ProtobufCBinaryData){1, (uint8_t *)"l"};
    get.count_only = true;
    call("/etcdserverpb.KV/Range", &get.base, &etcdserverpb__range_response__descriptor, &reply);
    assert_int_equal(reply.status, GRPC_STATUS_OK);
    assert_int_equal(((Etcdserverpb__RangeResponse *)reply.response)->count, stored);
    grpc_client_reply_free(&reply);
    Etcdserverpb__DeleteRangeRequest del = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    del.key = get.key;
    del.range_end = get.range_end;
    call("/etcdserverpb.KV/DeleteRange", &del.base,
         &etcdserverpb__delete_range_response__descriptor, &reply);
    assert_int_equal(reply.status, GRPC_STATUS_OK);
    assert_int_equal(((Etcdserverpb__DeleteRangeResponse *)reply.response)->deleted, stored);
    int64_t revision = ((Etcdserverpb__DeleteRangeResponse *)reply.response)->header->revision;
    grpc_client_reply_free(&reply);
    /* Compaction frees the history, disarming lets writes in again (etcd's recovery steps). */
    Etcdserverpb__CompactionRequest compact = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
    compact.revision = revision;
    compact.physical = true;
    call("/etcdserverpb.KV/Compact", &compact.base, &etcdserverpb__compaction_response__descriptor,
         &reply);
    assert_int_equal(reply.status, GRPC_STATUS_OK);
    grpc_client_reply_free(&reply);
    /* Freed memory comes back once readers have moved on: wait for it, with a deadline. */
    uint64_t deadline_ns = test_now_ns() + (uint64_t)DEADLINE_MS * 1000000u;
    for (;;) {
        s = status(&reply);
        int64_t db_size = s->dbsize;
        grpc_client_reply_free(&reply);
        if (db_size < 100000)
            break;
        assert_true(test_now_ns() < deadline_ns);
    }
    assert_int_equal(alarms(ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE), 1);
    assert_int_equal(alarms(ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__GET), 0);
    assert_int_equal(put("tiny", 1, message, sizeof message), GRPC_STATUS_OK);
    s = status(&reply);
    assert_int_equal(s->n_errors, 0);
    grpc_client_reply_free(&reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quota_raises_nospace),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
