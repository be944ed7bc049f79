"""Stripes / Dynamic Stripes serial inner-product (SIP) PE: config and cycle-level golden model.

Terms. A *brick* is one input transaction: L activations a[0..L-1] and L weights w[0..L-1] plus
the framing bits first/last (and, in static mode, a window). A *detection group* is G
consecutive lanes of a brick (lanes j*G .. j*G+G-1) that share one detected window (dynamic mode
only; G divides L, default G = L).

Arithmetic (bit rules in `stripes_precision`). Each brick contributes
    value = sum_i window_value(a[i], msb_j(i), lsb_j(i)) * w[i]          (exact)
to a signed acc_bits accumulator: acc = value if first else acc + value, wrapped modulo
2^acc_bits (no saturation mode: a bit-serial accumulator wraps). With `last` the new acc is
emitted. Windows: static mode: [win_msb..win_lsb] given with the brick (a per-layer run-time
register value); dynamic mode: the detected window of each group (exact by construction, so
value = dot(a, w)); parallel mode (the bit-parallel comparison PE): the full word, value = dot.
Bit-serial processing: in cycle k = 0.. of a brick, group j processes bit position
lsb_j + k while k <= msb_j - lsb_j and adds (sum of the group's weights whose activation has
that bit set) << (lsb_j + k) into the accumulator, negated for the window's top bit of a signed
activation. Brick cycles P = max_j (msb_j - lsb_j + 1) (1 for parallel mode).

Cycle protocol (rtl/stripes.py implements exactly this; cycle t ends with rising edge t):
  input : the PE accepts a brick in cycle t iff in_valid & in_ready (data sampled at that edge).
          in_ready = !busy | (final & commit). It does not depend on in_valid, but it depends
          combinationally on out_ready (through commit).
  work  : a brick accepted in cycle t occupies processing cycles t+1 .. t+P (busy); cycle t+k+1
          is step k. The final step (k = P-1) of a brick with last commits only when the output
          register can take the result: commit = !(final & last) | !out_valid | out_ready;
          a step that does not commit is repeated next cycle (stall). A brick can be accepted in
          the cycle of the previous brick's committing final step (back-to-back, no bubble), so
          the peak rate is one brick per P cycles.
  output: the result of a last-brick whose final step commits in cycle t is shown from cycle
          t+1: out_valid = 1 and out_sum = acc, held until a cycle with out_ready = 1
          (handshake), after which out_valid drops unless a new result is loaded at that same
          edge. out_sum keeps the last loaded value while out_valid = 0 (0 after reset).
  reset : synchronous, active high: idle, acc = 0, out_valid = 0, out_sum = 0. A brick without
          first continues the running sum (acc is not cleared by an emission).
Data on the input ports is ignored while in_valid = 0.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .config import DesignConfig
from .dot import LaneWidths
from .errors import ConfigError, QuantpeError
from .intmath import clog2, wrap
from .stripes_precision import check_codes, check_window, covering_msb, detect_windows, window_value

__all__ = ["stripes_schedule_ports", "StripesConfig", "MODES", "BrickStream", "StripesSchedule", "brick_windows",
           "brick_cycles", "brick_values", "stripes_schedule", "LayerCycles", "ModelCycles",
           "layer_cycles", "model_cycles", "CYCLE_KEYS"]

MODES = ("static", "dynamic", "parallel")


@dataclasses.dataclass(frozen=True)
class StripesConfig(LaneWidths, DesignConfig):
    """Parameters of the SIP PE (defaults: 16 lanes, int8 activations, int8 weights, static).

    mode: "static" (Stripes: window from the win_msb/win_lsb inputs), "dynamic" (Dynamic
    Stripes: detected window per group of `group` lanes; `trailing` adds trailing-one
    detection), "parallel" (bit-parallel PE with the same ports and protocol, 1 cycle/brick).
    group = 0 means group = lanes (it is stored as lanes); group and trailing apply to dynamic
    mode only.
    """

    kind = "stripes"
    lanes: int = 16
    a_bits: int = 8
    w_bits: int = 8
    a_signed: bool = True
    w_signed: bool = True
    mode: str = "static"
    group: int = 0
    trailing: bool = False
    acc_bits: int = 32

    def __post_init__(self):
        if type(self.group) is int and self.group == 0 and type(self.lanes) is int:
            object.__setattr__(self, "group", self.lanes)
        super().__post_init__()

    def validate(self):
        self.check_lane_widths("stripes: ")
        if self.mode not in MODES:
            raise ConfigError(f"stripes: mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.group < 1 or self.lanes % self.group:
            raise ConfigError(f"stripes: group {self.group} must divide lanes {self.lanes}")
        if self.mode != "dynamic" and self.group != self.lanes:
            raise ConfigError(f"stripes: group {self.group} != lanes applies to dynamic mode only")
        if self.mode != "dynamic" and self.trailing:
            raise ConfigError("stripes: trailing-one detection applies to dynamic mode only")
        self.check_acc_bits("stripes: ")

    @property
    def n_groups(self) -> int:
        return self.lanes // self.group

    @property
    def win_bits(self) -> int:
        """Width of the win_msb / win_lsb ports and of every bit-position register."""
        return max(1, clog2(self.a_bits))

    @property
    def max_cycles(self) -> int:
        """Cycles of the slowest brick (a full-precision window)."""
        return 1 if self.mode == "parallel" else self.a_bits

    def short_name(self) -> str:
        def t(bits, signed):
            return f"{'i' if signed else 'u'}{bits}"
        mode = {"static": "st", "dynamic": "dyn", "parallel": "par"}[self.mode]
        if self.mode == "dynamic":
            mode += f"-g{self.group}" + ("-lt" if self.trailing else "-l")
        return (f"stripes-{mode}-l{self.lanes}-a{t(self.a_bits, self.a_signed)}"
                f"-w{t(self.w_bits, self.w_signed)}-acc{self.acc_bits}")


# ----------------------------------------------------------------------------- brick math

def _bricks_a(cfg: StripesConfig, a) -> np.ndarray:
    a = check_codes(a, cfg.a_bits, cfg.a_signed, "activation")
    if a.ndim != 2 or a.shape[1] != cfg.lanes:
        raise QuantpeError(f"activation bricks must have shape (N, {cfg.lanes}), got {a.shape}")
    return a


def brick_windows(cfg: StripesConfig, a, msb=None, lsb=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-group windows of bricks `a` (N, L): (msb, lsb), each (N, n_groups) int64.

    static: msb/lsb (scalars or (N,)) are required and checked; dynamic: detected;
    parallel: the full word [a_bits-1..0]. A window given outside static mode is an error.
    """
    a = _bricks_a(cfg, a)
    n = a.shape[0]
    if cfg.mode != "static":
        if msb is not None or lsb is not None:
            raise QuantpeError(f"a window (msb/lsb) applies to static mode only, not {cfg.mode}")
        if cfg.mode == "dynamic":
            return detect_windows(a, cfg.a_bits, cfg.a_signed, cfg.group, cfg.trailing)
        return np.full((n, 1), cfg.a_bits - 1, np.int64), np.zeros((n, 1), np.int64)
    if msb is None or lsb is None:
        raise QuantpeError("static mode needs a window: msb and lsb")
    m, l_ = check_window(msb, lsb, cfg.a_bits)
    try:
        m = np.broadcast_to(m, (n,)).reshape(n, 1)
        l_ = np.broadcast_to(l_, (n,)).reshape(n, 1)
    except ValueError:
        raise QuantpeError(f"window msb/lsb must be scalars or have shape ({n},)") from None
    return m.copy(), l_.copy()


def brick_cycles(cfg: StripesConfig, a, msb=None, lsb=None) -> np.ndarray:
    """Processing cycles P of each brick (N,): max over groups of msb - lsb + 1; 1 if parallel."""
    m, l_ = brick_windows(cfg, a, msb, lsb)
    if cfg.mode == "parallel":
        return np.ones(m.shape[0], np.int64)
    return (m - l_ + 1).max(axis=1)


def brick_values(cfg: StripesConfig, a, w, msb=None, lsb=None) -> np.ndarray:
    """Exact (unwrapped) value each brick adds to the accumulator (N,) int64."""
    a = _bricks_a(cfg, a)
    w = check_codes(w, cfg.w_bits, cfg.w_signed, "weight")
    if w.shape != a.shape:
        raise QuantpeError(f"weight bricks must have shape {a.shape}, got {w.shape}")
    m, l_ = brick_windows(cfg, a, msb, lsb)
    per_lane = cfg.lanes // m.shape[1]
    eff = window_value(a, np.repeat(m, per_lane, axis=1), np.repeat(l_, per_lane, axis=1),
                       cfg.a_bits, cfg.a_signed)
    return np.sum(eff * w, axis=1, dtype=np.int64)


# ----------------------------------------------------------------------------- schedule

@dataclasses.dataclass
class BrickStream:
    """The work offered to the PE, in order: N bricks.

    a, w: (N, lanes) codes; first, last: (N,) 0/1; msb, lsb: (N,) or scalar window (static mode
    only, else None).
    """

    a: np.ndarray
    w: np.ndarray
    first: np.ndarray
    last: np.ndarray
    msb: np.ndarray | int | None = None
    lsb: np.ndarray | int | None = None

    def __len__(self):
        return len(self.a)


@dataclasses.dataclass
class StripesSchedule:
    """Cycle-exact drive and expected outputs of the SIP PE for T cycles after reset.

    Drive (what the source and sink put on the ports during cycle t): in_valid, first, last,
    a (T, L), w (T, L), win_msb, win_lsb (static mode; zeros otherwise), out_ready, and
    brick_at[t] = index of the brick presented (-1: none).
    Expected DUT outputs during cycle t: in_ready, out_valid, out_sum.
    Per brick (N,): cycles P, value (exact brick contribution), result (acc after the brick,
    = the emitted value for a last-brick), accept (cycle of the input handshake), finish (cycle of
    the committing final step), emit (first cycle with out_valid showing the result, last-bricks
    only), taken (cycle of the output handshake); -1 where it does not happen within T cycles.
    """

    in_valid: np.ndarray
    first: np.ndarray
    last: np.ndarray
    a: np.ndarray
    w: np.ndarray
    win_msb: np.ndarray
    win_lsb: np.ndarray
    out_ready: np.ndarray
    brick_at: np.ndarray
    in_ready: np.ndarray
    out_valid: np.ndarray
    out_sum: np.ndarray
    cycles: np.ndarray
    value: np.ndarray
    result: np.ndarray
    accept: np.ndarray
    finish: np.ndarray
    emit: np.ndarray
    taken: np.ndarray

    def __len__(self):
        return len(self.in_valid)


def _flags(x, n: int, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.shape != (n,):
        raise QuantpeError(f"{what} must have shape ({n},), got {arr.shape}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise QuantpeError(f"{what} must hold only 0/1")
    return arr.astype(bool)


def stripes_schedule(cfg: StripesConfig, bricks: BrickStream, in_valid, out_ready,
                     fill_rng: np.random.Generator | None = None) -> StripesSchedule:
    """Golden cycle-level schedule of the SIP PE (protocol in the module docstring).

    in_valid (T,): the source offers its next brick in cycle t iff in_valid[t] = 1 and bricks
    remain (it may withdraw an offer; the PE does not rely on valid staying high).
    out_ready (T,): the sink's ready in cycle t. T = len(in_valid) = len(out_ready).
    fill_rng: when given, the data ports carry random in-range values in cycles without an
    offer (the PE must ignore them); otherwise they carry the next brick (or zeros).
    Long: the cycle-by-cycle schedule of one brick stream, the RTL's state machine in numpy."""
    T = len(in_valid)
    offer_pat = _flags(in_valid, T, "in_valid pattern")
    ready_pat = _flags(out_ready, T, "out_ready pattern")
    a = _bricks_a(cfg, bricks.a)
    N, L = a.shape
    w = check_codes(bricks.w, cfg.w_bits, cfg.w_signed, "weight")
    if w.shape != a.shape:
        raise QuantpeError(f"weight bricks must have shape {a.shape}, got {w.shape}")
    first = _flags(bricks.first, N, "first")
    last = _flags(bricks.last, N, "last")
    P = brick_cycles(cfg, a, bricks.msb, bricks.lsb)
    V = brick_values(cfg, a, w, bricks.msb, bricks.lsb)
    if cfg.mode == "static":
        wm, wl = (np.broadcast_to(np.asarray(x, np.int64), (N,)) for x in (bricks.msb, bricks.lsb))
    else:
        wm = wl = np.zeros(N, np.int64)

    d_valid = np.zeros(T, np.int64)
    d_first = np.zeros(T, np.int64)
    d_last = np.zeros(T, np.int64)
    d_a = np.zeros((T, L), np.int64)
    d_w = np.zeros((T, L), np.int64)
    d_msb = np.zeros(T, np.int64)
    d_lsb = np.zeros(T, np.int64)
    brick_at = np.full(T, -1, np.int64)
    e_ready = np.zeros(T, np.int64)
    e_valid = np.zeros(T, np.int64)
    e_sum = np.zeros(T, np.int64)
    result = np.zeros(N, np.int64)
    accept, finish, emit, taken = (np.full(N, -1, np.int64) for _ in range(4))

    busy, cur, k, nxt = False, -1, 0, 0
    acc, ov, osum, pending = 0, False, 0, -1
    for t in range(T):
        offer = bool(offer_pat[t]) and nxt < N
        if offer or (fill_rng is None and nxt < N):
            d_first[t], d_last[t] = first[nxt], last[nxt]
            d_a[t], d_w[t] = a[nxt], w[nxt]
            d_msb[t], d_lsb[t] = wm[nxt], wl[nxt]
        elif fill_rng is not None:
            lo, hi = cfg.a_range()
            d_a[t] = fill_rng.integers(lo, hi + 1, L)
            lo, hi = cfg.w_range()
            d_w[t] = fill_rng.integers(lo, hi + 1, L)
            d_first[t], d_last[t] = fill_rng.integers(0, 2, 2)
            if cfg.mode == "static":
                d_msb[t], d_lsb[t] = fill_rng.integers(0, 1 << cfg.win_bits, 2)
        if offer:
            d_valid[t], brick_at[t] = 1, nxt
        e_valid[t], e_sum[t] = ov, osum
        final = busy and k == P[cur] - 1
        commit = busy and (not (final and last[cur]) or not ov or bool(ready_pat[t]))
        rdy = (not busy) or (final and commit)
        e_ready[t] = rdy
        # ---- clock edge at the end of cycle t
        ov_n, osum_n = ov, osum
        if ov and ready_pat[t]:
            ov_n = False
            taken[pending] = t
        if commit:
            if final:
                acc = int(wrap((0 if first[cur] else acc) + int(V[cur]), cfg.acc_bits))
                result[cur], finish[cur] = acc, t
                busy = False
                if last[cur]:
                    ov_n, osum_n, pending = True, acc, cur
                    if t + 1 < T:
                        emit[cur] = t + 1
            else:
                k += 1
        if offer and rdy:
            accept[nxt] = t
            busy, cur, k = True, nxt, 0
            nxt += 1
        ov, osum = ov_n, osum_n
    return StripesSchedule(in_valid=d_valid, first=d_first, last=d_last, a=d_a, w=d_w,
                           win_msb=d_msb, win_lsb=d_lsb, out_ready=ready_pat.astype(np.int64),
                           brick_at=brick_at, in_ready=e_ready, out_valid=e_valid, out_sum=e_sum,
                           cycles=P, value=V, result=result, accept=accept, finish=finish,
                           emit=emit, taken=taken)


# ----------------------------------------------------------------------------- layer totals

@dataclasses.dataclass(frozen=True)
class LayerCycles:
    """Cycles of one layer y[n, m] = sum_k a[n, k] * w[m, k] on a column of `lockstep` PEs.

    Each output needs `bricks` = ceil(K / L) bricks (the last one zero-padded). The `lockstep`
    PEs process the same brick index of `lockstep` consecutive rows n together and advance at the
    slowest one (lockstep = 1: one PE). All counts assume back-to-back bricks (no stalls):
    parallel: 1 cycle/brick (bit-parallel PE, same lanes); serial_full: a_bits cycles/brick
    (bit-serial, no precision reduction); stripes: msb - lsb + 1 cycles/brick (the static
    window); dynamic_lead / dynamic_trail: detected per brick (leading only / leading + trailing,
    detection groups of cfg.group lanes). `stripes_mismatches` counts outputs whose static-window
    result (wrapped to acc_bits) differs from the exact one.
    """

    rows: int
    outputs: int
    bricks: int
    lockstep: int
    window: tuple
    parallel: int
    serial_full: int
    stripes: int
    dynamic_lead: int
    dynamic_trail: int
    stripes_mismatches: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ModelCycles:
    layers: tuple
    totals: dict        # same cycle keys as LayerCycles, summed over layers

    def speedup(self, name: str, over: str = "serial_full") -> float:
        return self.totals[over] / self.totals[name]


CYCLE_KEYS = ("parallel", "serial_full", "stripes", "dynamic_lead", "dynamic_trail")


def _lockstep_sum(p: np.ndarray, lockstep: int) -> int:
    """Sum over row chunks of the per-brick max over the chunk's rows; p is (N, nb)."""
    n, nb = p.shape
    pad = (-n) % lockstep
    if pad:
        p = np.concatenate([p, np.zeros((pad, nb), p.dtype)])
    return int(p.reshape(-1, lockstep, nb).max(axis=1).sum())


def layer_cycles(cfg: StripesConfig, trace, weights, window=None, lockstep: int = 1) -> LayerCycles:
    """Cycle totals of one layer for every PE variant (see LayerCycles).

    trace: (N, K) activation codes (cfg.a_bits, cfg.a_signed); weights: (M, K) weight codes
    (cfg.w_bits, cfg.w_signed), output-major like `qmodel`'s w[o, k]; window: (msb, lsb) of the
    static Stripes profile, default [covering_msb(trace)..0] (lossless). Only the cfg widths,
    lanes and group are used: every mode is counted.
    """
    x = check_codes(trace, cfg.a_bits, cfg.a_signed, "activation")
    wt = check_codes(weights, cfg.w_bits, cfg.w_signed, "weight")
    if x.ndim != 2:
        raise QuantpeError(f"activation trace must be 2-D (N, K), got shape {x.shape}")
    if wt.ndim != 2 or wt.shape[1] != x.shape[1]:
        raise QuantpeError(f"weights must have shape (M, {x.shape[1]}), got {wt.shape}")
    if not isinstance(lockstep, int) or lockstep < 1:
        raise QuantpeError(f"lockstep must be a positive integer, got {lockstep!r}")
    n, K = x.shape
    m_out = wt.shape[0]
    if window is None:
        window = (covering_msb(x, cfg.a_bits, cfg.a_signed), 0)
    msb, lsb = (int(v) for v in check_window(*window, cfg.a_bits))
    L = cfg.lanes
    nb = -(-K // L) if K else 0
    xp = np.zeros((n, nb * L), np.int64)
    xp[:, :K] = x
    bricks = xp.reshape(n * nb, L)
    per_brick = {}
    for trailing in (False, True):
        dm, dl = detect_windows(bricks, cfg.a_bits, cfg.a_signed, cfg.group, trailing)
        per_brick[trailing] = (dm - dl + 1).max(axis=1).reshape(n, nb) if nb else np.zeros((n, 0), np.int64)
    chunks = -(-n // lockstep)
    steps = chunks * nb * m_out
    exact = wrap(x @ wt.T, cfg.acc_bits)
    windowed = wrap(window_value(x, msb, lsb, cfg.a_bits, cfg.a_signed) @ wt.T, cfg.acc_bits)
    return LayerCycles(
        rows=n, outputs=m_out, bricks=nb, lockstep=lockstep, window=(msb, lsb),
        parallel=steps, serial_full=steps * cfg.a_bits, stripes=steps * (msb - lsb + 1),
        dynamic_lead=m_out * _lockstep_sum(per_brick[False], lockstep),
        dynamic_trail=m_out * _lockstep_sum(per_brick[True], lockstep),
        stripes_mismatches=int(np.count_nonzero(exact != windowed)))


def model_cycles(cfg: StripesConfig, traces, weights, windows=None, lockstep: int = 1) -> ModelCycles:
    """Per-layer `layer_cycles` and their totals; traces/weights/windows are per-layer lists."""
    traces, weights = list(traces), list(weights)
    if len(traces) != len(weights):
        raise QuantpeError(f"{len(traces)} activation traces but {len(weights)} weight matrices")
    windows = [None] * len(traces) if windows is None else list(windows)
    if len(windows) != len(traces):
        raise QuantpeError(f"{len(windows)} windows for {len(traces)} layers")
    layers = tuple(layer_cycles(cfg, x, w, win, lockstep) for x, w, win in zip(traces, weights, windows))
    totals = {k: sum(getattr(lc, k) for lc in layers) for k in CYCLE_KEYS}
    return ModelCycles(layers=layers, totals=totals)


def stripes_schedule_ports(cfg: StripesConfig, inputs: dict) -> dict:
    """Expected in_ready/out_valid/out_sum per cycle, from the brick stream in `inputs`."""
    kw = {}
    if cfg.mode == "static":
        kw = dict(msb=inputs["_msb"], lsb=inputs["_lsb"])
    bricks = BrickStream(inputs["_a"], inputs["_w"], inputs["_first"], inputs["_last"], **kw)
    s = stripes_schedule(cfg, bricks, inputs["_in_valid"], inputs["_out_ready"])
    return {"in_ready": s.in_ready, "out_valid": s.out_valid, "out_sum": s.out_sum}
