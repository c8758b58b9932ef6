#!/bin/bash
# Explanation overhead: camstream vs PyTorch on ResNet-18 and MobileNetV2 at 224².
#
#     bench/explain.sh [--models m1,m2] [--threads "1 2"] [--methods a,b,...]
#                      [--batched-runs R] [--batched-warmup W] [--wait-idle S] [--quick]
#                      [--no-torch]
#     bench/explain.sh --report RESULTS.jsonl...
#
# For each model and thread count, runs `camstream bench-explain` and
# bench/torch_explain_bench.py one after the other (never at the same time), each measuring,
# per method, the median time of one explanation and the median time of a plain forward pass
# in the same process. Single-pass methods (cam, gradcam, gradcampp, layercam, xgradcam,
# saliency): median of 30 runs after 5 warm-up runs. Batched methods (scorecam, rise,
# smooth_gradcampp, smoothgrad, augmented_gradcam; one run is 25 to 1280 forward passes):
# --batched-runs runs (default 1) after --batched-warmup (default 1). Prints a table: time
# added beyond the forward pass by each engine, their ratio, and images/s of the batched
# methods. augmented_gradcam has no PyTorch counterpart here.
# --quick: 3 runs after 1 for the single-pass methods, 1 after 0 for the batched ones (a
# smoke test, not figures to quote).
# The CPU share taken by other processes while each command ran is recorded ("busy", 0..1;
# the table marks figures measured at busy > 0.1 with *); --wait-idle S waits up to S seconds
# before each command for the other load to drop to 10 % or less. --report prints the table of earlier
# results (several files: for each engine, model, threads and method the measurement taken
# with the least other load is kept, e.g. a re-run of the configurations spoiled by load).
#
# Environment:
#   CAMSTREAM         the camstream executable (default: build/cli/camstream, built if missing)
#   CS_BENCH_MODELS   cache of exported models (default: build/bench-models)
#   CS_EXPLAIN_OUT    where the JSON lines go (default: build/explain-results.jsonl)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
MODELS="resnet18 mobilenet_v2"
THREADS="1 2"
SINGLE="cam,gradcam,gradcampp,layercam,xgradcam,saliency"
BATCHED="scorecam,smooth_gradcampp,smoothgrad,rise,augmented_gradcam"
METHODS=""
RUNS1=30 WARM1=5 RUNSB=1 WARMB=1 DO_TORCH=1 REPORT=0 WAIT_IDLE=0
CACHE=${CS_BENCH_MODELS:-$ROOT/build/bench-models}
OUT=${CS_EXPLAIN_OUT:-$ROOT/build/explain-results.jsonl}

die() { echo "bench/explain.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
    --quick) RUNS1=3 WARM1=1 RUNSB=1 WARMB=0 ;;
    --models) [ $# -ge 2 ] || die "--models needs a value"; MODELS=${2//,/ }; shift ;;
    --threads) [ $# -ge 2 ] || die "--threads needs a value"; THREADS=${2//,/ }; shift ;;
    --methods) [ $# -ge 2 ] || die "--methods needs a value"; METHODS=$2; shift ;;
    --batched-runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--batched-runs needs a positive integer"
        RUNSB=$2; shift ;;
    --batched-warmup) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--batched-warmup needs an integer"
        WARMB=$2; shift ;;
    --wait-idle) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--wait-idle needs seconds"
        WAIT_IDLE=$2; shift ;;
    --no-torch) DO_TORCH=0 ;;
    --report) REPORT=1; shift; break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done

report() {
    "$PY" - "$@" <<'EOF'
import json, sys

rows = [json.loads(l) for path in sys.argv[1:] for l in open(path) if l.strip()]
res, order = {}, []
for r in rows:
    k = (r["name"], r["threads"], r["method"])
    if k not in order:
        order.append(k)
    old = res.get(k + (r["engine"],))
    if old is None or r.get("busy", 0) <= old.get("busy", 0):
        res[k + (r["engine"],)] = r

def mark(r):
    return "*" if r.get("busy", 0) > 0.1 else ""

def added(r):
    if r is None:
        return "—"
    return "%.2f (%.0f%%)%s" % (r["added_ms"], r["added_pct"], mark(r))

def fwd(r):
    return "—" if r is None else "%.2f%s" % (r["forward_ms"], mark(r))

def ips(r):
    return "—" if r is None or r.get("images_per_s") is None else "%.1f%s" % (r["images_per_s"], mark(r))

print("| model | thr | method | cs fwd ms | cs added ms (% fwd) | PT fwd ms | PT added ms (% fwd) "
      "| added cs/PT | cs img/s | PT img/s |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for name, thr, method in order:
    cs = res.get((name, thr, method, "camstream"))
    pt = res.get((name, thr, method, "pytorch"))
    ratio = "—"
    # a ratio of two differences of medians means something only when both are clearly > 0
    if cs and pt and min(cs["added_ms"], pt["added_ms"]) > 1.0 and \
            min(cs["added_pct"], pt["added_pct"]) > 5:
        ratio = "%.2f" % (cs["added_ms"] / pt["added_ms"])
    print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        name, thr, method, fwd(cs), added(cs), fwd(pt), added(pt), ratio, ips(cs), ips(pt)))
print()
print("added = median(explanation) − median(plain forward), same process and threads; "
      "ratio only where both added > 1 ms and > 5 % of the forward; * = measured while other "
      "processes used > 10 % of the CPUs")
EOF
}

if [ $REPORT = 1 ]; then
    [ $# -ge 1 ] || die "--report needs result files"
    report "$@"
    exit 0
fi

if [ -n "$METHODS" ]; then # split the list into single-pass and batched methods
    s="" b=""
    for m in ${METHODS//,/ }; do
        if [[ ,$BATCHED, == *,$m,* ]]; then b="$b,$m"; else s="$s,$m"; fi
    done
    SINGLE=${s#,} BATCHED=${b#,}
fi

CAMSTREAM=${CAMSTREAM:-$ROOT/build/cli/camstream}
if [ ! -x "$CAMSTREAM" ] || ! "$CAMSTREAM" bench-explain --help >/dev/null 2>&1; then
    if [ "$CAMSTREAM" = "$ROOT/build/cli/camstream" ]; then
        echo "== building camstream in $ROOT/build"
        [ -f "$ROOT/build/build.ninja" ] || meson setup "$ROOT/build" "$ROOT" >/dev/null
        ninja -C "$ROOT/build" cli/camstream || die "could not build camstream"
    else
        die "CAMSTREAM=$CAMSTREAM is not a camstream with bench-explain"
    fi
fi

[ -x "$PY" ] || die "$PY not found (Debian's python3-torch, python3-torchvision, python3-onnx)"
missing=""
for m in $MODELS; do
    [ -f "$CACHE/$m/model.onnx" ] || missing="$missing,$m"
done
if [ -n "$missing" ]; then
    echo "== exporting${missing//,/ } into $CACHE"
    "$PY" "$ROOT/tools/export_models.py" --big "$CACHE" --only "${missing#,}"
fi

mkdir -p "$(dirname "$OUT")"
: >"$OUT"
fail=0

# stat_busy: jiffies all CPUs spent busy since boot; child_ticks: CPU time of our finished
# children in the same 1/100 s ticks (bash's `times`, via a file: it must run in this shell).
stat_busy() { head -n 1 /proc/stat | awk '{ print $2 + $3 + $4 + $7 + $8 + $9 }'; }
TIMES_FILE=$(mktemp)
trap 'rm -f "$TIMES_FILE"' EXIT
child_ticks() {
    times >"$TIMES_FILE"
    TICKS=$(tail -n 1 "$TIMES_FILE" | awk '{ n = 0; for (i = 1; i <= 2; i++) {
        split($i, p, /[ms]/); n += p[1] * 6000 + p[2] * 100 }; printf "%d", n }')
}

# cpu_busy: fraction of the CPUs used during one second (we run nothing then).
cpu_busy() {
    local a b i total=0 idle
    read -r -a a < <(head -n 1 /proc/stat)
    sleep 1
    read -r -a b < <(head -n 1 /proc/stat)
    for ((i = 1; i < ${#a[@]}; i++)); do total=$((total + b[i] - a[i])); done
    idle=$((b[4] - a[4] + b[5] - a[5]))
    awk -v t=$total -v i=$idle 'BEGIN { printf "%.2f", (t > 0 ? 1 - i / t : 0) }'
}
# wait_idle: waits up to WAIT_IDLE s for the other load to be <= 0.1.
wait_idle() {
    local waited=0
    while [ $waited -lt "$WAIT_IDLE" ] && awk -v b="$(cpu_busy)" 'BEGIN { exit !(b > 0.1) }'; do
        sleep 4
        waited=$((waited + 5))
    done
}

# record MODEL THREADS COMMAND...: runs COMMAND (JSON lines on stdout), appends them to $OUT
# tagged with name, threads and the CPU share other processes took meanwhile.
record() {
    local model=$1 threads=$2 tmp err s0 c0 t0 busy
    shift 2
    wait_idle
    tmp=$(mktemp) err=$(mktemp)
    child_ticks
    s0=$(stat_busy) c0=$TICKS t0=$(date +%s%N)
    if "$@" >"$tmp" 2>"$err"; then
        child_ticks
        busy=$(awk -v s=$(($(stat_busy) - s0)) -v c=$((TICKS - c0)) \
            -v w=$(($(date +%s%N) - t0)) -v n="$(nproc)" \
            'BEGIN { o = (s - c) / (w / 1e7 * n); printf "%.2f", (o < 0 ? 0 : o) }')
        "$PY" -c 'import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        r = json.loads(line)
        r.update(name=sys.argv[2], threads=int(sys.argv[3]), busy=float(sys.argv[4]))
        print(json.dumps(r))
        print("  %-9s %-12s %d thr %-17s total %10.2f ms  forward %7.2f ms  added %10.2f ms"
              % (r["engine"], r["name"], r["threads"], r["method"], r["total_ms"],
                 r["forward_ms"], r["added_ms"]), file=sys.stderr)' \
            "$tmp" "$model" "$threads" "$busy" >>"$OUT"
        echo "    (busy $busy)" >&2
    else
        echo "  FAILED: $* : $(tr '\n' ' ' <"$err" | cut -c1-300)" >&2
        fail=1
    fi
    rm -f "$tmp" "$err"
}

echo "== measuring (single-pass methods: $RUNS1 runs after $WARM1; batched: $RUNSB after" \
    "$WARMB)" >&2
for m in $MODELS; do
    onnx=$CACHE/$m/model.onnx
    for t in $THREADS; do
        for group in single batched; do
            if [ $group = single ]; then list=$SINGLE r=$RUNS1 w=$WARM1; else
                list=$BATCHED r=$RUNSB w=$WARMB; fi
            [ -n "$list" ] || continue
            record "$m" "$t" "$CAMSTREAM" bench-explain "$onnx" --methods "$list" \
                --threads "$t" --runs "$r" --warmup "$w" --json
            tlist=${list//augmented_gradcam/}
            tlist=${tlist//,,/,}
            tlist=${tlist#,}
            tlist=${tlist%,}
            if [ $DO_TORCH = 1 ] && [ -n "$tlist" ]; then
                record "$m" "$t" "$PY" "$ROOT/bench/torch_explain_bench.py" "$m" \
                    --methods "$tlist" --threads "$t" --runs "$r" --warmup "$w" --json
            fi
        done
    done
done

echo
report "$OUT"
echo
echo "raw results: $OUT"
exit $fail
