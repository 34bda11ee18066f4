"""Structured logs for the node: structlog configured once per process, level changeable at run time."""

from nunet.telemetry.logging import LOG_LEVELS, LoggerConfig, configure_logging

__all__ = ["LOG_LEVELS", "LoggerConfig", "configure_logging"]
