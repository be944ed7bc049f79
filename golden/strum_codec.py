"""StruM block wire format (the one pack/unpack pair) and the block decoder.

Block word of a `StrumConfig` (B = block, K = k, bit 0 = least significant bit):

    bits [0, B)                                mask: bit i = 1 when lane i holds a high code
    bits [B + i*hb, B + (i+1)*hb)              hi[i], i < K: hb-bit two's complement; the code of
                                               the i-th high lane in increasing lane order
    bits [L0 + i*lb, L0 + (i+1)*lb)            lo[i], i < B-K, L0 = B + K*hb: the code of the
                                               i-th low lane in increasing lane order
                                               DLIQ : q, lb-bit two's complement
                                               MIP2Q: bit lb-1 = sign, bits lb-2..0 = e (unsigned)
    bits [J0, J0 + 3), J0 = L0 + (B-K)*lb      j, unsigned (DLIQ with shift="block" only)

block_bits = B + K*hb + (B-K)*lb (+3). B=16, K=8, hb=8, lb=4: 16 + 64 + 32 + 3 = 115 bits
(112 without the j header) against 128 bits of plain INT8. The StruM PE takes exactly these
fields on its ports `mask`, `hi`, `lo`, `j` (array ports: element 0 in the LSBs), so the
concatenation of those ports in that order is the block word.

Legal fields: the mask has exactly K ones (select="group": exactly K/G ones in each group of
B/G consecutive lanes, lanes [g*B/G, (g+1)*B/G) form group g; the word layout is the same); hi in +-(2^(hb-1)-1); DLIQ q in
[-2^(lb-1), 2^(lb-1)-1]; MIP2Q code in [0, 2^lb - 1]; j in 0..7. pack/unpack/decode raise
QuantpeError on anything else.

Decoded values (integers in units of the channel scale s, never clipped):
high lane = its hi code; DLIQ low lane = q * 2^j; MIP2Q low lane = 0 for the zero code
(sign=1, e=0), else (-1)^sign * 2^e.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import QuantpeError
from .intmath import to_unsigned, wrap
from .strum_config import J_BITS, J_MAX, StrumConfig

__all__ = ["Field", "BlockFields", "block_layout", "block_bits", "storage_figures",
           "mask_to_bits", "bits_to_mask", "check_fields", "pack_blocks", "pack_block",
           "unpack_blocks", "unpack_block", "low_values", "block_values", "mip2q_code",
           "MIP2Q_ZERO"]

MIP2Q_ZERO = "sign=1, e=0"


@dataclass(frozen=True)
class Field:
    """One field of the block word: `count` elements of `bits` each, element 0 lowest."""

    name: str
    offset: int
    bits: int
    count: int
    signed: bool

    @property
    def width(self) -> int:
        return self.bits * self.count


@dataclass(frozen=True)
class BlockFields:
    """Fields of n blocks (leading shape S): mask bits (S + (B,)) 0/1, hi (S + (K,)),
    lo (S + (B-K,)), j (S) or None when the word has no j header."""

    mask: np.ndarray
    hi: np.ndarray
    lo: np.ndarray
    j: np.ndarray | None = None

    def __getitem__(self, idx) -> BlockFields:
        return BlockFields(self.mask[idx], self.hi[idx], self.lo[idx],
                           None if self.j is None else self.j[idx])


def block_layout(cfg: StrumConfig) -> tuple[Field, ...]:
    """The fields of the block word in wire order (see the module docstring)."""
    B, K = cfg.block, cfg.k
    fields = [Field("mask", 0, 1, B, False),
              Field("hi", B, cfg.hb, K, True),
              Field("lo", B + K * cfg.hb, cfg.lb, B - K, cfg.variant == "dliq")]
    if cfg.j_in_block:
        fields.append(Field("j", B + K * cfg.hb + (B - K) * cfg.lb, J_BITS, 1, False))
    return tuple(fields)


def block_bits(cfg: StrumConfig) -> int:
    f = block_layout(cfg)[-1]
    return f.offset + f.width


def storage_figures(cfg: StrumConfig) -> dict:
    """Storage of one block against plain hb-bit weights (bits; per-layer j not included)."""
    B, K = cfg.block, cfg.k
    total = block_bits(cfg)
    plain = B * cfg.hb
    return {"block": B, "k": K, "mask_bits": B, "hi_bits": K * cfg.hb, "lo_bits": (B - K) * cfg.lb,
            "header_bits": J_BITS if cfg.j_in_block else 0, "block_bits": total,
            "bits_per_weight": total / B, "plain_block_bits": plain,
            "plain_bits_per_weight": float(cfg.hb), "saving": 1.0 - total / plain,
            "per_layer_bits": J_BITS if (cfg.variant == "dliq" and not cfg.j_in_block) else 0}


def mask_to_bits(mask, block: int) -> np.ndarray:
    """Integer mask(s) -> 0/1 lane bits, shape mask.shape + (block,), lane 0 = bit 0."""
    m = np.asarray(mask, dtype=np.int64)
    return (m[..., None] >> np.arange(block, dtype=np.int64)) & 1


def bits_to_mask(bits) -> np.ndarray:
    """0/1 lane bits (..., B) -> integer mask(s), lane 0 = bit 0."""
    b = np.asarray(bits, dtype=np.int64)
    return np.sum(b << np.arange(b.shape[-1], dtype=np.int64), axis=-1)


def _first_bad(bad: np.ndarray) -> str:
    idx = np.argwhere(bad)[0]
    return "" if len(idx) == 0 else f" (block {tuple(int(i) for i in idx)})"


def check_fields(cfg: StrumConfig, f: BlockFields, what: str = "block") -> None:
    """Raise QuantpeError unless every block in `f` is legal for `cfg` (see module docstring)."""
    B, K = cfg.block, cfg.k
    mask, hi, lo = (np.asarray(x) for x in (f.mask, f.hi, f.lo))
    lead = mask.shape[:-1]
    for name, arr, n in (("mask", mask, B), ("hi", hi, K), ("lo", lo, B - K)):
        if arr.shape != lead + (n,):
            raise QuantpeError(f"{what}: {name} must have shape {lead + (n,)}, got {arr.shape}")
    if mask.size and not np.all((mask == 0) | (mask == 1)):
        raise QuantpeError(f"{what}: mask bits must be 0 or 1")
    count = mask.sum(axis=-1)
    if np.any(count != K):
        bad = count != K
        c = int(count[tuple(np.argwhere(bad)[0])]) if bad.ndim else int(count)
        raise QuantpeError(f"{what}: mask has {c} high lanes, expected exactly K={K}{_first_bad(bad)}")
    G = cfg.n_groups
    if G > 1 and mask.size:
        gcount = mask.reshape(lead + (G, B // G)).sum(axis=-1)
        bad = np.any(gcount != cfg.group_k, axis=-1)
        if np.any(bad):
            idx = tuple(np.argwhere(bad)[0]) if bad.ndim else ()
            g = int(np.flatnonzero(gcount[idx] != cfg.group_k)[0])
            raise QuantpeError(f"{what}: mask group {g} (lanes {g * (B // G)}..{(g + 1) * (B // G) - 1}) "
                               f"has {int(gcount[idx][g])} high lanes, expected exactly "
                               f"K/G={cfg.group_k}{_first_bad(bad)}")
    for name, arr, (lo_, hi_) in (("hi", hi, cfg.hi_range()), ("lo", lo, cfg.lo_range())):
        bad = (arr < lo_) | (arr > hi_)
        if np.any(bad):
            v = int(arr[tuple(np.argwhere(bad)[0])])
            raise QuantpeError(f"{what}: {name} code {v} outside {lo_}..{hi_}")
    if f.j is not None:
        j = np.asarray(f.j)
        if j.shape != lead:
            raise QuantpeError(f"{what}: j must have shape {lead}, got {j.shape}")
        if np.any((j < 0) | (j > J_MAX)):
            raise QuantpeError(f"{what}: j must be in 0..{J_MAX}, got {int(j[(j < 0) | (j > J_MAX)][0])}")
    elif cfg.j_in_block:
        raise QuantpeError(f"{what}: DLIQ with per-block shift needs j")


def _as_fields(cfg, mask, hi, lo, j) -> BlockFields:
    mask = np.asarray(mask, dtype=np.int64)
    if mask.ndim == 0 or mask.shape[-1] != cfg.block:      # integer mask(s)
        mask = mask_to_bits(mask, cfg.block)
    return BlockFields(mask, np.asarray(hi, dtype=np.int64), np.asarray(lo, dtype=np.int64),
                       None if j is None else np.asarray(j, dtype=np.int64))


def pack_blocks(cfg: StrumConfig, f: BlockFields) -> np.ndarray:
    """Block words of the blocks in `f` as Python ints (object array of the leading shape)."""
    check_fields(cfg, f, "pack")
    lead = np.asarray(f.mask).shape[:-1]
    n = int(np.prod(lead, dtype=np.int64))
    words = [0] * n
    for fld in block_layout(cfg):
        v = f.j[..., None] if fld.name == "j" else getattr(f, fld.name)
        u = to_unsigned(np.asarray(v, dtype=np.int64), fld.bits).reshape(n, fld.count).tolist()
        for b in range(n):
            for i, x in enumerate(u[b]):
                words[b] |= x << (fld.offset + i * fld.bits)
    out = np.empty(n, dtype=object)
    out[:] = words
    return out.reshape(lead)


def pack_block(cfg: StrumConfig, mask, hi, lo, j=None) -> int:
    """Word of one block. `mask`: integer bit pattern or B 0/1 lane bits."""
    return int(pack_blocks(cfg, _as_fields(cfg, mask, hi, lo, j)).reshape(-1)[0])


def _word_to_int(cfg: StrumConfig, word, nbits: int) -> int:
    if isinstance(word, str):
        s = word[2:] if word.startswith("0b") else word
        s = s.replace("_", "")
        if not s or set(s) - {"0", "1"}:
            raise QuantpeError(f"block word {word!r} is not a string of 0/1 bits")
        if len(s) != nbits:
            raise QuantpeError(f"block word has {len(s)} bits, expected {nbits} for {cfg.short_name()}")
        return int(s, 2)
    if isinstance(word, (bool, np.bool_)) or not isinstance(word, (int, np.integer)):
        raise QuantpeError(f"block word must be an integer or a bit string, got {type(word).__name__}")
    word = int(word)
    if word < 0 or word >> nbits:
        raise QuantpeError(f"block word 0x{word:x} does not fit in {nbits} bits "
                           f"({cfg.short_name()} block)" if word >= 0 else
                           f"block word must be non-negative, got {word}")
    return word


def unpack_blocks(cfg: StrumConfig, words) -> BlockFields:
    """Inverse of pack_blocks: words (ints, or 0/1 strings of exactly block_bits, MSB first)."""
    nbits = block_bits(cfg)
    arr = np.asarray(words, dtype=object)
    flat = [_word_to_int(cfg, w, nbits) for w in arr.reshape(-1)]
    out = {}
    for fld in block_layout(cfg):
        m = (1 << fld.bits) - 1
        u = np.array([[(w >> (fld.offset + i * fld.bits)) & m for i in range(fld.count)]
                      for w in flat], dtype=np.int64).reshape(arr.shape + (fld.count,))
        out[fld.name] = wrap(u, fld.bits, fld.signed)
    f = BlockFields(out["mask"], out["hi"], out["lo"], out["j"][..., 0] if "j" in out else None)
    check_fields(cfg, f, "unpack")
    return f


def unpack_block(cfg: StrumConfig, word) -> BlockFields:
    """Fields of one block word: mask bits (B,), hi (K,), lo (B-K,), j () or None."""
    arr = np.empty((), dtype=object)
    arr[()] = word
    return unpack_blocks(cfg, arr)


def mip2q_code(cfg: StrumConfig, sign, e) -> np.ndarray:
    """MIP2Q low code from sign (0/1) and exponent e: (sign << (lb-1)) | e."""
    return (np.asarray(sign, dtype=np.int64) << cfg.e_bits) | np.asarray(e, dtype=np.int64)


def low_values(cfg: StrumConfig, lo, j=None) -> np.ndarray:
    """Decoded low weights (units of s): DLIQ q * 2^j (j broadcast per block), MIP2Q +-2^e / 0."""
    lo = np.asarray(lo, dtype=np.int64)
    if cfg.variant == "dliq":
        if j is None:
            raise QuantpeError("DLIQ low codes need the shift j to be decoded")
        return lo * (np.int64(1) << np.asarray(j, dtype=np.int64))[..., None]
    sign = (lo >> cfg.e_bits) & 1
    e = lo & ((1 << cfg.e_bits) - 1)
    mag = np.int64(1) << e
    return np.where((sign == 1) & (e == 0), 0, np.where(sign == 1, -mag, mag))


def block_values(cfg: StrumConfig, f: BlockFields, check: bool = True) -> np.ndarray:
    """Integer weight of every lane (S + (B,)), int64, in units of s; never clipped."""
    if check:
        check_fields(cfg, f, "decode")
    B, K = cfg.block, cfg.k
    m = np.asarray(f.mask, dtype=np.int64)
    rank = np.cumsum(m, axis=-1) - m                   # high lanes before this lane
    lidx = np.arange(B, dtype=np.int64) - rank          # low lanes before this lane
    hv = np.take_along_axis(np.asarray(f.hi, np.int64), np.clip(rank, 0, K - 1), axis=-1)
    lv = np.take_along_axis(low_values(cfg, f.lo, f.j), np.clip(lidx, 0, B - K - 1), axis=-1)
    return np.where(m == 1, hv, lv)
