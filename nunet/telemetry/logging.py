"""Structured logging: JSON lines for services, a console renderer for people."""

from __future__ import annotations

import logging
import sys

import msgspec
import structlog

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class LoggerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What `/dms/node/logger/config` reads and sets."""

    level: str = "info"
    format: str = "console"

    def __post_init__(self) -> None:
        if self.level not in LOG_LEVELS:
            raise ValueError(f"level {self.level!r} is not one of {', '.join(LOG_LEVELS)}")
        if self.format not in ("console", "json"):
            raise ValueError(f"format {self.format!r} is not 'console' or 'json'")


def configure_logging(config: LoggerConfig) -> None:
    """Apply a logger configuration; structlog's configuration is process-wide by design."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if config.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[config.level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
