# highneeds: every entry point, the same for everyone (README shows these).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# make test-spark's own environment: the same lock plus the `spark` extra. Not in .venv: with pyspark
# installed, Great Expectations imports pyspark.sql.connect, which exits the process (SystemExit 0,
# "Skipping doctests") when __main__ has no file, as in pytest-xdist's workers.
SPARK_VENV := .venv-spark
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_COMPILE_BYTECODE := 1
export UV_PYTHON_DOWNLOADS := never
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export GX_ANALYTICS_ENABLED := false

.PHONY: setup install manifest demo test test-spark lint ui bench bench-spark bench-councils clean

## setup: install everything into .venv, write .env (random pseudonymisation key), parse dbt
setup: install .env manifest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "highneeds needs Python 3.11, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv sync --frozen --all-groups
	touch $@

# the key comes from the same generator `highneeds demo` uses (32 random bytes)
.env: | $(VENV)/.installed
	@umask 077; sed -e "s|^DAGSTER_HOME=.*|DAGSTER_HOME=$(CURDIR)/data/dagster_home|" .env.example > .env.new
	@$(BIN)/python -c 'from pathlib import Path; from dagster_project.settings import write_new_key_to_dotenv; write_new_key_to_dotenv(Path(".env.new"))'
	@mv .env.new .env
	@echo "wrote .env with a new random HIGHNEEDS_PSEUDONYM_KEY (keep it: it fixes every child's hashed id)"

## manifest: dbt parse (dagster-dbt needs target/manifest.json), with the settings dbt's profile reads
manifest: install
	$(BIN)/python -m dagster_project.dbt_project

## demo: synthetic council → full refresh → summary
demo: setup
	$(BIN)/highneeds demo

## test: every test layer (unit, dbt, Dagster definitions, end-to-end)
test: setup
	$(BIN)/pytest

## test-spark: the dbt project built on a local Spark session, every table compared with DuckDB's
## (the raw tables of the warehouse `make demo` wrote, else a synthetic council's; needs Java)
test-spark: setup
	UV_PROJECT_ENVIRONMENT=$(SPARK_VENV) $(BIN)/uv sync --quiet --frozen --extra spark --python $(PYTHON)
	$(SPARK_VENV)/bin/python -m spark.compare

lint: install
	$(BIN)/ruff check ingest checks forecast serving report synthetic dagster_project spark warehouse tests bench

## ui: Dagster UI on 127.0.0.1:3000 with the daemon (schedule and sensor once switched on), report on :3001
ui: setup
	$(BIN)/highneeds ui

## bench: the performance benchmark (writes bench/RESULTS.md)
bench: setup
	$(BIN)/python -m bench.run

## bench-councils: England's rows as 153 councils in one warehouse, against England as one council
## (after `make bench`, whose extracts it splits; a section of bench/RESULTS.md)
bench-councils: setup
	$(BIN)/python -m bench.councils

## bench-spark: the demo's and a region's councils built on a local Spark session beside DuckDB,
## timed (the Spark section of bench/RESULTS.md; needs Java)
bench-spark: setup
	UV_PROJECT_ENVIRONMENT=$(SPARK_VENV) $(BIN)/uv sync --quiet --frozen --extra spark --python $(PYTHON)
	$(SPARK_VENV)/bin/python -m bench.spark

clean:
	rm -rf $(VENV) $(SPARK_VENV) dbt/target dbt/logs .pytest_cache
