"""Stripes / Dynamic Stripes report section: cycles on the digits traces, speed-ups, area.

Two SIP flavours are evaluated on the same activation codes (the model's ReLU codes, checked >= 0):
an *unsigned* SIP (the natural one for ReLU activations, the headline figures) and a *signed*
(two's complement) SIP, kept for comparison (one extra cycle per non-zero brick, and an
XOR-with-sign detector).

`stripes_report(out_dir)` writes into out_dir/stripes/:
  cycles.csv / cycles.json              per-layer and total SIP cycles at 8 and 16 activation
                                         bits, unsigned and signed SIP (golden
                                         `stripes_eval.evaluate_stripes`)
  stripes.md                             the markdown section (summary, targets, cycles tables,
                                         speed-ups, area)
  area.json / area.csv                   static vs dynamic SIP, detectors, bit-parallel PE, and
                                         area x cycles for the model's test-split inference
  histogram.png                          detected group precisions (unsigned SIP, profiled
                                         fields, G = 16)
  cycles.png                             total cycles per variant, relative to bit-parallel
and returns the markdown lines of the "## Stripes and Dynamic Stripes" section (links relative
to out_dir). Synthesis goes through `quantpe.synth.flow` (cached, parallel; detectors as parts).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from quantpe.core.tables import csv_rows, signed
from quantpe.golden.atomic import ensure_dir, save_figure, write_text
from quantpe.golden.baseline import BaselineConfig
from quantpe.golden.errors import QuantpeError
from quantpe.golden.stripes import StripesConfig
from quantpe.golden.stripes_eval import CYCLE_COLUMNS, evaluate_stripes
from quantpe.rtl.stripes import stripes_detector
from quantpe.synth.flow import part_verilog, synth_many

__all__ = ["stripes_report", "sip_configs"]

A_BITS = (8, 16)
SIPS = (("unsigned", False), ("signed", True))     # headline first
SENS_LANES = (16, 8, 4, 1)
DETECTOR_TARGET_PCT = 5.0
DSTRIPES_GOAL_PCT = 41.0
COLUMN_TITLES = {
    "parallel": "bit-parallel", "serial_full": "bit-serial full", "stripes_lossless": "Stripes lossless",
    "stripes": "Stripes (profiled)", "dyn_lead": "DStripes lead", "dyn_trail": "DStripes lead+trail",
    "dyn_lead_lossless": "DStripes lead (no profile)", "dyn_trail_lossless": "DStripes l+t (no profile)",
}


def sip_configs(a_bits: int, a_signed: bool = True) -> dict:
    """The synthesised variants at `a_bits` (16 lanes, int8 weights, 32-bit accumulator), with
    signed (two's complement) or unsigned activations."""
    base = dict(lanes=16, a_bits=a_bits, w_bits=8, acc_bits=32, a_signed=a_signed)
    return {"static": StripesConfig(**base),
            "dyn_lead": StripesConfig(mode="dynamic", **base),
            "dyn_trail": StripesConfig(mode="dynamic", trailing=True, **base),
            "parallel": StripesConfig(mode="parallel", **base)}


def _detector_job(cfg: StripesConfig):
    """The standalone detector of a dynamic config (`rtl.stripes.stripes_detector`)."""
    return part_verilog(stripes_detector(cfg), top="detector")


def _all_areas(keys) -> dict:
    """{config id or ("detector", config id): µm²} of every design of the section, one batch."""
    cfgs = {c.config_id: c for sip, ab in keys for c in sip_configs(ab, dict(SIPS)[sip]).values()}
    base = BaselineConfig()
    cfgs[base.config_id] = base
    dets = {c.config_id: c for c in cfgs.values() if getattr(c, "mode", "") == "dynamic"}
    jobs = list(cfgs.values()) + [_detector_job(c) for c in dets.values()]
    areas = [a["area_um2"] for a in synth_many(jobs, desc="Stripes designs")]
    names = list(cfgs) + [("detector", k) for k in dets]
    return dict(zip(names, areas))


def _area_rows(a_bits: int, ev, areas: dict) -> dict:
    cfgs = sip_configs(a_bits, ev.a_signed)
    area = {k: areas[c.config_id] for k, c in cfgs.items()}
    det = {k: areas[("detector", cfgs[k].config_id)] for k in ("dyn_lead", "dyn_trail")}
    st = area["static"]
    overhead = {}
    for k in ("dyn_lead", "dyn_trail"):
        overhead[k] = dict(in_situ_um2=area[k] - st, in_situ_pct=100 * (area[k] - st) / st,
                           detector_um2=det[k], detector_pct=100 * det[k] / st,
                           shared16_pct=100 * det[k] / 16 / st)
    t = ev.totals
    work = {"bit-parallel PE": ("parallel", "parallel"), "SIP full word": ("static", "serial_full"),
            "Stripes SIP (profiled)": ("static", "stripes"), "DStripes SIP lead": ("dyn_lead", "dyn_lead"),
            "DStripes SIP lead+trail": ("dyn_trail", "dyn_trail")}
    axc = []
    ref = area["parallel"] * t["parallel"]
    for name, (design, col) in work.items():
        n_match = t[col] / t["parallel"]
        axc.append(dict(variant=name, design=cfgs[design].config_id, area_um2=area[design],
                        cycles=t[col], area_x_cycles=area[design] * t[col],
                        rel_to_parallel=area[design] * t[col] / ref, units_to_match_parallel=n_match,
                        area_of_matching_units_um2=n_match * area[design]))
    return dict(a_bits=a_bits, a_signed=ev.a_signed, area_um2=area,
                config_ids={k: c.config_id for k, c in cfgs.items()},
                detector_um2=det, overhead=overhead, area_x_cycles=axc)


def _plots(evs: dict, sdir: Path) -> None:
    """evs: {(sip, a_bits): StripesEval}; histogram of the unsigned (headline) SIP."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    head = [(ab, ev) for (sip, ab), ev in evs.items() if sip == "unsigned"]
    fig, axes = plt.subplots(1, len(head), figsize=(5 * len(head), 3.4))
    for ax, (ab, ev) in zip(axes, head):
        xs = list(range(1, ab + 1))
        w = 0.4
        ax.bar([x - w / 2 for x in xs], ev.hist_lead[1:], w, label="leading one")
        ax.bar([x + w / 2 for x in xs], ev.hist_trail[1:], w, label="leading + trailing")
        ax.set_xticks(xs)
        ax.set_xlabel("detected group precision (bits)")
        ax.set_ylabel("groups (bricks of 16)")
        ax.set_title(f"unsigned SIP, {ab}-bit activations, profiled p = {list(ev.profile.precisions)}",
                     fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, sdir / "histogram.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    cols = ["serial_full", "stripes", "dyn_lead", "dyn_trail", "dyn_lead_lossless"]
    w = 0.8 / len(evs)
    for i, ((sip, ab), ev) in enumerate(evs.items()):
        ax.bar([c + i * w for c in range(len(cols))], [ev.totals[c] / ev.totals["parallel"] for c in cols],
               w, label=f"{sip} SIP, {ab}-bit activations")
    ax.set_xticks([c + w * (len(evs) - 1) / 2 for c in range(len(cols))])
    ax.set_xticklabels([COLUMN_TITLES[c] for c in cols], fontsize=7)
    ax.set_ylabel("SIP cycles / bit-parallel cycles")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, sdir / "cycles.png", dpi=110)
    plt.close(fig)


def _speedups(ev, lock16, sens) -> dict:
    return dict(
        dstripes_lead_over_stripes=ev.speedup("stripes", "dyn_lead"),
        dstripes_trail_over_stripes=ev.speedup("stripes", "dyn_trail"),
        stripes_over_serial_full=ev.speedup("serial_full", "stripes"),
        stripes_slowdown_vs_parallel=ev.speedup("stripes", "parallel"),
        dstripes_lossless_over_serial_full=ev.speedup("serial_full", "dyn_lead_lossless"),
        lockstep16_dstripes_trail_over_stripes=lock16.speedup("stripes", "dyn_trail"),
        lanes_sensitivity={L: e.speedup("stripes", "dyn_trail") for L, e in sens.items()})


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


@dataclass
class StripesFigures:
    """Everything the Stripes section reports, as data: per (SIP, a_bits) the golden evaluation,
    the area rows and the speed-ups; the baseline PE; the smallest activation code seen."""
    evs: dict
    areas: dict
    speed: dict
    base_pe: dict
    min_code: int


def stripes_figures() -> StripesFigures:
    """Evaluate every SIP and activation width on the digits MLP's traces and synthesise the
    SIPs (cached); QuantpeError if a trace holds a negative code."""
    keys = [(sip, ab) for sip, _ in SIPS for ab in A_BITS]
    signed_of = dict(SIPS)
    evs = {(sip, ab): evaluate_stripes(ab, a_signed=signed_of[sip]) for sip, ab in keys}
    sens = {k: {L: evaluate_stripes(k[1], lanes=L, group=L, a_signed=signed_of[k[0]]) for L in SENS_LANES}
            for k in keys}
    lock16 = {k: evaluate_stripes(k[1], lockstep=16, a_signed=signed_of[k[0]]) for k in keys}
    all_areas = _all_areas(keys)
    areas = {k: _area_rows(k[1], evs[k], all_areas) for k in keys}
    base_pe = dict(config_id=BaselineConfig().config_id, area_um2=all_areas[BaselineConfig().config_id])
    speed = {k: _speedups(evs[k], lock16[k], sens[k]) for k in keys}
    min_code = min(l_["min_code"] for ev in evs.values() for l_ in ev.layers)
    if min_code < 0:            # evaluate_stripes already refuses this for the unsigned SIP
        raise QuantpeError(f"activation trace holds the negative code {min_code}")
    return StripesFigures(evs, areas, speed, base_pe, min_code)


def write_stripes_data(fig: StripesFigures, sdir: Path) -> None:
    """The data files of the section: cycles.csv, cycles.json, area.json, area.csv and the plots."""
    evs, areas, speed, base_pe = fig.evs, fig.areas, fig.speed, fig.base_pe
    rows = []
    for (sip, ab), ev in evs.items():
        for l_ in ev.layers:
            rows.append([sip, ab, l_["layer"], l_["inputs"], l_["outputs"], l_["rows"], l_["bricks"],
                         l_["precision"], *l_["window"], l_["min_code"], l_["nonzero_bricks"]]
                        + [l_[c] for c in CYCLE_COLUMNS])
        rows.append([sip, ab, "total"] + [""] * 9 + [ev.totals[c] for c in CYCLE_COLUMNS])
    write_text(sdir / "cycles.csv", csv_rows(rows, ["sip", "a_bits", "layer", "inputs", "outputs", "samples", "bricks",
                                                    "precision", "window_msb", "window_lsb", "min_code",
                                                    "nonzero_bricks", *CYCLE_COLUMNS]))
    js = {sip: {} for sip, _ in SIPS}
    for (sip, ab), ev in evs.items():
        js[sip][ab] = dict(
            a_signed=ev.a_signed,
            profile=dict(precisions=ev.profile.precisions, independent=ev.profile.independent,
                         bumps=ev.profile.bumps, reference=ev.profile.reference,
                         accuracy=ev.profile.accuracy, threshold=ev.profile.threshold,
                         evaluations=ev.profile.evaluations, tolerance=ev.tolerance, split="train"),
            msbs=ev.msbs, windows=ev.windows, test_accuracy_full=ev.test_accuracy_full,
            test_accuracy_profiled=ev.test_accuracy_profiled, layers=ev.layers,
            totals=ev.totals, speedups=speed[(sip, ab)], hist_lead=ev.hist_lead,
            hist_trail=ev.hist_trail)
    write_text(sdir / "cycles.json", json.dumps(dict(headline="unsigned", by_sip=js), indent=2) + "\n")
    by_sip = {sip: {ab: areas[(sip, ab)] for ab in A_BITS} for sip, _ in SIPS}
    write_text(sdir / "area.json", json.dumps(dict(headline="unsigned", by_sip=by_sip, baseline_pe=base_pe),
                                          indent=2) + "\n")
    rows = [[sip, ab, r["variant"], r["design"], f"{r['area_um2']:.1f}", r["cycles"], f"{r['area_x_cycles']:.4g}",
             f"{r['rel_to_parallel']:.3f}", f"{r['units_to_match_parallel']:.2f}"]
            for (sip, ab), a in areas.items() for r in a["area_x_cycles"]]
    write_text(sdir / "area.csv", csv_rows(rows, ["sip", "a_bits", "variant", "design", "area_um2", "cycles",
                                                  "area_x_cycles", "rel_to_parallel", "units_to_match_parallel"]))
    _plots(evs, sdir)


def _intro_markdown(min_code: int) -> list[str]:
    """The section's heading and the description of the traces, SIPs and profile."""
    return ["## Stripes and Dynamic Stripes", "",
          "Digits MLP (64-64-32-10), bit-exact integer model with 8- or 16-bit activation codes and "
          "int8 weights; traces = each layer's integer inputs on the 360-image test split. Every "
          f"trace value is >= 0 (checked: smallest code {min_code} over all layers, both widths, "
          "full-precision and profiled traces; the calibration traces are checked too): the codes "
          "are ReLU outputs in [0, 2^(a_bits-1) - 1], valid as unsigned a_bits-bit codes. Two SIPs "
          "process the same codes: an **unsigned SIP** (precision = highest set bit + 1; the "
          "natural configuration for ReLU activations, used for the headline figures) and a "
          "**signed SIP** (two's complement; its window needs the always-0 sign bit, one cycle "
          "more on every brick that is not all zero, and its detector XORs with the sign).",
          "",
          "One SIP of 16 lanes computes one output neuron over ceil(K/16) bricks; every neuron of "
          "every sample is counted (SIP cycles = outputs x sum over samples and bricks of the "
          "brick's cycles); a tile of M' SIPs sharing an activation brick divides every column "
          "by M', so the ratios are those of a Stripes tile.",
          "",
          "Profile: per layer, the window [msb..msb-p+1] below the covering msb of the training split "
          "(msb = a_bits-1 signed, a_bits-2 unsigned, for every layer here), bits below dropped "
          "(truncation toward -inf), bits above ignored (= `window_value`, what the static SIP "
          "computes); p found by `profile_precisions` on the training split with tolerance 0 (no "
          "accuracy loss, the paper's 100% relative accuracy). For non-negative codes the unsigned "
          "window of p bits equals the signed window of p + 1 bits (same lsb), so the unsigned "
          "profile is the signed one minus one bit per layer at the same accuracy (derived and "
          "tested). Dynamic Stripes runs the detector (G = 16) on the profiled p-bit activations "
          "(exact, so accuracy = the profile's); \"no profile\" runs it on the raw codes.", ""]


def _summary_markdown(fig: StripesFigures) -> list[str]:
    """The summary tables (cycles, unsigned over signed, detector area) and the targets."""
    evs, areas, speed = fig.evs, fig.areas, fig.speed
    goal = 1 + DSTRIPES_GOAL_PCT / 100
    md = _intro_markdown(fig.min_code) + ["### Summary", "",
          "| SIP | a_bits | profiled p | test acc. | bit-parallel | Stripes | DStripes lead | "
          "DStripes lead+trail | DStripes lead over Stripes | DStripes l+t over Stripes | Stripes over full-word serial |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (sip, ab), ev in evs.items():
        t, s = ev.totals, speed[(sip, ab)]
        md.append(f"| {sip} | {ab} | {list(ev.profile.precisions)} | {ev.test_accuracy_profiled:.4f} | "
                  f"{t['parallel']:,} | {t['stripes']:,} | {t['dyn_lead']:,} | {t['dyn_trail']:,} | "
                  f"{signed(100 * (s['dstripes_lead_over_stripes'] - 1), 1, '%')} | "
                  f"{signed(100 * (s['dstripes_trail_over_stripes'] - 1), 1, '%')} | {s['stripes_over_serial_full']:.2f}x |")
    md += ["", "Unsigned over signed SIP (cycles of the signed SIP / cycles of the unsigned one): "
           + "; ".join(f"{ab}-bit: Stripes {evs[('signed', ab)].totals['stripes'] / evs[('unsigned', ab)].totals['stripes']:.3f}x, "
                       f"DStripes lead {evs[('signed', ab)].totals['dyn_lead'] / evs[('unsigned', ab)].totals['dyn_lead']:.3f}x, "
                       f"lead+trail {evs[('signed', ab)].totals['dyn_trail'] / evs[('unsigned', ab)].totals['dyn_trail']:.3f}x"
                       for ab in A_BITS) + ".", "",
           "| SIP | a_bits | static SIP (µm²) | lead-only detector overhead | lead+trail detector overhead "
           "| target <= 5%: lead | lead+trail |", "|---|---|---|---|---|---|---|"]
    for (sip, ab), a in areas.items():
        ov = a["overhead"]
        md.append(f"| {sip} | {ab} | {a['area_um2']['static']:,.1f} | {ov['dyn_lead']['in_situ_um2']:+,.1f} µm² "
                  f"({ov['dyn_lead']['in_situ_pct']:+.1f}%) | {ov['dyn_trail']['in_situ_um2']:+,.1f} µm² "
                  f"({ov['dyn_trail']['in_situ_pct']:+.1f}%) | "
                  f"{_met(ov['dyn_lead']['in_situ_pct'] <= DETECTOR_TARGET_PCT)} | "
                  f"{_met(ov['dyn_trail']['in_situ_pct'] <= DETECTOR_TARGET_PCT)} |")

    variants = [(sip, ab, k, name) for (sip, ab) in areas
                for k, name in (("dyn_lead", "lead"), ("dyn_trail", "lead+trail"))]

    def cfg_list(pred) -> str:
        got = [f"{sip} {ab}-bit {name}" for sip, ab, k, name in variants if pred(sip, ab, k)]
        return ", ".join(got) if got else "none"

    def det_ok(sip, ab, k, which="in_situ_pct"):
        return areas[(sip, ab)]["overhead"][k][which] <= DETECTOR_TARGET_PCT

    def ds_gain(sip, ab, k):
        return speed[(sip, ab)]["dstripes_lead_over_stripes" if k == "dyn_lead"
                                else "dstripes_trail_over_stripes"]
    best = max(variants, key=lambda v: ds_gain(*v[:3]))
    md += ["", "**Targets.**", "",
           f"- Detector overhead <= {DETECTOR_TARGET_PCT:.0f}% of the SIP (per SIP: dynamic SIP area minus "
           f"static SIP area of the same signedness and width): met by {cfg_list(det_ok)}; NOT met by "
           f"{cfg_list(lambda *v: not det_ok(*v))}. Measured instead as the standalone detector "
           f"over the static SIP: met by {cfg_list(lambda *v: det_ok(*v, 'detector_pct'))}. Shared by "
           f"the 16 SIPs of a tile column: met by {cfg_list(lambda *v: det_ok(*v, 'shared16_pct'))}.",
           f"- Dynamic Stripes >= +{DSTRIPES_GOAL_PCT:.0f}% over Stripes on the real traces: "
           + (f"met by {cfg_list(lambda *v: ds_gain(*v) >= goal)}; NOT met by "
              f"{cfg_list(lambda *v: ds_gain(*v) < goal)}" if any(ds_gain(*v[:3]) >= goal for v in variants)
              else f"NOT met by any configuration (best: {best[0]} {best[1]}-bit {best[3]}, "
                   f"{signed(100 * (ds_gain(*best[:3]) - 1), 1, '%')})")
           + " (see \"why the dynamic gain is small\" below).",
           "- Golden vs RTL cycle counts and results: checked by the cocotb testbench, not in this report.",
           ""]
    return md


def _configuration_markdown(fig: StripesFigures) -> list[str]:
    """One cycles table per SIP and activation width, with its ratios."""
    evs, speed = fig.evs, fig.speed
    goal = 1 + DSTRIPES_GOAL_PCT / 100
    md = []
    show = ["parallel", "serial_full", "stripes", "dyn_lead", "dyn_trail", "dyn_lead_lossless"]
    for (sip, ab), ev in evs.items():
        p = ev.profile
        md += [f"### {sip.capitalize()} SIP, {ab}-bit activations"
               + (" (headline)" if sip == "unsigned" else " (for comparison)"), "",
               f"Profiled precisions {list(p.precisions)} (windows {[list(x) for x in ev.windows]}); "
               f"training accuracy {p.accuracy:.4f} (full precision {p.reference:.4f}); test accuracy "
               f"{ev.test_accuracy_profiled:.4f} (full precision {ev.test_accuracy_full:.4f}).", "",
               "| layer | K x M | p | " + " | ".join(COLUMN_TITLES[c] for c in show) + " |",
               "|---|---|---|" + "---|" * len(show)]
        for l_ in ev.layers:
            md.append(f"| {l_['layer']} | {l_['inputs']} x {l_['outputs']} | {l_['precision']} | "
                      + " | ".join(f"{l_[c]:,}" for c in show) + " |")
        md.append("| total | | | " + " | ".join(f"{ev.totals[c]:,}" for c in show) + " |")
        s = speed[(sip, ab)]
        md += ["", f"Dynamic Stripes over Stripes: leading one {signed(100 * (s['dstripes_lead_over_stripes'] - 1), 1, '%')}, "
                   f"leading + trailing {signed(100 * (s['dstripes_trail_over_stripes'] - 1), 1, '%')} "
                   f"(goal +{DSTRIPES_GOAL_PCT:.0f}%: {_met(s['dstripes_trail_over_stripes'] >= goal)}). "
                   f"Stripes over a full-word bit-serial SIP: {s['stripes_over_serial_full']:.2f}x; "
                   f"one Stripes SIP needs {s['stripes_slowdown_vs_parallel']:.2f}x the cycles of the "
                   f"bit-parallel PE. Without a profile, Dynamic Stripes (leading one) is "
                   f"{s['dstripes_lossless_over_serial_full']:.3f}x the full-word SIP. With 16 samples in "
                   f"lockstep: lead+trail over Stripes {s['lockstep16_dstripes_trail_over_stripes']:.3f}x. "
                   "Brick size sensitivity (lanes = group = L, leading + trailing over Stripes): "
                   + ", ".join(f"L={L}: {v:.3f}x" for L, v in s["lanes_sensitivity"].items()) + ".", ""]
        if sip == "unsigned":
            md += ["Why the dynamic gain is small: the share of detection groups whose leading-one "
                   "precision equals the layer's profiled precision is "
                   + ", ".join(f"layer {l_['layer']} {100 * l_['groups_at_p'] / l_['groups']:.0f}%" for l_ in ev.layers)
                   + "; bricks that are all zero: "
                   + ", ".join(f"layer {l_['layer']} {l_['rows'] * l_['bricks'] - l_['nonzero_bricks']}"
                               for l_ in ev.layers)
                   + ". A 16-activation brick of this MLP nearly always holds one activation near the "
                   "layer's maximum (layer 0: every 16-pixel brick, two image rows, holds a pixel of at "
                   "least half intensity; the profile has already removed the low-order bits, so "
                   "trailing-one detection finds nothing more), whereas the paper's CNN layers have many "
                   "small or zero activations.", ""]
    return md


def _area_markdown(fig: StripesFigures) -> list[str]:
    """The area tables and the area x cycles comparison."""
    areas, base_pe = fig.areas, fig.base_pe
    md = ["![detected precisions](stripes/histogram.png)", "", "![cycles](stripes/cycles.png)", "",
           "### Area (Yosys, built-in liberty) and area x cycles", ""]
    for (sip, ab), a in areas.items():
        ar, ov = a["area_um2"], a["overhead"]
        md += [f"**{sip.capitalize()} SIP, {ab}-bit activations**: static SIP {ar['static']:,.1f} µm², "
               f"dynamic lead {ar['dyn_lead']:,.1f} µm², dynamic lead+trail {ar['dyn_trail']:,.1f} µm², "
               f"bit-parallel PE (same ports, {sip} activations) {ar['parallel']:,.1f} µm².", "",
               "| detector | SIP delta (µm²) | % of static SIP | detector alone (µm²) | % | shared by 16 SIPs |",
               "|---|---|---|---|---|---|"]
        for k, name in (("dyn_lead", "leading one"), ("dyn_trail", "leading + trailing")):
            o = ov[k]
            md.append(f"| {name} | {o['in_situ_um2']:,.1f} | {o['in_situ_pct']:.1f}% | {o['detector_um2']:,.1f} "
                      f"| {o['detector_pct']:.1f}% | {o['shared16_pct']:.2f}% |")
        md += ["", "| variant | area (µm²) | cycles | area x cycles / bit-parallel | units to match 1 bit-parallel PE |",
               "|---|---|---|---|---|"]
        for r in a["area_x_cycles"]:
            md.append(f"| {r['variant']} | {r['area_um2']:,.0f} | {r['cycles']:,} | {r['rel_to_parallel']:.3f} "
                      f"| {r['units_to_match_parallel']:.2f} |")
        md.append("")
    md += [f"For scale: the project's baseline bit-parallel PE ({base_pe['config_id']}, int8 x int8, "
           f"16 lanes) is {base_pe['area_um2']:,.0f} µm²; the bit-parallel rows above are the SIP's twin "
           "with the same ports, handshake and activation signedness. In the paper one detector serves a "
           "whole tile column (all SIPs that consume the same activation brick); sharing it across 16 "
           "SIPs divides its cost by 16 (\"shared by 16 SIPs\" column).", ""]
    return md


def stripes_markdown(fig: StripesFigures) -> list[str]:
    """The markdown section lines of the figures."""
    return _summary_markdown(fig) + _configuration_markdown(fig) + _area_markdown(fig)


def stripes_report(out_dir: Path) -> list[str]:
    """Write out_dir/stripes/* (module docstring) and return the markdown section lines."""
    t0 = time.perf_counter()
    sdir = ensure_dir(Path(out_dir) / "stripes", "report folder")
    fig = stripes_figures()
    write_stripes_data(fig, sdir)
    md = stripes_markdown(fig)
    write_text(sdir / "stripes.md", "\n".join(md) + "\n")
    print(f"stripes report done in {time.perf_counter() - t0:.1f} s", flush=True)
    return md
