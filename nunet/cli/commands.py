"""The list of command groups the CLI offers."""

from __future__ import annotations

import click

ALL: list[click.Command] = []
