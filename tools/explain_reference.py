#!/usr/bin/python3
"""Reference explanation maps for tests/test_explain.c, computed independently with PyTorch
autograd (float64).

Development-time only. Needs Debian's python3-torch (1.13) and python3-onnx, so run it with
/usr/bin/python3 (a plain python3 on PATH may lack them):

    /usr/bin/python3 tools/explain_reference.py          # rewrite tests/explain_data/

How the models are obtained: the committed small test models (tests/models/*_op13) were
exported by tools/export_models.py from PyTorch nets with fixed seeds; this script imports that
module and calls its build_small(name), which re-creates the same nets with the same weights
(export_models.py --check verifies that the export is byte-identical). The first test input of
each model (tests/models/<name>_op13/test_data_set_0/input_0.pb) is the image explained. It also
builds and exports three tiny models of its own into tests/explain_data/:

    captum_conv.onnx     Captum's BasicModel_ConvNet_One_Conv (REFERENCE §5 oracle; no pooling,
                         so CAM must refuse it)
    head_gmp.onnx        conv, ReLU, adaptive max pooling (exported as a whole-map MaxPool),
                         Flatten, Gemm, Softmax: CAM's GMP variant, score = Softmax's input
    head_mean.onnx       conv, ReLU, mean over H,W (ReduceMean), MatMul + Add: CAM via MatMul
    gap_cnn_decoder.onnx a random PV decoder from gap_cnn's last features (32×8×8) to an image
                         (1×1 conv to 3 channels, ×4 bilinear upsampling); its output for the
                         test image is stored as "pv_image" in gap_cnn.bin

Output: one container per model, tests/explain_data/<name>.bin (format below), holding the
model path, the input (or its path), the classes explained, the noise and RISE masks the C
test must hand to the library (opts.noise / opts.masks, quantized so that they are small and
exactly representable), and one float map per (method, class, layer).

Container format (little-endian): b"CSXD0001", u32 record count, then per record
    u16 name length, name (utf-8), u8 kind, u8 ndim, i32 dims[ndim],
    kind 0: float32 data;  kind 1: f32 scale, f32 offset, uint8 data (value = q·scale + offset);
    kind 2: f32 scale, f32 offset, int8 data;  kind 3: utf-8 string of dims[0] bytes.
Record names: "meta|<key>", "input", "noise", "masks", "map|<method>|<class>|<layer>" (layer
empty: the explainer's default layer, whose name is "meta|default_layer").

The method definitions are those of docs/EXPLAIN.md (REFERENCE §3).
"""

import io
import math
import os
import struct
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "explain_data")
sys.path.insert(0, os.path.join(REPO, "tools"))
import export_models as em  # noqa: E402

PP_EPS = 1e-12  # Grad-CAM++ ε, as in core/src/explain/gradcam.c
SIGMA = 0.15


# ---- container ------------------------------------------------------------------------------


class Container:
    def __init__(self):
        self.recs = []

    def f32(self, name, arr):
        a = np.ascontiguousarray(np.asarray(arr, dtype=np.float32))
        self.recs.append((name, 0, a.shape, b"", a.tobytes()))

    def quant(self, name, q, scale, offset=0.0):
        q = np.ascontiguousarray(q)
        kind = 1 if q.dtype == np.uint8 else 2
        assert q.dtype in (np.uint8, np.int8)
        self.recs.append((name, kind, q.shape, struct.pack("<ff", scale, offset), q.tobytes()))

    def string(self, name, s):
        b = s.encode()
        self.recs.append((name, 3, (len(b),), b"", b))

    def write(self, path):
        out = [b"CSXD0001", struct.pack("<I", len(self.recs))]
        for name, kind, shape, extra, data in self.recs:
            nb = name.encode()
            out.append(struct.pack("<H", len(nb)) + nb + struct.pack("<BB", kind, len(shape)))
            out.append(struct.pack("<%di" % len(shape), *shape))
            out.append(extra + data)
        with open(path, "wb") as f:
            f.write(b"".join(out))
        print("  %-40s %7d bytes, %d records" % (os.path.relpath(path, REPO),
                                                 sum(len(x) for x in out), len(self.recs)))


# ---- methods (REFERENCE §3, docs/EXPLAIN.md) --------------------------------------------------


def relu(t):
    return torch.clamp(t, min=0)


def act_grad(model, module, x, cls):
    """Activations of module's output and ∂(Σ_b y[b, cls])/∂(activations, x)."""
    store = {}
    h = module.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    x = x.clone().requires_grad_(True)
    y = model(x)
    h.remove()
    A = store["a"]
    gA, gx = torch.autograd.grad(y[:, cls].sum(), [A, x])
    return A.detach(), gA, gx, y.detach()


def m_gradcam(A, g):
    w = g.mean((2, 3), keepdim=True)
    return relu((w * A).sum(1))[0]


def pp_weights(A, g1, g2, g3):
    S = A.sum((2, 3), keepdim=True)
    a = g2 / (2 * g2 + S * g3 + PP_EPS)
    a = torch.where(g2 != 0, a, torch.zeros_like(a))
    return (a * relu(g1)).sum((2, 3), keepdim=True)


def m_gradcampp(A, g):
    return relu((pp_weights(A, g, g**2, g**3) * A).sum(1))[0]


def m_xgradcam(A, g):
    S = A.sum((2, 3), keepdim=True)
    w = (A * g).sum((2, 3), keepdim=True)
    w = torch.where(S != 0, w / torch.where(S != 0, S, torch.ones_like(S)), torch.zeros_like(S))
    return relu((w * A).sum(1))[0]


def m_layercam(A, g):
    return relu((relu(g) * A).sum(1))[0]


def m_saliency(gx):
    return gx.abs().amax(1)[0]


def noisy(x, z):
    return x + SIGMA * (x.max() - x.min()) * z


def m_smoothgrad(model, x, z, cls):
    _, _, gx, _ = act_grad(model, model, noisy(x, z), cls)
    return gx.abs().amax(1).mean(0)


def m_smooth_gradcampp(model, module, x, z, cls):
    A, _, _, _ = act_grad(model, module, x, cls)
    _, g, _, _ = act_grad(model, module, noisy(x, z), cls)
    g1, g2, g3 = g.mean(0, keepdim=True), (g**2).mean(0, keepdim=True), (g**3).mean(0, keepdim=True)
    return relu((pp_weights(A, g1, g2, g3) * A).sum(1))[0]


def m_scorecam(model, A, x, cls):
    H, W = x.shape[2:]
    up = F.interpolate(A, size=(H, W), mode="bilinear", align_corners=False)[0]
    lo = up.amin((1, 2), keepdim=True)
    hi = up.amax((1, 2), keepdim=True)
    rng = hi - lo
    Hk = torch.where(rng > 0, (up - lo) / torch.where(rng > 0, rng, torch.ones_like(rng)),
                     torch.zeros_like(up))
    with torch.no_grad():
        s = model(x * Hk[:, None])[:, cls]
    w = torch.softmax(s, 0)
    return relu((w[:, None, None] * A[0]).sum(0))


def m_rise(model, x, masks, p, cls):
    N = masks.shape[0]
    with torch.no_grad():
        P = torch.softmax(model(x * masks[:, None]), 1)
    S = P.T @ masks.reshape(N, -1) / (N * p)
    return S[cls].reshape(masks.shape[1:])


def m_cam(A, Wfc, cls):
    return (Wfc[cls][:, None, None] * A[0]).sum(0)


def rise_masks(N, s, p, H, W, rng):
    """RISE masks (Petsiuk et al.): s×s Bernoulli(p) grid, bilinear upsampling to (s+1)·cell,
    random shift crop to H×W; quantized to k/255 for storage."""
    ch, cw = math.ceil(H / s), math.ceil(W / s)
    grid = torch.tensor((rng.random((N, 1, s, s)) < p).astype(np.float64))
    up = F.interpolate(grid, size=((s + 1) * ch, (s + 1) * cw), mode="bilinear",
                       align_corners=False)[:, 0]
    out = np.empty((N, H, W))
    for i in range(N):
        dy, dx = rng.integers(0, ch), rng.integers(0, cw)
        out[i] = up[i, dy:dy + H, dx:dx + W].numpy()
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def gaussian_noise(n, shape, rng):
    """Standard-normal draws quantized to q/32 (int8)."""
    z = rng.standard_normal((n,) + tuple(shape))
    return np.clip(np.round(z * 32), -127, 127).astype(np.int8)


# ---- the committed test models ------------------------------------------------------------

# name: (default layer module, its ONNX name, {key: (module, ONNX name)} of a middle layer,
#        the classifier Linear, noise copies, RISE masks)
def model_spec(name, model):
    if name == "gap_cnn":
        return (model.features, "/features/features.3/features.3.2/Relu_output_0",
                (model.features[2], "/features/features.2/features.2.2/Relu_output_0"),
                model.fc, 6, 48)
    if name == "mobile_tiny":
        return (model.features, "/features/features.4/features.4.2/Clip_output_0",
                (model.features[3], "/features/features.3/Add_output_0"),
                model.classifier[1], 6, 48)
    if name == "resnet_tiny":
        return (model.layer3, "/layer3/relu_1/Relu_output_0",
                (model.layer2, "/layer2/relu_1/Relu_output_0"), model.fc, 4, 32)
    raise KeyError(name)


def onnx_names(path):
    proto = onnx.load(path)
    return {o for n in proto.graph.node for o in n.output}


def reference_for(name, model, x, c, spec, rel_model, input_record, rng):
    layer_mod, layer_name, (mid_mod, mid_name), fc, n_noise, n_masks = spec
    names = onnx_names(os.path.join(REPO, rel_model))
    assert layer_name in names and mid_name in names, (layer_name, mid_name)
    c.string("meta|model", rel_model)
    if isinstance(input_record, str):
        c.string("meta|input", input_record)
    else:
        c.f32("input", input_record)
    c.string("meta|default_layer", layer_name)

    with torch.no_grad():
        y = model(x)[0]
    order = torch.argsort(y, descending=True)
    classes = [int(order[0]), int(order[1])]
    c.f32("meta|classes", classes)
    c.f32("meta|scores", y.numpy())
    c.f32("meta|sigma", [SIGMA])

    z = None
    if n_noise:
        q = gaussian_noise(n_noise, x.shape[1:], rng)
        c.quant("noise", q, 1.0 / 32)
        z = torch.tensor(q.astype(np.float64) / 32)
    masks = None
    if n_masks:
        s, p = 4, 0.5
        qm = rise_masks(n_masks, s, p, x.shape[2], x.shape[3], rng)
        c.quant("masks", qm, 1.0 / 255)
        c.f32("meta|rise_p", [p])
        masks = torch.tensor(qm.astype(np.float64) / 255)

    for cls in classes:
        for mod, lname in ((layer_mod, ""), (mid_mod, mid_name)):
            A, g, gx, _ = act_grad(model, mod, x, cls)
            c.f32("map|gradcam|%d|%s" % (cls, lname), m_gradcam(A, g))
            c.f32("map|gradcampp|%d|%s" % (cls, lname), m_gradcampp(A, g))
            c.f32("map|xgradcam|%d|%s" % (cls, lname), m_xgradcam(A, g))
            c.f32("map|layercam|%d|%s" % (cls, lname), m_layercam(A, g))
            c.f32("map|scorecam|%d|%s" % (cls, lname), m_scorecam(model, A, x, cls))
            # At the layer feeding global average pooling the gradient is the same at every
            # input (W_fc/Z), so noise changes nothing there: the middle layer tests it.
            if z is not None:
                c.f32("map|smooth_gradcampp|%d|%s" % (cls, lname),
                      m_smooth_gradcampp(model, mod, x, z, cls))
            if lname == "":
                if fc is not None:
                    c.f32("map|cam|%d|" % cls, m_cam(A, fc.weight.detach(), cls))
                c.f32("map|saliency|%d|" % cls, m_saliency(gx))
                if z is not None:
                    c.f32("map|smoothgrad|%d|" % cls, m_smoothgrad(model, x, z, cls))
                if masks is not None:
                    c.f32("map|rise|%d|" % cls, m_rise(model, x, masks, 0.5, cls))


# ---- tiny models of this script ---------------------------------------------------------------


class CaptumConv(nn.Module):
    """Captum's tests/helpers/basic_models.py BasicModel_ConvNet_One_Conv."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, 1)
        self.relu1 = nn.ReLU()
        self.fc1 = nn.Linear(8, 4)
        self.conv1.weight = nn.Parameter(torch.ones(2, 1, 3, 3))
        self.conv1.bias = nn.Parameter(torch.tensor([-50.0, -75.0]))
        self.fc1.weight = nn.Parameter(torch.cat([torch.ones(4, 5), -1 * torch.ones(4, 3)], dim=1))
        self.fc1.bias = nn.Parameter(torch.zeros(4))
        self.relu2 = nn.ReLU()

    def forward(self, x):
        x = self.relu1(self.conv1(x))
        x = x.view(-1, 8)
        return self.relu2(self.fc1(x))


class HeadGmp(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.conv2 = nn.Conv2d(8, 8, 3, 1, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        a = F.relu(self.conv2(F.relu(self.conv1(x))))
        return torch.softmax(self.fc(torch.flatten(F.adaptive_max_pool2d(a, 1), 1)), 1)


class HeadMean(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.conv2 = nn.Conv2d(8, 8, 3, 1, 1)
        self.w = nn.Parameter(torch.randn(8, 5) * 0.5)
        self.b = nn.Parameter(torch.randn(5) * 0.1)

    def forward(self, x):
        a = F.relu(self.conv2(F.relu(self.conv1(x))))
        return a.mean((2, 3)) @ self.w + self.b


def export_onnx(model, shape, path):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(shape), buf, opset_version=13,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    print("  %-40s %7d bytes, ops: %s" % (os.path.relpath(path, REPO), len(buf.getvalue()),
                                          " ".join(n.op_type for n in proto.graph.node)))
    return [o for n in proto.graph.node for o in n.output]  # in node order


def captum_check(model):
    """Our Grad-CAM (with the final ReLU) against Captum's published LayerGradCam values."""
    x = torch.arange(16, dtype=torch.float64).view(1, 1, 4, 4)
    for mod, want in ((model.conv1, [[11.25, 13.5], [20.25, 22.5]]),
                      (model.relu1, [[0, 4], [28, 32.5]])):
        A, g, _, _ = act_grad(model, mod, x, 0)
        raw = (g.mean((2, 3), keepdim=True) * A).sum(1)[0]  # Captum: no ReLU by default
        assert torch.allclose(raw, torch.tensor(want, dtype=torch.float64)), raw
        assert torch.allclose(m_gradcam(A, g), raw)  # every value >= 0: the ReLU changes nothing


def head_model(name, ctor, fc_weight):
    torch.manual_seed(em.seed_of(name))
    model = ctor().eval()
    path = os.path.join(OUT, name + ".onnx")
    names = export_onnx(model, (1, 3, 16, 16), path)
    model = model.double()
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(em.seed_of(name) + 2),
                    dtype=torch.float64)
    layer = [n for n in names if "Relu" in n]
    c = Container()
    c.string("meta|model", os.path.relpath(path, REPO))
    c.f32("input", x.numpy())
    # conv2's ReLU: the last Relu output in node order
    c.string("meta|default_layer", layer[-1])
    with torch.no_grad():
        logits = (model.fc(torch.flatten(F.adaptive_max_pool2d(
            F.relu(model.conv2(F.relu(model.conv1(x)))), 1), 1)) if name == "head_gmp"
                  else model(x))[0]
    order = torch.argsort(logits, descending=True)
    classes = [int(order[0]), int(order[1])]
    c.f32("meta|classes", classes)
    c.f32("meta|scores", logits.numpy())
    store = {}
    h = model.conv2.register_forward_hook(lambda m, i, o: store.__setitem__("a", F.relu(o)))
    with torch.no_grad():
        model(x)
    h.remove()
    W = fc_weight(model).detach()
    for cls in classes:
        c.f32("map|cam|%d|" % cls, m_cam(store["a"], W, cls))
    c.write(os.path.join(OUT, name + ".bin"))


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(32, 3, 1)

    def forward(self, a):
        return F.interpolate(self.conv(a), scale_factor=4.0, mode="bilinear", align_corners=False)


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)

    captum = CaptumConv().eval()
    names = export_onnx(captum, (1, 1, 4, 4), os.path.join(OUT, "captum_conv.onnx"))
    assert {"/conv1/Conv_output_0", "/relu1/Relu_output_0"} <= set(names), names
    captum_check(captum.double())

    head_model("head_gmp", HeadGmp, lambda m: m.fc.weight)
    head_model("head_mean", HeadMean, lambda m: m.w.T)

    rng = np.random.default_rng(20240601)
    for name in ("gap_cnn", "mobile_tiny", "resnet_tiny"):
        model, _ = em.build_small(name)
        model = model.double().eval()
        rel_in = "tests/models/%s_op13/test_data_set_0/input_0.pb" % name
        x = torch.tensor(numpy_helper.to_array(onnx.load_tensor(os.path.join(REPO, rel_in))),
                         dtype=torch.float64)
        c = Container()
        spec = model_spec(name, model)
        reference_for(name, model, x, c, spec, "tests/models/%s_op13/model.onnx" % name, rel_in,
                      rng)
        if name == "gap_cnn":
            torch.manual_seed(em.seed_of("gap_cnn_decoder"))
            dec = Decoder().eval()
            export_onnx(dec, (1, 32, 8, 8), os.path.join(OUT, "gap_cnn_decoder.onnx"))
            A, _, _, _ = act_grad(model, spec[0], x, 0)
            with torch.no_grad():
                c.f32("pv_image", dec.double()(A))
        c.write(os.path.join(OUT, name + ".bin"))


if __name__ == "__main__":
    main()
