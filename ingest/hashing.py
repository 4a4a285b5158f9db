"""Content hashes of landing files, computed once per version of a file.

A file is identified by the SHA-256 of its bytes. Reading gigabytes of ledger to hash it every
night, twice (the landing observation and the ingest), would cost more than the rest of a quiet
night's refresh, so hashes are kept in a small JSON cache beside the warehouse, keyed by the
file's path, size, modification time and status-change time (nanoseconds): a file rewritten in
place is hashed again, even when the tool that wrote it kept its size and set its modification
time back (`cp -p`, `rsync -a`, an archive unpacked with its stored times): the status-change
time moves with every write and cannot be set back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def change_signature(stat: os.stat_result) -> str:
    """Size, modification and change times of a file: what tells it changed without reading it.
    The change time (ctime) too: a file copied in with its old modification time kept (`cp -p`,
    `rsync -a`) changes nothing else."""
    return f"{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}"


def signature_bytes(signature: str) -> int:
    """The file's size a change_signature holds."""
    return int(signature.split("|")[0])


class HashCache:
    def __init__(self, cache_file: Path | None):
        self.cache_file = cache_file
        self.entries: dict[str, str] = {}
        if cache_file and cache_file.exists():
            try:
                self.entries = json.loads(cache_file.read_text())
            except (OSError, ValueError):
                self.entries = {}  # a damaged cache only costs a re-hash
        self.changed = False
        # every file hashed through this cache: its path, and the signature and hash it had when
        # it was read, and when (landing_read.record keeps them, so publishing can tell a file
        # that changed after the refresh read it: one still being copied in is read half)
        self.read: dict[Path, tuple[str, str, dt.datetime]] = {}

    def sha256(self, path: Path) -> str:
        signature = change_signature(path.stat())
        key = f"{path.resolve()}|{signature}"
        if key not in self.entries:
            self.entries[key] = sha256_file(path)
            self.changed = True
        self.read[path] = (signature, self.entries[key], dt.datetime.now(dt.UTC))
        return self.entries[key]

    def save(self) -> None:
        if not (self.cache_file and self.changed):
            return
        live = {k: v for k, v in self.entries.items() if Path(k.split("|")[0]).exists()}
        temporary = self.cache_file.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(live, indent=0, sort_keys=True))
        os.replace(temporary, self.cache_file)
        self.changed = False


def cache_for(warehouse: Path) -> HashCache:
    return HashCache(warehouse.with_name(warehouse.name + ".file-hashes.json"))
