#!/usr/bin/python3
"""golden_train.py — golden training runs computed with PyTorch, committed as
small HDF5 fixtures so that ddptrain's tests need no Python.

Each fixture tests/fixtures/golden/NAME.h5 is at once
  * a dataset:          /X [n, F] float32, /y [n] (float32, or int32 class ids)
  * a ddptrain model file for --init: /model/weight, /model/bias + root attributes
  * the expectation:    /expected/weight, /expected/bias after training with
                        torch.optim on the same batches (file order, global
                        batch B, mean loss), and /expected/loss per step.
tests/fixtures/golden/index.txt lists NAME<TAB>ddptrain arguments; the test
runs `ddptrain train --data NAME.h5 --init NAME.h5 ARGS --save out.h5` under
mpirun and compares out.h5's weights with /expected within 1e-5 relative.

Run with Debian's python3-torch:   /usr/bin/python3 scripts/golden_train.py
"""
import argparse
import math
import os

import h5py
import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_data(kind, n, f, classes, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f)).astype(np.float32)
    x[:, 0] *= 3.0  # uneven feature scales make --standardize matter
    x[:, -1] += 2.0
    w = rng.normal(size=(classes if kind == "softmax" else 1, f))
    z = x.astype(np.float64) @ w.T
    if kind == "linear":
        y = (z[:, 0] + 0.5 + 0.1 * rng.normal(size=n)).astype(np.float32)
    elif kind == "logistic":
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z[:, 0]))).astype(np.float32)
    else:
        y = np.argmax(z + rng.gumbel(size=z.shape), axis=1).astype(np.int32)
    return x, y


def lr_at(sched, base, step, total):
    """The schedule of ddptrain's optim.h, re-implemented independently."""
    warm = sched.get("warmup", 0)
    if step < warm:
        return base * (step + 1) / warm
    s = step - warm
    kind = sched.get("kind", "constant")
    if kind == "step":
        return base * sched["gamma"] ** (s // sched["step_size"])
    if kind == "cosine":
        t_max = total - warm
        return 0.0 + (base - 0.0) * (1 + math.cos(math.pi * s / t_max)) / 2
    return base


def run(name, kind, opt, args, n=96, f=6, classes=4, batch=16, epochs=4, seed=1, sched=None,
        standardize=False, freeze=None, max_steps=None, data=None, init=None):
    sched = sched or {}
    torch.manual_seed(seed)
    if data is None:
        x, y = make_data(kind, n, f, classes, seed)
    else:
        x, y = data
        n, f = x.shape
    n_out = classes if kind == "softmax" else 1
    lin = torch.nn.Linear(f, n_out)  # PyTorch's default init from the seed
    if init is not None:
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(init[0]))
            lin.bias.copy_(torch.tensor(init[1]))
    w0 = lin.weight.detach().numpy().copy()
    b0 = lin.bias.detach().numpy().copy()
    xt = x.astype(np.float32)
    if standardize:  # population std over all rows, as ddptrain computes it
        mean = xt.astype(np.float64).mean(axis=0).astype(np.float32)
        sd = np.sqrt(((xt.astype(np.float64) - mean.astype(np.float64)) ** 2).mean(axis=0))
        sd = np.where(sd > 0, sd, 1.0).astype(np.float32)
        xt = ((xt - mean) / sd).astype(np.float32)
    X = torch.tensor(xt)
    if kind == "softmax":
        Y = torch.tensor(y.astype(np.int64))
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        Y = torch.tensor(y.astype(np.float32))
        loss_fn = torch.nn.MSELoss() if kind == "linear" else torch.nn.BCEWithLogitsLoss()
    if freeze:
        for pname in freeze:
            getattr(lin, pname).requires_grad_(False)
    params = [p for p in lin.parameters() if p.requires_grad]
    optimizer = opt(params)
    base_lr = optimizer.param_groups[0]["lr"]
    per_epoch = (n + batch - 1) // batch
    total = per_epoch * epochs if max_steps is None else min(max_steps, per_epoch * epochs)
    losses, step = [], 0
    for _ in range(epochs):
        for k in range(per_epoch):
            if step >= total:
                break
            for g in optimizer.param_groups:
                g["lr"] = lr_at(sched, base_lr, step, total)
            xb, yb = X[k * batch:(k + 1) * batch], Y[k * batch:(k + 1) * batch]
            optimizer.zero_grad()
            out = lin(xb)
            loss = loss_fn(out if kind == "softmax" else out[:, 0], yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
    path = os.path.join(ROOT, "tests", "fixtures", "golden", name + ".h5")
    with h5py.File(path, "w") as h:
        h.create_dataset("X", data=x.astype(np.float32), track_times=False)
        h.create_dataset("y", data=y, track_times=False)
        h.create_dataset("model/weight", data=w0, track_times=False)
        h.create_dataset("model/bias", data=b0, track_times=False)
        h.create_dataset("expected/weight", data=lin.weight.detach().numpy(), track_times=False)
        h.create_dataset("expected/bias", data=lin.bias.detach().numpy(), track_times=False)
        h.create_dataset("expected/loss", data=np.array(losses, dtype=np.float64), track_times=False)
        h.attrs["format"] = np.bytes_("ddptrain-checkpoint")
        h.attrs["format_version"] = np.int64(1)
        h.attrs["model"] = np.bytes_(kind)
        h.attrs["n_features"] = np.int64(f)
        h.attrs["n_classes"] = np.int64(classes if kind == "softmax" else (2 if kind == "logistic" else 0))
        h.attrs["step"] = np.int64(0)
        h.attrs["epoch"] = np.int64(0)
        h.attrs["made_by"] = np.bytes_("scripts/golden_train.py, torch " + torch.__version__)
    full_args = f"--model {kind} --batch-size {batch} --epochs {epochs} --no-shuffle {args}".strip()
    if kind == "softmax":
        full_args += f" --classes {classes}"
    if max_steps is not None:
        full_args += f" --max-steps {max_steps}"
    print(f"{name:28s} {len(losses):3d} steps  loss {losses[0]:.5f} -> {losses[-1]:.5f}")
    return name, full_args


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.parse_args()
    os.makedirs(os.path.join(ROOT, "tests", "fixtures", "golden"), exist_ok=True)
    O = torch.optim
    cases = []
    # the 3-point linear regression: x = 1,2,3; y = 2,4,6; MSE; SGD lr 0.01; one step
    x3 = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    y3 = np.array([2.0, 4.0, 6.0], dtype=np.float32)
    cases.append(run("linear_3point_sgd", "linear", lambda p: O.SGD(p, lr=0.01), "--optimizer sgd --lr 0.01",
                     data=(x3, y3), batch=3, epochs=1, init=(np.array([[0.5]], np.float32), np.array([0.1], np.float32))))
    # linear: every SGD option, every Adam/AdamW/RMSprop option, schedules, standardize, freeze
    L = "linear"
    cases += [
        run("linear_sgd", L, lambda p: O.SGD(p, lr=0.05), "--optimizer sgd --lr 0.05"),
        run("linear_sgd_momentum_dampening", L, lambda p: O.SGD(p, lr=0.02, momentum=0.9, dampening=0.3),
            "--optimizer sgd --lr 0.02 --momentum 0.9 --dampening 0.3"),
        run("linear_sgd_nesterov_wd", L, lambda p: O.SGD(p, lr=0.02, momentum=0.8, nesterov=True, weight_decay=0.01),
            "--optimizer sgd --lr 0.02 --momentum 0.8 --nesterov --weight-decay 0.01"),
        run("linear_adam", L, lambda p: O.Adam(p, lr=0.05), "--optimizer adam --lr 0.05"),
        run("linear_adam_amsgrad_wd", L, lambda p: O.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1,
                                                            amsgrad=True),
            "--optimizer adam --lr 0.05 --betas 0.8,0.99 --eps 1e-6 --weight-decay 0.1 --amsgrad"),
        run("linear_adamw", L, lambda p: O.AdamW(p, lr=0.05), "--optimizer adamw --lr 0.05"),
        run("linear_adamw_amsgrad", L, lambda p: O.AdamW(p, lr=0.03, weight_decay=0.2, amsgrad=True),
            "--optimizer adamw --lr 0.03 --weight-decay 0.2 --amsgrad"),
        run("linear_rmsprop", L, lambda p: O.RMSprop(p, lr=0.01), "--optimizer rmsprop --lr 0.01"),
        run("linear_rmsprop_centered_momentum_wd", L,
            lambda p: O.RMSprop(p, lr=0.005, alpha=0.9, eps=1e-7, momentum=0.5, centered=True, weight_decay=0.05),
            "--optimizer rmsprop --lr 0.005 --alpha 0.9 --eps 1e-7 --momentum 0.5 --centered --weight-decay 0.05"),
        run("linear_sgd_step_warmup", L, lambda p: O.SGD(p, lr=0.05, momentum=0.5),
            "--optimizer sgd --lr 0.05 --momentum 0.5 --lr-schedule step --lr-step-size 5 --lr-gamma 0.5 "
            "--warmup-steps 3", sched={"kind": "step", "step_size": 5, "gamma": 0.5, "warmup": 3}),
        run("linear_adam_cosine_warmup", L, lambda p: O.Adam(p, lr=0.05),
            "--optimizer adam --lr 0.05 --lr-schedule cosine --warmup-steps 4",
            sched={"kind": "cosine", "warmup": 4}),
        run("linear_sgd_standardize", L, lambda p: O.SGD(p, lr=0.05), "--optimizer sgd --lr 0.05 --standardize",
            standardize=True),
        run("linear_adam_freeze_bias", L, lambda p: O.Adam(p, lr=0.05), "--optimizer adam --lr 0.05 --freeze bias",
            freeze=["bias"]),
        run("linear_sgd_max_steps", L, lambda p: O.SGD(p, lr=0.05), "--optimizer sgd --lr 0.05", max_steps=21,
            n=100, batch=12, epochs=3),
    ]
    G = "logistic"
    cases += [
        run("logistic_sgd_momentum", G, lambda p: O.SGD(p, lr=0.1, momentum=0.9), "--optimizer sgd --lr 0.1 --momentum 0.9"),
        run("logistic_adam", G, lambda p: O.Adam(p, lr=0.05), "--optimizer adam --lr 0.05"),
        run("logistic_adamw_wd", G, lambda p: O.AdamW(p, lr=0.05, weight_decay=0.05),
            "--optimizer adamw --lr 0.05 --weight-decay 0.05"),
        run("logistic_rmsprop_centered", G, lambda p: O.RMSprop(p, lr=0.01, centered=True),
            "--optimizer rmsprop --lr 0.01 --centered"),
        run("logistic_sgd_freeze_weight", G, lambda p: O.SGD(p, lr=0.1), "--optimizer sgd --lr 0.1 --freeze weight",
            freeze=["weight"]),
    ]
    S = "softmax"
    cases += [
        run("softmax_sgd_nesterov", S, lambda p: O.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
            "--optimizer sgd --lr 0.1 --momentum 0.9 --nesterov"),
        run("softmax_adam_amsgrad", S, lambda p: O.Adam(p, lr=0.02, amsgrad=True), "--optimizer adam --lr 0.02 --amsgrad"),
        run("softmax_adamw", S, lambda p: O.AdamW(p, lr=0.02), "--optimizer adamw --lr 0.02"),
        run("softmax_rmsprop_momentum", S, lambda p: O.RMSprop(p, lr=0.005, momentum=0.9),
            "--optimizer rmsprop --lr 0.005 --momentum 0.9"),
        run("softmax_sgd_standardize_cosine", S, lambda p: O.SGD(p, lr=0.2),
            "--optimizer sgd --lr 0.2 --standardize --lr-schedule cosine", standardize=True,
            sched={"kind": "cosine"}),
    ]
    with open(os.path.join(ROOT, "tests", "fixtures", "golden", "index.txt"), "w") as idx:
        idx.write("# NAME<TAB>ddptrain train arguments; made by scripts/golden_train.py with torch "
                  + torch.__version__ + "\n")
        for name, args in cases:
            idx.write(f"{name}\t{args}\n")


if __name__ == "__main__":
    main()
