"""The built-in default design set that `quantpe report` (make report) generates, simulates and
synthesises. Each entry: (row name, config); every area delta of the table is taken against the
REFERENCE row (the 16-lane int8 baseline PE)."""
from __future__ import annotations

from quantpe.golden.approx_pe import ApproxPEConfig
from quantpe.golden.baseline import BaselineConfig
from quantpe.golden.stripes import StripesConfig
from quantpe.golden.strum import StrumConfig

__all__ = ["default_designs", "REFERENCE"]

REFERENCE = "baseline-l16-int8"


def default_designs() -> list[tuple[str, object]]:
    ref = BaselineConfig()
    return [
        (REFERENCE, ref),
        ("baseline-l16-int8-p2", BaselineConfig(pipeline=2)),
        ("baseline-l16-int8-sat", BaselineConfig(saturate=True)),
        ("baseline-l16-int4", BaselineConfig(a_bits=4, w_bits=4, acc_bits=24)),
        ("baseline-l8-int8", BaselineConfig(lanes=8)),
        ("baseline-l4-int4xuint4", BaselineConfig(lanes=4, a_bits=4, w_bits=4, w_signed=False,
                                                  acc_bits=12, pipeline=2)),
        ("baseline-l8-int2-sat", BaselineConfig(lanes=8, a_bits=2, w_bits=2, acc_bits=7,
                                                pipeline=0, saturate=True)),
        # the approximate-multiplier PE, 16 lanes of int8: every lane exact (the cheapest exact
        # signed 8x8 form, radix-4 Booth; no larger than the baseline), and every lane the broken-Booth
        # truncated t=5 + compensation unit (the cheapest signed 8x8 under MRED 5%)
        ("approxpe-l16-int8-exact", ApproxPEConfig()),
        ("approxpe-l16-int8-booth-t5c", ApproxPEConfig(mul="truncated:compensate=1,signed_form=booth,t=5")),
        # StruM, B=16 K=8 lb=4: 16 lanes of int8 activations, the same reduction per cycle
        ("strum-dliq-static", StrumConfig(variant="dliq", structure="static")),
        ("strum-mip2q-static", StrumConfig(variant="mip2q", structure="static")),
        ("strum-dliq-dynamic", StrumConfig(variant="dliq", structure="dynamic")),
        ("strum-mip2q-dynamic", StrumConfig(variant="mip2q", structure="dynamic")),
        # the grouped selection network (K/G high lanes per group of B/G lanes)
        ("strum-dliq-static-g8", StrumConfig(variant="dliq", select="group", groups=8)),
        ("strum-mip2q-static-g4", StrumConfig(variant="mip2q", select="group", groups=4)),
        ("strum-dliq-static-k6-g2", StrumConfig(variant="dliq", k=6, select="group")),
        ("strum-mip2q-static-k6-g2", StrumConfig(variant="mip2q", k=6, select="group")),
        # Stripes SIP, 16 lanes of int8 weights, activations bit-serial (one SIP has 1/p of the
        # baseline's peak throughput at p-bit activations; see the Stripes section of the report)
        ("stripes-static", StripesConfig()),
        ("stripes-dynamic-lead", StripesConfig(mode="dynamic")),
        ("stripes-dynamic-lead-trail", StripesConfig(mode="dynamic", trailing=True)),
        ("stripes-parallel", StripesConfig(mode="parallel")),
    ]
