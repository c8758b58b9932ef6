#!/usr/bin/python3
"""PyTorch side of camstream's explanation benchmark (see bench/explain.sh).

    /usr/bin/python3 bench/torch_explain_bench.py MODEL [--methods a,b,...] [--threads N]
                                                        [--runs R] [--warmup W] [--batch B]
                                                        [--json]

MODEL is a torchvision name (resnet18, resnet50, mobilenet_v2): the network is built by
tools/export_models.py's build_big with the same fixed random weights as the exported ONNX
file, in eval mode, with torch.set_num_threads(N) and one inter-op thread. The same methods as
`camstream bench-explain`, implemented plainly with autograd and a forward hook on the target
layer (resnet: layer4, mobilenet_v2: features; the last feature map before global pooling, the
layer camstream picks by default) and the same default options:

  cam               forward under no_grad, hook keeps A; M = W_fc[c] · A
  gradcam, gradcampp, layercam, xgradcam
                    forward with grad enabled; the parameters do not require gradients and the
                    hook makes A a leaf that does, so autograd records and runs only the head
                    (as camstream's backward stops at the layer); g = autograd.grad(y_c, A)
  saliency          the input requires grad; g = autograd.grad(y_c, x); max_c |g|
  scorecam          clean forward (no_grad) for A and c, then the K masked copies in batches of B
                    (each batch's K maps upsampled bilinearly and min-max normalized)
  smooth_gradcampp  25 noisy copies (sigma 0.15 of the input range), batches of B, the gradient
                    powers at A averaged; Grad-CAM++ weights with the clean image's A
  smoothgrad        50 noisy copies, batches of B, gradients at the input
  rise              1000 masks (7x7 grid, p 0.5, bilinear upsampling, random shift) drawn once;
                    batches of B under no_grad; softmax; one matmul (K x N)(N x HW)

Noise and masks are drawn once at set-up (as camstream does at explainer creation). Every
method starts with a forward pass of the clean image to find the top-1 class, as camstream's
cs_explain_run does. The forward pass reference is model(x) under no_grad (no hooks), measured
right before each method. Reports the same fields as `camstream bench-explain --json`.
Needs Debian's python3-torch and python3-torchvision: run it with /usr/bin/python3.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))

METHODS = ("cam", "gradcam", "gradcampp", "layercam", "xgradcam", "saliency", "scorecam",
           "smooth_gradcampp", "smoothgrad", "rise")
BATCHED = {"scorecam", "smooth_gradcampp", "smoothgrad", "rise"}
GRAD_CAMS = {"gradcam", "gradcampp", "layercam", "xgradcam"}
# cs_explain_opts_default
N_SMOOTH_GRADCAMPP, N_SMOOTHGRAD, SIGMA = 25, 50, 0.15
RISE_N, RISE_GRID, RISE_P = 1000, 7, 0.5
SEED = 1


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


def median(t):
    t = sorted(t)
    n = len(t)
    return t[n // 2] if n % 2 else 0.5 * (t[n // 2 - 1] + t[n // 2])


class Explainer:
    """One method on one model, set up once (hooks, noise, masks), run many times."""

    def __init__(self, torch, model, name, method, batch):
        import torch.nn.functional as F

        self.torch, self.F, self.model, self.method = torch, F, model, method
        if name.startswith("resnet"):
            self.layer_name, layer, self.fc = "layer4", model.layer4, model.fc
        elif name == "mobilenet_v2":
            self.layer_name, layer, self.fc = "features", model.features, model.classifier[1]
        else:
            raise SystemExit("torch_explain_bench.py: no target layer known for '%s'" % name)
        self.mode = None  # None: hook does nothing; "keep": remember A; "grad": A becomes a leaf
        self.A = None
        self.handle = layer.register_forward_hook(self.hook)
        self.batch = batch
        self.copies = 0
        gen = torch.Generator().manual_seed(SEED)
        if method == "smooth_gradcampp":
            self.copies = N_SMOOTH_GRADCAMPP
        elif method == "smoothgrad":
            self.copies = N_SMOOTHGRAD
        elif method == "rise":
            self.copies = RISE_N
        if method in ("smooth_gradcampp", "smoothgrad"):
            self.noise = torch.randn(self.copies, 3, 224, 224, generator=gen)
        if method == "rise":
            self.masks = self.rise_masks(RISE_N, RISE_GRID, RISE_P, 224, 224, gen)

    def close(self):
        self.handle.remove()

    def hook(self, module, inputs, out):
        if self.mode == "keep":
            self.A = out
        elif self.mode == "grad":
            out = out.detach().requires_grad_(True)
            self.A = out
            return out
        return None

    def rise_masks(self, n, s, p, H, W, gen):
        torch, F = self.torch, self.F
        ch, cw = -(-H // s), -(-W // s)
        grid = (torch.rand(n, 1, s, s, generator=gen) < p).float()
        up = F.interpolate(grid, size=((s + 1) * ch, (s + 1) * cw), mode="bilinear",
                           align_corners=False)
        dy = torch.randint(0, ch, (n,), generator=gen)
        dx = torch.randint(0, cw, (n,), generator=gen)
        m = torch.empty(n, H, W)
        for i in range(n):
            m[i] = up[i, 0, dy[i]:dy[i] + H, dx[i]:dx[i] + W]
        return m

    # ---- one run: returns the map --------------------------------------------------------

    def run(self, x):
        return getattr(self, "run_" + self.method, self.run_gradcams)(x)

    def forward_keep(self, x):
        """Clean forward under no_grad: scores, top-1 class, A."""
        self.mode = "keep"
        with self.torch.no_grad():
            y = self.model(x)
        self.mode = None
        return y, int(y[0].argmax()), self.A

    def run_cam(self, x):
        y, c, A = self.forward_keep(x)
        K, h, w = A.shape[1:]
        return (self.fc.weight[c] @ A[0].reshape(K, h * w)).reshape(h, w)

    def gradcampp_weights(self, A, g1, g2, g3):
        torch = self.torch
        S = A.sum((-2, -1), keepdim=True)
        den = 2 * g2 + S * g3 + 1e-12
        a = torch.where(g2 != 0, g2 / den, torch.zeros_like(g2))
        return (a * torch.relu(g1)).sum((-2, -1))

    def run_gradcams(self, x):
        torch = self.torch
        self.mode = "grad"
        with torch.enable_grad():
            y = self.model(x)
            self.mode = None
            c = int(y[0].argmax())
            A = self.A
            (g,) = torch.autograd.grad(y[0, c], A)
        A = A.detach()[0]
        g = g[0]
        if self.method == "gradcam":
            w = g.mean((1, 2))
        elif self.method == "gradcampp":
            w = self.gradcampp_weights(A, g, g * g, g * g * g)
        elif self.method == "xgradcam":
            S = A.sum((1, 2), keepdim=True)
            w = torch.where(S != 0, (A / S * g).sum((1, 2), keepdim=True),
                            torch.zeros_like(S)).flatten()
        else:  # layercam
            return torch.relu((torch.relu(g) * A).sum(0))
        return torch.relu((w[:, None, None] * A).sum(0))

    def run_saliency(self, x):
        torch = self.torch
        xg = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            y = self.model(xg)
            c = int(y[0].argmax())
            (g,) = torch.autograd.grad(y[0, c], xg)
        return g[0].abs().amax(0)

    def run_scorecam(self, x):
        torch, F = self.torch, self.F
        y, c, A = self.forward_keep(x)
        K = A.shape[1]
        H, W = x.shape[2:]
        s = torch.empty(K)
        with torch.no_grad():
            for k0 in range(0, K, self.batch):
                up = F.interpolate(A[:, k0:k0 + self.batch], size=(H, W), mode="bilinear",
                                   align_corners=False)[0]
                lo = up.amin((1, 2), keepdim=True)
                hi = up.amax((1, 2), keepdim=True)
                m = torch.where(hi > lo, (up - lo) / (hi - lo), torch.zeros_like(up))
                s[k0:k0 + len(m)] = self.model(x * m[:, None])[:, c]
            w = torch.softmax(s, 0)
            return torch.relu((w[:, None, None] * A[0]).sum(0))

    def run_smooth_gradcampp(self, x):
        torch = self.torch
        y, c, A = self.forward_keep(x)
        A = A[0]
        spread = SIGMA * float(x.max() - x.min())
        g1 = torch.zeros_like(A)
        g2 = torch.zeros_like(A)
        g3 = torch.zeros_like(A)
        n = self.copies
        for i0 in range(0, n, self.batch):
            xb = x + spread * self.noise[i0:i0 + self.batch]
            self.mode = "grad"
            with torch.enable_grad():
                yb = self.model(xb)
                self.mode = None
                (g,) = torch.autograd.grad(yb[:, c].sum(), self.A)
            g1 += g.sum(0)
            g2 += (g * g).sum(0)
            g3 += (g * g * g).sum(0)
        w = self.gradcampp_weights(A, g1 / n, g2 / n, g3 / n)
        return torch.relu((w[:, None, None] * A).sum(0))

    def run_smoothgrad(self, x):
        torch = self.torch
        y, c, _ = self.forward_keep(x)
        spread = SIGMA * float(x.max() - x.min())
        acc = torch.zeros(x.shape[2:])
        for i0 in range(0, self.copies, self.batch):
            xb = (x + spread * self.noise[i0:i0 + self.batch]).requires_grad_(True)
            with torch.enable_grad():
                yb = self.model(xb)
                (g,) = torch.autograd.grad(yb[:, c].sum(), xb)
            acc += g.abs().amax(1).sum(0)
        return acc / self.copies

    def run_rise(self, x):
        torch = self.torch
        y, c, _ = self.forward_keep(x)
        n = self.copies
        H, W = x.shape[2:]
        probs = torch.empty(n, y.shape[1])
        with torch.no_grad():
            for i0 in range(0, n, self.batch):
                m = self.masks[i0:i0 + self.batch]
                probs[i0:i0 + len(m)] = torch.softmax(self.model(x * m[:, None]), 1)
            sal = probs.t() @ self.masks.reshape(n, H * W) / (n * RISE_P)
        return sal[c].reshape(H, W)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--threads", type=positive(1), default=1)
    ap.add_argument("--runs", type=positive(1))
    ap.add_argument("--warmup", type=positive(0))
    ap.add_argument("--batch", type=positive(1), default=16)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    methods = a.methods.split(",")
    for m in methods:
        if m not in METHODS:
            sys.exit("torch_explain_bench.py: unknown method '%s' (have: %s)"
                     % (m, ", ".join(METHODS)))

    import torch
    import export_models

    if a.model not in export_models.BIG_MODELS:
        sys.exit("torch_explain_bench.py: unknown model '%s' (have: %s)"
                 % (a.model, ", ".join(export_models.BIG_MODELS)))
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    model, hw = export_models.build_big(a.model)
    model.eval()
    model.requires_grad_(False)
    x = torch.empty(1, 3, hw, hw).uniform_(-2.0, 2.0,
                                           generator=torch.Generator().manual_seed(0))
    shape = "x".join(map(str, x.shape))
    fwd_runs = a.runs or 30
    fwd_warm = 5 if a.warmup is None else a.warmup

    if not a.json:
        print("model    %s (PyTorch %s, input %s)" % (a.model, torch.__version__, shape))
        print("threads  %d   forward: median of %d runs after %d, measured again before each "
              "method\n" % (a.threads, fwd_runs, fwd_warm))
        print("%-18s %9s %9s %10s %10s  %-10s %9s" % ("method", "fwd ms", "total ms", "added ms",
                                                     "added", "copies", "images/s"))
    for method in methods:
        batched = method in BATCHED
        runs = a.runs or (3 if batched else 30)
        warm = a.warmup if a.warmup is not None else (1 if batched else 5)
        t0 = time.perf_counter()
        e = Explainer(torch, model, a.model, method, a.batch)
        create_ms = (time.perf_counter() - t0) * 1e3

        e.mode = None
        ft = []
        with torch.no_grad():
            for _ in range(fwd_warm):
                model(x)
            for _ in range(fwd_runs):
                s = time.perf_counter()
                model(x)
                ft.append((time.perf_counter() - s) * 1e3)
        fwd = median(ft)
        for _ in range(warm):
            e.run(x)
        tt = []
        for _ in range(runs):
            s = time.perf_counter()
            e.run(x)
            tt.append((time.perf_counter() - s) * 1e3)
        total = median(tt)
        copies = e.copies
        if method == "scorecam":
            copies = int(e.forward_keep(x)[2].shape[1])
        e.close()
        added = total - fwd
        batch = min(a.batch, copies) if copies else None
        rec = {"engine": "pytorch", "version": torch.__version__, "model": a.model,
               "input": shape, "method": method, "layer": e.layer_name if method not in
               ("saliency", "smoothgrad", "rise") else None, "threads": a.threads,
               "runs": runs, "warmup": warm, "batch": batch, "forward_ms": fwd,
               "total_ms": total, "min_ms": min(tt), "added_ms": added,
               "added_pct": 100.0 * added / fwd, "create_ms": create_ms,
               "images": copies or None, "passes": copies or None,
               "images_per_s": copies * 1000.0 / total if copies else None}
        if a.json:
            print(json.dumps(rec), flush=True)
        else:
            line = "%-18s %9.3f %9.3f %10.3f %9.1f%%" % (method, fwd, total, added,
                                                         rec["added_pct"])
            if copies:
                line += "  %5d x%-3d %9.1f" % (copies, batch, rec["images_per_s"])
            print(line, flush=True)


if __name__ == "__main__":
    main()
