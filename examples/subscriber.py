#!/usr/bin/python3
"""Print what a camstream publisher sends: one line per frame, gaps and stream status.

    examples/subscriber.py [ENDPOINT] [--stream ID] [--heatmaps DIR] [--status]

ENDPOINT is the cspublish endpoint (default tcp://127.0.0.1:5555). Run a pipeline that publishes,
for example

    GST_PLUGIN_PATH=build/elements gst-launch-1.0 videotestsrc pattern=ball ! videoconvert ! \\
        csinfer model=tests/models/gap_cnn_op13/model.onnx explain=gradcam ! cslocalize ! \\
        cspublish stream-id=cam0 ! fakesink

and in another terminal

    examples/subscriber.py --stream cam0

Each line shows the sequence number, frame index, the end-to-end latency up to the publisher,
the top classes, the boxes and the heatmaps. Lost messages are reported from the gaps in the
sequence numbers (docs/PROTOCOL.md, "Delivery"). With --heatmaps DIR every heatmap is also saved
as an 8-bit PGM image (values recovered with offset + scale * byte, then rescaled to 0..255 for
viewing).

Needs pyzmq (python3-zmq) and protobuf (python3-protobuf). The protobuf module is generated from
proto/camstream.proto at start into a temporary directory (protoc from protobuf-compiler), or
taken from CAMSTREAM_PB_DIR when that names a directory holding camstream_pb2.py:

    protoc --python_out=DIR -Iproto proto/camstream.proto
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "proto")


def load_pb():
    """Imports camstream_pb2, generating it with protoc when needed."""
    pb_dir = os.environ.get("CAMSTREAM_PB_DIR")
    if not pb_dir:
        pb_dir = tempfile.mkdtemp(prefix="camstream-pb-")
        subprocess.run(["protoc", "--python_out=" + pb_dir, "-I" + PROTO_DIR,
                        os.path.join(PROTO_DIR, "camstream.proto")], check=True)
    sys.path.insert(0, pb_dir)
    import camstream_pb2
    return camstream_pb2


def save_pgm(path, h):
    """Saves a Heatmap as a PGM, stretched to 0..255 (the stored bytes already are, unless the map
    was constant)."""
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (h.width, h.height))
        f.write(h.data)


def describe(r, pb):
    """One line for a FrameResult."""
    parts = []
    if r.capture_unix_ns:
        parts.append("%5.1f ms" % ((r.publish_unix_ns - r.capture_unix_ns) / 1e6))
    if r.top_k:
        parts.append(", ".join("%s %.2f" % (c.label or "#%d" % c.class_id, c.probability)
                               for c in r.top_k[:3]))
    for d in r.detections:
        src = pb.DetectionSource.Name(d.source).replace("DETECTION_SOURCE_", "").lower()
        parts.append("box %s %.0f,%.0f %.0fx%.0f %.2f (%s%s)" % (
            d.label or "#%d" % d.class_id, d.x, d.y, d.w, d.h, d.score, src,
            ", %d keypoints" % len(d.keypoints) if d.keypoints else ""))
    for h in r.heatmaps:
        # A heatmap explains frame h.frame_index: older than this frame for heavy methods.
        lo, hi = h.offset, h.offset + 255 * h.scale
        age = r.frame_index - h.frame_index
        parts.append("%s %dx%d [%.3g, %.3g]%s" % (h.method_name, h.width, h.height, lo, hi,
                                                   " (%d frames old)" % age if age else ""))
    return " | ".join(parts)


def main():
    ap = argparse.ArgumentParser(description="Print camstream FrameResult/StreamStatus messages")
    ap.add_argument("endpoint", nargs="?", default="tcp://127.0.0.1:5555")
    ap.add_argument("--stream", default="", help="only this stream id (default: every stream)")
    ap.add_argument("--status", action="store_true", help="also print status.<stream> messages")
    ap.add_argument("--heatmaps", metavar="DIR", help="save heatmaps as PGM images here")
    ap.add_argument("--count", type=int, default=0, help="exit after this many frame messages")
    a = ap.parse_args()

    import zmq
    pb = load_pb()

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    # Subscriptions are prefixes: "frame.cam1" also matches "frame.cam10", so the topic is
    # compared exactly below.
    sub.setsockopt(zmq.SUBSCRIBE, ("frame." + a.stream).encode())
    if a.status:
        sub.setsockopt(zmq.SUBSCRIBE, ("status." + a.stream).encode())
    sub.connect(a.endpoint)
    if a.heatmaps:
        os.makedirs(a.heatmaps, exist_ok=True)
    print("listening on %s" % a.endpoint, file=sys.stderr)

    last = {}  # stream -> (publisher start, last sequence)
    received = lost = 0
    try:
        while True:
            frames = sub.recv_multipart()
            if len(frames) != 2:
                print("ignored a %d-frame message" % len(frames), file=sys.stderr)
                continue
            topic, payload = frames[0].decode(errors="replace"), frames[1]
            kind, _, stream = topic.partition(".")
            if a.stream and stream != a.stream:
                continue
            if kind == "status":
                s = pb.StreamStatus.FromString(payload)
                print("[%s] status %s fps %.1f p50 %.1f ms p99 %.1f ms in %d out %d dropped %d "
                      "msgs dropped %d restarts %d%s" % (
                          stream, pb.StreamState.Name(s.state), s.fps, s.latency_p50_ns / 1e6,
                          s.latency_p99_ns / 1e6, s.frames_in, s.frames_out, s.frames_dropped,
                          s.messages_dropped, s.restarts,
                          " error: " + s.last_error if s.last_error else ""))
                continue
            if kind != "frame":
                continue  # a topic added by a newer publisher: ignore (compatibility rule 5)
            r = pb.FrameResult.FromString(payload)
            received += 1
            prev = last.get(stream)
            if prev and prev[0] == r.publisher_start_unix_ns and r.sequence > prev[1] + 1:
                lost += r.sequence - prev[1] - 1
                print("[%s] lost %d messages" % (stream, r.sequence - prev[1] - 1))
            elif prev and prev[0] != r.publisher_start_unix_ns:
                print("[%s] publisher restarted" % stream)
            last[stream] = (r.publisher_start_unix_ns, r.sequence)
            print("[%s] #%d frame %d %dx%d %s" % (stream, r.sequence, r.frame_index, r.width,
                                                 r.height, describe(r, pb)))
            if a.heatmaps:
                for i, h in enumerate(r.heatmaps):
                    save_pgm(os.path.join(a.heatmaps, "%s_%06d_%d_%s.pgm" % (
                        stream, r.frame_index, i, h.method_name or "map")), h)
            if a.count and received >= a.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
        ctx.term()
    print("%d messages received, %d lost" % (received, lost), file=sys.stderr)


if __name__ == "__main__":
    main()
