from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """One write attempted through the console, whatever its outcome."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    username: Mapped[str] = mapped_column(String(63), index=True)
    user_uid: Mapped[str] = mapped_column(String(32), default="")
    workspace: Mapped[str] = mapped_column(String(63), default="", index=True)
    project: Mapped[str] = mapped_column(String(63), default="", index=True)
    verb: Mapped[str] = mapped_column(String(32), index=True)
    object_kind: Mapped[str] = mapped_column(String(63), default="")
    object_name: Mapped[str] = mapped_column(String(253), default="")
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
