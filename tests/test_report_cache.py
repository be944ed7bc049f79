"""The report's step cache: a hit returns the stored result and restores the step's files; any
change of arguments or inputs is a miss; a damaged entry is a miss; QUANTPE_REPORT_CACHE=0 runs."""
from __future__ import annotations

import pytest

from quantpe.report import cache as report_cache
from quantpe.report.cache import cached_step


@pytest.fixture
def step(build):
    """A step that writes two files under out/ and counts its runs."""
    out = build / "out"
    out.mkdir()
    runs = []

    def run(tag="a"):
        runs.append(tag)
        (out / "sub").mkdir(exist_ok=True)
        (out / "sub" / "fig.png").write_bytes(b"\x89PNG" + tag.encode())
        (out / "table.csv").write_text(f"x,{tag}\n")
        return {"lines": [f"table {tag}"], "n": len(runs)}
    return out, runs, run


def test_hit_returns_the_result_and_restores_files(step):
    out, runs, run = step
    (out / "unrelated.txt").write_text("keep")
    first, hit = cached_step("section-x", [], out, run)
    assert not hit and first == {"lines": ["table a"], "n": 1}
    (out / "table.csv").unlink()                           # lost
    (out / "sub" / "fig.png").write_bytes(b"edited")       # changed by hand
    again, hit = cached_step("section-x", [], out, run)
    assert hit and again == first and runs == ["a"]
    assert (out / "table.csv").read_text() == "x,a\n"
    assert (out / "sub" / "fig.png").read_bytes() == b"\x89PNGa"
    assert (out / "unrelated.txt").read_text() == "keep"   # not the step's file: untouched


def test_other_arguments_inputs_or_a_damaged_entry_miss(step, monkeypatch, build):
    out, runs, run = step
    cached_step("section-x", [1], out, run)
    cached_step("section-x", [2], out, lambda: run("b"))
    assert runs == ["a", "b"]
    monkeypatch.setattr(report_cache, "_digest_memo", {"d": "another source tree"})
    cached_step("section-x", [1], out, lambda: run("c"))
    assert runs == ["a", "b", "c"]
    entries = list((build / "build" / "report-cache").glob("section-x-*/result.json"))
    assert len(entries) == 3
    for e in entries:
        e.write_text(e.read_text()[:10])                     # truncated
    result, hit = cached_step("section-x", [1], out, lambda: run("d"))
    assert not hit and result["lines"] == ["table d"]


def test_cache_off(step, monkeypatch):
    out, runs, run = step
    monkeypatch.setenv("QUANTPE_REPORT_CACHE", "0")
    cached_step("section-x", [], out, run)
    _, hit = cached_step("section-x", [], out, run)
    assert not hit and runs == ["a", "a"]


def test_inputs_digest_covers_sources_and_knobs(monkeypatch):
    monkeypatch.setattr(report_cache, "_digest_memo", {})
    d0 = report_cache.inputs_digest()
    monkeypatch.setattr(report_cache, "_digest_memo", {})
    monkeypatch.setenv("QUANTPE_APPROX_WIDE", "1")
    d1 = report_cache.inputs_digest()
    monkeypatch.setattr(report_cache, "_digest_memo", {})
    monkeypatch.delenv("QUANTPE_APPROX_WIDE")
    monkeypatch.setattr(report_cache, "source_digest", lambda *m: "edited")
    d2 = report_cache.inputs_digest()
    monkeypatch.setattr(report_cache, "_digest_memo", {})
    monkeypatch.setenv("QUANTPE_ENERGY_MULTIPLIERS", "all")
    d3 = report_cache.inputs_digest()
    assert len({d0, d1, d2, d3}) == 4
    assert report_cache.knobs() == {"QUANTPE_ENERGY_MULTIPLIERS": "all"}
    s3 = report_cache.inputs_digest(with_knobs=False)
    monkeypatch.setattr(report_cache, "_digest_memo", {})
    monkeypatch.delenv("QUANTPE_ENERGY_MULTIPLIERS")
    assert report_cache.inputs_digest(with_knobs=False) == s3 and report_cache.inputs_digest() == d2


def test_exact_lane_caveat_follows_the_measured_delta():
    from quantpe.report.run import _exact_lane_note
    ref = {"name": "baseline-l16-int8", "d_area_um2_pct": 0.0}
    smaller = {"name": "approxpe-l16-int8-exact", "d_area_um2_pct": -25.8}
    larger = dict(smaller, d_area_um2_pct=1.0)
    note = _exact_lane_note([ref, smaller], "baseline-l16-int8")
    assert len(note) == 2 and "25.8%" in note[0]
    assert _exact_lane_note([ref, larger], "baseline-l16-int8") == []
    assert _exact_lane_note([ref], "baseline-l16-int8") == []
