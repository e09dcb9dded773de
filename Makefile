# carboy's two commands: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck services bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## Set up a virtualenv and run the demo project on http://127.0.0.1:8000 (SQLite, embedded).
## Its .env (debug on, a secret key of its own) is generated on the first run, never committed.
demo: $(STAMP)
	cd examples/demo && ../../$(BIN)/python scripts/make_env.py && ../../$(BIN)/carboy migrate && ../../$(BIN)/carboy loaddata demo/fixtures/posts.json demo/fixtures/staff.json \
		&& ../../$(BIN)/carboy run --host 127.0.0.1 --port 8000

## Set up a virtualenv and run the whole test suite: ruff, mypy, pytest (PostgreSQL, Redis, Chromium).
test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check carboy tests bench examples docs
	$(BIN)/ruff format --check carboy tests
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

services:
	bash scripts/services.sh

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench.run

bench-quick: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
