#!/usr/bin/python3
"""PyTorch side of camstream's side-by-side benchmark (see bench/run.sh).

    /usr/bin/python3 bench/torch_bench.py MODEL [--threads N] [--batch B] [--runs R]
                                                [--warmup W] [--json]

MODEL is a torchvision name (mobilenet_v2, resnet18, resnet50, squeezenet1_1, vgg11_bn): the
network is built by tools/export_models.py with the same fixed random weights as the exported
ONNX file, in eval mode, and run eagerly under torch.no_grad() with torch.set_num_threads(N)
(and one inter-op thread). Reports the median, minimum and 90th percentile latency of one
forward pass and images per second (batch / median), in the same form as `camstream bench`.
Needs Debian's python3-torch and python3-torchvision: run it with /usr/bin/python3.
"""

import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))


def positive(lo):
    def parse(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError("expects an integer, got '%s'" % s)
        if v < lo:
            raise argparse.ArgumentTypeError("expects an integer >= %d, got %d" % (lo, v))
        return v

    return parse


def stats(times, batch):
    t = sorted(times)
    n = len(t)
    median = t[n // 2] if n % 2 else 0.5 * (t[n // 2 - 1] + t[n // 2])
    return {
        "median_ms": median,
        "min_ms": t[0],
        "p90_ms": t[math.ceil(0.9 * n) - 1],
        "mean_ms": sum(t) / n,
        "images_per_s": batch * 1000.0 / median,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=positive(1), default=1)
    ap.add_argument("--batch", type=positive(1), default=1)
    ap.add_argument("--runs", type=positive(1))
    ap.add_argument("--warmup", type=positive(0))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.runs is None:
        a.runs = 30 if a.batch == 1 else 10
    if a.warmup is None:
        a.warmup = 5 if a.batch == 1 else 2

    import torch
    import export_models

    if a.model not in export_models.BIG_MODELS:
        sys.exit("torch_bench.py: unknown model '%s' (have: %s)"
                 % (a.model, ", ".join(export_models.BIG_MODELS)))
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    t0 = time.perf_counter()
    model, hw = export_models.build_big(a.model)
    model.eval()
    load_ms = (time.perf_counter() - t0) * 1e3
    x = torch.empty(a.batch, 3, hw, hw).uniform_(-2.0, 2.0, generator=torch.Generator().manual_seed(0))

    times = []
    with torch.no_grad():
        for _ in range(a.warmup):
            model(x)
        for _ in range(a.runs):
            s = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - s) * 1e3)
    st = stats(times, a.batch)
    shape = "x".join(map(str, x.shape))
    if a.json:
        rec = {"engine": "pytorch", "version": torch.__version__, "model": a.model, "input": shape,
               "threads": a.threads, "batch": a.batch, "runs": a.runs, "warmup": a.warmup}
        rec.update(st)
        rec["load_ms"] = load_ms
        print(json.dumps(rec))
    else:
        print("model       %s (PyTorch %s, eager, no_grad)" % (a.model, torch.__version__))
        print("input       %s" % shape)
        print("threads     %d   batch %d   warm-up %d   runs %d" % (a.threads, a.batch, a.warmup, a.runs))
        print("latency     median %.3f ms   min %.3f ms   p90 %.3f ms   mean %.3f ms"
              % (st["median_ms"], st["min_ms"], st["p90_ms"], st["mean_ms"]))
        print("throughput  %.1f images/s" % st["images_per_s"])


if __name__ == "__main__":
    main()
