"""Report section "Real models": every technique on the digits MLP and CNN (and a user's model).

`models_report(out_dir, models=("mlp", "cnn"), extra=())` runs `quantpe.golden.model_eval.
evaluate_model` (bit-exact integer inference throughout) on each model, writes
out_dir/models/<name>.json, and returns markdown lines for a "## Real models" section: accuracy of
StruM and of the approximate multipliers next to INT8 and float per model, StruM's padded storage
per layer, and Stripes / Dynamic Stripes cycles on the conv layers with the per-layer profile.
`extra` holds user models as (name, graph, x_cal, y_cal, x, y) (`quantpe report --model FILE`).
"""
from __future__ import annotations

import json
from pathlib import Path

from quantpe.core.jobs import parallel_map
from quantpe.core.tables import markdown_table
from quantpe.explore.models import resolve_model
from quantpe.golden.atomic import ensure_dir, write_text
from quantpe.golden.model_eval import evaluate_model

__all__ = ["models_report", "models_figures", "write_models_data", "models_markdown", "REFERENCE"]

REFERENCE = ("mlp", "cnn")


def _evaluate(spec) -> dict:
    name, graph, xc, yc, x, y = resolve_model(spec) if isinstance(spec, str) else spec
    return evaluate_model(graph, xc, yc, x, y, name=name)


def _table(rows: list) -> list[str]:
    return markdown_table(rows, list(dict.fromkeys(k for r in rows for k in r)))


def _dynamic_gain(results: list) -> str:
    cnn = next((r for r in results if r["model"] == "cnn"), None)
    if cnn is None:
        return ""
    gain = cnn["stripes"]["speedups"]["dstripes_lead_over_stripes"] - 1
    lock = cnn["stripes_lockstep"]["speedups"]["dstripes_lead_over_stripes"] - 1
    return (f"The paper reports Dynamic Stripes +41% over Stripes on ImageNet CNNs; on the digits CNN's conv "
            f"layers it gains {gain * 100:+.0f}% when every output column runs at its own pace and "
            f"{lock * 100:+.0f}% when {cnn['stripes_lockstep']['lockstep']} windows wait for the slowest.")


def _accuracy_rows(results: list) -> list:
    rows = []
    for r in results:
        row = {"model": r["model"], "test samples": r["n_test"]}
        row.update({k: f"{v:.4f}" for k, v in r["strum"]["accuracy"].items()})
        row.update({e["name"]: f"{e['accuracy']:.4f}" for e in r["approx"]})
        rows.append(row)
    return rows


def _strum_rows(results: list) -> list:
    return [{"model": r["model"], "layer": row["layer"], "variant": row["variant"],
             "K": row["shape"][1], "padded K": row["padded_k"], "bits/weight": f"{row['bits_per_weight']:.2f}",
             "weight SQNR dB": f"{row['sqnr_db']:.2f}",
             "note": "padded format costs more than INT8: keep the layer INT8" if row["worse_than_int8"] else ""}
            for r in results for row in r["strum"]["layers"]]


def _stripes_rows(results: list) -> list:
    rows = []
    for r in results:
        for label, st in (("independent columns", r["stripes"]), (f"lockstep {r['stripes_lockstep']['lockstep']}",
                                                                   r["stripes_lockstep"])):
            sp = st["speedups"]
            rows.append({"model": r["model"], "layers": ", ".join(st["selected"]), "windows": label,
                         "profile": str(st["profile"]["precisions"]),
                         "DStripes / Stripes": f"{sp['dstripes_lead_over_stripes']:.3f}x",
                         "with trailing": f"{sp['dstripes_trail_over_stripes']:.3f}x",
                         "lossless": f"{sp['dstripes_lossless_over_stripes_lossless']:.3f}x",
                         "Stripes over 8-bit serial": f"{sp['stripes_over_serial_full']:.3f}x",
                         "Stripes cycles / bit-parallel": f"{sp['stripes_cycles_vs_parallel']:.2f}"})
    return rows


def _layer_rows(results: list) -> list:
    return [{"model": r["model"], "layer": row["layer"], "groups": row["groups"], "rows": row["rows"],
             "bricks": row["bricks"], "lane use": f"{row['lane_use']:.2f}", "profiled p": row["precision"],
             "bit-parallel": f"{row['parallel']:,}", "Stripes": f"{row['stripes']:,}",
             "DStripes": f"{row['dyn_lead']:,}"}
            for r in results for row in r["stripes"]["layers"]]


def models_figures(models=None, extra=()) -> list[dict]:
    """Every technique on each model (default `REFERENCE`, in parallel) and on each of `extra`:
    one result dict per model (`quantpe.golden.model_eval.evaluate_model`'s)."""
    results = parallel_map(_evaluate, list(REFERENCE if models is None else models), desc="models")
    return results + [_evaluate(m) for m in extra]


def write_models_data(results: list, d: Path) -> None:
    """models/<name>.json per model."""
    for r in results:
        write_text(d / f"{r['model']}.json", json.dumps(r, indent=1, default=float) + "\n")


def models_markdown(results: list) -> list[str]:
    """The markdown section lines of the results."""
    sc = results[0]["strum"]["config"] if results else {"block": 16, "k": 8}
    return ["## Real models: every technique on the digits MLP and CNN", "",
            "Bit-exact integer inference (per-channel INT8 weights, per-tensor activations, calibrated on the "
            "training split) on the 360 test images; each technique replaces every weight layer's arithmetic. "
            "Convolutions are lowered once (`quantpe.golden.lowering`: input channels fastest, then kernel "
            "taps) for every technique. Per-model figures: `models/<name>.json`; one model from the command "
            "line: `quantpe model techniques --model cnn`; your own: `quantpe report --only models --model "
            "FILE.onnx --model-inputs X.npy --model-labels Y.npy`.", "",
            f"### Accuracy: StruM (K={sc['k']} of B={sc['block']} high-precision weights per block) and 8x8 "
            "approximate multipliers", "", *_table(_accuracy_rows(results)), "",
            "StruM's storage per weight layer (reduction lengths that are not a multiple of the block are "
            "zero-padded, weights and activations alike):", "", *_table(_strum_rows(results)), "",
            "### Stripes and Dynamic Stripes (16 lanes, detection groups of 16, unsigned activations)", "",
            "Profiles keep 100% of the full-precision accuracy on the calibration split. " + _dynamic_gain(results),
            "", *_table(_stripes_rows(results)), "",
            "Cycles per layer (independent columns, the whole test split):", "",
            *_table(_layer_rows(results)), ""]


def models_report(out_dir, models=None, extra=()) -> list[str]:
    """Evaluate the models (default `REFERENCE`), write out_dir/models/*.json, return the
    section's markdown lines."""
    d = ensure_dir(Path(out_dir) / "models", "report folder")
    results = models_figures(models, extra)
    write_models_data(results, d)
    return models_markdown(results)
