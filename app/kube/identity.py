"""Who the cluster sees for a Dockyard user: a ServiceAccount of their own, used through short-lived
tokens (TokenRequest), so the console needs no right to impersonate anyone.

Each user is `system:serviceaccount:dockyard-users:user-<uid>` (the uid is immutable and never reused).
The console may create and delete ServiceAccounts, and request their tokens, in `dockyard-users` only
(deploy/rbac/console.yaml). So its credentials, stolen or misused by a bug, can act as a Dockyard user
and as nothing else: not `system:admin`, not a node, not another namespace's ServiceAccount, not a group.
(Impersonation confined by `resourceNames` would need a ClusterRole per user, which the console could
only write with `escalate` and `bind` on cluster roles: the power to grant itself anything.)

A user's ServiceAccount is made on first use (and so for users who existed before), and deleted when the
user is disabled: that revokes every token of theirs at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from app.kube.errors import KubeError

USERS_NAMESPACE = "dockyard-users"
ACCOUNT_PREFIX = "user-"
TOKEN_SECONDS = 3600
RENEW_BEFORE_SECONDS = 600  # ask for a new token when the one kept has less than this left


def account_name(user_id: int | str) -> str:
    return f"{ACCOUNT_PREFIX}{user_id}"


def username(user_id: int | str) -> str:
    """The user name the API server authenticates the user's requests as (what audit logs show)."""
    return f"system:serviceaccount:{USERS_NAMESPACE}:{account_name(user_id)}"


def subject(user_id: int | str) -> dict[str, str]:
    """The RBAC subject that grants a role to the user."""
    return {"kind": "ServiceAccount", "name": account_name(user_id), "namespace": USERS_NAMESPACE}


def service_account(user_id: int | str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": account_name(user_id), "namespace": USERS_NAMESPACE,
                         "labels": {"app.kubernetes.io/managed-by": "dockyard"}},
            "automountServiceAccountToken": False}


# (method, path, body) -> the decoded answer, as the console; supplied by the gateway.
Request = Callable[[str, str, dict[str, Any] | None], Awaitable[dict[str, Any]]]


class UserTokens:
    """The tokens kept for users' ServiceAccounts, per process (a cache: any process can ask anew)."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._kept: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def token(self, user_id: str) -> str:
        kept = self._kept.get(user_id)
        if kept and kept[1] - time.monotonic() > RENEW_BEFORE_SECONDS:
            return kept[0]
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            kept = self._kept.get(user_id)
            if kept and kept[1] - time.monotonic() > RENEW_BEFORE_SECONDS:
                return kept[0]
            token = await self._new_token(user_id)
            self._kept[user_id] = (token, time.monotonic() + TOKEN_SECONDS)
            return token

    def forget(self, user_id: str) -> None:
        self._kept.pop(user_id, None)

    async def _new_token(self, user_id: str) -> str:
        path = f"/api/v1/namespaces/{USERS_NAMESPACE}/serviceaccounts/{account_name(user_id)}/token"
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": TOKEN_SECONDS}}
        try:
            answer = await self._request("POST", path, body)
        except KubeError as e:
            if not e.not_found:
                raise
            await self.ensure_account(user_id)
            answer = await self._request("POST", path, body)
        token = (answer.get("status") or {}).get("token")
        if not isinstance(token, str) or not token:
            raise KubeError(0, "Unreadable", "The API server answered the token request without a token.")
        return token

    async def ensure_account(self, user_id: str) -> None:
        try:
            await self._request("POST", f"/api/v1/namespaces/{USERS_NAMESPACE}/serviceaccounts",
                                service_account(user_id))
        except KubeError as e:
            if not e.conflict:
                raise

    async def remove_account(self, user_id: str) -> None:
        self.forget(user_id)
        try:
            await self._request("DELETE", f"/api/v1/namespaces/{USERS_NAMESPACE}/serviceaccounts/"
                                          f"{account_name(user_id)}", None)
        except KubeError as e:
            if not e.not_found:
                raise


__all__ = ["USERS_NAMESPACE", "UserTokens", "account_name", "service_account", "subject", "username"]
