#!/usr/bin/env bash
# camstreamd with CURVE ([daemon] curve_key + curve_authorized) on a test-pattern stream, free
# ports: `camstream sub` and a pyzmq CURVE client (libzmq through another binding) with an
# authorized client key receive frames; a plain subscriber, and a CURVE client whose key is not
# in the list, receive nothing within a bounded wait; camstreamctl with the keys lists the
# stream, without them (or with a refused key) it times out with its message; --check shows the
# keys; a reload with another server key says that it needs a restart and the old keys keep
# working; SIGTERM exits 0 and logs the refused clients.
#
#     daemon_curve.sh CAMSTREAMD CAMSTREAMCTL CAMSTREAM SOURCE_DIR
set -u
d=${1:?camstreamd}
ctl=${2:?camstreamctl}
cs=${3:?camstream}
src=${4:?source dir}
py=/usr/bin/python3
if ! "$py" -c 'import zmq' 2>/dev/null || ! "$py" -c 'import zmq; assert zmq.has("curve")'; then
    echo "daemon_curve: needs /usr/bin/python3 with zmq (CURVE support): skipped"
    exit 77
fi
. "$(dirname "$0")/daemon_lib.sh"
daemon_test_init daemon-curve

for k in server server2 client intruder; do
    "$cs" keygen "$tmp/$k" >/dev/null || bad "keygen $k"
done
pubkey() { sed -n 's/^public-key *= *//p' "$tmp/$1.pub"; }
{
    echo "# the clients camstreamd accepts"
    pubkey client
} >"$tmp/authorized.txt"

read -r pub ctlport <<<"$(free_ports 2)"
pep=tcp://127.0.0.1:$pub
ep=tcp://127.0.0.1:$ctlport
conf() { # server key name
    printf '[daemon]\npublish = %s\ncontrol = %s\nstatus_interval = 300\n' "$pep" "$ep"
    printf 'curve_key = %s.key\ncurve_authorized = authorized.txt\n\n' "$1"
    printf '[model gap]\ndescription = %s/tests/models/gap_cnn_op13/model.onnx\n\n' "$src"
    printf '[stream smoke]\nsource = testsrc://ball\nwidth = 64\nheight = 48\nframerate = 10\n'
    printf 'model = gap\nchain = csnormalize ! csinfer top-k=2\nsink = none\n'
}
conf server >"$tmp/d.conf" # keys relative to the configuration

out=$("$d" --check "$tmp/d.conf" 2>&1) || bad "--check: $out"
echo "$out" | grep -qF "curve: server key $tmp/server.key (public $(pubkey server)), clients: those of $tmp/authorized.txt" ||
    bad "--check summary: $out"

"$d" "$tmp/d.conf" 2>"$tmp/log" &
pid=$!
for _ in $(seq 1 600); do
    grep -q "stream smoke: running" "$tmp/log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
grep -qF "CURVE on: server public key $(pubkey server)" "$tmp/log" || bad "no CURVE log line"

sub_ok() { # what, server .pub, client .key: frames expected
    "$cs" sub "$pep" --topic frame --count 2 --timeout 30 --server-key "$2" --client-key "$3" \
        >"$tmp/sub" 2>&1 || bad "$1: $(cat "$tmp/sub")"
    "$py" -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 2 and all(l["topic"] == "frame.smoke" and l["top_k"] for l in lines), lines
' "$tmp/sub" || bad "$1: lines: $(head -c 300 "$tmp/sub")"
}
sub_ok "sub with the authorized key" "$tmp/server.pub" "$tmp/client.key"

# Refused: silence until --timeout (exit 1, nothing on stdout).
silent() { # what, sub arguments...: exit 1 after --timeout, nothing on stdout
    local what=$1
    shift
    "$cs" sub "$pep" --timeout 3 "$@" >"$tmp/silent" 2>"$tmp/silent.err"
    [ $? -eq 1 ] && [ ! -s "$tmp/silent" ] &&
        grep -qF "no message from $pep within 3 s" "$tmp/silent.err" ||
        bad "$what: $(head -c 300 "$tmp/silent") $(cat "$tmp/silent.err")"
}
silent "plain sub"
silent "intruder sub" --server-key "$tmp/server.pub" --client-key "$tmp/intruder.key"

# pyzmq: the authorized CURVE client receives, a plain SUB receives nothing in 3 s.
"$py" - "$pep" "$(pubkey server)" "$tmp/client.key" <<'EOF' || bad "pyzmq clients"
import re, sys, zmq
ep, server_pub, client_key = sys.argv[1], sys.argv[2].encode(), open(sys.argv[3]).read()
ctx = zmq.Context()
def sub(curve):
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    if curve:
        s.curve_serverkey = server_pub
        s.curve_publickey = re.search(r"public-key *= *(\S+)", client_key).group(1).encode()
        s.curve_secretkey = re.search(r"secret-key *= *(\S+)", client_key).group(1).encode()
    s.setsockopt(zmq.SUBSCRIBE, b"frame.smoke")
    s.connect(ep)
    return s
good, plain = sub(True), sub(False)
assert good.poll(30000), "the authorized pyzmq client received nothing"
topic, payload = good.recv_multipart()
assert topic == b"frame.smoke" and payload, (topic, len(payload))
assert not plain.poll(3000), "a plain SUB received from a CURVE publisher"
ctx.destroy()
EOF

out=$("$ctl" -e "$ep" -t 20 --server-key "$tmp/server.pub" --client-key "$tmp/client.key" list) ||
    bad "camstreamctl list with keys: $out"
echo "$out" | grep -qE '^smoke +RUNNING +file +gap +testsrc://ball$' || bad "list: $out"
err=$("$ctl" -e "$ep" -t 2 list 2>&1 >/dev/null)
[ $? -eq 1 ] && [ "$err" = "camstreamctl: no reply from $ep within 2 s: is camstreamd running?" ] ||
    bad "camstreamctl without keys: $err"
err=$("$ctl" -e "$ep" -t 2 --server-key "$tmp/server.pub" --client-key "$tmp/intruder.key" list \
    2>&1 >/dev/null)
[ $? -eq 1 ] && echo "$err" | grep -qF "(or the CURVE keys do not match)" ||
    bad "camstreamctl with a refused key: $err"

# Reload with another server key: the summary says it needs a restart; the old keys still work.
conf server2 >"$tmp/d.conf"
kill -HUP "$pid"
for _ in $(seq 1 100); do
    grep -q "^.* reload: " "$tmp/log" && break
    sleep 0.1
done
grep -qE "reload: .*unchanged smoke; restart camstreamd to apply \[daemon\] curve_key \(changed\)" \
    "$tmp/log" || bad "reload summary: $(grep reload "$tmp/log")"
sub_ok "sub after the reload (old keys)" "$tmp/server.pub" "$tmp/client.key"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || bad "SIGTERM: exit $rc"
# refused: the intruder's sub and camstreamctl at least (ZeroMQ retries the handshake)
n=$(sed -n 's/.*CURVE: \([0-9]*\) clients\{0,1\} refused.*/\1/p' "$tmp/log")
[ -n "$n" ] && [ "$n" -ge 2 ] || bad "refused clients logged: '$n'"

# Configuration errors: one line naming the file, the line and the key file's problem.
printf '[curve]\npublic-key = short\n' >"$tmp/corrupt.key"
printf '[daemon]\ncurve_key = corrupt.key\n[stream s]\nsource = testsrc://\nchain = videoconvert\n' \
    >"$tmp/bad1.conf"
err=$("$d" --check "$tmp/bad1.conf" 2>&1 >/dev/null)
[ $? -eq 1 ] && echo "$err" | grep -q "^$tmp/bad1.conf:2: \[daemon\] curve_key: $tmp/corrupt.key:2: " ||
    bad "corrupt key: $err"
printf '[daemon]\ncurve_authorized = authorized.txt\n[stream s]\nsource = testsrc://\nchain = videoconvert\n' \
    >"$tmp/bad2.conf"
err=$("$d" "$tmp/bad2.conf" 2>&1)
[ $? -eq 1 ] && echo "$err" | grep -q "$tmp/bad2.conf:2: \[daemon\] curve_authorized: needs curve_key" ||
    bad "curve_authorized without curve_key: $err"

if [ $failures -ne 0 ]; then
    echo "--- daemon log" >&2
    tail -30 "$tmp/log" >&2
    exit 1
fi
echo "daemon_curve: all checks passed"
