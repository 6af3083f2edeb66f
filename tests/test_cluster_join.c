/* Members joining and leaving a running ringd cluster of real processes, driven by Debian's
 * etcdctl (3.4.23): three members bootstrap; `member add --learner` and a fourth started with
 * --initial-cluster-state existing fetches the cluster's ids over the peer port, gets the
 * leader's snapshot, restarts on it and serves every key; it is promoted, takes the leadership
 * (move-leader), and a bootstrap member is removed; member list and endpoint status say so.
 * Then the ids in the data dir: a member restarted with another --initial-cluster-token keeps
 * its ids and rejoins; a node of another cluster is refused by the peers with a log line naming
 * both cluster ids; a join the cluster did not expect fails with etcd's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdserverpb/rpc.pb-c.h"
#include "grpc_client.h"
#include "test_support.h"

#define MEMBERS_MAX     4
#define CALL_TIMEOUT_MS 10000
#define WAIT_MS         20000
#define KEYS_PER_ROUND  20
#define OUTPUT_BYTES    8192

struct member {
    struct test_server server;
    struct grpc_client_conn *conn;
    uint16_t client_port;
    uint16_t peer_port;
    char name[16];
    char data_dir[320];
    uint64_t id;
    bool up;
};

struct cluster {
    struct member m[MEMBERS_MAX];
    uint32_t count;
    char initial[512];
    struct grpc_client *client;
    uint32_t keys; /* acknowledged puts: key k%05u has value v<k> */
    uint64_t cluster_id;
    struct member *target;  /* of the wait conditions */
    struct member stranger; /* a node of another cluster, a join nobody added */
};

static struct cluster the_cluster;

static char *const member_flags[] = {"--heartbeat-interval", "50", "--election-timeout", "500",
                                     NULL};

static void member_spawn(struct member *m, const char *initial, char *const *args)
{
    const struct test_server_options o = {.args = args != NULL ? args : member_flags,
                                          .data_dir = m->data_dir,
                                          .client_port = m->client_port,
                                          .peer_port = m->peer_port,
                                          .name = m->name,
                                          .initial_cluster = initial};
    assert_int_equal(test_server_spawn(&m->server, TEST_SERVER_RINGD, &o), 0);
}

static void member_ready(struct cluster *c, struct member *m)
{
    if (test_server_wait_ready(&m->server) != 0) {
        test_server_print_log_tail(&m->server, 40);
        fail_msg("%s did not become ready", m->name);
    }
    assert_int_equal(grpc_client_connect(c->client, m->server.endpoint, &m->conn), 0);
    m->up = true;
}

static void member_down(struct member *m)
{
    grpc_client_conn_close(m->conn);
    m->conn = NULL;
    m->up = false;
}

static int call_sync(struct grpc_client_conn *conn, const char *path,
                     const ProtobufCMessage *message, const ProtobufCMessageDescriptor *response,
                     struct grpc_client_reply *reply)
{
    const struct grpc_client_request req = {
        .path = path, .message = message, .response = response, .timeout_ms = CALL_TIMEOUT_MS};
    int rc = grpc_client_unary_sync(conn, &req, CALL_TIMEOUT_MS + 1000, reply);
    if (rc != 0) {
        reply->status = GRPC_STATUS_INTERNAL;
        snprintf(reply->message, sizeof(reply->message), "grpc_client_unary_sync: %d", rc);
        reply->response = NULL;
    }
    return reply->status == GRPC_STATUS_OK ? 0 : -1;
}

/* The member's leader (0: none); its own id and the cluster id go to m->id and c->cluster_id. */
static uint64_t member_leader(struct cluster *c, struct member *m)
{
    Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
    struct grpc_client_reply reply;
    if (call_sync(m->conn, "/etcdserverpb.Maintenance/Status", &req.base,
                  &etcdserverpb__status_response__descriptor, &reply) != 0)
        return 0;
    const Etcdserverpb__StatusResponse *r = (const void *)reply.response;
    uint64_t leader = r->leader;
    m->id = r->header->member_id;
    assert_true(c->cluster_id == 0 || r->header->cluster_id == c->cluster_id);
    c->cluster_id = r->header->cluster_id;
    grpc_client_reply_free(&reply);
    return leader;
}

/* Every member up names the same leader; the one it names (or NULL). */
static struct member *cluster_leader(struct cluster *c)
{
    uint64_t agreed = 0;
    for (uint32_t i = 0; i < c->count; i++) {
        if (!c->m[i].up)
            continue;
        uint64_t l = member_leader(c, &c->m[i]);
        if (l == 0 || (agreed != 0 && l != agreed))
            return NULL;
        agreed = l;
    }
    for (uint32_t i = 0; i < c->count; i++)
        if (c->m[i].up && c->m[i].id == agreed)
            return &c->m[i];
    return NULL;
}

static bool leader_is_target(void *arg)
{
    struct cluster *c = arg;
    struct member *l = cluster_leader(c);
    return l != NULL && (c->target == NULL || l == c->target);
}

static struct member *cluster_wait_leader(struct cluster *c, struct member *want)
{
    c->target = want;
    if (!test_wait_until(leader_is_target, c, WAIT_MS))
        fail_msg("no leader (%s) agreed by every member within %d ms", want ? want->name : "any",
                 WAIT_MS);
    return cluster_leader(c);
}

static void put_round(struct cluster *c, struct member *m)
{
    for (uint32_t i = 0; i < KEYS_PER_ROUND; i++, c->keys++) {
        char key[32], value[32];
        int kl = snprintf(key, sizeof key, "k%05u", c->keys);
        int vl = snprintf(value, sizeof value, "v%u", c->keys);
        Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
        req.key = (ProtobufCBinaryData){(size_t)kl, (uint8_t *)key};
        req.value = (ProtobufCBinaryData){(size_t)vl, (uint8_t *)value};
        struct grpc_client_reply reply;
        if (call_sync(m->conn, "/etcdserverpb.KV/Put", &req.base,
                      &etcdserverpb__put_response__descriptor, &reply) != 0)
            fail_msg("put %s through %s: %d %s", key, m->name, reply.status, reply.message);
        grpc_client_reply_free(&reply);
    }
}

/* Every acknowledged key, read from c->target (serializable: a learner serves only those). */
static bool target_has_all(void *arg)
{
    struct cluster *c = arg;
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = (ProtobufCBinaryData){1, (uint8_t *)"k"};
    req.range_end = (ProtobufCBinaryData){1, (uint8_t *)"l"};
    req.serializable = true;
    struct grpc_client_reply reply;
    if (call_sync(c->target->conn, "/etcdserverpb.KV/Range", &req.base,
                  &etcdserverpb__range_response__descriptor, &reply) != 0)
        return false;
    const Etcdserverpb__RangeResponse *r = (const void *)reply.response;
    bool ok = r->n_kvs == c->keys;
    for (size_t i = 0; ok && i < r->n_kvs; i++) {
        char want[32];
        int n = snprintf(want, sizeof want, "v%zu", i);
        ok = r->kvs[i]->value.len == (size_t)n && memcmp(r->kvs[i]->value.data, want, n) == 0;
    }
    grpc_client_reply_free(&reply);
    return ok;
}

static void wait_has_all(struct cluster *c, struct member *m)
{
    c->target = m;
    if (!test_wait_until(target_has_all, c, WAIT_MS)) {
        test_server_print_log_tail(&m->server, 40);
        fail_msg("%s does not have the %u keys", m->name, c->keys);
    }
}

/* Runs etcdctl against endpoints with args (NULL-terminated); its exit status, and its stdout
 * and stderr in out. */
static int etcdctl(const char *endpoints, char *out, const char *const *args)
{
    char *argv[16] = {TEST_ETCDCTL_BIN, "--endpoints", (char *)endpoints};
    int n = 3;
    while (*args != NULL && n < 15)
        argv[n++] = (char *)*args++;
    argv[n] = NULL;
    struct test_proc p;
    assert_int_equal(test_proc_start(&p, argv), 0);
    int status = test_proc_wait_exit(&p, WAIT_MS);
    test_proc_output(&p, out, OUTPUT_BYTES);
    test_proc_cleanup(&p);
    if (getenv("TEST_VERBOSE") != NULL)
        fprintf(stderr, "etcdctl %s: %d\n%s\n", argv[3], status, out);
    return status;
}

#define ETCDCTL(endpoints, out, ...) \
    etcdctl(endpoints, out, (const char *const[]){__VA_ARGS__, NULL})

static void expect_output(const char *out, const char *want)
{
    if (strstr(out, want) == NULL)
        fail_msg("etcdctl said:\n%s\nnot: %s", out, want);
}

static void member_init(struct member *m, const char *dir, uint32_t k)
{
    m->client_port = test_free_port();
    m->peer_port = test_free_port();
    snprintf(m->name, sizeof m->name, "n%u", k + 1);
    snprintf(m->data_dir, sizeof m->data_dir, "%s/n%u.data", dir, k + 1);
}

static void cluster_start(struct cluster *c, const char *dir)
{
    size_t used = 0;
    c->count = 3;
    for (uint32_t i = 0; i < c->count; i++) {
        member_init(&c->m[i], dir, i);
        used += (size_t)snprintf(c->initial + used, sizeof c->initial - used,
                                 "%s%s=http://127.0.0.1:%u", i > 0 ? "," : "", c->m[i].name,
                                 c->m[i].peer_port);
    }
    const struct grpc_client_config cc = {0};
    assert_int_equal(grpc_client_create(&cc, &c->client), 0);
    for (uint32_t i = 0; i < c->count; i++)
        member_spawn(&c->m[i], c->initial, NULL);
    for (uint32_t i = 0; i < c->count; i++)
        member_ready(c, &c->m[i]);
}

/* member add --learner: the fourth member's id and the --initial-cluster etcdctl printed. A
 * second learner is refused as etcd refuses it. */
static uint64_t add_learner(struct cluster *c, struct member *n4, const char *eps, char *initial)
{
    static char out[OUTPUT_BYTES];
    char url[64];
    snprintf(url, sizeof url, "--peer-urls=http://127.0.0.1:%u", n4->peer_port);
    assert_int_equal(ETCDCTL(eps, out, "member", "add", "n4", url, "--learner"), 0);
    uint64_t id = 0, cid = 0;
    const char *line = strstr(out, "Member ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "Member %" SCNx64 " added to cluster %" SCNx64, &id, &cid), 2);
    assert_int_equal(cid, c->cluster_id);
    const char *ic = strstr(out, "ETCD_INITIAL_CLUSTER=\"");
    assert_non_null(ic);
    ic += strlen("ETCD_INITIAL_CLUSTER=\"");
    size_t len = strcspn(ic, "\"");
    memcpy(initial, ic, len);
    initial[len] = '\0';
    assert_int_not_equal(
        ETCDCTL(eps, out, "member", "add", "n5", "--peer-urls=http://127.0.0.1:1", "--learner"), 0);
    expect_output(out, "etcdserver: too many learner members in cluster");
    return id;
}

/* The fourth member joins as a learner: no bootstrap, the leader's snapshot, every key. */
static struct member *join_fourth(struct cluster *c, const char *dir, const char *eps)
{
    struct member *n4 = &c->m[3];
    member_init(n4, dir, 3);
    static char initial[512];
    uint64_t id = add_learner(c, n4, eps, initial);
    static char *const join_flags[] = {"--heartbeat-interval",
                                       "50",
                                       "--election-timeout",
                                       "500",
                                       "--initial-cluster-state",
                                       "existing",
                                       NULL};
    member_spawn(n4, initial, join_flags);
    c->count = 4;
    member_ready(c, n4);
    assert_true(test_proc_wait_output(&n4->server.proc, "fetched the cluster from a member", 1));
    assert_true(
        test_proc_wait_output(&n4->server.proc, "restarting ringd server on the installed", 1));
    wait_has_all(c, n4);
    (void)member_leader(c, n4);
    assert_int_equal(n4->id, id);
    return n4;
}

/* A membership change answered "still being applied" (the one before it is not applied on the
 * leader yet) is asked again until the deadline. */
struct conf_call {
    const char *endpoint;
    const char *const *args;
    char *out;
    int status;
};

static bool conf_call_done(void *arg)
{
    struct conf_call *cc = arg;
    cc->status = etcdctl(cc->endpoint, cc->out, cc->args);
    return strstr(cc->out, "a membership change is still being applied") == NULL;
}

static int etcdctl_conf(const char *endpoint, char *out, const char *const *args)
{
    struct conf_call cc = {.endpoint = endpoint, .args = args, .out = out};
    assert_true(test_wait_until(conf_call_done, &cc, WAIT_MS));
    return cc.status;
}

#define ETCDCTL_CONF(endpoint, out, ...) \
    etcdctl_conf(endpoint, out, (const char *const[]){__VA_ARGS__, NULL})

static void promote_and_lead(struct cluster *c, struct member *n4)
{
    static char out[OUTPUT_BYTES];
    char hex[20];
    snprintf(hex, sizeof hex, "%" PRIx64, n4->id);
    struct member *leader = cluster_wait_leader(c, NULL);
    put_round(c, leader);
    wait_has_all(c, n4);
    assert_int_equal(ETCDCTL_CONF(leader->server.endpoint, out, "member", "promote", hex), 0);
    expect_output(out, "promoted in cluster");
    assert_int_not_equal(ETCDCTL(leader->server.endpoint, out, "member", "promote", hex), 0);
    expect_output(out, "etcdserver: can only promote a learner member");
    assert_int_equal(ETCDCTL(leader->server.endpoint, out, "move-leader", hex), 0);
    expect_output(out, "Leadership transferred from ");
    cluster_wait_leader(c, n4);
    put_round(c, n4);
}

/* A bootstrap member leaves; the list and the status say who is left and who leads. */
static void remove_one(struct cluster *c, struct member *n4, const char *eps)
{
    static char out[OUTPUT_BYTES];
    struct member *gone = &c->m[0];
    char hex[20], line[160];
    snprintf(hex, sizeof hex, "%" PRIx64, gone->id);
    assert_int_equal(ETCDCTL_CONF(n4->server.endpoint, out, "member", "remove", hex), 0);
    expect_output(out, "removed from cluster");
    member_down(gone);
    test_server_kill(&gone->server);
    assert_int_equal(ETCDCTL(n4->server.endpoint, out, "member", "list"), 0);
    snprintf(line, sizeof line,
             "%" PRIx64 ", started, n4, http://127.0.0.1:%u, http://127.0.0.1:%u, false", n4->id,
             n4->peer_port, n4->client_port);
    expect_output(out, line);
    assert_null(strstr(out, ", n1, "));
    (void)eps;
    assert_int_equal(ETCDCTL(n4->server.endpoint, out, "endpoint", "status"), 0);
    snprintf(line, sizeof line, "%s, %" PRIx64 ", ", n4->server.endpoint, n4->id);
    expect_output(out, line);
    expect_output(out, ", true, false, "); /* the leader, no learner */
}

/* Restarted with another token, n2 keeps the ids its data dir recorded and rejoins. */
static void restart_other_token(struct cluster *c)
{
    struct member *n2 = &c->m[1];
    uint64_t id = n2->id;
    member_down(n2);
    assert_int_equal(test_server_stop(&n2->server), 0);
    static char *const token_flags[] = {"--heartbeat-interval",
                                        "50",
                                        "--election-timeout",
                                        "500",
                                        "--initial-cluster-token",
                                        "another",
                                        NULL};
    member_spawn(n2, c->initial, token_flags);
    member_ready(c, n2);
    assert_true(
        test_proc_wait_output(&n2->server.proc, "found the member's ids in the data dir", 1));
    put_round(c, cluster_wait_leader(c, NULL));
    wait_has_all(c, n2);
    (void)member_leader(c, n2);
    assert_int_equal(n2->id, id);
}

/* A node of another cluster (a fresh data dir naming n3 among its members) is refused by n3
 * with a line naming both cluster ids; a join nobody added fails with etcd's text. */
static void strangers(struct cluster *c, const char *dir)
{
    struct member *x = &c->stranger, *n3 = &c->m[2];
    member_init(x, dir, 8);
    char initial[640];
    snprintf(initial, sizeof initial, "n9=http://127.0.0.1:%u,n3=http://127.0.0.1:%u", x->peer_port,
             n3->peer_port);
    member_spawn(x, initial, NULL);
    assert_true(test_proc_wait_output(&n3->server.proc, "request cluster ID mismatch", WAIT_MS));
    char cid[40];
    snprintf(cid, sizeof cid, "\"local-member-cluster-id\":\"%" PRIx64 "\"", c->cluster_id);
    assert_true(test_proc_wait_output(&n3->server.proc, cid, 1));
    assert_true(test_proc_wait_output(&n3->server.proc, "\"remote-peer-cluster-id\":\"", 1));
    assert_int_equal(test_server_stop(&x->server), 0);

    snprintf(x->data_dir, sizeof x->data_dir, "%s/n9-join.data", dir);
    snprintf(initial, sizeof initial, "%s,n9=http://127.0.0.1:%u", c->initial, x->peer_port);
    static char *const join_flags[] = {"--initial-cluster-state", "existing", NULL};
    member_spawn(x, initial, join_flags);
    assert_int_equal(test_proc_wait_exit(&x->server.proc, WAIT_MS), 1);
    assert_true(test_proc_wait_output(&x->server.proc, "error validating peerURLs {ClusterID:", 1));
    assert_true(test_proc_wait_output(&x->server.proc,
                                      "RemovedMemberIDs:[]}: member count is "
                                      "unequal",
                                      1));
    test_proc_cleanup(&x->server.proc);
}

static void test_cluster_join(void **state)
{
    (void)state;
    struct cluster *c = &the_cluster;
    const char *dir = test_temp_dir("cluster-join");
    cluster_start(c, dir);
    char eps[256];
    snprintf(eps, sizeof eps, "%.64s,%.64s,%.64s", c->m[0].server.endpoint, c->m[1].server.endpoint,
             c->m[2].server.endpoint);
    put_round(c, cluster_wait_leader(c, NULL));
    struct member *n4 = join_fourth(c, dir, eps);
    promote_and_lead(c, n4);
    remove_one(c, n4, eps);
    restart_other_token(c);
    strangers(c, dir);
    for (uint32_t i = 0; i < c->count; i++) {
        if (c->m[i].up)
            member_down(&c->m[i]);
        test_server_stop(&c->m[i].server);
    }
    grpc_client_destroy(c->client);
    test_remove_dir(dir);
}

/* A test that failed half-way leaves no member running. */
static int cluster_teardown(void **state)
{
    (void)state;
    for (uint32_t i = 0; i <= MEMBERS_MAX; i++) {
        struct member *m = i < MEMBERS_MAX ? &the_cluster.m[i] : &the_cluster.stranger;
        void *proc = &m->server.proc;
        test_proc_kill_leftover(&proc);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cluster_join, cluster_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
