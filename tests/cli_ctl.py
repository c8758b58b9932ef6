#!/usr/bin/python3
"""camstreamctl against a stand-in daemon: a pyzmq REP socket that decodes each request with the
Python code protoc generates from proto/control.proto (an implementation we did not write) and
answers canned ControlReply messages. Checks the request camstreamctl sends for every command,
its table and --json output (compared with json_format.MessageToDict of the reply), error
replies (exit 1, the daemon's error on stderr), an unreachable daemon (bounded by -t) and usage
errors.

    CS_CAMSTREAM=build/cli/camstream tests/cli_ctl.py CAMSTREAMCTL SOURCE_DIR

CS_CAMSTREAM (for `camstream keygen`) enables the CURVE checks.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

import zmq

CTL, SRC = sys.argv[1], sys.argv[2]
WORK = tempfile.mkdtemp(prefix="cs-ctl-")
subprocess.run(["protoc", "--python_out=" + WORK, "-I" + os.path.join(SRC, "proto"),
                os.path.join(SRC, "proto", "camstream.proto"),
                os.path.join(SRC, "proto", "control.proto")], check=True)
sys.path.insert(0, WORK)
import camstream_pb2 as pb  # noqa: E402
import control_pb2 as cpb  # noqa: E402
from google.protobuf import json_format  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def info(name, origin="file"):
    return cpb.StreamInfo(stream_id=name, state=pb.STREAM_STATE_RUNNING, source="testsrc://ball",
                          model="gap", origin=origin, launch="videotestsrc ! cspublish",
                          publish="tcp://127.0.0.1:5555")


def answer(req):
    """The stand-in daemon's reply to a request."""
    kind = req.WhichOneof("request")
    if kind == "list":
        return cpb.ControlReply(ok=True, streams=[info("cam0"), info("cam1", "control")],
                                message="2 streams")
    if kind == "status":
        if req.status.stream_id not in ("", "cam0"):
            return cpb.ControlReply(ok=False, error="status: no stream '%s'" %
                                    req.status.stream_id)
        return cpb.ControlReply(ok=True, statuses=[pb.StreamStatus(
            stream_id="cam0", state=pb.STREAM_STATE_FAILED, fps=24.5, latency_p50_ns=12000000,
            latency_p99_ns=30000000, frames_in=100, frames_out=99, frames_dropped=1,
            restarts=3, uptime_ns=5 * 10**9, last_error="no such file")])
    if kind == "add":
        return cpb.ControlReply(ok=True, streams=[info("cam9", "control")],
                                message="added 1 stream")
    if kind == "remove":
        return cpb.ControlReply(ok=False, error="remove: no stream '%s'" % req.remove.stream_id)
    if kind == "reload":
        return cpb.ControlReply(ok=True, message="added a; removed b; unchanged c")
    return cpb.ControlReply(ok=False, error="empty or unknown request")


ctx = zmq.Context()
rep = ctx.socket(zmq.REP)
rep.setsockopt(zmq.LINGER, 0)
rep.bind("tcp://127.0.0.1:*")
EP = rep.getsockopt(zmq.LAST_ENDPOINT).decode()
requests = []


stop = threading.Event()


def serve():
    while not stop.is_set():
        if not rep.poll(100):
            continue
        data = rep.recv()
        req = cpb.ControlRequest.FromString(data)
        requests.append(req)
        rep.send(answer(req).SerializeToString())


server = threading.Thread(target=serve)
server.start()


def ctl(*args, stdin=None):
    return subprocess.run([CTL, "-e", EP] + list(args), capture_output=True, text=True,
                          input=stdin, timeout=60)


def main():
    p = ctl("list")
    check(p.returncode == 0 and requests[-1].WhichOneof("request") == "list", "list request")
    lines = p.stdout.splitlines()
    check(lines[0].split() == ["STREAM", "STATE", "ORIGIN", "MODEL", "SOURCE"], "list header")
    check(lines[1].split() == ["cam0", "RUNNING", "file", "gap", "testsrc://ball"] and
          lines[2].split()[2] == "control", "list rows: %s" % lines)

    p = ctl("--json", "list")
    got = json.loads(p.stdout)
    want = json_format.MessageToDict(answer(requests[-1]), preserving_proto_field_name=True,
                                     including_default_value_fields=True)
    check(p.returncode == 0 and got == want, "--json list equals MessageToDict:\n%s\n%s" %
          (got, want))

    p = ctl("status", "cam0")
    check(p.returncode == 0 and requests[-1].status.stream_id == "cam0", "status cam0 request")
    row = p.stdout.splitlines()[1].split()
    check(row[:5] == ["cam0", "FAILED", "24.5", "12.0", "30.0"] and
          " ".join(row).endswith(" 3 5 no such file"), "status row: %s" % row)
    p = ctl("status")
    check(p.returncode == 0 and requests[-1].WhichOneof("request") == "status" and
          requests[-1].status.stream_id == "", "status (all)")
    p = ctl("status", "cam5")
    check(p.returncode == 1 and p.stderr == "camstreamctl: status: no stream 'cam5'\n" and
          p.stdout == "", "status error reply: %r" % p.stderr)

    conf = os.path.join(WORK, "add.conf")
    text = "[stream cam9]\nsource = testsrc://ball\nmodel = gap\n# ünï\n"
    with open(conf, "w") as f:
        f.write(text)
    p = ctl("add", conf)
    check(p.returncode == 0 and requests[-1].add.config == text, "add FILE sends the file")
    check(p.stdout.startswith("added 1 stream\n") and "cam9" in p.stdout, "add output")
    p = ctl("add", "-", stdin=text)
    check(p.returncode == 0 and requests[-1].add.config == text, "add - reads stdin")
    p = ctl("add", os.path.join(WORK, "missing.conf"))
    check(p.returncode == 1 and "missing.conf" in p.stderr, "add: unreadable file")

    p = ctl("remove", "cam7")
    check(p.returncode == 1 and requests[-1].remove.stream_id == "cam7" and
          p.stderr == "camstreamctl: remove: no stream 'cam7'\n", "remove error: %r" % p.stderr)
    p = ctl("--json", "remove", "cam7")
    check(p.returncode == 1 and json.loads(p.stdout)["ok"] is False, "--json error reply")
    p = ctl("reload")
    check(p.returncode == 0 and p.stdout == "added a; removed b; unchanged c\n", "reload")

    # Nobody listening: a bounded wait and a clear message.
    s = ctx.socket(zmq.REP)
    s.bind("tcp://127.0.0.1:*")
    free = s.getsockopt(zmq.LAST_ENDPOINT).decode()
    s.close()
    p = subprocess.run([CTL, "-e", free, "-t", "1", "list"], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 1 and p.stderr == "camstreamctl: no reply from %s within 1 s: is "
          "camstreamd running?\n" % free, "unreachable daemon: %r" % p.stderr)

    # CURVE: a stand-in daemon with keys from `camstream keygen` (read with configparser):
    # the right server key gets the answer, a wrong one a bounded wait and a hint.
    import configparser
    cs = os.environ.get("CS_CAMSTREAM")
    if cs:
        for name in ("server", "other"):
            subprocess.run([cs, "keygen", os.path.join(WORK, name)], check=True,
                           capture_output=True)
        cp = configparser.ConfigParser(interpolation=None)
        cp.read(os.path.join(WORK, "server.key"))
        crep = ctx.socket(zmq.REP)
        crep.setsockopt(zmq.LINGER, 0)
        crep.curve_server = True
        crep.curve_secretkey = cp["curve"]["secret-key"].encode()
        crep.bind("tcp://127.0.0.1:*")
        cep = crep.getsockopt(zmq.LAST_ENDPOINT).decode()
        p = subprocess.Popen([CTL, "-e", cep, "-t", "20", "--server-key",
                              os.path.join(WORK, "server.pub"), "reload"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check(crep.poll(20000), "CURVE request arrives")
        req = cpb.ControlRequest.FromString(crep.recv())
        crep.send(answer(req).SerializeToString())
        out, err = p.communicate(timeout=30)
        check(p.returncode == 0 and out == "added a; removed b; unchanged c\n",
              "CURVE reload: %d %r %r" % (p.returncode, out, err))
        p = subprocess.run([CTL, "-e", cep, "-t", "1", "--server-key",
                            os.path.join(WORK, "other.pub"), "list"], capture_output=True,
                           text=True, timeout=60)
        check(p.returncode == 1 and "(or the CURVE keys do not match)" in p.stderr,
              "wrong server key: %r" % p.stderr)
        check(not crep.poll(0), "nothing reached the daemon with the wrong key")
        crep.close()

    for args in ([], ["frobnicate"], ["remove"], ["add"], ["list", "x"], ["-t", "0", "list"],
                 ["--client-key", "a.key", "list"], ["--bogus"]):
        p = subprocess.run([CTL] + args, capture_output=True, text=True, timeout=60)
        check(p.returncode == 2 and p.stderr, "usage error %s: %d %r" % (args, p.returncode,
                                                                      p.stderr))
    n = len(requests)
    check(n == 10, "requests seen by the stand-in daemon: %d" % n)


try:
    main()
finally:
    stop.set()
    server.join()
    rep.close()
    ctx.term()
    shutil.rmtree(WORK, ignore_errors=True)
if failures:
    print("%d failure(s)" % len(failures), file=sys.stderr)
    sys.exit(1)
print("cli_ctl: all checks passed")
