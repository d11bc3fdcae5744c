"""scripts/audit_month.py as Glue runs it: arguments checked before any S3 call, the verdict
written beside the candidate and printed, and a refused month ends the run cleanly (the state
machine reads the verdict)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from pipeline.contract.audit import AuditResult
from pipeline.contract.datasets import YELLOW
from pipeline.contract.errors import InvalidInput, MissingInput
from pipeline.contract.layout import RunKeys
from pipeline.contract.months import Month

RUN = "yellow-2024-09-scheduled"
KEYS = RunKeys(YELLOW, Month(2024, 9), RUN)
RAW, PROCESSED = "tlc-elt-dev-raw", "tlc-elt-dev-processed"
GOOD = {
    "dataset": "yellow", "year": "2024", "month": "09", "run_id": RUN,
    "raw_bucket": RAW, "processed_bucket": PROCESSED,
}  # fmt: skip


@pytest.fixture(scope="module")
def script(glue_script):
    return glue_script("audit_month")


def argv(**overrides: str) -> list[str]:
    values = {**GOOD, **overrides}
    return ["audit_month.py", "--JOB_ID", "j_1"] + [
        part for name, value in values.items() for part in (f"--{name}", value)
    ]


@pytest.fixture
def s3(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3")
        for bucket in (RAW, PROCESSED):
            client.create_bucket(Bucket=bucket)
        yield client


def put_counts(s3, rows_loaded: int, rows_quarantined: int) -> None:
    counts = {"dataset": "yellow", "month": "2024-09", "rows_in": rows_loaded + rows_quarantined,
              "rows_loaded": rows_loaded, "rows_quarantined": rows_quarantined,
              "rejected": {"pickup_in_month": 0}, "part_files": []}  # fmt: skip
    s3.put_object(Bucket=PROCESSED, Key=KEYS.counts_key, Body=json.dumps(counts).encode())


def verdict(s3) -> AuditResult:
    return AuditResult.from_json(s3.get_object(Bucket=PROCESSED, Key=KEYS.audit_key)["Body"].read())


def test_a_passing_candidate_is_recorded_and_printed(script, s3, capsys):
    put_counts(s3, 1000, 2)

    printed = script.main(argv(), s3=s3)

    assert printed["verdict"] == "passed"
    assert json.loads(capsys.readouterr().out) == printed
    assert verdict(s3).verdict == "passed"


def test_a_refused_candidate_ends_the_run_cleanly_with_its_verdict_written(script, s3):
    put_counts(s3, 10, 990)

    printed = script.main(argv(), s3=s3)  # no exception: the state machine reads the verdict

    assert printed["verdict"] == "refused"
    assert [f["rule"] for f in printed["findings"]] == ["quarantine_share"]
    assert verdict(s3).refused


def test_a_refusal_is_counted_in_the_stacks_metrics_and_a_pass_is_not(script, s3):
    put_counts(s3, 10, 990)
    cloudwatch = boto3.client("cloudwatch")

    script.main(argv(metrics_namespace="tlc-elt/dev"), s3=s3)

    metrics = cloudwatch.list_metrics(Namespace="tlc-elt/dev")["Metrics"]
    assert [(m["MetricName"], m["Dimensions"]) for m in metrics] == [
        ("MonthsRefused", [{"Name": "Dataset", "Value": "yellow"}])
    ]
    put_counts(s3, 1000, 2)
    script.main(argv(metrics_namespace="tlc-elt/prod"), s3=s3)
    assert cloudwatch.list_metrics(Namespace="tlc-elt/prod")["Metrics"] == []


def test_force_publish_and_the_stacks_thresholds_reach_the_audit(script, s3):
    put_counts(s3, 10, 990)
    assert script.main(argv(force_publish="true"), s3=s3)["verdict"] == "forced"
    loose = json.dumps({"maxQuarantineShare": 1.0})
    assert script.main(argv(audit=loose), s3=s3)["verdict"] == "passed"
    assert verdict(s3).compared_with["thresholds"]["maxQuarantineShare"] == 1.0


def test_no_candidate_is_a_missing_input(script, s3):
    with pytest.raises(MissingInput, match="transform the month first"):
        script.main(argv(), s3=s3)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"run_id": "../x"}, "run id"),
        ({"force_publish": "maybe"}, "force_publish"),
        ({"audit": "{not json"}, "audit thresholds"),
        ({"audit": '{"maxShrink": 2}'}, "maxShrink"),
        ({"audit": '{"tooMany": 1}'}, "tooMany"),
        ({"month": "13"}, "month"),
    ],
)
def test_bad_arguments_fail_before_any_s3_call(script, override, named):
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client), pytest.raises(InvalidInput, match=named):
        script.main(argv(**override), s3=client)
