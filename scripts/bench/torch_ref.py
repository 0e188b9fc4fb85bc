#!/usr/bin/python3
"""torch_ref.py — the PyTorch reference for scripts/bench/bench.sh: the same
training work as `ddptrain train` on the same HDF5 file, timed the same way.

    torch_ref.py --data F.h5 --model logistic|softmax|linear --batch-size B
                 [--lr 0.1] [--epochs 1] [--threads 1,2] [--ddp 2] [--repeat R] [--seed 1]

Work per epoch, as ddptrain does it: a fresh permutation of the rows
(torch.randperm), then for each global batch a gather of its rows (index_select
on tensors already in memory), forward, mean loss, backward and a plain SGD
step (torch.optim.SGD, lr only). The last, partial batch is kept. Models:
nn.Linear(F, 1) + BCEWithLogitsLoss (logistic), nn.Linear(F, C) +
CrossEntropyLoss (softmax), nn.Linear(F, 1) + MSELoss (linear).

Timing: the HDF5 file is read with h5py into tensors first, outside the
timer; only the training loop is timed (as ddptrain's summary "seconds").
Each configuration runs --repeat times from fresh weights; the best counts.

Output, one parseable line per measurement (rows/s = rows trained / loop s):
    torch_rows_per_s <v> threads <t> seconds <s> loss <last batch loss>
    torch_best_rows_per_s <v> threads <t>               (best over --threads)
    torch_ddp_rows_per_s <v> procs <P> seconds <s>      (with --ddp P)
    torch_blas <path>   the BLAS library file torch has loaded (first line)
DDP: torch.multiprocessing spawns P processes, gloo on 127.0.0.1, one thread
each; process r holds rows [r*N/P, (r+1)*N/P) (N rounded down to P's
multiple), draws its own permutation per epoch and trains on B/P rows of
every global batch under DistributedDataParallel (gradients averaged by
gloo's allreduce), so every step is one global batch of B rows.
It does not pin threads or processes to cores, and it does not try other
optimizers: this is a throughput reference, not a tuning study.
"""
import argparse
import datetime
import faulthandler
import os
import socket
import sys
import time

import h5py
import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn


def load(path, model, lo=None, hi=None):
    """Features [rows, F] float32 and labels (float32 [rows], or int64 class
    ids for softmax) as tensors, rows [lo, hi) or all."""
    with h5py.File(path, "r") as f:
        X = f["X"][lo:hi] if lo is not None else f["X"][:]
        y = f["y"][lo:hi] if lo is not None else f["y"][:]
    X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    if model == "softmax":
        y = torch.from_numpy(y.astype(np.int64))
    else:
        y = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
    return X, y


def blas_library():
    """The BLAS library file this process has mapped (torch calls
    libblas.so.3; which one that is depends on LD_LIBRARY_PATH and the
    system's alternative), resolved to its real path."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return "unknown"
    for p in sorted(paths):
        name = os.path.basename(p)
        if name.startswith(("libblas.so", "libopenblas", "libblis", "libmkl_rt")):
            return os.path.realpath(p)
    return "unknown"


def make_model(model, n_features, n_classes):
    n_out = n_classes if model == "softmax" else 1
    lin = nn.Linear(n_features, n_out)
    if model == "softmax":
        loss_fn = nn.CrossEntropyLoss()
        def loss_of(out, yb):
            return loss_fn(out, yb)
    else:
        loss_fn = nn.BCEWithLogitsLoss() if model == "logistic" else nn.MSELoss()
        def loss_of(out, yb):
            return loss_fn(out.squeeze(1), yb)
    return lin, loss_of


def train_loop(module, loss_of, opt, X, y, batch, epochs, gen):
    """One process's loop; returns (seconds, rows, last loss)."""
    n = X.shape[0]
    rows = 0
    loss = torch.zeros(())
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, batch):
            idx = perm[start:start + batch]
            xb = X.index_select(0, idx)
            yb = y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = loss_of(module(xb), yb)
            loss.backward()
            opt.step()
            rows += idx.numel()
    return time.perf_counter() - t0, rows, float(loss)


def single(args, threads, X, y):
    torch.set_num_threads(threads)
    n_classes = int(y.max()) + 1 if args.model == "softmax" else 1
    best = None
    for _ in range(args.repeat):
        torch.manual_seed(args.seed)
        lin, loss_of = make_model(args.model, X.shape[1], n_classes)
        opt = torch.optim.SGD(lin.parameters(), lr=args.lr)
        gen = torch.Generator().manual_seed(args.seed)
        run = train_loop(lin, loss_of, opt, X, y, args.batch_size, args.epochs, gen)
        if best is None or run[0] < best[0]:
            best = run
    secs, rows, loss = best
    print(f"torch_rows_per_s {rows / secs:.0f} threads {threads} seconds {secs:.4f} loss {loss:.6f}", flush=True)
    return rows / secs


def ddp_worker(rank, args, port, results):
    # a hung worker prints where it is stuck and exits instead of hanging the benchmark
    faulthandler.dump_traceback_later(args.timeout, exit=True)
    torch.set_num_threads(1)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=args.ddp,
                            timeout=datetime.timedelta(seconds=args.timeout))
    with h5py.File(args.data, "r") as f:
        n_total = f["X"].shape[0]
        n_classes = int(np.max(f["y"][:])) + 1 if args.model == "softmax" else 1
    per = n_total // args.ddp
    X, y = load(args.data, args.model, rank * per, (rank + 1) * per)
    local_batch = max(1, args.batch_size // args.ddp)
    best_secs = None
    for _ in range(args.repeat):
        torch.manual_seed(args.seed)  # same initial weights everywhere (DDP also broadcasts rank 0's)
        lin, loss_of = make_model(args.model, X.shape[1], n_classes)
        module = nn.parallel.DistributedDataParallel(lin)
        opt = torch.optim.SGD(module.parameters(), lr=args.lr)
        gen = torch.Generator().manual_seed(args.seed * 1000 + rank)
        dist.barrier()
        secs, rows, loss = train_loop(module, loss_of, opt, X, y, local_batch, args.epochs, gen)
        dist.barrier()
        # the slowest process defines the job's time
        t = torch.tensor([secs], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        if best_secs is None or float(t[0]) < best_secs:
            best_secs = float(t[0])
    t = torch.tensor([best_secs], dtype=torch.float64)
    r = torch.tensor([rows], dtype=torch.float64)
    dist.all_reduce(r, op=dist.ReduceOp.SUM)
    if rank == 0:
        results.put((float(r[0]), float(t[0]), loss))
    dist.destroy_process_group()


def run_ddp(args):
    """Spawns the workers; rank 0 hands back (rows, seconds, loss) through a
    queue, so the result does not depend on how cleanly gloo shuts down.
    Workers still alive 20 s after the result (or at --timeout) are
    terminated."""
    torch.set_num_threads(1)
    results = mp.get_context("spawn").SimpleQueue()
    deadline = time.monotonic() + args.timeout
    for attempt in range(3):  # the free port can be taken by another program before rank 0 binds it
        ctx = mp.spawn(ddp_worker, args=(args, free_port(), results), nprocs=args.ddp, join=False)
        got, done_at, failed = None, None, None
        while True:
            try:
                finished = ctx.join(timeout=0.5)
            except Exception as e:  # a worker raised or died
                failed = e
                break
            if got is None and not results.empty():
                got = results.get()
                done_at = time.monotonic()
            if finished or (done_at and time.monotonic() - done_at > 20) or time.monotonic() > deadline:
                break
        for p in ctx.processes:
            if p.is_alive():
                p.terminate()
        if got is None and not results.empty():
            got = results.get()
        if got is not None:
            rows, secs, loss = got
            print(f"torch_ddp_rows_per_s {rows / secs:.0f} procs {args.ddp} seconds {secs:.4f} loss {loss:.6f}",
                  flush=True)
            return
        if time.monotonic() > deadline:
            sys.exit(f"torch_ref.py: DDP produced no result within --timeout {args.timeout} s")
        print(f"torch_ref.py: DDP attempt {attempt + 1} failed ({failed}); retrying", file=sys.stderr, flush=True)
    sys.exit("torch_ref.py: DDP failed 3 times")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True, choices=["logistic", "softmax", "linear"])
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts; the best is reported")
    ap.add_argument("--ddp", type=int, default=0, help="also run DDP (gloo) with this many processes")
    ap.add_argument("--no-single", action="store_true", help="skip the single-process runs")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration; the best counts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1200, help="seconds before a hung DDP run is abandoned")
    args = ap.parse_args()
    if not os.path.exists(args.data):
        sys.exit(f"torch_ref.py: {args.data}: no such file")
    print(f"torch_blas {blas_library()}", flush=True)

    if not args.no_single:
        best, best_t = 0.0, 0
        X, y = load(args.data, args.model)
        for t in [int(v) for v in args.threads.split(",") if v]:
            rps = single(args, t, X, y)
            if rps > best:
                best, best_t = rps, t
        print(f"torch_best_rows_per_s {best:.0f} threads {best_t}", flush=True)
        del X, y
    if args.ddp > 1:
        run_ddp(args)


if __name__ == "__main__":
    main()
