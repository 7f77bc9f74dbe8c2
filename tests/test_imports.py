"""The import graph of the package, read from the source with `ast` (nothing is imported).

- no cycle among the planner's modules (function-local imports count too, and so do imports under
  `if TYPE_CHECKING:`: an annotation that points back up is a dependency on the layer above);
- the optimiser (`planner.model` and its modules) never imports the inputs, the network, the
  reports or the checker, and the checker never imports the optimiser (directly or through another
  module);
- no module of `planner/` (its packages included) is over 800 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "planner"

OPTIMISER = "planner.model"
FORBIDDEN_FOR_OPTIMISER = {
    # inputs
    "planner.station", "planner.residents", "planner.imdf", "planner.generate", "planner.validate",
    # network
    "planner.network", "planner.sites",
    # reports and the shell around them
    "planner.workbook", "planner.xlsxrows", "planner.maps", "planner.plan", "planner.proposal",
    "planner.sweep", "planner.pipeline", "planner.cli",
    # the checker
    "planner.check",
}
MAX_LINES = 800


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The planner modules `name` imports anywhere in its file (a `from pkg import sub` of a
    submodule counts as importing the submodule)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package.split(".")
                pkg = pkg[:len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    g = {m: imports_of(m, p, known) for m, p in mods.items()}
    # importing a submodule runs its package's __init__ first: a package's modules are not part of a
    # cycle through their own package, so the edge module -> its own package is left out
    for m, deps in g.items():
        deps.difference_update({d for d in deps if m.startswith(d + ".")})
    return g


def reach(g: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        m = todo.pop()
        for d in g.get(m, ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        colour[m] = 1
        stack.append(m)
        for d in sorted(g.get(m, ())):
            if colour.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in colour:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        colour[m] = 2
        return None

    for m in sorted(g):
        if m not in colour:
            found = visit(m)
            if found:
                return found
    return None


def test_the_graph_sees_the_package() -> None:
    g = graph()
    assert "planner.model.orchestrate" in g and "planner.check" in g
    assert "planner.model.compile" in g["planner.model.arrays"]           # a plain edge is read
    assert "planner.model.orchestrate" in reach(g, "planner.model")


def test_no_import_cycle() -> None:
    assert find_cycle(graph()) is None


def test_type_checking_imports_count(tmp_path: Path) -> None:
    root = tmp_path / "planner"
    root.mkdir()
    src = root / "mod.py"
    src.write_text("from typing import TYPE_CHECKING\nimport planner.a\nif TYPE_CHECKING:\n    import planner.b\n")
    assert imports_of("planner.mod", src, {"planner.mod", "planner.a", "planner.b"}) == {"planner.a", "planner.b"}



def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_optimiser_never_imports_inputs_network_reports_or_checker() -> None:
    g = graph()
    opt = [m for m in g if m == OPTIMISER or m.startswith(OPTIMISER + ".")]
    assert len(opt) > 5
    bad = {m: sorted(reach(g, m) & FORBIDDEN_FOR_OPTIMISER) for m in opt}
    assert not {m: b for m, b in bad.items() if b}


def test_the_checker_never_imports_the_optimiser() -> None:
    g = graph()
    bad = sorted(m for m in reach(g, "planner.check") if m == OPTIMISER or m.startswith(OPTIMISER + "."))
    assert not bad


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_800_lines(path: Path) -> None:
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)}: {n} lines"
