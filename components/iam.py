"""Every IAM policy document the stack creates, as pure functions from ARNs to dicts.

Components call these with resolved ARNs (inside `Output.apply`, creating no resource there); tests
call them with plain strings and run them through parliament. Resources are exact: the buckets and
dataset prefixes of `pipeline.contract.layout`, the Glue job, state machine, topic, queue, function
and workgroup ARNs. The few statements with `Resource: "*"` hold only actions that AWS offers no
resource-level permission for; each says why next to it, and `STAR_ACTIONS` lists them for the
tests. Parliament's findings that are accepted on purpose are in `ACCEPTED_FINDINGS` (any document)
and `TRUST_POLICY_FINDINGS` (trust policies only), with the reason.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.contract.catalog import quarantine_table, trips_table
from pipeline.contract.datasets import DATASETS, Dataset
from pipeline.contract.layout import (
    ATHENA_RESULTS_PREFIX,
    PROCESSED,
    RAW,
    RunKeys,
    dataset_prefix,
    published_key,
    quarantine_dataset_prefix,
    taxi_zones_key,
)

Policy = dict[str, Any]
Statement = dict[str, Any]
VERSION = "2012-10-17"

# Step Functions delivers execution logs through CloudWatch Logs' vended-log API, whose actions
# take no resource ARN: AWS's documented policy for state machine logging uses "*".
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
# X-Ray has no resource-level permissions for sending traces.
XRAY_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
# The Data API's per-statement calls address a statement by its id, which has no ARN: AWS's
# service authorization reference lists no resource type for them, so they need "*". Its one
# condition key for them, redshift-data:statement-owner-iam-userid, limits them to statements
# this role ran (see _warehouse_statements).
STATEMENT_ACTIONS = (
    "redshift-data:DescribeStatement",
    "redshift-data:GetStatementResult",
    "redshift-data:CancelStatement",
)
# The Athena console's two list calls have no resource type in AWS's service authorization
# reference: a role lists every workgroup and catalog name, and queries only its own.
ATHENA_CONSOLE_LIST_ACTIONS = ("athena:ListWorkGroups", "athena:ListDataCatalogs")
STAR_ACTIONS = frozenset(
    LOG_DELIVERY_ACTIONS + XRAY_ACTIONS + STATEMENT_ACTIONS + ATHENA_CONSOLE_LIST_ACTIONS
)

# Accepted only for trust policies: see trust_policy, where the reason is.
TRUST_POLICY_FINDINGS: Mapping[tuple[str, str], str] = {
    ("MALFORMED", "Statement contains neither Resource nor NotResource"): (
        "a role's trust policy (assume-role document) has no Resource by IAM's grammar: the "
        "role is the resource; parliament reads every document as an identity policy"
    ),
}
# Accepted in any document that contains the statement.
ACCEPTED_FINDINGS: Mapping[tuple[str, str], str] = {
    ("PERMISSIONS_MANAGEMENT_ACTIONS", "logs:PutResourcePolicy"): (
        "AWS documents logs:PutResourcePolicy as required for Step Functions to deliver "
        "execution logs (it writes the log group's resource policy for the delivery)"
    ),
    ("RESOURCE_MISMATCH", "states:DescribeExecution"): (
        "parliament's IAM catalogue knows only the Express execution ARN for DescribeExecution; "
        "the backfill watches Standard executions, arn:...:execution:<machine>:<id>, which is "
        "what AWS documents for startExecution.sync:2"
    ),
}

# The rule Step Functions manages to learn when a child execution ends (`.sync` on states).
SYNC_EVENTS_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"


@dataclass(frozen=True)
class Account:
    partition: str
    region: str
    account_id: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"


@dataclass(frozen=True)
class Buckets:
    """The stack's buckets by name, and the KMS key that encrypts them when one is configured."""

    raw: str
    processed: str
    scripts: str
    partition: str = "aws"
    kms_key_arn: str | None = None

    def name(self, zone: str) -> str:
        return {RAW: self.raw, PROCESSED: self.processed}[zone]

    def arn(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}"


class Level(enum.Enum):
    READ = "read"
    WRITE = "write"  # read, create, replace and delete
    PUT = "put"  # create or replace, nothing else
    DELETE = "delete"


class Scope(enum.Enum):
    """Sets of lake keys, each derived from `pipeline.contract.layout` (every dataset's)."""

    DATASETS = "every key of the dataset prefixes"
    # Every run's candidate: `<dataset>/_runs/...` (in the processed zone the quarantine's
    # `quarantine/<dataset>/_runs/...` too).
    RUNS = "the runs' prefixes"
    # What the transform's Spark writes (pipeline.jobs.transform.run_step): the run's parts and
    # its rejected rows under the runs' prefixes. Spark's committer writes `_temporary/` work
    # files and `_SUCCESS` inside the output folder, and the folder markers
    # (`<folder>_$folder$`) of the run, month and year folders fall under the runs' prefixes
    # too. Only the keys of the folders the prefixes name (`yellow`, `yellow/_runs`,
    # `quarantine`, `quarantine/yellow`, ...) are outside: Spark's S3 filesystem probes them
    # (HEAD, which answers 403 without s3:GetObject on the key, not 404) and may write their
    # markers when it creates the output folder, so those exact keys are granted as well
    # (folder_keys). They hold no data; nothing else in the bucket is reachable.
    SPARK_OUTPUT = "the runs' prefixes, and the folder keys above them"
    # What says which run is published: the months' pointers, and a legacy month's counts.
    PUBLISHED = "the months' pointers and legacy counts"
    POINTERS = "the months' pointers (_published.json)"
    # A month's own folder: a legacy month's files (and, in the processed zone, its pointer,
    # which a Deny keeps the load job from deleting: DENY_POINTER_DELETES).
    LEGACY = "the month folders (legacy files) of the dataset and its quarantine"
    AUDITS = "the runs' verdicts (_audit.json)"
    MANIFESTS = "the runs' COPY manifests"
    # The zone lookup the stack uploads (pipeline.contract.layout.taxi_zones_key): one key.
    ZONE_LOOKUP = "the zone lookup"


@dataclass(frozen=True)
class ZoneGrant:
    zone: str
    level: Level
    scope: Scope = Scope.DATASETS


# What each Glue job (pipeline.contract.steps.Step.job) may do in the lake.
JOB_GRANTS: Mapping[str, tuple[ZoneGrant, ...]] = {
    # Writes its run's raw file and record; reads the published month's (a legacy month's in
    # its folder) to copy it when the source is unchanged, and which run is published.
    "ingest_raw": (
        ZoneGrant(RAW, Level.READ),
        ZoneGrant(RAW, Level.WRITE, Scope.RUNS),
        ZoneGrant(PROCESSED, Level.READ, Scope.PUBLISHED),
    ),
    "transform_trips": (
        ZoneGrant(RAW, Level.READ, Scope.RUNS),
        ZoneGrant(PROCESSED, Level.WRITE, Scope.SPARK_OUTPUT),
    ),
    # Reads the candidate's counts and the published months' (pointers, legacy counts, the
    # runs they name); writes its verdict beside the candidate.
    "audit_month": (
        ZoneGrant(PROCESSED, Level.READ),
        ZoneGrant(PROCESSED, Level.PUT, Scope.AUDITS),
    ),
    # Publish: reads the run (and its ingest record), writes its COPY manifest and the month's
    # pointer, removes runs past retention in both zones and the legacy month files.
    "load_redshift": (
        ZoneGrant(RAW, Level.READ, Scope.RUNS),
        ZoneGrant(RAW, Level.DELETE, Scope.RUNS),
        ZoneGrant(RAW, Level.DELETE, Scope.LEGACY),
        ZoneGrant(PROCESSED, Level.READ),
        ZoneGrant(PROCESSED, Level.READ, Scope.ZONE_LOOKUP),
        ZoneGrant(PROCESSED, Level.PUT, Scope.MANIFESTS),
        ZoneGrant(PROCESSED, Level.PUT, Scope.POINTERS),
        ZoneGrant(PROCESSED, Level.DELETE, Scope.RUNS),
        ZoneGrant(PROCESSED, Level.DELETE, Scope.LEGACY),
    ),
}
# Jobs that run statements in the warehouse, and that move the catalog's month partitions.
WAREHOUSE_JOBS = frozenset({"load_redshift"})
CATALOG_JOBS = frozenset({"load_redshift"})
# The audit (a refusal) and publish (a published month) put CloudWatch metrics.
METRICS_JOBS = frozenset({"audit_month", "load_redshift"})
# What publish does to a month's partitions (pipeline.storage.catalog), on the tables only.
CATALOG_PUBLISH_ACTIONS = (
    "glue:GetTable",
    "glue:GetPartition",
    "glue:CreatePartition",
    "glue:UpdatePartition",
    "glue:BatchCreatePartition",
)

_OBJECT_ACTIONS: Mapping[Level, tuple[str, ...]] = {
    Level.READ: ("s3:GetObject",),
    # PutObject covers multipart uploads; aborting one is its own action.
    Level.WRITE: ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"),
    Level.PUT: ("s3:PutObject",),
    Level.DELETE: ("s3:DeleteObject",),
}
_FOLDER_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
_RUN = "RUN"  # a run id standing for any, in the key patterns below


def _month_wild(dataset: Dataset, key: str) -> str:
    """A key of the dataset's first month with its year and month (and run) as wildcards."""
    month = dataset.first_month
    return key.replace(f"year={month.yyyy}/month={month.mm}/", "year=*/month=*/").replace(
        f"/{_RUN}/", "/*/"
    )


def _run_keys(dataset: Dataset, run_id: str | None = _RUN) -> RunKeys:
    return RunKeys(dataset, dataset.first_month, run_id)


def zone_prefixes() -> tuple[str, ...]:
    """Every dataset's key prefix in a zone: `yellow/`, `green/`."""
    return tuple(dataset_prefix(dataset) for dataset in DATASETS.values())


def quarantine_prefixes() -> tuple[str, ...]:
    """Every dataset's quarantine prefix in the processed zone: `quarantine/yellow/`, ..."""
    return tuple(quarantine_dataset_prefix(dataset) for dataset in DATASETS.values())


def run_prefixes(zone: str) -> tuple[str, ...]:
    """Where the runs live: `yellow/_runs/` (and `quarantine/yellow/_runs/` in processed)."""
    prefixes = []
    for dataset in DATASETS.values():
        keys = _run_keys(dataset)
        folders = [keys.processed_prefix] + ([keys.quarantine_prefix] if zone == PROCESSED else [])
        prefixes += [folder.split("year=", 1)[0] for folder in folders]
    return tuple(prefixes)


def spark_output_prefixes() -> tuple[str, ...]:
    return run_prefixes(PROCESSED)


def folder_keys(prefixes: Sequence[str]) -> tuple[str, ...]:
    """The keys that stand for the folders the prefixes name (`quarantine/yellow/` -> `quarantine`,
    `quarantine/`, `quarantine_$folder$`, `quarantine/yellow`, `quarantine/yellow_$folder$`),
    less the keys a prefix grant already covers (`quarantine/yellow/`)."""
    keys: dict[str, None] = {}
    for prefix in prefixes:
        parts = prefix.rstrip("/").split("/")
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            for key in (folder, f"{folder}/", f"{folder}_$folder$"):
                if not any(key.startswith(granted) for granted in prefixes):
                    keys[key] = None
    return tuple(keys)


def pointer_patterns() -> tuple[str, ...]:
    """`yellow/year=*/month=*/_published.json`, ...: the months' pointers."""
    return tuple(_month_wild(d, published_key(d, d.first_month)) for d in DATASETS.values())


def _run_file_patterns(name: str) -> tuple[str, ...]:
    """`yellow/_runs/year=*/month=*/*/<name>` for a file of every run (`_audit.json`, ...)."""
    return tuple(_month_wild(d, _run_keys(d).processed_prefix) + name for d in DATASETS.values())


def audit_patterns() -> tuple[str, ...]:
    """Every run's verdict, `yellow/_runs/year=*/month=*/*/_audit.json` (the layout's name)."""
    name = _run_keys(DATASETS[next(iter(DATASETS))]).audit_key.rsplit("/", 1)[1]
    return _run_file_patterns(name)


def manifest_patterns() -> tuple[str, ...]:
    """Every run's COPY manifest, `yellow/_runs/year=*/month=*/*/_copy.manifest`."""
    name = _run_keys(DATASETS[next(iter(DATASETS))]).copy_manifest_key.rsplit("/", 1)[1]
    return _run_file_patterns(name)


def legacy_patterns(zone: str) -> tuple[str, ...]:
    """The month folders, `yellow/year=*/month=*/*` (and the quarantine's in processed)."""
    patterns = []
    for dataset in DATASETS.values():
        legacy = _run_keys(dataset, None)
        folders = [legacy.processed_prefix] + (
            [legacy.quarantine_prefix] if zone == PROCESSED else []
        )
        patterns += [_month_wild(dataset, folder) + "*" for folder in folders]
    return tuple(patterns)


def published_patterns() -> tuple[str, ...]:
    """The pointers and the legacy months' counts (`pipeline.jobs.published` reads both)."""
    name = _run_keys(DATASETS[next(iter(DATASETS))], None).counts_key.rsplit("/", 1)[1]
    counts = tuple(
        _month_wild(d, _run_keys(d, None).processed_prefix) + name for d in DATASETS.values()
    )
    return pointer_patterns() + counts


def scope_patterns(scope: Scope, zone: str) -> tuple[str, ...]:
    """The key patterns (IAM `*` wildcards) of a scope in a zone."""
    if scope is Scope.DATASETS:
        prefixes = zone_prefixes() + (quarantine_prefixes() if zone == PROCESSED else ())
        return tuple(f"{p}*" for p in prefixes)
    return {
        Scope.RUNS: lambda: tuple(f"{p}*" for p in run_prefixes(zone)),
        Scope.SPARK_OUTPUT: lambda: tuple(f"{p}*" for p in spark_output_prefixes()),
        Scope.PUBLISHED: published_patterns,
        Scope.POINTERS: pointer_patterns,
        Scope.LEGACY: lambda: legacy_patterns(zone),
        Scope.AUDITS: audit_patterns,
        Scope.MANIFESTS: manifest_patterns,
        Scope.ZONE_LOOKUP: lambda: (taxi_zones_key(),),
    }[scope]()


def document(*statements: Statement) -> Policy:
    return {"Version": VERSION, "Statement": list(statements)}


def allow(
    sid: str, actions: Iterable[str], resources: str | Sequence[str], **extra: Any
) -> Statement:
    resource = resources if isinstance(resources, str) else list(resources)
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource, **extra}


def trust_policy(services: Sequence[str], source_account: str | None = None) -> Policy:
    """Who may assume a role; `source_account` guards against the confused deputy (a service
    acting for another account): every service role of the stack sets it (Step Functions,
    EventBridge Scheduler, Glue, Redshift), as each service's documentation recommends.

    The statement has no Resource, as IAM's grammar requires of a trust policy (the role is
    the resource). Parliament reads every document as an identity policy and reports it as
    MALFORMED: TRUST_POLICY_FINDINGS accepts that for the documents built here and only them.
    """
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": sorted(services)},
        "Action": "sts:AssumeRole",
    }
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return document(statement)


def tls_only_bucket_policy(bucket_arn: str) -> Policy:
    """Refuse any request to the bucket or its objects that does not come over HTTPS.

    (S3 itself refuses TLS older than 1.2 on every endpoint, so no version condition is needed.)
    A Deny on s3:* grants nothing; the `no service:*` rule is about what roles are allowed.
    """
    return document(
        {
            "Sid": "DenyPlainHttp",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def _lake_statements(grants: Sequence[ZoneGrant], buckets: Buckets) -> list[Statement]:
    statements = []
    for zone in dict.fromkeys(grant.zone for grant in grants):
        # S3 answers 404 for a missing key only to principals with ListBucket on the bucket
        # itself; with an s3:prefix condition the lake's exists() check would get 403 instead.
        bucket = buckets.arn(buckets.name(zone))
        statements.append(
            allow(f"List{zone.title()}", ["s3:ListBucket", "s3:GetBucketLocation"], bucket)
        )
    for grant in grants:
        bucket = buckets.arn(buckets.name(grant.zone))
        sid = f"{grant.level.value.title()}{grant.zone.title()}{_sid(grant.scope)}"
        keys = [f"{bucket}/{pattern}" for pattern in scope_patterns(grant.scope, grant.zone)]
        statements.append(allow(sid, _OBJECT_ACTIONS[grant.level], keys))
        if grant.scope is Scope.SPARK_OUTPUT:
            # Exact, empty folder keys (see Scope.SPARK_OUTPUT): probe, mark, unmark.
            folders = [f"{bucket}/{key}" for key in folder_keys(spark_output_prefixes())]
            statements.append(allow(f"{sid}Folders", _FOLDER_ACTIONS, folders))
    if any(g.level is Level.DELETE and g.scope is Scope.LEGACY for g in grants):
        statements.append(_deny_pointer_deletes(buckets))
    return statements


def _sid(scope: Scope) -> str:
    return "" if scope is Scope.DATASETS else "".join(p.title() for p in scope.name.split("_"))


def _deny_pointer_deletes(buckets: Buckets) -> Statement:
    """Removing a legacy month's files must leave its pointer (which names the published run)."""
    bucket = buckets.arn(buckets.processed)
    return {
        "Sid": "KeepPointers",
        "Effect": "Deny",
        "Action": ["s3:DeleteObject"],
        "Resource": [f"{bucket}/{pattern}" for pattern in pointer_patterns()],
    }


def _kms_statements(buckets: Buckets, grants: Sequence[ZoneGrant]) -> list[Statement]:
    if buckets.kms_key_arn is None:
        return []
    actions = {"kms:Decrypt"}
    if any(grant.level in (Level.WRITE, Level.PUT) for grant in grants):
        actions.add("kms:GenerateDataKey")
    return [allow("UseLakeKey", actions, buckets.kms_key_arn)]


def _log_statement(sid: str, account: Account, log_groups: Sequence[str]) -> Statement:
    arns = [account.arn("logs", f"log-group:{name}") for name in log_groups]
    return allow(
        sid,
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        [*arns, *(f"{arn}:log-stream:*" for arn in arns)],
    )


@dataclass(frozen=True)
class GlueJobAccess:
    """What one Glue job touches besides the lake: its code, its logs, maybe the warehouse."""

    job: str  # pipeline.contract.steps.Step.job
    code_keys: tuple[str, ...]  # the script and library keys in the scripts bucket
    log_groups: tuple[str, ...]  # the CloudWatch log groups Glue writes the run's logs to
    workgroup_arn: str | None = None
    glue_database: str | None = None  # the catalog whose month partitions publish moves
    metrics_namespace: str | None = None  # where the audit and publish steps put metrics


def glue_job_policy(access: GlueJobAccess, buckets: Buckets, account: Account) -> Policy:
    """One Glue job's role: its lake zones (JOB_GRANTS), its own code, its logs, and for the
    load job the workgroup. Unknown jobs fail here, so a new step cannot get a blank policy."""
    if access.job not in JOB_GRANTS:
        raise KeyError(f"no lake grants for Glue job {access.job!r}: add it to JOB_GRANTS")
    grants = JOB_GRANTS[access.job]
    code = [f"{buckets.arn(buckets.scripts)}/{key}" for key in access.code_keys]
    statements = [
        allow("ReadJobCode", ["s3:GetObject"], code),
        *_lake_statements(grants, buckets),
        *_kms_statements(buckets, grants),
        _log_statement("WriteJobLogs", account, access.log_groups),
    ]
    if access.job in WAREHOUSE_JOBS:
        statements += _warehouse_statements(access)
    if access.job in METRICS_JOBS:
        if access.metrics_namespace is None:
            raise ValueError(f"Glue job {access.job!r} puts metrics: give metrics_namespace")
        statements.append(put_metrics_statement(access.metrics_namespace))
    if access.job in CATALOG_JOBS:
        if access.glue_database is None:
            raise ValueError(f"Glue job {access.job!r} moves partitions: give glue_database")
        statements.append(
            allow("PublishPartitions", CATALOG_PUBLISH_ACTIONS,
                  catalog_table_arns(account, access.glue_database))
        )  # fmt: skip
    return document(*statements)


def catalog_table_arns(account: Account, database: str) -> list[str]:
    """The catalog, the database and exactly the datasets' trips and quarantine tables (Glue
    authorises a table action on all three: https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html)."""
    tables = [name for d in DATASETS.values() for name in (trips_table(d), quarantine_table(d))]
    return [
        account.arn("glue", "catalog"),
        account.arn("glue", f"database/{database}"),
        *(account.arn("glue", f"table/{database}/{table}") for table in tables),
    ]


def _warehouse_statements(access: GlueJobAccess) -> list[Statement]:
    if access.workgroup_arn is None:
        raise ValueError(f"Glue job {access.job!r} runs warehouse statements: give workgroup_arn")
    return [
        allow("RunStatements",
              ["redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement"],
              access.workgroup_arn),
        # The Data API signs in to the workgroup as this role (IAMR:<role>) with these.
        allow("WorkgroupCredentials", ["redshift-serverless:GetCredentials"], access.workgroup_arn),
        # Describe/GetResult/Cancel name a statement id, which has no ARN, so AWS takes only
        # "*" here (STATEMENT_ACTIONS); the owner condition limits them to this role's own.
        allow("FollowOwnStatements", STATEMENT_ACTIONS, "*",
              Condition={"StringEquals": {
                  "redshift-data:statement-owner-iam-userid": "${aws:userid}"}}),
    ]  # fmt: skip


def copy_role_policy(
    processed_bucket: str, partition: str = "aws", kms_key_arn: str | None = None
) -> Policy:
    """What Redshift may read when it runs COPY as this role: the processed datasets and the
    zone lookup only."""
    bucket = f"arn:{partition}:s3:::{processed_bucket}"
    keys = [f"{bucket}/{prefix}*" for prefix in zone_prefixes()]
    statements = [
        allow("ReadProcessedDatasets", ["s3:GetObject"], keys),
        allow("ReadZoneLookup", ["s3:GetObject"], f"{bucket}/{taxi_zones_key()}"),
        allow("ListProcessed", ["s3:ListBucket", "s3:GetBucketLocation"], bucket),
    ]
    if kms_key_arn is not None:
        statements.append(allow("DecryptLake", ["kms:Decrypt"], kms_key_arn))
    return document(*statements)


def _observability_statements() -> list[Statement]:
    return [
        # Vended-log delivery takes no resource ARN; this is AWS's documented policy for
        # Step Functions logging (logs:PutResourcePolicy included, see ACCEPTED_FINDINGS).
        allow("DeliverExecutionLogs", LOG_DELIVERY_ACTIONS, "*"),
        # X-Ray has no resource-level permissions.
        allow("SendTraces", XRAY_ACTIONS, "*"),
    ]


def monthly_machine_policy(job_arns: Sequence[str], topic_arn: str, buckets: Buckets) -> Policy:
    """The monthly state machine: run and stop its Glue jobs (.sync polls the run), read the
    audit's verdicts (the aws-sdk:s3:getObject state), alert."""
    bucket = buckets.arn(buckets.processed)
    statements = [
        allow("RunPipelineJobs",
              ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
              list(job_arns)),
        allow("ReadVerdicts", ["s3:GetObject"],
              [f"{bucket}/{pattern}" for pattern in audit_patterns()]),
        allow("NotifyFailure", ["sns:Publish"], topic_arn),
        *_observability_statements(),
    ]  # fmt: skip
    if buckets.kms_key_arn is not None:
        statements.append(allow("DecryptVerdicts", ["kms:Decrypt"], buckets.kms_key_arn))
    return document(*statements)


def executions_of(state_machine_arn: str) -> str:
    """`arn:...:stateMachine:<name>` -> `arn:...:execution:<name>:*` (its executions)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":*"


def backfill_machine_policy(
    monthly_arn: str, function_arn: str, topic_arn: str, account: Account
) -> Policy:
    """The backfill: expand the range (Lambda), run the monthly machine per month (.sync:2)."""
    return document(
        allow("ExpandMonths", ["lambda:InvokeFunction"], [function_arn, f"{function_arn}:*"]),
        allow("StartMonths", ["states:StartExecution"], monthly_arn),
        # DescribeExecution is accepted in ACCEPTED_FINDINGS (parliament's catalogue is stale).
        allow("FollowMonths", ["states:DescribeExecution", "states:StopExecution"],
              executions_of(monthly_arn)),
        # `.sync` on a child execution listens through this Step Functions-managed rule.
        allow("ListenForMonths", ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
              account.arn("events", f"rule/{SYNC_EVENTS_RULE}")),
        allow("NotifyFailure", ["sns:Publish"], topic_arn),
        *_observability_statements(),
    )  # fmt: skip


def trigger_function_policy(monthly_arn: str, log_group_arn: str, dead_letter_arn: str) -> Policy:
    """The trigger Lambda: start the monthly machine, write its log, dead-letter a failure."""
    return document(
        allow("StartMonth", ["states:StartExecution"], monthly_arn),
        allow("WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
              [log_group_arn, f"{log_group_arn}:log-stream:*"]),
        allow("DeadLetter", ["sqs:SendMessage"], dead_letter_arn),
    )  # fmt: skip


def scheduler_policy(function_arn: str, dead_letter_arn: str) -> Policy:
    """EventBridge Scheduler: invoke the trigger, dead-letter what it could not deliver."""
    return document(
        allow("InvokeTrigger", ["lambda:InvokeFunction"], [function_arn, f"{function_arn}:*"]),
        allow("DeadLetter", ["sqs:SendMessage"], dead_letter_arn),
    )


def adopt_function_policy(
    buckets: Buckets, database: str, log_group_arn: str, account: Account
) -> Policy:
    """The adopt Lambda (functions.adopt): list the month folders, read the pointers and legacy
    counts, read the tables and register their missing partitions, write its log."""
    bucket = buckets.arn(buckets.processed)
    statements = [
        allow("ListProcessed", ["s3:ListBucket"], bucket),
        allow("ReadPublished", ["s3:GetObject"],
              [f"{bucket}/{pattern}" for pattern in published_patterns()]),
        allow("RegisterPartitions", ["glue:GetTable", "glue:GetPartitions",
                                     "glue:BatchCreatePartition"],
              catalog_table_arns(account, database)),
        allow("WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
              [log_group_arn, f"{log_group_arn}:log-stream:*"]),
    ]  # fmt: skip
    if buckets.kms_key_arn is not None:
        statements.append(allow("DecryptLake", ["kms:Decrypt"], buckets.kms_key_arn))
    return document(*statements)


def account_trust_policy(account: Account) -> Policy:
    """Who may assume the reader role: principals of this account whose own policy allows
    sts:AssumeRole on it (the account root as Principal delegates the decision to IAM)."""
    root = f"arn:{account.partition}:iam::{account.account_id}:root"
    return document({"Effect": "Allow", "Principal": {"AWS": root}, "Action": "sts:AssumeRole"})


# Athena's query actions on the workgroup, and the Glue catalog reads a query needs.
ATHENA_QUERY_ACTIONS = (
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:GetQueryRuntimeStatistics",
    "athena:GetWorkGroup",
    "athena:ListQueryExecutions",
    "athena:BatchGetQueryExecution",
)
# What the Athena console asks before a query (its workgroup and catalog pickers, the table
# tree): the catalog calls take AwsDataCatalog's ARN
# (https://docs.aws.amazon.com/athena/latest/ug/datacatalogs-example-policies.html).
ATHENA_CONSOLE_CATALOG_ACTIONS = (
    "athena:GetDataCatalog",
    "athena:ListDatabases",
    "athena:GetDatabase",
    "athena:ListTableMetadata",
    "athena:GetTableMetadata",
)
# AWS's managed policy for Query Editor v2's own objects (tabs, saved queries, charts) kept
# private to their owner: the tightest of its three (the others share with a team); it grants
# no access to any data (https://docs.aws.amazon.com/redshift/latest/mgmt/query-editor-v2-getting-started.html).
QUERY_EDITOR_POLICY = "AmazonRedshiftQueryEditorV2NoSharing"
GLUE_READ_ACTIONS = (
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
)


@dataclass(frozen=True)
class ReaderAccess:
    """What the reader role reads: the lake through Athena, the warehouse through the Data API."""

    processed_bucket: str
    athena_workgroup: str
    glue_database: str
    workgroup_arn: str  # Redshift Serverless
    kms_key_arn: str | None = None


def reader_policy(access: ReaderAccess, account: Account) -> Policy:
    """The stack's readers: query the lake's tables in the stack's Athena workgroup (read the
    processed and quarantine parts, write results under their prefix; browse them in the Athena
    console), and run read queries in the warehouse as themselves (the `tlc_reader` database
    role decides what they may read; `pipeline.contract.access`). Query Editor v2's own needs
    are AWS's managed QUERY_EDITOR_POLICY, attached beside this one. Nothing here writes data."""
    bucket = f"arn:{account.partition}:s3:::{access.processed_bucket}"
    catalog = account.arn("glue", "catalog")
    database = account.arn("glue", f"database/{access.glue_database}")
    tables = account.arn("glue", f"table/{access.glue_database}/*")
    statements = [
        allow("QueryInWorkgroup", ATHENA_QUERY_ACTIONS,
              account.arn("athena", f"workgroup/{access.athena_workgroup}")),
        allow("ReadCatalog", GLUE_READ_ACTIONS, [catalog, database, tables]),
        # The Athena console lists workgroups and catalogs before it shows the query editor.
        allow("ListInAthenaConsole", ATHENA_CONSOLE_LIST_ACTIONS, "*"),
        allow("BrowseInAthenaConsole", ATHENA_CONSOLE_CATALOG_ACTIONS,
              account.arn("athena", "datacatalog/AwsDataCatalog")),
        allow("ListProcessed", ["s3:ListBucket", "s3:GetBucketLocation"], bucket),
        allow("ReadLake", ["s3:GetObject"],
              [*(f"{bucket}/{pattern}" for pattern in scope_patterns(Scope.DATASETS, PROCESSED)),
               f"{bucket}/{taxi_zones_key()}"]),
        allow("WriteQueryResults",
              ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
              f"{bucket}/{ATHENA_RESULTS_PREFIX}*"),
        allow("RunReadQueries", ["redshift-data:ExecuteStatement"], access.workgroup_arn),
        # The Data API signs in as this role (IAMR:<role>); its RedshiftDbRoles tag maps it to
        # the tlc_reader database role.
        allow("WorkgroupCredentials", ["redshift-serverless:GetCredentials"], access.workgroup_arn),
        allow("FollowOwnStatements", STATEMENT_ACTIONS, "*",
              Condition={"StringEquals": {
                  "redshift-data:statement-owner-iam-userid": "${aws:userid}"}}),
    ]  # fmt: skip
    if access.kms_key_arn is not None:
        # Read the lake's objects, write encrypted results (SSE-KMS under the same key).
        statements.append(
            allow("UseLakeKey", ["kms:Decrypt", "kms:GenerateDataKey"], access.kms_key_arn)
        )
    return document(*statements)


# CloudWatch's GetMetricData has no resource-level permission (AWS's service authorization
# reference lists no resource type for it): it reads metrics, and only the freshness check has it.
METRIC_READ_ACTIONS = ("cloudwatch:GetMetricData",)
STAR_ACTIONS = STAR_ACTIONS | frozenset(METRIC_READ_ACTIONS) | {"cloudwatch:PutMetricData"}


def put_metrics_statement(namespace: str) -> Statement:
    """Put metrics into the stack's namespace only. PutMetricData has no resource ARN, so the
    Resource is "*" and the condition key `cloudwatch:namespace` confines it
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html)."""
    return allow("PutStackMetrics", ["cloudwatch:PutMetricData"], "*",
                 Condition={"StringEquals": {"cloudwatch:namespace": namespace}})  # fmt: skip


def freshness_check_policy(namespace: str) -> Policy:
    """The trigger Lambda's freshness action: read the stack's publishes, put their age."""
    return document(
        allow("ReadPublishes", METRIC_READ_ACTIONS, "*"),
        put_metrics_statement(namespace),
    )
