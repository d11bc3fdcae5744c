"""The audit: may this candidate month replace what is published? One pure function, `audit`.

It takes the candidate's counts (`_counts.json` of the run), the month as published now (if
any) and the dataset's published history (up to `history_months` months before it), and
returns findings. A `refuse` finding keeps the candidate from being published (unless the run
is forced, which the ledger records); a `warn` finding is reported and the month published.
The thresholds live here, in `AuditThresholds`, and nowhere else: the stack's `tlc-elt:audit`
config and the local flags are derived from its fields. Standard library only: the Glue audit
job, the local runner and the Pulumi program all import it.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.contract.counts import NO_PICKUP, PICKUP_RULE
from pipeline.contract.errors import InvalidInput
from pipeline.contract.months import Month
from pipeline.contract.profile import HistoryThresholds, MonthProfile, history_warnings

REFUSE = "refuse"
HISTORY_MONTHS = 12  # the published months before a candidate that it is compared with
WARN = "warn"


@dataclass(frozen=True)
class Threshold:
    """How one threshold is named in config (camelCase) and on the command line, its bounds."""

    config: str
    flag: str
    low: float
    high: float
    help: str


def _threshold(default: float, config: str, low: float, high: float, help: str) -> Any:
    flag = "--" + "".join("-" + c.lower() if c.isupper() else c for c in config)
    return field(default=default, metadata={"threshold": Threshold(config, flag, low, high, help)})


@dataclass(frozen=True)
class AuditThresholds:
    """Defaults: real TLC months quarantine well under 1%, and a re-publication of a month by TLC
    changes it by a fraction of a percent; April 2020 loaded 95% fewer trips than March."""

    max_quarantine_share: float = _threshold(
        0.05, "maxQuarantineShare", 0.0, 1.0,
        "refuse a month whose quarantined share of its rows is above this")  # fmt: skip
    max_shrink: float = _threshold(
        0.10, "maxShrink", 0.0, 1.0,
        "refuse a replacement with this share fewer loaded rows than the published")  # fmt: skip
    history_low: float = _threshold(
        0.5, "historyLow", 0.0, 1.0,
        "warn when loaded rows are below this times the median of the previous months")  # fmt: skip
    history_high: float = _threshold(
        2.0, "historyHigh", 1.0, 1000.0,
        "warn when loaded rows are above this times the median of the previous months")  # fmt: skip
    null_share_before: float = _threshold(
        0.05, "nullShareBefore", 0.0, 1.0,
        "warn when a column under this null share in the previous month ...")  # fmt: skip
    null_share_after: float = _threshold(
        0.5, "nullShareAfter", 0.0, 1.0,
        "... is over this null share now")  # fmt: skip
    money_factor: float = _threshold(
        3.0, "moneyFactor", 1.01, 1000.0,
        "warn when money per trip moves more than this factor from its median")  # fmt: skip

    def __post_init__(self) -> None:
        for spec, value in self.specs():
            valid = f"a number from {spec.low:g} to {spec.high:g} ({spec.help})"
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInput(f"audit threshold {spec.config}", value, valid)
            if not spec.low <= value <= spec.high:
                raise InvalidInput(f"audit threshold {spec.config}", value, valid)
        if self.null_share_before >= self.null_share_after:
            raise InvalidInput(
                "audit threshold nullShareBefore", self.null_share_before,
                f"below nullShareAfter ({self.null_share_after:g})",
            )  # fmt: skip

    def history_limits(self) -> HistoryThresholds:
        """The column-profile checks' share of these thresholds."""
        return HistoryThresholds(
            null_share_before=self.null_share_before,
            null_share_after=self.null_share_after,
            money_factor=self.money_factor,
            history_months=HISTORY_MONTHS,
        )

    def specs(self) -> list[tuple[Threshold, float]]:
        return [(f.metadata["threshold"], getattr(self, f.name)) for f in dataclasses.fields(self)]

    @classmethod
    def spec_of(cls, name: str) -> Threshold:
        return {f.name: f.metadata["threshold"] for f in dataclasses.fields(cls)}[name]

    def to_config(self) -> dict[str, float]:
        return {spec.config: value for spec, value in self.specs()}

    def with_config(self, overrides: Mapping[str, Any], where: str = "audit") -> AuditThresholds:
        """These thresholds with `overrides` (config names: `maxQuarantineShare`, ...)."""
        names = {f.metadata["threshold"].config: f.name for f in dataclasses.fields(self)}
        if not isinstance(overrides, Mapping):
            raise InvalidInput(where, overrides, f"a map of {', '.join(names)}")
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise InvalidInput(where, unknown[0], f"one of {', '.join(names)}")
        return dataclasses.replace(self, **{names[key]: value for key, value in overrides.items()})

    @classmethod
    def from_json(cls, text: str | None) -> AuditThresholds:
        """What the state machine passes the audit job (`to_config`, as JSON); '' = defaults."""
        if not text:
            return cls()
        try:
            loaded = json.loads(text)
        except ValueError:
            raise InvalidInput("audit thresholds", text, "a JSON object of thresholds") from None
        return cls().with_config(loaded, "audit thresholds")


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # REFUSE or WARN
    message: str  # what, the figures, the threshold, how to override: one line
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        return cls(data["rule"], data["severity"], data["message"], dict(data.get("figures", {})))


@dataclass(frozen=True)
class PublishedCounts:
    """A published month as the audit sees it: its run and its counts (`_counts.json` fields)."""

    month: Month
    run_id: str | None
    counts: Mapping[str, Any]

    @property
    def rows_loaded(self) -> int:
        return int(self.counts.get("rows_loaded", 0))


@dataclass(frozen=True)
class AuditResult:
    dataset: str
    month: str
    run_id: str
    findings: tuple[Finding, ...]
    forced: bool = False  # refused, and published anyway (`--force-publish`)
    compared_with: dict[str, Any] = field(default_factory=dict)

    @property
    def refusals(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == REFUSE)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == WARN)

    @property
    def refused(self) -> bool:
        """Refused and not forced: nothing may be published."""
        return bool(self.refusals) and not self.forced

    @property
    def verdict(self) -> str:
        if not self.refusals:
            return "passed"
        return "forced" if self.forced else "refused"

    def to_json(self) -> str:
        return json.dumps(
            {
                "dataset": self.dataset,
                "month": self.month,
                "run_id": self.run_id,
                "verdict": self.verdict,
                "refused": self.refused,
                "forced": self.forced,
                "findings": [f.to_json() for f in self.findings],
                "compared_with": self.compared_with,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditResult:
        data = json.loads(text)
        return cls(
            dataset=data["dataset"],
            month=data["month"],
            run_id=data["run_id"],
            findings=tuple(Finding.from_json(f) for f in data["findings"]),
            forced=bool(data["forced"]),
            compared_with=dict(data.get("compared_with", {})),
        )


def findings_json(findings: Sequence[Finding]) -> str:
    """The ledger's `findings` column: the findings as compact JSON text."""
    return json.dumps([f.to_json() for f in findings], separators=(",", ":"))


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _override(spec_name: str) -> str:
    spec = AuditThresholds.spec_of(spec_name)
    return f"raise {spec.flag} (stack: tlc-elt:audit {spec.config}) or pass --force-publish"


def _refusals(
    counts: Mapping[str, Any], month: Month, published: PublishedCounts | None, t: AuditThresholds
) -> list[Finding]:
    rows_in, loaded = int(counts["rows_in"]), int(counts["rows_loaded"])
    quarantined = int(counts["rows_quarantined"])
    found = []
    if loaded == 0:
        found.append(Finding("no_loadable_rows", REFUSE,
            f"no loadable row: {rows_in:,} rows in, all quarantined; check the file is this "
            "month's, or pass --force-publish to publish an empty month",
            {"rows_in": rows_in}))  # fmt: skip
    if rows_in and quarantined / rows_in > t.max_quarantine_share:
        found.append(Finding("quarantine_share", REFUSE,
            f"{quarantined:,} of {rows_in:,} rows quarantined ({_share(quarantined, rows_in)}), "
            f"above the {t.max_quarantine_share:.1%} allowed; {_override('max_quarantine_share')}",
            {"rows_quarantined": quarantined, "rows_in": rows_in,
             "threshold": t.max_quarantine_share}))  # fmt: skip
    outside = int(counts.get("rejected", {}).get(PICKUP_RULE, 0))
    if rows_in and outside * 2 > rows_in:
        found.append(_other_month(counts, month, outside, rows_in))
    if published is not None and published.rows_loaded:
        floor = published.rows_loaded * (1 - t.max_shrink)
        if loaded < floor:
            found.append(Finding("shrinks_published", REFUSE,
                f"{loaded:,} loaded rows would replace the published {published.rows_loaded:,} "
                f"(run {published.run_id or 'legacy'}): "
                f"{1 - loaded / published.rows_loaded:.1%} fewer, more than the "
                f"{t.max_shrink:.0%} allowed; {_override('max_shrink')}",
                {"rows_loaded": loaded, "published_rows": published.rows_loaded,
                 "published_run": published.run_id, "threshold": t.max_shrink}))  # fmt: skip
    return found


def _other_month(counts: Mapping[str, Any], month: Month, outside: int, rows_in: int) -> Finding:
    others = dict(counts.get("other_months") or {})
    if others:
        name, rows = max(others.items(), key=lambda item: (item[1], item[0]))
        where = "have no pickup time" if name == NO_PICKUP else f"fall in {name}"
        what = f"{rows:,} of {rows_in:,} rows {where}"
    else:
        name, rows, what = None, outside, f"{outside:,} of {rows_in:,} rows fall outside {month}"
    return Finding("other_month", REFUSE,
        f"most pickups are not in {month}: {what}; is this the file of another month? pass the "
        "right --source, or --force-publish",
        {"month_found": name, "rows": rows, "rows_in": rows_in, "outside": outside})  # fmt: skip


def _warnings(
    counts: Mapping[str, Any], history: Sequence[PublishedCounts], t: AuditThresholds
) -> list[Finding]:
    found = []
    loaded = int(counts["rows_loaded"])
    if history:
        median = statistics.median(h.rows_loaded for h in history)
        low, high = median * t.history_low, median * t.history_high
        if median and not low <= loaded <= high:
            months = (
                f"{history[-1].month} to {history[0].month}"
                if len(history) > 1
                else str(history[0].month)
            )
            found.append(Finding("history_band", WARN,
                f"{loaded:,} loaded rows, {loaded / median:.0%} of the median {median:,.0f} of "
                f"the {len(history)} published months {months} (band {t.history_low:g}x to "
                f"{t.history_high:g}x: {_override_band()})",
                {"rows_loaded": loaded, "median": median, "months": len(history),
                 "low": t.history_low, "high": t.history_high}))  # fmt: skip
    unknown = dict(counts.get("unknown_columns") or {})
    if history and unknown:
        before = history[0]
        new = {
            n: t_
            for n, t_ in unknown.items()
            if n not in (before.counts.get("unknown_columns") or {})
        }
        if new:
            listed = ", ".join(f"{n} ({kind})" for n, kind in sorted(new.items()))
            found.append(Finding("new_columns", WARN,
                f"columns the dataset does not know and {before.month} did not have: {listed}; "
                "they are not loaded (a new TLC column? see docs/ARCHITECTURE.md, Datasets)",
                {"columns": new, "compared_month": str(before.month)}))  # fmt: skip
    found += _profile_warnings(counts, history, t)
    unmapped = dict(counts.get("unmapped_values") or {})
    if unmapped:
        listed = ", ".join(f"{n} {rows:,}" for n, rows in sorted(unmapped.items()))
        found.append(Finding("unmapped_values", WARN,
            f"values the mapping cannot read became null (or were cut): {listed} rows",
            {"columns": unmapped}))  # fmt: skip
    return found


def _profile_warnings(
    counts: Mapping[str, Any], history: Sequence[PublishedCounts], t: AuditThresholds
) -> list[Finding]:
    """The column-profile history checks (`pipeline.contract.profile`), as warnings; months
    whose counts have no profile (published before profiles) are left out."""
    if not counts.get("profile"):
        return []
    dataset, month = str(counts["dataset"]), str(counts["month"])
    candidate = MonthProfile.from_dict(dataset, month, counts["profile"])
    published = [
        MonthProfile.from_dict(dataset, str(h.month), h.counts["profile"])
        for h in history
        if h.counts.get("profile")
    ]
    return [
        Finding(w.rule.value, WARN, w.message, _history_figures(w))
        for w in history_warnings(candidate, published, t.history_limits())
    ]


def _history_figures(warning: Any) -> dict[str, Any]:
    return {
        "column": warning.column,
        "value": warning.value,
        "previous": warning.previous,
        "compared_with": warning.compared_with,
    }


def _override_band() -> str:
    low, high = AuditThresholds.spec_of("history_low"), AuditThresholds.spec_of("history_high")
    return f"{low.flag}/{high.flag}, stack: tlc-elt:audit {low.config}/{high.config}"


def audit(
    dataset: str,
    month: Month,
    run_id: str,
    counts: Mapping[str, Any],
    published: PublishedCounts | None,
    history: Sequence[PublishedCounts],
    thresholds: AuditThresholds | None = None,
    *,
    force: bool = False,
) -> AuditResult:
    """Judge a candidate. `history`: the published months before `month`, newest first (at
    most HISTORY_MONTHS are used); `published`: the month as published now, if it is."""
    t = thresholds or AuditThresholds()
    recent = [h for h in history if h.month < month][:HISTORY_MONTHS]
    findings = _refusals(counts, month, published, t) + _warnings(counts, recent, t)
    refused = any(f.severity == REFUSE for f in findings)
    return AuditResult(
        dataset=dataset,
        month=str(month),
        run_id=run_id,
        findings=tuple(findings),
        forced=force and refused,
        compared_with={
            "published_run": None if published is None else (published.run_id or "legacy"),
            "history": [str(h.month) for h in recent],
            "thresholds": t.to_config(),
        },
    )


def refusal_lines(result: AuditResult) -> list[str]:
    """What a refused run prints: `refused: <dataset> <month>`, then a line per finding."""
    lines = [f"refused: {result.dataset} {result.month}"]
    lines += [f"  {f.severity}: {f.rule}: {f.message}" for f in result.findings]
    return lines
