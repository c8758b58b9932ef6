#!/bin/sh
# Runs one committed model through `camstream run` and compares its output with PyTorch's.
#
#     run_model.sh CAMSTREAM COMPARE_PB MODEL_DIR DATA_SET [RTOL]
#
# MODEL_DIR is in the ONNX backend-test layout (model.onnx, test_data_set_N/input_0.pb,
# output_0.pb); DATA_SET is e.g. test_data_set_0. Used by tests/models/meson.build.
set -eu
if [ $# -lt 4 ]; then
    echo "usage: run_model.sh CAMSTREAM COMPARE_PB MODEL_DIR DATA_SET [RTOL]" >&2
    exit 2
fi
camstream=$1 compare=$2 dir=$3 ds=$4 rtol=${5:-1e-4}
for f in "$dir/model.onnx" "$dir/$ds/input_0.pb" "$dir/$ds/output_0.pb"; do
    [ -f "$f" ] || { echo "run_model.sh: missing $f" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-model-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "+ camstream run $dir/model.onnx --in $dir/$ds/input_0.pb --out-dir $tmp"
"$camstream" run "$dir/model.onnx" --in "$dir/$ds/input_0.pb" --out-dir "$tmp"

# The output as the backend-test layout names it, or else the one .pb file written.
out=$tmp/output_0.pb
if [ ! -f "$out" ]; then
    set -- "$tmp"/*.pb
    if [ $# -ne 1 ] || [ ! -f "$1" ]; then
        echo "run_model.sh: expected output_0.pb (or a single .pb file) in the out dir; found:" >&2
        ls -la "$tmp" >&2
        exit 1
    fi
    out=$1
fi
exec "$compare" "$out" "$dir/$ds/output_0.pb" --rtol "$rtol"
