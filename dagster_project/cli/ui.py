"""`highneeds ui` and `highneeds daemon`: the Dagster webserver (with or without the daemon, or
read-only) with the report served over http beside it, and the daemon alone for a service."""

import argparse
import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

from rich.console import Console

from ..settings import REPO_ROOT, Settings, load_settings
from .runner import DAGSTER_YAML, prepare_dagster_home

# Dagster's `dev` command warns that `dg dev` (another package) supersedes it; it is what runs the
# webserver and the daemon together here, so the warning is only noise for the user.
QUIET_DAGSTER_DEV = "ignore:Function `dev_command` is superseded:FutureWarning"


def cmd_ui(args: argparse.Namespace, console: Console) -> int:
    from ..settings import load_report_settings

    settings = load_settings()
    prepare_dagster_home(settings)
    _complete_dagster_yaml(settings)
    bin_dir = Path(sys.executable).parent
    where = ["-w", str(REPO_ROOT / "workspace.yaml"), "-h", args.host, "-p", str(args.port)]
    if args.read_only:
        command = [str(bin_dir / "dagster-webserver"), *where, "--read-only"]
    elif args.no_daemon:
        command = [str(bin_dir / "dagster-webserver"), *where]
    else:
        command = [str(bin_dir / "dagster"), "dev", *where]
    daemon = (
        "no daemon"
        if args.read_only or args.no_daemon
        else (
            "with the daemon; nightly schedule and landing sensor "
            + ("on" if settings.automation else "off (HIGHNEEDS_AUTOMATION=on switches them on)")
        )
    )
    console.print(
        f"Dagster UI on http://{args.host}:{args.port} ({daemon}; "
        f"DAGSTER_HOME={settings.dagster_home})",
        highlight=False,
    )
    report = load_report_settings(settings)
    server = _serve_report(report, args.host, console)
    warnings = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), QUIET_DAGSTER_DEV]))
    try:
        # Dagster reads a .env in its working directory over the environment; started from the
        # repository it would take the repository's .env in place of the settings resolved above
        # (another warehouse, another DAGSTER_HOME). DAGSTER_HOME holds no .env: the settings
        # reach the UI, the daemon and their runs in their environment only.
        environment = {**os.environ, **settings.environment(), "PYTHONWARNINGS": warnings}
        return subprocess.call(command, cwd=settings.dagster_home, env=environment)
    finally:
        if server is not None:
            server.shutdown()


def cmd_daemon(args: argparse.Namespace, console: Console) -> int:
    """The Dagster daemon alone (nightly schedule, landing sensor, run queue): as a service, beside
    `highneeds ui --no-daemon` (see deploy/systemd/)."""
    settings = load_settings()
    prepare_dagster_home(settings)
    _complete_dagster_yaml(settings)
    console.print(
        f"Dagster daemon for {settings.landing} (DAGSTER_HOME={settings.dagster_home}); "
        "nightly schedule and landing sensor "
        f"{'on' if settings.automation else 'off unless switched on in the UI'}",
        highlight=False,
    )
    command = [
        str(Path(sys.executable).parent / "dagster-daemon"),
        "run",
        "-w",
        str(REPO_ROOT / "workspace.yaml"),
    ]
    # not the repository: its .env (see cmd_ui); the settings in the daemon's environment only
    environment = {**os.environ, **settings.environment()}
    return subprocess.call(command, cwd=settings.dagster_home, env=environment)


def _complete_dagster_yaml(settings: Settings) -> None:
    """Give a DAGSTER_HOME made by an earlier version the sections of the repository's dagster.yaml
    it lacks (telemetry off, no community pop-up), appended so its own settings stay as they are."""
    import yaml

    target = settings.dagster_home / "dagster.yaml"
    ours = yaml.safe_load(DAGSTER_YAML.read_text(encoding="utf-8"))
    theirs = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
    missing = {key: value for key, value in ours.items() if key not in theirs}
    if missing:
        with target.open("a", encoding="utf-8") as handle:
            handle.write(
                f"\n# added by highneeds (see {DAGSTER_YAML.name} in the repository)\n"
                + yaml.safe_dump(missing, sort_keys=False)
            )


class _QuietReportHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        """Requests are not logged: the terminal stays the Dagster UI's."""


def _serve_report(report, host: str, console: Console) -> http.server.ThreadingHTTPServer | None:
    """Serve the report folder (HIGHNEEDS_REPORT_DIR) over http beside the UI, so its links open in
    any browser that reaches the UI (a file:/// link opens only on the server). None when the
    port is taken: the UI still starts."""
    handler = functools.partial(_QuietReportHandler, directory=str(report.out_dir))
    try:
        server = http.server.ThreadingHTTPServer((host, report.port), handler)
    except OSError as error:
        console.print(
            f"[yellow]Report not served: port {report.port} ({error}); "
            "set HIGHNEEDS_REPORT_PORT.[/yellow]",
            highlight=False,
        )
        return None
    threading.Thread(target=server.serve_forever, name="report-server", daemon=True).start()
    console.print(
        f"Report on {report.url_of(report.out_dir / 'internal' / 'report.html')} "
        f"(and publication/report.html; from {report.out_dir})",
        highlight=False,
    )
    return server
