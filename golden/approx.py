"""Approximate multipliers, 2..8-bit operands: configuration and bit-exact golden functions.

Operands: `a` is a_bits wide, `b` is b_bits wide, both signed (two's complement) or both
unsigned (`signed`). The product `y` is `y_bits` wide with the same signedness (see
`ApproxMulConfig.y_bits`). Every kind is first defined as an *unsigned core*
U(a, b) for a in [0, 2^na), b in [0, 2^nb) (na = a_bits, nb = b_bits):

Partial-product array (exact, truncated, broken_array, perforated): row i (i = 0..nb-1, one row
per bit of b) holds the bits a_j & b_i (j = 0..na-1) in column i + j. U = sum of the *kept*
bits times 2^column (+ a constant for compensated truncation). `pp_keep_mask(cfg)[i, j]` says
whether bit (row i, column i + j) exists; the RTL builds exactly those AND gates.
- exact:        every bit kept.  U = a * b.
- truncated:    bits in columns < t dropped. With `compensate`, U += C where
                C = round_half_away(E[dropped bits]) = round_half_away(sum over dropped bits of
                2^column / 4), the expected value of the dropped bits for independent uniform
                operand bits (each a_j & b_i is 1 with probability 1/4). For t >= 1 that
                expectation is always an integer + 1/4 (column 0 holds one bit, column 1 two),
                so C = floor of it; e.g. 8x8, t = 8: E = 1793/4, C = 448.
- broken_array: BAM. Rows i < hbl dropped (horizontal break level) and columns < vbl dropped
                (vertical break level): bit kept iff i >= hbl and i + j >= vbl.
- perforated:   rows perf_start .. perf_start + perf_rows - 1 dropped (partial-product
                perforation; perf_start = 0 drops the perf_rows lowest rows).
Operand-segment kinds:
- drum:         DRUM(k). For each operand x (width n): if x < 2^k, x' = x. Otherwise, with
                p = index of the leading one and s = p - k + 1, the k-bit segment
                x[p .. s] is kept, its LSB is forced to 1 (unbiasing; always, whenever s > 0,
                as in the authors' Verilog) and x' = (seg | 1) << s. U = a' * b', computed as
                the exact k x k product (seg_a * seg_b) << (s_a + s_b).
- ssm:          static segment method (Narayanamoorthy et al., TVLSI 2015) with DRUM's
                unbiasing. Per operand x of width n > k: if x < 2^k the segment is x itself
                (exact, shift 0); otherwise it is the top k bits x[n-1 .. n-k] with its LSB
                forced to 1, shift n - k. Only two segment positions: a k-bit 2:1 mux instead of a
                leading-one detector and a barrel shifter. An operand with n <= k passes whole.
                The segments meet in a k x k partial-product array (row i = bit i of b's
                segment) whose columns < t are dropped (`t` = 0 keeps all; with `compensate`,
                C = the expected value of the dropped bits as for `truncated`, added always);
                U = core << (s_a + s_b). `ssm_keep_mask(cfg)`, `ssm_compensation(cfg)`.
- mitchell:     Mitchell's logarithmic multiplier. U = 0 if a = 0 or b = 0. Otherwise
                k1 = lod(a), k2 = lod(b); fraction width F = max(na, nb) - 1, so the fractions
                are exact (no operand bit is lost): m1 = (a - 2^k1) << (F - k1), m2 likewise;
                S = m1 + m2; antilog mantissa P = 2^F + S if S < 2^F else 2 * S;
                U = (P << (k1 + k2)) >> F. This is exactly the real-valued Mitchell result
                2^(k1+k2) * (1 + x1 + x2) (or 2^(k1+k2+1) * (x1 + x2)), which is always an
                integer for integer operands: the F bits shifted out are always zero, so no
                fraction bit is truncated anywhere (the only error is the log/antilog
                linearisation). U <= a * b always.
- lut:          any truth table of shape (2^na, 2^nb), indexed [a_pattern, b_pattern] where a
                pattern is the operand's two's-complement (or unsigned) bit pattern; the values
                are the products themselves (signed or unsigned). No sign wrapper is applied.

Lower-column OR compression (`or_cols` = c, truncated / broken_array / perforated, either
signed form): in every column < c the kept bits of that column (including the one-bits of the
array's constant) are replaced by their OR, one bit of weight 2^column, with no carry out of the
column; columns >= c are summed exactly. U = sum_{col >= c} (kept bits of col) * 2^col +
sum_{col < c} OR(kept bits of col) * 2^col. This is the lower-part-OR idea of the LOA adder
(Mahdiani et al., "Bio-inspired imprecise computational blocks", IEEE TCAS-I 57(4), 2010) applied
to the partial-product columns; it does not depend on the order of the compression tree.

Approximate compression in the reduction tree (`compressor` = design, `approx_cols` = a; every
array kind, either signed form; or_cols < a <= P): the bits of each column, in the order of
`pp_columns` (row by row, then the constant's one-bits; a column < or_cols is its one OR bit),
are reduced by the Dadda schedule of `quantpe.golden.reduction` in which columns < a use the
approximate 4:2 compressor `compressor` (`quantpe.golden.compressors`) where the schedule says;
the final two rows are added exactly. U = that sum (bit-level: it depends on the tree's order).
A config whose schedule places no compressor in column a - 1 is rejected (it would equal the
design with a smaller approx_cols, or the one without compressor), so equal designs have equal ids.

Signed operation, `signed_form`:
- "baugh_wooley" (exact, truncated, broken_array, perforated; signed only): a native two's-
  complement array (modified Baugh-Wooley). With a, b the operands' bit patterns, bit (row i,
  column i + j) is a_j & b_i, complemented (NAND) when exactly one of i = nb-1, j = na-1 holds;
  the array constant is K = 2^(P-1) + 2^(na-1) + 2^(nb-1) mod 2^P (P = na + nb). With every bit
  kept, K + sum of the bits * 2^column = a * b (mod 2^P). The approximations drop bits by the
  same `pp_keep_mask` as the unsigned array (K stays); compensated truncation adds
  C = round_half_away(E[dropped bits]) where an AND bit has expectation 1/4 and a NAND bit 3/4
  (the exact mean of the dropped bits over all operand pairs), so the array constant is K + C.
  y = the array sum (with `or_cols` as above) mod 2^P read as a P-bit two's-complement number.
- "booth" (exact, truncated, broken_array, perforated; signed only): a radix-4 modified Booth
  array. b (sign-extended; b_{-1} = 0) is recoded into g = ceil(nb / 2) digits
  d_i = -2 b_{2i+1} + b_{2i} + b_{2i-1} in {-2..2} (`booth_digit`: one = b_{2i} ^ b_{2i-1},
  two = (b_{2i+1} ^ b_{2i}) & ~one, neg = b_{2i+1}); row i (columns 2i .. 2i + na) holds the
  na + 1 bits p_{i,j} = ((one & a_j) | (two & a_{j-1})) ^ neg, j = 0..na (a_{-1} = 0,
  a_na = a_{na-1}: `booth_pp_bit`), its top bit complemented (sign-extension prevention), and
  the bit neg_i in column 2i (the +1 of the negation). The array constant is
  K = -sum_i 2^(na + 2i) mod 2^P; with every bit kept, K + the column sum = a * b (mod 2^P).
  `pp_keep_mask` is (g, na + 1) with row i at column offset 2i; a row's neg bit is kept with its
  bit j = 0 (same row, same column). Truncation below column t with neg bits dropped is the
  broken-Booth multiplier (BBM, F. Farshchi, M. S. Abrishami, S. M. Fakhraie, "New approximate
  multiplier for low power digital signal processing", CADS 2013) at vertical break level t;
  compensated truncation adds C = round_half_away(mean of the dropped bits' value over all
  operand pairs), computed exactly by enumeration (Booth bits are not independent). or_cols
  and the compressors act on these columns as on the other arrays.
- "sign_magnitude" (default, all kinds except lut): wrapper around the unsigned core of
the *same* widths: y = -U(|a|, |b|) if (a < 0) xor (b < 0) else U(|a|, |b|). The most negative
operand -2^(n-1) has magnitude 2^(n-1), which the n-bit unsigned core represents exactly, so it
needs no special case. (Note: a zero operand with a negative partner negates U, which matters
only when U(0, b) != 0, i.e. compensated truncation or ssm.)
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path

import numpy as np

from .compressors import COMPRESSORS
from .config import DesignConfig
from .dot import MulRule
from .errors import ConfigError, QuantpeError
from .intmath import fits, int_range, round_half_away, to_unsigned, wrap
from .lut_read import read_adapt_header, read_tfapprox_bin
from .reduction import dadda_schedule, evaluate

__all__ = ["table_widths", "check_op_widths", "exhaustive_inputs", "table_from_outputs", "approx_mul_ports",
           "METHODS", "MIN_OP_BITS", "MAX_OP_BITS", "ApproxMulConfig", "approx_mul", "mul_table", "use_table_store",
           "exact_table", "pp_keep_mask", "truncation_compensation", "mitchell_frac_bits",
           "ssm_segment_bits", "ssm_keep_mask", "ssm_compensation", "unsigned_core", "table_y_bits", "sign_magnitude_mul", "lut_sha256", "load_lut_file",
           "operand_values",
           "ARRAY_METHODS", "SIGNED_FORMS", "is_baugh_wooley", "bw_invert_mask", "baugh_wooley_constant",
           "array_constant", "array_sum", "pp_columns", "array_schedule",
           "is_booth", "is_native_signed", "booth_rows", "booth_constant", "booth_digit", "booth_pp_bit",
           "array_columns"]

METHODS = ("exact", "truncated", "broken_array", "drum", "ssm", "mitchell", "perforated", "lut")
ARRAY_METHODS = ("exact", "truncated", "broken_array", "perforated")
SIGNED_FORMS = ("sign_magnitude", "baugh_wooley", "booth")
MIN_OP_BITS, MAX_OP_BITS = 2, 8

# Which parameters each method uses; all others must keep their default.
_ARRAY_RED = ("compressor", "approx_cols")     # reduction-tree parameters of every array kind
_PARAMS = {
    "exact": _ARRAY_RED,
    "truncated": ("t", "compensate", "or_cols") + _ARRAY_RED,
    "broken_array": ("hbl", "vbl", "or_cols") + _ARRAY_RED,
    "drum": ("k",),
    "ssm": ("k", "t", "compensate"),
    "mitchell": (),
    "perforated": ("perf_rows", "perf_start", "or_cols") + _ARRAY_RED,
    "lut": ("lut_path", "lut_sha256", "lut_table"),
}
_DEFAULTS = {"t": 0, "compensate": False, "hbl": 0, "vbl": 0, "k": 0, "perf_rows": 0,
             "perf_start": 0, "or_cols": 0, "compressor": "", "approx_cols": 0, "lut_path": "", "lut_sha256": "", "lut_table": None}


@dataclasses.dataclass(frozen=True)
class ApproxMulConfig(DesignConfig):
    """One approximate multiplier: method, operand widths, signedness and the method's parameters.

    Parameters not used by `method` must keep their defaults (so equal designs have equal ids).
    For method "lut" give either `lut_table` (an integer array of shape (2^a_bits, 2^b_bits),
    kept out of the JSON) or `lut_path` (a .npy file, or a flat little-endian int32 .bin as
    written by `quantpe.golden.lut_export`). `lut_sha256` is filled in with the hash of the table
    content (`lut_sha256()`); when given, it must match. The config id hashes the table content,
    not the path; `to_dict()` keeps the path (a table given only in memory cannot be reloaded
    from JSON).
    """

    kind = "approxmul"
    method: str = "exact"
    a_bits: int = 8
    b_bits: int = 8
    signed: bool = False
    t: int = 0                 # truncated, ssm: columns < t dropped (of the product / of the ssm core)
    compensate: bool = False   # truncated, ssm: add the rounded expected value of the dropped bits
    hbl: int = 0               # broken_array: rows < hbl dropped (0..b_bits)
    vbl: int = 0               # broken_array: columns < vbl dropped (0..a_bits+b_bits)
    k: int = 0                 # drum, ssm: segment width (2..max(a_bits, b_bits))
    perf_rows: int = 0         # perforated: number of consecutive rows dropped
    perf_start: int = 0        # perforated: first dropped row (0 = least significant)
    or_cols: int = 0           # truncated, broken_array, perforated: columns < or_cols OR-compressed
    signed_form: str = "sign_magnitude"   # signed array kinds: "sign_magnitude", "baugh_wooley" or "booth"
    compressor: str = ""       # array kinds: approximate 4:2 compressor design (`COMPRESSORS`), "" = none
    approx_cols: int = 0       # array kinds: the reduction tree uses `compressor` in columns < approx_cols
    lut_path: str = dataclasses.field(default="", compare=False)   # location only: not part of equality/id
    lut_sha256: str = ""
    lut_table: object = dataclasses.field(default=None, compare=False, repr=False)

    # ---------------------------------------------------------------- validation
    def validate(self) -> None:
        if not isinstance(self.method, str) or self.method not in METHODS:
            raise ConfigError(f"approxmul: method must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name in ("a_bits", "b_bits"):
            v = getattr(self, name)
            if not MIN_OP_BITS <= v <= MAX_OP_BITS:
                raise ConfigError(f"approxmul: {name} must be in {MIN_OP_BITS}..{MAX_OP_BITS}, got {v}")
        used = _PARAMS[self.method]
        for name, default in _DEFAULTS.items():
            if name in used:
                continue
            v = getattr(self, name)
            if not (v is None if default is None else v == default):
                raise ConfigError(f"approxmul: {name} is not a parameter of method {self.method!r} "
                                  f"(leave it at {default!r})")
        if self.signed_form not in SIGNED_FORMS:
            raise ConfigError(f"approxmul: signed_form must be one of {', '.join(SIGNED_FORMS)}, "
                              f"got {self.signed_form!r}")
        if self.signed_form != "sign_magnitude" and not (self.signed and self.method in ARRAY_METHODS):
            raise ConfigError(f"approxmul: signed_form {self.signed_form!r} needs signed=True and an array method "
                              f"({', '.join(ARRAY_METHODS)}), got method {self.method!r} "
                              f"signed={self.signed}")
        if not 0 <= self.or_cols <= self.a_bits + self.b_bits:
            raise ConfigError(f"approxmul: or_cols must be in 0..{self.a_bits + self.b_bits} "
                              f"(the product width), "
                              f"got {self.or_cols}")
        for name in ("lut_path", "lut_sha256"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"approxmul: {name} must be a string")
        na, nb, npw = self.a_bits, self.b_bits, self.a_bits + self.b_bits
        m = self.method
        if m == "truncated" and not 0 <= self.t <= npw:
            raise ConfigError(f"approxmul: truncated t must be in 0..{npw} (the product width), got {self.t}")
        rows, what = (booth_rows(nb), "Booth rows") if is_booth(self) else (nb, "rows = b_bits")
        if m == "broken_array":
            if not 0 <= self.hbl <= rows:
                raise ConfigError(f"approxmul: broken_array hbl must be in 0..{rows} ({what}), got {self.hbl}")
            if not 0 <= self.vbl <= npw:
                raise ConfigError(f"approxmul: broken_array vbl must be in 0..{npw} (the product width), got {self.vbl}")
        if m in ("drum", "ssm") and not 2 <= self.k <= max(na, nb):
            raise ConfigError(f"approxmul: {m} k must be in 2..{max(na, nb)} (the wider operand), got {self.k}")
        if m == "ssm":
            ka, kb = ssm_segment_bits(self)
            if not 0 <= self.t <= ka + kb:
                raise ConfigError(f"approxmul: ssm t must be in 0..{ka + kb} (the width of its {ka}x{kb} "
                                  f"core product), got {self.t}")
        if m == "perforated":
            if not 0 <= self.perf_start < rows:
                raise ConfigError(f"approxmul: perforated perf_start must be in 0..{rows - 1} ({what}), "
                                  f"got {self.perf_start}")
            if not 0 <= self.perf_rows <= rows - self.perf_start:
                raise ConfigError(f"approxmul: perforated perf_rows must be in 0..{rows - self.perf_start} "
                                  f"(rows {self.perf_start}..{rows - 1} exist), got {self.perf_rows}")
        self._check_reduction()
        if m == "lut":
            self._resolve_lut()

    def _check_reduction(self) -> None:
        """compressor and approx_cols: both given (or_cols < approx_cols <= product width) or neither."""
        if not isinstance(self.compressor, str) or (self.compressor and self.compressor not in COMPRESSORS):
            raise ConfigError(f"approxmul: compressor must be one of {', '.join(COMPRESSORS)} (or empty), "
                              f"got {self.compressor!r}")
        npw = self.a_bits + self.b_bits
        if not isinstance(self.approx_cols, (int, np.integer)) or isinstance(self.approx_cols, bool):
            raise ConfigError(f"approxmul: approx_cols must be an integer, got {self.approx_cols!r}")
        if self.compressor and not self.or_cols < self.approx_cols <= npw:
            raise ConfigError(f"approxmul: approx_cols must be in {self.or_cols + 1}..{npw} (above or_cols, "
                              f"within the product width) with compressor {self.compressor!r}, "
                              f"got {self.approx_cols}")
        if not self.compressor and self.approx_cols:
            raise ConfigError(f"approxmul: approx_cols={self.approx_cols} needs a compressor "
                              f"({', '.join(COMPRESSORS)})")
        if self.compressor:
            cols = array_columns(self)
            top = self.approx_cols - 1
            if not any(op.kind == self.compressor and op.col == top for op in array_schedule(self, cols).ops):
                raise ConfigError(f"approxmul: approx_cols={self.approx_cols} places no {self.compressor} "
                                  f"compressor in column {top} of this array's reduction tree (the design "
                                  f"equals one with a smaller approx_cols, or none)")

    def _resolve_lut(self) -> None:
        """Load/check the truth table; store it read-only in lut_table and its hash in lut_sha256."""
        table = None
        if self.lut_table is not None:
            table = _check_table(self.lut_table, self.a_bits, self.b_bits, self.signed)
        if self.lut_path:
            from_file = _check_table(load_lut_file(self.lut_path, self.a_bits, self.b_bits),
                                     self.a_bits, self.b_bits, self.signed)
            if table is not None and not np.array_equal(table, from_file):
                raise ConfigError(f"approxmul: lut_table differs from the content of {self.lut_path}")
            table = from_file
        if table is None:
            raise ConfigError("approxmul: method 'lut' needs lut_table (an array) or lut_path (a .npy/.bin file)")
        digest = lut_sha256(table)
        if self.lut_sha256 and self.lut_sha256 != digest:
            raise ConfigError(f"approxmul: LUT content hash {digest[:12]}... does not match lut_sha256 "
                              f"{self.lut_sha256[:12]}... (table changed?)")
        table.setflags(write=False)
        object.__setattr__(self, "lut_table", table)
        object.__setattr__(self, "lut_sha256", digest)

    # ---------------------------------------------------------------- identity
    def to_dict(self) -> dict:
        d = {"kind": self.kind}
        for f in dataclasses.fields(self):
            if f.name != "lut_table":
                d[f.name] = getattr(self, f.name)
        # fields added later are left out at their defaults, so earlier ids do not change
        for name, default in (("or_cols", 0), ("signed_form", "sign_magnitude"), ("compressor", ""),
                              ("approx_cols", 0)):
            if d[name] == default:
                d.pop(name)
        return d

    @property
    def config_id(self) -> str:
        """Readable name + 8 hex of the SHA-256 of the JSON without lut_path (content, not location)."""
        d = self.to_dict()
        d.pop("lut_path")
        digest = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.short_name()}-{digest}"

    def short_name(self) -> str:
        tag = {
            "exact": "exact",
            "truncated": f"trunc-t{self.t}{'c' if self.compensate else ''}",
            "broken_array": f"bam-h{self.hbl}v{self.vbl}",
            "drum": f"drum-k{self.k}",
            "ssm": f"ssm-k{self.k}" + (f"t{self.t}{'c' if self.compensate else ''}" if self.t else ""),
            "mitchell": "mitchell",
            "perforated": f"perf-r{self.perf_rows}s{self.perf_start}",
            "lut": f"lut-{self.lut_sha256[:8]}",
        }[self.method]
        if self.or_cols:
            tag += f"-or{self.or_cols}"
        if self.compressor:
            tag += f"-{self.compressor}-a{self.approx_cols}"
        if self.signed_form != "sign_magnitude":
            tag += {"baugh_wooley": "-bw", "booth": "-booth"}[self.signed_form]
        return f"approxmul-{tag}-{'i' if self.signed else 'u'}{self.a_bits}x{self.b_bits}"

    # ---------------------------------------------------------------- derived
    @property
    def y_bits(self) -> int:
        """Product port width: a_bits + b_bits, or one more when some product of this design needs it.

        Unsigned designs and the exact product always fit a_bits + b_bits. Signed approximate
        designs may overshoot +2^(na+nb-1)-1 (e.g. DRUM k=2 on -128 x -128); then y_bits = na+nb+1.
        """
        return table_y_bits(mul_table(self), self.a_bits, self.b_bits, self.signed)

    def a_range(self) -> tuple[int, int]:
        return int_range(self.a_bits, self.signed)

    def b_range(self) -> tuple[int, int]:
        return int_range(self.b_bits, self.signed)

    @classmethod
    def from_table(cls, table, signed: bool, lut_path: str = "") -> ApproxMulConfig:
        """A "lut" config whose widths come from the table shape (2^a_bits, 2^b_bits)."""
        na, nb = table_widths(table)
        return cls(method="lut", a_bits=na, b_bits=nb, signed=signed, lut_table=np.asarray(table),
                   lut_path=lut_path)


# -------------------------------------------------------------------- LUT helpers
def table_widths(table) -> tuple[int, int]:
    """(a_bits, b_bits) of an integer truth table of shape (2^a_bits, 2^b_bits), each width in
    MIN_OP_BITS..MAX_OP_BITS; ConfigError otherwise."""
    arr = np.asarray(table)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(f"multiplier table must hold integers, got dtype {arr.dtype}")
    if arr.ndim != 2 or not all(n >= 1 and n & (n - 1) == 0 for n in arr.shape):
        raise ConfigError(f"multiplier table shape must be (2^a_bits, 2^b_bits), got {arr.shape}")
    na, nb = (int(n).bit_length() - 1 for n in arr.shape)
    if not (MIN_OP_BITS <= na <= MAX_OP_BITS and MIN_OP_BITS <= nb <= MAX_OP_BITS):
        raise ConfigError(f"multiplier table shape {arr.shape}: operand widths must be in "
                          f"{MIN_OP_BITS}..{MAX_OP_BITS} bits")
    return na, nb


def lut_sha256(table) -> str:
    """SHA-256 (hex) of a table's content: its values as little-endian int64, row-major."""
    arr = np.ascontiguousarray(np.asarray(table, dtype=np.int64), dtype="<i8")
    return hashlib.sha256(arr.tobytes()).hexdigest()


def load_lut_file(path, a_bits: int, b_bits: int) -> np.ndarray:
    """Read a truth table from .npy (any integer dtype), a flat little-endian int32 .bin, or the
    emulator layouts of `quantpe.golden.lut_export`: an 8x8 .bin of 65,536 uint16 (TFApprox /
    EvoApprox mul8u_*.bin) or an AdaPT `int16_t lut [256][256]` .h."""

    p = Path(path)
    try:
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        elif p.suffix == ".h":
            arr = read_adapt_header(p)
        elif p.suffix == ".bin":
            raw = p.read_bytes()
            want = 4 << (a_bits + b_bits)
            if (a_bits, b_bits) == (8, 8) and len(raw) == 2 << 16:
                return read_tfapprox_bin(p)
            if len(raw) != want:
                raise ConfigError(f"approxmul: {p} has {len(raw)} bytes, a {a_bits}x{b_bits} int32 LUT has {want}")
            arr = np.frombuffer(raw, dtype="<i4").reshape(1 << a_bits, 1 << b_bits)
        else:
            raise ConfigError(f"approxmul: LUT file must be .npy, .bin or .h, got {p}")
    except QuantpeError:
        raise
    except OSError as e:
        raise ConfigError(f"approxmul: cannot read LUT file {p}: {e.strerror or e}") from None
    except (ValueError, EOFError) as e:
        raise ConfigError(f"approxmul: cannot read LUT file {p}: {str(e) or 'empty or truncated file'}") from None
    return arr


def _check_table(table, a_bits: int, b_bits: int, signed: bool) -> np.ndarray:
    """Integer table of shape (2^a_bits, 2^b_bits) whose values fit a_bits+b_bits+1 bits."""
    arr = np.asarray(table)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(f"approxmul: LUT must hold integers, got dtype {arr.dtype}")
    shape = (1 << a_bits, 1 << b_bits)
    if arr.shape != shape:
        raise ConfigError(f"approxmul: LUT shape must be {shape} for {a_bits}x{b_bits} bits, got {arr.shape}")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ConfigError("approxmul: LUT values out of range")
    arr = np.array(arr, dtype=np.int64)
    width = a_bits + b_bits + 1
    if not fits(arr, width, signed):
        lo, hi = int_range(width, signed)
        raise ConfigError(f"approxmul: LUT values must be in {lo}..{hi} ({'signed' if signed else 'unsigned'} "
                          f"{width} bits), got {arr.min()}..{arr.max()}")
    return arr


def table_y_bits(table, a_bits: int, b_bits: int, signed: bool) -> int:
    """a_bits + b_bits, or the smallest larger width holding every value of `table`."""
    arr = np.asarray(table, dtype=np.int64)
    w = a_bits + b_bits
    while not fits(arr, w, signed):
        w += 1
    return w


# -------------------------------------------------------------------- bit-level definitions
def pp_keep_mask(cfg: ApproxMulConfig) -> np.ndarray:
    """Kept partial-product bits of an array kind: bool (b_bits, a_bits), [i, j] = bit a_j & b_i
    in row i, column i + j; for the Booth form bool (booth_rows, a_bits + 1), [i, j] = p_{i,j} in
    column 2i + j. Raises for kinds that are not partial-product arrays."""
    nb, na, step = cfg.b_bits, cfg.a_bits, 1
    if is_booth(cfg):
        nb, na, step = booth_rows(cfg.b_bits), cfg.a_bits + 1, 2
    i = np.arange(nb)[:, None]
    col = step * i + np.arange(na)[None, :]
    m = cfg.method
    if m == "exact":
        keep = np.ones((nb, na), dtype=bool)
    elif m == "truncated":
        keep = col >= cfg.t
    elif m == "broken_array":
        keep = (i >= cfg.hbl) & (col >= cfg.vbl)
    elif m == "perforated":
        keep = ~((i >= cfg.perf_start) & (i < cfg.perf_start + cfg.perf_rows))
    else:
        raise QuantpeError(f"approxmul: method {m!r} is not a partial-product array")
    return np.broadcast_to(keep, (nb, na)).copy()


def truncation_compensation(cfg: ApproxMulConfig) -> int:
    """Constant C added by compensated truncation (0 otherwise): expected value of the dropped
    partial-product bits for uniform independent operand bits, rounded half away from zero
    (AND bits 1/4, the complemented bits of a Baugh-Wooley array 3/4; for the Booth form the exact
    mean over all operand pairs)."""
    if cfg.method != "truncated" or not cfg.compensate:
        return 0
    if is_booth(cfg):
        return _booth_dropped_mean(cfg)
    inv = bw_invert_mask(cfg) if is_baugh_wooley(cfg) else None
    return _dropped_bits_expectation(pp_keep_mask(cfg), inv)


def _dropped_bits_expectation(keep: np.ndarray, invert: np.ndarray | None = None) -> int:
    """round_half_away(E[sum of the dropped bits << column]): each bit a_j & b_i of a bool keep
    mask (rows i, columns j, column i + j) is 1 with probability 1/4, a complemented bit
    (`invert`) with probability 3/4."""
    col = np.arange(keep.shape[0])[:, None] + np.arange(keep.shape[1])[None, :]
    weight = np.ones(keep.shape, dtype=np.int64) if invert is None else np.where(invert, 3, 1)
    quarter_sum = int(np.sum(np.where(~keep, weight << col, 0)))     # 4 * expected value
    return int(round_half_away(quarter_sum / 4))


def is_booth(cfg: ApproxMulConfig) -> bool:
    """True when cfg is built as a radix-4 modified Booth array."""
    return cfg.signed_form == "booth"


def is_native_signed(cfg: ApproxMulConfig) -> bool:
    """True for the two's-complement arrays (Baugh-Wooley, Booth): y = array sum mod 2^P, signed."""
    return cfg.signed_form in ("baugh_wooley", "booth")


def booth_rows(b_bits: int) -> int:
    """Rows (radix-4 digits) of the Booth array: ceil(b_bits / 2)."""
    return (b_bits + 1) // 2


def booth_constant(a_bits: int, b_bits: int) -> int:
    """K = -sum_i 2^(a_bits + 2i) mod 2^P over the booth_rows(b_bits) rows, P = a_bits + b_bits."""
    P = a_bits + b_bits
    return -sum(1 << (a_bits + 2 * i) for i in range(booth_rows(b_bits))) % (1 << P)


def booth_digit(b_hi, b_mid, b_lo):
    """Radix-4 Booth recoding of the bits (b_{2i+1}, b_{2i}, b_{2i-1}) of 0/1 values (numpy or
    Amaranth 1-bit): (one, two, neg), the digit being (-1)^neg * (one + 2 two) (zero when both are 0)."""
    one = b_mid ^ b_lo
    two = (b_hi ^ b_mid) & (one ^ 1)
    return one, two, b_hi


def booth_pp_bit(one, two, neg, a_j, a_jm1):
    """Bit j of a Booth row before the +neg: ((one & a_j) | (two & a_{j-1})) ^ neg."""
    return ((one & a_j) | (two & a_jm1)) ^ neg


def _booth_dropped_mean(cfg: ApproxMulConfig) -> int:
    """round_half_away(mean over all operand pattern pairs of the dropped Booth bits' value)."""
    keep = pp_keep_mask(cfg)
    full = cfg.replace(method="exact", t=0, compensate=False, hbl=0, vbl=0, perf_rows=0, perf_start=0,
                       or_cols=0, compressor="", approx_cols=0)
    total = 0
    A, B = _operand_bits(cfg.a_bits), _operand_bits(cfg.b_bits)
    for c, entries in enumerate(array_columns(full)):
        for e in entries:
            if e[0] != "one" and not keep[e[1], 0 if e[0] == "neg" else e[2]]:
                total += int(_entry_bits(cfg, e, A, B).sum(dtype=np.int64)) << c
    n = 1 << (cfg.a_bits + cfg.b_bits)
    return (2 * total + n) // (2 * n)          # round half up of total / n (total >= 0)


def is_baugh_wooley(cfg: ApproxMulConfig) -> bool:
    """True when cfg is built as a native two's-complement (Baugh-Wooley) array."""
    return cfg.signed_form == "baugh_wooley"


def bw_invert_mask(cfg: ApproxMulConfig) -> np.ndarray:
    """bool (b_bits, a_bits): [i, j] true where the Baugh-Wooley bit is ~(a_j & b_i), i.e. exactly
    one of i = b_bits - 1, j = a_bits - 1 holds."""
    nb, na = cfg.b_bits, cfg.a_bits
    return (np.arange(nb)[:, None] == nb - 1) != (np.arange(na)[None, :] == na - 1)


def baugh_wooley_constant(a_bits: int, b_bits: int) -> int:
    """K = 2^(P-1) + 2^(a_bits-1) + 2^(b_bits-1) mod 2^P, P = a_bits + b_bits."""
    P = a_bits + b_bits
    return ((1 << (P - 1)) + (1 << (a_bits - 1)) + (1 << (b_bits - 1))) % (1 << P)


def array_constant(cfg: ApproxMulConfig) -> int:
    """The constant fed into an array kind's columns: K + C (mod 2^P) for Baugh-Wooley and Booth,
    C for the unsigned array (C = `truncation_compensation`)."""
    c = truncation_compensation(cfg)
    P = cfg.a_bits + cfg.b_bits
    if is_baugh_wooley(cfg):
        return (baugh_wooley_constant(cfg.a_bits, cfg.b_bits) + c) % (1 << P)
    if is_booth(cfg):
        return (booth_constant(cfg.a_bits, cfg.b_bits) + c) % (1 << P)
    return c


def array_sum(cfg: ApproxMulConfig, a, b) -> np.ndarray:
    """Column sum of an array kind for operand bit patterns 0 <= a < 2^a_bits, 0 <= b < 2^b_bits
    (broadcasting, int64): kept bits (complemented where `bw_invert_mask` for Baugh-Wooley) and
    the one-bits of `array_constant`, each column < or_cols reduced to the OR of its bits. Not
    wrapped (the caller reads it mod 2^P for Baugh-Wooley)."""
    return _array_table(cfg)[np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)]


@functools.lru_cache(maxsize=64)
def _array_table(cfg: ApproxMulConfig) -> np.ndarray:
    """`array_sum` for every pattern pair, (2^a_bits, 2^b_bits), as uint8 column bit counts."""
    na, nb = cfg.a_bits, cfg.b_bits
    keep = pp_keep_mask(cfg)
    inv = bw_invert_mask(cfg) if is_baugh_wooley(cfg) else np.zeros_like(keep)
    const = array_constant(cfg)
    A, B = _operand_bits(na), _operand_bits(nb)
    if cfg.compressor or is_booth(cfg):
        total = _tree_table(cfg, A, B)
        total.setflags(write=False)
        return total
    total = np.zeros((1 << na, 1 << nb), dtype=np.int64)
    for c in range(max(na + nb, const.bit_length())):
        count = np.full((1 << na, 1 << nb), (const >> c) & 1, dtype=np.uint8)
        for i in range(max(0, c - na + 1), min(nb, c + 1)):
            j = c - i
            if keep[i, j]:
                bit = A[:, j, None] & B[None, :, i]
                count += (bit ^ 1) if inv[i, j] else bit
        total += (np.minimum(count, 1) if c < cfg.or_cols else count).astype(np.int64) << c
    total.setflags(write=False)
    return total


def _operand_bits(n: int) -> np.ndarray:
    """uint8 (2^n, n): [pattern, bit]."""
    return (np.arange(1 << n, dtype=np.uint16)[:, None] >> np.arange(n, dtype=np.uint16)[None, :]).astype(np.uint8) & 1


def array_columns(cfg: ApproxMulConfig) -> list[list]:
    """The bits entering an array kind's reduction tree, per column in tree order: `pp_columns`
    for the AND / Baugh-Wooley arrays; for the Booth form, row by row, the kept bits
    ("booth", i, j, inverted) of row i in column 2i + j (j ascending; the top bit j = a_bits
    inverted), then the row's ("neg", i) in column 2i when bit j = 0 is kept; then the one-bits
    of `array_constant` ("one",). Width a_bits + b_bits."""
    keep, const = pp_keep_mask(cfg), array_constant(cfg)
    if not is_booth(cfg):
        return pp_columns(keep, const, bw_invert_mask(cfg) if is_baugh_wooley(cfg) else None)
    P, na = cfg.a_bits + cfg.b_bits, cfg.a_bits
    cols = [[] for _ in range(P)]
    for i in range(keep.shape[0]):
        for j in range(na + 1):
            if keep[i, j]:
                cols[2 * i + j].append(("booth", i, j, j == na))
        if keep[i, 0]:
            cols[2 * i].append(("neg", i))
    for c in range(P):
        if (const >> c) & 1:
            cols[c].append(("one",))
    return cols


def _entry_bits(cfg: ApproxMulConfig, e: tuple, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """uint8 (2^a_bits, 2^b_bits) value of one `array_columns` entry for every pattern pair."""
    shape = (A.shape[0], B.shape[0])
    if e[0] == "one":
        return np.ones(shape, dtype=np.uint8)
    if e[0] == "pp":
        return (A[:, e[2], None] & B[None, :, e[1]]) ^ np.uint8(e[3])
    na, nb = cfg.a_bits, cfg.b_bits
    zero = np.zeros(B.shape[0], dtype=np.uint8)

    def bbit(k):                          # sign-extended b, b_{-1} = 0
        return zero if k < 0 else B[:, min(k, nb - 1)]
    i = e[1]
    one, two, neg = booth_digit(bbit(2 * i + 1), bbit(2 * i), bbit(2 * i - 1))
    if e[0] == "neg":
        return np.broadcast_to(neg[None, :], shape).astype(np.uint8)
    j = e[2]
    a_j = A[:, min(j, na - 1), None]      # a_na = a_{na-1}
    a_jm1 = A[:, j - 1, None] if j > 0 else np.zeros((A.shape[0], 1), dtype=np.uint8)
    return (booth_pp_bit(one[None, :], two[None, :], neg[None, :], a_j, a_jm1) ^ np.uint8(e[3])).astype(np.uint8)


def pp_columns(keep, const: int, invert=None) -> list[list]:
    """The bits entering an array's reduction tree, per column in tree order: for row i = 0..,
    column j = 0.. of the bool mask `keep` (rows = bits of b, columns = bits of a) a kept bit
    ("pp", i, j, inverted) goes to column i + j, then the one-bits of `const` ("one",). Width
    rows + columns (or the constant's bit length, if longer)."""
    nb, na = len(keep), len(keep[0])
    width = na + nb + max(int(const).bit_length() - (na + nb), 0)
    cols = [[] for _ in range(width)]
    for i in range(nb):
        for j in range(na):
            if keep[i][j]:
                cols[i + j].append(("pp", i, j, bool(invert is not None and invert[i][j])))
    for c in range(width):
        if (const >> c) & 1:
            cols[c].append(("one",))
    return cols


def array_schedule(cfg: ApproxMulConfig, cols: list[list]):
    """The reduction schedule of an array kind given its `pp_columns` (after OR compression:
    a column < or_cols with more than one bit counts as one)."""
    heights = [min(len(c), 1) if c_ < cfg.or_cols else len(c) for c_, c in enumerate(cols)]
    return dadda_schedule(heights, cfg.compressor, cfg.approx_cols)


def _tree_table(cfg: ApproxMulConfig, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Array sum for every pattern pair through the reduction schedule (bit-level, with the
    approximate compressors), int64 (2^a_bits, 2^b_bits)."""
    cols = array_columns(cfg)
    inputs = []
    for c, entries in enumerate(cols):
        bits = [_entry_bits(cfg, e, A, B) for e in entries]
        if c < cfg.or_cols and len(bits) > 1:
            bits = [np.bitwise_or.reduce(np.stack(bits), axis=0)]
        inputs += bits
    total = evaluate(array_schedule(cfg, cols), inputs)     # a scalar when no bit is left
    return np.broadcast_to(total, (A.shape[0], B.shape[0])).copy()


def ssm_segment_bits(cfg: ApproxMulConfig) -> tuple[int, int]:
    """(a segment width, b segment width) of an ssm design: min(operand width, k)."""
    return min(cfg.a_bits, cfg.k), min(cfg.b_bits, cfg.k)


def ssm_keep_mask(cfg: ApproxMulConfig) -> np.ndarray:
    """Kept bits of the ssm core array: bool (kb, ka), [i, j] = seg_a[j] & seg_b[i] in column
    i + j, kept iff i + j >= t."""
    ka, kb = ssm_segment_bits(cfg)
    return (np.arange(kb)[:, None] + np.arange(ka)[None, :]) >= cfg.t


def ssm_compensation(cfg: ApproxMulConfig) -> int:
    """Constant added to the ssm core (0 without `compensate`): the rounded expected value of
    its dropped bits, as `truncation_compensation`."""
    if not cfg.compensate:
        return 0
    return _dropped_bits_expectation(ssm_keep_mask(cfg))


def _ssm_operand(x: np.ndarray, n: int, k: int):
    """(segment, shift) of one ssm operand of width n: (x, 0) if x < 2^k (or n <= k), else
    ((x >> (n - k)) | 1, n - k)."""
    if n <= k:
        return x, np.zeros_like(x)
    big = x >= (1 << k)
    return np.where(big, (x >> (n - k)) | 1, x), np.where(big, n - k, 0)


def mitchell_frac_bits(cfg: ApproxMulConfig) -> int:
    """Fraction width F of the Mitchell log datapath: max(a_bits, b_bits) - 1."""
    return max(cfg.a_bits, cfg.b_bits) - 1


def _bit_length(x: np.ndarray) -> np.ndarray:
    """Elementwise int.bit_length for 0 <= x < 2^20."""
    n = np.zeros_like(x)
    for i in range(20):
        n += (x >> i) != 0
    return n


def _drum_operand(x: np.ndarray, k: int):
    """(segment with forced LSB, shift s) so that x' = seg << s (seg = x, s = 0 when x < 2^k)."""
    s = np.maximum(_bit_length(x) - k, 0)
    seg = x >> s
    seg = np.where(s > 0, seg | 1, seg)
    return seg, s


def _kept_bits_sum(a: np.ndarray, b: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Sum over kept (i, j) of (a_j & b_i) << (i + j): keep is bool (rows = bits of b, columns =
    bits of a), a and b non-negative int64 (broadcasting)."""
    y = np.zeros(np.broadcast_shapes(a.shape, b.shape), dtype=np.int64)
    for i in range(keep.shape[0]):
        row_mask = sum(1 << j for j in range(keep.shape[1]) if keep[i, j])
        if row_mask:
            y = y + ((b >> i) & 1) * ((a & row_mask) << i)
    return y


def unsigned_core(cfg: ApproxMulConfig, a, b) -> np.ndarray:
    """U(a, b) of the module docstring: 0 <= a < 2^a_bits, 0 <= b < 2^b_bits (broadcasting), int64."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    m = cfg.method
    if m == "exact" and not cfg.compressor:
        return a * b
    if m in ARRAY_METHODS:
        if cfg.or_cols or cfg.compressor:
            return array_sum(cfg, a, b)
        return _kept_bits_sum(a, b, pp_keep_mask(cfg)) + truncation_compensation(cfg)
    if m == "drum":
        sa_, ea = _drum_operand(a, cfg.k)
        sb_, eb = _drum_operand(b, cfg.k)
        return (sa_ * sb_) << (ea + eb)
    if m == "ssm":
        seg_a, s_a = _ssm_operand(a, cfg.a_bits, cfg.k)
        seg_b, s_b = _ssm_operand(b, cfg.b_bits, cfg.k)
        core = _kept_bits_sum(seg_a, seg_b, ssm_keep_mask(cfg)) + ssm_compensation(cfg)
        return core << (s_a + s_b)
    if m == "mitchell":
        F = mitchell_frac_bits(cfg)
        zero = (a == 0) | (b == 0)
        k1 = np.maximum(_bit_length(a) - 1, 0)
        k2 = np.maximum(_bit_length(b) - 1, 0)
        m1 = (a - (np.int64(1) << k1)) << (F - k1)
        m2 = (b - (np.int64(1) << k2)) << (F - k2)
        S = m1 + m2
        P = np.where(S >= (1 << F), 2 * S, (1 << F) + S)
        y = (P << (k1 + k2)) >> F
        return np.where(zero, 0, y)
    raise QuantpeError(f"approxmul: method {m!r} has no unsigned core")


def operand_values(bits: int, signed: bool) -> np.ndarray:
    """Operand values in bit-pattern order: index p holds the value whose pattern is p."""
    return wrap(np.arange(1 << bits, dtype=np.int64), bits, signed)


def _direct(cfg: ApproxMulConfig, a, b) -> np.ndarray:
    """Golden product computed from the definitions (no table), values in range."""
    if cfg.method == "lut":
        return cfg.lut_table[to_unsigned(a, cfg.a_bits), to_unsigned(b, cfg.b_bits)]
    if not cfg.signed:
        return unsigned_core(cfg, a, b)
    if is_native_signed(cfg):
        P = cfg.a_bits + cfg.b_bits
        return wrap(array_sum(cfg, to_unsigned(a, cfg.a_bits), to_unsigned(b, cfg.b_bits)), P, True)
    return _sign_magnitude(lambda x, y: unsigned_core(cfg, x, y), a, b)


def _sign_magnitude(unsigned: MulRule, a, b) -> np.ndarray:
    """The sign-magnitude rule: y = unsigned(|a|, |b|), negated when exactly one of a, b < 0."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    u = unsigned(np.abs(a), np.abs(b))
    return np.where((a < 0) ^ (b < 0), -u, u)


#: where `mul_table` keeps tables between processes (`use_table_store`): None, or an object with
#: load(cfg) -> array or None and save(cfg, table) (quantpe.core.table_store: the build cache)
_TABLE_STORE = None


def use_table_store(store):
    """Make `store` the table store of `mul_table` (None: compute every table); returns the
    previous one. The in-process cache is emptied."""
    global _TABLE_STORE
    old, _TABLE_STORE = _TABLE_STORE, store
    mul_table.cache_clear()
    return old


@functools.lru_cache(maxsize=512)
def mul_table(cfg: ApproxMulConfig) -> np.ndarray:
    """Read-only (2^a_bits, 2^b_bits) int64 table: [a_pattern, b_pattern] -> product.

    Cached for 512 configs (<= 256 MB at 8x8): a plan search walks every layer's candidates in
    turn, and a deep model's layers share a few hundred of them (a smaller LRU misses on each).
    With a table store (`use_table_store`), a table is read from it when it holds one of this
    shape and dtype, and else computed and saved to it."""
    shape = (1 << cfg.a_bits, 1 << cfg.b_bits)
    store = _TABLE_STORE
    t = None if store is None else store.load(cfg)
    if t is None or t.shape != shape or t.dtype != np.int64:
        a = operand_values(cfg.a_bits, cfg.signed)[:, None]
        b = operand_values(cfg.b_bits, cfg.signed)[None, :]
        t = np.array(np.broadcast_to(_direct(cfg, a, b), shape), dtype=np.int64)
        if store is not None:
            store.save(cfg, t)
    t.setflags(write=False)
    return t


def exact_table(a_bits: int, b_bits: int, signed: bool) -> np.ndarray:
    """Exact products in the same [a_pattern, b_pattern] layout as `mul_table`."""
    return operand_values(a_bits, signed)[:, None] * operand_values(b_bits, signed)[None, :]


def approx_mul(cfg: ApproxMulConfig) -> MulRule:
    """Elementwise product rule of `cfg`: (a, b) integer arrays (broadcasting) -> int64 products.

    a must lie in cfg.a_range(), b in cfg.b_range() (QuantpeError otherwise). Bit-exact with the
    RTL of `quantpe.rtl.approx.approx_multiplier(cfg)`.
    """
    table = mul_table(cfg)
    na, nb, signed = cfg.a_bits, cfg.b_bits, cfg.signed

    def rule(a, b):
        a = np.asarray(a)
        b = np.asarray(b)
        for name, x, bits in (("a", a, na), ("b", b, nb)):
            if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or x.size == 0):
                raise QuantpeError(f"{cfg.short_name()}: operand {name} must be integers, got dtype {x.dtype}")
            if not fits(x, bits, signed):
                lo, hi = int_range(bits, signed)
                raise QuantpeError(f"{cfg.short_name()}: operand {name} out of range {lo}..{hi}")
        return table[to_unsigned(a, na), to_unsigned(b, nb)]

    rule.__name__ = f"approx_mul[{cfg.short_name()}]"
    rule.__doc__ = f"Product rule of {cfg.config_id}."
    return rule


def sign_magnitude_mul(cfg: ApproxMulConfig) -> MulRule:
    """An *unsigned* multiplier used on signed operands in sign-magnitude form:
    y = U(|a|, |b|), negated when exactly one operand is negative (U = `approx_mul(cfg)`).

    |a| < 2^a_bits and |b| < 2^b_bits (QuantpeError otherwise), so an unsigned 8x8 unit takes
    int8 operands. For a given unsigned core this is the same product as the signed variant of
    the same parameters (whose sign-magnitude wrapper is part of its area); here the sign
    handling is left to the datapath around the unit (e.g. the weight sign as a subtract in the
    adder tree).
    """
    if cfg.signed:
        raise ConfigError(f"sign_magnitude_mul needs an unsigned multiplier, got {cfg.short_name()}")
    unsigned_rule = approx_mul(cfg)

    def rule(a, b):
        return _sign_magnitude(unsigned_rule, a, b)

    rule.__name__ = f"sign_magnitude_mul[{cfg.short_name()}]"
    return rule


def check_op_widths(a_bits: int, b_bits: int) -> None:
    for name, v in (("a_bits", a_bits), ("b_bits", b_bits)):
        if not isinstance(v, (int, np.integer)) or not MIN_OP_BITS <= v <= MAX_OP_BITS:
            raise ConfigError(f"{name} must be in {MIN_OP_BITS}..{MAX_OP_BITS}, got {v}")


def exhaustive_inputs(a_bits: int, b_bits: int, signed: bool) -> dict:
    """{"a", "b"}: streams of 2^(a_bits+b_bits) cycles; cycle p drives the operands whose bit
    patterns are p >> b_bits and p & (2^b_bits - 1) (values signed when `signed`)."""
    check_op_widths(a_bits, b_bits)
    p = np.arange(1 << (a_bits + b_bits), dtype=np.int64)
    return {"a": operand_values(a_bits, signed)[p >> b_bits],
            "b": operand_values(b_bits, signed)[p & ((1 << b_bits) - 1)]}


def table_from_outputs(y, a_bits: int, b_bits: int) -> np.ndarray:
    """The per-cycle products of an `exhaustive_inputs` run as a (2^a_bits, 2^b_bits) table."""
    return np.asarray(y, dtype=np.int64).reshape(1 << a_bits, 1 << b_bits)


def approx_mul_ports(cfg: ApproxMulConfig, inputs: dict) -> dict:
    """{y} per cycle: the multiplier is combinational, so y during cycle t is the product of the
    a and b driven during cycle t."""
    return {"y": approx_mul(cfg)(inputs["a"], inputs["b"])}
