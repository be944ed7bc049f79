"""Bias compensation of an approximate multiplier in one integer weight layer.

An approximate product a * w + E[a, w] has a mean error that depends on the weight code; over the
K products of one output y[o] these means add up coherently. With P_k(i) the fraction of the
layer's calibration activation codes at reduction position k equal to pattern i (zero padding
included, as the multipliers see it), the mean integer error of output channel o is

    mu[o] = sum_k sum_i P_k(i) * E[i, w[o, k]]        (accumulator units, s_a * s_w[o] each)

and the compensation of channel o is the integer c[o] = -round_half_away(mu[o]). Adding c[o] to
the layer's integer bias (`QGraph.with_bias_offsets`) is exact in the integer model: the
accumulator adds it like any bias code (wrapping as the bias does). Error tables use the
`approx.mul_table` pattern layout (two's-complement bit patterns of the operand widths).
"""
from __future__ import annotations

import numpy as np

from .approx import exact_table, mul_table
from .intmath import round_half_away, to_unsigned

__all__ = ["position_counts", "output_mean_errors", "compensation", "layer_compensation"]


def position_counts(lay, codes) -> np.ndarray:
    """(G, K, 2^in_bits) float64 counts of each activation pattern at each reduction position of
    each group of weight layer `lay` (a QWeight) over the input codes `codes` (all samples and
    output positions)."""
    cols = lay.columns(lay.input_codes(codes))                          # (N, G, P, K)
    n, g, p, k = cols.shape
    na = lay.in_bits
    ai = to_unsigned(cols, na).transpose(1, 3, 0, 2).reshape(g, k, n * p)
    out = np.zeros((g, k, 1 << na))
    for gi in range(g):
        flat = (np.arange(k)[:, None] * (1 << na) + ai[gi]).ravel()
        out[gi] = np.bincount(flat, minlength=k << na).reshape(k, 1 << na)
    return out


def output_mean_errors(counts: np.ndarray, w_patterns: np.ndarray, err: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu (O,), m (O, K)): the mean integer error per output channel and per (channel, position)
    of error table `err` (2^in_bits, 2^w_bits) under `position_counts`; w_patterns (O, K): the
    layer's weight codes as unsigned bit patterns (`to_unsigned(codes, w_bits)`)."""
    g, k, _ = counts.shape
    o = w_patterns.shape[0]
    total = counts.sum(axis=2, keepdims=True)
    per = ((counts / np.maximum(total, 1.0)).reshape(g * k, -1) @ err).reshape(g, k, -1)   # (G, K, 2^w_bits)
    grp = np.repeat(np.arange(g), o // g)[:, None]                     # each channel's group
    m = per[grp, np.arange(k)[None, :], w_patterns]                      # (O, K)
    return m.sum(axis=1), m


def compensation(mu: np.ndarray) -> np.ndarray:
    """(O,) int64 bias offsets c = -round_half_away(mu)."""
    return -round_half_away(np.asarray(mu, dtype=np.float64))


def layer_compensation(lay, counts: np.ndarray, cfg) -> np.ndarray:
    """The (O,) int64 bias offsets of multiplier `cfg` (signed, the layer's widths) in `lay`."""
    err = (mul_table(cfg) - exact_table(cfg.a_bits, cfg.b_bits, True)).astype(np.float64)
    w_patterns = to_unsigned(lay.weight.codes, lay.weight.bits)
    return compensation(output_mean_errors(counts, w_patterns, err)[0])
