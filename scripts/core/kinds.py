"""The registry of design kinds: the one place that says what a kind is made of.

A row names, by import path (loaded on first use, so `import quantpe.core.kinds` is cheap):

- ``config``: the golden config class (a frozen `DesignConfig` subclass; its `kind` is the row's
  name);
- ``component``: the RTL builder, ``cfg -> amaranth Component``;
- ``stimulus``: the testbench stimulus, ``(cfg, cycles, seed) -> (inputs, coverage)`` with
  ``inputs`` a ``{input port: per-cycle array}`` and ``coverage`` a ``{corner: count}``;
- ``expected``: the golden expected outputs, ``(cfg, inputs) -> {output port: per-cycle array}``
  (every output port, every cycle: the scoreboard compares all of them);
- ``report``: the report section, ``(out_dir) -> markdown lines``, or None;
- ``plan``: the `quantpe.tb.plan.RegressionPlan` that tests/test_regression.py runs (configs,
  simulators, cycles, required corners), or None.

generate, sim, synth, characterize, report, bench and the tests look kinds up here. A new
technique is one golden module, one rtl module, one tb module and one row below.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass

from quantpe.golden.config import DesignConfig
from quantpe.golden.errors import ConfigError

__all__ = ["Kind", "KINDS", "kind_of", "config_class", "config_from_dict", "build_component",
           "stimulus_for", "expected_outputs"]


@dataclass(frozen=True)
class Kind:
    name: str
    config: str
    component: str
    stimulus: str
    expected: str
    report: str | None = None
    plan: str | None = None

    def load(self, what: str):
        """The object named by field `what` ("config", "component", ...)."""
        path = getattr(self, what)
        if path is None:
            return None
        module, _, attr = path.partition(":")
        return getattr(importlib.import_module(module), attr)


KINDS: dict[str, Kind] = {k.name: k for k in [
    Kind("baseline", config="quantpe.golden.baseline:BaselineConfig",
         component="quantpe.rtl.baseline:BaselinePE",
         stimulus="quantpe.tb.stimulus:baseline_stimulus",
         expected="quantpe.golden.baseline:baseline_schedule_ports",
         plan="quantpe.tb.stimulus:BASELINE_PLAN"),
    Kind("strum", config="quantpe.golden.strum_config:StrumConfig",
         component="quantpe.rtl.strum:strum_pe",
         stimulus="quantpe.tb.strum_stimulus:strum_stimulus",
         expected="quantpe.golden.strum:strum_schedule_ports",
         report="quantpe.report.strum:strum_report", plan="quantpe.tb.strum_stimulus:STRUM_PLAN"),
    Kind("approxmul", config="quantpe.golden.approx:ApproxMulConfig",
         component="quantpe.rtl.approx:approx_multiplier",
         stimulus="quantpe.tb.approx_stimulus:approx_mul_stimulus",
         expected="quantpe.golden.approx:approx_mul_ports",
         report="quantpe.report.approx:approx_report"),
    Kind("approxpe", config="quantpe.golden.approx_pe:ApproxPEConfig",
         component="quantpe.rtl.approx_pe:approx_pe",
         stimulus="quantpe.tb.approx_pe_stimulus:approx_pe_stimulus",
         expected="quantpe.golden.approx_pe:approx_pe_schedule_ports",
         plan="quantpe.tb.approx_pe_stimulus:APPROX_PE_PLAN"),
    Kind("stripes", config="quantpe.golden.stripes:StripesConfig",
         component="quantpe.rtl.stripes:stripes_pe",
         stimulus="quantpe.tb.stripes_stimulus:stripes_stimulus",
         expected="quantpe.golden.stripes:stripes_schedule_ports",
         report="quantpe.report.stripes:stripes_report", plan="quantpe.tb.stripes_stimulus:STRIPES_PLAN"),
    Kind("requant", config="quantpe.golden.requant:RequantConfig",
         component="quantpe.rtl.requant:Requantizer",
         stimulus="quantpe.tb.requant_stimulus:requant_stimulus",
         expected="quantpe.golden.requant:requant_schedule_ports", report="quantpe.report.fxp:fxp_report",
         plan="quantpe.tb.requant_stimulus:REQUANT_PLAN"),
    Kind("array", config="quantpe.golden.array:ArrayConfig",
         component="quantpe.rtl.array:ws_array",
         stimulus="quantpe.tb.array_stimulus:array_stimulus",
         expected="quantpe.golden.array:array_schedule_ports",
         plan="quantpe.tb.array_stimulus:ARRAY_PLAN"),
    Kind("sip_tile", config="quantpe.golden.sip_tile:SipTileConfig",
         component="quantpe.rtl.sip_tile:sip_tile",
         stimulus="quantpe.tb.sip_tile_stimulus:sip_tile_stimulus",
         expected="quantpe.golden.sip_tile:sip_tile_schedule_ports",
         plan="quantpe.tb.sip_tile_stimulus:SIP_TILE_PLAN"),
    Kind("dsip_tile", config="quantpe.golden.dsip_tile:DSipTileConfig",
         component="quantpe.rtl.dsip_tile:dsip_tile",
         stimulus="quantpe.tb.dsip_tile_stimulus:dsip_tile_stimulus",
         expected="quantpe.golden.dsip_tile:dsip_tile_schedule_ports",
         plan="quantpe.tb.dsip_tile_stimulus:DSIP_TILE_PLAN"),
]}


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown design kind {name!r} (known: {', '.join(sorted(KINDS))})") from None


def config_class(name: str) -> type[DesignConfig]:
    return kind_of(name).load("config")


def config_from_dict(d: dict) -> DesignConfig:
    """Inverse of `DesignConfig.to_dict`; unknown kinds or fields raise ConfigError."""
    if not isinstance(d, dict):
        raise ConfigError("a design config must be a JSON object")
    d = dict(d)
    name = d.pop("kind", None)
    if not isinstance(name, str):
        raise ConfigError(f"a design config needs a \"kind\" (known: {', '.join(sorted(KINDS))})")
    cls = config_class(name)
    names = {f.name for f in dataclasses.fields(cls)}
    extra = set(d) - names
    if extra:
        raise ConfigError(f"{name}: unknown field(s) {', '.join(sorted(extra))}")
    return cls(**d)


def build_component(cfg: DesignConfig):
    """The Amaranth component implementing `cfg`."""
    return kind_of(cfg.kind).load("component")(cfg)


def stimulus_for(cfg: DesignConfig, cycles: int, seed: int):
    """(inputs, coverage) of the kind's constrained-random + corners stimulus."""
    if cycles < 1:
        raise ConfigError(f"cycles must be >= 1, got {cycles}")
    return kind_of(cfg.kind).load("stimulus")(cfg, cycles, seed)


def expected_outputs(cfg: DesignConfig, inputs: dict) -> dict:
    """Per-cycle expected value of every output port, from the golden model of `cfg`."""
    return kind_of(cfg.kind).load("expected")(cfg, inputs)
