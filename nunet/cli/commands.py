"""The command groups the CLI offers; each lives in its own module."""

from __future__ import annotations

import click

from nunet.cli.actor import actor
from nunet.cli.audit import audit
from nunet.cli.cap import cap
from nunet.cli.contracts import contracts
from nunet.cli.deploy import deploy, deployments
from nunet.cli.devstack import devstack
from nunet.cli.ensemble import validate
from nunet.cli.events import events
from nunet.cli.key import key
from nunet.cli.node import init, run, wait_ready
from nunet.cli.onboarding import benchmark, hardware, offboard, onboard, status
from nunet.cli.payments import payments
from nunet.cli.peers import peers
from nunet.cli.search import search
from nunet.cli.swarm import swarm
from nunet.cli.translate import translate_command

ALL: list[click.Command] = [
    init,
    run,
    wait_ready,
    key,
    cap,
    actor,
    events,
    peers,
    onboard,
    offboard,
    status,
    benchmark,
    hardware,
    search,
    validate,
    translate_command,
    deploy,
    deployments,
    contracts,
    payments,
    audit,
    swarm,
    devstack,
]
