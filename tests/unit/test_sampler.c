/* Unit tests for the virtual-shard partition: for many (rows, shards, ranks)
 * the rank ranges tile [0, n_rows) exactly once, in rank order, with sizes
 * differing by at most one virtual-shard quantum ceil(N/V) plus one row of
 * rounding (when P divides V: by at most one row); virtual-shard boundaries
 * do not depend on the rank count; impossible layouts are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ddptrain/common.h"
#include "ddptrain/sampler.h"

#include <string.h>

static void check_tiling(int64_t n_rows, int64_t v_req, int world)
{
    char err[DDP_ERR_LEN];
    int64_t next = 0, min_rows = INT64_MAX, max_rows = 0, next_vshard = 0;
    int64_t v = v_req < n_rows ? v_req : n_rows;
    int64_t quantum = (n_rows + v - 1) / v;
    for (int r = 0; r < world; r++) {
        ddp_shard_plan p;
        assert_int_equal(ddp_sampler_plan(n_rows, v_req, r, world, &p, err), DDP_OK);
        assert_int_equal(p.n_vshards, v);
        assert_int_equal(p.row_begin, next);
        assert_int_equal(p.vshard_begin, next_vshard);
        assert_true(p.row_end > p.row_begin); /* every rank has rows */
        /* rows are exactly the union of the rank's virtual shards */
        assert_int_equal(p.row_begin, ddp_vshard_row_begin(n_rows, v, p.vshard_begin));
        assert_int_equal(p.row_end, ddp_vshard_row_begin(n_rows, v, p.vshard_end));
        next = p.row_end;
        next_vshard = p.vshard_end;
        int64_t n = p.row_end - p.row_begin;
        min_rows = n < min_rows ? n : min_rows;
        max_rows = n > max_rows ? n : max_rows;
    }
    assert_int_equal(next, n_rows);
    assert_int_equal(next_vshard, v);
    int64_t bound = (v % world == 0) ? 1 : quantum + 1;
    if (max_rows - min_rows > bound)
        fail_msg("N=%lld V=%lld P=%d: spread %lld > bound %lld", (long long)n_rows, (long long)v_req, world,
                 (long long)(max_rows - min_rows), (long long)bound);
}

static void test_tiling(void **state)
{
    (void)state;
    const int64_t rows[] = {1, 2, 3, 7, 63, 64, 65, 100, 1000, 1797, 1000003, INT64_C(5000000000)};
    const int64_t shards[] = {1, 3, 7, 64, 1000};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        for (size_t j = 0; j < sizeof shards / sizeof shards[0]; j++) {
            int64_t v = shards[j] < rows[i] ? shards[j] : rows[i];
            for (int p = 1; p <= v && p <= 70; p++) check_tiling(rows[i], shards[j], p);
        }
}

static void test_vshard_bounds_independent_of_ranks(void **state)
{
    (void)state;
    /* shard v's rows are a function of (N, V, v) only */
    assert_int_equal(ddp_vshard_row_begin(100, 64, 0), 0);
    assert_int_equal(ddp_vshard_row_begin(100, 64, 64), 100);
    assert_int_equal(ddp_vshard_row_begin(INT64_C(1) << 40, 64, 63), (INT64_C(1) << 40) / 64 * 63);
    /* no overflow for huge N */
    assert_int_equal(ddp_vshard_row_begin(INT64_MAX, 1 << 20, 1 << 19), INT64_MAX / 2);
}

static void test_refusals(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    ddp_shard_plan p;
    assert_int_equal(ddp_sampler_plan(3, 64, 0, 4, &p, err), DDP_EXIT_USAGE);
    assert_non_null(strstr(err, "3 rows but the job has 4 ranks"));
    assert_int_equal(ddp_sampler_plan(1000, 4, 0, 8, &p, err), DDP_EXIT_USAGE);
    assert_non_null(strstr(err, "--virtual-shards"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiling),
        cmocka_unit_test(test_vshard_bounds_independent_of_ranks),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
