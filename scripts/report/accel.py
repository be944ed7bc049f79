"""Accelerator tables: the digits CNN mapped onto the weight-stationary array and the Stripes
tile (cycles, utilisation, weight loads, reuse; the Stripes tile's speed-up over the bit-parallel
tiles of equal peak throughput at 16 and 8 bits, `sip_tile_map.bitparallel_cycles`, at each
layer's lossless precision), from the mappers alone.

`python -m quantpe.report.accel [BATCH]` prints both tables (markdown).
"""
from __future__ import annotations

import sys

from quantpe.golden.array import ArrayConfig
from quantpe.golden.array_map import gemm_of, layer_operands, map_graph
from quantpe.golden.cnn import model_data, reference_graph, reference_qgraph
from quantpe.golden.sip_tile import SipTileConfig
from quantpe.golden.sip_tile_map import bitparallel_cycles, layer_precision, map_sip_gemm

__all__ = ["ARRAY", "TILE", "array_rows", "stripes_rows", "markdown", "accel_markdown"]

#: the mapped designs: a 4 x 4 array of 16-lane INT8 PEs, the paper's 16 x 16 tile of 16-lane SIPs
ARRAY = ArrayConfig(rows=4, cols=4, lanes=16)
TILE = SipTileConfig(windows=16, filters=16, lanes=16, a_bits=16, w_bits=16, acc_bits=40)


def array_rows(cfg: ArrayConfig = ARRAY, batch: int = 1) -> list[dict]:
    return [m.to_dict() for m in map_graph(cfg, reference_graph("cnn"), batch)]


def stripes_rows(cfg: SipTileConfig = TILE, batch: int = 1) -> list[dict]:
    """Per weight layer: the tile's cycles at the layer's lossless precision (the fewest signed
    bits of its integer input codes over `batch` test images) and at 16 / 8 planes."""
    q = reference_qgraph("cnn")
    graph = reference_graph("cnn")
    ins = q.layer_inputs(model_data("cnn")[2][:batch])
    rows = []
    for name in q.weight_layers:
        node = graph.node(name)
        g = gemm_of(name, node.layer, graph.shapes[node.inputs[0]], batch)
        cols, _ = layer_operands(q.layer(name).layer, ins[name], q.layer(name).weight.codes)
        m = map_sip_gemm(cfg, g, layer_precision(cols))
        c16, c8 = bitparallel_cycles(cfg, g, 16), bitparallel_cycles(cfg, g, 8)
        rows.append({"layer": name, "precision": m.precision, "windows": g.windows, "cycles": m.cycles,
                     "cycles_16": c16, "cycles_8": c8, "speedup_16": c16 / m.cycles, "speedup_8": c8 / m.cycles,
                     "utilisation": m.utilisation})
    return rows


def markdown(batch: int = 1) -> list[str]:
    """Both tables of the digits CNN on ARRAY and TILE at `batch` (markdown lines)."""
    return accel_markdown(array_rows(ARRAY, batch), stripes_rows(TILE, batch), batch)


def accel_markdown(arows: list, rows: list, batch: int, a: ArrayConfig = ARRAY, t: SipTileConfig = TILE) -> list[str]:
    """The array table of `arows` (`array_rows`) and the tile table of `rows` (`stripes_rows`)."""
    out = [f"Weight-stationary array {a.rows} x {a.cols} PEs of {a.lanes} INT8 lanes, batch {batch}:", "",
           "| layer | G x O_g x K x P | passes | cycles | utilisation | weight loads | reuse | load-bound |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in arows:
        out.append(f"| {r['layer']} | {r['groups']} x {r['out_per_group']} x {r['reduction']} x {r['windows']} | "
                   f"{r['passes']} | {r['cycles']} | {r['utilisation']:.3f} | {r['weight_loads']} | "
                   f"{r['reuse']:g} | {'yes' if r['load_bound'] else 'no'} |")
    out += ["", f"Stripes tile {t.windows} windows x {t.filters} filters of {t.lanes}-lane SIPs, batch {batch}, "
            "lossless per-layer precision p:", "",
            "| layer | p | windows | cycles | vs 16-bit | vs 8-bit | utilisation |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['layer']} | {r['precision']} | {r['windows']} | {r['cycles']} | {r['speedup_16']:.2f}x | "
                   f"{r['speedup_8']:.2f}x | {r['utilisation']:.3f} |")
    tot = {k: sum(r[k] for r in rows) for k in ("cycles", "cycles_16", "cycles_8")}
    out.append(f"| network | | | {tot['cycles']} | {tot['cycles_16'] / tot['cycles']:.2f}x | "
               f"{tot['cycles_8'] / tot['cycles']:.2f}x | |")
    return out


if __name__ == "__main__":
    print("\n".join(markdown(int(sys.argv[1]) if len(sys.argv) > 1 else 1)))
