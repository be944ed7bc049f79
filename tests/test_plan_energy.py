"""Multiplier energy of a plan's layers: the operand pairs a layer multiplies, and its energy cost."""
import numpy as np
import pytest

from quantpe.golden.approx_pe import parse_mul_spec
from quantpe.golden.cnn import mlp_graph, model_data, reference_graph
from quantpe.golden.errors import ConfigError
from quantpe.golden.qgraph import build_qgraph
from quantpe.explore.plan_energy import layer_pairs, mul_energy_pj
from quantpe.synth.liberty import sky130_liberty


@pytest.fixture(scope="module")
def mlp44():
    x = model_data("mlp")[0][:32]
    return build_qgraph(mlp_graph(), x, w_bits=[8, 4, 8], a_bits=[8, 4, 8]), x


def _blocks(a, k):
    return [a[i:i + k] for i in range(0, len(a), k)]


def test_linear_pairs_are_whole_outputs(mlp44):
    """Every K-long block is one output: a sample's input codes against one weight row, each
    (sample, row) at most once; the last block is cut at the count."""
    q, x = mlp44
    inputs = q.layer_inputs(x)["fc1"]                     # (N, K): the codes the multipliers see
    rows = q.layer("fc1").weight.codes                     # (O, K)
    k = rows.shape[1]
    a, w = layer_pairs(q, x, "fc1", count=5 * k + 7, seed=3)
    assert len(a) == len(w) == 5 * k + 7
    seen = set()
    for ab, wb in zip(_blocks(a, k), _blocks(w, k)):
        n = [i for i in range(len(inputs)) if np.array_equal(inputs[i][:len(ab)], ab)]
        o = [j for j in range(len(rows)) if np.array_equal(rows[j][:len(wb)], wb)]
        assert n and o
        seen.add((n[0], o[0]))
    assert len(seen) == 6
    assert a.min() >= -8 and a.max() <= 7 and w.min() >= -8 and w.max() <= 7     # signed 4-bit codes
    b, _ = layer_pairs(q, x, "fc1", count=5 * k + 7, seed=3)
    assert np.array_equal(a, b)                            # seeded
    c, _ = layer_pairs(q, x, "fc1", count=5 * k + 7, seed=3, capture=q.capture(x))
    assert np.array_equal(a, c)                            # a given capture: the same pairs


def test_conv_pairs_are_receptive_fields():
    """A conv layer's block is one output position's receptive field (the im2col column, zero
    padding included) against one output channel's weights."""
    g = reference_graph("cnn")
    x = model_data("cnn")[0][:4]
    q = build_qgraph(g, x)
    lay = q.layer("conv1")
    cols = lay.columns(lay.input_codes(q.capture(x)[lay.inputs[0]]))      # (N, G, P, K)
    n, groups, p, k = cols.shape
    flat = cols.reshape(-1, k)
    a, w = layer_pairs(q, x, "conv1", count=20 * k)
    for ab, wb in zip(_blocks(a, k), _blocks(w, k)):
        assert (flat == ab).all(axis=1).any()
        assert (lay.weight.codes == wb).all(axis=1).any()


def test_bad_count(mlp44):
    with pytest.raises(ConfigError, match="at least one operand pair"):
        layer_pairs(*mlp44, "fc1", count=0)


def test_layer_energy_and_its_lowest_energy_exact_form(mlp44, tmp_path, monkeypatch):
    """layer_energy: each cfg costs its own measured energy on the layer's pairs, exact forms
    included, and the layer's exact reference is the minimum over the three exact forms."""
    from quantpe.explore.plans import layer_energy
    monkeypatch.setenv("QUANTPE_BUILD", str(tmp_path / "build"))
    q, x = mlp44
    approx = parse_mul_spec("truncated:t=2", 4, 4, True)
    if sky130_liberty() is None:                           # no PDK: one clear error, no figure
        with pytest.raises(ConfigError, match="needs the sky130_fd_sc_hd liberty"):
            layer_energy(q, x, {"fc1": [approx]})
        return
    forms = [parse_mul_spec(f"exact:signed_form={f}", 4, 4, True) for f in ("sign_magnitude", "baugh_wooley", "booth")]
    first = {}
    got = layer_energy(q, x, {"fc1": [approx, forms[2]]}, first)["fc1"]
    assert first == {"built": 4}                           # the approximate unit and the 3 exact forms
    a, w = layer_pairs(q, x, "fc1")
    again = {}
    direct = mul_energy_pj([(c, a, w) for c in [approx] + forms], netlists=again)
    assert again == {"reused": 4}                          # a second run builds no netlist
    assert got["pj"] == [direct[0], direct[3]]
    assert got["exact_pj"] == min(direct[1:]) and got["exact"] == forms[direct[1:].index(min(direct[1:]))]
    assert all(0 < e < 1 for e in direct)                  # pJ per 4x4 multiplication at sky130 tt
    # jobs of one cfg are measured together: the results keep the jobs' order
    a2, w2 = layer_pairs(q, x, "fc1", seed=1)
    mixed = mul_energy_pj([(approx, a2, w2), (forms[2], a, w), (approx, a, w)])
    assert mixed == [mul_energy_pj([(approx, a2, w2)])[0], direct[3], direct[0]]
