"""Migrations go up and down cleanly on the database under test (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from sqlalchemy import inspect

from app.db import downgrade, new_engine, upgrade
from tests.conftest import _create_postgres_database, _drop_postgres_database


async def _tables(url: str) -> set[str]:
    engine = new_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


def _roundtrip(url: str) -> None:
    upgrade(url)
    assert {"user", "workspace", "project", "project_member", "workspace_member", "auth_session",
            "audit_event"} <= asyncio.run(_tables(url))
    downgrade(url, "base")
    assert asyncio.run(_tables(url)) == set()
    upgrade(url)
    assert "project_member" in asyncio.run(_tables(url))


def test_migrations_up_down_up() -> None:
    wanted = os.environ.get("DOCKYARD_TEST_DATABASE_URL", "")
    if wanted.startswith("postgresql"):
        url, admin = asyncio.run(_create_postgres_database(wanted))
        try:
            _roundtrip(url)
        finally:
            asyncio.run(_drop_postgres_database(admin, url))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            _roundtrip(f"sqlite+aiosqlite:///{Path(tmp) / 'm.db'}")
