#!/bin/sh
# `camstream train` end to end on a tiny synthetic dataset (camstream synth): progress lines,
# the model, statistics and description files, checkpoints and --resume, the exported ONNX
# accepted by onnx.checker and giving the same outputs in onnxruntime (bench/node_modules, scripts/install-ort.sh) as in camstream's engine, and usage
# errors with one line on stderr.
#
#     cli_train.sh CAMSTREAM SOURCE_DIR
set -u
if [ $# -ne 2 ]; then
    echo "usage: cli_train.sh CAMSTREAM SOURCE_DIR" >&2
    exit 2
fi
camstream=$1 src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-cli-train.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0
py=/usr/bin/python3

fail() {
    echo "FAIL $1" >&2
    failures=$((failures + 1))
}

"$camstream" synth images --out "$tmp/shapes" --count 64 --classes 2 --seed 5 >/dev/null ||
    { echo "cli_train.sh: camstream synth failed" >&2; exit 1; }
"$camstream" synth figures --out "$tmp/figs" --count 40 --seed 6 >/dev/null ||
    { echo "cli_train.sh: camstream synth figures failed" >&2; exit 1; }

# multitask, 2 epochs, checkpoint each epoch
out=$tmp/mt.onnx
if ! "$camstream" train --arch multitask --data "$tmp/shapes" --out "$out" --epochs 2 \
    --batch 8 --lr 3e-3 --augment flip,translate --threads 2 --width 4 --checkpoint-every 1 \
    >"$tmp/log" 2>"$tmp/err"; then
    fail "train multitask: $(cat "$tmp/err")"
fi
grep -Eq '^epoch 2/2  loss [0-9.]+ \(cls [0-9.]+ box [0-9.]+\)  val acc [0-9.]+%  box IoU [0-9.]+  [0-9.]+ s$' \
    "$tmp/log" || fail "progress line: $(cat "$tmp/log")"
for f in mt.onnx mt.stats mt.model mt.ckpt; do
    [ -s "$tmp/$f" ] || fail "missing $f"
done
[ ! -e "$tmp/mt.onnx.tmp" ] || fail "temporary file left behind"
grep -q '^statistics = mt.stats$' "$tmp/mt.model" || fail "description: statistics"
grep -q '^boxes = box$' "$tmp/mt.model" || fail "description: boxes"
grep -q '^layer = features$' "$tmp/mt.model" || fail "description: layer"
grep -q '^fitted_on = shapes/train$' "$tmp/mt.stats" || fail "statistics: fitted_on"

# resume from the checkpoint for one more epoch
if ! "$camstream" train --arch multitask --data "$tmp/shapes" --out "$tmp/mt3.onnx" --epochs 3 \
    --batch 8 --lr 3e-3 --augment flip,translate --threads 2 --width 4 --resume "$tmp/mt.ckpt" \
    >"$tmp/log3" 2>"$tmp/err"; then
    fail "resume: $(cat "$tmp/err")"
fi
grep -q '^resumed from .* after epoch 2$' "$tmp/log3" || fail "resume line"
grep -q '^epoch 3/3 ' "$tmp/log3" || fail "resume: epoch 3"
grep -q '^epoch 1/3 ' "$tmp/log3" && fail "resume restarted at epoch 1"

# the description is read back and checked against the model by explain (labels, heads,
# layer); then a decoder of its features feeds Perception Visualization
img=$(ls "$tmp/shapes/images" | head -1)
"$camstream" explain --model "$tmp/mt.model" --image "$tmp/shapes/images/$img" --quiet \
    --json "$tmp/ex.json" 2>"$tmp/err" || fail "explain --model mt.model: $(cat "$tmp/err")"
grep -q '"gradcam"' "$tmp/ex.json" || fail "explain: method from the description"
if ! "$camstream" train --arch decoder --backbone "$out" --data "$tmp/shapes" --width 4 \
    --out "$tmp/dec.onnx" --epochs 1 --batch 8 --threads 2 >"$tmp/logd" 2>"$tmp/err"; then
    fail "train decoder: $(cat "$tmp/err")"
fi
grep -q 'val mse' "$tmp/logd" || fail "decoder progress: $(cat "$tmp/logd")"
"$camstream" explain --model "$tmp/mt.model" --image "$tmp/shapes/images/$img" --quiet \
    --method pv --decoder "$tmp/dec.onnx" --out-overlay "$tmp/pv.png" 2>"$tmp/err" ||
    fail "explain --method pv with the trained decoder: $(cat "$tmp/err")"

# the same seed and options give byte-identical models
for run in 1 2; do
    "$camstream" train --arch gap --data "$tmp/shapes" --out "$tmp/seed$run.onnx" --epochs 1 \
        --batch 8 --threads 2 --width 4 --seed 9 --augment flip,translate >/dev/null 2>"$tmp/err" ||
        fail "train gap (seed run $run): $(cat "$tmp/err")"
done
cmp -s "$tmp/seed1.onnx" "$tmp/seed2.onnx" || fail "same seed, different models"

# pose on stick figures
if ! "$camstream" train --arch pose --data "$tmp/figs" --out "$tmp/pose.onnx" --epochs 1 \
    --batch 8 --threads 2 --width 4 --augment flip >"$tmp/logp" 2>"$tmp/err"; then
    fail "train pose: $(cat "$tmp/err")"
fi
grep -q 'kp err' "$tmp/logp" || fail "pose progress: $(cat "$tmp/logp")"
grep -q '^skeleton = ' "$tmp/pose.model" || fail "pose description: skeleton"

# the exported model: onnx.checker, then camstream vs onnxruntime on the same input
# (scripts/install-deps.sh installs both oracles; a missing one fails the test, it is not skipped)
if ! [ -x "$py" ] || ! "$py" -c 'import onnx, numpy' 2>/dev/null; then
    fail "needs $py with onnx and numpy (scripts/install-deps.sh)"
else
    "$py" - "$out" "$tmp/set" <<'PY' || fail "onnx.checker / input"
import os, sys, numpy as np, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
os.makedirs(sys.argv[2], exist_ok=True)
x = np.random.RandomState(0).randn(2, 3, 64, 64).astype(np.float32)
open(os.path.join(sys.argv[2], "input_0.pb"), "wb").write(
    numpy_helper.from_array(x, "input").SerializeToString())
PY
    "$camstream" run "$out" --in "$tmp/set/input_0.pb" --out-dir "$tmp/set" --threads 2 \
        >/dev/null 2>"$tmp/err" || fail "camstream run on the exported model: $(cat "$tmp/err")"
    ort=$src/bench/node_modules/onnxruntime-node
    if ! command -v node >/dev/null || ! [ -d "$ort" ]; then
        fail "needs node and onnxruntime-node in bench/node_modules (scripts/install-ort.sh)"
    else
        node "$src/bench/ort_bench.js" "$out" --check "$tmp/set" >"$tmp/ort" 2>&1 ||
            fail "onnxruntime disagrees with camstream: $(cat "$tmp/ort")"
        [ -n "${CS_TRAIN_VERBOSE:-}" ] && cat "$tmp/ort"
    fi
fi

# usage and data errors: non-zero, one line on stderr, no model
expect_fail() { # CODE NAME ARGS...
    code=$1 name=$2
    shift 2
    "$camstream" train "$@" >/dev/null 2>"$tmp/err"
    rc=$?
    [ "$rc" = "$code" ] || fail "$name: exit $rc, expected $code"
    [ "$(wc -l <"$tmp/err")" = 1 ] || fail "$name: stderr is not one line: $(cat "$tmp/err")"
}
expect_fail 2 "no arch" --data "$tmp/shapes" --out "$tmp/x.onnx"
expect_fail 2 "bad arch" --arch vgg --data "$tmp/shapes" --out "$tmp/x.onnx"
expect_fail 2 "bad augment" --arch gap --data "$tmp/shapes" --out "$tmp/x.onnx" --augment rot
expect_fail 2 "out not onnx" --arch gap --data "$tmp/shapes" --out "$tmp/x.bin"
expect_fail 2 "decoder without backbone" --arch decoder --data "$tmp/shapes" --out "$tmp/x.onnx"
expect_fail 1 "pose without keypoints" --arch pose --data "$tmp/shapes" --out "$tmp/x.onnx"
expect_fail 1 "missing dataset" --arch gap --data "$tmp/nope" --out "$tmp/x.onnx"
expect_fail 1 "batch too large" --arch gap --data "$tmp/shapes" --out "$tmp/x.onnx" --batch 1000
expect_fail 1 "bad checkpoint" --arch gap --data "$tmp/shapes" --out "$tmp/x.onnx" --batch 8 \
    --width 4 --resume "$tmp/mt.ckpt"
[ ! -e "$tmp/x.onnx" ] || fail "a failed run left a model"

if [ "$failures" -ne 0 ]; then
    echo "cli_train.sh: $failures failure(s)" >&2
    exit 1
fi
echo "cli_train.sh: all passed"
