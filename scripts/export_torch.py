#!/usr/bin/python3
"""export_torch.py — turn a ddptrain model file or checkpoint (HDF5, the layout
of include/ddptrain/checkpoint.h, format_version 1 or 2) into a PyTorch file,
and optionally prove that PyTorch predicts what `ddptrain predict` predicts.

    export_torch.py CKPT.h5 OUT.pt
    export_torch.py CKPT.h5 OUT.pt --check-data DATA.h5 --features /X --predictions PRED.h5

OUT.pt is a dict written with torch.save:
  "model"              state_dict of the bare nn.Linear(n_features, n_out):
                       keys weight [n_out, n_features] and bias [n_out]
  "module_state_dict"  state_dict of DDPTrainModel below: linear.weight,
                       linear.bias, std_mean, std_scale [n_features]
  "meta"               plain Python values: the root attributes (format,
                       format_version, ddptrain_version, model, n_features,
                       n_classes, step, epoch, command_line), n_out,
                       has_standardize, the /optimizer and /train attributes,
                       optimizer_state {param: [buffer names]}, source path

Loading the plain nn.Linear (no standardisation, raw logits / values):
    lin = torch.nn.Linear(meta["n_features"], meta["n_out"])
    lin.load_state_dict(torch.load(OUT)["model"])
Loading the full model (standardisation + the prediction ddptrain predict
writes), with this directory on sys.path:
    from export_torch import DDPTrainModel
    model = DDPTrainModel.from_export(torch.load(OUT))

--check-data runs DDPTrainModel in float32 on DATA.h5's features and compares
with PRED.h5 written by `ddptrain predict --checkpoint CKPT.h5 --data DATA.h5
--out PRED.h5`: /prediction (linear: value; classifiers: int32 class id) and
/probability (logistic [n], softmax [n, C]). It prints the max abs difference
and the class agreement; exit 0 when the difference is <= 1e-5 (linear:
<= 1e-5 * max|value| + 1e-6) and every class agrees, 1 otherwise.

Exit codes: 0 ok, 1 predictions differ, 2 unusable input (not a ddptrain
checkpoint, wrong shapes, missing datasets, bad arguments).

Not here: checksum verification (ddptrain verifies fnv1a64 on every load),
optimizer state export (its names are listed in meta; buffers stay in the
HDF5 file), training.
"""
import argparse
import os
import sys

import h5py
import numpy as np
import torch

FORMAT = "ddptrain-checkpoint"
MAX_FORMAT_VERSION = 2
KINDS = ("linear", "logistic", "softmax")
PROB_TOL = 1e-5  # probabilities (logistic, softmax): absolute
LIN_REL_TOL, LIN_ABS_TOL = 1e-5, 1e-6  # linear values: relative to max |value|, plus absolute
ROWS_PER_BLOCK = 65536  # --check-data reads features in blocks of this many rows


class InputError(Exception):
    """Unusable input: the message says what is wrong and how to fix it (exit 2)."""


class DDPTrainModel(torch.nn.Module):
    """ddptrain's model: standardise, one nn.Linear, then the prediction that
    `ddptrain predict` writes: linear -> value [n]; logistic -> sigmoid(z) [n];
    softmax -> softmax(z) [n, C]. Without --standardize, std_mean is zeros
    and std_scale ones."""

    def __init__(self, kind, n_features, n_out):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"model {kind!r}: expected one of {', '.join(KINDS)}")
        self.kind = kind
        self.linear = torch.nn.Linear(n_features, n_out)
        self.register_buffer("std_mean", torch.zeros(n_features))
        self.register_buffer("std_scale", torch.ones(n_features))

    def forward(self, x):  # x [n, n_features]
        z = self.linear((x - self.std_mean) / self.std_scale)  # [n, n_out]
        if self.kind == "linear":
            return z[:, 0]
        if self.kind == "logistic":
            return torch.sigmoid(z[:, 0])
        return torch.softmax(z, dim=1)

    @classmethod
    def from_export(cls, exported):
        """Rebuild from the dict this script saves (torch.load(OUT))."""
        meta = exported["meta"]
        model = cls(meta["model"], meta["n_features"], meta["n_out"])
        model.load_state_dict(exported["module_state_dict"])
        return model.eval()


def plain(value):
    """HDF5 attribute -> plain Python value (bytes -> str, numpy -> int/float/list)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()] if value.dtype.kind == "S" else value.tolist()
    if isinstance(value, np.generic):
        return plain(value.item())
    return value


def attrs_of(obj):
    return {k: plain(v) for k, v in obj.attrs.items()}


def read_f32(f, path, name, shape):
    if name not in f or not isinstance(f[name], h5py.Dataset):
        raise InputError(f"{path}: missing dataset {name}; re-save the model with a current ddptrain")
    data = f[name][()]
    if data.shape != shape:
        raise InputError(f"{path}:{name} has shape {list(data.shape)} but the root attributes imply {list(shape)}")
    return np.asarray(data, dtype=np.float32)


def read_checkpoint(path):
    """Weights, standardisation and metadata of a ddptrain model file."""
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot open as HDF5 ({e}); pass a file written by ddptrain --save or --checkpoint")
    with f:
        fmt = plain(f.attrs["format"]) if "format" in f.attrs else None
        if fmt != FORMAT:
            found = "has no root attribute format" if fmt is None else f"has root attribute format {fmt!r}"
            raise InputError(f"{path}: not a ddptrain checkpoint ({found}, expected {FORMAT!r}); pass a file "
                             f"written by ddptrain train --save or --checkpoint")
        meta = attrs_of(f)
        version = int(meta.get("format_version", 1))
        if version > MAX_FORMAT_VERSION:
            raise InputError(f"{path}: format_version {version} is newer than this script understands "
                             f"({MAX_FORMAT_VERSION}); use export_torch.py from the same ddptrain version")
        kind = meta.get("model")
        if kind not in KINDS:
            raise InputError(f"{path}: root attribute model is {kind!r}, expected one of {', '.join(KINDS)}")
        try:
            n_features, n_classes = int(meta["n_features"]), int(meta.get("n_classes", 0))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: root attribute n_features missing or not an integer")
        n_out = n_classes if kind == "softmax" else 1
        if n_features < 1 or n_out < 1:
            raise InputError(f"{path}: n_features {n_features}, n_classes {n_classes} for model {kind}: nothing to export")
        weight = read_f32(f, path, "/model/weight", (n_out, n_features))
        bias = read_f32(f, path, "/model/bias", (n_out,))
        has_std = "standardize" in f
        mean = read_f32(f, path, "/standardize/mean", (n_features,)) if has_std else None
        scale = read_f32(f, path, "/standardize/std", (n_features,)) if has_std else None
        meta.update(n_out=n_out, has_standardize=has_std, source=os.path.abspath(path))
        for group in ("optimizer", "train"):
            if group in f:
                meta[group] = attrs_of(f[group])
        if "optimizer/state" in f:
            state = f["optimizer/state"]
            meta["optimizer_state"] = {p: sorted(state[p].keys()) for p in state}
    return kind, weight, bias, mean, scale, meta


def build_module(kind, weight, bias, mean, scale):
    n_out, n_features = weight.shape
    module = DDPTrainModel(kind, n_features, n_out)
    with torch.no_grad():
        module.linear.weight.copy_(torch.from_numpy(weight))
        module.linear.bias.copy_(torch.from_numpy(bias))
        if mean is not None:
            module.std_mean.copy_(torch.from_numpy(mean))
            module.std_scale.copy_(torch.from_numpy(scale))
    return module.eval()


def save_export(module, meta, out_path):
    """torch.save to a temp file, then rename: a crash never leaves half a file."""
    exported = {
        "model": {k: v.detach().clone() for k, v in module.linear.state_dict().items()},
        "module_state_dict": module.state_dict(),
        "meta": meta,
    }
    tmp = f"{out_path}.tmp.{os.getpid()}"
    try:
        torch.save(exported, tmp)
        os.replace(tmp, out_path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise InputError(f"cannot write {out_path}: {e}")


def dataset(f, path, name):
    if name not in f or not isinstance(f[name], h5py.Dataset):
        raise InputError(f"{path}: no dataset {name}")
    return f[name]


def check_predictions(module, kind, n_features, data_path, features, pred_path):
    """Compare the module's predictions with ddptrain predict's file; returns
    the exit code (0 agree, 1 differ)."""
    try:
        fd, fp = h5py.File(data_path, "r"), h5py.File(pred_path, "r")
    except (OSError, ValueError) as e:
        raise InputError(f"cannot open {data_path} or {pred_path} as HDF5: {e}")
    with fd, fp:
        x = dataset(fd, data_path, features)
        if x.ndim != 2 or x.shape[1] != n_features:
            raise InputError(f"{data_path}:{features} has shape {list(x.shape)}; the model expects [n, {n_features}]")
        n_rows = x.shape[0]
        if kind == "linear":
            got = dataset(fp, pred_path, "/prediction")
            want_shape = (n_rows,)
        else:
            got = dataset(fp, pred_path, "/probability")
            want_shape = (n_rows,) if kind == "logistic" else (n_rows, module.linear.out_features)
            cls = dataset(fp, pred_path, "/prediction")
            if cls.shape != (n_rows,):
                raise InputError(f"{pred_path}:/prediction has shape {list(cls.shape)}, expected [{n_rows}]")
        if got.shape != want_shape:
            raise InputError(f"{pred_path}:{got.name} has shape {list(got.shape)}, expected {list(want_shape)}: "
                             f"were the predictions made from {data_path}:{features} with this checkpoint?")

        max_diff, max_ref, n_disagree, first_bad = 0.0, 0.0, 0, []
        with torch.no_grad():
            for r0 in range(0, n_rows, ROWS_PER_BLOCK):
                r1 = min(n_rows, r0 + ROWS_PER_BLOCK)
                xb = torch.from_numpy(np.asarray(x[r0:r1], dtype=np.float32))  # ddptrain reads features as float32
                mine = module(xb).numpy()
                ref = np.asarray(got[r0:r1], dtype=np.float32)
                if r1 > r0:
                    max_diff = max(max_diff, float(np.max(np.abs(mine.astype(np.float64) - ref))))
                    max_ref = max(max_ref, float(np.max(np.abs(ref))))
                if kind == "linear":
                    continue
                # ddptrain's rules: logistic p > 0.5; softmax argmax, the first max wins ties
                mine_cls = (mine > 0.5).astype(np.int32) if kind == "logistic" else np.argmax(mine, axis=1)
                bad = np.nonzero(mine_cls != np.asarray(cls[r0:r1]))[0]
                n_disagree += len(bad)
                first_bad += [int(r0 + i) for i in bad[: max(0, 5 - len(first_bad))]]

    tol = LIN_REL_TOL * max_ref + LIN_ABS_TOL if kind == "linear" else PROB_TOL
    what = "value" if kind == "linear" else "probability"
    print(f"check {kind}: {n_rows} rows of {data_path}:{features}")
    print(f"  max abs diff ({what}): {max_diff:.3e} (tolerance {tol:.3e})")
    if kind != "linear":
        print(f"  class agreement: {n_rows - n_disagree}/{n_rows}"
              + (f" (first differing rows: {first_bad})" if n_disagree else ""))
    ok = max_diff <= tol and n_disagree == 0
    print(f"  {'OK' if ok else 'MISMATCH'}: PyTorch {'matches' if ok else 'does not match'} ddptrain predict")
    return 0 if ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", metavar="CKPT.h5", help="model file from ddptrain train --save or --checkpoint")
    ap.add_argument("out", metavar="OUT.pt", help="PyTorch file to write")
    ap.add_argument("--check-data", metavar="DATA.h5", help="compare PyTorch with ddptrain predict on this data")
    ap.add_argument("--features", default="/X", metavar="NAME", help="feature dataset in DATA.h5 (default /X)")
    ap.add_argument("--predictions", metavar="PRED.h5", help="output of ddptrain predict on DATA.h5")
    args = ap.parse_args(argv)
    if bool(args.check_data) != bool(args.predictions):
        ap.error("--check-data DATA.h5 and --predictions PRED.h5 go together")
    try:
        kind, weight, bias, mean, scale, meta = read_checkpoint(args.checkpoint)
        module = build_module(kind, weight, bias, mean, scale)
        save_export(module, meta, args.out)
        print(f"exported {kind} nn.Linear({weight.shape[1]}, {weight.shape[0]})"
              f"{' with standardisation' if mean is not None else ''}, step {meta.get('step', '?')}: "
              f"{args.checkpoint} -> {args.out}")
        if args.check_data:
            return check_predictions(module, kind, weight.shape[1], args.check_data, args.features, args.predictions)
    except InputError as e:
        print(f"export_torch.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
