#!/usr/bin/python3
"""Print what a camstream publisher sends: one line per frame, gaps and stream status.

    examples/subscriber.py [ENDPOINT] [--stream ID]... [--heatmaps DIR] [--status] [--count N]
                           [--server-key SERVER.pub [--client-key CLIENT.key]]

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

Filters: ZeroMQ subscriptions match topic prefixes ("frame.cam1" also delivers "frame.cam10"),
so the topic frame is compared exactly after receiving.

Gap detection: `sequence` counts every message a publisher created for a stream, sent or
dropped; a jump from n to n + k means k - 1 lost messages. A new publisher run starts again at 0
with a new `publisher_start_unix_ns`, which resets the count (docs/PROTOCOL.md, "Delivery").

CURVE (docs/PROTOCOL.md, "CURVE"): with --server-key the connection is encrypted and the
publisher authenticated; the key files are those of `camstream keygen NAME` (NAME.pub for the
publisher's public key, NAME.key for this client's pair; without --client-key a fresh pair is
used, which a publisher with an authorized-keys list refuses).

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


def read_key_file(path):
    """(public, secret or None) from a camstream key file (`camstream keygen`): an INI file with
    a [curve] group holding public-key and, in .key files, secret-key (40 Z85 characters)."""
    import configparser
    cp = configparser.ConfigParser(interpolation=None)
    if not cp.read(path):
        sys.exit("cannot read key file %s" % path)
    g = cp["curve"] if cp.has_section("curve") else {}
    pub, sec = g.get("public-key"), g.get("secret-key")
    if not pub or len(pub) != 40:
        sys.exit("%s: no valid public-key (40 Z85 characters)" % path)
    return pub.encode(), sec.encode() if sec else None


def save_pgm(path, h):
    """Saves a Heatmap as a PGM, stretched to 0..255 (the stored bytes already are, unless the map
    was constant)."""
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (h.width, h.height))
        f.write(h.data)


def enum_name(enum, value, prefix):
    """An enum value's short name, or its number when it is newer than this schema
    (compatibility rule 4: enums grow, readers show unknown values as numbers)."""
    try:
        return enum.Name(value).replace(prefix, "").lower()
    except ValueError:
        return str(value)


def describe(r, pb):
    """One line for a FrameResult."""
    parts = []
    if r.capture_unix_ns:
        parts.append("%5.1f ms" % ((r.publish_unix_ns - r.capture_unix_ns) / 1e6))
    if r.top_k:
        parts.append(", ".join("%s %.2f" % (c.label or "#%d" % c.class_id, c.probability)
                               for c in r.top_k[:3]))
    for d in r.detections:
        src = enum_name(pb.DetectionSource, d.source, "DETECTION_SOURCE_")
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
    ap.add_argument("--stream", action="append", default=[],
                    help="only this stream id (repeatable; default: every stream)")
    ap.add_argument("--status", action="store_true", help="also print status.<stream> messages")
    ap.add_argument("--heatmaps", metavar="DIR", help="save heatmaps as PGM images here")
    ap.add_argument("--count", type=int, default=0, help="exit after this many frame messages")
    ap.add_argument("--server-key", metavar="FILE",
                    help="CURVE: the publisher's public key (its .pub file)")
    ap.add_argument("--client-key", metavar="FILE", help="CURVE: this client's key pair (.key)")
    a = ap.parse_args()
    if a.client_key and not a.server_key:
        ap.error("--client-key needs --server-key")

    import zmq
    pb = load_pb()

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if a.server_key:
        # Keys are set before connect: CURVE is negotiated in the handshake.
        sub.curve_serverkey = read_key_file(a.server_key)[0]
        if a.client_key:
            pub, sec = read_key_file(a.client_key)
            if not sec:
                sys.exit("%s has no secret-key: use the .key file of the pair" % a.client_key)
        else:
            pub, sec = zmq.curve_keypair()
        sub.curve_publickey, sub.curve_secretkey = pub, sec
    # Subscriptions are prefixes: "frame.cam1" also matches "frame.cam10", so the topic is
    # compared exactly below.
    for stream in a.stream or [""]:
        sub.setsockopt(zmq.SUBSCRIBE, ("frame." + stream).encode())
        if a.status:
            sub.setsockopt(zmq.SUBSCRIBE, ("status." + stream).encode())
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
            if a.stream and stream not in a.stream:
                continue
            if kind == "status":
                s = pb.StreamStatus.FromString(payload)
                print("[%s] status %s fps %.1f p50 %.1f ms p99 %.1f ms in %d out %d dropped %d "
                      "msgs dropped %d restarts %d%s" % (
                          stream, enum_name(pb.StreamState, s.state, "STREAM_STATE_").upper(), s.fps, s.latency_p50_ns / 1e6,
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
