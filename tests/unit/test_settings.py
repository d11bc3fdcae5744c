"""Stack settings: defaults per stack, parsing Pulumi's string values, and refusing bad config
with a message that names the key, the value and what is valid."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from components.settings import (
    KEYS,
    Profile,
    StackSettings,
    build_settings,
    defaults_notice,
    eventbridge_cron,
)
from pipeline.contract.audit import AuditThresholds
from pipeline.contract.errors import InvalidInput


def test_dev_defaults_are_cheap_and_disposable():
    settings = build_settings({}, "dev")
    assert settings.profile is Profile.DEV
    assert settings.prefix == "tlc-elt-dev"
    assert settings.protect_data is False
    assert settings.schedule_enabled is False
    assert settings.redshift_base_capacity == 8
    assert settings.python_shell_dpu == 0.0625
    assert settings.usage_limit_breach_action == "deactivate"
    assert settings.raw_expiration_days == 30
    assert settings.execution_log_level == "ALL"


def test_prod_defaults_protect_data_and_run_the_schedule():
    settings = build_settings({}, "prod")
    assert settings.profile is Profile.PROD
    assert settings.protect_data is True
    assert settings.schedule_enabled is True
    assert settings.raw_expiration_days is None
    assert settings.raw_transition_days == 90
    assert settings.execution_log_level == "ERROR"


def test_any_stack_but_dev_gets_the_protective_defaults():
    settings = build_settings({}, "staging")
    assert settings.profile is Profile.PROD
    assert settings.protect_data is True


def test_pulumi_strings_and_plain_values_mean_the_same():
    as_pulumi_gives_them = {
        "redshiftBaseCapacity": "16",
        "scheduleEnabled": "false",
        "pythonShellDpu": "1",
        "scheduledDatasets": '["yellow", "green"]',
        "rawTransitionDays": "none",
        "logRetentionDays": "30",
    }
    as_python_values = {
        "redshiftBaseCapacity": 16,
        "scheduleEnabled": False,
        "pythonShellDpu": 1.0,
        "scheduledDatasets": ["yellow", "green"],
        "rawTransitionDays": None,
        "logRetentionDays": 30,
    }
    from_strings = build_settings(as_pulumi_gives_them, "prod")
    assert from_strings == build_settings(as_python_values, "prod")
    assert from_strings.scheduled_datasets == ("yellow", "green")
    assert from_strings.raw_transition_days is None
    assert from_strings.redshift_base_capacity == 16


def test_job_concurrency_leaves_room_for_a_scheduled_run_beside_the_backfill():
    settings = build_settings({"backfillConcurrency": "5"}, "dev")
    assert settings.job_max_concurrent_runs == 6


@pytest.mark.parametrize(
    ("key", "value", "valid"),
    [
        ("redshiftBaseCapacity", "12", "a multiple of 8 from 8 to 1024"),
        ("redshiftBaseCapacity", "0", "a multiple of 8 from 8 to 1024"),
        ("redshiftBaseCapacity", "1032", "a multiple of 8 from 8 to 1024"),
        ("redshiftBaseCapacity", "eight", "a multiple of 8 from 8 to 1024"),
        ("redshiftMaxCapacity", "5640", "from the base capacity to 5632"),
        ("sparkWorkerType", "G.3X", "one of G.1X, G.2X, G.4X, G.8X"),
        ("sparkWorkers", "1", "from 2 to 299"),
        ("pythonShellDpu", "0.5", "0.0625 or 1"),
        ("scheduleCron", "cron(0 6 5 * *)", "EventBridge cron"),
        ("scheduleCron", "cron(0 6 5 * MON *)", "? in exactly one"),
        ("scheduleCron", "cron(0 6 ? * ? *)", "? in exactly one"),
        ("scheduleCron", "cron(60 6 5 * ? *)", "EventBridge cron"),
        ("scheduleCron", "cron(0 24 5 * ? *)", "EventBridge cron"),
        ("scheduleCron", "cron(0 6 32 * ? *)", "EventBridge cron"),
        ("scheduleCron", "cron(0 6 5 13 ? *)", "EventBridge cron"),
        ("scheduleCron", "cron(0 6 20-10 * ? *)", "EventBridge cron"),
        ("scheduleCron", "0 6 5 * ? *", "EventBridge cron"),
        ("scheduleCron", "rate(30 days)", "EventBridge cron"),
        ("scheduleTimezone", "Mars/Olympus_Mons", "IANA time zone"),
        ("logRetentionDays", "0", "retention periods: 1, 3, 5"),
        ("logRetentionDays", "10", "retention periods: 1, 3, 5"),
        ("scheduleEnabled", "yes", "true or false"),
        ("protectData", "1", "true or false"),
        ("scheduledDatasets", "[]", "a non-empty list"),
        ("scheduledDatasets", '["blue"]', "from: yellow, green"),
        ("scheduledDatasets", '["yellow", "yellow"]', "distinct datasets"),
        ("scheduledDatasets", "yellow", "a non-empty list"),
        ("rawTransitionDays", "10", "from 30 to 3650"),
        ("rawExpirationDays", "0", "from 1 to 3650"),
        ("usageLimitBreachAction", "stop", "one of log, emit-metric, deactivate"),
        ("usageLimitPeriod", "hourly", "one of daily, weekly, monthly"),
        ("backfillConcurrency", "0", "from 1 to 40"),
        ("jobTimeoutMinutes", "2881", "from 1 to 2880"),
        ("executionLogLevel", "OFF", "one of ALL, ERROR"),
        ("alertEmail", "ops.example.com", "an email address"),
        ("kmsKeyArn", "alias/lake", "a KMS key ARN"),
        ("redshiftSubnetIds", '["subnet-1"]', "subnet IDs"),
        ("redshiftSecurityGroupIds", '["sg-0123456789abcdef0", "vpc-1"]', "security group IDs"),
    ],
)
def test_bad_value_names_key_value_and_what_is_valid(key, value, valid):
    with pytest.raises(InvalidInput) as raised:
        build_settings({key: value}, "dev")
    message = str(raised.value)
    assert f"tlc-elt:{key}" in message
    assert repr(value) in message
    assert valid in message


def test_max_capacity_below_base_capacity_is_refused():
    with pytest.raises(InvalidInput, match=r"redshiftMaxCapacity '16': at least .*\(32\)"):
        build_settings({"redshiftBaseCapacity": "32", "redshiftMaxCapacity": "16"}, "dev")


def test_raw_expiry_must_come_after_the_transition():
    with pytest.raises(InvalidInput, match=r"rawExpirationDays '60': more days than .*\(90\)"):
        build_settings({"rawTransitionDays": "90", "rawExpirationDays": "60"}, "dev")


def test_a_misspelt_key_is_refused_not_ignored():
    with pytest.raises(InvalidInput) as raised:
        build_settings({"redshiftBaseCapcity": "16"}, "dev")
    assert "tlc-elt:redshiftBaseCapcity" in str(raised.value)
    assert "redshiftBaseCapacity" in raised.value.valid


@pytest.mark.parametrize("stack", ["", "Prod", "prod_eu", "1dev", "a" * 17])
def test_stack_names_that_cannot_name_resources_are_refused(stack):
    with pytest.raises(InvalidInput, match="stack name"):
        build_settings({}, stack)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 6 5 * ? *)",
        "cron(15 10 ? * 6L 2022-2023)",
        "cron(0/15 * ? * MON-FRI *)",
        "cron(0 8 1,15 * ? *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 ? * 2#1 *)",
        "cron(30 2 15W JAN-JUN ? *)",
    ],
)
def test_eventbridge_cron_forms_are_accepted(expression):
    assert eventbridge_cron(expression) == expression


def test_every_setting_has_one_key_and_every_default_is_valid():
    fields = {f.name for f in dataclasses.fields(StackSettings)} - {"stack", "profile"}
    assert sorted(key.field for key in KEYS) == sorted(fields)
    for key in KEYS:
        for profile in Profile:
            default = key.default(profile)
            if default is None:
                continue
            given = list(default) if isinstance(default, tuple) else default
            assert key.parse(given) == default, (key.name, profile)


def test_glue_sizing_is_per_dataset_with_defaults_that_fit_hvfhv():
    for stack in ("dev", "prod"):
        settings = build_settings({}, stack)
        assert set(settings.sizing) == {"yellow", "green", "fhv", "fhvhv"}
        largest = max(settings.sizing, key=lambda name: settings.sizing[name].workers)
        assert largest == "fhvhv"
        assert settings.sizing["fhvhv"].timeout_minutes == settings.job_timeout_ceiling
        assert settings.default_spark_workers == settings.sizing["yellow"].workers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6", {"yellow": 6, "green": 6, "fhv": 6, "fhvhv": 6}),
        (8, {"yellow": 8, "green": 8, "fhv": 8, "fhvhv": 8}),
        ('{"fhvhv": 20}', {"yellow": 4, "green": 2, "fhv": 2, "fhvhv": 20}),
        ({"green": 3}, {"yellow": 4, "green": 3, "fhv": 2, "fhvhv": 6}),
    ],
)
def test_spark_workers_for_every_dataset_or_some_of_them(value, expected):
    settings = build_settings({"sparkWorkers": value}, "prod")
    assert settings.spark_workers == expected
    assert {name: sizing.workers for name, sizing in settings.sizing.items()} == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sparkWorkers", '{"purple": 4}'),
        ("sparkWorkers", '{"fhvhv": 1}'),
        ("sparkWorkers", "{}"),
        ("sparkWorkers", '{"fhvhv": '),
        ("jobTimeoutMinutes", '{"fhvhv": 3000}'),
        ("jobTimeoutMinutes", "[60]"),
    ],
)
def test_bad_per_dataset_sizing_is_refused_naming_the_key(key, value):
    with pytest.raises(InvalidInput, match=f"tlc-elt:{key}.*per dataset"):
        build_settings({key: value}, "dev")


def test_audit_thresholds_default_and_take_stack_and_per_dataset_overrides():
    for stack in ("dev", "prod"):
        assert set(build_settings({}, stack).audit.values()) == {AuditThresholds()}
    given = {"maxQuarantineShare": 0.1, "datasets": {"fhv": {"maxShrink": 0.2}}}
    for value in (given, json.dumps(given)):  # a Pulumi object arrives as JSON text
        settings = build_settings({"audit": value}, "prod")
        assert settings.audit["fhv"] == AuditThresholds(max_quarantine_share=0.1, max_shrink=0.2)
        assert settings.audit["yellow"] == AuditThresholds(max_quarantine_share=0.1)
        assert settings.sizing["fhv"].audit == settings.audit["fhv"]


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ('{"maxShrink": 2}', "tlc-elt:audit audit threshold maxShrink 2: a number from 0 to 1"),
        ('{"maxShrinks": 0.2}', "tlc-elt:audit 'maxShrinks': one of maxQuarantineShare"),
        ('{"datasets": {"blue": {}}}', "tlc-elt:audit datasets"),
        ('{"datasets": {"fhv": {"historyHigh": 0.5}}}', "tlc-elt:audit datasets.fhv .*historyHigh"),
        ("[0.1]", "tlc-elt:audit '\\[0.1\\]': a map of thresholds"),
        ('{"maxShrink": ', "tlc-elt:audit"),
    ],
)
def test_bad_audit_thresholds_are_refused_naming_the_key_and_what_is_valid(value, named):
    with pytest.raises(InvalidInput, match=named):
        build_settings({"audit": value}, "dev")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_stack_file_sizes_every_dataset_as_the_readme_tables_say(stack):
    """A stack file's sizing is its profile's per-dataset defaults, the README's config table
    (made from KEYS) and its cost table's worker counts: no single number overriding them."""
    import yaml

    path = Path(__file__).resolve().parents[2] / f"Pulumi.{stack}.yaml"
    config = yaml.safe_load(path.read_text())["config"]
    values = {
        key.split(":", 1)[1]: json.dumps(value) if isinstance(value, dict) else value
        for key, value in config.items()
        if key.startswith("tlc-elt:")
    }
    settings = build_settings(values, stack)
    profile = {key.name: key for key in KEYS}
    defaults = "dev" if stack == "dev" else "prod"
    assert settings.spark_workers == getattr(profile["sparkWorkers"], defaults)
    assert settings.job_timeout_minutes == getattr(profile["jobTimeoutMinutes"], defaults)
    readme = (path.parent / "README.md").read_text()
    if stack == "dev":  # the cost table is the dev stack's month
        for dataset, workers in settings.spark_workers.items():
            assert re.search(rf"\| `{dataset}` \([^|]*\) \| {workers} workers,", readme), dataset


def test_a_stack_not_named_dev_says_which_production_defaults_it_took():
    notice = defaults_notice({"scheduleEnabled": "false"}, "staging")
    assert notice is not None
    assert notice.startswith("stack 'staging' is not 'dev', so every tlc-elt key it does not set")
    assert "protectData=true" in notice
    assert "usageLimitBreachAction=emit-metric" in notice
    assert "scheduleEnabled" not in notice  # set in the stack's config: not a default taken
    assert "Pulumi.staging.yaml" in notice
    assert defaults_notice({}, "dev") is None
    everything = {key.name: "x" for key in KEYS}
    assert defaults_notice(everything, "prod") is None
