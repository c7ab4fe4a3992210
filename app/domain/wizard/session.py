"""The wizard's state between requests (all of it from the form) and what changes it without a request:
reading the posted form, row actions, Edit Mode's YAML, where validation problems are shown. The route
(`app/routes/create/wizard.py`) parses, calls these and the create use case, and renders."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from app.domain import creation as creation_domain
from app.domain.forms import form_items, unflatten
from app.domain.manifests import LB_PROVIDERS, WORKLOAD_KINDS
from app.domain.service_rules import KeyValueRow, PortRow
from app.domain.wizard.choices import ProjectChoices
from app.domain.wizard.container_rows import ContainerRow
from app.domain.wizard.draft import DRAFT_ERROR_KEY, MAX_TOKEN_BYTES, Draft, DraftError
from app.domain.wizard.flow import STEPS, step_class, step_of
from app.domain.wizard.volumes import ClaimTemplateRow, KeyPathRow, VolumeRow
from app.domain.yaml import Problem, dump_yaml, parse_manifests
from app.i18n import _

SLUGS = tuple(s.step for s in STEPS)
REVIEW = "review"
ROW_LISTS = ("labels", "annotations", "node_selector", "service_annotations")
VOLUME_TYPES = ("pvc", "emptydir", "hostpath", "configmap", "secret")


@dataclass
class State:
    flavor: str
    draft: Draft
    step: str = "basic"  # a step slug or REVIEW
    mode: str = "form"  # form | yaml
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    reached: int = 0
    submission: str = ""
    yaml_text: str = ""
    problems: list[Problem] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    server_problems: list[creation_domain.ObjectProblem] = field(default_factory=list)
    rolled_back: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[creation_domain.ObjectProblem] = field(default_factory=list)
    objects: list[tuple[str, str, str]] = field(default_factory=list)  # review: kind, name, YAML
    step_errors: set[str] = field(default_factory=set)

    @property
    def index(self) -> int:
        return SLUGS.index(self.step) if self.step in SLUGS else len(SLUGS)

    def show(self, slug: str, values: dict[str, Any] | None = None,
             errors: dict[str, str] | None = None) -> None:
        """Show step `slug` with `values` (else what was typed there before, else the draft's)."""
        self.mode = "form"
        self.step = slug
        if slug == REVIEW:
            return
        self.reached = max(self.reached, SLUGS.index(slug))
        if values is None:
            values = self.pending.get(slug) or step_class(slug).read(self.draft).form_values()
        self.values = values
        self.errors = errors or {}


def read_state(form: Any, flavor: str) -> State:
    """The state a posted wizard form carries (a damaged token: a fresh draft and an alert)."""
    def get(key: str) -> str:
        value = form.get(key)
        return value if isinstance(value, str) else ""

    state = State(flavor=flavor, draft=Draft.new(flavor))  # type: ignore[arg-type]
    state.submission = re.sub(r"[^A-Za-z0-9_-]", "", get("submission"))[:64] or secrets.token_urlsafe(16)
    token = get("draft")
    if token:
        try:
            draft = Draft.from_token(token)
        except DraftError as e:
            state.alerts.extend(e.messages)
            state.show("basic")
            return state
        if draft.flavor != flavor:
            state.alerts.append(_("The form state is damaged; reload the page and start again."))
            state.show("basic")
            return state
        state.draft = draft
    step = get("step")
    state.step = step if step in (*SLUGS, REVIEW) else "basic"
    state.mode = "yaml" if get("mode") == "yaml" else "form"
    try:
        state.reached = max(0, min(int(get("reached") or 0), len(SLUGS) - 1))
    except ValueError:
        state.reached = 0
    raw = get("pending")
    if raw and len(raw) <= MAX_TOKEN_BYTES:
        try:
            pending = json.loads(raw)
        except ValueError:
            pending = {}
        if isinstance(pending, dict):
            state.pending = {k: v for k, v in pending.items() if k in SLUGS and isinstance(v, dict)}
    state.yaml_text = get("yaml")
    return state


def rows_of(parent: Any, key: str) -> list[dict[str, Any]]:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, list):
        value = []
        if isinstance(parent, dict):
            parent[key] = value
    return [r for r in value if isinstance(r, dict)]


def step_values(form: Any, slug: str) -> dict[str, Any]:
    """The posted fields of step `slug`, nested, with the pickers' UI-only fields turned into the
    domain's (`cm_ref`/`secret_ref` "name/key" -> resource and key; `cm_resource`/`secret_resource`)."""
    data = unflatten(form_items(form))
    values = {k: v for k, v in data.items() if k in step_class(slug).model_fields}
    if slug == "image":
        for c in rows_of(values, "containers"):
            for env in rows_of(c, "env"):
                picked = {k: env.pop(k, None) for k in (
                    "cm_ref", "secret_ref", "cm_resource", "cm_key", "secret_resource", "secret_key")}
                prefix = {"configmap": "cm", "secret": "secret"}.get(str(env.get("type")))
                if prefix is None:
                    continue
                ref = picked.get(f"{prefix}_ref")
                if isinstance(ref, str):
                    resource, _sep, key = ref.partition("/")
                    env["resource"], env["key"] = resource, key
                elif picked.get(f"{prefix}_resource") is not None:
                    env["resource"] = picked.get(f"{prefix}_resource") or ""
                    env["key"] = picked.get(f"{prefix}_key") or ""
    elif slug == "advanced" and isinstance(data.get("lb_provider"), str):
        values["lb_provider"] = data["lb_provider"]  # which keys "lb-provider" suggests (not stored)
    elif slug == "volumes":
        for v in rows_of(values, "volumes"):
            picked = {k: v.pop(k, None) for k in ("cm_resource", "secret_resource")}
            prefix = {"configmap": "cm", "secret": "secret"}.get(str(v.get("type")))
            if prefix and isinstance(picked.get(f"{prefix}_resource"), str):
                v["resource"] = picked[f"{prefix}_resource"]
    return values


def _index(text: str) -> int:
    return int(text) if text.isdigit() else -1


def _pop(rows: Any, i: int) -> None:
    if isinstance(rows, list) and 0 <= i < len(rows):
        rows.pop(i)


def row_action(state: State, action: str, values: dict[str, Any], choices: ProjectChoices) -> bool:
    """Change the rows of the current step's raw values for a row action; False if it is none."""
    verb, _sep, rest = action.partition(":")
    args = rest.split(":") if rest else []
    i = _index(args[0]) if args else -1
    j = _index(args[1]) if len(args) > 1 else -1
    containers = rows_of(values, "containers") if state.step == "image" else []
    if state.step == "image":
        if verb == "add-container":
            kind = "init" if args[:1] == ["init"] else "worker"
            row = ContainerRow.new(kind).form_values()  # type: ignore[arg-type]
            if kind == "worker":
                row["ports"] = [PortRow.new(index=0).form_values()]
            values["containers"].append(row)
        elif verb == "remove-container":
            _pop(values.get("containers"), i)
        elif verb == "add-port" and 0 <= i < len(containers):
            ports = rows_of(containers[i], "ports")
            containers[i]["ports"].append(PortRow.new(index=len(ports)).form_values())
        elif verb == "remove-port" and 0 <= i < len(containers):
            _pop(containers[i].get("ports"), j)
        elif verb == "add-env" and 0 <= i < len(containers):
            rows_of(containers[i], "env")
            containers[i]["env"].append({"type": "value", "name": "", "value": "", "resource": "", "key": ""})
        elif verb == "remove-env" and 0 <= i < len(containers):
            _pop(containers[i].get("env"), j)
        else:
            return False
        return True
    if state.step == "volumes":
        names = state.draft.container_names()
        volumes = rows_of(values, "volumes")
        if verb == "add-volume" and args and args[0] in VOLUME_TYPES:
            values["volumes"].append(VolumeRow.new(args[0], names).form_values())
        elif verb == "remove-volume":
            _pop(values.get("volumes"), i)
        elif verb == "add-item" and 0 <= i < len(volumes):
            rows_of(volumes[i], "items")
            volumes[i]["items"].append(KeyPathRow().form_values())
        elif verb == "remove-item" and 0 <= i < len(volumes):
            _pop(volumes[i].get("items"), j)
        elif verb == "add-template":
            rows_of(values, "volume_templates")
            template = ClaimTemplateRow.new(names, choices.resources, name=_free_name("data", values))
            values["volume_templates"].append(template.form_values())
        elif verb == "remove-template":
            _pop(values.get("volume_templates"), i)
        else:
            return False
        return True
    if state.step == "advanced":
        if verb == "add-row" and args and args[0] in ROW_LISTS:
            rows_of(values, args[0])
            values[args[0]].append(KeyValueRow().form_values())
        elif verb == "remove-row" and args and args[0] in ROW_LISTS:
            _pop(values.get(args[0]), j)
        elif verb == "lb-provider":
            wanted = values.pop("lb_provider", "")
            provider = next((p for p in LB_PROVIDERS if p.id == wanted), None)
            rows = rows_of(values, "service_annotations")
            if provider is not None:
                present = {r.get("key") for r in rows}
                kept = [r for r in rows if r.get("key") or r.get("value")]
                added = [{"key": k, "value": provider.defaults.get(k, "")}
                         for k in provider.keys if k not in present]
                values["service_annotations"] = kept + added
        else:
            return False
        return True
    return False


def _free_name(prefix: str, values: dict[str, Any]) -> str:
    taken = {str(r.get("name")) for key in ("volumes", "volume_templates") for r in rows_of(values, key)}
    if prefix not in taken:
        return prefix
    n = 1
    while f"{prefix}-{n}" in taken:
        n += 1
    return f"{prefix}-{n}"


def with_mount_rows(values: dict[str, Any], names: list[str]) -> None:
    """Volumes step: one mount row for each container of the pod (a container added since shows up
    not mounted; rows of a container that is gone are dropped with it)."""
    for key in ("volumes", "volume_templates"):
        for row in rows_of(values, key):
            mounts = [m for m in rows_of(row, "mounts") if m.get("container") in names]
            have = {m.get("container") for m in mounts}
            mounts += [{"container": n, "mode": "none", "mount_path": "", "sub_path": ""}
                       for n in names if n not in have]
            row["mounts"] = sorted(mounts, key=lambda m: names.index(m["container"]))


def yaml_of(state: State, *, namespace: str, creator: str) -> str:
    return dump_yaml(state.draft.objects(namespace=namespace, creator=creator))


def enter_yaml(state: State, *, namespace: str, creator: str) -> None:
    state.mode = "yaml"
    state.yaml_text = yaml_of(state, namespace=namespace, creator=creator)
    state.values, state.errors = {}, {}


def parse_yaml(state: State, *, namespace: str, external_ips_allowed: bool) -> Draft | None:
    """The editor's text as a draft, or None with the problems (document, line, column) set."""
    kind = WORKLOAD_KINDS[state.flavor]
    result = parse_manifests(state.yaml_text, namespace=namespace, allowed_kinds=frozenset({kind, "Service"}),
                             external_ips_allowed=external_ips_allowed)
    if result.problems:
        state.problems = result.problems
        return None
    try:
        return Draft.from_objects([m.obj for m in result.objects], state.flavor)  # type: ignore[arg-type]
    except DraftError as e:
        state.problems = [Problem("", 0, None, None, message) for message in e.messages]
        return None


def show_validation(state: State, errors: dict[str, str]) -> None:
    """Show the first step with errors (in step order), and mark every step that has some."""
    object_error = errors.pop(DRAFT_ERROR_KEY, None)
    if object_error:
        state.alerts.append(object_error)
    by_step: dict[str, dict[str, str]] = {}
    for key, message in errors.items():
        by_step.setdefault(step_of(key) or "basic", {})[key] = message
    state.step_errors = set(by_step)
    for slug in SLUGS:
        if slug in by_step:
            state.show(slug, step_class(slug).read(state.draft).form_values(), by_step[slug])
            return
    state.show(state.step if state.step in SLUGS else SLUGS[-1])
