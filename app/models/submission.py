from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Submission(Base):
    """A create form being (or lately) carried out, so the same form posted twice, to any console
    process, creates once (app/domain/submissions.py). Rows live minutes."""

    __tablename__ = "submission"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # digest of (user, form, content)
    done: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
