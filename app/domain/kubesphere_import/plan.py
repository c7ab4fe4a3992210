"""KubeSphere's objects -> an import plan. Pure: no database, no cluster, the same answer every time.

Names and rules from ../shared/reference/kubesphere-tenancy.md (§ numbers below). Precedence where
KubeSphere holds several roles for one user in one place (§9.5): the strongest one, the others noted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from app.domain.k8s.names import EMAIL, USERNAME, alias_problem, description_problem, is_dns1123_label
from app.domain.manifests import ANNOTATION_ALIAS, ANNOTATION_CREATOR, ANNOTATION_DESCRIPTION
from app.domain.pod_security import Level
from app.domain.project_security import findings
from app.domain.projects import RESERVED, WORKSPACE_LABEL
from app.domain.rbac import MANAGED_BY, MANAGER
from app.i18n import _
from app.models import PlatformRole, ProjectRole, WorkspaceRole

from .model import (
    Category,
    Dockyard,
    Item,
    KubeSphere,
    MemberSpec,
    Obj,
    Plan,
    ProjectSpec,
    Status,
    UserSpec,
    WorkspaceSpec,
)

USERNAME_MAX = 32  # Dockyard's rule (app/domain/users.py)
PLACEHOLDER_EMAIL = "{name}@dockyard.local"  # as `dockyard users create` without --email
SYSTEM_WORKSPACE = "system-workspace"  # §4: KubeSphere's own

# §3: platform roles.
PLATFORM_ROLES = {"platform-admin": PlatformRole.admin, "platform-self-provisioner": PlatformRole.self_provisioner,
                  "platform-regular": PlatformRole.regular}
PLATFORM_RANK = {PlatformRole.admin: 3, PlatformRole.self_provisioner: 2, PlatformRole.regular: 1}
SYSTEM_GLOBAL_ROLES = {"authenticated", "anonymous", "pre-registration", "ks-console"}
REMOVED_GLOBAL_ROLES = {"users-manager", "workspaces-manager"}  # deleted in 3.3.1; leftovers may remain
# §4: the built-in workspace roles, copied per workspace as <ws>-<role> (4.x: <role>.<hash> when long).
WORKSPACE_ROLES = {"admin": WorkspaceRole.admin, "self-provisioner": WorkspaceRole.self_provisioner,
                   "viewer": WorkspaceRole.viewer, "regular": WorkspaceRole.regular}
WORKSPACE_RANK = {WorkspaceRole.admin: 4, WorkspaceRole.self_provisioner: 3, WorkspaceRole.viewer: 2,
                  WorkspaceRole.regular: 1}
# §5: the built-in project roles.
PROJECT_ROLES = {"admin": ProjectRole.admin, "operator": ProjectRole.operator, "viewer": ProjectRole.viewer}
PROJECT_RANK = {ProjectRole.admin: 3, ProjectRole.operator: 2, ProjectRole.viewer: 1}

ROLE_TEMPLATE_LABEL = "iam.kubesphere.io/role-template"
IDP_LABEL_34 = "iam.kubesphere.io/identify-provider"  # sic (§2)
ORIGIN_UID_LABEL_34 = "iam.kubesphere.io/origin-uid"
IDP_ANNOTATION_4 = "iam.kubesphere.io/identity-provider."  # + <idp>: <uid>
MIRROR_PREFIX = "kubesphere:iam:"  # 4.x core copies of iam Roles and RoleBindings (§5): ignored
DEVOPS_LABELS = {"kubesphere.io/devopsproject": None, "devops.kubesphere.io/managed": "true"}
KUBEFED_LABELS = {"kubesphere.io/kubefed-host-namespace": "true", "kubefed.io/managed": "true"}
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"


def make_plan(ks: KubeSphere, dy: Dockyard) -> Plan:
    """What importing `ks` into `dy` creates, finds already there, and cannot map (and why)."""
    items: list[Item] = []
    users = _users(ks, dy, items)  # KubeSphere name -> Dockyard username, for those imported or matched
    workspaces = _workspaces(ks, dy, items)  # names imported or matched
    ws_members = _workspace_members(ks, dy, users, workspaces, items)
    projects = _projects(ks, dy, users, workspaces, items)  # project -> workspace
    _project_members(ks, dy, users, projects, ws_members, items)
    _custom_roles(ks, projects, items)
    _groups(ks, items)
    notes = [
        _("Passwords are not imported (KubeSphere keeps bcrypt hashes): imported users sign in after a "
          "password reset (Users page or `dockyard users set-password`), or by single sign-on."),
        _("The cluster keeps KubeSphere's own RoleBindings; Dockyard adds its own for its members."),
    ]
    return Plan(edition=ks.edition, items=items, notes=notes)


# -- small readers -------------------------------------------------------------------------------------

def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _name(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name") or "")


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("labels") or {}


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("annotations") or {}


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def _users_of(binding: Mapping[str, Any]) -> list[str]:
    """The User subjects of a binding, whatever their apiGroup (rbac, iam, iam/v1alpha2: §9.3)."""
    return [str(s.get("name")) for s in binding.get("subjects") or [] if s.get("kind") == "User" and s.get("name")]


def _has_group_subject(binding: Mapping[str, Any]) -> bool:
    return any(s.get("kind") == "Group" for s in binding.get("subjects") or [])


def _info(alias: str, description: str) -> tuple[str, str, str]:
    """The alias and description Dockyard accepts, and a note on what was left out."""
    notes = []
    if alias_problem(alias):
        notes.append(_('alias "{alias}" left out (Dockyard\'s alias rule)').format(alias=alias))
        alias = ""
    if description_problem(description):
        notes.append(_("description cut to 256 characters"))
        description = description[:256]
    return alias, description, "; ".join(notes)


def _strongest(roles: Iterable[Any], rank: Mapping[Any, int]) -> tuple[Any, list[Any]]:
    ordered = sorted(set(roles), key=lambda r: -rank[r])
    return ordered[0], ordered[1:]


# -- users (§2, §3) ---------------------------------------------------------------------------------------

def _identity(user: Obj) -> tuple[str, str] | None:
    """(provider, uid) when the user comes from an external identity provider (3.4 labels, 4.x annotation)."""
    labels, annotations = _labels(user), _annotations(user)
    if labels.get(IDP_LABEL_34):
        return labels[IDP_LABEL_34], labels.get(ORIGIN_UID_LABEL_34, "")
    for key, value in annotations.items():
        if key.startswith(IDP_ANNOTATION_4):
            return key[len(IDP_ANNOTATION_4):], str(value)
    return None


def _users(ks: KubeSphere, dy: Dockyard, items: list[Item]) -> dict[str, str]:
    bound: dict[str, list[str]] = defaultdict(list)  # user -> global roles bound (§9.2: by subject)
    for b in ks.global_role_bindings:
        for subject in _users_of(b):
            bound[subject].append(str((b.get("roleRef") or {}).get("name") or ""))
    imported: dict[str, str] = {}
    taken_emails = dict(dy.emails)
    for user in sorted(ks.users, key=_name):
        name, spec = _name(user), user.get("spec") or {}
        email = str(spec.get("email") or "").strip().lower()
        notes: list[str] = []
        if not email:
            email = PLACEHOLDER_EMAIL.format(name=name)
            notes.append(_("no email in KubeSphere: {email}").format(email=email))
        roles = [PLATFORM_ROLES[r] for r in bound.get(name, []) if r in PLATFORM_ROLES]
        for r in bound.get(name, []):
            if r not in PLATFORM_ROLES:
                why = (_("KubeSphere removed this role in 3.3.1; Dockyard has no equivalent") if r in REMOVED_GLOBAL_ROLES
                       else _("a custom platform role: Dockyard has only its three built-in ones"))
                items.append(Item(Category.roles, f"{name}: {r}", _("platform role binding"), Status.skip, why))
        role, others = _strongest(roles, PLATFORM_RANK) if roles else (PlatformRole.regular, [])
        if not roles:
            notes.append(_("no platform role in KubeSphere: platform-regular"))
        if others:
            notes.append(_("also bound to {roles}: the strongest is kept").format(roles=", ".join(o.value for o in others)))
        disabled = (user.get("status") or {}).get("state") == "Disabled"
        if disabled:
            notes.append(_("disabled in KubeSphere: imported disabled"))
        if idp := _identity(user):
            notes.append(_("signed in through {idp} in KubeSphere").format(idp=idp[0]))
        detail = f"{email}, {role.value}"
        reason = ""
        if _deleting(user):
            reason = _("being deleted in KubeSphere")
        elif len(name) > USERNAME_MAX or not USERNAME.fullmatch(name):
            reason = _("the name is not a valid Dockyard username (lowercase letters, digits and hyphens, "
                       "at most 32 characters)")
        elif not EMAIL.fullmatch(email) or len(email) > 254:
            reason = _("the email {email} is not valid").format(email=email)
        elif name in dy.users and dy.users[name] != email:
            reason = _("a Dockyard user with this name has another email ({email})").format(email=dy.users[name])
        elif name not in dy.users and email in taken_emails:
            reason = _("the email is already used by the Dockyard user {name}").format(name=taken_emails[email])
        if reason:
            items.append(Item(Category.users, name, detail, Status.skip, reason))
            continue
        imported[name] = name
        if idp:
            items.append(Item(Category.identities, name, f"{idp[0]} ({idp[1]})" if idp[1] else idp[0], Status.skip,
                              _("Dockyard does not sign in through KubeSphere's identity providers: single sign-on "
                                "(OpenID Connect) links this account by its verified email when "
                                "DOCKYARD_OIDC_LINK_VERIFIED_EMAIL is on")))
        spec_ = UserSpec(username=name, email=email, display_name=str(spec.get("displayName") or "")[:128],
                         platform_role=role, disabled=disabled)
        if name in dy.users:
            items.append(Item(Category.users, name, detail, Status.exists,
                              _("already in Dockyard: its role, password and state are kept"), spec_))
        else:
            taken_emails[email] = name
            items.append(Item(Category.users, name, detail, Status.create, "; ".join(notes), spec_))
    return imported


# -- workspaces (§4) --------------------------------------------------------------------------------------

def _workspace_info(ws: Obj) -> tuple[str, str]:
    """Alias and description: on the object, else on its template's metadata."""
    template = ((ws.get("spec") or {}).get("template") or {}).get("metadata") or {}
    found = {**(template.get("annotations") or {}), **_annotations(ws)}
    return str(found.get(ANNOTATION_ALIAS) or ""), str(found.get(ANNOTATION_DESCRIPTION) or "")


def manager_of(ws: Obj) -> str:
    spec = ws.get("spec") or {}
    return str(((spec.get("template") or {}).get("spec") or {}).get("manager") or spec.get("manager") or "")


def _workspaces(ks: KubeSphere, dy: Dockyard, items: list[Item]) -> set[str]:
    found: set[str] = set()
    for ws in sorted(ks.workspaces, key=_name):
        name = _name(ws)
        alias, description, note = _info(*_workspace_info(ws))
        detail = alias or ""
        if name == SYSTEM_WORKSPACE:
            items.append(Item(Category.workspaces, name, detail, Status.skip,
                              _("KubeSphere's own workspace: its namespaces stay as they are")))
        elif _deleting(ws):
            items.append(Item(Category.workspaces, name, detail, Status.skip, _("being deleted in KubeSphere")))
        elif not is_dns1123_label(name):
            items.append(Item(Category.workspaces, name, detail, Status.skip, _("not a valid Dockyard name")))
        else:
            found.add(name)
            spec = WorkspaceSpec(name=name, alias=alias, description=description)
            if name in dy.workspaces:
                items.append(Item(Category.workspaces, name, detail, Status.exists, _("already in Dockyard"), spec))
            else:
                items.append(Item(Category.workspaces, name, detail, Status.create, note, spec))
    return found | set(dy.workspaces)


def _workspace_role(ref: str, ws: str) -> str:
    """The built-in role a WorkspaceRole's name stands for ('' for a custom one): <ws>-<role> or <role>.<hash>."""
    if ref.startswith(f"{ws}-") and ref[len(ws) + 1:] in WORKSPACE_ROLES:
        return ref[len(ws) + 1:]
    head, dot, _hash = ref.partition(".")
    return head if dot and head in WORKSPACE_ROLES else ""


def _workspace_members(ks: KubeSphere, dy: Dockyard, users: dict[str, str], workspaces: set[str],
                       items: list[Item]) -> dict[tuple[str, str], WorkspaceRole]:
    """The workspace memberships after the import (existing and new), (workspace, user) -> role."""
    wanted: dict[tuple[str, str], list[WorkspaceRole]] = defaultdict(list)
    for obj in ks.workspaces:  # the manager is the workspace's admin (§4)
        if (manager := manager_of(obj)) and _name(obj) != SYSTEM_WORKSPACE:
            wanted[(_name(obj), manager)].append(WorkspaceRole.admin)
    for b in ks.workspace_role_bindings:
        ws = _labels(b).get(WORKSPACE_LABEL, "")
        ref = str((b.get("roleRef") or {}).get("name") or "")
        if not ws or ws == SYSTEM_WORKSPACE or _deleting(b):
            continue
        if _has_group_subject(b):
            items.append(Item(Category.groups, f"{ws}: {_name(b)}", ref, Status.skip,
                              _("a role given to a group: Dockyard has no groups (give its members their own role)")))
        role = _workspace_role(ref, ws)
        for user in _users_of(b):
            if role:
                wanted[(ws, user)].append(WORKSPACE_ROLES[role])
            else:
                items.append(Item(Category.roles, f"{ws}/{user}: {ref}", _("workspace role binding"), Status.skip,
                                  _("a custom workspace role: Dockyard has only its four built-in ones")))
    result: dict[tuple[str, str], WorkspaceRole] = {
        (ws, u): WorkspaceRole(r) for (ws, u), r in dy.workspace_members.items()}
    for (ws, user), roles in sorted(wanted.items()):
        role, others = _strongest(roles, WORKSPACE_RANK)
        name, detail = f"{ws}/{user}", role.value
        if ws not in workspaces:
            items.append(Item(Category.workspace_members, name, detail, Status.skip,
                              _("the workspace {ws} is not imported").format(ws=ws)))
            continue
        if user not in users:
            items.append(Item(Category.workspace_members, name, detail, Status.skip,
                              _("the user {name} is not imported").format(name=user)))
            continue
        spec = MemberSpec(scope=ws, username=users[user], role=role)
        if (ws, users[user]) in dy.workspace_members:
            have = dy.workspace_members[(ws, users[user])]
            items.append(Item(Category.workspace_members, name, detail, Status.exists,
                              "" if have == role.value else _("Dockyard's role {role} is kept").format(role=have), spec))
            continue
        note = _("also {roles} in KubeSphere: the strongest is kept").format(
            roles=", ".join(o.value for o in others)) if others else ""
        result[(ws, users[user])] = role
        items.append(Item(Category.workspace_members, name, detail, Status.create, note, spec))
    return result


# -- projects (§5) ----------------------------------------------------------------------------------------

def _not_a_project(ns: Obj) -> str:
    """Why a workspace-labelled namespace is not a project ('' when it is one)."""
    labels = _labels(ns)
    if any(k in labels and (v is None or labels[k] == v) for k, v in DEVOPS_LABELS.items()):
        return _("a DevOps project: Dockyard has no DevOps")
    if any(labels.get(k) == v for k, v in KUBEFED_LABELS.items()):
        return _("a federation (kubefed) namespace")
    name = _name(ns)
    if name in RESERVED or name.startswith("kube-"):
        return _("a name Dockyard reserves")
    if _deleting(ns):
        return _("being deleted")
    return ""


def _pod_security(ns: Obj, workloads: list[Obj]) -> tuple[str, str]:
    """The level the project keeps working at: the namespace's own label, else baseline when every
    workload meets it, else privileged (nothing that runs today is refused tomorrow), with a note."""
    label = _labels(ns).get(ENFORCE_LABEL, "")
    if label in {lvl.value for lvl in Level}:
        return label, ""
    failing = findings(workloads, Level.BASELINE)
    if not failing:
        return Level.BASELINE.value, ""
    shown = ", ".join(f"{f.kind} {f.name}" for f in failing[:3]) + (", ..." if len(failing) > 3 else "")
    return Level.PRIVILEGED.value, _("privileged: {n} workload(s) do not meet baseline ({names}); a platform "
                                     "admin can tighten it on the project's overview").format(n=len(failing), names=shown)


def _services_detail(services: list[Obj]) -> str:
    aliased = sum(1 for s in services if _annotations(s).get(ANNOTATION_ALIAS))
    return _("Services: {n} ({m} with an alias)").format(n=len(services), m=aliased)


def _projects(ks: KubeSphere, dy: Dockyard, users: dict[str, str], workspaces: set[str],
              items: list[Item]) -> dict[str, str]:
    """Projects after the import that KubeSphere's bindings may name: project -> workspace."""
    result: dict[str, str] = {}
    for ns in sorted(ks.namespaces, key=_name):
        name, labels = _name(ns), _labels(ns)
        ws = labels.get(WORKSPACE_LABEL, "")
        if not ws:
            marked = labels.get("kubesphere.io/namespace") or _annotations(ns).get(ANNOTATION_CREATOR)
            if marked and name not in RESERVED and not name.startswith(("kube-", "kubesphere-")) \
                    and labels.get(MANAGED_BY) != MANAGER:
                items.append(Item(Category.projects, name, "", Status.skip,
                                  _("not in a workspace (unassigned in KubeSphere): assign it there, or create a "
                                    "project in Dockyard")))
            continue
        if ws == SYSTEM_WORKSPACE or (labels.get(MANAGED_BY) == MANAGER and name not in dy.projects):
            continue  # KubeSphere's own, or made by another Dockyard
        alias, description, note = _info(str(_annotations(ns).get(ANNOTATION_ALIAS) or ""),
                                         str(_annotations(ns).get(ANNOTATION_DESCRIPTION) or ""))
        detail = f"{ws}: {_services_detail(ks.services.get(name, []))}"
        if name in dy.projects:
            if dy.projects[name] == ws:
                result[name] = ws
                items.append(Item(Category.projects, name, detail, Status.exists, _("already in Dockyard")))
            else:
                items.append(Item(Category.projects, name, detail, Status.skip, _(
                    "a Dockyard project of workspace {other}").format(other=dy.projects[name])))
            continue
        if why := _not_a_project(ns):
            items.append(Item(Category.projects, name, detail, Status.skip, why))
            continue
        if ws not in workspaces:
            items.append(Item(Category.projects, name, detail, Status.skip,
                              _("its workspace {ws} does not exist or is not imported").format(ws=ws)))
            continue
        level, level_note = _pod_security(ns, ks.workloads.get(name, []))
        creator = str(_annotations(ns).get(ANNOTATION_CREATOR) or "")
        spec = ProjectSpec(name=name, workspace=ws, alias=alias, description=description,
                           creator=users.get(creator, ""), pod_security=level)
        result[name] = ws
        notes = [n for n in (note, level_note or _("Pod Security: {level}").format(level=level)) if n]
        items.append(Item(Category.projects, name, detail, Status.create, "; ".join(notes), spec))
    return result


def _project_members(ks: KubeSphere, dy: Dockyard, users: dict[str, str], projects: dict[str, str],
                     ws_members: dict[tuple[str, str], WorkspaceRole], items: list[Item]) -> None:
    wanted: dict[tuple[str, str], list[ProjectRole]] = defaultdict(list)
    for b in ks.role_bindings:
        ns, name, ref = _meta(b).get("namespace") or "", _name(b), b.get("roleRef") or {}
        if (ns not in projects or name.startswith(MIRROR_PREFIX) or _labels(b).get(MANAGED_BY) == MANAGER
                or ref.get("kind") != "Role" or _deleting(b)):
            continue  # not a KubeSphere membership of a project the import knows
        role = str(ref.get("name") or "")
        for user in _users_of(b):
            if role in PROJECT_ROLES:
                wanted[(ns, user)].append(PROJECT_ROLES[role])
            elif not role.startswith("role-template-"):
                items.append(Item(Category.roles, f"{ns}/{user}: {role}", _("project role binding"), Status.skip,
                                  _("a custom project role: Dockyard has only admin, operator and viewer")))
    for (project, user), roles in sorted(wanted.items()):
        role, others = _strongest(roles, PROJECT_RANK)
        name, detail, ws = f"{project}/{user}", role.value, projects[project]
        if user not in users:
            items.append(Item(Category.project_members, name, detail, Status.skip,
                              _("the user {name} is not imported").format(name=user)))
            continue
        spec = MemberSpec(scope=project, username=users[user], role=role)
        if (project, users[user]) in dy.project_members:
            have = dy.project_members[(project, users[user])]
            items.append(Item(Category.project_members, name, detail, Status.exists,
                              "" if have == role.value else _("Dockyard's role {role} is kept").format(role=have), spec))
        elif (ws, users[user]) not in ws_members:
            items.append(Item(Category.project_members, name, detail, Status.skip,
                              _("not a member of the workspace {ws}").format(ws=ws)))
        else:
            note = _("also {roles} in KubeSphere: the strongest is kept").format(
                roles=", ".join(o.value for o in others)) if others else ""
            items.append(Item(Category.project_members, name, detail, Status.create, note, spec))


# -- what has no Dockyard equivalent ------------------------------------------------------------------

def _custom_roles(ks: KubeSphere, projects: dict[str, str], items: list[Item]) -> None:
    for r in sorted(ks.global_roles, key=_name):
        name = _name(r)
        if (name in PLATFORM_ROLES or name in SYSTEM_GLOBAL_ROLES or name.startswith("role-template-")
                or _labels(r).get(ROLE_TEMPLATE_LABEL) == "true"):
            continue
        why = (_("KubeSphere removed this role in 3.3.1; Dockyard has no equivalent") if name in REMOVED_GLOBAL_ROLES
               else _("a custom platform role: Dockyard has only its three built-in ones"))
        items.append(Item(Category.roles, name, _("platform role"), Status.skip, why))
    for r in sorted(ks.workspace_roles, key=_name):
        ws = _labels(r).get(WORKSPACE_LABEL, "")
        if ws and ws != SYSTEM_WORKSPACE and not _workspace_role(_name(r), ws):
            items.append(Item(Category.roles, f"{ws}: {_name(r)}", _("workspace role"), Status.skip,
                              _("a custom workspace role: Dockyard has only its four built-in ones")))
    for r in sorted(ks.roles, key=lambda o: (_meta(o).get("namespace") or "", _name(o))):
        ns, name = _meta(r).get("namespace") or "", _name(r)
        custom = name not in PROJECT_ROLES and not name.startswith(("role-template-", MIRROR_PREFIX))
        # 3.4's project roles are core Roles: only those KubeSphere's console made are its roles (§8).
        kubesphere_made = ks.edition != "3.4" or ANNOTATION_CREATOR in _annotations(r)
        if ns in projects and custom and kubesphere_made:
            items.append(Item(Category.roles, f"{ns}: {name}", _("project role"), Status.skip,
                              _("a custom project role: Dockyard has only admin, operator and viewer")))


def _groups(ks: KubeSphere, items: list[Item]) -> None:
    members: dict[str, set[str]] = defaultdict(set)
    for gb in ks.group_bindings:
        group = str((gb.get("groupRef") or {}).get("name") or "")
        members[group].update(str(u) for u in gb.get("users") or [])
    for g in sorted(ks.groups, key=_name):
        ws = _labels(g).get(WORKSPACE_LABEL, "")
        detail = _("{ws}: {n} member(s)").format(ws=ws, n=len(members.get(_name(g), ())))
        items.append(Item(Category.groups, _name(g), detail, Status.skip,
                          _("Dockyard has no groups (departments): its members' own roles are imported")))
