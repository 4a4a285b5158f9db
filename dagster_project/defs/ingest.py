"""Ingest assets (one per landing extract) and their blocking gates."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from checks import gates
from ingest import landing_read
from ingest.contracts import COLUMN_DESCRIPTIONS, EXTRACTS, Extract
from ingest.hashing import cache_for
from ingest.load import load_extract, require_landing_files
from ingest.pseudonymise import check_key_fingerprint
from ingest.readers import load_reader_config

from ..metadata import DATA_ENGINEERING, check_result, markdown_table, provenance
from ..settings import Settings
from .landing import landing_deps

PROVENANCE = {
    "_file_hash": "SHA-256 of the landing file (or sheet) the row came from.",
    "_source_file": "Landing file the row came from, relative to the landing folder.",
    "_source_row": "Row number in that file as a spreadsheet shows it (header = 1).",
    "_load_id": "The refresh run that loaded the row.",
    "_extra_columns": "Columns of the landing file outside the contract, as text by header "
    "(personal-data headers dropped).",
}
ROWS_ACCOUNTED_FOR = "rows_accounted_for"
NO_REJECTED_FILES = "no_rejected_files"
QUARANTINE_WITHIN_TOLERANCE = "quarantine_within_tolerance"


def raw_key(extract: Extract) -> dg.AssetKey:
    return dg.AssetKey(["raw", extract.name])


def build_ingest_asset(extract: Extract) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(extract),
        group_name="ingest",
        owners=[DATA_ENGINEERING],
        kinds={"python", "duckdb"},
        deps=landing_deps(extract),
        description=(
            f"{extract.description} Loads every new file in the landing folder's `{extract.name}/` "
            f"into `raw.{extract.name}`: every accepted row typed and written once (personal data "
            "dropped, child ids keyed hashes, with source file, row and load id); exact "
            f"duplicates in `raw.{extract.name}_duplicates`, rejected rows as text in "
            f"`quarantine.{extract.name}` with their reasons"
            + (
                f"; an unreadable value in a descriptive column set aside in "
                f"`quarantine.{extract.name}_values`, its row loaded without it"
                if any(c.lenient for c in extract.columns)
                else ""
            )
            + ". Files already loaded (same content hash) are not read again."
        ),
    )
    def ingest_extract(
        context: dg.AssetExecutionContext,
        warehouse: DuckDBResource,
        settings: dg.ResourceParam[Settings],
    ) -> dg.MaterializeResult:
        key = settings.require_pseudonym_key()
        hashes = cache_for(settings.warehouse)
        require_landing_files(settings.landing)
        with warehouse.get_connection() as con:
            check_key_fingerprint(con, key)  # another key: stop before loading anything
            result = load_extract(
                con,
                extract,
                settings.landing,
                context.run.run_id,
                key,
                settings.extract_date,
                load_reader_config(settings.readers),
                hashes,
                date_floor=settings.date_floor,
                sen2_child_id=settings.sen2_child_id,
                la_code=settings.la_code,
            )
            landing_read.record(con, extract.name, settings.landing, hashes, context.run.run_id)
        hashes.save()
        with warehouse.get_connection() as con:
            files = con.execute(
                "SELECT file_name, file_hash, status, rows_read, rows_valid, rows_duplicate, "
                "rows_quarantined, in_landing "
                f"FROM raw.{extract.name}_files ORDER BY file_seq"
            ).df()
            raw_rows = con.execute(f"SELECT count(*) FROM raw.{extract.name}").fetchone()[0]
            schema = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'raw' AND table_name = ? ORDER BY ordinal_position",
                [extract.name],
            ).fetchall()
        for outcome in result.rejected:
            context.log.error(outcome.message)
        current = files[files["in_landing"]]
        return dg.MaterializeResult(
            metadata={
                "landing_folder": dg.MetadataValue.path(str(settings.landing / extract.name)),
                "files_in_landing": len(current),
                "files_loaded_this_run": sum(f.status == "loaded" for f in result.files),
                "files_rejected": len(result.rejected),
                "rows_read": int(current["rows_read"].fillna(0).sum()),
                "rows_loaded": int(current["rows_valid"].fillna(0).sum()),
                "rows_duplicate": int(current["rows_duplicate"].fillna(0).sum()),
                "rows_quarantined": int(current["rows_quarantined"].fillna(0).sum()),
                "files": markdown_table(files),
                "dagster/row_count": raw_rows,
                "dagster/column_schema": dg.TableSchema(
                    columns=[
                        dg.TableColumn(
                            name,
                            kind,
                            description=COLUMN_DESCRIPTIONS.get(name, PROVENANCE.get(name, "")),
                        )
                        for name, kind in schema
                    ]
                ),
                **provenance(context.run.run_id),
            }
        )

    return ingest_extract


def build_ingest_checks(extract: Extract) -> dg.AssetChecksDefinition:
    key = raw_key(extract)

    @dg.multi_asset_check(
        name=f"{extract.name}_ingest_gates",
        specs=[
            dg.AssetCheckSpec(
                ROWS_ACCOUNTED_FOR,
                asset=key,
                blocking=True,
                description=(
                    "Every row read is in raw and is exactly one of: loaded, exact duplicate, "
                    "quarantined; money read = loaded + duplicates + quarantined, to the penny."
                ),
            ),
            dg.AssetCheckSpec(
                NO_REJECTED_FILES,
                asset=key,
                blocking=True,
                description=(
                    "No file in the landing folder was rejected whole (unreadable, "
                    "or a required column missing)."
                ),
            ),
            dg.AssetCheckSpec(
                QUARANTINE_WITHIN_TOLERANCE,
                asset=key,
                blocking=True,
                description=(
                    "Quarantined rows and money are within HIGHNEEDS_QUARANTINE_TOLERANCE (a share "
                    "of rows read; default 1 %) and HIGHNEEDS_QUARANTINE_MONEY_TOLERANCE (a share "
                    "of the money read, in absolute amounts; default 0.5 %)."
                ),
            ),
        ],
    )
    def ingest_gates(warehouse: DuckDBResource, settings: dg.ResourceParam[Settings]):
        # a rejected file or too much quarantine holds its council only (rows lost between the
        # file and raw are the pipeline's fault, and stop every council)
        councils = settings.councils()
        with warehouse.get_connection() as con:
            yield check_result(gates.rows_accounted_for(con, extract), key, ROWS_ACCOUNTED_FOR)
            yield check_result(
                gates.no_rejected_files(con, extract), key, NO_REJECTED_FILES, councils
            )
            yield check_result(
                gates.quarantine_within_tolerance(
                    con, extract, settings.quarantine_tolerance, settings.quarantine_money_tolerance
                ),
                key,
                QUARANTINE_WITHIN_TOLERANCE,
                councils,
            )

    return ingest_gates


ingest_assets = [build_ingest_asset(e) for e in EXTRACTS.values()]
ingest_checks = [build_ingest_checks(e) for e in EXTRACTS.values()]
