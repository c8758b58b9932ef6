#!/usr/bin/python3
"""End-to-end test subscriber: receives camstream FrameResult messages and checks every one.

Connects a ZeroMQ SUB socket to the publisher's endpoint (before or after it binds: ZeroMQ
reconnects), subscribes to "frame.<stream>", and checks each message against docs/PROTOCOL.md:

  * two frames, the topic exactly "frame.<stream>", a payload that parses as FrameResult;
  * sequence numbers consecutive (from the first message received: a late joiner may miss the
    first few) and one publisher run (publisher_start_unix_ns constant);
  * frame indices strictly increasing, frame size as expected;
  * top-k: probabilities in [0, 1], summing to <= 1, best first;
  * heatmaps: width*height bytes, sizes within --heatmap-max-size, the expected method, explaining
    a frame no later than the one carrying it (on every message with --heatmap-every; heavy
    methods run asynchronously and deliver fewer, --min-heatmaps);
  * detections: finite boxes with non-negative size, keypoint and skeleton indices in range;
  * timings: the expected stages present with positive times.

Stops on SIGTERM/SIGINT (the test runner sends it once the pipeline has exited), after
--timeout seconds, or after --count messages. Exit status 0 when every check passed and at least
--min-messages messages arrived; a JSON summary goes to --summary when given.

The protobuf module is generated at test time: protoc --python_out=DIR -Iproto proto/camstream.proto
and DIR is passed with --pb-dir.
"""
import argparse
import json
import math
import signal
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--stream", default="default")
    ap.add_argument("--pb-dir", required=True, help="directory holding camstream_pb2.py")
    ap.add_argument("--min-messages", type=int, default=1)
    ap.add_argument("--count", type=int, default=0, help="stop after this many messages (0: never)")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--width", type=int, default=0)
    ap.add_argument("--height", type=int, default=0)
    ap.add_argument("--expect-classes", action="store_true", help="every message has top-k")
    ap.add_argument("--expect-heatmap", default="", help="method name of every heatmap")
    ap.add_argument("--heatmap-every", action="store_true", help="every message has a heatmap")
    ap.add_argument("--min-heatmaps", type=int, default=0, help="heatmaps over the whole run")
    ap.add_argument("--heatmap-max-size", type=int, default=0)
    ap.add_argument("--expect-detections", action="store_true")
    ap.add_argument("--expect-stages", default="", help="comma-separated stage names")
    ap.add_argument("--ready-file", default="", help="created once the socket is connected")
    ap.add_argument("--summary", default="", help="write a JSON summary here")
    return ap.parse_args()


class Checker:
    def __init__(self, args, pb):
        self.a = args
        self.pb = pb
        self.errors = []
        self.n = 0
        self.first_seq = None
        self.prev_seq = None
        self.prev_frame = None
        self.start_ns = None
        self.bytes = 0
        self.heatmaps = 0
        self.detections = 0
        self.stage_ns = {}
        self.max_heatmap_age = 0
        self.publish_ns = []  # publish_unix_ns of every message, for the publishing rate
        self.latency_ns = []  # publish - capture

    def fail(self, msg):
        if len(self.errors) < 50:
            self.errors.append("message %d: %s" % (self.n, msg))

    def check(self, frames):
        a, pb = self.a, self.pb
        self.n += 1
        if len(frames) != 2:
            self.fail("%d frames, want 2 (topic, payload)" % len(frames))
            return
        topic, payload = frames
        want_topic = ("frame." + a.stream).encode()
        if topic != want_topic:
            self.fail("topic %r, want %r" % (topic, want_topic))
        self.bytes += len(payload)
        r = pb.FrameResult()
        try:
            r.ParseFromString(payload)
        except Exception as e:  # noqa: BLE001 - any parse error is a failure
            self.fail("payload does not parse: %s" % e)
            return
        if r.stream_id != a.stream:
            self.fail("stream_id %r" % r.stream_id)

        # Sequence: consecutive from the first message received, one publisher run.
        if self.first_seq is None:
            self.first_seq = r.sequence
            self.start_ns = r.publisher_start_unix_ns
        else:
            if r.sequence != self.prev_seq + 1:
                self.fail("sequence %d after %d (gap or reorder)" % (r.sequence, self.prev_seq))
            if r.publisher_start_unix_ns != self.start_ns:
                self.fail("publisher restarted")
        self.prev_seq = r.sequence
        if self.prev_frame is not None and r.frame_index <= self.prev_frame:
            self.fail("frame_index %d after %d" % (r.frame_index, self.prev_frame))
        self.prev_frame = r.frame_index

        if a.width and r.width != a.width or a.height and r.height != a.height:
            self.fail("frame %dx%d, want %dx%d" % (r.width, r.height, a.width, a.height))
        if r.publish_unix_ns == 0 or r.capture_unix_ns > r.publish_unix_ns:
            self.fail("capture %d / publish %d times" % (r.capture_unix_ns, r.publish_unix_ns))
        self.publish_ns.append(r.publish_unix_ns)
        self.latency_ns.append(r.publish_unix_ns - r.capture_unix_ns)

        self.check_classes(r)
        self.check_heatmaps(r)
        self.check_detections(r)
        self.check_timings(r)

    def check_classes(self, r):
        if self.a.expect_classes and not r.top_k:
            self.fail("no top-k classes")
        total = 0.0
        prev = None
        for c in r.top_k:
            if not (0.0 <= c.probability <= 1.0) or not math.isfinite(c.score):
                self.fail("class %d probability %g score %g" % (c.class_id, c.probability, c.score))
            if prev is not None and c.probability > prev + 1e-6:
                self.fail("top-k not sorted: %g after %g" % (c.probability, prev))
            prev = c.probability
            total += c.probability
        if total > 1.0 + 1e-4:
            self.fail("top-k probabilities sum to %g > 1" % total)

    def check_heatmaps(self, r):
        a, pb = self.a, self.pb
        if a.heatmap_every and not r.heatmaps:
            self.fail("no heatmap")
        for h in r.heatmaps:
            self.heatmaps += 1
            if h.width == 0 or h.height == 0 or len(h.data) != h.width * h.height:
                self.fail("heatmap %dx%d with %d bytes" % (h.width, h.height, len(h.data)))
            if a.heatmap_max_size and max(h.width, h.height) > a.heatmap_max_size:
                self.fail("heatmap %dx%d exceeds %d" % (h.width, h.height, a.heatmap_max_size))
            if a.expect_heatmap:
                want = a.expect_heatmap.replace("+", "p").replace("-", "").replace("_", "")
                got = h.method_name.replace("+", "p").replace("-", "").replace("_", "")
                if got != want:
                    self.fail("heatmap method %r, want %r" % (h.method_name, a.expect_heatmap))
                if h.method == pb.EXPLAIN_METHOD_UNSPECIFIED:
                    self.fail("heatmap method enum unset for %r" % h.method_name)
            if h.frame_index > r.frame_index:
                self.fail("heatmap explains frame %d, later than %d" % (h.frame_index, r.frame_index))
            self.max_heatmap_age = max(self.max_heatmap_age, r.frame_index - h.frame_index)
            if not (h.scale >= 0.0 and math.isfinite(h.offset)):
                self.fail("heatmap scale %g offset %g" % (h.scale, h.offset))
            if h.frame_w <= 0 or h.frame_h <= 0:
                self.fail("heatmap frame rectangle %g,%g %gx%g" % (h.frame_x, h.frame_y, h.frame_w, h.frame_h))

    def check_detections(self, r):
        if self.a.expect_detections and not r.detections:
            self.fail("no detections")
        for d in r.detections:
            self.detections += 1
            vals = (d.x, d.y, d.w, d.h, d.score)
            if not all(math.isfinite(v) for v in vals) or d.w < 0 or d.h < 0:
                self.fail("detection box %r" % (vals,))
            for e in d.skeleton:
                if e.from_index >= len(d.keypoints) or e.to_index >= len(d.keypoints):
                    self.fail("skeleton edge %d-%d with %d keypoints" % (e.from_index, e.to_index, len(d.keypoints)))

    def check_timings(self, r):
        names = [t.name for t in r.timings]
        for s in filter(None, self.a.expect_stages.split(",")):
            if s not in names:
                self.fail("stage %r missing from timings %r" % (s, names))
        for t in r.timings:
            if not t.name:
                self.fail("unnamed stage")
            self.stage_ns.setdefault(t.name, []).append(t.ns)


def stats(v):
    """mean and percentiles (nearest rank) of a list of integers."""
    if not v:
        return {}
    s = sorted(v)

    def pct(p):
        return s[min(len(s) - 1, max(0, int(math.ceil(p / 100.0 * len(s))) - 1))]

    return {"n": len(s), "mean": sum(s) / len(s), "p50": pct(50), "p90": pct(90), "p99": pct(99)}


def main():
    a = parse_args()
    sys.path.insert(0, a.pb_dir)
    import zmq
    import camstream_pb2 as pb

    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 100000)  # the test wants every message: never drop here
    sub.setsockopt(zmq.RECONNECT_IVL, 10)
    sub.setsockopt(zmq.SUBSCRIBE, ("frame." + a.stream).encode())
    sub.connect(a.endpoint)
    if a.ready_file:
        open(a.ready_file, "w").close()

    chk = Checker(a, pb)
    deadline = time.monotonic() + a.timeout
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    while not stop["flag"] and time.monotonic() < deadline:
        if not poller.poll(100):
            continue
        while True:  # drain what is there
            try:
                frames = sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            chk.check(frames)
            if a.count and chk.n >= a.count:
                stop["flag"] = True
                break
    # Whatever is still queued after the stop request.
    while True:
        try:
            chk.check(sub.recv_multipart(zmq.NOBLOCK))
        except zmq.Again:
            break
    sub.close()
    ctx.term()

    if chk.heatmaps < a.min_heatmaps:
        chk.errors.append("received %d heatmaps, want at least %d" % (chk.heatmaps, a.min_heatmaps))
    if chk.n < a.min_messages:
        chk.errors.append("received %d messages, want at least %d" % (chk.n, a.min_messages))
    stages = {k: stats(v) for k, v in chk.stage_ns.items()}
    # Publishing rate over the run, skipping the first 10% (start-up: model planning, preroll).
    t = chk.publish_ns[len(chk.publish_ns) // 10:]
    fps = (len(t) - 1) * 1e9 / (t[-1] - t[0]) if len(t) > 2 and t[-1] > t[0] else 0.0
    summary = {
        "messages": chk.n,
        "first_sequence": chk.first_seq,
        "last_sequence": chk.prev_seq,
        "last_frame_index": chk.prev_frame,
        "mean_bytes": chk.bytes / chk.n if chk.n else 0,
        "heatmaps": chk.heatmaps,
        "max_heatmap_age_frames": chk.max_heatmap_age,
        "detections": chk.detections,
        "stage_ns": stages,
        "publish_fps": fps,
        "latency_ns": stats(chk.latency_ns),
        "errors": chk.errors,
    }
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))
    for e in chk.errors:
        print("subscriber: " + e, file=sys.stderr)
    return 0 if not chk.errors else 1


if __name__ == "__main__":
    sys.exit(main())
