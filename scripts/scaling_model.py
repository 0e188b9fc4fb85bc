#!/usr/bin/python3
"""scaling_model.py — a communication model for ddptrain's data-parallel step,
fitted to measurements on a few ranks and used to predict step time and
efficiency out to thousands of ranks.

    scaling_model.py --scaling scaling.csv --allreduce allreduce.csv \
        --features F --classes C [--cores N] [--alpha S --beta S/B] [--max-error 0.25]

The model (alpha-beta, Thakur/Rabenseifner/Gropp style):

  allreduce(P, n bytes) = min(ring, tree), the better algorithm for the size:
      ring: 2(P-1) hops, each moving n/P bytes twice: 2(P-1) h + 2 (P-1)/P n beta
      tree: recursive doubling, log2(P) hops of n bytes:  log2(P) (h + n beta)
  with the hop cost h = alpha, plus sigma (P/cores - 1) when more ranks than
  cores share the machine (a hop then waits for the peer's time slice).
  alpha, beta and sigma come from a least-squares fit (relative error) to
  allreduce_bench's medians at 2..8 ranks; on a cluster with a core per rank,
  sigma is 0, and --alpha/--beta replace the fitted values with a network's.

  step(P, T) = compute + optimizer + allreduce(P, message)
      compute   = (per-row time of 1 rank x 1 thread) x global batch / min(P T, cores)
                  (the node is a pool of cores; P T workers share it evenly)
      optimizer = (per-rank time of the 1 x 1 run) x max(1, P / cores)
      message   = 8 (C F + C + 4) bytes: the gradient sums and 4 scalars, as doubles
  Threads are assumed perfect: the 1-rank thread speed-up is printed so that
  a poor one (small batches, a busy machine) can be seen.

Nothing is fitted to the multi-rank training runs: they are the points the
model is judged on. It prints the fit, every measured point beside its
prediction (error in %), and the extrapolation; it writes the same as CSV
(--csv-out, default model.csv beside the scaling CSV) for plot_scaling.py.
Exit 1 when --max-error is given and a measured multi-rank point is off by
more than that fraction.
"""
import argparse
import csv
import math
import os
import sys

import numpy as np


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def hops_ring(p):
    return 2.0 * (p - 1)


def hops_tree(p):
    return float(math.ceil(math.log2(p))) if p > 1 else 0.0


def allreduce_time(p, n_bytes, alpha, beta, sigma, cores):
    """Seconds for one allreduce of n_bytes over p ranks (0 for one rank)."""
    if p <= 1:
        return 0.0
    hop = alpha + (sigma * (p / cores - 1.0) if cores and p > cores else 0.0)
    ring = hops_ring(p) * hop + 2.0 * (p - 1) / p * n_bytes * beta
    tree = hops_tree(p) * (hop + n_bytes * beta)
    return min(ring, tree)


def fit_allreduce(rows, cores):
    """alpha, beta, sigma minimising the squared relative error of the model
    over the measured (ranks, bytes, median seconds). The min() between ring
    and tree makes it non-linear: alternate between choosing each point's
    algorithm and a linear least-squares fit of the three costs."""
    pts = [(int(r["ranks"]), float(r["bytes"]), float(r["seconds_median"])) for r in rows if int(r["ranks"]) >= 2]
    if len(pts) < 3:
        sys.exit("scaling_model.py: the allreduce CSV needs points at 2 or more rank counts")
    over = any(p > cores for p, _, _ in pts)
    use_ring = [n >= 65536 for _, n, _ in pts]  # start: big messages ring, small tree
    coef = np.zeros(3)
    for _ in range(20):
        a_rows, b = [], []
        for (p, n, t), ring in zip(pts, use_ring):
            hops = hops_ring(p) if ring else hops_tree(p)
            bw = 2.0 * (p - 1) / p * n if ring else hops_tree(p) * n
            over_hops = hops * (p / cores - 1.0) if p > cores else 0.0
            a_rows.append([hops / t, bw / t, over_hops / t])  # relative error: divide by t
            b.append(1.0)
        a = np.array(a_rows)
        if not over:
            a = a[:, :2]
        sol, *_ = np.linalg.lstsq(a, np.array(b), rcond=None)
        sol = np.maximum(sol, 0.0)  # costs are not negative
        coef = np.concatenate([sol, np.zeros(3 - len(sol))])
        new = []
        for p, n, _ in pts:
            hop = coef[0] + (coef[2] * (p / cores - 1.0) if p > cores else 0.0)
            new.append(hops_ring(p) * hop + 2.0 * (p - 1) / p * n * coef[1] < hops_tree(p) * (hop + n * coef[1]))
        if new == use_ring:
            break
        use_ring = new
    errs = [abs(allreduce_time(p, n, *coef, cores) - t) / t for p, n, t in pts]
    return coef[0], coef[1], coef[2], float(np.median(errs)), float(max(errs))


class StepModel:
    """Costs from the 1-rank runs of one sweep mode: per row and per rank at
    1 x 1, and (for information) the 1-rank thread speed-up."""

    def __init__(self, rows, cores, msg_bytes, alpha, beta, sigma):
        self.cores, self.msg_bytes = cores, msg_bytes
        self.alpha, self.beta, self.sigma = alpha, beta, sigma
        per_row = {}
        self.per_row, self.per_rank, self.t_max, self.thread_speedup = None, 0.0, 1, 1.0
        for r in rows:
            if int(r["ranks"]) != 1:
                continue
            t, b = int(r["threads"]), int(r["global_batch"])
            per_row[t] = (float(r["compute_ms"]) + float(r["data_ms"])) / 1e3 / b
            if t == 1:
                self.per_row = per_row[1]
                self.per_rank = float(r["optimizer_ms"]) / 1e3
        if self.per_row is not None:
            self.t_max = max(per_row)
            self.thread_speedup = self.per_row / per_row[self.t_max]

    def knows(self):
        return self.per_row is not None

    def step(self, p, t, batch, cores=None):
        """(step seconds, allreduce seconds) for p ranks x t threads; cores
        overrides the pool (extrapolation: a core per worker)."""
        pool = cores if cores else self.cores
        compute = self.per_row * batch / min(p * t, pool)
        opt = self.per_rank * max(1.0, p / pool)
        ar = allreduce_time(p, self.msg_bytes, self.alpha, self.beta, self.sigma, cores or self.cores)
        return compute + opt + ar, ar


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scaling", required=True, help="scaling.csv from scripts/scaling.sh")
    ap.add_argument("--allreduce", required=True, help="allreduce.csv (tests/tools/allreduce_bench)")
    ap.add_argument("--features", type=int, required=True)
    ap.add_argument("--classes", type=int, required=True)
    ap.add_argument("--cores", type=int, default=os.cpu_count(), help="cores of the measured machine")
    ap.add_argument("--alpha", type=float, help="extrapolate with this hop latency (s) instead of the fit")
    ap.add_argument("--beta", type=float, help="extrapolate with this time per byte (s/B) instead of the fit")
    ap.add_argument("--extrapolate", default="16,64,256,1024,4096", help="rank counts to predict")
    ap.add_argument("--max-error", type=float, help="exit 1 if a measured multi-rank point is off by more")
    ap.add_argument("--csv-out", help="default: model.csv beside --scaling")
    args = ap.parse_args()

    runs = read_csv(args.scaling)
    cores = args.cores
    msg = 8 * (args.classes * args.features + args.classes + 4)
    alpha, beta, sigma, med_err, max_err = fit_allreduce(read_csv(args.allreduce), cores)
    print(f"allreduce fit (medians of allreduce_bench at ranks "
          f"{sorted({int(r['ranks']) for r in read_csv(args.allreduce)})}, {cores} cores):")
    print(f"  alpha {alpha * 1e6:.3f} us per hop, beta {beta * 1e9:.4f} ns/B ({1 / beta / 1e9 if beta else float('inf'):.2f}"
          f" GB/s), sigma {sigma * 1e6:.3f} us per hop and extra rank per core when oversubscribed")
    print(f"  fit error: median {100 * med_err:.1f} %, max {100 * max_err:.1f} %; message {msg} B "
          f"({args.classes} x {args.features} + {args.classes} gradient sums + 4, doubles)")

    out_rows = []
    worst = 0.0
    print("\nmeasured vs model (time per step, ms):")
    print(f"  {'mode':6} {'ranks':>5} {'thr':>3} {'batch':>6} {'measured':>9} {'model':>9} {'allred':>8} "
          f"{'error':>7} {'eff meas':>8} {'eff model':>9}")
    for mode in ("strong", "weak"):
        rows = [r for r in runs if r["mode"] == mode]
        if not rows:
            continue
        model = StepModel(rows, cores, msg, alpha, beta, sigma)
        base = next((r for r in rows if int(r["ranks"]) == 1 and int(r["threads"]) == 1), None)
        base_s = model.step(1, 1, int(base["global_batch"]))[0] if base and model.knows() else None
        if not model.knows():
            print(f"  {mode}: no 1 rank x 1 thread run, no model")
            continue
        print(f"  {mode}: 1 rank x {model.t_max} threads ran {model.thread_speedup:.2f}x as fast as 1 x 1 "
              f"per row ({cores} cores)")
        for r in rows:
            p, t, b = int(r["ranks"]), int(r["threads"]), int(r["global_batch"])
            pred, ar = model.step(p, t, b)
            meas = float(r["step_ms"]) / 1e3
            err = (pred - meas) / meas
            if p > 1:
                worst = max(worst, abs(err))
            w = p * t
            eff = (base_s / pred / (w if mode == "strong" else 1)) if base_s else float("nan")
            print(f"  {mode:6} {p:5d} {t:3d} {b:6d} {meas * 1e3:9.3f} {pred * 1e3:9.3f} {ar * 1e3:8.3f} "
                  f"{100 * err:+6.1f}% {float(r['efficiency']):8.3f} {eff:9.3f}")
            out_rows.append(dict(kind="measured", mode=mode, ranks=p, threads=t, workers=w, global_batch=b,
                                 measured_step_ms=meas * 1e3, model_step_ms=pred * 1e3, model_allreduce_ms=ar * 1e3,
                                 error=err, model_efficiency=eff, model_speedup=eff * (w if mode == "strong" else w)))
        # extrapolation: a cluster, every rank on its own t cores (no oversubscription)
        t = max(int(r["threads"]) for r in rows)
        ext_alpha = args.alpha if args.alpha is not None else alpha
        ext_beta = args.beta if args.beta is not None else beta
        cluster = StepModel(rows, cores, msg, ext_alpha, ext_beta, 0.0)
        b1 = int(base["global_batch"]) if base else int(rows[0]["global_batch"])
        per_worker = b1  # weak: the 1 x 1 run's batch is the batch per worker
        ref = cluster.step(1, t, b1 if mode == "strong" else per_worker * t, cores=10 ** 9)[0]
        print(f"\n  {mode} scaling extrapolated: {t} threads per rank, each on its own cores, "
              f"{'global batch ' + str(b1) if mode == 'strong' else str(per_worker) + ' rows per worker'}, "
              f"alpha {ext_alpha * 1e6:.3f} us, beta {ext_beta * 1e9:.4f} ns/B"
              f"{' (given)' if args.alpha is not None or args.beta is not None else ' (fitted)'}")
        print(f"  {'ranks':>6} {'rows/rank':>9} {'step ms':>9} {'allreduce ms':>12} {'rows/s':>12} "
              f"{'speed-up':>9} {'efficiency':>10}")
        for p in [int(x) for x in args.extrapolate.split(",") if x]:
            b = b1 if mode == "strong" else per_worker * p * t
            step, ar = cluster.step(p, t, b, cores=10 ** 9)
            speed = ref / step if mode == "strong" else (ref / step) * p
            eff = speed / p
            print(f"  {p:6d} {b / p:9.1f} {step * 1e3:9.3f} {ar * 1e3:12.4f} {b / step:12.0f} {speed:9.1f} {eff:10.3f}")
            out_rows.append(dict(kind="extrapolated", mode=mode, ranks=p, threads=t, workers=p * t, global_batch=b,
                                 measured_step_ms="", model_step_ms=step * 1e3, model_allreduce_ms=ar * 1e3,
                                 error="", model_efficiency=eff, model_speedup=speed))
    print(f"\nlargest model error on the multi-rank measured points: {100 * worst:.1f} %")

    path = args.csv_out or os.path.join(os.path.dirname(os.path.abspath(args.scaling)), "model.csv")
    with open(path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(out_rows[0].keys()))
        wr.writeheader()
        wr.writerows(out_rows)
    if args.max_error is not None and worst > args.max_error:
        print(f"scaling_model.py: error {100 * worst:.1f} % above --max-error {100 * args.max_error:.0f} %",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
