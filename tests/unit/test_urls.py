"""Where the console sends a user back to: its own paths only (sign-in's `next`, the Theme menu's `back`)."""

import pytest

from app.web.urls import local_path


@pytest.mark.parametrize("target", ["/workspaces", "/workspaces/ws/projects/p/services?page=2&sort=name"])
def test_local_paths_are_kept(target: str) -> None:
    assert local_path(target) == target


@pytest.mark.parametrize("target", [
    "", None, "//evil.example", "https://evil.example", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/ /evil.example", "/\x00x", "evil.example",
])
def test_anything_that_could_leave_the_console_is_refused(target: str | None) -> None:
    assert local_path(target) is None
