#!/usr/bin/env bash
# Benchmark of camstreamd: 0 (baseline), 1, 2 and 4 live test streams (testsrc://ball, 640×480,
# 30 fps, chain `csnormalize ! csinfer`), with the bundled model (gap_cnn, tiny) and MobileNetV2
# (build/bench-models/mobilenet_v2, a realistic load). Per stream count (bench/daemon_bench.py):
# fps per stream (messages received and the status fps), the daemon's CPU use (/proc/PID/stat),
# the subscriber message rate (pyzmq, and `camstream sub` when it exists), RSS and RSS per stream
# (/proc/PID/status VmRSS), and the machine's load (CPU share used by others before each run,
# 1-minute load average after it).
#
#   bench/daemon.sh [--build DIR] [--seconds S] [--streams 0,1,2,4] [--threads N]
#                   [--models "gap mobilenet"] [--markdown]
#
# Results: one JSON line per run appended to BUILD/daemon-bench.jsonl; --markdown also prints the
# table rows of docs/PERFORMANCE.md "Daemon".
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
seconds=20
streams=0,1,2,4
threads=1
models="gap mobilenet"
markdown=0
die() { echo "daemon.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$(cd "${2:?}" && pwd); shift ;;
    --seconds) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--seconds needs a number"; seconds=$2; shift ;;
    --streams) [[ ${2:-} =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--streams needs N,N,..."; streams=$2; shift ;;
    --threads) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--threads needs a number"; threads=$2; shift ;;
    --models) models=${2:?}; shift ;;
    --markdown) markdown=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done

if [ ! -f "$build/build.ninja" ]; then meson setup "$build" "$src" -Dbuildtype=release >/dev/null; fi
# Only what the benchmark runs (a half-edited test elsewhere must not stop it).
ninja -C "$build" pipeline/camstreamd elements/libgstcamstream.so >"$build/bench-daemon-build.log" 2>&1 ||
    { tail -20 "$build/bench-daemon-build.log" >&2; die "build failed"; }
ninja -C "$build" cli/camstream >>"$build/bench-daemon-build.log" 2>&1 ||
    echo "daemon.sh: cli/camstream did not build: \`camstream sub\` not measured" >&2
daemon=$build/pipeline/camstreamd
[ -x "$daemon" ] || die "no camstreamd in $build"
[ -f "$build/elements/libgstcamstream.so" ] || die "the plugin was not built in $build"
camstream_args=()
if "$build/cli/camstream" sub --help >/dev/null 2>&1; then
    camstream_args=(--camstream "$build/cli/camstream")
fi

work=$build/bench-daemon
rm -rf "$work"
mkdir -p "$work/py"
protoc --python_out="$work/py" -I"$src/proto" "$src/proto/camstream.proto"
out=$build/daemon-bench.jsonl

echo "daemon bench: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), ${seconds} s per run"
for m in $models; do
    case $m in
    gap) model=$src/tests/models/gap_cnn_op13/model.onnx ;;
    mobilenet)
        model=$src/build/bench-models/mobilenet_v2/model.onnx
        if [ ! -f "$model" ]; then
            /usr/bin/python3 "$src/tools/export_models.py" --big "$src/build/bench-models" >&2
        fi
        ;;
    *) model=$m ;; # a path to an .onnx
    esac
    [ -f "$model" ] || die "no model $model"
    label=$(basename "$(dirname "$model")")
    /usr/bin/python3 "$src/bench/daemon_bench.py" --daemon "$daemon" \
        --plugin-dir "$build/elements" --pb-dir "$work/py" --model "$model" \
        --streams "$streams" --seconds "$seconds" --threads "$threads" --label "$label" \
        --json "$work/runs.jsonl" "${camstream_args[@]}" >/dev/null
done
cat "$work/runs.jsonl" >>"$out"

/usr/bin/python3 - "$work/runs.jsonl" "$markdown" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
md = sys.argv[2] == "1"
def fps(d):
    return " / ".join(f"{v:.1f}" for v in d.values()) or "—"
for r in rows:
    sub = r["msgs_per_s_camstream_sub"]
    per = r["rss_per_stream_kib"]
    cells = [r["label"], str(r["streams"]), str(r["threads"]), fps(r["fps_received"]),
             fps(r["fps_status"]), f"{r['cpu_percent']:.0f} %", f"{r['msgs_per_s_pyzmq']:.1f}",
             "—" if sub is None else f"{sub:.1f}", f"{r['rss_kib'] / 1024:.1f}",
             "—" if per is None else f"{per / 1024:.1f}",
             f"{r['busy_before']:.2f} / {r['load']:.2f}"]
    if md:
        print("| " + " | ".join(cells) + " |")
    else:
        print("  %-14s streams %s threads %s  fps recv %s  status %s  cpu %s  msgs/s %s (sub %s)"
              "  RSS %s MiB (+%s per stream)  busy/load %s" % tuple(cells))
EOF
