"""The architecture in the tree: each layer imports only the layers below it, nothing imports
the command line, the contract is standard library only, and no import cycle exists anywhere
(imports inside functions count); every step of the step list has its job code."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from components import artifacts
from pipeline.contract.steps import STEPS
from pipeline.jobs.entries import ENTRIES, entry_for

ROOT = artifacts.ROOT
# Lowest first: a module may import its own layer and those before it.
LAYERS = ("contract", "jobs", "storage", "warehouse", "local", "report", "ops", "dev", "cli")
# The report sits beside ops: it reads the warehouse (or is handed rows) and neither needs the
# other; it may import only these.
REPORT_IMPORTS = ("contract", "jobs", "storage", "warehouse", "report")
TOP_LEVEL_LIMIT = 8


def module_name(path: Path) -> str:
    name = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
    return name.removesuffix(".__init__")


def project_modules() -> dict[str, Path]:
    found = {}
    for folder in ("pipeline", "components", "functions", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found[module_name(path)] = path
    return found


MODULES = project_modules()
GRAPH = {
    name: sorted(artifacts.imported_modules(path.read_bytes()) & set(MODULES))
    for name, path in MODULES.items()
}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "pipeline" and len(parts) > 2 else None


def rank(module: str) -> int:
    return LAYERS.index(layer(module))


def test_every_pipeline_module_is_in_a_layer_but_the_package_entry_points():
    top = sorted(path.name for path in (ROOT / "pipeline").glob("*.py"))
    assert len(top) <= TOP_LEVEL_LIMIT
    assert top == ["__init__.py", "__main__.py"]
    packages = {path.parent.name for path in (ROOT / "pipeline").glob("*/__init__.py")}
    assert packages == set(LAYERS)
    assert {layer(name) for name in MODULES if layer(name)} == set(LAYERS)


def test_no_layer_imports_a_layer_above_it():
    upward = [
        f"{module} -> {imported}"
        for module, imports in GRAPH.items()
        if layer(module)
        for imported in imports
        if layer(imported) and rank(imported) > rank(module)
    ]
    assert upward == []


def test_the_report_imports_only_the_contract_storage_and_the_warehouse():
    outside = [
        f"{module} -> {imported}"
        for module, imports in GRAPH.items()
        if layer(module) == "report"
        for imported in imports
        if layer(imported) not in REPORT_IMPORTS and imported != "pipeline.report"
    ]
    assert outside == []
    assert [name for name in MODULES if layer(name) == "report"]
    assert not [m for m, imports in GRAPH.items() if layer(m) == "ops"
                for i in imports if layer(i) == "report"]  # fmt: skip


def test_nothing_imports_the_command_line_but_itself_and_the_package_entry():
    importers = {
        module
        for module, imports in GRAPH.items()
        for imported in imports
        if imported.startswith("pipeline.cli")
    }
    assert {module for module in importers if layer(module) != "cli"} == {"pipeline.__main__"}


def test_the_pulumi_program_and_the_lambda_use_only_the_contract():
    for module, imports in GRAPH.items():
        if module.split(".")[0] in ("components", "functions"):
            pipeline_imports = [name for name in imports if name.startswith("pipeline.")]
            assert all(layer(name) == "contract" for name in pipeline_imports), module


def test_the_contract_imports_only_the_standard_library():
    import ast

    for module, path in MODULES.items():
        if layer(module) != "contract":
            continue
        for node in ast.walk(ast.parse(path.read_bytes())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or name.startswith("pipeline.contract"), (
                    f"{module} imports {name}"
                )


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle of the graph (as a path that starts and ends at one module), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_there_is_no_import_cycle():
    assert find_cycle(GRAPH) is None


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None


def test_no_module_is_imported_by_a_name_in_a_string():
    for module, path in MODULES.items():
        text = path.read_text()
        assert "import_module(" not in text, module
        assert "__import__(" not in text, module


def test_every_step_has_exactly_one_entry_and_its_script_runs_that_job():
    assert set(ENTRIES) == {step.job for step in STEPS}
    for step in STEPS:
        entry = entry_for(step.job)
        assert callable(entry)
        script = runpy.run_path(str(ROOT / step.script), run_name="job")
        job_module = sys.modules[entry.__module__]
        used = {getattr(value, "__module__", None) for value in script.values() if callable(value)}
        assert job_module.__name__ in used, f"{step.script} does not call {job_module.__name__}"
    known = "known: ingest_raw, transform_trips, audit_month, load_redshift"
    with pytest.raises(KeyError, match=known):
        entry_for("transform")
