#!/usr/bin/python3
"""PyTorch oracle for camstream's training code (tests/test_train_oracle.c).

Writes tests/data/train/: a tiny ONNX net (Conv-BN-ReLU-GAP-Gemm, BatchNorm in inference
form) with its input, an upstream gradient and what PyTorch's autograd gives in training
mode (output, gradients w.r.t. input and every weight, running statistics after one step);
the same in eval mode; losses with their gradients; and 5 steps of torch.optim SGD and Adam.
Every tensor is a TensorProto file; run again to regenerate (deterministic from the seed).

    /usr/bin/python3 tools/train_oracle.py [OUTDIR]
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "train")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(7)
torch.set_default_dtype(torch.float64)  # the oracle in double; the C side compares floats


def save(name, a):
    a = np.asarray(a.detach().numpy() if torch.is_tensor(a) else a)
    dt = np.int64 if a.dtype.kind in "iu" else np.float32
    t = numpy_helper.from_array(a.astype(dt), name)
    with open(os.path.join(OUT, name + ".pb"), "wb") as f:
        f.write(t.SerializeToString())


# ---- the net ------------------------------------------------------------------------------
N, C, H, W, F, K = 4, 3, 6, 6, 5, 3
conv = torch.nn.Conv2d(C, F, 3, padding=1)
bn = torch.nn.BatchNorm2d(F, momentum=0.1, eps=1e-5)
fc = torch.nn.Linear(F, K)
with torch.no_grad():
    bn.weight.uniform_(0.5, 1.5)
    bn.bias.uniform_(-0.5, 0.5)
    bn.running_mean.uniform_(-0.2, 0.2)
    bn.running_var.uniform_(0.5, 1.5)
init = {"conv.w": conv.weight, "conv.b": conv.bias, "bn.scale": bn.weight, "bn.bias": bn.bias,
        "bn.mean": bn.running_mean, "bn.var": bn.running_var, "fc.w": fc.weight, "fc.b": fc.bias}
nodes = [
    helper.make_node("Conv", ["x", "conv.w", "conv.b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
    helper.make_node("BatchNormalization", ["c", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                     ["b"], name="bn", epsilon=1e-5, momentum=0.9),
    helper.make_node("Relu", ["b"], ["r"], name="relu"),
    helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
    helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
    helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
]
graph = helper.make_graph(
    nodes, "train_oracle",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [N, C, H, W])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [N, K])],
    [numpy_helper.from_array(v.detach().numpy().astype(np.float32), k) for k, v in init.items()])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(OUT, "net.onnx"))
# the float32 weights as the C side sees them
with torch.no_grad():
    for v in init.values():
        v.copy_(torch.from_numpy(v.detach().numpy().astype(np.float32).astype(np.float64)))

x = torch.randn(N, C, H, W).float().double().requires_grad_(True)
seed = torch.randn(N, K).float().double()
save("net_x", x)
save("net_seed", seed)
for mode in ("train", "eval"):
    net = torch.nn.Sequential(conv, bn, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), fc)
    net.train(mode == "train")
    for p in net.parameters():
        p.grad = None
    x.grad = None
    y = net(x)
    (y * seed).sum().backward()
    save(f"net_{mode}_y", y)
    save(f"net_{mode}_dx", x.grad)
    for k in ("conv.w", "conv.b", "bn.scale", "bn.bias", "fc.w", "fc.b"):
        save(f"net_{mode}_d_{k}", init[k].grad)
    if mode == "train":
        save("net_train_mean", bn.running_mean)
        save("net_train_var", bn.running_var)
        with torch.no_grad():  # eval below starts from the original running statistics
            bn.running_mean.copy_(torch.from_numpy(
                numpy_helper.to_array(graph.initializer[4]).astype(np.float64)))
            bn.running_var.copy_(torch.from_numpy(
                numpy_helper.to_array(graph.initializer[5]).astype(np.float64)))

# ---- losses -------------------------------------------------------------------------------
B, NC = 6, 4
logits = torch.randn(B, NC).float().double().requires_grad_(True)
labels = torch.randint(0, NC, (B,))
save("loss_logits", logits)
save("loss_labels", labels)
l = torch.nn.functional.cross_entropy(logits, labels)
l.backward()
save("loss_ce", l.reshape(1))
save("loss_ce_grad", logits.grad)

pred = torch.randn(B, 4).float().double().requires_grad_(True)
target = torch.rand(B, 4).float().double()
target[0, 0] = pred.detach()[0, 0]  # L1's subgradient at 0 is 0 (sign)
save("loss_pred", pred)
save("loss_target", target)
for name, fn in (("bce", torch.nn.functional.binary_cross_entropy_with_logits),
                 ("mse", torch.nn.functional.mse_loss),
                 ("l1", torch.nn.functional.l1_loss),
                 ("smoothl1", torch.nn.functional.smooth_l1_loss)):
    pred.grad = None
    l = fn(pred, target)
    l.backward()
    save(f"loss_{name}", l.reshape(1))
    save(f"loss_{name}_grad", pred.grad)

# ---- optimizers ---------------------------------------------------------------------------
P, STEPS = 10, 5
p0 = torch.randn(P).float().double()
grads = torch.randn(STEPS, P).float().double()
save("opt_p0", p0)
save("opt_grads", grads)
for name, make in (
        ("sgd", lambda q: torch.optim.SGD([q], lr=0.1, momentum=0.9, weight_decay=1e-3)),
        ("adam", lambda q: torch.optim.Adam([q], lr=0.01, betas=(0.9, 0.999), eps=1e-8,
                                            weight_decay=1e-3))):
    q = p0.clone().requires_grad_(True)
    opt = make(q)
    out = []
    for s in range(STEPS):
        q.grad = grads[s].clone()
        opt.step()
        out.append(q.detach().clone())
    save(f"opt_{name}", torch.stack(out))
print("wrote", OUT)
