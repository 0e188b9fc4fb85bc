#!/usr/bin/python3
"""sklearn_reference.py — reference scores on the bundled data, with
scikit-learn (Debian's python3-sklearn), on the same train/test splits that
ddptrain uses. Writes tests/fixtures/sklearn_reference.txt (NAME VALUE per
line); tests/integration/test_realdata.sh asserts ddptrain's side against it.

  digits         LogisticRegression (multinomial, lbfgs), test accuracy
  breast_cancer  StandardScaler + LogisticRegression, test accuracy
  diabetes       LinearRegression, test R^2
"""
import os

import h5py
import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(name):
    with h5py.File(os.path.join(ROOT, "data", name + ".h5"), "r") as f:
        return f["train/X"][:], f["train/y"][:], f["test/X"][:], f["test/y"][:]


def main():
    out = {}
    xtr, ytr, xte, yte = load("digits")
    clf = LogisticRegression(max_iter=5000).fit(xtr, ytr)
    out["digits_accuracy"] = clf.score(xte, yte)
    xtr, ytr, xte, yte = load("breast_cancer")
    sc = StandardScaler().fit(xtr)
    clf = LogisticRegression(max_iter=5000).fit(sc.transform(xtr), ytr)
    out["breast_cancer_accuracy"] = clf.score(sc.transform(xte), yte)
    xtr, ytr, xte, yte = load("diabetes")
    reg = LinearRegression().fit(xtr, ytr)
    out["diabetes_r2"] = r2_score(yte, reg.predict(xte))
    path = os.path.join(ROOT, "tests", "fixtures", "sklearn_reference.txt")
    with open(path, "w") as f:
        f.write("# made by scripts/sklearn_reference.py (scikit-learn defaults, same splits as data/*.h5)\n")
        for k, v in out.items():
            f.write(f"{k} {v:.6f}\n")
            print(f"{k} {v:.6f}")


if __name__ == "__main__":
    main()
