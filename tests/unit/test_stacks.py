"""The Pulumi program under mocks, once per stack file (dev, prod), with that file's config.

Each run executes `__main__.py` with `set_mocks(..., preview=False)`: every resource is
registered with its real inputs, the mocks echo them back with computed outputs (ARNs, names),
and the test function returns the Output of all stack exports, which the Pulumi test harness
awaits. Assertions then read what was registered, outside any `apply`, so none can silently
not run; an unknown resource type or provider function fails the run.
"""

from __future__ import annotations

import base64
import io
import json
import re
import runpy
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from iam_audit import unaccepted_findings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.rpc import UNKNOWN
from pulumi.runtime.rpc import _special_secret_sig as SECRET_SIG
from pulumi.runtime.rpc import _special_sig_key as SIG_KEY

from components import artifacts, asl, catalog, iam, monitoring
from components import etl as etl_module
from components.analytics import reader_role_name
from components.orchestration import SCHEDULED_TIME
from components.settings import NAMESPACE, build_settings
from functions.trigger import plan_start
from pipeline.contract.access import CALL_ACCESS_PROCEDURE, access_procedure_sql
from pipeline.contract.datasets import DATASETS
from pipeline.contract.layout import taxi_zones_key
from pipeline.contract.steps import JOB_ARGUMENTS, PYTHON_SHELL, SPARK, STEPS
from pipeline.contract.zones import ZONE_LOOKUP
from pipeline.warehouse.redshift import WORKGROUP_BOTOCORE

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
OUTPUTS = (
    "stateMachineArn", "backfillStateMachineArn", "rawBucket", "processedBucket",
    "scriptsBucket", "workgroupName", "databaseName", "alertsTopicArn", "triggerFunctionName",
    "glueDatabaseName", "athenaWorkgroupName", "readerRoleArn",
)  # fmt: skip

# How the mocks make each resource type's computed outputs: (ARN, extra outputs).
_ARNS = {
    "aws:s3/bucket:Bucket": lambda n, i: f"arn:aws:s3:::{i['bucket']}",
    "aws:iam/role:Role": lambda n, i: f"arn:aws:iam::{ACCOUNT}:role/{i['name']}",
    "aws:glue/job:Job": lambda n, i: f"arn:aws:glue:{REGION}:{ACCOUNT}:job/{i['name']}",
    "aws:sfn/stateMachine:StateMachine":
        lambda n, i: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{i['name']}",
    "aws:lambda/function:Function":
        lambda n, i: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{i['name']}",
    "aws:sns/topic:Topic": lambda n, i: f"arn:aws:sns:{REGION}:{ACCOUNT}:{i['name']}",
    "aws:sqs/queue:Queue": lambda n, i: f"arn:aws:sqs:{REGION}:{ACCOUNT}:{i['name']}",
    "aws:cloudwatch/logGroup:LogGroup":
        lambda n, i: f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{i['name']}",
    "aws:redshiftserverless/workgroup:Workgroup":
        lambda n, i: f"arn:aws:redshift-serverless:{REGION}:{ACCOUNT}:workgroup/wg-{n}",
    "aws:redshiftserverless/namespace:Namespace":
        lambda n, i: f"arn:aws:redshift-serverless:{REGION}:{ACCOUNT}:namespace/ns-{n}",
    "aws:scheduler/schedule:Schedule":
        lambda n, i: f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{i['name']}",
    "aws:cloudwatch/metricAlarm:MetricAlarm":
        lambda n, i: f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{i['name']}",
    "aws:glue/catalogDatabase:CatalogDatabase":
        lambda n, i: f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{i['name']}",
    "aws:athena/workgroup:Workgroup":
        lambda n, i: f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{i['name']}",
}  # fmt: skip
# The secret Secrets Manager keeps the namespace's admin password in (manageAdminPassword).
ADMIN_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:redshift!tlc-admin-AbCdEf"
# Types with no computed output the program reads.
_PLAIN = {
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:redshiftserverless/usageLimit:UsageLimit",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:glue/catalogTable:CatalogTable",
    "aws:redshiftdata/statement:Statement",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:lambda/invocation:Invocation",
}
_CALLS = {
    "aws:index/getCallerIdentity:getCallerIdentity": {
        "accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/ci", "userId": "AIDA",
        "id": ACCOUNT,
    },
    "aws:index/getRegion:getRegion": {"region": REGION, "name": REGION, "id": REGION},
    "aws:index/getPartition:getPartition": {
        "partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws",
    },
}  # fmt: skip


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    parent: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    dependencies: tuple[str, ...] = ()


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, Registered] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        inputs = dict(args.inputs)
        outputs = dict(inputs)
        if args.typ.startswith(f"{NAMESPACE}:"):
            pass  # a component: no outputs of its own
        elif args.typ in _ARNS:
            if args.typ == "aws:s3/bucket:Bucket":
                outputs["bucket"] = inputs["bucket"] = f"{inputs['bucketPrefix']}0a1b2c3d"
            outputs.setdefault("name", f"{args.name}-7f3e2d1")
            inputs.setdefault("name", outputs["name"])
            outputs["arn"] = _ARNS[args.typ](args.name, inputs)
            if args.typ == "aws:redshiftserverless/namespace:Namespace":
                outputs["adminPasswordSecretArn"] = ADMIN_SECRET
            if args.typ == "aws:sqs/queue:Queue":
                outputs["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{inputs['name']}"
        elif args.typ not in _PLAIN:
            raise AssertionError(f"the program creates an unexpected resource type {args.typ}")
        self.resources[args.name] = Registered(args.typ, args.name, dict(args.inputs), outputs)
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token not in _CALLS:
            raise AssertionError(f"the program calls an unexpected function {args.token}")
        return _CALLS[args.token]


class RecordingMonitor(MockMonitor):
    """Also records what only the registration request carries: parent, protect, retain."""

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        registered = self.mocks.resources.get(request.name)
        if registered is not None:
            registered.parent = request.parent
            registered.protect = request.protect
            registered.retain_on_delete = request.retainOnDelete
            registered.dependencies = tuple(request.dependencies)
        return response


def stack_file_config(stack: str) -> dict[str, str]:
    """Pulumi.<stack>.yaml as Pulumi hands it to the program: strings, JSON for structures."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    config = {}
    for key, value in document["config"].items():
        if isinstance(value, bool):
            config[key] = "true" if value else "false"
        elif isinstance(value, (list, dict)):
            config[key] = json.dumps(value)
        else:
            config[key] = str(value)
    return config


@dataclass
class Deployment:
    variant: str  # a key of VARIANTS
    stack: str
    config: dict[str, str]
    resources: dict[str, Registered]
    exports: dict[str, Any]
    program: dict[str, Any]  # __main__.py's globals: the components, the settings

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources.values() if r.type == type_]

    def get(self, name: str) -> Registered:
        return self.resources[name]

    def policy(self, name: str) -> dict:
        return json.loads(self.get(name).inputs["policy"])


def run_program(
    stack: str, config: dict[str, str], mocks: Mocks | None = None, variant: str = ""
) -> Deployment:
    mocks = mocks or Mocks()
    pulumi.runtime.settings.reset_options()
    pulumi.runtime.set_mocks(
        mocks, project="tlc-elt", stack=stack, preview=False, monitor=RecordingMonitor(mocks)
    )
    pulumi.runtime.set_all_config(config)
    program: dict[str, Any] = {}
    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def deploy():
        program.update(runpy.run_path(str(ROOT / "__main__.py"), run_name="__pulumi__"))
        outputs = pulumi.runtime.settings.get_root_resource().outputs
        return pulumi.Output.all(**outputs).apply(exports.update)

    deploy()
    return Deployment(variant, stack, config, mocks.resources, exports, program)


KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
# Each stack file as it is, and dev with the optional features switched on.
VARIANTS = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "dev+kms+email": ("dev", {
        f"{NAMESPACE}:kmsKeyArn": KMS_KEY,
        f"{NAMESPACE}:alertEmail": "data-team@example.com",
        f"{NAMESPACE}:scheduledDatasets": '["yellow", "fhvhv"]',
    }),
}  # fmt: skip


def deploy(
    stack: str, config: dict[str, str], mocks: Mocks | None = None, variant: str = ""
) -> Deployment:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PULUMI_CONFIG", json.dumps(config))
        return run_program(stack, config, mocks, variant)


@pytest.fixture(scope="module", params=list(VARIANTS))
def deployment(request) -> Deployment:
    stack, extra = VARIANTS[request.param]
    return deploy(stack, {**stack_file_config(stack), **extra}, variant=request.param)


def test_every_output_is_exported_and_known(deployment):
    assert sorted(deployment.exports) == sorted(OUTPUTS)
    assert all(isinstance(v, str) and v for v in deployment.exports.values())
    assert UNKNOWN not in json.dumps(
        [r.inputs for r in deployment.resources.values()], default=repr
    )
    assert deployment.exports["databaseName"] == "tlc"
    assert deployment.exports["workgroupName"] == f"tlc-elt-{deployment.stack}"
    assert deployment.exports["glueDatabaseName"] == f"tlc_elt_{deployment.stack}"
    assert deployment.exports["athenaWorkgroupName"] == f"tlc-elt-{deployment.stack}"
    assert deployment.exports["readerRoleArn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/tlc-elt-{deployment.stack}-reader"
    )


def test_the_six_components_and_their_children(deployment):
    components = {
        r.type: r.name for r in deployment.resources.values() if r.type.startswith("tlc-elt:")
    }
    assert components == {
        "tlc-elt:storage:DataLake": "lake",
        "tlc-elt:etl:GlueEtl": "etl",
        "tlc-elt:warehouse:RedshiftWarehouse": "warehouse",
        "tlc-elt:orchestration:Orchestration": "orchestration",
        "tlc-elt:analytics:Analytics": "analytics",
        "tlc-elt:monitoring:Monitoring": "monitoring",
    }
    for resource in deployment.resources.values():
        if resource.type.startswith("tlc-elt:"):
            continue
        assert resource.parent, f"{resource.name} is not inside a component"
        owner = resource.parent.split("::")[-1]
        assert resource.name.startswith(owner.split("-")[0]), (resource.name, owner)


# Every resource the program creates, by type, written out (not derived from the program) so
# that one more or one fewer of anything fails: 3 buckets with their 5 settings each and raw's
# versioning; 3 scripts and 2 builds of the pipeline package; a job, role and policy per step;
# roles with their policies for the two machines, the trigger, the scheduler and the COPY
# role; log groups for the Spark job's output and error, both machines and the trigger; the
# catalog's database with two tables per dataset (processed, quarantine), the Athena workgroup,
# the reader role with its policy and Query Editor v2's managed one, and the two statements of
# the warehouse's access setup; the dashboard, a warnings alarm per dataset, the daily freshness
# schedule and its policy on the trigger's role (and, where the schedule runs, a missing-data
# alarm per scheduled dataset).
INVENTORY = {
    "tlc-elt:storage:DataLake": 1,
    "tlc-elt:etl:GlueEtl": 1,
    "tlc-elt:warehouse:RedshiftWarehouse": 1,
    "tlc-elt:orchestration:Orchestration": 1,
    "tlc-elt:analytics:Analytics": 1,
    "tlc-elt:monitoring:Monitoring": 1,
    "aws:s3/bucket:Bucket": 3,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 3,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 3,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 3,
    "aws:s3/bucketPolicy:BucketPolicy": 3,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 3,
    "aws:s3/bucketVersioning:BucketVersioning": 1,
    "aws:s3/bucketObjectv2:BucketObjectv2": 7,  # 4 scripts, 2 libraries, the zone lookup
    "aws:glue/job:Job": 4,
    "aws:iam/role:Role": 11,
    "aws:iam/rolePolicy:RolePolicy": 12,  # one per role, and the freshness check's
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 1,  # the reader's Query Editor v2
    "aws:cloudwatch/logGroup:LogGroup": 6,
    "aws:redshiftserverless/namespace:Namespace": 1,
    "aws:redshiftserverless/workgroup:Workgroup": 1,
    "aws:redshiftserverless/usageLimit:UsageLimit": 1,
    "aws:sfn/stateMachine:StateMachine": 2,
    "aws:lambda/function:Function": 2,  # the trigger, the adopt function
    "aws:lambda/invocation:Invocation": 1,  # the adopt function's, at deploy
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": 1,
    "aws:sns/topic:Topic": 1,
    "aws:sqs/queue:Queue": 1,
    "aws:scheduler/schedule:Schedule": 2,  # yellow's month, the freshness check
    "aws:cloudwatch/metricAlarm:MetricAlarm": 4 + len(DATASETS),
    "aws:cloudwatch/dashboard:Dashboard": 1,
    "aws:glue/catalogDatabase:CatalogDatabase": 1,
    "aws:glue/catalogTable:CatalogTable": 2 * len(DATASETS) + 1,  # + taxi_zones
    "aws:athena/workgroup:Workgroup": 1,
    "aws:redshiftdata/statement:Statement": 2,
}
INVENTORIES = {
    "dev": INVENTORY,
    "prod": {**INVENTORY, "aws:cloudwatch/metricAlarm:MetricAlarm": 4 + len(DATASETS) + 1},
    # A schedule per scheduled dataset (yellow and fhvhv), the email subscription; the KMS
    # key is given by ARN, not created.
    "dev+kms+email": {
        **INVENTORY,
        "aws:scheduler/schedule:Schedule": 3,
        "aws:sns/topicSubscription:TopicSubscription": 1,
    },
}


def test_resource_inventory(deployment):
    counts: dict[str, int] = {}
    for resource in deployment.resources.values():
        counts[resource.type] = counts.get(resource.type, 0) + 1
    assert counts == INVENTORIES[deployment.variant]


def test_settings_come_from_the_stack_file(deployment):
    settings = deployment.program["settings"]
    given = {key.split(":", 1)[1]: value for key, value in deployment.config.items()
             if key.startswith(f"{NAMESPACE}:")}  # fmt: skip
    assert settings == build_settings(given, deployment.stack)


def plain(value: Any) -> Any:
    """Inputs with Pulumi's secret wrappers removed (the provider marks some fields secret)."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return plain(value["value"])
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def inputs(deployment: Deployment, name: str) -> dict[str, Any]:
    return plain(deployment.get(name).inputs)


def settings_of(deployment: Deployment):
    return deployment.program["settings"]


# ---------------------------------------------------------------- DataLake


def test_buckets_are_named_for_the_stack_and_protected_only_where_it_says(deployment):
    settings = settings_of(deployment)
    for zone in ("raw", "processed", "scripts"):
        bucket = deployment.get(f"lake-{zone}")
        assert bucket.inputs["bucketPrefix"] == f"tlc-elt-{deployment.stack}-{zone}-"
        assert bucket.inputs["forceDestroy"] is (not settings.protect_data)
        assert bucket.protect is settings.protect_data
        assert bucket.retain_on_delete is settings.protect_data
        assert deployment.exports[f"{zone}Bucket"] == bucket.outputs["bucket"]
    assert (deployment.stack == "prod") is settings.protect_data


def test_every_bucket_is_private_owner_enforced_encrypted_and_tls_only(deployment):
    kms_key = settings_of(deployment).kms_key_arn
    for zone in ("raw", "processed", "scripts"):
        bucket = deployment.get(f"lake-{zone}")
        block = inputs(deployment, f"lake-{zone}-public-access")
        assert block == {
            "bucket": f"lake-{zone}-id",
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        }
        ownership = inputs(deployment, f"lake-{zone}-ownership")
        assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        (rule,) = inputs(deployment, f"lake-{zone}-encryption")["rules"]
        default = rule["applyServerSideEncryptionByDefault"]
        if kms_key:
            assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": kms_key}
            assert rule["bucketKeyEnabled"] is True
        else:
            assert default == {"sseAlgorithm": "AES256"}
        policy = deployment.policy(f"lake-{zone}-tls-only")
        assert policy == iam.tls_only_bucket_policy(bucket.outputs["arn"])
        assert deployment.get(f"lake-{zone}-tls-only").inputs["bucket"] == f"lake-{zone}-id"


def test_lifecycle_aborts_uploads_everywhere_and_ages_raw_as_configured(deployment):
    settings = settings_of(deployment)
    abort = {
        "id": "abort-incomplete-multipart-uploads",
        "status": "Enabled",
        "filter": {"prefix": ""},
        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
    }
    assert inputs(deployment, "lake-scripts-lifecycle")["rules"] == [abort]
    # Athena's results, under their own prefix of processed, expire; the datasets never do.
    assert inputs(deployment, "lake-processed-lifecycle")["rules"] == [
        abort,
        {
            "id": "athena-results-expiry",
            "status": "Enabled",
            "filter": {"prefix": "athena-results/"},
            "expiration": {"days": catalog.ATHENA_RESULTS_DAYS},
        },
    ]
    first, raw = inputs(deployment, "lake-raw-lifecycle")["rules"]
    assert first == abort
    assert raw["noncurrentVersionExpiration"] == {
        "noncurrentDays": settings.raw_noncurrent_version_days
    }
    if settings.raw_transition_days is None:
        assert "transitions" not in raw
    else:
        assert raw["transitions"] == [
            {"days": settings.raw_transition_days, "storageClass": "STANDARD_IA"}
        ]
    if settings.raw_expiration_days is None:
        assert "expiration" not in raw
    else:
        assert raw["expiration"] == {"days": settings.raw_expiration_days}


def test_only_raw_is_versioned(deployment):
    (versioning,) = deployment.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs == {
        "bucket": "lake-raw-id",
        "versioningConfiguration": {"status": "Enabled"},
    }


# ---------------------------------------------------------------- GlueEtl


def job_arguments(deployment: Deployment, job: str) -> dict[str, str]:
    return inputs(deployment, f"etl-{job}")["defaultArguments"]


def test_one_glue_job_per_step_with_its_kind_capacity_and_limits(deployment):
    settings = settings_of(deployment)
    assert sorted(deployment.program["etl"].jobs) == sorted(step.job for step in STEPS)
    for step in STEPS:
        job = inputs(deployment, f"etl-{step.job}")
        assert job["name"] == f"tlc-elt-{deployment.stack}-{step.job}"
        assert job["roleArn"] == deployment.get(f"etl-{step.job}-role").outputs["arn"]
        assert job["timeout"] == max(settings.job_timeout_minutes.values())
        assert job["maxRetries"] == 0
        assert job["executionProperty"] == {"maxConcurrentRuns": settings.backfill_concurrency + 1}
        bucket = deployment.exports["scriptsBucket"]
        key = artifacts.script_key(step.script, (ROOT / step.script).read_bytes())
        assert job["command"]["scriptLocation"] == f"s3://{bucket}/{key}"
        if step.kind == PYTHON_SHELL:
            assert job["command"]["name"] == "pythonshell"
            assert job["command"]["pythonVersion"] == "3.9"
            assert job["maxCapacity"] == settings.python_shell_dpu
            assert "workerType" not in job
        else:
            assert step.kind == SPARK
            assert job["command"] == {**job["command"], "name": "glueetl", "pythonVersion": "3"}
            assert job["glueVersion"] == "5.0"
            assert job["workerType"] == settings.spark_worker_type
            assert job["numberOfWorkers"] == settings.spark_workers["yellow"]
            assert "maxCapacity" not in job


def test_jobs_get_what_the_scripts_read(deployment):
    copy_role = deployment.get("warehouse-copy-role").outputs["arn"]
    for step in STEPS:
        arguments = job_arguments(deployment, step.job)
        assert arguments["--raw_bucket"] == deployment.exports["rawBucket"]
        assert arguments["--processed_bucket"] == deployment.exports["processedBucket"]
        assert arguments["--workgroup"] == deployment.exports["workgroupName"]
        assert arguments["--database"] == "tlc"
        assert arguments["--copy_role_arn"] == copy_role
        # The provider's region, so no job client depends on the environment's.
        assert arguments["--region"] == REGION
        # The month comes from the state machine, per run.
        assert not {f"--{name}" for name in JOB_ARGUMENTS} & set(arguments)


def stored_objects(deployment: Deployment) -> dict[str, dict]:
    """The code in the scripts bucket, by key (the zone lookup is the lake's, not code)."""
    objects = [
        stored for stored in deployment.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        if stored.name != "lake-zone-lookup"
    ]  # fmt: skip
    for stored in objects:
        assert stored.inputs["bucket"] == deployment.exports["scriptsBucket"]
    return {stored.inputs["key"]: plain(stored.inputs) for stored in objects}


def test_the_zone_lookup_is_in_the_processed_bucket_where_loads_read_it(deployment):
    lookup = inputs(deployment, "lake-zone-lookup")
    assert lookup["bucket"] == deployment.exports["processedBucket"]
    assert lookup["key"] == taxi_zones_key() == "reference/taxi_zone_lookup.csv"
    assert lookup["content"] == ZONE_LOOKUP.read_text()
    assert lookup["contentType"] == "text/csv"


def test_scripts_and_the_pipeline_are_uploaded_under_their_content_hash(deployment):
    stored = stored_objects(deployment)
    etl = deployment.program["etl"]
    for step in STEPS:
        source = (ROOT / step.script).read_bytes()
        key = artifacts.script_key(step.script, source)
        assert key == etl.scripts[step.job].key
        folder, name = step.script.rsplit("/", 1)
        assert re.fullmatch(rf"{folder}/[0-9a-f]{{16}}/{re.escape(name)}", key)
        assert stored[key]["content"] == source.decode()
    assert not set(step.script for step in STEPS) & set(stored)  # no fixed, unhashed keys
    shell_files, spark_files = (etl_module.library_files(kind) for kind in (PYTHON_SHELL, SPARK))
    keys = {kind: key for kind, (key, _) in etl_module.library_builds().items()}
    for kind, files in ((PYTHON_SHELL, shell_files), (SPARK, spark_files)):
        assert keys[kind].startswith(f"libs/{artifacts.content_hash(files)[:16]}/")
    wheel = base64.b64decode(stored[keys[PYTHON_SHELL]]["contentBase64"])
    spark = base64.b64decode(stored[keys[SPARK]]["contentBase64"])
    assert zipfile.ZipFile(io.BytesIO(spark)).namelist() == sorted(spark_files)
    wheel_names = zipfile.ZipFile(io.BytesIO(wheel)).namelist()
    assert set(shell_files) < set(wheel_names)
    assert f"{artifacts.WHEEL_NAME}-{artifacts.WHEEL_VERSION}.dist-info/RECORD" in wheel_names
    bucket = deployment.exports["scriptsBucket"]
    for step in STEPS:
        extra = job_arguments(deployment, step.job)["--extra-py-files"]
        assert extra == f"s3://{bucket}/{keys[step.kind]}"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_python_shell_jobs_upgrade_boto3_for_the_workgroup_parameter(deployment):
    # pipeline.warehouse.redshift states the botocore that knows WorkgroupName; the pin must reach
    # it.
    needed = dict(re.findall(r"(boto3|botocore) >= ([\d.]+)", WORKGROUP_BOTOCORE))
    for step in STEPS:
        if step.kind != PYTHON_SHELL:
            continue
        arguments = job_arguments(deployment, step.job)
        pins = dict(pin.split("==") for pin in arguments["--additional-python-modules"].split(","))
        # pyarrow explicitly: Python Shell 3.9 has it only inside the analytics library set.
        assert set(pins) == {"boto3", "botocore", "pyarrow"}
        assert pins["pyarrow"] == etl_module.PYARROW_VERSION
        for package, minimum in needed.items():
            assert _version(pins[package]) >= _version(minimum), (package, pins[package])
        assert arguments["library-set"] == "analytics"


def test_the_spark_job_logs_continuously_to_its_own_groups_with_insights(deployment):
    settings = settings_of(deployment)
    for step in STEPS:
        if step.kind != SPARK:
            continue
        arguments = job_arguments(deployment, step.job)
        assert arguments["--enable-continuous-cloudwatch-log"] == "true"
        assert arguments["--enable-job-insights"] == "true"
        # No job metrics: they would need cloudwatch:PutMetricData, which takes only "*".
        assert "--enable-metrics" not in arguments
        prefix = arguments["--custom-logGroup-prefix"]
        for stream in ("output", "error"):
            group = inputs(deployment, f"etl-{step.job}-{stream}-logs")
            assert group == {
                "name": f"{prefix}/{stream}",
                "retentionInDays": settings.log_retention_days,
            }


def test_each_glue_role_gets_exactly_its_steps_policy(deployment):
    """The policy the program attached equals the builder's for the resolved names."""
    etl = deployment.program["etl"]
    account = iam.Account("aws", REGION, ACCOUNT)
    buckets = iam.Buckets(
        deployment.exports["rawBucket"], deployment.exports["processedBucket"],
        deployment.exports["scriptsBucket"], kms_key_arn=settings_of(deployment).kms_key_arn,
    )  # fmt: skip
    workgroup = deployment.get("warehouse-workgroup").outputs["arn"]
    for step in STEPS:
        role = inputs(deployment, f"etl-{step.job}-role")
        assert json.loads(role["assumeRolePolicy"]) == iam.trust_policy(
            ["glue.amazonaws.com"], ACCOUNT
        )
        assert "managedPolicyArns" not in role  # no AWSGlueServiceRole, no managed policies
        assert deployment.get(f"etl-{step.job}-policy").inputs["role"] == f"etl-{step.job}-role-id"
        library, script = etl.libraries[step.kind].key, etl.scripts[step.job].key
        own = f"/aws-glue/tlc-elt-{deployment.stack}/{step.job}"
        logs = (
            (f"{own}/output", f"{own}/error", "/aws-glue/jobs/logs-v2")
            if step.kind == SPARK
            else ("/aws-glue/python-jobs/output", "/aws-glue/python-jobs/error")
        )
        database = f"tlc_elt_{deployment.stack}"
        access = iam.GlueJobAccess(step.job, (script, library), logs, workgroup, database,
                                   f"tlc-elt/{deployment.stack}")  # fmt: skip
        expected = iam.glue_job_policy(access, buckets, account)
        assert deployment.policy(f"etl-{step.job}-policy") == expected


# ---------------------------------------------------------------- RedshiftWarehouse


def test_namespace_keeps_its_password_in_secrets_manager_and_exports_logs(deployment):
    settings = settings_of(deployment)
    namespace = inputs(deployment, "warehouse-namespace")
    copy_role = deployment.get("warehouse-copy-role").outputs["arn"]
    assert namespace["dbName"] == "tlc"
    assert namespace["namespaceName"] == f"tlc-elt-{deployment.stack}"
    assert namespace["manageAdminPassword"] is True
    assert not {"adminUserPassword", "adminUserPasswordWo"} & set(namespace)
    assert not [key for key in deployment.config if "password" in key.lower()]
    assert sorted(namespace["logExports"]) == ["connectionlog", "useractivitylog", "userlog"]
    assert namespace["iamRoles"] == [copy_role]
    assert namespace["defaultIamRoleArn"] == copy_role
    registered = deployment.get("warehouse-namespace")
    assert (registered.protect, registered.retain_on_delete) == (settings.protect_data,) * 2


def test_workgroup_is_private_sized_from_config_and_sets_no_config_parameters(deployment):
    settings = settings_of(deployment)
    workgroup = inputs(deployment, "warehouse-workgroup")
    assert workgroup["workgroupName"] == f"tlc-elt-{deployment.stack}"
    assert workgroup["namespaceName"] == f"tlc-elt-{deployment.stack}"
    assert workgroup["baseCapacity"] == settings.redshift_base_capacity
    assert workgroup["maxCapacity"] == settings.redshift_max_capacity
    assert workgroup["publiclyAccessible"] is False
    # AWS's defaults on a new workgroup (require_ssl, user activity logging) are left to AWS: a
    # list here would diff on every preview after the first `up` (terraform-provider-aws#49939).
    assert "configParameters" not in workgroup


def test_usage_limit_caps_the_workgroup(deployment):
    settings = settings_of(deployment)
    limit = inputs(deployment, "warehouse-usage-limit")
    assert limit == {
        "resourceArn": deployment.get("warehouse-workgroup").outputs["arn"],
        "usageType": "serverless-compute",
        "amount": settings.usage_limit_rpu_hours,
        "period": settings.usage_limit_period,
        "breachAction": settings.usage_limit_breach_action,
    }


def test_copy_role_is_assumed_by_redshift_and_reads_processed_only(deployment):
    role = inputs(deployment, "warehouse-copy-role")
    (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {
        "Service": ["redshift-serverless.amazonaws.com", "redshift.amazonaws.com"]
    }
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    expected = iam.copy_role_policy(
        deployment.exports["processedBucket"], "aws", settings_of(deployment).kms_key_arn
    )
    assert deployment.policy("warehouse-copy-role-policy") == expected


# ---------------------------------------------------------------- Orchestration


def machine_arn(deployment: Deployment, key: str) -> str:
    return deployment.get(f"orchestration-{key}").outputs["arn"]


def test_monthly_machine_is_the_step_list_asl_with_logs_and_tracing(deployment):
    settings = settings_of(deployment)
    machine = inputs(deployment, "orchestration-monthly")
    job_names = {step.job: f"tlc-elt-{deployment.stack}-{step.job}" for step in STEPS}
    assert json.loads(machine["definition"]) == asl.monthly_definition(
        job_names,
        deployment.exports["alertsTopicArn"],
        stack_prefix=f"tlc-elt-{deployment.stack}",
        sizing=settings.sizing,
        spark_worker_type=settings.spark_worker_type,
        processed_bucket=deployment.exports["processedBucket"],
    )
    assert machine["type"] == "STANDARD"
    assert machine["roleArn"] == deployment.get("orchestration-monthly-role").outputs["arn"]
    log_group = deployment.get("orchestration-monthly-logs")
    assert log_group.inputs["retentionInDays"] == settings.log_retention_days
    assert machine["loggingConfiguration"] == {
        "level": settings.execution_log_level,
        "includeExecutionData": True,
        "logDestination": log_group.outputs["arn"] + ":*",
    }
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert deployment.exports["stateMachineArn"] == machine_arn(deployment, "monthly")


def test_backfill_machine_maps_the_monthly_one_with_configured_concurrency(deployment):
    settings = settings_of(deployment)
    machine = inputs(deployment, "orchestration-backfill")
    assert json.loads(machine["definition"]) == asl.backfill_definition(
        machine_arn(deployment, "monthly"),
        deployment.get("orchestration-trigger").outputs["arn"],
        deployment.exports["alertsTopicArn"],
        stack_prefix=f"tlc-elt-{deployment.stack}",
        max_concurrency=settings.backfill_concurrency,
    )
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert machine["loggingConfiguration"]["level"] == settings.execution_log_level
    assert deployment.exports["backfillStateMachineArn"] == machine_arn(deployment, "backfill")


def test_state_machine_roles_are_allowed_only_what_their_states_call(deployment):
    topic = deployment.exports["alertsTopicArn"]
    monthly, function = machine_arn(deployment, "monthly"), deployment.get("orchestration-trigger")
    job_arns = [deployment.get(f"etl-{step.job}").outputs["arn"] for step in STEPS]
    lake = iam.Buckets(
        "",
        deployment.exports["processedBucket"],
        "",
        kms_key_arn=settings_of(deployment).kms_key_arn,
    )
    assert deployment.policy("orchestration-monthly-policy") == iam.monthly_machine_policy(
        job_arns, topic, lake
    )
    account = iam.Account("aws", REGION, ACCOUNT)
    assert deployment.policy("orchestration-backfill-policy") == iam.backfill_machine_policy(
        monthly, function.outputs["arn"], topic, account
    )
    for key in ("monthly", "backfill"):
        trust = json.loads(inputs(deployment, f"orchestration-{key}-role")["assumeRolePolicy"])
        assert trust == iam.trust_policy(["states.amazonaws.com"], ACCOUNT)


def test_trigger_function_ships_its_pipeline_modules_and_targets_the_monthly_machine(deployment):
    function = inputs(deployment, "orchestration-trigger")
    assert function["runtime"] == "python3.13"
    assert function["handler"] == "functions.trigger.handler"
    assert function["environment"] == {
        "variables": {"STATE_MACHINE_ARN": machine_arn(deployment, "monthly")}
    }
    shipped = {path: asset.text for path, asset in function["code"].assets.items()}
    assert shipped == {path: data.decode() for path, data in artifacts.trigger_files().items()}
    contract = {"pipeline/contract/months.py", "pipeline/contract/datasets.py"}
    assert contract | {"pipeline/contract/errors.py"} <= set(shipped)
    logs = deployment.get("orchestration-trigger-logs")
    assert function["loggingConfig"]["logGroup"] == logs.inputs["name"]
    dead_letters = deployment.get("orchestration-dead-letters")
    assert deployment.policy("orchestration-trigger-policy") == iam.trigger_function_policy(
        machine_arn(deployment, "monthly"), logs.outputs["arn"], dead_letters.outputs["arn"]
    )
    retries = inputs(deployment, "orchestration-trigger-async")
    assert retries["destinationConfig"] == {
        "onFailure": {"destination": dead_letters.outputs["arn"]}
    }


def test_schedules_fire_the_trigger_per_dataset_with_retries_and_a_dead_letter_queue(deployment):
    settings = settings_of(deployment)
    queue = inputs(deployment, "orchestration-dead-letters")
    assert queue["sqsManagedSseEnabled"] is True
    dead_letters = deployment.get("orchestration-dead-letters").outputs["arn"]
    schedules = [s for s in deployment.of_type("aws:scheduler/schedule:Schedule")
                 if s.name.startswith("orchestration-")]  # fmt: skip
    assert sorted(s.name for s in schedules) == sorted(
        f"orchestration-{dataset}-schedule" for dataset in settings.scheduled_datasets
    )
    for dataset in settings.scheduled_datasets:
        schedule = inputs(deployment, f"orchestration-{dataset}-schedule")
        assert schedule["state"] == ("ENABLED" if settings.schedule_enabled else "DISABLED")
        assert schedule["scheduleExpression"] == settings.schedule_cron
        assert schedule["scheduleExpressionTimezone"] == settings.schedule_timezone
        target = schedule["target"]
        assert target["arn"] == deployment.get("orchestration-trigger").outputs["arn"]
        assert target["roleArn"] == deployment.get("orchestration-scheduler-role").outputs["arn"]
        assert target["deadLetterConfig"] == {"arn": dead_letters}
        assert target["retryPolicy"]["maximumRetryAttempts"] > 0
        # What Scheduler sends is what the trigger accepts (after it fills in the time).
        sent = json.loads(target["input"].replace(SCHEDULED_TIME, "2025-03-05T06:00:00Z"))
        planned = plan_start(sent, datetime(2025, 3, 5, 6, tzinfo=UTC))
        assert planned.input == {"year": "2025", "month": "01", "dataset": dataset}
    assert (deployment.stack == "prod") is settings.schedule_enabled


def test_alarms_watch_failures_trigger_errors_and_dead_letters_and_notify_the_topic(deployment):
    topic = deployment.exports["alertsTopicArn"]
    alarms = {alarm.name: plain(alarm.inputs) for alarm in
              deployment.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
              if alarm.name.startswith("orchestration-")}  # fmt: skip
    watched = {
        name: (alarm["namespace"], alarm["metricName"], alarm["dimensions"])
        for name, alarm in alarms.items()
    }
    assert watched == {
        "orchestration-monthly-failed-alarm": (
            "AWS/States", "ExecutionsFailed",
            {"StateMachineArn": machine_arn(deployment, "monthly")},
        ),
        "orchestration-backfill-failed-alarm": (
            "AWS/States", "ExecutionsFailed",
            {"StateMachineArn": machine_arn(deployment, "backfill")},
        ),
        "orchestration-trigger-errors-alarm": (
            "AWS/Lambda", "Errors", {"FunctionName": deployment.exports["triggerFunctionName"]},
        ),
        "orchestration-dead-letters-alarm": (
            "AWS/SQS", "ApproximateNumberOfMessagesVisible",
            {"QueueName": f"tlc-elt-{deployment.stack}-trigger-dead-letters"},
        ),
    }  # fmt: skip
    for alarm in alarms.values():
        assert alarm["alarmActions"] == [topic]
        assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)


def test_alert_email_is_subscribed_only_when_configured(deployment):
    email = settings_of(deployment).alert_email
    subscriptions = deployment.of_type("aws:sns/topicSubscription:TopicSubscription")
    if email is None:
        assert subscriptions == []
        return
    (subscription,) = subscriptions
    assert plain(subscription.inputs) == {
        "topic": deployment.exports["alertsTopicArn"],
        "protocol": "email",
        "endpoint": email,
    }


# ---------------------------------------------------------------- Monitoring


def test_the_dashboard_is_the_pure_body_for_this_stack(deployment):
    (dashboard,) = deployment.of_type("aws:cloudwatch/dashboard:Dashboard")
    alarms = [
        a.outputs["arn"] for a in deployment.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    ]
    assert dashboard.inputs["dashboardName"] == f"tlc-elt-{deployment.stack}"
    assert json.loads(dashboard.inputs["dashboardBody"]) == monitoring.dashboard_body(
        REGION, f"tlc-elt/{deployment.stack}", machine_arn(deployment, "monthly"),
        f"/aws/vendedlogs/states/tlc-elt-{deployment.stack}-monthly", alarms,
    )  # fmt: skip


def test_data_alarms_notify_the_topic_warnings_always_missing_only_when_scheduled(deployment):
    settings = settings_of(deployment)
    topic = deployment.exports["alertsTopicArn"]
    alarms = {a.name: plain(a.inputs)
              for a in deployment.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
              if a.name.startswith("monitoring-")}  # fmt: skip
    watched = {name: (a["metricName"], a["dimensions"], a["threshold"], a["period"])
               for name, a in alarms.items()}  # fmt: skip
    expected = {f"monitoring-{d}-warnings-alarm": ("AuditWarnings", {"Dataset": d}, 0, 300)
                for d in DATASETS}  # fmt: skip
    if settings.schedule_enabled:
        expected |= {
            f"monitoring-{d}-missing-alarm": ("DaysSinceLastPublish", {"Dataset": d}, 35, 86400)
            for d in settings.scheduled_datasets
        }
    assert watched == expected
    for alarm in alarms.values():
        assert alarm["namespace"] == f"tlc-elt/{deployment.stack}"
        assert alarm["alarmActions"] == [topic]
        assert alarm["treatMissingData"] == "notBreaching"


def test_the_freshness_check_runs_daily_through_the_trigger_with_the_scheduled_datasets(
    deployment,
):
    settings = settings_of(deployment)
    schedule = plain(deployment.get("monitoring-freshness-schedule").inputs)
    assert schedule["state"] == ("ENABLED" if settings.schedule_enabled else "DISABLED")
    assert schedule["target"]["arn"] == deployment.get("orchestration-trigger").outputs["arn"]
    event = json.loads(schedule["target"]["input"])
    assert event == {"action": "freshness", "namespace": f"tlc-elt/{deployment.stack}",
                     "datasets": list(settings.scheduled_datasets)}  # fmt: skip
    policy = deployment.policy("monitoring-freshness-policy")
    assert policy == iam.freshness_check_policy(f"tlc-elt/{deployment.stack}")
    trigger_role = deployment.get("orchestration-trigger-role")
    assert (
        deployment.get("monitoring-freshness-policy").inputs["role"]
        == (trigger_role.outputs["name"])
    )


# ---------------------------------------------------------------- every IAM document


def test_every_iam_document_the_program_produces_passes_parliament(deployment):
    documents = {}  # name -> (document, whether it is a trust policy)
    for resource in deployment.resources.values():
        for key in ("policy", "assumeRolePolicy"):
            if key in resource.inputs:
                trust = key == "assumeRolePolicy"
                documents[f"{resource.name}.{key}"] = (json.loads(resource.inputs[key]), trust)
    roles = deployment.of_type("aws:iam/role:Role")
    # bucket policies, trust and inline policies, the freshness check's policy
    assert len(documents) == 3 + 2 * len(roles) + 1
    assert sum(trust for _, trust in documents.values()) == len(roles)
    unaccepted = {
        name: unaccepted_findings(document, trust_policy=trust)
        for name, (document, trust) in documents.items()
    }
    assert {name: found for name, found in unaccepted.items() if found} == {}


def test_every_service_role_trusts_its_service_only_for_this_account(deployment):
    """The confused deputy: Glue, Redshift, Step Functions and the Scheduler may assume a stack
    role only when acting for this account. (The reader role trusts the account's identities;
    the trigger's execution role is Lambda's, for which Lambda documents no such condition.)"""
    services = 0
    for role in deployment.of_type("aws:iam/role:Role"):
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            trusted = statement["Principal"].get("Service", ["lambda.amazonaws.com"])
            if trusted == ["lambda.amazonaws.com"]:
                continue
            services += 1
            assert statement.get("Condition") == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, (
                role.name
            )
    assert services >= len(STEPS) + 1  # the Glue jobs' roles and the COPY role at least


# ---------------------------------------------------------------- bad config


def test_bad_config_stops_the_program_before_any_resource():
    config = {**stack_file_config("dev"), f"{NAMESPACE}:redshiftBaseCapacity": "12"}
    expected = r"^invalid config tlc-elt:redshiftBaseCapacity '12': a multiple of 8 from 8"
    mocks = Mocks()
    with pytest.raises(pulumi.RunError, match=expected):
        deploy("dev", config, mocks)
    assert mocks.resources == {}


def test_a_misspelt_key_in_a_stack_file_is_refused():
    config = {**stack_file_config("prod"), f"{NAMESPACE}:sheduleEnabled": "true"}
    with pytest.raises(pulumi.RunError, match="tlc-elt:sheduleEnabled"):
        deploy("prod", config)


# ---------------------------------------------------------------- Analytics


def test_the_catalog_has_a_processed_and_a_quarantine_table_per_dataset(deployment):
    database = inputs(deployment, "analytics-database")
    assert database["name"] == f"tlc_elt_{deployment.stack}"
    bucket = deployment.exports["processedBucket"]
    tables = deployment.of_type("aws:glue/catalogTable:CatalogTable")
    assert sorted(t.inputs["name"] for t in tables) == sorted(
        [*(name for d in DATASETS.values() for name in (d.table, f"{d.name}_quarantine")),
         "taxi_zones"]
    )  # fmt: skip
    for spec in catalog.catalog_tables(bucket, DATASETS.values())[: 2 * len(DATASETS)]:
        table = inputs(deployment, f"analytics-{spec.name}")
        assert table["databaseName"] == database["name"]
        assert table["tableType"] == "EXTERNAL_TABLE"
        assert table["parameters"] == dict(spec.parameters)
        # No partition projection: partitions are registered (publish, the adopt function).
        assert not [key for key in table["parameters"] if key.startswith("projection.")]
        assert table["partitionKeys"] == [{"name": "year", "type": "int"},
                                          {"name": "month", "type": "int"}]  # fmt: skip
        storage = table["storageDescriptor"]
        assert storage["location"] == spec.location
        assert storage["location"].startswith(f"s3://{bucket}/")
        assert storage["columns"] == [{"name": n, "type": t} for n, t in spec.columns]
        assert storage["serDeInfo"] == {
            "serializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        }
        assert storage["inputFormat"].endswith("MapredParquetInputFormat")
        assert storage["outputFormat"].endswith("MapredParquetOutputFormat")
    zones = inputs(deployment, "analytics-taxi_zones")
    assert zones["databaseName"] == database["name"]
    assert zones["storageDescriptor"]["location"] == f"s3://{bucket}/reference/"
    assert zones["storageDescriptor"]["columns"] == [
        {"name": "location_id", "type": "int"}, {"name": "borough", "type": "string"},
        {"name": "zone", "type": "string"}, {"name": "service_zone", "type": "string"},
    ]  # fmt: skip
    assert zones["storageDescriptor"]["serDeInfo"] == {
        "serializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
        "parameters": {"separatorChar": ",", "quoteChar": '"'},
    }
    assert zones["parameters"]["skip.header.line.count"] == "1"
    assert not zones.get("partitionKeys")


def test_the_athena_workgroup_enforces_encrypted_results_and_a_scan_cutoff(deployment):
    settings = settings_of(deployment)
    workgroup = inputs(deployment, "analytics-athena")
    assert workgroup["name"] == f"tlc-elt-{deployment.stack}"
    assert workgroup["forceDestroy"] is (not settings.protect_data)
    configuration = workgroup["configuration"]
    assert configuration["enforceWorkgroupConfiguration"] is True
    assert configuration["publishCloudwatchMetricsEnabled"] is True
    assert configuration["bytesScannedCutoffPerQuery"] == settings.athena_scan_limit_gb * 1024**3
    result = configuration["resultConfiguration"]
    assert result["outputLocation"] == (
        f"s3://{deployment.exports['processedBucket']}/athena-results/"
    )
    if settings.kms_key_arn:
        assert result["encryptionConfiguration"] == {
            "encryptionOption": "SSE_KMS", "kmsKeyArn": settings.kms_key_arn,
        }  # fmt: skip
    else:
        assert result["encryptionConfiguration"] == {"encryptionOption": "SSE_S3"}
    assert (deployment.stack, settings.athena_scan_limit_gb) in (("dev", 10), ("prod", 100))


def test_the_reader_role_is_tagged_for_the_reader_database_role_and_reads_only(deployment):
    settings = settings_of(deployment)
    role = inputs(deployment, "analytics-reader-role")
    assert role["name"] == reader_role_name(f"tlc-elt-{deployment.stack}")
    assert role["tags"] == {"RedshiftDbRoles": "tlc_reader"}
    assert json.loads(role["assumeRolePolicy"]) == iam.account_trust_policy(
        iam.Account("aws", REGION, ACCOUNT)
    )
    access = iam.ReaderAccess(
        deployment.exports["processedBucket"], deployment.exports["athenaWorkgroupName"],
        deployment.exports["glueDatabaseName"],
        deployment.get("warehouse-workgroup").outputs["arn"], settings.kms_key_arn,
    )  # fmt: skip
    expected = iam.reader_policy(access, iam.Account("aws", REGION, ACCOUNT))
    assert deployment.policy("analytics-reader-policy") == expected
    # Query Editor v2, which the README tells readers to use: AWS's no-sharing policy only.
    attached = inputs(deployment, "analytics-reader-query-editor")
    assert attached["policyArn"] == "arn:aws:iam::aws:policy/AmazonRedshiftQueryEditorV2NoSharing"
    assert attached["role"] == role["name"]


def test_only_the_load_role_is_tagged_for_the_loader_database_role(deployment):
    for step in STEPS:
        tags = inputs(deployment, f"etl-{step.job}-role").get("tags")
        if step.job in iam.WAREHOUSE_JOBS:
            assert tags == {"RedshiftDbRoles": "tlc_loader"}
        else:
            assert tags is None


def test_the_warehouse_access_setup_runs_as_the_admin_and_reruns_when_it_changes(deployment):
    procedure = inputs(deployment, "analytics-access-procedure")
    grants = inputs(deployment, "analytics-access-grants")
    load_role = deployment.get("etl-load_redshift-role").outputs["name"]
    reader = reader_role_name(f"tlc-elt-{deployment.stack}")
    expected_sql = access_procedure_sql(DATASETS.values(), [load_role], [reader])
    assert procedure["sql"] == expected_sql
    assert f'GRANT ROLE tlc_loader TO "IAMR:{load_role}"' in procedure["sql"]
    assert grants["sql"] == CALL_ACCESS_PROCEDURE
    for statement in (procedure, grants):
        assert statement["workgroupName"] == f"tlc-elt-{deployment.stack}"
        assert statement["database"] == "tlc"
        assert statement["secretArn"] == ADMIN_SECRET  # the namespace's admin, no password here
    digest = procedure["statementName"].rsplit("-", 1)[-1]
    assert grants["statementName"] == f"tlc-elt-access-call-{digest}"
    assert deployment.get("analytics-access-grants").parent.endswith("::analytics")


def test_the_adopt_function_runs_at_deploy_after_the_tables_with_its_own_code(deployment):
    """The upgrade: right after `pulumi up` every published month has its partitions."""
    function = inputs(deployment, "analytics-adopt")
    assert function["handler"] == artifacts.ADOPT_HANDLER
    assert function["environment"]["variables"] == {
        "PROCESSED_BUCKET": deployment.exports["processedBucket"],
        "GLUE_DATABASE": f"tlc_elt_{deployment.stack}",
    }
    shipped = {path: asset.text for path, asset in function["code"].assets.items()}
    assert shipped == {path: data.decode() for path, data in artifacts.adopt_files().items()}
    invocation = deployment.get("analytics-adopt-invocation")
    assert invocation.inputs["functionName"] == deployment.get("analytics-adopt").outputs["name"]
    assert json.loads(invocation.inputs["input"]) == {}
    assert invocation.inputs["triggers"]["code"] == artifacts.content_hash(artifacts.adopt_files())
    assert invocation.parent.endswith("::analytics")
    tables = deployment.of_type("aws:glue/catalogTable:CatalogTable")
    urns = set(invocation.dependencies)
    assert all(any(u.endswith(f"::{table.name}") for u in urns) for table in tables)
    assert any(u.endswith("::analytics-adopt") for u in urns)
    settings = settings_of(deployment)
    database = f"tlc_elt_{deployment.stack}"
    logs = deployment.get("analytics-adopt-logs").outputs["arn"]
    lake = iam.Buckets(
        "", deployment.exports["processedBucket"], "", kms_key_arn=settings.kms_key_arn
    )
    account = iam.Account("aws", REGION, ACCOUNT)
    assert deployment.policy("analytics-adopt-policy") == iam.adopt_function_policy(
        lake, database, logs, account
    )
