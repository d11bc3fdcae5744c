"""Stack settings: a pure function from the stack's config values to one frozen, checked record.

`build_settings({"redshiftBaseCapacity": "16", ...}, "prod")` returns `StackSettings` or raises
`InvalidInput` naming the key, the bad value and what is valid, before any resource exists.
Values arrive as Pulumi gives them (strings; lists as JSON text) or as plain Python values.
Defaults depend on the stack: `dev` gets cheap, disposable defaults; every other stack gets the
production ones (protected data, schedule on), so a new stack is safe unless told otherwise.
No Pulumi import: unit-tested as a plain function, fed from `pulumi.Config` by `__main__.py`.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from components.asl import Sizing
from pipeline.contract.audit import AuditThresholds
from pipeline.contract.datasets import DATASETS, DEFAULT_DATASET
from pipeline.contract.errors import InvalidInput

NAMESPACE = "tlc-elt"
DEV_STACK = "dev"

PYTHON_SHELL_DPUS = (0.0625, 1.0)  # the only capacities Glue Python Shell accepts
SPARK_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")  # Glue 5.0 batch (non-streaming) workers
USAGE_PERIODS = ("daily", "weekly", "monthly")
BREACH_ACTIONS = ("log", "emit-metric", "deactivate")
EXECUTION_LOG_LEVELS = ("ALL", "ERROR")
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)  # fmt: skip
# S3 refuses a STANDARD_IA transition earlier than 30 days after creation.
MIN_IA_TRANSITION_DAYS = 30
RPU_STEP, MIN_BASE_RPU, MAX_BASE_RPU, MAX_RPU = 8, 8, 1024, 5632
MAX_GLUE_TIMEOUT_MINUTES = 2880  # Glue's upper bound for a job run (48 h)
MAX_MAP_CONCURRENCY = 40  # an inline Map runs at most 40 iterations at once
MAX_ATHENA_SCAN_GB = 100_000

# A bucket name prefix has at most 37 characters; "tlc-elt-<stack>-processed-" leaves 18.
_STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")


class Profile(enum.Enum):
    DEV = "dev"
    PROD = "prod"

    @classmethod
    def for_stack(cls, stack: str) -> Profile:
        return cls.DEV if stack == DEV_STACK else cls.PROD


@dataclass(frozen=True)
class StackSettings:
    """Everything the program reads from config, typed and checked. See KEYS for each meaning."""

    stack: str
    profile: Profile
    protect_data: bool
    kms_key_arn: str | None
    raw_transition_days: int | None
    raw_expiration_days: int | None
    raw_noncurrent_version_days: int
    python_shell_dpu: float
    spark_worker_type: str
    spark_workers: Mapping[str, int]  # per dataset
    job_timeout_minutes: Mapping[str, int]  # per dataset
    backfill_concurrency: int
    redshift_base_capacity: int
    redshift_max_capacity: int
    usage_limit_rpu_hours: int
    usage_limit_period: str
    usage_limit_breach_action: str
    redshift_subnet_ids: tuple[str, ...]
    redshift_security_group_ids: tuple[str, ...]
    schedule_enabled: bool
    schedule_cron: str
    schedule_timezone: str
    scheduled_datasets: tuple[str, ...]
    execution_log_level: str
    log_retention_days: int
    alert_email: str | None
    athena_scan_limit_gb: int
    audit: Mapping[str, AuditThresholds]  # per dataset

    @property
    def prefix(self) -> str:
        """Physical names of this stack's resources start with this (`tlc-elt-dev-...`)."""
        return f"{NAMESPACE}-{self.stack}"

    @property
    def sizing(self) -> dict[str, Sizing]:
        """Every dataset's Glue runs: its Spark workers, its jobs' timeout, its audit's
        thresholds."""
        return {
            name: Sizing(
                self.spark_workers[name],
                self.job_timeout_minutes[name],
                self.audit[name],
            )
            for name in DATASETS
        }

    @property
    def job_timeout_ceiling(self) -> int:
        """The Glue jobs' own timeout (a run the state machine starts passes its dataset's)."""
        return max(self.job_timeout_minutes.values())

    @property
    def default_spark_workers(self) -> int:
        """The Spark job's own worker count (a run the state machine starts passes its own)."""
        return self.spark_workers[DEFAULT_DATASET]

    @property
    def job_max_concurrent_runs(self) -> int:
        """Every backfill month may run a job at once, plus one scheduled or manual run."""
        return self.backfill_concurrency + 1


class _Rejected(Exception):
    """A parser's refusal; `build_settings` turns it into InvalidInput naming the key."""


Parser = Callable[[Any], Any]


@dataclass(frozen=True)
class Key:
    """One config key: its settings field, parser, what is valid, and its default per profile."""

    name: str
    field: str
    parse: Parser
    valid: str
    dev: Any
    prod: Any
    doc: str

    def default(self, profile: Profile) -> Any:
        return self.dev if profile is Profile.DEV else self.prod


def _text(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        raise _Rejected
    return str(value).strip()


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text not in ("true", "false"):
        raise _Rejected
    return text == "true"


def integer(low: int, high: int, step: int = 1) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise _Rejected
        text = _text(value)
        if not re.fullmatch(r"\d+", text):
            raise _Rejected
        number = int(text)
        if not low <= number <= high or number % step:
            raise _Rejected
        return number

    return parse


def one_of(options: Sequence[Any], convert: Callable[[str], Any] = str) -> Parser:
    def parse(value: Any) -> Any:
        try:
            chosen = convert(_text(value))
        except ValueError:
            raise _Rejected from None
        if chosen not in options:
            raise _Rejected
        return chosen

    return parse


def optional(parse: Parser) -> Parser:
    """`none` (or an empty value) switches the setting off; anything else goes to `parse`."""

    def parse_optional(value: Any) -> Any:
        if value is None or _text(value).lower() in ("", "none"):
            return None
        return parse(value)

    return parse_optional


def matching(pattern: str) -> Parser:
    compiled = re.compile(pattern)

    def parse(value: Any) -> str:
        text = _text(value)
        if not compiled.fullmatch(text):
            raise _Rejected
        return text

    return parse


def listed(item: Parser, *, minimum: int = 0) -> Parser:
    """A list, given as a list or as JSON text (how Pulumi passes structured config)."""

    def parse(value: Any) -> tuple[Any, ...]:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except ValueError:
                raise _Rejected from None
        if not isinstance(value, (list, tuple)) or len(value) < minimum:
            raise _Rejected
        items = tuple(item(element) for element in value)
        if len(set(items)) != len(items):
            raise _Rejected
        return items

    return parse


def per_dataset(item: Parser) -> Parser:
    """One value for every dataset, or a map of some datasets to theirs (JSON text, or a dict;
    the others keep their defaults): `6`, `{"fhvhv": 10}`."""

    def parse(value: Any) -> dict[str, Any]:
        if isinstance(value, str) and value.strip().startswith("{"):
            try:
                value = json.loads(value)
            except ValueError:
                raise _Rejected from None
        if isinstance(value, dict):
            if not value or set(value) - set(DATASETS):
                raise _Rejected
            return {name: item(given) for name, given in value.items()}
        return dict.fromkeys(DATASETS, item(value))

    return parse


AUDIT_KEY = "audit"
_AUDIT_DATASETS = "datasets"


def audit_thresholds(value: Any) -> dict[str, AuditThresholds]:
    """`{maxQuarantineShare: 0.1, datasets: {fhv: {maxShrink: 0.2}}}` (a map, or its JSON text)
    -> every dataset's thresholds: the defaults (`pipeline.contract.audit.AuditThresholds`),
    the top-level keys over them, a dataset's own over those. A bad key or value is an
    InvalidInput naming it and what is valid (from AuditThresholds, the one source)."""
    where = f"config {NAMESPACE}:{AUDIT_KEY}"
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise _Rejected from None
    if not isinstance(value, Mapping):
        raise _Rejected
    if value and all(isinstance(given, AuditThresholds) for given in value.values()):
        if set(value) != set(DATASETS):
            raise _Rejected
        return dict(value)  # already every dataset's thresholds (a plain Python value)
    given = dict(value)
    per_dataset = given.pop(_AUDIT_DATASETS, {})
    if not isinstance(per_dataset, Mapping) or set(per_dataset) - set(DATASETS):
        raise InvalidInput(f"{where} {_AUDIT_DATASETS}", per_dataset,
                           f"a map of datasets ({', '.join(DATASETS)}) to thresholds")  # fmt: skip
    base = _thresholds(AuditThresholds(), given, where)
    return {
        name: _thresholds(base, per_dataset.get(name, {}), f"{where} {_AUDIT_DATASETS}.{name}")
        for name in DATASETS
    }


def _thresholds(base: AuditThresholds, overrides: Any, where: str) -> AuditThresholds:
    """`base` with `overrides`; a bad one is an InvalidInput naming `where` it is."""
    try:
        return base.with_config(overrides, where)
    except InvalidInput as error:
        what = error.what if error.what.startswith(where) else f"{where} {error.what}"
        raise InvalidInput(what, error.value, error.valid) from None


def _audit_valid() -> str:
    specs = ", ".join(f"{spec.config} ({spec.low:g}-{spec.high:g})" for spec, _ in
                      AuditThresholds().specs())  # fmt: skip
    return (
        f"a map of thresholds, {specs}, and `{_AUDIT_DATASETS}`: a map of datasets to their "
        "own; `{}` for the defaults"
    )


def _each(**values: int) -> dict[str, int]:
    return {name: values[name] for name in DATASETS}


def timezone_name(value: Any) -> str:
    text = _text(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Rejected from None
    return text


@dataclass(frozen=True)
class _CronField:
    low: int
    high: int
    names: tuple[str, ...] = ()
    special: str | None = None  # a pattern for this field's extra forms (L, W, #)

    def value(self, text: str) -> int:
        upper = text.upper()
        if upper in self.names:
            return self.low + self.names.index(upper)
        if not text.isdigit() or not self.low <= int(text) <= self.high:
            raise _Rejected
        return int(text)

    def check(self, item: str) -> None:
        if self.special and re.fullmatch(self.special, item.upper()):
            return
        base, slash, step = item.partition("/")
        if slash and not (step.isdigit() and int(step) >= 1):
            raise _Rejected
        if base == "*":
            return
        first, dash, last = base.partition("-")
        if dash and self.value(first) > self.value(last):
            raise _Rejected
        self.value(first)


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# EventBridge cron fields, in order: minutes hours day-of-month month day-of-week year.
_CRON_FIELDS = (
    _CronField(0, 59),
    _CronField(0, 23),
    _CronField(1, 31, special=r"L|LW|([1-9]|[12]\d|3[01])W"),
    _CronField(1, 12, _MONTHS),
    _CronField(1, 7, _DAYS, special=r"([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(L|#[1-5])"),
    _CronField(1970, 2199),
)
_DAY_OF_MONTH, _DAY_OF_WEEK = 2, 4


def eventbridge_cron(value: Any) -> str:
    """`cron(0 6 5 * ? *)`: six fields, and exactly one of day-of-month/day-of-week is `?`."""
    text = _text(value)
    match = re.fullmatch(r"cron\((.*)\)", text)
    fields = match.group(1).split() if match else []
    if len(fields) != len(_CRON_FIELDS):
        raise _Rejected
    if (fields[_DAY_OF_MONTH] == "?") == (fields[_DAY_OF_WEEK] == "?"):
        raise _Rejected
    for index, (spec, field) in enumerate(zip(_CRON_FIELDS, fields, strict=True)):
        if field == "?" and index in (_DAY_OF_MONTH, _DAY_OF_WEEK):
            continue
        for item in field.split(","):
            spec.check(item)
    return text


_KMS_KEY_ARN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/([0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"  # noqa: E501
_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
_RETENTION = "one of CloudWatch's retention periods: " + ", ".join(map(str, LOG_RETENTION_DAYS))

KEYS: tuple[Key, ...] = (
    Key("protectData", "protect_data", boolean, "true or false", False, True,
        "protect and retain buckets and the Redshift namespace; false lets `destroy` empty and "
        "delete them"),
    Key("kmsKeyArn", "kms_key_arn", optional(matching(_KMS_KEY_ARN)),
        "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>) or none", None, None,
        "encrypt the buckets with this KMS key instead of SSE-S3"),
    Key("rawTransitionDays", "raw_transition_days",
        optional(integer(MIN_IA_TRANSITION_DAYS, 3650)),
        f"whole days from {MIN_IA_TRANSITION_DAYS} to 3650, or none", None, 90,
        "move raw files to STANDARD_IA after this many days"),
    Key("rawExpirationDays", "raw_expiration_days", optional(integer(1, 3650)),
        "whole days from 1 to 3650, or none", 30, None,
        "delete raw files this many days after ingest (TLC keeps the originals)"),
    Key("rawNoncurrentVersionDays", "raw_noncurrent_version_days", integer(1, 3650),
        "whole days from 1 to 3650", 7, 30,
        "keep a replaced raw file's previous version this long"),
    Key("pythonShellDpu", "python_shell_dpu", one_of(PYTHON_SHELL_DPUS, float),
        "0.0625 or 1", 0.0625, 0.0625, "DPUs of the Python Shell jobs (ingest, load)"),
    Key("sparkWorkerType", "spark_worker_type", one_of(SPARK_WORKER_TYPES),
        f"one of {', '.join(SPARK_WORKER_TYPES)}", "G.1X", "G.1X",
        "worker type of the Spark transform job"),
    Key("sparkWorkers", "spark_workers", per_dataset(integer(2, 299)),
        "a whole number from 2 to 299, for every dataset or per dataset ({\"fhvhv\": 10})",
        _each(yellow=2, green=2, fhv=2, fhvhv=4), _each(yellow=4, green=2, fhv=2, fhvhv=6),
        "workers of a month's Spark transform run (BENCHMARKS.md: fhvhv's 20M-row months)"),
    Key("jobTimeoutMinutes", "job_timeout_minutes",
        per_dataset(integer(1, MAX_GLUE_TIMEOUT_MINUTES)),
        f"whole minutes from 1 to {MAX_GLUE_TIMEOUT_MINUTES}, for every dataset or per dataset",
        _each(yellow=60, green=60, fhv=60, fhvhv=120),
        _each(yellow=120, green=120, fhv=120, fhvhv=240),
        "timeout of each Glue job run of a month"),
    Key("backfillConcurrency", "backfill_concurrency", integer(1, MAX_MAP_CONCURRENCY),
        f"a whole number from 1 to {MAX_MAP_CONCURRENCY}", 2, 3,
        "months a backfill runs at once (job max concurrent runs = this + 1)"),
    Key("redshiftBaseCapacity", "redshift_base_capacity",
        integer(MIN_BASE_RPU, MAX_BASE_RPU, RPU_STEP),
        f"a multiple of {RPU_STEP} from {MIN_BASE_RPU} to {MAX_BASE_RPU} (RPUs)", 8, 8,
        "Redshift Serverless base capacity"),
    Key("redshiftMaxCapacity", "redshift_max_capacity", integer(MIN_BASE_RPU, MAX_RPU, RPU_STEP),
        f"a multiple of {RPU_STEP} from the base capacity to {MAX_RPU} (RPUs)", 32, 64,
        "Redshift Serverless maximum capacity"),
    Key("usageLimitRpuHours", "usage_limit_rpu_hours", integer(1, 1_000_000),
        "a whole number of RPU-hours from 1", 24, 240, "Redshift compute allowed per period"),
    Key("usageLimitPeriod", "usage_limit_period", one_of(USAGE_PERIODS),
        f"one of {', '.join(USAGE_PERIODS)}", "monthly", "monthly", "the usage limit's period"),
    Key("usageLimitBreachAction", "usage_limit_breach_action", one_of(BREACH_ACTIONS),
        f"one of {', '.join(BREACH_ACTIONS)}", "deactivate", "emit-metric",
        "what Redshift does when the usage limit is reached"),
    Key("redshiftSubnetIds", "redshift_subnet_ids", listed(matching(r"subnet-[0-9a-f]{8,17}")),
        "a list of distinct subnet IDs (subnet-...), empty for the default VPC", (), (),
        "subnets of the Redshift workgroup"),
    Key("redshiftSecurityGroupIds", "redshift_security_group_ids",
        listed(matching(r"sg-[0-9a-f]{8,17}")),
        "a list of distinct security group IDs (sg-...), empty for the VPC default", (), (),
        "security groups of the Redshift workgroup"),
    Key("scheduleEnabled", "schedule_enabled", boolean, "true or false", False, True,
        "whether the monthly schedule fires"),
    Key("scheduleCron", "schedule_cron", eventbridge_cron,
        "an EventBridge cron expression, cron(min hour day-of-month month day-of-week year), "
        "with ? in exactly one of the two day fields", "cron(0 6 5 * ? *)", "cron(0 6 5 * ? *)",
        "when the monthly trigger runs (the original's: 06:00 on the 5th)"),
    Key("scheduleTimezone", "schedule_timezone", timezone_name, "an IANA time zone, e.g. UTC",
        "UTC", "UTC", "time zone of scheduleCron"),
    Key("scheduledDatasets", "scheduled_datasets",
        listed(one_of(tuple(DATASETS)), minimum=1),
        f"a non-empty list of distinct datasets from: {', '.join(DATASETS)}",
        (DEFAULT_DATASET,), (DEFAULT_DATASET,), "datasets the schedule loads, one schedule each"),
    Key("executionLogLevel", "execution_log_level", one_of(EXECUTION_LOG_LEVELS),
        f"one of {', '.join(EXECUTION_LOG_LEVELS)}", "ALL", "ERROR",
        "Step Functions execution logging level"),
    Key("logRetentionDays", "log_retention_days", one_of(LOG_RETENTION_DAYS, int), _RETENTION,
        14, 90, "retention of the stack's CloudWatch log groups"),
    Key("alertEmail", "alert_email", optional(matching(_EMAIL)),
        "an email address, or none", None, None,
        "subscribe this address to the alerts topic (confirm the email AWS sends)"),
    Key("athenaScanLimitGb", "athena_scan_limit_gb", integer(1, MAX_ATHENA_SCAN_GB),
        f"whole GiB from 1 to {MAX_ATHENA_SCAN_GB}", 10, 100,
        "data one Athena query may scan before Athena cancels it (GiB; $5 per TB scanned)"),
    Key(AUDIT_KEY, "audit", audit_thresholds, _audit_valid(),
        dict.fromkeys(DATASETS, AuditThresholds()), dict.fromkeys(DATASETS, AuditThresholds()),
        "the audit's thresholds (pipeline/contract/audit.py: refuse above 5% quarantined or "
        "10% fewer rows than published; warn outside 0.5x-2x the 12-month median), with "
        "per-dataset overrides: `{maxQuarantineShare: 0.1, datasets: {fhv: {maxShrink: 0.2}}}`"),
)  # fmt: skip
_BY_NAME: Mapping[str, Key] = {key.name: key for key in KEYS}


def _config_key(name: str) -> str:
    return f"config {NAMESPACE}:{name}"


def _check_stack(stack: str) -> None:
    if not _STACK_NAME.match(stack or ""):
        raise InvalidInput(
            "stack name", stack, "1-16 of a-z 0-9 -, starting with a letter (it names resources)"
        )


def _read(values: Mapping[str, Any], profile: Profile) -> dict[str, Any]:
    unknown = sorted(set(values) - set(_BY_NAME))
    if unknown:
        raise InvalidInput(
            f"config key {NAMESPACE}:{unknown[0]}", values[unknown[0]],
            f"a known key: {', '.join(sorted(_BY_NAME))}",
        )  # fmt: skip
    fields: dict[str, Any] = {}
    for key in KEYS:
        if key.name not in values:
            fields[key.field] = key.default(profile)
            continue
        try:
            parsed = key.parse(values[key.name])
        except _Rejected:
            raise InvalidInput(_config_key(key.name), values[key.name], key.valid) from None
        default = key.default(profile)
        # A per-dataset map names only the datasets it changes.
        fields[key.field] = {**default, **parsed} if isinstance(default, dict) else parsed
    return fields


def _check_together(fields: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Rules between keys; the message names the key that was set (or the first of the two)."""
    base, most = fields["redshift_base_capacity"], fields["redshift_max_capacity"]
    if most < base:
        name = "redshiftMaxCapacity"
        raise InvalidInput(
            _config_key(name), values.get(name, most),
            f"at least redshiftBaseCapacity ({base}), a multiple of {RPU_STEP} up to {MAX_RPU}",
        )  # fmt: skip
    transition, expiration = fields["raw_transition_days"], fields["raw_expiration_days"]
    if transition is not None and expiration is not None and expiration <= transition:
        name = "rawExpirationDays"
        raise InvalidInput(
            _config_key(name), values.get(name, expiration),
            f"more days than rawTransitionDays ({transition}), or none",
        )  # fmt: skip


def build_settings(values: Mapping[str, Any], stack: str) -> StackSettings:
    """Config values (without the `tlc-elt:` prefix) and the stack name -> checked settings."""
    _check_stack(stack)
    profile = Profile.for_stack(stack)
    fields = _read(values, profile)
    _check_together(fields, values)
    return StackSettings(stack=stack, profile=profile, **fields)


def defaults_notice(values: Mapping[str, Any], stack: str) -> str | None:
    """What `pulumi up` says for a stack not named `dev`: it took the production defaults, and
    which ones (the keys its config does not set). None for `dev`, whose defaults are dev's."""
    if Profile.for_stack(stack) is Profile.DEV:
        return None
    taken = [f"{key.name}={_shown(key.prod)}" for key in KEYS if values.get(key.name) is None]
    if not taken:
        return None
    return (
        f"stack {stack!r} is not {DEV_STACK!r}, so every tlc-elt key it does not set takes the "
        f"production default: {', '.join(taken)}. Set a key in Pulumi.{stack}.yaml to change "
        "it (README, Configuration)."
    )


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, AuditThresholds):
        return "defaults" if value == AuditThresholds() else json.dumps(value.to_config())
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, dict):
        if all(given == AuditThresholds() for given in value.values()):
            return "defaults"
        return "{" + ", ".join(f"{name}: {_shown(given)}" for name, given in value.items()) + "}"
    return str(value)


def config_table() -> str:
    """The README's table of config keys, made from KEYS (`python -m components.settings`)."""
    lines = [
        "| key | what it sets | dev default | prod default | valid |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key in KEYS:
        cells = (f"`{key.name}`", key.doc, f"`{_shown(key.dev)}`", f"`{_shown(key.prod)}`",
                 key.valid)  # fmt: skip
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(config_table())
