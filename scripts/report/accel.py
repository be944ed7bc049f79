"""Accelerator tables: the digits CNN mapped onto the weight-stationary array and the Stripes
tile (cycles, utilisation, weight loads, reuse; the Stripes tile's speed-up over the bit-parallel
tiles of equal peak throughput at 16 and 8 bits, `sip_tile_map.bitparallel_cycles`, at each
layer's lossless precision; Dynamic Stripes over Stripes on the conv layers at the static
profile of 100% relative accuracy, `dstripes_rows`), from the mappers alone.

`python -m quantpe.report.accel [BATCH]` prints the three tables (markdown).
"""
from __future__ import annotations

import sys

from quantpe.golden.array import ArrayConfig
from quantpe.golden.array_map import gemm_of, layer_operands, map_graph
from quantpe.golden.cnn import model_data, reference_graph, reference_qgraph
from quantpe.golden.model_eval import run_windowed, stripes_profile
from quantpe.golden.sip_tile import SipTileConfig
from quantpe.golden.sip_tile_map import bitparallel_cycles, layer_precision, map_dsip_gemm, map_sip_gemm
from quantpe.golden.stripes_precision import static_window, window_value

__all__ = ["ARRAY", "TILE", "DSTRIPES_TILES", "array_rows", "stripes_rows", "dstripes_rows", "markdown",
           "accel_markdown", "dstripes_markdown"]

#: the mapped designs: a 4 x 4 array of 16-lane INT8 PEs, the paper's 16 x 16 tile of 16-lane SIPs
ARRAY = ArrayConfig(rows=4, cols=4, lanes=16)
TILE = SipTileConfig(windows=16, filters=16, lanes=16, a_bits=16, w_bits=16, acc_bits=40)
#: Dynamic Stripes tiles: the paper's (16 windows in lockstep), 4 x 4, and one window of 16
#: filters (no lockstep: what per-window run-ahead registers would give at most)
DSTRIPES_TILES = {"16x16": TILE, "4x4": TILE.replace(windows=4, filters=4), "1x16": TILE.replace(windows=1)}


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


def dstripes_rows(batch: int = 1, tiles: dict = DSTRIPES_TILES) -> list[dict]:
    """Per tile and conv layer of the digits CNN: Stripes cycles at the layer's static window
    [msb..lsb] (`model_eval.stripes_profile` on the training split at tolerance 0, i.e. 100%
    relative accuracy) and Dynamic Stripes cycles on the same p-bit codes (the window's field of
    each input code the windowed network feeds the layer, first `batch` test images), both from
    the mappers (`map_sip_gemm`, `map_dsip_gemm`); a "conv layers" row per tile sums the cycles."""
    q = reference_qgraph("cnn")
    graph = reference_graph("cnn")
    xc, yc, x, _ = model_data("cnn")
    prof, msbs = stripes_profile(q, xc, yc)
    windows = {n: static_window(p, msbs[n], q.a_bits) for n, p in zip(q.weight_layers, prof.precisions)}
    _, seen = run_windowed(q, q.quantize_input(x[:batch]), windows)
    layers = []
    for name in (n for n in q.weight_layers if q.layer(n).is_conv):
        node = graph.node(name)
        msb, lsb = windows[name]
        fields = window_value(seen[name], msb, lsb, q.a_bits, True) >> lsb
        cols, _ = layer_operands(q.layer(name).layer, fields, q.layer(name).weight.codes)
        layers.append((name, gemm_of(name, node.layer, graph.shapes[node.inputs[0]], batch), (msb, lsb), cols))
    rows = []
    for tile, cfg in tiles.items():
        st = dy = 0
        for name, g, (msb, lsb), cols in layers:
            s, d = map_sip_gemm(cfg, g, msb - lsb + 1), map_dsip_gemm(cfg, g, cols)
            st, dy = st + s.cycles, dy + d.cycles
            rows.append({"tile": tile, "layer": name, "window": [msb, lsb], "precision": s.precision,
                         "stripes": s.cycles, "dstripes": d.cycles, "mean_detected": d.mean_precision,
                         "ratio": s.cycles / d.cycles})
        rows.append({"tile": tile, "layer": "conv layers", "window": None, "precision": None, "stripes": st,
                     "dstripes": dy, "mean_detected": None, "ratio": st / dy})
    return rows


def dstripes_markdown(rows: list, batch: int) -> list[str]:
    """The Dynamic Stripes table of `rows` (`dstripes_rows`)."""
    out = [f"Dynamic Stripes over Stripes, digits CNN conv layers, batch {batch}, static profile at 100% "
           "relative accuracy (W x F SIPs of 16 lanes; the W windows advance in lockstep):", "",
           "| tile W x F | layer | window | Stripes cycles | DStripes cycles | mean detected p | DStripes / Stripes |",
           "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        win = f"[{r['window'][0]}..{r['window'][1]}] (p {r['precision']})" if r["window"] else ""
        mean = f"{r['mean_detected']:.2f}" if r["mean_detected"] is not None else ""
        out.append(f"| {r['tile']} | {r['layer']} | {win} | {r['stripes']} | {r['dstripes']} | {mean} | "
                   f"{r['ratio']:.3f}x |")
    return out


def markdown(batch: int = 1) -> list[str]:
    """The three tables of the digits CNN on ARRAY, TILE and DSTRIPES_TILES at `batch` (markdown lines)."""
    return (accel_markdown(array_rows(ARRAY, batch), stripes_rows(TILE, batch), batch) + [""]
            + dstripes_markdown(dstripes_rows(batch), batch))


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
