"""Loading the same files again changes nothing; an overlapping export supersedes by key."""

import csv

import duckdb

from dagster_project.cli import main
from synthetic.council import generate

MARTS = (
    "fct_provision_spend",
    "fct_hnb_position",
    "fct_ehcp_cohort",
    "fct_ehcp_flows",
    "fct_provision_starts",
)


def marts(warehouse) -> dict[str, list]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {m: con.execute(f"SELECT * FROM marts.{m} ORDER BY ALL").fetchall() for m in MARTS}


def raw_rows(warehouse) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT count(*) FROM raw.finance").fetchone()[0]


def test_reloading_and_overlapping_exports_count_each_transaction_once(pipeline_env, capsys):
    landing, warehouse = pipeline_env / "landing", pipeline_env / "warehouse.duckdb"
    generate(landing, children=250, first_year=2021, last_year=2025, seed=5)
    assert main(["refresh"]) == 0, capsys.readouterr().out
    first, first_raw = marts(warehouse), raw_rows(warehouse)

    assert main(["refresh"]) == 0  # the same files again
    printed = capsys.readouterr().out
    assert "finance" in printed
    assert "The ledger's models were built incremental: 0 new finance file(s)" in printed
    assert marts(warehouse) == first and raw_rows(warehouse) == first_raw

    # a re-export of the last two months of the ledger, dropped in beside the yearly file
    source = landing / "finance" / "finance_2025-26.csv"
    with source.open(newline="") as handle:
        reader = csv.DictReader(handle)
        overlap = [row for row in reader if row["posting_date"] >= "2026-02-01"]
        fields = reader.fieldnames
    with (landing / "finance" / "ledger_reexport_feb_mar_2026.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(overlap)
    assert main(["refresh"]) == 0
    # the nightly case: only the new file's rows were built, and the marts are as before
    assert "built incremental: 1 new finance file(s)" in capsys.readouterr().out
    assert marts(warehouse) == first
    with duckdb.connect(str(warehouse), read_only=True) as con:
        superseded = con.execute(
            "SELECT sum(rows) FROM marts.fct_data_quality WHERE measure = 'rows_superseded'"
        ).fetchone()[0]
        assert superseded == len(overlap) > 0
        # the superseded versions stay queryable for audit
        assert con.execute("SELECT count(*) FROM raw.finance").fetchone()[0] == first_raw + len(
            overlap
        )

    # a correction: the re-export changes one amount; the later file wins
    high_needs = next(row for row in overlap if row["s251_line"].startswith("1.2."))
    corrected = high_needs | {"amount": f"{float(high_needs['amount']) + 100:.2f}"}
    with (landing / "finance" / "ledger_correction.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerow(corrected)
    assert main(["refresh"]) == 0, capsys.readouterr().out
    # its uniqueness tests counted only the new file's ids: every id was checked a moment ago
    printed = " ".join(capsys.readouterr().out.split())  # (the console wraps long lines)
    assert "the increment's ids checked over the whole ledger" in printed

    def total(rows):  # (la_code, financial_year, provision_type, spend_gbp, …)
        return sum(r[3] for r in rows)

    assert (
        float(total(marts(warehouse)["fct_provision_spend"]) - total(first["fct_provision_spend"]))
        == 100.0
    )

    # on demand: the ledger rebuilt whole and every id checked; the marts are the increments'
    after_increments = marts(warehouse)
    assert main(["refresh", "--whole"]) == 0
    # (it said "no earlier build is recorded" of a warehouse with two builds on record)
    assert "built whole: asked for (refresh --whole)" in " ".join(capsys.readouterr().out.split())
    assert marts(warehouse) == after_increments
