"""Valid everywhere (issue 16): every YAML the console writes for download (the wizard's Edit Mode, a
Service's Edit YAML) is accepted by `kubectl apply --dry-run=server --validate=strict` on the 1.37 control
plane, as the operator who downloaded it (impersonated). Edit by YAML's download is the user's own text."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.kube.client import KubeGateway
from devcluster import localcluster
from tests.conftest import DemoProject, Tenants
from tests.web.services_fixtures import create, stateless
from tests.web.test_wizard_pages import Wizard, stateless_basics, stateless_url


def server_dry_run(cluster, demo: DemoProject, text: str, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    out = subprocess.run([localcluster.kubectl(), f"--kubeconfig={cluster.admin_kubeconfig}",
                          f"--as=system:serviceaccount:dockyard-users:user-{demo.operator.uid}",
                          "apply", "--dry-run=server", "--validate=strict", "-n", demo.namespace, "-f", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"{name}: {out.stdout}{out.stderr}\n{text}"


async def test_every_download_is_applied_by_kubectl_on_the_server(
        cluster, demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the wizard's Edit Mode
    w = await Wizard(await tenants.browser(demo.operator), stateless_url(demo)).open()
    await stateless_basics(w, "dl-wizard")
    await w.press("edit-mode-on")
    resp = await w.browser.post(w.url, w.form.data("download"))
    assert resp.status_code == 200
    server_dry_run(cluster, demo, resp.text, tmp_path, "wizard")
    # a Service's Edit YAML
    await create(admin_kube, demo.namespace, *stateless("dl-svc"))
    b = await tenants.browser(demo.operator)
    resp = await b.get(f"{demo.base}/services/dl-svc/yaml/download")
    assert resp.status_code == 200
    server_dry_run(cluster, demo, resp.text, tmp_path, "edit-yaml")
