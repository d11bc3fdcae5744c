"""The code the stack ships: reproducible archives keyed by content, a wheel Python Shell can
install, a zip Spark can import from, and a Lambda package that needs nothing else; each holds
exactly the import closure of what runs it."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from components import artifacts, etl
from pipeline.contract.steps import PYTHON_SHELL, SPARK, STEPS

KINDS = (PYTHON_SHELL, SPARK)


def test_archives_are_byte_for_byte_reproducible():
    files = etl.library_files(PYTHON_SHELL)
    assert artifacts.deterministic_zip(files) == artifacts.deterministic_zip(dict(files))
    assert artifacts.wheel(files) == artifacts.wheel(files)
    for entry in zipfile.ZipFile(io.BytesIO(artifacts.deterministic_zip(files))).infolist():
        assert entry.date_time == (1980, 1, 1, 0, 0, 0)


def test_the_content_hash_follows_the_content_only():
    files = {"pipeline/a.py": b"x = 1\n", "pipeline/b.py": b"y = 2\n"}
    same = dict(reversed(list(files.items())))
    assert artifacts.content_hash(files) == artifacts.content_hash(same)
    changed = {**files, "pipeline/b.py": b"y = 3\n"}
    assert artifacts.content_hash(changed) != artifacts.content_hash(files)
    renamed = {"pipeline/c.py": b"x = 1\n", "pipeline/b.py": b"y = 2\n"}
    assert artifacts.content_hash(renamed) != artifacts.content_hash(files)


def test_a_scripts_key_changes_with_its_content_and_nothing_else():
    key = artifacts.script_key("scripts/ingest_raw.py", b"print(1)\n")
    assert re.fullmatch(r"scripts/[0-9a-f]{16}/ingest_raw\.py", key)
    assert artifacts.script_key("scripts/ingest_raw.py", b"print(1)\n") == key
    assert artifacts.script_key("scripts/ingest_raw.py", b"print(2)\n") != key
    # The same text as another script is still that other script's own object.
    assert artifacts.script_key("scripts/load_redshift.py", b"print(1)\n") != key


def test_editing_one_script_moves_only_that_jobs_script_location():
    """The job's ScriptLocation is s3://<scripts bucket>/<script_key>: one edit, one job."""
    sources = {step.script: (artifacts.ROOT / step.script).read_bytes() for step in STEPS}
    before = {path: artifacts.script_key(path, data) for path, data in sources.items()}
    edited = STEPS[1].script
    sources[edited] += b"\n# edited\n"
    after = {path: artifacts.script_key(path, data) for path, data in sources.items()}
    assert {path for path in sources if before[path] != after[path]} == {edited}
    assert len(set(before.values())) == len(STEPS)


def scripts_of(kind: str) -> list[str]:
    return [step.script for step in STEPS if step.kind == kind]


def imported_by_running(scripts: list[str], *path: str) -> set[str]:
    """The project modules loaded by running the scripts' module code (not their `main`) in a
    fresh interpreter with only `path` importable from this project."""
    paths = [str(artifacts.ROOT / script) for script in scripts]
    code = (
        f"import json, runpy; [runpy.run_path(s, run_name='job') for s in {paths!r}]; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'pipeline')))"
    )
    return set(json.loads(run_isolated(code, *path)))


def as_modules(files) -> set[str]:
    return {path[: -len(".py")].replace("/", ".").removesuffix(".__init__") for path in files}


@pytest.mark.parametrize("kind", KINDS)
def test_each_library_is_exactly_what_its_scripts_import(kind, tmp_path):
    files = etl.library_files(kind)
    # Running the scripts from the whole tree loads exactly the modules the library holds ...
    assert as_modules(files) == imported_by_running(scripts_of(kind), str(artifacts.ROOT))
    # ... and the library alone is enough for them.
    archive = tmp_path / "library.zip"
    archive.write_bytes(artifacts.deterministic_zip(files))
    assert imported_by_running(scripts_of(kind), str(archive)) == as_modules(files)
    for path, data in files.items():
        assert data == (artifacts.ROOT / path).read_bytes()


def test_no_library_ships_the_command_line_the_local_runtime_or_the_dev_tools():
    shipped = set(etl.library_files(PYTHON_SHELL)) | set(etl.library_files(SPARK))
    for layer in ("cli", "dev", "local", "ops"):
        assert not [path for path in shipped if path.startswith(f"pipeline/{layer}/")], layer
    assert "pipeline/jobs/transform.py" not in etl.library_files(PYTHON_SHELL)
    assert "pipeline/warehouse/redshift.py" not in etl.library_files(SPARK)


def copy_of_the_code(tmp_path):
    for folder in ("pipeline", "scripts", "functions"):
        shutil.copytree(artifacts.ROOT / folder, tmp_path / folder)
    return tmp_path


def keys(root) -> dict[str, str]:
    return {kind: key for kind, (key, _) in etl.library_builds(root).items()}


def test_editing_a_cli_or_dev_module_leaves_every_library_key_unchanged(tmp_path):
    root = copy_of_the_code(tmp_path)
    before = keys(root)
    assert before == keys(artifacts.ROOT)
    for module in (
        "pipeline/cli/main.py",
        "pipeline/dev/synthetic/taxi.py",
        "pipeline/local/runner.py",
    ):
        (root / module).write_text((root / module).read_text() + "\n# edited\n")
    assert keys(root) == before


def test_editing_a_shipped_module_moves_only_the_libraries_that_hold_it(tmp_path):
    root = copy_of_the_code(tmp_path)
    before = keys(root)
    (root / "pipeline/jobs/ingest.py").write_text(
        (root / "pipeline/jobs/ingest.py").read_text() + "\n# edited\n"
    )
    after = keys(root)
    assert after[PYTHON_SHELL] != before[PYTHON_SHELL]
    assert after[SPARK] == before[SPARK]


def test_the_wheel_records_every_file_with_its_hash():
    files = {"pipeline/__init__.py": b"", "pipeline/months.py": b"MONTHS = 12\n"}
    archive = zipfile.ZipFile(io.BytesIO(artifacts.wheel(files)))
    info = f"{artifacts.WHEEL_NAME}-{artifacts.WHEEL_VERSION}.dist-info"
    assert "Tag: py3-none-any" in archive.read(f"{info}/WHEEL").decode()
    rows = list(csv.reader(io.StringIO(archive.read(f"{info}/RECORD").decode())))
    recorded = {path: (digest, size) for path, digest, size in rows}
    assert set(recorded) == set(archive.namelist())
    for path in archive.namelist():
        if path.endswith("RECORD"):
            continue
        data = archive.read(path)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert recorded[path] == (f"sha256={digest}", str(len(data)))


def run_isolated(code: str, *path: str) -> str:
    """Run Python with only `path` importable from this project (-I: no PYTHONPATH, no cwd)."""
    prelude = f"import sys; sys.path[:0] = {list(path)!r}; "
    done = subprocess.run(
        [sys.executable, "-I", "-c", prelude + code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_spark_can_import_the_pipeline_from_the_zip(tmp_path):
    archive = tmp_path / "pipeline.zip"
    archive.write_bytes(artifacts.deterministic_zip(etl.library_files(SPARK)))
    where = run_isolated("import pipeline.jobs.transform as t; print(t.__file__)", str(archive))
    assert where.startswith(str(archive))


def test_the_trigger_package_is_its_handler_and_the_pipeline_modules_it_imports():
    files = artifacts.trigger_files()
    assert set(files) == {
        "functions/__init__.py",
        "functions/trigger.py",
        "pipeline/__init__.py",
        "pipeline/contract/__init__.py",
        "pipeline/contract/datasets.py",
        "pipeline/contract/errors.py",
        "pipeline/contract/executions.py",
        "pipeline/contract/metrics.py",
        "pipeline/contract/months.py",
        "pipeline/contract/rules.py",
        "pipeline/contract/sql.py",
        "pipeline/contract/types.py",
    }
    for path, data in files.items():
        assert data == (artifacts.ROOT / path).read_bytes()  # shipped from the one source


def test_the_trigger_package_runs_on_its_own(tmp_path):
    for path, data in artifacts.trigger_files().items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    code = (
        "import json; from datetime import datetime, timezone; import functions.trigger as t; "
        "plan = t.plan_start({'scheduledTime': '2025-01-05T06:00:00Z'}, "
        "datetime(2025, 1, 5, 6, tzinfo=timezone.utc)); "
        "print(json.dumps([t.__file__, plan.name, plan.input]))"
    )
    where, name, machine_input = json.loads(run_isolated(code, str(tmp_path)))
    assert where.startswith(str(tmp_path))
    assert name == "yellow-2024-11-scheduled"
    assert machine_input == {"year": "2024", "month": "11", "dataset": "yellow"}


def test_the_adopt_package_runs_on_its_own_with_the_contract_modules_it_imports(tmp_path):
    files = artifacts.adopt_files()
    assert "functions/adopt.py" in files
    assert {path.split("/")[0] for path in files} == {"functions", "pipeline"}
    assert all(p.startswith(("functions/", "pipeline/contract/")) or p == "pipeline/__init__.py"
               for p in files)  # fmt: skip
    for path, data in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    code = (
        "import functions.adopt as a; from pipeline.contract.datasets import YELLOW; "
        "print(a.__file__, a._datasets({'datasets': ['yellow']}) == [YELLOW])"
    )
    where, same = run_isolated(code, str(tmp_path)).split()
    assert where.startswith(str(tmp_path))
    assert same == "True"
