"""The code the stack ships: reproducible archives keyed by content, a wheel Python Shell can
install, a zip Spark can import from, and a Lambda package that needs nothing else."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile

from components import artifacts
from pipeline.steps import STEPS


def test_archives_are_byte_for_byte_reproducible():
    files = artifacts.package_files(artifacts.PIPELINE)
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


def test_the_pipeline_package_is_every_module_and_nothing_else():
    files = artifacts.package_files(artifacts.PIPELINE)
    on_disk = sorted(
        path.relative_to(artifacts.ROOT).as_posix()
        for path in (artifacts.ROOT / "pipeline").rglob("*.py")
        if "__pycache__" not in path.parts
    )
    assert sorted(files) == on_disk
    assert "pipeline/__init__.py" in files


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
    files = artifacts.package_files(artifacts.PIPELINE)
    archive.write_bytes(artifacts.deterministic_zip(files))
    where = run_isolated(
        "import pipeline.steps as s; print(s.__file__, len(s.STEPS))", str(archive)
    )
    assert where.startswith(str(archive))


def test_the_trigger_package_is_its_handler_and_the_pipeline_modules_it_imports():
    files = artifacts.trigger_files()
    assert set(files) == {
        "functions/__init__.py",
        "functions/trigger.py",
        "pipeline/__init__.py",
        "pipeline/datasets.py",
        "pipeline/errors.py",
        "pipeline/executions.py",
        "pipeline/months.py",
        "pipeline/steps.py",
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
