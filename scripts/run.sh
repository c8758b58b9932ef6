#!/usr/bin/env bash
# Installs what is missing, builds, and runs camstream's main job on the bundled default
# model. (When the daemon lands, this starts camstreamd on configs/default.conf.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build
model=tests/models/resnet_tiny_op13
exec build/cli/camstream run "$model/model.onnx" --in "$model/test_data_set_0/input_0.pb" \
  --out-dir build/run-output --print --list
