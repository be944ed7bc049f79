"""Mixed-precision integer graphs (per-layer a_bits / w_bits): an independent float reference of
every requantization, node by node, on hand-made graphs; uniform widths unchanged; a mutation."""
import numpy as np
import pytest

from quantpe.golden.cnn import model_data, reference_graph
from quantpe.golden.errors import ConfigError
from quantpe.golden.layers import INPUT, Add, Linear, ReLU
from quantpe.golden.qgraph import QWeight, build_qgraph
from quantpe.golden.graph import Graph, Node


def _qmax(b):
    return 2 ** (b - 1) - 1


def _rha(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def residual_graph(rng):
    """x(6) -> fc0(6->5)+ReLU -> fc1(5->5) -> add(fc1, r0)+ReLU -> fc2(5->3)."""
    def lin(o, k):
        return Linear(rng.standard_normal((o, k)), rng.standard_normal(o) * 0.3)
    return Graph((6,), (Node("fc0", lin(5, 6), (INPUT,)), Node("r0", ReLU(), ("fc0",)),
                        Node("fc1", lin(5, 5), ("r0",)), Node("add", Add(), ("fc1", "r0")),
                        Node("r1", ReLU(), ("add",)), Node("fc2", lin(3, 5), ("r1",))))


# widths worked out by hand from the module docstring for a_bits = (8, 4, 3):
# input -> fc0 only: 8; fc0 (fused r0) reaches fc1 (4) and add (default = max = 8): 8, so fc1
# requantizes its input 8 -> 4; fc1 reaches add: 8; add (fused r1) reaches fc2: 3; fc2 raw: 8.
HAND_WIDTHS = {"input": 8, "fc0": 8, "r0": 8, "fc1": 8, "add": 3, "r1": 3, "fc2": 8}


def _near_tie(v, rel=2.0 ** -14):
    """Positions where round(v) may differ under a multiplier with relative error < rel."""
    return np.abs(v - np.floor(v) - 0.5) <= np.abs(v) * rel + 1e-9


def reference_mismatches(graph, q, x_cal, x, widths, a_bits, w_bits) -> int:
    """Independent float reference of every node, fed with the integer model's own codes of its
    inputs; returns the number of codes that differ away from a rounding tie (asserts |diff| <= 1)."""
    floats = graph.forward(x_cal, capture=True)[1]
    vals = q.capture(x)
    ins = q.layer_inputs(x)
    scale = {n: (np.max(np.abs(floats["r0" if n == "fc0" else "r1" if n == "add" else n])) / _qmax(b))
             for n, b in widths.items() if n in ("input", "fc0", "fc1", "add")}
    bad = 0

    def compare(ref, got, v):
        nonlocal bad
        near = _near_tie(v)
        assert np.all(np.abs(ref - got) <= 1)
        bad += int(np.count_nonzero((ref != got) & ~near))

    a_of = dict(zip(graph.weight_layers, a_bits))
    w_of = dict(zip(graph.weight_layers, w_bits))
    src = {"fc0": "input", "fc1": "fc0", "fc2": "add"}
    out_s = {"fc0": scale["fc0"], "fc1": scale["fc1"]}
    for n in graph.weight_layers:
        lay = graph.node(n).layer
        a_t, s_t = vals[src[n]], scale[src[n]]
        bits = a_of[n]
        if widths[src[n]] != bits:                            # input requantizer
            s_in = np.max(np.abs(floats[graph.node(n).inputs[0]])) / _qmax(bits)
            v = a_t * (s_t / s_in)
            compare(np.clip(np.floor(v + 0.5), -_qmax(bits), _qmax(bits)), ins[n], v)
        else:
            s_in = s_t
            assert np.array_equal(ins[n], a_t)
        s_w = np.max(np.abs(lay.weight), axis=1) / _qmax(w_of[n])
        wq = np.clip(_rha(lay.weight / s_w[:, None]), -_qmax(w_of[n]), _qmax(w_of[n]))
        assert np.array_equal(wq, q.layer(n).weight.codes)
        acc = ins[n] @ wq.T + _rha(lay.bias / (s_in * s_w))
        if n == graph.output:
            assert np.array_equal(acc, vals[n])
            continue
        v = acc * (s_in * s_w / out_s[n])
        lo = 0 if n == "fc0" else -_qmax(widths[n])
        compare(np.clip(np.floor(v + 0.5), lo, _qmax(widths[n])), vals[n], v)
    v = (vals["fc1"] * scale["fc1"] + vals["r0"] * scale["fc0"]) / scale["add"]
    compare(np.clip(np.floor(v + 0.5), 0, _qmax(widths["add"])), vals["add"], v)
    return bad


@pytest.mark.parametrize("a_bits, w_bits", [((8, 4, 3), (4, 8, 3)), ((8, 8, 8), (8, 8, 8))])
def test_mixed_requant_matches_float_reference(seed, a_bits, w_bits):
    rng = np.random.default_rng(seed)
    g = residual_graph(rng)
    x_cal, x = rng.standard_normal((200, 6)), rng.standard_normal((300, 6))
    q = build_qgraph(g, x_cal, w_bits=list(w_bits), a_bits=list(a_bits))
    widths = dict(HAND_WIDTHS) if a_bits == (8, 4, 3) else {k: 8 for k in HAND_WIDTHS}
    assert q.widths == widths
    assert q.layer_a_bits == a_bits and q.w_bits == w_bits
    assert (q.layer("fc1").pre is not None) == (a_bits[1] != 8)
    assert reference_mismatches(g, q, x_cal, x, widths, a_bits, w_bits) == 0
    vals = q.capture(x)
    for n, b in widths.items():                               # every tensor fits its width
        assert n == "fc2" or np.max(np.abs(vals[n])) <= _qmax(b)


def test_reference_catches_flipped_rounding(seed, monkeypatch):
    """Mutation: requantizers that truncate instead of rounding must fail the reference check."""
    rng = np.random.default_rng(seed)
    g = residual_graph(rng)
    x_cal, x = rng.standard_normal((200, 6)), rng.standard_normal((300, 6))

    def floor_requant(acc, mult, shift, lo, hi):
        return np.clip((np.asarray(acc, np.int64) * mult) >> shift, lo, hi)
    import quantpe.golden.qgraph as QG
    monkeypatch.setattr(QG, "_requant", floor_requant)
    q = build_qgraph(g, x_cal, w_bits=[4, 8, 3], a_bits=[8, 4, 3])
    assert reference_mismatches(g, q, x_cal, x, HAND_WIDTHS, (8, 4, 3), (4, 8, 3)) > 0


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_uniform_lists_equal_single_width(model):
    g = reference_graph(model)
    xtr, _, xte, _ = model_data(model)
    n = len(g.weight_layers)
    for b in (8, 4):
        q1 = build_qgraph(g, xtr, w_bits=b, a_bits=b)
        q2 = build_qgraph(g, xtr, w_bits=[b] * n, a_bits=[b] * n)
        assert np.array_equal(q1.logits(xte), q2.logits(xte))
        assert q1.scales == q2.scales and set(q2.widths.values()) == {b}
        assert all(nd.pre is None for nd in q2.nodes if isinstance(nd, QWeight))


def test_cnn_mixed_widths_and_16_bits():
    g = reference_graph("cnn")
    xtr, _, xte, yte = model_data("cnn")
    q = build_qgraph(g, xtr, w_bits=[8, 4, 8, 2, 16], a_bits=[16, 4, 8, 2, 8])
    # pool1 feeds dw3 (8) and the residual add (default 16): 16 wide, dw3 requantizes its input
    assert q.widths["input"] == 16 and q.widths["conv1"] == 4 and q.widths["pool1"] == 16
    assert q.layer("dw3").pre is not None and q.layer("pw4").pre is None and q.layer("conv2").pre is None
    ins = q.layer_inputs(xte[:50])
    for n, b in zip(q.weight_layers, q.layer_a_bits):
        assert np.max(np.abs(ins[n])) <= _qmax(b)
    assert 0.1 < q.accuracy(xte, yte) <= 1.0


@pytest.mark.parametrize("kw, msg", [(dict(a_bits=[8, 8]), "a_bits needs one value or 5 values"),
                                     (dict(a_bits=[8, 8, 8, 8, 1]), "a_bits must be integers in 2..16"),
                                     (dict(w_bits=[8, 8, 8, 8, 17]), "w_bits must be integers in 2..16")])
def test_bad_widths(kw, msg):
    g = reference_graph("cnn")
    with pytest.raises(ConfigError, match=msg):
        build_qgraph(g, model_data("cnn")[0][:20], **kw)
