/* A 3-member ringd cluster of real processes on 127.0.0.1: the members elect one leader,
 * writes through any member (a follower forwards to the leader) are read back linearizably from
 * every member; then the leader is killed with SIGKILL, the other two elect a new leader within
 * a few election timeouts, writes go on, and the killed member, restarted on its data, catches
 * up. No acknowledged write may be missing anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdserverpb/rpc.pb-c.h"
#include "grpc_client.h"
#include "ringd_error.h"
#include "test_support.h"

#define MEMBERS         3
#define CALL_TIMEOUT_MS 10000
#define LEADER_WAIT_MS  20000
#define KEYS_PER_ROUND  40

struct member {
    struct test_server server;
    struct grpc_client_conn *conn;
    uint16_t client_port;
    uint16_t peer_port;
    char name[8];
    char data_dir[320];
    bool up;
};

struct cluster {
    struct member m[MEMBERS];
    char initial[256];
    struct grpc_client *client;
    uint32_t keys; /* acknowledged puts: key k has value "v<k>" */
    uint64_t cluster_id;
    int leader;
    struct member *catching_up;
};

static struct cluster the_cluster;

static char *const member_flags[] = {"--heartbeat-interval", "50", "--election-timeout", "500",
                                     NULL};

static void member_spawn(struct member *m, const char *initial)
{
    const struct test_server_options o = {.args = member_flags,
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
 * c->leader). */
static bool cluster_has_leader(void *arg)
{
    struct cluster *c = arg;
    uint64_t agreed = 0, ids[MEMBERS] = {0}, cluster_ids[MEMBERS] = {0};
    for (int i = 0; i < MEMBERS; i++) {
        if (!c->m[i].up)
            continue;
        uint64_t l = member_leader(&c->m[i], &ids[i], &cluster_ids[i]);
        if (l == 0 || (agreed != 0 && l != agreed))
            return false;
        agreed = l;
        assert_true(cluster_ids[i] != 0 && (c->cluster_id == 0 || cluster_ids[i] == c->cluster_id));
        c->cluster_id = cluster_ids[i];
    }
    for (int i = 0; i < MEMBERS; i++)
        if (c->m[i].up && ids[i] == agreed) {
            c->leader = i;
            return true;
        }
    return false;
}

static int cluster_wait_leader(struct cluster *c)
{
    if (!test_wait_until(cluster_has_leader, c, LEADER_WAIT_MS))
        fail_msg("no leader agreed by every member within %d ms", LEADER_WAIT_MS);
    return c->leader;
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
        /* Alternate the leader and the followers that are up: forwarding is exercised. */
        int target = (leader + (int)i) % MEMBERS;
        while (!c->m[target].up)
            target = (target + 1) % MEMBERS;
        put_key(c, &c->m[target], c->keys);
        c->keys++;
    }
}

static void test_cluster_failover(void **state)
{
    (void)state;
    struct cluster *c = &the_cluster;
    const char *dir = test_temp_dir("cluster");
    size_t used = 0;
    for (int i = 0; i < MEMBERS; i++) {
        struct member *m = &c->m[i];
        m->client_port = test_free_port();
        m->peer_port = test_free_port();
        snprintf(m->name, sizeof m->name, "n%d", i + 1);
        snprintf(m->data_dir, sizeof m->data_dir, "%s/%s.data", dir, m->name);
        used +=
            (size_t)snprintf(c->initial + used, sizeof c->initial - used,
                             "%s%s=http://127.0.0.1:%u", i > 0 ? "," : "", m->name, m->peer_port);
    }
    const struct grpc_client_config cc = {0};
    assert_int_equal(grpc_client_create(&cc, &c->client), 0);
    for (int i = 0; i < MEMBERS; i++)
        member_spawn(&c->m[i], c->initial);
    for (int i = 0; i < MEMBERS; i++)
        member_ready(c, &c->m[i]);

    int leader = cluster_wait_leader(c);
    check_member_list(c, &c->m[(leader + 1) % MEMBERS]);
    write_round(c, leader);
    for (int i = 0; i < MEMBERS; i++)
        assert_true(member_has_all(c, &c->m[i], false));

    /* The leader dies; the two left elect another and take writes. */
    struct member *dead = &c->m[leader];
    assert_int_equal(test_server_kill(&dead->server), 137);
    grpc_client_conn_close(dead->conn);
    dead->up = false;
    int next = cluster_wait_leader(c);
    assert_int_not_equal(next, leader);
    write_round(c, next);
    for (int i = 0; i < MEMBERS; i++)
        if (c->m[i].up)
            assert_true(member_has_all(c, &c->m[i], false));

    /* It comes back on its data and catches up. */
    member_spawn(dead, c->initial);
    member_ready(c, dead);
    c->catching_up = dead;
    assert_true(test_wait_until(caught_up, c, LEADER_WAIT_MS));
    assert_true(member_has_all(c, dead, false));

    for (int i = 0; i < MEMBERS; i++) {
        grpc_client_conn_close(c->m[i].conn);
        assert_int_equal(test_server_stop(&c->m[i].server), 0);
    }
    grpc_client_destroy(c->client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_failover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
