"""Fixtures for store tests: a freshly migrated plain-PostgreSQL database per test."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate


@pytest.fixture
def migrated_url(fresh_database_url: str) -> str:
    """A database of this test's own with the full schema on the plain path."""
    with psycopg.connect(fresh_database_url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
    return fresh_database_url


@pytest.fixture
def conn(migrated_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the migrated database."""
    with psycopg.connect(migrated_url, autocommit=True) as connection:
        yield connection
