"""IAM documents: parliament (community auditors on) finds nothing but the accepted findings
(a missing Resource only in trust policies), nothing is allowed on `*` but actions AWS gives no
resource for, and each Glue job can reach exactly the lake keys pipeline.contract.layout gives its
step."""

from __future__ import annotations

import fnmatch

import pytest
from iam_audit import accepted, seen_in, unaccepted_findings

from components import iam
from pipeline.contract import layout
from pipeline.contract.datasets import DATASETS
from pipeline.contract.months import Month

ACCOUNT = iam.Account("aws", "us-east-1", "123456789012")
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
WORKGROUP = "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/3f1c8e2a-0000-4b5c"
MONTHLY = "arn:aws:states:us-east-1:123456789012:stateMachine:tlc-elt-dev-monthly"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:tlc-elt-dev-trigger"
TOPIC = "arn:aws:sns:us-east-1:123456789012:tlc-elt-dev-alerts"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:tlc-elt-dev-dead-letters"
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/tlc-elt-dev-trigger"
JOB_ARNS = [f"arn:aws:glue:us-east-1:123456789012:job/tlc-elt-dev-{job}" for job in iam.JOB_GRANTS]
MONTH = Month(2024, 9)


def buckets(kms_key: str | None = None) -> iam.Buckets:
    return iam.Buckets("raw-bucket", "processed-bucket", "scripts-bucket", kms_key_arn=kms_key)


def job_policy(job: str, kms_key: str | None = None) -> dict:
    access = iam.GlueJobAccess(
        job=job,
        code_keys=(f"scripts/{job}.py", "libs/0123abcd/pipeline.zip"),
        log_groups=("/aws-glue/python-jobs/output", "/aws-glue/python-jobs/error"),
        workgroup_arn=WORKGROUP,
    )
    return iam.glue_job_policy(access, buckets(kms_key), ACCOUNT)


def all_documents() -> dict[str, dict]:
    documents = {}
    for kms_key in (None, KMS_KEY):
        suffix = "kms" if kms_key else "sse-s3"
        for job in iam.JOB_GRANTS:
            documents[f"glue {job} {suffix}"] = job_policy(job, kms_key)
        documents[f"copy role {suffix}"] = iam.copy_role_policy("processed-bucket", "aws", kms_key)
    documents["monthly machine"] = iam.monthly_machine_policy(JOB_ARNS, TOPIC)
    documents["backfill machine"] = iam.backfill_machine_policy(MONTHLY, FUNCTION, TOPIC, ACCOUNT)
    documents["trigger function"] = iam.trigger_function_policy(MONTHLY, LOG_GROUP, QUEUE)
    documents["scheduler"] = iam.scheduler_policy(FUNCTION, QUEUE)
    documents["bucket policy"] = iam.tls_only_bucket_policy("arn:aws:s3:::raw-bucket")
    for kms_key in (None, KMS_KEY):
        access = iam.ReaderAccess(
            "processed-bucket", "tlc-elt-dev", "tlc_elt_dev", WORKGROUP, kms_key
        )
        documents[f"reader {'kms' if kms_key else 'sse-s3'}"] = iam.reader_policy(access, ACCOUNT)
    return documents


def trust_documents() -> dict[str, dict]:
    documents = {
        f"trust {service}": iam.trust_policy([service], account)
        for service, account in [("glue.amazonaws.com", None), ("states.amazonaws.com", "1" * 12)]
    }
    documents["trust account (reader)"] = iam.account_trust_policy(ACCOUNT)
    return documents


DOCUMENTS = all_documents()
TRUST_DOCUMENTS = trust_documents()


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_parliament_finds_nothing_but_the_accepted_findings(name):
    assert unaccepted_findings(DOCUMENTS[name]) == []


@pytest.mark.parametrize("name", sorted(TRUST_DOCUMENTS))
def test_trust_policies_have_only_the_trust_policy_findings(name):
    assert unaccepted_findings(TRUST_DOCUMENTS[name], trust_policy=True) == []


def test_each_accepted_finding_still_occurs():
    """An accepted finding that no document produces any more is stale: remove it."""
    assert seen_in(DOCUMENTS.values()) >= accepted()
    trust_only = accepted(trust_policy=True) - accepted()
    assert trust_only
    assert seen_in(TRUST_DOCUMENTS.values()) >= trust_only


def test_a_missing_resource_is_reported_outside_trust_policies():
    """The trust-policy acceptance does not hide an identity policy that lost its Resource."""
    trust = iam.trust_policy(["glue.amazonaws.com"])
    no_resource = iam.document({"Effect": "Allow", "Action": "s3:GetObject"})
    reported = unaccepted_findings(no_resource)
    assert [issue for issue, _ in reported] == ["MALFORMED"]
    assert reported == unaccepted_findings(trust)  # the same finding, refused by default
    assert unaccepted_findings(no_resource, trust_policy=True) == []


def allow_statements(document: dict) -> list[dict]:
    return [s for s in document["Statement"] if s["Effect"] == "Allow"]


def as_list(value) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_no_wildcard_actions_and_star_only_where_aws_has_no_resource(name):
    for statement in allow_statements(DOCUMENTS[name]):
        actions = as_list(statement["Action"])
        assert not [a for a in actions if "*" in a], statement
        if "*" in as_list(statement.get("Resource", [])):
            assert set(actions) <= iam.STAR_ACTIONS, statement


def allowed(document: dict, action: str, resource: str) -> bool:
    """IAM's matching for our documents: Allow statements, `*` matching any characters."""
    return any(
        action in as_list(statement["Action"])
        and any(
            fnmatch.fnmatchcase(resource, pattern) for pattern in as_list(statement["Resource"])
        )
        for statement in allow_statements(document)
    )


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def lake_keys(dataset) -> dict[str, list[str]]:
    """The keys pipeline.contract.layout gives each zone for one month of a dataset."""
    processed = layout.processed_prefix(dataset, MONTH)
    quarantine = layout.quarantine_prefix(dataset, MONTH)
    return {
        "raw": [layout.raw_key(dataset, MONTH), layout.ingest_record_key(dataset, MONTH)],
        "parts": [processed + "part-00000-x.snappy.parquet", layout.counts_key(dataset, MONTH)],
        "quarantine": [quarantine + "part-00000-x.snappy.parquet"],
        "manifest": [layout.copy_manifest_key(dataset, MONTH)],
    }


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_ingest_writes_raw_and_nothing_processed(dataset):
    policy, keys = job_policy("ingest_raw"), lake_keys(dataset)
    for key in keys["raw"]:
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert allowed(policy, action, object_arn("raw-bucket", key)), (action, key)
    for key in keys["parts"] + keys["manifest"]:
        assert not allowed(policy, "s3:PutObject", object_arn("processed-bucket", key))
        assert not allowed(policy, "s3:GetObject", object_arn("processed-bucket", key))
    assert not allowed(policy, "s3:PutObject", object_arn("raw-bucket", "elsewhere/file"))


def spark_work_keys(dataset) -> list[str]:
    """What Spark's committer and S3 filesystem write inside the month's output folders."""
    keys = []
    for folder in (
        layout.processed_prefix(dataset, MONTH),
        layout.quarantine_prefix(dataset, MONTH),
    ):
        keys += [
            f"{folder}_temporary/0/_temporary/attempt_202409010000_0001_m_000000_0/part-0.parquet",
            f"{folder}_temporary/0/task_202409010000_0001_m_000000/part-00000.snappy.parquet",
            f"{folder}_SUCCESS",
            folder.rstrip("/") + "_$folder$",  # the month folder's marker
            folder.rsplit("/", 2)[0] + "_$folder$",  # the year folder's marker
        ]
    return keys


def folder_probes(dataset) -> list[str]:
    """The keys of the folders above the month that Spark's S3 filesystem may HEAD or mark."""
    quarantine = layout.quarantine_dataset_prefix(dataset).rstrip("/")
    top = layout.dataset_prefix(dataset).rstrip("/")
    root = quarantine.split("/")[0]
    return [top, f"{top}_$folder$", root, f"{root}/", f"{root}_$folder$",
            quarantine, f"{quarantine}_$folder$"]  # fmt: skip


# Keys of the processed bucket that are no dataset's parts or quarantine.
OUTSIDE_THE_DATASETS = [
    "elsewhere/file.parquet",
    "_temporary/0/part-00000.parquet",
    "quarantine/file.parquet",
    "quarantine/blue/year=2024/month=09/part-00000.parquet",
    "yellowish/year=2024/month=09/part-00000.parquet",
    "blue/year=2024/month=09/part-00000.parquet",
    "x_$folder$",
]


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_transform_reads_raw_and_writes_processed_and_quarantine(dataset):
    policy, keys = job_policy("transform_trips"), lake_keys(dataset)
    for key in keys["raw"]:
        assert allowed(policy, "s3:GetObject", object_arn("raw-bucket", key))
        assert not allowed(policy, "s3:PutObject", object_arn("raw-bucket", key))
    for key in keys["parts"] + keys["quarantine"] + spark_work_keys(dataset):
        for action in (
            "s3:PutObject",
            "s3:GetObject",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",
        ):
            assert allowed(policy, action, object_arn("processed-bucket", key)), (action, key)
    for key in folder_probes(dataset):
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert allowed(policy, action, object_arn("processed-bucket", key)), (action, key)
        # Folder keys are empty markers: no multipart upload ever targets one.
        assert not allowed(policy, "s3:AbortMultipartUpload", object_arn("processed-bucket", key))


def test_transform_writes_nothing_in_processed_outside_the_datasets_and_quarantine():
    policy = job_policy("transform_trips")
    for key in OUTSIDE_THE_DATASETS:
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert not allowed(policy, action, object_arn("processed-bucket", key)), (action, key)


def test_the_transform_grant_is_exactly_the_layouts_prefixes_and_their_folder_keys():
    """Fails if the grant widens (a bucket-wide `*`, a new prefix) or a dataset loses one."""
    policy = job_policy("transform_trips")
    granted = {
        resource
        for statement in allow_statements(policy)
        if "s3:PutObject" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
        if resource.startswith("arn:aws:s3:::processed-bucket")
    }
    prefixes = [layout.dataset_prefix(d) for d in DATASETS.values()] + [
        layout.quarantine_dataset_prefix(d) for d in DATASETS.values()
    ]
    probes = {key for dataset in DATASETS.values() for key in folder_probes(dataset)}
    expected = {object_arn("processed-bucket", f"{prefix}*") for prefix in prefixes}
    expected |= {object_arn("processed-bucket", key) for key in probes}
    assert granted == expected
    assert not [r for r in granted if r.endswith("*") and r.count("/") < 2]  # no bucket-wide *


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_load_reads_processed_and_writes_only_copy_manifests(dataset):
    policy, keys = job_policy("load_redshift"), lake_keys(dataset)
    for key in keys["parts"]:
        assert allowed(policy, "s3:GetObject", object_arn("processed-bucket", key))
        assert not allowed(policy, "s3:PutObject", object_arn("processed-bucket", key))
    for key in keys["manifest"]:
        assert allowed(policy, "s3:PutObject", object_arn("processed-bucket", key))
    for key in keys["raw"]:
        assert not allowed(policy, "s3:GetObject", object_arn("raw-bucket", key))
    assert not allowed(policy, "s3:DeleteObject", object_arn("processed-bucket", keys["parts"][0]))


def test_the_load_and_its_copy_role_read_the_zone_lookup_and_nothing_beside_it():
    lookup = object_arn("processed-bucket", layout.taxi_zones_key())
    beside = object_arn("processed-bucket", "reference/other.csv")
    for policy in (job_policy("load_redshift"), iam.copy_role_policy("processed-bucket")):
        assert allowed(policy, "s3:GetObject", lookup)
        assert not allowed(policy, "s3:PutObject", lookup)
        assert not allowed(policy, "s3:GetObject", beside)
    for job in ("ingest_raw", "transform_trips"):
        assert not allowed(job_policy(job), "s3:GetObject", lookup)


def test_only_the_load_job_reaches_the_warehouse():
    for job in iam.JOB_GRANTS:
        can_run = allowed(job_policy(job), "redshift-data:BatchExecuteStatement", WORKGROUP)
        assert can_run == (job in iam.WAREHOUSE_JOBS)
    load = job_policy("load_redshift")
    assert allowed(load, "redshift-serverless:GetCredentials", WORKGROUP)
    owner_only = next(s for s in load["Statement"] if s["Sid"] == "FollowOwnStatements")
    assert owner_only["Condition"] == {
        "StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}
    }


def test_each_job_reads_its_own_code_only():
    policy = job_policy("ingest_raw")
    assert allowed(policy, "s3:GetObject", object_arn("scripts-bucket", "scripts/ingest_raw.py"))
    assert not allowed(policy, "s3:GetObject", object_arn("scripts-bucket", "scripts/other.py"))


def test_a_job_without_grants_or_without_a_workgroup_is_refused():
    access = iam.GlueJobAccess("publish_report", (), ())
    with pytest.raises(KeyError, match="publish_report"):
        iam.glue_job_policy(access, buckets(), ACCOUNT)
    load = iam.GlueJobAccess("load_redshift", (), ())
    with pytest.raises(ValueError, match="workgroup_arn"):
        iam.glue_job_policy(load, buckets(), ACCOUNT)


def test_kms_permissions_follow_the_configured_key():
    assert not any("kms:" in str(s["Action"]) for s in job_policy("ingest_raw")["Statement"])
    writer = job_policy("ingest_raw", KMS_KEY)
    assert allowed(writer, "kms:GenerateDataKey", KMS_KEY)
    assert allowed(writer, "kms:Decrypt", KMS_KEY)
    reader = iam.copy_role_policy("processed-bucket", "aws", KMS_KEY)
    assert allowed(reader, "kms:Decrypt", KMS_KEY)
    assert not allowed(reader, "kms:GenerateDataKey", KMS_KEY)


def test_copy_role_reads_processed_datasets_only():
    policy = iam.copy_role_policy("processed-bucket")
    manifest = layout.copy_manifest_key(DATASETS["yellow"], MONTH)
    assert allowed(policy, "s3:GetObject", object_arn("processed-bucket", manifest))
    assert not allowed(policy, "s3:GetObject", object_arn("raw-bucket", manifest))
    assert not allowed(policy, "s3:PutObject", object_arn("processed-bucket", manifest))


def test_backfill_follows_only_the_monthly_machines_executions():
    policy = iam.backfill_machine_policy(MONTHLY, FUNCTION, TOPIC, ACCOUNT)
    child = "arn:aws:states:us-east-1:123456789012:execution:tlc-elt-dev-monthly:yellow-2024-01"
    other = "arn:aws:states:us-east-1:123456789012:execution:someone-else:x"
    assert allowed(policy, "states:DescribeExecution", child)
    assert not allowed(policy, "states:DescribeExecution", other)
    assert allowed(policy, "states:StartExecution", MONTHLY)
    assert allowed(policy, "lambda:InvokeFunction", FUNCTION)
    assert allowed(
        policy,
        "events:PutRule",
        "arn:aws:events:us-east-1:123456789012:rule/"
        "StepFunctionsGetEventsForStepFunctionsExecutionRule",
    )


def test_monthly_machine_runs_exactly_its_jobs():
    policy = iam.monthly_machine_policy(JOB_ARNS, TOPIC)
    for arn in JOB_ARNS:
        for action in ("glue:StartJobRun", "glue:GetJobRun", "glue:BatchStopJobRun"):
            assert allowed(policy, action, arn)
    assert not allowed(policy, "glue:StartJobRun", "arn:aws:glue:us-east-1:123456789012:job/x")
    assert allowed(policy, "sns:Publish", TOPIC)


def test_bucket_policy_denies_every_request_without_tls():
    (statement,) = iam.tls_only_bucket_policy("arn:aws:s3:::raw-bucket")["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Resource"] == ["arn:aws:s3:::raw-bucket", "arn:aws:s3:::raw-bucket/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_trust_policy_guards_the_confused_deputy_when_asked():
    (guarded,) = iam.trust_policy(["states.amazonaws.com"], "123456789012")["Statement"]
    assert guarded["Principal"] == {"Service": ["states.amazonaws.com"]}
    assert guarded["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    (plain,) = iam.trust_policy(["glue.amazonaws.com"])["Statement"]
    assert "Condition" not in plain


def test_the_reader_reads_the_lake_writes_only_query_results_and_runs_only_queries():
    access = iam.ReaderAccess("processed-bucket", "tlc-elt-dev", "tlc_elt_dev", WORKGROUP)
    policy = iam.reader_policy(access, ACCOUNT)
    for dataset in DATASETS.values():
        keys = lake_keys(dataset)
        for key in keys["parts"] + keys["quarantine"]:
            assert allowed(policy, "s3:GetObject", object_arn("processed-bucket", key))
            assert not allowed(policy, "s3:PutObject", object_arn("processed-bucket", key))
        for key in keys["raw"]:
            assert not allowed(policy, "s3:GetObject", object_arn("raw-bucket", key))
    results = object_arn("processed-bucket", "athena-results/abc.csv")
    assert allowed(policy, "s3:PutObject", results)
    assert not allowed(policy, "s3:DeleteObject", results)
    workgroup = "arn:aws:athena:us-east-1:123456789012:workgroup/tlc-elt-dev"
    assert allowed(policy, "athena:StartQueryExecution", workgroup)
    assert not allowed(policy, "athena:StartQueryExecution", workgroup + "x")
    table = "arn:aws:glue:us-east-1:123456789012:table/tlc_elt_dev/yellow_trips"
    assert allowed(policy, "glue:GetPartitions", table)
    assert not allowed(policy, "glue:UpdateTable", table)
    assert allowed(policy, "redshift-serverless:GetCredentials", WORKGROUP)
    assert allowed(policy, "redshift-data:ExecuteStatement", WORKGROUP)
    assert not allowed(policy, "redshift-data:BatchExecuteStatement", WORKGROUP)
    assert not [s for s in policy["Statement"] if "kms:" in str(s["Action"])]


def test_the_reader_can_browse_the_athena_console_but_query_only_its_workgroup():
    access = iam.ReaderAccess("processed-bucket", "tlc-elt-dev", "tlc_elt_dev", WORKGROUP)
    policy = iam.reader_policy(access, ACCOUNT)
    catalog = "arn:aws:athena:us-east-1:123456789012:datacatalog/AwsDataCatalog"
    for action in ("athena:ListWorkGroups", "athena:ListDataCatalogs"):
        assert allowed(policy, action, "*")
    for action in iam.ATHENA_CONSOLE_CATALOG_ACTIONS:
        assert allowed(policy, action, catalog)
        assert not allowed(policy, action, catalog.replace("AwsDataCatalog", "other"))
    other = "arn:aws:athena:us-east-1:123456789012:workgroup/primary"
    assert not allowed(policy, "athena:StartQueryExecution", other)
    assert allowed(policy, "glue:GetDatabases", "arn:aws:glue:us-east-1:123456789012:catalog")
