"""The Stripes-tile mapper against the RTL: the digits CNN's conv1 (3x3) and fc streamed through
the tile on Icarus at the layers' lossless precision, and through the Dynamic Stripes tile at
each brick's detected precision; the RTL's last output cycle is the mapper's cycle count and its
sums are the layer's integer products computed here."""
import numpy as np
import pytest

from quantpe.golden.array_map import Gemm, layer_operands
from quantpe.golden.cnn import model_data, reference_qgraph
from quantpe.golden.errors import QuantpeError
from quantpe.golden.dsip_tile import DSipTileConfig
from quantpe.golden.sip_tile import SipTileConfig
from quantpe.golden.sip_tile_map import (bitparallel_cycles, dsip_layer_stream, layer_precision, map_dsip_gemm,
                                         map_sip_gemm, sip_layer_stream, sip_unstream)
from quantpe.rtl.ports import Port
from quantpe.tb.memfile import hex_to_streams
from quantpe.sim.runner import run
from quantpe.rtl.generate import ensure_generated

CFG = SipTileConfig()          # 2 x 2 SIPs of 4 lanes (a regression config)
DCFG = DSipTileConfig()        # the same tile, one detector per window


@pytest.fixture(scope="module")
def cnn_layers():
    q = reference_qgraph("cnn")
    ins = q.layer_inputs(model_data("cnn")[2][:1])
    return {n: layer_operands(q.layer(n).layer, ins[n], q.layer(n).weight.codes) for n in ("conv1", "fc")}


@pytest.mark.parametrize("layer", ["conv1", "fc"])
def test_mapper_cycles_equal_the_rtl(layer, cnn_layers, seed):
    cols, wmat = cnn_layers[layer]
    m, inputs = sip_layer_stream(CFG, layer, cols, wmat)
    r = run(CFG, "icarus", inputs, seed=seed, name=f"layer-{layer}")     # every cycle vs golden
    outs = [Port(**p) for p in ensure_generated(CFG)["ports"] if p["direction"] == "out"]
    cap = hex_to_streams((r.run_dir / "capture.hex").read_text(), outs, r.cycles)
    at = np.flatnonzero(cap["out_valid"] == 1)
    assert at[-1] + 1 == m.cycles == len(inputs["valid"])
    G, P, K = cols.shape
    ref = np.einsum("gpk,gok->gop", cols, wmat.reshape(G, -1, K)).reshape(-1, P)
    assert np.array_equal(sip_unstream(CFG, m, cap["out_valid"], cap["out_sum"]), ref)


@pytest.mark.parametrize("layer", ["conv1", "fc"])
def test_dynamic_mapper_cycles_equal_the_rtl(layer, cnn_layers, seed):
    cols, wmat = cnn_layers[layer]
    m, inputs = dsip_layer_stream(DCFG, layer, cols, wmat)
    r = run(DCFG, "icarus", inputs, seed=seed, name=f"layer-{layer}")    # every cycle vs golden
    outs = [Port(**p) for p in ensure_generated(DCFG)["ports"] if p["direction"] == "out"]
    cap = hex_to_streams((r.run_dir / "capture.hex").read_text(), outs, r.cycles)
    at = np.flatnonzero(cap["out_valid"] == 1)
    assert at[-1] + 1 == m.cycles == len(inputs["valid"])
    G, P, K = cols.shape
    ref = np.einsum("gpk,gok->gop", cols, wmat.reshape(G, -1, K)).reshape(-1, P)
    assert np.array_equal(sip_unstream(DCFG, m, cap["out_valid"], cap["out_sum"]), ref)
    static = map_sip_gemm(CFG, m.gemm, layer_precision(cols))
    assert m.bricks == static.bricks and m.brick_precisions.max() <= static.precision
    assert m.cycles < static.cycles


def test_dynamic_figures_by_hand():
    cfg = SipTileConfig(windows=2, filters=3, lanes=2, a_bits=8)
    cols = np.array([[[1, 0, 0, 0, 0], [0, 0, 0, 0, -3]],          # window tile 0: bricks 2, 1, 3 planes
                     [[0, 100, 0, 0, 0], [0, 0, 0, 0, 0]]])         # group 1: bricks 8, 1, 1
    m = map_dsip_gemm(cfg, Gemm("x", 2, 4, 5, 2), cols)
    assert (m.window_tiles, m.filter_tiles, m.bricks_per_output) == (1, 2, 3)
    assert m.brick_precisions.tolist() == [2, 1, 3] * 2 + [8, 1, 1] * 2
    assert m.cycles == 2 * (6 + 10) + 2
    with pytest.raises(QuantpeError, match="codes"):
        map_dsip_gemm(cfg, Gemm("x", 2, 4, 5, 2), cols[:1])
    with pytest.raises(QuantpeError, match="outside"):
        map_dsip_gemm(cfg, Gemm("x", 2, 4, 5, 2), cols * 2)


def test_figures_by_hand():
    m = map_sip_gemm(CFG, Gemm("conv1", 1, 16, 9, 64), 8)
    assert (m.window_tiles, m.filter_tiles, m.bricks_per_output) == (32, 8, 3)
    assert m.bricks == 32 * 8 * 3 and m.cycles == 2 + m.bricks * 8 + 1
    paper = SipTileConfig(windows=16, filters=16, lanes=16, a_bits=16, w_bits=16, acc_bits=40)
    conv = Gemm("conv", 1, 32, 144, 64)          # DaDianNao: 16 filters x 16 lanes, one window
    assert bitparallel_cycles(paper, conv, 16) == 2 * 64 * 9 + 3
    assert bitparallel_cycles(paper, conv, 8) == 1 * 64 * 9 + 3
    sm = map_sip_gemm(paper, conv, 8)
    assert sm.cycles == 2 + 4 * 2 * 9 * 8 + 1                   # 4 window tiles x 2 filter tiles
    fc = Gemm("fc", 1, 10, 128, 1)                 # one window: 15 of 16 SIP rows idle
    assert map_sip_gemm(paper, fc, 8).cycles > bitparallel_cycles(paper, fc, 16)
    assert layer_precision([0, 127]) == 8 and layer_precision([-4, 3]) == 3 and layer_precision([0]) == 1


def test_errors():
    with pytest.raises(QuantpeError, match="precision"):
        map_sip_gemm(CFG, Gemm("x", 1, 1, 1, 1), 9)
    with pytest.raises(QuantpeError, match="need 8 bits"):
        sip_layer_stream(CFG, "x", np.full((1, 1, 4), 127), np.ones((1, 4), np.int64), precision=4)
