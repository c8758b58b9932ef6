#!/usr/bin/python3
"""Independent check of the bundled models (models/README.md) on a dataset's test split.

Runs the ONNX graphs with PyTorch (a small interpreter of the operators the bundled
architectures use, not camstream's engine) and prints, per model given:

    classifier (logits):   top-1 accuracy
    box head (box):        mean IoU, and the same for the centre box of the training split's
                           mean size (baseline)
    decoder (--decoder):   reconstruction MSE of the normalized test images from the
                           classifier's `features`, and the MSE of predicting the training
                           split's mean normalized image (baseline)

    tools/eval_bundled.py --data DATA --model models/shapes_gap.onnx \
        [--decoder models/shapes_gap_decoder.onnx] [--split test]

Normalization: the model's .stats beside it (per-channel mean/std, scale 01), resize none
(the datasets are 64x64 already).
"""
import argparse
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from PIL import Image


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def run(model, feeds):
    """Evaluates every node in order; returns all values by name."""
    v = {k: torch.from_numpy(numpy_helper.to_array(t).copy()) for k, t in
         ((t.name, t) for t in model.graph.initializer)}
    v.update(feeds)
    for n in model.graph.node:
        a, x = attrs(n), [v[i] for i in n.input if i]
        op = n.op_type
        if op == "Conv":
            p = a.get("pads", [0, 0, 0, 0])
            y = F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None, a.get("strides", [1, 1]),
                         (p[0], p[1]))
        elif op == "ConvTranspose":
            p = a.get("pads", [0, 0, 0, 0])
            y = F.conv_transpose2d(x[0], x[1], x[2] if len(x) > 2 else None,
                                   a.get("strides", [1, 1]), (p[0], p[1]))
        elif op == "BatchNormalization":
            y = F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.0, a.get("epsilon", 1e-5))
        elif op == "Relu":
            y = F.relu(x[0])
        elif op == "Sigmoid":
            y = torch.sigmoid(x[0])
        elif op == "GlobalAveragePool":
            y = x[0].mean((2, 3), keepdim=True)
        elif op == "Flatten":
            y = x[0].reshape(x[0].shape[0], -1)
        elif op == "Gemm":
            w = x[1].t() if a.get("transB", 0) else x[1]
            y = x[0] @ w + (x[2] if len(x) > 2 else 0)
        else:
            sys.exit(f"eval_bundled.py: {op}: operator not supported here")
        v[n.output[0]] = y
    return v


def read_stats(path):
    kv = {}
    for line in open(path):
        if "=" in line and not line.startswith("#"):
            k, _, val = line.partition("=")
            kv[k.strip()] = val.strip()
    mean = np.array([float(t) for t in kv["mean"].split(";")], np.float32)
    std = np.array([float(t) for t in kv["std"].split(";")], np.float32)
    return mean, std


def read_split(data, split):
    rows = []
    for line in open(os.path.join(data, "dataset.csv")):
        if line.startswith("#") or not line.strip():
            continue
        f = line.strip().split(",")
        rows.append((f[0], f[1], int(f[2]), [float(t) for t in f[3:7]]))
    pick = [r for r in rows if r[1] == split]
    x = np.stack([np.asarray(Image.open(os.path.join(data, r[0])).convert("RGB"))
                  for r in pick]).astype(np.float32) / 255
    return x, np.array([r[2] for r in pick]), np.array([r[3] for r in pick], np.float32), \
        np.array([r[3] for r in rows if r[1] == "train"], np.float32)


def iou(a, b):  # cx, cy, w, h (N x 4)
    ax0, ax1 = a[:, 0] - a[:, 2] / 2, a[:, 0] + a[:, 2] / 2
    ay0, ay1 = a[:, 1] - a[:, 3] / 2, a[:, 1] + a[:, 3] / 2
    bx0, bx1 = b[:, 0] - b[:, 2] / 2, b[:, 0] + b[:, 2] / 2
    by0, by1 = b[:, 1] - b[:, 3] / 2, b[:, 1] + b[:, 3] / 2
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--decoder")
    ap.add_argument("--split", default="test")
    o = ap.parse_args()
    torch.set_num_threads(2)
    mean, std = read_stats(o.model[:-5] + ".stats")
    x, cls, box, train_box = read_split(o.data, o.split)
    xn = torch.from_numpy(((x - mean) / std).transpose(0, 3, 1, 2).copy())
    m = onnx.load(o.model)
    with torch.no_grad():
        v = run(m, {"input": xn})
    name = os.path.basename(o.model)
    n, H, W = len(cls), x.shape[1], x.shape[2]
    print(f"{name} on {o.data} {o.split} ({n} images, PyTorch):")
    if "logits" in v:
        acc = (v["logits"].argmax(1).numpy() == cls).mean()
        print(f"  top-1 accuracy {100 * acc:.2f}%  (chance {100 / v['logits'].shape[1]:.1f}%)")
    if "box" in v:
        gt = np.stack([(box[:, 0] + box[:, 2] / 2) / W, (box[:, 1] + box[:, 3] / 2) / H,
                       box[:, 2] / W, box[:, 3] / H], 1)
        centre = np.tile([0.5, 0.5, train_box[:, 2].mean() / W, train_box[:, 3].mean() / H],
                         (n, 1)).astype(np.float32)
        print(f"  box IoU {iou(v['box'].numpy(), gt).mean():.3f}  "
              f"(centre box baseline {iou(centre, gt).mean():.3f})")
    if o.decoder:
        d = onnx.load(o.decoder)
        with torch.no_grad():
            rec = run(d, {"features": v["features"]})["image"]
        mse = F.mse_loss(rec, xn).item()
        xt, _, _, _ = read_split(o.data, "train")
        mimg = torch.from_numpy(((xt - mean) / std).mean(0).transpose(2, 0, 1).copy())
        base = F.mse_loss(mimg.expand_as(xn), xn).item()
        print(f"  decoder {os.path.basename(o.decoder)}: reconstruction MSE {mse:.4f}  "
              f"(mean training image {base:.4f})")


if __name__ == "__main__":
    main()
