"""The contract of the serving file: every table BI reads, its description, and its columns'
names, types and descriptions — data, not code. `forecast.yml`, `published.yml` and `meta.yml`
beside this module hold the schemas highneeds builds in Python; the marts (and the seeds `meta`
copies) are described in the dbt project's YAML, read here too so a table made from a mart can
take the mart's column descriptions instead of repeating them.

One source for the comments on the warehouse's forecast tables (forecast.store) and on the
serving file's published and meta tables (serving.publish), the Parquet files' metadata (copied
from those comments), the Dagster assets' column schemas, and so the README's data dictionary
(serving.dictionary reads the serving file). tests/e2e/test_dictionary.py checks that every
served column is described and that the serving file, its Parquet files and Dagster all say
what this contract says.

The files have the shape of dbt's model YAML — `tables`, each with `name`, `description` and
`columns` (`name`, `description`, `data_type`) — and a column with no description of its own
takes, in turn: that of the table named by its table's `from` (the table it is made from), the
one under `shared_columns`, or for `<name>_p10`/`_p50`/`_p90`/`_central` `<name>`'s followed by
the quantile's under `quantiles`; a column's `note` is appended to its description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

CONTRACT_DIR = Path(__file__).parent
DBT_DIR = Path(__file__).resolve().parents[2] / "dbt"
SCHEMAS = ("forecast", "published", "meta")  # described here; "marts" and "seeds" from dbt's YAML
_QUANTILE = re.compile(r"(.+)_(p10|p50|p90|central)")
_FILE_KEYS = {"version", "schema", "shared_columns", "quantiles", "tables"}
_TABLE_KEYS = {"name", "description", "from", "columns"}
_COLUMN_KEYS = {"name", "description", "note", "data_type"}


class ContractError(ValueError):
    """A contract file without the shape above (a misspelt key, an entry with no name)."""


@dataclass(frozen=True)
class Column:
    name: str
    description: str | None  # resolved: shared, inherited, quantile and note applied
    data_type: str | None  # as the serving file has it (lower case), when the contract says


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    description: str | None
    columns: tuple[Column, ...]
    source: str | None = None  # "schema.table" its undescribed columns take their descriptions from

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def describe(self, column: str) -> str | None:
        """The column's description; None for a column the contract does not list."""
        found = self.column(column)
        return found.description if found else None

    def descriptions(self) -> dict[str, str]:
        """Column → description, for the described columns, in the contract's order."""
        return {c.name: c.description for c in self.columns if c.description}


def tables(schema: str) -> dict[str, Table]:
    """The tables of a schema (forecast, published, meta; marts and seeds from dbt's YAML), in
    the contract's order."""
    if schema in SCHEMAS:
        return _contract(schema)
    if schema in ("marts", "seeds"):
        return _dbt_tables(schema)
    raise KeyError(f"no contract for schema {schema!r}")


def table(schema: str, name: str) -> Table:
    found = tables(schema).get(name)
    if found is None:
        raise KeyError(
            f"{schema}.{name} is not in the serving contract ({_file(schema)}): describe it there"
        )
    return found


def describe(schema: str, name: str, column: str | None = None) -> str | None:
    """A table's description, or one of its columns' (None when the contract has none)."""
    found = tables(schema).get(name)
    if found is None:
        return None
    return found.description if column is None else found.describe(column)


def one_line(text: object) -> str | None:
    """Text as one line with single spaces (YAML's folded text ends in a newline)."""
    joined = " ".join(str(text).split()) if text is not None else ""
    return joined or None


@cache
def _contract(schema: str) -> dict[str, Table]:
    path = CONTRACT_DIR / f"{schema}.yml"
    document = _load(path)
    _only(document, _FILE_KEYS, str(path))
    if document.get("schema") != schema:
        raise ContractError(f"{path}: says schema {document.get('schema')!r}, not {schema!r}")
    shared = {}
    for entry in document.get("shared_columns") or []:
        _only(entry, {"name", "description"}, f"{path}: shared_columns")
        shared[entry["name"]] = one_line(entry.get("description"))
    quantiles = {q: one_line(text) for q, text in (document.get("quantiles") or {}).items()}
    result = {}
    for entry in document.get("tables") or []:
        _only(entry, _TABLE_KEYS, f"{path}: tables")
        where = f"{path}: {schema}.{entry['name']}"
        for column in entry.get("columns") or []:
            _only(column, _COLUMN_KEYS, f"{where}: columns")
        source = entry.get("from")
        inherited = table(*source.split(".", 1)) if source else None
        own = {c["name"]: one_line(c.get("description")) for c in entry.get("columns") or []}

        def resolve(name: str, own=own, inherited=inherited) -> str | None:
            if own.get(name):
                return own[name]
            if inherited is not None and inherited.describe(name):
                return inherited.describe(name)
            if shared.get(name):
                return shared[name]
            if (match := _QUANTILE.fullmatch(name)) and match.group(2) in quantiles:
                base = resolve(match.group(1))
                return f"{base} {quantiles[match.group(2)]}" if base else None
            return None

        columns = []
        for column in entry.get("columns") or []:
            text, note = resolve(column["name"]), one_line(column.get("note"))
            text = f"{text} {note}" if text and note else text or note
            data_type = str(column["data_type"]).lower() if column.get("data_type") else None
            columns.append(Column(column["name"], text, data_type))
        if len({c.name for c in columns}) != len(columns):
            raise ContractError(f"{where}: a column is listed twice")
        description = one_line(entry.get("description"))
        result[entry["name"]] = Table(schema, entry["name"], description, tuple(columns), source)
    return result


@cache
def _dbt_tables(schema: str) -> dict[str, Table]:
    """The marts' models (dbt/models/marts/**.yml) or the seeds (dbt/seeds/*.yml), as dbt
    describes them."""
    if schema == "marts":
        paths, kind = sorted((DBT_DIR / "models" / "marts").rglob("*.yml")), "models"
    else:
        paths, kind = sorted((DBT_DIR / "seeds").glob("*.yml")), "seeds"
    result = {}
    for path in paths:
        for entry in _load(path).get(kind) or []:
            columns = tuple(
                Column(
                    c["name"],
                    one_line(c.get("description")),
                    _duckdb_type(c["data_type"]) if c.get("data_type") else None,
                )
                for c in entry.get("columns") or []
            )
            description = one_line(entry.get("description"))
            result[entry["name"]] = Table(schema, entry["name"], description, columns)
    return result


def _duckdb_type(data_type: object) -> str:
    """A dbt YAML type as DuckDB names it in the serving file: the YAML spells text `string`, which
    both engines the models build on accept (DuckDB and Spark: Spark has no bare `varchar`)."""
    name = str(data_type).lower()
    return "varchar" if name == "string" else name


def _load(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ContractError(f"{path}: {error}") from error
    if not isinstance(document, dict):
        raise ContractError(f"{path}: not a YAML mapping")
    return document


def _only(entry: object, allowed: set[str], where: str) -> None:
    """A mapping with only the allowed keys (a misspelt key is an error, not a silent gap), and a
    name where it may have one."""
    if not isinstance(entry, dict):
        raise ContractError(f"{where}: expected a mapping, found {entry!r}")
    if unknown := set(entry) - allowed:
        raise ContractError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
            f"(allowed: {', '.join(sorted(allowed))}) in {entry!r}"
        )
    if "name" in allowed and not entry.get("name"):
        raise ContractError(f"{where}: no name")


def _file(schema: str) -> str:
    if schema in SCHEMAS:
        return f"serving/contract/{schema}.yml"
    return "the dbt project's YAML"
