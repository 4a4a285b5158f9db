"""The dbt project on Apache Spark: `make test-spark` (spark/compare.py) builds it on a local Spark
session and compares every table with DuckDB's. Needs the `spark` extra (pyspark, dbt-spark)."""
