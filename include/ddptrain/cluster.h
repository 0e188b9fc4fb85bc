/* cluster.h — what the batch system tells a rank about its job: Slurm's job
 * id, node, task and CPU counts, and the thread policy that follows from
 * them (threads default to the CPUs Slurm gives each task; threads x ranks
 * on a node above its cores is a mismatch worth a warning).
 *
 * Everything here is a pure function of its arguments: the environment is
 * read through a lookup callback, so the unit tests feed it a table. No MPI,
 * no printing, no global state. The caller (train.c) prints. */
#ifndef DDPTRAIN_CLUSTER_H
#define DDPTRAIN_CLUSTER_H

#include <stddef.h>

/* Returns the value of an environment variable, or NULL when unset. */
typedef const char *(*ddp_env_lookup)(const char *name, void *ctx);

/* ddp_env_lookup over the process environment (getenv); ctx is ignored. */
const char *ddp_cluster_getenv(const char *name, void *ctx);

typedef struct ddp_cluster {
    int slurm;         /* 1 inside a Slurm job (SLURM_JOB_ID is a number) */
    char job_id[32];   /* SLURM_JOB_ID; "" outside Slurm */
    char job_name[64]; /* SLURM_JOB_NAME, truncated; "" if unset */
    int n_nodes;       /* SLURM_JOB_NUM_NODES (or SLURM_NNODES); 0 if unknown */
    int n_tasks;       /* SLURM_NTASKS (or SLURM_NPROCS); 0 if unknown */
    int cpus_per_task; /* SLURM_CPUS_PER_TASK; 0 when --cpus-per-task was not given */
    int restart_count; /* SLURM_RESTART_COUNT: times the job was requeued; 0 */
    int srun_step;     /* 1 when this process is a task of an srun step (SLURM_STEP_ID) */
} ddp_cluster;

/* Fills *out from the environment. Malformed numbers count as unknown (0):
 * detection never fails, it only knows less. */
void ddp_cluster_detect(ddp_env_lookup env, void *ctx, ddp_cluster *out);

/* Where the default thread count came from. */
typedef enum ddp_thread_source {
    DDP_THREADS_OMP = 0,  /* OMP_NUM_THREADS */
    DDP_THREADS_SLURM,    /* SLURM_CPUS_PER_TASK */
    DDP_THREADS_AFFINITY, /* the cores in this rank's affinity mask */
} ddp_thread_source;

/* The default OpenMP threads per rank: OMP_NUM_THREADS when set (omp_threads
 * > 0 is its value), else Slurm's CPUs per task, else the affinity mask's
 * cores (at least 1). *source says which, when not NULL. */
int ddp_cluster_default_threads(const ddp_cluster *c, int omp_threads, int affinity_cpus,
                                ddp_thread_source *source);
const char *ddp_cluster_thread_source_name(ddp_thread_source source);

/* Returns 1 and writes a one-line warning without prefix (the numbers and the fix)
 * when threads_per_rank x ranks_on_node exceeds node_cores; 0 otherwise. */
int ddp_cluster_check_fit(const ddp_cluster *c, int threads_per_rank, int ranks_on_node,
                          int node_cores, char *msg, size_t msg_bytes);

/* One line for the start-up table, e.g.
 * "job 42 (train), 1 node, 4 tasks, 2 CPUs/task, requeued 1 time, srun". */
void ddp_cluster_describe(const ddp_cluster *c, char *out, size_t out_bytes);

/* The fields as a JSON object body: "\"scheduler\":\"slurm\",\"job_id\":...".
 * No braces, so the caller can embed them in a larger record. */
void ddp_cluster_json_fields(const ddp_cluster *c, char *out, size_t out_bytes);

#endif
