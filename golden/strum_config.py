"""StruM (structured mixed precision) PE configuration and its exact value ranges.

Weights of one output channel are cut into blocks of `block` (B) weights along the reduction
axis. In each block the `k` (K) largest |w| are *high* codes (hb-bit signed, legal range
+-(2^(hb-1)-1)); the other B-K are *low* codes of lb bits:
- DLIQ : low code q, lb-bit two's complement, value q * 2^j (j in 0..7, per block or per layer);
- MIP2Q: low code = sign (bit lb-1) + exponent e (bits lb-2..0), value (-1)^sign * 2^e; the code
  sign=1, e=0 means 0.
Selection structure (`select`): "prefix" (default) lets the K high lanes lie anywhere in the
block (the RTL routes them with a block-wide prefix-count network); "group" cuts the block into
G = `groups` groups of B/G consecutive lanes with exactly K/G high lanes in each group (the
RTL routes inside each group only: for B=16, K=8, G=8 one high lane per pair = 2:1 muxes).
The block word is the same for both (mask, then codes in lane order); only the mask validity
rule differs.
All values are integers in units of the per-channel scale s. Every width used by the RTL (unit
products, adder-tree sums) is derived here from exact integer ranges, so the golden model and
the generator cannot disagree about a bit.
"""
from __future__ import annotations

import dataclasses
import math

from .config import DesignConfig
from .dot import MAX_ACC_BITS, Pipelined, product_range
from .errors import ConfigError
from .intmath import int_range
from .quantize import MAX_BITS, MIN_BITS

__all__ = ["StrumConfig", "VARIANTS", "STRUCTURES", "SHIFT_MODES", "SELECTS", "BLOCK_SIZES",
           "J_BITS", "J_MAX", "signed_width"]

VARIANTS = ("dliq", "mip2q")
STRUCTURES = ("static", "dynamic")
SHIFT_MODES = ("block", "layer")
SELECTS = ("prefix", "group")
BLOCK_SIZES = (4, 8, 16, 32)
J_BITS = 3                      # DLIQ shift field: j in 0..7
J_MAX = (1 << J_BITS) - 1
MAX_HB = 8


def signed_width(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi]."""
    b = 1
    while not (-(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1):
        b += 1
    return b


def _scale_range(r: tuple, n: int) -> tuple:
    return r[0] * n, r[1] * n


def _add_range(*rs) -> tuple:
    return sum(r[0] for r in rs), sum(r[1] for r in rs)


def _union(*rs) -> tuple:
    return min(r[0] for r in rs), max(r[1] for r in rs)


@dataclasses.dataclass(frozen=True)
class StrumConfig(Pipelined, DesignConfig):
    """Parameters of a StruM PE (defaults: DLIQ, B=16, K=8, hb=8, lb=4, int8 activations).

    variant    "dliq" | "mip2q"
    block      B in {4, 8, 16, 32}
    k          K high slots per block, 1 <= K < B; 0 (default) -> B // 2 (stored resolved, so
               StrumConfig() == StrumConfig(k=8) and both have the same id)
    hb, lb     high / low code bits, 2 <= lb < hb <= 8
    a_bits, a_signed   activation codes
    acc_bits   signed accumulator width (wraps modulo 2^acc_bits unless `saturate`)
    shift      DLIQ only: "block" (3-bit j in every block header, chosen per block) or "layer"
               (one j per layer, no header; the PE takes it on its `j` port all the same)
    structure  "static" (K full multipliers + B-K low units) | "dynamic" (B full lanes + mode)
    pipeline   0, 1 (register after the adder tree), 2 (+ register after the multipliers)
    select     "prefix" (default: K high lanes anywhere in the block) | "group" (G groups of
               B/G consecutive lanes, exactly K/G high lanes per group)
    groups     G, select="group" only; must divide both B and K; 0 (default) -> gcd(B, K)
               (stored resolved). Must stay 0 with select="prefix".
    With the defaults select="prefix", groups=0 the two fields are left out of `to_dict`, so
    the config ids of prefix-select configs are the ids they had before these fields existed.
    """

    kind = "strum"
    variant: str = "dliq"
    block: int = 16
    k: int = 0
    hb: int = 8
    lb: int = 4
    a_bits: int = 8
    a_signed: bool = True
    acc_bits: int = 32
    shift: str = "block"
    structure: str = "static"
    pipeline: int = 1
    saturate: bool = False
    select: str = "prefix"
    groups: int = 0

    def __post_init__(self):
        if self.k == 0 and isinstance(self.k, int) and isinstance(self.block, int) \
                and not isinstance(self.block, bool):
            object.__setattr__(self, "k", self.block // 2)
        if self.select == "group" and self.groups == 0 and isinstance(self.k, int) \
                and isinstance(self.block, int) and self.k > 0 and self.block > 0:
            object.__setattr__(self, "groups", math.gcd(self.block, self.k))
        super().__post_init__()

    def to_dict(self) -> dict:
        d = super().to_dict()
        if self.select == "prefix" and self.groups == 0:
            del d["select"], d["groups"]
        return d

    def validate(self):
        for name, allowed in (("variant", VARIANTS), ("structure", STRUCTURES), ("shift", SHIFT_MODES),
                              ("select", SELECTS)):
            v = getattr(self, name)
            if v not in allowed:
                raise ConfigError(f"strum: {name} must be one of {', '.join(allowed)}, got {v!r}")
        if self.block not in BLOCK_SIZES:
            raise ConfigError(f"strum: block must be one of {', '.join(map(str, BLOCK_SIZES))}, "
                              f"got {self.block}")
        if not 1 <= self.k < self.block:
            raise ConfigError(f"strum: k (high slots per block) must be in 1..{self.block - 1} "
                              f"for block {self.block}, got {self.k}")
        if self.select == "prefix" and self.groups != 0:
            raise ConfigError(f"strum: groups applies to select='group' only, got groups={self.groups}")
        if self.select == "group" and not (self.groups >= 1 and self.block % self.groups == 0
                                           and self.k % self.groups == 0):
            raise ConfigError(f"strum: groups must divide both block ({self.block}) and k "
                              f"({self.k}), got {self.groups}")
        if not 2 <= self.lb < self.hb <= MAX_HB:
            raise ConfigError(f"strum: need 2 <= lb < hb <= {MAX_HB}, got hb={self.hb}, lb={self.lb}")
        if not MIN_BITS <= self.a_bits <= MAX_BITS:
            raise ConfigError(f"strum: a_bits must be in {MIN_BITS}..{MAX_BITS}, got {self.a_bits}")
        if self.variant == "mip2q" and self.shift != "block":
            raise ConfigError("strum: shift='layer' applies to DLIQ only (MIP2Q has no shift field)")
        self.check_pipeline("strum: ")
        need = self.sum_bits
        if not need <= self.acc_bits <= MAX_ACC_BITS:
            raise ConfigError(f"strum: acc_bits must be in {need}..{MAX_ACC_BITS} for this block "
                              f"(one block sum needs {need} bits), got {self.acc_bits}")

    def short_name(self) -> str:
        a = f"{'i' if self.a_signed else 'u'}{self.a_bits}"
        extra = ("-jlayer" if self.shift == "layer" else "") + ("-sat" if self.saturate else "")
        extra += f"-g{self.groups}" if self.select == "group" else ""
        return (f"strum-{self.variant}-{self.structure}-b{self.block}k{self.k}-h{self.hb}l{self.lb}"
                f"-a{a}-acc{self.acc_bits}-p{self.pipeline}{extra}")

    # ---- shape of the block ---------------------------------------------------------------
    @property
    def n_low(self) -> int:
        return self.block - self.k

    @property
    def n_groups(self) -> int:
        """Mask groups: `groups` for select="group", else 1 (the whole block)."""
        return self.groups if self.select == "group" else 1

    @property
    def group_lanes(self) -> int:
        return self.block // self.n_groups

    @property
    def group_k(self) -> int:
        """High lanes per group."""
        return self.k // self.n_groups

    @property
    def dynamic(self) -> bool:
        return self.structure == "dynamic"

    @property
    def has_j(self) -> bool:
        """The PE has a `j` input (DLIQ, either shift mode)."""
        return self.variant == "dliq"

    @property
    def j_in_block(self) -> bool:
        """The block word carries the 3-bit j header (DLIQ with per-block shift)."""
        return self.variant == "dliq" and self.shift == "block"

    @property
    def e_bits(self) -> int:
        """MIP2Q exponent field width (lb - 1)."""
        return self.lb - 1

    @property
    def low_shift_max(self) -> int:
        """Largest left shift a low unit applies: 7 (DLIQ j) or 2^(lb-1)-1 (MIP2Q e)."""
        return J_MAX if self.variant == "dliq" else (1 << self.e_bits) - 1

    # ---- code ranges (inclusive) ----------------------------------------------------------
    def a_range(self) -> tuple:
        return int_range(self.a_bits, self.a_signed)

    def hi_range(self) -> tuple:
        """Legal high codes: symmetric +-(2^(hb-1)-1)."""
        m = (1 << (self.hb - 1)) - 1
        return -m, m

    def plain_range(self) -> tuple:
        """Plain hb-bit codes of the dynamic PE's mode 0 (full two's-complement range)."""
        return int_range(self.hb, True)

    def lo_range(self) -> tuple:
        """Low code field: DLIQ signed q; MIP2Q the raw unsigned lb-bit code."""
        return int_range(self.lb, True) if self.variant == "dliq" else int_range(self.lb, False)

    def low_value_range(self) -> tuple:
        """Decoded low weight values (units of s)."""
        if self.variant == "dliq":
            q = int_range(self.lb, True)
            return q[0] << J_MAX, q[1] << J_MAX
        e = self.low_shift_max
        return -(1 << e), 1 << e

    # ---- exact datapath ranges (the RTL sizes its signals from these) ---------------------
    def hi_product_range(self) -> tuple:
        """hb x a_bits multiplier output over the full hb-bit port range."""
        return product_range(int_range(self.hb, True), self.a_range())

    def low_product_range(self) -> tuple:
        """One low unit before any DLIQ shift: q * a (DLIQ) or +-(a << e) (MIP2Q)."""
        if self.variant == "dliq":
            return product_range(int_range(self.lb, True), self.a_range())
        return product_range(self.low_value_range(), self.a_range())

    def hi_sum_range(self) -> tuple:
        """Sum of the K high products of one block."""
        return _scale_range(self.hi_product_range(), self.k)

    def low_sum_range(self) -> tuple:
        """Sum of the B-K low units (DLIQ: before the shared shift by j)."""
        return _scale_range(self.low_product_range(), self.n_low)

    def shifted_low_sum_range(self) -> tuple:
        """The low sum with the DLIQ shift by j applied (MIP2Q: the low sum itself)."""
        low = self.low_sum_range()
        if self.variant == "dliq":
            low = (low[0] << J_MAX, low[1] << J_MAX)
        return low

    def strum_sum_range(self) -> tuple:
        """One StruM block sum: K high products + B-K low products (shift applied)."""
        low = self.shifted_low_sum_range()
        return _add_range(_scale_range(self.hi_product_range(), self.k), low)

    def lane_product_range(self) -> tuple:
        """Dynamic PE lane output: (op * a) << sh over every mode."""
        low = self.low_product_range()
        if self.variant == "dliq":
            low = (low[0] << J_MAX, low[1] << J_MAX)
        return _union(self.hi_product_range(), low)

    def sum_range(self) -> tuple:
        """One block sum entering the accumulator, over every legal input."""
        r = self.strum_sum_range()
        if self.dynamic:
            r = _union(r, _scale_range(self.hi_product_range(), self.block))
        return r

    @property
    def hi_product_bits(self) -> int:
        return signed_width(*self.hi_product_range())

    @property
    def low_product_bits(self) -> int:
        return signed_width(*self.low_product_range())

    @property
    def hi_sum_bits(self) -> int:
        return signed_width(*self.hi_sum_range())

    @property
    def shifted_low_sum_bits(self) -> int:
        return signed_width(*self.shifted_low_sum_range())

    @property
    def low_sum_bits(self) -> int:
        return signed_width(*self.low_sum_range())

    @property
    def lane_product_bits(self) -> int:
        return signed_width(*self.lane_product_range())

    @property
    def sum_bits(self) -> int:
        return signed_width(*self.sum_range())
