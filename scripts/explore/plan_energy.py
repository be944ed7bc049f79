"""Multiplier energy of a plan's layers, from the energy flow.

`layer_pairs(q, x, layer)`: (a, w) int64 arrays of PAIRS (activation code, weight code) pairs
that weight layer `layer` of the QGraph q multiplies on the batch x: whole outputs (sample,
group, output position, output channel) drawn uniformly without replacement (seeded), each
contributing its K products in order, as one multiplier computing that output would see them
(the codes its multipliers see: signed a_bits / w_bits, zero padding included); the last output
is cut at PAIRS.

`mul_energy_pj(jobs)`: pJ per multiplication of each (ApproxMulConfig, a, w) job: the
multiplier's gate netlist (the sky130 liberty) fed one pair per cycle at 100 MHz, zero-delay
toggles, checked equal to the golden model on every cycle, switching + internal + leakage
(quantpe.power.measure.measure_power, cached per netlist and stimulus), in parallel: one worker job per
cfg, its streams in a row on one netlist load.

Cost of a layer's multiplier = MACs per sample x pJ per multiplication on the layer's own
pairs; an exact layer costs the lowest-energy exact form of its widths on those pairs.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from quantpe.core.build import build_root
from quantpe.core.jobs import parallel_map
from quantpe.golden.errors import ConfigError
from quantpe.power.measure import measure_power
from quantpe.synth.cell_power import PowerLibrary
from quantpe.synth.liberty import sky130_liberty

__all__ = ["PAIRS", "layer_pairs", "mul_energy_pj"]

PAIRS = 2000


def layer_pairs(q, x, layer: str, count: int = PAIRS, seed: int = 0,
                capture: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(a, w) code pairs of `layer` on batch x (module docstring); capture: q.capture(x), when
    the caller has it (one inference for every layer)."""
    if count < 1:
        raise ConfigError(f"need at least one operand pair, got {count}")
    lay = q.layer(layer)
    vals = q.capture(x) if capture is None else capture
    cols = lay.columns(lay.input_codes(vals[lay.inputs[0]]))                  # (N, G, P, K)
    n, g, p, k = cols.shape
    w = np.asarray(lay.weight.codes, dtype=np.int64)                          # (O, K)
    og = w.shape[0] // g
    total = n * g * p * og
    picks = np.random.default_rng(seed).permutation(total)[:-(-count // k)]
    s, rest = np.divmod(picks, g * p * og)
    gi, rest = np.divmod(rest, p * og)
    pi, oi = np.divmod(rest, og)
    a = cols[s, gi, pi].reshape(-1)[:count].astype(np.int64)
    b = w[gi * og + oi].reshape(-1)[:count]
    return a, b


def _job(job) -> tuple[list[float], bool]:
    """(pJ per multiplication of one cfg on each of its (a, w) streams, in a row (one netlist
    load); True when its gate netlist was built here, False when the build cache had it)."""
    cfg, streams, liberty = job
    out, built = [], False
    for a, b in streams:
        tag = hashlib.sha256(a.tobytes() + b.tobytes()).hexdigest()[:16]
        r = measure_power(cfg, {"a": a, "b": b}, out_dir=build_root() / "power" / cfg.config_id,
                          stimulus=f"plan layer pairs {tag}", name=f"plan-{tag}", liberty=liberty, cache=True)
        out.append(float(r["energy_per_op_pj"]))
        built |= not r["synth_cached"]
    return out, built


def mul_energy_pj(jobs: list, liberty: Path | None = None, netlists: dict | None = None) -> list[float]:
    """pJ per multiplication of each (cfg, a, w) job (module docstring); netlists (a dict), when
    given, counts the distinct cfgs' gate netlists under "built" (made here) and "reused" (from
    the build cache: every model's plans share them)."""
    lib = liberty or sky130_liberty()
    if lib is None:
        raise ConfigError("multiplier energy needs the sky130_fd_sc_hd liberty (../shared/pdk or "
                          "$QUANTPE_SKY130_LIB); use the area x MACs cost instead")
    PowerLibrary.read(lib, cells=())             # parsed once here, inherited by the workers
    by_cfg: dict = {}
    for i, (c, a, b) in enumerate(jobs):
        by_cfg.setdefault(c, []).append((i, a, b))
    grouped = list(by_cfg.items())
    res = parallel_map(_job, [(c, [(a, b) for _, a, b in v], Path(lib)) for c, v in grouped],
                       desc="multiplier energy")
    out = [0.0] * len(jobs)
    for (_, v), (pj, built) in zip(grouped, res):
        for (i, _, _), e in zip(v, pj):
            out[i] = e
        if netlists is not None:
            key = "built" if built else "reused"
            netlists[key] = netlists.get(key, 0) + 1
    return out
