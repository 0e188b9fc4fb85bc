/* metrics.c — log lines, JSONL records and the progress bar. See metrics.h. */
#include "ddptrain/metrics.h"

#include <math.h>
#include <string.h>

const char *const DDP_PHASE_NAMES[DDP_PHASE_COUNT] = {"data",      "compute", "allreduce",
                                                      "optimizer", "eval",    "checkpoint"};

void ddp_timers_reset(ddp_timers *t)
{
    ddp_trace *keep = t->trace;
    memset(t, 0, sizeof *t);
    t->trace = keep;
}

void ddp_log_print(FILE *out, const ddp_log_record *r)
{
    if (strcmp(r->kind, "epoch") == 0)
        fprintf(out, "epoch %4lld  step %7lld  loss %.6f", (long long)r->epoch, (long long)r->step, r->loss);
    else
        fprintf(out, "step %7lld  epoch %4lld  loss %.6f", (long long)r->step, (long long)r->epoch, r->loss);
    if (!isnan(r->val_loss)) fprintf(out, "  val_loss %.6f", r->val_loss);
    if (!isnan(r->val_metric)) fprintf(out, "  %s %.4f", r->metric_name, r->val_metric);
    if (!isnan(r->val_metric2)) fprintf(out, "  %s %.4f", r->metric2_name, r->val_metric2);
    fprintf(out, "  |g| %.3e  |dw| %.3e  lr %.3e  %.0f samples/s", r->grad_norm, r->update_norm, r->lr,
            r->samples_per_s);
    double sum = 0;
    for (int p = 0; p < DDP_PHASE_COUNT; p++) sum += r->phase_seconds[p];
    if (sum > 0) {
        fprintf(out, "  time");
        for (int p = 0; p < DDP_PHASE_COUNT; p++)
            if (r->phase_seconds[p] > 0)
                fprintf(out, " %s %.0f%%", DDP_PHASE_NAMES[p], 100.0 * r->phase_seconds[p] / sum);
    }
    if (r->skipped_steps) fprintf(out, "  skipped %lld", (long long)r->skipped_steps);
    fputc('\n', out);
}

static void json_num(FILE *out, const char *key, double v)
{
    if (isfinite(v)) fprintf(out, ",\"%s\":%.9g", key, v);
    else if (!isnan(v)) fprintf(out, ",\"%s\":null", key);
}

void ddp_log_json(FILE *out, const ddp_log_record *r)
{
    fprintf(out, "{\"kind\":\"%s\",\"step\":%lld,\"epoch\":%lld", r->kind, (long long)r->step, (long long)r->epoch);
    json_num(out, "loss", r->loss);
    json_num(out, "val_loss", r->val_loss);
    if (r->metric_name) json_num(out, r->metric_name, r->val_metric);
    if (r->metric2_name) json_num(out, r->metric2_name, r->val_metric2);
    json_num(out, "grad_norm", r->grad_norm);
    json_num(out, "update_norm", r->update_norm);
    json_num(out, "lr", r->lr);
    json_num(out, "samples_per_s", r->samples_per_s);
    for (int p = 0; p < DDP_PHASE_COUNT; p++) {
        char key[32];
        snprintf(key, sizeof key, "t_%s", DDP_PHASE_NAMES[p]);
        json_num(out, key, r->phase_seconds[p]);
    }
    fprintf(out, ",\"skipped_steps\":%lld}\n", (long long)r->skipped_steps);
    fflush(out);
}

void ddp_progress(FILE *out, int64_t done, int64_t total, double loss, double elapsed_s)
{
    const int width = 30;
    double frac = total > 0 ? (double)done / (double)total : 0;
    int fill = (int)(frac * width);
    double eta = done > 0 ? elapsed_s * (double)(total - done) / (double)done : 0;
    fprintf(out, "\r[");
    for (int i = 0; i < width; i++) fputc(i < fill ? '=' : (i == fill ? '>' : ' '), out);
    fprintf(out, "] %3.0f%% step %lld/%lld  loss %.4f  ETA %.0fs   ", 100 * frac, (long long)done, (long long)total,
            loss, eta);
    fflush(out);
}
