/* comm.h — the one place that talks MPI (besides HDF5's MPI-IO driver, which
 * needs the communicator handle). Collective agreement on errors lives here:
 * a rank that fails never leaves the others blocked in a collective; they all
 * learn the worst status and the message of the lowest failing rank.
 *
 * Every function here is collective over the world unless it says otherwise.
 * MPI errors are returned to us (MPI_ERRORS_RETURN) and treated as impossible
 * states: the job is aborted with a message naming the call. */
#ifndef DDPTRAIN_COMM_H
#define DDPTRAIN_COMM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ddp_comm {
    MPI_Comm world; /* duplicate of MPI_COMM_WORLD owned by ddptrain */
    int rank;
    int size;
    int local_size; /* ranks on this node (sharing its memory) */
    long long eager_limit; /* Open MPI's shared-memory eager limit in bytes (-1: not Open MPI, or not a number) */
    int eager_limit_ours;  /* 1: ddptrain set it (64 KiB), 0: the user's environment did */
} ddp_comm;

/* Before MPI_Init: ddptrain's defaults for the MPI library's parameters,
 * where the user set none (Open MPI's shared-memory eager limit: 64 KiB; see
 * comm.c). Returns 1 if it set one. ddp_comm_init calls it; so do the tools
 * that measure what the trainer's allreduce costs. */
int ddp_comm_mpi_defaults(void);
/* Not collective beyond MPI_Init itself. Returns DDP_OK or an exit code. */
int ddp_comm_init(int *argc, char ***argv, ddp_comm *comm, char *err);
void ddp_comm_finalize(ddp_comm *comm);
/* One line for the start-up table: the MPI library and, under Open MPI, the
 * shared-memory eager limit in effect and who set it. Not collective. */
void ddp_comm_describe(const ddp_comm *comm, char *buf, size_t cap);

/* Agree on a status: returns the maximum status over ranks. If it is not
 * DDP_OK, `err` on every rank holds "rank R: <message>" from the lowest rank
 * whose status was non-zero (err must be DDP_ERR_LEN bytes on every rank). */
int ddp_comm_agree(const ddp_comm *comm, int status, char *err);

/* Sum-allreduce in place. */
void ddp_comm_sum_f64(const ddp_comm *comm, double *buf, size_t n_elems);
void ddp_comm_sum_u64(const ddp_comm *comm, uint64_t *buf, size_t n_elems);
/* Non-blocking sum-allreduce in place: start, then wait. Open MPI moves a
 * started reduction on inside MPI calls, so ddp_comm_progress (a test of
 * the given requests) between pieces of other work lets it advance. */
typedef struct ddp_comm_request {
    MPI_Request req;
} ddp_comm_request;
void ddp_comm_isum_f64(const ddp_comm *comm, double *buf, size_t n_elems, ddp_comm_request *req);
void ddp_comm_wait(ddp_comm_request *req);
void ddp_comm_progress(ddp_comm_request *reqs, int n_reqs);
/* Min / max of int64 values in place. */
void ddp_comm_min_i64(const ddp_comm *comm, int64_t *buf, size_t n_elems);
void ddp_comm_max_i64(const ddp_comm *comm, int64_t *buf, size_t n_elems);

/* min / mean / max of one local value across ranks. */
typedef struct ddp_stat3 {
    double min, avg, max;
} ddp_stat3;
ddp_stat3 ddp_comm_stat3(const ddp_comm *comm, double local);

/* Gather one double from every rank onto rank 0 (out has comm->size slots on
 * rank 0; ignored elsewhere). */
void ddp_comm_gather_f64(const ddp_comm *comm, double local, double *out);

/* Gather a variable number of bytes from every rank onto rank 0: *out (rank
 * 0 only; malloc'ed, the caller frees) holds the ranks' bytes in rank order,
 * *out_bytes their total. The total must fit in an int. Returns DDP_OK, or
 * DDP_EXIT_MEMORY agreed on every rank. */
int ddp_comm_gather_bytes(const ddp_comm *comm, const void *buf, size_t n_bytes, void **out, size_t *out_bytes,
                          char *err);

void ddp_comm_bcast(const ddp_comm *comm, void *buf, size_t n_bytes, int root);
void ddp_comm_barrier(const ddp_comm *comm);

#endif
