"""The landing folder as observable source assets: which files each extract has, and their hashes.

Observing is cheap after the first time: content hashes are cached by path, size and
modification time (ingest.hashing), and the ingest assets reuse the same cache. An extract's
data version is the hash of its files' hashes, so the UI shows when its input changed.
"""

import hashlib

import dagster as dg
import pandas as pd

from ingest.contracts import EXTRACTS, Extract
from ingest.hashing import cache_for
from ingest.load import SHARED_EXTRACT, holds_many, landing_councils, landing_files
from ingest.sen2 import find_returns

from ..metadata import DATA_ENGINEERING, markdown_table
from ..settings import Settings

SEN2_KEY = dg.AssetKey(["landing", "sen2"])


def landing_key(extract: Extract) -> dg.AssetKey:
    return dg.AssetKey(["landing", extract.name])


def _observation(rows: list[tuple[str, int, str, str]], folder: str) -> dg.ObserveResult:
    frame = pd.DataFrame(rows, columns=["file", "bytes", "modified", "sha256"])
    version = hashlib.sha256("".join(f"{r[0]}|{r[3]}\n" for r in rows).encode()).hexdigest()
    return dg.ObserveResult(
        data_version=dg.DataVersion(version),
        metadata={
            "folder": dg.MetadataValue.path(folder),
            "files": len(rows),
            "bytes": int(frame["bytes"].sum()) if rows else 0,
            "file_hashes": markdown_table(frame),
        },
    )


def _stat_row(path, landing, sha256: str) -> tuple[str, int, str, str]:
    stat = path.stat()
    modified = pd.Timestamp(stat.st_mtime, unit="s").strftime("%Y-%m-%d %H:%M")
    return str(path.relative_to(landing)), stat.st_size, modified, sha256


def build_landing_asset(extract: Extract) -> dg.AssetsDefinition:
    spec = dg.AssetSpec(
        landing_key(extract),
        group_name="landing",
        owners=[DATA_ENGINEERING],
        kinds={"file"},
        description=(
            f"The landing folder's `{extract.landing_folder}/` files for the {extract.name} "
            f"extract ({extract.description}) as they are now: names, "
            "sizes and SHA-256 content hashes."
        ),
    )

    @dg.multi_observable_source_asset(specs=[spec], name=f"observe_landing_{extract.name}")
    def observe(settings: dg.ResourceParam[Settings]):
        hashes = cache_for(settings.warehouse)
        rows = [
            _stat_row(p, settings.landing, hashes.sha256(p))
            for folder in _folders(settings, extract)
            for p in landing_files(folder, extract)
        ]
        hashes.save()
        yield _observation(rows, str(settings.landing / extract.landing_folder))

    return observe


@dg.multi_observable_source_asset(
    specs=[
        dg.AssetSpec(
            SEN2_KEY,
            group_name="landing",
            owners=[DATA_ENGINEERING],
            kinds={"file"},
            description=(
                "SEN2 person-level returns in the landing folder's `sen2/` (DfE COLLECT Blade "
                "CSVs, one folder per return): the files of each return and their SHA-256 hashes. "
                "They feed the ehcp and placements ingest."
            ),
        )
    ],
    name="observe_landing_sen2",
)
def observe_sen2(settings: dg.ResourceParam[Settings]):
    hashes = cache_for(settings.warehouse)
    rows = [
        _stat_row(path, settings.landing, hashes.sha256(path))
        for folder in _folders(settings)
        for sen2 in find_returns(folder)
        for path in sen2.tables.values()
    ]
    hashes.save()
    yield _observation(rows, str(settings.landing / "sen2"))


def _folders(settings: Settings, extract: Extract | None = None) -> list:
    """The folders an extract's files are in: each council's (one, for one council's landing
    folder), and for a region's shared GIAS extract the top level too."""
    councils = landing_councils(settings.landing, settings.la_code)
    folders = [c.folder for c in councils]
    shared = extract is not None and extract.name == SHARED_EXTRACT
    if shared and holds_many(councils, settings.landing):
        folders.append(settings.landing)
    return folders


landing_assets = [*(build_landing_asset(e) for e in EXTRACTS.values()), observe_sen2]


def landing_deps(extract: Extract) -> list[dg.AssetKey]:
    from ingest.sen2 import REQUIRED_TABLES

    return [landing_key(extract), *([SEN2_KEY] if extract.name in REQUIRED_TABLES else [])]
