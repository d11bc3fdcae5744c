"""The repository stands alone: a clone with nothing beside it has every file its tests, docs and
defaults use, and no tracked file reaches outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pipeline.contract.zones import ZONE_LOOKUP, read_zones

ROOT = Path(__file__).resolve().parents[2]
# The hand-over folder beside the repository, by name, however it is reached.
HAND_OVER = re.compile(r"(?<![\w-])shared/(data|ARCHITECTURE|STYLE|hooks)|[\"']shared[\"']\s*/")
RELATIVE = re.compile(r"(?:\.\./)+[\w./-]*")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    files = []
    for name in names:
        path = ROOT / name
        try:
            path.read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary data (the parquet sample), or deleted in the work tree
        files.append(path)
    return files


def leaves_the_repository(path: Path, line: str) -> bool:
    """A `../` path that, taken from the file's folder, ends outside the repository."""
    if HAND_OVER.search(line):
        return True
    return any(
        not (path.parent / found).resolve().is_relative_to(ROOT) for found in RELATIVE.findall(line)
    )


def test_no_tracked_file_reads_links_or_defaults_to_anything_outside_the_repository():
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in tracked_text_files()
        if path != Path(__file__)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if leaves_the_repository(path, line)
    ]
    assert offending == []


def test_the_check_sees_a_path_out_of_the_repository():
    inside, readme = ROOT / "pipeline/ruff.toml", ROOT / "README.md"
    assert not leaves_the_repository(inside, 'extend = "../pyproject.toml"')
    assert leaves_the_repository(readme, "see [the contracts](../ARCHITECTURE.md)")
    assert leaves_the_repository(inside, 'SHARED_DATA = ROOT.parent / "shared" / "data"')
    assert leaves_the_repository(readme, "cp ../shared/data/taxi_zone_lookup.csv .")


def test_the_data_the_tests_and_the_pipeline_need_is_in_the_repository():
    assert (ROOT / "tests/data/yellow_tripdata_2025-01_sample5.parquet").is_file()
    assert (ROOT / "docs/ARCHITECTURE.md").is_file()
    assert ZONE_LOOKUP.is_relative_to(ROOT)
    zones = read_zones()
    assert len(zones) == 265
    assert [zone.location_id for zone in zones] == list(range(1, 266))
    assert zones[0].zone == "Newark Airport"
    assert zones[-1].location_id == 265


def test_the_readme_links_the_architecture_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/ARCHITECTURE.md)" in readme
