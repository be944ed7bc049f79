"""The import graph of a package tree, read with `ast`: edges, cycles, layer and privacy checks.

`read_tree(roots)` takes {package name: folder} (for quantpe: the `package-dir` table of
pyproject.toml) and returns every module's `quantpe.*` imports, top-level and function-level,
with line numbers. `check(tree, layers)` lists the problems a layered package must not have:

- an import that goes up a layer (`layers` is a list of module-name prefixes, lowest first; a
  module belongs to the layer of its longest matching prefix);
- a cycle (a strongly connected component of the module graph, or a self-import);
- a function-level import of a project module without a stated reason (a `# lazy: WHY` comment
  on the import line, or on the line above the block of imports it belongs to);
- a private name (`_x`) of one module used by another, by `from m import _x` or `m._x`.

`python tests/import_graph.py` prints the report for this checkout (edge counts, cycles, the
violations of the layer table below) and exits 1 when there is any problem.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

REASON_TAG = "# lazy:"


@dataclass(frozen=True)
class Import:
    """One import of a project module: `src` imports `dst` (optionally names from it)."""
    src: str
    dst: str
    line: int
    function_level: bool
    names: tuple[str, ...] = ()
    reason: str | None = None


@dataclass
class Tree:
    modules: dict[str, Path]
    imports: list[Import] = field(default_factory=list)
    private_uses: list[tuple[str, str, str, int]] = field(default_factory=list)  # src, dst, name, line


def module_files(roots: dict[str, Path]) -> dict[str, Path]:
    """{dotted module name: file} for every .py file under each root (packages included)."""
    out: dict[str, Path] = {}
    for pkg, folder in roots.items():
        folder = Path(folder)
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([pkg, *parts])] = path
    return out


def _resolve(src: str, is_pkg: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = src.split(".") if is_pkg else src.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _reason(lines: list[str], lineno: int) -> str | None:
    """The `# lazy:` reason on the import's line, or on the comment line directly above the
    block of import statements the import belongs to."""
    if REASON_TAG in lines[lineno - 1]:
        return lines[lineno - 1].split(REASON_TAG, 1)[1].strip() or None
    ln = lineno - 1
    while ln >= 1:
        s = lines[ln - 1].strip()
        if REASON_TAG in s and s.startswith("#"):
            return s.split(REASON_TAG, 1)[1].strip() or None
        if not (s.startswith(("from ", "import ")) or s.endswith((",", "("))
                or (s.endswith(")") and "(" not in s and "=" not in s)):
            return None
        ln -= 1
    return None


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The longest module name that `name` is or starts with."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in modules:
            return cand
    return None


def read_tree(roots: dict[str, Path], project: str | None = None) -> Tree:
    """Every project import of every module under `roots` (project: the top package name)."""
    modules = module_files(roots)
    project = project or min(roots, key=len).split(".")[0]
    tree = Tree(modules)
    for src, path in modules.items():
        _scan_module(tree, src, path, project)
    return tree


def _scan_module(tree: Tree, src: str, path: Path, project: str) -> None:
    modules = tree.modules
    text = path.read_text()
    lines = text.splitlines()
    is_pkg = path.name == "__init__.py"
    aliases: dict[str, str] = {}  # local name -> project module it is bound to

    def visit(n: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(n):
            fn = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.split(".")[0] == project:
                        dst = _owner(a.name, modules) or a.name
                        tree.imports.append(Import(src, dst, child.lineno, in_function, (),
                                                   _reason(lines, child.lineno)))
                        aliases[a.asname or a.name.split(".")[0]] = dst if a.asname else project
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(src, is_pkg, child.level, child.module)
                if base.split(".")[0] != project:
                    continue
                reason = _reason(lines, child.lineno)
                plain: list[str] = []
                for a in child.names:
                    sub = f"{base}.{a.name}"
                    if sub in modules:  # `from pkg import module`
                        tree.imports.append(Import(src, sub, child.lineno, in_function, (), reason))
                        aliases[a.asname or a.name] = sub
                    else:
                        plain.append(a.name)
                if plain:
                    dst = _owner(base, modules) or base
                    tree.imports.append(Import(src, dst, child.lineno, in_function, tuple(plain), reason))
                    for name in plain:
                        if name.startswith("_") and not name.startswith("__") and dst != src:
                            tree.private_uses.append((src, dst, name, child.lineno))
            elif (isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name)
                  and child.value.id in aliases and child.attr.startswith("_")
                  and not child.attr.startswith("__") and aliases[child.value.id] != src):
                tree.private_uses.append((src, aliases[child.value.id], child.attr, child.lineno))
            visit(child, fn)

    visit(ast.parse(text, filename=str(path)), False)


def cycles(tree: Tree) -> list[list[str]]:
    """Strongly connected components with more than one module, and self-imports (Tarjan)."""
    graph: dict[str, set[str]] = {m: set() for m in tree.modules}
    for imp in tree.imports:
        if imp.dst in graph:
            graph[imp.src].add(imp.dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:  # iterative Tarjan, to stay clear of the recursion limit
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop(); on.discard(w); comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1 or node in graph[node]:
                        out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(out)


def layer_of(module: str, layers: list[tuple[str, ...]]) -> int | None:
    """Index of the layer whose longest prefix matches `module` (None: in no layer); a prefix
    ending in "$" matches that one module only (e.g. the top package's `__init__`)."""
    best, best_len = None, -1
    for i, prefixes in enumerate(layers):
        for p in prefixes:
            if p.endswith("$"):
                if module == p[:-1] and len(p) > best_len:
                    best, best_len = i, len(p)
            elif (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    return best


def check(tree: Tree, layers: list[tuple[str, ...]]) -> list[str]:
    """Every problem, one line each (empty: the tree is layered)."""
    problems: list[str] = []
    for comp in cycles(tree):
        problems.append("cycle: " + " -> ".join(comp))
    for imp in tree.imports:
        if imp.dst not in tree.modules or imp.dst == imp.src:
            continue
        ls, ld = layer_of(imp.src, layers), layer_of(imp.dst, layers)
        where = f"{imp.src}:{imp.line}"
        if ls is None:
            problems.append(f"{where}: module {imp.src} is in no layer")
        elif ld is None:
            problems.append(f"{where}: imports {imp.dst}, which is in no layer")
        elif ld > ls:
            problems.append(f"{where}: imports {imp.dst} from a higher layer ({ld} > {ls})")
        if imp.function_level and imp.reason is None:
            problems.append(f"{where}: function-level import of {imp.dst} without a '{REASON_TAG}' reason")
    for src, dst, name, line in tree.private_uses:
        problems.append(f"{src}:{line}: uses private name {dst}.{name}")
    return sorted(set(problems))


#: quantpe's layers, lowest first (the package map in scripts/__init__.py says what each holds)
LAYERS = [
    ("quantpe$", "quantpe.golden"),       # the bit-exact model: numpy and the standard library
    ("quantpe.core",),                    # registry of kinds, build cache, jobs, tools, interrupt
    ("quantpe.rtl", "quantpe.tb"),        # Amaranth generators; cocotb test benches
    ("quantpe.synth",),                   # Yosys runner, liberty reader, area flow, gate netlists
    ("quantpe.sim",),                     # RTL simulators; the gate-level simulator (sim.gate)
    ("quantpe.power",),                   # energy model and power measurement
    ("quantpe.explore",),                 # characterisation, sweeps, references, plans, mapping
    ("quantpe.report",),                  # report sections, renderers, studies, cache
    ("quantpe.commands", "quantpe.cli"),  # command code and the console entry point
]


def project_roots(repo: Path) -> dict[str, Path]:
    """{package: folder} from pyproject.toml's [tool.setuptools] package-dir."""
    import tomllib  # lazy: only the command line and the real-tree test read pyproject

    cfg = tomllib.loads((repo / "pyproject.toml").read_text())
    return {pkg: repo / folder for pkg, folder in cfg["tool"]["setuptools"]["package-dir"].items()}


def main() -> int:
    repo = Path(__file__).resolve().parents[1]
    tree = read_tree(project_roots(repo))
    fn = sum(i.function_level for i in tree.imports)
    print(f"{len(tree.modules)} modules, {len(tree.imports)} project imports ({fn} function-level)")
    problems = check(tree, LAYERS)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
