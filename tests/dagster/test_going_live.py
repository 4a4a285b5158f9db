"""Going live as the README says: its one step switches the nightly schedule and the landing sensor
on, and the example systemd units start highneeds commands that exist."""

import configparser
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from dagster_project.cli import build_parser
from dagster_project.cli.ui import cmd_daemon, cmd_ui
from tests.conftest import REPO_ROOT
from tests.dagster.test_ui_read_only import assert_quiet, automation_states, running_ui

UNITS = REPO_ROOT / "deploy" / "systemd"


def documented_step(pattern: str) -> str:
    """The command of the README's "Going live" section that matches `pattern`."""
    section = (
        (REPO_ROOT / "README.md")
        .read_text(encoding="utf-8")
        .split("## Going live", 1)[1]
        .split("\n## ", 1)[0]
    )
    commands = [
        line
        for block in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
        for line in block.splitlines()
    ]
    return next(line for line in commands if re.search(pattern, line))


def test_the_readme_step_switches_the_schedule_and_the_sensor_on(pipeline_env, monkeypatch):
    monkeypatch.delenv("HIGHNEEDS_AUTOMATION", raising=False)
    subprocess.run(
        ["bash", "-c", documented_step("HIGHNEEDS_AUTOMATION")], cwd=pipeline_env, check=True
    )
    # as the service runs it: the UI without a daemon shows what the daemon will act on
    with running_ui(pipeline_env, "--no-daemon") as (port, _, log_path):
        assert_quiet(port, log_path)
        assert automation_states(port) == {
            "nightly_refresh": "RUNNING",
            "landing_files_changed": "RUNNING",
        }


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(UNITS / name, encoding="utf-8")
    return parser


def test_the_systemd_units_run_the_daemon_and_the_ui_from_the_checkout():
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["highneeds"] == "dagster_project.cli:main"
    handlers = {}
    for name in ("highneeds-daemon.service", "highneeds-ui.service"):
        service = unit(name)
        assert {"Unit", "Service", "Install"} <= set(service.sections()), name
        checkout = Path(service["Service"]["WorkingDirectory"])
        program, *arguments = service["Service"]["ExecStart"].split()
        # the checkout's own venv (as `make setup` makes it), here and on the server
        assert Path(program).relative_to(checkout) == Path(".venv/bin/highneeds"), name
        assert (Path(sys.executable).parent / "highneeds").exists()
        handlers[name] = build_parser().parse_args(arguments)
        assert service["Install"]["WantedBy"] == "multi-user.target"
    assert handlers["highneeds-daemon.service"].handler is cmd_daemon
    ui = handlers["highneeds-ui.service"]
    # one daemon per DAGSTER_HOME: the UI's unit starts none
    assert ui.handler is cmd_ui and ui.no_daemon and not ui.read_only and ui.host == "127.0.0.1"
