/* trace.h — the timeline of a run: every rank's phase spans (data, compute,
 * allreduce, optimizer, eval, checkpoint) in the Chrome trace event format,
 * which Perfetto (ui.perfetto.dev) and chrome://tracing open. One process
 * row per rank, one span per phase of each step, with the step number.
 *
 * Recording is one store into an array allocated at start-up: no I/O, no
 * MPI, no allocation while training. Past the capacity, spans are counted
 * as dropped (and the count is written into the file). At the end the
 * trainer gathers every rank's spans (comm.c) and rank 0 writes the JSON. */
#ifndef DDPTRAIN_TRACE_H
#define DDPTRAIN_TRACE_H

#include <stdint.h>
#include <stdio.h>

typedef struct ddp_trace_event {
    double begin, end; /* seconds since the trace's origin */
    int64_t step;      /* 1-based step the span belongs to (0: none) */
    int32_t phase;     /* index into the phase names */
    int32_t rank;
} ddp_trace_event;

typedef struct ddp_trace {
    ddp_trace_event *events;
    int64_t n, cap, dropped;
    double origin; /* ddp_now() at a barrier every rank passed */
    int rank;
} ddp_trace;

/* Room for `cap` spans. Returns 0, or -1 when out of memory. */
int ddp_trace_init(ddp_trace *t, int rank, int64_t cap, double origin);
void ddp_trace_free(ddp_trace *t);

static inline void ddp_trace_span(ddp_trace *t, int phase, int64_t step, double begin, double end)
{
    if (t->n >= t->cap) {
        t->dropped++;
        return;
    }
    ddp_trace_event *e = &t->events[t->n++];
    e->begin = begin - t->origin;
    e->end = end - t->origin;
    e->step = step;
    e->phase = phase;
    e->rank = t->rank;
}

/* The whole trace file: events of all ranks (any order), their phase names,
 * the number of ranks (one named process row each), spans dropped in all.
 * Returns 0, or -1 on a write error. */
int ddp_trace_write_json(FILE *out, const ddp_trace_event *events, int64_t n, const char *const *phase_names,
                         int n_phases, int n_ranks, int64_t dropped);

#endif
