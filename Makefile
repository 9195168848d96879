# ml_assets: the two commands a new user runs are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins libraries that clash with the pipeline's, so it gets a virtualenv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
BENCH_STAMP := .venv-bench/.installed
export ML_ASSETS_HOME ?= $(CURDIR)/.ml_assets
export DAGSTER_HOME ?= $(ML_ASSETS_HOME)/dagster
export MLFLOW_TRACKING_URI ?= sqlite:///$(ML_ASSETS_HOME)/mlflow/mlflow.db

.PHONY: install demo test test-fast defs-check lint browser ui mlflow-ui stop lock checkov bench bench-env clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Every package is checked against the hashes in the lock (pip's hash-checking mode), then the project itself.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "ml_assets needs Python 3.11 (found %d.%d)" % sys.version_info[:2])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(CHECKOV_STAMP): requirements-checkov.lock
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.lock
	touch $(CHECKOV_STAMP)

install: $(STAMP)  ## create .venv with the pinned dependency set

$(DAGSTER_HOME)/dagster.yaml: ml_assets/instance.yaml
	mkdir -p $(DAGSTER_HOME) $(ML_ASSETS_HOME)/mlflow
	cp ml_assets/instance.yaml $@

demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## generate data, release a model, send traffic, monitor it, print a summary
	$(BIN)/ml-assets generate-data
	$(BIN)/ml-assets materialize --select '*production_deployment,data_profile'
	$(BIN)/ml-assets traffic --requests 2000 --rate 100
	$(BIN)/ml-assets materialize --select 'production_traffic,drift_report,pipeline_health'
	@$(BIN)/ml-assets summary

browser:  ## Debian's Chromium, for the dashboard test (installed once, as root)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] || { echo "run as root or install Debian's chromium package" >&2; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: lint defs-check $(CHECKOV_STAMP) $(BENCH_STAMP) browser  ## lint, dg check defs, then the whole suite (AWS on moto, Terraform, workflow, dashboard, benchmarks at their quick sizes)
	$(BIN)/python -m pytest

test-fast: lint  ## lint and the unit lane: pure logic and in-process code, no process or socket (under 2 minutes)
	$(BIN)/python -m pytest -m unit

defs-check: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## dg check defs: the code location loads, every definition valid
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs

lint: $(STAMP)  ## ruff: lint rules and formatting
	$(BIN)/ruff check ml_assets ml_assets_tests benchmarks
	$(BIN)/ruff format --check ml_assets ml_assets_tests benchmarks

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## Dagster UI on http://127.0.0.1:3000 with the project's instance
	$(BIN)/dagster dev -m ml_assets.definitions --host 127.0.0.1 --port 3000

mlflow-ui: $(STAMP)  ## MLflow UI on http://127.0.0.1:5000 over the project's tracking store
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port 5000

stop: $(STAMP)  ## stop every gateway and model server started from this state folder
	$(BIN)/ml-assets stop

# The tested set (what .venv holds) with every distribution's hash, and the images' share of it (the package with
# its aws extra), pinned to the same versions.
LOCK_TOOL := .venv-lock/bin/pip-compile
COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_TOOL) --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

$(LOCK_TOOL):
	test -x .venv-lock/bin/python || $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet pip-tools==7.6.2

lock: $(STAMP) $(CHECKOV_STAMP) $(BENCH_STAMP) $(LOCK_TOOL)  ## record the dependency sets, with hashes, after installing a change to pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^ml_assets' > .venv-lock/pins.txt
	$(COMPILE) --output-file requirements.lock .venv-lock/pins.txt
	$(COMPILE) --extra aws --all-build-deps -c .venv-lock/pins.txt --output-file requirements-runtime.lock pyproject.toml
	$(CHECKOV_VENV)/bin/python -m pip freeze > requirements-checkov.lock
	.venv-bench/bin/python -m pip freeze --all --exclude-editable | grep -v '^pip==' > .venv-lock/bench-pins.txt
	$(COMPILE) --output-file requirements-bench.lock .venv-lock/bench-pins.txt

checkov: $(CHECKOV_STAMP)  ## checkov over terraform/ (zero failed checks; skips are justified beside them)
	$(CHECKOV_VENV)/bin/checkov -d terraform --framework terraform --quiet --compact

# The drift benchmark's Evidently 0.7 needs pandas < 3.1: the runtime set with Evidently, every package hash-checked
# against requirements-bench.lock (`make lock` records it from .venv-bench).
$(BENCH_STAMP): requirements-bench.lock pyproject.toml
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-bench.lock
	.venv-bench/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(BENCH_STAMP)

bench-env: $(BENCH_STAMP)  ## .venv-bench: the project plus Evidently 0.7 (pandas < 3.1) for benchmarks/drift.py

bench: $(STAMP) $(BENCH_STAMP)  ## every benchmark but the long ones (25 min in its last run here; goal under 30) into benchmarks/figures.json, then the README's tables
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/tables.py

clean:  ## remove the state folder (landing data, Dagster runs, MLflow store, reports)
	rm -rf $(ML_ASSETS_HOME)
