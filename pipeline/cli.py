"""`python -m pipeline`: run months here, or start, watch and verify them on a deployed stack.

Parses arguments and calls the module that does the work. Expected failures (`PipelineError`)
print one line, with no traceback. Exit codes:

- 0: done (a check found nothing wrong);
- 1: something ran and failed: a step failed (locally, or the execution watched), a check found
  a difference (`verify` MISMATCH), or AWS, the source or the stack could not be used (a refused
  AWS call, no Pulumi CLI or stack, an unpublished month): any `PipelineError` but bad input;
- 2: bad input (`InvalidInput`: a bad month, flag or combination of flags), found before any
  side effect; argparse's own usage errors exit 2 too;
- 130: interrupted (Ctrl-C); an execution already started keeps running in AWS, and the
  message gives the `watch` command that follows it again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from rich.console import Console

from pipeline.datasets import DATASETS, DEFAULT_DATASET, get_dataset
from pipeline.errors import InvalidInput, PipelineError
from pipeline.local import DEFAULT_WORKDIR, LocalPipeline, MonthRun
from pipeline.months import Month, month_range, validate_month

EXIT_FAILED = 1  # a step failed, a check found a difference, AWS or the stack unavailable
EXIT_BAD_INPUT = 2  # `InvalidInput`: nothing ran (a bad month, flag or mix of flags)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


def _month_arg(text: str) -> Month:
    try:
        return Month.parse(text)
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="print only results and errors")


def _dataset_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", default=DEFAULT_DATASET, help=f"one of {', '.join(sorted(DATASETS))}"
    )


def _month_flags(parser: argparse.ArgumentParser, *, ranged: bool) -> None:
    parser.add_argument("--year", help="e.g. 2024")
    parser.add_argument("--month", help="1-12")
    if ranged:
        parser.add_argument("--from", dest="start", type=_month_arg, help="first month YYYY-MM")
        parser.add_argument("--to", dest="end", type=_month_arg, help="last month YYYY-MM")


def _stack_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="the Pulumi stack to read outputs from (e.g. dev)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline", description="tlc-elt: NYC TLC trips, month by month."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="offline: a synthetic month through the pipeline")
    demo.add_argument("--rows", type=int, default=None, help="rows in the synthetic month")
    demo.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR / "demo")
    demo.add_argument("--seed", type=int, default=20240901)
    _common(demo)

    local = commands.add_parser("local", help="run ingest, transform and load here")
    _month_flags(local, ranged=True)
    _dataset_flag(local)
    local.add_argument("--source", help="URL or path of the month's file (default: TLC's URL)")
    local.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    _common(local)

    verify = commands.add_parser("verify", help="row counts per month in the warehouse")
    verify.add_argument("--workdir", type=Path, default=None, help="a local run's folder")
    _stack_flags(verify)
    _dataset_flag(verify)
    verify.add_argument("--workgroup", help="Redshift workgroup (instead of --stack)")
    verify.add_argument("--database", help="Redshift database (instead of --stack)")
    verify.add_argument("--processed-bucket", help="processed bucket (instead of --stack)")
    verify.add_argument("--region", help="AWS region (default: from the ARNs or boto3's)")
    verify.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _common(verify)

    from pipeline import operate_cli

    operate_cli.add_commands(commands, _common, _stack_flags, _dataset_flag, _month_flags)
    return parser


def _months(args: argparse.Namespace, dataset_first: Month) -> list[Month]:
    if args.start or args.end:
        if args.year or args.month:
            raise InvalidInput("arguments", "--year/--month with --from/--to", "give one or other")
        if not (args.start and args.end):
            raise InvalidInput("range", f"{args.start}..{args.end}", "give both --from and --to")
        first = validate_month(args.start.year, args.start.month, first=dataset_first)
        last = validate_month(args.end.year, args.end.month, first=dataset_first)
        return month_range(first, last)
    if not (args.year and args.month):
        raise InvalidInput("month", None, "give --year and --month, or --from and --to")
    return [validate_month(args.year, args.month, first=dataset_first)]


def run_local(args: argparse.Namespace, console: Console) -> int:
    from pipeline.progress import ConsoleObserver
    from pipeline.render import quality_table

    dataset = get_dataset(args.dataset)
    months = _months(args, dataset.first_month)
    if args.source and len(months) > 1:
        raise InvalidInput("--source", args.source, "a single file serves a single month")
    observer = ConsoleObserver(console, quiet=args.quiet)
    pipeline = LocalPipeline(args.workdir, observer=observer)
    try:
        for month in months:
            run = pipeline.run_month(dataset, month, args.source)
            _print_month(console, run, pipeline, quality_table)
    finally:
        observer.close()
        pipeline.close()
    return 0


def _print_month(console: Console, run: MonthRun, pipeline: LocalPipeline, table: Callable) -> None:
    counts = pipeline.transform_counts(run.dataset, run.month)
    if counts is not None:
        console.print(table(counts))
    console.print(f"{run.dataset.name} {run.month}: done in {run.seconds:.1f}s")


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
    from pipeline.render import verify_table

    dataset = get_dataset(args.dataset)
    if verify_is_remote(args):
        from pipeline import operate_cli

        rows, title = operate_cli.remote_verify_rows(args, dataset)
    else:
        rows, title = local_verify_rows(args.workdir or DEFAULT_WORKDIR, dataset)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        console.print(verify_table(title, rows))
    return EXIT_FAILED if any(row.get("status") == "MISMATCH" for row in rows) else 0


def local_verify_rows(workdir: Path, dataset: Any) -> tuple[list[dict[str, Any]], str]:
    from pipeline.render import compare_counts

    if not (Path(workdir) / "warehouse.duckdb").is_file():
        raise InvalidInput("--workdir", str(workdir), "a folder with warehouse.duckdb: run `local`")
    pipeline = LocalPipeline(workdir)
    try:
        counts = [(str(c.month), c.rows) for c in pipeline.month_counts(dataset)]
        transform = {}
        for month_text, _ in counts:
            found = pipeline.transform_counts(dataset, Month.parse(month_text))
            if found is not None:
                transform[month_text] = found
    finally:
        pipeline.close()
    return compare_counts(counts, transform), f"{dataset.table} in {workdir}/warehouse.duckdb"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=False, quiet=False)
    errors = Console(stderr=True)
    handlers: dict[str, Callable[[argparse.Namespace, Console], int]] = {
        "local": run_local,
        "verify": run_verify,
    }
    try:
        if args.command == "demo":
            from pipeline.demo import run_demo_command

            return run_demo_command(args, console)
        if args.command in handlers:
            return handlers[args.command](args, console)
        from pipeline import operate_cli

        return operate_cli.run(args, console)
    except PipelineError as error:
        # soft_wrap: one line, whole, whatever the width (for grep and CI logs).
        errors.print(f"[bold red]error:[/bold red] {error}", highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT if isinstance(error, InvalidInput) else EXIT_FAILED
    except KeyboardInterrupt as interrupt:
        from pipeline.operate_cli import interrupted_message

        errors.print(interrupted_message(args, interrupt), highlight=False, soft_wrap=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
