"""The audit log: every write through the console (who, when, where, what, outcome), stored and logged."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import AuditEvent
from app.models.base import utcnow

log = logging.getLogger("dockyard.audit")


@dataclass(frozen=True)
class AuditEntry:
    username: str
    user_uid: str
    verb: str
    outcome: str  # "success" | "denied" | "failure"
    workspace: str = ""
    project: str = ""
    object_kind: str = ""
    object_name: str = ""
    request_id: str = ""
    detail: str = ""


async def record(sessionmaker: async_sessionmaker[AsyncSession], entry: AuditEntry) -> None:
    """Stored in its own transaction, so a failed request's rollback does not erase its audit entry."""
    at = utcnow()
    log.info(json.dumps({"audit": True, "at": at.isoformat(), **entry.__dict__}, ensure_ascii=False))
    async with sessionmaker() as session:
        session.add(AuditEvent(at=at, **{k: _fit(k, v) for k, v in entry.__dict__.items()}))
        await session.commit()


def _fit(column: str, value: str) -> str:
    """Cut a value to its column (a hostile name must not turn the audit write into an error)."""
    length = getattr(AuditEvent.__table__.c[column].type, "length", None) or 4000
    return (value or "")[:length]


async def search(
    session: AsyncSession, *, username: str = "", workspace: str = "", project: str = "", verb: str = "",
    outcome: str = "", since: datetime | None = None, limit: int = 200,
) -> list[AuditEvent]:
    q = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if username:
        q = q.where(AuditEvent.username == username)
    if workspace:
        q = q.where(AuditEvent.workspace == workspace)
    if project:
        q = q.where(AuditEvent.project == project)
    if verb:
        q = q.where(AuditEvent.verb == verb)
    if outcome:
        q = q.where(AuditEvent.outcome == outcome)
    if since:
        q = q.where(AuditEvent.at >= since)
    return list(await session.scalars(q))
