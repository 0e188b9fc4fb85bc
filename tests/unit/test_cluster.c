/* Unit tests for Slurm detection and the thread policy (cluster.c), fed a
 * fake environment table: outside Slurm nothing is detected; inside, the job
 * id, nodes, tasks, CPUs per task and restarts are read, malformed numbers
 * count as unknown; OMP_NUM_THREADS beats SLURM_CPUS_PER_TASK beats the
 * affinity mask; threads x ranks above the cores is reported with the
 * numbers and a fix that fits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ddptrain/cluster.h"

#include <stdlib.h>
#include <string.h>

/* A NULL-terminated list of "NAME=value" strings. */
static const char *table_lookup(const char *name, void *ctx)
{
    size_t n = strlen(name);
    for (const char *const *e = ctx; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static ddp_cluster detect(const char *const *env)
{
    ddp_cluster c;
    ddp_cluster_detect(table_lookup, (void *)env, &c);
    return c;
}

static void test_not_slurm(void **state)
{
    (void)state;
    const char *env[] = {"HOME=/root", "SLURM_CPUS_PER_TASK=4", NULL}; /* no job id: not a job */
    ddp_cluster c = detect(env);
    assert_int_equal(c.slurm, 0);
    assert_string_equal(c.job_id, "");
    char buf[256];
    ddp_cluster_json_fields(&c, buf, sizeof buf);
    assert_string_equal(buf, "\"scheduler\":\"none\"");
    /* SLURM_CPUS_PER_TASK alone must not change the thread count */
    assert_int_equal(ddp_cluster_default_threads(&c, 0, 6, NULL), 6);
}

static void test_batch_job(void **state)
{
    (void)state;
    const char *env[] = {"SLURM_JOB_ID=4242", "SLURM_JOB_NAME=ddp \"x\"",   "SLURM_JOB_NUM_NODES=2",
                         "SLURM_NTASKS=8",    "SLURM_CPUS_PER_TASK=3",      "SLURM_RESTART_COUNT=1",
                         "SLURM_STEP_ID=0",   "SLURM_TASKS_PER_NODE=4(x2)", NULL};
    ddp_cluster c = detect(env);
    assert_int_equal(c.slurm, 1);
    assert_string_equal(c.job_id, "4242");
    assert_string_equal(c.job_name, "ddp ?x?"); /* quotes cannot break the JSON */
    assert_int_equal(c.n_nodes, 2);
    assert_int_equal(c.n_tasks, 8);
    assert_int_equal(c.cpus_per_task, 3);
    assert_int_equal(c.restart_count, 1);
    assert_int_equal(c.srun_step, 1);
    char buf[512];
    ddp_cluster_describe(&c, buf, sizeof buf);
    assert_string_equal(
        buf, "slurm job 4242 (ddp ?x?), 2 nodes, 8 tasks, 3 CPUs/task, requeued 1 time, srun");
    ddp_cluster_json_fields(&c, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"slurm_job_id\":\"4242\""));
    assert_non_null(strstr(buf, "\"slurm_nodes\":2,\"slurm_tasks\":8,\"slurm_cpus_per_task\":3"));
    assert_non_null(strstr(buf, "\"slurm_restart_count\":1"));
}

static void test_fallback_names_and_malformed(void **state)
{
    (void)state;
    const char *old[] = {"SLURM_JOBID=7", "SLURM_NNODES=3", "SLURM_NPROCS=12", NULL};
    ddp_cluster c = detect(old);
    assert_int_equal(c.slurm, 1);
    assert_string_equal(c.job_id, "7");
    assert_int_equal(c.n_nodes, 3);
    assert_int_equal(c.n_tasks, 12);
    assert_int_equal(c.srun_step, 0);
    const char *bad[] = {
        "SLURM_JOB_ID=12",      "SLURM_JOB_NUM_NODES=2x",          "SLURM_NTASKS=-4",
        "SLURM_CPUS_PER_TASK=", "SLURM_RESTART_COUNT=99999999999", NULL};
    c = detect(bad);
    assert_int_equal(c.slurm, 1);
    assert_int_equal(c.n_nodes, 0);
    assert_int_equal(c.n_tasks, 0);
    assert_int_equal(c.cpus_per_task, 0);
    assert_int_equal(c.restart_count, 0);
    const char *notnum[] = {"SLURM_JOB_ID=abc", NULL};
    assert_int_equal(detect(notnum).slurm, 0);
}

static void test_thread_precedence(void **state)
{
    (void)state;
    const char *env[] = {"SLURM_JOB_ID=1", "SLURM_CPUS_PER_TASK=5", NULL};
    ddp_cluster c = detect(env);
    ddp_thread_source src;
    assert_int_equal(ddp_cluster_default_threads(&c, 2, 8, &src), 2);
    assert_int_equal(src, DDP_THREADS_OMP);
    assert_int_equal(ddp_cluster_default_threads(&c, 0, 8, &src), 5);
    assert_int_equal(src, DDP_THREADS_SLURM);
    assert_string_equal(ddp_cluster_thread_source_name(src), "SLURM_CPUS_PER_TASK");
    const char *no_cpt[] = {"SLURM_JOB_ID=1", NULL};
    c = detect(no_cpt);
    assert_int_equal(ddp_cluster_default_threads(&c, 0, 8, &src), 8);
    assert_int_equal(src, DDP_THREADS_AFFINITY);
    assert_int_equal(ddp_cluster_default_threads(&c, 0, 0, &src), 1); /* never 0 threads */
}

static void test_fit(void **state)
{
    (void)state;
    char msg[512];
    const char *env[] = {"SLURM_JOB_ID=1", NULL};
    ddp_cluster slurm = detect(env);
    ddp_cluster none;
    memset(&none, 0, sizeof none);
    unsetenv("OMP_WAIT_POLICY"); /* the hint below is for users who have not chosen one */
    assert_int_equal(ddp_cluster_check_fit(&none, 2, 4, 8, msg, sizeof msg), 0); /* exactly full */
    assert_int_equal(ddp_cluster_check_fit(&none, 1, 2, 2, msg, sizeof msg), 0);
    assert_int_equal(ddp_cluster_check_fit(&none, 4, 4, 8, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "4 threads x 4 ranks on this node = 16 > 8 cores"));
    assert_non_null(strstr(msg, "OMP_NUM_THREADS=2"));
    assert_non_null(strstr(msg, "OMP_WAIT_POLICY=passive")); /* threads would spin on shared cores */
    assert_int_equal(ddp_cluster_check_fit(&slurm, 4, 4, 8, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "--cpus-per-task=2"));
    /* more ranks than cores: no thread count fits, fewer ranks do */
    assert_int_equal(ddp_cluster_check_fit(&none, 1, 8, 2, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "at most 2 ranks per node"));
    assert_null(strstr(msg, "OMP_WAIT_POLICY")); /* 1 thread a rank: no thread waits at a barrier */
    setenv("OMP_WAIT_POLICY", "active", 1); /* the user's choice stands */
    assert_int_equal(ddp_cluster_check_fit(&none, 4, 4, 8, msg, sizeof msg), 1);
    assert_null(strstr(msg, "OMP_WAIT_POLICY"));
    unsetenv("OMP_WAIT_POLICY");
    /* unknown inputs never warn */
    assert_int_equal(ddp_cluster_check_fit(&none, 4, 4, 0, msg, sizeof msg), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_slurm),
        cmocka_unit_test(test_batch_job),
        cmocka_unit_test(test_fallback_names_and_malformed),
        cmocka_unit_test(test_thread_precedence),
        cmocka_unit_test(test_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
