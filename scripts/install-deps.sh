#!/usr/bin/env bash
# Installs the Debian 12 packages camstream needs to build, test and develop.
# Idempotent: asks apt only for what is missing.
#   scripts/install-deps.sh          build + test dependencies, with the oracles the tests run
#                                    (numpy, onnx, scikit-image, pyzmq, onnxruntime-node)
#   scripts/install-deps.sh --dev    also the development-time tools (PyTorch exporters, ...)
set -euo pipefail

pkgs=(
  build-essential pkg-config meson ninja-build clang
  libopenblas-dev libprotobuf-c-dev protobuf-c-compiler
  libonnx-dev libonnx-testdata libcmocka-dev valgrind
  libpng-dev libjpeg-dev
  libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  libcairo2-dev libpango1.0-dev fonts-dejavu-core libzmq3-dev
  libgstrtspserver-1.0-dev
)
# What the tests check against (never linked into the product): protobuf/pyzmq clients,
# numpy/onnx/scikit-image oracles, gst-discoverer-1.0, node for onnxruntime-node.
test_pkgs=(
  protobuf-compiler python3-protobuf python3-zmq python3-numpy python3-onnx python3-skimage
  gstreamer1.0-plugins-base-apps
)
dev_pkgs=(python3-torch python3-torchvision clang-format)
pkgs+=("${test_pkgs[@]}")
case ${1:-} in
  "") ;;
  --dev) pkgs+=("${dev_pkgs[@]}") ;;
  *) echo "install-deps: unknown option $1 (--dev)" >&2; exit 2 ;;
esac
command -v node >/dev/null || pkgs+=(nodejs npm)
ort() { "$(dirname "$0")/install-ort.sh"; }

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  ort
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
ort
