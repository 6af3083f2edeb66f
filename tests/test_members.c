/* The members table: the initial cluster, a published attributes entry (and ones that do not
 * decode or name no member), and MemberList's shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "members.h"
#include "ringd_error.h"

static struct cluster_ids ids;
static struct members table;

static void two_members(void)
{
    memset(&ids, 0, sizeof ids);
    ids.members_count = 2;
    ids.members[0].id = 10;
    ids.members[0].peer_urls_count = 1;
    strcpy(ids.members[0].peer_urls[0], "http://127.0.0.1:2380");
    ids.members[1].id = 20;
    ids.members[1].peer_urls_count = 2;
    strcpy(ids.members[1].peer_urls[0], "http://127.0.0.1:2480");
    strcpy(ids.members[1].peer_urls[1], "unix://peer");
    members_init(&table, &ids);
}

static void test_attributes_round_trip(void **state)
{
    (void)state;
    two_members();
    const char *urls[] = {"http://127.0.0.1:2479", "http://10.0.0.2:2379"};
    uint8_t buf[512];
    uint32_t n = members_pack_attributes(20, "second", urls, 2, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(members_pack_attributes(20, "second", urls, 2, buf, 8), 0); /* too small */
    assert_int_equal(members_apply_attributes(&table, buf, n), 0);
    const struct member_info *m = members_find(&table, 20);
    assert_string_equal(m->name, "second");
    assert_int_equal(m->n_client_urls, 2);
    assert_string_equal(m->client_urls[1], "http://10.0.0.2:2379");
    assert_int_equal(m->n_peer_urls, 2); /* untouched */
    assert_string_equal(members_find(&table, 10)->name, "");

    n = members_pack_attributes(30, "gone", urls, 1, buf, sizeof buf);
    assert_int_equal(members_apply_attributes(&table, buf, n), -ENOENT);
    const uint8_t garbage[] = {0xff, 0xff, 0xff};
    assert_int_equal(members_apply_attributes(&table, garbage, sizeof garbage), -EINVAL);
}

static void test_list(void **state)
{
    (void)state;
    two_members();
    struct arena a;
    arena_init(&a);
    Etcdserverpb__MemberListResponse resp = ETCDSERVERPB__MEMBER_LIST_RESPONSE__INIT;
    assert_int_equal(members_list(&table, &resp, &a), 0);
    assert_int_equal(resp.n_members, 2);
    assert_int_equal(resp.members[0]->id, 10);
    assert_int_equal(resp.members[1]->n_peerurls, 2);
    assert_string_equal(resp.members[1]->peerurls[1], "unix://peer");
    assert_int_equal(resp.members[1]->n_clienturls, 0);
    assert_true(protobuf_c_message_get_packed_size(&resp.base) > 0);
    arena_destroy(&a);
}

/* A snapshot's member records rebuild the table, in id order; bad ones are refused. */
static void test_snapshot_round_trip(void **state)
{
    (void)state;
    two_members();
    table.items[1].is_learner = true;
    strcpy(table.items[1].name, "second");
    table.items[1].n_client_urls = 1;
    strcpy(table.items[1].client_urls[0], "http://c");
    static struct members loaded;
    loaded.count = 0;
    static uint8_t buf[MEMBERS_PACKED_BYTES_MAX];
    for (int i = 1; i >= 0; i--) { /* out of order: inserted sorted */
        uint32_t n = members_pack_member(&table.items[i], buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(members_load_member(&loaded, buf, n), 0);
        assert_int_equal(members_load_member(&loaded, buf, n), -EEXIST);
    }
    assert_int_equal(loaded.count, 2);
    assert_memory_equal(&loaded.items[0], &table.items[0], sizeof table.items[0]);
    assert_memory_equal(&loaded.items[1], &table.items[1], sizeof table.items[1]);
    const uint8_t garbage[] = {0x0a, 0x80};
    assert_int_equal(members_load_member(&loaded, garbage, sizeof garbage), -EINVAL);
}

/* Changes with etcd's checks; a refused change leaves the table as it was. */
static void test_changes(void **state)
{
    (void)state;
    two_members();
    char *urls[] = {"http://127.0.0.1:2580"};
    char *taken[] = {"unix://peer"};
    Etcdserverpb__Member pb = ETCDSERVERPB__MEMBER__INIT;
    pb.id = 30;
    pb.n_peerurls = 1;
    pb.peerurls = taken;
    pb.islearner = true;
    assert_int_equal(members_apply_change(&table, MEMBERS_ADD, &pb), -RINGD_EPEER_URL_EXIST);
    pb.peerurls = urls;
    assert_int_equal(members_apply_change(&table, MEMBERS_ADD, &pb), 0);
    assert_int_equal(members_apply_change(&table, MEMBERS_ADD, &pb), -RINGD_EMEMBER_EXIST);
    assert_int_equal(table.count, 3);
    Etcdserverpb__Member second = pb;
    char *other[] = {"http://127.0.0.1:2680"};
    second.id = 40;
    second.peerurls = other;
    assert_int_equal(members_apply_change(&table, MEMBERS_ADD, &second), -RINGD_ETOO_MANY_LEARNERS);
    assert_true(members_find(&table, 30)->is_learner);
    pb.id = 10;
    assert_int_equal(members_apply_change(&table, MEMBERS_PROMOTE, &pb),
                     -RINGD_EMEMBER_NOT_LEARNER);
    pb.id = 30;
    assert_int_equal(members_apply_change(&table, MEMBERS_PROMOTE, &pb), 0);
    assert_false(members_find(&table, 30)->is_learner);
    pb.id = 10;
    assert_int_equal(members_apply_change(&table, MEMBERS_UPDATE, &pb), -RINGD_EPEER_URL_EXIST);
    pb.peerurls = taken;
    pb.id = 20;
    assert_int_equal(members_apply_change(&table, MEMBERS_UPDATE, &pb), 0); /* its own URL */
    assert_int_equal(members_find(&table, 20)->n_peer_urls, 1);
    assert_int_equal(members_apply_change(&table, MEMBERS_REMOVE, &pb), 0);
    assert_int_equal(members_apply_change(&table, MEMBERS_REMOVE, &pb), -RINGD_EMEMBER_NOT_FOUND);
    assert_int_equal(table.count, 2);
    assert_int_equal(table.items[0].id, 10);
    assert_int_equal(table.items[1].id, 30);
}

/* etcd's strict reconfiguration checks count the voters that published a name. */
static void test_ready_checks(void **state)
{
    (void)state;
    two_members(); /* two voters, neither started */
    assert_false(members_ready_to_add_voter(&table));
    strcpy(table.items[0].name, "a");
    assert_false(members_ready_to_add_voter(&table));  /* 1 of 3 */
    assert_true(members_ready_to_remove(&table, 20));  /* 1 of 1 */
    assert_false(members_ready_to_remove(&table, 10)); /* 0 of 1 */
    strcpy(table.items[1].name, "b");
    assert_true(members_ready_to_add_voter(&table)); /* 2 of 3 */
    table.items[1].is_learner = true;
    assert_true(members_ready_to_add_voter(&table)); /* one started voter: etcd's restore case */
    assert_true(members_ready_to_promote(&table, 20));
    table.items[0].name[0] = '\0';
    assert_false(members_ready_to_promote(&table, 20)); /* 1 (the learner) of 2 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attributes_round_trip), cmocka_unit_test(test_list),
        cmocka_unit_test(test_snapshot_round_trip),   cmocka_unit_test(test_changes),
        cmocka_unit_test(test_ready_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
