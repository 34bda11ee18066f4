"""The command groups the CLI offers; each lives in its own module."""

from __future__ import annotations

import click

from nunet.cli.actor import actor
from nunet.cli.key import key
from nunet.cli.node import init, run, wait_ready

ALL: list[click.Command] = [key, init, run, wait_ready, actor]
# Each command module appends its group below, one import per line.
from nunet.cli.cap import cap  # noqa: E402

ALL.append(cap)
from nunet.cli.events import events  # noqa: E402

ALL.append(events)
