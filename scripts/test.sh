#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need -- Docker Engine with
# Compose v2, and ascendgen with its test extras in .venv -- then runs the linters, the type checker and
# every test, including those on the real Docker Engine. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy src
.venv/bin/pytest --hypothesis-profile=ci "$@"
