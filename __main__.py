"""The Pulumi program: typed stack settings -> the six components -> the stack outputs.

Bad configuration stops here, before any resource, with one line naming the key, the value and
what is valid (see components/settings.py for every key and its dev/prod default).
"""

from __future__ import annotations

import pulumi

from components import iam
from components.analytics import Analytics, AnalyticsArgs
from components.etl import GlueEtl, GlueEtlArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.orchestration import Orchestration, OrchestrationArgs
from components.settings import NAMESPACE, StackSettings, build_settings, defaults_notice
from components.storage import DataLake, DataLakeArgs
from components.warehouse import RedshiftWarehouse, RedshiftWarehouseArgs
from pipeline.contract.errors import InvalidInput
from pipeline.contract.metrics import metric_namespace


def stack_config() -> dict[str, object]:
    """Every `tlc-elt:` key set for this stack, misspelt ones included so they can be refused.

    Pulumi hands the program its config as the PULUMI_CONFIG bag; each value is then read
    through pulumi.Config, the supported accessor.
    """
    config = pulumi.Config(NAMESPACE)
    given = [key.split(":", 1)[1] for key in pulumi.runtime.get_config_env()
             if key.startswith(f"{NAMESPACE}:")]  # fmt: skip
    return {key: config.get(key) for key in given}


def read_settings() -> StackSettings:
    values, stack = stack_config(), pulumi.get_stack()
    try:
        settings = build_settings(values, stack)
    except InvalidInput as error:
        # RunError: Pulumi prints the message alone, without a traceback.
        raise pulumi.RunError(str(error)) from None
    notice = defaults_notice(values, stack)
    if notice is not None:
        pulumi.log.info(notice)  # `staging` takes prod's defaults: say which
    return settings


settings = read_settings()

lake = DataLake(
    "lake",
    DataLakeArgs(
        prefix=settings.prefix,
        protect=settings.protect_data,
        kms_key_arn=settings.kms_key_arn,
        raw_transition_days=settings.raw_transition_days,
        raw_expiration_days=settings.raw_expiration_days,
        raw_noncurrent_version_days=settings.raw_noncurrent_version_days,
    ),
)

warehouse = RedshiftWarehouse(
    "warehouse",
    RedshiftWarehouseArgs(
        prefix=settings.prefix,
        processed_bucket=lake.processed_bucket.bucket,
        kms_key_arn=settings.kms_key_arn,
        base_capacity=settings.redshift_base_capacity,
        max_capacity=settings.redshift_max_capacity,
        usage_limit_rpu_hours=settings.usage_limit_rpu_hours,
        usage_limit_period=settings.usage_limit_period,
        usage_limit_breach_action=settings.usage_limit_breach_action,
        protect=settings.protect_data,
        subnet_ids=settings.redshift_subnet_ids,
        security_group_ids=settings.redshift_security_group_ids,
    ),
)

etl = GlueEtl(
    "etl",
    GlueEtlArgs(
        prefix=settings.prefix,
        raw_bucket=lake.raw_bucket.bucket,
        processed_bucket=lake.processed_bucket.bucket,
        scripts_bucket=lake.scripts_bucket.bucket,
        kms_key_arn=settings.kms_key_arn,
        workgroup_name=warehouse.workgroup.workgroup_name,
        workgroup_arn=warehouse.workgroup.arn,
        database_name=warehouse.database_name,
        copy_role_arn=warehouse.copy_role.arn,
        python_shell_dpu=settings.python_shell_dpu,
        spark_worker_type=settings.spark_worker_type,
        spark_workers=settings.default_spark_workers,
        timeout_minutes=settings.job_timeout_ceiling,
        max_concurrent_runs=settings.job_max_concurrent_runs,
        metrics_namespace=metric_namespace(settings.stack),
        log_retention_days=settings.log_retention_days,
    ),
)

orchestration = Orchestration(
    "orchestration",
    OrchestrationArgs(
        prefix=settings.prefix,
        job_names={job: glue_job.name for job, glue_job in etl.jobs.items()},
        job_arns=[glue_job.arn for glue_job in etl.jobs.values()],
        sizing=settings.sizing,
        processed_bucket=lake.processed_bucket.bucket,
        kms_key_arn=settings.kms_key_arn,
        spark_worker_type=settings.spark_worker_type,
        backfill_concurrency=settings.backfill_concurrency,
        schedule_enabled=settings.schedule_enabled,
        schedule_cron=settings.schedule_cron,
        schedule_timezone=settings.schedule_timezone,
        scheduled_datasets=settings.scheduled_datasets,
        execution_log_level=settings.execution_log_level,
        log_retention_days=settings.log_retention_days,
        alert_email=settings.alert_email,
    ),
)

analytics = Analytics(
    "analytics",
    AnalyticsArgs(
        prefix=settings.prefix,
        protect=settings.protect_data,
        processed_bucket=lake.processed_bucket.bucket,
        kms_key_arn=settings.kms_key_arn,
        athena_scan_limit_gb=settings.athena_scan_limit_gb,
        workgroup_name=warehouse.workgroup.workgroup_name,
        workgroup_arn=warehouse.workgroup.arn,
        database_name=warehouse.database_name,
        admin_secret_arn=warehouse.namespace.admin_password_secret_arn,
        loader_role_names=[etl.roles[job].name for job in sorted(iam.WAREHOUSE_JOBS)],
        log_retention_days=settings.log_retention_days,
    ),
)

monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        prefix=settings.prefix,
        namespace=metric_namespace(settings.stack),
        alerts_topic_arn=orchestration.alerts_topic.arn,
        monthly_machine_arn=orchestration.state_machine.arn,
        monthly_log_group=orchestration.log_groups["monthly"].name,
        trigger_function_arn=orchestration.trigger_function.arn,
        trigger_role_name=orchestration.roles["trigger"].name,
        scheduler_role_arn=orchestration.roles["scheduler"].arn,
        scheduled_datasets=settings.scheduled_datasets,
        schedule_enabled=settings.schedule_enabled,
        schedule_timezone=settings.schedule_timezone,
        alarms=orchestration.alarms,
    ),
)

pulumi.export("stateMachineArn", orchestration.state_machine.arn)
pulumi.export("backfillStateMachineArn", orchestration.backfill_state_machine.arn)
pulumi.export("rawBucket", lake.raw_bucket.bucket)
pulumi.export("processedBucket", lake.processed_bucket.bucket)
pulumi.export("scriptsBucket", lake.scripts_bucket.bucket)
pulumi.export("workgroupName", warehouse.workgroup.workgroup_name)
pulumi.export("databaseName", warehouse.database_name)
pulumi.export("alertsTopicArn", orchestration.alerts_topic.arn)
pulumi.export("triggerFunctionName", orchestration.trigger_function.name)
pulumi.export("glueDatabaseName", analytics.database.name)
pulumi.export("athenaWorkgroupName", analytics.athena_workgroup.name)
pulumi.export("readerRoleArn", analytics.reader_role.arn)
