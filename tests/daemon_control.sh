#!/usr/bin/env bash
# camstreamd's control endpoint through the real daemon: camstreamctl list / status / add /
# remove / reload against a test-pattern stream on free ports, `camstream sub` receiving the
# stream added by control, bad requests (raw bytes that are not protobuf, an invalid add, an
# unknown stream) answered with an error while the endpoint keeps working, and SIGTERM.
#
#     daemon_control.sh CAMSTREAMD CAMSTREAMCTL CAMSTREAM SOURCE_DIR
set -u
d=${1:?camstreamd}
ctl=${2:?camstreamctl}
cs=${3:?camstream}
src=${4:?source dir}
py=/usr/bin/python3
if ! "$py" -c 'import zmq, google.protobuf' 2>/dev/null || ! command -v protoc >/dev/null; then
    echo "daemon_control: needs /usr/bin/python3 with zmq and protobuf, and protoc: skipped"
    exit 77
fi
. "$(dirname "$0")/daemon_lib.sh"
daemon_test_init daemon-control

read -r pub ctlport <<<"$(free_ports 2)"
ep=tcp://127.0.0.1:$ctlport
stream_group() { # name
    printf '[stream %s]\nsource = testsrc://ball\nwidth = 64\nheight = 48\nframerate = 10\nmodel = gap\nchain = csnormalize ! csinfer top-k=2\nsink = none\n' "$1"
}
{
    printf '[daemon]\npublish = tcp://127.0.0.1:%s\ncontrol = %s\nstatus_interval = 300\n\n' "$pub" "$ep"
    printf '[model gap]\ndescription = %s/tests/models/gap_cnn_op13/model.onnx\n\n' "$src"
    stream_group smoke
} >"$tmp/d.conf"

"$d" "$tmp/d.conf" 2>"$tmp/log" &
pid=$!
for _ in $(seq 1 600); do
    grep -q "stream smoke: running" "$tmp/log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done

c() { "$ctl" -e "$ep" -t 20 "$@"; }

out=$(c list) || bad "list failed"
echo "$out" | grep -qE '^smoke +RUNNING +file +gap +testsrc://ball$' || bad "list: $out"
out=$(c status smoke) || bad "status smoke failed"
echo "$out" | grep -qE '^smoke +RUNNING ' || bad "status smoke: $out"
c --json status | "$py" -c '
import json, sys
r = json.load(sys.stdin)
assert r["ok"] and [s["stream_id"] for s in r["statuses"]] == ["smoke"], r
assert int(r["statuses"][0]["frames_in"]) > 0, r' || bad "status --json"
err=$(c status nope 2>&1 >/dev/null)
[ $? -eq 1 ] && [ "$err" = "camstreamctl: status: no stream 'nope'" ] || bad "status nope: $err"

# add: a stream started by control, received by camstream sub.
stream_group extra >"$tmp/extra.conf"
out=$(c add "$tmp/extra.conf") || bad "add failed: $out"
echo "$out" | grep -qE '^extra +[A-Z]+ +control +gap ' || bad "add output: $out"
"$cs" sub "tcp://127.0.0.1:$pub" --stream extra --topic frame --count 2 --timeout 30 \
    >"$tmp/sub" 2>&1 || bad "sub on the added stream: $(cat "$tmp/sub")"
"$py" -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 2 and all(l["topic"] == "frame.extra" and l["stream_id"] == "extra"
                               and l["top_k"] for l in lines), lines' "$tmp/sub" ||
    bad "sub lines: $(head -c 300 "$tmp/sub")"
err=$(c add - <"$tmp/extra.conf" 2>&1 >/dev/null)
[ $? -eq 1 ] && echo "$err" | grep -q "^camstreamctl: add: request:1: \[stream extra\]" ||
    bad "add twice: $err"
err=$(printf '[stream bad]\nsource = testsrc://\nsink = tv\n' | c add - 2>&1 >/dev/null)
[ $? -eq 1 ] && echo "$err" | grep -q "^camstreamctl: add: request:3: " || bad "add invalid: $err"

# Raw bytes that are not a ControlRequest: an error reply, and the endpoint still answers.
"$py" - "$ep" <<'EOF' || bad "raw bad request"
import sys, zmq
s = zmq.Context().socket(zmq.REQ)
s.setsockopt(zmq.RCVTIMEO, 20000)
s.setsockopt(zmq.LINGER, 0)
s.connect(sys.argv[1])
s.send(b"\xff\xff\xff\xff")
reply = s.recv()
assert b"not a ControlRequest" in reply, reply
EOF
out=$(c list) || bad "list after a bad request"
[ "$(echo "$out" | grep -cE '^(smoke|extra) ')" -eq 2 ] || bad "list shows smoke and extra: $out"

out=$(c remove extra) && [ "$out" = "removed extra" ] || bad "remove: $out"
err=$(c remove extra 2>&1 >/dev/null)
[ $? -eq 1 ] && [ "$err" = "camstreamctl: remove: no stream 'extra'" ] || bad "remove twice: $err"
c list | grep -q '^extra ' && bad "extra still listed"

# reload: a stream added to the file starts.
stream_group third >>"$tmp/d.conf"
out=$(c reload) || bad "reload failed: $out"
echo "$out" | grep -q "added third" || bad "reload summary: $out"
c list | grep -qE '^third +[A-Z]+ +file ' || bad "third not listed after reload"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || bad "SIGTERM: exit $rc"
if [ $failures -ne 0 ]; then
    echo "--- daemon log" >&2
    tail -30 "$tmp/log" >&2
    exit 1
fi
echo "daemon_control: all checks passed"
