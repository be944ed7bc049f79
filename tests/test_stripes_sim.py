"""cocotb regression of the Stripes / Dynamic Stripes SIP PE on Icarus and Verilator: every
output (in_ready, out_valid, out_sum) on every cycle against the golden schedule, with input
stalls and output back-pressure."""
import pytest

from quantpe.golden.stripes import StripesConfig
from quantpe.sim.regression import regress

CONFIGS = {
    "static-i8": StripesConfig(),
    "dynamic-lead-u8": StripesConfig(mode="dynamic", lanes=8, a_signed=False, acc_bits=20),
    "dynamic-trail-g4": StripesConfig(mode="dynamic", trailing=True, group=4),
    "parallel-l3": StripesConfig(mode="parallel", lanes=3, a_bits=5, a_signed=False, w_bits=4,
                                 w_signed=False, acc_bits=12),
}
CYCLES = {"verilator": 6000, "icarus": 2500}


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_stripes_matches_golden(name, sim, seed):
    cfg = CONFIGS[name]
    r = regress(cfg, sim, CYCLES[sim], seed)
    print(f"{cfg.config_id} {sim}: {r.checked} cycles checked, coverage {r.coverage}")
    for corner in ("output_backpressure_stall", "input_stall_while_ready", "back_to_back",
                   "all_precisions"):
        assert r.coverage[corner] > 0, f"{corner} not exercised"
    if cfg.acc_bits == cfg.sum_bits:
        assert r.coverage["accumulator_wrap"] > 0
