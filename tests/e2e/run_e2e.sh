#!/usr/bin/env bash
# End-to-end test of the GStreamer plugin: a generated video through the whole chain
#
#   filesrc ! decodebin ! videoconvert ! csnormalize ! csinfer ! cslocalize ! csoverlay !
#   cspublish ! fakesink
#
# with gst-launch-1.0, while tests/e2e/subscriber.py receives and checks every published message.
#
#   run_e2e.sh SOURCE_DIR BUILD_DIR [ELEMENTS]
#
# ELEMENTS: comma-separated camstream elements the build compiled (elements/meson.build); each is
# required to be in the registry and is put in the chain (cspublish is always required). Without
# it, the chain uses whichever camstream elements the plugin registers.
# Environment: CS_E2E_FRAMES (64), CS_E2E_EXPLAIN (gradcam), CS_E2E_MODEL (tests/models/gap_cnn_op13).
set -euo pipefail

src=${1:?source dir}
build=${2:?build dir}
built=${3:-}
frames=${CS_E2E_FRAMES:-64}
explain=${CS_E2E_EXPLAIN:-gradcam}
model_dir=${CS_E2E_MODEL:-$src/tests/models/gap_cnn_op13}
model=$model_dir/model.onnx
stream=e2e
max_size=16

work=$build/tests/e2e/work-$explain
rm -rf "$work"
mkdir -p "$work/py"

# Isolated registry: our plugin plus the system's -base and -good (videotestsrc, jpegenc, avimux,
# decodebin, videoconvert, fakesink).
export GST_PLUGIN_PATH=$build/elements
# A sanitizer build: gst-launch-1.0 itself is not instrumented, so the ASan runtime must be
# loaded first for our plugin to load at all. Leaks are checked by the GstHarness tests, not
# here (GStreamer's own exit-time allocations would drown them).
if ldd "$build/elements/libgstcamstream.so" 2>/dev/null | grep -q libasan; then
    export LD_PRELOAD="$(gcc -print-file-name=libasan.so)${LD_PRELOAD:+:$LD_PRELOAD}"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" # the last setting wins
fi
export GST_REGISTRY=$work/registry.bin
unset GST_PLUGIN_SYSTEM_PATH_1_0 GST_PLUGIN_SYSTEM_PATH || true

# Protobuf code for the subscriber, generated from the schema at test time.
protoc --python_out="$work/py" -I"$src/proto" "$src/proto/camstream.proto"

# The video: a moving ball, 320×240, JPEG in AVI (plugins from -base and -good only).
video=$work/clip.avi
gst-launch-1.0 -q videotestsrc num-buffers="$frames" pattern=ball \
    ! video/x-raw,width=320,height=240,framerate=30/1 ! jpegenc ! avimux \
    ! filesink location="$video"
[ -s "$video" ] || { echo "e2e: could not generate $video" >&2; exit 1; }

have() { gst-inspect-1.0 "$1" >/dev/null 2>&1; }
if [ -n "$built" ]; then
    IFS=, read -r -a want <<<"$built"
    for e in "${want[@]}"; do
        have "$e" || { echo "e2e: $e was built but is not in the registry" >&2; exit 1; }
    done
else
    want=()
    for e in csnormalize csinfer cslocalize csoverlay cspublish; do have "$e" && want+=("$e"); done
fi
in_chain() { local e; for e in "${want[@]}"; do [ "$e" = "$1" ] && return 0; done; return 1; }
in_chain cspublish || { echo "e2e: cspublish is not available" >&2; exit 1; }

# The chain, in the issue's order, with the elements that exist.
chain=(filesrc location="$video" ! decodebin ! videoconvert)
stages=()
sub_args=()
heavy=
if in_chain csnormalize; then
    chain+=(! csnormalize model="$model")
    stages+=(csnormalize)
fi
if in_chain csinfer; then
    chain+=(! csinfer model="$model" explain="$explain")
    stages+=(csinfer)
    sub_args+=(--expect-classes --expect-heatmap "$explain" --min-heatmaps 1)
    # Fast methods explain every frame; heavy ones (RISE, Score-CAM, Augmented Grad-CAM) run
    # beside the video and their maps ride on later frames.
    # The pipeline then runs in real time (sync=true) so that the worker has time to finish.
    case $explain in
    rise | scorecam | augmented-gradcam | augmented_gradcam) heavy=1 ;;
    *) sub_args+=(--heatmap-every) ;;
    esac
fi
if in_chain cslocalize; then
    chain+=(! cslocalize mode=heatmap)
    stages+=(cslocalize)
    # Boxes from the heatmap: on every frame when every frame carries one.
    in_chain csinfer && [ -z "$heavy" ] && sub_args+=(--expect-detections)
fi
if in_chain csoverlay; then
    # (csoverlay draws; it records no CsTimingMeta stage, so none is required of it here.)
    chain+=(! csoverlay)
fi
endpoint=ipc://$work/pub.sock
chain+=(! cspublish endpoint="$endpoint" stream-id=$stream hwm=100000 heatmap-max-size=$max_size
        ! fakesink sync=$([ -n "$heavy" ] && echo true || echo false))
echo "e2e: chain: ${chain[*]}"

# Subscriber first (it connects before the publisher binds; ZeroMQ reconnects), then the pipeline.
ready=$work/subscriber.ready
/usr/bin/python3 "$src/tests/e2e/subscriber.py" --endpoint "$endpoint" --stream $stream \
    --pb-dir "$work/py" --min-messages $((frames * 3 / 4)) --width 320 --height 240 \
    --heatmap-max-size $max_size --expect-stages "$(IFS=,; echo "${stages[*]}")" \
    --summary "$work/summary.json" --ready-file "$ready" --timeout 300 "${sub_args[@]}" &
sub_pid=$!
for _ in $(seq 100); do [ -e "$ready" ] && break; sleep 0.05; done
sleep 0.2

status=0
gst-launch-1.0 -q "${chain[@]}" >"$work/gst-launch.log" 2>&1 || status=$?
cat "$work/gst-launch.log"
sleep 0.5
kill -TERM $sub_pid 2>/dev/null || true
sub_status=0
wait $sub_pid || sub_status=$?
if [ $status -ne 0 ]; then
    echo "e2e: gst-launch-1.0 failed with status $status" >&2
    exit 1
fi
[ $sub_status -eq 0 ] || { echo "e2e: subscriber checks failed" >&2; exit 1; }
echo "e2e: ok (${want[*]})"
