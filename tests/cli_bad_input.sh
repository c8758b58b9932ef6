#!/bin/sh
# `camstream run` on bad files: every case must exit non-zero (1), print nothing on stdout and
# exactly one line on stderr, starting with "camstream run: " and naming the bad file.
#
#     cli_bad_input.sh CAMSTREAM SOURCE_DIR
set -u
if [ $# -ne 2 ]; then
    echo "usage: cli_bad_input.sh CAMSTREAM SOURCE_DIR" >&2
    exit 2
fi
camstream=$1 src=$2
model=$src/tests/models/gap_cnn_op13/model.onnx
input=$src/tests/models/gap_cnn_op13/test_data_set_0/input_0.pb
other_input=$src/tests/models/resnet_tiny_op13/test_data_set_0/input_0.pb
output=$src/tests/models/gap_cnn_op13/test_data_set_0/output_0.pb
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-cli-bad.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0 cases=0

# expect NAME SUBSTRING ARGS...: runs `camstream run ARGS...`.
expect() {
    name=$1 want=$2
    shift 2
    cases=$((cases + 1))
    "$camstream" run "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    why=""
    if [ "$rc" -eq 0 ]; then why="exit status 0"; fi
    if [ "$rc" -ge 128 ]; then why="killed by signal $((rc - 128))"; fi
    if [ -s "$tmp/out" ]; then why="$why; wrote to stdout"; fi
    if [ "$lines" -ne 1 ]; then why="$why; $lines lines on stderr"; fi
    if ! grep -q '^camstream run: ' "$tmp/err"; then why="$why; no 'camstream run: ' prefix"; fi
    if ! grep -qF -- "$want" "$tmp/err"; then why="$why; stderr does not mention '$want'"; fi
    if [ -n "$why" ]; then
        echo "FAIL $name:${why#;}" >&2
        sed 's/^/    stderr: /' "$tmp/err" >&2
        failures=$((failures + 1))
    else
        echo "ok   $name: $(cat "$tmp/err")"
    fi
}

for f in "$model" "$input" "$other_input" "$output"; do
    [ -f "$f" ] || { echo "cli_bad_input.sh: missing $f" >&2; exit 1; }
done

# Bad model files.
expect missing "$tmp/nope.onnx" "$tmp/nope.onnx" --in "$input"
: >"$tmp/empty.onnx"
expect empty "$tmp/empty.onnx" "$tmp/empty.onnx" --in "$input"
printf 'hello, this is not a model\n' >"$tmp/text.onnx"
expect text "$tmp/text.onnx" "$tmp/text.onnx" --in "$input"
printf '\211PNG\r\n\032\n\000\000\000\rIHDR\000\000\000\001' >"$tmp/image.onnx"
expect png "$tmp/image.onnx" "$tmp/image.onnx" --in "$input"
expect directory "$tmp" "$tmp" --in "$input"
for n in 10 100 1000 30000; do
    head -c "$n" "$model" >"$tmp/cut$n.onnx"
    expect "truncated-$n" "$tmp/cut$n.onnx" "$tmp/cut$n.onnx" --in "$input"
done
# Same-length op rename keeps the protobuf valid: an unsupported op.
LC_ALL=C sed 's/Relu/Rxlu/g' "$model" >"$tmp/unknown_op.onnx"
expect unknown-op "Rxlu" "$tmp/unknown_op.onnx" --in "$input"
for f in "$src"/tests/fuzz/regressions/*; do
    [ -f "$f" ] || continue
    # Regressions that load and run fine have no input to give; those must refuse or run.
    "$camstream" run "$f" --list >"$tmp/out" 2>"$tmp/err"
    rc=$?
    cases=$((cases + 1))
    if [ "$rc" -ge 128 ] || { [ "$rc" -ne 0 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; }; then
        echo "FAIL regression $(basename "$f"): status $rc" >&2
        sed 's/^/    stderr: /' "$tmp/err" >&2
        failures=$((failures + 1))
    else
        echo "ok   regression $(basename "$f"): status $rc"
    fi
done

# Bad inputs for a good model.
expect input-missing "$tmp/nope.pb" "$model" --in "$tmp/nope.pb"
expect input-text "$tmp/text.onnx" "$model" --in "$tmp/text.onnx"
: >"$tmp/empty.pb"
expect input-empty "$tmp/empty.pb" "$model" --in "$tmp/empty.pb"
head -c 100 "$input" >"$tmp/cut.pb"
expect input-truncated "$tmp/cut.pb" "$model" --in "$tmp/cut.pb"
expect input-wrong-shape "does not fit" "$model" --in "$other_input"
expect input-wrong-rank "dimensions" "$model" --in "$output"
expect input-count "input(s)" "$model" --in "$input" --in "$input"
expect no-input "input(s)" "$model"

echo "$cases cases, $failures failed"
[ "$failures" -eq 0 ]
