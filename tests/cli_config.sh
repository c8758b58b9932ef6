#!/bin/sh
# `camstreamd --check`: the shipped configurations are valid (exit 0, a summary on stdout); a
# broken one exits 1 with exactly one line `FILE:LINE: ...` on stderr (in running mode: one log
# line); --help, --version, --log-level.
#
#     cli_config.sh CAMSTREAMD SOURCE_DIR
set -u
if [ $# -ne 2 ]; then
    echo "usage: cli_config.sh CAMSTREAMD SOURCE_DIR" >&2
    exit 2
fi
d=$1 src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-cli-config.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0

bad() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

for f in "$src/configs/default.conf" "$src"/configs/examples/*.conf; do
    "$d" --check "$f" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq 0 ] || bad "--check $f: exit $rc: $(cat "$tmp/err")"
    [ -s "$tmp/err" ] && bad "--check $f: stderr not empty"
    grep -q "^$f: valid$" "$tmp/out" || bad "--check $f: no 'valid' line"
    grep -q "^streams: " "$tmp/out" || bad "--check $f: no stream summary"
    grep -q "cspublish name=publish endpoint=tcp://127.0.0.1:5555" "$tmp/out" || bad "--check $f: no pipeline"
done

# broken: FILE LINE SUBSTRING
expect_broken() {
    printf '%b' "$1" >"$tmp/broken.conf"
    "$d" --check "$tmp/broken.conf" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq 1 ] || bad "broken ($3): exit $rc, expected 1"
    [ -s "$tmp/out" ] && bad "broken ($3): stdout not empty"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || bad "broken ($3): not one line: $(cat "$tmp/err")"
    grep -qF "$tmp/broken.conf:$2: " "$tmp/err" || bad "broken ($3): no file:line $2: $(cat "$tmp/err")"
    grep -qF "$3" "$tmp/err" || bad "broken ($3): reason missing: $(cat "$tmp/err")"
}
expect_broken '[daemon]\nthreads = 2\nspeed = 3\n' 3 "[daemon] speed: unknown key (allowed: "
expect_broken '[stream s]\nsource = mms://x\nchain = queue\n' 2 "unknown scheme"
expect_broken '[daemon]\npublish = tcp://0.0.0.0:5555\n[stream s]\nsource = testsrc://\nchain = queue\n' 2 "not a loopback address"
expect_broken '[model m]\ndescription = nope.onnx\n[stream s]\nsource = testsrc://\nmodel = m\n' 2 "no such file"
# CURVE: a key file that is not one, a client list without the server key
printf '[curve]\npublic-key = not-a-key\n' >"$tmp/corrupt.key"
printf '# no keys needed: curve_key is checked first\n' >"$tmp/authorized.txt"
expect_broken '[daemon]\ncurve_key = corrupt.key\n[stream s]\nsource = testsrc://\nchain = queue\n' 2 "[daemon] curve_key: $tmp/corrupt.key:2: public-key: "
expect_broken '[daemon]\ncurve_authorized = authorized.txt\n[stream s]\nsource = testsrc://\nchain = queue\n' 2 "[daemon] curve_authorized: needs curve_key"
"$d" --check "$src/configs/default.conf" | grep -qx "curve: off (plain TCP)" || bad "--check: no 'curve: off' line"

"$d" --check "$tmp/nonexistent.conf" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] || bad "missing file: exit status"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || bad "missing file: not one line"

"$d" --help >"$tmp/out" 2>&1 || bad "--help: exit status"
grep -q -- "--check FILE" "$tmp/out" || bad "--help: no --check"
"$d" --version >"$tmp/out" 2>&1 || bad "--version: exit status"
grep -q "^camstreamd [0-9]" "$tmp/out" || bad "--version: $(cat "$tmp/out")"
"$d" --keys >"$tmp/out" 2>&1 || bad "--keys: exit status"
grep -qF '### `[stream NAME]`' "$tmp/out" || bad "--keys: no stream table"
"$d" --help | grep -q -- "--log-level LEVEL" || bad "--help: no --log-level"
# running mode: a broken file is one log line naming file:line, exit 1 (nothing started)
printf '[stream s]\nsource = testsrc://\nchain = queue\nloop = true\n' >"$tmp/loop.conf"
"$d" "$tmp/loop.conf" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] || bad "running a broken file: exit $rc, expected 1"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || bad "running a broken file: not one line: $(cat "$tmp/err")"
grep -qE "^camstreamd\[[0-9]+\] [0-9-]{10} [0-9:.]{12} E $tmp/loop.conf:4: \[stream s\] loop: only for file: sources" "$tmp/err" ||
    bad "running a broken file: $(cat "$tmp/err")"
"$d" --log-level loud "$src/configs/default.conf" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] || bad "--log-level loud: exit status"
grep -q "not a level (allowed: error, warning, info, debug)" "$tmp/err" || bad "--log-level: message"
"$d" --frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || bad "unknown option: exit status"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "cli_config: all passed"
