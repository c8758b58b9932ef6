#!/usr/bin/python3
"""Oracle for `camstream fit` (train/stats_fit.c): the same statistics computed with numpy
(float64, numpy.linalg.eigh) from the same PNGs, written as `name count v1 v2 ...` lines.

    tools/fit_reference.py tests/data/fit > tests/data/fit/expected.txt

The C test (tests/test_fit.c) compares against the committed output, so CI needs no numpy.
Definitions (REFERENCE §1, docs/DATASETS.md): vectors are per-pixel RGB or non-overlapping
p×p patches flattened channel-major (c·p² + y·p + x); Σ = XᵀX/N of the centred vectors;
eigenvalues clamped at 0, ε added; eigenvectors by decreasing eigenvalue with their
largest-magnitude entry positive; PCA W = S^-½ Uᵀ, ZCA W = U S^-½ Uᵀ; std is ÷N."""
import os
import sys

import numpy as np
import skimage.io


def load_train(d):
    images = []
    for line in open(os.path.join(d, "dataset.csv")):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = [x.strip() for x in line.split(",")]
        if f[1] == "train":
            img = skimage.io.imread(os.path.join(d, f[0]))
            assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
            images.append(img.astype(np.float64))
    return np.stack(images)  # N×H×W×3


def scaled(x, scale):
    return {"01": x / 255.0, "11": x / 127.5 - 1.0, "255": x}[scale]


def vectors(imgs, p):
    n, h, w, _ = imgs.shape
    out = []
    for im in imgs:
        for py in range(0, h - p + 1, p):
            for px in range(0, w - p + 1, p):
                patch = im[py:py + p, px:px + p, :]  # p×p×3
                out.append(patch.transpose(2, 0, 1).reshape(-1))  # c, y, x
    return np.array(out)


def whitening(X, eps, kind):
    mean = X.mean(axis=0)
    Xc = X - mean
    cov = Xc.T @ Xc / X.shape[0]
    lam, U = np.linalg.eigh(cov)
    order = np.argsort(-lam, kind="stable")
    lam, U = lam[order], U[:, order]
    for k in range(U.shape[1]):
        if U[np.argmax(np.abs(U[:, k])), k] < 0:
            U[:, k] = -U[:, k]
    s = 1.0 / np.sqrt(np.maximum(lam, 0) + eps)
    W = (s[:, None] * U.T) if kind == "pca" else (U * s[None, :]) @ U.T
    return mean, W


def put(name, v):
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    print(name, len(v), " ".join("%.17g" % x for x in v))


def main():
    imgs = load_train(sys.argv[1])
    print("# numpy %s; tools/fit_reference.py %s" % (np.__version__, sys.argv[1]))
    x01 = scaled(imgs, "01")
    put("mean_image_01", x01.mean(axis=0).transpose(2, 0, 1))  # C×H×W
    px = x01.reshape(-1, 3)
    put("channel_mean_01", px.mean(axis=0))
    put("channel_std_01", px.std(axis=0))
    put("channel_mean_255", scaled(imgs, "255").reshape(-1, 3).mean(axis=0))
    put("channel_std_11", scaled(imgs, "11").reshape(-1, 3).std(axis=0))
    cases = [  # name, scale, patch, epsilon, kind
        ("pca_channel_01", "01", 1, 1e-5, "pca"),
        ("zca_channel_01", "01", 1, 1e-5, "zca"),
        ("pca_channel_255", "255", 1, 1e-5, "pca"),
        ("zca_patch2_01", "01", 2, 1e-3, "zca"),
        ("pca_patch2_01", "01", 2, 1e-3, "pca"),
        ("zca_patch4_11", "11", 4, 1e-2, "zca"),
    ]
    for name, scale, p, eps, kind in cases:
        mean, W = whitening(vectors(scaled(imgs, scale), p), eps, kind)
        put(name + "_mean", mean)
        put(name + "_W", W)


if __name__ == "__main__":
    main()
