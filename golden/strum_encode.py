"""StruM encoder: float or integer weight matrices -> StruM blocks, and their exact decode.

Input: a weight matrix (C, N) = (output channels, reduction length); a 1-D vector is one
channel. N must be a multiple of the block size B (otherwise QuantpeError naming N and B: pad
the reduction axis with zero weights and zero activations yourself if you need to).

Float weights: per-channel symmetric scale s = max_n |w[c, n]| / (2^(hb-1)-1) and high codes
clip(round_half_away(w / s)) (`quantize.quantize`, so the high codes equal plain INT-hb codes).
Integer weights (`encode_int`) are already in units of s (scale 1) and must lie in
+-(2^(hb-1)-1).

Per block of B consecutive weights of one channel:
- mask: the K largest |w| (float |w| for float input; ties -> lower index) are high lanes;
  select="group": the K/G largest |w| of each group of B/G consecutive lanes (same ties);
- high lanes keep their hb-bit code;
- low lanes are coded against x = w / s (float input) or x = w (integer input):
  DLIQ : for each j in 0..7, q_j = clip(round_half_away(x / 2^j), -2^(lb-1), 2^(lb-1)-1) (the
         nearest grid point; exact halves away from zero); j = argmin over j of the block's
         sum (x - q_j 2^j)^2 (ties -> smaller j). shift="layer": one j for the whole tensor,
         argmin of the tensor's total squared error (ties -> smaller j), or given by the caller.
  MIP2Q: the code whose value (+2^e, -2^e for e >= 1, or 0) is nearest to x; ties -> the
         larger magnitude (as round half away from zero). -1 is not representable: its code
         (sign=1, e=0) means 0.
Decoded integer weights (`values`) are in units of s and never clipped (q * 2^j may exceed the
hb-bit range).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dot import dot
from .errors import QuantpeError
from .intmath import int_range, round_half_away
from .quantize import quantize
from .strum_codec import BlockFields, block_bits, block_values, mip2q_code, pack_blocks
from .strum_config import J_BITS, J_MAX, StrumConfig

__all__ = ["StrumTensor", "encode", "encode_int", "strum_dot", "dliq_low_codes",
           "mip2q_low_codes", "as_weight_matrix"]


@dataclass(frozen=True)
class StrumTensor:
    """A StruM-coded weight matrix (C channels, N = nb * B weights each).

    fields: BlockFields with mask (C, nb, B), hi (C, nb, K), lo (C, nb, B-K), j (C, nb) (DLIQ:
    the shift of each block, equal for shift="layer"; None for MIP2Q).
    scale: (C, 1) float64, the real value of one integer unit per channel.
    """

    cfg: StrumConfig
    fields: BlockFields
    scale: np.ndarray

    @property
    def shape(self) -> tuple:
        C, nb, B = self.fields.mask.shape
        return C, nb * B

    @property
    def layer_j(self) -> int | None:
        """The per-layer shift (DLIQ shift="layer"), else None."""
        if self.cfg.variant == "dliq" and self.cfg.shift == "layer" and self.fields.j.size:
            return int(self.fields.j.reshape(-1)[0])
        return None

    def values(self) -> np.ndarray:
        """Decoded integer weights (C, N), int64, units of s (never clipped)."""
        return block_values(self.cfg, self.fields).reshape(self.shape)

    def dequantize(self) -> np.ndarray:
        return self.values() * self.scale

    def words(self) -> np.ndarray:
        """Block words (C, nb) as Python ints (see strum_codec for the bit layout)."""
        f = self.fields
        if not self.cfg.j_in_block:
            f = BlockFields(f.mask, f.hi, f.lo, None)
        return pack_blocks(self.cfg, f)

    @property
    def storage_bits(self) -> int:
        """Bits of all block words (+3 for a per-layer j)."""
        C, nb, _ = self.fields.mask.shape
        extra = J_BITS if self.layer_j is not None else 0
        return C * nb * block_bits(self.cfg) + extra


def as_weight_matrix(w, what: str = "weights") -> np.ndarray:
    """`w` as a 2-D float64 (C, N) array (1-D -> one channel); QuantpeError on NaN/inf/shape."""
    try:
        w = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise QuantpeError(f"{what} are not numeric: {e}") from None
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] == 0:
        raise QuantpeError(f"{what} must be a (channels, reduction) matrix, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise QuantpeError(f"{what} contain NaN or infinite values")
    return w


def _check_length(n: int, cfg: StrumConfig) -> None:
    if n % cfg.block:
        raise QuantpeError(f"reduction length {n} is not a multiple of the StruM block size "
                           f"{cfg.block}; pad it with zero weights to {-(-n // cfg.block) * cfg.block}")


def dliq_low_codes(cfg: StrumConfig, x, j=None) -> tuple[np.ndarray, np.ndarray]:
    """DLIQ low codes for targets x (..., B-K): returns (q (..., B-K), j (...)).

    shift="block": j per block (leading index); shift="layer": one j for everything (chosen, or
    the given `j`).
    """
    x = np.asarray(x, dtype=np.float64)
    qlo, qhi = int_range(cfg.lb, True)
    steps = 2.0 ** np.arange(J_MAX + 1).reshape((-1,) + (1,) * x.ndim)
    q = np.clip(round_half_away(x[None] / steps), qlo, qhi)         # (8, ..., B-K)
    err = np.sum((x[None] - q * steps) ** 2, axis=-1)               # (8, ...)
    if cfg.shift == "block":
        if j is not None:
            raise QuantpeError("j is chosen per block when shift='block'; pass j only with shift='layer'")
        jj = np.argmin(err, axis=0)
    else:
        if j is None:
            j = int(np.argmin(err.reshape(J_MAX + 1, -1).sum(axis=1)))
        if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j <= J_MAX:
            raise QuantpeError(f"layer shift j must be an integer in 0..{J_MAX}, got {j!r}")
        jj = np.full(x.shape[:-1], int(j), dtype=np.int64)
    codes = np.take_along_axis(q, jj[None, ..., None], axis=0)[0]
    return codes.astype(np.int64), jj.astype(np.int64)


def _mip2q_candidates(cfg: StrumConfig) -> tuple[np.ndarray, np.ndarray]:
    """(values, codes) of every MIP2Q code, largest magnitude first, + before -, zero last."""
    vals, codes = [], []
    for e in range(cfg.low_shift_max, -1, -1):
        vals.append(1 << e)
        codes.append(int(mip2q_code(cfg, 0, e)))
        if e >= 1:
            vals.append(-(1 << e))
            codes.append(int(mip2q_code(cfg, 1, e)))
    vals.append(0)
    codes.append(int(mip2q_code(cfg, 1, 0)))
    return np.array(vals, dtype=np.float64), np.array(codes, dtype=np.int64)


def mip2q_low_codes(cfg: StrumConfig, x) -> np.ndarray:
    """MIP2Q low codes (least squared error per weight; ties -> larger magnitude)."""
    x = np.asarray(x, dtype=np.float64)
    vals, codes = _mip2q_candidates(cfg)
    err = (x[..., None] - vals) ** 2
    return codes[np.argmin(err, axis=-1)]


def _encode(cfg: StrumConfig, key, x, hi_codes, scale, j) -> StrumTensor:
    C, N = x.shape
    _check_length(N, cfg)
    B, K = cfg.block, cfg.k
    nb = N // B
    G, L = cfg.n_groups, cfg.group_lanes
    order = np.argsort(-key.reshape(C, nb, G, L), axis=-1, kind="stable")
    mask = np.zeros((C, nb, G, L), dtype=np.int64)
    np.put_along_axis(mask, order[..., :cfg.group_k], 1, axis=-1)
    mask = mask.reshape(C, nb, B)
    high = mask.astype(bool)
    hi = hi_codes.reshape(C, nb, B)[high].reshape(C, nb, K)
    xl = x.reshape(C, nb, B)[~high].reshape(C, nb, B - K)
    if cfg.variant == "dliq":
        lo, jj = dliq_low_codes(cfg, xl, j)
    else:
        if j is not None:
            raise QuantpeError("MIP2Q has no shift j")
        lo, jj = mip2q_low_codes(cfg, xl), None
    return StrumTensor(cfg, BlockFields(mask, hi.astype(np.int64), lo, jj),
                       np.asarray(scale, dtype=np.float64).reshape(C, 1))


def encode(w, cfg: StrumConfig, j: int | None = None) -> StrumTensor:
    """StruM-code a float weight matrix (C, N) with per-channel scales (module docstring)."""
    w = as_weight_matrix(w)
    q = quantize(w, cfg.hb, signed=True, axis=0)
    scale = np.broadcast_to(q.scale, (w.shape[0], 1))
    return _encode(cfg, np.abs(w), w / scale, q.codes, scale, j)


def encode_int(w, cfg: StrumConfig, j: int | None = None) -> StrumTensor:
    """StruM-code integer weights (C, N) already in units of s (e.g. INT8 codes); scale = 1."""
    wf = as_weight_matrix(w)
    if not np.all(wf == np.round(wf)):
        raise QuantpeError("integer weights must hold whole numbers")
    lo, hi = cfg.hi_range()
    if wf.min() < lo or wf.max() > hi:
        raise QuantpeError(f"integer weights must lie in {lo}..{hi} for hb={cfg.hb}, "
                           f"got {int(wf.min())}..{int(wf.max())}")
    codes = wf.astype(np.int64)
    return _encode(cfg, np.abs(codes), wf, codes, np.ones((wf.shape[0], 1)), j)


def strum_dot(t: StrumTensor, a, acc_bits: int = 32) -> np.ndarray:
    """Exact integer dot products of activations a (..., N) with every channel: (..., C),
    wrapped into a signed acc_bits accumulator (golden.dot.dot)."""
    a = np.asarray(a, dtype=np.int64)
    w = t.values()
    if a.shape[-1] != w.shape[1]:
        raise QuantpeError(f"activations have length {a.shape[-1]}, weights {w.shape[1]}")
    return dot(a[..., None, :], w, acc_bits)
