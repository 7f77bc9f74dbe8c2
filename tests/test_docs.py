"""The documentation's code runs: every ```python block of docs/api.md, in order, in one namespace."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(path: Path) -> list[str]:
    """The fenced ```python blocks of a Markdown file, in order."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_api_page_has_examples() -> None:
    blocks = python_blocks(DOCS / "api.md")
    assert len(blocks) >= 8
    text = "\n".join(blocks)
    for name in ("load_station", "Station.from_frames", "reach_table", "Problem.from_station", "solve(",
                 "check_plan", "Problem.from_cost_matrix"):
        assert name in text, f"docs/api.md shows no {name}"


@pytest.mark.slow
def test_the_api_page_runs(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # whatever the examples write stays in the scratch folder
    namespace: dict = {"__name__": "docs_api"}
    for i, block in enumerate(python_blocks(DOCS / "api.md"), start=1):
        code = compile(block, f"docs/api.md, python block {i}", "exec")
        exec(code, namespace)  # noqa: S102 - running the documentation is the point
    assert not (tmp_path / ".cache").exists(), "a library call wrote a cache nobody asked for"
    assert capsys.readouterr().err == "", "library calls are quiet"
