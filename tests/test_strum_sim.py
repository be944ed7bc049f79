"""The StruM PEs on the digits model's real weights and activations (the constrained-random
regression of the plan's configs is tests/test_regression.py)."""
import pytest

from quantpe.tb.strum_stimulus import STRUM_PLAN

CONFIGS = STRUM_PLAN.configs


@pytest.mark.parametrize("name", ["dliq-static-b16k8"] + [
    pytest.param(n, marks=pytest.mark.slow) for n in ("mip2q-static-b16k8", "dliq-dynamic-b16k8", "mip2q-static-b16k6-g2")])
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
