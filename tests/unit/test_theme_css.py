"""The stylesheet's dark theme is defined twice, for the user's choice ([data-theme=dark]) and for the
system's preference when there is no choice (@media prefers-color-scheme): the two must stay the same,
and every colour variable of the light theme has its dark value."""

from __future__ import annotations

import re

from app.settings import ROOT

CSS = (ROOT / "static" / "css" / "app.css").read_text()


def declarations(block: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*([^;]+);", block))


def block_after(marker: str) -> str:
    start = CSS.index(marker) + len(marker)
    return CSS[start:CSS.index("}", start)]


def test_the_chosen_dark_theme_and_the_system_dark_theme_are_the_same() -> None:
    chosen = declarations(block_after("[data-theme=dark] {"))
    system = declarations(block_after(":root:not([data-theme=light]):not([data-theme=dark]) {"))
    assert chosen and chosen == system


def test_every_colour_of_the_light_theme_has_a_dark_value() -> None:
    light = declarations(block_after(":root {"))
    colours = {k for k, v in light.items() if re.match(r"#|rgba?\(", v.strip())}
    dark = declarations(block_after("[data-theme=dark] {"))
    assert colours - dark.keys() == set()
    assert "color-scheme: dark" in block_after("[data-theme=dark] {")
    assert "color-scheme: light dark" in block_after(":root {")


def test_no_colour_is_written_outside_the_themes() -> None:
    """A literal colour in a rule would stay the same in both themes: only white on the coloured buttons
    and the log viewer's own dark panel are meant to."""
    rules = CSS[CSS.index("* { box-sizing"):]
    literals = set(re.findall(r"#[0-9a-fA-F]{3,6}\b|rgba?\([^)]*\)", rules))
    assert literals <= {"#fff", "#1e2430", "#d5dde8"}, literals
