"""P2, create: a stateless Service (a Deployment and its Service) through the console, against the same
raw calls, and against `kubectl apply -f` of the same two manifests; alternated, deleted in between.

* console: the wizard's Create (the final POST from Review: validation, the unknown-fields check, a
  dry-run of both objects together, then the Deployment and the Service, and the audit record), timed
  as server time; the wizard is driven to Review before, untimed. Without the wizard, Edit by YAML's
  create (`POST /services/-/new/yaml`, action=create) is used instead.
* raw: the same calls with the same kind of gateway as the same user: both dry-runs together, then
  create the Deployment, then the Service.
* kubectl: `kubectl --kubeconfig .dockyard/cluster/admin.kubeconfig apply -f <file>` (the admin
  identity, not impersonated), wall time of the process, as a user experiences it.

Targets: console / raw <= 1.2; kubectl / console >= 5.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from functools import partial
from pathlib import Path
from typing import Any

from app.domain.wizard import Draft
from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from bench import manifests
from bench.common import (
    BENCH_DIR,
    Bench,
    Figure,
    Stats,
    actor_of,
    env_int,
    log,
    ms,
    ratio_figure,
)
from bench.forms import encode, with_values
from bench.wizard_flow import Wizard, drive_to_review, wizard_available
from devcluster.localcluster import kubectl

KUBECTL = kubectl()  # the cluster release's own (devcluster builds it)


async def raw_create(raw: KubeGateway, objects: list[dict[str, Any]], namespace: str, actor: Any) -> None:
    """What the console's create does, call for call: dry-run all together, then create in order."""
    await asyncio.gather(*(raw.create(o, namespace=namespace, actor=actor, dry_run=True) for o in objects))
    for obj in sorted(objects, key=lambda o: 1 if o["kind"] == "Service" else 0):
        await raw.create(obj, namespace=namespace, actor=actor)


async def kubectl_apply(kubeconfig: Path, path: Path) -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(kubeconfig),
        "apply",
        "-f",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    elapsed = ms(time.perf_counter() - started)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl apply failed ({proc.returncode}): {err.decode()[:500]}")
    return elapsed


async def delete_stateless(admin: KubeGateway, namespace: str, name: str) -> None:
    for kind, obj in (("Service", name), ("Deployment", f"{name}-v1")):
        with contextlib.suppress(KubeError):
            await admin.delete(kind, namespace, obj, actor=CONSOLE, propagation="Background")


async def run(bench: Bench) -> list[Figure]:
    iterations = env_int("BENCH_P2_ITERATIONS", 20)
    t = await bench.tenancy(operators=1)
    user = t.users[0]
    actor = actor_of(user)
    ns = t.namespace
    browser = await bench.browser(user)
    wizard_url = f"{t.base}/services/-/new/stateless"
    use_wizard = await wizard_available(browser, wizard_url)
    how = "the wizard's Create" if use_wizard else "Edit by YAML's create"
    log(f"P2: {iterations} creations each way in {ns}, console through {how}")
    files = BENCH_DIR / "p2"
    files.mkdir(parents=True, exist_ok=True)

    async def objects_for(name: str) -> list[dict[str, Any]]:
        """The two manifests the wizard makes for `name` (driven to Review), else the bench's own."""
        if use_wizard:
            w = Wizard(browser, wizard_url)
            await drive_to_review(w, name)
            return Draft.from_token(w.draft_token()).objects(namespace=ns, creator=user.username)
        return manifests.stateless(name, ns)

    async def console_create(name: str) -> float:
        if use_wizard:
            w = Wizard(browser, wizard_url)
            await drive_to_review(w, name)
            body, ctype = encode(with_values(w.fields, {"action": "create"}), w.multipart)
            return await bench.served(
                browser.client.post(
                    wizard_url,
                    content=body,
                    headers={"Content-Type": ctype, "X-CSRF-Token": browser.csrf, "HX-Request": "true"},
                ),
                204,
                303,
            )
        text = manifests.as_yaml(manifests.stateless(name, ns))
        return await bench.served(
            browser.post(
                f"{t.base}/services/-/new/yaml",
                data={"action": "create", "text": text, "submission": secrets.token_urlsafe(12)},
            ),
            303,
        )

    console: list[float] = []
    raw: list[float] = []
    kubectl: list[float] = []
    warmup = 2
    try:
        for i in range(warmup + iterations):
            names = {"console": f"p2c-{i:03d}", "raw": f"p2r-{i:03d}", "kubectl": f"p2k-{i:03d}"}
            raw_objects = await objects_for(names["raw"])
            kubectl_objects = await objects_for(names["kubectl"])
            path = files / f"{names['kubectl']}.yaml"
            path.write_text(manifests.as_yaml(kubectl_objects))

            async def do_raw(objects: list[dict[str, Any]]) -> float:
                started = time.perf_counter()
                await raw_create(bench.raw, objects, ns, actor)
                return ms(time.perf_counter() - started)

            runs = [
                ("console", partial(console_create, names["console"]), console),
                ("raw", partial(do_raw, raw_objects), raw),
                ("kubectl", partial(kubectl_apply, bench.cluster.admin_kubeconfig, path), kubectl),
            ]
            shift = i % 3
            for _label, fn, sink in runs[shift:] + runs[:shift]:
                value = await fn()
                if i >= warmup:
                    sink.append(value)
            await asyncio.gather(*(delete_stateless(bench.admin, ns, n) for n in names.values()))
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    finally:
        await browser.aclose()
    c, r, k = Stats.of(console), Stats.of(raw), Stats.of(kubectl)
    figures = [ratio_figure("P2", f"Create stateless Service ({how}) / raw dry-run + create", c, r, 1.2)]
    speedup = k.median / c.median if c.median else float("nan")
    figures.append(
        Figure(
            "P2",
            "kubectl apply -f / console create (speed-up)",
            speedup,
            "x",
            ">= 5",
            speedup >= 5,
            f"kubectl median {k.median:.0f} ms (p90 {k.p90:.0f}), console median {c.median:.1f} ms, n={k.n}",
        )
    )
    for f in figures:
        log(f"P2 {f.name}: {f.value_text()} ({f.detail})")
    return figures
