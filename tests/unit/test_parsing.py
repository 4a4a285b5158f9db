import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from ingest.contracts import (
    BUDGET_LINE_CODES,
    CEASE_REASON_CODES,
    OUTCOME_CODES,
    PRIMARY_NEED_CODES,
    SEX_CODES,
    YES_NO_CODES,
)
from ingest.parsing import amount_size_sql, amount_sql, code_sql, date_sql, financial_year_sql


def evaluate(expression: str, text):
    return (
        duckdb.connect()
        .execute(f"SELECT {expression} FROM (SELECT ?::VARCHAR AS v)", [text])
        .fetchone()[0]
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-09-01", dt.date(2024, 9, 1)),
        ("01/09/2024", dt.date(2024, 9, 1)),
        ("1/9/2024", dt.date(2024, 9, 1)),
        ("01-Sep-2024", dt.date(2024, 9, 1)),
        (" 1 September 2024 ", dt.date(2024, 9, 1)),
        ("2024-09-01 00:00:00", dt.date(2024, 9, 1)),
        # date-times as databases export them (SQL Server's text, ISO 8601 in UTC)
        ("2024-04-30 00:00:00.000", dt.date(2024, 4, 30)),
        ("2024-04-30 23:59:59.997", dt.date(2024, 4, 30)),
        ("2024-04-30T00:00:00.000Z", dt.date(2024, 4, 30)),
        ("2024-04-30T00:00:00Z", dt.date(2024, 4, 30)),
        # UTC is dated as in England: local midnight in summer time, exported as UTC, is the
        # 1 April and 1 September it was, not the day before; winter's UTC is London's
        ("2025-03-31T23:00:00.000Z", dt.date(2025, 4, 1)),
        ("2010-08-31T23:00:00Z", dt.date(2010, 9, 1)),
        ("2025-03-31T22:59:59Z", dt.date(2025, 3, 31)),
        ("2025-01-15T23:30:00Z", dt.date(2025, 1, 15)),
        ("2025-02-30T23:00:00Z", None),
        ("2024-09-01T23:30:00+01:00", dt.date(2024, 9, 1)),  # with its offset
        ("2025-03-31T23:00:00+0000", dt.date(2025, 4, 1)),
        ("2024-09-01 00:00:00.0000000", dt.date(2024, 9, 1)),  # SQL Server's datetime2
        ("2024-09-01T00:00:00.1234567Z", dt.date(2024, 9, 1)),
        ("2024-09-01 Z", None),
        # Oracle's DD-MON-YYYY: a T in the month and a dash before the year are no offset
        ("15-OCT-2024", dt.date(2024, 10, 15)),
        ("01-OCT-2024", dt.date(2024, 10, 1)),
        ("31-AUGUST-2024", dt.date(2024, 8, 31)),
        ("15-SEPTEMBER-2024", dt.date(2024, 9, 15)),
        ("2024-04-30 00:00", dt.date(2024, 4, 30)),
        ("30/04/2024 00:00:00.000", dt.date(2024, 4, 30)),
        ("13/01/2024", dt.date(2024, 1, 13)),
        ("45536", dt.date(2024, 9, 1)),  # an Excel serial date
        ("45536.0", dt.date(2024, 9, 1)),
        ("2024", None),
        ("09/13/2024", None),  # US month-first is never read
        ("31/02/2024", None),
        ("", None),
        (None, None),
        ("yesterday", None),
        # a two-digit year is no date (it was read as the year 24, then refused as before the
        # date floor, a misleading reason)
        ("01/09/24", None),
        ("14/03/12", None),
        ("1-Sep-24", None),
    ],
)
def test_dates_are_read_day_first(text, expected):
    assert evaluate(date_sql("v"), text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1234.5", Decimal("1234.50")),
        ("1,234.50", Decimal("1234.50")),
        ("£1,234.50", Decimal("1234.50")),
        ("£\u00a01,234.50", Decimal("1234.50")),  # a no-break space after the pound sign
        ("12\u00a034", None),  # and inside a number, as a space: not 1234
        ("(1,234.50)", Decimal("-1234.50")),
        ("-£20.00", Decimal("-20.00")),
        (" 7 ", Decimal("7.00")),
        ("", None),
        ("1e3", None),
        ("12.345", None),
        ("abc", None),
        ("1,234,567.89", Decimal("1234567.89")),
        ("(£1,234.50)", Decimal("-1234.50")),
        # a comma that does not separate thousands is not an amount (a decimal comma, a slip)
        ("12,34", None),
        ("1234,5", None),
        ("1,23", None),
        ("1,2345", None),
        (",123", None),
        # nor is a space inside the number (a slip, or a foreign grouping): it was 1234
        ("12 34", None),
        ("1 234.50", None),
        ("£ 1 2.3 4", None),
        ("1,234 .50", None),
        ("£ 1,234", Decimal("1234.00")),
        ("( £1,234.50 )", Decimal("-1234.50")),
        ("- £5", Decimal("-5.00")),
        # the typographic minus (U+2212) Word and Excel's formats write
        ("\u2212361,651.04", Decimal("-361651.04")),
        ("\u2212£5", Decimal("-5.00")),
        ("5\u2212", None),
    ],
)
def test_amounts(text, expected):
    assert evaluate(amount_sql("v"), text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1,500,000.00 CR", Decimal("1500000.00")),
        ("250.00-", Decimal("250.00")),
        ("12,34", Decimal("12.34")),
        # several points or commas: the last the decimal one (they weighed £0, no number)
        ("1.234.567,89", Decimal("1234567.89")),
        ("12.3.4", Decimal("123.4")),
        ("1,234", Decimal("1234")),
        (".5", Decimal("0.5")),
        ("n/a", None),
        ("", None),
    ],
)
def test_an_unreadable_amount_weighs_its_digits_with_the_last_point_or_comma_as_decimal(
    text, expected
):
    assert evaluate(amount_size_sql("v"), text) == expected


def test_codes_match_case_and_spaces_and_excel_decimals():
    assert evaluate(code_sql("v", PRIMARY_NEED_CODES), " asd ") == "ASD"
    assert evaluate(code_sql("v", PRIMARY_NEED_CODES), "Autism") is None
    assert evaluate(code_sql("v", CEASE_REASON_CODES), "5.0") == "5"
    assert evaluate(code_sql("v", BUDGET_LINE_CODES), "HNB_Allocation") == "hnb_allocation"
    # Yes/No spelt out, in a flag and in an outcome that may also be withdrawn
    assert evaluate(code_sql("v", YES_NO_CODES), "Yes") == "Y"
    assert evaluate(code_sql("v", OUTCOME_CODES), "yes") == "Y"
    assert evaluate(code_sql("v", OUTCOME_CODES), "FALSE") == "N"
    assert evaluate(code_sql("v", OUTCOME_CODES), "w") == "W"
    assert evaluate(code_sql("v", SEX_CODES), "Yes") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-25", "2024-25"),
        ("2024/25", "2024-25"),
        ("2024-2025", "2024-25"),
        ("2024\u201325", "2024-25"),  # an en dash
        ("1999-00", "1999-00"),
        ("2024-26", None),
        ("2024", None),
    ],
)
def test_financial_years(text, expected):
    assert evaluate(financial_year_sql("v"), text) == expected
