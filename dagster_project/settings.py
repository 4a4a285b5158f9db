"""Settings, read from environment variables (documented in .env.example) with sensible defaults.

A `.env` file in the working directory is read first (without overriding variables already
set), the same file `dagster dev` reads, so dbt, Dagster and the CLI see the same values.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import load_dotenv

# postings, placements and plans dated before it are quarantined (HIGHNEEDS_DATE_FLOOR)
from ingest.contracts import DEFAULT_DATE_FLOOR

if TYPE_CHECKING:
    from forecast.settings import ForecastSettings
    from ingest.sen2_child_ids import ChildIdRule

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt"
EXAMPLE_MITIGATIONS = REPO_ROOT / "forecast" / "config" / "mitigations.example.yml"
COST_BOUNDS = DBT_PROJECT_DIR / "seeds" / "cost_bounds.csv"
# A key of fewer bytes is refused: HMAC-SHA256 needs a secret at least as long as its output's
# security level, and a short typed key could be guessed. Generated keys are 32 random bytes.
MIN_PSEUDONYM_KEY_BYTES = 32
DEMO_LA_CODE = "869"  # West Berkshire: the synthetic council is calibrated to its published figures
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
# DuckDB's buffer for the refresh (ingest and dbt); past it, joins and sorts spill to <warehouse>.tmp/
DEFAULT_DUCKDB_MEMORY_LIMIT = "4GB"
DEFAULT_REPORT_PORT = 3001  # the report, served by `highneeds ui` beside the Dagster UI (3000)


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    serving: Path
    dagster_home: Path
    pseudonym_key: str | None
    mitigations: Path
    readers: Path
    forecast: ForecastSettings
    quarantine_tolerance: float  # share of an extract's rows
    quarantine_money_tolerance: float  # share of an extract's money (absolute pounds)
    unlinked_tolerance: float  # share of payments / placements for an unknown child or placement
    date_floor: dt.date
    sen2_child_id: ChildIdRule  # which SEN2 person field is the child id the ledger carries
    min_fte_for_unit_cost_gate: float
    extract_date: dt.date
    serving_pseudonym_key: str | None
    suppression_threshold: int
    serving_parquet: Path | None
    serving_storage_version: str
    serving_file_mode: int
    duckdb_memory_limit: str
    automation: bool  # HIGHNEEDS_AUTOMATION=on: the nightly schedule and the landing sensor start running

    def require_pseudonym_key(self) -> str:
        if not self.pseudonym_key:
            raise SettingsError(
                "HIGHNEEDS_PSEUDONYM_KEY is not set: it is the secret used to replace child ids "
                "with keyed hashes. Set it in the environment or in .env (see .env.example; "
                "`make setup` writes a random one), and keep it: a different key gives different ids."
            )
        if len(self.pseudonym_key.encode("utf-8")) < MIN_PSEUDONYM_KEY_BYTES:
            raise SettingsError(
                f"HIGHNEEDS_PSEUDONYM_KEY is {len(self.pseudonym_key.encode('utf-8'))} bytes long: a key must "
                f"be at least {MIN_PSEUDONYM_KEY_BYTES} bytes. Generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` (before the first refresh: "
                "a warehouse remembers the key it was built with)."
            )
        return self.pseudonym_key

    def export(self) -> None:
        """Put the resolved settings in the environment, so dbt and child processes agree."""
        os.environ["HIGHNEEDS_LANDING"] = str(self.landing)
        os.environ["HIGHNEEDS_WAREHOUSE"] = str(self.warehouse)
        os.environ["HIGHNEEDS_SERVING"] = str(self.serving)
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)
        os.environ["HIGHNEEDS_HORIZON"] = self.horizon
        os.environ["HIGHNEEDS_DUCKDB_MEMORY_LIMIT"] = self.duckdb_memory_limit  # dbt's profile reads it

    @property
    def horizon(self) -> str:
        return self.forecast.horizon

    @property
    def recover_by(self) -> str:
        return self.forecast.recover_by

    def restrict_data_files(self) -> None:
        """Make the warehouse and serving files owner-only, and every file this process creates
        from now on (the warehouse's .wal and .tmp spill folder, the next serving file, run logs)."""
        os.umask(OWNER_ONLY_UMASK)
        for path in (self.warehouse, self.warehouse.with_name(self.warehouse.name + ".wal"), self.serving):
            if path.is_file():
                path.chmod(0o600)


def _path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default).expanduser().resolve()


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError as error:
        raise SettingsError(f"{name}={value!r} is not a number") from error


def _share(name: str, default: float) -> float:
    share = _float(name, default)
    if not 0 <= share <= 1:
        raise SettingsError(f"{name}={share!r} is a share of rows or money: between 0 and 1 (0.01 = 1 %)")
    return share


def _date(name: str, default: dt.date) -> dt.date:
    value = os.environ.get(name)
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError as error:
        raise SettingsError(f"{name}={value!r} is not a date (YYYY-MM-DD)") from error


def _threshold() -> int:
    value = os.environ.get("HIGHNEEDS_SUPPRESSION_THRESHOLD")
    if not value:
        return DEFAULT_SUPPRESSION_THRESHOLD
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"HIGHNEEDS_SUPPRESSION_THRESHOLD={value!r} is not a whole number of at least 1")
    return int(value)


def _file_mode() -> int:
    value = os.environ.get("HIGHNEEDS_SERVING_FILE_MODE") or "600"
    try:
        mode = int(value, 8)
    except ValueError as error:
        raise SettingsError(f"HIGHNEEDS_SERVING_FILE_MODE={value!r} is not an octal file mode such as 600 or 640") from error
    if mode & 0o137 or not mode & 0o400:
        raise SettingsError(
            f"HIGHNEEDS_SERVING_FILE_MODE={value!r}: the owner must read it, and nobody may write or execute it "
            "except the owner, nor may others read it (600 or 640)"
        )
    return mode


def _switch(name: str) -> bool:
    value = (os.environ.get(name) or "off").strip().lower()
    if value not in ("on", "off"):
        raise SettingsError(f"{name}={value!r}: on or off")
    return value == "on"


def _sen2_child_id() -> ChildIdRule:
    """HIGHNEEDS_SEN2_CHILD_ID: the SEN2 person field the council's ledger and other extracts carry
    as child_id (upn, uln, nativeid), or `mapping` with HIGHNEEDS_SEN2_ID_MAP, a CSV from one of
    those fields to the council's child_id. A mapping file alone means `mapping`."""
    from ingest.sen2_child_ids import CHILD_ID_CHOICES, MAPPING, ChildIdRule

    id_map = (os.environ.get("HIGHNEEDS_SEN2_ID_MAP") or "").strip()
    field = (os.environ.get("HIGHNEEDS_SEN2_CHILD_ID") or (MAPPING if id_map else "upn")).strip().lower()
    if field not in CHILD_ID_CHOICES:
        raise SettingsError(
            f"HIGHNEEDS_SEN2_CHILD_ID={field!r}: one of {', '.join(CHILD_ID_CHOICES)}, the SEN2 person field "
            "your ledger's child_id holds (or `mapping` with HIGHNEEDS_SEN2_ID_MAP)"
        )
    if field == MAPPING and not id_map:
        raise SettingsError(
            "HIGHNEEDS_SEN2_CHILD_ID=mapping needs HIGHNEEDS_SEN2_ID_MAP: a CSV with a upn, uln or nativeid "
            "column and the council's child_id for each"
        )
    if id_map and field != MAPPING:
        raise SettingsError(
            f"HIGHNEEDS_SEN2_ID_MAP is set but HIGHNEEDS_SEN2_CHILD_ID={field!r}: set it to mapping, or unset the map"
        )
    if id_map and not _path("HIGHNEEDS_SEN2_ID_MAP", "").is_file():
        raise SettingsError(f"HIGHNEEDS_SEN2_ID_MAP={id_map!r} is not a file")
    return ChildIdRule(field, _path("HIGHNEEDS_SEN2_ID_MAP", "") if id_map else None)


def _memory_limit() -> str:
    value = (os.environ.get("HIGHNEEDS_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, flags=re.IGNORECASE):
        raise SettingsError(f"HIGHNEEDS_DUCKDB_MEMORY_LIMIT={value!r} is not a size such as 4GB or 6GiB")
    return value


def new_pseudonym_key() -> str:
    """32 random bytes, as URL-safe text (43 characters)."""
    import secrets

    return secrets.token_urlsafe(MIN_PSEUDONYM_KEY_BYTES)


def write_new_key_to_dotenv(dotenv: Path) -> Path:
    """Give `dotenv` a new random HIGHNEEDS_PSEUDONYM_KEY (filling an empty `HIGHNEEDS_PSEUDONYM_KEY=`
    line, else adding one), owner-only, and make this process read it. Refuses to replace a key."""
    lines = dotenv.read_text(encoding="utf-8").splitlines() if dotenv.exists() else []
    assignment = re.compile(r"^\s*(export\s+)?HIGHNEEDS_PSEUDONYM_KEY\s*=\s*(.*)$")
    current = [match.group(2).strip().strip("'\"") for line in lines if (match := assignment.match(line))]
    if any(current):
        raise SettingsError(f"{dotenv} already sets HIGHNEEDS_PSEUDONYM_KEY: not replaced")
    key = new_pseudonym_key()
    line = f"HIGHNEEDS_PSEUDONYM_KEY={key}"
    lines = [line if assignment.match(text) else text for text in lines] if current else [*lines, line]
    dotenv.touch(mode=0o600, exist_ok=True)
    dotenv.chmod(0o600)
    dotenv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if not os.environ.get("HIGHNEEDS_PSEUDONYM_KEY"):  # unset or blank: what .env says now holds
        os.environ["HIGHNEEDS_PSEUDONYM_KEY"] = key
    return dotenv


def load_settings() -> Settings:
    load_dotenv(Path.cwd() / ".env", override=False)
    as_of = _date("HIGHNEEDS_EXTRACT_DATE", dt.date.today())
    from forecast.settings import ForecastSettingsError, load_forecast_settings, validate

    forecast_file = _path("HIGHNEEDS_FORECAST_SETTINGS", str(DEFAULT_FORECAST_SETTINGS))
    try:
        forecast = load_forecast_settings(forecast_file)
        horizon = os.environ.get("HIGHNEEDS_HORIZON") or None
        simulations = os.environ.get("HIGHNEEDS_SIMULATIONS") or None
        forecast = forecast.with_overrides(
            horizon=horizon,
            recover_by=os.environ.get("HIGHNEEDS_RECOVER_BY") or (horizon if horizon else None),
            simulations=int(simulations) if simulations else None,
        )
        validate(forecast, "the environment (HIGHNEEDS_HORIZON / HIGHNEEDS_RECOVER_BY / HIGHNEEDS_SIMULATIONS)")
    except (ForecastSettingsError, ValueError) as error:
        raise SettingsError(str(error)) from error
    return Settings(
        landing=_path("HIGHNEEDS_LANDING", "data/landing"),
        warehouse=_path("HIGHNEEDS_WAREHOUSE", "data/warehouse.duckdb"),
        serving=_path("HIGHNEEDS_SERVING", "data/serving.duckdb"),
        dagster_home=_path("DAGSTER_HOME", "data/dagster_home"),
        pseudonym_key=os.environ.get("HIGHNEEDS_PSEUDONYM_KEY") or None,
        mitigations=_path("HIGHNEEDS_MITIGATIONS", str(EXAMPLE_MITIGATIONS)),
        readers=_path("HIGHNEEDS_READERS", str(DEFAULT_READERS)),
        forecast=forecast,
        quarantine_tolerance=_share("HIGHNEEDS_QUARANTINE_TOLERANCE", DEFAULT_QUARANTINE_ROWS_TOLERANCE),
        quarantine_money_tolerance=_share("HIGHNEEDS_QUARANTINE_MONEY_TOLERANCE", DEFAULT_QUARANTINE_MONEY_TOLERANCE),
        unlinked_tolerance=_share("HIGHNEEDS_UNLINKED_TOLERANCE", DEFAULT_UNLINKED_TOLERANCE),
        date_floor=_date("HIGHNEEDS_DATE_FLOOR", DEFAULT_DATE_FLOOR),
        sen2_child_id=_sen2_child_id(),
        min_fte_for_unit_cost_gate=_float("HIGHNEEDS_UNIT_COST_GATE_MIN_FTE", 1.0),
        extract_date=as_of,
        serving_pseudonym_key=os.environ.get("HIGHNEEDS_SERVING_PSEUDONYM_KEY") or None,
        suppression_threshold=_threshold(),
        serving_parquet=_path("HIGHNEEDS_SERVING_PARQUET", "") if os.environ.get("HIGHNEEDS_SERVING_PARQUET") else None,
        serving_storage_version=os.environ.get("HIGHNEEDS_SERVING_STORAGE_VERSION") or "v1.0.0",
        serving_file_mode=_file_mode(),
        duckdb_memory_limit=_memory_limit(),
        automation=_switch("HIGHNEEDS_AUTOMATION"),
    )


@dataclass(frozen=True)
class ReportSettings:
    """Settings of the report (`highneeds report` and the `report` asset)."""

    out_dir: Path  # HIGHNEEDS_REPORT_DIR (default: report/ beside the warehouse): internal/ and publication/
    la_code: str | None  # HIGHNEEDS_LA_CODE: the council's old 3-digit LA code, for the benchmarks
    published: Path  # HIGHNEEDS_PUBLISHED: folder of DfE files for the benchmarks (see published_folder)
    neighbours: list[str] | None  # HIGHNEEDS_NEIGHBOURS: old LA codes to compare with (else computed)
    suppression_threshold: int  # HIGHNEEDS_SUPPRESSION_THRESHOLD: smallest count published
    port: int  # HIGHNEEDS_REPORT_PORT: `highneeds ui` serves out_dir over http on this port, beside the UI
    url: str  # HIGHNEEDS_REPORT_URL: where browsers reach out_dir (default http://127.0.0.1:<port>/)

    def url_of(self, path: Path) -> str:
        """The http address of a report file (the links in the Dagster UI), not a file:/// path that
        only opens on the server."""
        return self.url.rstrip("/") + "/" + Path(path).resolve().relative_to(self.out_dir.resolve()).as_posix()

    def options(self, run_id: str | None = None):
        """The report library's options (forecast.report.build.ReportOptions) for these settings."""
        from forecast.report.build import ReportOptions

        return ReportOptions(out_dir=self.out_dir, council=self.la_code, published=self.published,
                             neighbours=self.neighbours, threshold=self.suppression_threshold, run_id=run_id)


def load_report_settings(settings: Settings | None = None) -> ReportSettings:
    from ingest.sen2 import council_code

    settings = settings or load_settings()
    neighbours = [code.strip() for code in (os.environ.get("HIGHNEEDS_NEIGHBOURS") or "").split(",") if code.strip()]
    port = _port("HIGHNEEDS_REPORT_PORT", DEFAULT_REPORT_PORT)
    return ReportSettings(
        out_dir=_path("HIGHNEEDS_REPORT_DIR", str(settings.warehouse.parent / "report")),
        # unset: the council's code from its latest SEN2 return's header, if it has one
        la_code=(os.environ.get("HIGHNEEDS_LA_CODE") or "").strip() or council_code(settings.landing),
        published=published_folder(settings),
        neighbours=neighbours or None,
        suppression_threshold=settings.suppression_threshold,
        port=port,
        url=os.environ.get("HIGHNEEDS_REPORT_URL") or f"http://127.0.0.1:{port}/",
    )


def _port(name: str, default: int) -> int:
    value = os.environ.get(name) or str(default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SettingsError(f"{name}={value!r} is not a TCP port (1–65535)")
    return int(value)


def published_folder(settings: Settings) -> Path:
    """The DfE's published files for the benchmarks and aggregate mode: HIGHNEEDS_PUBLISHED when set;
    else the landing folder's reference/ when it holds them (a council's newer download); else the
    compact copy shipped with highneeds (forecast/published_data), so they work out of the box."""
    from forecast.published_extract import SHIPPED, has_published_files

    if os.environ.get("HIGHNEEDS_PUBLISHED"):
        return _path("HIGHNEEDS_PUBLISHED", "")
    reference = settings.landing / "reference"
    return reference if has_published_files(reference) else SHIPPED
