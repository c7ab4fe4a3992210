"""The YAML editor's bundle (static/js/yaml-editor.js) is committed, so the console runs without node: it
must be what scripts/build-editor.sh builds from the packages pinned in package-lock.json."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "static" / "js" / "yaml-editor.js"
NODE = shutil.which("node") or ""
BUILT_WITH = ROOT / "node_modules" / "esbuild"


def _pinned() -> dict[str, str]:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    wanted = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    return {name: lock["packages"][f"node_modules/{name}"]["version"] for name in wanted}


def test_the_editor_packages_are_pinned_exactly() -> None:
    wanted = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    assert all(v[0].isdigit() for v in wanted.values()), wanted  # no ^ or ~: the lock file decides nothing
    assert _pinned() == wanted


def test_the_committed_bundle_names_the_pinned_versions() -> None:
    head = BUNDLE.read_text(encoding="utf-8")[:2000]
    for name, version in _pinned().items():
        if name.startswith(("@codemirror/", "@lezer/")):
            assert f" *   {name} {version} (MIT)" in head, name


@pytest.mark.skipif(not NODE, reason="node is not installed")
def test_the_committed_bundle_is_valid_javascript() -> None:
    for script in (BUNDLE, ROOT / "static/js/combobox.js"):
        subprocess.run([NODE, "--check", str(script)], check=True, capture_output=True, timeout=60)


@pytest.mark.skipif(not NODE or not BUILT_WITH.exists(), reason="node or the npm packages (npm ci) are missing")
def test_the_committed_bundle_is_what_the_pinned_packages_build(tmp_path: Path) -> None:
    out = tmp_path / "yaml-editor.js"
    subprocess.run([NODE, str(ROOT / "scripts/editor/build.mjs"), str(out)], check=True, capture_output=True,
                   timeout=300, cwd=ROOT)
    assert out.read_bytes() == BUNDLE.read_bytes(), "static/js/yaml-editor.js is stale: run scripts/build-editor.sh"
