#!/usr/bin/python3
"""Independent numpy/scikit-image implementation of camstream's evaluation metrics
(train/eval.c, docs/QUALITY.md), used two ways:

  eval_reference.py cases OUT.txt     random cases with expected values, for tests/test_eval.c
  eval_reference.py dump DIR          recomputes a `camstream eval --dump DIR` run from its maps,
                                      boxes, curves and keypoints; exits 1 on any mismatch

Definitions (written from the papers, not from the C code):
- IoU of x0,y0,x1,y1 boxes (continuous pixel edges).
- Box from a map: pixels >= frac * max, 4-connected components (skimage.measure.label,
  connectivity=1), the largest (ties: higher mean, then first in raster order), its bounding
  box with exclusive right/bottom edges.
- Pointing game: first maximum in raster order (numpy.argmax), at the pixel centre; a hit when
  the Euclidean distance to the box is <= tol.
- AUC: numpy.trapz over x = linspace(0, 1, n).
- PCK: labelled joints (v > 0) within alpha * norm of the ground truth.
- Blur: 2-D convolution with the outer product of a normalized 1-D Gaussian, zero padding.
"""
import os
import sys

import numpy as np
from skimage.measure import label


def iou(a, b):
    aw, ah, bw, bh = a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]
    if min(aw, ah, bw, bh) <= 0:
        return 0.0
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def map_box(m, frac):
    m = np.asarray(m, dtype=np.float32)
    mx = m.max()
    if not mx > 0:
        return None
    mask = m >= np.float32(frac) * mx
    lab = label(mask, connectivity=1)
    best = None
    for k in range(1, lab.max() + 1):
        ys, xs = np.nonzero(lab == k)
        area = len(ys)
        mean = float(m[ys, xs].astype(np.float64).mean())
        first = int((ys * m.shape[1] + xs).min())
        key = (-area, -mean, first)
        if best is None or key < best[0]:
            best = (key, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    return best[1]


def dist_to_box(x, y, b):
    dx = max(b[0] - x, 0.0, x - b[2])
    dy = max(b[1] - y, 0.0, y - b[3])
    return float(np.hypot(dx, dy))


def pointing(m, box, tol):
    i = int(np.argmax(m))
    h, w = m.shape
    return int(dist_to_box(i % w + 0.5, i // w + 0.5, box) <= tol)


def auc(y):
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 2:
        return 0.0
    return float(np.trapz(y, np.linspace(0.0, 1.0, len(y))))


def pck(pred, gt, alpha, norm):
    out = []
    for j in range(len(gt)):
        if gt[j][2] <= 0 or not norm > 0:
            out.append(-1)
        else:
            d = np.hypot(pred[j][0] - gt[j][0], pred[j][1] - gt[j][1])
            out.append(int(d <= alpha * norm))
    return out


def blur(x, klen, sigma):
    r = klen // 2
    g = np.exp(-0.5 * np.arange(-r, r + 1) ** 2 / sigma**2)
    g /= g.sum()
    k2 = np.outer(g, g)
    C, H, W = x.shape
    pad = np.zeros((C, H + 2 * r, W + 2 * r))
    pad[:, r:r + H, r:r + W] = x
    out = np.zeros((C, H, W))
    for dy in range(klen):
        for dx in range(klen):
            out += k2[dy, dx] * pad[:, dy:dy + H, dx:dx + W]
    return out


def fmt(v):
    return " ".join("%.9g" % a if isinstance(a, (float, np.floating)) else str(a) for a in v)


def make_cases(path):
    rng = np.random.default_rng(20261125)
    lines = ["# camstream eval oracle cases (tools/eval_reference.py cases); one per line"]
    for _ in range(40):  # iou: a(4) b(4) expected
        a = np.sort(rng.uniform(0, 64, (2, 2)), axis=0).T.ravel()[[0, 2, 1, 3]]
        b = np.sort(rng.uniform(0, 64, (2, 2)), axis=0).T.ravel()[[0, 2, 1, 3]]
        if rng.random() < 0.2:
            b = a + rng.uniform(-3, 3, 4)
        lines.append("iou " + fmt(list(a) + list(b) + [iou(a, b)]))
    for _ in range(24):  # box: h w frac expected(4 or -1s) values
        h, w = int(rng.integers(3, 13)), int(rng.integers(3, 13))
        m = rng.random((h, w)).astype(np.float32)
        if rng.random() < 0.5:  # blobs: a smooth bump plus noise
            yy, xx = np.mgrid[0:h, 0:w]
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            m = (np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / rng.uniform(2, 20)) +
                 0.3 * m).astype(np.float32)
        frac = float(rng.choice([0.15, 0.2, 0.5, 0.8]))
        b = map_box(m, frac)
        lines.append("box " + fmt([h, w, frac] + list(b) + list(m.ravel())))
    for _ in range(30):  # point: h w tol box(4) expected values
        h, w = int(rng.integers(2, 11)), int(rng.integers(2, 11))
        m = rng.random((h, w)).astype(np.float32)
        if rng.random() < 0.3:
            m = np.round(m * 3).astype(np.float32)  # ties: first maximum wins
        b = np.sort(rng.uniform(0, max(h, w), (2, 2)), axis=0).T.ravel()[[0, 2, 1, 3]]
        tol = float(rng.choice([0.0, 1.0, 2.5]))
        lines.append("point " + fmt([h, w, tol] + list(b) + [pointing(m, b, tol)] + list(m.ravel())))
    for _ in range(20):  # auc: n expected y
        n = int(rng.integers(2, 70))
        y = rng.random(n)
        lines.append("auc " + fmt([n, auc(y)] + list(y)))
    for _ in range(10):  # order: n then values then expected indices (stable descending)
        n = int(rng.integers(1, 50))
        v = np.round(rng.random(n) * 5).astype(np.float32)
        order = np.argsort(-v, kind="stable")
        lines.append("order " + fmt([n] + list(v) + list(order)))
    for _ in range(20):  # pck: J alpha norm expected-correct(J) pred(2J) gt(3J)
        J = int(rng.integers(1, 15))
        gt = np.column_stack([rng.uniform(0, 64, (J, 2)), rng.integers(0, 3, J)])
        pred = gt[:, :2] + rng.normal(0, 6, (J, 2))
        alpha = float(rng.choice([0.1, 0.2, 0.5]))
        norm = float(rng.uniform(10, 60))
        c = pck(pred, gt, alpha, norm)
        lines.append("pck " + fmt([J, alpha, norm] + c + list(pred.ravel()) + list(gt.ravel())))
    for _ in range(4):  # blur: C H W klen sigma x out
        C, H, W = 2, int(rng.integers(3, 10)), int(rng.integers(3, 10))
        x = rng.normal(0, 1, (C, H, W))
        klen, sigma = 11, 5.0
        lines.append("blur " + fmt([C, H, W, klen, sigma] + list(x.ravel()) +
                                   list(blur(x, klen, sigma).ravel())))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def read_settings(d):
    s = {}
    for line in open(os.path.join(d, "settings.txt")):
        k, v = line.split()
        s[k] = float(v)
    return s


def check_dump(d):
    s = read_settings(d)
    H, W, frac, tol, alpha = int(s["height"]), int(s["width"]), s["threshold"], s["tolerance"], s["alpha"]
    bad = 0
    worst = {"iou": 0.0, "auc": 0.0}
    counts = {"rows": 0, "curves": 0, "keypoints": 0}
    rows = [l.strip().split(",") for l in open(os.path.join(d, "boxes.csv")) if not l.startswith("#")]
    maps = {}
    per_method = {}
    for r in rows:
        per_method.setdefault(r[1], []).append(r)
    for meth, rs in per_method.items():
        maps[meth] = np.fromfile(os.path.join(d, "map_%s.f32" % meth), dtype="<f4").reshape(-1, H, W)
        for k, r in enumerate(rs):
            m = maps[meth][k]
            gt = [float(v) for v in r[2:6]]
            b = map_box(m, frac)  # the dump is written with the identity geometry (model = image size)
            b = b if b is not None else (0, 0, 0, 0)
            want_box = [float(v) for v in r[6:10]]
            if max(abs(a - c) for a, c in zip(b, want_box)) > 1e-4:
                print("%s image %s: box %s, camstream %s" % (meth, r[0], b, want_box))
                bad += 1
            e = abs(iou(b, gt) - float(r[10]))
            worst["iou"] = max(worst["iou"], e)
            i = int(np.argmax(m))
            px, py = i % W + 0.5, i // W + 0.5
            dd = dist_to_box(px, py, gt)
            if (int(dd == 0.0), int(dd <= tol)) != (int(r[13]), int(r[14])) or \
                    abs(px - float(r[11])) > 1e-6 or abs(py - float(r[12])) > 1e-6:
                print("%s image %s: pointing (%g,%g) %d/%d, camstream (%s,%s) %s/%s" %
                      (meth, r[0], px, py, dd == 0.0, dd <= tol, r[11], r[12], r[13], r[14]))
                bad += 1
            counts["rows"] += 1
    cpath = os.path.join(d, "curves.csv")
    if os.path.exists(cpath):
        auc_of = {}
        for line in open(cpath):
            p = line.strip().split(",")
            auc_of[(p[0], p[1], p[2])] = auc([float(v) for v in p[3:]])
            counts["curves"] += 1
        for meth, rs in per_method.items():
            for r in rs:
                for kind, col in (("del", 15), ("ins", 16)):
                    e = abs(auc_of[(r[0], meth, kind)] - float(r[col]))
                    worst["auc"] = max(worst["auc"], e)
    kpath = os.path.join(d, "keypoints.csv")
    if os.path.exists(kpath):
        for line in open(kpath):
            p = [float(v) for v in line.strip().split(",")]
            norm, rest = p[1], p[2:]
            J = len(rest) // 6
            pred = [(rest[6 * j], rest[6 * j + 1]) for j in range(J)]
            gt = [(rest[6 * j + 2], rest[6 * j + 3], rest[6 * j + 4]) for j in range(J)]
            want = [int(rest[6 * j + 5]) for j in range(J)]
            if pck(pred, gt, alpha, norm) != want:
                print("image %d: PCK %s, camstream %s" % (p[0], pck(pred, gt, alpha, norm), want))
                bad += 1
            counts["keypoints"] += 1
    for k, v in worst.items():
        if v > 1e-6:
            print("max |%s difference| %.3g > 1e-6" % (k, v))
            bad += 1
    print("checked %d map rows, %d curves, %d keypoint rows: max |IoU diff| %.2g, max |AUC diff| %.2g,"
          " %d mismatches" % (counts["rows"], counts["curves"], counts["keypoints"], worst["iou"],
                             worst["auc"], bad))
    return 1 if bad or not (counts["rows"] or counts["keypoints"]) else 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("cases", "dump"):
        print(__doc__)
        return 2
    if sys.argv[1] == "cases":
        make_cases(sys.argv[2])
        return 0
    return check_dump(sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
