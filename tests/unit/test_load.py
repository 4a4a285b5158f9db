"""The ingest contract: every row loaded, counted as an exact duplicate,
or quarantined with its reasons."""

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from ingest.contracts import EHCP, FINANCE, PLACEMENTS
from ingest.load import landing_files, load_extract
from ingest.pseudonymise import keyed_hash

KEY = "unit-test-key"
EXTRACT_DATE = dt.date(2026, 3, 31)
EHCP_HEADER = (
    "child_id,plan_id,date_of_birth,sex,primary_need,plan_start_date,plan_cease_date,cease_reason,"
    "forename,surname,upn,postcode,notes"
)


def write(landing: Path, extract: str, name: str, text: str) -> Path:
    folder = landing / extract
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def load(con, extract, landing, load_id="L1"):
    return load_extract(con, extract, landing, load_id, KEY, EXTRACT_DATE)


@pytest.fixture
def con():
    return duckdb.connect()


def reasons(con, extract):
    return dict(
        con.execute(f"SELECT _source_row, reason_codes FROM quarantine.{extract}").fetchall()
    )


def test_personal_data_in_an_extra_column_is_never_stored_whatever_it_is_called(tmp_path, con):
    """A ledger carrying a child's UPN under the alias file's own name for it (`Unique Pupil
    Number`, an alias of ehcp's `upn`) and a street: neither is stored, as the contract's own
    personal columns are not; other extra columns are kept."""
    write(
        tmp_path,
        "finance",
        "ledger.csv",
        "transaction_id,posting_date,amount,s251_line,Unique Pupil Number,Street,Child Ref,"
        "supplier_code,Top-up Number,Funded Pupil Numbers,"
        # headers a case-management export gives its personal columns
        "Postal Code,Tel No,Unique Learner No,NHSNo,Known As,Addr Line 1,Town,D.O.B.,"
        "Young Person,Service User,Date of Death\n"
        "T1,2024-05-01,100.00,1.2.3,A123456789012,12 High Street,C9,S77,TU5,12,"
        "ZQ1 1AA,07700900123,ULN4455,NHS9988,Ziggy,1 Lane,Zedtown,2011-02-03,"
        "Zara Young,Zac User,2025-01-01\n",
    )
    result = load(con, FINANCE, tmp_path)
    assert [(f.status, f.rows_valid) for f in result.files] == [("loaded", 1)]
    stored = str(con.execute("SELECT * FROM raw.finance").fetchall())
    assert "A123456789012" not in stored and "High Street" not in stored and "'C9'" not in stored
    for value in (
        "ZQ1 1AA",
        "0770090",
        "ULN4455",
        "NHS9988",
        "Ziggy",
        "1 Lane",
        "Zedtown",
        "2011-02-03",
        "Zara",
        "Zac",
        "2025-01-01",
    ):
        assert value not in stored, value
    # and headers that only look personal are kept: a top-up's number holds 'upn', a place
    # funding's pupil numbers are a headcount
    assert con.execute("SELECT _extra_columns FROM raw.finance").fetchone()[0] == {
        "supplier_code": "S77",
        "Top-up Number": "TU5",
        "Funded Pupil Numbers": "12",
    }


def test_valid_rows_load_typed_with_provenance_and_personal_data_dropped(tmp_path, con):
    write(
        tmp_path,
        "ehcp",
        "plans.csv",
        EHCP_HEADER + "\nC1,P1,01/09/2010,m,asd,2019-03-01,,,Ann,Smith,A123,RG1 1AA,extra\n",
    )
    result = load(con, EHCP, tmp_path)
    assert [(f.status, f.rows_read, f.rows_valid) for f in result.files] == [("loaded", 1, 1)]
    row = con.execute(
        "SELECT child_id, date_of_birth, sex, primary_need, _source_file, _source_row, _load_id "
        "FROM raw.ehcp"
    ).fetchone()
    assert row == (
        keyed_hash("C1", KEY),
        dt.date(2010, 9, 1),
        "M",
        "ASD",
        "ehcp/plans.csv",
        2,
        "L1",
    )
    raw_columns = {r[0] for r in con.execute("DESCRIBE raw.ehcp").fetchall()}
    assert not raw_columns & {"forename", "surname", "upn", "postcode"}
    assert con.execute("SELECT _extra_columns['notes'] FROM raw.ehcp").fetchone()[0] == "extra"
    assert con.execute("SELECT typeof(date_of_birth) FROM raw.ehcp").fetchone()[0] == "DATE"
    stored = str(con.execute("SELECT * FROM raw.ehcp").fetchall())
    assert (
        "Ann" not in stored
        and "A123" not in stored
        and "RG1 1AA" not in stored
        and "'C1'" not in stored
    )


def test_every_problem_of_a_row_is_recorded(tmp_path, con):
    write(
        tmp_path,
        "ehcp",
        "plans.csv",
        EHCP_HEADER + "\n"
        # missing id, bad date, bad codes, cease<start
        ",P1,31/02/2010,X,AUTISM,2019-03-01,2018-01-01,12,,,,,\n"
        "C2,P2,1980-01-01,F,MLD,2019-03-01,,,,,,,\n"  # over 25 at plan start
        "C3,P3,2010-01-01,F,MLD,2027-03-01,,,,,,,\n",  # after the extract date
    )
    load(con, EHCP, tmp_path)
    found = reasons(con, "ehcp")
    assert set(found[2]) == {
        "missing_required_value",
        "bad_date",
        "unknown_code",
        "plan_cease_date_before_plan_start_date",
    }
    # sex, primary_need, cease_reason
    assert [c for c in found[2] if c == "unknown_code"] == ["unknown_code"] * 3
    assert found[3] == ["over_25_at_plan_start"]
    assert found[4] == ["date_after_extract"]
    text = con.execute("SELECT reason FROM quarantine.ehcp WHERE _source_row = 2").fetchone()[0]
    assert "date_of_birth: bad date ('31/02/2010')" in text


def test_a_descriptive_value_that_cannot_be_read_is_set_aside_and_its_row_kept(tmp_path, con):
    """`residential=Y` (a system's yes/no flag where SEN2 gives A or B) quarantined the whole
    placement: 45 of them left every census and independent special's places, whose payments,
    kept, lifted its unit cost 15 %, green. A lenient column's unreadable value is set aside with
    its file, row and text, and the row loaded without it; a required or date column's still
    quarantines the row."""
    write(
        tmp_path,
        "ehcp",
        "plans.csv",
        EHCP_HEADER + "\n"
        "C1,P1,2010-09-01,X,ASD,2019-03-01,,10,,,,,\n"  # sex and cease reason unreadable
        "C2,P2,2010-09-01,F,AUTISM,2019-03-01,,,,,,,\n",  # the primary need: required
    )
    result = load(con, EHCP, tmp_path)
    assert [(f.rows_valid, f.rows_quarantined) for f in result.files] == [(1, 1)]
    assert con.execute("SELECT plan_id, sex, cease_reason FROM raw.ehcp").fetchall() == [
        ("P1", None, None)
    ]
    assert con.execute(
        "SELECT _source_file, _source_row, record_key, column_name, reason_code, value "
        "FROM quarantine.ehcp_values ORDER BY column_name"
    ).fetchall() == [
        ("ehcp/plans.csv", 2, "P1", "cease_reason", "unknown_code", "10"),
        ("ehcp/plans.csv", 2, "P1", "sex", "unknown_code", "X"),
    ]
    assert list(reasons(con, "ehcp")) == [3]
    write(
        tmp_path,
        "placements",
        "placements.csv",
        "placement_id,child_id,urn,residential,sen_unit,annual_cost,start_date,end_date\n"
        "PL1,C1,150008,Y,Not sure,sixty thousand,2021-09-01,\n"
        "PL2,C2,150008,,Yes,,2021-09-01,\n",  # a yes/no flag spelt out is read
    )
    result = load(con, PLACEMENTS, tmp_path)
    assert [(f.rows_valid, f.rows_quarantined) for f in result.files] == [(2, 0)]
    assert con.execute(
        "SELECT placement_id, residential, sen_unit, annual_cost, start_date FROM raw.placements "
        "ORDER BY placement_id"
    ).fetchall() == [
        ("PL1", None, None, None, dt.date(2021, 9, 1)),
        ("PL2", None, "Y", None, dt.date(2021, 9, 1)),
    ]
    assert con.execute(
        "SELECT column_name, value FROM quarantine.placements_values ORDER BY column_name"
    ).fetchall() == [
        ("annual_cost", "sixty thousand"),
        ("residential", "Y"),
        ("sen_unit", "Not sure"),
    ]


PLACEMENTS_HEADER = "placement_id,child_id,urn,residential,start_date,end_date"


def test_rows_loaded_without_a_value_count_against_the_quarantine_tolerance(tmp_path, con):
    """Unit flags given in words nobody reads on a third of the placements would move every unit
    place to mainstream with the rows loaded: rows with a value set aside count against the
    tolerance as quarantined rows do."""
    from checks.gates import quarantine_within_tolerance

    rows = [f"PL{n},C{n},150008,{'Y' if n < 2 else 'A'},2021-09-01," for n in range(100)]
    write(tmp_path, "placements", "p.csv", "\n".join([PLACEMENTS_HEADER, *rows]) + "\n")
    load(con, PLACEMENTS, tmp_path)
    assert quarantine_within_tolerance(con, PLACEMENTS, 0.02, 0.005).passed
    result = quarantine_within_tolerance(con, PLACEMENTS, 0.01, 0.005)
    assert not result.passed
    assert (
        "2 of 100 rows loaded without a value that could not be read (2.00%; tolerance 1.00%, "
        "HIGHNEEDS_QUARANTINE_TOLERANCE): residential: unknown_code × 2 "
        "(quarantine.placements_values)"
    ) in result.summary


def test_a_file_quarantined_for_values_now_set_aside_is_read_again(tmp_path, con):
    """A warehouse loaded before residential was lenient kept its 45 placements given
    residential=Y quarantined (out of every census) until it was rebuilt: the file is read
    again, and the rows load without the value."""
    import dataclasses

    strict = dataclasses.replace(
        PLACEMENTS,
        columns=tuple(dataclasses.replace(c, lenient=False) for c in PLACEMENTS.columns),
    )
    rows = ["PL1,C1,150008,Y,2021-09-01,", "PL2,C2,150008,A,2021-09-01,"]
    write(tmp_path, "placements", "p.csv", "\n".join([PLACEMENTS_HEADER, *rows]) + "\n")
    load(con, strict, tmp_path)
    assert list(reasons(con, "placements")) == [2]
    load(con, PLACEMENTS, tmp_path, load_id="L2")
    assert reasons(con, "placements") == {}
    assert con.execute(
        "SELECT placement_id, residential, _load_id FROM raw.placements ORDER BY 1"
    ).fetchall() == [("PL1", None, "L2"), ("PL2", "A", "L2")]
    assert con.execute(
        "SELECT _source_row, column_name, value FROM quarantine.placements_values"
    ).fetchall() == [(2, "residential", "Y")]
    # and read once: a third refresh leaves it
    load(con, PLACEMENTS, tmp_path, load_id="L3")
    assert con.execute("SELECT DISTINCT _load_id FROM raw.placements").fetchall() == [("L2",)]


def test_the_summary_lists_the_first_rows_of_each_reason_and_how_many_more(tmp_path, con):
    """Four unknown cease reasons showed three rows, read as every row: the fourth was nowhere
    outside the warehouse. The summary says how many more the table holds."""
    from rich.console import Console

    from dagster_project.cli.summary import _print_quarantine_examples

    rows = [f"C{n},P{n},2010-09-01,X,ASD,2019-03-01,,,,,,," for n in range(1, 5)]
    rows += [f"C{n},P{n},2010-09-01,F,AUTISM,2019-03-01,,,,,,," for n in range(5, 9)]
    write(tmp_path, "ehcp", "plans.csv", "\n".join([EHCP_HEADER, *rows]) + "\n")
    load(con, EHCP, tmp_path)
    console = Console(record=True, width=300)
    _print_quarantine_examples(con, console)
    text = console.export_text()
    assert "quarantined ehcp: unknown_code × 4" in text
    assert "ehcp/plans.csv:6 primary_need: unknown code ('AUTISM')" in text
    assert "ehcp/plans.csv:9 primary_need" not in text
    assert "… and 1 more in quarantine.ehcp\n" in text
    assert "set aside ehcp values (their rows loaded without them): unknown_code × 4" in text
    assert "ehcp/plans.csv:2 sex: unknown code ('X'); reads M, F, U\n" in text
    assert "… and 1 more in quarantine.ehcp_values" in text
    # an unknown code says which codes its column reads, in the contract's words
    assert "primary_need: unknown code ('AUTISM'); reads SPLD, MLD, SLD, PMLD," in text


def test_exact_duplicates_are_counted_and_conflicting_ones_quarantined(tmp_path, con):
    line = "C1,P1,2010-01-01,F,MLD,2019-03-01,,,,,,,"
    write(
        tmp_path,
        "ehcp",
        "plans.csv",
        f"{EHCP_HEADER}\n{line}\n{line}\nC1,P1,2010-01-01,F,SEMH,2019-03-01,,,,,,,\nC2,P2,2010-01-01,F,MLD,2019-03-01,,,,,,,\n",
    )
    outcome = load(con, EHCP, tmp_path).files[0]
    assert (
        outcome.rows_read,
        outcome.rows_valid,
        outcome.rows_duplicate,
        outcome.rows_quarantined,
    ) == (4, 1, 1, 2)
    assert con.execute(
        "SELECT _source_row, _duplicate_of_row FROM raw.ehcp_duplicates"
    ).fetchall() == [(3, 2)]
    # each row is written once: the accepted one to raw, the duplicate and the conflicts elsewhere
    assert con.execute("SELECT _source_row FROM raw.ehcp").fetchall() == [(5,)]
    assert set(reasons(con, "ehcp")) == {2, 4}
    assert all(r == ["conflicting_duplicate"] for r in reasons(con, "ehcp").values())


def test_missing_required_column_rejects_the_whole_file_and_other_files_load(tmp_path, con):
    write(tmp_path, "finance", "a_bad.csv", "transaction_id,amount,s251_line\nT1,10,1.2.1\n")
    write(
        tmp_path,
        "finance",
        "b_good.csv",
        "transaction_id,posting_date,amount,s251_line\nT2,2024-05-31,10,1.2.1\n",
    )
    result = load(con, FINANCE, tmp_path)
    rejected = [f for f in result.files if f.status == "rejected"]
    assert len(rejected) == 1
    assert rejected[0].message.startswith(
        "finance/a_bad.csv: missing required column(s) posting_date;"
    )
    assert "found columns: transaction_id, amount, s251_line" in rejected[0].message
    # and what to do when the column is there under another name: the names read now, and where
    # another is listed
    assert rejected[0].message.endswith(
        "listed under the column in ingest/config/header_aliases.yml (listed now: posting_date: "
        "Post Date, Date Posted, GL Date, Accounting Date, Transaction Date)"
    )
    assert con.execute("SELECT count(*) FROM raw.finance").fetchone()[0] == 1
    assert con.execute("SELECT DISTINCT _source_file FROM raw.finance").fetchall() == [
        ("finance/b_good.csv",)
    ]


def test_a_file_without_its_header_line_is_rejected_without_quoting_its_first_row(tmp_path, con):
    """The second half of a list split in two has no header line: its first row of data was
    quoted as the columns found (a child's names, UPN, birth date and postcode), and the
    message reached the data-quality mart, the serving file and the publication report."""
    row = "C0001384,P0001395,2008-04-03,M,ASD,2019-03-01,,,Riley,Hall,X869219412463,RG8 2BT,"
    write(tmp_path, "ehcp", "ehcp_part2.csv", row + "\n" + row.replace("C0001384", "C0001385"))
    [outcome] = load(con, EHCP, tmp_path).files
    assert outcome.status == "rejected"
    assert "names none of the columns of the ehcp extract (13 fields, not quoted" in outcome.message
    for value in ("C0001384", "Riley", "Hall", "X869219412463", "RG8 2BT", "2008-04-03"):
        assert value not in outcome.message
    # nor kept as the columns the file's record found (raw.landing_files, kept for good)
    assert con.execute("SELECT columns_found FROM raw.ehcp_files").fetchall() == [([],)]


def test_a_sheet_without_its_header_row_is_rejected_without_quoting_its_first_row(tmp_path, con):
    """A sheet whose first child has no postcode and whose second has one: the second row has a
    value beyond the "header" (the first child's row), and the refusal quoted that row — a
    child's id, birth date, UPN and names — into the file's record and the serving file."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(
        [
            "C0001384",
            "P0001395",
            "2008-04-03",
            "M",
            "ASD",
            "2019-03-01",
            None,
            None,
            "Riley",
            "Hall",
            "X869219412463",
        ]
    )
    sheet.append(
        [
            "C0001385",
            "P0001396",
            "2009-05-04",
            "F",
            "SLD",
            "2019-04-01",
            None,
            None,
            "Sam",
            "Hill",
            "X869219412464",
            "RG8 2BT",
        ]
    )
    (tmp_path / "ehcp").mkdir()
    workbook.save(tmp_path / "ehcp" / "transfers_in.xlsx")
    [outcome] = load(con, EHCP, tmp_path).files
    assert outcome.status == "rejected"
    assert "row 2 has values beyond the last header column" in outcome.message
    assert "9 fields naming none of the columns, not quoted" in outcome.message
    for value in ("C0001384", "Riley", "Hall", "X869219412463", "2008-04-03"):
        assert value not in outcome.message
    assert con.execute("SELECT columns_found FROM raw.ehcp_files").fetchall() == [([],)]


def test_headers_match_case_and_punctuation_insensitively(tmp_path, con):
    write(
        tmp_path,
        "finance",
        "f.csv",
        'Transaction ID,Posting-Date,AMOUNT,S251 Line\nT1,30/04/2024,"£1,000.00",1.2.3\n',
    )
    load(con, FINANCE, tmp_path)
    assert con.execute(
        "SELECT transaction_id, posting_date, amount FROM raw.finance"
    ).fetchone() == (
        "T1",
        dt.date(2024, 4, 30),
        pytest.approx(1000),
    )


def test_the_same_file_twice_changes_nothing_and_a_removed_file_is_retired(tmp_path, con):
    path = write(
        tmp_path,
        "finance",
        "f.csv",
        "transaction_id,posting_date,amount,s251_line\nT1,2024-05-31,10,1.2.1\n",
    )
    load(con, FINANCE, tmp_path)
    second = load(con, FINANCE, tmp_path, "L2")
    assert [f.status for f in second.files] == ["unchanged"]
    assert con.execute("SELECT count(*) FROM raw.finance").fetchone()[0] == 1
    path.rename(tmp_path / "finance" / "renamed.csv")
    assert [f.status for f in load(con, FINANCE, tmp_path, "L3").files] == ["unchanged"]
    assert (
        con.execute("SELECT file_name FROM raw.finance_files").fetchone()[0]
        == "finance/renamed.csv"
    )
    (tmp_path / "finance" / "renamed.csv").unlink()
    load(con, FINANCE, tmp_path, "L4")
    assert con.execute("SELECT in_landing FROM raw.finance_files").fetchone()[0] is False
    assert con.execute("SELECT count(*) FROM raw.finance").fetchone()[0] == 1  # kept for audit


def test_a_row_dated_after_the_extract_date_is_loaded_once_that_date_has_come(tmp_path, con):
    """A row posted on 31 March, loaded on the 30th, is quarantined as after the extract date;
    the file is never re-sent, so once the date has come the file is read again (it kept the
    £7,000 out of the marts for good, green, where a refresh from scratch loaded it)."""
    write(
        tmp_path,
        "finance",
        "adjustments.csv",
        "transaction_id,posting_date,amount,s251_line\n"
        "T1,2025-03-28,5000,1.0.2\nT2,31/03/2025,7000,1.0.2\n",
    )
    first = load_extract(con, FINANCE, tmp_path, "L1", KEY, dt.date(2025, 3, 30))
    assert [(f.rows_valid, f.rows_quarantined) for f in first.files] == [(1, 1)]
    same_day = load_extract(con, FINANCE, tmp_path, "L2", KEY, dt.date(2025, 3, 30))
    assert [f.status for f in same_day.files] == ["unchanged"]
    later = load_extract(con, FINANCE, tmp_path, "L3", KEY, dt.date(2025, 4, 2))
    assert [(f.status, f.rows_valid, f.rows_quarantined) for f in later.files] == [("loaded", 2, 0)]
    assert con.execute("SELECT sum(amount), count(*) FROM raw.finance").fetchone() == (
        Decimal(12000),
        2,
    )
    assert con.execute("SELECT count(*) FROM quarantine.finance").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM raw.finance_files").fetchone()[0] == 1
    again = load_extract(con, FINANCE, tmp_path, "L4", KEY, dt.date(2025, 4, 3))
    assert [f.status for f in again.files] == ["unchanged"]


def test_a_planned_end_after_the_extract_date_loads_the_row_open_until_that_date_has_come(
    tmp_path, con
):
    """A placement's planned end next July, a plan's notice to cease: quarantined as dated after
    the extract date, the row took the child's placement or plan out of every census before it.
    Loaded as it stands on the extract date (open, the cease reason with its date), and read
    again once the date has come."""
    write(
        tmp_path,
        "placements",
        "p.csv",
        "placement_id,child_id,urn,start_date,end_date\n"
        "PL1,C1,100001,2021-01-01,2027-07-31\nPL2,C2,100002,2021-01-01,2024-07-31\n",
    )
    write(
        tmp_path,
        "ehcp",
        "plans.csv",
        EHCP_HEADER + "\n"
        "C1,P1,2012-05-01,M,ASD,2019-01-01,2027-07-31,1,,,,,\n"
        "C2,P2,2012-05-01,F,MLD,2019-01-01,2024-07-31,2,,,,,\n",
    )
    for extract in (PLACEMENTS, EHCP):
        loaded = load_extract(con, extract, tmp_path, "L1", KEY, dt.date(2026, 3, 31))
        assert [(f.rows_valid, f.rows_quarantined) for f in loaded.files] == [(2, 0)]
    assert con.execute("SELECT end_date FROM raw.placements ORDER BY placement_id").fetchall() == [
        (None,),
        (dt.date(2024, 7, 31),),
    ]
    assert con.execute(
        "SELECT plan_cease_date, cease_reason FROM raw.ehcp ORDER BY plan_id"
    ).fetchall() == [(None, None), (dt.date(2024, 7, 31), "2")]
    same = load_extract(con, PLACEMENTS, tmp_path, "L2", KEY, dt.date(2027, 7, 30))
    assert [f.status for f in same.files] == ["unchanged"]
    for extract in (PLACEMENTS, EHCP):
        later = load_extract(con, extract, tmp_path, "L3", KEY, dt.date(2027, 7, 31))
        assert [(f.status, f.rows_valid) for f in later.files] == [("loaded", 2)]
    assert con.execute("SELECT count(end_date) FROM raw.placements").fetchone()[0] == 2
    # read again, the file keeps its place among files holding the same keys (its first read's)
    assert con.execute("SELECT file_seq, precedence_seq FROM raw.placements_files").fetchall() == [
        (2, 1)
    ]
    assert con.execute(
        "SELECT plan_cease_date, cease_reason FROM raw.ehcp WHERE plan_id = 'P1'"
    ).fetchone() == (dt.date(2027, 7, 31), "1")
    assert con.execute("SELECT count(*) FROM raw.ehcp_files").fetchone()[0] == 1


def _march_and_june_placements_loaded(landing: Path, con) -> None:
    """March's file with PL1 planned to end on 31 May 2026 (read again once that day has come)
    and June's extending it to December, loaded on 31 March 2026."""
    write(
        landing,
        "placements",
        "a_march.csv",
        "placement_id,child_id,urn,start_date,end_date\nPL1,C1,100001,2021-01-01,2026-05-31\n",
    )
    write(
        landing,
        "placements",
        "b_june.csv",
        "placement_id,child_id,urn,start_date,end_date\nPL1,C1,100001,2021-01-01,2026-12-31\n",
    )
    load_extract(con, PLACEMENTS, landing, "L1", KEY, dt.date(2026, 3, 31))


def test_a_file_rejected_when_read_again_keeps_its_place_when_it_loads(tmp_path, con, monkeypatch):
    """March's file is read again once its planned end has come, and rejected that time (a
    reader or contract change); loaded on the next refresh as if new, it took the newest place
    and outranked the June file that extended the same placement."""
    import ingest.load as load_module

    _march_and_june_placements_loaded(tmp_path, con)
    real = load_module.match_headers

    def refuse(*args, **kwargs):
        raise load_module.FileRejected("refused this time")

    monkeypatch.setattr(load_module, "match_headers", refuse)
    again = load_extract(con, PLACEMENTS, tmp_path, "L2", KEY, dt.date(2026, 6, 1))
    assert sorted(f.status for f in again.files) == ["rejected", "unchanged"]
    monkeypatch.setattr(load_module, "match_headers", real)
    load_extract(con, PLACEMENTS, tmp_path, "L3", KEY, dt.date(2026, 6, 2))
    places = dict(
        con.execute(
            "SELECT file_name, precedence_seq FROM raw.placements_files WHERE status = 'loaded'"
        ).fetchall()
    )
    assert places["placements/a_march.csv"] < places["placements/b_june.csv"]


def test_a_file_read_again_that_a_full_disk_stopped_keeps_its_place(tmp_path, con, monkeypatch):
    """March's file, read again once its planned end had come, was forgotten before the read;
    a full disk stopped the read, and on the next refresh it loaded as a new file, outranking
    the June file that extended the same placement."""
    import ingest.load as load_module
    from ingest.diskspace import DiskFull

    _march_and_june_placements_loaded(tmp_path, con)
    real = load_module._stage_part

    def full(*args, **kwargs):
        raise DiskFull("the disk is full", 28, tmp_path, 0, None)

    monkeypatch.setattr(load_module, "_stage_part", full)
    with pytest.raises(DiskFull):
        load_extract(con, PLACEMENTS, tmp_path, "L2", KEY, dt.date(2026, 6, 1))
    monkeypatch.setattr(load_module, "_stage_part", real)
    load_extract(con, PLACEMENTS, tmp_path, "L3", KEY, dt.date(2026, 6, 2))
    files = con.execute(
        "SELECT file_name, status, precedence_seq FROM raw.placements_files ORDER BY file_name"
    ).fetchall()
    assert [f[1] for f in files] == ["loaded", "loaded"], files
    assert files[0][2] < files[1][2], files  # March before June, as first read


def test_a_planned_end_quarantined_before_planned_dates_loaded_open_is_read_again(tmp_path, con):
    """A warehouse from before: its file's row sat in quarantine as dated after the extract date,
    and the file is known, so nothing would read it until the date had come."""
    write(
        tmp_path,
        "placements",
        "p.csv",
        "placement_id,child_id,urn,start_date,end_date\nPL1,C1,100001,2021-01-01,2027-07-31\n",
    )
    load_extract(con, PLACEMENTS, tmp_path, "L1", KEY, dt.date(2026, 3, 31))
    # as the rule used to leave it: the row quarantined for its planned end
    con.execute("DELETE FROM raw.placements")
    con.execute(
        "INSERT INTO quarantine.placements (placement_id, child_id, urn, start_date, end_date, "
        "_file_hash, _source_file, _source_row, _load_id, reason_codes, reason_columns, "
        "reason_values, reason) SELECT 'PL1', '1', '100001', '2021-01-01', '2027-07-31', "
        "file_hash, file_name, 2, 'L1', ['date_after_extract'], ['end_date'], ['2027-07-31'], "
        "'end_date: date after extract' FROM raw.placements_files"
    )
    con.execute("UPDATE raw.placements_files SET planned_date_due = NULL")
    again = load_extract(con, PLACEMENTS, tmp_path, "L2", KEY, dt.date(2026, 4, 1))
    assert [(f.status, f.rows_valid, f.rows_quarantined) for f in again.files] == [("loaded", 1, 0)]
    assert con.execute("SELECT placement_id, end_date FROM raw.placements").fetchall() == [
        ("PL1", None)
    ]


def test_placement_rules(tmp_path, con):
    write(
        tmp_path,
        "placements",
        "p.csv",
        "placement_id,child_id,urn,ukprn,sen_setting,start_date,end_date,annual_cost\n"
        "PL1,C1,,,,2020-09-01,,1000\n"  # no urn / ukprn / setting
        "PL2,C1,123456,,,2020-09-01,2020-08-01,-5\n"  # ends before it starts, negative cost
        "PL3,C1,,,OLA,2020-09-01,,\n"
        "PL4,C1,,,XYZ,2020-09-01,,\n",  # a setting given, but no SEN2 code: that reason alone
    )
    load(con, PLACEMENTS, tmp_path)
    found = reasons(con, "placements")
    assert found[2] == ["no_urn_or_ukprn_or_sen_setting"]
    assert found[5] == ["unknown_code"]
    assert set(found[3]) == {"end_date_before_start_date", "negative_annual_cost"}
    assert con.execute("SELECT placement_id FROM raw.placements").fetchall() == [("PL3",)]


def test_unreadable_file_is_rejected(tmp_path, con):
    folder = tmp_path / "finance"
    folder.mkdir()
    (folder / "binary.csv").write_bytes(b"\x00\x01\x02" * 1000)
    result = load(con, FINANCE, tmp_path)
    assert result.files[0].status == "rejected"
    assert result.files[0].message.startswith("finance/binary.csv:")


def test_a_warehouse_with_text_and_valid_copies_moves_to_rows_written_once(tmp_path, con):
    """Before raw was written once it held every row as text (duplicates marked) and the valid
    rows again, typed, in raw.<extract>_valid. The next load moves such a warehouse over in place:
    the same typed rows with their extra columns, the duplicates on their own, the gate passing."""
    from checks.gates import rows_accounted_for

    header = "transaction_id,posting_date,amount,s251_line,memo"
    write(
        tmp_path,
        "finance",
        "a.csv",
        f"{header}\nT1,2024-05-31,10.50,1.2.1,first\nT1,2024-05-31,10.50,1.2.1,first\n"
        "T2,2024-06-30,(3.00),1.2.2,second\n",
    )
    load(con, FINANCE, tmp_path)
    loaded = con.execute("SELECT * FROM raw.finance ORDER BY ALL").fetchall()
    duplicates = con.execute("SELECT * FROM raw.finance_duplicates ORDER BY ALL").fetchall()

    # the old layout, rebuilt from the new one: text rows (the duplicate's text is its original's)
    def text(alias: str) -> str:
        return ", ".join(f"{alias}{c.name}::VARCHAR AS {c.name}" for c in FINANCE.stored_columns)

    con.execute(
        "CREATE TABLE raw.finance_valid AS SELECT * EXCLUDE (_extra_columns) FROM raw.finance"
    )
    con.execute(
        f"CREATE TABLE raw.finance_text AS SELECT {text('')}, _extra_columns, "
        "NULL::BIGINT AS _duplicate_of_row, _file_hash, _source_file, _source_row, _load_id "
        f"FROM raw.finance UNION ALL SELECT {text('r.')}, r._extra_columns, "
        "d._duplicate_of_row, d._file_hash, d._source_file, d._source_row, d._load_id "
        "FROM raw.finance_duplicates d JOIN raw.finance r "
        "ON r._file_hash = d._file_hash AND r._source_row = d._duplicate_of_row"
    )
    con.execute("DROP TABLE raw.finance")
    con.execute("DROP TABLE raw.finance_duplicates")
    con.execute("ALTER TABLE raw.finance_text RENAME TO finance")
    # files tables older than their money columns have none: the move fills it from the text
    con.execute("UPDATE raw.finance_files SET money_read_gbp = NULL")

    write(tmp_path, "finance", "b.csv", f"{header}\nT3,2024-07-31,1.00,1.2.1,third\n")
    load(con, FINANCE, tmp_path, "L2")
    tables = {r[0] for r in con.execute("SHOW TABLES FROM raw").fetchall()}
    assert "finance_valid" not in tables
    after = con.execute("SELECT * FROM raw.finance ORDER BY ALL").fetchall()
    assert [row for row in after if row[-1] == "L1"] == loaded  # the same rows, extras and all
    assert [row[0] for row in after if row[-1] == "L2"] == ["T3"]
    assert con.execute("SELECT * FROM raw.finance_duplicates ORDER BY ALL").fetchall() == (
        duplicates
    )
    gate = rows_accounted_for(con, FINANCE)
    assert gate.passed, gate.summary
    assert con.execute(
        "SELECT money_read_gbp FROM raw.finance_files WHERE file_name = 'finance/a.csv'"
    ).fetchone() == (Decimal("18.00"),)  # 10.50 twice and (3.00)


def test_a_warehouse_with_hex_ids_keeps_its_children_when_ids_become_numbers(tmp_path, con):
    """Before person ids were numbers raw held each as the 24 hex characters of its keyed hash
    (quarantine too, as text). The next load converts them in place to the number the same hash
    gives now, so the rows already loaded join those loaded after."""
    from ingest.pseudonymise import keyed_hex

    write(
        tmp_path,
        "ehcp",
        "a.csv",
        EHCP_HEADER + "\nC1,P1,2010-01-01,F,MLD,2019-03-01,,,,,,,\n"
        "C2,P2,2010-01-01,F,MLD,2019-03-01,,,,,,,\n"
        "C3,P3,2010-01-01,F,AUTISM,2019-03-01,,,,,,,\n",  # quarantined: an unknown need
    )
    load(con, EHCP, tmp_path)
    # the old layout: hex text where the numbers are
    hex_of = {keyed_hash(c, KEY): keyed_hex(c, KEY) for c in ("C1", "C2", "C3")}
    as_hex = " ".join(f"WHEN {i} THEN '{h}'" for i, h in hex_of.items())
    con.execute(
        "ALTER TABLE raw.ehcp ALTER COLUMN child_id SET DATA TYPE VARCHAR "
        f"USING CASE child_id {as_hex} END"
    )
    con.execute(f"UPDATE quarantine.ehcp SET child_id = CASE child_id::BIGINT {as_hex} END")
    assert con.execute("SELECT child_id FROM quarantine.ehcp").fetchone() == (keyed_hex("C3", KEY),)

    write(tmp_path, "ehcp", "b.csv", EHCP_HEADER + "\nC1,P4,2010-01-01,F,MLD,2023-03-01,,,,,,,\n")
    load(con, EHCP, tmp_path, "L2")
    assert con.execute(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_schema = 'raw' AND table_name = 'ehcp' AND column_name = 'child_id'"
    ).fetchone() == ("BIGINT",)
    assert con.execute("SELECT plan_id, child_id FROM raw.ehcp ORDER BY plan_id").fetchall() == [
        ("P1", keyed_hash("C1", KEY)),
        ("P2", keyed_hash("C2", KEY)),
        ("P4", keyed_hash("C1", KEY)),  # the same child as P1, loaded after the conversion
    ]
    assert con.execute("SELECT child_id FROM quarantine.ehcp").fetchall() == [
        (str(keyed_hash("C3", KEY)),)
    ]


FINANCE_HEADER = "transaction_id,posting_date,amount,s251_line"


def _ledger_rows(first: int, count: int) -> list[list]:
    return [[f"T{n}", "2024-05-01", 100, "1.2.1"] for n in range(first, first + count)]


def test_every_sheet_holding_the_ledger_is_read_and_a_notes_sheet_is_not(tmp_path, con):
    """A workbook with no sheets configured: each sheet whose header holds the contract's
    required columns is loaded (a ledger split into half-years), a notes sheet is not data."""
    import openpyxl

    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "Notes"
    notes.append(["Exported from the finance system"])
    for title, first in (("Apr-Sep", 1), ("Oct-Mar", 101)):
        sheet = workbook.create_sheet(title)
        sheet.append(FINANCE_HEADER.split(","))
        for row in _ledger_rows(first, 100):
            sheet.append(row)
    (tmp_path / "finance").mkdir()
    workbook.save(tmp_path / "finance" / "ledger.xlsx")
    result = load(con, FINANCE, tmp_path)
    assert sorted((f.file_name, f.status, f.rows_valid) for f in result.files) == [
        ("finance/ledger.xlsx#Apr-Sep", "loaded", 100),
        ("finance/ledger.xlsx#Oct-Mar", "loaded", 100),
    ]
    assert con.execute("SELECT sum(amount) FROM raw.finance").fetchone()[0] == 20000


def test_a_sheet_of_the_ledger_with_a_title_above_its_header_rejects_the_workbook(tmp_path, con):
    """A credit notes sheet whose header sits under a title was skipped without a word beside
    the qualifying ledger sheet (£28,600 of credits lost, every gate green); a lookups sheet
    naming one contract column (Value) is still not data."""
    import openpyxl

    workbook = openpyxl.Workbook()
    ledger = workbook.active
    ledger.title = "Ledger"
    ledger.append(FINANCE_HEADER.split(","))
    for row in _ledger_rows(1, 10):
        ledger.append(row)
    lookups = workbook.create_sheet("Lookups")
    lookups.append(["Code", "Description", "Value"])
    lookups.append(["1.2.1", "Top-up", 1])
    summary = workbook.create_sheet("Summary")  # its own table, headed in its first row
    summary.append(["S251 Line", "Amount"])
    summary.append(["1.2.1", 1000])
    (tmp_path / "finance").mkdir()
    workbook.save(tmp_path / "finance" / "ledger.xlsx")
    assert [f.status for f in load(con, FINANCE, tmp_path).files] == ["loaded"]

    credits = workbook.create_sheet("Credit notes")
    credits.append(["Credit notes 2024-25 (HN cost centres)"])
    credits.append(FINANCE_HEADER.split(","))
    credits.append(["C1", "2024-06-01", -500, "1.2.1"])
    workbook.save(tmp_path / "finance" / "ledger.xlsx")
    [ledger_file] = load(con, FINANCE, tmp_path, load_id="L2").files
    assert ledger_file.status == "rejected"
    assert "sheet 'Credit notes' names the extract's columns" in ledger_file.message
    assert "in row 2 but is not read" in ledger_file.message
    # headed in its first row with every required column but one, under another name
    # (credit_date): it was skipped without a word, £100,000 of credits lost
    del workbook["Credit notes"]
    credits = workbook.create_sheet("Credit notes")
    credits.append(["transaction_id", "credit_date", "amount", "s251_line"])
    credits.append(["C1", "2024-06-01", -500, "1.2.1"])
    workbook.save(tmp_path / "finance" / "ledger.xlsx")
    [ledger_file] = load(con, FINANCE, tmp_path, load_id="L3").files
    assert ledger_file.status == "rejected"
    assert (
        "sheet 'Credit notes' names the extract's columns (transaction_id, amount, s251_line) in "
        "row 1 but not posting_date, so it is not read"
    ) in ledger_file.message, ledger_file.message


def test_a_key_on_two_sheets_of_a_workbook_is_a_duplicate_or_a_conflict_as_on_one(tmp_path, con):
    """A workbook is one file: a ledger whose half-year sheets number their lines from 1 each
    gives T1 on both. Different rows: both quarantined as in a CSV (the later sheet superseded
    the earlier one's £100 in staging, green); the same row: the later one is a duplicate."""
    import openpyxl

    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "H1"
    second = workbook.create_sheet("H2")
    for sheet, rows in (
        (first, [["T1", "2024-05-01", 100, "1.2.1"], ["T2", "2024-05-01", 50, "1.2.1"]]),
        (
            second,
            [
                ["T1", "2024-11-01", 250, "1.2.1"],
                ["T3", "2024-11-01", 10, "1.2.1"],
                ["T2", "2024-05-01", 50, "1.2.1"],
            ],
        ),
    ):
        sheet.append(FINANCE_HEADER.split(","))
        for row in rows:
            sheet.append(row)
    (tmp_path / "finance").mkdir()
    workbook.save(tmp_path / "finance" / "ledger.xlsx")
    result = load(con, FINANCE, tmp_path)
    counts = {
        f.file_name: (f.rows_read, f.rows_valid, f.rows_duplicate, f.rows_quarantined)
        for f in result.files
    }
    assert counts == {
        "finance/ledger.xlsx#H1": (2, 1, 0, 1),
        "finance/ledger.xlsx#H2": (3, 1, 1, 1),
    }
    assert con.execute(
        "SELECT transaction_id, amount, _source_file FROM raw.finance ORDER BY 1"
    ).fetchall() == [
        ("T2", Decimal(50), "finance/ledger.xlsx#H1"),
        ("T3", Decimal(10), "finance/ledger.xlsx#H2"),
    ]
    assert con.execute(
        "SELECT _source_file, _source_row, _duplicate_of_row FROM raw.finance_duplicates"
    ).fetchall() == [("finance/ledger.xlsx#H2", 4, 3)]
    assert con.execute(
        "SELECT _source_file, reason_codes FROM quarantine.finance ORDER BY 1"
    ).fetchall() == [
        ("finance/ledger.xlsx#H1", ["conflicting_duplicate"]),
        ("finance/ledger.xlsx#H2", ["conflicting_duplicate"]),
    ]


def test_a_title_above_a_sheets_header_is_named_as_the_likely_cause(tmp_path, con):
    """A report-style sheet: a title in A1, a blank row, then the header. The file is rejected
    (which row is the header cannot be guessed safely), saying where the header was taken from
    and what to do."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["High needs ledger 2024-25"])
    sheet.append([])
    sheet.append(FINANCE_HEADER.split(","))
    for row in _ledger_rows(1, 3):
        sheet.append(row)
    (tmp_path / "finance").mkdir()
    workbook.save(tmp_path / "finance" / "ledger.xlsx")
    [rejected] = load(con, FINANCE, tmp_path).files
    assert rejected.status == "rejected"
    assert "header was taken from row 1" in rejected.message
    # the title names no column: counted, not quoted (a first row of data would be a child's)
    assert "1 field naming none of the columns, not quoted" in rejected.message
    # the real header's row named (a helper's "row 3 has values beyond the last header column"
    # pointed at the header itself, and a title of several cells had no hint at all)
    assert rejected.message.endswith(
        "; row 3 names the extract's columns: if it is the real header, delete the rows above "
        "it (rows 1–2 look like a title or notes)"
    ), rejected.message


def test_a_number_shown_with_leading_zeros_keeps_them(tmp_path, con):
    """A ledger workbook whose child ids are numbers formatted `00000` (Excel shows 00123): the
    id is the 00123 the case-management CSV holds, so the payment and the child join."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([*FINANCE_HEADER.split(","), "child_id"])
    sheet.append(["T1", "2024-05-01", 100, "1.2.1", 123])
    sheet.append(["T2", "2024-05-01", 100, "1.2.1", 124])
    sheet["E2"].number_format = "00000"
    (tmp_path / "finance").mkdir()
    workbook.save(tmp_path / "finance" / "ledger.xlsx")
    load(con, FINANCE, tmp_path)
    ids = dict(con.execute("SELECT transaction_id, child_id FROM raw.finance").fetchall())
    assert ids == {"T1": keyed_hash("00123", KEY), "T2": keyed_hash("124", KEY)}


def test_an_extra_column_named_like_the_readers_own_is_kept(tmp_path, con):
    """An extract re-exported from a warehouse may carry `_source_row`: the file was rejected
    whole (the reader numbers rows in a column of that name); it is an extra column like any."""
    import openpyxl

    write(
        tmp_path,
        "finance",
        "ledger.csv",
        FINANCE_HEADER + ",_source_row\nT1,2024-05-01,100.00,1.2.1,7\n",
    )
    workbook = openpyxl.Workbook()
    workbook.active.append([*FINANCE_HEADER.split(","), "_SOURCE_ROW"])
    workbook.active.append(["T2", "2024-05-01", 50, "1.2.1", 9])
    workbook.save(tmp_path / "finance" / "more.xlsx")
    result = load(con, FINANCE, tmp_path)
    assert sorted((f.status, f.rows_valid) for f in result.files) == [("loaded", 1)] * 2
    rows = con.execute(
        "SELECT transaction_id, _source_row, _extra_columns FROM raw.finance ORDER BY 1"
    ).fetchall()
    assert [r[:2] for r in rows] == [("T1", 2), ("T2", 2)]
    assert list(rows[0][2].values()) == ["7"] and list(rows[1][2].values()) == ["9"]
    # a suffix never lands on a header the file already has
    from ingest.readers import _unique_names

    assert _unique_names(["_source_row", "_source_row_2", "a", "A"]) == [
        "_source_row_2",
        "_source_row_2_2",
        "a",
        "A_2",
    ]


def test_a_formulas_money_is_read_as_the_workbook_shows_it(tmp_path, con):
    """A cell holding 21546565/3 shown as £7,182,188.33 is that amount (it was quarantined as a
    bad amount, 7182188.33333333); a ledger shown in whole pounds keeps its pence; a figure with
    sub-penny digits shown as General is still a bad amount."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(FINANCE_HEADER.split(","))
    sheet.append(["T1", "2024-05-01", 21546565 / 3, "1.2.1"])
    sheet.append(["T2", "2024-05-01", 1234.56, "1.2.1"])
    sheet.append(["T3", "2024-05-01", -2.675, "1.2.1"])
    sheet.append(["T4", "2024-05-01", 10 / 3, "1.2.1"])
    sheet["C2"].number_format = "£#,##0.00"
    sheet["C3"].number_format = "#,##0"
    sheet["C4"].number_format = '"£"#,##0.00_-;[Red]-"£"#,##0.00'
    (tmp_path / "finance").mkdir()
    workbook.save(tmp_path / "finance" / "ledger.xlsx")
    load(con, FINANCE, tmp_path)
    amounts = dict(con.execute("SELECT transaction_id, amount FROM raw.finance").fetchall())
    assert amounts == {
        "T1": Decimal("7182188.33"),
        "T2": Decimal("1234.56"),
        "T3": Decimal("-2.68"),
    }
    assert list(reasons(con, "finance").values()) == [["bad_amount"]]
    # a time's fraction of a second is not pennies
    from ingest.readers import _decimals_shown

    assert _decimals_shown("hh:mm:ss.000") is None and _decimals_shown("mm:ss.0") is None


def test_a_workbook_that_understates_its_size_is_read_whole(tmp_path, con):
    """Some writers declare a sheet smaller than it is (<dimension>); every row is read anyway."""
    import re
    import zipfile

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(FINANCE_HEADER.split(","))
    for row in _ledger_rows(1, 50):
        sheet.append(row)
    whole = tmp_path / "whole.xlsx"
    workbook.save(whole)
    (tmp_path / "finance").mkdir()
    with (
        zipfile.ZipFile(whole) as source,
        zipfile.ZipFile(tmp_path / "finance" / "ledger.xlsx", "w") as target,
    ):
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, replaced = re.subn(
                    rb'<dimension ref="[^"]+"', b'<dimension ref="A1:D20"', data
                )
                assert replaced == 1
            target.writestr(item, data)
    result = load(con, FINANCE, tmp_path)
    assert [(f.status, f.rows_read, f.rows_valid) for f in result.files] == [("loaded", 50, 50)]


def test_a_formula_the_workbook_never_calculated_rejects_it(tmp_path, con):
    """A ledger written by a program rather than Excel (XlsxWriter) saves 0 as a formula's value
    and asks Excel to calculate on opening: -£400,000 was read as £0.00 with a green run. Such a
    workbook is rejected, naming the cell; the same formula saved by Excel (its result saved,
    no request to calculate) is read as Excel shows it."""
    import re
    import zipfile

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(FINANCE_HEADER.split(","))
    sheet.append(["T1", "2024-05-01", 100, "1.2.1"])
    sheet.append(["T2", "2024-05-01", "=-200000*2", "1.2.1"])
    written = tmp_path / "written.xlsx"
    workbook.save(written)

    def rewrite(name: str, excel_saved: bool) -> None:
        (tmp_path / name / "finance").mkdir(parents=True)
        with (
            zipfile.ZipFile(written) as source,
            zipfile.ZipFile(tmp_path / name / "finance" / "ledger.xlsx", "w") as target,
        ):
            for item in source.infolist():
                data = source.read(item.filename)
                if item.filename == "xl/worksheets/sheet1.xml":
                    value = b"-400000" if excel_saved else b"0"
                    data, found = re.subn(
                        rb"(</f>)(<v>\s*</v>|<v\s*/>)?", rb"\1<v>" + value + b"</v>", data
                    )
                    assert found == 1
                if item.filename == "xl/workbook.xml" and excel_saved:
                    data, found = re.subn(rb' fullCalcOnLoad="(1|true)"', b"", data)
                    assert found == 1
                target.writestr(item, data)

    rewrite("xlsxwriter", excel_saved=False)
    [rejected] = load(con, FINANCE, tmp_path / "xlsxwriter").files
    assert rejected.status == "rejected"
    assert "ledger.xlsx#Sheet: cell C3 holds a formula whose value was never calculated" in (
        rejected.message
    )
    rewrite("excel", excel_saved=True)
    [loaded] = load(con, FINANCE, tmp_path / "excel").files
    assert (loaded.status, loaded.rows_valid) == ("loaded", 2)
    assert con.execute("SELECT sum(amount) FROM raw.finance").fetchone()[0] == -399900


def test_windows_1252_found_past_the_first_block_is_still_read(tmp_path, con):
    """UTF-8-looking for its first 64 KB, Windows-1252 further down: the whole file is read as
    Windows-1252, not rejected inside the load's transaction."""
    rows = [f"T{n},2024-05-01,100,1.2.1" for n in range(1, 4001)]
    rows[-1] = "T4000,2024-05-01,£100.00,1.2.1"
    path = tmp_path / "finance" / "ledger.csv"
    path.parent.mkdir()
    path.write_bytes(("\n".join([FINANCE_HEADER, *rows]) + "\n").encode("cp1252"))
    assert path.stat().st_size > 1 << 16 and "£".encode("cp1252") in path.read_bytes()[-40:]
    result = load(con, FINANCE, tmp_path)
    assert [(f.status, f.rows_valid) for f in result.files] == [("loaded", 4000)]
    assert con.execute("SELECT sum(amount) FROM raw.finance").fetchone()[0] == 400000


def test_an_amount_that_cannot_be_read_weighs_its_digits_in_the_money_tolerance(tmp_path, con):
    """One row of 200 quarantined is within the rows' tolerance; its `1,500,000.00 CR` cannot be
    read as an amount, but £1.5m of a £1.52m ledger must not pass the money tolerance as £0."""
    from checks.gates import quarantine_within_tolerance

    rows = [f"T{n},2024-05-01,100.00,1.2.1" for n in range(1, 200)]
    write(
        tmp_path,
        "finance",
        "ledger.csv",
        "\n".join([FINANCE_HEADER, *rows, 'T200,2024-05-01,"1,500,000.00 CR",1.2.1']) + "\n",
    )
    result = load(con, FINANCE, tmp_path)
    [ledger] = result.files
    assert (ledger.rows_read, ledger.rows_quarantined) == (200, 1)
    assert ledger.money_quarantined_gbp == 0  # nothing readable was set aside, to the penny
    assert ledger.gross_money_quarantined_gbp == Decimal("1500000.00")
    assert ledger.gross_money_read_gbp == Decimal("1519900.00")
    gate = quarantine_within_tolerance(con, FINANCE, 0.01, 0.005)
    assert not gate.passed
    assert "£1,500,000.00 of £1,519,900.00" in gate.summary
    # the refresh summary says the same money (it said £0.00 quarantined)
    from rich.console import Console

    from dagster_project.cli.summary import _print_landing

    console = Console(record=True, width=200)
    _print_landing(con, console)
    assert "£1,500,000.00" in console.export_text()
    # an amount with no digits at all weighs nothing, and a blank one is a missing value
    write(tmp_path, "finance", "ledger.csv", f"{FINANCE_HEADER}\nT1,2024-05-01,n/a,1.2.1\n")
    [unreadable] = load(con, FINANCE, tmp_path, load_id="L2").files
    assert (unreadable.rows_quarantined, unreadable.gross_money_quarantined_gbp) == (1, 0)


def test_a_bad_row_a_later_file_gives_again_readable_no_longer_counts_against_the_tolerance(
    tmp_path, con
):
    """A month with 50 unreadable amounts, then the corrections file the README asks for, giving
    those 50 transactions readable: the gate still counted the 50 and blocked the night until
    the month's file was taken out. A correction loaded before the bad row does not replace it."""
    from checks.gates import quarantine_within_tolerance

    good = [f"T{n},2024-05-01,100.00,1.2.1" for n in range(1, 151)]
    bad = [f"T{n},2024-05-01,100.00 GBPx,1.2.1" for n in range(151, 201)]
    write(tmp_path, "finance", "fin_2024-05.csv", "\n".join([FINANCE_HEADER, *good, *bad]) + "\n")
    load(con, FINANCE, tmp_path)
    gate = quarantine_within_tolerance(con, FINANCE, 0.01, 0.005)
    assert not gate.passed and "50 of 200 rows quarantined" in gate.summary
    fixed = [f"T{n},2024-05-01,100.00,1.2.1" for n in range(151, 191)]  # 10 still to come
    write(tmp_path, "finance", "fin_2024-05_corrections.csv", "\n".join([FINANCE_HEADER, *fixed]))
    load(con, FINANCE, tmp_path, load_id="L2")
    gate = quarantine_within_tolerance(con, FINANCE, 0.01, 0.005)
    assert not gate.passed, gate.summary
    # the 40 replaced count neither as read nor as quarantined, nor among the reasons
    assert "10 of 200 rows quarantined" in gate.summary
    assert "bad_amount × 10 (40 more replaced by a later file's readable row" in gate.summary
    assert "£1,000.00 of £20,000.00" in gate.summary  # the 10 left, at their digits' value
    assert quarantine_within_tolerance(con, FINANCE, 0.05, 0.05).passed


def test_a_bad_budget_row_blocks_whatever_the_tolerance(tmp_path, con):
    """One balance brought forward of 111 budget rows quarantined: 0.9 % of the rows and £0.36m
    of £1bn (the other DSG blocks' lines dilute both), within the tolerance, so it dropped out
    and every year's balance read £0.36m better, green. Each budget row is a figure of its own."""
    from checks.gates import quarantine_within_tolerance
    from ingest.contracts import BUDGET

    lines = [f"20{y}-{y + 1},schools_block_funding,100000000" for y in range(10, 20)]
    lines += [f"20{y}-{y + 1},hnb_allocation,30000000" for y in range(10, 20)]
    lines += ["2010-11,balance_brought_forward,-361651.04x"]
    write(tmp_path, "budget", "budget.csv", "financial_year,line,amount\n" + "\n".join(lines))
    load(con, BUDGET, tmp_path)
    gate = quarantine_within_tolerance(con, BUDGET, 0.05, 0.05)
    assert not gate.passed
    assert "1 of 21 rows quarantined (4.76%; tolerance 0.00% (none for the budget extract" in (
        gate.summary
    )
    # a ledger's few bad rows still wait within the tolerance
    rows = [f"T{n},2024-05-01,100.00,1.2.1" for n in range(1, 200)]
    write(
        tmp_path, "finance", "f.csv", "\n".join([FINANCE_HEADER, *rows, "T200,2024-05-01,1x,1.2.1"])
    )
    load(con, FINANCE, tmp_path, load_id="L2")
    assert quarantine_within_tolerance(con, FINANCE, 0.01, 0.005).passed


def test_a_later_version_in_quarantine_is_counted_as_leaving_the_earlier_one_counted(tmp_path, con):
    """A plan's cease date given in a later list with a two-digit year was quarantined, and the
    earlier list's open version went on counting in the census; the summary said only that a
    row was quarantined."""
    from checks.gates import earlier_versions_counted

    row = "C1,P1,2010-01-01,F,MLD,2019-03-01,{},,,,,,"
    write(tmp_path, "ehcp", "plans_2025-01-31.csv", f"{EHCP_HEADER}\n{row.format('')}\n")
    load(con, EHCP, tmp_path)
    assert earlier_versions_counted(con, EHCP) == 0
    later = f"{EHCP_HEADER}\n{row.format('31/08/25')}\nC2,P2,2010-01-01,F,MLD,2019-03-01,x,,,,,,\n"
    write(tmp_path, "ehcp", "plans_2025-02-28.csv", later)
    load(con, EHCP, tmp_path, load_id="L2")
    # P1's later version (P2 has none earlier)
    assert earlier_versions_counted(con, EHCP) == 1
    from rich.console import Console

    from dagster_project.cli.summary import _print_quarantine_examples

    console = Console(record=True, width=300)
    _print_quarantine_examples(con, console)
    assert "1 quarantined ehcp row is a later version of a row an earlier file gives readable" in (
        console.export_text()
    )
    write(tmp_path, "ehcp", "plans_2025-03-31.csv", f"{EHCP_HEADER}\n{row.format('2025-08-31')}\n")
    load(con, EHCP, tmp_path, load_id="L3")
    assert earlier_versions_counted(con, EHCP) == 0  # corrected


def test_a_key_written_another_way_in_the_later_file_still_replaces_the_bad_row(tmp_path, con):
    """The budget keyed by `2024/25` in the file with a bad amount and `2024-25` in its
    correction, a transaction id `T7.0` (Excel's number tail) in one and `T7` in the other:
    staging reads them as one key (the typed values), so the correction replaces the bad row.
    The gate compared the quarantined text with the typed value, counted them unreplaced and
    held the council on a corrected file."""
    from checks.gates import quarantine_within_tolerance
    from ingest.contracts import BUDGET

    header = "financial_year,line,amount\n"
    write(tmp_path, "budget", "budget_v1.csv", header + "2024/25,hnb_allocation,12.3.4\n")
    load(con, BUDGET, tmp_path)
    assert not quarantine_within_tolerance(con, BUDGET, 0.0, 0.0).passed
    write(tmp_path, "budget", "budget_v2.csv", header + "2024-25,hnb_allocation,30000000\n")
    load(con, BUDGET, tmp_path, load_id="L2")
    gate = quarantine_within_tolerance(con, BUDGET, 0.0, 0.0)
    assert gate.passed, gate.summary
    # an id with a decimal tail is the id without it
    write(tmp_path, "finance", "f1.csv", f"{FINANCE_HEADER}\n7.0,2024-05-01,1x0,1.2.1\n")
    load(con, FINANCE, tmp_path, load_id="L3")
    assert not quarantine_within_tolerance(con, FINANCE, 0.0, 0.0).passed
    write(tmp_path, "finance", "f2.csv", f"{FINANCE_HEADER}\n7,2024-05-01,100,1.2.1\n")
    load(con, FINANCE, tmp_path, load_id="L4")
    assert quarantine_within_tolerance(con, FINANCE, 0.0, 0.0).passed


def test_quarantined_money_is_weighed_as_the_replaced_money_is(tmp_path, con):
    """A ledger loaded by an earlier version, which weighed `1.234.567,89` at £0; its correction
    (£12.34) replaces it, and £5,000 of bad rows stay. Taking today's £1.23m weight of the
    replaced row off the stored £5,000 left less than nothing, and the gate passed with £5,000
    of £14,812 in quarantine."""
    from checks.gates import quarantine_within_tolerance

    good = [f"T{n},2024-05-01,100.00,1.2.1" for n in range(1, 99)]
    bad = ['T99,2024-05-01,"1.234.567,89",1.2.1', "T100,2024-05-01,5000.00 GBPx,1.2.1"]
    write(tmp_path, "finance", "fin_2024-05.csv", "\n".join([FINANCE_HEADER, *good, *bad]) + "\n")
    load(con, FINANCE, tmp_path)
    # as the earlier version stored it: the unreadable 1.234.567,89 weighed nothing
    con.execute(
        "UPDATE raw.finance_files SET gross_money_quarantined_gbp = 5000, "
        "gross_money_read_gbp = 14800"
    )
    write(
        tmp_path,
        "finance",
        "fin_2024-05_fix.csv",
        f"{FINANCE_HEADER}\nT99,2024-05-01,12.34,1.2.1\n",
    )
    load(con, FINANCE, tmp_path, load_id="L2")
    gate = quarantine_within_tolerance(con, FINANCE, 0.05, 0.005)
    assert not gate.passed, gate.summary
    assert "£5,000.00 of £14,812.34" in gate.summary


def test_a_list_dated_before_the_bad_row_s_own_does_not_replace_it(tmp_path, con):
    """March's placements list with an unreadable end date, then February's re-sent with the
    placement open: staging keeps March's list (the later day), so February's row replaces
    nothing and the bad row still counts."""
    from checks.gates import quarantine_within_tolerance

    header = "placement_id,child_id,urn,start_date,end_date\n"
    write(
        tmp_path, "placements", "p_2025-03-31.csv", header + "PL1,C1,100001,2024-09-01,31/02/2025\n"
    )
    load(con, PLACEMENTS, tmp_path)
    write(tmp_path, "placements", "p_2025-02-01.csv", header + "PL1,C1,100001,2024-09-01,\n")
    load(con, PLACEMENTS, tmp_path, load_id="L2")
    gate = quarantine_within_tolerance(con, PLACEMENTS, 0.0, 0.0)
    assert not gate.passed and "replaced" not in gate.summary, gate.summary
    # a list dated after it does
    write(tmp_path, "placements", "p_2025-04-30.csv", header + "PL1,C1,100001,2024-09-01,\n")
    load(con, PLACEMENTS, tmp_path, load_id="L3")
    assert quarantine_within_tolerance(con, PLACEMENTS, 0.0, 0.0).passed


def test_the_extracts_ranked_by_named_day_are_those_whose_staging_asks_for_it():
    from checks.gates import NAMED_DAY_EXTRACTS
    from tests.conftest import REPO_ROOT

    asking = {
        re.search(r"current_rows\(\s*'(\w+)'", path.read_text())[1]
        for path in (REPO_ROOT / "dbt" / "models" / "staging").rglob("stg_*.sql")
        if "by_named_day=true" in path.read_text()
    }
    assert asking == set(NAMED_DAY_EXTRACTS)


def test_a_utf8_file_with_windows_1252_lines_pasted_in_keeps_both(tmp_path, con):
    """UTF-8 with a few Windows-1252 lines (a £ pasted from another system) further down: each
    line is read in its own encoding, so the UTF-8 `£` and `Ł` stay what they are and the
    Windows-1252 `£` is a pound too; a line in neither encoding rejects the file by line."""
    header = "transaction_id,posting_date,amount,s251_line,supplier_name"
    rows = [f"T{n},2024-05-01,£1.00,1.2.1,Łukasz Ltd".encode() for n in range(1, 4001)]
    rows[-1] = "T4000,2024-05-01,£5.00,1.2.1,Café".encode("cp1252")
    path = tmp_path / "finance" / "ledger.csv"
    path.parent.mkdir()
    path.write_bytes(b"\n".join([header.encode(), *rows]) + b"\n")
    result = load(con, FINANCE, tmp_path)
    assert [(f.status, f.rows_valid) for f in result.files] == [("loaded", 4000)]
    assert con.execute("SELECT sum(amount) FROM raw.finance").fetchone()[0] == 4004
    names = con.execute(
        "SELECT list(DISTINCT supplier_name ORDER BY supplier_name) FROM raw.finance"
    ).fetchone()[0]
    assert names == ["Café", "Łukasz Ltd"]
    # 0x81 is no character in Windows-1252 either
    path.write_bytes(b"\n".join([header.encode(), rows[0], b"T2,2024-05-01,1,1.2.1,\x81"]) + b"\n")
    [rejected] = load(con, FINANCE, tmp_path, load_id="L2").files
    assert rejected.status == "rejected"
    assert "line 3 is neither UTF-8 nor Windows-1252" in rejected.message


def test_two_headers_that_could_each_be_one_column_reject_the_file(tmp_path, con):
    """`Transaction Date` and `GL Date` are both aliases of posting_date, `Value` and `Net
    Value` of amount: taking the first would load the gross amount and the wrong year without
    a word. A header spelt as the contract's column is the one meant, its aliases extras."""
    write(
        tmp_path,
        "finance",
        "ledger.csv",
        "Transaction ID,Transaction Date,GL Date,Net Value,S251 Line\n"
        "T1,28/03/2024,02/04/2024,100.00,1.2.1\n",
    )
    [rejected] = load(con, FINANCE, tmp_path).files
    assert rejected.status == "rejected"
    assert "'Transaction Date' and 'GL Date' could each be posting_date" in rejected.message
    write(
        tmp_path,
        "finance",
        "ledger.csv",
        "Transaction ID,Posting Date,GL Date,Net Value,S251 Line\n"
        "T1,28/03/2024,02/04/2024,100.00,1.2.1\n",
    )
    [loaded] = load(con, FINANCE, tmp_path, load_id="L2").files
    assert loaded.status == "loaded"
    assert con.execute("SELECT posting_date::VARCHAR FROM raw.finance").fetchone()[0] == (
        "2024-03-28"
    )


def test_rows_after_empty_lines_keep_the_numbers_a_spreadsheet_shows(tmp_path, con):
    """DuckDB skips an empty line without counting it: the rows after it must still be traced
    to the row a spreadsheet (or an auditor counting lines) shows, quarantined or loaded."""
    write(
        tmp_path,
        "finance",
        "ledger.csv",
        FINANCE_HEADER + "\nT1,2024-05-01,100,1.2.1\n\n\n"
        'T2,2024-05-01,50,"1.2.1"\nT3,31/02/2024,50,1.2.1\n',
    )
    [ledger] = load(con, FINANCE, tmp_path).files
    assert (ledger.rows_read, ledger.rows_valid, ledger.rows_quarantined) == (3, 2, 1)
    assert con.execute("SELECT list(_source_row ORDER BY _source_row) FROM raw.finance").fetchone()[
        0
    ] == [2, 5]
    assert reasons(con, "finance") == {6: ["bad_date"]}


def test_a_ledger_with_rows_added_in_another_program_is_read_whole(tmp_path, con):
    """An export's lines end CR LF; rows added in another editor end LF alone. DuckDB's parser
    takes one line ending a file, so the whole ledger (5,359 rows) was rejected for one row."""
    from ingest.readers import _mixed_line_endings

    path = write(
        tmp_path,
        "finance",
        "ledger.csv",
        FINANCE_HEADER + "\r\nT1,2024-05-01,100,1.2.1\r\n\r\n"
        'T2,2024-05-01,"50",1.2.1\r\nT3,2024-05-02,25,1.2.1\nT4,31/02/2024,50,1.2.1\n',
    )
    assert _mixed_line_endings(path)
    [ledger] = load(con, FINANCE, tmp_path).files
    assert (ledger.status, ledger.rows_read, ledger.rows_valid) == ("loaded", 4, 3)
    assert con.execute(
        "SELECT list((_source_row, transaction_id) ORDER BY _source_row) FROM raw.finance"
    ).fetchone()[0] == [(2, "T1"), (4, "T2"), (5, "T3")]
    assert reasons(con, "finance") == {6: ["bad_date"]}
    # the landing file itself is untouched: it is the verbatim record a trace reads back
    assert path.read_bytes().count(b"\r\n") == 4
    # a Windows-1252 file (re-encoded before it is read) the same
    (tmp_path / "cp" / "finance").mkdir(parents=True)
    (tmp_path / "cp" / "finance" / "ledger.csv").write_bytes(
        FINANCE_HEADER.encode() + b"\r\nW1,2024-05-01,\xa3100,1.2.1\r\nW2,2024-05-02,25,1.2.1\n"
    )
    cp = duckdb.connect()
    [ledger] = load(cp, FINANCE, tmp_path / "cp").files
    assert (ledger.status, ledger.rows_valid, ledger.money_read_gbp) == ("loaded", 2, 125)
    # one line ending throughout is not mixed, whichever it is
    assert not _mixed_line_endings(write(tmp_path, "x", "crlf.csv", "a\r\nb\r\n"))
    assert not _mixed_line_endings(write(tmp_path, "x", "lf.csv", "a\nb\n"))


def test_rows_with_every_field_blank_are_not_rows(tmp_path, con):
    """Excel's `,,,` lines at the end of a CSV export hold no data, as empty spreadsheet rows
    hold none: not quarantined, not counted; the rows around them keep their numbers."""
    write(
        tmp_path,
        "finance",
        "ledger.csv",
        FINANCE_HEADER + "\nT1,2024-05-01,100,1.2.1\n,,,\nT2,2024-05-01,50,1.2.1\n,,,\n , ,,\n",
    )
    result = load(con, FINANCE, tmp_path)
    assert [(f.status, f.rows_read, f.rows_valid, f.rows_quarantined) for f in result.files] == [
        ("loaded", 2, 2, 0)
    ]
    assert con.execute("SELECT list(_source_row ORDER BY _source_row) FROM raw.finance").fetchone()[
        0
    ] == [2, 4]


def test_councils_folders_are_councils_and_a_councils_own_files_beside_them_are_refused(tmp_path):
    """DESIGN's many-councils layout (landing/<LA code>/<extract>/…): each folder is a council;
    extract files at the top level beside them belong to no council and stop the refresh, saying
    where they go, except a GIAS extract in reference/, which every council shares."""
    from ingest.load import EmptyLanding, council_folders, landing_councils, require_landing_files

    write(tmp_path / "869", "finance", "ledger.csv", FINANCE_HEADER + "\n")
    write(tmp_path / "825", "ehcp", "plans.csv", EHCP_HEADER + "\n")
    (tmp_path / "archive").mkdir()  # not a council's code: not a council
    require_landing_files(tmp_path)
    assert [c.la_code for c in council_folders(tmp_path)] == ["825", "869"]
    assert [c.folder for c in landing_councils(tmp_path, "999")] == [
        tmp_path / "825",
        tmp_path / "869",
    ]
    write(tmp_path, "reference", "gias_extract.csv", "urn,establishment_type_code\n")
    require_landing_files(tmp_path)
    write(tmp_path, "finance", "ledger.csv", FINANCE_HEADER + "\n")
    with pytest.raises(
        EmptyLanding, match=r"\(825/, 869/\) and also extract files of its own \(finance/\)"
    ):
        require_landing_files(tmp_path)


@pytest.mark.parametrize("name", ["E06000037", "0869", "869 ", "86", "west berkshire"])
def test_a_councils_folder_not_named_by_its_code_stops_the_refresh(tmp_path, name):
    """A council's folder named by its ONS code (or `0869`, `869 `) beside the others was read
    by nobody: its plans and ledger were left out with every gate green. Alone, it was told the
    landing folder held no extract files."""
    from ingest.load import EmptyLanding, require_landing_files

    write(tmp_path / name, "finance", "ledger.csv", FINANCE_HEADER + "\n")
    with pytest.raises(EmptyLanding, match=rf"holds '{name}/' with extract files, but a council"):
        require_landing_files(tmp_path)
    write(tmp_path / "825", "ehcp", "plans.csv", EHCP_HEADER + "\n")
    with pytest.raises(EmptyLanding, match="3-digit old LA code"):
        require_landing_files(tmp_path)


def test_one_councils_landing_folder_takes_its_code_from_the_setting(tmp_path):
    from ingest.load import UNKNOWN_LA_CODE, landing_councils

    write(tmp_path, "finance", "ledger.csv", FINANCE_HEADER + "\n")
    assert landing_councils(tmp_path, "869")[0].la_code == "869"
    assert landing_councils(tmp_path, None) == [
        type(landing_councils(tmp_path)[0])(UNKNOWN_LA_CODE, tmp_path)
    ]


def test_one_councils_files_without_a_code_into_a_warehouse_of_several_are_refused(tmp_path):
    """They had taken the code of whichever council's file the warehouse loaded last: one
    council's ledger published as another's, with every gate passed."""
    from ingest.load import CouncilUnknown, landing_councils

    con = duckdb.connect()
    for code in ("869", "825"):
        write(tmp_path / "many" / code, "finance", "ledger.csv", FINANCE_HEADER + "\n")
    load_extract(con, FINANCE, tmp_path / "many", "L1", KEY, EXTRACT_DATE)
    write(tmp_path / "one", "finance", "ledger.csv", FINANCE_HEADER + "\n")
    with pytest.raises(CouncilUnknown, match="warehouse holds councils 825, 869: set HIGHNEEDS_LA"):
        landing_councils(tmp_path / "one", None, con)
    assert landing_councils(tmp_path / "one", "825", con)[0].la_code == "825"
    single = duckdb.connect()  # a warehouse of one council keeps its code
    load_extract(single, FINANCE, tmp_path / "one", "L1", KEY, EXTRACT_DATE, la_code="869")
    assert landing_councils(tmp_path / "one", None, single)[0].la_code == "869"


def test_the_same_file_in_two_councils_folders_is_each_councils_own(tmp_path):
    """Identical ledgers in two councils' folders: both load, each file recorded with its council,
    and a second load reads neither again."""
    con = duckdb.connect()
    for code in ("869", "825"):
        write(
            tmp_path / code, "finance", "ledger.csv", FINANCE_HEADER + "\nT1,2024-05-01,100,1.2.1\n"
        )
    first = load_extract(con, FINANCE, tmp_path, "L1", KEY, EXTRACT_DATE)
    assert sorted(f.file_name for f in first.files) == [
        "825/finance/ledger.csv",
        "869/finance/ledger.csv",
    ]
    assert con.execute(
        "SELECT la_code, file_name, in_landing FROM raw.finance_files ORDER BY la_code"
    ).fetchall() == [
        ("825", "825/finance/ledger.csv", True),
        ("869", "869/finance/ledger.csv", True),
    ]
    assert con.execute("SELECT count(DISTINCT _file_hash) FROM raw.finance").fetchone()[0] == 2
    again = load_extract(con, FINANCE, tmp_path, "L2", KEY, EXTRACT_DATE)
    assert {f.status for f in again.files} == {"unchanged"}


def test_the_summary_counts_a_regions_shared_gias_file_once():
    """The shared reference/ GIAS file is loaded once per council (each council's rows): the
    refresh's summary showed 3 files and 81 rows for one file of 27 rows in three councils."""
    from rich.console import Console

    from dagster_project.cli.summary import _print_landing

    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.landing_files AS SELECT * FROM (VALUES "
        "('825', 'gias', 'reference/gias.csv', 'loaded', 27, 27, ''), "
        "('869', 'gias', 'reference/gias.csv', 'loaded', 27, 27, ''), "
        "('931', 'gias', 'reference/gias.csv', 'loaded', 27, 27, ''), "
        "('825', 'ehcp', '825/ehcp/a.csv', 'loaded', 10, 10, ''), "
        "('869', 'ehcp', '869/ehcp/a.csv', 'rejected', 0, 0, '869/ehcp/a.csv: bad'), "
        "('931', 'ehcp', '931/ehcp/a.csv', 'loaded', 12, 12, '')) "
        "t(la_code, extract, file_name, status, rows_read, rows_valid, message)"
    )
    con.execute(
        "ALTER TABLE raw.landing_files ADD COLUMN rows_duplicate BIGINT DEFAULT 0; "
        "ALTER TABLE raw.landing_files ADD COLUMN rows_quarantined BIGINT DEFAULT 0; "
        "ALTER TABLE raw.landing_files ADD COLUMN gross_money_quarantined_gbp DECIMAL(18, 2); "
        "ALTER TABLE raw.landing_files ADD COLUMN in_landing BOOLEAN DEFAULT true"
    )
    console = Console(record=True, width=200)
    _print_landing(con, console)
    lines = {
        line.split()[1]: line.split()[3:10:2]
        for line in console.export_text().splitlines()
        if line.split()[1:2] in (["gias"], ["ehcp"])
    }
    # files, rejected, rows read, loaded (every other token: the table's bars between)
    assert lines == {"gias": ["1", "0", "27", "27"], "ehcp": ["3", "1", "22", "22"]}


def test_a_files_reader_settings_apply_in_a_councils_folder_too():
    """`files:` patterns match the name within the extract folder, whether the landing folder
    holds one council or many (`869/finance/…`): with many, a ledger's `sheets:` was ignored and
    every sheet with the ledger's columns read."""
    from ingest.readers import settings_for

    settings = {"files": {"hn_ledger_*.xlsx": {"sheets": ["Ledger"]}}}
    for name in ("finance/hn_ledger_1.xlsx", "869/finance/hn_ledger_1.xlsx"):
        assert settings_for(settings, name)["sheets"] == ["Ledger"]
    assert "sheets" not in settings_for(settings, "869/finance/other.xlsx")
    nested = {"files": {"2024/*.csv": {"sheets": ["x"]}}}
    assert settings_for(nested, "869/sen2/2024/a.csv")["sheets"] == ["x"]


def test_a_reader_setting_given_twice_is_refused(tmp_path):
    """YAML keeps the last of a key given twice: a file pattern's settings written twice lost
    the first, unsaid."""
    from ingest.readers import FileRejected, load_reader_config

    path = tmp_path / "readers.yml"
    path.write_text(
        "finance:\n  files:\n    'hn_*.xlsx': {sheets: [Ledger]}\n"
        "    'hn_*.xlsx': {sheets: [Journal]}\n"
    )
    with pytest.raises(FileRejected, match=r"'hn_\*.xlsx' is given twice \(lines 3 and 4\)"):
        load_reader_config(path)


def test_a_documents_own_line_numbers_are_not_taken_as_transaction_ids(tmp_path, con):
    """`Line ID` numbers each export from 1: taken as transaction_id, a journal file's lines
    1-33 replaced the AP file's lines 1-33 as corrections (£48,798 gone, every gate green). A
    file keyed by them is refused, naming the column it lacks."""
    write(
        tmp_path,
        "finance",
        "ap.csv",
        "Line ID,posting_date,amount,s251_line\n1,2024-05-01,1.00,1.2.1\n",
    )
    [ap] = load(con, FINANCE, tmp_path).files
    assert ap.status == "rejected" and "missing required column(s) transaction_id" in ap.message


def test_a_numeric_id_written_with_a_decimal_tail_is_the_id(tmp_path, con):
    """A number column with blanks, written out by pandas or Excel, reads `925203.0`: as a
    provider URN it matched no school and the place funding fell to central spend."""
    write(
        tmp_path,
        "finance",
        "ap.csv",
        f"{FINANCE_HEADER},provider_urn,provider_ukprn\n"
        "T1,2024-05-01,1.00,1.2.1,925203.0,10012345.00\nT2.5,2024-05-01,1.00,1.2.1,,\n",
    )
    load(con, FINANCE, tmp_path)
    assert con.execute(
        "SELECT transaction_id, provider_urn, provider_ukprn FROM raw.finance ORDER BY 1"
    ).fetchall() == [("T1", "925203", "10012345"), ("T2.5", None, None)]


def test_a_table_saved_in_a_form_the_readers_do_not_read_is_rejected_by_name(tmp_path, con):
    """A ledger year saved as tab-separated .txt (or .tsv, or an old .xls) was skipped without a
    word: three years of spend gone, green. It is rejected, naming the file; a note is not a
    table and stays unread."""
    write(
        tmp_path,
        "finance",
        "ledger_2024-25.csv",
        "transaction_id,posting_date,amount,s251_line\nT1,2024-05-01,100.00,1.2.1\n",
    )
    write(
        tmp_path,
        "finance",
        "ledger_2023-24.txt",
        "transaction_id\tposting_date\tamount\ts251_line\nT0\t2023-05-01\t90.00\t1.2.1\n",
    )
    write(tmp_path, "finance", "notes.md", "the ledger files\n")
    write(
        tmp_path,
        "finance",
        "readme.txt",
        "Ledger extracts from Agresso, one file per year, sent by J Smith.\nAsk finance.\n",
    )
    result = load_extract(con, FINANCE, tmp_path, "L1", KEY, dt.date(2025, 3, 31))
    outcomes = {f.file_name: (f.status, f.message) for f in result.files}
    assert set(outcomes) == {"finance/ledger_2024-25.csv", "finance/ledger_2023-24.txt"}
    status, message = outcomes["finance/ledger_2023-24.txt"]
    assert status == "rejected" and message.startswith(
        "finance/ledger_2023-24.txt: a .txt file is not read"
    ), message
    assert "save it as CSV" in message
    assert outcomes["finance/ledger_2024-25.csv"][0] == "loaded"


def test_two_headers_that_differ_only_in_case_for_one_column_reject_the_file(tmp_path, con):
    """`amount` (gross) and `Amount` (net): the first was loaded and the other kept as an unused
    extra column, without a word (net meant: spend 25 % over). An extra column spelt twice is
    no column of the contract's and is kept."""
    write(
        tmp_path,
        "finance",
        "ledger.csv",
        "transaction_id,posting_date,amount,Amount,s251_line\nT1,2024-05-01,100.00,80.00,1.2.1\n",
    )
    [rejected] = load(con, FINANCE, tmp_path).files
    assert rejected.status == "rejected"
    assert "columns 'amount' and 'Amount' are both amount" in rejected.message, rejected.message
    write(
        tmp_path,
        "finance",
        "ledger.csv",
        "transaction_id,posting_date,amount,s251_line,Note,NOTE\nT1,2024-05-01,100.00,1.2.1,a,b\n",
    )
    [loaded] = load(con, FINANCE, tmp_path, load_id="L2").files
    assert loaded.status == "loaded", loaded.message


def test_an_optional_column_that_reaches_a_figure_written_twice_rejects_the_file(tmp_path, con):
    """A second `annual_cost` (999999.00) was set aside for the first, or the spelling the
    contract uses lost to a header read first through an alias (`End Date`, `end_date`), without
    a word. Two free-text columns (`description`) still keep the first."""
    header = "placement_id,child_id,urn,start_date,{}\n"
    for columns, row in (
        ("annual_cost,annual_cost", "PL1,C1,100001,2024-09-01,24000,999999.00"),
        ("End Date,end_date", "PL1,C1,100001,2024-09-01,2025-07-31,2025-03-31"),
    ):
        write(tmp_path, "placements", "p.csv", header.format(columns) + row + "\n")
        [rejected] = load(con, PLACEMENTS, tmp_path, load_id=columns).files
        assert rejected.status == "rejected", columns
        assert "which one is meant cannot be told" in rejected.message, rejected.message
    write(
        tmp_path,
        "finance",
        "ledger.csv",
        "transaction_id,posting_date,amount,s251_line,description,Description\n"
        "T1,2024-05-01,100.00,1.2.1,a,b\n",
    )
    [loaded] = load(con, FINANCE, tmp_path).files
    assert loaded.status == "loaded", loaded.message


def test_a_workbook_on_the_1904_date_system_reads_its_numbered_dates_from_1904(tmp_path, con):
    """Excel for Mac's 1904 date system: a date of birth stored as a plain number counts days
    from 1 January 1904. Read from 1899, every such date was 4 years and a day early (ages and
    age groups all wrong, green); a cell formatted as a date was right, and stays so."""
    from openpyxl import Workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    workbook = Workbook()
    workbook.epoch = CALENDAR_MAC_1904
    sheet = workbook.active
    sheet.append(["child_id", "plan_id", "date_of_birth", "primary_need", "plan_start_date"])
    # 2012-03-14 is day 40,982 on the 1900 system, 39,520 on the 1904 one
    sheet.append(["C1", "P1", 39_520, "ASD", dt.date(2020, 9, 1)])
    sheet.append(["C2", "P2", dt.date(2011, 5, 2), "SEMH", 41_882])  # 2018-09-01 on 1904
    (tmp_path / "ehcp").mkdir()
    workbook.save(tmp_path / "ehcp" / "plans.xlsx")
    [outcome] = load(con, EHCP, tmp_path).files
    assert outcome.status == "loaded", outcome.message
    assert con.execute(
        "SELECT plan_id, date_of_birth, plan_start_date FROM raw.ehcp ORDER BY plan_id"
    ).fetchall() == [
        ("P1", dt.date(2012, 3, 14), dt.date(2020, 9, 1)),
        ("P2", dt.date(2011, 5, 2), dt.date(2018, 9, 1)),
    ]


def test_files_new_together_load_in_the_order_of_the_days_their_names_give(tmp_path, con):
    """A plan list re-sent with a cease date added (`plans_15-01-2025.csv`) beside the one it
    corrects (`plans_31-12-2024.csv`), both new in one refresh: in name order the older list
    loaded last, its version of the plan won and the ceased plan stayed open in every census
    after, every gate green. Every name giving a day, that day orders them; else their names."""
    older = "C1,P1,2012-05-01,F,ASD,2020-09-01,,,,,,,\n"
    ceased = "C1,P1,2012-05-01,F,ASD,2020-09-01,2024-06-30,5,,,,,\n"
    write(tmp_path, "ehcp", "plans_15-01-2025.csv", f"{EHCP_HEADER}\n{ceased}")
    write(tmp_path, "ehcp", "plans_31-12-2024.csv", f"{EHCP_HEADER}\n{older}")
    load(con, EHCP, tmp_path)
    assert con.execute("SELECT file_name FROM raw.ehcp_files ORDER BY file_seq").fetchall() == [
        ("ehcp/plans_31-12-2024.csv",),
        ("ehcp/plans_15-01-2025.csv",),
    ]
    # a name without a day: every file in name order
    write(tmp_path, "ehcp", "plans_corrections.csv", f"{EHCP_HEADER}\n{ceased}")
    assert [p.name for p in landing_files(tmp_path, EHCP)] == [
        "plans_15-01-2025.csv",
        "plans_31-12-2024.csv",
        "plans_corrections.csv",
    ]


def test_a_header_alias_listed_twice_is_refused_naming_both_columns(tmp_path):
    from ingest.readers import load_aliases

    shipped = load_aliases()  # the reviewed file reads
    assert shipped["ehcp"]["dob"] == "date_of_birth"
    twice = tmp_path / "aliases.yml"
    twice.write_text("ehcp:\n  child_id: [Person ID]\n  upn: [person id]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"'person id' is listed for child_id and for upn"):
        load_aliases(twice)
    twice.write_text("ehcp:\n  child_id: [Person ID]\n  child_id: [Pupil]\n", encoding="utf-8")
    with pytest.raises(yaml.YAMLError, match="given twice"):
        load_aliases(twice)


def test_a_council_code_changed_under_a_warehouse_stops_before_anything_is_loaded(tmp_path, con):
    """HIGHNEEDS_LA_CODE=868 typed for 869 relabelled every table and titled the report with
    another council on a green run. A code given where there was none is taken."""
    from ingest.load import CouncilCodeChanged

    write(tmp_path, "ehcp", "plans.csv", EHCP_HEADER + "\nC1,P1,2010-09-01,M,ASD,2019-03-01\n")
    load(con, EHCP, tmp_path)  # no code: 000
    load_extract(con, EHCP, tmp_path, "L2", KEY, EXTRACT_DATE, la_code="869")
    assert con.execute("SELECT DISTINCT la_code FROM raw.ehcp_files").fetchall() == [("869",)]
    with pytest.raises(CouncilCodeChanged, match=r"HIGHNEEDS_LA_CODE=868, but .* council 869's"):
        load_extract(con, EHCP, tmp_path, "L3", KEY, EXTRACT_DATE, la_code="868")
    assert con.execute("SELECT DISTINCT la_code FROM raw.ehcp_files").fetchall() == [("869",)]
    load_extract(con, EHCP, tmp_path, "L4", KEY, EXTRACT_DATE, la_code="869")


def test_what_an_earlier_version_stored_and_todays_rules_drop_is_cleared_once(tmp_path, con):
    """An upgraded warehouse kept, until it was rebuilt, the extra columns an earlier version
    stored and today's rules drop (`Known As`, `Town`), and a rejected file's first line of data
    as its columns found, with the message that quoted it."""
    import ingest.load as load_module

    write(
        tmp_path,
        "ehcp",
        "plans.csv",
        EHCP_HEADER.replace(",notes", "") + ",notes,Known As\nC1,P1,2010-09-01,M,ASD,2019-03-01,"
        ",,,,,,keep,Ziggy\n",
    )
    load(con, EHCP, tmp_path)
    # as an earlier version left them: the name kept, a data row quoted and kept
    con.execute(
        "UPDATE raw.ehcp SET _extra_columns = map(['notes', 'Known As'], ['keep', 'Ziggy'])"
    )
    con.execute(
        "INSERT INTO raw.ehcp_files (file_hash, extract, file_name, status, message, "
        "columns_found) VALUES ('h2', 'ehcp', 'ehcp/part2.csv', 'rejected', "
        "'ehcp/part2.csv: missing required column(s) child_id; found columns: C9, Riley', "
        "['C9', 'Riley'])"
    )
    con.execute("DELETE FROM meta.personal_rules")
    load(con, EHCP, tmp_path, load_id="L2")
    assert con.execute("SELECT _extra_columns FROM raw.ehcp").fetchone()[0] == {"notes": "keep"}
    message, found = con.execute(
        "SELECT message, columns_found FROM raw.ehcp_files WHERE file_hash = 'h2'"
    ).fetchone()
    assert found == [] and "Riley" not in message and "message is withheld" in message
    # once: the next load finds the rules it was cleared by, and reads nothing again
    calls = []
    original = load_module.is_personal_header
    load_module.is_personal_header = lambda header: calls.append(header) or original(header)
    try:
        load(con, EHCP, tmp_path, load_id="L3")
    finally:
        load_module.is_personal_header = original
    assert calls == []


def test_a_files_named_day_is_the_last_day_its_name_gives():
    """A list named for the range it covers (`ehcp_2017-04-01_to_2026-01-20.csv`) is as at the
    range's last day: its first had the list reaching April 2017, and no census since counted."""
    from ingest.load import _named_day

    assert _named_day(Path("ehcp_2017-04-01_to_2026-01-20.csv")) == dt.date(2026, 1, 20)
    assert _named_day(Path("plans_31-12-2024.csv")) == dt.date(2024, 12, 31)
    assert _named_day(Path("plans_01-04-2017_to_2026-01-20.csv")) == dt.date(2026, 1, 20)
    assert _named_day(Path("finance_2023-24.csv")) is None
    # as GIAS names its downloads; eight digits elsewhere are no day (a batch id read as one had
    # a November list reach April and count January's census)
    assert _named_day(Path("edubasealldata20250601.csv")) == dt.date(2025, 6, 1)
    assert _named_day(Path("EduBaseAllData20250601.csv")) == dt.date(2025, 6, 1)
    assert _named_day(Path("placements_batch_20260412.csv")) is None
    assert _named_day(Path("ledger_20242025.csv")) is None
    assert _named_day(Path("plans_2025-02-30.csv")) is None


def test_the_summary_names_the_optional_columns_no_file_fills(tmp_path, con):
    """A plans extract without plan_cease_date published "0 ceased" every year and a ledger
    without child_id or placement_id typed its spend by provider alone, and the refresh's
    summary said nothing of either column."""
    from rich.console import Console

    from dagster_project.cli.summary import _print_unfilled, unfilled_columns

    write(
        tmp_path,
        "ehcp",
        "plans.csv",
        "child_id,plan_id,date_of_birth,primary_need,plan_start_date\n"
        "C1,P1,2012-05-01,ASD,2020-09-01\n",
    )
    write(tmp_path, "finance", "ledger.csv", f"{FINANCE_HEADER}\nT1,2024-05-01,10.00,1.2.1\n")
    load(con, EHCP, tmp_path)
    load(con, FINANCE, tmp_path)
    assert unfilled_columns(con) == [
        "ehcp plan_cease_date (no plan counts as ceased: every plan stays in the caseload)",
        "ehcp cease_reason (ceased plans have no reason: ceased_not_rec)",
        "finance child_id and placement_id (payments are typed by their provider alone: a "
        "type paid with none counts as central)",
    ]
    console = Console(record=True, width=300)
    _print_unfilled(con, console)
    assert console.export_text().startswith("Optional columns no file fills: ehcp plan_cease")
    # a column given on one row of one file is filled; an extract not landed says nothing
    write(
        tmp_path,
        "ehcp",
        "plans.csv",
        f"{EHCP_HEADER}\nC1,P1,2012-05-01,M,ASD,2020-09-01,2024-07-31,5,,,,,\n",
    )
    load(con, EHCP, tmp_path, load_id="L2")
    assert [s.split(" (")[0] for s in unfilled_columns(con)] == [
        "finance child_id and placement_id"
    ]


def test_a_file_written_over_while_it_is_read_is_rejected_and_read_again(
    tmp_path, con, monkeypatch
):
    """Hashed whole, then read while a copy wrote over it in place (the same bytes again, from
    the start): a ledger loaded 11,999 of its 24,286 rows under the whole file's hash, published
    green, and was never read again. A file whose size or times moved between its hashing and
    the end of its read is rejected, nothing of it loaded, and read again at the next refresh."""
    import ingest.load as load_module
    from ingest.hashing import HashCache

    rows = [",".join(map(str, r)) for r in _ledger_rows(1, 200)]
    whole = "\n".join([FINANCE_HEADER, *rows]) + "\n"
    ledger = write(tmp_path, "finance", "ledger.csv", whole)
    real_read = load_module._read_file

    def read_mid_copy(con, path, *args):
        path.write_text("\n".join([FINANCE_HEADER, *rows[:80]]) + "\n")  # the copy begins again
        try:
            return real_read(con, path, *args)
        finally:
            path.write_text(whole)  # and ends with the same bytes

    monkeypatch.setattr(load_module, "_read_file", read_mid_copy)
    hashes = HashCache(None)
    result = load_extract(con, FINANCE, tmp_path, "L1", KEY, EXTRACT_DATE, hashes=hashes)
    assert [(f.file_name, f.status) for f in result.files] == [("finance/ledger.csv", "rejected")]
    assert result.files[0].message.startswith(
        "finance/ledger.csv: changed while it was being read (ledger.csv was 5,"
    ), result.files[0].message
    assert (
        "Nothing of it is loaded; it is read again at the next refresh" in result.files[0].message
    )
    assert con.execute("SELECT count(*) FROM raw.finance").fetchone()[0] == 0
    monkeypatch.setattr(load_module, "_read_file", real_read)
    result = load_extract(con, FINANCE, tmp_path, "L2", KEY, EXTRACT_DATE, hashes=HashCache(None))
    assert [(f.status, f.rows_valid) for f in result.files] == [("loaded", 200)]
    assert ledger.read_text() == whole
