"""Single sign-on with OpenID Connect (Authlib): the authorization code flow with PKCE (S256), state and
nonce, and the ID token checked before anyone is signed in: its signature by the provider's published
keys (asymmetric algorithms only), its issuer (the discovered one, which must be the configured one),
its audience (our client id, and no one else), its expiry, and its nonce.

What a sign-in under way needs lives in the database (`oidc_flow`), not in the process or a cookie: any
console process may get the callback, and a row is deleted when it is used, so a state works once (a
replayed callback is refused by us, not only by the provider). The row is keyed by a hash of the state
and holds a hash of a random value kept in an HttpOnly cookie of the browser that started the sign-in:
a callback link sent to someone else's browser signs nobody in (login CSRF).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import KeySet
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import rbac
from app.domain.auth import SignIn, open_session
from app.domain.errors import DomainError, Unavailable
from app.domain.sso_users import Account, account_for
from app.i18n import _
from app.kube.client import KubeGateway
from app.kube.errors import KubeError
from app.models import OidcFlow, PlatformRole
from app.models.base import utcnow
from app.quiet_log import QuietLog
from app.settings import Settings

log = logging.getLogger("dockyard.sso")
refusals = QuietLog(log)

FLOW_SECONDS = 600  # time to sign in at the provider
FLOWS_PER_ADDRESS = 30  # sign-ins under way from one address at once
METADATA_SECONDS = 3600  # the discovery document and keys are read again after this
LEEWAY_SECONDS = 60  # clock skew allowed on the ID token's times
# Signatures by the provider's private key only: never "none", never a MAC with a shared secret.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Provider:
    """The provider's discovery document and signing keys, read once per process (again after an hour,
    and the keys at once when a token names a key we do not have: the provider rotated them)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    def unreachable(self, detail: str) -> Unavailable:
        log.warning("the identity provider %s could not be read: %s", self.issuer, detail)
        return Unavailable(_(
            "{name} could not be reached, so single sign-on is not available right now. Please try again "
            "later, or sign in with your password.").format(name=self.settings.oidc_display_name))

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx2.AsyncClient(timeout=self.settings.oidc_timeout_seconds) as client:
                resp = await client.get(url, headers={"Accept": "application/json"})
            resp.raise_for_status()
            body = resp.json()
        except (httpx2.HTTPError, ValueError) as e:
            raise self.unreachable(f"{url}: {e}") from None
        if not isinstance(body, dict):
            raise self.unreachable(f"{url}: not a JSON object")
        return body

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is not None and time.monotonic() - self._read_at < METADATA_SECONDS:
            return self._metadata
        async with self._lock:
            if self._metadata is None or time.monotonic() - self._read_at >= METADATA_SECONDS:
                doc = await self._get_json(self.issuer + "/.well-known/openid-configuration")
                # OpenID Connect Discovery 4.3: the document must be the configured issuer's own.
                if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
                    log.warning("the discovery document of %s names the issuer %r", self.issuer, doc.get("issuer"))
                    raise DomainError(_(
                        "Single sign-on is misconfigured: the identity provider at {url} says its issuer is "
                        "{issuer}. Set DOCKYARD_OIDC_ISSUER to the provider's issuer exactly."
                    ).format(url=self.issuer, issuer=doc.get("issuer", "")))
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(doc.get(key), str):
                        raise self.unreachable(f"the discovery document has no {key}")
                methods = doc.get("code_challenge_methods_supported")
                if isinstance(methods, list) and "S256" not in methods:
                    raise DomainError(_("The identity provider does not support PKCE (S256), which Dockyard "
                                        "requires for single sign-on."))
                self._metadata, self._keys, self._read_at = doc, None, time.monotonic()
        assert self._metadata is not None
        return self._metadata

    async def keys(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            meta = await self.metadata()
            try:
                self._keys = KeySet.import_key_set(await self._get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
            except JoseError as e:
                raise self.unreachable(f"its keys could not be read: {e}") from None
        return self._keys

    def client(self, redirect_uri: str) -> AsyncOAuth2Client:
        secret = self.settings.oidc_client_secret
        return AsyncOAuth2Client(
            client_id=self.settings.oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=self.settings.oidc_scopes, redirect_uri=redirect_uri, code_challenge_method="S256",
            timeout=self.settings.oidc_timeout_seconds,
        )


@dataclass(frozen=True)
class Started:
    url: str  # the provider's authorization endpoint, with our request
    browser_token: str  # for the HttpOnly cookie the callback must bring back


@dataclass(frozen=True)
class Finished:
    signin: SignIn
    account: Account
    next_url: str
    issuer: str


class Refused(DomainError):
    """The sign-in was refused; nothing was created (the message says why, for the sign-in page)."""


async def start(session: AsyncSession, provider: Provider, *, redirect_uri: str, next_url: str,
                ip: str, browser_token: str | None = None) -> Started:
    """Remember a new sign-in (state, nonce, PKCE verifier) and give the provider's URL to go to.
    `browser_token`: the browser's cookie from a sign-in it started before (two tabs both finish)."""
    meta = await provider.metadata()
    now = utcnow()
    await session.execute(delete(OidcFlow).where(OidcFlow.expires_at < now))
    under_way = await session.scalar(select(func.count()).select_from(OidcFlow).where(OidcFlow.ip == ip[:64]))
    if (under_way or 0) >= FLOWS_PER_ADDRESS:
        await session.commit()
        refusals.warning("sso flood", "too many single sign-ons under way from %s", ip[:64])
        raise Refused(_("Too many sign-ins are under way from your address. Please wait a few minutes and try again."))
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    browser = browser_token if browser_token and len(browser_token) >= 32 else secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters (RFC 7636: 43-128)
    async with provider.client(redirect_uri) as client:
        url, _state = client.create_authorization_url(
            meta["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce)
    session.add(OidcFlow(
        state_hash=_hash(state), browser_hash=_hash(browser), nonce=nonce, code_verifier=verifier,
        redirect_uri=redirect_uri, next_url=next_url[:2048], ip=ip[:64],
        expires_at=now + timedelta(seconds=FLOW_SECONDS),
    ))
    await session.commit()
    return Started(url=url, browser_token=browser)


async def _take_flow(session: AsyncSession, state: str, browser_token: str | None) -> OidcFlow:
    """The sign-in this callback answers, deleted (committed) so its state never works again."""
    flow = await session.scalar(select(OidcFlow).where(OidcFlow.state_hash == _hash(state))) if state else None
    if flow is not None:
        taken = await session.execute(delete(OidcFlow).where(OidcFlow.id == flow.id))
        await session.commit()
        if getattr(taken, "rowcount", 0) != 1:
            flow = None  # another process took it first: the same callback twice
    if flow is None:
        raise Refused(_("This sign-in is not valid or was already used. Please sign in again."))
    if flow.expires_at <= utcnow():
        raise Refused(_("The sign-in took too long. Please sign in again."))
    if not browser_token or not hmac.compare_digest(_hash(browser_token), flow.browser_hash):
        raise Refused(_("This sign-in was started in another browser. Please sign in again here."))
    return flow


async def _id_token_claims(provider: Provider, id_token: str, *, nonce: str, access_token: str | None) -> dict[str, Any]:
    """The ID token's claims, once its signature, issuer, audience, times and nonce are right."""
    meta = await provider.metadata()
    offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [a for a in ALGORITHMS if a in offered]
    try:
        try:
            token = jwt.decode(id_token, await provider.keys(), algorithms=algorithms)
        except InvalidKeyIdError:
            token = jwt.decode(id_token, await provider.keys(refresh=True), algorithms=algorithms)
        settings = provider.settings
        claims = CodeIDToken(
            token.claims, token.header,
            {"iss": {"essential": True, "value": meta["issuer"]},
             "aud": {"essential": True, "value": settings.oidc_client_id},
             "sub": {"essential": True}, "exp": {"essential": True}},
            {"nonce": nonce, "client_id": settings.oidc_client_id, "access_token": access_token},
        )
        claims.validate(leeway=LEEWAY_SECONDS)
        # OIDC Core 3.1.3.7: refused too when it names audiences we do not trust (we trust only ourselves).
        audience = claims["aud"]
        if any(a != settings.oidc_client_id for a in ([audience] if isinstance(audience, str) else audience)):
            raise InvalidClaimError("aud")
    except ExpiredTokenError:
        raise _refused("expired", _("The identity provider's answer has expired. Please sign in again.")) from None
    except ClaimError as e:
        messages = {
            "iss": _("The identity provider's answer was refused: it was issued by another provider than {issuer}."),
            "aud": _("The identity provider's answer was refused: it is meant for another application, not "
                     "for this Dockyard (client {client})."),
            "azp": _("The identity provider's answer was refused: it is meant for another application, not "
                     "for this Dockyard (client {client})."),
            "nonce": _("The identity provider's answer was refused: it does not belong to this sign-in "
                       "(wrong nonce). Please sign in again."),
        }
        message = messages.get(e.claim, _("The identity provider's answer was refused: its claim {claim} is "
                                           "not valid."))
        raise _refused(f"claim {e.claim}", message.format(
            issuer=meta["issuer"], client=provider.settings.oidc_client_id, claim=e.claim)) from None
    except BadSignatureError:
        raise _refused("signature", _("The identity provider's answer was refused: its signature is not "
                                      "valid.")) from None
    except (JoseError, ValueError) as e:
        raise _refused(f"token: {e}", _("The identity provider's answer was refused: its ID token could "
                                        "not be read.")) from None
    return dict(claims)


def _refused(why: str, message: str) -> Refused:
    refusals.warning("sso refused", "single sign-on refused: %s", why)
    return Refused(message)


async def _more_claims(provider: Provider, client: AsyncOAuth2Client, claims: dict[str, Any],
                       token: Mapping[str, Any]) -> dict[str, Any]:
    """Claims the ID token left out (some providers send profile, email or groups only from userinfo)."""
    wanted = ("preferred_username", "email", provider.settings.oidc_groups_claim)
    endpoint = (await provider.metadata()).get("userinfo_endpoint")
    if all(k in claims for k in wanted) or not isinstance(endpoint, str) or not token.get("access_token"):
        return claims
    try:
        resp = await client.get(endpoint)
        resp.raise_for_status()
        info = resp.json()
    except (httpx2.HTTPError, OAuthError, ValueError) as e:
        log.warning("the userinfo endpoint of %s could not be read: %s", provider.issuer, e)
        return claims
    if not isinstance(info, dict) or info.get("sub") != claims.get("sub"):  # OIDC Core 5.3.2
        return claims
    return {**info, **claims}


async def finish(session: AsyncSession, provider: Provider, *, params: Mapping[str, str],
                 browser_token: str | None, ip: str, user_agent: str,
                 kube: Callable[[], Awaitable[KubeGateway]]) -> Finished:
    """Complete a sign-in from the provider's callback: the flow taken (once), the code exchanged with
    its PKCE verifier, the ID token checked, the account found or made, a session opened."""
    flow = await _take_flow(session, params.get("state", ""), browser_token)
    if error := params.get("error"):
        if error == "access_denied":
            raise _refused("access_denied", _("The sign-in was cancelled or refused at {name}.").format(
                name=provider.settings.oidc_display_name))
        raise _refused(f"provider error {error[:40]!r}", _("{name} refused the sign-in: {error}").format(
            name=provider.settings.oidc_display_name,
            error=(params.get("error_description") or error)[:200]))
    code = params.get("code", "")
    if not code:
        raise _refused("no code", _("The identity provider's answer has no authorization code. Please sign in again."))
    meta = await provider.metadata()
    async with provider.client(flow.redirect_uri) as client:
        try:
            token = await client.fetch_token(meta["token_endpoint"], code=code, code_verifier=flow.code_verifier,
                                             grant_type="authorization_code")
        except OAuthError as e:
            raise _refused(f"token endpoint: {e.error}", _(
                "{name} did not accept the sign-in ({error}). Please sign in again.").format(
                name=provider.settings.oidc_display_name, error=e.error)) from None
        except httpx2.HTTPError as e:
            raise provider.unreachable(f"token endpoint: {e}") from None
        except ValueError:
            raise _refused("token endpoint: not JSON", _(
                "The identity provider's answer could not be read. Please sign in again.")) from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise _refused("no id_token", _("The identity provider did not send an ID token. Is the openid "
                                            "scope allowed for this client?"))
        claims = await _id_token_claims(provider, id_token, nonce=flow.nonce, access_token=token.get("access_token"))
        claims = await _more_claims(provider, client, claims, token)
    try:
        account = await account_for(session, provider.settings, issuer=meta["issuer"], claims=claims)
    except DomainError as e:
        refusals.warning("sso refused", "single sign-on refused for subject %r: %s",
                         str(claims.get("sub"))[:64], type(e).__name__)
        raise
    user = account.user
    was_admin = account.previous_role == PlatformRole.admin and not account.created
    if was_admin != user.is_platform_admin:
        await _reconcile(session, kube)  # platform admins have every project's role in the cluster
    signin = await open_session(session, provider.settings, user, ip=ip, user_agent=user_agent)
    return Finished(signin=signin, account=account, next_url=flow.next_url, issuer=meta["issuer"])


async def _reconcile(session: AsyncSession, kube: Callable[[], Awaitable[KubeGateway]]) -> None:
    try:
        await rbac.reconcile_all(session, await kube())
    except KubeError as e:  # the periodic reconciler repairs it
        log.warning("role bindings not reconciled after a platform role change: %s", e)
