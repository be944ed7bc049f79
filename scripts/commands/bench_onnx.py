"""`quantpe bench onnx`: importing and running a large converter-style ONNX model (not a test).

The model (`scale_model`) is a MobileNetV3-like classifier written the way tf2onnx and
torch.onnx write one, with random (seeded) weights: an NHWC input and a Transpose to NCHW, a
3x3 stride-2 stem, then inverted-residual blocks (1x1 expand, 3x3 depthwise, 1x1 project), every
BatchNorm written out as Sub / Div / Mul / Add, hard-swish (HardSigmoid + Mul) after the expand
convs, squeeze-and-excitation (GlobalAveragePool, 1x1, Relu, 1x1, HardSigmoid, Mul) in every
other block, residual Adds, then global pooling, a flatten through Shape / Gather / Unsqueeze /
Concat / Reshape, a Gemm and a Softmax. `convs` conv layers in all (SE convs included).
The benchmark imports it at `size` x `size` and times, on `images` random images in one run:
import (folding, mapping, float regions), integer model build (calibration), bit-exact integer
inference; it reports the PE share of the MACs, the float operators and the top-1 agreement.
"""
from __future__ import annotations

import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from quantpe.golden.qgraph import build_qgraph
from quantpe.golden.mac_share import mac_share, mac_share_text
from quantpe.golden.onnx_io import import_onnx

__all__ = ["scale_model", "bench_onnx"]


class _Net:
    def __init__(self, rng):
        self.rng, self.nodes, self.inits, self.k, self.convs = rng, [], [], 0, 0

    def const(self, v, dtype=np.float32):
        self.k += 1
        self.inits.append(numpy_helper.from_array(np.asarray(v, dtype=dtype), f"c{self.k}"))
        return f"c{self.k}"

    def op(self, op, ins, **attrs):
        self.k += 1
        out = f"t{self.k}"
        self.nodes.append(helper.make_node(op, list(ins), [out], name=f"{op}_{self.k}", **attrs))
        return out

    def conv(self, x, cin, cout, k=1, stride=1, group=1):
        self.convs += 1
        fan = cin // group * k * k
        w = self.const(self.rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(2.0 / fan))
        return self.op("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride], group=group,
                       pads=[k // 2] * 4)

    def bn(self, x, c):
        r = self.rng
        y = self.op("Sub", [x, self.const(r.standard_normal((1, c, 1, 1)) * 0.05)])
        y = self.op("Div", [y, self.const(np.sqrt(r.random((c, 1, 1)) * 0.5 + 0.75))])
        y = self.op("Mul", [y, self.const(r.random((c, 1, 1)) * 0.5 + 0.75)])
        return self.op("Add", [y, self.const(r.standard_normal((1, c, 1, 1)) * 0.05)])

    def hswish(self, x):
        return self.op("Mul", [x, self.op("HardSigmoid", [x], alpha=1 / 6, beta=0.5)])

    def se(self, x, c):
        s = self.op("GlobalAveragePool", [x])
        s = self.op("Relu", [self.conv(s, c, max(c // 4, 4))])
        s = self.op("HardSigmoid", [self.conv(s, max(c // 4, 4), c)], alpha=1 / 6, beta=0.5)
        return self.op("Mul", [x, s])


def scale_model(convs: int = 50, size: int = 224, classes: int = 100, seed: int = 0):
    """The benchmark's ONNX model (module docstring) with at least `convs` conv layers."""
    net = _Net(np.random.default_rng(seed))
    x = net.op("Transpose", ["image"], perm=[0, 3, 1, 2])
    y = net.hswish(net.bn(net.conv(x, 3, 16, k=3, stride=2), 16))
    c, b = 16, 0
    while net.convs < convs - 1:
        stride = 2 if b % 3 == 0 and b < 12 else 1
        cout = min(c * 2, 96) if stride == 2 else c
        e = c * 3
        h = net.hswish(net.bn(net.conv(y, c, e), e))
        h = net.op("Relu", [net.bn(net.conv(h, e, e, k=3, stride=stride, group=e), e)])
        if b % 2 == 1 and net.convs + 3 < convs - 1:
            h = net.se(h, e)
        h = net.bn(net.conv(h, e, cout), cout)
        y = net.op("Add", [h, y]) if stride == 1 and cout == c else h
        c, b = cout, b + 1
    y = net.op("GlobalAveragePool", [y])
    s = net.op("Shape", [y])
    n = net.op("Unsqueeze", [net.op("Gather", [s, net.const(0, np.int64)], axis=0), net.const([0], np.int64)])
    y = net.op("Reshape", [y, net.op("Concat", [n, net.const([-1], np.int64)], axis=0)])
    y = net.op("Gemm", [y, net.const(net.rng.standard_normal((classes, c)) * 0.1), net.const(np.zeros(classes))],
               transB=1)
    y = net.op("Softmax", [y], axis=1)
    net.convs += 0
    g = helper.make_graph(net.nodes, "scale", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                                           ["N", size, size, 3])],
                          [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], net.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m, net.convs


def bench_onnx(convs: int = 50, size: int = 224, images: int = 32, seed: int = 0) -> dict:
    """Seconds of import, integer build and bit-exact inference of `scale_model` (printed)."""
    model, n_convs = scale_model(convs, size, seed=seed)
    x = np.random.default_rng(seed + 1).random((images, size, size, 3))
    t0 = time.perf_counter()
    g = import_onnx(model)
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = g.forward(x)
    t_float = time.perf_counter() - t0
    t0 = time.perf_counter()
    q = build_qgraph(g, x)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    y = q.logits(x)
    t_int = time.perf_counter() - t0
    agree = float(np.mean(np.argmax(y, 1) == np.argmax(ref, 1)))
    share = mac_share(g)
    r = dict(convs=n_convs, size=size, images=images, nodes=len(model.graph.node), layers=len(g.nodes),
             weight_layers=len(g.weight_layers), import_s=t_import, float_s=t_float, build_s=t_build,
             integer_s=t_int, top1_agreement=agree, **share)
    print(f"scale model: {n_convs} convs, {r['nodes']} ONNX nodes -> {r['layers']} layers "
          f"({r['weight_layers']} weight layers), {size}x{size}, {images} images")
    print(f"import {t_import:.1f} s (target < 30 s), float inference {t_float:.1f} s, integer build "
          f"(calibration) {t_build:.1f} s, bit-exact integer inference {t_int:.1f} s (target < 60 s)")
    print(f"top-1 agreement integer vs float {agree:.3f}; {mac_share_text(share)}")
    return r
