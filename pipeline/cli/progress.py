"""Live progress for local runs: a line per step, a byte bar for downloads, figures at the end."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from pipeline.contract.datasets import Dataset
from pipeline.contract.months import Month
from pipeline.contract.steps import Step
from pipeline.jobs.ingest import PROGRESS as DOWNLOAD
from pipeline.local.runner import Observer, StepRun

# Figures worth a glance when a step ends, in the order shown.
_HEADLINE = (
    "bytes",
    "rows",
    "rows_in",
    "rows_loaded",
    "rows_quarantined",
    "rows_deleted",
    "rows_inserted",
    "part_files",
)


def headline(figures: dict[str, Any]) -> str:
    parts = []
    for key in _HEADLINE:
        value = figures.get(key)
        if isinstance(value, list):
            value = len(value)
        if isinstance(value, int) and not isinstance(value, bool):
            parts.append(f"{key}={value:,}")
    if figures.get("unchanged"):
        parts.append("unchanged")
    return " ".join(parts)


class AmountColumn(ProgressColumn):
    """Bytes and speed while ingest downloads; a row count for the steps that report rows."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = DownloadColumn()
        self._speed = TransferSpeedColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") == "bytes":
            return Text.assemble(self._bytes.render(task), " ", self._speed.render(task))
        if not task.completed and task.total is None:
            return Text("")
        total = "" if task.total is None else f" of {int(task.total):,}"
        return Text(f"{int(task.completed):,}{total} rows")


class ConsoleObserver(Observer):
    """Draws progress on a rich Console; with `quiet`, prints nothing at all."""

    def __init__(self, console: Console | None = None, quiet: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._label = ""

    def step_started(self, step: Step, dataset: Dataset, month: Month) -> None:
        self.close()
        self._label = f"{dataset.name} {month} {step.state}"
        # Off a terminal (a log, a pipe) a live bar draws nothing but a blank line as it stops:
        # there, each step is its line when it ends.
        if self.quiet or not self.console.is_terminal:
            return
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            AmountColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(f"{self._label}: {step.summary}", total=None)

    def progress(self, what: str, done: int, total: int | None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task,
                completed=done,
                total=total,
                description=f"{self._label}: {what}",
                unit="bytes" if what == DOWNLOAD else "rows",
            )

    def step_finished(self, run: StepRun) -> None:
        self.close()
        if not self.quiet:
            self.console.print(
                f"[green]✓[/green] {self._label} [dim]{run.seconds:.1f}s[/dim] "
                f"{headline(run.figures)}"
            )

    def notice(self, text: str) -> None:
        self.close()
        if not self.quiet:
            self.console.print(f"[yellow]note:[/yellow] {text}", highlight=False)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
