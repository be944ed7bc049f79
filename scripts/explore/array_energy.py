"""Array-level energy: INT8 vs static StruM weight-stationary arrays on a real layer's trace.

The trace follows the mapping (`golden.array_map.layer_stream`): every weight row is loaded once
per tile pass (double-buffered, while the previous pass streams), the windows of the pass stream
through the held weights, operands are held on cycles that carry nothing new. Energy comes from
the gate-level flow (`quantpe.power.measure.measure_power`: sky130 netlist, toggles of every net,
every output checked against the golden model on every cycle), cached per netlist and trace.
Energy per MAC counts the layer's useful MACs (padding and idle columns excluded). The split
is by cell kind: flip-flops (registers; their internal energy includes the clock pin) and
combinational cells (multipliers, adder trees, StruM selector and low units, muxes).

`python -m quantpe.explore.array_energy [LAYER] [IMAGES] [--delay zero|unit] [--tiles]` prints the table
(`--tiles`: the Stripes tiles against the bit-parallel arrays of equal peak throughput).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quantpe.core.build import build_root
from quantpe.golden.array import ArrayConfig
from quantpe.golden.array_map import layer_operands, layer_stream
from quantpe.golden.cnn import model_data, reference_qgraph
from quantpe.golden.sip_tile import SipTileConfig
from quantpe.golden.sip_tile_map import sip_layer_stream
from quantpe.power.measure import measure_power
from quantpe.synth.liberty import sky130_path

__all__ = ["ARRAYS", "TILES", "layer_trace", "array_energy", "energy_table"]

#: the compared arrays: 2 x 2 PEs of one 16-lane block each (StruM: B = 16, K = 8, hb 8, lb 4)
ARRAYS = {
    "int8": ArrayConfig(rows=2, cols=2, lanes=16),
    "strum-dliq": ArrayConfig(rows=2, cols=2, lanes=16, pe="strum", variant="dliq"),
    "strum-mip2q": ArrayConfig(rows=2, cols=2, lanes=16, pe="strum", variant="mip2q"),
}


#: Stripes tiles and the bit-parallel arrays of equal peak throughput (W*F*L one-bit products
#: per cycle = 16 16-bit or 32 8-bit MACs per cycle), on the same layer trace
TILES = {
    "sip-4x4-w16": SipTileConfig(windows=4, filters=4, lanes=16, a_bits=16, w_bits=16, acc_bits=40),
    "bp16-1x1": ArrayConfig(rows=1, cols=1, lanes=16, a_bits=16, w_bits=16),
    "sip-4x4-w8": SipTileConfig(windows=4, filters=4, lanes=16, a_bits=8, w_bits=8, acc_bits=24),
    "bp8-2x1": ArrayConfig(rows=2, cols=1, lanes=16),
}


def layer_trace(cfg, layer: str = "conv2", images: int = 1):
    """(mapping, port trace with "_ops" = the layer's MACs) of `layer` of the digits CNN on the
    first `images` test images (real integer activation and weight codes), for an array or a
    Stripes tile (at the layer's lossless precision)."""
    q = reference_qgraph("cnn")
    x = model_data("cnn")[2][:images]
    node = q.layer(layer)
    cols, wmat = layer_operands(node.layer, q.layer_inputs(x)[layer], node.weight.codes)
    if isinstance(cfg, SipTileConfig):
        m, inputs = sip_layer_stream(cfg, layer, cols, wmat)
    else:
        m, inputs, _ = layer_stream(cfg, layer, cols, wmat)
    inputs["_ops"] = m.macs
    return m, inputs


def _is_flop(cell_type: str) -> bool:
    return "__df" in cell_type or "__edf" in cell_type or "__sdf" in cell_type


def array_energy(name: str, layer: str = "conv2", images: int = 1, delay: str = "zero",
                 liberty: Path | None = None) -> dict:
    liberty = sky130_path() if liberty is None else liberty
    cfg = ARRAYS.get(name) or TILES[name]
    m, inputs = layer_trace(cfg, layer, images)
    out_dir = build_root() / "array_energy" / cfg.config_id
    r = measure_power(cfg, inputs, out_dir=out_dir, liberty=liberty, cache=True, delay=delay,
                      name=f"{layer}-n{images}-{delay}", stimulus=f"digits CNN {layer}, {images} image(s)")
    flop_uw = sum(sum(v) for k, v in r["by_cell_type_uw"].items() if _is_flop(k))
    comb_uw = sum(sum(v) for k, v in r["by_cell_type_uw"].items() if not _is_flop(k))
    dyn = flop_uw + comb_uw
    return {"array": name, "design": cfg.config_id, "layer": layer, "images": images,
            "cycles": r["cycles"], "passes": m.passes, "reuse": getattr(m, "reuse", float("nan")),
            "utilisation": m.utilisation,
            "cells": r["cells"], "flip_flops": r["flip_flops"], "total_mw": r["total_mw"],
            "leakage_mw": r["leakage_mw"], "energy_per_mac_pj": r["energy_per_op_pj"],
            "flop_share": flop_uw / dyn if dyn else 0.0, "comb_share": comb_uw / dyn if dyn else 0.0,
            "delay": delay, "cached": r["result_cached"]}


def energy_table(rows: list[dict], base_name: str = "int8") -> list[str]:
    base = next(r for r in rows if r["array"] == base_name)["energy_per_mac_pj"]
    out = [f"| design | cells | flops | cycles | reuse | utilisation | pJ/MAC | vs {base_name} | dynamic in flops |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['array']} | {r['cells']} | {r['flip_flops']} | {r['cycles']} | {r['reuse']:g} | "
                   f"{r['utilisation']:.3f} | {r['energy_per_mac_pj']:.3f} | "
                   f"{100 * (r['energy_per_mac_pj'] / base - 1):+.1f}% | {100 * r['flop_share']:.0f}% |")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m quantpe.explore.array_energy")
    ap.add_argument("layer", nargs="?", default="conv2")
    ap.add_argument("images", nargs="?", type=int, default=1)
    ap.add_argument("--delay", default="zero", choices=["zero", "unit"])
    ap.add_argument("--tiles", action="store_true", help="the Stripes tiles and their bit-parallel twins")
    args = ap.parse_args(argv)
    if args.tiles:
        for sip, bp in (("sip-4x4-w16", "bp16-1x1"), ("sip-4x4-w8", "bp8-2x1")):
            rows = [array_energy(n, args.layer, args.images, args.delay) for n in (bp, sip)]
            print("\n".join(energy_table(rows, bp)) + "\n")
        return 0
    rows = [array_energy(name, args.layer, args.images, args.delay) for name in ARRAYS]
    print("\n".join(energy_table(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
