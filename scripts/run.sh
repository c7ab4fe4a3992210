#!/usr/bin/env bash
# `make run`: serve the console on the configured cluster (DOCKYARD_KUBECONFIG, else KUBECONFIG or
# ~/.kube/config, else the in-cluster service account); with none, start the local control plane first
# (`python -m devcluster up`, built once) and serve on its console kubeconfig, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
if [ -z "${DOCKYARD_KUBECONFIG:-}" ] && [ -z "${KUBECONFIG:-}" ] && [ ! -f "$HOME/.kube/config" ] \
   && { [ -z "${KUBERNETES_SERVICE_HOST:-}" ] || [ ! -f /var/run/secrets/kubernetes.io/serviceaccount/token ]; }; then
  echo "cluster: none configured, starting the local control plane (.dockyard/cluster)"
  "$BIN/python" -m devcluster up
  export DOCKYARD_KUBECONFIG="$PWD/.dockyard/cluster/console.kubeconfig"
fi
exec "$BIN/dockyard" serve "$@"
