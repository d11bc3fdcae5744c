"""DataLake: the raw, processed and scripts buckets, locked down the same way.

Every bucket: default encryption (SSE-S3, or the configured KMS key with S3 Bucket Keys), public
access fully blocked, ACLs disabled (BucketOwnerEnforced), a policy refusing non-TLS requests,
and a lifecycle rule aborting incomplete multipart uploads (ingest and Spark both upload in
parts); processed also expires Athena's query results under their own prefix. Raw is
versioned, so a re-ingest that replaces a file keeps the previous one for a while; its
transition/expiry come from the stack settings. With `protect` (prod) the buckets
are protected and retained if the stack is destroyed; without it (dev) `destroy` empties them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.catalog import ATHENA_RESULTS_DAYS
from pipeline.contract.layout import ATHENA_RESULTS_PREFIX, taxi_zones_key
from pipeline.contract.zones import ZONE_LOOKUP

TYPE = "tlc-elt:storage:DataLake"
ABORT_INCOMPLETE_UPLOADS_DAYS = 7
RAW_TRANSITION_STORAGE_CLASS = "STANDARD_IA"


@dataclass
class DataLakeArgs:
    prefix: str  # physical names start with it: tlc-elt-<stack>
    protect: bool
    kms_key_arn: pulumi.Input[str] | None
    raw_transition_days: int | None
    raw_expiration_days: int | None
    raw_noncurrent_version_days: int


class DataLake(pulumi.ComponentResource):
    raw_bucket: aws.s3.Bucket
    processed_bucket: aws.s3.Bucket
    scripts_bucket: aws.s3.Bucket
    zone_lookup: aws.s3.BucketObjectv2

    def __init__(
        self, name: str, args: DataLakeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name, self._args = name, args
        self.raw_bucket = self._bucket("raw", _raw_rules(args))
        self._versioning(self.raw_bucket, "raw")
        self.processed_bucket = self._bucket("processed", [_athena_results_rule()])
        self.scripts_bucket = self._bucket("scripts", [])
        # TLC's zone lookup, where every load reads taxi_zones from (no load fetches it).
        self.zone_lookup = aws.s3.BucketObjectv2(
            f"{name}-zone-lookup",
            bucket=self.processed_bucket.bucket,
            key=taxi_zones_key(),
            content=ZONE_LOOKUP.read_text(),
            content_type="text/csv",
            opts=pulumi.ResourceOptions(parent=self.processed_bucket),
        )
        self.register_outputs(
            {
                "rawBucket": self.raw_bucket.bucket,
                "processedBucket": self.processed_bucket.bucket,
                "scriptsBucket": self.scripts_bucket.bucket,
                "zoneLookupKey": self.zone_lookup.key,
            }
        )

    def _bucket(
        self, zone: str, rules: list[aws.s3.BucketLifecycleConfigurationRuleArgs]
    ) -> aws.s3.Bucket:
        name, args = f"{self._name}-{zone}", self._args
        bucket = aws.s3.Bucket(
            name,
            bucket_prefix=f"{args.prefix}-{zone}-",
            force_destroy=not args.protect,
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect, retain_on_delete=args.protect
            ),
        )
        child = pulumi.ResourceOptions(parent=bucket)
        blocked = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket.id, rules=[self._encryption()], opts=child
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(iam.tls_only_bucket_policy(arn))),
            # S3 refuses a policy write while the public access block is still being applied.
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[blocked]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=bucket.id, rules=[_abort_uploads_rule(), *rules], opts=child
        )
        return bucket

    def _encryption(self) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
        key = self._args.kms_key_arn
        default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
            sse_algorithm="aws:kms" if key else "AES256", kms_master_key_id=key
        )
        # Bucket Keys cut KMS requests (and cost) by caching a data key per bucket.
        return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=default, bucket_key_enabled=bool(key)
        )

    def _versioning(self, bucket: aws.s3.Bucket, zone: str) -> None:
        aws.s3.BucketVersioning(
            f"{self._name}-{zone}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=pulumi.ResourceOptions(parent=bucket),
        )


def _everything() -> aws.s3.BucketLifecycleConfigurationRuleFilterArgs:
    return aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="")


def _abort_uploads_rule() -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="abort-incomplete-multipart-uploads",
        status="Enabled",
        filter=_everything(),
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=ABORT_INCOMPLETE_UPLOADS_DAYS
        ),
    )


def _athena_results_rule() -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """Athena's query results (their own prefix of the processed bucket) are kept a while."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="athena-results-expiry",
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=ATHENA_RESULTS_PREFIX),
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=ATHENA_RESULTS_DAYS),
    )


def _raw_rules(args: DataLakeArgs) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """Raw files as TLC published them: cheaper storage, then expiry, as the stack says."""
    transitions = None
    if args.raw_transition_days is not None:
        transitions = [
            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                days=args.raw_transition_days, storage_class=RAW_TRANSITION_STORAGE_CLASS
            )
        ]
    expiration = None
    if args.raw_expiration_days is not None:
        expiration = aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
            days=args.raw_expiration_days
        )
    previous = aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
        noncurrent_days=args.raw_noncurrent_version_days
    )
    return [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="raw-retention",
            status="Enabled",
            filter=_everything(),
            transitions=transitions,
            expiration=expiration,
            noncurrent_version_expiration=previous,
        )
    ]
