"""SEN2 returns as COLLECT's Blade export writes them: its formats, its extra columns, several
returns, and one child id shared with the ledger whichever person field the council names."""

import csv
import datetime as dt
import shutil

import duckdb
import pytest

from ingest.contracts import EHCP, FINANCE, PLACEMENTS, REQUESTS
from ingest.load import load_extract
from ingest.pseudonymise import keyed_hash, keyed_hex
from ingest.sen2 import find_returns
from ingest.sen2_child_ids import ChildIdRule
from tests.sen2_council import CENSUS_DATES, CHILDREN, write, write_sen2_landing, write_sen2_return

KEY = "unit-test-key-of-at-least-32-bytes-long"
EXTRACT_DATE = dt.date(2026, 3, 31)


def load(con, extract, landing, child_id=None, load_id="L1"):
    return load_extract(con, extract, landing, load_id, KEY, EXTRACT_DATE, sen2_child_id=child_id)


@pytest.fixture
def con():
    return duckdb.connect()


def test_collect_dates_indicators_and_extra_columns_are_read(tmp_path, con):
    write_sen2_return(tmp_path / "sen2" / "2025", CENSUS_DATES[2], version=3)
    for extract in (EHCP, PLACEMENTS, REQUESTS):
        result = load(con, extract, tmp_path)
        assert [(f.status, f.rows_quarantined) for f in result.files] == [("loaded", 0)], (
            result.files
        )
    plan = con.execute(
        "SELECT date_of_birth, plan_start_date, primary_need, secondary_need FROM raw.ehcp "
        "WHERE child_id = ?",
        [keyed_hash(CHILDREN[9].upn, KEY)],
    ).fetchone()
    assert plan == (dt.date(2014, 8, 31), dt.date(2024, 3, 1), "ASD", "SEMH")
    # the plan's id starts with the child's hash as hex text, as it did when child ids were hex
    # too: a warehouse's SEN2 plans keep their ids
    (plan_id,) = con.execute(
        "SELECT plan_id FROM raw.ehcp WHERE child_id = ?", [keyed_hash(CHILDREN[9].upn, KEY)]
    ).fetchone()
    assert plan_id == f"{keyed_hex(CHILDREN[9].upn, KEY)}|2024-03-01"
    unit = con.execute(
        "SELECT sen_unit, resourced_provision, start_date FROM raw.placements "
        "WHERE child_id = ? AND urn = '110001'",
        [keyed_hash(CHILDREN[6].upn, KEY)],
    ).fetchone()
    assert unit == ("Y", "N", dt.date(2023, 9, 1))
    extra = con.execute("SELECT _extra_columns FROM raw.ehcp LIMIT 1").fetchone()[0]
    assert extra["sen2.lea"] == "869" and extra["sen2.referencedate"] == "2025-Jan-16 00:00:00"
    assert {
        "namedplan.nativeid",
        "namedplan.namedplanorderseqcolumn",
        "assessment.week20",
        "requests.sourceid",
    } <= set(extra)
    extra = con.execute("SELECT _extra_columns FROM raw.placements LIMIT 1").fetchone()[0]
    assert {
        "placementdetail.attendancepattern",
        "placementdetail.nativeid",
        "activeplans.lastreview",
    } <= set(extra)
    assert con.execute("SELECT DISTINCT census_date FROM raw.requests").fetchall() == [
        (CENSUS_DATES[2],)
    ]


def test_an_older_return_names_sex_gendercurrent(tmp_path, con):
    write_sen2_return(tmp_path / "sen2" / "2023", CENSUS_DATES[0], version=1)
    load(con, EHCP, tmp_path)
    assert con.execute("SELECT count(*) FROM raw.ehcp WHERE sex IS NULL").fetchone()[0] == 0


def test_returns_are_loaded_oldest_census_first_whatever_their_folders_are_called(tmp_path):
    for name, census in zip(("c", "b", "a"), CENSUS_DATES, strict=False):
        write_sen2_return(tmp_path / "sen2" / name, census, version=2)
    assert [r.census_date() for r in find_returns(tmp_path)] == list(CENSUS_DATES)


def test_returns_exported_into_one_folder_are_each_a_return(tmp_path, con):
    """Three years' Blade exports in sen2/ itself: keyed by table alone, the last file name won
    each table (`08-02-2023` sorts after `05-02-2025`), so the 2024 and 2025 returns were
    dropped without a word and their censuses were 2023's carried forward."""
    for census in CENSUS_DATES:
        write_sen2_return(tmp_path / "sen2", census, version=2)
    returns = find_returns(tmp_path)
    assert [r.census_date() for r in returns] == list(CENSUS_DATES)
    assert [r.name for r in returns] == [
        f"sen2/Blade-Export_{census + dt.timedelta(days=20):%d-%m-%Y}" for census in CENSUS_DATES
    ]
    assert all(len(r.tables) == len(returns[0].tables) for r in returns)
    loaded = load(con, EHCP, tmp_path).files
    assert {f.status for f in loaded} == {"loaded"}
    assert con.execute("SELECT count(DISTINCT census_date) FROM raw.ehcp_files").fetchone()[0] == 3


@pytest.mark.parametrize("where", ["same folder", "own folder"])
def test_two_returns_of_one_census_are_both_rejected_naming_both(tmp_path, con, where):
    """A re-sent return beside the one it corrects: in one folder the older export won by its
    file name; in a folder of its own both were read, and a plan corrected in one (another start
    date) counted as two new plans, every gate green."""
    write_sen2_return(tmp_path / "sen2" / "2025", CENSUS_DATES[2], version=2)
    write_sen2_return(tmp_path / "resent", CENSUS_DATES[2], version=3)
    target = tmp_path / "sen2" / ("2025" if where == "same folder" else "2025-resent")
    target.mkdir(exist_ok=True)
    for path in (tmp_path / "resent").iterdir():
        table = path.name.rsplit("_", 1)[1]
        shutil.move(path, target / f"Blade-Export_03-03-2025_{table}")
    outcomes = load(con, EHCP, tmp_path).files
    assert [f.status for f in outcomes] == ["rejected", "rejected"]
    names = sorted(f.file_name for f in outcomes)
    message = outcomes[0].message
    assert f"{names[0]} and {names[1]} are both the SEN2 return of census day 2025-01-16" in (
        message
    )
    assert "keep one of them in the landing folder" in message
    # one taken out, the other loads
    if where == "own folder":
        shutil.rmtree(target)
    else:
        for path in target.glob("Blade-Export_03-03-2025_*"):
            path.unlink()
    assert [f.status for f in load(con, EHCP, tmp_path, load_id="L2").files] == ["loaded"]


def _append(folder, table, rows):
    [path] = list(folder.glob(f"Blade-Export_*_{table}.csv"))
    with path.open(newline="") as handle:
        header = next(csv.reader(handle))
    with path.open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=header, restval="").writerows(rows)


def _return_with_zara(tmp_path):
    """The January 2025 return with one more person, Zara (persontableid 3900): its folder."""
    folder = tmp_path / "sen2" / "2025"
    write_sen2_return(folder, CENSUS_DATES[2], version=3)
    _append(folder, "person", [
        {"persontableid": 3900, "sen2tableid": 1, "surname": "Zed", "forename": "Zara",
         "personbirthdate": "2012-Feb-02 00:00:00", "sex": "F", "upn": "H801200001099"}
    ])  # fmt: skip
    return folder


def test_a_placement_listed_under_both_of_a_childs_plans_is_one_placement(tmp_path, con):
    """A plan ceased in the year and a new one issued: both active plans list the school the
    child attended all year, as the specification asks. The two rows differ only in their links
    to the plans; compared on those too, both were quarantined as conflicting, and the child
    counted in no setting (under the 1 % tolerance in a real return: green)."""
    folder = _return_with_zara(tmp_path)
    for n, received, outcome, started, ceased in (
        (1, "2019-Jan-10", "2019-Apr-17", "2019-May-01", "2024-Mar-31 00:00:00"),
        (2, "2024-May-01", "2024-Sep-17", "2024-Oct-01", ""),
    ):
        key = 3900 + n
        _append(folder, "requests", [
            {"requeststableid": key, "persontableid": 3900,
             "receiveddate": f"{received} 00:00:00", "requestoutcome": "A"}
        ])  # fmt: skip
        _append(folder, "assessment", [
            {"assessmenttableid": key, "requeststableid": key, "assessmentoutcome": "Y",
             "assessmentoutcomedate": f"{outcome} 00:00:00"}
        ])  # fmt: skip
        _append(folder, "namedplan", [
            {"namedplantableid": key, "assessmenttableid": key,
             "startdate": f"{started} 00:00:00", "ceasedate": ceased,
             "ceasereason": "2" if ceased else ""}
        ])  # fmt: skip
        _append(folder, "activeplans", [{"activeplanstableid": key, "requeststableid": key}])
        _append(folder, "senneed", [
            {"activeplanstableid": key, "sentype": "SPLD", "sentyperank": 1}
        ])  # fmt: skip
        _append(folder, "placementdetail", [
            {"activeplanstableid": key, "urn": "110001", "placementrank": 1,
             "entrydate": "2019-Sep-01 00:00:00", "senunitindicator": "false",
             "resourcedprovisionindicator": "false", "nativeid": f"PD-Z{n}",
             "placementdetailorderseqcolumn": 900 + n}
        ])  # fmt: skip
    [outcome] = load(con, PLACEMENTS, tmp_path).files
    assert (outcome.status, outcome.rows_quarantined, outcome.rows_duplicate) == ("loaded", 0, 1)
    zara = keyed_hash("H801200001099", KEY)
    assert (
        con.execute(
            "SELECT count(*) FROM raw.placements WHERE child_id = ? AND urn = '110001'", [zara]
        ).fetchone()[0]
        == 1
    )


def test_withdrawn_requests_and_assessments_are_read_from_their_outcome_codes(tmp_path, con):
    """SEN2 records a request withdrawn before a decision (requestoutcome W) and an assessment
    withdrawn (assessmentoutcome W) with an outcome date: both were read as refusals (a request
    dated without an assessment, an assessment dated without a plan). An assessment whose
    outcome is a decision to issue (Y) before its named plan is issued is open, not a decision
    not to issue."""
    folder = _return_with_zara(tmp_path)
    for key, received, outcome, assessed in (
        (3901, "2024-Feb-01", "W", None),  # withdrawn before a decision
        (3902, "2024-Mar-01", "N", None),  # refused
        (3903, "2024-Apr-01", "A", "W"),  # assessment withdrawn
        (3904, "2024-May-01", "A", "N"),  # assessed, not issued
        (3905, "2024-Jun-01", "A", "Y"),  # decided to issue, the final plan not out yet
    ):
        _append(folder, "requests", [
            {"requeststableid": key, "persontableid": 3900,
             "receiveddate": f"{received} 00:00:00", "requestoutcome": outcome,
             "requestoutcomedate": "2024-Jun-03 00:00:00"}
        ])  # fmt: skip
        if assessed:
            _append(folder, "assessment", [
                {"assessmenttableid": key, "requeststableid": key, "assessmentoutcome": assessed,
                 "assessmentoutcomedate": "2024-Sep-02 00:00:00"}
            ])  # fmt: skip
    load(con, REQUESTS, tmp_path)
    zara = keyed_hash("H801200001099", KEY)
    assert con.execute(
        "SELECT request_date, decided_to_assess, plan_issued FROM raw.requests "
        "WHERE child_id = ? ORDER BY request_date",
        [zara],
    ).fetchall() == [
        (dt.date(2024, 2, 1), "W", None),
        (dt.date(2024, 3, 1), "N", None),
        (dt.date(2024, 4, 1), "Y", "W"),
        (dt.date(2024, 5, 1), "Y", "N"),
        (dt.date(2024, 6, 1), "Y", None),
    ]


def test_a_return_without_its_census_day_beside_others_is_rejected(tmp_path, con):
    """Without its header module a return sorted as the oldest: the 2024 return's copies of
    its plans won, so its corrections were lost and ceased plans counted, every gate green.
    Alone it is refused too: its requests reach back years, and only the census day says which
    calendar year they report in full (every year was published as a whole year's requests)."""
    for name, census in zip(("2024", "2025"), CENSUS_DATES[1:], strict=True):
        write_sen2_return(tmp_path / "sen2" / name, census, version=2)
    for header in (tmp_path / "sen2" / "2025").glob("*_sen2.csv"):
        header.unlink()
    outcomes = {f.file_name.split("/")[1]: f for f in load(con, EHCP, tmp_path).files}
    assert outcomes["2024"].status == "loaded"
    assert outcomes["2025"].status == "rejected"
    assert "no readable census day" in outcomes["2025"].message
    shutil.rmtree(tmp_path / "sen2" / "2024")
    for extract in (EHCP, REQUESTS):
        [alone] = load(duckdb.connect(), extract, tmp_path).files
        assert alone.status == "rejected" and "no readable census day" in alone.message
        assert "beside it" not in alone.message


@pytest.mark.parametrize(
    "ledger_id, rule",
    [
        ("upn", None),
        ("native_id", ChildIdRule("nativeid")),
        ("case_id", "mapping"),
    ],
)
def test_sen2_children_and_ledger_payments_share_one_keyed_id(tmp_path, con, ledger_id, rule):
    landing = tmp_path / "landing"
    write_sen2_landing(landing, ledger_id)
    if rule == "mapping":  # the council's case-management id, which the return does not carry
        write(tmp_path / "ids.csv", ["UPN", "child_id"], [[c.upn, c.case_id] for c in CHILDREN])
        rule = ChildIdRule("mapping", tmp_path / "ids.csv")
    for extract in (EHCP, PLACEMENTS, REQUESTS, FINANCE):
        assert all(
            f.status == "loaded" and f.rows_quarantined == 0
            for f in load(con, extract, landing, rule).files
        )
    expected = {keyed_hash(getattr(c, ledger_id), KEY) for c in CHILDREN}
    assert {r[0] for r in con.execute("SELECT child_id FROM raw.requests").fetchall()} == expected
    unknown = con.execute(
        "SELECT count(*) FROM raw.finance WHERE child_id IS NOT NULL "
        "AND child_id NOT IN (SELECT child_id FROM raw.ehcp)"
    ).fetchone()[0]
    assert unknown == 0
    placed = con.execute(
        "SELECT count(*) FROM raw.placements WHERE child_id NOT IN (SELECT child_id FROM raw.ehcp)"
    ).fetchone()[0]
    assert placed == 0


def test_a_child_without_the_chosen_field_falls_back_to_another_named_one(tmp_path, con):
    folder = tmp_path / "sen2" / "2025"
    write(folder / "Blade-Export_01-02-2025_sen2.csv", ["referencedate"], [["2025-01-16"]])
    write(
        folder / "Blade-Export_01-02-2025_person.csv",
        ["persontableid", "upn", "uniquelearnernumber", "nativeid"],
        [[1, "", "1234567890", "CMS-9"], [2, "", "", ""]],
    )
    write(
        folder / "Blade-Export_01-02-2025_requests.csv",
        ["requeststableid", "persontableid", "receiveddate"],
        [[10, 1, "2024-Mar-01 00:00:00"], [20, 2, "2024-Apr-01 00:00:00"]],
    )
    load(con, REQUESTS, tmp_path)
    ids = {r[0] for r in con.execute("SELECT child_id FROM raw.requests").fetchall()}
    # never the bare ULN (it could be another child's chosen id), and the return's own person
    # row last: it joins nothing outside this return
    assert ids == {keyed_hash("uln:1234567890", KEY), keyed_hash("sen2/2025:person:2", KEY)}


def test_a_mapping_file_without_a_child_id_column_rejects_the_return_and_says_why(tmp_path, con):
    write_sen2_return(tmp_path / "sen2" / "2025", CENSUS_DATES[2], version=3)
    write(tmp_path / "ids.csv", ["upn", "case"], [[CHILDREN[0].upn, "X1"]])
    result = load(con, EHCP, tmp_path, ChildIdRule("mapping", tmp_path / "ids.csv"))
    assert [f.status for f in result.files] == ["rejected"]
    assert (
        "child_id column" in result.files[0].message
        and CHILDREN[0].upn not in result.files[0].message
    )


def test_a_mapping_file_without_its_header_line_is_not_quoted(tmp_path, con):
    """A mapping file whose header line was lost: its first line (a UPN and a child id) was
    quoted as the columns found, and the message is kept with the return's record."""
    write_sen2_return(tmp_path / "sen2" / "2025", CENSUS_DATES[2], version=3)
    (tmp_path / "ids.csv").write_text(f"{CHILDREN[0].upn},ZZQMAPCHILD1\n{CHILDREN[1].upn},X2\n")
    result = load(con, EHCP, tmp_path, ChildIdRule("mapping", tmp_path / "ids.csv"))
    assert [f.status for f in result.files] == ["rejected"]
    message = result.files[0].message
    assert "2 fields naming none of the columns, not quoted" in message
    assert CHILDREN[0].upn not in message and "ZZQMAPCHILD1" not in message


def test_a_new_child_id_rule_reads_the_returns_again_and_retires_the_old_ids(tmp_path, con):
    write_sen2_landing(tmp_path)
    load(con, EHCP, tmp_path)
    load(con, EHCP, tmp_path, ChildIdRule("nativeid"), load_id="L2")
    current = con.execute(
        "SELECT DISTINCT v.child_id FROM raw.ehcp v "
        "JOIN raw.ehcp_files f ON f.file_hash = v._file_hash "
        "WHERE f.in_landing"
    ).fetchall()
    assert {r[0] for r in current} == {
        keyed_hash(c.native_id, KEY)
        for c in CHILDREN
        if c is not CHILDREN[10] and c is not CHILDREN[11]
    }


def test_a_later_return_supersedes_an_earlier_one_by_key(tmp_path, con):
    write_sen2_landing(tmp_path)
    shutil.rmtree(tmp_path / "finance")
    load(con, EHCP, tmp_path)
    # the plan that ceased in March 2023: open in the January 2023 return, ceased in 2024's
    versions = con.execute(
        "SELECT f.file_seq, v.plan_cease_date FROM raw.ehcp v "
        "JOIN raw.ehcp_files f ON f.file_hash = v._file_hash "
        "WHERE v.child_id = ? ORDER BY f.file_seq",
        [keyed_hash(CHILDREN[5].upn, KEY)],
    ).fetchall()
    assert [cease for _, cease in versions] == [None, dt.date(2023, 3, 31)]


def test_a_return_in_a_councils_folder_is_that_councils_and_named_from_the_landing_folder(
    tmp_path, con
):
    """landing/869/sen2/<return>/: its rows are council 869's, and its parts are named as the
    landing folder holds them, so a trace's --verbatim finds them again."""
    write_sen2_landing(tmp_path / "869")
    result = load(con, EHCP, tmp_path)
    names = {f.file_name for f in result.files}
    assert names and all(name.startswith("869/sen2/") for name in names)
    assert all((tmp_path / name).is_file() for name in names)
    assert con.execute("SELECT DISTINCT la_code FROM raw.ehcp_files").fetchall() == [("869",)]


def test_a_return_naming_another_council_is_rejected_not_counted_as_this_ones(tmp_path, con):
    """Council 869's return (its header: lea 869) filed in council 825's folder: its plans had
    counted as 825's, every gate green. Rejected by name, saying where it belongs; a landing
    folder of one council set to another code refuses it too."""
    write_sen2_landing(tmp_path / "825")
    outcomes = load(con, EHCP, tmp_path).files
    assert outcomes and {f.status for f in outcomes} == {"rejected"}
    assert "its header gives lea 869, the SEN2 return of council 869, but it is in council " in (
        outcomes[0].message
    )
    assert "move it to 869/sen2/" in outcomes[0].message
    assert con.execute("SELECT count(*) FROM raw.ehcp").fetchone()[0] == 0
    # moved to its own council's folder, it loads
    shutil.move(tmp_path / "825", tmp_path / "869")
    assert {f.status for f in load(con, EHCP, tmp_path, load_id="L2").files} == {"loaded"}

    flat = tmp_path / "flat"
    write_sen2_landing(flat)
    one = duckdb.connect()
    refused = load_extract(one, EHCP, flat, "L1", KEY, EXTRACT_DATE, la_code="825").files
    assert {f.status for f in refused} == {"rejected"}
    assert "this landing folder is council 825's" in refused[0].message
    # no code set: the returns' own
    assert {f.status for f in load(duckdb.connect(), EHCP, flat).files} == {"loaded"}


def test_a_placement_whose_plan_is_not_in_the_return_is_quarantined_not_lost(tmp_path, con):
    """SEN2's guide lists missing person or request ids among the errors returns hold: a
    placement row linked to an active plan the return lacks, or to none, is read and
    quarantined for its missing child (its file and row kept), never dropped unseen."""
    folder = tmp_path / "sen2" / "2025"
    write_sen2_return(folder, CENSUS_DATES[2], version=3)
    [detail] = folder.glob("*placementdetail*")
    lines = detail.read_text().splitlines()
    header, first = lines[0].split(","), lines[1].split(",")
    link = header.index("activeplanstableid")
    orphans = [first[:link] + [value] + first[link + 1 :] for value in ("999999", "")]
    detail.write_text("\n".join([*lines, *(",".join(row) for row in orphans)]) + "\n")
    [loaded] = load(con, PLACEMENTS, tmp_path).files
    assert (loaded.rows_read, loaded.rows_quarantined) == (len(lines) - 1 + 2, 2)
    quarantined = con.execute(
        "SELECT list(_source_row ORDER BY _source_row), bool_and(list_contains(reason_codes, "
        "'missing_required_value')) FROM quarantine.placements"
    ).fetchone()
    assert quarantined == ([len(lines) + 1, len(lines) + 2], True)


def test_a_return_saved_with_uk_dates_keeps_its_plans_and_requests_ids(tmp_path, con):
    """A return re-saved through Excel (dates 25/09/2022 10:00) built its plan and request ids
    from that text: 2024's copy of a request was another request than 2023's and 2025's, each
    retired by the other, and the requests mart lost them on a green run."""

    def ids(landing, extract, column):
        con = duckdb.connect()
        load(con, extract, landing)
        return sorted(
            r[0] for r in con.execute(f"SELECT {column} FROM raw.{extract.name}").fetchall()
        )

    write_sen2_landing(tmp_path / "iso")
    shutil.copytree(tmp_path / "iso", tmp_path / "uk")
    for path in (tmp_path / "uk" / "sen2" / "2024").glob("*.csv"):
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        dated = [i for i, name in enumerate(rows[0]) if name.lower().endswith("date")]
        for row in rows[1:]:
            for i in dated:
                if row[i]:
                    when = dt.datetime.strptime(row[i], "%Y-%b-%d %H:%M:%S")
                    row[i] = when.strftime("%d/%m/%Y 10:00")
        with path.open("w", newline="") as handle:
            csv.writer(handle).writerows(rows)
    for extract, column in ((REQUESTS, "request_id"), (EHCP, "plan_id")):
        assert ids(tmp_path / "uk", extract, column) == ids(tmp_path / "iso", extract, column)


def test_an_empty_file_of_a_table_the_loader_does_not_read_leaves_the_return_loaded(tmp_path, con):
    """A 0-byte `…_plandetail.csv` beside the return rejected the whole return ("the file is
    empty"), though nothing reads that table."""
    folder = tmp_path / "sen2" / "2025"
    write_sen2_return(folder, CENSUS_DATES[2], version=3)
    export = next(folder.glob("*_person.csv")).name.removesuffix("_person.csv")
    (folder / f"{export}_plandetail.csv").write_bytes(b"")
    for extract in (EHCP, PLACEMENTS, REQUESTS):
        assert [f.status for f in load(con, extract, tmp_path).files] == ["loaded"]
    # a table it reads, empty, still rejects the return, saying so
    (folder / f"{export}_senneed.csv").write_bytes(b"")
    result = load(duckdb.connect(), EHCP, tmp_path)
    assert [f.status for f in result.files] == ["rejected"]


def test_a_persons_line_given_twice_is_read_once_and_two_different_ones_reject_the_return(
    tmp_path, con
):
    """Every table hangs from person: a person's line repeated doubled each of the child's
    requests, plans and placements, and the refresh stopped on a gate naming the other tables.
    A repeat word for word is read once; two different lines for one person are refused by
    file, rows and column."""
    folder = _return_with_zara(tmp_path)
    _append(folder, "requests", [
        {"requeststableid": 3901, "persontableid": 3900,
         "receiveddate": "2024-Feb-01 00:00:00", "requestoutcome": "N",
         "requestoutcomedate": "2024-Mar-01 00:00:00"}
    ])  # fmt: skip
    zara = {"persontableid": 3900, "sen2tableid": 1, "surname": "Zed", "forename": "Zara",
            "personbirthdate": "2012-Feb-02 00:00:00", "sex": "F",
            "upn": "H801200001099"}  # fmt: skip
    _append(folder, "person", [zara])
    [outcome] = load(con, REQUESTS, tmp_path).files
    assert outcome.status == "loaded", outcome.message
    child = keyed_hash("H801200001099", KEY)
    assert con.execute(
        "SELECT count(*) FROM raw.requests WHERE child_id = ?", [child]
    ).fetchone() == (1,)
    _append(folder, "person", [{**zara, "surname": "Zedd"}])
    [outcome] = load(duckdb.connect(), REQUESTS, tmp_path).files
    assert outcome.status == "rejected"
    assert "person.csv: rows" in outcome.message and "column persontableid" in outcome.message
    assert "person 3900 is given by 2 different lines" in outcome.message


def test_one_child_under_two_person_ids_with_the_same_plan_is_counted_once(tmp_path, con):
    """The same UPN under two person ids (a record merged in the case system, exported twice),
    each with the same request, assessment and plan: the rows differ only in COLLECT's table
    ids and NativeIds, and both were quarantined as conflicting duplicates, the child missing
    from the caseload, the requests and the plans issued. They are one plan and one request."""
    folder = _return_with_zara(tmp_path)
    _append(folder, "person", [
        {"persontableid": 3950, "sen2tableid": 1, "surname": "Zed", "forename": "Zara",
         "personbirthdate": "2012-Feb-02 00:00:00", "sex": "F", "upn": "H801200001099"}
    ])  # fmt: skip
    for person, key in ((3900, 3901), (3950, 3951)):
        _append(folder, "requests", [
            {"requeststableid": key, "persontableid": person,
             "receiveddate": "2024-Feb-01 00:00:00", "requestoutcome": "A",
             "nativeid": f"R-{key}"}
        ])  # fmt: skip
        _append(folder, "assessment", [
            {"assessmenttableid": key, "requeststableid": key, "assessmentoutcome": "Y",
             "assessmentoutcomedate": "2024-May-01 00:00:00", "nativeid": f"A-{key}"}
        ])  # fmt: skip
        _append(folder, "namedplan", [
            {"namedplantableid": key, "assessmenttableid": key,
             "startdate": "2024-Jun-01 00:00:00", "nativeid": f"P-{key}"}
        ])  # fmt: skip
        _append(folder, "activeplans", [{"activeplanstableid": key, "requeststableid": key}])
        _append(folder, "senneed", [
            {"activeplanstableid": key, "sentype": "ASD", "sentyperank": 1}
        ])  # fmt: skip
    zara = keyed_hash("H801200001099", KEY)
    for extract, table in ((EHCP, "ehcp"), (REQUESTS, "requests")):
        [outcome] = load(con, extract, tmp_path).files
        assert (outcome.status, outcome.rows_quarantined, outcome.rows_duplicate) == (
            "loaded",
            0,
            1,
        ), (table, outcome)
        assert con.execute(
            f"SELECT count(*) FROM raw.{table} WHERE child_id = ?", [zara]
        ).fetchone() == (1,)
    # the same request with another date is not a repeat: which is right cannot be known
    _append(folder, "requests", [
        {"requeststableid": 3952, "persontableid": 3950,
         "receiveddate": "2024-Feb-01 00:00:00", "requestoutcome": "N",
         "requestoutcomedate": "2024-Mar-01 00:00:00"}
    ])  # fmt: skip
    again = duckdb.connect()
    [outcome] = load(again, REQUESTS, tmp_path).files
    assert (outcome.rows_quarantined, outcome.rows_duplicate) == (2, 1), outcome
    assert again.execute(
        "SELECT count(*) FROM raw.requests WHERE child_id = ?", [zara]
    ).fetchone() == (0,)


def test_a_return_whose_year_and_census_day_disagree_is_rejected_naming_both(tmp_path, con):
    """A 2024 return dated 2023-01-18 was read as 2023's: 2023's requests vanished and it was
    ordered before the real 2023 return, with every gate green."""
    write_sen2_landing(tmp_path)
    headers = [
        path
        for path in sorted((tmp_path / "sen2").rglob("*.csv"))
        if "referencedate" in path.read_text(encoding="utf-8-sig").splitlines()[0].lower()
    ]
    assert headers
    header = headers[-1]
    lines = header.read_text(encoding="utf-8-sig").splitlines()
    names = [n.strip().lower() for n in lines[0].split(",")]
    row = lines[1].split(",")
    year = int(row[names.index("year")])
    row[names.index("year")] = str(year + 1)
    header.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    outcomes = load(con, EHCP, tmp_path).files
    rejected = [f for f in outcomes if f.status == "rejected"]
    assert len(rejected) == 1, [f.message for f in outcomes]
    assert (
        f"{header.relative_to(tmp_path)} row 2, columns year and referencedate: the header "
        f"gives year {year + 1} but referencedate "
    ) in rejected[0].message
    assert f"the {year + 1} return's census day is in January {year + 1}" in rejected[0].message


def test_a_request_rows_column_read_from_the_named_plan_is_named_so(tmp_path, con):
    """A request whose named plan starts after the extract date is quarantined: the summary
    named `requests.csv:<row> plan_start_date`, a column requests.csv has not (the date is the
    named plan's startdate)."""
    import io

    from rich.console import Console

    from dagster_project.cli.summary import _print_examples
    from ingest.sen2 import read_from

    folder = _return_with_zara(tmp_path)
    _append(folder, "requests", [
        {"requeststableid": 3901, "persontableid": 3900,
         "receiveddate": "2024-Feb-01 00:00:00", "requestoutcome": "A"}
    ])  # fmt: skip
    _append(folder, "assessment", [
        {"assessmenttableid": 3901, "requeststableid": 3901, "assessmentoutcome": "Y",
         "assessmentoutcomedate": "2024-May-01 00:00:00"}
    ])  # fmt: skip
    _append(folder, "namedplan", [
        {"namedplantableid": 3901, "assessmenttableid": 3901, "startdate": "2027-Jun-01 00:00:00"}
    ])  # fmt: skip
    [outcome] = load(con, REQUESTS, tmp_path).files
    assert outcome.rows_quarantined == 1
    row = con.execute(
        "SELECT 'date_after_extract', 1, _source_file, _source_row, 'plan_start_date', NULL "
        "FROM quarantine.requests"
    ).fetchone()
    assert row[2].endswith("_requests.csv")
    console = Console(file=io.StringIO(), width=300)
    _print_examples(console, "quarantined", "quarantine.requests", [row])
    said = console.file.getvalue()
    assert f"{row[2]}:{row[3]} plan_start_date (read from namedplan.startdate): date" in said
    assert read_from("ehcp/plans.csv", "plan_start_date") is None
    assert read_from(row[2], "request_date") is None  # requests.csv's own receiveddate
