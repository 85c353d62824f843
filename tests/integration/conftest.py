"""Shared by the integration tests: a fresh PostgreSQL schema per test on the real server at
127.0.0.1:5432 (database `test`)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from aurigraph.indexer.pg import drop_schema

DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_schema():
    """A schema of its own for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    asyncio.run(drop_schema(DSN, name))
