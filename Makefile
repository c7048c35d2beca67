# dispatcher: developer and demo entry points. `make` alone lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
DEMO_DB ?= demo/dispatcher.db

.DEFAULT_GOAL := help
.PHONY: help venv install demo test lint typecheck pytest postgres docs transcripts guards bench stress clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install dispatcher with dev extras

demo: $(STAMP) ## Build a realistic demo site and week, then show status and list-runs
	@mkdir -p $(dir $(DEMO_DB))
	$(BIN)/dispatcher --db $(DEMO_DB) demo --fresh --solve
	$(BIN)/dispatcher --db $(DEMO_DB) status
	$(BIN)/dispatcher --db $(DEMO_DB) list-runs
	@echo
	@echo "Try: $(BIN)/dispatcher --db $(DEMO_DB) show-run <RUN-ID>   (or export DISPATCHER_DB=$(DEMO_DB))"
	@echo "The demo week is 2026-W03; its Tuesday morning: export DISPATCHER_NOW=2026-01-13T06:30:00+01:00"

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check src tests migrations benchmarks
	$(BIN)/ruff format --check src tests migrations benchmarks

typecheck: $(STAMP) ## mypy --strict over src and tests
	$(BIN)/mypy

pytest: $(STAMP) postgres ## The whole pytest suite (SQLite and a throwaway PostgreSQL server)
	$(BIN)/pytest -q -n auto --dist worksteal --basetemp=$(CURDIR)/.pytest-tmp  # a worker per core (an idle one takes queued tests from a busy one); one folder per checkout

# The tests start their own PostgreSQL server from Debian's package; install it when missing.
postgres: ## Install the PostgreSQL server binaries the tests use (apt), if missing
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then :; \
	else echo "Installing PostgreSQL (Debian package postgresql) for the tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; fi

test: lint typecheck pytest ## Lint, types and the whole test suite (what CI runs)

docs: $(STAMP) ## Regenerate docs/cli.md from the app
	$(BIN)/python -m dispatcher.cli.docgen > docs/cli.md

guards: $(STAMP) postgres ## Rewrite the guard fingerprints (src/dispatcher/db/guards_expected.py) after a migration
	$(BIN)/python -m tests.guards_regen

transcripts: $(STAMP) ## Rewrite the console transcripts of docs/workflow.md from a demo replay
	$(BIN)/python -m tests.transcripts --write docs/workflow.md

bench: $(STAMP) ## Benchmarks (timings; never part of make test)
	$(BIN)/python benchmarks/run.py

stress: $(STAMP) ## Reliability suites at full size (kills, ...); figures into docs/reliability.md
	$(BIN)/python benchmarks/stress.py

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache demo
