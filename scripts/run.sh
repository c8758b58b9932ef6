#!/usr/bin/env bash
# Installs what is missing, builds, and runs the daemon on the default configuration: the
# bundled synthetic clip (models/shapes_demo.mkv) in a loop, classified, boxed and explained by
# the bundled multitask model (models/), published on tcp://127.0.0.1:5555 and recorded to
# recordings/default.mkv (configs/default.conf).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build
if [ ! -x build/pipeline/camstreamd ]; then
  echo "run.sh: build/pipeline/camstreamd was not built (it needs GStreamer and ZeroMQ)" >&2
  exit 1
fi
cat >&2 <<'MSG'
run.sh: starting camstreamd configs/default.conf (Ctrl-C stops it and finalizes the recording)
  frames and status:  /usr/bin/python3 examples/subscriber.py tcp://127.0.0.1:5555 --status
                      build/cli/camstream sub tcp://127.0.0.1:5555   (when built)
  recording:          recordings/default.mkv
MSG
exec build/pipeline/camstreamd configs/default.conf
