"""Checks on the warehouse: the blocking gates (`gates`: facts computed in SQL, validated with
Great Expectations) and the row-level trace from a mart figure back to its landing rows
(`trace`). Plain library: no Dagster import.
"""
