#!/usr/bin/env bash
# Benchmark of the GStreamer chain on a 640×480 30 fps source with the bundled model:
#
#   videotestsrc is-live=false ! 640×480 ! videoconvert ! csnormalize ! csinfer ! cslocalize !
#   csoverlay ! cspublish ! fakesink sync=false
#
# Measures, per explanation setting (explain=none and explain=gradcam by default):
#   - throughput: frames per second through the chain (non-live source: as fast as it goes), from
#     the publish times of the messages a subscriber receives (first 10% skipped);
#   - per-stage latency: mean and p50/p90/p99 of every stage from CsTimingMeta (carried in the
#     published messages), and of cspublish (and the rest) from GST_TRACERS=latency(flags=element);
#   - the engine's own time for the same work, outside GStreamer: `camstream bench` (forward) or
#     `camstream bench-explain` (one explainer run: its forward pass + the explanation, which is
#     what csinfer runs on an explained frame), same model, same threads, measured right before
#     and right after the chain (the mean of the two medians: the machine drifts);
#   - the engine's time inside the chain: csinfer's sub-stage csinfer.forward (the plan's forward
#     pass) or csinfer.explain (the explainer's run);
#   - the engine alone in the same frames: a third run with csinfer engine-rerun=true, where csinfer
#     runs each frame's engine work a second time right after the first and times it
#     (csinfer.rerun): back-to-back runs like `camstream bench`, interleaved frame by frame with
#     the chain, so a machine whose speed drifts between measurements affects both alike;
#   - the elements' overhead beyond the engine: (Σ camstream stages − engine time) / engine time,
#     from the medians (p50) of the stages and of the engine runs, against the engine alone and
#     against the engine in the chain (the latter leaves out how the rest of the pipeline slows
#     the forward pass itself: caches, the other threads).
#     Two figures: "analysis" = csnormalize + csinfer + cslocalize + cspublish (the work
#     that exists to run the model), and "all" adding csoverlay (drawing at 640×480, which is
#     video work the engine does not do).
#   - the machine's load: the CPU share used by other processes in the second before each
#     measurement, and the load average.
#
#   bench/pipeline.sh [--build DIR] [--frames N] [--model DIR|FILE] [--explain "none gradcam"]
#                     [--threads N] [--runs R] [--wait-idle S] [--markdown]
#
# Results: one JSON line per setting appended to BUILD/pipeline-bench.jsonl; --markdown also prints
# the table rows docs/PERFORMANCE.md uses.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
frames=600
model_arg=$src/tests/models/gap_cnn_op13
explains="none gradcam"
threads=0
runs=3
wait_idle=0
markdown=0
die() { echo "pipeline.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$(cd "${2:?}" && pwd); shift ;;
    --frames) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--frames needs a number"; frames=$2; shift ;;
    --model) model_arg=${2:?}; shift ;;
    --explain) explains=${2:?}; shift ;;
    --threads) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--threads needs a number"; threads=$2; shift ;;
    --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--runs needs a number"; runs=$2; shift ;;
    --wait-idle) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--wait-idle needs seconds"; wait_idle=$2; shift ;;
    --markdown) markdown=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done
# A directory holding model.onnx, an ONNX file, or a model description (docs/FORMATS.md): the
# elements and the engine benchmarks all take either file.
if [ -d "$model_arg" ]; then model=$(cd "$model_arg" && pwd)/model.onnx; else model=$model_arg; fi
[ -f "$model" ] || die "no model at $model"
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
if [ ! -f "$build/build.ninja" ]; then meson setup "$build" "$src" >/dev/null; fi
ninja -C "$build" >/dev/null
camstream=$build/cli/camstream
[ -f "$build/elements/libgstcamstream.so" ] || die "the plugin was not built in $build"

# A directory of its own per run of this script (two at once must not share sockets and files).
work=$(mktemp -d "$build/bench-pipeline.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/py"
out=$build/pipeline-bench.jsonl
export GST_PLUGIN_PATH=$build/elements
export GST_REGISTRY_1_0=$work/registry.bin
protoc --python_out="$work/py" -I"$src/proto" "$src/proto/camstream.proto"

# cpu_busy: share of the CPUs used by anything during one second (we run nothing then).
cpu_busy() {
    local a b
    read -r -a a < <(head -n 1 /proc/stat)
    sleep 1
    read -r -a b < <(head -n 1 /proc/stat)
    local i total=0 idle
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    idle=$((b[4] - a[4] + b[5] - a[5]))
    awk -v t=$total -v i=$idle 'BEGIN { printf "%.2f", (t > 0 ? 1 - i / t : 0) }'
}
wait_idle() {
    local busy waited=0
    busy=$(cpu_busy)
    while awk -v b="$busy" 'BEGIN { exit !(b > 0.1) }' && [ $waited -lt "$wait_idle" ]; do
        sleep 4
        waited=$((waited + 5))
        busy=$(cpu_busy)
    done
    echo "$busy"
}

have() { gst-inspect-1.0 "$1" >/dev/null 2>&1; }
for e in csinfer cspublish; do have $e || die "$e is not in the plugin"; done
source_caps="video/x-raw,width=640,height=480,framerate=30/1"
src_chain=(videotestsrc is-live=false pattern=ball num-buffers="$frames" ! "$source_caps" ! videoconvert)

# chain EXPLAIN ENDPOINT [RERUN]: the full chain with the elements the plugin has (RERUN=1:
# csinfer engine-rerun=true).
chain() {
    local explain=$1 endpoint=$2 rerun=${3:-0}
    local c=("${src_chain[@]}")
    if have csnormalize; then
        c+=(! csnormalize model="$model")
        # The same thread count as the engine's (older plugins have no such property).
        gst-inspect-1.0 csnormalize 2>/dev/null | grep -q '^  threads ' && c+=(threads="$threads")
    fi
    c+=(! csinfer model="$model" threads="$threads")
    [ "$explain" != none ] && c+=(explain="$explain")
    [ "$rerun" = 1 ] && c+=(engine-rerun=true)
    have cslocalize && [ "$explain" != none ] && c+=(! cslocalize mode=heatmap)
    have csoverlay && c+=(! csoverlay)
    c+=(! cspublish endpoint="$endpoint" stream-id=bench hwm=100000 ! fakesink sync=false)
    echo "${c[@]}"
}

# Engine alone, in ms: the median forward pass, or the median explainer run (forward pass +
# explanation: csinfer runs only that on an explained frame).
engine_ms() {
    local explain=$1
    if [ "$explain" = none ]; then
        "$camstream" bench "$model" --threads "$threads" --runs 300 --warmup 20 --json |
            /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["median_ms"])'
    else
        "$camstream" bench-explain "$model" --methods "$explain" --threads "$threads" \
            --runs 300 --warmup 20 --json |
            /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["total_ms"])'
    fi
}

# observed SUMMARY PIPELINE...: runs the pipeline with a subscriber that writes SUMMARY; obs_t0
# and obs_t1: when gst-launch started and ended (ns).
observed() {
    local summary=$1 ready=$1.ready
    shift
    /usr/bin/python3 "$src/tests/e2e/subscriber.py" --endpoint "$endpoint" --stream bench \
        --pb-dir "$work/py" --min-messages 1 --summary "$summary" --ready-file "$ready" \
        --timeout 600 >/dev/null &
    local sub=$!
    for _ in $(seq 100); do [ -e "$ready" ] && break; sleep 0.05; done
    sleep 0.2
    obs_t0=$(date +%s%N)
    gst-launch-1.0 -q "$@" >"$summary.log" 2>&1 ||
        { cat "$summary.log" >&2; kill $sub; die "pipeline failed"; }
    obs_t1=$(date +%s%N)
    sleep 0.5
    kill -TERM $sub
    wait $sub || true
}

echo "pipeline bench: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), model $model, $frames frames 640x480"
for explain in $explains; do
    for run in $(seq "$runs"); do
        busy=$(wait_idle)
        engine_before=$(engine_ms "$explain")
        endpoint=ipc://$work/pub.sock
        summary=$work/summary-$explain-$run.json
        read -r -a pipeline <<<"$(chain "$explain" "$endpoint")"
        observed "$summary" "${pipeline[@]}"
        t0=$obs_t0 t1=$obs_t1
        load=$(cut -d' ' -f1 /proc/loadavg)

        # Per-element latency from the tracer (a separate, shorter run: tracing costs time).
        GST_TRACERS="latency(flags=element)" GST_DEBUG="GST_TRACER:7" GST_DEBUG_NO_COLOR=1 \
            gst-launch-1.0 -q "${pipeline[@]/num-buffers=$frames/num-buffers=$((frames / 4))}" \
            >/dev/null 2>"$work/trace-$explain-$run.log" || true

        # The engine alone in the same frames (csinfer engine-rerun=true).
        paired=$work/paired-$explain-$run.json
        read -r -a pipeline <<<"$(chain "$explain" "$endpoint" 1)"
        observed "$paired" "${pipeline[@]}"

        engine_after=$(engine_ms "$explain")
        /usr/bin/python3 - "$summary" "$work/trace-$explain-$run.log" "$explain" "$frames" \
            "$engine_before" "$engine_after" "$busy" "$load" "$t0" "$t1" "$threads" "$model" \
            "$paired" >>"$out" <<'EOF'
import json, re, sys
(summary, trace, explain, frames, before, after, busy, load, t0, t1, threads, model,
 paired) = sys.argv[1:]
s = json.load(open(summary))
ps = json.load(open(paired))["stage_ns"]
el = {}
for line in open(trace, errors="replace"):
    m = re.search(r"element-latency, .*element=\(string\)([A-Za-z_]+?)\d*, .*time=\(guint64\)(\d+)", line)
    if m:
        el.setdefault(m.group(1), []).append(int(m.group(2)))
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, -(-p * len(v) // 100) - 1))]
tracer = {k: {"n": len(v), "mean": sum(v) / len(v), "p50": pct(v, 50), "p90": pct(v, 90),
              "p99": pct(v, 99)} for k, v in el.items()}
# Each camstream element's time per frame: its CsTimingMeta stage when it records one, else the
# tracer's element latency (cspublish cannot put its own time in the message it sends).
st = s["stage_ns"]
elements = {}
for k in ("csnormalize", "csinfer", "cslocalize", "csoverlay", "cspublish"):
    if k in st:
        elements[k] = dict(st[k], source="CsTimingMeta")
    elif k in tracer:
        elements[k] = dict(tracer[k], source="tracer")
# Medians: on a shared machine the means follow the preemptions (p99 ≫ p50), the medians the code.
med = lambda k: elements[k]["p50"] if k in elements else 0.0
engine = (float(before) + float(after)) / 2 * 1e6
sub = "csinfer.forward" if "csinfer.forward" in st else "csinfer.explain"
chain = st[sub]["p50"] if sub in st else float("nan")
analysis = med("csnormalize") + med("csinfer") + med("cslocalize") + med("cspublish")
everything = analysis + med("csoverlay")
# The paired run: its own stages against its csinfer.rerun (cspublish: the tracer's, as above).
pm = lambda k: ps[k]["p50"] if k in ps else 0.0
rerun = pm("csinfer.rerun") or float("nan")
paired_analysis = pm("csnormalize") + pm("csinfer") + pm("cslocalize") + med("cspublish")
paired_chain = ps[sub]["p50"] if sub in ps else float("nan")
r = {
    "explain": explain, "frames": int(frames), "messages": s["messages"], "threads": int(threads),
    "model": model, "fps": s["publish_fps"],
    "wall_fps": int(frames) / ((int(t1) - int(t0)) / 1e9),
    "elements_ns": elements, "stage_ns": st, "tracer_ns": tracer,
    "engine_before_ms": float(before), "engine_after_ms": float(after),
    "engine_ms": engine / 1e6, "analysis_ms": analysis / 1e6, "all_ms": everything / 1e6,
    "overhead_analysis_pct": 100.0 * (analysis - engine) / engine,
    "overhead_all_pct": 100.0 * (everything - engine) / engine,
    "engine_chain_stage": sub, "engine_chain_ms": chain / 1e6,
    "overhead_chain_pct": 100.0 * (analysis - chain) / chain,
    "rerun_ms": rerun / 1e6, "paired_analysis_ms": paired_analysis / 1e6,
    "paired_chain_ms": paired_chain / 1e6,
    "overhead_paired_pct": 100.0 * (paired_analysis - rerun) / rerun,
    "latency_ns": s["latency_ns"], "busy": float(busy), "load": float(load),
    "errors": s["errors"][:5],
}
print(json.dumps(r))
EOF
        tail -n 1 "$out" | /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
el = r["elements_ns"]
stages = ", ".join("%s %.3f" % (k, v["p50"] / 1e6) for k, v in el.items())
for k in ("csinfer.forward", "csinfer.explain"):
    if k in r["stage_ns"]:
        stages += " (%s %.3f)" % (k, r["stage_ns"][k]["p50"] / 1e6)
print("  explain=%-8s %6.1f fps (wall %5.1f)  p50 ms: %s | engine alone %.3f ms (%.3f, %.3f), "
      "analysis %.3f ms (%+.0f%%), all %.3f ms (%+.0f%%); beyond the engine in the chain %+.0f%%;"
      " paired: engine rerun %.3f ms (in the chain %.3f), analysis %.3f ms (%+.0f%%)"
      "  busy %.2f load %.2f" % (
      r["explain"], r["fps"], r["wall_fps"], stages, r["engine_ms"], r["engine_before_ms"],
      r["engine_after_ms"], r["analysis_ms"], r["overhead_analysis_pct"], r["all_ms"],
      r["overhead_all_pct"], r["overhead_chain_pct"], r["rerun_ms"], r["paired_chain_ms"],
      r["paired_analysis_ms"], r["overhead_paired_pct"], r["busy"], r["load"]))'
    done
done

if [ $markdown -eq 1 ]; then
    tail -n $(($(wc -w <<<"$explains") * runs)) "$out" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
import os
by = {}
for r in rows:
    name = os.path.basename(r["model"])
    name = os.path.basename(os.path.dirname(r["model"])) if name == "model.onnx" else os.path.splitext(name)[0]
    by.setdefault((name, r["threads"], r["explain"]), []).append(r)
print("| model | threads | explain | runs | fps | csnormalize | csinfer (engine) | cslocalize | csoverlay | cspublish | engine alone | overhead: analysis | overhead: all | beyond the engine in the chain | paired: engine rerun (in the chain) | overhead: paired | analysis overhead of each run | busy / load |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
for (m, t, e), rs in by.items():
    r = sorted(rs, key=lambda r: r["analysis_ms"])[len(rs) // 2]  # the median run by analysis time
    el, st = r["elements_ns"], r["stage_ns"]
    f = lambda k: ("%.3f / %.3f%s" % (el[k]["p50"] / 1e6, el[k]["p99"] / 1e6,
                   "" if el[k]["source"] == "CsTimingMeta" else "ᵗ")) if k in el else "—"
    inf = f("csinfer") + " (%.3f)" % r["engine_chain_ms"]
    each = ", ".join("%+.0f" % x["overhead_analysis_pct"] for x in rs)
    # Overheads over the runs pooled: medians of the sums, of every engine-alone measurement
    # (before and after each run) and of the engine in the chain (steadier than one run alone).
    med = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1]) / 2
    eng = med([x["engine_before_ms"] for x in rs] + [x["engine_after_ms"] for x in rs])
    an, al = med([x["analysis_ms"] for x in rs]), med([x["all_ms"] for x in rs])
    ch = med([x["engine_chain_ms"] for x in rs])
    rr, pch = med([x["rerun_ms"] for x in rs]), med([x["paired_chain_ms"] for x in rs])
    pan = med([x["paired_analysis_ms"] for x in rs])
    print("| %s | %s | %s | %d | %.1f | %s | %s | %s | %s | %s | %.3f | %+.0f%% | %+.0f%% | %+.0f%% | %.3f (%.3f) | %+.0f%% | %s | %.2f / %.2f |" % (
        m, t or "all", e, len(rs), r["fps"], f("csnormalize"), inf, f("cslocalize"), f("csoverlay"),
        f("cspublish"), eng, 100 * (an - eng) / eng, 100 * (al - eng) / eng,
        100 * (an - ch) / ch, rr, pch, 100 * (pan - rr) / rr, each, r["busy"], r["load"]))
print()
print("Stage columns: p50 / p99 in ms per frame, from CsTimingMeta; ᵗ: from the latency tracer "
      "(the element records no timing). csinfer (engine): the p50 of the engine inside csinfer "
      "(csinfer.forward, or csinfer.explain on explained frames) in parentheses. Stages, fps and "
      "load: the median run by analysis time. Engine alone and the overheads: the runs pooled "
      "(medians of the sums over the runs, of all the engine-alone measurements, and of the "
      "engine in the chain); the analysis overhead of each run against its own engine-alone "
      "measurements is in its own column. Paired: a third run per run with csinfer "
      "engine-rerun=true: the p50 of csinfer.rerun (the engine alone, back to back, in the same "
      "frames) with the p50 of the engine in that run in parentheses, and the analysis stages of that run "
      "against the rerun; runs pooled as above.")'
fi
