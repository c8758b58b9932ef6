#!/usr/bin/python3
"""`camstream sub` against a real publisher: pyzmq PUB sockets sending messages built with the
Python protobuf code protoc generates from proto/camstream.proto. Every JSON line sub prints is
parsed with Python's json module and compared with protobuf's own
json_format.MessageToDict(preserving_proto_field_name=True, including_default_value_fields=True)
of the message that was sent (an oracle we did not write). Also: topic filters (exact stream
names), --count, --heatmaps none|size|data, malformed payloads, and CURVE (camstream keygen
keys; the right server key receives, a wrong one does not within a bounded wait, and with
pyzmq's ZAP authenticator an unauthorized client key is refused).

    tests/cli_sub.py CAMSTREAM SOURCE_DIR
"""
import base64
import configparser
import json
import math
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

CAMSTREAM, SRC = sys.argv[1], sys.argv[2]
WORK = tempfile.mkdtemp(prefix="cs-sub-")
subprocess.run(["protoc", "--python_out=" + WORK, "-I" + os.path.join(SRC, "proto"),
                os.path.join(SRC, "proto", "camstream.proto")], check=True)
sys.path.insert(0, WORK)
import camstream_pb2 as pb  # noqa: E402
from google.protobuf import json_format  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def same(a, b, path="$"):
    """Deep equality; floats within float32 precision. Returns a difference or None."""
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) \
                or isinstance(a, bool) or isinstance(b, bool):
            return "%s: %r vs %r" % (path, a, b)
        if math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-30):
            return None
        return "%s: %r vs %r" % (path, a, b)
    if type(a) is not type(b):
        return "%s: %r (%s) vs %r (%s)" % (path, a, type(a).__name__, b, type(b).__name__)
    if isinstance(a, dict):
        if set(a) != set(b):
            return "%s: keys %s vs %s" % (path, sorted(a), sorted(b))
        for k in a:
            d = same(a[k], b[k], path + "." + k)
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return "%s: %d vs %d items" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = same(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    return None if a == b else "%s: %r vs %r" % (path, a, b)


def oracle(msg):
    return json_format.MessageToDict(msg, preserving_proto_field_name=True,
                                     including_default_value_fields=True)


def frame_result(stream="cam1", seq=7):
    r = pb.FrameResult(stream_id=stream, sequence=seq, frame_index=2**40 + 3, pts_ns=-1,
                       capture_unix_ns=1764067200123456789, width=640, height=480,
                       model_id='m "q"\\ \t\x01 ünïcödé € 😀', duration_ns=33333333,
                       publish_unix_ns=2**64 - 1, publisher_start_unix_ns=1)
    r.top_k.add(class_id=3, label="cat", score=-3.25, probability=0.1)
    r.top_k.add(class_id=-1, label="", score=1e-20, probability=0.0)
    d = r.detections.add(x=1.5, y=2.25, w=100.0, h=50.5, class_id=2, label="dog\n",
                         score=0.75, source=pb.DETECTION_SOURCE_HEATMAP, frame_index=9)
    d.keypoints.add(x=3.0, y=4.0, score=-1.0, name="nose")
    d.skeleton.add(from_index=0, to_index=1)
    # An enum value newer than this schema (open enums): printed as its number.
    r.detections.add(source=99)
    r.heatmaps.add(method=pb.EXPLAIN_METHOD_GRADCAM, method_name="gradcam", class_id=3,
                   class_label="cat", layer="conv/3", width=16, height=16,
                   data=bytes(range(256)), scale=0.00390625, offset=-0.5, frame_index=2**40,
                   class_score=3.5, frame_x=0, frame_y=0, frame_w=640, frame_h=480,
                   compute_ns=1234567)
    r.timings.add(name="csinfer", ns=4567890)
    return r


def stream_status(stream="cam1", seq=3):
    return pb.StreamStatus(stream_id=stream, sequence=seq, state=pb.STREAM_STATE_RUNNING,
                           fps=float("inf"), latency_p50_ns=5, latency_p90_ns=6,
                           latency_p99_ns=2**63, frames_in=10, frames_out=9, frames_dropped=1,
                           messages_dropped=0, last_error="", restarts=2,
                           uptime_ns=10**12, time_unix_ns=1764067200000000000)


class Sub:
    """A `camstream sub` process whose stdout lines are collected by a thread."""

    def __init__(self, args):
        self.p = subprocess.Popen([CAMSTREAM, "sub"] + args, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self.q = queue.Queue()
        self.lines = []
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.q.put(line)
        self.q.put(None)

    def collect(self, wait):
        """Moves what arrived into self.lines within `wait` seconds; False once stdout closed."""
        end = time.time() + wait
        while not self.closed:
            try:
                line = self.q.get(timeout=max(0.0, end - time.time()))
            except queue.Empty:
                return True
            if line is None:
                self.closed = True
                break
            self.lines.append(line)
        return False

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
        self.p.wait(timeout=30)
        err = self.p.stderr.read()
        while self.collect(10):
            pass
        return self.p.returncode, err


def publish_until(pub, messages, sub, done, limit=30):
    """Publishes the messages (topic, payload frames) over and over (ZeroMQ drops what a subscriber
    that has not joined yet misses) until done(lines) or the process ends."""
    end = time.time() + limit
    while time.time() < end:
        for frames in messages:
            pub.send_multipart(frames)
        if not sub.collect(0.05) or done(sub.lines):
            return
    check(False, "gave up waiting for camstream sub output after %d s" % limit)


def bind_pub(ctx, setup=None):
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    if setup:
        setup(pub)
    pub.bind("tcp://127.0.0.1:*")
    return pub, pub.getsockopt(zmq.LAST_ENDPOINT).decode()


def parse(lines):
    out = []
    for line in lines:
        assert line.endswith("\n")
        out.append(json.loads(line))
    return out


def test_fidelity(ctx):
    fr, st = frame_result(), stream_status()
    pub, ep = bind_pub(ctx)
    msgs = [[b"frame.cam1", fr.SerializeToString()], [b"status.cam1", st.SerializeToString()]]
    for mode in ("data", "size", "none"):
        sub = Sub([ep, "--heatmaps", mode])
        publish_until(pub, msgs, sub, lambda ls: {json.loads(x)["topic"] for x in ls} >=
                      {"frame.cam1", "status.cam1"})
        rc, err = sub.stop()
        check(rc == 0, "sub exits 0 on SIGTERM (got %s, %s)" % (rc, err))
        got = parse(sub.lines)
        for obj in got:
            topic = obj.pop("topic")
            want = oracle(fr if topic == "frame.cam1" else st)
            if topic == "frame.cam1" and mode == "size":
                for h in want["heatmaps"]:
                    h["data_size"] = len(base64.b64decode(h.pop("data")))
            if topic == "frame.cam1" and mode == "none":
                del want["heatmaps"]
            diff = same(obj, want)
            check(diff is None, "--heatmaps %s %s: JSON differs from MessageToDict: %s" %
                  (mode, topic, diff))
        # Raw text checks the oracle comparison cannot see: escapes and kept UTF-8.
        raw = [x for x in sub.lines if x.startswith('{"topic":"frame.cam1"')][0]
        check('"m \\"q\\"\\\\ \\t\\u0001 ünïcödé € 😀"' in raw,
              "strings escaped, UTF-8 kept: %s" % raw[:300])
        check('"sequence":"7"' in raw and '"pts_ns":"-1"' in raw, "64-bit integers as strings")
        check('"source":99' in raw, "unknown enum value as a number")
    pub.close()


def test_filters_count_errors(ctx):
    pub, ep = bind_pub(ctx)
    good = frame_result("cam1").SerializeToString()
    msgs = [[b"frame.cam10", frame_result("cam10").SerializeToString()],
            [b"status.cam1", stream_status().SerializeToString()],
            [b"frame.cam2", frame_result("cam2").SerializeToString()],
            [b"frame.cam1", b"\xff\xff\xff"],
            [b"frame.cam1", good, b"extra"],
            [b"frame.cam1", good]]
    # Exact stream names (frame.cam10 also matches the prefix subscription), one topic kind.
    sub = Sub([ep, "--stream", "cam1", "--topic", "frame", "--heatmaps", "none"])
    publish_until(pub, msgs, sub, lambda ls: len(ls) >= 9)
    rc, err = sub.stop()
    got = parse(sub.lines)
    check(all(o["topic"] == "frame.cam1" for o in got), "only frame.cam1: %s" %
          sorted({o["topic"] for o in got}))
    errors = [o for o in got if "error" in o]
    valid = [o for o in got if "error" not in o]
    check(valid and all(o["stream_id"] == "cam1" for o in valid), "valid lines decoded")
    check(any(o == {"topic": "frame.cam1",
                    "error": "the 3-byte payload is not a valid FrameResult"} for o in errors),
          "malformed payload gives one JSON error line: %s" % errors[:2])
    check(any(o.get("error", "").startswith("a message has 2 frames (topic, payload), this one "
                                             "has 3") for o in errors), "3-frame message")
    check(rc == 0, "sub survives malformed messages and exits 0: %s %s" % (rc, err))

    # Two streams, statuses only, and --count ends the process by itself.
    sub = Sub([ep, "--stream", "cam1", "--stream", "cam2", "--topic", "status", "--count", "2"])
    publish_until(pub, [[b"status.cam2", stream_status("cam2").SerializeToString()]] + msgs,
                  sub, lambda ls: False)
    rc, err = sub.stop()
    got = parse(sub.lines)
    check(rc == 0 and len(got) == 2, "--count 2: two lines, exit 0 (%s, %d lines)" % (rc, len(got)))
    check({o["topic"] for o in got} <= {"status.cam1", "status.cam2"}, "status topics only")
    pub.close()

    # Usage errors: exit 2, one line.
    for args in (["--topic", "frames"], ["--heatmaps", "all"], ["--count", "0"],
                 ["--client-key", "x.key"], ["--bogus"], ["a", "b"]):
        p = subprocess.run([CAMSTREAM, "sub"] + args, capture_output=True, text=True)
        check(p.returncode == 2 and p.stderr.count("\n") >= 1 and p.stdout == "",
              "usage error %s: rc %d, %r" % (args, p.returncode, p.stderr))
    p = subprocess.run([CAMSTREAM, "sub", "--server-key", os.path.join(WORK, "missing.pub")],
                       capture_output=True, text=True)
    check(p.returncode == 1 and "missing.pub" in p.stderr, "missing key file: %r" % p.stderr)


def read_keys(prefix):
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(prefix + ".key")
    return cp["curve"]["public-key"].encode(), cp["curve"]["secret-key"].encode()


def keygen(name):
    prefix = os.path.join(WORK, name)
    p = subprocess.run([CAMSTREAM, "keygen", prefix], capture_output=True, text=True)
    check(p.returncode == 0, "keygen %s: %s" % (name, p.stderr))
    check(oct(os.stat(prefix + ".key").st_mode & 0o777) == "0o600", "key file mode 0600")
    return prefix


def curve_run(ctx, server, args, expect):
    """A CURVE PUB with the server's keys; sub with args; expect messages or none (bounded)."""
    spub, ssec = read_keys(server)

    def setup(s):
        s.curve_server = True
        s.curve_publickey = spub
        s.curve_secretkey = ssec
    pub, ep = bind_pub(ctx, setup)
    msgs = [[b"status.cam1", stream_status().SerializeToString()]]
    if expect:
        sub = Sub([ep] + args)
        publish_until(pub, msgs, sub, lambda ls: len(ls) >= 1)
        rc, _ = sub.stop()
        check(len(sub.lines) >= 1, "CURVE %s: messages arrive" % args)
    else:
        # A bounded wait: sub gives up after 3 s without a message (exit 1).
        sub = Sub([ep, "--timeout", "3"] + args)
        publish_until(pub, msgs, sub, lambda ls: False, limit=20)
        rc, err = sub.stop()
        check(rc == 1 and not sub.lines and "no message" in err,
              "CURVE %s: nothing arrives (rc %s, %d lines, %r)" % (args, rc, len(sub.lines), err))
    pub.close()


def test_curve(ctx):
    server, other, good, bad = keygen("server"), keygen("other"), keygen("good"), keygen("bad")
    # Any client key accepted (no ZAP handler): the right server key receives, a wrong one not.
    curve_run(ctx, server, ["--server-key", server + ".pub"], True)
    curve_run(ctx, server, ["--server-key", server + ".key"], True)  # .key works as well
    curve_run(ctx, server, ["--server-key", other + ".pub"], False)
    # Not encrypted at all: a CURVE client does not talk to a plain publisher.
    pub, ep = bind_pub(ctx)
    sub = Sub([ep, "--timeout", "3", "--server-key", server + ".pub"])
    publish_until(pub, [[b"status.cam1", stream_status().SerializeToString()]], sub,
                  lambda ls: False, limit=20)
    rc, _ = sub.stop()
    check(rc == 1 and not sub.lines, "CURVE client vs plain publisher: nothing")
    pub.close()

    # Authorized client keys (pyzmq's ZAP authenticator, certificates in ZPL format).
    actx = zmq.Context()
    certs = os.path.join(WORK, "certs")
    os.makedirs(certs)
    gpub, _ = read_keys(good)
    with open(os.path.join(certs, "good.key"), "w") as f:
        f.write('metadata\ncurve\n    public-key = "%s"\n' % gpub.decode())
    auth = ThreadAuthenticator(actx)
    auth.start()
    auth.configure_curve(domain="*", location=certs)
    try:
        curve_run(actx, server, ["--server-key", server + ".pub", "--client-key", good + ".key"],
                  True)
        curve_run(actx, server, ["--server-key", server + ".pub", "--client-key", bad + ".key"],
                  False)
        curve_run(actx, server, ["--server-key", server + ".pub"], False)  # a fresh key
    finally:
        auth.stop()
        actx.term()


def main():
    ctx = zmq.Context()
    try:
        test_fidelity(ctx)
        test_filters_count_errors(ctx)
        test_curve(ctx)
    finally:
        ctx.term()
        shutil.rmtree(WORK, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("cli_sub: all checks passed")


if __name__ == "__main__":
    main()
