#!/usr/bin/python3
"""Export the ONNX models that camstream is tested and benchmarked on.

Development-time only: the product never runs this. It needs Debian's python3-torch (1.13),
python3-torchvision (0.14) and python3-onnx (1.12), so run it with /usr/bin/python3:

    /usr/bin/python3 tools/export_models.py                  # small test models -> tests/models/
    /usr/bin/python3 tools/export_models.py --big DIR        # the 5 torchvision models -> DIR/
    /usr/bin/python3 tools/export_models.py --big DIR --only resnet18,resnet50 --opset 13

Every model is written in the ONNX backend-test layout:

    <out>/<name>/model.onnx
    <out>/<name>/test_data_set_0/input_0.pb  output_0.pb     batch 1
    <out>/<name>/test_data_set_1/input_0.pb  output_0.pb     batch 8 (big) / batch 3 (small)

Weights are random but fixed (torch.manual_seed / a seeded torch.Generator per model, no
download: weights=None). BatchNorm layers get random non-trivial running statistics and affine
parameters so that BatchNorm folding in the engine is really exercised; the export keeps the
BatchNormalization nodes (TrainingMode.PRESERVE on a model in eval mode: torch's own Conv+BN
folding at export time is skipped). The first (batch) axis is dynamic, named "N".

Determinism: PyTorch runs on one thread here, and re-running the script reproduces every file
byte for byte (tests/models/SHA256SUMS lists the committed files; `--check` verifies them).
"""

import argparse
import hashlib
import io
import os
import sys
import warnings
import zlib

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_DIR = os.path.join(REPO, "tests", "models")
SMALL_OPSETS = (9, 11, 13)  # 9: Clip/MaxPool attribute forms; 11 and 13: current forms
BIG_MODELS = ("mobilenet_v2", "resnet18", "resnet50", "squeezenet1_1", "vgg11_bn")


def seed_of(name):
    """A per-model seed that does not depend on the order of export."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def randomize_batchnorm(model, gen, gain=1.0):
    """Random but sane BatchNorm parameters: gamma in [0.5, 1.5] * gain, beta in
    [-0.25, 0.25], running mean in [-0.1, 0.1], running var in [0.5, 2]."""
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            with torch.no_grad():
                mod.weight.copy_((torch.rand(c, generator=gen) + 0.5) * gain)
                mod.bias.copy_((torch.rand(c, generator=gen) - 0.5) * 0.5)
                mod.running_mean.copy_((torch.rand(c, generator=gen) - 0.5) * 0.2)
                mod.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)


# ---- small test models ------------------------------------------------------------------


def conv_bn_relu(cin, cout, k=3, stride=1, groups=1, act=nn.ReLU):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        act(inplace=True),
    )


class GapCnn(nn.Module):
    """conv+BN+ReLU x4, global average pooling, a fully connected classifier (10 classes)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu(3, 8),
            conv_bn_relu(8, 16, stride=2),
            conv_bn_relu(16, 32, stride=2),
            conv_bn_relu(32, 32),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.fc(torch.flatten(x, 1))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (unless t == 1), 3x3 depthwise, 1x1 linear projection,
    residual Add when the shape is kept."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers.append(conv_bn_relu(cin, hidden, k=1, act=nn.ReLU6))
        layers += [
            conv_bn_relu(hidden, hidden, k=3, stride=stride, groups=hidden, act=nn.ReLU6),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.residual else y


class MobileTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu(3, 16, stride=2, act=nn.ReLU6),
            InvertedResidual(16, 16, 1, 1),  # depthwise directly on the stem, residual
            InvertedResidual(16, 24, 2, 4),  # expand, depthwise stride 2
            InvertedResidual(24, 24, 1, 4),  # expand, depthwise stride 1, residual
            conv_bn_relu(24, 64, k=1, act=nn.ReLU6),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, 10))

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class ResnetTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.layer3 = BasicBlock(32, 48, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(48, 10)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# name: (constructor, input height/width, batch of test_data_set_1, BatchNorm gamma gain)
# mobile_tiny's gain makes some ReLU6 inputs exceed 6, so Clip's upper bound is exercised.
SMALL_MODELS = {
    "gap_cnn": (GapCnn, 32, 3, 1.0),
    "mobile_tiny": (MobileTiny, 32, 3, 3.0),
    "resnet_tiny": (ResnetTiny, 64, 3, 1.0),
}


def build_small(name):
    ctor, hw, _, gain = SMALL_MODELS[name]
    torch.manual_seed(seed_of(name))
    model = ctor().eval()
    # Larger weights than torch's defaults (He init for conv, 1/sqrt(fan_in) for FC), so the
    # outputs depend clearly on the input instead of being dominated by the biases.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, m.in_features**-0.5)
            nn.init.uniform_(m.bias, -0.1, 0.1)
    randomize_batchnorm(model, torch.Generator().manual_seed(seed_of(name) + 1), gain)
    return model, hw


def test_input(b, hw, gen):
    """Noise plus a smooth per-image pattern: global pooling of pure noise would give nearly
    the same features for every image, and outputs that hardly depend on the input."""
    noise = torch.randn(b, 3, hw, hw, generator=gen)
    coarse = torch.randn(b, 3, 4, 4, generator=gen)
    smooth = nn.functional.interpolate(coarse, size=(hw, hw), mode="bilinear", align_corners=False)
    return 0.5 * noise + smooth


def calibrate_batchnorm(model, x, gen):
    """Running statistics measured on x (one train-mode pass), then perturbed at random
    (var x [0.5, 2], mean + [-0.1, 0.1] std): deep nets stay in a sane range, with outputs
    that depend on the input, and BatchNorm still does non-trivial work."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: after one pass, the batch statistics
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()
    for m in bns:
        c = m.num_features
        with torch.no_grad():
            std = m.running_var.sqrt()
            m.running_mean.add_((torch.rand(c, generator=gen) - 0.5) * 0.2 * std)
            m.running_var.mul_(torch.rand(c, generator=gen) * 1.5 + 0.5)
        m.momentum = 0.1


def build_big(name):
    torch.manual_seed(seed_of(name))
    model = getattr(torchvision.models, name)(weights=None).eval()
    gen = torch.Generator().manual_seed(seed_of(name) + 1)
    randomize_batchnorm(model, gen)
    calibrate_batchnorm(model, test_input(4, 224, gen), gen)
    return model, 224


# ---- export -----------------------------------------------------------------------------


def onnx_bytes(model, hw, opset):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # PRESERVE + constant folding warns about training mode; the model is in eval mode.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            torch.zeros(1, 3, hw, hw),
            buf,
            export_params=True,
            opset_version=opset,
            do_constant_folding=True,
            training=torch.onnx.TrainingMode.PRESERVE,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
        )
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    ops = sorted({n.op_type for n in proto.graph.node})
    if "BatchNormalization" not in ops and any(
        isinstance(m, nn.BatchNorm2d) for m in model.modules()
    ):
        raise RuntimeError("export folded BatchNormalization away")
    return buf.getvalue(), ops


def tensor_bytes(arr, name):
    return numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name).SerializeToString()


def write(path, data, written):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    written.append(path)


def export(model, hw, name, out_dir, opset, batches, written, make_input):
    d = os.path.join(out_dir, name)
    data, ops = onnx_bytes(model, hw, opset)
    write(os.path.join(d, "model.onnx"), data, written)
    gen = torch.Generator().manual_seed(seed_of(name) + 2)
    for i, b in enumerate(batches):
        x = make_input(b, hw, gen)
        with torch.no_grad():
            y = model(x)
        ds = os.path.join(d, "test_data_set_%d" % i)
        write(os.path.join(ds, "input_0.pb"), tensor_bytes(x.numpy(), "input"), written)
        write(os.path.join(ds, "output_0.pb"), tensor_bytes(y.numpy(), "output"), written)
        print(
            "  %-18s opset %2d batch %d: output %s in [%.4g, %.4g]"
            % (name, opset, b, "x".join(map(str, y.shape)), float(y.min()), float(y.max()))
        )
    print("  %-18s %d bytes, ops: %s" % (name, len(data), " ".join(ops)))


def sha_lines(paths, root):
    lines = []
    for p in sorted(paths):
        with open(p, "rb") as f:
            lines.append("%s  %s\n" % (hashlib.sha256(f.read()).hexdigest(), os.path.relpath(p, root)))
    return "".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--big", metavar="DIR", help="export the torchvision models into DIR")
    ap.add_argument("--only", help="comma-separated subset of the models to export")
    ap.add_argument("--opset", type=int, default=13, help="opset of the big models (13)")
    ap.add_argument("--small", metavar="DIR", default=SMALL_DIR,
                    help="where the small test models go (tests/models)")
    ap.add_argument("--check", action="store_true",
                    help="export the small models to a temporary dir and compare with SHA256SUMS")
    args = ap.parse_args()

    torch.set_num_threads(1)  # one thread: deterministic reductions
    torch.use_deterministic_algorithms(True)
    written = []

    if args.big:
        names = args.only.split(",") if args.only else list(BIG_MODELS)
        for n in names:
            if n not in BIG_MODELS:
                sys.exit("export_models.py: unknown model '%s' (have: %s)" % (n, ", ".join(BIG_MODELS)))
        for n in names:
            model, hw = build_big(n)
            export(model, hw, n, args.big, args.opset, (1, 8), written, test_input)
        return

    out = args.small
    if args.check:
        import tempfile
        out = tempfile.mkdtemp(prefix="cs-models-")
    names = args.only.split(",") if args.only else list(SMALL_MODELS)
    for n in names:
        if n not in SMALL_MODELS:
            sys.exit("export_models.py: unknown model '%s' (have: %s)" % (n, ", ".join(SMALL_MODELS)))
    for n in names:
        model, hw = build_small(n)
        for opset in SMALL_OPSETS:
            export(model, hw, "%s_op%d" % (n, opset), out, opset, (1, SMALL_MODELS[n][2]),
                   written, test_input)
    sums = sha_lines(written, out)
    if args.check:
        with open(os.path.join(SMALL_DIR, "SHA256SUMS")) as f:
            want = f.read()
        if sums != want:
            sys.exit("export_models.py: exported files differ from tests/models/SHA256SUMS (in %s)" % out)
        print("all %d files identical to tests/models/SHA256SUMS" % len(written))
    elif not args.only:
        with open(os.path.join(out, "SHA256SUMS"), "w") as f:
            f.write(sums)


if __name__ == "__main__":
    main()
