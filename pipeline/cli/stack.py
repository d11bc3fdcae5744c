"""Commands on a deployed stack: `start`, `watch`, `backfill`, `status`, `logs`, remote `verify`.

`pipeline.cli.main` calls `add_parsers` and `run`; this module turns flags into a `StackTarget`,
calls `pipeline.ops`, and renders its records (a live view on a terminal, plain lines
otherwise, nothing but results with --quiet, JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from pipeline.cli import flags
from pipeline.cli.errors import EXIT_FAILED, EXIT_OK
from pipeline.contract.datasets import Dataset
from pipeline.ops import aws as ops_aws
from pipeline.ops import logs as ops_logs
from pipeline.ops import runs
from pipeline.ops import verify as ops_verify
from pipeline.ops.aws import utc_now
from pipeline.ops.history import ExecutionView, StepStatus, StepView
from pipeline.ops.stack import StackOutputs, StackTarget
from pipeline.warehouse.base import VerifyReport

# Without a terminal, a line at most this often while nothing changes (a Spark step takes minutes).
HEARTBEAT_SECONDS = 60.0
COMMANDS = ("start", "watch", "backfill", "status", "logs")

_STEP_MARKS = {
    StepStatus.PENDING: ("·", "dim"),
    StepStatus.RUNNING: ("▶", "bold cyan"),
    StepStatus.SUCCEEDED: ("✓", "green"),
    StepStatus.FAILED: ("✗", "bold red"),
}
_STATUS_STYLES = {
    "SUCCEEDED": "green", "RUNNING": "cyan", "PENDING_REDRIVE": "yellow", "REFUSED": "bold yellow",
}  # fmt: skip


# ---------------------------------------------------------------- arguments


def _target_flags(parser: argparse.ArgumentParser, *names: str) -> None:
    """The flags that replace stack outputs, so Pulumi is only needed when they are missing."""
    helps = {
        "--state-machine-arn": "the monthly state machine's ARN (instead of --stack)",
        "--backfill-state-machine-arn": "the backfill state machine's ARN (instead of --stack)",
    }
    for name in names:
        parser.add_argument(name, help=helps[name])
    parser.add_argument("--region", help="AWS region (default: the ARN's, else AWS_DEFAULT_REGION)")


def add_parsers(commands: Any) -> None:
    """Add the deployed-stack commands to `python -m pipeline`'s subcommands."""
    start = commands.add_parser("start", help="start a month on a deployed stack")
    flags.stack_flags(start)
    _target_flags(start, "--state-machine-arn")
    flags.month_flags(start, ranged=False)
    flags.dataset_flag(start)
    start.add_argument("--wait", action="store_true", help="follow it until it ends")
    start.add_argument(
        "--force", action="store_true", help="start even if the month is already running"
    )
    _force_publish_flag(start)
    flags.common(start)

    watch = commands.add_parser("watch", help="follow an execution (default: the latest)")
    flags.stack_flags(watch)
    _target_flags(watch, "--state-machine-arn")
    watch.add_argument("--execution-arn", help="the execution to follow")
    flags.common(watch)

    backfill = commands.add_parser("backfill", help="start a range of months on a stack")
    flags.stack_flags(backfill)
    _target_flags(backfill, "--backfill-state-machine-arn")
    for flag, dest, help_text in (("--from", "start", "first month"), ("--to", "end", "last")):
        backfill.add_argument(flag, dest=dest, required=True, metavar="YYYY-MM", help=help_text)
    flags.dataset_flag(backfill)
    _force_publish_flag(backfill)
    flags.common(backfill)

    status = commands.add_parser("status", help="recent executions and their steps")
    flags.stack_flags(status)
    _target_flags(status, "--state-machine-arn", "--backfill-state-machine-arn")
    status.add_argument("--limit", type=int, default=runs.STATUS_LIMIT, help="per machine")
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    flags.common(status)

    logs = commands.add_parser("logs", help="Glue job logs of the latest (or a given) execution")
    flags.stack_flags(logs)
    _target_flags(logs, "--state-machine-arn")
    logs.add_argument("--execution-arn", help="the execution whose logs to show")
    logs.add_argument("--tail", type=int, default=ops_logs.LOG_TAIL_LINES, help="lines per log")
    flags.common(logs)


def _force_publish_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force-publish",
        action="store_true",
        help="publish despite the audit's refusals (the ledger records it as forced)",
    )


def target_of(args: argparse.Namespace) -> StackTarget:
    """The stack and the names given directly; flags a command lacks simply stay None."""
    given = StackOutputs(
        state_machine_arn=getattr(args, "state_machine_arn", None),
        backfill_state_machine_arn=getattr(args, "backfill_state_machine_arn", None),
        workgroup_name=getattr(args, "workgroup", None),
        database_name=getattr(args, "database", None),
        processed_bucket=getattr(args, "processed_bucket", None),
    )
    return StackTarget(getattr(args, "stack", None), given, getattr(args, "region", None))


def reattach_command(args: argparse.Namespace, execution_arn: str) -> str:
    """The `watch` command that follows `execution_arn` again, with the target given now."""
    command = ["python", "-m", "pipeline", "watch"]
    stack, machine = getattr(args, "stack", None), getattr(args, "state_machine_arn", None)
    if stack:
        command += ["--stack", stack]
    elif machine:
        command += ["--state-machine-arn", machine]
    command += ["--execution-arn", execution_arn]
    if getattr(args, "region", None):
        command += ["--region", args.region]
    return shlex.join(command)


def interrupted_message(args: argparse.Namespace, interrupt: KeyboardInterrupt) -> str:
    """What Ctrl-C left behind: an execution that keeps running in AWS, and how to follow it."""
    execution_arn = getattr(interrupt, "execution_arn", None)
    if not execution_arn:
        return "interrupted"
    return (
        f"interrupted: stopped following {execution_arn.rsplit(':', 1)[-1]}; it keeps running "
        f"in AWS. Follow it again with: {reattach_command(args, execution_arn)}"
    )


def run(args: argparse.Namespace, console: Console) -> int:
    handlers = {
        "start": run_start,
        "watch": run_watch,
        "backfill": run_backfill,
        "status": run_status,
        "logs": run_logs,
    }
    return handlers[args.command](args, console)


def run_start(args: argparse.Namespace, console: Console) -> int:
    quiet = args.quiet

    def announce(started: runs.Started) -> None:
        render_started(console, started, quiet=quiet)

    year, month = flags.year_and_month(args)
    # Without --wait the display only spins while the stack is read and the run started.
    with WatchDisplay(console, quiet=quiet) as display:
        result = runs.start(
            target_of(args),
            year,
            month,
            args.dataset,
            wait=args.wait,
            allow_concurrent=args.force,
            force_publish=args.force_publish,
            on_start=announce,
            on_update=display,
        )
    if result.final is None:
        return EXIT_OK
    return render_final(console, result.final, quiet=quiet)


def run_watch(args: argparse.Namespace, console: Console) -> int:
    with WatchDisplay(console, quiet=args.quiet) as display:
        final = runs.watch(target_of(args), args.execution_arn, on_update=display)
    return render_final(console, final, quiet=args.quiet)


def run_backfill(args: argparse.Namespace, console: Console) -> int:
    with WatchDisplay(console, quiet=args.quiet):
        started = runs.backfill(
            target_of(args), args.start, args.end, args.dataset, force_publish=args.force_publish
        )
    render_started(console, started.started, quiet=args.quiet)
    if not args.quiet:
        months = started.months
        console.print(f"  {len(months)} months, {months[0]} to {months[-1]}; follow with `status`")
    return EXIT_OK


def run_status(args: argparse.Namespace, console: Console) -> int:
    with spinner(console, quiet=args.quiet or args.json) as progress:
        result = runs.status(target_of(args), limit=args.limit, progress=progress)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        render_status(console, result)
    return EXIT_OK


def run_logs(args: argparse.Namespace, console: Console) -> int:
    with spinner(console, quiet=args.quiet) as progress:
        result = ops_logs.logs(
            target_of(args), args.execution_arn, tail=args.tail, progress=progress
        )
    render_logs(console, result)
    return EXIT_OK


def remote_verify(args: argparse.Namespace, dataset: Dataset) -> VerifyReport:
    """`verify --stack S` (or --workgroup/--database), with a spinner while it reads."""
    with spinner(Console(stderr=True), quiet=args.quiet or args.json) as progress:
        return ops_verify.verify(target_of(args), dataset.name, progress=progress)


def remote_reader(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """`months --stack S` and `report --stack S`: the stack's warehouse and lake, read only."""
    return ops_verify.reader(target_of(args))


# ---------------------------------------------------------------- rendering


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def step_mark(step: StepView) -> Text:
    mark, style = _STEP_MARKS[step.status]
    return Text(f"{mark} {step.state}", style=style)


def steps_table(view: ExecutionView, now: datetime) -> Table:
    table = Table(show_header=True, box=None, pad_edge=False)
    table.add_column("step")
    table.add_column("status")
    table.add_column("time", justify="right")
    table.add_column("tries", justify="right")
    table.add_column("detail", overflow="fold")
    for step in view.steps:
        detail = step.reason if step.status is StepStatus.FAILED else ""
        if step.status is StepStatus.RUNNING and step.error:
            detail = f"retrying after: {step.reason}"
        table.add_row(
            step_mark(step),
            step.status.value,
            duration(step.seconds(now)),
            str(step.attempts or ""),
            detail or "",
        )
    return table


def execution_panel(view: ExecutionView, now: datetime) -> Group:
    style = _STATUS_STYLES.get(view.status, "bold red")
    current = view.current_step
    heading = Text.assemble(
        (view.name, "bold"),
        "  ",
        (view.status, style),
        f"  {duration(view.elapsed(now))}",
        f"  now: {current.state}" if current else "",
    )
    return Group(heading, steps_table(view, now))


def render_started(console: Console, started: runs.Started, *, quiet: bool) -> None:
    if quiet:
        print(started.execution_arn)
        return
    console.print(f"started [bold]{started.name}[/bold] with {json.dumps(started.input)}")
    console.print(f"  {started.execution_arn}", style="dim", highlight=False)


def render_final(console: Console, view: ExecutionView, *, quiet: bool) -> int:
    """The outcome; returns the exit code (non-zero unless the execution succeeded)."""
    now = utc_now()
    if not quiet:
        console.print(steps_table(view, now))
    if view.ok:
        console.print(f"[green]✓[/green] {view.name} SUCCEEDED in {duration(view.elapsed(now))}")
        return EXIT_OK
    # soft_wrap: the error stays one line, whole, for grep and for CI logs.
    errors = Console(stderr=True)
    errors.print(
        f"[bold red]✗ {view.name} {status_of(view)}:[/bold red] {view.failure}",
        highlight=False,
        soft_wrap=True,
    )
    for line in view.finding_lines:  # a refused month: what the audit found, one line each
        errors.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)
    return EXIT_FAILED


def status_of(view: ExecutionView) -> str:
    """The execution's status as a person reads it: a month the audit refused is REFUSED."""
    return "REFUSED" if view.refused else view.status


class WatchDisplay:
    """Shows a watched execution: a live table on a terminal, a line per step change otherwise
    (CI logs, `| tee`), and while a step runs a heartbeat line at most every HEARTBEAT_SECONDS.

    Used as `on_update`; with `quiet` it shows nothing (the final result is still printed).
    """

    def __init__(self, console: Console, *, quiet: bool = False, now=utc_now) -> None:
        self.console, self.quiet, self.now = console, quiet, now
        self._view: ExecutionView | None = None
        self._live: Live | None = None
        self._printed: dict[str, StepStatus] = {}
        self._last_line: datetime | None = None  # when a line was last printed (no live view)

    def __enter__(self) -> WatchDisplay:
        if not self.quiet and self.console.is_terminal:
            # A callable renderable: the elapsed time ticks between polls.
            self._live = Live(
                get_renderable=self._renderable,
                console=self.console,
                refresh_per_second=2,
                transient=True,
            )
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _renderable(self) -> Any:
        if self._view is None:
            return Spinner("dots", text=Text("reading the stack, starting…", style="dim"))
        return execution_panel(self._view, self.now())

    def __call__(self, view: ExecutionView) -> None:
        self._view = view
        if self.quiet or self._live is not None:
            return
        now = self.now()
        changed = False
        for step in view.steps:
            if step.status is StepStatus.PENDING or self._printed.get(step.state) == step.status:
                continue
            self._printed[step.state] = step.status
            seconds = step.seconds(now) if step.status is not StepStatus.RUNNING else None
            self.console.print(
                Text.assemble(step_mark(step), f" {step.status.value} {duration(seconds)}")
            )
            changed = True
        if changed or self._last_line is None:
            self._last_line = now
        elif not view.finished and (now - self._last_line).total_seconds() >= HEARTBEAT_SECONDS:
            self._heartbeat(view, now)
            self._last_line = now

    def _heartbeat(self, view: ExecutionView, now: datetime) -> None:
        """A log without a live view still shows the run is alive: the step and its time."""
        step = view.current_step
        if step is not None:
            line = Text.assemble(step_mark(step), f" still running {duration(step.seconds(now))}")
        else:  # between steps: checking the input, sending the alert
            line = Text(f"… {view.name} {view.status} {duration(view.elapsed(now))}")
        self.console.print(line)


@contextmanager
def spinner(console: Console, *, quiet: bool) -> Iterator[ops_aws.Progress | None]:
    """A progress callback (what, done, total) drawn as a transient spinner; None when quiet."""
    if quiet:
        yield None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("asking AWS", total=None)

    def update(what: str, done: int, total: int | None) -> None:
        progress.update(task, description=what, completed=done, total=total)

    with progress:
        yield update


def _months_of(view: ExecutionView) -> str:
    """What the execution loads, from its input: `yellow 2024-09` or `yellow 2024-01..2024-06`."""
    given = view.input
    dataset = given.get("dataset", "")
    if "from" in given or "to" in given:
        return f"{dataset} {given.get('from', '?')}..{given.get('to', '?')}".strip()
    if "year" in given or "month" in given:
        return f"{dataset} {given.get('year', '?')}-{given.get('month', '?')}".strip()
    return ""


def _progress_of(view: ExecutionView, role: str) -> Text:
    if view.children is not None:
        runs = view.children
        return Text(f"{runs.succeeded} ok, {runs.failed} failed, {runs.running} running")
    if role != "monthly":
        return Text("")
    return Text(" ").join(step_mark(step) for step in view.steps)


def status_table(machine: runs.MachineExecutions, now: datetime) -> Table:
    # At 80 columns: no vertical rules; status, start and time whole; the other columns share
    # the rest by ratio, each at least its header's longest word wide, and fold their cells
    # (never an ellipsis).
    table = Table(
        title=f"{machine.role}: {machine.state_machine_arn.rsplit(':', 1)[-1]}",
        box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), collapse_padding=True,
        expand=True,
    )  # fmt: skip
    progress = "steps" if machine.role == "monthly" else "months"
    for header, ratio in (("execution", 3), ("loads", 2)):
        table.add_column(header, overflow="fold", ratio=ratio, width=len(header))
    table.add_column("status", no_wrap=True, min_width=len("SUCCEEDED"))
    table.add_column("started (UTC)", no_wrap=True, min_width=len("2024-11-01 12:00"))
    table.add_column("time", justify="right", no_wrap=True, min_width=len("1h02m"))
    for header, ratio in ((progress, 3), ("error", 3)):
        table.add_column(header, overflow="fold", ratio=ratio, width=len(header))
    for view in machine.executions:
        status = status_of(view)
        table.add_row(
            view.name,
            _months_of(view),
            Text(status, style=_STATUS_STYLES.get(status, "bold red")),
            view.started.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M"),
            duration(view.elapsed(now)),
            _progress_of(view, machine.role),
            "\n".join([view.failure or "", *view.finding_lines]).strip(),
        )
    return table


def render_status(console: Console, result: runs.StatusResult) -> None:
    for machine in result.machines:
        if not machine.executions:
            console.print(f"{machine.role}: no executions yet")
            continue
        console.print(status_table(machine, result.now))


def render_logs(console: Console, result: ops_logs.LogsResult) -> None:
    view = result.execution
    console.print(Text.assemble((view.name, "bold"), "  ", view.status))
    if not result.runs:
        console.print("no Glue job ran in this execution", style="yellow")
    for run in result.runs:
        state = f" {run.state}" if run.state else ""
        console.rule(f"{run.step} · {run.job_name or '?'} · {run.run_id}{state}")
        if run.error:
            console.print(run.error, style="bold red", highlight=False)
        if not run.streams:
            console.print("no log events found (yet)", style="dim")
        for stream in run.streams:
            console.print(f"{stream.group} {stream.stream}", style="dim", highlight=False)
            if stream.more_before:
                console.print("…", style="dim")
            for line in stream.lines:
                console.print(line, markup=False, highlight=False)
