"""kubeconfigs that keep working (issue 17): an exec plugin's short-lived token is asked for again before
it expires and at once after a 401, the paths of KUBECONFIG are merged as kubectl merges them, and a
credential that cannot be renewed is one clear error. Real API server; the plugin is a script that hands
out the console's token with a short `expirationTimestamp` and counts its runs."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.kube.client import CONSOLE
from app.kube.config import discover_kubeconfig, new_gateway
from app.kube.errors import KubeError

PLUGIN = '''
import datetime, json, os, sys
runs = os.path.join(os.environ["PLUGIN_DIR"], "runs")
n = int(open(runs).read()) + 1 if os.path.exists(runs) else 1
open(runs, "w").write(str(n))
if n in {int(x) for x in os.environ.get("PLUGIN_FAIL_AT", "").split(",") if x}:
    sys.exit("the identity provider did not answer")
token = "not-a-valid-token" if n in {int(x) for x in os.environ.get("PLUGIN_BAD_AT", "").split(",") if x} \\
    else os.environ["PLUGIN_TOKEN"]
ends = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=float(os.environ["PLUGIN_LIFETIME"]))
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": token, "expirationTimestamp": ends.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
'''


def kubeconfig_files(cluster: Any, tmp: Path, **env: str) -> tuple[Path, Path]:
    """The cluster and context in one file, the exec user in another (merged through KUBECONFIG)."""
    console = yaml.safe_load(cluster.console_kubeconfig.read_text())
    (tmp / "plugin.py").write_text(PLUGIN)
    token = console["users"][0]["user"]["token"]
    plugin_env = {"PLUGIN_DIR": str(tmp), "PLUGIN_TOKEN": token, "PLUGIN_LIFETIME": "8", **env}
    first, second = tmp / "clusters.yaml", tmp / "users.yaml"
    first.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": console["clusters"],
        "contexts": [{"name": "exec", "context": {"cluster": console["clusters"][0]["name"], "user": "exec-user"}}],
        "current-context": "exec"}))
    second.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "users": [{"name": "exec-user", "user": {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                 "args": [str(tmp / "plugin.py")], "interactiveMode": "Never",
                 "env": [{"name": k, "value": v} for k, v in plugin_env.items()]}}}]}))
    return first, second


def runs(tmp: Path) -> int:
    path = tmp / "runs"
    return int(path.read_text()) if path.exists() else 0


async def test_short_lived_exec_tokens_are_renewed_before_they_expire(
        cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    first, second = kubeconfig_files(cluster, tmp_path)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(tmp_path / "missing.yaml"), str(second)]))
    found = discover_kubeconfig(None)
    assert found == os.pathsep.join([str(first), str(second)])  # every existing path, merged
    kube = await new_gateway(found)
    try:
        started, calls = time.monotonic(), 0
        # Four lifetimes of an 8 s token, a request every half second: each one answered.
        while time.monotonic() - started < 34:
            assert (await kube.version())["gitVersion"].startswith("v1.")
            await kube.items("Namespace", None, actor=CONSOLE)
            calls += 2
            await asyncio.sleep(0.5)
        # asked again before each expiry (about every 4 s), never once a request
        assert 5 <= runs(tmp_path) <= 12, runs(tmp_path)
        assert calls > 4 * runs(tmp_path)
    finally:
        await kube.close()


async def test_a_token_refused_with_401_is_renewed_at_once(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the plugin's second token is not valid (revoked early): the 401 brings a third, and the call succeeds
    first, second = kubeconfig_files(cluster, tmp_path, PLUGIN_BAD_AT="1", PLUGIN_LIFETIME="3600")
    kube = await new_gateway(os.pathsep.join([str(first), str(second)]))
    try:
        assert runs(tmp_path) == 1
        assert (await kube.items("Namespace", None, actor=CONSOLE))
        assert runs(tmp_path) == 2
    finally:
        await kube.close()


async def test_a_credential_that_cannot_be_renewed_is_one_clear_error(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = kubeconfig_files(cluster, tmp_path, PLUGIN_FAIL_AT="2,3,4,5,6,7,8,9", PLUGIN_LIFETIME="2")
    kube = await new_gateway(os.pathsep.join([str(first), str(second)]))
    try:
        assert (await kube.version())["gitVersion"]  # the first token is still good
        await asyncio.sleep(2.5)  # ... and now it has expired, and the plugin fails
        with pytest.raises(KubeError) as failed:
            await kube.version()
        assert failed.value.status == 401
        assert "credentials for the cluster expired and could not be renewed" in failed.value.message
    finally:
        await kube.close()
