"""The command groups the CLI offers; each lives in its own module."""

from __future__ import annotations

import click

ALL: list[click.Command] = []
# Each command module appends its group below, one import per line.
