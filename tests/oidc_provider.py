"""pytest plugin: a real OpenID Connect provider on loopback for the single sign-on tests.

It is zitadel/oidc's OP (github.com/zitadel/oidc/v3, an OpenID Certified library) with its example login
page, in devcluster/oidc_provider, built by scripts/build-oidc-provider.sh when missing (pinned, cached
in ~/.cache/dockyard/). One process for the test session, on a free port of 127.0.0.1; users of its own
for this session (random suffixes: the session's database keeps the accounts their sign-ins make).

Fixtures
- `oidc_provider` (session): an `OidcProvider` (issuer, clients, `user(name)`).

Helpers: `settings_for(provider, base, **overrides)` (Dockyard's settings with single sign-on on),
`sign_in_at_provider(url, user)` (what a browser does at the provider: its login form, then back; returns
the callback URL it sends the browser to).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from app.settings import Settings

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "scripts" / "build-oidc-provider.sh"
CALLBACKS = ["http://127.0.0.1:*/login/oidc/callback", "http://testserver/login/oidc/callback"]
ADMIN_GROUP, PROVISIONER_GROUP = "dockyard-admins", "dockyard-provisioners"
# The provider's users: name -> groups. Each test that needs a first sign-in uses a name no other uses.
USERS: dict[str, list[str]] = {
    "alice": [ADMIN_GROUP, "developers"], "bob": ["developers"], "carol": [PROVISIONER_GROUP],
    "dave": [], "erin": ["developers"], "frank": ["developers"], "grace": [ADMIN_GROUP], "heidi": [],
    "ivan": ["developers"], "judy": [], "mallory": [], "niaj": ["developers"], "olivia": [ADMIN_GROUP],
    "peggy": [], "rupert": [], "sybil": ["developers"], "trent": [], "victor": [], "walter": [], "xavier": [],
    "yara": ["developers"], "zoe": [], "quinn": [ADMIN_GROUP],
}
# Clients: (id, secret, extra options). `foreign-aud`'s ID tokens name only another audience, `shared-aud`'s
# another one besides it; `userinfo-only` gets profile, email and groups from the userinfo endpoint only.
CLIENTS = {
    "dockyard": ("dockyard-secret", ""),
    "other-app": ("other-secret", ""),
    "foreign-aud": ("foreign-secret", "audience=someone-else"),
    "shared-aud": ("shared-secret", "extra-audience=someone-else"),
    "userinfo-only": ("userinfo-secret", "userinfo=only"),
}


@dataclass(frozen=True)
class ProviderUser:
    username: str
    password: str
    email: str
    groups: list[str]


@dataclass
class OidcProvider:
    issuer: str
    suffix: str
    log: Path

    def user(self, name: str) -> ProviderUser:
        return ProviderUser(f"{name}-{self.suffix}", f"{name}-password", f"{name}-{self.suffix}@example.test",
                            USERS[name])

    def secret(self, client_id: str) -> str:
        return CLIENTS[client_id][0]


def provider_binary() -> Path:
    """The built provider (built now if missing: about half a minute, seconds when the modules are cached)."""
    out = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, f"building the OIDC provider failed:\n{out.stderr[-3000:]}"
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    binary = provider_binary()
    suffix = secrets.token_hex(3)
    with tempfile.TemporaryDirectory(prefix="dockyard-oidc-") as tmp:
        users = [{"id": f"{name}-{suffix}-id", "username": f"{name}-{suffix}", "password": f"{name}-password",
                  "given_name": name.title(), "family_name": "Tester", "email": f"{name}-{suffix}@example.test",
                  "email_verified": True, "groups": groups} for name, groups in USERS.items()]
        users_file = Path(tmp) / "users.json"
        users_file.write_text(json.dumps(users))
        log = Path(tmp) / "provider.log"
        args = [str(binary), "-listen", "127.0.0.1:0", "-users", str(users_file)]
        for client_id, (secret, extra) in CLIENTS.items():
            spec = ",".join([f"id={client_id}", f"secret={secret}", *(f"redirect={r}" for r in CALLBACKS)]
                            + ([extra] if extra else []))
            args += ["-client", spec]
        with log.open("w") as err:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # "issuer http://127.0.0.1:<port>", once it listens
            m = re.fullmatch(r"issuer (\S+)\n", line)
            assert m, f"the OIDC provider did not start: {line!r} {log.read_text()[-2000:]}"
            issuer = m.group(1)
            deadline = time.monotonic() + 30
            while True:  # its discovery document answers
                try:
                    if httpx.get(issuer + "/.well-known/openid-configuration", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()[-2000:]
                time.sleep(0.05)
            yield OidcProvider(issuer=issuer, suffix=suffix, log=log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def settings_for(provider: OidcProvider, base: Settings, **overrides: Any) -> Settings:
    """Dockyard's test settings with single sign-on at `provider` (client `dockyard` unless overridden)."""
    client_id = overrides.pop("oidc_client_id", "dockyard")
    values: dict[str, Any] = {
        "oidc_issuer": provider.issuer, "oidc_client_id": client_id,
        "oidc_client_secret": provider.secret(client_id) if client_id in CLIENTS else "nope",
        "oidc_display_name": "Test IdP", "oidc_admin_groups": f"{ADMIN_GROUP},platform-people",
        "oidc_self_provisioner_groups": PROVISIONER_GROUP, "oidc_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**{**base.model_dump(), **values})


async def sign_in_at_provider(url: str, user: ProviderUser, *, password: str | None = None) -> str:
    """Follow the provider's authorization URL as a browser would: its login page, the form posted with
    the user's credentials, then its redirects until it sends the browser back to the console. Returns
    that callback URL (with code and state, or an error)."""
    async with httpx.AsyncClient(timeout=10) as client:
        resp = await client.get(url)
        for _ in range(10):
            if resp.status_code in (301, 302, 303, 307, 308):
                target = urljoin(str(resp.url), resp.headers["location"])
                if "/login/oidc/callback" in target:
                    return target
                resp = await client.get(target)
                continue
            assert resp.status_code == 200, (resp.status_code, resp.text[:500])
            m = re.search(r'name="id" value="([^"]+)"', resp.text)
            assert m, resp.text[:500]
            resp = await client.post(urljoin(str(resp.url), "/login/username"), data={
                "id": m.group(1), "username": user.username, "password": password or user.password})
        raise AssertionError(f"the provider never sent the browser back: {resp.status_code} {resp.text[:300]}")
