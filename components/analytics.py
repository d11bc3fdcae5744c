"""Analytics: how people read the data. The lake as tables for Athena, and the warehouse's roles.

- A Glue Data Catalog database with two external tables per dataset (processed parts and
  quarantine), partitioned by year/month, each month's partition registered at the published
  run's prefixes (components.catalog; publish moves it). No crawler. The adopt Lambda
  (`functions.adopt`), invoked at deploy once the tables exist, registers the partitions of
  months published before (a stack upgraded from partition projection), never changing one:
  every published month stays readable in Athena right after `pulumi up`.
- An Athena workgroup with its configuration enforced: results encrypted (the stack's KMS key,
  else SSE-S3) under their own prefix of the processed bucket, which the lake expires; a
  per-query scan cutoff (`athenaScanLimitGb`); CloudWatch metrics.
- The reader IAM role `<prefix>-reader` (assumable by the account's principals that are allowed
  to): Athena in this workgroup, the catalog, the lake read-only, and read queries in Redshift,
  where its `RedshiftDbRoles=tlc_reader` tag maps it to the reader database role.
- The warehouse's access setup, run at deploy time as the namespace's admin through the Data API
  with the admin secret Secrets Manager keeps: the idempotent procedure of
  `pipeline.contract.access` (create the roles, grant them, put the stack's IAM roles in them),
  then its CALL. The provider runs each statement once when it is created and waits for it to
  finish; a new procedure (a dataset, a replaced role) replaces both, so the CALL runs again.
  https://www.pulumi.com/registry/packages/aws/api-docs/redshiftdata/statement/
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import artifacts, catalog, iam
from components.account import current_account
from functions.adopt import GLUE_DATABASE_ENV, PROCESSED_BUCKET_ENV
from pipeline.contract.access import (
    CALL_ACCESS_PROCEDURE,
    DB_ROLES_TAG,
    READER_ROLE,
    access_procedure_sql,
)
from pipeline.contract.datasets import DATASETS

TYPE = "tlc-elt:analytics:Analytics"
LAMBDA_RUNTIME = "python3.13"
# Listing a bucket's month folders and registering partitions: seconds per dataset, minutes at
# most for a stack with every month of every dataset.
ADOPT_TIMEOUT_SECONDS = 900


@dataclass
class AnalyticsArgs:
    prefix: str
    protect: bool
    processed_bucket: pulumi.Input[str]  # name
    kms_key_arn: pulumi.Input[str] | None
    athena_scan_limit_gb: int
    workgroup_name: pulumi.Input[str]  # Redshift Serverless
    workgroup_arn: pulumi.Input[str]
    database_name: pulumi.Input[str]
    admin_secret_arn: pulumi.Input[str]  # the namespace's, managed by Secrets Manager
    loader_role_names: Sequence[pulumi.Input[str]]  # IAM roles that load (tagged tlc_loader)
    log_retention_days: int


def reader_role_name(prefix: str) -> str:
    """The reader role's fixed name (README names it): `tlc-elt-<stack>-reader`."""
    return f"{prefix}-reader"


class Analytics(pulumi.ComponentResource):
    database: aws.glue.CatalogDatabase
    tables: dict[str, aws.glue.CatalogTable]
    athena_workgroup: aws.athena.Workgroup
    reader_role: aws.iam.Role
    reader_policy: aws.iam.RolePolicy
    reader_query_editor: aws.iam.RolePolicyAttachment
    access_procedure: aws.redshiftdata.Statement
    access_grants: aws.redshiftdata.Statement
    adopt_function: aws.lambda_.Function
    adopt_role: aws.iam.Role
    adopt_invocation: aws.lambda_.Invocation

    def __init__(
        self, name: str, args: AnalyticsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name, self._args = name, args
        self._account = current_account(self)
        self._catalog()
        self._adopt()
        self._athena()
        self._reader()
        self._warehouse_access()
        self.register_outputs(
            {
                "glueDatabaseName": self.database.name,
                "athenaWorkgroupName": self.athena_workgroup.name,
                "readerRoleArn": self.reader_role.arn,
            }
        )

    def _child(self, *depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=list(depends_on) or None)

    def _catalog(self) -> None:
        args = self._args
        self.database = aws.glue.CatalogDatabase(
            f"{self._name}-database",
            name=catalog.database_name(args.prefix),
            description=f"{args.prefix}: the lake's processed and quarantined trips",
            opts=self._child(),
        )
        bucket = pulumi.Output.from_input(args.processed_bucket)
        self.tables = {}
        # Names, columns and keys do not depend on the bucket; locations do.
        for index, shape in enumerate(catalog.catalog_tables("bucket")):
            spec = bucket.apply(lambda name, index=index: catalog.catalog_tables(name)[index])
            self.tables[shape.name] = aws.glue.CatalogTable(
                f"{self._name}-{shape.name}",
                name=shape.name,
                database_name=self.database.name,
                description=shape.description,
                table_type="EXTERNAL_TABLE",
                parameters=spec.apply(lambda table: dict(table.parameters)),
                partition_keys=[
                    aws.glue.CatalogTablePartitionKeyArgs(name=key, type=kind)
                    for key, kind in shape.partition_keys
                ],
                storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                    location=spec.apply(lambda table: table.location),
                    input_format=shape.input_format,
                    output_format=shape.output_format,
                    ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                        serialization_library=shape.serialization_library,
                        parameters=dict(shape.serde_parameters) or None,
                    ),
                    columns=[
                        aws.glue.CatalogTableStorageDescriptorColumnArgs(name=column, type=kind)
                        for column, kind in shape.columns
                    ],
                ),
                opts=self._child(),
            )

    def _adopt(self) -> None:
        """The adopt Lambda, and its invocation once the tables are there (and again whenever
        its code or a table is replaced: a replaced table has no partitions)."""
        args, name = self._args, f"{self._args.prefix}-adopt"
        logs = aws.cloudwatch.LogGroup(
            f"{self._name}-adopt-logs", name=f"/aws/lambda/{name}",
            retention_in_days=args.log_retention_days, opts=self._child(),
        )  # fmt: skip
        self.adopt_role = aws.iam.Role(
            f"{self._name}-adopt-role",
            assume_role_policy=json.dumps(iam.trust_policy(["lambda.amazonaws.com"])),
            opts=self._child(),
        )
        resolved = pulumi.Output.all(
            self._account, args.processed_bucket, args.kms_key_arn, self.database.name, logs.arn
        )
        policy = aws.iam.RolePolicy(
            f"{self._name}-adopt-policy",
            role=self.adopt_role.id,
            policy=resolved.apply(lambda values: _adopt_policy(*values)),
            opts=pulumi.ResourceOptions(parent=self.adopt_role),
        )
        files = artifacts.adopt_files()
        self.adopt_function = aws.lambda_.Function(
            f"{self._name}-adopt",
            name=name,
            description="Registers the Glue partitions of published months that have none",
            runtime=LAMBDA_RUNTIME,
            architectures=["arm64"],
            handler=artifacts.ADOPT_HANDLER,
            code=pulumi.AssetArchive(
                {path: pulumi.StringAsset(data.decode()) for path, data in files.items()}
            ),
            role=self.adopt_role.arn,
            timeout=ADOPT_TIMEOUT_SECONDS,
            memory_size=256,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    PROCESSED_BUCKET_ENV: args.processed_bucket,
                    GLUE_DATABASE_ENV: self.database.name,
                }
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=logs.name
            ),
            opts=self._child(policy),
        )
        tables = list(self.tables.values())
        # Invoked (RequestResponse) when created or when a trigger changes; a function error
        # fails the deployment. https://www.pulumi.com/registry/packages/aws/api-docs/lambda/invocation/
        self.adopt_invocation = aws.lambda_.Invocation(
            f"{self._name}-adopt-invocation",
            function_name=self.adopt_function.name,
            input=json.dumps({}),
            triggers={
                "code": artifacts.content_hash(files),
                "tables": pulumi.Output.all(*(table.id for table in tables)).apply(
                    lambda ids: _digest(json.dumps(sorted(ids)))
                ),
            },
            opts=self._child(self.adopt_function, *tables),
        )

    def _athena(self) -> None:
        args = self._args
        settings = pulumi.Output.all(args.processed_bucket, args.kms_key_arn).apply(
            lambda values: catalog.athena_settings(values[0], values[1], args.athena_scan_limit_gb)
        )
        encryption = (
            aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                encryption_option=settings.apply(lambda s: s.encryption_option),
                kms_key_arn=args.kms_key_arn,
            )
        )
        self.athena_workgroup = aws.athena.Workgroup(
            f"{self._name}-athena",
            name=args.prefix,
            description=f"{args.prefix}: queries over the lake's catalog tables",
            # Dev may be destroyed with its saved queries; prod keeps them.
            force_destroy=not args.protect,
            configuration=aws.athena.WorkgroupConfigurationArgs(
                enforce_workgroup_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=settings.apply(
                    lambda s: s.bytes_scanned_cutoff_per_query
                ),
                result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                    output_location=settings.apply(lambda s: s.output_location),
                    encryption_configuration=encryption,
                ),
            ),
            opts=self._child(),
        )

    def _reader(self) -> None:
        args = self._args
        self.reader_role = aws.iam.Role(
            f"{self._name}-reader-role",
            name=reader_role_name(args.prefix),
            description=f"{args.prefix}: read the lake (Athena) and the warehouse (tlc_reader)",
            assume_role_policy=self._account.apply(
                lambda account: json.dumps(iam.account_trust_policy(account))
            ),
            # GetCredentials grants this database role when the role signs in to Redshift.
            tags={DB_ROLES_TAG: READER_ROLE},
            opts=self._child(),
        )
        resolved = pulumi.Output.all(
            self._account, args.processed_bucket, self.athena_workgroup.name,
            self.database.name, args.workgroup_arn, args.kms_key_arn,
        )  # fmt: skip
        self.reader_policy = aws.iam.RolePolicy(
            f"{self._name}-reader-policy",
            role=self.reader_role.id,
            policy=resolved.apply(lambda values: _reader_policy(*values)),
            opts=pulumi.ResourceOptions(parent=self.reader_role),
        )
        # Query Editor v2 (the README's way to query the warehouse by hand) as the reader.
        self.reader_query_editor = aws.iam.RolePolicyAttachment(
            f"{self._name}-reader-query-editor",
            role=self.reader_role.name,
            policy_arn=self._account.apply(
                lambda account: f"arn:{account.partition}:iam::aws:policy/{iam.QUERY_EDITOR_POLICY}"
            ),
            opts=pulumi.ResourceOptions(parent=self.reader_role),
        )

    def _warehouse_access(self) -> None:
        args = self._args
        procedure = pulumi.Output.all(self.reader_role.name, *args.loader_role_names).apply(
            lambda names: access_procedure_sql(DATASETS.values(), names[1:], names[:1])
        )
        common = dict(
            workgroup_name=args.workgroup_name,
            database=args.database_name,
            secret_arn=args.admin_secret_arn,
        )
        self.access_procedure = aws.redshiftdata.Statement(
            f"{self._name}-access-procedure",
            sql=procedure,
            statement_name=procedure.apply(lambda sql: f"tlc-elt-access-setup-{_digest(sql)}"),
            opts=self._child(),
            **common,
        )
        # Named after the procedure's text: a new procedure replaces this one, so it runs again.
        self.access_grants = aws.redshiftdata.Statement(
            f"{self._name}-access-grants",
            sql=CALL_ACCESS_PROCEDURE,
            statement_name=procedure.apply(lambda sql: f"tlc-elt-access-call-{_digest(sql)}"),
            opts=self._child(self.access_procedure),
            **common,
        )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _adopt_policy(
    account: iam.Account,
    bucket: str,
    kms_key_arn: str | None,
    database: str,
    log_group_arn: str,
) -> str:
    buckets = iam.Buckets(raw="", processed=bucket, scripts="", partition=account.partition,
                          kms_key_arn=kms_key_arn)  # fmt: skip
    return json.dumps(iam.adopt_function_policy(buckets, database, log_group_arn, account))


def _reader_policy(
    account: iam.Account,
    bucket: str,
    athena_workgroup: str,
    database: str,
    workgroup_arn: str,
    kms_key_arn: str | None,
) -> str:
    access = iam.ReaderAccess(bucket, athena_workgroup, database, workgroup_arn, kms_key_arn)
    return json.dumps(iam.reader_policy(access, account))
