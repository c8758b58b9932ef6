#!/usr/bin/env bash
# Reproduces the bundled models in models/ (models/README.md): generates the synthetic
# datasets with fixed seeds, trains the four models with fixed seeds and thread count, writes
# models/*.onnx, .stats, .model and label files, the demo video of configs/default.conf, and
# evaluates each model on its dataset's held-out test split.
#
#     scripts/train_models.sh [BUILD_DIR]      # default: build (release build of this tree)
#
# The datasets go to BUILD_DIR/bundled-data (git-ignored). Same build, same command: the same
# bytes in every .onnx/.stats/.model (training is bit-exact for a given seed, data and
# --threads; THREADS is fixed here so the machine's core count does not matter).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
CS=$BUILD/cli/camstream
THREADS=2
DATA=$BUILD/bundled-data
OUT=models
[ -x "$CS" ] || { echo "train_models.sh: $CS not built (meson setup $BUILD && ninja -C $BUILD)" >&2; exit 1; }
mkdir -p "$DATA" "$OUT"
t_start=$(date +%s)
step() { echo "== $* ($(($(date +%s) - t_start)) s)" >&2; }

# Datasets: 3 shape classes (circle, square, triangle) and stick figures, 'medium' difficulty
# (objects 30-60 % of the image, at most one occluder hiding up to 20 %; docs/DATASETS.md).
step "datasets"
rm -rf "$DATA/shapes" "$DATA/figures"
"$CS" synth images --out "$DATA/shapes" --count 16000 --classes 3 --seed 12 --difficulty medium
"$CS" synth figures --out "$DATA/figures" --count 10000 --seed 13 --difficulty medium

common=(--batch 32 --lr 2e-3 --seed 1 --threads "$THREADS")
step "(a) gap classifier"
"$CS" train --arch gap --data "$DATA/shapes" --out "$OUT/shapes_gap.onnx" --epochs 8 \
    --augment flip "${common[@]}"
step "(b) multitask classifier + box (alpha 5: with 1 the box IoU stays near 0.5)"
"$CS" train --arch multitask --data "$DATA/shapes" --out "$OUT/shapes_multitask.onnx" \
    --epochs 8 --alpha 5 --augment flip,translate "${common[@]}"
step "(c) pose (DeepPose-style, --width 8 keeps it near 1 MB)"
"$CS" train --arch pose --width 8 --data "$DATA/figures" --out "$OUT/figures_pose.onnx" \
    --epochs 10 --augment flip "${common[@]}"
step "(d) decoder of (a)'s features (Perception Visualization)"
"$CS" train --arch decoder --backbone "$OUT/shapes_gap.onnx" --data "$DATA/shapes" \
    --out "$OUT/shapes_gap_decoder.onnx" --epochs 8 "${common[@]}"
cp "$DATA/shapes/labels.txt" "$OUT/shapes_labels.txt"
cp "$DATA/figures/labels.txt" "$OUT/figures_labels.txt"

# The demo video of configs/default.conf: one medium-sized shape at a time (the classifier sees
# the whole frame stretched to 64x64, as in training), square frames: a circle, a square and a
# triangle clip (seeds 1, 2, 3) of 50 frames each, joined without re-encoding; the labels CSV
# gets the frame numbers of the joined clip.
step "demo video"
for s in 1 2 3; do
    "$CS" synth video --out "$DATA/demo$s.mkv" --frames 50 --size 128x128 --objects 1 \
        --classes 3 --difficulty medium --seed $s
done
# splitmuxsrc plays the files in name order (concat's order would depend on which demuxer
# exposes its pad first).
gst-launch-1.0 -q splitmuxsrc location="$DATA/demo?.mkv" ! matroskamux ! \
    filesink location="$OUT/shapes_demo.mkv"
{
    sed -e 's/^# frames: .*/# frames: 150/' -e '/^[0-9]/d' "$DATA/demo1.csv"
    for s in 1 2 3; do
        awk -F, -v OFS=, -v off=$(((s - 1) * 50)) '/^[0-9]/ { $1 += off; print }' "$DATA/demo$s.csv"
    done
} >"$OUT/shapes_demo.csv"
step "training done"

# Held-out test split (never seen in training or fitting): accuracy, box IoU, CAM boxes vs
# the centre-box baseline (map threshold 0.5 x max, chosen on the val split: 0.15/0.3/0.4/0.5/
# 0.6 gave localization accuracy 3/25/43/51/49 %), PCK vs the mean pose (camstream eval,
# docs/QUALITY.md); then the same accuracy and box IoU, and the decoder's reconstruction error,
# recomputed with PyTorch (tools/eval_bundled.py runs the ONNX files without camstream).
if "$CS" eval --help >/dev/null 2>&1; then
    "$CS" eval --model "$OUT/shapes_gap.model" --data "$DATA/shapes" --split test \
        --methods cam,gradcam --threshold 0.5 --no-curves --threads "$THREADS"
    "$CS" eval --model "$OUT/shapes_multitask.model" --data "$DATA/shapes" --split test \
        --methods gradcam --threshold 0.5 --no-curves --threads "$THREADS"
    "$CS" eval --model "$OUT/figures_pose.model" --data "$DATA/figures" --split test \
        --methods none --no-curves --threads "$THREADS"
fi
/usr/bin/python3 tools/eval_bundled.py --data "$DATA/shapes" --model "$OUT/shapes_gap.onnx" \
    --decoder "$OUT/shapes_gap_decoder.onnx"
/usr/bin/python3 tools/eval_bundled.py --data "$DATA/shapes" --model "$OUT/shapes_multitask.onnx"
step "all done"
ls -l "$OUT"
