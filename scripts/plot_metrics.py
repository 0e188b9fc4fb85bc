#!/usr/bin/python3
"""plot_metrics.py — loss and accuracy (or RMSE and R²) curves from the JSONL
file of `ddptrain train --metrics FILE`.

    plot_metrics.py METRICS.jsonl [-o OUT.png] [--title TEXT]

Each line of the file is one log record (src/metrics.c, ddp_log_json):
{"kind": "step"|"epoch", "step", "epoch", "loss", "val_loss",
"val_accuracy" | "val_rmse" + "val_r2", "grad_norm", "update_norm", "lr",
"samples_per_s", "t_<phase>"..., "skipped_steps"}; keys whose value is not
finite are written as null, and keys without a value are left out.
Panels, against the global step:
  1. loss: training loss of "step" records (the mean over the steps since
     the previous line) as a line, "epoch" records as markers; validation
     loss likewise, when present;
  2. validation accuracy (softmax, logistic) or RMSE and R² (linear), when
     any record has them;
  3. learning rate, when it changes during the run.
Default OUT: METRICS with .png in place of .jsonl. Lines that are not JSON
objects are reported and skipped; a file without any record exits 2.
Needs matplotlib (Debian's python3-matplotlib).
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def series(records, kind, key):
    pts = [(r["step"], r[key]) for r in records if r.get("kind") == kind and finite(r.get(key)) and finite(r.get("step"))]
    return [p[0] for p in pts], [p[1] for p in pts]


def plot_key(ax, records, key, label, colour):
    """Step records as a line, epoch records as markers; True if anything was drawn."""
    drawn = False
    xs, ys = series(records, "step", key)
    if xs:
        ax.plot(xs, ys, color=colour, linewidth=1.2, label=f"{label} (log lines)")
        drawn = True
    xs, ys = series(records, "epoch", key)
    if xs:
        ax.plot(xs, ys, color=colour, marker="o", linestyle="--" if not drawn else "none", markersize=5,
                label=f"{label} (epochs)")
        drawn = True
    return drawn


def load(path):
    records, bad = [], 0
    try:
        f = open(path)
    except OSError as e:
        sys.exit(f"plot_metrics.py: {path}: {e.strerror}")
    with f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                r = None
            if not isinstance(r, dict) or "step" not in r:
                bad += 1
                if bad <= 3:
                    print(f"plot_metrics.py: {path}:{n}: not a metrics record, skipped", file=sys.stderr)
                continue
            records.append(r)
    return records


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("metrics")
    ap.add_argument("-o", "--out")
    ap.add_argument("--title")
    args = ap.parse_args()
    records = load(args.metrics)
    if not records:
        print(f"plot_metrics.py: {args.metrics}: no metrics records (write them with ddptrain train --metrics FILE)",
              file=sys.stderr)
        sys.exit(2)
    out = args.out or (os.path.splitext(args.metrics)[0] + ".png")

    metric_keys = [k for k in ("val_accuracy", "val_rmse", "val_r2") if any(finite(r.get(k)) for r in records)]
    lrs = {r.get("lr") for r in records if finite(r.get("lr"))}
    panels = ["loss"] + (["metric"] if metric_keys else []) + (["lr"] if len(lrs) > 1 else [])
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.8 * len(panels) + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]

    ax = axes[0]
    plot_key(ax, records, "loss", "train loss", "#1f77b4")
    plot_key(ax, records, "val_loss", "validation loss", "#d62728")
    ax.set_ylabel("loss")
    losses = [r["loss"] for r in records if finite(r.get("loss"))]
    if losses and min(losses) > 0 and max(losses) / min(losses) > 50:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    i = 1
    if metric_keys:
        ax = axes[i]
        i += 1
        names = {"val_accuracy": ("validation accuracy", "#2ca02c"), "val_rmse": ("validation RMSE", "#9467bd"),
                 "val_r2": ("validation R²", "#8c564b")}
        twin = None
        for k in metric_keys:
            label, colour = names[k]
            target = ax
            if k == "val_r2" and "val_rmse" in metric_keys:  # different scales: R² on its own axis
                twin = twin or ax.twinx()
                target = twin
                target.set_ylabel("R²")
            plot_key(target, records, k, label, colour)
        ax.set_ylabel("accuracy" if "val_accuracy" in metric_keys else "RMSE")
        handles, labels = ax.get_legend_handles_labels()
        if twin:
            h2, l2 = twin.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        ax.legend(handles, labels, fontsize=8)
        ax.grid(alpha=0.3)
    if "lr" in panels:
        ax = axes[i]
        plot_key(ax, records, "lr", "learning rate", "#7f7f7f")
        ax.set_ylabel("lr")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("step")
    n_step = sum(r.get("kind") == "step" for r in records)
    n_epoch = sum(r.get("kind") == "epoch" for r in records)
    fig.suptitle(args.title or f"{os.path.basename(args.metrics)}: {n_step} log lines, {n_epoch} epochs", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot_metrics.py: wrote {out} ({len(records)} records, panels: {', '.join(panels)})")


if __name__ == "__main__":
    main()
