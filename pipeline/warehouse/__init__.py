"""The warehouse: the protocol and SQL both engines share (`base`), one module per engine.

`duckdb` (local runs) and `redshift` (the Data API, in AWS) give the same load semantics.
"""
