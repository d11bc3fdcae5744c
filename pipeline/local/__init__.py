"""The local runtime: the step runner over a lake folder and DuckDB, local Spark and its Java."""
