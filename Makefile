# Two commands on a fresh machine: `make run` and `make test`. Both create .venv as needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench-api bench-ingest bench-telemetry bench-instructions clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip check
	touch $@

run: $(STAMP)
	$(BIN)/ticker-converter serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

# Benchmarks: not part of `make test` (see README, "Benchmarks").
bench-api: $(STAMP)
	$(BIN)/python -m loadtest.bench_api $(BENCH_ARGS)

bench-ingest: $(STAMP)
	$(BIN)/python -m loadtest.bench_ingest $(BENCH_ARGS)

bench-telemetry: $(STAMP)
	$(BIN)/python -m loadtest.bench_telemetry $(BENCH_ARGS)

bench-instructions: $(STAMP)
	$(BIN)/python -m loadtest.instructions $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
