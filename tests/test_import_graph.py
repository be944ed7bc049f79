"""The import-layer checker (tests/import_graph.py) on synthetic module trees: each kind of edge
a layered package must not have is found, and a clean tree passes."""
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import import_graph as ig  # noqa: E402

LAYERS = [("pkg.golden",), ("pkg.foundation",), ("pkg.rtl",), ("pkg.report",), ("pkg.cli",)]


def make_tree(tmp_path: Path, files: dict[str, str]) -> ig.Tree:
    """files: {"scripts/x.py": source}; roots: scripts -> pkg, golden -> pkg.golden."""
    for rel, src in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(src))
    for folder in ("scripts", "golden"):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / "__init__.py").touch()
    return ig.read_tree({"pkg": tmp_path / "scripts", "pkg.golden": tmp_path / "golden"})


CLEAN = {
    "golden/rules.py": "import numpy as np\n",
    "scripts/foundation.py": "from pkg.golden import rules\n",
    "scripts/rtl.py": "from pkg.golden.rules import np\nfrom . import foundation\n",
    "scripts/report.py": "from pkg import rtl\n\n\ndef f():\n    import onnx  # lazy: optional\n",
    "scripts/cli.py": "from pkg import report\nfrom pkg.rtl import np\n",
}


def test_clean_tree_has_no_problem(tmp_path):
    tree = make_tree(tmp_path, CLEAN)
    assert ig.check(tree, LAYERS) == []
    assert {(i.src, i.dst) for i in tree.imports} >= {
        ("pkg.foundation", "pkg.golden.rules"), ("pkg.rtl", "pkg.foundation"), ("pkg.cli", "pkg.report"),
        ("pkg.rtl", "pkg.golden.rules"), ("pkg.report", "pkg.rtl")}


@pytest.mark.parametrize("name, extra, expected", [
    # golden/npz.py importing the top package's atomic writer: up a layer
    ("lower-imports-top", {"golden/npz.py": "from pkg import foundation\n"},
     "pkg.golden.npz:1: imports pkg.foundation from a higher layer (1 > 0)"),
    # power importing cli's private _kind_subparsers: up a layer and a private name
    ("private-attribute", {"scripts/report.py": "from pkg import cli\n\n\ndef f():\n    return cli._subparsers\n"},
     "pkg.report:5: uses private name pkg.cli._subparsers"),
    # plans_report importing plan_cli's _AREA, _mul_setup
    ("private-from", {"scripts/rtl.py": "from pkg.foundation import _AREA, public\n"},
     "pkg.rtl:1: uses private name pkg.foundation._AREA"),
    # a function-level import hiding a cycle
    ("hidden-function-import", {"scripts/foundation.py": "def f():\n    from pkg import rtl\n"},
     "pkg.foundation:2: function-level import of pkg.rtl without a '# lazy:' reason"),
    # energy <-> liberty in one layer: a cycle even when no layer is crossed
    ("two-module-cycle", {"scripts/rtl.py": "from pkg import rtl2\n", "scripts/rtl2.py": "from pkg import rtl\n"},
     "cycle: pkg.rtl -> pkg.rtl2"),
    # golden/approx <-> golden/lut_export, written as relative imports
    ("relative-cycle", {"golden/approx.py": "from .lut import x\n", "golden/lut.py": "from . import approx\n"},
     "cycle: pkg.golden.approx -> pkg.golden.lut"),
    ("unlayered-module", {"scripts/stray.py": "from pkg import rtl\n"},
     "pkg.stray:1: module pkg.stray is in no layer"),
])
def test_each_forbidden_edge_is_found(tmp_path, name, extra, expected):
    tree = make_tree(tmp_path, {**CLEAN, **extra})
    problems = ig.check(tree, LAYERS)
    assert expected in problems, (name, problems)


def test_nine_module_loop_is_one_cycle(tmp_path):
    names = [f"m{i}" for i in range(9)]
    files = {f"scripts/{n}.py": f"def f():\n    from pkg import {names[(i + 1) % 9]}  # lazy: test\n"
             for i, n in enumerate(names)}
    tree = make_tree(tmp_path, files)
    assert ig.cycles(tree) == [sorted(f"pkg.{n}" for n in names)]


def test_reason_on_line_above_counts(tmp_path):
    tree = make_tree(tmp_path, {**CLEAN, "scripts/foundation.py":
                                "def f():\n    # lazy: heavy optional import\n    from pkg.golden import rules\n"})
    assert ig.check(tree, LAYERS) == []
    [imp] = [i for i in tree.imports if i.src == "pkg.foundation"]
    assert imp.function_level and imp.reason == "heavy optional import"


def test_this_checkout_is_layered():
    """quantpe itself: no cycle, no import up a layer, no unexplained function-level import, no
    cross-module private name, every module in a layer (the table in tests/import_graph.py)."""
    repo = Path(__file__).resolve().parents[1]
    tree = ig.read_tree(ig.project_roots(repo))
    assert "quantpe.cli" in tree.modules and "quantpe.golden.layers" in tree.modules
    assert any(i.src == "quantpe.cli" for i in tree.imports)
    assert ig.check(tree, ig.LAYERS) == []


def test_golden_imports_numpy_and_the_standard_library_only():
    """golden/ at module level: numpy, the standard library and itself; anything else (onnx,
    onnxruntime, scipy, pymoo, scikit-learn) only inside the function that needs it."""
    import ast
    repo = Path(__file__).resolve().parents[1]
    allowed = set(sys.stdlib_module_names) | {"numpy", "quantpe"}
    found = []
    for path in sorted((repo / "golden").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] not in allowed]
    assert found == []


def test_a_golden_module_importing_a_third_party_package_at_top_is_found(tmp_path):
    tree = make_tree(tmp_path, {**CLEAN, "golden/rules.py": "import numpy as np\nfrom pkg import cli\n"})
    assert "pkg.golden.rules:2: imports pkg.cli from a higher layer (4 > 0)" in ig.check(tree, LAYERS)
