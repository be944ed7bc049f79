"""cocotb regression of the StruM PEs (DLIQ/MIP2Q x static/dynamic x two (B, K) points) on
Icarus and Verilator, every output on every cycle against the golden schedule."""
import pytest

from quantpe.golden.strum import StrumConfig
from quantpe.sim.regression import regress
from quantpe.tb.strum_stimulus import strum_corners

CONFIGS = {
    "dliq-static-b16k8": StrumConfig(variant="dliq", structure="static"),
    "mip2q-static-b16k8": StrumConfig(variant="mip2q", structure="static"),
    "dliq-dynamic-b16k8": StrumConfig(variant="dliq", structure="dynamic"),
    "mip2q-dynamic-b16k8": StrumConfig(variant="mip2q", structure="dynamic"),
    "dliq-static-b8k2-layer": StrumConfig(variant="dliq", structure="static", block=8, k=2,
                                          shift="layer", pipeline=2, acc_bits=21),
    "mip2q-static-b4k3": StrumConfig(variant="mip2q", structure="static", block=4, k=3, lb=3,
                                     hb=6, pipeline=0),
    "dliq-dynamic-b8k6-sat": StrumConfig(variant="dliq", structure="dynamic", block=8, k=6,
                                         acc_bits=20, saturate=True),
    "mip2q-dynamic-b32k16": StrumConfig(variant="mip2q", structure="dynamic", block=32, k=16),
    # the cheaper grouped selection network (K/G high lanes in each of G lane groups)
    "mip2q-static-b16k8-g4": StrumConfig(variant="mip2q", structure="static", select="group", groups=4),
    "dliq-static-b16k6-g2": StrumConfig(variant="dliq", structure="static", k=6, select="group"),
    "dliq-dynamic-b16k8-g8": StrumConfig(variant="dliq", structure="dynamic", select="group", groups=8),
    # the K=6 operating point of the report's targets; and MIP2Q's carry-in path with product
    # registers (pipeline 2), unsigned activations and a narrow wrapping accumulator
    "mip2q-static-b16k6-g2": StrumConfig(variant="mip2q", structure="static", k=6, select="group"),
    "mip2q-static-b8k5-p2-u": StrumConfig(variant="mip2q", structure="static", block=8, k=5, pipeline=2,
                                          a_signed=False, acc_bits=20),
}
CYCLES = {"verilator": 6000, "icarus": 1500}
# Verilator builds cost ~20 s each: the four B=16 points run on both simulators, the others on
# Icarus (their RTL is the same generator with other parameters).
POINTS = ([(n, "icarus") for n in CONFIGS] + [(n, "verilator") for n in list(CONFIGS)[:4]]
          + [("mip2q-static-b16k8-g4", "verilator"), ("mip2q-static-b16k6-g2", "verilator")])


@pytest.mark.parametrize("name, sim", POINTS)
def test_strum_matches_golden(name, sim, seed):
    cfg = CONFIGS[name]
    r = regress(cfg, sim, CYCLES[sim], seed)
    print(f"{cfg.config_id} {sim}: {r.checked} cycles checked, coverage {r.coverage}")
    # a 32-bit accumulator needs ~10^4 cycles of maximal sums to overflow: the wrap/saturate
    # corner is required of the configs with a narrow accumulator (the B=8 ones)
    need = [c for c in strum_corners(cfg) if c != "acc_wrap_or_saturate" or cfg.acc_bits <= 22]
    missed = [c for c in need if not r.coverage.get(c)]
    assert not missed, f"corners not driven: {missed}"


@pytest.mark.parametrize("name", ["dliq-static-b16k8", "mip2q-static-b16k8", "dliq-dynamic-b16k8",
                                  "mip2q-static-b16k6-g2"])
def test_strum_on_digits_model_weights(name, seed):
    """Real weights and activations of the digits model through the PE on Icarus; each emitted
    sum also equals the encoder's integer weights times the activations (codec round trip)."""
    import numpy as np

    from quantpe.golden.dot import wrap
    from quantpe.golden.strum import strum_schedule
    from quantpe.sim.runner import run
    from quantpe.tb.strum_model_stimulus import _encoded, _model, strum_model_stimulus

    cfg = CONFIGS[name]
    inputs, frames = strum_model_stimulus(cfg, 1200, seed)
    exp = strum_schedule(cfg, inputs)
    qm, traces = _model()
    tensors = _encoded(cfg)
    assert len(frames) > 10
    for layer, n, o, mode, t in frames:
        if t + cfg.latency >= 1200:
            continue
        w = qm.layers[layer].weight.codes[o] if mode == 0 and cfg.dynamic else tensors[layer].values()[o]
        want = int(wrap(np.dot(w, traces[layer][n]), cfg.acc_bits))
        assert exp.out_valid[t + cfg.latency] == 1 and exp.out_sum[t + cfg.latency] == want
    run(cfg, "icarus", inputs, seed=seed, name=f"digits-model-s{seed}")      # SimulationFailed on any difference
