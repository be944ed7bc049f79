"""The power flow (quantpe.power.measure): gate outputs == golden on every cycle, the numpy gate engine
against Icarus on the same netlist, the power ordering constant < sparse < random, real traces."""
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import quantpe.power.measure
from quantpe.golden.approx import ApproxMulConfig
from quantpe.golden.baseline import BaselineConfig
from quantpe.core.kinds import expected_outputs, stimulus_for
from quantpe.power.measure import measure_power
from quantpe.sim.gate.icarus import icarus_gate_sim
from quantpe.synth.liberty import sky130_path
from quantpe.sim.runner import SimulationFailed
from quantpe.tb.power_traces import real_trace

pytestmark = pytest.mark.skipif(not sky130_path().exists(), reason="sky130 liberty not available")

TINY_PE = BaselineConfig(lanes=2, a_bits=4, w_bits=4, acc_bits=12)
TINY_INT8_PE = BaselineConfig(lanes=2, acc_bits=20)


@pytest.fixture(scope="session")
def root(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "power-builds"     # shared with test_energy (build cache)


def _frames(T, rng, valid_p=1.0):
    valid = (rng.random(T) < valid_p).astype(np.int64)
    first = np.zeros(T, np.int64)
    last = np.zeros(T, np.int64)
    first[::4] = 1
    last[3::4] = 1
    return valid, first, last


def test_gate_engine_matches_icarus_and_golden(root, seed):
    """Same netlist on Icarus (event-driven, liberty cell models): captured outputs == golden and
    every net's toggle count == the numpy engine's."""
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not installed")
    inputs, _ = stimulus_for(TINY_PE, 250, seed)
    keep = {}
    measure_power(TINY_PE, inputs, out_dir=root / TINY_PE.config_id, keep=keep, name="xcheck")
    cap, tog = icarus_gate_sim(keep["built"], keep["ports"], inputs,
                               root / TINY_PE.config_id / f"icarus{seed}")
    exp = expected_outputs(TINY_PE, inputs)
    for k in exp:
        assert np.array_equal(cap[k], exp[k]), k
    nl, mine = keep["netlist"], keep["toggles"]
    clk = nl.ports["clk"][1][0]
    common = [i for i, n in enumerate(nl.names) if n in tog and i != clk]
    assert len(common) > 0.9 * (nl.n_nets - 3)
    diff = [(nl.names[i], int(mine[i]), tog[nl.names[i]]) for i in common if mine[i] != tog[nl.names[i]]]
    assert not diff, diff[:5]
    assert sum(mine[i] for i in common) > 1000


def test_wrong_golden_makes_the_power_check_fail(root, seed, monkeypatch):
    inputs, _ = stimulus_for(TINY_PE, 300, seed)

    def flipped(cfg, ins):
        exp = {k: np.array(v, copy=True) for k, v in expected_outputs(cfg, ins).items()}
        exp["out_sum"][150] ^= 1
        return exp
    monkeypatch.setattr(quantpe.power.measure, "expected_outputs", flipped)
    with pytest.raises(SimulationFailed, match="first cycle 150"):
        measure_power(TINY_PE, inputs, out_dir=root / TINY_PE.config_id, name="mutant")


def test_power_ordering_constant_sparse_random(root, seed):
    rng = np.random.default_rng(seed)
    T = 2000
    lo, hi = TINY_PE.a_range()
    zeros = np.zeros((T, 2), np.int64)
    valid, first, last = _frames(T, rng)
    const = {"valid": np.zeros(T, np.int64), "first": first, "last": last, "a": zeros, "w": zeros}
    # sparse: ReLU-like activations (80 % zeros), fixed weights
    a_sparse = np.where(rng.random((T, 2)) < 0.8, 0, rng.integers(1, hi + 1, (T, 2)))
    sparse = {"valid": valid, "first": first, "last": last, "a": a_sparse, "w": np.tile([[3, -5]], (T, 1))}
    rand = {"valid": valid, "first": first, "last": last, "a": rng.integers(lo, hi + 1, (T, 2)),
            "w": rng.integers(lo, hi + 1, (T, 2))}
    out = root / TINY_PE.config_id
    p = {name: measure_power(TINY_PE, ins, out_dir=out, name=f"order-{name}")
         for name, ins in (("constant", const), ("sparse", sparse), ("random", rand))}
    assert p["constant"]["dynamic_mw"] < p["sparse"]["dynamic_mw"] < p["random"]["dynamic_mw"]
    assert p["random"]["synth_cached"]          # one build, many stimulus streams
    assert p["random"]["energy_per_op_pj"] > 0 and p["constant"]["ops"] == 0
    # MACs = lanes x valid cycles; energy per MAC = the window's energy (T - 1 periods of
    # energy_per_cycle) over the window's share (T - 1) / T of the MACs
    half = dict(sparse, valid=np.arange(T) % 2)
    p["half"] = measure_power(TINY_PE, half, out_dir=out, name="order-half")
    for name, ins in (("sparse", sparse), ("half", half)):
        ops = 2 * int(np.count_nonzero(ins["valid"]))
        assert p[name]["op_unit"] == "MAC" and p[name]["ops"] == ops
        assert p[name]["energy_per_op_pj"] == pytest.approx(p[name]["energy_per_cycle_pj"] * T / ops, rel=1e-9)


def test_real_trace_power_tiny_int8_pe(root):
    inputs = real_trace(TINY_INT8_PE, 600, 0)
    assert inputs["first"].sum() - inputs["last"].sum() in (0, 1) and inputs["last"].sum() > 10
    assert inputs["a"].min() >= 0 and inputs["w"].min() < 0
    r = measure_power(TINY_INT8_PE, inputs, out_dir=root / TINY_INT8_PE.config_id, stimulus="real")
    assert r["op_unit"] == "MAC" and r["ops"] == 2 * 600
    assert 0 < r["leakage_mw"] < r["dynamic_mw"]


def test_multiplier_real_pairs(root):
    """A signed truncated multiplier (its netlist has tie cells) on the model's operand pairs."""
    cfg = ApproxMulConfig(method="truncated", t=4, signed=True)
    inputs = real_trace(cfg, 3000, 0)
    assert inputs["b"].min() < 0 <= inputs["a"].min()
    keep = {}
    r = measure_power(cfg, inputs, out_dir=root / cfg.config_id, stimulus="real", name="real", keep=keep)
    assert any(t == "sky130_fd_sc_hd__conb_1" for _, t, _ in keep["netlist"].cells)
    assert r["op_unit"] == "multiplication" and r["flip_flops"] == 0
    assert r["energy_per_op_pj"] == pytest.approx(r["energy_per_cycle_pj"], rel=1e-3)


def test_stripes_real_bricks_power(root):
    """Bit-serial Stripes on the model's bricks: in_ready/out_valid/out_sum checked every cycle,
    energy per MAC over the bricks that finished."""
    from quantpe.golden.stripes import StripesConfig
    cfg = StripesConfig(lanes=2, mode="dynamic")
    inputs = real_trace(cfg, 500, 0)
    r = measure_power(cfg, inputs, out_dir=root / cfg.config_id, stimulus="real")
    assert r["op_unit"] == "MAC" and 0 < r["ops"] <= 2 * 500 / 2
    assert r["ops"] == float(inputs["_ops"]) and r["energy_per_op_pj"] > 0


def test_strum_and_baseline_traces_share_frames():
    """The baseline trace carries the int8 codes of the SAME frames: on the dynamic StruM PE's
    INT8-mode frames the two golden models emit identical sums, and all sums stay close."""
    from quantpe.golden.strum import StrumConfig
    from quantpe.tb.power_traces import strum_and_baseline_traces
    cfg = StrumConfig(structure="dynamic")
    s, b = strum_and_baseline_traces(cfg, 3000, 0)
    assert np.array_equal(s["a"], b["a"]) and np.array_equal(s["valid"], b["valid"])
    es, eb = expected_outputs(cfg, s), expected_outputs(BaselineConfig(), b)
    vs, vb = np.flatnonzero(es["out_valid"]), np.flatnonzero(eb["out_valid"])
    assert len(vs) == len(vb) > 50
    sums_s, sums_b = es["out_sum"][vs], eb["out_sum"][vb]
    lasts = np.flatnonzero(s["last"] & s["valid"])[:len(vs)]
    int8 = s["mode"][lasts] == 0
    assert int8.any() and (~int8).any()
    assert np.array_equal(sums_s[int8], sums_b[int8])
    assert np.corrcoef(sums_s, sums_b)[0, 1] > 0.99


def test_approxpe_real_trace_is_the_baseline_blocks_through_approximate_lanes(root):
    """The approxpe trace = the baseline PE's trace of the same lanes (signed), |w| when unsigned;
    on the gate netlist its outputs equal the approximate golden model every cycle, and the
    approximate lanes make the sums differ from the exact baseline's on the same data."""
    from quantpe.golden.approx_pe import ApproxPEConfig
    cfg = ApproxPEConfig(lanes=2, acc_bits=20, mul="truncated:t=6")
    ins, ref = real_trace(cfg, 600, 0), real_trace(TINY_INT8_PE, 600, 0)
    assert set(ins) == set(ref) and all(np.array_equal(ins[k], ref[k]) for k in ref)
    uns = real_trace(ApproxPEConfig(lanes=2, acc_bits=20, signed=False), 600, 0)
    assert np.array_equal(uns["w"], np.abs(ref["w"])) and uns["w"].max() > 64
    r = measure_power(cfg, ins, out_dir=root / cfg.config_id, stimulus="real")
    assert r["op_unit"] == "MAC" and r["ops"] == 2 * 600
    e, b = expected_outputs(cfg, ins), expected_outputs(TINY_INT8_PE, ref)
    assert not np.array_equal(e["out_sum"], b["out_sum"])


@pytest.mark.slow
def test_strum_static_power_on_same_frames(tmp_path):
    from quantpe.golden.strum import StrumConfig
    from quantpe.tb.power_traces import strum_and_baseline_traces
    cfg = StrumConfig()
    s, b = strum_and_baseline_traces(cfg, 3000, 0)
    rs = measure_power(cfg, s, out_dir=tmp_path / "strum")
    rb = measure_power(BaselineConfig(), b, out_dir=tmp_path / "base")
    assert rs["ops"] == rb["ops"] and 0 < rs["total_mw"] and 0 < rb["total_mw"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "quantpe.cli", "power", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("args, needle", [
    (["baseline", "--stimulus", "bogus"], "unknown stimulus 'bogus'"),
    (["requant", "--stimulus", "real"], "no real-trace builder for requant"),
    (["baseline", "--delay", "elmore"], "unknown --delay 'elmore' (zero | unit | liberty)"),
    (["approxmul", "--a-bits", "4", "--b-bits", "4", "--stimulus", "random", "--cycles", "20", "--delay", "liberty",
      "--liberty", "{builtin}"], "no cell_rise/cell_fall tables"),
    (["approxpe", "--a-bits", "4", "--stimulus", "real"], "8-bit x 8-bit approxpe"),
    (["baseline", "--lanes", "2", "--a-bits", "4", "--stimulus", "real"], "signed int8 x int8"),
])
def test_cli_power_rejects_bad_input(args, needle, tmp_path):
    from quantpe.synth.liberty import DEFAULT_LIBERTY
    r = _cli(*[a.replace("{builtin}", str(DEFAULT_LIBERTY)) for a in args], *(["-o", str(tmp_path)] if
                                                                            "{builtin}" in args else []))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quantpe: error:") and needle in lines[0], r.stderr


def test_cli_power_runs(root):
    out = root / TINY_PE.config_id
    r = _cli("baseline", "--lanes", "2", "--a-bits", "4", "--w-bits", "4", "--acc-bits", "12", "--stimulus",
             "random", "--cycles", "300", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "gate outputs == golden on every cycle" in r.stdout and "pJ/MAC" in r.stdout
    assert (out / "power.json").exists()


@pytest.mark.slow
def test_16_lane_pe_real_trace_under_two_minutes(tmp_path):
    t0 = time.monotonic()
    cfg = BaselineConfig()
    r = measure_power(cfg, real_trace(cfg, 10000, 0), out_dir=tmp_path, stimulus="real")
    elapsed = time.monotonic() - t0
    print(f"16-lane int8 PE, 10k real cycles: {elapsed:.1f} s, {r['total_mw']:.3f} mW, times {r['times_s']}")
    assert elapsed < 120
    assert r["cells"] > 5000 and r["sweeps"] >= 2


def test_cnn_real_trace_frames_are_the_layers_dot_products():
    """model="cnn": every weight layer gets its share of a 16-lane PE's cycles, and each conv1 frame (in
    output-stationary order: output channel, then window of the first image) sums to that
    layer's own integer accumulator (bias removed); a bad model name is one ConfigError."""
    from quantpe.golden.baseline import BaselineConfig
    from quantpe.golden.cnn import model_data, reference_qgraph
    from quantpe.golden.errors import ConfigError
    from quantpe.tb.power_traces import _blocks, real_trace
    cycles = 4000
    a, w, first, last, layer = _blocks(16, cycles, 0, "cnn")
    q = reference_qgraph("cnn")
    x = model_data("cnn")[2][:1]
    work = []                       # cycles of a 16-lane PE per image: O x positions x bricks
    for n in q.weight_layers:
        lay = q.layer(n)
        acc = lay.accumulators(q.layer_inputs(x)[n], 32)
        taps, cg = (lay.layer.taps, lay.layer.cg) if lay.is_conv else (1, lay.weight.codes.shape[1])
        work.append(acc[0].size * taps * -(-cg // 16))
    assert set(layer.tolist()) == set(range(len(q.weight_layers)))
    share = np.bincount(layer, minlength=len(work)) / cycles
    assert np.allclose(share, np.array(work) / sum(work), atol=0.01)
    starts = np.flatnonzero(first)
    lay = q.layer("conv1")
    acc = lay.accumulators(q.layer_inputs(x)["conv1"], 32)
    acc = (acc.reshape(acc.shape[0], acc.shape[1], -1) - lay.bias[None, :, None])[0]
    conv1 = [s for s in starts if layer[s] == 0 and s < np.argmax(layer == 1)]   # before the trace repeats
    assert len(conv1) > 50
    for k, s in enumerate(conv1[:-1]):          # conv1: 9 bricks per frame (one tap, one lane each)
        o, r = divmod(k, acc.shape[1])
        assert last[s:s + 9].tolist() == [0] * 8 + [1] and first[s + 1:s + 9].sum() == 0
        assert int(np.sum(a[s:s + 9] * w[s:s + 9])) == int(acc[o, r])
    inputs = real_trace(BaselineConfig(), 500, 0, "cnn")
    assert len(inputs["a"]) == 500
    with pytest.raises(ConfigError, match="mlp, cnn"):
        real_trace(BaselineConfig(), 500, 0, "vgg")


def test_model_file_real_trace_frames_are_its_layers_dot_products(tmp_path, seed):
    """A real trace from an imported ONNX model (`--model FILE.onnx --model-inputs X.npy`): every
    weight layer gets cycles, and each frame of its first layer (output channel, then window of
    the first sample) sums to that layer's integer accumulator (bias removed); bad pairs of
    model and samples are one line each."""
    onnx = pytest.importorskip("onnx")
    from onnx_patterns import Net
    from quantpe.golden.baseline import BaselineConfig
    from quantpe.golden.errors import ConfigError
    from quantpe.golden.onnx_io import import_onnx
    from quantpe.golden.qgraph import build_qgraph
    from quantpe.tb.power_traces import _blocks, real_trace
    rng = np.random.default_rng(seed)
    n = Net((3, 6, 6), rng)
    c = n.op("Relu", [n.conv(n.x, 3, 4, pads=[1, 1, 1, 1])])
    m = n.model(n.op("Gemm", [n.op("Flatten", [c], axis=1), n.w(5, 144), n.w(5, scale=0.1)], transB=1))
    onnx.save(m, str(tmp_path / "m.onnx"))
    x = rng.standard_normal((10, 3, 6, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    path, xs = str(tmp_path / "m.onnx"), str(tmp_path / "x.npy")
    a, w, first, last, layer = _blocks(16, 3000, 0, path, xs)
    q = build_qgraph(import_onnx(path, input_shape=(3, 6, 6)), x)
    assert set(layer.tolist()) == {0, 1}
    name = q.weight_layers[0]
    lay = q.layer(name)
    acc = lay.accumulators(q.layer_inputs(x[:1])[name], 32)
    acc = (acc.reshape(acc.shape[0], acc.shape[1], -1) - lay.bias[None, :, None])[0]
    starts = [s for s in np.flatnonzero(first) if layer[s] == 0 and s < np.argmax(layer == 1)]
    assert len(starts) > acc.size                   # sample 0's 4 channels x 36 windows, then sample 1's
    for k, s in enumerate(starts[:acc.size]):       # 9 taps x 3 channels: one 16-lane brick per tap
        o, r = divmod(k, acc.shape[1])
        assert last[s:s + 9].tolist() == [0] * 8 + [1]
        assert int(np.sum(a[s:s + 9] * w[s:s + 9])) == int(acc[o, r])
    assert len(real_trace(BaselineConfig(), 200, 0, path, xs)["a"]) == 200
    for args, needle in (((path, None), "needs its samples"), (("cnn", xs), "uses the digits split"),
                         ((str(tmp_path / "m.txt"), xs), "or an .onnx / .npz model file")):
        with pytest.raises(ConfigError, match=needle):
            real_trace(BaselineConfig(), 200, 0, *args)
    r = _cli("baseline", "--model", path, "--cycles", "50")
    assert r.returncode == 2 and "--model-inputs" in r.stderr and len(r.stderr.strip().splitlines()) == 1
