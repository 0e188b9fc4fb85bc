#!/usr/bin/env bash
# Model files are usable from Python, as the README promises:
#  - ddptrain trains a linear (--standardize), a logistic and a softmax model
#    (digits, --standardize) with --save, and predicts on 2 ranks;
#  - h5py reads each file in a few lines: weight [n_out, n_features] and bias
#    [n_out] float32, the step/epoch/model attributes, the optimizer state
#    under PyTorch buffer names, /standardize when trained with it, and an
#    fnv1a64 attribute on every dataset that matches its float32 bytes;
#  - scripts/export_torch.py turns each file into a PyTorch module whose
#    float32 predictions match `ddptrain predict` (1e-5, classes everywhere),
#    the documented `lin.load_state_dict(torch.load(OUT)["model"])` works, a
#    file that is not a checkpoint is refused (exit 2) and a tampered
#    predictions file is caught (exit 1).
# Without Debian's python3-h5py / python3-torch the Python parts are skipped,
# not failed.
source "$(dirname "$0")/lib.sh"

PY="${DDP_PYTHON:-/usr/bin/python3}" # Debian's, with python3-h5py and python3-torch
EXPORT="$DDP_SOURCE_DIR/scripts/export_torch.py"
DIGITS="$DDP_SOURCE_DIR/data/digits.h5"
N_SKIPPED=0
skipped() { N_SKIPPED=$((N_SKIPPED + 1)); echo "skipped: $*"; }

# --- train and predict ----------------------------------------------------
run_ranks 2 60 -- "$DDPTRAIN" gen linear --rows 2000 --features 8 --seed 7 --noise 0.1 --out "$TMP/lin_data.h5"
check "gen linear 2000 x 8" test "$RC" -eq 0
run_ranks 2 60 -- "$DDPTRAIN" gen logistic --rows 2000 --features 6 --seed 8 --out "$TMP/log_data.h5"
check "gen logistic 2000 x 6" test "$RC" -eq 0

# one table per property, indexed by model: lin, log, sm
MODELS=(lin log sm)
declare -A KIND=([lin]=linear [log]=logistic [sm]=softmax)
declare -A DATA=([lin]="$TMP/lin_data.h5" [log]="$TMP/log_data.h5" [sm]="$DIGITS")
declare -A TRAIN_XY=([lin]="--features /X --labels /y" [log]="--features /X --labels /y"
                     [sm]="--features /train/X --labels /train/y")
declare -A PRED_X=([lin]=/X [log]=/X [sm]=/test/X)
declare -A SHAPE=([lin]="8 1" [log]="6 1" [sm]="64 10")
declare -A OPTIM=([lin]="--optimizer adam --lr 0.05" [log]="--optimizer sgd --lr 0.1 --momentum 0.9"
                  [sm]="--optimizer adam --lr 0.01")
declare -A BUFFERS=([lin]="exp_avg,exp_avg_sq" [log]="momentum_buffer" [sm]="exp_avg,exp_avg_sq")
declare -A STD=([lin]=1 [log]=0 [sm]=1)

for m in "${MODELS[@]}"; do
    std_arg=()
    [ "${STD[$m]}" = 1 ] && std_arg=(--standardize)
    # shellcheck disable=SC2086 # the table's argument strings split on purpose
    run_ranks 2 60 -- "$DDPTRAIN" train --data "${DATA[$m]}" ${TRAIN_XY[$m]} --model "${KIND[$m]}" ${OPTIM[$m]} \
        --batch-size 100 --epochs 2 --seed 3 --quiet "${std_arg[@]}" --save "$TMP/$m.h5"
    check "train ${KIND[$m]}${std_arg[*]:+ ${std_arg[*]}} --save: exit 0 on both ranks (ranks=[$RANK_RCS])" \
        test "$RC" -eq 0 -a "$RANK_RCS" = "0" -a -s "$TMP/$m.h5"
    run_ranks 2 60 -- "$DDPTRAIN" predict --checkpoint "$TMP/$m.h5" --data "${DATA[$m]}" \
        --features "${PRED_X[$m]}" --out "$TMP/${m}_pred.h5"
    check "predict ${KIND[$m]} on 2 ranks: exit 0 (ranks=[$RANK_RCS]), $TMP/${m}_pred.h5 written" \
        test "$RC" -eq 0 -a "$RANK_RCS" = "0" -a -s "$TMP/${m}_pred.h5"
done

# --- h5py: the checkpoint layout, read the README's way ---------------------
READ_CKPT='
import sys, h5py, numpy as np
path, kind, n_features, n_out, buffers, standardized = sys.argv[1:]
n_features, n_out = int(n_features), int(n_out)
f = h5py.File(path, "r")
weight, bias = f["model"]["weight"][:], f["model"]["bias"][:]
bad = []
def need(ok, what):
    if not ok: bad.append(what)
need(f.attrs["format"] == b"ddptrain-checkpoint", "format %r" % f.attrs["format"])
need(f.attrs["model"] == kind.encode(), "model %r" % f.attrs["model"])
need(f.attrs["n_features"] == n_features, "n_features %r" % f.attrs["n_features"])
need(weight.shape == (n_out, n_features) and weight.dtype == np.float32, "weight %s %s" % (weight.shape, weight.dtype))
need(bias.shape == (n_out,) and bias.dtype == np.float32, "bias %s %s" % (bias.shape, bias.dtype))
need(f.attrs["step"] > 0 and f.attrs["epoch"] == 2, "step %r epoch %r" % (f.attrs["step"], f.attrs["epoch"]))
state = {p: sorted(f["optimizer/state"][p]) for p in f["optimizer/state"]}
want = sorted(buffers.split(","))
need(state == {"weight": want, "bias": want}, "optimizer state %r, expected %r for weight and bias" % (state, want))
for p in state:
    for b in state[p]:
        s = f["optimizer/state"][p][b].shape
        need(s == f["model"][p].shape, "optimizer/state/%s/%s shape %s" % (p, b, s))
need(("standardize" in f) == (standardized == "1"), "/standardize present: %s" % ("standardize" in f))
if "standardize" in f:
    for n in ("mean", "std"):
        need(f["standardize"][n].shape == (n_features,), "/standardize/%s shape %s" % (n, f["standardize"][n].shape))
def fnv1a64(a):  # the checksum ddptrain stores: FNV-1a 64 over the float32 bytes
    h = 0xcbf29ce484222325
    for byte in np.ascontiguousarray(a, dtype="<f4").tobytes():
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h
names = []
f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
for n in names:
    got = f[n].attrs.get("fnv1a64")
    need(got is not None, "%s has no fnv1a64 attribute" % n)
    need(got is None or got.decode() == fnv1a64(f[n][()]), "%s: fnv1a64 %r does not match its data" % (n, got))
if bad:
    sys.exit("; ".join(bad))
print("weight %s, step %d, epoch %d, %s state %s, %d datasets with matching fnv1a64"
      % (weight.shape, f.attrs["step"], f.attrs["epoch"], f["optimizer"].attrs["name"].decode(), state, len(names)))
'

HAVE_H5PY=0 HAVE_TORCH=0
if [ -x "$PY" ] && timeout 60 "$PY" -c 'import h5py, numpy' 2>/dev/null; then HAVE_H5PY=1; fi
if [ "$HAVE_H5PY" = 1 ] && timeout 60 "$PY" -c 'import torch' 2>/dev/null; then HAVE_TORCH=1; fi

if [ "$HAVE_H5PY" = 1 ]; then
    for m in "${MODELS[@]}"; do
        # shellcheck disable=SC2086
        msg=$(timeout 60 "$PY" -c "$READ_CKPT" "$TMP/$m.h5" "${KIND[$m]}" ${SHAPE[$m]} "${BUFFERS[$m]}" \
            "${STD[$m]}" 2>&1)
        rc=$?
        check "h5py reads the ${KIND[$m]} checkpoint: $msg" test "$rc" -eq 0
    done
else
    skipped "h5py not installed"
fi

# --- PyTorch: export_torch.py matches ddptrain predict ----------------------
if [ "$HAVE_TORCH" = 1 ]; then
    for m in "${MODELS[@]}"; do
        msg=$(timeout 120 "$PY" "$EXPORT" "$TMP/$m.h5" "$TMP/$m.pt" --check-data "${DATA[$m]}" \
            --features "${PRED_X[$m]}" --predictions "$TMP/${m}_pred.h5" 2>&1)
        rc=$?
        echo "$msg" | sed 's/^/       /'
        diff=$(echo "$msg" | sed -n 's/.*max abs diff ([a-z]*): \([^ ]*\).*/\1/p')
        agree=$(echo "$msg" | sed -n 's/.*class agreement: \([^ ]*\).*/\1/p')
        check "export_torch.py --check-data ${KIND[$m]}: exit $rc, max abs diff $diff${agree:+, classes $agree}" \
            test "$rc" -eq 0
    done

    # the recipe in the script's docstring, and the full module rebuilt from OUT.pt
    msg=$(timeout 120 "$PY" - "$DDP_SOURCE_DIR/scripts" "$TMP" "$DIGITS" <<'EOF' 2>&1
import sys, h5py, numpy as np, torch
sys.path.insert(0, sys.argv[1])
from export_torch import DDPTrainModel
tmp = sys.argv[2]
for m, x_name in (("lin", "/X"), ("sm", "/test/X")):
    out = torch.load(f"{tmp}/{m}.pt")
    meta = out["meta"]
    lin = torch.nn.Linear(meta["n_features"], meta["n_out"])
    lin.load_state_dict(out["model"])
    with h5py.File(f"{tmp}/{m}.h5", "r") as f:
        assert np.array_equal(lin.weight.detach().numpy(), f["model/weight"][:]), f"{m}: weight differs"
        assert np.array_equal(lin.bias.detach().numpy(), f["model/bias"][:]), f"{m}: bias differs"
    model = DDPTrainModel.from_export(out)
    data = f"{tmp}/lin_data.h5" if m == "lin" else sys.argv[3]
    with h5py.File(data, "r") as fd, h5py.File(f"{tmp}/{m}_pred.h5", "r") as fp:
        with torch.no_grad():
            got = model(torch.from_numpy(fd[x_name][:].astype(np.float32))).numpy()
        ref = fp["/prediction" if m == "lin" else "/probability"][:]
        assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max()), f"{m}: from_export predictions differ"
print("nn.Linear weights bitwise equal to the HDF5 file; from_export predictions match")
EOF
)
    rc=$?
    check "lin.load_state_dict(torch.load(OUT)[\"model\"]) and DDPTrainModel.from_export work: $msg" test "$rc" -eq 0

    # refusals: not a checkpoint -> 2; a predictions file that disagrees -> 1
    timeout 60 "$PY" "$EXPORT" "$TMP/lin_data.h5" "$TMP/bad.pt" >"$TMP/bad.out" 2>&1
    rc=$?
    check "export_torch.py refuses a data file: exit $rc (want 2), $(tail -1 "$TMP/bad.out")" \
        bash -c "[ $rc -eq 2 ] && grep -q 'not a ddptrain checkpoint' '$TMP/bad.out' && [ ! -e '$TMP/bad.pt' ]"
    cp "$TMP/lin_pred.h5" "$TMP/tampered.h5"
    timeout 60 "$PY" -c "
import h5py, numpy as np
with h5py.File('$TMP/tampered.h5', 'r+') as f:
    p = f['prediction']; p[7] = p[7] + 1e-3 * np.abs(p[:]).max()"
    timeout 120 "$PY" "$EXPORT" "$TMP/lin.h5" "$TMP/lin2.pt" --check-data "$TMP/lin_data.h5" \
        --predictions "$TMP/tampered.h5" >"$TMP/tampered.out" 2>&1
    rc=$?
    check "export_torch.py catches a prediction off by 1e-3 relative: exit $rc (want 1)" \
        bash -c "[ $rc -eq 1 ] && grep -q MISMATCH '$TMP/tampered.out'"
elif [ "$HAVE_H5PY" = 1 ]; then
    skipped "torch not installed"
else
    skipped "h5py not installed (export_torch.py needs h5py and torch)"
fi

[ "$N_SKIPPED" -gt 0 ] && echo "$T_NAME: $N_SKIPPED part(s) skipped"
finish
