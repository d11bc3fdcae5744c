"""The job code Glue runs (ingest, transform, load) and the step context it takes.

Imports only `pipeline.contract` (and pyarrow, pyspark where a step needs them); the lake and the
warehouse arrive in the `StepContext`. Python 3.9 (Glue Python Shell). Never imports `awsglue`.
"""
