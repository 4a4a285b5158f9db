"""The serving contract (serving/contract): every table and column it lists is described
and typed, what it says of the published tables matches how they are built, a misspelt key is an
error, and the Parquet files carry the descriptions. (That the serving file of a refresh says the
same as the contract is tests/e2e/test_dictionary.py's.)"""

import json

import duckdb
import pytest

from forecast.store import TABLE_DESCRIPTIONS, forecast_tables
from serving import contract as serving_contract
from serving.publish import SUPPRESSED_TABLES, UNSUPPRESSED_TABLES, ServingOptions, publish

TOTAL_NOTE = "'total' on the rows that add up over it."
SUPPRESSED_NOTE = "Null when suppressed."


@pytest.mark.parametrize("schema", serving_contract.SCHEMAS)
def test_every_table_and_column_is_described_and_typed(schema):
    tables = serving_contract.tables(schema)
    assert tables
    for name, table in tables.items():
        assert table.description, f"{schema}.{name}"
        for column in table.columns:
            assert column.description and column.data_type, f"{schema}.{name}.{column.name}"
            assert "\n" not in column.description and "  " not in column.description


def test_the_forecast_tables_are_the_contracts_in_its_order():
    class AnyForecast:
        def __getattr__(self, name):
            return name

    assert list(forecast_tables(AnyForecast(), None)) == list(serving_contract.tables("forecast"))
    assert list(TABLE_DESCRIPTIONS) == list(serving_contract.tables("forecast"))
    caseload = serving_contract.table("forecast", "caseload")
    # shared descriptions, and a quantile's is its measure's followed by the quantile's
    assert caseload.describe("plans_p90") == (
        "EHC plans on the January census. 90th percentile of the simulated paths."
    )
    assert caseload.describe("no_such_column") is None


def test_published_tables_say_what_publishing_did_to_their_columns():
    published = serving_contract.tables("published")
    assert set(published) == {spec.name for spec in SUPPRESSED_TABLES} | set(UNSUPPRESSED_TABLES)
    for spec in SUPPRESSED_TABLES:
        table = published[spec.name]
        assert table.source == spec.requires
        per_year = [spec.per_year] if spec.per_year else []
        built = [
            "la_code",
            *spec.dims,
            spec.count,
            *spec.hidden_with_count,
            *per_year,
            "suppressed",
        ]
        assert [c.name for c in table.columns] == built
        totalled = {d for d in spec.dims if any(d not in line for line in spec.lines)}
        for dim in spec.dims:
            assert table.describe(dim).endswith(TOTAL_NOTE) == (dim in totalled), (spec.name, dim)
        for measure in (spec.count, *spec.hidden_with_count):
            assert table.describe(measure).endswith(SUPPRESSED_NOTE), (spec.name, measure)
    for name, (schema, source) in UNSUPPRESSED_TABLES.items():
        assert published[name].source == f"{schema}.{source}"
        # taken from the served table as they are
        for column in published[name].columns:
            assert column.description == serving_contract.describe(schema, source, column.name)


def test_a_misspelt_key_or_a_missing_table_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "meta.yml").write_text(
        "version: 2\nschema: meta\ntables:\n  - name: publication\n    descripton: typo\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(serving_contract, "CONTRACT_DIR", tmp_path)
    serving_contract._contract.cache_clear()
    try:
        with pytest.raises(serving_contract.ContractError, match="descripton"):
            serving_contract.tables("meta")
    finally:
        monkeypatch.undo()
        serving_contract._contract.cache_clear()
    with pytest.raises(KeyError, match="published.no_such_table"):
        serving_contract.table("published", "no_such_table")


def test_parquet_files_carry_the_descriptions_in_their_metadata(tmp_path):
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "CREATE SCHEMA marts; CREATE SCHEMA forecast; CREATE SCHEMA meta;"
            "CREATE TABLE forecast.hnb_position AS SELECT 'unmitigated' AS scenario, "
            "'2028-29' AS financial_year, -1.5e6 AS cumulative_balance_gbp_central, "
            "1 AS unlisted;"
            "COMMENT ON TABLE forecast.hnb_position IS 'Forecast position; it''s quoted.'"
        )
        publication = publish(
            con,
            serving,
            run_id="run-1",
            code_version="abc",
            options=ServingOptions(parquet_dir=tmp_path / "parquet"),
        )
    with duckdb.connect() as con:

        def metadata(relative):
            rows = con.execute(
                "SELECT key, value FROM parquet_kv_metadata(?)",
                [str(publication.parquet / relative)],
            ).fetchall()
            return {k.decode(): v.decode() for k, v in rows}

        forecast = metadata("forecast/hnb_position.parquet")
        assert forecast["table"] == "forecast.hnb_position"
        assert forecast["description"] == "Forecast position; it's quoted."
        # the warehouse described no column of it
        assert json.loads(forecast["column_descriptions"]) == {}
        published = metadata("published/forecast_hnb_position.parquet")
        described = serving_contract.table("published", "forecast_hnb_position")
        assert published["description"] == described.description
        columns = ("scenario", "financial_year", "cumulative_balance_gbp_central")
        expected = {c: described.describe(c) for c in columns}
        assert json.loads(published["column_descriptions"]) == expected
        publication_meta = metadata("meta/publication.parquet")
        assert json.loads(publication_meta["column_descriptions"]) == (
            serving_contract.table("meta", "publication").descriptions()
        )
