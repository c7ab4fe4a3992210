"""Logging that a flood cannot turn into a flood of log lines: at most `per_minute` lines a minute for
one kind of event (failed sign-ins, anonymous refusals), then one line saying how many were left out.

Per process, on purpose: it guards this process's log, and the throttle that refuses the sign-ins
themselves lives in the database (app.domain.auth)."""

from __future__ import annotations

import logging
import time


class QuietLog:
    def __init__(self, logger: logging.Logger, *, per_minute: int = 30) -> None:
        self.logger = logger
        self.per_minute = per_minute
        self._window: dict[str, tuple[float, int]] = {}  # kind -> (minute started, lines in it)

    def warning(self, kind: str, message: str, *args: object) -> bool:
        """Log it unless this minute's lines for `kind` are used up; True when it was logged."""
        now = time.monotonic()
        started, count = self._window.get(kind, (now, 0))
        if now - started >= 60:
            if count > self.per_minute:
                self.logger.warning("%s: %d more in the last minute were not logged", kind, count - self.per_minute)
            started, count = now, 0
        count += 1
        self._window[kind] = (started, count)
        if count > self.per_minute:
            return False
        self.logger.warning(message, *args)
        return True


__all__ = ["QuietLog"]
