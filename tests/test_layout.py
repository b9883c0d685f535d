"""The architecture's boundaries, checked on the source: what may import what (see the README's Layout)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, top-level module, at module level?) of every import in a file, lazy imports inside functions included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name.split(".")[0], id(node) in top_level) for name in names]
    return found


def _offences(folder: str, forbidden: set[str], module_level_only: bool = False) -> list[str]:
    offences = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for line, module, at_top in _imports(path):
            if module in forbidden and (at_top or not module_level_only):
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return offences


def test_no_module_under_tasks_imports_prefect():
    assert _offences("tasks", {"prefect"}) == [], "tasks/ is plain Python: Prefect belongs in flows/"


def test_the_job_code_is_standalone():
    assert _offences("inference", {"prefect", "azure", "flows", "tasks"}) == []


@pytest.mark.parametrize("folder", ["flows", "tasks"])
def test_the_orchestrator_never_needs_torch_at_import(folder):
    assert _offences(folder, {"torch", "transformers", "torchvision"}, module_level_only=True) == []


def test_the_checker_sees_lazy_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\n\ndef f():\n    from prefect import flow\n")
    assert [(module, at_top) for _, module, at_top in _imports(sample)] == [("os", True), ("prefect", False)]
