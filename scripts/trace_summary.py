#!/usr/bin/python3
"""trace_summary.py — where the time went, from `ddptrain train --trace FILE`.

    trace_summary.py TRACE.json [--rank R] [--kv]

Per rank, the seconds of each phase summed over the steps; and the
allreduce phase split in two:
  communication  per step, the time the LAST rank to arrive spent in the
                 allreduce (the smallest of the ranks' allreduce time that
                 step): what the reduction itself costs once all ranks have
                 their gradients;
  waiting        the rest of this rank's allreduce time: it finished its
                 compute earlier and waited for the slowest rank (load
                 imbalance, which a 1-rank x 2-thread run pays inside the
                 kernel's closing barrier instead).
With one rank everything is communication. Ranks run on one clock domain
only if they share a node, but the split uses durations alone, never clocks
compared across ranks. A step whose span is missing on some rank (spans
dropped when the trace filled up) is left out of the split.

--kv prints rank R's figures (default 0) as "key value" lines, for scripts:
seconds_<phase>, allreduce_comm_s, allreduce_wait_s, steps.
Exit 2 when the file is not a ddptrain trace.
"""
import argparse
import json
import sys
from collections import defaultdict


def die(msg):
    print(f"trace_summary.py: {msg}", file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path) as f:
            doc = json.load(f)
        spans = [e for e in doc["traceEvents"] if isinstance(e, dict) and e.get("ph") == "X"]
        for e in spans:
            int(e["pid"]), float(e["dur"]), int(e["args"]["step"]), str(e["name"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        die(f"{path}: not a ddptrain --trace file ({type(e).__name__}: {e})")
    if not spans:
        die(f"{path}: no spans (was the run traced with --trace?)")
    return spans


def summarize(spans):
    """phase totals per rank, and per-rank allreduce time per step"""
    totals = defaultdict(lambda: defaultdict(float))  # rank -> phase -> seconds
    ar = defaultdict(lambda: defaultdict(float))  # step -> rank -> seconds in allreduce
    for e in spans:
        rank, dur = int(e["pid"]), float(e["dur"]) * 1e-6  # Chrome trace: microseconds
        totals[rank][e["name"]] += dur
        if e["name"] == "allreduce":
            ar[int(e["args"]["step"])][rank] += dur
    ranks = sorted(totals)
    comm = defaultdict(float)
    wait = defaultdict(float)
    steps = 0
    for per_rank in ar.values():
        if len(per_rank) != len(ranks):
            continue
        steps += 1
        least = min(per_rank.values())
        for r, s in per_rank.items():
            comm[r] += least
            wait[r] += s - least
    return ranks, totals, comm, wait, steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace")
    ap.add_argument("--rank", type=int, default=0)
    ap.add_argument("--kv", action="store_true")
    a = ap.parse_args()
    ranks, totals, comm, wait, steps = summarize(load(a.trace))
    if a.kv:
        if a.rank not in totals:
            die(f"{a.trace}: no rank {a.rank} (ranks {ranks[0]}..{ranks[-1]})")
        for p, s in sorted(totals[a.rank].items()):
            print(f"seconds_{p} {s:.6f}")
        print(f"allreduce_comm_s {comm[a.rank]:.6f}")
        print(f"allreduce_wait_s {wait[a.rank]:.6f}")
        print(f"steps {steps}")
        return
    phases = sorted({p for t in totals.values() for p in t})
    print("seconds per rank and phase; allreduce = communication + waiting for the slowest rank")
    print(f"{'rank':>4} " + " ".join(f"{p:>11}" for p in phases) + f" {'ar comm':>11} {'ar wait':>11}")
    for r in ranks:
        print(f"{r:>4} " + " ".join(f"{totals[r].get(p, 0.0):11.6f}" for p in phases)
              + f" {comm[r]:11.6f} {wait[r]:11.6f}")
    print(f"({steps} steps with an allreduce span on every rank)")


if __name__ == "__main__":
    main()
