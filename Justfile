# Tasks for developers; CI runs `bash .ci/run`, which is `just test`.

default:
    @just --list

# The whole suite: lint, types, tests (installs what it needs).
test *ARGS:
    bash scripts/test.sh {{ARGS}}

# Lint and types only.
lint:
    bash scripts/bootstrap.sh
    .venv/bin/ruff check nunet tests bench
    .venv/bin/ruff format --check nunet tests bench
    .venv/bin/mypy nunet

# Every benchmark; each ends with one JSON line comparing us to a peer.
bench:
    bash scripts/bench.sh

# The main job.
demo:
    bash scripts/demo.sh
