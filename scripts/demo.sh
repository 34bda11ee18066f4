#!/usr/bin/env bash
# The main job: a local swarm (a hub and three nodes, each its own process with its own NATS
# server, in a private swarm) deploying a sample ensemble end to end through the CLI: discovery,
# cross-node calls, capabilities, onboarding, a search of the swarm, then
# docs/examples/pipeline.yaml deployed across the three nodes with the Docker executor —
# progress, results, logs, history — and shut down, leaving nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source .venv/bin/activate

stack=${NUNET_DEVSTACK_DIR:-$(mktemp -d /tmp/nunet-demo.XXXXXX)}
echo "== devstack directory: $stack"

devstack_pid=
cleanup() {
    if [[ -n $devstack_pid ]] && kill -0 "$devstack_pid" 2>/dev/null; then
        kill -TERM "$devstack_pid"; wait "$devstack_pid" || true
    fi
}
trap cleanup EXIT

step() { echo; echo "== $*"; }
# nunet as a given node of the stack
on() { local name=$1; shift; nunet --home "$stack/$name" --passphrase-file "$stack/passphrase" "$@"; }
did_of() { python -c "import json,sys; print(next(n['did'] for n in json.load(open(sys.argv[1])) if n['name']==sys.argv[2]))" "$stack/devstack.json" "$1"; }
up_peers() { on "$1" -o json peers list | python -c "import json,sys; print(sum(r['state']=='up' for r in json.load(sys.stdin)))"; }

step "the sample ensemble's image, built on this machine (docker import; nothing is pulled)"
python -m nunet.devstack.images

step "nunet devstack --nodes 3 (a hub and three nodes as separate processes, private swarm)"
nunet devstack --nodes 3 --dir "$stack" --heartbeat 0.5 >"$stack/devstack.out" 2>"$stack/devstack.err" &
devstack_pid=$!
for _ in $(seq 1 600); do
    [[ -f $stack/devstack.json ]] && break
    kill -0 "$devstack_pid" 2>/dev/null || { cat "$stack/devstack.err" >&2; exit 1; }
    sleep 0.2
done
[[ -f $stack/devstack.json ]] || { echo "demo: the devstack did not start" >&2; exit 1; }
cat "$stack/devstack.out"
hub=$(did_of hub); node1=$(did_of node1); node2=$(did_of node2); node3=$(did_of node3)

step "peer discovery: node1 sees the hub, node2 and node3 up (signed presence over the leaf links)"
for _ in $(seq 1 150); do [[ $(up_peers node1) == 3 ]] && break; sleep 0.2; done
on node1 peers list
[[ $(up_peers node1) == 3 ]] || { echo "demo: node1 does not see every peer" >&2; exit 1; }

step "nunet peers ping node2 (request/reply across the mesh)"
on node1 peers ping "$node2"

step "a cross-node invoke: node1's user asks node2's node actor for its status"
on node1 actor cmd /public/status --to "$node2/node/$node2" | head -n 6

step "a protected behavior on node2 is refused to node1's user (no capability) ..."
if on node1 actor cmd /dms/node/peers/list --to "$node2/peers/$node2" 2>"$stack/refused.err"; then
    echo "demo: node2 answered a caller it does not trust" >&2; exit 1
fi
cat "$stack/refused.err"
step "... until node2 trusts node1's user"
on node2 cap anchor -c dms --root "$(on node1 key did user)" >/dev/null
on node1 actor cmd /dms/node/peers/list --to "$node2/peers/$node2" -o json \
    | python -c "import json,sys; rows=json.load(sys.stdin); print(len(rows), 'peers known to node2:', ', '.join(r['did'][-8:]+' '+r['state'] for r in rows))"

step "onboarding: node1, node2 and node3 offer half a core each, validated against the machine"
on node1 hardware | head -n 8
on node1 onboard --cpu 0.5 --ram 256MiB --disk 256MiB --no-gpu --price cpu=0.5,ram=0.05 --location EU/DE >/dev/null
on node2 onboard --cpu 0.5 --ram 256MiB --disk 256MiB --no-gpu --price cpu=0.2,ram=0.05 --location EU/FR >/dev/null
on node3 onboard --cpu 0.5 --ram 256MiB --disk 256MiB --no-gpu --price cpu=0.3,ram=0.05 --location EU/NL >/dev/null
on node1 status
step "an impossible reservation is refused, naming what is wrong, and changes nothing"
if on node1 onboard --cpu 4096 2>"$stack/onboard.err"; then
    echo "demo: node1 accepted more cores than the machine has" >&2; exit 1
fi
cat "$stack/onboard.err"

step "search: the hub broadcasts a bid request; the nodes answer with signed bids, ranked"
on hub search --require cpu=0.5,ram=128MiB,location=EU
step "nothing fits a GPU requirement: which constraint excluded how many nodes"
status=0; on hub search --require cpu=0.5,gpu.vram=24GiB || status=$?
[[ $status == 3 ]] || { echo "demo: a search nothing can serve should exit 3, not $status" >&2; exit 1; }

step "the sample ensemble: a service with a health check and a chain of tasks, on three machines"
sed -n '/^version/,$p' docs/examples/pipeline.yaml | head -n 12
on hub validate docs/examples/pipeline.yaml
step "nunet deploy --follow: the hub bids, commits on three nodes, allocates and starts in order"
on hub deploy -f docs/examples/pipeline.yaml --follow --timeout 2m | tee "$stack/deploy.out"
deployment=$(sed -n 's/^deployment \([0-9a-f]*\) .*submitted$/\1/p' "$stack/deploy.out")
[[ -n $deployment ]] || { echo "demo: no deployment id in the deploy output" >&2; exit 1; }
tasks_done() { on hub -o json deployments status "$deployment" | python -c "
import json, sys
a = json.load(sys.stdin)['allocations']
sys.exit(0 if all(v['exit_code'] is not None for v in a.values() if v['type'] == 'task') else 1)"; }
for _ in $(seq 1 300); do tasks_done && break; sleep 0.2; done
tasks_done || { echo "demo: the pipeline's tasks did not finish" >&2; exit 1; }
step "nunet deployments status: where each allocation ran and how it ended"
on hub deployments status "$deployment"
step "nunet deployments logs: the tasks' results"
on hub deployments logs "$deployment"
on hub deployments logs "$deployment" -a digest | grep -q "sum of 1..1000 is 500500" \
    || { echo "demo: the digest task's result is missing" >&2; exit 1; }
step "nunet deployments shutdown: every allocation stopped, every reservation released"
on hub deployments shutdown "$deployment" | head -n 1
on hub -o json deployments status "$deployment" | python -c "
import json, sys
s = json.load(sys.stdin)
assert s['state'] == 'shut_down', s['state']
assert {v['state'] for v in s['allocations'].values()} == {'released'}, s['allocations']
print('shut down; every allocation released')"
for name in node1 node2 node3; do
    on "$name" -o json status | python -c "
import json, sys
s = json.load(sys.stdin)
assert not s['allocations'], s['allocations']" || { echo "demo: $name still holds a reservation" >&2; exit 1; }
done
step "nunet deployments history: the deployment's course, from the hub's event log"
on hub deployments history "$deployment" | tail -n 12 | cut -c1-160

step "data: an inline input mounted read-only, the result published to the swarm's object store"
on hub deploy -f docs/examples/word-count.yaml --follow --timeout 2m | tee "$stack/words.out"
words=$(sed -n 's/^deployment \([0-9a-f]*\) .*submitted$/\1/p' "$stack/words.out")
[[ -n $words ]] || { echo "demo: no deployment id in the word-count output" >&2; exit 1; }
step "nunet deployments results --download: where the outputs went, fetched and verified here"
on hub deployments results "$words"
on hub deployments results "$words" --download "$stack/results"
grep -q "^ *4 the$" "$stack/results/count/out/counts.txt" \
    || { echo "demo: the word count did not come back from the swarm's store" >&2; exit 1; }
head -n 3 "$stack/results/count/out/counts.txt"
on hub deployments list

step "contracts: every ensemble node ran under a contract the hub and its provider both signed"
settled_all() {
    on hub -o json contracts list --role requester | python -c "
import json, sys
rows = [r for r in json.load(sys.stdin) if r['status'] not in ('terminated',)]
sys.exit(0 if rows and all(r['status'] == 'settled' for r in rows) else 1)"
}
for _ in $(seq 1 60); do settled_all && break; sleep 1; done
settled_all || { echo "demo: the hub's contracts did not all settle" >&2; on hub contracts list >&2; exit 1; }
on hub contracts list | cut -c1-170
step "nunet payments: what the hub was charged and paid, per provider; exported for accounting"
on hub payments list | tail -n 8 | cut -c1-170
on hub payments export --format csv --output "$stack/payments.csv"
head -n 4 "$stack/payments.csv" | cut -c1-170
step "nunet audit: the hub's log against each provider's, chains, signatures and totals"
for name in node1 node2 node3; do
    on hub audit "$stack/hub/log/events.db" "$stack/$name/log/events.db" | tail -n 3 | cut -c1-170
done

step "every node's log reaches the swarm through JetStream: the last records, from node1"
on node1 events tail --swarm --count 400 | tail -n 8 | cut -c1-200
step "node2's replicated log, read from node1 and verified record by record"
on node1 events tail --node "$node2" --count 5 | cut -c1-160

step "stop the devstack (SIGTERM): every node and every nats-server ends"
kill -TERM "$devstack_pid"; wait "$devstack_pid"; devstack_pid=
if pgrep -f -- "$stack" >/dev/null; then
    echo "demo: processes of the stack outlived it:" >&2; pgrep -af -- "$stack" >&2; exit 1
fi
for name in hub node1 node2 node3; do
    echo -n "$name: "; on "$name" events verify | tail -n 1
done
echo
echo "demo: OK"
