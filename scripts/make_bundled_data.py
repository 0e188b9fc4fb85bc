#!/usr/bin/python3
"""Make the small real datasets bundled with ddptrain (data/*.h5).

Reads the CSV copies that scikit-learn ships (Debian package python3-sklearn,
/usr/lib/python3/dist-packages/sklearn/datasets/data/) directly. Nothing is
downloaded and no sklearn loader function is called.

Outputs (default: <repo>/data/):
  digits.h5         1797 x 64, multiclass (y int32, 0..9)
  breast_cancer.h5   569 x 30, binary     (y float32, 0.0 = malignant, 1.0 = benign)
  diabetes.h5        442 x 10, regression (y float32), RAW (unscaled) features

Each file: /train/X, /train/y, /test/X, /test/y; 80/20 split from
numpy.random.default_rng(seed=0).permutation, stratified by class for the
classification sets. X is float32 [rows, features], contiguous, no filters.

Usage: /usr/bin/python3 scripts/make_bundled_data.py [--sklearn-data DIR] [--out DIR]
"""

import argparse
import csv
import gzip
import hashlib
import io
import os
import subprocess
import sys

import h5py
import numpy as np

DEFAULT_SKLEARN_DATA = "/usr/lib/python3/dist-packages/sklearn/datasets/data"
SCRIPT_NAME = "scripts/make_bundled_data.py"
SEED = 0
TEST_FRACTION_NUM, TEST_FRACTION_DEN = 1, 5  # 20 % test

BREAST_CANCER_FEATURES = [
    "mean radius", "mean texture", "mean perimeter", "mean area",
    "mean smoothness", "mean compactness", "mean concavity",
    "mean concave points", "mean symmetry", "mean fractal dimension",
    "radius error", "texture error", "perimeter error", "area error",
    "smoothness error", "compactness error", "concavity error",
    "concave points error", "symmetry error", "fractal dimension error",
    "worst radius", "worst texture", "worst perimeter", "worst area",
    "worst smoothness", "worst compactness", "worst concavity",
    "worst concave points", "worst symmetry", "worst fractal dimension",
]
DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]

UCI_LICENSE = ("CC BY 4.0 (UCI Machine Learning Repository); copy taken from "
               "scikit-learn, BSD-3-Clause")


def fail(msg):
    sys.exit("make_bundled_data: error: " + msg)


def read_text(path):
    with open(path, "rb") as f:
        raw = f.read()
    digest = hashlib.sha256(raw).hexdigest()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("ascii"), digest


def sklearn_pkg_version():
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "python3-sklearn"],
            capture_output=True, text=True, check=True)
        return out.stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


# ---------------------------------------------------------------- parsers

def parse_digits(path):
    text, digest = read_text(path)
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    a = np.array(rows, dtype=np.float64)
    if a.shape != (1797, 65):
        fail(f"{path}: expected 1797x65 values, got {a.shape}")
    X, y = a[:, :64], a[:, 64]
    if not np.array_equal(y, np.round(y)) or y.min() < 0 or y.max() > 9:
        fail(f"{path}: labels are not integers 0..9")
    return X, y.astype(np.int64), digest


def parse_breast_cancer(path):
    text, digest = read_text(path)
    reader = csv.reader(io.StringIO(text))
    header = next(reader)  # n_samples, n_features, class names...
    n_samples, n_features = int(header[0]), int(header[1])
    class_names = [s.strip() for s in header[2:]]
    rows = [r for r in reader if r]
    if len(rows) != n_samples:
        fail(f"{path}: header says {n_samples} rows, found {len(rows)}")
    a = np.array(rows, dtype=np.float64)
    if a.shape != (569, 31) or n_features != 30:
        fail(f"{path}: expected 569x31 values, got {a.shape}")
    X, y = a[:, :n_features], a[:, n_features]
    if not np.all((y == 0) | (y == 1)):
        fail(f"{path}: labels are not 0/1")
    if class_names != ["malignant", "benign"]:
        fail(f"{path}: unexpected class names {class_names}")
    return X, y.astype(np.int64), class_names, digest


def parse_whitespace(path):
    text, digest = read_text(path)
    rows = [line.split() for line in text.splitlines() if line.strip()]
    return np.array(rows, dtype=np.float64), digest


def parse_diabetes(data_path, target_path):
    X, d1 = parse_whitespace(data_path)
    y, d2 = parse_whitespace(target_path)
    if X.shape != (442, 10):
        fail(f"{data_path}: expected 442x10 values, got {X.shape}")
    if y.shape != (442, 1):
        fail(f"{target_path}: expected 442x1 values, got {y.shape}")
    return X, y[:, 0], d1, d2


# ---------------------------------------------------------------- split

def n_test_for(n):
    # round(n * 0.2) in exact integer arithmetic (no ties are possible for /5)
    return (n * TEST_FRACTION_NUM * 2 + TEST_FRACTION_DEN) // (2 * TEST_FRACTION_DEN)


def split_indices(n, labels=None):
    """Return (train_idx, test_idx), each in permutation order.

    perm = default_rng(SEED).permutation(n). Unstratified: the first
    round(0.2 n) entries of perm are the test set. Stratified: for each class,
    the first round(0.2 n_c) of its rows in perm order go to test.
    """
    perm = np.random.default_rng(seed=SEED).permutation(n)
    is_test = np.zeros(n, dtype=bool)  # indexed by position in perm
    if labels is None:
        is_test[:n_test_for(n)] = True
    else:
        lab = labels[perm]
        for c in np.unique(lab):
            pos = np.flatnonzero(lab == c)
            is_test[pos[:n_test_for(len(pos))]] = True
    return perm[~is_test], perm[is_test]


# ---------------------------------------------------------------- writer

def write_h5(path, X, y, y_dtype, train_idx, test_idx, attrs):
    X = np.ascontiguousarray(X, dtype="<f4")
    y = np.ascontiguousarray(y, dtype=y_dtype)
    if not np.all(np.isfinite(X)):
        fail(f"{path}: non-finite feature values")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        fail(f"{path}: non-finite targets")
    tmp = path + ".tmp"
    with h5py.File(tmp, "w", track_order=False) as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        for split, idx in (("train", train_idx), ("test", test_idx)):
            g = f.create_group(split, track_order=False)
            g.create_dataset("X", data=X[idx], track_times=False)
            g.create_dataset("y", data=y[idx], track_times=False)
    os.replace(tmp, path)


def summarize(path, task, class_names=None):
    print(f"{path}  ({os.path.getsize(path)} bytes)")
    with h5py.File(path, "r") as f:
        for split in ("train", "test"):
            X, y = f[split]["X"][...], f[split]["y"][...]
            line = (f"  {split:5s} X {X.dtype}{list(X.shape)}  "
                    f"y {y.dtype}{list(y.shape)}")
            if task == "regression":
                line += f"  y range [{y.min():g}, {y.max():g}] mean {y.mean():.2f}"
            else:
                vals, counts = np.unique(y, return_counts=True)
                parts = []
                for v, c in zip(vals, counts):
                    name = f"{v:g}" if class_names is None else f"{v:g}={class_names[int(v)]}"
                    parts.append(f"{name}:{c}")
                line += "  classes " + " ".join(parts)
            print(line)


# ---------------------------------------------------------------- main

def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sklearn-data", default=DEFAULT_SKLEARN_DATA,
                    help="directory with scikit-learn's bundled CSV files "
                         f"(default: {DEFAULT_SKLEARN_DATA})")
    ap.add_argument("--out", default=os.path.join(repo, "data"),
                    help="output directory (default: <repo>/data)")
    args = ap.parse_args()
    src = args.sklearn_data
    os.makedirs(args.out, exist_ok=True)

    ver = sklearn_pkg_version() if os.path.realpath(src) == DEFAULT_SKLEARN_DATA else None
    origin = (f"Debian python3-sklearn {ver}" if ver
              else f"scikit-learn data directory {src}")

    def src_note(files):
        return f"copy from {origin}: sklearn/datasets/data/{' + '.join(files)}"

    print(f"reading {src} ({origin})")

    # digits
    X, y, digest = parse_digits(os.path.join(src, "digits.csv.gz"))
    print(f"  digits.csv.gz sha256 {digest}")
    tr, te = split_indices(len(y), y)
    out = os.path.join(args.out, "digits.h5")
    write_h5(out, X, y, "<i4", tr, te, {
        "name": "digits",
        "task": "multiclass",
        "source": ("UCI Optical Recognition of Handwritten Digits "
                   "(Alpaydin & Kaynak 1998), UCI test set, 8x8 pixels 0..16; "
                   + src_note(["digits.csv.gz"])),
        "license": UCI_LICENSE,
        "made_by": SCRIPT_NAME,
    })
    digits_out = out

    # breast cancer
    X, y, class_names, digest = parse_breast_cancer(os.path.join(src, "breast_cancer.csv"))
    print(f"  breast_cancer.csv sha256 {digest}")
    tr, te = split_indices(len(y), y)
    out = os.path.join(args.out, "breast_cancer.h5")
    write_h5(out, X, y, "<f4", tr, te, {
        "name": "breast_cancer",
        "task": "binary",
        "source": ("UCI Breast Cancer Wisconsin (Diagnostic) "
                   "(Wolberg, Street & Mangasarian 1995); "
                   + src_note(["breast_cancer.csv"])),
        "license": UCI_LICENSE,
        "made_by": SCRIPT_NAME,
        "feature_names": BREAST_CANCER_FEATURES,
        "class_names": class_names,  # y == 0.0 -> malignant, 1.0 -> benign
    })
    bc_out, bc_classes = out, class_names

    # diabetes (raw, unscaled features)
    X, y, d1, d2 = parse_diabetes(os.path.join(src, "diabetes_data_raw.csv.gz"),
                                  os.path.join(src, "diabetes_target.csv.gz"))
    print(f"  diabetes_data_raw.csv.gz sha256 {d1}")
    print(f"  diabetes_target.csv.gz sha256 {d2}")
    tr, te = split_indices(len(y))
    out = os.path.join(args.out, "diabetes.h5")
    write_h5(out, X, y, "<f4", tr, te, {
        "name": "diabetes",
        "task": "regression",
        "source": ("Efron, Hastie, Johnstone & Tibshirani (2004) "
                   "\"Least Angle Regression\", Annals of Statistics 32(2); "
                   "raw (unscaled) features; "
                   + src_note(["diabetes_data_raw.csv.gz",
                               "diabetes_target.csv.gz"])),
        "license": ("distributed with the LARS paper (Efron et al. 2004) "
                    "and with scikit-learn (BSD-3-Clause)"),
        "made_by": SCRIPT_NAME,
        "feature_names": DIABETES_FEATURES,
    })
    diabetes_out = out

    print()
    summarize(digits_out, "multiclass")
    summarize(bc_out, "binary", bc_classes)
    summarize(diabetes_out, "regression")


if __name__ == "__main__":
    main()
