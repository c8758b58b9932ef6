#!/usr/bin/env bash
# camstreamd loop = true, realtime = true: a short generated clip (gst-launch-1.0: MJPEG in
# Matroska, 2 s) played in a loop at its own rate, recorded. Checks that each pass is a segment
# seek (the log says "playing it again" at least twice and never "restart"), that the passes
# are paced (a whole pass, between two "playing it again" lines, takes at least 1.5 s: a slow
# machine only makes it longer; as fast as the chain runs it would take a few ms), that SIGTERM
# stops with exit 0, and that gst-discoverer-1.0 (not ours) finds the recording longer than two
# passes: one continuous file.
#
#     daemon_loop.sh CAMSTREAMD SOURCE_DIR
set -u
d=${1:?camstreamd}
src=${2:?source dir}
for t in gst-launch-1.0 gst-discoverer-1.0; do
    command -v "$t" >/dev/null || { echo "daemon_loop: needs $t: skipped"; exit 77; }
done
. "$(dirname "$0")/daemon_lib.sh"
daemon_test_init daemon-loop

gst-launch-1.0 -q videotestsrc num-buffers=20 pattern=ball ! \
    video/x-raw,width=64,height=48,framerate=10/1 ! jpegenc ! matroskamux ! \
    filesink location="$tmp/clip.mkv" >"$tmp/gen" 2>&1 || { cat "$tmp/gen"; exit 1; }
ports=$(free_ports 2)
read -r pub ctl <<<"$ports"
cat >"$tmp/loop.conf" <<EOF
[daemon]
publish = tcp://127.0.0.1:$pub
control = tcp://127.0.0.1:$ctl
log_level = debug
shutdown_timeout = 10000

[model gap]
description = $src/tests/models/gap_cnn_op13/model.onnx

[stream clip]
source = file:clip.mkv
loop = true
realtime = true
model = gap
chain = csnormalize ! csinfer top-k=2
sink = record=rec/out.mkv
EOF

"$d" "$tmp/loop.conf" 2>"$tmp/log" &
pid=$!
# the clip lasts 2 s: two passes end within ~5 s (60 s for slow sanitizer builds)
for _ in $(seq 1 600); do
    [ "$(grep -c "stream clip: end of file, playing it again" "$tmp/log")" -ge 2 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
n=$(grep -c "stream clip: end of file, playing it again" "$tmp/log")
[ "$n" -ge 2 ] || bad "fewer than 2 passes ended ($n)"
# the log's times (HH:MM:SS.mmm) of the first two passes' ends, in ms
ms=$(grep "stream clip: end of file, playing it again" "$tmp/log" | head -2 |
    awk '{ split($3, t, ":"); v[NR] = (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }
         END { d = v[2] - v[1]; if (d < 0) d += 86400000; if (NR == 2) printf "%d", d; else print 0 }')
[ "$ms" -ge 1500 ] || bad "a pass of the 2 s clip took $ms ms: not paced at the clip's rate"
echo "one pass in $ms ms"
grep -qi "restart" "$tmp/log" && bad "the pipeline restarted: $(grep -i restart "$tmp/log" | head -1)"
grep -q "stream clip: ended" "$tmp/log" && bad "the stream ended despite loop = true"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || bad "exit $rc after SIGTERM"
grep -q "stream clip: stopped" "$tmp/log" || bad "no 'stopped' line"
grep -q "no end of stream after" "$tmp/log" && bad "the end of stream did not reach the sink"

# gst-discoverer-1.0: Duration: H:MM:SS.nnnnnnnnn; a restart per pass would keep 2 s at most
dur=$(gst-discoverer-1.0 "$tmp/rec/out.mkv" 2>&1 |
    sed -n 's/^ *Duration: \([0-9]*\):\([0-9]*\):\([0-9.]*\)$/\1 \2 \3/p' | head -1)
secs=$(echo "$dur" | awk 'NF == 3 { printf "%.3f", $1 * 3600 + $2 * 60 + $3 }')
echo "recording: ${secs:-?} s after $n passes"
awk -v s="${secs:-0}" 'BEGIN { exit !(s > 3.0) }' || bad "recording lasts ${secs:-?} s, not more than 3 s"

if [ "$failures" -gt 0 ]; then
    echo "--- log" >&2
    cat "$tmp/log" >&2
    exit 1
fi
echo "daemon_loop: ok"
