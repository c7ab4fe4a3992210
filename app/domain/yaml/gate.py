"""The YAML gate: documents to checked objects for one project, and the public entry points."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from app.domain.k8s.names import is_dns1035_label, is_dns1123_subdomain
from app.domain.manifests import plain_copy
from app.domain.service_rules import service_abuse
from app.domain.yaml.kinds import (
    _CLUSTER_SCOPED_KINDS,
    _RBAC_GROUP,
    _RBAC_KINDS,
    _SA_TOKEN_SECRET_TYPE,
    _SERVER_METADATA_FIELDS,
    CREATABLE_KINDS,
    KIND_API_VERSIONS,
)
from app.domain.yaml.locate import locate
from app.domain.yaml.problems import MAX_BYTES, MAX_DOCUMENTS, MAX_PROBLEMS, GateResult, Manifest, Problem
from app.domain.yaml.reader import Document, Path, ReadAborted, Reader, decode, format_path, port_problems
from app.i18n import _

# ---------------------------------------------------------------------------------------------------
# Public API


def parse_manifests(
    text: str | bytes,
    *,
    namespace: str,
    allowed_kinds: frozenset[str] = CREATABLE_KINDS,
    source: str = "",
    external_ips_allowed: bool = False,
) -> GateResult:
    """Read one text of YAML (or JSON) documents into Kubernetes objects for `namespace`.

    Each object must be a mapping with a string `apiVersion` and `kind` (an allowed kind at the
    apiVersion in KIND_API_VERSIONS) and a valid `metadata.name`. A missing (or empty) namespace becomes
    `namespace`; any other is refused. Server-managed fields are stripped as by
    `strip_server_fields(obj, for_create=False)`: creation paths also call it with `for_create=True`.
    Services may not point outside what a tenant may reach (`service_rules.service_abuse`), nor set
    externalIPs unless `external_ips_allowed` (the project's allowance, from its row).
    """
    return parse_many([(source, text)], namespace=namespace, allowed_kinds=allowed_kinds,
                      external_ips_allowed=external_ips_allowed)


def parse_many(
    files: Iterable[tuple[str, str | bytes]],
    *,
    namespace: str,
    allowed_kinds: frozenset[str] = CREATABLE_KINDS,
    external_ips_allowed: bool = False,
) -> GateResult:
    """Like `parse_manifests` for several uploaded files (several documents each), judged together:
    the size and document caps apply to all files at once, a kind+name may appear only once across
    them, and nothing is accepted if any file has a problem. Problems carry the file name."""
    unknown = allowed_kinds - KIND_API_VERSIONS.keys()
    if unknown:
        raise ValueError(f"no apiVersion known for kinds {sorted(unknown)}")
    gate = Gate(namespace=namespace, allowed_kinds=allowed_kinds, external_ips_allowed=external_ips_allowed)
    for source, data in files:
        gate.read(source, data)
    return gate.result()


def strip_server_fields(obj: dict[str, Any], *, for_create: bool) -> dict[str, Any]:
    """A deep copy of `obj` without the fields the API server owns: `status` and metadata's uid,
    resourceVersion, managedFields, creationTimestamp, selfLink, generation, deletionTimestamp,
    deletionGracePeriodSeconds and ownerReferences.

    With `for_create`, a Service also loses the addresses the cluster assigned to the original
    (`spec.clusterIP`, `spec.clusterIPs`) unless it is headless (`clusterIP: None` is kept): they
    cannot be reused by a new object. For an update (Edit YAML) they stay, as they are immutable; the
    caller adds the resourceVersion it read, as the optimistic-concurrency precondition.
    """
    copy: dict[str, Any] = plain_copy(obj)
    _strip_in_place(copy, for_create=for_create)
    return copy


# ---------------------------------------------------------------------------------------------------
# Documents -> checked objects


class Gate:
    def __init__(self, *, namespace: str, allowed_kinds: frozenset[str], external_ips_allowed: bool) -> None:
        self.namespace = namespace
        self.allowed_kinds = allowed_kinds
        self.external_ips_allowed = external_ips_allowed
        self.bytes_left = MAX_BYTES
        self.documents_left = MAX_DOCUMENTS
        self.problems: list[Problem] = []
        self.objects: list[Manifest] = []
        self.seen: dict[tuple[str, str], tuple[str, int]] = {}  # (kind, name) -> (source, document)
        self.full = False

    def add(self, problem: Problem) -> None:
        if self.full:
            raise ReadAborted
        self.problems.append(problem)
        if len(self.problems) >= MAX_PROBLEMS:
            self.full = True
            self.problems.append(
                Problem(
                    problem.source,
                    problem.document,
                    None,
                    None,
                    _("Stopped after {limit} problems; fix these first.").format(limit=MAX_PROBLEMS),
                )
            )
            raise ReadAborted

    def read(self, source: str, data: str | bytes) -> None:
        if self.full:
            return
        text, size, problem = decode(data, source, self.bytes_left)
        if problem is not None:
            self.problems.append(problem)
            return
        assert text is not None
        self.bytes_left -= size
        before = len(self.problems)
        self.text = text  # to find deep fields' lines (`locate`) for the problems of this text
        docs = Reader(self, source).read(text)
        found = False
        try:
            for doc in docs:
                if doc.empty:
                    continue
                found = True
                if not doc.broken:
                    self.check(source, doc)
        except ReadAborted:
            return
        if not found and len(self.problems) == before:
            self.problems.append(
                Problem(source, 0, None, None, _("No objects found: the YAML is empty or only comments."))
            )

    def result(self) -> GateResult:
        if self.problems:
            return GateResult(objects=[], problems=self.problems)
        return GateResult(objects=self.objects, problems=[])

    # -- one document

    def check(self, source: str, doc: Document) -> None:
        """The object rules for one well-formed document; accept it if they all hold."""

        def report(message: str, path: Path | None = None, at: Path | None = None) -> None:
            """`at` is where to point when it differs from `path` (the parent of a missing key)."""
            where = at or path or ()
            found = doc.positions.get(where)
            if found is None and len(where) > 2 and isinstance(obj, dict):
                meta = m if isinstance(m := obj.get("metadata"), dict) else {}
                found = locate(self.text, str(obj.get("kind")), str(meta.get("name")), format_path(where))
            line, column = found or (doc.line, doc.column)
            self.add(Problem(source, doc.index, line, column, message, format_path(path) if path else None))

        obj = doc.root
        if not isinstance(obj, dict):
            report(
                _("Document {n} is {what}, not a Kubernetes object (a mapping with apiVersion and kind).")
                .format(n=doc.index, what=_describe(obj))
            )
            return
        kind_ok = self.check_type(obj, report)
        metadata = obj.get("metadata")
        if "metadata" not in obj:
            report(_("metadata is missing; it must hold at least a name."))
            return
        if not isinstance(metadata, dict):
            report(_("metadata must be a mapping (name, labels, ...)."), ("metadata",))
            return
        kind = obj.get("kind")
        name = metadata.get("name")
        name_ok = self.check_metadata(metadata, kind if kind_ok else None, report)
        if not (kind_ok and name_ok):
            return
        if kind == "Secret" and obj.get("type") == _SA_TOKEN_SECRET_TYPE:
            report(
                _("Secrets of type {type} cannot be created here: they hold credentials for the cluster.")
                .format(type=_SA_TOKEN_SECRET_TYPE),
                ("type",),
            )
            return
        # a ConfigMap's or Secret's data is the user's own text: a key named nodePort there is no port
        out_of_range = port_problems(obj) if kind not in ("ConfigMap", "Secret") else []
        for path, message in out_of_range:
            report(message, path)
        if out_of_range:
            return
        if kind == "Service":
            refused = service_abuse(obj, external_ips_allowed=self.external_ips_allowed)
            for path, message in refused:
                report(message, path)
            if refused:
                return
        # check_type and check_metadata passed: kind and name are non-empty text
        key = cast(tuple[str, str], (kind, name))
        first = self.seen.get(key)
        if first is not None:
            first_source, first_doc = first
            if first_source:
                where = _("{source}, document {n}").format(source=first_source, n=first_doc)
            else:
                where = _("document {n}").format(n=first_doc)
            message = _("{kind} {name} appears twice (first in {where}).")
            report(message.format(kind=kind, name=name, where=where), ("metadata", "name"))
            return
        self.seen[key] = (source, doc.index)
        obj["metadata"] = _with_namespace(metadata, self.namespace)
        _strip_in_place(obj, for_create=False)
        self.objects.append(Manifest(obj=obj, document=doc.index, line=doc.line, source=source))

    def check_type(self, obj: dict[str, Any], report: Any) -> bool:
        """apiVersion and kind: present, text, and an allowed pair."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        ok = True
        if "apiVersion" not in obj:
            report(_("apiVersion is missing."))
            ok = False
        elif not isinstance(api_version, str) or not api_version:
            report(_("apiVersion must be text, like v1 or apps/v1."), ("apiVersion",))
            ok = False
        if "kind" not in obj:
            report(_("kind is missing."))
            ok = False
        elif not isinstance(kind, str) or not kind:
            report(_("kind must be text, like Service or Deployment."), ("kind",))
            ok = False
        return ok and self.check_kind(api_version, kind, report)  # type: ignore[arg-type]

    def check_metadata(self, metadata: dict[str, Any], kind: str | None, report: Any) -> bool:
        """A valid name (by the rules of `kind`, when it is known to be allowed), and no other namespace."""
        ok = True
        name = metadata.get("name")
        if "generateName" in metadata:
            report(
                _("generateName is not supported here: give the object a name."), ("metadata", "generateName")
            )
            ok = False
        elif name is None or name == "":
            report(_("metadata.name is missing."), ("metadata", "name"), at=("metadata",))
            ok = False
        if name is not None and name != "" and not isinstance(name, str):
            report(_("metadata.name must be text."), ("metadata", "name"))
            ok = False
        elif isinstance(name, str) and name and kind is not None and not self.check_name(kind, name, report):
            ok = False
        given = metadata.get("namespace")
        if given is None or given == "":
            return ok
        if not isinstance(given, str):
            report(_("metadata.namespace must be text."), ("metadata", "namespace"))
            return False
        if given != self.namespace:
            report(
                _("The namespace {given} is not this project's namespace {namespace}.").format(
                    given=given, namespace=self.namespace
                ),
                ("metadata", "namespace"),
            )
            return False
        return ok

    def check_kind(self, api_version: str, kind: str, report: Any) -> bool:
        if kind in self.allowed_kinds:
            expected = KIND_API_VERSIONS[kind]
            if api_version == expected:
                return True
            report(
                _("{kind} must use apiVersion {expected}, not {given}.").format(
                    kind=kind, expected=expected, given=api_version
                ),
                ("apiVersion",),
            )
            return False
        group = api_version.rpartition("/")[0]
        if kind == "List" or kind.endswith("List"):
            message = _(
                "{kind} wraps several objects; write each object as its own document, separated by ---."
            )
        elif kind in _RBAC_KINDS or group == _RBAC_GROUP:
            message = _(
                "{kind} is an access-control object and cannot be created here; project members and "
                "roles are managed on the Members page."
            )
        elif kind in _CLUSTER_SCOPED_KINDS:
            message = _(
                "{kind} is a cluster-wide object; only objects inside this project can be created here."
            )
        else:
            message = _("The kind {kind} cannot be created here; allowed kinds: {allowed}.")
        report(message.format(kind=kind, allowed=", ".join(sorted(self.allowed_kinds))), ("kind",))
        return False

    def check_name(self, kind: str, name: str, report: Any) -> bool:
        if kind == "Service":
            if is_dns1035_label(name):
                return True
            report(
                _(
                    "{name} is not a valid Service name: use at most 63 lower-case letters, digits and "
                    "'-', starting with a letter and ending with a letter or digit."
                ).format(name=name),
                ("metadata", "name"),
            )
            return False
        if is_dns1123_subdomain(name):
            return True
        report(
            _(
                "{name} is not a valid {kind} name: use at most 253 lower-case letters, digits, '-' "
                "and '.', starting and ending with a letter or digit."
            ).format(name=name, kind=kind),
            ("metadata", "name"),
        )
        return False


def _describe(value: Any) -> str:
    if value is None:
        return _("null")
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, bool):
        return _("a boolean")
    if isinstance(value, (int, float)):
        return _("a number")
    return _("a piece of text")


def _with_namespace(metadata: dict[str, Any], namespace: str) -> dict[str, Any]:
    """metadata with the project's namespace, placed after the name when it was missing."""
    if metadata.get("namespace") == namespace:
        return metadata
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if key == "namespace":
            continue
        out[key] = value
        if key == "name":
            out["namespace"] = namespace
    if "namespace" not in out:
        out["namespace"] = namespace
    return out


def _strip_in_place(obj: dict[str, Any], *, for_create: bool) -> None:
    obj.pop("status", None)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        for key in _SERVER_METADATA_FIELDS:
            metadata.pop(key, None)
    if for_create and obj.get("kind") == "Service":
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.pop("clusterIPs", None)
            if spec.get("clusterIP") != "None":
                spec.pop("clusterIP", None)
