"""Serving: what BI and readers outside the warehouse get, after every gate passed.

`publish` builds the serving file (a DuckDB file swapped in atomically) and, when asked, its
Parquet copy (`parquet`); `suppression` hides small counts in the tables shared outside the
council; `contract` holds every served table's and column's description as data (YAML), and
`dictionary` writes the serving file's data dictionary from it. Plain library: no Dagster import.
"""
