/* cluster.c — Slurm detection and the thread policy. See cluster.h.
 * Deliberately no MPI and no printing: the trainer decides who prints what. */
#include "ddptrain/cluster.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ddp_cluster_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

/* A positive decimal int, or 0 (unknown) for anything else: Slurm variables
 * such as SLURM_TASKS_PER_NODE="2(x3)" must not be half-parsed into a wrong
 * number. */
static int parse_count(const char *s)
{
    if (!s || !*s) return 0;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0 || v > INT_MAX) return 0;
    return (int)v;
}

static int first_count(ddp_env_lookup env, void *ctx, const char *name, const char *fallback)
{
    int v = parse_count(env(name, ctx));
    return v > 0 ? v : parse_count(env(fallback, ctx));
}

/* Copies s into out, replacing anything that would break a one-line table
 * or a JSON string (quotes, backslashes, control characters) with '?'. */
static void copy_clean(char *out, size_t out_bytes, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < out_bytes; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\') ? '?' : (char)ch;
    }
    out[i] = '\0';
}

void ddp_cluster_detect(ddp_env_lookup env, void *ctx, ddp_cluster *out)
{
    memset(out, 0, sizeof *out);
    const char *job = env("SLURM_JOB_ID", ctx);
    if (!parse_count(job)) job = env("SLURM_JOBID", ctx); /* older Slurm */
    if (!parse_count(job)) return;
    out->slurm = 1;
    copy_clean(out->job_id, sizeof out->job_id, job);
    copy_clean(out->job_name, sizeof out->job_name, env("SLURM_JOB_NAME", ctx));
    out->n_nodes = first_count(env, ctx, "SLURM_JOB_NUM_NODES", "SLURM_NNODES");
    out->n_tasks = first_count(env, ctx, "SLURM_NTASKS", "SLURM_NPROCS");
    out->cpus_per_task = parse_count(env("SLURM_CPUS_PER_TASK", ctx));
    out->restart_count = parse_count(env("SLURM_RESTART_COUNT", ctx));
    out->srun_step = env("SLURM_STEP_ID", ctx) != NULL;
}

int ddp_cluster_default_threads(const ddp_cluster *c, int omp_threads, int affinity_cpus,
                                ddp_thread_source *source)
{
    ddp_thread_source src = DDP_THREADS_AFFINITY;
    int n = affinity_cpus > 0 ? affinity_cpus : 1;
    if (omp_threads > 0) {
        src = DDP_THREADS_OMP; /* the user's explicit choice wins over the scheduler's */
        n = omp_threads;
    } else if (c && c->slurm && c->cpus_per_task > 0) {
        src = DDP_THREADS_SLURM;
        n = c->cpus_per_task;
    }
    if (source) *source = src;
    return n;
}

const char *ddp_cluster_thread_source_name(ddp_thread_source source)
{
    switch (source) {
    case DDP_THREADS_OMP:
        return "OMP_NUM_THREADS";
    case DDP_THREADS_SLURM:
        return "SLURM_CPUS_PER_TASK";
    default:
        return "affinity mask";
    }
}

int ddp_cluster_check_fit(const ddp_cluster *c, int threads_per_rank, int ranks_on_node,
                          int node_cores, char *msg, size_t msg_bytes)
{
    if (threads_per_rank < 1 || ranks_on_node < 1 || node_cores < 1) return 0;
    long long want = (long long)threads_per_rank * ranks_on_node;
    if (want <= node_cores) return 0;
    int fit = node_cores / ranks_on_node;
    char fix[256];
    if (fit >= 1 && c && c->slurm)
        snprintf(fix, sizeof fix,
                 "use sbatch --cpus-per-task=%d (or OMP_NUM_THREADS=%d / --threads %d)", fit, fit,
                 fit);
    else if (fit >= 1)
        snprintf(fix, sizeof fix, "set OMP_NUM_THREADS=%d (or --threads %d)", fit, fit);
    else
        snprintf(fix, sizeof fix, "run at most %d ranks per node with 1 thread each", node_cores);
    /* Threads waiting at a barrier spin on the cores the threads they wait
     * for need: 2 ranks x 2 threads on 2 cores took 2.3-2.6 s against
     * 0.01-0.04 s with OMP_WAIT_POLICY=passive (README, "Fit check") */
    const char *passive = threads_per_rank > 1 && !getenv("OMP_WAIT_POLICY")
                              ? "; if the cores must be shared, OMP_WAIT_POLICY=passive stops waiting threads "
                                "spinning on them"
                              : "";
    snprintf(
        msg, msg_bytes,
        "%d threads x %d ranks on this node = %lld > %d cores; ranks compete for cores and run "
        "slower: %s%s",
        threads_per_rank, ranks_on_node, want, node_cores, fix, passive);
    return 1;
}

void ddp_cluster_describe(const ddp_cluster *c, char *out, size_t out_bytes)
{
    if (!c->slurm) {
        snprintf(out, out_bytes, "none (not a Slurm job)");
        return;
    }
    char name[80] = "";
    if (c->job_name[0]) snprintf(name, sizeof name, " (%s)", c->job_name);
    char cpt[32] = "CPUs/task not set";
    if (c->cpus_per_task > 0) snprintf(cpt, sizeof cpt, "%d CPUs/task", c->cpus_per_task);
    char restarts[48] = "";
    if (c->restart_count > 0)
        snprintf(restarts, sizeof restarts, ", requeued %d time%s", c->restart_count,
                 c->restart_count == 1 ? "" : "s");
    snprintf(out, out_bytes, "slurm job %s%s, %d node%s, %d tasks, %s%s, %s", c->job_id, name,
             c->n_nodes, c->n_nodes == 1 ? "" : "s", c->n_tasks, cpt, restarts,
             c->srun_step ? "srun" : "mpirun in allocation");
}

void ddp_cluster_json_fields(const ddp_cluster *c, char *out, size_t out_bytes)
{
    if (!c->slurm) {
        snprintf(out, out_bytes, "\"scheduler\":\"none\"");
        return;
    }
    snprintf(out, out_bytes,
             "\"scheduler\":\"slurm\",\"slurm_job_id\":\"%s\",\"slurm_job_name\":\"%s\",\"slurm_"
             "nodes\":%d,"
             "\"slurm_tasks\":%d,\"slurm_cpus_per_task\":%d,\"slurm_restart_count\":%d",
             c->job_id, c->job_name, c->n_nodes, c->n_tasks, c->cpus_per_task, c->restart_count);
}
