"""How dbt nodes appear in Dagster: asset keys by schema, groups by folder, owners in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

TEAM_PREFIX = "team:"


class HighneedsTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(
            DagsterDbtTranslatorSettings(
                # raw.<extract> and raw.<extract>_files are one ingest asset
                enable_duplicate_source_asset_keys=True,
                enable_code_references=True,
            )
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else None  # models/<staging|intermediate|marts>/...

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str] | None:
        owner = (dbt_resource_props.get("config", {}).get("meta") or {}).get("owner")
        return [owner if owner.startswith(TEAM_PREFIX) else TEAM_PREFIX + owner] if owner else None
