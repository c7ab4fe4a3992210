"""The layers point one way: routes -> domain -> models and kube; only `app/kube` talks to the Kubernetes
client; the development cluster, the benchmarks and the tests are never imported by the console."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules() -> dict[str, set[str]]:
    return {str(p.relative_to(APP.parent)): _imports(p) for p in sorted(APP.rglob("*.py"))}


def _offending(rule: str, files: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{rule}: {path} imports {name}"
            for path, names in _modules().items() if path.startswith(files)
            for name in sorted(names) if name.split(".")[0] in forbidden or name.startswith(forbidden)]


def test_only_the_kube_package_imports_the_kubernetes_client() -> None:
    assert [p for p in _offending("client", "app/", ("kubernetes_asyncio",)) if "app/kube/" not in p] == []


def test_the_console_never_imports_the_development_cluster_the_benchmarks_or_the_tests() -> None:
    assert _offending("outside", "app/", ("devcluster", "bench", "tests")) == []


def test_lower_layers_never_import_upper_ones() -> None:
    problems = (_offending("domain", "app/domain/", ("app.routes",))
                + _offending("kube", "app/kube/", ("app.routes", "app.domain"))
                + _offending("models", "app/models/", ("app.routes", "app.domain", "app.kube")))
    assert problems == []
