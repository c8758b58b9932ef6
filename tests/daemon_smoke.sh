#!/usr/bin/env bash
# camstreamd smoke test: one small test-pattern stream through csnormalize ! csinfer, published
# on a free port and recorded. Checks the log (starting, running), that pyzmq receives frame and
# status messages (decoded with protobuf from proto/camstream.proto), that a second daemon on the
# same publish port fails with one line naming the endpoint and exit 1, and that SIGTERM stops
# the daemon with exit 0 and a finalized recording.
#
#     daemon_smoke.sh CAMSTREAMD SOURCE_DIR
set -u
d=${1:?camstreamd}
src=${2:?source dir}
py=/usr/bin/python3
if ! "$py" -c 'import zmq, google.protobuf' 2>/dev/null || ! command -v protoc >/dev/null; then
    echo "daemon_smoke: needs /usr/bin/python3 with zmq and protobuf, and protoc: skipped"
    exit 77
fi
. "$(dirname "$0")/daemon_lib.sh"
daemon_test_init daemon-smoke

ports=$(free_ports 3)
read -r pub ctl ctl2 <<<"$ports"
cat >"$tmp/smoke.conf" <<EOF
[daemon]
publish = tcp://127.0.0.1:$pub
control = tcp://127.0.0.1:$ctl
status_interval = 300
shutdown_timeout = 10000

[model gap]
description = $src/tests/models/gap_cnn_op13/model.onnx

[stream smoke]
source = testsrc://ball
width = 64
height = 48
framerate = 10
model = gap
chain = csnormalize ! csinfer top-k=2
sink = record=rec/out.mkv
EOF

"$d" "$tmp/smoke.conf" 2>"$tmp/log" &
pid=$!
for _ in $(seq 1 600); do
    grep -q "stream smoke: running" "$tmp/log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
grep -qE "^camstreamd\[$pid\] [0-9-]{10} [0-9:.]{12} I camstreamd [0-9.]+ starting: config $tmp/smoke.conf, 1 stream, publish tcp://127.0.0.1:$pub" "$tmp/log" ||
    bad "no startup line"
grep -q "I stream smoke: starting$" "$tmp/log" || bad "no 'starting' line"
grep -q "I stream smoke: running (64x48 @ 10/1)$" "$tmp/log" || bad "no 'running (64x48 @ 10/1)' line"

# Subscribe: at least 3 frames and a RUNNING status of stream smoke.
protoc --python_out="$tmp" -I"$src/proto" "$src/proto/camstream.proto"
PYTHONPATH=$tmp "$py" - "tcp://127.0.0.1:$pub" >"$tmp/sub" 2>&1 <<'EOF' || bad "subscriber: $(cat "$tmp/sub")"
import sys, time, zmq
import camstream_pb2 as pb
s = zmq.Context().socket(zmq.SUB)
s.setsockopt(zmq.SUBSCRIBE, b"")
s.connect(sys.argv[1])
frames = statuses = 0
end = time.time() + 30
while time.time() < end and (frames < 3 or statuses < 1):
    if not s.poll(1000):
        continue
    topic, payload = s.recv_multipart()
    if topic == b"frame.smoke":
        m = pb.FrameResult.FromString(payload)
        assert m.stream_id == "smoke" and m.width == 64 and m.height == 48, m
        assert len(m.top_k) == 2, m
        frames += 1
    elif topic == b"status.smoke":
        m = pb.StreamStatus.FromString(payload)
        assert m.stream_id == "smoke", m
        if m.state == pb.STREAM_STATE_RUNNING:
            assert m.frames_out > 0 and m.frames_in >= m.frames_out, m
            statuses += 1
    else:
        raise SystemExit("unexpected topic %r" % topic)
print("frames", frames, "statuses", statuses)
sys.exit(0 if frames >= 3 and statuses >= 1 else 1)
EOF

# A second daemon on the same publish port: one line naming the endpoint, exit 1.
sed "s/$ctl/$ctl2/; s#rec/out.mkv#rec/other.mkv#" "$tmp/smoke.conf" >"$tmp/clash.conf"
timeout 60 "$d" "$tmp/clash.conf" 2>"$tmp/clash.log"
rc=$?
[ "$rc" -eq 1 ] || bad "publish port in use: exit $rc, expected 1"
[ "$(grep -c "cannot bind the publish endpoint tcp://127.0.0.1:$pub" "$tmp/clash.log")" -ge 1 ] ||
    bad "publish port in use: no line naming the endpoint: $(cat "$tmp/clash.log")"

kill -TERM "$pid"
for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    bad "still running 30 s after SIGTERM"
else
    wait "$pid"
    rc=$?
    [ "$rc" -eq 0 ] || bad "exit $rc after SIGTERM, expected 0"
fi
pid=
grep -q "I stream smoke: stopped$" "$tmp/log" || bad "no 'stopped' line"
grep -q "I exiting (0)$" "$tmp/log" || bad "no 'exiting (0)' line"
grep -q " E " "$tmp/log" && bad "errors logged: $(grep ' E ' "$tmp/log")"

# The recording was finalized: it plays to its end.
rec=$tmp/rec/out.mkv
[ -s "$rec" ] || bad "no recording $rec"
if [ -s "$rec" ] && command -v gst-launch-1.0 >/dev/null; then
    gst-launch-1.0 -q filesrc location="$rec" ! matroskademux ! vp8dec ! fakesink >/dev/null 2>&1 ||
        bad "the recording does not decode"
fi

if [ "$failures" -ne 0 ]; then
    echo "--- daemon log" >&2
    cat "$tmp/log" >&2
    echo "$failures failure(s)" >&2
    exit 1
fi
cat "$tmp/sub"
echo "daemon_smoke: all passed"
