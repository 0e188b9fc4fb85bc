#!/usr/bin/python3
"""plot_scaling.py — the PNG of a scaling study (scripts/scaling.sh):
speed-up and efficiency against workers (ranks x threads) for the strong and
weak sweeps, measured beside the ideal line and the communication model's
prediction for the same points, and the model's extrapolated efficiency out
to thousands of ranks.

    plot_scaling.py --scaling scaling.csv --model model.csv --out scaling.png
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")  # files only: no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scaling", required=True)
    ap.add_argument("--model", help="model.csv from scaling_model.py (optional)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    runs = read_csv(args.scaling)
    model = read_csv(args.model) if args.model else []
    modes = [m for m in ("strong", "weak") if any(r["mode"] == m for r in runs)]
    colors = {"strong": "tab:blue", "weak": "tab:orange"}

    fig, (ax_sp, ax_eff, ax_ext) = plt.subplots(1, 3, figsize=(16, 4.8))
    max_w = max(int(r["workers"]) for r in runs)
    markers = ["o", "s", "^", "D", "v"]
    for mode in modes:
        threads = sorted({int(r["threads"]) for r in runs if r["mode"] == mode})
        for k, t in enumerate(threads):  # one line per thread count, over the rank counts
            rows = sorted((r for r in runs if r["mode"] == mode and int(r["threads"]) == t),
                          key=lambda r: int(r["ranks"]))
            w = [int(r["workers"]) for r in rows]
            style = dict(color=colors[mode], marker=markers[k % len(markers)], linestyle="-" if k == 0 else "-.")
            ax_sp.plot(w, [float(r["speedup"]) for r in rows], label=f"{mode}, {t} thr/rank: measured", **style)
            ax_eff.plot(w, [float(r["efficiency"]) for r in rows], label=f"{mode}, {t} thr/rank: measured", **style)
        pts = [m for m in model if m["mode"] == mode and m["kind"] == "measured"]
        if pts:  # the model at the same points: crosses, not lines
            mw = [int(m["workers"]) for m in pts]
            ax_sp.plot(mw, [float(m["model_speedup"]) for m in pts], "x", color=colors[mode], markersize=9,
                       label=f"{mode}: model")
            ax_eff.plot(mw, [float(m["model_efficiency"]) for m in pts], "x", color=colors[mode], markersize=9,
                        label=f"{mode}: model")
        ext = sorted((m for m in model if m["mode"] == mode and m["kind"] == "extrapolated"),
                     key=lambda m: int(m["ranks"]))
        if ext:
            ax_ext.plot([int(m["ranks"]) for m in ext], [float(m["model_efficiency"]) for m in ext], "s-",
                        color=colors[mode], label=f"{mode} ({ext[0]['threads']} threads/rank)")
    ax_sp.plot([1, max_w], [1, max_w], "k:", label="ideal")
    cores = int(runs[0].get("cores") or 0)
    if cores:
        ax_sp.axhline(cores, color="grey", linestyle="--", linewidth=1, label=f"{cores} cores")
    ax_eff.axhline(1.0, color="k", linestyle=":", label="ideal")
    ax_sp.set(xlabel="workers (ranks x threads)", ylabel="speed-up vs 1 x 1",
              title=f"speed-up (machine: {cores} cores)")
    ax_eff.set(xlabel="workers (ranks x threads)", ylabel="efficiency", title="efficiency", ylim=(0, 1.3))
    ax_ext.set(xscale="log", xlabel="ranks", ylabel="efficiency (model)", ylim=(0, 1.05),
               title="model, extrapolated (a core per thread)")
    for ax in (ax_sp, ax_eff, ax_ext):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
