"""The report's studies: long sections `quantpe report` (`make report`) does not rerun.

A study runs with `quantpe report --only NAME` or `--all`. Its results stay in the report folder
(out/<folder>/, committed for reports/), its markdown in out/<folder>/<markdown> with links
relative to that folder, and out/studies.json records, per study, the report-cache inputs digest
(every quantpe source, the model data, the tool versions, the liberty) it was built from, the
environment knobs set for it and its time. The default run puts each study's committed markdown into README.md between
`<!-- study:NAME -->` markers (or a link, for the studies that keep their own page), with one
line saying whether it was built from the same inputs as the run. A `--only` run of a study
replaces its block in an existing README.md, so README.md never carries an older copy than the
study's folder.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from quantpe.golden.atomic import write_text

__all__ = ["Study", "STUDIES", "STAMPS", "record_study", "study_status", "study_block", "replace_study_block",
           "to_folder_links", "from_folder_links"]

#: the stamps file in the report folder
STAMPS = "studies.json"


@dataclass(frozen=True)
class Study:
    """folder: its results under the report folder; markdown: its section's file there;
    embed: README.md carries the section itself (else one line with a link to it);
    cold: its measured cold time, as README.md states it."""
    folder: str
    markdown: str
    embed: bool
    cold: str
    what: str


#: name (= the report section's name) -> study; the order is the README's
STUDIES = {
    "approxmul": Study("approx", "section.md", True, "about 5 minutes",
                       "the approximate-multiplier design space: 830 variants characterised exhaustively and "
                       "synthesised, fronts, budgets, RTL = golden on every input pair of the kept ones"),
    "requant": Study("fxp", "fxp.md", True, "about 1.5 minutes",
                     "fixed point and stochastic rounding: the requantisers' area and rounding statistics and "
                     "33 limited-precision training runs"),
    "plans": Study("plans", "section.md", False, "about 45 minutes",
                   "the per-layer plans: QuantuneV2 and FAMES against greedy, brute-force and NSGA-II search "
                   "on the digits CNN, and FAMES against a 2,000-evaluation NSGA-II (started from the exact "
                   "plan) on the 51-layer digits ResNet"),
    "energy": Study("energy", "energy.md", False, "about 17 minutes",
                    "the full energy section: gate-level power on longer real traces, glitches and the 8x8 "
                    "multipliers"),
    "realmodels": Study("realmodels", "section.md", False, "about 30 minutes",
                        "every technique on four pretrained ONNX models that PyPI wheels ship (MobileNetV3, "
                        "PP-LCNet, the PP-OCRv6 text recogniser with GELU transformer blocks, a CSPDarknet detector), on real inputs"),
}

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _relative(link: str) -> bool:
    return not (":" in link or link.startswith(("#", "/")))


def to_folder_links(text: str, folder: str) -> str:
    """Markdown written for the report folder -> the same with links relative to out/<folder>."""
    return _LINK.sub(lambda m: f"]({os.path.relpath(m[1], folder)})" if _relative(m[1]) else m[0], text)


def from_folder_links(text: str, folder: str) -> str:
    """The inverse of `to_folder_links`."""
    return _LINK.sub(lambda m: f"]({os.path.normpath(os.path.join(folder, m[1]))})" if _relative(m[1])
                     else m[0], text)


def _stamps(out: Path) -> dict:
    try:
        data = json.loads((Path(out) / STAMPS).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def record_study(out: Path, name: str, lines: list[str], seconds: float, digest: str,
                 knobs: dict | None = None) -> None:
    """Write a study's markdown (embedded studies; the others write their own page) and its stamp:
    `digest` (the inputs without the knobs) and the `knobs` set for the run."""
    study = STUDIES[name]
    if study.embed:
        write_text(Path(out) / study.folder / study.markdown,
                   to_folder_links("\n".join(lines), study.folder).rstrip("\n") + "\n")
    stamps = _stamps(out)
    stamps[name] = {"inputs_digest": digest, "seconds": round(seconds, 1), "knobs": dict(knobs or {})}
    write_text(Path(out) / STAMPS, json.dumps(stamps, indent=1, sort_keys=True) + "\n")


def study_status(out: Path, name: str, digest: str) -> str:
    """"missing" (no markdown in its folder), "unstamped", "same" (stamped with `digest`) or "other"."""
    study = STUDIES[name]
    if not (Path(out) / study.folder / study.markdown).is_file():
        return "missing"
    stamp = _stamps(out).get(name)
    if stamp is None:
        return "unstamped"
    return "same" if stamp.get("inputs_digest") == digest else "other"


def _provenance(out: Path, name: str, digest: str) -> str:
    status = study_status(out, name, digest)
    stamp = _stamps(out).get(name)
    if status == "unstamped":
        return "no stamp in studies.json says what it was built from"
    if status == "same":
        knobs = stamp.get("knobs") or {}
        with_knobs = f" with {', '.join(f'{k}={v}' for k, v in sorted(knobs.items()))}" if knobs else ""
        return (f"built from the same sources, data and tools as this run{with_knobs}, in "
                f"{stamp.get('seconds', 0):.0f} s")
    return (f"**built from other sources, data or tools than this run's** (its figures may differ: rerun "
            f"`quantpe report --only {name}`)")


def study_block(out: Path, name: str, digest: str) -> list[str]:
    """README.md's lines for a study the run did not run (between its markers)."""
    study = STUDIES[name]
    page = Path(out) / study.folder / study.markdown
    path = f"{study.folder}/{study.markdown}"
    head = (f"_Study, not rerun by `make report`: {study.what}; `quantpe report --only {name}`, "
            f"{study.cold} cold. ")
    if study_status(out, name, digest) == "missing":
        body = [head + f"Not built in this folder yet ({path} is missing)._"]
    elif study.embed:
        section = from_folder_links(page.read_text(), study.folder).rstrip("\n").split("\n")
        body = [head + f"Below: {path} as committed, {_provenance(out, name, digest)}._", ""] + section
    else:
        body = [head + f"Results: [{path}]({path}), {_provenance(out, name, digest)}._"]
    return [f"<!-- study:{name} -->"] + body + [f"<!-- /study:{name} -->", ""]


def replace_study_block(readme: Path, name: str, block: list[str]) -> bool:
    """Replace the study's block in an existing README.md; False when it has none."""
    if not readme.is_file():
        return False
    text = readme.read_text()
    start, end = f"<!-- study:{name} -->", f"<!-- /study:{name} -->"
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        return False
    j += len(end)
    new = "\n".join(block).rstrip("\n")
    write_text(readme, text[:i] + new + text[j:])
    return True
