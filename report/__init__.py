"""The report: the DBV Module 1 diagnostic pack rebuilt from the warehouse after every refresh.

`build_report` writes, for each audience (internal; publication with small counts suppressed),
a self-contained HTML report (charts embedded, opens offline), every chart as PNG, and an XLSX
workbook with the DSG management plan tables. Plain library: no Dagster import.
"""
