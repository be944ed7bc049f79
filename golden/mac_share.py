"""Where a model's multiply-accumulates run: on the PEs (integer layers) or in float.

`mac_share(graph)` per sample: pe_macs = the weight layers' MACs (`plan.layer_macs`) plus every
ActMatMul's (prod(output shape) * K); float_macs = the MAC operators computed in float layers
(`FloatOp.float_macs`); pe_share = pe / (pe + float) (1.0 for a model without MACs); float_ops =
{ONNX operator: count} over the float layers (an operator two float layers both need counts
twice); float_layers = their number.
"""
from __future__ import annotations

from collections import Counter

from quantpe.golden.layers import ActMatMul, FloatOp
from quantpe.golden.graph import Graph
from .plan import layer_macs

__all__ = ["mac_share", "mac_share_text"]


def mac_share(graph: Graph) -> dict:
    """Per-sample PE and float MACs of `graph` (module docstring)."""
    pe = sum(layer_macs(graph).values())
    fl, ops, n = 0, Counter(), 0
    for nd in graph.nodes:
        if isinstance(nd.layer, ActMatMul):
            pe += nd.layer.macs([graph.shapes[i] for i in nd.inputs])
        elif isinstance(nd.layer, FloatOp):
            fl += nd.layer.float_macs
            ops.update(nd.layer.ops)
            n += 1
    total = pe + fl
    return {"pe_macs": int(pe), "float_macs": int(fl), "pe_share": pe / total if total else 1.0,
            "float_ops": dict(sorted(ops.items())), "float_layers": n}


def mac_share_text(share: dict) -> str:
    """One line: the PE share of the MACs and the operators that ran in float."""
    ops = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in share["float_ops"].items()) or "none"
    return (f"MACs on the PEs: {share['pe_share']:.1%} ({share['pe_macs']:,} of "
            f"{share['pe_macs'] + share['float_macs']:,} per sample); operators in float: {ops}")
