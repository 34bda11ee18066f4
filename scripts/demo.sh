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

step "a behavior nobody offers is refused with a clear error (and the refusal is logged)"
if nunet actor cmd /dms/no/such/behavior; then
    echo "demo: an unknown behavior answered" >&2; exit 1
fi

step "grant a capability token to another identity (UCAN-style, delegation only narrows)"
nunet key new integrator >/dev/null
nunet cap new integrator >/dev/null
nunet cap grant --context dms --cap /dms/node/peers --audience "$(nunet key did integrator)" --expiry 1h \
    | cut -c1-72
nunet cap list --context dms

step "nunet events tail (the node's log, last records)"
nunet events tail --from 1 | tail -n 12 | cut -c1-220

step "stop the node (SIGTERM) and verify its log"
kill -TERM "$node_pid"; wait "$node_pid"; node_pid=
nunet events verify
echo
echo "demo: OK"
