"""Fixtures shared by the contracts tests: a real PostgreSQL for the event-log-backed parts."""

from tests.support.postgres import postgres_dsn

__all__ = ["postgres_dsn"]
