#!/usr/bin/env bash
# Stops the local control plane (`make cluster-down`). Uses the venv when there is one
# (`python -m devcluster down`); otherwise stops the processes recorded in state.json
# itself, checking each one still belongs to this cluster before signalling its process group.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${1:-.dockyard/cluster}"
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import devcluster.localcluster' 2>/dev/null; then
  exec .venv/bin/python -m devcluster down --root "$ROOT"
fi
STATE="$ROOT/state.json"
if [ ! -f "$STATE" ]; then echo "local cluster: not running"; exit 0; fi
ABS=$(cd "$ROOT" && pwd)
PIDS=$(python3 -c 'import json,sys; print(" ".join(str(p) for p in json.load(open(sys.argv[1])).get("pids", {}).values()))' "$STATE")
ours=()
for pid in $PIDS; do
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$ABS"; then ours+=("$pid"); fi
done
for pid in "${ours[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
for _ in $(seq 1 100); do
  alive=()
  for pid in "${ours[@]}"; do [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] && alive+=("$pid"); done
  [ ${#alive[@]} -eq 0 ] && break
  sleep 0.2
done
for pid in "${alive[@]:-}"; do [ -n "$pid" ] && { kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; }; done
rm -f "$STATE"
echo "local cluster: stopped"
