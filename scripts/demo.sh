#!/usr/bin/env bash
# The main job: start a node and exercise it end to end through the CLI.
# (Grows into a local swarm deploying a sample ensemble as the mesh and orchestration land.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source .venv/bin/activate

export NUNET_HOME=${NUNET_HOME:-$(mktemp -d /tmp/nunet-demo.XXXXXX)}
export NUNET_PASSPHRASE=${NUNET_PASSPHRASE:-demo-passphrase}
echo "== node home: $NUNET_HOME"

node_pid=
cleanup() {
    if [[ -n $node_pid ]] && kill -0 "$node_pid" 2>/dev/null; then
        kill -TERM "$node_pid"; wait "$node_pid" || true
    fi
}
trap cleanup EXIT

step() { echo; echo "== $*"; }

step "nunet init (node key, user key, user anchored as root of the node)"
nunet init

step "nunet key list"
nunet key list

step "nunet run (in the background)"
nunet run >"$NUNET_HOME/node.log" 2>&1 &
node_pid=$!
nunet wait-ready --timeout 30

step "nunet actor cmd /public/hello"
nunet actor cmd /public/hello
step "nunet actor cmd /public/status -o json"
nunet -o json actor cmd /public/status
step "nunet actor cmd /dms/node/peers/self"
nunet actor cmd /dms/node/peers/self
step "nunet actor cmd /dms/node/logger/config --arg level=debug"
nunet actor cmd /dms/node/logger/config --arg level=debug

step "a stranger's key is refused (capability check), and the refusal is logged"
nunet key new stranger
if nunet actor cmd /dms/node/peers/self --as stranger; then
    echo "demo: the stranger was let in" >&2; exit 1
fi

step "nunet events tail (the node's log)"
nunet events tail --from 1 | tail -n 12

step "stop the node (SIGTERM) and verify its log"
kill -TERM "$node_pid"; wait "$node_pid"; node_pid=
nunet events verify
echo
echo "demo: OK"
