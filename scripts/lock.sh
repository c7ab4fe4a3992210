#!/usr/bin/env bash
# `make lock`: pin every dependency with its hashes, from pyproject.toml's ranges (themselves pinned).
# requirements/runtime.lock is what the image installs; requirements/dev.lock is what `make` installs
# (runtime + test + the development cluster + bench). pip-tools runs from a throwaway venv.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/dockyard/pip-tools"
[ -x "$TOOLS/bin/pip-compile" ] || { python3 -m venv "$TOOLS" && "$TOOLS/bin/pip" install -q pip-tools==7.7.0; }
COMPILE=("$TOOLS/bin/pip-compile" -q --generate-hashes --strip-extras --allow-unsafe --resolver=backtracking)
"${COMPILE[@]}" -o requirements/runtime.lock pyproject.toml
"${COMPILE[@]}" --extra test --extra cluster --extra bench -o requirements/dev.lock pyproject.toml
echo "locked: requirements/runtime.lock, requirements/dev.lock"
