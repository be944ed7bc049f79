"""Small ONNX graphs in the patterns the converters write (tf2onnx, paddle2onnx, torch.onnx),
built with onnx.helper for the importer tests: each returns (ModelProto, per-sample input shape)."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Net:
    """A graph under construction: x (N, *shape) float32 in, `out(name)` the output."""

    def __init__(self, shape, rng, name="x"):
        self.shape, self.rng, self.nodes, self.inits, self.k = tuple(shape), rng, [], [], 0
        self.x = name

    def const(self, value, dtype=np.float32) -> str:
        self.k += 1
        name = f"c{self.k}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def w(self, *shape, scale=0.5) -> str:
        return self.const(self.rng.standard_normal(shape) * scale)

    def op(self, op, inputs, n_out=1, **attrs):
        self.k += 1
        outs = [f"t{self.k}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=f"{op}_{self.k}", **attrs))
        return outs[0] if n_out == 1 else outs

    def model(self, out: str, opset: int = OPSET):
        x = helper.make_tensor_value_info(self.x, TensorProto.FLOAT, ["N", *self.shape])
        y = helper.make_tensor_value_info(out, TensorProto.FLOAT, None)
        m = helper.make_model(helper.make_graph(self.nodes, "pattern", [x], [y], self.inits),
                              opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 8
        return m

    # -- common blocks
    def conv(self, x, cin, cout, k=3, group=1, bias=True, **attrs):
        ins = [x, self.w(cout, cin // group, k, k)] + ([self.w(cout, scale=0.1)] if bias else [])
        return self.op("Conv", ins, kernel_shape=[k, k], group=group, **attrs)

    def written_bn(self, x, c):
        """BatchNorm as paddle2onnx / tf2onnx write it: (x - mean) / sqrt(var + eps) * gamma + beta."""
        r = self.rng
        mean = self.const(r.standard_normal((1, c, 1, 1)) * 0.1)
        std = self.const(np.sqrt(r.random((c, 1, 1)) + 0.5))
        gamma, beta = self.const(r.standard_normal((c, 1, 1))), self.const(r.standard_normal((1, c, 1, 1)))
        return self.op("Add", [self.op("Mul", [self.op("Div", [self.op("Sub", [x, mean]), std]), gamma]),
                               beta])


def batch_flatten(net: Net, x):
    """torch's x.view(x.size(0), -1): Shape, Gather, Unsqueeze, Concat, Reshape."""
    s = net.op("Shape", [x])
    n = net.op("Gather", [s, net.const(0, np.int64)], axis=0)
    nu = net.op("Unsqueeze", [n, net.const([0], np.int64)])
    shp = net.op("Concat", [nu, net.const([-1], np.int64)], axis=0)
    return net.op("Reshape", [x, shp])
