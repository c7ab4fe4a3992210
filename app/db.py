"""The database engine and sessions, created once in the app's lifespan (never at import time)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.settings import ROOT

log = logging.getLogger("dockyard.db")


def ensure_sqlite_dir(url: str) -> None:
    """SQLite creates the file, not its folder (e.g. `.dockyard/` on a fresh clone)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def new_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def new_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate once however many processes start together: PostgreSQL takes an advisory lock inside the
    migration's transaction (migrations/env.py); SQLite a file lock beside the database file."""
    ensure_sqlite_dir(url)
    with _sqlite_lock(url):
        command.upgrade(alembic_config(url), revision)


@contextlib.contextmanager
def _sqlite_lock(url: str) -> Iterator[None]:
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def upgrade_async(url: str) -> None:
    await asyncio.to_thread(upgrade, url)


async def follow_notifications(url: str, channel: str, *, on_notify: Callable[[], None],
                               on_listening: Callable[[bool], None], check_seconds: float = 15.0) -> None:
    """Forever (until cancelled): LISTEN on a PostgreSQL channel and call `on_notify` for each NOTIFY.

    `on_listening(True)` once listening (and `on_notify` then too: anything may have changed while not
    listening), `on_listening(False)` as soon as the connection is lost or stops answering; it is tried
    again with a growing pause. Notifications are sent at commit, so a reader never sees them early."""
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pause = 0.5
    while True:
        conn = None
        try:
            conn = await asyncpg.connect(dsn, timeout=10)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())  # this connection's own event
            await conn.add_listener(channel, lambda *_args: on_notify())
            on_listening(True)
            on_notify()
            pause = 0.5
            while not lost.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(lost.wait(), check_seconds)
                if not lost.is_set():  # a connection cut without a FIN only shows when used
                    await conn.execute("SELECT 1", timeout=5)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            log.warning("not listening for %s (%s); trying again in %.1f s", channel, e, pause)
        finally:
            on_listening(False)
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 10.0)
