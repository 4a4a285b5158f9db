"""The DfE's published figures shipped with highneeds: the readers get from the compact copy exactly
what they get from the DfE's full files, and `highneeds fetch-published` refreshes it from the
statistics service (its responses replayed here from files in the API's documented shape: no
network in tests)."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from dagster_project.cli import main
from forecast.published import load_published
from forecast.published_extract import (
    EES_API,
    SHIPPED,
    TABLES,
    ExtractError,
    compact,
    fetch_extract,
)
from report.benchmarks import benchmark, load_published_data
from report.requests import read_published
from tests.conftest import FIXTURES, reference_file

EES = FIXTURES / "ees"


def test_the_shipped_copy_gives_the_readers_what_the_full_files_give():
    full = reference_file(
        "ehcp_2025_release/caseload.csv", "the 'Education, health and care plans' release"
    ).parents[1]
    shipped, published = load_published(SHIPPED), load_published(full)
    assert shipped.keys() == published.keys() and len(shipped) > 150
    for code, council in published.items():
        for part in ("caseload", "new_plans", "caseload_by_age"):
            pd.testing.assert_frame_equal(
                getattr(shipped[code], part), getattr(council, part), obj=f"{code} {part}"
            )
        assert (shipped[code].name, shipped[code].region) == (council.name, council.region)
    ours, theirs = (
        benchmark(load_published_data(SHIPPED), "869"),
        benchmark(load_published_data(full), "869"),
    )
    for part in ("table", "neighbours", "trends", "flags"):
        pd.testing.assert_frame_equal(getattr(ours, part), getattr(theirs, part), obj=part)
    order = ["measure", "code", "year"]
    pd.testing.assert_frame_equal(
        read_published(SHIPPED).sort_values(order, ignore_index=True),
        read_published(full).sort_values(order, ignore_index=True),
    )
    assert sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file()) < 8_000_000
    assert "Open Government Licence v3.0" in (SHIPPED / "README.md").read_text()


def test_the_shipped_copy_is_what_the_script_builds_from_the_full_files(tmp_path, capsys):
    full = reference_file(
        "ehcp_2025_release/caseload.csv", "the 'Education, health and care plans' release"
    ).parents[1]
    assert main(["fetch-published", "--from", str(full), "--out", str(tmp_path / "built")]) == 0
    assert "caseload.csv: 7,913 rows" in " ".join(capsys.readouterr().out.split())
    built = {p.relative_to(tmp_path / "built") for p in (tmp_path / "built").rglob("*.*")}
    assert built == {p.relative_to(SHIPPED) for p in SHIPPED.rglob("*.*")} - {Path("README.md")}
    for name in built:
        if name.suffix == ".csv":
            assert (tmp_path / "built" / name).read_bytes() == (SHIPPED / name).read_bytes(), name
        else:  # a workbook's bytes hold the time it was written: compare its cells
            ours, theirs = (
                pd.read_excel(folder / name, sheet_name=None, header=None)
                for folder in (tmp_path / "built", SHIPPED)
            )
            assert ours.keys() == theirs.keys() and all(ours[k].equals(theirs[k]) for k in ours), (
                name
            )


def replay(csvs: dict[str, bytes]):
    """The statistics service as files: publications,
    two pages of data sets, and each data set's CSV."""

    def get(url: str) -> bytes:
        assert url.startswith(EES_API), url
        if "/publications?" in url:
            return (EES / "publications.json").read_bytes()
        if match := re.search(r"/data-sets\?page=(\d+)", url):
            return (EES / f"data_sets_page{match.group(1)}.json").read_bytes()
        return csvs[re.search(r"/data-sets/([^/]+)/csv$", url).group(1)]

    return get


def data_set_ids() -> dict[str, str]:
    listed = [
        d
        for page in (1, 2)
        for d in json.loads((EES / f"data_sets_page{page}.json").read_text())["results"]
    ]
    return {d["title"]: d["id"] for d in listed}


def served_csvs() -> dict[str, bytes]:
    """Each data set as the service would send it: the full layout (here: the shipped rows plus a
    column the readers do not use), one data set (primary need) that is not ours."""
    ids = data_set_ids()
    files = {
        "EHC plans: caseload by placement": "caseload.csv",
        "New EHC plans by placement": "newplans.csv",
        "Requests for EHC needs assessment": "requests.csv",
        "EHC needs assessments": "assessments.csv",
        "EHC plans issued within 20 weeks": "timeliness_20_week.csv",
    }
    csvs = {}
    for title, name in files.items():
        frame = pd.read_csv(SHIPPED / "ehcp_2025" / name, dtype=str, keep_default_na=False)
        frame.insert(1, "time_identifier", "Academic year")
        csvs[ids[title]] = frame.to_csv(index=False).encode()
    csvs[ids["EHC plans by primary need"]] = (
        b"time_period,geographic_level,number_asd\n2025,National,1\n"
    )

    return csvs


def test_fetch_published_refreshes_the_ehcp_tables_and_keeps_the_dsg_files(tmp_path):
    out = tmp_path / "published"
    found = fetch_extract(out, get=replay(served_csvs()))
    assert set(found) == {
        "caseload.csv",
        "newplans.csv",
        "requests.csv",
        "assessments.csv",
        "timeliness_20_week.csv",
    }
    assert found["caseload.csv"].startswith(
        "EHC plans: caseload by placement (version 1.0, published 2025-06-26"
    )
    for name in found:  # compacted back to the readers' columns
        assert (out / "ehcp_2025" / name).read_bytes() == (
            SHIPPED / "ehcp_2025" / name
        ).read_bytes(), name
    for kept in (
        "dsg/dsg_allocations_by_la_2019-20_to_2023-24.csv",
        "dsg/dedicated-schools-grant_2023-24_blocks_detail.xlsx",
        "ehcp_2022/sen2_estab_caseload.csv",
    ):
        assert (out / kept).exists(), kept
    assert benchmark(load_published_data(out), "869").table["councils_ranked"].max() > 140


def test_a_fetch_that_misses_a_table_changes_nothing(tmp_path):
    out = tmp_path / "published"
    shutil.copytree(SHIPPED, out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    csvs = served_csvs()
    del csvs[data_set_ids()["EHC plans issued within 20 weeks"]]
    with pytest.raises(ExtractError, match="timeliness_20_week.csv"):
        fetch_extract(
            out,
            get=replay({**csvs, data_set_ids()["EHC plans issued within 20 weeks"]: b"a,b\n1,2\n"}),
        )
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    assert not list(tmp_path.glob("published.*"))


def test_a_release_that_splits_special_academies_and_free_schools_compacts_to_their_sum(tmp_path):
    """The 2026 release gives special academies and special free schools apart: the script
    and fetch-published refused it (no column special_academy_free), so only reading the DfE's
    files directly handled it. Compacted, the two are one column again, their sum."""
    caseload = SHIPPED / "ehcp_2025" / "caseload.csv"
    frame = pd.read_csv(caseload, dtype=str, keep_default_na=False)
    value = frame.pop("special_academy_free")
    numeric = value.str.fullmatch(r"[0-9]+")
    frame["special_academy"] = value.where(
        ~numeric, (value[numeric].astype(int) * 2 // 3).astype(str)
    )
    frame["special_free_school"] = value.where(
        ~numeric, (value[numeric].astype(int) - value[numeric].astype(int) * 2 // 3).astype(str)
    )
    assert (frame["special_free_school"] != value).any()  # the parts are not the whole
    (tmp_path / "full").mkdir()
    frame.to_csv(tmp_path / "full" / "caseload.csv", index=False)
    table = next(t for t in TABLES if t.name == "caseload.csv")
    assert table.identifies(list(frame.columns))
    out = tmp_path / "out.csv"
    compact(tmp_path / "full" / "caseload.csv", table, out)
    assert out.read_bytes() == caseload.read_bytes()
    # a file of both layouts: the parts where the old column is blank (its figures were lost)
    latest = frame["time_period"] == frame["time_period"].max()
    frame["special_academy_free"] = value.where(~latest, "")
    frame.loc[~latest, ["special_academy", "special_free_school"]] = ""
    frame.to_csv(tmp_path / "full" / "caseload.csv", index=False)
    compact(tmp_path / "full" / "caseload.csv", table, out)
    assert out.read_bytes() == caseload.read_bytes()


def test_a_release_writing_its_headers_in_another_case_compacts_to_the_same_extract(tmp_path):
    """The DfE has changed a column's case between releases: matched by exact name, the script
    and fetch-published refused such a file as not the DfE's table. Compacted, it is written
    under the extract's own names, as before."""
    for table in (t for t in TABLES if t.name in ("timeliness_20_week.csv", "caseload.csv")):
        shipped = next(SHIPPED.rglob(table.name))
        frame = pd.read_csv(shipped, dtype=str, keep_default_na=False)
        frame.columns = [f"{c.swapcase()} " for c in frame.columns]
        assert table.identifies(list(frame.columns))
        frame.to_csv(tmp_path / table.name, index=False)
        out = tmp_path / f"out_{table.name}"
        compact(tmp_path / table.name, table, out)
        assert out.read_bytes() == shipped.read_bytes(), table.name
