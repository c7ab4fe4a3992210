"""The Theme menu of the header (POST /preferences/theme): the choice is the user's, kept in the database,
and every page renders it on <html> (no flash of the other theme); without script the form posts and
the page comes back, with htmx the page switches in place."""

from __future__ import annotations

import re

from tests.conftest import Tenants


def html_tag(text: str) -> str:
    return re.search(r"<html[^>]*>", text).group(0)  # type: ignore[union-attr]


def color_scheme(text: str) -> str:
    return re.search(r'<meta name="color-scheme" content="([^"]+)">', text).group(1)  # type: ignore[union-attr]


def pressed(text: str) -> list[str]:
    return re.findall(r'<button name="theme" value="(\w+)" aria-pressed="true">', text)


async def test_a_new_user_follows_the_browser_and_the_menu_says_so(tenants: Tenants) -> None:
    b = await tenants.browser(await tenants.user())
    page = await b.get("/workspaces")
    assert "data-theme" not in html_tag(page.text)
    assert color_scheme(page.text) == "light dark"
    assert pressed(page.text) == ["system"]
    assert 'action="/preferences/theme"' in page.text and 'name="back" value="/workspaces"' in page.text


async def test_the_chosen_theme_is_remembered_and_rendered_on_every_page(tenants: Tenants) -> None:
    user = await tenants.user()
    b = await tenants.browser(user)
    await b.get("/workspaces")
    resp = await b.post("/preferences/theme", {"theme": "dark", "back": "/workspaces?page=2"})
    assert resp.status_code == 303 and resp.headers["location"] == "/workspaces?page=2"
    page = await b.get("/workspaces")
    assert 'data-theme="dark"' in html_tag(page.text) and color_scheme(page.text) == "dark"
    assert pressed(page.text) == ["dark"]
    # ... in another session of the same user too (it is the account's, not the browser's)
    other = await tenants.browser(user)
    assert 'data-theme="dark"' in html_tag((await other.get("/workspaces")).text)
    # error pages as well
    assert 'data-theme="dark"' in html_tag((await b.get("/workspaces/no-such-workspace")).text)

    resp = await b.post("/preferences/theme", {"theme": "light", "back": "/workspaces"})
    page = await b.get("/workspaces")
    assert 'data-theme="light"' in html_tag(page.text) and color_scheme(page.text) == "light"
    await b.post("/preferences/theme", {"theme": "system", "back": "/workspaces"})
    page = await b.get("/workspaces")
    assert "data-theme" not in html_tag(page.text) and pressed(page.text) == ["system"]


async def test_with_htmx_the_answer_is_204_and_nothing_is_swapped(tenants: Tenants) -> None:
    b = await tenants.browser(await tenants.user())
    await b.get("/workspaces")
    resp = await b.post("/preferences/theme", {"theme": "dark", "back": "/workspaces"}, htmx=True)
    assert resp.status_code == 204 and resp.content == b""
    assert 'data-theme="dark"' in html_tag((await b.get("/workspaces")).text)


async def test_an_unknown_theme_is_refused_and_nothing_changes(tenants: Tenants) -> None:
    b = await tenants.browser(await tenants.user())
    await b.get("/workspaces")
    resp = await b.post("/preferences/theme", {"theme": "blue", "back": "/workspaces"})
    assert resp.status_code == 422 and "Choose Light, Dark or Follow the system." in resp.text
    assert "data-theme" not in html_tag((await b.get("/workspaces")).text)


async def test_back_is_only_ever_a_page_of_the_console(tenants: Tenants) -> None:
    b = await tenants.browser(await tenants.user())
    await b.get("/workspaces")
    for back in ("https://evil.example/", "//evil.example/x", "/\\evil.example", ""):
        resp = await b.post("/preferences/theme", {"theme": "dark", "back": back})
        assert resp.status_code == 303 and resp.headers["location"] == "/workspaces", back


async def test_signed_out_or_without_the_csrf_token_nothing_is_kept(tenants: Tenants) -> None:
    anonymous = await tenants.browser()
    page = await anonymous.get("/login")
    assert "data-theme" not in html_tag(page.text) and 'id="theme-menu"' not in page.text
    resp = await anonymous.client.post("/preferences/theme", data={"theme": "dark"})
    assert resp.status_code == 403  # no session, no pre-session token: refused before anything
    b = await tenants.browser(await tenants.user())
    resp = await b.client.post("/preferences/theme", data={"theme": "dark", "csrf_token": "forged"})
    assert resp.status_code == 403
    assert "data-theme" not in html_tag((await b.get("/workspaces")).text)


async def test_the_shortcuts_dialog_is_a_fragment_for_the_signed_in(tenants: Tenants) -> None:
    b = await tenants.browser(await tenants.user())
    resp = await b.get("/preferences/shortcuts", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and resp.text.lstrip().startswith('<dialog id="shortcuts"')
    assert "<kbd>/</kbd>" in resp.text and 'method="dialog"' in resp.text
    page = await b.get("/workspaces")
    assert 'id="shortcuts-open"' in page.text and " hidden>" in page.text  # shown by the script only
    anonymous = await tenants.browser()
    assert (await anonymous.get("/preferences/shortcuts")).status_code == 303
