"""Unknown fields (issue 16): a server with strict field validation (1.27+) is asked to refuse them in the
dry run, and its answer becomes one problem per field at its path; a server without it keeps the
console's /openapi/v2 check (the fields it would silently drop, to confirm)."""

from __future__ import annotations

from typing import Any

from app.domain import creation
from app.domain.pod_security import Level
from app.kube.errors import KubeError
from tests.unit.test_schema_check import SPEC

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selectr": {"app": "web"}, "ports": [{"port": 80, "targetPrt": 80}]}}


class Server:
    """Answers as an API server of `minor` would, for what the dry run and the schema check ask."""

    def __init__(self, minor: str) -> None:
        self.minor, self.creates = minor, []

    async def version(self) -> dict[str, Any]:
        return {"major": "1", "minor": self.minor, "gitVersion": f"v1.{self.minor}.0"}

    async def openapi_v2(self) -> dict[str, Any]:
        return SPEC

    async def create(self, obj: dict[str, Any], **kw: Any) -> dict[str, Any]:
        self.creates.append(kw)
        if kw.get("field_validation") == "Strict":
            raise KubeError(400, "BadRequest", 'Service in version "v1" cannot be handled as a Service: strict '
                            'decoding error: unknown field "spec.ports[0].targetPrt", unknown field "spec.selectr"')
        return obj


async def test_a_strict_server_refuses_each_unknown_field_at_its_path() -> None:
    server = Server("37")
    problems = await creation.dry_run_all(server, actor=None, namespace="p", objects=[SERVICE],  # type: ignore[arg-type]
                                          pod_security=Level.BASELINE)
    assert server.creates[0]["dry_run"] is True and server.creates[0]["field_validation"] == "Strict"
    assert [(p.field, p.message) for p in problems] == [
        ("spec.ports[0].targetPrt", "Unknown field: the API server does not know it."),
        ("spec.selectr", "Unknown field: the API server does not know it.")]
    assert await creation.dropped_fields(server, [SERVICE]) == []  # type: ignore[arg-type]  # the server does it


async def test_an_older_server_gets_the_schema_check_instead() -> None:
    server = Server("26")
    problems = await creation.dry_run_all(server, actor=None, namespace="p", objects=[SERVICE],  # type: ignore[arg-type]
                                          pod_security=Level.BASELINE)
    assert problems == [] and server.creates[0]["field_validation"] is None  # it would drop them silently
    dropped = await creation.dropped_fields(server, [SERVICE])  # type: ignore[arg-type]
    assert {p.field for p in dropped} == {"spec.ports[0].targetPrt", "spec.selectr"}
