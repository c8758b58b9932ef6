# Set-up shared by the camstreamd test scripts (sourced, never run). The caller sets $d to the
# camstreamd binary, then:
#
#     daemon_test_init NAME   a temp dir $tmp (removed on exit, with the daemon $pid killed),
#                             failures=0, and the environment every daemon run needs
#     bad MESSAGE...          one FAIL line on stderr; counted in $failures
#     free_ports N            N free loopback TCP ports, space-separated

daemon_test_cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$tmp"
}

daemon_test_init() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-$1.XXXXXX")
    pid=
    trap daemon_test_cleanup EXIT
    failures=0
    # A sanitizer build loads GStreamer's own (uninstrumented) plugins: their exit-time
    # allocations are not ours to report (the GstHarness tests check our leaks).
    if ldd "$d" 2>/dev/null | grep -q libasan; then
        export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    fi
    export GST_REGISTRY=$tmp/registry.bin
    unset GST_PLUGIN_PATH
}

bad() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

free_ports() {
    /usr/bin/python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}
