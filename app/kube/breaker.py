"""A circuit breaker for the API server, and the deadline of the page being served.

When the API server stops answering, every page would wait out each of its calls' timeouts in turn (22 s
was seen: the access review, then the live read). After `threshold` calls in a row end without an answer
(timeout or connection failure), the breaker opens: calls fail at once with "the cluster is not
answering", and a background probe asks the server's `/readyz` until it answers, which closes the breaker.
Pages show what they have (the watch cache, the database) with that message.

The deadline bounds one page's cluster calls together: each call waits at most for what is left of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Iterator

from app.kube.errors import KubeError

log = logging.getLogger("dockyard")

# The monotonic time by which the current page must have its cluster answers (None: no page deadline).
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("dockyard_kube_deadline", default=None)
NO_ANSWER_REASONS = frozenset({"Timeout", "Unreachable"})


@contextlib.contextmanager
def page_deadline(seconds: float) -> Iterator[None]:
    """Within the block, cluster calls share one deadline `seconds` from now (nested blocks keep the
    earlier of the two)."""
    end = time.monotonic() + seconds
    current = _deadline.get()
    token = _deadline.set(end if current is None else min(current, end))
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left(timeout: float) -> float:
    """`timeout`, shortened to what is left of the page's deadline (never below a tenth of a second, so
    a call late in a page still gets a chance instead of failing unsent)."""
    end = _deadline.get()
    if end is None:
        return timeout
    return max(0.1, min(timeout, end - time.monotonic()))


class Breaker:
    """Closed: calls go through. Open: they fail at once, until the background probe succeeds."""

    def __init__(self, probe: Callable[[], Awaitable[object]], *, threshold: int = 3,
                 probe_interval: float = 1.0) -> None:
        self._probe = probe
        self.threshold = threshold
        self.probe_interval = probe_interval
        self.failures = 0
        self.opened_at: float | None = None
        self._probing: asyncio.Task[None] | None = None

    @property
    def open(self) -> bool:
        return self.opened_at is not None

    def check(self, what: str) -> None:
        if self.opened_at is not None:
            waited = time.monotonic() - self.opened_at
            raise KubeError(0, "NotAnswering", (
                f"The cluster is not answering (no answer for {waited:.0f} s); {what} was not sent. "
                "Dockyard keeps checking and carries on as soon as it answers."))

    def record(self, error: KubeError | None) -> None:
        """After a call: None for an answer (any HTTP status), else the error that ended it."""
        if error is None or error.reason not in NO_ANSWER_REASONS:
            self.failures = 0
            return
        self.failures += 1
        if self.failures >= self.threshold and self.opened_at is None:
            self.opened_at = time.monotonic()
            log.warning("the API server is not answering (%d calls in a row): breaker open", self.failures)
            self._probing = asyncio.get_running_loop().create_task(self._probe_until_answered(),
                                                                   name="kube breaker probe")

    async def _probe_until_answered(self) -> None:
        while self.opened_at is not None:
            await asyncio.sleep(self.probe_interval)
            try:
                await self._probe()
            except KubeError as e:
                if e.reason in NO_ANSWER_REASONS:
                    continue
            except Exception:  # noqa: BLE001 - any answer at all means the server is back
                log.exception("breaker probe")
            log.warning("the API server answers again after %.1f s: breaker closed",
                        time.monotonic() - (self.opened_at or time.monotonic()))
            self.opened_at, self.failures = None, 0

    async def close(self) -> None:
        if self._probing is not None:
            self._probing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._probing


__all__ = ["Breaker", "page_deadline", "time_left"]
