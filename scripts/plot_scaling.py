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
    for mode in modes:
        rows = sorted((r for r in runs if r["mode"] == mode), key=lambda r: (int(r["workers"]), int(r["ranks"])))
        w = [int(r["workers"]) for r in rows]
        ax_sp.plot(w, [float(r["speedup"]) for r in rows], "o-", color=colors[mode], label=f"{mode}: measured")
        ax_eff.plot(w, [float(r["efficiency"]) for r in rows], "o-", color=colors[mode], label=f"{mode}: measured")
        for r in rows:  # ranks x threads beside each point
            ax_eff.annotate(f"{r['ranks']}x{r['threads']}", (int(r["workers"]), float(r["efficiency"])),
                            textcoords="offset points", xytext=(4, 4), fontsize=7, color=colors[mode])
        pts = sorted((m for m in model if m["mode"] == mode and m["kind"] == "measured"),
                     key=lambda m: (int(m["workers"]), int(m["ranks"])))
        if pts:
            mw = [int(m["workers"]) for m in pts]
            ax_sp.plot(mw, [float(m["model_speedup"]) for m in pts], "x--", color=colors[mode], alpha=0.7,
                       label=f"{mode}: model")
            ax_eff.plot(mw, [float(m["model_efficiency"]) for m in pts], "x--", color=colors[mode], alpha=0.7,
                        label=f"{mode}: model")
        ext = sorted((m for m in model if m["mode"] == mode and m["kind"] == "extrapolated"),
                     key=lambda m: int(m["ranks"]))
        if ext:
            ax_ext.plot([int(m["ranks"]) for m in ext], [float(m["model_efficiency"]) for m in ext], "s-",
                        color=colors[mode], label=f"{mode} ({ext[0]['threads']} threads/rank)")
    ax_sp.plot([1, max_w], [1, max_w], "k:", label="ideal")
    ax_eff.axhline(1.0, color="k", linestyle=":", label="ideal")
    cores = runs[0].get("cores", "?")
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
