#!/usr/bin/env bash
# Rebuild static/js/yaml-editor.js (the YAML editor: CodeMirror 6, committed so the console needs no node
# at run time) from scripts/editor/yaml-editor.mjs and the npm packages pinned in package-lock.json.
# Usage: scripts/build-editor.sh [OUTFILE]. Installs the pinned packages first (npm ci) if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null; then
  echo "build-editor: node is not installed (apt-get install nodejs npm)" >&2; exit 1
fi
if [[ ! -x node_modules/.bin/esbuild || ! -d node_modules/@codemirror/lang-yaml ]]; then
  echo "build-editor: installing the pinned npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error || { echo "build-editor: npm ci failed" >&2; exit 1; }
fi
node scripts/editor/build.mjs "$@" || { echo "build-editor: the bundle did not build" >&2; exit 1; }
