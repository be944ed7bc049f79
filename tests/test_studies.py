"""The report's studies: the default run leaves them out and carries their committed markdown in
README.md with a provenance line; `--only NAME` rebuilds one, stamps it and replaces its block."""
from __future__ import annotations

import json

import pytest

from quantpe.report import run as report, studies
from quantpe.golden.errors import QuantpeError
from quantpe.report.studies import (STUDIES, from_folder_links, record_study, replace_study_block, study_block, study_status,
                             to_folder_links)

SECTION = ["## Approximate multipliers", "", "![fronts](approx/fronts.png) and [cnn](models/cnn.json),",
           "[paper](https://example.org/a.pdf), [top](#top)"]


def test_links_relative_to_the_folder_and_back():
    text = "\n".join(SECTION)
    folder = to_folder_links(text, "approx")
    assert "](fronts.png)" in folder and "](../models/cnn.json)" in folder
    assert "](https://example.org/a.pdf)" in folder and "](#top)" in folder
    assert from_folder_links(folder, "approx") == text


def test_block_says_whether_the_inputs_match(tmp_path):
    record_study(tmp_path, "approxmul", SECTION, 12.3, "d1")
    page = (tmp_path / "approx" / "section.md").read_text()
    assert "](fronts.png)" in page
    assert json.loads((tmp_path / "studies.json").read_text()) == {
        "approxmul": {"inputs_digest": "d1", "seconds": 12.3, "knobs": {}}}
    same = study_block(tmp_path, "approxmul", "d1")
    assert same[0] == "<!-- study:approxmul -->" and "<!-- /study:approxmul -->" in same
    assert study_status(tmp_path, "approxmul", "d1") == "same"
    assert "built from the same sources" in same[1] and "other sources" not in same[1]
    assert same[3:3 + len(SECTION)] == SECTION
    record_study(tmp_path, "requant", ["## Fixed point"], 1.0, "d1", {"QUANTPE_X": "all"})
    assert "same sources, data and tools as this run with QUANTPE_X=all" in study_block(tmp_path, "requant", "d1")[1]
    other = study_block(tmp_path, "approxmul", "d2")
    assert study_status(tmp_path, "approxmul", "d2") == "other"
    assert "built from other sources" in other[1] and "--only approxmul" in other[1]


def test_block_of_a_missing_unstamped_or_linked_study(tmp_path):
    missing = study_block(tmp_path, "requant", "d")
    assert study_status(tmp_path, "requant", "d") == "missing"
    assert "fxp/fxp.md is missing" in missing[1]
    (tmp_path / "fxp").mkdir()
    (tmp_path / "fxp" / "fxp.md").write_text("## Fixed point\n")
    assert study_status(tmp_path, "requant", "d") == "unstamped"
    assert "no stamp" in study_block(tmp_path, "requant", "d")[1]
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "section.md").write_text("## Plans\n")
    linked = study_block(tmp_path, "plans", "d")
    assert "[plans/section.md](plans/section.md)" in linked[1] and "## Plans" not in "\n".join(linked)
    record_study(tmp_path, "plans", ["## Plans"], 1.0, "d")
    assert (tmp_path / "plans" / "section.md").read_text() == "## Plans\n"   # its own page, untouched


def test_replace_only_the_study_block(tmp_path):
    readme = tmp_path / "README.md"
    assert not replace_study_block(readme, "approxmul", ["x"])
    readme.write_text("head\n<!-- study:approxmul -->\nold\n<!-- /study:approxmul -->\n\ntail\n")
    assert replace_study_block(readme, "approxmul", ["<!-- study:approxmul -->", "new",
                                                     "<!-- /study:approxmul -->", ""])
    assert readme.read_text() == "head\n<!-- study:approxmul -->\nnew\n<!-- /study:approxmul -->\n\ntail\n"
    before = readme.read_text()
    assert not replace_study_block(readme, "requant", ["x"]) and readme.read_text() == before


def test_default_run_leaves_the_studies_out():
    default = [name for name, _ in report.selected_sections(None)]
    assert default and not set(default) & set(STUDIES)
    assert [n for n, _ in report.selected_sections(None, everything=True)] == [n for n, _ in report.SECTIONS]
    assert set(STUDIES) <= {n for n, _ in report.SECTIONS}
    assert [n for n, _ in report.selected_sections(("requant", "strum"))] == ["strum", "requant"]
    with pytest.raises(QuantpeError, match="drop --only"):
        report.selected_sections(("strum",), everything=True)
    with pytest.raises(QuantpeError, match="unknown report section"):
        report.selected_sections(("nothing",))


def test_only_a_study_stamps_it_and_replaces_its_readme_block(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "SECTIONS", [("strum", lambda: lambda out: ["## StruM"]),
                                             ("approxmul", lambda: lambda out: list(SECTION))])
    monkeypatch.setattr(report, "inputs_digest", lambda with_knobs=True: "now")
    monkeypatch.setattr(report, "cached_step", lambda step, args, out, run: (run(), False))
    readme = tmp_path / "README.md"
    readme.write_text("# r\n<!-- study:approxmul -->\nold\n<!-- /study:approxmul -->\n")
    report.run_report(tmp_path, only=("approxmul",))
    text = readme.read_text()
    assert "\nold\n" not in text and "built from the same sources" in text and "](approx/fronts.png)" in text
    assert json.loads((tmp_path / studies.STAMPS).read_text())["approxmul"]["inputs_digest"] == "now"
    assert not (tmp_path / "approxmul.md").exists()
