# tierwatch: `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest processes for `make test` (the broker tests mostly wait on brokers and workers)
TEST_PROCS ?= 3
# the step path compiled with mypyc (deploy/compile.py): what `make bench` measures
COMPILED := build/compiled
SOURCES  := $(shell find stream schemas -name '*.py') deploy/compile.py pyproject.toml

.DEFAULT_GOAL := help
.PHONY: help run test test-fast lint compiled bench chaos clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP) ## stream a simulated team of 40 learners over 8 weeks through the embedded broker
	$(BIN)/tierwatch demo

test: $(STAMP) ## lint, type-check, check the import layers and run every test (starts the embedded broker)
	$(BIN)/ruff check stream schemas tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_PROCS) --dist loadfile

test-fast: $(STAMP) ## the core tests only: no broker, a few seconds
	$(BIN)/pytest -m "not broker"

lint: $(STAMP) ## ruff, mypy, and the import layers (lint-imports: ARCHITECTURE.md)
	$(BIN)/ruff check stream schemas tests
	$(BIN)/ruff format --check stream schemas tests
	$(BIN)/mypy
	$(BIN)/lint-imports

compiled: $(COMPILED)/.compiled ## the step path compiled with mypyc into build/compiled (the Docker image ships it)

$(COMPILED)/.compiled: $(STAMP) $(SOURCES)
	$(BIN)/python deploy/compile.py $(COMPILED)

bench: $(STAMP) $(COMPILED)/.compiled ## benchmarks (printed figures, never asserted): ingest, then the pipeline against Faust's ceiling
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.pipeline --compiled $(COMPILED)

chaos: $(STAMP) ## chaos suite vs replay (kill -9, scale 1-2-1, rolling restarts, poison, broker pauses, receivers down): bench/CHAOS.md
	$(BIN)/python -m bench.chaos

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) $(COMPILED) .pytest_cache .mypy_cache .ruff_cache .hypothesis
