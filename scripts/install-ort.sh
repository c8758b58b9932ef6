#!/usr/bin/env bash
# Installs onnxruntime-node (bench/package.json) into bench/node_modules when it does not load:
# the peer of the side-by-side benchmark (bench/run.sh) and the oracle that tests/cli_train.sh
# runs a trained, exported model through. ONNXRUNTIME_NODE_INSTALL=skip: nothing is downloaded
# besides the npm package itself, which ships the CPU library.
set -euo pipefail
bench=$(cd "$(dirname "$0")/../bench" && pwd)
command -v node >/dev/null || { echo "install-ort: node not found (apt-get install nodejs npm)" >&2; exit 1; }
if (cd "$bench" && node -e "require('onnxruntime-node')" 2>/dev/null); then
  exit 0
fi
echo "install-ort: installing onnxruntime-node into bench/node_modules"
(cd "$bench" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-package-lock --no-audit --no-fund) ||
  { echo "install-ort: npm install failed" >&2; exit 1; }
(cd "$bench" && node -e "require('onnxruntime-node')") ||
  { echo "install-ort: onnxruntime-node installed but does not load" >&2; exit 1; }
