"""Implausibly early dates (typing slips such as 1900) are quarantined, not loaded.

Postings, placements and plans dated before the date floor (default 1 January 1990,
HIGHNEEDS_DATE_FLOOR) wait in quarantine with reason `date_before_floor`, naming the column and
the value: a posting of 1900 would otherwise make a financial year 1900-01 in the marts.
Dates of birth keep their own age rules and are not held to the floor.
"""

import datetime as dt
from pathlib import Path

import duckdb

from ingest.contracts import DEFAULT_DATE_FLOOR, EHCP, FINANCE, PLACEMENTS
from ingest.load import load_extract

KEY = "fault-test-pseudonym-key-of-32-bytes-or-more"
EXTRACT_DATE = dt.date(2026, 3, 31)


def load(tmp_path: Path, extract, text: str, **options):
    folder = tmp_path / "landing" / extract.name
    folder.mkdir(parents=True)
    (folder / f"{extract.name}.csv").write_text(text)
    con = duckdb.connect()
    load_extract(con, extract, tmp_path / "landing", "L1", KEY, EXTRACT_DATE, **options)
    return con


def floor_problems(con, extract_name: str) -> dict[int, list[tuple[str, str]]]:
    """Row → [(column, value)] of its date_before_floor problems."""
    rows = con.execute(
        "SELECT _source_row, reason_codes, reason_columns, reason_values "
        f"FROM quarantine.{extract_name}"
    ).fetchall()
    return {
        row: [
            (c, v)
            for code, c, v in zip(codes, columns, values, strict=False)
            if code == "date_before_floor"
        ]
        for row, codes, columns, values in rows
    }


def test_the_default_floor_is_1_january_1990():
    assert dt.date(1990, 1, 1) == DEFAULT_DATE_FLOOR


def test_postings_before_the_floor_are_quarantined(tmp_path):
    con = load(
        tmp_path,
        FINANCE,
        "transaction_id,posting_date,amount,s251_line\n"
        "T1,1900-05-01,100.00,1.2.3\n"
        "T2,01/01/1990,50.00,1.2.3\n"  # on the floor: plausible
        "T3,31/12/1989,25.00,1.2.3\n",
    )
    assert floor_problems(con, "finance") == {
        2: [("posting_date", "1900-05-01")],
        4: [("posting_date", "31/12/1989")],
    }
    assert con.execute("SELECT transaction_id FROM raw.finance").fetchall() == [("T2",)]
    reason = con.execute("SELECT reason FROM quarantine.finance WHERE _source_row = 2").fetchone()[
        0
    ]
    assert reason == "posting_date: date before floor ('1900-05-01')"


def test_placements_before_the_floor_are_quarantined(tmp_path):
    con = load(
        tmp_path,
        PLACEMENTS,
        "placement_id,child_id,sen_setting,start_date,end_date\n"
        "PL1,C1,OLA,1900-01-01,\n"
        "PL2,C1,OLA,1900-01-01,1900-07-31\n"
        "PL3,C1,OLA,2020-09-01,\n",
    )
    assert floor_problems(con, "placements") == {
        2: [("start_date", "1900-01-01")],
        3: [("start_date", "1900-01-01"), ("end_date", "1900-07-31")],
    }
    assert con.execute("SELECT placement_id FROM raw.placements").fetchall() == [("PL3",)]


def test_plan_dates_before_the_floor_are_quarantined_but_not_dates_of_birth(tmp_path):
    con = load(
        tmp_path,
        EHCP,
        "child_id,plan_id,date_of_birth,primary_need,request_date,plan_start_date,plan_cease_date,"
        "cease_reason\n"
        "C1,P1,1989-12-31,ASD,1900-01-01,1900-03-01,1900-06-01,9\n"
        "C2,P2,1989-12-31,ASD,2009-11-01,2010-03-01,,\n",  # born before the floor: a plausible plan
    )
    assert floor_problems(con, "ehcp") == {
        2: [
            ("request_date", "1900-01-01"),
            ("plan_start_date", "1900-03-01"),
            ("plan_cease_date", "1900-06-01"),
        ],
    }
    assert con.execute("SELECT plan_id, date_of_birth FROM raw.ehcp").fetchall() == [
        ("P2", dt.date(1989, 12, 31)),
    ]


def test_the_floor_is_a_setting(tmp_path):
    con = load(
        tmp_path,
        FINANCE,
        "transaction_id,posting_date,amount,s251_line\n"
        "T1,1995-05-01,100.00,1.2.3\n"
        "T2,2005-05-01,1.00,1.2.3\n",
        date_floor=dt.date(2000, 1, 1),
    )
    assert floor_problems(con, "finance") == {2: [("posting_date", "1995-05-01")]}
