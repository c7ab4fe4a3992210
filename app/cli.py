"""The `dockyard` command: serve, users, demo seed, db upgrade, import kubesphere, and the local control plane."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

from app.settings import get_settings


@click.group()
def main() -> None:
    """Dockyard, a web console for Kubernetes Services."""


def _read_password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


async def _with_session(fn):  # type: ignore[no-untyped-def]
    from app.db import new_engine, new_sessionmaker

    engine = new_engine(get_settings().database_url)
    try:
        async with new_sessionmaker(engine)() as session:
            return await fn(session)
    finally:
        await engine.dispose()


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (alembic upgrade head)."""
    from app.db import upgrade

    upgrade(get_settings().database_url)
    click.echo("database is up to date")


@main.group()
def users() -> None:
    """Platform accounts."""


@users.command("create")
@click.argument("name")
@click.option("--platform-role", default="platform-regular",
              type=click.Choice(["platform-admin", "platform-regular", "platform-self-provisioner"]))
@click.option("--email", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def users_create(name: str, platform_role: str, email: str | None, password_stdin: bool) -> None:
    """Create a user."""
    from app.domain import users as users_domain
    from app.domain.errors import Invalid
    from app.domain.passwords import use_fast_hashing

    use_fast_hashing(get_settings().fast_password_hashing)
    password = _read_password(password_stdin)

    async def run(session):  # type: ignore[no-untyped-def]
        return await users_domain.create_user(session, username=name, email=email or f"{name}@dockyard.local",
                                              password=password, platform_role=platform_role)
    try:
        asyncio.run(_with_session(run))
    except Invalid as e:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in e.errors.items()) or e.message) from None
    click.echo(f"created user {name} ({platform_role})")


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True)
def users_set_password(name: str, password_stdin: bool) -> None:
    """Set a user's password (their sessions end)."""
    from app.domain import users as users_domain
    from app.domain.errors import DomainError

    password = _read_password(password_stdin)

    async def run(session):  # type: ignore[no-untyped-def]
        user = await users_domain.get_user(session, name)
        await users_domain.set_password(session, user, password)
    try:
        asyncio.run(_with_session(run))
    except DomainError as e:
        raise click.ClickException(e.message) from None
    click.echo(f"password of {name} changed")


@main.group()
def demo() -> None:
    """The docs' example tenants."""


async def _seed(kubeconfig: str | None, password: str | None,
                created: dict[str, str] | None = None) -> dict[str, str]:
    from app.domain import demo as demo_domain
    from app.kube.config import new_gateway

    settings = get_settings()
    kube = await new_gateway(kubeconfig, settings.context, timeout=settings.kube_timeout_seconds)
    try:
        return await _with_session(lambda s: demo_domain.seed(s, kube, password=password, created=created))
    finally:
        await kube.close()


def _print_passwords(created: dict[str, str]) -> None:
    if not created:
        return
    click.echo("\nDemo accounts (shown once; change them on the Users page):")
    for name, pw in created.items():
        click.echo(f"  {name:<16} {pw}")
    click.echo()


@demo.command("seed")
def demo_seed() -> None:
    """Create admin, ws-admin, project-admin and project-regular, demo-workspace and demo-project."""
    settings = get_settings()
    if settings.production:
        raise click.ClickException("demo accounts are never seeded in production")
    kubeconfig = resolve_cluster()
    _print_passwords(asyncio.run(_seed(kubeconfig, os.environ.get("DOCKYARD_DEMO_PASSWORD"))))


@main.group("pod-security")
def pod_security() -> None:
    """The projects' Pod Security levels."""


async def _pod_security_report(kubeconfig: str | None, level: str | None) -> list[str]:
    from sqlalchemy import select

    from app.domain import project_security
    from app.kube.client import CONSOLE
    from app.kube.config import new_gateway
    from app.models import Project

    settings = get_settings()
    kube = await new_gateway(kubeconfig, settings.context, timeout=settings.kube_timeout_seconds)

    async def run(session):  # type: ignore[no-untyped-def]
        lines = []
        for project in await session.scalars(select(Project).order_by(Project.name)):
            judged = project_security.parse_level(level) if level else project_security.level_of(project)
            found = await project_security.report(kube, project.name, judged, actor=CONSOLE)
            lines.append(f"{project.name} ({judged.value}): " + (f"{len(found)} workload(s) do not meet it"
                                                                 if found else "every workload meets it"))
            for f in found:
                lines.extend(f"  {f.kind} {f.name}: {v.control}: {v.message}" for v in f.violations)
        return lines
    try:
        return await _with_session(run)
    finally:
        await kube.close()


@pod_security.command("report")
@click.option("--level", type=click.Choice(["privileged", "baseline", "restricted"]), default=None,
              help="Judge every project at this level instead of its own (e.g. before tightening).")
def pod_security_report(level: str | None) -> None:
    """List the workloads that do not meet their project's level (after the upgrade: baseline)."""
    from app.kube.errors import KubeError

    kubeconfig = resolve_cluster()
    try:
        lines = asyncio.run(_pod_security_report(kubeconfig, level))
    except KubeError as e:
        raise click.ClickException(f"the cluster did not answer: {e}") from None
    click.echo("\n".join(lines) or "no projects")


@main.group("import")
def import_() -> None:
    """Move tenancy from another console into Dockyard."""


async def _import_kubesphere(kubeconfig: str | None, apply: bool) -> list[str]:
    from app.db import new_engine, new_sessionmaker
    from app.domain import audit, kubesphere_import
    from app.domain.kubesphere_import import text
    from app.kube.config import new_gateway

    settings = get_settings()
    try:
        kube = await new_gateway(kubeconfig, settings.context, timeout=settings.kube_timeout_seconds)
    except Exception as e:  # an unreadable or wrong kubeconfig: one line, not a traceback
        raise click.ClickException(f"cannot use the kubeconfig {kubeconfig or '(in-cluster)'}: {e}") from None
    engine = new_engine(settings.database_url)
    sessionmaker = new_sessionmaker(engine)
    try:
        objects = await kubesphere_import.read(kube)
        async with sessionmaker() as session:
            if not apply:
                plan = await kubesphere_import.preview(session, objects)
                return [*text.report(plan), "", "Dry run: nothing was changed. Run again with --apply to import."]
            try:
                result = await kubesphere_import.run(session, kube, objects)
            except Exception as e:
                await audit.record(sessionmaker, kubesphere_import.audit_entry(None, username="cli", error=str(e)))
                raise
        await audit.record(sessionmaker, kubesphere_import.audit_entry(result, username="cli"))
        return text.result(result)
    finally:
        await kube.close()
        await engine.dispose()


@import_.command("kubesphere")
@click.option("--apply", "apply", is_flag=True, help="Create what the dry run lists (without it: the dry run only).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="The KubeSphere cluster (default: the console's cluster, as `dockyard serve` finds it).")
def import_kubesphere(apply: bool, kubeconfig: str | None) -> None:
    """Read a cluster's KubeSphere tenancy (users, workspaces, projects, members) and show what would be
    created in Dockyard, what is already there and what does not map; --apply creates it. Re-running
    creates nothing new."""
    from app.domain.errors import DomainError

    if kubeconfig is None:
        kubeconfig = resolve_cluster()
    try:
        lines = asyncio.run(_import_kubesphere(kubeconfig, apply))
    except DomainError as e:
        raise click.ClickException(e.message) from None
    click.echo("\n".join(lines))


def resolve_cluster() -> str | None:
    """The kubeconfig to use: DOCKYARD_KUBECONFIG, KUBECONFIG or ~/.kube/config, else in-cluster (None).
    The local control plane for development is started outside the console (`make run`, `python -m
    devcluster up`), which then names its kubeconfig in DOCKYARD_KUBECONFIG."""
    from app.kube.config import discover_kubeconfig, in_cluster_available

    settings = get_settings()
    found = discover_kubeconfig(settings.kubeconfig)
    if found:
        click.echo(f"cluster: kubeconfig {found}" + (f" (context {settings.context})" if settings.context else ""))
        return found
    if in_cluster_available():
        click.echo("cluster: in-cluster service account")
        return None
    raise click.ClickException("no cluster configured: set DOCKYARD_KUBECONFIG or KUBECONFIG "
                               "(`make run` starts the local control plane when neither is set)")


def _bootstrap_admin(folder: Path) -> None:
    """The first platform admin from a bootstrap Secret's files; nothing when one exists. Never logs the
    password; a bad file or value stops the start with one line saying which."""
    from app.domain import users as users_domain
    from app.domain.errors import Invalid

    try:
        username = (folder / "username").read_text().strip()
        password = (folder / "password").read_text().rstrip("\n")
    except OSError as e:
        raise click.ClickException(f"bootstrap admin: cannot read {folder}/username and password ({e.strerror})") from None
    try:
        made = asyncio.run(_with_session(lambda s: users_domain.bootstrap_admin(s, username=username,
                                                                                password=password)))
    except Invalid as e:
        raise click.ClickException(f"bootstrap admin: {e.message}") from None
    if made is not None:
        click.echo(f"platform admin {made.username} created from the bootstrap Secret")


GRACEFUL_SHUTDOWN_SECONDS = 20  # within Kubernetes' default 30 s termination grace period


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Console processes (default DOCKYARD_WORKERS, 1). More than one needs PostgreSQL.")
def serve(host: str, port: int, workers: int | None) -> None:
    """Migrate, seed whatever of the demo tenants is missing (not in production), and serve the console."""
    import uvicorn

    from app.db import upgrade
    from app.settings import WORKERS_NEED_POSTGRES

    settings = get_settings()
    workers = workers or settings.workers
    if workers > 1 and settings.embedded_database:
        raise click.ClickException(WORKERS_NEED_POSTGRES)
    upgrade(settings.database_url)
    if settings.bootstrap_admin_dir:
        _bootstrap_admin(Path(settings.bootstrap_admin_dir))
    kubeconfig = resolve_cluster()
    os.environ["DOCKYARD_KUBECONFIG"] = kubeconfig or ""
    get_settings.cache_clear()
    if not settings.production:
        # Whatever of the demo tenants is missing, at every start (not only on a new database: a first
        # start that failed after migrating must not leave a newcomer without a way in).
        created: dict[str, str] = {}
        try:
            asyncio.run(_seed(kubeconfig, os.environ.get("DOCKYARD_DEMO_PASSWORD"), created))
        except Exception as e:
            click.echo(f"warning: demo tenants not all seeded ({e}); the next start tries again", err=True)
        _print_passwords(created)
    click.echo(f"Dockyard on http://{host}:{port}" + (f" ({workers} processes)" if workers > 1 else ""))
    proxies = settings.trusted_proxies.strip()
    # The log is the console's own (app.asgi configures it in each worker): no uvicorn access log. On
    # SIGTERM uvicorn stops accepting, lets requests in flight finish and the event streams end (they
    # stop at shutdown: app.domain.live), for up to the grace period below.
    uvicorn.run("app.asgi:app", host=host, port=port, workers=workers, log_config=None, access_log=False,
                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)


if __name__ == "__main__":
    main()
