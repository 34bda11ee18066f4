#!/usr/bin/env bash
# Run every benchmark in bench/; each prints its figures and ends with one JSON line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source .venv/bin/activate
status=0
for bench in bench/*.py; do
    [[ $(basename "$bench") == _* ]] && continue
    echo "== $bench"
    python "$bench" || status=1
done
exit $status
