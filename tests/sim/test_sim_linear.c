/* The simulator's linearizability checker on small hand-written histories: linearizable ones
 * pass, a stale read, a lost write, a read of a value never written and a wrong cas fail, an
 * operation with unknown outcome may have happened or not, and a search past its budget says
 * "undecided". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>

#include "sim_linear.h"

#define U SIM_LINEAR_UNKNOWN

static struct sim_linear_op put(uint8_t key, uint32_t v, uint64_t call, uint64_t ret)
{
    return (struct sim_linear_op){
        .kind = SIM_OP_PUT, .key = key, .arg = v, .call = call, .ret = ret};
}

static struct sim_linear_op get(uint8_t key, uint32_t seen, uint64_t call, uint64_t ret)
{
    return (struct sim_linear_op){
        .kind = SIM_OP_GET, .key = key, .out = seen, .call = call, .ret = ret};
}

static struct sim_linear_op cas(uint8_t key, uint32_t from, uint32_t to, uint32_t ok, uint64_t call,
                                uint64_t ret)
{
    return (struct sim_linear_op){.kind = SIM_OP_CAS,
                                  .key = key,
                                  .arg = from,
                                  .arg2 = to,
                                  .out = ok,
                                  .call = call,
                                  .ret = ret};
}

static enum sim_linear_result check_budget(const struct sim_linear_op *ops, uint32_t n,
                                           uint64_t steps_max)
{
    struct sim_linear *l = sim_linear_create();
    assert_non_null(l);
    struct sim_linear_report rep;
    enum sim_linear_result r = sim_linear_check(l, ops, n, steps_max, &rep);
    sim_linear_destroy(l);
    return r;
}

#define CHECK(...)                                                                             \
    check_budget((struct sim_linear_op[]){__VA_ARGS__},                                        \
                 sizeof((struct sim_linear_op[]){__VA_ARGS__}) / sizeof(struct sim_linear_op), \
                 1000000)

static void test_sequential_and_concurrent_pass(void **state)
{
    (void)state;
    assert_int_equal(CHECK(put(0, 1, 0, 10), get(0, 1, 20, 30)), SIM_LINEAR_OK);
    assert_int_equal(CHECK(get(0, 0, 0, 5), put(0, 1, 10, 20), get(0, 1, 30, 40)), SIM_LINEAR_OK);
    /* A read overlapping a write may see either value. */
    assert_int_equal(CHECK(put(0, 1, 0, 10), put(0, 2, 20, 50), get(0, 1, 30, 40)), SIM_LINEAR_OK);
    assert_int_equal(CHECK(put(0, 1, 0, 10), put(0, 2, 20, 50), get(0, 2, 30, 40)), SIM_LINEAR_OK);
    /* Two overlapping writes in either order, as the reads after them agree. */
    assert_int_equal(
        CHECK(put(0, 1, 0, 30), put(0, 2, 10, 20), get(0, 1, 40, 50), get(0, 1, 60, 70)),
        SIM_LINEAR_OK);
    assert_int_equal(CHECK(put(0, 1, 0, 10), cas(0, 1, 2, 1, 20, 30), cas(0, 1, 3, 0, 40, 50),
                           get(0, 2, 60, 70)),
                     SIM_LINEAR_OK);
}

static void test_stale_read_fails(void **state)
{
    (void)state;
    assert_int_equal(CHECK(put(0, 1, 0, 10), put(0, 2, 20, 30), get(0, 1, 40, 50)),
                     SIM_LINEAR_VIOLATION);
    /* Two reads going back in time. */
    assert_int_equal(
        CHECK(put(0, 1, 0, 10), put(0, 2, 5, 100), get(0, 2, 20, 30), get(0, 1, 40, 50)),
        SIM_LINEAR_VIOLATION);
}

static void test_lost_write_fails(void **state)
{
    (void)state;
    assert_int_equal(CHECK(put(0, 1, 0, 10), get(0, 0, 20, 30)), SIM_LINEAR_VIOLATION);
    assert_int_equal(CHECK(put(0, 1, 0, 10), cas(0, 1, 2, 1, 20, 30), get(0, 1, 40, 50)),
                     SIM_LINEAR_VIOLATION);
}

static void test_value_never_written_fails(void **state)
{
    (void)state;
    assert_int_equal(CHECK(get(0, 7, 0, 10)), SIM_LINEAR_VIOLATION);
    assert_int_equal(CHECK(put(0, 1, 0, 10), get(1, 1, 20, 30)), SIM_LINEAR_VIOLATION);
    /* A cas that says it swapped from a value the key never held. */
    assert_int_equal(CHECK(put(0, 1, 0, 10), cas(0, 5, 6, 1, 20, 30)), SIM_LINEAR_VIOLATION);
}

static void test_unknown_outcome_happened_or_not(void **state)
{
    (void)state;
    assert_int_equal(CHECK(put(0, 5, 0, U), get(0, 5, 100, 110)), SIM_LINEAR_OK);
    assert_int_equal(CHECK(put(0, 5, 0, U), get(0, 0, 100, 110)), SIM_LINEAR_OK);
    assert_int_equal(CHECK(put(0, 5, 0, U), get(0, 0, 100, 110), get(0, 5, 200, 210)),
                     SIM_LINEAR_OK);
    /* Once seen, it cannot be undone. */
    assert_int_equal(CHECK(put(0, 5, 0, U), get(0, 5, 100, 110), get(0, 0, 200, 210)),
                     SIM_LINEAR_VIOLATION);
    /* Not before its call. */
    assert_int_equal(CHECK(get(0, 5, 0, 10), put(0, 5, 20, U)), SIM_LINEAR_VIOLATION);
    /* A cas of unknown outcome swaps when it finds its value. */
    assert_int_equal(CHECK(put(0, 1, 0, 10), cas(0, 1, 2, 0, 20, U), get(0, 2, 100, 110)),
                     SIM_LINEAR_OK);
    /* A read that never answered says nothing. */
    assert_int_equal(CHECK(put(0, 1, 0, 10), get(0, 9, 20, U)), SIM_LINEAR_OK);
}

/* Many concurrent writes, and writes of unknown outcome: the memo keeps the search short. */
static void test_wide_concurrency_decides(void **state)
{
    (void)state;
    static struct sim_linear_op ops[40];
    uint32_t n = 0;
    for (uint32_t i = 0; i < 8; i++)
        ops[n++] = put(0, i + 1, 0, 1000);
    for (uint32_t i = 0; i < 4; i++)
        ops[n++] = put(0, 100 + i, 10 * i, U);
    for (uint32_t i = 0; i < 8; i++)
        ops[n++] = get(0, 8 - i, 10 + i, 500);
    assert_int_equal(check_budget(ops, n, 10000000), SIM_LINEAR_OK);
    ops[n - 1] = get(0, 0, 2000, 2010); /* after every write: a lost write */
    assert_int_equal(check_budget(ops, n, 10000000), SIM_LINEAR_VIOLATION);
}

static void test_budget_gives_undecided(void **state)
{
    (void)state;
    static struct sim_linear_op ops[60];
    for (uint32_t i = 0; i < 59; i++)
        ops[i] = put(0, i + 1, 0, 1000);
    ops[59] = get(0, 77, 2000, 2010);
    assert_int_equal(check_budget(ops, 60, 50), SIM_LINEAR_UNDECIDED);
    static struct sim_linear_op many[SIM_LINEAR_OPS_MAX + 1];
    for (uint32_t i = 0; i <= SIM_LINEAR_OPS_MAX; i++)
        many[i] = put(0, i + 1, 10 * i, 10 * i + 5);
    assert_int_equal(check_budget(many, SIM_LINEAR_OPS_MAX + 1, 1000000), SIM_LINEAR_UNDECIDED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential_and_concurrent_pass),
        cmocka_unit_test(test_stale_read_fails),
        cmocka_unit_test(test_lost_write_fails),
        cmocka_unit_test(test_value_never_written_fails),
        cmocka_unit_test(test_unknown_outcome_happened_or_not),
        cmocka_unit_test(test_wide_concurrency_decides),
        cmocka_unit_test(test_budget_gives_undecided),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
