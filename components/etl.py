"""GlueEtl: one Glue job per pipeline step, its code in the scripts bucket, its own IAM role.

Code: each `scripts/<job>.py` (per `pipeline.contract.steps.Step.script`), stored as
`scripts/<its content hash>/<job>.py`, and the `pipeline` package, built in memory by
`components.artifacts` and stored under `libs/<content hash>/`: a change to a script or to
`pipeline/` changes its key, so exactly the jobs that use it are updated. Python Shell jobs
(ingest, audit, load) take the package as a wheel, the only library form Python Shell 3.9
accepts; the Spark job takes the zip Spark puts on its Python path. The load job (PublishMonth)
also moves the month's partitions in the stack's Glue database, named from the prefix
(`components.catalog.database_name`), which it gets as `--glue_database`.

Python Shell 3.9 bundles boto3 1.21 / botocore 1.24, whose redshift-data model has no
`WorkgroupName` (added in botocore 1.27.11), so the load could not address Redshift Serverless;
and it has pyarrow (ingest's parquet check) only as a dependency of the `analytics` library set.
`--additional-python-modules` installs pinned, Python 3.9-compatible boto3/botocore and pyarrow
when the job starts, so neither depends on what a library set happens to bundle
(https://docs.aws.amazon.com/glue/latest/dg/add-job-python.html#python-shell-supported-library,
https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html); ingest
also checks at start that pyarrow imports (`pipeline.jobs.parquet_check.require_pyarrow`).
The ingest job downloads from TLC over the internet: the jobs use no Glue connection (a VPC
connection would need a NAT gateway).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import artifacts, catalog, iam
from components.account import current_account
from pipeline.contract.access import DB_ROLES_TAG, LOADER_ROLE
from pipeline.contract.steps import (
    GLUE_LOG_STREAMS,
    JOB_INSIGHTS_LOG_GROUP,
    PYTHON_SHELL,
    SPARK,
    STEPS,
    Step,
)

TYPE = "tlc-elt:etl:GlueEtl"
GLUE_VERSION = "5.0"  # Spark 3.5.4, the version pinned for local runs
PYTHON_SHELL_VERSION = "3.9"
# Pinned and Python 3.9-compatible (see the module docstring): boto3/botocore new enough for
# WorkgroupName; pyarrow 17 publishes cp39 manylinux wheels (it supports Python 3.8 to 3.12).
PYARROW_VERSION = "17.0.0"
PYTHON_SHELL_MODULES = f"boto3==1.35.99,botocore==1.35.99,pyarrow=={PYARROW_VERSION}"
LIBRARY_SET = "analytics"
GLUE_SERVICES = ("glue.amazonaws.com",)
# Python Shell jobs always write to Glue's own groups (`Step.log_groups`: no custom log group);
# Spark job insights write to the insights group; the Spark job's own output and error logs go
# to groups this stack owns.


def job_log_prefix(stack_prefix: str, job: str) -> str:
    """The log group prefix of a stack's Spark job: its runs log to `<prefix>/output|error`."""
    return f"/aws-glue/{stack_prefix}/{job}"


def continuous_logging_arguments(log_prefix: str) -> dict[str, str]:
    """Glue 5.0 streams a Spark job's logs while it runs; `--custom-logGroup-prefix` sends them
    to `<prefix>/output` and `<prefix>/error`, groups this stack owns (with retention), which
    `python -m pipeline logs` reads from the job's arguments (pipeline.ops.logs)."""
    return {
        "--enable-continuous-cloudwatch-log": "true",
        "--custom-logGroup-prefix": log_prefix,
    }


def library_files(kind: str, root: Path = artifacts.ROOT) -> dict[str, bytes]:
    """What the `kind` jobs import, transitively, from the project (their scripts excluded)."""
    return artifacts.script_closure((step.script for step in STEPS if step.kind == kind), root)


def library_builds(root: Path = artifacts.ROOT) -> dict[str, tuple[str, bytes]]:
    """{job kind: (S3 key, bytes)}: a wheel for Python Shell 3.9, a zip for Spark."""
    builds = {}
    for kind, name, build in (
        (PYTHON_SHELL, artifacts.wheel_file_name(), artifacts.wheel),
        (SPARK, "pipeline.zip", artifacts.deterministic_zip),
    ):
        files = library_files(kind, root)
        builds[kind] = (f"libs/{artifacts.content_hash(files)[:16]}/{name}", build(files))
    return builds


@dataclass
class GlueEtlArgs:
    prefix: str
    raw_bucket: pulumi.Input[str]
    processed_bucket: pulumi.Input[str]
    scripts_bucket: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None
    workgroup_name: pulumi.Input[str]
    workgroup_arn: pulumi.Input[str]
    database_name: pulumi.Input[str]
    copy_role_arn: pulumi.Input[str]
    python_shell_dpu: float
    spark_worker_type: str
    spark_workers: int  # the Spark job's own; each run the state machine starts passes its own
    timeout_minutes: int  # every job's own; likewise
    max_concurrent_runs: int
    log_retention_days: int
    metrics_namespace: str  # pipeline.contract.metrics.metric_namespace(stack)
    steps: Sequence[Step] = field(default_factory=lambda: STEPS)


@dataclass(frozen=True)
class _Stored:
    """Code as stored in the scripts bucket: its content-hashed key and the object."""

    key: str
    object: aws.s3.BucketObjectv2


class GlueEtl(pulumi.ComponentResource):
    jobs: dict[str, aws.glue.Job]
    roles: dict[str, aws.iam.Role]
    policies: dict[str, aws.iam.RolePolicy]
    scripts: dict[str, _Stored]  # by Step.job
    libraries: dict[str, _Stored]  # by Step.kind
    log_groups: dict[str, aws.cloudwatch.LogGroup]

    def __init__(
        self, name: str, args: GlueEtlArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name, self._args = name, args
        self._account = current_account(self)
        self.libraries = self._libraries()
        self.jobs, self.roles, self.policies, self.scripts, self.log_groups = {}, {}, {}, {}, {}
        for step in args.steps:
            self.scripts[step.job] = self._script(step)
            self._role(step, self._job_logs(step))
            self.jobs[step.job] = self._job(step)
        self.register_outputs(
            {
                "jobNames": {job: self.jobs[job].name for job in self.jobs},
                "scriptKeys": {job: script.key for job, script in self.scripts.items()},
                "libraryKeys": {kind: library.key for kind, library in self.libraries.items()},
            }
        )

    def _libraries(self) -> dict[str, _Stored]:
        """Each kind's library holds the import closure of that kind's scripts, and its key the
        closure's hash: only an edit to a module a job runs moves that job's library."""
        libraries = {}
        for kind, (key, data) in library_builds().items():
            stored = aws.s3.BucketObjectv2(
                f"{self._name}-{kind}-library",
                bucket=self._args.scripts_bucket,
                key=key,
                content_base64=base64.b64encode(data).decode(),
                content_type="application/zip",
                opts=pulumi.ResourceOptions(parent=self),
            )
            libraries[kind] = _Stored(key, stored)
        return libraries

    def _script(self, step: Step) -> _Stored:
        path = artifacts.ROOT / step.script
        if not path.is_file():
            raise FileNotFoundError(f"step {step.state} runs {step.script}, which does not exist")
        source = path.read_bytes()
        key = artifacts.script_key(step.script, source)
        stored = aws.s3.BucketObjectv2(
            f"{self._name}-{step.job}-script",
            bucket=self._args.scripts_bucket,
            key=key,
            content=source.decode(),
            content_type="text/x-python",
            opts=pulumi.ResourceOptions(parent=self),
        )
        return _Stored(key, stored)

    def _uri(self, key: str) -> pulumi.Output[str]:
        return pulumi.Output.concat("s3://", self._args.scripts_bucket, "/", key)

    def _job_logs(self, step: Step) -> tuple[str, ...]:
        """The log groups a job writes to; the Spark job's own are created here, with retention."""
        if step.kind == PYTHON_SHELL:
            return step.log_groups
        groups = []
        for stream in GLUE_LOG_STREAMS:
            group = aws.cloudwatch.LogGroup(
                f"{self._name}-{step.job}-{stream}-logs",
                name=f"{self._log_prefix(step)}/{stream}",
                retention_in_days=self._args.log_retention_days,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.log_groups[f"{step.job}/{stream}"] = group
            groups.append(f"{self._log_prefix(step)}/{stream}")
        return (*groups, JOB_INSIGHTS_LOG_GROUP)

    def _log_prefix(self, step: Step) -> str:
        return job_log_prefix(self._args.prefix, step.job)

    def _role(self, step: Step, log_groups: tuple[str, ...]) -> None:
        """One role per job with only its step's grants (components.iam.JOB_GRANTS). No
        AWSGlueServiceRole: it allows s3/logs/ec2 actions on `*`; these jobs use no connection
        and no VPC, and only the load job the Data Catalog (its tables' partitions)."""
        args, library, script = self._args, self.libraries[step.kind], self.scripts[step.job]
        role = aws.iam.Role(
            f"{self._name}-{step.job}-role",
            description=f"Glue job {step.job}: {step.summary}",
            # Only Glue acting for this account (confused deputy:
            # https://docs.aws.amazon.com/glue/latest/dg/cross-service-confused-deputy-prevention.html).
            assume_role_policy=self._account.apply(
                lambda account: json.dumps(iam.trust_policy(GLUE_SERVICES, account.account_id))
            ),
            # A job that signs in to Redshift gets the loader database role from this tag
            # (pipeline.contract.access), whatever this role's name: a replaced role keeps
            # writing the tables an earlier one made.
            tags={DB_ROLES_TAG: LOADER_ROLE} if step.job in iam.WAREHOUSE_JOBS else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        access = iam.GlueJobAccess(
            job=step.job,
            code_keys=(script.key, library.key),
            log_groups=log_groups,
            glue_database=catalog.database_name(args.prefix),
            metrics_namespace=args.metrics_namespace,
        )
        resolved = pulumi.Output.all(
            self._account, args.raw_bucket, args.processed_bucket, args.scripts_bucket,
            args.kms_key_arn, args.workgroup_arn,
        )  # fmt: skip
        self.roles[step.job] = role
        self.policies[step.job] = aws.iam.RolePolicy(
            f"{self._name}-{step.job}-policy",
            role=role.id,
            policy=resolved.apply(lambda values: _job_policy(access, *values)),
            opts=pulumi.ResourceOptions(parent=role),
        )

    def _job(self, step: Step) -> aws.glue.Job:
        args, role = self._args, self.roles[step.job]
        common = dict(
            name=f"{args.prefix}-{step.job}",
            description=step.summary,
            role_arn=role.arn,
            timeout=args.timeout_minutes,
            max_retries=0,  # the state machine decides what is worth retrying
            execution_property=aws.glue.JobExecutionPropertyArgs(
                max_concurrent_runs=args.max_concurrent_runs
            ),
        )
        # A run needs its code in place and its role's permissions attached.
        script = self.scripts[step.job]
        needs = [script.object, self.libraries[step.kind].object, self.policies[step.job]]
        options = pulumi.ResourceOptions(parent=self, depends_on=needs)
        if step.kind == PYTHON_SHELL:
            return aws.glue.Job(
                f"{self._name}-{step.job}",
                command=aws.glue.JobCommandArgs(
                    name=PYTHON_SHELL,
                    python_version=PYTHON_SHELL_VERSION,
                    script_location=self._uri(script.key),
                ),
                max_capacity=args.python_shell_dpu,
                default_arguments=self._python_shell_arguments(),
                opts=options,
                **common,
            )
        return aws.glue.Job(
            f"{self._name}-{step.job}",
            command=aws.glue.JobCommandArgs(
                name=SPARK, python_version="3", script_location=self._uri(script.key)
            ),
            glue_version=GLUE_VERSION,
            worker_type=args.spark_worker_type,
            number_of_workers=args.spark_workers,
            default_arguments=self._spark_arguments(step),
            opts=options,
            **common,
        )

    def _pipeline_arguments(self) -> dict[str, pulumi.Input[str]]:
        """What the scripts read besides the month (which the state machine passes)."""
        args = self._args
        return {
            "--raw_bucket": args.raw_bucket,
            "--processed_bucket": args.processed_bucket,
            "--workgroup": args.workgroup_name,
            "--database": args.database_name,
            "--copy_role_arn": args.copy_role_arn,
            "--glue_database": catalog.database_name(args.prefix),
            "--metrics_namespace": args.metrics_namespace,
            # The stack's region (the provider's): the jobs make their AWS clients for it rather
            # than trusting the environment Glue gives them.
            "--region": self._account.apply(lambda account: account.region),
        }

    def _python_shell_arguments(self) -> dict[str, pulumi.Input[str]]:
        # Python Shell streams stdout/stderr to /aws-glue/python-jobs/* while it runs; continuous
        # logging and job insights are Spark features, so they are not set here.
        return {
            **self._pipeline_arguments(),
            "--extra-py-files": self._uri(self.libraries[PYTHON_SHELL].key),
            "--additional-python-modules": PYTHON_SHELL_MODULES,
            "library-set": LIBRARY_SET,
        }

    def _spark_arguments(self, step: Step) -> dict[str, pulumi.Input[str]]:
        return {
            **self._pipeline_arguments(),
            "--extra-py-files": self._uri(self.libraries[SPARK].key),
            "--job-language": "python",
            **continuous_logging_arguments(self._log_prefix(step)),
            # Job insights write to CloudWatch Logs (JOB_INSIGHTS_LOG_GROUP) only. No
            # `--enable-metrics`: nothing here reads Glue's job metrics (the alarms watch Step
            # Functions, Lambda and SQS), and publishing them needs cloudwatch:PutMetricData,
            # which AWS grants only on "*".
            "--enable-job-insights": "true",
        }


def _job_policy(access: iam.GlueJobAccess, account: iam.Account, *names: str | None) -> str:
    raw, processed, scripts, kms_key_arn, workgroup_arn = names
    buckets = iam.Buckets(
        raw=raw, processed=processed, scripts=scripts, partition=account.partition,
        kms_key_arn=kms_key_arn,
    )  # fmt: skip
    granted = iam.GlueJobAccess(
        access.job, access.code_keys, access.log_groups, workgroup_arn, access.glue_database,
        access.metrics_namespace,
    )  # fmt: skip
    return json.dumps(iam.glue_job_policy(granted, buckets, account))
