#!/usr/bin/env bash
# The whole test suite: lint, types, tests. `make test` runs this after setting up .venv.
set -u
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/services.sh

# tests/bench start every peer's bench app (Django, FastAPI, Litestar, Flask, BlackSheep,
# DRF...) for real, so the suite needs the bench extra too (make demo does not).
echo "== the bench extra"
$BIN/python -m pip install -q -e '.[bench]' || exit 1

echo "== ruff"
$BIN/ruff check carboy tests bench examples || exit 1
$BIN/ruff format --check carboy tests examples || exit 1
echo "== mypy (strict, carboy/)"
$BIN/mypy || exit 1
echo "== import-linter (the layers: core never imports a battery, no cycles, privates stay private)"
$BIN/lint-imports --no-cache || exit 1
echo "== pytest (a worker per logical CPU; each test file runs whole on one of them)"
# `bash scripts/test.sh -n 0` runs it in one process (the last -n given wins).
$BIN/python -m pytest -n logical --dist loadfile --cov --cov-report=term "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
