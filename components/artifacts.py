"""What the stack ships as code: the Glue jobs' libraries, and the two Lambdas.

Each artifact holds exactly the import closure of what runs it, found by reading the imports
(inside functions too): the Python Shell wheel that of `scripts/ingest_raw.py`,
`scripts/audit_month.py` and `scripts/load_redshift.py`, the Spark zip that of
`scripts/transform_trips.py`, each Lambda's zip that of its handler (the trigger's, the adopt
function's). So the command line, the local runtime and the dev tools never ship, and editing
them changes no artifact. Built in memory and byte-for-byte reproducible (sorted
entries, fixed timestamps), so an unchanged source gives an unchanged artifact and the S3 key
carries the content hash: changing a shipped module changes the key, which updates the jobs
that point at it, and nothing else. Each Glue script is keyed by its own hash the same way
(`script_key`).
"""

from __future__ import annotations

import ast
import base64
import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = "pipeline"
FIRST_PARTY = ("pipeline", "functions")
TRIGGER_MODULE = "functions.trigger"
TRIGGER_HANDLER = f"{TRIGGER_MODULE}.handler"
ADOPT_MODULE = "functions.adopt"
ADOPT_HANDLER = f"{ADOPT_MODULE}.handler"
WHEEL_NAME, WHEEL_VERSION = "tlc_elt_pipeline", "0.1.0"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry

Files = Mapping[str, bytes]


def package_files(package: str, root: Path = ROOT) -> dict[str, bytes]:
    """Every Python module of a package, by path relative to the project (`pipeline/x.py`)."""
    base = root / package
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(base.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def module_file(module: str, root: Path = ROOT) -> str:
    parts = module.split(".")
    package = Path(*parts) / "__init__.py"
    return package.as_posix() if (root / package).is_file() else f"{'/'.join(parts)}.py"


def _is_module(module: str, root: Path) -> bool:
    return (root / module_file(module, root)).is_file()


def imported_modules(source: bytes, root: Path = ROOT) -> set[str]:
    """The first-party modules a source imports anywhere (module level or inside functions);
    `from pipeline.jobs import ingest` names the module `pipeline.jobs.ingest`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _is_module(f"{node.module}.{alias.name}", root)
            )
    return {name for name in found if name.split(".")[0] in FIRST_PARTY}


def import_closure(modules: Iterable[str], root: Path = ROOT) -> dict[str, bytes]:
    """The files of `modules`, their packages' `__init__`s, and every first-party module they
    import, transitively."""
    files: dict[str, bytes] = {}
    pending = list(modules)
    while pending:
        module = pending.pop()
        parts = module.split(".")
        for depth in range(1, len(parts)):
            init = "/".join(parts[:depth]) + "/__init__.py"
            files.setdefault(init, (root / init).read_bytes())
        path = module_file(module, root)
        if path in files and not path.endswith("__init__.py"):
            continue
        source = (root / path).read_bytes()
        files[path] = source
        pending.extend(imported_modules(source, root) - {module})
    return dict(sorted(files.items()))


def trigger_files(root: Path = ROOT) -> dict[str, bytes]:
    return import_closure([TRIGGER_MODULE], root)


def adopt_files(root: Path = ROOT) -> dict[str, bytes]:
    """The adopt Lambda's zip: its handler and the contract modules it imports."""
    return import_closure([ADOPT_MODULE], root)


def script_closure(scripts: Iterable[str], root: Path = ROOT) -> dict[str, bytes]:
    """The first-party modules that Glue scripts (paths, e.g. `scripts/ingest_raw.py`) import,
    transitively: what their job's library must hold (the scripts are uploaded on their own)."""
    modules: set[str] = set()
    for script in scripts:
        modules |= imported_modules((root / script).read_bytes(), root)
    return import_closure(sorted(modules), root)


def content_hash(files: Files) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path] + b"\0")
    return digest.hexdigest()


def script_key(path: str, source: bytes) -> str:
    """`scripts/ingest_raw.py` -> `scripts/<content hash>/ingest_raw.py`: the key changes with
    the script's content (and path) and with nothing else, so editing one script replaces that
    object and updates the one job that runs it."""
    folder, _, name = path.rpartition("/")
    stamp = content_hash({path: source})[:16]
    return f"{folder}/{stamp}/{name}" if folder else f"{stamp}/{name}"


def deterministic_zip(files: Files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            entry = zipfile.ZipInfo(path, date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, files[path])
    return buffer.getvalue()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def wheel_file_name() -> str:
    return f"{WHEEL_NAME}-{WHEEL_VERSION}-py3-none-any.whl"


def wheel(files: Files) -> bytes:
    """A pure-Python wheel of `files` (Glue Python Shell 3.9 takes libraries as .whl only)."""
    info = f"{WHEEL_NAME}-{WHEEL_VERSION}.dist-info"
    contents = dict(files)
    contents[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {WHEEL_NAME}\nVersion: {WHEEL_VERSION}\n"
    ).encode()
    contents[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tlc-elt\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path in sorted(contents):
        writer.writerow([path, _record_hash(contents[path]), len(contents[path])])
    writer.writerow([f"{info}/RECORD", "", ""])
    contents[f"{info}/RECORD"] = record.getvalue().encode()
    return deterministic_zip(contents)
