"""SQL expressions that turn the text of a landing file into typed values.

Every value is loaded as text first, so nothing is lost to a type guess; these expressions are
the one place where text becomes a date, an amount or a code. The loader uses them both to
validate (a non-empty value whose parse is NULL is a problem) and to build the typed rows, and
the reconciliation gates use them to total the money in the files.
"""

from __future__ import annotations

from .contracts import Column

# Day-first only: a UK council's 01/09/2024 is 1 September. US month-first is never tried.
DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d-%B-%Y",
    "%d %B %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    # a database's date-times as exported: SQL Server's text (milliseconds), ISO 8601 in UTC
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%d/%m/%Y %H:%M:%S.%f",
)
# ISO 8601 in UTC (`Z`): an instant, dated as it was in England. A system that exports local
# midnight as UTC writes 1 April (British Summer Time) as `…-03-31T23:00:00Z`; the day as written
# put it in the year before. Midnight UTC is the same day in London, so nothing else moves.
UTC_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ")
# ISO 8601 with its offset (`2024-09-01T23:30:00+01:00`): the instant, dated as in England too
OFFSET_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z")
LOCAL_TIME_ZONE = "Europe/London"
# the shape of one (not `01-OCT-2024`, whose T and dashes are a month's and a year's)
ISO_WITH_OFFSET = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9]{2}:?[0-9]{2}$"
# SQL Server's datetime2 writes seven decimals of a second (`…00:00:00.0000000`); %f reads six
MICROSECONDS = r"(\.[0-9]{6})[0-9]+"
MONEY_TYPE = "DECIMAL(18,2)"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def blank_to_null(expr: str) -> str:
    """Trimmed text, NULL when empty (a blank cell and a missing value are the same thing)."""
    return f"nullif(trim({expr}), '')"


# Excel stores dates as days since 30 December 1899; a date column exported as numbers holds
# those serials. Five digits cover 1927–2173, so no real day count is mistaken for a year.
EXCEL_EPOCH = "DATE '1899-12-30'"
EXCEL_SERIAL = r"^[0-9]{5}(\.0+)?$"


def date_sql(expr: str) -> str:
    """Date from text in any accepted format (or an Excel serial); NULL when not a real date."""

    def listed(formats: tuple[str, ...]) -> str:
        return "[" + ", ".join(quote_literal(f) for f in formats) + "]"

    text = blank_to_null(expr)
    # (the cheap tests first: a date's text is parsed for every row of a ledger)
    seconds = (
        f"CASE WHEN length({text}) > 26 THEN regexp_replace({text}, '{MICROSECONDS}', '\\1') "
        f"ELSE {text} END"
    )
    utc = f"try_strptime({seconds}, {listed(UTC_DATE_FORMATS)})"
    offset = f"try_strptime({seconds}, {listed(OFFSET_DATE_FORMATS)})"
    # a year needs its four digits: strptime's %Y takes `24` in `01/09/24` as the year 24
    return (
        f"CASE WHEN {text} ~ '{EXCEL_SERIAL}' "
        f"THEN {EXCEL_EPOCH} + CAST(CAST({text} AS DOUBLE) AS INTEGER) "
        f"WHEN NOT regexp_matches({text}, '(^|[^0-9])[0-9]{{4}}([^0-9]|$)') THEN NULL "
        f"WHEN suffix({text}, 'Z') "
        f"THEN timezone('{LOCAL_TIME_ZONE}', timezone('UTC', {utc}))::DATE "
        f"WHEN regexp_matches({text}, '{ISO_WITH_OFFSET}') "
        f"THEN timezone('{LOCAL_TIME_ZONE}', {offset})::DATE "
        f"ELSE try_strptime({seconds}, {listed(DATE_FORMATS)})::DATE END"
    )


def amount_sql(expr: str) -> str:
    """Amount in pounds from `1234.5`, `1,234.50`, `£1,234.50`, `(1,234.50)`, `-£20.00`; NULL
    for anything else (`12,34`, `12 34`, `1e3`, three decimals). The minus sign Word and Excel's
    typography write (U+2212) is a minus: a deficit brought forward written `−361,651.04` was
    quarantined, and with it the year's opening balance."""
    text = f"replace({blank_to_null(expr)}, '\u2212', '-')"
    # A comma must separate thousands (`1,234.50`): `12,34` or `1234,5` (a decimal comma, or a
    # slip) is not an amount, not 1234 or 12345.
    spaced = f"regexp_replace({text}, '[£\\s\\x{{00A0}}]', '', 'g')"
    grouped = (
        f"(NOT contains({spaced}, ',') "
        f"OR {spaced} ~ '^\\(?[-+]?[0-9]{{1,3}}(,[0-9]{{3}})+(\\.[0-9]+)?\\)?$')"
    )
    # A space inside the number (`12 34`, `1 234.50`) is a slip or a foreign grouping: not 1234.
    grouped = f"{grouped} AND NOT regexp_matches({text}, '[0-9.,][\\s\\x{{00A0}}]+[0-9.,]')"
    # Remove thousands separators, pound signs and inner spaces; a value wrapped in
    # parentheses is the accountants' negative.
    cleaned = f"regexp_replace({text}, '[£,\\s\\x{{00A0}}]', '', 'g')"
    negated = (
        f"CASE WHEN {cleaned} ~ '^\\(.*\\)$' "
        f"THEN '-' || substr({cleaned}, 2, length({cleaned}) - 2) ELSE {cleaned} END"
    )
    # Accept digits with an optional sign and up to two decimals, nothing else (no 1e3).
    return (
        f"CASE WHEN {grouped} AND ({negated}) ~ '^[-+]?[0-9]+(\\.[0-9]{{1,2}})?$' "
        f"THEN try_cast({negated} AS {MONEY_TYPE}) END"
    )


def amount_size_sql(expr: str) -> str:
    """The size of an amount `amount_sql` refuses (`1,500,000.00 CR`, `250.00-`, `12,34`,
    `1.234.567,89`): its digits read as pounds, the last point or comma the decimal one when
    one or two digits follow it; NULL when there are no digits. Never loaded: it only weighs a
    quarantined row's money in the quarantine's money tolerance, so an amount the parser cannot
    read does not pass that tolerance as £0 (`12.3.4` and `1.234.567,89` had weighed nothing,
    their several points making no number)."""
    marks = f"regexp_replace({blank_to_null(expr)}, '[^0-9.,]', '', 'g')"
    pence = f"regexp_extract({marks}, '[.,]([0-9]{{1,2}})$', 1)"
    pounds = (
        f"regexp_replace(CASE WHEN {pence} <> '' THEN left({marks}, length({marks}) - "
        f"length({pence}) - 1) ELSE {marks} END, '[^0-9]', '', 'g')"
    )
    number = f"{pounds} || CASE WHEN {pence} <> '' THEN '.' || {pence} ELSE '' END"
    return f"try_cast(nullif({number}, '') AS {MONEY_TYPE})"


def code_sql(expr: str, codes: tuple[str, ...]) -> str:
    """The canonical spelling of a code matched case-insensitively; NULL when unknown."""
    text = f"upper({blank_to_null(expr)})"
    # Codes exported through Excel often gain a decimal tail ("5.0"); a code is never decimal.
    text = f"regexp_replace({text}, '^([0-9]+)\\.0+$', '\\1')"
    whens = " ".join(f"WHEN {quote_literal(c.upper())} THEN {quote_literal(c)}" for c in codes)
    if {"Y", "N"} <= set(codes):
        # a yes/no flag spelt out, as many systems export it (a placements extract giving its
        # unit flags as Yes/No, 35 % of its rows, was quarantined or set aside whole); the
        # requests' outcomes (Y, N or W) too: `plan_issued` Yes quarantined its request whole,
        # where `week20_exception` Yes beside it was read
        whens += (
            " WHEN 'YES' THEN 'Y' WHEN 'NO' THEN 'N' WHEN 'TRUE' THEN 'Y' WHEN 'FALSE' THEN 'N'"
        )
    return f"CASE {text} {whens} END"


def financial_year_sql(expr: str) -> str:
    """`2024-25` from `2024-25`, `2024/25`, `2024-2025` or `2024–25` (the en dash Word puts in
    a range); NULL unless the two years follow."""
    text = blank_to_null(expr)
    start = (
        f"try_cast(regexp_extract({text}, "
        "'^([0-9]{4})\\s*[-/\u2013]\\s*([0-9]{2}|[0-9]{4})$', 1) AS INTEGER)"
    )
    end = (
        f"try_cast(regexp_extract({text}, "
        "'^([0-9]{4})\\s*[-/\u2013]\\s*([0-9]{2}|[0-9]{4})$', 2) AS INTEGER)"
    )
    return (
        f"CASE WHEN ({end}) % 100 = (({start}) + 1) % 100 "
        f"THEN ({start})::VARCHAR || '-' || lpad(((({start}) + 1) % 100)::VARCHAR, 2, '0') END"
    )


# A pseudonymised id is stored as a number (see ingest.pseudonymise); quarantine keeps its text.
PSEUDONYM_TYPE = "BIGINT"


def typed_sql(column: Column, expr: str) -> str:
    """The typed value of `column` from its text `expr` (NULL when blank or unparseable); for a
    pseudonymised column `expr` is already the keyed hash (the loader hashes each distinct id
    once, before the row is typed)."""
    if column.pseudonymise:
        return expr
    if column.kind == "date":
        return date_sql(expr)
    if column.kind == "amount":
        return amount_sql(expr)
    if column.kind == "code":
        assert column.codes is not None, column.name
        return code_sql(expr, column.codes)
    if column.kind == "financial_year":
        return financial_year_sql(expr)
    value = blank_to_null(expr)
    if column.kind == "id":
        # a number column with blanks, written out by Excel or pandas, gains a decimal tail:
        # URN 925203.0 matched no school, and its place funding fell to central spend
        value = f"regexp_replace({value}, '^([0-9]+)\\.0+$', '\\1')"
    if column.pattern:
        return f"CASE WHEN {value} ~ {quote_literal(column.pattern)} THEN {value} END"
    return value


def sql_type(column: Column) -> str:
    if column.pseudonymise:
        return PSEUDONYM_TYPE
    return {"date": "DATE", "amount": MONEY_TYPE}.get(column.kind, "VARCHAR")
