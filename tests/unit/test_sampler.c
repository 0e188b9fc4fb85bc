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

#include <stdlib.h>
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
    /* a shuffled virtual shard must have under 2^32 rows (32-bit offsets):
     * refused before anything is allocated */
    ddp_sampler smp;
    assert_int_equal(ddp_sampler_plan(INT64_C(1) << 40, 64, 0, 1, &p, err), DDP_OK);
    assert_int_equal(ddp_sampler_init(&smp, &p, 1024, 0, 1, 1, err), DDP_EXIT_USAGE);
    assert_non_null(strstr(err, "raise --virtual-shards to at least 257"));
}

/* Global rows of batch k as seen by P ranks, sorted, into out; returns count. */
static int64_t global_batch(int64_t n_rows, int64_t v, int world, int64_t bs, int drop_last, int shuffle,
                            int64_t epoch, int64_t k, int64_t *out)
{
    char err[DDP_ERR_LEN];
    int64_t n = 0;
    for (int r = 0; r < world; r++) {
        ddp_shard_plan p;
        ddp_sampler smp;
        assert_int_equal(ddp_sampler_plan(n_rows, v, r, world, &p, err), DDP_OK);
        assert_int_equal(ddp_sampler_init(&smp, &p, bs, drop_last, shuffle, 99, err), DDP_OK);
        ddp_sampler_set_epoch(&smp, epoch);
        int64_t m = 0;
        const int64_t *idx = ddp_sampler_local_batch(&smp, k, &m);
        assert_true(m <= ddp_sampler_max_local_rows(&smp));
        for (int64_t i = 0; i < m; i++) {
            assert_true(idx[i] >= 0 && idx[i] < p.row_end - p.row_begin);
            out[n++] = p.row_begin + idx[i];
        }
        ddp_sampler_free(&smp);
    }
    /* insertion sort: small */
    for (int64_t i = 1; i < n; i++)
        for (int64_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int64_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* The epoch order is the same whatever the threads that shuffle it. */
static void test_order_independent_of_threads(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    ddp_shard_plan p;
    assert_int_equal(ddp_sampler_plan(100003, 64, 0, 1, &p, err), DDP_OK);
    ddp_sampler one;
    assert_int_equal(ddp_sampler_init(&one, &p, 100, 0, 1, 7, err), DDP_OK);
    ddp_sampler_set_epoch(&one, 3);
    for (int threads = 2; threads <= 4; threads++) {
        ddp_sampler many;
        assert_int_equal(ddp_sampler_init(&many, &p, 100, 0, 1, 7, err), DDP_OK);
        many.n_threads = threads;
        ddp_sampler_set_epoch(&many, 3);
        assert_memory_equal(one.order, many.order, (size_t)(p.row_end - p.row_begin) * sizeof(uint32_t));
        assert_memory_equal(one.seq, many.seq, (size_t)(p.row_end - p.row_begin) * sizeof(int64_t));
        ddp_sampler_free(&many);
    }
    ddp_sampler_free(&one);
}

/* Each rank's batch is the rows it owns among positions [kB, (k+1)B) of
 * the epoch sequence, grouped by shard in shard order, each shard's rows in
 * sequence order; the sequence built here straight from the definition:
 * round j holds the j-th row of every shard with more than j rows, in shard
 * order, each shard's rows in its shuffled order. Shapes with and without a
 * last partial round, 1 to 5 ranks, batches that split rounds. */
static void test_sequence_order(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    const int64_t shapes[][3] = {{203, 8, 16}, {1000, 7, 33}, {64, 64, 5}, {97, 5, 97}, {1003, 10, 128}};
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        const int64_t N = shapes[sh][0], V = shapes[sh][1], B = shapes[sh][2];
        for (int world = 1; world <= 5 && world <= V; world++) {
            for (int r = 0; r < world; r++) {
                ddp_shard_plan p;
                ddp_sampler smp;
                assert_int_equal(ddp_sampler_plan(N, V, r, world, &p, err), DDP_OK);
                assert_int_equal(ddp_sampler_init(&smp, &p, B, 0, 1, 5, err), DDP_OK);
                smp.n_threads = 1 + r % 3;
                ddp_sampler_set_epoch(&smp, 2);
                /* the sequence, as global rows and their shards; -1 where
                 * another rank owns the row */
                int64_t *seq = malloc((size_t)N * sizeof(int64_t)), *shard = malloc((size_t)N * sizeof(int64_t));
                int64_t pos = 0;
                for (int64_t j = 0; pos < N; j++)
                    for (int64_t v = 0; v < V; v++) {
                        int64_t first = ddp_vshard_row_begin(N, V, v), size = ddp_vshard_row_begin(N, V, v + 1) - first;
                        if (j >= size) continue;
                        shard[pos] = v;
                        seq[pos++] = v >= p.vshard_begin && v < p.vshard_end
                                         ? first + smp.order[first - p.row_begin + j]
                                         : -1;
                    }
                for (int64_t k = 0; k < ddp_sampler_batches_per_epoch(&smp); k++) {
                    int64_t m = 0, want = 0;
                    const int64_t *idx = ddp_sampler_local_batch(&smp, k, &m);
                    for (int64_t v = p.vshard_begin; v < p.vshard_end; v++)
                        for (int64_t q = k * B; q < N && q < (k + 1) * B; q++) {
                            if (seq[q] < 0 || shard[q] != v) continue;
                            assert_true(want < m);
                            assert_int_equal(p.row_begin + idx[want], seq[q]);
                            want++;
                        }
                    assert_int_equal(m, want);
                }
                free(seq);
                free(shard);
                ddp_sampler_free(&smp);
            }
        }
    }
}

static void test_batches_invariant(void **state)
{
    (void)state;
    const int64_t N = 203, V = 8, B = 16;
    int64_t *ref = malloc(N * sizeof(int64_t)), *got = malloc(N * sizeof(int64_t));
    char *seen = calloc((size_t)N, 1);
    for (int shuffle = 0; shuffle <= 1; shuffle++)
        for (int drop_last = 0; drop_last <= 1; drop_last++)
            for (int64_t epoch = 0; epoch < 2; epoch++) {
                int64_t n_batches = drop_last ? N / B : (N + B - 1) / B;
                memset(seen, 0, (size_t)N);
                int64_t total = 0;
                for (int64_t k = 0; k < n_batches; k++) {
                    int64_t n_ref = global_batch(N, V, 1, B, drop_last, shuffle, epoch, k, ref);
                    assert_int_equal(n_ref, k * B + B <= N ? B : N - k * B);
                    for (int64_t i = 0; i < n_ref; i++) {
                        assert_int_equal(seen[ref[i]], 0); /* each row once per epoch */
                        seen[ref[i]] = 1;
                    }
                    total += n_ref;
                    if (!shuffle) /* file order */
                        for (int64_t i = 0; i < n_ref; i++) assert_int_equal(ref[i], k * B + i);
                    const int worlds[] = {2, 3, 4, 8};
                    for (size_t w = 0; w < 4; w++) {
                        int64_t n_got = global_batch(N, V, worlds[w], B, drop_last, shuffle, epoch, k, got);
                        assert_int_equal(n_got, n_ref);
                        assert_memory_equal(got, ref, (size_t)n_ref * sizeof(int64_t));
                    }
                }
                assert_int_equal(total, drop_last ? N / B * B : N);
            }
    /* shuffled epochs differ from each other, and each batch mixes shards */
    global_batch(N, V, 1, B, 0, 1, 0, 0, ref);
    global_batch(N, V, 1, B, 0, 1, 1, 0, got);
    assert_memory_not_equal(ref, got, (size_t)B * sizeof(int64_t));
    int64_t shards_hit = 0, last = -1;
    for (int64_t i = 0; i < B; i++) {
        int64_t v = ref[i] * V / N; /* approximate shard id is enough here */
        if (v != last) shards_hit++;
        last = v;
    }
    assert_true(shards_hit >= V / 2);
    free(seen);
    free(got);
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiling),
        cmocka_unit_test(test_vshard_bounds_independent_of_ranks),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_batches_invariant),
        cmocka_unit_test(test_sequence_order),
        cmocka_unit_test(test_order_independent_of_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
