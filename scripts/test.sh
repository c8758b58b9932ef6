#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite twice: an optimized build
# and an AddressSanitizer + UBSan build; in between, a set of C tests under valgrind. This is
# what CI runs (.ci/run).
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

# valgrind's memcheck on the C tests of the file parsers, the engine's plans, the preprocessing,
# the daemon's libraries and the elements: any memory error, or memory definitely lost, fails
# (tests/valgrind.supp names what GLib and fontconfig keep for the process's life).
meson test -C build --setup valgrind --print-errorlogs --num-processes 2 \
  test_loader test_bad_input test_formats test_config test_control test_publisher \
  test_stream_stats test_dataset test_curve_keys test_plan test_plan_share test_pp_threads \
  test_colormap test_meta test_csnormalize test_csinfer test_cslocalize test_csoverlay test_cspublish

build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --print-errorlogs --num-processes 2
