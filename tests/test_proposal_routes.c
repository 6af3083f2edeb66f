/* Proposal routes: found by id, expired oldest first at their deadline or when another entry
 * took their index, the bound, and a long random run against a plain array model (the id map's
 * deletions must keep every other id findable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "proposal_routes.h"
#include "test_support.h"

static struct apply_route route(raft_index index, uint16_t shard)
{
    return (struct apply_route){.index = index, .shard = shard};
}

/* Adds the route of (index, shard) under id. */
static void add(struct proposal_routes *t, uint64_t id, raft_index index, uint16_t shard,
                uint64_t deadline_tick)
{
    struct apply_route r = route(index, shard);
    proposal_routes_add(t, id, &r, deadline_tick);
}

static void test_take_by_id(void **state)
{
    (void)state;
    struct proposal_routes t;
    assert_int_equal(proposal_routes_init(&t, 3), 0);
    add(&t, 7, 0, 1, 100);
    add(&t, 9, 5, 2, 100);
    add(&t, 8, 0, 3, 100);
    assert_true(proposal_routes_full(&t));
    struct apply_route out;
    assert_false(proposal_routes_take(&t, 6, &out));
    assert_false(proposal_routes_take(&t, 0, &out));
    assert_true(proposal_routes_take(&t, 9, &out));
    assert_int_equal(out.shard, 2);
    assert_int_equal(out.index, 5);
    assert_false(proposal_routes_take(&t, 9, &out)); /* once */
    assert_false(proposal_routes_full(&t));
    assert_int_equal(t.count, 2);
    proposal_routes_destroy(&t);
}

static void test_expire_oldest_first(void **state)
{
    (void)state;
    struct proposal_routes t;
    assert_int_equal(proposal_routes_init(&t, 4), 0);
    add(&t, 1, 0, 1, 10);
    add(&t, 2, 0, 2, 20);
    add(&t, 3, 12, 3, 30);
    struct apply_route out;
    assert_false(proposal_routes_expire(&t, 9, 100, &out)); /* index 0: only the deadline */
    assert_true(proposal_routes_expire(&t, 10, 100, &out));
    assert_int_equal(out.shard, 1);
    assert_false(proposal_routes_expire(&t, 19, 100, &out));
    assert_true(proposal_routes_take(&t, 2, &out)); /* committed: the next oldest is 3 */
    assert_false(proposal_routes_expire(&t, 19, 11, &out));
    assert_true(proposal_routes_expire(&t, 19, 12, &out)); /* index 12 committed, not its entry */
    assert_int_equal(out.shard, 3);
    assert_int_equal(t.count, 0);
    assert_false(proposal_routes_expire(&t, 1000, 1000, &out));
    proposal_routes_destroy(&t);
}

/* Routes waiting for a leader are found oldest first, and leave the waiting set when proposed
 * or taken. */
static void test_waiting(void **state)
{
    (void)state;
    struct proposal_routes t;
    assert_int_equal(proposal_routes_init(&t, 4), 0);
    add(&t, 1, 0, 1, 100);
    add(&t, 2, 0, 2, 100);
    add(&t, 3, 7, 3, 100);
    add(&t, 4, 0, 4, 100);
    struct apply_route out;
    assert_int_equal(proposal_routes_next_waiting(&t, 0, &out), 0); /* none waits */
    proposal_routes_set_waiting(&t, 4, true);
    proposal_routes_set_waiting(&t, 2, true);
    assert_int_equal(proposal_routes_next_waiting(&t, 0, &out), 2); /* proposal order, not id */
    assert_int_equal(out.shard, 2);
    assert_int_equal(proposal_routes_next_waiting(&t, 2, &out), 4);
    assert_int_equal(proposal_routes_next_waiting(&t, 4, &out), 0);
    proposal_routes_set_waiting(&t, 2, false);
    assert_int_equal(proposal_routes_next_waiting(&t, 0, &out), 4);
    assert_true(proposal_routes_take(&t, 4, &out));
    assert_int_equal(proposal_routes_next_waiting(&t, 0, &out), 0);
    proposal_routes_destroy(&t);
}

/* Random adds and takes of ids that collide in the map's low bits, checked against a model. */
static void test_random_against_model(void **state)
{
    (void)state;
    enum { CAP = 64, OPS = 200000 };
    struct proposal_routes t;
    assert_int_equal(proposal_routes_init(&t, CAP), 0);
    uint64_t model[CAP] = {0}; /* ids present, 0 = none */
    struct test_rng rng = {42};
    uint64_t next = 1;
    for (int i = 0; i < OPS; i++) {
        uint32_t slot = test_rng_below(&rng, CAP);
        struct apply_route out;
        if (model[slot] == 0) {
            model[slot] = next++ << 20; /* low bits equal: the hash must spread them */
            add(&t, model[slot], 0, (uint16_t)slot, UINT64_MAX);
        } else {
            assert_true(proposal_routes_take(&t, model[slot], &out));
            assert_int_equal(out.shard, slot);
            assert_false(proposal_routes_take(&t, model[slot], &out));
            model[slot] = 0;
        }
    }
    uint32_t present = 0;
    for (uint32_t s = 0; s < CAP; s++) {
        struct apply_route out;
        if (model[s] != 0) {
            present++;
            assert_true(proposal_routes_take(&t, model[s], &out));
            assert_int_equal(out.shard, s);
        }
    }
    assert_true(present > 0);
    assert_int_equal(t.count, 0);
    proposal_routes_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_by_id),
        cmocka_unit_test(test_expire_oldest_first),
        cmocka_unit_test(test_waiting),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
