"""Which Service fields the cluster has: read once per gateway from its OpenAPI v3 document, so a form
offers today's fields (trafficDistribution, internalTrafficPolicy, ...) only where the API server knows
them, and an older cluster simply does not show them."""

from __future__ import annotations

import asyncio
import weakref

from app.kube.client import KubeGateway
from app.kube.errors import KubeError

SERVICE_SPEC = "io.k8s.api.core.v1.ServiceSpec"

_fields: weakref.WeakKeyDictionary[KubeGateway, frozenset[str]] = weakref.WeakKeyDictionary()
_lock = asyncio.Lock()


async def service_spec_fields(kube: KubeGateway) -> frozenset[str]:
    """The fields of a Service's `spec` the server's schema defines; empty when it cannot be read (no
    OpenAPI v3: before 1.27, or refused), so nothing optional is offered then."""
    if kube in _fields:
        return _fields[kube]
    async with _lock:
        if kube not in _fields:
            try:
                document = await kube.openapi_v3("api/v1")
            except KubeError as e:
                if e.not_found:  # no OpenAPI v3 at all (before 1.27): nothing to offer, and no asking again
                    _fields[kube] = frozenset()
                return frozenset()  # otherwise asked again next time: the server may be starting
            schemas = (document.get("components") or {}).get("schemas") or {}
            _fields[kube] = frozenset((schemas.get(SERVICE_SPEC) or {}).get("properties") or {})
    return _fields[kube]
