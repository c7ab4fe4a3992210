"""The development cluster: a real local control plane (etcd, kube-apiserver, kube-controller-manager on
loopback), the node simulator and its fake kubelet. For development, tests and benchmarks only: it ships
outside the console's wheel, and `app/` never imports it (`python -m devcluster up|down|status`)."""

# The Kubernetes release the development cluster runs (scripts/build-kubernetes.sh builds it).
K8S_VERSION = "1.37.2"

# The simulated nodes' InternalIPs (dockyard-node-1 is 127.0.0.2, -2 is 127.0.0.3, ...): each node has its
# own loopback address, so the API server (logs) and metrics-server (/metrics/resource) reach that node's
# kubelet endpoint and the fake kubelet knows which node is asked. The kubelet certificate covers MAX_NODES.
MAX_NODES = 16


def node_ip(index: int) -> str:
    """The InternalIP of the simulated node `index` (0-based)."""
    if not 0 <= index < MAX_NODES:
        raise ValueError(f"the node simulator runs at most {MAX_NODES} nodes")
    return f"127.0.0.{index + 2}"
