#!/usr/bin/python3
"""plot_bench.py — bar chart of scripts/bench/bench.sh's CSV.

    plot_bench.py bench.csv [-o bench.png] [--linear]

One panel per training benchmark (b1, b2, b3): rows/s of ddptrain (1 rank x 2
threads, 2 ranks x 1 thread), PyTorch (1 process) and PyTorch DDP as bars, the
machine's limits (read bandwidth and FMA peak, in rows/s for that model) as
dashed lines (and the shuffled-row read reference as a dash-dot line),
a whisker down to the slowest of the repeated runs where bench.sh recorded
it, each bar labelled with its rows/s, its % of the lower limit and
its ratio to the best PyTorch bar. The y axis is logarithmic (ddptrain,
PyTorch and the limits span two orders of magnitude) unless --linear.
With an io section, one more panel: GB/s of each reader, dd as the line.
Needs matplotlib (Debian's python3-matplotlib; scripts/setup.sh's
ddp_bench_packages installs it). It plots what the CSV says and judges
nothing.
"""
import argparse
import csv
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"ddptrain": "#1f77b4", "torch": "#ff7f0e", "torch_ddp": "#d62728"}
TITLES = {"b1": "B1 logistic", "b2": "B2 softmax", "b3": "B3 linear"}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def human(v):
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g} {unit}"
    return f"{v:.3g}"


def short(config):
    """A bar's label, one short line each for what, BLAS and layout:
    'PyTorch/OpenBLAS 1 process (best: 2 thread(s))' -> 'PyTorch / OpenBLAS
    / 1 proc, 2T' on three lines (side by side, longer lines overlap)."""
    c = config.replace(" rank(s) x ", "x").replace(" thread(s)", "T")
    m = re.match(r"PyTorch(?:/(\S+))? (DDP gloo 2 processes x 1 thread|1 process \(best: (.*)\))$", c)
    if m:
        blas = (m.group(1) or "").replace("reference-BLAS", "ref. BLAS")
        what, layout = ("PyTorch DDP", "2 proc x 1T") if m.group(2).startswith("DDP") else \
            ("PyTorch", f"1 proc, {m.group(3)}")
        return "\n".join(part for part in (what, blas, layout) if part)
    return c.replace("ddptrain ", "ddptrain\n")


def train_panel(ax, name, rows, log):
    bars = [r for r in rows if r["kind"] in COLOURS and num(r["rows_per_s"])]
    limits = [r for r in rows if r["kind"].startswith(("limit_", "ref_")) and num(r["rows_per_s"])]
    xs = range(len(bars))
    vals = [num(r["rows_per_s"]) for r in bars]
    ax.bar(xs, vals, color=[COLOURS[r["kind"]] for r in bars])
    # the slowest of the repeated runs, where the CSV has it: a whisker down from the bar's top
    for x, r, v in zip(xs, bars, vals):
        worst = num(r.get("worst_rows_per_s"))
        if worst is not None and worst < v:
            ax.errorbar([x], [v], yerr=[[v - worst], [0]], fmt="none", ecolor="k", elinewidth=1, capsize=4)
    for x, r, v in zip(xs, bars, vals):
        label = human(v)
        if num(r["pct_of_limit"]) is not None:
            label += f"\n{num(r['pct_of_limit']):.0f}% lim"
        if num(r["x_torch"]) is not None and r["kind"] == "ddptrain":
            label += f"\n{num(r['x_torch']):.1f}x PT"
        ax.annotate(label, (x, v), ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    styles = {"limit_bandwidth": ("k", "--", "read bandwidth"), "limit_flops": ("g", ":", "FMA peak"),
              "ref_shuffled": ("grey", "-.", "shuffled-row read (ref)"),
              "ref_kernel_cached": ("tab:purple", ":", "kernel, rows in cache (ref)"),
              "ref_added": ("tab:red", "-.", "the two refs' times added")}
    for r in limits:
        colour, ls, what = styles.get(r["kind"], ("grey", "-.", r["kind"]))
        v = num(r["rows_per_s"])
        ax.axhline(v, color=colour, linestyle=ls, linewidth=1.2, label=f"{what}: {human(v)} rows/s")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([short(r["config"]) for r in bars], fontsize=7)
    ax.set_ylabel("rows/s")
    top = max(vals + [num(r["rows_per_s"]) for r in limits] + [1])
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(1, min(vals + [top]) / 3), top=top * 4)
    else:
        ax.set_ylim(0, top * 1.25)
    first = rows[0]
    ax.set_title(f"{TITLES.get(name, name)}: {int(num(first['rows']) or 0):,} x {first['features']}, "
                 f"batch {first['batch']}", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(axis="y", alpha=0.3)


def io_panel(ax, rows):
    xs = range(len(rows))
    vals = [num(r["gb_per_s"]) or 0 for r in rows]
    colours = ["#7f7f7f" if not r["config"].startswith("ddptrain") else COLOURS["ddptrain"] for r in rows]
    ax.bar(xs, vals, color=colours)
    for x, v in zip(xs, vals):
        ax.annotate(f"{v:.2f}", (x, v), ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    dd = [num(r["gb_per_s"]) for r in rows if r["config"].startswith("dd ")]
    if dd and dd[0]:
        ax.axhline(dd[0], color="k", linestyle="--", linewidth=1.2, label=f"dd: {dd[0]:.2f} GB/s")
        ax.legend(fontsize=7)
    labels = [r["config"].replace("ddptrain load ", "load ").replace(" > /dev/null", "").replace(" (", "\n(")
              for r in rows]
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=6, rotation=30, ha="right")
    ax.set_ylabel("GB/s")
    ax.set_ylim(0, max(vals + [0.001]) * 1.25)
    ax.set_title("I/O: shard load vs sequential read", fontsize=9)
    ax.grid(axis="y", alpha=0.3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv")
    ap.add_argument("-o", "--out", default="bench.png")
    ap.add_argument("--linear", action="store_true", help="linear y axis for rows/s")
    args = ap.parse_args()
    try:
        with open(args.csv, newline="") as f:
            records = list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"plot_bench.py: {args.csv}: {e.strerror}")
    need = {"bench", "kind", "config", "rows_per_s", "gb_per_s", "pct_of_limit", "x_torch", "rows", "features",
            "batch"}
    if not records or not need <= set(records[0]):
        sys.exit(f"plot_bench.py: {args.csv}: not a bench.sh CSV (needs the columns {', '.join(sorted(need))})")
    groups = {}
    for r in records:
        groups.setdefault(r["bench"], []).append(r)
    panels = [b for b in ("b1", "b2", "b3") if b in groups] + (["io"] if "io" in groups else [])
    if not panels:
        sys.exit(f"plot_bench.py: {args.csv}: no b1, b2, b3 or io rows")
    fig, axes = plt.subplots(1, len(panels), figsize=(max(4.6 * len(panels), 8), 5), squeeze=False)
    for ax, b in zip(axes[0], panels):
        if b == "io":
            io_panel(ax, groups[b])
        else:
            train_panel(ax, b, groups[b], not args.linear)
    machine = groups.get("machine", [])
    bw = " / ".join(f"{v['threads']}T {num(v['gb_per_s']):.1f}" for v in machine
                    if v["kind"] == "limit_bandwidth" and num(v["gb_per_s"]))
    fl = " / ".join(f"{v['threads']}T {num(v['gflops']):.0f}" for v in machine
                    if v["kind"] == "limit_flops" and num(v["gflops"]))
    title = "ddptrain vs PyTorch vs this machine's limits"
    if bw or fl:
        title += f"\nread bandwidth {bw or '-'} GB/s;  FMA peak {fl or '-'} GFLOP/s"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"plot_bench.py: wrote {args.out} ({len(panels)} panels)")


if __name__ == "__main__":
    main()
