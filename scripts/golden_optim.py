#!/usr/bin/python3
"""golden_optim.py — reference trajectories of torch.optim (PyTorch 1.13,
single-tensor path, foreach=False) for ddptrain's optim.c, written as a small
text fixture so that the C unit test needs no Python.

For each optimizer configuration it starts from a fixed float32 parameter
vector, applies N_STEPS steps with a fixed sequence of float32 gradients
(element magnitudes from 1e-12 to 1e3, one element always zero) and records
the final parameters. tests/unit/test_optim.c replays the same gradients
through ddp_optim_step and compares.

Fixture format (whitespace separated, readable with fscanf):
  n_configs C
  then C blocks of
    config NAME KIND lr momentum dampening nesterov weight_decay beta1 beta2 eps amsgrad alpha centered
    size n_params n_steps
    init  v_0 .. v_{n-1}
    grad  t g_0 .. g_{n-1}          (n_steps lines, t = 0 ..)
    final v_0 .. v_{n-1}
KIND is sgd | adam | adamw | rmsprop. Hyper-parameters are printed with
repr() (exact doubles); float32 values with %.9g (exact round trip).

Not here: LR schedules (the fixture uses a constant lr per config; schedules
are checked against their closed forms in the C test).

Run with Debian's python3-torch:   /usr/bin/python3 scripts/golden_optim.py
"""
import argparse
import math
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_STEPS = 25

# Starting parameters: mixed signs and magnitudes, one exact zero. 20
# elements, so that PyTorch's AVX2 kernels take their vectorised path
# (blocks of 16) for the first 16 and their scalar loop for the last 4.
INIT = [0.5, -1.25, 3.0, 1e-3, -2e-4, 0.0, 12.5, -0.75, 2.5e-6, 100.0, -7.0, 0.3125,
        -0.5, 1.5, -3e-3, 0.02, 2.0, -40.0, 7e-5, 0.875]

# Per-element gradient scale: tiny, small, unit, large; element 5 never moves
# by its gradient (always 0) so only weight decay acts on it.
SCALE = [1.0, 0.5, 1e-3, 2.0, 1e-12, 0.0, 1e3, 0.1, 1e-6, 30.0, 5.0, 1e-2,
         1.0, 0.5, 1e-2, 1e-12, 2.0, 30.0, 1e-4, 0.25]

CONFIGS = [
    # name, kind, hyper-parameters (anything unset takes the value below)
    ("sgd_plain", "sgd", dict(lr=0.05)),
    ("sgd_momentum", "sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd_momentum_dampening", "sgd", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("sgd_nesterov", "sgd", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd_weight_decay", "sgd", dict(lr=0.05, weight_decay=0.1)),
    ("adam", "adam", dict(lr=0.01)),
    ("adam_amsgrad", "adam", dict(lr=0.01, amsgrad=True)),
    ("adam_weight_decay", "adam", dict(lr=0.01, weight_decay=0.05, betas=(0.8, 0.95), eps=1e-6)),
    ("adamw", "adamw", dict(lr=0.01)),
    ("adamw_amsgrad", "adamw", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("rmsprop", "rmsprop", dict(lr=0.01)),
    ("rmsprop_centered", "rmsprop", dict(lr=0.01, centered=True)),
    ("rmsprop_momentum", "rmsprop", dict(lr=0.01, momentum=0.9)),
    ("rmsprop_centered_momentum_wd", "rmsprop",
     dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, alpha=0.9, eps=1e-6)),
]


def gradient(t, n):
    """Gradient of step t as float32: sin(3 i + 7 t + 1) * scale_i (computed in
    double, rounded once). Stored in the fixture, so C need not recompute it."""
    g = [math.sin(3.0 * i + 7.0 * t + 1.0) * SCALE[i] for i in range(n)]
    return torch.tensor(g, dtype=torch.float32)


def full_hparams(kind, h):
    """Every field of ddp_optim_config, PyTorch defaults for the unset ones."""
    d = dict(lr=h["lr"], momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
             betas=(0.9, 0.999), eps=1e-8, amsgrad=False, alpha=0.99, centered=False)
    if kind == "adamw":
        d["weight_decay"] = 1e-2
    d.update(h)
    return d


def make_optimizer(kind, p, h):
    if kind == "sgd":
        return torch.optim.SGD([p], lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                               weight_decay=h["weight_decay"], nesterov=h["nesterov"], foreach=False)
    if kind == "adam":
        return torch.optim.Adam([p], lr=h["lr"], betas=h["betas"], eps=h["eps"],
                                weight_decay=h["weight_decay"], amsgrad=h["amsgrad"], foreach=False)
    if kind == "adamw":
        return torch.optim.AdamW([p], lr=h["lr"], betas=h["betas"], eps=h["eps"],
                                 weight_decay=h["weight_decay"], amsgrad=h["amsgrad"], foreach=False)
    if kind == "rmsprop":
        return torch.optim.RMSprop([p], lr=h["lr"], alpha=h["alpha"], eps=h["eps"],
                                   weight_decay=h["weight_decay"], momentum=h["momentum"],
                                   centered=h["centered"], foreach=False)
    raise ValueError(kind)


def f32(x):
    return "%.9g" % float(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "optim_golden.txt"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    n = len(INIT)
    lines = ["n_configs %d" % len(CONFIGS)]
    for name, kind, h0 in CONFIGS:
        h = full_hparams(kind, h0)
        p = torch.nn.Parameter(torch.tensor(INIT, dtype=torch.float32))
        opt = make_optimizer(kind, p, h)
        lines.append("config %s %s %r %r %r %d %r %r %r %r %d %r %d" % (
            name, kind, float(h["lr"]), float(h["momentum"]), float(h["dampening"]), int(h["nesterov"]),
            float(h["weight_decay"]), float(h["betas"][0]), float(h["betas"][1]), float(h["eps"]),
            int(h["amsgrad"]), float(h["alpha"]), int(h["centered"])))
        lines.append("size %d %d" % (n, N_STEPS))
        lines.append("init " + " ".join(f32(v) for v in p.detach()))
        for t in range(N_STEPS):
            g = gradient(t, n)
            lines.append("grad %d " % t + " ".join(f32(v) for v in g))
            p.grad = g.clone()
            opt.step()
        lines.append("final " + " ".join(f32(v) for v in p.detach()))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, args.out)
    print("wrote %s (%d configs, %d params, %d steps, torch %s)" % (args.out, len(CONFIGS), n, N_STEPS,
                                                                     torch.__version__))


if __name__ == "__main__":
    main()
