"""Answers from the database that every page needs, kept by the process for a few seconds: who a session
cookie belongs to, and a user's access to a project. They rarely change, and asking for them was most of
a small page's time.

A write this process makes to the tables they come from empties every one of them when it commits (the
SQLAlchemy session events below), so sign-out, a revoked session, a disabled user or a changed
membership takes effect at once. On PostgreSQL the same write also sends a NOTIFY on `CHANNEL` (in its
transaction, so it is delivered at commit): every console process listening empties its own at once
(app/main.py follows the channel, and keeps nothing while it is not listening). On SQLite, the
single-process default, a write by another process (the CLI) shows within `SECONDS`. Objects kept here
are read-only snapshots (detached from their session).
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

SECONDS = 5.0
MAX_ENTRIES = 10_000
# Tables whose rows these answers are made of. A new session (sign-in) and its "last seen" time change
# nothing kept here: only deleting one does.
TABLES = frozenset({"user", "workspace", "workspace_member", "project", "project_member"})
SESSIONS_TABLE = "auth_session"
_CHANGED = "dockyard_tenancy_changed"
_NOTIFIED = "dockyard_tenancy_notified"
CHANNEL = "dockyard_tenancy"

K = TypeVar("K")
V = TypeVar("V")

_ALL: weakref.WeakSet[Recent[Any, Any]] = weakref.WeakSet()


class Recent(Generic[K, V]):
    def __init__(self, seconds: float = SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        # False while other processes' writes could go unseen (not listening for them): keep nothing.
        self.trusted = True
        _ALL.add(self)

    def trust(self, trusted: bool) -> None:
        self.trusted = trusted
        self.clear()

    def get(self, key: K) -> V | None:
        if not self.trusted:
            return None
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        if self.seconds <= 0 or not self.trusted:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.seconds, value)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


def forget_everything() -> None:
    for recent in list(_ALL):
        recent.clear()


def _table(obj: Any) -> str:
    table = getattr(obj, "__table__", None)
    return str(getattr(table, "name", ""))


def _changed(session: Session) -> None:
    session.info[_CHANGED] = True
    forget_everything()  # now, and again at commit (a reader may have kept the old rows meanwhile)
    if not session.info.get(_NOTIFIED):
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"NOTIFY {CHANNEL}")
            session.info[_NOTIFIED] = True


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    changed = any(_table(o) in TABLES for o in (*session.new, *session.dirty, *session.deleted))
    if changed or any(_table(o) == SESSIONS_TABLE for o in session.deleted):
        _changed(session)


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = str(getattr(getattr(state.statement, "table", None), "name", ""))
    if table in TABLES or (table == SESSIONS_TABLE and state.is_delete):
        _changed(state.session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_NOTIFIED, None)
    if session.info.pop(_CHANGED, False):
        forget_everything()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(_NOTIFIED, None)
