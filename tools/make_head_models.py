#!/usr/bin/python3
"""Export small localization test models (a classification head, a box-regression head and a
keypoint-regression head on one shared backbone) for the cslocalize element tests.

Development-time only. Weights are random but fixed (no training: a later issue trains real
ones); run with Debian's torch 1.13 and onnx 1.12:

    /usr/bin/python3 tools/make_head_models.py           # -> tests/models/loc_tiny/
    /usr/bin/python3 tools/make_head_models.py --check   # re-export and compare bytes

loc_tiny: input "input" 1x3x64x64; outputs
    "logits"     1x5      class scores before softmax
    "boxes"      1x4      cx, cy, w, h normalized to [0,1] of the input (Sigmoid)
    "keypoints"  1x10     5 joints (x, y), normalized to the box (Sigmoid)
Layout as tools/export_models.py: model.onnx, test_data_set_0/input_0.pb and
output_0.pb (logits), output_1.pb (boxes), output_2.pb (keypoints).
"""

import argparse
import io
import os
import sys
import tempfile
import warnings
import zlib

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "tests", "models")
N_CLASSES = 5
N_JOINTS = 5
HW = 64
OUTPUTS = ["logits", "boxes", "keypoints"]


class LocTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.cls = nn.Linear(16, N_CLASSES)
        self.box = nn.Linear(16, 4)
        self.kp = nn.Linear(16, 2 * N_JOINTS)

    def forward(self, x):
        f = torch.flatten(self.pool(self.features(x)), 1)
        return self.cls(f), torch.sigmoid(self.box(f)), torch.sigmoid(self.kp(f))


def build():
    torch.manual_seed(zlib.crc32(b"loc_tiny") & 0x7FFFFFFF)
    model = LocTiny().eval()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, m.in_features**-0.5)
            nn.init.uniform_(m.bias, -0.1, 0.1)
    return model


def export(out_dir):
    model = build()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 3, HW, HW), buf, opset_version=13,
                          do_constant_folding=True, input_names=["input"],
                          output_names=OUTPUTS)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    d = os.path.join(out_dir, "loc_tiny")
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    files = {os.path.join(d, "model.onnx"): buf.getvalue()}
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(1, 3, HW, HW, generator=gen)
    with torch.no_grad():
        ys = model(x)
    files[os.path.join(ds, "input_0.pb")] = numpy_helper.from_array(
        x.numpy().astype(np.float32), "input").SerializeToString()
    for i, (n, y) in enumerate(zip(OUTPUTS, ys)):
        files[os.path.join(ds, "output_%d.pb" % i)] = numpy_helper.from_array(
            y.numpy().astype(np.float32), n).SerializeToString()
    for p, data in files.items():
        with open(p, "wb") as f:
            f.write(data)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare a fresh export with tests/models")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            files = export(tmp)
            bad = 0
            for p, data in files.items():
                ref = os.path.join(OUT_DIR, os.path.relpath(p, tmp))
                if not os.path.exists(ref) or open(ref, "rb").read() != data:
                    print("differs: %s" % ref)
                    bad += 1
            sys.exit(1 if bad else 0)
    files = export(OUT_DIR)
    for p in sorted(files):
        print("wrote %s (%d bytes)" % (os.path.relpath(p, REPO), len(files[p])))


if __name__ == "__main__":
    main()
