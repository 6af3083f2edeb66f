/* A 3-member ringd cluster of real processes on 127.0.0.1.
 *
 * Failover: the members elect one leader, writes through any member (a follower forwards to the
 * leader) are read back linearizably from every member; then the leader is killed with SIGKILL,
 * the other two elect a new leader within a few election timeouts, writes go on, and the killed
 * member, restarted on its data, catches up. No acknowledged write may be missing anywhere.
 *
 * Joining, driven by Debian's etcdctl (3.4.23): `member add --learner`, and a fourth member
 * started with --initial-cluster-state existing fetches the cluster's ids over the peer port,
 * gets the leader's snapshot, restarts on it and serves every key; a second learner is refused;
 * it is promoted (promoting it again is refused), takes the leadership (move-leader), and a
 * bootstrap member is removed; member list and endpoint status say so. Then the ids in the data
 * dir: a member restarted with another --initial-cluster-token keeps its ids and rejoins; a node
 * of another cluster is refused by the peers with a log line naming both cluster ids; a join the
 * cluster did not expect fails with etcd's text. */
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
#include "ringd_error.h"
#include "test_support.h"

#define MEMBERS         3 /* bootstrap members */
#define MEMBERS_MAX     4 /* with the one that joins */
#define OUTPUT_BYTES    8192
#define CALL_TIMEOUT_MS 10000
#define LEADER_WAIT_MS  20000
#define KEYS_PER_ROUND  40

struct member {
    struct test_server server;
    struct grpc_client_conn *conn;
    uint16_t client_port;
    uint16_t peer_port;
    char name[16];
    char data_dir[320];
    uint64_t id;
    bool up;
    bool learner; /* takes no writes */
};

struct cluster {
    struct member m[MEMBERS_MAX];
    int count; /* members started */
    char initial[512];
    struct grpc_client *client;
    uint32_t keys; /* acknowledged puts: key k has value "v<k>" */
    uint64_t cluster_id;
    int leader;
    struct member *catching_up;
    int want_leader;        /* cluster_leader_is: -1 any */
    struct member stranger; /* a node of another cluster, a join nobody added */
};

static struct cluster the_cluster;

/* A member joining a running cluster (after etcdctl member add). */
static char *const join_flags[] = {"--heartbeat-interval",
                                   "50",
                                   "--election-timeout",
                                   "500",
                                   "--initial-cluster-state",
                                   "existing",
                                   NULL};

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

/* SIGKILL: the member is gone, with its connection. */
static void member_kill(struct member *m)
{
    assert_int_equal(test_server_kill(&m->server), 137);
    grpc_client_conn_close(m->conn);
    m->conn = NULL;
    m->up = false;
}

static void member_ready(struct cluster *c, struct member *m)
{
    if (test_server_wait_ready(&m->server) != 0) {
        test_server_print_log_tail(&m->server, 40);
        fail_msg("%s did not become ready", m->name);
    }
    int rc = grpc_client_connect(c->client, m->server.endpoint, &m->conn);
    assert_int_equal(rc, 0);
    m->up = true;
}

static int call_sync(struct grpc_client_conn *conn, const char *path,
                     const ProtobufCMessage *message, const ProtobufCMessageDescriptor *response,
                     struct grpc_client_reply *reply)
{
    return test_unary_sync(conn, path, message, response, CALL_TIMEOUT_MS, reply);
}

/* The member's view of the leader (0: none), and its own id in *member_id. */
static uint64_t member_leader(struct member *m, uint64_t *member_id, uint64_t *cluster_id)
{
    Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
    struct grpc_client_reply reply;
    if (call_sync(m->conn, "/etcdserverpb.Maintenance/Status", &req.base,
                  &etcdserverpb__status_response__descriptor, &reply) != 0)
        return 0;
    const Etcdserverpb__StatusResponse *r = (const void *)reply.response;
    uint64_t leader = r->leader;
    *member_id = r->header->member_id;
    *cluster_id = r->header->cluster_id;
    grpc_client_reply_free(&reply);
    return leader;
}

/* True when every member that is up names the same leader, one of them (its index in
 * c->leader), and it is c->want_leader unless that is -1. */
static bool cluster_has_leader(void *arg)
{
    struct cluster *c = arg;
    uint64_t agreed = 0, cluster_ids[MEMBERS_MAX] = {0};
    for (int i = 0; i < c->count; i++) {
        if (!c->m[i].up)
            continue;
        uint64_t l = member_leader(&c->m[i], &c->m[i].id, &cluster_ids[i]);
        if (l == 0 || (agreed != 0 && l != agreed))
            return false;
        agreed = l;
        assert_true(cluster_ids[i] != 0 && (c->cluster_id == 0 || cluster_ids[i] == c->cluster_id));
        c->cluster_id = cluster_ids[i];
    }
    for (int i = 0; i < c->count; i++)
        if (c->m[i].up && c->m[i].id == agreed) {
            c->leader = i;
            return c->want_leader < 0 || i == c->want_leader;
        }
    return false;
}

/* Waits until every member up agrees on a leader (want: that one; -1: any); its index. */
static int cluster_wait_leader_is(struct cluster *c, int want)
{
    c->want_leader = want;
    if (!test_wait_until(cluster_has_leader, c, LEADER_WAIT_MS))
        fail_msg("no leader (%d) agreed by every member within %d ms", want, LEADER_WAIT_MS);
    return c->leader;
}

static int cluster_wait_leader(struct cluster *c)
{
    return cluster_wait_leader_is(c, -1);
}

static void put_key(struct cluster *c, struct member *m, uint32_t k)
{
    char key[32], value[32];
    int kl = snprintf(key, sizeof key, "k%05u", k);
    int vl = snprintf(value, sizeof value, "v%u", k);
    Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
    req.key = (ProtobufCBinaryData){(size_t)kl, (uint8_t *)key};
    req.value = (ProtobufCBinaryData){(size_t)vl, (uint8_t *)value};
    struct grpc_client_reply reply;
    if (call_sync(m->conn, "/etcdserverpb.KV/Put", &req.base,
                  &etcdserverpb__put_response__descriptor, &reply) != 0)
        fail_msg("put %s through %s: %d %s", key, m->name, reply.status, reply.message);
    grpc_client_reply_free(&reply);
    (void)c;
}

/* Every acknowledged key, read from m (linearizable unless serializable): true when all match. */
static bool member_has_all(struct cluster *c, struct member *m, bool serializable)
{
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = (ProtobufCBinaryData){1, (uint8_t *)"k"};
    req.range_end = (ProtobufCBinaryData){1, (uint8_t *)"l"};
    req.serializable = serializable;
    struct grpc_client_reply reply;
    if (call_sync(m->conn, "/etcdserverpb.KV/Range", &req.base,
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

/* MemberList through m: every member, sorted by id, with the name and the client URL it
 * published and its peer URL. */
static void check_member_list(struct cluster *c, struct member *m)
{
    Etcdserverpb__MemberListRequest req = ETCDSERVERPB__MEMBER_LIST_REQUEST__INIT;
    struct grpc_client_reply reply;
    if (call_sync(m->conn, "/etcdserverpb.Cluster/MemberList", &req.base,
                  &etcdserverpb__member_list_response__descriptor, &reply) != 0)
        fail_msg("MemberList through %s: %d %s", m->name, reply.status, reply.message);
    const Etcdserverpb__MemberListResponse *r = (const void *)reply.response;
    assert_int_equal(r->n_members, MEMBERS);
    assert_int_equal(r->header->cluster_id, c->cluster_id);
    for (size_t i = 0; i < r->n_members; i++) {
        const Etcdserverpb__Member *pm = r->members[i];
        assert_true(i == 0 || r->members[i - 1]->id < pm->id);
        int k = pm->name[0] == 'n' ? atoi(pm->name + 1) - 1 : -1;
        assert_true(k >= 0 && k < MEMBERS);
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%u", c->m[k].peer_port);
        assert_int_equal(pm->n_peerurls, 1);
        assert_string_equal(pm->peerurls[0], url);
        snprintf(url, sizeof url, "http://127.0.0.1:%u", c->m[k].client_port);
        assert_int_equal(pm->n_clienturls, 1);
        assert_string_equal(pm->clienturls[0], url);
        assert_false(pm->islearner);
    }
    grpc_client_reply_free(&reply);
}

static bool caught_up(void *arg)
{
    struct cluster *c = arg;
    return member_has_all(c, c->catching_up, true);
}

static void write_round(struct cluster *c, int leader)
{
    for (uint32_t i = 0; i < KEYS_PER_ROUND; i++) {
        /* Alternate the leader and the voters that are up: forwarding is exercised. */
        int target = (leader + (int)i) % c->count;
        while (!c->m[target].up || c->m[target].learner)
            target = (target + 1) % c->count;
        put_key(c, &c->m[target], c->keys);
        c->keys++;
    }
}

/* Waits (serializable reads: a learner serves only those) until m has every key. */
static void wait_caught_up(struct cluster *c, struct member *m)
{
    c->catching_up = m;
    if (!test_wait_until(caught_up, c, LEADER_WAIT_MS)) {
        test_server_print_log_tail(&m->server, 40);
        fail_msg("%s does not have the %u keys", m->name, c->keys);
    }
}

static void member_init(struct member *m, const char *dir, int k)
{
    m->client_port = test_free_port();
    m->peer_port = test_free_port();
    snprintf(m->name, sizeof m->name, "n%d", k + 1);
    snprintf(m->data_dir, sizeof m->data_dir, "%s/n%d.data", dir, k + 1);
}

/* The bootstrap members, started with args (NULL: member_flags) and serving. */
static void cluster_start(struct cluster *c, const char *dir, char *const *args)
{
    *c = (struct cluster){.count = MEMBERS, .want_leader = -1};
    size_t used = 0;
    for (int i = 0; i < MEMBERS; i++) {
        struct member *m = &c->m[i];
        member_init(m, dir, i);
        used +=
            (size_t)snprintf(c->initial + used, sizeof c->initial - used,
                             "%s%s=http://127.0.0.1:%u", i > 0 ? "," : "", m->name, m->peer_port);
    }
    const struct grpc_client_config cc = {0};
    assert_int_equal(grpc_client_create(&cc, &c->client), 0);
    for (int i = 0; i < MEMBERS; i++)
        member_spawn(&c->m[i], c->initial, args);
    for (int i = 0; i < MEMBERS; i++)
        member_ready(c, &c->m[i]);
}

/* cluster_start, then a round of writes once they agree on a leader, whose index it returns. */
static int cluster_start_writing(struct cluster *c, const char *dir, char *const *args)
{
    cluster_start(c, dir, args);
    int leader = cluster_wait_leader(c);
    write_round(c, leader);
    return leader;
}

static void cluster_stop(struct cluster *c)
{
    for (int i = 0; i < c->count; i++) {
        if (c->m[i].conn != NULL)
            grpc_client_conn_close(c->m[i].conn);
        c->m[i].conn = NULL;
        assert_int_equal(test_server_stop(&c->m[i].server), 0);
    }
    grpc_client_destroy(c->client);
}

static bool leader_unknown(void *arg)
{
    uint64_t member_id, cluster_id;
    return member_leader(arg, &member_id, &cluster_id) == 0;
}

/* m knows no leader: a call with "hasleader: true" (clientv3's WithRequireLeader) fails as
 * etcd's does; a serializable read without it is served from what m has. */
static void expect_no_leader(struct cluster *c, struct member *m)
{
    assert_true(test_wait_until(leader_unknown, m, LEADER_WAIT_MS));
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = (ProtobufCBinaryData){1, (uint8_t *)"k"};
    req.serializable = true;
    const struct grpc_client_metadata md = {.name = "hasleader", .value = "true"};
    const struct grpc_client_request r = {.path = "/etcdserverpb.KV/Range",
                                          .message = &req.base,
                                          .response = &etcdserverpb__range_response__descriptor,
                                          .timeout_ms = CALL_TIMEOUT_MS,
                                          .metadata = &md,
                                          .metadata_count = 1};
    struct grpc_client_reply reply;
    assert_int_equal(grpc_client_unary_sync(m->conn, &r, CALL_TIMEOUT_MS + 1000, &reply), 0);
    assert_int_equal(reply.status, GRPC_STATUS_UNAVAILABLE);
    assert_string_equal(reply.message, "etcdserver: no leader");
    grpc_client_reply_free(&reply);
    assert_true(member_has_all(c, m, true));
}

static void test_cluster_failover(void **state)
{
    (void)state;
    struct cluster *c = &the_cluster;
    const char *dir = test_temp_dir("cluster");
    cluster_start(c, dir, NULL);

    int leader = cluster_wait_leader(c);
    check_member_list(c, &c->m[(leader + 1) % MEMBERS]);
    write_round(c, leader);
    for (int i = 0; i < MEMBERS; i++)
        assert_true(member_has_all(c, &c->m[i], false));

    /* The leader dies; the two left elect another and take writes. */
    struct member *dead = &c->m[leader];
    member_kill(dead);
    int next = cluster_wait_leader(c);
    assert_int_not_equal(next, leader);
    write_round(c, next);
    for (int i = 0; i < MEMBERS; i++)
        if (c->m[i].up)
            assert_true(member_has_all(c, &c->m[i], false));

    /* It comes back on its data and catches up. */
    member_spawn(dead, c->initial, NULL);
    member_ready(c, dead);
    wait_caught_up(c, dead);
    assert_true(member_has_all(c, dead, false));

    /* Two of three gone: the last one loses its leader for good. */
    struct member *last = &c->m[leader];
    for (int i = 0; i < MEMBERS; i++) {
        if (&c->m[i] == last)
            continue;
        member_kill(&c->m[i]);
    }
    expect_no_leader(c, last);
    cluster_stop(c);
}

/* ---- Joining ------------------------------------------------------------------------------ */

/* Runs etcdctl against endpoints with args (NULL-terminated); its exit status, and its stdout
 * and stderr in out (TEST_VERBOSE=1 prints them). */
static int etcdctl(const char *endpoints, char *out, const char *const *args)
{
    char *argv[16] = {TEST_ETCDCTL_BIN, "--endpoints", (char *)endpoints};
    int n = 3;
    while (*args != NULL && n < 15)
        argv[n++] = (char *)*args++;
    argv[n] = NULL;
    struct test_proc p;
    assert_int_equal(test_proc_start(&p, argv), 0);
    int status = test_proc_wait_exit(&p, LEADER_WAIT_MS);
    test_proc_output(&p, out, OUTPUT_BYTES);
    test_proc_cleanup(&p);
    if (getenv("TEST_VERBOSE") != NULL)
        fprintf(stderr, "etcdctl %s: %d\n%s\n", argv[3], status, out);
    return status;
}

#define ETCDCTL(endpoints, out, ...) \
    etcdctl(endpoints, out, (const char *const[]){__VA_ARGS__, NULL})

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
    assert_true(test_wait_until(conf_call_done, &cc, LEADER_WAIT_MS));
    return cc.status;
}

#define ETCDCTL_CONF(endpoint, out, ...) \
    etcdctl_conf(endpoint, out, (const char *const[]){__VA_ARGS__, NULL})

static void expect_output(const char *out, const char *want)
{
    if (strstr(out, want) == NULL)
        fail_msg("etcdctl said:\n%s\nnot: %s", out, want);
}

/* member add --learner: the new member's id and the --initial-cluster etcdctl printed. A second
 * learner is refused as etcd refuses it. */
/* etcdctl member add's output: the new member's id, and the --initial-cluster it prints for it
 * into initial. */
static uint64_t parse_member_add(struct cluster *c, const char *out, char *initial)
{
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
    return id;
}

static uint64_t add_learner(struct cluster *c, struct member *n4, const char *eps, char *initial)
{
    static char out[OUTPUT_BYTES];
    char url[64];
    snprintf(url, sizeof url, "--peer-urls=http://127.0.0.1:%u", n4->peer_port);
    assert_int_equal(ETCDCTL(eps, out, "member", "add", n4->name, url, "--learner"), 0);
    uint64_t id = parse_member_add(c, out, initial);
    assert_int_not_equal(
        ETCDCTL(eps, out, "member", "add", "n5", "--peer-urls=http://127.0.0.1:1", "--learner"), 0);
    expect_output(out, "etcdserver: too many learner members in cluster");
    return id;
}

/* The fourth member joins as a learner: no bootstrap, the leader's snapshot, every key. */
static struct member *join_fourth(struct cluster *c, const char *dir, const char *eps)
{
    struct member *n4 = &c->m[MEMBERS];
    member_init(n4, dir, MEMBERS);
    static char initial[512];
    uint64_t id = add_learner(c, n4, eps, initial);
    member_spawn(n4, initial, join_flags);
    n4->learner = true;
    c->count = MEMBERS + 1;
    member_ready(c, n4);
    assert_true(test_proc_wait_output(&n4->server.proc, "fetched the cluster from a member", 1));
    assert_true(
        test_proc_wait_output(&n4->server.proc, "restarting ringd server on the installed", 1));
    wait_caught_up(c, n4);
    uint64_t cluster_id;
    (void)member_leader(n4, &n4->id, &cluster_id);
    assert_int_equal(n4->id, id);
    assert_int_equal(cluster_id, c->cluster_id);
    return n4;
}

static void promote_and_lead(struct cluster *c, struct member *n4)
{
    static char out[OUTPUT_BYTES];
    char hex[20];
    snprintf(hex, sizeof hex, "%" PRIx64, n4->id);
    struct member *leader = &c->m[cluster_wait_leader(c)];
    write_round(c, c->leader);
    wait_caught_up(c, n4);
    assert_int_equal(ETCDCTL_CONF(leader->server.endpoint, out, "member", "promote", hex), 0);
    expect_output(out, "promoted in cluster");
    n4->learner = false;
    assert_int_not_equal(ETCDCTL(leader->server.endpoint, out, "member", "promote", hex), 0);
    expect_output(out, "etcdserver: can only promote a learner member");
    assert_int_equal(ETCDCTL(leader->server.endpoint, out, "move-leader", hex), 0);
    expect_output(out, "Leadership transferred from ");
    write_round(c, cluster_wait_leader_is(c, MEMBERS));
    assert_true(member_has_all(c, n4, false));
}

/* A bootstrap member leaves; the list and the status say who is left and who leads. */
static void remove_one(struct member *gone, struct member *n4)
{
    static char out[OUTPUT_BYTES];
    char hex[20], line[160];
    snprintf(hex, sizeof hex, "%" PRIx64, gone->id);
    assert_int_equal(ETCDCTL_CONF(n4->server.endpoint, out, "member", "remove", hex), 0);
    expect_output(out, "removed from cluster");
    grpc_client_conn_close(gone->conn);
    gone->conn = NULL;
    gone->up = false;
    test_server_kill(&gone->server);
    assert_int_equal(ETCDCTL(n4->server.endpoint, out, "member", "list"), 0);
    snprintf(line, sizeof line,
             "%" PRIx64 ", started, %s, http://127.0.0.1:%u, http://127.0.0.1:%u, false", n4->id,
             n4->name, n4->peer_port, n4->client_port);
    expect_output(out, line);
    snprintf(line, sizeof line, ", %s, ", gone->name);
    assert_null(strstr(out, line));
    assert_int_equal(ETCDCTL(n4->server.endpoint, out, "endpoint", "status"), 0);
    snprintf(line, sizeof line, "%s, %" PRIx64 ", ", n4->server.endpoint, n4->id);
    expect_output(out, line);
    expect_output(out, ", true, false, "); /* the leader, no learner */
}

/* Restarted with another token, m keeps the ids its data dir recorded and rejoins. */
static void restart_other_token(struct cluster *c, struct member *m)
{
    uint64_t id = m->id;
    grpc_client_conn_close(m->conn);
    m->up = false;
    assert_int_equal(test_server_stop(&m->server), 0);
    static char *const token_flags[] = {"--heartbeat-interval",
                                        "50",
                                        "--election-timeout",
                                        "500",
                                        "--initial-cluster-token",
                                        "another",
                                        NULL};
    member_spawn(m, c->initial, token_flags);
    member_ready(c, m);
    assert_true(
        test_proc_wait_output(&m->server.proc, "found the member's ids in the data dir", 1));
    write_round(c, cluster_wait_leader(c));
    assert_true(member_has_all(c, m, false));
    assert_int_equal(m->id, id);
}

/* A node of another cluster (a fresh data dir naming m among its members) is refused by m with
 * a line naming both cluster ids; a join nobody added fails with etcd's text. */
static void strangers(struct cluster *c, struct member *m, const char *dir)
{
    struct member *x = &c->stranger;
    member_init(x, dir, 8);
    char initial[640];
    snprintf(initial, sizeof initial, "%s=http://127.0.0.1:%u,%s=http://127.0.0.1:%u", x->name,
             x->peer_port, m->name, m->peer_port);
    member_spawn(x, initial, NULL);
    assert_true(test_proc_wait_output(&m->server.proc, "request cluster ID mismatch", 10000));
    char cid[48];
    snprintf(cid, sizeof cid, "\"local-member-cluster-id\":\"%" PRIx64 "\"", c->cluster_id);
    assert_true(test_proc_wait_output(&m->server.proc, cid, 1));
    assert_true(test_proc_wait_output(&m->server.proc, "\"remote-peer-cluster-id\":\"", 1));
    assert_int_equal(test_server_stop(&x->server), 0);

    snprintf(x->data_dir, sizeof x->data_dir, "%s/join.data", dir);
    snprintf(initial, sizeof initial, "%s,%s=http://127.0.0.1:%u", c->initial, x->name,
             x->peer_port);
    static char *const join_flags[] = {"--initial-cluster-state", "existing", NULL};
    member_spawn(x, initial, join_flags);
    assert_int_equal(test_proc_wait_exit(&x->server.proc, LEADER_WAIT_MS), 1);
    assert_true(test_proc_wait_output(&x->server.proc, "error validating peerURLs {ClusterID:", 1));
    assert_true(
        test_proc_wait_output(&x->server.proc, "RemovedMemberIDs:[]}: member count is unequal", 1));
    test_proc_cleanup(&x->server.proc);
}

static void test_cluster_join(void **state)
{
    (void)state;
    struct cluster *c = &the_cluster;
    const char *dir = test_temp_dir("cluster-join");
    cluster_start(c, dir, NULL);
    char eps[256];
    snprintf(eps, sizeof eps, "%.64s,%.64s,%.64s", c->m[0].server.endpoint, c->m[1].server.endpoint,
             c->m[2].server.endpoint);
    write_round(c, cluster_wait_leader(c));
    struct member *n4 = join_fourth(c, dir, eps);
    promote_and_lead(c, n4);
    remove_one(&c->m[0], n4);
    restart_other_token(c, &c->m[1]);
    strangers(c, &c->m[2], dir);
    c->m[0] = (struct member){0}; /* removed, and killed */
    for (int i = 1; i < c->count; i++) {
        grpc_client_conn_close(c->m[i].conn);
        assert_int_equal(test_server_stop(&c->m[i].server), 0);
    }
    grpc_client_destroy(c->client);
    test_remove_dir(dir);
}

/* ---- A follower far behind, and --force-new-cluster ------------------------------------------ */

/* Snapshots every 1,000 entries (once the log since the last holds half the store's bytes). */
static char *const snapshot_flags[] = {
    "--heartbeat-interval", "50", "--election-timeout", "500", "--snapshot-count", "1000", NULL};

/* ringd-bench overwrites 50 keys (decimal names, outside the "k" range the checks read) with
 * 1 KiB values total times through endpoints: the log grows much faster than the store. */
static void overwrite_many(const char *endpoints, uint32_t total)
{
    const char *bench = getenv("RINGD_BENCH_BIN");
    if (bench == NULL)
        fail_msg("RINGD_BENCH_BIN must name the ringd-bench binary (ctest sets it)");
    char total_text[16];
    snprintf(total_text, sizeof total_text, "%u", total);
    char *argv[] = {(char *)bench, "put",      "--endpoints",       (char *)endpoints,
                    "--clients",   "20",       "--conns",           "4",
                    "--total",     total_text, "--key-space-size",  "50",
                    "--val-size",  "1024",     "--sequential-keys", "--no-progress",
                    NULL};
    struct test_proc p;
    assert_int_equal(test_proc_start(&p, argv), 0);
    assert_int_equal(test_proc_wait_exit(&p, 60000), 0);
    test_proc_cleanup(&p);
}

static void test_cluster_snapshot_catch_up(void **state)
{
    (void)state;
    struct cluster *c = &the_cluster;
    const char *dir = test_temp_dir("cluster-snap");
    int leader = cluster_start_writing(c, dir, snapshot_flags);

    /* A follower stops; the others write far past what the leader's log keeps after its
     * snapshots (RAFT_ACTOR_CATCH_UP_ENTRIES below each). */
    struct member *behind = &c->m[(leader + 1) % MEMBERS];
    struct member *other = &c->m[(leader + 2) % MEMBERS];
    member_kill(behind);
    char endpoints[160];
    snprintf(endpoints, sizeof endpoints, "%s,%s", c->m[leader].server.endpoint,
             other->server.endpoint);
    overwrite_many(endpoints, 12000);
    write_round(c, leader);

    /* Back, it gets the leader's snapshot, starts again on it, and has everything. */
    member_spawn(behind, c->initial, snapshot_flags);
    if (!test_proc_wait_output(&behind->server.proc, "installed a snapshot from the leader",
                               LEADER_WAIT_MS)) {
        test_server_print_log_tail(&behind->server, 40);
        fail_msg("%s did not install the leader's snapshot", behind->name);
    }
    member_ready(c, behind);
    wait_caught_up(c, behind);
    assert_true(member_has_all(c, behind, false));
    cluster_stop(c);
    test_remove_dir(dir);
}

/* MemberList through m has n members. */
static void expect_members(struct member *m, size_t n)
{
    Etcdserverpb__MemberListRequest req = ETCDSERVERPB__MEMBER_LIST_REQUEST__INIT;
    struct grpc_client_reply reply;
    if (call_sync(m->conn, "/etcdserverpb.Cluster/MemberList", &req.base,
                  &etcdserverpb__member_list_response__descriptor, &reply) != 0)
        fail_msg("MemberList through %s: %d %s", m->name, reply.status, reply.message);
    assert_int_equal(((const Etcdserverpb__MemberListResponse *)reply.response)->n_members, n);
    grpc_client_reply_free(&reply);
}

static void test_cluster_force_new(void **state)
{
    (void)state;
    struct cluster *c = &the_cluster;
    const char *dir = test_temp_dir("cluster-force");
    (void)cluster_start_writing(c, dir, NULL);

    /* Every member dies; one comes back alone on its data as a new one-member cluster. */
    for (int i = 0; i < MEMBERS; i++) {
        member_kill(&c->m[i]);
    }
    char *const force[] = {"--heartbeat-interval", "50", "--election-timeout", "500",
                           "--force-new-cluster",  NULL};
    struct member *survivor = &c->m[0];
    member_spawn(survivor, c->initial, force);
    member_ready(c, survivor);
    assert_int_equal(cluster_wait_leader(c), 0);
    expect_members(survivor, 1);
    assert_true(member_has_all(c, survivor, false));
    write_round(c, 0);
    assert_true(member_has_all(c, survivor, false));

    /* Started again without the flag, it stays a one-member cluster with every write. */
    assert_int_equal(test_server_stop(&survivor->server), 0);
    grpc_client_conn_close(survivor->conn);
    member_spawn(survivor, c->initial, NULL);
    member_ready(c, survivor);
    expect_members(survivor, 1);
    assert_true(member_has_all(c, survivor, false));
    for (int i = 1; i < MEMBERS; i++)
        test_server_stop(&c->m[i].server);
    assert_int_equal(test_server_stop(&survivor->server), 0);
    grpc_client_destroy(c->client);
    test_remove_dir(dir);
}

/* A one-member cluster grows: etcdctl member add of a voter (etcd lets a second voter join a
 * one-member cluster), which joins with --initial-cluster-state existing; then both take
 * writes and serve linearizable reads (a read index, now that there are two voters). */
static void test_cluster_grow_from_one(void **state)
{
    (void)state;
    struct cluster *c = &the_cluster;
    const char *dir = test_temp_dir("cluster-grow");
    *c = (struct cluster){.count = 1, .want_leader = -1};
    struct member *n1 = &c->m[0], *n2 = &c->m[1];
    member_init(n1, dir, 0);
    member_init(n2, dir, 1);
    snprintf(c->initial, sizeof c->initial, "n1=http://127.0.0.1:%u", n1->peer_port);
    const struct grpc_client_config cc = {0};
    assert_int_equal(grpc_client_create(&cc, &c->client), 0);
    member_spawn(n1, c->initial, NULL);
    member_ready(c, n1);
    assert_int_equal(cluster_wait_leader(c), 0);
    write_round(c, 0);

    static char out[OUTPUT_BYTES], initial[512];
    char url[64];
    snprintf(url, sizeof url, "--peer-urls=http://127.0.0.1:%u", n2->peer_port);
    assert_int_equal(ETCDCTL(n1->server.endpoint, out, "member", "add", n2->name, url), 0);
    (void)parse_member_add(c, out, initial);
    member_spawn(n2, initial, join_flags);
    c->count = 2;
    member_ready(c, n2);
    wait_caught_up(c, n2);
    write_round(c, cluster_wait_leader(c));
    assert_true(member_has_all(c, n1, false));
    assert_true(member_has_all(c, n2, false));
    expect_members(n1, 2);
    cluster_stop(c);
    test_remove_dir(dir);
}

/* A test that failed half-way leaves no member running. */
static int cluster_teardown(void **state)
{
    (void)state;
    for (int i = 0; i <= MEMBERS_MAX; i++) {
        struct member *m = i < MEMBERS_MAX ? &the_cluster.m[i] : &the_cluster.stranger;
        void *proc = &m->server.proc;
        test_proc_kill_leftover(&proc);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cluster_failover, cluster_teardown),
        cmocka_unit_test_teardown(test_cluster_join, cluster_teardown),
        cmocka_unit_test_teardown(test_cluster_snapshot_catch_up, cluster_teardown),
        cmocka_unit_test_teardown(test_cluster_force_new, cluster_teardown),
        cmocka_unit_test_teardown(test_cluster_grow_from_one, cluster_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
