#!/usr/bin/python3
"""Measures camstreamd with N live test streams (bench/daemon.sh runs it; docs/PERFORMANCE.md).

    daemon_bench.py --daemon CAMSTREAMD --plugin-dir DIR --pb-dir DIR --model M.onnx
                    [--streams 0,1,2,4] [--seconds 20] [--warmup 5] [--threads 1]
                    [--camstream CAMSTREAM] [--json OUT.jsonl] [--label NAME]

For each stream count N: a configuration with N streams `testsrc://ball` at 640x480, 30 fps
(live), chain `csnormalize ! csinfer`, the given model (N = 0: one disabled stream, the daemon's
baseline); the daemon runs, a pyzmq subscriber counts and parses every message; after the
warm-up, over the window:
  - fps per stream: FrameResult messages received per second, and the mean of the status fps;
  - CPU: the daemon's utime + stime (/proc/PID/stat) over the window, in % of one core;
  - subscriber rate: messages per second the pyzmq subscriber received (frames + status), and
    the one `camstream sub` received when that tool exists (run beside it, its stdout counted);
  - memory: VmRSS (/proc/PID/status) at the end of the window; per stream = (RSS(N) − RSS(0)) / N;
  - the machine's load: the CPU share the rest of the machine used in the second before the
    daemon started (0..1 of all cores), and the 1-minute load average at the end of the window.
One JSON object per N is printed (and appended to --json).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the command: state is field 3, utime 14, stime 15 (1-based in proc(5))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def busy_share(seconds=1.0):
    """CPU share (0..1 of the whole machine) used by everything in the next `seconds`."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def write_config(path, n, model, threads, pub, ctl):
    with open(path, "w") as f:
        f.write(f"[daemon]\npublish = {pub}\ncontrol = {ctl}\nlog_level = warning\n"
                f"threads = {threads}\nstatus_interval = 1000\nshutdown_timeout = 3000\n\n"
                f"[model m]\ndescription = {model}\n")
        for i in range(max(n, 1)):
            f.write(f"\n[stream s{i}]\nsource = testsrc://ball\nwidth = 640\nheight = 480\n"
                    f"framerate = 30\nmodel = m\nchain = csnormalize ! csinfer top-k=5\n"
                    f"enabled = {'true' if n else 'false'}\n")


def measure(args, n, pb, zmq, work):
    busy = busy_share()  # before the daemon starts: what the rest of the machine uses
    pub, ctl = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    conf = os.path.join(work, f"bench-{n}.conf")
    write_config(conf, n, os.path.abspath(args.model), args.threads, pub, ctl)
    env = dict(os.environ, GST_PLUGIN_PATH=args.plugin_dir,
               GST_REGISTRY=os.path.join(work, "registry.bin"))
    errlog = open(os.path.join(work, f"bench-{n}.stderr"), "w")
    daemon = subprocess.Popen([args.daemon, conf], stdout=errlog, stderr=errlog, env=env)
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 100000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(pub)
    frames, status_fps, msgs, last_status = {}, {}, 0, {}
    counting = False

    def pump(until):
        nonlocal msgs
        while True:
            left = until - time.monotonic()
            if left <= 0 or daemon.poll() is not None:
                return
            if not sock.poll(int(left * 1000) + 1):
                continue
            topic, payload = sock.recv_multipart()
            kind, _, name = topic.decode().partition(".")
            if kind == "frame":
                m = pb.FrameResult()
                m.ParseFromString(payload)
                if counting:
                    frames[name] = frames.get(name, 0) + 1
            elif kind == "status":
                m = pb.StreamStatus()
                m.ParseFromString(payload)
                if counting and m.state == pb.STREAM_STATE_RUNNING:
                    status_fps.setdefault(name, []).append(m.fps)
                last_status[name] = m
            if counting:
                msgs += 1

    sub_proc = None
    try:
        pump(time.monotonic() + args.warmup)
        if daemon.poll() is not None:
            raise RuntimeError(f"camstreamd exited with {daemon.returncode} during the warm-up "
                               f"(see {errlog.name})")
        sub_times = []
        if args.camstream:
            # One JSON line per message; a thread notes when each line arrives.
            sub_proc = subprocess.Popen([args.camstream, "sub", pub, "--heatmaps", "none"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

            def reader():
                for _ in sub_proc.stdout:
                    sub_times.append(time.monotonic())
            threading.Thread(target=reader, daemon=True).start()
            pump(time.monotonic() + 1.0)  # (not counted) while it connects
        load_before = os.getloadavg()[0]
        counting = True
        c0, t0 = cpu_seconds(daemon.pid), time.monotonic()
        pump(t0 + args.seconds)
        c1, t1 = cpu_seconds(daemon.pid), time.monotonic()
        rss = rss_kib(daemon.pid)
        load = os.getloadavg()[0]
        counting = False
        sub_rate = None
        if sub_proc:
            # Its stdout is a pipe (block-buffered): lines arrive in bursts, late by the same
            # amount at both ends of the window.
            sub_rate = sum(1 for t in sub_times if t0 <= t < t1) / (t1 - t0)
        window = t1 - t0
        per_stream = {k: v / window for k, v in sorted(frames.items())}
        status = {k: sum(v) / len(v) for k, v in sorted(status_fps.items())}
        return {
            "label": args.label, "streams": n, "threads": args.threads,
            "window_s": round(window, 2),
            "fps_received": {k: round(v, 2) for k, v in per_stream.items()},
            "fps_status": {k: round(v, 2) for k, v in status.items()},
            "cpu_percent": round(100 * (c1 - c0) / window, 1),
            "msgs_per_s_pyzmq": round(msgs / window, 1),
            "msgs_per_s_camstream_sub": None if sub_rate is None else round(sub_rate, 1),
            "messages_dropped": sum(m.messages_dropped for m in last_status.values()),
            "frames_dropped": sum(m.frames_dropped for m in last_status.values()),
            "rss_kib": rss,
            "busy_before": round(busy, 2),
            "load_before": round(load_before, 2), "load": round(load, 2),
        }
    finally:
        if sub_proc and sub_proc.poll() is None:
            sub_proc.kill()
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--plugin-dir", required=True)
    ap.add_argument("--pb-dir", required=True, help="where camstream_pb2.py is")
    ap.add_argument("--model", required=True)
    ap.add_argument("--streams", default="0,1,2,4")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--camstream", help="camstream binary (its `sub` is measured too)")
    ap.add_argument("--json", help="append one JSON line per stream count")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    sys.path.insert(0, args.pb_dir)
    import camstream_pb2 as pb
    import zmq

    results = []
    with tempfile.TemporaryDirectory(prefix="cs-daemon-bench-") as work:
        for n in [int(x) for x in args.streams.split(",")]:
            r = measure(args, n, pb, zmq, work)
            results.append(r)
            print(json.dumps(r), flush=True)
    base = next((r["rss_kib"] for r in results if r["streams"] == 0), None)
    for r in results:
        r["rss_per_stream_kib"] = (round((r["rss_kib"] - base) / r["streams"])
                                   if base is not None and r["streams"] else None)
    if args.json:
        with open(args.json, "a") as f:
            for r in results:
                f.write(json.dumps(dict(r, time=time.strftime("%Y-%m-%dT%H:%M:%S"))) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
