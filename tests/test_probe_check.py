"""The CLI probe's contract check (tests/probe.py, `make probe`) flags every kind of violation."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import probe  # noqa: E402

CASE = probe.Case("x", [], codes=(2,), out="out")
ONE = "quantpe: error: bad\n"


def test_a_kept_contract_passes():
    assert probe.check(CASE, 2, "", ONE, {"in/a": "h"}, {"in/a": "h", "build/x": "dir"}) == []


def test_each_violation_is_named():
    def problems(code=2, out="", err=ONE, before=None, after=None):
        return " ".join(probe.check(CASE, code, out, err, before or {}, after or {}))
    assert "exit 0, expected 2" in problems(code=0)
    assert "traceback" in problems(err=ONE + "Traceback (most recent call last):\n")
    assert "not one error line" in problems(err=ONE + "more\n")
    assert "not one error line" in problems(err="usage: nothing\n")
    assert "internal error" in problems(code=4) and "exit 4" in problems(code=4)
    assert "stray file: x.txt" in problems(after={"x.txt": "h"})
    assert "hidden temporary left" in problems(after={"out/.stage-abc/f": "h"})
    assert "empty output folder left: out" in problems(after={"out": "dir"})
    assert "earlier file changed or removed: in/a" in problems(before={"in/a": "h"}, after={"in/a": "g"})
    assert "earlier file changed or removed: in/a" in problems(before={"in/a": "h"}, after={})


def test_the_cases_cover_every_kind_and_field():
    from quantpe.core.kinds import KINDS
    names = [c.name for c in probe.all_cases()]
    assert len(names) == len(set(names)) and len(names) >= 220
    assert all(any(n.startswith(k + " --") for n in names) for k in KINDS)
