"""Approximate-multiplier PE: the baseline dot-product PE with one approximate multiplier per lane.

Hardware contract (rtl/approx_pe.py implements exactly this): identical to the baseline PE
(`quantpe.golden.baseline`: ports valid, first, last, a, w, out_valid, out_sum; latency
pipeline + 1; framed wrap/saturate accumulator), except that lane i forms
p_i = approx_mul(lane_mul(i))(a[i], w[i]) instead of the exact product. a[i] is the
multiplier's operand `a` (a_bits), w[i] its operand `b` (w_bits); both operands share one
signedness (`signed`). The lane sum s = sum_i p_i is exact (sum_bits wide, signed) and feeds the
accumulator as in the baseline.

Multiplier specs are strings "method" or "method:key=value,key=value" with the parameters of
`quantpe.golden.approx.ApproxMulConfig` (t, compensate, hbl, vbl, k, perf_rows, perf_start, or_cols,
signed_form, compressor, approx_cols), e.g. "exact", "truncated:t=6,compensate=1", "drum:k=4", "broken_array:hbl=1,vbl=7",
"truncated:signed_form=baugh_wooley,t=6".
They are stored in canonical form (parameters sorted, booleans as 0/1, defaults omitted), so
equal designs have equal ids. `mul` applies to every lane; `lane_muls` (one spec per lane)
replaces it (then `mul` must stay "exact"). The "lut" method is not available here (a PE config must be self-contained JSON).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .approx import MAX_OP_BITS, MIN_OP_BITS, ApproxMulConfig, approx_mul
from .baseline import Expected, frame_schedule
from .config import DesignConfig
from .dot import LaneWidths, Pipelined
from .errors import ConfigError

__all__ = ["ApproxPEConfig", "parse_mul_spec", "mul_spec", "approx_pe_lane_sums", "approx_pe_schedule",
           "approx_pe_schedule_ports"]

_INT_PARAMS = ("t", "hbl", "vbl", "k", "perf_rows", "perf_start", "or_cols", "approx_cols")
_BOOL_PARAMS = ("compensate",)
_STR_PARAMS = ("signed_form", "compressor")


def parse_mul_spec(spec: str, a_bits: int, b_bits: int, signed: bool) -> ApproxMulConfig:
    """The ApproxMulConfig named by `spec` at the given widths (ConfigError on a bad spec)."""
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"approxpe: a multiplier spec must be a non-empty string, got {spec!r}")
    method, _, rest = spec.strip().partition(":")
    method = method.strip()
    if method == "lut":
        raise ConfigError("approxpe: method 'lut' is not supported in a PE lane (use an array kind, drum or mitchell)")
    params: dict = {}
    items = [p.strip() for p in rest.split(",")] if rest.strip() else []
    if any(not item for item in items):
        raise ConfigError(f"approxpe: empty parameter in multiplier spec {spec!r}")
    for item in items:
        key, eq, val = item.partition("=")
        key, val = key.strip(), val.strip()
        keys = _INT_PARAMS + _BOOL_PARAMS + _STR_PARAMS
        if not eq or key not in keys:
            raise ConfigError(f"approxpe: bad multiplier parameter {item!r} in {spec!r} "
                              f"(expected key=value with key in {', '.join(keys)})")
        if key in params:
            raise ConfigError(f"approxpe: parameter {key} given twice in {spec!r}")
        if key in _STR_PARAMS:
            params[key] = val
            continue
        try:
            n = int(val)
        except ValueError:
            raise ConfigError(f"approxpe: parameter {key} in {spec!r} must be an integer, got {val!r}") from None
        if key in _BOOL_PARAMS:
            if n not in (0, 1):
                raise ConfigError(f"approxpe: parameter {key} in {spec!r} must be 0 or 1, got {val!r}")
            params[key] = bool(n)
        else:
            params[key] = n
    return ApproxMulConfig(method=method, a_bits=a_bits, b_bits=b_bits, signed=signed, **params)


def mul_spec(cfg: ApproxMulConfig) -> str:
    """Canonical spec string of a (non-lut) ApproxMulConfig: inverse of `parse_mul_spec`."""
    defaults = ApproxMulConfig()
    parts = []
    for key in sorted(_INT_PARAMS + _BOOL_PARAMS + _STR_PARAMS):
        v = getattr(cfg, key)
        if v != getattr(defaults, key):
            parts.append(f"{key}={v if key in _STR_PARAMS else int(v)}")
    return cfg.method + (":" + ",".join(parts) if parts else "")


@dataclasses.dataclass(frozen=True)
class ApproxPEConfig(LaneWidths, Pipelined, DesignConfig):
    """Baseline PE parameters plus per-lane multiplier specs (defaults: 16 lanes, int8, all exact)."""

    kind = "approxpe"
    lanes: int = 16
    a_bits: int = 8
    w_bits: int = 8
    signed: bool = True
    acc_bits: int = 32
    pipeline: int = 1
    saturate: bool = False
    mul: str = "exact"          # spec of every lane (must stay "exact" when lane_muls is given)
    lane_muls: tuple = ()       # () or exactly `lanes` specs (lane 0 first)

    def __post_init__(self):
        lm = self.lane_muls
        if isinstance(lm, list):
            lm = tuple(lm)
        if not isinstance(lm, tuple):
            raise ConfigError(f"approxpe: lane_muls must be a list of multiplier specs, got {lm!r}")
        object.__setattr__(self, "lane_muls", lm)
        super().__post_init__()
        # canonical spec strings (after the width checks of validate)
        object.__setattr__(self, "mul", mul_spec(self._parse(self.mul)))
        object.__setattr__(self, "lane_muls", tuple(mul_spec(self._parse(s)) for s in self.lane_muls))

    def _parse(self, spec) -> ApproxMulConfig:
        return parse_mul_spec(spec, self.a_bits, self.w_bits, self.signed)

    def validate(self):
        self.check_lane_widths("approxpe: ", MIN_OP_BITS, MAX_OP_BITS)
        self.check_pipeline("approxpe: ")
        if self.lane_muls and len(self.lane_muls) != self.lanes:
            raise ConfigError(f"approxpe: lane_muls needs one spec per lane ({self.lanes}), "
                              f"got {len(self.lane_muls)}")
        if self.lane_muls and self._parse(self.mul).method != "exact":
            raise ConfigError("approxpe: give either mul (every lane) or lane_muls (one spec per lane), not both")
        self._parse(self.mul)
        for s in self.lane_muls:
            self._parse(s)
        self.check_acc_bits("approxpe: ")

    # ------------------------------------------------------------ derived
    def lane_configs(self) -> tuple:
        """ApproxMulConfig of every lane (lane 0 first)."""
        specs = self.lane_muls or (self.mul,) * self.lanes
        return tuple(self._parse(s) for s in specs)

    @property
    def product_bits(self) -> int:
        """Width of the signed lane terms: the widest lane's y_bits (+1 when unsigned)."""
        return max(c.y_bits + (0 if self.signed else 1) for c in set(self.lane_configs()))

    # the stimulus generator of the baseline PE duck-types on these
    @property
    def a_signed(self) -> bool:
        return self.signed

    @property
    def w_signed(self) -> bool:
        return self.signed

    def short_name(self) -> str:
        t = f"{'i' if self.signed else 'u'}"
        specs = self.lane_muls or (self.mul,)
        tags = sorted({s.replace(":", "-").replace(",", "-").replace("=", "") for s in specs})
        mix = tags[0] if len(tags) == 1 else f"mix{len(tags)}"
        sat = "-sat" if self.saturate else ""
        return (f"approxpe-l{self.lanes}-a{t}{self.a_bits}-w{t}{self.w_bits}-{mix}"
                f"-acc{self.acc_bits}-p{self.pipeline}{sat}")


def approx_pe_lane_sums(cfg: ApproxPEConfig, a, w) -> np.ndarray:
    """(T,) int64: sum over lanes of each lane's approximate product; a, w are (T, lanes)."""
    a = np.asarray(a, dtype=np.int64).reshape(-1, cfg.lanes)
    w = np.asarray(w, dtype=np.int64).reshape(-1, cfg.lanes)
    total = np.zeros(len(a), dtype=np.int64)
    for i, c in enumerate(cfg.lane_configs()):
        total += approx_mul(c)(a[:, i], w[:, i])
    return total


def approx_pe_schedule(cfg: ApproxPEConfig, valid, first, last, a, w) -> Expected:
    """Cycle-exact expected outputs of the PE for a T-cycle stimulus (after reset)."""
    return frame_schedule(approx_pe_lane_sums(cfg, a, w), valid, first, last, cfg.acc_bits,
                          cfg.saturate, cfg.latency)


def approx_pe_schedule_ports(cfg: ApproxPEConfig, inputs: dict) -> dict:
    """Scoreboard hook: {"out_valid", "out_sum"} per cycle for the port streams `inputs`.

    Inputs on non-valid cycles may be arbitrary in-range codes; they do not affect the outputs.
    """
    exp = approx_pe_schedule(cfg, inputs["valid"], inputs["first"], inputs["last"],
                             inputs["a"], inputs["w"])
    return {"out_valid": exp.out_valid, "out_sum": exp.out_sum}
