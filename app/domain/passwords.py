"""argon2id password hashing, run off the event loop (one hash costs ~0.1–0.3 s and 64 MiB)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.i18n import _

_hasher = PasswordHasher()  # RFC 9106 low-memory profile, argon2id
_fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only
_limit = asyncio.Semaphore(4)
MIN_LENGTH = 8
MAX_LENGTH = 256
# Verified when the account does not exist, so both paths cost the same.
_DUMMY = _hasher.hash("dockyard-dummy-password")


def use_fast_hashing(enabled: bool) -> None:
    global _hasher, _DUMMY
    _hasher = _fast if enabled else PasswordHasher()
    _DUMMY = _hasher.hash("dockyard-dummy-password")


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return _("The password must be at least {n} characters long.").format(n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("The password must be at most {n} characters long.").format(n=MAX_LENGTH)
    return None


async def hash_password(password: str) -> str:
    async with _limit:
        return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    async with _limit:
        return await asyncio.to_thread(_verify, password_hash or _DUMMY, password, password_hash is None)


def _verify(h: str, password: str, dummy: bool) -> bool:
    try:
        ok = _hasher.verify(h, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and not dummy
