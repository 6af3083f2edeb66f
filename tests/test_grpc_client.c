/* Our gRPC client (net/grpc_client) against the reference server, Debian's etcd 3.4.23: unary
 * calls decoded, etcd's error statuses and texts, a Watch bidi stream, thousands of concurrent
 * calls through the per-connection stream queue, deadlines, cancel, refused connections, the
 * unix socket, destroy with calls open, pause and resume, a server going away, and the start
 * functions' errors. A scripted HTTP/2 server adds what etcd never sends: GOAWAY, trailers-only
 * answers, HTTP errors and broken framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "grpc_client.h"
#include "ringd_error.h"
#include "test_support.h"

#define DEADLINE_MS 20000
/* etcd's --max-concurrent-streams: small, so that many calls wait in the client's queue. */
#define ETCD_STREAMS_MAX 64

static struct test_server shared_etcd;

static int etcd_start(struct test_server *e)
{
    static char *const args[] = {"--max-concurrent-streams", "64", NULL};
    _Static_assert(ETCD_STREAMS_MAX == 64, "the flag above");
    const struct test_server_options options = {.unix_socket = true, .args = args};
    return test_server_start(e, TEST_SERVER_ETCD, &options);
}

static void etcd_stop(struct test_server *e)
{
    test_server_stop(e);
}

static int group_setup(void **state)
{
    (void)state;
    return etcd_start(&shared_etcd);
}

static int group_teardown(void **state)
{
    (void)state;
    etcd_stop(&shared_etcd);
    return 0;
}

/* ---- Helpers ------------------------------------------------------------------------------ */

static struct grpc_client *client_new(uint32_t calls_max)
{
    struct grpc_client_config config = {.calls_max = calls_max, .conns_max = 8};
    struct grpc_client *client = NULL;
    assert_int_equal(grpc_client_create(&config, &client), 0);
    return client;
}

static struct grpc_client_conn *conn_new(struct grpc_client *client, const char *endpoint)
{
    struct grpc_client_conn *conn = NULL;
    assert_int_equal(grpc_client_connect(client, endpoint, &conn), 0);
    return conn;
}

static ProtobufCBinaryData bin(const char *text)
{
    return (ProtobufCBinaryData){.len = strlen(text), .data = (uint8_t *)text};
}

static void expect_ok(const struct grpc_client_reply *reply)
{
    if (reply->status != GRPC_STATUS_OK)
        fail_msg("status %d: %s", reply->status, reply->message);
}

static void put(struct grpc_client_conn *conn, const char *key, const char *value)
{
    Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
    req.key = bin(key);
    req.value = bin(value);
    struct grpc_client_request r = {.path = "/etcdserverpb.KV/Put",
                                    .message = &req.base,
                                    .response = &etcdserverpb__put_response__descriptor};
    struct grpc_client_reply reply;
    assert_int_equal(grpc_client_unary_sync(conn, &r, DEADLINE_MS, &reply), 0);
    expect_ok(&reply);
    assert_non_null(reply.response);
    grpc_client_reply_free(&reply);
}

static Etcdserverpb__StatusResponse *status_call(struct grpc_client_conn *conn,
                                                 struct grpc_client_reply *reply)
{
    Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
    struct grpc_client_request r = {.path = "/etcdserverpb.Maintenance/Status",
                                    .message = &req.base,
                                    .response = &etcdserverpb__status_response__descriptor};
    assert_int_equal(grpc_client_unary_sync(conn, &r, DEADLINE_MS, reply), 0);
    expect_ok(reply);
    assert_non_null(reply->response);
    return (Etcdserverpb__StatusResponse *)reply->response;
}

static void expect_status_ok(struct grpc_client_conn *conn)
{
    struct grpc_client_reply reply;
    Etcdserverpb__StatusResponse *status = status_call(conn, &reply);
    assert_string_equal(status->version, "3.4.23");
    assert_non_null(status->header);
    assert_true(status->header->cluster_id != 0);
    grpc_client_reply_free(&reply);
}

static bool no_calls_in_use(void *arg)
{
    return grpc_client_calls_in_use(arg) == 0;
}

/* A unary call's outcome, recorded by its done callback. */
struct outcome {
    int runs;
    enum grpc_status status;
    char message[GRPC_CLIENT_STATUS_MESSAGE_BYTES_MAX];
    char value[64];
    size_t kvs;
};

static void outcome_done(void *arg, const struct grpc_client_result *result)
{
    struct outcome *o = arg;
    o->runs++;
    o->status = result->status;
    snprintf(o->message, sizeof(o->message), "%s", result->message);
}

static bool outcome_ran(void *arg)
{
    return ((struct outcome *)arg)->runs > 0;
}

/* ---- Unary calls ------------------------------------------------------------------------- */

static void test_status_decoded(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    expect_status_ok(conn);
    struct grpc_client_conn_info info;
    grpc_client_conn_info(conn, &info);
    assert_int_equal(info.state, GRPC_CLIENT_CONN_READY);
    assert_string_equal(info.error, "");
    assert_int_equal(info.peer_streams_max, ETCD_STREAMS_MAX);
    assert_int_equal(info.streams_open, 0);
    assert_int_equal(grpc_client_calls_in_use(client), 0);
    grpc_client_destroy(client);
}

static void range_done(void *arg, const struct grpc_client_result *result)
{
    struct outcome *o = arg;
    outcome_done(arg, result);
    if (result->status != GRPC_STATUS_OK)
        return;
    const Etcdserverpb__RangeResponse *resp = (const void *)result->response.decoded;
    assert_non_null(resp);
    assert_true(result->response.len > 0);
    o->kvs = resp->n_kvs;
    if (resp->n_kvs == 1)
        snprintf(o->value, sizeof(o->value), "%.*s", (int)resp->kvs[0]->value.len,
                 (const char *)resp->kvs[0]->value.data);
}

static void test_put_then_range(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    put(conn, "client/put-range", "value-1");
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = bin("client/put-range");
    struct grpc_client_metadata md[] = {{"x-ringd-test", "range"}};
    struct grpc_client_request r = {.path = "/etcdserverpb.KV/Range",
                                    .message = &req.base,
                                    .response = &etcdserverpb__range_response__descriptor,
                                    .metadata = md,
                                    .metadata_count = 1};
    struct outcome o = {0};
    struct grpc_client_call *call = NULL;
    assert_int_equal(grpc_client_unary(conn, &r, &call, &o, range_done), 0);
    assert_non_null(call);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &o, outcome_ran), 0);
    assert_int_equal(o.runs, 1);
    assert_int_equal(o.status, GRPC_STATUS_OK);
    assert_int_equal(o.kvs, 1);
    assert_string_equal(o.value, "value-1");
    assert_int_equal(grpc_client_calls_in_use(client), 0);
    grpc_client_destroy(client);
}

static void test_future_revision_is_out_of_range(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = bin("client/future");
    req.revision = INT64_C(1) << 40;
    struct grpc_client_request r = {.path = "/etcdserverpb.KV/Range",
                                    .message = &req.base,
                                    .response = &etcdserverpb__range_response__descriptor};
    struct grpc_client_reply reply;
    assert_int_equal(grpc_client_unary_sync(conn, &r, DEADLINE_MS, &reply), 0);
    assert_int_equal(reply.status, GRPC_STATUS_OUT_OF_RANGE);
    assert_string_equal(reply.message, "etcdserver: mvcc: required revision is a future revision");
    assert_null(reply.response);
    grpc_client_destroy(client);
}

static void test_unknown_method_is_unimplemented(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    /* Non-ASCII and '%' in the name come back percent-encoded in grpc-message. */
    struct grpc_client_request r = {
        .path = "/etcdserverpb.KV/N\xc3\xb6%", .bytes = (uint8_t *)"", .bytes_len = 0};
    struct grpc_client_reply reply;
    assert_int_equal(grpc_client_unary_sync(conn, &r, DEADLINE_MS, &reply), 0);
    assert_int_equal(reply.status, GRPC_STATUS_UNIMPLEMENTED);
    assert_string_equal(reply.message, "unknown method N\xc3\xb6% for service etcdserverpb.KV");
    r.path = "/nosuch.Service/Call";
    assert_int_equal(grpc_client_unary_sync(conn, &r, DEADLINE_MS, &reply), 0);
    assert_int_equal(reply.status, GRPC_STATUS_UNIMPLEMENTED);
    assert_string_equal(reply.message, "unknown service nosuch.Service");
    grpc_client_destroy(client);
}

/* ---- Watch streams -------------------------------------------------------------------------- */

struct watch {
    int created;
    int events;
    char value[64];
    struct outcome end;
};

static void watch_message(void *arg, struct grpc_client_call *call,
                          const struct grpc_client_message *message)
{
    (void)call;
    struct watch *w = arg;
    const Etcdserverpb__WatchResponse *resp = (const void *)message->decoded;
    assert_non_null(resp);
    if (resp->created)
        w->created++;
    for (size_t i = 0; i < resp->n_events; i++) {
        const Mvccpb__KeyValue *kv = resp->events[i]->kv;
        snprintf(w->value, sizeof(w->value), "%.*s", (int)kv->value.len,
                 (const char *)kv->value.data);
        w->events++;
    }
}

static void watch_done(void *arg, const struct grpc_client_result *result)
{
    struct watch *w = arg;
    outcome_done(&w->end, result);
    assert_null(result->response.decoded);
}

static bool watch_created(void *arg)
{
    return ((struct watch *)arg)->created > 0;
}

static bool watch_has_event(void *arg)
{
    return ((struct watch *)arg)->events > 0;
}

static bool watch_ended(void *arg)
{
    return ((struct watch *)arg)->end.runs > 0;
}

/* Opens a Watch on key; the create request goes with the stream when first is set, else it
 * is sent after the stream opened. */
static struct grpc_client_call *watch_open(struct grpc_client_conn *conn, const char *key,
                                           uint32_t timeout_ms, bool first, struct watch *w)
{
    Etcdserverpb__WatchCreateRequest create = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
    create.key = bin(key);
    Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
    req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    req.create_request = &create;
    struct grpc_client_request r = {.path = "/etcdserverpb.Watch/Watch",
                                    .message = first ? &req.base : NULL,
                                    .response = &etcdserverpb__watch_response__descriptor,
                                    .timeout_ms = timeout_ms};
    struct grpc_client_call *call = NULL;
    assert_int_equal(grpc_client_stream_open(conn, &r, &call, w, watch_message, watch_done), 0);
    if (!first)
        assert_int_equal(grpc_client_stream_send(call, &req.base), 0);
    return call;
}

static void test_watch_stream(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    struct grpc_client_conn *other = conn_new(client, shared_etcd.endpoint);
    struct watch w = {0};
    struct grpc_client_call *call = watch_open(conn, "client/watched", 0, false, &w);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &w, watch_created), 0);
    put(other, "client/watched", "hello");
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &w, watch_has_event), 0);
    assert_int_equal(w.events, 1);
    assert_string_equal(w.value, "hello");
    struct grpc_client_conn_info info;
    grpc_client_conn_info(conn, &info);
    assert_int_equal(info.streams_open, 1);
    /* etcd keeps a watch stream open after the client half-closes; cancel ends it. */
    grpc_client_stream_close_send(call);
    grpc_client_stream_close_send(call);
    Etcdserverpb__WatchRequest again = ETCDSERVERPB__WATCH_REQUEST__INIT;
    assert_int_equal(grpc_client_stream_send(call, &again.base), -EPIPE);
    grpc_client_call_cancel(call);
    assert_int_equal(w.end.runs, 0); /* done runs in the next turn */
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &w, watch_ended), 0);
    assert_int_equal(w.end.status, GRPC_STATUS_CANCELLED);
    assert_string_equal(w.end.message, "context canceled");
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, client, no_calls_in_use), 0);
    assert_int_equal(w.end.runs, 1);
    grpc_client_destroy(client);
}

static void test_deadline_on_endless_stream(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    struct watch w = {0};
    watch_open(conn, "client/deadline", 300, true, &w);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &w, watch_ended), 0);
    assert_int_equal(w.created, 1);
    assert_int_equal(w.end.status, GRPC_STATUS_DEADLINE_EXCEEDED);
    /* A unary call to Watch never ends either: unary_sync gives up after wait_ms. */
    Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
    struct grpc_client_request r = {.path = "/etcdserverpb.Watch/Watch", .message = &req.base};
    struct grpc_client_reply reply;
    assert_int_equal(grpc_client_unary_sync(conn, &r, 300, &reply), 0);
    assert_int_equal(reply.status, GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_string_equal(reply.message, "context deadline exceeded");
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, client, no_calls_in_use), 0);
    grpc_client_destroy(client);
}

static void test_cancel(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    /* Cancelled while still queued (the connection is not up yet). */
    struct watch queued = {0};
    struct grpc_client_call *call = watch_open(conn, "client/cancel", 0, true, &queued);
    grpc_client_call_cancel(call);
    grpc_client_call_cancel(call); /* a no-op once the end is decided */
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &queued, watch_ended), 0);
    assert_int_equal(queued.end.status, GRPC_STATUS_CANCELLED);
    assert_string_equal(queued.end.message, "context canceled");
    /* Cancelled while open on the server. */
    struct watch open = {0};
    call = watch_open(conn, "client/cancel", 0, true, &open);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &open, watch_created), 0);
    grpc_client_call_cancel(call);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &open, watch_ended), 0);
    assert_int_equal(open.end.status, GRPC_STATUS_CANCELLED);
    assert_int_equal(queued.end.runs, 1);
    assert_int_equal(open.end.runs, 1);
    /* The connection still serves calls. */
    expect_status_ok(conn);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, client, no_calls_in_use), 0);
    grpc_client_destroy(client);
}

/* ---- Many calls ------------------------------------------------------------------------------ */

#define MANY_CONNS 4
#define MANY_CALLS 2400

struct many {
    int ok;
    int failed;
    char first_failure[GRPC_CLIENT_STATUS_MESSAGE_BYTES_MAX];
};

static void many_done(void *arg, const struct grpc_client_result *result)
{
    struct many *m = arg;
    if (result->status == GRPC_STATUS_OK && result->response.decoded != NULL) {
        m->ok++;
        return;
    }
    if (m->failed++ == 0)
        snprintf(m->first_failure, sizeof(m->first_failure), "%d: %s", result->status,
                 result->message);
}

static bool many_all_done(void *arg)
{
    struct many *m = arg;
    return m->ok + m->failed == MANY_CALLS;
}

static void many_start(struct grpc_client_conn *conn, int i, struct many *m)
{
    char key[32];
    snprintf(key, sizeof(key), "client/many/%d", i % 100);
    Etcdserverpb__PutRequest put_req = ETCDSERVERPB__PUT_REQUEST__INIT;
    put_req.key = bin(key);
    put_req.value = bin("v");
    Etcdserverpb__RangeRequest range_req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    range_req.key = bin(key);
    struct grpc_client_request r = {.path = "/etcdserverpb.KV/Put",
                                    .message = &put_req.base,
                                    .response = &etcdserverpb__put_response__descriptor};
    if (i % 2 == 1) {
        r.path = "/etcdserverpb.KV/Range";
        r.message = &range_req.base;
        r.response = &etcdserverpb__range_response__descriptor;
    }
    assert_int_equal(grpc_client_unary(conn, &r, NULL, m, many_done), 0);
}

static void test_many_concurrent_calls(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(4096);
    struct grpc_client_conn *conns[MANY_CONNS];
    for (int i = 0; i < MANY_CONNS; i++)
        conns[i] = conn_new(client, shared_etcd.endpoint);
    struct many m = {0};
    for (int i = 0; i < MANY_CALLS; i++)
        many_start(conns[i % MANY_CONNS], i, &m);
    assert_int_equal(grpc_client_calls_in_use(client), MANY_CALLS);
    struct grpc_client_conn_info info;
    grpc_client_conn_info(conns[0], &info);
    assert_int_equal(info.calls_queued, MANY_CALLS / MANY_CONNS); /* not connected yet */
    assert_int_equal(grpc_client_run_until(client, 120000, &m, many_all_done), 0);
    if (m.failed > 0)
        fail_msg("%d of %d calls failed, the first with %s", m.failed, MANY_CALLS, m.first_failure);
    assert_int_equal(m.ok, MANY_CALLS);
    for (int i = 0; i < MANY_CONNS; i++) {
        grpc_client_conn_info(conns[i], &info);
        /* The server's stream limit held, and the queue kept it busy. */
        assert_int_equal(info.peer_streams_max, ETCD_STREAMS_MAX);
        assert_true(info.streams_open_peak <= ETCD_STREAMS_MAX);
        assert_true(info.streams_open_peak > 1);
        assert_int_equal(info.calls_queued, 0);
    }
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, client, no_calls_in_use), 0);
    grpc_client_destroy(client);
}

/* ---- Connections ------------------------------------------------------------------------------
 */

static void test_connection_refused(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", test_free_port());
    struct grpc_client_conn *conn = conn_new(client, endpoint);
    Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
    struct grpc_client_request r = {.path = "/etcdserverpb.Maintenance/Status",
                                    .message = &req.base};
    struct grpc_client_reply reply;
    assert_int_equal(grpc_client_unary_sync(conn, &r, DEADLINE_MS, &reply), 0);
    assert_int_equal(reply.status, GRPC_STATUS_UNAVAILABLE);
    assert_non_null(strstr(reply.message, "Connection refused"));
    struct grpc_client_conn_info info;
    grpc_client_conn_info(conn, &info);
    assert_int_equal(info.state, GRPC_CLIENT_CONN_FAILED);
    assert_non_null(strstr(info.error, "Connection refused"));
    /* A call on a failed connection is not an error: it ends UNAVAILABLE through done. */
    struct outcome o = {0};
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &o, outcome_done), 0);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &o, outcome_ran), 0);
    assert_int_equal(o.status, GRPC_STATUS_UNAVAILABLE);
    grpc_client_conn_close(conn);
    assert_int_equal(grpc_client_calls_in_use(client), 0);
    grpc_client_destroy(client);
}

static void test_unix_socket(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.unix_endpoint);
    expect_status_ok(conn);
    put(conn, "client/unix", "over-unix");
    grpc_client_conn_close(conn);
    /* "unix:" with a path straight after the colon is the same socket. */
    char endpoint[620];
    snprintf(endpoint, sizeof(endpoint), "unix:%s", shared_etcd.unix_path);
    conn = conn_new(client, endpoint);
    expect_status_ok(conn);
    grpc_client_destroy(client);
}

static void test_destroy_ends_open_calls(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    struct watch w = {0};
    watch_open(conn, "client/destroy", 0, true, &w);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &w, watch_created), 0);
    struct outcome queued = {0};
    Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
    struct grpc_client_request r = {.path = "/etcdserverpb.Maintenance/Status",
                                    .message = &req.base};
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &queued, outcome_done), 0);
    grpc_client_destroy(client);
    assert_int_equal(w.end.runs, 1);
    assert_int_equal(w.end.status, GRPC_STATUS_CANCELLED);
    assert_string_equal(w.end.message, "grpc: the client connection is closing");
    assert_int_equal(queued.runs, 1);
    assert_int_equal(queued.status, GRPC_STATUS_CANCELLED);
    assert_string_equal(queued.message, "grpc: the client connection is closing");
}

static void test_conn_close_ends_calls(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    struct grpc_client_conn *other = conn_new(client, shared_etcd.endpoint);
    struct watch w = {0};
    watch_open(conn, "client/close", 0, true, &w);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &w, watch_created), 0);
    grpc_client_conn_close(conn);
    assert_int_equal(w.end.runs, 0); /* callbacks in the next turn */
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &w, watch_ended), 0);
    assert_int_equal(w.end.status, GRPC_STATUS_CANCELLED);
    assert_int_equal(grpc_client_calls_in_use(client), 0);
    expect_status_ok(other);
    grpc_client_destroy(client);
}

static void test_pause_then_resume(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    expect_status_ok(conn); /* the connection is up and has the server's settings */
    grpc_client_conn_pause(conn, true);
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = bin("client/paused");
    struct grpc_client_request r = {.path = "/etcdserverpb.KV/Range", .message = &req.base};
    struct outcome o = {0};
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &o, outcome_done), 0);
    /* The request goes out but nothing is read, so the answer cannot arrive. */
    assert_int_equal(grpc_client_run_until(client, 500, &o, outcome_ran), -ETIMEDOUT);
    struct grpc_client_conn_info info;
    grpc_client_conn_info(conn, &info);
    assert_int_equal(info.streams_open, 1);
    assert_int_equal(info.calls_queued, 0);
    grpc_client_conn_pause(conn, false);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &o, outcome_ran), 0);
    assert_int_equal(o.status, GRPC_STATUS_OK);
    grpc_client_destroy(client);
}

static void test_server_going_away(void **state)
{
    (void)state;
    struct test_server own = {0};
    assert_int_equal(etcd_start(&own), 0);
    struct grpc_client *client = client_new(0);
    struct grpc_client_conn *conn = conn_new(client, own.endpoint);
    struct watch w = {0};
    watch_open(conn, "client/away", 0, true, &w);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &w, watch_created), 0);
    assert_int_equal(kill(own.proc.pid, SIGTERM), 0);
    assert_int_equal(grpc_client_run_until(client, 60000, &w, watch_ended), 0);
    assert_int_equal(w.end.status, GRPC_STATUS_UNAVAILABLE);
    struct grpc_client_conn_info info;
    grpc_client_conn_info(conn, &info);
    assert_int_equal(info.state, GRPC_CLIENT_CONN_FAILED);
    assert_true(info.error[0] != '\0');
    struct outcome o = {0};
    Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
    struct grpc_client_request r = {.path = "/etcdserverpb.Maintenance/Status",
                                    .message = &req.base};
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &o, outcome_done), 0);
    assert_int_equal(grpc_client_run_until(client, DEADLINE_MS, &o, outcome_ran), 0);
    assert_int_equal(o.status, GRPC_STATUS_UNAVAILABLE);
    grpc_client_destroy(client);
    etcd_stop(&own);
}

/* ---- A scripted HTTP/2 server --------------------------------------------------------------- */

/* What etcd never sends (GOAWAY before a stream, trailers-only answers, HTTP errors, broken
 * framing) comes from a server scripted here frame by frame: literal HPACK, no Huffman. */
struct fake {
    int listen_fd;
    int fd;
    uint16_t port;
    char endpoint[32];
    uint8_t in[1 << 16];
    size_t in_len;
    size_t parsed;
    int32_t last_headers_stream; /* the last request HEADERS seen */
    int headers_seen;
    uint32_t rst_code; /* the last RST_STREAM error code seen */
    int rst_seen;
};

static void fake_listen(struct fake *f)
{
    *f = (struct fake){.fd = -1};
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(f->listen_fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(f->listen_fd, 8), 0);
    socklen_t len = sizeof(addr);
    assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&addr, &len), 0);
    f->port = ntohs(addr.sin_port);
    snprintf(f->endpoint, sizeof(f->endpoint), "127.0.0.1:%u", f->port);
}

static uint32_t be_read(const uint8_t *p, int bytes)
{
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* Reads what the client sent and notes its HEADERS and RST_STREAM frames. */
static void fake_read(struct fake *f)
{
    if (f->fd < 0) {
        f->fd = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK);
        if (f->fd < 0)
            return;
    }
    ssize_t n = read(f->fd, f->in + f->in_len, sizeof(f->in) - f->in_len);
    if (n > 0)
        f->in_len += (size_t)n;
    if (f->parsed == 0 && f->in_len >= 24)
        f->parsed = 24; /* the client preface */
    while (f->parsed >= 24 && f->in_len - f->parsed >= 9) {
        const uint8_t *h = f->in + f->parsed;
        uint32_t len = be_read(h, 3);
        if (f->in_len - f->parsed < 9 + len)
            break;
        int32_t stream = (int32_t)(be_read(h + 5, 4) & 0x7fffffffu);
        if (h[3] == 0x1) {
            f->last_headers_stream = stream;
            f->headers_seen++;
        } else if (h[3] == 0x3) {
            f->rst_code = be_read(h + 9, 4);
            f->rst_seen++;
        }
        f->parsed += 9 + len;
    }
}

static void fake_close(struct fake *f)
{
    if (f->fd >= 0)
        close(f->fd);
    int listen_fd = f->listen_fd;
    *f = (struct fake){.fd = -1, .listen_fd = listen_fd, .port = f->port};
    snprintf(f->endpoint, sizeof(f->endpoint), "127.0.0.1:%u", f->port);
}

struct fake_wait {
    struct fake *f;
    bool (*cond)(void *arg);
    void *arg;
};

static bool fake_wait_step(void *arg)
{
    struct fake_wait *w = arg;
    fake_read(w->f);
    return w->cond(w->arg);
}

/* Runs the client until cond holds, reading the client's output as it goes. */
static void fake_run_until(struct grpc_client *client, struct fake *f, bool (*cond)(void *arg),
                           void *arg)
{
    struct fake_wait w = {.f = f, .cond = cond, .arg = arg};
    uint64_t end_ns = test_now_ns() + (uint64_t)DEADLINE_MS * 1000000u;
    while (!fake_wait_step(&w)) {
        assert_true(test_now_ns() < end_ns);
        assert_true(grpc_client_run_once(client, 5) >= 0);
    }
}

static bool fake_has_headers(void *arg)
{
    return ((struct fake *)arg)->headers_seen > 0;
}

static bool fake_has_rst(void *arg)
{
    return ((struct fake *)arg)->rst_seen > 0;
}

static bool fake_accepted(void *arg)
{
    return ((struct fake *)arg)->fd >= 0;
}

static void fake_frame(struct fake *f, uint8_t type, uint8_t flags, int32_t stream,
                       const void *payload, size_t len)
{
    uint8_t frame[9 + 512];
    assert_true(len <= 512);
    frame[0] = (uint8_t)(len >> 16), frame[1] = (uint8_t)(len >> 8), frame[2] = (uint8_t)len;
    frame[3] = type, frame[4] = flags;
    frame[5] = (uint8_t)(stream >> 24), frame[6] = (uint8_t)(stream >> 16);
    frame[7] = (uint8_t)(stream >> 8), frame[8] = (uint8_t)stream;
    memcpy(frame + 9, payload, len);
    assert_int_equal(write(f->fd, frame, 9 + len), (ssize_t)(9 + len));
}

static void fake_settings(struct fake *f, uint32_t streams_max)
{
    uint8_t p[6] = {0,
                    3,
                    (uint8_t)(streams_max >> 24),
                    (uint8_t)(streams_max >> 16),
                    (uint8_t)(streams_max >> 8),
                    (uint8_t)streams_max};
    fake_frame(f, 0x4, 0, 0, p, sizeof(p));
}

/* A HEADERS frame of "name", "value" pairs (NULL-terminated) as literal fields. */
static void fake_headers(struct fake *f, int32_t stream, bool end_stream, const char *const *nv)
{
    uint8_t block[512];
    size_t n = 0;
    for (; nv[0] != NULL; nv += 2) {
        size_t name_len = strlen(nv[0]), value_len = strlen(nv[1]);
        assert_true(name_len < 127 && value_len < 127 && n + 3 + name_len + value_len <= 512);
        block[n++] = 0x00; /* literal header field without indexing, new name */
        block[n++] = (uint8_t)name_len;
        memcpy(block + n, nv[0], name_len), n += name_len;
        block[n++] = (uint8_t)value_len;
        memcpy(block + n, nv[1], value_len), n += value_len;
    }
    fake_frame(f, 0x1, (uint8_t)(0x4 | (end_stream ? 0x1 : 0)), stream, block, n);
}

/* Connects, starts one unary call and waits for its HEADERS at the fake server. */
static struct grpc_client_conn *fake_call(struct grpc_client *client, struct fake *f,
                                          uint32_t streams_max, struct outcome *o)
{
    struct grpc_client_conn *conn = conn_new(client, f->endpoint);
    static const uint8_t request[] = {0x08, 0x01};
    struct grpc_client_request r = {
        .path = "/fake.Service/Call", .bytes = request, .bytes_len = sizeof(request)};
    assert_int_equal(grpc_client_unary(conn, &r, NULL, o, outcome_done), 0);
    fake_run_until(client, f, fake_accepted, f);
    fake_settings(f, streams_max);
    fake_run_until(client, f, fake_has_headers, f);
    assert_int_equal(f->last_headers_stream, 1);
    return conn;
}

static void expect_outcome(struct grpc_client *client, struct fake *f, struct outcome *o,
                           enum grpc_status status, const char *message)
{
    fake_run_until(client, f, outcome_ran, o);
    assert_int_equal(o->runs, 1);
    if (o->status != status)
        fail_msg("status %d (%s), expected %d", o->status, o->message, status);
    if (message != NULL)
        assert_string_equal(o->message, message);
}

/* Answers stream 1 with one message and status OK. */
static void fake_answer_ok(struct fake *f)
{
    fake_headers(f, 1, false,
                 (const char *const[]){":status", "200", "content-type", "application/grpc", NULL});
    const uint8_t message[] = {0, 0, 0, 0, 2, 0x08, 0x07};
    fake_frame(f, 0x0, 0, 1, message, sizeof(message));
    fake_headers(f, 1, true, (const char *const[]){"grpc-status", "0", NULL});
}

static void fake_goaway(struct fake *f, uint32_t last_stream)
{
    uint8_t goaway[8] = {(uint8_t)(last_stream >> 24), (uint8_t)(last_stream >> 16),
                         (uint8_t)(last_stream >> 8), (uint8_t)last_stream}; /* NO_ERROR */
    fake_frame(f, 0x7, 0, 0, goaway, sizeof(goaway));
}

static void test_fake_goaway(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct fake f;
    fake_listen(&f);
    /* Graceful: the open stream (1) may finish; the queued call fails at once. */
    struct outcome first = {0}, second = {0}, third = {0};
    struct grpc_client_conn *conn = fake_call(client, &f, 1, &first);
    static const uint8_t request[] = {0x08, 0x01};
    struct grpc_client_request r = {.path = "/fake.Service/Call", .bytes = request, .bytes_len = 2};
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &second, outcome_done), 0);
    struct grpc_client_conn_info info;
    grpc_client_conn_info(conn, &info);
    assert_int_equal(info.peer_streams_max, 1);
    assert_int_equal(info.calls_queued, 1); /* the server allows one stream */
    fake_goaway(&f, 1);
    expect_outcome(client, &f, &second, GRPC_STATUS_UNAVAILABLE, NULL);
    assert_non_null(strstr(second.message, "GOAWAY"));
    assert_int_equal(first.runs, 0);
    grpc_client_conn_info(conn, &info);
    assert_true(info.goaway);
    assert_int_equal(info.state, GRPC_CLIENT_CONN_FAILED);
    assert_int_equal(info.streams_open, 1);
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &third, outcome_done), 0);
    expect_outcome(client, &f, &third, GRPC_STATUS_UNAVAILABLE, NULL);
    fake_answer_ok(&f);
    expect_outcome(client, &f, &first, GRPC_STATUS_OK, "");
    grpc_client_conn_close(conn);
    fake_close(&f);
    /* A stream above GOAWAY's last stream id was refused: UNAVAILABLE. */
    first = (struct outcome){0};
    conn = fake_call(client, &f, 100, &first);
    fake_goaway(&f, 0);
    expect_outcome(client, &f, &first, GRPC_STATUS_UNAVAILABLE, NULL);
    grpc_client_conn_close(conn);
    fake_close(&f);
    close(f.listen_fd);
    grpc_client_destroy(client);
}

/* A server that never answers: only the client's own timer can end the call. */
static void test_fake_client_deadline(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct fake f;
    fake_listen(&f);
    struct grpc_client_conn *conn = conn_new(client, f.endpoint);
    static const uint8_t request[] = {0x08, 0x01};
    struct grpc_client_request r = {
        .path = "/fake.Service/Call", .bytes = request, .bytes_len = 2, .timeout_ms = 200};
    struct outcome open = {0}, queued = {0};
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &open, outcome_done), 0);
    /* Expires first, while the open call still holds the one stream slot. */
    r.timeout_ms = 100;
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &queued, outcome_done), 0);
    fake_run_until(client, &f, fake_accepted, &f);
    fake_settings(&f, 1); /* the second call stays queued */
    fake_run_until(client, &f, fake_has_headers, &f);
    expect_outcome(client, &f, &queued, GRPC_STATUS_DEADLINE_EXCEEDED, "context deadline exceeded");
    assert_int_equal(open.runs, 0);
    expect_outcome(client, &f, &open, GRPC_STATUS_DEADLINE_EXCEEDED, "context deadline exceeded");
    fake_run_until(client, &f, fake_has_rst, &f);
    assert_int_equal(f.rst_code, 0x8); /* CANCEL */
    assert_int_equal(f.headers_seen, 1);
    grpc_client_conn_close(conn);
    fake_close(&f);
    close(f.listen_fd);
    grpc_client_destroy(client);
}

static void test_fake_responses(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct fake f;
    fake_listen(&f);
    /* A trailers-only answer; grpc-message is percent-decoded, a bad escape kept. */
    struct outcome o = {0};
    struct grpc_client_conn *conn = fake_call(client, &f, 100, &o);
    fake_headers(&f, 1, true,
                 (const char *const[]){":status", "200", "content-type", "application/grpc",
                                       "grpc-status", "5", "grpc-message", "no%20such%ZZ%e2%9c%93",
                                       NULL});
    expect_outcome(client, &f, &o, GRPC_STATUS_NOT_FOUND, "no such%ZZ\xe2\x9c\x93");
    grpc_client_conn_close(conn);
    fake_close(&f);
    /* A whole answer: headers, one message, trailers. */
    o = (struct outcome){0};
    conn = fake_call(client, &f, 100, &o);
    fake_answer_ok(&f);
    expect_outcome(client, &f, &o, GRPC_STATUS_OK, "");
    grpc_client_conn_close(conn);
    fake_close(&f);
    /* Not gRPC at all: the HTTP status decides. */
    o = (struct outcome){0};
    conn = fake_call(client, &f, 100, &o);
    fake_headers(&f, 1, true, (const char *const[]){":status", "503", NULL});
    expect_outcome(client, &f, &o, GRPC_STATUS_UNAVAILABLE,
                   "unexpected HTTP status code received from server: 503");
    grpc_client_conn_close(conn);
    fake_close(&f);
    close(f.listen_fd);
    grpc_client_destroy(client);
}

static void test_fake_protocol_breakage(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(0);
    struct fake f;
    fake_listen(&f);
    /* A compressed message nobody negotiated: INTERNAL, and the stream is cancelled. */
    struct outcome o = {0};
    struct grpc_client_conn *conn = fake_call(client, &f, 100, &o);
    fake_headers(&f, 1, false,
                 (const char *const[]){":status", "200", "content-type", "application/grpc", NULL});
    const uint8_t compressed[] = {1, 0, 0, 0, 1, 0x00};
    fake_frame(&f, 0x0, 0, 1, compressed, sizeof(compressed));
    expect_outcome(client, &f, &o, GRPC_STATUS_INTERNAL, NULL);
    fake_run_until(client, &f, fake_has_rst, &f);
    assert_int_equal(f.rst_code, 0x8); /* CANCEL */
    grpc_client_conn_close(conn);
    fake_close(&f);
    /* The stream ends without grpc-status. */
    o = (struct outcome){0};
    conn = fake_call(client, &f, 100, &o);
    fake_headers(&f, 1, true, (const char *const[]){":status", "200", NULL});
    expect_outcome(client, &f, &o, GRPC_STATUS_INTERNAL, NULL);
    grpc_client_conn_close(conn);
    fake_close(&f);
    /* A frame that breaks HTTP/2 itself (DATA on stream 0): the connection is lost. */
    o = (struct outcome){0};
    conn = fake_call(client, &f, 100, &o);
    fake_frame(&f, 0x0, 0, 0, "x", 1);
    expect_outcome(client, &f, &o, GRPC_STATUS_INTERNAL, NULL);
    struct grpc_client_conn_info info;
    grpc_client_conn_info(conn, &info);
    assert_int_equal(info.state, GRPC_CLIENT_CONN_FAILED);
    grpc_client_conn_close(conn);
    fake_close(&f);
    close(f.listen_fd);
    assert_int_equal(grpc_client_calls_in_use(client), 0);
    grpc_client_destroy(client);
}

/* ---- Errors of the start functions ---------------------------------------------------------- */

static void test_bad_endpoints_and_config(void **state)
{
    (void)state;
    struct grpc_client *client = NULL;
    struct grpc_client_config too_many = {.calls_max = GRPC_CLIENT_CALLS_MAX + 1};
    assert_int_equal(grpc_client_create(&too_many, &client), -EINVAL);
    struct grpc_client_config two = {.conns_max = 2};
    assert_int_equal(grpc_client_create(&two, &client), 0);
    struct grpc_client_conn *conn;
    const char *bad[] = {"nonsense",    "https://127.0.0.1:2379",
                         "127.0.0.1:0", "127.0.0.1:99999",
                         "127.0.0.1:",  ":2379",
                         "::1:2379",    "[::1]2379",
                         "unix:",       "unix://"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(grpc_client_connect(client, bad[i], &conn), -EINVAL);
    struct grpc_client_conn *a = conn_new(client, shared_etcd.endpoint);
    conn_new(client, "127.0.0.1:1");
    assert_int_equal(grpc_client_connect(client, shared_etcd.endpoint, &conn), -RINGD_EFULL);
    assert_ptr_equal(grpc_client_conn_client(a), client);
    grpc_client_conn_close(a);
    /* The slot comes back once the closed connection's fd is closed. */
    struct grpc_client_reply reply;
    conn = NULL;
    for (int i = 0; i < 1000 && grpc_client_connect(client, shared_etcd.endpoint, &conn) != 0; i++)
        assert_true(grpc_client_run_once(client, 10) >= 0);
    assert_non_null(conn);
    Etcdserverpb__StatusResponse *status = status_call(conn, &reply);
    assert_string_equal(status->version, "3.4.23");
    grpc_client_reply_free(&reply);
    grpc_client_destroy(client);
}

static void test_start_errors(void **state)
{
    (void)state;
    struct grpc_client *client = client_new(2);
    struct grpc_client_conn *conn = conn_new(client, shared_etcd.endpoint);
    struct outcome o = {0};
    Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
    struct grpc_client_request r = {.message = &req.base};
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &o, outcome_done), -EINVAL); /* no path */
    r.path = "/etcdserverpb.Maintenance/Status";
    struct grpc_client_metadata bad_md[] = {{"Upper", "x"}};
    r.metadata = bad_md;
    r.metadata_count = 1;
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &o, outcome_done), -EINVAL);
    r.metadata_count = GRPC_CLIENT_METADATA_MAX + 1;
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &o, outcome_done), -EINVAL);
    r.metadata_count = 0;
    r.message = NULL; /* a unary call always sends a message */
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &o, outcome_done), -EINVAL);
    size_t big_len = GRPC_CLIENT_SEND_MESSAGE_BYTES_MAX + 1;
    uint8_t *big = calloc(1, big_len);
    assert_non_null(big);
    r.bytes = big;
    r.bytes_len = big_len;
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &o, outcome_done), -EMSGSIZE);
    /* A stream's unsent bytes are bounded: the connection is not up, so nothing drains. */
    struct watch w1 = {0}, w2 = {0};
    struct grpc_client_call *s1 = watch_open(conn, "client/errors", 0, true, &w1);
    int err = 0;
    size_t accepted = 0;
    for (int i = 0; i < 64 && err == 0; i++) {
        err = grpc_client_stream_send_bytes(s1, big, 1u << 20);
        accepted += err == 0;
    }
    assert_int_equal(err, -RINGD_EFULL);
    assert_int_equal(accepted, GRPC_CLIENT_STREAM_SEND_BYTES_MAX / (1u << 20) - 1);
    assert_int_equal(grpc_client_stream_send_bytes(s1, big, big_len), -EMSGSIZE);
    free(big);
    watch_open(conn, "client/errors", 0, true, &w2);
    r.bytes = NULL;
    r.bytes_len = 0;
    r.message = &req.base;
    assert_int_equal(grpc_client_unary(conn, &r, NULL, &o, outcome_done), -RINGD_EFULL);
    grpc_client_destroy(client);
    assert_int_equal(w1.end.status, GRPC_STATUS_CANCELLED);
    assert_int_equal(w2.end.status, GRPC_STATUS_CANCELLED);
    assert_int_equal(o.runs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_decoded),
        cmocka_unit_test(test_put_then_range),
        cmocka_unit_test(test_future_revision_is_out_of_range),
        cmocka_unit_test(test_unknown_method_is_unimplemented),
        cmocka_unit_test(test_watch_stream),
        cmocka_unit_test(test_deadline_on_endless_stream),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_many_concurrent_calls),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_destroy_ends_open_calls),
        cmocka_unit_test(test_conn_close_ends_calls),
        cmocka_unit_test(test_pause_then_resume),
        cmocka_unit_test(test_server_going_away),
        cmocka_unit_test(test_fake_goaway),
        cmocka_unit_test(test_fake_client_deadline),
        cmocka_unit_test(test_fake_responses),
        cmocka_unit_test(test_fake_protocol_breakage),
        cmocka_unit_test(test_bad_endpoints_and_config),
        cmocka_unit_test(test_start_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
