"""The whole corpus in one landing folder through `highneeds refresh`: every case behaves as its
expected.yml says, rows and money reconcile, and the summary names each problem."""

import shutil

import duckdb
import yaml

from dagster_project.cli import main
from tests.unit.test_corpus import CASES, case_names


def merge_corpus(landing, readers_path) -> dict[tuple[str, str], dict]:
    """Copy every case into one landing folder (a sub-folder per case); return the expectations
    keyed by (extract, file name as the warehouse records it)."""
    expectations: dict[tuple[str, str], dict] = {}
    readers: dict[str, dict] = {}
    for name in case_names():
        folder = CASES / name
        for path in folder.rglob("*"):
            if not path.is_file() or path.parent == folder:
                continue
            extract, *rest = path.relative_to(folder).parts
            # sen2/<return>/<file>: the case is the return
            rest = rest[1:] if extract == "sen2" else rest
            target = landing / extract / name / "/".join(rest)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        if (folder / "readers.yml").exists():
            for extract, settings in yaml.safe_load((folder / "readers.yml").read_text()).items():
                files = readers.setdefault(extract, {}).setdefault("files", {})
                files[f"{name}/*"] = settings
        for extract, files in yaml.safe_load((folder / "expected.yml").read_text()).items():
            for file_name, want in files.items():
                _, *rest = file_name.split("/")
                rest = rest[1:] if file_name.startswith("sen2/") else rest
                merged = f"{file_name.split('/')[0]}/{name}" + (
                    "/" + "/".join(rest) if rest else ""
                )
                expectations[(extract, merged)] = want
    readers_path.write_text(yaml.safe_dump(readers))
    return expectations


def test_the_corpus_through_refresh(pipeline_env, monkeypatch, capsys):
    landing = pipeline_env / "landing"
    readers = pipeline_env / "readers.yml"
    expectations = merge_corpus(landing, readers)
    monkeypatch.setenv("HIGHNEEDS_READERS", str(readers))
    monkeypatch.setenv("HIGHNEEDS_EXTRACT_DATE", "2026-03-31")
    code = main(["refresh"])
    out = capsys.readouterr().out
    assert code == 1

    with duckdb.connect(str(pipeline_env / "warehouse.duckdb"), read_only=True) as con:
        for (extract, file_name), want in expectations.items():
            row = con.execute(
                "SELECT status, message, rows_read, rows_valid, rows_duplicate, rows_quarantined "
                f"FROM raw.{extract}_files "
                "WHERE file_name = ?",
                [file_name],
            ).fetchone()
            assert row is not None, f"{extract}: {file_name} not recorded"
            assert row[0] == want["status"], (file_name, row[1])
            for column, got in zip(
                ("rows_read", "rows_valid", "rows_duplicate", "rows_quarantined"),
                row[2:],
                strict=False,
            ):
                if column in want:
                    assert got == want[column], (file_name, column)
        # the gates asset, which records the checks in meta, runs only when every gate passed
        assert (
            con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'meta' "
                "AND table_name = 'check_results'"
            ).fetchone()[0]
            == 0
        )

    # every extract's rows and money reconciled;
    # what failed is the rejected files and the quarantine
    assert "rows_accounted_for" not in out.split("Checks:")[1]
    for name in ("ehcp", "placements", "finance", "budget"):
        assert f"raw/{name} · no_rejected_files" in out or name == "budget"
        assert f"quarantined {name}: " in out  # each quarantined row's reason is named
        # the cases share one council here: every quarantined plan is P1, which case 36's file,
        # loaded after them, gives readable; staging reads that one, so the gate counts none
        failed = f"raw/{name} · quarantine_within_tolerance" in out
        assert failed != (name == "ehcp"), name
    for (_extract, file_name), want in expectations.items():
        if want["status"] == "rejected":
            assert file_name in out
    assert "finance/22_unparseable_amount/ledger.csv:2 amount: bad amount ('twelve')" in out
    not_run = (
        " ".join(out.split("Not run")[1].split()).split("assets in ")[1].split(".")[0].split(", ")
    )
    assert {"staging", "intermediate", "marts", "gates", "forecast", "serving", "report"} <= set(
        not_run
    ), not_run
