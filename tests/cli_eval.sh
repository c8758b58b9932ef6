#!/bin/sh
# `camstream eval` end to end on tiny trained models: the JSON and Markdown reports, every
# figure recomputed from `--dump` by the independent numpy/scikit-image implementation
# (tools/eval_reference.py dump), and bad input failing with one line on stderr.
#
#     cli_eval.sh CAMSTREAM SOURCE_DIR
set -u
if [ $# -ne 2 ]; then
    echo "usage: cli_eval.sh CAMSTREAM SOURCE_DIR" >&2
    exit 2
fi
camstream=$1 src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-cli-eval.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0
py=/usr/bin/python3

fail() {
    echo "FAIL $1" >&2
    failures=$((failures + 1))
}

"$camstream" synth images --out "$tmp/shapes" --count 80 --classes 2 --seed 5 >/dev/null &&
    "$camstream" synth figures --out "$tmp/figs" --count 40 --seed 6 >/dev/null &&
    "$camstream" train --arch multitask --data "$tmp/shapes" --out "$tmp/mt.onnx" --epochs 1 \
        --batch 16 --width 4 --threads 2 >/dev/null &&
    "$camstream" train --arch pose --data "$tmp/figs" --out "$tmp/pose.onnx" --epochs 1 \
        --batch 16 --width 4 --threads 2 >/dev/null ||
    { echo "cli_eval.sh: synth/train failed" >&2; exit 1; }

# Every method, curves included, dumped and recomputed.
if ! "$camstream" eval --model "$tmp/mt.model" --data "$tmp/shapes" --threads 2 \
    --methods cam,gradcam,gradcam++,scorecam,rise,augmented-gradcam --rise-masks 64 \
    --aug-count 4 --json "$tmp/mt.json" --markdown "$tmp/mt.md" --dump "$tmp/dump" \
    >"$tmp/out" 2>"$tmp/err"; then
    fail "eval multitask: $(cat "$tmp/err")"
else
    "$py" - "$tmp/mt.json" <<'EOF' || fail "multitask JSON"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["images"] == 8 and r["split"] == "test" and r["target"] == "truth", r
assert 0 <= r["classification"]["accuracy"] <= 1
names = [w["name"] for w in r["localization"]]
assert names[:6] == ["cam", "gradcam", "gradcampp", "scorecam", "rise", "augmented_gradcam"], names
assert "baseline: centre" in names and "baseline: random map" in names and "box head (box)" in names
for w in r["localization"]:
    for k in ("mean_iou", "loc_acc", "pointing", "deletion_auc", "insertion_auc"):
        if k in w:
            assert w[k] is None or 0 <= w[k] <= 1, (w["name"], k, w[k])
    if w["name"] == "cam":
        assert w["curve_images"] == 8 and w["top1_loc"] <= w["loc_acc"]
assert r["settings"]["box_threshold"] == 0.15 and r["settings"]["curve_step_px"] == 64
EOF
    grep -q '^| cam |' "$tmp/mt.md" || fail "markdown has no cam row"
    "$py" "$src/tools/eval_reference.py" dump "$tmp/dump" >"$tmp/ref" 2>&1 ||
        fail "eval_reference.py on the multitask dump: $(cat "$tmp/ref")"
fi

# Pose: PCK recomputed from the dump.
if ! "$camstream" eval --model "$tmp/pose.model" --data "$tmp/figs" --split val \
    --json "$tmp/pose.json" --dump "$tmp/pdump" >"$tmp/out" 2>"$tmp/err"; then
    fail "eval pose: $(cat "$tmp/err")"
else
    "$py" -c "import json,sys; p=json.load(open(sys.argv[1]))['pose']; \
assert len(p['joints']) == 14 and 0 <= p['pck'] <= 1" "$tmp/pose.json" || fail "pose JSON"
    "$py" "$src/tools/eval_reference.py" dump "$tmp/pdump" >"$tmp/ref" 2>&1 ||
        fail "eval_reference.py on the pose dump: $(cat "$tmp/ref")"
fi

# Bad input: exit 1 or 2 and exactly one line on stderr naming the problem.
expect_error() { # status pattern args...
    want=$1 pat=$2
    shift 2
    "$camstream" eval "$@" >/dev/null 2>"$tmp/err"
    st=$?
    if [ "$st" -ne "$want" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q -- "$pat" "$tmp/err"; then
        fail "eval $*: status $st, stderr: $(cat "$tmp/err")"
    fi
}
expect_error 2 "required" --model "$tmp/mt.model"
expect_error 2 "unknown method 'gradcan'" --model "$tmp/mt.model" --data "$tmp/shapes" --methods gradcan
expect_error 2 "not one of train, val, test" --model "$tmp/mt.model" --data "$tmp/shapes" --split dev
expect_error 2 "--threshold" --model "$tmp/mt.model" --data "$tmp/shapes" --threshold 2
expect_error 1 "scores 2 classes" --model "$tmp/mt.model" --data "$tmp/figs"
expect_error 1 "predicts 14 joints" --model "$tmp/pose.model" --data "$tmp/shapes"
expect_error 1 "dataset.csv" --model "$tmp/mt.model" --data "$tmp/nothing"
expect_error 1 "no such\|No such\|cannot" --model "$tmp/missing.model" --data "$tmp/shapes"

if [ "$failures" -ne 0 ]; then
    echo "cli_eval.sh: $failures failure(s)" >&2
    exit 1
fi
echo "cli_eval.sh: ok"
