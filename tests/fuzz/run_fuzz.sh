#!/usr/bin/env bash
# Runs fuzz_loader on one core for SECONDS (default 600) with a fresh seed corpus.
#   tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS] [extra libFuzzer flags...]
# The corpus lives in BUILD_DIR/fuzz-corpus (seeds: tests/fuzz/fuzz_seeds plus the small
# models of Debian's libonnx-testdata, copied at run time, never committed); crashes are
# written to BUILD_DIR/fuzz-artifacts/.
set -euo pipefail
build=${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS] [libFuzzer flags...]}
secs=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")" && pwd)
testdata=${CS_ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}

corpus=$build/fuzz-corpus
seeds=$build/fuzz-seeds
artifacts=$build/fuzz-artifacts
mkdir -p "$corpus" "$seeds" "$artifacts"
"$build/tests/fuzz/fuzz_seeds" "$seeds"
if [ -d "$testdata/node" ]; then
  # Small models only (at most 1 KiB): quick to mutate; the name keeps the case for reference.
  find "$testdata/node" -name model.onnx -size -2k | while read -r f; do
    cp "$f" "$seeds/$(basename "$(dirname "$f")").onnx"
  done
fi
for d in "$here/regressions"; do
  [ -d "$d" ] && cp "$d"/* "$seeds/" 2>/dev/null || true
done
echo "seeds: $(ls "$seeds" | wc -l) files"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# OpenBLAS would otherwise start a thread per core.
export OPENBLAS_NUM_THREADS=1
exec "$build/tests/fuzz/fuzz_loader" "$corpus" "$seeds" \
  -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=8192 \
  -dict="$here/onnx.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 "$@"
