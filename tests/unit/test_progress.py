"""Local-run progress: bytes while ingest downloads, rows for the steps that count rows."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress

from pipeline.cli.progress import AmountColumn, ConsoleObserver
from pipeline.contract.steps import STEPS
from pipeline.jobs.ingest import PROGRESS as DOWNLOAD


def rendered(unit: str, done: int, total: int | None) -> str:
    progress = Progress()
    task_id = progress.add_task("x", total=total, unit=unit)
    progress.update(task_id, completed=done)
    return AmountColumn().render(progress.tasks[0]).plain


def test_download_shows_bytes_and_rows_show_rows():
    assert "MB" in rendered("bytes", 5_000_000, 90_000_000)
    assert rendered("rows", 3_404_205, 3_500_000) == "3,404,205 of 3,500,000 rows"
    assert rendered("rows", 12, None) == "12 rows"
    assert rendered("rows", 0, None) == ""


def test_the_observer_tags_each_report_with_its_unit():
    observer = ConsoleObserver(Console(file=io.StringIO(), force_terminal=True))
    observer.step_started(STEPS[0], _Named("yellow"), "2024-01")
    observer.progress(DOWNLOAD, 1024, 2048)
    assert observer._progress.tasks[0].fields["unit"] == "bytes"
    observer.progress("rows checked", 10, 10)
    assert observer._progress.tasks[0].fields["unit"] == "rows"
    observer.close()


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name
