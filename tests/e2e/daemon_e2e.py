#!/usr/bin/python3
"""End-to-end test of camstreamd (docs/CONFIG.md, docs/PROTOCOL.md).

    daemon_e2e.py --source-dir SRC --build-dir BUILD --daemon CAMSTREAMD --rtsp-server RTSP_SERVER

Starts tests/e2e/rtsp_server on a free loopback port and camstreamd on a temporary configuration
with two streams (cam_test: testsrc, cam_rtsp: the RTSP server), then, with a pyzmq subscriber
and protobuf code generated from proto/ at test time:

 1. checks >= --frames FrameResult messages per stream (ids, sequence, frame_index, top_k,
    size, timings);
 2. kills the RTSP server: cam_rtsp must report RESTARTING/FAILED with last_error while cam_test
    keeps delivering; restarts the server: cam_rtsp must come back RUNNING with restarts >= 1;
 3. appends a third stream and sends SIGHUP: it must deliver frames, the others must not restart;
 4. camstreamctl list (when the build has camstreamctl) shows the three streams;
 5. SIGTERM: exit 0 in time, a final STOPPED status per stream, no sanitizer report on stderr.

Every wait is bounded and fails with what was expected and the last status seen; the daemon's
stderr is printed on failure. Exit 0 when every check passes, 1 otherwise.
"""
import argparse
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

WIDTH, HEIGHT, FPS = 160, 120, 15
N_CLASSES = 10  # tests/models/gap_cnn_op13: 10 classes
STATUS_INTERVAL_MS = 500
RESTART_DELAY_MS = 500
SHUTDOWN_TIMEOUT_MS = 3000


class Failure(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_sanitized(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return "libasan" in out


class StreamFrames:
    """What one stream's FrameResult messages looked like so far."""

    def __init__(self, name):
        self.name = name
        self.count = 0
        self.gaps = 0  # messages lost (sum of k-1 over jumps n -> n+k)
        self.runs = 0  # publisher runs seen (publisher_start_unix_ns values)
        self.start_ns = None
        self.last_seq = None
        self.last_index = None
        self.last_time = None
        self.first_seq_of_run = []
        self.errors = []
        self.stage_names = set()
        self.latencies_ms = []


class StreamStatuses:
    def __init__(self):
        self.last = None
        self.states = []  # (time, state name, restarts, last_error)
        self.count = 0
        self.gaps = 0
        self.errors = []


class Subscriber:
    """One SUB socket on frame.* and status.*; pump() receives and checks what arrived."""

    def __init__(self, zmq, pb, endpoint, frame_sizes):
        self.zmq = zmq
        self.pb = pb
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, 100000)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"frame.")
        self.sock.setsockopt(zmq.SUBSCRIBE, b"status.")
        self.sock.connect(endpoint)
        self.frame_sizes = frame_sizes  # stream -> (w, h)
        self.frames = {}
        self.status = {}
        self.bad = []  # protocol errors not tied to a stream

    def frames_of(self, name):
        return self.frames.setdefault(name, StreamFrames(name))

    def status_of(self, name):
        return self.status.setdefault(name, StreamStatuses())

    def pump(self, seconds):
        """Receives for up to seconds (returns earlier if nothing is pending after that)."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if not self.sock.poll(int(left * 1000) + 1):
                return
            while True:
                try:
                    parts = self.sock.recv_multipart(flags=self.zmq.NOBLOCK)
                except self.zmq.Again:
                    break
                self.handle(parts)

    def handle(self, parts):
        if len(parts) != 2:
            self.bad.append(f"message with {len(parts)} frames (expected topic + payload)")
            return
        topic = parts[0].decode("utf-8", "replace")
        kind, _, name = topic.partition(".")
        if kind == "frame":
            m = self.pb.FrameResult()
            m.ParseFromString(parts[1])
            self.check_frame(name, m)
        elif kind == "status":
            m = self.pb.StreamStatus()
            m.ParseFromString(parts[1])
            if m.stream_id != name:
                self.bad.append(f"status topic {topic!r} carries stream_id {m.stream_id!r}")
            st = self.status_of(name)
            st.count += 1
            prev = st.last
            if prev is not None:
                # Same rules as FrameResult.sequence; counters and uptime since the stream was
                # created, not reset by restarts (proto/camstream.proto).
                if m.sequence <= prev.sequence:
                    st.errors.append(f"status sequence {m.sequence} after {prev.sequence}")
                else:
                    st.gaps += m.sequence - prev.sequence - 1
                for field in ("frames_in", "frames_out", "frames_dropped", "messages_dropped",
                              "restarts", "uptime_ns"):
                    if getattr(m, field) < getattr(prev, field):
                        st.errors.append(f"status {field} went back from "
                                         f"{getattr(prev, field)} to {getattr(m, field)}")
            if not 0.0 <= m.fps < 1000.0:
                st.errors.append(f"status fps {m.fps}")
            if not m.latency_p50_ns <= m.latency_p90_ns <= m.latency_p99_ns:
                st.errors.append(f"status latency percentiles not ordered: {m.latency_p50_ns}, "
                                 f"{m.latency_p90_ns}, {m.latency_p99_ns}")
            del st.errors[20:]
            st.last = m
            state = self.pb.StreamState.Name(m.state)
            if not st.states or st.states[-1][1:] != (state, m.restarts, m.last_error):
                st.states.append((time.monotonic(), state, m.restarts, m.last_error))
        else:
            self.bad.append(f"unexpected topic {topic!r}")

    def check_frame(self, name, m):
        f = self.frames_of(name)
        err = f.errors
        f.count += 1
        f.last_time = time.monotonic()
        if m.stream_id != name:
            err.append(f"topic frame.{name} carries stream_id {m.stream_id!r}")
        if m.publisher_start_unix_ns != f.start_ns:
            # A new publisher run: sequence and frame_index start again.
            f.runs += 1
            f.start_ns = m.publisher_start_unix_ns
            f.first_seq_of_run.append(m.sequence)
            f.last_seq = None
            f.last_index = None
        if f.last_seq is not None:
            if m.sequence <= f.last_seq:
                err.append(f"sequence {m.sequence} after {f.last_seq} in the same run")
            else:
                f.gaps += m.sequence - f.last_seq - 1
        if f.last_index is not None and m.frame_index <= f.last_index:
            err.append(f"frame_index {m.frame_index} after {f.last_index}")
        f.last_seq = m.sequence
        f.last_index = m.frame_index
        w, h = self.frame_sizes.get(name, (WIDTH, HEIGHT))
        if (m.width, m.height) != (w, h):
            err.append(f"frame {m.sequence}: size {m.width}x{m.height}, expected {w}x{h}")
        if not m.top_k:
            err.append(f"frame {m.sequence}: empty top_k")
        total = 0.0
        prev = None
        for c in m.top_k:
            if not 0 <= c.class_id < N_CLASSES:
                err.append(f"frame {m.sequence}: class_id {c.class_id} not in [0, {N_CLASSES})")
            if not 0.0 <= c.probability <= 1.0:
                err.append(f"frame {m.sequence}: probability {c.probability} not in [0, 1]")
            if prev is not None and c.score > prev:
                err.append(f"frame {m.sequence}: top_k not sorted by score")
            prev = c.score
            total += c.probability
        if total > 1.0 + 1e-4:
            err.append(f"frame {m.sequence}: top_k probabilities sum to {total} > 1")
        if not m.timings:
            err.append(f"frame {m.sequence}: no timings")
        for t in m.timings:
            f.stage_names.add(t.name)
        if "csinfer" not in {t.name for t in m.timings}:
            err.append(f"frame {m.sequence}: no csinfer timing")
        if m.capture_unix_ns and m.publish_unix_ns >= m.capture_unix_ns:
            f.latencies_ms.append((m.publish_unix_ns - m.capture_unix_ns) / 1e6)
        del err[20:]  # keep the first few


class Test:
    def __init__(self, args):
        self.args = args
        self.src = os.path.abspath(args.source_dir)
        self.build = os.path.abspath(args.build_dir)
        self.work = os.path.join(self.build, "tests", "e2e", "work-daemon")
        self.daemon = None
        self.rtsp = None
        self.summary = []
        self.t0 = time.monotonic()

    # -- processes ---------------------------------------------------------------------------

    def env(self, sanitized_leaks):
        env = dict(os.environ)
        env["GST_PLUGIN_PATH"] = os.path.join(self.build, "elements")
        env["GST_REGISTRY"] = os.path.join(self.work, "registry.bin")
        # Scan the registry in-process: the forked gst-plugin-scanner is not instrumented, so in
        # a sanitizer build it could not load our plugin.
        env["GST_REGISTRY_FORK"] = "no"
        env.pop("GST_PLUGIN_SYSTEM_PATH", None)
        env.pop("GST_PLUGIN_SYSTEM_PATH_1_0", None)
        asan = env.get("ASAN_OPTIONS", "")
        leaks = "1" if sanitized_leaks else "0"
        # (the last setting wins) Full unwinding with the leak check, as tests/elements does: the
        # suppressions match frames inside uninstrumented libraries (GLib, GStreamer).
        env["ASAN_OPTIONS"] = ((asan + ":" if asan else "") + f"detect_leaks={leaks}"
                               + (":fast_unwind_on_malloc=0" if sanitized_leaks else ""))
        # The elements' suppressions (GLib's constructor, plugin loading, fontconfig) are
        # all a daemon run needs.
        supp = os.path.join(self.src, "tests", "elements", "lsan.supp")
        env["LSAN_OPTIONS"] = f"suppressions={supp}:print_suppressions=0"
        return env

    def start_rtsp(self, port):
        log = open(os.path.join(self.work, "rtsp_server.log"), "a")
        p = subprocess.Popen(
            [self.args.rtsp_server, "--port", str(port), "--path", "/test",
             "--size", f"{WIDTH}x{HEIGHT}", "--fps", str(FPS)],
            stdout=subprocess.PIPE, stderr=log, text=True, env=self.env(False))
        line = ""
        end = time.monotonic() + 20
        os.set_blocking(p.stdout.fileno(), False)
        while time.monotonic() < end and p.poll() is None:
            chunk = p.stdout.readline()
            if chunk:
                line = chunk.strip()
                break
            time.sleep(0.05)
        if not line.startswith("ready rtsp://"):
            p.kill()
            raise Failure(f"rtsp_server on port {port} not ready within 20 s "
                          f"(exit {p.poll()}, stdout {line!r}; see {log.name})")
        return p

    def stop_rtsp(self):
        if self.rtsp and self.rtsp.poll() is None:
            self.rtsp.send_signal(signal.SIGTERM)
            try:
                rc = self.rtsp.wait(10)
            except subprocess.TimeoutExpired:
                self.rtsp.kill()
                raise Failure("rtsp_server did not exit within 10 s of SIGTERM")
            if rc != 0:
                raise Failure(f"rtsp_server exited with {rc} on SIGTERM")
        self.rtsp = None

    def daemon_stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- waiting -----------------------------------------------------------------------------

    def wait_for(self, sub, cond, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return time.monotonic()
            if self.daemon.poll() is not None:
                raise Failure(f"camstreamd exited with {self.daemon.returncode} while waiting "
                              f"for {what}")
            sub.pump(0.1)
        if cond():
            return time.monotonic()
        raise Failure(f"{what}: not within {timeout:g} s; last status: {self.status_text(sub)}")

    def status_text(self, sub):
        out = []
        for name, st in sorted(sub.status.items()):
            m = st.last
            out.append(f"{name}: {sub.pb.StreamState.Name(m.state)} fps {m.fps:.1f} "
                       f"restarts {m.restarts} last_error {m.last_error!r} "
                       f"frames_out {m.frames_out}")
        for name, f in sorted(sub.frames.items()):
            out.append(f"{name}: {f.count} frames received")
        return "; ".join(out) or "none received"

    def check_clean(self, sub, names):
        for name in names:
            f = sub.frames_of(name)
            if f.errors:
                raise Failure(f"{name}: bad frames: " + "; ".join(f.errors[:5]))
            st = sub.status_of(name)
            if st.errors:
                raise Failure(f"{name}: bad status messages: " + "; ".join(st.errors[:5]))
            if st.gaps:
                raise Failure(f"{name}: {st.gaps} status messages lost (sequence gaps)")
        if sub.bad:
            raise Failure("protocol errors: " + "; ".join(sub.bad[:5]))

    def note(self, text):
        line = f"[{time.monotonic() - self.t0:6.1f} s] {text}"
        print("daemon_e2e: " + line, flush=True)
        self.summary.append(line)

    # -- the test ----------------------------------------------------------------------------

    def run(self):
        args = self.args
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(os.path.join(self.work, "py"))
        subprocess.run(["protoc", "--python_out=" + os.path.join(self.work, "py"),
                        "-I" + os.path.join(self.src, "proto"),
                        os.path.join(self.src, "proto", "camstream.proto")], check=True)
        sys.path.insert(0, os.path.join(self.work, "py"))
        pb = importlib.import_module("camstream_pb2")
        import zmq

        rtsp_port, pub_port, ctl_port = free_port(), free_port(), free_port()
        while len({rtsp_port, pub_port, ctl_port}) < 3:
            ctl_port = free_port()
        rtsp_url = f"rtsp://127.0.0.1:{rtsp_port}/test"
        self.rtsp = self.start_rtsp(rtsp_port)
        self.note(f"rtsp_server ready at {rtsp_url}")

        model = os.path.join(self.src, "tests", "models", "gap_cnn_op13", "model.onnx")
        conf = os.path.join(self.work, "daemon.conf")
        control = f"tcp://127.0.0.1:{ctl_port}"
        publish = f"tcp://127.0.0.1:{pub_port}"

        def stream(name, source):
            return (f"\n[stream {name}]\nsource = {source}\nwidth = {WIDTH}\nheight = {HEIGHT}\n"
                    f"framerate = {FPS}\nmodel = gap\nchain = csnormalize ! csinfer top-k=3\n")

        with open(conf, "w") as f:
            f.write(f"# daemon_e2e.py\n[daemon]\npublish = {publish}\ncontrol = {control}\n"
                    f"log_level = info\nthreads = 1\nstatus_interval = {STATUS_INTERVAL_MS}\n"
                    f"restart_delay = {RESTART_DELAY_MS}\n"
                    f"shutdown_timeout = {SHUTDOWN_TIMEOUT_MS}\n"
                    f"\n[model gap]\ndescription = {model}\n")
            f.write(stream("cam_test", "testsrc://ball"))
            f.write(stream("cam_rtsp", rtsp_url))

        sub = Subscriber(zmq, pb, publish, {})
        self.stderr_path = os.path.join(self.work, "camstreamd.stderr")
        sanitized = is_sanitized(args.daemon)
        leaks = sanitized and not args.no_leak_check
        with open(self.stderr_path, "w") as err:
            self.daemon = subprocess.Popen([args.daemon, conf], stdout=err, stderr=err,
                                           env=self.env(leaks))
        self.note(f"camstreamd started (pid {self.daemon.pid}, "
                  f"{'ASan, leak check ' + ('on' if leaks else 'off') if sanitized else 'release'})")

        # 1. Frames from both streams.
        n = args.frames
        t = self.wait_for(sub, lambda: all(sub.frames_of(s).count >= n
                                           for s in ("cam_test", "cam_rtsp")),
                          60 if not sanitized else 120, f"{n} frames from cam_test and cam_rtsp")
        self.check_clean(sub, ["cam_test", "cam_rtsp"])
        for s in ("cam_test", "cam_rtsp"):
            f = sub.frames_of(s)
            if f.gaps:
                raise Failure(f"{s}: {f.gaps} sequence gaps in the first {f.count} messages")
            if f.runs != 1:
                raise Failure(f"{s}: {f.runs} publisher runs before any failure")
        self.wait_for(sub, lambda: all(sub.status_of(s).last is not None and
                                       sub.status_of(s).last.state == pb.STREAM_STATE_RUNNING
                                       for s in ("cam_test", "cam_rtsp")),
                      5, "RUNNING status for cam_test and cam_rtsp")
        self.note(f"{n}+ frames from each stream: " + ", ".join(
            f"{s} {sub.frames_of(s).count} (gaps {sub.frames_of(s).gaps}, stages "
            f"{','.join(sorted(sub.frames_of(s).stage_names))})" for s in ("cam_test", "cam_rtsp")))
        for s in ("cam_test", "cam_rtsp"):
            m = sub.status_of(s).last
            self.note(f"status {s}: fps {m.fps:.1f}, p50 {m.latency_p50_ns / 1e6:.1f} ms, "
                      f"frames_in {m.frames_in}, frames_out {m.frames_out}, "
                      f"dropped {m.frames_dropped}, msgs dropped {m.messages_dropped}")

        # 2. Source failure: kill the RTSP server.
        test_before = sub.frames_of("cam_test").count
        rtsp = sub.status_of("cam_rtsp")
        mark = len(rtsp.states)
        self.rtsp.kill()
        self.rtsp.wait()
        self.rtsp = None
        t_kill = time.monotonic()
        self.note("rtsp_server killed (SIGKILL)")

        def failed_seen():
            return any(s in ("STREAM_STATE_RESTARTING", "STREAM_STATE_FAILED") and e
                       for _, s, _, e in rtsp.states[mark:])
        t = self.wait_for(sub, failed_seen, 30,
                          "cam_rtsp RESTARTING/FAILED status with last_error after the RTSP "
                          "server was killed")
        state = next((s, e) for _, s, _, e in rtsp.states[mark:]
                     if s in ("STREAM_STATE_RESTARTING", "STREAM_STATE_FAILED") and e)
        self.note(f"cam_rtsp {state[0]} {t - t_kill:.1f} s after the kill: last_error {state[1]!r}")
        # Stay down a while: at least one restart attempt fails.
        sub.pump(2.0)
        ft = sub.frames_of("cam_test")
        if ft.count - test_before < FPS:
            raise Failure(f"cam_test delivered {ft.count - test_before} frames while cam_rtsp "
                          f"was failing (expected >= {FPS})")
        if ft.runs != 1 or ft.gaps:
            raise Failure(f"cam_test disturbed by cam_rtsp's failure: runs {ft.runs}, "
                          f"gaps {ft.gaps}")
        self.note(f"cam_test kept delivering: {ft.count - test_before} frames during the outage, "
                  f"sequence continuous")

        # Restart the server on the same port.
        self.rtsp = self.start_rtsp(rtsp_port)
        t_up = time.monotonic()
        fr = sub.frames_of("cam_rtsp")
        count_up = fr.count

        def back():
            m = rtsp.last
            return (m.state == pb.STREAM_STATE_RUNNING and m.restarts >= 1
                    and fr.count >= count_up + 20)
        t = self.wait_for(sub, back, 30 if not sanitized else 60,
                          "cam_rtsp RUNNING with restarts >= 1 and 20 new frames after the RTSP "
                          "server came back")
        self.check_clean(sub, ["cam_test", "cam_rtsp"])
        rtsp_restarts = rtsp.last.restarts
        self.note(f"cam_rtsp back {t - t_up:.1f} s after the server restarted: restarts "
                  f"{rtsp_restarts}, publisher runs {fr.runs}, first sequence of each run "
                  f"{fr.first_seq_of_run}")
        self.note("cam_rtsp states since the kill: " + " -> ".join(
            f"{s[13:]}(r{r})" for _, s, r, _ in rtsp.states[mark:]))

        # 3. Reload: append a third stream, SIGHUP.
        test_status = sub.status_of("cam_test").last
        test_restarts = test_status.restarts
        runs_before = {s: sub.frames_of(s).runs for s in ("cam_test", "cam_rtsp")}
        with open(conf, "a") as f:
            f.write(stream("cam_new", "testsrc://smpte"))
        t_hup = time.monotonic()
        self.daemon.send_signal(signal.SIGHUP)
        self.note("appended [stream cam_new], SIGHUP")
        fn = sub.frames_of("cam_new")
        t = self.wait_for(sub, lambda: fn.count >= 30, 30 if not sanitized else 60,
                          "30 frames from cam_new after SIGHUP")
        self.note(f"cam_new: 30 frames {t - t_hup:.1f} s after SIGHUP")
        sub.pump(1.5)  # a status round after the reload
        self.check_clean(sub, ["cam_test", "cam_rtsp", "cam_new"])
        for s in ("cam_test", "cam_rtsp"):
            f = sub.frames_of(s)
            if f.runs != runs_before[s]:
                raise Failure(f"{s} was restarted by the reload (publisher runs {runs_before[s]} "
                              f"-> {f.runs}) although its configuration did not change")
        if sub.status_of("cam_test").last.restarts != test_restarts:
            raise Failure(f"cam_test restarts changed over the reload: {test_restarts} -> "
                          f"{sub.status_of('cam_test').last.restarts}")
        if sub.status_of("cam_rtsp").last.restarts != rtsp_restarts:
            raise Failure(f"cam_rtsp restarts changed over the reload: {rtsp_restarts} -> "
                          f"{sub.status_of('cam_rtsp').last.restarts}")
        for s in ("cam_test", "cam_new"):
            if any(r for _, _, r, _ in sub.status_of(s).states):
                raise Failure(f"{s} reported restarts although its source never failed: "
                              f"{sub.status_of(s).states}")
        self.note("cam_test and cam_rtsp untouched by the reload (same publisher run, sequence "
                  "continuous, restarts unchanged)")

        # 4. camstreamctl list, when built.
        ctl = args.camstreamctl or next(
            (p for p in (os.path.join(self.build, "pipeline", "camstreamctl"),
                         os.path.join(self.build, "cli", "camstreamctl")) if os.path.exists(p)),
            None)
        if ctl:
            r = subprocess.run([ctl, "-e", control, "list"], capture_output=True, text=True,
                               timeout=20, env=self.env(False))
            if r.returncode != 0:
                raise Failure(f"camstreamctl -e {control} list exited {r.returncode}: "
                              f"{r.stderr.strip()}")
            missing = [s for s in ("cam_test", "cam_rtsp", "cam_new") if s not in r.stdout]
            if missing:
                raise Failure(f"camstreamctl list does not show {missing}:\n{r.stdout}")
            self.note("camstreamctl list: " + " | ".join(r.stdout.strip().splitlines()))
            r = subprocess.run([ctl, "-e", control, "status"], capture_output=True, text=True,
                               timeout=20, env=self.env(False))
            self.note(f"camstreamctl status: exit {r.returncode}, {len(r.stdout.splitlines())} "
                      f"lines")
        else:
            self.note("camstreamctl not built: list not checked")

        # camstream sub (d2's subscriber), when built: a few cam_new frames as JSON lines.
        cli = os.path.join(self.build, "cli", "camstream")
        if os.path.exists(cli) and subprocess.run([cli, "sub", "--help"], capture_output=True,
                                                  env=self.env(False)).returncode == 0:
            r = subprocess.run([cli, "sub", publish, "--stream", "cam_new", "--topic", "frame",
                                "--count", "5", "--timeout", "10"], capture_output=True,
                               text=True, timeout=30, env=self.env(False))
            lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
            if r.returncode != 0 or len(lines) != 5 or any(
                    x.get("topic") != "frame.cam_new" or x.get("stream_id") != "cam_new"
                    or not x.get("top_k") for x in lines):
                raise Failure(f"camstream sub {publish} --stream cam_new --count 5: exit "
                              f"{r.returncode}, {len(lines)} lines: {r.stdout[:500]!r} "
                              f"{r.stderr[:300]!r}")
            self.note(f"camstream sub: 5 cam_new frames as JSON (sequence "
                      f"{lines[0].get('sequence')}..{lines[-1].get('sequence')})")
        sub.pump(0.2)

        # 5. SIGTERM: drain and exit 0 with a final STOPPED status per stream.
        names = ("cam_test", "cam_rtsp", "cam_new")
        marks = {s: len(sub.status_of(s).states) for s in names}
        t_term = time.monotonic()
        self.daemon.send_signal(signal.SIGTERM)
        limit = SHUTDOWN_TIMEOUT_MS / 1000 + (10 if not sanitized else 20)
        while self.daemon.poll() is None and time.monotonic() - t_term < limit:
            sub.pump(0.1)
        if self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
            raise Failure(f"camstreamd still running {limit:g} s after SIGTERM")
        t_exit = time.monotonic() - t_term
        sub.pump(1.0)  # whatever was still in flight
        rc = self.daemon.returncode
        if rc != 0:
            raise Failure(f"camstreamd exited with {rc} after SIGTERM (expected 0)")
        self.note(f"SIGTERM: exit 0 after {t_exit:.2f} s")
        not_stopped = [s for s in names
                       if not any(st == "STREAM_STATE_STOPPED"
                                  for _, st, _, _ in sub.status_of(s).states[marks[s]:])]
        if not_stopped:
            raise Failure(f"no STOPPED status after SIGTERM for {not_stopped}; last status: "
                          f"{self.status_text(sub)}")
        self.check_clean(sub, names)
        stderr = self.daemon_stderr()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "CRITICAL **", "GLib-CRITICAL", "GStreamer-CRITICAL"):
            if marker in stderr:
                raise Failure(f"camstreamd's stderr contains {marker!r}")
        self.note("final STOPPED status for every stream; stderr has no sanitizer report or "
                  "CRITICAL")
        self.note("totals: " + ", ".join(
            f"{s} {sub.frames_of(s).count} frames (gaps {sub.frames_of(s).gaps}, runs "
            f"{sub.frames_of(s).runs}, status msgs {sub.status_of(s).count})" for s in names))
        lat = sub.frames_of("cam_test").latencies_ms
        if lat:
            lat.sort()
            self.note(f"cam_test capture->publish latency: p50 {lat[len(lat) // 2]:.1f} ms, "
                      f"max {lat[-1]:.1f} ms")

    def cleanup(self):
        for p in (self.daemon, self.rtsp):
            if p and p.poll() is None:
                p.kill()
                p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--daemon", required=True, help="camstreamd binary")
    ap.add_argument("--rtsp-server", required=True, help="tests/e2e/rtsp_server binary")
    ap.add_argument("--camstreamctl", help="default: the build's, when it exists")
    ap.add_argument("--frames", type=int, default=100, help="frames per stream first (100)")
    ap.add_argument("--no-leak-check", action="store_true",
                    help="ASan builds: run the daemon with detect_leaks=0")
    test = Test(ap.parse_args())
    try:
        test.run()
    except Failure as e:
        print(f"daemon_e2e: FAIL: {e}", file=sys.stderr)
        if test.daemon is not None:
            print("---- camstreamd stderr ----", file=sys.stderr)
            print(test.daemon_stderr()[-20000:], file=sys.stderr)
            print("---- end ----", file=sys.stderr)
        test.cleanup()
        return 1
    finally:
        test.cleanup()
    print("daemon_e2e: ok")
    print("\n".join("  " + s for s in test.summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
