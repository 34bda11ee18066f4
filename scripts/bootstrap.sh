#!/usr/bin/env bash
# Install everything nunet needs on a fresh Debian machine (run as root): Debian packages,
# a virtualenv at .venv with the pinned Python packages. Idempotent; quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# gcc: the tests build NVML/CUDA stand-ins; docker.io: the Docker executor's engine;
# busybox-static: the root filesystem of the images the tests build (nothing can be pulled);
# qemu-system-x86: the microVM executor's hypervisor; e2fsprogs: its input/output drives;
# lz4: unpacking the guest kernel for Firecracker.
DEBIAN_PACKAGES=(postgresql iproute2 gcc docker.io busybox-static qemu-system-x86 e2fsprogs lz4)
PYTHON=${PYTHON:-python3}
# Debian's own python3 ships venv/ensurepip separately.
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || DEBIAN_PACKAGES+=(python3-venv)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's postgresql package starts a cluster of its own; the tests start their own servers.

if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.nunet-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp || constraints.txt -nt $stamp ]]; then
    echo "bootstrap: installing Python packages into .venv" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
    touch "$stamp"
fi

# The microVM executor's guest kernel (Debian's cloud kernel, fetched with apt-get; idempotent).
.venv/bin/python -c "from nunet.executor.microvm import ensure_kernel; ensure_kernel()"

# A Docker engine for the executors, started where none answers: without the default bridge and
# without touching iptables (only loopback may receive traffic on these machines).
if ! docker info >/dev/null 2>&1; then
    echo "bootstrap: starting dockerd (--bridge=none --iptables=false)" >&2
    nohup dockerd --bridge=none --iptables=false --ip6tables=false \
        >/var/log/nunet-dockerd.log 2>&1 &
    for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.3; done
    docker info >/dev/null 2>&1 || { echo "bootstrap: dockerd did not start; see /var/log/nunet-dockerd.log" >&2; exit 1; }
fi
