"""What a BI analyst reads: the README's data dictionary is the demo's serving file's, every table
and column is described, money arrives as numbers, and the provision types have a lookup."""

import duckdb
import pytest

from ingest.dictionary import dictionary_markdown, read_dictionary, readme_block, undescribed
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def serving(demo_run):
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    return demo_run.warehouse.with_name("serving.duckdb")


def test_the_readme_dictionary_is_the_serving_files(serving):
    dictionary = read_dictionary(serving)
    assert undescribed(dictionary) == []
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_block(readme) == dictionary_markdown(dictionary), (
        "the README's data dictionary differs from the serving file: run `highneeds dictionary --readme README.md` "
        "on a fresh demo and review the diff")


def test_money_reaches_bi_as_numbers_and_provision_codes_are_spelled_out(serving):
    with duckdb.connect(str(serving), read_only=True) as con:
        types = con.execute("SELECT DISTINCT data_type FROM duckdb_columns() WHERE database_name = current_database() "
                            "AND schema_name IN ('marts', 'forecast', 'published', 'meta')").fetchall()
        assert not [t for (t,) in types if t.startswith(("DECIMAL", "HUGEINT"))]
        spend = con.execute("SELECT spend_gbp FROM marts.fct_provision_spend").df()["spend_gbp"]
        assert spend.dtype == "float64" and (spend.round(2) == spend).all()
        lookup = con.execute("SELECT provision_type, label, dfe_placement_category, description "
                             "FROM meta.provision_types").fetchall()
        used = {p for (p,) in con.execute("SELECT DISTINCT provision_type FROM marts.fct_provision_spend").fetchall()}
    assert used <= {code for code, *_ in lookup} and all(all(row) for row in lookup)
    assert ("post16_spi", "Specialist post-16", "Post 16", "Specialist post-16 institution") in lookup
