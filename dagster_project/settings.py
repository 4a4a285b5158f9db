"""Settings, read from environment variables (documented in .env.example) with sensible defaults.

`load_settings()` builds one typed, frozen `Settings` from a `.env` file in the working directory
(the same file `dagster dev` reads) overlaid with the environment, which wins. It reads them and
never writes them back: nothing here changes `os.environ`. Each process builds its settings once
(the CLI per command, Dagster when its definitions load) and hands the object down: to the assets
as a resource, to dbt as `--vars` on its command line (`Settings.dbt_vars`), to the Dagster UI and
daemon processes as their environment (`Settings.environment`). Every default is here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import dotenv_values

from forecast.mitigations import EXAMPLE_MITIGATIONS  # the shipped mitigation log

# postings, placements and plans dated before it are quarantined (HIGHNEEDS_DATE_FLOOR)
from ingest.contracts import DEFAULT_DATE_FLOOR

if TYPE_CHECKING:
    import duckdb

    from forecast.settings import ForecastSettings
    from ingest.sen2_child_ids import ChildIdRule

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt"
COST_BOUNDS = DBT_PROJECT_DIR / "seeds" / "cost_bounds.csv"
# A key of fewer bytes is refused: HMAC-SHA256 needs a secret at least as long as its output's
# security level, and a short typed key could be guessed. Generated keys are 32 random bytes.
MIN_PSEUDONYM_KEY_BYTES = 32
DEMO_LA_CODE = "869"  # West Berkshire: the synthetic council is calibrated to its published figures
# the demo council's forecast settings: the defaults with its special schools' places
DEMO_FORECAST_SETTINGS = REPO_ROOT / "forecast" / "config" / "demo.forecast.yml"
DEFAULT_READERS = REPO_ROOT / "ingest" / "config" / "readers.yml"
DEFAULT_FORECAST_SETTINGS = REPO_ROOT / "forecast" / "config" / "forecast.yml"
DEFAULT_SUPPRESSION_THRESHOLD = 5
OWNER_ONLY_UMASK = 0o077
# A few bad rows never stop the night: up to this share of an extract's rows, and of its money,
# may wait in quarantine before the refresh blocks.
DEFAULT_QUARANTINE_ROWS_TOLERANCE = 0.01
DEFAULT_QUARANTINE_MONEY_TOLERANCE = 0.005
# More than this share of payments or placements pointing to a child or placement the warehouse
# does not know is a key or extract mismatch, not a data-quality nuisance: the refresh blocks.
DEFAULT_UNLINKED_TOLERANCE = 0.05
# DuckDB's buffer for the refresh (ingest and dbt);
# past it, joins and sorts spill to <warehouse>.tmp/
DEFAULT_DUCKDB_MEMORY_LIMIT = "4GB"
DEFAULT_REPORT_PORT = 3001  # the report, served by `highneeds ui` beside the Dagster UI (3000)
# where the data lives unless set; relative to the working directory
DEFAULT_LANDING = "data/landing"
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_SERVING = "data/serving.duckdb"
DEFAULT_DAGSTER_HOME = "data/dagster_home"
# the variables that are settings: the rest of the environment is not read
SETTING_PREFIX = "HIGHNEEDS_"
DAGSTER_HOME = "DAGSTER_HOME"


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    serving: Path
    dagster_home: Path
    pseudonym_key: str | None = dataclasses.field(repr=False)  # a secret: never in a log line
    mitigations: Path
    readers: Path
    forecast_settings: Path  # the forecast's settings file (HIGHNEEDS_FORECAST_SETTINGS)
    forecast: ForecastSettings
    quarantine_tolerance: float  # share of an extract's rows
    quarantine_money_tolerance: float  # share of an extract's money (absolute pounds)
    unlinked_tolerance: float  # share of payments / placements for an unknown child or placement
    date_floor: dt.date
    sen2_child_id: ChildIdRule  # which SEN2 person field is the child id the ledger carries
    min_fte_for_unit_cost_gate: float
    extract_date: dt.date
    serving_pseudonym_key: str | None = dataclasses.field(repr=False)
    suppression_threshold: int
    serving_parquet: Path | None
    serving_storage_version: str
    serving_file_mode: int
    duckdb_memory_limit: str
    duckdb_threads: int  # HIGHNEEDS_DUCKDB_THREADS (default: every CPU this process may use)
    automation: (
        bool  # HIGHNEEDS_AUTOMATION=on: the nightly schedule and the landing sensor start running
    )
    # the report's (ReportSettings, from load_report_settings)
    report_dir: Path  # HIGHNEEDS_REPORT_DIR (default: report/ beside the warehouse)
    la_code: str | None  # HIGHNEEDS_LA_CODE (unset: from the latest SEN2 return, when it says)
    council_name: str | None  # HIGHNEEDS_COUNCIL_NAME (unset: the DfE's name for la_code)
    published: Path | None  # HIGHNEEDS_PUBLISHED (unset: see published_folder)
    neighbours: tuple[str, ...]  # HIGHNEEDS_NEIGHBOURS (empty: computed)
    report_port: int  # HIGHNEEDS_REPORT_PORT
    report_url: str  # HIGHNEEDS_REPORT_URL (default http://127.0.0.1:<port>/)
    # the variables as read (.env and the environment), for child processes (see environment())
    variables: Mapping[str, str] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    def require_pseudonym_key(self) -> str:
        if not self.pseudonym_key:
            raise SettingsError(
                "HIGHNEEDS_PSEUDONYM_KEY is not set: it is the secret used to replace child ids "
                "with keyed hashes. Set it in the environment or in .env (see .env.example; "
                "`make setup` writes a random one), and keep it: "
                "a different key gives different ids."
            )
        if len(self.pseudonym_key.encode("utf-8")) < MIN_PSEUDONYM_KEY_BYTES:
            raise SettingsError(
                f"HIGHNEEDS_PSEUDONYM_KEY is {len(self.pseudonym_key.encode('utf-8'))} bytes long: "
                f"a key must be at least {MIN_PSEUDONYM_KEY_BYTES} bytes. Generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` (before the first "
                "refresh: a warehouse remembers the key it was built with)."
            )
        return self.pseudonym_key

    def councils(self) -> list[str]:
        """The councils of a many-council landing folder (its council folders' codes, DESIGN.md);
        [] for one council's landing folder."""
        from ingest.load import council_folders

        return [council.la_code for council in council_folders(self.landing)]

    def with_la_code(self, la_code: str) -> Settings:
        """These settings, benchmarking the report as council `la_code` (HIGHNEEDS_LA_CODE)."""
        return dataclasses.replace(self, la_code=la_code)

    def with_forecast_settings(self, path: Path) -> Settings:
        """These settings, forecasting with the settings file `path` (HIGHNEEDS_FORECAST_SETTINGS),
        the environment's horizon, recovery year and simulations still over it."""
        forecast = _forecast_settings(path, self.environment())
        return dataclasses.replace(self, forecast_settings=path, forecast=forecast)

    def mitigation_logs(self) -> dict[str | None, Path]:
        """The mitigation log each council's forecast applies (its own `mitigations.yml` in its
        landing folder, else HIGHNEEDS_MITIGATIONS): by council code in a many-council landing
        folder, under None for one council's."""
        from forecast.mitigations import council_mitigations_file
        from ingest.load import council_folders

        folders = council_folders(self.landing)
        if not folders:
            return {None: council_mitigations_file(self.landing, self.mitigations)}
        return {c.la_code: council_mitigations_file(c.folder, self.mitigations) for c in folders}

    def forecast_fingerprint(self) -> tuple[str, str]:
        """What the forecast runs with, for meta.publication: a description (the settings file,
        the mitigations files, horizon, recovery year, paths) and a SHA-256 of the resolved
        settings (a file's `extends:` and the environment's overrides applied) and the
        mitigations files' bytes, a council's own log too (it had been described and hashed as
        the shared example while the council's own file moved its figures). A refresh whose
        figures move because these changed says so."""

        def shown(path: Path) -> str:
            return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)

        digest = hashlib.sha256(
            json.dumps(dataclasses.asdict(self.forecast), default=str, sort_keys=True).encode()
        )
        digest.update(self.mitigations.read_bytes() if self.mitigations.is_file() else b"")
        own = {code: log for code, log in self.mitigation_logs().items() if log != self.mitigations}
        for code, log in sorted(own.items(), key=lambda item: item[0] or ""):
            digest.update(f"{code}:".encode() + log.read_bytes())
        logs = shown(self.mitigations)
        if own:
            logs = ", ".join(
                f"{code + ' ' if code else ''}{shown(log)}" for code, log in own.items()
            ) + (
                f", the others {logs}"
                if None not in own and len(own) < len(self.councils())
                else ""
            )
        forecast = self.forecast
        return (
            f"{shown(self.forecast_settings)}; mitigations {logs}; horizon "
            f"{forecast.horizon}, recover by {forecast.recover_by}, {forecast.simulations:,} paths",
            digest.hexdigest(),
        )

    @property
    def duckdb_temp_directory(self) -> Path:
        return spill_folder(self.warehouse)

    def connect_warehouse(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A connection to the warehouse, as every one is opened (dagster_project.warehouse)."""
        from .warehouse import connect

        return connect(
            self.warehouse,
            read_only=read_only,
            memory_limit=self.duckdb_memory_limit,
            threads=self.duckdb_threads,
            temp_directory=self.duckdb_temp_directory,
        )

    def dbt_vars(self) -> dict[str, str]:
        """What dbt's profile (dbt/profiles.yml) reads: passed on dbt's command line (`--vars`),
        so dbt opens the warehouse as every other connection does."""
        return dbt_vars(self.warehouse, self.duckdb_memory_limit, self.duckdb_threads)

    def environment(self) -> dict[str, str]:
        """The variables that give a child process (the Dagster UI, its daemon and runs) these
        settings: the variables as read, with every path made absolute (the child may start in
        another folder, without this one's .env). Holds the pseudonym keys: for a child's
        environment only, never a log."""
        paths = {
            "HIGHNEEDS_LANDING": self.landing,
            "HIGHNEEDS_WAREHOUSE": self.warehouse,
            "HIGHNEEDS_SERVING": self.serving,
            DAGSTER_HOME: self.dagster_home,
            "HIGHNEEDS_MITIGATIONS": self.mitigations,
            "HIGHNEEDS_READERS": self.readers,
            "HIGHNEEDS_FORECAST_SETTINGS": self.forecast_settings,
            "HIGHNEEDS_REPORT_DIR": self.report_dir,
            "HIGHNEEDS_SEN2_ID_MAP": self.sen2_child_id.id_map,
            "HIGHNEEDS_SERVING_PARQUET": self.serving_parquet,
            "HIGHNEEDS_PUBLISHED": self.published,
        }
        absolute = {name: str(path) for name, path in paths.items() if path}
        environment = {**self.variables, **absolute}
        if self.la_code:
            environment["HIGHNEEDS_LA_CODE"] = self.la_code
        return environment

    @property
    def horizon(self) -> str:
        return self.forecast.horizon

    @property
    def recover_by(self) -> str:
        return self.forecast.recover_by

    def restrict_data_files(self) -> None:
        """Make the warehouse and serving files owner-only, and every file this process creates from
        now on (the warehouse's .wal and .tmp spill folder, the next serving file, run logs)."""
        os.umask(OWNER_ONLY_UMASK)
        for path in (
            self.warehouse,
            self.warehouse.with_name(self.warehouse.name + ".wal"),
            self.serving,
        ):
            if path.is_file():
                path.chmod(0o600)


def read_variables(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = None
) -> dict[str, str]:
    """The settings' variables (HIGHNEEDS_*, DAGSTER_HOME): `dotenv`'s (default: .env in the working
    directory), overlaid with `environ`'s (default: the environment). A variable set empty counts
    as unset. Reads only: the environment is left as it is."""
    dotenv = Path.cwd() / ".env" if dotenv is None else dotenv
    from_file = dotenv_values(dotenv) if dotenv.is_file() else {}
    from_environment = os.environ if environ is None else environ
    return {
        name: value
        for source in (from_file, from_environment)
        for name, value in source.items()
        if value and (name.startswith(SETTING_PREFIX) or name == DAGSTER_HOME)
    }


def _path(env: Mapping[str, str], name: str, default: str | Path) -> Path:
    return Path(env.get(name) or default).expanduser().resolve()


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    return _path(env, name, "") if env.get(name) else None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name)
    try:
        return float(value) if value else default
    except ValueError as error:
        raise SettingsError(f"{name}={value!r} is not a number") from error


# a tolerance letting this share of an extract's rows or money, or more, through is no tolerance:
# a percentage typed for a share (1 meaning 1 %, 0.5 meaning 0.5 %) let a ledger's £5.6m of
# unreadable amounts wait in quarantine on a green run, the year's spend and balance £5.3m short
MAX_TOLERANCE = 0.5


def _share(env: Mapping[str, str], name: str, default: float, of: str) -> float:
    """A tolerance: the share of `of` that may fail its check before the refresh blocks."""
    share = _float(env, name, default)
    if not 0 <= share < MAX_TOLERANCE:
        raise SettingsError(
            f"{name}={env.get(name)!r} would let {share:.0%} of {of} through: a tolerance is a "
            f"share below {MAX_TOLERANCE} (0.01 = 1 %, 0.005 = 0.5 %; half or more is none), so "
            "a percentage typed for it (1 for 1 %) is refused"
        )
    return share


def _date(env: Mapping[str, str], name: str, default: dt.date) -> dt.date:
    value = env.get(name)
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError as error:
        raise SettingsError(f"{name}={value!r} is not a date (YYYY-MM-DD)") from error


def _whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name}={value!r} is not a whole number of at least 1")
    return int(value)


def _file_mode(env: Mapping[str, str]) -> int:
    value = env.get("HIGHNEEDS_SERVING_FILE_MODE") or "600"
    try:
        mode = int(value, 8)
    except ValueError as error:
        raise SettingsError(
            f"HIGHNEEDS_SERVING_FILE_MODE={value!r} is not an octal file mode such as 600 or 640"
        ) from error
    if mode & 0o137 or not mode & 0o400:
        raise SettingsError(
            f"HIGHNEEDS_SERVING_FILE_MODE={value!r}: the owner must read it, and nobody may write "
            "or execute it except the owner, nor may others read it (600 or 640)"
        )
    return mode


def _switch(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "off").strip().lower()
    if value not in ("on", "off"):
        raise SettingsError(f"{name}={value!r}: on or off")
    return value == "on"


def _sen2_child_id(env: Mapping[str, str]) -> ChildIdRule:
    """HIGHNEEDS_SEN2_CHILD_ID: the SEN2 person field the council's ledger and other extracts carry
    as child_id (upn, uln, nativeid), or `mapping` with HIGHNEEDS_SEN2_ID_MAP, a CSV from one of
    those fields to the council's child_id. A mapping file alone means `mapping`."""
    from ingest.sen2_child_ids import CHILD_ID_CHOICES, MAPPING, ChildIdRule

    id_map = (env.get("HIGHNEEDS_SEN2_ID_MAP") or "").strip()
    field = (env.get("HIGHNEEDS_SEN2_CHILD_ID") or (MAPPING if id_map else "upn")).strip().lower()
    if field not in CHILD_ID_CHOICES:
        raise SettingsError(
            f"HIGHNEEDS_SEN2_CHILD_ID={field!r}: one of {', '.join(CHILD_ID_CHOICES)}, the SEN2 "
            "person field your ledger's child_id holds (or `mapping` with HIGHNEEDS_SEN2_ID_MAP)"
        )
    if field == MAPPING and not id_map:
        raise SettingsError(
            "HIGHNEEDS_SEN2_CHILD_ID=mapping needs HIGHNEEDS_SEN2_ID_MAP: a CSV with a upn, uln or "
            "nativeid column and the council's child_id for each"
        )
    if id_map and field != MAPPING:
        raise SettingsError(
            f"HIGHNEEDS_SEN2_ID_MAP is set but HIGHNEEDS_SEN2_CHILD_ID={field!r}: set it to "
            "mapping, or unset the map"
        )
    if id_map and not _path(env, "HIGHNEEDS_SEN2_ID_MAP", "").is_file():
        raise SettingsError(f"HIGHNEEDS_SEN2_ID_MAP={id_map!r} is not a file")
    return ChildIdRule(field, _path(env, "HIGHNEEDS_SEN2_ID_MAP", "") if id_map else None)


def _memory_limit(env: Mapping[str, str]) -> str:
    value = (env.get("HIGHNEEDS_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, flags=re.IGNORECASE):
        raise SettingsError(
            f"HIGHNEEDS_DUCKDB_MEMORY_LIMIT={value!r} is not a size such as 4GB or 6GiB"
        )
    return value


def default_duckdb_threads() -> int:
    """DuckDB's own default: every CPU this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def spill_folder(warehouse: Path) -> Path:
    """Where DuckDB spills past its memory cap: <warehouse>.tmp/, as DuckDB's own default (owner-
    only, see Settings.restrict_data_files)."""
    return warehouse.with_name(warehouse.name + ".tmp")


def dbt_vars(warehouse: Path, memory_limit: str, threads: int) -> dict[str, str]:
    """The variables dbt/profiles.yml reads (`--vars`): the warehouse and how DuckDB opens it."""
    return {
        "highneeds_warehouse": str(warehouse),
        "highneeds_duckdb_memory_limit": memory_limit,
        "highneeds_duckdb_threads": str(threads),
        "highneeds_duckdb_temp_directory": str(spill_folder(warehouse)),
    }


def dbt_vars_argument(values: Mapping[str, object]) -> list[str]:
    """dbt's `--vars` option for `values`."""
    return ["--vars", json.dumps(dict(values), sort_keys=True)]


def new_pseudonym_key() -> str:
    """32 random bytes, as URL-safe text (43 characters)."""
    import secrets

    return secrets.token_urlsafe(MIN_PSEUDONYM_KEY_BYTES)


def write_new_key_to_dotenv(dotenv: Path) -> Path:
    """Give `dotenv` a new random HIGHNEEDS_PSEUDONYM_KEY (filling an empty
    `HIGHNEEDS_PSEUDONYM_KEY=` line, else adding one), owner-only: settings loaded from now on read
    it (unless the environment sets a key). Refuses to replace a key."""
    lines = dotenv.read_text(encoding="utf-8").splitlines() if dotenv.exists() else []
    assignment = re.compile(r"^\s*(export\s+)?HIGHNEEDS_PSEUDONYM_KEY\s*=\s*(.*)$")
    current = [
        match.group(2).strip().strip("'\"") for line in lines if (match := assignment.match(line))
    ]
    if any(current):
        raise SettingsError(f"{dotenv} already sets HIGHNEEDS_PSEUDONYM_KEY: not replaced")
    key = new_pseudonym_key()
    line = f"HIGHNEEDS_PSEUDONYM_KEY={key}"
    lines = (
        [line if assignment.match(text) else text for text in lines] if current else [*lines, line]
    )
    dotenv.touch(mode=0o600, exist_ok=True)
    dotenv.chmod(0o600)
    dotenv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dotenv


def _forecast_settings(path: Path, env: Mapping[str, str]) -> ForecastSettings:
    """The forecast settings file, with the environment's horizon, recovery year and simulations."""
    from forecast.settings import ForecastSettingsError, load_forecast_settings, validate

    try:
        forecast = load_forecast_settings(path)
        horizon = env.get("HIGHNEEDS_HORIZON") or None
        simulations = env.get("HIGHNEEDS_SIMULATIONS") or None
        if simulations and not simulations.strip().isdigit():
            raise ForecastSettingsError(
                f"HIGHNEEDS_SIMULATIONS must be a whole number of simulations, not {simulations!r}"
            )
        forecast = forecast.with_overrides(
            horizon=horizon,
            # the file's recover_by stands unless the environment sets it; one the file left to
            # the horizon follows the environment's horizon
            recover_by=env.get("HIGHNEEDS_RECOVER_BY")
            or (horizon if horizon and not forecast.recover_by_given else None),
            simulations=int(simulations) if simulations else None,
        )
        validate(
            forecast,
            "the environment (HIGHNEEDS_HORIZON / HIGHNEEDS_RECOVER_BY / HIGHNEEDS_SIMULATIONS)",
        )
    except (ForecastSettingsError, ValueError) as error:
        raise SettingsError(str(error)) from error
    return forecast


def load_settings(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
    """The settings from `dotenv` (default: .env in the working directory) and `environ` (default:
    the environment, which wins). Build them once and pass them down."""
    env = read_variables(environ, dotenv)
    as_of = _date(env, "HIGHNEEDS_EXTRACT_DATE", dt.date.today())
    forecast_file = _path(env, "HIGHNEEDS_FORECAST_SETTINGS", DEFAULT_FORECAST_SETTINGS)
    forecast = _forecast_settings(forecast_file, env)
    warehouse = _path(env, "HIGHNEEDS_WAREHOUSE", DEFAULT_WAREHOUSE)
    report_port = _port(env, "HIGHNEEDS_REPORT_PORT", DEFAULT_REPORT_PORT)
    neighbours = (env.get("HIGHNEEDS_NEIGHBOURS") or "").split(",")
    return Settings(
        landing=_path(env, "HIGHNEEDS_LANDING", DEFAULT_LANDING),
        warehouse=warehouse,
        serving=_path(env, "HIGHNEEDS_SERVING", DEFAULT_SERVING),
        dagster_home=_path(env, DAGSTER_HOME, DEFAULT_DAGSTER_HOME),
        pseudonym_key=env.get("HIGHNEEDS_PSEUDONYM_KEY") or None,
        mitigations=_path(env, "HIGHNEEDS_MITIGATIONS", EXAMPLE_MITIGATIONS),
        readers=_path(env, "HIGHNEEDS_READERS", DEFAULT_READERS),
        forecast_settings=forecast_file,
        forecast=forecast,
        quarantine_tolerance=_share(
            env,
            "HIGHNEEDS_QUARANTINE_TOLERANCE",
            DEFAULT_QUARANTINE_ROWS_TOLERANCE,
            "an extract's rows into quarantine",
        ),
        quarantine_money_tolerance=_share(
            env,
            "HIGHNEEDS_QUARANTINE_MONEY_TOLERANCE",
            DEFAULT_QUARANTINE_MONEY_TOLERANCE,
            "an extract's money into quarantine",
        ),
        unlinked_tolerance=_share(
            env,
            "HIGHNEEDS_UNLINKED_TOLERANCE",
            DEFAULT_UNLINKED_TOLERANCE,
            "the payments or placements unlinked",
        ),
        date_floor=_date(env, "HIGHNEEDS_DATE_FLOOR", DEFAULT_DATE_FLOOR),
        sen2_child_id=_sen2_child_id(env),
        min_fte_for_unit_cost_gate=_float(env, "HIGHNEEDS_UNIT_COST_GATE_MIN_FTE", 1.0),
        extract_date=as_of,
        serving_pseudonym_key=env.get("HIGHNEEDS_SERVING_PSEUDONYM_KEY") or None,
        suppression_threshold=_whole_number(
            env, "HIGHNEEDS_SUPPRESSION_THRESHOLD", DEFAULT_SUPPRESSION_THRESHOLD
        ),
        serving_parquet=_optional_path(env, "HIGHNEEDS_SERVING_PARQUET"),
        serving_storage_version=env.get("HIGHNEEDS_SERVING_STORAGE_VERSION") or "v1.0.0",
        serving_file_mode=_file_mode(env),
        duckdb_memory_limit=_memory_limit(env),
        duckdb_threads=_whole_number(env, "HIGHNEEDS_DUCKDB_THREADS", default_duckdb_threads()),
        automation=_switch(env, "HIGHNEEDS_AUTOMATION"),
        report_dir=_path(env, "HIGHNEEDS_REPORT_DIR", warehouse.parent / "report"),
        la_code=(env.get("HIGHNEEDS_LA_CODE") or "").strip() or None,
        council_name=(env.get("HIGHNEEDS_COUNCIL_NAME") or "").strip() or None,
        published=_optional_path(env, "HIGHNEEDS_PUBLISHED"),
        neighbours=tuple(code.strip() for code in neighbours if code.strip()),
        report_port=report_port,
        report_url=env.get("HIGHNEEDS_REPORT_URL") or f"http://127.0.0.1:{report_port}/",
        variables=env,
    )


@dataclass(frozen=True)
class ReportSettings:
    """Settings of the report (`highneeds report` and the `report` asset)."""

    # HIGHNEEDS_REPORT_DIR (default: report/ beside the warehouse): internal/ and publication/
    out_dir: Path
    # HIGHNEEDS_LA_CODE: the council's old 3-digit LA code, for the benchmarks
    la_code: str | None
    # HIGHNEEDS_COUNCIL_NAME: the council's name in the report's headings (else the DfE's name)
    council_name: str | None
    # HIGHNEEDS_PUBLISHED: folder of DfE files for the benchmarks (see published_folder)
    published: Path
    # HIGHNEEDS_NEIGHBOURS: old LA codes to compare with (else computed)
    neighbours: list[str] | None
    # HIGHNEEDS_SUPPRESSION_THRESHOLD: smallest count published
    suppression_threshold: int
    # HIGHNEEDS_REPORT_PORT: `highneeds ui` serves out_dir over http on this port, beside the UI
    port: int
    # HIGHNEEDS_REPORT_URL: where browsers reach out_dir (default http://127.0.0.1:<port>/)
    url: str
    # HIGHNEEDS_SERVING: whose figures it serves says whether a held council has last good ones
    serving: Path | None = None

    def url_of(self, path: Path) -> str:
        """The http address of a report file (the links in the Dagster UI), not a file:/// path that
        only opens on the server."""
        return (
            self.url.rstrip("/")
            + "/"
            + Path(path).resolve().relative_to(self.out_dir.resolve()).as_posix()
        )

    def options(self, run_id: str | None = None):
        """The report library's options (report.build.ReportOptions) for these settings."""
        from report.build import ReportOptions

        return ReportOptions(
            out_dir=self.out_dir,
            council=self.la_code,
            council_name=self.council_name,
            published=self.published,
            neighbours=self.neighbours,
            threshold=self.suppression_threshold,
            run_id=run_id,
            served=self.served(),
        )

    def served(self) -> dict[str, str] | None:
        """Each council's figures in the serving file (serving.publish.served_figures): {} when
        there is none yet; None when it cannot be read now (open in another program, say) or
        predates meta.councils, so the report does not say whether a held council has any."""
        import duckdb

        from serving.publish import served_figures

        if self.serving is None:
            return None
        try:
            served = served_figures(self.serving)
        except (duckdb.Error, OSError):
            return None
        return None if not served and self.serving.exists() else served


def load_report_settings(settings: Settings | None = None) -> ReportSettings:
    """The report's settings, from `settings` (default: loaded now) and the landing folder as it
    is now (the council's code in its latest SEN2 return, its DfE files)."""
    from ingest.sen2 import council_code

    settings = settings or load_settings()
    return ReportSettings(
        out_dir=settings.report_dir,
        # unset: the council's code from its latest SEN2 return's header, if it has one
        la_code=settings.la_code or council_code(settings.landing),
        council_name=settings.council_name,
        published=published_folder(settings),
        neighbours=list(settings.neighbours) or None,
        suppression_threshold=settings.suppression_threshold,
        port=settings.report_port,
        url=settings.report_url,
        serving=settings.serving,
    )


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name) or str(default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SettingsError(f"{name}={value!r} is not a TCP port (1–65535)")
    return int(value)


def published_folder(settings: Settings) -> Path:
    """The DfE's published files for the benchmarks and aggregate mode: HIGHNEEDS_PUBLISHED when
    set; else the landing folder's reference/ when it holds them (a council's newer download); else
    the compact copy shipped with highneeds (forecast/published_data),
    so they work out of the box."""
    from forecast.published_extract import SHIPPED, has_published_files

    if settings.published:
        return settings.published
    reference = settings.landing / "reference"
    return reference if has_published_files(reference) else SHIPPED
