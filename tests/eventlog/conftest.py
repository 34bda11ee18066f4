"""Fixtures shared by the event-log tests."""

from tests.support.postgres import postgres_dsn

__all__ = ["postgres_dsn"]
