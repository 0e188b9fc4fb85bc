/* trace.c — span storage and the Chrome trace JSON. See trace.h. */
#include "ddptrain/trace.h"

#include <stdlib.h>
#include <string.h>

int ddp_trace_init(ddp_trace *t, int rank, int64_t cap, double origin)
{
    memset(t, 0, sizeof *t);
    t->rank = rank;
    t->origin = origin;
    t->events = cap > 0 ? malloc((size_t)cap * sizeof *t->events) : NULL;
    if (cap > 0 && !t->events) return -1;
    t->cap = cap;
    return 0;
}

void ddp_trace_free(ddp_trace *t)
{
    free(t->events);
    memset(t, 0, sizeof *t);
}

/* "X" (complete) events in microseconds; one process per rank, named
 * "rank R" and sorted by rank; the phase is the span's name and category. */
int ddp_trace_write_json(FILE *out, const ddp_trace_event *events, int64_t n, const char *const *phase_names,
                         int n_phases, int n_ranks, int64_t dropped)
{
    fprintf(out, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"ddptrain\",\"ranks\":%d,"
                 "\"dropped_spans\":%lld},\n\"traceEvents\":[\n", n_ranks, (long long)dropped);
    for (int r = 0; r < n_ranks; r++) {
        fprintf(out, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"rank %d\"}},\n",
                r, r);
        fprintf(out, "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":{\"sort_index\":%d}},\n",
                r, r);
    }
    for (int64_t i = 0; i < n; i++) {
        const ddp_trace_event *e = &events[i];
        const char *name = e->phase >= 0 && e->phase < n_phases ? phase_names[e->phase] : "unknown";
        fprintf(out, "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":0,\"ts\":%.3f,\"dur\":%.3f,"
                     "\"args\":{\"step\":%lld}},\n",
                name, name, e->rank, e->begin * 1e6, (e->end - e->begin) * 1e6, (long long)e->step);
    }
    /* a closing metadata event, so every event line above can end with a comma */
    fprintf(out, "{\"name\":\"trace_end\",\"ph\":\"M\",\"pid\":0,\"tid\":0,\"args\":{\"spans\":%lld}}\n]}\n",
            (long long)n);
    return ferror(out) ? -1 : 0;
}
