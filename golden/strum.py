"""StruM PE: cycle-level golden reference (and the public StruM API in one import).

Hardware contract (rtl/strum.py implements exactly this). Inputs, sampled on the rising clock
edge that ends cycle t:
  valid, first, last   1 bit each; everything else is ignored when valid = 0
  a[i], i < B          a_bits, signed or unsigned per config (port `a`, lane 0 in the LSBs)
  mask                 B bits, bit i = 1: lane i is a high lane (exactly K ones; select="group":
                       exactly K/G ones in each group of B/G consecutive lanes)
  hi[i], i < K         hb-bit signed high codes in lane order (legal: +-(2^(hb-1)-1))
  lo[i], i < B-K       lb-bit low codes in lane order: DLIQ signed q, MIP2Q unsigned sign|e code
  j                    3 bits unsigned (DLIQ only): the block's shift (shift="block") or the
                       layer's shift held by the driver (shift="layer")
  mode                 dynamic PE only: 0 = plain INT-hb block, 1 = StruM block
  w[i], i < B          dynamic PE only: plain hb-bit signed codes (full range), used when mode=0
mask|hi|lo|j in that order is exactly the block word of `strum_codec` (pack/unpack). On a
valid cycle the PE forms the exact block sum s = sum_i a[i] * v[i], where v is the decoded
lane weight (`strum_codec.block_values`: high code, q * 2^j, +-2^e or 0; for mode=0 v = w),
and updates the accumulator exactly like the baseline PE (golden/baseline.py): acc = s if first
else acc + s, wrapped modulo 2^acc_bits (or saturated); with last, acc is emitted: out_valid is
1 for exactly one cycle, latency = pipeline + 1 cycles after the input cycle, and out_sum holds
the emitted value until the next emission (0 after reset). Synchronous active-high reset
clears acc, out_sum, out_valid and the pipeline. Illegal fields on a valid StruM cycle (mask
popcount != K, or != K/G in a group, codes out of range) are a stimulus error: the golden model raises QuantpeError,
the hardware result is unspecified.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .baseline import Expected, frame_schedule
from .errors import QuantpeError
from .streams import port_stream
from .strum_codec import (
    BlockFields,
    bits_to_mask,
    block_bits,
    block_layout,
    block_values,
    check_fields,
    mask_to_bits,
    pack_block,
    pack_blocks,
    storage_figures,
    unpack_block,
    unpack_blocks,
)
from .strum_config import StrumConfig
from .strum_encode import StrumTensor, encode, encode_int, strum_dot
from .strum_error import error_figures, strum_error_table

__all__ = ["StrumConfig", "StrumTensor", "encode", "encode_int", "strum_dot", "pack_block",
           "pack_blocks", "unpack_block", "unpack_blocks", "block_values", "block_layout",
           "block_bits", "storage_figures", "error_figures", "strum_error_table",
           "input_ports", "ports_from_words", "lane_weights", "strum_schedule",
           "strum_schedule_ports"]


def input_ports(cfg: StrumConfig) -> tuple[str, ...]:
    """Names of the PE's input ports (outputs are always out_valid, out_sum)."""
    names = ["valid", "first", "last", "a"]
    if cfg.dynamic:
        names += ["mode", "w"]
    names += ["mask", "hi", "lo"] + (["j"] if cfg.has_j else [])
    return tuple(names)


def ports_from_words(cfg: StrumConfig, words, j=None) -> dict:
    """Per-cycle `mask`, `hi`, `lo` (and `j`) port streams from block words (T,).

    For DLIQ shift="layer" the word has no j: pass the layer shift(s) as `j` (scalar or (T,)).
    """
    f = unpack_blocks(cfg, words)
    T = f.mask.shape[0]
    out = {"mask": bits_to_mask(f.mask),
           "hi": f.hi, "lo": f.lo}
    if cfg.has_j:
        jj = f.j if f.j is not None else j
        if jj is None:
            raise QuantpeError("DLIQ with shift='layer': pass the layer shift j")
        out["j"] = np.broadcast_to(np.asarray(jj, dtype=np.int64), (T,)).copy()
    return out


def _stream(inputs: Mapping, name: str, shape: tuple) -> np.ndarray:
    return port_stream(inputs, name, shape, "StruM")


def lane_weights(cfg: StrumConfig, inputs: Mapping) -> np.ndarray:
    """Decoded weight of every lane on every cycle (T, B); rows with valid = 0 are 0."""
    valid = np.asarray(inputs["valid"], dtype=np.int64)
    T, B, K = len(valid), cfg.block, cfg.k
    w = np.zeros((T, B), dtype=np.int64)
    strum = valid == 1
    if cfg.dynamic:
        mode = _stream(inputs, "mode", (T,))
        plain = _stream(inputs, "w", (T, B))
        use_plain = strum & (mode == 0)
        lo_, hi_ = cfg.plain_range()
        if np.any(plain[use_plain] < lo_) or np.any(plain[use_plain] > hi_):
            raise QuantpeError(f"plain weight codes must be in {lo_}..{hi_}")
        w[use_plain] = plain[use_plain]
        strum &= mode == 1
    mask = _stream(inputs, "mask", (T,))
    f = BlockFields(mask_to_bits(mask[strum], B), _stream(inputs, "hi", (T, K))[strum],
                    _stream(inputs, "lo", (T, B - K))[strum],
                    _stream(inputs, "j", (T,))[strum] if cfg.has_j else None)
    if np.any((mask[strum] < 0) | (mask[strum] >> B != 0)):
        raise QuantpeError(f"mask must be a {B}-bit unsigned value")
    check_fields(cfg, f, "StruM stimulus")
    w[strum] = block_values(cfg, f, check=False)
    return w


def strum_schedule(cfg: StrumConfig, inputs: Mapping) -> Expected:
    """Cycle-exact expected outputs of the StruM PE for per-cycle input port streams
    (`input_ports(cfg)`; a (T, B), hi (T, K), lo (T, B-K), the rest (T,))."""
    valid = np.asarray(inputs["valid"], dtype=np.int64)
    T = len(valid)
    a = _stream(inputs, "a", (T, cfg.block))
    lo, hi = cfg.a_range()
    on = valid == 1
    if np.any(a[on] < lo) or np.any(a[on] > hi):
        raise QuantpeError(f"activation codes must be in {lo}..{hi}")
    w = lane_weights(cfg, inputs)
    lane_sums = np.sum(np.where(on[:, None], a, 0) * w, axis=1, dtype=np.int64)
    return frame_schedule(lane_sums, valid, _stream(inputs, "first", (T,)),
                          _stream(inputs, "last", (T,)), cfg.acc_bits, cfg.saturate, cfg.latency)


def strum_schedule_ports(cfg: StrumConfig, inputs: Mapping) -> dict:
    """`strum_schedule` as {output port name: (T,) values} for the testbench scoreboard."""
    e = strum_schedule(cfg, inputs)
    return {"out_valid": e.out_valid, "out_sum": e.out_sum}
