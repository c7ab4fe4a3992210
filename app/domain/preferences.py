"""A user's own preferences, kept with their account: the colour theme."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.errors import Invalid
from app.i18n import _
from app.models import User

# What the header's menu posts -> what `user.theme` keeps ("" follows the browser's prefers-color-scheme).
THEMES = {"light": "light", "dark": "dark", "system": ""}


async def set_theme(session: AsyncSession, *, user: User, choice: str) -> str:
    """Remember the colour theme the user chose ("light", "dark" or "system"); returns what is kept."""
    if choice not in THEMES:
        raise Invalid(_("Choose Light, Dark or Follow the system."), field="theme")
    theme = THEMES[choice]
    await session.execute(update(User).where(User.id == user.id).values(theme=theme))
    await session.commit()
    return theme
