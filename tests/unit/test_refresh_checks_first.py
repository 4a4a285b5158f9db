"""`highneeds refresh` checks the mitigation log its forecast would stop on before loading."""

import io

from rich.console import Console

from dagster_project.cli.refresh import cmd_refresh, mitigations_problem
from dagster_project.settings import load_settings

ENTRY = (
    "mitigations:\n  - name: Inclusion\n    lever: reduce_new_plans\n"
    "    provision_types: [mainstream]\n    start_year: 2026-27\n    status: assessed\n"
    "    line_of_enquiry: early support and inclusion\n    effect: {{percent: {percent}}}\n"
)


def test_a_bad_mitigations_file_stops_the_refresh_before_anything_loads(tmp_path, monkeypatch):
    """`percent: 5%` was refused by the forecast step, after about a minute of ingest and dbt."""
    landing = tmp_path / "landing"
    (landing / "ehcp").mkdir(parents=True)
    shared = tmp_path / "shared.yml"
    shared.write_text(ENTRY.format(percent="5%"))
    env = {
        "HIGHNEEDS_LANDING": str(landing),
        "HIGHNEEDS_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "HIGHNEEDS_MITIGATIONS": str(shared),
        "HIGHNEEDS_PSEUDONYM_KEY": "k" * 40,
    }
    settings = load_settings(env, dotenv=tmp_path / "none.env")
    problem = mitigations_problem(settings)
    assert problem == (
        f"{shared}: mitigation 1 ('Inclusion'): effect percent must be a number, not '5%'"
    )
    # the council's own log, where its landing folder holds one, is the one checked
    (landing / "mitigations.yml").write_text(ENTRY.format(percent=5))
    assert mitigations_problem(settings) is None
    (landing / "mitigations.yml").write_text(ENTRY.format(percent=500))
    assert "percent must be between -100 and 100" in mitigations_problem(settings)
    # in a folder of many councils, a council's own log holds that council alone (at the
    # forecast step); the shared one is checked only when a council uses it
    (landing / "mitigations.yml").unlink()
    (landing / "ehcp").rmdir()
    for code in ("825", "869"):
        (landing / code / "ehcp").mkdir(parents=True)
        (landing / code / "ehcp" / "ehcp.csv").write_text("plan_id\n")
        (landing / code / "mitigations.yml").write_text(ENTRY.format(percent=5))
    assert mitigations_problem(settings) is None
    (landing / "869" / "mitigations.yml").unlink()
    assert "not '5%'" in mitigations_problem(settings)

    # the refresh stops there, nothing loaded (no warehouse written)
    console = Console(file=io.StringIO(), width=300)
    args = type("Args", (), {"wait": False, "whole": False})()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cmd_refresh(args, console) == 2
    out = console.file.getvalue()
    assert "effect percent must be a number, not '5%'" in out and "Nothing was loaded" in out
    assert not (tmp_path / "w.duckdb").exists()
