"""Flags several commands share, and turning them into validated months."""

from __future__ import annotations

import argparse

from pipeline.contract.audit import AuditThresholds
from pipeline.contract.datasets import DATASETS, DEFAULT_DATASET
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month, month_range, validate_month
from pipeline.local.engines import DEFAULT_ENGINE, ENGINE_NAMES


def month_arg(text: str) -> Month:
    try:
        return Month.parse(text)
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
        parser.add_argument("--from", dest="start", type=month_arg, help="first month YYYY-MM")
        parser.add_argument("--to", dest="end", type=month_arg, help="last month YYYY-MM")


def stack_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="the Pulumi stack to read outputs from (e.g. dev)")


def months_of(args: argparse.Namespace, dataset_first: Month) -> list[Month]:
    """`--year/--month`, or `--from/--to`, validated for the dataset; a mix is refused."""
    if getattr(args, "start", None) or getattr(args, "end", None):
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
