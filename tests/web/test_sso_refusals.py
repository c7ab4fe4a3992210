"""Single sign-on refuses, with a message on the sign-in page and nothing created (no account, identity
or session), every answer that is not this browser's own sign-in at the configured provider for this
console: a tampered, replayed or foreign state; a wrong nonce or PKCE verifier; a code issued to another
client; an ID token for another audience or from another issuer; the provider's own refusal; a provider
that is down. All against the real provider of tests/oidc_provider.py."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import pytest_asyncio

from tests.oidc_provider import sign_in_at_provider
from tests.web.sso_fixtures import (
    begin,
    browser,
    counts,
    login_error,
    param,
    sign_in,
    sso_app,
    user_named,
    with_param,
)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def console(oidc_provider, settings, cluster):  # type: ignore[no-untyped-def]
    async with sso_app(oidc_provider, settings) as application:
        yield application


async def _refused(console, client: httpx.AsyncClient, callback: str, status: int) -> str:  # type: ignore[no-untyped-def]
    """Deliver the provider's answer; it must be refused with nothing made. Returns the page's message."""
    before = await counts(console)
    resp = await client.get(callback)
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    after = await counts(console)
    assert (after.users, after.identities, after.sessions) == (before.users, before.identities, before.sessions)
    assert (await client.get("/workspaces")).status_code in (303, 307)  # still signed out
    return login_error(resp)


async def test_a_tampered_state_is_refused(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    user = oidc_provider.user("heidi")
    async with browser(console) as client:
        callback = await sign_in_at_provider(await begin(client), user)
        tampered = with_param(callback, state=param(callback, "state") + "x")
        message = await _refused(console, client, tampered, 400)
    assert message == "This sign-in is not valid or was already used. Please sign in again."
    assert await user_named(console, user.username) is None


async def test_a_replayed_callback_is_refused_the_second_time(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    user = oidc_provider.user("judy")
    async with browser(console) as client:
        callback = await sign_in_at_provider(await begin(client), user)
        assert (await client.get(callback)).status_code == 303
    async with browser(console) as client:  # the same link later, even with the cookie the first browser had
        client.cookies.set("dockyard_sso", "whatever")
        message = await _refused(console, client, callback, 400)
    assert message == "This sign-in is not valid or was already used. Please sign in again."


async def test_a_callback_opened_in_another_browser_signs_nobody_in(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    """Login CSRF: an attacker's own sign-in, sent as a link to someone else, does not sign them in as the attacker."""
    attacker = oidc_provider.user("mallory")
    async with browser(console) as theirs:
        callback = await sign_in_at_provider(await begin(theirs), attacker)
    async with browser(console) as victim:
        message = await _refused(console, victim, callback, 400)
    assert message == "This sign-in was started in another browser. Please sign in again here."


async def test_a_wrong_nonce_is_refused(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    user = oidc_provider.user("niaj")
    async with browser(console) as client:
        url = await begin(client)
        callback = await sign_in_at_provider(with_param(url, nonce="a-nonce-of-another-sign-in"), user)
        message = await _refused(console, client, callback, 400)
    assert message == ("The identity provider's answer was refused: it does not belong to this sign-in (wrong "
                       "nonce). Please sign in again.")


async def test_a_wrong_pkce_verifier_is_refused_by_the_provider(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    """The code was asked for with another code challenge: our verifier does not match, the provider says so."""
    user = oidc_provider.user("peggy")
    async with browser(console) as client:
        url = await begin(client)
        assert param(url, "code_challenge_method") == "S256"
        callback = await sign_in_at_provider(with_param(url, code_challenge="A" * 43), user)
        message = await _refused(console, client, callback, 400)
    assert message == "Test IdP did not accept the sign-in (invalid_grant). Please sign in again."


async def test_a_code_issued_to_another_client_is_refused(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    user = oidc_provider.user("rupert")
    async with browser(console) as client:
        url = await begin(client)
        callback = await sign_in_at_provider(with_param(url, client_id="other-app"), user)
        assert "code=" in callback
        message = await _refused(console, client, callback, 400)
    assert message.startswith("Test IdP did not accept the sign-in (")


@pytest.mark.parametrize("client_id, user", [("foreign-aud", "sybil"), ("shared-aud", "walter")])
async def test_an_id_token_for_another_audience_is_refused(oidc_provider, settings, cluster, client_id: str,
                                                           user: str) -> None:  # type: ignore[no-untyped-def]
    """`foreign-aud` gets ID tokens for someone else only (azp still names it: Authlib's own checks alone
    would let that through); `shared-aud` gets them for someone else too (untrusted, OIDC Core 3.1.3.7)."""
    async with sso_app(oidc_provider, settings, oidc_client_id=client_id) as app, browser(app) as client:
        callback = await sign_in_at_provider(await begin(client), oidc_provider.user(user))
        message = await _refused(app, client, callback, 400)
    assert message == ("The identity provider's answer was refused: it is meant for another application, not "
                       f"for this Dockyard (client {client_id}).")


async def test_a_provider_whose_discovery_names_another_issuer_is_refused_before_anything(
        oidc_provider, settings, cluster) -> None:  # type: ignore[no-untyped-def]
    """DOCKYARD_OIDC_ISSUER says localhost; the provider at that address is 127.0.0.1's issuer."""
    wrong = oidc_provider.issuer.replace("127.0.0.1", "localhost")
    async with sso_app(oidc_provider, settings, oidc_issuer=wrong) as app, browser(app) as client:
        before = await counts(app)
        resp = await client.get("/login/oidc")
        assert resp.status_code == 400
        assert login_error(resp) == (
            f"Single sign-on is misconfigured: the identity provider at {wrong} says its issuer is "
            f"{oidc_provider.issuer}. Set DOCKYARD_OIDC_ISSUER to the provider's issuer exactly.")
        assert await counts(app) == before  # not even a sign-in under way


@pytest.fixture
def lying_discovery(oidc_provider) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A discovery document that claims its own address as the issuer and sends everything else to the
    real provider: its ID tokens then come from another issuer than the one configured."""
    real = httpx.get(oidc_provider.issuer + "/.well-known/openid-configuration").json()
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    body = json.dumps({**real, "issuer": issuer}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if self.path == "/.well-known/openid-configuration" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield issuer
    server.shutdown()
    server.server_close()


async def test_an_id_token_from_another_issuer_is_refused(oidc_provider, settings, cluster, lying_discovery) -> None:  # type: ignore[no-untyped-def]
    user = oidc_provider.user("trent")
    async with sso_app(oidc_provider, settings, oidc_issuer=lying_discovery) as app, browser(app) as client:
        callback = await sign_in_at_provider(await begin(client), user)
        message = await _refused(app, client, callback, 400)
    assert message == ("The identity provider's answer was refused: it was issued by another provider than "
                       f"{lying_discovery}.")


async def test_the_providers_refusal_comes_back_as_a_message(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    async with browser(console) as client:
        url = await begin(client)
        denied = f"http://testserver/login/oidc/callback?error=access_denied&state={param(url, 'state')}"
        message = await _refused(console, client, denied, 400)
    assert message == "The sign-in was cancelled or refused at Test IdP."


async def test_a_provider_that_is_down_gives_a_clear_page(oidc_provider, settings, cluster) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once it is closed
    async with sso_app(oidc_provider, settings, oidc_issuer=down) as app, browser(app) as client:
        page = await client.get("/login")
        assert page.status_code == 200 and "Sign in with Test IdP" in page.text  # the page itself needs no provider
        resp = await client.get("/login/oidc")
        assert resp.status_code == 503
        assert login_error(resp) == ("Test IdP could not be reached, so single sign-on is not available right "
                                     "now. Please try again later, or sign in with your password.")
        assert 'id="password"' in resp.text


async def test_a_sign_in_without_state_or_code_is_refused(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    async with browser(console) as client:
        message = await _refused(console, client, "http://testserver/login/oidc/callback?code=abc", 400)
        assert message == "This sign-in is not valid or was already used. Please sign in again."
        url = await begin(client)
        message = await _refused(console, client, f"http://testserver/login/oidc/callback?state={param(url, 'state')}", 400)
    assert message == "The identity provider's answer has no authorization code. Please sign in again."


async def test_the_sign_in_goes_back_only_to_a_local_page(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    async with browser(console) as client:
        resp = await sign_in(client, oidc_provider.user("victor"), next_="https://evil.example/")
    assert resp.status_code == 303 and resp.headers["location"] == "/workspaces"
