"""Sign-in: credential checks, throttling, and server-side revocable sessions."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.passwords import verify_password
from app.models import AuthSession, LoginFailure, User
from app.models.base import utcnow
from app.quiet_log import QuietLog
from app.settings import Settings

failures = QuietLog(logging.getLogger("dockyard.auth"))


def _digest(token: str, settings: Settings) -> str:
    """What is stored of a session token: keyed with the session secret, so a copy of the database alone
    (or someone who may write to it) cannot make a cookie that signs in."""
    return hmac.new(settings.session_secret.get_secret_value().encode(), token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignIn:
    user: User
    token: str  # goes in the cookie; only its digest is stored
    session: AuthSession


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after


async def _failures(session: AsyncSession, *, since: datetime, username: str | None = None,
                    ip: str | None = None) -> int:
    q = select(func.count()).select_from(LoginFailure).where(LoginFailure.at >= since)
    if username is not None:
        q = q.where(LoginFailure.username == username)
    if ip is not None:
        q = q.where(LoginFailure.ip == ip)
    return int(await session.scalar(q) or 0)


async def check_throttle(session: AsyncSession, settings: Settings, *, username: str, ip: str) -> None:
    """Slow guessing down without letting an attacker lock a user out.

    Failures are counted per (account, address) and per address. The owner signing in from another
    address is never blocked by someone else's failures on the same account; only after many failures
    across all addresses does the account itself get a short cool-down.
    """
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    pair = await _failures(session, since=since, username=username, ip=ip)
    by_ip = await _failures(session, since=since, ip=ip)
    by_account = await _failures(session, since=since, username=username)
    limit = settings.login_max_failures
    if pair >= limit or by_ip >= limit * 4 or by_account >= limit * 20:
        raise Throttled(settings.login_window_seconds)


async def authenticate(
    session: AsyncSession, settings: Settings, *, username: str, password: str, ip: str, user_agent: str
) -> SignIn | None:
    """Check credentials (after the throttle); on success open a new session. None when they are wrong."""
    username = username.strip()
    await check_throttle(session, settings, username=username, ip=ip)
    user = await session.scalar(select(User).where(User.username == username))
    ok = await verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        session.add(LoginFailure(username=username[:63], ip=ip[:64]))
        await session.commit()
        # An unknown name is not written down: it is often a password typed in the wrong field. A known
        # one is quoted (%r), so a name cannot forge a log line.
        who = repr(username[:63]) if user is not None else f"an unknown name ({len(username)} characters)"
        failures.warning("failed sign-in", "failed sign-in for %s from %s", who, ip[:64])
        return None
    await session.execute(delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.ip == ip))
    return await open_session(session, settings, user, ip=ip, user_agent=user_agent)


async def open_session(session: AsyncSession, settings: Settings, user: User, *, ip: str, user_agent: str) -> SignIn:
    """A new server-side session for a user whose identity was proven (a password, or single sign-on)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    auth = AuthSession(
        token_hash=_digest(token, settings), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
        created_at=now, last_seen_at=now, expires_at=now + timedelta(hours=settings.session_absolute_hours),
        ip=ip[:64], user_agent=user_agent[:256],
    )
    session.add(auth)
    await session.commit()
    return SignIn(user=user, token=token, session=auth)


def session_valid(user: User, auth: AuthSession, settings: Settings, now: datetime | None = None) -> bool:
    """Not expired, not idle too long, not older than the last password change, and the user enabled."""
    now = now or utcnow()
    idle = timedelta(minutes=settings.session_idle_minutes)
    return not (user.disabled or auth.expires_at <= now or auth.last_seen_at + idle <= now
                or auth.created_at < user.password_changed_at)


def token_digest(token: str, settings: Settings) -> str:
    return _digest(token, settings)


async def resolve_session(session: AsyncSession, settings: Settings, token: str | None) -> tuple[User, AuthSession] | None:
    """The signed-in user for a cookie token, or None if it is unknown, expired, idle or revoked."""
    if not token:
        return None
    row = await session.execute(
        select(AuthSession, User).join(User, User.id == AuthSession.user_id).where(
            AuthSession.token_hash == _digest(token, settings)
        )
    )
    found = row.first()
    if found is None:
        return None
    auth, user = found
    now = utcnow()
    if not session_valid(user, auth, settings, now):
        await session.delete(auth)
        await session.commit()
        return None
    if now - auth.last_seen_at > timedelta(minutes=1):
        auth.last_seen_at = now
        await session.commit()
    return user, auth


async def sign_out(session: AsyncSession, settings: Settings, token: str | None) -> None:
    if token:
        await session.execute(delete(AuthSession).where(AuthSession.token_hash == _digest(token, settings)))
        await session.commit()


async def revoke_all_sessions(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))
