"""Dockyard's settings, read from the environment with the `DOCKYARD_` prefix (and `.env`).

Precedence: environment, then `.env`, then the defaults below, which are the embedded development
defaults (SQLite in `.dockyard/`, the cluster from a kubeconfig or the local control plane).
Production (`DOCKYARD_ENV=production`) refuses default secrets and never seeds demo accounts.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where the templates, static files and migrations are: the source tree, or DOCKYARD_ROOT where the
# image puts them beside the installed wheel.
ROOT = Path(os.environ.get("DOCKYARD_ROOT") or Path(__file__).resolve().parent.parent)
STATE_DIR = ROOT / ".dockyard"
DEFAULT_SECRET = "dockyard-development-secret-change-me"
WORKERS_NEED_POSTGRES = ("several console processes need PostgreSQL (set DOCKYARD_DATABASE_URL); "
                         "SQLite is the single-process default")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCKYARD_", env_file=ROOT / ".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = f"sqlite+aiosqlite:///{STATE_DIR / 'dockyard.db'}"
    kubeconfig: str | None = None
    context: str | None = None
    session_secret: SecretStr = SecretStr(DEFAULT_SECRET)
    session_idle_minutes: int = 120
    session_absolute_hours: int = 12
    # Behind HTTPS the session cookie is marked Secure (and named __Host-...).
    secure_cookies: bool = False
    kube_timeout_seconds: float = 10.0
    # All the cluster calls of one page together (app.kube.breaker.page_deadline); streams are exempt.
    page_deadline_seconds: float = 15.0
    # Serve the pages' reads from watches (app.kube.cache); each user's read is still authorized by
    # the cluster (an access review as that user, kept `access_review_seconds`; any RBAC change drops
    # them at once, so the expiry only bounds what the watches could miss). At 10 s, 100 users cost the
    # API server 50 reviews a second (bench P7).
    watch_cache: bool = True
    watch_cache_idle_seconds: int = 300
    access_review_seconds: int = 300
    login_max_failures: int = 5
    login_window_seconds: int = 300
    reconcile_interval_seconds: int = 60
    # Console processes `dockyard serve` starts (uvicorn workers). More than one needs PostgreSQL: they
    # share sessions, the submission guard and the sign-in throttle through it, and hear each other's
    # tenancy changes by NOTIFY. SQLite is the single-process default.
    workers: int = 1
    # Requests one session (or, signed out, one address) may have in flight at once; past it, 429.
    session_concurrency: int = 8
    # Cheaper argon2 parameters for the test suite only.
    fast_password_hashing: bool = False
    log_json: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # /metrics answers a scraper that sends this bearer token; unset, there is no /metrics (404).
    metrics_token: SecretStr | None = None
    # Addresses of the reverse proxies (comma-separated IPs or networks, or "*") whose X-Forwarded-For
    # and X-Forwarded-Proto are believed: the client address then comes from them (the sign-in throttle
    # counts per address). Empty: the headers are ignored.
    trusted_proxies: str = ""
    # A folder with the files `username` and `password` (a mounted Secret): the first platform admin,
    # made at start while the platform has none (the Helm chart's bootstrapAdmin.existingSecret).
    bootstrap_admin_dir: str | None = None
    # Re-read templates edited on disk while the console runs (for working on them): every render then
    # checks each template file it uses, so it is off unless asked for.
    template_reload: bool = False
    # Single sign-on with OpenID Connect (app/domain/sso.py): on when an issuer is set. Local passwords stay
    # the default; the sign-in page adds "Sign in with <oidc_display_name>". Users are made on their first
    # sign-in (no password) and their platform role follows their groups at every sign-in.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr | None = None
    oidc_display_name: str = "single sign-on"
    oidc_scopes: str = "openid profile email groups"
    oidc_groups_claim: str = "groups"
    # Comma-separated group names: platform-admin, else platform-self-provisioner, else platform-regular.
    oidc_admin_groups: str = ""
    oidc_self_provisioner_groups: str = ""
    # An existing account with the same email is refused, unless this is on and the provider says the
    # email is verified: then that account is linked to the identity (and its role follows the groups).
    oidc_link_verified_email: bool = False
    # The callback the provider redirects to; default: /login/oidc/callback on the address the browser used.
    oidc_redirect_url: str = ""
    oidc_timeout_seconds: float = 10.0

    @model_validator(mode="after")
    def _workers_need_a_shared_database(self) -> Settings:
        if self.workers < 1:
            raise ValueError("DOCKYARD_WORKERS must be at least 1")
        return self  # more than one on SQLite: refused by `dockyard serve`, with WORKERS_NEED_POSTGRES

    @model_validator(mode="after")
    def _oidc_needs_a_client(self) -> Settings:
        if self.oidc_issuer:
            if not self.oidc_issuer.startswith(("https://", "http://")):
                raise ValueError("DOCKYARD_OIDC_ISSUER must be an https:// URL")
            if self.production and not self.oidc_issuer.startswith("https://"):
                raise ValueError("DOCKYARD_OIDC_ISSUER must be an https:// URL in production")
            if not self.oidc_client_id:
                raise ValueError("DOCKYARD_OIDC_CLIENT_ID is needed with DOCKYARD_OIDC_ISSUER")
            if "openid" not in self.oidc_scopes.split():
                raise ValueError("DOCKYARD_OIDC_SCOPES must include openid")
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.env == "production":
            if self.session_secret.get_secret_value() == DEFAULT_SECRET or len(
                self.session_secret.get_secret_value()
            ) < 32:
                raise ValueError(
                    "DOCKYARD_SESSION_SECRET must be set to a random value of at least 32 characters "
                    "in production"
                )
            if self.fast_password_hashing:
                raise ValueError("DOCKYARD_FAST_PASSWORD_HASHING is for tests only")
        return self

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
