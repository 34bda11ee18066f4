#!/usr/bin/env bash
# The whole test suite: installs what it needs, then lint, types, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source .venv/bin/activate

echo "== ruff check"; ruff check nunet tests bench
echo "== ruff format --check"; ruff format --check nunet tests bench
echo "== mypy"; mypy nunet
echo "== pytest"
python -m pytest -q -p no:cacheprovider "$@"
