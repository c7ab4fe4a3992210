"""A flood of failed sign-ins or anonymous refusals cannot flood the log."""

from __future__ import annotations

import logging

import pytest

from app import quiet_log
from app.quiet_log import QuietLog


def test_at_most_the_minutes_share_is_logged_then_how_many_were_left_out(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(quiet_log.time, "monotonic", lambda: now[0])
    log = QuietLog(logging.getLogger("test.quiet"), per_minute=30)
    with caplog.at_level(logging.WARNING, logger="test.quiet"):
        logged = [log.warning("failed sign-in", "failed sign-in for %r", f"u{i}") for i in range(100)]
        assert logged.count(True) == 30 and len(caplog.records) == 30
        assert log.warning("other kind", "a different event is counted apart")
        now[0] += 61
        assert log.warning("failed sign-in", "failed sign-in for %r", "later")
    messages = [r.getMessage() for r in caplog.records]
    assert "failed sign-in: 70 more in the last minute were not logged" in messages
    assert messages[-1] == "failed sign-in for 'later'"


def test_a_forged_line_in_a_user_name_stays_on_one_quoted_line(caplog: pytest.LogCaptureFixture) -> None:
    from app.domain.auth import failures

    with caplog.at_level(logging.WARNING, logger="dockyard.auth"):
        failures.warning("test forged", "failed sign-in for %r from %s", "x\nINFO admin signed in", "1.2.3.4")
    assert caplog.records[-1].getMessage() == "failed sign-in for 'x\\nINFO admin signed in' from 1.2.3.4"

