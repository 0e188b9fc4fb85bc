/* comm.c — MPI start-up, collective error agreement and the reductions the
 * rest of ddptrain needs. No other module calls MPI_* directly (data.c hands
 * the communicator to HDF5's MPI-IO driver, nothing more). */
#include "ddptrain/comm.h"
#include "ddptrain/common.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An MPI call failing is not an input problem we can explain to the user; it
 * means the job is broken. Say which call and abort everyone. */
static void mpi_check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    fprintf(stderr, "ddptrain: internal error: %s failed: %s\n", what, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, DDP_EXIT_INTERNAL);
}

int ddp_comm_init(int *argc, char ***argv, ddp_comm *comm, char *err)
{
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        ddp_errf(err, "MPI_Init_thread failed; check the MPI installation (mpirun --version)");
        return DDP_EXIT_INTERNAL;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &comm->world), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm->world, MPI_ERRORS_RETURN);
    mpi_check(MPI_Comm_rank(comm->world, &comm->rank), "MPI_Comm_rank");
    mpi_check(MPI_Comm_size(comm->world, &comm->size), "MPI_Comm_size");
    MPI_Comm node;
    mpi_check(MPI_Comm_split_type(comm->world, MPI_COMM_TYPE_SHARED, comm->rank, MPI_INFO_NULL, &node),
              "MPI_Comm_split_type");
    mpi_check(MPI_Comm_size(node, &comm->local_size), "MPI_Comm_size(node)");
    MPI_Comm_free(&node);
    if (provided < MPI_THREAD_FUNNELED) {
        ddp_errf(err, "MPI provides thread level %d, ddptrain needs MPI_THREAD_FUNNELED", provided);
        return DDP_EXIT_INTERNAL;
    }
    return DDP_OK;
}

void ddp_comm_finalize(ddp_comm *comm)
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    if (comm->world != MPI_COMM_NULL) MPI_Comm_free(&comm->world);
    MPI_Finalize();
}

int ddp_comm_agree(const ddp_comm *comm, int status, char *err)
{
    /* One allreduce: max status, and min failing rank encoded as max of -rank. */
    int local[2] = {status, status != 0 ? -comm->rank : INT_MIN};
    int global[2];
    mpi_check(MPI_Allreduce(local, global, 2, MPI_INT, MPI_MAX, comm->world), "MPI_Allreduce(agree)");
    if (global[0] == 0) return 0;
    int root = -global[1];
    char msg[DDP_ERR_LEN];
    if (comm->rank == root) snprintf(msg, sizeof msg, "%s", err ? err : "unknown error");
    mpi_check(MPI_Bcast(msg, DDP_ERR_LEN, MPI_CHAR, root, comm->world), "MPI_Bcast(agree)");
    msg[DDP_ERR_LEN - 1] = '\0';
    if (err) {
        /* a message that already went through an agreement keeps its one prefix */
        if (comm->size > 1 && strncmp(msg, "rank ", 5) != 0)
            ddp_errf(err, "rank %d: %s", root, msg);
        else
            ddp_errf(err, "%s", msg);
    }
    return global[0];
}

/* Every reduction of the job goes through here: in place, checked. */
static void allreduce_in_place(const ddp_comm *comm, void *buf, size_t n_elems, MPI_Datatype type, MPI_Op op,
                               const char *what)
{
    DDP_ASSERT(n_elems <= INT_MAX);
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n_elems, type, op, comm->world), what);
}

void ddp_comm_sum_f64(const ddp_comm *comm, double *buf, size_t n_elems)
{
    allreduce_in_place(comm, buf, n_elems, MPI_DOUBLE, MPI_SUM, "MPI_Allreduce(sum f64)");
}

void ddp_comm_sum_u64(const ddp_comm *comm, uint64_t *buf, size_t n_elems)
{
    allreduce_in_place(comm, buf, n_elems, MPI_UINT64_T, MPI_SUM, "MPI_Allreduce(sum u64)");
}

void ddp_comm_min_i64(const ddp_comm *comm, int64_t *buf, size_t n_elems)
{
    allreduce_in_place(comm, buf, n_elems, MPI_INT64_T, MPI_MIN, "MPI_Allreduce(min i64)");
}

void ddp_comm_max_i64(const ddp_comm *comm, int64_t *buf, size_t n_elems)
{
    allreduce_in_place(comm, buf, n_elems, MPI_INT64_T, MPI_MAX, "MPI_Allreduce(max i64)");
}

ddp_stat3 ddp_comm_stat3(const ddp_comm *comm, double local)
{
    double mm[2] = {-local, local}; /* max of -x is -min */
    double sum = local;
    allreduce_in_place(comm, mm, 2, MPI_DOUBLE, MPI_MAX, "MPI_Allreduce(stat max)");
    allreduce_in_place(comm, &sum, 1, MPI_DOUBLE, MPI_SUM, "MPI_Allreduce(stat sum)");
    ddp_stat3 s = {-mm[0], sum / comm->size, mm[1]};
    return s;
}

void ddp_comm_gather_f64(const ddp_comm *comm, double local, double *out)
{
    mpi_check(MPI_Gather(&local, 1, MPI_DOUBLE, out, 1, MPI_DOUBLE, 0, comm->world), "MPI_Gather");
}

void ddp_comm_isum_f64(const ddp_comm *comm, double *buf, size_t n_elems, ddp_comm_request *req)
{
    DDP_ASSERT(n_elems <= INT_MAX);
    mpi_check(MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n_elems, MPI_DOUBLE, MPI_SUM, comm->world, &req->req),
              "MPI_Iallreduce");
}

void ddp_comm_wait(ddp_comm_request *req)
{
    mpi_check(MPI_Wait(&req->req, MPI_STATUS_IGNORE), "MPI_Wait");
}

void ddp_comm_progress(ddp_comm_request *reqs, int n_reqs)
{
    for (int i = 0; i < n_reqs; i++) {
        int done = 0;
        mpi_check(MPI_Test(&reqs[i].req, &done, MPI_STATUS_IGNORE), "MPI_Test");
    }
}

int ddp_comm_gather_bytes(const ddp_comm *comm, const void *buf, size_t n_bytes, void **out, size_t *out_bytes,
                          char *err)
{
    DDP_ASSERT(n_bytes <= INT_MAX);
    int mine = (int)n_bytes, *counts = NULL, *displs = NULL;
    char *all = NULL;
    int rc = DDP_OK;
    *out = NULL;
    *out_bytes = 0;
    if (comm->rank == 0) {
        counts = calloc((size_t)comm->size, sizeof(int));
        displs = calloc((size_t)comm->size, sizeof(int));
        if (!counts || !displs) rc = DDP_EXIT_MEMORY;
    }
    if (rc != DDP_OK) ddp_errf(err, "cannot allocate memory to gather %s", "the ranks' data on rank 0");
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) {
        free(counts);
        free(displs);
        return rc;
    }
    mpi_check(MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, comm->world), "MPI_Gather");
    if (comm->rank == 0) {
        int64_t total = 0;
        for (int r = 0; r < comm->size; r++) {
            displs[r] = (int)total;
            total += counts[r];
        }
        DDP_ASSERT(total <= INT_MAX);
        all = malloc(total > 0 ? (size_t)total : 1);
        if (!all) rc = DDP_EXIT_MEMORY;
        *out_bytes = (size_t)total;
    }
    if (rc != DDP_OK) ddp_errf(err, "cannot allocate memory to gather %s", "the ranks' data on rank 0");
    rc = ddp_comm_agree(comm, rc, err);
    if (rc == DDP_OK)
        mpi_check(MPI_Gatherv(buf, mine, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, comm->world), "MPI_Gatherv");
    free(counts);
    free(displs);
    if (rc != DDP_OK) {
        free(all);
        *out_bytes = 0;
        return rc;
    }
    *out = all;
    return DDP_OK;
}

void ddp_comm_bcast(const ddp_comm *comm, void *buf, size_t n_bytes, int root)
{
    DDP_ASSERT(n_bytes <= INT_MAX);
    mpi_check(MPI_Bcast(buf, (int)n_bytes, MPI_BYTE, root, comm->world), "MPI_Bcast");
}

void ddp_comm_barrier(const ddp_comm *comm)
{
    mpi_check(MPI_Barrier(comm->world), "MPI_Barrier");
}
