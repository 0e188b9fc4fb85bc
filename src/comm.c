/* comm.c — MPI start-up, collective error agreement and the reductions the
 * rest of ddptrain needs. No other module calls MPI_* directly (data.c hands
 * the communicator to HDF5's MPI-IO driver, nothing more). */
#include "ddptrain/comm.h"
#include "ddptrain/common.h"

#include <errno.h>
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

/* Open MPI's shared-memory transport (btl vader) copies a message up to its
 * eager limit (4 KiB by default) through the receiver's FIFO; a larger one
 * takes a rendezvous (a handshake, then a single copy by the receiver). The
 * per-step gradient of a model with a few thousand parameters is tens of
 * KiB: B2's 63 KiB allreduce at 2 ranks took 19-47 us a step with the
 * rendezvous and 12-14 us with a 64 KiB eager limit (2 ranks x 1 thread went
 * from 0.75-0.86 to 0.93-0.96 of 1 rank x 2 threads). So ddptrain raises the
 * limit to 64 KiB before MPI_Init, unless the user chose one: the
 * environment variable is what mpirun --mca and Open MPI's own parameter
 * files are overridden by. Other MPI libraries ignore it. */
#define EAGER_VAR "OMPI_MCA_btl_vader_eager_limit"
#define EAGER_DEFAULT "65536"

/* Open MPI's shared-memory eager limit in effect, or -1 when the library is
 * not Open MPI or the value is not a byte count. Open MPI takes it from
 * EAGER_VAR (mpirun's --mca arrives the same way, and an environment value
 * beats a parameter file), and ddp_comm_mpi_defaults set that before
 * MPI_Init wherever the user had not. Not read through MPI_T: its
 * MPI_T_init_thread registers every Open MPI component, dlopening all of
 * them, and Debian's PSM libraries calibrate a timer for ~0.1 s each as
 * they load: 0.22 s of every rank's start, measured on 2026-12-06. */
static long long eager_limit_in_effect(void)
{
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(lib, &len) != MPI_SUCCESS || strncmp(lib, "Open MPI", 8) != 0) return -1;
    const char *v = getenv(EAGER_VAR);
    char *end = NULL;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : -1;
    if (!v || end == v || *end != '\0' || errno != 0 || n < 0) return -1;
    return n;
}

int ddp_comm_mpi_defaults(void)
{
    if (getenv(EAGER_VAR)) return 0;
    setenv(EAGER_VAR, EAGER_DEFAULT, 0);
    return 1;
}

int ddp_comm_init(int *argc, char ***argv, ddp_comm *comm, char *err)
{
    comm->eager_limit_ours = ddp_comm_mpi_defaults();
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
    comm->eager_limit = eager_limit_in_effect();
    if (provided < MPI_THREAD_FUNNELED) {
        ddp_errf(err, "MPI provides thread level %d, ddptrain needs MPI_THREAD_FUNNELED", provided);
        return DDP_EXIT_INTERNAL;
    }
    return DDP_OK;
}

void ddp_comm_describe(const ddp_comm *comm, char *buf, size_t cap)
{
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(lib, &len) != MPI_SUCCESS) snprintf(lib, sizeof lib, "unknown MPI");
    lib[strcspn(lib, ",\n")] = '\0'; /* "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4" */
    if (comm->eager_limit < 0)
        snprintf(buf, cap, "%s", lib);
    else
        snprintf(buf, cap, "%s, shared-memory eager limit %lld B (%s)", lib, comm->eager_limit,
                 comm->eager_limit_ours ? "ddptrain's default; " EAGER_VAR " overrides" : "from " EAGER_VAR);
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
