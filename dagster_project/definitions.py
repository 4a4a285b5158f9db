"""All Dagster definitions of highneeds: `dagster dev -w workspace.yaml` (and `dagster ... -m
dagster_project.definitions`) load `defs` from here, built from the settings as they are when
the code location loads, read once (dagster_project.assembly)."""

from .assembly import build_definitions, publish_serving

__all__ = ["build_definitions", "defs", "publish_serving"]

defs = build_definitions()
