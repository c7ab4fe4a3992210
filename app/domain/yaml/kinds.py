"""What the YAML gate lets a project member create, and the fields only the API server writes."""

from __future__ import annotations

# The apiVersion the console accepts for each kind it knows how to create or edit.
KIND_API_VERSIONS: dict[str, str] = {
    "Service": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "PersistentVolumeClaim": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
}

# What a project member may create from YAML: a Service, the workloads behind it, and the namespaced
# objects those workloads use (configuration, credentials, storage claims). All are namespaced and
# within what the cluster's `edit` role allows; nothing here grants permissions or reaches outside the
# project (no RBAC, no ServiceAccounts or their tokens, no cluster-scoped kinds).
CREATABLE_KINDS: frozenset[str] = frozenset(
    {"Service", "Deployment", "StatefulSet", "ConfigMap", "Secret", "PersistentVolumeClaim"}
)

_RBAC_KINDS = frozenset({"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})
_RBAC_GROUP = "rbac.authorization.k8s.io"
_CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
        "StorageClass",
        "SubjectAccessReview",
        "TokenReview",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)
_SA_TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"

# Written by the API server; meaningless or harmful in a body we send.
_SERVER_METADATA_FIELDS = (
    "uid",
    "resourceVersion",
    "managedFields",
    "creationTimestamp",
    "selfLink",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
)
