#!/bin/bash
# Side-by-side benchmark: camstream vs onnxruntime-node vs PyTorch on five torchvision CNNs.
#
#     bench/run.sh [--quick] [--rounds K] [--wait-idle S] [--models m1,m2] [--threads "1 2"]
#                  [--batches "1 8"] [--no-torch] [--no-ort]
#
# For each model (mobilenet_v2 resnet18 resnet50 squeezenet1_1 vgg11_bn) and thread count
# (1 and 2): batch-1 latency (median of 30 runs after 5 warm-up runs) and batch-8 throughput
# (median of 10 runs after 2 warm-up runs), measured one engine after the other in this one
# invocation by `camstream bench`, bench/ort_bench.js and bench/torch_bench.py. Prints a table
# with the ratios camstream / onnxruntime and camstream / PyTorch (> 1: camstream is slower).
# --quick: 10 batch-1 runs and 3 batch-8 runs (a smoke test, not figures to quote).
# --rounds K: measure every configuration K times, engines interleaved, and keep each engine's
# lowest median (less sensitive to other load on the machine; default 1).
# Other work on the machine spoils the figures (2 cores): the CPU share used by other processes
# for 1 s before and during each measurement is recorded ("busy", 0..1, the larger of the two;
# the table marks figures taken at busy > 0.1 with *). --wait-idle S: wait up to S seconds
# for the machine to be idle (<= 0.1) before each measurement.
#
# Environment:
#   CAMSTREAM         the camstream executable (default: build/cli/camstream, built if missing)
#   CS_BENCH_MODELS   cache of exported models (default: build/bench-models)
#   CS_BENCH_OUT      where the JSON lines go (default: build/bench-results.jsonl)
#
# On demand this exports the models (tools/export_models.py --big, ~1 GB with VGG) and installs
# onnxruntime-node from npm into bench/node_modules (ONNXRUNTIME_NODE_INSTALL=skip: no download
# besides the npm package itself; the package ships the CPU library).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
MODELS="mobilenet_v2 resnet18 resnet50 squeezenet1_1 vgg11_bn"
THREADS="1 2"
BATCHES="1 8"
RUNS1=30 WARM1=5 RUNS8=10 WARM8=2
DO_TORCH=1 DO_ORT=1 ROUNDS=1 WAIT_IDLE=0
CACHE=${CS_BENCH_MODELS:-$ROOT/build/bench-models}
OUT=${CS_BENCH_OUT:-$ROOT/build/bench-results.jsonl}

die() { echo "bench/run.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
    --quick) RUNS1=10 WARM1=2 RUNS8=3 WARM8=1 ;;
    --rounds) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive integer"
        ROUNDS=$2; shift ;;
    --wait-idle) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--wait-idle needs seconds"
        WAIT_IDLE=$2; shift ;;
    --models) [ $# -ge 2 ] || die "--models needs a value"; MODELS=${2//,/ }; shift ;;
    --threads) [ $# -ge 2 ] || die "--threads needs a value"; THREADS=${2//,/ }; shift ;;
    --batches) [ $# -ge 2 ] || die "--batches needs a value"; BATCHES=${2//,/ }; shift ;;
    --no-torch) DO_TORCH=0 ;;
    --no-ort) DO_ORT=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done

# ---- camstream ---------------------------------------------------------------------------
CAMSTREAM=${CAMSTREAM:-$ROOT/build/cli/camstream}
if [ ! -x "$CAMSTREAM" ]; then
    if [ "$CAMSTREAM" = "$ROOT/build/cli/camstream" ]; then
        echo "== building camstream in $ROOT/build"
        [ -f "$ROOT/build/build.ninja" ] || meson setup "$ROOT/build" "$ROOT" >/dev/null
        ninja -C "$ROOT/build" cli/camstream || die "could not build camstream"
    else
        die "CAMSTREAM=$CAMSTREAM is not an executable"
    fi
fi

# ---- models ------------------------------------------------------------------------------
[ -x "$PY" ] || die "$PY not found (Debian's python3-torch, python3-torchvision, python3-onnx)"
missing=""
for m in $MODELS; do
    [ -f "$CACHE/$m/model.onnx" ] || missing="$missing,$m"
done
if [ -n "$missing" ]; then
    echo "== exporting${missing//,/ } into $CACHE"
    "$PY" "$ROOT/tools/export_models.py" --big "$CACHE" --only "${missing#,}"
fi

# ---- onnxruntime-node --------------------------------------------------------------------
if [ $DO_ORT = 1 ]; then
    "$ROOT/scripts/install-ort.sh" || die "onnxruntime-node could not be installed"
    # The CPU execution provider must load and run: check on a committed test model.
    node "$ROOT/bench/ort_bench.js" "$ROOT/tests/models/gap_cnn_op13/model.onnx" \
        --check "$ROOT/tests/models/gap_cnn_op13/test_data_set_0" >/dev/null ||
        die "onnxruntime-node does not run on the CPU execution provider"
fi

# ---- measurements ------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
fail=0

# cpu_busy: fraction of the CPUs used by anything during one second (we run nothing then).
cpu_busy() {
    local a b
    read -r -a a < <(head -n 1 /proc/stat)
    sleep 1
    read -r -a b < <(head -n 1 /proc/stat)
    local i total=0 idle
    for ((i = 1; i < ${#a[@]}; i++)); do total=$((total + b[i] - a[i])); done
    idle=$((b[4] - a[4] + b[5] - a[5]))
    awk -v t=$total -v i=$idle 'BEGIN { printf "%.2f", (t > 0 ? 1 - i / t : 0) }'
}

# wait_idle: the current busy fraction, after waiting up to WAIT_IDLE s for it to be <= 0.1.
wait_idle() {
    local busy waited=0
    busy=$(cpu_busy)
    while awk -v b="$busy" 'BEGIN { exit !(b > 0.1) }' && [ $waited -lt "$WAIT_IDLE" ]; do
        sleep 4
        waited=$((waited + 5))
        busy=$(cpu_busy)
    done
    echo "$busy"
}

# stat_busy: jiffies all CPUs spent busy since boot. child_ticks: CPU time of our finished
# children, in the same 1/100 s ticks (bash's `times`, second line).
stat_busy() { head -n 1 /proc/stat | awk '{ print $2 + $3 + $4 + $7 + $8 + $9 }'; }
# (`times` must run in this shell, not in a pipe's subshell: hence the file; the result is
# left in $TICKS.)
TIMES_FILE=$(mktemp)
trap 'rm -f "$TIMES_FILE"' EXIT
child_ticks() {
    times >"$TIMES_FILE"
    TICKS=$(tail -n 1 "$TIMES_FILE" | awk '{ n = 0; for (i = 1; i <= 2; i++) {
        split($i, p, /[ms]/); n += p[1] * 6000 + p[2] * 100 }; printf "%d", n }')
}

# record ENGINE MODEL THREADS BATCH COMMAND...: runs COMMAND (which prints one JSON line) and
# appends it to $OUT tagged with engine/model/threads/batch; a failure is recorded too.
record() {
    local engine=$1 model=$2 threads=$3 batch=$4
    shift 4
    local line err busy s0 c0 t0 others
    busy=$(wait_idle)
    err=$(mktemp)
    child_ticks
    s0=$(stat_busy) c0=$TICKS t0=$(date +%s%N)
    if line=$("$@" 2>"$err" | tail -n 1) && [ "${line:0:1}" = "{" ]; then
        # CPU share taken by other processes while the command ran (of all CPUs, 0..1)
        child_ticks
        others=$(awk -v s=$(($(stat_busy) - s0)) -v c=$((TICKS - c0)) \
            -v w=$(($(date +%s%N) - t0)) -v n="$(nproc)" \
            'BEGIN { o = (s - c) / (w / 1e7 * n); printf "%.2f", (o < 0 ? 0 : o) }')
        busy=$(awk -v a="$busy" -v b="$others" 'BEGIN { print (a > b ? a : b) }')
        printf '%s\n' "$line" | "$PY" -c 'import json,sys
r = json.loads(sys.stdin.read()); r.update(engine=sys.argv[1], name=sys.argv[2],
    threads=int(sys.argv[3]), batch=int(sys.argv[4]), busy=float(sys.argv[5]))
print(json.dumps(r))' "$engine" "$model" "$threads" "$batch" "$busy" >>"$OUT"
        printf '  %-11s %-14s threads %s batch %s: %s (busy: %s)\n' "$engine" "$model" \
            "$threads" "$batch" "$("$PY" -c 'import json,sys; r = json.loads(sys.argv[1])
print("median %.3f ms, min %.3f ms" % (r["median_ms"], r["min_ms"]))' "$line")" "$busy"
    else
        local msg
        msg=$(tr '\n' ' ' <"$err" | cut -c1-300)
        printf '  %-11s %-14s threads %s batch %s: FAILED %s\n' "$engine" "$model" "$threads" \
            "$batch" "$msg"
        "$PY" -c 'import json,sys; print(json.dumps(dict(engine=sys.argv[1], name=sys.argv[2],
    threads=int(sys.argv[3]), batch=int(sys.argv[4]), error=sys.argv[5])))' \
            "$engine" "$model" "$threads" "$batch" "$msg" >>"$OUT"
        fail=1
    fi
    rm -f "$err"
}

echo "== measuring (batch 1: $RUNS1 runs after $WARM1 warm-up; batch 8: $RUNS8 runs after" \
    "$WARM8; $ROUNDS round(s))"
# measure MODEL THREADS BATCH: one round of every engine on one configuration.
measure() {
    local m=$1 t=$2 b=$3 r w onnx=$CACHE/$1/model.onnx
    if [ "$b" = 1 ]; then r=$RUNS1 w=$WARM1; else r=$RUNS8 w=$WARM8; fi  # other batches: as 8
    record camstream "$m" "$t" "$b" \
        "$CAMSTREAM" bench "$onnx" --threads "$t" --batch "$b" --runs "$r" --warmup "$w" --json
    if [ $DO_ORT = 1 ]; then
        record onnxruntime "$m" "$t" "$b" \
            node "$ROOT/bench/ort_bench.js" "$onnx" --threads "$t" --batch "$b" --runs "$r" \
            --warmup "$w" --json
    fi
    if [ $DO_TORCH = 1 ]; then
        record pytorch "$m" "$t" "$b" \
            "$PY" "$ROOT/bench/torch_bench.py" "$m" --threads "$t" --batch "$b" --runs "$r" \
            --warmup "$w" --json
    fi
}

for m in $MODELS; do
    echo "-- $m"
    for t in $THREADS; do
        for b in $BATCHES; do
            for ((round = 1; round <= ROUNDS; round++)); do measure "$m" "$t" "$b"; done
        done
    done
done

echo
"$PY" "$ROOT/bench/report.py" "$OUT"
echo
echo "raw results: $OUT"
exit $fail
