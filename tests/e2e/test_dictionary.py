"""What a BI analyst reads: the README's data dictionary is the demo's serving file's, every table
and column is described — as the serving contract (serving/contract: the dbt YAML,
forecast.yml, published.yml, meta.yml) describes it, in the serving file's comments, its Parquet
files' metadata and the Dagster assets' column schemas alike — money arrives as numbers, and the
provision types have a lookup."""

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.defs.dbt import warehouse_models
from dagster_project.defs.forecast import forecast_tables_asset
from dagster_project.defs.publish import PUBLISH_KEY, build_publish_asset
from serving import contract as serving_contract
from serving.dictionary import (
    SCHEMAS,
    dictionary_markdown,
    read_dictionary,
    readme_block,
    undescribed,
)
from serving.publish import ServingOptions, publish
from tests.conftest import REPO_ROOT

one_line = serving_contract.one_line


@pytest.fixture(scope="module")
def serving(demo_run):
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    return demo_run.warehouse.with_name("serving.duckdb")


@pytest.fixture(scope="module")
def parquet(demo_run, serving, tmp_path_factory) -> Path:
    """The demo's warehouse published again, with Parquet (the demo writes none): the version's
    folder of <schema>/<table>.parquet."""
    folder = tmp_path_factory.mktemp("parquet")
    for name in (demo_run.warehouse.name, demo_run.warehouse.name + ".wal"):
        if (demo_run.warehouse.parent / name).exists():
            shutil.copy(demo_run.warehouse.parent / name, folder / name)
    with duckdb.connect(str(folder / demo_run.warehouse.name)) as con:
        options = ServingOptions(parquet_dir=folder / "parquet")
        publication = publish(
            con,
            folder / "serving.duckdb",
            run_id="dictionary-test",
            code_version="test",
            options=options,
        )
    return publication.parquet


def served(serving: Path) -> tuple[dict, dict]:
    """The serving file's descriptions, {(schema, table, column or None): text}, and its columns'
    types, {(schema, table): [(column, type)]}."""
    with duckdb.connect(str(serving), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables() "
            "WHERE database_name = current_database()"
        ).fetchall()
        columns = con.execute(
            "SELECT schema_name, table_name, column_name, lower(data_type), comment "
            "FROM duckdb_columns() WHERE database_name = current_database() "
            "ORDER BY schema_name, table_name, column_index"
        ).fetchall()
    descriptions = {(s, t, None): one_line(c) for s, t, c in tables if s in SCHEMAS}
    types: dict[tuple[str, str], list] = {}
    for s, t, column, data_type, comment in columns:
        if s in SCHEMAS:
            descriptions[s, t, column] = one_line(comment)
            types.setdefault((s, t), []).append((column, data_type))
    return descriptions, types


def contract_says(keys) -> dict:
    """What the serving contract says of each (schema, table, column or None)."""
    return {(s, t, c): serving_contract.describe(s, t, c) for s, t, c in keys}


def test_the_readme_dictionary_is_the_serving_files(serving):
    dictionary = read_dictionary(serving)
    assert undescribed(dictionary) == []
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_block(readme) == dictionary_markdown(dictionary), (
        "the README's data dictionary differs from the serving file: "
        "run `highneeds dictionary --readme README.md` on a fresh demo and review the diff"
    )


def test_every_served_table_and_column_is_in_the_contract_with_its_type(serving):
    descriptions, types = served(serving)
    assert {s for s, _t in types} == set(SCHEMAS)
    missing = [
        ".".join(filter(None, key)) for key, text in contract_says(descriptions).items() if not text
    ]
    assert missing == [], "served but not described in serving/contract (or the dbt YAML)"
    # the contract lists exactly the served columns, in order, and their types
    for schema in serving_contract.SCHEMAS:
        contract = serving_contract.tables(schema)
        assert sorted(contract) == sorted(t for s, t in types if s == schema), schema
        for name, table in contract.items():
            listed = [(c.name, c.data_type) for c in table.columns]
            assert listed == types[schema, name], f"{schema}.{name}"


def test_the_serving_file_its_parquet_and_dagster_say_what_the_contract_says(
    serving, parquet, demo_run, monkeypatch
):
    descriptions, types = served(serving)
    expected = contract_says(descriptions)
    assert descriptions == expected  # the serving file's comments

    # the Parquet files' key-value metadata
    in_parquet = {}
    with duckdb.connect() as con:
        for path in sorted(parquet.glob("*/*.parquet")):
            schema, table = path.parent.name, path.stem
            metadata = {
                k.decode(): v.decode()
                for k, v in con.execute(
                    "SELECT key, value FROM parquet_kv_metadata(?)", [str(path)]
                ).fetchall()
            }
            assert metadata["table"] == f"{schema}.{table}"
            in_parquet[schema, table, None] = metadata["description"]
            columns = json.loads(metadata["column_descriptions"])
            in_parquet |= {(schema, table, c): columns.get(c) for c, _type in types[schema, table]}
    assert in_parquet == expected

    # the Dagster assets' column schemas: as defined (the marts' from dbt, the forecast's, and the
    # published and meta tables' on serving/publish) ...
    defined = {}
    specs = [*warehouse_models.specs_by_key.items(), *forecast_tables_asset.specs_by_key.items()]
    for key, spec in specs:
        if key.path[0] in SCHEMAS:
            defined |= {
                (key.path[0], key.path[-1], c.name): one_line(c.description)
                for c in spec.metadata["dagster/column_schema"].columns
            }
    for name, value in build_publish_asset([], [], []).specs_by_key[PUBLISH_KEY].metadata.items():
        schema, table = name.split(".")
        defined |= {(schema, table, c.name): one_line(c.description) for c in value.schema.columns}
    columns = {key: text for key, text in expected.items() if key[2] is not None}
    assert defined == columns
    # ... and as the demo's refresh materialised the forecast's
    monkeypatch.setenv("DAGSTER_HOME", demo_run.environment["DAGSTER_HOME"])
    materialised = {}
    with dg.DagsterInstance.get() as instance:
        for key in forecast_tables_asset.keys:
            event = instance.get_latest_materialization_event(key)
            schema = event.asset_materialization.metadata["dagster/column_schema"].value
            materialised |= {
                ("forecast", key.path[-1], c.name): c.description for c in schema.columns
            }
    assert materialised == {key: text for key, text in columns.items() if key[0] == "forecast"}


def test_money_reaches_bi_as_numbers_and_provision_codes_are_spelled_out(serving):
    with duckdb.connect(str(serving), read_only=True) as con:
        types = con.execute(
            "SELECT DISTINCT data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() "
            "AND schema_name IN ('marts', 'forecast', 'published', 'meta')"
        ).fetchall()
        assert not [t for (t,) in types if t.startswith(("DECIMAL", "HUGEINT"))]
        spend = con.execute("SELECT spend_gbp FROM marts.fct_provision_spend").df()["spend_gbp"]
        assert spend.dtype == "float64" and (spend.round(2) == spend).all()
        lookup = con.execute(
            "SELECT provision_type, label, dfe_placement_category, description "
            "FROM meta.provision_types"
        ).fetchall()
        used = {
            p
            for (p,) in con.execute(
                "SELECT DISTINCT provision_type FROM marts.fct_provision_spend"
            ).fetchall()
        }
    assert used <= {code for code, *_ in lookup} and all(all(row) for row in lookup)
    assert (
        "post16_spi",
        "Specialist post-16",
        "Post 16",
        "Specialist post-16 institution",
    ) in lookup
