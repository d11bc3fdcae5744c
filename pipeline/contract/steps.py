"""The pipeline's step list: the one definition both the state machine and the local runner walk.

`components.asl` builds one Task state per step (state name, Glue job, arguments) and the local
runner walks the same list, calling the job code that `pipeline.jobs.entries` names for each
step; each Glue script in `scripts/` calls that same function. Write-audit-publish: ingest and
transform write the run's candidate aside, the audit judges it, and only the publish step
changes what readers see. The list is data: it names no code, so the contract imports nothing
above it. Standard library only: the Pulumi program and
the trigger Lambda import this module.
"""

from __future__ import annotations

from dataclasses import dataclass

PYTHON_SHELL = "pythonshell"
SPARK = "glueetl"

# What every step's Glue job receives: the state machine input's month, and the run's id (the
# execution's name), under which each step finds and writes the run's candidate
# (`pipeline.contract.layout.RunKeys`).
INPUT_ARGUMENTS: tuple[str, ...] = ("dataset", "year", "month")
RUN_ID_ARGUMENT = "run_id"
JOB_ARGUMENTS: tuple[str, ...] = (*INPUT_ARGUMENTS, RUN_ID_ARGUMENT)
# The audit's own: publish despite refusals (the input's `forcePublish`), and its thresholds
# (`pipeline.contract.audit.AuditThresholds.to_config` as JSON, the dataset's from the stack).
FORCE_PUBLISH_ARGUMENT = "force_publish"
AUDIT_ARGUMENT = "audit"

# Where Glue writes a job run's output and errors (stream name = the run id), per job kind; a
# security configuration moves them under the run's LogGroupName. With continuous logging a
# Spark job also writes the driver and executor logs to JOB_INSIGHTS_LOG_GROUP.
# https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html
GLUE_LOG_PREFIXES = {PYTHON_SHELL: "/aws-glue/python-jobs", SPARK: "/aws-glue/jobs"}
GLUE_LOG_STREAMS = ("output", "error")
JOB_INSIGHTS_LOG_GROUP = "/aws-glue/jobs/logs-v2"


@dataclass(frozen=True)
class Step:
    state: str  # the Step Functions state name
    job: str  # the Glue job's suffix, `scripts/<job>.py` and its entry in `pipeline.jobs.entries`
    kind: str  # PYTHON_SHELL or SPARK
    summary: str
    arguments: tuple[str, ...] = ()  # the step's own job arguments, after JOB_ARGUMENTS

    @property
    def script(self) -> str:
        return f"scripts/{self.job}.py"

    @property
    def log_groups(self) -> tuple[str, ...]:
        """The Glue log groups a run of this step writes to, without a security configuration."""
        base = GLUE_LOG_PREFIXES[self.kind]
        groups = tuple(f"{base}/{stream}" for stream in GLUE_LOG_STREAMS)
        return groups if self.kind == PYTHON_SHELL else (*groups, JOB_INSIGHTS_LOG_GROUP)


STEPS: tuple[Step, ...] = (
    Step("IngestRaw", "ingest_raw", PYTHON_SHELL,
         "download the month's file from TLC into the raw zone, checked"),
    Step("TransformTrips", "transform_trips", SPARK,
         "normalise to the table contract, apply row rules, write processed + quarantine"),
    Step("AuditMonth", "audit_month", PYTHON_SHELL,
         "judge the candidate against the published month and history: refuse or pass",
         (FORCE_PUBLISH_ARGUMENT, AUDIT_ARGUMENT)),
    Step("PublishMonth", "load_redshift", PYTHON_SHELL,
         "publish: replace the month in the warehouse with its ledger row in one transaction, "
         "count-checked, then point the lake and the catalog at the run"),
)  # fmt: skip


def step_named(job: str) -> Step:
    for step in STEPS:
        if step.job == job:
            return step
    raise KeyError(job)
