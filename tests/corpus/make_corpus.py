"""Write the corpus of awkward and bad landing files, one case per folder, with what each must do.

    .venv/bin/python tests/corpus/make_corpus.py     # rewrites tests/corpus/cases/

Each case folder holds landing sub-folders (ehcp/, placements/, finance/, budget/, sen2/) and
`expected.yml`: per extract, the outcome of each file and row — loaded, exact duplicate,
quarantined with which reasons, or rejected with which message. The files are committed; this
script documents how the binary ones (Windows-1252, UTF-16, XLSX) were made and regenerates
them. tests/unit/test_corpus.py loads every case on its own; tests/e2e/test_corpus_refresh.py
runs `highneeds refresh` on all of them at once.
"""

import datetime as dt
import shutil
from pathlib import Path

import yaml

CASES = Path(__file__).resolve().parent / "cases"

EHCP = (
    "child_id,plan_id,date_of_birth,sex,primary_need,plan_start_date,plan_cease_date,cease_reason"
)
PLACEMENTS = (
    "placement_id,child_id,urn,ukprn,sen_setting,establishment_type_code,start_date,end_date,"
    "annual_cost"
)
FINANCE = "transaction_id,posting_date,amount,s251_line,child_id,placement_id,description"
GOOD_PLAN = "C1,P1,2012-03-14,M,ASD,2019-03-01,,"


def case(
    name: str, files: dict[str, str | bytes], expected: dict, readers: dict | None = None
) -> None:
    folder = CASES / name
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    if readers:
        (folder / "readers.yml").write_text(yaml.safe_dump(readers, sort_keys=False))
    (folder / "expected.yml").write_text(
        yaml.safe_dump(expected, sort_keys=False, allow_unicode=True)
    )


def lines(*rows: str, newline: str = "\n") -> str:
    return newline.join(rows) + newline


def workbook(path_sheets: dict[str, list[list]]) -> bytes:
    from io import BytesIO

    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in path_sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def loaded(rows: int, **extra) -> dict:
    return {
        "status": "loaded",
        "rows_read": rows,
        "rows_valid": rows,
        "rows_duplicate": 0,
        "rows_quarantined": 0,
        **extra,
    }


def build() -> None:
    shutil.rmtree(CASES, ignore_errors=True)

    # --- formats ---------------------------------------------------------------------------
    case(
        "01_utf8_with_bom",
        {"ehcp/plans.csv": "\ufeff" + lines(EHCP, GOOD_PLAN)},
        {
            "ehcp": {
                "ehcp/plans.csv": loaded(
                    1, values={2: {"primary_need": "ASD", "date_of_birth": "2012-03-14"}}
                )
            }
        },
    )
    case(
        "02_windows_1252_semicolons",
        {
            "placements/placements.csv": lines(
                PLACEMENTS.replace(",", ";"),
                "PL1;C1;123456;;;1;2020-09-01;;£12,340.50",
                newline="\r\n",
            ).encode("cp1252")
        },
        {
            "placements": {
                "placements/placements.csv": loaded(1, values={2: {"annual_cost": "12340.50"}})
            }
        },
    )
    case(
        "03_tab_delimited",
        {
            "finance/ledger.csv": lines(
                FINANCE.replace(",", "\t"), "T1\t2024-04-30\t100.00\t1.2.1\tC1\tPL1\tTop-up"
            )
        },
        {"finance": {"finance/ledger.csv": loaded(1, money=100.00)}},
    )
    case(
        "04_pipe_delimited",
        {
            "finance/ledger.csv": lines(
                FINANCE.replace(",", "|"), "T1|2024-04-30|250.50|1.2.3|C1|PL1|Fees"
            )
        },
        {"finance": {"finance/ledger.csv": loaded(1, money=250.50)}},
    )
    case(
        "05_quoted_commas_and_newlines",
        {
            "finance/ledger.csv": lines(
                FINANCE,
                'T1,2024-04-30,10,1.2.1,C1,PL1,"Top-up, autumn\nterm"',
                'T2,2024-05-31,20,1.2.1,C1,PL1,"He said ""fine"""',
            )
        },
        {
            "finance": {
                "finance/ledger.csv": loaded(
                    2,
                    money=30.00,
                    values={
                        2: {"description": "Top-up, autumn\nterm"},
                        3: {"description": 'He said "fine"'},
                    },
                )
            }
        },
    )
    case(
        "06_crlf_line_endings",
        {
            "ehcp/plans.csv": lines(
                EHCP, GOOD_PLAN, "C2,P2,2011-01-01,F,SEMH,2020-01-01,,", newline="\r\n"
            )
        },
        {"ehcp": {"ehcp/plans.csv": loaded(2)}},
    )
    case(
        "07_utf16_with_bom",
        {"ehcp/plans.csv": lines(EHCP, GOOD_PLAN, newline="\r\n").encode("utf-16")},
        {"ehcp": {"ehcp/plans.csv": loaded(1)}},
    )
    case(
        "08_xlsx_date_cells_and_numbers",
        {
            "finance/ledger.xlsx": workbook(
                {
                    "Sheet1": [
                        FINANCE.split(","),
                        ["T1", dt.datetime(2024, 4, 30), 1234.5, "1.2.2", "C1", "PL1", "Top-up"],
                        ["T2", dt.date(2024, 5, 31), 0.1 + 0.2, "1.2.2", "C1", "PL1", None],
                    ]
                }
            )
        },
        {
            "finance": {
                "finance/ledger.xlsx#Sheet1": loaded(
                    2,
                    money=1234.80,
                    values={
                        2: {"posting_date": "2024-04-30", "amount": "1234.50"},
                        3: {"amount": "0.30"},
                    },
                )
            }
        },
    )
    case(
        "09_xlsx_named_sheets",
        {
            "finance/ledger.xlsx": workbook(
                {
                    "Notes": [["not data"]],
                    "Ledger": [
                        FINANCE.split(","),
                        ["T1", "30/04/2024", 100, "1.2.1", "C1", "PL1", "x"],
                    ],
                    "Credits": [
                        FINANCE.split(","),
                        ["T2", "31/05/2024", -40, "1.2.1", "C1", "PL1", "refund"],
                    ],
                }
            )
        },
        {
            "finance": {
                "finance/ledger.xlsx#Ledger": loaded(1, money=100.00),
                "finance/ledger.xlsx#Credits": loaded(1, money=-40.00),
            }
        },
        readers={"finance": {"sheets": ["Ledger", "Credits"]}},
    )
    case(
        "10_xlsx_sheet_missing",
        {"finance/ledger.xlsx": workbook({"Sheet1": [FINANCE.split(",")]})},
        {
            "finance": {
                "finance/ledger.xlsx": {
                    "status": "rejected",
                    "message": "finance/ledger.xlsx: sheet(s) Ledger not found; sheets: Sheet1",
                }
            }
        },
        readers={"finance": {"sheets": ["Ledger"]}},
    )
    case(
        "11_date_formats",
        {
            "ehcp/plans.csv": lines(
                EHCP,
                "C1,P1,14/03/2012,M,ASD,1/3/2019,,",
                "C2,P2,14-Mar-2012,M,ASD,2019-03-01,,",
                "C3,P3,40982,M,ASD,01/03/2019,,",
                "C4,P4,2012-03-14 00:00:00,M,ASD,1 March 2019,,",
            )
        },
        {
            "ehcp": {
                "ehcp/plans.csv": loaded(
                    4,
                    values={
                        r: {"date_of_birth": "2012-03-14", "plan_start_date": "2019-03-01"}
                        for r in (2, 3, 4, 5)
                    },
                )
            }
        },
    )
    case(
        "12_us_month_first_is_not_a_date",
        {"ehcp/plans.csv": lines(EHCP, "C1,P1,03/14/2012,M,ASD,2019-03-01,,")},
        {
            "ehcp": {
                "ehcp/plans.csv": {
                    "status": "loaded",
                    "rows_read": 1,
                    "rows_valid": 0,
                    "rows_quarantined": 1,
                    "reasons": {2: ["bad_date"]},
                    "reason_text": {2: "date_of_birth: bad date ('03/14/2012')"},
                }
            }
        },
    )
    case(
        "13_amount_formats",
        {
            "finance/ledger.csv": lines(
                FINANCE,
                "T1,2024-04-30,1234.5,1.2.1,,,",
                'T2,2024-04-30,"1,234.50",1.2.1,,,',
                'T3,2024-04-30,"£1,234.50",1.2.1,,,',
                'T4,2024-04-30,"(1,234.50)",1.2.1,,,',
                "T5,2024-04-30,-£20.00,1.2.1,,,",
                "T6,2024-04-30,,1.2.1,,,",
            )
        },
        {
            "finance": {
                "finance/ledger.csv": {
                    "status": "loaded",
                    "rows_read": 6,
                    "rows_valid": 5,
                    "rows_quarantined": 1,
                    "money": 2449.00,
                    "reasons": {7: ["missing_required_value"]},
                    "values": {
                        2: {"amount": "1234.50"},
                        3: {"amount": "1234.50"},
                        4: {"amount": "1234.50"},
                        5: {"amount": "-1234.50"},
                        6: {"amount": "-20.00"},
                    },
                }
            }
        },
    )
    case(
        "14_codes_any_case_and_spaces",
        {
            "ehcp/plans.csv": lines(
                EHCP,
                "C1,P1,2012-03-14, m , asd ,2019-03-01,2024-07-31, 5 ",
                "C2,P2,2012-03-14,f,Semh,2019-03-01,,",
            )
        },
        {
            "ehcp": {
                "ehcp/plans.csv": loaded(
                    2,
                    values={
                        2: {"sex": "M", "primary_need": "ASD", "cease_reason": "5"},
                        3: {"sex": "F", "primary_need": "SEMH"},
                    },
                )
            }
        },
    )
    case(
        "15_header_aliases",
        {
            "ehcp/plans.csv": lines(
                "Person ID,EHCP ID,DOB,Gender,Primary SEN Need,Plan Issued Date",
                "C1,P1,14/03/2012,M,ASD,01/03/2019",
            )
        },
        {
            "ehcp": {
                "ehcp/plans.csv": loaded(
                    1, values={2: {"plan_id": "P1", "date_of_birth": "2012-03-14"}}
                )
            }
        },
    )
    case(
        "16_missing_required_column",
        {"finance/march.csv": lines("transaction_id,amount,s251_line", "T1,10,1.2.1")},
        {
            "finance": {
                "finance/march.csv": {
                    "status": "rejected",
                    "message": "finance/march.csv: missing required column(s) posting_date; "
                    "found columns: transaction_id, amount, s251_line; "
                    "expected: transaction_id, posting_date, amount, s251_line",
                }
            }
        },
    )
    case(
        "17_empty_file",
        {"finance/empty.csv": ""},
        {
            "finance": {
                "finance/empty.csv": {
                    "status": "rejected",
                    "message": "finance/empty.csv: the file is empty (no header row)",
                }
            }
        },
    )
    case(
        "18_header_only",
        {"finance/none.csv": lines(FINANCE)},
        {"finance": {"finance/none.csv": loaded(0, money=0.0)}},
    )
    case(
        "19_row_with_too_many_fields",
        {
            "finance/ledger.csv": lines(
                FINANCE, "T1,2024-04-30,10,1.2.1,C1,PL1,ok", "T2,2024-04-30,10,1.2.1,C1,PL1,a,b"
            )
        },
        {
            "finance": {
                "finance/ledger.csv": {
                    "status": "rejected",
                    "message": "finance/ledger.csv: line 3 has 8 fields where the header has 7",
                }
            }
        },
    )
    case(
        "20_not_text",
        {"finance/ledger.csv": bytes(range(256)) * 8},
        {
            "finance": {
                "finance/ledger.csv": {
                    "status": "rejected",
                    "message": "finance/ledger.csv: not UTF-8 or Windows-1252 text",
                }
            }
        },
    )

    # --- row rules ---------------------------------------------------------------------------
    def quarantined(
        extract_file: str, header: str, row: str, reasons: list[str], text: str | None = None
    ) -> dict:
        expected = {
            "status": "loaded",
            "rows_read": 1,
            "rows_valid": 0,
            "rows_quarantined": 1,
            "reasons": {2: reasons},
        }
        if text:
            expected["reason_text"] = {2: text}
        return {extract_file.split("/")[0]: {extract_file: expected}}, {
            extract_file: lines(header, row)
        }

    for name, extract_file, header, row, reasons, text in [
        (
            "21_missing_required_value",
            "ehcp/plans.csv",
            EHCP,
            ",P1,2012-03-14,M,ASD,2019-03-01,,",
            ["missing_required_value"],
            "child_id: missing required value",
        ),
        (
            "22_unparseable_amount",
            "finance/ledger.csv",
            FINANCE,
            "T1,2024-04-30,twelve,1.2.1,,,",
            ["bad_amount"],
            "amount: bad amount ('twelve')",
        ),
        (
            "23_unknown_code",
            "ehcp/plans.csv",
            EHCP,
            "C1,P1,2012-03-14,M,AUT,2019-03-01,,",
            ["unknown_code"],
            "primary_need: unknown code ('AUT')",
        ),
        (
            "24_cease_before_start",
            "ehcp/plans.csv",
            EHCP,
            "C1,P1,2012-03-14,M,ASD,2019-03-01,2018-03-01,2",
            ["plan_cease_date_before_plan_start_date"],
            None,
        ),
        (
            "25_born_after_plan_start",
            "ehcp/plans.csv",
            EHCP,
            "C1,P1,2020-03-14,M,ASD,2019-03-01,,",
            ["plan_start_date_before_date_of_birth"],
            None,
        ),
        (
            "26_over_25_at_plan_start",
            "ehcp/plans.csv",
            EHCP,
            "C1,P1,1990-03-14,M,ASD,2019-03-01,,",
            ["over_25_at_plan_start"],
            None,
        ),
        (
            "27_date_after_extract",
            "finance/ledger.csv",
            FINANCE,
            "T1,2026-06-30,10,1.2.1,,,",
            ["date_after_extract"],
            "posting_date: date after extract ('2026-06-30')",
        ),
        (
            "28_negative_annual_cost",
            "placements/p.csv",
            PLACEMENTS,
            "PL1,C1,123456,,,1,2020-09-01,,-500",
            ["negative_annual_cost"],
            None,
        ),
        (
            "29_no_establishment",
            "placements/p.csv",
            PLACEMENTS,
            "PL1,C1,,,,,2020-09-01,,500",
            ["no_urn_or_ukprn_or_sen_setting"],
            None,
        ),
        (
            "30_end_before_start",
            "placements/p.csv",
            PLACEMENTS,
            "PL1,C1,,,OLA,,2020-09-01,2020-08-31,",
            ["end_date_before_start_date"],
            None,
        ),
        (
            "31_bad_financial_year",
            "budget/budget.csv",
            "financial_year,line,amount",
            "2024-26,hnb_allocation,100",
            ["bad_financial_year"],
            None,
        ),
        (
            "32_malformed_s251_line",
            "finance/ledger.csv",
            FINANCE,
            "T1,2024-04-30,10,HN-01,,,",
            ["bad_format"],
            "s251_line: bad format ('HN-01')",
        ),
        (
            "33_every_reason_of_a_row",
            "ehcp/plans.csv",
            EHCP,
            ",P1,31/02/2012,X,AUT,2019-03-01,2018-01-01,12",
            [
                "missing_required_value",
                "bad_date",
                "unknown_code",
                "unknown_code",
                "unknown_code",
                "plan_cease_date_before_plan_start_date",
            ],
            None,
        ),
    ]:
        expected, files = quarantined(extract_file, header, row, reasons, text)
        case(name, files, expected)

    case(
        "34_exact_duplicates_counted",
        {
            "finance/ledger.csv": lines(
                FINANCE,
                "T1,2024-04-30,10,1.2.1,,,",
                "T1,2024-04-30,10,1.2.1,,,",
                "T2,2024-04-30,5,1.2.1,,,",
            )
        },
        {
            "finance": {
                "finance/ledger.csv": {
                    "status": "loaded",
                    "rows_read": 3,
                    "rows_valid": 2,
                    "rows_duplicate": 1,
                    "rows_quarantined": 0,
                    "money": 15.00,
                }
            }
        },
    )
    case(
        "35_conflicting_duplicates_quarantined",
        {
            "ehcp/plans.csv": lines(
                EHCP, "C1,P1,2012-03-14,M,ASD,2019-03-01,,", "C1,P1,2012-03-14,M,SEMH,2019-03-01,,"
            )
        },
        {
            "ehcp": {
                "ehcp/plans.csv": {
                    "status": "loaded",
                    "rows_read": 2,
                    "rows_valid": 0,
                    "rows_quarantined": 2,
                    "reasons": {2: ["conflicting_duplicate"], 3: ["conflicting_duplicate"]},
                }
            }
        },
    )
    case(
        "36_extra_columns_kept_personal_ones_dropped",
        {
            "ehcp/plans.csv": lines(
                EHCP + ",forename,caseworker team,parent name", GOOD_PLAN + ",Alfie,North,Jo Baker"
            )
        },
        {
            "ehcp": {
                "ehcp/plans.csv": loaded(
                    1, extra_columns={2: {"caseworker team": "North"}}, absent=["Alfie", "Jo Baker"]
                )
            }
        },
    )
    case(
        "37_other_files_ignored",
        {
            "finance/README.txt": "exported by the ledger team\n",
            "finance/.~lock.csv#": "lock",
            "finance/~$ledger.xlsx": "lock",
            "finance/ledger.csv": lines(FINANCE, "T1,2024-04-30,10,1.2.1,,,"),
        },
        {"finance": {"finance/ledger.csv": loaded(1, money=10.0)}},
    )

    # --- SEN2 person-level return --------------------------------------------------------------
    blade = "sen2/2025/Blade-Export_16-01-2025_{}.csv"
    case(
        "38_sen2_blade_return",
        {
            blade.format("sen2"): lines(
                "collection,year,referencedate,lea", "SEN2,2025,2025-01-16,869"
            ),
            blade.format("person"): lines(
                "PersonTableID,Surname,Forename,PersonBirthDate,Sex,Postcode,UPN",
                "1,Baker,Alfie,2012-03-14,M,RG14 1AA,H801200001001",
                "2,Carter,Bella,2008-11-02,F,RG14 2BB,",
            ),
            blade.format("requests"): lines(
                "RequestsTableID,PersonTableID,ReceivedDate", "10,1,2018-11-01", "20,2,2019-06-01"
            ),
            blade.format("assessment"): lines(
                "AssessmentTableID,RequestsTableID,AssessmentOutcome", "100,10,A", "200,20,A"
            ),
            blade.format("namedplan"): lines(
                "NamedPlanTableID,AssessmentTableID,StartDate,CeaseDate,CeaseReason",
                "1000,100,2019-03-01,,",
                "2000,200,2019-10-15,2024-07-31,1",
            ),
            blade.format("activeplans"): lines(
                "ActivePlansTableID,RequestsTableID,ReviewMeeting",
                "500,10,2024-02-01",
                "600,20,2023-09-01",
            ),
            blade.format("placementdetail"): lines(
                "ActivePlansTableID,URN,UKPRN,SENsetting,EntryDate,LeavingDate,SENUnitIndicator,ResourcedProvisionIndicator",
                "500,140002,,,2023-09-01,,0,0",
                "500,110001,,,2019-03-01,2023-07-31,0,1",
                "600,,10001234,,2022-09-01,2024-07-31,,",
            ),
            blade.format("senneed"): lines(
                "ActivePlansTableID,SENType,SENTypeRank", "500,ASD,1", "500,SLCN,2", "600,SEMH,1"
            ),
        },
        {
            "ehcp": {
                "sen2/2025/Blade-Export_16-01-2025_namedplan.csv": loaded(
                    2,
                    values={
                        2: {
                            "primary_need": "ASD",
                            "secondary_need": "SLCN",
                            "plan_start_date": "2019-03-01",
                            "request_date": "2018-11-01",
                        },
                        3: {
                            "primary_need": "SEMH",
                            "plan_cease_date": "2024-07-31",
                            "cease_reason": "1",
                        },
                    },
                    absent=["Alfie", "Baker", "H801200001001"],
                )
            },
            "placements": {
                "sen2/2025/Blade-Export_16-01-2025_placementdetail.csv": loaded(
                    3,
                    values={
                        2: {
                            "urn": "140002",
                            "sen_unit": "N",
                            "resourced_provision": "N",
                            "start_date": "2023-09-01",
                        },
                        3: {"resourced_provision": "Y", "end_date": "2023-07-31"},
                        4: {"ukprn": "10001234"},
                    },
                )
            },
        },
    )
    case(
        "39_sen2_return_missing_tables",
        {blade.format("person"): lines("PersonTableID,UPN", "1,X")},
        {
            "ehcp": {
                "sen2/2025": {
                    "status": "rejected",
                    "message": (
                        "sen2/2025: SEN2 return lacks the requests, assessment, "
                        "namedplan table(s) needed for ehcp"
                    ),
                }
            },
            "placements": {
                "sen2/2025": {
                    "status": "rejected",
                    "message": (
                        "sen2/2025: SEN2 return lacks the requests, "
                        "placementdetail table(s) needed for placements"
                    ),
                }
            },
        },
    )


if __name__ == "__main__":
    build()
    print(f"wrote {len(list(CASES.iterdir()))} cases to {CASES}")
