/* The client API front end of a running ringd, through our own gRPC client: thousands of
 * concurrent calls over many connections and shards, many streams at once, requests around
 * --max-request-bytes, a reader that stops reading while others go on, bad bytes on one
 * connection that no other connection notices, and gRPC's health service. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <etcdserverpb/rpc.pb-c.h>
#include <grpc/health/v1/health.pb-c.h>

#include "grpc_client.h"
#include "test_support.h"

#define DEADLINE_MS 20000
/* The default member's id (etcd derives it from http://localhost:2380 and "etcd-cluster"). */
#define DEFAULT_MEMBER_ID 0x8e9e05c52164694dull

static struct test_server shared;

static int group_setup(void **state)
{
    (void)state;
    static char *const args[] = {"--ringd-shards", "2", NULL};
    const struct test_server_options options = {.args = args};
    return test_server_start(&shared, TEST_SERVER_RINGD, &options);
}

static int group_teardown(void **state)
{
    (void)state;
    return test_server_stop(&shared) == 0 ? 0 : -1; /* a clean shutdown with connections open */
}

static struct grpc_client *client_new(uint32_t calls_max, uint32_t conns_max)
{
    struct grpc_client_config config = {.calls_max = calls_max, .conns_max = conns_max};
    struct grpc_client *client = NULL;
    assert_int_equal(grpc_client_create(&config, &client), 0);
    return client;
}

static struct grpc_client_conn *conn_new(struct grpc_client *client)
{
    struct grpc_client_conn *conn = NULL;
    assert_int_equal(grpc_client_connect(client, shared.endpoint, &conn), 0);
    return conn;
}

/* Counts how calls ended; a Status response must name the default member. */
struct tally {
    uint32_t done;
    uint32_t ok;
    uint32_t other;
    enum grpc_status last_status;
    char last_message[256];
};

static void tally_done(void *arg, const struct grpc_client_result *r)
{
    struct tally *t = arg;
    t->done++;
    t->last_status = r->status;
    snprintf(t->last_message, sizeof(t->last_message), "%s", r->message);
    const Etcdserverpb__StatusResponse *s = (const void *)r->response.decoded;
    if (r->status == GRPC_STATUS_OK && s != NULL && s->header != NULL &&
        s->header->member_id == DEFAULT_MEMBER_ID && s->leader == DEFAULT_MEMBER_ID)
        t->ok++;
    else
        t->other++;
}

struct until_count {
    const uint32_t *value;
    uint32_t want;
};

static bool count_reached(void *arg)
{
    const struct until_count *u = arg;
    return *u->value >= u->want;
}

static void run_until_count(struct grpc_client *client, const uint32_t *value, uint32_t want)
{
    struct until_count u = {.value = value, .want = want};
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &u, count_reached), 0);
}

static const Etcdserverpb__StatusRequest status_request = ETCDSERVERPB__STATUS_REQUEST__INIT;

static void status_start(struct grpc_client_conn *conn, struct tally *t)
{
    struct grpc_client_request req = {.path = "/etcdserverpb.Maintenance/Status",
                                      .message = &status_request.base,
                                      .response = &etcdserverpb__status_response__descriptor};
    assert_int_equal(grpc_client_unary(conn, &req, NULL, t, tally_done), 0);
}

/* 200 connections (spread over both shards by SO_REUSEPORT), 25 concurrent calls each. */
static void test_many_connections_and_calls(void **state)
{
    (void)state;
    enum { CONNS = 200, CALLS_PER_CONN = 25 };
    struct grpc_client *client = client_new(CONNS * CALLS_PER_CONN, CONNS);
    struct grpc_client_conn *conns[CONNS];
    for (int i = 0; i < CONNS; i++)
        conns[i] = conn_new(client);
    struct tally t = {0};
    for (int i = 0; i < CONNS * CALLS_PER_CONN; i++)
        status_start(conns[i % CONNS], &t);
    run_until_count(client, &t.done, CONNS * CALLS_PER_CONN);
    assert_int_equal(t.ok, CONNS * CALLS_PER_CONN);
    assert_int_equal(grpc_client_calls_in_use(client), 0);
    grpc_client_destroy(client);
}

static void stream_message(void *arg, struct grpc_client_call *call,
                           const struct grpc_client_message *message)
{
    (void)call;
    (void)message;
    ((struct tally *)arg)->other++; /* no Watch response is expected yet */
}

/* 1000 Watch streams on 4 connections: each gets the answer for a method ringd does not serve
 * yet, after its request message, and the connections stay usable. */
static void test_many_streams(void **state)
{
    (void)state;
    enum { STREAMS = 1000, CONNS = 4 };
    struct grpc_client *client = client_new(STREAMS + CONNS, CONNS);
    struct grpc_client_conn *conns[CONNS];
    for (int i = 0; i < CONNS; i++)
        conns[i] = conn_new(client);
    Etcdserverpb__WatchRequest watch = ETCDSERVERPB__WATCH_REQUEST__INIT;
    struct tally t = {0};
    for (int i = 0; i < STREAMS; i++) {
        struct grpc_client_request req = {.path = "/etcdserverpb.Watch/Watch",
                                          .message = &watch.base};
        struct grpc_client_call *call;
        assert_int_equal(
            grpc_client_stream_open(conns[i % CONNS], &req, &call, &t, stream_message, tally_done),
            0);
    }
    run_until_count(client, &t.done, STREAMS);
    assert_int_equal(t.other, STREAMS);
    assert_int_equal(t.last_status, GRPC_STATUS_UNIMPLEMENTED);
    assert_string_equal(t.last_message, "ringd: /etcdserverpb.Watch/Watch is not implemented yet");
    struct tally after = {0};
    for (int i = 0; i < CONNS; i++)
        status_start(conns[i], &after);
    run_until_count(client, &after.done, CONNS);
    assert_int_equal(after.ok, CONNS);
    grpc_client_destroy(client);
}

/* A Put whose value makes the request value_bytes long (the key is "k"). */
static void put_sized(struct grpc_client_conn *conn, size_t value_bytes,
                      struct grpc_client_reply *reply)
{
    uint8_t *value = calloc(1, value_bytes);
    assert_non_null(value);
    Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
    put.key = (ProtobufCBinaryData){.len = 1, .data = (uint8_t *)"k"};
    put.value = (ProtobufCBinaryData){.len = value_bytes, .data = value};
    struct grpc_client_request req = {.path = "/etcdserverpb.KV/Put", .message = &put.base};
    assert_int_equal(grpc_client_unary_sync(conn, &req, DEADLINE_MS, reply), 0);
    free(value);
}

/* --max-request-bytes (1.5 MiB by default) and grpc-go's 512 KiB on top, as etcd answers. */
static void test_request_size_limits(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(16, 1);
    struct grpc_client_conn *conn = conn_new(client);
    struct grpc_client_reply reply;
    put_sized(conn, 1400 * 1024, &reply); /* under the limit: stored */
    assert_int_equal(reply.status, GRPC_STATUS_OK);
    put_sized(conn, 1600 * 1024, &reply);
    assert_int_equal(reply.status, GRPC_STATUS_INVALID_ARGUMENT);
    assert_string_equal(reply.message, "etcdserver: request is too large");
    put_sized(conn, 2100 * 1024, &reply); /* 1 + 3 + 1 + 3 + 2150400 bytes framed */
    assert_int_equal(reply.status, GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_string_equal(reply.message,
                        "grpc: received message larger than max (2150408 vs. 2097152)");
    /* The connection is still good. */
    struct tally t = {0};
    status_start(conn, &t);
    run_until_count(client, &t.done, 1);
    assert_int_equal(t.ok, 1);
    grpc_client_destroy(client);
}

/* A client that stops reading with thousands of answers owed does not slow anyone else; once
 * it reads again, every answer arrives. */
static void test_slow_reader(void **state)
{
    (void)state;
    enum { SLOW_CALLS = 4000, OTHER_CALLS = 500 };
    struct grpc_client *client = client_new(SLOW_CALLS + OTHER_CALLS, 2);
    struct grpc_client_conn *slow = conn_new(client);
    struct grpc_client_conn *other = conn_new(client);
    struct tally warm = {0};
    status_start(slow, &warm); /* connected, SETTINGS exchanged */
    run_until_count(client, &warm.done, 1);
    grpc_client_conn_pause(slow, true);
    struct tally slow_t = {0}, other_t = {0};
    for (int i = 0; i < SLOW_CALLS; i++)
        status_start(slow, &slow_t);
    for (int i = 0; i < OTHER_CALLS; i++)
        status_start(other, &other_t);
    run_until_count(client, &other_t.done, OTHER_CALLS);
    assert_int_equal(other_t.ok, OTHER_CALLS);
    assert_true(slow_t.done < SLOW_CALLS); /* its answers wait in the sockets */
    grpc_client_conn_pause(slow, false);
    run_until_count(client, &slow_t.done, SLOW_CALLS);
    assert_int_equal(slow_t.ok, SLOW_CALLS);
    grpc_client_destroy(client);
}

/* Garbage and broken HTTP/2 on raw sockets while a client keeps calling: its calls all succeed. */
static void test_bad_bytes_do_not_disturb_others(void **state)
{
    (void)state;
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    /* After the preface, a DATA frame on stream 0: a connection error (GOAWAY). */
    static const uint8_t bad_frame[] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 'x'};
    struct grpc_client *client = client_new(64, 1);
    struct grpc_client_conn *conn = conn_new(client);
    struct tally t = {0};
    uint16_t port = shared.client_port;
    for (int i = 0; i < 50; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET,
                                   .sin_port = htons(port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        if (i % 2 == 0) {
            assert_true(send(fd, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL) > 0);
        } else {
            assert_true(send(fd, preface, sizeof(preface) - 1, MSG_NOSIGNAL) > 0);
            assert_true(send(fd, bad_frame, sizeof(bad_frame), MSG_NOSIGNAL) > 0);
        }
        char buf[512];
        while (read(fd, buf, sizeof(buf)) > 0) {
        } /* the server closes it */
        close(fd);
        status_start(conn, &t);
    }
    run_until_count(client, &t.done, 50);
    assert_int_equal(t.ok, 50);
    grpc_client_destroy(client);
}

static void health_check(struct grpc_client_conn *conn, const char *service,
                         struct grpc_client_reply *reply)
{
    Grpc__Health__V1__HealthCheckRequest check = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    check.service = (char *)service;
    struct grpc_client_request req = {.path = "/grpc.health.v1.Health/Check",
                                      .message = &check.base,
                                      .response =
                                          &grpc__health__v1__health_check_response__descriptor};
    assert_int_equal(grpc_client_unary_sync(conn, &req, DEADLINE_MS, reply), 0);
}

/* gRPC's health service, as etcd answers it: the server ("") is serving, nothing else is known. */
static void test_health_check(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(4, 1);
    struct grpc_client_conn *conn = conn_new(client);
    struct grpc_client_reply reply;
    health_check(conn, "", &reply);
    assert_int_equal(reply.status, GRPC_STATUS_OK);
    const Grpc__Health__V1__HealthCheckResponse *r = (const void *)reply.response;
    assert_int_equal(r->status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    grpc_client_reply_free(&reply);
    health_check(conn, "etcdserverpb.KV", &reply);
    assert_int_equal(reply.status, GRPC_STATUS_NOT_FOUND);
    assert_string_equal(reply.message, "unknown service");
    grpc_client_destroy(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_connections_and_calls),
        cmocka_unit_test(test_many_streams),
        cmocka_unit_test(test_request_size_limits),
        cmocka_unit_test(test_slow_reader),
        cmocka_unit_test(test_bad_bytes_do_not_disturb_others),
        cmocka_unit_test(test_health_check),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
