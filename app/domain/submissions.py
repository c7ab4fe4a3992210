"""A double click, or the same form posted to two console processes, creates once.

The first submit claims the form's key with a row in the database (the primary key makes the claim
atomic across processes) and does the work; a second submit of the same key waits for the first: when it
succeeded, the second answers "done" without creating anything; when it failed, the claim is gone and the
second tries for itself (a corrected form may be sent again). A claim left by a process that died is
taken over after `abandoned_seconds`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.creation import CreateOutcome
from app.models import Submission
from app.models.base import utcnow

Sessions = async_sessionmaker[AsyncSession]


class SubmissionGuard:
    def __init__(self, *, keep_seconds: float = 600, abandoned_seconds: float = 120, poll_seconds: float = 0.1) -> None:
        self.keep_seconds = keep_seconds
        self.abandoned_seconds = abandoned_seconds
        self.poll_seconds = poll_seconds

    async def once(self, sessions: Sessions, key: tuple[str, str], work: Callable[[], Awaitable[Any]]) -> Any:
        """`work()`'s result, or, when the same form already succeeded, a CreateOutcome with nothing
        created by this call (ok). An exception from `work` releases the claim and propagates."""
        if not key[1]:
            return await work()
        digest = hashlib.sha256(f"{key[0]}\0{key[1]}".encode()).hexdigest()
        while not await self._claim(sessions, digest):
            if await self._wait(sessions, digest):
                return CreateOutcome()
        try:
            result = await work()
        except BaseException:
            await asyncio.shield(self._release(sessions, digest))
            raise
        if getattr(result, "ok", True):
            async with sessions() as s:
                await s.execute(update(Submission).where(Submission.key == digest).values(done=True))
                await s.commit()
        else:
            await self._release(sessions, digest)
        return result

    async def _claim(self, sessions: Sessions, digest: str) -> bool:
        now = utcnow()
        async with sessions() as s:
            await s.execute(delete(Submission).where(
                (Submission.at < now - timedelta(seconds=self.keep_seconds))
                | ((Submission.key == digest) & ~Submission.done
                   & (Submission.at < now - timedelta(seconds=self.abandoned_seconds)))))
            s.add(Submission(key=digest, done=False, at=now))
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()
                return False
        return True

    async def _wait(self, sessions: Sessions, digest: str) -> bool:
        """Until the other submit ends: True when it succeeded, False when its claim is gone or abandoned."""
        waited = 0.0
        while waited < self.abandoned_seconds:
            async with sessions() as s:
                done = await s.scalar(select(Submission.done).where(Submission.key == digest))
            if done is None:
                return False
            if done:
                return True
            await asyncio.sleep(self.poll_seconds)
            waited += self.poll_seconds
        return False

    async def _release(self, sessions: Sessions, digest: str) -> None:
        async with sessions() as s:
            await s.execute(delete(Submission).where(Submission.key == digest))
            await s.commit()


guard = SubmissionGuard()
