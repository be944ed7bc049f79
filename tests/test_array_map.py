"""The layer mapper against the RTL: real digits-CNN layers (conv 3x3, depthwise 3x3, pointwise
1x1, linear) streamed through the array on Icarus as the mapping schedules them; the RTL's last
output cycle is the mapper's cycle count and its column sums, added over the reduction tiles,
are the layer's integer products computed here without the array model."""
import numpy as np
import pytest

from quantpe.golden.array import ArrayConfig
from quantpe.golden.array_map import (Gemm, gemm_of, layer_operands, layer_stream, map_gemm, map_graph,
                                      unstream)
from quantpe.golden.cnn import model_data, reference_graph, reference_qgraph
from quantpe.golden.errors import QuantpeError
from quantpe.rtl.ports import Port
from quantpe.tb.memfile import hex_to_streams
from quantpe.sim.runner import run
from quantpe.rtl.generate import ensure_generated

CFG = ArrayConfig()          # 2 x 2 PEs of 4 INT8 lanes


@pytest.fixture(scope="module")
def cnn_layers():
    q = reference_qgraph("cnn")
    x = model_data("cnn")[2][:1]               # one test image
    ins = q.layer_inputs(x)
    return {name: layer_operands(q.layer(name).layer, ins[name], q.layer(name).weight.codes)
            for name in q.weight_layers}


def _independent_product(cols, wmat):
    G, P, K = cols.shape
    return np.einsum("gpk,gok->gop", cols, wmat.reshape(G, -1, K)).reshape(-1, P)


STRUM_CFG = ArrayConfig(rows=2, cols=3, pe="strum", variant="dliq")     # a regression config


@pytest.mark.parametrize("cfg, layer", [(CFG, "conv1"), (CFG, "dw3"), (CFG, "pw4"), (CFG, "fc"),
                                        (STRUM_CFG, "conv1")],
                         ids=["int-conv1", "int-dw3", "int-pw4", "int-fc", "strum-conv1"])
def test_mapper_cycles_equal_the_rtl(cfg, layer, cnn_layers, seed):
    cols, wmat = cnn_layers[layer]
    m, inputs, weights = layer_stream(cfg, layer, cols, wmat)
    r = run(cfg, "icarus", inputs, seed=seed, name=f"layer-{layer}")     # every cycle vs golden
    outs = [Port(**p) for p in ensure_generated(cfg)["ports"] if p["direction"] == "out"]
    cap = hex_to_streams((r.run_dir / "capture.hex").read_text(), outs, r.cycles)
    at = np.flatnonzero(cap["out_valid"] == 1)
    assert at[-1] + 1 == m.cycles == len(inputs["valid"])
    assert len(at) == m.passes * m.gemm.windows
    if cfg.pe == "int":
        assert np.array_equal(weights, wmat)
    else:                                   # StruM keeps the K largest codes of every block
        assert np.count_nonzero(weights == wmat) > 0.5 * wmat.size
    assert np.array_equal(unstream(cfg, m, cap["out_valid"], cap["out_sum"]),
                          _independent_product(cols, weights))
    print(f"{cfg.config_id} {layer}: {m.cycles} cycles on RTL and mapper, {m.passes} passes, "
          f"utilisation {m.utilisation:.3f}, reuse {m.reuse:g}")


def test_mapper_figures_by_hand():
    """conv1 of the digits CNN (1 -> 16 channels, 3x3, 8x8 output) on 2 x 2 PEs of 4 lanes."""
    g = gemm_of("conv1", reference_graph("cnn").node("conv1").layer, (1, 8, 8))
    assert (g.groups, g.out_per_group, g.reduction, g.windows) == (1, 16, 9, 64)
    m = map_gemm(CFG, g)
    assert (m.k_tiles, m.o_tiles, m.passes) == (2, 8, 16)      # ceil(9 / 8), 16 / 2
    assert m.pass_cycles == 64 and not m.load_bound
    assert m.cycles == 2 + 15 * 64 + 64 + 3 + 1
    assert m.weight_loads == 32 and m.weights_loaded == 16 * 16
    assert m.utilisation == pytest.approx(16 * 9 * 64 / (m.cycles * 16))
    fc = map_gemm(CFG, Gemm("fc", 1, 10, 128, 1))
    assert fc.load_bound and fc.pass_cycles == 2 + 2 + 2 - 2 and fc.reuse == 1


def test_map_graph_whole_network():
    maps = map_graph(CFG, reference_graph("cnn"), batch=4)
    assert [m.name for m in maps] == ["conv1", "conv2", "dw3", "pw4", "fc"]
    assert maps[-1].gemm.windows == 4 and maps[0].gemm.windows == 256
    assert all(0 < m.utilisation <= 1 for m in maps)


def test_errors():
    with pytest.raises(QuantpeError, match="batch"):
        gemm_of("x", reference_graph("cnn").node("fc").layer, (128,), batch=0)
    with pytest.raises(QuantpeError, match="do not match"):
        layer_stream(CFG, "x", np.zeros((1, 2, 8), np.int64), np.zeros((2, 9), np.int64))
