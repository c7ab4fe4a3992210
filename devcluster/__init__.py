"""The development cluster: a real local control plane (etcd, kube-apiserver, kube-controller-manager on
loopback), the node simulator and its fake kubelet. For development, tests and benchmarks only: it ships
outside the console's wheel, and `app/` never imports it (`python -m devcluster up|down|status`)."""

# The Kubernetes release the development cluster runs (scripts/build-kubernetes.sh builds it).
K8S_VERSION = "1.37.2"
