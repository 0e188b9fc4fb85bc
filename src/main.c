/* main.c — `ddptrain <command>`: MPI start-up, parsing, dispatch, and the one
 * place that prints the agreed error and picks the exit code. Every rank
 * returns the same code; only rank 0 prints. Commands that are serial by
 * nature (info, convert) run on rank 0 while the others wait for its verdict. */
#include "ddptrain/comm.h"
#include "ddptrain/common.h"
#include "ddptrain/config.h"
#include "ddptrain/convert.h"
#include "ddptrain/data.h"
#include "ddptrain/gen.h"
#include "ddptrain/h5safe.h"
#include "ddptrain/info.h"
#include "ddptrain/train.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_RANK_LINES 64

/* `ddptrain load`: the training loader, then a per-rank report. */
static int cmd_load(const ddp_comm *comm, const ddp_config *cfg, char *err)
{
    ddp_data_spec spec = {cfg->data_path, cfg->features_name, cfg->labels_name, cfg->task, cfg->n_classes,
                          cfg->n_vshards, cfg->memory_limit};
    ddp_dataset ds;
    int rc = ddp_data_load(comm, &spec, &ds, err);
    if (rc != DDP_OK) return rc;

    double gbps = ds.load_seconds > 0 ? (double)ds.bytes_read / 1e9 / ds.load_seconds : 0.0;
    ddp_stat3 rows = ddp_comm_stat3(comm, (double)ds.n_local);
    ddp_stat3 mb = ddp_comm_stat3(comm, (double)ds.bytes_read / 1e6);
    ddp_stat3 secs = ddp_comm_stat3(comm, ds.load_seconds);
    ddp_stat3 rate = ddp_comm_stat3(comm, gbps);
    ddp_stat3 t_meta = ddp_comm_stat3(comm, ds.meta_seconds);
    ddp_stat3 t_read = ddp_comm_stat3(comm, ds.read_seconds);
    ddp_stat3 t_check = ddp_comm_stat3(comm, ds.check_seconds);
    double *per_rank = comm->rank == 0 ? calloc((size_t)comm->size * 4, sizeof(double)) : NULL;
    if (comm->rank == 0) DDP_ASSERT(per_rank);
    double mine[4] = {(double)ds.plan.row_begin, (double)ds.n_local, (double)(ds.plan.vshard_end - ds.plan.vshard_begin),
                      gbps};
    for (int k = 0; k < 4; k++) ddp_comm_gather_f64(comm, mine[k], per_rank ? per_rank + k * comm->size : NULL);
    uint64_t sum[2] = {ddp_data_checksum(ds.x, ds.y, ds.plan.row_begin, ds.n_local, ds.n_features),
                       (uint64_t)ds.n_local};
    ddp_comm_sum_u64(comm, sum, 2);

    if (comm->rank == 0 && !cfg->quiet) {
        printf("load: %s  %s %s [%lld, %lld]  %s %s [%lld]  model %s", cfg->data_path, cfg->features_name,
               ds.x_dtype, (long long)ds.n_rows, (long long)ds.n_features, cfg->labels_name, ds.y_dtype,
               (long long)ds.n_rows, ddp_task_name(cfg->task));
        if (ds.n_classes) printf(" (%lld classes)", (long long)ds.n_classes);
        printf("\n  ranks %d, virtual shards %lld (quantum %lld-%lld rows)\n", comm->size,
               (long long)ds.plan.n_vshards, (long long)(ds.n_rows / ds.plan.n_vshards),
               (long long)((ds.n_rows + ds.plan.n_vshards - 1) / ds.plan.n_vshards));
        printf("  %-10s %12s %12s %12s\n", "per rank", "min", "avg", "max");
        printf("  %-10s %12.0f %12.1f %12.0f\n", "rows", rows.min, rows.avg, rows.max);
        printf("  %-10s %12.2f %12.2f %12.2f\n", "MB", mb.min, mb.avg, mb.max);
        printf("  %-10s %12.4f %12.4f %12.4f\n", "seconds", secs.min, secs.avg, secs.max);
        printf("  %-10s %12.3f %12.3f %12.3f\n", "GB/s", rate.min, rate.avg, rate.max);
        printf("  %-10s %12.4f %12.4f %12.4f\n", "s metadata", t_meta.min, t_meta.avg, t_meta.max);
        printf("  %-10s %12.4f %12.4f %12.4f\n", "s read", t_read.min, t_read.avg, t_read.max);
        printf("  %-10s %12.4f %12.4f %12.4f\n", "s checks", t_check.min, t_check.avg, t_check.max);
        printf("  aggregate  %.3f GB in %.4f s = %.3f GB/s\n", mb.avg * comm->size / 1e3, secs.max,
               secs.max > 0 ? mb.avg * comm->size / 1e3 / secs.max : 0.0);
        int shown = comm->size < MAX_RANK_LINES ? comm->size : MAX_RANK_LINES;
        for (int r = 0; r < shown; r++)
            printf("  rank %-4d rows %lld..%lld (%lld rows, %lld virtual shards) %.3f GB/s\n", r,
                   (long long)per_rank[r], (long long)(per_rank[r] + per_rank[comm->size + r] - 1),
                   (long long)per_rank[comm->size + r], (long long)per_rank[2 * comm->size + r],
                   per_rank[3 * comm->size + r]);
        printf("  rows loaded %" PRIu64 " of %lld\n", sum[1], (long long)ds.n_rows);
    }
    if (comm->rank == 0 && cfg->checksum)
        printf("checksum: %016" PRIx64 "  (%lld rows, order-independent)\n", sum[0], (long long)ds.n_rows);
    free(per_rank);
    ddp_data_free(&ds);
    if (sum[1] != (uint64_t)ds.n_rows) {
        ddp_errf(err, "internal: %" PRIu64 " rows loaded across ranks, file has %lld", sum[1], (long long)ds.n_rows);
        return DDP_EXIT_INTERNAL;
    }
    return DDP_OK;
}

/* Run a serial command on rank 0; everyone gets its status. */
static int on_rank0(const ddp_comm *comm, const ddp_config *cfg, char *err)
{
    int rc = DDP_OK;
    if (comm->rank == 0) {
        if (cfg->command == DDP_CMD_INFO) rc = ddp_info_run(cfg, stdout, err);
        else rc = ddp_convert_run(cfg, err);
        fflush(stdout);
    }
    return ddp_comm_agree(comm, rc, err);
}

int main(int argc, char **argv)
{
    char err[DDP_ERR_LEN] = "";
    ddp_comm comm = {.world = MPI_COMM_NULL, .rank = 0, .size = 1, .local_size = 1, .eager_limit = -1};
    int rc = ddp_comm_init(&argc, &argv, &comm, err);
    if (rc != DDP_OK) {
        fprintf(stderr, "ddptrain: error: %s\n", err);
        return rc;
    }
    ddp_h5_init();

    ddp_config cfg;
    rc = ddp_config_parse(argc, argv, &cfg, err);
    if (rc == DDP_OK && cfg.version) {
        if (comm.rank == 0) printf("ddptrain %s (HDF5 %d.%d.%d, MPI %d.%d)\n", DDP_VERSION_STRING, H5_VERS_MAJOR,
                                   H5_VERS_MINOR, H5_VERS_RELEASE, MPI_VERSION, MPI_SUBVERSION);
    } else if (rc == DDP_OK && cfg.help) {
        if (comm.rank == 0) ddp_config_usage(cfg.command, stdout);
    } else if (rc == DDP_OK) {
        switch (cfg.command) {
        case DDP_CMD_GEN: rc = ddp_gen_run(&comm, &cfg, err); break;
        case DDP_CMD_LOAD: rc = cmd_load(&comm, &cfg, err); break;
        case DDP_CMD_INFO:
        case DDP_CMD_CONVERT: rc = on_rank0(&comm, &cfg, err); break;
        case DDP_CMD_TRAIN: rc = ddp_train_run(&comm, &cfg, argc, argv, err); break;
        case DDP_CMD_EVAL: rc = ddp_eval_run(&comm, &cfg, err); break;
        case DDP_CMD_PREDICT: rc = ddp_predict_run(&comm, &cfg, err); break;
        default: DDP_ASSERT(0 && "command without a handler");
        }
    }
    if (rc != DDP_OK && comm.rank == 0) fprintf(stderr, "ddptrain: error: %s\n", err);
    fflush(stdout);
    fflush(stderr);
    ddp_comm_finalize(&comm);
    return rc;
}
