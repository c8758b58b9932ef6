#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite twice: an optimized build
# and an AddressSanitizer + UBSan build. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

build() { # dir, extra meson args...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then meson setup "$dir" "$@"; fi
  ninja -C "$dir"
}

build build
meson test -C build --print-errorlogs --num-processes 2

build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --print-errorlogs --num-processes 2
