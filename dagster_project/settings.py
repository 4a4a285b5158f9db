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

if TYPE_CHECKING:
    from forecast.settings import ForecastSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt"
EXAMPLE_MITIGATIONS = REPO_ROOT / "forecast" / "config" / "mitigations.example.yml"
COST_BOUNDS = DBT_PROJECT_DIR / "seeds" / "cost_bounds.csv"
DEMO_PSEUDONYM_KEY = "demo-only-key-not-secret"
DEMO_LA_CODE = "869"  # West Berkshire: the synthetic council is calibrated to its published figures
DEFAULT_READERS = REPO_ROOT / "ingest" / "config" / "readers.yml"
DEFAULT_FORECAST_SETTINGS = REPO_ROOT / "forecast" / "config" / "forecast.yml"
DEFAULT_SUPPRESSION_THRESHOLD = 5
OWNER_ONLY_UMASK = 0o077
# DuckDB's buffer for the refresh (ingest and dbt); past it, joins and sorts spill to <warehouse>.tmp/
DEFAULT_DUCKDB_MEMORY_LIMIT = "4GB"


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
    forecast: "ForecastSettings"
    quarantine_tolerance: float
    min_fte_for_unit_cost_gate: float
    extract_date: dt.date
    serving_pseudonym_key: str | None
    suppression_threshold: int
    serving_parquet: Path | None
    serving_storage_version: str
    serving_file_mode: int
    duckdb_memory_limit: str

    def require_pseudonym_key(self) -> str:
        if not self.pseudonym_key:
            raise SettingsError(
                "HIGHNEEDS_PSEUDONYM_KEY is not set: it is the secret used to replace child ids "
                "with keyed hashes. Set it in the environment or in .env (see .env.example; "
                "`make setup` writes a random one), and keep it: a different key gives different ids."
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


def _memory_limit() -> str:
    value = (os.environ.get("HIGHNEEDS_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, flags=re.IGNORECASE):
        raise SettingsError(f"HIGHNEEDS_DUCKDB_MEMORY_LIMIT={value!r} is not a size such as 4GB or 6GiB")
    return value


def load_settings() -> Settings:
    load_dotenv(Path.cwd() / ".env", override=False)
    extract_date = os.environ.get("HIGHNEEDS_EXTRACT_DATE")
    try:
        as_of = dt.date.fromisoformat(extract_date) if extract_date else dt.date.today()
    except ValueError as error:
        raise SettingsError(f"HIGHNEEDS_EXTRACT_DATE={extract_date!r} is not a date (YYYY-MM-DD)") from error
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
        quarantine_tolerance=_float("HIGHNEEDS_QUARANTINE_TOLERANCE", 0.0),
        min_fte_for_unit_cost_gate=_float("HIGHNEEDS_UNIT_COST_GATE_MIN_FTE", 1.0),
        extract_date=as_of,
        serving_pseudonym_key=os.environ.get("HIGHNEEDS_SERVING_PSEUDONYM_KEY") or None,
        suppression_threshold=_threshold(),
        serving_parquet=_path("HIGHNEEDS_SERVING_PARQUET", "") if os.environ.get("HIGHNEEDS_SERVING_PARQUET") else None,
        serving_storage_version=os.environ.get("HIGHNEEDS_SERVING_STORAGE_VERSION") or "v1.0.0",
        serving_file_mode=_file_mode(),
        duckdb_memory_limit=_memory_limit(),
    )


@dataclass(frozen=True)
class ReportSettings:
    """Settings of the report (`highneeds report` and the `report` asset)."""

    out_dir: Path  # HIGHNEEDS_REPORT_DIR (default: report/ beside the warehouse): internal/ and publication/
    la_code: str | None  # HIGHNEEDS_LA_CODE: the council's old 3-digit LA code, for the benchmarks
    published: Path  # HIGHNEEDS_PUBLISHED: folder of DfE files for the benchmarks
    neighbours: list[str] | None  # HIGHNEEDS_NEIGHBOURS: old LA codes to compare with (else computed)
    suppression_threshold: int  # HIGHNEEDS_SUPPRESSION_THRESHOLD: smallest count published

    def options(self, run_id: str | None = None):
        """The report library's options (forecast.report.build.ReportOptions) for these settings."""
        from forecast.report.build import ReportOptions

        return ReportOptions(out_dir=self.out_dir, council=self.la_code, published=self.published,
                             neighbours=self.neighbours, threshold=self.suppression_threshold, run_id=run_id)


def load_report_settings(settings: Settings | None = None) -> ReportSettings:
    settings = settings or load_settings()
    neighbours = [code.strip() for code in (os.environ.get("HIGHNEEDS_NEIGHBOURS") or "").split(",") if code.strip()]
    return ReportSettings(
        out_dir=_path("HIGHNEEDS_REPORT_DIR", str(settings.warehouse.parent / "report")),
        la_code=(os.environ.get("HIGHNEEDS_LA_CODE") or "").strip() or None,
        published=_path("HIGHNEEDS_PUBLISHED", str(settings.landing / "reference")),
        neighbours=neighbours or None,
        suppression_threshold=settings.suppression_threshold,
    )
