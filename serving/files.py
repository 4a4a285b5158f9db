"""Writing files that readers may have open: folders with the mode their files need, fsync,
and what a killed build left removed. The serving file (`serving.publish`) and its Parquet copy
(`serving.parquet`) are both built beside what readers see and swapped in."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

NEXT_MARKER = ".next-"
OWNER_ONLY = 0o600


def folder_mode(file_mode: int) -> int:
    """The mode of a folder whose files have `file_mode`: listed and entered by whoever reads them
    (600 → 700, 640 → 750)."""
    return file_mode | (file_mode & 0o444) >> 2


def make_folders(path: Path, file_mode: int) -> None:
    """Create `path` and its missing parents with the folder mode for `file_mode` (under the
    refresh's owner-only umask they would be 700, closed to a BI account the file mode lets in)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        os.chmod(folder, folder_mode(file_mode))


def flush(path: Path) -> None:
    """fsync a file or a folder (a folder's fsync makes a rename in it durable)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_files(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        if candidate.is_symlink() or candidate.is_file():
            candidate.unlink()
        elif candidate.is_dir():
            shutil.rmtree(candidate, ignore_errors=True)


def sql_text(value: object) -> str:
    return str(value).replace("'", "''")
