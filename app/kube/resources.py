"""Where each kind the console touches lives in the Kubernetes REST API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Pass as `namespace` to list or watch a namespaced kind across every namespace.
ALL_NAMESPACES: Final = "*"


@dataclass(frozen=True)
class Resource:
    kind: str
    api_version: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        """The API group ("" for the core group)."""
        return self.api_version.split("/")[0] if "/" in self.api_version else ""

    @property
    def base(self) -> str:
        return f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        parts = [self.base]
        if self.namespaced and namespace == ALL_NAMESPACES:
            if name is not None:
                raise ValueError(f"{self.kind}: a name needs one namespace, not all of them")
        elif self.namespaced:
            if namespace is None:
                raise ValueError(f"{self.kind} is namespaced: a namespace is required")
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name is not None:
            parts.append(name)
        if sub is not None:
            parts.append(sub)
        return "/".join(parts)


RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (
        Resource("Service", "v1", "services"),
        Resource("Endpoints", "v1", "endpoints"),
        Resource("EndpointSlice", "discovery.k8s.io/v1", "endpointslices"),
        Resource("Pod", "v1", "pods"),
        Resource("ConfigMap", "v1", "configmaps"),
        Resource("Secret", "v1", "secrets"),
        Resource("PersistentVolumeClaim", "v1", "persistentvolumeclaims"),
        Resource("PersistentVolume", "v1", "persistentvolumes", namespaced=False),
        Resource("ServiceAccount", "v1", "serviceaccounts"),
        Resource("Event", "v1", "events"),
        Resource("Namespace", "v1", "namespaces", namespaced=False),
        Resource("Node", "v1", "nodes", namespaced=False),
        Resource("Deployment", "apps/v1", "deployments"),
        Resource("StatefulSet", "apps/v1", "statefulsets"),
        Resource("DaemonSet", "apps/v1", "daemonsets"),
        Resource("ReplicaSet", "apps/v1", "replicasets"),
        Resource("Job", "batch/v1", "jobs"),
        Resource("Lease", "coordination.k8s.io/v1", "leases"),
        Resource("CustomResourceDefinition", "apiextensions.k8s.io/v1", "customresourcedefinitions",
                 namespaced=False),
        Resource("StorageClass", "storage.k8s.io/v1", "storageclasses", namespaced=False),
        Resource("Role", "rbac.authorization.k8s.io/v1", "roles"),
        Resource("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings"),
        Resource("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", namespaced=False),
        Resource("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "clusterrolebindings", namespaced=False),
        Resource("PodMetrics", "metrics.k8s.io/v1beta1", "pods"),
        Resource("NodeMetrics", "metrics.k8s.io/v1beta1", "nodes", namespaced=False),
        Resource("SelfSubjectAccessReview", "authorization.k8s.io/v1", "selfsubjectaccessreviews", namespaced=False),
        # The Gateway API (CRDs, standard channel; absent on many clusters: callers ask `served` first).
        Resource("GatewayClass", "gateway.networking.k8s.io/v1", "gatewayclasses", namespaced=False),
        Resource("Gateway", "gateway.networking.k8s.io/v1", "gateways"),
        Resource("HTTPRoute", "gateway.networking.k8s.io/v1", "httproutes"),
        Resource("ReferenceGrant", "gateway.networking.k8s.io/v1", "referencegrants"),
        Resource("ValidatingAdmissionPolicy", "admissionregistration.k8s.io/v1", "validatingadmissionpolicies",
                 namespaced=False),
        Resource("ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io/v1",
                 "validatingadmissionpolicybindings", namespaced=False),
    )
}


# KubeSphere's tenancy (CRDs, only on KubeSphere clusters; read by `dockyard import kubesphere`). 3.4 and 4.x
# serve the same kinds at different versions, and 4.x has a Role and RoleBinding of its own, so these are
# keyed "<Kind>.<apiVersion>" (`qualified`): the importer picks the version discovery says is served.
KUBESPHERE_KINDS: Final = tuple(
    Resource(kind, f"{group}/{version}", plural, namespaced=namespaced)
    for group, versions, kinds in (
        ("iam.kubesphere.io", ("v1beta1", "v1alpha2"), (
            ("User", "users", False), ("GlobalRole", "globalroles", False),
            ("GlobalRoleBinding", "globalrolebindings", False), ("WorkspaceRole", "workspaceroles", False),
            ("WorkspaceRoleBinding", "workspacerolebindings", False), ("Group", "groups", False),
            ("GroupBinding", "groupbindings", False), ("Role", "roles", True),
            ("RoleBinding", "rolebindings", True))),
        ("tenant.kubesphere.io", ("v1beta1", "v1alpha2", "v1alpha1"), (
            ("WorkspaceTemplate", "workspacetemplates", False), ("Workspace", "workspaces", False))),
    )
    for version in versions
    for kind, plural, namespaced in kinds
)
RESOURCES.update({f"{r.kind}.{r.api_version}": r for r in KUBESPHERE_KINDS})


def qualified(kind: str, api_version: str) -> str:
    """The RESOURCES key of a kind registered at several versions (KUBESPHERE_KINDS)."""
    return f"{kind}.{api_version}"


def resource_for(kind: str) -> Resource:
    try:
        return RESOURCES[kind]
    except KeyError:
        raise ValueError(f"unsupported kind {kind!r}") from None
