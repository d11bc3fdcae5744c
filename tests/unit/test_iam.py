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
RUN = "yellow-2024-09-manual-20241105T120000Z"
DATABASE = "tlc_elt_dev"


def buckets(kms_key: str | None = None) -> iam.Buckets:
    return iam.Buckets("raw-bucket", "processed-bucket", "scripts-bucket", kms_key_arn=kms_key)


def job_policy(job: str, kms_key: str | None = None) -> dict:
    access = iam.GlueJobAccess(
        job=job,
        code_keys=(f"scripts/{job}.py", "libs/0123abcd/pipeline.zip"),
        log_groups=("/aws-glue/python-jobs/output", "/aws-glue/python-jobs/error"),
        workgroup_arn=WORKGROUP,
        glue_database=DATABASE,
        metrics_namespace="tlc-elt/dev",
    )
    return iam.glue_job_policy(access, buckets(kms_key), ACCOUNT)


def all_documents() -> dict[str, dict]:
    documents = {}
    for kms_key in (None, KMS_KEY):
        suffix = "kms" if kms_key else "sse-s3"
        for job in iam.JOB_GRANTS:
            documents[f"glue {job} {suffix}"] = job_policy(job, kms_key)
        documents[f"copy role {suffix}"] = iam.copy_role_policy("processed-bucket", "aws", kms_key)
    for kms_key in (None, KMS_KEY):
        suffix = "kms" if kms_key else "sse-s3"
        documents[f"monthly machine {suffix}"] = iam.monthly_machine_policy(
            JOB_ARNS, TOPIC, buckets(kms_key)
        )
        documents[f"adopt function {suffix}"] = iam.adopt_function_policy(
            buckets(kms_key), DATABASE, LOG_GROUP, ACCOUNT
        )
    documents["backfill machine"] = iam.backfill_machine_policy(MONTHLY, FUNCTION, TOPIC, ACCOUNT)
    documents["trigger function"] = iam.trigger_function_policy(MONTHLY, LOG_GROUP, QUEUE)
    documents["scheduler"] = iam.scheduler_policy(FUNCTION, QUEUE)
    documents["freshness check"] = iam.freshness_check_policy("tlc-elt/dev")
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
    """The keys pipeline.contract.layout gives each zone for one month of a dataset: a run's,
    the month's pointer, and a legacy month's files."""
    run, legacy = layout.RunKeys(dataset, MONTH, RUN), layout.RunKeys(dataset, MONTH, None)
    return {
        "raw": [run.raw_key, run.ingest_record_key],
        "parts": [run.processed_prefix + "part-00000-x.snappy.parquet", run.counts_key],
        "quarantine": [run.quarantine_prefix + "part-00000-x.snappy.parquet"],
        "manifest": [run.copy_manifest_key],
        "audit": [run.audit_key],
        "pointer": [layout.published_key(dataset, MONTH)],
        "legacy raw": [legacy.raw_key, legacy.ingest_record_key],
        "legacy": [legacy.processed_prefix + "part-00000-x.snappy.parquet", legacy.counts_key,
                   legacy.copy_manifest_key, legacy.quarantine_prefix + "part-0.parquet"],
    }  # fmt: skip


def denied(document: dict, action: str, resource: str) -> bool:
    return any(
        statement["Effect"] == "Deny"
        and action in as_list(statement["Action"])
        and any(fnmatch.fnmatchcase(resource, p) for p in as_list(statement["Resource"]))
        for statement in document["Statement"]
    )


def may(document: dict, action: str, resource: str) -> bool:
    return allowed(document, action, resource) and not denied(document, action, resource)


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_ingest_writes_its_run_reads_the_published_month_and_nothing_processed(dataset):
    policy, keys = job_policy("ingest_raw"), lake_keys(dataset)
    for key in keys["raw"]:
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert allowed(policy, action, object_arn("raw-bucket", key)), (action, key)
    for key in keys["legacy raw"]:  # the published file it copies when unchanged
        assert allowed(policy, "s3:GetObject", object_arn("raw-bucket", key))
        assert not allowed(policy, "s3:PutObject", object_arn("raw-bucket", key))
        assert not allowed(policy, "s3:DeleteObject", object_arn("raw-bucket", key))
    for key in keys["pointer"] + [keys["legacy"][1]]:  # which run is published
        assert allowed(policy, "s3:GetObject", object_arn("processed-bucket", key))
    for key in keys["parts"] + keys["manifest"] + keys["pointer"]:
        assert not allowed(policy, "s3:PutObject", object_arn("processed-bucket", key))
    assert not allowed(policy, "s3:GetObject", object_arn("processed-bucket", keys["parts"][0]))
    assert not allowed(policy, "s3:PutObject", object_arn("raw-bucket", "elsewhere/file"))


def spark_work_keys(dataset) -> list[str]:
    """What Spark's committer and S3 filesystem write inside the run's output folders."""
    keys = []
    run = layout.RunKeys(dataset, MONTH, RUN)
    for folder in (run.processed_prefix, run.quarantine_prefix):
        keys += [
            f"{folder}_temporary/0/_temporary/attempt_202409010000_0001_m_000000_0/part-0.parquet",
            f"{folder}_temporary/0/task_202409010000_0001_m_000000/part-00000.snappy.parquet",
            f"{folder}_SUCCESS",
            folder.rstrip("/") + "_$folder$",  # the run folder's marker
            folder.rsplit("/", 2)[0] + "_$folder$",  # the month folder's marker
            folder.rsplit("/", 3)[0] + "_$folder$",  # the year folder's marker
        ]
    return keys


def folder_probes(dataset) -> list[str]:
    """The keys of the folders above the runs that Spark's S3 filesystem may HEAD or mark."""
    quarantine = layout.quarantine_dataset_prefix(dataset).rstrip("/")
    top = layout.dataset_prefix(dataset).rstrip("/")
    root = quarantine.split("/")[0]
    folders = (top, root, quarantine, f"{top}/_runs", f"{quarantine}/_runs")
    return [key for folder in folders for key in (folder, f"{folder}/", f"{folder}_$folder$")
            if not key.endswith("_runs/")]  # fmt: skip


# Keys of the processed bucket that are no run's parts or quarantine.
OUTSIDE_THE_RUNS = [
    "elsewhere/file.parquet",
    "_temporary/0/part-00000.parquet",
    "quarantine/file.parquet",
    "quarantine/blue/_runs/year=2024/month=09/r/part-00000.parquet",
    "yellowish/_runs/year=2024/month=09/r/part-00000.parquet",
    "blue/_runs/year=2024/month=09/r/part-00000.parquet",
    "yellow/year=2024/month=09/part-00000.parquet",  # a published (legacy) month
    "yellow/year=2024/month=09/_published.json",
    "x_$folder$",
]


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_transform_reads_its_runs_raw_file_and_writes_its_runs_parts_and_quarantine(dataset):
    policy, keys = job_policy("transform_trips"), lake_keys(dataset)
    for key in keys["raw"]:
        assert allowed(policy, "s3:GetObject", object_arn("raw-bucket", key))
        assert not allowed(policy, "s3:PutObject", object_arn("raw-bucket", key))
    for key in keys["legacy raw"]:
        assert not allowed(policy, "s3:GetObject", object_arn("raw-bucket", key))
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


def test_transform_writes_nothing_in_processed_outside_the_runs():
    policy = job_policy("transform_trips")
    for key in OUTSIDE_THE_RUNS:
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert not allowed(policy, action, object_arn("processed-bucket", key)), (action, key)


def test_the_transform_grant_is_exactly_the_runs_prefixes_and_their_folder_keys():
    """Fails if the grant widens (a bucket-wide `*`, a new prefix) or a dataset loses one."""
    policy = job_policy("transform_trips")
    granted = {
        resource
        for statement in allow_statements(policy)
        if "s3:PutObject" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
        if resource.startswith("arn:aws:s3:::processed-bucket")
    }
    prefixes = [f"{layout.dataset_prefix(d)}_runs/" for d in DATASETS.values()] + [
        f"{layout.quarantine_dataset_prefix(d)}_runs/" for d in DATASETS.values()
    ]
    probes = {key for dataset in DATASETS.values() for key in folder_probes(dataset)}
    expected = {object_arn("processed-bucket", f"{prefix}*") for prefix in prefixes}
    expected |= {object_arn("processed-bucket", key) for key in probes}
    assert granted == expected
    assert not [r for r in granted if r.endswith("*") and r.count("/") < 2]  # no bucket-wide *


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_audit_reads_processed_and_writes_only_verdicts(dataset):
    policy, keys = job_policy("audit_month"), lake_keys(dataset)
    for key in keys["parts"] + keys["pointer"] + keys["legacy"]:
        assert allowed(policy, "s3:GetObject", object_arn("processed-bucket", key))
        assert not allowed(policy, "s3:PutObject", object_arn("processed-bucket", key))
    assert allowed(policy, "s3:PutObject", object_arn("processed-bucket", keys["audit"][0]))
    for key in keys["parts"] + keys["audit"]:
        assert not allowed(policy, "s3:DeleteObject", object_arn("processed-bucket", key))
    assert not allowed(policy, "s3:GetObject", object_arn("raw-bucket", keys["raw"][0]))


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_load_publishes_pointers_and_manifests_and_removes_runs_and_legacy_files(dataset):
    policy, keys = job_policy("load_redshift"), lake_keys(dataset)
    for key in keys["parts"] + keys["quarantine"] + keys["pointer"] + keys["legacy"]:
        assert allowed(policy, "s3:GetObject", object_arn("processed-bucket", key))
    for key in keys["manifest"] + keys["pointer"]:
        assert may(policy, "s3:PutObject", object_arn("processed-bucket", key)), key
    for key in keys["parts"] + keys["quarantine"] + keys["legacy"]:
        assert not allowed(policy, "s3:PutObject", object_arn("processed-bucket", key)), key
        assert may(policy, "s3:DeleteObject", object_arn("processed-bucket", key)), key
    for key in keys["raw"] + keys["legacy raw"]:  # retention, in both zones
        assert may(policy, "s3:DeleteObject", object_arn("raw-bucket", key)), key
        assert not allowed(policy, "s3:PutObject", object_arn("raw-bucket", key)), key
    assert allowed(policy, "s3:GetObject", object_arn("raw-bucket", keys["raw"][1]))
    # The pointer names the published run: removing a legacy month's files keeps it.
    assert not may(policy, "s3:DeleteObject", object_arn("processed-bucket", keys["pointer"][0]))
    assert not may(policy, "s3:DeleteObject", object_arn("processed-bucket", "elsewhere/x"))


def test_load_moves_partitions_of_exactly_the_catalogs_tables():
    policy = job_policy("load_redshift")
    table = f"arn:aws:glue:us-east-1:123456789012:table/{DATABASE}/" + "{}"
    for name in ("yellow_trips", "yellow_quarantine", "fhvhv_quarantine"):
        for action in ("glue:UpdatePartition", "glue:CreatePartition", "glue:GetPartition"):
            assert allowed(policy, action, table.format(name))
    assert not allowed(policy, "glue:UpdatePartition", table.format("taxi_zones"))
    assert not allowed(policy, "glue:UpdateTable", table.format("yellow_trips"))
    for job in ("ingest_raw", "transform_trips", "audit_month"):
        assert not allowed(job_policy(job), "glue:UpdatePartition", table.format("yellow_trips"))


def test_the_load_and_its_copy_role_read_the_zone_lookup_and_nothing_beside_it():
    lookup = object_arn("processed-bucket", layout.taxi_zones_key())
    beside = object_arn("processed-bucket", "reference/other.csv")
    for policy in (job_policy("load_redshift"), iam.copy_role_policy("processed-bucket")):
        assert allowed(policy, "s3:GetObject", lookup)
        assert not allowed(policy, "s3:PutObject", lookup)
        assert not allowed(policy, "s3:GetObject", beside)
    for job in ("ingest_raw", "transform_trips", "audit_month"):
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
    load = iam.GlueJobAccess("load_redshift", (), (), WORKGROUP, metrics_namespace="tlc-elt/dev")
    with pytest.raises(ValueError, match="glue_database"):
        iam.glue_job_policy(load, buckets(), ACCOUNT)
    audit = iam.GlueJobAccess("audit_month", (), ())
    with pytest.raises(ValueError, match="metrics_namespace"):
        iam.glue_job_policy(audit, buckets(), ACCOUNT)


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
    manifest = layout.RunKeys(DATASETS["yellow"], MONTH, RUN).copy_manifest_key
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


def test_monthly_machine_runs_exactly_its_jobs_and_reads_only_verdicts():
    policy = iam.monthly_machine_policy(JOB_ARNS, TOPIC, buckets())
    keys = lake_keys(DATASETS["fhv"])
    assert allowed(policy, "s3:GetObject", object_arn("processed-bucket", keys["audit"][0]))
    for key in keys["parts"] + keys["pointer"]:
        assert not allowed(policy, "s3:GetObject", object_arn("processed-bucket", key))
    assert not [s for s in policy["Statement"] if "kms:" in str(s["Action"])]
    with_key = iam.monthly_machine_policy(JOB_ARNS, TOPIC, buckets(KMS_KEY))
    assert allowed(with_key, "kms:Decrypt", KMS_KEY)
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
        for key in keys["parts"] + keys["quarantine"] + keys["legacy"]:
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


def test_metrics_are_put_only_into_the_stacks_namespace():
    granted = [statement for document in DOCUMENTS.values()
               for statement in allow_statements(document)
               if "cloudwatch:PutMetricData" in as_list(statement["Action"])]  # fmt: skip
    assert granted
    for statement in granted:
        assert as_list(statement["Action"]) == ["cloudwatch:PutMetricData"]
        assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "tlc-elt/dev"}}
    assert iam.put_metrics_statement("tlc-elt/prod")["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "tlc-elt/prod"}
    }


def test_the_adopt_function_reads_what_is_published_and_only_registers_partitions():
    policy = iam.adopt_function_policy(buckets(), DATABASE, LOG_GROUP, ACCOUNT)
    keys = lake_keys(DATASETS["green"])
    for key in keys["pointer"] + [keys["legacy"][1]]:
        assert allowed(policy, "s3:GetObject", object_arn("processed-bucket", key))
    assert not allowed(policy, "s3:GetObject", object_arn("processed-bucket", keys["parts"][0]))
    table = f"arn:aws:glue:us-east-1:123456789012:table/{DATABASE}/green_trips"
    assert allowed(policy, "glue:BatchCreatePartition", table)
    assert not allowed(policy, "glue:UpdatePartition", table)
    assert allowed(policy, "s3:ListBucket", "arn:aws:s3:::processed-bucket")


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
