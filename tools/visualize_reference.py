#!/usr/bin/python3
"""PyTorch oracle for tests/test_maps.c and tests/test_visualize.c.

    /usr/bin/python3 tools/visualize_reference.py --resize   # bilinear resize values
    /usr/bin/python3 tools/visualize_reference.py --rf       # VGG-16 / ResNet-18 receptive fields

--resize prints torch.nn.functional.interpolate(mode='bilinear', align_corners=False) of the
3x5 map used by test_resize_torch, as C initializers (torch_7x4, torch_2x3, torch_3x11).
--rf computes receptive fields empirically: the set of input pixels whose gradient reaches the
centre unit of a layer of torchvision-shaped VGG-16 (pool5) and ResNet-18 (layer4), with
all-ones weights so no path cancels. The extent seen from an interior unit is the receptive
field size (212 and 435), independent of the camstream code under test.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

SRC = [[0.5, -1.0, 2.0, 3.5, 0.25], [1.5, 4.0, -2.0, 0.0, 1.0], [2.0, 0.5, 1.25, -0.75, 3.0]]


def resize():
    x = torch.tensor(SRC).reshape(1, 1, 3, 5)
    for h, w in [(7, 4), (2, 3), (3, 11)]:
        y = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        vals = ", ".join("%.8ff" % v for v in y.flatten().tolist())
        print("static const float torch_%dx%d[%d] = {%s};" % (h, w, h * w, vals))


def vgg16_features():
    layers, cin = [], 1
    for n in [2, 2, 3, 3, 3]:
        for _ in range(n):
            layers += [nn.Conv2d(cin, 1, 3, padding=1, bias=False), nn.ReLU()]
            cin = 1
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class Block(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.c1 = nn.Conv2d(1, 1, 3, stride, 1, bias=False)
        self.c2 = nn.Conv2d(1, 1, 3, 1, 1, bias=False)
        self.down = nn.Conv2d(1, 1, 1, stride, bias=False) if stride > 1 else None

    def forward(self, x):
        s = self.down(x) if self.down is not None else x
        return F.relu(self.c2(F.relu(self.c1(x))) + s)


def resnet18_features():
    layers = [nn.Conv2d(1, 1, 7, 2, 3, bias=False), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    for stage in range(4):
        layers += [Block(2 if stage > 0 else 1), Block(1)]
    return nn.Sequential(*layers)


def extent(net, size):
    for p in net.parameters():
        nn.init.constant_(p, 1.0)
    # avg pools instead of max (every input in a window gets gradient)
    for i, m in enumerate(net):
        if isinstance(m, nn.MaxPool2d):
            net[i] = nn.AvgPool2d(m.kernel_size, m.stride, m.padding, count_include_pad=True)
    x = torch.ones(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = net.double()(x)
    c = y.shape[-1] // 2
    y[0, 0, c, c].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero().flatten()
    return int(rows[-1] - rows[0] + 1), y.shape[-1]


def rf():
    for name, net in [("vgg16 pool5", vgg16_features()), ("resnet18 layer4", resnet18_features())]:
        r, n = extent(net, 1024)
        print("%s: receptive field %d (map %dx%d of a 1024 input, stride %d)" % (name, r, n, n, 1024 // n))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--resize", action="store_true")
    ap.add_argument("--rf", action="store_true")
    a = ap.parse_args()
    if a.resize or not a.rf:
        resize()
    if a.rf:
        rf()
