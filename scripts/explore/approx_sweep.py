"""The approximate-multiplier variant library of the sweep and the rule that picks the exact
reference: `sweep_variants(a_bits, b_bits, signed)` lists every variant the report, the plans
and the benchmarks measure (legacy families, compressor trees, Booth variants; duplicates and
constant products removed); `pick_reference({form: area})` is the smallest exact unit.
Imports: `quantpe.golden`.
"""
from __future__ import annotations

import numpy as np
from quantpe.golden.approx import ApproxMulConfig, booth_rows, exact_table, mul_table
from quantpe.golden.errors import ConfigError

# exact reference candidates: (name, how it is built)
REFERENCE_FORMS = (("array", "unsigned AND array + Dadda tree (`ApproxMultiplier`, exact)"),
                   ("sign_magnitude", "sign-magnitude wrapper around the unsigned array (signed)"),
                   ("baugh_wooley", "native two's-complement Baugh-Wooley array + Dadda tree (signed)"),
                   ("booth", "radix-4 modified Booth array + Dadda tree (signed)"),
                   ("yosys_mul", "plain `y = a * b` (Yosys' own `$mul` mapping, `PlainMultiplier`)"))


# ------------------------------------------------------------------ variant sweep
def kulkarni_2x2() -> np.ndarray:
    """Unsigned 2x2 LUT of Kulkarni et al.'s approximate block: exact except 3 x 3 = 7 (not 9)."""
    t = exact_table(2, 2, False).copy()
    t[3, 3] = 7
    return t


def legacy_variants(a_bits: int, b_bits: int, signed: bool) -> list[ApproxMulConfig]:
    """The legacy sweep (the "old" front of the report): every method's parameter at these widths
    (exact first, duplicates removed, sign-magnitude signed form, no OR compression).

    truncated t = P/4 .. 5P/8 (P = a_bits + b_bits), without and with compensation;
    broken_array (hbl, vbl) in {(0, P/2), (1, P/2-1), (1, P/2+1), (2, P/2)}; drum k in
    max(2, n/2-1) .. n-1 (n = max width; none at 2 bits); ssm k in max(2, n/2) .. n-1 with core
    truncation t in {0, 2, 3}; mitchell; perforated (rows, start) in
    {(1, 0), (2, 0), (1, 1)}; lut: the Kulkarni 2x2 block (unsigned 2x2 only; the 8x8 LUT kind is
    skipped: its Verilog takes ~20 s to generate). Degenerate variants whose product is a
    constant (every partial product dropped) are left out.
    """
    base = dict(a_bits=a_bits, b_bits=b_bits, signed=signed)
    P, n = a_bits + b_bits, max(a_bits, b_bits)
    out = [ApproxMulConfig(method="exact", **base)]
    for t in range(max(1, P // 4), 5 * P // 8 + 1):
        for comp in (False, True):
            out.append(ApproxMulConfig(method="truncated", t=t, compensate=comp, **base))
    for hbl, vbl in ((0, P // 2), (1, P // 2 - 1), (1, P // 2 + 1), (2, P // 2)):
        if hbl <= b_bits and 0 <= vbl <= P:
            out.append(ApproxMulConfig(method="broken_array", hbl=hbl, vbl=vbl, **base))
    for k in range(max(2, n // 2 - 1), n):
        out.append(ApproxMulConfig(method="drum", k=k, **base))
    for k in range(max(2, n // 2), n):
        for t in (0, 2, 3):
            out.append(ApproxMulConfig(method="ssm", k=k, t=t, **base))
    out.append(ApproxMulConfig(method="mitchell", **base))
    for rows, start in ((1, 0), (2, 0), (1, 1)):
        if start < b_bits and rows <= b_bits - start:
            out.append(ApproxMulConfig(method="perforated", perf_rows=rows, perf_start=start, **base))
    if (a_bits, b_bits, signed) == (2, 2, False):
        out.append(ApproxMulConfig.from_table(kulkarni_2x2(), signed=False))
    return _unique(out)


def _unique(cfgs) -> list[ApproxMulConfig]:
    """First occurrence of each config, without the degenerate constant-product variants."""
    seen, uniq = set(), []
    for c in cfgs:
        table = mul_table(c)
        if c not in seen and (c.method == "exact" or table.min() != table.max()):
            seen.add(c)
            uniq.append(c)
    return uniq


# Issue 14, deliverable 3: approximate 4:2 compressors in the reduction tree, 8x8 only. Each row
# (kind, p1, p2, or_cols, compressor, approx_cols...) is "t" (truncated t = p1, compensate = p2) or
# "b" (broken_array hbl = p1, vbl = p2) or "e" (exact); every listed variant was a member of the
# 8x8 area/MRED or area/MAE front (MRED <= 20%) of a wider exploration run against the sweep
# without compressors: truncated t 0..6 (compensated) with or_cols 0..11, broken_array, exact, the
# three designs, approx_cols up to 15 (the `wide` grid below is that exploration's core).
C42_FRONT = {
    "unsigned": (
        ("b", 1, 7, 9, "fa_or", 11), ("b", 1, 8, 11, "fa_or", 12),
        ("t", 0, False, 4, "fa_or", 5, 6), ("t", 0, False, 6, "fa_or", 7, 8, 9),
        ("t", 2, True, 3, "fa_or", 4), ("t", 2, True, 4, "fa_or", 5, 6), ("t", 2, True, 7, "fa_or", 8, 9, 10),
        ("t", 2, True, 8, "fa_or", 9, 10), ("t", 2, True, 9, "fa_or", 10),
        ("t", 3, True, 4, "fa_or", 5, 6), ("t", 3, True, 5, "fa_or", 6, 7), ("t", 3, True, 6, "fa_or", 7, 8, 9),
        ("t", 3, True, 7, "fa_or", 8, 9, 10), ("t", 3, True, 8, "fa_or", 9, 10), ("t", 3, True, 9, "fa_or", 10, 11),
        ("t", 4, True, 0, "fa_or", 5, 6), ("t", 4, True, 5, "fa_or", 6), ("t", 4, True, 6, "fa_or", 7, 8, 9),
        ("t", 4, True, 7, "fa_or", 8, 9, 10), ("t", 4, True, 8, "fa_or", 9, 10, 11), ("t", 4, True, 9, "fa_or", 11),
        ("t", 4, True, 10, "fa_or", 11, 12),
        ("t", 5, True, 0, "fa_or", 6, 7), ("t", 5, True, 0, "xor_or", 6), ("t", 5, True, 6, "fa_or", 7, 8),
        ("t", 5, True, 7, "fa_or", 8, 9), ("t", 5, True, 8, "fa_or", 10), ("t", 5, True, 9, "fa_or", 10, 11, 13),
        ("t", 5, True, 10, "fa_or", 11, 12, 13), ("t", 5, True, 11, "fa_or", 12),
        ("t", 6, True, 0, "fa_or", 7),
    ),
    "baugh_wooley": (
        ("e", 0, 0, 0, "fa_or", 4), ("t", 0, False, 4, "fa_or", 5, 6),
        ("t", 2, True, 3, "fa_or", 4, 5), ("t", 2, True, 3, "xor_or", 4), ("t", 2, True, 4, "fa_or", 5, 6),
        ("t", 3, True, 0, "fa_or", 4, 5), ("t", 3, True, 4, "fa_or", 5), ("t", 3, True, 5, "fa_or", 6, 7),
        ("t", 3, True, 6, "fa_or", 7), ("t", 4, True, 0, "fa_or", 5), ("t", 4, True, 5, "fa_or", 6),
        ("t", 4, True, 6, "fa_or", 7, 8), ("t", 5, True, 0, "fa_or", 6, 7), ("t", 5, True, 0, "xor_or", 6),
        ("t", 5, True, 6, "fa_or", 7), ("t", 6, True, 0, "fa_or", 7),
    ),
    "sign_magnitude": (
        ("t", 2, True, 8, "fa_or", 10), ("t", 2, True, 9, "fa_or", 13), ("t", 3, True, 8, "fa_or", 9, 10, 13),
        ("t", 3, True, 9, "fa_or", 13), ("t", 3, True, 10, "fa_or", 13), ("t", 3, True, 11, "fa_or", 12),
        ("t", 4, True, 8, "fa_or", 9, 10, 13), ("t", 4, True, 9, "fa_or", 10, 13), ("t", 4, True, 10, "fa_or", 13),
        ("t", 4, True, 11, "fa_or", 12), ("t", 5, True, 8, "fa_or", 13),
    ),
}


def compressor_variants(a_bits: int, b_bits: int, signed: bool, wide: bool = False) -> list[ApproxMulConfig]:
    """The reduction-tree compressor variants (8x8 only, else none): the `C42_FRONT` rows, or with
    `wide` the exploration grid (fa_or and xor_or; truncated t in {0, 2..6}, compensated for t > 0,
    or_cols in {0, 3..11}; approx_cols or_cols + 1 .. or_cols + 3, where valid)."""
    if (a_bits, b_bits) != (8, 8):
        return []
    base = dict(a_bits=a_bits, b_bits=b_bits, signed=signed)
    out = []
    for form in (("baugh_wooley", "sign_magnitude") if signed else ("unsigned",)):
        kw_form = {"signed_form": form} if signed else {}
        if not wide:
            for kind, p1, p2, oc, design, *acs in C42_FRONT[form]:
                kw = ({"method": "truncated", "t": p1, "compensate": p2} if kind == "t" else
                      {"method": "broken_array", "hbl": p1, "vbl": p2} if kind == "b" else {"method": "exact"})
                out += [ApproxMulConfig(**base, **kw_form, **kw, or_cols=oc, compressor=design, approx_cols=ac)
                        for ac in acs]
            continue
        for design in ("fa_or", "xor_or"):
            for t in (0, 2, 3, 4, 5, 6):
                for oc in (0, *range(3, 12)):
                    for ac in range(oc + 1, oc + 4):
                        kw = {"method": "truncated", "t": t, "compensate": t > 0} if t or oc else {"method": "exact"}
                        try:
                            out.append(ApproxMulConfig(**base, **kw_form, **kw, or_cols=oc, compressor=design,
                                                       approx_cols=ac))
                        except ConfigError:          # no compressor in column ac - 1
                            continue
    return out


def new_families(a_bits: int, b_bits: int, signed: bool, wide: bool = False) -> list[ApproxMulConfig]:
    """The families added to the legacy sweep (P = a_bits + b_bits, n = P / 2, top = max(P - 3, 2)):

    - signed only: the Baugh-Wooley exact array and the legacy truncated / broken_array /
      perforated grids on the Baugh-Wooley array (`signed_form="baugh_wooley"`);
    - OR compression of the low columns (`or_cols`), unsigned, and signed in both forms (the
      sign-magnitude form wins at large MRED budgets, Baugh-Wooley at small ones): truncated t = 0
      with or_cols 2 .. top, compensated truncated t = 2 .. n with or_cols t + 1 .. top;
      broken_array hbl in {1, 2}, vbl in {n - 1, n}, or_cols vbl + 2 .. top;
    - at 8x8, approximate 4:2 compressors in the reduction tree (`compressor_variants`);
    - signed only: the radix-4 Booth family (`booth_variants`).
    The default grid was cut from the `wide` one (every t / vbl in 0 .. max(P - 5, n), with and without
    compensation, hbl 0..3, or_cols up to top; about 2.5x the syntheses at 8x8), keeping the
    parameters that were on its 8x8 area/MRED or area/MAE front.
    """
    base = dict(a_bits=a_bits, b_bits=b_bits, signed=signed)
    P, n, top = a_bits + b_bits, (a_bits + b_bits) // 2, max(a_bits + b_bits - 3, 2)
    out = []
    if signed:
        bw = dict(signed_form="baugh_wooley")
        out.append(ApproxMulConfig(method="exact", **base, **bw))
        for c in legacy_variants(a_bits, b_bits, signed):
            if c.method in ("truncated", "broken_array", "perforated"):
                out.append(c.replace(signed_form="baugh_wooley"))
    forms = ({"signed_form": "baugh_wooley"}, {}) if signed else ({},)
    for form in forms:
        if wide:
            ts = range(0, max(P - 4, n + 1))
            trunc = [(t, comp, oc) for t in ts for comp in ((False, True) if t else (False,))
                     for oc in range(t + 1, top + 1)]
            bam = [(h, v, oc) for h in range(0, 4) for v in ts for oc in range(v + 1, top + 1)
                   if (h or v) and h < b_bits]
        else:
            trunc = [(0, False, oc) for oc in range(2, top + 1)] + \
                [(t, True, oc) for t in range(2, n + 1) for oc in range(t + 1, top + 1)]
            bam = [(h, v, oc) for h in (1, 2) for v in (n - 1, n) for oc in range(v + 2, top + 1)
                   if h < b_bits]
        for t, comp, oc in trunc:
            out.append(ApproxMulConfig(method="truncated", t=t, compensate=comp, or_cols=oc, **base, **form))
        for h, v, oc in bam:
            out.append(ApproxMulConfig(method="broken_array", hbl=h, vbl=v, or_cols=oc, **base, **form))
    return out + compressor_variants(a_bits, b_bits, signed, wide) + booth_variants(a_bits, b_bits, signed)


def booth_variants(a_bits: int, b_bits: int, signed: bool) -> list[ApproxMulConfig]:
    """The radix-4 Booth family (signed only; P = a_bits + b_bits): the exact array; truncated
    (broken Booth) t = 1 .. min(P - 4, P / 2 - 1) (at least 1), plain and compensated, the compensated ones also
    with or_cols t + 1 .. t + 3; broken_array hbl = 1 at vbl = P / 2; each single Booth row
    perforated; at 8x8 fa_or compressors (or_cols t + 1, approx_cols t + 2, t = 2..6). The
    compensated truncations with small or_cols were the 8x8 area/MRED and area/MAE front of a
    159-variant exploration (t 1..10 with or_cols up to t + 4, broken arrays, perforation,
    fa_or compressors)."""
    if not signed:
        return []
    P = a_bits + b_bits
    base = dict(a_bits=a_bits, b_bits=b_bits, signed=True, signed_form="booth")
    kws = [dict(method="exact")]
    for t in range(1, max(min(P - 4, P // 2 - 1), 1) + 1):
        kws.append(dict(method="truncated", t=t))
        kws += [dict(method="truncated", t=t, compensate=True, or_cols=oc)
                for oc in (0, t + 1, t + 2, t + 3) if oc < P]
    kws.append(dict(method="broken_array", hbl=1, vbl=P // 2))
    kws += [dict(method="perforated", perf_rows=1, perf_start=s) for s in range(booth_rows(b_bits))]
    if (a_bits, b_bits) == (8, 8):
        kws += [dict(method="truncated", t=t, compensate=True, or_cols=t + 1, compressor="fa_or",
                     approx_cols=t + 2) for t in range(2, 7)]
    out = []
    for kw in kws:
        try:
            out.append(ApproxMulConfig(**base, **kw))
        except ConfigError:                  # e.g. no compressor in column approx_cols - 1
            continue
    return out


def sweep_variants(a_bits: int, b_bits: int, signed: bool, wide: bool = False) -> list[ApproxMulConfig]:
    """`legacy_variants` followed by `new_families` (duplicates and constant products removed)."""
    return _unique(legacy_variants(a_bits, b_bits, signed) + new_families(a_bits, b_bits, signed, wide))


def pick_reference(areas: dict) -> tuple[str, float]:
    """(form, area) of the smallest candidate of {form: area} (ties: the first in REFERENCE_FORMS order)."""
    order = [f for f, _ in REFERENCE_FORMS]
    name = min(areas, key=lambda f: (areas[f], order.index(f)))
    return name, areas[name]
