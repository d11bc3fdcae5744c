"""Commands on this machine: `local` (run months here), `verify` (local or a stack), `demo`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from pipeline.cli import flags
from pipeline.cli.errors import EXIT_FAILED, EXIT_OK
from pipeline.cli.progress import ConsoleObserver
from pipeline.cli.render import months_table, quality_table, verify_table
from pipeline.contract.datasets import DATASETS, get_dataset
from pipeline.contract.errors import InvalidInput, MonthRefused
from pipeline.contract.ledger import TABLE as LEDGER_TABLE
from pipeline.contract.steps import step_named
from pipeline.jobs.source import open_source
from pipeline.local.runner import (
    DEFAULT_WORKDIR,
    WAREHOUSE_FILE,
    LocalPipeline,
    MonthRun,
    local_reader,
    verify_local,
)

REPORT_FILE = "tlc-elt-report.html"
AUDIT_JOB = step_named("audit_month").job
COMMANDS = ("demo", "local", "verify", "rollback", "months", "report")
DEMO_WORKDIR = DEFAULT_WORKDIR / "demo"
_WORKDIR_HELP = (
    "the run's folder: lake/ (raw, processed), warehouse.duckdb, run.lock; created if missing "
    "(default: %(default)s)"
)


def add_parsers(commands: Any) -> None:
    demo = commands.add_parser("demo", help="offline: a synthetic month through the pipeline")
    demo.add_argument("--rows", type=int, default=None, help="rows in the synthetic month")
    demo.add_argument("--workdir", type=Path, default=DEMO_WORKDIR, help=_WORKDIR_HELP)
    demo.add_argument("--seed", type=int, default=20240901, help="the generator's seed")
    flags.engine_flag(demo)
    flags.common(demo)

    local = commands.add_parser("local", help="run ingest, transform and load here")
    flags.month_flags(local, ranged=True)
    flags.dataset_flag(local)
    local.add_argument("--source", help="URL or path of the month's file (default: TLC's URL)")
    local.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help=_WORKDIR_HELP)
    flags.engine_flag(local)
    flags.audit_flags(local)
    local.add_argument("--json", action="store_true", help="print each month's steps as JSON")
    flags.common(local)

    rollback = commands.add_parser(
        "rollback", help="publish a month's previous run again (kept 30 days after replaced)"
    )
    flags.month_flags(rollback, ranged=False)
    flags.dataset_flag(rollback)
    rollback.add_argument("--run", help="the run to publish (default: the one replaced last)")
    rollback.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help=_WORKDIR_HELP)
    flags.common(rollback)

    months = commands.add_parser(
        "months", help="what each month holds: rows, last publish, change, forced, findings"
    )
    months.add_argument("--workdir", type=Path, default=None, help="a local run's folder")
    flags.stack_flags(months)
    months.add_argument("--dataset", choices=sorted(DATASETS), help="one dataset (default: all)")
    months.add_argument("--json", action="store_true", help="print JSON instead of a table")
    flags.common(months)

    report = commands.add_parser(
        "report", help="one self-contained HTML page: coverage, rows, quarantine, profiles"
    )
    report.add_argument("--workdir", type=Path, default=None, help="a local run's folder")
    flags.stack_flags(report)
    report.add_argument(
        "--output", type=Path, default=Path(REPORT_FILE), help=f"default {REPORT_FILE}"
    )
    flags.common(report)

    verify = commands.add_parser("verify", help="row counts per month in the warehouse")
    verify.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help=f"a local run's folder (default: {DEFAULT_WORKDIR}, unless a stack is named)",
    )
    flags.stack_flags(verify)
    verify.add_argument(
        "--dataset", choices=sorted(DATASETS), help="one dataset (default: every one with rows)"
    )
    verify.add_argument("--workgroup", help="Redshift workgroup (instead of --stack)")
    verify.add_argument("--database", help="Redshift database (instead of --stack)")
    verify.add_argument("--processed-bucket", help="processed bucket (instead of --stack)")
    verify.add_argument("--region", help="AWS region (default: from the ARNs or boto3's)")
    verify.add_argument("--json", action="store_true", help="print JSON instead of a table")
    flags.common(verify)


def run(args: argparse.Namespace, console: Console) -> int:
    handlers = {"demo": run_demo_command, "local": run_local, "verify": run_verify,
                "rollback": run_rollback, "months": run_months, "report": run_report}  # fmt: skip
    return handlers[args.command](args, console)


def run_local(args: argparse.Namespace, console: Console) -> int:
    dataset = get_dataset(args.dataset)
    months = flags.months_of(args, dataset.first_month)
    if args.source and len(months) > 1:
        raise InvalidInput("--source", args.source, "a single file serves a single month")
    thresholds = flags.thresholds_of(args)
    if args.source:
        open_source(args.source)  # a missing file, a directory, a bad scheme: before the lock
    observer = ConsoleObserver(console, quiet=args.quiet or args.json)
    # The engine is checked here (InvalidInput), the workdir's lock taken by `locked`: both
    # before anything is written.
    pipeline = LocalPipeline(
        args.workdir, engine=args.engine, observer=observer, thresholds=thresholds,
        force_publish=args.force_publish,
    )  # fmt: skip
    done: list[dict[str, Any]] = []
    try:
        with pipeline.locked(dataset, months):
            for month in months:
                try:
                    run = pipeline.run_month(dataset, month, args.source)
                except MonthRefused as refused:
                    observer.close()
                    if not args.json:
                        _print_counts(console, pipeline.run_counts(dataset, month, refused.result))
                    raise
                counts = pipeline.run_counts(dataset, month, run)
                done.append(month_record(run, counts))
                if args.json:
                    continue
                _print_counts(console, counts)
                _print_audit(console, run.figures(AUDIT_JOB))
                console.print(
                    f"{run.dataset.name} {run.month}: published run {run.run_id} in "
                    f"{run.seconds:.1f}s"
                )
    finally:
        observer.close()
    if args.json:
        record = {"workdir": str(args.workdir), "engine": pipeline.engine.value, "months": done}
        print(json.dumps(record, indent=2, default=str))
    return EXIT_OK


def month_record(run: MonthRun, counts: dict[str, Any] | None) -> dict[str, Any]:
    """`local --json`: a month's steps (state, seconds, figures) and transform's counts."""
    steps = [
        {"step": step.step.state, "seconds": round(step.seconds, 3), "figures": step.figures}
        for step in run.steps
    ]
    return {
        "dataset": run.dataset.name,
        "month": str(run.month),
        "run_id": run.run_id,
        "seconds": round(run.seconds, 3),
        "steps": steps,
        "counts": counts,
    }


def interrupted_message(args: argparse.Namespace) -> str:
    """Ctrl-C in a local run: what is left, and that running it again is safe."""
    return (
        f"interrupted: the {args.command} run in {args.workdir} stopped before the month was "
        "done; run the same command again (every step replaces its month)"
        if args.command in ("local", "demo")
        else "interrupted"
    )


def _print_counts(console: Console, counts: dict[str, Any] | None) -> None:
    if counts is not None:
        console.print(quality_table(counts))


def _print_audit(console: Console, figures: dict[str, Any]) -> None:
    """The audit's verdict when it has something to say (warnings, a forced publish)."""
    for finding in figures.get("findings", []):
        console.print(
            f"{finding['severity']}: {finding['rule']}: {finding['message']}",
            highlight=False, soft_wrap=True, markup=False,
        )  # fmt: skip
    if figures.get("verdict") == "forced":
        console.print("forced: published despite the refusals above (--force-publish)")


def run_rollback(args: argparse.Namespace, console: Console) -> int:
    dataset = get_dataset(args.dataset)
    (month,) = flags.months_of(args, dataset.first_month)
    observer = ConsoleObserver(console, quiet=args.quiet)
    pipeline = LocalPipeline(args.workdir, observer=observer)
    try:
        run = pipeline.rollback(dataset, month, args.run)
    finally:
        observer.close()
        pipeline.close()
    console.print(f"{dataset.name} {month}: published run {run.run_id} again")
    return EXIT_OK


def _reader(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """(warehouse, lake, where) of `--workdir` or `--stack`, for reading only."""
    if getattr(args, "stack", None):
        if args.workdir is not None:
            raise InvalidInput("arguments", "--workdir with --stack", f"give one of {_WHERE}")
        from pipeline.cli import stack

        return stack.remote_reader(args)
    workdir = local_workdir(args.workdir)
    return (*local_reader(workdir), f"{workdir}/{WAREHOUSE_FILE}")


def run_months(args: argparse.Namespace, console: Console) -> int:
    from pipeline.report.months import month_lines
    from pipeline.report.queries import ledger_sql

    warehouse, _, where = _reader(args)
    rows = warehouse.rows(ledger_sql()) if warehouse.has_table(LEDGER_TABLE) else []
    lines = [line for line in month_lines(rows) if args.dataset in (None, line["dataset"])]
    if args.json:
        print(json.dumps(lines, indent=2))
    elif not lines:
        what = f"{args.dataset} " if args.dataset else ""
        console.print(f"nothing published: no {what}month in {where} yet")
    else:
        console.print(months_table(where, lines))
    return EXIT_OK


def run_report(args: argparse.Namespace, console: Console) -> int:
    from pipeline.report.page import write_report
    from pipeline.report.queries import collect

    warehouse, lake, where = _reader(args)
    data = collect(warehouse, lake)
    path = write_report(data, args.output)
    console.print(f"report of {where}: {path} (open it in a browser; it needs no network)")
    return EXIT_OK


_REMOTE_VERIFY_FLAGS = ("stack", "workgroup", "database", "processed_bucket", "region")
_WHERE = "--workdir DIR for a local run, or --stack S (or --workgroup W --database D)"


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def verify_is_remote(args: argparse.Namespace) -> bool:
    """Which warehouse `verify` reads; a mix of both kinds of flags, or half a target, is refused.

    Local: `--workdir` (or nothing: the default workdir). Remote: `--stack`, or `--workgroup`
    with `--database`; `--processed-bucket` and `--region` only qualify a remote target.
    """
    remote = [_flag(dest) for dest in _REMOTE_VERIFY_FLAGS if getattr(args, dest, None)]
    if args.workdir is not None and remote:
        raise InvalidInput(
            "arguments", f"--workdir with {' '.join(remote)}", f"give one of {_WHERE}"
        )
    if args.stack:
        return True
    if bool(args.workgroup) != bool(args.database):
        given, lacking = ("--workgroup", "--database")[:: 1 if args.workgroup else -1]
        raise InvalidInput(
            "arguments", f"{given} without {lacking}", "give both, or --stack S to read them"
        )
    if remote and not args.workgroup:
        raise InvalidInput(
            "arguments",
            f"{' '.join(remote)} without --stack or --workgroup/--database",
            "they apply to a deployed stack: add --stack S, or --workgroup W --database D",
        )
    return bool(remote)


def run_verify(args: argparse.Namespace, console: Console) -> int:
    """Every dataset with rows (or `--dataset`): a table each, or one JSON list of rows."""
    remote = verify_is_remote(args)
    datasets = [get_dataset(args.dataset)] if args.dataset else list(DATASETS.values())
    reports = []
    for dataset in datasets:
        if remote:
            from pipeline.cli import stack  # boto3 and the stack commands only when asked for

            report = stack.remote_verify(args, dataset)
        else:
            report = verify_local(local_workdir(args.workdir), dataset)
        if report.months or args.dataset:
            reports.append(report)
    if args.json:
        print(json.dumps([row for report in reports for row in report.rows()], indent=2))
    elif not reports:
        console.print("nothing published: no dataset has rows in this warehouse yet")
    else:
        for report in reports:
            console.print(verify_table(report.title, report.rows()))
    return EXIT_OK if all(report.ok for report in reports) else EXIT_FAILED


def local_workdir(given: Path | None) -> Path:
    """`verify`'s workdir; with none given and no warehouse in the default one but the demo's,
    say where the demo's is and how to verify it (`make demo` runs in DEMO_WORKDIR)."""
    if given is not None:
        return given
    if not (DEFAULT_WORKDIR / WAREHOUSE_FILE).is_file() and (
        (DEMO_WORKDIR / WAREHOUSE_FILE).is_file()
    ):
        raise InvalidInput(
            "--workdir",
            str(DEFAULT_WORKDIR),
            f"no {WAREHOUSE_FILE} there; the demo's workdir is {DEMO_WORKDIR}: "
            f"python -m pipeline verify --workdir {DEMO_WORKDIR}",
        )
    return DEFAULT_WORKDIR


def run_demo_command(args: argparse.Namespace, console: Console) -> int:
    from pipeline.dev.demo import run_demo  # numpy and the generator only for the demo

    observer = ConsoleObserver(console, quiet=args.quiet)
    try:
        result = run_demo(
            Path(args.workdir),
            **({} if args.rows is None else {"rows": args.rows}),
            seed=args.seed,
            engine=args.engine,
            observer=observer,
            say=(lambda line: None) if args.quiet else console.print,
        )
    finally:
        observer.close()
    if result.counts is not None:
        console.print(quality_table(result.counts))
    console.print(verify_table(result.verify.title, result.verify.rows()))
    verdict = (
        "match what the generator planted" if result.matches else "DIFFER from the generator's"
    )
    console.print(f"Synthetic month: counts {verdict} · pipeline {result.seconds:.1f}s")
    return EXIT_OK if result.matches else EXIT_FAILED
