"""Four reader processes query the serving file in a loop during three back-to-back refreshes:
no read fails, and every read is exactly one published version (bench/concurrency.py does the
same with eight readers and five refreshes and reports the numbers in bench/RESULTS.md)."""

from bench.concurrency import add_transaction, judge, published_version, start_readers, stop_readers
from dagster_project.cli import main
from synthetic.council import generate

READERS = 4
REFRESHES = 3


def test_readers_during_refreshes_never_fail_and_never_see_a_mix(pipeline_env, capsys):
    landing, serving = pipeline_env / "landing", pipeline_env / "serving.duckdb"
    generate(landing, children=250, first_year=2021, last_year=2025, seed=3)
    # the readers start first and begin reading as soon as the first refresh has published
    readers = start_readers(serving, READERS, pipeline_env / "readers", pause=0.5)
    published = []
    try:
        for number in range(1, REFRESHES + 1):
            if number > 1:
                add_transaction(landing, number)  # so each version differs from the one before
            assert main(["refresh"]) == 0, capsys.readouterr().out
            published.append(published_version(serving))
    finally:
        results = stop_readers(readers, published[-1][0] if published else None)
    verdict = judge(results, published, REFRESHES)
    assert verdict.readers == READERS and verdict.reads > 100
    assert verdict.failures == []
    assert verdict.mixed_or_unknown == [] and verdict.went_backwards == 0
    assert len({digest for _, digest in published}) == REFRESHES  # the versions really differ
    assert verdict.versions_seen == REFRESHES  # and the readers saw every one of them
