"""Flags several commands share, and turning them into validated months."""

from __future__ import annotations

import argparse

from pipeline.contract.audit import AuditThresholds
from pipeline.contract.datasets import DATASETS, DEFAULT_DATASET
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month, month_range, validate_month
from pipeline.local.engines import DEFAULT_ENGINE, ENGINE_NAMES


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="print only results and errors")


def dataset_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", default=DEFAULT_DATASET, help=f"one of {', '.join(sorted(DATASETS))}"
    )


def engine_flag(parser: argparse.ArgumentParser) -> None:
    """`--engine`: parsed here, checked by the local runtime (`pipeline.local.engines`)."""
    parser.add_argument(
        "--engine",
        default=DEFAULT_ENGINE.value,
        metavar="|".join(ENGINE_NAMES),
        help="the transform's engine: duckdb (default, no Java needed) or spark (the code Glue "
        "runs; needs Java 17: make setup-java)",
    )


def month_flags(parser: argparse.ArgumentParser, *, ranged: bool) -> None:
    parser.add_argument("--year", help="e.g. 2024")
    parser.add_argument("--month", help="1-12")
    if ranged:
        # Parsed by months_of, so a bad --from reads like a bad --month (one `error:` line).
        parser.add_argument("--from", dest="start", metavar="YYYY-MM", help="first month")
        parser.add_argument("--to", dest="end", metavar="YYYY-MM", help="last month")


def stack_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="the Pulumi stack to read outputs from (e.g. dev)")


def year_and_month(args: argparse.Namespace, *, ranged: bool = False) -> tuple[str, str]:
    """`--year` and `--month`, both given: the one missing is named, not `invalid month None`."""
    if args.year and args.month:
        return args.year, args.month
    other = " (or --from and --to)" if ranged else ""
    if args.month:
        example = f"e.g. --year 2024 --month {args.month}{other}"
        raise InvalidInput("arguments", f"--month {args.month} without --year",
                           f"give the year too, {example}")  # fmt: skip
    if args.year:
        example = f"e.g. --year {args.year} --month 9{other}"
        raise InvalidInput("arguments", f"--year {args.year} without --month",
                           f"give the month too, {example}")  # fmt: skip
    raise InvalidInput("arguments", "no month", f"give --year and --month{other}")


def months_of(args: argparse.Namespace, dataset_first: Month) -> list[Month]:
    """`--year/--month`, or `--from/--to`, validated for the dataset; a mix is refused."""
    if getattr(args, "start", None) or getattr(args, "end", None):
        if args.year or args.month:
            raise InvalidInput("arguments", "--year/--month with --from/--to", "give one or other")
        if not (args.start and args.end):
            given = "--from" if args.start else "--to"
            raise InvalidInput("arguments", f"{given} alone", "give both --from and --to")
        start, end = Month.parse(args.start), Month.parse(args.end)
        first = validate_month(start.year, start.month, first=dataset_first)
        last = validate_month(end.year, end.month, first=dataset_first)
        return month_range(first, last)
    year, month = year_and_month(args, ranged=True)
    return [validate_month(year, month, first=dataset_first)]


def audit_flags(parser: argparse.ArgumentParser) -> None:
    """`--force-publish` and a flag per audit threshold (`AuditThresholds`: the one definition)."""
    parser.add_argument(
        "--force-publish",
        action="store_true",
        help="publish even when the audit refuses the month (the ledger records it as forced)",
    )
    for spec, default in AuditThresholds().specs():
        parser.add_argument(
            spec.flag, type=float, default=None, metavar="X",
            help=f"{spec.help} (default {default:g})",
        )  # fmt: skip


def thresholds_of(args: argparse.Namespace) -> AuditThresholds:
    """The thresholds the flags give (InvalidInput naming the flag's bad value)."""
    given = {}
    for spec, _ in AuditThresholds().specs():
        value = getattr(args, spec.flag[2:].replace("-", "_"), None)
        if value is not None:
            given[spec.config] = value
    try:
        return AuditThresholds().with_config(given)
    except InvalidInput as error:
        flag = next(s.flag for s, _ in AuditThresholds().specs() if s.config in error.what)
        raise InvalidInput(flag, error.value, error.valid) from None
