"""The one lowering of a 2-D convolution onto the PEs' reduction axis (im2col + matmul).

Layouts: activations are NCHW (N samples, C channels, H rows, W columns); conv weights are
OIHW with I = C_in / groups (ONNX / PyTorch layout). Output channel o belongs to group
g = o // O_g (O_g = O / groups) and reads input channels g*C_g .. g*C_g + C_g - 1.

Reduction axis (what one PE dot product sums over). For output channel o at one output
position (one *window*), the K = KH*KW*C_g products are ordered

    r = (ky * KW + kx) * C_g + c        (kernel tap major, input channel minor)

i.e. all input channels of tap (0, 0), then of tap (0, 1), ... This is the order of the lowered
weight matrix `lower_weights(w)` (O, K): row o, column r = w[o, c, ky, kx], and of the columns
`im2col(x)` (N, G, P, K) with P = OH*OW windows in row-major (oy, ox) order: column r of window
p = (oy, ox) is x[n, g*C_g + c, oy*sh + ky*dh - pad_top, ox*sw + kx*dw - pad_left], 0 outside
the image (zero padding; a quantized zero is the code 0). So

    y[n, o, oy, ox] = sum_r cols[n, o // O_g, oy*OW + ox, r] * wmat[o, r]

A Linear layer is the same with one tap (KH = KW = 1, H = W = 1): r = the input index.

Stripes bricks (`bricks`): 16 (`lanes`) input channels at one tap of one window: for window p
the columns of tap t = ky*KW + kx are cut into ceil(C_g / L) bricks of L consecutive channels,
the last one zero-padded: brick b = t * ceil(C_g / L) + j holds channels j*L .. j*L + L - 1 of
tap t. When C_g is a multiple of L the bricks are exactly consecutive L-runs of the reduction
axis; C_g < L (first layer, depthwise) leaves L - C_g idle lanes in every brick.
StruM blocks (`pad_reduction`): consecutive runs of B along r, the reduction axis zero-padded
at its end to a multiple of B (weights and activations alike); a block may span taps.

`int_matmul` is the exact integer product used by the integer conv/linear: float64 BLAS when
every partial sum is provably below 2^53 (then exact), int64 matmul otherwise. `exact_conv_sums`
is im2col + `grouped_matmul` for such exact integer sums, a depthwise conv without the column
copy (any summation order gives the same exact integers).
"""
from __future__ import annotations

import numpy as np

from .errors import QuantpeError

__all__ = ["conv_output_size", "im2col", "col2im", "lower_weights", "unlower_weights",
           "int_matmul", "grouped_matmul", "exact_conv_sums", "bricks", "n_bricks", "pad_reduction", "pair4"]


def pair4(padding) -> tuple:
    """Padding as (top, left, bottom, right) from an int, a (ph, pw) pair or a 4-tuple."""
    p = (padding,) if isinstance(padding, (int, np.integer)) else tuple(padding)
    if len(p) == 1:
        p = p * 4
    elif len(p) == 2:
        p = (p[0], p[1], p[0], p[1])
    if len(p) != 4 or any(int(v) != v or v < 0 for v in p):
        raise QuantpeError(f"padding must be non-negative integers (top, left, bottom, right), "
                           f"got {padding!r}")
    return tuple(int(v) for v in p)


def conv_output_size(size: int, k: int, stride: int, pad_before: int, pad_after: int,
                     dilation: int = 1) -> int:
    """floor((size + pads - dilation*(k-1) - 1) / stride) + 1; QuantpeError when < 1."""
    out = (size + pad_before + pad_after - dilation * (k - 1) - 1) // stride + 1
    if out < 1:
        raise QuantpeError(f"kernel {k} (dilation {dilation}) does not fit an input of {size} "
                           f"with padding {pad_before}+{pad_after}")
    return out


def _geometry(shape, kh, kw, stride, padding, dilation, groups):
    n, c, h, w = shape
    sh, sw = stride
    dh, dw = dilation
    pt, pl, pb, pr = pair4(padding)
    if c % groups:
        raise QuantpeError(f"{c} input channels are not divisible by groups={groups}")
    oh = conv_output_size(h, kh, sh, pt, pb, dh)
    ow = conv_output_size(w, kw, sw, pl, pr, dw)
    return n, c, h, w, sh, sw, dh, dw, pt, pl, pb, pr, oh, ow


def im2col(x, kh: int, kw: int, stride=(1, 1), padding=0, dilation=(1, 1), groups: int = 1,
           pad_value=0) -> np.ndarray:
    """x (N, C, H, W) -> columns (N, G, OH*OW, KH*KW*C_g) in the reduction order of the module
    docstring (r = (ky*KW + kx)*C_g + c); padded positions hold `pad_value`. Same dtype as x."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise QuantpeError(f"conv input must be (N, C, H, W), got shape {x.shape}")
    n, c, h, w, sh, sw, dh, dw, pt, pl, pb, pr, oh, ow = _geometry(
        x.shape, kh, kw, stride, padding, dilation, groups)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=pad_value)
    # a strided view (N, C, OH, OW, KH, KW) of the padded input, then one copy in reduction order
    win = np.lib.stride_tricks.sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    win = win[:, :, : sh * (oh - 1) + 1: sh, : sw * (ow - 1) + 1: sw, ::dh, ::dw]
    t = win.reshape(n, groups, c // groups, oh, ow, kh, kw).transpose(0, 1, 3, 4, 5, 6, 2)
    return np.ascontiguousarray(t).reshape(n, groups, oh * ow, kh * kw * (c // groups))


def col2im(cols, x_shape, kh: int, kw: int, stride=(1, 1), padding=0, dilation=(1, 1),
           groups: int = 1) -> np.ndarray:
    """Adjoint of `im2col`: columns (N, G, P, K) summed back into an (N, C, H, W) array."""
    n, c, h, w, sh, sw, dh, dw, pt, pl, pb, pr, oh, ow = _geometry(
        x_shape, kh, kw, stride, padding, dilation, groups)
    cg = c // groups
    t = np.asarray(cols).reshape(n, groups, oh * ow, kh * kw, cg).transpose(0, 3, 1, 4, 2)
    t = t.reshape(n, kh * kw, c, oh, ow)
    xp = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=t.dtype)
    for ky in range(kh):
        for kx in range(kw):
            xp[:, :, ky * dh: ky * dh + sh * (oh - 1) + 1: sh,
               kx * dw: kx * dw + sw * (ow - 1) + 1: sw] += t[:, ky * kw + kx]
    return xp[:, :, pt: pt + h, pl: pl + w]


def lower_weights(w) -> np.ndarray:
    """OIHW conv weights (O, C_g, KH, KW) -> (O, KH*KW*C_g), column r = (ky*KW + kx)*C_g + c."""
    w = np.asarray(w)
    if w.ndim != 4:
        raise QuantpeError(f"conv weights must be (O, C_g, KH, KW), got shape {w.shape}")
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)


def unlower_weights(m, cg: int, kh: int, kw: int) -> np.ndarray:
    """Inverse of `lower_weights`: (O, KH*KW*C_g) -> (O, C_g, KH, KW)."""
    m = np.asarray(m)
    if m.ndim != 2 or m.shape[1] != kh * kw * cg:
        raise QuantpeError(f"lowered weights must be (O, {kh * kw * cg}), got shape {m.shape}")
    return np.ascontiguousarray(m.reshape(m.shape[0], kh, kw, cg).transpose(0, 3, 1, 2))


def int_matmul(a, b) -> np.ndarray:
    """Exact a @ b of integer arrays (int64 result, numpy matmul broadcasting).

    Uses float64 BLAS when max|a| * max|b| * K < 2^53 (every partial sum is then an exactly
    representable integer, so the float result is exact), else an int64 matmul.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    k = a.shape[-1]
    peak = int(np.max(np.abs(a), initial=0)) * int(np.max(np.abs(b), initial=0)) * max(k, 1)
    if peak < 1 << 53:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    return np.matmul(a, b)


def grouped_matmul(cols, wmat, matmul=np.matmul) -> np.ndarray:
    """y (N, O, P) = per group g: cols[:, g] (N, P, K) @ wmat[g*O_g:(g+1)*O_g].T.

    cols (N, G, P, K), wmat (O, K) with O a multiple of G. `matmul` is np.matmul (float) or
    `int_matmul` (exact integers)."""
    n, g, p, k = cols.shape
    o = wmat.shape[0]
    if o % g or wmat.shape[1] != k:
        raise QuantpeError(f"weights {wmat.shape} do not match columns with {g} groups of {k}")
    a = np.ascontiguousarray(cols.transpose(1, 0, 2, 3)).reshape(g, n * p, k)
    w = np.ascontiguousarray(wmat.reshape(g, o // g, k).transpose(0, 2, 1))
    y = matmul(a, w)                                     # (G, N*P, O_g)
    return y.reshape(g, n, p, o // g).transpose(1, 0, 3, 2).reshape(n, o, p)


def exact_conv_sums(x, wmat, kh: int, kw: int, stride=(1, 1), padding=0, dilation=(1, 1),
                    groups: int = 1) -> np.ndarray:
    """grouped_matmul(im2col(x, ...), wmat) (N, O, OH*OW) for x (N, C, H, W) and wmat (O, K) of
    one float dtype holding integers whose products and partial sums are all exactly
    representable in it (the caller's bound), so that the summation order cannot change a sum:
    a depthwise conv (groups = C = O) is a sum over taps of strided slices of x (no column copy
    and no G tiny matmuls: 3x faster on the bench model's 3x3 depthwise layers); any other conv
    goes through im2col (a pointwise conv as one broadcast matmul on x was slower)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise QuantpeError(f"conv input must be (N, C, H, W), got shape {x.shape}")
    n, c, h, w, sh, sw, dh, dw, pt, pl, pb, pr, oh, ow = _geometry(x.shape, kh, kw, stride, padding, dilation,
                                                                   groups)
    o = wmat.shape[0]
    if wmat.shape[1] != kh * kw * (c // groups) or o % groups:
        raise QuantpeError(f"weights {wmat.shape} do not match a {kh}x{kw} conv of {c} channels in {groups} groups")
    if groups == c == o:
        xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr))) if any((pt, pl, pb, pr)) else x
        y = np.zeros((n, c, oh, ow), np.result_type(x, wmat))
        for ky in range(kh):
            for kx in range(kw):
                win = xp[:, :, ky * dh: ky * dh + sh * (oh - 1) + 1: sh, kx * dw: kx * dw + sw * (ow - 1) + 1: sw]
                y += win * wmat[:, ky * kw + kx, None, None]
        return y.reshape(n, c, oh * ow)
    return grouped_matmul(im2col(x, kh, kw, stride, padding, dilation, groups), wmat)


def n_bricks(cg: int, taps: int, lanes: int = 16) -> int:
    """Bricks per window: taps * ceil(C_g / lanes)."""
    return taps * (-(-cg // lanes))


def bricks(cols, cg: int, taps: int, lanes: int = 16) -> np.ndarray:
    """Stripes bricks of lowered columns (R, taps*C_g) -> (R, n_bricks, lanes), in brick order
    b = t * ceil(C_g / lanes) + j (module docstring); idle lanes hold 0."""
    cols = np.asarray(cols)
    if cols.ndim != 2 or cols.shape[1] != taps * cg:
        raise QuantpeError(f"columns must be (rows, {taps * cg}), got shape {cols.shape}")
    nbc = -(-cg // lanes)
    r = cols.shape[0]
    out = np.zeros((r, taps, nbc * lanes), dtype=cols.dtype)
    out[:, :, :cg] = cols.reshape(r, taps, cg)
    return out.reshape(r, taps * nbc, lanes)


def pad_reduction(m, block: int) -> tuple[np.ndarray, int]:
    """Zero-pad the last (reduction) axis of `m` to a multiple of `block`: (padded, pad count)."""
    m = np.asarray(m)
    pad = (-m.shape[-1]) % block
    if pad:
        m = np.concatenate([m, np.zeros(m.shape[:-1] + (pad,), dtype=m.dtype)], axis=-1)
    return m, pad
