"""`dockyard import kubesphere` on a cluster without KubeSphere, or one it cannot reach: a non-zero exit
and one line saying which (tests/kube/test_kubesphere_import.py removes its CRDs when it is done)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from app import cli
from app.settings import get_settings


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, database_url: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOCKYARD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("cluster:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_a_cluster_without_kubesphere(runner: CliRunner, cluster: Any) -> None:
    result = runner.invoke(cli.main, ["import", "kubesphere", "--kubeconfig", str(cluster.admin_kubeconfig)])
    assert result.exit_code == 1
    assert "no KubeSphere" in _one_line_error(result.output)


def test_a_cluster_that_does_not_answer(runner: CliRunner, cluster: Any, tmp_path: Path) -> None:
    config = yaml.safe_load(Path(cluster.admin_kubeconfig).read_text())
    for c in config["clusters"]:
        c["cluster"]["server"] = "https://127.0.0.1:1"
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(yaml.safe_dump(config))
    result = runner.invoke(cli.main, ["import", "kubesphere", "--apply", "--kubeconfig", str(dead)])
    assert result.exit_code == 1
    assert "did not answer" in _one_line_error(result.output)


def test_a_kubeconfig_that_is_not_there(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli.main, ["import", "kubesphere", "--kubeconfig", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "cannot use the kubeconfig" in _one_line_error(result.output)
