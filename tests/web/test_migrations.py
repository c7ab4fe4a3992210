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


def _migrate_together(url: str, processes: int = 4) -> None:
    """Several console processes starting at once on one new database: each migrates; all succeed."""
    import subprocess
    import sys
    import time
    go = Path(tempfile.mkdtemp()) / "go"
    # Each process imports everything first, then all start migrating at the same moment.
    code = ("import os, sys, time; import alembic.command, app.db, app.models, sqlalchemy.dialects.postgresql\n"
            "open(sys.argv[3], 'w').close()\n"
            "while not os.path.exists(sys.argv[2]): time.sleep(0.005)\n"
            "app.db.upgrade(sys.argv[1])")
    ready = [go.with_name(f"ready-{i}") for i in range(processes)]
    procs = [subprocess.Popen([sys.executable, "-c", code, url, str(go), str(ready[i])], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for i in range(processes)]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready):  # every process has imported everything
        assert time.monotonic() < deadline, "the processes did not start"
        assert all(p.poll() is None for p in procs), [p.stdout.read().decode()[-2000:] for p in procs]  # type: ignore[union-attr]
        time.sleep(0.02)
    go.touch()
    outputs = [(p.wait(timeout=120), p.stdout.read().decode()[-2000:]) for p in procs]  # type: ignore[union-attr]
    assert all(rc == 0 for rc, _ in outputs), outputs
    assert "project_member" in asyncio.run(_tables(url))

    async def versions() -> list[str]:
        from sqlalchemy import text
        engine = new_engine(url)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        await engine.dispose()
        return [r[0] for r in rows]
    assert len(asyncio.run(versions())) == 1


def test_processes_starting_together_migrate_once() -> None:
    wanted = os.environ.get("DOCKYARD_TEST_DATABASE_URL", "")
    if wanted.startswith("postgresql"):
        url, admin = asyncio.run(_create_postgres_database(wanted))
        try:
            _migrate_together(url)
        finally:
            asyncio.run(_drop_postgres_database(admin, url))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            _migrate_together(f"sqlite+aiosqlite:///{Path(tmp) / 'm.db'}")
