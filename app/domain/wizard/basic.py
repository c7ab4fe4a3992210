"""Step 1, Basic Information: the Service's name, alias, version and description."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar, Self

from app.domain.forms import (
    Errors,
    Text,
)
from app.domain.k8s import names
from app.domain.k8s.names import DNS1035_LABEL, SERVICE_VERSION
from app.domain.manifests import (
    ANNOTATION_ALIAS,
    ANNOTATION_DESCRIPTION,
    ANNOTATION_SERVICE_TYPE,
    LABEL_APP,
    LABEL_VERSION,
    SERVICE_NAME_MAX,
    SERVICE_TYPE_VALUES,
    VERSION_MAX,
    WORKLOAD_NAME_MAX,
    Flavor,
    dig,
    ensure_dict,
    ordered,
    set_or_pop,
    workload_name,
)
from app.domain.wizard.draft import Draft
from app.domain.wizard.read import as_str
from app.domain.wizard.step import StepContext, WizardStep
from app.i18n import LazyString, _, lazy_

# ---------------------------------------------------------------------------------------------------
# Step 1: Basic Information


class BasicInfo(WizardStep):
    step: ClassVar[str] = "basic"
    title: ClassVar[LazyString] = lazy_("Basic Information")

    name: Text = ""
    alias: Text = ""
    version: Text = "v1"
    description: str = ""

    @classmethod
    def read(cls, draft: Draft) -> Self:
        annotations = dig(draft.service, "metadata", "annotations", default={}) or {}
        labels = dig(draft.workload, "metadata", "labels", default={}) or {}
        name = draft.name
        fresh = not name and not draft.workload_name
        return cls.model_construct(
            name=name,
            alias=as_str(annotations.get(ANNOTATION_ALIAS)),
            version=as_str(labels.get(LABEL_VERSION), "v1" if fresh else ""),
            description=as_str(annotations.get(ANNOTATION_DESCRIPTION)),
        )

    @classmethod
    def apply(cls, draft: Draft, values: Self) -> Draft:
        d = draft.copy()
        w, s = d.workload, d.service
        name, version = values.name, values.version
        smeta = ensure_dict(s, "metadata")
        smeta["name"] = name
        annotations = ensure_dict(smeta, "annotations")
        annotations.setdefault(ANNOTATION_SERVICE_TYPE, SERVICE_TYPE_VALUES[d.flavor])
        set_or_pop(annotations, ANNOTATION_ALIAS, values.alias)
        set_or_pop(annotations, ANNOTATION_DESCRIPTION, values.description)
        wmeta = ensure_dict(w, "metadata")
        if "name" not in wmeta:
            w["metadata"] = wmeta = {"name": "", **wmeta}
        wmeta["name"] = workload_name(name, version)
        pairs = {LABEL_APP: name, LABEL_VERSION: version}
        for parent, key in (
            (wmeta, "labels"),
            (ensure_dict(w, "spec", "selector"), "matchLabels"),
            (ensure_dict(w, "spec", "template", "metadata"), "labels"),
            (smeta, "labels"),
        ):
            labels = dict(parent.get(key) or {})
            labels.update(pairs)
            parent[key] = labels
        spec = ensure_dict(s, "spec")
        selector = dict(spec.get("selector") or {})
        selector[LABEL_APP] = name
        if LABEL_VERSION in selector:
            selector[LABEL_VERSION] = version
        spec["selector"] = selector
        if d.flavor == "stateful":
            wspec = ensure_dict(w, "spec")
            wspec["serviceName"] = name
            w["spec"] = ordered(wspec, ("replicas", "serviceName"))
        return d

    def check(self, context: StepContext) -> dict[str, str]:
        e = Errors()
        if not self.name:
            e.add("name", _("Please set a name."))
        elif len(self.name) > SERVICE_NAME_MAX or not DNS1035_LABEL.fullmatch(self.name):
            e.add("name", names.service_name_rule())
        problem = names.alias_problem(self.alias)
        if problem:
            e.add("alias", problem)
        if not self.version:
            e.add("version", _("Please set a version."))
        elif len(self.version) > VERSION_MAX or not SERVICE_VERSION.fullmatch(self.version):
            e.add(
                "version",
                _(
                    "The version can contain only lowercase letters and numbers. The maximum length is 16 "
                    "characters."
                ),
            )
        if problem := names.description_problem(self.description):
            e.add("description", problem)
        if "name" not in e and "version" not in e:
            limit = WORKLOAD_NAME_MAX[context.flavor]
            full = workload_name(self.name, self.version)
            if len(full) > limit:
                e.add(
                    "name" if len(self.name) > limit - 2 else "version",
                    _(
                        "The {kind} would be named {workload} ({length} characters), but its name can have "
                        "at most {limit}: shorten the name or the version."
                    ).format(kind=context.draft.kind, workload=full, length=len(full), limit=limit),
                )
        return dict(e)


async def check_name_available(
    name: str,
    version: str,
    flavor: Flavor,
    *,
    exists: Callable[[str, str], Awaitable[bool]],
) -> dict[str, str]:
    """The Basic Information name checks that need the cluster (as the user types): {field: message}.

    `exists(kind, name)` answers whether a `Service` or the workload kind of that name exists in the
    project. Syntax problems of name and version are returned first, without asking.
    """
    draft = Draft.new(flavor)
    values = BasicInfo.model_construct(name=name.strip(), alias="", version=version.strip(), description="")
    errors = {k: v for k, v in values.check(StepContext(draft)).items() if k in ("name", "version")}
    if "name" not in errors and await exists("Service", values.name):
        errors["name"] = _("The name already exists. Please enter another name.")
    if "name" not in errors and "version" not in errors:
        full = workload_name(values.name, values.version)
        if await exists(draft.kind, full):
            errors["version"] = _(
                "The workload {name} already exists. Please enter another version code."
            ).format(name=full)
    return errors
